import { expect } from "chai";
import { AbiCoder, encodeBytes32String, keccak256 } from "ethers";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import {
  digest,
  GLN,
  Kind,
  LOT,
  lotIdOf,
  milkAtProcessorFixture,
  milkWithCarrierFixture,
  NEEDED,
  newLot,
  portionIdOf,
  PRODUCT,
  provenanceFixture,
  qty,
  Recall,
  ssccFor,
  PREFIX,
  Status,
  unitKeyOf,
  offered,
  gtinFor,
  unitCode,
} from "../../helpers/provenance-fixture";

const SPLIT = encodeBytes32String("SPLIT");
const PROCESS = encodeBytes32String("PROCESS");
const MERGE = encodeBytes32String("MERGE");
const REPACK = encodeBytes32String("REPACK");
const UNKNOWN_BATCH = encodeBytes32String("no such batch");
const RUN = digest("separation run 2024-04-13 #2");
const MAX_BATCH_ITEMS = 64;
/** Dimensions of the mass-balance check: 1 mass (mg), 2 volume (ml), 3 count. */
const MASS = 1;
const VOLUME = 2;
const COUNT = 3;

/** The base-unit amount of a quantity, as the contract sums it: quantity × factor to mg, ml or pieces. */
const TO_BASE = { LTR: 1_000n, MLT: 1n, KGM: 1_000_000n, GRM: 1_000n } as const;

function transformationId(inputs: string[], outputIds: string[]): string {
  return keccak256(AbiCoder.defaultAbiCoder().encode(["bytes32[]", "bytes32[]"], [inputs, outputIds]));
}

describe("ProvenanceRegistry lineage: split, transform, end, observe", function () {
  describe("split", function () {
    it("announces each portion with its index and quantity", async function () {
      const { provenance, agents, lotIds } = await loadFixture(provenanceFixture);
      await expect(provenance.connect(agents.producer).split(lotIds.milk, [qty(5_000), qty(3_000)]))
        .to.emit(provenance, "BatchSplit")
        .withArgs(lotIds.milk, portionIdOf(lotIds.milk, 0), 0, qty(5_000))
        .and.to.emit(provenance, "BatchSplit")
        .withArgs(lotIds.milk, portionIdOf(lotIds.milk, 1), 1, qty(3_000));
    });

    it("records a SPLIT edge to each portion", async function () {
      const { provenance, agents, lotIds } = await loadFixture(provenanceFixture);
      await expect(provenance.connect(agents.producer).split(lotIds.milk, [qty(5_000), qty(3_000)]))
        .to.emit(provenance, "LineageEdge")
        .withArgs(lotIds.milk, portionIdOf(lotIds.milk, 0), SPLIT, qty(5_000))
        .and.to.emit(provenance, "LineageEdge")
        .withArgs(lotIds.milk, portionIdOf(lotIds.milk, 1), SPLIT, qty(3_000));
    });

    it("returns the portions' ids", async function () {
      const { provenance, agents, lotIds } = await loadFixture(provenanceFixture);
      expect(await provenance.connect(agents.producer).split.staticCall(lotIds.milk, [qty(5_000), qty(3_000)])).to.deep.equal([
        portionIdOf(lotIds.milk, 0),
        portionIdOf(lotIds.milk, 1),
      ]);
    });

    it("gives each portion the parent's holder, owner, GTIN and producer", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(provenanceFixture);
      await provenance.connect(agents.producer).split(lotIds.milk, [qty(5_000)]);
      const p = await provenance.batch(portionIdOf(lotIds.milk, 0));
      expect([p.quantity, p.owner, p.custodian, p.gtin, p.producer, p.splits, p.status, p.recall]).to.deep.equal([
        qty(5_000),
        orgs.producer,
        orgs.producer,
        PRODUCT.milk.gtin,
        orgs.producer,
        0n,
        Status.Active,
        Recall.None,
      ]);
    });

    it("leaves the parent the rest and counts its splits", async function () {
      const { provenance, agents, lotIds } = await loadFixture(provenanceFixture);
      await provenance.connect(agents.producer).split(lotIds.milk, [qty(5_000), qty(3_000)]);
      const lot = await provenance.batch(lotIds.milk);
      expect([lot.quantity, lot.splits]).to.deep.equal([qty(12_000), 2n]);
    });

    it("numbers a portion of a portion from the portion's own id", async function () {
      const { provenance, agents, lotIds } = await loadFixture(provenanceFixture);
      await provenance.connect(agents.producer).split(lotIds.milk, [qty(5_000)]);
      const portion = portionIdOf(lotIds.milk, 0);
      await expect(provenance.connect(agents.producer).split(portion, [qty(1_000)]))
        .to.emit(provenance, "BatchSplit")
        .withArgs(portion, portionIdOf(portion, 0), 0, qty(1_000));
    });

    it("refuses to split off the whole remaining quantity", async function () {
      const { provenance, agents, lotIds } = await loadFixture(provenanceFixture);
      await expect(provenance.connect(agents.producer).split(lotIds.milk, [qty(15_000), qty(5_000)]))
        .to.be.revertedWithCustomError(provenance, "ProvenanceInsufficientQuantity")
        .withArgs(lotIds.milk, qty(5_000), qty(5_000));
    });

    it("refuses a zero portion", async function () {
      const { provenance, agents, lotIds } = await loadFixture(provenanceFixture);
      await expect(provenance.connect(agents.producer).split(lotIds.milk, [0n]))
        .to.be.revertedWithCustomError(provenance, "ProvenanceInsufficientQuantity")
        .withArgs(lotIds.milk, LOT.milk.quantity, 0n);
    });

    it(`refuses more than ${MAX_BATCH_ITEMS} portions in one call`, async function () {
      const { provenance, agents, lotIds } = await loadFixture(provenanceFixture);
      await expect(provenance.connect(agents.producer).split(lotIds.milk, Array(MAX_BATCH_ITEMS + 1).fill(qty(1))))
        .to.be.revertedWithCustomError(provenance, "ProvenanceTooMany")
        .withArgs(MAX_BATCH_ITEMS + 1, MAX_BATCH_ITEMS);
    });

    it("refuses an owner whose goods a carrier holds", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(milkWithCarrierFixture);
      await expect(provenance.connect(agents.producer).split(lotIds.milk, [qty(1)]))
        .to.be.revertedWithCustomError(provenance, "ProvenanceNotCustodian")
        .withArgs(lotIds.milk, orgs.producer);
    });

    it("refuses a carrier that holds but does not own the goods", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(milkWithCarrierFixture);
      await expect(provenance.connect(agents.carrier).split(lotIds.milk, [qty(1)]))
        .to.be.revertedWithCustomError(provenance, "ProvenanceNotOwner")
        .withArgs(lotIds.milk, orgs.carrier);
    });

    it("refuses a batch in transit", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(provenanceFixture);
      await provenance.connect(agents.producer).offer(lotIds.milk, qty(1), orgs.processor, Kind.Both);
      await expect(provenance.connect(agents.producer).split(lotIds.milk, [qty(1)]))
        .to.be.revertedWithCustomError(provenance, "ProvenanceNotActive")
        .withArgs(lotIds.milk, Status.InTransit);
    });

    it("refuses an unknown batch", async function () {
      const { provenance, agents } = await loadFixture(provenanceFixture);
      await expect(provenance.connect(agents.producer).split(UNKNOWN_BATCH, [qty(1)]))
        .to.be.revertedWithCustomError(provenance, "ProvenanceUnknownBatch")
        .withArgs(UNKNOWN_BATCH);
    });

    it("is refused to an auditor", async function () {
      const { provenance, registry, agents, lotIds } = await loadFixture(provenanceFixture);
      await expect(provenance.connect(agents.auditor).split(lotIds.milk, [qty(1)]))
        .to.be.revertedWithCustomError(registry, "IdentityUnauthorizedAgent")
        .withArgs(agents.auditor.address, NEEDED.handlers);
    });
  });

  describe("transform", function () {
    /** Separation of 10,000 litres of milk into 1,200 litres of cream and 8,900,000 ml of skimmed milk. */
    const separation = () => ({
      inputQuantities: [qty(10_000)],
      outputs: [
        newLot("cream", "R240413-1", qty(1_200), GLN.processor),
        newLot("skimmedMilk", "S240413-1", qty(8_900_000), GLN.processor),
      ],
    });

    /** The processor holds the whole milk lot and has separated 10,000 litres of it. */
    async function separatedFixture() {
      const f = await loadFixture(milkAtProcessorFixture);
      const { inputQuantities, outputs } = separation();
      await f.provenance.connect(f.agents.processor).transform(PROCESS, [f.lotIds.milk], inputQuantities, outputs, RUN);
      return { ...f, cream: lotIdOf(PRODUCT.cream.gtin, "R240413-1"), skimmed: lotIdOf(PRODUCT.skimmedMilk.gtin, "S240413-1") };
    }

    it("announces the transformation with its id, kind, organisation and metadata", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(milkAtProcessorFixture);
      const { inputQuantities, outputs } = separation();
      const outputIds = outputs.map((o) => lotIdOf(o.gtin, o.lot));
      await expect(provenance.connect(agents.processor).transform(PROCESS, [lotIds.milk], inputQuantities, outputs, RUN))
        .to.emit(provenance, "Transformed")
        .withArgs(transformationId([lotIds.milk], outputIds), PROCESS, orgs.processor, RUN);
    });

    it("returns the outputs' lot ids", async function () {
      const { provenance, agents, lotIds } = await loadFixture(milkAtProcessorFixture);
      const { inputQuantities, outputs } = separation();
      expect(
        await provenance.connect(agents.processor).transform.staticCall(PROCESS, [lotIds.milk], inputQuantities, outputs, RUN),
      ).to.deep.equal(outputs.map((o) => lotIdOf(o.gtin, o.lot)));
    });

    it("announces the quantity consumed from the input and what remains", async function () {
      const { provenance, agents, lotIds } = await loadFixture(milkAtProcessorFixture);
      const { inputQuantities, outputs } = separation();
      await expect(provenance.connect(agents.processor).transform(PROCESS, [lotIds.milk], inputQuantities, outputs, RUN))
        .to.emit(provenance, "QuantityConsumed")
        .withArgs(lotIds.milk, qty(10_000), qty(10_000));
    });

    it("registers each output as a lot of the processor", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(milkAtProcessorFixture);
      const { inputQuantities, outputs } = separation();
      const [cream] = outputs;
      await expect(provenance.connect(agents.processor).transform(PROCESS, [lotIds.milk], inputQuantities, outputs, RUN))
        .to.emit(provenance, "LotRegistered")
        .withArgs(
          lotIdOf(cream.gtin, cream.lot),
          cream.gtin,
          orgs.processor,
          cream.lot,
          cream.quantity,
          cream.gln,
          cream.metadataHash,
        );
    });

    it("makes the processor the outputs' producer, owner and custodian", async function () {
      const { provenance, orgs, cream } = await loadFixture(separatedFixture);
      const b = await provenance.batch(cream);
      expect([b.producer, b.owner, b.custodian, b.quantity, b.status]).to.deep.equal([
        orgs.processor,
        orgs.processor,
        orgs.processor,
        qty(1_200),
        Status.Active,
      ]);
    });

    it("leaves the input the unconsumed quantity, still active", async function () {
      const { provenance, lotIds } = await loadFixture(separatedFixture);
      const b = await provenance.batch(lotIds.milk);
      expect([b.quantity, b.status]).to.deep.equal([qty(10_000), Status.Active]);
    });

    it("marks an input consumed when nothing of it remains", async function () {
      const { provenance, agents, lotIds } = await loadFixture(separatedFixture);
      await provenance
        .connect(agents.processor)
        .transform(PROCESS, [lotIds.milk], [qty(10_000)], [newLot("cream", "R240413-2", qty(10_000))], RUN);
      const b = await provenance.batch(lotIds.milk);
      expect([b.quantity, b.status]).to.deep.equal([0n, Status.Consumed]);
    });

    it("attributes the input to the outputs in proportion to their stated quantities, whatever their units", async function () {
      const { provenance, agents, lotIds } = await loadFixture(milkAtProcessorFixture);
      const { inputQuantities, outputs } = separation();
      const [cream, skimmed] = outputs;
      // Pins current behaviour: litres of cream and millilitres of skimmed milk are weighed as
      // stated, not in base units, so the cream's share is a thousandth of its volume share.
      const total = cream.quantity + skimmed.quantity;
      await expect(provenance.connect(agents.processor).transform(PROCESS, [lotIds.milk], inputQuantities, outputs, RUN))
        .to.emit(provenance, "LineageEdge")
        .withArgs(lotIds.milk, lotIdOf(cream.gtin, cream.lot), PROCESS, (qty(10_000) * cream.quantity) / total)
        .and.to.emit(provenance, "LineageEdge")
        .withArgs(lotIds.milk, lotIdOf(skimmed.gtin, skimmed.lot), PROCESS, (qty(10_000) * skimmed.quantity) / total);
    });

    it("stores the edges from the input to the outputs", async function () {
      const { provenance, lotIds, cream, skimmed } = await loadFixture(separatedFixture);
      expect([await provenance.hasEdge(lotIds.milk, cream), await provenance.hasEdge(lotIds.milk, skimmed)]).to.deep.equal([
        true,
        true,
      ]);
    });

    it("merges two lots into one, with an edge from each", async function () {
      const { provenance, agents, lotIds } = await loadFixture(provenanceFixture);
      await provenance.connect(agents.processor).registerLots([newLot("butter", "B2404-18", qty(200), GLN.processor)]);
      const second = lotIdOf(PRODUCT.butter.gtin, "B2404-18");
      const merged = newLot("butter", "B2404-M1", qty(1_000), GLN.processor);
      await expect(
        provenance.connect(agents.processor).transform(MERGE, [lotIds.butter, second], [qty(800), qty(200)], [merged], RUN),
      )
        .to.emit(provenance, "LineageEdge")
        .withArgs(lotIds.butter, lotIdOf(merged.gtin, merged.lot), MERGE, qty(800))
        .and.to.emit(provenance, "LineageEdge")
        .withArgs(second, lotIdOf(merged.gtin, merged.lot), MERGE, qty(200));
    });

    it("accepts outputs exactly at the kind's tolerance (litres in, litres and millilitres out)", async function () {
      const { provenance, agents, lotIds } = await loadFixture(milkAtProcessorFixture);
      const outputs = [newLot("cream", "R240413-1", qty(1_300)), newLot("skimmedMilk", "S240413-1", qty(8_900_000))];
      await expect(provenance.connect(agents.processor).transform(PROCESS, [lotIds.milk], [qty(10_000)], outputs, RUN)).to.emit(
        provenance,
        "Transformed",
      );
    });

    it("refuses outputs one thousandth of a millilitre beyond the tolerance, naming the volume dimension", async function () {
      const { provenance, agents, lotIds } = await loadFixture(milkAtProcessorFixture);
      const outputs = [newLot("cream", "R240413-1", qty(1_300)), newLot("skimmedMilk", "S240413-1", qty("8900000.001"))];
      await expect(provenance.connect(agents.processor).transform(PROCESS, [lotIds.milk], [qty(10_000)], outputs, RUN))
        .to.be.revertedWithCustomError(provenance, "ProvenanceMassBalance")
        .withArgs(VOLUME, qty(10_000) * TO_BASE.LTR, qty(1_300) * TO_BASE.LTR + qty("8900000.001") * TO_BASE.MLT, 200);
    });

    it("converts kilograms in to grams out", async function () {
      const { provenance, agents, lotIds } = await loadFixture(provenanceFixture);
      const portions = newLot("butterPortion", "P240413-1", qty(100_000), GLN.processor);
      await expect(provenance.connect(agents.processor).transform(REPACK, [lotIds.butter], [qty(100)], [portions], RUN)).to.emit(
        provenance,
        "Transformed",
      );
    });

    it("refuses a gram more than the kilograms in under a zero tolerance, naming the mass dimension", async function () {
      const { provenance, agents, lotIds } = await loadFixture(provenanceFixture);
      const portions = newLot("butterPortion", "P240413-1", qty(100_001), GLN.processor);
      await expect(provenance.connect(agents.processor).transform(REPACK, [lotIds.butter], [qty(100)], [portions], RUN))
        .to.be.revertedWithCustomError(provenance, "ProvenanceMassBalance")
        .withArgs(MASS, qty(100) * TO_BASE.KGM, qty(100_001) * TO_BASE.GRM, 0);
    });

    it("refuses 5 t of butter from 1,000 litres of milk that declares no density (a dimension only the outputs have)", async function () {
      const { provenance, agents, lotIds } = await loadFixture(milkAtProcessorFixture);
      const butter = newLot("butter", "B2404-X", qty(5_000), GLN.processor);
      await expect(provenance.connect(agents.processor).transform(PROCESS, [lotIds.milk], [qty(1_000)], [butter], RUN))
        .to.be.revertedWithCustomError(provenance, "ProvenanceDimensionMismatch")
        .withArgs(PRODUCT.butter.gtin, MASS);
      expect((await provenance.batch(lotIds.milk)).quantity).to.equal(LOT.milk.quantity);
    });

    it("refuses 10,000 t of cases made from 100 kg of butter (pieces from kilograms)", async function () {
      const { provenance, agents, lotIds } = await loadFixture(provenanceFixture);
      const cases = newLot("butterCase", "C240413-1", qty(1_000_000), GLN.processor);
      await expect(provenance.connect(agents.processor).transform(REPACK, [lotIds.butter], [qty(100)], [cases], RUN))
        .to.be.revertedWithCustomError(provenance, "ProvenanceDimensionMismatch")
        .withArgs(PRODUCT.butterCase.gtin, COUNT);
      expect((await provenance.batch(lotIds.butter)).quantity).to.equal(LOT.butter.quantity);
    });

    describe("through a product's declared net content", function () {
      const NETTED_CASE = gtinFor(PREFIX.processor, 21, 1);
      const DENSE_MILK = gtinFor(PREFIX.processor, 22);

      /** The processor registered cases of 10 kg of butter each and milk of 1.030 kg per litre. */
      async function nettedFixture() {
        const f = await loadFixture(provenanceFixture);
        const p = f.provenance.connect(f.agents.processor);
        await p.registerProductWithNetContent(NETTED_CASE, unitCode("H87"), unitCode("KGM"), qty(10), digest("case 10 kg"));
        await p.registerProductWithNetContent(
          DENSE_MILK,
          unitCode("LTR"),
          unitCode("KGM"),
          qty("1.030"),
          digest("milk 1.03 kg/l"),
        );
        await p.registerLots([
          { gtin: DENSE_MILK, lot: "DM-1", quantity: qty(1_000), gln: GLN.processor, metadataHash: digest("DM-1") },
        ]);
        return { ...f, denseMilk: lotIdOf(DENSE_MILK, "DM-1") };
      }

      it("records the net content with the product", async function () {
        const { provenance } = await loadFixture(nettedFixture);
        const [netUnit, perUnit] = await provenance.netContent(NETTED_CASE);
        expect([netUnit, perUnit]).to.deep.equal([unitCode("KGM"), qty(10)]);
      });

      it("turns 100 kg of butter into 10 cases of 10 kg", async function () {
        const { provenance, agents, lotIds } = await loadFixture(nettedFixture);
        const cases = { gtin: NETTED_CASE, lot: "NC-1", quantity: qty(10), gln: GLN.processor, metadataHash: digest("NC-1") };
        await provenance.connect(agents.processor).transform(REPACK, [lotIds.butter], [qty(100)], [cases], RUN);
        expect((await provenance.batch(lotIdOf(NETTED_CASE, "NC-1"))).quantity).to.equal(qty(10));
      });

      it("refuses 11 cases of 10 kg from 100 kg of butter", async function () {
        const { provenance, agents, lotIds } = await loadFixture(nettedFixture);
        const cases = { gtin: NETTED_CASE, lot: "NC-1", quantity: qty(11), gln: GLN.processor, metadataHash: digest("NC-1") };
        await expect(provenance.connect(agents.processor).transform(REPACK, [lotIds.butter], [qty(100)], [cases], RUN))
          .to.be.revertedWithCustomError(provenance, "ProvenanceMassBalance")
          .withArgs(MASS, qty(100) * TO_BASE.KGM, qty(110) * TO_BASE.KGM, 0);
      });

      it("balances kilograms of butter against litres of milk through its density", async function () {
        const { provenance, agents, denseMilk } = await loadFixture(nettedFixture);
        const ok = newLot("butter", "B-DENSE-1", qty(1_050), GLN.processor);
        await provenance.connect(agents.processor).transform(PROCESS, [denseMilk], [qty(1_000)], [ok], RUN);
        expect((await provenance.batch(lotIdOf(PRODUCT.butter.gtin, "B-DENSE-1"))).quantity).to.equal(qty(1_050));
      });

      it("refuses more butter than the milk's mass allows", async function () {
        const { provenance, agents, denseMilk } = await loadFixture(nettedFixture);
        const tooMuch = newLot("butter", "B-DENSE-2", qty(1_100), GLN.processor);
        await expect(provenance.connect(agents.processor).transform(PROCESS, [denseMilk], [qty(1_000)], [tooMuch], RUN))
          .to.be.revertedWithCustomError(provenance, "ProvenanceMassBalance")
          .withArgs(MASS, qty(1_030) * TO_BASE.KGM, qty(1_100) * TO_BASE.KGM, 200);
      });
    });

    it("balances each dimension on its own", async function () {
      const { provenance, agents, lotIds } = await loadFixture(milkAtProcessorFixture);
      const outputs = [newLot("butter", "B2404-X", qty(801), GLN.processor), newLot("cream", "R240413-1", qty(1_000))];
      await expect(
        provenance
          .connect(agents.processor)
          .transform(PROCESS, [lotIds.milk, lotIds.butter], [qty(1_000), qty(780)], outputs, RUN),
      )
        .to.be.revertedWithCustomError(provenance, "ProvenanceMassBalance")
        .withArgs(MASS, qty(780) * TO_BASE.KGM, qty(801) * TO_BASE.KGM, 200);
    });

    it("applies a tolerance governance set above 555 %", async function () {
      const { provenance, agents, lotIds } = await loadFixture(milkAtProcessorFixture);
      const HYDRATE = encodeBytes32String("HYDRATE");
      await provenance.setTransformKind(HYDRATE, true, 60_000);
      const cream = newLot("cream", "R240413-1", qty(6_000));
      await expect(provenance.connect(agents.processor).transform(HYDRATE, [lotIds.milk], [qty(1_000)], [cream], RUN)).to.emit(
        provenance,
        "Transformed",
      );
    });

    it("refuses a kind governance never enabled", async function () {
      const { provenance, agents, lotIds } = await loadFixture(milkAtProcessorFixture);
      const CHURN = encodeBytes32String("CHURN");
      await expect(
        provenance.connect(agents.processor).transform(CHURN, [lotIds.milk], [qty(1)], [newLot("cream", "R1", qty(1))], RUN),
      )
        .to.be.revertedWithCustomError(provenance, "ProvenanceUnknownTransformKind")
        .withArgs(CHURN);
    });

    it("refuses a kind governance disabled", async function () {
      const { provenance, agents, lotIds } = await loadFixture(milkAtProcessorFixture);
      await provenance.setTransformKind(MERGE, false, 0);
      await expect(
        provenance.connect(agents.processor).transform(MERGE, [lotIds.milk], [qty(1)], [newLot("cream", "R1", qty(1))], RUN),
      )
        .to.be.revertedWithCustomError(provenance, "ProvenanceUnknownTransformKind")
        .withArgs(MERGE);
    });

    it("refuses an input the processor does not own", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(milkAtProcessorFixture);
      await expect(
        provenance.connect(agents.processor).transform(PROCESS, [lotIds.milkB], [qty(1)], [newLot("cream", "R1", qty(1))], RUN),
      )
        .to.be.revertedWithCustomError(provenance, "ProvenanceNotOwner")
        .withArgs(lotIds.milkB, orgs.processor);
    });

    it("refuses an input the processor owns but does not hold", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(provenanceFixture);
      await provenance.connect(agents.producer).offer(lotIds.milkB, LOT.milkB.quantity, orgs.processor, Kind.Ownership);
      await provenance.connect(agents.processor).accept(...(await offered(provenance, lotIds.milkB)), "");
      await expect(
        provenance.connect(agents.processor).transform(PROCESS, [lotIds.milkB], [qty(1)], [newLot("cream", "R1", qty(1))], RUN),
      )
        .to.be.revertedWithCustomError(provenance, "ProvenanceNotCustodian")
        .withArgs(lotIds.milkB, orgs.processor);
    });

    it("refuses an input in transit", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(milkAtProcessorFixture);
      await provenance.connect(agents.processor).offer(lotIds.milk, qty(1), orgs.retailer, Kind.Both);
      await expect(
        provenance.connect(agents.processor).transform(PROCESS, [lotIds.milk], [qty(1)], [newLot("cream", "R1", qty(1))], RUN),
      )
        .to.be.revertedWithCustomError(provenance, "ProvenanceNotActive")
        .withArgs(lotIds.milk, Status.InTransit);
    });

    it("refuses an input packed in a logistic unit", async function () {
      const { provenance, units, agents, lotIds } = await loadFixture(provenanceFixture);
      const sscc = ssccFor(PREFIX.processor, 1);
      await units.connect(agents.processor).pack(sscc, [lotIds.butter]);
      await expect(
        provenance
          .connect(agents.processor)
          .transform(REPACK, [lotIds.butter], [qty(1)], [newLot("butterPortion", "P1", qty(1))], RUN),
      )
        .to.be.revertedWithCustomError(provenance, "ProvenanceInUnit")
        .withArgs(lotIds.butter, unitKeyOf(sscc));
    });

    it("refuses consuming more of an input than it holds", async function () {
      const { provenance, agents, lotIds } = await loadFixture(milkAtProcessorFixture);
      const tooMuch = LOT.milk.quantity + 1n;
      await expect(
        provenance.connect(agents.processor).transform(PROCESS, [lotIds.milk], [tooMuch], [newLot("cream", "R1", qty(1))], RUN),
      )
        .to.be.revertedWithCustomError(provenance, "ProvenanceInsufficientQuantity")
        .withArgs(lotIds.milk, LOT.milk.quantity, tooMuch);
    });

    it("refuses consuming nothing of an input", async function () {
      const { provenance, agents, lotIds } = await loadFixture(milkAtProcessorFixture);
      await expect(
        provenance.connect(agents.processor).transform(PROCESS, [lotIds.milk], [0n], [newLot("cream", "R1", qty(1))], RUN),
      )
        .to.be.revertedWithCustomError(provenance, "ProvenanceInsufficientQuantity")
        .withArgs(lotIds.milk, LOT.milk.quantity, 0n);
    });

    it("refuses an output of another organisation's product", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(milkAtProcessorFixture);
      await expect(
        provenance.connect(agents.processor).transform(PROCESS, [lotIds.milk], [qty(1)], [newLot("milk", "M-FAKE", qty(1))], RUN),
      )
        .to.be.revertedWithCustomError(provenance, "ProvenanceForeignPrefix")
        .withArgs(PRODUCT.milk.gtin, orgs.processor);
    });

    it("refuses inputs and quantities of different lengths", async function () {
      const { provenance, agents, lotIds } = await loadFixture(milkAtProcessorFixture);
      await expect(
        provenance
          .connect(agents.processor)
          .transform(PROCESS, [lotIds.milk], [qty(1), qty(1)], [newLot("cream", "R1", qty(1))], RUN),
      ).to.be.revertedWithCustomError(provenance, "ProvenanceLengthMismatch");
    });

    it("refuses a transformation without inputs", async function () {
      const { provenance, agents } = await loadFixture(milkAtProcessorFixture);
      await expect(
        provenance.connect(agents.processor).transform(PROCESS, [], [], [newLot("cream", "R1", qty(1))], RUN),
      ).to.be.revertedWithCustomError(provenance, "ProvenanceLengthMismatch");
    });

    it("refuses a transformation without outputs", async function () {
      const { provenance, agents, lotIds } = await loadFixture(milkAtProcessorFixture);
      await expect(
        provenance.connect(agents.processor).transform(PROCESS, [lotIds.milk], [qty(1)], [], RUN),
      ).to.be.revertedWithCustomError(provenance, "ProvenanceLengthMismatch");
    });

    it(`refuses more than ${MAX_BATCH_ITEMS} input-output edges`, async function () {
      const { provenance, agents, lotIds } = await loadFixture(milkAtProcessorFixture);
      const outputs = Array.from({ length: 13 }, (_, j) => newLot("cream", `R${j}`, qty(1)));
      await expect(
        provenance.connect(agents.processor).transform(PROCESS, Array(5).fill(lotIds.milk), Array(5).fill(qty(1)), outputs, RUN),
      )
        .to.be.revertedWithCustomError(provenance, "ProvenanceTooMany")
        .withArgs(65, MAX_BATCH_ITEMS);
    });

    it("is refused to a carrier", async function () {
      const { provenance, registry, agents, lotIds } = await loadFixture(milkAtProcessorFixture);
      await expect(
        provenance.connect(agents.carrier).transform(PROCESS, [lotIds.milk], [qty(1)], [newLot("cream", "R1", qty(1))], RUN),
      )
        .to.be.revertedWithCustomError(registry, "IdentityUnauthorizedAgent")
        .withArgs(agents.carrier.address, NEEDED.makers);
    });
  });

  describe("end", function () {
    it("marks a batch consumed, with the reason", async function () {
      const { provenance, agents, lotIds } = await loadFixture(provenanceFixture);
      await expect(provenance.connect(agents.producer).end(lotIds.milkB, false, "fed to calves"))
        .to.emit(provenance, "BatchEnded")
        .withArgs(lotIds.milkB, Status.Consumed, "fed to calves");
    });

    it("stores the consumed status", async function () {
      const { provenance, agents, lotIds } = await loadFixture(provenanceFixture);
      await provenance.connect(agents.producer).end(lotIds.milkB, false, "fed to calves");
      expect((await provenance.batch(lotIds.milkB)).status).to.equal(Status.Consumed);
    });

    it("marks a batch destroyed", async function () {
      const { provenance, agents, lotIds } = await loadFixture(provenanceFixture);
      await expect(provenance.connect(agents.producer).end(lotIds.milkB, true, "antibiotic residue"))
        .to.emit(provenance, "BatchEnded")
        .withArgs(lotIds.milkB, Status.Destroyed, "antibiotic residue");
    });

    it("refuses a batch that has already ended", async function () {
      const { provenance, agents, lotIds } = await loadFixture(provenanceFixture);
      await provenance.connect(agents.producer).end(lotIds.milkB, false, "fed to calves");
      await expect(provenance.connect(agents.producer).end(lotIds.milkB, true, "again"))
        .to.be.revertedWithCustomError(provenance, "ProvenanceNotActive")
        .withArgs(lotIds.milkB, Status.Consumed);
    });

    it("refuses a batch in transit", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(provenanceFixture);
      await provenance.connect(agents.producer).offer(lotIds.milkB, qty(1), orgs.processor, Kind.Both);
      await expect(provenance.connect(agents.producer).end(lotIds.milkB, true, "spilled"))
        .to.be.revertedWithCustomError(provenance, "ProvenanceNotActive")
        .withArgs(lotIds.milkB, Status.InTransit);
    });

    it("refuses a carrier that holds but does not own the batch", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(milkWithCarrierFixture);
      await expect(provenance.connect(agents.carrier).end(lotIds.milk, true, "spilled"))
        .to.be.revertedWithCustomError(provenance, "ProvenanceNotOwner")
        .withArgs(lotIds.milk, orgs.carrier);
    });

    it("refuses an owner whose goods a carrier holds", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(milkWithCarrierFixture);
      await expect(provenance.connect(agents.producer).end(lotIds.milk, true, "spilled"))
        .to.be.revertedWithCustomError(provenance, "ProvenanceNotCustodian")
        .withArgs(lotIds.milk, orgs.producer);
    });

    it("refuses a batch packed in a logistic unit", async function () {
      const { provenance, units, agents, lotIds } = await loadFixture(provenanceFixture);
      const sscc = ssccFor(PREFIX.producer, 1);
      await units.connect(agents.producer).pack(sscc, [lotIds.milkB]);
      await expect(provenance.connect(agents.producer).end(lotIds.milkB, true, "spilled"))
        .to.be.revertedWithCustomError(provenance, "ProvenanceInUnit")
        .withArgs(lotIds.milkB, unitKeyOf(sscc));
    });

    it("refuses an unknown batch", async function () {
      const { provenance, agents } = await loadFixture(provenanceFixture);
      await expect(provenance.connect(agents.producer).end(UNKNOWN_BATCH, true, "?"))
        .to.be.revertedWithCustomError(provenance, "ProvenanceUnknownBatch")
        .withArgs(UNKNOWN_BATCH);
    });

    it("is refused to a wallet bound to no organisation", async function () {
      const { provenance, registry, outsider, lotIds } = await loadFixture(provenanceFixture);
      await expect(provenance.connect(outsider).end(lotIds.milkB, true, "?"))
        .to.be.revertedWithCustomError(registry, "IdentityUnauthorizedAgent")
        .withArgs(outsider.address, NEEDED.handlers);
    });
  });

  describe("observe", function () {
    const EVENT = digest("urn:epcglobal:cbv:epcis:event:1");
    const SHIPPING = encodeBytes32String("shipping");
    const READINGS = digest("tank 4 °C, 18 readings");

    it("records an observation by the batch's owner", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(provenanceFixture);
      await expect(provenance.connect(agents.producer).observe(lotIds.milk, EVENT, SHIPPING, GLN.producer, READINGS))
        .to.emit(provenance, "Observed")
        .withArgs(lotIds.milk, EVENT, SHIPPING, GLN.producer, READINGS, orgs.producer);
    });

    it("records an observation by the batch's custodian", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(milkWithCarrierFixture);
      await expect(provenance.connect(agents.carrier).observe(lotIds.milk, EVENT, SHIPPING, GLN.carrier, READINGS))
        .to.emit(provenance, "Observed")
        .withArgs(lotIds.milk, EVENT, SHIPPING, GLN.carrier, READINGS, orgs.carrier);
    });

    it("records an observation by an auditor of another organisation", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(provenanceFixture);
      await expect(provenance.connect(agents.auditor).observe(lotIds.milk, EVENT, SHIPPING, "", READINGS))
        .to.emit(provenance, "Observed")
        .withArgs(lotIds.milk, EVENT, SHIPPING, "", READINGS, orgs.auditor);
    });

    it("records an observation of an ended batch", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(provenanceFixture);
      await provenance.connect(agents.producer).end(lotIds.milkB, true, "spilled");
      await expect(provenance.connect(agents.producer).observe(lotIds.milkB, EVENT, SHIPPING, "", READINGS))
        .to.emit(provenance, "Observed")
        .withArgs(lotIds.milkB, EVENT, SHIPPING, "", READINGS, orgs.producer);
    });

    it("refuses an agent of an organisation that neither owns nor holds the batch", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(provenanceFixture);
      await expect(provenance.connect(agents.retailer).observe(lotIds.milk, EVENT, SHIPPING, "", READINGS))
        .to.be.revertedWithCustomError(provenance, "ProvenanceNotCustodian")
        .withArgs(lotIds.milk, orgs.retailer);
    });

    it("refuses an unknown batch", async function () {
      const { provenance, agents } = await loadFixture(provenanceFixture);
      await expect(provenance.connect(agents.auditor).observe(UNKNOWN_BATCH, EVENT, SHIPPING, "", READINGS))
        .to.be.revertedWithCustomError(provenance, "ProvenanceUnknownBatch")
        .withArgs(UNKNOWN_BATCH);
    });

    it("is refused to a wallet bound to no organisation", async function () {
      const { provenance, registry, outsider, lotIds } = await loadFixture(provenanceFixture);
      await expect(provenance.connect(outsider).observe(lotIds.milk, EVENT, SHIPPING, "", READINGS))
        .to.be.revertedWithCustomError(registry, "IdentityUnauthorizedAgent")
        .withArgs(outsider.address, NEEDED.observers);
    });
  });
});
