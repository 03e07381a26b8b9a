/**
 * The calibrated blend on top of the booster, and the calibration measures.
 *
 * The booster's out-of-fold probabilities are sharp but not calibrated, and the threshold that
 * maximises F1 on them lands where a few failures decide it (precision 1.0, recall ≈ 0.8). The
 * documented failure mechanisms (baseline.ts) catch most failures at precision ≈ 0.98 by
 * themselves. The blend is a logistic regression (a stacker, fitted on out-of-fold predictions only)
 * over three inputs: the booster's log-odds, the rule baseline's largest load ratio (capped) and
 * whether it reaches 1. Being logistic, it maps them to calibrated probabilities (Platt 1999), and
 * it lets the rules decide where the booster is unsure.
 */
export const BLEND_FEATURES = ["boosterLogit", "mechanismLoadCapped", "mechanismReached"] as const;
export const BLEND_METHOD =
  "logistic regression (L2 1e-3, IRLS) fitted on out-of-fold booster predictions: logit p, min(baseline load ratio, 3), [baseline load ratio ≥ 1]; " +
  "a run a documented mechanism flags (load ratio ≥ 1) gets at least ruleFloor − floorSpread·(1 − p), ruleFloor the share of such training runs that failed ((failed + ½) / (flagged + 1)); " +
  "the threshold never exceeds the lowest score of a flagged run";

/** The blend's description written into model files. */
export function blendMethod(floorOn: FloorOn): string {
  if (floorOn === "ruleScore") return BLEND_METHOD;
  return (
    "logistic regression (L2 1e-3, IRLS) fitted on out-of-fold booster predictions: logit p, min(rules' score, 3), [rules' score ≥ 1]; " +
    "a run a documented physical mechanism flags (heat dissipation, power or overstrain load ratio ≥ 1; tool wear alone does not) gets at least " +
    "ruleFloor − floorSpread·(1 − p), ruleFloor the share of such training runs that failed ((failed + ½) / (flagged + 1)); " +
    "the threshold never exceeds the lowest score of such a run"
  );
}

/**
 * How far below the rule floor a flagged run may score: it gets max(p, ruleFloor − FLOOR_SPREAD·(1 − p)),
 * so flagged runs keep the blend's order among themselves (ranking, PR-AUC) instead of tying at the
 * floor, while staying within 0.02 of it (calibration). The threshold is never above the lowest
 * score a flagged run can get (train.ts), so the decisions are the hard floor's. docs/adr/0021.
 */
export const FLOOR_SPREAD = 0.02;

/**
 * Which runs the rule floor lifts (and the threshold never overrules). `mechanismLoad`: runs a
 * documented physical mechanism flags — heat dissipation, power, overstrain (features.ts), each
 * failing by the AI4I documentation whenever its limit is passed. `ruleScore`: every run the rules
 * flag, tool wear ≥ 240 min included — files trained before ADR 0031, which lack `floorOn`. The
 * documentation has a worn tool fail *or be replaced* somewhere in 200–240 min, so wear past 240 min
 * is evidence for the booster, not a mechanism (on the shipped data 1 of the 8 runs it alone flags failed).
 */
export type FloorOn = "mechanismLoad" | "ruleScore";
export const FLOOR_ON: FloorOn = "mechanismLoad";

/** The value of a run that a blend's floor compares with 1. */
export function floorValue(blend: { floorOn?: FloorOn }, rule: { ruleScore: number; mechanismLoad: number }): number {
  return blend.floorOn === "mechanismLoad" ? rule.mechanismLoad : rule.ruleScore;
}

/**
 * The blend's probability of a run, with the rule floor applied where `floored` (the run's
 * floorValue; default the rules' score) reaches 1.
 */
export function blendedProbability(
  blend: { coefficients: readonly number[]; ruleFloor?: number; floorSpread?: number },
  booster: number,
  baseline: number,
  floored = baseline,
): number {
  const p = blendProbability(blend.coefficients, blendInputs(booster, baseline));
  // max(p, floor), not floor + (1 − floor)·p: the latter kept the blend's order among flagged runs but
  // was over-confident (0.998 predicted against 0.971 observed) and below the rules' F1 by nested CV.
  // Files without floorSpread (trained before it) keep the hard floor.
  if (floored < 1 || blend.ruleFloor === undefined) return p;
  return Math.max(p, blend.ruleFloor - (blend.floorSpread ?? 0) * (1 - p));
}

/** The rule floor: how often flagged training runs (value ≥ 1) failed ((failed + ½) / (flagged + 1)). */
export function ruleFloorOf(baselines: readonly number[], labels: readonly number[]): number {
  let flagged = 0;
  let failed = 0;
  baselines.forEach((b, i) => {
    if (b >= 1) {
      flagged++;
      failed += labels[i];
    }
  });
  return (failed + 0.5) / (flagged + 1);
}

const clip = (p: number) => Math.min(1 - 1e-6, Math.max(1e-6, p));
export const logit = (p: number) => Math.log(clip(p) / (1 - clip(p)));
const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

export function blendInputs(boosterProbability: number, baseline: number): number[] {
  return [logit(boosterProbability), Math.min(baseline, 3), baseline >= 1 ? 1 : 0];
}

/** Intercept first, then one coefficient per blend input. */
export function blendProbability(coefficients: readonly number[], inputs: readonly number[]): number {
  return sigmoid(inputs.reduce((z, x, j) => z + coefficients[j + 1] * x, coefficients[0]));
}

/**
 * Logistic regression by iteratively reweighted least squares (Newton's method) with a small L2
 * penalty on the coefficients (not the intercept), which keeps it finite when a class separates.
 */
export function fitLogistic(
  X: readonly number[][],
  y: readonly number[],
  options: { l2?: number; iterations?: number } = {},
): number[] {
  const l2 = options.l2 ?? 1e-3;
  const d = X[0].length + 1;
  const w = new Array<number>(d).fill(0);
  const row = (x: readonly number[]) => [1, ...x];
  for (let it = 0; it < (options.iterations ?? 50); it++) {
    const g = new Array<number>(d).fill(0);
    const H = Array.from({ length: d }, () => new Array<number>(d).fill(0));
    for (let i = 0; i < X.length; i++) {
      const xi = row(X[i]);
      const p = sigmoid(xi.reduce((z, v, j) => z + w[j] * v, 0));
      const r = p - y[i];
      const s = Math.max(p * (1 - p), 1e-9);
      for (let a = 0; a < d; a++) {
        g[a] += r * xi[a];
        for (let b = 0; b < d; b++) H[a][b] += s * xi[a] * xi[b];
      }
    }
    for (let a = 1; a < d; a++) {
      g[a] += l2 * X.length * w[a];
      H[a][a] += l2 * X.length;
    }
    const step = solve(H, g);
    let change = 0;
    for (let a = 0; a < d; a++) {
      w[a] -= step[a];
      change = Math.max(change, Math.abs(step[a]));
    }
    if (change < 1e-10) break;
  }
  return w;
}

/** Solves A x = b by Gaussian elimination with partial pivoting (A is small and symmetric positive definite). */
function solve(A: number[][], b: number[]): number[] {
  const n = b.length;
  const M = A.map((r, i) => [...r, b[i]]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r][c]) > Math.abs(M[p][c])) p = r;
    [M[c], M[p]] = [M[p], M[c]];
    for (let r = c + 1; r < n; r++) {
      const f = M[r][c] / M[c][c];
      for (let k = c; k <= n; k++) M[r][k] -= f * M[c][k];
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = M[r][n];
    for (let k = r + 1; k < n; k++) s -= M[r][k] * x[k];
    x[r] = s / M[r][r];
  }
  return x;
}

/** Mean squared difference between probability and outcome (Brier 1950). */
export function brierScore(scores: readonly number[], labels: readonly number[]): number {
  return scores.reduce((s, p, i) => s + (p - labels[i]) ** 2, 0) / scores.length;
}

export interface ReliabilityBin {
  from: number;
  to: number;
  n: number;
  meanPredicted: number | null;
  observedRate: number | null;
}

/** Reliability curve: predictions in equal-width probability bins, mean prediction against observed rate. */
export function reliabilityCurve(scores: readonly number[], labels: readonly number[], bins = 10): ReliabilityBin[] {
  return Array.from({ length: bins }, (_, b) => {
    const from = b / bins;
    const to = (b + 1) / bins;
    const idx = scores.map((_, i) => i).filter((i) => scores[i] >= from && (b === bins - 1 ? scores[i] <= to : scores[i] < to));
    const round = (x: number) => Math.round(x * 1e4) / 1e4;
    return {
      from,
      to,
      n: idx.length,
      meanPredicted: idx.length ? round(idx.reduce((s, i) => s + scores[i], 0) / idx.length) : null,
      observedRate: idx.length ? round(idx.reduce((s, i) => s + labels[i], 0) / idx.length) : null,
    };
  });
}
