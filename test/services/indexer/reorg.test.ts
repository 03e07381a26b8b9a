import { expect } from "chai";
import { encodeBytes32String, id as keccakText } from "ethers";
import { createRpcClient } from "../../../services/chain/rpc";
import { dumpDerivedTables, openDatabase, type Db } from "../../../services/store/db";
import { createLotlineIndexer } from "../../../services/indexer/lotline";
import { demoWallet } from "../../../services/demo/roster";
import { rolesToMask } from "../../../services/chain/roles";
import { bindAgent } from "../../../services/chain/agents";
import { IndexerHaltedError } from "../../../services/indexer/types";
import { deployDemo, freshRebuildDump, startHardhatNode } from "../../helpers/chain";

describe("indexer: reorganisations on the Hardhat network", function () {
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

  function newIndexer(db: Db, reorgWindow = 64) {
    return createLotlineIndexer(
      { db, rpc: createRpcClient(node.url), deployment: demo.deployment },
      // A shared network: deep reorganisations halt instead of rebuilding.
      { finalityDepth: 0, reorgWindow, logRange: 2_000, rpcUrl: node.url },
    );
  }

  /** Sends identity changes that touch inserts, updates and deletes of derived rows. */
  async function forkA() {
    const governor = demo.contracts.registry.connect(demoWallet(0, demo.provider));
    const processor = demo.contracts.registry.connect(demoWallet(2, demo.provider));
    const certifier = demo.contracts.credentials.connect(demoWallet(8, demo.provider));
    await (await governor.suspendOrganisation(6, "fork A")).wait();
    await bindAgent(demo.contracts.registry, demoWallet(2, demo.provider), demoWallet(18, demo.provider), 2, rolesToMask(["processor"]));
    await (await processor.setAgent(demoWallet(19).address, 2, rolesToMask(["buyer"]), 0)).wait();
    await (await processor.removeAgent(demoWallet(11).address)).wait();
    await (await processor.updateOrganisation(2, "Fork A name", keccakText("a"))).wait();
    await (await certifier.revokeCredential(2, "fork A revocation")).wait();
  }

  async function forkB() {
    const governor = demo.contracts.registry.connect(demoWallet(0, demo.provider));
    const certifier = demo.contracts.credentials.connect(demoWallet(8, demo.provider));
    const now = (await demo.provider.getBlock("latest"))!.timestamp;
    await (await governor.setAllowedRoles(3, rolesToMask(["processor"]))).wait();
    await bindAgent(demo.contracts.registry, demoWallet(1, demo.provider), demoWallet(19, demo.provider), 1, rolesToMask(["producer"]), now + 3600);
    await (await demo.contracts.credentials.connect(demoWallet(0, demo.provider)).setCertifierType(8, encodeBytes32String("HALAL"), true)).wait();
    await (await certifier.issueCredential(encodeBytes32String("GLOBALGAP"), 1, keccakText("b"), now, now + 86400)).wait();
    // Fork B ends higher than fork A did, as the heavier chain would.
    for (let i = 0; i < 5; i++) await demo.provider.send("evm_mine", []);
  }

  it("rolls back to the common ancestor and ends with the same tables as a fresh rebuild", async function () {
    const db = openDatabase(":memory:");
    const indexer = newIndexer(db);
    await indexer.syncToHead();
    const snapshot = await demo.provider.send("evm_snapshot", []);

    await forkA();
    await indexer.syncToHead();
    expect(db.prepare(`SELECT status FROM organisations WHERE org_id = 6`).get()).to.deep.equal({ status: "suspended" });

    await demo.provider.send("evm_revert", [snapshot]);
    await forkB();
    const steps = [];
    for (;;) {
      const step = await indexer.step();
      steps.push(step.type);
      if (step.type === "idle") break;
    }
    expect(steps).to.include("reorg");
    expect(db.prepare(`SELECT status FROM organisations WHERE org_id = 6`).get()).to.deep.equal({ status: "active" });
    expect(dumpDerivedTables(db)).to.equal(await freshRebuildDump(node.url, demo.deployment));
    expect(db.prepare(`SELECT COUNT(*) AS n FROM reorg_journal WHERE block_number > (SELECT block_number FROM indexer_checkpoint)`).get()).to.deep.equal({ n: 0 });
    db.close();
  });

  it("halts with a clear error when a reorganisation is deeper than the reorg window", async function () {
    const db = openDatabase(":memory:");
    const indexer = newIndexer(db, 2);
    const snapshot = await demo.provider.send("evm_snapshot", []);
    await forkA();
    await indexer.syncToHead();
    await demo.provider.send("evm_revert", [snapshot]);
    await forkB();
    let error: unknown;
    try {
      await indexer.syncToHead();
    } catch (err) {
      error = err;
    }
    expect(error).to.be.instanceOf(IndexerHaltedError);
    expect((error as Error).message).to.match(/deeper than the reorg window \(2 blocks\)/);
    expect(indexer.status().halted).to.be.a("string");
    db.close();
  });

  it("attack: a reorganisation of blocks indexed while catching up (final, so not journalled) rebuilds instead of rolling back a journal that never held them", async function () {
    // The index lags: fork A's blocks are indexed when the head is far past them (more than the
    // window below it), so they are written without the journal. The chain then swaps fork A for
    // fork B a few blocks below the checkpoint: shallow counted from the checkpoint, but a rollback
    // through the journal would leave fork A's rows (organisation 6 suspended, fork A's agents) in place.
    const db = openDatabase(":memory:");
    const reorgWindow = 10;
    const lagging = () =>
      createLotlineIndexer(
        { db, rpc: createRpcClient(node.url), deployment: demo.deployment, readOffThread: false },
        // No rpcUrl: a chain the node may rebuild from (as the embedded one); two blocks per step.
        { finalityDepth: 0, reorgWindow, logRange: 2, rpcUrl: null },
      );
    // The chain as the other tests left it, restored at the end.
    const before = await demo.provider.send("evm_snapshot", []);
    const indexer = lagging();
    await indexer.syncToHead();
    const forkPoint = await demo.provider.getBlockNumber();
    const snapshot = await demo.provider.send("evm_snapshot", []);
    // Fork A: organisation 6 suspended, a buyer agent and a name for the processor (one block each).
    const governor = demo.contracts.registry.connect(demoWallet(0, demo.provider));
    const processor = demo.contracts.registry.connect(demoWallet(2, demo.provider));
    await (await governor.suspendOrganisation(6, "lagging fork A")).wait();
    await (await processor.setAgent(demoWallet(17).address, 2, rolesToMask(["buyer"]), 0)).wait();
    await (await processor.updateOrganisation(2, "Lagging fork A", keccakText("lagging a"))).wait();
    const forkAEnd = await demo.provider.getBlockNumber();
    for (let i = 0; i < 30; i++) await demo.provider.send("evm_mine", []);
    const cp = () => (db.prepare(`SELECT block_number AS n FROM indexer_checkpoint`).get() as { n: number }).n;
    while (cp() < forkAEnd) await indexer.step();
    expect(cp() - forkPoint, "the checkpoint is within the window of the fork point").to.be.below(reorgWindow);
    expect(db.prepare(`SELECT status FROM organisations WHERE org_id = 6`).get()).to.deep.equal({ status: "suspended" });
    const unjournalled = db.prepare(`SELECT COUNT(*) AS n FROM indexer_blocks WHERE journalled = 0 AND block_number > ?`).get(forkPoint) as { n: number };
    expect(unjournalled.n, "fork A's blocks were indexed without the journal").to.be.greaterThan(0);

    await demo.provider.send("evm_revert", [snapshot]);
    // Fork B: another name, and a longer chain.
    await (await processor.updateOrganisation(2, "Lagging fork B", keccakText("lagging b"))).wait();
    for (let i = 0; i < 40; i++) await demo.provider.send("evm_mine", []);
    const steps: string[] = [];
    for (;;) {
      const step = await indexer.step();
      steps.push(step.type);
      if (step.type === "rebuild") expect(step.reason).to.match(/indexed while they were final/);
      if (step.type === "idle") break;
    }
    expect(steps).to.include("rebuild");
    expect(steps).not.to.include("reorg");
    expect(db.prepare(`SELECT status FROM organisations WHERE org_id = 6`).get()).to.deep.equal({ status: "active" });
    expect(dumpDerivedTables(db)).to.equal(await freshRebuildDump(node.url, demo.deployment));
    await demo.provider.send("evm_revert", [before]);
  });
});
