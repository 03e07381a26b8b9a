
import { dumpDerivedTables, openDatabase } from "../../services/store/db";
import { createLotlineIndexer } from "../../services/indexer/lotline";
import { IndexerHaltedError } from "../../services/indexer/types";
import { createRpcClient as rpcClient } from "../../services/chain/rpc";
import { deployDemo, startHardhatNode } from "../../test/helpers/chain";
import { createTraffic, firstDifference, progress, rebuildDump, Report, type ChainContext, type Cleanup, type Rng } from "./util";

const WINDOW = 32;

/**
 * Reorganisations injected while the indexer follows: snapshot the chain, mine fork A (1–20 blocks),
 * let the indexer follow part or all of it, revert, mine fork B (sometimes shorter, so the head falls
 * below the checkpoint), follow again. After each, the derived tables must equal a fresh rebuild
 * and the journal must hold nothing above the checkpoint. Last, a fork deeper than the window must
 * halt the indexer with a clear error.
 *
 * Runs on a Hardhat node of its own: Anvil 1.7's evm_revert and anvil_rollback lose blocks after a
 * few dozen uses (a block below the head answers null), which would test Anvil, not Lotline.
 */
export async function reorgHarness(_shared: ChainContext, random: Rng, quick: boolean, cleanup: Cleanup): Promise<Report> {
  const report = new Report("reorg");
  progress("reorg: starting a Hardhat node and deploying the demo consortium");
  const node = await startHardhatNode();
  cleanup.add(() => node.stop());
  const demo = await deployDemo(node.url);
  demo.provider.destroy();
  const ctx: ChainContext = { url: node.url, rpc: rpcClient(node.url), deployment: demo.deployment, dataDir: "" };
  const rounds = quick ? 50 : 500;
  const traffic = createTraffic(ctx, random);
  const db = openDatabase(":memory:");
  const indexer = createLotlineIndexer(
    { db, rpc: rpcClient(ctx.url), deployment: ctx.deployment },
    { finalityDepth: 0, reorgWindow: WINDOW, logRange: 2_000, rpcUrl: ctx.url },
  );
  const checkpoint = () => (db.prepare(`SELECT block_number AS n FROM indexer_checkpoint`).get() as { n: number }).n;
  await indexer.syncToHead();
  const depths: number[] = [];
  let reorgSteps = 0;
  let shorter = 0;
  report.try(`${rounds} reorganisations of depth 1–20 (reorg window ${WINDOW}), the indexer stepping through fork A partly or fully before the switch`);
  for (let round = 0; round < rounds; round++) {
    const depth = random.int(1, 20);
    depths.push(depth);
    const snapshot = await ctx.rpc.call<string>("evm_snapshot", []);
    await traffic.many(depth, `a${round}`);
    // Follow part of fork A (or all of it) before the switch: the reorg hits the indexer mid-follow.
    const steps = random.int(1, 3);
    for (let s = 0; s < steps; s++) await indexer.step();
    if (!(await ctx.rpc.call<boolean>("evm_revert", [snapshot]))) throw new Error("evm_revert refused the snapshot");
    const lengthB = random.chance(0.2) ? random.int(0, Math.max(0, depth - 1)) : random.int(depth, depth + 3);
    if (lengthB < depth) shorter++;
    await traffic.many(lengthB, `b${round}`);
    try {
      for (;;) {
        const step = await indexer.step();
        if (step.type === "reorg") reorgSteps++;
        if (step.type === "idle") break;
      }
    } catch (err) {
      report.check(false, `round ${round} (depth ${depth})`, `the indexer failed: ${(err as Error).message}`);
      break;
    }
    if (round % (quick ? 5 : 20) === 0 || round === rounds - 1) {
      const fresh = await rebuildDump(ctx.url, ctx.deployment);
      const dump = dumpDerivedTables(db);
      report.check(dump === fresh.dump, `round ${round} (depth ${depth}): state equals a fresh rebuild`, firstDifference(dump, fresh.dump));
      const above = db.prepare(`SELECT COUNT(*) AS n FROM reorg_journal WHERE block_number > ?`).get(checkpoint()) as { n: number };
      report.check(above.n === 0, `round ${round}: no journal entries above the checkpoint`, `${above.n} left`);
      progress(`reorg: ${round + 1}/${rounds} rounds, ${reorgSteps} reorg steps`);
    }
  }
  report.try(`state compared with a fresh rebuild every ${quick ? 5 : 20} rounds and after the last`);
  if (report.violations.length === 0)
    report.hold(
      `${rounds} reorganisations (depths ${Math.min(...depths)}–${Math.max(...depths)}, ${shorter} onto a shorter fork), ${reorgSteps} rollbacks: state equal to a rebuild, journal clean`,
    );

  // Deeper than the window: a shared network must halt, never guess.
  const snapshot = await ctx.rpc.call<string>("evm_snapshot", []);
  await traffic.many(WINDOW + 4, "deep-a");
  await indexer.syncToHead();
  await ctx.rpc.call<boolean>("evm_revert", [snapshot]);
  await traffic.many(WINDOW + 6, "deep-b");
  let error: unknown = null;
  try {
    await indexer.syncToHead();
  } catch (err) {
    error = err;
  }
  report.try(`a reorganisation of ${WINDOW + 4} blocks, deeper than the window`);
  if (
    report.check(error instanceof IndexerHaltedError, "a deeper reorganisation halts the indexer", String(error)) &&
    report.check(/deeper than the reorg window/.test((error as Error).message), "the halt says why", (error as Error).message)
  )
    report.hold(`deeper than the window halts: "${(error as Error).message}"`);
  db.close();
  return report;
}
