/**
 * Robust outlier statistics for dwell times (pure). Iglewicz & Hoaglin's modified z-score:
 *
 *   z = (x − median) / (1.4826 · MAD),   MAD = median |xᵢ − median|
 *
 * flagged when |z| > 3.5. 1.4826 makes the MAD a consistent estimator of the standard deviation
 * under normality; the median and MAD are not dragged by the outliers they look for. When more
 * than half of the history is identical the MAD is 0; the scale then falls back to the mean
 * absolute deviation × 1.2533 (the same consistency correction for the mean deviation). When that
 * is 0 too (every past value equal), nothing is flagged: there is no spread to compare against.
 * At least MIN_HISTORY past values of the same step type are needed.
 */
export const MAD_SCALE = 1.4826;
export const MEAN_AD_SCALE = 1.2533;
export const OUTLIER_Z = 3.5;
export const MIN_HISTORY = 5;

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = values.slice().sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export interface RobustStats {
  n: number;
  median: number;
  mad: number;
  /** The divisor of the z-score: 1.4826 · MAD, or 1.2533 · mean absolute deviation when MAD is 0; 0 when no spread. */
  scale: number;
  scaleMethod: "mad" | "meanAbsoluteDeviation" | "none";
}

export function robustStats(values: readonly number[]): RobustStats {
  const m = median(values);
  const deviations = values.map((v) => Math.abs(v - m));
  const mad = median(deviations);
  if (mad > 0) return { n: values.length, median: m, mad, scale: MAD_SCALE * mad, scaleMethod: "mad" };
  const meanAd = deviations.length ? deviations.reduce((s, d) => s + d, 0) / deviations.length : 0;
  if (meanAd > 0)
    return { n: values.length, median: m, mad, scale: MEAN_AD_SCALE * meanAd, scaleMethod: "meanAbsoluteDeviation" };
  return { n: values.length, median: m, mad, scale: 0, scaleMethod: "none" };
}

/** The modified z-score of `value` against `history`, or null when the history is too short or has no spread. */
export function robustZ(
  value: number,
  history: readonly number[],
  minHistory = MIN_HISTORY,
): { z: number | null; stats: RobustStats } {
  const stats = robustStats(history);
  if (history.length < minHistory || stats.scale === 0) return { z: null, stats };
  return { z: (value - stats.median) / stats.scale, stats };
}

/** One step of a batch's history: the time from one entry to the next, by step type. */
export interface DwellStep {
  /** The step type: `chain:handed_over→offered`, `epcis:storing`… */
  key: string;
  start: number;
  end: number;
  /** What the step is, for people (the entries it runs between). */
  label?: string;
}

export interface DwellOutlier {
  key: string;
  label?: string;
  start: number;
  end: number;
  hours: number;
  medianHours: number;
  madHours: number;
  z: number;
  direction: "longer" | "shorter";
  historySize: number;
}

export interface DwellCheck {
  outliers: DwellOutlier[];
  /** Steps compared against their history. */
  checked: number;
  /** Step types whose history was too short or had no spread (not judged). */
  notJudged: { key: string; historySize: number; reason: "short_history" | "no_spread" }[];
}

const HOUR = 3_600_000;
const round = (x: number, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits;

/**
 * Flags the steps whose duration is a robust outlier against the history of the same step type
 * (durations in ms, from the rest of the consortium: the caller leaves the batch's own steps out).
 */
export function dwellOutliers(
  steps: readonly DwellStep[],
  history: ReadonlyMap<string, readonly number[]>,
  options: { threshold?: number; minHistory?: number } = {},
): DwellCheck {
  const threshold = options.threshold ?? OUTLIER_Z;
  const outliers: DwellOutlier[] = [];
  const notJudged = new Map<string, DwellCheck["notJudged"][number]>();
  let checked = 0;
  for (const step of steps) {
    const past = history.get(step.key) ?? [];
    const duration = step.end - step.start;
    const { z, stats } = robustZ(duration, past, options.minHistory ?? MIN_HISTORY);
    if (z === null) {
      notJudged.set(step.key, {
        key: step.key,
        historySize: past.length,
        reason: past.length < (options.minHistory ?? MIN_HISTORY) ? "short_history" : "no_spread",
      });
      continue;
    }
    checked++;
    if (Math.abs(z) <= threshold) continue;
    outliers.push({
      key: step.key,
      ...(step.label ? { label: step.label } : {}),
      start: step.start,
      end: step.end,
      hours: round(duration / HOUR),
      medianHours: round(stats.median / HOUR),
      madHours: round(stats.mad / HOUR),
      z: round(z, 2),
      direction: z > 0 ? "longer" : "shorter",
      historySize: stats.n,
    });
  }
  return { outliers, checked, notJudged: [...notJudged.values()] };
}
