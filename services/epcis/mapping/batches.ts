import type { Db } from "../../store/db";
import { prepared } from "../../store/statements";
import { formatDigitalLink } from "../../gs1/digital-link";
import { canonicalId } from "../identifiers";
import { recordIdOf } from "../store";
import { bareTerm } from "../vocabulary";
import { createUnitContents, type UnitContents } from "../../store/logistic-units";
import { ssccOf } from "./facts";
import type { MappingStatus } from "./queue";

/**
 * A batch's EPCIS events: the stored events whose identifiers (in any role: epcList, quantity list
 * classes, parent and children, inputs and outputs) name its lot (`https://id.gs1.org/01/{gtin}/10/{lot}`,
 * however captured), and those naming a logistic unit (SSCC, `https://id.gs1.org/00/{sscc}`) the
 * batch was packed in at the event's time (services/store/logistic-units.ts, contentsAt): an event of
 * the unit's earlier or later loads is about other goods.
 */

export interface EpcisTimelineEntry {
  type: "epcis";
  at: string;
  details: {
    recordId: string;
    eventID: string;
    hashId: string;
    /** The organisation that captured the event: the record's owner. */
    orgId: string;
    eventType: string;
    action: string | null;
    bizStep: string | null;
    eventTime: string;
    mapping: { status: MappingStatus; effect: string | null; reason: string | null; transactionHash: string | null };
    orderIds: string[];
    /** Where the event came from: its owner, the member node it was replicated from (null: captured here), whether its proof held. */
    origin: { orgId: string; servedBy: string | null; verified: boolean };
  };
}

/**
 * The canonical identifiers that may name a batch: its lot's Digital Link and the SSCCs of the
 * logistic units it was ever packed in (`ssccs`). An event naming one of the units is the batch's
 * only if the batch was in the unit at the event's time (eventNamesBatch).
 */
export function batchIdentifiers(batch: { gtin: string; lot: string }, ssccs: string[]): string[] {
  return [lotIdentifier(batch.gtin, batch.lot), ...ssccs.map((s) => `https://id.gs1.org/00/${s}`)];
}

/** Canonical Digital Links of lots, remembered (a trace names a thousand lots; parsing each costs more than its query). */
const lotIdentifiers = new Map<string, string>();
function lotIdentifier(gtin: string, lot: string): string {
  const key = `${gtin}/${lot}`;
  let id = lotIdentifiers.get(key);
  if (id === undefined) {
    if (lotIdentifiers.size >= 100_000) lotIdentifiers.clear();
    lotIdentifiers.set(key, (id = canonicalId(formatDigitalLink(gtin, lot))));
  }
  return id;
}

/**
 * Whether a stored event naming `named` (canonical identifiers among batchIdentifiers) at
 * `eventTime` is about `batch`: it names the batch's lot, or a logistic unit the batch was packed in
 * at the event's time.
 */
export function eventNamesBatch(
  units: UnitContents,
  batch: { id: string; gtin: string; lot: string },
  named: readonly string[],
  eventTime: string,
): boolean {
  const lot = lotIdentifier(batch.gtin, batch.lot);
  return named.some((id) => {
    if (id === lot) return true;
    const sscc = ssccOf(id);
    return sscc !== null && units.held(sscc, batch.id, eventTime);
  });
}

interface Row {
  seq: number;
  org_id: number;
  event_id: string;
  hash_id: string;
  event_type: string;
  action: string | null;
  biz_step: string | null;
  event_time: string;
  status: MappingStatus | null;
  effect: string | null;
  reason: string | null;
  tx_hash: string | null;
  served_by: string | null;
  verified_at: string | null;
  /** Which of the asked identifiers the event names (a JSON array). */
  named: string;
}

/**
 * SQL over `epcis_events e` for the events naming any of the identifiers bound as `@ids` (one JSON
 * array: one statement, prepared once, whatever their number): `NAMING_IDS` is the condition,
 * `NAMED_IDS` the column `named`, which of them the event names (a JSON array; the caller keeps a
 * unit's events of the batch's loads only, eventNamesBatch).
 */
export const NAMING_IDS = `e.seq IN (SELECT seq FROM epcis_event_identifiers WHERE id IN (SELECT value FROM json_each(@ids)))`;
export const NAMED_IDS = `(SELECT json_group_array(DISTINCT i.id) FROM epcis_event_identifiers i WHERE i.seq = e.seq AND i.id IN (SELECT value FROM json_each(@ids))) AS named`;

function eventsNaming(db: Db, ids: string[]): Row[] {
  if (ids.length === 0) return [];
  return prepared(
    db,
    `SELECT e.seq, e.org_id, e.event_id, e.hash_id, e.event_type, e.action, e.biz_step, e.event_time, m.status, m.effect, m.reason, m.tx_hash,
       e.served_by, e.verified_at, ${NAMED_IDS}
     FROM epcis_events e LEFT JOIN epcis_mappings m ON m.seq = e.seq
     WHERE ${NAMING_IDS}
     ORDER BY e.event_time, e.seq`,
  ).all({ ids: JSON.stringify(ids) }) as Row[];
}

/**
 * Timeline entries (type `epcis`) for the events naming a batch, by event time: only those the
 * reader may read (`visible`: EPCIS event contents are their owner's and its grantees'; even an
 * event's id and business step say what a member did).
 */
export function epcisTimeline(
  db: Db,
  batch: { id: string; gtin: string; lot: string },
  ssccs: string[],
  visible: (row: { seq: number; org_id: number }) => boolean = () => true,
  units: UnitContents = createUnitContents(db),
): EpcisTimelineEntry[] {
  const orders = prepared(db, `SELECT order_id FROM epcis_order_links WHERE seq = ? ORDER BY order_id`);
  const rows = eventsNaming(db, batchIdentifiers(batch, ssccs)).filter((r) => eventNamesBatch(units, batch, JSON.parse(r.named) as string[], r.event_time));
  return rows.filter(visible).map((r) => ({
    type: "epcis" as const,
    at: r.event_time,
    details: {
      recordId: recordIdOf(r.seq),
      eventID: r.event_id,
      hashId: r.hash_id,
      orgId: String(r.org_id),
      eventType: r.event_type,
      action: r.action,
      bizStep: r.biz_step === null ? null : (bareTerm("bizStep", r.biz_step) ?? r.biz_step),
      eventTime: r.event_time,
      mapping: {
        status: r.status ?? "not_applied",
        effect: r.effect,
        reason: r.status ? r.reason : r.served_by !== null ? `replicated from ${r.served_by}: mapped by its owner's node` : "not queued for mapping",
        transactionHash: r.tx_hash,
      },
      orderIds: (orders.all(r.seq) as { order_id: number }[]).map((o) => String(o.order_id)),
      origin: { orgId: String(r.org_id), servedBy: r.served_by, verified: r.served_by === null || r.verified_at !== null },
    },
  }));
}

/** Where the events counted on a trace node came from: this node's own captures or a member's node. */
export interface EpcisOriginCount {
  origin: { orgId: string; servedBy: string | null; verified: boolean };
  events: number;
}

/**
 * For each batch (a trace's nodes, keyed by `id`), how many stored events the reader may read name
 * it (its lot, its portions' lot, the logistic units it was packed in at the event's time) and where
 * they came from; in one query for all batches (docs/performance.md "Trace"). Batches no visible
 * event names count 0.
 */
export function epcisOriginCounts(
  db: Db,
  batches: { id: string; gtin: string; lot: string; ssccs: string[] }[],
  visible: (row: { seq: number; org_id: number }) => boolean,
): Map<string, { events: number; origins: EpcisOriginCount[] }> {
  const identifiersOf = new Map(batches.map((b) => [b.id, batchIdentifiers(b, b.ssccs)]));
  const batchOf = new Map(batches.map((b) => [b.id, b]));
  const identifiers = [...new Set([...identifiersOf.values()].flat())];
  const units = createUnitContents(db);
  // Which events name each identifier (portions of a lot share their lot's identifier), with their owner, origin and time.
  type Row = [id: string, seq: number, orgId: number, servedBy: string | null, verifiedAt: string | null, eventTime: string];
  const byIdentifier = new Map<string, Row[]>();
  if (identifiers.length > 0)
    for (const row of prepared(
      db,
      `SELECT i.id, e.seq, e.org_id, e.served_by, e.verified_at, e.event_time FROM epcis_event_identifiers i JOIN epcis_events e ON e.seq = i.seq
       WHERE i.id IN (SELECT value FROM json_each(?))`,
    )
      .raw(true)
      .all(JSON.stringify(identifiers)) as Row[]) {
      let list = byIdentifier.get(row[0]);
      if (!list) byIdentifier.set(row[0], (list = []));
      list.push(row);
    }
  const verdicts = new Map<number, boolean>();
  const mayRead = (seq: number, orgId: number) => {
    let verdict = verdicts.get(seq);
    if (verdict === undefined) verdicts.set(seq, (verdict = visible({ seq, org_id: orgId })));
    return verdict;
  };
  const result = new Map<string, { events: number; origins: EpcisOriginCount[] }>();
  for (const [batchId, ids] of identifiersOf) {
    const seen = new Set<number>();
    const origins = new Map<string, EpcisOriginCount>();
    for (const [id, seq, orgId, servedBy, verifiedAt, eventTime] of ids.flatMap((id) => byIdentifier.get(id) ?? [])) {
      if (seen.has(seq)) continue;
      // A logistic unit's event is the batch's only if the batch was packed in the unit at the event's time.
      if (!eventNamesBatch(units, batchOf.get(batchId)!, [id], eventTime)) continue;
      if (!mayRead(seq, orgId)) continue;
      seen.add(seq);
      const origin = { orgId: String(orgId), servedBy, verified: servedBy === null || verifiedAt !== null };
      const key = JSON.stringify(origin);
      const entry = origins.get(key) ?? { origin, events: 0 };
      entry.events++;
      origins.set(key, entry);
    }
    result.set(batchId, { events: seen.size, origins: [...origins.values()] });
  }
  return result;
}

/**
 * A chain timeline and the EPCIS entries in one list by time; entries of equal time keep the chain's
 * order first (stable).
 */
export function mergeTimelines<A extends { at: string }, B extends { at: string }>(chain: A[], epcis: B[]): (A | B)[] {
  const out: (A | B)[] = [];
  let i = 0;
  let j = 0;
  while (i < chain.length || j < epcis.length) {
    if (j >= epcis.length || (i < chain.length && Date.parse(chain[i].at) <= Date.parse(epcis[j].at))) out.push(chain[i++]);
    else out.push(epcis[j++]);
  }
  return out;
}

/** Stored events naming a Lotline order (a po business transaction), oldest first. */
export function orderEvents(db: Db, orderId: number, visible: (row: { seq: number; org_id: number }) => boolean = () => true) {
  return (
    prepared(
      db,
      `SELECT e.seq, e.org_id, e.event_id, e.hash_id, e.event_type, e.biz_step, e.event_time, l.biz_transaction
       FROM epcis_order_links l JOIN epcis_events e ON e.seq = l.seq WHERE l.order_id = ? ORDER BY e.event_time, e.seq`,
    ).all(orderId) as {
      seq: number;
      org_id: number;
      event_id: string;
      hash_id: string;
      event_type: string;
      biz_step: string | null;
      event_time: string;
      biz_transaction: string;
    }[]
  )
    .filter(visible)
    .map((r) => ({
      recordId: recordIdOf(r.seq),
      eventID: r.event_id,
      hashId: r.hash_id,
      eventType: r.event_type,
      bizStep: r.biz_step === null ? null : (bareTerm("bizStep", r.biz_step) ?? r.biz_step),
      eventTime: r.event_time,
      bizTransaction: r.biz_transaction,
    }));
}
