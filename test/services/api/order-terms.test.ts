import { expect } from "chai";
import { keccak256, ZeroHash } from "ethers";
import { DEMO_MEMBERS, demoWallet } from "../../../services/demo/roster";
import { DEMO_GOODS } from "../../../services/demo/supply-chain";
import { scopeToChain, type Scope } from "../../../services/sharing/grants";
import { MAX_TERMS_BYTES } from "../../../services/settlement/order-terms";
import type { TestNode } from "../../helpers/node";
import { bearer, expectProblem, get, getAnonymous, sharedNode, tokenFor, type ApiResponse } from "./helpers";

const account = (key: string) => DEMO_MEMBERS.find((m) => m.key === key)!.account;
const orgOf = (key: string) => DEMO_MEMBERS.findIndex((m) => m.key === key) + 1;
const ORDER_TERMS = 4;
const EPCIS = 1;

/**
 * Order terms documents (docs/adr/0030): stored only when their keccak256 is the order's on-chain
 * termsHash, by an agent of the buyer or the seller, and read by the parties and the organisations
 * either granted ORDER_TERMS covering the order.
 */
describe("API order terms documents", function () {
  let node: TestNode;
  const tokens = new Map<string, string>();
  const document = Buffer.from(JSON.stringify({ incoterms: "FCA Brabant", penalty: "2 % per day late", test: "order-terms.test.ts" }), "utf8");
  let orderId: string;

  const as = async (key: string) => {
    if (!tokens.has(key)) tokens.set(key, await tokenFor(node, demoWallet(account(key))));
    return bearer(tokens.get(key)!);
  };
  const getAs = async (key: string, path: string) => get(node, path, await as(key));
  async function put(key: string | null, id: string, body: unknown): Promise<ApiResponse> {
    const headers: Record<string, string> = { "content-type": "application/json", ...(key ? await as(key) : {}) };
    const res = await fetch(`${node.url}/api/v1/orders/${id}/terms`, { method: "PUT", headers, body: JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, contentType: res.headers.get("content-type") ?? "", headers: res.headers, body: text ? JSON.parse(text) : null, text };
  }
  const stored = (id: string) => node.db.prepare(`SELECT order_id, owner_org, served_by FROM order_terms WHERE order_id = ?`).get(Number(id));

  /** A new order of the retailer from the distributor (the shared node holds no terms of it yet). */
  async function placeOrder(termsHash: string): Promise<string> {
    const buyer = node.contracts.escrow.connect(demoWallet(account("retailer"), node.provider));
    const now = (await node.provider.getBlock("latest"))!.timestamp;
    const terms = {
      seller: BigInt(orgOf("distributor")),
      arbiter: 0n,
      token: await node.contracts.token.getAddress(),
      gtin: BigInt(DEMO_GOODS.butter),
      quantity: 10_000n,
      pricePerUnit: 975n,
      deliveryDeadline: BigInt(now + 30 * 86_400),
      inspectionWindow: 3_600,
      disputeTimeout: 86_400,
      defaultSellerShareBps: 5_000,
      termsHash,
    };
    const id = await buyer.createOrder.staticCall(terms);
    await (await buyer.createOrder(terms)).wait();
    await node.synced();
    return id.toString();
  }

  async function grant(grantor: string, grantee: string, classes: number, scope: Scope): Promise<bigint> {
    const sharing = node.contracts.sharing.connect(demoWallet(account(grantor), node.provider));
    const { kind, value } = scopeToChain(scope);
    const expiry = (await node.provider.getBlock("latest"))!.timestamp + 3_600;
    const id = await sharing.grant.staticCall(orgOf(grantee), classes, kind, value, expiry);
    await (await sharing.grant(orgOf(grantee), classes, kind, value, expiry)).wait();
    await node.synced();
    return id;
  }
  async function revoke(grantor: string, grantId: bigint) {
    await (await node.contracts.sharing.connect(demoWallet(account(grantor), node.provider)).revoke(grantId)).wait();
    await node.synced();
  }

  before(async function () {
    node = await sharedNode();
    await node.synced();
    orderId = await placeOrder(keccak256(document));
  });

  it("holds every demo order's terms document, each the bytes whose keccak256 is the order's termsHash", async function () {
    const demo = (node.db.prepare(`SELECT order_id, buyer_org, terms_hash FROM orders WHERE order_id <= 6 ORDER BY order_id`).all() as { order_id: number; buyer_org: number; terms_hash: string }[]);
    expect(demo).to.have.length(6);
    for (const order of demo) {
      const key = DEMO_MEMBERS[order.buyer_org - 1].key;
      const res = await getAs(key, `/api/v1/orders/${order.order_id}/terms`);
      expect(res.status, res.text).to.equal(200);
      expect(res.body).to.include({ orderId: String(order.order_id), termsHash: order.terms_hash, contentType: "application/json", verified: true });
      expect(res.body.origin).to.deep.equal({ orgId: String(order.buyer_org), servedBy: null, verified: true });
      const bytes = Buffer.from(res.body.content, "base64");
      expect(keccak256(bytes)).to.equal(order.terms_hash);
      expect(JSON.parse(bytes.toString("utf8"))).to.include({ document: "Purchase terms" });
    }
  });

  it("attack: refuses a document whose keccak256 is not the order's termsHash, storing nothing", async function () {
    const forged = Buffer.from(document.toString("utf8").replace("2 %", "0 %"));
    const res = await put("retailer", orderId, { contentType: "application/json", content: forged.toString("base64") });
    expectProblem(res, 422, "terms_hash_mismatch");
    expect(res.body.detail).to.include(keccak256(document));
    expect(stored(orderId)).to.equal(undefined);
  });

  it("attack: refuses an agent of a third organisation, even with the right bytes, storing nothing", async function () {
    expectProblem(await put("carrier", orderId, { contentType: "application/json", content: document.toString("base64") }), 403, "not_a_party");
    expectProblem(await put(null, orderId, { contentType: "application/json", content: document.toString("base64") }), 401, "unauthorized");
    expect(stored(orderId)).to.equal(undefined);
  });

  it("refuses content that is not padded base64, and a document over the size limit", async function () {
    expectProblem(await put("retailer", orderId, { contentType: "application/json", content: "not base64!" }), 400, "invalid_request");
    expectProblem(await put("retailer", orderId, { contentType: "application/json", content: "YWJj ZA==" }), 400, "invalid_request");
    expectProblem(await put("retailer", orderId, { contentType: "not a type", content: document.toString("base64") }), 400, "invalid_request");
    const large = Buffer.alloc(MAX_TERMS_BYTES + 1, 0x20);
    expectProblem(await put("retailer", orderId, { contentType: "text/plain", content: large.toString("base64") }), 413, "terms_too_large");
    expect(stored(orderId)).to.equal(undefined);
  });

  it("stores the buyer's document once (201), answers the same bytes again unchanged (200), and audits the write", async function () {
    const first = await put("retailer", orderId, { contentType: "application/json", content: document.toString("base64") });
    expect(first.status, first.text).to.equal(201);
    expect(first.body).to.include({ orderId, termsHash: keccak256(document), contentType: "application/json", size: document.length, verified: true });
    expect(first.body.origin).to.deep.equal({ orgId: String(orgOf("retailer")), servedBy: null, verified: true });
    const again = await put("distributor", orderId, { contentType: "application/json", content: document.toString("base64") });
    expect(again.status, again.text).to.equal(200);
    expect(again.body.origin.orgId).to.equal(String(orgOf("retailer")));
    expectProblem(await put("retailer", orderId, { contentType: "text/plain", content: document.toString("base64") }), 409, "terms_content_type_differs");
    const audit = node.db
      .prepare(`SELECT agent, org_id, status FROM audit_log WHERE action = 'PUT /api/v1/orders/:orderId/terms' AND target = ? ORDER BY seq`)
      .all(`orderId=${orderId}`) as { agent: string; org_id: number; status: number }[];
    expect(audit.map((a) => a.status)).to.include.members([422, 403, 401, 201, 200, 409]);
    expect(audit.find((a) => a.status === 201)).to.deep.include({ agent: demoWallet(account("retailer")).address, org_id: orgOf("retailer") });
  });

  it("answers the document to the buyer, the seller and a grantee of ORDER_TERMS; 401 to the public, 403 not_shared to other members", async function () {
    for (const key of ["retailer", "distributor", "auditor"]) {
      const res = await getAs(key, `/api/v1/orders/${orderId}/terms`);
      expect(res.status, `${key}: ${res.text}`).to.equal(200);
      expect(Buffer.from(res.body.content, "base64").equals(document)).to.equal(true);
      expect(res.body.gaps).to.deep.equal([]);
    }
    expectProblem(await getAnonymous(node, `/api/v1/orders/${orderId}/terms`), 401, "unauthorized");
    expectProblem(await getAs("certifier", `/api/v1/orders/${orderId}/terms`), 403, "not_shared");
    expectProblem(await getAs("retailer", `/api/v1/orders/999999/terms`), 404, "order_not_found");
  });

  it("a GTIN-scoped ORDER_TERMS grant by either party covers the order's GTIN only; revoked, it is refused at once", async function () {
    const grantId = await grant("distributor", "certifier", ORDER_TERMS, { kind: "gtin", value: DEMO_GOODS.butter });
    const other = await grant("distributor", "carrier", ORDER_TERMS, { kind: "gtin", value: DEMO_GOODS.skimMilk });
    try {
      expect((await getAs("certifier", `/api/v1/orders/${orderId}/terms`)).status).to.equal(200);
      expectProblem(await getAs("carrier", `/api/v1/orders/${orderId}/terms`), 403, "not_shared");
      await revoke("distributor", grantId);
      expectProblem(await getAs("certifier", `/api/v1/orders/${orderId}/terms`), 403, "not_shared");
    } finally {
      await revoke("distributor", other);
    }
  });

  it("a lot-scoped grant covers the orders whose deliveries name that lot (or one made from it), and no other", async function () {
    // The demo's completed order: butter delivered to the retailer's first store (made from BTR-2611).
    const completed = (await getAs("retailer", `/api/v1/orders?status=completed`)).body.items[0];
    const delivered = (await getAs("retailer", `/api/v1/orders/${completed.orderId}`)).body.deliveries[0].batchId as string;
    const lot = (node.db.prepare(`SELECT lot_id FROM batches WHERE batch_id = ?`).get(delivered) as { lot_id: string }).lot_id;
    const grantId = await grant("retailer", "certifier", ORDER_TERMS, { kind: "lot", value: lot });
    // A grant of other classes over everything gives no terms.
    const epcisOnly = await grant("retailer", "certifier", EPCIS, { kind: "all", value: null });
    try {
      expect((await getAs("certifier", `/api/v1/orders/${completed.orderId}/terms`)).status).to.equal(200);
      // The new order has no delivery yet: the lot names none of it.
      expectProblem(await getAs("certifier", `/api/v1/orders/${orderId}/terms`), 403, "not_shared");
    } finally {
      await revoke("retailer", grantId);
      await revoke("retailer", epcisOnly);
    }
    expectProblem(await getAs("certifier", `/api/v1/orders/${completed.orderId}/terms`), 403, "not_shared");
  });

  it("an order that recorded no terms hash has no document: uploads refused, reads a not_recorded gap", async function () {
    const none = await placeOrder(ZeroHash);
    expectProblem(await put("retailer", none, { contentType: "application/json", content: document.toString("base64") }), 409, "no_terms_hash");
    const res = await getAs("retailer", `/api/v1/orders/${none}/terms`);
    expect(res.status, res.text).to.equal(200);
    expect(res.body).to.include({ content: null, verified: false, origin: null });
    expect(res.body.gaps).to.have.length(1);
    expect(res.body.gaps[0]).to.include({ reason: "not_recorded" });
  });

  it("an order nobody stored terms for reads as a not_recorded gap on the node serving both parties", async function () {
    const missing = await placeOrder(keccak256(Buffer.from("never uploaded")));
    const res = await getAs("distributor", `/api/v1/orders/${missing}/terms`);
    expect(res.status, res.text).to.equal(200);
    expect(res.body.content).to.equal(null);
    expect(res.body.gaps[0]).to.include({ orgId: String(orgOf("retailer")), reason: "not_recorded" });
  });
});
