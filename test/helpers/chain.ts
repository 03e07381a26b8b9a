import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { JsonRpcProvider } from "ethers";
import { startEmbeddedChain, type EmbeddedChain } from "../../services/chain/embedded";
import { createRpcClient } from "../../services/chain/rpc";
import { connectLotline, deployLotline, type DeploymentRecord } from "../../services/chain/deploy";
import { seedDemo } from "../../services/demo/seed";
import { demoWallet, GOVERNOR_ACCOUNT } from "../../services/demo/roster";
import { dumpDerivedTables, openDatabase } from "../../services/store/db";
import { createLotlineIndexer, LOTLINE_HANDLERS } from "../../services/indexer/lotline";
import { createIndexer } from "../../services/indexer/engine";
import type { RpcClient } from "../../services/chain/rpc";
import type { Db } from "../../services/store/db";
import { freePort } from "./ports";

export function tempDir(label: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `lotline-${label}-`));
}

/** Anvil in its own data dir, as the embedded chain runs. */
export async function startAnvil(
  options: { dataDir?: string; stateIntervalSeconds?: number; port?: number; genesisTimestamp?: number } = {},
): Promise<EmbeddedChain & { dataDir: string; port: number }> {
  const dataDir = options.dataDir ?? tempDir("anvil");
  const port = options.port ?? (await freePort());
  const chain = await startEmbeddedChain({ dataDir, port, stateIntervalSeconds: options.stateIntervalSeconds, genesisTimestamp: options.genesisTimestamp });
  return Object.assign(chain, { dataDir, port });
}

/** Hardhat's network served over real HTTP by `hardhat node` in its own process. */
export async function startHardhatNode(): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await freePort();
  const cli = require.resolve("hardhat/internal/cli/cli");
  const child = spawn(process.execPath, [cli, "node", "--hostname", "127.0.0.1", "--port", String(port)], {
    stdio: ["ignore", "ignore", "pipe"],
    cwd: path.resolve(__dirname, "../.."),
  });
  const url = `http://127.0.0.1:${port}`;
  const rpc = createRpcClient(url, { timeoutMs: 1_000 });
  const deadline = Date.now() + 60_000;
  while (!(await rpc.chainId().then(() => true, () => false))) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error("hardhat node did not start");
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    },
  };
}

export function providerFor(url: string): JsonRpcProvider {
  return new JsonRpcProvider(url, 31337, { staticNetwork: true, cacheTimeout: -1 });
}

/** Deploys Lotline with the demo governor and seeds the demo consortium, as a first `npm start` does. */
export async function deployDemo(url: string) {
  const provider = providerFor(url);
  const deployment = await deployLotline(demoWallet(GOVERNOR_ACCOUNT, provider));
  const contracts = connectLotline(deployment, provider);
  await seedDemo(provider, contracts);
  return { provider, deployment, contracts };
}

/** Indexes the chain from scratch into a new database and returns its derived tables' dump. */
export async function freshRebuildDump(url: string, deployment: DeploymentRecord, maxRange = 2_000): Promise<string> {
  const db = openDatabase(":memory:");
  const indexer = createLotlineIndexer(
    { db, rpc: createRpcClient(url), deployment },
    { finalityDepth: 0, reorgWindow: 64, logRange: maxRange, rpcUrl: url },
  );
  await indexer.syncToHead();
  const dump = dumpDerivedTables(db);
  db.close();
  return dump;
}

/**
 * An indexer over `deployment` in the smallest steps (4-block ranges, 5 events a step, an 8-block
 * reorg window, nothing final): a small demo then takes many steps, catching up and in the window.
 */
export function smallStepIndexer(db: Db, rpc: RpcClient, deployment: DeploymentRecord) {
  return createIndexer({
    db,
    rpc,
    contracts: deployment.contracts,
    startBlock: deployment.startBlock,
    handlers: LOTLINE_HANDLERS,
    finalityDepth: 0,
    reorgWindow: 8,
    rebuildOnDeepReorg: false,
    maxRange: 4,
    maxEventsPerStep: 5,
  });
}

export function writeDeploymentFile(dir: string, deployment: DeploymentRecord): string {
  const file = path.join(dir, "deployment.json");
  fs.writeFileSync(file, JSON.stringify(deployment));
  return file;
}
