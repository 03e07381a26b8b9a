import { ENERGY_SOURCES, type EmissionFactors, type EnergySource } from "./factors";
import type { MaterialLine, ProductionRunRecord } from "./record";
import { DEFAULT_UNITS, toBase, type UnitTable } from "./units";

/**
 * Production KPIs as pure functions of run records. Every ratio is null when its denominator is
 * zero or its data is missing: "no data" is never reported as 0.
 *
 * Per run (ISO 22400-2 / the usual OEE definitions):
 *   availability = runTime / plannedTime
 *   performance  = idealCycleTime × totalCount / runTime
 *   quality      = goodCount / totalCount
 *   OEE          = availability × performance × quality  (= idealCycleTime × goodCount / plannedTime)
 *   energy/unit  = Σ energy / goodCount;  CO2e = Σ_source energy × factor;  CO2e/unit = CO2e / goodCount
 *   water/unit, scrap/unit = water / goodCount, scrap / goodCount
 *   defect ppm   = (totalCount − goodCount) / totalCount × 10⁶
 *   yield        = Σ outputs / Σ inputs, both in one dimension's base unit (litres in, litres out);
 *                  null when there are no inputs or outputs, or their units share no dimension.
 *
 * Over several runs (aggregateRuns): ratios of sums, i.e. each KPI weighted by its own base —
 *   availability by planned time, performance by run time, quality by ideal time of the counts
 *   (Σ ideal × good / Σ ideal × total, which is Σ good / Σ total when the cycle times are equal),
 *   so OEE = A × P × Q = Σ (ideal × good) / Σ planned: the planned-time-weighted mean of the runs'
 *   OEE. Per-unit figures and defect ppm are quantity-weighted (Σ numerator / Σ good or total) and
 *   need one count unit; energy, water and scrap figures use only the runs that report them.
 *   Yield is Σ outputs / Σ inputs over the runs whose yield is defined, all in one dimension.
 */
export const ratio = (numerator: number, denominator: number): number | null =>
  denominator > 0 ? numerator / denominator : null;

export function energyTotal(energy: ProductionRunRecord["energyKwh"]): number | null {
  if (!energy) return null;
  return ENERGY_SOURCES.reduce((sum, source) => sum + (energy[source] ?? 0), 0);
}

export function co2eOf(energy: ProductionRunRecord["energyKwh"], factors: EmissionFactors): number | null {
  if (!energy) return null;
  return ENERGY_SOURCES.reduce((sum, source) => sum + (energy[source] ?? 0) * factors[source], 0);
}

/** Σ quantities of material lines in one dimension's base unit; null when empty or mixed. */
export function materialInBase(
  lines: MaterialLine[],
  units: UnitTable = DEFAULT_UNITS,
): { dimension: number; value: number } | null {
  if (lines.length === 0) return null;
  let dimension: number | null = null;
  let value = 0;
  for (const line of lines) {
    const base = toBase(Number(line.quantity), line.unit, units);
    if (!base || (dimension !== null && base.dimension !== dimension)) return null;
    dimension = base.dimension;
    value += base.value;
  }
  return { dimension: dimension!, value };
}

/** Yield of a run: output over input where the units allow, with the dimension it is measured in. */
export function runYield(run: Pick<ProductionRunRecord, "inputs" | "outputs">, units: UnitTable = DEFAULT_UNITS) {
  const input = materialInBase(run.inputs, units);
  const output = materialInBase(run.outputs, units);
  if (!input || !output || input.dimension !== output.dimension || input.value <= 0) return null;
  return { dimension: input.dimension, input: input.value, output: output.value, yield: output.value / input.value };
}

export interface RunMetrics {
  availability: number | null;
  performance: number | null;
  quality: number | null;
  oee: number | null;
  energyKwh: number | null;
  co2eKg: number | null;
  energyPerUnitKwh: number | null;
  co2ePerUnitKg: number | null;
  waterPerUnitM3: number | null;
  scrapPerUnitKg: number | null;
  defectPpm: number | null;
  yield: number | null;
}

export function runMetrics(run: ProductionRunRecord, factors: EmissionFactors, units: UnitTable = DEFAULT_UNITS): RunMetrics {
  const availability = ratio(run.runTimeSeconds, run.plannedTimeSeconds);
  const performance = ratio(run.idealCycleTimeSeconds * run.totalCount, run.runTimeSeconds);
  const quality = ratio(run.goodCount, run.totalCount);
  const energy = energyTotal(run.energyKwh);
  const co2e = co2eOf(run.energyKwh, factors);
  const perGood = (value: number | null | undefined) =>
    value === null || value === undefined ? null : ratio(value, run.goodCount);
  return {
    availability,
    performance,
    quality,
    oee: availability === null || performance === null || quality === null ? null : availability * performance * quality,
    energyKwh: energy,
    co2eKg: co2e,
    energyPerUnitKwh: perGood(energy),
    co2ePerUnitKg: perGood(co2e),
    waterPerUnitM3: perGood(run.waterM3),
    scrapPerUnitKg: perGood(run.scrapKg),
    defectPpm: run.totalCount > 0 ? ((run.totalCount - run.goodCount) / run.totalCount) * 1e6 : null,
    yield: runYield(run, units)?.yield ?? null,
  };
}

export interface RunAggregate {
  runs: number;
  /** The count unit of every run, or null when they differ (per-unit figures are then null). */
  countUnit: string | null;
  goodCount: number | null;
  totalCount: number | null;
  plannedHours: number;
  runHours: number;
  availability: number | null;
  performance: number | null;
  quality: number | null;
  oee: number | null;
  yield: number | null;
  energyKwh: number | null;
  energyBySource: Partial<Record<EnergySource, number>> | null;
  co2eKg: number | null;
  energyPerUnitKwh: number | null;
  co2ePerUnitKg: number | null;
  waterPerUnitM3: number | null;
  scrapPerUnitKg: number | null;
  defectPpm: number | null;
}

export function aggregateRuns(
  runs: ProductionRunRecord[],
  factors: EmissionFactors | ((run: ProductionRunRecord) => EmissionFactors),
  units: UnitTable = DEFAULT_UNITS,
): RunAggregate {
  const countUnits = new Set(runs.map((r) => r.countUnit));
  const countUnit = countUnits.size === 1 ? runs[0].countUnit : null;
  let planned = 0;
  let running = 0;
  let idealTotal = 0;
  let idealGood = 0;
  let good = 0;
  let total = 0;
  // Energy, water and scrap: sums over the runs that report them, with those runs' good counts.
  let energy = 0;
  let co2e = 0;
  let goodWithEnergy = 0;
  let energyRuns = 0;
  const bySource: Partial<Record<EnergySource, number>> = {};
  let water = 0;
  let goodWithWater = 0;
  let waterRuns = 0;
  let scrap = 0;
  let goodWithScrap = 0;
  let scrapRuns = 0;
  const yields: { dimension: number; input: number; output: number }[] = [];
  for (const run of runs) {
    planned += run.plannedTimeSeconds;
    running += run.runTimeSeconds;
    idealTotal += run.idealCycleTimeSeconds * run.totalCount;
    idealGood += run.idealCycleTimeSeconds * run.goodCount;
    good += run.goodCount;
    total += run.totalCount;
    if (run.energyKwh) {
      energyRuns++;
      energy += energyTotal(run.energyKwh)!;
      co2e += co2eOf(run.energyKwh, typeof factors === "function" ? factors(run) : factors)!;
      goodWithEnergy += run.goodCount;
      for (const source of ENERGY_SOURCES) {
        const kwh = run.energyKwh[source];
        if (kwh !== undefined) bySource[source] = (bySource[source] ?? 0) + kwh;
      }
    }
    if (run.waterM3 !== undefined) {
      waterRuns++;
      water += run.waterM3;
      goodWithWater += run.goodCount;
    }
    if (run.scrapKg !== undefined) {
      scrapRuns++;
      scrap += run.scrapKg;
      goodWithScrap += run.goodCount;
    }
    const y = runYield(run, units);
    if (y) yields.push(y);
  }
  const availability = ratio(running, planned);
  const performance = ratio(idealTotal, running);
  const quality = ratio(idealGood, idealTotal);
  const dimensions = new Set(yields.map((y) => y.dimension));
  const perUnit = (value: number, base: number, count: number) => (countUnit === null || count === 0 ? null : ratio(value, base));
  return {
    runs: runs.length,
    countUnit,
    goodCount: countUnit === null ? null : good,
    totalCount: countUnit === null ? null : total,
    plannedHours: planned / 3600,
    runHours: running / 3600,
    availability,
    performance,
    quality,
    oee: availability === null || performance === null || quality === null ? null : availability * performance * quality,
    yield:
      dimensions.size === 1
        ? ratio(
            yields.reduce((s, y) => s + y.output, 0),
            yields.reduce((s, y) => s + y.input, 0),
          )
        : null,
    energyKwh: energyRuns > 0 ? energy : null,
    energyBySource: energyRuns > 0 ? bySource : null,
    co2eKg: energyRuns > 0 ? co2e : null,
    energyPerUnitKwh: perUnit(energy, goodWithEnergy, energyRuns),
    co2ePerUnitKg: perUnit(co2e, goodWithEnergy, energyRuns),
    waterPerUnitM3: perUnit(water, goodWithWater, waterRuns),
    scrapPerUnitKg: perUnit(scrap, goodWithScrap, scrapRuns),
    defectPpm: countUnit === null || total === 0 ? null : ((total - good) / total) * 1e6,
  };
}

/**
 * On-time delivery (on time in full) of a seller's orders: the share of orders, each counting
 * once, whose whole quantity was delivered on or before the delivery deadline. An order counts
 * once it is decided — its deadline has passed, or it is fully delivered — and not cancelled or
 * never funded. Null when no order is decided. A delivery is a sale (docs/adr/0008): an order's
 * delivered quantity adds every sale counted toward it, also two sales of one batch the buyer sold
 * back and bought again, as the escrow's `delivered` does; the order still counts once.
 */
export interface OrderDeliveryFacts {
  orderId: string;
  status: string;
  /** Raw fixed-point quantities (any consistent scale). */
  quantity: bigint;
  /** Epoch ms, like the deliveries' times and `now`. */
  deadline: number;
  deliveries: { quantity: bigint; at: number }[];
}

export function onTimeDelivery(
  orders: OrderDeliveryFacts[],
  now: number,
): { onTime: number; decided: number; rate: number | null } {
  let decided = 0;
  let onTime = 0;
  for (const order of orders) {
    if (order.status === "created" || order.status === "cancelled") continue;
    const byDeadline = order.deliveries.filter((d) => d.at <= order.deadline).reduce((s, d) => s + d.quantity, 0n);
    const delivered = order.deliveries.reduce((s, d) => s + d.quantity, 0n);
    if (order.deadline > now && delivered < order.quantity) continue; // still open
    decided++;
    if (byDeadline >= order.quantity) onTime++;
  }
  return { onTime, decided, rate: decided > 0 ? onTime / decided : null };
}

/**
 * Dwell: how long material stays in an organisation's custody. Replays batch timeline entries in
 * chain order; a custody spell starts when a batch is registered at an organisation or handed over
 * into its custody, and ends when custody passes to another organisation or the batch is consumed
 * in full or destroyed. A portion split off a batch inherits the parent's spell start (its material
 * has been there since the parent arrived). Returns the completed spells. Times are epoch ms.
 */
export interface CustodyEvent {
  batchId: string;
  type: string;
  at: number;
  details: Record<string, unknown>;
}

export interface CustodySpell {
  batchId: string;
  orgId: string;
  location: string | null;
  start: number;
  end: number;
}

export function custodySpells(events: CustodyEvent[]): CustodySpell[] {
  const state = new Map<string, { orgId: string; since: number; location: string | null }>();
  const spells: CustodySpell[] = [];
  const close = (batchId: string, at: number) => {
    const s = state.get(batchId);
    if (s) spells.push({ batchId, orgId: s.orgId, location: s.location, start: s.since, end: at });
    state.delete(batchId);
  };
  for (const e of events) {
    const d = e.details;
    switch (e.type) {
      case "registered":
        state.set(e.batchId, { orgId: String(d.orgId), since: e.at, location: (d.location as string | null) ?? null });
        break;
      case "split_from": {
        const parent = state.get(String(d.parent));
        if (parent) state.set(e.batchId, { ...parent });
        break;
      }
      case "handed_over":
        if (d.kind === "ownership") break;
      // falls through: custody moved
      case "unit_handed_over": {
        const current = state.get(e.batchId);
        const to = String(d.toOrgId);
        if (current?.orgId === to) break;
        close(e.batchId, e.at);
        state.set(e.batchId, { orgId: to, since: e.at, location: (d.location as string | null) ?? null });
        break;
      }
      case "consumed":
        if (String(d.remaining) === "0") close(e.batchId, e.at);
        break;
      case "destroyed":
        close(e.batchId, e.at);
        break;
    }
  }
  return spells;
}

/** Mean hours of the organisation's custody spells that ended in [from, to), optionally at one site. */
export function dwellHours(spells: CustodySpell[], orgId: string, from: number, to: number, site?: string): number | null {
  const mine = spells.filter(
    (s) => s.orgId === orgId && s.end >= from && s.end < to && (site === undefined || s.location === site),
  );
  if (mine.length === 0) return null;
  return mine.reduce((sum, s) => sum + (s.end - s.start), 0) / mine.length / 3_600_000;
}
