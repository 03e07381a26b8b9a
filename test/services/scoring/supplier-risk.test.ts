import { expect } from "chai";
import { openDatabase, type Db } from "../../../services/store/db";
import { supplierComponents, type Component } from "../../../services/scoring/service/supplier";
import { betaCdf, betaQuantile, shrink } from "../../../services/scoring/service/shrinkage";

/**
 * Supplier risk on a small consortium written straight into the index tables, with every expected
 * value worked out by hand: shrinkage toward the consortium's rate, a lot counted once however many
 * portions it has, and recalls a supplier caused kept apart from those it was only exposed to.
 *
 *   orgs 1 farm A, 2 farm B, 3 dairy, 4 retailer
 *   orders   farm A sold 1 order, undelivered after its deadline (late); farm B 9, all on time
 *   lots     L1 (farm A, recalled directly) → portion P1 held by the dairy (propagated from L1)
 *            D (dairy, made from P1: propagated from P1), D2 (dairy, clean)
 *            retailer holds portions Dp0, Dp1 of D (propagated from D) and lot E (farm B, clean)
 */
const NOW = Date.parse("2026-06-01T00:00:00Z");
const T = "2026-01-01T00:00:00.000Z";

function consortium(): Db {
  const db = openDatabase(":memory:");
  const org = db.prepare(
    `INSERT INTO organisations (org_id, name, metadata_hash, status, allowed_roles, admitted_at, admitted_block, updated_block) VALUES (?, ?, '0x', 'active', 0, ?, 1, 1)`,
  );
  for (const [id, name] of [
    [1, "farm A"],
    [2, "farm B"],
    [3, "dairy"],
    [4, "retailer"],
  ] as const)
    org.run(id, name, T);

  const order = db.prepare(
    `INSERT INTO orders (order_id, buyer_org, seller_org, token, gtin, quantity, price_per_unit, delivery_deadline, inspection_window, terms_hash,
       status, funded, delivered, contested, credited, created_at, created_block, created_tx, updated_at, updated_block)
     VALUES (?, 3, ?, '0x', '0', '10', '1', ?, 0, '0x', ?, '10', ?, '0', '0', ?, 1, '0x', ?, 1)`,
  );
  const delivery = db.prepare(
    `INSERT INTO order_deliveries (batch_id, order_id, quantity, inspection_ends, block_number, tx_hash, time) VALUES (?, ?, '10', 0, 1, '0x', ?)`,
  );
  const deadline = (NOW - 10 * 86_400_000) / 1000;
  order.run(1, 1, deadline, "refunded", "0", T, T);
  for (let i = 2; i <= 10; i++) {
    order.run(i, 2, deadline, "completed", "10", T, T);
    delivery.run(`0xdel${i}`, i, new Date(NOW - 20 * 86_400_000).toISOString());
  }

  const lot = db.prepare(`INSERT INTO lots (lot_id, gtin, lot, producer_org, registered_at, registered_block) VALUES (?, '0', ?, ?, ?, 1)`);
  const batch = db.prepare(
    `INSERT INTO batches (batch_id, lot_id, gtin, lot, quantity, unit, owner_org, custodian_org, producer_org, status, recall, metadata_hash, created_at, created_block, created_tx, updated_block)
     VALUES (?, ?, '0', ?, '1', 'KGM', ?, ?, ?, 'active', ?, '0x', ?, 1, '0x', 1)`,
  );
  const recall = db.prepare(`INSERT INTO recalls (batch_id, kind, source_batch, block_number, tx_hash, time) VALUES (?, ?, ?, 1, '0x', ?)`);
  const add = (id: string, lotId: string, holder: number, producer: number, recalled: "none" | "direct" | "propagated", source?: string) => {
    batch.run(id, lotId, lotId, holder, holder, producer, recalled, T);
    if (recalled !== "none") recall.run(id, recalled, source ?? null, T);
  };
  lot.run("L1", "L1", 1, T);
  lot.run("D", "D", 3, T);
  lot.run("D2", "D2", 3, T);
  lot.run("E", "E", 2, T);
  add("L1", "L1", 1, 1, "direct");
  add("P1", "L1", 3, 1, "propagated", "L1");
  add("D", "D", 3, 3, "propagated", "P1");
  add("D2", "D2", 3, 3, "none");
  add("Dp0", "D", 4, 3, "propagated", "D");
  add("Dp1", "D", 4, 3, "propagated", "D");
  add("E", "E", 4, 2, "none");
  return db;
}

const components = (db: Db, orgId: number) =>
  Object.fromEntries(supplierComponents(db, orgId, { now: NOW, modelHash: null }).map((c) => [c.name, c])) as Record<string, Component>;

describe("supplier risk", function () {
  let db: Db;
  before(function () {
    db = consortium();
  });
  after(function () {
    db.close();
  });

  describe("Beta distribution", function () {
    it("matches closed forms of the distribution function and its quantiles", function () {
      // I_x(2, 3) = 6x²(1−x)² + 4x³(1−x) + x⁴ at x = 0.3: 0.2646 + 0.0756 + 0.0081
      expect(betaCdf(0.3, 2, 3)).to.be.closeTo(0.3483, 1e-12);
      // Beta(2, 1): F(x) = x², so the 0.25-quantile is 0.5; Beta(½, ½): F⁻¹(p) = sin²(πp/2)
      expect(betaQuantile(0.25, 2, 1)).to.be.closeTo(0.5, 1e-10);
      expect(betaQuantile(0.1, 0.5, 0.5)).to.be.closeTo(Math.sin(0.05 * Math.PI) ** 2, 1e-10);
    });

    it("shrinks toward the consortium's rate by the prior's weight", function () {
      // m = (1 + ½) / (10 + 1); posterior Beta(10m + 1, 10(1 − m) + 0): mean (10m + 1) / 11
      const s = shrink(1, 1, 1, 10);
      const m = 1.5 / 11;
      expect(s.value).to.be.closeTo((10 * m + 1) / 11, 1e-12);
      expect(s.rawRate).to.equal(1);
      expect(betaCdf(s.interval[0], 10 * m + 1, 10 * (1 - m))).to.be.closeTo(0.025, 1e-9);
      expect(betaCdf(s.interval[1], 10 * m + 1, 10 * (1 - m))).to.be.closeTo(0.975, 1e-9);
    });
  });

  it("does not score one late order out of one as 1.0: it is shrunk toward the consortium, with its sample size and interval", function () {
    const farmA = components(db, 1).lateDeliveries;
    // Consortium: 1 late of 10 decided orders → m = 1.5 / 11; farm A: Beta(10m + 1, 10(1 − m)) → mean (10m + 1) / 11 = 0.2149
    const m = 1.5 / 11;
    expect(farmA).to.include({ status: "ok", sampleSize: 1, events: 1, rawValue: 1 });
    expect(farmA.value).to.be.closeTo((10 * m + 1) / 11, 1e-4);
    expect(farmA.interval![0]).to.be.below(farmA.value!);
    expect(farmA.interval![1]).to.be.above(farmA.value!).and.below(1);
    expect(farmA.prior).to.include({ strength: 10, consortiumEvents: 1, consortiumSampleSize: 10 });
    // Farm B, 0 late of 9: (10m) / 19 = 0.0718 — not 0 either, and with a narrower interval.
    const farmB = components(db, 2).lateDeliveries;
    expect(farmB.value).to.be.closeTo((10 * m) / 19, 1e-4);
    expect(farmB.interval![1] - farmB.interval![0]).to.be.below(farmA.interval![1] - farmA.interval![0]);
  });

  it("counts the portions of one lot once", function () {
    // The retailer holds two recalled portions of D and the clean lot E: 1 of 2 lots, not 2 of 3 batches.
    const retailer = components(db, 4).recallsInLineage;
    expect(retailer.value).to.equal(0.5);
    expect(retailer.evidence).to.include({ lots: 2, recalled: 1 });
    expect(retailer.weight).to.equal(0);
  });

  it("refuses to blame a downstream holder for an upstream recall it did not cause (exposed, not caused)", function () {
    // Caused: lots a recall started at / lots produced. Farm A 1 of 1 (L1), farm B 0 of 1 (E), dairy 0 of 2 (D, D2);
    // consortium 1 of 4 → m = 1.5 / 5 = 0.3; farm A (3 + 1) / 11 = 0.3636, dairy 3 / 12 = 0.25.
    const m = 1.5 / 5;
    const farmA = components(db, 1);
    expect(farmA.recallsCaused).to.include({ events: 1, sampleSize: 1, weight: 0.2 });
    expect(farmA.recallsCaused.value).to.be.closeTo((10 * m + 1) / 11, 1e-4);
    expect(farmA.recallsExposedTo).to.include({ events: 0, sampleSize: 1 });

    const dairy = components(db, 3);
    expect(dairy.recallsCaused).to.include({ events: 0, sampleSize: 2 });
    expect(dairy.recallsCaused.value).to.be.closeTo((10 * m) / 12, 1e-4);
    // Exposed: it held P1 of L1 and made D from it (both traced back to farm A's L1); D2 is clean → 2 of 3 lots.
    expect(dairy.recallsExposedTo).to.include({ events: 2, sampleSize: 3, weight: 0 });
    const causedBy = (dairy.recallsExposedTo.evidence.exposures as { lotId: string; causedBy: { orgId: string }[] }[]).map((e) => [
      e.lotId,
      e.causedBy.map((c) => c.orgId),
    ]);
    expect(causedBy).to.deep.equal([
      ["D", ["1"]],
      ["L1", ["1"]],
    ]);

    // The retailer produced nothing: no caused rate at all (missing, not 0), and its exposure weighs nothing.
    const retailer = components(db, 4);
    expect(retailer.recallsCaused).to.include({ status: "missing", value: null, sampleSize: 0 });
    expect(retailer.recallsExposedTo).to.include({ events: 1, sampleSize: 2, weight: 0 });
  });
});
