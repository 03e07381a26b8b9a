/**
 * Seeded randomness for the quality model: every split, fold and bootstrap draws from
 * mulberry32 with a fixed seed, so the same data always gives the same model and numbers.
 */

export type Rng = () => number;

/** mulberry32: a small 32-bit generator, uniform in [0, 1). */
export function seededRng(seed: number): Rng {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher–Yates, in place. */
export function shuffle<T>(items: T[], rng: Rng): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

function byClass(indices: readonly number[], labels: readonly number[], rng: Rng): { positives: number[]; negatives: number[] } {
  const positives = shuffle(
    indices.filter((i) => labels[i] === 1),
    rng,
  );
  const negatives = shuffle(
    indices.filter((i) => labels[i] !== 1),
    rng,
  );
  return { positives, negatives };
}

/**
 * A stratified split of the rows 0..labels.length-1: `fraction` of the positives and of the
 * negatives go to `first`, the rest to `second` (each list sorted by row index).
 */
export function stratifiedSplit(
  labels: readonly number[],
  fraction: number,
  seed: number,
): { first: number[]; second: number[] } {
  const rng = seededRng(seed);
  const all = labels.map((_, i) => i);
  const { positives, negatives } = byClass(all, labels, rng);
  const p = Math.round(positives.length * fraction);
  const n = Math.round(negatives.length * fraction);
  const sort = (list: number[]) => list.sort((a, b) => a - b);
  return {
    first: sort([...positives.slice(0, p), ...negatives.slice(0, n)]),
    second: sort([...positives.slice(p), ...negatives.slice(n)]),
  };
}

/** k stratified folds of `indices` (each fold sorted by row index). */
export function stratifiedFolds(indices: readonly number[], labels: readonly number[], k: number, seed: number): number[][] {
  const rng = seededRng(seed);
  const { positives, negatives } = byClass(indices, labels, rng);
  const folds: number[][] = Array.from({ length: k }, () => []);
  positives.forEach((row, i) => folds[i % k].push(row));
  // Continue the round-robin where the positives stopped so that fold sizes stay balanced.
  negatives.forEach((row, i) => folds[(positives.length + i) % k].push(row));
  return folds.map((fold) => fold.sort((a, b) => a - b));
}
