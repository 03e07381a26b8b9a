import { expect } from "chai";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { BUYER_FUNDS, DAY, OrderStatus, qty, settlementFixture, type Sale } from "../../helpers/settlement-fixture";

/** The whole order: 500 kg at 8.40 EUR/kg. */
const ORDER_VALUE = 420_000n;

/**
 * Whole lives of orders, from creation to both organisations' withdrawals, each checked by where
 * the money ends up (the payout addresses): the other files check each step on its own.
 */
describe("SettlementEscrow order lifecycles", function () {
  /** Sells cheese lots A–D to the buyer (after the order in question was funded). */
  async function sellCheese(f: Awaited<ReturnType<typeof settlementFixture>>): Promise<Record<"A" | "B" | "C" | "D", Sale>> {
    return {
      A: await f.handOver(f.lotIds.cheeseA),
      B: await f.handOver(f.lotIds.cheeseB),
      C: await f.handOver(f.lotIds.cheeseC),
      D: await f.handOver(f.lotIds.cheeseD),
    };
  }

  it("pays the seller the whole order for two shipments released one after the other", async function () {
    const f = await loadFixture(settlementFixture);
    const { escrow, token, agents, payouts, tokenAddress, createOrder, signPermit, deliver } = f;
    const orderId = await createOrder();
    const permit = await signPermit(agents.buyer, ORDER_VALUE, BigInt(await time.latest()) + BigInt(DAY));
    await escrow.connect(agents.buyer).fundWithPermit(orderId, permit.deadline, permit.v, permit.r, permit.s);
    const sold = await sellCheese(f);
    await deliver(orderId, [sold.A, sold.B]);
    await time.increaseTo((await escrow.order(orderId)).inspectionEnds);
    await escrow.release(orderId);
    await deliver(orderId, [sold.C]);
    await time.increaseTo((await escrow.order(orderId)).inspectionEnds);
    await escrow.release(orderId);
    await escrow.connect(agents.seller).withdraw(tokenAddress);
    expect([
      (await escrow.order(orderId)).status,
      await token.balanceOf(payouts.seller.address),
      await token.balanceOf(agents.buyer.address),
      await token.balanceOf(escrow),
    ]).to.deep.equal([OrderStatus.Completed, ORDER_VALUE, BUYER_FUNDS - ORDER_VALUE, 0n]);
  });

  it("splits a disputed shipment as the arbiter decided and empties the escrow on withdrawal", async function () {
    const f = await loadFixture(settlementFixture);
    const { escrow, token, agents, payouts, tokenAddress, fundedOrder, deliver } = f;
    const orderId = await fundedOrder();
    const sold = await sellCheese(f);
    await deliver(orderId, [sold.A, sold.B]);
    await escrow.connect(agents.buyer).reject(orderId, qty(100), "12 wheels under the agreed age");
    await escrow.connect(agents.arbiter).resolve(orderId, 2_000);
    await escrow.connect(agents.seller).withdraw(tokenAddress);
    await escrow.connect(agents.buyer).withdraw(tokenAddress);
    // 300 kg uncontested (2,520.00) + 20 % of 100 kg (168.00); the buyer's refund to its payout address.
    expect([
      await token.balanceOf(payouts.seller.address),
      await token.balanceOf(payouts.buyer.address),
      await token.balanceOf(agents.buyer.address),
      await token.balanceOf(escrow),
    ]).to.deep.equal([268_800n, ORDER_VALUE - 268_800n, BUYER_FUNDS - ORDER_VALUE, 0n]);
  });

  it("pays what was released before a recall and refunds the frozen rest as the arbiter decided", async function () {
    const f = await loadFixture(settlementFixture);
    const { escrow, provenance, token, agents, payouts, lotIds, tokenAddress, fundedOrder, deliver } = f;
    const orderId = await fundedOrder();
    const sold = await sellCheese(f);
    await deliver(orderId, [sold.A]);
    await time.increaseTo((await escrow.order(orderId)).inspectionEnds);
    await escrow.release(orderId);
    await deliver(orderId, [sold.B]);
    await provenance.connect(agents.seller).recall(lotIds.cheeseB, "foreign body (metal) found");
    await escrow.freeze(orderId, lotIds.cheeseB);
    await escrow.connect(agents.arbiter).resolve(orderId, 0);
    await escrow.connect(agents.seller).withdraw(tokenAddress);
    await escrow.connect(agents.buyer).withdraw(tokenAddress);
    // Lot A (1,680.00) was released before the recall; lot B is paid nothing.
    expect([
      (await escrow.order(orderId)).status,
      await token.balanceOf(payouts.seller.address),
      await token.balanceOf(payouts.buyer.address),
      await token.balanceOf(escrow),
    ]).to.deep.equal([OrderStatus.Resolved, 168_000n, ORDER_VALUE - 168_000n, 0n]);
  });

  it("keeps two orders' money apart when one is refunded and the other completed", async function () {
    const f = await loadFixture(settlementFixture);
    const { escrow, orgs, tokenAddress, fundedOrder, deliver, deadline } = f;
    const refunded = await fundedOrder();
    const completed = await fundedOrder();
    const sold = await sellCheese(f);
    await deliver(completed, [sold.A, sold.B, sold.C]);
    await time.increaseTo(deadline + 1n);
    await escrow.refund(refunded);
    await escrow.release(completed);
    expect([
      await escrow.owed(tokenAddress, orgs.buyer),
      await escrow.owed(tokenAddress, orgs.seller),
      (await escrow.order(refunded)).held + (await escrow.order(completed)).held,
    ]).to.deep.equal([ORDER_VALUE, ORDER_VALUE, 0n]);
  });
});
