import { co2eOf, ratio } from "./kpi";
import type { EmissionFactors } from "./factors";
import type { ProductionRunRecord } from "./record";

/**
 * Productivity between a baseline window and a later one:
 *
 *   E = E0 · (1 + η_intelligent) · (1 + η_green)
 *
 *   η_intelligent = (G_p / H_p) / (G_b / H_b) − 1   relative change in good output per run-hour
 *   η_green       = (G'_p / C_p) / (G'_b / C_b) − 1 relative change in good output per kg CO2e
 *   index         = E / E0 = (1 + η_intelligent) · (1 + η_green)
 *   outputChange  = G_p / G_b − 1                   relative change in total good output
 *
 * G is Σ good count, H Σ run time in hours, C Σ CO2e of the runs that report energy and G' their
 * good count (a run without energy data is left out of the green factor, never counted as zero
 * emissions). Good output is only comparable in one count unit: with several, every figure is null
 * (filter by site or line). Any figure whose inputs are missing or zero is null, and so is the
 * index when either factor is.
 */
export interface TimeWindow {
  from: string | null;
  to: string | null;
}

export interface WindowSummary extends TimeWindow {
  runs: number;
  countUnit: string | null;
  goodOutput: number | null;
  runHours: number;
  co2eKg: number | null;
  outputPerRunHour: number | null;
  outputPerKgCo2e: number | null;
}

export interface Productivity {
  etaIntelligent: number | null;
  etaGreen: number | null;
  index: number | null;
  outputChange: number | null;
  countUnit: string | null;
  records: { baseline: WindowSummary; period: WindowSummary };
}

export function summariseWindow(
  runs: ProductionRunRecord[],
  window: TimeWindow,
  factors: EmissionFactors,
  countUnit: string | null,
): WindowSummary {
  const runHours = runs.reduce((s, r) => s + r.runTimeSeconds, 0) / 3600;
  const good = runs.reduce((s, r) => s + r.goodCount, 0);
  const withEnergy = runs.filter((r) => r.energyKwh);
  const co2e = withEnergy.length > 0 ? withEnergy.reduce((s, r) => s + co2eOf(r.energyKwh, factors)!, 0) : null;
  const goodWithEnergy = withEnergy.reduce((s, r) => s + r.goodCount, 0);
  const comparable = countUnit !== null && runs.length > 0;
  return {
    ...window,
    runs: runs.length,
    countUnit: runs.length > 0 ? countUnit : null,
    goodOutput: comparable ? good : null,
    runHours,
    co2eKg: co2e,
    outputPerRunHour: comparable ? ratio(good, runHours) : null,
    outputPerKgCo2e: comparable && co2e !== null ? ratio(goodWithEnergy, co2e) : null,
  };
}

const change = (after: number | null, before: number | null) =>
  after === null || before === null || before === 0 ? null : after / before - 1;

export function productivity(
  baselineRuns: ProductionRunRecord[],
  periodRuns: ProductionRunRecord[],
  windows: { baseline: TimeWindow; period: TimeWindow },
  factors: EmissionFactors,
): Productivity {
  const units = new Set([...baselineRuns, ...periodRuns].map((r) => r.countUnit));
  const countUnit = units.size === 1 ? [...units][0] : null;
  const baseline = summariseWindow(baselineRuns, windows.baseline, factors, countUnit);
  const period = summariseWindow(periodRuns, windows.period, factors, countUnit);
  const etaIntelligent = change(period.outputPerRunHour, baseline.outputPerRunHour);
  const etaGreen = change(period.outputPerKgCo2e, baseline.outputPerKgCo2e);
  return {
    etaIntelligent,
    etaGreen,
    index: etaIntelligent === null || etaGreen === null ? null : (1 + etaIntelligent) * (1 + etaGreen),
    outputChange: change(period.goodOutput, baseline.goodOutput),
    countUnit,
    records: { baseline, period },
  };
}
