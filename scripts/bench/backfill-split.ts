import fs from "node:fs";
import path from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { INTERFACES, type ContractName } from "../../services/chain/contracts";
import { createRpcClient, type RpcBlock, type RpcClient, type RpcLog } from "../../services/chain/rpc";
import type { DeploymentRecord } from "../../services/chain/deploy";
import { openDatabase } from "../../services/store/db";
import { createLotlineIndexer } from "../../services/indexer/lotline";
import { eventArgsToJson } from "../../services/indexer/json";
import { compileDecoder, type LogDecoder } from "../../services/indexer/decode";
import type { EventFragment } from "ethers";

/**
 * One backfill, split into its stages:
 *  - end to end: the indexer against the node, into a new file (WAL, synchronous=FULL as the node
 *    opens it), its final ranges read ahead on the reader thread as the node reads them (ADR 0039);
 *  - without fetch: the same indexer, reading on the event loop, against a replay of every RPC
 *    answer, held in memory (so what remains is decode + handlers + SQLite). The answers are
 *    recorded by a backfill of their own after the timed one (the reader thread's reads go past
 *    any wrapper of the client);
 *  - decode alone: ABI-decoding every recorded log and turning its arguments to JSON, as applyLog does;
 *  - write = without fetch − decode; fetch = end to end − without fetch.
 * Floors: the node's answer rate for the same eth_getLogs ranges and blocks alone, and SQLite's
 * insert rate for the same number of chain_events rows in transactions of the same size, alone.
 */
export interface BackfillSplit {
  events: number;
  blocks: number;
  seconds: number;
  cpuSeconds: number;
  steps: number;
  maxStepEvents: number;
  maxLoopBlockMs: number;
  replaySeconds: number;
  decodeSeconds: number;
  rpcCalls: number;
  dbBytes: number;
}

export async function backfillOnce(options: { url: string; deployment: DeploymentRecord; dir: string; logRange: number; run: number }): Promise<BackfillSplit> {
  const recorded = new Map<string, unknown>();
  const base = createRpcClient(options.url);
  let rpcCalls = 0;
  const record = <A extends unknown[], R>(name: string, fn: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      rpcCalls++;
      const result = await fn(...args);
      recorded.set(`${name}:${JSON.stringify(args)}`, result);
      return result;
    };
  // The head is answered as it was at the start, so the replay sees the same chain.
  const head = await base.blockNumber();
  const recording: RpcClient = {
    url: base.url,
    call: base.call,
    chainId: base.chainId,
    blockNumber: async () => head,
    getBlock: record("getBlock", (n: number) => base.getBlock(n)),
    getLogs: record("getLogs", (f: Parameters<RpcClient["getLogs"]>[0]) => base.getLogs(f)),
    getBlockLogs: record("getBlockLogs", (h: string, a: string[]) => base.getBlockLogs(h, a)),
  };
  const replay: RpcClient = {
    url: base.url,
    call: base.call,
    chainId: base.chainId,
    blockNumber: async () => head,
    getBlock: async (n: number) => recorded.get(`getBlock:${JSON.stringify([n])}`) as RpcBlock,
    getLogs: async (f) => recorded.get(`getLogs:${JSON.stringify([f])}`) as RpcLog[],
    getBlockLogs: async (h, a) => recorded.get(`getBlockLogs:${JSON.stringify([h, a])}`) as RpcLog[],
  };

  if (process.env.BENCH_DUMP_RPC) {
    // For profiling the indexer without a chain: every RPC answer of this run, replayable.
    process.on("exit", () => fs.writeFileSync(process.env.BENCH_DUMP_RPC!, JSON.stringify({ head, deployment: options.deployment, recorded: [...recorded] })));
  }
  const config = { finalityDepth: 0, reorgWindow: 64, logRange: options.logRange, rpcUrl: options.url };
  const dbFile = path.join(options.dir, `backfill-${options.run}.sqlite`);
  const db = openDatabase(dbFile);
  const indexer = createLotlineIndexer({ db, rpc: headFixed(base, head), deployment: options.deployment }, config);
  let steps = 0;
  let maxStepEvents = 0;
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (;;) {
    const step = await indexer.step();
    if (step.type === "idle") break;
    if (step.type !== "blocks") throw new Error(`unexpected indexer step during backfill: ${JSON.stringify(step)}`);
    steps++;
    maxStepEvents = Math.max(maxStepEvents, step.events);
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  loop.disable();
  const events = (db.prepare(`SELECT COUNT(*) AS n FROM chain_events`).get() as { n: number }).n;
  const blocks = (db.prepare(`SELECT block_number AS n FROM indexer_checkpoint`).get() as { n: number }).n - options.deployment.startBlock + 1;
  db.close();
  const dbBytes = [dbFile, `${dbFile}-wal`].reduce((s, f) => s + (fs.existsSync(f) ? fs.statSync(f).size : 0), 0);
  await indexer.stop();

  // The answers for the replay: the same backfill on the event loop, through the recording client, untimed.
  const recordFile = path.join(options.dir, `record-${options.run}.sqlite`);
  const recordDb = openDatabase(recordFile);
  await createLotlineIndexer({ db: recordDb, rpc: recording, deployment: options.deployment, readOffThread: false }, config).syncToHead();
  recordDb.close();
  for (const f of [recordFile, `${recordFile}-wal`, `${recordFile}-shm`]) fs.rmSync(f, { force: true });
  // The same steps without the node: every answer from memory.
  const replayFile = path.join(options.dir, `replay-${options.run}.sqlite`);
  const replayDb = openDatabase(replayFile);
  const again = createLotlineIndexer({ db: replayDb, rpc: replay, deployment: options.deployment, readOffThread: false }, config);
  const t1 = performance.now();
  await again.syncToHead();
  const replaySeconds = (performance.now() - t1) / 1000;
  const replayed = (replayDb.prepare(`SELECT COUNT(*) AS n FROM chain_events`).get() as { n: number }).n;
  replayDb.close();
  if (replayed !== events) throw new Error(`the replay indexed ${replayed} events, the backfill ${events}`);

  // Decoding alone, as the engine does it (topic → fragment map, decodeEventLog, JSON of the arguments).
  const logs: RpcLog[] = [];
  for (const [key, value] of recorded) if (key.startsWith("getLogs:") || key.startsWith("getBlockLogs:")) logs.push(...(value as RpcLog[]));
  const byAddress = new Map<string, { name: ContractName; topics: Map<string, { fragment: EventFragment; decode: LogDecoder }> }>();
  for (const [name, address] of Object.entries(options.deployment.contracts)) {
    const topics = new Map<string, { fragment: EventFragment; decode: LogDecoder }>();
    const iface = INTERFACES[name as ContractName];
    iface?.forEachEvent((f) => topics.set(f.topicHash, { fragment: f, decode: compileDecoder(iface, f) }));
    byAddress.set(address.toLowerCase(), { name: name as ContractName, topics });
  }
  const t2 = performance.now();
  for (const log of logs) {
    const contract = byAddress.get(log.address.toLowerCase());
    const known = contract?.topics.get(log.topics[0]);
    if (!contract || !known) continue;
    JSON.stringify(eventArgsToJson(known.fragment.inputs, known.decode(log.data, log.topics)));
  }
  const decodeSeconds = (performance.now() - t2) / 1000;

  return {
    events,
    blocks,
    seconds,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    steps,
    maxStepEvents,
    maxLoopBlockMs: loop.max / 1e6,
    replaySeconds,
    decodeSeconds,
    rpcCalls,
    dbBytes,
  };
}

/** `rpc` answering the head as it was at the start, so that every run sees the same chain. */
function headFixed(rpc: RpcClient, head: number): RpcClient {
  return { ...rpc, blockNumber: async () => head };
}

/** The node alone: the backfill's eth_getLogs ranges and the blocks holding logs, 8 requests in flight, no indexing. */
export async function rpcFloor(url: string, deployment: DeploymentRecord, logRange: number): Promise<{ events: number; seconds: number }> {
  const rpc = createRpcClient(url);
  const head = await rpc.blockNumber();
  const addresses = Object.values(deployment.contracts);
  const t0 = performance.now();
  let events = 0;
  for (let from = deployment.startBlock; from <= head; from += logRange) {
    const logs = await rpc.getLogs({ fromBlock: from, toBlock: Math.min(head, from + logRange - 1), address: addresses });
    events += logs.length;
    const numbers = [...new Set(logs.map((l) => l.blockNumber))];
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < numbers.length) await rpc.getBlock(numbers[next++]);
      }),
    );
  }
  return { events, seconds: (performance.now() - t0) / 1000 };
}

/** SQLite alone: `events` chain_events-shaped rows in transactions of `perTransaction`, into a new file opened as the node opens it. */
export function sqliteFloor(dir: string, events: number, perTransaction: number): { rows: number; seconds: number } {
  const db = openDatabase(path.join(dir, "floor.sqlite"));
  const insert = db.prepare(
    `INSERT INTO chain_events (block_number, log_index, tx_hash, block_time, contract, event, args) VALUES (?, ?, ?, ?, ?, ?, ?)`,
  );
  const args = JSON.stringify({ lotId: "0x" + "ab".repeat(32), gtin: "4012345000016", producer: "1", lot: "B12-3", quantity: "1000000", gln: "4012345000016" });
  const batch = db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) insert.run(Math.floor(i / 200), i % 200, "0x" + i.toString(16).padStart(64, "0"), "2026-01-01T00:00:00.000Z", "provenance", "LotRegistered", args);
  });
  const t0 = performance.now();
  for (let i = 0; i < events; i += perTransaction) batch(i, Math.min(events, i + perTransaction));
  const seconds = (performance.now() - t0) / 1000;
  db.close();
  return { rows: events, seconds };
}
