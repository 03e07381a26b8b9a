import crypto from "node:crypto";
import { expect } from "chai";
import type { TestNode } from "../../helpers/node";
import { connect, refusal, type Client } from "../../helpers/ws";
import { deliveryJobFor } from "../../../services/delivery/job";
import { bearer, expectProblem, getAnonymous as get, sharedNode } from "../api/helpers";
import { agentToken, captureAndWait, epcisDocument } from "../epcis/helpers";

/**
 * Lotline notifications over a WebSocket (GET /api/v1/subscriptions/stream), with real `ws` clients
 * against the shared node: the notifications of the member's organisation, of the topics it asked
 * for, pushed as the delivery job fans them out; nobody else's.
 */
describe("notifications (WebSocket)", function () {
  this.timeout(60_000);
  const R = String(crypto.randomInt(10_000, 99_999));
  const tokens: Record<string, string> = {};
  const open: Client[] = [];
  let node: TestNode;

  const stream = async (key: string, query = "", protocols = false) => {
    const path = `/api/v1/subscriptions/stream${query}`;
    const client = await connect(
      node.url,
      path,
      protocols ? { protocols: ["lotline", `lotline.bearer.${tokens[key]}`] } : { headers: bearer(tokens[key]) },
    );
    open.push(client);
    return client;
  };
  const round = async () => {
    // A round already under way (the node's job loop) may predate what the test just did: run again after it.
    await deliveryJobFor(node.db).runOnce();
    await deliveryJobFor(node.db).runOnce();
  };
  const doc = (n: number) =>
    epcisDocument([
      {
        type: "ObjectEvent",
        eventTime: "2024-07-01T10:00:00.000Z",
        eventTimeZoneOffset: "+00:00",
        epcList: [`urn:epc:id:sgtin:4012345.1${R}.${n}`],
        action: "OBSERVE",
        bizStep: "inspecting",
      },
    ]);

  before(async function () {
    node = await sharedNode();
    for (const key of ["producer", "certifier"]) tokens[key] = await agentToken(node, key);
  });

  after(function () {
    for (const client of open) client.ws.terminate();
  });

  it("refuses an unauthenticated upgrade (401) before opening any socket", async function () {
    const res = await refusal(node.url, "/api/v1/subscriptions/stream");
    expect(res.status).to.equal(401);
    expect(res.body.code).to.equal("unauthorized");
  });

  it("refuses a plain GET (426) and topics that are not Lotline's (400)", async function () {
    expectProblem(await get(node, "/api/v1/subscriptions/stream", bearer(tokens.producer)), 426, "upgrade_required");
    const res = await refusal(node.url, "/api/v1/subscriptions/stream?topics=recall,everything", {
      headers: bearer(tokens.producer),
    });
    expect(res.status).to.equal(400);
    expect(res.body.code).to.equal("invalid_topics");
  });

  it("pushes {topic, type, at, data} for the member's organisation as the delivery job fans it out, the topics it asked for only", async function () {
    const captures = await stream("producer", "?topics=capture,grant", true);
    const recalls = await stream("producer", "?topics=recall");
    const job = await captureAndWait(node, tokens.producer, doc(1));
    await round();
    const message = JSON.parse(await captures.next());
    expect(Object.keys(message)).to.deep.equal(["topic", "type", "at", "data"]);
    expect(message).to.deep.include({ topic: "capture", type: "capture_finished" });
    expect(message.data).to.deep.include({
      captureId: job.captureID,
      success: true,
      stored: 1,
      location: `/epcis/capture/${job.captureID}`,
    });
    // The fan-out writes to every socket in one pass: a ping answered after it shows nothing came.
    await recalls.roundTrip();
    expect(recalls.messages).to.deep.equal([]);
  });

  it("refuses to push another organisation's notifications: a rival subscribed to every topic gets its own only", async function () {
    const rival = await stream("certifier");
    const producer = await stream("producer", "?topics=capture");
    const theirs = await captureAndWait(node, tokens.producer, doc(2));
    await round();
    expect(JSON.parse(await producer.next()).data.captureId).to.equal(theirs.captureID);
    await rival.roundTrip();
    expect(rival.messages).to.deep.equal([]);
    const own = await captureAndWait(node, tokens.certifier, doc(3));
    await round();
    const message = JSON.parse(await rival.next());
    expect(message.data.captureId).to.equal(own.captureID);
    expect(rival.messages.join("")).to.not.include(theirs.captureID);
  });

  it("closes the socket (4401) once its session has ended, and sends nothing more on it", async function () {
    const token = await agentToken(node, "producer");
    const client = await connect(node.url, "/api/v1/subscriptions/stream", { headers: bearer(token) });
    open.push(client);
    // The session ends (as at its 15-minute expiry): the next round closes the socket.
    const hash = crypto.createHash("sha256").update(token).digest("hex");
    node.db.prepare(`UPDATE sessions SET expires_at = 0 WHERE token_hash = ?`).run(hash);
    await round();
    expect(await client.closed).to.deep.include({ code: 4401 });
    expect(client.messages).to.deep.equal([]);
  });
});
