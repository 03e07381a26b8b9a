import fs from "node:fs";
import v8 from "node:v8";
import vm from "node:vm";
import { openDatabase, type Db } from "../../services/store/db";
import { traceLineage, type Direction } from "../../services/provenance/trace";
import { createProvenanceStore } from "../../services/store/provenance";
import type { Sizes } from "./index";
import { generateTraceGraph, sampleBatches, type TraceGraph } from "./trace-graph";
import { median, pct, type Results } from "./results";
import { fmt, progress, table, type Cell } from "./util";

/** Garbage collection on request, between two series of walks (never inside one). */
function collector(): () => void {
  v8.setFlagsFromString("--expose-gc");
  return vm.runInNewContext("gc") as () => void;
}

const SERIES = ["walk", "withViews", "perBatch"] as const;
type Series = (typeof SERIES)[number];

/** The walk figures of the trace stage, with the rows and notes of its table. */
export interface TraceWalkFigures {
  json: Record<string, unknown>;
  rows: Cell[][];
  notes: string[];
}

/**
 * The trace stage's walks on `db` (docs/performance.md "Trace"). Each series (the walk; the walk
 * with the nodes' views; the batch-by-batch walk it replaced, which must find the same closure) runs
 * in a pass of its own over the same roots: a warm-up pass, then the timed pass, with a garbage
 * collection before the warm-up. Interleaving them root by root, as before, measured each walk on a
 * page cache the others had just churned and with their garbage to collect.
 */
export async function measureTraceWalks(db: Db, graph: TraceGraph, sizes: Sizes): Promise<TraceWalkFigures> {
  const gc = collector();
  const store = createProvenanceStore(db);
  const samples = sampleBatches(graph, sizes.traceSamples, 16);
  const tick = () => new Promise((resolve) => setImmediate(resolve));
  // closure[i]: the nodes and edges the walk found from the i-th root, which the batch-by-batch walk must find too.
  const pass = async (direction: Direction, series: Series | "impact", closure: [number, number][], timed: number[], cpu: number[]) => {
    for (const [i, id] of samples.entries()) {
      const c = process.cpuUsage();
      const t = performance.now();
      if (series === "walk") {
        const result = store.lineage(id, [direction], 50);
        closure[i] = [result.nodes.length, result.edges.length];
      } else if (series === "withViews") store.getBatches(store.lineage(id, [direction], 50).nodes.map((n) => n.id));
      else if (series === "impact") store.getBatches(store.downstreamClosure(id));
      else {
        const result = traceLineage(id, [direction], 50, store.neighbours);
        if (result.nodes.length !== closure[i][0] || result.edges.length !== closure[i][1]) throw new Error(`the two walks differ from ${id}`);
      }
      timed.push(performance.now() - t);
      const used = process.cpuUsage(c);
      cpu.push((used.user + used.system) / 1000);
      // Between two walks the node's own loops run, as between two requests.
      await tick();
    }
  };
  // The process's CPU time per walk (all its threads): what the load does not inflate as much as the wall clock.
  let walkCpu: number[][] = [];
  const series = async (direction: Direction, name: Series | "impact", closure: [number, number][]) => {
    gc();
    await pass(direction, name, closure, [], []);
    const timed: number[] = [];
    const cpu: number[] = [];
    await pass(direction, name, closure, timed, cpu);
    if (name === "walk") walkCpu.push(cpu);
    return timed;
  };

  const rows: Cell[][] = [];
  const json: Record<string, unknown> = { batches: graph.batches, edges: graph.edges, tiers: graph.tiers, samples: samples.length, generateSeconds: graph.seconds };
  for (const direction of ["upstream", "downstream"] as const) {
    progress(`  ${direction}: ${samples.length} traces, ${sizes.runs} runs, each series in its own pass`);
    const runs: Record<Series, number[]>[] = [];
    let closure: [number, number][] = [];
    walkCpu = [];
    for (let run = 0; run < sizes.runs; run++) {
      closure = [];
      const times = {} as Record<Series, number[]>;
      for (const name of SERIES) times[name] = await series(direction, name, closure);
      runs.push(times);
      progress(`    run ${run + 1}: walk p95 ${pct(times.walk, 95).toFixed(2)} ms`);
    }
    const nodes = closure.map(([n]) => n);
    const m = (name: Series, p: number) => median(runs.map((r) => pct(r[name], p)));
    const fig = {
      p50Ms: m("walk", 50),
      p95Ms: m("walk", 95),
      p99Ms: m("walk", 99),
      p95MsPerRun: runs.map((r) => pct(r.walk, 95)),
      cpuP95Ms: median(walkCpu.map((r) => pct(r, 95))),
      withBatchViews: { p50Ms: m("withViews", 50), p95Ms: m("withViews", 95), p99Ms: m("withViews", 99) },
      perBatchWalk: { p50Ms: m("perBatch", 50), p95Ms: m("perBatch", 95) },
      closure: { p50: pct(nodes, 50), p95: pct(nodes, 95), max: Math.max(...nodes) },
    };
    json[direction] = round(fig);
    progress(`    p50 ${fig.p50Ms.toFixed(2)} ms, p95 ${fig.p95Ms.toFixed(2)} ms; closure p50 ${fig.closure.p50}, max ${fig.closure.max}`);
    rows.push([
      direction,
      fmt(fig.p50Ms, 2),
      `${fmt(fig.p95Ms, 2)} (${fig.p95MsPerRun.map((v) => fmt(v, 2)).join(", ")})`,
      fmt(fig.p99Ms, 2),
      fmt(fig.cpuP95Ms, 2),
      fmt(fig.withBatchViews.p95Ms, 2),
      fmt(fig.perBatchWalk.p95Ms, 2),
      `${fig.closure.p50} / ${fig.closure.p95} / ${fig.closure.max}`,
      "≤ 10",
    ]);
  }
  progress(`  recall impact: ${samples.length} closures, ${sizes.runs} runs`);
  const impact: number[][] = [];
  for (let run = 0; run < sizes.runs; run++) impact.push(await series("downstream", "impact", []));
  const im = (p: number) => median(impact.map((r) => pct(r, p)));
  json.recallImpact = round({ p50Ms: im(50), p95Ms: im(95), p99Ms: im(99) });
  rows.push(["recall impact (closure + batch views)", fmt(im(50), 2), fmt(im(95), 2), fmt(im(99), 2), "", "", "", "as downstream", ""]);
  return {
    json,
    rows,
    notes: [
      "walk: store.lineage (one query per level and direction: ids, depths, edges); + views: with getBatches of every node, as the route builds its answer;",
      "per-batch walk: traceLineage over store.neighbours, one query per batch (the walk before; same closure).",
      "Each series in its own pass over the same roots: a garbage collection, a warm-up pass, the timed pass; p95 of each run in brackets.",
      "p95 CPU: the process's CPU time per walk (user + system, all threads), which the machine's load inflates less than the wall clock.",
    ],
  };
}

/** The walk figures' table (the node stage adds its HTTP line to the notes). */
export function traceTable(graph: TraceGraph, sizes: Sizes, figures: TraceWalkFigures, notes: string[]): string {
  return table(
    `Trace on ${graph.batches} batches and ${graph.edges} lineage edges (${graph.tiers} tiers, fan-in ≤ 3), ${sizes.traceSamples} random roots, median of ${sizes.runs} runs`,
    ["walk", "p50 ms", "p95 ms (per run)", "p99 ms", "p95 CPU ms", "p95 + views", "p95 per-batch walk", "closure p50/p95/max", "goal p95"],
    figures.rows,
    [...figures.notes, ...notes],
  );
}

/**
 * The trace stage on a store file of its own (`--trace-store FILE`), for measuring the walks again
 * without generating a million batches each time: generated there if the file does not exist, read
 * as it is if it does. No node runs, so no HTTP figure.
 */
export async function traceStoreStage(file: string, sizes: Sizes, results: Results, out: string[]): Promise<void> {
  const exists = fs.existsSync(file);
  const db = openDatabase(file);
  try {
    let graph: TraceGraph;
    if (exists) {
      const batches = db.prepare(`SELECT count(*) FROM batches`).pluck().get() as number;
      const edges = db.prepare(`SELECT count(*) FROM lineage_edges`).pluck().get() as number;
      graph = { batches, edges, tiers: 32, perTier: batches / 32, seconds: 0 };
      progress(`trace: the store in ${file}: ${batches} batches, ${edges} edges`);
    } else {
      progress(`trace: generating ${sizes.traceBatches} batches in ${file} (docs/performance.md describes the generator)`);
      graph = await generateTraceGraph(db, sizes.traceBatches);
      db.pragma("wal_checkpoint(TRUNCATE)");
      progress(`  ${graph.batches} batches, ${graph.edges} edges in ${graph.seconds.toFixed(1)} s`);
    }
    const figures = await measureTraceWalks(db, graph, sizes);
    results.set("trace", { ...figures.json, store: file });
    out.push(traceTable(graph, sizes, figures, [`store: ${file} (${exists ? "reused" : `generated in ${fmt(graph.seconds, 1)} s`}); no node, so no HTTP figure`]));
  } finally {
    db.close();
  }
}

function round<T>(value: T): T {
  return JSON.parse(JSON.stringify(value, (_k, v: unknown) => (typeof v === "number" && !Number.isInteger(v) ? Number(v.toFixed(3)) : v))) as T;
}
