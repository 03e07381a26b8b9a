import crypto from "node:crypto";
import { expect } from "chai";
import type { TestNode } from "../../helpers/node";
import { epcUriToDigitalLink } from "../../../services/epcis/hash";
import { bearer, expectProblem, getAnonymous as rawGet, post, sharedNode, type ApiResponse } from "../api/helpers";
import { agentToken, captureAndWait, EPCIS_CONTEXT, epcisDocument, eventsOf } from "./helpers";

/**
 * The rest of the GS1 EPCIS 2.0 REST binding: discovery, named queries, the resource collections and
 * their events, single-event capture, the parameters with variable names (business transactions,
 * sources and destinations by type, locations with descendants, ILMD and extension fields, sensor
 * data), the binding's defaults and its version headers.
 */
const R = String(crypto.randomInt(10_000, 99_999));
const NS = `https://ns.example.com/q${R}/`;
const id = () => `urn:uuid:${crypto.randomUUID()}`;
const sgln = (ext: string) => `urn:epc:id:sgln:4012345.${R}.${ext}`;
const PO = `urn:epcglobal:cbv:bt:4012345000009:PO-${R}`;
const OWNER = `urn:epc:id:pgln:4012345.${R}`;
const DEVICE = `urn:epc:id:giai:4012345.D${R}`;
const USER_STEP = `https://lotline.example/bizstep/binding-${R}`;

const F1 = {
  type: "ObjectEvent",
  eventID: id(),
  eventTime: "2024-06-01T10:00:00.000Z",
  eventTimeZoneOffset: "+00:00",
  epcList: [`urn:epc:id:sgtin:4012345.0${R}.1`],
  action: "ADD",
  bizStep: "commissioning",
  disposition: "active",
  readPoint: { id: sgln("1") },
  bizLocation: { id: sgln("7") },
  bizTransactionList: [{ type: "po", bizTransaction: PO }],
  sourceList: [{ type: "owning_party", source: OWNER }],
  destinationList: [{ type: "location", destination: sgln("9") }],
  ilmd: { "ex:bestBefore": "2025-01-01T00:00:00Z", "ex:count": 12, "ex:origin": { "ex:country": "DE" } },
  "ex:grade": "A",
  "ex:pack": { "ex:size": "L" },
};
const F2 = {
  type: "ObjectEvent",
  eventID: id(),
  eventTime: "2024-06-02T10:00:00.000Z",
  eventTimeZoneOffset: "+00:00",
  epcList: [`urn:epc:id:sgtin:4012345.0${R}.2`],
  action: "OBSERVE",
  bizStep: USER_STEP,
  disposition: "in_transit",
  readPoint: { id: sgln("2") },
  bizLocation: { id: sgln("0") },
  sensorElementList: [
    {
      sensorMetadata: { time: "2024-06-02T09:00:00.000Z", deviceID: DEVICE, bizRules: `https://example.com/rules/${R}`, startTime: "2024-06-02T08:00:00.000Z", endTime: "2024-06-02T09:30:00.000Z" },
      sensorReport: [
        { type: "Temperature", value: 4.5, uom: "CEL", minValue: 2, maxValue: 8, meanValue: 4.5, sDev: 0.5, percRank: 50, percValue: 4.4 },
        { type: "Temperature", stringValue: `ok-${R}`, booleanValue: true },
      ],
    },
  ],
};

describe("EPCIS binding: discovery, named queries, collections, parameters and headers", function () {
  let node: TestNode;
  let token: string;
  let other: string;
  const get = (path: string, headers: Record<string, string> = {}) =>
    rawGet(node, path, { ...bearer(token), "GS1-EPC-Format": "Never_Translates", ...headers });
  const ids = (res: ApiResponse) => eventsOf(res).map((e) => (e.eventID === F1.eventID ? "F1" : e.eventID === F2.eventID ? "F2" : "other"));
  const scope = `EQ_eventID=${F1.eventID}|${F2.eventID}&orderDirection=ASC`;
  const select = async (query: string) => ids(await get(`/epcis/events?${scope}&${query}`));

  before(async function () {
    node = await sharedNode();
    token = await agentToken(node);
    other = await agentToken(node, "processor2");
    expect(await captureAndWait(node, token, epcisDocument([F1, F2], [{ ex: NS }]))).to.include({ success: true, stored: 2 });
  });

  describe("discovery and collections", function () {
    it("GET /epcis lists the top-level resources", async function () {
      const res = await rawGet(node, "/epcis");
      expect(res.status, res.text).to.equal(200);
      expect(res.body.member).to.include.members(["queries", "capture", "events", "eventTypes", "epcs", "bizSteps", "bizLocations", "readPoints", "dispositions"]);
    });

    it("GET /epcis/epcs, /bizLocations, /readPoints list what the reader's events name (as canonical identifiers)", async function () {
      const all = async (path: string) => (await get(`${path}?perPage=1000`)).body.member as string[];
      expect(await all("/epcis/epcs")).to.include(epcUriToDigitalLink(F1.epcList[0]));
      expect(await all("/epcis/bizLocations")).to.include(epcUriToDigitalLink(sgln("7")));
      expect(await all("/epcis/readPoints")).to.include(epcUriToDigitalLink(sgln("2")));
      expect(await all("/epcis/dispositions")).to.include.members(["active", "in_transit"]);
      expect(await all("/epcis/epcs").then(() => rawGet(node, "/epcis/epcs")).then((r) => r.status)).to.equal(401);
    });

    const cases: [string, string, string[]][] = [
      ["eventTypes/{eventType}/events", `/epcis/eventTypes/ObjectEvent/events`, ["F1", "F2"]],
      ["bizSteps/{bizStep}/events (a CBV term)", `/epcis/bizSteps/commissioning/events`, ["F1"]],
      ["bizSteps/{bizStep}/events (a company's URI)", `/epcis/bizSteps/${encodeURIComponent(USER_STEP)}/events`, ["F2"]],
      ["bizLocations/{bizLocation}/events", `/epcis/bizLocations/${encodeURIComponent(sgln("7"))}/events`, ["F1"]],
      ["readPoints/{readPoint}/events", `/epcis/readPoints/${encodeURIComponent(epcUriToDigitalLink(sgln("2"))!)}/events`, ["F2"]],
      ["dispositions/{disposition}/events", `/epcis/dispositions/in_transit/events`, ["F2"]],
      ["epcs/{epc}/events", `/epcis/epcs/${encodeURIComponent(F1.epcList[0])}/events`, ["F1"]],
    ];
    for (const [what, path, expected] of cases) {
      it(`GET /epcis/${what}: ${expected.join(", ")}`, async function () {
        expect(ids(await get(`${path}?${scope}`))).to.deep.equal(expected);
      });
    }

    it("OPTIONS on the binding's resources answers 204 with Allow and the versions; DELETE /epcis/nextPageToken/{token} 204", async function () {
      for (const [path, allow] of [
        ["/epcis", "OPTIONS, GET"],
        ["/epcis/events", "OPTIONS, GET, POST"],
        ["/epcis/queries", "OPTIONS, GET, POST"],
        ["/epcis/queries/q1", "OPTIONS, GET, DELETE"],
        ["/epcis/bizSteps/shipping/events", "OPTIONS, GET"],
      ]) {
        const res = await fetch(`${node.url}${path}`, { method: "OPTIONS" });
        expect(res.status, path).to.equal(204);
        expect(res.headers.get("allow"), path).to.equal(allow);
        expect(res.headers.get("gs1-epcis-max")).to.equal("2.0.0");
      }
      expect((await fetch(`${node.url}/epcis/nextPageToken/abc`, { method: "DELETE" })).status).to.equal(204);
    });

    it("GET /epcis/{resource}/{value} names its sub-resource: events", async function () {
      expect((await get(`/epcis/bizSteps/shipping`)).body.member).to.deep.equal(["events"]);
    });
  });

  describe("named queries", function () {
    const name = `shipped-${R}`;

    it("creates one (201, Location), lists it, gets it and runs it as an EPCISQueryDocument named after it", async function () {
      const created = await post(node, "/epcis/queries", { name, query: { eventType: ["ObjectEvent"], EQ_bizStep: ["commissioning"], EQ_eventID: [F1.eventID, F2.eventID] } }, {
        "content-type": "application/json",
        ...bearer(token),
      });
      expect(created.status, created.text).to.equal(201);
      expect(created.headers.get("location")).to.equal(`/epcis/queries/${name}`);
      expect((await get("/epcis/queries?perPage=1000")).body.map((q: { name: string }) => q.name)).to.include(name);
      expect((await get(`/epcis/queries/${name}`)).body.query.EQ_bizStep).to.deep.equal(["commissioning"]);
      const run = await get(`/epcis/queries/${name}/events`);
      expect(ids(run)).to.deep.equal(["F1"]);
      expect(run.body.epcisBody.queryResults.queryName).to.equal(name);
    });

    it("refuses a second query of the same name (409) and a query with an unknown parameter (QueryParameterException)", async function () {
      const again = await post(node, "/epcis/queries", { name, query: { eventType: ["ObjectEvent"] } }, { "content-type": "application/json", ...bearer(token) });
      expectProblem(again, 409, "query_exists");
      const bad = await post(node, "/epcis/queries", { name: `bad-${R}`, query: { EQ_colour: ["red"] } }, { "content-type": "application/json", ...bearer(token) });
      expectProblem(bad, 400, "invalid_query_parameter");
      expect(bad.body.type).to.equal("epcisException:QueryParameterException");
    });

    it("attack: another organisation neither sees nor runs nor deletes it (404); the public gets 401", async function () {
      expectProblem(await rawGet(node, `/epcis/queries/${name}`, bearer(other)), 404, "query_not_found");
      expectProblem(await rawGet(node, `/epcis/queries/${name}/events`, bearer(other)), 404, "query_not_found");
      const del = await fetch(`${node.url}/epcis/queries/${name}`, { method: "DELETE", headers: bearer(other) });
      expect(del.status).to.equal(404);
      expectProblem(await rawGet(node, `/epcis/queries`), 401);
    });

    it("deletes it (204), then it is gone (404)", async function () {
      const del = await fetch(`${node.url}/epcis/queries/${name}`, { method: "DELETE", headers: bearer(token) });
      expect(del.status).to.equal(204);
      expectProblem(await get(`/epcis/queries/${name}`), 404, "query_not_found");
    });
  });

  describe("POST /epcis/events: one event, synchronously", function () {
    const single = { "@context": [EPCIS_CONTEXT], ...F1, eventID: id(), epcList: [`urn:epc:id:sgtin:4012345.0${R}.3`] };

    it("captures it: 201 with the stored event and its Location, readable at once", async function () {
      const res = await post(node, "/epcis/events", single, { "content-type": "application/ld+json", ...bearer(token) });
      expect(res.status, res.text).to.equal(201);
      expect(res.headers.get("location")).to.equal(`/epcis/events/${encodeURIComponent(single.eventID)}`);
      expect(res.body.eventID).to.equal(single.eventID);
      expect(eventsOf(await get(res.headers.get("location")!))).to.have.length(1);
    });

    it("refuses an invalid event (400, nothing stored), a whole document (400) and the public (401)", async function () {
      const invalid = { ...single, eventID: id(), action: "CREATE" };
      expectProblem(await post(node, "/epcis/events", invalid, { "content-type": "application/ld+json", ...bearer(token) }), 400, "invalid_epcis_event");
      expectProblem(await get(`/epcis/events/${encodeURIComponent(invalid.eventID)}`), 404, "event_not_found");
      expectProblem(await post(node, "/epcis/events", epcisDocument([F1]), { "content-type": "application/ld+json", ...bearer(token) }), 400, "not_an_event");
      expectProblem(await post(node, "/epcis/events", single, { "content-type": "application/ld+json" }), 401);
    });
  });

  describe("parameters with variable names", function () {
    const cases: [string, string, string[]][] = [
      ["EQ_bizTransaction_{type}", `EQ_bizTransaction_po=${PO}`, ["F1"]],
      ["EQ_bizTransaction_{type}, another type", `EQ_bizTransaction_inv=${PO}`, []],
      ["EQ_source_{type}", `EQ_source_owning_party=${encodeURIComponent(epcUriToDigitalLink(OWNER) ?? OWNER)}`, ["F1"]],
      ["EQ_destination_{type} (a CBV URN type)", `EQ_destination_urn:epcglobal:cbv:sdt:location=${sgln("9")}`, ["F1"]],
      ["WD_bizLocation: the GLN and its extensions", `WD_bizLocation=${sgln("0")}`, ["F1", "F2"]],
      ["WD_readPoint", `WD_readPoint=${sgln("2")}`, ["F2"]],
      ["EQ_ILMD_{namespace}#{field}", `EQ_ILMD_${encodeURIComponent(`${NS}#bestBefore`)}=2025-01-01T00:00:00Z`, ["F1"]],
      ["GT_ILMD_ (a number)", `GT_ILMD_${encodeURIComponent(`${NS}#count`)}=11`, ["F1"]],
      ["LE_ILMD_ (a number, not met)", `LE_ILMD_${encodeURIComponent(`${NS}#count`)}=11`, []],
      ["GE_ILMD_ (a date-time)", `GE_ILMD_${encodeURIComponent(`${NS}#bestBefore`)}=2024-12-31T00:00:00Z`, ["F1"]],
      ["EXISTS_ILMD_", `EXISTS_ILMD_${encodeURIComponent(`${NS}#origin`)}`, ["F1"]],
      ["EQ_INNER_ILMD_", `EQ_INNER_ILMD_${encodeURIComponent(`${NS}#country`)}=DE`, ["F1"]],
      ["EQ_{namespace}#{field} (an extension field)", `EQ_${encodeURIComponent(`${NS}#grade`)}=A`, ["F1"]],
      ["EXISTS_{namespace}#{field}", `EXISTS_${encodeURIComponent(`${NS}#pack`)}`, ["F1"]],
      ["EQ_INNER_{namespace}#{field}", `EQ_INNER_${encodeURIComponent(`${NS}#size`)}=L`, ["F1"]],
      ["EQ_INNER_ does not match a top-level field", `EQ_INNER_${encodeURIComponent(`${NS}#grade`)}=A`, []],
      ["EQ_type (a bare measurement type)", "EQ_type=Temperature", ["F2"]],
      ["EQ_type (a GS1 web URI)", `EQ_type=${encodeURIComponent("https://gs1.org/voc/Temperature")}`, ["F2"]],
      ["EQ_deviceID", `EQ_deviceID=${DEVICE}`, ["F2"]],
      ["EQ_bizRules", `EQ_bizRules=${encodeURIComponent(`https://example.com/rules/${R}`)}`, ["F2"]],
      ["EQ_uom", "EQ_uom=CEL", ["F2"]],
      ["EQ_stringValue", `EQ_stringValue=ok-${R}`, ["F2"]],
      ["EQ_booleanValue", "EQ_booleanValue=true", ["F2"]],
      ["EQ_percRank", "EQ_percRank=50", ["F2"]],
      ["GT_value", "GT_value=4", ["F2"]],
      ["LT_value (not met)", "LT_value=4", []],
      ["GE_minValue / LE_maxValue", "GE_minValue=2&LE_maxValue=8", ["F2"]],
      ["EQ_meanValue, LT_sDev, GE_percValue", "EQ_meanValue=4.5&LT_sDev=1&GE_percValue=4.4", ["F2"]],
      ["GE_time / LT_time", "GE_time=2024-06-02T08:30:00Z&LT_time=2024-06-02T09:30:00Z", ["F2"]],
      ["GE_startTime / LT_endTime", "GE_startTime=2024-06-02T08:00:00Z&LT_endTime=2024-06-02T10:00:00Z", ["F2"]],
      ["EXISTS_sensorElementList (a standard field)", "EXISTS_sensorElementList", ["F2"]],
      ["EXISTS_ilmd=false", "EXISTS_ilmd=false", ["F2"]],
      ["EXISTS_errorDeclaration=false", "EXISTS_errorDeclaration=false", ["F1", "F2"]],
    ];
    for (const [what, query, expected] of cases) {
      it(`${what}: ${expected.length ? expected.join(", ") : "nothing"}`, async function () {
        expect(await select(query)).to.deep.equal(expected);
      });
    }

    it("EQ_userID: the events captured by that user (the capturing agent's address)", async function () {
      const address = (node.db.prepare(`SELECT c.agent FROM epcis_events e JOIN epcis_captures c ON c.capture_id = e.capture_id WHERE e.event_id = ?`).get(F1.eventID) as { agent: string }).agent;
      expect(await select(`EQ_userID=${address.toLowerCase()}`)).to.deep.equal(["F1", "F2"]);
      expect(await select(`EQ_userID=0x${"00".repeat(20)}`)).to.deep.equal([]);
    });

    it("refuses what it does not support by name, with a QueryParameterException", async function () {
      for (const name of ["HASATTR_bizLocation_x", "EQATTR_readPoint_x", "GT_value_CEL", "EQ_colour", "EXISTS_colour"]) {
        const res = await get(`/epcis/events?${name}=1`);
        expectProblem(res, 400, "invalid_query_parameter");
        expect(res.body.type).to.equal("epcisException:QueryParameterException");
        expect(res.body.detail).to.contain(name);
      }
      expectProblem(await get(`/epcis/events?GT_value=warm`), 400, "invalid_query_parameter");
    });
  });

  describe("the binding's defaults", function () {
    it("orders by descending record time when orderDirection is not given", async function () {
      expect(ids(await get(`/epcis/events?EQ_eventID=${F1.eventID}|${F2.eventID}`))).to.deep.equal(["F2", "F1"]);
    });

    it("refuses eventCountLimit without orderBy", async function () {
      const res = await get(`/epcis/events?${scope}&eventCountLimit=1`);
      expectProblem(res, 400, "invalid_query_parameter");
      expect(res.body.detail).to.match(/orderBy/);
    });

    it("writes identifiers as GS1 Digital Links unless GS1-EPC-Format says otherwise", async function () {
      const res = await rawGet(node, `/epcis/events/${encodeURIComponent(F1.eventID)}`, bearer(token));
      expect(eventsOf(res)[0].epcList).to.deep.equal([epcUriToDigitalLink(F1.epcList[0])]);
    });
  });

  describe("headers", function () {
    it("announces GS1-EPCIS-Version and GS1-CBV-Version 2.0.0, and accepts 2.0.x, GS1-Extensions and GS1-CBV-XML-Format", async function () {
      const res = await get(`/epcis/events?${scope}`, {
        "GS1-EPCIS-Version": "2.0.0",
        "GS1-CBV-Version": "2.0",
        "GS1-EPCIS-Min": "2.0.0",
        "GS1-EPCIS-Max": "2.0.1",
        "GS1-Extensions": `ex=${NS}`,
        "GS1-CBV-XML-Format": "Always_Web_URI",
      });
      expect(res.status, res.text).to.equal(200);
      expect(res.headers.get("gs1-epcis-version")).to.equal("2.0.0");
      expect(res.headers.get("gs1-cbv-version")).to.equal("2.0.0");
    });

    for (const [header, value] of [
      ["GS1-EPCIS-Version", "1.2"],
      ["GS1-EPCIS-Min", "2.1.0"],
      ["GS1-EPCIS-Max", "1.2.0"],
      ["GS1-CBV-Version", "1.2.2"],
      ["GS1-CBV-Min", "3.0"],
    ]) {
      it(`answers 406 to ${header}: ${value}`, async function () {
        const res = await get(`/epcis/events?${scope}`, { [header]: value });
        expectProblem(res, 406, "version_not_supported");
        expect(res.body.type).to.equal("epcisException:NotAcceptableException");
      });
    }

    it("refuses an unknown GS1-CBV-XML-Format (400)", async function () {
      expectProblem(await get(`/epcis/events?${scope}`, { "GS1-CBV-XML-Format": "Sometimes" }), 400, "invalid_request");
    });
  });

  it("accepts a document naming another published EPCIS 2.0.x context URL", async function () {
    const doc = { ...epcisDocument([{ ...F1, eventID: id(), epcList: [`urn:epc:id:sgtin:4012345.0${R}.4`] }]), "@context": ["https://ref.gs1.org/standards/epcis/2.0.1/epcis-context.jsonld", { ex: NS }] };
    expect(await captureAndWait(node, token, doc)).to.include({ success: true, stored: 1 });
  });
});
