import { expect } from "chai";
import {
  factorBookFromEnv,
  factorsFor,
  flatFactorBook,
  runFactors,
  vintageFor,
  type EmissionFactors,
} from "../../../services/analytics/factors";
import { allocate, allocationPolicyFromEnv, ruleOriginFor, withChainRules, type AllocationPolicy } from "../../../services/analytics/allocation";
import { transportLegOf } from "../../../services/analytics/transport";
import { directCo2e, GWP100, transportCo2e } from "../../../services/analytics/emissions";
import { batchFootprint, type FootprintBatch, type FootprintLookups, type TransformationFacts } from "../../../services/analytics/footprint";
import { productivity, windowProblem } from "../../../services/analytics/productivity";
import { checkPactFootprint, PactError, toPactProductFootprint } from "../../../services/analytics/pact";
import type { ProductionRunRecord } from "../../../services/analytics/record";
import type { LineageEdge } from "../../../services/provenance/trace";

/**
 * The footprint method on hand-computed cases: boundary, allocation by the rule of the
 * transformation kind, sources and scopes, factor vintages, PACT, and the productivity index's
 * planned-hour, non-overlapping-window and bootstrap rules. Each expected value is worked out in
 * the comment beside it; the old method (volume pro-rata, run hours, one flat factor) gives other numbers.
 */
const F: EmissionFactors = { grid: 0.25, solar: 0.041, wind: 0.011, hydro: 0.024, gas: 0.202, diesel: 0.267 };
const close = (actual: number | null | undefined, expected: number, tolerance = 1e-9) => {
  expect(actual, `expected ${expected}`).to.be.a("number");
  expect(actual!).to.be.closeTo(expected, Math.abs(expected) * tolerance + 1e-12);
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

const lot = (id: string, quantity: number, unit = "LTR", gtin = id): FootprintBatch => ({
  id,
  lotId: id,
  gtin,
  lot: id,
  orgId: "1",
  unit,
  basisQuantity: quantity,
});

describe("footprint method", function () {
  describe("allocation by the rule of the transformation kind", function () {
    /**
     *   M (1000 l, 30 kg CO2e recorded) ─PROCESS→ X (100 l cream) + Y (880 l skim)
     *   the separator run: 500 kWh gas = 101 kg CO2e, outputs X and Y.
     * The chain's edges pro-rate by raw quantity (M→X 102.04 l); the rule replaces that.
     */
    const graph = (transformation = true): FootprintLookups => {
      const batches = [lot("M", 1000), lot("X", 100), lot("Y", 880)];
      const edges: LineageEdge[] = [
        { from: "M", to: "X", type: "process", quantity: "102.04", unit: "LTR" },
        { from: "M", to: "Y", type: "process", quantity: "897.959", unit: "LTR" },
      ];
      const runs = [
        run({ outputs: [{ batchId: "M", quantity: "1000", unit: "LTR" }], energyKwh: { grid: 120 } }), // 30 kg
        run({
          outputs: [
            { batchId: "X", quantity: "100", unit: "LTR" },
            { batchId: "Y", quantity: "880", unit: "LTR" },
          ],
          energyKwh: { gas: 500 }, // 101 kg
        }),
      ];
      const facts: TransformationFacts = {
        kind: "PROCESS",
        outputs: [
          { batchId: "X", gtin: "X", quantity: 100, unit: "LTR" },
          { batchId: "Y", gtin: "Y", quantity: 880, unit: "LTR" },
        ],
        inputs: [{ batchId: "M", quantity: 1000 }],
      };
      return {
        batch: (id) => batches.find((b) => b.id === id) ?? null,
        upstream: (id) => edges.filter((e) => e.to === id),
        runsProducing: (id) => runs.filter((r) => r.outputs.some((o) => o.batchId === id)),
        ...(transformation ? { transformation: (id: string) => (id === "X" || id === "Y" ? facts : null) } : {}),
      };
    };
    const policy = (kinds: AllocationPolicy["kinds"], products: AllocationPolicy["products"] = {}): AllocationPolicy => ({
      kinds,
      defaultRule: "mass",
      products,
      source: "test",
    });
    const dairy = { X: { kgPerUnit: 1.0, dryMatterFraction: 0.4, pricePerUnit: 2 }, Y: { kgPerUnit: 1.035, dryMatterFraction: 0.09, pricePerUnit: 0.3 } };

    it("splits the whole transformation's burden by dry matter (milk solids) when governance set that rule", function () {
      const fp = batchFootprint("X", graph(), F, { allocation: policy({ PROCESS: "dry_matter" }, dairy) });
      // dm(X) = 100 × 1.0 × 0.40 = 40 kg; dm(Y) = 880 × 1.035 × 0.09 = 81.972 kg; a(X) = 40 / 121.972
      const share = 40 / 121.972;
      // f(X) = (101 (separator) + 30 (all of M)) × a(X) / 100 l = 0.429607…
      close(fp.co2ePerUnitKg, (131 * share) / 100);
      close(fp.co2ePerUnitKg, 0.4296068, 1e-6);
      expect(fp.complete).to.equal(true);
      const stage = fp.stages.find((s) => s.batchId === "X")!;
      expect(stage.allocation).to.include({ kind: "PROCESS", rule: "dry_matter" });
      close(stage.allocation!.share, share);
      close(stage.ownCo2ePerUnitKg, (101 * share) / 100);
      expect(fp.allocationPolicy.kinds).to.deep.equal({ PROCESS: "dry_matter" });
    });

    it("splits by mass (kg per unit of each product) and by revenue under those rules", function () {
      // mass: X 100 kg, Y 880 × 1.035 = 910.8 kg → a(X) = 100 / 1010.8
      const mass = batchFootprint("X", graph(), F, { allocation: policy({ PROCESS: "mass" }, dairy) });
      close(mass.co2ePerUnitKg, (131 * (100 / 1010.8)) / 100);
      // economic: X 100 × 2 = 200, Y 880 × 0.3 = 264 → a(X) = 200 / 464
      const economic = batchFootprint("X", graph(), F, { allocation: policy({ PROCESS: "economic" }, dairy) });
      close(economic.co2ePerUnitKg, (131 * (200 / 464)) / 100);
      // The two co-products carry the whole burden between them, whatever the rule.
      for (const rule of ["mass", "dry_matter", "economic"] as const) {
        const p = policy({ PROCESS: rule }, dairy);
        const x = batchFootprint("X", graph(), F, { allocation: p }).co2eKg!;
        const y = batchFootprint("Y", graph(), F, { allocation: p }).co2eKg!;
        close(x + y, 131);
      }
    });

    it("applies a rule governance set on-chain over the configured one, and records which applied and from where", function () {
      const configured = { ...policy({ PROCESS: "mass", MERGE: "economic" }, dairy), source: "LOTLINE_ALLOCATION_RULES" };
      const tx = `0x${"ab".repeat(32)}`;
      const p = withChainRules(configured, [{ kind: "PROCESS", rule: "dry_matter", transactionHash: tx, blockNumber: 42, setAt: "2026-12-01T00:00:00Z" }]);
      const fp = batchFootprint("X", graph(), F, { allocation: p });
      // The chain's dry matter, not the configured mass: the same figure as the dry-matter case above.
      close(fp.co2ePerUnitKg, (131 * (40 / 121.972)) / 100);
      const stage = fp.stages.find((s) => s.batchId === "X")!;
      expect(stage.allocation).to.include({ rule: "dry_matter" });
      expect(stage.allocation!.origin).to.include({ from: "chain", transactionHash: tx, blockNumber: 42 });
      expect(fp.allocationPolicy.origins.MERGE.from).to.equal("configuration");
      expect(ruleOriginFor(p, "REPACK").from).to.equal("default");
      expect(fp.allocationPolicy.source).to.match(/^governance on-chain for PROCESS; otherwise LOTLINE_ALLOCATION_RULES/);
      // Without the chain's rule the configured one applies, and says so.
      const plain = batchFootprint("X", graph(), F, { allocation: withChainRules(configured, []) });
      expect(plain.stages.find((s) => s.batchId === "X")!.allocation).to.deep.include({ rule: "mass" });
      expect(plain.stages.find((s) => s.batchId === "X")!.allocation!.origin.from).to.equal("configuration");
    });

    it("uses litres only as a declared mass proxy when no product has a mass, and says so", function () {
      const fp = batchFootprint("X", graph(), F);
      // a(X) = 100 / 980 (volume); upstream: all 1000 l of M × a(X), not the edge's 102.04 l
      close(fp.co2ePerUnitKg, (131 * (100 / 980)) / 100);
      expect(fp.stages[0].allocation!.basis).to.match(/proxy/);
      expect(fp.allocationPolicy.source).to.match(/default/);
    });

    it("refuses to allocate under rule none, and across units it cannot add: a named gap, not a guess", function () {
      const none = batchFootprint("X", graph(), F, { allocation: policy({ PROCESS: "none" }) });
      expect(none.co2ePerUnitKg).to.equal(null);
      expect(none.gaps.map((g) => g.reason)).to.include("allocation_undetermined");
      const lacking = batchFootprint("X", graph(), F, { allocation: policy({ PROCESS: "dry_matter" }, { X: dairy.X }) });
      expect(lacking.complete).to.equal(false);
      expect(lacking.gaps.find((g) => g.reason === "allocation_undetermined")!.detail).to.match(/dry-matter fraction for Y/);
      const mixed = allocate(
        [
          { batchId: "a", gtin: null, quantity: 1, unit: "KGM" },
          { batchId: "b", gtin: null, quantity: 3, unit: "LTR" },
        ],
        "PROCESS",
      );
      expect(mixed.shares).to.equal(null);
    });

    it("reads the rules governance set from LOTLINE_ALLOCATION_RULES and refuses bad ones", function () {
      const p = allocationPolicyFromEnv({
        LOTLINE_ALLOCATION_RULES: JSON.stringify({
          kinds: { PROCESS: "dry_matter" },
          source: "board 2026-03",
          products: { "04012345000019": { kgPerUnit: 1.03, dryMatterFraction: 0.09 } },
        }),
      });
      expect(p).to.deep.include({ kinds: { PROCESS: "dry_matter" }, defaultRule: "mass", source: "board 2026-03" });
      expect(() => allocationPolicyFromEnv({ LOTLINE_ALLOCATION_RULES: '{"kinds": {"PROCESS": "volume"}}' })).to.throw(/one of mass/);
      expect(() =>
        allocationPolicyFromEnv({ LOTLINE_ALLOCATION_RULES: '{"products": {"04012345000019": {"dryMatterFraction": 1.5}}}' }),
      ).to.throw(/between 0 and 1/);
    });
  });

  describe("sources, scopes and boundary", function () {
    /**
     * One lot L of 1000 kg; its run records, with grid 0.25 (market-based 0.05 by contract), gas 0.202, solar 0.041:
     *   energy   grid 100 kWh → 25 (Scope 2 location) / 5 (market); gas 50 kWh → 10.1 (Scope 1); solar 10 kWh → 0.41 (Scope 3)
     *   gases    CH4 2 kg × 27.0 + N2O 0.1 kg × 273 + R-404A 0.05 kg × 4727.84 = 54 + 27.3 + 236.392 = 317.692 (Scope 1, AR6)
     *   inputs   200 kg feed × 0.5 kg CO2e/kg (supplier's figure) = 100 (Scope 3)
     *   freight  100 km × 2 t × 0.107 (road) = 21.4 (Scope 3)
     *   total (location-based) 474.602 kg → 0.474602 kg per kg
     */
    const book = flatFactorBook(F);
    book.global.grid = [{ ...book.global.grid[0], marketBased: 0.05 }];
    const farm = run({
      outputs: [{ batchId: "L", quantity: "1000", unit: "KGM" }],
      inputs: [{ material: "feed", quantity: "200", unit: "KGM", footprint: { co2ePerUnitKg: 0.5, source: "supplier" } }],
      energyKwh: { grid: 100, gas: 50, solar: 10 },
      directEmissionsKg: { CH4: 2, N2O: 0.1, "R-404A": 0.05 },
      transportLegs: [{ mode: "road", distanceKm: 100, tonnes: 2 }],
    });
    const single = (r: ProductionRunRecord): FootprintLookups => ({
      batch: (id) => (id === "L" ? lot("L", 1000, "KGM") : null),
      upstream: () => [],
      runsProducing: (id) => (id === "L" ? [r] : []),
    });

    it("converts gases with AR6 GWP100 (R-404A as its blend) and AR5 when the run says so", function () {
      close(GWP100.AR6["R-404A"], 4727.84);
      close(directCo2e({ CH4: 2, N2O: 0.1, "R-404A": 0.05 }), 317.692);
      close(directCo2e({ CH4: 2, N2O: 0.1 }, "AR5"), 2 * 28 + 0.1 * 265);
      close(transportCo2e([{ mode: "road", distanceKm: 100, tonnes: 2 }, { mode: "rail", distanceKm: 50, tonnes: 2, kgCo2ePerTonneKm: 0.01 }]), 21.4 + 1);
    });

    it("adds energy, direct gases, purchased inputs and freight, and reports Scope 1, 2 (both methods) and 3 apart", function () {
      const fp = batchFootprint("L", single(farm), book);
      close(fp.co2ePerUnitKg, 0.474602);
      close(fp.scopesPerUnitKg.scope1, (10.1 + 317.692) / 1000);
      close(fp.scopesPerUnitKg.scope2LocationBased, 0.025);
      close(fp.scopesPerUnitKg.scope2MarketBased, 0.005);
      close(fp.scopesPerUnitKg.scope3Upstream, (0.41 + 100 + 21.4) / 1000);
      close(
        fp.scopesPerUnitKg.scope1 + fp.scopesPerUnitKg.scope2LocationBased + fp.scopesPerUnitKg.scope3Upstream,
        fp.co2ePerUnitKg!,
      );
      close(fp.bySourcePerUnit.directGases, 0.317692);
      close(fp.bySourcePerUnit.purchasedInputs, 0.1);
      close(fp.bySourcePerUnit.transport, 0.0214);
      expect(fp.boundary.recorded).to.have.members(["energy", "direct_gases", "purchased_inputs", "transport"]);
      expect(fp.boundary.gwpSet).to.match(/^AR6/);
      expect(fp.boundary.label).to.match(/direct gases/);
    });

    it("labels an energy-only figure as what it is, and counts upstream stages as Scope 3", function () {
      const energyOnly = run({ outputs: [{ batchId: "L", quantity: "1000", unit: "KGM" }], energyKwh: { grid: 100 } });
      const fp = batchFootprint("L", single(energyOnly), F);
      expect(fp.boundary.label).to.match(/^energy-related CO2e of the recorded production stages/);
      expect(fp.boundary.excludes.join(" ")).to.match(/not estimated/);
      // Downstream lot D (500 kg) made from all of L, with no energy of its own: L's 25 kg are D's Scope 3.
      const lookups: FootprintLookups = {
        batch: (id) => (id === "L" ? lot("L", 1000, "KGM") : id === "D" ? lot("D", 500, "KGM") : null),
        upstream: (id) => (id === "D" ? [{ from: "L", to: "D", type: "process", quantity: "1000", unit: "KGM" }] : []),
        runsProducing: (id) =>
          id === "L" ? [energyOnly] : id === "D" ? [run({ outputs: [{ batchId: "D", quantity: "500", unit: "KGM" }], energyKwh: { grid: 0 } })] : [],
      };
      const d = batchFootprint("D", lookups, F);
      close(d.co2ePerUnitKg, 25 / 500);
      close(d.scopesPerUnitKg.scope3Upstream, 25 / 500);
      expect(d.scopesPerUnitKg.scope2LocationBased).to.equal(0);
    });
  });

  describe("emission factors with their vintage", function () {
    it("cites the published defaults: EU grid 2022 and 2023 (−19 %), gas on a gross basis", function () {
      const book = factorBookFromEnv({});
      const grid2022 = vintageFor(book, "grid", null, 2022);
      const grid2023 = vintageFor(book, "grid", null, 2023);
      expect(grid2022).to.include({ value: 0.251, year: 2022, boundary: "combustion" });
      expect(grid2023).to.include({ value: 0.203, year: 2023 });
      close(grid2023.value / grid2022.value - 1, -0.19, 0.02);
      expect(vintageFor(book, "gas", null, 2025)).to.include({ value: 0.183, basis: "gross", boundary: "combustion" });
      expect(vintageFor(book, "diesel", null, 2025)).to.include({ basis: "net" });
      expect(vintageFor(book, "solar", null, 2025)).to.include({ boundary: "life_cycle" });
      // A year before the first vintage takes the earliest; a later one the latest.
      expect(factorsFor(book, null, 2019).grid).to.equal(0.251);
      expect(factorsFor(book, null, 2030).grid).to.equal(0.203);
    });

    it("says the 2023 EU grid default is derived from 2022's, not read from the EEA's 2023 table, and lets the published value replace it", function () {
      const derived = vintageFor(factorBookFromEnv({}), "grid", null, 2023);
      expect(derived.source).to.match(/^DERIVED, not the published 2023 figure/).and.include("251 × 0.81").and.include("LOTLINE_EMISSION_FACTORS");
      const published = factorBookFromEnv({
        LOTLINE_EMISSION_FACTORS: JSON.stringify({ grid: { value: 0.21, year: 2023, source: "EEA 2023 data (as published)" } }),
      });
      expect(vintageFor(published, "grid", null, 2023)).to.include({ value: 0.21, year: 2023, source: "EEA 2023 data (as published)" });
      expect(vintageFor(published, "grid", null, 2022)).to.include({ value: 0.251 });
    });

    it("applies the factor of each run's site and year", function () {
      const book = factorBookFromEnv({
        LOTLINE_EMISSION_FACTORS: JSON.stringify({
          grid: { value: 0.3, year: 2024, source: "national grid 2024" },
          sites: { "4012345000017": { grid: [{ value: 0.1, year: 2020, source: "site PPA", marketBased: 0.02 }] } },
        }),
      });
      const at = (site: string, year: number) => runFactors(book, { site, startTime: `${year}-06-01T00:00:00Z` }).grid;
      expect(at("4099999000015", 2022)).to.equal(0.251);
      expect(at("4099999000015", 2023)).to.equal(0.203);
      expect(at("4099999000015", 2024)).to.equal(0.3);
      expect(at("4012345000017", 2024)).to.equal(0.1);
      // The same run energy re-stated by year: 100 kWh of grid in 2022 and in 2023.
      const lookups = (year: number): FootprintLookups => {
        const r = run({ startTime: `${year}-03-01T06:00:00.000Z`, site: "4099999000015", outputs: [{ batchId: "L", quantity: "100", unit: "KGM" }], energyKwh: { grid: 100 } });
        return { batch: (id) => (id === "L" ? lot("L", 100, "KGM") : null), upstream: () => [], runsProducing: () => [r] };
      };
      close(batchFootprint("L", lookups(2022), book).co2ePerUnitKg, 0.251);
      const fp2023 = batchFootprint("L", lookups(2023), book);
      close(fp2023.co2ePerUnitKg, 0.203);
      expect(fp2023.factorVintages.grid![0]).to.include({ year: 2023 });
      expect(() => factorBookFromEnv({ LOTLINE_EMISSION_FACTORS: '{"gas": {"value": 0.2, "basis": "higher"}}' })).to.throw(/net" or "gross/);
      expect(() => factorBookFromEnv({ LOTLINE_EMISSION_FACTORS: '{"sites": {"12": {"grid": 0.1}}}' })).to.throw(/GLN/);
    });
  });

  describe("productivity index", function () {
    const windows = {
      baseline: { from: "2025-01-01T00:00:00.000Z", to: "2025-04-01T00:00:00.000Z" },
      period: { from: "2025-04-01T00:00:00.000Z", to: "2025-07-01T00:00:00.000Z" },
    };

    it("measures η_intelligent per planned hour, so an availability gain counts", function () {
      // Baseline: 2 runs, 2 h planned, 1 h run, 1,000 good → 500 per planned hour (1,000 per run-hour).
      // Period: 2 runs, 2 h planned, 1.6 h run (less downtime), 1,600 good → 800 per planned hour (1,000 per run-hour).
      const b = [0, 1].map(() => run({ plannedTimeSeconds: 7200, runTimeSeconds: 3600, goodCount: 1000, totalCount: 1000, energyKwh: { grid: 400 } }));
      const p = [0, 1].map(() => run({ plannedTimeSeconds: 7200, runTimeSeconds: 5760, goodCount: 1600, totalCount: 1600, energyKwh: { grid: 400 } }));
      const result = productivity(b, p, windows, F);
      close(result.etaIntelligent, 0.6); // per run-hour it would be 0
      // η_green: 3,200 / 200 kg over 2,000 / 200 kg − 1 = 0.6
      close(result.etaGreen, 0.6);
      close(result.index, 1.6 * 1.6);
      expect(result.records.period).to.include({ plannedHours: 4, outputPerPlannedHour: 800, outputPerRunHour: 1000 });
      // Identical runs in each window: every bootstrap resample gives the same figure.
      const [lo, hi] = result.uncertainty.etaIntelligent!.interval;
      close(lo, 0.6);
      close(hi, 0.6);
    });

    it("counts direct emissions within the boundary in η_green", function () {
      const b = [run({ goodCount: 100, totalCount: 100, energyKwh: { grid: 40 } })]; // 10 kg
      const p = [run({ goodCount: 100, totalCount: 100, energyKwh: { grid: 40 }, directEmissionsKg: { CH4: 10 / 27 } })]; // 10 + 10 kg
      close(productivity(b, p, windows, F).etaGreen, 100 / 20 / (100 / 10) - 1); // −0.5
    });

    it("bootstraps a 95 % interval over runs (hand-enumerated resamples)", function () {
      // Baseline identical: 1,000 good in 2 h planned → 500/h. Period: runs of 1,200 and 2,000 good in 2 h each.
      // Resampled period means: 600/h (¼), 800/h (½), 1,000/h (¼) → η ∈ {0.2, 0.6, 1.0}; SD = √(0.08) ≈ 0.283.
      const b = [0, 1].map(() => run({ plannedTimeSeconds: 7200, goodCount: 1000, totalCount: 1000 }));
      const p = [1200, 2000].map((good) => run({ plannedTimeSeconds: 7200, goodCount: good, totalCount: good }));
      const result = productivity(b, p, windows, F);
      close(result.etaIntelligent, 0.6);
      const [lo, hi] = result.uncertainty.etaIntelligent!.interval;
      close(lo, 0.2);
      close(hi, 1.0);
      expect(result.uncertainty.etaIntelligent!.standardError).to.be.within(0.25, 0.32);
      expect(result.uncertainty.etaGreen).to.equal(null); // no energy data: no green factor, no interval
      expect(productivity(b, p, windows, F)).to.deep.equal(result); // fixed seed
    });

    it("refuses windows that overlap and accepts adjacent ones", function () {
      const day = 86_400_000;
      expect(windowProblem({ from: 0, to: 10 * day }, { from: 10 * day, to: 20 * day })).to.equal(null);
      expect(windowProblem({ from: 0, to: 10 * day }, { from: 5 * day, to: 20 * day })).to.match(/overlap/);
      expect(windowProblem({ from: 20 * day, to: 30 * day }, { from: 0, to: 10 * day })).to.match(/before the period/);
    });
  });

  describe("PACT exchange", function () {
    const pact = (over: Record<string, unknown> = {}, pcf: Record<string, unknown> = {}) => ({
      id: "3f2a1b6c-8d9e-4f01-a234-56789abcdef0",
      specVersion: "2.2.0",
      version: 1,
      created: "2025-02-01T00:00:00Z",
      status: "Active",
      companyName: "Feed Mill AG",
      companyIds: ["urn:uuid:51131FB5-42A2-4267-A402-0ECFEFAD1619"],
      productDescription: "dairy compound feed",
      productIds: ["urn:gtin:4012345000026"],
      productCategoryCpc: "23310",
      productNameCompany: "MilkPro 18",
      comment: "",
      pcf: {
        declaredUnit: "kilogram",
        unitaryProductAmount: "1000",
        pCfExcludingBiogenic: "0.62",
        fossilGhgEmissions: "0.4",
        fossilCarbonContent: "0",
        biogenicCarbonContent: "0.4",
        ipccCharacterizationFactorsSources: ["AR6"],
        crossSectoralStandardsUsed: ["GHG Protocol Product standard"],
        productOrSectorSpecificRules: [],
        boundaryProcessesDescription: "cradle to gate",
        referencePeriodStart: "2024-01-01T00:00:00Z",
        referencePeriodEnd: "2025-01-01T00:00:00Z",
        exemptedEmissionsPercent: 0,
        exemptedEmissionsDescription: "",
        packagingEmissionsIncluded: false,
        ...pcf,
      },
      ...over,
    });
    const now = Date.parse("2025-06-01T00:00:00Z");

    it("accepts a supplier's v2 footprint as kg CO2e per declared unit", function () {
      expect(checkPactFootprint(pact(), now)).to.deep.include({ unit: "KGM", co2ePerUnitKg: 0.62, companyName: "Feed Mill AG" });
    });

    it("refuses malformed, deprecated, other-version, undeclarable-unit and open-period footprints", function () {
      const refused = (doc: unknown) => {
        try {
          checkPactFootprint(doc, now);
        } catch (err) {
          expect(err).to.be.instanceOf(PactError);
          return `${(err as PactError).status} ${(err as PactError).code}`;
        }
        return "accepted";
      };
      expect(refused(pact({ id: "not-a-uuid" }))).to.equal("400 invalid_pact");
      expect(refused(pact({}, { pCfExcludingBiogenic: 0.62 }))).to.equal("400 invalid_pact");
      expect(refused(pact({ status: "Deprecated" }))).to.equal("422 pact_not_active");
      expect(refused(pact({ specVersion: "1.0.0" }))).to.equal("422 unsupported_pact_version");
      expect(refused(pact({}, { declaredUnit: "ton kilometer" }))).to.equal("422 unit_not_declarable");
      expect(refused(pact({}, { referencePeriodEnd: "2026-01-01T00:00:00Z" }))).to.equal("422 reference_period_open");
    });

    it("exports a complete footprint per declared unit with boundary and allocation, and refuses one with gaps", function () {
      const r = run({ outputs: [{ batchId: "G", quantity: "2000", unit: "GRM" }], energyKwh: { grid: 4 }, directEmissionsKg: { CH4: 0.1 } });
      const lookups: FootprintLookups = { batch: (id) => (id === "G" ? lot("G", 2000, "GRM") : null), upstream: () => [], runsProducing: () => [r] };
      const fp = batchFootprint("G", lookups, F);
      const ctx = {
        gtin: "04012345000019",
        lot: "G",
        productName: "cheese",
        companyName: "Dairy",
        orgId: "2",
        referencePeriodStart: "2025-01-01T00:00:00.000Z",
        referencePeriodEnd: "2025-01-02T00:00:00.000Z",
        now: "2025-02-01T00:00:00.000Z",
        country: null,
      };
      const out = toPactProductFootprint(fp, ctx) as { specVersion: string; pcf: Record<string, unknown> };
      // (4 × 0.25 + 0.1 × 27) kg / 2 kg = 1.85 kg CO2e per kilogram (the lot is counted in grams)
      expect(out.pcf).to.include({ declaredUnit: "kilogram", unitaryProductAmount: "2", pCfExcludingBiogenic: "1.85", landManagementGhgEmissions: "1.35" });
      expect(out.pcf.ipccCharacterizationFactorsSources).to.deep.equal(["AR6"]);
      expect(out.pcf.boundaryProcessesDescription).to.match(/Excludes/);
      expect(out.pcf.allocationRulesDescription).to.match(/default mass/);
      expect(out.specVersion).to.match(/^2\./);
      const gappy = batchFootprint("G", { ...lookups, runsProducing: () => [] }, F);
      expect(() => toPactProductFootprint(gappy, ctx)).to.throw(PactError, /gap/);
    });
  });
});

describe("freight legs from EPCIS shipping events (transportLegOf)", function () {
  const facts = (fields: Record<string, unknown>) => ({
    eventId: "urn:uuid:1",
    recordId: "ev_1",
    orgId: 1,
    bizStep: "shipping",
    eventTime: "2026-01-01T00:00:00Z",
    sources: [{ type: "location", id: "https://id.gs1.org/414/4012345000017", raw: "urn:epc:id:sgln:4012345.00001.0" }],
    destinations: [
      { type: "possessing_party", id: "https://id.gs1.org/417/5412345000013", raw: "urn:epc:id:pgln:5412345.00001" },
      { type: "location", id: "https://id.gs1.org/414/5412345000013", raw: "urn:epc:id:sgln:5412345.00001.0" },
    ],
    bizLocationGln: null,
    readPointGln: null,
    lotlineFields: fields,
  });
  const milk = { id: "0xm", unit: "LTR" };

  it("takes the mass from the quantity when it is a mass: 120 km × 24 t × rail 0.028", function () {
    const leg = transportLegOf(facts({ transportMode: "rail", distanceKm: 120 }), { quantity: "24000", uom: "KGM" }, { id: "0xc", unit: "KGM" }, { quantity: null })!;
    expect(leg).to.include({ tonnes: 24, quantity: 24000, from: "4012345000017", to: "5412345000013", problem: null });
    close(leg.co2eKg, 120 * 24 * 0.028);
  });

  it("converts litres by the product's kg per unit, and uses the carrier's own factor when given", function () {
    const leg = transportLegOf(facts({ transportMode: "road", distanceKm: 80, kgCo2ePerTonneKm: 0.09 }), { quantity: "10000", uom: "LTR" }, milk, { quantity: null }, { kgPerUnit: 1.03 })!;
    // 10,000 l × 1.03 kg/l = 10.3 t; 80 km × 10.3 t × 0.09 = 74.16 kg CO2e
    close(leg.tonnes, 10.3);
    close(leg.co2eKg, 74.16);
    expect(leg.factorSource).to.match(/carrier's own/);
  });

  it("names what is missing instead of guessing: no mass, an unknown mode, a distance that is not positive", function () {
    expect(transportLegOf(facts({ transportMode: "road", distanceKm: 80 }), { quantity: "10000", uom: "LTR" }, milk, { quantity: null })!.problem).to.match(/no mass moved/);
    const bad = transportLegOf(facts({ transportMode: "truck", distanceKm: -5, tonnes: 3 }), { quantity: null, uom: null }, milk, { quantity: 10 })!;
    expect(bad.co2eKg).to.equal(null);
    expect(bad.problem).to.match(/transportMode must be one of/).and.match(/distanceKm must be a positive number/);
    // An event without Lotline's transport fields is no leg at all.
    expect(transportLegOf(facts({}), { quantity: "1", uom: "KGM" }, milk, { quantity: null })).to.equal(null);
  });
});

describe("freight gaps of EPCIS events other members' nodes did not give (batchFootprint)", function () {
  it("names each organisation's withheld or unreachable events as a gap of its own, beside the batch's production gap", function () {
    const own = run({ orgId: "2", outputs: [{ batchId: "B", quantity: "1000", unit: "KGM" }], energyKwh: { grid: 100 } });
    const lookups: FootprintLookups = {
      batch: (id) => (id === "B" ? lot("B", 1000, "KGM") : null),
      upstream: () => [],
      runsProducing: () => [own],
      // The run's owner did not share it: a not_shared gap of batch B for organisation 2…
      mayRead: () => false,
      // …and its node, and another's, gave none of their EPCIS events naming B: two more, not folded into it.
      transportLegs: () => ({
        legs: [],
        notShared: [],
        gaps: [
          { orgId: "2", reason: "not_shared", detail: "organisation 2 has not shared its EPCIS events naming batch B with organisation 5" },
          { orgId: "3", reason: "unreachable", detail: "organisation 3's node (https://node-3.test) could not be reached" },
        ],
      }),
    };
    const fp = batchFootprint("B", lookups, F);
    expect(fp.complete).to.equal(false);
    expect(fp.co2ePerUnitKg).to.equal(null);
    expect(fp.gaps.map((g) => `${g.orgId}:${g.reason}`)).to.have.members(["2:not_shared", "2:not_shared", "3:unreachable"]);
    const freight = fp.gaps.filter((g) => /freight legs/.test(g.detail));
    expect(freight).to.have.length(2);
    expect(freight.find((g) => g.orgId === "3")!.detail).to.match(/could not be reached: freight legs its EPCIS shipping events may declare for lot B/);
  });
});
