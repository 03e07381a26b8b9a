/**
 * Profiling aid: re-runs the indexer over a recorded backfill with no chain, so a CPU profile shows
 * decode, handlers and SQLite alone.
 *
 *   BENCH_DUMP_RPC=/tmp/rpc.json npm run bench -- --quick --only backfill --runs 1
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx scripts/bench/replay.ts /tmp/rpc.json [runs] [--handlers]
 *
 * Prints events/s and events per CPU-second per run; with --handlers, the time per event handler.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { RpcBlock, RpcClient, RpcLog } from "../../services/chain/rpc";
import type { Db } from "../../services/store/db";
import { openDatabase } from "../../services/store/db";
import { createLotlineIndexer, LOTLINE_HANDLERS } from "../../services/indexer/lotline";
import type { ChainEvent } from "../../services/indexer/types";

const [file, runsArg] = process.argv.slice(2).filter((a) => !a.startsWith("--"));
if (!file) {
  process.stderr.write("usage: replay.ts <recorded.json> [runs] [--handlers]\n");
  process.exit(2);
}
const dump = JSON.parse(fs.readFileSync(file, "utf8")) as { head: number; deployment: Parameters<typeof createLotlineIndexer>[0]["deployment"]; recorded: [string, unknown][] };
const recorded = new Map(dump.recorded);
const answer = <T>(key: string): T => {
  if (!recorded.has(key)) throw new Error(`not recorded: ${key}`);
  return recorded.get(key) as T;
};
// Every recorded log by block and every recorded header, so ranges the recording did not ask for
// (an indexer cutting its steps elsewhere than the recorded one) are answered too.
const logsByBlock = new Map<number, RpcLog[]>();
const blockNumberByHash = new Map<string, number>();
const seen = new Set<string>();
for (const [key, value] of recorded) {
  if (key.startsWith("getBlock:") && value) blockNumberByHash.set((value as RpcBlock).hash, (value as RpcBlock).number);
  if (!key.startsWith("getLogs:") && !key.startsWith("getBlockLogs:")) continue;
  for (const log of value as RpcLog[]) {
    if (seen.has(`${log.blockNumber}:${log.logIndex}`)) continue;
    seen.add(`${log.blockNumber}:${log.logIndex}`);
    if (!logsByBlock.has(log.blockNumber)) logsByBlock.set(log.blockNumber, []);
    logsByBlock.get(log.blockNumber)!.push(log);
  }
}
const logsOf = (from: number, to: number) => {
  const logs: RpcLog[] = [];
  for (let n = from; n <= to; n++) for (const log of logsByBlock.get(n) ?? []) logs.push({ ...log });
  return logs;
};
const rpc: RpcClient = {
  url: "replay",
  call: () => Promise.reject(new Error("replay: no other RPC")),
  chainId: async () => dump.deployment.chainId,
  blockNumber: async () => dump.head,
  getBlock: async (n) => answer(`getBlock:${JSON.stringify([n])}`),
  getLogs: async (f) => logsOf(f.fromBlock, f.toBlock),
  getBlockLogs: async (h) => {
    const n = blockNumberByHash.get(h);
    if (n === undefined) throw new Error(`not recorded: block ${h}`);
    return logsOf(n, n);
  },
};

const perHandler = new Map<string, { n: number; ms: number }>();
if (process.argv.includes("--handlers")) {
  const handlers = LOTLINE_HANDLERS as Record<string, (db: Db, e: ChainEvent) => void>;
  for (const [name, handler] of Object.entries(handlers)) {
    handlers[name] = (db, e) => {
      const t = performance.now();
      handler(db, e);
      const entry = perHandler.get(name) ?? { n: 0, ms: 0 };
      entry.n++;
      entry.ms += performance.now() - t;
      perHandler.set(name, entry);
    };
  }
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lotline-replay-"));
  try {
    for (let run = 0; run < Number(runsArg ?? 3); run++) {
      const db = openDatabase(path.join(dir, `replay-${run}.sqlite`));
      const indexer = createLotlineIndexer({ db, rpc, deployment: dump.deployment, readOffThread: false }, { finalityDepth: 0, reorgWindow: 64, logRange: 2_000, rpcUrl: "replay" });
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      await indexer.syncToHead();
      const seconds = (performance.now() - t0) / 1000;
      const cpu = process.cpuUsage(cpu0);
      const cpuSeconds = (cpu.user + cpu.system) / 1e6;
      const events = (db.prepare(`SELECT COUNT(*) AS n FROM chain_events`).get() as { n: number }).n;
      db.close();
      process.stdout.write(`${events} events in ${seconds.toFixed(2)} s: ${Math.round(events / seconds)} events/s, ${Math.round(events / cpuSeconds)} per CPU-second\n`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  for (const [name, v] of [...perHandler].sort((a, b) => b[1].ms - a[1].ms))
    process.stdout.write(`${name.padEnd(40)} ${String(v.n).padStart(7)} ${v.ms.toFixed(0).padStart(6)} ms ${((1000 * v.ms) / v.n).toFixed(0).padStart(5)} µs/event\n`);
}

void main();
