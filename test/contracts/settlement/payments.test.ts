import hre from "hardhat";
import { expect } from "chai";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { eur, fundedOrderFixture, OrderStatus, partlyDeliveredFixture } from "../../helpers/settlement-fixture";
import { signForwardRequest } from "../../../services/relayer/forward-request";
import { ReentrantToken__factory } from "../../../typechain-types";

/** The whole order: 500 kg at 8.40 EUR/kg. */
const ORDER_VALUE = 420_000n;
/** Lot A: 200 kg at 8.40 EUR/kg. */
const LOT_A_VALUE = 168_000n;
const REST_AFTER_A = ORDER_VALUE - LOT_A_VALUE;

describe("SettlementEscrow payments", function () {
  /** Lot A delivered and accepted: the seller is owed 1,680.00 LEUR and the buyer 2,520.00. */
  async function acceptedFixture() {
    const f = await partlyDeliveredFixture();
    await f.escrow.connect(f.agents.buyer).acceptDelivery(f.orderId);
    return f;
  }

  /**
   * The funded order's fixture plus a second order (not funded) in a hostile ERC-20 that calls
   * back into the escrow during transfers when armed; the buyer holds and has approved enough of it.
   */
  async function hostileTokenFixture() {
    const f = await fundedOrderFixture();
    const hostile = await new ReentrantToken__factory(f.governor).deploy();
    const hostileAddress = await hostile.getAddress();
    await hostile.mint(f.agents.buyer.address, eur(10_000));
    const hostileOrder = await f.createOrder({ token: hostileAddress });
    await hostile.connect(f.agents.buyer).approve(f.escrowAddress, ORDER_VALUE);
    return { ...f, hostile, hostileAddress, hostileOrder };
  }

  /** The hostile order funded, lot B delivered and accepted: the seller is owed 1,680.00 of the hostile token. */
  async function hostileOwedFixture() {
    const f = await hostileTokenFixture();
    await f.escrow.connect(f.agents.buyer).fund(f.hostileOrder);
    await f.deliver(f.hostileOrder, [f.lotIds.cheeseB]);
    await f.escrow.connect(f.agents.buyer).acceptDelivery(f.hostileOrder);
    return f;
  }

  describe("withdraw", function () {
    it("sends the seller what it was credited", async function () {
      const { escrow, token, agents, tokenAddress } = await loadFixture(acceptedFixture);
      await expect(escrow.connect(agents.seller).withdraw(tokenAddress)).to.changeTokenBalances(
        token,
        [agents.seller, escrow],
        [LOT_A_VALUE, -LOT_A_VALUE],
      );
    });

    it("sends the buyer its refund", async function () {
      const { escrow, token, agents, tokenAddress } = await loadFixture(acceptedFixture);
      await expect(escrow.connect(agents.buyer).withdraw(tokenAddress)).to.changeTokenBalances(
        token,
        [agents.buyer, escrow],
        [REST_AFTER_A, -REST_AFTER_A],
      );
    });

    it("announces the withdrawal with the account, the token and the amount", async function () {
      const { escrow, agents, tokenAddress } = await loadFixture(acceptedFixture);
      await expect(escrow.connect(agents.seller).withdraw(tokenAddress))
        .to.emit(escrow, "Withdrawn")
        .withArgs(agents.seller.address, tokenAddress, LOT_A_VALUE);
    });

    it("owes the account nothing more afterwards", async function () {
      const { escrow, agents, tokenAddress } = await loadFixture(acceptedFixture);
      await escrow.connect(agents.seller).withdraw(tokenAddress);
      expect(await escrow.owed(tokenAddress, agents.seller.address)).to.equal(0n);
    });

    it("refuses an account owed nothing", async function () {
      const { escrow, outsider, tokenAddress } = await loadFixture(acceptedFixture);
      await expect(escrow.connect(outsider).withdraw(tokenAddress))
        .to.be.revertedWithCustomError(escrow, "SettlementNothingToWithdraw")
        .withArgs(outsider.address, tokenAddress);
    });

    it("refuses a second withdrawal of the same credit", async function () {
      const { escrow, agents, tokenAddress } = await loadFixture(acceptedFixture);
      await escrow.connect(agents.seller).withdraw(tokenAddress);
      await expect(escrow.connect(agents.seller).withdraw(tokenAddress))
        .to.be.revertedWithCustomError(escrow, "SettlementNothingToWithdraw")
        .withArgs(agents.seller.address, tokenAddress);
    });

    it("refuses a token the account is owed nothing in", async function () {
      const { escrow, agents, hostileAddress } = await loadFixture(hostileTokenFixture);
      await expect(escrow.connect(agents.seller).withdraw(hostileAddress))
        .to.be.revertedWithCustomError(escrow, "SettlementNothingToWithdraw")
        .withArgs(agents.seller.address, hostileAddress);
    });

    it("collects what several orders owe in one withdrawal", async function () {
      const { escrow, token, agents, lotIds, tokenAddress, fundedOrder, deliver, orderId } =
        await loadFixture(fundedOrderFixture);
      const second = await fundedOrder();
      await deliver(orderId, [lotIds.cheeseA]);
      await deliver(second, [lotIds.cheeseC]);
      await escrow.connect(agents.buyer).acceptDelivery(orderId);
      await escrow.connect(agents.buyer).acceptDelivery(second);
      // Lot A (200 kg) and lot C (100 kg) at 8.40 EUR/kg.
      await expect(escrow.connect(agents.seller).withdraw(tokenAddress)).to.changeTokenBalance(token, agents.seller, 252_000n);
    });

    it("works relayed, paying the signer without costing it gas", async function () {
      const { escrow, token, forwarder, relayer, agents, escrowAddress, tokenAddress } = await loadFixture(acceptedFixture);
      const data = escrow.interface.encodeFunctionData("withdraw", [tokenAddress]);
      const request = await signForwardRequest(agents.seller, forwarder, {
        to: escrowAddress,
        data,
        deadline: (await time.latest()) + 3600,
      });
      const gasBefore = await hre.ethers.provider.getBalance(agents.seller.address);
      await expect(forwarder.connect(relayer).execute(request)).to.changeTokenBalance(token, agents.seller, LOT_A_VALUE);
      expect(await hre.ethers.provider.getBalance(agents.seller.address)).to.equal(gasBefore);
    });
  });

  describe("re-entrancy through a hostile token", function () {
    it("lets an order in the hostile token run normally while it is not armed", async function () {
      const { escrow, hostile, agents, hostileAddress } = await loadFixture(hostileOwedFixture);
      await expect(escrow.connect(agents.seller).withdraw(hostileAddress)).to.changeTokenBalance(
        hostile,
        agents.seller,
        LOT_A_VALUE,
      );
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
