import { expect } from "chai";
import { encodeBytes32String } from "ethers";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { offered } from "../../helpers/provenance-fixture";
import {
  ANY_ROLE,
  DAY,
  fundedOrderFixture,
  Kind,
  LOT,
  lotIdOf,
  MAX_BATCHES_PER_DELIVERY,
  ORDER,
  OrderStatus,
  partlyDeliveredFixture,
  portionIdOf,
  PRODUCT,
  qty,
  ROLE,
} from "../../helpers/settlement-fixture";

const UNKNOWN_BATCH = encodeBytes32String("no such batch");
const UNKNOWN_ORDER = 99n;
const WINDOW = BigInt(ORDER.inspectionWindow);
const RECALL_REASON = "Listeria monocytogenes in brine sample";

describe("SettlementEscrow delivery", function () {
  /** The funded order plus a seller organisation's second agent. */
  async function secondSellerAgentFixture() {
    const f = await fundedOrderFixture();
    const [secondSellerAgent] = f.spare;
    await f.registry.connect(f.admins.seller).setAgent(secondSellerAgent.address, f.orgs.seller, ROLE.producer, 0);
    return { ...f, secondSellerAgent };
  }

  /** The funded order with 32 one-kilogram portions of a further lot in the buyer's hands. */
  async function manyPortionsFixture() {
    const f = await fundedOrderFixture();
    const lot = {
      gtin: PRODUCT.cheese.gtin,
      lot: "K2404-32",
      quantity: qty(32),
      gln: "",
      metadataHash: encodeBytes32String("32"),
    };
    await f.provenance.connect(f.agents.seller).registerLots([lot]);
    const parent = lotIdOf(PRODUCT.cheese.gtin, lot.lot);
    await f.provenance.connect(f.agents.seller).split(parent, Array(MAX_BATCHES_PER_DELIVERY - 1).fill(qty(1)));
    const portions = [parent, ...Array.from({ length: MAX_BATCHES_PER_DELIVERY - 1 }, (_, i) => portionIdOf(parent, i))];
    for (const portion of portions) await f.handOver(portion);
    return { ...f, portions };
  }

  describe("recording", function () {
    it("records each batch with its quantity and the end of the inspection window", async function () {
      const { escrow, agents, lotIds, orderId } = await loadFixture(fundedOrderFixture);
      const at = (await time.latest()) + 60;
      await time.setNextBlockTimestamp(at);
      await expect(escrow.connect(agents.seller).deliver(orderId, [lotIds.cheeseA, lotIds.cheeseC]))
        .to.emit(escrow, "DeliveryRecorded")
        .withArgs(orderId, lotIds.cheeseA, LOT.cheeseA.quantity, BigInt(at) + WINDOW)
        .and.to.emit(escrow, "DeliveryRecorded")
        .withArgs(orderId, lotIds.cheeseC, LOT.cheeseC.quantity, BigInt(at) + WINDOW);
    });

    it("marks the order delivered", async function () {
      const { escrow, agents, lotIds, orderId } = await loadFixture(fundedOrderFixture);
      await expect(escrow.connect(agents.seller).deliver(orderId, [lotIds.cheeseA]))
        .to.emit(escrow, "OrderStatusChanged")
        .withArgs(orderId, OrderStatus.Delivered);
    });

    it("adds up the delivered quantity and starts the inspection window", async function () {
      const { escrow, agents, lotIds, orderId } = await loadFixture(fundedOrderFixture);
      await escrow.connect(agents.seller).deliver(orderId, [lotIds.cheeseA, lotIds.cheeseB]);
      const o = await escrow.order(orderId);
      expect([o.status, o.delivered, o.inspectionEnds]).to.deep.equal([
        OrderStatus.Delivered,
        qty(400),
        BigInt(await time.latest()) + WINDOW,
      ]);
    });

    it("counts each batch toward the order", async function () {
      const { escrow, agents, lotIds, orderId } = await loadFixture(fundedOrderFixture);
      await escrow.connect(agents.seller).deliver(orderId, [lotIds.cheeseA, lotIds.cheeseB]);
      expect([await escrow.orderOfBatch(lotIds.cheeseA), await escrow.orderOfBatch(lotIds.cheeseB)]).to.deep.equal([
        orderId,
        orderId,
      ]);
    });

    it("records the delivering agent's wallet as the one the seller is paid to", async function () {
      const { escrow, agents, lotIds, orderId } = await loadFixture(fundedOrderFixture);
      await escrow.connect(agents.seller).deliver(orderId, [lotIds.cheeseA]);
      expect((await escrow.order(orderId)).sellerWallet).to.equal(agents.seller.address);
    });

    it("keeps the first delivering wallet when another agent of the seller delivers later", async function () {
      const { escrow, agents, lotIds, orderId, secondSellerAgent } = await loadFixture(secondSellerAgentFixture);
      await escrow.connect(agents.seller).deliver(orderId, [lotIds.cheeseA]);
      await escrow.connect(secondSellerAgent).deliver(orderId, [lotIds.cheeseB]);
      expect((await escrow.order(orderId)).sellerWallet).to.equal(agents.seller.address);
    });

    it("adds a later delivery to the quantity and restarts the inspection window", async function () {
      const { escrow, agents, lotIds, orderId } = await loadFixture(partlyDeliveredFixture);
      await time.increase(DAY);
      await escrow.connect(agents.seller).deliver(orderId, [lotIds.cheeseB]);
      const o = await escrow.order(orderId);
      expect([o.delivered, o.inspectionEnds]).to.deep.equal([qty(400), BigInt(await time.latest()) + WINDOW]);
    });

    it("does not announce the status again on a later delivery", async function () {
      const { escrow, agents, lotIds, orderId } = await loadFixture(partlyDeliveredFixture);
      await expect(escrow.connect(agents.seller).deliver(orderId, [lotIds.cheeseB])).not.to.emit(escrow, "OrderStatusChanged");
    });

    it("accepts a delivery in the second of the deadline", async function () {
      const { escrow, agents, lotIds, orderId, deadline } = await loadFixture(fundedOrderFixture);
      await time.setNextBlockTimestamp(deadline);
      await expect(escrow.connect(agents.seller).deliver(orderId, [lotIds.cheeseA])).to.emit(escrow, "DeliveryRecorded");
    });

    it("counts a portion the buyer received from a partial hand-over", async function () {
      const { escrow, agents, lotIds, handOver, orderId } = await loadFixture(fundedOrderFixture);
      const portion = await handOver(lotIds.cheeseE, qty(20));
      const at = (await time.latest()) + 60;
      await time.setNextBlockTimestamp(at);
      await expect(escrow.connect(agents.seller).deliver(orderId, [portion]))
        .to.emit(escrow, "DeliveryRecorded")
        .withArgs(orderId, portionIdOf(lotIds.cheeseE, 0), qty(20), BigInt(at) + WINDOW);
    });

    it("counts a batch whose custody, not ownership, passed to the buyer", async function () {
      const { escrow, provenance, agents, orgs, lotIds, orderId } = await loadFixture(fundedOrderFixture);
      await provenance.connect(agents.seller).offer(lotIds.cheeseE, LOT.cheeseE.quantity, orgs.buyer, Kind.Custody);
      await provenance.connect(agents.buyer).accept(...(await offered(provenance, lotIds.cheeseE)), "");
      await expect(escrow.connect(agents.seller).deliver(orderId, [lotIds.cheeseE])).to.emit(escrow, "DeliveryRecorded");
    });

    it("counts more than was ordered (the excess is never paid)", async function () {
      const { escrow, agents, lotIds, orderId } = await loadFixture(fundedOrderFixture);
      await escrow.connect(agents.seller).deliver(orderId, [lotIds.cheeseA, lotIds.cheeseB, lotIds.cheeseC, lotIds.cheeseD]);
      expect((await escrow.order(orderId)).delivered).to.equal(qty(650));
    });

    it("accepts as many batches as the limit allows in one call", async function () {
      const { escrow, agents, portions, orderId } = await loadFixture(manyPortionsFixture);
      await escrow.connect(agents.seller).deliver(orderId, portions);
      expect((await escrow.order(orderId)).delivered).to.equal(qty(32));
    });
  });

  describe("refusals", function () {
    it("refuses the buyer's agent", async function () {
      const { escrow, agents, orgs, lotIds, orderId } = await loadFixture(fundedOrderFixture);
      await expect(escrow.connect(agents.buyer).deliver(orderId, [lotIds.cheeseA]))
        .to.be.revertedWithCustomError(escrow, "SettlementNotSeller")
        .withArgs(orderId, orgs.buyer);
    });

    it("refuses an agent of an organisation not party to the order", async function () {
      const { escrow, agents, orgs, lotIds, orderId } = await loadFixture(fundedOrderFixture);
      await expect(escrow.connect(agents.otherBuyer).deliver(orderId, [lotIds.cheeseA]))
        .to.be.revertedWithCustomError(escrow, "SettlementNotSeller")
        .withArgs(orderId, orgs.otherBuyer);
    });

    it("refuses an unbound wallet", async function () {
      const { escrow, registry, outsider, lotIds, orderId } = await loadFixture(fundedOrderFixture);
      await expect(escrow.connect(outsider).deliver(orderId, [lotIds.cheeseA]))
        .to.be.revertedWithCustomError(registry, "IdentityUnauthorizedAgent")
        .withArgs(outsider.address, ANY_ROLE);
    });

    it("refuses a batch of another product", async function () {
      const { escrow, agents, lotIds, orderId } = await loadFixture(fundedOrderFixture);
      await expect(escrow.connect(agents.seller).deliver(orderId, [lotIds.butter]))
        .to.be.revertedWithCustomError(escrow, "SettlementWrongGtin")
        .withArgs(lotIds.butter, PRODUCT.butter.gtin);
    });

    it("refuses a batch unknown to the registry as one of no product", async function () {
      const { escrow, agents, orderId } = await loadFixture(fundedOrderFixture);
      await expect(escrow.connect(agents.seller).deliver(orderId, [UNKNOWN_BATCH]))
        .to.be.revertedWithCustomError(escrow, "SettlementWrongGtin")
        .withArgs(UNKNOWN_BATCH, 0n);
    });

    it("refuses a batch still at the seller's", async function () {
      const { escrow, agents, orgs, lotIds, orderId } = await loadFixture(fundedOrderFixture);
      await expect(escrow.connect(agents.seller).deliver(orderId, [lotIds.cheeseE]))
        .to.be.revertedWithCustomError(escrow, "SettlementNotInBuyerCustody")
        .withArgs(lotIds.cheeseE, orgs.seller);
    });

    it("refuses a batch offered to the buyer but not yet accepted", async function () {
      const { escrow, provenance, agents, orgs, lotIds, orderId } = await loadFixture(fundedOrderFixture);
      await provenance.connect(agents.seller).offer(lotIds.cheeseE, LOT.cheeseE.quantity, orgs.buyer, Kind.Both);
      await expect(escrow.connect(agents.seller).deliver(orderId, [lotIds.cheeseE]))
        .to.be.revertedWithCustomError(escrow, "SettlementNotInBuyerCustody")
        .withArgs(lotIds.cheeseE, orgs.seller);
    });

    it("refuses a batch handed to another buyer", async function () {
      const { escrow, agents, orgs, lotIds, handOver, orderId } = await loadFixture(fundedOrderFixture);
      await handOver(lotIds.cheeseE, undefined, "otherBuyer");
      await expect(escrow.connect(agents.seller).deliver(orderId, [lotIds.cheeseE]))
        .to.be.revertedWithCustomError(escrow, "SettlementNotInBuyerCustody")
        .withArgs(lotIds.cheeseE, orgs.otherBuyer);
    });

    it("refuses a recalled batch", async function () {
      const { escrow, provenance, agents, lotIds, orderId } = await loadFixture(fundedOrderFixture);
      await provenance.connect(agents.seller).recall(lotIds.cheeseA, RECALL_REASON);
      await expect(escrow.connect(agents.seller).deliver(orderId, [lotIds.cheeseA]))
        .to.be.revertedWithCustomError(escrow, "SettlementBatchRecalled")
        .withArgs(lotIds.cheeseA);
    });

    it("refuses a portion recalled by propagation from its lot", async function () {
      const { escrow, provenance, agents, lotIds, handOver, orderId } = await loadFixture(fundedOrderFixture);
      const portion = await handOver(lotIds.cheeseE, qty(20));
      await provenance.connect(agents.seller).recall(lotIds.cheeseE, RECALL_REASON);
      await provenance.propagateRecall([lotIds.cheeseE], [portion]);
      await expect(escrow.connect(agents.seller).deliver(orderId, [portion]))
        .to.be.revertedWithCustomError(escrow, "SettlementBatchRecalled")
        .withArgs(portion);
    });

    it("refuses the same batch twice in one call", async function () {
      const { escrow, agents, lotIds, orderId } = await loadFixture(fundedOrderFixture);
      await expect(escrow.connect(agents.seller).deliver(orderId, [lotIds.cheeseA, lotIds.cheeseA]))
        .to.be.revertedWithCustomError(escrow, "SettlementBatchAlreadyCounted")
        .withArgs(lotIds.cheeseA, orderId);
    });

    it("refuses a batch already counted by an earlier delivery", async function () {
      const { escrow, agents, lotIds, orderId } = await loadFixture(partlyDeliveredFixture);
      await expect(escrow.connect(agents.seller).deliver(orderId, [lotIds.cheeseB, lotIds.cheeseA]))
        .to.be.revertedWithCustomError(escrow, "SettlementBatchAlreadyCounted")
        .withArgs(lotIds.cheeseA, orderId);
    });

    it("refuses a portion the buyer split off a counted batch: the same goods are never paid twice", async function () {
      const { escrow, provenance, agents, lotIds, fundedOrder, orderId } = await loadFixture(partlyDeliveredFixture);
      await provenance.connect(agents.buyer).split(lotIds.cheeseA, [qty(50)]);
      const piece = await provenance.portionId(lotIds.cheeseA, 0);
      expect(await provenance.parentOf(piece)).to.equal(lotIds.cheeseA);
      const second = await fundedOrder();
      await expect(escrow.connect(agents.seller).deliver(second, [piece]))
        .to.be.revertedWithCustomError(escrow, "SettlementBatchAlreadyCounted")
        .withArgs(lotIds.cheeseA, orderId);
    });

    it("refuses a batch already counted toward another order, naming that order", async function () {
      const { escrow, agents, lotIds, fundedOrder, orderId } = await loadFixture(partlyDeliveredFixture);
      const second = await fundedOrder();
      await expect(escrow.connect(agents.seller).deliver(second, [lotIds.cheeseA]))
        .to.be.revertedWithCustomError(escrow, "SettlementBatchAlreadyCounted")
        .withArgs(lotIds.cheeseA, orderId);
    });

    it("records nothing of a call one of whose batches is refused", async function () {
      const { escrow, agents, orgs, lotIds, orderId } = await loadFixture(fundedOrderFixture);
      await expect(escrow.connect(agents.seller).deliver(orderId, [lotIds.cheeseB, lotIds.cheeseE]))
        .to.be.revertedWithCustomError(escrow, "SettlementNotInBuyerCustody")
        .withArgs(lotIds.cheeseE, orgs.seller);
      expect([await escrow.orderOfBatch(lotIds.cheeseB), (await escrow.order(orderId)).delivered]).to.deep.equal([0n, 0n]);
    });

    it("refuses a delivery after the deadline", async function () {
      const { escrow, agents, lotIds, orderId, deadline } = await loadFixture(fundedOrderFixture);
      await time.increaseTo(deadline + 1n);
      await expect(escrow.connect(agents.seller).deliver(orderId, [lotIds.cheeseA]))
        .to.be.revertedWithCustomError(escrow, "SettlementDeadlinePassed")
        .withArgs(orderId, deadline);
    });

    it("refuses more batches than the limit in one call", async function () {
      const { escrow, agents, orderId } = await loadFixture(fundedOrderFixture);
      const ids = Array.from({ length: MAX_BATCHES_PER_DELIVERY + 1 }, (_, i) => encodeBytes32String(`batch ${i}`));
      await expect(escrow.connect(agents.seller).deliver(orderId, ids))
        .to.be.revertedWithCustomError(escrow, "SettlementTooManyBatches")
        .withArgs(MAX_BATCHES_PER_DELIVERY + 1, MAX_BATCHES_PER_DELIVERY);
    });

    it("refuses a delivery of no batch", async function () {
      const { escrow, agents, orderId } = await loadFixture(fundedOrderFixture);
      await expect(escrow.connect(agents.seller).deliver(orderId, []))
        .to.be.revertedWithCustomError(escrow, "SettlementTooManyBatches")
        .withArgs(0n, MAX_BATCHES_PER_DELIVERY);
    });

    it("refuses an order not yet funded", async function () {
      const { escrow, agents, lotIds, createOrder } = await loadFixture(fundedOrderFixture);
      const unfunded = await createOrder();
      await expect(escrow.connect(agents.seller).deliver(unfunded, [lotIds.cheeseA]))
        .to.be.revertedWithCustomError(escrow, "SettlementWrongStatus")
        .withArgs(unfunded, OrderStatus.Created);
    });

    it("refuses a cancelled order", async function () {
      const { escrow, agents, lotIds, createOrder } = await loadFixture(fundedOrderFixture);
      const cancelled = await createOrder();
      await escrow.connect(agents.buyer).cancel(cancelled);
      await expect(escrow.connect(agents.seller).deliver(cancelled, [lotIds.cheeseA]))
        .to.be.revertedWithCustomError(escrow, "SettlementWrongStatus")
        .withArgs(cancelled, OrderStatus.Cancelled);
    });

    it("refuses an order under dispute", async function () {
      const { escrow, agents, lotIds, orderId } = await loadFixture(partlyDeliveredFixture);
      await escrow.connect(agents.buyer).reject(orderId, qty(10), "rind damage");
      await expect(escrow.connect(agents.seller).deliver(orderId, [lotIds.cheeseB]))
        .to.be.revertedWithCustomError(escrow, "SettlementWrongStatus")
        .withArgs(orderId, OrderStatus.Disputed);
    });

    it("refuses a completed order", async function () {
      const { escrow, agents, lotIds, orderId } = await loadFixture(partlyDeliveredFixture);
      await escrow.connect(agents.buyer).acceptDelivery(orderId);
      await expect(escrow.connect(agents.seller).deliver(orderId, [lotIds.cheeseB]))
        .to.be.revertedWithCustomError(escrow, "SettlementWrongStatus")
        .withArgs(orderId, OrderStatus.Completed);
    });

    it("refuses an unknown order as one in no status", async function () {
      const { escrow, agents, lotIds } = await loadFixture(fundedOrderFixture);
      await expect(escrow.connect(agents.seller).deliver(UNKNOWN_ORDER, [lotIds.cheeseA]))
        .to.be.revertedWithCustomError(escrow, "SettlementWrongStatus")
        .withArgs(UNKNOWN_ORDER, OrderStatus.None);
    });
  });
});
