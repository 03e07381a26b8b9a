import path from "node:path";
import { JsonRpcProvider } from "ethers";
import { createRpcClient } from "../../services/chain/rpc";
import { connectLotline, deployLotline } from "../../services/chain/deploy";
import { createDemoClock } from "../../services/demo/clock";
import { seedDemo } from "../../services/demo/seed";
import { seedSupplyChain } from "../../services/demo/supply-chain";
import { demoWallet, GOVERNOR_ACCOUNT } from "../../services/demo/roster";
import { startEmbeddedChain } from "../../services/chain/embedded";
import { DAY, DEMO_HISTORY_DAYS } from "../../services/demo/clock";
import { freePort } from "../../test/helpers/ports";
import { backfillOnce, rpcFloor, sqliteFloor, type BackfillSplit } from "./backfill-split";
import { seedMix } from "./mix";
import { median, type Results } from "./results";
import { Cleanup, fmt, progress, table } from "./util";

/** Seeds the real mix on a fresh Anvil, then backfills it `runs` times (median reported). */
export async function backfillStage(opts: { events: number; runs: number; logRange: number }, cleanup: Cleanup, results: Results, out: string[]) {
  const root = cleanup.tempDir("backfill");
  progress("backfill: starting Anvil, deploying and seeding the demo consortium and its products");
  // As a node's embedded demo chain: its genesis in the past, so the demo's dated history is real.
  const chain = await startEmbeddedChain({
    dataDir: path.join(root, "anvil"),
    port: await freePort(),
    stateIntervalSeconds: 3600,
    genesisTimestamp: Math.floor(Date.now() / 1000) - DEMO_HISTORY_DAYS * DAY,
  });
  cleanup.add("stop Anvil", () => chain.stop());
  const provider = new JsonRpcProvider(chain.url, 31337, { staticNetwork: true, cacheTimeout: -1 });
  cleanup.add("close the provider", () => provider.destroy());
  const deployment = await deployLotline(demoWallet(GOVERNOR_ACCOUNT, provider));
  const contracts = connectLotline(deployment, provider);
  await seedDemo(provider, contracts);
  await seedSupplyChain(provider, contracts, createDemoClock(provider));
  provider.destroy();

  progress(`backfill: sending the real mix until ${opts.events} events`);
  let shown = 0;
  const mix = await seedMix({
    rpc: createRpcClient(chain.url),
    deployment,
    events: opts.events,
    onRound: (n) => {
      if (n - shown >= 10_000) {
        shown = n;
        progress(`  ${n} events`);
      }
    },
  });
  progress(`  ${mix.events} events in ${mix.txs} transactions, ${mix.rounds} rounds, ${(mix.ms / 1000).toFixed(1)} s`);

  const runs: BackfillSplit[] = [];
  for (let run = 0; run < opts.runs; run++) {
    progress(`backfill: run ${run + 1} of ${opts.runs}`);
    const r = await backfillOnce({ url: chain.url, deployment, dir: root, logRange: opts.logRange, run });
    progress(`  ${r.events} events in ${r.seconds.toFixed(2)} s (${fmt(r.events / r.seconds, 0)} events/s); replay ${r.replaySeconds.toFixed(2)} s`);
    runs.push(r);
  }
  const events = runs[0].events;
  const m = (f: (r: BackfillSplit) => number) => median(runs.map(f));
  const seconds = m((r) => r.seconds);
  const replay = m((r) => r.replaySeconds);
  const decode = m((r) => r.decodeSeconds);
  const fetch = Math.max(0, seconds - replay);
  const write = Math.max(0, replay - decode);
  progress("backfill: floors (RPC alone, SQLite alone)");
  const rpcRuns = [];
  for (let i = 0; i < opts.runs; i++) rpcRuns.push(await rpcFloor(chain.url, deployment, opts.logRange));
  const sqlRuns = [];
  for (let i = 0; i < opts.runs; i++) sqlRuns.push(sqliteFloor(cleanup.tempDir("sqlite-floor"), events, 500));
  const rpcEps = median(rpcRuns.map((r) => r.events / r.seconds));
  const sqlRps = median(sqlRuns.map((r) => r.rows / r.seconds));

  results.set("backfill", {
    events,
    blocks: runs[0].blocks,
    transactions: mix.txs,
    runs: runs.length,
    eventsPerSecond: Math.round(events / seconds),
    eventsPerCpuSecond: Math.round(events / m((r) => r.cpuSeconds)),
    seconds,
    fetchSeconds: fetch,
    decodeSeconds: decode,
    writeSeconds: write,
    writeEventsPerSecond: Math.round(events / write),
    decodeEventsPerSecond: Math.round(events / decode),
    withoutFetchEventsPerSecond: Math.round(events / replay),
    rpcCalls: runs[0].rpcCalls,
    steps: runs[0].steps,
    maxStepEvents: runs[0].maxStepEvents,
    maxLoopBlockMs: m((r) => r.maxLoopBlockMs),
    dbMegabytes: runs[0].dbBytes / 1_048_576,
    mix: Object.fromEntries([...mix.byEvent].sort((a, b) => b[1] - a[1])),
    seeding: { gas: mix.gas, gasPerEvent: Math.round(mix.gas / mix.events), mineGasPerSecond: Math.round(mix.gas / (mix.mineMs / 1000)), seconds: mix.ms / 1000, transactionsPerSecond: Math.round(mix.txs / (mix.ms / 1000)), signSeconds: mix.signMs / 1000, sendSeconds: mix.sendMs / 1000, mineSeconds: mix.mineMs / 1000 },
    floor: { rpcEventsPerSecond: Math.round(rpcEps), sqliteRowsPerSecond: Math.round(sqlRps) },
  });
  const top = [...mix.byEvent].sort((a, b) => b[1] - a[1]);
  out.push(
    table(
      `Indexer backfill: ${events} events of the real mix in ${runs[0].blocks} blocks (${mix.txs} transactions), logRange ${opts.logRange}, median of ${runs.length}`,
      ["stage", "seconds", "events/s", "goal"],
      [
        ["end to end", fmt(seconds, 2), fmt(events / seconds, 0), "≥ 10,000"],
        ["  per CPU-second (indexer process)", fmt(m((r) => r.cpuSeconds), 2), fmt(events / m((r) => r.cpuSeconds), 0), ""],
        ["  fetch (RPC wait)", fmt(fetch, 2), fmt(events / fetch, 0), ""],
        ["  decode (ABI + JSON)", fmt(decode, 2), fmt(events / decode, 0), ""],
        ["  write (handlers + SQLite)", fmt(write, 2), fmt(events / write, 0), ""],
        ["  without fetch (replayed RPC)", fmt(replay, 2), fmt(events / replay, 0), ""],
        ["floor: RPC alone (getLogs + blocks)", fmt(median(rpcRuns.map((r) => r.seconds)), 2), fmt(rpcEps, 0), ""],
        ["floor: SQLite insert alone (500/tx)", fmt(median(sqlRuns.map((r) => r.seconds)), 2), fmt(sqlRps, 0), ""],
      ],
      [
        `mix: ${top.map(([n, c]) => `${n} ${c}`).join(", ")}`,
        `steps ${runs[0].steps}, max events/step ${runs[0].maxStepEvents}, longest event-loop stall ${fmt(m((r) => r.maxLoopBlockMs), 0)} ms, RPC calls ${runs[0].rpcCalls}, DB ${fmt(runs[0].dbBytes / 1_048_576, 1)} MB`,
        `seeding: ${fmt(mix.gas / mix.events, 0)} gas per event; ${fmt(mix.ms / 1000, 1)} s, ${fmt(mix.txs / (mix.ms / 1000), 0)} tx/s (sign ${fmt(mix.signMs / 1000, 1)} s, send ${fmt(mix.sendMs / 1000, 1)} s, mine + receipts ${fmt(mix.mineMs / 1000, 1)} s)`,
      ],
    ),
  );
}
