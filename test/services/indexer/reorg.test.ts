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
});
