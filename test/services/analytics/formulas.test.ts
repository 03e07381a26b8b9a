import { expect } from "chai";
import { emissionFactorsFromEnv, type EmissionFactors } from "../../../services/analytics/factors";
import {
  aggregateRuns,
  co2eOf,
  custodySpells,
  dwellHours,
  onTimeDelivery,
  runMetrics,
  runYield,
  type CustodyEvent,
  type OrderDeliveryFacts,
} from "../../../services/analytics/kpi";
import { productivity } from "../../../services/analytics/productivity";
import {
  allocationShare,
  batchFootprint,
  type FootprintBatch,
  type FootprintLookups,
} from "../../../services/analytics/footprint";
import { recordHash, withId, type ProductionRunRecord } from "../../../services/analytics/record";
import { toBase } from "../../../services/analytics/units";
import type { LineageEdge } from "../../../services/provenance/trace";

/**
 * The analytics formulas on hand-computed cases, with round factors of their own unless a test says
 * so (the defaults and their vintages are tested apart, in factors.test.ts):
 * grid 0.25, solar 0.041, wind 0.011, hydro 0.024, gas 0.202, diesel 0.267 kg CO2e/kWh.
 */
const F: EmissionFactors = { grid: 0.25, solar: 0.041, wind: 0.011, hydro: 0.024, gas: 0.202, diesel: 0.267 };
const close = (actual: number | null, expected: number, digits = 1e-9) => {
  expect(actual, `expected ${expected}`).to.be.a("number");
  expect(actual!).to.be.closeTo(expected, Math.abs(expected) * digits + 1e-12);
};

let counter = 0;
function run(fields: Partial<ProductionRunRecord>): ProductionRunRecord {
  counter++;
  return {
    id: `pr_${counter.toString(16).padStart(24, "0")}`,
    orgId: "1",
    site: "4012345000017",
    line: "l1",
    startTime: "2025-01-01T06:00:00.000Z",
    endTime: "2025-01-01T14:00:00.000Z",
    plannedTimeSeconds: 3600,
    runTimeSeconds: 3600,
    idealCycleTimeSeconds: 1,
    totalCount: 0,
    goodCount: 0,
    countUnit: "H87",
    inputs: [],
    outputs: [],
    processParameters: {},
    submittedBy: "0x0000000000000000000000000000000000000001",
    recordedAt: "2025-01-01T15:00:00.000Z",
    ...fields,
  };
}

describe("analytics formulas", function () {
  describe("one run", function () {
    // 8 h planned, 7 h run, 0.5 s ideal cycle, 40,000 made, 38,000 good.
    const r1 = run({
      plannedTimeSeconds: 28_800,
      runTimeSeconds: 25_200,
      idealCycleTimeSeconds: 0.5,
      totalCount: 40_000,
      goodCount: 38_000,
      energyKwh: { grid: 400, gas: 100 },
      waterM3: 19,
      scrapKg: 76,
      inputs: [{ material: "flour", quantity: "1000", unit: "KGM" }],
      outputs: [{ material: "dough", quantity: "950000", unit: "GRM" }],
    });

    it("computes availability, performance, quality and OEE = A × P × Q = ideal × good / planned", function () {
      const m = runMetrics(r1, F);
      close(m.availability, 25_200 / 28_800); // 0.875
      close(m.performance, (0.5 * 40_000) / 25_200); // 0.793650…
      close(m.quality, 38_000 / 40_000); // 0.95
      close(m.oee, 0.875 * (20_000 / 25_200) * 0.95);
      close(m.oee, (0.5 * 38_000) / 28_800); // 0.659722…
    });

    it("computes energy, CO2e (energy × factor per source), water and scrap per good unit, and defect ppm", function () {
      const m = runMetrics(r1, F);
      close(m.energyKwh, 500);
      close(m.co2eKg, 400 * 0.25 + 100 * 0.202); // 120.2
      close(m.energyPerUnitKwh, 500 / 38_000);
      close(m.co2ePerUnitKg, 120.2 / 38_000);
      close(m.waterPerUnitM3, 19 / 38_000);
      close(m.scrapPerUnitKg, 76 / 38_000);
      close(m.defectPpm, (2_000 / 40_000) * 1e6); // 50,000
    });

    it("computes yield as output over input in one dimension's base unit (kg in, g out)", function () {
      close(runMetrics(r1, F).yield, 950 / 1000);
      close(
        runYield({
          inputs: [{ material: "milk", quantity: "27000", unit: "LTR" }],
          outputs: [
            { material: "cream", quantity: "3000", unit: "LTR" },
            { material: "skim", quantity: "23500", unit: "LTR" },
          ],
        })!.yield,
        26_500 / 27_000,
      );
    });

    it("has no yield where the units share no dimension, or without inputs or outputs", function () {
      expect(
        runYield({
          inputs: [{ material: "cream", quantity: "2000", unit: "LTR" }],
          outputs: [{ material: "butter", quantity: "900", unit: "KGM" }],
        }),
      ).to.equal(null);
      expect(runYield({ inputs: [], outputs: [{ material: "milk", quantity: "1", unit: "LTR" }] })).to.equal(null);
      expect(
        runYield({
          inputs: [
            { material: "milk", quantity: "1", unit: "LTR" },
            { material: "salt", quantity: "1", unit: "KGM" },
          ],
          outputs: [{ material: "x", quantity: "1", unit: "LTR" }],
        }),
      ).to.equal(null);
    });

    it("reports missing data as null, never 0: no energy, no water, no scrap, no counts", function () {
      const m = runMetrics(run({ totalCount: 0, goodCount: 0 }), F);
      expect(m).to.deep.include({
        energyKwh: null,
        co2eKg: null,
        energyPerUnitKwh: null,
        co2ePerUnitKg: null,
        waterPerUnitM3: null,
        scrapPerUnitKg: null,
      });
      expect(m.quality).to.equal(null);
      expect(m.oee).to.equal(null);
      expect(m.defectPpm).to.equal(null);
      expect(m.yield).to.equal(null);
      // A run that made nothing good has no per-unit figure either, though its energy is known.
      const idle = runMetrics(run({ totalCount: 10, goodCount: 0, energyKwh: { grid: 5 } }), F);
      expect(idle.energyKwh).to.equal(5);
      expect(idle.energyPerUnitKwh).to.equal(null);
      close(idle.defectPpm, 1e6);
    });

    it("weights CO2e by each source's factor, renewables included (not zero)", function () {
      close(co2eOf({ solar: 150, wind: 60, grid: 20 }, F), 150 * 0.041 + 60 * 0.011 + 20 * 0.25); // 11.81
      close(co2eOf({ hydro: 100, diesel: 10 }, F), 100 * 0.024 + 10 * 0.267);
      close(co2eOf({ grid: 100 }, { ...F, grid: 0.4 }), 40);
    });
  });

  describe("several runs", function () {
    const a = run({
      plannedTimeSeconds: 28_800,
      runTimeSeconds: 25_200,
      idealCycleTimeSeconds: 0.5,
      totalCount: 40_000,
      goodCount: 38_000,
      energyKwh: { grid: 400, gas: 100 },
      waterM3: 19,
    });
    const b = run({
      plannedTimeSeconds: 3_600,
      runTimeSeconds: 3_600,
      idealCycleTimeSeconds: 1,
      totalCount: 3_000,
      goodCount: 3_000,
    });

    it("aggregates OEE by time: A = Σrun/Σplanned, P = Σideal·total/Σrun, Q = Σideal·good/Σideal·total, OEE = A·P·Q", function () {
      const agg = aggregateRuns([a, b], F);
      close(agg.availability, (25_200 + 3_600) / (28_800 + 3_600)); // 0.888…
      close(agg.performance, (0.5 * 40_000 + 1 * 3_000) / (25_200 + 3_600)); // 0.798611…
      close(agg.quality, (0.5 * 38_000 + 1 * 3_000) / (0.5 * 40_000 + 1 * 3_000)); // 0.956521…
      close(agg.oee, agg.availability! * agg.performance! * agg.quality!);
      // …which is the planned-time-weighted mean of the runs' OEE.
      const oeeA = runMetrics(a, F).oee!;
      const oeeB = runMetrics(b, F).oee!;
      close(agg.oee, (oeeA * 28_800 + oeeB * 3_600) / 32_400);
      close(agg.oee, (19_000 + 3_000) / 32_400);
    });

    it("aggregates per-unit figures over the runs that report them, and defect ppm over all counts", function () {
      const agg = aggregateRuns([a, b], F);
      close(agg.energyKwh, 500);
      close(agg.co2eKg, 120.2);
      close(agg.energyPerUnitKwh, 500 / 38_000); // b reports no energy: it is left out, not counted as 0 kWh
      close(agg.co2ePerUnitKg, 120.2 / 38_000);
      close(agg.waterPerUnitM3, 19 / 38_000);
      expect(agg.scrapPerUnitKg).to.equal(null);
      close(agg.defectPpm, ((43_000 - 41_000) / 43_000) * 1e6);
      expect(agg.energyBySource).to.deep.equal({ grid: 400, gas: 100 });
      expect(agg).to.include({ runs: 2, countUnit: "H87", goodCount: 41_000, totalCount: 43_000 });
      close(agg.plannedHours, 9);
      close(agg.runHours, 8);
    });

    it("gives no per-unit figure across count units, but still OEE", function () {
      const kg = run({
        plannedTimeSeconds: 3_600,
        runTimeSeconds: 1_800,
        idealCycleTimeSeconds: 2,
        totalCount: 800,
        goodCount: 800,
        countUnit: "KGM",
        energyKwh: { grid: 10 },
      });
      const agg = aggregateRuns([a, kg], F);
      expect(agg.countUnit).to.equal(null);
      expect(agg).to.include({ energyPerUnitKwh: null, co2ePerUnitKg: null, defectPpm: null, goodCount: null });
      close(agg.oee, (0.5 * 38_000 + 2 * 800) / (28_800 + 3_600));
      close(agg.energyKwh, 510);
    });

    it("aggregates yield as Σ outputs / Σ inputs in one dimension, else null", function () {
      const l1 = run({
        inputs: [{ material: "m", quantity: "1000", unit: "LTR" }],
        outputs: [{ material: "p", quantity: "990", unit: "LTR" }],
      });
      const l2 = run({
        inputs: [{ material: "m", quantity: "3000", unit: "LTR" }],
        outputs: [{ material: "p", quantity: "2900", unit: "LTR" }],
      });
      const kg = run({
        inputs: [{ material: "m", quantity: "10", unit: "KGM" }],
        outputs: [{ material: "p", quantity: "9", unit: "KGM" }],
      });
      close(aggregateRuns([l1, l2, b], F).yield, 3890 / 4000); // quantity-weighted, b has no yield
      expect(aggregateRuns([l1, kg], F).yield).to.equal(null);
    });

    it("is all null for an empty period", function () {
      const agg = aggregateRuns([], F);
      expect(agg).to.deep.equal({
        runs: 0,
        countUnit: null,
        goodCount: null,
        totalCount: null,
        plannedHours: 0,
        runHours: 0,
        availability: null,
        performance: null,
        quality: null,
        oee: null,
        yield: null,
        energyKwh: null,
        energyBySource: null,
        co2eKg: null,
        energyPerUnitKwh: null,
        co2ePerUnitKg: null,
        waterPerUnitM3: null,
        scrapPerUnitKg: null,
        defectPpm: null,
      });
    });
  });

  describe("productivity E = E0·(1+η_intelligent)·(1+η_green)", function () {
    const windows = {
      baseline: { from: "2025-01-01T00:00:00.000Z", to: "2025-04-01T00:00:00.000Z" },
      period: { from: "2025-04-01T00:00:00.000Z", to: "2025-07-01T00:00:00.000Z" },
    };
    // Baseline: 2 runs × 1,000 good in 1 h, 400 kWh grid each → 1,000 per run-hour, 2,000 / 200 kg = 10 per kg CO2e.
    const baseline = [0, 1].map(() => run({ runTimeSeconds: 3600, totalCount: 1000, goodCount: 1000, energyKwh: { grid: 400 } }));
    // Period: 2 runs × 1,200 good in 1 h, 200 kWh grid + 100 kWh solar each → 1,200 per run-hour, 2,400 / 108.2 kg.
    const period = [0, 1].map(() =>
      run({ runTimeSeconds: 3600, totalCount: 1200, goodCount: 1200, energyKwh: { grid: 200, solar: 100 } }),
    );

    it("computes η_intelligent, η_green, the index (their product) and the output change by hand", function () {
      const p = productivity(baseline, period, windows, F);
      close(p.etaIntelligent, 1200 / 1000 - 1); // 0.2
      const co2ePeriod = 2 * (200 * 0.25 + 100 * 0.041); // 108.2 kg
      close(p.etaGreen, 2400 / co2ePeriod / (2000 / 200) - 1); // 1.21811…
      close(p.index, (1 + p.etaIntelligent!) * (1 + p.etaGreen!));
      close(p.index, 1.2 * (2400 / co2ePeriod / 10));
      close(p.outputChange, 0.2);
      expect(p.records.baseline).to.include({
        runs: 2,
        goodOutput: 2000,
        runHours: 2,
        co2eKg: 200,
        outputPerRunHour: 1000,
        outputPerKgCo2e: 10,
      });
      expect(p.records.period).to.include({ runs: 2, goodOutput: 2400, runHours: 2 });
      expect(p.countUnit).to.equal("H87");
    });

    it("gives both factors 0 and the index 1 when the period's records are the baseline's", function () {
      const p = productivity(baseline, baseline, windows, F);
      expect(p.etaIntelligent).to.equal(0);
      expect(p.etaGreen).to.equal(0);
      close(p.index, 1);
    });

    it("is null when a window has no records", function () {
      const p = productivity([], period, windows, F);
      expect(p).to.include({ etaIntelligent: null, etaGreen: null, index: null, outputChange: null });
      expect(p.records.baseline).to.include({ runs: 0, goodOutput: null, co2eKg: null, outputPerRunHour: null });
      expect(productivity(baseline, [], windows, F)).to.include({ etaIntelligent: null, index: null });
    });

    it("leaves runs without energy data out of η_green and has no green factor without any", function () {
      const noEnergy = [run({ runTimeSeconds: 3600, totalCount: 1500, goodCount: 1500 })];
      const p = productivity(baseline, noEnergy, windows, F);
      close(p.etaIntelligent, 0.5);
      expect(p.etaGreen).to.equal(null);
      expect(p.index).to.equal(null);
      const mixed = productivity(baseline, [...period, ...noEnergy], windows, F);
      close(mixed.etaGreen, 2400 / 108.2 / 10 - 1); // the run without energy does not make CO2e look lower
      close(mixed.etaIntelligent, 3900 / 3 / 1000 - 1);
    });

    it("compares good output only in one count unit", function () {
      const kg = [run({ runTimeSeconds: 3600, totalCount: 5, goodCount: 5, countUnit: "KGM", energyKwh: { grid: 1 } })];
      const p = productivity(baseline, kg, windows, F);
      expect(p).to.include({ etaIntelligent: null, etaGreen: null, index: null, outputChange: null, countUnit: null });
    });
  });

  describe("footprint through the lineage", function () {
    /**
     *   L1 (1000 l) ─split 400→ P1 ─┐
     *                               ├─merge→ M (1000 l) ─process→ X (100 l) + Y (880 l)
     *   L2 (600 l) ─────────────────┘
     */
    type Graph = { batches: FootprintBatch[]; edges: LineageEdge[]; runs: ProductionRunRecord[] };
    const lot = (id: string, quantity: number, unit = "LTR", orgId = "1"): FootprintBatch => ({
      id,
      lotId: id,
      gtin: "0",
      lot: id,
      orgId,
      unit,
      basisQuantity: quantity,
    });
    const edge = (from: string, to: string, quantity: string, type = "process"): LineageEdge => ({
      from,
      to,
      type,
      quantity,
      unit: "LTR",
    });
    const produced = (outputs: [string, string, string?][], energyKwh?: ProductionRunRecord["energyKwh"]) =>
      run({
        outputs: outputs.map(([batchId, quantity, unit]) => ({ batchId, quantity, unit: unit ?? "LTR" })),
        ...(energyKwh ? { energyKwh } : {}),
      });
    const lookups = (g: Graph): FootprintLookups => ({
      batch: (id) => g.batches.find((b) => b.id === id) ?? null,
      upstream: (id) => g.edges.filter((e) => e.to === id),
      runsProducing: (id) => g.runs.filter((r) => r.outputs.some((o) => o.batchId === id)),
    });
    const graph = (): Graph => ({
      batches: [
        lot("L1", 1000),
        { ...lot("P1", 400), lotId: "L1" },
        lot("L2", 600),
        lot("M", 1000, "LTR", "2"),
        lot("X", 100, "LTR", "2"),
        lot("Y", 880, "LTR", "2"),
      ],
      edges: [
        edge("L1", "P1", "400", "split"),
        edge("P1", "M", "400", "merge"),
        edge("L2", "M", "600", "merge"),
        // The contract attributes an input to outputs in proportion to their quantities, rounded down.
        edge("M", "X", "102.04"),
        edge("M", "Y", "897.959"),
      ],
      runs: [
        produced([["L1", "1000"]], { grid: 100 }), // 25 kg CO2e, 100 kWh
        produced([["L2", "600"]], { grid: 60 }), // 15 kg, 60 kWh
        produced([["M", "1000"]], { grid: 20 }), // 5 kg, 20 kWh
        produced(
          [
            ["X", "100"],
            ["Y", "880"],
          ],
          { gas: 500 },
        ), // 101 kg, 500 kWh
      ],
    });

    it("adds a lot's own runs to the quantity-weighted share of each input (hand calculation)", function () {
      const fp = batchFootprint("X", lookups(graph()), F);
      // f(L1) = 25/1000 = 0.025; f(P1) = f(L1); f(L2) = 15/600 = 0.025
      // f(M) = 5/1000 + 0.025·400/1000 + 0.025·600/1000 = 0.03
      // own(X) = 101 · (100/980) / 100 = 101/980 (allocation by volume: X is 100 of 980 l)
      // f(X) = 101/980 + f(M) · 102.04/100
      const fM = 0.005 + (0.025 * 400) / 1000 + (0.025 * 600) / 1000;
      close(fM, 0.03);
      const expected = 101 / 980 + (fM * 102.04) / 100;
      expect(fp.complete).to.equal(true);
      expect(fp.gaps).to.deep.equal([]);
      close(fp.co2ePerUnitKg, expected);
      close(fp.co2eKg, expected * 100);
      // Energy the same way: own 500/980 kWh per l, M 0.02 + 0.1·0.4 + 0.1·0.6 = 0.12 kWh per l.
      close(fp.energyPerUnitKwh, 500 / 980 + (0.12 * 102.04) / 100);
      expect(fp.stages.map((s) => s.batchId)).to.deep.equal(["X", "M", "L1", "L2"]);
      const byId = Object.fromEntries(fp.stages.map((s) => [s.batchId, s]));
      close(byId.X.co2eKg, (101 / 980) * 100);
      close(byId.L1.co2eKg, 0.025 * (400 / 1000) * (102.04 / 100) * 100);
      close(byId.L1.ownCo2ePerUnitKg, 0.025);
      close(
        fp.stages.reduce((s, x) => s + x.share!, 0),
        1,
      );
      expect(byId.M.orgId).to.equal("2");
      expect(byId.M.runIds).to.have.length(1);
    });

    it("gives a portion its lot's per-unit footprint", function () {
      const g = graph();
      const fpL1 = batchFootprint("L1", lookups(g), F);
      const fpP1 = batchFootprint("P1", lookups(g), F);
      close(fpP1.co2ePerUnitKg, fpL1.co2ePerUnitKg!);
      close(fpP1.co2eKg, 0.025 * 400);
      expect(fpP1.stages.map((s) => s.batchId)).to.deep.equal(["L1"]);
    });

    it("reports an upstream lot without a run as a gap, never as zero", function () {
      const g = graph();
      g.runs = g.runs.filter((r) => r.outputs[0].batchId !== "L2");
      const fp = batchFootprint("X", lookups(g), F);
      expect(fp.complete).to.equal(false);
      expect(fp.co2ePerUnitKg).to.equal(null);
      expect(fp.energyPerUnitKwh).to.equal(null);
      expect(fp.co2eKg).to.equal(null);
      expect(fp.gaps).to.have.length(1);
      expect(fp.gaps[0]).to.include({ batchId: "L2", orgId: "1", reason: "no_production_run" });
      // What is known is a lower bound: everything but L2's share.
      close(fp.knownCo2ePerUnitKg, 101 / 980 + ((0.005 + (0.025 * 400) / 1000) * 102.04) / 100);
    });

    it("reports a run without energy data and runs covering part of a lot as gaps", function () {
      const g = graph();
      g.runs[0] = produced([["L1", "500"]], { grid: 50 });
      g.runs[1] = produced([["L2", "600"]]);
      const fp = batchFootprint("M", lookups(g), F);
      expect(fp.gaps.map((x) => `${x.batchId} ${x.reason}`).sort()).to.deep.equal(["L1 partial_coverage", "L2 no_energy_data"]);
      expect(fp.co2ePerUnitKg).to.equal(null);
      close(fp.knownCo2ePerUnitKg, 0.005 + (((50 * 0.25) / 1000) * 400) / 1000);
    });

    it("reports a batch missing from the index as a gap", function () {
      const g = graph();
      g.batches = g.batches.filter((b) => b.id !== "L2");
      const fp = batchFootprint("M", lookups(g), F);
      expect(fp.gaps.map((x) => `${x.batchId} ${x.reason}`)).to.deep.equal(["L2 unknown_batch"]);
    });

    it("sums a lot's runs, and counts a shared ancestor once per path (diamond)", function () {
      const g: Graph = {
        batches: [lot("A", 1000), { ...lot("A1", 300), lotId: "A" }, lot("D", 1000)],
        edges: [edge("A", "A1", "300", "split"), edge("A", "D", "700", "merge"), edge("A1", "D", "300", "merge")],
        runs: [
          produced([["A", "400"]], { grid: 40 }),
          produced([["A", "600"]], { grid: 60 }),
          produced([["D", "1000"]], { grid: 0 }),
        ],
      };
      const fp = batchFootprint("D", lookups(g), F);
      close(fp.co2ePerUnitKg, (100 * 0.25) / 1000); // all of A's 1000 l went into D
      expect(fp.stages.map((s) => s.batchId)).to.deep.equal(["D", "A"]);
      expect(fp.stages[1].runIds).to.have.length(2);
    });

    it("allocates a run among its outputs by mass, a same-dimension proxy, and never across dimensions", function () {
      close(
        allocationShare(
          {
            outputs: [
              { batchId: "a", quantity: "1", unit: "KGM" },
              { batchId: "b", quantity: "3000", unit: "GRM" },
            ],
          },
          "a",
        ),
        0.25,
      );
      // Kilograms and litres are not added (the old equal split was an accident): undetermined.
      expect(
        allocationShare(
          {
            outputs: [
              { batchId: "a", quantity: "1", unit: "KGM" },
              { batchId: "b", quantity: "3", unit: "LTR" },
            ],
          },
          "a",
        ),
      ).to.equal(null);
      expect(allocationShare({ outputs: [{ batchId: "a", quantity: "1", unit: "KGM" }] }, "z")).to.equal(0);
    });
  });

  describe("on-time delivery and dwell", function () {
    const order = (
      orderId: string,
      status: string,
      quantity: number,
      deadline: number,
      deliveries: [number, number][],
    ): OrderDeliveryFacts => ({
      orderId,
      status,
      quantity: BigInt(quantity),
      deadline,
      deliveries: deliveries.map(([q, at]) => ({ quantity: BigInt(q), at })),
    });

    it("counts orders delivered in full by their deadline among the decided ones", function () {
      const now = 2_000;
      const result = onTimeDelivery(
        [
          order("1", "completed", 100, 1_000, [[100, 900]]), // on time
          order("2", "delivered", 100, 1_000, [
            [50, 900],
            [50, 1_100],
          ]), // in full only after the deadline: late
          order("3", "funded", 100, 5_000, []), // deadline ahead, nothing yet: open, not counted
          order("4", "cancelled", 100, 1_000, []), // not a commitment
          order("5", "created", 100, 1_000, []), // never funded
          order("6", "refunded", 100, 1_500, []), // nothing delivered by the deadline: late
          order("7", "delivered", 100, 5_000, [[100, 1_800]]), // deadline ahead but delivered in full: on time
        ],
        now,
      );
      expect(result).to.deep.equal({ onTime: 2, decided: 4, rate: 0.5 });
      expect(onTimeDelivery([], now)).to.deep.equal({ onTime: 0, decided: 0, rate: null });
    });

    const h = (hours: number) => hours * 3_600_000;
    const events: CustodyEvent[] = [
      { batchId: "X", type: "registered", at: 0, details: { orgId: "1", location: "G1", quantity: "1000" } },
      { batchId: "Y", type: "split_from", at: h(10), details: { parent: "X", quantity: "400" } },
      { batchId: "Y", type: "handed_over", at: h(12), details: { fromOrgId: "1", toOrgId: "2", kind: "both", location: "G2" } },
      {
        batchId: "X",
        type: "handed_over",
        at: h(13),
        details: { fromOrgId: "1", toOrgId: "3", kind: "ownership", location: null },
      },
      { batchId: "X", type: "consumed", at: h(20), details: { quantity: "600", remaining: "0" } },
      { batchId: "Y", type: "consumed", at: h(30), details: { quantity: "100", remaining: "300" } },
      { batchId: "Y", type: "destroyed", at: h(40), details: { reason: "spoiled" } },
    ];

    it("replays custody spells: a portion inherits its parent's arrival; ownership alone moves nothing", function () {
      expect(custodySpells(events)).to.deep.equal([
        { batchId: "Y", orgId: "1", location: "G1", start: 0, end: h(12) },
        { batchId: "X", orgId: "1", location: "G1", start: 0, end: h(20) },
        { batchId: "Y", orgId: "2", location: "G2", start: h(12), end: h(40) },
      ]);
    });

    it("averages the hours of spells ending in the period, per organisation and site; null without any", function () {
      const spells = custodySpells(events);
      close(dwellHours(spells, "1", 0, h(100)), (12 + 20) / 2);
      close(dwellHours(spells, "2", 0, h(100)), 28);
      close(dwellHours(spells, "1", h(15), h(100)), 20);
      close(dwellHours(spells, "1", 0, h(100), "G1"), 16);
      expect(dwellHours(spells, "1", 0, h(100), "G9")).to.equal(null);
      expect(dwellHours(spells, "3", 0, h(100))).to.equal(null);
    });
  });

  describe("emission factors, units and record hashing", function () {
    it("uses the cited defaults of the latest vintage, overridable per source from LOTLINE_EMISSION_FACTORS", function () {
      expect(emissionFactorsFromEnv({})).to.deep.equal({
        grid: 0.203,
        solar: 0.041,
        wind: 0.011,
        hydro: 0.024,
        gas: 0.183,
        diesel: 0.267,
      });
      expect(emissionFactorsFromEnv({ LOTLINE_EMISSION_FACTORS: '{"grid": 0.16, "solar": 0.03}' })).to.include({
        grid: 0.16,
        solar: 0.03,
        gas: 0.183,
      });
      expect(() => emissionFactorsFromEnv({ LOTLINE_EMISSION_FACTORS: "grid=1" })).to.throw(/not JSON/);
      expect(() => emissionFactorsFromEnv({ LOTLINE_EMISSION_FACTORS: '{"coal": 1}' })).to.throw(/unknown energy source "coal"/);
      expect(() => emissionFactorsFromEnv({ LOTLINE_EMISSION_FACTORS: '{"grid": -1}' })).to.throw(/grid must be/);
      expect(() => emissionFactorsFromEnv({ LOTLINE_EMISSION_FACTORS: "[1]" })).to.throw(/object/);
    });

    it("converts quantities to their dimension's base unit", function () {
      expect(toBase(2, "KGM")).to.deep.equal({ dimension: 1, value: 2e6 });
      expect(toBase(2, "MTQ")).to.deep.equal({ dimension: 2, value: 2e6 });
      expect(toBase(2, "XYZ")).to.equal(null);
    });

    it("derives a run's id from its content and hashes the canonical JSON, key order aside", function () {
      const { id: _id, ...body } = run({ goodCount: 1 });
      const a = withId(body);
      const b = withId(Object.fromEntries(Object.entries(body).reverse()) as typeof body);
      expect(a.id).to.match(/^pr_[0-9a-f]{24}$/);
      expect(a.id).to.equal(b.id);
      expect(recordHash(a)).to.equal(recordHash(b));
      expect(withId({ ...body, goodCount: 2 }).id).to.not.equal(a.id);
    });
  });
});
