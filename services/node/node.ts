import path from "node:path";
import { JsonRpcProvider, NonceManager, Wallet, type Signer } from "ethers";
import pino, { type Logger } from "pino";
import type { FastifyInstance } from "fastify";
import type { Config } from "../config";
import { clearIndex, openDatabase, type Db } from "../store/db";
import { startEmbeddedChain, type EmbeddedChain } from "../chain/embedded";
import { createRpcClient, withRetry, type RpcClient } from "../chain/rpc";
import { connectLotline, deployLotline, type DeploymentRecord } from "../chain/deploy";
import {
  checkSameChain,
  contractsExist,
  genesisHash,
  readDeploymentFile,
  readLocalRecords,
  saveLocalRecord,
} from "../chain/deployment-record";
import { createLotlineIndexer } from "../indexer/lotline";
import { createIdentityStore } from "../store/identity";
import { createRelayer } from "../relayer/relayer";
import { buildApp } from "../api/app";
import { initialState, type ServiceState } from "../api/state";
import { seedDemo } from "../demo/seed";
import { demoWallet, GOVERNOR_ACCOUNT, RELAYER_ACCOUNT } from "../demo/roster";

export interface RunningNode {
  app: FastifyInstance;
  state: ServiceState;
  db: Db;
  url: string;
  chain: EmbeddedChain | null;
  /** Resolves when the node is ready (or rejects when booting failed). */
  ready: Promise<void>;
  stop(): Promise<void>;
}

/**
 * The main job (`lotline up`, `npm start`): listen first so /health answers at once, then bring up
 * the chain (embedded unless LOTLINE_RPC_URL is set), find or make the deployment, seed the demo
 * on a fresh embedded chain, and index to the head. Ready when all of that is done.
 */
export async function startNode(config: Config, options: { logger?: Logger } = {}): Promise<RunningNode> {
  const log = options.logger ?? pino({ level: config.logLevel, redact: ["req.headers.authorization", "*.signature", "*.token", "*.privateKey"] });
  const db = openDatabase(path.join(config.dataDir, "lotline.sqlite"));
  const state = initialState();
  let url = `http://${config.host}:${config.port}`;
  const app = await buildApp({ config, db, state, publicUrl: () => config.publicUrl ?? url, logger: log.child({ component: "api" }) });
  await app.listen({ port: config.port, host: config.host });
  const address = app.server.address();
  if (typeof address === "object" && address) url = `http://${config.host}:${address.port}`;

  let chain: EmbeddedChain | null = null;
  let stopped = false;
  const ready = boot().catch((err: Error) => {
    state.phase = "failed";
    state.error = err.message;
    log.error({ err: err.message }, "Lotline failed to start");
    throw err;
  });
  ready.catch(() => undefined); // callers that await `ready` see the error; nobody else should crash

  async function boot(): Promise<void> {
    let rpcUrl = config.rpcUrl;
    if (!rpcUrl) {
      chain = await startEmbeddedChain({ dataDir: config.dataDir, port: config.chainPort });
      rpcUrl = chain.url;
      log.info({ rpcUrl }, "embedded chain started");
    }
    const rpc = createRpcClient(rpcUrl);
    state.rpc = rpc;
    state.chainId = await withRetry(() => rpc.chainId());
    const provider = new JsonRpcProvider(rpcUrl, state.chainId, { staticNetwork: true, cacheTimeout: -1 });

    const deployment = await resolveDeployment(rpc, provider);
    state.deployment = deployment;
    resetIndexIfDeploymentChanged(db, deployment);
    const contracts = connectLotline(deployment, provider);

    if (!config.rpcUrl && config.seedDemo) {
      const records = readLocalRecords(config.dataDir);
      if (!records[deployment.genesisHash]?.demoSeeded) {
        state.phase = "seeding";
        await seedDemo(provider, contracts, (message) => log.info(message));
        saveLocalRecord(config.dataDir, { ...deployment, demoSeeded: true });
      }
    }

    state.phase = "indexing";
    const identity = createIdentityStore(db);
    const indexer = createLotlineIndexer({ db, rpc, deployment, log: log.child({ component: "indexer" }) }, config);
    state.indexer = indexer;
    state.relayer = createRelayer({ wallet: relayerSigner(provider), provider, deployment, contracts, identity });
    await indexer.syncToHead();
    if (stopped) return;
    indexer.start();
    state.phase = "ready";
    log.info({ url, docs: `${url}/docs`, rpcUrl, chainId: state.chainId }, "Lotline is ready");
  }

  async function resolveDeployment(rpc: RpcClient, provider: JsonRpcProvider): Promise<DeploymentRecord> {
    if (config.deploymentFile) {
      const record = readDeploymentFile(config.deploymentFile);
      await checkSameChain(rpc, record);
      return record;
    }
    if (config.rpcUrl) {
      throw new Error("LOTLINE_RPC_URL is set but LOTLINE_DEPLOYMENT_FILE is not: point it at the consortium's deployment file (or run `npm run deploy`)");
    }
    const genesis = await genesisHash(rpc);
    const known = readLocalRecords(config.dataDir)[genesis];
    if (known && (await contractsExist(rpc, known))) {
      const { demoSeeded: _seeded, ...record } = known;
      return record;
    }
    state.phase = "deploying";
    log.info(known ? "the embedded chain lost the deployment in a crash; deploying again" : "deploying Lotline contracts");
    const record = await deployLotline(demoWallet(GOVERNOR_ACCOUNT, provider));
    saveLocalRecord(config.dataDir, record);
    return record;
  }

  function relayerSigner(provider: JsonRpcProvider): Signer {
    const wallet = config.relayerKey ? new Wallet(config.relayerKey, provider) : !config.rpcUrl ? demoWallet(RELAYER_ACCOUNT, provider) : null;
    if (!wallet) throw new Error("LOTLINE_RELAYER_KEY is required with LOTLINE_RPC_URL (the relayer's funded key)");
    return new NonceManager(wallet);
  }

  return {
    app,
    state,
    db,
    url,
    get chain() {
      return chain;
    },
    ready,
    async stop() {
      stopped = true;
      await ready.catch(() => undefined);
      await state.indexer?.stop();
      await app.close();
      await chain?.stop();
      db.close();
    },
  };
}

/**
 * The index belongs to one deployment. If the data dir's deployment changed (a new chain, or a
 * redeploy after the embedded chain lost its blocks), the derived tables start again from empty.
 */
function resetIndexIfDeploymentChanged(db: Db, deployment: DeploymentRecord): void {
  const key = `${deployment.genesisHash}:${deployment.contracts.registry}`;
  const row = db.prepare(`SELECT value FROM meta WHERE key = 'deployment'`).get() as { value: string } | undefined;
  if (row?.value === key) return;
  db.transaction(() => {
    clearIndex(db);
    db.prepare(`INSERT OR REPLACE INTO meta (key, value) VALUES ('deployment', ?)`).run(key);
  })();
}
