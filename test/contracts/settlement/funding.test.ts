import hre from "hardhat";
import { expect } from "chai";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { createdOrderFixture, DAY, ORDER, OrderStatus, ROLE } from "../../helpers/settlement-fixture";
import { signForwardRequest } from "../../../services/relayer/forward-request";

const UNKNOWN_ORDER = 99n;
/** 500 kg at 8.40 EUR/kg. */
const ORDER_VALUE = 420_000n;

describe("SettlementEscrow funding", function () {
  /** The created order with the buyer's permit for its value signed, valid for a day, not yet used. */
  async function permitSignedFixture() {
    const f = await loadFixture(createdOrderFixture);
    const permit = await f.signPermit(f.agents.buyer, ORDER_VALUE, BigInt(await time.latest()) + BigInt(DAY));
    return { ...f, permit };
  }

  /** The permit fixture plus a forward request, signed by the buyer, calling fundWithPermit with it. */
  async function relayedFundingFixture() {
    const f = await loadFixture(permitSignedFixture);
    const { v, r, s, deadline } = f.permit;
    const data = f.escrow.interface.encodeFunctionData("fundWithPermit", [f.orderId, deadline, v, r, s]);
    const request = await signForwardRequest(f.agents.buyer, f.forwarder, {
      to: f.escrowAddress,
      data,
      deadline: (await time.latest()) + 3600,
    });
    return { ...f, request };
  }

  describe("fund", function () {
    it("takes the order's value from the buyer's wallet into the escrow", async function () {
      const { escrow, token, agents, escrowAddress, orderId } = await loadFixture(createdOrderFixture);
      await token.connect(agents.buyer).approve(escrowAddress, ORDER_VALUE);
      await expect(escrow.connect(agents.buyer).fund(orderId)).to.changeTokenBalances(
        token,
        [agents.buyer, escrow],
        [-ORDER_VALUE, ORDER_VALUE],
      );
    });

    it("announces the funding with the funding wallet and the amount", async function () {
      const { escrow, token, agents, escrowAddress, orderId } = await loadFixture(createdOrderFixture);
      await token.connect(agents.buyer).approve(escrowAddress, ORDER_VALUE);
      await expect(escrow.connect(agents.buyer).fund(orderId))
        .to.emit(escrow, "OrderFunded")
        .withArgs(orderId, agents.buyer.address, ORDER_VALUE);
    });

    it("marks the order funded", async function () {
      const { escrow, token, agents, escrowAddress, orderId } = await loadFixture(createdOrderFixture);
      await token.connect(agents.buyer).approve(escrowAddress, ORDER_VALUE);
      await expect(escrow.connect(agents.buyer).fund(orderId))
        .to.emit(escrow, "OrderStatusChanged")
        .withArgs(orderId, OrderStatus.Funded);
    });

    it("holds the value for the order and records when it was funded (earlier sales never count)", async function () {
      const { escrow, fund, orderId } = await loadFixture(createdOrderFixture);
      await fund(orderId);
      const o = await escrow.order(orderId);
      expect([o.status, o.held, o.fundedAt]).to.deep.equal([OrderStatus.Funded, ORDER_VALUE, BigInt(await time.latest())]);
    });

    it("leaves the order's terms as they were", async function () {
      const { escrow, fund, orderId } = await loadFixture(createdOrderFixture);
      const before = await escrow.order(orderId);
      await fund(orderId);
      const after = await escrow.order(orderId);
      expect([after.quantity, after.pricePerUnit, after.deliveryDeadline, after.termsHash]).to.deep.equal([
        before.quantity,
        before.pricePerUnit,
        before.deliveryDeadline,
        ORDER.termsHash,
      ]);
    });

    it("refuses a second funding", async function () {
      const { escrow, token, agents, escrowAddress, fund, orderId } = await loadFixture(createdOrderFixture);
      await fund(orderId);
      await token.connect(agents.buyer).approve(escrowAddress, ORDER_VALUE);
      await expect(escrow.connect(agents.buyer).fund(orderId))
        .to.be.revertedWithCustomError(escrow, "SettlementWrongStatus")
        .withArgs(orderId, OrderStatus.Funded);
    });

    it("refuses without an allowance", async function () {
      const { escrow, token, agents, escrowAddress, orderId } = await loadFixture(createdOrderFixture);
      await expect(escrow.connect(agents.buyer).fund(orderId))
        .to.be.revertedWithCustomError(token, "ERC20InsufficientAllowance")
        .withArgs(escrowAddress, 0n, ORDER_VALUE);
    });

    it("refuses an allowance one cent short", async function () {
      const { escrow, token, agents, escrowAddress, orderId } = await loadFixture(createdOrderFixture);
      await token.connect(agents.buyer).approve(escrowAddress, ORDER_VALUE - 1n);
      await expect(escrow.connect(agents.buyer).fund(orderId))
        .to.be.revertedWithCustomError(token, "ERC20InsufficientAllowance")
        .withArgs(escrowAddress, ORDER_VALUE - 1n, ORDER_VALUE);
    });

    it("refuses the seller", async function () {
      const { escrow, registry, agents, orderId } = await loadFixture(createdOrderFixture);
      await expect(escrow.connect(agents.seller).fund(orderId))
        .to.be.revertedWithCustomError(registry, "IdentityUnauthorizedAgent")
        .withArgs(agents.seller.address, ROLE.buyer);
    });

    it("refuses a buyer agent of another organisation", async function () {
      const { escrow, token, governor, agents, orgs, escrowAddress, orderId } = await loadFixture(createdOrderFixture);
      await token.connect(governor).mint(agents.otherBuyer.address, ORDER_VALUE);
      await token.connect(agents.otherBuyer).approve(escrowAddress, ORDER_VALUE);
      await expect(escrow.connect(agents.otherBuyer).fund(orderId))
        .to.be.revertedWithCustomError(escrow, "SettlementNotBuyer")
        .withArgs(orderId, orgs.otherBuyer);
    });

    it("refuses an unknown order", async function () {
      const { escrow, agents } = await loadFixture(createdOrderFixture);
      await expect(escrow.connect(agents.buyer).fund(UNKNOWN_ORDER))
        .to.be.revertedWithCustomError(escrow, "SettlementUnknownOrder")
        .withArgs(UNKNOWN_ORDER);
    });
  });

  describe("fundWithPermit", function () {
    it("funds the order with the buyer's permit and no prior approval", async function () {
      const { escrow, agents, permit, orderId } = await loadFixture(permitSignedFixture);
      await expect(escrow.connect(agents.buyer).fundWithPermit(orderId, permit.deadline, permit.v, permit.r, permit.s))
        .to.emit(escrow, "OrderFunded")
        .withArgs(orderId, agents.buyer.address, ORDER_VALUE);
    });

    it("takes the order's value from the buyer's wallet", async function () {
      const { escrow, token, agents, permit, orderId } = await loadFixture(permitSignedFixture);
      await expect(
        escrow.connect(agents.buyer).fundWithPermit(orderId, permit.deadline, permit.v, permit.r, permit.s),
      ).to.changeTokenBalances(token, [agents.buyer, escrow], [-ORDER_VALUE, ORDER_VALUE]);
    });

    it("uses up the permit: no allowance is left and the nonce moved on", async function () {
      const { escrow, token, agents, escrowAddress, permit, orderId } = await loadFixture(permitSignedFixture);
      await escrow.connect(agents.buyer).fundWithPermit(orderId, permit.deadline, permit.v, permit.r, permit.s);
      expect([
        await token.allowance(agents.buyer.address, escrowAddress),
        await token.nonces(agents.buyer.address),
      ]).to.deep.equal([0n, 1n]);
    });

    it("still funds when someone submitted the permit to the token first", async function () {
      const { escrow, token, agents, outsider, escrowAddress, permit, orderId } = await loadFixture(permitSignedFixture);
      await token
        .connect(outsider)
        .permit(agents.buyer.address, escrowAddress, ORDER_VALUE, permit.deadline, permit.v, permit.r, permit.s);
      await expect(escrow.connect(agents.buyer).fundWithPermit(orderId, permit.deadline, permit.v, permit.r, permit.s))
        .to.emit(escrow, "OrderFunded")
        .withArgs(orderId, agents.buyer.address, ORDER_VALUE);
    });

    it("refuses a permit signed by another wallet, for want of an allowance", async function () {
      const { escrow, token, agents, outsider, escrowAddress, signPermit, orderId } = await loadFixture(permitSignedFixture);
      const forged = await signPermit(outsider, ORDER_VALUE, BigInt(await time.latest()) + BigInt(DAY));
      await expect(escrow.connect(agents.buyer).fundWithPermit(orderId, forged.deadline, forged.v, forged.r, forged.s))
        .to.be.revertedWithCustomError(token, "ERC20InsufficientAllowance")
        .withArgs(escrowAddress, 0n, ORDER_VALUE);
    });

    it("refuses an expired permit, for want of an allowance", async function () {
      const { escrow, token, agents, escrowAddress, permit, orderId } = await loadFixture(permitSignedFixture);
      await time.increaseTo(permit.deadline + 1n);
      await expect(escrow.connect(agents.buyer).fundWithPermit(orderId, permit.deadline, permit.v, permit.r, permit.s))
        .to.be.revertedWithCustomError(token, "ERC20InsufficientAllowance")
        .withArgs(escrowAddress, 0n, ORDER_VALUE);
    });

    it("refuses a permit for less than the order's value", async function () {
      const { escrow, token, agents, escrowAddress, signPermit, orderId } = await loadFixture(permitSignedFixture);
      const short = await signPermit(agents.buyer, ORDER_VALUE - 1n, BigInt(await time.latest()) + BigInt(DAY));
      await expect(escrow.connect(agents.buyer).fundWithPermit(orderId, short.deadline, short.v, short.r, short.s))
        .to.be.revertedWithCustomError(token, "ERC20InsufficientAllowance")
        .withArgs(escrowAddress, 0n, ORDER_VALUE);
    });

    it("refuses an unknown order with the escrow's own error", async function () {
      const { escrow, agents, permit } = await loadFixture(permitSignedFixture);
      await expect(escrow.connect(agents.buyer).fundWithPermit(UNKNOWN_ORDER, permit.deadline, permit.v, permit.r, permit.s))
        .to.be.revertedWithCustomError(escrow, "SettlementUnknownOrder")
        .withArgs(UNKNOWN_ORDER);
    });

    it("refuses an order already funded", async function () {
      const { escrow, agents, fund, permit, orderId } = await loadFixture(permitSignedFixture);
      await fund(orderId);
      await expect(escrow.connect(agents.buyer).fundWithPermit(orderId, permit.deadline, permit.v, permit.r, permit.s))
        .to.be.revertedWithCustomError(escrow, "SettlementWrongStatus")
        .withArgs(orderId, OrderStatus.Funded);
    });

    it("refuses the seller even with the buyer's permit", async function () {
      const { escrow, registry, agents, permit, orderId } = await loadFixture(permitSignedFixture);
      await expect(escrow.connect(agents.seller).fundWithPermit(orderId, permit.deadline, permit.v, permit.r, permit.s))
        .to.be.revertedWithCustomError(registry, "IdentityUnauthorizedAgent")
        .withArgs(agents.seller.address, ROLE.buyer);
    });
  });

  describe("fundWithPermit relayed through the forwarder", function () {
    it("is trusted by the escrow", async function () {
      const { escrow, forwarder } = await loadFixture(createdOrderFixture);
      expect(await escrow.isTrustedForwarder(await forwarder.getAddress())).to.equal(true);
    });

    it("attributes the funding to the buyer, not the relayer", async function () {
      const { escrow, forwarder, relayer, agents, request, orderId } = await loadFixture(relayedFundingFixture);
      await expect(forwarder.connect(relayer).execute(request))
        .to.emit(escrow, "OrderFunded")
        .withArgs(orderId, agents.buyer.address, ORDER_VALUE);
    });

    it("takes the tokens from the buyer's wallet", async function () {
      const { escrow, token, forwarder, relayer, agents, request } = await loadFixture(relayedFundingFixture);
      await expect(forwarder.connect(relayer).execute(request)).to.changeTokenBalances(
        token,
        [agents.buyer, escrow],
        [-ORDER_VALUE, ORDER_VALUE],
      );
    });

    it("costs the buyer no gas: the relayer pays", async function () {
      const { forwarder, relayer, agents, request } = await loadFixture(relayedFundingFixture);
      const before = await hre.ethers.provider.getBalance(agents.buyer.address);
      await forwarder.connect(relayer).execute(request);
      expect(await hre.ethers.provider.getBalance(agents.buyer.address)).to.equal(before);
    });

    it("announces the buyer's wallet as the one that funded it; refunds go to the buying organisation", async function () {
      const { escrow, forwarder, relayer, agents, request, orderId } = await loadFixture(relayedFundingFixture);
      await expect(forwarder.connect(relayer).execute(request)).to.emit(escrow, "OrderFunded").withArgs(orderId, agents.buyer.address, ORDER_VALUE);
    });

    it("cannot be replayed to fund the order again", async function () {
      const { forwarder, relayer, request } = await loadFixture(relayedFundingFixture);
      await forwarder.connect(relayer).execute(request);
      await expect(forwarder.connect(relayer).execute(request)).to.be.revertedWithCustomError(
        forwarder,
        "ERC2771ForwarderInvalidSigner",
      );
    });
  });
});
