import { monitorEventLoopDelay, type IntervalHistogram } from "node:perf_hooks";

/**
 * Measures how long the event loop was kept from running (issue 12: "the event loop stays free").
 * A stall is the delay of the loop beyond the sampling interval, as Node's own
 * monitorEventLoopDelay records it; the longest since the last reset is what /metrics shows
 * (lotline_event_loop_max_stall_seconds) and what the benchmark reports around a first start or a
 * large capture.
 */
export interface StallMonitor {
  /** The longest stall since the monitor started or was last reset, in milliseconds. */
  maxStallMs(): number;
  /** The 99th percentile of the loop's delay since the last reset, in milliseconds. */
  p99Ms(): number;
  reset(): void;
  stop(): void;
}

export function createStallMonitor(options: { resolutionMs?: number } = {}): StallMonitor {
  const histogram: IntervalHistogram = monitorEventLoopDelay({ resolution: options.resolutionMs ?? 10 });
  histogram.enable();
  // An empty histogram reports its minimum as a huge number and its max as 0: no sample, no stall.
  const ms = (nanoseconds: number) => (histogram.count === 0 ? 0 : nanoseconds / 1e6);
  return {
    maxStallMs: () => ms(histogram.max),
    p99Ms: () => ms(histogram.percentile(99)),
    reset: () => histogram.reset(),
    stop: () => histogram.disable(),
  };
}

/** Runs `work` and reports the longest event-loop stall while it ran (the benchmark's measure). */
export async function measureStall<T>(work: () => Promise<T>, options: { resolutionMs?: number } = {}): Promise<{ result: T; maxStallMs: number }> {
  const monitor = createStallMonitor(options);
  try {
    const result = await work();
    // One more turn of the loop, so a stall at the very end is sampled too.
    await new Promise((resolve) => setTimeout(resolve, (options.resolutionMs ?? 10) * 2));
    return { result, maxStallMs: monitor.maxStallMs() };
  } finally {
    monitor.stop();
  }
}
