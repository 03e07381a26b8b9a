import path from "node:path";
import Database from "better-sqlite3";
import { createRpcClient } from "../../services/chain/rpc";
import { dumpDerivedTables } from "../../services/store/db";
import type { Indexer } from "../../services/indexer/engine";
import { createLotlineIndexer } from "../../services/indexer/lotline";
import type { IndexerStep } from "../../services/indexer/types";
import { openDatabase } from "../../services/store/db";
import { writeDeploymentFile } from "../../test/helpers/chain";
import { freePort } from "../../test/helpers/ports";
import { startFaultProxy } from "./fault-proxy";
import { Cleanup, createTraffic, firstDifference, progress, nodeEnv, rebuildDump, Report, sleep, spawnNode, type ChainContext, type Rng } from "./util";

/**
 * A node behind a fault-injecting JSON-RPC proxy (latency, dropped connections, 5xx, 429, timeouts,
 * truncated JSON, range errors, a lagging head) follows a chain that keeps growing, with a share of
 * its calls faulted and whole outages. Checked throughout: the checkpoint never passes a block whose
 * logs were not read in full; /health says degraded during each outage. At the end: the node's
 * state equals a clean run (a rebuild straight from the chain).
 */
export async function rpcFaultsHarness(ctx: ChainContext, random: Rng, quick: boolean, cleanup: Cleanup): Promise<Report> {
  const report = new Report("rpc-faults");
  const outageSeconds = quick ? 5 : 30;
  const outages = 3;
  const faultRate = 0.2;
  const staleSeconds = 2;
  const proxy = await startFaultProxy({ upstream: ctx.url, random, faultRate, hangMs: 1_500 });
  cleanup.add(() => proxy.stop());
  const traffic = createTraffic(ctx, random);

  // Part 1, the indexer alone at a one-block log range: every kind of fault hits log reads.
  report.try(`an indexer (log range 4) backfilling ${await ctx.rpc.blockNumber()} blocks through the proxy with ${faultRate * 100} % of calls faulted`);
  const db = openDatabase(":memory:");
  const indexer = createLotlineIndexer(
    { db, rpc: createRpcClient(proxy.url, { timeoutMs: 1_000 }), deployment: ctx.deployment },
    { finalityDepth: 0, reorgWindow: 16, logRange: 4, rpcUrl: proxy.url },
  );
  const cpOf = (d: { prepare: Database.Database["prepare"] }) =>
    (d.prepare(`SELECT block_number AS n, block_hash AS h FROM indexer_checkpoint`).get() as { n: number; h: string } | undefined) ?? null;
  let checkedUpTo = ctx.deployment.startBlock;
  const hashes = new Map<number, string>();
  async function checkCheckpoint(cp: { n: number } | null, where: string) {
    if (!cp) return;
    for (let n = checkedUpTo + 1; n <= cp.n; n++) {
      if (!hashes.has(n)) hashes.set(n, (await ctx.rpc.getBlock(n))!.hash);
      if (!report.check(proxy.wasRead(n, hashes.get(n)!), `${where}: the checkpoint (${cp.n}) passed block ${n}, whose logs were never read in full`)) return;
    }
    checkedUpTo = Math.max(checkedUpTo, cp.n);
  }
  const run = await stepToChainHead(indexer, () => cpOf(db)?.n ?? null, () => ctx.rpc.blockNumber(), {
    afterStep: () => checkCheckpoint(cpOf(db), "indexer"),
  });
  const { steps, errors, idleBelowHead } = run;
  if (run.gaveUp) report.check(false, "the indexer makes progress through faults", run.gaveUp);
  const fresh = await rebuildDump(ctx.url, ctx.deployment);
  const dump = dumpDerivedTables(db);
  db.close();
  if (report.check(dump === fresh.dump, "the faulted backfill equals a clean run", firstDifference(dump, fresh.dump)))
    report.hold(
      `backfill through faults: ${steps} steps, ${errors} failed steps retried, ${idleBelowHead} idle below the head (a lagging answer), state equal to a clean run, checkpoint never ahead of what was read`,
    );

  // Part 2, a whole node following a growing chain through faults and outages.
  checkedUpTo = ctx.deployment.startBlock;
  const dataDir = cleanup.tempDir("rpc-faults");
  const node = await spawnNode(
    nodeEnv(ctx, dataDir, writeDeploymentFile(dataDir, ctx.deployment), {
      LOTLINE_RPC_URL: proxy.url,
      LOTLINE_HEAD_STALE_SECONDS: String(staleSeconds),
      LOTLINE_LOG_RANGE: "8",
    }),
    await freePort(),
  );
  cleanup.add(() => node.kill());
  proxy.setFaultRate(0);
  await node.ready();
  proxy.setFaultRate(faultRate);
  const nodeDb = new Database(path.join(dataDir, "lotline.sqlite"), { readonly: true, fileMustExist: true });
  cleanup.add(() => nodeDb.close());
  const health = async () => {
    try {
      const res = await fetch(`${node.url}/health`, { signal: AbortSignal.timeout(2_000) });
      return (await res.json()) as { status: string; reason?: string | null };
    } catch (err) {
      return { status: `unreachable: ${(err as Error).message}` };
    }
  };
  report.try(
    `a node (lotline up, LOTLINE_HEAD_STALE_SECONDS=${staleSeconds}) following a growing chain through the proxy, ${faultRate * 100} % faulted, ${outages} outages of ${outageSeconds} s`,
  );
  const degradedSeen: number[] = [];
  for (let o = 0; o < outages; o++) {
    // Traffic and faults between outages.
    for (let i = 0; i < 10; i++) {
      await traffic.one(`faults${o}`);
      await checkCheckpoint(cpOf(nodeDb), "node");
      await sleep(random.int(20, 200));
    }
    proxy.setOutage(true);
    const t0 = Date.now();
    let seen: number | null = null;
    while (Date.now() - t0 < outageSeconds * 1_000) {
      await traffic.one(`outage${o}`);
      const h = await health();
      if (seen === null && h.status === "degraded") seen = (Date.now() - t0) / 1000;
      await sleep(250);
    }
    proxy.setOutage(false);
    report.check(seen !== null, `outage ${o + 1}: /health says degraded`, `it never did within ${outageSeconds} s`);
    if (seen !== null) degradedSeen.push(seen);
    progress(`rpc-faults: outage ${o + 1}/${outages} done (degraded after ${seen ?? "never"} s)`);
  }
  // Let it catch up without faults, then compare with a clean run.
  proxy.setFaultRate(0);
  const head = await ctx.rpc.blockNumber();
  const deadline = Date.now() + 60_000;
  while ((cpOf(nodeDb)?.n ?? 0) < head && Date.now() < deadline) await sleep(100);
  await checkCheckpoint(cpOf(nodeDb), "node");
  const after = await health();
  report.check(after.status === "ok", "after the outages /health says ok again", JSON.stringify(after));
  const nodeDump = dumpDerivedTables(nodeDb as never);
  const clean = await rebuildDump(ctx.url, ctx.deployment);
  report.check(nodeDump === clean.dump, "the node's final state equals a clean run", firstDifference(nodeDump, clean.dump));
  const faults = [...proxy.counts.entries()].map(([k, v]) => `${k} ${v}`).join(", ");
  report.try(`${proxy.calls} JSON-RPC calls through the proxy; faults injected: ${faults}`);
  if (report.violations.length === 0)
    report.hold(
      `node through faults and ${outages} outages: degraded after ${degradedSeen.map((s) => s.toFixed(1)).join(", ")} s of each outage, ok after, final state equal to a clean run, checkpoint never ahead of what was read`,
    );
  await node.kill();
  return report;
}

/**
 * Steps an indexer until its checkpoint reaches the head the chain itself reports (`chainHead`, read
 * past the proxy), and returns what it took. An idle step is not the end: through a lagging node
 * (the proxy's "lagging" fault) the indexer is rightly idle at the head it was told, below the real
 * one, and the next step reads the head again. Stopping at the first idle step compared an index
 * short of the head with a clean run: a clean-clone CI run (seed 868437) reported the last event
 * (block 99, log 0) missing when the last step's eth_blockNumber was answered one block behind.
 * Gives up (`gaveUp` says why) after `maxFailures` failed steps or `maxIdle` idle ones.
 */
export async function stepToChainHead(
  indexer: Pick<Indexer, "step">,
  checkpoint: () => number | null,
  chainHead: () => Promise<number>,
  options: { afterStep?: (step: IndexerStep) => unknown; maxFailures?: number; maxIdle?: number; idlePauseMs?: number } = {},
): Promise<{ steps: number; errors: number; idleBelowHead: number; gaveUp: string | null }> {
  const maxFailures = options.maxFailures ?? 200;
  const maxIdle = options.maxIdle ?? 200;
  let steps = 0;
  let errors = 0;
  let idleBelowHead = 0;
  for (;;) {
    let step: IndexerStep;
    try {
      step = await indexer.step();
      steps++;
    } catch (err) {
      // A fault that outlasted the retries: the step failed as a whole, the next one starts over.
      if (++errors > maxFailures)
        return { steps, errors, idleBelowHead, gaveUp: `${errors} failed steps, the last: ${(err as Error).message}` };
      continue;
    }
    await options.afterStep?.(step);
    if (step.type !== "idle") continue;
    const head = await chainHead();
    if ((checkpoint() ?? -1) >= head) return { steps, errors, idleBelowHead, gaveUp: null };
    if (++idleBelowHead > maxIdle)
      return { steps, errors, idleBelowHead, gaveUp: `idle ${idleBelowHead} times at ${checkpoint()}, below the chain head ${head}` };
    await sleep(options.idlePauseMs ?? 20);
  }
}
