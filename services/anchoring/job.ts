import { encodeBytes32String } from "ethers";
import type { Db } from "../store/db";
import { prepared } from "../store/statements";
import type { AnchorRegistry } from "../chain/contracts";
import { ConsortiumRegistry__factory, decodeRevert } from "../chain/contracts";
import { rolesToMask, ROLE_NAMES } from "../chain/roles";
import { batchTree, merkleTree } from "./outbox";
import { mined } from "../chain/sender";

export interface AnchorJobOptions {
  db: Db;
  /** The AnchorRegistry connected with this service's integration key (an active agent). */
  anchors: AnchorRegistry;
  /**
   * The AnchorRegistry connected with the integration key of each other organisation the node
   * serves: a record is anchored by its owner's key, so those it is shared with can check it
   * against the owner's anchor. Records of an organisation without a key here fall back to `anchors`.
   */
  orgAnchors?: AnchorRegistry[];
  /** Where the records can be fetched, for the anchor's `uri`. */
  recordsUrl: () => string;
  /** A submitted root not seen on the indexed chain after this long is submitted again. */
  resubmitAfterSeconds?: number;
  maxLeavesPerAnchor?: number;
  /** Resolves once the index includes a block (so a run ends with its anchors indexed). */
  indexed?: (blockNumber: number) => Promise<void>;
  now?: () => number;
  log?: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };
}

/**
 * Anchors queued records. Idempotent: run it as often as you like, concurrently with nothing
 * (the node runs it from one loop). Each run first returns to the queue roots the indexed chain
 * does not have after `resubmitAfterSeconds` (a failed or rolled-back anchor), then anchors what
 * is queued, one Merkle tree per kind. The same leaves in the same order give the same root, so a
 * root that did reach the chain is recognised (AnchorExists) rather than duplicated.
 *
 * Anchors are keyed by (organisation, root) (ADR 0011). The job anchors as its key's organisation,
 * records that organisation with each batch, and counts a root as anchored only when the indexed
 * chain has THAT organisation's anchor of it: a rival that copied the root from the mempool and
 * anchored it first neither blocks this node's anchor nor stands in for it.
 */
export function createAnchorJob(options: AnchorJobOptions) {
  const { db } = options;
  const now = options.now ?? (() => Math.floor(Date.now() / 1000));
  const resubmitAfter = options.resubmitAfterSeconds ?? 30;
  const maxLeaves = options.maxLeavesPerAnchor ?? 1_000;

  function requeueLost(): number {
    return prepared(
      db,
      `UPDATE anchor_outbox SET root = NULL, submitted_tx = NULL, submitted_at = NULL
       WHERE root IS NOT NULL AND submitted_at <= ? AND NOT EXISTS (
         SELECT 1 FROM anchor_batches b JOIN anchors a ON a.root = b.root AND a.org_id = b.org_id WHERE b.root = anchor_outbox.root
       )`,
    ).run(now() - resubmitAfter).changes;
  }

  /** The organisation a key anchors as (an active agent's), read from the chain each run. */
  async function anchoringOrg(anchors: AnchorRegistry): Promise<bigint | null> {
    const runner = anchors.runner as { getAddress?: () => Promise<string> } | null;
    if (!runner?.getAddress) throw new Error("the anchor job needs an AnchorRegistry connected with a signer");
    const registry = ConsortiumRegistry__factory.connect(await anchors.registry(), anchors.runner);
    try {
      return await registry.requireAgent(await runner.getAddress(), rolesToMask(ROLE_NAMES));
    } catch (err) {
      const revert = decodeRevert((err as { data?: string }).data);
      options.log?.warn({ err: revert?.text ?? (err as Error).message }, "the integration key is not an active agent; records stay pending");
      return null;
    }
  }

  /** Anchors one tree of queued records of one kind and owner with `anchors` (as organisation `org`). */
  async function anchorGroup(
    kind: string,
    ownerOrg: number | null,
    anchors: AnchorRegistry,
    org: bigint,
  ): Promise<{ root: string; kind: string; count: number } | null> {
    const rows = prepared(
      db,
      `SELECT record_id, leaf FROM anchor_outbox WHERE root IS NULL AND kind = ? AND owner_org IS ? ORDER BY created_at, record_id LIMIT ?`,
    ).all(kind, ownerOrg, maxLeaves) as { record_id: string; leaf: string }[];
    if (rows.length === 0) return null;
    const leaves = rows.map((r) => r.leaf);
    const leavesJson = JSON.stringify(leaves);
    const tree = merkleTree(leaves);
    const root = tree.root;
    // Kept for the proofs pages will ask of this batch.
    batchTree(root, leavesJson, tree);
    db.transaction(() => {
      // The same leaves formed again (after a lost anchor) are anchored again as the key's current organisation.
      prepared(
        db,
        `INSERT INTO anchor_batches (root, kind, leaves, created_at, org_id) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (root) DO UPDATE SET org_id = excluded.org_id`,
      ).run(root, kind, leavesJson, new Date().toISOString(), Number(org));
      const mark = prepared(db, `UPDATE anchor_outbox SET root = ?, submitted_at = ? WHERE record_id = ?`);
      for (const row of rows) mark.run(root, now(), row.record_id);
    })();
    let txHash: string | null = null;
    try {
      const tx = await anchors.anchor(encodeBytes32String(kind), root, rows.length, `${options.recordsUrl()}/api/v1/anchors/${root}?org=${org}`);
      txHash = tx.hash;
      const receipt = await mined(anchors.runner, tx);
      await options.indexed?.(receipt.blockNumber);
    } catch (err) {
      // The key's sender took no nonce for a send that failed (ADR 0014): nothing to resynchronise here.
      const revert = decodeRevert((err as { data?: string }).data);
      // AnchorExists names the organisation: only our own earlier anchor of this root counts as done.
      const ours = revert?.name === "AnchorExists" && revert.args[0] === String(org);
      if (!ours) {
        options.log?.warn({ err: revert?.text ?? (err as Error).message, root }, "anchoring failed; will retry");
        return null;
      }
    }
    prepared(db, `UPDATE anchor_outbox SET submitted_tx = ? WHERE root = ?`).run(txHash, root);
    options.log?.info({ root, kind, count: rows.length, org: String(org) }, "anchored records");
    return { root, kind, count: rows.length };
  }

  async function runOnce(): Promise<{ requeued: number; anchored: { root: string; kind: string; count: number }[] }> {
    const requeued = requeueLost();
    if (requeued > 0) options.log?.warn({ requeued }, "re-anchoring records whose anchor is not on the chain");
    const anchored: { root: string; kind: string; count: number }[] = [];
    const queued = prepared(db, `SELECT 1 FROM anchor_outbox WHERE root IS NULL LIMIT 1`).get();
    if (!queued) return { requeued, anchored };
    // Which key anchors which owner's records: each served organisation's own, the default key the rest.
    const fallbackOrg = await anchoringOrg(options.anchors);
    const keys = new Map<number, { anchors: AnchorRegistry; org: bigint }>();
    for (const anchors of options.orgAnchors ?? []) {
      const org = await anchoringOrg(anchors);
      if (org !== null) keys.set(Number(org), { anchors, org });
    }
    if (fallbackOrg !== null && !keys.has(Number(fallbackOrg))) keys.set(Number(fallbackOrg), { anchors: options.anchors, org: fallbackOrg });
    const groups = prepared(db, `SELECT DISTINCT kind, owner_org FROM anchor_outbox WHERE root IS NULL ORDER BY kind, owner_org`).all() as {
      kind: string;
      owner_org: number | null;
    }[];
    for (const group of groups) {
      const key = (group.owner_org !== null ? keys.get(group.owner_org) : undefined) ?? (fallbackOrg !== null ? keys.get(Number(fallbackOrg)) : undefined);
      if (!key) continue;
      const done = await anchorGroup(group.kind, group.owner_org, key.anchors, key.org);
      if (done) anchored.push(done);
    }
    return { requeued, anchored };
  }

  return { name: "anchoring", runOnce };
}
export type AnchorJob = ReturnType<typeof createAnchorJob>;
