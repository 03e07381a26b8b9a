import { seededRng } from "./random";

/**
 * Metrics of a scored, labelled set. Ties are handled exactly (a block of equal scores is
 * counted together), so a coarse score such as the rule baseline's is not flattered by the
 * order of the rows.
 */

export interface Confusion {
  tp: number;
  fp: number;
  fn: number;
  tn: number;
}

/** ROC-AUC: the probability that a random failure scores above a random non-failure (ties count half). */
export function rocAuc(scores: readonly number[], labels: readonly number[]): number {
  const order = scores.map((_, i) => i).sort((a, b) => scores[a] - scores[b]);
  let positives = 0;
  let rankSum = 0;
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j + 1 < order.length && scores[order[j + 1]] === scores[order[i]]) j++;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) {
      if (labels[order[k]] === 1) {
        positives++;
        rankSum += rank;
      }
    }
    i = j + 1;
  }
  const negatives = scores.length - positives;
  if (positives === 0 || negatives === 0) return Number.NaN;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/**
 * PR-AUC as average precision: Σ (R_k − R_{k−1}) · P_k over the distinct score cut-offs,
 * from the highest score down (the step-wise area, no optimistic interpolation).
 */
export function averagePrecision(scores: readonly number[], labels: readonly number[]): number {
  const order = scores.map((_, i) => i).sort((a, b) => scores[b] - scores[a]);
  const positives = labels.reduce((sum, y) => sum + (y === 1 ? 1 : 0), 0);
  if (positives === 0) return Number.NaN;
  let tp = 0;
  let fp = 0;
  let previousRecall = 0;
  let area = 0;
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j + 1 < order.length && scores[order[j + 1]] === scores[order[i]]) j++;
    for (let k = i; k <= j; k++) {
      if (labels[order[k]] === 1) tp++;
      else fp++;
    }
    const recall = tp / positives;
    area += (recall - previousRecall) * (tp / (tp + fp));
    previousRecall = recall;
    i = j + 1;
  }
  return area;
}

/** Counts with "failure predicted" meaning score ≥ threshold. */
export function confusionAt(scores: readonly number[], labels: readonly number[], threshold: number): Confusion {
  const c: Confusion = { tp: 0, fp: 0, fn: 0, tn: 0 };
  for (let i = 0; i < scores.length; i++) {
    const predicted = scores[i] >= threshold;
    if (labels[i] === 1) {
      if (predicted) c.tp++;
      else c.fn++;
    } else if (predicted) c.fp++;
    else c.tn++;
  }
  return c;
}

export function f1Of(c: Confusion): number {
  return c.tp === 0 ? 0 : (2 * c.tp) / (2 * c.tp + c.fp + c.fn);
}

export function precisionOf(c: Confusion): number {
  return c.tp + c.fp === 0 ? 0 : c.tp / (c.tp + c.fp);
}

export function recallOf(c: Confusion): number {
  return c.tp + c.fn === 0 ? 0 : c.tp / (c.tp + c.fn);
}

/**
 * The threshold that maximises F1 on the given (out-of-fold) scores. Among equal F1 the highest
 * cut-off wins (fewer alarms); the threshold returned lies halfway between the chosen score and the next lower
 * distinct score, so that it does not sit on a training row's exact score.
 */
export function bestF1Threshold(scores: readonly number[], labels: readonly number[]): { threshold: number; f1: number } {
  const order = scores.map((_, i) => i).sort((a, b) => scores[b] - scores[a]);
  const positives = labels.reduce((sum, y) => sum + (y === 1 ? 1 : 0), 0);
  let tp = 0;
  let fp = 0;
  let best = { f1: -1, at: 0 };
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j + 1 < order.length && scores[order[j + 1]] === scores[order[i]]) j++;
    for (let k = i; k <= j; k++) {
      if (labels[order[k]] === 1) tp++;
      else fp++;
    }
    const f1 = tp === 0 ? 0 : (2 * tp) / (tp + fp + positives);
    if (f1 > best.f1) best = { f1, at: j };
    i = j + 1;
  }
  const chosen = scores[order[best.at]];
  const next = best.at + 1 < order.length ? scores[order[best.at + 1]] : chosen;
  return { threshold: (chosen + next) / 2, f1: best.f1 };
}

/**
 * Bootstrap 95 % interval of F1 at a fixed threshold: `rounds` resamples of the rows with
 * replacement (seeded), percentiles 2.5 and 97.5.
 */
export function bootstrapF1Interval(
  scores: readonly number[],
  labels: readonly number[],
  threshold: number,
  options: { rounds?: number; seed?: number } = {},
): [number, number] {
  const rounds = options.rounds ?? 1000;
  const rng = seededRng(options.seed ?? 2020);
  const predicted = scores.map((s) => s >= threshold);
  const n = scores.length;
  const values: number[] = [];
  for (let r = 0; r < rounds; r++) {
    let tp = 0;
    let fp = 0;
    let fn = 0;
    for (let k = 0; k < n; k++) {
      const i = Math.floor(rng() * n);
      if (labels[i] === 1) {
        if (predicted[i]) tp++;
        else fn++;
      } else if (predicted[i]) fp++;
    }
    values.push(tp === 0 ? 0 : (2 * tp) / (2 * tp + fp + fn));
  }
  values.sort((a, b) => a - b);
  const at = (q: number) => values[Math.min(rounds - 1, Math.max(0, Math.round(q * (rounds - 1))))];
  return [at(0.025), at(0.975)];
}

/** The evaluation line of `lotline model eval`. */
export interface EvaluationReport {
  n: number;
  positives: number;
  rocAuc: number;
  prAuc: number;
  f1: number;
  precision: number;
  recall: number;
  threshold: number;
  f1Interval: [number, number];
}

const round = (x: number) => (Number.isFinite(x) ? Math.round(x * 1e4) / 1e4 : x);

/** Every metric of `scores` against `labels` at `threshold`, rounded to 4 decimals (the threshold to 6). */
export function evaluateScores(scores: readonly number[], labels: readonly number[], threshold: number): EvaluationReport {
  const c = confusionAt(scores, labels, threshold);
  const [low, high] = bootstrapF1Interval(scores, labels, threshold);
  return {
    n: scores.length,
    positives: c.tp + c.fn,
    rocAuc: round(rocAuc(scores, labels)),
    prAuc: round(averagePrecision(scores, labels)),
    f1: round(f1Of(c)),
    precision: round(precisionOf(c)),
    recall: round(recallOf(c)),
    threshold: Math.round(threshold * 1e6) / 1e6,
    f1Interval: [round(low), round(high)],
  };
}
