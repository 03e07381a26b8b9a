import { expect } from "chai";
import { encodeBytes32String } from "ethers";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import {
  digest,
  GLN,
  Kind,
  lotIdOf,
  milkAtProcessorFixture,
  newLot,
  portionIdOf,
  PREFIX,
  PRODUCT,
  provenanceFixture,
  qty,
  Recall,
  signAcceptance,
  ssccFor,
  Status,
  offered,
} from "../../helpers/provenance-fixture";

const PROCESS = encodeBytes32String("PROCESS");
const UNKNOWN_BATCH = encodeBytes32String("no such batch");
const REASON = "Listeria monocytogenes in tank sample";
const MAX_PROPAGATION = 128;

describe("ProvenanceRegistry recall", function () {
  describe("recall", function () {
    it("lets an agent of the producer recall its lot", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(provenanceFixture);
      await expect(provenance.connect(agents.producer).recall(lotIds.milk, REASON))
        .to.emit(provenance, "Recalled")
        .withArgs(lotIds.milk, orgs.producer, REASON);
    });

    it("marks the batch directly recalled", async function () {
      const { provenance, agents, lotIds } = await loadFixture(provenanceFixture);
      await provenance.connect(agents.producer).recall(lotIds.milk, REASON);
      expect((await provenance.batch(lotIds.milk)).recall).to.equal(Recall.Direct);
    });

    it("reports a recalled batch through isRecalled", async function () {
      const { provenance, agents, lotIds } = await loadFixture(provenanceFixture);
      await provenance.connect(agents.producer).recall(lotIds.milk, REASON);
      expect(await provenance.isRecalled(lotIds.milk)).to.equal(true);
    });

    it("reports a batch never recalled as not recalled", async function () {
      const { provenance, lotIds } = await loadFixture(provenanceFixture);
      expect(await provenance.isRecalled(lotIds.milk)).to.equal(false);
    });

    it("lets the producer recall its lot after it changed hands", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(milkAtProcessorFixture);
      await expect(provenance.connect(agents.producer).recall(lotIds.milk, REASON))
        .to.emit(provenance, "Recalled")
        .withArgs(lotIds.milk, orgs.producer, REASON);
    });

    it("refuses an auditor of a member the producer never appointed", async function () {
      const { provenance, agents, lotIds } = await loadFixture(provenanceFixture);
      await expect(provenance.connect(agents.auditor).recall(lotIds.butter, REASON))
        .to.be.revertedWithCustomError(provenance, "ProvenanceNotAllowedToRecall")
        .withArgs(agents.auditor.address, lotIds.butter);
      expect(await provenance.isRecalled(lotIds.butter)).to.equal(false);
    });

    it("lets an auditor the producer's org admin appointed recall its lots", async function () {
      const { provenance, admins, agents, orgs, lotIds } = await loadFixture(provenanceFixture);
      await provenance.connect(admins.processor).appointRecallAuditor(orgs.processor, orgs.auditor);
      await expect(provenance.connect(agents.auditor).recall(lotIds.butter, REASON))
        .to.emit(provenance, "Recalled")
        .withArgs(lotIds.butter, orgs.auditor, REASON);
    });

    it("lets governance recall any batch, as organisation 0", async function () {
      const { provenance, governor, lotIds } = await loadFixture(provenanceFixture);
      await expect(provenance.connect(governor).recall(lotIds.butter, REASON))
        .to.emit(provenance, "Recalled")
        .withArgs(lotIds.butter, 0n, REASON);
    });

    it("lets a processor recall the output of its own transformation", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(milkAtProcessorFixture);
      await provenance
        .connect(agents.processor)
        .transform(PROCESS, [lotIds.milk], [qty(1_000)], [newLot("cream", "R1", qty(100))], digest("run"));
      const cream = lotIdOf(PRODUCT.cream.gtin, "R1");
      await expect(provenance.connect(agents.processor).recall(cream, REASON))
        .to.emit(provenance, "Recalled")
        .withArgs(cream, orgs.processor, REASON);
    });

    it("refuses the holder of a lot it did not produce", async function () {
      const { provenance, agents, lotIds } = await loadFixture(milkAtProcessorFixture);
      await expect(provenance.connect(agents.processor).recall(lotIds.milk, REASON))
        .to.be.revertedWithCustomError(provenance, "ProvenanceNotAllowedToRecall")
        .withArgs(agents.processor.address, lotIds.milk);
    });

    it("refuses a carrier", async function () {
      const { provenance, agents, lotIds } = await loadFixture(provenanceFixture);
      await expect(provenance.connect(agents.carrier).recall(lotIds.milk, REASON))
        .to.be.revertedWithCustomError(provenance, "ProvenanceNotAllowedToRecall")
        .withArgs(agents.carrier.address, lotIds.milk);
    });

    it("refuses the producer's org admin, who holds no producer role", async function () {
      const { provenance, admins, lotIds } = await loadFixture(provenanceFixture);
      await expect(provenance.connect(admins.producer).recall(lotIds.milk, REASON))
        .to.be.revertedWithCustomError(provenance, "ProvenanceNotAllowedToRecall")
        .withArgs(admins.producer.address, lotIds.milk);
    });

    it("refuses a wallet bound to no organisation", async function () {
      const { provenance, outsider, lotIds } = await loadFixture(provenanceFixture);
      await expect(provenance.connect(outsider).recall(lotIds.milk, REASON))
        .to.be.revertedWithCustomError(provenance, "ProvenanceNotAllowedToRecall")
        .withArgs(outsider.address, lotIds.milk);
    });

    it("refuses a batch already recalled", async function () {
      const { provenance, agents, lotIds } = await loadFixture(provenanceFixture);
      await provenance.connect(agents.producer).recall(lotIds.milk, REASON);
      await expect(provenance.connect(agents.auditor).recall(lotIds.milk, "again"))
        .to.be.revertedWithCustomError(provenance, "ProvenanceAlreadyRecalled")
        .withArgs(lotIds.milk);
    });

    it("refuses an unknown batch", async function () {
      const { provenance, governor } = await loadFixture(provenanceFixture);
      await expect(provenance.connect(governor).recall(UNKNOWN_BATCH, REASON))
        .to.be.revertedWithCustomError(provenance, "ProvenanceUnknownBatch")
        .withArgs(UNKNOWN_BATCH);
    });
  });

  describe("what a recall blocks", function () {
    /** The producer recalled its first milk lot, which it still holds. */
    async function recalledFixture() {
      const f = await loadFixture(provenanceFixture);
      await f.provenance.connect(f.agents.producer).recall(f.lotIds.milk, REASON);
      return f;
    }

    it("blocks an offer", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(recalledFixture);
      await expect(provenance.connect(agents.producer).offer(lotIds.milk, qty(1), orgs.processor, Kind.Both))
        .to.be.revertedWithCustomError(provenance, "ProvenanceBatchRecalled")
        .withArgs(lotIds.milk);
    });

    it("blocks a hand-over with a signed acceptance", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(recalledFixture);
      const terms = {
        batchId: lotIds.milk,
        quantity: qty(1),
        from: orgs.producer,
        to: orgs.processor,
        kind: Kind.Both,
        gln: "",
        deadline: (await time.latest()) + 3600,
      };
      const { acceptance, signature } = await signAcceptance(agents.processor, provenance, terms);
      await expect(provenance.connect(agents.producer).handOverWithAcceptance(acceptance, signature))
        .to.be.revertedWithCustomError(provenance, "ProvenanceBatchRecalled")
        .withArgs(lotIds.milk);
    });

    it("blocks accepting a batch recalled while in transit", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(provenanceFixture);
      await provenance.connect(agents.producer).offer(lotIds.milk, qty(6_000), orgs.processor, Kind.Both);
      await provenance.connect(agents.producer).recall(lotIds.milk, REASON);
      await expect(provenance.connect(agents.processor).accept(...(await offered(provenance, lotIds.milk)), GLN.processor))
        .to.be.revertedWithCustomError(provenance, "ProvenanceBatchRecalled")
        .withArgs(lotIds.milk);
    });

    it("still lets the receiver reject a batch recalled in transit", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(provenanceFixture);
      await provenance.connect(agents.producer).offer(lotIds.milk, qty(6_000), orgs.processor, Kind.Both);
      await provenance.connect(agents.producer).recall(lotIds.milk, REASON);
      await provenance.connect(agents.processor).cancelOffer(lotIds.milk, "recalled");
      expect((await provenance.batch(lotIds.milk)).status).to.equal(Status.Active);
    });

    it("blocks a split", async function () {
      const { provenance, agents, lotIds } = await loadFixture(recalledFixture);
      await expect(provenance.connect(agents.producer).split(lotIds.milk, [qty(1)]))
        .to.be.revertedWithCustomError(provenance, "ProvenanceBatchRecalled")
        .withArgs(lotIds.milk);
    });

    it("blocks a transformation", async function () {
      const { provenance, agents, lotIds } = await loadFixture(milkAtProcessorFixture);
      await provenance.connect(agents.producer).recall(lotIds.milk, REASON);
      await expect(
        provenance
          .connect(agents.processor)
          .transform(PROCESS, [lotIds.milk], [qty(1)], [newLot("cream", "R1", qty(1))], digest("run")),
      )
        .to.be.revertedWithCustomError(provenance, "ProvenanceBatchRecalled")
        .withArgs(lotIds.milk);
    });

    it("blocks packing into a logistic unit", async function () {
      const { provenance, units, agents, lotIds } = await loadFixture(recalledFixture);
      await expect(units.connect(agents.producer).pack(ssccFor(PREFIX.producer, 1), [lotIds.milk]))
        .to.be.revertedWithCustomError(provenance, "ProvenanceBatchRecalled")
        .withArgs(lotIds.milk);
    });

    it("still lets the owner destroy the recalled batch", async function () {
      const { provenance, agents, lotIds } = await loadFixture(recalledFixture);
      await expect(provenance.connect(agents.producer).end(lotIds.milk, true, "destroyed under recall"))
        .to.emit(provenance, "BatchEnded")
        .withArgs(lotIds.milk, Status.Destroyed, "destroyed under recall");
    });
  });

  describe("propagateRecall", function () {
    /**
     * Three generations from the first milk lot: 6,000 litres handed to the processor (portion p),
     * separated into cream and skimmed milk, and 100 litres of the cream split off (portion c).
     */
    async function lineageFixture() {
      const f = await loadFixture(provenanceFixture);
      const { provenance, agents, orgs, lotIds } = f;
      await provenance.connect(agents.producer).offer(lotIds.milk, qty(6_000), orgs.processor, Kind.Both);
      await provenance.connect(agents.processor).accept(...(await offered(provenance, lotIds.milk)), GLN.processor);
      const portion = portionIdOf(lotIds.milk, 0);
      await provenance
        .connect(agents.processor)
        .transform(
          PROCESS,
          [portion],
          [qty(6_000)],
          [newLot("cream", "R240413-1", qty(700)), newLot("skimmedMilk", "S240413-1", qty(5_300_000))],
          digest("separation"),
        );
      const cream = lotIdOf(PRODUCT.cream.gtin, "R240413-1");
      const skimmed = lotIdOf(PRODUCT.skimmedMilk.gtin, "S240413-1");
      await provenance.connect(agents.processor).split(cream, [qty(100)]);
      const creamPortion = portionIdOf(cream, 0);
      await provenance.connect(agents.producer).recall(lotIds.milk, REASON);
      return { ...f, portion, cream, skimmed, creamPortion };
    }

    it("flags the child of a recalled batch along a stored edge", async function () {
      const { provenance, outsider, lotIds, portion } = await loadFixture(lineageFixture);
      await expect(provenance.connect(outsider).propagateRecall([lotIds.milk], [portion]))
        .to.emit(provenance, "RecallPropagated")
        .withArgs(portion, lotIds.milk);
    });

    it("marks the child recalled by propagation", async function () {
      const { provenance, lotIds, portion } = await loadFixture(lineageFixture);
      await provenance.propagateRecall([lotIds.milk], [portion]);
      const b = await provenance.batch(portion);
      expect([b.recall, await provenance.isRecalled(portion)]).to.deep.equal([Recall.Propagated, true]);
    });

    it("propagates level by level from a propagated parent", async function () {
      const { provenance, lotIds, portion, cream, skimmed, creamPortion } = await loadFixture(lineageFixture);
      await provenance.propagateRecall([lotIds.milk], [portion]);
      await provenance.propagateRecall([portion, portion], [cream, skimmed]);
      await provenance.propagateRecall([cream], [creamPortion]);
      expect(await Promise.all([cream, skimmed, creamPortion].map((id) => provenance.isRecalled(id)))).to.deep.equal([
        true,
        true,
        true,
      ]);
    });

    it("propagates through every level in one chunk ordered parent first", async function () {
      const { provenance, lotIds, portion, cream, skimmed, creamPortion } = await loadFixture(lineageFixture);
      await expect(provenance.propagateRecall([lotIds.milk, portion, portion, cream], [portion, cream, skimmed, creamPortion]))
        .to.emit(provenance, "RecallPropagated")
        .withArgs(creamPortion, cream);
    });

    it("leaves the producer's remaining milk and unrelated lots alone", async function () {
      const { provenance, lotIds, portion, cream, skimmed, creamPortion } = await loadFixture(lineageFixture);
      await provenance.propagateRecall([lotIds.milk, portion, portion, cream], [portion, cream, skimmed, creamPortion]);
      expect([await provenance.isRecalled(lotIds.milkB), await provenance.isRecalled(lotIds.butter)]).to.deep.equal([
        false,
        false,
      ]);
    });

    it("skips a child already flagged without announcing it again", async function () {
      const { provenance, lotIds, portion } = await loadFixture(lineageFixture);
      await provenance.propagateRecall([lotIds.milk], [portion]);
      await expect(provenance.propagateRecall([lotIds.milk], [portion])).not.to.emit(provenance, "RecallPropagated");
    });

    it("keeps a directly recalled child's state when propagating to it", async function () {
      const { provenance, agents, lotIds, portion, cream } = await loadFixture(lineageFixture);
      await provenance.propagateRecall([lotIds.milk], [portion]);
      await provenance.connect(agents.processor).recall(cream, "own finding");
      await provenance.propagateRecall([portion], [cream]);
      expect((await provenance.batch(cream)).recall).to.equal(Recall.Direct);
    });

    it("blocks the propagated portion from changing hands", async function () {
      const { provenance, agents, orgs, lotIds, portion, cream, creamPortion } = await loadFixture(lineageFixture);
      await provenance.propagateRecall([lotIds.milk, portion, cream], [portion, cream, creamPortion]);
      await expect(provenance.connect(agents.processor).offer(creamPortion, qty(100), orgs.retailer, Kind.Both))
        .to.be.revertedWithCustomError(provenance, "ProvenanceBatchRecalled")
        .withArgs(creamPortion);
    });

    it("blocks accepting a portion whose recall was propagated while in transit", async function () {
      const { provenance, agents, orgs, lotIds, portion, cream, creamPortion } = await loadFixture(lineageFixture);
      await provenance.connect(agents.processor).offer(creamPortion, qty(100), orgs.retailer, Kind.Both);
      await provenance.propagateRecall([lotIds.milk, portion, cream], [portion, cream, creamPortion]);
      await expect(provenance.connect(agents.retailer).accept(...(await offered(provenance, creamPortion)), GLN.retailer))
        .to.be.revertedWithCustomError(provenance, "ProvenanceBatchRecalled")
        .withArgs(creamPortion);
    });

    it("refuses a pair that is not a stored edge", async function () {
      const { provenance, lotIds } = await loadFixture(lineageFixture);
      await expect(provenance.propagateRecall([lotIds.milk], [lotIds.butter]))
        .to.be.revertedWithCustomError(provenance, "ProvenanceNotAnEdge")
        .withArgs(lotIds.milk, lotIds.butter);
    });

    it("refuses a forged chunk that skips a generation", async function () {
      const { provenance, lotIds, cream } = await loadFixture(lineageFixture);
      await expect(provenance.propagateRecall([lotIds.milk], [cream]))
        .to.be.revertedWithCustomError(provenance, "ProvenanceNotAnEdge")
        .withArgs(lotIds.milk, cream);
    });

    it("refuses an edge walked backwards", async function () {
      const { provenance, governor, lotIds, portion } = await loadFixture(lineageFixture);
      await provenance.connect(governor).recall(portion, REASON);
      await expect(provenance.propagateRecall([portion], [lotIds.milk]))
        .to.be.revertedWithCustomError(provenance, "ProvenanceNotAnEdge")
        .withArgs(portion, lotIds.milk);
    });

    it("refuses a parent that is not recalled", async function () {
      const { provenance, portion, cream } = await loadFixture(lineageFixture);
      await expect(provenance.propagateRecall([portion], [cream]))
        .to.be.revertedWithCustomError(provenance, "ProvenanceNotRecalled")
        .withArgs(portion);
    });

    it("refuses a chunk ordered child first", async function () {
      const { provenance, lotIds, portion, cream } = await loadFixture(lineageFixture);
      await expect(provenance.propagateRecall([portion, lotIds.milk], [cream, portion]))
        .to.be.revertedWithCustomError(provenance, "ProvenanceNotRecalled")
        .withArgs(portion);
    });

    it("refuses parents and children of different lengths", async function () {
      const { provenance, lotIds, portion } = await loadFixture(lineageFixture);
      await expect(provenance.propagateRecall([lotIds.milk, lotIds.milk], [portion])).to.be.revertedWithCustomError(
        provenance,
        "ProvenanceLengthMismatch",
      );
    });

    it(`refuses more than ${MAX_PROPAGATION} pairs in one chunk`, async function () {
      const { provenance, lotIds, portion } = await loadFixture(lineageFixture);
      const n = MAX_PROPAGATION + 1;
      await expect(provenance.propagateRecall(Array(n).fill(lotIds.milk), Array(n).fill(portion)))
        .to.be.revertedWithCustomError(provenance, "ProvenanceTooMany")
        .withArgs(n, MAX_PROPAGATION);
    });
  });
});
