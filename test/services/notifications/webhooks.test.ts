import crypto from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { expect } from "chai";
import type { TestNode } from "../../helpers/node";
import { deliveryJobFor } from "../../../services/delivery/job";
import { verifySignature } from "../../../services/delivery/outbox";
import { HANDOVER_KINDS } from "../../../services/provenance/acceptance";
import { DEMO_GOODS } from "../../../services/demo/supply-chain";
import { DEMO_MEMBERS, demoWallet } from "../../../services/demo/roster";
import { scopeToChain } from "../../../services/sharing/grants";
import { bearer, expectProblem, get, post, sharedNode } from "../api/helpers";
import { agentToken, captureAndWait, epcisDocument } from "../epcis/helpers";

/**
 * Lotline notifications end to end on the shared demo node: a member subscribes a real local HTTP
 * receiver, chain events and capture jobs concern it, the node's delivery job POSTs signed
 * {topic, type, at, data} bodies, and each goes to the member it concerns and to nobody else.
 */
const orgOf = (key: string) => DEMO_MEMBERS.findIndex((m) => m.key === key) + 1;
const wallet = (key: string, node: TestNode) => demoWallet(DEMO_MEMBERS.find((m) => m.key === key)!.account, node.provider);

describe("notifications (webhooks)", function () {
  this.timeout(120_000);
  const R = crypto.randomBytes(4).toString("hex");
  const received: { path: string; headers: http.IncomingHttpHeaders; body: string }[] = [];
  const secrets: Record<string, string> = {};
  const ids: Record<string, string> = {};
  const tokens: Record<string, string> = {};
  let server: http.Server;
  let base: string;
  let node: TestNode;
  let previousEnv: string | undefined;
  const json = (t: string) => ({ "content-type": "application/json", ...bearer(t) });
  const at = (path: string) =>
    received
      .filter((r) => r.path === path)
      .map((r) => ({
        ...r,
        json: JSON.parse(r.body) as { topic: string; type: string; at: string; data: Record<string, unknown> },
      }));
  const settle = async () => {
    await node.synced();
    await deliveryJobFor(node.db).runOnce();
    await deliveryJobFor(node.db).runOnce();
  };
  const send = async (tx: Promise<{ wait(): Promise<unknown> }>) => (await tx).wait();

  async function subscribe(key: string, topics: string[]) {
    secrets[key] = crypto.randomBytes(24).toString("hex");
    const res = await post(
      node,
      "/api/v1/subscriptions",
      { url: `${base}/${key}`, topics, secret: secrets[key] },
      json(tokens[key]),
    );
    expect(res.status, res.text).to.equal(201);
    ids[key] = res.body.id;
    return res;
  }

  before(async function () {
    previousEnv = process.env.LOTLINE_WEBHOOK_ALLOW_PRIVATE;
    process.env.LOTLINE_WEBHOOK_ALLOW_PRIVATE = "1";
    server = http.createServer((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        received.push({ path: req.url ?? "", headers: req.headers, body });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    node = await sharedNode();
    for (const key of ["producer", "processor", "certifier", "retailer"]) tokens[key] = await agentToken(node, key);
    await subscribe("producer", ["capture", "grant", "offer", "recall"]);
    await subscribe("processor", ["offer", "recall"]);
    await subscribe("retailer", ["grant"]);
    // The rival: a member subscribed to every topic, concerned by none of what follows.
    await subscribe("certifier", ["recall", "offer", "order", "grant", "capture"]);
    // What happened before a subscription existed is not sent to it.
    await settle();
    received.length = 0;
  });

  after(async function () {
    if (previousEnv === undefined) delete process.env.LOTLINE_WEBHOOK_ALLOW_PRIVATE;
    else process.env.LOTLINE_WEBHOOK_ALLOW_PRIVATE = previousEnv;
    await new Promise((resolve) => server.close(resolve));
  });

  it("shows a subscription without its secret, and lists only the organisation's own", async function () {
    const mine = await get(node, "/api/v1/subscriptions", bearer(tokens.producer));
    expect(mine.status, mine.text).to.equal(200);
    expect(mine.body.items.map((s: { id: string }) => s.id))
      .to.include(ids.producer)
      .and.not.include(ids.certifier);
    expect(mine.text).to.not.include(secrets.producer);
    const one = await get(node, `/api/v1/subscriptions/${ids.producer}`, bearer(tokens.producer));
    expect(one.body).to.include({ id: ids.producer, orgId: String(orgOf("producer")), url: `${base}/producer` });
    expect(one.body).to.not.have.property("secret");
  });

  it("delivers a finished capture job to the capturing member only, signed with its secret", async function () {
    const doc = epcisDocument([
      {
        type: "ObjectEvent",
        eventID: `urn:uuid:${crypto.randomUUID()}`,
        eventTime: "2024-07-01T10:00:00.000Z",
        eventTimeZoneOffset: "+00:00",
        epcList: [`urn:epc:id:sgtin:4012345.011111.N${R}`],
        action: "OBSERVE",
      },
    ]);
    const capture = await captureAndWait(node, tokens.producer, doc);
    await settle();
    const got = at("/producer").filter((r) => r.json.topic === "capture");
    expect(got).to.have.length(1);
    expect(verifySignature(secrets.producer, got[0].body, got[0].headers["x-lotline-signature"] as string)).to.equal(true);
    expect(got[0].headers["x-lotline-signature"]).to.match(/^sha256=[0-9a-f]{64}$/);
    expect(got[0].json).to.have.keys("topic", "type", "at", "data");
    expect(got[0].json).to.include({ topic: "capture", type: "capture_finished" });
    expect(got[0].json.data).to.include({ captureId: capture.captureID, success: true, stored: 1 });
    expect(at("/certifier")).to.deep.equal([]);
  });

  it("delivers a grant issued and revoked to its grantor and grantee, not to a third member", async function () {
    const registry = node.contracts.sharing.connect(wallet("producer", node));
    // Revoked within this test: no lasting grant on the shared node.
    const scope = scopeToChain({ kind: "gtin", value: DEMO_GOODS.rawMilk });
    const receipt = await (
      await registry.grant(orgOf("retailer"), 1, scope.kind, scope.value, Math.floor(Date.now() / 1000) + 3_600)
    ).wait();
    const grantId = (
      receipt!.logs.map((l) => registry.interface.parseLog(l)).find((l) => l?.name === "GrantIssued")!.args.grantId as bigint
    ).toString();
    await send(registry.revoke(grantId));
    await settle();
    for (const key of ["producer", "retailer"]) {
      const got = at(`/${key}`).filter((r) => r.json.topic === "grant" && r.json.data.grantId === grantId);
      expect(
        got.map((r) => r.json.type),
        key,
      ).to.deep.equal(["grant_issued", "grant_revoked"]);
      expect(got[0].json.data).to.include({ grantorOrgId: String(orgOf("producer")), granteeOrgId: String(orgOf("retailer")) });
      expect(verifySignature(secrets[key], got[1].body, got[1].headers["x-lotline-signature"] as string), key).to.equal(true);
    }
    expect(at("/certifier")).to.deep.equal([]);
  });

  it("attack: a member does not receive a rival's offers; the member offered does, and every recall reaching its batch", async function () {
    const provenance = (key: string) => node.contracts.provenance.connect(wallet(key, node));
    const lot = `NTF-${R}`;
    const gtin = BigInt(DEMO_GOODS.rawMilk);
    await send(
      provenance("producer").registerLots([{ gtin, lot, quantity: 5_000n, gln: "", metadataHash: `0x${"00".repeat(32)}` }]),
    );
    const batchId = (await node.contracts.provenance.lotId(gtin, lot)).toLowerCase();
    await send(provenance("producer").offer(batchId, 5_000n, orgOf("processor"), HANDOVER_KINDS.both));
    await settle();
    const offers = at("/processor").filter((r) => r.json.topic === "offer");
    expect(offers).to.have.length(1);
    expect(offers[0].json).to.include({ type: "handover_offered" });
    expect(offers[0].json.data).to.include({ batchId, fromOrgId: String(orgOf("producer")), kind: "both", quantity: "5000" });
    // The offer concerns the processor: neither the rival nor the offering producer gets it.
    expect(at("/certifier")).to.deep.equal([]);
    expect(at("/producer").filter((r) => r.json.topic === "offer")).to.deep.equal([]);

    await send(provenance("processor").accept(batchId, 5_000n, HANDOVER_KINDS.both, ""));
    // Recalled, withdrawn, recalled again: each reaches the processor, which owns and holds the lot now.
    await send(provenance("producer").recall(batchId, `test recall ${R}`));
    await send(provenance("producer").withdrawRecall(batchId, "false alarm"));
    await send(provenance("producer").recall(batchId, `second recall ${R}`));
    await settle();
    const recalls = at("/processor").filter((r) => r.json.topic === "recall" && r.json.data.batchId === batchId);
    expect(recalls.map((r) => r.json.type)).to.deep.equal(["recalled", "recall_withdrawn", "recalled"]);
    expect(recalls[0].json.data.batches).to.deep.equal([{ batchId, gtin: DEMO_GOODS.rawMilk, lot, owned: true, held: true }]);
    expect(recalls[2].json.data).to.include({ reason: `second recall ${R}`, byOrgId: String(orgOf("producer")) });
    // The producer gave the whole lot away: no batch of its own is in the recall's impact.
    expect(at("/producer").filter((r) => r.json.topic === "recall")).to.deep.equal([]);
    expect(at("/certifier")).to.deep.equal([]);
  });

  it("logs each delivery of a subscription; another organisation can neither read the log nor end the subscription", async function () {
    const log = await get(node, `/api/v1/subscriptions/${ids.processor}/deliveries`, bearer(tokens.processor));
    expect(log.status, log.text).to.equal(200);
    expect(log.body.items.length).to.be.at.least(4);
    expect(log.body.items[0]).to.include({ status: "delivered", attempts: 1, lastStatus: 204, lastError: null });
    expect(log.text).to.not.include(secrets.processor);
    expectProblem(
      await get(node, `/api/v1/subscriptions/${ids.processor}/deliveries`, bearer(tokens.certifier)),
      404,
      "subscription_not_found",
    );
    expectProblem(
      await get(node, `/api/v1/subscriptions/${ids.processor}`, bearer(tokens.certifier)),
      404,
      "subscription_not_found",
    );
    const del = await fetch(`${node.url}/api/v1/subscriptions/${ids.processor}`, {
      method: "DELETE",
      headers: bearer(tokens.certifier),
    });
    expect(del.status).to.equal(404);
    expectProblem(await get(node, `/api/v1/subscriptions/${ids.processor}/deliveries`, { authorization: "" }), 401);
  });

  it("attack: a member cannot subscribe to another's notifications: a subscription always takes the subscriber's own organisation", async function () {
    // There is no field to name another organisation: the request is refused, not silently narrowed.
    const res = await post(
      node,
      "/api/v1/subscriptions",
      { url: `${base}/spy`, topics: ["offer"], secret: "x".repeat(32), orgId: String(orgOf("processor")) },
      json(tokens.certifier),
    );
    expectProblem(res, 400);
    const mine = await post(
      node,
      "/api/v1/subscriptions",
      { url: `${base}/spy`, topics: ["offer"], secret: "x".repeat(32) },
      json(tokens.certifier),
    );
    expect(mine.body.orgId).to.equal(String(orgOf("certifier")));
    expect(
      (await fetch(`${node.url}/api/v1/subscriptions/${mine.body.id}`, { method: "DELETE", headers: bearer(tokens.certifier) }))
        .status,
    ).to.equal(200);
  });

  it("refuses a private url unless LOTLINE_WEBHOOK_ALLOW_PRIVATE=1, an unknown topic and a short secret", async function () {
    delete process.env.LOTLINE_WEBHOOK_ALLOW_PRIVATE;
    try {
      expectProblem(
        await post(
          node,
          "/api/v1/subscriptions",
          { url: `${base}/x`, topics: ["recall"], secret: "s".repeat(32) },
          json(tokens.producer),
        ),
        400,
        "invalid_destination",
      );
    } finally {
      process.env.LOTLINE_WEBHOOK_ALLOW_PRIVATE = "1";
    }
    expectProblem(
      await post(
        node,
        "/api/v1/subscriptions",
        { url: `${base}/x`, topics: ["gossip"], secret: "s".repeat(32) },
        json(tokens.producer),
      ),
      400,
    );
    expectProblem(
      await post(node, "/api/v1/subscriptions", { url: `${base}/x`, topics: ["recall"], secret: "short" }, json(tokens.producer)),
      400,
    );
    expectProblem(
      await post(
        node,
        "/api/v1/subscriptions",
        { url: "file:///etc/passwd", topics: ["recall"], secret: "s".repeat(32) },
        json(tokens.producer),
      ),
      400,
      "invalid_destination",
    );
  });

  it("ends a subscription: nothing more is sent to it", async function () {
    const res = await fetch(`${node.url}/api/v1/subscriptions/${ids.retailer}`, {
      method: "DELETE",
      headers: bearer(tokens.retailer),
    });
    expect(res.status).to.equal(200);
    expectProblem(
      await get(node, `/api/v1/subscriptions/${ids.retailer}`, bearer(tokens.retailer)),
      404,
      "subscription_not_found",
    );
  });
});
