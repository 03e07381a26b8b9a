import hre from "hardhat";
import { expect } from "chai";
import { ZeroAddress, ZeroHash } from "ethers";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { bindAgent, eur, fundedOrderFixture, OrderStatus, partlyDeliveredFixture, ROLE } from "../../helpers/settlement-fixture";
import { signForwardRequest } from "../../../services/relayer/forward-request";
import { FeeOnTransferToken__factory, ReentrantToken__factory } from "../../../typechain-types";

/** The whole order: 500 kg at 8.40 EUR/kg. */
const ORDER_VALUE = 420_000n;
/** Lot A: 200 kg at 8.40 EUR/kg. */
const LOT_A_VALUE = 168_000n;
/** Lot E: 50 kg at 8.40 EUR/kg. */
const LOT_E_VALUE = 42_000n;
const REST_AFTER_A = ORDER_VALUE - LOT_A_VALUE;

describe("SettlementEscrow payments", function () {
  /** Lot A delivered and accepted: the seller is owed 1,680.00 LEUR and the buyer 2,520.00. */
  async function acceptedFixture() {
    const f = await loadFixture(partlyDeliveredFixture);
    await f.escrow.connect(f.agents.buyer).acceptDelivery(f.orderId);
    return f;
  }

  /**
   * The funded order's fixture plus a second order (not funded) in a hostile ERC-20 that calls
   * back into the escrow during transfers when armed; the buyer holds and has approved enough of it.
   */
  async function hostileTokenFixture() {
    const f = await loadFixture(fundedOrderFixture);
    const hostile = await new ReentrantToken__factory(f.governor).deploy();
    const hostileAddress = await hostile.getAddress();
    await hostile.mint(f.agents.buyer.address, eur(10_000));
    const hostileOrder = await f.createOrder({ token: hostileAddress });
    await hostile.connect(f.agents.buyer).approve(f.escrowAddress, ORDER_VALUE);
    return { ...f, hostile, hostileAddress, hostileOrder };
  }

  /** The hostile order funded, lot E (50 kg) sold, delivered and accepted: the seller is owed 420.00 of the hostile token. */
  async function hostileOwedFixture() {
    const f = await loadFixture(hostileTokenFixture);
    await f.escrow.connect(f.agents.buyer).fund(f.hostileOrder);
    await f.deliver(f.hostileOrder, [await f.handOver(f.lotIds.cheeseE)]);
    await f.escrow.connect(f.agents.buyer).acceptDelivery(f.hostileOrder);
    return f;
  }

  /** The accepted order; the seller has a treasurer (treasury role only) and a clerk (producer only). */
  async function treasuryFixture() {
    const f = await loadFixture(acceptedFixture);
    const [treasurer, clerk] = f.spare;
    await bindAgent(f.registry, f.admins.seller, treasurer, f.orgs.seller, ROLE.treasury);
    await bindAgent(f.registry, f.admins.seller, clerk, f.orgs.seller, ROLE.producer);
    return { ...f, treasurer, clerk };
  }

  describe("money belongs to organisations", function () {
    it("credits the seller organisation, not a wallet", async function () {
      const { escrow, token, orgs, agents, tokenAddress } = await loadFixture(acceptedFixture);
      expect([
        await escrow.owed(tokenAddress, orgs.seller),
        await escrow.owed(tokenAddress, orgs.buyer),
        await token.balanceOf(agents.seller.address),
      ]).to.deep.equal([LOT_A_VALUE, REST_AFTER_A, 0n]);
    });

    it("pays a treasury agent's withdrawal to the organisation's payout address, not to the agent", async function () {
      const { escrow, token, payouts, treasurer, tokenAddress } = await loadFixture(treasuryFixture);
      await expect(escrow.connect(treasurer).withdraw(tokenAddress)).to.changeTokenBalances(
        token,
        [payouts.seller, treasurer, escrow],
        [LOT_A_VALUE, 0n, -LOT_A_VALUE],
      );
    });

    it("refunds the buying organisation to its payout address", async function () {
      const { escrow, token, agents, payouts, tokenAddress } = await loadFixture(acceptedFixture);
      await expect(escrow.connect(agents.buyer).withdraw(tokenAddress)).to.changeTokenBalances(
        token,
        [payouts.buyer, agents.buyer, escrow],
        [REST_AFTER_A, 0n, -REST_AFTER_A],
      );
    });

    it("announces the withdrawal with the organisation, the token, the payout address, the amount and the agent", async function () {
      const { escrow, orgs, payouts, treasurer, tokenAddress } = await loadFixture(treasuryFixture);
      await expect(escrow.connect(treasurer).withdraw(tokenAddress))
        .to.emit(escrow, "Withdrawn")
        .withArgs(orgs.seller, tokenAddress, payouts.seller.address, LOT_A_VALUE, treasurer.address);
    });

    it("owes the organisation nothing more afterwards", async function () {
      const { escrow, orgs, treasurer, tokenAddress } = await loadFixture(treasuryFixture);
      await escrow.connect(treasurer).withdraw(tokenAddress);
      expect(await escrow.owed(tokenAddress, orgs.seller)).to.equal(0n);
    });

    it("refuses an agent of the seller without the treasury role", async function () {
      const { escrow, registry, orgs, clerk, tokenAddress } = await loadFixture(treasuryFixture);
      await expect(escrow.connect(clerk).withdraw(tokenAddress))
        .to.be.revertedWithCustomError(registry, "IdentityUnauthorizedAgent")
        .withArgs(clerk.address, ROLE.treasury);
      expect(await escrow.owed(tokenAddress, orgs.seller)).to.equal(LOT_A_VALUE);
    });

    it("refuses a treasury agent the org admin removed", async function () {
      const { escrow, registry, admins, orgs, treasurer, tokenAddress } = await loadFixture(treasuryFixture);
      await registry.connect(admins.seller).removeAgent(treasurer.address);
      await expect(escrow.connect(treasurer).withdraw(tokenAddress))
        .to.be.revertedWithCustomError(registry, "IdentityUnauthorizedAgent")
        .withArgs(treasurer.address, ROLE.treasury);
      expect(await escrow.owed(tokenAddress, orgs.seller)).to.equal(LOT_A_VALUE);
    });

    it("refuses a treasury agent whose binding expired", async function () {
      const { escrow, registry, admins, orgs, treasurer, tokenAddress } = await loadFixture(treasuryFixture);
      const expiresAt = BigInt(await time.latest()) + 100n;
      await bindAgent(registry, admins.seller, treasurer, orgs.seller, ROLE.treasury, expiresAt);
      await time.increaseTo(expiresAt);
      await expect(escrow.connect(treasurer).withdraw(tokenAddress))
        .to.be.revertedWithCustomError(registry, "IdentityUnauthorizedAgent")
        .withArgs(treasurer.address, ROLE.treasury);
    });

    it("refuses a treasury agent of a suspended organisation until it is reinstated", async function () {
      const { escrow, registry, governor, orgs, payouts, token, treasurer, tokenAddress } = await loadFixture(treasuryFixture);
      await registry.connect(governor).suspendOrganisation(orgs.seller, "audit pending");
      await expect(escrow.connect(treasurer).withdraw(tokenAddress)).to.be.revertedWithCustomError(registry, "IdentityUnauthorizedAgent");
      await registry.connect(governor).reinstateOrganisation(orgs.seller);
      await expect(escrow.connect(treasurer).withdraw(tokenAddress)).to.changeTokenBalance(token, payouts.seller, LOT_A_VALUE);
    });

    it("refuses a treasury agent of another organisation taking the seller's credit", async function () {
      const { escrow, orgs, agents, payouts, token, tokenAddress } = await loadFixture(acceptedFixture);
      // The buyer's agent holds the treasury role of the buyer: it withdraws the buyer's refund only.
      await expect(escrow.connect(agents.buyer).withdraw(tokenAddress)).to.changeTokenBalance(token, payouts.seller, 0n);
      expect(await escrow.owed(tokenAddress, orgs.seller)).to.equal(LOT_A_VALUE);
    });

    it("refuses a withdrawal before the organisation set a payout address", async function () {
      const { escrow, orgs, agents, tokenAddress } = await loadFixture(fundedOrderFixture);
      // The arbiter organisation's admin never set one.
      await expect(escrow.connect(agents.arbiter).withdraw(tokenAddress))
        .to.be.revertedWithCustomError(escrow, "SettlementNoPayoutAddress")
        .withArgs(orgs.arbiter);
    });

    it("refuses an organisation owed nothing", async function () {
      const { escrow, orgs, admins, agents, tokenAddress } = await loadFixture(acceptedFixture);
      await escrow.connect(admins.otherBuyer).setPayoutAddress(agents.otherBuyer.address);
      await expect(escrow.connect(agents.otherBuyer).withdraw(tokenAddress))
        .to.be.revertedWithCustomError(escrow, "SettlementNothingToWithdraw")
        .withArgs(orgs.otherBuyer, tokenAddress);
    });

    it("refuses a second withdrawal of the same credit", async function () {
      const { escrow, orgs, treasurer, tokenAddress } = await loadFixture(treasuryFixture);
      await escrow.connect(treasurer).withdraw(tokenAddress);
      await expect(escrow.connect(treasurer).withdraw(tokenAddress))
        .to.be.revertedWithCustomError(escrow, "SettlementNothingToWithdraw")
        .withArgs(orgs.seller, tokenAddress);
    });

    it("refuses a token the organisation is owed nothing in", async function () {
      const { escrow, orgs, agents, hostileAddress } = await loadFixture(hostileTokenFixture);
      await expect(escrow.connect(agents.seller).withdraw(hostileAddress))
        .to.be.revertedWithCustomError(escrow, "SettlementNothingToWithdraw")
        .withArgs(orgs.seller, hostileAddress);
    });

    it("collects what several orders owe in one withdrawal", async function () {
      const { escrow, token, agents, payouts, lotIds, sales, tokenAddress, fundedOrder, handOver, deliver, orderId } =
        await loadFixture(fundedOrderFixture);
      const second = await fundedOrder();
      await deliver(orderId, [sales.cheeseA]);
      await deliver(second, [await handOver(lotIds.cheeseE)]);
      await escrow.connect(agents.buyer).acceptDelivery(orderId);
      await escrow.connect(agents.buyer).acceptDelivery(second);
      // Lot A (200 kg) and lot E (50 kg) at 8.40 EUR/kg.
      await expect(escrow.connect(agents.seller).withdraw(tokenAddress)).to.changeTokenBalance(token, payouts.seller, 210_000n);
    });

    it("works relayed, paying the payout address without costing the agent gas", async function () {
      const { escrow, token, forwarder, relayer, agents, payouts, escrowAddress, tokenAddress } = await loadFixture(acceptedFixture);
      const data = escrow.interface.encodeFunctionData("withdraw", [tokenAddress]);
      const request = await signForwardRequest(agents.seller, forwarder, { to: escrowAddress, data, deadline: (await time.latest()) + 3600 });
      const gasBefore = await hre.ethers.provider.getBalance(agents.seller.address);
      await expect(forwarder.connect(relayer).execute(request)).to.changeTokenBalance(token, payouts.seller, LOT_A_VALUE);
      expect(await hre.ethers.provider.getBalance(agents.seller.address)).to.equal(gasBefore);
    });
  });

  describe("payout address", function () {
    it("is set by an org admin of the organisation, with an event", async function () {
      const { escrow, admins, orgs, spare } = await loadFixture(acceptedFixture);
      await expect(escrow.connect(admins.seller).setPayoutAddress(spare[2].address))
        .to.emit(escrow, "PayoutAddressSet")
        .withArgs(orgs.seller, spare[2].address, admins.seller.address);
      expect(await escrow.payoutAddress(orgs.seller)).to.equal(spare[2].address);
    });

    it("refuses an agent without the org-admin role redirecting its organisation's money", async function () {
      const { escrow, registry, agents, orgs, payouts } = await loadFixture(acceptedFixture);
      await expect(escrow.connect(agents.seller).setPayoutAddress(agents.seller.address))
        .to.be.revertedWithCustomError(registry, "IdentityUnauthorizedAgent")
        .withArgs(agents.seller.address, ROLE["org-admin"]);
      expect(await escrow.payoutAddress(orgs.seller)).to.equal(payouts.seller.address);
    });

    it("refuses another organisation's admin: it sets only its own organisation's address", async function () {
      const { escrow, admins, orgs, payouts } = await loadFixture(acceptedFixture);
      await escrow.connect(admins.buyer).setPayoutAddress(admins.buyer.address);
      expect([await escrow.payoutAddress(orgs.seller), await escrow.payoutAddress(orgs.buyer)]).to.deep.equal([
        payouts.seller.address,
        admins.buyer.address,
      ]);
    });

    it("refuses the zero address and the escrow itself", async function () {
      const { escrow, admins, escrowAddress } = await loadFixture(acceptedFixture);
      for (const bad of [ZeroAddress, escrowAddress]) {
        await expect(escrow.connect(admins.seller).setPayoutAddress(bad))
          .to.be.revertedWithCustomError(escrow, "SettlementInvalidPayoutAddress")
          .withArgs(bad);
      }
    });
  });

  describe("tokens", function () {
    it("refuses funding in a fee-on-transfer token, so the escrow never owes more than it holds", async function () {
      const { escrow, governor, agents, createOrder, escrowAddress } = await loadFixture(fundedOrderFixture);
      const fee = await new FeeOnTransferToken__factory(governor).deploy(100);
      await fee.mint(agents.buyer.address, eur(10_000));
      const feeAddress = await fee.getAddress();
      const orderId = await createOrder({ token: feeAddress });
      await fee.connect(agents.buyer).approve(escrowAddress, ORDER_VALUE);
      await expect(escrow.connect(agents.buyer).fund(orderId))
        .to.be.revertedWithCustomError(escrow, "SettlementFeeOnTransfer")
        .withArgs(feeAddress, ORDER_VALUE, ORDER_VALUE - ORDER_VALUE / 100n);
      expect([(await escrow.order(orderId)).status, await fee.balanceOf(escrowAddress)]).to.deep.equal([OrderStatus.Created, 0n]);
    });
  });

  describe("re-entrancy through a hostile token", function () {
    it("lets an order in the hostile token run normally while it is not armed", async function () {
      const { escrow, hostile, agents, payouts, hostileAddress } = await loadFixture(hostileOwedFixture);
      await expect(escrow.connect(agents.seller).withdraw(hostileAddress)).to.changeTokenBalance(hostile, payouts.seller, LOT_E_VALUE);
    });

    it("refuses a withdrawal re-entered from the token's transfer", async function () {
      const { escrow, hostile, agents, escrowAddress, hostileAddress } = await loadFixture(hostileOwedFixture);
      await hostile.arm(escrowAddress, escrow.interface.encodeFunctionData("withdraw", [hostileAddress]));
      await expect(escrow.connect(agents.seller).withdraw(hostileAddress)).to.be.revertedWithCustomError(
        escrow,
        "ReentrancyGuardReentrantCall",
      );
    });

    it("refuses a funding re-entered from the token's transferFrom", async function () {
      const { escrow, hostile, agents, escrowAddress, hostileOrder } = await loadFixture(hostileTokenFixture);
      await hostile.arm(escrowAddress, escrow.interface.encodeFunctionData("fund", [hostileOrder]));
      await expect(escrow.connect(agents.buyer).fund(hostileOrder)).to.be.revertedWithCustomError(
        escrow,
        "ReentrancyGuardReentrantCall",
      );
    });

    it("refuses a funding with a permit re-entered from the token's transferFrom", async function () {
      const { escrow, hostile, agents, escrowAddress, hostileOrder } = await loadFixture(hostileTokenFixture);
      await hostile.arm(escrowAddress, escrow.interface.encodeFunctionData("fundWithPermit", [hostileOrder, 0n, 27, ZeroHash, ZeroHash]));
      await expect(escrow.connect(agents.buyer).fund(hostileOrder)).to.be.revertedWithCustomError(
        escrow,
        "ReentrancyGuardReentrantCall",
      );
    });

    it("refuses a withdrawal re-entered from the token's transferFrom during funding", async function () {
      const { escrow, hostile, agents, escrowAddress, hostileAddress, hostileOrder } = await loadFixture(hostileTokenFixture);
      await hostile.arm(escrowAddress, escrow.interface.encodeFunctionData("withdraw", [hostileAddress]));
      await expect(escrow.connect(agents.buyer).fund(hostileOrder)).to.be.revertedWithCustomError(
        escrow,
        "ReentrancyGuardReentrantCall",
      );
    });

    it("shows an unguarded function re-entered during funding the order already funded", async function () {
      const { escrow, hostile, agents, escrowAddress, hostileOrder } = await loadFixture(hostileTokenFixture);
      // cancel is not guarded; it must already see the status fund wrote before transferring.
      await hostile.arm(escrowAddress, escrow.interface.encodeFunctionData("cancel", [hostileOrder]));
      await expect(escrow.connect(agents.buyer).fund(hostileOrder))
        .to.be.revertedWithCustomError(escrow, "SettlementWrongStatus")
        .withArgs(hostileOrder, OrderStatus.Funded);
    });
  });
});
