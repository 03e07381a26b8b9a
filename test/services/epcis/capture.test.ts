import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import Ajv from "ajv";
import addFormats from "ajv-formats";
import { canonicalize } from "json-canonicalize";
import type { TestNode } from "../../helpers/node";
import { eventHashId, isEventHashId } from "../../../services/epcis/hash";
import { createCaptureJob, onEventStored } from "../../../services/epcis/capture";
import { insertCapture } from "../../../services/epcis/store";
import { validateEpcisDocument } from "../../../services/epcis/validate";
import { MAX_CAPTURE_BYTES, MAX_CAPTURE_EVENTS } from "../../../services/api/routes/epcis";
import { bearer, expectProblem, get, getAnonymous, sharedNode, type ApiResponse } from "../api/helpers";
import {
  agentToken,
  capture,
  captureAndWait,
  capturesDone,
  epcisDocument,
  eventsOf,
  openEpcisFiles,
  OPENEPCIS,
  orgIdOf,
  readOpenEpcis,
  withoutRecordTime,
} from "./helpers";

/**
 * The EPCIS 2.0 capture interface against the shared node: every OpenEPCIS capture document is
 * accepted (two rejected by decision) and every invalid one rejected naming the failing event and
 * field; capture jobs, duplicates, error declarations and GS1-Capture-Error-Behaviour.
 */
const unique = () => crypto.randomBytes(4).toString("hex");

function objectEvent(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: "ObjectEvent",
    eventTime: "2024-03-01T10:00:00.000+01:00",
    eventTimeZoneOffset: "+01:00",
    epcList: [`urn:epc:id:sgtin:4012345.011111.${unique()}`],
    action: "OBSERVE",
    bizStep: "shipping",
    disposition: "in_transit",
    ...overrides,
  };
}

/** The errors of a 400 as [eventIndex, field] pairs. */
function failingFields(res: ApiResponse): [number | null, string][] {
  expectProblem(res, 400, "invalid_epcis_document");
  expect(res.body.type).to.equal("epcisException:ValidationException");
  return (res.body.errors as { eventIndex: number | null; field: string }[]).map((e) => [e.eventIndex, e.field]);
}

describe("EPCIS capture: POST /epcis/capture", function () {
  let node: TestNode;
  let token: string;

  before(async function () {
    node = await sharedNode();
    token = await agentToken(node);
  });

  const capturesStored = () => (node.db.prepare(`SELECT COUNT(*) AS n FROM epcis_captures`).get() as { n: number }).n;

  describe("the OpenEPCIS capture documents", function () {
    const REJECTED = ["SensorData_with_combined_events.json", "TransactionEvent_with_userExtensions.json"];

    for (const file of openEpcisFiles("Capture/Documents").filter((f) => !REJECTED.includes(f))) {
      it(`accepts ${file} and stores every event as captured, queryable by its eventID`, async function () {
        const { text, doc } = readOpenEpcis("Capture/Documents", file);
        const events = (doc.epcisBody as { eventList: Record<string, unknown>[] }).eventList;
        const job = await captureAndWait(node, token, text);
        expect(job).to.include({ running: false, success: true, total: events.length, processed: events.length });
        expect(job.errors).to.deep.equal([]);
        // An event another document already captured byte for byte is stored once, and reported.
        expect(job.stored + job.duplicates.length).to.equal(events.length);
        for (const event of events) {
          const eventID = (event.eventID as string | undefined) ?? eventHashId(event, doc["@context"]);
          const found = eventsOf(await get(node, `/epcis/events/${encodeURIComponent(eventID)}`, { ...bearer(token), "GS1-EPC-Format": "Never_Translates" }));
          // An event served beside one of another document carries an event-level @context restoring its own.
          const served = found.map((e) => ("@context" in event ? e : (({ "@context": _own, ...rest }) => rest)(e)));
          expect(served.map((e) => canonicalize(withoutRecordTime(e)))).to.include(
            canonicalize({ ...withoutRecordTime(event), eventID }),
          );
          for (const e of found) expect(e.recordTime).to.be.a("string");
        }
      });
    }

    it("accepts an EPCISQueryDocument (OpenEPCIS Query/queryDocument.json), as the binding requires", async function () {
      const { text } = readOpenEpcis("Query", "queryDocument.json");
      const job = await captureAndWait(node, token, text);
      expect(job).to.include({ success: true, total: 1, processed: 1 });
    });

    it("accepts a single bare event carrying its own @context (OpenEPCIS Capture/Events/ObjectEvent.json)", async function () {
      const { text, doc } = readOpenEpcis("Capture/Events", "ObjectEvent.json");
      const job = await captureAndWait(node, token, text);
      expect(job).to.include({ success: true, total: 1, processed: 1 });
      const eventID = (doc.eventID as string | undefined) ?? eventHashId(doc);
      expect(eventsOf(await get(node, `/epcis/events/${encodeURIComponent(eventID)}`, { ...bearer(token), "GS1-EPC-Format": "Never_Translates" }))).to.have.length.greaterThan(0);
    });
  });

  describe("the three OpenEPCIS documents the 2023 schema rejects: decisions", function () {
    it("ACCEPTS AggregationEvent_with_persistentDisposition.json: EPCIS 2.0 gives every event type persistentDisposition, the 2023 schema forgets it on AggregationEvent", async function () {
      const { text, doc } = readOpenEpcis("Capture/Documents", "AggregationEvent_with_persistentDisposition.json");
      // The shipped schema as published rejects it…
      const published = JSON.parse(
        fs.readFileSync(path.resolve(__dirname, "../../../services/epcis/schema/EPCIS-JSON-Schema.json"), "utf8"),
      );
      expect(addFormats(new Ajv({ strict: false })).validate(published, doc)).to.equal(false);
      // …Lotline patches the erratum and accepts it, keeping persistentDisposition.
      expect(validateEpcisDocument(doc).valid).to.equal(true);
      const job = await captureAndWait(node, token, text);
      expect(job.success).to.equal(true);
      const aggregation = (doc.epcisBody as { eventList: Record<string, unknown>[] }).eventList.find(
        (e) => e.persistentDisposition,
      )!;
      const found = eventsOf(await get(node, `/epcis/events/${encodeURIComponent(eventHashId(aggregation, doc["@context"]))}`, { ...bearer(token), "GS1-EPC-Format": "Never_Translates" }));
      expect(found[0].persistentDisposition).to.deep.equal(aggregation.persistentDisposition);
    });

    it("REJECTS SensorData_with_combined_events.json: Molar_concentration is neither a GS1 measurement type nor a URI", async function () {
      const before = capturesStored();
      const res = await capture(node, token, readOpenEpcis("Capture/Documents", "SensorData_with_combined_events.json").text);
      expect(failingFields(res)).to.deep.include.members([
        [7, "sensorElementList[0].sensorReport[1].type"],
        [7, "sensorElementList[0].sensorReport[2].type"],
        [10, "sensorElementList[0].sensorReport[0].type"],
      ]);
      const molar = res.body.errors.find((e: { eventIndex: number; field: string }) => e.eventIndex === 7);
      expect(molar.message).to.equal(
        'sensorElementList[0].sensorReport[1].type: "Molar_concentration" is not a GS1 measurement type or a URI outside gs1.org/voc',
      );
      expect(res.body.detail).to.match(/^the document is not valid EPCIS 2\.0, nothing was captured: event 7 sensorElementList/);
      expect(capturesStored()).to.equal(before);
    });

    it("REJECTS TransactionEvent_with_userExtensions.json: EffectiveDoseRate is neither a GS1 measurement type nor a URI", async function () {
      const res = await capture(
        node,
        token,
        readOpenEpcis("Capture/Documents", "TransactionEvent_with_userExtensions.json").text,
      );
      expect(failingFields(res)).to.deep.equal([[0, "sensorElementList[0].sensorReport[0].type"]]);
      expect(res.body.errors[0].message).to.match(/"EffectiveDoseRate" is not a GS1 measurement type/);
    });
  });

  describe("the OpenEPCIS invalid documents", function () {
    /** What each must be rejected for: [eventIndex, field] (null: the document itself). */
    const EXPECTED: Record<string, [number | null, string][]> = {
      "Combination_of_events_with_missing_mandatory_fields.json": [
        [0, "action"],
        [1, "eventTimeZoneOffset"],
        [1, "action"],
      ],
      "Combination_of_multiple_invalid_fields.json": [
        [0, "bizStep"],
        [1, "disposition"],
        [2, "sourceList[0].type"],
        [3, "ilmd.materialType"],
        [4, "eventTime"],
        [4, "action"],
      ],
      "Combination_of_non_standard_bizStep_and_disposition.json": [
        [0, "bizStep"],
        [1, "disposition"],
      ],
      "EPCISDocument_without_context.json": [[null, "@context"]],
      "ObjectEvent_with_ilmd_field_without_namespace.json": [[0, "ilmd.materialType"]],
      "ObjectEvent_with_invalid_action.json": [[0, "action"]],
      "ObjectEvent_with_invalid_certificationInfo.json": [[0, "certificationInfo"]],
      "ObjectEvent_with_invalid_eventTime_format.json": [[0, "eventTime"]],
      "ObjectEvent_with_non_standard_bizStep.json": [[0, "bizStep"]],
      "ObjectEvent_with_non_standard_bizStep_in_second_event.json": [[1, "bizStep"]],
      "ObjectEvent_with_non_standard_disposition.json": [[0, "disposition"]],
      "ObjectEvent_with_quantity_as_text.json": [[0, "quantityList[0].quantity"]],
      "ObjectEvent_with_unknown_field_in_quantityList.json": [[0, "quantityList[0].weight"]],
      "ObjectEvent_without_action_and_eventTime.json": [
        [0, "eventTime"],
        [0, "eventTimeZoneOffset"],
        [0, "action"],
      ],
      "ObjectEvent_without_identifier_list.json": [[0, "epcList"]],
    };

    for (const file of openEpcisFiles("Capture/Invalid")) {
      const expected = EXPECTED[file];
      const naming = expected ? expected.map(([i, f]) => (i === null ? f : `event ${i} ${f}`)).join(", ") : "the failing fields";
      it(`rejects ${file} whole with 400, naming ${naming}`, async function () {
        const before = capturesStored();
        const res = await capture(node, token, readOpenEpcis("Capture/Invalid", file).text);
        const fields = failingFields(res);
        if (expected) expect(fields).to.have.deep.members(expected);
        else expect(fields).to.not.be.empty;
        for (const e of res.body.errors) expect(e.message.startsWith(`${e.field}: `), e.message).to.equal(true);
        expect(capturesStored()).to.equal(before);
      });
    }

    it("says precisely what is wrong with each field (one message per field, ajv's cascades collapsed)", async function () {
      const res = await capture(
        node,
        token,
        readOpenEpcis("Capture/Invalid", "Combination_of_multiple_invalid_fields.json").text,
      );
      expect(res.body.errors.map((e: { message: string }) => e.message)).to.deep.equal([
        'bizStep: "transforming" is not a CBV business step or a URI',
        'disposition: "in_transport" is not a CBV disposition or a URI',
        'sourceList[0].type: "place" is not a CBV source/destination type or a URI',
        'ilmd.materialType: ILMD fields need a namespace (prefix:name with the prefix defined in @context, or a full URI); "materialType" has none',
        'eventTime: "22-07-2026" is not a date-time with a time zone (RFC 3339, e.g. 2024-05-01T10:00:00.000+02:00)',
        'action: "CREATE" is not one of OBSERVE, ADD, DELETE',
      ]);
      const identifiers = await capture(
        node,
        token,
        readOpenEpcis("Capture/Invalid", "ObjectEvent_without_identifier_list.json").text,
      );
      expect(identifiers.body.errors[0].message).to.equal(
        "epcList: an ObjectEvent needs an epcList or a quantityList (or a sensorElementList with a readPoint)",
      );
    });

    for (const file of openEpcisFiles("Query/Invalid")) {
      it(`rejects the query document ${file}`, async function () {
        const res = await capture(node, token, readOpenEpcis("Query/Invalid", file).text);
        expect(failingFields(res)).to.have.length(1);
      });
    }

    it("rejects a CBV web URI that names no CBV term, and a term of the wrong vocabulary", async function () {
      const res = await capture(
        node,
        token,
        epcisDocument([
          objectEvent({ bizStep: "https://ref.gs1.org/cbv/BizStep-shiping" }),
          objectEvent({ bizStep: "cbv:Disp-in_transit" }),
        ]),
      );
      expect(res.body.errors.map((e: { message: string }) => e.message)).to.deep.equal([
        'bizStep: "https://ref.gs1.org/cbv/BizStep-shiping" is not a CBV business step',
        'bizStep: "cbv:Disp-in_transit" is a CBV disposition, not a CBV business step',
      ]);
    });

    it("resolves the GS1 context from its own copy, never fetches another, and refuses a prefix only that one could define", async function () {
      const remote = "https://example.com/my-context.jsonld";
      const uses = epcisDocument([objectEvent({ "mine:batchNote": "needs the remote context" })]);
      uses["@context"] = ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld", remote];
      const res = await capture(node, token, uses);
      expect(failingFields(res)).to.deep.equal([[0, "mine:batchNote"]]);
      expect(res.body.errors[0].message).to.equal(
        `mine:batchNote: prefix "mine" is not defined: Lotline resolves only the GS1 EPCIS context and never fetches ${remote}; define "mine" inline in @context`,
      );
      // Naming a context it does not need is harmless.
      const harmless = epcisDocument([objectEvent()]);
      harmless["@context"] = [remote, "https://gs1.github.io/EPCIS/epcis-context.jsonld"];
      expect((await capture(node, token, harmless)).status).to.equal(202);
      await capturesDone(node);

      const without = epcisDocument([objectEvent()]);
      without["@context"] = [{ example: "https://ns.example.com/epcis/" }];
      expect((await capture(node, token, without)).body.errors[0].message).to.equal(
        "@context: must include the GS1 EPCIS 2.0 context https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
      );
    });
  });

  describe("requests the capture interface refuses", function () {
    it("refuses a capture without a bearer token (401), before reading the document", async function () {
      const res = await capture(node, null, epcisDocument([objectEvent()]));
      expectProblem(res, 401, "unauthorized");
      expect(res.body.type).to.equal("epcisException:SecurityException");
      expectProblem(await capture(node, "not-a-token-but-long-enough", epcisDocument([objectEvent()])), 401, "unauthorized");
    });

    it("refuses a GS1-Capture-Error-Behaviour other than rollback or proceed (400)", async function () {
      const res = await capture(node, token, epcisDocument([objectEvent()]), { "GS1-Capture-Error-Behaviour": "all" });
      expectProblem(res, 400, "invalid_capture_error_behaviour");
    });

    it("refuses a document over the size limit with 413", async function () {
      const doc = JSON.stringify(
        epcisDocument(
          [objectEvent({ "example:padding": "x".repeat(MAX_CAPTURE_BYTES) })],
          [{ example: "https://ns.example.com/" }],
        ),
      );
      const res = await capture(node, token, doc);
      expectProblem(res, 413, "payload_too_large");
      expect(res.body.type).to.equal("epcisException:CaptureLimitExceededException");
    });

    it("refuses a document of more than 10,000 events with 413", async function () {
      const events = Array.from({ length: MAX_CAPTURE_EVENTS + 1 }, () => ({
        type: "ObjectEvent",
        eventTime: "2024-01-01T00:00:00Z",
        eventTimeZoneOffset: "+00:00",
        epcList: [],
        action: "OBSERVE",
      }));
      const res = await capture(node, token, epcisDocument(events));
      expectProblem(res, 413, "too_many_events");
      expect(res.body.detail).to.match(/10001 events; at most 10000/);
    });

    it("refuses malformed JSON (400) and other media types (415)", async function () {
      expectProblem(await capture(node, token, '{"type": "EPCISDocument",'), 400, "malformed_json");
      expectProblem(
        await capture(node, token, epcisDocument([objectEvent()]), { "content-type": "text/plain" }),
        415,
        "unsupported_media_type",
      );
    });

    it("announces its limits on OPTIONS /epcis/capture", async function () {
      const res = await fetch(`${node.url}/epcis/capture`, { method: "OPTIONS" });
      expect(res.status).to.equal(204);
      expect(res.headers.get("gs1-epcis-capture-limit")).to.equal(String(MAX_CAPTURE_EVENTS));
      expect(res.headers.get("gs1-epcis-capture-file-size-limit")).to.equal(String(MAX_CAPTURE_BYTES));
      expect(res.headers.get("gs1-capture-error-behaviour")).to.equal("all");
    });
  });

  describe("capture jobs", function () {
    it("answers 202 with Location: /epcis/capture/{captureID}, for application/json as for application/ld+json", async function () {
      for (const type of ["application/json", "application/ld+json; charset=utf-8"]) {
        const res = await capture(node, token, epcisDocument([objectEvent()]), { "content-type": type });
        expect(res.status, res.text).to.equal(202);
        expect(res.headers.get("location")).to.equal(`/epcis/capture/${res.body.captureID}`);
        expect(res.headers.get("gs1-epcis-version")).to.equal("2.0.0");
      }
      await capturesDone(node);
    });

    it("reports {captureID, running, success, errors} with progress, and keeps the document as received", async function () {
      const text = JSON.stringify(epcisDocument([objectEvent(), objectEvent()]), null, 2);
      const job = await captureAndWait(node, token, text);
      expect(job).to.deep.include({
        running: false,
        success: true,
        errors: [],
        processed: 2,
        total: 2,
        stored: 2,
        duplicates: [],
      });
      expect(job).to.include.keys("captureID", "createdAt", "finishedAt", "captureErrorBehaviour");
      const row = node.db.prepare(`SELECT document, org_id FROM epcis_captures WHERE capture_id = ?`).get(job.captureID) as {
        document: string;
        org_id: number;
      };
      expect(row.document).to.equal(text);
      expect(String(row.org_id)).to.equal(orgIdOf("producer"));
    });

    it("gives an event without an eventID its CBV 2.0 hash ID as eventID", async function () {
      const event = objectEvent();
      await captureAndWait(node, token, epcisDocument([event]));
      const hashId = eventHashId(event, ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"]);
      expect(isEventHashId(hashId)).to.equal(true);
      const [stored] = eventsOf(await get(node, `/epcis/events/${encodeURIComponent(hashId)}`, { ...bearer(token), "GS1-EPC-Format": "Never_Translates" }));
      expect(stored.eventID).to.equal(hashId);
    });

    it("lists the organisation's capture jobs, paged with perPage / nextPageToken and Link rel=next, and hides them from others", async function () {
      const seen: string[] = [];
      let url: string | null = "/epcis/capture?perPage=3";
      while (url) {
        const res = await get(node, url, bearer(token));
        expect(res.status, res.text).to.equal(200);
        expect(res.body.length).to.be.at.most(3);
        seen.push(...res.body.map((j: { captureID: string }) => j.captureID));
        const next = /^<([^>]+)>; rel="next"$/.exec(res.headers.get("link") ?? "");
        url = next ? next[1].replace(node.url, "") : null;
      }
      const mine = (
        node.db
          .prepare(`SELECT capture_id FROM epcis_captures WHERE org_id = ? ORDER BY seq`)
          .all(Number(orgIdOf("producer"))) as { capture_id: string }[]
      ).map((r) => r.capture_id);
      expect(seen).to.deep.equal(mine);
      expect(new Set(seen).size).to.equal(seen.length);

      const other = await agentToken(node, "processor");
      const theirs = await get(node, "/epcis/capture", bearer(other));
      expect(theirs.body.map((j: { captureID: string }) => j.captureID)).to.not.include.members(seen.slice(0, 1));
      expectProblem(await get(node, `/epcis/capture/${seen[0]}`, bearer(other)), 404, "capture_not_found");
      expectProblem(await getAnonymous(node, `/epcis/capture/${seen[0]}`), 401, "unauthorized");
    });
  });

  describe("duplicates and error declarations", function () {
    it("stores a byte-for-byte duplicate once and reports it in the capture's duplicates", async function () {
      const doc = epcisDocument([objectEvent({ eventID: `urn:uuid:${crypto.randomUUID()}` }), objectEvent()]);
      const first = await captureAndWait(node, token, doc);
      expect(first).to.include({ stored: 2, success: true });
      // The same events again, key order and whitespace changed: the same canonical JSON.
      const shuffled = {
        ...doc,
        epcisBody: { eventList: doc.epcisBody.eventList.map((e) => Object.fromEntries(Object.entries(e).reverse())) },
      };
      const second = await captureAndWait(node, token, JSON.stringify(shuffled, null, 1));
      expect(second).to.include({ stored: 0, success: true, processed: 2 });
      expect(second.duplicates.map((d) => [d.eventIndex, d.storedBy])).to.deep.equal([
        [0, first.captureID],
        [1, first.captureID],
      ]);
      expect(eventsOf(await get(node, `/epcis/events/${encodeURIComponent(second.duplicates[0].eventID)}`, { ...bearer(token), "GS1-EPC-Format": "Never_Translates" }))).to.have.length(1);
    });

    it("reports an event repeated inside one document as a duplicate too", async function () {
      const event = objectEvent();
      const job = await captureAndWait(node, token, epcisDocument([event, event]));
      expect(job.stored).to.equal(1);
      expect(job.duplicates.map((d) => d.eventIndex)).to.deep.equal([1]);
    });

    it("stores an error declaration (same hash ID, other content) linked to the original and its corrective events", async function () {
      const original = objectEvent({ eventID: `urn:uuid:${crypto.randomUUID()}` });
      const corrective = objectEvent({
        eventID: `urn:uuid:${crypto.randomUUID()}`,
        epcList: original.epcList,
        disposition: "in_progress",
      });
      const missing = `urn:uuid:${crypto.randomUUID()}`;
      const declaration = {
        ...original,
        errorDeclaration: {
          declarationTime: "2024-03-02T09:00:00Z",
          reason: "incorrect_data",
          correctiveEventIDs: [corrective.eventID, missing],
        },
      };
      await captureAndWait(node, token, epcisDocument([original]));
      const job = await captureAndWait(node, token, epcisDocument([declaration, corrective]));
      expect(job).to.include({ stored: 2, success: true });
      expect(job.duplicates).to.deep.equal([]);

      const both = eventsOf(await get(node, `/epcis/events/${encodeURIComponent(original.eventID as string)}`, { ...bearer(token), "GS1-EPC-Format": "Never_Translates" }));
      expect(both.map((e) => canonicalize(withoutRecordTime(e)))).to.deep.equal([
        canonicalize(original),
        canonicalize(declaration),
      ]);
      const links = await get(node, `/epcis/events/${encodeURIComponent(original.eventID as string)}/links`, { ...bearer(token), "GS1-EPC-Format": "Never_Translates" });
      expect(links.status, links.text).to.equal(200);
      const [first, second] = links.body.records;
      expect(first).to.include({ errorDeclaration: false, original: null });
      expect(second.errorDeclaration).to.equal(true);
      expect(second.hashId).to.equal(first.hashId);
      expect(second.original).to.deep.equal({ recordId: first.recordId, eventID: original.eventID });
      expect(second.correctiveEvents).to.deep.equal([
        { eventID: corrective.eventID, stored: true },
        { eventID: missing, stored: false },
      ]);
    });
  });

  describe("GS1-Capture-Error-Behaviour and crashes (capture jobs inserted as a crashed node leaves them)", function () {
    /** A capture stored with its 202 but not processed; `null` events cannot be captured (a document from before validation). */
    function pendingCapture(events: unknown[], behaviour: "rollback" | "proceed", processed = 0): string {
      const captureId = `test-${crypto.randomUUID()}`;
      insertCapture(node.db, {
        captureId,
        orgId: Number(orgIdOf("producer")),
        agent: "0x0000000000000000000000000000000000000001",
        contentType: "application/ld+json",
        document: JSON.stringify(epcisDocument(events as Record<string, unknown>[])),
        errorBehaviour: behaviour,
        total: events.length,
      });
      node.db.prepare(`UPDATE epcis_captures SET processed = ? WHERE capture_id = ?`).run(processed, captureId);
      return captureId;
    }
    const job = async (captureId: string) => (await get(node, `/epcis/capture/${captureId}`, bearer(token))).body;
    const storedBy = (captureId: string) =>
      (node.db.prepare(`SELECT COUNT(*) AS n FROM epcis_events WHERE capture_id = ?`).get(captureId) as { n: number }).n;

    it("rollback (the default): an event that cannot be captured rejects them all", async function () {
      const captureId = pendingCapture([objectEvent(), null, objectEvent()], "rollback");
      await capturesDone(node);
      expect(await job(captureId)).to.deep.include({
        running: false,
        success: false,
        stored: 0,
        processed: 3,
        captureErrorBehaviour: "rollback",
      });
      expect((await job(captureId)).errors.map((e: { eventIndex: number }) => e.eventIndex)).to.deep.equal([1]);
      expect(storedBy(captureId)).to.equal(0);
    });

    it("proceed: the other events are captured and the failure reported", async function () {
      const captureId = pendingCapture([objectEvent(), null, objectEvent()], "proceed");
      await capturesDone(node);
      const report = await job(captureId);
      expect(report).to.deep.include({ running: false, success: false, stored: 2, processed: 3 });
      expect(report.errors[0]).to.include({ eventIndex: 1, type: "epcisException:ValidationException" });
      expect(storedBy(captureId)).to.equal(2);
    });

    it("a capture left running by a crash completes when a restarted node runs its capture job, storing each event once", async function () {
      const captureId = pendingCapture(
        Array.from({ length: 7 }, () => objectEvent()),
        "rollback",
      );
      // A fresh job, as a restarted node has, with small chunks.
      const restarted = createCaptureJob(node.db, { chunkSize: 3 });
      await restarted.runOnce();
      expect(await job(captureId)).to.deep.include({ running: false, success: true, stored: 7, processed: 7 });
      await restarted.runOnce();
      await capturesDone(node);
      expect(storedBy(captureId)).to.equal(7);
    });

    it("rollback: nothing of the document is visible, anchored or mapped until all of it is stored (staged, then published in one transaction)", async function () {
      const captureId = pendingCapture(
        Array.from({ length: 5 }, () => objectEvent()),
        "rollback",
      );
      const anchored = () =>
        (node.db.prepare(`SELECT COUNT(*) AS n FROM anchor_outbox o JOIN epcis_events e ON o.record_id = 'epcis:event:' || e.seq WHERE e.capture_id = ?`).get(captureId) as { n: number }).n;
      const mapped = () =>
        (node.db.prepare(`SELECT COUNT(*) AS n FROM epcis_mappings m JOIN epcis_events e ON m.seq = e.seq WHERE e.capture_id = ?`).get(captureId) as { n: number }).n;
      const staged = () => (node.db.prepare(`SELECT COUNT(*) AS n FROM epcis_capture_staged WHERE capture_id = ?`).get(captureId) as { n: number }).n;
      // The last event's store dies inside the publishing transaction, as if the node were killed there.
      const removeHook = onEventStored((_db, event) => {
        if (event.captureId === captureId && event.eventIndex === 4) throw new Error("killed");
      });
      const chunked = createCaptureJob(node.db, { chunkSize: 2 });
      try {
        await chunked.runOnce().then(
          () => expect.fail("the capture should have been interrupted"),
          (err: Error) => expect(err.message).to.equal("killed"),
        );
        // All five staged across three chunks; none stored, anchored or mapped: the four stored before the
        // failure were rolled back with the whole publishing transaction.
        expect(await job(captureId)).to.deep.include({ running: true, stored: 0, processed: 5 });
        expect([storedBy(captureId), anchored(), mapped(), staged()]).to.deep.equal([0, 0, 0, 5]);
      } finally {
        removeHook();
      }
      await chunked.runOnce();
      expect(await job(captureId)).to.deep.include({ running: false, success: true, stored: 5, processed: 5, duplicates: [] });
      expect([storedBy(captureId), anchored(), staged()]).to.deep.equal([5, 5, 0]);
    });

    it("proceed: a document with schema-invalid events is not a 400; the valid events are stored, each invalid one reported", async function () {
      const good = [objectEvent({ eventID: `urn:uuid:${crypto.randomUUID()}` }), objectEvent({ eventID: `urn:uuid:${crypto.randomUUID()}` })];
      const bad = [objectEvent({ action: "CREATE" }), objectEvent({ bizStep: "transforming" })];
      const doc = epcisDocument([good[0], bad[0], good[1], bad[1]]);
      const refused = await capture(node, token, doc);
      expectProblem(refused, 400, "invalid_epcis_document");
      const report = await captureAndWait(node, token, doc, { "GS1-Capture-Error-Behaviour": "proceed" });
      expect(report).to.include({ running: false, success: false, stored: 2, processed: 4, total: 4 });
      expect(report.errors.map((e) => [e.eventIndex, e.field])).to.deep.equal([
        [1, "action"],
        [3, "bizStep"],
      ]);
      for (const e of good) expect(eventsOf(await get(node, `/epcis/events/${encodeURIComponent(e.eventID as string)}`, bearer(token)))).to.have.length(1);
    });

    it("proceed: a document-level error is still a 400 (nothing to proceed with)", async function () {
      const doc = { ...epcisDocument([objectEvent()]), schemaVersion: 2 };
      expectProblem(await capture(node, token, doc, { "GS1-Capture-Error-Behaviour": "proceed" }), 400, "invalid_epcis_document");
    });

    it("proceed: resumes a capture interrupted after its first chunk without storing that chunk again", async function () {
      const captureId = pendingCapture(
        Array.from({ length: 5 }, () => objectEvent()),
        "proceed",
      );
      // The third event's transaction dies, as if the node were killed before committing it.
      const removeHook = onEventStored((_db, event) => {
        if (event.captureId === captureId && event.eventIndex >= 2) throw new Error("killed");
      });
      const chunked = createCaptureJob(node.db, { chunkSize: 2 });
      try {
        await chunked.runOnce().then(
          () => expect.fail("the capture should have been interrupted"),
          (err: Error) => expect(err.message).to.equal("killed"),
        );
        expect(await job(captureId)).to.deep.include({ running: true, success: true, stored: 2, processed: 2 });
      } finally {
        removeHook();
      }
      await chunked.runOnce();
      expect(await job(captureId)).to.deep.include({ running: false, success: true, stored: 5, processed: 5, duplicates: [] });
      expect(storedBy(captureId)).to.equal(5);
    });
  });

  it("(the OpenEPCIS folder is where the tests expect it)", function () {
    expect(fs.existsSync(OPENEPCIS)).to.equal(true);
  });
});
