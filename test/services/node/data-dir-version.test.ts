import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import Database from "better-sqlite3";
import pino from "pino";
import { loadConfig } from "../../../services/config";
import { startNode } from "../../../services/node/node";
import { openDatabase } from "../../../services/store/db";
import { MIGRATIONS } from "../../../services/store/migrations";
import { checkContractsVersion, checkDataDirVersion, ContractsVersionError } from "../../../services/chain/deployment-record";
import { CONTRACTS_VERSION } from "../../../services/chain/version";
import { tempDir } from "../../helpers/chain";
import { freePort } from "../../helpers/ports";

const LOTLINE = path.resolve(__dirname, "../../../bin/lotline.js");
const ADDRESS = (n: number) => `0x${n.toString(16).padStart(40, "0")}`;

/**
 * A data dir made by a Lotline with other contracts (issue 10 changed their ABIs) holds a chain whose
 * events the new code cannot read. `npm start` refuses it before touching anything, in one line that
 * says what to do (ADR 0012). These data dirs are crafted: a deployment record as the earlier Lotline
 * wrote it (no contracts version), or one naming another version, or an index made for other contracts.
 */
describe("old data dirs (a previous contracts version)", function () {
  const dirs: string[] = [];
  after(() => dirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

  /** A data dir whose deployments.json holds one record, as a Lotline of `version` wrote it (undefined: before versions). */
  function dataDirWithRecord(version: string | undefined): string {
    const dir = tempDir("old-data-dir");
    dirs.push(dir);
    const record = {
      genesisHash: `0x${"12".repeat(32)}`,
      chainId: 31337,
      startBlock: 1,
      contracts: Object.fromEntries(["forwarder", "registry", "credentials", "provenance", "units", "anchors", "escrow", "token"].map((n, i) => [n, ADDRESS(i + 1)])),
      governor: ADDRESS(99),
      deployedAt: "2026-11-01T00:00:00.000Z",
      ...(version === undefined ? {} : { contractsVersion: version }),
      demo: "done",
    };
    fs.writeFileSync(path.join(dir, "deployments.json"), JSON.stringify({ [record.genesisHash]: record }, null, 2) + "\n");
    return dir;
  }

  /** Every file under `dir` with its bytes, to show nothing was changed. */
  function snapshot(dir: string): Record<string, string> {
    const files: Record<string, string> = {};
    for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
      if (entry.isFile()) {
        const file = path.join(entry.parentPath ?? (entry as unknown as { path: string }).path, entry.name);
        files[path.relative(dir, file)] = fs.readFileSync(file).toString("base64");
      }
    }
    return files;
  }

  async function up(dataDir: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const env = {
      ...process.env,
      LOTLINE_DATA_DIR: dataDir,
      LOTLINE_DEMO_NODES: "1",
      LOTLINE_PORT: String(await freePort()),
      LOTLINE_CHAIN_PORT: String(await freePort()),
      LOTLINE_LOG_LEVEL: "warn",
    };
    const child = spawn(process.execPath, [LOTLINE, "up"], { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    return { code, stdout, stderr };
  }

  it("lotline up refuses a data dir from before contract versions were recorded: exit 1, one line saying what to do, nothing changed", async function () {
    this.timeout(60_000);
    const dir = dataDirWithRecord(undefined);
    const before = snapshot(dir);
    const run = await up(dir);
    expect(run.code, run.stdout).to.equal(1);
    const lines = run.stderr.trim().split("\n");
    expect(lines, run.stderr).to.have.length(1);
    expect(lines[0]).to.equal(
      `lotline: the data dir ${dir} is from an earlier Lotline (its deployments.json records no contracts version; this Lotline's are ${CONTRACTS_VERSION}): ` +
        `move the directory away or set LOTLINE_DATA_DIR to a new one, then start again (nothing was changed)`,
    );
    expect(snapshot(dir), "no index created, no chain started, the record untouched").to.deep.equal(before);
  });

  it("refuses a data dir whose deployment record names another contracts version", async function () {
    const dir = dataDirWithRecord("1-0123456789ab");
    const config = loadConfig({ LOTLINE_DATA_DIR: dir, LOTLINE_PORT: "0", LOTLINE_LOG_LEVEL: "silent" });
    const error = await startNode(config, { logger: pino({ level: "silent" }) }).then(
      () => null,
      (err: Error) => err,
    );
    expect(error).to.be.instanceOf(ContractsVersionError);
    expect(error!.message).to.include("(its deployments.json records contracts 1-0123456789ab;");
    expect(error!.message).to.include("move the directory away or set LOTLINE_DATA_DIR to a new one");
    expect(fs.readdirSync(dir)).to.deep.equal(["deployments.json"]);
  });

  it("refuses a data dir whose index was made for other contracts, without migrating it", function () {
    const dir = tempDir("old-index");
    dirs.push(dir);
    const file = path.join(dir, "lotline.sqlite");
    const earlier = MIGRATIONS.filter((m) => m.id < 11);
    const db = openDatabase(file, earlier);
    db.prepare(`INSERT INTO meta (key, value) VALUES ('deployment', ?)`).run(`0x${"12".repeat(32)}:${ADDRESS(2)}`);
    db.close();
    // On an external chain the data dir holds only the index: it is checked all the same.
    expect(() => checkDataDirVersion(dir, { embedded: false }))
      .to.throw(ContractsVersionError)
      .with.property("message")
      .that.includes("(its index (lotline.sqlite) records no contracts version;");
    const check = new Database(file, { readonly: true });
    expect(check.pragma("user_version", { simple: true }), "not migrated").to.equal(Math.max(...earlier.map((m) => m.id)));
    check.close();
  });

  it("accepts a data dir whose record and index carry this version, and a fresh one", function () {
    expect(() => checkDataDirVersion(tempDir("fresh"), { embedded: true })).to.not.throw();
    const dir = dataDirWithRecord(CONTRACTS_VERSION);
    const db = openDatabase(path.join(dir, "lotline.sqlite"));
    db.prepare(`INSERT INTO meta (key, value) VALUES ('deployment', 'x'), ('contracts_version', ?)`).run(CONTRACTS_VERSION);
    db.close();
    expect(() => checkDataDirVersion(dir, { embedded: true })).to.not.throw();
  });

  it("refuses a shared deployment file of another contracts version, saying to deploy the current contracts", function () {
    expect(() => checkContractsVersion({ contractsVersion: undefined as unknown as string }, "the deployment file /etc/lotline/deployment.json"))
      .to.throw(ContractsVersionError)
      .with.property("message")
      .that.matches(/^the deployment file \/etc\/lotline\/deployment\.json is a deployment of contracts of a version it did not record, but this Lotline needs contracts 1-[0-9a-f]{12}: deploy the current contracts \(lotline deploy\)/);
    expect(() => checkContractsVersion({ contractsVersion: CONTRACTS_VERSION }, "x")).to.not.throw();
  });
});
