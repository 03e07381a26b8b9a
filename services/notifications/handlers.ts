import crypto from "node:crypto";
import type { Db } from "../store/db";
import { prepared } from "../store/statements";
import type { ChainEvent, HandlerMap } from "../indexer/types";
import { classesToNames, scopeFromChain } from "../sharing/grants";

/**
 * What an indexed chain event means to each member it concerns, as rows of the derived table
 * `notifications` (docs/notifications.md). These handlers run after the domain handlers of the
 * same event, inside the indexer's transaction, so they see the state the event left; their rows
 * are journalled like every derived row and leave with their event on a reorganisation.
 *
 * - recall: a recall or recall withdrawal of a batch, to every organisation that owns or holds a
 *   batch in its impact (the batch and everything made from it), each time, even where an earlier
 *   recall already flagged those batches;
 * - offer: a hand-over (of a batch or a logistic unit) offered to the organisation;
 * - order: a delivery recorded, rejected (a dispute opened), frozen or resolved on an order, to its
 *   buyer and seller (and its arbiter for disputes);
 * - grant: a read grant issued or revoked, to its grantor and its grantee.
 * (capture: a capture job finished, is announced by the delivery job from the capture table.)
 */

export const TOPICS = ["recall", "offer", "order", "grant", "capture"] as const;
export type Topic = (typeof TOPICS)[number];

/** Most affected batches listed in one recall notice (`truncated` says when there were more). */
const MAX_LISTED_BATCHES = 500;

/** The key of a notification: the same for the same event and member, whichever block it lands in. */
export function notificationKey(parts: unknown[]): string {
  return crypto.createHash("sha256").update(JSON.stringify(parts)).digest("hex");
}

function notify(db: Db, e: ChainEvent, orgId: number, topic: Topic, type: string, data: Record<string, unknown>): void {
  if (!orgId) return; // 0: governance, or no organisation
  const key = notificationKey([topic, type, orgId, e.log.transactionHash, `${e.contract}.${e.name}`, data]);
  prepared(
    db,
    `INSERT OR IGNORE INTO notifications (notification_key, org_id, topic, type, at, data, block_number) VALUES (?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    key,
    orgId,
    topic,
    type,
    e.time,
    JSON.stringify({ ...data, transactionHash: e.log.transactionHash, blockNumber: e.log.blockNumber }),
    e.log.blockNumber,
  );
}

/** The batch and every batch made from it (splits, transformations), breadth first. */
function impactOf(db: Db, root: string): string[] {
  const seen = new Set([root]);
  let frontier = [root];
  while (frontier.length > 0) {
    const next: string[] = [];
    for (const id of frontier) {
      for (const { to_batch } of prepared(db, `SELECT to_batch FROM lineage_edges WHERE from_batch = ? ORDER BY to_batch`).all(
        id,
      ) as { to_batch: string }[]) {
        if (seen.has(to_batch)) continue;
        seen.add(to_batch);
        next.push(to_batch);
      }
    }
    frontier = next;
  }
  return [...seen];
}

interface HeldBatch {
  batchId: string;
  gtin: string;
  lot: string;
  owned: boolean;
  held: boolean;
}

function recallNotices(db: Db, e: ChainEvent, type: "recalled" | "recall_withdrawn"): void {
  const root = (e.args.batchId as string).toLowerCase();
  const byOrg = new Map<number, HeldBatch[]>();
  for (const id of impactOf(db, e.args.batchId as string)) {
    const b = prepared(db, `SELECT batch_id, gtin, lot, owner_org, custodian_org FROM batches WHERE batch_id = ?`).get(id) as
      { batch_id: string; gtin: string; lot: string; owner_org: number; custodian_org: number } | undefined;
    if (!b) continue;
    for (const org of new Set([b.owner_org, b.custodian_org])) {
      const list = byOrg.get(org) ?? [];
      list.push({ batchId: b.batch_id, gtin: b.gtin, lot: b.lot, owned: b.owner_org === org, held: b.custodian_org === org });
      byOrg.set(org, list);
    }
  }
  const by = Number(e.args.by);
  for (const [org, batches] of [...byOrg].sort(([a], [b]) => a - b)) {
    notify(db, e, org, "recall", type, {
      batchId: root,
      reason: e.args.reason as string,
      byOrgId: by ? String(by) : "governance",
      batches: batches.slice(0, MAX_LISTED_BATCHES),
      truncated: batches.length > MAX_LISTED_BATCHES,
    });
  }
}

function orderParties(db: Db, orderId: number): { buyer: number; seller: number; arbiter: number | null } | null {
  const row = prepared(db, `SELECT buyer_org, seller_org, arbiter_org FROM orders WHERE order_id = ?`).get(orderId) as
    { buyer_org: number; seller_org: number; arbiter_org: number | null } | undefined;
  return row ? { buyer: row.buyer_org, seller: row.seller_org, arbiter: row.arbiter_org } : null;
}

function orderNotices(db: Db, e: ChainEvent, type: string, data: Record<string, unknown>, withArbiter: boolean): void {
  const orderId = Number(e.args.orderId);
  const parties = orderParties(db, orderId);
  if (!parties) return;
  const orgs = new Set([parties.buyer, parties.seller, ...(withArbiter && parties.arbiter ? [parties.arbiter] : [])]);
  for (const org of orgs) {
    const role = org === parties.buyer ? "buyer" : org === parties.seller ? "seller" : "arbiter";
    notify(db, e, org, "order", type, { orderId: String(orderId), role, ...data });
  }
}

export const notificationHandlers: HandlerMap = {
  "provenance.Recalled": (db, e) => recallNotices(db, e, "recalled"),
  "provenance.RecallWithdrawn": (db, e) => recallNotices(db, e, "recall_withdrawn"),
  "provenance.HandoverOffered": (db, e) => {
    const b = prepared(db, `SELECT gtin, lot, unit FROM batches WHERE batch_id = ?`).get(e.args.batchId) as
      { gtin: string; lot: string; unit: string } | undefined;
    notify(db, e, Number(e.args.to), "offer", "handover_offered", {
      batchId: (e.args.batchId as string).toLowerCase(),
      gtin: b?.gtin ?? null,
      lot: b?.lot ?? null,
      fromOrgId: String(e.args.from),
      kind: ["custody", "ownership", "both"][Number(e.args.kind)] ?? String(e.args.kind),
      quantity: e.args.quantity.toString(),
      unit: b?.unit ?? null,
    });
  },
  "units.UnitOffered": (db, e) => {
    notify(db, e, Number(e.args.to), "offer", "unit_offered", {
      unitKey: (e.args.unitKey as string).toLowerCase(),
      fromOrgId: String(e.args.from),
    });
  },
  "escrow.DeliveryRecorded": (db, e) =>
    orderNotices(
      db,
      e,
      "delivery_recorded",
      {
        batchId: (e.args.batchId as string).toLowerCase(),
        quantity: e.args.quantity.toString(),
        saleIndex: String(e.args.saleIndex),
        inspectionEnds: Number(e.args.inspectionEnds),
      },
      false,
    ),
  "escrow.DeliveryRejected": (db, e) =>
    orderNotices(
      db,
      e,
      "delivery_rejected",
      { quantity: e.args.quantity.toString(), reason: e.args.reason as string, decideBy: Number(e.args.decideBy) },
      true,
    ),
  "escrow.OrderFrozen": (db, e) =>
    orderNotices(
      db,
      e,
      "order_frozen",
      { batchId: (e.args.batchId as string).toLowerCase(), decideBy: Number(e.args.decideBy) },
      true,
    ),
  "escrow.DisputeResolved": (db, e) =>
    orderNotices(
      db,
      e,
      "dispute_resolved",
      { byOrgId: Number(e.args.by) ? String(e.args.by) : "governance", sellerShareBps: Number(e.args.sellerShareBps) },
      true,
    ),
  "sharing.GrantIssued": (db, e) => {
    const scope = scopeFromChain(Number(e.args.scopeKind), e.args.scope as string);
    const data = {
      grantId: String(e.args.grantId),
      grantorOrgId: String(e.args.grantor),
      granteeOrgId: String(e.args.grantee),
      classes: classesToNames(Number(e.args.classes)),
      scope,
      expiresAt: new Date(Math.min(Number(e.args.expiresAt), 8_640_000_000_000) * 1000).toISOString(),
    };
    for (const org of new Set([Number(e.args.grantor), Number(e.args.grantee)]))
      notify(db, e, org, "grant", "grant_issued", data);
  },
  "sharing.GrantRevoked": (db, e) => {
    const g = prepared(db, `SELECT grantor_org, grantee_org FROM grants WHERE grant_id = ?`).get(Number(e.args.grantId)) as
      { grantor_org: number; grantee_org: number } | undefined;
    if (!g) return;
    const data = {
      grantId: String(e.args.grantId),
      grantorOrgId: String(g.grantor_org),
      granteeOrgId: String(g.grantee_org),
      byOrgId: String(e.args.by),
    };
    for (const org of new Set([g.grantor_org, g.grantee_org])) notify(db, e, org, "grant", "grant_revoked", data);
  },
};

/** Handler maps merged so that every handler of an event runs, in the order of the maps. */
export function composeHandlers(...maps: HandlerMap[]): HandlerMap {
  const out: HandlerMap = {};
  for (const map of maps) {
    for (const [key, handler] of Object.entries(map) as [keyof HandlerMap, NonNullable<HandlerMap[keyof HandlerMap]>][]) {
      const before = out[key];
      out[key] = before
        ? (db, e) => {
            before(db, e);
            handler(db, e);
          }
        : handler;
    }
  }
  return out;
}
