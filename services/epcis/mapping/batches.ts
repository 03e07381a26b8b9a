import type { Db } from "../../store/db";
import { prepared } from "../../store/statements";
import { formatDigitalLink } from "../../gs1/digital-link";
import { canonicalId } from "../identifiers";
import { recordIdOf } from "../store";
import { bareTerm } from "../vocabulary";
import type { MappingStatus } from "./queue";

/**
 * A batch's EPCIS events: the stored events whose identifiers (in any role: epcList, quantity list
 * classes, parent and children, inputs and outputs) name its lot (`https://id.gs1.org/01/{gtin}/10/{lot}`,
 * however captured) or a logistic unit (SSCC, `https://id.gs1.org/00/{sscc}`) it was packed in.
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
  };
}

/** The canonical identifiers that name a batch: its lot's Digital Link and its logistic units' SSCCs. */
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
}

function eventsNaming(db: Db, ids: string[]): Row[] {
  if (ids.length === 0) return [];
  // One placeholder per identifier; every value is a bound parameter.
  return db
    .prepare(
      `SELECT e.seq, e.org_id, e.event_id, e.hash_id, e.event_type, e.action, e.biz_step, e.event_time, m.status, m.effect, m.reason, m.tx_hash
       FROM epcis_events e LEFT JOIN epcis_mappings m ON m.seq = e.seq
       WHERE e.seq IN (SELECT seq FROM epcis_event_identifiers WHERE id IN (${ids.map(() => "?").join(", ")}))
       ORDER BY e.event_time, e.seq`,
    )
    .all(...ids) as Row[];
}

/**
 * Timeline entries (type `epcis`) for the events naming a batch, by event time: only those the
 * reader may read (`visible`: EPCIS event contents are their owner's and its grantees'; even an
 * event's id and business step say what a member did).
 */
export function epcisTimeline(
  db: Db,
  batch: { gtin: string; lot: string },
  ssccs: string[],
  visible: (row: { seq: number; org_id: number }) => boolean = () => true,
): EpcisTimelineEntry[] {
  const orders = prepared(db, `SELECT order_id FROM epcis_order_links WHERE seq = ? ORDER BY order_id`);
  return eventsNaming(db, batchIdentifiers(batch, ssccs)).filter(visible).map((r) => ({
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
        reason: r.status ? r.reason : "not queued for mapping",
        transactionHash: r.tx_hash,
      },
      orderIds: (orders.all(r.seq) as { order_id: number }[]).map((o) => String(o.order_id)),
    },
  }));
}

/** How many stored events name a batch. */
export function epcisEventCount(db: Db, batch: { gtin: string; lot: string }, ssccs: string[]): number {
  const ids = batchIdentifiers(batch, ssccs);
  return (
    db
      .prepare(`SELECT COUNT(DISTINCT seq) AS n FROM epcis_event_identifiers WHERE id IN (${ids.map(() => "?").join(", ")})`)
      .get(...ids) as { n: number }
  ).n;
}

/**
 * epcisEventCount for many batches in one query (a trace's nodes): keyed by `id`. Batches no stored
 * event names count 0.
 */
export function epcisEventCounts(db: Db, batches: { id: string; gtin: string; lot: string; ssccs: string[] }[]): Map<string, number> {
  const identifiersOf = new Map(batches.map((b) => [b.id, batchIdentifiers(b, b.ssccs)]));
  const identifiers = [...new Set([...identifiersOf.values()].flat())];
  // Which events name each identifier (portions of a lot share their lot's identifier).
  const seqs = new Map<string, number[]>();
  if (identifiers.length > 0)
    for (const [id, seq] of prepared(db, `SELECT id, seq FROM epcis_event_identifiers WHERE id IN (SELECT value FROM json_each(?))`)
      .raw(true)
      .all(JSON.stringify(identifiers)) as [string, number][]) {
      let list = seqs.get(id);
      if (!list) seqs.set(id, (list = []));
      list.push(seq);
    }
  const counts = new Map<string, number>();
  for (const [batchId, ids] of identifiersOf) {
    const named = ids.flatMap((id) => seqs.get(id) ?? []);
    counts.set(batchId, named.length === 0 ? 0 : new Set(named).size);
  }
  return counts;
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
