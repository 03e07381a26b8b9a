import crypto from "node:crypto";
import { canonicalize } from "json-canonicalize";
import type { Db } from "../store/db";
import { prepared } from "../store/statements";
import { proofOf, queueForAnchoring } from "../anchoring/outbox";

/**
 * The node's audit log: append-only and hash-chained. Each entry says who (the agent and its
 * organisation, when known), what (an action such as `POST /api/v1/relay provenance.recall`), on
 * what (`target`), when, with which outcome (HTTP status) and the SHA-256 of the request (never the
 * request itself: bodies may carry signatures, notes or commercial data).
 *
 *   entry_hash(n) = sha256(canonical JSON [prev_hash, seq, at, agent, orgId, action, target, status, requestHash])
 *   prev_hash(n)  = entry_hash(n-1), GENESIS for the first entry
 *
 * A change of any byte of any entry changes its hash, so the entry after it (or, for the last one,
 * the anchored head) no longer matches: `verifyAuditLog` names the first entry that does not hold.
 * Rewriting the whole tail consistently is caught by the heads anchored on-chain through the
 * anchoring outbox (`queueAuditHead`), which nobody holding the file can change.
 */
export const AUDIT_GENESIS = "0x" + "00".repeat(32);
export const AUDIT_ANCHOR_KIND = "AUDIT_HEAD";
export const auditHeadRecordId = (seq: number) => `audit:head:${seq}`;

export interface AuditInput {
  agent: string | null;
  orgId: number | null;
  action: string;
  target: string | null;
  status: number;
  requestHash: string;
  /** ISO time; now when omitted. */
  at?: string;
}

export interface AuditEntry {
  seq: number;
  at: string;
  agent: string | null;
  orgId: number | null;
  action: string;
  target: string | null;
  status: number;
  requestHash: string;
  prevHash: string;
  entryHash: string;
}

interface AuditRow {
  seq: number;
  at: string;
  agent: string | null;
  org_id: number | null;
  action: string;
  target: string | null;
  status: number;
  request_hash: string;
  prev_hash: string;
  entry_hash: string;
}

export const sha256Hex = (data: string | Buffer) => "0x" + crypto.createHash("sha256").update(data).digest("hex");

export function entryHash(prevHash: string, e: Omit<AuditEntry, "prevHash" | "entryHash">): string {
  return sha256Hex(canonicalize([prevHash, e.seq, e.at, e.agent, e.orgId, e.action, e.target, e.status, e.requestHash]));
}

const toEntry = (r: AuditRow): AuditEntry => ({
  seq: r.seq,
  at: r.at,
  agent: r.agent,
  orgId: r.org_id,
  action: r.action,
  target: r.target,
  status: r.status,
  requestHash: r.request_hash,
  prevHash: r.prev_hash,
  entryHash: r.entry_hash,
});

/** Appends one entry after the current head, in one immediate transaction. */
export function appendAudit(db: Db, input: AuditInput): AuditEntry {
  return db
    .transaction(() => {
      const last = prepared(db, `SELECT seq, entry_hash FROM audit_log ORDER BY seq DESC LIMIT 1`).get() as { seq: number; entry_hash: string } | undefined;
      const prevHash = last?.entry_hash ?? AUDIT_GENESIS;
      const fields = {
        seq: (last?.seq ?? 0) + 1,
        at: input.at ?? new Date().toISOString(),
        agent: input.agent,
        orgId: input.orgId,
        action: input.action.slice(0, 200),
        target: input.target === null ? null : input.target.slice(0, 200),
        status: input.status,
        requestHash: input.requestHash,
      };
      const hash = entryHash(prevHash, fields);
      prepared(
        db,
        `INSERT INTO audit_log (seq, at, agent, org_id, action, target, status, request_hash, prev_hash, entry_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(fields.seq, fields.at, fields.agent, fields.orgId, fields.action, fields.target, fields.status, fields.requestHash, prevHash, hash);
      return { ...fields, prevHash, entryHash: hash };
    })
    .immediate();
}

export function auditHead(db: Db): { seq: number; head: string } {
  const last = prepared(db, `SELECT seq, entry_hash FROM audit_log ORDER BY seq DESC LIMIT 1`).get() as { seq: number; entry_hash: string } | undefined;
  return { seq: last?.seq ?? 0, head: last?.entry_hash ?? AUDIT_GENESIS };
}

/** Entries of one organisation (or of all, `orgId` null), oldest first, after `afterSeq`. */
export function listAudit(db: Db, filter: { orgId: number | null; afterSeq: number; limit: number }): AuditEntry[] {
  const rows =
    filter.orgId === null
      ? prepared(db, `SELECT * FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?`).all(filter.afterSeq, filter.limit)
      : prepared(db, `SELECT * FROM audit_log WHERE org_id = ? AND seq > ? ORDER BY seq LIMIT ?`).all(filter.orgId, filter.afterSeq, filter.limit);
  return (rows as AuditRow[]).map(toEntry);
}

/**
 * Queues the current head for anchoring when it moved since the last queued head. Returns the
 * queued head, or null when there was nothing new. Runs in one transaction with the outbox entry.
 */
export function queueAuditHead(db: Db): { seq: number; head: string; recordId: string } | null {
  return db.transaction(() => {
    const { seq, head } = auditHead(db);
    if (seq === 0) return null;
    const last = prepared(db, `SELECT seq FROM audit_heads ORDER BY seq DESC LIMIT 1`).get() as { seq: number } | undefined;
    if (last && last.seq >= seq) return null;
    const recordId = auditHeadRecordId(seq);
    prepared(db, `INSERT INTO audit_heads (seq, head, record_id, queued_at) VALUES (?, ?, ?, ?)`).run(seq, head, recordId, new Date().toISOString());
    queueForAnchoring(db, { recordId, kind: AUDIT_ANCHOR_KIND, hash: head });
    return { seq, head, recordId };
  })();
}

export interface AuditVerification {
  ok: boolean;
  entries: number;
  head: string;
  /** The first entry that does not hold, with why; null when the chain holds. */
  firstBroken: { seq: number; reason: string } | null;
  /** Queued heads: whether each matches the log and is anchored on the indexed chain. */
  anchoredHeads: { seq: number; head: string; status: "anchored" | "pending"; matches: boolean }[];
}

/**
 * Recomputes the chain from the first entry. Reports the first entry whose stored prev_hash is not
 * the previous entry's hash, whose hash does not recompute, or whose seq breaks the sequence (a
 * deleted or inserted row); then every queued head against the log, with its anchoring status.
 */
export function verifyAuditLog(db: Db): AuditVerification {
  let prev = AUDIT_GENESIS;
  let expectedSeq = 1;
  let firstBroken: AuditVerification["firstBroken"] = null;
  const hashes = new Map<number, string>();
  let count = 0;
  for (const row of prepared(db, `SELECT * FROM audit_log ORDER BY seq`).iterate() as IterableIterator<AuditRow>) {
    count += 1;
    if (firstBroken) continue;
    const e = toEntry(row);
    if (e.seq !== expectedSeq) {
      firstBroken = { seq: e.seq, reason: `entry ${expectedSeq} is missing (the log jumps from ${expectedSeq - 1} to ${e.seq})` };
      continue;
    }
    if (e.prevHash !== prev) {
      firstBroken = { seq: e.seq, reason: `its prev_hash is not the hash of entry ${e.seq - 1}` };
      continue;
    }
    const recomputed = entryHash(prev, e);
    if (recomputed !== e.entryHash) {
      firstBroken = { seq: e.seq, reason: "its content does not hash to its entry_hash (the entry was edited)" };
      continue;
    }
    hashes.set(e.seq, e.entryHash);
    prev = e.entryHash;
    expectedSeq += 1;
  }
  const heads = prepared(db, `SELECT seq, head, record_id FROM audit_heads ORDER BY seq`).all() as { seq: number; head: string; record_id: string }[];
  const anchoredHeads = heads.map((h) => {
    const proof = proofOf(db, h.record_id);
    const anchored = proof?.status === "anchored" && proof.verified && proof.leaf === h.head.toLowerCase();
    return { seq: h.seq, head: h.head, status: anchored ? ("anchored" as const) : ("pending" as const), matches: hashes.get(h.seq) === h.head };
  });
  if (!firstBroken) {
    // An intact chain that disagrees with a head it anchored was rewritten from that point on.
    const bad = anchoredHeads.find((h) => !h.matches && hashes.size >= h.seq);
    if (bad) firstBroken = { seq: bad.seq, reason: `the log up to entry ${bad.seq} differs from the head queued for anchoring then (rewritten)` };
    const lost = anchoredHeads.find((h) => h.seq > count);
    if (!firstBroken && lost) firstBroken = { seq: count + 1, reason: `entries ${count + 1}–${lost.seq} were removed: a head of entry ${lost.seq} was queued for anchoring` };
  }
  return { ok: firstBroken === null, entries: count, head: prev, firstBroken, anchoredHeads };
}
