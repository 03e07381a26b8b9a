import path from "node:path";
import pino from "pino";
import type { Config } from "../config";
import { createRpcClient } from "../chain/rpc";
import { checkContractsVersion, checkDataDirVersion, checkSameChain, genesisHash, readDeploymentFile, readLocalRecords } from "../chain/deployment-record";
import type { DeploymentRecord } from "../chain/deploy";
import { clearIndex, openDatabase } from "../store/db";
import { createLotlineIndexer } from "../indexer/lotline";
import { CliError } from "./client";

/**
 * `lotline index run`: only the indexer, following LOTLINE_RPC_URL into the data dir's SQLite file
 * until stopped (for operators who serve the API elsewhere, and for crash tests).
 */
export async function indexRunCommand(config: Config, opts: { once?: boolean }): Promise<void> {
  if (!config.rpcUrl) throw new CliError("set LOTLINE_RPC_URL: 'lotline index run' follows an existing chain ('npm start' indexes the embedded one)");
  const rpc = createRpcClient(config.rpcUrl);
  const deployment = await findDeployment(config, rpc);
  checkDataDirVersion(config.dataDir, { embedded: false });
  const db = openDatabase(path.join(config.dataDir, "lotline.sqlite"));
  const log = pino({ level: config.logLevel });
  const indexer = createLotlineIndexer({ db, rpc, deployment, log }, config);
  indexer.on("step", (step: { type: string; from?: number; to?: number }) => {
    if (step.type === "blocks") log.info({ from: step.from, to: step.to, lag: indexer.status().lagBlocks }, "indexed");
  });
  if (opts.once) {
    await indexer.syncToHead();
    db.close();
    return;
  }
  const stop = async () => {
    await indexer.stop();
    db.close();
    process.exit(0);
  };
  process.on("SIGINT", () => void stop());
  process.on("SIGTERM", () => void stop());
  indexer.start();
  await new Promise<void>((resolve) => indexer.on("halted", (err: Error) => {
    log.error({ err: err.message }, "indexer halted");
    resolve();
  }));
  db.close();
  throw new CliError("the indexer halted; see the log above");
}

/** `lotline index rebuild`: empties the index so the next start re-reads the chain (service stopped). */
export function indexRebuildCommand(config: Config): void {
  const db = openDatabase(path.join(config.dataDir, "lotline.sqlite"));
  clearIndex(db);
  db.close();
}

async function findDeployment(config: Config, rpc: ReturnType<typeof createRpcClient>): Promise<DeploymentRecord> {
  if (config.deploymentFile) {
    const record = readDeploymentFile(config.deploymentFile);
    checkContractsVersion(record, `the deployment file ${config.deploymentFile}`);
    await checkSameChain(rpc, record);
    return record;
  }
  const local = readLocalRecords(config.dataDir)[await genesisHash(rpc)];
  if (!local) throw new CliError("set LOTLINE_DEPLOYMENT_FILE to the consortium's deployment file");
  checkContractsVersion(local, `the data dir's deployment record (${config.dataDir})`);
  return local;
}
