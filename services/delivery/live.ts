import crypto from "node:crypto";
import type WebSocket from "ws";
import type { Db } from "../store/db";
import { prepared } from "../store/statements";
import { createSharingStore } from "../store/sharing";
import { onEventStored } from "../epcis/capture";
import type { EpcFormat } from "../epcis/identifiers";
import { MAX_EVENTS_PER_REPORT, nextRun, reportAfter, type Schedule } from "../epcis/subscriptions";
import type { Topic } from "../notifications/handlers";

/**
 * The WebSocket side of the delivery machinery (docs/notifications.md, docs/epcis.md): the open
 * sockets of a database's node, each an EPCIS query subscription (the binding's
 * GET /epcis/queries/{queryName}/events with Upgrade) or a stream of a member's notifications
 * (GET /api/v1/subscriptions/stream). Nothing here is persisted: a socket holds its subscription
 * for as long as it is open, and a client that reconnects starts again (`initialRecordTime` lets an
 * EPCIS client resume).
 *
 * No timer of its own: newly stored events reach stream subscriptions from the capture hook
 * (`onEventStored`, once the storing transaction has committed); schedules, notifications, the
 * session check and the heartbeat ride on the node's delivery job (services/delivery/job.ts, a
 * round every 2 s), which also catches up with events stored without the hook.
 *
 * What a socket receives is checked as for webhooks: the EPCIS events its organisation may read at
 * the time of the report (owner-and-grantees), the notifications of its organisation. Its session
 * is checked at every round and before every message: once the session has expired or the agent is
 * no longer active, the socket is closed (4401) and nothing more is sent on it.
 */

/** Open sockets per organisation at most (a member cannot pin the node's memory with sockets). */
export const MAX_SOCKETS_PER_ORG = 32;
/** Bytes queued unsent on a socket beyond which its reader is too slow: the socket is closed. */
const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;
const PING_EVERY_MS = 30_000;
/** Close codes (4000–4999 are the application's). */
export const CLOSE = {
  shuttingDown: 1001,
  internalError: 1011,
  tooSlow: 1013,
  queryDeleted: 4404,
  unauthorised: 4401,
} as const;

interface Entry {
  socket: WebSocket;
  orgId: number;
  /** Whether the session the socket was opened with still authorises it (expiry, suspension). */
  authorised: () => boolean;
  pingAt: number;
  awaitingPong: boolean;
}

export interface QueryStreamSpec {
  orgId: number;
  queryName: string;
  /** The subscriptionID written into every report. */
  subscriptionId: string;
  afterSeq: number;
  stream: boolean;
  schedule: Schedule | null;
  reportIfEmpty: boolean;
  format: EpcFormat;
}

interface QueryEntry extends Entry, QueryStreamSpec {
  kind: "epcis";
  nextRunAt: string | null;
}

interface NoticeEntry extends Entry {
  kind: "lotline";
  topics: ReadonlySet<Topic>;
}

/** A notification as the delivery job fanned it out: the member it concerns, its topic, its body `{topic, type, at, data}`. */
export interface LiveNotice {
  orgId: number;
  topic: Topic;
  body: string;
}

export function createLiveStreams(db: Db) {
  const entries = new Set<QueryEntry | NoticeEntry>();
  const sharing = createSharingStore(db);
  let streamsPending = false;

  function add<E extends QueryEntry | NoticeEntry>(entry: E): E {
    entries.add(entry);
    entry.socket.on("close", () => entries.delete(entry));
    entry.socket.on("pong", () => {
      entry.awaitingPong = false;
    });
    return entry;
  }

  function close(entry: Entry & { kind: string }, code: number, reason: string): void {
    entries.delete(entry as QueryEntry | NoticeEntry);
    entry.socket.close(code, reason);
  }

  /** Sends on an open socket whose session still holds; false (and the socket closed) otherwise. */
  function send(entry: QueryEntry | NoticeEntry, text: string): boolean {
    if (entry.socket.readyState !== 1) return false;
    if (!entry.authorised()) {
      close(entry, CLOSE.unauthorised, "the session expired or the agent is no longer active: sign in again");
      return false;
    }
    if (entry.socket.bufferedAmount > MAX_BUFFERED_BYTES) {
      close(entry, CLOSE.tooSlow, "the client reads too slowly: reconnect (initialRecordTime resumes)");
      return false;
    }
    entry.socket.send(text);
    return true;
  }

  /** Reports an EPCIS subscription's events stored after its cursor (the whole backlog, report by report). */
  function report(entry: QueryEntry, scheduled: boolean): void {
    const named = prepared(db, `SELECT query FROM epcis_named_queries WHERE org_id = ? AND name = ?`).get(
      entry.orgId,
      entry.queryName,
    ) as { query: string } | undefined;
    if (!named) return close(entry, CLOSE.queryDeleted, `the named query ${entry.queryName} was deleted`);
    // Nothing stored since the cursor: no query to run (the common case of a stream's round).
    const newest = (prepared(db, `SELECT COALESCE(MAX(seq), 0) AS seq FROM epcis_events`).get() as { seq: number }).seq;
    if (newest <= entry.afterSeq && !(scheduled && entry.reportIfEmpty)) return;
    for (let first = true; ; first = false) {
      const r = reportAfter(
        db,
        sharing,
        entry.orgId,
        entry.queryName,
        named.query,
        entry.afterSeq,
        entry.subscriptionId,
        entry.format,
      );
      const sendIt = r.count > 0 || (scheduled && first && entry.reportIfEmpty);
      if (sendIt && !send(entry, r.body)) return;
      entry.afterSeq = Math.max(entry.afterSeq, r.upTo);
      if (r.count < MAX_EVENTS_PER_REPORT) return;
    }
  }

  /** A report that fails (the database closing under it, say) ends its socket, never the process. */
  function safely(entry: QueryEntry, scheduled: boolean): void {
    try {
      report(entry, scheduled);
    } catch (err) {
      close(entry, CLOSE.internalError, `the subscription failed: ${(err as Error).message}`.slice(0, 120));
    }
  }

  function reportStreams(): void {
    streamsPending = false;
    for (const entry of [...entries]) if (entry.kind === "epcis" && entry.stream) safely(entry, false);
  }

  return {
    /** Open sockets of an organisation. */
    countFor(orgId: number): number {
      let n = 0;
      for (const e of entries) if (e.orgId === orgId) n++;
      return n;
    },

    /** Holds an EPCIS query subscription for as long as its socket is open. */
    addQueryStream(socket: WebSocket, spec: QueryStreamSpec, authorised: () => boolean, now = new Date()): void {
      const nextRunAt = spec.schedule ? (nextRun(spec.schedule, now)?.toISOString() ?? null) : null;
      add<QueryEntry>({ kind: "epcis", socket, authorised, pingAt: now.getTime(), awaitingPong: false, ...spec, nextRunAt });
    },

    /** Holds a stream of an organisation's notifications (of `topics`) for as long as its socket is open. */
    addNoticeStream(
      socket: WebSocket,
      orgId: number,
      topics: ReadonlySet<Topic>,
      authorised: () => boolean,
      now = new Date(),
    ): void {
      add<NoticeEntry>({ kind: "lotline", socket, orgId, topics, authorised, pingAt: now.getTime(), awaitingPong: false });
    },

    /** Called for each stored event (inside its transaction): stream reports go out once it has committed. */
    eventsStored(): void {
      if (streamsPending) return;
      streamsPending = true;
      setImmediate(reportStreams);
    },

    /** Pushes notifications fanned out by the delivery job to the sockets of the members they concern. */
    publish(notices: readonly LiveNotice[]): void {
      for (const n of notices) {
        for (const entry of entries) {
          if (entry.kind === "lotline" && entry.orgId === n.orgId && entry.topics.has(n.topic)) send(entry, n.body);
        }
      }
    },

    /**
     * One round of the delivery job: closes sockets whose session no longer holds, reports due
     * schedules and any stream events the capture hook did not announce, and keeps sockets alive
     * (a ping every 30 s; one unanswered for another 30 s is dropped).
     */
    round(now: Date): void {
      const at = now.toISOString();
      for (const entry of [...entries]) {
        if (!entry.authorised()) {
          close(entry, CLOSE.unauthorised, "the session expired or the agent is no longer active: sign in again");
          continue;
        }
        if (entry.kind === "epcis") {
          if (entry.stream) safely(entry, false);
          else if (entry.nextRunAt !== null && entry.nextRunAt <= at) {
            safely(entry, true);
            entry.nextRunAt = nextRun(entry.schedule!, now)?.toISOString() ?? null;
          }
        }
        if (!entries.has(entry)) continue;
        if (now.getTime() - entry.pingAt >= PING_EVERY_MS) {
          if (entry.awaitingPong) {
            entries.delete(entry);
            entry.socket.terminate();
            continue;
          }
          entry.pingAt = now.getTime();
          entry.awaitingPong = true;
          entry.socket.ping();
        }
      }
    },

    /** Ends the WebSocket subscriptions to a deleted named query (the binding: "forcibly unsubscribes"). */
    endQuery(orgId: number, queryName: string): void {
      for (const entry of [...entries]) {
        if (entry.kind === "epcis" && entry.orgId === orgId && entry.queryName === queryName) {
          close(entry, CLOSE.queryDeleted, `the named query ${queryName} was deleted`);
        }
      }
    },
  };
}
export type LiveStreams = ReturnType<typeof createLiveStreams>;

const registries = new WeakMap<Db, LiveStreams>();

/** The open sockets of a database's node: one registry per database (routes, the delivery job and the capture hook share it). */
export function liveStreamsFor(db: Db): LiveStreams {
  let live = registries.get(db);
  if (!live) registries.set(db, (live = createLiveStreams(db)));
  return live;
}

// Stream subscriptions hear of stored events from the capture hook; a database without sockets costs a map lookup.
onEventStored((db) => registries.get(db)?.eventsStored());

/** A subscription ID for a socket's reports. */
export const newSubscriptionId = (): string => crypto.randomUUID();
