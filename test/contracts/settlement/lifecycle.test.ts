import { expect } from "chai";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { BUYER_FUNDS, DAY, OrderStatus, qty, settlementFixture } from "../../helpers/settlement-fixture";

/** The whole order: 500 kg at 8.40 EUR/kg. */
const ORDER_VALUE = 420_000n;

/**
 * Whole lives of orders, from creation to both parties' withdrawals, each checked by where the
 * money ends up: the other files check each step on its own.
 */
describe("SettlementEscrow order lifecycles", function () {
  /** The settlement fixture with every cheese lot but E and the butter lot handed to the buyer. */
  async function goodsAtBuyerFixture() {
    const f = await settlementFixture();
    for (const key of ["cheeseA", "cheeseB", "cheeseC", "cheeseD", "butter"] as const) await f.handOver(f.lotIds[key]);
    return f;
  }

  it("pays the seller the whole order for two shipments released one after the other", async function () {
    const { escrow, token, agents, lotIds, tokenAddress, createOrder, signPermit, deliver } =
      await loadFixture(goodsAtBuyerFixture);
    const orderId = await createOrder();
    const permit = await signPermit(agents.buyer, ORDER_VALUE, BigInt(await time.latest()) + BigInt(DAY));
    await escrow.connect(agents.buyer).fundWithPermit(orderId, permit.deadline, permit.v, permit.r, permit.s);
    await deliver(orderId, [lotIds.cheeseA, lotIds.cheeseB]);
    await time.increaseTo((await escrow.order(orderId)).inspectionEnds);
    await escrow.release(orderId);
    await deliver(orderId, [lotIds.cheeseC]);
    await time.increaseTo((await escrow.order(orderId)).inspectionEnds);
    await escrow.release(orderId);
    await escrow.connect(agents.seller).withdraw(tokenAddress);
    expect([
      (await escrow.order(orderId)).status,
      await token.balanceOf(agents.seller.address),
      await token.balanceOf(agents.buyer.address),
      await token.balanceOf(escrow),
    ]).to.deep.equal([OrderStatus.Completed, ORDER_VALUE, BUYER_FUNDS - ORDER_VALUE, 0n]);
  });

  it("splits a disputed shipment as the arbiter decided and empties the escrow on withdrawal", async function () {
    const { escrow, token, agents, lotIds, tokenAddress, fundedOrder, deliver } = await loadFixture(goodsAtBuyerFixture);
    const orderId = await fundedOrder();
    await deliver(orderId, [lotIds.cheeseA, lotIds.cheeseB]);
    await escrow.connect(agents.buyer).reject(orderId, qty(100), "12 wheels under the agreed age");
    await escrow.connect(agents.arbiter).resolve(orderId, 2_000);
    await escrow.connect(agents.seller).withdraw(tokenAddress);
    await escrow.connect(agents.buyer).withdraw(tokenAddress);
    // 300 kg uncontested (2,520.00) + 20 % of 100 kg (168.00).
    expect([
      await token.balanceOf(agents.seller.address),
      await token.balanceOf(agents.buyer.address),
      await token.balanceOf(escrow),
    ]).to.deep.equal([268_800n, BUYER_FUNDS - 268_800n, 0n]);
  });

  it("pays what was released before a recall and refunds the frozen rest as the arbiter decided", async function () {
    const { escrow, provenance, token, agents, lotIds, tokenAddress, fundedOrder, deliver } =
      await loadFixture(goodsAtBuyerFixture);
    const orderId = await fundedOrder();
    await deliver(orderId, [lotIds.cheeseA]);
    await time.increaseTo((await escrow.order(orderId)).inspectionEnds);
    await escrow.release(orderId);
    await deliver(orderId, [lotIds.cheeseB]);
    await provenance.connect(agents.seller).recall(lotIds.cheeseB, "foreign body (metal) found");
    await escrow.freeze(orderId, lotIds.cheeseB);
    await escrow.connect(agents.arbiter).resolve(orderId, 0);
    await escrow.connect(agents.seller).withdraw(tokenAddress);
    await escrow.connect(agents.buyer).withdraw(tokenAddress);
    // Lot A (1,680.00) was released before the recall; lot B is paid nothing.
    expect([
      (await escrow.order(orderId)).status,
      await token.balanceOf(agents.seller.address),
      await token.balanceOf(agents.buyer.address),
      await token.balanceOf(escrow),
    ]).to.deep.equal([OrderStatus.Resolved, 168_000n, BUYER_FUNDS - 168_000n, 0n]);
  });

  it("keeps two orders' money apart when one is refunded and the other completed", async function () {
    const { escrow, agents, lotIds, tokenAddress, fundedOrder, deliver, deadline } = await loadFixture(goodsAtBuyerFixture);
    const refunded = await fundedOrder();
    const completed = await fundedOrder();
    await deliver(completed, [lotIds.cheeseA, lotIds.cheeseB, lotIds.cheeseC]);
    await time.increaseTo(deadline + 1n);
    await escrow.refund(refunded);
    await escrow.release(completed);
    expect([
      await escrow.owed(tokenAddress, agents.buyer.address),
      await escrow.owed(tokenAddress, agents.seller.address),
      (await escrow.order(refunded)).held + (await escrow.order(completed)).held,
    ]).to.deep.equal([ORDER_VALUE, ORDER_VALUE, 0n]);
  });
});
