import { expect } from "chai";
import { AbiCoder, keccak256 } from "ethers";
import type { TestNode } from "../../helpers/node";
import { DEMO_MEMBERS, demoWallet } from "../../../services/demo/roster";
import { DEMO_GOODS } from "../../../services/demo/supply-chain";
import { glnFor } from "../../../services/gs1/keys";
import { bearer, expectProblem, get as rawGet, getAnonymous, post, sharedNode, tokenFor, type ApiResponse } from "../api/helpers";
import type { TestNode as ReaderNode } from "../../helpers/node";
import { demoWallet as readerWallet, DEMO_MEMBERS as READER_ROSTER } from "../../../services/demo/roster";

/**
 * These tests read as the demo's auditor, whom every producer appointed (an unscoped grant of all
 * its records); what others may not read is tested in test/services/sharing/visibility.test.ts.
 */
let readerToken: string | null = null;
async function get(node: ReaderNode, path: string, headers: Record<string, string> = {}): Promise<ApiResponse> {
  readerToken ??= await tokenFor(node, readerWallet(READER_ROSTER.find((m) => m.key === "auditor")!.account));
  return rawGet(node, path, { ...bearer(readerToken), ...headers });
}

/**
 * The analytics routes against the shared node's demo: six months of production runs
 * (services/demo/production.ts) over the demo's dairy chain (services/demo/supply-chain.ts).
 * Reads come first; the tests that write add runs on their own line, in the past, for the cheese
 * maker, small enough not to move the demo's figures.
 */
const coder = AbiCoder.defaultAbiCoder();
const lotIdOf = (gtin: string, lot: string) => keccak256(coder.encode(["uint64", "string"], [BigInt(gtin), lot]));
const portionIdOf = (parent: string, k: number) => keccak256(coder.encode(["bytes32", "uint32"], [parent, k]));
const member = (key: string) => DEMO_MEMBERS.find((m) => m.key === key)!;
const orgIdOf = (key: string) => String(DEMO_MEMBERS.indexOf(member(key)) + 1);
const site = (key: string, ref = 1) => glnFor(member(key).companyPrefixes[0], ref);

const lotA = lotIdOf(DEMO_GOODS.rawMilk, "MILK-2611-A");
const lotB = lotIdOf(DEMO_GOODS.rawMilk, "MILK-2611-B");
const pooled = lotIdOf(DEMO_GOODS.pooledMilk, "POOL-2611");
const cream = lotIdOf(DEMO_GOODS.cream, "CRM-2611");
const skim = lotIdOf(DEMO_GOODS.skimMilk, "SKM-2611");
const creamPortion = portionIdOf(cream, 0);
const butter = lotIdOf(DEMO_GOODS.butter, "BTR-2611");
const shelf1 = portionIdOf(butter, 0);

const close = (actual: number | null, expected: number, relative = 1e-9) => {
  expect(actual, `expected ≈ ${expected}`).to.be.a("number");
  expect(actual!).to.be.closeTo(expected, Math.abs(expected) * relative + 1e-12);
};
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe("API analytics routes", function () {
  let node: TestNode;

  before(async function () {
    this.timeout(180_000);
    node = await sharedNode();
    await node.synced();
  });

  async function ok(path: string): Promise<ApiResponse> {
    const res = await get(node, path);
    expect(res.status, res.text).to.equal(200);
    return res;
  }

  /** Every item of a list, following nextCursor. */
  async function all(path: string, limit: number): Promise<{ items: Record<string, unknown>[]; pages: number }> {
    const items: Record<string, unknown>[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const sep = path.includes("?") ? "&" : "?";
      const res = await ok(`${path}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      items.push(...res.body.items);
      cursor = res.body.nextCursor;
      pages++;
    } while (cursor);
    return { items, pages };
  }

  describe("the demo's production runs", function () {
    it("has months of runs for every producing site, each line's oldest about 180 days back", async function () {
      for (const [key, lines] of [
        ["producer", ["parlour-1", "parlour-2"]],
        ["processor", ["reception", "separator-1"]],
        ["processor2", ["churn-1"]],
      ] as const) {
        const { items } = await all(`/api/v1/production-runs?orgId=${orgIdOf(key)}`, 500);
        for (const line of lines) {
          const runs = items.filter((r) => r.line === line);
          expect(runs.length, `${key} ${line}`).to.be.greaterThan(100);
          const oldest = Date.parse(runs[0].startTime as string);
          expect(Date.now() - oldest).to.be.within(179 * DAY, 181 * DAY);
        }
      }
    });

    it("pages through a list in start-time order without losing or repeating a run", async function () {
      const { items, pages } = await all(`/api/v1/production-runs?orgId=${orgIdOf("processor")}`, 47);
      expect(pages).to.be.greaterThan(5);
      const ids = items.map((r) => r.id);
      expect(new Set(ids).size).to.equal(ids.length);
      const starts = items.map((r) => Date.parse(r.startTime as string));
      expect(starts).to.deep.equal([...starts].sort((a, b) => a - b));
      expect(items.every((r) => r.orgId === orgIdOf("processor"))).to.equal(true);
      const single = await all(`/api/v1/production-runs?orgId=${orgIdOf("processor")}`, 500);
      expect(single.items.map((r) => r.id)).to.deep.equal(ids);
    });

    it("filters by site and by start time in [from, to)", async function () {
      const from = new Date(Date.now() - 30 * DAY).toISOString().slice(0, 10);
      const to = new Date(Date.now() - 10 * DAY).toISOString();
      const { items } = await all(
        `/api/v1/production-runs?site=${site("producer", 2)}&from=${from}&to=${encodeURIComponent(to)}`,
        500,
      );
      expect(items.length).to.be.within(18, 21);
      for (const r of items) {
        expect(r).to.include({ site: site("producer", 2), line: "parlour-2", orgId: orgIdOf("producer") });
        expect(Date.parse(r.startTime as string))
          .to.be.at.least(Date.parse(`${from}T00:00:00Z`))
          .and.below(Date.parse(to));
      }
      const res = await ok(`/api/v1/production-runs?orgId=${orgIdOf("carrier")}`);
      expect(res.body).to.deep.equal({ items: [], nextCursor: null });
    });

    it("filters by a batch the runs consumed or produced", async function () {
      const { items } = await all(`/api/v1/production-runs?batch=${pooled}`, 500);
      expect(items.length).to.be.greaterThan(0);
      for (const r of items) {
        const lines = [...(r.inputs as { batchId?: string }[]), ...(r.outputs as { batchId?: string }[])];
        expect(lines.map((l) => l.batchId?.toLowerCase())).to.include(pooled.toLowerCase());
      }
      expect((await ok(`/api/v1/production-runs?batch=0x${"00".repeat(32)}`)).body).to.deep.equal({ items: [], nextCursor: null });
      expectProblem(await get(node, "/api/v1/production-runs?batch=0x12"), 400, "invalid_request");
    });

    it("refuses bad list parameters", async function () {
      expectProblem(await get(node, "/api/v1/production-runs?from=yesterday"), 400, "invalid_request");
      expectProblem(await get(node, "/api/v1/production-runs?from=2025-02-01&to=2025-01-01"), 400, "invalid_request");
      expectProblem(await get(node, "/api/v1/production-runs?cursor=bm9wZQ"), 400, "invalid_cursor");
      expectProblem(await get(node, "/api/v1/production-runs?site=123"), 400, "invalid_request");
    });

    it("returns a run with its metrics and a verified anchoring proof, recomputed from the stored record", async function () {
      const list = await ok(`/api/v1/production-runs?orgId=${orgIdOf("processor2")}&line=churn-1&limit=1`);
      const run = list.body.items[0];
      const res = await ok(`/api/v1/production-runs/${run.id}`);
      expect(res.body).to.deep.include({ id: run.id, status: "current", supersededBy: null, countUnit: "KGM" });
      expect(res.body.processParameters).to.have.keys(
        "airTemperatureK",
        "processTemperatureK",
        "rotationalSpeedRpm",
        "torqueNm",
        "toolWearMin",
        "productType",
      );
      const m = res.body.metrics;
      close(m.oee, (run.idealCycleTimeSeconds * run.goodCount) / run.plannedTimeSeconds, 1e-9);
      // Before the renewable switch: grid only, at the EU grid factor of the run's year (2023 vintage or later: 0.203).
      close(m.co2ePerUnitKg, (run.energyKwh.grid * 0.203) / run.goodCount, 1e-9);
      expect(res.body.anchor).to.include({
        recordId: `production-run:${run.id}`,
        kind: "PRODUCTION_RUN",
        status: "anchored",
        verified: true,
      });
      expect(res.body.anchor.recordHash).to.equal(res.body.anchor.leaf);
      expect(res.body.anchor.proof.length).to.be.greaterThan(0);
      expectProblem(await get(node, "/api/v1/production-runs/pr_000000000000000000000000"), 404, "run_not_found");
      expectProblem(await get(node, "/api/v1/production-runs/nope"), 400, "invalid_request");
    });

    it("fails verification when the stored record was tampered with", async function () {
      const run = (await ok(`/api/v1/production-runs?orgId=${orgIdOf("producer")}&limit=1`)).body.items[0];
      const row = node.db.prepare(`SELECT record FROM production_runs WHERE run_id = ?`).get(run.id) as { record: string };
      const tampered = row.record.replace(`"goodCount":${run.goodCount}`, `"goodCount":${run.goodCount + 500}`);
      expect(tampered).to.not.equal(row.record);
      node.db.prepare(`UPDATE production_runs SET record = ? WHERE run_id = ?`).run(tampered, run.id);
      try {
        const res = await ok(`/api/v1/production-runs/${run.id}`);
        expect(res.body.goodCount).to.equal(run.goodCount + 500);
        expect(res.body.anchor.status).to.equal("anchored");
        expect(res.body.anchor.verified).to.equal(false);
        expect(res.body.anchor.recordHash).to.not.equal(res.body.anchor.leaf);
      } finally {
        node.db.prepare(`UPDATE production_runs SET record = ? WHERE run_id = ?`).run(row.record, run.id);
      }
      expect((await ok(`/api/v1/production-runs/${run.id}`)).body.anchor.verified).to.equal(true);
    });
  });

  describe("GET /api/v1/batches/{ref}/footprint", function () {
    /**
     * The demo butter, by hand. The runs that made its lots (services/demo/production.ts), with
     * CO2e = Σ kWh × factor of the run's year (the demo runs are in 2023 or later: EU grid 0.203,
     * gas 0.183 on gross CV, diesel 0.267, solar 0.041, wind 0.011):
     *
     *   MILK-2611-A  20,000 l   720 kWh grid + 160 kWh gas     = 146.16 + 29.28        = 175.44 kg,  880 kWh
     *   MILK-2611-B  15,000 l   600 kWh grid + 40 kWh diesel   = 121.8 + 10.68         = 132.48 kg,  640 kWh
     *   POOL-2611    27,000 l   135 kWh grid                   = 27.405 kg,                          135 kWh
     *   CRM + SKM    3,000 + 23,500 l   250 kWh grid + 945 kWh gas = 50.75 + 172.935   = 223.685 kg, 1195 kWh
     *   BTR-2611     900 kg     150 solar + 60 wind + 20 grid  = 6.15 + 0.66 + 4.06    = 10.87 kg,   230 kWh
     *
     * MERGE (one output) passes on the lineage edges' quantities: portion of A → POOL 12,000 l;
     * B → POOL 15,000 l. PROCESS (separator) has two co-products; no rule is set, so the default
     * mass rule applies, and with no kg per litre given for cream or skim milk their litres stand in
     * as the mass proxy (the stage says so): cream's share is 3,000 / 26,500 of the separator run
     * AND of all 27,000 l of pooled milk it consumed (not the edge's raw pro-rata 3,056.603 l).
     *   f(A)    = 175.44 / 20,000                                   = 0.008772      kg/l
     *   f(B)    = 132.48 / 15,000                                   = 0.008832      kg/l
     *   f(POOL) = (27.405 + 12,000·f(A) + 15,000·f(B)) / 27,000     = 265.149 / 27,000 = 0.00982033 kg/l
     *   f(CRM)  = (223.685 + 27,000·f(POOL)) · (3,000 / 26,500) / 3,000               = 0.01844657 kg/l
     *   f(BTR)  = 10.87 / 900 + f(CRM) · 2,000 / 900                = 0.01207778 + 0.04099238 = 0.05307016 kg/kg
     *
     * Freight (services/demo/epcis-seed.ts, DEMO_PALLET_LEG): the cheese maker's shipping event of the
     * butter pallet (SSCC) declares 180 km by road at the pallet's gross 0.96 t, no carrier factor: the
     * DESNZ 2023 road default, 0.107 kg CO2e/tkm. The pallet holds the 900 kg lot alone (mass share 1):
     *   leg     = 180 × 0.96 × 0.107                                = 18.4896 kg CO2e, 0.020544 kg/kg of butter
     *   f(BTR) with freight = 0.05307016 + 0.020544                 = 0.07361416 kg/kg
     * (from the contents' 0.9 t instead of the gross mass: 17.334 kg; split per litre of lot or by raw
     * quantities it would differ again).
     */
    const grid = 0.203;
    const gas = 0.183;
    const creamShare = 3_000 / 26_500;
    const fA = (720 * grid + 160 * gas) / 20_000;
    const fB = (600 * grid + 40 * 0.267) / 15_000;
    const fPool = (135 * grid + 12_000 * fA + 15_000 * fB) / 27_000;
    const separator = 250 * grid + 945 * gas;
    const fCream = ((separator + 27_000 * fPool) * creamShare) / 3_000;
    const ownButter = 150 * 0.041 + 60 * 0.011 + 20 * grid;
    /** The butter's production stages alone; its footprint adds the pallet's freight leg. */
    const fButterMade = ownButter / 900 + (fCream * 2_000) / 900;
    const palletLeg = 180 * 0.96 * 0.107;
    const fButter = fButterMade + palletLeg / 900;
    const eA = 880 / 20_000;
    const eB = 640 / 15_000;
    const ePool = (135 + 12_000 * eA + 15_000 * eB) / 27_000;
    const eCream = ((1_195 + 27_000 * ePool) * creamShare) / 3_000;
    const eButter = 230 / 900 + (eCream * 2_000) / 900;

    it("computes the butter's cradle-to-gate footprint through five production stages and the pallet's freight leg, as the hand calculation", async function () {
      close(fButterMade, 0.05307016, 1e-6);
      close(palletLeg, 18.4896, 1e-12);
      close(fButter, 0.07361416, 1e-6);
      const dl = encodeURIComponent(`https://id.gs1.org/01/${DEMO_GOODS.butter}/10/BTR-2611`);
      const res = await ok(`/api/v1/batches/${dl}/footprint`);
      const fp = res.body;
      expect(fp).to.include({ batchId: butter, lotId: butter, lot: "BTR-2611", unit: "KGM", basisQuantity: 900, complete: true });
      expect(fp.gaps).to.deep.equal([]);
      close(fp.co2ePerUnitKg, fButter);
      close(fp.energyPerUnitKwh, eButter);
      close(fp.co2eKg, fButter * 900);
      close(fp.knownCo2ePerUnitKg, fButter);
      type Stage = { type: string; lot: string; orgId: string; co2eKg: number; ownCo2ePerUnitKg: number; share: number };
      const production = (fp.stages as Stage[]).filter((s) => s.type === "production");
      const stages: Record<string, Stage> = Object.fromEntries(production.map((s) => [s.lot, s]));
      expect(Object.keys(stages)).to.deep.equal(["BTR-2611", "CRM-2611", "POOL-2611", "MILK-2611-A", "MILK-2611-B"]);
      const freight = (fp.stages as Stage[]).filter((s) => s.type === "transport");
      expect(freight.map((s) => s.lot)).to.deep.equal(["BTR-2611"]);
      close(freight[0].co2eKg, palletLeg);
      expect(stages["BTR-2611"].orgId).to.equal(orgIdOf("processor2"));
      expect(stages["CRM-2611"].orgId).to.equal(orgIdOf("processor"));
      expect(stages["MILK-2611-A"].orgId).to.equal(orgIdOf("producer"));
      // Each stage's part of the 900 kg: its own per-unit figure times the litres of it in the butter.
      const creamPerKg = 2_000 / 900;
      const poolPerKg = (creamPerKg * 27_000 * creamShare) / 3_000;
      close(stages["BTR-2611"].co2eKg, ownButter);
      close(stages["CRM-2611"].co2eKg, ((separator * creamShare) / 3_000) * creamPerKg * 900);
      close(stages["POOL-2611"].co2eKg, ((135 * grid) / 27_000) * poolPerKg * 900);
      close(stages["MILK-2611-A"].co2eKg, fA * (12_000 / 27_000) * poolPerKg * 900);
      close(stages["MILK-2611-B"].co2eKg, fB * (15_000 / 27_000) * poolPerKg * 900);
      close(stages["MILK-2611-A"].ownCo2ePerUnitKg, 0.008772);
      close(
        (fp.stages as Stage[]).reduce((s, x) => s + x.share, 0),
        1,
      );
      close(stages["BTR-2611"].share, ownButter / 900 / fButter);
      expect(fp.emissionFactors).to.include({ grid: 0.203, solar: 0.041, wind: 0.011, gas: 0.183, diesel: 0.267 });
      // The rule that split the separator's burden, and what the figure is.
      const cream = (fp.stages as { lot: string; allocation: { kind: string; rule: string; share: number; basis: string } }[]).find(
        (s) => s.lot === "CRM-2611",
      )!;
      expect(cream.allocation).to.include({ kind: "PROCESS", rule: "mass" });
      close(cream.allocation.share, creamShare);
      expect(cream.allocation.basis).to.match(/proxy/);
      expect(fp.boundary.label).to.equal("cradle-to-gate over the recorded stages: energy, transport");
      expect(fp.boundary.recorded).to.have.members(["energy", "transport"]);
      // The pallet's leg is freight the butter's holder buys or receives: upstream Scope 3 (ISO 14083, category 4).
      close(fp.scopesPerUnitKg.scope3Upstream, fButter - ownButter / 900 + (150 * 0.041 + 60 * 0.011) / 900);
      close(fp.scopesPerUnitKg.scope2LocationBased, (20 * grid) / 900);
      expect(fp.factorVintages.grid.map((v: { year: number }) => v.year)).to.deep.equal([2023]);
    });

    it("shows the demo pallet's freight leg on the butter: its event, mode, distance, gross mass, factor with its source and kg CO2e", async function () {
      const fp = (await ok(`/api/v1/batches/${butter}/footprint`)).body;
      const stage = fp.stages.find((s: { type: string }) => s.type === "transport");
      expect(stage, "a transport stage").to.include({ batchId: butter, lot: "BTR-2611", orgId: orgIdOf("processor2") });
      close(stage.ownCo2ePerUnitKg, palletLeg / 900);
      expect(stage.transport).to.have.length(1);
      const [leg] = stage.transport;
      expect(leg).to.include({
        bizStep: "shipping",
        batchId: butter,
        from: site("processor2", 1),
        to: site("carrier", 2),
        mode: "road",
        distanceKm: 180,
        tonnes: 0.96,
        kgCo2ePerTonneKm: 0.107,
        quantity: 900,
      });
      expect(leg.factorSource).to.match(/^DESNZ 2023 freighting goods, HGV/);
      close(leg.co2eKg, 18.4896);
      expect(leg.logisticUnit).to.include({ sscc: DEMO_GOODS.butterUnit, batches: 1, batchKg: 900, contentsKg: 900, share: 1 });
      close(leg.logisticUnit.legCo2eKg, 18.4896);
      expect(leg.origin).to.include({ orgId: orgIdOf("processor2"), verified: true });
      // The shelf's butter inherits it per kilogram; the skim milk, never on the pallet, does not carry it.
      const shelf = (await ok(`/api/v1/batches/${shelf1}/footprint`)).body;
      close(shelf.co2ePerUnitKg, fButter);
      expect((await ok(`/api/v1/batches/${skim}/footprint`)).body.stages.some((s: { type: string }) => s.type === "transport")).to.equal(false);
      // The PACT export: the same figure per kilogram, freight in its boundary, the road factor among its secondary sources.
      const pf = (await ok(`/api/v1/batches/${butter}/footprint/pact`)).body;
      close(Number(pf.pcf.pCfExcludingBiogenic), fButter, 1e-9);
      expect(pf.comment).to.include("energy, transport");
      expect(pf.pcf.secondaryEmissionFactorSources).to.deep.include({ name: leg.factorSource, version: "2023" });
    });

    it("gives the butter on a shelf (a portion) the lot's per-kg footprint, and the skim milk its own", async function () {
      const shelf = (await ok(`/api/v1/batches/${shelf1}/footprint`)).body;
      close(shelf.co2ePerUnitKg, fButter);
      expect(shelf.basisQuantity).to.equal(300);
      close(shelf.co2eKg, fButter * 300);
      const skimmed = (await ok(`/api/v1/batches/${skim}/footprint`)).body;
      // Skim milk: the other 23,500 / 26,500 of the separator run and of the 27,000 l of pooled milk.
      close(skimmed.co2ePerUnitKg, ((separator + 27_000 * fPool) * (23_500 / 26_500)) / 23_500);
      const milk = (await ok(`/api/v1/batches/${lotB}/footprint`)).body;
      close(milk.co2ePerUnitKg, fB);
      expect(milk.stages).to.have.length(1);
      const portion = (await ok(`/api/v1/batches/${creamPortion}/footprint`)).body;
      close(portion.co2ePerUnitKg, fCream);
      expect(portion.basisQuantity).to.equal(2_000);
    });

    it("answers 404 for an unknown batch and 400 for a bad reference", async function () {
      expectProblem(await get(node, `/api/v1/batches/0x${"ab".repeat(32)}/footprint`), 404, "batch_not_found");
      expectProblem(
        await get(node, `/api/v1/batches/${encodeURIComponent("https://id.gs1.org/01/123/10/X")}/footprint`),
        400,
        "invalid_ref",
      );
    });
  });

  describe("KPIs and productivity", function () {
    it("reports an organisation's KPIs over the last 90 days by default", async function () {
      const res = await ok(`/api/v1/analytics/orgs/${orgIdOf("processor")}/kpis`);
      const k = res.body;
      close(Date.parse(k.to) - Date.parse(k.from), 90 * DAY);
      expect(k.runs).to.be.within(175, 185);
      expect(k.countUnit).to.equal("LTR");
      close(k.oee, k.oeeFactors.availability * k.oeeFactors.performance * k.oeeFactors.quality, 1e-9);
      expect(k.oee).to.be.within(0.4, 0.9);
      expect(k.yield).to.be.within(0.97, 1); // litres in, litres out: reception and separation losses
      expect(k.energyPerUnitKwh).to.be.within(0.01, 0.05);
      expect(k.co2ePerUnitKg).to.be.within(0.002, 0.01);
      expect(k.defectPpm).to.be.within(1_000, 10_000);
      // Seller of the refunded skim milk order (nothing delivered) and the cream order (delivered on time).
      expect(k.onTimeOrders).to.deep.equal({ onTime: 1, decided: 2 });
      expect(k.onTimeDelivery).to.equal(0.5);
      expect(k.dwellHours).to.be.a("number").and.to.be.at.least(0);
      expect(k.energyBySource).to.have.keys("grid", "gas");
    });

    it("narrows to a site, and is null where there is no data — never 0", async function () {
      const farm = (await ok(`/api/v1/analytics/orgs/${orgIdOf("producer")}/kpis?site=${site("producer", 2)}`)).body;
      expect(farm.site).to.equal(site("producer", 2));
      expect(farm.runs).to.be.within(85, 95);
      expect(farm.yield).to.equal(null); // milking has no material inputs
      expect(farm.onTimeDelivery).to.equal(1); // the milk order, delivered in full on time
      const carrier = (await ok(`/api/v1/analytics/orgs/${orgIdOf("carrier")}/kpis`)).body;
      expect(carrier).to.include({
        runs: 0,
        oee: null,
        yield: null,
        energyPerUnitKwh: null,
        co2ePerUnitKg: null,
        defectPpm: null,
        onTimeDelivery: null,
        energyKwh: null,
      });
      expect(carrier.oeeFactors).to.deep.equal({ availability: null, performance: null, quality: null });
      expect(carrier.dwellHours).to.be.a("number"); // it carried the milk: custody, not production
      const past = (await ok(`/api/v1/analytics/orgs/${orgIdOf("processor")}/kpis?from=2001-01-01&to=2001-02-01`)).body;
      expect(past).to.include({
        from: "2001-01-01T00:00:00.000Z",
        to: "2001-02-01T00:00:00.000Z",
        runs: 0,
        oee: null,
        dwellHours: null,
        onTimeDelivery: null,
      });
    });

    it("refuses bad KPI parameters and unknown organisations", async function () {
      expectProblem(await get(node, `/api/v1/analytics/orgs/999/kpis`), 404, "org_not_found");
      expectProblem(await get(node, `/api/v1/analytics/orgs/1/kpis?from=2025-13-01`), 400, "invalid_request");
      const res = await get(node, `/api/v1/analytics/orgs/1/kpis?from=2025-02-01&to=2025-01-01`);
      expectProblem(res, 400, "invalid_request");
      expect(res.body.errors).to.deep.equal([{ path: "querystring/to", message: "must be after from" }]);
      expectProblem(await get(node, `/api/v1/analytics/orgs/0/kpis`), 400, "invalid_request");
    });

    it("reports KPIs month by month, each month as …/kpis for that month", async function () {
      const id = orgIdOf("processor");
      const series = (await ok(`/api/v1/analytics/orgs/${id}/kpis/monthly`)).body;
      expect(series).to.include({ orgId: String(id), site: null, line: null });
      expect(series.months).to.have.length(6);
      const now = new Date();
      const thisMonth = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)).toISOString();
      expect(series.months[5].from).to.equal(thisMonth);
      for (let i = 1; i < 6; i++) expect(series.months[i].from).to.equal(series.months[i - 1].to);
      // Each point is the single-period answer for its month (the series computes custody once, not per month).
      for (const point of series.months) {
        const single = (await ok(`/api/v1/analytics/orgs/${id}/kpis?from=${point.from}&to=${point.to}`)).body;
        expect(point).to.deep.equal(single);
      }
      expect(series.months.reduce((n: number, p: { runs: number }) => n + p.runs, 0)).to.be.greaterThan(0);
      const farm = (await ok(`/api/v1/analytics/orgs/${orgIdOf("producer")}/kpis/monthly?from=2000-11&to=2001-02&site=${site("producer", 2)}`)).body;
      expect(farm.site).to.equal(site("producer", 2));
      expect(farm.months.map((p: { from: string }) => p.from)).to.deep.equal(["2000-11-01T00:00:00.000Z", "2000-12-01T00:00:00.000Z", "2001-01-01T00:00:00.000Z", "2001-02-01T00:00:00.000Z"]);
      expect(farm.months.every((p: { runs: number; oee: unknown }) => p.runs === 0 && p.oee === null)).to.equal(true);
    });

    it("refuses bad monthly KPI parameters", async function () {
      const id = orgIdOf("processor");
      expectProblem(await get(node, `/api/v1/analytics/orgs/999/kpis/monthly`), 404, "org_not_found");
      expectProblem(await get(node, `/api/v1/analytics/orgs/${id}/kpis/monthly?from=2025-13`), 400, "invalid_request");
      expectProblem(await get(node, `/api/v1/analytics/orgs/${id}/kpis/monthly?from=2025-01-01`), 400, "invalid_request");
      const backwards = await get(node, `/api/v1/analytics/orgs/${id}/kpis/monthly?from=2025-03&to=2025-01`);
      expectProblem(backwards, 400, "invalid_request");
      expect(backwards.body.errors).to.deep.equal([{ path: "querystring/to", message: "must not be before from" }]);
      const long = await get(node, `/api/v1/analytics/orgs/${id}/kpis/monthly?from=2020-01&to=2025-01`);
      expectProblem(long, 400, "invalid_request");
      expect(long.body.errors).to.deep.equal([{ path: "querystring/from", message: "spans 61 months; at most 36" }]);
    });

    it("shows η_intelligent > 0 for the dairy (automated separator) and η_green > 0 for the cheese maker (renewable site)", async function () {
      const dairy = (await ok(`/api/v1/analytics/orgs/${orgIdOf("processor")}/productivity`)).body;
      // Per planned hour (availability counts), not per run-hour: the demo's gain is smaller that way.
      expect(dairy.etaIntelligent).to.be.greaterThan(0);
      const { baseline: db, period: dp } = dairy.records;
      close(dairy.etaIntelligent, dp.goodOutput / dp.plannedHours / (db.goodOutput / db.plannedHours) - 1, 1e-6);
      close(dairy.index, (1 + dairy.etaIntelligent) * (1 + dairy.etaGreen), 1e-9);
      expect(dairy.records.baseline.runs).to.be.within(170, 190);
      expect(dairy.records.period.runs).to.be.within(170, 190);
      // η_green's boundary is stated: the runs' own sources, not the batches' EPCIS freight.
      expect(dairy.co2eBoundary).to.match(/^per run, of the runs with energy data: energy by source/).and.match(/not freight from EPCIS shipping events/);
      const separator = (await ok(`/api/v1/analytics/orgs/${orgIdOf("processor")}/productivity?line=separator-1`)).body;
      expect(separator.etaIntelligent).to.be.greaterThan(dairy.etaIntelligent);
      expect(separator.line).to.equal("separator-1");

      const cheese = (await ok(`/api/v1/analytics/orgs/${orgIdOf("processor2")}/productivity`)).body;
      expect(cheese.etaGreen).to.be.greaterThan(0.3);
      expect(Math.abs(cheese.etaIntelligent)).to.be.below(0.05);
      close(cheese.index, (1 + cheese.etaIntelligent) * (1 + cheese.etaGreen), 1e-9);
      expect(cheese.countUnit).to.equal("KGM");
      // Defaults: the baseline = the first 90 days of records, period = the last 90; the demo's records
      // span a little under 180 days, so each window is half of them and they meet without overlapping.
      const { baseline, period } = cheese.records;
      const length = Date.parse(baseline.to) - Date.parse(baseline.from);
      expect(length).to.be.within(80 * DAY, 90 * DAY);
      close(Date.parse(period.to) - Date.parse(period.from), length);
      expect(Date.parse(baseline.to)).to.be.at.most(Date.parse(period.from));
      expect(cheese.uncertainty.etaGreen.interval[0]).to.be.below(cheese.etaGreen);
      expect(cheese.uncertainty.etaGreen.interval[1]).to.be.above(cheese.etaGreen);
      const first = (await ok(`/api/v1/production-runs?orgId=${orgIdOf("processor2")}&limit=1`)).body.items[0];
      expect(baseline.from).to.equal(first.startTime);
      // Explicit windows give the same answer.
      const q = `baselineFrom=${baseline.from}&baselineTo=${baseline.to}&from=${period.from}&to=${period.to}`;
      const explicit = (await ok(`/api/v1/analytics/orgs/${orgIdOf("processor2")}/productivity?${q}`)).body;
      expect(explicit.etaGreen).to.equal(cheese.etaGreen);
      expect(explicit.etaIntelligent).to.equal(cheese.etaIntelligent);
    });

    it("is null without records, and refuses inverted windows", async function () {
      const carrier = (await ok(`/api/v1/analytics/orgs/${orgIdOf("carrier")}/productivity`)).body;
      expect(carrier).to.include({ etaIntelligent: null, etaGreen: null, index: null, outputChange: null });
      expect(carrier.records.baseline).to.include({ from: null, to: null, runs: 0 });
      const res = await get(node, `/api/v1/analytics/orgs/3/productivity?baselineFrom=2025-03-01&baselineTo=2025-01-01`);
      expectProblem(res, 400, "invalid_request");
      expect(res.body.errors[0].path).to.equal("querystring/baselineTo");
    });

    it("refuses a baseline and a period that overlap: a run would count in both", async function () {
      const q = "baselineFrom=2025-01-01&baselineTo=2025-03-01&from=2025-02-01&to=2025-04-01";
      const res = await get(node, `/api/v1/analytics/orgs/${orgIdOf("processor")}/productivity?${q}`);
      expectProblem(res, 400, "overlapping_windows");
      expect(res.body.detail).to.match(/overlap/);
    });

    it("lists the emission factors in force with their sources", async function () {
      const res = await ok("/api/v1/analytics/emission-factors");
      expect(res.body.factors).to.deep.equal({ grid: 0.203, solar: 0.041, wind: 0.011, hydro: 0.024, gas: 0.183, diesel: 0.267 });
      expect(res.body.vintages.grid.map((v: { year: number; value: number }) => [v.year, v.value])).to.deep.equal([
        [2022, 0.251],
        [2023, 0.203],
      ]);
      expect(res.body.vintages.gas[0]).to.include({ basis: "gross", boundary: "combustion" });
      expect(res.body.gwp100.AR6).to.include({ CH4: 27, N2O: 273 });
      expect(res.body.allocation).to.include({ defaultRule: "mass" });
      expect(res.body.sources.grid).to.match(/EEA/);
      expect(res.body.sources.diesel).to.match(/IPCC 2006/);
    });
  });

  describe("POST /api/v1/production-runs", function () {
    let cheeseToken: string;
    const cheeseSite = site("processor2", 1);
    /** Past times on a line of its own, one test hour each. */
    let slot = 0;
    const window = (hours = 2) => {
      const start = Date.now() - 3 * DAY + slot++ * 3 * HOUR;
      return { startTime: new Date(start).toISOString(), endTime: new Date(start + hours * HOUR).toISOString() };
    };
    const run = (overrides: Record<string, unknown> = {}) => ({
      site: cheeseSite,
      line: "test-press",
      ...window(),
      plannedTimeSeconds: 7_200,
      runTimeSeconds: 6_000,
      idealCycleTimeSeconds: 10,
      totalCount: 500,
      goodCount: 490,
      countUnit: "KGM",
      inputs: [{ material: "sweet cream 35 % fat", quantity: "1100", unit: "LTR" }],
      outputs: [{ material: "butter", quantity: "490", unit: "KGM" }],
      energyKwh: { grid: 30, solar: 90 },
      waterM3: 1.5,
      scrapKg: 10,
      processParameters: {
        airTemperatureK: 298.4,
        processTemperatureK: 308.9,
        rotationalSpeedRpm: 1498,
        torqueNm: 41.3,
        toolWearMin: 12,
      },
      ...overrides,
    });

    before(async function () {
      this.timeout(60_000);
      cheeseToken = await tokenFor(node, demoWallet(member("processor2").account));
    });

    it("needs a signed-in agent (401), before looking at the body", async function () {
      expectProblem(await post(node, "/api/v1/production-runs", run()), 401, "unauthorized");
      expectProblem(await post(node, "/api/v1/production-runs", { nonsense: true }), 401, "unauthorized");
      expectProblem(
        await post(node, "/api/v1/production-runs", run(), { "content-type": "application/json", ...bearer("x".repeat(43)) }),
        401,
        "unauthorized",
      );
    });

    it("refuses a malformed body (400) naming each failing field", async function () {
      const headers = { "content-type": "application/json", ...bearer(cheeseToken) };
      const { site: _site, ...withoutSite } = run();
      const missing = await post(node, "/api/v1/production-runs", withoutSite, headers);
      expectProblem(missing, 400, "invalid_request");
      expect(missing.body.errors.map((e: { message: string }) => e.message)).to.include("must have required property 'site'");

      const res = await post(
        node,
        "/api/v1/production-runs",
        run({
          ...window(),
          runTimeSeconds: 8_000,
          goodCount: 501,
          energyKwh: { coal: 5 },
          processParameters: { airTemperatureK: 25 },
        }),
        headers,
      );
      expectProblem(res, 400, "invalid_request");
      expect(res.body.errors.map((e: { path: string }) => e.path)).to.deep.equal([
        "body/runTimeSeconds",
        "body/goodCount",
        "body/energyKwh/coal",
        "body/processParameters/airTemperatureK",
      ]);
      expect(res.body.errors[3].message).to.match(/298\.15 K/);

      const typed = await post(node, "/api/v1/production-runs", run({ totalCount: "500", waterM3: -1 }), headers);
      expectProblem(typed, 400, "invalid_request");
      expect(typed.body.errors.map((e: { path: string }) => e.path)).to.include.members(["body/totalCount", "body/waterM3"]);

      const unknown = await post(
        node,
        "/api/v1/production-runs",
        run({ inputs: [{ batchId: `0x${"cd".repeat(32)}`, quantity: "1" }] }),
        headers,
      );
      expectProblem(unknown, 400, "invalid_request");
      expect(unknown.body.errors).to.deep.equal([
        { path: "body/inputs/0/batchId", message: `no batch 0x${"cd".repeat(32)} is in the index` },
      ]);

      const overRecorded = await post(
        node,
        "/api/v1/production-runs",
        run({ outputs: [{ batchId: butter, quantity: "1" }] }),
        headers,
      );
      expectProblem(overRecorded, 400, "invalid_request");
      expect(overRecorded.body.errors[0].path).to.equal("body/outputs/0/quantity");
      expect(overRecorded.body.errors[0].message).to.match(/BTR-2611 was registered with 900 KGM; other runs already record 900/);
    });

    it("refuses another organisation's batches, lots and sites (403)", async function () {
      const headers = { "content-type": "application/json", ...bearer(cheeseToken) };
      const input = await post(node, "/api/v1/production-runs", run({ inputs: [{ batchId: lotA, quantity: "100" }] }), headers);
      expectProblem(input, 403, "foreign_resource");
      expect(input.body.detail).to.match(/MILK-2611-A/);
      expectProblem(
        await post(node, "/api/v1/production-runs", run({ outputs: [{ batchId: cream, quantity: "1" }] }), headers),
        403,
        "foreign_resource",
      );
      expectProblem(
        await post(node, "/api/v1/production-runs", run({ site: site("processor", 1) }), headers),
        403,
        "foreign_resource",
      );
      // Its own cream portion is fine as an input.
      const own = await post(
        node,
        "/api/v1/production-runs",
        run({ inputs: [{ batchId: creamPortion, quantity: "10" }] }),
        headers,
      );
      expect(own.status, own.text).to.equal(201);
      expect(own.body.inputs).to.deep.equal([{ batchId: creamPortion, quantity: "10", unit: "LTR" }]);
    });

    it("stores a run (201), anchors it through the outbox, and lists it", async function () {
      this.timeout(60_000);
      const headers = { "content-type": "application/json", ...bearer(cheeseToken) };
      const body = run();
      const res = await post(node, "/api/v1/production-runs", body, headers);
      expect(res.status, res.text).to.equal(201);
      expect(res.headers.get("location")).to.equal(`/api/v1/production-runs/${res.body.id}`);
      expect(res.body).to.deep.include({
        orgId: orgIdOf("processor2"),
        site: cheeseSite,
        line: "test-press",
        startTime: body.startTime,
        status: "current",
        supersededBy: null,
        submittedBy: demoWallet(member("processor2").account).address,
      });
      expect(res.body.anchor).to.include({ status: "pending", verified: false });
      const m = res.body.metrics;
      close(m.availability, 6_000 / 7_200);
      close(m.performance, 5_000 / 6_000);
      close(m.quality, 0.98);
      close(m.oee, (10 * 490) / 7_200);
      close(m.co2eKg, 30 * 0.203 + 90 * 0.041);
      close(m.co2ePerUnitKg, (6.09 + 3.69) / 490);
      close(m.defectPpm, 20_000);
      expect(m.yield).to.equal(null); // litres of cream in, kilograms of butter out

      let anchored: ApiResponse | null = null;
      for (let i = 0; i < 40 && !anchored; i++) {
        const current = await ok(`/api/v1/production-runs/${res.body.id}`);
        if (current.body.anchor.status === "anchored") anchored = current;
        else await new Promise((r) => setTimeout(r, 500));
      }
      expect(anchored, "anchored within 20 s").to.not.equal(null);
      expect(anchored!.body.anchor.verified).to.equal(true);

      const listed = await ok(`/api/v1/production-runs?orgId=${orgIdOf("processor2")}&line=test-press&limit=500`);
      expect(listed.body.items.map((r: { id: string }) => r.id)).to.include(res.body.id);
    });

    it("keeps a corrected run, superseded, and refuses correcting it twice (409) or overlapping it (409)", async function () {
      const headers = { "content-type": "application/json", ...bearer(cheeseToken) };
      const original = await post(node, "/api/v1/production-runs", run(), headers);
      expect(original.status, original.text).to.equal(201);
      const fix = {
        ...run(),
        startTime: original.body.startTime,
        endTime: original.body.endTime,
        goodCount: 495,
        corrects: original.body.id,
      };
      const corrected = await post(node, "/api/v1/production-runs", fix, headers);
      expect(corrected.status, corrected.text).to.equal(201);
      expect(corrected.body.corrects).to.equal(original.body.id);

      const old = await ok(`/api/v1/production-runs/${original.body.id}`);
      expect(old.body).to.include({ status: "superseded", supersededBy: corrected.body.id, goodCount: 490 });
      expect(old.body.anchor.recordHash).to.equal(old.body.anchor.leaf); // the original record is untouched

      const again = await post(node, "/api/v1/production-runs", { ...fix, goodCount: 480 }, headers);
      expectProblem(again, 409, "already_superseded");
      const overlap = await post(
        node,
        "/api/v1/production-runs",
        { ...run(), startTime: original.body.startTime, endTime: original.body.endTime },
        headers,
      );
      expectProblem(overlap, 409, "run_overlap");

      const path = `/api/v1/production-runs?orgId=${orgIdOf("processor2")}&line=test-press&limit=500`;
      const current = (await ok(path)).body.items.map((r: { id: string }) => r.id);
      expect(current).to.include(corrected.body.id).and.not.include(original.body.id);
      const everything = (await ok(`${path}&includeSuperseded=true`)).body.items.map((r: { id: string }) => r.id);
      expect(everything).to.include.members([original.body.id, corrected.body.id]);

      // Another organisation cannot correct it.
      const dairyToken = await tokenFor(node, demoWallet(member("processor").account));
      const foreign = await post(
        node,
        "/api/v1/production-runs",
        { ...fix, site: site("processor", 1), corrects: corrected.body.id },
        { "content-type": "application/json", ...bearer(dairyToken) },
      );
      expectProblem(foreign, 403, "foreign_resource");
    });
  });

  it("keeps the demo's lots recorded once each", function () {
    const count = (id: string) =>
      (
        node.db.prepare(`SELECT COUNT(*) AS n FROM production_run_batches WHERE batch_id = ? AND role = 'output'`).get(id) as {
          n: number;
        }
      ).n;
    for (const id of [lotA, lotB, pooled, cream, skim, butter]) expect(count(id), id).to.equal(1);
  });

  describe("PACT exchange", function () {
    const pactDoc = (over: Record<string, unknown> = {}) => ({
      id: "7c1e2f3a-4b5c-4d6e-8f90-a1b2c3d4e5f6",
      specVersion: "2.2.0",
      version: 1,
      created: "2025-02-01T00:00:00Z",
      status: "Active",
      companyName: "Salt Works GmbH",
      companyIds: ["urn:uuid:51131fb5-42a2-4267-a402-0ecfefad1619"],
      productDescription: "dairy salt",
      productIds: ["urn:gtin:04012345000033"],
      productCategoryCpc: "16200",
      productNameCompany: "Salt 99",
      comment: "",
      pcf: {
        declaredUnit: "kilogram",
        unitaryProductAmount: "25",
        pCfExcludingBiogenic: "0.62",
        fossilGhgEmissions: "0.62",
        fossilCarbonContent: "0",
        biogenicCarbonContent: "0",
        ipccCharacterizationFactorsSources: ["AR6"],
        crossSectoralStandardsUsed: ["GHG Protocol Product standard"],
        productOrSectorSpecificRules: [],
        boundaryProcessesDescription: "cradle to gate",
        referencePeriodStart: "2024-01-01T00:00:00Z",
        referencePeriodEnd: "2025-01-01T00:00:00Z",
        exemptedEmissionsPercent: 0,
        exemptedEmissionsDescription: "",
        packagingEmissionsIncluded: false,
      },
      ...over,
    });
    let cheeseToken: string;
    let dairyToken: string;
    const json = (token: string) => ({ "content-type": "application/json", ...bearer(token) });

    before(async function () {
      this.timeout(60_000);
      cheeseToken = await tokenFor(node, demoWallet(member("processor2").account));
      dairyToken = await tokenFor(node, demoWallet(member("processor").account));
    });

    it("exports the butter's footprint as a PACT v2 ProductFootprint, the same figure per kilogram", async function () {
      const fp = (await ok(`/api/v1/batches/${butter}/footprint`)).body;
      const res = await ok(`/api/v1/batches/${butter}/footprint/pact`);
      const pf = res.body;
      expect(pf.specVersion).to.match(/^2\./);
      expect(pf.productIds).to.include(`urn:gtin:${DEMO_GOODS.butter}`);
      expect(pf.status).to.equal("Active");
      expect(pf.pcf).to.include({ declaredUnit: "kilogram", unitaryProductAmount: "900", packagingEmissionsIncluded: false });
      close(Number(pf.pcf.pCfExcludingBiogenic), fp.co2ePerUnitKg, 1e-9);
      expect(pf.pcf.allocationRulesDescription).to.match(/CRM-2611: mass/);
      expect(pf.pcf.boundaryProcessesDescription).to.match(/Excludes/);
      expect(pf.pcf.secondaryEmissionFactorSources.map((s: { name: string }) => s.name).join(" ")).to.match(/EEA/);
      expectProblem(await getAnonymous(node, `/api/v1/batches/${butter}/footprint/pact`), 401, "unauthorized");
    });

    it("imports a supplier's PACT footprint once per version, and a run cites it as a purchased input", async function () {
      const created = await post(node, "/api/v1/footprints/pact", pactDoc(), json(cheeseToken));
      expect(created.status, created.text).to.equal(201);
      expect(created.body).to.include({ pactId: "7c1e2f3a-4b5c-4d6e-8f90-a1b2c3d4e5f6", unit: "KGM", co2ePerUnitKg: 0.62, orgId: orgIdOf("processor2") });
      expect((await post(node, "/api/v1/footprints/pact", pactDoc(), json(cheeseToken))).status).to.equal(200);
      const changed = pactDoc();
      changed.pcf.pCfExcludingBiogenic = "0.1";
      expectProblem(await post(node, "/api/v1/footprints/pact", changed, json(cheeseToken)), 409, "pact_version_exists");
      expectProblem(await post(node, "/api/v1/footprints/pact", pactDoc({ status: "Deprecated", version: 2 }), json(cheeseToken)), 422, "pact_not_active");
      expectProblem(await post(node, "/api/v1/footprints/pact", pactDoc({ id: "x" }), json(cheeseToken)), 400, "invalid_pact");

      const start = Date.now() - 5 * DAY;
      const body = {
        site: site("processor2", 1),
        line: "pact-line",
        startTime: new Date(start).toISOString(),
        endTime: new Date(start + 2 * HOUR).toISOString(),
        plannedTimeSeconds: 7_200,
        runTimeSeconds: 6_000,
        idealCycleTimeSeconds: 10,
        totalCount: 500,
        goodCount: 490,
        countUnit: "KGM",
        inputs: [{ material: "salt", quantity: "20", unit: "KGM", footprint: { pactId: "7c1e2f3a-4b5c-4d6e-8f90-a1b2c3d4e5f6" } }],
        outputs: [{ material: "salted butter", quantity: "490", unit: "KGM" }],
        energyKwh: { grid: 30 },
        directEmissionsKg: { "R-404A": 0.01 },
        transportLegs: [{ mode: "road", distanceKm: 120, tonnes: 0.02 }],
      };
      const res = await post(node, "/api/v1/production-runs", body, json(cheeseToken));
      expect(res.status, res.text).to.equal(201);
      expect(res.body.inputs[0].footprint).to.include({ co2ePerUnitKg: 0.62, pactId: "7c1e2f3a-4b5c-4d6e-8f90-a1b2c3d4e5f6" });
      expect(res.body.inputs[0].footprint.source).to.match(/Salt Works/);
      expect(res.body.directEmissionsKg).to.deep.equal({ "R-404A": 0.01 });
      expect(res.body.transportLegs).to.deep.equal([{ mode: "road", distanceKm: 120, tonnes: 0.02 }]);
    });

    it("refuses a productivity comparison over records too short for two windows of a week, saying what to do (records_too_short)", async function () {
      // The line the test above recorded one two-hour run on: its records span 0.1 days.
      const res = await get(node, `/api/v1/analytics/orgs/${orgIdOf("processor2")}/productivity?line=pact-line`);
      expectProblem(res, 400, "records_too_short");
      expect(res.body.detail).to.match(/the records span 0\.1 days: two non-overlapping windows of at least 7 days need 14/).and.match(/do not overlap/);
    });

    it("refuses a member citing a PACT footprint another organisation imported, and does not show it to it", async function () {
      const start = Date.now() - 6 * DAY;
      const body = {
        site: site("processor", 1),
        line: "pact-attack",
        startTime: new Date(start).toISOString(),
        endTime: new Date(start + HOUR).toISOString(),
        plannedTimeSeconds: 3_600,
        runTimeSeconds: 3_600,
        idealCycleTimeSeconds: 1,
        totalCount: 10,
        goodCount: 10,
        inputs: [{ material: "salt", quantity: "1", unit: "KGM", footprint: { pactId: "7c1e2f3a-4b5c-4d6e-8f90-a1b2c3d4e5f6" } }],
      };
      const res = await post(node, "/api/v1/production-runs", body, json(dairyToken));
      expectProblem(res, 400, "invalid_request");
      expect(res.body.errors.map((e: { path: string }) => e.path)).to.include("body/inputs/0/footprint/pactId");
      expectProblem(
        await rawGet(node, "/api/v1/footprints/pact/7c1e2f3a-4b5c-4d6e-8f90-a1b2c3d4e5f6", bearer(dairyToken)),
        404,
        "pact_not_found",
      );
      expect((await rawGet(node, "/api/v1/footprints/pact/7c1e2f3a-4b5c-4d6e-8f90-a1b2c3d4e5f6", bearer(cheeseToken))).status).to.equal(200);
      expectProblem(await post(node, "/api/v1/footprints/pact", pactDoc()), 401, "unauthorized");
    });

    it("refuses a footprint for a tracked batch line and gases it does not know", async function () {
      const start = Date.now() - 7 * DAY;
      const body = {
        site: site("processor2", 1),
        line: "pact-bad",
        startTime: new Date(start).toISOString(),
        endTime: new Date(start + HOUR).toISOString(),
        plannedTimeSeconds: 3_600,
        runTimeSeconds: 3_600,
        idealCycleTimeSeconds: 1,
        totalCount: 10,
        goodCount: 10,
        inputs: [{ batchId: creamPortion, quantity: "1", footprint: { co2ePerUnitKg: 0, source: "made up" } }],
        directEmissionsKg: { CFC11: 1 },
      };
      const res = await post(node, "/api/v1/production-runs", body, json(cheeseToken));
      expectProblem(res, 400, "invalid_request");
      const paths = res.body.errors.map((e: { path: string }) => e.path);
      expect(paths).to.include.members(["body/inputs/0/footprint", "body/directEmissionsKg/CFC11"]);
    });
  });
});
