import type { Db } from "../../store/db";
import { prepared } from "../../store/statements";
import { onEventStored } from "../capture";
import { recordIdOf } from "../store";

/**
 * The mapping queue (table epcis_mappings): one row per stored event, added by a capture hook in the
 * transaction that stores the event (so no stored event is missed and none that was rolled back is
 * mapped), then settled by the mapping job: `applied` (with its effect and transactions) or
 * `not_applied` (with the reason).
 */
export type MappingStatus = "pending" | "applied" | "not_applied";

export interface MappingRow {
  seq: number;
  status: MappingStatus;
  effect: string | null;
  reason: string | null;
  tx_hash: string | null;
  details: string | null;
  block_number: number | null;
  block_hash: string | null;
  created_at: string;
  updated_at: string;
}

let installed = false;

/** Registers the capture hook that queues every newly stored event (once per process). */
export function installMappingQueue(): void {
  if (installed) return;
  installed = true;
  onEventStored((db, event) => {
    const now = new Date().toISOString();
    prepared(
      db,
      `INSERT INTO epcis_mappings (seq, status, created_at, updated_at) VALUES (?, 'pending', ?, ?) ON CONFLICT (seq) DO NOTHING`,
    ).run(event.seq, now, now);
  });
}

export function mappingOf(db: Db, seq: number): MappingRow | undefined {
  return prepared(db, `SELECT * FROM epcis_mappings WHERE seq = ?`).get(seq) as MappingRow | undefined;
}

/** Records progress or the outcome of a mapping. */
export function updateMapping(
  db: Db,
  seq: number,
  fields: {
    status: MappingStatus;
    effect?: string | null;
    reason?: string | null;
    txHash?: string | null;
    details?: unknown;
    /** The block holding the mapping's last transaction (applied mappings), re-checked after reorganisations. */
    block?: { number: number; hash: string } | null;
  },
): void {
  prepared(
    db,
    `UPDATE epcis_mappings SET status = ?, effect = ?, reason = ?, tx_hash = ?, block_number = ?, block_hash = ?, details = ?, updated_at = ? WHERE seq = ?`,
  ).run(
    fields.status,
    fields.effect ?? null,
    fields.reason ?? null,
    fields.txHash ?? null,
    fields.block?.number ?? null,
    fields.block?.hash ?? null,
    fields.details === undefined || fields.details === null ? null : JSON.stringify(fields.details, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v)),
    new Date().toISOString(),
    seq,
  );
}

export interface MappingView {
  recordId: string;
  eventID: string;
  hashId: string;
  status: MappingStatus;
  effect: string | null;
  reason: string | null;
  transactionHash: string | null;
  transactions: string[];
  details: Record<string, unknown> | null;
  createdAt: string | null;
  updatedAt: string | null;
}

/** The mapping of a stored event record, as the API shows it. */
export function mappingView(db: Db, event: { seq: number; event_id: string; hash_id: string }): MappingView {
  const row = mappingOf(db, event.seq);
  const details = row?.details ? (JSON.parse(row.details) as Record<string, unknown>) : null;
  const transactions = Array.isArray(details?.transactions) ? (details.transactions as string[]) : row?.tx_hash ? [row.tx_hash] : [];
  return {
    recordId: recordIdOf(event.seq),
    eventID: event.event_id,
    hashId: event.hash_id,
    status: row?.status ?? "not_applied",
    effect: row?.effect ?? null,
    reason: row ? row.reason : "not queued for mapping",
    transactionHash: row?.tx_hash ?? null,
    transactions,
    details,
    createdAt: row?.created_at ?? null,
    updatedAt: row?.updated_at ?? null,
  };
}
