import { ratio } from "./kpi";
import { flatFactorBook, type EmissionFactors, type FactorBook } from "./factors";
import { co2eOfBurden, runBurden } from "./footprint";
import type { ProductionRunRecord } from "./record";
import { seededRng } from "../scoring/random";

/**
 * Productivity between a baseline window and a later one that does not overlap it:
 *
 *   E = E0 · (1 + η_intelligent) · (1 + η_green)
 *
 *   η_intelligent = (G_p / H_p) / (G_b / H_b) − 1   relative change in good output per PLANNED hour
 *   η_green       = (G'_p / C_p) / (G'_b / C_b) − 1 relative change in good output per kg CO2e
 *   index         = E / E0 = (1 + η_intelligent) · (1 + η_green)
 *   outputChange  = G_p / G_b − 1                   relative change in total good output
 *
 * G is Σ good count and H Σ planned time in hours: a line that stands still less (availability),
 * runs faster (performance) or scraps less (quality) makes more good output per planned hour, so
 * the gains automation brings all count — output per run-hour would hide the availability part.
 * C is Σ CO2e of the runs that report energy, within the footprint's boundary (energy by source
 * with the factors of each run's site and year, direct gases, purchased inputs with footprints,
 * freight legs; Scope 2 location-based), and G' their good count (a run without energy data is left
 * out of the green factor, never counted as zero emissions). Good output is only comparable in one
 * count unit: with several, every figure is null. Any figure whose inputs are missing or zero is
 * null, and so is the index when either factor is.
 *
 * Uncertainty: a percentile bootstrap over runs (each window's runs resampled with replacement,
 * BOOTSTRAP_RESAMPLES times, fixed seed) gives a 95 % interval and a standard error per factor.
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
  plannedHours: number;
  co2eKg: number | null;
  outputPerRunHour: number | null;
  outputPerPlannedHour: number | null;
  outputPerKgCo2e: number | null;
}

export interface Uncertainty {
  /** 2.5 % and 97.5 % percentiles of the bootstrap distribution. */
  interval: [number, number];
  standardError: number;
  /** Resamples in which the figure was defined. */
  resamples: number;
}

export interface Productivity {
  etaIntelligent: number | null;
  etaGreen: number | null;
  index: number | null;
  outputChange: number | null;
  countUnit: string | null;
  records: { baseline: WindowSummary; period: WindowSummary };
  uncertainty: { etaIntelligent: Uncertainty | null; etaGreen: Uncertainty | null; index: Uncertainty | null; method: string };
  /** What the kg CO2e of η_green include and leave out (CO2E_BOUNDARY). */
  co2eBoundary: string;
}

/**
 * The boundary of η_green's kg CO2e, stated in every answer: what the runs record, per run. Freight
 * from EPCIS shipping events belongs to a batch's footprint, not to a line's runs, so it is outside.
 */
export const CO2E_BOUNDARY =
  "per run, of the runs with energy data: energy by source (the factors of the run's site and year; Scope 2 location-based), " +
  "direct emissions by gas (GWP100 of the run's set), purchased inputs with their own footprints and freight legs recorded on the run; " +
  "not freight from EPCIS shipping events (a batch's footprint counts those) nor anything upstream of the line's inputs";

export const BOOTSTRAP_RESAMPLES = 500;
export const BOOTSTRAP_SEED = 1917;

const isBook = (f: EmissionFactors | FactorBook): f is FactorBook => typeof (f as FactorBook).global === "object";

/** kg CO2e of each run within the footprint boundary; null for a run without energy data. */
function runCo2e(runs: ProductionRunRecord[], book: FactorBook): (number | null)[] {
  return runs.map((r) => (r.energyKwh ? co2eOfBurden(runBurden(r, book)) : null));
}

export function summariseWindow(
  runs: ProductionRunRecord[],
  window: TimeWindow,
  factors: EmissionFactors | FactorBook,
  countUnit: string | null,
  co2eOfRuns: (number | null)[] = runCo2e(runs, isBook(factors) ? factors : flatFactorBook(factors)),
): WindowSummary {
  const runHours = runs.reduce((s, r) => s + r.runTimeSeconds, 0) / 3600;
  const plannedHours = runs.reduce((s, r) => s + r.plannedTimeSeconds, 0) / 3600;
  const good = runs.reduce((s, r) => s + r.goodCount, 0);
  let co2e: number | null = null;
  let goodWithEnergy = 0;
  runs.forEach((r, i) => {
    const c = co2eOfRuns[i];
    if (c === null) return;
    co2e = (co2e ?? 0) + c;
    goodWithEnergy += r.goodCount;
  });
  const comparable = countUnit !== null && runs.length > 0;
  return {
    ...window,
    runs: runs.length,
    countUnit: runs.length > 0 ? countUnit : null,
    goodOutput: comparable ? good : null,
    runHours,
    plannedHours,
    co2eKg: co2e,
    outputPerRunHour: comparable ? ratio(good, runHours) : null,
    outputPerPlannedHour: comparable ? ratio(good, plannedHours) : null,
    outputPerKgCo2e: comparable && co2e !== null ? ratio(goodWithEnergy, co2e) : null,
  };
}

const change = (after: number | null, before: number | null) =>
  after === null || before === null || before === 0 ? null : after / before - 1;

/**
 * Why two windows cannot be compared, or null: a window must be ordered, and the baseline must
 * end no later than the period starts (overlapping windows would count the same runs twice).
 */
export function windowProblem(baseline: { from: number; to: number }, period: { from: number; to: number }): string | null {
  if (baseline.to > period.from && period.to > baseline.from) {
    return (
      `the baseline [${new Date(baseline.from).toISOString()}, ${new Date(baseline.to).toISOString()}) and the period ` +
      `[${new Date(period.from).toISOString()}, ${new Date(period.to).toISOString()}) overlap: a run would count in both; ` +
      "choose windows that do not overlap"
    );
  }
  if (baseline.from >= period.to) return "the baseline must come before the period";
  return null;
}

function percentile(sorted: number[], p: number): number {
  const index = (sorted.length - 1) * p;
  const lo = Math.floor(index);
  const hi = Math.ceil(index);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (index - lo);
}

function uncertaintyOf(values: number[]): Uncertainty | null {
  if (values.length < 2) return null;
  const sorted = values.slice().sort((a, b) => a - b);
  const mean = values.reduce((s, x) => s + x, 0) / values.length;
  const sd = Math.sqrt(values.reduce((s, x) => s + (x - mean) ** 2, 0) / (values.length - 1));
  return { interval: [percentile(sorted, 0.025), percentile(sorted, 0.975)], standardError: sd, resamples: values.length };
}

export function productivity(
  baselineRuns: ProductionRunRecord[],
  periodRuns: ProductionRunRecord[],
  windows: { baseline: TimeWindow; period: TimeWindow },
  factors: EmissionFactors | FactorBook,
  options: { resamples?: number; seed?: number } = {},
): Productivity {
  const book = isBook(factors) ? factors : flatFactorBook(factors);
  const units = new Set([...baselineRuns, ...periodRuns].map((r) => r.countUnit));
  const countUnit = units.size === 1 ? [...units][0] : null;
  const co2eB = runCo2e(baselineRuns, book);
  const co2eP = runCo2e(periodRuns, book);
  const factorsOf = (b: ProductionRunRecord[], p: ProductionRunRecord[], cb: (number | null)[], cp: (number | null)[]) => {
    const baseline = summariseWindow(b, windows.baseline, book, countUnit, cb);
    const period = summariseWindow(p, windows.period, book, countUnit, cp);
    const etaIntelligent = change(period.outputPerPlannedHour, baseline.outputPerPlannedHour);
    const etaGreen = change(period.outputPerKgCo2e, baseline.outputPerKgCo2e);
    return { baseline, period, etaIntelligent, etaGreen };
  };
  const main = factorsOf(baselineRuns, periodRuns, co2eB, co2eP);

  const resamples = options.resamples ?? BOOTSTRAP_RESAMPLES;
  const rng = seededRng(options.seed ?? BOOTSTRAP_SEED);
  const draws = { i: [] as number[], g: [] as number[], x: [] as number[] };
  if (countUnit !== null && baselineRuns.length > 1 && periodRuns.length > 1) {
    const pick = (n: number) => Array.from({ length: n }, () => Math.floor(rng() * n));
    for (let k = 0; k < resamples; k++) {
      const ib = pick(baselineRuns.length);
      const ip = pick(periodRuns.length);
      const r = factorsOf(
        ib.map((i) => baselineRuns[i]),
        ip.map((i) => periodRuns[i]),
        ib.map((i) => co2eB[i]),
        ip.map((i) => co2eP[i]),
      );
      if (r.etaIntelligent !== null) draws.i.push(r.etaIntelligent);
      if (r.etaGreen !== null) draws.g.push(r.etaGreen);
      if (r.etaIntelligent !== null && r.etaGreen !== null) draws.x.push((1 + r.etaIntelligent) * (1 + r.etaGreen));
    }
  }
  return {
    etaIntelligent: main.etaIntelligent,
    etaGreen: main.etaGreen,
    index: main.etaIntelligent === null || main.etaGreen === null ? null : (1 + main.etaIntelligent) * (1 + main.etaGreen),
    outputChange: change(main.period.goodOutput, main.baseline.goodOutput),
    countUnit,
    records: { baseline: main.baseline, period: main.period },
    uncertainty: {
      etaIntelligent: main.etaIntelligent === null ? null : uncertaintyOf(draws.i),
      etaGreen: main.etaGreen === null ? null : uncertaintyOf(draws.g),
      index: main.etaIntelligent === null || main.etaGreen === null ? null : uncertaintyOf(draws.x),
      method: `percentile bootstrap over runs: each window's runs resampled with replacement ${resamples} times (seed ${options.seed ?? BOOTSTRAP_SEED}); 95 % interval and standard error`,
    },
    co2eBoundary: CO2E_BOUNDARY,
  };
}
