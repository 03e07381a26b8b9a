/**
 * The benchmarks `npm run bench` ran before issue 16 (setAgent backfill by logRange, reorganisation
 * rollback, API reads), kept for `--only reorg` and `--only api`. Env vars as scripts/bench/README.md lists.
 */
import path from "node:path";
import { createRpcClient } from "../../services/chain/rpc";
import { rolesToMask } from "../../services/chain/roles";
import { deployDemo, startAnvil } from "../../test/helpers/chain";
import { startTestNode } from "../../test/helpers/node";
import { runApiLoad } from "./api";
import { runBackfill, type BackfillResult } from "./backfill";
import { benchAddress, createLoadGenerator } from "./chain-load";
import { runReorgs } from "./reorg";
import { Cleanup, envFloat, envInt, envIntList, fmt, progress, table } from "./util";

const config = {
  events: envInt("BENCH_EVENTS", 2_000),
  eventsPerBlock: envInt("BENCH_EVENTS_PER_BLOCK", 10, 1),
  gapBlocks: envInt("BENCH_GAP_BLOCKS", 4),
  logRanges: envIntList("BENCH_LOG_RANGES", [2_000, 50]),
  reorgWindow: envInt("BENCH_REORG_WINDOW", 64, 1),
  reorgDepths: envIntList("BENCH_REORG_DEPTHS", [1, 16, 60]),
  reorgTxPerBlock: envInt("BENCH_REORG_TX_PER_BLOCK", 10, 1),
  apiConcurrency: envInt("BENCH_API_CONCURRENCY", 16, 1),
  apiSeconds: envFloat("BENCH_API_SECONDS", 5, 0.1),
  apiWarmupSeconds: envFloat("BENCH_API_WARMUP_SECONDS", 1),
  anvilStateInterval: envInt("BENCH_ANVIL_STATE_INTERVAL", 1, 1),
};

async function chainBenchmarks(run: Set<string>, cleanup: Cleanup, out: string[]): Promise<void> {
  const root = cleanup.tempDir("chain");
  progress(`starting Anvil (state interval ${config.anvilStateInterval} s)`);
  const chain = await startAnvil({ dataDir: path.join(root, "anvil"), stateIntervalSeconds: config.anvilStateInterval });
  cleanup.add("stop Anvil", () => chain.stop());
  progress("deploying and seeding the demo consortium");
  const demo = await deployDemo(chain.url);
  cleanup.add("close the provider", () => demo.provider.destroy());
  const chainRpc = createRpcClient(chain.url);
  const load = createLoadGenerator(chainRpc, demo.deployment.contracts.registry);

  progress(
    `sending ${config.events} setAgent transactions, ${config.eventsPerBlock} per block, ${config.gapBlocks} empty blocks between`,
  );
  const agents = Array.from({ length: config.events }, (_, i) => benchAddress("agent", i));
  let reported = 0;
  const generated = await load.setAgents(agents, rolesToMask(["processor"]), {
    perBlock: config.eventsPerBlock,
    gapBlocks: config.gapBlocks,
    onBlock: (done) => {
      if (done - reported >= 500) {
        reported = done;
        progress(`  ${done} sent`);
      }
    },
  });
  const chainBlocks = generated.lastBlock - demo.deployment.startBlock + 1;
  out.push(
    table(
      "Load generation (setAgent by the processor admin, signed locally, one JSON-RPC batch + evm_mine per block)",
      ["transactions", "blocks mined", "seconds", "tx/s", "sign s", "send s", "mine s"],
      [
        [
          String(generated.txs),
          String(generated.lastBlock - generated.firstBlock + 1),
          fmt(generated.ms / 1000, 2),
          fmt(generated.txs / (generated.ms / 1000), 0),
          fmt(generated.signMs / 1000, 2),
          fmt(generated.sendMs / 1000, 2),
          fmt(generated.mineMs / 1000, 2),
        ],
      ],
    ),
  );

  let lastBackfill: BackfillResult | null = null;
  const backfills: BackfillResult[] = [];
  if (run.has("setAgentBackfill") || run.has("reorg")) {
    const ranges = run.has("setAgentBackfill") ? config.logRanges : [2_000];
    for (const logRange of ranges) {
      progress(`backfill with logRange ${logRange} (${chainBlocks} blocks)`);
      const result = await runBackfill({
        url: chain.url,
        deployment: demo.deployment,
        logRange,
        reorgWindow: config.reorgWindow,
        dir: root,
      });
      cleanup.add(`close ${result.dbFile}`, () => result.db.close());
      if (lastBackfill) lastBackfill.db.close();
      lastBackfill = result;
      backfills.push(result);
      progress(`  ${result.events} events in ${result.blocks} blocks in ${result.seconds.toFixed(2)} s`);
    }
  }

  if (run.has("setAgentBackfill")) {
    out.push(
      table(
        "Indexer backfill (fresh file-backed SQLite, WAL + synchronous=FULL, finalityDepth 0, reorgWindow " +
          config.reorgWindow +
          ")",
        [
          "logRange",
          "blocks",
          "events",
          "seconds",
          "events/s",
          "blocks/s",
          "steps",
          "max ev/step",
          "max loop block ms",
          "RPC calls",
          "RPC-busy s",
          "DB MB",
        ],
        backfills.map((b) => [
          String(b.logRange),
          String(b.blocks),
          String(b.events),
          fmt(b.seconds, 2),
          fmt(b.events / b.seconds, 0),
          fmt(b.blocks / b.seconds, 0),
          String(b.steps),
          String(b.maxStepEvents),
          fmt(b.maxLoopBlockMs, 0),
          String(b.rpcStats.totalCalls()),
          fmt(b.rpcStats.busyMs / 1000, 2),
          fmt(b.dbBytes / 1_048_576, 1),
        ]),
        [
          "RPC-busy s: wall time with at least one JSON-RPC call outstanding; the rest is decoding, handlers and SQLite.",
          "max loop block ms: longest event-loop stall while indexing (a step's synchronous decode + apply transaction); in a node the API waits that long.",
          ...backfills.map(
            (b) =>
              `logRange ${b.logRange} calls: ` +
              [...b.rpcStats.calls.entries()].map(([m, c]) => `${m} ${c.n} (${fmt(c.ms / c.n, 2)} ms avg)`).join(", "),
          ),
        ],
      ),
    );
  }

  if (run.has("reorg") && lastBackfill) {
    progress(`reorganisations of depth ${config.reorgDepths.join(", ")} (reorgWindow ${config.reorgWindow})`);
    const results = await runReorgs({
      url: chain.url,
      chainRpc,
      deployment: demo.deployment,
      db: lastBackfill.db,
      load,
      depths: config.reorgDepths,
      txPerBlock: config.reorgTxPerBlock,
      reorgWindow: config.reorgWindow,
      existingAgents: agents,
    });
    out.push(
      table(
        `Reorganisation rollback (one indexer step: detect, find ancestor, rollbackJournal; ${config.reorgTxPerBlock} setAgent updates per fork-A block, file-backed DB with ${lastBackfill.events} events)`,
        ["depth", "journal rows", "undone", "step ms", "RPC calls", "RPC ms", "non-RPC ms", "µs/entry", "re-apply ms"],
        results.map((r) => [
          String(r.depth),
          String(r.journalEntries),
          String(r.undone),
          fmt(r.stepMs, 1),
          String(r.rpcCalls),
          fmt(r.rpcMs, 1),
          fmt(r.stepMs - r.rpcMs, 1),
          fmt(((r.stepMs - r.rpcMs) * 1000) / Math.max(1, r.undone), 1),
          fmt(r.reapplyMs, 1),
        ]),
        [
          "non-RPC ms ≈ the rollback transaction (rollbackJournal, block and checkpoint rows); re-apply ms: the steps that then index fork B (depth + 1 blocks).",
        ],
      ),
    );
  }
}

async function apiBenchmark(cleanup: Cleanup, out: string[]): Promise<void> {
  progress("booting a node (embedded chain, deploy, demo seed, index, API)");
  const t0 = performance.now();
  const node = await startTestNode({ LOTLINE_RATE_LIMIT: "1000000" });
  cleanup.add("stop the node", () => node.cleanup());
  const bootSeconds = (performance.now() - t0) / 1000;
  progress(`  node ready at ${node.url} in ${bootSeconds.toFixed(1)} s`);
  const results = await runApiLoad({
    url: node.url,
    routes: ["/api/v1/orgs", "/api/v1/orgs/2", "/health"],
    concurrency: config.apiConcurrency,
    seconds: config.apiSeconds,
    warmupSeconds: config.apiWarmupSeconds,
    onRoute: (route) => progress(`  ${route}: ${config.apiConcurrency} concurrent loops for ${config.apiSeconds} s`),
  });
  out.push(
    table(
      `API reads (startTestNode, ${config.apiConcurrency} concurrent keep-alive loops from a worker thread, ${config.apiSeconds} s per route after ${config.apiWarmupSeconds} s warm-up)`,
      ["route", "requests", "req/s", "non-200", "p50 ms", "p95 ms", "p99 ms", "max ms"],
      results.map((r) => [
        r.route,
        String(r.requests),
        fmt(r.requests / r.seconds, 0),
        String(r.errors),
        fmt(r.p50, 2),
        fmt(r.p95, 2),
        fmt(r.p99, 2),
        fmt(r.max, 1),
      ]),
      [`node boot (startTestNode: chain, deploy, seed, index): ${fmt(bootSeconds, 1)} s`],
    ),
  );
}


export async function legacyStages(run: Set<string>, cleanup: Cleanup, out: string[]): Promise<void> {
  const tooDeep = config.reorgDepths.filter((d) => d > config.reorgWindow);
  if (run.has("reorg") && tooDeep.length > 0) {
    throw new Error(`BENCH_REORG_DEPTHS ${tooDeep.join(", ")} exceed BENCH_REORG_WINDOW ${config.reorgWindow}`);
  }
  if (run.has("reorg")) await chainBenchmarks(run, cleanup, out);
  if (run.has("api")) await apiBenchmark(cleanup, out);
}
