import { expect } from "chai";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { anyValue } from "@nomicfoundation/hardhat-chai-matchers/withArgs";
import {
  DISPUTE,
  MAX_SHARE_BPS,
  OrderStatus,
  partlyDeliveredFixture,
  fundedOrderFixture,
  portionIdOf,
  qty,
  ROLE,
} from "../../helpers/settlement-fixture";

const UNKNOWN_ORDER = 99n;
const REASON = "rind cracked on 3 wheels, mould underneath";
const RECALL_REASON = "Listeria monocytogenes in brine sample";
/** The whole order: 500 kg at 8.40 EUR/kg. */
const ORDER_VALUE = 420_000n;
/** 150 kg, the uncontested part of lot A in the dispute fixture. */
const UNCONTESTED_VALUE = 126_000n;
/** 50 kg, the contested part. */
const CONTESTED_VALUE = 42_000n;

describe("SettlementEscrow disputes and freezes", function () {
  /** Lot A (200 kg) delivered; the buyer rejected 50 kg of it within the window. */
  async function disputedFixture() {
    const f = await loadFixture(partlyDeliveredFixture);
    await f.escrow.connect(f.agents.buyer).reject(f.orderId, qty(50), REASON);
    return f;
  }

  /** Lot A delivered, then recalled by the seller; the order not yet frozen. */
  async function recalledFixture() {
    const f = await loadFixture(partlyDeliveredFixture);
    await f.provenance.connect(f.agents.seller).recall(f.lotIds.cheeseA, RECALL_REASON);
    return f;
  }

  /** An order without an arbiter (id 2), funded, lot E (50 kg) sold and delivered, then recalled, and frozen. */
  async function frozenWithoutArbiterFixture() {
    const f = await loadFixture(fundedOrderFixture);
    const unarbitrated = await f.fundedOrder({ arbiter: 0n });
    await f.deliver(unarbitrated, [await f.handOver(f.lotIds.cheeseE)]);
    await f.provenance.connect(f.agents.seller).recall(f.lotIds.cheeseE, RECALL_REASON);
    await f.escrow.freeze(unarbitrated, f.lotIds.cheeseE);
    return { ...f, unarbitrated };
  }

  describe("reject", function () {
    it("opens a dispute over the rejected quantity with the buyer's reason", async function () {
      const { escrow, agents, orderId } = await loadFixture(partlyDeliveredFixture);
      await expect(escrow.connect(agents.buyer).reject(orderId, qty(50), REASON))
        .to.emit(escrow, "DeliveryRejected")
        .withArgs(orderId, qty(50), REASON, anyValue);
    });

    it("marks the order disputed with the rejected quantity contested", async function () {
      const { escrow, agents, orderId } = await loadFixture(partlyDeliveredFixture);
      await expect(escrow.connect(agents.buyer).reject(orderId, qty(50), REASON))
        .to.emit(escrow, "OrderStatusChanged")
        .withArgs(orderId, OrderStatus.Disputed);
      const o = await escrow.order(orderId);
      expect([o.status, o.contested]).to.deep.equal([OrderStatus.Disputed, qty(50)]);
    });

    it("accepts the rejection of everything delivered and unpaid", async function () {
      const { escrow, agents, orderId } = await loadFixture(partlyDeliveredFixture);
      await expect(escrow.connect(agents.buyer).reject(orderId, qty(200), REASON))
        .to.emit(escrow, "DeliveryRejected")
        .withArgs(orderId, qty(200), REASON, anyValue);
    });

    it("refuses to reject nothing", async function () {
      const { escrow, agents, orderId } = await loadFixture(partlyDeliveredFixture);
      await expect(escrow.connect(agents.buyer).reject(orderId, 0n, REASON))
        .to.be.revertedWithCustomError(escrow, "SettlementInvalidQuantity")
        .withArgs(orderId, 0n);
    });

    it("refuses to reject more than was delivered", async function () {
      const { escrow, agents, orderId } = await loadFixture(partlyDeliveredFixture);
      await expect(escrow.connect(agents.buyer).reject(orderId, qty(200) + 1n, REASON))
        .to.be.revertedWithCustomError(escrow, "SettlementInvalidQuantity")
        .withArgs(orderId, qty(200) + 1n);
    });

    it("refuses to reject what was already paid for", async function () {
      const { escrow, agents, outsider, sales, orderId, inspectionEnds } = await loadFixture(partlyDeliveredFixture);
      await time.increaseTo(inspectionEnds);
      await escrow.connect(outsider).release(orderId);
      await escrow.connect(agents.seller).deliver(orderId, [sales.cheeseC]);
      await expect(escrow.connect(agents.buyer).reject(orderId, qty(100) + 1n, REASON))
        .to.be.revertedWithCustomError(escrow, "SettlementInvalidQuantity")
        .withArgs(orderId, qty(100) + 1n);
    });

    it("lets the buyer dispute an order without an arbiter: governance decides, the seller cannot force payment", async function () {
      const { escrow, agents, orgs, governor, tokenAddress, lotIds, fundedOrder, handOver, deliver } = await loadFixture(fundedOrderFixture);
      const unarbitrated = await fundedOrder({ arbiter: 0n });
      await deliver(unarbitrated, [await handOver(lotIds.cheeseE)]);
      await escrow.connect(agents.buyer).reject(unarbitrated, qty(50), REASON);
      expect((await escrow.order(unarbitrated)).status).to.equal(OrderStatus.Disputed);
      await expect(escrow.connect(agents.seller).release(unarbitrated))
        .to.be.revertedWithCustomError(escrow, "SettlementWrongStatus")
        .withArgs(unarbitrated, OrderStatus.Disputed);
      await escrow.connect(governor).resolve(unarbitrated, 0);
      expect(await escrow.owed(tokenAddress, orgs.seller)).to.equal(0n);
    });

    it("sets the decision deadline to the order's dispute timeout from the rejection", async function () {
      const { escrow, agents, orderId } = await loadFixture(partlyDeliveredFixture);
      await escrow.connect(agents.buyer).reject(orderId, qty(50), REASON);
      expect((await escrow.order(orderId)).decideBy).to.equal(BigInt(await time.latest()) + BigInt(DISPUTE.timeout));
    });

    it("refuses once the inspection window is over", async function () {
      const { escrow, agents, orderId, inspectionEnds } = await loadFixture(partlyDeliveredFixture);
      await time.setNextBlockTimestamp(inspectionEnds);
      await expect(escrow.connect(agents.buyer).reject(orderId, qty(50), REASON))
        .to.be.revertedWithCustomError(escrow, "SettlementInspectionOver")
        .withArgs(orderId, inspectionEnds);
    });

    it("is still possible in the last second of the inspection window", async function () {
      const { escrow, agents, orderId, inspectionEnds } = await loadFixture(partlyDeliveredFixture);
      await time.setNextBlockTimestamp(inspectionEnds - 1n);
      await expect(escrow.connect(agents.buyer).reject(orderId, qty(50), REASON)).to.emit(escrow, "DeliveryRejected");
    });

    it("refuses the seller", async function () {
      const { escrow, registry, agents, orderId } = await loadFixture(partlyDeliveredFixture);
      await expect(escrow.connect(agents.seller).reject(orderId, qty(50), REASON))
        .to.be.revertedWithCustomError(registry, "IdentityUnauthorizedAgent")
        .withArgs(agents.seller.address, ROLE.buyer);
    });

    it("refuses a buyer agent of another organisation", async function () {
      const { escrow, agents, orgs, orderId } = await loadFixture(partlyDeliveredFixture);
      await expect(escrow.connect(agents.otherBuyer).reject(orderId, qty(50), REASON))
        .to.be.revertedWithCustomError(escrow, "SettlementNotBuyer")
        .withArgs(orderId, orgs.otherBuyer);
    });

    it("refuses an order nothing was delivered for", async function () {
      const { escrow, agents, orderId } = await loadFixture(fundedOrderFixture);
      await expect(escrow.connect(agents.buyer).reject(orderId, qty(50), REASON))
        .to.be.revertedWithCustomError(escrow, "SettlementWrongStatus")
        .withArgs(orderId, OrderStatus.Funded);
    });

    it("refuses an order already disputed", async function () {
      const { escrow, agents, orderId } = await loadFixture(disputedFixture);
      await expect(escrow.connect(agents.buyer).reject(orderId, qty(10), REASON))
        .to.be.revertedWithCustomError(escrow, "SettlementWrongStatus")
        .withArgs(orderId, OrderStatus.Disputed);
    });

    it("refuses an unknown order", async function () {
      const { escrow, agents } = await loadFixture(partlyDeliveredFixture);
      await expect(escrow.connect(agents.buyer).reject(UNKNOWN_ORDER, qty(50), REASON))
        .to.be.revertedWithCustomError(escrow, "SettlementUnknownOrder")
        .withArgs(UNKNOWN_ORDER);
    });
  });

  describe("resolve a dispute", function () {
    it("is done by an auditor agent of the order's arbiter", async function () {
      const { escrow, agents, orgs, orderId } = await loadFixture(disputedFixture);
      await expect(escrow.connect(agents.arbiter).resolve(orderId, 6_000))
        .to.emit(escrow, "DisputeResolved")
        .withArgs(orderId, orgs.arbiter, 6_000);
    });

    it("credits the seller the uncontested value plus its share of the contested value", async function () {
      const { orgs, escrow, agents, orderId } = await loadFixture(disputedFixture);
      // 150 kg uncontested (1,260.00) + 60 % of 50 kg (252.00).
      await expect(escrow.connect(agents.arbiter).resolve(orderId, 6_000))
        .to.emit(escrow, "Credited")
        .withArgs(orderId, orgs.seller, UNCONTESTED_VALUE + 25_200n, true);
    });

    it("credits the buyer everything else the order held", async function () {
      const { orgs, escrow, agents, orderId } = await loadFixture(disputedFixture);
      await expect(escrow.connect(agents.arbiter).resolve(orderId, 6_000))
        .to.emit(escrow, "Credited")
        .withArgs(orderId, orgs.buyer, ORDER_VALUE - UNCONTESTED_VALUE - 25_200n, false);
    });

    it("closes the order resolved, paid for everything delivered, with nothing held or contested", async function () {
      const { escrow, agents, orderId } = await loadFixture(disputedFixture);
      await expect(escrow.connect(agents.arbiter).resolve(orderId, 6_000))
        .to.emit(escrow, "OrderStatusChanged")
        .withArgs(orderId, OrderStatus.Resolved);
      const o = await escrow.order(orderId);
      expect([o.status, o.held, o.contested, o.paidQuantity]).to.deep.equal([OrderStatus.Resolved, 0n, 0n, qty(200)]);
    });

    it("gives the seller the whole contested value at 100 %", async function () {
      const { orgs, escrow, agents, tokenAddress, orderId } = await loadFixture(disputedFixture);
      await escrow.connect(agents.arbiter).resolve(orderId, MAX_SHARE_BPS);
      expect(await escrow.owed(tokenAddress, orgs.seller)).to.equal(UNCONTESTED_VALUE + CONTESTED_VALUE);
    });

    it("gives the seller only the uncontested value at 0 %", async function () {
      const { orgs, escrow, agents, tokenAddress, orderId } = await loadFixture(disputedFixture);
      await escrow.connect(agents.arbiter).resolve(orderId, 0);
      expect(await escrow.owed(tokenAddress, orgs.seller)).to.equal(UNCONTESTED_VALUE);
    });

    it("rounds the seller's share down to the cent, the buyer getting the remainder", async function () {
      const { orgs, escrow, agents, tokenAddress, orderId } = await loadFixture(disputedFixture);
      // 33.33 % of 420.00 EUR is 139.986 EUR: the seller gets 139.98.
      await escrow.connect(agents.arbiter).resolve(orderId, 3_333);
      expect([
        await escrow.owed(tokenAddress, orgs.seller),
        await escrow.owed(tokenAddress, orgs.buyer),
      ]).to.deep.equal([UNCONTESTED_VALUE + 13_998n, ORDER_VALUE - UNCONTESTED_VALUE - 13_998n]);
    });

    it("refuses a share above 100 %", async function () {
      const { escrow, agents, orderId } = await loadFixture(disputedFixture);
      await expect(escrow.connect(agents.arbiter).resolve(orderId, MAX_SHARE_BPS + 1))
        .to.be.revertedWithCustomError(escrow, "SettlementInvalidShare")
        .withArgs(MAX_SHARE_BPS + 1);
    });

    it("refuses an auditor of another organisation", async function () {
      const { escrow, agents, orderId } = await loadFixture(disputedFixture);
      await expect(escrow.connect(agents.otherAuditor).resolve(orderId, 6_000))
        .to.be.revertedWithCustomError(escrow, "SettlementNotArbiter")
        .withArgs(orderId, agents.otherAuditor.address);
    });

    it("refuses the seller", async function () {
      const { escrow, registry, agents, orderId } = await loadFixture(disputedFixture);
      await expect(escrow.connect(agents.seller).resolve(orderId, MAX_SHARE_BPS))
        .to.be.revertedWithCustomError(registry, "IdentityUnauthorizedAgent")
        .withArgs(agents.seller.address, ROLE.auditor);
    });

    it("refuses the arbiter organisation's admin, who is no auditor", async function () {
      const { escrow, registry, admins, orderId } = await loadFixture(disputedFixture);
      await expect(escrow.connect(admins.arbiter).resolve(orderId, 6_000))
        .to.be.revertedWithCustomError(registry, "IdentityUnauthorizedAgent")
        .withArgs(admins.arbiter.address, ROLE.auditor);
    });

    it("does not let governance overrule the order's arbiter", async function () {
      const { escrow, registry, governor, orderId } = await loadFixture(disputedFixture);
      await expect(escrow.connect(governor).resolve(orderId, 6_000))
        .to.be.revertedWithCustomError(registry, "IdentityUnauthorizedAgent")
        .withArgs(governor.address, ROLE.auditor);
    });

    it("lets governance decide once the arbiter organisation is suspended, so funds are never locked", async function () {
      const { escrow, registry, governor, orgs, orderId } = await loadFixture(disputedFixture);
      await registry.connect(governor).suspendOrganisation(orgs.arbiter, "accreditation withdrawn");
      await expect(escrow.connect(governor).resolve(orderId, 6_000)).to.emit(escrow, "DisputeResolved").withArgs(orderId, 0n, 6_000);
    });

    it("refuses an order not in dispute", async function () {
      const { escrow, agents, orderId } = await loadFixture(partlyDeliveredFixture);
      await expect(escrow.connect(agents.arbiter).resolve(orderId, 6_000))
        .to.be.revertedWithCustomError(escrow, "SettlementWrongStatus")
        .withArgs(orderId, OrderStatus.Delivered);
    });

    it("refuses a dispute already resolved", async function () {
      const { escrow, agents, orderId } = await loadFixture(disputedFixture);
      await escrow.connect(agents.arbiter).resolve(orderId, 6_000);
      await expect(escrow.connect(agents.arbiter).resolve(orderId, 6_000))
        .to.be.revertedWithCustomError(escrow, "SettlementWrongStatus")
        .withArgs(orderId, OrderStatus.Resolved);
    });

    it("refuses an unknown order as one in no status", async function () {
      const { escrow, agents } = await loadFixture(disputedFixture);
      await expect(escrow.connect(agents.arbiter).resolve(UNKNOWN_ORDER, 6_000))
        .to.be.revertedWithCustomError(escrow, "SettlementWrongStatus")
        .withArgs(UNKNOWN_ORDER, OrderStatus.None);
    });
  });

  describe("freeze", function () {
    it("freezes an order one of whose delivered batches was recalled, whoever calls", async function () {
      const { escrow, outsider, lotIds, orderId } = await loadFixture(recalledFixture);
      await expect(escrow.connect(outsider).freeze(orderId, lotIds.cheeseA))
        .to.emit(escrow, "OrderFrozen")
        .withArgs(orderId, lotIds.cheeseA, BigInt(await time.latest()) + 1n + BigInt(DISPUTE.timeout));
    });

    it("marks the order frozen with everything delivered and unpaid contested", async function () {
      const { escrow, outsider, lotIds, orderId } = await loadFixture(recalledFixture);
      await expect(escrow.connect(outsider).freeze(orderId, lotIds.cheeseA))
        .to.emit(escrow, "OrderStatusChanged")
        .withArgs(orderId, OrderStatus.Frozen);
      const o = await escrow.order(orderId);
      expect([o.status, o.contested]).to.deep.equal([OrderStatus.Frozen, qty(200)]);
    });

    it("freezes on a batch recalled by propagation from its lot", async function () {
      const { escrow, provenance, agents, lotIds, handOver, deliver, orderId } = await loadFixture(partlyDeliveredFixture);
      const sale = await handOver(lotIds.cheeseE, qty(20));
      const portion = sale.batchId;
      await deliver(orderId, [sale]);
      await provenance.connect(agents.seller).recall(lotIds.cheeseE, RECALL_REASON);
      await provenance.propagateRecall([lotIds.cheeseE], [portion]);
      await expect(escrow.freeze(orderId, portion)).to.emit(escrow, "OrderFrozen").withArgs(orderId, portion, anyValue);
    });

    it("freezes on a batch two generations down a recalled lot", async function () {
      const { escrow, provenance, agents, lotIds, handOver, deliver, orderId } = await loadFixture(partlyDeliveredFixture);
      // The dairy splits 30 kg off lot E and hands 10 kg of that portion to the buyer.
      await provenance.connect(agents.seller).split(lotIds.cheeseE, [qty(30)]);
      const portion = portionIdOf(lotIds.cheeseE, 0);
      const sale = await handOver(portion, qty(10));
      const delivered = sale.batchId;
      await deliver(orderId, [sale]);
      await provenance.connect(agents.seller).recall(lotIds.cheeseE, RECALL_REASON);
      await provenance.propagateRecall([lotIds.cheeseE], [portion]);
      await provenance.propagateRecall([portion], [delivered]);
      await expect(escrow.freeze(orderId, delivered)).to.emit(escrow, "OrderFrozen").withArgs(orderId, delivered, anyValue);
    });

    it("freezes on a delivered portion of a recalled lot before the recall is propagated to it", async function () {
      const { escrow, provenance, agents, lotIds, handOver, deliver, orderId } = await loadFixture(partlyDeliveredFixture);
      const sale = await handOver(lotIds.cheeseE, qty(20));
      await deliver(orderId, [sale]);
      await provenance.connect(agents.seller).recall(lotIds.cheeseE, RECALL_REASON);
      await expect(escrow.freeze(orderId, sale.batchId)).to.emit(escrow, "OrderFrozen").withArgs(orderId, sale.batchId, anyValue);
      expect((await escrow.order(orderId)).status).to.equal(OrderStatus.Frozen);
    });

    it("freezes for a recalled portion the buyer split off a delivered batch", async function () {
      const { escrow, provenance, agents, lotIds, orderId } = await loadFixture(partlyDeliveredFixture);
      await provenance.connect(agents.buyer).split(lotIds.cheeseA, [qty(40)]);
      const piece = portionIdOf(lotIds.cheeseA, 0);
      await provenance.connect(agents.seller).recall(piece, RECALL_REASON);
      expect(await provenance.isRecalled(lotIds.cheeseA)).to.equal(false);
      await expect(escrow.freeze(orderId, piece)).to.emit(escrow, "OrderFrozen").withArgs(orderId, piece, anyValue);
      const o = await escrow.order(orderId);
      expect([o.status, o.contested]).to.deep.equal([OrderStatus.Frozen, qty(200)]);
    });

    it("freezes an order under dispute, contesting everything unpaid", async function () {
      const { escrow, provenance, agents, lotIds, orderId } = await loadFixture(disputedFixture);
      await provenance.connect(agents.seller).recall(lotIds.cheeseA, RECALL_REASON);
      await escrow.freeze(orderId, lotIds.cheeseA);
      const o = await escrow.order(orderId);
      expect([o.status, o.contested]).to.deep.equal([OrderStatus.Frozen, qty(200)]);
    });

    it("contests only what is unpaid when the recalled batch was already paid for", async function () {
      const { escrow, provenance, agents, outsider, lotIds, sales, deliver, orderId, inspectionEnds } =
        await loadFixture(partlyDeliveredFixture);
      await time.increaseTo(inspectionEnds);
      await escrow.connect(outsider).release(orderId);
      await deliver(orderId, [sales.cheeseC]);
      await provenance.connect(agents.seller).recall(lotIds.cheeseA, RECALL_REASON);
      await escrow.freeze(orderId, lotIds.cheeseA);
      expect((await escrow.order(orderId)).contested).to.equal(qty(100));
    });

    it("refuses a batch that is not recalled", async function () {
      const { escrow, lotIds, orderId } = await loadFixture(partlyDeliveredFixture);
      await expect(escrow.freeze(orderId, lotIds.cheeseA))
        .to.be.revertedWithCustomError(escrow, "SettlementBatchNotRecalled")
        .withArgs(lotIds.cheeseA);
    });

    it("refuses a recalled batch not delivered for the order", async function () {
      const { escrow, provenance, agents, lotIds, orderId } = await loadFixture(partlyDeliveredFixture);
      await provenance.connect(agents.seller).recall(lotIds.cheeseB, RECALL_REASON);
      await expect(escrow.freeze(orderId, lotIds.cheeseB))
        .to.be.revertedWithCustomError(escrow, "SettlementBatchNotInOrder")
        .withArgs(lotIds.cheeseB, orderId);
    });

    it("refuses a recalled batch delivered for another order", async function () {
      const { escrow, provenance, agents, lotIds, fundedOrder, handOver, deliver, orderId } = await loadFixture(partlyDeliveredFixture);
      const second = await fundedOrder();
      await deliver(second, [await handOver(lotIds.cheeseE)]);
      await provenance.connect(agents.seller).recall(lotIds.cheeseE, RECALL_REASON);
      await expect(escrow.freeze(orderId, lotIds.cheeseE))
        .to.be.revertedWithCustomError(escrow, "SettlementBatchNotInOrder")
        .withArgs(lotIds.cheeseE, orderId);
    });

    it("refuses an order nothing was delivered for", async function () {
      const { escrow, lotIds, orderId } = await loadFixture(fundedOrderFixture);
      await expect(escrow.freeze(orderId, lotIds.cheeseA))
        .to.be.revertedWithCustomError(escrow, "SettlementWrongStatus")
        .withArgs(orderId, OrderStatus.Funded);
    });

    it("refuses an order already frozen", async function () {
      const { escrow, lotIds, orderId } = await loadFixture(recalledFixture);
      await escrow.freeze(orderId, lotIds.cheeseA);
      await expect(escrow.freeze(orderId, lotIds.cheeseA))
        .to.be.revertedWithCustomError(escrow, "SettlementWrongStatus")
        .withArgs(orderId, OrderStatus.Frozen);
    });

    it("refuses an order already completed", async function () {
      const { escrow, provenance, agents, lotIds, orderId } = await loadFixture(partlyDeliveredFixture);
      await escrow.connect(agents.buyer).acceptDelivery(orderId);
      await provenance.connect(agents.seller).recall(lotIds.cheeseA, RECALL_REASON);
      await expect(escrow.freeze(orderId, lotIds.cheeseA))
        .to.be.revertedWithCustomError(escrow, "SettlementWrongStatus")
        .withArgs(orderId, OrderStatus.Completed);
    });

    it("stops the buyer accepting the delivery", async function () {
      const { escrow, agents, lotIds, orderId } = await loadFixture(recalledFixture);
      await escrow.freeze(orderId, lotIds.cheeseA);
      await expect(escrow.connect(agents.buyer).acceptDelivery(orderId))
        .to.be.revertedWithCustomError(escrow, "SettlementWrongStatus")
        .withArgs(orderId, OrderStatus.Frozen);
    });

    it("stops the release after the inspection window", async function () {
      const { escrow, outsider, lotIds, orderId, inspectionEnds } = await loadFixture(recalledFixture);
      await escrow.freeze(orderId, lotIds.cheeseA);
      await time.increaseTo(inspectionEnds);
      await expect(escrow.connect(outsider).release(orderId))
        .to.be.revertedWithCustomError(escrow, "SettlementWrongStatus")
        .withArgs(orderId, OrderStatus.Frozen);
    });
  });

  describe("resolve a freeze", function () {
    it("lets the arbiter give the buyer back everything unpaid", async function () {
      const { orgs, escrow, agents, lotIds, orderId } = await loadFixture(recalledFixture);
      await escrow.freeze(orderId, lotIds.cheeseA);
      await expect(escrow.connect(agents.arbiter).resolve(orderId, 0))
        .to.emit(escrow, "Credited")
        .withArgs(orderId, orgs.buyer, ORDER_VALUE, false);
    });

    it("credits the seller nothing when its share is zero and nothing was uncontested", async function () {
      const { orgs, escrow, agents, tokenAddress, lotIds, orderId } = await loadFixture(recalledFixture);
      await escrow.freeze(orderId, lotIds.cheeseA);
      await escrow.connect(agents.arbiter).resolve(orderId, 0);
      expect(await escrow.owed(tokenAddress, orgs.seller)).to.equal(0n);
    });

    it("splits the contested value of a later delivery after the earlier one was paid", async function () {
      const { escrow, provenance, agents, orgs, outsider, lotIds, sales, deliver, tokenAddress, orderId, inspectionEnds } =
        await loadFixture(partlyDeliveredFixture);
      await time.increaseTo(inspectionEnds);
      await escrow.connect(outsider).release(orderId);
      await deliver(orderId, [sales.cheeseC]);
      await provenance.connect(agents.seller).recall(lotIds.cheeseC, RECALL_REASON);
      await escrow.freeze(orderId, lotIds.cheeseC);
      await escrow.connect(agents.arbiter).resolve(orderId, 5_000);
      // Lot A paid on release (1,680.00); half of lot C (420.00); the buyer gets the rest.
      expect([
        await escrow.owed(tokenAddress, orgs.seller),
        await escrow.owed(tokenAddress, orgs.buyer),
      ]).to.deep.equal([168_000n + 42_000n, ORDER_VALUE - 168_000n - 42_000n]);
    });

    it("lets governance resolve when the order has no arbiter", async function () {
      const { escrow, governor, unarbitrated } = await loadFixture(frozenWithoutArbiterFixture);
      await expect(escrow.connect(governor).resolve(unarbitrated, 2_500))
        .to.emit(escrow, "DisputeResolved")
        .withArgs(unarbitrated, 0n, 2_500);
    });

    it("credits the parties as governance decided", async function () {
      const { orgs, escrow, governor, tokenAddress, unarbitrated } = await loadFixture(frozenWithoutArbiterFixture);
      await escrow.connect(governor).resolve(unarbitrated, 2_500);
      // A quarter of lot E's 420.00.
      expect([
        await escrow.owed(tokenAddress, orgs.seller),
        await escrow.owed(tokenAddress, orgs.buyer),
      ]).to.deep.equal([10_500n, ORDER_VALUE - 10_500n]);
    });

    it("refuses an auditor when the order has no arbiter", async function () {
      const { escrow, agents, unarbitrated } = await loadFixture(frozenWithoutArbiterFixture);
      await expect(escrow.connect(agents.arbiter).resolve(unarbitrated, 2_500))
        .to.be.revertedWithCustomError(escrow, "SettlementNotArbiter")
        .withArgs(unarbitrated, agents.arbiter.address);
    });

    it("refuses anyone but governance when the order has no arbiter", async function () {
      const { escrow, outsider, unarbitrated } = await loadFixture(frozenWithoutArbiterFixture);
      await expect(escrow.connect(outsider).resolve(unarbitrated, 2_500))
        .to.be.revertedWithCustomError(escrow, "SettlementNotArbiter")
        .withArgs(unarbitrated, outsider.address);
    });
  });

  describe("a recall stops money", function () {
    it("refuses a release while a delivered batch is recalled, though nobody froze the order", async function () {
      const { escrow, outsider, orgs, tokenAddress, lotIds, orderId, inspectionEnds } = await loadFixture(recalledFixture);
      await time.increaseTo(inspectionEnds);
      await expect(escrow.connect(outsider).release(orderId))
        .to.be.revertedWithCustomError(escrow, "SettlementBatchRecalled")
        .withArgs(lotIds.cheeseA, lotIds.cheeseA);
      expect([(await escrow.order(orderId)).held, await escrow.owed(tokenAddress, orgs.seller)]).to.deep.equal([ORDER_VALUE, 0n]);
    });

    it("refuses the buyer's acceptance while a delivered batch is recalled", async function () {
      const { escrow, agents, lotIds, orderId } = await loadFixture(recalledFixture);
      await expect(escrow.connect(agents.buyer).acceptDelivery(orderId))
        .to.be.revertedWithCustomError(escrow, "SettlementBatchRecalled")
        .withArgs(lotIds.cheeseA, lotIds.cheeseA);
      expect((await escrow.order(orderId)).status).to.equal(OrderStatus.Delivered);
    });

    it("refuses a release while the lot a delivered portion was split off is recalled, unpropagated", async function () {
      const { escrow, provenance, agents, outsider, lotIds, handOver, deliver, orderId } = await loadFixture(partlyDeliveredFixture);
      const sale = await handOver(lotIds.cheeseE, qty(20));
      await deliver(orderId, [sale]);
      await provenance.connect(agents.seller).recall(lotIds.cheeseE, RECALL_REASON);
      await time.increaseTo((await escrow.order(orderId)).inspectionEnds);
      await expect(escrow.connect(outsider).release(orderId))
        .to.be.revertedWithCustomError(escrow, "SettlementBatchRecalled")
        .withArgs(sale.batchId, lotIds.cheeseE);
    });

    it("releases the other orders of the seller, untouched by the recall", async function () {
      const { escrow, provenance, agents, orgs, outsider, tokenAddress, lotIds, fundedOrder, handOver, deliver, orderId, inspectionEnds } =
        await loadFixture(partlyDeliveredFixture);
      const second = await fundedOrder();
      await deliver(second, [await handOver(lotIds.cheeseE)]);
      await provenance.connect(agents.seller).recall(lotIds.cheeseA, RECALL_REASON);
      await time.increaseTo((await escrow.order(second)).inspectionEnds);
      expect((await escrow.order(orderId)).inspectionEnds).to.equal(inspectionEnds);
      await escrow.connect(outsider).release(second);
      expect(await escrow.owed(tokenAddress, orgs.seller)).to.equal(42_000n);
      await expect(escrow.connect(outsider).release(orderId)).to.be.revertedWithCustomError(escrow, "SettlementBatchRecalled");
    });
  });

  describe("disputes always have a way out", function () {
    it("refuses an arbiter organisation governance does not allow to audit", async function () {
      const { escrow, orgs, createOrder } = await loadFixture(fundedOrderFixture);
      await expect(createOrder({ arbiter: orgs.otherBuyer }))
        .to.be.revertedWithCustomError(escrow, "SettlementArbiterNotAuditor")
        .withArgs(orgs.otherBuyer);
    });

    it("hands the decision to governance once governance no longer allows the arbiter to audit", async function () {
      const { escrow, registry, governor, agents, orderId } = await loadFixture(disputedFixture);
      await registry.connect(governor).setAllowedRoles((await escrow.order(orderId)).arbiter, 0n);
      await expect(escrow.connect(agents.arbiter).resolve(orderId, 6_000))
        .to.be.revertedWithCustomError(escrow, "SettlementNotArbiter")
        .withArgs(orderId, agents.arbiter.address);
      await expect(escrow.connect(governor).resolve(orderId, 6_000)).to.emit(escrow, "DisputeResolved").withArgs(orderId, 0n, 6_000);
      expect((await escrow.order(orderId)).status).to.equal(OrderStatus.Resolved);
    });

    it("falls back to the order's default split once the dispute timeout passed, whoever calls", async function () {
      const { escrow, outsider, orgs, tokenAddress, orderId } = await loadFixture(disputedFixture);
      await time.increaseTo((await escrow.order(orderId)).decideBy);
      await expect(escrow.connect(outsider).resolveAfterTimeout(orderId))
        .to.emit(escrow, "DisputeFellBack")
        .withArgs(orderId, DISPUTE.defaultShareBps);
      // 150 kg uncontested (1,260.00) + half of 50 kg (210.00); the buyer the rest.
      expect([
        (await escrow.order(orderId)).status,
        await escrow.owed(tokenAddress, orgs.seller),
        await escrow.owed(tokenAddress, orgs.buyer),
      ]).to.deep.equal([OrderStatus.Resolved, UNCONTESTED_VALUE + 21_000n, ORDER_VALUE - UNCONTESTED_VALUE - 21_000n]);
    });

    it("refuses the fallback before the dispute timeout: the arbiter decides first", async function () {
      const { escrow, outsider, orderId } = await loadFixture(disputedFixture);
      const { decideBy } = await escrow.order(orderId);
      await time.setNextBlockTimestamp(decideBy - 1n);
      await expect(escrow.connect(outsider).resolveAfterTimeout(orderId))
        .to.be.revertedWithCustomError(escrow, "SettlementDecisionNotDue")
        .withArgs(orderId, decideBy);
      expect((await escrow.order(orderId)).status).to.equal(OrderStatus.Disputed);
    });

    it("lets the arbiter still decide after the timeout until someone applies the fallback", async function () {
      const { escrow, agents, outsider, orderId } = await loadFixture(disputedFixture);
      await time.increaseTo((await escrow.order(orderId)).decideBy + 1n);
      await escrow.connect(agents.arbiter).resolve(orderId, 0);
      await expect(escrow.connect(outsider).resolveAfterTimeout(orderId))
        .to.be.revertedWithCustomError(escrow, "SettlementWrongStatus")
        .withArgs(orderId, OrderStatus.Resolved);
    });

    it("falls back for a freeze nobody decides, at the split the order's terms set", async function () {
      const { escrow, orgs, tokenAddress, lotIds, createOrder, fund, handOver, deliver, provenance, agents } = await loadFixture(fundedOrderFixture);
      const orderId = await createOrder({ defaultSellerShareBps: 0, disputeTimeout: 7 * 24 * 3600 });
      await fund(orderId);
      await deliver(orderId, [await handOver(lotIds.cheeseE)]);
      await provenance.connect(agents.seller).recall(lotIds.cheeseE, RECALL_REASON);
      await escrow.freeze(orderId, lotIds.cheeseE);
      await time.increase(7 * 24 * 3600);
      await escrow.resolveAfterTimeout(orderId);
      expect([await escrow.owed(tokenAddress, orgs.seller), await escrow.owed(tokenAddress, orgs.buyer)]).to.deep.equal([0n, ORDER_VALUE]);
    });

    it("refuses dispute terms without a timeout, with one above a year, or with a share above 100 %", async function () {
      const { escrow, createOrder } = await loadFixture(fundedOrderFixture);
      for (const bad of [{ disputeTimeout: 0 }, { disputeTimeout: 365 * 24 * 3600 + 1 }, { defaultSellerShareBps: MAX_SHARE_BPS + 1 }]) {
        await expect(createOrder(bad)).to.be.revertedWithCustomError(escrow, "SettlementInvalidTerms");
      }
    });
  });
});
