import crypto from "node:crypto";
import type { Db } from "../store/db";
import { prepared } from "../store/statements";
import { createSharingStore } from "../store/sharing";
import { allowPrivateDestinations, checkDestination as checkWith, defaultPolicy, isPrivateAddress } from "../delivery/destination";
import { dropPending, enqueueDelivery, type DeliveryStatus } from "../delivery/outbox";
import { epcisVisibility } from "./access";
import { knownPrefixes } from "./store";
import type { EpcFormat } from "./identifiers";
import { parseEventQuery, queryDocument, runEventQuery } from "./query";

/**
 * Webhook subscriptions to named queries (the binding's POST /queries/{queryName}/subscriptions).
 *
 * A subscription delivers, as an EPCISQueryDocument POSTed to its `dest`, the events its named query
 * selects that were stored after the previous report and that the subscriber's organisation may read
 * (owner-and-grantees, checked at each report): `stream` reports each newly stored batch of events as
 * soon as the job sees it; `schedule` reports at the times it names (cron-like), even when empty if
 * `reportIfEmpty`. Each delivery is a row of `epcis_deliveries` (the log): signed with the
 * subscriber's `signatureToken` (`GS1-Signature: sha256=<hex HMAC-SHA256 of the body>`), queued in
 * the node's one webhook outbox (services/delivery: retried with backoff, logged, sent to checked and
 * pinned addresses only) in the transaction that moves the subscription's cursor. Destinations must
 * resolve to public addresses (checked at creation and at every attempt; redirects are not followed)
 * unless LOTLINE_WEBHOOK_ALLOW_PRIVATE=1 (the embedded demo).
 */

export { isPrivateAddress, allowPrivateDestinations };
export { signatureOf } from "../delivery/outbox";

/** Events per report at most; the rest go in the next report. */
export const MAX_EVENTS_PER_REPORT = 1_000;

export interface Schedule {
  second?: string;
  minute?: string;
  hour?: string;
  dayOfMonth?: string;
  month?: string;
  dayOfWeek?: string;
}

const FIELDS: [keyof Schedule, number, number][] = [
  ["second", 0, 59],
  ["minute", 0, 59],
  ["hour", 0, 23],
  ["dayOfMonth", 1, 31],
  ["month", 1, 12],
  ["dayOfWeek", 1, 7],
];

/** The values a schedule field allows: `5`, `1,15`, `[1-5]`, `[0-9],30` (the binding's syntax). */
function allowed(field: string, text: string, min: number, max: number): Set<number> {
  const out = new Set<number>();
  for (const raw of text.split(",")) {
    const element = raw.trim();
    const range = /^\[(\d{1,2})-(\d{1,2})\]$/.exec(element);
    const [a, b] = range ? [Number(range[1]), Number(range[2])] : /^\d{1,2}$/.test(element) ? [Number(element), Number(element)] : [NaN, NaN];
    if (!Number.isInteger(a) || !Number.isInteger(b) || a < min || b > max || a > b) {
      throw new Error(`schedule.${field}: "${text}" is not a list of numbers or [a-b] ranges within ${min}–${max}`);
    }
    for (let v = a; v <= b; v++) out.add(v);
  }
  return out;
}

/**
 * The fields of a schedule as sets. A field left out is any value when it is coarser than the finest
 * field given, and its first value (0) when finer: {"hour":"1","minute":"5"} is every day at 01:05:00.
 */
export function parseSchedule(schedule: Schedule): Map<keyof Schedule, Set<number> | null> {
  const given = FIELDS.findIndex(([name]) => schedule[name] !== undefined);
  if (given < 0) throw new Error("schedule names no field: give at least one of second, minute, hour, dayOfMonth, month, dayOfWeek");
  const out = new Map<keyof Schedule, Set<number> | null>();
  FIELDS.forEach(([name, min, max], i) => {
    const text = schedule[name];
    if (text !== undefined) out.set(name, allowed(name, String(text), min, max));
    else out.set(name, i < given ? new Set([min]) : null);
  });
  return out;
}

/** The first time strictly after `after` (UTC) that the schedule matches; null within a year none does. */
export function nextRun(schedule: Schedule, after: Date): Date | null {
  const f = parseSchedule(schedule);
  const ok = (name: keyof Schedule, v: number) => f.get(name) === null || f.get(name)!.has(v);
  const t = new Date(Math.floor(after.getTime() / 1000) * 1000 + 1000);
  const limit = after.getTime() + 366 * 86_400_000;
  const seconds = f.get("second") ?? null;
  while (t.getTime() <= limit) {
    const dayOfWeek = ((t.getUTCDay() + 6) % 7) + 1; // 1 Monday … 7 Sunday
    if (!ok("month", t.getUTCMonth() + 1) || !ok("dayOfMonth", t.getUTCDate()) || !ok("dayOfWeek", dayOfWeek)) {
      t.setUTCHours(24, 0, 0, 0);
      continue;
    }
    if (!ok("hour", t.getUTCHours())) {
      t.setUTCHours(t.getUTCHours() + 1, 0, 0, 0);
      continue;
    }
    if (!ok("minute", t.getUTCMinutes())) {
      t.setUTCMinutes(t.getUTCMinutes() + 1, 0, 0);
      continue;
    }
    const s = t.getUTCSeconds();
    const second = seconds === null ? s : [...seconds].sort((a, b) => a - b).find((v) => v >= s);
    if (second !== undefined) {
      t.setUTCSeconds(second, 0);
      return t;
    }
    t.setUTCMinutes(t.getUTCMinutes() + 1, 0, 0);
  }
  return null;
}

/** Refuses a destination that is not http(s), carries credentials or resolves to a private address (unless allowed). */
export async function checkDestination(dest: string, allowPrivate = allowPrivateDestinations()): Promise<void> {
  const policy = defaultPolicy();
  await checkWith(dest, allowPrivate ? { ...policy, allowAddress: () => true } : { ...policy, allowAddress: (ip) => !isPrivateAddress(ip) });
}

export interface SubscriptionRow {
  subscription_id: string;
  org_id: number;
  query_name: string;
  dest: string;
  signature_token: string | null;
  report_if_empty: number;
  stream: number;
  schedule: string | null;
  after_seq: number;
  next_run_at: string | null;
  created_by: string;
  created_at: string;
}

/** A subscription as the API shows it (never its signatureToken). */
export function subscriptionView(db: Db, row: SubscriptionRow) {
  const deliveries = prepared(
    db,
    `SELECT delivery_id, status, attempts, event_count, last_status, last_error, created_at, delivered_at, next_attempt_at
     FROM webhook_deliveries WHERE channel = 'epcis' AND subscription_id = ? ORDER BY delivery_id DESC LIMIT 20`,
  ).all(row.subscription_id) as {
    delivery_id: number;
    status: DeliveryStatus;
    attempts: number;
    event_count: number | null;
    last_status: number | null;
    last_error: string | null;
    created_at: string;
    delivered_at: string | null;
    next_attempt_at: string;
  }[];
  return {
    subscriptionID: row.subscription_id,
    queryName: row.query_name,
    dest: row.dest,
    createdAt: row.created_at,
    reportIfEmpty: row.report_if_empty === 1,
    signed: row.signature_token !== null,
    ...(row.stream === 1 ? { stream: true } : {}),
    ...(row.schedule ? { schedule: JSON.parse(row.schedule) as Record<string, string>, nextReportAt: row.next_run_at } : {}),
    deliveries: deliveries.map((d) => ({
      deliveryId: d.delivery_id,
      status: d.status,
      attempts: d.attempts,
      events: d.event_count ?? 0,
      lastStatus: d.last_status,
      lastError: d.last_error,
      createdAt: d.created_at,
      deliveredAt: d.delivered_at,
      ...(d.status === "pending" ? { nextAttemptAt: d.next_attempt_at } : {}),
    })),
  };
}

/**
 * The cursor of a subscription whose first report holds the events stored from `initialRecordTime`
 * on (the binding's default: from the subscription's start): the last seq stored before it.
 */
export function cursorAt(db: Db, initialRecordTime: string): number {
  return (prepared(db, `SELECT COALESCE(MAX(seq), 0) AS seq FROM epcis_events WHERE record_time < ?`).get(initialRecordTime) as { seq: number }).seq;
}

export function insertSubscription(
  db: Db,
  s: { orgId: number; queryName: string; dest: string; signatureToken: string | null; reportIfEmpty: boolean; stream: boolean; schedule: Schedule | null; initialRecordTime: string | null; createdBy: string },
  now = new Date(),
): SubscriptionRow {
  const id = crypto.randomUUID();
  const after = cursorAt(db, s.initialRecordTime ?? now.toISOString());
  const next = s.schedule ? nextRun(s.schedule, now)?.toISOString() ?? null : null;
  prepared(
    db,
    `INSERT INTO epcis_subscriptions (subscription_id, org_id, query_name, dest, signature_token, report_if_empty, stream, schedule, after_seq, next_run_at, created_by, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(id, s.orgId, s.queryName, s.dest, s.signatureToken, s.reportIfEmpty ? 1 : 0, s.stream ? 1 : 0, s.schedule ? JSON.stringify(s.schedule) : null, after, next, s.createdBy, now.toISOString());
  return prepared(db, `SELECT * FROM epcis_subscriptions WHERE subscription_id = ?`).get(id) as SubscriptionRow;
}

/** Ends subscriptions: drops them and their pending deliveries (the log of past deliveries stays). */
export function endSubscriptions(db: Db, ids: readonly string[]): void {
  for (const id of ids) {
    dropPending(db, "epcis", id);
    prepared(db, `DELETE FROM epcis_subscriptions WHERE subscription_id = ?`).run(id);
  }
}

/**
 * Queues a report for each due subscription, each in one transaction with its cursor: the events
 * its query selects that were stored since its last report and that its organisation may read.
 */
export function reportSubscriptions(db: Db, now: () => Date = () => new Date()): void {
  const sharing = createSharingStore(db);
  const subs = prepared(db, `SELECT * FROM epcis_subscriptions ORDER BY created_at`).all() as SubscriptionRow[];
  for (const sub of subs) {
    const at = now();
    const scheduled = sub.schedule !== null;
    if (scheduled && (!sub.next_run_at || sub.next_run_at > at.toISOString())) continue;
    db.transaction(() => {
      const named = prepared(db, `SELECT query FROM epcis_named_queries WHERE org_id = ? AND name = ?`).get(sub.org_id, sub.query_name) as
        | { query: string }
        | undefined;
      if (!named) return; // the query was deleted: nothing to report
      const report = reportAfter(db, sharing, sub.org_id, sub.query_name, named.query, sub.after_seq, sub.subscription_id);
      if (report.count > 0 || (scheduled && sub.report_if_empty === 1)) {
        enqueueDelivery(db, { channel: "epcis", subscriptionId: sub.subscription_id, dest: sub.dest, body: report.body, eventCount: report.count }, at);
      }
      const next = scheduled ? nextRun(JSON.parse(sub.schedule!) as Schedule, at)?.toISOString() ?? null : null;
      prepared(db, `UPDATE epcis_subscriptions SET after_seq = ?, next_run_at = ? WHERE subscription_id = ?`).run(
        Math.max(report.upTo, sub.after_seq),
        next,
        sub.subscription_id,
      );
    })();
  }
}

/**
 * The report of a named query's events stored after `afterSeq` that `orgId` may read (at most
 * MAX_EVENTS_PER_REPORT, oldest first), as the JSON of an EPCISQueryDocument, and the seq it covers.
 */
export function reportAfter(
  db: Db,
  sharing: ReturnType<typeof createSharingStore>,
  orgId: number,
  queryName: string,
  queryJson: string,
  afterSeq: number,
  subscriptionId: string,
  format: EpcFormat = "Always_GS1_Digital_Link",
): { body: string; count: number; upTo: number } {
  const params = Object.fromEntries(
    Object.entries(JSON.parse(queryJson) as Record<string, unknown>).map(([k, v]) => [k, Array.isArray(v) ? v.map(String) : String(v)]),
  );
  const query = parseEventQuery({ ...params, orderBy: "recordTime", orderDirection: "ASC" });
  query.where.push("e.seq > ?");
  query.args.push(afterSeq);
  query.perPage = MAX_EVENTS_PER_REPORT;
  const newest = (prepared(db, `SELECT COALESCE(MAX(seq), 0) AS seq FROM epcis_events`).get() as { seq: number }).seq;
  const page = runEventQuery(db, query, undefined, epcisVisibility(db, sharing, orgId));
  const upTo = page.nextPageToken ? page.rows[page.rows.length - 1].seq : newest;
  const doc = queryDocument(page.rows, format, knownPrefixes(db), queryName);
  const body = JSON.stringify({ ...doc, epcisBody: { queryResults: { ...doc.epcisBody.queryResults, subscriptionID: subscriptionId } } });
  return { body, count: page.rows.length, upTo: Math.max(upTo, afterSeq) };
}
