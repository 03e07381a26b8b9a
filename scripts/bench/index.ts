/**
 * Lotline benchmarks (`npm run bench [-- --quick] [-- --out file] [-- --only a,b] [-- --runs n] [-- --trace-store file]`).
 * Stages: backfill, visibility, trace, capture, gas, eventLoop (and, on request, the older reorg
 * and api). Figures only, no thresholds: a table on stdout, progress on stderr, JSON to --out
 * (default bench-results.json). See scripts/bench/README.md and docs/performance.md.
 */
import fs from "node:fs";
import os from "node:os";
import { parseArgs } from "node:util";
import { backfillStage } from "./stage-backfill";
import { nodeStages } from "./stage-node";
import { traceStoreStage } from "./stage-trace";
import { gasStage } from "./stage-gas";
import { pagesStage } from "./pages";
import { legacyStages } from "./legacy";
import { Results } from "./results";
import { Cleanup, fmt, progress } from "./util";

const STAGES = ["backfill", "visibility", "trace", "capture", "gas", "eventLoop", "pages", "reorg", "api"] as const;
type Stage = (typeof STAGES)[number];
const DEFAULT: Stage[] = ["backfill", "visibility", "trace", "capture", "gas", "eventLoop", "pages"];

export interface Sizes {
  backfillEvents: number;
  runs: number;
  /**
   * Cold visits per explorer page: more than `runs`, since a page load on two shared cores varies by
   * a few hundred ms from visit to visit and each visit takes a second or two.
   */
  pageRuns: number;
  visibilityTxs: number;
  traceBatches: number;
  traceSamples: number;
  captureEvents: number;
  storedEvents: number;
  httpSeconds: number;
  /** Run scripts/gas/measure.ts (about a minute) rather than read docs/gas.md's figures. */
  measureGas: boolean;
  /** The trace stage's store file (`--trace-store`): generated there if absent, reused if present; no node. */
  traceStore?: string;
}

const FULL: Sizes = {
  backfillEvents: 100_000,
  runs: 3,
  pageRuns: 9,
  visibilityTxs: 1_000,
  traceBatches: 1_000_000,
  traceSamples: 300,
  captureEvents: 10_000,
  storedEvents: 1_000_000,
  httpSeconds: 5,
  measureGas: true,
};
const QUICK: Sizes = {
  backfillEvents: 10_000,
  runs: 2,
  pageRuns: 5,
  visibilityTxs: 100,
  traceBatches: 100_000,
  traceSamples: 100,
  captureEvents: 2_000,
  storedEvents: 20_000,
  httpSeconds: 2,
  measureGas: false,
};

function options() {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      quick: { type: "boolean", default: false },
      out: { type: "string", default: "bench-results.json" },
      only: { type: "string" },
      runs: { type: "string" },
      "measure-gas": { type: "boolean" },
      "trace-store": { type: "string" },
      // The pages stage against a running node (e.g. `npm start`'s first, http://127.0.0.1:8080) instead of a one-node demo of its own.
      "pages-url": { type: "string" },
    },
    strict: true,
  });
  const sizes = { ...(values.quick ? QUICK : FULL) };
  if (values.runs !== undefined) {
    const n = Number(values.runs);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--runs must be an integer ≥ 1, got "${values.runs}"`);
    sizes.runs = n;
    sizes.pageRuns = n;
  }
  if (values["measure-gas"] !== undefined) sizes.measureGas = values["measure-gas"];
  if (values["trace-store"] !== undefined) sizes.traceStore = values["trace-store"];
  let stages = DEFAULT;
  if (values.only) {
    const names = values.only.split(",").map((s) => s.trim());
    for (const name of names)
      if (!(STAGES as readonly string[]).includes(name)) throw new Error(`--only: unknown stage "${name}" (known: ${STAGES.join(", ")})`);
    stages = names as Stage[];
  }
  return { quick: values.quick, out: values.out, sizes, stages: new Set(stages), pagesUrl: values["pages-url"] };
}

async function main(): Promise<void> {
  const { quick, out: outFile, sizes, stages, pagesUrl } = options();
  const cleanup = new Cleanup();
  const onSignal = (signal: string) => {
    progress(`${signal}: cleaning up`);
    void cleanup.runAll().finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  const cpus = os.cpus();
  const cpu = `${cpus.length} × ${cpus[0]?.model.trim() ?? "CPU"}`;
  const results = new Results();
  const out: string[] = [];
  const t0 = performance.now();
  const loadBefore = os.loadavg()[0];
  try {
    if (stages.has("backfill")) await cleanup.stage((own) => backfillStage({ events: sizes.backfillEvents, runs: sizes.runs, logRange: 2_000 }, own, results, out));
    // With --trace-store the trace stage reads its own file, without a node.
    const onNode = new Set([...stages].filter((s) => !(s === "trace" && sizes.traceStore !== undefined)));
    if (stages.has("trace") && sizes.traceStore !== undefined) await traceStoreStage(sizes.traceStore, sizes, results, out);
    if (onNode.has("visibility") || onNode.has("trace") || onNode.has("capture") || onNode.has("eventLoop"))
      await cleanup.stage((own) => nodeStages(onNode, sizes, own, results, out));
    if (stages.has("gas")) await gasStage(sizes.measureGas, results, out);
    if (stages.has("pages")) await cleanup.stage((own) => pagesStage({ runs: sizes.pageRuns, url: pagesUrl }, own, results, out));
    if (stages.has("reorg") || stages.has("api")) await cleanup.stage((own) => legacyStages(stages, own, out));
  } finally {
    progress("cleaning up");
    await cleanup.runAll();
  }
  const header =
    `Lotline benchmarks${quick ? " (--quick: reduced sizes)" : ""} — ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${cpu}, ` +
    `load average ${fmt(loadBefore, 2)} at start, total ${fmt((performance.now() - t0) / 1000, 0)} s`;
  const json = {
    date: new Date().toISOString(),
    quick,
    node: process.version,
    cpu: { model: cpus[0]?.model.trim() ?? null, count: cpus.length },
    loadAverageAtStart: loadBefore,
    totalSeconds: (performance.now() - t0) / 1000,
    sizes,
    ...results.data,
  };
  fs.writeFileSync(outFile, `${JSON.stringify(json, null, 2)}\n`);
  process.stdout.write(`${header}\n\n${out.join("\n")}\nJSON written to ${outFile}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`benchmark failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
