import { expect } from "chai";
import { openDatabase, type Db } from "../../../services/store/db";
import { merkleTree } from "../../../services/anchoring/outbox";
import { glnFor } from "../../../services/gs1/keys";
import {
  createAnalyticsStore,
  ProductionRunError,
  recordProductionRun,
  type ProductionRunInput,
} from "../../../services/analytics/store";
import { recordHash, runRecordId } from "../../../services/analytics/record";
import { seedDemoProduction } from "../../../services/demo/production";

/**
 * The production-run store on an in-memory database whose index tables hold a small fixture:
 *
 *   org 1 (prefix 4012345, site S1): lot L, 1000 l, registered by org 1; portion P (400 l) split off
 *                                    L and handed to org 2
 *   org 2 (prefix 5412345, site S2): lot M, 500 kg, registered by org 2
 */
const S1 = glnFor("4012345", 1);
const S2 = glnFor("5412345", 1);
const L = "0x" + "11".repeat(32);
const P = "0x" + "22".repeat(32);
const M = "0x" + "33".repeat(32);
const AGENT = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
const NOW = Date.parse("2025-06-30T12:00:00Z");

function fixture(): Db {
  const db = openDatabase(":memory:");
  const org = db.prepare(
    `INSERT INTO organisations (org_id, name, metadata_hash, status, allowed_roles, suspension_reason, admitted_at, admitted_block, updated_block)
     VALUES (?, ?, '0x', 'active', 0, NULL, '2025-01-01T00:00:00Z', 1, 1)`,
  );
  for (const [id, name] of [
    [1, "farm"],
    [2, "dairy"],
    [3, "cheese"],
  ] as const)
    org.run(id, name);
  const location = db.prepare(`INSERT INTO locations (gln, org_id, added_block) VALUES (?, ?, 1)`);
  location.run(S1, 1);
  location.run(glnFor("4012345", 2), 1);
  location.run(S2, 2);
  location.run(glnFor("3012345", 1), 3);
  const batch = db.prepare(
    `INSERT INTO batches (batch_id, lot_id, gtin, lot, parent_id, portion_index, quantity, unit, owner_org, custodian_org, producer_org, location,
       status, recall, unit_key, offer_to, offer_kind, offer_quantity, metadata_hash, created_at, created_block, created_tx, updated_block)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, 'active', 'none', NULL, NULL, NULL, NULL, '0x', '2025-06-01T00:00:00Z', 1, '0x', 1)`,
  );
  batch.run(L, L, "04012345000016", "L-1", null, null, "600000", "LTR", 1, 1, 1);
  batch.run(P, L, "04012345000016", "L-1", L, 0, "400000", "LTR", 2, 2, 1);
  batch.run(M, M, "05412345000105", "M-1", null, null, "500000", "KGM", 2, 2, 2);
  const event = db.prepare(
    `INSERT INTO batch_events (block_number, log_index, batch_id, type, details, tx_hash, time) VALUES (?, ?, ?, ?, ?, '0x', ?)`,
  );
  event.run(1, 0, L, "registered", JSON.stringify({ quantity: "1000000", orgId: "1", location: S1 }), "2025-06-01T00:00:00Z");
  event.run(2, 0, M, "registered", JSON.stringify({ quantity: "500000", orgId: "2", location: S2 }), "2025-06-01T00:00:00Z");
  db.prepare(
    `INSERT INTO lineage_edges (from_batch, to_batch, kind, quantity, unit, block_number, tx_hash) VALUES (?, ?, 'SPLIT', '400000', 'LTR', 2, '0x')`,
  ).run(L, P);
  return db;
}

/** A valid run of org 2's line at S2 on 1 June 2025 (overrides per test). */
function body(overrides: Partial<ProductionRunInput> = {}): ProductionRunInput {
  return {
    site: S2,
    line: "separator",
    startTime: "2025-06-01T06:00:00Z",
    endTime: "2025-06-01T14:00:00+00:00",
    plannedTimeSeconds: 28_800,
    runTimeSeconds: 25_200,
    idealCycleTimeSeconds: 0.72,
    totalCount: 27_000,
    goodCount: 26_800,
    countUnit: "LTR",
    inputs: [{ batchId: P, quantity: "400" }],
    outputs: [{ batchId: M, quantity: "500" }],
    energyKwh: { grid: 250, gas: 945 },
    waterM3: 13,
    scrapKg: 13.9,
    processParameters: { airTemperatureK: 299.1, rotationalSpeedRpm: 1551, torqueNm: 39.2, toolWearMin: 108 },
    ...overrides,
  };
}

const ctx = (orgId = 2) => ({ orgId, submittedBy: AGENT, now: NOW });

function refusal(fn: () => unknown): ProductionRunError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ProductionRunError) return err;
    throw err;
  }
  throw new Error("expected a refusal");
}

describe("production-run store", function () {
  let db: Db;
  beforeEach(function () {
    db = fixture();
  });
  afterEach(function () {
    db.close();
  });

  it("stores a run with its queue entry in one transaction; units come from the index; times are normalised", function () {
    const { record, created } = recordProductionRun(db, body(), { ...ctx(), recordedAt: "2025-06-01T15:00:00.000Z" });
    expect(created).to.equal(true);
    expect(record.id).to.match(/^pr_[0-9a-f]{24}$/);
    expect(record).to.deep.include({
      orgId: "2",
      site: S2,
      startTime: "2025-06-01T06:00:00.000Z",
      endTime: "2025-06-01T14:00:00.000Z",
      inputs: [{ batchId: P, quantity: "400", unit: "LTR" }],
      outputs: [{ batchId: M, quantity: "500", unit: "KGM" }],
      submittedBy: AGENT,
      recordedAt: "2025-06-01T15:00:00.000Z",
    });
    const queued = db.prepare(`SELECT kind, leaf FROM anchor_outbox WHERE record_id = ?`).get(runRecordId(record.id)) as {
      kind: string;
      leaf: string;
    };
    expect(queued).to.deep.equal({ kind: "PRODUCTION_RUN", leaf: recordHash(record) });
    const stored = createAnalyticsStore(db).getRun(record.id)!;
    expect(stored.record).to.deep.equal(record);
    expect(stored.supersededBy).to.equal(null);
    // The same submission again is the same record, stored once.
    const again = recordProductionRun(db, body(), { ...ctx(), recordedAt: "2025-06-01T15:00:00.000Z" });
    expect(again).to.deep.equal({ record, created: false });
    expect((db.prepare(`SELECT COUNT(*) AS n FROM production_runs`).get() as { n: number }).n).to.equal(1);
  });

  it("refuses an invalid run with every failing field (400)", function () {
    const err = refusal(() =>
      recordProductionRun(
        db,
        body({
          startTime: "2025-06-01T14:00:00Z",
          endTime: "2025-06-01T06:00:00Z",
          runTimeSeconds: 30_000,
          goodCount: 27_001,
          countUnit: "XYZ",
          energyKwh: { grid: 10, coal: 5 },
          waterM3: -1,
          processParameters: { processTemperatureK: 35 },
        }),
        ctx(),
      ),
    );
    expect(err.status).to.equal(400);
    expect(err.code).to.equal("invalid_request");
    const paths = err.errors!.map((e) => e.path);
    expect(paths).to.include.members([
      "body/endTime",
      "body/runTimeSeconds",
      "body/goodCount",
      "body/countUnit",
      "body/energyKwh/coal",
      "body/waterM3",
      "body/processParameters/processTemperatureK",
    ]);
    expect(err.errors!.find((e) => e.path === "body/processParameters/processTemperatureK")!.message).to.match(
      /looks like °C.*308\.15 K/,
    );
    expect(err.errors!.find((e) => e.path === "body/runTimeSeconds")!.message).to.match(/plannedTimeSeconds/);
  });

  it("checks planned time against the window, performance against the ideal cycle, the future and the site's GLN", function () {
    const paths = (b: Partial<ProductionRunInput>) =>
      refusal(() => recordProductionRun(db, body(b), ctx())).errors!.map((e) => e.path);
    expect(paths({ plannedTimeSeconds: 30_000, runTimeSeconds: 25_000 })).to.deep.equal(["body/plannedTimeSeconds"]);
    expect(paths({ idealCycleTimeSeconds: 1 })).to.deep.equal(["body/idealCycleTimeSeconds"]);
    expect(paths({ startTime: "2025-07-01T06:00:00Z", endTime: "2025-07-01T14:00:00Z" })).to.deep.equal(["body/endTime"]);
    expect(paths({ startTime: "1 June 2025" })).to.deep.equal(["body/startTime"]);
    expect(paths({ site: "5412345000014" })).to.deep.equal(["body/site"]); // bad check digit
    expect(paths({ site: glnFor("5412345", 9) })).to.deep.equal(["body/site"]); // not registered
  });

  it("checks material lines: batches in the index, units, lots as outputs, no duplicates, untracked lines with a unit", function () {
    const err = refusal(() =>
      recordProductionRun(
        db,
        body({
          inputs: [
            { batchId: "0x" + "44".repeat(32), quantity: "1" },
            { batchId: P, quantity: "1", unit: "KGM" },
            { material: "salt", quantity: "2" },
            { batchId: M, material: "both", quantity: "1" },
            { material: "water", quantity: "1.2345", unit: "LTR" },
          ],
          outputs: [
            { batchId: M, quantity: "1" },
            { batchId: M, quantity: "1" },
          ],
        }),
        ctx(),
      ),
    );
    expect(err.status).to.equal(400);
    expect(err.errors!.map((e) => e.path)).to.deep.equal([
      "body/inputs/0/batchId",
      "body/inputs/1/unit",
      "body/inputs/2/unit",
      "body/inputs/3",
      "body/inputs/4/quantity",
      "body/outputs/1/batchId",
    ]);
    // Org 1 registered lot L, but P is a portion of it: a run produces lots.
    const portion = refusal(() =>
      recordProductionRun(db, body({ site: S1, inputs: [], outputs: [{ batchId: P, quantity: "1" }] }), ctx(1)),
    );
    expect(portion.errors![0].message).to.match(/portion of lot L-1/);
  });

  it("refuses another organisation's site, inputs and outputs (403)", function () {
    expect(refusal(() => recordProductionRun(db, body({ site: S1 }), ctx())).status).to.equal(403);
    const input = refusal(() => recordProductionRun(db, body({ inputs: [{ batchId: L, quantity: "1" }] }), ctx()));
    expect(input.status).to.equal(403);
    expect(input.code).to.equal("foreign_resource");
    expect(input.detail).to.match(/held by organisation 1/);
    const output = refusal(() =>
      recordProductionRun(db, body({ site: S1, inputs: [], outputs: [{ batchId: M, quantity: "1" }] }), ctx(1)),
    );
    expect(output.detail).to.match(/registered by organisation 2/);
    expect(output.status).to.equal(403);
  });

  it("refuses recording more of a lot than was registered, across runs", function () {
    recordProductionRun(db, body({ outputs: [{ batchId: M, quantity: "300" }] }), ctx());
    const later = { startTime: "2025-06-02T06:00:00Z", endTime: "2025-06-02T14:00:00Z" };
    const err = refusal(() => recordProductionRun(db, body({ ...later, outputs: [{ batchId: M, quantity: "200.001" }] }), ctx()));
    expect(err.errors![0]).to.deep.include({ path: "body/outputs/0/quantity" });
    expect(err.errors![0].message).to.match(/at most 200/);
    recordProductionRun(db, body({ ...later, outputs: [{ batchId: M, quantity: "200" }] }), ctx());
  });

  it("refuses a run overlapping another on the same line (409), not on another line or after it", function () {
    recordProductionRun(db, body(), ctx());
    const overlap = refusal(() =>
      recordProductionRun(
        db,
        body({
          startTime: "2025-06-01T13:00:00Z",
          endTime: "2025-06-01T20:00:00Z",
          plannedTimeSeconds: 25_200,
          runTimeSeconds: 20_000,
          outputs: [],
        }),
        ctx(),
      ),
    );
    expect(overlap.status).to.equal(409);
    expect(overlap.code).to.equal("run_overlap");
    recordProductionRun(db, body({ line: "separator-2", outputs: [] }), ctx());
    recordProductionRun(db, body({ startTime: "2025-06-01T14:00:00Z", endTime: "2025-06-01T22:00:00Z", outputs: [] }), ctx());
  });

  it("keeps a corrected record, marks it superseded, and lets only the latest version be corrected", function () {
    const store = createAnalyticsStore(db);
    const original = recordProductionRun(db, body(), ctx()).record;
    // The correction may cover the same time and output: the original no longer counts.
    const correction = recordProductionRun(db, body({ goodCount: 26_900, corrects: original.id }), ctx()).record;
    expect(correction.corrects).to.equal(original.id);
    expect(store.getRun(original.id)!.supersededBy).to.equal(correction.id);
    expect(store.getRun(original.id)!.record).to.deep.equal(original);
    expect(store.runs({ orgId: 2 }).map((r) => r.id)).to.deep.equal([correction.id]);
    expect(
      store.listRuns({ orgId: 2, includeSuperseded: true }, { limit: 10, after: null }).items.map((r) => r.record.id),
    ).to.deep.equal([original.id, correction.id]);
    const twice = refusal(() => recordProductionRun(db, body({ goodCount: 26_700, corrects: original.id }), ctx()));
    expect(twice.status).to.equal(409);
    expect(twice.detail).to.include(correction.id);
    expect(
      refusal(() => recordProductionRun(db, body({ site: S1, inputs: [], outputs: [], corrects: correction.id }), ctx(1))).status,
    ).to.equal(403);
    expect(refusal(() => recordProductionRun(db, body({ corrects: "pr_" + "0".repeat(24) }), ctx())).errors![0].path).to.equal(
      "body/corrects",
    );
  });

  it("verifies a record against the root its own organisation anchored (not a rival's copy), and a tampered stored record fails", function () {
    const store = createAnalyticsStore(db);
    const a = recordProductionRun(db, body(), ctx()).record;
    const b = recordProductionRun(
      db,
      body({ startTime: "2025-06-02T06:00:00Z", endTime: "2025-06-02T14:00:00Z", outputs: [] }),
      ctx(),
    ).record;
    expect(store.proof(store.getRun(a.id)!)).to.include({ status: "pending", verified: false });

    // Anchor both leaves as the anchor job would, with the root "indexed" from the chain.
    const leaves = [a, b].map(
      (r) => (db.prepare(`SELECT leaf FROM anchor_outbox WHERE record_id = ?`).get(runRecordId(r.id)) as { leaf: string }).leaf,
    );
    const root = merkleTree(leaves).root;
    db.prepare(`UPDATE anchor_outbox SET root = ? WHERE kind = 'PRODUCTION_RUN'`).run(root);
    // The node anchors as organisation 1 (its integration key's).
    db.prepare(`INSERT INTO anchor_batches (root, kind, leaves, created_at, org_id) VALUES (?, 'PRODUCTION_RUN', ?, '', 1)`).run(
      root,
      JSON.stringify(leaves),
    );
    const indexAnchor = (org: number, block: number) =>
      db
        .prepare(
          `INSERT INTO anchors (root, kind, org_id, count, uri, anchored_by, block_number, tx_hash, time) VALUES (?, 'PRODUCTION_RUN', ?, 2, '', '', ?, '0x', '')`,
        )
        .run(root, org, block);
    // A rival copied the root and anchored it first: that proves nothing for this node's records.
    indexAnchor(2, 8);
    expect(store.proof(store.getRun(a.id)!), "a rival's anchor of the root").to.include({ status: "pending", verified: false, anchoredBy: null });
    indexAnchor(1, 9);
    const proof = store.proof(store.getRun(a.id)!)!;
    expect(proof).to.include({ status: "anchored", merkleRoot: root, verified: true, recordHash: recordHash(a), blockNumber: 9 });
    expect(proof.anchoredBy).to.deep.equal({ orgId: "1", name: "farm" });

    const original = (db.prepare(`SELECT record FROM production_runs WHERE run_id = ?`).get(a.id) as { record: string }).record;
    db.prepare(`UPDATE production_runs SET record = ? WHERE run_id = ?`).run(
      original.replace('"goodCount":26800', '"goodCount":26999'),
      a.id,
    );
    const tampered = store.proof(store.getRun(a.id)!)!;
    expect(tampered.status).to.equal("anchored");
    expect(tampered.verified).to.equal(false);
    expect(tampered.recordHash).to.not.equal(tampered.leaf);
    expect(store.proof(store.getRun(b.id)!)!.verified).to.equal(true);
  });

  it("lists by start time with filters and a stable cursor", function () {
    const store = createAnalyticsStore(db);
    for (let day = 10; day >= 1; day--) {
      const d = String(day).padStart(2, "0");
      recordProductionRun(
        db,
        body({ startTime: `2025-06-${d}T06:00:00Z`, endTime: `2025-06-${d}T14:00:00Z`, outputs: [] }),
        ctx(),
      );
    }
    const all = store.listRuns({ orgId: 2 }, { limit: 100, after: null }).items.map((r) => r.record.startTime);
    expect(all).to.deep.equal([...all].sort());
    const paged: string[] = [];
    let after: { startMs: number; seq: number } | null = null;
    for (;;) {
      const page = store.listRuns({ orgId: 2 }, { limit: 3, after });
      paged.push(...page.items.map((r) => r.record.startTime));
      if (!page.more) break;
      after = page.last;
    }
    expect(paged).to.deep.equal(all);
    const window = store.listRuns(
      { orgId: 2, from: Date.parse("2025-06-03T00:00:00Z"), to: Date.parse("2025-06-05T06:00:00Z") },
      { limit: 100, after: null },
    );
    expect(window.items.map((r) => r.record.startTime)).to.deep.equal(["2025-06-03T06:00:00.000Z", "2025-06-04T06:00:00.000Z"]);
    expect(store.listRuns({ orgId: 1 }, { limit: 100, after: null }).items).to.deep.equal([]);
    expect(store.timeRange({ orgId: 2 })).to.deep.equal({
      first: Date.parse("2025-06-01T06:00:00Z"),
      last: Date.parse("2025-06-10T14:00:00Z"),
    });
    expect(store.timeRange({ orgId: 1 })).to.equal(null);
  });

  it("seeds the demo history deterministically, through the same store function, once", async function () {
    this.timeout(60_000);
    const now = Date.parse("2025-06-30T12:00:00Z");
    const warnings: object[] = [];
    const count = await seedDemoProduction(db, { now, log: { info: () => undefined, warn: (o) => warnings.push(o) } });
    expect(warnings, "no demo run refused").to.deep.equal([]);
    expect(count).to.be.greaterThan(800);
    expect(await seedDemoProduction(db, { now })).to.equal(0);
    const other = fixture();
    try {
      await seedDemoProduction(other, { now });
      const ids = (d: Db) =>
        (d.prepare(`SELECT run_id FROM production_runs ORDER BY seq`).all() as { run_id: string }[]).map((r) => r.run_id);
      expect(ids(other)).to.deep.equal(ids(db));
    } finally {
      other.close();
    }
    const queued = (db.prepare(`SELECT COUNT(*) AS n FROM anchor_outbox WHERE kind = 'PRODUCTION_RUN'`).get() as { n: number }).n;
    expect(queued).to.equal(count);
    // AI4I-style parameters on the churn line, within AI4I's ranges.
    const churn = createAnalyticsStore(db).runs({ orgId: 3 });
    expect(churn.length).to.be.greaterThan(100);
    for (const r of churn) {
      const p = r.processParameters;
      expect(p.airTemperatureK).to.be.within(294, 306);
      expect(p.processTemperatureK - p.airTemperatureK).to.be.within(6, 14);
      expect(p.rotationalSpeedRpm).to.be.within(1168, 2886);
      expect(p.torqueNm).to.be.within(3.8, 76.6);
      expect(p.toolWearMin).to.be.within(0, 253);
    }
  });

  it("resumes a demo seeding stopped half way from the time it began, to the same runs as one uninterrupted", async function () {
    this.timeout(60_000);
    const now = Date.parse("2025-06-30T12:00:00Z");
    const ids = (d: Db) => (d.prepare(`SELECT run_id FROM production_runs ORDER BY run_id`).all() as { run_id: string }[]).map((r) => r.run_id);
    const whole = fixture();
    const stopped = fixture();
    try {
      await seedDemoProduction(whole, { now });
      // A crash in the middle: the runs of the chunks before it are stored, the rest are not.
      let asked = 0;
      const crash = () => {
        if (++asked > 300) throw new Error("crashed");
        return true;
      };
      const failure = await seedDemoProduction(stopped, { now, serves: crash }).then(() => null, (err: Error) => err.message);
      expect(failure).to.equal("crashed");
      const partial = ids(stopped).length;
      expect(partial).to.be.greaterThan(0).and.lessThan(ids(whole).length);
      // The next start is a day later: the seeding resumes with the day it began, not a new history.
      await seedDemoProduction(stopped, { now: now + 86_400_000 });
      expect(ids(stopped)).to.deep.equal(ids(whole));
      expect(await seedDemoProduction(stopped, { now: now + 2 * 86_400_000 })).to.equal(0);
    } finally {
      whole.close();
      stopped.close();
    }
  });
});
