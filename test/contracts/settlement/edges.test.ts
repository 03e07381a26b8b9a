import { expect } from "chai";
import { encodeBytes32String } from "ethers";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { fundedOrderFixture, lotIdOf, partlyDeliveredFixture, PRODUCT, qty, type Sale } from "../../helpers/settlement-fixture";

/**
 * Delivery rules the main settlement tests leave out (found by `npm run coverage`,
 * docs/reliability.md).
 */

const MAX_BATCHES_PER_ORDER = 64;

describe("SettlementEscrow edge cases", function () {
  it("lists a batch the buyer sent back and bought again once among the order's batches, counting each sale", async function () {
    const { escrow, agents, sales, orderId, handOver, deliver } = await loadFixture(partlyDeliveredFixture);
    const lot = sales.cheeseA.batchId;
    await handOver(lot, undefined, "seller", "buyer"); // the buyer returns lot A (200 kg)
    const again = await handOver(lot); // and buys it again
    expect(again.batchId).to.equal(lot);
    await deliver(orderId, [again]);
    expect(await escrow.deliveredBatches(orderId)).to.deep.equal([lot]);
    expect((await escrow.order(orderId)).delivered, "each sale of the goods to the buyer counts").to.equal(qty(400));
    await expect(escrow.connect(agents.seller).deliver(orderId, [again])).to.be.revertedWithCustomError(escrow, "SettlementSaleAlreadyCounted");
  });

  /** The funded order with 65 one-kilogram portions of a further cheese lot sold to the buyer. */
  async function sixtyFivePortionsFixture() {
    const f = await loadFixture(fundedOrderFixture);
    const lot = { gtin: PRODUCT.cheese.gtin, lot: "K2404-65", quantity: qty(MAX_BATCHES_PER_ORDER + 1), gln: "", metadataHash: encodeBytes32String("65") };
    await f.provenance.connect(f.agents.seller).registerLots([lot]);
    const parent = lotIdOf(PRODUCT.cheese.gtin, lot.lot);
    const portions: Sale[] = [];
    for (let i = 0; i < MAX_BATCHES_PER_ORDER; i++) portions.push(await f.handOver(parent, qty(1)));
    portions.push(await f.handOver(parent));
    return { ...f, portions };
  }

  it("refuses a 65th distinct batch in one order (release walks them all)", async function () {
    const { escrow, agents, portions, orderId, deliver } = await loadFixture(sixtyFivePortionsFixture);
    await deliver(orderId, portions.slice(0, 32));
    await deliver(orderId, portions.slice(32, 64));
    expect(await escrow.deliveredBatches(orderId)).to.have.length(MAX_BATCHES_PER_ORDER);
    await expect(escrow.connect(agents.seller).deliver(orderId, portions.slice(64)))
      .to.be.revertedWithCustomError(escrow, "SettlementTooManyBatches")
      .withArgs(MAX_BATCHES_PER_ORDER + 1, MAX_BATCHES_PER_ORDER);
  });
});
