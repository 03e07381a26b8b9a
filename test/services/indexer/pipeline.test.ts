import { expect } from "chai";
import { createRpcClient, type RpcClient } from "../../../services/chain/rpc";
import { dumpDerivedTables, openDatabase, type Db } from "../../../services/store/db";
import { deployDemo, freshRebuildDump, smallStepIndexer, startAnvil } from "../../helpers/chain";

/**
 * The backfill pipeline (services/indexer/engine.ts, docs/performance.md "Backfill"): while a step
 * fetches its blocks and writes, the next final range is read ahead. The demo's events lie below a
 * small reorg window (64 empty blocks mined after the seed), read in ranges of at most 4 blocks and
 * 5 events per step so that the backfill takes many steps.
 */
describe("indexer: the next range read ahead", function () {
  let chain: Awaited<ReturnType<typeof startAnvil>>;
  let demo: Awaited<ReturnType<typeof deployDemo>>;
  let fresh: string;

  before(async function () {
    chain = await startAnvil();
    demo = await deployDemo(chain.url);
    await demo.provider.send("anvil_mine", ["0x40"]);
    fresh = await freshRebuildDump(chain.url, demo.deployment);
  });

  after(async function () {
    demo.provider.destroy();
    await chain.stop();
  });

  /** An RPC client that records every eth_getLogs range and may fail chosen calls. */
  function recordingRpc(failGetLogs: (call: number) => boolean = () => false, checkpoint: () => number = () => -1) {
    const base = createRpcClient(chain.url);
    /** [from, to, the checkpoint when the range was asked for]. */
    const ranges: [number, number, number][] = [];
    let calls = 0;
    const rpc: RpcClient = {
      ...base,
      getLogs: async (filter) => {
        if (failGetLogs(++calls)) throw new Error("connection reset (test)");
        ranges.push([filter.fromBlock, filter.toBlock, checkpoint()]);
        return base.getLogs(filter);
      },
    };
    return { rpc, ranges };
  }

  const indexer = (db: Db, rpc: RpcClient) => smallStepIndexer(db, rpc, demo.deployment);

  const checkpointOf = (db: Db) => (db.prepare(`SELECT block_number AS n FROM indexer_checkpoint`).get() as { n: number } | undefined)?.n ?? -1;
  const newestEvent = (db: Db) => (db.prepare(`SELECT MAX(block_number) AS n FROM chain_events`).get() as { n: number | null }).n ?? -1;

  it("reads each range once, ahead of its step, and ends with the tables of a fresh rebuild", async function () {
    const db = openDatabase(":memory:");
    const { rpc, ranges } = recordingRpc(undefined, () => checkpointOf(db));
    const ix = indexer(db, rpc);
    let steps = 0;
    for (;;) {
      const result = await ix.step();
      if (result.type === "idle") break;
      expect(result.type).to.equal("blocks");
      steps++;
      // The checkpoint is never ahead of what was written, nor behind it.
      expect(newestEvent(db)).to.be.at.most(checkpointOf(db));
    }
    expect(steps).to.be.greaterThan(10);
    // Ranges follow each other; none is read twice (a range read ahead is the step's own).
    for (let i = 1; i < ranges.length; i++) expect(ranges[i][0], `range ${i}`).to.be.greaterThan(ranges[i - 1][1]);
    // Most ranges were asked for before the step before them had written (its checkpoint still short of them).
    const ahead = ranges.filter(([from, , cp]) => cp < from - 1).length;
    expect(ahead).to.be.greaterThan(ranges.length / 2);
    expect(dumpDerivedTables(db)).to.equal(fresh);
    db.close();
  });

  it("reads a range again when reading it ahead failed", async function () {
    const db = openDatabase(":memory:");
    // Every third eth_getLogs fails once: among them ranges read ahead (no retry there) and steps' own reads (retried).
    const { rpc } = recordingRpc((call) => call % 3 === 0);
    await indexer(db, rpc).syncToHead();
    expect(dumpDerivedTables(db)).to.equal(fresh);
    db.close();
  });

  it("drops the range read ahead when the chain changes under it (a rebuild from the chain's start)", async function () {
    const db = openDatabase(":memory:");
    const { rpc } = recordingRpc();
    const ix = indexer(db, rpc);
    for (let i = 0; i < 4; i++) expect((await ix.step()).type).to.equal("blocks");
    const ahead = checkpointOf(db) + 1;
    // An operator's rebuild while a range past the checkpoint is read ahead: the next step starts
    // from the chain's start and must not take the range read for where the checkpoint was.
    ix.rebuild("test");
    const first = await ix.step();
    expect(first).to.include({ type: "blocks", from: demo.deployment.startBlock });
    expect(ahead).to.be.greaterThan(demo.deployment.startBlock);
    await ix.syncToHead();
    expect(dumpDerivedTables(db)).to.equal(fresh);
    db.close();
  });
});
