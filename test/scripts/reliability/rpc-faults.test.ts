import { expect } from "chai";
import { createRpcClient } from "../../../services/chain/rpc";
import { createLotlineIndexer } from "../../../services/indexer/lotline";
import { dumpDerivedTables, openDatabase } from "../../../services/store/db";
import { startFaultProxy } from "../../../scripts/reliability/fault-proxy";
import { stepToChainHead } from "../../../scripts/reliability/rpc-faults";
import { createTraffic, rng } from "../../../scripts/reliability/util";
import { deployDemo, freshRebuildDump, startAnvil, tempDir } from "../../helpers/chain";

describe("npm run reliability: the RPC-fault harness's backfill", function () {
  it("runs to the chain's own head when the node answers a head one block behind as the index reaches it", async function () {
    const chain = await startAnvil();
    const demo = await deployDemo(chain.url);
    demo.provider.destroy();
    const rpc = createRpcClient(chain.url);
    // The last block holds an event, as block 99 did in the CI run that stopped one block short.
    const before = await rpc.blockNumber();
    await createTraffic({ url: chain.url, rpc, deployment: demo.deployment, dataDir: tempDir("rpc-faults-test") }, rng(1)).one(
      "last",
    );
    // createTraffic takes a receipt not there yet for a success: wait for the block itself.
    let head = before;
    while (head === before) head = await rpc.blockNumber();
    const proxy = await startFaultProxy({ upstream: chain.url, random: rng(1), faultRate: 0, hangMs: 1_500 });
    proxy.setCapHead(head - 1); // a node lagging one block: eth_blockNumber answers head - 1
    const db = openDatabase(":memory:");
    try {
      const indexer = createLotlineIndexer(
        { db, rpc: createRpcClient(proxy.url, { timeoutMs: 1_000 }), deployment: demo.deployment },
        { finalityDepth: 0, reorgWindow: 16, logRange: 4, rpcUrl: proxy.url },
      );
      const checkpoint = () =>
        (db.prepare(`SELECT block_number AS n FROM indexer_checkpoint`).get() as { n: number } | undefined)?.n ?? null;
      const run = await stepToChainHead(indexer, checkpoint, () => rpc.blockNumber(), {
        // The node catches up once the indexer has been told it is at the head.
        afterStep: (step) => step.type === "idle" && proxy.setCapHead(null),
      });
      expect(run.gaveUp).to.equal(null);
      expect(checkpoint(), "the checkpoint at the end").to.equal(head);
      expect(dumpDerivedTables(db)).to.equal(await freshRebuildDump(chain.url, demo.deployment));
      expect(run.idleBelowHead, "idle steps below the head, stepped past").to.equal(1);
    } finally {
      db.close();
      await proxy.stop();
      await chain.stop();
    }
  });
});
