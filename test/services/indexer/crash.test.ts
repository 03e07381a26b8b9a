import { spawn } from "node:child_process";
import path from "node:path";
import { expect } from "chai";
import { dumpDerivedTables, openDatabase } from "../../../services/store/db";
import { deferredSchema } from "../../../services/store/catch-up-schema";
import { createRpcClient } from "../../../services/chain/rpc";
import { createLotlineIndexer } from "../../../services/indexer/lotline";
import { rolesToMask } from "../../../services/chain/roles";
import { demoWallet } from "../../../services/demo/roster";
import { deployDemo, freshRebuildDump, providerFor, startAnvil, tempDir, writeDeploymentFile } from "../../helpers/chain";

const LOTLINE = path.resolve(__dirname, "../../../bin/lotline.js");

describe("indexer: crashes", function () {
  it("killed with SIGKILL mid-backfill and restarted, loses and duplicates nothing", async function () {
    const chain = await startAnvil();
    const demo = await deployDemo(chain.url);
    // Enough blocks with events that a one-block-per-step backfill takes a while.
    const admin = demo.contracts.registry.connect(demoWallet(2, demo.provider));
    for (let i = 0; i < 120; i++) {
      await (await admin.setAgent(demoWallet(18).address, 2, rolesToMask(i % 2 ? ["processor"] : ["buyer"]), 0)).wait();
    }
    const head = await demo.provider.getBlockNumber();
    const dataDir = tempDir("crash");
    const env = {
      ...process.env,
      LOTLINE_RPC_URL: chain.url,
      LOTLINE_DEPLOYMENT_FILE: writeDeploymentFile(dataDir, demo.deployment),
      LOTLINE_DATA_DIR: dataDir,
      LOTLINE_LOG_RANGE: "1",
      LOTLINE_LOG_LEVEL: "silent",
    };
    const db = openDatabase(path.join(dataDir, "lotline.sqlite"));
    const checkpoint = () =>
      (db.prepare(`SELECT block_number AS n FROM indexer_checkpoint`).get() as { n: number } | undefined)?.n ?? 0;

    const worker = spawn(process.execPath, [LOTLINE, "index", "run"], { env, stdio: "ignore" });
    let deferredAtKill: string[] = [];
    const killedAt = await new Promise<number>((resolve, reject) => {
      const poll = setInterval(() => {
        const n = checkpoint();
        if (n > demo.deployment.startBlock + 40) {
          clearInterval(poll);
          worker.kill("SIGKILL");
          deferredAtKill = deferredSchema(db);
          resolve(n);
        } else if (worker.exitCode !== null) {
          clearInterval(poll);
          reject(new Error(`the indexer exited early (${worker.exitCode})`));
        }
      }, 5);
    });
    await new Promise((r) => worker.once("exit", r));
    expect(killedAt).to.be.below(head);
    // Killed while catching up without the journal triggers and the indexes no handler reads (ADR 0035).
    expect(deferredAtKill).to.not.be.empty;

    const restarted = spawn(process.execPath, [LOTLINE, "index", "run", "--once"], { env, stdio: "ignore" });
    const code = await new Promise((r) => restarted.once("exit", r));
    expect(code).to.equal(0);
    expect(checkpoint()).to.equal(head);
    expect(dumpDerivedTables(db)).to.equal(await freshRebuildDump(chain.url, demo.deployment));
    // Every one of them back, as a new database has them.
    expect(deferredSchema(db)).to.deep.equal([]);
    const schema = `SELECT type, name, sql FROM sqlite_master WHERE type IN ('index', 'trigger') ORDER BY type, name`;
    const empty = openDatabase(":memory:");
    expect(db.prepare(schema).all()).to.deep.equal(empty.prepare(schema).all());
    empty.close();
    expect(db.pragma("integrity_check", { simple: true })).to.equal("ok");
    db.close();
    demo.provider.destroy();
    await chain.stop();
  });

  it("follows the embedded chain when it comes back shorter after a crash", async function () {
    // State saved only on a clean stop, so a SIGKILL loses every block since.
    const chain = await startAnvil({ stateIntervalSeconds: 3600 });
    const demo = await deployDemo(chain.url);
    demo.provider.destroy();
    await chain.stop();
    const restarted = await startAnvil({ dataDir: chain.dataDir, port: chain.port, stateIntervalSeconds: 3600 });
    const savedHead = await createRpcClient(restarted.url).blockNumber();

    const db = openDatabase(":memory:");
    const indexer = createLotlineIndexer(
      { db, rpc: createRpcClient(restarted.url), deployment: demo.deployment },
      { finalityDepth: 0, reorgWindow: 64, logRange: 2_000, rpcUrl: null },
    );
    const provider = providerFor(restarted.url);
    const governor = demo.contracts.registry.connect(demoWallet(0, provider));
    await (await governor.suspendOrganisation(5, "lost in the crash")).wait();
    await indexer.syncToHead();
    expect(db.prepare(`SELECT status FROM organisations WHERE org_id = 5`).get()).to.deep.equal({ status: "suspended" });

    restarted.kill();
    await new Promise((r) => restarted.process.once("exit", r));
    const again = await startAnvil({ dataDir: chain.dataDir, port: chain.port, stateIntervalSeconds: 3600 });
    expect(await createRpcClient(again.url).blockNumber()).to.equal(savedHead);

    const step = await indexer.step();
    expect(step.type).to.equal("reorg");
    await indexer.syncToHead();
    expect(db.prepare(`SELECT status FROM organisations WHERE org_id = 5`).get()).to.deep.equal({ status: "active" });
    expect(dumpDerivedTables(db)).to.equal(await freshRebuildDump(again.url, demo.deployment));
    db.close();
    provider.destroy();
    await again.stop();
  });
});
