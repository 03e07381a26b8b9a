/**
 * Settlement events → orders, order_deliveries, order_events, withdrawals, org_balances,
 * payout_addresses; the provenance registry's sales (OwnershipTransferred) → sales, which
 * deliveries name. Amounts (token base units) and quantities (fixed-point, 3 decimals) stay raw
 * integers as text.
 */
import type { Db } from "../../store/db";
import { prepared } from "../../store/statements";
import type { ChainEvent, HandlerMap } from "../types";
import { ORDER_STATUS } from "../../store/settlement";
import { timeline } from "./timeline";

const gtinText = (value: bigint) => value.toString().padStart(14, "0");

function orderEvent(db: Db, e: ChainEvent, type: string, details: Record<string, unknown>): void {
  prepared(db, `INSERT INTO order_events (block_number, log_index, order_id, type, details, tx_hash, time) VALUES (?, ?, ?, ?, ?, ?, ?)`).run(
    e.log.blockNumber,
    e.log.logIndex,
    Number(e.args.orderId),
    type,
    JSON.stringify(details),
    e.log.transactionHash,
    e.time,
  );
}

function addTo(db: Db, column: "delivered" | "credited", orderId: number, amount: bigint, e: ChainEvent): void {
  const row = prepared(db, `SELECT ${column} AS value FROM orders WHERE order_id = ?`).get(orderId) as { value: string };
  prepared(db, `UPDATE orders SET ${column} = ?, updated_at = ?, updated_block = ? WHERE order_id = ?`).run(
    (BigInt(row.value) + amount).toString(),
    e.time,
    e.block.number,
    orderId,
  );
}

/** Adds `delta` (negative for a withdrawal) to what the escrow owes `org` in `token`. */
function addToBalance(db: Db, org: number, token: string, delta: bigint): void {
  const row = prepared(db, `SELECT owed FROM org_balances WHERE org_id = ? AND token = ?`).get(org, token) as { owed: string } | undefined;
  const owed = (row ? BigInt(row.owed) : 0n) + delta;
  if (row) prepared(db, `UPDATE org_balances SET owed = ? WHERE org_id = ? AND token = ?`).run(owed.toString(), org, token);
  else prepared(db, `INSERT INTO org_balances (org_id, token, owed) VALUES (?, ?, ?)`).run(org, token, owed.toString());
}

export const settlementHandlers: HandlerMap = {
  "provenance.OwnershipTransferred": (db, e) => {
    prepared(
      db,
      `INSERT INTO sales (sale_index, batch_id, from_org, to_org, quantity, block_number, tx_hash, time) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(Number(e.args.index), e.args.batchId, Number(e.args.from), Number(e.args.to), e.args.quantity.toString(), e.block.number, e.log.transactionHash, e.time);
  },
  "escrow.DisputeTermsSet": (db, e) => {
    prepared(db, `UPDATE orders SET dispute_timeout = ?, default_seller_share_bps = ? WHERE order_id = ?`).run(
      Number(e.args.disputeTimeout),
      Number(e.args.defaultSellerShareBps),
      Number(e.args.orderId),
    );
  },
  "escrow.DisputeFellBack": (db, e) => {
    prepared(db, `UPDATE orders SET contested = '0', decide_by = NULL WHERE order_id = ?`).run(Number(e.args.orderId));
    orderEvent(db, e, "resolved", { byOrgId: "timeout", sellerShareBps: Number(e.args.sellerShareBps) });
  },
  "escrow.PayoutAddressSet": (db, e) => {
    prepared(
      db,
      `INSERT INTO payout_addresses (org_id, address, set_by, block_number, time) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (org_id) DO UPDATE SET address = excluded.address, set_by = excluded.set_by, block_number = excluded.block_number, time = excluded.time`,
    ).run(Number(e.args.org), e.args.payout, e.args.by, e.block.number, e.time);
  },
  "escrow.OrderCreated": (db, e) => {
    prepared(
      db,
      `INSERT INTO orders (order_id, buyer_org, seller_org, arbiter_org, token, gtin, quantity, price_per_unit, delivery_deadline, inspection_window,
         inspection_ends, terms_hash, status, funded, delivered, contested, credited, buyer_wallet, seller_wallet, created_at, created_block, created_tx,
         updated_at, updated_block)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, 'created', '0', '0', '0', '0', NULL, NULL, ?, ?, ?, ?, ?)`,
    ).run(
      Number(e.args.orderId),
      Number(e.args.buyer),
      Number(e.args.seller),
      Number(e.args.arbiter) || null,
      e.args.token,
      gtinText(e.args.gtin),
      e.args.quantity.toString(),
      e.args.pricePerUnit.toString(),
      Number(e.args.deliveryDeadline),
      Number(e.args.inspectionWindow),
      e.args.termsHash,
      e.time,
      e.block.number,
      e.log.transactionHash,
      e.time,
      e.block.number,
    );
  },
  "escrow.OrderFunded": (db, e) => {
    prepared(db, `UPDATE orders SET funded = ?, buyer_wallet = ?, funded_at = ?, updated_at = ?, updated_block = ? WHERE order_id = ?`).run(
      e.args.amount.toString(),
      e.args.from,
      e.block.timestamp,
      e.time,
      e.block.number,
      Number(e.args.orderId),
    );
    orderEvent(db, e, "funded", { from: e.args.from, amount: e.args.amount.toString() });
  },
  "escrow.OrderCancelled": (db, e) => {
    orderEvent(db, e, "cancelled", { byOrgId: String(e.args.by) });
  },
  "escrow.DeliveryRecorded": (db, e) => {
    const orderId = Number(e.args.orderId);
    prepared(
      db,
      `INSERT INTO order_deliveries (sale_index, batch_id, order_id, quantity, inspection_ends, block_number, tx_hash, time) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(Number(e.args.saleIndex), e.args.batchId, orderId, e.args.quantity.toString(), Number(e.args.inspectionEnds), e.block.number, e.log.transactionHash, e.time);
    addTo(db, "delivered", orderId, e.args.quantity as bigint, e);
    prepared(db, `UPDATE orders SET inspection_ends = ? WHERE order_id = ?`).run(Number(e.args.inspectionEnds), orderId);
    // The batch's own timeline shows the order it fulfilled.
    timeline(db, e, e.args.batchId as string, "delivered_for_order", { orderId: String(orderId), quantity: e.args.quantity.toString(), saleIndex: String(e.args.saleIndex) });
  },
  "escrow.DeliveryRejected": (db, e) => {
    prepared(db, `UPDATE orders SET contested = ?, decide_by = ? WHERE order_id = ?`).run(e.args.quantity.toString(), Number(e.args.decideBy), Number(e.args.orderId));
    orderEvent(db, e, "rejected", { quantity: e.args.quantity.toString(), reason: e.args.reason, decideBy: Number(e.args.decideBy) });
  },
  "escrow.OrderFrozen": (db, e) => {
    prepared(db, `UPDATE orders SET decide_by = ? WHERE order_id = ?`).run(Number(e.args.decideBy), Number(e.args.orderId));
    orderEvent(db, e, "frozen", { batchId: e.args.batchId, decideBy: Number(e.args.decideBy) });
  },
  "escrow.DisputeResolved": (db, e) => {
    prepared(db, `UPDATE orders SET contested = '0', decide_by = NULL WHERE order_id = ?`).run(Number(e.args.orderId));
    orderEvent(db, e, "resolved", { byOrgId: Number(e.args.by) ? String(e.args.by) : "governance", sellerShareBps: Number(e.args.sellerShareBps) });
  },
  "escrow.Credited": (db, e) => {
    const orderId = Number(e.args.orderId);
    addTo(db, "credited", orderId, e.args.amount as bigint, e);
    const token = (prepared(db, `SELECT token FROM orders WHERE order_id = ?`).get(orderId) as { token: string }).token;
    addToBalance(db, Number(e.args.org), token, e.args.amount as bigint);
    orderEvent(db, e, e.args.toSeller ? "paid_to_seller" : "refunded_to_buyer", { orgId: String(e.args.org), amount: e.args.amount.toString() });
  },
  "escrow.OrderStatusChanged": (db, e) => {
    prepared(db, `UPDATE orders SET status = ?, updated_at = ?, updated_block = ? WHERE order_id = ?`).run(
      ORDER_STATUS[Number(e.args.status)],
      e.time,
      e.block.number,
      Number(e.args.orderId),
    );
  },
  "escrow.Withdrawn": (db, e) => {
    prepared(
      db,
      `INSERT INTO withdrawals (block_number, log_index, account, token, amount, tx_hash, time, org_id, withdrawn_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(e.log.blockNumber, e.log.logIndex, e.args.to, e.args.token, e.args.amount.toString(), e.log.transactionHash, e.time, Number(e.args.org), e.args.by);
    addToBalance(db, Number(e.args.org), e.args.token, -(e.args.amount as bigint));
  },
};
