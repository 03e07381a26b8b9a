import crypto from "node:crypto";
import dns from "node:dns/promises";
import net from "node:net";
import type { Db } from "../store/db";
import { prepared } from "../store/statements";
import { createSharingStore } from "../store/sharing";
import { epcisVisibility } from "./access";
import { knownPrefixes } from "./store";
import { parseEventQuery, queryDocument, runEventQuery } from "./query";

/**
 * Webhook subscriptions to named queries (the binding's POST /queries/{queryName}/subscriptions).
 *
 * A subscription delivers, as an EPCISQueryDocument POSTed to its `dest`, the events its named query
 * selects that were stored after the previous report and that the subscriber's organisation may read
 * (owner-and-grantees, checked at each report): `stream` reports each newly stored batch of events as
 * soon as the job sees it; `schedule` reports at the times it names (cron-like), even when empty if
 * `reportIfEmpty`. Each delivery is a row of `epcis_deliveries` (the log): signed with the
 * subscriber's `signatureToken` (`GS1-Signature: sha256=<hex HMAC-SHA256 of the body>`), retried with
 * exponential backoff (1 s, 2 s, 4 s, … up to 1 h) until it is answered 2xx or has failed
 * MAX_ATTEMPTS times. Destinations must resolve to public addresses (checked at creation and before
 * every attempt; redirects are not followed) unless LOTLINE_WEBHOOK_ALLOW_PRIVATE=1 (the embedded demo).
 */

export const MAX_ATTEMPTS = 8;
const MAX_BACKOFF_MS = 3_600_000;
/** Events per report at most; the rest go in the next report. */
const MAX_EVENTS_PER_REPORT = 1_000;

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

const PRIVATE_V4: [string, number][] = [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["224.0.0.0", 3],
];

function v4ToInt(ip: string): number {
  return ip.split(".").reduce((n, part) => n * 256 + Number(part), 0);
}

/** Whether an address is loopback, private, link-local, shared, multicast or reserved. */
export function isPrivateAddress(ip: string): boolean {
  if (net.isIPv4(ip)) return PRIVATE_V4.some(([base, bits]) => v4ToInt(ip) >>> (32 - bits) === v4ToInt(base) >>> (32 - bits));
  const v6 = ip.toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(v6);
  if (mapped) return isPrivateAddress(mapped[1]);
  return v6 === "::" || v6 === "::1" || /^f[cd]/.test(v6) || /^fe[89ab]/.test(v6) || /^ff/.test(v6);
}

export const allowPrivateDestinations = () => process.env.LOTLINE_WEBHOOK_ALLOW_PRIVATE?.trim() === "1";

/** Refuses a destination that is not http(s) or that resolves to a private address (unless allowed). */
export async function checkDestination(dest: string, allowPrivate = allowPrivateDestinations()): Promise<void> {
  let url: URL;
  try {
    url = new URL(dest);
  } catch {
    throw new Error(`dest "${dest}" is not a URL`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new Error(`dest must be an http(s) URL, not ${url.protocol}`);
  if (url.username || url.password) throw new Error("dest must not carry credentials; use signatureToken to authenticate deliveries");
  if (allowPrivate) return;
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const addresses = net.isIP(host) ? [host] : (await dns.lookup(host, { all: true }).catch(() => [])).map((a) => a.address);
  if (addresses.length === 0) throw new Error(`dest host ${host} does not resolve`);
  const bad = addresses.find(isPrivateAddress);
  if (bad) throw new Error(`dest ${host} resolves to ${bad}, a private or local address: webhooks go to public addresses only`);
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
     FROM epcis_deliveries WHERE subscription_id = ? ORDER BY delivery_id DESC LIMIT 20`,
  ).all(row.subscription_id) as {
    delivery_id: number;
    status: "pending" | "delivered" | "failed";
    attempts: number;
    event_count: number;
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
      events: d.event_count,
      lastStatus: d.last_status,
      lastError: d.last_error,
      createdAt: d.created_at,
      deliveredAt: d.delivered_at,
      ...(d.status === "pending" ? { nextAttemptAt: d.next_attempt_at } : {}),
    })),
  };
}

export function insertSubscription(
  db: Db,
  s: { orgId: number; queryName: string; dest: string; signatureToken: string | null; reportIfEmpty: boolean; stream: boolean; schedule: Schedule | null; initialRecordTime: string | null; createdBy: string },
  now = new Date(),
): SubscriptionRow {
  const id = crypto.randomUUID();
  // The first report holds events stored from initialRecordTime on (default: from now).
  const from = s.initialRecordTime ?? now.toISOString();
  const after = (prepared(db, `SELECT COALESCE(MAX(seq), 0) AS seq FROM epcis_events WHERE record_time < ?`).get(from) as { seq: number }).seq;
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
    prepared(db, `DELETE FROM epcis_deliveries WHERE subscription_id = ? AND status = 'pending'`).run(id);
    prepared(db, `DELETE FROM epcis_subscriptions WHERE subscription_id = ?`).run(id);
  }
}

export function signatureOf(token: string, body: string): string {
  return `sha256=${crypto.createHmac("sha256", token).update(body).digest("hex")}`;
}

export interface SubscriptionJobOptions {
  now?: () => Date;
  fetch?: typeof fetch;
  log?: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };
}

/** The job that reports subscriptions and delivers (and retries) their reports. One run at a time. */
export function createSubscriptionJob(db: Db, options: SubscriptionJobOptions = {}) {
  const now = options.now ?? (() => new Date());
  const send = options.fetch ?? fetch;
  const sharing = createSharingStore(db);
  let busy: Promise<void> | null = null;

  /** Queues a report for each due subscription (in one transaction each, with its cursor). */
  function report(): void {
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
        const params = Object.fromEntries(
          Object.entries(JSON.parse(named.query) as Record<string, unknown>).map(([k, v]) => [k, Array.isArray(v) ? v.map(String) : String(v)]),
        );
        const query = parseEventQuery({ ...params, orderBy: "recordTime", orderDirection: "ASC" });
        query.where.push("e.seq > ?");
        query.args.push(sub.after_seq);
        query.perPage = MAX_EVENTS_PER_REPORT;
        const newest = (prepared(db, `SELECT COALESCE(MAX(seq), 0) AS seq FROM epcis_events`).get() as { seq: number }).seq;
        const page = runEventQuery(db, query, undefined, epcisVisibility(db, sharing, sub.org_id));
        const upTo = page.nextPageToken ? page.rows[page.rows.length - 1].seq : newest;
        if (page.rows.length > 0 || (scheduled && sub.report_if_empty === 1)) {
          const doc = queryDocument(page.rows, "Always_GS1_Digital_Link", knownPrefixes(db), sub.query_name);
          const body = JSON.stringify({ ...doc, epcisBody: { queryResults: { ...doc.epcisBody.queryResults, subscriptionID: sub.subscription_id } } });
          prepared(
            db,
            `INSERT INTO epcis_deliveries (subscription_id, body, event_count, status, attempts, next_attempt_at, created_at) VALUES (?, ?, ?, 'pending', 0, ?, ?)`,
          ).run(sub.subscription_id, body, page.rows.length, at.toISOString(), at.toISOString());
        }
        const next = scheduled ? nextRun(JSON.parse(sub.schedule!) as Schedule, at)?.toISOString() ?? null : null;
        prepared(db, `UPDATE epcis_subscriptions SET after_seq = ?, next_run_at = ? WHERE subscription_id = ?`).run(Math.max(upTo, sub.after_seq), next, sub.subscription_id);
      })();
    }
  }

  /** Sends every pending delivery that is due; records each attempt. */
  async function deliver(): Promise<void> {
    const due = prepared(
      db,
      `SELECT d.delivery_id, d.body, d.attempts, s.dest, s.signature_token, s.subscription_id FROM epcis_deliveries d
       JOIN epcis_subscriptions s ON s.subscription_id = d.subscription_id
       WHERE d.status = 'pending' AND d.next_attempt_at <= ? ORDER BY d.delivery_id`,
    ).all(now().toISOString()) as { delivery_id: number; body: string; attempts: number; dest: string; signature_token: string | null; subscription_id: string }[];
    for (const d of due) {
      let status: number | null = null;
      let error: string | null = null;
      try {
        await checkDestination(d.dest);
        const response = await send(d.dest, {
          method: "POST",
          redirect: "manual",
          headers: {
            "content-type": "application/ld+json",
            "GS1-EPCIS-Version": "2.0.0",
            ...(d.signature_token ? { "GS1-Signature": signatureOf(d.signature_token, d.body) } : {}),
          },
          body: d.body,
          signal: AbortSignal.timeout(10_000),
        });
        status = response.status;
        await response.body?.cancel().catch(() => undefined);
        if (status < 200 || status >= 300) error = `the destination answered HTTP ${status}`;
      } catch (err) {
        error = (err as Error).message;
      }
      const attempts = d.attempts + 1;
      const at = now();
      if (error === null) {
        prepared(db, `UPDATE epcis_deliveries SET status = 'delivered', attempts = ?, last_status = ?, last_error = NULL, delivered_at = ? WHERE delivery_id = ?`).run(
          attempts,
          status,
          at.toISOString(),
          d.delivery_id,
        );
      } else {
        const failed = attempts >= MAX_ATTEMPTS;
        const retryAt = new Date(at.getTime() + Math.min(1000 * 2 ** (attempts - 1), MAX_BACKOFF_MS)).toISOString();
        prepared(db, `UPDATE epcis_deliveries SET status = ?, attempts = ?, last_status = ?, last_error = ?, next_attempt_at = ? WHERE delivery_id = ?`).run(
          failed ? "failed" : "pending",
          attempts,
          status,
          error.slice(0, 500),
          retryAt,
          d.delivery_id,
        );
        options.log?.warn({ subscriptionId: d.subscription_id, deliveryId: d.delivery_id, attempts, error }, failed ? "EPCIS delivery failed" : "EPCIS delivery will be retried");
      }
    }
  }

  return {
    name: "epcis-subscriptions",
    /** Reports what is due and delivers what is pending. */
    async runOnce(): Promise<void> {
      if (busy) return busy;
      busy = (async () => {
        report();
        await deliver();
      })().finally(() => {
        busy = null;
      });
      return busy;
    },
  };
}
export type SubscriptionJob = ReturnType<typeof createSubscriptionJob>;

const jobs = new WeakMap<Db, SubscriptionJob>();

/** The subscription job of a database: one per database (the API's timer and tests share it). */
export function subscriptionJobFor(db: Db, options?: SubscriptionJobOptions): SubscriptionJob {
  let job = jobs.get(db);
  if (!job) jobs.set(db, (job = createSubscriptionJob(db, options)));
  return job;
}
