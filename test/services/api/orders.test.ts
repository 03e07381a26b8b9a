import { expect } from "chai";
import type { TestNode } from "../../helpers/node";
import { DEMO_GOODS } from "../../../services/demo/supply-chain";
import { expectProblem, get, sharedNode } from "./helpers";

/** The demo seeds one order in each state (services/demo/supply-chain.ts). */
describe("API settlement routes", function () {
  let node: TestNode;
  type Order = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  let orders: Order[];
  const byStatus = (status: string) => orders.find((o) => o.status === status)!;

  before(async function () {
    node = await sharedNode();
    await node.synced();
    orders = (await get(node, "/api/v1/orders?limit=500")).body.items;
  });

  it("lists the demo's orders in every state", function () {
    expect(orders.map((o) => o.status)).to.include.members(["refunded", "frozen", "completed", "disputed", "delivered", "funded"]);
  });

  it("filters by buyer, seller and status", async function () {
    const retailer = (await get(node, "/api/v1/orders?buyer=6")).body.items as Order[];
    expect(retailer.length).to.be.greaterThan(0);
    expect(retailer.every((o) => o.buyerOrgId === "6")).to.equal(true);
    const distributor = (await get(node, "/api/v1/orders?seller=5&status=disputed")).body.items as Order[];
    expect(distributor.map((o) => o.status)).to.deep.equal(["disputed"]);
  });

  it("shows a paid order with its delivery, the seller's payment and nothing left in escrow", async function () {
    const paid = (await get(node, `/api/v1/orders/${byStatus("completed").orderId}`)).body;
    expect(paid.deliveries).to.have.length(1);
    expect(paid.payments.map((p: Order) => p.type)).to.include("paid_to_seller");
    expect(paid.held).to.equal("0");
    expect(BigInt(paid.funded)).to.equal(BigInt(paid.totalPrice));
  });

  it("shows a disputed order's rejection with its quantity and reason", async function () {
    const disputed = (await get(node, `/api/v1/orders/${byStatus("disputed").orderId}`)).body;
    expect(disputed.disputes[0]).to.deep.include({ type: "rejected" });
    expect(disputed.disputes[0].details).to.include({ quantity: "50" });
    expect(disputed.contested).to.equal("50");
  });

  it("shows that the frozen order was frozen for a recalled batch it holds", async function () {
    const frozen = (await get(node, `/api/v1/orders/${byStatus("frozen").orderId}`)).body;
    const freeze = frozen.disputes.find((d: Order) => d.type === "frozen");
    expect(frozen.deliveries.map((d: Order) => d.batchId)).to.include(freeze.details.batchId);
    const batch = (await get(node, `/api/v1/batches/${freeze.details.batchId}`)).body;
    expect(batch.recall).to.not.equal(null);
  });

  it("returns a refunded order's funds to the buyer", async function () {
    const refunded = (await get(node, `/api/v1/orders/${byStatus("refunded").orderId}`)).body;
    expect(refunded.deliveries).to.deep.equal([]);
    expect(refunded.payments.map((p: Order) => p.type)).to.deep.equal(["refunded_to_buyer"]);
  });

  it("links a delivered batch to its order, in the batch and in its history", async function () {
    const delivered = (await get(node, `/api/v1/orders/${byStatus("completed").orderId}`)).body;
    const batchId = delivered.deliveries[0].batchId;
    const batch = (await get(node, `/api/v1/batches/${batchId}`)).body;
    expect(batch.orderId).to.equal(delivered.orderId);
    expect(batch.gtin).to.equal(DEMO_GOODS.butter);
    const history = (await get(node, `/api/v1/batches/${batchId}/history`)).body.items as Order[];
    expect(history.find((h) => h.type === "delivered_for_order")!.details.orderId).to.equal(delivered.orderId);
  });

  it("names each delivery's sale, which the batch's sales list shows counted toward the order", async function () {
    const paid = (await get(node, `/api/v1/orders/${byStatus("completed").orderId}`)).body;
    const delivery = paid.deliveries[0];
    const sales = (await get(node, `/api/v1/batches/${delivery.batchId}/sales?from=${paid.sellerOrgId}&to=${paid.buyerOrgId}`)).body;
    expect(sales.items.map((x: Order) => [x.saleIndex, x.orderId])).to.deep.include([delivery.saleIndex, paid.orderId]);
    expect(sales.deliverable.saleIndex).to.equal(delivery.saleIndex);
    expect(paid).to.include({ disputeTimeoutSeconds: 30 * 86_400, defaultSellerShareBps: 5_000 });
    expect(paid.fundedAt).to.be.a("string");
  });

  it("shows where an organisation is paid and what the escrow still owes it", async function () {
    const paid = (await get(node, `/api/v1/orders/${byStatus("completed").orderId}`)).body;
    const account = (await get(node, `/api/v1/orgs/${paid.sellerOrgId}/settlement`)).body;
    expect(account.payoutAddress).to.equal(paid.sellerWallet);
    // The demo's distributor withdrew its payment and the skim milk refund.
    expect(account.withdrawals.length).to.be.greaterThan(0);
    expect(account.withdrawals.every((w: Order) => w.to === account.payoutAddress)).to.equal(true);
    expect(account.owed.find((o: Order) => o.token === paid.token).amount).to.equal("0");
  });

  it("answers an unknown order with 404 order_not_found", async function () {
    expectProblem(await get(node, "/api/v1/orders/999999"), 404, "order_not_found");
  });

  it("answers malformed filters with 400", async function () {
    expectProblem(await get(node, "/api/v1/orders?status=lost"), 400, "invalid_request");
    expectProblem(await get(node, "/api/v1/orders?buyer=abc"), 400, "invalid_request");
    expectProblem(await get(node, "/api/v1/orders/0"), 400, "invalid_request");
    expectProblem(await get(node, "/api/v1/orders?cursor=garbage"), 400, "invalid_cursor");
  });

  it("pages with cursors without repeats", async function () {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { items: Order[]; nextCursor: string | null } = (await get(node, `/api/v1/orders?limit=2${cursor ? `&cursor=${cursor}` : ""}`)).body;
      seen.push(...page.items.map((o) => o.orderId));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).to.deep.equal(orders.map((o) => o.orderId));
  });
});
