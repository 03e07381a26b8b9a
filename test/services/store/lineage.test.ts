import path from "node:path";
import { expect } from "chai";
import fc from "fast-check";
import { openDatabase, type Db } from "../../../services/store/db";
import { createProvenanceStore } from "../../../services/store/provenance";
import { downstreamClosure, LineageTooLargeError, traceLineage, type Direction } from "../../../services/provenance/trace";
import { tempDir } from "../../helpers/chain";

/**
 * The trace's batched walk (store.lineage: one query per level over lineage_edges) and the batched
 * batch views (store.getBatches) against what they replace: traceLineage over store.neighbours, one
 * query per batch, and getBatch one batch at a time. Same answers, same order, on random graphs
 * with diamonds, shared ancestors and cycles, under depth and size limits.
 */
const id = (i: number) => `0x${i.toString(16).padStart(64, "0")}`;
const zero = `0x${"0".repeat(64)}`;

function insertGraph(db: Db, nodes: number, edges: [number, number, number][]): void {
  db.exec(`DELETE FROM lineage_edges; DELETE FROM batches; DELETE FROM recalls; DELETE FROM order_deliveries; DELETE FROM logistic_units`);
  const batch = db.prepare(
    `INSERT INTO batches (batch_id, lot_id, gtin, lot, quantity, unit, owner_org, custodian_org, producer_org, status, recall, unit_key,
       metadata_hash, created_at, created_block, created_tx, updated_block)
     VALUES (?, ?, '04012345000016', ?, '1500', 'KGM', 1, 2, 1, 'active', ?, ?, ?, '2026-01-01T00:00:00.000Z', 1, ?, 1)`,
  );
  const edge = db.prepare(`INSERT OR IGNORE INTO lineage_edges (from_batch, to_batch, kind, quantity, unit, block_number, tx_hash) VALUES (?, ?, ?, ?, ?, ?, ?)`);
  db.transaction(() => {
    for (let i = 0; i < nodes; i++) {
      const recalled = i % 5 === 3;
      const unitKey = i % 4 === 1 ? id(10_000 + i) : null;
      batch.run(id(i), id(i), `L${i}`, recalled ? "direct" : "none", unitKey, zero, zero);
      if (recalled)
        db.prepare(`INSERT INTO recalls (batch_id, kind, source_batch, reason, by_org, block_number, tx_hash, time) VALUES (?, 'direct', NULL, 'test', 1, 2, ?, 't')`).run(id(i), zero);
      if (unitKey) db.prepare(`INSERT INTO logistic_units (unit_key, sscc, custodian_org, status, updated_block) VALUES (?, ?, 2, 'active', 1)`).run(unitKey, `0${i}`.padStart(18, "0"));
      if (i % 3 === 2)
        for (const order of [7 + i, 3])
          db.prepare(`INSERT INTO order_deliveries (batch_id, order_id, quantity, inspection_ends, block_number, tx_hash, time) VALUES (?, ?, '1', 0, 1, ?, 't')`).run(id(i), order, zero);
    }
    // A few kinds and units, mostly one pair, and quantities varying on their own: a walk meets the
    // same values, the same kind and unit with another quantity, and others (one kind needs escaping in JSON).
    for (const [from, to, block] of edges) {
      if (from === to) continue;
      const [kind, unit] = [["MERGE", "KGM"], ["MERGE", "KGM"], ['BLEND "α"', "KGM"], ["MERGE", "LTR"]][(from * 7 + to * 3 + block) % 4];
      edge.run(id(from), id(to), kind, ["2500", "1000", "2500000"][(from + 2 * to + block) % 3], unit, block, zero);
    }
  })();
}

function outcome(walk: () => unknown): unknown {
  try {
    return walk();
  } catch (err) {
    if (err instanceof LineageTooLargeError) return { tooLarge: err.limit };
    throw err;
  }
}

describe("Lineage walk level by level and batched batch views", function () {
  let db: Db;
  before(function () {
    db = openDatabase(path.join(tempDir("lineage"), "lotline.sqlite"));
  });
  after(function () {
    db.close();
  });

  it("answers as the batch-by-batch walk: same nodes, depths, edges, order and truncation, cycles and diamonds included", function () {
    const store = createProvenanceStore(db);
    // A walk budget of 3 batches: larger walks are done again batch by batch, as past a million.
    const small = createProvenanceStore(db, { walkBudget: 3 });
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 24 }).chain((n) =>
          fc.record({
            n: fc.constant(n),
            edges: fc.array(fc.tuple(fc.nat(n - 1), fc.nat(n - 1), fc.nat(4)), { maxLength: n * 3 }),
            root: fc.nat(n - 1),
            directions: fc.constantFrom<Direction[]>(["upstream"], ["downstream"], ["upstream", "downstream"]),
            maxDepth: fc.oneof(fc.nat(6), fc.constant(Number.MAX_SAFE_INTEGER)),
            maxNodes: fc.oneof(fc.constant(undefined), fc.nat(12)),
          }),
        ),
        ({ n, edges, root, directions, maxDepth, maxNodes }) => {
          insertGraph(db, n, edges);
          const limits = maxNodes === undefined ? {} : { maxNodes };
          const expected = outcome(() => traceLineage(id(root), directions, maxDepth, store.neighbours, limits));
          expect(outcome(() => store.lineage(id(root), directions, maxDepth, limits))).to.deep.equal(expected);
          expect(outcome(() => small.lineage(id(root), directions, maxDepth, limits))).to.deep.equal(expected);
          const closure = outcome(() => downstreamClosure(id(root), store.neighbours, limits));
          expect(outcome(() => store.downstreamClosure(id(root), limits))).to.deep.equal(closure);
          expect(outcome(() => small.downstreamClosure(id(root), limits))).to.deep.equal(closure);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("stops where the batch-by-batch walk stops past maxNodes: a lattice of many equal-length paths", function () {
    // Every batch of layer k feeds both of layer k + 1, with shortcuts from each layer to the one
    // after next: a batch is reached at several depths over many paths, and is read once, at the first.
    const edges: [number, number, number][] = [];
    for (let k = 0; k < 9; k++)
      for (const a of [2 * k, 2 * k + 1]) {
        edges.push([a, 2 * k + 2, k], [a, 2 * k + 3, k]);
        if (k < 8) edges.push([a, 2 * k + 4, k]);
      }
    insertGraph(db, 20, edges);
    const store = createProvenanceStore(db);
    for (const maxNodes of [5, 19, 20, 40]) {
      const expected = outcome(() => traceLineage(id(0), ["downstream"], 50, store.neighbours, { maxNodes }));
      expect(outcome(() => store.lineage(id(0), ["downstream"], 50, { maxNodes }))).to.deep.equal(expected);
    }
    expect(store.downstreamClosure(id(0))).to.have.length(18);
  });

  it("builds many batches' views in a few queries, as one at a time (recall, order, logistic unit; ids as given, in order)", function () {
    insertGraph(db, 30, []);
    const store = createProvenanceStore(db);
    const ids = [id(4), id(3).toUpperCase().replace("0X", "0x"), id(99), id(8), id(4), id(1), id(5), id(13), id(14), id(17)];
    const batched = store.getBatches(ids);
    const oneByOne = new Map(ids.flatMap((i) => {
      const b = store.getBatch(i);
      return b ? [[i, b] as const] : [];
    }));
    expect([...batched.keys()]).to.deep.equal([...oneByOne.keys()]);
    expect([...batched.values()]).to.deep.equal([...oneByOne.values()]);
    expect(batched.get(id(3).toUpperCase().replace("0X", "0x"))!.recall).to.include({ kind: "direct", reason: "test" });
    expect(batched.get(id(5))!.logisticUnit).to.deep.equal({ unitKey: id(10_005), sscc: "000000000000000005" });
    // Delivered against order 15, then (a later sale) order 3: the batch's order is its latest sale's.
    expect(batched.get(id(8))!.orderId).to.equal("3");
    expect(batched.has(id(99))).to.equal(false);
  });
});
