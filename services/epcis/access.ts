import type { Db } from "../store/db";
import { prepared } from "../store/statements";
import type { SharingStore } from "../store/sharing";
import type { RecordSubject } from "../sharing/grants";
import { lotOf, ssccOf } from "./mapping/facts";
import { lotIdOf } from "./mapping/plan";
import { createUnitContents, type UnitContents } from "../store/logistic-units";

/**
 * Who may read a stored EPCIS event (record class EPCIS, owner-and-grantees): the organisation that
 * captured it, and the organisations it granted EPCIS records by an on-chain grant in force whose
 * scope covers the event. An event is about the batches it names (lots by GTIN and lot, in any role,
 * and the batches packed in the logistic units it names at the event's time, eventSubject): a "gtin"
 * grant covers it when one of them is of the GTIN, a "lot" grant when one of them was made from the
 * lot (services/store/sharing.ts).
 *
 * Queries filter in SQL by owner first (own events and owners with an unscoped grant: readable
 * whole; owners with only scoped grants: each event checked), so paging, counts and limits only ever
 * see readable events.
 */
export interface EpcisVisibility {
  readonly readerOrg: number;
  /** Owners all of whose events the reader may read (itself included). */
  readonly wholeOrgs: readonly number[];
  /** Owners some of whose events the reader may read (scoped grants): checked event by event. */
  readonly scopedOrgs: ReadonlySet<number>;
  /**
   * A member node asking (federation): only events this node captured for the organisations it
   * serves, never replicas it holds of others' (a record is fetched from the node that holds it).
   */
  readonly ownRecordsOnly: boolean;
  /** Whether the reader may read this stored event. */
  visible(row: { seq: number; org_id: number; served_by?: string | null }): boolean;
}

/**
 * The subject of a stored event: the batches it names, their GTINs and every lot upstream of them.
 * A logistic unit it names stands for the batches packed in the unit at the event's time
 * (services/store/logistic-units.ts, contentsAt), never for what the unit holds now — a unit is
 * unpacked and repacked with other goods under the same SSCC.
 */
export function eventSubject(db: Db, sharing: SharingStore, seq: number, units: UnitContents = createUnitContents(db)): RecordSubject {
  const ids = (prepared(db, `SELECT DISTINCT id FROM epcis_event_identifiers WHERE seq = ?`).all(seq) as { id: string }[]).map(
    (r) => r.id,
  );
  const gtins = new Set<string>();
  const lotIds = new Set<string>();
  const ssccs: string[] = [];
  for (const id of ids) {
    const lot = lotOf(id);
    if (lot) {
      gtins.add(lot.gtin);
      lotIds.add(lotIdOf(lot.gtin, lot.lot).toLowerCase());
    }
    const sscc = ssccOf(id);
    if (sscc) ssccs.push(sscc);
  }
  const batchIds = new Set<string>();
  const byLot = prepared(db, `SELECT batch_id FROM batches WHERE lot_id = ?`);
  for (const lotId of lotIds) for (const r of byLot.all(lotId) as { batch_id: string }[]) batchIds.add(r.batch_id);
  if (ssccs.length > 0) {
    const eventTime = (prepared(db, `SELECT event_time FROM epcis_events WHERE seq = ?`).get(seq) as { event_time: string } | undefined)?.event_time;
    if (eventTime !== undefined) for (const sscc of ssccs) for (const batchId of units.at(sscc, eventTime)) batchIds.add(batchId);
  }
  const subject = sharing.subjectOf([...batchIds]);
  // A lot named before (or without) its registration on-chain is still what the event is about.
  return {
    gtins: [...new Set([...subject.gtins, ...gtins])],
    lotsUpstream: [...new Set([...subject.lotsUpstream, ...lotIds])],
  };
}

/**
 * What `readerOrg` may read of the stored events. `asNode`: the reader is a member node fetching
 * records (services/federation) — then only this node's own events of the organisations it serves
 * (`serves`) count, so a replica is never passed on.
 */
export function epcisVisibility(
  db: Db,
  sharing: SharingStore,
  readerOrg: number,
  asNode?: { serves(orgId: number): boolean },
): EpcisVisibility {
  const grantors = (
    prepared(
      db,
      `SELECT DISTINCT grantor_org FROM grants WHERE grantee_org = ? AND revoked_at IS NULL AND expires_at > ? AND (classes & 1) <> 0`,
    ).all(readerOrg, Math.floor(Date.now() / 1000)) as { grantor_org: number }[]
  ).map((r) => r.grantor_org);
  const served = (orgId: number) => asNode === undefined || asNode.serves(orgId);
  const whole = served(readerOrg) ? [readerOrg] : [];
  const scoped = new Set<number>();
  for (const owner of grantors) {
    if (owner === readerOrg || !served(owner)) continue;
    if (sharing.mayRead(readerOrg, owner, "EPCIS", null)) whole.push(owner);
    else scoped.add(owner);
  }
  const wholeSet = new Set(whole);
  const cache = new Map<number, boolean>();
  const units = createUnitContents(db);
  return {
    readerOrg,
    wholeOrgs: whole,
    scopedOrgs: scoped,
    ownRecordsOnly: asNode !== undefined,
    visible(row) {
      if (asNode !== undefined && row.served_by !== null && row.served_by !== undefined) return false;
      if (wholeSet.has(row.org_id)) return true;
      if (!scoped.has(row.org_id)) return false;
      let ok = cache.get(row.seq);
      if (ok === undefined) {
        ok = sharing.mayRead(readerOrg, row.org_id, "EPCIS", () => eventSubject(db, sharing, row.seq, units));
        cache.set(row.seq, ok);
      }
      return ok;
    },
  };
}

/** The owners whose events a query may look at at all (`e.org_id IN (SELECT value FROM json_each(?))`). */
export function candidateOwners(v: EpcisVisibility): string {
  return JSON.stringify([...v.wholeOrgs, ...v.scopedOrgs]);
}
