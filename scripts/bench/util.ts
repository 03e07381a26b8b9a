import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { RpcClient } from "../../services/chain/rpc";

const started = Date.now();

/** Progress goes to stderr so that stdout carries only the figures. */
export function progress(message: string): void {
  process.stderr.write(`[bench +${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s] ${message}\n`);
}

export function envInt(name: string, fallback: number, min = 0): number {
  const raw = process.env[name]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be an integer ≥ ${min}, got "${raw}"`);
  return value;
}

export function envIntList(name: string, fallback: number[], min = 1): number[] {
  const raw = process.env[name]?.trim();
  if (!raw) return fallback;
  const values = raw.split(",").map((s) => Number(s.trim()));
  if (values.some((v) => !Number.isInteger(v) || v < min))
    throw new Error(`${name} must be a comma-separated list of integers ≥ ${min}, got "${raw}"`);
  return values;
}

export function envFloat(name: string, fallback: number, min = 0): number {
  const raw = process.env[name]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min) throw new Error(`${name} must be a number ≥ ${min}, got "${raw}"`);
  return value;
}

/** Cleanup actions run newest first, once, whether the run succeeded or not. */
export class Cleanup {
  private actions: { label: string; run: () => unknown }[] = [];
  private running: Promise<void> | null = null;

  add(label: string, run: () => unknown): void {
    this.actions.push({ label, run });
  }

  tempDir(label: string): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `lotline-bench-${label}-`));
    this.add(`remove ${dir}`, () => fs.rmSync(dir, { recursive: true, force: true }));
    return dir;
  }

  /**
   * Runs `stage` with a cleanup of its own, run as soon as the stage ends: a stage's chain and node
   * stop before the next stage measures (they used to run to the end of the bench: two Anvils and a
   * node with 100,000 batches beside the page timings). A signal meanwhile runs it from here.
   */
  async stage<T>(stage: (cleanup: Cleanup) => Promise<T>): Promise<T> {
    const own = new Cleanup();
    this.add("the stage's cleanup", () => own.runAll());
    try {
      return await stage(own);
    } finally {
      await own.runAll();
    }
  }

  /** Every caller (the signal handler, the normal exit path) waits for the same single run. */
  runAll(): Promise<void> {
    this.running ??= this.run();
    return this.running;
  }

  private async run(): Promise<void> {
    for (const action of this.actions.reverse()) {
      try {
        await action.run();
      } catch (err) {
        progress(`cleanup "${action.label}" failed: ${(err as Error).message}`);
      }
    }
  }
}

export interface RpcStats {
  /** Calls and summed latency per method. */
  calls: Map<string, { n: number; ms: number }>;
  /** Wall time during which at least one RPC call was outstanding. */
  busyMs: number;
  totalCalls(): number;
  reset(): void;
}

/** Wraps an RpcClient to count calls and the wall time spent waiting on the node. */
export function instrumentRpc(rpc: RpcClient): { rpc: RpcClient; stats: RpcStats } {
  let inFlight = 0;
  let busySince = 0;
  const stats: RpcStats = {
    calls: new Map(),
    busyMs: 0,
    totalCalls() {
      let n = 0;
      for (const c of this.calls.values()) n += c.n;
      return n;
    },
    reset() {
      this.calls.clear();
      this.busyMs = 0;
    },
  };
  function timed<A extends unknown[], R>(method: string, fn: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
    return async (...args: A) => {
      const t0 = performance.now();
      if (inFlight++ === 0) busySince = t0;
      try {
        return await fn(...args);
      } finally {
        const t1 = performance.now();
        if (--inFlight === 0) stats.busyMs += t1 - busySince;
        const entry = stats.calls.get(method) ?? { n: 0, ms: 0 };
        entry.n++;
        entry.ms += t1 - t0;
        stats.calls.set(method, entry);
      }
    };
  }
  const wrapped: RpcClient = {
    url: rpc.url,
    call: ((method: string, params?: unknown[]) => timed(method, () => rpc.call(method, params))()) as RpcClient["call"],
    chainId: timed("eth_chainId", () => rpc.chainId()),
    blockNumber: timed("eth_blockNumber", () => rpc.blockNumber()),
    getBlock: timed("eth_getBlockByNumber", (n: number) => rpc.getBlock(n)),
    getLogs: timed("eth_getLogs", (filter: Parameters<RpcClient["getLogs"]>[0]) => rpc.getLogs(filter)),
    getBlockLogs: timed("eth_getLogs", (blockHash: string, address: string[]) => rpc.getBlockLogs(blockHash, address)),
  };
  return { rpc: wrapped, stats };
}

export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index];
}

export type Cell = string | number;

export function fmt(value: number, digits = 1): string {
  if (!Number.isFinite(value)) return "-";
  return value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** A plain-text table: first column left-aligned, the rest right-aligned. */
export function table(title: string, headers: string[], rows: Cell[][], notes: string[] = []): string {
  const cells = [headers, ...rows.map((r) => r.map((c) => (typeof c === "number" ? String(c) : c)))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  return [
    title,
    line(cells[0]),
    widths.map((w) => "-".repeat(w)).join("  "),
    ...cells.slice(1).map(line),
    ...notes.map((n) => `  ${n}`),
    "",
  ].join("\n");
}
