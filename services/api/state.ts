import type { DeploymentRecord } from "../chain/deploy";
import type { RpcClient } from "../chain/rpc";
import type { Indexer } from "../indexer/engine";
import type { Relayer } from "../relayer/relayer";
import type { Senders } from "../chain/sender";
import { SERVES_EVERYONE, type ServedOrgs } from "../config/served";
import type { Federation } from "../federation/fetcher";

/**
 * What the HTTP layer can see of the node while it boots: the API listens first (so /health
 * answers during deployment and seeding) and routes that need the chain answer 503 until the
 * pieces they need are here.
 */
export interface ServiceState {
  phase: "starting" | "deploying" | "seeding" | "indexing" | "ready" | "failed";
  error: string | null;
  chainId: number;
  deployment: DeploymentRecord | null;
  rpc: RpcClient | null;
  indexer: Indexer | null;
  relayer: Relayer | null;
  /** The organisations this node serves (LOTLINE_SERVE_ORGS), known once the chain is. */
  served: ServedOrgs;
  /** Fetches other members' records from their nodes (null until the chain is known, or on a node with no peers). */
  federation: Federation | null;
  /** The node's transaction senders, one per key (for metrics). */
  senders: Senders | null;
}

export function initialState(): ServiceState {
  return { phase: "starting", error: null, chainId: 0, deployment: null, rpc: null, indexer: null, relayer: null, served: SERVES_EVERYONE, federation: null, senders: null };
}
