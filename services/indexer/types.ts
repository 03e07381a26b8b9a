import type { Result } from "ethers";
import type { Db } from "../store/db";
import type { ContractName } from "../chain/contracts";
import type { RpcBlock, RpcLog } from "../chain/rpc";

/** One decoded contract event, with the block it belongs to. */
export interface ChainEvent {
  contract: ContractName;
  name: string;
  args: Result;
  /**
   * Where the log sits. Its data and topics are not a handler's: `args` holds them decoded (a log
   * decoded on the catch-up's reader thread arrives without them, ADR 0039).
   */
  log: Omit<RpcLog, "data" | "topics">;
  block: RpcBlock;
  /** Block time as ISO 8601 UTC. */
  time: string;
}

/**
 * Applies one event to the derived tables. Handlers are synchronous and write only through `db`
 * inside the indexer's transaction; the journal makes their writes reversible.
 */
export type EventHandler = (db: Db, event: ChainEvent) => void;

/** Handlers keyed by `contract.EventName`. Later issues add their own maps. */
export type HandlerMap = Partial<Record<`${ContractName}.${string}`, EventHandler>>;

/** What one step of the indexer did (a discriminated union, as Ponder's sync emits). */
export type IndexerStep =
  | { type: "blocks"; from: number; to: number; events: number }
  | { type: "idle"; head: number }
  | { type: "retry"; reason: string }
  | { type: "reorg"; from: number; ancestor: number; undone: number }
  | { type: "rebuild"; reason: string };

/** The indexer stops on this: a reorganisation deeper than the window, or a wrong chain. */
export class IndexerHaltedError extends Error {
  override name = "IndexerHaltedError";
}
