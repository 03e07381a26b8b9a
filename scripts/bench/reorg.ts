import { createRpcClient, type RpcClient } from "../../services/chain/rpc";
import type { DeploymentRecord } from "../../services/chain/deploy";
import { rolesToMask } from "../../services/chain/roles";
import type { Db } from "../../services/store/db";
import { createLotlineIndexer } from "../../services/indexer/lotline";
import { benchAddress, type LoadGenerator } from "./chain-load";
import { instrumentRpc, progress } from "./util";

export interface ReorgResult {
  depth: number;
  /** Journal entries above the common ancestor before the rollback. */
  journalEntries: number;
  undone: number;
  stepMs: number;
  rpcCalls: number;
  rpcMs: number;
  reapplyMs: number;
}

/**
 * For each depth K: snapshot the chain, mine fork A (K blocks of setAgent updates of existing
 * proposals, so the journal holds row images), index it, revert to the snapshot, mine fork B (K + 1
 * blocks of proposals to new addresses), then time the one indexer step that detects the reorganisation,
 * finds the common ancestor and runs rollbackJournal; then the steps that apply fork B.
 */
export async function runReorgs(options: {
  url: string;
  chainRpc: RpcClient;
  deployment: DeploymentRecord;
  db: Db;
  load: LoadGenerator;
  depths: number[];
  txPerBlock: number;
  reorgWindow: number;
  /** Addresses the processor organisation has already proposed (the load), whose proposals fork A updates. */
  existingAgents: string[];
}): Promise<ReorgResult[]> {
  const { db, load, chainRpc } = options;
  const { rpc, stats } = instrumentRpc(createRpcClient(options.url));
  const indexer = createLotlineIndexer(
    { db, rpc, deployment: options.deployment },
    { finalityDepth: 0, reorgWindow: options.reorgWindow, logRange: 2_000, rpcUrl: options.url },
  );
  const checkpoint = db.prepare(`SELECT block_number AS n FROM indexer_checkpoint WHERE id = 1`);

  const results: ReorgResult[] = [];
  let updated = 0;
  for (const depth of options.depths) {
    if (depth > options.reorgWindow) throw new Error(`reorg depth ${depth} exceeds the reorg window ${options.reorgWindow}`);
    const fork = depth * options.txPerBlock;
    if (updated + fork > options.existingAgents.length) updated = 0;
    await indexer.syncToHead();
    const ancestor = checkpoint.get() as { n: number };
    const snapshot = await chainRpc.call<string>("evm_snapshot", []);
    progress(`  depth ${depth}: fork A (${depth} blocks × ${options.txPerBlock} proposal updates)`);
    await load.setAgents(options.existingAgents.slice(updated, updated + fork), rolesToMask(["processor", "receiver"]), {
      perBlock: options.txPerBlock,
    });
    updated += fork;
    await indexer.syncToHead();
    const journalEntries = (
      db.prepare(`SELECT COUNT(*) AS n FROM reorg_journal WHERE block_number > ?`).get(ancestor.n) as { n: number }
    ).n;

    if (!(await chainRpc.call<boolean>("evm_revert", [snapshot]))) throw new Error("evm_revert refused the snapshot");
    progress(`  depth ${depth}: fork B (${depth + 1} blocks of new agents)`);
    const forkB = Array.from({ length: (depth + 1) * options.txPerBlock }, (_, i) => benchAddress(`fork-b-${depth}`, i));
    await load.setAgents(forkB, rolesToMask(["processor"]), { perBlock: options.txPerBlock });

    stats.reset();
    const t0 = performance.now();
    const step = await indexer.step();
    const stepMs = performance.now() - t0;
    if (step.type !== "reorg") throw new Error(`expected a reorg step, got ${JSON.stringify(step)}`);
    if (step.ancestor !== ancestor.n)
      throw new Error(`expected the common ancestor ${ancestor.n}, the indexer found ${step.ancestor}`);
    const rpcCalls = stats.totalCalls();
    const rpcMs = stats.busyMs;
    const t1 = performance.now();
    await indexer.syncToHead();
    const reapplyMs = performance.now() - t1;
    results.push({ depth, journalEntries, undone: step.undone, stepMs, rpcCalls, rpcMs, reapplyMs });
    progress(`  depth ${depth}: rolled back ${step.undone} journal entries in ${stepMs.toFixed(1)} ms`);
  }
  return results;
}
