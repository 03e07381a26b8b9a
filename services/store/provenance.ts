import type { Db } from "./db";
import { prepared } from "./statements";
import { formatDigitalLink } from "../gs1/digital-link";
import { formatQuantity } from "../provenance/quantity";
import { traceLineage, type Direction, type LineageEdge, type Neighbours, type TraceResult } from "../provenance/trace";

/** Most batches one level-by-level walk reads; a larger walk goes on batch by batch. */
const WALK_BUDGET = 1_000_000;

const farOf = (edge: LineageEdge, direction: Direction) => (direction === "upstream" ? edge.from : edge.to);

/** The one-query walk stopped at its budget before reaching a batch the walk needs. */
class WalkCut extends Error {}

/** Read side of the provenance tables, shaped as the API and CLI show them. */

interface BatchRow {
  batch_id: string;
  lot_id: string;
  gtin: string;
  lot: string;
  parent_id: string | null;
  portion_index: number | null;
  quantity: string;
  unit: string;
  owner_org: number;
  custodian_org: number;
  producer_org: number;
  location: string | null;
  status: "active" | "in_transit" | "consumed" | "destroyed";
  recall: "none" | "direct" | "propagated";
  unit_key: string | null;
  offer_to: number | null;
  offer_kind: string | null;
  offer_quantity: string | null;
  metadata_hash: string;
  created_at: string;
  created_block: number;
  created_tx: string;
}

interface RecallRow {
  batch_id: string;
  kind: "direct" | "propagated";
  source_batch: string | null;
  reason: string | null;
  by_org: number | null;
  block_number: number;
  tx_hash: string;
  time: string;
}

const BATCH_COLUMNS = [
  "batch_id", "lot_id", "gtin", "lot", "parent_id", "portion_index", "quantity", "unit", "owner_org", "custodian_org", "producer_org", "location",
  "status", "recall", "unit_key", "offer_to", "offer_kind", "offer_quantity", "metadata_hash", "created_at", "created_block", "created_tx",
] as const;

/** A BatchRow from the columns of BATCH_COLUMNS, in that order. */
function batchRow(r: unknown[]): BatchRow {
  return {
    batch_id: r[0] as string,
    lot_id: r[1] as string,
    gtin: r[2] as string,
    lot: r[3] as string,
    parent_id: r[4] as string | null,
    portion_index: r[5] as number | null,
    quantity: r[6] as string,
    unit: r[7] as string,
    owner_org: r[8] as number,
    custodian_org: r[9] as number,
    producer_org: r[10] as number,
    location: r[11] as string | null,
    status: r[12] as BatchRow["status"],
    recall: r[13] as BatchRow["recall"],
    unit_key: r[14] as string | null,
    offer_to: r[15] as number | null,
    offer_kind: r[16] as string | null,
    offer_quantity: r[17] as string | null,
    metadata_hash: r[18] as string,
    created_at: r[19] as string,
    created_block: r[20] as number,
    created_tx: r[21] as string,
  };
}

export type BatchStatus = "active" | "in_transit" | "consumed" | "destroyed" | "recalled";

export interface BatchView {
  id: string;
  batchId: string;
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
  status: BatchStatus;
  recall: null | {
    kind: "direct" | "propagated";
    reason: string | null;
    sourceBatchId: string | null;
    byOrgId: string | null;
    at: string;
    blockNumber: number;
    transactionHash: string;
  };
  logisticUnit: null | { unitKey: string; sscc: string };
  pendingOffer: null | { toOrgId: string; kind: string; quantity: string };
  /** The purchase order this batch was delivered against, if any. */
  orderId: string | null;
  metadataHash: string;
  createdAt: string;
  createdBlock: number;
  transactionHash: string;
}

export interface BatchFilters {
  owner?: number;
  custodian?: number;
  gtin?: string;
  lot?: string;
  status?: BatchStatus;
}

/**
 * A batch's status as users see it: a recalled batch that is still in circulation (active or in
 * transit) is `recalled`; consumed and destroyed batches keep their end state (the recall shows
 * in `recall`).
 */
function visibleStatus(row: Pick<BatchRow, "status" | "recall">): BatchStatus {
  return row.recall !== "none" && (row.status === "active" || row.status === "in_transit") ? "recalled" : row.status;
}

export function createProvenanceStore(db: Db) {
  const recallOf = (id: string) => prepared(db, `SELECT * FROM recalls WHERE batch_id = ?`).get(id) as RecallRow | undefined;
  const orderOf = (id: string) => {
    const row = prepared(db, `SELECT order_id FROM order_deliveries WHERE batch_id = ?`).get(id) as { order_id: number } | undefined;
    return row ? String(row.order_id) : null;
  };
  const ssccOf = (key: string) => (prepared(db, `SELECT sscc FROM logistic_units WHERE unit_key = ?`).get(key) as { sscc: string } | undefined)?.sscc;

  /** What a view joins from other tables, looked up one batch at a time unless preloaded for many. */
  interface Joined {
    recall(row: BatchRow): RecallRow | undefined;
    order(batchId: string): string | null;
    sscc(unitKey: string): string | undefined;
  }
  const oneByOne: Joined = {
    recall: (row) => (row.recall === "none" ? undefined : recallOf(row.batch_id)),
    order: orderOf,
    sscc: ssccOf,
  };

  function view(row: BatchRow, joined: Joined = oneByOne): BatchView {
    const recall = joined.recall(row);
    return {
      id: row.batch_id,
      batchId: row.batch_id,
      lotId: row.lot_id,
      gtin: row.gtin,
      lot: row.lot,
      digitalLink: formatDigitalLink(row.gtin, row.lot),
      parentId: row.parent_id,
      portionIndex: row.portion_index,
      quantity: formatQuantity(row.quantity),
      unit: row.unit,
      ownerOrgId: String(row.owner_org),
      custodianOrgId: String(row.custodian_org),
      producerOrgId: String(row.producer_org),
      location: row.location,
      status: visibleStatus(row),
      recall: recall
        ? {
            kind: recall.kind,
            reason: recall.reason,
            sourceBatchId: recall.source_batch,
            byOrgId: recall.by_org === null ? null : String(recall.by_org),
            at: recall.time,
            blockNumber: recall.block_number,
            transactionHash: recall.tx_hash,
          }
        : null,
      logisticUnit: row.unit_key ? { unitKey: row.unit_key, sscc: joined.sscc(row.unit_key) ?? "" } : null,
      pendingOffer:
        row.offer_to === null ? null : { toOrgId: String(row.offer_to), kind: row.offer_kind!, quantity: formatQuantity(row.offer_quantity!) },
      orderId: joined.order(row.batch_id),
      metadataHash: row.metadata_hash,
      createdAt: row.created_at,
      createdBlock: row.created_block,
      transactionHash: row.created_tx,
    };
  }

  const byId = (id: string) => prepared(db, `SELECT * FROM batches WHERE batch_id = ?`).get(id.toLowerCase()) as BatchRow | undefined;

  /**
   * Many batches' views in four statements (batches, their recalls, orders and logistic units),
   * whatever their number: a trace of a thousand nodes costs four queries, not five thousand.
   */
  function viewsOf(ids: readonly string[]): Map<string, BatchView> {
    const wanted = JSON.stringify([...new Set(ids.map((id) => id.toLowerCase()))]);
    const rows = new Map<string, BatchRow>();
    // Rows as arrays, made into objects here: better-sqlite3's row objects cost twice the query.
    for (const r of prepared(db, `SELECT ${BATCH_COLUMNS.join(", ")} FROM batches WHERE batch_id IN (SELECT value FROM json_each(?))`)
      .raw(true)
      .all(wanted) as unknown[][]) {
      const row = batchRow(r);
      rows.set(row.batch_id, row);
    }
    const recalled = [...rows.values()].filter((r) => r.recall !== "none").map((r) => r.batch_id);
    const recalls = new Map<string, RecallRow>();
    if (recalled.length > 0)
      for (const r of prepared(db, `SELECT * FROM recalls WHERE batch_id IN (SELECT value FROM json_each(?))`).all(JSON.stringify(recalled)) as RecallRow[])
        recalls.set(r.batch_id, r);
    // The first delivery of each batch (lowest sale index), as orderOf reads it.
    const orders = new Map<string, string>();
    for (const r of prepared(
      db,
      `SELECT batch_id, order_id FROM order_deliveries WHERE batch_id IN (SELECT value FROM json_each(?)) ORDER BY batch_id, sale_index`,
    ).all(wanted) as { batch_id: string; order_id: number }[])
      if (!orders.has(r.batch_id)) orders.set(r.batch_id, String(r.order_id));
    const unitKeys = [...new Set([...rows.values()].map((r) => r.unit_key).filter((k): k is string => k !== null))];
    const ssccs = new Map<string, string>();
    if (unitKeys.length > 0)
      for (const r of prepared(db, `SELECT unit_key, sscc FROM logistic_units WHERE unit_key IN (SELECT value FROM json_each(?))`).all(
        JSON.stringify(unitKeys),
      ) as { unit_key: string; sscc: string }[])
        ssccs.set(r.unit_key, r.sscc);
    const joined: Joined = { recall: (row) => recalls.get(row.batch_id), order: (id) => orders.get(id) ?? null, sscc: (key) => ssccs.get(key) };
    const out = new Map<string, BatchView>();
    const views = new Map<string, BatchView>();
    for (const id of ids) {
      const key = id.toLowerCase();
      const row = rows.get(key);
      if (!row) continue;
      let v = views.get(key);
      if (!v) views.set(key, (v = view(row, joined)));
      out.set(id, v);
    }
    return out;
  }

  const neighbours: Neighbours = (batchId: string, direction: Direction): LineageEdge[] => {
    const sql =
      direction === "upstream"
        ? `SELECT from_batch, to_batch, kind, quantity, unit FROM lineage_edges WHERE to_batch = ? ORDER BY block_number, from_batch`
        : `SELECT from_batch, to_batch, kind, quantity, unit FROM lineage_edges WHERE from_batch = ? ORDER BY block_number, to_batch`;
    return (prepared(db, sql).all(batchId) as { from_batch: string; to_batch: string; kind: string; quantity: string; unit: string }[]).map((r) => ({
      from: r.from_batch,
      to: r.to_batch,
      type: r.kind.toLowerCase(),
      quantity: formatQuantity(r.quantity),
      unit: r.unit,
    }));
  };

  /**
   * The edges a walk from `root` in `direction` reads, `maxDepth` edges deep (docs/performance.md
   * "Trace"): breadth first, one query per level (the level's batches bound as one JSON array), each
   * batch read once, at most `budget` batches; the edges of every batch it reached, those of its last
   * level included (they say whether the walk was cut), from the covering index
   * lineage_edges_upstream / _downstream. Keyed by the batch on the root's side, each list in walk
   * order (block, then the other batch); a batch the walk reached without edges maps to [], one it
   * did not reach is absent.
   */
  function closureEdges(root: string, direction: Direction, maxDepth: number, budget: number): Map<string, LineageEdge[]> {
    const [near, far] = direction === "upstream" ? ["to_batch", "from_batch"] : ["from_batch", "to_batch"];
    // near and far are one of two fixed column names; every value is a bound parameter. CROSS JOIN
    // keeps the level's batches as the outer loop: one index search each, rows grouped by batch.
    // The level's position (j.key) comes back rather than the batch id: half the strings to copy
    // out of SQLite, which is most of a large walk's time.
    const statement = prepared(
      db,
      `SELECT j.key, e.${far}, e.kind, e.quantity, e.unit, e.block_number
       FROM json_each(?) j CROSS JOIN lineage_edges e WHERE e.${near} = j.value`,
    ).raw(true);
    const out = new Map<string, LineageEdge[]>();
    // A closure repeats a few kinds and quantities thousands of times; each is formatted once.
    const kinds = new Map<string, string>();
    const quantities = new Map<string, string>();
    const reached = new Set<string>([root]);
    let level = [root];
    for (let depth = 0; level.length > 0; depth++) {
      const lists = level.map((id) => {
        const list: LineageEdge[] = [];
        out.set(id, list);
        return list;
      });
      const rows = statement.all(JSON.stringify(level)) as [number, string, string, string, string, number][];
      const next: string[] = [];
      // The index yields each batch's edges together, in walk order (block, then the other batch);
      // checked as they come, and sorted should they not be.
      let ordered = true;
      let previous: (typeof rows)[number] | undefined;
      for (const row of rows) {
        const [at, other, kind, quantity, unit, block] = row;
        if (previous !== undefined && (previous[0] > at || (previous[0] === at && !(previous[5] < block || (previous[5] === block && previous[1] < other)))))
          ordered = false;
        previous = row;
        const id = level[at];
        let type = kinds.get(kind);
        if (type === undefined) kinds.set(kind, (type = kind.toLowerCase()));
        let amount = quantities.get(quantity);
        if (amount === undefined) quantities.set(quantity, (amount = formatQuantity(quantity)));
        lists[at].push(direction === "upstream" ? { from: other, to: id, type, quantity: amount, unit } : { from: id, to: other, type, quantity: amount, unit });
        if (depth < maxDepth && !reached.has(other) && reached.size < budget) {
          reached.add(other);
          next.push(other);
        }
      }
      if (!ordered) {
        const blockOf = new Map<string, number>(rows.map((r) => [`${level[r[0]]}>${r[1]}`, r[5]]));
        const key = (e: LineageEdge) => (direction === "upstream" ? `${e.to}>${e.from}` : `${e.from}>${e.to}`);
        for (const list of lists)
          list.sort((a, b) => blockOf.get(key(a))! - blockOf.get(key(b))! || (farOf(a, direction) < farOf(b, direction) ? -1 : farOf(a, direction) > farOf(b, direction) ? 1 : 0));
      }
      level = next;
    }
    return out;
  }

  /**
   * traceLineage (same answer, same order) over the edges closureEdges reads in one query per level
   * and direction rather than one per batch. A walk larger than its budget (more batches than
   * `maxNodes` + 1, or than WALK_BUDGET) is finished batch by batch, where the walk stops as soon as
   * it passes `maxNodes`.
   */
  function lineage(root: string, directions: Direction[], maxDepth: number, limits: { maxNodes?: number } = {}): TraceResult {
    const budget = Math.min(WALK_BUDGET, (limits.maxNodes ?? Number.MAX_SAFE_INTEGER) + 1);
    const loaded = new Map<Direction, Map<string, LineageEdge[]>>();
    const inMemory: Neighbours = (id, direction) => {
      let edges = loaded.get(direction);
      if (!edges) loaded.set(direction, (edges = closureEdges(root, direction, maxDepth, budget)));
      const found = edges.get(id);
      if (found === undefined) throw new WalkCut();
      return found;
    };
    try {
      return traceLineage(root, directions, maxDepth, inMemory, limits);
    } catch (err) {
      if (!(err instanceof WalkCut)) throw err;
      return traceLineage(root, directions, maxDepth, neighbours, limits);
    }
  }

  return {
    neighbours,
    lineage,
    /** Every batch downstream of `root` (excluding it), as downstreamClosure answers it. */
    downstreamClosure(root: string, limits: { maxNodes?: number } = {}): string[] {
      return lineage(root, ["downstream"], Number.MAX_SAFE_INTEGER, limits)
        .nodes.filter((n) => n.id !== root)
        .map((n) => n.id);
    },
    getBatch(id: string): BatchView | null {
      const row = byId(id);
      return row ? view(row) : null;
    },
    /** Views of these batches, keyed by the ids as given, in their order; unknown ids are left out. */
    getBatches(ids: string[]): Map<string, BatchView> {
      return viewsOf(ids);
    },
    /** The lot's first portion (whose id is the lot id), by GTIN-14 and lot number. */
    lotIdOf(gtin: string, lot: string): string | null {
      const row = prepared(db, `SELECT lot_id FROM lots WHERE gtin = ? AND lot = ?`).get(gtin, lot) as { lot_id: string } | undefined;
      return row?.lot_id ?? null;
    },
    /** Every portion of a lot with the lot's total quantity still in portions. */
    lotSummary(lotId: string) {
      const rows = prepared(db, `SELECT batch_id, quantity, status, recall FROM batches WHERE lot_id = ? ORDER BY created_block, rowid`).all(lotId) as Pick<
        BatchRow,
        "batch_id" | "quantity" | "status" | "recall"
      >[];
      const lot = prepared(db, `SELECT * FROM lots WHERE lot_id = ?`).get(lotId) as { gtin: string; lot: string; producer_org: number; registered_at: string };
      const total = rows.filter((r) => r.status === "active" || r.status === "in_transit").reduce((sum, r) => sum + BigInt(r.quantity), 0n);
      return {
        lotId,
        gtin: lot.gtin,
        lot: lot.lot,
        digitalLink: formatDigitalLink(lot.gtin, lot.lot),
        producerOrgId: String(lot.producer_org),
        registeredAt: lot.registered_at,
        quantityInCirculation: formatQuantity(total),
        portions: rows.map((r) => ({ id: r.batch_id, quantity: formatQuantity(r.quantity), status: visibleStatus(r) })),
      };
    },
    listBatches(filters: BatchFilters, page: { limit: number; after: number }) {
      const where: string[] = ["rowid > ?"];
      const params: unknown[] = [page.after];
      const equals: [string, unknown][] = [
        ["owner_org", filters.owner],
        ["custodian_org", filters.custodian],
        ["gtin", filters.gtin],
        ["lot", filters.lot],
      ];
      for (const [column, value] of equals) {
        if (value === undefined) continue;
        where.push(`${column} = ?`);
        params.push(value);
      }
      if (filters.status === "recalled") where.push("recall <> 'none' AND status IN ('active', 'in_transit')");
      else if (filters.status !== undefined) {
        where.push("status = ?");
        params.push(filters.status);
        if (filters.status === "active" || filters.status === "in_transit") where.push("recall = 'none'");
      }
      // The WHERE clause is assembled from fixed fragments; every value is a bound parameter.
      const rows = prepared(db, `SELECT rowid AS _rowid, * FROM batches WHERE ${where.join(" AND ")} ORDER BY rowid LIMIT ?`).all(
        ...params,
        page.limit + 1,
      ) as (BatchRow & { _rowid: number })[];
      const items = rows.slice(0, page.limit);
      return { items: items.map((r) => view(r)), more: rows.length > page.limit, last: items.at(-1)?._rowid ?? null };
    },
    history(batchId: string) {
      return (
        prepared(db, `SELECT * FROM batch_events WHERE batch_id = ? ORDER BY block_number, log_index`).all(batchId) as {
          block_number: number;
          log_index: number;
          type: string;
          details: string;
          tx_hash: string;
          time: string;
        }[]
      ).map((r) => {
        const details = JSON.parse(r.details) as Record<string, unknown>;
        for (const key of ["quantity", "remaining"]) if (typeof details[key] === "string") details[key] = formatQuantity(details[key] as string);
        return { type: r.type, at: r.time, blockNumber: r.block_number, logIndex: r.log_index, transactionHash: r.tx_hash, details };
      });
    },
    /** The SSCCs of the logistic units a batch was ever packed into (its EPCIS events may name them). */
    ssccsOf(batchId: string): string[] {
      const packed = (prepared(db, `SELECT details FROM batch_events WHERE batch_id = ? AND type = 'packed' ORDER BY block_number, log_index`).all(batchId) as {
        details: string;
      }[]).map((r) => (JSON.parse(r.details) as { sscc?: string }).sscc);
      const row = byId(batchId);
      const current = row?.unit_key ? ssccOf(row.unit_key) : undefined;
      return [...new Set([...packed, current].filter((s): s is string => typeof s === "string" && s !== ""))];
    },
    /** ssccsOf for many batches (their views, from getBatches) in one query: the trace route's per-node EPCIS counts. */
    ssccsOfBatches(batches: ReadonlyMap<string, BatchView>): Map<string, string[]> {
      const packed = new Map<string, (string | undefined)[]>();
      for (const [id, details] of prepared(
        db,
        `SELECT batch_id, details FROM batch_events WHERE batch_id IN (SELECT value FROM json_each(?)) AND type = 'packed' ORDER BY batch_id, block_number, log_index`,
      )
        .raw(true)
        .all(JSON.stringify([...batches.values()].map((b) => b.id))) as [string, string][]) {
        let list = packed.get(id);
        if (!list) packed.set(id, (list = []));
        list.push((JSON.parse(details) as { sscc?: string }).sscc);
      }
      const out = new Map<string, string[]>();
      for (const [key, batch] of batches) {
        const all = [...(packed.get(batch.id) ?? []), batch.logisticUnit?.sscc];
        out.set(key, [...new Set(all.filter((s): s is string => typeof s === "string" && s !== ""))]);
      }
      return out;
    },
    product(gtin: string) {
      const row = prepared(db, `SELECT * FROM products WHERE gtin = ?`).get(gtin) as
        | { gtin: string; org_id: number; unit: string; master_data_hash: string; registered_at: string; registered_block: number; registered_tx: string }
        | undefined;
      if (!row) return null;
      const master = prepared(db, `SELECT document FROM product_master_data WHERE master_data_hash = ?`).get(row.master_data_hash) as
        | { document: string }
        | undefined;
      return {
        id: row.gtin,
        gtin: row.gtin,
        orgId: String(row.org_id),
        unit: row.unit,
        masterDataHash: row.master_data_hash,
        masterData: master ? (JSON.parse(master.document) as Record<string, unknown>) : null,
        registeredAt: row.registered_at,
        blockNumber: row.registered_block,
        transactionHash: row.registered_tx,
      };
    },
    isFlagged(batchId: string): boolean {
      const row = prepared(db, `SELECT recall FROM batches WHERE batch_id = ?`).get(batchId) as { recall: string } | undefined;
      return row !== undefined && row.recall !== "none";
    },
    /** True when the recall of `from` went along the edge `from → to` (recall_edges). */
    isRecallEdge(from: string, to: string): boolean {
      return prepared(db, `SELECT 1 FROM recall_edges WHERE from_batch = ? AND to_batch = ?`).get(from, to) !== undefined;
    },
    /** Propagated edges whose parent is no longer recalled: the withdrawals to propagate, oldest first. */
    withdrawalPairs(): [string, string][] {
      return (
        prepared(
          db,
          `SELECT e.from_batch, e.to_batch FROM recall_edges e JOIN batches b ON b.batch_id = e.from_batch
           WHERE b.recall = 'none' ORDER BY e.block_number, e.from_batch, e.to_batch`,
        ).all() as { from_batch: string; to_batch: string }[]
      ).map((r) => [r.from_batch, r.to_batch]);
    },
    directlyRecalled(): string[] {
      return (prepared(db, `SELECT batch_id FROM recalls WHERE kind = 'direct' ORDER BY block_number`).all() as { batch_id: string }[]).map((r) => r.batch_id);
    },
  };
}
export type ProvenanceStore = ReturnType<typeof createProvenanceStore>;
