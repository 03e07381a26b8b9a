import crypto from "node:crypto";
import http from "node:http";
import https from "node:https";
import type { Db } from "../store/db";
import { prepared } from "../store/statements";
import {
  defaultPolicy,
  DestinationError,
  parseDestination,
  pinnedLookup,
  resolveDestination,
  type DestinationPolicy,
} from "./destination";

/**
 * The one webhook outbox of a node (docs/notifications.md, ADR 0018). EPCIS query subscriptions
 * and Lotline notifications queue their deliveries here, each a row of `webhook_deliveries` written
 * in the same transaction as whatever produced it; the delivery job sends what is due:
 * - signed: an HMAC-SHA256 of the exact body with the subscription's secret, in the channel's
 *   header (`GS1-Signature` for EPCIS, `X-Lotline-Signature` for notifications), `sha256=<hex>`;
 *   the secret is read from the subscription at send time and never written anywhere else;
 * - retried with exponential backoff (1 s, 2 s, 4 s, … capped at 1 h) until answered 2xx or
 *   MAX_ATTEMPTS attempts failed;
 * - logged: the row keeps its attempts, last HTTP status, last error and outcome;
 * - to a checked, pinned address (destination.ts): redirects are not followed.
 * The rows live in SQLite, so a node that restarts sends what was still pending.
 */

export const MAX_ATTEMPTS = 12;
const MAX_BACKOFF_MS = 3_600_000;
const TIMEOUT_MS = 10_000;
/** Deliveries sent at once; the rest wait for the next round. */
const CONCURRENCY = 4;
const PER_ROUND = 100;

export type Channel = "epcis" | "lotline";
export type DeliveryStatus = "pending" | "delivered" | "failed" | "cancelled";

interface ChannelSpec {
  /** The subscription's secret (null: deliveries unsigned), or undefined when the subscription is gone. */
  secretSql: string;
  signatureHeader: string;
  headers: Record<string, string>;
}

const CHANNELS: Record<Channel, ChannelSpec> = {
  epcis: {
    secretSql: `SELECT signature_token AS secret FROM epcis_subscriptions WHERE subscription_id = ?`,
    signatureHeader: "GS1-Signature",
    headers: { "content-type": "application/ld+json", "GS1-EPCIS-Version": "2.0.0" },
  },
  lotline: {
    secretSql: `SELECT secret FROM notification_subscriptions WHERE subscription_id = ?`,
    signatureHeader: "X-Lotline-Signature",
    headers: { "content-type": "application/json" },
  },
};

/** `sha256=<hex HMAC-SHA256 of body keyed with secret>`. */
export function signatureOf(secret: string, body: string): string {
  return `sha256=${crypto.createHmac("sha256", secret).update(body).digest("hex")}`;
}

/** Whether `header` is the signature of `body` under `secret` (constant time). */
export function verifySignature(secret: string, body: string, header: string | undefined): boolean {
  if (!header) return false;
  const expected = Buffer.from(signatureOf(secret, body));
  const given = Buffer.from(header);
  return expected.length === given.length && crypto.timingSafeEqual(expected, given);
}

export interface NewDelivery {
  channel: Channel;
  subscriptionId: string;
  dest: string;
  body: string;
  /** EPCIS: events in the report. */
  eventCount?: number;
  /** Lotline: the notification's topic and type. */
  topic?: string;
  type?: string;
  /** Lotline: the notification's key (header X-Lotline-Notification), and whether it comes from a chain event. */
  notificationKey?: string;
  fromChain?: boolean;
}

/** Queues a delivery, due now. Call inside the transaction that produced it. */
export function enqueueDelivery(db: Db, d: NewDelivery, now = new Date()): number {
  const at = now.toISOString();
  const info = prepared(
    db,
    `INSERT INTO webhook_deliveries (channel, subscription_id, dest, body, event_count, topic, type, notification_key, from_chain, status, attempts, next_attempt_at, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?)`,
  ).run(
    d.channel,
    d.subscriptionId,
    d.dest,
    d.body,
    d.eventCount ?? null,
    d.topic ?? null,
    d.type ?? null,
    d.notificationKey ?? null,
    d.fromChain ? 1 : 0,
    at,
    at,
  );
  return Number(info.lastInsertRowid);
}

/** Drops a subscription's pending deliveries (the log of past ones stays). */
export function dropPending(db: Db, channel: Channel, subscriptionId: string): void {
  prepared(db, `DELETE FROM webhook_deliveries WHERE channel = ? AND subscription_id = ? AND status = 'pending'`).run(
    channel,
    subscriptionId,
  );
}

export interface DeliveryRow {
  delivery_id: number;
  channel: Channel;
  subscription_id: string;
  dest: string;
  body: string;
  event_count: number | null;
  topic: string | null;
  type: string | null;
  notification_key: string | null;
  from_chain: number;
  status: DeliveryStatus;
  attempts: number;
  next_attempt_at: string;
  last_status: number | null;
  last_error: string | null;
  created_at: string;
  delivered_at: string | null;
}

/** A subscription's deliveries, newest first. */
export function deliveriesOf(
  db: Db,
  channel: Channel,
  subscriptionId: string,
  limit: number,
  beforeId: number | null = null,
): DeliveryRow[] {
  return prepared(
    db,
    `SELECT * FROM webhook_deliveries WHERE channel = ? AND subscription_id = ? AND delivery_id < ? ORDER BY delivery_id DESC LIMIT ?`,
  ).all(channel, subscriptionId, beforeId ?? Number.MAX_SAFE_INTEGER, limit) as DeliveryRow[];
}

export interface SendOptions {
  policy?: DestinationPolicy;
  now?: () => Date;
  log?: { warn(obj: object, msg?: string): void };
}

/** One HTTP POST to a checked, pinned address; the answer's status. Redirects are answered, not followed. */
async function post(dest: string, headers: Record<string, string>, body: string, policy: DestinationPolicy): Promise<number> {
  const url = parseDestination(dest);
  const addresses = await resolveDestination(url, policy);
  const client = url.protocol === "https:" ? https : http;
  return new Promise<number>((resolve, reject) => {
    const request = client.request(
      url,
      {
        method: "POST",
        headers: { ...headers, "content-length": String(Buffer.byteLength(body)), "user-agent": "Lotline-Webhook/1" },
        lookup: pinnedLookup(addresses) as never,
        // A fresh connection per delivery: a pooled socket could have been opened to another address.
        agent: false,
        timeout: TIMEOUT_MS,
      },
      (response) => {
        response.resume(); // the answer's body is not read
        resolve(response.statusCode ?? 0);
      },
    );
    request.on("timeout", () => request.destroy(new Error(`no answer within ${TIMEOUT_MS / 1000} s`)));
    request.on("error", reject);
    request.end(body);
  });
}

/** Sends every pending delivery that is due (at most PER_ROUND, CONCURRENCY at a time) and logs each attempt. */
export async function deliverDue(db: Db, options: SendOptions = {}): Promise<void> {
  const now = options.now ?? (() => new Date());
  const policy = options.policy ?? defaultPolicy();
  const due = prepared(
    db,
    `SELECT * FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, delivery_id LIMIT ?`,
  ).all(now().toISOString(), PER_ROUND) as DeliveryRow[];
  let next = 0;
  const worker = async () => {
    while (next < due.length) {
      const d = due[next++];
      // Claimed for the attempt (a lease past its timeout): another job on this database skips it,
      // and a node that dies mid-attempt tries again once the lease has run out.
      const lease = new Date(now().getTime() + 2 * TIMEOUT_MS).toISOString();
      const claimed = prepared(
        db,
        `UPDATE webhook_deliveries SET next_attempt_at = ? WHERE delivery_id = ? AND status = 'pending' AND next_attempt_at = ?`,
      ).run(lease, d.delivery_id, d.next_attempt_at);
      if (claimed.changes === 1) await attempt(db, d, policy, now, options.log);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, due.length) }, worker));
}

function cancel(db: Db, d: DeliveryRow, reason: string): void {
  prepared(
    db,
    `UPDATE webhook_deliveries SET status = 'cancelled', last_error = ? WHERE delivery_id = ? AND status = 'pending'`,
  ).run(reason, d.delivery_id);
}

export const ROLLED_BACK = "not sent: its chain event was rolled back by a reorganisation (sent if the event comes back)";

async function attempt(
  db: Db,
  d: DeliveryRow,
  policy: DestinationPolicy,
  now: () => Date,
  log: SendOptions["log"],
): Promise<void> {
  const spec = CHANNELS[d.channel];
  const subscription = prepared(db, spec.secretSql).get(d.subscription_id) as { secret: string | null } | undefined;
  if (!subscription) return cancel(db, d, "not sent: the subscription was ended");
  if (d.from_chain === 1 && !prepared(db, `SELECT 1 FROM notifications WHERE notification_key = ?`).get(d.notification_key)) {
    return cancel(db, d, ROLLED_BACK);
  }
  const headers: Record<string, string> = { ...spec.headers };
  if (subscription.secret) headers[spec.signatureHeader] = signatureOf(subscription.secret, d.body);
  if (d.notification_key) headers["X-Lotline-Notification"] = d.notification_key;
  headers["X-Lotline-Delivery"] = String(d.delivery_id);

  let status: number | null = null;
  let error: string | null = null;
  try {
    status = await post(d.dest, headers, d.body, policy);
    if (status >= 300 && status < 400) error = `the destination answered HTTP ${status}; redirects are not followed`;
    else if (status < 200 || status >= 300) error = `the destination answered HTTP ${status}`;
  } catch (err) {
    error = err instanceof DestinationError ? `refused: ${err.message}` : (err as Error).message;
  }
  const attempts = d.attempts + 1;
  const at = now();
  if (error === null) {
    prepared(
      db,
      `UPDATE webhook_deliveries SET status = 'delivered', attempts = ?, last_status = ?, last_error = NULL, delivered_at = ? WHERE delivery_id = ? AND status = 'pending'`,
    ).run(attempts, status, at.toISOString(), d.delivery_id);
    return;
  }
  const failed = attempts >= MAX_ATTEMPTS;
  const retryAt = new Date(at.getTime() + Math.min(1000 * 2 ** (attempts - 1), MAX_BACKOFF_MS)).toISOString();
  prepared(
    db,
    `UPDATE webhook_deliveries SET status = ?, attempts = ?, last_status = ?, last_error = ?, next_attempt_at = ? WHERE delivery_id = ? AND status = 'pending'`,
  ).run(failed ? "failed" : "pending", attempts, status, error.slice(0, 500), retryAt, d.delivery_id);
  // The destination's host and the error only: never the body's secret-derived signature or the secret.
  log?.warn(
    { channel: d.channel, subscriptionId: d.subscription_id, deliveryId: d.delivery_id, attempts, error: error.slice(0, 200) },
    failed ? "webhook delivery failed for good" : "webhook delivery will be retried",
  );
}

/** Puts back deliveries cancelled because their chain event was rolled back, once the event is indexed again. */
export function reinstateRolledBack(db: Db): void {
  prepared(
    db,
    `UPDATE webhook_deliveries SET status = 'pending', last_error = NULL
     WHERE status = 'cancelled' AND last_error = ? AND notification_key IN (SELECT notification_key FROM notifications)`,
  ).run(ROLLED_BACK);
}
