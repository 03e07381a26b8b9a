import type { Db } from "./db";
import { prepared } from "./statements";
import { formatQuantity } from "../provenance/quantity";

/** Read side of the settlement tables. Token amounts are base units as decimal strings. */

interface OrderRow {
  order_id: number;
  buyer_org: number;
  seller_org: number;
  arbiter_org: number | null;
  token: string;
  gtin: string;
  quantity: string;
  price_per_unit: string;
  delivery_deadline: number;
  inspection_window: number;
  inspection_ends: number | null;
  terms_hash: string;
  status: string;
  funded: string;
  delivered: string;
  contested: string;
  credited: string;
  buyer_wallet: string | null;
  seller_wallet: string | null;
  created_at: string;
  created_block: number;
  created_tx: string;
  updated_at: string;
}

const iso = (seconds: number | null) => (seconds === null ? null : new Date(seconds * 1000).toISOString());

function view(row: OrderRow, unit: string | null) {
  return {
    id: String(row.order_id),
    orderId: String(row.order_id),
    status: row.status,
    buyerOrgId: String(row.buyer_org),
    sellerOrgId: String(row.seller_org),
    arbiterOrgId: row.arbiter_org === null ? null : String(row.arbiter_org),
    token: row.token,
    gtin: row.gtin,
    quantity: formatQuantity(row.quantity),
    unit,
    pricePerUnit: row.price_per_unit,
    totalPrice: ((BigInt(row.quantity) * BigInt(row.price_per_unit)) / 1000n).toString(),
    deliveryDeadline: iso(row.delivery_deadline)!,
    inspectionWindowSeconds: row.inspection_window,
    inspectionEnds: iso(row.inspection_ends),
    termsHash: row.terms_hash,
    funded: row.funded,
    delivered: formatQuantity(row.delivered),
    contested: formatQuantity(row.contested),
    held: (BigInt(row.funded) - BigInt(row.credited)).toString(),
    buyerWallet: row.buyer_wallet,
    sellerWallet: row.seller_wallet,
    createdAt: row.created_at,
    createdBlock: row.created_block,
    transactionHash: row.created_tx,
    updatedAt: row.updated_at,
  };
}
export type OrderView = ReturnType<typeof view>;

export function createSettlementStore(db: Db) {
  const unitOf = (gtin: string) => (prepared(db, `SELECT unit FROM products WHERE gtin = ?`).get(gtin) as { unit: string } | undefined)?.unit ?? null;

  return {
    listOrders(filters: { buyer?: number; seller?: number; status?: string }, page: { limit: number; after: number }) {
      const where = ["order_id > ?"];
      const params: unknown[] = [page.after];
      const equals: [string, unknown][] = [
        ["buyer_org", filters.buyer],
        ["seller_org", filters.seller],
        ["status", filters.status],
      ];
      for (const [column, value] of equals) {
        if (value === undefined) continue;
        where.push(`${column} = ?`);
        params.push(value);
      }
      // Fixed fragments only; every value is a bound parameter.
      const rows = prepared(db, `SELECT * FROM orders WHERE ${where.join(" AND ")} ORDER BY order_id LIMIT ?`).all(...params, page.limit + 1) as OrderRow[];
      const items = rows.slice(0, page.limit);
      return { items: items.map((r) => view(r, unitOf(r.gtin))), more: rows.length > page.limit, last: items.at(-1)?.order_id ?? null };
    },
    getOrder(orderId: number) {
      const row = prepared(db, `SELECT * FROM orders WHERE order_id = ?`).get(orderId) as OrderRow | undefined;
      if (!row) return null;
      const deliveries = (
        prepared(db, `SELECT * FROM order_deliveries WHERE order_id = ? ORDER BY block_number, rowid`).all(orderId) as {
          batch_id: string;
          quantity: string;
          inspection_ends: number;
          block_number: number;
          tx_hash: string;
          time: string;
        }[]
      ).map((d) => ({
        batchId: d.batch_id,
        quantity: formatQuantity(d.quantity),
        inspectionEnds: iso(d.inspection_ends)!,
        at: d.time,
        blockNumber: d.block_number,
        transactionHash: d.tx_hash,
      }));
      const events = (
        prepared(db, `SELECT * FROM order_events WHERE order_id = ? ORDER BY block_number, log_index`).all(orderId) as {
          type: string;
          details: string;
          block_number: number;
          tx_hash: string;
          time: string;
        }[]
      ).map((e) => {
        const details = JSON.parse(e.details) as Record<string, unknown>;
        if (typeof details.quantity === "string") details.quantity = formatQuantity(details.quantity);
        return { type: e.type, at: e.time, blockNumber: e.block_number, transactionHash: e.tx_hash, details };
      });
      return {
        ...view(row, unitOf(row.gtin)),
        deliveries,
        disputes: events.filter((e) => ["rejected", "frozen", "resolved"].includes(e.type)),
        payments: events.filter((e) => ["paid_to_seller", "refunded_to_buyer"].includes(e.type)),
        events,
      };
    },
    orderOfBatch(batchId: string): string | null {
      const row = prepared(db, `SELECT order_id FROM order_deliveries WHERE batch_id = ?`).get(batchId) as { order_id: number } | undefined;
      return row ? String(row.order_id) : null;
    },
    /** Orders in `delivered` state holding a batch that is recalled: what the freezer freezes. */
    ordersToFreeze(): { orderId: number; batchId: string }[] {
      return (
        prepared(
          db,
          `SELECT d.order_id AS orderId, MIN(d.batch_id) AS batchId FROM order_deliveries d
             JOIN orders o ON o.order_id = d.order_id JOIN batches b ON b.batch_id = d.batch_id
           WHERE o.status = 'delivered' AND b.recall <> 'none' GROUP BY d.order_id ORDER BY d.order_id`,
        ).all() as { orderId: number; batchId: string }[]
      );
    },
  };
}
export type SettlementStore = ReturnType<typeof createSettlementStore>;
