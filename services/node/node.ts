import fs from "node:fs";
import { servesOrg, SERVES_EVERYONE, type ServedOrgs } from "../config/served";
import path from "node:path";
import { JsonRpcProvider, Wallet, type Signer } from "ethers";
import { createSenders } from "../chain/sender";
import type { Logger } from "pino";
import type { FastifyInstance } from "fastify";
import type { Config } from "../config";
import { clearIndex, openDatabase, type Db } from "../store/db";
import { startEmbeddedChain, type EmbeddedChain } from "../chain/embedded";
import { createRpcClient, withRetry, type RpcClient } from "../chain/rpc";
import { connectLotline, deployLotline, type DeploymentRecord, type LotlineContracts } from "../chain/deploy";
import {
  checkContractsVersion,
  checkDataDirVersion,
  checkSameChain,
  contractsExist,
  genesisHash,
  readDeploymentFile,
  readLocalRecords,
  saveLocalRecord,
} from "../chain/deployment-record";
import { CONTRACTS_VERSION } from "../chain/version";
import { createLotlineIndexer } from "../indexer/lotline";
import { createIdentityStore } from "../store/identity";
import { createRelayer } from "../relayer/relayer";
import { buildApp, warmUp } from "../api/app";
import { createLogger } from "../config/logger";
import { initialState, type ServiceState } from "../api/state";
import { seedDemo } from "../demo/seed";
import { DEMO_MEMBERS, demoWallet, GOVERNOR_ACCOUNT, RELAYER_ACCOUNT } from "../demo/roster";
import { seedDemoMasterData, seedSupplyChain } from "../demo/supply-chain";
import { seedDemoOrderTerms } from "../demo/order-terms";
import { createFederation } from "../federation/fetcher";
import { seedDemoProduction } from "../demo/production";
import { createDemoClock, DAY, DEMO_HISTORY_DAYS } from "../demo/clock";
import { createProvenanceStore } from "../store/provenance";
import { createRecallPropagator } from "../provenance/propagator";
import { createAnchorJob } from "../anchoring/job";
import { createOrderFreezer } from "../settlement/freezer";
import { createSettlementStore } from "../store/settlement";
import { createJobLoop } from "./jobs";
import { captureJobFor } from "../epcis/capture";
import { deliveryJobFor } from "../delivery/job";
import { createMappingJob } from "../epcis/mapping/job";
import { scoringFor } from "../scoring/service";

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
export interface NodeOptions {
  logger?: Logger;
  /**
   * Integration keys (hex) of further organisations this node serves, beside LOTLINE_INTEGRATION_KEY:
   * each anchors its organisation's records and signs its federation requests (the demo's nodes).
   */
  integrationKeys?: string[];
  /** Store the demo's off-chain records of the served organisations (default: on a fresh embedded demo chain). */
  demoRecords?: boolean;
}

export async function startNode(config: Config, options: NodeOptions = {}): Promise<RunningNode> {
  const log = options.logger ?? createLogger(config.logLevel);
  // Before anything in the data dir is opened for writing (migrated, indexed, chain state loaded): a data
  // dir of other contracts is refused with a line saying what to do (ADR 0012).
  checkDataDirVersion(config.dataDir, { embedded: !config.rpcUrl });
  // The data dir holds the member's records and, on the embedded chain, its keys' chain: owner only.
  fs.mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  fs.chmodSync(config.dataDir, 0o700);
  const db = openDatabase(path.join(config.dataDir, "lotline.sqlite"));
  const state = initialState();
  let url = `http://${config.host}:${config.port}`;
  const app = await buildApp({ config, db, state, publicUrl: () => config.publicUrl ?? url, logger: log.child({ component: "api" }) });
  await app.listen({ port: config.port, host: config.host });
  const address = app.server.address();
  if (typeof address === "object" && address) url = `http://${config.host}:${address.port}`;

  let chain: EmbeddedChain | null = null;
  // One transaction sender per key, whichever jobs use it (ADR 0014).
  const senders = createSenders({ log: log.child({ component: "sender" }) });
  state.senders = senders;
  let jobs: ReturnType<typeof createJobLoop> | null = null;
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
      chain = await startEmbeddedChain({
        dataDir: config.dataDir,
        port: config.chainPort,
        // A fresh demo chain starts in the past so the demo's history (orders, deadlines) is real.
        genesisTimestamp: config.seedDemo ? Math.floor(Date.now() / 1000) - DEMO_HISTORY_DAYS * DAY : undefined,
      });
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

    if (!config.rpcUrl && config.seedDemo && readLocalRecords(config.dataDir)[deployment.genesisHash]?.demo !== "done") {
      state.phase = "seeding";
      saveLocalRecord(config.dataDir, { ...deployment, demo: "seeding" });
      const progress = (message: string) => log.info(message);
      const clock = createDemoClock(provider);
      await seedDemo(provider, contracts, progress);
      await seedSupplyChain(provider, contracts, clock, progress);
      await clock.toPresent();
      saveLocalRecord(config.dataDir, { ...deployment, demo: "done" });
    }

    state.phase = "indexing";
    const identity = createIdentityStore(db);
    const indexer = createLotlineIndexer({ db, rpc, deployment, log: log.child({ component: "indexer" }) }, config);
    state.indexer = indexer;
    const relayerWallet = relayerSigner(provider);
    state.served = await servedOrganisations(contracts);
    log.info({ serves: state.served.kind === "all" ? "every organisation" : [...state.served.orgs] }, "organisations this node serves");
    state.relayer = createRelayer({
      wallet: relayerWallet,
      provider,
      deployment,
      contracts,
      identity,
      serves: (orgId) => servesOrg(state.served, orgId),
    });

    const jobLog = log.child({ component: "jobs" });
    const integration = integrationSigner(provider);
    if (!integration) jobLog.warn({}, "LOTLINE_INTEGRATION_KEY is not set: off-chain records stay pending, unanchored");
    const otherKeys = servedOrgSigners(provider);
    const signersByOrg = await organisationsOf(contracts, [...(integration ? [integration] : []), ...otherKeys]);
    const federation = createFederation({
      db,
      chainId: () => state.chainId,
      signerFor: (orgId) => signersByOrg.get(orgId) ?? null,
      serves: (orgId) => servesOrg(state.served, orgId),
      log: log.child({ component: "federation" }),
    });
    state.federation = federation;
    jobs = createJobLoop(
      [
        // Anyone may propagate a recall; the relayer's funded key pays for it.
        createRecallPropagator({
          provenance: contracts.provenance.connect(relayerWallet),
          store: createProvenanceStore(db),
          indexed: (block) => indexer.waitForBlock(block),
          log: jobLog,
        }),
        createOrderFreezer({
          escrow: contracts.escrow.connect(relayerWallet),
          store: createSettlementStore(db),
          indexed: (block) => indexer.waitForBlock(block),
          log: jobLog,
        }),
        // Before anchoring, so the events a round stores are anchored in the same round.
        captureJobFor(db, { log: jobLog }),
        // EPCIS subscription reports and members' notifications, through the one webhook outbox (ADR 0018).
        deliveryJobFor(db, { log: jobLog }),
        // Maps stored EPCIS events onto provenance with the integration key, in event order (README: EPCIS → provenance).
        createMappingJob({
          db,
          provenance: contracts.provenance,
          units: contracts.units,
          signer: integration,
          indexed: (block) => indexer.waitForBlock(block),
          log: jobLog,
        }),
        // Scores production runs recorded since the last round (the quality model's hash goes with each score).
        scoringFor(db).job,
        ...(integration
          ? [
              createAnchorJob({
                db,
                anchors: contracts.anchors.connect(integration),
                // Each served organisation's records anchored by its own key (the demo node holds every member's).
                orgAnchors: otherKeys.map((signer) => contracts.anchors.connect(signer)),
                recordsUrl: () => config.publicUrl ?? url,
                indexed: (block) => indexer.waitForBlock(block),
                log: jobLog,
              }),
            ]
          : []),
        // Keeps what other members granted this node's organisations replicated (after anchoring: nothing here waits on it).
        federation.job,
      ],
      { intervalMs: 2_000, log: jobLog },
    );
    await indexer.syncToHead();
    if (stopped) return;
    // The demo's records: each node keeps its own organisations' master data and production runs (the runs
    // name its batches, so they are stored once the index has them; both are no-ops when stored already).
    if (options.demoRecords ?? (!config.rpcUrl && config.seedDemo)) {
      const serves = (orgId: number) => servesOrg(state.served, orgId);
      seedDemoMasterData(db, serves);
      await seedDemoProduction(db, { log, serves });
      // The terms documents of the orders its organisations placed (their keccak256 is each order's termsHash).
      seedDemoOrderTerms(db, serves);
    }
    // The default quality model: trained at first start (cached in the data dir), recorded and queued for anchoring.
    await scoringFor(db).start(config.dataDir, log.child({ component: "scoring" }));
    indexer.start();
    // Recalls and records of the first run are carried through before the node says it is ready.
    await jobs.runNow();
    jobs.start();
    // The explorer's pages run once before the node says it is ready, so their first reader does not
    // pay for the routes' first run (services/api/warm-up.ts); a failure here only costs that time.
    await warmUp(app, db, { signerFor: (orgId) => signersByOrg.get(orgId) ?? integration }).then(
      (done) => (done.failed.length ? log.warn(done, "some explorer requests failed while warming up") : log.debug(done, "explorer pages warmed up")),
      (err: Error) => log.warn({ err: err.message }, "the explorer's pages could not be warmed up"),
    );
    if (stopped) return;
    state.phase = "ready";
    log.info({ url, docs: `${url}/docs`, rpcUrl, chainId: state.chainId }, "Lotline is ready");
  }

  async function resolveDeployment(rpc: RpcClient, provider: JsonRpcProvider): Promise<DeploymentRecord> {
    if (config.deploymentFile) {
      const record = readDeploymentFile(config.deploymentFile);
      checkContractsVersion(record, `the deployment file ${config.deploymentFile}`);
      await checkSameChain(rpc, record);
      return record;
    }
    if (config.rpcUrl) {
      throw new Error("LOTLINE_RPC_URL is set but LOTLINE_DEPLOYMENT_FILE is not: point it at the consortium's deployment file (or run `npm run deploy`)");
    }
    const genesis = await genesisHash(rpc);
    const known = readLocalRecords(config.dataDir)[genesis];
    const interrupted = known?.demo === "seeding" && config.seedDemo;
    if (known && !interrupted && (await contractsExist(rpc, known))) {
      checkContractsVersion(known, `the data dir's deployment record (${config.dataDir})`);
      const { demo: _demo, ...record } = known;
      return record;
    }
    state.phase = "deploying";
    log.info(
      !known
        ? "deploying Lotline contracts"
        : interrupted
          ? "the demo's seeding was interrupted; deploying afresh to seed it again"
          : "the embedded chain lost the deployment in a crash; deploying again",
    );
    const record = await deployLotline(demoWallet(GOVERNOR_ACCOUNT, provider));
    saveLocalRecord(config.dataDir, record);
    return record;
  }

  /** This member's integration key: the agent its service anchors records with. */
  function integrationSigner(provider: JsonRpcProvider): Signer | null {
    const wallet = config.integrationKey
      ? new Wallet(config.integrationKey, provider)
      : !config.rpcUrl
        ? demoWallet(DEMO_MEMBERS[0].integrationAccount, provider)
        : null;
    return wallet ? senders.forKey("integration", wallet) : null;
  }

  /**
   * LOTLINE_SERVE_ORGS, else the organisation of the integration key; the embedded demo's one node
   * (no integration key given) serves every member.
   */
  async function servedOrganisations(contracts: LotlineContracts): Promise<ServedOrgs> {
    if (config.serveOrgs) return { kind: "some", orgs: new Set(config.serveOrgs) };
    if (!config.integrationKey) return config.rpcUrl ? { kind: "some", orgs: new Set() } : SERVES_EVERYONE;
    const orgId = Number((await contracts.registry.agent(new Wallet(config.integrationKey).address)).orgId);
    return { kind: "some", orgs: new Set(orgId ? [orgId] : []) };
  }

  /**
   * Integration keys of the other organisations this node keeps records for, beside the default
   * one: on the embedded demo chain, every demo member's (one node serves the whole demo).
   */
  function servedOrgSigners(provider: JsonRpcProvider): Signer[] {
    if (options.integrationKeys) return options.integrationKeys.map((key, i) => senders.forKey(`integration:${i + 1}`, new Wallet(key, provider)));
    if (config.integrationKey || config.rpcUrl) return [];
    return DEMO_MEMBERS.slice(1).map((member) => senders.forKey(`integration:${member.key}`, demoWallet(member.integrationAccount, provider)));
  }

  /** The organisation each key is an agent of (keys of no organisation are left out). */
  async function organisationsOf(contracts: LotlineContracts, signers: Signer[]): Promise<Map<number, Signer>> {
    const byOrg = new Map<number, Signer>();
    for (const signer of signers) {
      const orgId = Number((await contracts.registry.agent(await signer.getAddress())).orgId);
      if (orgId && !byOrg.has(orgId)) byOrg.set(orgId, signer);
    }
    return byOrg;
  }

  function relayerSigner(provider: JsonRpcProvider): Signer {
    const wallet = config.relayerKey ? new Wallet(config.relayerKey, provider) : !config.rpcUrl ? demoWallet(RELAYER_ACCOUNT, provider) : null;
    if (!wallet) throw new Error("LOTLINE_RELAYER_KEY is required with LOTLINE_RPC_URL (the relayer's funded key)");
    return senders.forKey("relayer", wallet);
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
      // First, so a job waiting for a stuck transaction ends its round now rather than after the wait's timeout.
      senders.close();
      await jobs?.stop();
      await captureJobFor(db).stop();
      await state.indexer?.stop();
      await app.close();
      scoringFor(db).stop();
      await chain?.stop();
      db.close();
    },
  };
}

/**
 * The index belongs to one deployment. If the data dir's deployment changed (a new chain, or a
 * redeploy after the embedded chain lost its blocks), the derived tables start again from empty.
 * The contracts version is recorded beside it, so a later Lotline with other contracts knows this
 * index is not its own (checkDataDirVersion).
 */
function resetIndexIfDeploymentChanged(db: Db, deployment: DeploymentRecord): void {
  const key = `${deployment.genesisHash}:${deployment.contracts.registry}`;
  const row = db.prepare(`SELECT value FROM meta WHERE key = 'deployment'`).get() as { value: string } | undefined;
  db.transaction(() => {
    if (row?.value !== key) clearIndex(db);
    db.prepare(`INSERT OR REPLACE INTO meta (key, value) VALUES ('deployment', ?)`).run(key);
    db.prepare(`INSERT OR REPLACE INTO meta (key, value) VALUES ('contracts_version', ?)`).run(CONTRACTS_VERSION);
  })();
}
