import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import { encryptKeystoreJsonSync, Wallet } from "ethers";
import { ConfigError, loadConfig } from "../../../services/config";
import { chainEnvironment, startEmbeddedChain } from "../../../services/chain/embedded";
import { openDatabase } from "../../../services/store/db";
import { tempDir } from "../../helpers/chain";
import { freePort } from "../../helpers/ports";

const LOTLINE = path.resolve(__dirname, "../../../bin/lotline.js");
const KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";

/** Running (a zombie left for a non-reaping init counts as gone). */
function alive(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    return false;
  }
}

describe("keys are kept like keys", function () {
  let dir: string;
  before(() => {
    dir = tempDir("keys");
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  function keystore(password: string): string {
    const file = path.join(dir, `relayer-${Math.random().toString(36).slice(2)}.json`);
    // A cheap scrypt cost keeps the test fast; the node reads any cost.
    fs.writeFileSync(file, encryptKeystoreJsonSync({ address: new Wallet(KEY).address, privateKey: KEY }, password, { scrypt: { N: 1 << 10 } }));
    return file;
  }

  it("loads a node key from an encrypted keystore and a password file", function () {
    const passwordFile = path.join(dir, "password.txt");
    fs.writeFileSync(passwordFile, "correct horse battery staple\n");
    const config = loadConfig({ LOTLINE_RELAYER_KEYSTORE: keystore("correct horse battery staple"), LOTLINE_RELAYER_KEYSTORE_PASSWORD_FILE: passwordFile });
    expect(config.relayerKey).to.equal(KEY);
  });

  it("refuses a wrong password naming the variables, never the password", function () {
    const passwordFile = path.join(dir, "wrong.txt");
    fs.writeFileSync(passwordFile, "hunter2");
    let error: unknown;
    try {
      loadConfig({ LOTLINE_INTEGRATION_KEYSTORE: keystore("right"), LOTLINE_INTEGRATION_KEYSTORE_PASSWORD_FILE: passwordFile });
    } catch (err) {
      error = err;
    }
    expect(error).to.be.instanceOf(ConfigError);
    expect((error as Error).message).to.match(/LOTLINE_INTEGRATION_KEYSTORE/).and.not.include("hunter2");
  });

  it("refuses a keystore without a password file, and a key given twice", function () {
    expect(() => loadConfig({ LOTLINE_RELAYER_KEYSTORE: keystore("x") })).to.throw(ConfigError, /LOTLINE_RELAYER_KEYSTORE_PASSWORD_FILE/);
    expect(() => loadConfig({ LOTLINE_RELAYER_KEY: KEY, LOTLINE_RELAYER_KEYSTORE: keystore("x") })).to.throw(ConfigError, /not both/);
  });

  it("refuses a WebSocket RPC URL at configuration time instead of failing deep in boot", function () {
    expect(() => loadConfig({ LOTLINE_RPC_URL: "ws://127.0.0.1:8546" })).to.throw(ConfigError, /WebSocket endpoints are not supported/);
    expect(() => loadConfig({ LOTLINE_RPC_URL: "wss://besu.example/rpc" })).to.throw(ConfigError, /http\(s\)/);
  });

  it("creates the SQLite file readable by its owner only", function () {
    const file = path.join(dir, "db", "lotline.sqlite");
    openDatabase(file).close();
    expect(fs.statSync(file).mode & 0o777).to.equal(0o600);
    expect(fs.statSync(path.dirname(file)).mode & 0o077).to.equal(0);
  });

  it("starts the embedded chain without the node's keys in its environment", async function () {
    expect(chainEnvironment({ PATH: "/bin", LOTLINE_RELAYER_KEY: KEY, LOTLINE_KEY_PASSWORD: "p", API_TOKEN: "t" })).to.deep.equal({ PATH: "/bin" });
    const saved = process.env.LOTLINE_RELAYER_KEY;
    process.env.LOTLINE_RELAYER_KEY = KEY;
    const chain = await startEmbeddedChain({ dataDir: path.join(dir, "env-chain"), port: await freePort() });
    try {
      const environ = fs.readFileSync(`/proc/${chain.process.pid}/environ`, "utf8");
      expect(environ).to.not.include(KEY.slice(2));
      expect(environ).to.not.include("LOTLINE_RELAYER_KEY");
    } finally {
      await chain.stop();
      if (saved === undefined) delete process.env.LOTLINE_RELAYER_KEY;
      else process.env.LOTLINE_RELAYER_KEY = saved;
    }
  });
});

describe("shutdown and restart always work", function () {
  let dataDir: string;
  let chainPort: number;
  const children: ChildProcess[] = [];

  before(async () => {
    dataDir = tempDir("shutdown");
    chainPort = await freePort();
  });
  after(() => {
    for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
    const pidFile = path.join(dataDir, "chain", "anvil.pid");
    if (fs.existsSync(pidFile)) {
      const pid = Number(fs.readFileSync(pidFile, "utf8"));
      if (alive(pid)) process.kill(pid, "SIGKILL");
    }
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  async function up(): Promise<{ child: ChildProcess; output: () => string }> {
    const env = {
      ...process.env,
      LOTLINE_DATA_DIR: dataDir,
      LOTLINE_DEMO_NODES: "1",
      LOTLINE_PORT: String(await freePort()),
      LOTLINE_CHAIN_PORT: String(chainPort),
      LOTLINE_LOG_LEVEL: "warn",
      LOTLINE_DEMO: "0",
    };
    // detached: a process group of its own, so a SIGKILL of `lotline up` leaves its chain running,
    // as when the node's process alone dies.
    const child = spawn(process.execPath, [LOTLINE, "up"], { env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    children.push(child);
    let output = "";
    child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const deadline = Date.now() + 120_000;
    while (!output.includes("Ready.")) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`lotline up did not become ready: ${output}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    return { child, output: () => output };
  }

  const exitOf = (child: ChildProcess) =>
    new Promise<{ code: number | null; ms: number }>((resolve) => {
      const t0 = Date.now();
      if (child.exitCode !== null) return resolve({ code: child.exitCode, ms: 0 });
      child.once("exit", (code) => resolve({ code, ms: Date.now() - t0 }));
    });

  it("stops a chain left running by a node that was SIGKILLed, at the next start, instead of blocking its port", async function () {
    const first = await up();
    const leftover = Number(fs.readFileSync(path.join(dataDir, "chain", "anvil.pid"), "utf8"));
    first.child.kill("SIGKILL");
    await exitOf(first.child);
    expect(alive(leftover), "the orphaned chain is still running").to.equal(true);

    const second = await up();
    expect(alive(leftover), "the orphaned chain was stopped").to.equal(false);
    const pid = Number(fs.readFileSync(path.join(dataDir, "chain", "anvil.pid"), "utf8"));
    expect(pid).to.not.equal(leftover);

    second.child.kill("SIGINT");
    const { code, ms } = await exitOf(second.child);
    expect(code).to.equal(0);
    expect(ms).to.be.below(12_000);
    expect(fs.existsSync(path.join(dataDir, "chain", "anvil.pid")), "the pid file goes with a clean stop").to.equal(false);
  });

  it("exits at once on a second Ctrl-C", async function () {
    const node = await up();
    node.child.kill("SIGINT");
    node.child.kill("SIGINT");
    const { code } = await exitOf(node.child);
    expect(code).to.be.oneOf([0, 130]);
    expect(node.output()).to.match(/stopping Lotline/);
  });
});
