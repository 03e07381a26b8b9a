import { expect } from "chai";
import { encodeBytes32String } from "ethers";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import {
  digest,
  gs1CheckDigit,
  gtinFor,
  NEEDED,
  PREFIX,
  PRODUCT,
  provenanceFixture,
  unitCode,
} from "../../helpers/provenance-fixture";

/** A new processor product (item reference 42), not registered by the fixture. */
const YOGHURT = gtinFor(PREFIX.processor, 42);
const YOGHURT_DATA = digest("Yoghurt, natuur, 1 kg");

function withWrongCheckDigit(gtin: bigint): bigint {
  return gtin - (gtin % 10n) + ((gtin + 1n) % 10n);
}

describe("ProvenanceRegistry products and governance tables", function () {
  describe("registerProduct", function () {
    it("registers a GTIN under the sender organisation's company prefix", async function () {
      const { provenance, agents, orgs } = await loadFixture(provenanceFixture);
      await expect(provenance.connect(agents.processor).registerProduct(YOGHURT, unitCode("KGM"), YOGHURT_DATA))
        .to.emit(provenance, "ProductRegistered")
        .withArgs(YOGHURT, orgs.processor, unitCode("KGM"), YOGHURT_DATA);
    });

    it("stores the product's organisation and unit", async function () {
      const { provenance, agents, orgs } = await loadFixture(provenanceFixture);
      await provenance.connect(agents.processor).registerProduct(YOGHURT, unitCode("KGM"), YOGHURT_DATA);
      const stored = await provenance.product(YOGHURT);
      expect([stored.org, stored.unit]).to.deep.equal([orgs.processor, unitCode("KGM")]);
    });

    it("accepts a GTIN with a packaging-level indicator digit", async function () {
      const { provenance, agents, orgs } = await loadFixture(provenanceFixture);
      const crate = gtinFor(PREFIX.processor, 42, 3);
      await expect(provenance.connect(agents.processor).registerProduct(crate, unitCode("H87"), YOGHURT_DATA))
        .to.emit(provenance, "ProductRegistered")
        .withArgs(crate, orgs.processor, unitCode("H87"), YOGHURT_DATA);
    });

    it("refuses a GTIN whose check digit is wrong", async function () {
      const { provenance, agents } = await loadFixture(provenanceFixture);
      const wrong = withWrongCheckDigit(YOGHURT);
      await expect(provenance.connect(agents.processor).registerProduct(wrong, unitCode("KGM"), YOGHURT_DATA))
        .to.be.revertedWithCustomError(provenance, "ProvenanceInvalidGtin")
        .withArgs(wrong);
    });

    it("refuses GTIN zero", async function () {
      const { provenance, agents } = await loadFixture(provenanceFixture);
      await expect(provenance.connect(agents.processor).registerProduct(0n, unitCode("KGM"), YOGHURT_DATA))
        .to.be.revertedWithCustomError(provenance, "ProvenanceInvalidGtin")
        .withArgs(0n);
    });

    it("refuses a number longer than fourteen digits", async function () {
      const { provenance, agents } = await loadFixture(provenanceFixture);
      const data = `1${PREFIX.processor}000042`.padEnd(14, "0");
      const fifteen = BigInt(data + gs1CheckDigit(data));
      await expect(provenance.connect(agents.processor).registerProduct(fifteen, unitCode("KGM"), YOGHURT_DATA))
        .to.be.revertedWithCustomError(provenance, "ProvenanceInvalidGtin")
        .withArgs(fifteen);
    });

    it("refuses a GTIN under another organisation's company prefix", async function () {
      const { provenance, agents, orgs } = await loadFixture(provenanceFixture);
      const farmCheese = gtinFor(PREFIX.producer, 42);
      await expect(provenance.connect(agents.processor).registerProduct(farmCheese, unitCode("KGM"), YOGHURT_DATA))
        .to.be.revertedWithCustomError(provenance, "ProvenanceForeignPrefix")
        .withArgs(farmCheese, orgs.processor);
    });

    it("refuses a GTIN under a company prefix nobody holds", async function () {
      const { provenance, agents, orgs } = await loadFixture(provenanceFixture);
      const unlicensed = gtinFor("7777777", 1);
      await expect(provenance.connect(agents.processor).registerProduct(unlicensed, unitCode("KGM"), YOGHURT_DATA))
        .to.be.revertedWithCustomError(provenance, "ProvenanceForeignPrefix")
        .withArgs(unlicensed, orgs.processor);
    });

    it("refuses a unit of measure governance has not defined", async function () {
      const { provenance, agents } = await loadFixture(provenanceFixture);
      await expect(provenance.connect(agents.processor).registerProduct(YOGHURT, unitCode("XXX"), YOGHURT_DATA))
        .to.be.revertedWithCustomError(provenance, "ProvenanceUnknownUnit")
        .withArgs(unitCode("XXX"));
    });

    it("refuses a GTIN registered before", async function () {
      const { provenance, agents } = await loadFixture(provenanceFixture);
      await expect(provenance.connect(agents.processor).registerProduct(PRODUCT.butter.gtin, unitCode("KGM"), YOGHURT_DATA))
        .to.be.revertedWithCustomError(provenance, "ProvenanceProductExists")
        .withArgs(PRODUCT.butter.gtin);
    });

    it("is refused to an agent without a producer, processor or integration role", async function () {
      const { provenance, registry, agents } = await loadFixture(provenanceFixture);
      await expect(
        provenance.connect(agents.retailer).registerProduct(gtinFor(PREFIX.retailer, 1), unitCode("H87"), YOGHURT_DATA),
      )
        .to.be.revertedWithCustomError(registry, "IdentityUnauthorizedAgent")
        .withArgs(agents.retailer.address, NEEDED.makers);
    });

    it("is refused to an org admin holding no business role", async function () {
      const { provenance, registry, admins } = await loadFixture(provenanceFixture);
      await expect(provenance.connect(admins.processor).registerProduct(YOGHURT, unitCode("KGM"), YOGHURT_DATA))
        .to.be.revertedWithCustomError(registry, "IdentityUnauthorizedAgent")
        .withArgs(admins.processor.address, NEEDED.makers);
    });

    it("is refused to a wallet bound to no organisation", async function () {
      const { provenance, registry, outsider } = await loadFixture(provenanceFixture);
      await expect(provenance.connect(outsider).registerProduct(YOGHURT, unitCode("KGM"), YOGHURT_DATA))
        .to.be.revertedWithCustomError(registry, "IdentityUnauthorizedAgent")
        .withArgs(outsider.address, NEEDED.makers);
    });
  });

  describe("updateProduct", function () {
    it("records new master data of the organisation's product", async function () {
      const { provenance, agents } = await loadFixture(provenanceFixture);
      const revised = digest("Boter, 82 % vet, blok 25 kg, herziene etikettering");
      await expect(provenance.connect(agents.processor).updateProduct(PRODUCT.butter.gtin, revised))
        .to.emit(provenance, "ProductUpdated")
        .withArgs(PRODUCT.butter.gtin, revised);
    });

    it("refuses another organisation's product", async function () {
      const { provenance, agents, orgs } = await loadFixture(provenanceFixture);
      await expect(provenance.connect(agents.producer).updateProduct(PRODUCT.butter.gtin, YOGHURT_DATA))
        .to.be.revertedWithCustomError(provenance, "ProvenanceForeignPrefix")
        .withArgs(PRODUCT.butter.gtin, orgs.producer);
    });

    it("refuses a product never registered", async function () {
      const { provenance, agents, orgs } = await loadFixture(provenanceFixture);
      await expect(provenance.connect(agents.processor).updateProduct(YOGHURT, YOGHURT_DATA))
        .to.be.revertedWithCustomError(provenance, "ProvenanceForeignPrefix")
        .withArgs(YOGHURT, orgs.processor);
    });
  });

  describe("units of measure", function () {
    it("starts with the Rec 20 mass, volume and count units", async function () {
      const { provenance } = await loadFixture(provenanceFixture);
      const table = await Promise.all(
        ["MGM", "GRM", "KGM", "TNE", "LBR", "MLT", "LTR", "MTQ", "H87", "C62", "EA\0"].map(async (code) => {
          const u = await provenance.unitOfMeasure(unitCode(code));
          return [Number(u.dimension), u.toBase];
        }),
      );
      expect(table).to.deep.equal([
        [1, 1n],
        [1, 1_000n],
        [1, 1_000_000n],
        [1, 1_000_000_000n],
        [1, 453_592n],
        [2, 1n],
        [2, 1_000n],
        [2, 1_000_000n],
        [3, 1n],
        [3, 1n],
        [3, 1n],
      ]);
    });

    it("lets governance define a unit", async function () {
      const { provenance } = await loadFixture(provenanceFixture);
      await expect(provenance.setUnitOfMeasure(unitCode("ONZ"), 1, 28_350))
        .to.emit(provenance, "UnitOfMeasureSet")
        .withArgs(unitCode("ONZ"), 1, 28_350);
    });

    it("stores a unit's dimension and factor", async function () {
      const { provenance } = await loadFixture(provenanceFixture);
      await provenance.setUnitOfMeasure(unitCode("ONZ"), 1, 28_350);
      const u = await provenance.unitOfMeasure(unitCode("ONZ"));
      expect([u.dimension, u.toBase]).to.deep.equal([1n, 28_350n]);
    });

    it("lets products use a unit governance defined", async function () {
      const { provenance, agents, orgs } = await loadFixture(provenanceFixture);
      await provenance.setUnitOfMeasure(unitCode("ONZ"), 1, 28_350);
      await expect(provenance.connect(agents.processor).registerProduct(YOGHURT, unitCode("ONZ"), YOGHURT_DATA))
        .to.emit(provenance, "ProductRegistered")
        .withArgs(YOGHURT, orgs.processor, unitCode("ONZ"), YOGHURT_DATA);
    });

    it("withdraws a unit from new products when its factor is set to zero", async function () {
      const { provenance, agents } = await loadFixture(provenanceFixture);
      await provenance.setUnitOfMeasure(unitCode("KGM"), 1, 0);
      await expect(provenance.connect(agents.processor).registerProduct(YOGHURT, unitCode("KGM"), YOGHURT_DATA))
        .to.be.revertedWithCustomError(provenance, "ProvenanceUnknownUnit")
        .withArgs(unitCode("KGM"));
    });

    it("refuses a dimension beyond count (3)", async function () {
      const { provenance } = await loadFixture(provenanceFixture);
      await expect(provenance.setUnitOfMeasure(unitCode("KWH"), 4, 1))
        .to.be.revertedWithCustomError(provenance, "ProvenanceUnknownUnit")
        .withArgs(unitCode("KWH"));
    });

    it("is refused to anyone but governance", async function () {
      const { provenance, agents } = await loadFixture(provenanceFixture);
      await expect(provenance.connect(agents.processor).setUnitOfMeasure(unitCode("ONZ"), 1, 28_350))
        .to.be.revertedWithCustomError(provenance, "ProvenanceNotGovernor")
        .withArgs(agents.processor.address);
    });
  });

  describe("transformation kinds", function () {
    it("starts with PROCESS at 2 %, MERGE and REPACK at 0 %", async function () {
      const { provenance } = await loadFixture(provenanceFixture);
      const kinds = await Promise.all(
        ["PROCESS", "MERGE", "REPACK"].map(async (name) => {
          const k = await provenance.transformKind(encodeBytes32String(name));
          return [k.enabled, Number(k.toleranceBps)];
        }),
      );
      expect(kinds).to.deep.equal([
        [true, 200],
        [true, 0],
        [true, 0],
      ]);
    });

    it("lets governance enable a kind with its tolerance", async function () {
      const { provenance } = await loadFixture(provenanceFixture);
      const kind = encodeBytes32String("CHURN");
      await expect(provenance.setTransformKind(kind, true, 50))
        .to.emit(provenance, "TransformKindSet")
        .withArgs(kind, true, 50);
    });

    it("stores a kind's switch and tolerance", async function () {
      const { provenance } = await loadFixture(provenanceFixture);
      const kind = encodeBytes32String("CHURN");
      await provenance.setTransformKind(kind, true, 50);
      const stored = await provenance.transformKind(kind);
      expect([stored.enabled, stored.toleranceBps]).to.deep.equal([true, 50n]);
    });

    it("is refused to anyone but governance", async function () {
      const { provenance, outsider } = await loadFixture(provenanceFixture);
      await expect(provenance.connect(outsider).setTransformKind(encodeBytes32String("CHURN"), true, 50))
        .to.be.revertedWithCustomError(provenance, "ProvenanceNotGovernor")
        .withArgs(outsider.address);
    });
  });
});
