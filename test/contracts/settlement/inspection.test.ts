import { expect } from "chai";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import {
  fullyDeliveredFixture,
  fundedOrderFixture,
  OrderStatus,
  partlyDeliveredFixture,
  qty,
  ROLE,
} from "../../helpers/settlement-fixture";

const UNKNOWN_ORDER = 99n;
/** The whole order: 500 kg at 8.40 EUR/kg. */
const ORDER_VALUE = 420_000n;
/** Lot A: 200 kg at 8.40 EUR/kg. */
const LOT_A_VALUE = 168_000n;
/** What the order holds beyond lot A. */
const REST_AFTER_A = ORDER_VALUE - LOT_A_VALUE;

describe("SettlementEscrow inspection, release and refund", function () {
  describe("acceptDelivery", function () {
    it("credits the seller the value of what was delivered", async function () {
      const { orgs, escrow, agents, orderId } = await loadFixture(partlyDeliveredFixture);
      await expect(escrow.connect(agents.buyer).acceptDelivery(orderId))
        .to.emit(escrow, "Credited")
        .withArgs(orderId, orgs.seller, LOT_A_VALUE, true);
    });

    it("credits the buyer the rest of the escrow", async function () {
      const { orgs, escrow, agents, orderId } = await loadFixture(partlyDeliveredFixture);
      await expect(escrow.connect(agents.buyer).acceptDelivery(orderId))
        .to.emit(escrow, "Credited")
        .withArgs(orderId, orgs.buyer, REST_AFTER_A, false);
    });

    it("completes the order", async function () {
      const { escrow, agents, orderId } = await loadFixture(partlyDeliveredFixture);
      await expect(escrow.connect(agents.buyer).acceptDelivery(orderId))
        .to.emit(escrow, "OrderStatusChanged")
        .withArgs(orderId, OrderStatus.Completed);
    });

    it("leaves nothing held and the delivered quantity paid", async function () {
      const { escrow, agents, orderId } = await loadFixture(partlyDeliveredFixture);
      await escrow.connect(agents.buyer).acceptDelivery(orderId);
      const o = await escrow.order(orderId);
      expect([o.status, o.held, o.paidQuantity]).to.deep.equal([OrderStatus.Completed, 0n, qty(200)]);
    });

    it("owes both parties their share without moving any token", async function () {
      const { orgs, escrow, token, agents, tokenAddress, orderId } = await loadFixture(partlyDeliveredFixture);
      await expect(escrow.connect(agents.buyer).acceptDelivery(orderId)).to.changeTokenBalance(token, escrow, 0n);
      expect([
        await escrow.owed(tokenAddress, orgs.seller),
        await escrow.owed(tokenAddress, orgs.buyer),
      ]).to.deep.equal([LOT_A_VALUE, REST_AFTER_A]);
    });

    it("is possible the moment the goods arrive, before the inspection window ends", async function () {
      const { escrow, agents, orderId, inspectionEnds } = await loadFixture(partlyDeliveredFixture);
      expect(BigInt(await time.latest())).to.be.lessThan(inspectionEnds);
      await expect(escrow.connect(agents.buyer).acceptDelivery(orderId)).to.emit(escrow, "OrderStatusChanged");
    });

    it("pays the seller everything and refunds nothing after a full delivery", async function () {
      const { orgs, escrow, agents, tokenAddress, orderId } = await loadFixture(fullyDeliveredFixture);
      await expect(escrow.connect(agents.buyer).acceptDelivery(orderId))
        .to.emit(escrow, "Credited")
        .withArgs(orderId, orgs.seller, ORDER_VALUE, true);
      expect(await escrow.owed(tokenAddress, orgs.buyer)).to.equal(0n);
    });

    it("pays no more than the order's value for more than was ordered", async function () {
      const { orgs, sales, escrow, agents, orderId } = await loadFixture(fundedOrderFixture);
      await escrow.connect(agents.seller).deliver(orderId, [sales.cheeseA, sales.cheeseB, sales.cheeseC, sales.cheeseD]);
      await expect(escrow.connect(agents.buyer).acceptDelivery(orderId))
        .to.emit(escrow, "Credited")
        .withArgs(orderId, orgs.seller, ORDER_VALUE, true);
    });

    it("refuses the seller", async function () {
      const { escrow, registry, agents, orderId } = await loadFixture(partlyDeliveredFixture);
      await expect(escrow.connect(agents.seller).acceptDelivery(orderId))
        .to.be.revertedWithCustomError(registry, "IdentityUnauthorizedAgent")
        .withArgs(agents.seller.address, ROLE.buyer);
    });

    it("refuses the buyer's receiving clerk, who may not buy", async function () {
      const { escrow, registry, buyerClerk, orderId } = await loadFixture(partlyDeliveredFixture);
      await expect(escrow.connect(buyerClerk).acceptDelivery(orderId))
        .to.be.revertedWithCustomError(registry, "IdentityUnauthorizedAgent")
        .withArgs(buyerClerk.address, ROLE.buyer);
    });

    it("refuses a buyer agent of another organisation", async function () {
      const { escrow, agents, orgs, orderId } = await loadFixture(partlyDeliveredFixture);
      await expect(escrow.connect(agents.otherBuyer).acceptDelivery(orderId))
        .to.be.revertedWithCustomError(escrow, "SettlementNotBuyer")
        .withArgs(orderId, orgs.otherBuyer);
    });

    it("refuses an order nothing was delivered for", async function () {
      const { escrow, agents, orderId } = await loadFixture(fundedOrderFixture);
      await expect(escrow.connect(agents.buyer).acceptDelivery(orderId))
        .to.be.revertedWithCustomError(escrow, "SettlementWrongStatus")
        .withArgs(orderId, OrderStatus.Funded);
    });

    it("refuses an order already completed", async function () {
      const { escrow, agents, orderId } = await loadFixture(partlyDeliveredFixture);
      await escrow.connect(agents.buyer).acceptDelivery(orderId);
      await expect(escrow.connect(agents.buyer).acceptDelivery(orderId))
        .to.be.revertedWithCustomError(escrow, "SettlementWrongStatus")
        .withArgs(orderId, OrderStatus.Completed);
    });

    it("refuses an unknown order", async function () {
      const { escrow, agents } = await loadFixture(partlyDeliveredFixture);
      await expect(escrow.connect(agents.buyer).acceptDelivery(UNKNOWN_ORDER))
        .to.be.revertedWithCustomError(escrow, "SettlementUnknownOrder")
        .withArgs(UNKNOWN_ORDER);
    });
  });

  describe("release", function () {
    it("refuses while the inspection window runs", async function () {
      const { escrow, outsider, orderId, inspectionEnds } = await loadFixture(partlyDeliveredFixture);
      await expect(escrow.connect(outsider).release(orderId))
        .to.be.revertedWithCustomError(escrow, "SettlementInspectionRunning")
        .withArgs(orderId, inspectionEnds);
    });

    it("refuses in the last second of the inspection window", async function () {
      const { escrow, outsider, orderId, inspectionEnds } = await loadFixture(partlyDeliveredFixture);
      await time.setNextBlockTimestamp(inspectionEnds - 1n);
      await expect(escrow.connect(outsider).release(orderId))
        .to.be.revertedWithCustomError(escrow, "SettlementInspectionRunning")
        .withArgs(orderId, inspectionEnds);
    });

    it("pays the delivered part of a partial delivery once the window is over, whoever calls", async function () {
      const { orgs, escrow, outsider, orderId, inspectionEnds } = await loadFixture(partlyDeliveredFixture);
      await time.setNextBlockTimestamp(inspectionEnds);
      await expect(escrow.connect(outsider).release(orderId))
        .to.emit(escrow, "Credited")
        .withArgs(orderId, orgs.seller, LOT_A_VALUE, true);
    });

    it("keeps a partly delivered order open before the deadline", async function () {
      const { escrow, outsider, orderId, inspectionEnds } = await loadFixture(partlyDeliveredFixture);
      await time.increaseTo(inspectionEnds);
      await expect(escrow.connect(outsider).release(orderId)).not.to.emit(escrow, "OrderStatusChanged");
      const o = await escrow.order(orderId);
      expect([o.status, o.paidQuantity, o.held]).to.deep.equal([OrderStatus.Delivered, qty(200), REST_AFTER_A]);
    });

    it("credits nothing more when released again with nothing new delivered", async function () {
      const { escrow, outsider, orderId, inspectionEnds } = await loadFixture(partlyDeliveredFixture);
      await time.increaseTo(inspectionEnds);
      await escrow.connect(outsider).release(orderId);
      await expect(escrow.connect(outsider).release(orderId)).not.to.emit(escrow, "Credited");
    });

    it("pays only the new part of a later delivery", async function () {
      const { orgs, sales, escrow, agents, outsider, orderId, inspectionEnds } = await loadFixture(partlyDeliveredFixture);
      await time.increaseTo(inspectionEnds);
      await escrow.connect(outsider).release(orderId);
      await escrow.connect(agents.seller).deliver(orderId, [sales.cheeseC]);
      await time.increaseTo((await escrow.order(orderId)).inspectionEnds);
      await expect(escrow.connect(outsider).release(orderId))
        .to.emit(escrow, "Credited")
        .withArgs(orderId, orgs.seller, 84_000n, true);
    });

    it("completes the order once everything ordered was delivered and paid", async function () {
      const { orgs, escrow, outsider, orderId, inspectionEnds } = await loadFixture(fullyDeliveredFixture);
      await time.increaseTo(inspectionEnds);
      await expect(escrow.connect(outsider).release(orderId))
        .to.emit(escrow, "Credited")
        .withArgs(orderId, orgs.seller, ORDER_VALUE, true)
        .and.to.emit(escrow, "OrderStatusChanged")
        .withArgs(orderId, OrderStatus.Completed);
    });

    it("closes a partly delivered order after the deadline, paying the delivered part", async function () {
      const { orgs, escrow, outsider, orderId, deadline } = await loadFixture(partlyDeliveredFixture);
      await time.increaseTo(deadline + 1n);
      await expect(escrow.connect(outsider).release(orderId))
        .to.emit(escrow, "Credited")
        .withArgs(orderId, orgs.seller, LOT_A_VALUE, true);
    });

    it("refunds the undelivered rest to the buyer when it closes after the deadline", async function () {
      const { orgs, escrow, outsider, orderId, deadline } = await loadFixture(partlyDeliveredFixture);
      await time.increaseTo(deadline + 1n);
      await expect(escrow.connect(outsider).release(orderId))
        .to.emit(escrow, "Credited")
        .withArgs(orderId, orgs.buyer, REST_AFTER_A, false)
        .and.to.emit(escrow, "OrderStatusChanged")
        .withArgs(orderId, OrderStatus.Completed);
    });

    it("closes an order already paid for its part once the deadline passed", async function () {
      const { orgs, escrow, outsider, orderId, inspectionEnds, deadline } = await loadFixture(partlyDeliveredFixture);
      await time.increaseTo(inspectionEnds);
      await escrow.connect(outsider).release(orderId);
      await time.increaseTo(deadline + 1n);
      await expect(escrow.connect(outsider).release(orderId))
        .to.emit(escrow, "Credited")
        .withArgs(orderId, orgs.buyer, REST_AFTER_A, false);
      expect((await escrow.order(orderId)).status).to.equal(OrderStatus.Completed);
    });

    it("keeps a partly delivered order open in the second of the deadline", async function () {
      const { escrow, outsider, orderId, deadline } = await loadFixture(partlyDeliveredFixture);
      await time.setNextBlockTimestamp(deadline);
      await escrow.connect(outsider).release(orderId);
      expect((await escrow.order(orderId)).status).to.equal(OrderStatus.Delivered);
    });

    it("refuses an order nothing was delivered for", async function () {
      const { escrow, outsider, orderId } = await loadFixture(fundedOrderFixture);
      await expect(escrow.connect(outsider).release(orderId))
        .to.be.revertedWithCustomError(escrow, "SettlementWrongStatus")
        .withArgs(orderId, OrderStatus.Funded);
    });

    it("refuses an order already completed", async function () {
      const { escrow, outsider, orderId, inspectionEnds } = await loadFixture(fullyDeliveredFixture);
      await time.increaseTo(inspectionEnds);
      await escrow.connect(outsider).release(orderId);
      await expect(escrow.connect(outsider).release(orderId))
        .to.be.revertedWithCustomError(escrow, "SettlementWrongStatus")
        .withArgs(orderId, OrderStatus.Completed);
    });

    it("refuses an unknown order", async function () {
      const { escrow, outsider } = await loadFixture(fundedOrderFixture);
      await expect(escrow.connect(outsider).release(UNKNOWN_ORDER))
        .to.be.revertedWithCustomError(escrow, "SettlementUnknownOrder")
        .withArgs(UNKNOWN_ORDER);
    });
  });

  describe("refund", function () {
    it("returns the whole escrow to the buyer when nothing was delivered by the deadline, whoever calls", async function () {
      const { orgs, escrow, outsider, orderId, deadline } = await loadFixture(fundedOrderFixture);
      await time.increaseTo(deadline + 1n);
      await expect(escrow.connect(outsider).refund(orderId))
        .to.emit(escrow, "Credited")
        .withArgs(orderId, orgs.buyer, ORDER_VALUE, false);
    });

    it("marks the order refunded with nothing left held", async function () {
      const { escrow, outsider, orderId, deadline } = await loadFixture(fundedOrderFixture);
      await time.increaseTo(deadline + 1n);
      await expect(escrow.connect(outsider).refund(orderId))
        .to.emit(escrow, "OrderStatusChanged")
        .withArgs(orderId, OrderStatus.Refunded);
      const o = await escrow.order(orderId);
      expect([o.status, o.held]).to.deep.equal([OrderStatus.Refunded, 0n]);
    });

    it("refuses before the deadline", async function () {
      const { escrow, outsider, orderId, deadline } = await loadFixture(fundedOrderFixture);
      await expect(escrow.connect(outsider).refund(orderId))
        .to.be.revertedWithCustomError(escrow, "SettlementDeadlineNotPassed")
        .withArgs(orderId, deadline);
    });

    it("refuses in the second of the deadline", async function () {
      const { escrow, outsider, orderId, deadline } = await loadFixture(fundedOrderFixture);
      await time.setNextBlockTimestamp(deadline);
      await expect(escrow.connect(outsider).refund(orderId))
        .to.be.revertedWithCustomError(escrow, "SettlementDeadlineNotPassed")
        .withArgs(orderId, deadline);
    });

    it("refuses an order something was delivered for", async function () {
      const { escrow, outsider, orderId, deadline } = await loadFixture(partlyDeliveredFixture);
      await time.increaseTo(deadline + 1n);
      await expect(escrow.connect(outsider).refund(orderId))
        .to.be.revertedWithCustomError(escrow, "SettlementWrongStatus")
        .withArgs(orderId, OrderStatus.Delivered);
    });

    it("refuses an order never funded", async function () {
      const { escrow, outsider, createOrder, deadline } = await loadFixture(fundedOrderFixture);
      const unfunded = await createOrder();
      await time.increaseTo(deadline + 1n);
      await expect(escrow.connect(outsider).refund(unfunded))
        .to.be.revertedWithCustomError(escrow, "SettlementWrongStatus")
        .withArgs(unfunded, OrderStatus.Created);
    });

    it("refuses an order already refunded", async function () {
      const { escrow, outsider, orderId, deadline } = await loadFixture(fundedOrderFixture);
      await time.increaseTo(deadline + 1n);
      await escrow.connect(outsider).refund(orderId);
      await expect(escrow.connect(outsider).refund(orderId))
        .to.be.revertedWithCustomError(escrow, "SettlementWrongStatus")
        .withArgs(orderId, OrderStatus.Refunded);
    });

    it("refuses an unknown order", async function () {
      const { escrow, outsider } = await loadFixture(fundedOrderFixture);
      await expect(escrow.connect(outsider).refund(UNKNOWN_ORDER))
        .to.be.revertedWithCustomError(escrow, "SettlementUnknownOrder")
        .withArgs(UNKNOWN_ORDER);
    });
  });
});
