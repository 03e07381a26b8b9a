import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import type { Db } from "../store/db";
import { prepared } from "../store/statements";

/**
 * The anchoring outbox. Off-chain records (product master data now; EPCIS events, production
 * runs and model hashes later) are primary data: each is stored and queued here in ONE SQLite
 * transaction by its owner module, so no record exists without its queue entry. The anchor job
 * batches queued leaves into OpenZeppelin Merkle trees and anchors the roots on-chain; a record is
 * `anchored` only once the index has seen its root's Anchored event, so a chain rollback turns it
 * back to `pending` by itself, and the job anchors it again.
 */
export const LEAF_ENCODING = ["bytes32"] as const;

export interface AnchorProof {
  recordId: string;
  kind: string;
  leaf: string;
  status: "pending" | "anchored";
  merkleRoot: string | null;
  proof: string[];
  transactionHash: string | null;
  blockNumber: number | null;
  anchoredAt: string | null;
  /** True when the proof recomputes the root and the root is anchored on the indexed chain. */
  verified: boolean;
}

/** Queues a record's hash for anchoring. Call inside the transaction that stores the record. */
export function queueForAnchoring(db: Db, record: { recordId: string; kind: string; hash: string }): void {
  prepared(
    db,
    `INSERT INTO anchor_outbox (record_id, kind, leaf, created_at, root, submitted_tx, submitted_at) VALUES (?, ?, ?, ?, NULL, NULL, NULL)
     ON CONFLICT (record_id) DO NOTHING`,
  ).run(record.recordId, record.kind, record.hash.toLowerCase(), new Date().toISOString());
}

export function merkleTree(leaves: string[]) {
  return StandardMerkleTree.of(
    leaves.map((leaf) => [leaf]),
    [...LEAF_ENCODING],
    { sortLeaves: false },
  );
}

export function proofOf(db: Db, recordId: string): AnchorProof | null {
  const row = prepared(db, `SELECT * FROM anchor_outbox WHERE record_id = ?`).get(recordId) as
    | { record_id: string; kind: string; leaf: string; root: string | null }
    | undefined;
  if (!row) return null;
  const pending: AnchorProof = {
    recordId: row.record_id,
    kind: row.kind,
    leaf: row.leaf,
    status: "pending",
    merkleRoot: null,
    proof: [],
    transactionHash: null,
    blockNumber: null,
    anchoredAt: null,
    verified: false,
  };
  if (!row.root) return pending;
  const anchor = prepared(db, `SELECT * FROM anchors WHERE root = ?`).get(row.root) as
    | { tx_hash: string; block_number: number; time: string }
    | undefined;
  const batch = prepared(db, `SELECT leaves FROM anchor_batches WHERE root = ?`).get(row.root) as { leaves: string } | undefined;
  if (!anchor || !batch) return pending;
  const leaves = JSON.parse(batch.leaves) as string[];
  const tree = merkleTree(leaves);
  const proof = tree.getProof(leaves.indexOf(row.leaf));
  const verified = StandardMerkleTree.verify(row.root, [...LEAF_ENCODING], [row.leaf], proof);
  return {
    ...pending,
    status: "anchored",
    merkleRoot: row.root,
    proof,
    transactionHash: anchor.tx_hash,
    blockNumber: anchor.block_number,
    anchoredAt: anchor.time,
    verified,
  };
}

/** An anchor as this node knows it: from its own batches (with leaves) and the indexed chain. */
export function anchorOf(db: Db, root: string) {
  const batch = prepared(db, `SELECT kind, leaves FROM anchor_batches WHERE root = ?`).get(root) as { kind: string; leaves: string } | undefined;
  const anchor = prepared(db, `SELECT * FROM anchors WHERE root = ?`).get(root) as
    | { kind: string; org_id: number; count: number; tx_hash: string; block_number: number; time: string }
    | undefined;
  if (!batch && !anchor) return null;
  const leaves = batch ? (JSON.parse(batch.leaves) as string[]) : [];
  const recordOf = prepared(db, `SELECT record_id FROM anchor_outbox WHERE leaf = ? AND root = ?`);
  return {
    root,
    kind: anchor?.kind ?? batch!.kind,
    status: anchor ? ("anchored" as const) : ("pending" as const),
    orgId: anchor ? String(anchor.org_id) : null,
    count: anchor?.count ?? leaves.length,
    transactionHash: anchor?.tx_hash ?? null,
    blockNumber: anchor?.block_number ?? null,
    anchoredAt: anchor?.time ?? null,
    leaves: leaves.map((leaf) => ({ leaf, recordId: (recordOf.get(leaf, root) as { record_id: string } | undefined)?.record_id ?? null })),
  };
}
