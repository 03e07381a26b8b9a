import { expect } from "chai";
import hre from "hardhat";
import { encodeBytes32String, toBeHex, zeroPadValue, ZeroHash } from "ethers";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import {
  digest,
  GLN,
  gtinFor,
  Kind,
  lotIdOf,
  milkAtProcessorFixture,
  milkWithCarrierFixture,
  newLot,
  PREFIX,
  PRODUCT,
  provenanceFixture,
  qty,
  Status,
  unitCode,
} from "../../helpers/provenance-fixture";

/**
 * Edge cases of products, claims, lots, custody and transformations that the main provenance
 * tests leave out (found by `npm run coverage`, docs/reliability.md): each is a refusal with its
 * error, or a branch of the rules the other tests never take.
 */

const ORGANIC = encodeBytes32String("ORGANIC");
const GRASSFED = encodeBytes32String("GRASSFED");
const ORGANIC_CREDENTIAL = encodeBytes32String("EU-ORGANIC");
const GRASSFED_CREDENTIAL = encodeBytes32String("GRASSFED-CERT");
const MERGE = encodeBytes32String("MERGE");
const YEAR = 365 * 24 * 3600;
/** A unit governance defines with no dimension: it converts to nothing mass balance can weigh. */
const BAG = unitCode("BG") + "00"; // "BG" (Rec 20: bag) left-aligned in bytes3, as the contract writes "EA"
/** ProvenanceStorage's ERC-7201 slot; `claimCount` is the Layout's 22nd field (index 21). */
const PROVENANCE_SLOT = 0x483dc6139c4d5869417cc657cfee0795e10174e0b82483017a90487f5b041200n;
const CLAIM_COUNT_SLOT = toBeHex(PROVENANCE_SLOT + 21n, 32);

describe("ProvenanceRegistry edge cases", function () {
  describe("products with net content", function () {
    const CASE = gtinFor(PREFIX.processor, 9, 1);

    it("refuses a net content of zero per unit", async function () {
      const { provenance, agents } = await loadFixture(provenanceFixture);
      await expect(provenance.connect(agents.processor).registerProductWithNetContent(CASE, unitCode("H87"), unitCode("KGM"), 0, digest("case")))
        .to.be.revertedWithCustomError(provenance, "ProvenanceInvalidQuantity")
        .withArgs(0);
    });

    it("refuses a net content in a unit governance never defined", async function () {
      const { provenance, agents } = await loadFixture(provenanceFixture);
      await expect(provenance.connect(agents.processor).registerProductWithNetContent(CASE, unitCode("H87"), unitCode("XYZ"), qty(10), digest("case")))
        .to.be.revertedWithCustomError(provenance, "ProvenanceUnknownUnit")
        .withArgs(unitCode("XYZ"));
    });

    it("refuses a net content in a unit of no dimension (it could not be weighed)", async function () {
      const { provenance, agents, governor } = await loadFixture(provenanceFixture);
      await provenance.connect(governor).setUnitOfMeasure(BAG, 0, 1);
      await expect(provenance.connect(agents.processor).registerProductWithNetContent(CASE, unitCode("H87"), BAG, qty(10), digest("case")))
        .to.be.revertedWithCustomError(provenance, "ProvenanceUnknownUnit")
        .withArgs(BAG);
    });

    it("refuses a net content per unit beyond 2^48 − 1, and takes 2^48 − 1", async function () {
      const { provenance, agents } = await loadFixture(provenanceFixture);
      const max = 2n ** 48n - 1n;
      await expect(provenance.connect(agents.processor).registerProductWithNetContent(CASE, unitCode("H87"), unitCode("KGM"), max + 1n, digest("case")))
        .to.be.revertedWithCustomError(provenance, "ProvenanceQuantityRange")
        .withArgs(max + 1n);
      await provenance.connect(agents.processor).registerProductWithNetContent(CASE, unitCode("H87"), unitCode("KGM"), max, digest("case"));
      expect((await provenance.netContent(CASE)).perUnit).to.equal(max);
    });
  });

  describe("claims", function () {
    it("refuses defining the zero claim", async function () {
      const { provenance, governor } = await loadFixture(provenanceFixture);
      await expect(provenance.connect(governor).defineClaim(ZeroHash, ORGANIC_CREDENTIAL))
        .to.be.revertedWithCustomError(provenance, "ProvenanceUnknownClaim")
        .withArgs(ZeroHash);
    });

    it("redefines a claim under the bit it already has; a new claim takes the next bit", async function () {
      const { provenance, governor } = await loadFixture(provenanceFixture);
      await expect(provenance.connect(governor).defineClaim(ORGANIC, ORGANIC_CREDENTIAL)).to.emit(provenance, "ClaimDefined").withArgs(ORGANIC, ORGANIC_CREDENTIAL, 1);
      await expect(provenance.connect(governor).defineClaim(ORGANIC, GRASSFED_CREDENTIAL)).to.emit(provenance, "ClaimDefined").withArgs(ORGANIC, GRASSFED_CREDENTIAL, 1);
      await expect(provenance.connect(governor).defineClaim(GRASSFED, GRASSFED_CREDENTIAL)).to.emit(provenance, "ClaimDefined").withArgs(GRASSFED, GRASSFED_CREDENTIAL, 2);
    });

    it("refuses a 256th claim (a batch's claims are one 255-bit set) but still redefines the existing ones", async function () {
      const { provenance, governor } = await loadFixture(provenanceFixture);
      await provenance.connect(governor).defineClaim(ORGANIC, ORGANIC_CREDENTIAL);
      const address = await provenance.getAddress();
      // The slot is checked against the contract's own count before it is moved to 255 claims
      // (defining 254 more takes 254 transactions to the same effect).
      expect(BigInt(await hre.ethers.provider.getStorage(address, CLAIM_COUNT_SLOT)), "claimCount slot").to.equal(1n);
      await hre.network.provider.send("hardhat_setStorageAt", [address, CLAIM_COUNT_SLOT, zeroPadValue(toBeHex(255), 32)]);
      await expect(provenance.connect(governor).defineClaim(GRASSFED, GRASSFED_CREDENTIAL)).to.be.revertedWithCustomError(provenance, "ProvenanceTooManyClaims");
      await expect(provenance.connect(governor).defineClaim(ORGANIC, GRASSFED_CREDENTIAL)).to.emit(provenance, "ClaimDefined").withArgs(ORGANIC, GRASSFED_CREDENTIAL, 1);
    });

    /** ORGANIC defined and the producer certified for it by the auditor (a certifier). */
    async function organicProducerFixture() {
      const f = await loadFixture(provenanceFixture);
      const { provenance, credentials, governor, agents, orgs } = f;
      await provenance.connect(governor).defineClaim(ORGANIC, ORGANIC_CREDENTIAL);
      await credentials.connect(governor).setCertifierType(orgs.auditor, ORGANIC_CREDENTIAL, true);
      const now = await time.latest();
      await credentials.connect(agents.auditor).issueCredential(ORGANIC_CREDENTIAL, orgs.producer, digest("cert"), now, now + YEAR);
      return f;
    }

    it("refuses a claim on an unknown batch", async function () {
      const { provenance, agents } = await loadFixture(organicProducerFixture);
      const unknown = lotIdOf(PRODUCT.milk.gtin, "NEVER");
      await expect(provenance.connect(agents.producer).addClaim(unknown, ORGANIC))
        .to.be.revertedWithCustomError(provenance, "ProvenanceUnknownBatch")
        .withArgs(unknown);
    });

    it("refuses a claim governance never defined, and reports no batch carrying it", async function () {
      const { provenance, agents, lotIds } = await loadFixture(organicProducerFixture);
      await expect(provenance.connect(agents.producer).addClaim(lotIds.milk, GRASSFED))
        .to.be.revertedWithCustomError(provenance, "ProvenanceUnknownClaim")
        .withArgs(GRASSFED);
      expect(await provenance.hasClaim(lotIds.milk, GRASSFED)).to.equal(false);
    });

    it("refuses a claim governance retired, and no longer reports it on batches that carried it", async function () {
      const { provenance, agents, governor, lotIds } = await loadFixture(organicProducerFixture);
      await provenance.connect(agents.producer).addClaim(lotIds.milk, ORGANIC);
      expect(await provenance.hasClaim(lotIds.milk, ORGANIC)).to.equal(true);
      await provenance.connect(governor).defineClaim(ORGANIC, ZeroHash);
      expect(await provenance.hasClaim(lotIds.milk, ORGANIC), "retired").to.equal(false);
      await expect(provenance.connect(agents.producer).addClaim(lotIds.milkB, ORGANIC))
        .to.be.revertedWithCustomError(provenance, "ProvenanceUnknownClaim")
        .withArgs(ORGANIC);
    });

    /**
     * ORGANIC (bit 1) and GRASSFED (bit 2) defined; the producer certified for both, the processor
     * for GRASSFED only; the first milk lot carries both claims, the second GRASSFED only; both
     * lots with the processor.
     */
    async function twoClaimsFixture() {
      const f = await loadFixture(organicProducerFixture);
      const { provenance, credentials, governor, agents, orgs, lotIds } = f;
      await provenance.connect(governor).defineClaim(GRASSFED, GRASSFED_CREDENTIAL);
      await credentials.connect(governor).setCertifierType(orgs.auditor, GRASSFED_CREDENTIAL, true);
      const now = await time.latest();
      for (const org of [orgs.producer, orgs.processor]) {
        await credentials.connect(agents.auditor).issueCredential(GRASSFED_CREDENTIAL, org, digest(`grass ${org}`), now, now + YEAR);
      }
      await provenance.connect(agents.producer).addClaim(lotIds.milk, ORGANIC);
      await provenance.connect(agents.producer).addClaim(lotIds.milk, GRASSFED);
      await provenance.connect(agents.producer).addClaim(lotIds.milkB, GRASSFED);
      for (const id of [lotIds.milk, lotIds.milkB]) {
        const quantity = (await provenance.batch(id)).quantity;
        await provenance.connect(agents.producer).offer(id, quantity, orgs.processor, Kind.Both);
        await provenance.connect(agents.processor).accept(id, quantity, Kind.Both, GLN.processor);
      }
      return f;
    }

    it("carries to an output only the claims the transforming organisation is certified for too", async function () {
      const { provenance, agents, lotIds } = await loadFixture(twoClaimsFixture);
      await provenance.connect(agents.processor).transform(MERGE, [lotIds.milk], [qty(1_000)], [newLot("cream", "C-1", qty(1_000))], digest("m"));
      const out = lotIdOf(PRODUCT.cream.gtin, "C-1");
      expect([await provenance.claimsOf(out), await provenance.hasClaim(out, ORGANIC), await provenance.hasClaim(out, GRASSFED)]).to.deep.equal([2n, false, true]);
    });

    it("carries a claim that is not the first bit when it is the input's only one", async function () {
      const { provenance, agents, lotIds } = await loadFixture(twoClaimsFixture);
      await provenance.connect(agents.processor).transform(MERGE, [lotIds.milkB], [qty(1_000)], [newLot("cream", "C-2", qty(1_000))], digest("m"));
      expect(await provenance.claimsOf(lotIdOf(PRODUCT.cream.gtin, "C-2"))).to.equal(2n);
    });
  });

  describe("lots", function () {
    it("refuses a lot quantity beyond 2^64 − 1 (a batch record's range)", async function () {
      const { provenance, agents } = await loadFixture(provenanceFixture);
      await expect(provenance.connect(agents.producer).registerLots([newLot("milk", "HUGE", 2n ** 64n)]))
        .to.be.revertedWithCustomError(provenance, "ProvenanceQuantityRange")
        .withArgs(2n ** 64n);
    });
  });

  describe("an ownership-only offer while a carrier holds the goods", function () {
    /** The producer (owner) offers ownership of the first milk lot, held by the carrier, to the retailer. */
    async function ownershipOfferedFixture() {
      const f = await loadFixture(milkWithCarrierFixture);
      await f.provenance.connect(f.agents.producer).offer(f.lotIds.milk, qty(20_000), f.orgs.retailer, Kind.Ownership);
      return f;
    }

    it("lets the owner withdraw it", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(ownershipOfferedFixture);
      await expect(provenance.connect(agents.producer).cancelOffer(lotIds.milk, "price changed"))
        .to.emit(provenance, "HandoverCancelled")
        .withArgs(lotIds.milk, orgs.producer, "price changed");
      expect((await provenance.batch(lotIds.milk)).status).to.equal(Status.Active);
    });

    it("refuses the carrier withdrawing it: holding the goods makes it no party to a sale", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(ownershipOfferedFixture);
      await expect(provenance.connect(agents.carrier).cancelOffer(lotIds.milk, "mine"))
        .to.be.revertedWithCustomError(provenance, "ProvenanceNotReceiver")
        .withArgs(lotIds.milk, orgs.carrier);
      expect((await provenance.pendingOffer(lotIds.milk)).to).to.equal(orgs.retailer);
    });
  });

  describe("transformations with a unit of no dimension", function () {
    const SACKS = gtinFor(PREFIX.processor, 8);

    /** Governance defined BAG (no dimension); the processor holds the first milk lot and 50 sacks of a product counted in BAG. */
    async function sacksFixture() {
      const f = await loadFixture(milkAtProcessorFixture);
      const { provenance, governor, agents } = f;
      await provenance.connect(governor).setUnitOfMeasure(BAG, 0, 1);
      await provenance.connect(agents.processor).registerProduct(SACKS, BAG, digest("sacks"));
      await provenance.connect(agents.processor).registerLots([{ gtin: SACKS, lot: "S-1", quantity: qty(50), gln: "", metadataHash: digest("S-1") }]);
      return { ...f, sacks: lotIdOf(SACKS, "S-1") };
    }

    it("weighs an input of no dimension as nothing: the outputs balance against the other inputs", async function () {
      const { provenance, agents, lotIds, sacks } = await loadFixture(sacksFixture);
      await provenance.connect(agents.processor).transform(MERGE, [lotIds.milk, sacks], [qty(1_000), qty(5)], [newLot("cream", "C-3", qty(1_000))], digest("m"));
      expect((await provenance.batch(sacks)).quantity).to.equal(qty(45));
      await expect(
        provenance.connect(agents.processor).transform(MERGE, [lotIds.milk, sacks], [qty(1_000), qty(5)], [newLot("cream", "C-4", qty(1_001))], digest("m")),
      ).to.be.revertedWithCustomError(provenance, "ProvenanceMassBalance");
    });

    it("refuses an output of no dimension (mass balance would be dodged)", async function () {
      const { provenance, agents, lotIds } = await loadFixture(sacksFixture);
      await expect(
        provenance
          .connect(agents.processor)
          .transform(MERGE, [lotIds.milk], [qty(1_000)], [{ gtin: SACKS, lot: "S-2", quantity: qty(5), gln: "", metadataHash: digest("S-2") }], digest("m")),
      )
        .to.be.revertedWithCustomError(provenance, "ProvenanceDimensionMismatch")
        .withArgs(SACKS, 0);
    });
  });
});
