import { apiGet } from "./client";
import { formatQuantity, QUANTITY_DECIMALS } from "../provenance/quantity";

/** Shapes of the API's provenance responses the CLI renders (see services/api/routes/provenance.ts). */
export interface BatchJson {
  id: string;
  lotId: string;
  gtin: string;
  lot: string;
  digitalLink: string;
  parentId: string | null;
  portionIndex: number | null;
  quantity: string;
  unit: string;
  ownerOrgId: string;
  custodianOrgId: string;
  producerOrgId: string;
  location: string | null;
  status: string;
  recall: null | { kind: string; reason: string | null; sourceBatchId: string | null; byOrgId: string | null; at: string };
  logisticUnit: null | { unitKey: string; sscc: string };
  pendingOffer: null | { toOrgId: string; kind: string; quantity: string };
  createdAt: string;
}

export interface BatchDetailJson extends BatchJson {
  lotSummary: {
    lotId: string;
    registeredAt: string;
    quantityInCirculation: string;
    portions: { id: string; quantity: string; status: string }[];
  };
}

export interface HistoryJson {
  batchId: string;
  items: { type: string; at: string; blockNumber?: number; transactionHash?: string; details: Record<string, unknown> }[];
}

export interface TraceJson {
  root: string;
  nodes: (BatchJson & { depth: number })[];
  edges: { from: string; to: string; type: string; quantity: string; unit: string }[];
  truncated: boolean;
}

export type OrgNames = (orgId: string | null | undefined) => string;

/** "org 2 (Brabant Dairy Processing NV)", from one listing of the organisations. */
export async function orgNames(): Promise<OrgNames> {
  const names = new Map<string, string>();
  let cursor: string | null = null;
  do {
    const query = new URLSearchParams({ limit: "500", ...(cursor ? { cursor } : {}) });
    const page: { items: { orgId: string; name: string }[]; nextCursor: string | null } = await apiGet(`/api/v1/orgs?${query}`);
    for (const o of page.items) names.set(String(o.orgId), o.name);
    cursor = page.nextCursor;
  } while (cursor);
  return (orgId) => {
    if (orgId === null || orgId === undefined) return "-";
    const name = names.get(String(orgId));
    return name ? `org ${orgId} (${name})` : `org ${orgId}`;
  };
}

export const batchRef = (ref: string) => `/api/v1/batches/${encodeURIComponent(ref)}`;

const HANDOVER_TEXT: Record<string, string> = { custody: "custody", ownership: "ownership", both: "custody and ownership" };

function statusText(b: BatchJson): string {
  if (!b.recall) return b.status;
  const recall = b.recall.kind === "direct" ? "recalled" : "recalled (propagated)";
  return b.status === "recalled" ? recall : `${b.status}, ${recall}`;
}

function holders(b: BatchJson, org: OrgNames): string {
  return b.ownerOrgId === b.custodianOrgId ? org(b.ownerOrgId) : `owner ${org(b.ownerOrgId)}, held by ${org(b.custodianOrgId)}`;
}

/** One line: GTIN/lot, quantity, status, who has it, id. */
export function batchLine(b: BatchJson, org: OrgNames): string {
  return `${b.gtin}/${b.lot}  ${b.quantity} ${b.unit}  ${statusText(b)}  ${holders(b, org)}  ${b.id}`;
}

export function renderBatch(b: BatchDetailJson, org: OrgNames): string {
  const rows: [string, string][] = [
    ["batch", b.id],
    ["product", `GTIN ${b.gtin}, lot ${b.lot}`],
    ["digital link", b.digitalLink],
    ["quantity", `${b.quantity} ${b.unit}`],
    ["owner", org(b.ownerOrgId)],
    ["custodian", org(b.custodianOrgId)],
    ["producer", org(b.producerOrgId)],
    ["location", b.location ? `GLN ${b.location}` : "-"],
    ["status", b.status],
  ];
  if (b.recall) {
    const source = b.recall.kind === "propagated" ? `propagated from ${b.recall.sourceBatchId}` : `by ${b.recall.byOrgId ? org(b.recall.byOrgId) : "governance"}`;
    rows.push(["recall", `${b.recall.reason ? `${b.recall.reason}; ` : ""}${source}, ${b.recall.at}`]);
  } else rows.push(["recall", "none"]);
  if (b.pendingOffer) {
    rows.push(["pending offer", `${b.pendingOffer.quantity} ${b.unit} to ${org(b.pendingOffer.toOrgId)} (${HANDOVER_TEXT[b.pendingOffer.kind] ?? b.pendingOffer.kind})`]);
  }
  if (b.logisticUnit) rows.push(["logistic unit", `SSCC ${b.logisticUnit.sscc}`]);
  if (b.parentId) rows.push(["split from", `${b.parentId} (portion ${b.portionIndex})`]);
  rows.push(["registered", b.createdAt]);
  const lot = b.lotSummary;
  const width = Math.max(...rows.map(([k]) => k.length));
  return [
    ...rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`),
    `lot portions (${lot.quantityInCirculation} ${b.unit} in circulation):`,
    ...lot.portions.map((p) => `  ${p.id}  ${p.quantity.padStart(10)} ${b.unit}  ${p.status}${p.id === b.id ? "  ← this batch" : ""}`),
  ].join("\n");
}

/** A timeline entry in words; quantities of the batch itself carry its unit. */
function historyText(item: HistoryJson["items"][number], unit: string, org: OrgNames): string {
  const d = item.details as Record<string, string | null | undefined>;
  const at = (gln: string | null | undefined) => (gln ? ` at GLN ${gln}` : "");
  switch (item.type) {
    case "registered":
      return `registered ${d.quantity} ${unit}${at(d.location)} by ${org(d.orgId)}`;
    case "offered":
      return `${d.quantity} ${unit} offered by ${org(d.fromOrgId)} to ${org(d.toOrgId)} (${HANDOVER_TEXT[d.kind ?? ""] ?? d.kind})`;
    case "offer_withdrawn":
      return `offer withdrawn by ${org(d.byOrgId)}${d.reason ? `: ${d.reason}` : ""}`;
    case "handed_over":
      return `${HANDOVER_TEXT[d.kind ?? ""] ?? d.kind} of ${d.quantity} ${unit} passed from ${org(d.fromOrgId)} to ${org(d.toOrgId)}${at(d.location)}`;
    case "split":
      return `${d.quantity} ${unit} split off into ${d.child}`;
    case "split_from":
      return `split off ${d.parent} (${d.quantity} ${unit})`;
    case "transformed_into":
      return `${d.quantity} ${unit} went into ${d.output} (${String(d.kind).toLowerCase()})`;
    case "made_from":
      return `made from ${d.quantity} of ${d.input} (${String(d.kind).toLowerCase()})`;
    case "consumed":
      return `${d.quantity} ${unit} consumed, ${d.remaining} ${unit} left`;
    case "destroyed":
      return `destroyed${d.reason ? `: ${d.reason}` : ""}`;
    case "observed":
      return `observed (${d.bizStep})${at(d.location)} by ${org(d.orgId)}`;
    case "recalled":
      return `recalled by ${d.byOrgId === "governance" ? "governance" : org(d.byOrgId)}: ${d.reason}`;
    case "recall_propagated":
      return `recall propagated from ${d.from}`;
    case "recall_withdrawn":
      return `recall withdrawn by ${d.byOrgId === "governance" ? "governance" : org(d.byOrgId)}: ${d.reason}`;
    case "recall_lifted":
      return `recall lifted (withdrawn upstream, via ${d.from})`;
    case "recall_return_offered":
      return `recalled goods offered back to ${org(d.toOrgId)}${at(d.location)}`;
    case "disposal_consented":
      return `owner ${org(d.ownerOrgId)} consented to its destruction`;
    case "claim_added":
      return `claim ${d.claim} added by ${org(d.orgId)}`;
    case "packed":
      return `packed into logistic unit SSCC ${d.sscc}`;
    case "unpacked":
      return "unpacked from its logistic unit";
    case "delivered_for_order":
      return `delivered against order ${d.orderId}`;
    case "epcis": {
      const mapping = item.details.mapping as { status?: string } | string | undefined;
      const status = typeof mapping === "object" && mapping ? mapping.status : mapping;
      return `EPCIS ${d.eventType ?? "event"}${d.bizStep ? ` (${String(d.bizStep).replace(/^.*[-:/]/, "")})` : ""} ${d.eventID}${status ? `, mapping ${status}` : ""}`;
    }
    case "unit_handed_over":
      return `custody (with its logistic unit) passed from ${org(d.fromOrgId)} to ${org(d.toOrgId)}${at(d.location)}`;
    default:
      return `${item.type} ${Object.entries(d).map(([k, v]) => `${k}=${v}`).join(" ")}`;
  }
}

export function renderHistory(history: HistoryJson, unit: string, org: OrgNames): string {
  if (history.items.length === 0) return `no events for ${history.batchId}`;
  return history.items
    .map((item) => `${item.at}  ${item.blockNumber === undefined ? "off-chain   " : `block ${String(item.blockNumber).padStart(6)}`}  ${historyText(item, unit, org)}`)
    .join("\n");
}

/**
 * The lineage as an indented tree from the root: upstream, each node's inputs below it;
 * downstream, its outputs. A node reached by a second path is printed once, then named with
 * "(see above)".
 */
export function renderTrace(trace: TraceJson, direction: "upstream" | "downstream", org: OrgNames): string {
  const byId = new Map(trace.nodes.map((n) => [n.id, n]));
  const next = new Map<string, TraceJson["edges"]>();
  for (const edge of trace.edges) {
    const key = direction === "upstream" ? edge.to : edge.from;
    next.set(key, [...(next.get(key) ?? []), edge]);
  }
  const arrow = direction === "upstream" ? "←" : "→";
  const lines: string[] = [];
  const printed = new Set<string>();
  const walk = (id: string, head: string, indent: string, edge: string) => {
    const node = byId.get(id);
    if (printed.has(id)) {
      lines.push(`${head}${edge}${node ? `${node.gtin}/${node.lot}  ${id}` : id}  (see above)`);
      return;
    }
    printed.add(id);
    lines.push(`${head}${edge}${node ? batchLine(node, org) : id}`);
    const edges = next.get(id) ?? [];
    edges.forEach((e, i) => {
      const last = i === edges.length - 1;
      walk(direction === "upstream" ? e.from : e.to, indent + (last ? "└─ " : "├─ "), indent + (last ? "   " : "│  "), `${e.type} ${e.quantity} ${e.unit} ${arrow} `);
    });
  };
  walk(trace.root, "", "", "");
  if (lines.length === 1 && !trace.truncated) lines.push(direction === "upstream" ? "(no inputs: registered as a new lot)" : "(nothing made from it or split off it yet)");
  if (trace.truncated) lines.push("(truncated: raise --max-depth to see further)");
  return lines.join("\n");
}

/** Shapes of the API's settlement responses (see services/api/routes/settlement.ts). Amounts are token base units. */
export interface OrderJson {
  id: string;
  orderId: string;
  status: string;
  buyerOrgId: string;
  sellerOrgId: string;
  arbiterOrgId: string | null;
  token: string;
  gtin: string;
  quantity: string;
  unit: string | null;
  pricePerUnit: string;
  totalPrice: string;
  deliveryDeadline: string;
  inspectionWindowSeconds: number;
  inspectionEnds: string | null;
  termsHash: string;
  funded: string;
  delivered: string;
  contested: string;
  held: string;
  buyerWallet: string | null;
  sellerWallet: string | null;
  fundedAt: string | null;
  disputeTimeoutSeconds: number | null;
  defaultSellerShareBps: number | null;
  decideBy: string | null;
  createdAt: string;
  createdBlock: number;
  transactionHash: string;
  updatedAt: string;
}

export interface OrderEventJson {
  type: string;
  at: string;
  blockNumber: number;
  transactionHash: string;
  details: Record<string, unknown>;
}

export interface OrderDeliveryJson {
  batchId: string;
  saleIndex: string;
  quantity: string;
  inspectionEnds: string;
  at: string;
  blockNumber: number;
  transactionHash: string;
}

export interface OrderDetailJson extends OrderJson {
  deliveries: OrderDeliveryJson[];
  disputes: OrderEventJson[];
  payments: OrderEventJson[];
  events: OrderEventJson[];
}

/** "12.5" → 12500: a quantity as the API prints it, back to the contract's fixed point. */
const rawQuantity = (text: string) => {
  const [whole, fraction = ""] = text.split(".");
  return BigInt(whole) * 10n ** BigInt(QUANTITY_DECIMALS) + BigInt(fraction.padEnd(QUANTITY_DECIMALS, "0"));
};

/**
 * What deliveries added to an order, in words: "120 KGM in 1 batch", "200 KGM in 2 sales of 1 batch".
 * A delivery names a sale, not a batch (docs/adr/0008): a batch sold to the buyer, sold back to the
 * seller and bought again is one batch with two sales. The quantity adds every sale, as the
 * escrow's `delivered` does; the batches are counted each once.
 */
export function deliveredText(deliveries: Pick<OrderDeliveryJson, "batchId" | "quantity">[], unit: string): string {
  const quantity = formatQuantity(deliveries.reduce((sum, d) => sum + rawQuantity(d.quantity), 0n));
  const batches = new Set(deliveries.map((d) => d.batchId.toLowerCase())).size;
  const batchText = `${batches} batch${batches === 1 ? "" : "es"}`;
  return deliveries.length === batches ? `${quantity} ${unit} in ${batchText}` : `${quantity} ${unit} in ${deliveries.length} sales of ${batchText}`;
}

/** A delivery's line: its batch, quantity and sale (a batch sold twice to the buyer shows twice, each sale once). */
export const deliveryLine = (d: Pick<OrderDeliveryJson, "batchId" | "quantity" | "saleIndex">, unit: string): string => `${d.batchId}  ${d.quantity} ${unit}  sale ${d.saleIndex}`;

/** Token amounts in words: "1176.00 LEUR" for a token whose decimals are known, else "117600 base units of 0x…". */
export type Money = (baseUnits: string | bigint, token: string) => string;

export function inspectionText(seconds: number): string {
  if (seconds % 86_400 === 0 && seconds > 0) return `${seconds / 86_400} d`;
  if (seconds % 3_600 === 0) return `${seconds / 3_600} h`;
  return `${seconds} s`;
}

/** One line: id, status, buyer → seller, GTIN, quantity, price, total, deadline. */
export function orderLine(o: OrderJson, org: OrgNames, money: Money): string {
  const unit = o.unit ?? "units";
  return [
    `#${o.orderId}`.padStart(5),
    o.status.padEnd(9),
    `${org(o.buyerOrgId)} ← ${org(o.sellerOrgId)}`,
    `${o.gtin} ${o.quantity} ${unit} at ${money(o.pricePerUnit, o.token)}/${unit}`,
    `total ${money(o.totalPrice, o.token)}`,
    `deadline ${o.deliveryDeadline}`,
  ].join("  ");
}

function orderEventText(e: OrderEventJson, unit: string, org: OrgNames, money: Money, token: string): string {
  const d = e.details as Record<string, string | number | null | undefined>;
  switch (e.type) {
    case "funded":
      return `funded with ${money(String(d.amount), token)} from ${d.from}`;
    case "cancelled":
      return `cancelled by ${org(String(d.byOrgId))}`;
    case "rejected":
      return `${d.quantity} ${unit} rejected by the buyer: ${d.reason}`;
    case "frozen":
      return `frozen: delivered batch ${d.batchId} is recalled`;
    case "resolved":
      if (d.byOrgId === "timeout") return `undecided by the deadline: the order's default split applied, ${Number(d.sellerShareBps) / 100}% of the contested value to the seller`;
      return `resolved by ${d.byOrgId === "governance" ? "governance" : org(String(d.byOrgId))}: ${Number(d.sellerShareBps) / 100}% of the contested value to the seller`;
    case "paid_to_seller":
      return `${money(String(d.amount), token)} credited to the seller (${org(String(d.orgId))})`;
    case "refunded_to_buyer":
      return `${money(String(d.amount), token)} credited back to the buyer (${org(String(d.orgId))})`;
    default:
      return `${e.type} ${Object.entries(d).map(([k, v]) => `${k}=${v}`).join(" ")}`;
  }
}

export function renderOrder(o: OrderDetailJson, org: OrgNames, money: Money): string {
  const unit = o.unit ?? "units";
  const rows: [string, string][] = [
    ["order", o.orderId],
    ["status", o.status],
    ["buyer", org(o.buyerOrgId)],
    ["seller", org(o.sellerOrgId)],
    ["arbiter", o.arbiterOrgId ? org(o.arbiterOrgId) : "none (no disputes; governance settles a freeze)"],
    ["product", `GTIN ${o.gtin}${o.unit ? ` (${o.unit})` : " (not registered)"}`],
    ["quantity", `${o.quantity} ${unit}`],
    ["price", `${money(o.pricePerUnit, o.token)} per ${unit}`],
    ["total", money(o.totalPrice, o.token)],
    ["deadline", o.deliveryDeadline],
    ["inspection", `${inspectionText(o.inspectionWindowSeconds)}${o.inspectionEnds ? `, ends ${o.inspectionEnds}` : " after each delivery"}`],
    ["funded", o.funded === "0" ? "not yet" : `${money(o.funded, o.token)}${o.buyerWallet ? ` by ${o.buyerWallet}` : ""}`],
    ["held", `${money(o.held, o.token)} in escrow`],
    ["delivered", `${o.delivered} of ${o.quantity} ${unit}${o.contested !== "0" ? ` (${o.contested} ${unit} contested)` : ""}`],
    ["terms hash", o.termsHash],
    ["created", `${o.createdAt} in block ${o.createdBlock}`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  const list = (title: string, lines: string[]) => [`${title}:`, ...(lines.length ? lines.map((l) => `  ${l}`) : ["  none"])];
  return [
    ...rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`),
    ...list(
      "deliveries",
      o.deliveries.map((d) => `${d.batchId}  ${d.quantity.padStart(10)} ${unit}  sale ${d.saleIndex}  ${d.at}  inspection until ${d.inspectionEnds}`),
    ),
    ...list("disputes", o.disputes.map((e) => `${e.at}  ${orderEventText(e, unit, org, money, o.token)}`)),
    ...list("payments", o.payments.map((e) => `${e.at}  ${orderEventText(e, unit, org, money, o.token)}`)),
  ].join("\n");
}
