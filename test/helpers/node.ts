import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { JsonRpcProvider } from "ethers";
import { loadConfig, type Config } from "../../services/config";
import { startNode, type RunningNode } from "../../services/node/node";
import { connectLotline } from "../../services/chain/deploy";
import { freePort } from "./ports";

export interface TestNode extends RunningNode {
  config: Config;
  provider: JsonRpcProvider;
  contracts: ReturnType<typeof connectLotline>;
  /** Waits until the index has caught up with the chain's current head. */
  synced(): Promise<void>;
  cleanup(): Promise<void>;
}

/**
 * Boots a whole Lotline node as `npm start` does (embedded Anvil chain, deployment, demo seed,
 * indexer, API on a free port) in a fresh temporary data dir.
 */
export async function startTestNode(env: Record<string, string> = {}): Promise<TestNode> {
  const dataDir = env.LOTLINE_DATA_DIR ?? fs.mkdtempSync(path.join(os.tmpdir(), "lotline-test-"));
  const config = loadConfig({
    LOTLINE_DATA_DIR: dataDir,
    LOTLINE_PORT: "0",
    LOTLINE_CHAIN_PORT: String(await freePort()),
    LOTLINE_LOG_LEVEL: "silent",
    // Every API test file shares one node and mostly one signed-in agent: the weighted rate limit
    // (test/services/api/rate-limit.test.ts tests it) must not refuse a whole suite's requests.
    LOTLINE_RATE_LIMIT: "1000000",
    ...env,
  });
  const node = await startNode(config, { logger: pino({ level: "silent" }) });
  try {
    await node.ready;
  } catch (err) {
    // A failed boot must not leave its embedded chain running.
    await node.stop();
    throw err;
  }
  const provider = new JsonRpcProvider(node.chain!.url, 31337, { staticNetwork: true, cacheTimeout: -1 });
  const contracts = connectLotline(node.state.deployment!, provider);
  return Object.assign(node, {
    config,
    provider,
    contracts,
    async synced() {
      const head = await provider.getBlockNumber();
      await node.state.indexer!.waitForBlock(head);
    },
    async cleanup() {
      provider.destroy();
      await node.stop();
      if (!env.LOTLINE_DATA_DIR) fs.rmSync(dataDir, { recursive: true, force: true });
    },
  });
}
