import type { Db } from "../../store/db";
import { prepared } from "../../store/statements";
import type { ChainEvent, HandlerMap } from "../types";

/**
 * Settlement events → orders, order_deliveries, order_events, withdrawals. Amounts (token base
 * units) and quantities (fixed-point, 3 decimals) stay raw integers as text.
 */
export const ORDER_STATUS = [
  "none",
  "created",
  "funded",
  "delivered",
  "disputed",
  "frozen",
  "completed",
  "refunded",
  "resolved",
  "cancelled",
] as const;

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

export const settlementHandlers: HandlerMap = {
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
    prepared(db, `UPDATE orders SET funded = ?, buyer_wallet = ?, updated_at = ?, updated_block = ? WHERE order_id = ?`).run(
      e.args.amount.toString(),
      e.args.from,
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
      `INSERT INTO order_deliveries (batch_id, order_id, quantity, inspection_ends, block_number, tx_hash, time) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ).run(e.args.batchId, orderId, e.args.quantity.toString(), Number(e.args.inspectionEnds), e.block.number, e.log.transactionHash, e.time);
    addTo(db, "delivered", orderId, e.args.quantity as bigint, e);
    prepared(db, `UPDATE orders SET inspection_ends = ? WHERE order_id = ?`).run(Number(e.args.inspectionEnds), orderId);
    // The batch's own timeline shows the order it fulfilled.
    prepared(
      db,
      `INSERT OR IGNORE INTO batch_events (block_number, log_index, batch_id, type, details, tx_hash, time) VALUES (?, ?, ?, 'delivered_for_order', ?, ?, ?)`,
    ).run(e.log.blockNumber, e.log.logIndex, e.args.batchId, JSON.stringify({ orderId: String(orderId), quantity: e.args.quantity.toString() }), e.log.transactionHash, e.time);
  },
  "escrow.DeliveryRejected": (db, e) => {
    prepared(db, `UPDATE orders SET contested = ? WHERE order_id = ?`).run(e.args.quantity.toString(), Number(e.args.orderId));
    orderEvent(db, e, "rejected", { quantity: e.args.quantity.toString(), reason: e.args.reason });
  },
  "escrow.OrderFrozen": (db, e) => {
    orderEvent(db, e, "frozen", { batchId: e.args.batchId });
  },
  "escrow.DisputeResolved": (db, e) => {
    prepared(db, `UPDATE orders SET contested = '0' WHERE order_id = ?`).run(Number(e.args.orderId));
    orderEvent(db, e, "resolved", { byOrgId: Number(e.args.by) ? String(e.args.by) : "governance", sellerShareBps: Number(e.args.sellerShareBps) });
  },
  "escrow.Credited": (db, e) => {
    const orderId = Number(e.args.orderId);
    addTo(db, "credited", orderId, e.args.amount as bigint, e);
    if (e.args.toSeller) {
      prepared(db, `UPDATE orders SET seller_wallet = COALESCE(seller_wallet, ?) WHERE order_id = ?`).run(e.args.account, orderId);
    }
    orderEvent(db, e, e.args.toSeller ? "paid_to_seller" : "refunded_to_buyer", { account: e.args.account, amount: e.args.amount.toString() });
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
    prepared(db, `INSERT INTO withdrawals (block_number, log_index, account, token, amount, tx_hash, time) VALUES (?, ?, ?, ?, ?, ?, ?)`).run(
      e.log.blockNumber,
      e.log.logIndex,
      e.args.account,
      e.args.token,
      e.args.amount.toString(),
      e.log.transactionHash,
      e.time,
    );
  },
};
