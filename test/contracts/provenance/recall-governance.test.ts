import { expect } from "chai";
import { encodeBytes32String } from "ethers";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import {
  digest,
  GLN,
  Kind,
  LOT,
  lotIdOf,
  milkAtProcessorFixture,
  milkWithCarrierFixture,
  newLot,
  offered,
  portionIdOf,
  PRODUCT,
  provenanceFixture,
  qty,
  Recall,
  Status,
} from "../../helpers/provenance-fixture";

const REASON = "Listeria monocytogenes in tank sample";
const CLEARED = "retest of the retained sample negative";
const MERGE = encodeBytes32String("MERGE");
const PROCESS = encodeBytes32String("PROCESS");

describe("ProvenanceRegistry governed recalls", function () {
  describe("who may recall", function () {
    it("refuses an agent of another organisation that holds the lot", async function () {
      const { provenance, agents, lotIds } = await loadFixture(milkAtProcessorFixture);
      await expect(provenance.connect(agents.processor).recall(lotIds.milk, REASON))
        .to.be.revertedWithCustomError(provenance, "ProvenanceNotAllowedToRecall")
        .withArgs(agents.processor.address, lotIds.milk);
      expect(await provenance.isRecalled(lotIds.milk)).to.equal(false);
    });

    it("refuses an org admin appointing auditors over another organisation's lots", async function () {
      const { provenance, admins, orgs } = await loadFixture(provenanceFixture);
      await expect(provenance.connect(admins.carrier).appointRecallAuditor(orgs.producer, orgs.auditor))
        .to.be.revertedWithCustomError(provenance, "ProvenanceNotOrgAdmin")
        .withArgs(admins.carrier.address, orgs.producer);
      expect(await provenance.recallAuditor(orgs.producer, orgs.auditor)).to.equal(0n);
    });

    it("refuses an agent without the org-admin role appointing for its own organisation", async function () {
      const { provenance, agents, orgs } = await loadFixture(provenanceFixture);
      await expect(provenance.connect(agents.producer).appointRecallAuditor(orgs.producer, orgs.auditor))
        .to.be.revertedWithCustomError(provenance, "ProvenanceNotOrgAdmin")
        .withArgs(agents.producer.address, orgs.producer);
    });

    it("announces an appointment with who made it", async function () {
      const { provenance, admins, orgs } = await loadFixture(provenanceFixture);
      await expect(provenance.connect(admins.producer).appointRecallAuditor(orgs.producer, orgs.auditor))
        .to.emit(provenance, "RecallAuditorAppointed")
        .withArgs(orgs.producer, orgs.auditor, false);
      expect(await provenance.recallAuditor(orgs.producer, orgs.auditor)).to.equal(1n);
    });

    it("stops an auditor recalling once the producer revoked its appointment", async function () {
      const { provenance, admins, agents, orgs, lotIds } = await loadFixture(provenanceFixture);
      await provenance.connect(admins.producer).appointRecallAuditor(orgs.producer, orgs.auditor);
      await expect(provenance.connect(admins.producer).revokeRecallAuditor(orgs.producer, orgs.auditor))
        .to.emit(provenance, "RecallAuditorRevoked")
        .withArgs(orgs.producer, orgs.auditor, false);
      await expect(provenance.connect(agents.auditor).recall(lotIds.milk, REASON)).to.be.revertedWithCustomError(
        provenance,
        "ProvenanceNotAllowedToRecall",
      );
    });

    it("refuses a producer dismissing an auditor governance set over it", async function () {
      const { provenance, governor, admins, agents, orgs, lotIds } = await loadFixture(provenanceFixture);
      await provenance.connect(governor).appointRecallAuditor(orgs.producer, orgs.auditor);
      await expect(provenance.connect(admins.producer).revokeRecallAuditor(orgs.producer, orgs.auditor))
        .to.be.revertedWithCustomError(provenance, "ProvenanceNotGovernor")
        .withArgs(admins.producer.address);
      await expect(provenance.connect(agents.auditor).recall(lotIds.milk, REASON))
        .to.emit(provenance, "Recalled")
        .withArgs(lotIds.milk, orgs.auditor, REASON);
    });

    it("limits an appointed auditor to the producer that appointed it", async function () {
      const { provenance, admins, agents, orgs, lotIds } = await loadFixture(provenanceFixture);
      await provenance.connect(admins.producer).appointRecallAuditor(orgs.producer, orgs.auditor);
      await expect(provenance.connect(agents.auditor).recall(lotIds.butter, REASON))
        .to.be.revertedWithCustomError(provenance, "ProvenanceNotAllowedToRecall")
        .withArgs(agents.auditor.address, lotIds.butter);
    });
  });

  describe("withdrawal", function () {
    it("lets the recalling organisation withdraw its recall, with a reason", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(provenanceFixture);
      await provenance.connect(agents.producer).recall(lotIds.milk, REASON);
      await expect(provenance.connect(agents.producer).withdrawRecall(lotIds.milk, CLEARED))
        .to.emit(provenance, "RecallWithdrawn")
        .withArgs(lotIds.milk, orgs.producer, CLEARED);
      expect((await provenance.batch(lotIds.milk)).recall).to.equal(Recall.None);
    });

    it("refuses the producer withdrawing a recall its appointed auditor made", async function () {
      const { provenance, admins, agents, orgs, lotIds } = await loadFixture(provenanceFixture);
      await provenance.connect(admins.producer).appointRecallAuditor(orgs.producer, orgs.auditor);
      await provenance.connect(agents.auditor).recall(lotIds.milk, REASON);
      await expect(provenance.connect(agents.producer).withdrawRecall(lotIds.milk, CLEARED))
        .to.be.revertedWithCustomError(provenance, "ProvenanceNotAllowedToWithdraw")
        .withArgs(agents.producer.address, lotIds.milk);
      expect((await provenance.batch(lotIds.milk)).recall).to.equal(Recall.Direct);
    });

    it("refuses a rival member withdrawing a recall", async function () {
      const { provenance, agents, lotIds } = await loadFixture(milkAtProcessorFixture);
      await provenance.connect(agents.producer).recall(lotIds.milk, REASON);
      await expect(provenance.connect(agents.processor).withdrawRecall(lotIds.milk, CLEARED))
        .to.be.revertedWithCustomError(provenance, "ProvenanceNotAllowedToWithdraw")
        .withArgs(agents.processor.address, lotIds.milk);
      expect(await provenance.isRecalled(lotIds.milk)).to.equal(true);
    });

    it("lets governance withdraw any recall, as organisation 0", async function () {
      const { provenance, governor, agents, lotIds } = await loadFixture(provenanceFixture);
      await provenance.connect(agents.producer).recall(lotIds.milk, REASON);
      await expect(provenance.connect(governor).withdrawRecall(lotIds.milk, CLEARED))
        .to.emit(provenance, "RecallWithdrawn")
        .withArgs(lotIds.milk, 0, CLEARED);
      expect(await provenance.isRecalled(lotIds.milk)).to.equal(false);
    });

    it("refuses withdrawing a recall that only propagated to the batch", async function () {
      const { provenance, governor, agents, orgs, lotIds } = await loadFixture(provenanceFixture);
      await provenance.connect(agents.producer).offer(lotIds.milk, qty(1_000), orgs.processor, Kind.Both);
      await provenance.connect(agents.processor).accept(...(await offered(provenance, lotIds.milk)), "");
      const portion = portionIdOf(lotIds.milk, 0);
      await provenance.connect(agents.producer).recall(lotIds.milk, REASON);
      await provenance.propagateRecall([lotIds.milk], [portion]);
      await expect(provenance.connect(governor).withdrawRecall(portion, CLEARED))
        .to.be.revertedWithCustomError(provenance, "ProvenanceNotDirectlyRecalled")
        .withArgs(portion);
    });

    /** Milk → a 6,000-litre portion → cream; the milk recalled and the recall propagated to both. */
    async function propagatedFixture() {
      const f = await loadFixture(provenanceFixture);
      const { provenance, agents, orgs, lotIds } = f;
      await provenance.connect(agents.producer).offer(lotIds.milk, qty(6_000), orgs.processor, Kind.Both);
      await provenance.connect(agents.processor).accept(...(await offered(provenance, lotIds.milk)), GLN.processor);
      const portion = portionIdOf(lotIds.milk, 0);
      await provenance
        .connect(agents.processor)
        .transform(PROCESS, [portion], [qty(6_000)], [newLot("cream", "R-1", qty(5_000))], digest("run"));
      const cream = lotIdOf(PRODUCT.cream.gtin, "R-1");
      await provenance.connect(agents.producer).recall(lotIds.milk, REASON);
      await provenance.propagateRecall([lotIds.milk, portion], [portion, cream]);
      return { ...f, portion, cream };
    }

    it("propagates a withdrawal along the edges the recall went, lifting every batch", async function () {
      const { provenance, agents, outsider, lotIds, portion, cream } = await loadFixture(propagatedFixture);
      await provenance.connect(agents.producer).withdrawRecall(lotIds.milk, CLEARED);
      await expect(provenance.connect(outsider).propagateWithdrawal([lotIds.milk], [portion]))
        .to.emit(provenance, "RecallWithdrawalPropagated")
        .withArgs(portion, lotIds.milk, true);
      await provenance.connect(outsider).propagateWithdrawal([portion], [cream]);
      const states = await Promise.all([lotIds.milk, portion, cream].map((id) => provenance.batch(id)));
      expect(states.map((b) => b.recall)).to.deep.equal([Recall.None, Recall.None, Recall.None]);
    });

    it("lets lifted goods move again", async function () {
      const { provenance, agents, orgs, outsider, lotIds, portion, cream } = await loadFixture(propagatedFixture);
      await provenance.connect(agents.producer).withdrawRecall(lotIds.milk, CLEARED);
      await provenance.connect(outsider).propagateWithdrawal([lotIds.milk, portion], [portion, cream]);
      await provenance.connect(agents.processor).offer(cream, qty(5_000), orgs.retailer, Kind.Both);
      expect((await provenance.batch(cream)).status).to.equal(Status.InTransit);
    });

    it("refuses propagating a withdrawal from a parent that is still recalled", async function () {
      const { provenance, outsider, lotIds, portion } = await loadFixture(propagatedFixture);
      await expect(provenance.connect(outsider).propagateWithdrawal([lotIds.milk], [portion]))
        .to.be.revertedWithCustomError(provenance, "ProvenanceStillRecalled")
        .withArgs(lotIds.milk);
      expect(await provenance.isRecalled(portion)).to.equal(true);
    });

    it("refuses propagating a withdrawal out of order (the grandchild before its parent is lifted)", async function () {
      const { provenance, agents, outsider, lotIds, portion, cream } = await loadFixture(propagatedFixture);
      await provenance.connect(agents.producer).withdrawRecall(lotIds.milk, CLEARED);
      await expect(provenance.connect(outsider).propagateWithdrawal([portion], [cream]))
        .to.be.revertedWithCustomError(provenance, "ProvenanceStillRecalled")
        .withArgs(portion);
    });

    it("refuses propagating a withdrawal along an edge no recall went", async function () {
      const { provenance, outsider, lotIds } = await loadFixture(provenanceFixture);
      await expect(provenance.connect(outsider).propagateWithdrawal([lotIds.milk], [lotIds.milkB]))
        .to.be.revertedWithCustomError(provenance, "ProvenanceEdgeNotPropagated")
        .withArgs(lotIds.milk, lotIds.milkB);
    });

    it("keeps a child recalled directly when its parent's recall is withdrawn", async function () {
      const { provenance, agents, governor, outsider, lotIds, portion, cream } = await loadFixture(propagatedFixture);
      await provenance.connect(governor).recall(cream, "foreign body");
      await provenance.connect(agents.producer).withdrawRecall(lotIds.milk, CLEARED);
      await provenance.connect(outsider).propagateWithdrawal([lotIds.milk], [portion]);
      await expect(provenance.connect(outsider).propagateWithdrawal([portion], [cream]))
        .to.emit(provenance, "RecallWithdrawalPropagated")
        .withArgs(cream, portion, false);
      expect((await provenance.batch(cream)).recall).to.equal(Recall.Direct);
    });

    /** Both milk lots at the processor, merged into one tank of cream-line milk; both lots recalled, both edges propagated. */
    async function mergedFixture() {
      const f = await loadFixture(milkAtProcessorFixture);
      const { provenance, agents, orgs, lotIds } = f;
      await provenance.connect(agents.producer).offer(lotIds.milkB, LOT.milkB.quantity, orgs.processor, Kind.Both);
      await provenance.connect(agents.processor).accept(...(await offered(provenance, lotIds.milkB)), GLN.processor);
      await provenance
        .connect(agents.processor)
        .transform(
          MERGE,
          [lotIds.milk, lotIds.milkB],
          [qty(1_000), qty(1_000)],
          [newLot("cream", "POOL-1", qty(2_000))],
          digest("merge"),
        );
      const pooled = lotIdOf(PRODUCT.cream.gtin, "POOL-1");
      await provenance.connect(agents.producer).recall(lotIds.milk, REASON);
      await provenance.connect(agents.producer).recall(lotIds.milkB, "antibiotics");
      await provenance.propagateRecall([lotIds.milk, lotIds.milkB], [pooled, pooled]);
      return { ...f, pooled };
    }

    it("counts every recalled parent's edge into a merged batch", async function () {
      const { provenance, pooled } = await loadFixture(mergedFixture);
      expect(await provenance.recalledParents(pooled)).to.equal(2n);
    });

    it("keeps a batch merged from two recalled lots recalled while one recall remains", async function () {
      const { provenance, agents, outsider, lotIds, pooled } = await loadFixture(mergedFixture);
      await provenance.connect(agents.producer).withdrawRecall(lotIds.milk, CLEARED);
      await expect(provenance.connect(outsider).propagateWithdrawal([lotIds.milk], [pooled]))
        .to.emit(provenance, "RecallWithdrawalPropagated")
        .withArgs(pooled, lotIds.milk, false);
      expect((await provenance.batch(pooled)).recall).to.equal(Recall.Propagated);
      await expect(provenance.connect(agents.processor).offer(pooled, qty(1), 4n, Kind.Both))
        .to.be.revertedWithCustomError(provenance, "ProvenanceBatchRecalled")
        .withArgs(pooled);
    });

    it("lifts the merged batch once the last recall reaching it is withdrawn", async function () {
      const { provenance, agents, outsider, lotIds, pooled } = await loadFixture(mergedFixture);
      await provenance.connect(agents.producer).withdrawRecall(lotIds.milk, CLEARED);
      await provenance.connect(agents.producer).withdrawRecall(lotIds.milkB, CLEARED);
      await provenance.connect(outsider).propagateWithdrawal([lotIds.milk, lotIds.milkB], [pooled, pooled]);
      expect([(await provenance.batch(pooled)).recall, await provenance.recalledParents(pooled)]).to.deep.equal([
        Recall.None,
        0n,
      ]);
    });
  });

  describe("recalled goods held by a carrier", function () {
    async function recalledWithCarrierFixture() {
      const f = await loadFixture(milkWithCarrierFixture);
      await f.provenance.connect(f.agents.producer).recall(f.lotIds.milk, REASON);
      return f;
    }

    it("can be handed back to their producer", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(recalledWithCarrierFixture);
      await expect(provenance.connect(agents.carrier).returnRecalled(lotIds.milk, orgs.producer, ""))
        .to.emit(provenance, "RecallReturnOffered")
        .withArgs(lotIds.milk, orgs.producer, "");
      await provenance.connect(agents.producer).accept(lotIds.milk, LOT.milk.quantity, Kind.Custody, GLN.producer);
      const b = await provenance.batch(lotIds.milk);
      expect([b.custodian, b.owner, b.status, b.recall]).to.deep.equal([
        orgs.producer,
        orgs.producer,
        Status.Active,
        Recall.Direct,
      ]);
    });

    it("cannot be handed to any other member", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(recalledWithCarrierFixture);
      await expect(provenance.connect(agents.carrier).returnRecalled(lotIds.milk, orgs.retailer, GLN.retailer))
        .to.be.revertedWithCustomError(provenance, "ProvenanceNotDisposalSite")
        .withArgs(GLN.retailer, orgs.retailer);
      await expect(provenance.connect(agents.carrier).offer(lotIds.milk, LOT.milk.quantity, orgs.retailer, Kind.Custody))
        .to.be.revertedWithCustomError(provenance, "ProvenanceBatchRecalled")
        .withArgs(lotIds.milk);
      expect((await provenance.batch(lotIds.milk)).custodian).to.equal(orgs.carrier);
    });

    it("can go to a disposal site governance registered, accepted at that site only", async function () {
      const { provenance, governor, agents, orgs, lotIds } = await loadFixture(recalledWithCarrierFixture);
      await expect(provenance.connect(governor).setDisposalSite(GLN.retailer, true))
        .to.emit(provenance, "DisposalSiteSet")
        .withArgs(GLN.retailer, orgs.retailer, true);
      await provenance.connect(agents.carrier).returnRecalled(lotIds.milk, orgs.retailer, GLN.retailer);
      await expect(provenance.connect(agents.retailer).accept(lotIds.milk, LOT.milk.quantity, Kind.Custody, ""))
        .to.be.revertedWithCustomError(provenance, "ProvenanceNotDisposalSite")
        .withArgs("", orgs.retailer);
      await provenance.connect(agents.retailer).accept(lotIds.milk, LOT.milk.quantity, Kind.Custody, GLN.retailer);
      expect((await provenance.batch(lotIds.milk)).custodian).to.equal(orgs.retailer);
    });

    it("refuses a member registering its own disposal site", async function () {
      const { provenance, admins } = await loadFixture(recalledWithCarrierFixture);
      await expect(provenance.connect(admins.retailer).setDisposalSite(GLN.retailer, true))
        .to.be.revertedWithCustomError(provenance, "ProvenanceNotGovernor")
        .withArgs(admins.retailer.address);
      expect(await provenance.isDisposalSite(GLN.retailer)).to.equal(false);
    });

    it("cannot be destroyed by the carrier without the owner's consent", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(recalledWithCarrierFixture);
      await expect(provenance.connect(agents.carrier).endRecalled(lotIds.milk, "incinerated"))
        .to.be.revertedWithCustomError(provenance, "ProvenanceNoDisposalConsent")
        .withArgs(lotIds.milk, orgs.carrier);
      expect((await provenance.batch(lotIds.milk)).status).to.equal(Status.Active);
    });

    it("can be destroyed by the carrier once the owner consented on-chain", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(recalledWithCarrierFixture);
      await expect(provenance.connect(agents.producer).consentToDisposal(lotIds.milk))
        .to.emit(provenance, "DisposalConsented")
        .withArgs(lotIds.milk, orgs.producer);
      await expect(provenance.connect(agents.carrier).endRecalled(lotIds.milk, "incinerated"))
        .to.emit(provenance, "BatchEnded")
        .withArgs(lotIds.milk, Status.Destroyed, "incinerated");
    });

    it("refuses a member that does not own the goods consenting to their destruction", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(recalledWithCarrierFixture);
      await expect(provenance.connect(agents.carrier).consentToDisposal(lotIds.milk))
        .to.be.revertedWithCustomError(provenance, "ProvenanceNotOwner")
        .withArgs(lotIds.milk, orgs.carrier);
    });

    it("can be destroyed by governance", async function () {
      const { provenance, governor, lotIds } = await loadFixture(recalledWithCarrierFixture);
      await provenance.connect(governor).endRecalled(lotIds.milk, "ordered destroyed");
      expect((await provenance.batch(lotIds.milk)).status).to.equal(Status.Destroyed);
    });

    it("refuses destroying goods that are not recalled this way", async function () {
      const { provenance, governor, lotIds } = await loadFixture(milkWithCarrierFixture);
      await expect(provenance.connect(governor).endRecalled(lotIds.milk, "x"))
        .to.be.revertedWithCustomError(provenance, "ProvenanceNotRecalled")
        .withArgs(lotIds.milk);
    });
  });
});
