import { expect } from "chai";
import { encodeBytes32String } from "ethers";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import {
  ANY_ROLE,
  bindAgent,
  DAY,
  eur,
  fundedOrderFixture,
  Kind,
  LOT,
  lotIdOf,
  MAX_BATCHES_PER_DELIVERY,
  ORDER,
  OrderStatus,
  partlyDeliveredFixture,
  PRODUCT,
  qty,
  ROLE,
  type Sale,
} from "../../helpers/settlement-fixture";

const UNKNOWN_ORDER = 99n;
const WINDOW = BigInt(ORDER.inspectionWindow);
const RECALL_REASON = "Listeria monocytogenes in brine sample";
const NO_SALE = 2n ** 40n;

describe("SettlementEscrow delivery", function () {
  /** The funded order plus a seller organisation's second agent. */
  async function secondSellerAgentFixture() {
    const f = await loadFixture(fundedOrderFixture);
    const [secondSellerAgent] = f.spare;
    await bindAgent(f.registry, f.admins.seller, secondSellerAgent, f.orgs.seller, ROLE.producer);
    return { ...f, secondSellerAgent };
  }

  /** The funded order with 32 one-kilogram portions of a further lot sold to the buyer. */
  async function manyPortionsFixture() {
    const f = await loadFixture(fundedOrderFixture);
    const lot = { gtin: PRODUCT.cheese.gtin, lot: "K2404-32", quantity: qty(32), gln: "", metadataHash: encodeBytes32String("32") };
    await f.provenance.connect(f.agents.seller).registerLots([lot]);
    const parent = lotIdOf(PRODUCT.cheese.gtin, lot.lot);
    const portions: Sale[] = [];
    for (let i = 0; i < MAX_BATCHES_PER_DELIVERY - 1; i++) portions.push(await f.handOver(parent, qty(1)));
    portions.push(await f.handOver(parent));
    return { ...f, portions };
  }

  /** The funded order; the other buyer holds 10,000.00 LEUR to order from the buyer (a distributor). */
  async function resaleFixture() {
    const f = await loadFixture(fundedOrderFixture);
    await f.token.connect(f.governor).mint(f.agents.otherBuyer.address, eur(10_000));
    /** The other buyer orders 100 kg of cheese from the buyer and funds it. */
    async function resaleOrder(seller: bigint = f.orgs.buyer): Promise<bigint> {
      const orderId = await f.createOrder({ seller, quantity: qty(100) }, f.agents.otherBuyer);
      await f.fund(orderId, f.agents.otherBuyer);
      return orderId;
    }
    return { ...f, resaleOrder };
  }

  describe("recording", function () {
    it("records each sale with its quantity, its index and the end of the inspection window", async function () {
      const { escrow, agents, sales, orderId } = await loadFixture(fundedOrderFixture);
      const at = (await time.latest()) + 60;
      await time.setNextBlockTimestamp(at);
      await expect(escrow.connect(agents.seller).deliver(orderId, [sales.cheeseA, sales.cheeseC]))
        .to.emit(escrow, "DeliveryRecorded")
        .withArgs(orderId, sales.cheeseA.batchId, sales.cheeseA.index, LOT.cheeseA.quantity, BigInt(at) + WINDOW)
        .and.to.emit(escrow, "DeliveryRecorded")
        .withArgs(orderId, sales.cheeseC.batchId, sales.cheeseC.index, LOT.cheeseC.quantity, BigInt(at) + WINDOW);
    });

    it("marks the order delivered", async function () {
      const { escrow, agents, sales, orderId } = await loadFixture(fundedOrderFixture);
      await expect(escrow.connect(agents.seller).deliver(orderId, [sales.cheeseA]))
        .to.emit(escrow, "OrderStatusChanged")
        .withArgs(orderId, OrderStatus.Delivered);
    });

    it("adds up the delivered quantity and starts the inspection window", async function () {
      const { escrow, agents, sales, orderId } = await loadFixture(fundedOrderFixture);
      await escrow.connect(agents.seller).deliver(orderId, [sales.cheeseA, sales.cheeseB]);
      const o = await escrow.order(orderId);
      expect([o.status, o.delivered, o.inspectionEnds]).to.deep.equal([OrderStatus.Delivered, qty(400), BigInt(await time.latest()) + WINDOW]);
    });

    it("claims each sale for the order and lists the order's delivered batches", async function () {
      const { escrow, agents, sales, lotIds, orderId } = await loadFixture(fundedOrderFixture);
      await escrow.connect(agents.seller).deliver(orderId, [sales.cheeseA, sales.cheeseB]);
      expect([
        await escrow.orderOfSale(sales.cheeseA.batchId, sales.cheeseA.index),
        await escrow.orderOfSale(sales.cheeseB.batchId, sales.cheeseB.index),
        await escrow.orderOfSale(sales.cheeseC.batchId, sales.cheeseC.index),
      ]).to.deep.equal([orderId, orderId, 0n]);
      expect(await escrow.deliveredBatches(orderId)).to.deep.equal([lotIds.cheeseA, lotIds.cheeseB]);
    });

    it("lets any agent of the seller deliver", async function () {
      const { escrow, agents, sales, orderId, secondSellerAgent } = await loadFixture(secondSellerAgentFixture);
      await escrow.connect(agents.seller).deliver(orderId, [sales.cheeseA]);
      await escrow.connect(secondSellerAgent).deliver(orderId, [sales.cheeseB]);
      expect((await escrow.order(orderId)).delivered).to.equal(qty(400));
    });

    it("adds a later delivery to the quantity and restarts the inspection window", async function () {
      const { escrow, agents, sales, orderId } = await loadFixture(partlyDeliveredFixture);
      await time.increase(DAY);
      await escrow.connect(agents.seller).deliver(orderId, [sales.cheeseB]);
      const o = await escrow.order(orderId);
      expect([o.delivered, o.inspectionEnds]).to.deep.equal([qty(400), BigInt(await time.latest()) + WINDOW]);
    });

    it("does not announce the status again on a later delivery", async function () {
      const { escrow, agents, sales, orderId } = await loadFixture(partlyDeliveredFixture);
      await expect(escrow.connect(agents.seller).deliver(orderId, [sales.cheeseB])).not.to.emit(escrow, "OrderStatusChanged");
    });

    it("accepts a delivery in the second of the deadline", async function () {
      const { escrow, agents, sales, orderId, deadline } = await loadFixture(fundedOrderFixture);
      await time.setNextBlockTimestamp(deadline);
      await expect(escrow.connect(agents.seller).deliver(orderId, [sales.cheeseA])).to.emit(escrow, "DeliveryRecorded");
    });

    it("counts the portion sold in a partial hand-over, for the quantity sold", async function () {
      const { escrow, agents, lotIds, handOver, orderId } = await loadFixture(fundedOrderFixture);
      const sale = await handOver(lotIds.cheeseE, qty(20));
      expect(sale.batchId).to.not.equal(lotIds.cheeseE);
      await escrow.connect(agents.seller).deliver(orderId, [sale]);
      expect((await escrow.order(orderId)).delivered).to.equal(qty(20));
    });

    it("counts a sale of ownership alone (the seller still stores the goods for the buyer)", async function () {
      const { escrow, agents, lotIds, handOver, orderId } = await loadFixture(fundedOrderFixture);
      const sale = await handOver(lotIds.cheeseE, undefined, "buyer", "seller", Kind.Ownership);
      await escrow.connect(agents.seller).deliver(orderId, [sale]);
      expect((await escrow.order(orderId)).delivered).to.equal(LOT.cheeseE.quantity);
    });

    it("counts more than was ordered (the excess is never paid)", async function () {
      const { escrow, agents, sales, orderId } = await loadFixture(fundedOrderFixture);
      await escrow.connect(agents.seller).deliver(orderId, [sales.cheeseA, sales.cheeseB, sales.cheeseC, sales.cheeseD]);
      expect((await escrow.order(orderId)).delivered).to.equal(qty(650));
    });

    it("accepts as many sales as the limit allows in one call", async function () {
      const { escrow, agents, portions, orderId } = await loadFixture(manyPortionsFixture);
      await escrow.connect(agents.seller).deliver(orderId, portions);
      expect((await escrow.order(orderId)).delivered).to.equal(qty(32));
    });
  });

  describe("what is not a delivery", function () {
    it("refuses goods the buyer holds only in custody: custody alone is not a sale", async function () {
      const { escrow, agents, lotIds, handOver, orderId } = await loadFixture(fundedOrderFixture);
      const custody = await handOver(lotIds.cheeseE, undefined, "buyer", "seller", Kind.Custody);
      expect(custody.index).to.equal(-1n);
      await expect(escrow.connect(agents.seller).deliver(orderId, [{ batchId: lotIds.cheeseE, index: 0n }]))
        .to.be.revertedWithCustomError(escrow, "SettlementUnknownSale")
        .withArgs(lotIds.cheeseE, 0n);
      expect((await escrow.order(orderId)).delivered).to.equal(0n);
    });

    it("refuses goods offered to the buyer but not yet accepted (in transit)", async function () {
      const { escrow, provenance, agents, orgs, lotIds, orderId } = await loadFixture(fundedOrderFixture);
      await provenance.connect(agents.seller).offer(lotIds.cheeseE, LOT.cheeseE.quantity, orgs.buyer, Kind.Both);
      await expect(escrow.connect(agents.seller).deliver(orderId, [{ batchId: lotIds.cheeseE, index: NO_SALE }]))
        .to.be.revertedWithCustomError(escrow, "SettlementUnknownSale")
        .withArgs(lotIds.cheeseE, NO_SALE);
    });

    it("refuses the buyer's own stock bought from the seller before the order was funded", async function () {
      const { escrow, provenance, agents, sales, fundedOrder } = await loadFixture(fundedOrderFixture);
      await time.increase(60);
      const later = await fundedOrder();
      const o = await escrow.order(later);
      const sold = await provenance.transfer(sales.cheeseA.batchId, sales.cheeseA.index);
      await expect(escrow.connect(agents.seller).deliver(later, [sales.cheeseA]))
        .to.be.revertedWithCustomError(escrow, "SettlementSaleBeforeFunding")
        .withArgs(sales.cheeseA.batchId, sales.cheeseA.index, sold[2], o.fundedAt); // sold[2]: `at` (Result.at is Array's)
    });

    it("refuses another supplier's lot that the buyer bought, named by the seller", async function () {
      const { escrow, agents, orgs, lotIds, handOver, orderId } = await loadFixture(fundedOrderFixture);
      await handOver(lotIds.cheeseE, undefined, "otherBuyer");
      const fromOther = await handOver(lotIds.cheeseE, undefined, "buyer", "otherBuyer");
      await expect(escrow.connect(agents.seller).deliver(orderId, [fromOther]))
        .to.be.revertedWithCustomError(escrow, "SettlementSaleNotFromSeller")
        .withArgs(fromOther.batchId, fromOther.index, orgs.otherBuyer);
    });

    it("refuses goods the buyer stores for a third party, who bought them", async function () {
      const { escrow, agents, orgs, lotIds, handOver, orderId } = await loadFixture(fundedOrderFixture);
      const toOther = await handOver(lotIds.cheeseE, undefined, "otherBuyer");
      await handOver(lotIds.cheeseE, undefined, "buyer", "otherBuyer", Kind.Custody);
      await expect(escrow.connect(agents.seller).deliver(orderId, [toOther]))
        .to.be.revertedWithCustomError(escrow, "SettlementSaleNotToBuyer")
        .withArgs(toOther.batchId, toOther.index, orgs.otherBuyer);
    });

    it("refuses a made-up sale index", async function () {
      const { escrow, agents, lotIds, orderId } = await loadFixture(fundedOrderFixture);
      await expect(escrow.connect(agents.seller).deliver(orderId, [{ batchId: lotIds.cheeseA, index: NO_SALE }]))
        .to.be.revertedWithCustomError(escrow, "SettlementUnknownSale")
        .withArgs(lotIds.cheeseA, NO_SALE);
    });

    it("refuses a portion the buyer split off a delivered batch: no new sale from the seller", async function () {
      const { escrow, provenance, agents, sales, lotIds, fundedOrder } = await loadFixture(partlyDeliveredFixture);
      await provenance.connect(agents.buyer).split(lotIds.cheeseA, [qty(50)]);
      const piece = await provenance.portionId(lotIds.cheeseA, 0);
      const second = await fundedOrder();
      await expect(escrow.connect(agents.seller).deliver(second, [{ batchId: piece, index: sales.cheeseA.index }]))
        .to.be.revertedWithCustomError(escrow, "SettlementUnknownSale")
        .withArgs(piece, sales.cheeseA.index);
    });

    it("refuses a sale of another product", async function () {
      const { escrow, agents, sales, orderId } = await loadFixture(fundedOrderFixture);
      await expect(escrow.connect(agents.seller).deliver(orderId, [sales.butter]))
        .to.be.revertedWithCustomError(escrow, "SettlementWrongGtin")
        .withArgs(sales.butter.batchId, PRODUCT.butter.gtin);
    });

    it("refuses a recalled batch", async function () {
      const { escrow, provenance, agents, handOver, lotIds, orderId } = await loadFixture(fundedOrderFixture);
      const sale = await handOver(lotIds.cheeseE, undefined, "buyer", "seller", Kind.Ownership);
      await provenance.connect(agents.seller).recall(lotIds.cheeseE, RECALL_REASON);
      await expect(escrow.connect(agents.seller).deliver(orderId, [sale]))
        .to.be.revertedWithCustomError(escrow, "SettlementBatchRecalled")
        .withArgs(lotIds.cheeseE, lotIds.cheeseE);
    });

    it("refuses a portion of a recalled lot, though the recall was not yet propagated to it", async function () {
      const { escrow, provenance, agents, lotIds, handOver, orderId } = await loadFixture(fundedOrderFixture);
      const sale = await handOver(lotIds.cheeseE, qty(20));
      await provenance.connect(agents.seller).recall(lotIds.cheeseE, RECALL_REASON);
      expect(await provenance.isRecalled(sale.batchId)).to.equal(false);
      await expect(escrow.connect(agents.seller).deliver(orderId, [sale]))
        .to.be.revertedWithCustomError(escrow, "SettlementBatchRecalled")
        .withArgs(sale.batchId, lotIds.cheeseE);
    });

    it("records nothing of a call one of whose sales is refused", async function () {
      const { escrow, agents, sales, lotIds, orderId } = await loadFixture(fundedOrderFixture);
      await expect(escrow.connect(agents.seller).deliver(orderId, [sales.cheeseB, { batchId: lotIds.cheeseE, index: NO_SALE }]))
        .to.be.revertedWithCustomError(escrow, "SettlementUnknownSale")
        .withArgs(lotIds.cheeseE, NO_SALE);
      expect([await escrow.orderOfSale(sales.cheeseB.batchId, sales.cheeseB.index), (await escrow.order(orderId)).delivered]).to.deep.equal([0n, 0n]);
    });
  });

  describe("each sale counts once, toward one order", function () {
    it("refuses the same sale twice in one call", async function () {
      const { escrow, agents, sales, orderId } = await loadFixture(fundedOrderFixture);
      await expect(escrow.connect(agents.seller).deliver(orderId, [sales.cheeseA, sales.cheeseA]))
        .to.be.revertedWithCustomError(escrow, "SettlementSaleAlreadyCounted")
        .withArgs(sales.cheeseA.batchId, sales.cheeseA.index, orderId);
    });

    it("refuses a sale already counted by an earlier delivery", async function () {
      const { escrow, agents, sales, orderId } = await loadFixture(partlyDeliveredFixture);
      await expect(escrow.connect(agents.seller).deliver(orderId, [sales.cheeseB, sales.cheeseA]))
        .to.be.revertedWithCustomError(escrow, "SettlementSaleAlreadyCounted")
        .withArgs(sales.cheeseA.batchId, sales.cheeseA.index, orderId);
      expect((await escrow.order(orderId)).delivered).to.equal(qty(200));
    });

    it("refuses a sale already counted toward another order of the same parties, naming that order", async function () {
      const { escrow, agents, sales, handOver, lotIds, fundedOrder, orderId } = await loadFixture(partlyDeliveredFixture);
      const second = await fundedOrder();
      await expect(escrow.connect(agents.seller).deliver(second, [sales.cheeseA]))
        .to.be.revertedWithCustomError(escrow, "SettlementSaleAlreadyCounted")
        .withArgs(sales.cheeseA.batchId, sales.cheeseA.index, orderId);
      // A new sale after the second order was funded counts toward it.
      const fresh = await handOver(lotIds.cheeseE);
      await escrow.connect(agents.seller).deliver(second, [fresh]);
      expect((await escrow.order(second)).delivered).to.equal(LOT.cheeseE.quantity);
    });

    it("refuses a rival seller claiming another seller's hand-over to the same buyer", async function () {
      const { escrow, agents, orgs, sales, fundedOrder, orderId } = await loadFixture(fundedOrderFixture);
      // The buyer also ordered cheese from a rival (the other buyer's organisation, as a seller).
      const rivalOrder = await fundedOrder({ seller: orgs.otherBuyer, arbiter: orgs.arbiter });
      await expect(escrow.connect(agents.otherBuyer).deliver(rivalOrder, [sales.cheeseB]))
        .to.be.revertedWithCustomError(escrow, "SettlementSaleNotFromSeller")
        .withArgs(sales.cheeseB.batchId, sales.cheeseB.index, orgs.seller);
      expect(await escrow.orderOfSale(sales.cheeseB.batchId, sales.cheeseB.index)).to.equal(0n);
      // The hand-over stays the seller's to claim.
      await escrow.connect(agents.seller).deliver(orderId, [sales.cheeseB]);
      expect(await escrow.orderOfSale(sales.cheeseB.batchId, sales.cheeseB.index)).to.equal(orderId);
    });

    it("lets a distributor resell through escrow what it bought through escrow", async function () {
      const { escrow, agents, sales, lotIds, handOver, resaleOrder, orderId } = await loadFixture(resaleFixture);
      await escrow.connect(agents.seller).deliver(orderId, [sales.cheeseC]);
      await escrow.connect(agents.buyer).acceptDelivery(orderId);
      const resale = await resaleOrder();
      const onward = await handOver(lotIds.cheeseC, undefined, "otherBuyer", "buyer");
      await escrow.connect(agents.buyer).deliver(resale, [onward]);
      expect([
        await escrow.orderOfSale(sales.cheeseC.batchId, sales.cheeseC.index),
        await escrow.orderOfSale(onward.batchId, onward.index),
        (await escrow.order(resale)).delivered,
      ]).to.deep.equal([orderId, resale, LOT.cheeseC.quantity]);
      expect(await escrow.deliveredBatches(resale)).to.deep.equal([lotIds.cheeseC]);
    });

    it("lets a distributor resell a portion it split off goods it bought through escrow", async function () {
      const { escrow, provenance, agents, sales, lotIds, handOver, resaleOrder, orderId } = await loadFixture(resaleFixture);
      await escrow.connect(agents.seller).deliver(orderId, [sales.cheeseA]);
      const resale = await resaleOrder();
      await provenance.connect(agents.buyer).split(lotIds.cheeseA, [qty(60)]);
      const piece = await provenance.portionId(lotIds.cheeseA, 0);
      const onward = await handOver(piece, undefined, "otherBuyer", "buyer");
      await escrow.connect(agents.buyer).deliver(resale, [onward]);
      expect((await escrow.order(resale)).delivered).to.equal(qty(60));
    });

    it("lets goods returned after a dispute be sold again, to another buyer", async function () {
      const { escrow, agents, sales, lotIds, handOver, orgs, resaleOrder, orderId } = await loadFixture(resaleFixture);
      await escrow.connect(agents.seller).deliver(orderId, [sales.cheeseD]);
      await escrow.connect(agents.buyer).reject(orderId, qty(150), "rind cracked on every wheel");
      await escrow.connect(agents.arbiter).resolve(orderId, 0);
      const back = await handOver(lotIds.cheeseD, undefined, "seller", "buyer");
      expect(back.index).to.be.greaterThan(sales.cheeseD.index);
      const again = await resaleOrder(orgs.seller);
      const resold = await handOver(lotIds.cheeseD, undefined, "otherBuyer", "seller");
      await escrow.connect(agents.seller).deliver(again, [resold]);
      expect((await escrow.order(again)).delivered).to.equal(LOT.cheeseD.quantity);
      // The return itself is no sale from the seller to anyone's order with it.
      await expect(escrow.connect(agents.seller).deliver(again, [back]))
        .to.be.revertedWithCustomError(escrow, "SettlementSaleNotFromSeller")
        .withArgs(back.batchId, back.index, orgs.buyer);
    });
  });

  describe("who may deliver, and when", function () {
    it("refuses the buyer recording a delivery: only the seller attributes its sales to its orders", async function () {
      const { escrow, agents, orgs, sales, orderId } = await loadFixture(fundedOrderFixture);
      await expect(escrow.connect(agents.buyer).deliver(orderId, [sales.cheeseA]))
        .to.be.revertedWithCustomError(escrow, "SettlementNotSeller")
        .withArgs(orderId, orgs.buyer);
      expect((await escrow.order(orderId)).delivered).to.equal(0n);
    });

    it("refuses an agent of an organisation not party to the order", async function () {
      const { escrow, agents, orgs, sales, orderId } = await loadFixture(fundedOrderFixture);
      await expect(escrow.connect(agents.otherBuyer).deliver(orderId, [sales.cheeseA]))
        .to.be.revertedWithCustomError(escrow, "SettlementNotSeller")
        .withArgs(orderId, orgs.otherBuyer);
    });

    it("refuses an unbound wallet", async function () {
      const { escrow, registry, outsider, sales, orderId } = await loadFixture(fundedOrderFixture);
      await expect(escrow.connect(outsider).deliver(orderId, [sales.cheeseA]))
        .to.be.revertedWithCustomError(registry, "IdentityUnauthorizedAgent")
        .withArgs(outsider.address, ANY_ROLE);
    });

    it("refuses a delivery after the deadline", async function () {
      const { escrow, agents, sales, orderId, deadline } = await loadFixture(fundedOrderFixture);
      await time.increaseTo(deadline + 1n);
      await expect(escrow.connect(agents.seller).deliver(orderId, [sales.cheeseA]))
        .to.be.revertedWithCustomError(escrow, "SettlementDeadlinePassed")
        .withArgs(orderId, deadline);
    });

    it("refuses more sales than the limit in one call", async function () {
      const { escrow, agents, orderId } = await loadFixture(fundedOrderFixture);
      const ids = Array.from({ length: MAX_BATCHES_PER_DELIVERY + 1 }, (_, i) => ({ batchId: encodeBytes32String(`batch ${i}`), index: 0n }));
      await expect(escrow.connect(agents.seller).deliver(orderId, ids))
        .to.be.revertedWithCustomError(escrow, "SettlementTooManyBatches")
        .withArgs(MAX_BATCHES_PER_DELIVERY + 1, MAX_BATCHES_PER_DELIVERY);
    });

    it("refuses a delivery of no sale", async function () {
      const { escrow, agents, orderId } = await loadFixture(fundedOrderFixture);
      await expect(escrow.connect(agents.seller).deliver(orderId, []))
        .to.be.revertedWithCustomError(escrow, "SettlementTooManyBatches")
        .withArgs(0n, MAX_BATCHES_PER_DELIVERY);
    });

    it("refuses an order not yet funded", async function () {
      const { escrow, agents, sales, createOrder } = await loadFixture(fundedOrderFixture);
      const unfunded = await createOrder();
      await expect(escrow.connect(agents.seller).deliver(unfunded, [sales.cheeseA]))
        .to.be.revertedWithCustomError(escrow, "SettlementWrongStatus")
        .withArgs(unfunded, OrderStatus.Created);
    });

    it("refuses a cancelled order", async function () {
      const { escrow, agents, sales, createOrder } = await loadFixture(fundedOrderFixture);
      const cancelled = await createOrder();
      await escrow.connect(agents.buyer).cancel(cancelled);
      await expect(escrow.connect(agents.seller).deliver(cancelled, [sales.cheeseA]))
        .to.be.revertedWithCustomError(escrow, "SettlementWrongStatus")
        .withArgs(cancelled, OrderStatus.Cancelled);
    });

    it("refuses an order under dispute", async function () {
      const { escrow, agents, sales, orderId } = await loadFixture(partlyDeliveredFixture);
      await escrow.connect(agents.buyer).reject(orderId, qty(10), "rind damage");
      await expect(escrow.connect(agents.seller).deliver(orderId, [sales.cheeseB]))
        .to.be.revertedWithCustomError(escrow, "SettlementWrongStatus")
        .withArgs(orderId, OrderStatus.Disputed);
    });

    it("refuses a completed order", async function () {
      const { escrow, agents, sales, orderId } = await loadFixture(partlyDeliveredFixture);
      await escrow.connect(agents.buyer).acceptDelivery(orderId);
      await expect(escrow.connect(agents.seller).deliver(orderId, [sales.cheeseB]))
        .to.be.revertedWithCustomError(escrow, "SettlementWrongStatus")
        .withArgs(orderId, OrderStatus.Completed);
    });

    it("refuses an unknown order as one in no status", async function () {
      const { escrow, agents, sales } = await loadFixture(fundedOrderFixture);
      await expect(escrow.connect(agents.seller).deliver(UNKNOWN_ORDER, [sales.cheeseA]))
        .to.be.revertedWithCustomError(escrow, "SettlementWrongStatus")
        .withArgs(UNKNOWN_ORDER, OrderStatus.None);
    });
  });
});
