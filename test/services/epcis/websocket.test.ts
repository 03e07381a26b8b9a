import crypto from "node:crypto";
import { expect } from "chai";
import type { TestNode } from "../../helpers/node";
import { connect, refusal, type Client } from "../../helpers/ws";
import { documentEvents, eventHashId } from "../../../services/epcis/hash";
import { bearer, getAnonymous as get, post, sharedNode } from "../api/helpers";
import { agentToken, captureAndWait, epcisDocument } from "./helpers";

/**
 * The binding's WebSocket subscriptions (GET /epcis/queries/{queryName}/events with Upgrade), with
 * real `ws` clients against the shared node: stream and schedule reports of newly stored events,
 * only those the subscriber may read, each serving its events so their hash IDs recompute; refusals
 * answered before any upgrade.
 */
describe("EPCIS subscriptions (WebSocket)", function () {
  this.timeout(60_000);
  const R = String(crypto.randomInt(10_000, 99_999));
  const epc = (n: number) => `urn:epc:id:sgtin:4012345.0${R}.${n}`;
  const event = (n: number, bizStep: string, extra: Record<string, unknown> = {}) => ({
    type: "ObjectEvent",
    eventID: `urn:uuid:${crypto.randomUUID()}`,
    eventTime: "2024-07-01T10:00:00.000Z",
    eventTimeZoneOffset: "+00:00",
    epcList: [epc(n)],
    action: "OBSERVE",
    bizStep,
    ...extra,
  });
  const QUERY = `ws-${R}`;
  const definition = { MATCH_epc: [`urn:epc:idpat:sgtin:4012345.0${R}.*`], EQ_bizStep: ["shipping"] };
  const json = (t: string) => ({ "content-type": "application/json", ...bearer(t) });
  const tokens: Record<string, string> = {};
  const open: Client[] = [];
  let node: TestNode;

  const subscribe = async (key: string, query: string, options: { protocols?: boolean; name?: string } = {}) => {
    const path = `/epcis/queries/${options.name ?? QUERY}/events?${query}`;
    const client = await connect(
      node.url,
      path,
      options.protocols ? { protocols: ["lotline", `lotline.bearer.${tokens[key]}`] } : { headers: bearer(tokens[key]) },
    );
    open.push(client);
    return client;
  };
  const eventsIn = (message: string) => {
    const doc = JSON.parse(message);
    expect(doc.type).to.equal("EPCISQueryDocument");
    return { doc, events: documentEvents(doc) };
  };
  const storedHash = (eventID: string) =>
    (node.db.prepare(`SELECT hash_id FROM epcis_events WHERE event_id = ?`).get(eventID) as { hash_id: string }).hash_id;

  before(async function () {
    node = await sharedNode();
    for (const key of ["producer", "auditor", "certifier"]) {
      tokens[key] = await agentToken(node, key);
      // Named queries belong to an organisation: each subscriber has its own under the same name.
      const res = await post(node, "/epcis/queries", { name: QUERY, query: definition }, json(tokens[key]));
      expect(res.status, res.text).to.equal(201);
    }
  });

  after(function () {
    for (const client of open) client.ws.terminate();
  });

  describe("refusals, before any upgrade", function () {
    it("refuses an unauthenticated upgrade (401) and one with an unknown token", async function () {
      const anonymous = await refusal(node.url, `/epcis/queries/${QUERY}/events?stream=true`);
      expect(anonymous.status).to.equal(401);
      expect(anonymous.body.code).to.equal("unauthorized");
      const forged = await refusal(node.url, `/epcis/queries/${QUERY}/events?stream=true`, {
        protocols: ["lotline", `lotline.bearer.${crypto.randomBytes(32).toString("base64url")}`],
      });
      expect(forged.status).to.equal(401);
    });

    it("refuses a token offered as a subprotocol without the lotline subprotocol (the server would have to echo the token)", async function () {
      const res = await refusal(node.url, `/epcis/queries/${QUERY}/events?stream=true`, {
        protocols: [`lotline.bearer.${tokens.producer}`],
      });
      expect(res.status).to.equal(400);
      expect(res.body.code).to.equal("invalid_upgrade");
    });

    it("refuses an upgrade to a query name the member's organisation does not have (another's is not reachable)", async function () {
      const res = await refusal(node.url, `/epcis/queries/nothing-${R}/events?stream=true`, {
        headers: bearer(tokens.certifier),
      });
      expect(res.status).to.equal(404);
      expect(res.body.code).to.equal("query_not_found");
    });

    it("refuses stream and schedule together, neither, and a schedule out of range", async function () {
      const at = (q: string) => refusal(node.url, `/epcis/queries/${QUERY}/events?${q}`, { headers: bearer(tokens.producer) });
      expect((await at("stream=true&minute=5")).body.code).to.equal("invalid_subscription");
      expect((await at("reportIfEmpty=true")).body.code).to.equal("invalid_subscription");
      expect((await at("hour=24")).body.code).to.equal("invalid_schedule");
      expect((await at("stream=true&perPage=5")).body.code).to.equal("invalid_query_parameter");
    });

    it("refuses subscription parameters on a plain GET by name instead of ignoring them", async function () {
      const res = await get(node, `/epcis/queries/${QUERY}/events?stream=true`, bearer(tokens.producer));
      expect(res.status).to.equal(400);
      expect(res.body.type).to.equal("epcisException:QueryParameterException");
      expect(res.body.detail).to.match(/stream subscribes to the query over a WebSocket/);
    });
  });

  describe("stream", function () {
    let producer: Client;
    let auditor: Client;
    let rival: Client;

    before(async function () {
      producer = await subscribe("producer", "stream=true");
      // A browser's way: the token as a subprotocol; the server selects "lotline".
      auditor = await subscribe("auditor", "stream=true", { protocols: true });
      rival = await subscribe("certifier", "stream=true");
    });

    it("selects the lotline subprotocol and announces GS1-Query-Min-Record-Time", function () {
      expect(auditor.ws.protocol).to.equal("lotline");
      expect(producer.ws.protocol).to.equal("");
      expect(Date.parse(String(producer.headers["gs1-query-min-record-time"]))).to.be.closeTo(Date.now(), 60_000);
      expect(producer.headers["gs1-epcis-version"]).to.equal("2.0.0");
    });

    it("pushes each newly captured event the query selects, as an EPCIS query document whose hash IDs recompute", async function () {
      const [match, other] = [event(1, "shipping"), event(2, "receiving")];
      await captureAndWait(node, tokens.producer, epcisDocument([match, other]));
      const { doc, events } = eventsIn(await producer.next());
      expect(doc.epcisBody.queryResults.queryName).to.equal(QUERY);
      expect(doc.epcisBody.queryResults.subscriptionID).to.be.a("string");
      expect(events.map((e) => e.event.eventID)).to.deep.equal([match.eventID]);
      expect(eventHashId(events[0].event, events[0].context)).to.equal(storedHash(match.eventID));
      // A grantee (the auditor, whom the producer granted all its records) gets it too.
      const granted = eventsIn(await auditor.next());
      expect(granted.events.map((e) => e.event.eventID)).to.deep.equal([match.eventID]);
    });

    it("refuses to push a rival's capture to a member it did not grant: the member gets its own events only", async function () {
      const secret = event(3, "shipping");
      await captureAndWait(node, tokens.producer, epcisDocument([secret]));
      expect(eventsIn(await producer.next()).events.map((e) => e.event.eventID)).to.deep.equal([secret.eventID]);
      // Reports go out to every socket in one pass: once the rival's socket has answered a ping sent
      // after the producer's report arrived, anything meant for it would have arrived before.
      await rival.roundTrip();
      const own = event(4, "shipping");
      await captureAndWait(node, tokens.certifier, epcisDocument([own]));
      const first = eventsIn(await rival.next());
      expect(first.events.map((e) => e.event.eventID)).to.deep.equal([own.eventID]);
      expect(rival.messages.join("")).to.not.include(secret.eventID);
    });

    it("ends the socket when its named query is deleted", async function () {
      const name = `gone-${R}`;
      expect((await post(node, "/epcis/queries", { name, query: definition }, json(tokens.producer))).status).to.equal(201);
      const client = await subscribe("producer", "stream=true", { name });
      const res = await fetch(`${node.url}/epcis/queries/${name}`, { method: "DELETE", headers: bearer(tokens.producer) });
      expect(res.status).to.equal(204);
      expect(await client.closed).to.deep.include({ code: 4404 });
    });
  });

  describe("schedule", function () {
    const from = new Date().toISOString();
    // Two documents defining the prefix "ex" differently: one report holds events of both.
    const [a, b] = [event(5, "shipping", { "ex:note": "a" }), event(6, "shipping", { "ex:note": "b" })];

    before(async function () {
      await captureAndWait(node, tokens.producer, epcisDocument([a], [{ ex: "https://a.example/ns/" }]));
      await captureAndWait(node, tokens.producer, epcisDocument([b], [{ ex: "https://b.example/ns/" }]));
    });

    it("reports at the schedule's times what was stored since initialRecordTime, each event keeping its meaning", async function () {
      const client = await subscribe(
        "producer",
        `second=${encodeURIComponent("[0-59]")}&initialRecordTime=${encodeURIComponent(from)}`,
      );
      expect(client.headers["gs1-query-min-record-time"]).to.equal(from);
      const { doc, events } = eventsIn(await client.next());
      const ids = events.map((e) => e.event.eventID);
      // The page's context is one document's: the events of another document carry their own.
      const listed = doc.epcisBody.queryResults.resultsBody.eventList as Record<string, unknown>[];
      expect(listed.filter((e) => (e.eventID === a.eventID || e.eventID === b.eventID) && "@context" in e)).to.not.be.empty;
      expect(ids).to.include.members([a.eventID, b.eventID]);
      for (const e of events)
        expect(eventHashId(e.event, e.context), String(e.event.eventID)).to.equal(storedHash(String(e.event.eventID)));
      client.ws.close();
    });

    it("sends empty scheduled reports with reportIfEmpty", async function () {
      const client = await subscribe("certifier", `second=${encodeURIComponent("[0-59]")}&reportIfEmpty=true`);
      const { doc, events } = eventsIn(await client.next());
      expect(events).to.deep.equal([]);
      expect(doc.epcisBody.queryResults.queryName).to.equal(QUERY);
      client.ws.close();
    });
  });
});
