import { canonicalize } from "json-canonicalize";
import type { Db } from "../store/db";
import { prepared } from "../store/statements";
import { proofOf } from "../anchoring/outbox";
import { recordProofOf, leafOf, type ProvenRecord, type RecordProof } from "../export/records";
import { namespacesFrom, type EpcisEvent } from "../epcis/hash";
import { EPCIS_CONTEXT_URL } from "../epcis/context";
import { insertEventRow, prepareEvent } from "../epcis/capture";
import { eventContext } from "../epcis/query";
import { recordIdOf } from "../epcis/store";
import { NAMED_IDS, NAMING_IDS } from "../epcis/mapping/batches";
import type { RecordOrigin } from "./store";

/**
 * EPCIS events between member nodes (ADR 0025). The events themselves travel through the holder's
 * EPCIS 2.0 query interface (`GET /epcis/events`, signed as the fetching node's organisation), so
 * the EPCISQueryDocument stays standard; their proofs travel beside it, from the companion route
 * `GET /api/v1/federation/epcis-proofs`, one entry per stored record:
 *
 *   {recordId, eventID, owner, context, leaf, proof}
 *
 * `context` is the @context of the document the event was captured in (null: a bare event), which
 * the CBV 2.0 hash ID was computed under. The fetcher takes each event as received, undoes the
 * event-level @context the query document adds to events captured under another document's context
 * (services/epcis/query.ts, eventContext), recomputes the leaf with the anchoring's own function and
 * checks the proof and the owner's anchor (services/export/records.ts, the ProvenRecord check).
 */

/** The capture row every replica belongs to (migration 34): organisation 0, nobody's capture job. */
export const REPLICA_CAPTURE_ID = "federation:replicas";

/** One proof entry of the companion route. */
export interface EpcisProofEntry {
  recordId: string;
  eventID: string;
  owner: string;
  context: unknown;
  leaf: string;
  proof: RecordProof;
}

/**
 * This node's own stored events naming any of the canonical identifiers `ids` (a batch's lot and
 * logistic units, batchIdentifiers), each with its time and which of `ids` it names (`named`, a JSON
 * array), so the caller keeps a unit's events of the batch's loads only (eventNamesBatch).
 */
export function eventsNamingOwn(
  db: Db,
  ids: readonly string[],
): { seq: number; org_id: number; event_id: string; context: string | null; event_time: string; named: string }[] {
  if (ids.length === 0) return [];
  return prepared(
    db,
    `SELECT e.seq, e.org_id, e.event_id, e.context, e.event_time, ${NAMED_IDS}
     FROM epcis_events e
     WHERE e.served_by IS NULL AND ${NAMING_IDS}
     ORDER BY e.seq`,
  ).all({ ids: JSON.stringify(ids) }) as { seq: number; org_id: number; event_id: string; context: string | null; event_time: string; named: string }[];
}

/** A stored (own) event's proof entry, or null while it is not anchored. */
export function proofEntryOf(db: Db, row: { seq: number; org_id: number; event_id: string; context: string | null }): EpcisProofEntry | null {
  const anchor = proofOf(db, recordIdOf(row.seq));
  const proof = anchor ? recordProofOf(anchor) : null;
  if (!anchor || !proof) return null;
  return {
    recordId: recordIdOf(row.seq),
    eventID: row.event_id,
    owner: String(row.org_id),
    context: row.context === null ? null : (JSON.parse(row.context) as unknown),
    leaf: anchor.leaf,
    proof,
  };
}

/**
 * The readings of a received event as the record its owner anchored: the event itself when it was
 * served under its own document's context, otherwise with the event-level @context the query
 * document added taken off again (the event's own @context, if it had one, is what remains; a single
 * remaining entry may have been a value or a one-element list, so both readings are offered). The
 * leaf decides which reading, if any, is the anchored record.
 */
export function storedReadings(received: EpcisEvent, pageContext: unknown, documentContext: unknown): EpcisEvent[] {
  const captured = documentContext === null || documentContext === undefined ? [EPCIS_CONTEXT_URL] : Array.isArray(documentContext) ? documentContext : [documentContext];
  const page = Array.isArray(pageContext) ? pageContext : [pageContext];
  if (canonicalize(captured) === canonicalize(page)) return [received];
  const { "@context": served, ...rest } = received;
  const list = Array.isArray(served) ? served : served === undefined ? [] : [served];
  const prefix = eventContext(namespacesFrom(page), captured, undefined);
  const starts = prefix.length <= list.length && prefix.every((entry, i) => canonicalize(entry) === canonicalize(list[i]));
  if (!starts) return [received];
  const own = list.slice(prefix.length);
  if (own.length === 0) return [rest as EpcisEvent];
  if (own.length === 1) return [{ ...rest, "@context": own[0] } as EpcisEvent, { ...rest, "@context": own } as EpcisEvent];
  return [{ ...rest, "@context": own } as EpcisEvent];
}

/** The ProvenRecord of a received event and its proof entry: the reading whose leaf is the anchored one (else the first, to be refused). */
export function provenEvent(received: EpcisEvent, pageContext: unknown, entry: EpcisProofEntry): ProvenRecord<"EPCIS"> {
  const context = entry.context === null ? undefined : entry.context;
  const readings = storedReadings(received, pageContext, entry.context);
  const record = (event: EpcisEvent) => ({ event: event as Record<string, unknown>, context });
  const matching = readings.find((event) => {
    try {
      return leafOf({ class: "EPCIS", record: record(event) }) === String(entry.leaf).toLowerCase();
    } catch {
      return false;
    }
  });
  return { class: "EPCIS", owner: String(entry.owner), recordId: String(entry.recordId), record: record(matching ?? readings[0]), leaf: entry.leaf, proof: entry.proof };
}

export function createEpcisReplicaStore(db: Db) {
  return {
    /** Whether the owner's record `recordId` (the holder's id) is held here as a replica. */
    known(ownerOrg: number, recordId: string): boolean {
      return prepared(db, `SELECT 1 FROM epcis_events WHERE org_id = ? AND origin_record = ?`).get(ownerOrg, recordId) !== undefined;
    },

    /**
     * Stores a verified EPCIS event replica (idempotent), indexed like a captured event so every query
     * parameter selects it. Never queued for anchoring (its owner anchored it) nor mapped onto
     * provenance (its owner's node did that), so no stored-event hook runs.
     */
    store(pr: ProvenRecord<"EPCIS">, servedBy: string): "stored" | "known" {
      const owner = Number(pr.owner);
      const { event, context } = pr.record;
      return db.transaction((): "stored" | "known" => {
        if (prepared(db, `SELECT 1 FROM epcis_events WHERE org_id = ? AND origin_record = ?`).get(owner, pr.recordId)) return "known";
        const p = prepareEvent(0, event, context, namespacesFrom(context));
        const original = (prepared(db, `SELECT MIN(seq) AS seq FROM epcis_events WHERE hash_id = ? AND org_id = ?`).get(p.hashId, owner) as { seq: number | null }).seq;
        const index = (prepared(db, `SELECT COALESCE(MAX(event_index), -1) + 1 AS n FROM epcis_events WHERE capture_id = ?`).get(REPLICA_CAPTURE_ID) as { n: number }).n;
        const recordTime = typeof event.recordTime === "string" ? event.recordTime : new Date().toISOString();
        insertEventRow(db, p, {
          canonicalJson: canonicalize(event),
          contextJson: context === undefined || context === null ? null : canonicalize(context),
          recordTime,
          originalSeq: original,
          captureId: REPLICA_CAPTURE_ID,
          eventIndex: index,
          orgId: owner,
          replica: { servedBy, verifiedAt: new Date().toISOString(), proof: JSON.stringify({ leaf: pr.leaf, ...pr.proof }), originRecord: pr.recordId },
        });
        return "stored";
      })();
    },

    /** Owners of EPCIS replicas held here. */
    replicaOwners(): number[] {
      return (prepared(db, `SELECT DISTINCT org_id FROM epcis_events WHERE served_by IS NOT NULL ORDER BY org_id`).all() as { org_id: number }[]).map((r) => r.org_id);
    },

    /** Deletes `ownerOrg`'s replicas that `covered` no longer keeps (a revoked or expired grant); returns how many. */
    drop(ownerOrg: number, covered: (row: { seq: number; org_id: number }) => boolean): number {
      const rows = prepared(db, `SELECT seq, org_id FROM epcis_events WHERE served_by IS NOT NULL AND org_id = ?`).all(ownerOrg) as { seq: number; org_id: number }[];
      const gone = rows.filter((row) => !covered(row));
      if (gone.length === 0) return 0;
      db.transaction(() => {
        for (const { seq } of gone) {
          prepared(db, `UPDATE epcis_events SET original_seq = NULL WHERE original_seq = ?`).run(seq);
          prepared(db, `DELETE FROM epcis_event_identifiers WHERE seq = ?`).run(seq);
          prepared(db, `DELETE FROM epcis_events WHERE seq = ?`).run(seq);
        }
        // What the holder answered before no longer stands for what is held here: ask again on the next read.
        prepared(db, `DELETE FROM federation_fetches WHERE owner_org = ? AND record_class = 'EPCIS'`).run(ownerOrg);
      })();
      return gone.length;
    },

    /** Where a stored event came from (null served_by: this node captured it). */
    originOf(seq: number): RecordOrigin | null {
      const row = prepared(db, `SELECT org_id, served_by, verified_at FROM epcis_events WHERE seq = ?`).get(seq) as
        | { org_id: number; served_by: string | null; verified_at: string | null }
        | undefined;
      if (!row) return null;
      return { orgId: String(row.org_id), servedBy: row.served_by, verified: row.served_by === null || row.verified_at !== null };
    },
  };
}
export type EpcisReplicaStore = ReturnType<typeof createEpcisReplicaStore>;
