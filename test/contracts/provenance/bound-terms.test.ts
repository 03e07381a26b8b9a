import { expect } from "chai";
import { encodeBytes32String, keccak256, toUtf8Bytes, ZeroHash } from "ethers";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import {
  digest,
  GLN,
  Kind,
  LOT,
  lotIdOf,
  milkAtProcessorFixture,
  newLot,
  offered,
  portionIdOf,
  PREFIX,
  PRODUCT,
  provenanceFixture,
  qty,
  ssccFor,
  Status,
} from "../../helpers/provenance-fixture";

const ORGANIC = encodeBytes32String("ORGANIC");
const ORGANIC_CREDENTIAL = encodeBytes32String("EU-ORGANIC");
const MERGE = encodeBytes32String("MERGE");
const YEAR = 365 * 24 * 3600;

describe("ProvenanceRegistry: accepted terms, claims and licences", function () {
  describe("accepting binds the offer", function () {
    /** The producer offered 6,000 litres of the first milk lot, custody and ownership, to the processor. */
    async function offeredFixture() {
      const f = await loadFixture(provenanceFixture);
      await f.provenance.connect(f.agents.producer).offer(f.lotIds.milk, qty(6_000), f.orgs.processor, Kind.Both);
      return f;
    }

    it("accepts the offer the receiver was shown", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(offeredFixture);
      await provenance.connect(agents.processor).accept(lotIds.milk, qty(6_000), Kind.Both, GLN.processor);
      expect((await provenance.batch(portionIdOf(lotIds.milk, 0))).owner).to.equal(orgs.processor);
    });

    it("refuses an acceptance after the sender cancelled and re-offered less in front of it", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(offeredFixture);
      await provenance.connect(agents.producer).cancelOffer(lotIds.milk, "re-offer");
      await provenance.connect(agents.producer).offer(lotIds.milk, qty(100), orgs.processor, Kind.Both);
      await expect(provenance.connect(agents.processor).accept(lotIds.milk, qty(6_000), Kind.Both, GLN.processor))
        .to.be.revertedWithCustomError(provenance, "ProvenanceOfferChanged")
        .withArgs(lotIds.milk, qty(100), Kind.Both);
      const [b, pending] = await Promise.all([provenance.batch(lotIds.milk), provenance.pendingOffer(lotIds.milk)]);
      expect([b.quantity, b.status, pending.quantity]).to.deep.equal([LOT.milk.quantity, Status.InTransit, qty(100)]);
    });

    it("refuses an acceptance after the sender swapped a sale for custody only in front of it", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(offeredFixture);
      await provenance.connect(agents.producer).cancelOffer(lotIds.milk, "re-offer");
      await provenance.connect(agents.producer).offer(lotIds.milk, qty(6_000), orgs.processor, Kind.Custody);
      await expect(provenance.connect(agents.processor).accept(lotIds.milk, qty(6_000), Kind.Both, GLN.processor))
        .to.be.revertedWithCustomError(provenance, "ProvenanceOfferChanged")
        .withArgs(lotIds.milk, qty(6_000), Kind.Custody);
      expect((await provenance.batch(lotIds.milk)).owner).to.equal(orgs.producer);
    });

    const TANK = ssccFor(PREFIX.producer, 77);

    /** The producer packed the first milk lot into a tank and offered the tank to the carrier. */
    async function unitOfferedFixture() {
      const f = await loadFixture(provenanceFixture);
      await f.units.connect(f.agents.producer).pack(TANK, [f.lotIds.milk]);
      await f.units.connect(f.agents.producer).offerUnit(TANK, f.orgs.carrier);
      return { ...f, shown: await f.units.contentsHash(TANK) };
    }

    it("accepts a unit with the contents the receiver was shown", async function () {
      const { units, agents, orgs, shown } = await loadFixture(unitOfferedFixture);
      await units.connect(agents.carrier).acceptUnit(TANK, shown, GLN.carrier);
      expect((await units.contents(TANK)).custodian).to.equal(orgs.carrier);
    });

    it("refuses accepting a unit whose contents the sender swapped in front of the receiver", async function () {
      const { units, agents, orgs, lotIds, shown } = await loadFixture(unitOfferedFixture);
      await units.connect(agents.producer).cancelUnitOffer(TANK);
      await units.connect(agents.producer).unpack(TANK);
      await units.connect(agents.producer).pack(TANK, [lotIds.milkB]);
      await units.connect(agents.producer).offerUnit(TANK, orgs.carrier);
      const swapped = await units.contentsHash(TANK);
      await expect(units.connect(agents.carrier).acceptUnit(TANK, shown, GLN.carrier))
        .to.be.revertedWithCustomError(units, "UnitsContentsChanged")
        .withArgs(ssccKey(TANK), shown, swapped);
      expect((await units.contents(TANK)).custodian).to.equal(orgs.producer);
    });

    it("refuses accepting a unit without naming its contents", async function () {
      const { units, agents } = await loadFixture(unitOfferedFixture);
      await expect(units.connect(agents.carrier).acceptUnit(TANK, ZeroHash, GLN.carrier)).to.be.revertedWithCustomError(
        units,
        "UnitsContentsChanged",
      );
    });
  });

  describe("claims backed by credentials", function () {
    /** Governance defined ORGANIC; the auditor (a certifier) certified the producer organic for a year. */
    async function claimsFixture() {
      const f = await loadFixture(provenanceFixture);
      const { provenance, credentials, governor, agents, orgs } = f;
      await provenance.connect(governor).defineClaim(ORGANIC, ORGANIC_CREDENTIAL);
      // Governance decides which certifier issues which credential type (ADR 0010).
      await credentials.connect(governor).setCertifierType(orgs.auditor, ORGANIC_CREDENTIAL, true);
      const now = await time.latest();
      await credentials
        .connect(agents.auditor)
        .issueCredential(ORGANIC_CREDENTIAL, orgs.producer, digest("cert"), now, now + YEAR);
      return f;
    }

    it("refuses a member defining claims", async function () {
      const { provenance, admins } = await loadFixture(provenanceFixture);
      await expect(provenance.connect(admins.producer).defineClaim(ORGANIC, ORGANIC_CREDENTIAL))
        .to.be.revertedWithCustomError(provenance, "ProvenanceNotGovernor")
        .withArgs(admins.producer.address);
    });

    it("puts a claim on a lot of a producer holding the credential", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(claimsFixture);
      await expect(provenance.connect(agents.producer).addClaim(lotIds.milk, ORGANIC))
        .to.emit(provenance, "ClaimAdded")
        .withArgs(lotIds.milk, ORGANIC, orgs.producer);
      expect(await provenance.hasClaim(lotIds.milk, ORGANIC)).to.equal(true);
    });

    it("refuses a claim the producer holds no credential for", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(claimsFixture);
      await expect(provenance.connect(agents.processor).addClaim(lotIds.butter, ORGANIC))
        .to.be.revertedWithCustomError(provenance, "ProvenanceClaimNotCertified")
        .withArgs(ORGANIC, orgs.processor);
      expect(await provenance.hasClaim(lotIds.butter, ORGANIC)).to.equal(false);
    });

    it("refuses a member claiming on a lot another producer made", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(claimsFixture);
      await expect(provenance.connect(agents.processor).addClaim(lotIds.milk, ORGANIC))
        .to.be.revertedWithCustomError(provenance, "ProvenanceNotOwner")
        .withArgs(lotIds.milk, orgs.processor);
    });

    it("stops a lot carrying its claim once the producer's credential is revoked", async function () {
      const { provenance, credentials, agents, lotIds } = await loadFixture(claimsFixture);
      await provenance.connect(agents.producer).addClaim(lotIds.milk, ORGANIC);
      await credentials.connect(agents.auditor).revokeCredential(1n, "inspection failed");
      expect(await provenance.hasClaim(lotIds.milk, ORGANIC)).to.equal(false);
    });

    it("lets portions split off a claimed lot carry its claim", async function () {
      const { provenance, agents, lotIds } = await loadFixture(claimsFixture);
      await provenance.connect(agents.producer).addClaim(lotIds.milk, ORGANIC);
      await provenance.connect(agents.producer).split(lotIds.milk, [qty(1_000)]);
      expect(await provenance.hasClaim(portionIdOf(lotIds.milk, 0), ORGANIC)).to.equal(true);
    });

    /** Both milk lots at the processor (itself certified organic), only the first claimed organic. */
    async function mixedInputsFixture() {
      const f = await loadFixture(claimsFixture);
      const { provenance, credentials, agents, orgs, lotIds } = f;
      await provenance.connect(agents.producer).addClaim(lotIds.milk, ORGANIC);
      const now = await time.latest();
      await credentials
        .connect(agents.auditor)
        .issueCredential(ORGANIC_CREDENTIAL, orgs.processor, digest("cert 2"), now, now + YEAR);
      for (const id of [lotIds.milk, lotIds.milkB]) {
        const quantity = (await provenance.batch(id)).quantity;
        await provenance.connect(agents.producer).offer(id, quantity, orgs.processor, Kind.Both);
        await provenance.connect(agents.processor).accept(...(await offered(provenance, id)), GLN.processor);
      }
      return f;
    }

    it("keeps the claim on an output whose every input carries it", async function () {
      const { provenance, agents, lotIds } = await loadFixture(mixedInputsFixture);
      const out = newLot("cream", "ORG-1", qty(1_000));
      await provenance.connect(agents.processor).transform(MERGE, [lotIds.milk], [qty(1_000)], [out], digest("m"));
      expect(await provenance.hasClaim(lotIdOf(PRODUCT.cream.gtin, "ORG-1"), ORGANIC)).to.equal(true);
    });

    it("drops the claim from an output mixed with an input that lacks it", async function () {
      const { provenance, agents, lotIds } = await loadFixture(mixedInputsFixture);
      const out = newLot("cream", "MIX-1", qty(2_000));
      await provenance
        .connect(agents.processor)
        .transform(MERGE, [lotIds.milk, lotIds.milkB], [qty(1_000), qty(1_000)], [out], digest("m"));
      const id = lotIdOf(PRODUCT.cream.gtin, "MIX-1");
      expect([await provenance.hasClaim(id, ORGANIC), await provenance.claimsOf(id)]).to.deep.equal([false, 0n]);
    });
  });

  describe("a product follows its GS1 licence", function () {
    /** Governance withdrew the processor's company prefix (its plant's GLN removed first). */
    async function withdrawnFixture() {
      const f = await loadFixture(milkAtProcessorFixture);
      const { registry, governor, admins, orgs } = f;
      await registry.connect(admins.processor).removeLocation(orgs.processor, GLN.processor);
      await registry.connect(governor).removeCompanyPrefix(orgs.processor, PREFIX.processor);
      return f;
    }

    it("still registers lots while the prefix is held", async function () {
      const { provenance, agents } = await loadFixture(provenanceFixture);
      await provenance.connect(agents.processor).registerLots([newLot("butter", "B-OK", qty(1))]);
      expect((await provenance.batch(lotIdOf(PRODUCT.butter.gtin, "B-OK"))).status).to.equal(Status.Active);
    });

    it("refuses new lots of a GTIN whose company prefix governance withdrew", async function () {
      const { provenance, agents, orgs } = await loadFixture(withdrawnFixture);
      await expect(provenance.connect(agents.processor).registerLots([newLot("butter", "B-LATE", qty(1))]))
        .to.be.revertedWithCustomError(provenance, "ProvenancePrefixWithdrawn")
        .withArgs(PRODUCT.butter.gtin, orgs.processor);
      expect((await provenance.batch(lotIdOf(PRODUCT.butter.gtin, "B-LATE"))).status).to.equal(Status.None);
    });

    it("refuses transformation outputs of such a GTIN", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(withdrawnFixture);
      await expect(
        provenance
          .connect(agents.processor)
          .transform(MERGE, [lotIds.milk], [qty(1_000)], [newLot("cream", "R-LATE", qty(1_000))], digest("m")),
      )
        .to.be.revertedWithCustomError(provenance, "ProvenancePrefixWithdrawn")
        .withArgs(PRODUCT.cream.gtin, orgs.processor);
      expect((await provenance.batch(lotIds.milk)).quantity).to.equal(LOT.milk.quantity);
    });

    it("refuses new lots once the prefix is licensed to another member", async function () {
      const { provenance, registry, governor, agents, orgs } = await loadFixture(withdrawnFixture);
      await registry.connect(governor).addCompanyPrefix(orgs.retailer, PREFIX.processor);
      await expect(provenance.connect(agents.processor).registerLots([newLot("butter", "B-LATE", qty(1))]))
        .to.be.revertedWithCustomError(provenance, "ProvenancePrefixWithdrawn")
        .withArgs(PRODUCT.butter.gtin, orgs.processor);
    });
  });
});

function ssccKey(sscc: string): string {
  return keccak256(toUtf8Bytes(sscc));
}
