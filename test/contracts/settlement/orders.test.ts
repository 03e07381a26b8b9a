import { expect } from "chai";
import { ZeroAddress } from "ethers";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import {
  ANY_ROLE,
  DISPUTE,
  createdOrderFixture,
  ORDER,
  OrderStatus,
  PRODUCT,
  ROLE,
  settlementFixture,
} from "../../helpers/settlement-fixture";

const UNKNOWN_ORG = 99n;
const UNKNOWN_ORDER = 99n;
const MAX_UINT128 = (1n << 128n) - 1n;

describe("SettlementEscrow orders", function () {
  describe("createOrder", function () {
    it("records the order with every term and an id counting from one", async function () {
      const { escrow, createOrder, orgs, deadline, tokenAddress } = await loadFixture(settlementFixture);
      const orderId = await createOrder();
      const o = await escrow.order(orderId);
      expect(orderId).to.equal(1n);
      expect([o.buyer, o.seller, o.arbiter, o.token, o.gtin, o.quantity, o.pricePerUnit]).to.deep.equal([
        orgs.buyer,
        orgs.seller,
        orgs.arbiter,
        tokenAddress,
        PRODUCT.cheese.gtin,
        ORDER.quantity,
        ORDER.pricePerUnit,
      ]);
      expect([o.deliveryDeadline, o.inspectionWindow, o.termsHash, o.status]).to.deep.equal([
        deadline,
        BigInt(ORDER.inspectionWindow),
        ORDER.termsHash,
        OrderStatus.Created,
      ]);
    });

    it("starts the order with nothing held, delivered or paid, not funded and no dispute due", async function () {
      const { escrow, createOrder } = await loadFixture(settlementFixture);
      const o = await escrow.order(await createOrder());
      expect([o.held, o.delivered, o.paidQuantity, o.contested, o.inspectionEnds]).to.deep.equal([0n, 0n, 0n, 0n, 0n]);
      expect([o.fundedAt, o.decideBy]).to.deep.equal([0n, 0n]);
    });

    it("stores and announces the dispute fallback of the terms", async function () {
      const { escrow, terms, agents } = await loadFixture(settlementFixture);
      await expect(escrow.connect(agents.buyer).createOrder(terms()))
        .to.emit(escrow, "DisputeTermsSet")
        .withArgs(1n, DISPUTE.timeout, DISPUTE.defaultShareBps);
      const o = await escrow.order(1n);
      expect([o.disputeTimeout, o.defaultSellerShareBps]).to.deep.equal([BigInt(DISPUTE.timeout), BigInt(DISPUTE.defaultShareBps)]);
    });

    it("announces the order with all its terms", async function () {
      const { escrow, terms, agents, orgs, deadline, tokenAddress } = await loadFixture(settlementFixture);
      await expect(escrow.connect(agents.buyer).createOrder(terms()))
        .to.emit(escrow, "OrderCreated")
        .withArgs(
          1n,
          orgs.buyer,
          orgs.seller,
          orgs.arbiter,
          tokenAddress,
          PRODUCT.cheese.gtin,
          ORDER.quantity,
          ORDER.pricePerUnit,
          deadline,
          ORDER.inspectionWindow,
          ORDER.termsHash,
        );
    });

    it("numbers the next order two and counts both", async function () {
      const { escrow, createOrder } = await loadFixture(settlementFixture);
      await createOrder();
      expect([await createOrder(), await escrow.orderCount()]).to.deep.equal([2n, 2n]);
    });

    it("accepts an order without an arbiter", async function () {
      const { escrow, createOrder } = await loadFixture(settlementFixture);
      const o = await escrow.order(await createOrder({ arbiter: 0n }));
      expect(o.arbiter).to.equal(0n);
    });

    it("prices the order at quantity times price over 1,000 (quantities have three decimals)", async function () {
      const { createOrder, orderValue } = await loadFixture(settlementFixture);
      const orderId = await createOrder();
      // 500 kg at 8.40 EUR/kg: 4,200.00 EUR, i.e. 420,000 cents.
      expect(await orderValue(orderId, ORDER.quantity)).to.equal(420_000n);
    });

    it("refuses an agent without the buyer role", async function () {
      const { escrow, registry, terms, agents } = await loadFixture(settlementFixture);
      await expect(escrow.connect(agents.seller).createOrder(terms()))
        .to.be.revertedWithCustomError(registry, "IdentityUnauthorizedAgent")
        .withArgs(agents.seller.address, ROLE.buyer);
    });

    it("refuses the buyer's receiving clerk, who may not buy", async function () {
      const { escrow, registry, terms, buyerClerk } = await loadFixture(settlementFixture);
      await expect(escrow.connect(buyerClerk).createOrder(terms()))
        .to.be.revertedWithCustomError(registry, "IdentityUnauthorizedAgent")
        .withArgs(buyerClerk.address, ROLE.buyer);
    });

    it("refuses an unbound wallet", async function () {
      const { escrow, registry, terms, outsider } = await loadFixture(settlementFixture);
      await expect(escrow.connect(outsider).createOrder(terms()))
        .to.be.revertedWithCustomError(registry, "IdentityUnauthorizedAgent")
        .withArgs(outsider.address, ROLE.buyer);
    });

    it("refuses a zero quantity", async function () {
      const { escrow, terms, agents } = await loadFixture(settlementFixture);
      await expect(escrow.connect(agents.buyer).createOrder(terms({ quantity: 0n }))).to.be.revertedWithCustomError(
        escrow,
        "SettlementInvalidTerms",
      );
    });

    it("refuses a zero price", async function () {
      const { escrow, terms, agents } = await loadFixture(settlementFixture);
      await expect(escrow.connect(agents.buyer).createOrder(terms({ pricePerUnit: 0n }))).to.be.revertedWithCustomError(
        escrow,
        "SettlementInvalidTerms",
      );
    });

    it("refuses the zero address as token", async function () {
      const { escrow, terms, agents } = await loadFixture(settlementFixture);
      await expect(escrow.connect(agents.buyer).createOrder(terms({ token: ZeroAddress }))).to.be.revertedWithCustomError(
        escrow,
        "SettlementInvalidTerms",
      );
    });

    it("refuses a deadline already past", async function () {
      const { escrow, terms, agents } = await loadFixture(settlementFixture);
      const past = BigInt(await time.latest()) - 1n;
      await expect(escrow.connect(agents.buyer).createOrder(terms({ deliveryDeadline: past }))).to.be.revertedWithCustomError(
        escrow,
        "SettlementInvalidTerms",
      );
    });

    it("refuses a deadline in the very second of the order", async function () {
      const { escrow, terms, agents } = await loadFixture(settlementFixture);
      const next = (await time.latest()) + 1;
      await time.setNextBlockTimestamp(next);
      await expect(
        escrow.connect(agents.buyer).createOrder(terms({ deliveryDeadline: BigInt(next) })),
      ).to.be.revertedWithCustomError(escrow, "SettlementInvalidTerms");
    });

    it("refuses an order from the buyer's own organisation", async function () {
      const { escrow, terms, agents, orgs } = await loadFixture(settlementFixture);
      await expect(escrow.connect(agents.buyer).createOrder(terms({ seller: orgs.buyer }))).to.be.revertedWithCustomError(
        escrow,
        "SettlementInvalidTerms",
      );
    });

    it("refuses the buyer as arbiter", async function () {
      const { escrow, terms, agents, orgs } = await loadFixture(settlementFixture);
      await expect(escrow.connect(agents.buyer).createOrder(terms({ arbiter: orgs.buyer }))).to.be.revertedWithCustomError(
        escrow,
        "SettlementInvalidTerms",
      );
    });

    it("refuses the seller as arbiter", async function () {
      const { escrow, terms, agents, orgs } = await loadFixture(settlementFixture);
      await expect(escrow.connect(agents.buyer).createOrder(terms({ arbiter: orgs.seller }))).to.be.revertedWithCustomError(
        escrow,
        "SettlementInvalidTerms",
      );
    });

    it("refuses terms whose value rounds down to nothing", async function () {
      const { escrow, terms, agents } = await loadFixture(settlementFixture);
      // 0.001 kg at 0.01 EUR/kg is worth 0.00001 EUR: zero cents.
      await expect(
        escrow.connect(agents.buyer).createOrder(terms({ quantity: 1n, pricePerUnit: 1n })),
      ).to.be.revertedWithCustomError(escrow, "SettlementInvalidTerms");
    });

    it("refuses terms whose value does not fit the escrow's 128-bit balance", async function () {
      const { escrow, terms, agents } = await loadFixture(settlementFixture);
      await expect(
        escrow.connect(agents.buyer).createOrder(terms({ quantity: MAX_UINT128, pricePerUnit: 1001n })),
      ).to.be.revertedWithCustomError(escrow, "SettlementInvalidTerms");
    });

    it("accepts the largest value that fits the escrow's 128-bit balance", async function () {
      const { escrow, terms, agents } = await loadFixture(settlementFixture);
      await expect(escrow.connect(agents.buyer).createOrder(terms({ quantity: MAX_UINT128, pricePerUnit: 1000n }))).to.emit(
        escrow,
        "OrderCreated",
      );
    });

    it("refuses an unknown seller", async function () {
      const { escrow, terms, agents } = await loadFixture(settlementFixture);
      await expect(escrow.connect(agents.buyer).createOrder(terms({ seller: UNKNOWN_ORG })))
        .to.be.revertedWithCustomError(escrow, "SettlementUnknownOrganisation")
        .withArgs(UNKNOWN_ORG);
    });

    it("refuses a suspended seller", async function () {
      const { escrow, registry, terms, agents, orgs, governor } = await loadFixture(settlementFixture);
      await registry.connect(governor).suspendOrganisation(orgs.seller, "unpaid consortium fees");
      await expect(escrow.connect(agents.buyer).createOrder(terms()))
        .to.be.revertedWithCustomError(escrow, "SettlementUnknownOrganisation")
        .withArgs(orgs.seller);
    });

    it("refuses an unknown arbiter", async function () {
      const { escrow, terms, agents } = await loadFixture(settlementFixture);
      await expect(escrow.connect(agents.buyer).createOrder(terms({ arbiter: UNKNOWN_ORG })))
        .to.be.revertedWithCustomError(escrow, "SettlementUnknownOrganisation")
        .withArgs(UNKNOWN_ORG);
    });

    it("refuses a suspended arbiter", async function () {
      const { escrow, registry, terms, agents, orgs, governor } = await loadFixture(settlementFixture);
      await registry.connect(governor).suspendOrganisation(orgs.arbiter, "accreditation lapsed");
      await expect(escrow.connect(agents.buyer).createOrder(terms()))
        .to.be.revertedWithCustomError(escrow, "SettlementUnknownOrganisation")
        .withArgs(orgs.arbiter);
    });
  });

  describe("cancel", function () {
    it("lets the buyer cancel an unfunded order", async function () {
      const { escrow, agents, orgs, orderId } = await loadFixture(createdOrderFixture);
      await expect(escrow.connect(agents.buyer).cancel(orderId)).to.emit(escrow, "OrderCancelled").withArgs(orderId, orgs.buyer);
    });

    it("lets the seller cancel an unfunded order", async function () {
      const { escrow, agents, orgs, orderId } = await loadFixture(createdOrderFixture);
      await expect(escrow.connect(agents.seller).cancel(orderId))
        .to.emit(escrow, "OrderCancelled")
        .withArgs(orderId, orgs.seller);
    });

    it("lets any agent of a party cancel, whatever its roles", async function () {
      const { escrow, buyerClerk, orgs, orderId } = await loadFixture(createdOrderFixture);
      await expect(escrow.connect(buyerClerk).cancel(orderId)).to.emit(escrow, "OrderCancelled").withArgs(orderId, orgs.buyer);
    });

    it("marks the order cancelled", async function () {
      const { escrow, agents, orderId } = await loadFixture(createdOrderFixture);
      await expect(escrow.connect(agents.buyer).cancel(orderId))
        .to.emit(escrow, "OrderStatusChanged")
        .withArgs(orderId, OrderStatus.Cancelled);
      expect((await escrow.order(orderId)).status).to.equal(OrderStatus.Cancelled);
    });

    it("refuses an agent of neither party", async function () {
      const { escrow, agents, orgs, orderId } = await loadFixture(createdOrderFixture);
      await expect(escrow.connect(agents.arbiter).cancel(orderId))
        .to.be.revertedWithCustomError(escrow, "SettlementNotBuyer")
        .withArgs(orderId, orgs.arbiter);
    });

    it("refuses an unbound wallet", async function () {
      const { escrow, registry, outsider, orderId } = await loadFixture(createdOrderFixture);
      await expect(escrow.connect(outsider).cancel(orderId))
        .to.be.revertedWithCustomError(registry, "IdentityUnauthorizedAgent")
        .withArgs(outsider.address, ANY_ROLE);
    });

    it("refuses once the order is funded", async function () {
      const { escrow, agents, fund, orderId } = await loadFixture(createdOrderFixture);
      await fund(orderId);
      await expect(escrow.connect(agents.seller).cancel(orderId))
        .to.be.revertedWithCustomError(escrow, "SettlementWrongStatus")
        .withArgs(orderId, OrderStatus.Funded);
    });

    it("refuses an order already cancelled", async function () {
      const { escrow, agents, orderId } = await loadFixture(createdOrderFixture);
      await escrow.connect(agents.buyer).cancel(orderId);
      await expect(escrow.connect(agents.buyer).cancel(orderId))
        .to.be.revertedWithCustomError(escrow, "SettlementWrongStatus")
        .withArgs(orderId, OrderStatus.Cancelled);
    });

    it("refuses an unknown order", async function () {
      const { escrow, agents } = await loadFixture(createdOrderFixture);
      await expect(escrow.connect(agents.buyer).cancel(UNKNOWN_ORDER))
        .to.be.revertedWithCustomError(escrow, "SettlementUnknownOrder")
        .withArgs(UNKNOWN_ORDER);
    });

    it("leaves a cancelled order unfundable", async function () {
      const { escrow, token, agents, escrowAddress, orderValue, orderId } = await loadFixture(createdOrderFixture);
      await escrow.connect(agents.buyer).cancel(orderId);
      await token.connect(agents.buyer).approve(escrowAddress, await orderValue(orderId, ORDER.quantity));
      await expect(escrow.connect(agents.buyer).fund(orderId))
        .to.be.revertedWithCustomError(escrow, "SettlementWrongStatus")
        .withArgs(orderId, OrderStatus.Cancelled);
    });
  });
});
