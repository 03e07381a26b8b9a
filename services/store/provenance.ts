import type { Db } from "./db";
import { prepared } from "./statements";
import { formatDigitalLink } from "../gs1/digital-link";
import { formatQuantity } from "../provenance/quantity";
import { LineageTooLargeError, traceLineage, type Direction, type LineageEdge, type Neighbours, type TraceResult } from "../provenance/trace";

/** Most batches one level-by-level walk reads in a direction; a larger walk goes on batch by batch. */
const WALK_BUDGET = 1_000_000;


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

export function createProvenanceStore(db: Db, options: { walkBudget?: number } = {}) {
  const walkBudget = options.walkBudget ?? WALK_BUDGET;
  const recallOf = (id: string) => prepared(db, `SELECT * FROM recalls WHERE batch_id = ?`).get(id) as RecallRow | undefined;
  /**
   * The order the batch's latest sale counts toward: the one it is held under now (a batch sold,
   * sold back and bought again counts toward each of its orders in turn; its sales list them all).
   */
  const orderOf = (id: string) => {
    const row = prepared(db, `SELECT order_id FROM order_deliveries WHERE batch_id = ? ORDER BY sale_index DESC LIMIT 1`).get(id) as { order_id: number } | undefined;
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
    // The latest delivery of each batch (highest sale index), as orderOf reads it.
    const orders = new Map<string, string>();
    for (const r of prepared(
      db,
      `SELECT batch_id, order_id FROM order_deliveries WHERE batch_id IN (SELECT value FROM json_each(?)) ORDER BY batch_id, sale_index DESC`,
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

  /** What a level query returns per edge: the near batch's position in the level, the far batch, the block, and the edge's values coded (levelRows). */
  type LevelRow = [at: number, far: string, block: number, values?: 0 | string];

  /**
   * The edges of one level's batches, one query whatever their number (the batches bound as one JSON
   * array; CROSS JOIN keeps them as the outer loop, one search each of the direction's covering index
   * lineage_edges_upstream / _downstream), grouped by the batch's position in the level and, within
   * it, in walk order (block, then the other batch): the index yields them so; checked, and sorted
   * should they not be. The position comes back rather than the batch id: half the strings to copy
   * out of SQLite, which is most of a large walk's time. An edge's kind, quantity and unit come back
   * as one value, measured against `common` (the first triple the walk met): 0 for the very same
   * triple, the quantity alone for the same kind and unit, else the three as one JSON array. A closure
   * repeats a few kinds and units thousands of times; quantities repeat on some chains, not on others.
   */
  function levelRows(level: readonly string[], direction: Direction, common: readonly [string, string, string] | null | "ids"): LevelRow[] {
    const [near, far] = direction === "upstream" ? ["to_batch", "from_batch"] : ["from_batch", "to_batch"];
    // near and far are one of two fixed column names; every value is a bound parameter.
    const from = `FROM json_each(@level) j CROSS JOIN lineage_edges e WHERE e.${near} = j.value`;
    const rows =
      common === "ids"
        ? (prepared(db, `SELECT j.key, e.${far}, e.block_number ${from}`).raw(true).all({ level: JSON.stringify(level) }) as LevelRow[])
        : (prepared(
            db,
            `SELECT j.key, e.${far}, e.block_number,
               CASE WHEN e.kind = @kind AND e.unit = @unit THEN iif(e.quantity = @quantity, 0, e.quantity) ELSE json_array(e.kind, e.quantity, e.unit) END ${from}`,
          )
            .raw(true)
            .all({ kind: common?.[0] ?? null, quantity: common?.[1] ?? null, unit: common?.[2] ?? null, level: JSON.stringify(level) }) as LevelRow[]);
    const before = (x: LevelRow, y: LevelRow) => x[0] - y[0] || x[2] - y[2] || (x[1] < y[1] ? -1 : x[1] > y[1] ? 1 : 0);
    for (let i = 1; i < rows.length; i++)
      if (before(rows[i - 1], rows[i]) >= 0) {
        rows.sort(before);
        break;
      }
    return rows;
  }

  /**
   * traceLineage's answer (same nodes, depths, edges, order and truncation; LineageTooLargeError past
   * `maxNodes`) from one query per level and direction rather than one per batch (docs/performance.md
   * "Trace"): breadth first, each batch's edges read once, in the order traceLineage meets them.
   * `withEdges` false leaves the edges out (callers that need the batches only): no edge values read.
   * Null when a direction reaches more than the walk budget (WALK_BUDGET) batches: the caller walks batch by batch.
   */
  function walk(root: string, directions: Direction[], maxDepth: number, maxNodes: number, withEdges: boolean): TraceResult | null {
    const depthOf = new Map<string, number>([[root, 0]]);
    const edges: LineageEdge[] = [];
    // Edge values by what the query returns for them (levelRows), and the first met, which the query
    // then returns as 0 (as its quantity alone with the same kind and unit). Quantities are formatted
    // once per distinct value.
    const values = new Map<string, { type: string; quantity: string; unit: string }>();
    let common: { type: string; quantity: string; unit: string; raw: [string, string, string] } | undefined;
    const quantities = new Map<string, string>();
    const quantity = (raw: string) => {
      let formatted = quantities.get(raw);
      if (formatted === undefined) quantities.set(raw, (formatted = formatQuantity(raw)));
      return formatted;
    };
    let truncated = false;
    // Walking the second direction, an edge met again (only around a cycle through the root) keeps
    // its first place, as in traceLineage: looked up only for edges whose two ends the first reached.
    let firstEdges: Map<string, Map<string, number>> | undefined;
    const firstNodes = new Set<string>();
    for (const [d, direction] of directions.entries()) {
      const upstream = direction === "upstream";
      const sign = upstream ? -1 : 1;
      if (d > 0) {
        for (const id of depthOf.keys()) firstNodes.add(id);
      }
      const reached = new Set<string>([root]);
      let level = [root];
      for (let depth = 0; level.length > 0; depth++) {
        if (depth >= maxDepth) {
          // The edges past maxDepth only say whether the walk was cut.
          if (levelRows(level, direction, "ids").length > 0) truncated = true;
          break;
        }
        const rows = levelRows(level, direction, withEdges ? (common?.raw ?? null) : "ids");
        const next: string[] = [];
        for (const [at, other, , coded] of rows) {
          if (withEdges) {
            let value = coded === 0 ? common : values.get(coded!);
            if (value === undefined) {
              const text = coded as string;
              // A JSON array, or a quantity (digits: the indexer writes a uint) of the common kind and unit.
              if (text.startsWith("[")) {
                const raw = JSON.parse(text) as [string, string, string];
                value = { type: raw[0].toLowerCase(), quantity: quantity(raw[1]), unit: raw[2] };
                common ??= { ...value, raw };
              } else value = { type: common!.type, quantity: quantity(text), unit: common!.unit };
              values.set(text, value);
            }
            const id = level[at];
            const edge: LineageEdge = upstream
              ? { from: other, to: id, type: value.type, quantity: value.quantity, unit: value.unit }
              : { from: id, to: other, type: value.type, quantity: value.quantity, unit: value.unit };
            const seenBefore = d > 0 && firstNodes.has(edge.from) && firstNodes.has(edge.to) ? indexOfEdge(edge) : undefined;
            if (seenBefore === undefined) edges.push(edge);
            else edges[seenBefore] = edge;
          }
          if (reached.has(other)) continue;
          reached.add(other);
          if (reached.size > walkBudget) return null;
          if (!depthOf.has(other)) {
            depthOf.set(other, sign * (depth + 1));
            // Stops as soon as the answer is known to be too large: the walk's work stays bounded too.
            if (depthOf.size > maxNodes) throw new LineageTooLargeError(maxNodes);
          }
          next.push(other);
        }
        level = next;
      }
    }
    return { root, nodes: [...depthOf].map(([id, depth]) => ({ id, depth })), edges, truncated };

    function indexOfEdge(edge: LineageEdge): number | undefined {
      if (!firstEdges) {
        firstEdges = new Map();
        for (const [i, e] of edges.entries()) {
          let byTo = firstEdges.get(e.from);
          if (!byTo) firstEdges.set(e.from, (byTo = new Map()));
          byTo.set(e.to, i);
        }
      }
      return firstEdges.get(edge.from)?.get(edge.to);
    }
  }

  /**
   * traceLineage (same answer, same order) over one query per level and direction rather than one
   * per batch. A walk past the walk budget (WALK_BUDGET batches in a direction) is done again batch by batch.
   * `withEdges` false: for callers that need the batches only, the walk reads no edge values.
   */
  function lineage(root: string, directions: Direction[], maxDepth: number, limits: { maxNodes?: number } = {}, withEdges = true): TraceResult {
    return (
      walk(root, directions, maxDepth, limits.maxNodes ?? Number.MAX_SAFE_INTEGER, withEdges) ??
      traceLineage(root, directions, maxDepth, neighbours, limits)
    );
  }

  return {
    neighbours,
    lineage,
    /** Every batch downstream of `root` (excluding it), as downstreamClosure answers it. */
    downstreamClosure(root: string, limits: { maxNodes?: number } = {}): string[] {
      // The batches only: the walk reads no edge values.
      return lineage(root, ["downstream"], Number.MAX_SAFE_INTEGER, limits, false)
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
