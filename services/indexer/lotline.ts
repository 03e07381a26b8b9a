import type { Config } from "../config";
import type { DeploymentRecord } from "../chain/deploy";
import type { RpcClient } from "../chain/rpc";
import type { Db } from "../store/db";
import { createIndexer, type IndexerOptions } from "./engine";
import { identityHandlers } from "./handlers/identity";
import { provenanceHandlers } from "./handlers/provenance";
import { settlementHandlers } from "./handlers/settlement";
import { sharingHandlers } from "./handlers/sharing";
import { composeHandlers, notificationHandlers } from "../notifications/handlers";

/**
 * Every handler Lotline indexes with. Later issues add their maps here. The notification handlers
 * come last: they read the state the domain handlers of the same event left.
 */
export const LOTLINE_HANDLERS = composeHandlers(
  { ...identityHandlers, ...provenanceHandlers, ...settlementHandlers, ...sharingHandlers },
  notificationHandlers,
);

/** The indexer for a Lotline deployment, configured from the environment. */
export function createLotlineIndexer(
  deps: {
    db: Db;
    rpc: RpcClient;
    deployment: DeploymentRecord;
    log?: IndexerOptions["log"];
    /** Read the catch-up ahead on a worker thread (ADR 0039); false for an `rpc` that is more than a client of its URL. */
    readOffThread?: boolean;
  },
  config: Pick<Config, "finalityDepth" | "reorgWindow" | "logRange" | "rpcUrl">,
) {
  return createIndexer({
    db: deps.db,
    rpc: deps.rpc,
    contracts: deps.deployment.contracts,
    startBlock: deps.deployment.startBlock,
    handlers: LOTLINE_HANDLERS,
    finalityDepth: config.finalityDepth,
    reorgWindow: config.reorgWindow,
    maxRange: config.logRange,
    // Only the embedded chain may come back shorter after a crash and be rebuilt from (ADR 0004).
    rebuildOnDeepReorg: !config.rpcUrl,
    readOffThread: deps.readOffThread ?? true,
    log: deps.log,
  });
}
