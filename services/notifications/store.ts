import crypto from "node:crypto";
import type { Db } from "../store/db";
import { prepared } from "../store/statements";
import { deliveriesOf, dropPending, enqueueDelivery, type DeliveryRow } from "../delivery/outbox";
import { TOPICS, type Topic } from "./handlers";

/**
 * Members' notification subscriptions and the fan-out of notifications to them (docs/notifications.md).
 * A notification goes to the subscriptions its member has when the delivery job first sees it, once:
 * `notifications_fanned` remembers it across rollbacks and rebuilds of the index.
 */

export interface NotificationSubscriptionRow {
  subscription_id: string;
  org_id: number;
  url: string;
  topics: string;
  secret: string;
  created_by: string;
  created_at: string;
}

/** A subscription as the API shows it: never its secret. */
export function notificationSubscriptionView(row: NotificationSubscriptionRow) {
  return {
    id: row.subscription_id,
    orgId: String(row.org_id),
    url: row.url,
    topics: JSON.parse(row.topics) as Topic[],
    createdBy: row.created_by,
    createdAt: row.created_at,
  };
}

export function deliveryView(d: DeliveryRow) {
  return {
    deliveryId: d.delivery_id,
    topic: d.topic ?? "",
    type: d.type ?? "",
    status: d.status,
    attempts: d.attempts,
    lastStatus: d.last_status,
    lastError: d.last_error,
    createdAt: d.created_at,
    deliveredAt: d.delivered_at,
    ...(d.status === "pending" ? { nextAttemptAt: d.next_attempt_at } : {}),
    notificationKey: d.notification_key,
  };
}

export function createNotificationStore(db: Db) {
  return {
    insert(
      s: { orgId: number; url: string; topics: Topic[]; secret: string; createdBy: string },
      now = new Date(),
    ): NotificationSubscriptionRow {
      const id = crypto.randomUUID();
      const topics = TOPICS.filter((t) => s.topics.includes(t));
      prepared(
        db,
        `INSERT INTO notification_subscriptions (subscription_id, org_id, url, topics, secret, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ).run(id, s.orgId, s.url, JSON.stringify(topics), s.secret, s.createdBy, now.toISOString());
      return this.get(id, s.orgId)!;
    },
    /** The subscription if it belongs to `orgId` (another organisation's is not found). */
    get(id: string, orgId: number): NotificationSubscriptionRow | undefined {
      return prepared(db, `SELECT * FROM notification_subscriptions WHERE subscription_id = ? AND org_id = ?`).get(id, orgId) as
        NotificationSubscriptionRow | undefined;
    },
    list(orgId: number): NotificationSubscriptionRow[] {
      return prepared(db, `SELECT * FROM notification_subscriptions WHERE org_id = ? ORDER BY created_at, subscription_id`).all(
        orgId,
      ) as NotificationSubscriptionRow[];
    },
    /** Ends a subscription: drops it and its pending deliveries (the log stays). */
    remove(id: string, orgId: number): boolean {
      return db.transaction(() => {
        const gone = prepared(db, `DELETE FROM notification_subscriptions WHERE subscription_id = ? AND org_id = ?`).run(
          id,
          orgId,
        );
        if (gone.changes > 0) dropPending(db, "lotline", id);
        return gone.changes > 0;
      })();
    },
    deliveries(id: string, limit: number, beforeId: number | null): DeliveryRow[] {
      return deliveriesOf(db, "lotline", id, limit, beforeId);
    },
  };
}

const FAN_OUT_BATCH = 500;

interface Notice {
  key: string;
  orgId: number;
  topic: Topic;
  type: string;
  at: string;
  data: unknown;
  fromChain: boolean;
}

/** A notification fanned out: the member it concerns, its topic and the body every subscriber gets. */
export interface FannedNotice {
  orgId: number;
  topic: Topic;
  body: string;
}

/** Queues one delivery per subscription of the notice's member that takes its topic; marks it fanned. */
function fanOut(db: Db, n: Notice, at: Date): FannedNotice {
  const subs = prepared(db, `SELECT subscription_id, url, topics FROM notification_subscriptions WHERE org_id = ?`).all(
    n.orgId,
  ) as {
    subscription_id: string;
    url: string;
    topics: string;
  }[];
  const body = JSON.stringify({ topic: n.topic, type: n.type, at: n.at, data: n.data });
  for (const s of subs) {
    if (!(JSON.parse(s.topics) as string[]).includes(n.topic)) continue;
    enqueueDelivery(
      db,
      {
        channel: "lotline",
        subscriptionId: s.subscription_id,
        dest: s.url,
        body,
        topic: n.topic,
        type: n.type,
        notificationKey: n.key,
        fromChain: n.fromChain,
      },
      at,
    );
  }
  prepared(db, `INSERT OR IGNORE INTO notifications_fanned (notification_key, fanned_at) VALUES (?, ?)`).run(
    n.key,
    at.toISOString(),
  );
  return { orgId: n.orgId, topic: n.topic, body };
}

/**
 * Hands every notification not yet fanned out (chain-derived, then finished capture jobs) to the
 * subscriptions of its member; returns them, committed, for the member's open sockets (delivery/live.ts).
 */
export function fanOutNotifications(db: Db, now: () => Date = () => new Date()): FannedNotice[] {
  const fanned: FannedNotice[] = [];
  for (;;) {
    const rows = prepared(
      db,
      `SELECT n.notification_key, n.org_id, n.topic, n.type, n.at, n.data FROM notifications n
       WHERE NOT EXISTS (SELECT 1 FROM notifications_fanned f WHERE f.notification_key = n.notification_key)
       ORDER BY n.block_number, n.rowid LIMIT ?`,
    ).all(FAN_OUT_BATCH) as { notification_key: string; org_id: number; topic: Topic; type: string; at: string; data: string }[];
    if (rows.length === 0) break;
    db.transaction(() => {
      const at = now();
      for (const r of rows) {
        const notice = fanOut(
          db,
          {
            key: r.notification_key,
            orgId: r.org_id,
            topic: r.topic,
            type: r.type,
            at: r.at,
            data: JSON.parse(r.data) as unknown,
            fromChain: true,
          },
          at,
        );
        fanned.push(notice);
      }
    })();
    if (rows.length < FAN_OUT_BATCH) break;
  }
  fanned.push(...announceCaptures(db, now));
  return fanned;
}

/** Capture jobs finished since the last round, in capture order (a running one holds back those after it). */
function announceCaptures(db: Db, now: () => Date): FannedNotice[] {
  const cursor = Number(
    (prepared(db, `SELECT value FROM meta WHERE key = 'notifications_capture_seq'`).get() as { value: string } | undefined)
      ?.value ?? 0,
  );
  const rows = prepared(
    db,
    `SELECT seq, capture_id, org_id, running, total, stored, errors, duplicates, finished_at FROM epcis_captures WHERE seq > ? ORDER BY seq LIMIT 200`,
  ).all(cursor) as {
    seq: number;
    capture_id: string;
    org_id: number;
    running: number;
    total: number;
    stored: number;
    errors: string;
    duplicates: string;
    finished_at: string | null;
  }[];
  return db.transaction(() => {
    const at = now();
    const fanned: FannedNotice[] = [];
    let last = cursor;
    for (const r of rows) {
      if (r.running === 1) break;
      const errors = (JSON.parse(r.errors) as unknown[]).length;
      const notice = fanOut(
        db,
        {
          key: `capture:${r.capture_id}`,
          orgId: r.org_id,
          topic: "capture",
          type: "capture_finished",
          at: r.finished_at ?? at.toISOString(),
          data: {
            captureId: r.capture_id,
            success: errors === 0,
            total: r.total,
            stored: r.stored,
            errors,
            duplicates: (JSON.parse(r.duplicates) as unknown[]).length,
            location: `/epcis/capture/${r.capture_id}`,
          },
          fromChain: false,
        },
        at,
      );
      fanned.push(notice);
      last = r.seq;
    }
    if (last !== cursor)
      prepared(db, `INSERT OR REPLACE INTO meta (key, value) VALUES ('notifications_capture_seq', ?)`).run(String(last));
    return fanned;
  })();
}
