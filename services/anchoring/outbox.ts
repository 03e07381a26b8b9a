import { createHash } from "node:crypto";
import type { Db } from "../store/db";
import { prepared } from "../store/statements";
import { buildTree, proofAt } from "./merkle";

/**
 * The anchoring outbox. Off-chain records (product master data now; EPCIS events, production
 * runs and model hashes later) are primary data: each is stored and queued here in ONE SQLite
 * transaction by its owner module, so no record exists without its queue entry. The anchor job
 * batches queued leaves into OpenZeppelin Merkle trees and anchors the roots on-chain; a record is
 * `anchored` only once the index has seen its root's Anchored event, so a chain rollback turns it
 * back to `pending` by itself, and the job anchors it again.
 *
 * Anchors are keyed by (organisation, root) (ADR 0011): every proof names the organisation whose
 * anchor it relies on — the one this node anchored the batch as — and is `anchored` only when the
 * indexed chain has that organisation's anchor. Another organisation's anchor of the same root
 * (a rival copying it) proves nothing about this node's records.
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
  /** The organisation whose anchor of `merkleRoot` the proof relies on (null while pending). */
  anchoredBy: AnchoringOrg | null;
  /** True when the proof recomputes the root and `anchoredBy` anchored the root on the indexed chain. */
  verified: boolean;
}

/** An organisation that anchored a root: id (decimal string) and name as indexed (null if unknown). */
export interface AnchoringOrg {
  orgId: string;
  name: string | null;
}

interface AnchorRow {
  root: string;
  kind: string;
  org_id: number;
  count: number;
  uri: string;
  anchored_by: string;
  tx_hash: string;
  block_number: number;
  time: string;
}

function anchoringOrg(db: Db, orgId: number): AnchoringOrg {
  const org = prepared(db, `SELECT name FROM organisations WHERE org_id = ?`).get(orgId) as { name: string } | undefined;
  return { orgId: String(orgId), name: org?.name ?? null };
}

/**
 * Queues a record's hash for anchoring. Call inside the transaction that stores the record.
 * `ownerOrg`: the organisation the record belongs to, whose key anchors it (none: the node's own).
 */
export function queueForAnchoring(db: Db, record: { recordId: string; kind: string; hash: string; ownerOrg?: number | null }): void {
  prepared(
    db,
    `INSERT INTO anchor_outbox (record_id, kind, leaf, created_at, root, submitted_tx, submitted_at, owner_org) VALUES (?, ?, ?, ?, NULL, NULL, NULL, ?)
     ON CONFLICT (record_id) DO NOTHING`,
  ).run(record.recordId, record.kind, record.hash.toLowerCase(), new Date().toISOString(), record.ownerOrg ?? null);
}

/** An anchor batch's Merkle tree (StandardMerkleTree's, LEAF_ENCODING, leaves in the order given). */
export interface MerkleTree {
  root: string;
  /** The nodes as the library's `dump().tree` lays them out (services/anchoring/merkle.ts). */
  nodes: string[];
  /** The proof of the leaf at `leafIndex`, as the library's `getProof(leafIndex)` gives it. */
  getProof(leafIndex: number): string[];
}

export function merkleTree(leaves: readonly string[]): MerkleTree {
  const nodes = buildTree(leaves);
  return { root: nodes[0], nodes, getProof: (leafIndex) => proofAt(nodes, nodes.length - 1 - leafIndex) };
}

/** A stored anchor batch's tree, with each leaf's position in it. */
export interface BatchTree {
  tree: MerkleTree;
  /** True when the stored leaves recompute to the stored root. */
  rootHolds: boolean;
  indexOf: Map<string, number>;
  /** The proof of a leaf of this batch (read from the kept tree, no hashing); null for a leaf not in it. */
  proofOf(leaf: string): string[] | null;
}

const TREE_CACHE_SIZE = 64;
const treeCache = new Map<string, BatchTree>();
/**
 * The tree of a stored anchor batch (its root and its leaves as the JSON column holds them), built
 * once and kept: building hashes every leaf (a batch of a few hundred production runs takes about
 * 100 ms), and each proof a page shows would otherwise rebuild it. Keyed by the root and a digest
 * of the leaves as stored, so a batch row edited under the node is built again, never served from
 * another row's tree. The least recently used of the last 64 batches are kept. `built`: the tree
 * the caller just built from these leaves (the anchor job), kept instead of building it again.
 */
export function batchTree(root: string, leavesJson: string, built?: MerkleTree): BatchTree {
  const key = `${root}:${createHash("sha256").update(leavesJson).digest("hex")}`;
  const known = treeCache.get(key);
  if (known) {
    treeCache.delete(key);
    treeCache.set(key, known);
    return known;
  }
  const leaves = JSON.parse(leavesJson) as string[];
  const tree = built ?? merkleTree(leaves);
  const indexOf = new Map(leaves.map((leaf, i) => [leaf, i]));
  const entry: BatchTree = {
    tree,
    rootHolds: tree.root === root,
    indexOf,
    proofOf: (leaf) => {
      const at = indexOf.get(leaf);
      return at === undefined ? null : tree.getProof(at);
    },
  };
  treeCache.set(key, entry);
  if (treeCache.size > TREE_CACHE_SIZE) treeCache.delete(treeCache.keys().next().value!);
  return entry;
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
    anchoredBy: null,
    verified: false,
  };
  if (!row.root) return pending;
  const batch = prepared(db, `SELECT leaves, org_id FROM anchor_batches WHERE root = ?`).get(row.root) as
    | { leaves: string; org_id: number | null }
    | undefined;
  if (!batch || batch.org_id === null) return pending;
  // Only the anchor of the organisation this node anchored the batch as; a rival's anchor of the same root does not count.
  const anchor = prepared(db, `SELECT * FROM anchors WHERE org_id = ? AND root = ?`).get(batch.org_id, row.root) as AnchorRow | undefined;
  if (!anchor) return pending;
  const tree = batchTree(row.root, batch.leaves);
  const proof = tree.proofOf(row.leaf);
  if (!proof) return pending;
  // A proof read from the tree of the stored leaves reaches that tree's root: it reaches the stored
  // root exactly when the leaves recompute to it (hashing the proof again per record cost the lot
  // page's records route about a millisecond for every sixteen records).
  const verified = tree.rootHolds;
  return {
    ...pending,
    status: "anchored",
    merkleRoot: row.root,
    proof,
    transactionHash: anchor.tx_hash,
    blockNumber: anchor.block_number,
    anchoredAt: anchor.time,
    anchoredBy: anchoringOrg(db, anchor.org_id),
    verified,
  };
}

/**
 * An anchor as this node knows it: from its own batches (with leaves) and the indexed chain, where
 * several organisations may have anchored the same root. The anchor described is organisation
 * `org`'s when given; otherwise the organisation this node anchored its batch as; otherwise (a root
 * this node did not submit) the earliest anchor on the indexed chain. `anchors` lists every
 * organisation's anchor of the root, earliest first. Null when nothing matches.
 */
export function anchorOf(db: Db, root: string, org?: bigint) {
  const batch = prepared(db, `SELECT kind, leaves, org_id FROM anchor_batches WHERE root = ?`).get(root) as
    | { kind: string; leaves: string; org_id: number | null }
    | undefined;
  const all = prepared(db, `SELECT * FROM anchors WHERE root = ? ORDER BY block_number, rowid`).all(root) as AnchorRow[];
  const wanted = org !== undefined ? Number(org) : batch ? batch.org_id : (all[0]?.org_id ?? null);
  const anchor = all.find((a) => a.org_id === wanted);
  // A batch this node submitted belongs to the organisation it anchored it as; asked for another, it is not shown.
  const ownBatch = batch && (org === undefined || batch.org_id === wanted) ? batch : undefined;
  if (!ownBatch && !anchor) return null;
  const leaves = ownBatch && (!anchor || ownBatch.org_id === anchor.org_id) ? (JSON.parse(ownBatch.leaves) as string[]) : [];
  const recordOf = prepared(db, `SELECT record_id FROM anchor_outbox WHERE leaf = ? AND root = ?`);
  return {
    root,
    kind: anchor?.kind ?? ownBatch!.kind,
    status: anchor ? ("anchored" as const) : ("pending" as const),
    orgId: anchor ? String(anchor.org_id) : wanted === null ? null : String(wanted),
    anchoredBy: anchor ? anchoringOrg(db, anchor.org_id) : null,
    count: anchor?.count ?? leaves.length,
    transactionHash: anchor?.tx_hash ?? null,
    blockNumber: anchor?.block_number ?? null,
    anchoredAt: anchor?.time ?? null,
    leaves: leaves.map((leaf) => ({ leaf, recordId: (recordOf.get(leaf, root) as { record_id: string } | undefined)?.record_id ?? null })),
    anchors: all.map((a) => ({
      orgId: String(a.org_id),
      name: anchoringOrg(db, a.org_id).name,
      kind: a.kind,
      count: a.count,
      uri: a.uri,
      transactionHash: a.tx_hash,
      blockNumber: a.block_number,
      anchoredAt: a.time,
    })),
  };
}
