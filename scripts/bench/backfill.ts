import fs from "node:fs";
import path from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { createRpcClient } from "../../services/chain/rpc";
import type { DeploymentRecord } from "../../services/chain/deploy";
import { openDatabase, type Db } from "../../services/store/db";
import { createLotlineIndexer } from "../../services/indexer/lotline";
import { instrumentRpc, progress, type RpcStats } from "./util";

export interface BackfillResult {
  logRange: number;
  blocks: number;
  events: number;
  seconds: number;
  steps: number;
  /** Most events applied in one step (one SQLite transaction). */
  maxStepEvents: number;
  /** Longest event-loop stall seen while indexing: the synchronous apply of one step, mostly. */
  maxLoopBlockMs: number;
  rpcStats: RpcStats;
  dbBytes: number;
  db: Db;
  dbFile: string;
}

/**
 * Indexes the chain from the deployment's start block to the head into a new file-backed SQLite
 * database (WAL, synchronous=FULL, as the node opens it) and times it. The database stays open for
 * the caller (the reorganisation benchmark continues on it).
 */
export async function runBackfill(options: {
  url: string;
  deployment: DeploymentRecord;
  logRange: number;
  reorgWindow: number;
  dir: string;
}): Promise<BackfillResult> {
  const dbFile = path.join(options.dir, `backfill-range-${options.logRange}.sqlite`);
  const db = openDatabase(dbFile);
  const { rpc, stats } = instrumentRpc(createRpcClient(options.url));
  const indexer = createLotlineIndexer(
    // Every read through the instrumented client, none on the reader thread (ADR 0039).
    { db, rpc, deployment: options.deployment, readOffThread: false },
    { finalityDepth: 0, reorgWindow: options.reorgWindow, logRange: options.logRange, rpcUrl: options.url },
  );

  let steps = 0;
  let maxStepEvents = 0;
  const loopDelay = monitorEventLoopDelay({ resolution: 5 });
  loopDelay.enable();
  const t0 = performance.now();
  for (;;) {
    const step = await indexer.step();
    if (step.type === "idle") break;
    if (step.type !== "blocks") throw new Error(`unexpected indexer step during backfill: ${JSON.stringify(step)}`);
    steps++;
    maxStepEvents = Math.max(maxStepEvents, step.events);
    if (steps % 25 === 0) progress(`  logRange ${options.logRange}: indexed to block ${step.to}`);
  }
  const seconds = (performance.now() - t0) / 1000;
  loopDelay.disable();

  const checkpoint = db.prepare(`SELECT block_number AS n FROM indexer_checkpoint WHERE id = 1`).get() as { n: number };
  const events = (db.prepare(`SELECT COUNT(*) AS n FROM chain_events`).get() as { n: number }).n;
  const dbBytes = [dbFile, `${dbFile}-wal`].reduce((sum, f) => sum + (fs.existsSync(f) ? fs.statSync(f).size : 0), 0);
  return {
    logRange: options.logRange,
    blocks: checkpoint.n - options.deployment.startBlock + 1,
    events,
    seconds,
    steps,
    maxStepEvents,
    maxLoopBlockMs: loopDelay.max / 1e6,
    rpcStats: stats,
    dbBytes,
    db,
    dbFile,
  };
}
