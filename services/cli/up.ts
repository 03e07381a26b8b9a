import type { Config } from "../config";
import { startNode, type RunningNode } from "../node/node";
import { startDemoConsortium } from "../node/consortium";
import { DEMO_MEMBERS } from "../demo/roster";

/** How long a graceful stop may take before the process exits anyway. */
export const STOP_DEADLINE_MS = 10_000;

/**
 * `lotline up`: runs the node in the foreground until Ctrl-C (SIGINT) or SIGTERM. The first signal
 * stops gracefully (jobs, indexer, API, the embedded chain saving its state) and exits within
 * STOP_DEADLINE_MS even if something hangs (a transaction that never mines); a second signal exits
 * at once.
 */
export async function upCommand(config: Config): Promise<void> {
  // Everything the node writes (database, deployment records, chain state, models): owner only.
  process.umask(0o077);
  // The embedded demo delivers webhooks to local test receivers; a real network never by default.
  if (!config.rpcUrl && process.env.LOTLINE_WEBHOOK_ALLOW_PRIVATE === undefined) process.env.LOTLINE_WEBHOOK_ALLOW_PRIVATE = "1";
  const consortium = !config.rpcUrl && config.seedDemo && config.demoNodes > 1;
  const node = consortium ? await consortiumNode(config) : await startNode(config);
  if (!consortium) {
    console.log(`Lotline API      ${node.url}   (docs ${node.url}/docs)`);
    console.log(`Explorer         ${node.url}/`);
    console.log(`Health           ${node.url}/health   ready: ${node.url}/ready`);
  }
  console.log(`Data directory   ${config.dataDir}`);
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) {
      console.log(`\n${signal} again: exiting now without waiting for a clean stop`);
      node.chain?.process.kill("SIGINT");
      process.exit(130);
    }
    stopping = true;
    console.log(`\n${signal}: stopping Lotline… (press Ctrl-C again to force)`);
    setTimeout(() => {
      console.error(`Lotline did not stop within ${STOP_DEADLINE_MS / 1000} s; exiting anyway`);
      node.chain?.process.kill("SIGINT");
      process.exit(1);
    }, STOP_DEADLINE_MS).unref();
    await node.stop();
    process.exit(0);
  };
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  try {
    await node.ready;
  } catch (err) {
    await node.stop();
    throw err;
  }
  if (consortium) for (const line of (node as ConsortiumNode).banner()) console.log(line);
  console.log(`Chain            ${node.chain ? `${node.chain.url} (embedded, state in ${node.chain.stateFile})` : config.rpcUrl}`);
  console.log(`Ready. Press Ctrl-C to stop.`);
}

type ConsortiumNode = Pick<RunningNode, "chain" | "ready" | "stop" | "url"> & { banner(): string[] };

/** The demo consortium behind the one-node face `upCommand` drives (ready, stop, chain), with a banner of every node. */
async function consortiumNode(config: Config): Promise<ConsortiumNode> {
  const consortium = await startDemoConsortium(config);
  const first = consortium.nodes[0].node;
  return {
    get url() {
      return first.url;
    },
    get chain() {
      return first.chain;
    },
    ready: consortium.ready,
    stop: () => consortium.stop(),
    banner: () =>
      consortium.nodes.map(
        ({ layout, orgIds, node }) =>
          `Member node      ${node.url}   (explorer ${node.url}/, docs ${node.url}/docs, data ${layout.dir}/) serves ${orgIds.map((id) => `${DEMO_MEMBERS[id - 1].name} (${id})`).join(", ")}`,
      ),
  };
}
