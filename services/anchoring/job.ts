import { encodeBytes32String } from "ethers";
import type { Db } from "../store/db";
import { prepared } from "../store/statements";
import type { AnchorRegistry } from "../chain/contracts";
import { ConsortiumRegistry__factory, decodeRevert } from "../chain/contracts";
import { rolesToMask, ROLE_NAMES } from "../chain/roles";
import { merkleTree } from "./outbox";

export interface AnchorJobOptions {
  db: Db;
  /** The AnchorRegistry connected with this service's integration key (an active agent). */
  anchors: AnchorRegistry;
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

  /** The organisation the job's key anchors as (an active agent's), read from the chain each run. */
  async function anchoringOrg(): Promise<bigint | null> {
    const runner = options.anchors.runner as { getAddress?: () => Promise<string> } | null;
    if (!runner?.getAddress) throw new Error("the anchor job needs an AnchorRegistry connected with a signer");
    const registry = ConsortiumRegistry__factory.connect(await options.anchors.registry(), options.anchors.runner);
    try {
      return await registry.requireAgent(await runner.getAddress(), rolesToMask(ROLE_NAMES));
    } catch (err) {
      const revert = decodeRevert((err as { data?: string }).data);
      options.log?.warn({ err: revert?.text ?? (err as Error).message }, "the integration key is not an active agent; records stay pending");
      return null;
    }
  }

  async function runOnce(): Promise<{ requeued: number; anchored: { root: string; kind: string; count: number }[] }> {
    const requeued = requeueLost();
    if (requeued > 0) options.log?.warn({ requeued }, "re-anchoring records whose anchor is not on the chain");
    const anchored: { root: string; kind: string; count: number }[] = [];
    const queued = prepared(db, `SELECT 1 FROM anchor_outbox WHERE root IS NULL LIMIT 1`).get();
    if (!queued) return { requeued, anchored };
    const org = await anchoringOrg();
    if (org === null) return { requeued, anchored };
    const kinds = (prepared(db, `SELECT DISTINCT kind FROM anchor_outbox WHERE root IS NULL ORDER BY kind`).all() as { kind: string }[]).map((r) => r.kind);
    for (const kind of kinds) {
      const rows = prepared(db, `SELECT record_id, leaf FROM anchor_outbox WHERE root IS NULL AND kind = ? ORDER BY created_at, record_id LIMIT ?`).all(
        kind,
        maxLeaves,
      ) as { record_id: string; leaf: string }[];
      if (rows.length === 0) continue;
      const leaves = rows.map((r) => r.leaf);
      const root = merkleTree(leaves).root;
      db.transaction(() => {
        // The same leaves formed again (after a lost anchor) are anchored again as the key's current organisation.
        prepared(
          db,
          `INSERT INTO anchor_batches (root, kind, leaves, created_at, org_id) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (root) DO UPDATE SET org_id = excluded.org_id`,
        ).run(root, kind, JSON.stringify(leaves), new Date().toISOString(), Number(org));
        const mark = prepared(db, `UPDATE anchor_outbox SET root = ?, submitted_at = ? WHERE record_id = ?`);
        for (const row of rows) mark.run(root, now(), row.record_id);
      })();
      let txHash: string | null = null;
      try {
        const tx = await options.anchors.anchor(encodeBytes32String(kind), root, rows.length, `${options.recordsUrl()}/api/v1/anchors/${root}?org=${org}`);
        txHash = tx.hash;
        const receipt = await tx.wait();
        if (receipt) await options.indexed?.(receipt.blockNumber);
      } catch (err) {
        const revert = decodeRevert((err as { data?: string }).data);
        // A failed send leaves a NonceManager counting a nonce the chain never used: resync it.
        (options.anchors.runner as { reset?: () => void } | null)?.reset?.();
        // AnchorExists names the organisation: only our own earlier anchor of this root counts as done.
        const ours = revert?.name === "AnchorExists" && revert.args[0] === String(org);
        if (!ours) {
          options.log?.warn({ err: revert?.text ?? (err as Error).message, root }, "anchoring failed; will retry");
          continue;
        }
      }
      prepared(db, `UPDATE anchor_outbox SET submitted_tx = ? WHERE root = ?`).run(txHash, root);
      anchored.push({ root, kind, count: rows.length });
      options.log?.info({ root, kind, count: rows.length }, "anchored records");
    }
    return { requeued, anchored };
  }

  return { name: "anchoring", runOnce };
}
export type AnchorJob = ReturnType<typeof createAnchorJob>;
