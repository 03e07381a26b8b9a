import { canonicalize } from "json-canonicalize";
import type { Db } from "../store/db";
import { prepared } from "../store/statements";
import { proofOf, type AnchoringOrg } from "../anchoring/outbox";
import { proofReaches } from "../anchoring/merkle";
import { eventHashId } from "./hash";
import { eventLeaf } from "./leaf";
import { prefixLookup, type PrefixLookup } from "./identifiers";

/**
 * EPCIS records in SQLite: capture jobs (the document as received and the job's state) and stored
 * events (canonical JSON plus indexed columns and identifier rows). These are primary data; every
 * stored event is queued for anchoring in the transaction that stores it (see capture.ts).
 */

/** The anchoring outbox kind of EPCIS events (at most 31 bytes: it goes on-chain as bytes32). */
export const EPCIS_ANCHOR_KIND = "EPCIS";

export function recordIdOf(seq: number): string {
  return `epcis:event:${seq}`;
}

export type CaptureErrorBehaviour = "rollback" | "proceed";

/** An error of a capture job, in the RFC 9457 shape the binding's capture job `errors` use. */
export interface CaptureError {
  type: string;
  title: string;
  detail: string;
  eventIndex: number | null;
  eventID?: string;
  field?: string;
}

/** An event that was already stored byte for byte (same canonical JSON): stored once. */
export interface CaptureDuplicate {
  eventIndex: number;
  eventID: string;
  hashId: string;
  /** The capture that stored it first. */
  storedBy: string;
}

export interface CaptureRow {
  seq: number;
  capture_id: string;
  org_id: number;
  agent: string;
  content_type: string;
  document: string;
  error_behaviour: CaptureErrorBehaviour;
  running: number;
  total: number;
  processed: number;
  stored: number;
  errors: string;
  duplicates: string;
  /** JSON CaptureError[]: events refused on arrival (proceed). */
  invalid: string;
  created_at: string;
  finished_at: string | null;
}

export interface CaptureView {
  captureID: string;
  createdAt: string;
  finishedAt?: string;
  running: boolean;
  success: boolean;
  captureErrorBehaviour: CaptureErrorBehaviour;
  errors: CaptureError[];
  processed: number;
  total: number;
  stored: number;
  duplicates: CaptureDuplicate[];
}

export function captureView(row: CaptureRow): CaptureView {
  const errors = JSON.parse(row.errors) as CaptureError[];
  return {
    captureID: row.capture_id,
    createdAt: row.created_at,
    ...(row.finished_at ? { finishedAt: row.finished_at } : {}),
    running: row.running === 1,
    success: errors.length === 0,
    captureErrorBehaviour: row.error_behaviour,
    errors,
    processed: row.processed,
    total: row.total,
    stored: row.stored,
    duplicates: JSON.parse(row.duplicates) as CaptureDuplicate[],
  };
}

export function insertCapture(
  db: Db,
  capture: {
    captureId: string;
    orgId: number;
    agent: string;
    contentType: string;
    document: string;
    errorBehaviour: CaptureErrorBehaviour;
    total: number;
    /** proceed: events refused on arrival (not captured; reported among the job's errors). */
    invalid?: CaptureError[];
  },
): void {
  const invalid = JSON.stringify(capture.invalid ?? []);
  prepared(
    db,
    `INSERT INTO epcis_captures (capture_id, org_id, agent, content_type, document, error_behaviour, running, total, created_at, invalid, errors)
     VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?)`,
  ).run(
    capture.captureId,
    capture.orgId,
    capture.agent,
    capture.contentType,
    capture.document,
    capture.errorBehaviour,
    capture.total,
    new Date().toISOString(),
    invalid,
    invalid,
  );
}

export function getCapture(db: Db, captureId: string): CaptureRow | undefined {
  return prepared(db, `SELECT * FROM epcis_captures WHERE capture_id = ?`).get(captureId) as CaptureRow | undefined;
}

export function listCaptures(
  db: Db,
  orgId: number,
  page: { afterSeq: number; limit: number },
): { items: CaptureRow[]; more: boolean } {
  const rows = prepared(db, `SELECT * FROM epcis_captures WHERE org_id = ? AND seq > ? ORDER BY seq LIMIT ?`).all(
    orgId,
    page.afterSeq,
    page.limit + 1,
  ) as CaptureRow[];
  return { items: rows.slice(0, page.limit), more: rows.length > page.limit };
}

/** A stored event as a query returns it. */
export interface EventRow {
  seq: number;
  event_id: string;
  hash_id: string;
  event: string;
  context: string | null;
  event_time: string;
  record_time: string;
  original_seq: number | null;
  error_declaration_time: string | null;
  /** The organisation that captured it (the record's owner). */
  org_id: number;
  /** The node it was replicated from (services/federation); null for an event captured here. */
  served_by: string | null;
}

const EVENT_COLUMNS = `seq, event_id, hash_id, event, context, event_time, record_time, original_seq, error_declaration_time, org_id, served_by`;
/** The same columns of `epcis_events e`. */
export const EVENT_COLUMNS_E = EVENT_COLUMNS.split(", ")
  .map((c) => `e.${c}`)
  .join(", ");

/** Stored events with this eventID, or with this hash ID (original first, then declarations). */
export function eventsById(db: Db, id: string): EventRow[] {
  return prepared(db, `SELECT ${EVENT_COLUMNS} FROM epcis_events WHERE event_id = ? OR hash_id = ? ORDER BY seq`).all(
    id,
    id,
  ) as EventRow[];
}

/**
 * The company prefixes known to this node: the consortium's (from the chain index) and those seen
 * in captured EPC URNs, for writing Digital Links as EPC URNs.
 */
export function knownPrefixes(db: Db): PrefixLookup {
  const rows = prepared(db, `SELECT prefix FROM company_prefixes UNION SELECT prefix FROM epcis_company_prefixes`).all() as {
    prefix: string;
  }[];
  return prefixLookup(rows.map((r) => r.prefix));
}

/** How a stored event relates to others: the original it declares an error in, its corrective events. */
export function eventLinks(db: Db, row: EventRow) {
  const original =
    row.original_seq === null
      ? null
      : (prepared(db, `SELECT event_id FROM epcis_events WHERE seq = ?`).get(row.original_seq) as { event_id: string });
  const corrective = (
    prepared(db, `SELECT raw FROM epcis_event_identifiers WHERE seq = ? AND role = 'correctiveEventID' ORDER BY rowid`).all(
      row.seq,
    ) as { raw: string }[]
  ).map((r) => r.raw);
  const storedCorrective = new Set(
    corrective.filter((id) => prepared(db, `SELECT 1 FROM epcis_events WHERE event_id = ? LIMIT 1`).get(id) !== undefined),
  );
  return {
    recordId: recordIdOf(row.seq),
    eventID: row.event_id,
    hashId: row.hash_id,
    recordTime: row.record_time,
    errorDeclaration: row.error_declaration_time !== null,
    original: original ? { recordId: recordIdOf(row.original_seq!), eventID: original.event_id } : null,
    correctiveEvents: corrective.map((eventID) => ({ eventID, stored: storedCorrective.has(eventID) })),
  };
}

export interface EventProof {
  recordId: string;
  eventHash: string;
  leaf: string;
  merkleRoot: string | null;
  proof: string[];
  transactionHash: string | null;
  blockNumber: number | null;
  status: "pending" | "anchored";
  /** The organisation whose anchor of the root the proof relies on (anchors are keyed by organisation and root). */
  anchoredBy: AnchoringOrg | null;
  /**
   * The leaf recomputed from the stored event equals the anchored leaf, the proof leads to the root
   * and `anchoredBy` anchored the root on the indexed chain.
   */
  verified: boolean;
}

export function eventProof(db: Db, row: EventRow): EventProof | null {
  const anchor = row.served_by === null ? proofOf(db, recordIdOf(row.seq)) : replicaAnchor(db, row.seq);
  if (!anchor) return null;
  let recomputed: string | null = null;
  try {
    const stored = JSON.parse(row.event) as Record<string, unknown>;
    const context: unknown = row.context === null ? undefined : JSON.parse(row.context);
    recomputed = eventLeaf(eventHashId(stored, context), canonicalize(stored));
  } catch {
    recomputed = null; // a stored record that no longer parses is not verified
  }
  return {
    recordId: anchor.recordId,
    eventHash: row.hash_id,
    leaf: anchor.leaf,
    merkleRoot: anchor.merkleRoot,
    proof: anchor.proof,
    transactionHash: anchor.transactionHash,
    blockNumber: anchor.blockNumber,
    status: anchor.status,
    anchoredBy: anchor.anchoredBy,
    verified: anchor.verified && recomputed === anchor.leaf,
  };
}

/**
 * The proof a replicated event came with (services/federation), re-checked now: the proof leads
 * from the leaf to the root and the owner's anchor of the root is on the indexed chain. The leaf
 * itself is checked against the stored event by eventProof, as for a local event.
 */
function replicaAnchor(db: Db, seq: number) {
  const row = prepared(db, `SELECT replica_proof FROM epcis_events WHERE seq = ? AND served_by IS NOT NULL`).get(seq) as { replica_proof: string | null } | undefined;
  if (!row?.replica_proof) return null;
  const stored = JSON.parse(row.replica_proof) as {
    leaf: string;
    merkleRoot: string;
    proof: string[];
    anchoredBy: AnchoringOrg;
    transactionHash?: string | null;
    blockNumber?: number | null;
  };
  const reaches = proofReaches(stored.merkleRoot, stored.leaf, stored.proof);
  const anchored =
    prepared(db, `SELECT 1 FROM anchors WHERE org_id = ? AND root = ?`).get(Number(stored.anchoredBy.orgId), stored.merkleRoot.toLowerCase()) !== undefined;
  return {
    recordId: recordIdOf(seq),
    leaf: stored.leaf,
    merkleRoot: stored.merkleRoot,
    proof: stored.proof,
    transactionHash: stored.transactionHash ?? null,
    blockNumber: stored.blockNumber ?? null,
    status: anchored ? ("anchored" as const) : ("pending" as const),
    anchoredBy: stored.anchoredBy,
    verified: anchored && reaches,
  };
}
