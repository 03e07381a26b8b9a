import path from "node:path";
import { expect } from "chai";
import { createRpcClient, type RpcClient } from "../../../services/chain/rpc";
import { dumpDerivedTables, openDatabase, type Db } from "../../../services/store/db";
import { createIndexer } from "../../../services/indexer/engine";
import { LOTLINE_HANDLERS } from "../../../services/indexer/lotline";
import type { IndexerStep } from "../../../services/indexer/types";
import { rolesToMask } from "../../../services/chain/roles";
import { demoWallet } from "../../../services/demo/roster";
import { deployDemo, freshRebuildDump, startAnvil, tempDir } from "../../helpers/chain";

/**
 * The reorg window read ahead (services/indexer/engine.ts, docs/adr/0038): while a catching-up step
 * writes, the window blocks of the next step are read (each header, then its logs by hash), and the
 * blocks a step read past its cut are kept for the next. Those blocks are applied only as part of a
 * chain of parent hashes from the checkpoint, and are dropped when the chain moved.
 *
 * Every block of the demo lies inside a 64-block window here; steps apply at most two events, so a
 * window of a few dozen blocks takes many steps, each reading ahead for the next.
 */
describe("indexer: the reorg window read ahead", function () {
  let chain: Awaited<ReturnType<typeof startAnvil>>;
  let demo: Awaited<ReturnType<typeof deployDemo>>;
  /** The chain before the blocks of forks A and B (an Anvil snapshot id, taken again after each revert). */
  let base: string;

  before(async function () {
    chain = await startAnvil();
    demo = await deployDemo(chain.url);
    base = await demo.provider.send("evm_snapshot", []);
  });

  after(async function () {
    demo.provider.destroy();
    await chain.stop();
  });

  /** Mines `blocks` blocks of one agent change each (the fork's own agent and roles), on top of what is there. */
  async function mineFork(name: "A" | "B", blocks: number): Promise<void> {
    const admin = demo.contracts.registry.connect(demoWallet(2, demo.provider));
    const agent = demoWallet(name === "A" ? 18 : 17).address;
    for (let i = 0; i < blocks; i++) {
      const roles = rolesToMask(i % 2 === (name === "A" ? 0 : 1) ? ["processor"] : ["buyer"]);
      await (await admin.setAgent(agent, 2, roles, 0)).wait();
    }
  }

  /** Back to the chain before any fork, keeping a snapshot of it for the next test. */
  async function backToBase(): Promise<void> {
    await demo.provider.send("evm_revert", [base]);
    base = await demo.provider.send("evm_snapshot", []);
  }

  function indexerOn(db: Db, rpc: RpcClient) {
    return createIndexer({
      db,
      rpc,
      contracts: demo.deployment.contracts,
      startBlock: demo.deployment.startBlock,
      handlers: LOTLINE_HANDLERS,
      finalityDepth: 0,
      reorgWindow: 64,
      rebuildOnDeepReorg: false,
      maxRange: 4,
      maxEventsPerStep: 2,
      catchUpEventsPerStep: 2,
    });
  }

  const checkpointOf = (db: Db) => (db.prepare(`SELECT block_number AS n FROM indexer_checkpoint`).get() as { n: number } | undefined)?.n ?? -1;

  /**
   * An RPC client recording each read of a block's logs by hash: the block's number and the
   * checkpoint when it was asked for. `afterRead(i)` runs after the i-th such read is answered.
   */
  function recordingRpc(db: Db, afterRead: (index: number) => Promise<void> = async () => undefined) {
    const rpc = createRpcClient(chain.url);
    const numberOf = new Map<string, number>();
    const reads: { block: number; checkpoint: number }[] = [];
    const client: RpcClient = {
      ...rpc,
      async getBlock(n) {
        const block = await rpc.getBlock(n);
        if (block) numberOf.set(block.hash, block.number);
        return block;
      },
      async getBlockLogs(hash, address) {
        const read = { block: numberOf.get(hash) ?? -1, checkpoint: checkpointOf(db) };
        const logs = await rpc.getBlockLogs(hash, address);
        reads.push(read);
        await afterRead(reads.length);
        return logs;
      },
    };
    return { rpc: client, reads };
  }

  async function stepToIdle(indexer: ReturnType<typeof indexerOn>): Promise<IndexerStep[]> {
    const steps: IndexerStep[] = [];
    for (let i = 0; i < 500; i++) {
      const step = await indexer.step();
      if (step.type === "idle") return steps;
      steps.push(step);
    }
    throw new Error("the indexer did not reach the head in 500 steps");
  }

  /** A read is ahead when it was asked for before the step before its block's step had committed. */
  function readsAhead(reads: { block: number; checkpoint: number }[], steps: IndexerStep[]): number {
    const stepFrom = new Map<number, number>();
    for (const step of steps) if (step.type === "blocks") for (let n = step.from; n <= step.to; n++) stepFrom.set(n, step.from);
    return reads.filter((r) => r.checkpoint < (stepFrom.get(r.block) ?? 0) - 1).length;
  }

  it("reads each window block once, most of them while the step before writes, and ends with a fresh rebuild's tables", async function () {
    await backToBase();
    await mineFork("A", 12);
    const db = openDatabase(":memory:");
    const { rpc, reads } = recordingRpc(db);
    const steps = await stepToIdle(indexerOn(db, rpc));
    expect(steps.every((s) => s.type === "blocks")).to.equal(true);
    expect(steps.length).to.be.greaterThan(20);
    const blocks = reads.map((r) => r.block);
    expect(new Set(blocks).size, "window blocks read more than once").to.equal(blocks.length);
    expect(readsAhead(reads, steps)).to.be.greaterThan(reads.length / 2);
    expect(dumpDerivedTables(db)).to.equal(await freshRebuildDump(chain.url, demo.deployment));
    db.close();
  });

  it("applies the new fork's blocks when the chain switches forks after the old fork's blocks were read ahead", async function () {
    await backToBase();
    const forkPoint = (await demo.provider.getBlockNumber()) + 1;
    await mineFork("A", 12);
    // A first pass over fork A says which read of a block's logs is the first one made ahead of
    // its step, for a block of the fork; the same reads come in the same order on the same chain.
    const learn = openDatabase(":memory:");
    const learning = recordingRpc(learn);
    const learnt = await stepToIdle(indexerOn(learn, learning.rpc));
    learn.close();
    const stepFrom = new Map<number, number>();
    for (const step of learnt) if (step.type === "blocks") for (let n = step.from; n <= step.to; n++) stepFrom.set(n, step.from);
    const switchAt = learning.reads.findIndex((r) => r.block >= forkPoint + 2 && r.checkpoint < stepFrom.get(r.block)! - 1) + 1;
    expect(switchAt, "no read of fork A ahead of its step").to.be.greaterThan(0);

    // Then again, switching to fork B (as long, other agent changes) right after that read.
    const db = openDatabase(":memory:");
    let switched = false;
    const { rpc } = recordingRpc(db, async (index) => {
      if (index !== switchAt) return;
      switched = true;
      await backToBase();
      await mineFork("B", 13);
    });
    const steps = await stepToIdle(indexerOn(db, rpc));
    expect(switched).to.equal(true);
    // The old fork's blocks read ahead were either refused (a retry) or applied and rolled back.
    expect(steps.some((s) => s.type === "retry" || s.type === "reorg")).to.equal(true);
    expect(dumpDerivedTables(db)).to.equal(await freshRebuildDump(chain.url, demo.deployment));
    db.close();
  });

  it("leaves nothing of a read ahead behind when the indexer stops mid-way: another indexer on the file ends with a fresh rebuild's tables", async function () {
    await backToBase();
    await mineFork("A", 12);
    const head = await demo.provider.getBlockNumber();
    const file = path.join(tempDir("window-read-ahead"), "lotline.sqlite");
    const first = openDatabase(file);
    const { rpc } = recordingRpc(first);
    const stopped = indexerOn(first, rpc);
    // Step until a step inside the window left blocks behind it: the next step's blocks are being read.
    for (;;) {
      const step = await stopped.step();
      expect(step.type).to.equal("blocks");
      if (step.type === "blocks" && step.from > head - 64 && step.to < head - 4) break;
    }
    // The process ends here as a crash ends it: the read under way is lost with it.
    const second = openDatabase(file);
    await indexerOn(second, createRpcClient(chain.url)).syncToHead();
    expect(checkpointOf(second)).to.equal(head);
    expect(dumpDerivedTables(second)).to.equal(await freshRebuildDump(chain.url, demo.deployment));
    await stopped.stop();
    first.close();
    second.close();
  });
});
