import crypto from "node:crypto";
import { expect } from "chai";
import { canonicalize } from "json-canonicalize";
import type { TestNode } from "../../helpers/node";
import { epcUriToDigitalLink, eventHashId } from "../../../services/epcis/hash";
import { validateEpcisDocument } from "../../../services/epcis/validate";
import { bearer, expectProblem, get as rawGet, sharedNode, type ApiResponse } from "../api/helpers";
import { agentToken, captureAndWait, EPCIS_CONTEXT, epcisDocument, eventsOf, withoutRecordTime } from "./helpers";

/**
 * The EPCIS 2.0 query interface: a fixture document of seven events (all five types) with
 * identifiers in every form, captured once; each query parameter must select exactly the expected
 * events. Queries are scoped to the fixture's record-time window, so other tests' events do not count.
 */
const R = String(crypto.randomInt(10_000, 99_999));
const GCP = "4012345"; // the demo producer's company prefix: known to the node
const OTHER_GCP = `98${R}`; // never seen as a URN: its Digital Links cannot be written as URNs
const urn = {
  s1: `urn:epc:id:sgtin:${GCP}.0${R}.1001`,
  s2: `urn:epc:id:sgtin:${GCP}.0${R}.1002`,
  s3: `urn:epc:id:sgtin:${OTHER_GCP}.012345.7001`,
  sscc: `urn:epc:id:sscc:${GCP}.0${R}0001`,
  lot: `urn:epc:class:lgtin:${GCP}.0${R}.LOT-${R}`,
  readPoint: `urn:epc:id:sgln:${GCP}.${R}.0`,
  bizLocation: `urn:epc:id:sgln:${GCP}.${R}.7`,
};
const dl = Object.fromEntries(Object.entries(urn).map(([k, v]) => [k, epcUriToDigitalLink(v)!])) as typeof urn;
const brandS1 = `${dl.s1.replace("https://id.gs1.org", "https://brand.example.com")}?linkType=gs1:pip`;
const customBizStep = `https://lotline.example/bizstep/tasting-${R}`;
const transformationID = `urn:uuid:${crypto.randomUUID()}`;
const id = () => `urn:uuid:${crypto.randomUUID()}`;

const E: Record<string, Record<string, unknown>> = {
  E1: {
    type: "ObjectEvent",
    eventID: id(),
    eventTime: "2024-03-01T10:00:00.000+01:00",
    eventTimeZoneOffset: "+01:00",
    epcList: [urn.s1, urn.s2],
    action: "ADD",
    bizStep: "commissioning",
    disposition: "active",
    readPoint: { id: urn.readPoint },
    bizLocation: { id: dl.bizLocation },
    "example:batchNote": `run ${R}`,
  },
  E2: {
    type: "ObjectEvent",
    eventID: id(),
    eventTime: "2024-03-02T10:00:00.000+01:00",
    eventTimeZoneOffset: "+01:00",
    epcList: [brandS1],
    action: "OBSERVE",
    bizStep: "https://ref.gs1.org/cbv/BizStep-shipping",
    disposition: "in_transit",
    readPoint: { id: dl.readPoint },
  },
  E3: {
    type: "AggregationEvent",
    eventID: id(),
    eventTime: "2024-03-03T10:00:00.000Z",
    eventTimeZoneOffset: "+00:00",
    parentID: urn.sscc,
    childEPCs: [dl.s1, urn.s2],
    action: "ADD",
    bizStep: "packing",
  },
  E4: {
    type: "TransformationEvent",
    eventID: id(),
    eventTime: "2024-03-04T10:00:00.000-05:00",
    eventTimeZoneOffset: "-05:00",
    inputEPCList: [urn.s2],
    inputQuantityList: [{ epcClass: urn.lot, quantity: 10, uom: "KGM" }],
    outputEPCList: [dl.s3],
    transformationID,
    bizStep: customBizStep,
    persistentDisposition: { set: ["completeness_verified"] },
  },
  E5: {
    type: "TransactionEvent",
    eventID: id(),
    eventTime: "2024-03-05T10:00:00.000Z",
    eventTimeZoneOffset: "+00:00",
    bizTransactionList: [{ type: "po", bizTransaction: `urn:epcglobal:cbv:bt:4012345000009:PO-${R}` }],
    epcList: [dl.s3],
    action: "ADD",
    bizStep: "shipping",
  },
  E6: {
    type: "AssociationEvent",
    eventID: id(),
    eventTime: "2024-03-06T10:00:00.000Z",
    eventTimeZoneOffset: "+00:00",
    parentID: `urn:epc:id:giai:${GCP}.A${R}`,
    childEPCs: [urn.s1],
    action: "ADD",
    bizStep: "assembling",
  },
  E7: {
    type: "ObjectEvent",
    eventTime: "2024-03-07T10:00:00.000Z",
    eventTimeZoneOffset: "+00:00",
    quantityList: [{ epcClass: urn.lot, quantity: 4.5, uom: "KGM" }],
    action: "OBSERVE",
    bizStep: "inspecting",
  },
};
const CONTEXT = [{ example: "https://ns.example.com/epcis/" }];
const doc = epcisDocument(Object.values(E), CONTEXT);
// E7 has no eventID: Lotline gives it its hash ID.
const eventIdOf: Record<string, string> = Object.fromEntries(
  Object.entries(E).map(([name, e]) => [name, (e.eventID as string | undefined) ?? eventHashId(e, doc["@context"])]),
);
const nameOf = (eventID: unknown) => Object.keys(eventIdOf).find((n) => eventIdOf[n] === eventID) ?? String(eventID);

describe("EPCIS query: GET /epcis/events", function () {
  let node: TestNode;
  let scope: string;
  let token: string;
  /**
   * GET as the producer, which captured the fixture (EPCIS event contents are owner-and-grantees), with
   * identifiers as captured unless a test asks for a GS1-EPC-Format.
   */
  const get = (on: TestNode, path: string, headers: Record<string, string> = {}) =>
    rawGet(on, path, { ...bearer(token), "GS1-EPC-Format": "Never_Translates", ...headers });

  before(async function () {
    node = await sharedNode();
    token = await agentToken(node);
    const from = new Date().toISOString();
    const job = await captureAndWait(node, token, doc);
    expect(job).to.include({ success: true, stored: 7 });
    scope = `GE_recordTime=${from}&LT_recordTime=${new Date(Date.now() + 1).toISOString()}`;
  });

  /** The fixture events a query selects, by name, in the order returned. */
  async function select(query: string, headers: Record<string, string> = {}): Promise<string[]> {
    const order = /orderDirection/.test(query) ? "" : "&orderDirection=ASC";
    return eventsOf(await get(node, `/epcis/events?${scope}&${query}${order}`, headers)).map((e) => nameOf(e.eventID));
  }

  describe("round trip", function () {
    for (const name of Object.keys(E)) {
      it(`returns ${name} as captured (the same canonical JSON), with its eventID and recordTime`, async function () {
        const [event] = eventsOf(await get(node, `/epcis/events/${encodeURIComponent(eventIdOf[name])}`));
        expect(canonicalize(withoutRecordTime(event))).to.equal(canonicalize({ ...E[name], eventID: eventIdOf[name] }));
        expect(Date.parse(event.recordTime as string)).to.be.greaterThan(0);
        const stored = node.db.prepare(`SELECT event FROM epcis_events WHERE event_id = ?`).get(eventIdOf[name]) as {
          event: string;
        };
        expect(canonicalize(event)).to.equal(stored.event);
      });
    }

    it("answers an EPCISQueryDocument that is valid EPCIS 2.0 and carries the documents' own prefixes", async function () {
      const res = await get(node, `/epcis/events?${scope}`);
      expect(res.body["@context"]).to.deep.equal([EPCIS_CONTEXT, CONTEXT[0]]);
      expect(res.body.epcisBody.queryResults.queryName).to.equal("SimpleEventQuery");
      const result = validateEpcisDocument(res.body);
      expect(result.errors).to.deep.equal([]);
      expect(eventsOf(res)).to.have.length(7);
    });

    it("answers 404 for an unknown eventID", async function () {
      const res = await get(node, `/epcis/events/${encodeURIComponent(id())}`);
      expectProblem(res, 404, "event_not_found");
      expect(res.body.type).to.equal("epcisException:NoSuchResourceException");
    });
  });

  describe("query parameters", function () {
    const cases: [string, string, string[]][] = [
      ["eventType", "eventType=ObjectEvent", ["E1", "E2", "E7"]],
      ["eventType, a list with |", "eventType=AggregationEvent%7CTransactionEvent", ["E3", "E5"]],
      ["eventType, repeated", "eventType=AggregationEvent&eventType=TransactionEvent", ["E3", "E5"]],
      [
        "GE_eventTime / LT_eventTime, across time zones",
        "GE_eventTime=2024-03-02T09:00:00Z&LT_eventTime=2024-03-04T15:00:00.000Z",
        ["E2", "E3"],
      ],
      ["GE_eventTime with an unencoded + in its offset", "GE_eventTime=2024-03-05T11:00:00+01:00", ["E5", "E6", "E7"]],
      ["EQ_action", "EQ_action=OBSERVE", ["E2", "E7"]],
      ["EQ_action, a list", "EQ_action=ADD|DELETE", ["E1", "E3", "E5", "E6"]],
      ["EQ_bizStep as a bare CBV term", "EQ_bizStep=shipping", ["E2", "E5"]],
      ["EQ_bizStep as a CBV URN", "EQ_bizStep=urn:epcglobal:cbv:bizstep:shipping", ["E2", "E5"]],
      [
        "EQ_bizStep as a CBV web URI",
        `EQ_bizStep=${encodeURIComponent("https://ref.gs1.org/cbv/BizStep-shipping")}`,
        ["E2", "E5"],
      ],
      ["EQ_bizStep as a compact IRI", "EQ_bizStep=cbv:BizStep-shipping", ["E2", "E5"]],
      ["EQ_bizStep, a company's own URI", `EQ_bizStep=${encodeURIComponent(customBizStep)}`, ["E4"]],
      ["EQ_disposition", "EQ_disposition=in_transit", ["E2"]],
      ["EQ_disposition as a CBV URN", "EQ_disposition=urn:epcglobal:cbv:disp:active", ["E1"]],
      [
        "EQ_readPoint as a Digital Link (captured as URN and as Digital Link)",
        `EQ_readPoint=${encodeURIComponent(dl.readPoint)}`,
        ["E1", "E2"],
      ],
      ["EQ_readPoint as an EPC URN", `EQ_readPoint=${urn.readPoint}`, ["E1", "E2"]],
      ["EQ_bizLocation as an EPC URN (captured as Digital Link)", `EQ_bizLocation=${urn.bizLocation}`, ["E1"]],
      ["EQ_transformationID", `EQ_transformationID=${transformationID}`, ["E4"]],
      ["EQ_persistentDisposition_set", "EQ_persistentDisposition_set=completeness_verified", ["E4"]],
      ["MATCH_epc as an EPC URN (epcList and childEPCs, any form captured)", `MATCH_epc=${urn.s1}`, ["E1", "E2", "E3", "E6"]],
      ["MATCH_epc as a GS1 Digital Link", `MATCH_epc=${encodeURIComponent(dl.s1)}`, ["E1", "E2", "E3", "E6"]],
      ["MATCH_epc as a Digital Link on a brand's domain", `MATCH_epc=${encodeURIComponent(brandS1)}`, ["E1", "E2", "E3", "E6"]],
      ["MATCH_epc with an EPC pattern", `MATCH_epc=urn:epc:idpat:sgtin:${GCP}.0${R}.*`, ["E1", "E2", "E3", "E6"]],
      ["MATCH_parentID", `MATCH_parentID=${encodeURIComponent(dl.sscc)}`, ["E3"]],
      ["MATCH_inputEPC", `MATCH_inputEPC=${urn.s2}`, ["E4"]],
      ["MATCH_outputEPC as a URN (captured as Digital Link)", `MATCH_outputEPC=${urn.s3}`, ["E4"]],
      ["MATCH_anyEPC", `MATCH_anyEPC=${urn.s2}`, ["E1", "E3", "E4"]],
      ["MATCH_anyEPC, a parent", `MATCH_anyEPC=${urn.sscc}`, ["E3"]],
      ["MATCH_epcClass", `MATCH_epcClass=${urn.lot}`, ["E7"]],
      ["MATCH_epcClass with a GTIN pattern", `MATCH_epcClass=urn:epc:idpat:sgtin:${GCP}.0${R}.*`, ["E7"]],
      ["MATCH_inputEPCClass as a Digital Link", `MATCH_inputEPCClass=${encodeURIComponent(dl.lot)}`, ["E4"]],
      ["MATCH_anyEPCClass", `MATCH_anyEPCClass=${urn.lot}`, ["E4", "E7"]],
      ["EQ_eventID, a list", `EQ_eventID=${eventIdOf.E1}|${eventIdOf.E3}`, ["E1", "E3"]],
      ["EQ_eventID, a hash ID given as eventID", `EQ_eventID=${encodeURIComponent(eventIdOf.E7)}`, ["E7"]],
      ["GE_quantity", "GE_quantity=5", ["E4"]],
      ["LT_quantity", "LT_quantity=5", ["E7"]],
      ["several parameters together", `eventType=ObjectEvent&MATCH_epc=${urn.s1}&EQ_action=OBSERVE`, ["E2"]],
    ];
    for (const [what, query, expected] of cases) {
      it(`${what}: ${expected.length ? expected.join(", ") : "nothing"}`, async function () {
        expect(await select(query)).to.deep.equal(expected);
      });
    }

    it("GE_recordTime / LT_recordTime: nothing was recorded before 2000, everything of the fixture in its window", async function () {
      expect(eventsOf(await get(node, "/epcis/events?LT_recordTime=2000-01-01T00:00:00Z"))).to.deep.equal([]);
      expect(await select("")).to.deep.equal(["E1", "E2", "E3", "E4", "E5", "E6", "E7"]);
    });

    it("GET /epcis/epcs/{epc}/events matches the EPC in any role and form, with the other parameters", async function () {
      const all = eventsOf(await get(node, `/epcis/epcs/${encodeURIComponent(urn.s1)}/events?${scope}&orderDirection=ASC`)).map((e) =>
        nameOf(e.eventID),
      );
      expect(all).to.deep.equal(["E1", "E2", "E3", "E6"]);
      const objects = eventsOf(
        await get(node, `/epcis/epcs/${encodeURIComponent(brandS1)}/events?${scope}&eventType=ObjectEvent&orderDirection=ASC`),
      ).map((e) => nameOf(e.eventID));
      expect(objects).to.deep.equal(["E1", "E2"]);
    });

    it("refuses unknown and unsupported parameters with a QueryParameterException naming them", async function () {
      const unknown = await get(node, `/epcis/events?bizStep=shipping`);
      expectProblem(unknown, 400, "invalid_query_parameter");
      expect(unknown.body.type).to.equal("epcisException:QueryParameterException");
      expect(unknown.body.detail).to.equal("bizStep is not an EPCIS query parameter");
      const unsupported = await get(node, `/epcis/events?EQ_INNER_ilmd_example=1`);
      expect(unsupported.body.detail).to.match(/^EQ_INNER_ilmd_example is not a query parameter Lotline supports/);
      expectProblem(await get(node, `/epcis/events?GE_eventTime=yesterday`), 400, "invalid_query_parameter");
      expectProblem(await get(node, `/epcis/events?EQ_action=CREATE`), 400, "invalid_query_parameter");
    });
  });

  describe("GS1-EPC-Format", function () {
    const one = async (name: string, format?: string) =>
      eventsOf(
        await get(node, `/epcis/events/${encodeURIComponent(eventIdOf[name])}`, format ? { "GS1-EPC-Format": format } : {}),
      )[0];

    it("answers identifiers as GS1 Digital Links by default (the binding's default), as captured with Never_Translates", async function () {
      const res = await rawGet(node, `/epcis/events/${encodeURIComponent(eventIdOf.E3)}`, bearer(token));
      expect(eventsOf(res)[0].childEPCs).to.deep.equal([dl.s1, dl.s2]);
      expect(res.headers.get("gs1-epc-format")).to.equal("Always_GS1_Digital_Link");
      expect((await one("E3", "Never_Translates")).childEPCs).to.deep.equal([dl.s1, urn.s2]);
    });

    it("Always_GS1_Digital_Link writes EPC URNs as Digital Links", async function () {
      const e1 = await one("E1", "Always_GS1_Digital_Link");
      expect(e1.epcList).to.deep.equal([dl.s1, dl.s2]);
      expect(e1.readPoint).to.deep.equal({ id: dl.readPoint });
      expect((await one("E4", "Always_GS1_Digital_Link")).inputQuantityList).to.deep.equal([
        { epcClass: dl.lot, quantity: 10, uom: "KGM" },
      ]);
    });

    it("Always_EPC_URN writes Digital Links as EPC URNs where the company prefix is known", async function () {
      expect((await one("E3", "Always_EPC_URN")).childEPCs).to.deep.equal([urn.s1, urn.s2]);
      expect((await one("E2", "Always_EPC_URN")).epcList).to.deep.equal([urn.s1]);
      expect((await one("E1", "Always_EPC_URN")).bizLocation).to.deep.equal({ id: urn.bizLocation });
      // A Digital Link does not say where its company prefix ends: an unknown one stays a Digital Link.
      expect((await one("E4", "Always_EPC_URN")).outputEPCList).to.deep.equal([dl.s3]);
    });

    it("applies to query results too, and refuses an unknown format", async function () {
      const events = eventsOf(
        await get(node, `/epcis/events?${scope}&MATCH_epc=${urn.s1}`, { "GS1-EPC-Format": "Always_EPC_URN" }),
      );
      expect(events.map((e) => (e.epcList ?? e.childEPCs) as string[]).flat()).to.include.members([urn.s1, urn.s2]);
      expectProblem(await get(node, `/epcis/events?${scope}`, { "GS1-EPC-Format": "Sometimes" }), 400, "invalid_request");
    });
  });

  describe("paging", function () {
    async function allPages(first: string): Promise<{ names: string[]; pages: number }> {
      const names: string[] = [];
      let pages = 0;
      let path: string | null = first;
      while (path) {
        const res: ApiResponse = await get(node, path);
        names.push(...eventsOf(res).map((e) => nameOf(e.eventID)));
        pages++;
        const next = /^<([^>]+)>; rel="next"$/.exec(res.headers.get("link") ?? "");
        path = next ? next[1].replace(node.url, "") : null;
        expect(pages).to.be.below(20);
      }
      return { names, pages };
    }

    it("pages with perPage and nextPageToken, announced in Link rel=next, without repeats or gaps", async function () {
      const { names, pages } = await allPages(`/epcis/events?${scope}&perPage=2&orderDirection=ASC`);
      expect(pages).to.equal(4);
      expect(names).to.deep.equal(["E1", "E2", "E3", "E4", "E5", "E6", "E7"]);
    });

    it("pages in event-time order, descending, without repeats", async function () {
      const { names } = await allPages(`/epcis/events?${scope}&perPage=3&orderBy=eventTime&orderDirection=DESC`);
      expect(names).to.deep.equal(["E7", "E6", "E5", "E4", "E3", "E2", "E1"]);
    });

    it("stops at eventCountLimit, and refuses more than maxEventCount with 413", async function () {
      const { names } = await allPages(`/epcis/events?${scope}&perPage=2&orderBy=recordTime&orderDirection=ASC&eventCountLimit=3`);
      expect(names).to.deep.equal(["E1", "E2", "E3"]);
      const tooMany = await get(node, `/epcis/events?${scope}&maxEventCount=3`);
      expectProblem(tooMany, 413, "query_too_large");
      expect(tooMany.body.type).to.equal("epcisException:QueryTooLargeException");
      expect(eventsOf(await get(node, `/epcis/events?${scope}&maxEventCount=7`))).to.have.length(7);
    });

    it("refuses a nextPageToken replayed against another query, or made up", async function () {
      const res = await get(node, `/epcis/events?${scope}&perPage=2&orderDirection=ASC`);
      const token = new URL(/^<([^>]+)>/.exec(res.headers.get("link")!)![1]).searchParams.get("nextPageToken")!;
      expectProblem(
        await get(node, `/epcis/events?${scope}&orderDirection=ASC&eventType=ObjectEvent&nextPageToken=${token}`),
        400,
        "invalid_query_parameter",
      );
      expectProblem(await get(node, `/epcis/events?${scope}&nextPageToken=bm9wZQ`), 400, "invalid_query_parameter");
      // The same query with another page size may go on with it.
      expect(
        eventsOf(await get(node, `/epcis/events?${scope}&perPage=5&orderDirection=ASC&nextPageToken=${token}`)).map((e) => nameOf(e.eventID)),
      ).to.deep.equal(["E3", "E4", "E5", "E6", "E7"]);
    });
  });

  describe("error declarations", function () {
    const original = { ...E.E1, eventID: id(), epcList: [`urn:epc:id:sgtin:${GCP}.0${R}.2001`] };
    const corrective = { ...original, eventID: id(), bizStep: "decommissioning" };
    const declaration = {
      ...original,
      errorDeclaration: {
        declarationTime: "2024-03-09T12:00:00.000Z",
        reason: "did_not_occur",
        correctiveEventIDs: [corrective.eventID],
      },
    };
    let window: string;

    before(async function () {
      const from = new Date().toISOString();
      const job = await captureAndWait(node, await agentToken(node), epcisDocument([original, declaration, corrective], CONTEXT));
      expect(job).to.include({ stored: 3, success: true });
      window = `GE_recordTime=${from}&LT_recordTime=${new Date(Date.now() + 1).toISOString()}`;
    });

    const kinds = async (query: string) =>
      eventsOf(await get(node, `/epcis/events?${window}&orderDirection=ASC&${query}`)).map((e) =>
        e.errorDeclaration ? "declaration" : e.eventID === corrective.eventID ? "corrective" : "original",
      );

    it("EXISTS_errorDeclaration selects the error declarations only", async function () {
      expect(await kinds("")).to.deep.equal(["original", "declaration", "corrective"]);
      expect(await kinds("EXISTS_errorDeclaration")).to.deep.equal(["declaration"]);
    });

    it("EQ_errorReason, EQ_correctiveEventID and GE_/LT_errorDeclarationTime find the declaration", async function () {
      expect(await kinds("EQ_errorReason=did_not_occur")).to.deep.equal(["declaration"]);
      expect(await kinds("EQ_errorReason=urn:epcglobal:cbv:er:incorrect_data")).to.deep.equal([]);
      expect(await kinds(`EQ_correctiveEventID=${corrective.eventID}`)).to.deep.equal(["declaration"]);
      expect(await kinds("GE_errorDeclarationTime=2024-03-09T12:00:00Z")).to.deep.equal(["declaration"]);
      expect(await kinds("LT_errorDeclarationTime=2024-03-09T12:00:00Z")).to.deep.equal([]);
    });

    it("GET /epcis/events/{eventID} answers the event with its error declaration", async function () {
      expect(
        eventsOf(await get(node, `/epcis/events/${encodeURIComponent(original.eventID)}`)).map((e) =>
          Boolean(e.errorDeclaration),
        ),
      ).to.deep.equal([false, true]);
    });
  });

  describe("vocabulary resources", function () {
    it("GET /epcis/eventTypes lists the five EPCIS event types", async function () {
      const res = await get(node, "/epcis/eventTypes");
      expect(res.status, res.text).to.equal(200);
      expect(res.body).to.deep.include({ type: "Collection" });
      expect(res.body.member).to.include.members([
        "ObjectEvent",
        "AggregationEvent",
        "TransactionEvent",
        "TransformationEvent",
        "AssociationEvent",
      ]);
    });

    it("GET /epcis/bizSteps lists the CBV business steps and the others captured, paged", async function () {
      const names: string[] = [];
      let path: string | null = "/epcis/bizSteps?perPage=20";
      while (path) {
        const res: ApiResponse = await get(node, path);
        expect(res.status, res.text).to.equal(200);
        expect(res.body.member.length).to.be.at.most(20);
        names.push(...res.body.member);
        const next = /^<([^>]+)>; rel="next"$/.exec(res.headers.get("link") ?? "");
        path = next ? next[1].replace(node.url, "") : null;
      }
      expect(names).to.include.members(["shipping", "commissioning", "sensor_reporting", customBizStep]);
      expect(names).to.not.include("https://ref.gs1.org/cbv/BizStep-shipping");
      expect(new Set(names).size).to.equal(names.length);
    });
  });
});
