import { expect } from "chai";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import {
  digest,
  GLN,
  glnFor,
  gtinFor,
  LOT,
  lotIdOf,
  NEEDED,
  newLot,
  portionIdOf,
  PREFIX,
  PRODUCT,
  provenanceFixture,
  qty,
  Recall,
  Status,
} from "../../helpers/provenance-fixture";

const COLLECTION = "M240413-A";
const MAX_BATCH_ITEMS = 64;

/** `count` milk lots of 1,000 litres at the farm, numbered from M240501-001. */
function milkLots(count: number) {
  return Array.from({ length: count }, (_, i) =>
    newLot("milk", `M240501-${String(i + 1).padStart(3, "0")}`, qty(1_000), GLN.producer),
  );
}

describe("ProvenanceRegistry lot registration", function () {
  describe("registerLots", function () {
    it("announces the lot with its GTIN, producer, number, quantity, location and metadata", async function () {
      const { provenance, agents, orgs } = await loadFixture(provenanceFixture);
      const lot = newLot("milk", COLLECTION, qty(18_500), GLN.producer, digest("collection 13 April"));
      await expect(provenance.connect(agents.producer).registerLots([lot]))
        .to.emit(provenance, "LotRegistered")
        .withArgs(
          lotIdOf(lot.gtin, COLLECTION),
          lot.gtin,
          orgs.producer,
          COLLECTION,
          qty(18_500),
          GLN.producer,
          lot.metadataHash,
        );
    });

    it("creates the lot's first portion, owned and held by the producer", async function () {
      const { provenance, agents, orgs } = await loadFixture(provenanceFixture);
      await provenance.connect(agents.producer).registerLots([newLot("milk", COLLECTION, qty(18_500), GLN.producer)]);
      const b = await provenance.batch(lotIdOf(PRODUCT.milk.gtin, COLLECTION));
      expect([b.quantity, b.owner, b.custodian, b.gtin, b.producer, b.splits, b.status, b.recall]).to.deep.equal([
        qty(18_500),
        orgs.producer,
        orgs.producer,
        PRODUCT.milk.gtin,
        orgs.producer,
        0n,
        Status.Active,
        Recall.None,
      ]);
    });

    it("returns the lot ids keccak256(abi.encode(gtin, lot))", async function () {
      const { provenance, agents } = await loadFixture(provenanceFixture);
      const lots = [newLot("milk", COLLECTION, qty(1), GLN.producer), newLot("milk", "M240413-B", qty(2), GLN.producer)];
      expect(await provenance.connect(agents.producer).registerLots.staticCall(lots)).to.deep.equal([
        lotIdOf(PRODUCT.milk.gtin, COLLECTION),
        lotIdOf(PRODUCT.milk.gtin, "M240413-B"),
      ]);
    });

    it("derives the same lot id as the lotId view", async function () {
      const { provenance } = await loadFixture(provenanceFixture);
      expect(await provenance.lotId(PRODUCT.milk.gtin, COLLECTION)).to.equal(lotIdOf(PRODUCT.milk.gtin, COLLECTION));
    });

    it("derives the same portion id as the portionId view", async function () {
      const { provenance, lotIds } = await loadFixture(provenanceFixture);
      expect(await provenance.portionId(lotIds.milk, 7)).to.equal(portionIdOf(lotIds.milk, 7));
    });

    it("accepts a lot without a location", async function () {
      const { provenance, agents } = await loadFixture(provenanceFixture);
      await expect(provenance.connect(agents.producer).registerLots([newLot("milk", COLLECTION, qty(1), "")])).to.emit(
        provenance,
        "LotRegistered",
      );
    });

    it("accepts a twenty-character lot number using every CSET 82 punctuation class", async function () {
      const { provenance, agents, orgs } = await loadFixture(provenanceFixture);
      const lot = `!"%&'()*+,-./:;<=>?_`;
      await expect(provenance.connect(agents.producer).registerLots([newLot("milk", lot, qty(1), "")]))
        .to.emit(provenance, "LotRegistered")
        .withArgs(lotIdOf(PRODUCT.milk.gtin, lot), PRODUCT.milk.gtin, orgs.producer, lot, qty(1), "", digest(lot));
    });

    it("registers the same lot number under two GTINs as two lots", async function () {
      const { provenance, agents } = await loadFixture(provenanceFixture);
      await provenance.connect(agents.processor).registerLots([newLot("cream", LOT.butter.lot, qty(100), GLN.processor)]);
      expect((await provenance.batch(lotIdOf(PRODUCT.cream.gtin, LOT.butter.lot))).quantity).to.equal(qty(100));
    });

    it(`registers ${MAX_BATCH_ITEMS} lots in one call`, async function () {
      const { provenance, agents } = await loadFixture(provenanceFixture);
      const lots = milkLots(MAX_BATCH_ITEMS);
      await provenance.connect(agents.producer).registerLots(lots);
      const statuses = await Promise.all(lots.map(async (l) => (await provenance.batch(lotIdOf(l.gtin, l.lot))).status));
      expect(statuses).to.deep.equal(lots.map(() => Status.Active));
    });

    it(`refuses more than ${MAX_BATCH_ITEMS} lots in one call`, async function () {
      const { provenance, agents } = await loadFixture(provenanceFixture);
      await expect(provenance.connect(agents.producer).registerLots(milkLots(MAX_BATCH_ITEMS + 1)))
        .to.be.revertedWithCustomError(provenance, "ProvenanceTooMany")
        .withArgs(MAX_BATCH_ITEMS + 1, MAX_BATCH_ITEMS);
    });

    it("refuses a GTIN that is not a registered product", async function () {
      const { provenance, agents } = await loadFixture(provenanceFixture);
      const unregistered = gtinFor(PREFIX.producer, 99);
      await expect(
        provenance.connect(agents.producer).registerLots([{ ...newLot("milk", COLLECTION, qty(1)), gtin: unregistered }]),
      )
        .to.be.revertedWithCustomError(provenance, "ProvenanceUnknownProduct")
        .withArgs(unregistered);
    });

    it("refuses a lot of another organisation's product", async function () {
      const { provenance, agents, orgs } = await loadFixture(provenanceFixture);
      await expect(provenance.connect(agents.producer).registerLots([newLot("butter", "B-FAKE", qty(1))]))
        .to.be.revertedWithCustomError(provenance, "ProvenanceForeignPrefix")
        .withArgs(PRODUCT.butter.gtin, orgs.producer);
    });

    for (const [label, lot] of [
      ["a space", "M 240413"],
      ["a hash sign", "M#240413"],
      ["an at sign", "M@240413"],
      ["a non-ASCII letter", "Mé240413"],
      ["a control character", "M\n240413"],
    ] as const) {
      it(`refuses a lot number containing ${label}`, async function () {
        const { provenance, agents } = await loadFixture(provenanceFixture);
        await expect(provenance.connect(agents.producer).registerLots([newLot("milk", lot, qty(1))]))
          .to.be.revertedWithCustomError(provenance, "ProvenanceInvalidLot")
          .withArgs(lot);
      });
    }

    it("refuses an empty lot number", async function () {
      const { provenance, agents } = await loadFixture(provenanceFixture);
      await expect(provenance.connect(agents.producer).registerLots([newLot("milk", "", qty(1))]))
        .to.be.revertedWithCustomError(provenance, "ProvenanceInvalidLot")
        .withArgs("");
    });

    it("refuses a lot number of twenty-one characters", async function () {
      const { provenance, agents } = await loadFixture(provenanceFixture);
      const lot = "M".repeat(21);
      await expect(provenance.connect(agents.producer).registerLots([newLot("milk", lot, qty(1))]))
        .to.be.revertedWithCustomError(provenance, "ProvenanceInvalidLot")
        .withArgs(lot);
    });

    it("refuses a zero quantity", async function () {
      const { provenance, agents } = await loadFixture(provenanceFixture);
      await expect(provenance.connect(agents.producer).registerLots([newLot("milk", COLLECTION, 0n)]))
        .to.be.revertedWithCustomError(provenance, "ProvenanceInvalidQuantity")
        .withArgs(0n);
    });

    it("refuses another organisation's location", async function () {
      const { provenance, agents, orgs } = await loadFixture(provenanceFixture);
      await expect(provenance.connect(agents.producer).registerLots([newLot("milk", COLLECTION, qty(1), GLN.processor)]))
        .to.be.revertedWithCustomError(provenance, "ProvenanceForeignLocation")
        .withArgs(GLN.processor, orgs.producer);
    });

    it("refuses a location under its own prefix that was never registered", async function () {
      const { provenance, agents, orgs } = await loadFixture(provenanceFixture);
      const barn = glnFor(PREFIX.producer, 2);
      await expect(provenance.connect(agents.producer).registerLots([newLot("milk", COLLECTION, qty(1), barn)]))
        .to.be.revertedWithCustomError(provenance, "ProvenanceForeignLocation")
        .withArgs(barn, orgs.producer);
    });

    it("refuses a lot registered before", async function () {
      const { provenance, agents, lotIds } = await loadFixture(provenanceFixture);
      await expect(provenance.connect(agents.producer).registerLots([newLot("milk", LOT.milk.lot, qty(1))]))
        .to.be.revertedWithCustomError(provenance, "ProvenanceLotExists")
        .withArgs(lotIds.milk);
    });

    it("refuses the same lot twice in one call", async function () {
      const { provenance, agents } = await loadFixture(provenanceFixture);
      const lot = newLot("milk", COLLECTION, qty(1));
      await expect(provenance.connect(agents.producer).registerLots([lot, lot]))
        .to.be.revertedWithCustomError(provenance, "ProvenanceLotExists")
        .withArgs(lotIdOf(lot.gtin, COLLECTION));
    });

    it("registers none of the lots when one is refused", async function () {
      const { provenance, agents } = await loadFixture(provenanceFixture);
      const good = newLot("milk", COLLECTION, qty(1));
      await expect(provenance.connect(agents.producer).registerLots([good, newLot("milk", "M 1", qty(1))]))
        .to.be.revertedWithCustomError(provenance, "ProvenanceInvalidLot")
        .withArgs("M 1");
      expect((await provenance.batch(lotIdOf(good.gtin, COLLECTION))).status).to.equal(Status.None);
    });

    it("is refused to a carrier", async function () {
      const { provenance, registry, agents } = await loadFixture(provenanceFixture);
      await expect(provenance.connect(agents.carrier).registerLots([newLot("milk", COLLECTION, qty(1))]))
        .to.be.revertedWithCustomError(registry, "IdentityUnauthorizedAgent")
        .withArgs(agents.carrier.address, NEEDED.makers);
    });
  });
});
