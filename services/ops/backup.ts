import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { openDatabase, type Db } from "../store/db";
import { prepared } from "../store/statements";
import { batchTree, type BatchTree } from "../anchoring/outbox";
import { proofReaches } from "../anchoring/merkle";
import { masterDataHash } from "../provenance/products";
import { recordHash } from "../analytics/record";
import { eventHashId, type EpcisEvent } from "../epcis/hash";
import { eventLeaf } from "../epcis/leaf";
import { canonicalize } from "json-canonicalize";
import { modelLeaf } from "../scoring/service/store";
import { storedAckLeaf } from "../recalls/acknowledgements";
import { verifyAuditLog, type AuditVerification } from "../audit/log";

/**
 * Backup and restore of a node's SQLite database (docs/operations.md, ADR 0019).
 *
 * Backup opens the node's file directly, read-only, beside the running node: the database is in WAL
 * mode, so a reader neither blocks the node's writer nor sees half a transaction, and SQLite's
 * online backup API copies one consistent snapshot (all pages in one step, so a busy writer cannot
 * keep restarting it). No route serves the database: a backup holds every member record the node
 * keeps, so taking one needs access to the data dir, like the node's keys.
 */
export const DB_FILE = "lotline.sqlite";

export class OpsError extends Error {
  override name = "OpsError";
}

export interface BackupResult {
  file: string;
  bytes: number;
  sha256: string;
  schemaVersion: number;
  records: number;
  auditEntries: number;
}

export async function backupDatabase(dataDir: string, dest: string): Promise<BackupResult> {
  const source = path.join(path.resolve(dataDir), DB_FILE);
  const file = path.resolve(dest);
  if (!fs.existsSync(source)) throw new OpsError(`no Lotline database at ${source}: set LOTLINE_DATA_DIR to the node's data dir`);
  if (fs.existsSync(file)) throw new OpsError(`${file} exists: give a new file name (a backup never overwrites)`);
  if (!fs.existsSync(path.dirname(file))) throw new OpsError(`the directory ${path.dirname(file)} does not exist`);
  const db = new Database(source, { readonly: true, fileMustExist: true });
  try {
    await db.backup(file, { progress: () => 0x7fffffff });
  } catch (err) {
    fs.rmSync(file, { force: true });
    throw new OpsError(`the backup failed: ${(err as Error).message}`);
  } finally {
    db.close();
  }
  fs.chmodSync(file, 0o600);
  const copy = new Database(file, { readonly: true });
  try {
    const check = copy.pragma("integrity_check", { simple: true });
    if (check !== "ok") throw new OpsError(`the backup ${file} fails SQLite's integrity check: ${String(check)}`);
    const count = (table: string) => (copy.prepare(`SELECT count(*) AS n FROM "${table}"`).get() as { n: number }).n;
    const hasAudit = copy.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit_log'`).get() !== undefined;
    return {
      file,
      bytes: fs.statSync(file).size,
      sha256: crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex"),
      schemaVersion: copy.pragma("user_version", { simple: true }) as number,
      records: count("anchor_outbox"),
      auditEntries: hasAudit ? count("audit_log") : 0,
    };
  } catch (err) {
    fs.rmSync(file, { force: true });
    throw err;
  } finally {
    copy.close();
  }
}

/**
 * Copies a backup into an empty data dir (refusing a non-empty one: a restore never mixes with or
 * replaces data), brings its schema up to this Lotline's, and drops sign-in sessions and nonces
 * (they belonged to the old node's clients). Nothing is left behind when it fails.
 */
export async function restoreDatabase(backupFile: string, dataDir: string): Promise<Db> {
  const from = path.resolve(backupFile);
  const dir = path.resolve(dataDir);
  if (!fs.existsSync(from)) throw new OpsError(`no backup file ${from}`);
  const existed = fs.existsSync(dir);
  if (existed && fs.readdirSync(dir).length > 0) {
    throw new OpsError(`the data dir ${dir} is not empty: restore into a new, empty directory (LOTLINE_DATA_DIR) so nothing is overwritten`);
  }
  let source: Database.Database;
  try {
    source = new Database(from, { readonly: true, fileMustExist: true });
    const check = source.pragma("integrity_check", { simple: true });
    if (check !== "ok") throw new Error(`integrity check: ${String(check)}`);
    if (!source.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'anchor_outbox'`).get()) throw new Error("it has no Lotline tables");
  } catch (err) {
    throw new OpsError(`${from} is not a Lotline backup (${(err as Error).message})`);
  }
  const file = path.join(dir, DB_FILE);
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    await source.backup(file, { progress: () => 0x7fffffff });
    source.close();
    const db = openDatabase(file);
    db.transaction(() => {
      prepared(db, `DELETE FROM sessions`).run();
      prepared(db, `DELETE FROM auth_nonces`).run();
    })();
    return db;
  } catch (err) {
    if (source.open) source.close();
    for (const f of [file, `${file}-wal`, `${file}-shm`]) fs.rmSync(f, { force: true });
    if (!existed) fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/**
 * The leaf of a stored record recomputed from its content, by the same functions that computed it
 * when it was stored; null when the content is missing or the kind unknown.
 */
export function recomputeLeaf(db: Db, recordId: string): string | null {
  const [prefix, ...rest] = recordId.split(":");
  const id = rest.join(":");
  try {
    if (prefix === "product") {
      const row = prepared(db, `SELECT document FROM product_master_data WHERE master_data_hash = ?`).get(id) as { document: string } | undefined;
      return row ? masterDataHash(JSON.parse(row.document)).toLowerCase() : null;
    }
    if (prefix === "production-run") {
      const row = prepared(db, `SELECT record FROM production_runs WHERE run_id = ?`).get(id) as { record: string } | undefined;
      return row ? recordHash(JSON.parse(row.record)).toLowerCase() : null;
    }
    if (prefix === "epcis" && rest[0] === "event") {
      const row = prepared(db, `SELECT event, context FROM epcis_events WHERE seq = ?`).get(Number(rest[1])) as { event: string; context: string | null } | undefined;
      if (!row) return null;
      const event = JSON.parse(row.event) as EpcisEvent;
      const context: unknown = row.context === null ? undefined : JSON.parse(row.context);
      return eventLeaf(eventHashId(event, context), canonicalize(event)).toLowerCase();
    }
    if (prefix === "model") {
      const row = prepared(db, `SELECT model_hash FROM models WHERE model_hash = ?`).get(id) as { model_hash: string } | undefined;
      return row ? modelLeaf(row.model_hash).toLowerCase() : null;
    }
    if (prefix === "recall-ack") return storedAckLeaf(db, recordId)?.toLowerCase() ?? null;
    if (prefix === "audit" && rest[0] === "head") {
      const row = prepared(db, `SELECT head FROM audit_heads WHERE seq = ?`).get(Number(rest[1])) as { head: string } | undefined;
      return row ? row.head.toLowerCase() : null;
    }
  } catch {
    return null;
  }
  return null;
}

/** Reads an anchor on the chain: AnchorRegistry.anchorOf(org, root).blockNumber (0: none). */
export type AnchorLookup = (org: number, root: string) => Promise<bigint>;

export interface RestoreReport {
  records: number;
  /** Anchored: content, proof and the organisation's on-chain anchor all check. */
  verified: number;
  /** Never anchored before the backup: the node anchors them when it starts. */
  pending: number;
  /** Their anchor is not on the chain (lost with a rollback, or never mined): queued again. */
  requeued: string[];
  /** What did not verify, with why: the content no longer hashes to its leaf, or the proof does not hold. */
  failed: { recordId: string; reason: string }[];
  audit: AuditVerification;
}

/**
 * Re-verifies every record of a restored database against the chain: the content recomputes to its
 * leaf, the leaf is in its Merkle batch and the batch's root is the root, and the organisation the
 * node anchored it as has an anchor of that root on the chain. A record whose anchor is not on the
 * chain goes back to the anchoring queue (re-anchored by the node's anchoring job); one whose
 * content or proof does not hold is reported, never silently re-anchored.
 */
export async function verifyRestored(db: Db, anchorOf: AnchorLookup): Promise<RestoreReport> {
  const rows = prepared(db, `SELECT record_id, leaf, root FROM anchor_outbox ORDER BY created_at, record_id`).all() as {
    record_id: string;
    leaf: string;
    root: string | null;
  }[];
  const report: RestoreReport = { records: rows.length, verified: 0, pending: 0, requeued: [], failed: [], audit: verifyAuditLog(db) };
  // One tree per Merkle batch (up to 1,000 leaves each), built once rather than per record.
  const batches = new Map<string, { org: number | null; tree: BatchTree } | null>();
  const onChain = new Map<string, boolean>();
  const requeue = prepared(db, `UPDATE anchor_outbox SET root = NULL, submitted_tx = NULL, submitted_at = NULL WHERE record_id = ?`);
  for (const row of rows) {
    const leaf = recomputeLeaf(db, row.record_id);
    if (leaf === null) {
      report.failed.push({ recordId: row.record_id, reason: "its content is missing or no longer parses" });
      continue;
    }
    if (leaf !== row.leaf.toLowerCase()) {
      report.failed.push({ recordId: row.record_id, reason: `its content hashes to ${leaf}, not to its leaf ${row.leaf}` });
      continue;
    }
    if (!row.root) {
      report.pending += 1;
      continue;
    }
    if (!batches.has(row.root)) {
      const b = prepared(db, `SELECT leaves, org_id FROM anchor_batches WHERE root = ?`).get(row.root) as { leaves: string; org_id: number | null } | undefined;
      if (!b) batches.set(row.root, null);
      else {
        batches.set(row.root, { org: b.org_id, tree: batchTree(row.root, b.leaves) });
      }
    }
    const batch = batches.get(row.root);
    const proof = batch?.tree.rootHolds ? batch.tree.proofOf(row.leaf) : null;
    if (!batch || !proof) {
      report.failed.push({ recordId: row.record_id, reason: `its Merkle batch ${row.root} is missing or does not recompute to its root` });
      continue;
    }
    if (!proofReaches(row.root, row.leaf, proof)) {
      report.failed.push({ recordId: row.record_id, reason: `its proof does not lead to ${row.root}` });
      continue;
    }
    const key = `${batch.org}:${row.root}`;
    if (!onChain.has(key)) onChain.set(key, batch.org !== null && (await anchorOf(batch.org, row.root)) !== 0n);
    if (onChain.get(key)) report.verified += 1;
    else {
      requeue.run(row.record_id);
      report.requeued.push(row.record_id);
    }
  }
  return report;
}
