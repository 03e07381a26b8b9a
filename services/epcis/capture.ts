import crypto from "node:crypto";
import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import { canonicalize } from "json-canonicalize";
import type { Db } from "../store/db";
import { prepared } from "../store/statements";
import { queueForAnchoring } from "../anchoring/outbox";
import { canonicalTimestamp, eventHashId, namespacesFrom, type EpcisEvent, type Namespaces } from "./hash";
import { eventListOf, isObject } from "./document";
import { canonicalId, companyPrefixOfUrn, identifierRows, type IdentifierRow } from "./identifiers";
import { canonicalTerm } from "./vocabulary";
import { storeMasterData } from "./master-data";
import { eventLeaf } from "./leaf";
import {
  EPCIS_ANCHOR_KIND,
  getCapture,
  recordIdOf,
  type CaptureDuplicate,
  type CaptureError,
  type CaptureRow,
} from "./store";

/**
 * The capture job: turns a stored capture document into stored events.
 *
 * 1. Prepare every event (no writes): its CBV 2.0 hash ID, its eventID (the hash ID when absent),
 *    the canonical JSON of the event as received, indexed columns and identifier rows. An event that
 *    cannot be prepared is an error of the capture; with `rollback` one error rejects them all.
 * 2. Store the prepared events in chunks. Each chunk is one transaction that stores its events, queues
 *    each for anchoring, and advances the capture's `processed`; the last one also ends the job.
 *
 * Idempotent and resumable: preparing is deterministic and writes nothing, and a chunk either happened
 * (and moved `processed` past it) or did not, so a node killed at any point after the 202 finishes the
 * capture after a restart, storing each event exactly once.
 *
 * Duplicates: an event whose canonical JSON as received (eventID filled in, recordTime left out since
 * the capture interface ignores it) equals one already stored is stored once; the capture lists it
 * under `duplicates`. An event with the hash ID of a stored event but other content (an error
 * declaration, a corrected copy) is stored, linked to the first event with that hash ID (`original`)
 * and, through its errorDeclaration, to its corrective events.
 */

/** A stored event, as the hooks see it. */
export interface StoredEvent {
  seq: number;
  recordId: string;
  eventId: string;
  hashId: string;
  /** The event as stored (as received, with eventID and recordTime). */
  event: EpcisEvent;
  canonicalJson: string;
  /** The `@context` of the document it came from. */
  context: unknown;
  captureId: string;
  /** Its index in the captured document's event list. */
  eventIndex: number;
  orgId: number;
  /** The first stored event with the same hash ID, when this is not it (e.g. an error declaration). */
  originalSeq: number | null;
}

/**
 * Called for every newly stored event, synchronously INSIDE the transaction that stores it: a consumer
 * (mapping EPCIS events onto provenance transactions, say) writes its own queue row there, so it never
 * misses an event nor sees one that was rolled back. A hook that throws aborts the chunk, which the
 * job retries.
 */
export type EventStoredHook = (db: Db, event: StoredEvent) => void;

const hooks: EventStoredHook[] = [];

/** Registers a hook for stored events; returns a function that removes it. */
export function onEventStored(hook: EventStoredHook): () => void {
  hooks.push(hook);
  return () => {
    const at = hooks.indexOf(hook);
    if (at >= 0) hooks.splice(at, 1);
  };
}

export interface PreparedEvent {
  index: number;
  hashId: string;
  eventId: string;
  content: EpcisEvent;
  contentDigest: string;
  columns: {
    eventType: string;
    eventTime: string;
    action: string | null;
    bizStep: string | null;
    disposition: string | null;
    readPoint: string | null;
    bizLocation: string | null;
    transformationId: string | null;
    errorDeclarationTime: string | null;
    errorReason: string | null;
  };
  identifiers: IdentifierRow[];
}

const text = (v: unknown): string | null => (typeof v === "string" && v.trim() !== "" ? v : null);

export function prepareEvent(index: number, event: unknown, documentContext: unknown, documentNs: Namespaces): PreparedEvent {
  if (!isObject(event)) throw new Error("is not an object");
  const hashId = eventHashId(event, documentContext);
  // A given eventID is kept as it is, even a hash ID computed differently (as in much sample data).
  const eventId = text(event.eventID) ?? hashId;
  const { recordTime: _ignored, ...received } = event;
  const content: EpcisEvent = { ...received, eventID: eventId };
  const ns = event["@context"] === undefined ? documentNs : namespacesFrom(event["@context"], documentNs);
  const place = (v: unknown) => (isObject(v) && text(v.id) ? canonicalId(v.id as string, ns) : null);
  const term = (kind: Parameters<typeof canonicalTerm>[0], v: unknown) => (text(v) ? canonicalTerm(kind, v as string, ns) : null);
  const declaration = isObject(event.errorDeclaration) ? event.errorDeclaration : null;
  const identifiers = identifierRows(event, ns);
  const persistent = isObject(event.persistentDisposition) ? event.persistentDisposition : {};
  for (const [list, role] of [
    ["set", "persistentDispositionSet"],
    ["unset", "persistentDispositionUnset"],
  ]) {
    for (const v of Array.isArray(persistent[list]) ? (persistent[list] as unknown[]) : []) {
      if (text(v))
        identifiers.push({
          role,
          id: canonicalTerm("disposition", v as string, ns),
          raw: v as string,
          quantity: null,
          uom: null,
        });
    }
  }
  for (const v of declaration && Array.isArray(declaration.correctiveEventIDs) ? declaration.correctiveEventIDs : []) {
    if (text(v)) identifiers.push({ role: "correctiveEventID", id: v as string, raw: v as string, quantity: null, uom: null });
  }
  const canonicalContent = canonicalize(content);
  return {
    index,
    hashId,
    eventId,
    content,
    contentDigest: crypto.createHash("sha256").update(canonicalContent).digest("hex"),
    columns: {
      eventType: String(event.type),
      eventTime: canonicalTimestamp(String(event.eventTime)),
      action: text(event.action),
      bizStep: term("bizStep", event.bizStep),
      disposition: term("disposition", event.disposition),
      readPoint: place(event.readPoint),
      bizLocation: place(event.bizLocation),
      transformationId: text(event.transformationID) ? canonicalId(event.transformationID as string, ns) : null,
      errorDeclarationTime:
        declaration && text(declaration.declarationTime) ? canonicalTimestamp(declaration.declarationTime as string) : null,
      errorReason: declaration ? term("errorReason", declaration.reason) : null,
    },
    identifiers,
  };
}

/** Where a stored event came from, when another member's node holds it (services/federation). */
export interface ReplicaOrigin {
  servedBy: string;
  verifiedAt: string;
  /** The proof it came with, as JSON. */
  proof: string;
  /** The holder's record id. */
  originRecord: string;
}

/**
 * Writes a prepared event's row and its identifier rows (the query index), for an event captured here
 * or a verified replica of another member's event; returns its seq. Anchoring and hooks are the caller's.
 */
export function insertEventRow(
  db: Db,
  p: PreparedEvent,
  row: { canonicalJson: string; contextJson: string | null; recordTime: string; originalSeq: number | null; captureId: string; eventIndex: number; orgId: number; replica?: ReplicaOrigin },
): number {
  const c = p.columns;
  const { seq } = prepared(
    db,
    `INSERT INTO epcis_events (event_id, hash_id, content_digest, event, context, event_type, event_time, record_time, action, biz_step,
       disposition, read_point, biz_location, transformation_id, error_declaration_time, error_reason, original_seq, capture_id, event_index, org_id,
       served_by, verified_at, replica_proof, origin_record)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq`,
  ).get(
    p.eventId,
    p.hashId,
    p.contentDigest,
    row.canonicalJson,
    row.contextJson,
    c.eventType,
    c.eventTime,
    row.recordTime,
    c.action,
    c.bizStep,
    c.disposition,
    c.readPoint,
    c.bizLocation,
    c.transformationId,
    c.errorDeclarationTime,
    c.errorReason,
    row.originalSeq,
    row.captureId,
    row.eventIndex,
    row.orgId,
    row.replica?.servedBy ?? null,
    row.replica?.verifiedAt ?? null,
    row.replica?.proof ?? null,
    row.replica?.originRecord ?? null,
  ) as { seq: number };
  const insertId = prepared(db, `INSERT INTO epcis_event_identifiers (seq, role, id, raw, quantity, uom) VALUES (?, ?, ?, ?, ?, ?)`);
  const learnPrefix = prepared(db, `INSERT OR IGNORE INTO epcis_company_prefixes (prefix) VALUES (?)`);
  for (const identifier of p.identifiers) {
    insertId.run(seq, identifier.role, identifier.id, identifier.raw, identifier.quantity, identifier.uom);
    const prefix = companyPrefixOfUrn(identifier.raw);
    if (prefix) learnPrefix.run(prefix);
  }
  return seq;
}

/** An event as it is stored: with its record time, canonical JSON and Merkle leaf. */
interface FinalForm {
  stored: EpcisEvent;
  canonicalJson: string;
  leaf: string;
  recordTime: string;
}

export interface CaptureJobOptions {
  /** Events stored per transaction (progress moves by this much). */
  chunkSize?: number;
  log?: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };
}

/**
 * The capture job for one database. `runOnce` (the node's job loop) and `kick` (the capture route,
 * right after its 202) share one run at a time.
 */
export function createCaptureJob(db: Db, options: CaptureJobOptions = {}) {
  const chunkSize = options.chunkSize ?? 500;
  let busy: Promise<string[]> | null = null;
  let again = false;
  let stopped = false;

  function finish(captureId: string, fields: { errors: CaptureError[]; processed: number }): void {
    prepared(
      db,
      `UPDATE epcis_captures SET running = 0, errors = ?, processed = ?, finished_at = ? WHERE capture_id = ? AND running = 1`,
    ).run(JSON.stringify(fields.errors), fields.processed, new Date().toISOString(), captureId);
  }

  /**
   * What storing an event writes that does not depend on the database: the event with its record
   * time, its canonical JSON and its Merkle leaf. Computed before the transaction that stores it
   * (a turn of the event loop every 100 events), so the transaction holds the loop only for the
   * writes: hashing was half of the transaction that publishes a whole document (rollback).
   */
  async function finalForms(list: PreparedEvent[], recordTime: string): Promise<FinalForm[]> {
    const forms: FinalForm[] = [];
    for (const [i, p] of list.entries()) {
      if (i % 100 === 99) await yieldToEventLoop();
      const stored: EpcisEvent = { ...p.content, recordTime };
      const canonicalJson = canonicalize(stored);
      forms.push({ stored, canonicalJson, leaf: eventLeaf(p.hashId, canonicalJson), recordTime });
    }
    return forms;
  }

  function storeEvent(p: PreparedEvent, form: FinalForm, capture: CaptureRow, context: unknown, contextJson: string | null): CaptureDuplicate | null {
    // Replicas of other members' events (served_by set) are theirs: an identical event captured here is this node's own.
    const same = prepared(db, `SELECT capture_id FROM epcis_events WHERE content_digest = ? AND served_by IS NULL LIMIT 1`).get(p.contentDigest) as
      { capture_id: string } | undefined;
    if (same) return { eventIndex: p.index, eventID: p.eventId, hashId: p.hashId, storedBy: same.capture_id };
    const { stored, canonicalJson, recordTime } = form;
    const original = (
      prepared(db, `SELECT MIN(seq) AS seq FROM epcis_events WHERE hash_id = ? AND served_by IS NULL`).get(p.hashId) as { seq: number | null }
    ).seq;
    const seq = insertEventRow(db, p, {
      canonicalJson,
      contextJson,
      recordTime,
      originalSeq: original,
      captureId: capture.capture_id,
      eventIndex: p.index,
      orgId: capture.org_id,
    });
    const recordId = recordIdOf(seq);
    queueForAnchoring(db, { recordId, kind: EPCIS_ANCHOR_KIND, hash: form.leaf, ownerOrg: capture.org_id });
    const event: StoredEvent = {
      seq,
      recordId,
      eventId: p.eventId,
      hashId: p.hashId,
      event: stored,
      canonicalJson,
      context,
      captureId: capture.capture_id,
      eventIndex: p.index,
      orgId: capture.org_id,
      originalSeq: original,
    };
    for (const hook of hooks) hook(db, event);
    return null;
  }

  async function process(capture: CaptureRow): Promise<void> {
    const list = eventListOf(JSON.parse(capture.document));
    const documentContext = list.kind === "event" ? undefined : list.context;
    const contextJson = documentContext === undefined ? null : canonicalize(documentContext);
    const documentNs = namespacesFrom(documentContext);
    // proceed: events the schema refused on arrival are not captured; they head the job's errors.
    const refused = JSON.parse(capture.invalid ?? "[]") as CaptureError[];
    const skip = new Set(refused.map((e) => e.eventIndex));

    const events: (PreparedEvent | null)[] = [];
    const errors: CaptureError[] = [...refused];
    for (const [index, event] of list.events.entries()) {
      if (index % 200 === 199) await yieldToEventLoop();
      if (skip.has(index)) {
        events.push(null);
        continue;
      }
      try {
        events.push(prepareEvent(index, event, documentContext, documentNs));
      } catch (err) {
        events.push(null);
        const eventID = isObject(event) && typeof event.eventID === "string" ? event.eventID : undefined;
        errors.push({
          type: "epcisException:ValidationException",
          title: "Event not captured",
          detail: `event ${index}: ${(err as Error).message}`,
          eventIndex: index,
          ...(eventID ? { eventID } : {}),
        });
      }
    }
    const rollback = capture.error_behaviour === "rollback";
    if (errors.length > 0 && rollback) {
      db.transaction(() => {
        prepared(db, `DELETE FROM epcis_capture_staged WHERE capture_id = ?`).run(capture.capture_id);
        finish(capture.capture_id, { errors, processed: list.events.length });
      })();
      options.log?.info({ captureId: capture.capture_id, errors: errors.length }, "EPCIS capture rejected (rollback)");
      return;
    }
    const contextOf = (i: number) => documentContext ?? (list.events[i] as EpcisEvent)["@context"];

    // proceed: each chunk stores its events. rollback: each chunk stages them; one transaction then
    // publishes them all, so nothing of the document is visible, anchored or mapped before all of it is stored.
    for (let start = capture.processed; start < events.length || events.length === 0; start += chunkSize) {
      const end = Math.min(start + chunkSize, events.length);
      const recordTime = new Date().toISOString();
      const chunk = rollback ? [] : events.slice(start, end).filter((p): p is PreparedEvent => p !== null);
      const forms = await finalForms(chunk, recordTime);
      const done = db.transaction(() => {
        const current = getCapture(db, capture.capture_id);
        if (!current || current.running !== 1 || current.processed !== start) return true; // finished or moved on elsewhere
        if (rollback) {
          const stage = prepared(db, `INSERT OR REPLACE INTO epcis_capture_staged (capture_id, event_index, prepared) VALUES (?, ?, ?)`);
          for (let i = start; i < end; i++) if (events[i]) stage.run(capture.capture_id, i, JSON.stringify(events[i]));
          prepared(db, `UPDATE epcis_captures SET processed = ? WHERE capture_id = ?`).run(end, capture.capture_id);
          return end >= events.length;
        }
        const duplicates = JSON.parse(current.duplicates) as CaptureDuplicate[];
        let stored = 0;
        chunk.forEach((p, k) => {
          const duplicate = storeEvent(p, forms[k], current, contextOf(p.index), contextJson);
          if (duplicate) duplicates.push(duplicate);
          else stored++;
        });
        prepared(
          db,
          `UPDATE epcis_captures SET processed = ?, stored = stored + ?, duplicates = ?, errors = ? WHERE capture_id = ?`,
        ).run(end, stored, JSON.stringify(duplicates), JSON.stringify(errors), capture.capture_id);
        if (end >= events.length) {
          storeMasterData(db, current);
          finish(capture.capture_id, { errors, processed: end });
        }
        return end >= events.length;
      })();
      if (done) break;
      await yieldToEventLoop();
      if (stopped) return; // resumed from `processed` at the next start
    }
    if (rollback) await publish(capture.capture_id, list.events.length, contextOf, contextJson);
    options.log?.info({ captureId: capture.capture_id, events: events.length, errors: errors.length }, "EPCIS capture finished");
  }

  /**
   * rollback: stores every staged event of a capture in one transaction, and ends the capture. The
   * staged events are read and hashed before it (only this job writes them, one run at a time); the
   * transaction checks the capture is still waiting to be published.
   */
  async function publish(captureId: string, total: number, contextOf: (i: number) => unknown, contextJson: string | null): Promise<void> {
    const staged = (
      prepared(db, `SELECT event_index, prepared FROM epcis_capture_staged WHERE capture_id = ? ORDER BY event_index`).all(captureId) as {
        event_index: number;
        prepared: string;
      }[]
    ).map((row) => JSON.parse(row.prepared) as PreparedEvent);
    const forms = await finalForms(staged, new Date().toISOString());
    db.transaction(() => {
      const current = getCapture(db, captureId);
      if (!current || current.running !== 1 || current.processed !== total) return;
      const duplicates: CaptureDuplicate[] = [];
      let stored = 0;
      staged.forEach((p, k) => {
        const duplicate = storeEvent(p, forms[k], current, contextOf(p.index), contextJson);
        if (duplicate) duplicates.push(duplicate);
        else stored++;
      });
      storeMasterData(db, current);
      prepared(db, `DELETE FROM epcis_capture_staged WHERE capture_id = ?`).run(captureId);
      prepared(db, `UPDATE epcis_captures SET stored = ?, duplicates = ? WHERE capture_id = ?`).run(stored, JSON.stringify(duplicates), captureId);
      finish(captureId, { errors: [], processed: total });
    })();
  }

  /** Processes every running capture, oldest first; returns the ids it finished. */
  async function drain(): Promise<string[]> {
    const finished: string[] = [];
    const next = prepared(db, `SELECT capture_id FROM epcis_captures WHERE running = 1 AND seq > ? ORDER BY seq LIMIT 1`);
    let after = 0;
    while (!stopped) {
      const row = next.get(after) as { capture_id: string } | undefined;
      if (!row) return finished;
      const capture = getCapture(db, row.capture_id)!;
      after = capture.seq;
      await process(capture);
      finished.push(capture.capture_id);
    }
    return finished;
  }

  async function runOnce(): Promise<string[]> {
    if (busy) {
      again = true;
      return busy;
    }
    busy = (async () => {
      const finished: string[] = [];
      do {
        again = false;
        finished.push(...(await drain()));
      } while (again && !stopped);
      return finished;
    })().finally(() => {
      busy = null;
    });
    return busy;
  }

  return {
    name: "epcis-capture",
    runOnce,
    /** Starts processing now (after the route's 202), without waiting for the job loop. */
    kick(): void {
      runOnce().catch((err: Error) => options.log?.warn({ err: err.message }, "EPCIS capture failed; the job loop retries it"));
    },
    /** Stops at the next chunk boundary (the node shuts down); an unfinished capture resumes at the next start. */
    async stop(): Promise<void> {
      stopped = true;
      await busy?.catch(() => undefined);
    },
  };
}
export type CaptureJob = ReturnType<typeof createCaptureJob>;

const jobs = new WeakMap<Db, CaptureJob>();

/** The capture job of a database: one per database, shared by the capture route and the node's job loop. */
export function captureJobFor(db: Db, options?: CaptureJobOptions): CaptureJob {
  let job = jobs.get(db);
  if (!job) jobs.set(db, (job = createCaptureJob(db, options)));
  return job;
}
