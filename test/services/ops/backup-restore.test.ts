import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import pino from "pino";
import { Wallet } from "ethers";
import Database from "better-sqlite3";
import { get, sharedNode, tokenFor, bearer } from "../api/helpers";
import type { TestNode } from "../../helpers/node";
import { freePort } from "../../helpers/ports";
import { loadConfig } from "../../../services/config";
import { startNode, type RunningNode } from "../../../services/node/node";
import { DEMO_MEMBERS, demoWallet } from "../../../services/demo/roster";
import { DEMO_GOODS } from "../../../services/demo/supply-chain";
import { lotIdOf } from "../../../services/cli/args";
import { json, lotline } from "../cli/run";
import { backupDatabase, restoreDatabase } from "../../../services/ops/backup";

async function expectRejection(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  const err = await promise.then(
    () => null,
    (e: Error) => e,
  );
  expect(err, "expected a refusal").to.be.instanceOf(Error);
  expect(err!.message).to.match(pattern);
}

/**
 * Backup while the node runs, restore into an empty data dir against the same chain, and a second
 * node on the restored data dir that answers as the first: same records, same proofs, same answers.
 */
describe("lotline backup and restore", function () {
  this.timeout(240_000);
  let node: TestNode;
  let dir: string;
  let restored: RunningNode | null = null;
  let deploymentFile: string;

  before(async function () {
    node = await sharedNode();
    await node.synced();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "lotline-backup-"));
    deploymentFile = path.join(dir, "deployment.json");
    fs.writeFileSync(deploymentFile, JSON.stringify(node.state.deployment));
  });

  after(async function () {
    await restored?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const restoreEnv = (dataDir: string) => ({
    LOTLINE_DATA_DIR: dataDir,
    LOTLINE_RPC_URL: node.chain!.url,
    LOTLINE_DEPLOYMENT_FILE: deploymentFile,
  });

  it("refuses to overwrite a file, and to restore into a data dir that is not empty", async function () {
    const existing = path.join(dir, "existing.sqlite");
    fs.writeFileSync(existing, "x");
    await expectRejection(backupDatabase(node.config.dataDir, existing), /exists: give a new file name/);
    expect(fs.readFileSync(existing, "utf8")).to.equal("x");
    const backup = path.join(dir, "for-busy.sqlite");
    await backupDatabase(node.config.dataDir, backup);
    const busy = path.join(dir, "busy");
    fs.mkdirSync(busy);
    fs.writeFileSync(path.join(busy, "keep.txt"), "mine");
    await expectRejection(restoreDatabase(backup, busy), /is not empty: restore into a new, empty directory/);
    expect(fs.readdirSync(busy)).to.deep.equal(["keep.txt"]);
  });

  it("backs up the running node, restores it, re-verifies every anchored record against the chain, and a node on it answers the same", async function () {
    const file = path.join(dir, "node.backup.sqlite");
    const backup = json(await lotline(["--json", "backup", file], { LOTLINE_DATA_DIR: node.config.dataDir }));
    expect(backup.records).to.be.greaterThan(0);
    expect((fs.statSync(file).mode & 0o777).toString(8)).to.equal("600");

    const dataDir = path.join(dir, "restored");
    const report = json(await lotline(["--json", "restore", file], restoreEnv(dataDir)));
    expect(report.failed).to.deep.equal([]);
    expect(report.audit.ok).to.equal(true);
    expect(report.verified + report.pending + report.requeued.length).to.equal(report.records);
    expect(report.verified).to.be.greaterThan(0);
    // Sessions of the old node's clients do not survive a restore.
    const copy = new Database(path.join(dataDir, "lotline.sqlite"), { readonly: true });
    expect(copy.prepare(`SELECT count(*) AS n FROM sessions`).get()).to.deep.equal({ n: 0 });
    const outbox = (db: Database.Database | TestNode["db"]) => db.prepare(`SELECT record_id, kind, leaf, owner_org FROM anchor_outbox ORDER BY record_id`).all();
    const original = outbox(node.db).filter((r) => copy.prepare(`SELECT 1 FROM anchor_outbox WHERE record_id = ?`).get((r as { record_id: string }).record_id));
    expect(outbox(copy)).to.deep.equal(original);
    copy.close();

    // A node on the restored data dir, against the same chain (serving nobody: it only reads here).
    const config = loadConfig({
      ...restoreEnv(dataDir),
      LOTLINE_PORT: "0",
      LOTLINE_CHAIN_PORT: String(await freePort()),
      LOTLINE_LOG_LEVEL: "silent",
      LOTLINE_RELAYER_KEY: Wallet.createRandom().privateKey,
    });
    restored = await startNode(config, { logger: pino({ level: "silent" }) });
    await restored.ready;
    const head = await node.provider.getBlockNumber();
    await restored.state.indexer!.waitForBlock(head);
    const auditor = demoWallet(DEMO_MEMBERS.find((m) => m.key === "auditor")!.account);
    const there = { url: restored.url } as TestNode;
    const token = await tokenFor(there, auditor);
    const lotB = lotIdOf(DEMO_GOODS.recalledLot.gtin, DEMO_GOODS.recalledLot.lot);
    const paths = [
      `/api/v1/products/${DEMO_GOODS.butter}`,
      `/api/v1/batches/${lotB}`,
      `/api/v1/batches/${lotB}/recall-impact`,
      `/epcis/events?perPage=50`,
      `/api/v1/production-runs?limit=20`,
    ];
    for (const p of paths) {
      const a = await get(node, p);
      const b = await get(there, p, bearer(token));
      expect(a.status, `${p}: ${a.text.slice(0, 200)}`).to.equal(200);
      expect(b.status, `${p} on the restored node: ${b.text.slice(0, 200)}`).to.equal(200);
      // The one field that is the time of the answer, not data.
      for (const body of [a.body, b.body]) delete body.creationDate;
      expect(b.body, p).to.deep.equal(a.body);
    }
  });
});
