import { expect } from "chai";
import { createRpcClient, type RpcClient, type RpcLog } from "../../../services/chain/rpc";
import { dumpDerivedTables, openDatabase } from "../../../services/store/db";
import { createLotlineIndexer } from "../../../services/indexer/lotline";
import { demoWallet } from "../../../services/demo/roster";
import { deployDemo, freshRebuildDump, startHardhatNode } from "../../helpers/chain";

/**
 * The race the indexer must survive: the chain switches forks after the indexer read a block's logs
 * and before it read that block's header. Read in that order, the old fork's (empty) logs would be
 * applied under the new fork's header, and the new fork's events would be lost for good, because
 * the checkpoint would then carry the new fork's hash and no reorganisation would ever be seen.
 */
describe("indexer: a reorganisation between reading logs and headers", function () {
  let node: Awaited<ReturnType<typeof startHardhatNode>>;
  let demo: Awaited<ReturnType<typeof deployDemo>>;

  before(async function () {
    node = await startHardhatNode();
    demo = await deployDemo(node.url);
  });

  after(async function () {
    demo.provider.destroy();
    await node.stop();
  });

  /** An RPC client that runs `switchFork` once, right after the first log read at or above `height`. */
  function racingClient(height: number, switchFork: () => Promise<void>): RpcClient {
    const rpc = createRpcClient(node.url);
    let switched = false;
    const afterLogs = async (logs: RpcLog[], blocks: number[]) => {
      if (!switched && blocks.some((n) => n >= height)) {
        switched = true;
        await switchFork();
      }
      return logs;
    };
    return {
      ...rpc,
      async getLogs(filter) {
        const blocks = [];
        for (let n = filter.fromBlock; n <= filter.toBlock; n++) blocks.push(n);
        return afterLogs(await rpc.getLogs(filter), blocks);
      },
      async getBlockLogs(blockHash, address) {
        const block = (await demo.provider.getBlock(blockHash)) ?? null;
        const logs = await rpc.getBlockLogs(blockHash, address);
        return afterLogs(logs, block ? [block.number] : []);
      },
    };
  }

  it("never applies the new fork's blocks without their logs", async function () {
    const db = openDatabase(":memory:");
    const syncIndexer = createLotlineIndexer(
      { db, rpc: createRpcClient(node.url), deployment: demo.deployment },
      { finalityDepth: 0, reorgWindow: 64, logRange: 2_000, rpcUrl: node.url },
    );
    await syncIndexer.syncToHead();
    const snapshot = await demo.provider.send("evm_snapshot", []);
    const forkHeight = (await demo.provider.getBlockNumber()) + 1;

    // Fork A: three blocks without a Lotline event.
    for (let i = 0; i < 3; i++) await demo.provider.send("evm_mine", []);
    // Fork B, switched to mid-read: a suspension in its first block, and as many blocks as A.
    const switchToForkB = async () => {
      await demo.provider.send("evm_revert", [snapshot]);
      const governor = demo.contracts.registry.connect(demoWallet(0, demo.provider));
      await (await governor.suspendOrganisation(6, "fork B")).wait();
      for (let i = 0; i < 2; i++) await demo.provider.send("evm_mine", []);
    };

    const indexer = createLotlineIndexer(
      { db, rpc: racingClient(forkHeight, switchToForkB), deployment: demo.deployment },
      { finalityDepth: 0, reorgWindow: 64, logRange: 2_000, rpcUrl: node.url },
    );
    for (let steps = 0; steps < 20; steps++) {
      const step = await indexer.step();
      if (step.type === "idle") break;
    }
    expect(db.prepare(`SELECT status FROM organisations WHERE org_id = 6`).get()).to.deep.equal({ status: "suspended" });
    expect(dumpDerivedTables(db)).to.equal(await freshRebuildDump(node.url, demo.deployment));
    db.close();
  });
});
