import path from "node:path";
import type { Logger } from "pino";
import type { Config } from "../config";
import { writeJsonAtomic } from "../chain/deployment-record";
import { connectLotline } from "../chain/deploy";
import { DEMO_MEMBERS, demoWallet } from "../demo/roster";
import { createSharingStore } from "../store/sharing";
import { startNode, type RunningNode } from "./node";

/**
 * The embedded demo as a consortium (`npm start`): one embedded chain and three member nodes, each
 * serving its own organisations, holding only their off-chain records and anchoring them with their
 * own integration keys, and fetching what others granted them over HTTP (federation). The first
 * node runs the chain, deploys and seeds it; the others join it as any member's node joins a real
 * network (RPC URL + deployment file). Each organisation's admin then publishes its node's URL
 * on-chain. LOTLINE_DEMO_NODES=1 keeps the single node that serves everyone.
 */
export interface DemoNodeLayout {
  /** Directory under the data dir. */
  dir: string;
  /** Demo member keys (services/demo/roster.ts) whose organisations the node serves. */
  members: string[];
  /** Demo account of the node's relayer key (each node its own, so their nonces never collide). */
  relayerAccount: number;
}

export const DEMO_NODE_LAYOUT: readonly DemoNodeLayout[] = [
  { dir: "node-1", members: ["producer", "processor", "carrier"], relayerAccount: 9 },
  { dir: "node-2", members: ["processor2", "distributor"], relayerAccount: 18 },
  { dir: "node-3", members: ["retailer", "auditor", "certifier"], relayerAccount: 19 },
];

export interface DemoConsortium {
  nodes: { layout: DemoNodeLayout; orgIds: number[]; node: RunningNode }[];
  /** Resolves when every node is ready and every URL is published. */
  ready: Promise<void>;
  stop(): Promise<void>;
}

const memberOf = (key: string) => {
  const index = DEMO_MEMBERS.findIndex((m) => m.key === key);
  if (index < 0) throw new Error(`unknown demo member ${key}`);
  return { ...DEMO_MEMBERS[index], orgId: index + 1 };
};
const keyOf = (account: number) => demoWallet(account).privateKey;

export async function startDemoConsortium(config: Config, options: { logger?: Logger } = {}): Promise<DemoConsortium> {
  const portOf = (i: number) => (config.port === 0 ? 0 : config.port + i);
  const configFor = (i: number, overrides: Partial<Config>): Config => {
    const layout = DEMO_NODE_LAYOUT[i];
    const members = layout.members.map(memberOf);
    return {
      ...config,
      dataDir: path.join(config.dataDir, layout.dir),
      port: portOf(i),
      publicUrl: i === 0 ? config.publicUrl : null,
      serveOrgs: members.map((m) => m.orgId),
      integrationKey: keyOf(members[0].integrationAccount),
      relayerKey: keyOf(layout.relayerAccount),
      ...overrides,
    };
  };
  const extraKeys = (i: number) => DEMO_NODE_LAYOUT[i].members.slice(1).map((key) => keyOf(memberOf(key).integrationAccount));
  const loggerFor = (i: number) => options.logger?.child({ node: DEMO_NODE_LAYOUT[i].dir });

  const nodes: DemoConsortium["nodes"] = [];
  const first = await startNode(configFor(0, {}), { logger: loggerFor(0), integrationKeys: extraKeys(0) });
  nodes.push({ layout: DEMO_NODE_LAYOUT[0], orgIds: DEMO_NODE_LAYOUT[0].members.map((k) => memberOf(k).orgId), node: first });

  const ready = (async () => {
    await first.ready;
    const deploymentFile = path.join(config.dataDir, "deployment.json");
    writeJsonAtomic(deploymentFile, first.state.deployment);
    const rpcUrl = first.chain!.url;
    for (let i = 1; i < DEMO_NODE_LAYOUT.length; i++) {
      const node = await startNode(configFor(i, { rpcUrl, deploymentFile }), { logger: loggerFor(i), integrationKeys: extraKeys(i), demoRecords: config.seedDemo });
      nodes.push({ layout: DEMO_NODE_LAYOUT[i], orgIds: DEMO_NODE_LAYOUT[i].members.map((k) => memberOf(k).orgId), node });
    }
    await Promise.all(nodes.map((n) => n.node.ready));
    await publishServiceUrls(nodes, rpcUrl);
  })();
  ready.catch(() => undefined);

  return {
    nodes,
    ready,
    async stop() {
      // The first node owns the chain: the others stop before it.
      for (const n of [...nodes].reverse()) await n.node.stop();
    },
  };
}

/**
 * Each organisation's admin publishes its node's URL on-chain (SharingRegistry.setServiceUrl) when
 * the chain does not already say so, then every node waits until its index has all of them.
 */
async function publishServiceUrls(nodes: DemoConsortium["nodes"], rpcUrl: string): Promise<void> {
  const { JsonRpcProvider } = await import("ethers");
  const first = nodes[0].node;
  const provider = new JsonRpcProvider(rpcUrl, first.state.chainId, { staticNetwork: true });
  const contracts = connectLotline(first.state.deployment!, provider);
  const sharing = createSharingStore(first.db);
  let lastBlock = 0;
  for (const { node, orgIds } of nodes) {
    for (const orgId of orgIds) {
      if (sharing.serviceUrl(orgId) === node.url) continue;
      const admin = demoWallet(DEMO_MEMBERS[orgId - 1].account, provider);
      const receipt = await (await contracts.sharing.connect(admin).setServiceUrl(orgId, node.url)).wait();
      lastBlock = Math.max(lastBlock, receipt!.blockNumber);
    }
  }
  if (lastBlock) await Promise.all(nodes.map(({ node }) => node.state.indexer!.waitForBlock(lastBlock)));
  provider.destroy();
}
