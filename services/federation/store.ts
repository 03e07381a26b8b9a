import { canonicalize } from "json-canonicalize";
import type { Db } from "../store/db";
import { prepared } from "../store/statements";
import { proofOf, type AnchorProof } from "../anchoring/outbox";
import { proofReaches } from "../anchoring/merkle";
import { parseQuantity } from "../provenance/quantity";
import { recordHash, runRecordId, RUN_ANCHOR_KIND, type ProductionRunRecord } from "../analytics/record";
import { recordProofOf, type ProvenRecord, type RecordProof } from "../export/records";

/**
 * The federation's SQLite half (migration 17): the records this node answers other nodes with (its
 * own organisations' production runs, in ProvenRecord form), the replicas it stores from other
 * nodes (production_runs rows with served_by set, never queued for anchoring), what each holder
 * answered last (federation_fetches) and what was refused (federation_rejections).
 */
export type FetchStatus = "ok" | "not_shared" | "not_recorded" | "unreachable";

export interface FetchOutcome {
  batchId: string;
  ownerOrg: number;
  asOrg: number;
  recordClass: string;
  status: FetchStatus;
  servedBy: string | null;
  detail: string;
  fetchedAt: number;
}

/** Where a replicated record came from: its owner, the node that served it, and whether its proof held. */
export interface RecordOrigin {
  orgId: string;
  servedBy: string | null;
  verified: boolean;
}

export function createFederationStore(db: Db) {
  /** Whether the owner's anchor of `root` is on the indexed chain (the on-chain half of a record's check). */
  const anchoredBy = (orgId: number, root: string): boolean =>
    prepared(db, `SELECT 1 FROM anchors WHERE org_id = ? AND root = ?`).get(orgId, root.toLowerCase()) !== undefined;

  return {
    anchoredBy,
    /** Current runs this node recorded itself (not replicas) naming the batch as input or output. */
    ownRunsNaming(batchId: string): { record: ProductionRunRecord; document: string }[] {
      return (
        prepared(
          db,
          `SELECT r.record FROM production_runs r
           WHERE r.served_by IS NULL AND r.superseded_by IS NULL
             AND r.run_id IN (SELECT run_id FROM production_run_batches WHERE batch_id = ?)
           ORDER BY r.start_ms, r.seq`,
        ).all(batchId.toLowerCase()) as { record: string }[]
      ).map((row) => ({ record: JSON.parse(row.record) as ProductionRunRecord, document: row.record }));
    },

    /** One of this node's own runs as a ProvenRecord, or the reason it cannot be proven yet. */
    provenRun(run: { record: ProductionRunRecord; document: string }): ProvenRecord<"PRODUCTION_RUN"> | { pending: string } {
      const anchor = proofOf(db, runRecordId(run.record.id));
      const proof = anchor ? recordProofOf(anchor) : null;
      if (!anchor || !proof) return { pending: runRecordId(run.record.id) };
      return {
        class: "PRODUCTION_RUN",
        owner: String(run.record.orgId),
        recordId: runRecordId(run.record.id),
        record: JSON.parse(run.document) as ProvenRecord<"PRODUCTION_RUN">["record"],
        leaf: anchor.leaf,
        proof,
      };
    },

    /**
     * Stores a verified production-run replica (idempotent). A replica of a correction marks the
     * replica it corrects superseded, as a local correction does. Never queued for anchoring: the
     * owner anchored it.
     */
    storeRunReplica(pr: ProvenRecord<"PRODUCTION_RUN">, servedBy: string): "stored" | "known" {
      const record = pr.record as unknown as ProductionRunRecord;
      return db.transaction((): "stored" | "known" => {
        const existing = prepared(db, `SELECT served_by FROM production_runs WHERE run_id = ?`).get(record.id) as { served_by: string | null } | undefined;
        if (existing) return "known";
        const document = canonicalize(record);
        prepared(
          db,
          `INSERT INTO production_runs (run_id, org_id, site, line, start_ms, end_ms, record, record_hash, corrects, superseded_by, created_at, served_by, verified_at, replica_proof)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?, ?, ?, ?)`,
        ).run(
          record.id,
          Number(pr.owner),
          record.site,
          record.line,
          Date.parse(record.startTime),
          Date.parse(record.endTime),
          document,
          recordHash(record),
          new Date().toISOString(),
          servedBy,
          new Date().toISOString(),
          JSON.stringify({ leaf: pr.leaf, ...pr.proof }),
        );
        const link = prepared(db, `INSERT OR IGNORE INTO production_run_batches (run_id, role, batch_id, quantity) VALUES (?, ?, ?, ?)`);
        for (const m of record.inputs ?? []) if (m.batchId) link.run(record.id, "input", m.batchId.toLowerCase(), parseQuantity(m.quantity).toString());
        for (const m of record.outputs ?? []) if (m.batchId) link.run(record.id, "output", m.batchId.toLowerCase(), parseQuantity(m.quantity).toString());
        if (record.corrects) {
          prepared(db, `UPDATE production_runs SET superseded_by = ? WHERE run_id = ? AND superseded_by IS NULL`).run(record.id, record.corrects);
        }
        return "stored";
      })();
    },

    /** Deletes replicas of `ownerOrg` naming none of `keep` (a revoked grant: nothing is replicated further, copies go). */
    dropReplicas(ownerOrg: number, covered: (run: ProductionRunRecord) => boolean): number {
      const rows = prepared(db, `SELECT run_id, record FROM production_runs WHERE served_by IS NOT NULL AND org_id = ?`).all(ownerOrg) as {
        run_id: string;
        record: string;
      }[];
      let dropped = 0;
      db.transaction(() => {
        for (const row of rows) {
          if (covered(JSON.parse(row.record) as ProductionRunRecord)) continue;
          // Scores and corrections of a dropped replica go with it (they were derived from it here).
          prepared(db, `DELETE FROM quality_scores WHERE run_id = ?`).run(row.run_id);
          prepared(db, `UPDATE production_runs SET superseded_by = NULL WHERE superseded_by = ?`).run(row.run_id);
          prepared(db, `DELETE FROM production_run_batches WHERE run_id = ?`).run(row.run_id);
          prepared(db, `DELETE FROM production_runs WHERE run_id = ?`).run(row.run_id);
          dropped++;
        }
        // What the holder answered before no longer stands for what is held here: ask again on the next read.
        if (dropped) prepared(db, `DELETE FROM federation_fetches WHERE owner_org = ?`).run(ownerOrg);
      })();
      return dropped;
    },

    /** The stored proof of a replica, re-checked against the indexed chain now; null for a local run. */
    replicaProof(runId: string): AnchorProof | null {
      const row = prepared(db, `SELECT replica_proof, record_hash FROM production_runs WHERE run_id = ? AND served_by IS NOT NULL`).get(runId) as
        | { replica_proof: string | null; record_hash: string }
        | undefined;
      if (!row?.replica_proof) return null;
      const stored = JSON.parse(row.replica_proof) as RecordProof & { leaf: string };
      const reaches = proofReaches(stored.merkleRoot, stored.leaf, stored.proof);
      const anchored = anchoredBy(Number(stored.anchoredBy.orgId), stored.merkleRoot);
      return {
        recordId: runRecordId(runId),
        kind: RUN_ANCHOR_KIND,
        leaf: stored.leaf,
        status: anchored ? "anchored" : "pending",
        merkleRoot: stored.merkleRoot,
        proof: stored.proof,
        transactionHash: stored.transactionHash ?? null,
        blockNumber: stored.blockNumber ?? null,
        anchoredAt: null,
        anchoredBy: stored.anchoredBy,
        verified: anchored && reaches && row.record_hash.toLowerCase() === stored.leaf.toLowerCase(),
      };
    },

    /** Where a stored run came from (null served_by: this node recorded it). */
    originOf(runId: string): RecordOrigin | null {
      const row = prepared(db, `SELECT org_id, served_by, verified_at FROM production_runs WHERE run_id = ?`).get(runId) as
        | { org_id: number; served_by: string | null; verified_at: string | null }
        | undefined;
      if (!row) return null;
      return { orgId: String(row.org_id), servedBy: row.served_by, verified: row.served_by === null || row.verified_at !== null };
    },

    recordFetch(outcome: FetchOutcome): void {
      prepared(
        db,
        `INSERT INTO federation_fetches (batch_id, owner_org, as_org, record_class, status, served_by, detail, fetched_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (batch_id, owner_org, as_org, record_class) DO UPDATE SET status = excluded.status, served_by = excluded.served_by, detail = excluded.detail, fetched_at = excluded.fetched_at`,
      ).run(outcome.batchId.toLowerCase(), outcome.ownerOrg, outcome.asOrg, outcome.recordClass, outcome.status, outcome.servedBy, outcome.detail, outcome.fetchedAt);
    },

    lastFetch(batchId: string, ownerOrg: number, asOrg: number, recordClass: string): FetchOutcome | null {
      const row = prepared(db, `SELECT * FROM federation_fetches WHERE batch_id = ? AND owner_org = ? AND as_org = ? AND record_class = ?`).get(
        batchId.toLowerCase(),
        ownerOrg,
        asOrg,
        recordClass,
      ) as
        | { batch_id: string; owner_org: number; as_org: number; record_class: string; status: FetchStatus; served_by: string | null; detail: string; fetched_at: number }
        | undefined;
      return row
        ? {
            batchId: row.batch_id,
            ownerOrg: row.owner_org,
            asOrg: row.as_org,
            recordClass: row.record_class,
            status: row.status,
            servedBy: row.served_by,
            detail: row.detail,
            fetchedAt: row.fetched_at,
          }
        : null;
    },

    reject(rejection: { ownerOrg: number; servedBy: string; recordId: string; failure: string; detail: string }): void {
      prepared(db, `INSERT INTO federation_rejections (owner_org, served_by, record_id, failure, detail, at) VALUES (?, ?, ?, ?, ?, ?)`).run(
        rejection.ownerOrg,
        rejection.servedBy,
        rejection.recordId,
        rejection.failure,
        rejection.detail,
        new Date().toISOString(),
      );
    },

    rejections(limit = 100): { ownerOrg: number; servedBy: string; recordId: string; failure: string; detail: string; at: string }[] {
      return (
        prepared(db, `SELECT owner_org, served_by, record_id, failure, detail, at FROM federation_rejections ORDER BY rejection_id DESC LIMIT ?`).all(limit) as {
          owner_org: number;
          served_by: string;
          record_id: string;
          failure: string;
          detail: string;
          at: string;
        }[]
      ).map((r) => ({ ownerOrg: r.owner_org, servedBy: r.served_by, recordId: r.record_id, failure: r.failure, detail: r.detail, at: r.at }));
    },
  };
}
export type FederationStore = ReturnType<typeof createFederationStore>;
