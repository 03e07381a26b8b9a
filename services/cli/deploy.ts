import path from "node:path";
import { isAddress, JsonRpcProvider, Wallet } from "ethers";
import { ConfigError, nodeKey, type Config } from "../config";
import { deployLotline } from "../chain/deploy";
import { writeJsonAtomic } from "../chain/deployment-record";
import { CliError } from "./client";

/**
 * `lotline deploy` (`npm run deploy`): deploys to a real network (LOTLINE_RPC_URL) with
 * LOTLINE_DEPLOYER_KEY and writes the deployment record the consortium's members share.
 * The embedded chain needs no deploy: `npm start` does it.
 */
export async function deployCommand(config: Config, opts: { governor?: string; out?: string }, json: boolean): Promise<void> {
  if (!config.rpcUrl) throw new CliError("set LOTLINE_RPC_URL to the network to deploy to (npm start deploys the embedded chain itself)");
  let key: string | null;
  try {
    key = nodeKey(process.env, "LOTLINE_DEPLOYER");
  } catch (err) {
    throw new CliError((err as ConfigError).message);
  }
  if (!key) throw new CliError("set LOTLINE_DEPLOYER_KEY to the funded deployer's 32-byte hex private key (or LOTLINE_DEPLOYER_KEYSTORE with LOTLINE_DEPLOYER_KEYSTORE_PASSWORD_FILE)");
  if (opts.governor && !isAddress(opts.governor)) throw new CliError(`--governor must be an address, got "${opts.governor}"`);
  const out = path.resolve(opts.out ?? config.deploymentFile ?? path.join(config.dataDir, "deployment.json"));
  // cacheTimeout -1: ethers otherwise reuses an eth_getTransactionCount answer for 250 ms and the
  // second deployment transaction goes out with a used nonce.
  const provider = new JsonRpcProvider(config.rpcUrl, undefined, { staticNetwork: true, cacheTimeout: -1 });
  const record = await deployLotline(new Wallet(key, provider), { governor: opts.governor });
  writeJsonAtomic(out, record);
  provider.destroy();
  console.log(json ? JSON.stringify({ file: out, ...record }, null, 2) : `deployed; share ${out} with the consortium's members (LOTLINE_DEPLOYMENT_FILE)`);
}
