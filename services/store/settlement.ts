import { isoFromChainSeconds } from "../chain/time";
import type { Db } from "./db";
import { prepared } from "./statements";
import { formatQuantity } from "../provenance/quantity";

/** Order statuses as SettlementEscrow numbers them (OrderStatus). */
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
  funded_at: number | null;
  dispute_timeout: number | null;
  default_seller_share_bps: number | null;
  decide_by: number | null;
  seller_payout: string | null;
  created_at: string;
  created_block: number;
  created_tx: string;
  updated_at: string;
}

const iso = (seconds: number | null) => (seconds === null ? null : isoFromChainSeconds(seconds));

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
    // Credits belong to the seller organisation; its treasury withdraws them to this address.
    sellerWallet: row.seller_payout,
    fundedAt: iso(row.funded_at),
    disputeTimeoutSeconds: row.dispute_timeout,
    defaultSellerShareBps: row.default_seller_share_bps,
    decideBy: iso(row.decide_by),
    createdAt: row.created_at,
    createdBlock: row.created_block,
    transactionHash: row.created_tx,
    updatedAt: row.updated_at,
  };
}
export type OrderView = ReturnType<typeof view>;

/** Orders with their seller organisation's payout address (where its credits are withdrawn to). */
const ORDERS = `SELECT o.*, p.address AS seller_payout FROM orders o LEFT JOIN payout_addresses p ON p.org_id = o.seller_org`;

export interface SaleRow {
  sale_index: number;
  batch_id: string;
  from_org: number;
  to_org: number;
  quantity: string;
  block_number: number;
  tx_hash: string;
  time: string;
  order_id: number | null;
}

const saleView = (r: SaleRow) => ({
  saleIndex: String(r.sale_index),
  batchId: r.batch_id,
  fromOrgId: String(r.from_org),
  toOrgId: String(r.to_org),
  quantity: formatQuantity(r.quantity),
  orderId: r.order_id === null ? null : String(r.order_id),
  at: r.time,
  blockNumber: r.block_number,
  transactionHash: r.tx_hash,
});
export type SaleView = ReturnType<typeof saleView>;

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
      const rows = prepared(db, `${ORDERS} WHERE ${where.map((w) => `o.${w}`).join(" AND ")} ORDER BY o.order_id LIMIT ?`).all(...params, page.limit + 1) as OrderRow[];
      const items = rows.slice(0, page.limit);
      return { items: items.map((r) => view(r, unitOf(r.gtin))), more: rows.length > page.limit, last: items.at(-1)?.order_id ?? null };
    },
    getOrder(orderId: number) {
      const row = prepared(db, `${ORDERS} WHERE o.order_id = ?`).get(orderId) as OrderRow | undefined;
      if (!row) return null;
      const deliveries = (
        prepared(db, `SELECT * FROM order_deliveries WHERE order_id = ? ORDER BY block_number, rowid`).all(orderId) as {
          sale_index: number;
          batch_id: string;
          quantity: string;
          inspection_ends: number;
          block_number: number;
          tx_hash: string;
          time: string;
        }[]
      ).map((d) => ({
        batchId: d.batch_id,
        saleIndex: String(d.sale_index),
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
    /**
     * The batch's recorded sales, oldest first, each with the order it counts toward (if any). Each
     * sale once: sale indexes are the registry's global count of sales, and a sale counts toward one
     * order at most (order_deliveries is keyed by it). A batch sold back and bought again lists each sale.
     */
    salesOfBatch(batchId: string): SaleView[] {
      return (
        prepared(
          db,
          `SELECT s.*, d.order_id FROM sales s LEFT JOIN order_deliveries d ON d.sale_index = s.sale_index WHERE s.batch_id = ? ORDER BY s.sale_index`,
        ).all(batchId) as SaleRow[]
      ).map(saleView);
    },
    /**
     * The sale a delivery of `batchId` from `fromOrg` to `toOrg` names: the latest such sale not yet
     * counted toward an order, else the latest counted one (the contract then says which order has it).
     */
    saleFor(batchId: string, fromOrg: number, toOrg: number): SaleView | null {
      const row = prepared(
        db,
        `SELECT s.*, d.order_id FROM sales s LEFT JOIN order_deliveries d ON d.sale_index = s.sale_index
         WHERE s.batch_id = ? AND s.from_org = ? AND s.to_org = ? ORDER BY (d.order_id IS NULL) DESC, s.sale_index DESC LIMIT 1`,
      ).get(batchId, fromOrg, toOrg) as SaleRow | undefined;
      return row ? saleView(row) : null;
    },
    /** What the escrow owes an organisation, per token, and where its withdrawals are paid. */
    account(orgId: number) {
      const payout = prepared(db, `SELECT address, set_by, time FROM payout_addresses WHERE org_id = ?`).get(orgId) as
        | { address: string; set_by: string; time: string }
        | undefined;
      const balances = prepared(db, `SELECT token, owed FROM org_balances WHERE org_id = ? ORDER BY token`).all(orgId) as { token: string; owed: string }[];
      const withdrawals = (
        prepared(db, `SELECT * FROM withdrawals WHERE org_id = ? ORDER BY block_number, log_index`).all(orgId) as {
          account: string;
          token: string;
          amount: string;
          withdrawn_by: string;
          tx_hash: string;
          time: string;
        }[]
      ).map((w) => ({ token: w.token, amount: w.amount, to: w.account, by: w.withdrawn_by, at: w.time, transactionHash: w.tx_hash }));
      return {
        orgId: String(orgId),
        payoutAddress: payout?.address ?? null,
        payoutAddressSetBy: payout?.set_by ?? null,
        owed: balances.map((b) => ({ token: b.token, amount: b.owed })),
        withdrawals,
      };
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
