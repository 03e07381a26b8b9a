/**
 * Beta-binomial shrinkage of a rate toward the consortium's: one late order out of one is not a
 * 1.0. A supplier's component with k bad outcomes in n is estimated as the mean of the posterior
 *
 *   Beta(α0 + k, β0 + n − k),   α0 = s·m,  β0 = s·(1 − m),  m = (K + ½) / (N + 1)
 *
 * where K of N is the consortium's record (every member's) and s = PRIOR_STRENGTH the prior's
 * weight in observations; the ½-corrected m is never exactly 0 or 1, so the prior stays proper.
 * The interval is the equal-tailed 95 % credible interval of the posterior.
 */
export const PRIOR_STRENGTH = 10;

export interface Shrunk {
  /** Posterior mean. */
  value: number;
  /** 2.5 % and 97.5 % quantiles of the posterior. */
  interval: [number, number];
  /** The observations (n) and bad outcomes (k) of the supplier. */
  sampleSize: number;
  events: number;
  /** k / n, unshrunk; null with no observations. */
  rawRate: number | null;
  prior: { mean: number; strength: number; consortiumEvents: number; consortiumSampleSize: number };
}

export function shrink(events: number, trials: number, consortiumEvents: number, consortiumTrials: number, strength = PRIOR_STRENGTH): Shrunk {
  const m = (consortiumEvents + 0.5) / (consortiumTrials + 1);
  const a = strength * m + events;
  const b = strength * (1 - m) + trials - events;
  return {
    value: a / (a + b),
    interval: [betaQuantile(0.025, a, b), betaQuantile(0.975, a, b)],
    sampleSize: trials,
    events,
    rawRate: trials > 0 ? events / trials : null,
    prior: { mean: m, strength, consortiumEvents, consortiumSampleSize: consortiumTrials },
  };
}

/** ln Γ(x), Lanczos approximation (g = 7, n = 9), accurate to ~1e-15 for x > 0. */
function logGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905,
    -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  x -= 1;
  let sum = c[0];
  for (let i = 1; i < 9; i++) sum += c[i] / (x + i);
  const t = x + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(sum);
}

/** Continued fraction of the incomplete beta function (modified Lentz; Numerical Recipes §6.4). */
function betaContinuedFraction(x: number, a: number, b: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  return h;
}

/** The regularised incomplete beta function I_x(a, b): the Beta(a, b) distribution function at x. */
export function betaCdf(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  return x < (a + 1) / (a + b + 2) ? (front * betaContinuedFraction(x, a, b)) / a : 1 - (front * betaContinuedFraction(1 - x, b, a)) / b;
}

/** The p-quantile of Beta(a, b), by bisection on the distribution function (to 1e-12). */
export function betaQuantile(p: number, a: number, b: number): number {
  let lo = 0;
  let hi = 1;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (betaCdf(mid, a, b) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}
