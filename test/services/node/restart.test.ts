import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import { readLocalRecords } from "../../../services/chain/deployment-record";
import { CONTRACTS_VERSION } from "../../../services/chain/version";
import { startTestNode } from "../../helpers/node";
import { tempDir } from "../../helpers/chain";
import { freePort } from "../../helpers/ports";

const LOTLINE = path.resolve(__dirname, "../../../bin/lotline.js");

describe("the main job (npm start)", function () {
  it("finds its chain, deployment and index again on a second start", async function () {
    const dataDir = tempDir("restart");
    const first = await startTestNode({ LOTLINE_DATA_DIR: dataDir });
    const record = first.state.deployment!;
    expect(record.contractsVersion, "the record names the contracts' version").to.equal(CONTRACTS_VERSION);
    expect(first.db.prepare(`SELECT value FROM meta WHERE key = 'contracts_version'`).get(), "so does the index").to.deep.equal({ value: CONTRACTS_VERSION });
    const head = await first.provider.getBlockNumber();
    const orgs = (await (await fetch(`${first.url}/api/v1/orgs`)).json()) as { items: unknown[] };
    await first.cleanup();

    const second = await startTestNode({ LOTLINE_DATA_DIR: dataDir });
    expect(second.state.deployment).to.deep.equal(record);
    // No second deployment, no second seeding: the chain did not grow.
    expect(await second.provider.getBlockNumber()).to.equal(head);
    expect(((await (await fetch(`${second.url}/api/v1/orgs`)).json()) as { items: unknown[] }).items).to.deep.equal(orgs.items);
    expect(Object.keys(readLocalRecords(dataDir))).to.deep.equal([record.genesisHash]);
    await second.cleanup();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("a fresh data dir never believes contracts exist", async function () {
    const a = await startTestNode();
    const b = await startTestNode();
    expect(a.state.deployment!.genesisHash).to.not.equal(b.state.deployment!.genesisHash);
    await a.cleanup();
    await b.cleanup();
  });

  it("lotline up serves /health, then stops cleanly on SIGINT", async function () {
    const dataDir = tempDir("up");
    const port = await freePort();
    const env = { ...process.env, LOTLINE_DATA_DIR: dataDir, LOTLINE_DEMO_NODES: "1", LOTLINE_PORT: String(port), LOTLINE_CHAIN_PORT: String(await freePort()), LOTLINE_LOG_LEVEL: "warn" };
    const child = spawn(process.execPath, [LOTLINE, "up"], { env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const deadline = Date.now() + 90_000;
    while (!output.includes("Ready.")) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`lotline up did not become ready: ${output}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const health = (await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as { status: string; chainId: number };
    expect(health).to.include({ status: "ok", chainId: 31337 });
    expect((await fetch(`http://127.0.0.1:${port}/ready`)).status).to.equal(200);
    child.kill("SIGINT");
    const code = await new Promise((r) => child.once("exit", r));
    expect(code).to.equal(0);
    expect(fs.existsSync(path.join(dataDir, "chain", "anvil-state.json"))).to.equal(true);
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("lotline exits non-zero with one line when the configuration is wrong", async function () {
    const child = spawn(process.execPath, [LOTLINE, "up"], { env: { ...process.env, LOTLINE_PORT: "not-a-port" }, stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise((r) => child.once("exit", r));
    expect(code).to.equal(1);
    expect(stderr.trim().split("\n")).to.deep.equal(['lotline: LOTLINE_PORT must be an integer from 0 to 65535, got "not-a-port"']);
  });
});
