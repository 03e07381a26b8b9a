/** The JSON the bench writes to --out: one object per stage, keys as issue 16 names them (more added freely). */
export class Results {
  readonly data: Record<string, unknown> = {};

  set(stage: string, value: unknown): void {
    this.data[stage] = value;
  }

  get(stage: string): Record<string, unknown> | undefined {
    return this.data[stage] as Record<string, unknown> | undefined;
  }
}

export function median(values: number[]): number {
  const sorted = [...values].filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Nearest-rank percentile of unsorted values. */
export function pct(values: number[], p: number): number {
  const sorted = Float64Array.from(values).sort();
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export const round = (v: number, digits = 2) => (Number.isFinite(v) ? Number(v.toFixed(digits)) : null);
