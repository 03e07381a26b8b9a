import { expect } from "chai";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import {
  ANY_ROLE,
  ALLOWED,
  createdOrderFixture,
  DAY,
  fundedOrderFixture,
  OrderStatus,
  partlyDeliveredFixture,
  qty,
  ROLE,
  settlementFixture,
} from "../../helpers/settlement-fixture";

const SUSPENSION_REASON = "sanctions screening pending";
/** Lot A: 200 kg at 8.40 EUR/kg. */
const LOT_A_VALUE = 168_000n;

describe("SettlementEscrow with suspended organisations and agents", function () {
  async function buyerSuspended<T extends Awaited<ReturnType<typeof settlementFixture>>>(f: T): Promise<T> {
    await f.registry.connect(f.governor).suspendOrganisation(f.orgs.buyer, SUSPENSION_REASON);
    return f;
  }

  async function sellerSuspended<T extends Awaited<ReturnType<typeof settlementFixture>>>(f: T): Promise<T> {
    await f.registry.connect(f.governor).suspendOrganisation(f.orgs.seller, SUSPENSION_REASON);
    return f;
  }

  const suspendedBuyerFixture = async () => buyerSuspended(await loadFixture(settlementFixture));
  const createdSuspendedBuyerFixture = async () => buyerSuspended(await loadFixture(createdOrderFixture));
  const deliveredSuspendedBuyerFixture = async () => buyerSuspended(await loadFixture(partlyDeliveredFixture));
  const fundedSuspendedBuyerFixture = async () => buyerSuspended(await loadFixture(fundedOrderFixture));
  const fundedSuspendedSellerFixture = async () => sellerSuspended(await loadFixture(fundedOrderFixture));
  const deliveredSuspendedSellerFixture = async () => sellerSuspended(await loadFixture(partlyDeliveredFixture));

  /** Lot A delivered, the buyer rejected 50 kg, then governance suspended the arbiter organisation. */
  async function disputeWithSuspendedArbiterFixture() {
    const f = await loadFixture(partlyDeliveredFixture);
    await f.escrow.connect(f.agents.buyer).reject(f.orderId, qty(50), "rind damage");
    await f.registry.connect(f.governor).suspendOrganisation(f.orgs.arbiter, SUSPENSION_REASON);
    return f;
  }

  describe("a suspended buyer organisation", function () {
    it("cannot order", async function () {
      const { escrow, registry, agents, terms } = await loadFixture(suspendedBuyerFixture);
      await expect(escrow.connect(agents.buyer).createOrder(terms()))
        .to.be.revertedWithCustomError(registry, "IdentityUnauthorizedAgent")
        .withArgs(agents.buyer.address, ROLE.buyer);
    });

    it("cannot fund its order", async function () {
      const { escrow, registry, agents, orderId } = await loadFixture(createdSuspendedBuyerFixture);
      await expect(escrow.connect(agents.buyer).fund(orderId))
        .to.be.revertedWithCustomError(registry, "IdentityUnauthorizedAgent")
        .withArgs(agents.buyer.address, ROLE.buyer);
    });

    it("cannot cancel its order", async function () {
      const { escrow, registry, agents, orderId } = await loadFixture(createdSuspendedBuyerFixture);
      await expect(escrow.connect(agents.buyer).cancel(orderId))
        .to.be.revertedWithCustomError(registry, "IdentityUnauthorizedAgent")
        .withArgs(agents.buyer.address, ANY_ROLE);
    });

    it("cannot accept a delivery", async function () {
      const { escrow, registry, agents, orderId } = await loadFixture(deliveredSuspendedBuyerFixture);
      await expect(escrow.connect(agents.buyer).acceptDelivery(orderId))
        .to.be.revertedWithCustomError(registry, "IdentityUnauthorizedAgent")
        .withArgs(agents.buyer.address, ROLE.buyer);
    });

    it("cannot reject a delivery", async function () {
      const { escrow, registry, agents, orderId } = await loadFixture(deliveredSuspendedBuyerFixture);
      await expect(escrow.connect(agents.buyer).reject(orderId, qty(50), "rind damage"))
        .to.be.revertedWithCustomError(registry, "IdentityUnauthorizedAgent")
        .withArgs(agents.buyer.address, ROLE.buyer);
    });

    it("still gets its escrow back by a refund after the deadline", async function () {
      const { orgs, escrow, outsider, orderId, deadline } = await loadFixture(fundedSuspendedBuyerFixture);
      await time.increaseTo(deadline + 1n);
      await expect(escrow.connect(outsider).refund(orderId))
        .to.emit(escrow, "Credited")
        .withArgs(orderId, orgs.buyer, 420_000n, false);
    });

    it("still has the seller paid on release", async function () {
      const { orgs, escrow, outsider, orderId, inspectionEnds } = await loadFixture(deliveredSuspendedBuyerFixture);
      await time.increaseTo(inspectionEnds);
      await expect(escrow.connect(outsider).release(orderId))
        .to.emit(escrow, "Credited")
        .withArgs(orderId, orgs.seller, LOT_A_VALUE, true);
    });

    it("may act again once reinstated", async function () {
      const { escrow, registry, governor, agents, orgs, orderId } = await loadFixture(deliveredSuspendedBuyerFixture);
      await registry.connect(governor).reinstateOrganisation(orgs.buyer);
      await expect(escrow.connect(agents.buyer).acceptDelivery(orderId))
        .to.emit(escrow, "OrderStatusChanged")
        .withArgs(orderId, OrderStatus.Completed);
    });
  });

  describe("a suspended seller organisation", function () {
    it("cannot deliver", async function () {
      const { sales, escrow, registry, agents, orderId } = await loadFixture(fundedSuspendedSellerFixture);
      await expect(escrow.connect(agents.seller).deliver(orderId, [sales.cheeseA]))
        .to.be.revertedWithCustomError(registry, "IdentityUnauthorizedAgent")
        .withArgs(agents.seller.address, ANY_ROLE);
    });

    it("cannot cancel an order placed with it", async function () {
      const { escrow, registry, agents, createOrder, governor, orgs } = await loadFixture(settlementFixture);
      const orderId = await createOrder();
      await registry.connect(governor).suspendOrganisation(orgs.seller, SUSPENSION_REASON);
      await expect(escrow.connect(agents.seller).cancel(orderId))
        .to.be.revertedWithCustomError(registry, "IdentityUnauthorizedAgent")
        .withArgs(agents.seller.address, ANY_ROLE);
    });

    it("is still credited on release for what it delivered before", async function () {
      const { orgs, escrow, outsider, orderId, inspectionEnds } = await loadFixture(deliveredSuspendedSellerFixture);
      await time.increaseTo(inspectionEnds);
      await expect(escrow.connect(outsider).release(orderId))
        .to.emit(escrow, "Credited")
        .withArgs(orderId, orgs.seller, LOT_A_VALUE, true);
    });

    it("cannot withdraw what it was credited while suspended, and can once reinstated", async function () {
      const { escrow, registry, governor, token, agents, orgs, payouts, tokenAddress, orderId, inspectionEnds } =
        await loadFixture(deliveredSuspendedSellerFixture);
      await time.increaseTo(inspectionEnds);
      await escrow.release(orderId);
      await expect(escrow.connect(agents.seller).withdraw(tokenAddress))
        .to.be.revertedWithCustomError(registry, "IdentityUnauthorizedAgent")
        .withArgs(agents.seller.address, ROLE.treasury);
      expect(await escrow.owed(tokenAddress, orgs.seller)).to.equal(LOT_A_VALUE);
      await registry.connect(governor).reinstateOrganisation(orgs.seller);
      await expect(escrow.connect(agents.seller).withdraw(tokenAddress)).to.changeTokenBalance(token, payouts.seller, LOT_A_VALUE);
    });
  });

  describe("single agents", function () {
    it("refuses a seller agent its organisation removed", async function () {
      const { sales, escrow, registry, admins, agents, orderId } = await loadFixture(fundedOrderFixture);
      await registry.connect(admins.seller).removeAgent(agents.seller.address);
      await expect(escrow.connect(agents.seller).deliver(orderId, [sales.cheeseA]))
        .to.be.revertedWithCustomError(registry, "IdentityUnauthorizedAgent")
        .withArgs(agents.seller.address, ANY_ROLE);
    });

    it("refuses a buyer agent whose binding expired", async function () {
      const { escrow, registry, admins, agents, orgs, orderId } = await loadFixture(createdOrderFixture);
      const expiresAt = (await time.latest()) + DAY;
      await registry.connect(admins.buyer).setAgent(agents.buyer.address, orgs.buyer, ALLOWED.buyer, expiresAt);
      await time.increaseTo(expiresAt);
      await expect(escrow.connect(agents.buyer).fund(orderId))
        .to.be.revertedWithCustomError(registry, "IdentityUnauthorizedAgent")
        .withArgs(agents.buyer.address, ROLE.buyer);
    });

    it("refuses a buyer agent whose buyer role was taken away", async function () {
      const { escrow, registry, admins, agents, orgs, orderId } = await loadFixture(partlyDeliveredFixture);
      await registry.connect(admins.buyer).setAgent(agents.buyer.address, orgs.buyer, ROLE.receiver, 0);
      await expect(escrow.connect(agents.buyer).acceptDelivery(orderId))
        .to.be.revertedWithCustomError(registry, "IdentityUnauthorizedAgent")
        .withArgs(agents.buyer.address, ROLE.buyer);
    });
  });

  describe("a suspended arbiter organisation", function () {
    it("cannot resolve the dispute it was chosen for", async function () {
      const { escrow, agents, orderId } = await loadFixture(disputeWithSuspendedArbiterFixture);
      await expect(escrow.connect(agents.arbiter).resolve(orderId, 5_000))
        .to.be.revertedWithCustomError(escrow, "SettlementNotArbiter")
        .withArgs(orderId, agents.arbiter.address);
    });

    it("hands the dispute to governance, so the escrowed funds are never locked", async function () {
      const { escrow, governor, orderId } = await loadFixture(disputeWithSuspendedArbiterFixture);
      await expect(escrow.connect(governor).resolve(orderId, 5_000)).to.emit(escrow, "DisputeResolved").withArgs(orderId, 0n, 5_000);
    });
  });
});
