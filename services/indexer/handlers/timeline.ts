import type { Db } from "../../store/db";
import { insertGrouped } from "../../store/row-groups";
import type { ChainEvent } from "../types";

const INSERT_TIMELINE = `INSERT OR IGNORE INTO batch_events (block_number, log_index, batch_id, type, details, tx_hash, time) VALUES`;

/**
 * One entry of a batch's timeline (GET /api/v1/batches/{ref}/history), at the event's place in the
 * chain. Inserted with the rest of its block's entries while the indexer applies a block
 * (store/row-groups.ts); no handler reads batch_events.
 */
export function timeline(db: Db, e: ChainEvent, batchId: string, type: string, details: Record<string, unknown>): void {
  insertGrouped(db, INSERT_TIMELINE, [e.log.blockNumber, e.log.logIndex, batchId, type, JSON.stringify(details), e.log.transactionHash, e.time]);
}
