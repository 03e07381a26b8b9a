import { expect } from "chai";
import { ZeroHash } from "ethers";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import {
  glnFor,
  GLN,
  lotIdOf,
  milkWithCarrierFixture,
  portionIdOf,
  PREFIX,
  PRODUCT,
  provenanceFixture,
  qty,
  Recall,
  ssccFor,
  Status,
  unitKeyOf,
} from "../../helpers/provenance-fixture";

/**
 * Recall rules the governed-recall tests leave out (found by `npm run coverage`,
 * docs/reliability.md): who may withdraw, appointments, disposal sites, and recalled goods that
 * are in transit or packed.
 */

const REASON = "Listeria monocytogenes in tank sample";
const CLEARED = "retest negative";

describe("ProvenanceRegistry recall edge cases", function () {
  describe("withdrawing a recall", function () {
    it("keeps a portion recalled through its lot when its own direct recall is withdrawn", async function () {
      const { provenance, agents, lotIds } = await loadFixture(provenanceFixture);
      await provenance.connect(agents.producer).split(lotIds.milk, [qty(1_000)]);
      const portion = portionIdOf(lotIds.milk, 0);
      await provenance.connect(agents.producer).recall(lotIds.milk, REASON);
      await provenance.propagateRecall([lotIds.milk], [portion]);
      await provenance.connect(agents.producer).recall(portion, REASON); // upgraded to a direct recall
      expect((await provenance.batch(portion)).recall).to.equal(Recall.Direct);
      await provenance.connect(agents.producer).withdrawRecall(portion, CLEARED);
      expect([(await provenance.batch(portion)).recall, await provenance.isRecalled(portion)]).to.deep.equal([Recall.Propagated, true]);
    });

    it("refuses a wallet bound to no organisation withdrawing a recall", async function () {
      const { provenance, agents, outsider, lotIds } = await loadFixture(provenanceFixture);
      await provenance.connect(agents.producer).recall(lotIds.milk, REASON);
      await expect(provenance.connect(outsider).withdrawRecall(lotIds.milk, CLEARED))
        .to.be.revertedWithCustomError(provenance, "ProvenanceNotAllowedToWithdraw")
        .withArgs(outsider.address, lotIds.milk);
    });

    it("refuses an appointed auditor withdrawing the producer's own recall (it may recall, not undo another's recall)", async function () {
      const { provenance, admins, agents, orgs, lotIds } = await loadFixture(provenanceFixture);
      await provenance.connect(admins.producer).appointRecallAuditor(orgs.producer, orgs.auditor);
      await provenance.connect(agents.producer).recall(lotIds.milk, REASON);
      await expect(provenance.connect(agents.auditor).withdrawRecall(lotIds.milk, CLEARED))
        .to.be.revertedWithCustomError(provenance, "ProvenanceNotAllowedToWithdraw")
        .withArgs(agents.auditor.address, lotIds.milk);
      expect(await provenance.isRecalled(lotIds.milk)).to.equal(true);
    });
  });

  describe("recall auditors", function () {
    it("refuses appointing an auditor organisation twice", async function () {
      const { provenance, admins, governor, orgs } = await loadFixture(provenanceFixture);
      await provenance.connect(admins.producer).appointRecallAuditor(orgs.producer, orgs.auditor);
      await expect(provenance.connect(governor).appointRecallAuditor(orgs.producer, orgs.auditor))
        .to.be.revertedWithCustomError(provenance, "ProvenanceAlreadyAppointed")
        .withArgs(orgs.producer, orgs.auditor);
      expect(await provenance.recallAuditor(orgs.producer, orgs.auditor), "still the producer's appointment").to.equal(1n);
    });

    it("refuses appointing a suspended or unknown organisation", async function () {
      const { provenance, registry, admins, governor, orgs } = await loadFixture(provenanceFixture);
      await registry.connect(governor).suspendOrganisation(orgs.auditor, "audit");
      for (const org of [orgs.auditor, 99n]) {
        await expect(provenance.connect(admins.producer).appointRecallAuditor(orgs.producer, org))
          .to.be.revertedWithCustomError(provenance, "ProvenanceUnknownOrganisation")
          .withArgs(org);
      }
    });

    it("refuses revoking an appointment nobody made", async function () {
      const { provenance, admins, orgs } = await loadFixture(provenanceFixture);
      await expect(provenance.connect(admins.producer).revokeRecallAuditor(orgs.producer, orgs.auditor))
        .to.be.revertedWithCustomError(provenance, "ProvenanceNotAppointed")
        .withArgs(orgs.producer, orgs.auditor);
    });

    it("lets governance end an appointment the producer made", async function () {
      const { provenance, admins, governor, orgs } = await loadFixture(provenanceFixture);
      await provenance.connect(admins.producer).appointRecallAuditor(orgs.producer, orgs.auditor);
      await expect(provenance.connect(governor).revokeRecallAuditor(orgs.producer, orgs.auditor))
        .to.emit(provenance, "RecallAuditorRevoked")
        .withArgs(orgs.producer, orgs.auditor, true);
      expect(await provenance.recallAuditor(orgs.producer, orgs.auditor)).to.equal(0n);
    });
  });

  describe("disposal sites and returns", function () {
    it("refuses registering a disposal site at a GLN no member holds", async function () {
      const { provenance, governor } = await loadFixture(provenanceFixture);
      const nowhere = glnFor("9912345", 1);
      await expect(provenance.connect(governor).setDisposalSite(nowhere, true))
        .to.be.revertedWithCustomError(provenance, "ProvenanceForeignLocation")
        .withArgs(nowhere, 0);
    });

    /** The first milk lot, held by the carrier and owned by the producer, recalled by the producer. */
    async function recalledWithCarrierFixture() {
      const f = await loadFixture(milkWithCarrierFixture);
      await f.provenance.connect(f.agents.producer).recall(f.lotIds.milk, REASON);
      return f;
    }

    it("refuses the owner returning recalled goods it does not hold", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(recalledWithCarrierFixture);
      await expect(provenance.connect(agents.producer).returnRecalled(lotIds.milk, orgs.producer, ""))
        .to.be.revertedWithCustomError(provenance, "ProvenanceNotCustodian")
        .withArgs(lotIds.milk, orgs.producer);
    });

    it("refuses a return to an organisation at a disposal site that is another's", async function () {
      const { provenance, governor, agents, orgs, lotIds } = await loadFixture(recalledWithCarrierFixture);
      await provenance.connect(governor).setDisposalSite(GLN.retailer, true);
      await expect(provenance.connect(agents.carrier).returnRecalled(lotIds.milk, orgs.auditor, GLN.retailer))
        .to.be.revertedWithCustomError(provenance, "ProvenanceNotDisposalSite")
        .withArgs(GLN.retailer, orgs.auditor);
      expect((await provenance.batch(lotIds.milk)).status).to.equal(Status.Active);
    });

    it("refuses consent to dispose of goods that are not recalled", async function () {
      const { provenance, agents, lotIds } = await loadFixture(milkWithCarrierFixture);
      await expect(provenance.connect(agents.producer).consentToDisposal(lotIds.milk))
        .to.be.revertedWithCustomError(provenance, "ProvenanceNotRecalled")
        .withArgs(lotIds.milk);
    });

    it("refuses an organisation that does not hold recalled goods destroying them", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(recalledWithCarrierFixture);
      await expect(provenance.connect(agents.processor).endRecalled(lotIds.milk, "destroyed"))
        .to.be.revertedWithCustomError(provenance, "ProvenanceNotCustodian")
        .withArgs(lotIds.milk, orgs.processor);
    });

    it("refuses destroying an unknown batch, even for governance", async function () {
      const { provenance, governor } = await loadFixture(provenanceFixture);
      const unknown = lotIdOf(PRODUCT.milk.gtin, "NEVER");
      await expect(provenance.connect(governor).endRecalled(unknown, "destroyed"))
        .to.be.revertedWithCustomError(provenance, "ProvenanceUnknownBatch")
        .withArgs(unknown);
    });

    it("refuses destroying recalled goods on their way back to the producer", async function () {
      const { provenance, governor, agents, orgs, lotIds } = await loadFixture(recalledWithCarrierFixture);
      await provenance.connect(agents.carrier).returnRecalled(lotIds.milk, orgs.producer, "");
      await expect(provenance.connect(governor).endRecalled(lotIds.milk, "destroyed"))
        .to.be.revertedWithCustomError(provenance, "ProvenanceNotActive")
        .withArgs(lotIds.milk, Status.InTransit);
    });
  });

  describe("recalled goods in a logistic unit", function () {
    const SSCC = ssccFor(PREFIX.producer, 7);

    /** The second milk lot packed by the producer into a unit, then recalled. */
    async function packedRecalledFixture() {
      const f = await loadFixture(provenanceFixture);
      await f.units.connect(f.agents.producer).pack(SSCC, [f.lotIds.milkB]);
      await f.provenance.connect(f.agents.producer).recall(f.lotIds.milkB, REASON);
      return f;
    }

    it("refuses destroying a recalled batch still packed in its unit", async function () {
      const { provenance, governor, lotIds } = await loadFixture(packedRecalledFixture);
      await expect(provenance.connect(governor).endRecalled(lotIds.milkB, "destroyed"))
        .to.be.revertedWithCustomError(provenance, "ProvenanceInUnit")
        .withArgs(lotIds.milkB, unitKeyOf(SSCC));
    });

    it("clears the unit's recall once the recall is withdrawn, so the unit moves again", async function () {
      const { provenance, units, agents, orgs, lotIds } = await loadFixture(packedRecalledFixture);
      expect(await provenance.unitRecall(unitKeyOf(SSCC))).to.equal(lotIds.milkB);
      await expect(units.connect(agents.producer).offerUnit(SSCC, orgs.carrier)).to.be.revertedWithCustomError(units, "UnitsContainsRecalled");
      await provenance.connect(agents.producer).withdrawRecall(lotIds.milkB, CLEARED);
      expect(await provenance.unitRecall(unitKeyOf(SSCC))).to.equal(ZeroHash);
      await expect(units.connect(agents.producer).offerUnit(SSCC, orgs.carrier)).to.emit(units, "UnitOffered");
    });
  });
});
