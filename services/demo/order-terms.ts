import type { Db } from "../store/db";
import { prepared } from "../store/statements";
import { glnFor } from "../gs1/keys";
import { formatQuantity } from "../provenance/quantity";
import { createSharingStore } from "../store/sharing";
import { createOrderTermsStore, termsHashOf } from "../settlement/order-terms";
import { DISPUTE_DEFAULTS } from "../settlement/terms";
import { DEMO_MEMBERS, demoWallet } from "./roster";

/**
 * The demo orders' terms documents (docs/adr/0030): the commercial terms a buyer and a seller
 * agree beyond what the chain records — incoterms, inspection grounds, the dispute clause — as a
 * JSON document whose keccak256 the buyer records as the order's termsHash when it places the
 * order (supply-chain.ts). Each node stores, as its buyers' uploads, the documents of the orders
 * its organisations placed (seedDemoOrderTerms); the sellers' nodes fetch them from there.
 *
 * A document is a function of the order's on-chain fields only, so each node rebuilds it from its
 * index, and the hash check against the indexed termsHash decides whether it is the one agreed.
 */
export interface DemoOrderFields {
  buyerOrg: number;
  sellerOrg: number;
  arbiterOrg: number | null;
  gtin: string;
  /** Thousandths of the product's unit, as the contract holds quantities. */
  quantity: bigint;
  unit: string;
  /** Base units (cents) of the settlement euro per unit. */
  pricePerUnit: bigint;
  deliveryDeadline: number;
  inspectionWindow: number;
}

const nameOf = (orgId: number) => DEMO_MEMBERS[orgId - 1]?.name ?? `organisation ${orgId}`;
const euros = (cents: bigint) => `${cents / 100n}.${(cents % 100n).toString().padStart(2, "0")}`;

/** The terms document of a demo order, as bytes (pretty JSON, fixed key order). */
export function demoTermsDocument(order: DemoOrderFields): Buffer {
  const buyer = DEMO_MEMBERS[order.buyerOrg - 1];
  const document = {
    document: "Purchase terms",
    format: "lotline-demo-order-terms/1",
    buyer: { orgId: String(order.buyerOrg), name: nameOf(order.buyerOrg), deliverTo: buyer ? glnFor(buyer.companyPrefixes[0], 1) : null },
    seller: { orgId: String(order.sellerOrg), name: nameOf(order.sellerOrg) },
    goods: { gtin: order.gtin, quantity: formatQuantity(order.quantity), unit: order.unit },
    price: { perUnit: euros(order.pricePerUnit), total: euros((order.quantity * order.pricePerUnit) / 1000n), currency: "LEUR" },
    delivery: {
      incoterms: "DAP (Incoterms 2020), at the buyer's GLN above",
      deadline: new Date(order.deliveryDeadline * 1000).toISOString(),
      coldChain: "kept within the product's storage temperature from dispatch to receipt; EPCIS sensor readings accompany the goods",
    },
    inspection: {
      windowHours: order.inspectionWindow / 3600,
      rejectionGrounds: ["temperature outside the product's storage range on arrival", "damaged or torn packaging", "less than half the shelf life remaining"],
    },
    disputes: {
      arbiter: order.arbiterOrg === null ? "consortium governance" : { orgId: String(order.arbiterOrg), name: nameOf(order.arbiterOrg) },
      decideWithinDays: DISPUTE_DEFAULTS.timeoutSeconds / 86_400,
      defaultSellerSharePercent: DISPUTE_DEFAULTS.sellerShareBps / 100,
    },
    payment: "escrowed in SettlementEscrow when the order is funded; released to the seller for what was delivered after the inspection window",
    recall: "goods recalled upstream before acceptance are neither accepted nor paid; the arbiter settles what was paid",
    governingLaw: "United Nations Convention on Contracts for the International Sale of Goods (CISG)",
  };
  return Buffer.from(`${JSON.stringify(document, null, 2)}\n`, "utf8");
}

interface OrderRow {
  order_id: number;
  buyer_org: number;
  seller_org: number;
  arbiter_org: number | null;
  gtin: string;
  quantity: string;
  price_per_unit: string;
  delivery_deadline: number;
  inspection_window: number;
  unit: string;
}

const ORDER_ROWS = `SELECT o.order_id, o.buyer_org, o.seller_org, o.arbiter_org, o.gtin, o.quantity, o.price_per_unit, o.delivery_deadline, o.inspection_window, p.unit
  FROM orders o JOIN products p ON p.gtin = o.gtin`;

const documentOf = (row: OrderRow) =>
  demoTermsDocument({
    buyerOrg: row.buyer_org,
    sellerOrg: row.seller_org,
    arbiterOrg: row.arbiter_org,
    gtin: row.gtin,
    quantity: BigInt(row.quantity),
    unit: row.unit,
    pricePerUnit: BigInt(row.price_per_unit),
    deliveryDeadline: row.delivery_deadline,
    inspectionWindow: row.inspection_window,
  });

/** The demo terms document of an indexed order, rebuilt from its on-chain fields; null unless its keccak256 is the order's termsHash. */
export function demoTermsOf(db: Db, orderId: number): Buffer | null {
  const row = prepared(db, `${ORDER_ROWS} WHERE o.order_id = ?`).get(orderId) as OrderRow | undefined;
  const order = row ? createOrderTermsStore(db, createSharingStore(db)).orderOf(orderId) : null;
  if (!row || !order) return null;
  const content = documentOf(row);
  return termsHashOf(content) === order.termsHash ? content : null;
}

/**
 * Stores the terms documents of the indexed orders placed by organisations this node serves, each
 * as its buyer's upload (idempotent; an order whose termsHash is not its demo document's keeps none).
 */
export function seedDemoOrderTerms(db: Db, serves: (orgId: number) => boolean = () => true): number {
  const terms = createOrderTermsStore(db, createSharingStore(db));
  const rows = prepared(db, `${ORDER_ROWS} ORDER BY o.order_id`).all() as OrderRow[];
  let stored = 0;
  for (const row of rows) {
    if (!serves(row.buyer_org)) continue;
    const order = terms.orderOf(row.order_id)!;
    if (terms.held(order)) continue;
    const content = documentOf(row);
    if (termsHashOf(content) !== order.termsHash) continue;
    const buyer = DEMO_MEMBERS[row.buyer_org - 1];
    terms.storeUpload(order, { contentType: "application/json", content, orgId: row.buyer_org, agent: demoWallet(buyer.account).address });
    stored++;
  }
  return stored;
}
