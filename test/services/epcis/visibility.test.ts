import crypto from "node:crypto";
import { expect } from "chai";
import type { TestNode } from "../../helpers/node";
import { demoWallet } from "../../../services/demo/roster";
import { gs1CheckDigit } from "../../../services/epcis/hash";
import { lotIdOf } from "../../../services/epcis/mapping/plan";
import { RECORD_CLASSES, scopeToChain, type Scope } from "../../../services/sharing/grants";
import { bearer, expectProblem, getAnonymous as get, sharedNode, tokenFor, type ApiResponse } from "../api/helpers";
import { agentToken, captureAndWait, epcisDocument, eventsOf } from "./helpers";

/**
 * EPCIS event contents are owner-and-grantees records (class EPCIS): the organisation that captured
 * an event reads it, and so do the organisations it granted EPCIS records by an on-chain grant in
 * force whose scope covers the event (the batches it names). The public reads none of it (401) but
 * may see an event's proof. Each rule: allowed and refused; the refusals are attacks by members.
 */
const ORG = { producer: 1, processor: 2, processor2: 3, carrier: 4, distributor: 5, certifier: 8 } as const;
const R = String(crypto.randomInt(10_000, 99_999));
const gtin = (n: number) => {
  const body = `0401234${R}${n}`;
  return body + gs1CheckDigit(body);
};
const G1 = gtin(1);
const G2 = gtin(2);
const lotDl = (g: string, lot: string) => `https://id.gs1.org/01/${g}/10/${lot}`;
const SECRET_STEP = `https://lotline.example/bizstep/secret-${R}`;
const id = () => `urn:uuid:${crypto.randomUUID()}`;

function event(extra: Record<string, unknown>): Record<string, unknown> {
  return {
    type: "ObjectEvent",
    eventID: id(),
    eventTime: "2024-05-01T10:00:00.000Z",
    eventTimeZoneOffset: "+00:00",
    action: "OBSERVE",
    bizStep: "inspecting",
    ...extra,
  };
}

// V1 names a lot of G1 (with a business step only its readers may learn), V2 a lot of G2, V3 no lot.
const V1 = event({ quantityList: [{ epcClass: lotDl(G1, `A${R}`), quantity: 5, uom: "KGM" }], bizStep: SECRET_STEP });
const V2 = event({ quantityList: [{ epcClass: lotDl(G2, `B${R}`), quantity: 7, uom: "KGM" }] });
const V3 = event({ epcList: [`urn:epc:id:sgtin:4012345.0${R}.77`] });
const ALL = [V1, V2, V3];
const ids = (...events: Record<string, unknown>[]) => events.map((e) => e.eventID as string);

describe("EPCIS visibility: event contents for their owner and grantees", function () {
  this.timeout(120_000);
  let node: TestNode;
  const tokens: Record<string, string> = {};

  async function grant(grantor: number, grantee: number, classes: number, scope: Scope): Promise<bigint> {
    const registry = node.contracts.sharing.connect(demoWallet(grantor, node.provider));
    const chainScope = scopeToChain(scope);
    const expires = Math.floor(Date.now() / 1000) + 86_400;
    const receipt = await (await registry.grant(grantee, classes, chainScope.kind, chainScope.value, expires)).wait();
    const log = receipt!.logs.map((l) => registry.interface.parseLog(l)).find((l) => l?.name === "GrantIssued");
    return log!.args.grantId as bigint;
  }

  before(async function () {
    node = await sharedNode();
    tokens.producer = await agentToken(node);
    expect(await captureAndWait(node, tokens.producer, epcisDocument(ALL))).to.include({ success: true, stored: 3 });
    await grant(ORG.producer, ORG.processor, RECORD_CLASSES.EPCIS, { kind: "all", value: null });
    await grant(ORG.producer, ORG.processor2, RECORD_CLASSES.EPCIS, { kind: "gtin", value: G1 });
    await grant(ORG.producer, ORG.carrier, RECORD_CLASSES.EPCIS, { kind: "lot", value: lotIdOf(G2, `B${R}`) });
    await grant(ORG.producer, ORG.distributor, RECORD_CLASSES.PRODUCTION_RUN, { kind: "all", value: null });
    const revoked = await grant(ORG.producer, ORG.distributor, RECORD_CLASSES.EPCIS, { kind: "all", value: null });
    await (await node.contracts.sharing.connect(demoWallet(ORG.producer, node.provider)).revoke(revoked)).wait();
    // Organisation 3 shares its own events with the certifier: that says nothing about the producer's.
    await grant(ORG.processor2, ORG.certifier, RECORD_CLASSES.EPCIS, { kind: "all", value: null });
    await node.synced();
    for (const key of ["processor", "processor2", "carrier", "distributor", "certifier"] as const) {
      tokens[key] = await tokenFor(node, demoWallet(ORG[key]));
    }
  });

  const query = (who: string | null, extra = "") =>
    get(node, `/epcis/events?EQ_eventID=${ids(...ALL).join("|")}&orderDirection=ASC${extra}`, who ? bearer(tokens[who]) : {});
  const readable = async (who: string, extra = "") => eventsOf(await query(who, extra)).map((e) => e.eventID);
  const byId = (who: string | null, e: Record<string, unknown>, suffix = "") =>
    get(node, `/epcis/events/${encodeURIComponent(e.eventID as string)}${suffix}`, who ? bearer(tokens[who]) : {});

  describe("the public", function () {
    it("gets 401 on every route serving event contents", async function () {
      const e = encodeURIComponent(V1.eventID as string);
      const paths = [
        `/epcis/events`,
        `/epcis/events/${e}`,
        `/epcis/events/${e}/links`,
        `/epcis/events/${e}/mapping`,
        `/epcis/epcs/${encodeURIComponent(lotDl(G1, `A${R}`))}/events`,
        `/api/v1/orders/1/epcis-events`,
      ];
      for (const path of paths) {
        const res: ApiResponse = await get(node, path);
        expectProblem(res, 401, "unauthorized");
      }
    });

    it("still gets an event's proof: whether it is anchored, not what it says", async function () {
      const res = await get(node, `/epcis/events/${encodeURIComponent(V1.eventID as string)}/proof`);
      expect(res.status, res.text).to.equal(200);
      expect(res.body).to.have.keys("recordId", "eventHash", "leaf", "merkleRoot", "proof", "transactionHash", "blockNumber", "status", "anchoredBy", "verified");
    });

    it("sees only the standard vocabularies, never a business step captured by a member", async function () {
      const res = await get(node, "/epcis/bizSteps?perPage=1000");
      expect(res.status, res.text).to.equal(200);
      expect(res.body.member).to.include("shipping").and.not.include(SECRET_STEP);
    });
  });

  describe("the owner", function () {
    it("reads its own events in queries, by eventID and their links", async function () {
      expect(await readable("producer")).to.deep.equal(ids(...ALL));
      expect(eventsOf(await byId("producer", V3)).map((e) => e.eventID)).to.deep.equal(ids(V3));
      expect((await byId("producer", V3, "/links")).status).to.equal(200);
      expect((await get(node, "/epcis/bizSteps?perPage=1000", bearer(tokens.producer))).body.member).to.include(SECRET_STEP);
    });
  });

  describe("grantees", function () {
    it("a grant of EPCIS records with scope all: reads every event of the owner", async function () {
      expect(await readable("processor")).to.deep.equal(ids(...ALL));
      expect(eventsOf(await byId("processor", V3))).to.have.length(1);
    });

    it("a grant scoped to a GTIN: reads the events naming a lot of the GTIN, and no other", async function () {
      expect(await readable("processor2")).to.deep.equal(ids(V1));
      expect(eventsOf(await byId("processor2", V1))).to.have.length(1);
      expectProblem(await byId("processor2", V2), 404, "event_not_found");
      expect((await get(node, "/epcis/bizSteps?perPage=1000", bearer(tokens.processor2))).body.member).to.include(SECRET_STEP);
    });

    it("a grant scoped to a lot: reads the events naming the lot, and no other", async function () {
      expect(await readable("carrier")).to.deep.equal(ids(V2));
      expectProblem(await byId("carrier", V1), 404, "event_not_found");
      expectProblem(await byId("carrier", V1, "/links"), 404, "event_not_found");
      expectProblem(await byId("carrier", V1, "/mapping"), 404, "event_not_found");
    });

    it("pages and counts only what the reader may read (perPage, maxEventCount)", async function () {
      const first = await query("processor2", "&perPage=1");
      expect(eventsOf(first).map((e) => e.eventID)).to.deep.equal(ids(V1));
      expect(first.headers.get("link")).to.equal(null);
      expect(eventsOf(await query("carrier", "&maxEventCount=1"))).to.have.length(1);
      expectProblem(await query("processor", "&maxEventCount=2"), 413, "query_too_large");
    });
  });

  describe("attacks by members", function () {
    it("attack: a member without a grant finds none of the owner's events, and gets the 404 of an unknown event by eventID", async function () {
      expect(await readable("certifier")).to.deep.equal([]);
      const res = await byId("certifier", V1);
      expectProblem(res, 404, "event_not_found");
      const unknown = await get(node, `/epcis/events/${encodeURIComponent(id())}`, bearer(tokens.certifier));
      expect(res.body.detail.replace(V1.eventID as string, "X")).to.equal(unknown.body.detail.replace(/urn:uuid:[0-9a-f-]+/, "X"));
      expect((await get(node, "/epcis/bizSteps?perPage=1000", bearer(tokens.certifier))).body.member).to.not.include(SECRET_STEP);
      expectProblem(await get(node, `/epcis/events/${encodeURIComponent(V1.eventID as string)}/mapping`, bearer(tokens.certifier)), 404, "event_not_found");
    });

    it("attack: a grant of another record class (PRODUCTION_RUN) does not open EPCIS events", async function () {
      expect(await readable("distributor")).to.deep.equal([]);
    });

    it("attack: a revoked EPCIS grant opens nothing", async function () {
      expectProblem(await byId("distributor", V2), 404, "event_not_found");
    });

    it("attack: another organisation's grant does not open the owner's events", async function () {
      expect(await readable("certifier", "&GE_recordTime=2000-01-01T00:00:00Z")).to.deep.equal([]);
    });

    it("attack: a forged or expired session is refused (401), not read as the public", async function () {
      expectProblem(await get(node, "/epcis/events", bearer("not-a-token")), 401);
    });
  });
});
