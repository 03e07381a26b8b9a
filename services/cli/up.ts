import type { Config } from "../config";
import { startNode } from "../node/node";

/** `lotline up`: runs the node in the foreground until Ctrl-C (SIGINT) or SIGTERM. */
export async function upCommand(config: Config): Promise<void> {
  const node = await startNode(config);
  console.log(`Lotline API      ${node.url}   (docs ${node.url}/docs)`);
  console.log(`Health           ${node.url}/health   ready: ${node.url}/ready`);
  console.log(`Data directory   ${config.dataDir}`);
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping Lotline…`);
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
  console.log(`Chain            ${node.chain ? `${node.chain.url} (embedded, state in ${node.chain.stateFile})` : config.rpcUrl}`);
  console.log(`Ready. Press Ctrl-C to stop.`);
}
