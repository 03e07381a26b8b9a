import crypto from "node:crypto";
import fs from "node:fs";
import { expect } from "chai";
import { AbiCoder, decodeBytes32String, keccak256 } from "ethers";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import type { TestNode } from "../../helpers/node";
import { DEMO_MEMBERS, demoWallet } from "../../../services/demo/roster";
import { DEMO_GOODS } from "../../../services/demo/supply-chain";
import { glnFor } from "../../../services/gs1/keys";
import { defaultModelPath } from "../../../services/scoring/default-model";
import { checkModelFile } from "../../../services/scoring/model";
import { scoringFor } from "../../../services/scoring/service";
import { bearer, expectProblem, get as rawGet, post, sharedNode, tokenFor, type ApiResponse } from "../api/helpers";
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
import { capturesDone, epcisDocument } from "../epcis/helpers";

/**
 * The scoring routes against the shared node's demo. The tests that write use the retailer's own
 * line (production runs) and the butter's lot (one EPCIS event with a temperature excursion), in
 * the past, so the other files' figures do not move.
 */
const coder = AbiCoder.defaultAbiCoder();
const lotIdOf = (gtin: string, lot: string) => keccak256(coder.encode(["uint64", "string"], [BigInt(gtin), lot]));
const member = (key: string) => DEMO_MEMBERS.find((m) => m.key === key)!;
const orgIdOf = (key: string) => String(DEMO_MEMBERS.indexOf(member(key)) + 1);
const site = (key: string, ref = 1) => glnFor(member(key).companyPrefixes[0], ref);
const dl = (gtin: string, lot: string) => encodeURIComponent(`https://id.gs1.org/01/${gtin}/10/${lot}`);

const lotB = lotIdOf(DEMO_GOODS.rawMilk, "MILK-2611-B");
const butter = lotIdOf(DEMO_GOODS.butter, "BTR-2611");
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** A run near the AI4I medians: low risk. */
const NORMAL = {
  airTemperatureK: 300.1,
  processTemperatureK: 310.1,
  rotationalSpeedRpm: 1503,
  torqueNm: 40.1,
  toolWearMin: 108,
  productType: "M",
};
/**
 * The same run pushed into overstrain and nothing else: a worn tool (190 min, short of the 200–240 min
 * tool-wear window) under high torque (60 Nm): 11,400 min·Nm > 11,000 for type L; power 8.3 kW, in band.
 */
const OVERSTRAIN = { ...NORMAL, rotationalSpeedRpm: 1320, torqueNm: 60, toolWearMin: 190, productType: "L" };

type Item = Record<string, unknown>;

describe("API scores", function () {
  let node: TestNode;
  let token: string;
  let modelHash: string;

  before(async function () {
    this.timeout(180_000);
    node = await sharedNode();
    await node.synced();
    token = await tokenFor(node, demoWallet(member("retailer").account));
    modelHash = checkModelFile(JSON.parse(fs.readFileSync(defaultModelPath(node.config.dataDir), "utf8"))).modelHash;
  });

  async function ok(path: string): Promise<ApiResponse> {
    const res = await get(node, path);
    expect(res.status, res.text).to.equal(200);
    return res;
  }
  const score = (body: unknown, headers: Record<string, string> = { "content-type": "application/json", ...bearer(token) }) =>
    post(node, "/api/v1/scores/quality", body, headers);

  describe("the default model", function () {
    it("is trained at first start, listed as active, and its hash is the model file's", async function () {
      const res = await ok("/api/v1/models");
      expect(res.body.nextCursor).to.equal(null);
      const active = res.body.items.filter((m: Item) => m.active);
      expect(active).to.have.length(1);
      expect(active[0]).to.deep.include({ modelHash, recordId: `model:${modelHash}`, format: "lotline-quality-model/1" });
      expect(active[0].learner).to.include({ name: "XGBoost", library: "ml-xgboost" });
      expect(active[0].features.map((f: Item) => f.name)).to.include.members([
        "torque",
        "toolWear",
        "strainRatio",
        "mechanismLoad",
      ]);
      expect(active[0].inputs.map((i: Item) => [i.name, i.apiName])).to.deep.equal([
        ["airTemp", "airTemperatureK"],
        ["processTemp", "processTemperatureK"],
        ["rotationalSpeed", "rotationalSpeedRpm"],
        ["torque", "torqueNm"],
        ["toolWear", "toolWearMin"],
        ["productType", "productType"],
      ]);
      expect(active[0].threshold).to.be.within(0.5, 1);
      expect(active[0].crossValidation.metrics.rocAuc).to.be.greaterThan(0.97);
      expect(active[0].training).to.include({ file: "ai4i2020.csv" });
    });

    it("is anchored through the outbox (kind MODEL, leaf = the model hash) and its proof verifies", async function () {
      this.timeout(60_000);
      let res = await ok(`/api/v1/models/${modelHash}`);
      // The boot's job round anchors it before the node is ready; wait for a later round if it was not.
      for (let i = 0; i < 40 && res.body.anchor?.status !== "anchored"; i++) {
        await new Promise((resolve) => setTimeout(resolve, 500));
        res = await ok(`/api/v1/models/${modelHash}`);
      }
      const { anchor } = res.body;
      expect(anchor).to.include({
        recordId: `model:${modelHash}`,
        kind: "MODEL",
        leaf: `0x${modelHash}`,
        status: "anchored",
        verified: true,
      });
      expect(res.body.verified).to.equal(true);
      // Anyone can check it without trusting the node's `verified`: the proof reaches the root, and the root is on the chain.
      expect(StandardMerkleTree.verify(anchor.merkleRoot, ["bytes32"], [`0x${modelHash}`], anchor.proof)).to.equal(true);
      expect(anchor.anchoredBy.orgId, "the proof names the organisation whose anchor it relies on").to.equal("1");
      const onChain = await node.contracts.anchors.anchorOf(BigInt(anchor.anchoredBy.orgId), anchor.merkleRoot);
      expect(decodeBytes32String(onChain.kind)).to.equal("MODEL");
      expect(Number(onChain.blockNumber)).to.equal(anchor.blockNumber);
      const root = await ok(`/api/v1/anchors/${anchor.merkleRoot}`);
      expect(root.body.kind).to.equal("MODEL");
      expect(root.body.leaves.map((l: Item) => l.recordId)).to.include(`model:${modelHash}`);
      // The 0x form of the hash names the same model.
      expect((await ok(`/api/v1/models/0x${modelHash}`)).body.modelHash).to.equal(modelHash);
    });

    it("answers 404 for an unknown model and 400 for something that is not a hash", async function () {
      expectProblem(await get(node, `/api/v1/models/${"ab".repeat(32)}`), 404, "model_not_found");
      expectProblem(await get(node, "/api/v1/models/latest"), 400, "invalid_request");
    });
  });

  describe("POST /api/v1/scores/quality", function () {
    it("needs a signed-in agent (401), before looking at the body", async function () {
      expectProblem(await score({ runs: [{ params: NORMAL }] }, { "content-type": "application/json" }), 401, "unauthorized");
      expectProblem(await score({ nonsense: true }, { "content-type": "application/json" }), 401, "unauthorized");
    });

    it("scores runs: probability, risk band, top reasons with their direction, and the anchored model's hash", async function () {
      const res = await score({
        runs: [
          { id: "normal-1", params: NORMAL },
          { id: "overstrain-1", params: OVERSTRAIN },
        ],
      });
      expect(res.status, res.text).to.equal(200);
      expect(res.body.modelHash).to.equal(modelHash);
      const [normal, strained] = res.body.results;
      for (const r of [normal, strained]) {
        expect(r).to.include({ scorable: true, modelHash });
        expect(r.probability).to.be.within(0, 1);
        expect(r.riskBand).to.be.oneOf(["low", "medium", "high"]);
        expect(r.reasons).to.be.an("array").with.length.at.most(3);
        expect(r.inputsHash).to.match(/^[0-9a-f]{64}$/);
        expect(r.scoreId).to.match(/^[0-9]+$/);
        for (const reason of r.reasons) {
          expect(reason).to.have.keys("feature", "modelInput", "value", "reference", "direction", "contribution");
          expect(reason.direction).to.equal(reason.contribution >= 0 ? "raises" : "lowers");
        }
      }
      expect(normal).to.include({ id: "normal-1", riskBand: "low" });
      expect(normal.probability).to.be.below(0.05);
      expect(strained).to.include({ id: "overstrain-1", riskBand: "high" });
      expect(strained.probability).to.be.above(0.9);
      // Overstrain is tool wear × torque: those two lead the explanation, and they raise the risk.
      const top = strained.reasons.slice(0, 2).map((r: Item) => r.feature);
      expect(top).to.have.members(["toolWearMin", "torqueNm"]);
      for (const r of strained.reasons.slice(0, 2)) expect(r).to.include({ direction: "raises" });
      expect(strained.reasons.find((r: Item) => r.feature === "torqueNm")).to.include({ modelInput: "torque", value: 60 });
    });

    it("accepts the model's own parameter names: the same run has the same score and inputs hash", async function () {
      const own = { airTemp: 300.1, processTemp: 310.1, rotationalSpeed: 1320, torque: 60, toolWear: 190, productType: 0 };
      const res = await score({
        runs: [{ params: OVERSTRAIN }, { params: own }, { params: { ...OVERSTRAIN, torque: 60, bowlSpeedRpm: 7200 } }],
      });
      expect(res.status, res.text).to.equal(200);
      const [api, model, both] = res.body.results;
      expect(model.probability).to.equal(api.probability);
      expect(model.inputsHash).to.equal(api.inputsHash);
      expect(both.inputsHash).to.equal(api.inputsHash); // agreeing duplicates and other parameters change nothing
      expect(api.id).to.equal(null);
    });

    it("answers a run without the model's inputs `scorable: false` with what is missing, never guessed", async function () {
      const { toolWearMin: _wear, productType: _type, ...partial } = NORMAL;
      const res = await score({
        runs: [
          { id: "partial", params: partial },
          { id: "empty", params: {} },
          { id: "nulls", params: { ...NORMAL, torqueNm: null } },
        ],
      });
      expect(res.status, res.text).to.equal(200);
      const [p, empty, nulls] = res.body.results;
      expect(p).to.deep.include({
        id: "partial",
        scorable: false,
        missing: ["toolWearMin", "productType"],
        invalid: [],
        modelHash,
      });
      expect(p).to.not.have.any.keys("probability", "riskBand", "reasons");
      expect(empty.missing).to.deep.equal([
        "airTemperatureK",
        "processTemperatureK",
        "rotationalSpeedRpm",
        "torqueNm",
        "toolWearMin",
        "productType",
      ]);
      expect(nulls).to.deep.include({ scorable: false, missing: ["torqueNm"] });
    });

    it("records every score with its run id, inputs hash, output, model hash, time and requester", async function () {
      const res = await score({
        runs: [
          { id: "recorded-1", params: OVERSTRAIN },
          { id: "recorded-2", params: {} },
        ],
      });
      expect(res.status, res.text).to.equal(200);
      for (const result of res.body.results) {
        const row = node.db.prepare(`SELECT * FROM quality_scores WHERE seq = ?`).get(Number(result.scoreId)) as Record<
          string,
          unknown
        >;
        expect(row).to.include({
          source: "request",
          run_id: result.id,
          inputs_hash: result.inputsHash,
          model_hash: modelHash,
          scorable: result.scorable ? 1 : 0,
          requested_by: demoWallet(member("retailer").account).address,
        });
        expect(Date.parse(row.created_at as string)).to.be.closeTo(Date.now(), 60_000);
        const { id: _id, scoreId: _scoreId, inputsHash: _hash, ...output } = result;
        expect(JSON.parse(row.output as string)).to.deep.equal(output);
      }
    });

    it("refuses malformed input (400) naming each failing field", async function () {
      for (const body of [
        {},
        { runs: [] },
        { runs: "all" },
        { runs: [{}] },
        { runs: [{ params: NORMAL, colour: "red" }] },
        { runs: [{ params: NORMAL }], extra: 1 },
      ]) {
        expectProblem(await score(body), 400, "invalid_request");
      }
      const typed = await score({
        runs: [
          { params: { ...NORMAL, torqueNm: "40", productType: "X", toolWearMin: -1, airTemperatureK: 0, vacuumKpa: "high" } },
        ],
      });
      expectProblem(typed, 400, "invalid_request");
      const paths = typed.body.errors.map((e: { path: string }) => e.path);
      for (const field of ["torqueNm", "productType", "toolWearMin", "airTemperatureK", "vacuumKpa"]) {
        expect(
          paths.some((p: string) => p.startsWith(`body/runs/0/params/${field}`)),
          `${field} in ${paths}`,
        ).to.equal(true);
      }
      const conflicting = await score({ runs: [{ params: NORMAL }, { params: { ...NORMAL, torque: 55 } }] });
      expectProblem(conflicting, 400, "invalid_request");
      expect(conflicting.body.errors).to.have.length(1);
      expect(conflicting.body.errors[0].path).to.equal("body/runs/1/params/torqueNm");
      expectProblem(await score("{not json"), 400, "malformed_json");
      expectProblem(await score({ runs: Array.from({ length: 1001 }, () => ({ params: NORMAL })) }), 400, "invalid_request");
    });
  });

  describe("production runs are scored automatically", function () {
    let retailerRun = 0;
    /** A run on the retailer's own line, in the past, untracked material only. */
    const productionRun = (processParameters: Record<string, number>) => {
      const start = Date.now() - 20 * DAY + retailerRun++ * 4 * HOUR;
      return {
        site: site("retailer", 1),
        line: "score-test-portioner",
        startTime: new Date(start).toISOString(),
        endTime: new Date(start + 2 * HOUR).toISOString(),
        plannedTimeSeconds: 7_200,
        runTimeSeconds: 6_000,
        idealCycleTimeSeconds: 10,
        totalCount: 500,
        goodCount: 495,
        countUnit: "KGM",
        inputs: [{ material: "butter block", quantity: "500", unit: "KGM" }],
        outputs: [{ material: "butter, 250 g", quantity: "495", unit: "KGM" }],
        processParameters,
      };
    };

    it("scores a run recorded through the production-run API, with the model's hash; a run without the inputs is not scorable", async function () {
      const headers = { "content-type": "application/json", ...bearer(token) };
      const { productType: _type, ...numeric } = OVERSTRAIN;
      const full = await post(node, "/api/v1/production-runs", productionRun({ ...numeric, productType: 0 }), headers);
      expect(full.status, full.text).to.equal(201);
      const partial = await post(node, "/api/v1/production-runs", productionRun(numeric), headers);
      expect(partial.status, partial.text).to.equal(201);

      // The node's job scores them in its next round; run one now rather than wait.
      await scoringFor(node.db).job.runOnce();
      const stored = node.db
        .prepare(
          `SELECT run_id, scorable, model_hash FROM quality_scores WHERE source = 'production_run' AND run_id IN (?, ?) ORDER BY run_id`,
        )
        .all(full.body.id, partial.body.id);
      expect(stored).to.have.length(2);

      const scored = await ok(`/api/v1/scores/runs/${full.body.id}`);
      expect(scored.body).to.include({
        runId: full.body.id,
        orgId: orgIdOf("retailer"),
        line: "score-test-portioner",
        scorable: true,
        riskBand: "high",
        modelHash,
      });
      expect(scored.body.reasons.slice(0, 2).map((r: Item) => r.feature)).to.have.members(["toolWearMin", "torqueNm"]);
      const unscorable = await ok(`/api/v1/scores/runs/${partial.body.id}`);
      expect(unscorable.body).to.deep.include({ scorable: false, missing: ["productType"], modelHash });

      expectProblem(await get(node, `/api/v1/scores/runs/pr_${"0".repeat(24)}`), 404, "run_not_found");
      expectProblem(await get(node, "/api/v1/scores/runs/run-1"), 400, "invalid_request");
    });

    it("shows the runs that made a batch on the batch: the demo's butter and its churn run", async function () {
      const res = await ok(`/api/v1/scores/batches/${dl(DEMO_GOODS.butter, "BTR-2611")}`);
      const own = res.body.ownQuality;
      expect(own).to.not.equal(null);
      expect(own.modelHash).to.equal(modelHash);
      expect(own.runs).to.have.length(1);
      const [run] = own.runs;
      expect(run).to.include({ orgId: orgIdOf("processor2"), site: site("processor2", 1), line: "churn-1", modelHash });
      const recorded = await ok(`/api/v1/production-runs/${run.runId}`);
      expect(recorded.body.outputs.map((o: Item) => o.batchId)).to.include(butter);
      if (run.scorable) {
        expect(own.probability).to.equal(run.probability);
      } else {
        // The demo's churn records AI4I's five process parameters but no product type: not scored from a guess.
        expect(run.missing).to.deep.equal(["productType"]);
        expect(own.probability).to.equal(null);
      }
    });
  });

  describe("GET /api/v1/scores/suppliers/{orgId}", function () {
    type Component = {
      name: string;
      weight: number;
      value: number | null;
      status: string;
      formula: string;
      evidence: Item;
      note?: string;
      sampleSize?: number;
      events?: number;
      rawValue?: number | null;
      interval?: [number, number];
      prior?: { mean: number };
    };
    const supplier = async (key: string) => (await ok(`/api/v1/scores/suppliers/${orgIdOf(key)}`)).body;
    const byName = (components: Component[]) => Object.fromEntries(components.map((c) => [c.name, c]));

    function expectWellFormed(body: { score: number | null; coverage: number; components: Component[]; formula: string }) {
      expect(body.components.map((c) => c.name)).to.deep.equal([
        "lateDeliveries",
        "disputedOrders",
        "recallsInLineage",
        "recallsCaused",
        "recallsExposedTo",
        "massBalanceRefusals",
        "predictedQualityFailures",
        "observedQualityFailures",
        "credentials",
        "custodyGaps",
      ]);
      for (const c of body.components) {
        expect(c.weight, c.name).to.be.a("number").within(0, 1);
        expect(c.formula, c.name).to.be.a("string").that.is.not.empty;
        if (c.status === "ok") expect(c.value, c.name).to.be.a("number").within(0, 1);
        else expect(c.value, c.name).to.equal(null);
      }
      const withData = body.components.filter((c) => c.status === "ok");
      const weights = withData.reduce((s, c) => s + c.weight, 0);
      if (weights === 0) expect(body.score).to.equal(null);
      else expect(body.score).to.be.closeTo((100 * withData.reduce((s, c) => s + c.weight * c.value!, 0)) / weights, 0.051);
      expect(body.formula).to.match(/Σ/);
    }

    it("scores the distributor (a disputed order, recalled butter) above the auditor (nothing known)", async function () {
      const distributor = await supplier("distributor");
      const auditor = await supplier("auditor");
      expectWellFormed(distributor);
      expectWellFormed(auditor);
      expect(distributor).to.include({ orgId: orgIdOf("distributor"), name: member("distributor").name });
      expect(distributor.score).to.be.greaterThan(0);
      // Nothing is known of the auditor: every component is missing, and missing is not zero risk.
      expect(auditor.score).to.equal(null);
      expect(auditor.coverage).to.equal(0);
      expect(auditor.components.every((c: Component) => c.status !== "ok")).to.equal(true);
      expect(distributor.score).to.be.greaterThan(auditor.score ?? 0);

      const c = byName(distributor.components);
      // The demo's store-two order was rejected (disputed), store one's completed. Other test files
      // may add orders of the distributor on the shared node, so the counts are lower bounds and
      // the value is their ratio.
      expect(c.disputedOrders).to.include({ status: "ok", weight: 0.15 });
      const { deliveredOrders, disputed, orderIds } = c.disputedOrders.evidence as { deliveredOrders: number; disputed: number; orderIds: string[] };
      expect(deliveredOrders).to.be.at.least(2);
      expect(disputed).to.be.at.least(1);
      expect(c.disputedOrders.rawValue).to.be.closeTo(orderIds.length / deliveredOrders, 1e-4);
      // The butter it held is recalled by propagation from raw milk lot B.
      expect(c.recallsInLineage.status).to.equal("ok");
      expect(c.recallsInLineage.value).to.be.greaterThan(0);
      expect(c.recallsInLineage.evidence.recalledBatches).to.deep.include({
        batchId: butter,
        gtin: DEMO_GOODS.butter,
        lot: "BTR-2611",
        recall: "propagated",
      });
      // On time so far, but shrunk toward the consortium's rate: above 0 with few orders, with its sample size and interval.
      expect(c.lateDeliveries).to.include({ status: "ok", rawValue: 0 });
      expect(c.lateDeliveries.value).to.be.greaterThan(0).and.below(0.5);
      expect(c.lateDeliveries.sampleSize).to.be.at.least(1);
      expect(c.lateDeliveries.interval![0]).to.be.at.most(c.lateDeliveries.value!);
      // It held the recalled butter but did not cause the recall (raw milk lot B's): exposed, not blamed.
      expect(c.recallsExposedTo.events).to.be.at.least(1);
      expect(c.recallsExposedTo.weight).to.equal(0);
      expect(c.massBalanceRefusals).to.include({ status: "not_observable", weight: 0, value: null });
      expect(c.massBalanceRefusals.note).to.match(/revert/);
      expect(c.credentials.status).to.equal("missing");
    });

    it("shows each component's evidence: late deliveries, revoked credentials, predicted and observed quality", async function () {
      // The dairy sold skim milk it never delivered (refunded after the deadline).
      const processor = byName((await supplier("processor")).components);
      expect(processor.lateDeliveries.status).to.equal("ok");
      expect(processor.lateDeliveries.value).to.be.greaterThan(0);
      expect(processor.lateDeliveries.evidence.late).to.be.at.least(1);
      // The frozen cream order (its cream is downstream of the recalled milk).
      expect(processor.disputedOrders.evidence.frozen).to.be.at.least(1);
      expect(processor.observedQualityFailures.status).to.equal("ok");
      // The farm's and the dairy's runs record no AI4I parameters: predicted quality has no data, and says why.
      expect(processor.predictedQualityFailures).to.include({ status: "missing", value: null });
      expect(processor.predictedQualityFailures.note).to.match(/model's inputs/);
      expect(processor.predictedQualityFailures.evidence.modelHash).to.equal(modelHash);

      const retailer = byName((await supplier("retailer")).components);
      // Its one credential is revoked: 1 of 1, shrunk toward the consortium's rate (one observation is not a 1.0).
      expect(retailer.credentials).to.include({ status: "ok", rawValue: 1, sampleSize: 1, events: 1 });
      expect(retailer.credentials.value).to.be.above(retailer.credentials.prior!.mean).and.below(1);
      expect(retailer.credentials.evidence).to.include({ credentials: 1, revoked: 1 });
    });

    it("answers 404 for an unknown organisation and 400 for a malformed id", async function () {
      expectProblem(await get(node, "/api/v1/scores/suppliers/999"), 404, "org_not_found");
      expectProblem(await get(node, "/api/v1/scores/suppliers/abc"), 400, "invalid_request");
      expectProblem(await get(node, "/api/v1/scores/suppliers/0"), 400, "invalid_request");
    });
  });

  describe("GET /api/v1/scores/batches/{ref}", function () {
    it("gives the demo butter the risk of the raw milk recalled four levels upstream", async function () {
      const res = await ok(`/api/v1/scores/batches/${dl(DEMO_GOODS.butter, "BTR-2611")}`);
      const body = res.body;
      expect(body).to.include({ batchId: butter, lotId: butter, gtin: DEMO_GOODS.butter, lot: "BTR-2611", modelHash });
      expect(body.recall).to.include({ kind: "propagated" });
      const inherited = body.inheritedRisk;
      expect(inherited.score).to.equal(1);
      expect(inherited.modelHash).to.equal(modelHash);
      expect(inherited.upstreamBatches).to.be.at.least(6);
      expect(inherited.recalls).to.have.length(1);
      expect(inherited.recalls[0]).to.include({ batchId: lotB, lot: "MILK-2611-B", depth: -4, byOrgId: orgIdOf("producer") });
      expect(inherited.recalls[0].reason).to.match(/antibiotic/);
      // The runs that made the upstream lots are listed (the farm's and the dairy's: no AI4I inputs).
      expect(inherited.upstreamRuns.map((r: Item) => r.lot)).to.include.members([
        "MILK-2611-A",
        "MILK-2611-B",
        "POOL-2611",
        "CRM-2611",
      ]);
      expect(body.anomalies).to.be.an("array");
      expect(body.checks).to.have.keys("sensorReports", "dwellTimes", "transit");
      // A batch id and a shelf portion (which inherits through its lot) answer the same way.
      expect((await ok(`/api/v1/scores/batches/${butter}`)).body.inheritedRisk.score).to.equal(1);
    });

    it("inherits nothing into the recalled raw milk itself (nothing is upstream of it)", async function () {
      const body = (await ok(`/api/v1/scores/batches/${lotB}`)).body;
      expect(body.recall).to.include({ kind: "direct" });
      // Nothing upstream is known: unknown, not 0.
      expect(body.inheritedRisk).to.include({ score: null, upstreamBatches: 0 });
      expect(body.ownQuality.runs[0]).to.include({ line: "parlour-2", scorable: false });
    });

    it("flags a sensor excursion and an alarm in the butter's EPCIS sensor reports (storage 0–8 °C)", async function () {
      this.timeout(60_000);
      const created = Date.parse((await ok(`/api/v1/batches/${butter}`)).body.createdAt);
      const at = new Date(created + 2 * HOUR).toISOString();
      // Other files may capture events about the demo's lots too: this test looks at its own event only.
      const eventID = `urn:uuid:${crypto.randomUUID()}`;
      const event = {
        type: "ObjectEvent",
        eventID,
        eventTime: at,
        eventTimeZoneOffset: "+00:00",
        action: "OBSERVE",
        bizStep: "storing",
        readPoint: { id: `https://id.gs1.org/414/${site("processor2", 1)}` },
        quantityList: [{ epcClass: `https://id.gs1.org/01/${DEMO_GOODS.butter}/10/BTR-2611`, quantity: 900, uom: "KGM" }],
        sensorElementList: [
          {
            sensorMetadata: { time: at },
            sensorReport: [
              { type: "gs1:Temperature", value: 4.2, uom: "CEL" },
              { type: "gs1:Temperature", minValue: 5.1, maxValue: 12.6, uom: "CEL" },
              { type: "gs1:RelativeHumidity", value: 80, uom: "A93", exception: "gs1:ALARM_CONDITION" },
            ],
          },
        ],
      };
      const before = (await ok(`/api/v1/scores/batches/${butter}`)).body.checks.sensorReports;
      const cheese = await tokenFor(node, demoWallet(member("processor2").account));
      const res = await post(node, "/epcis/capture", JSON.stringify(epcisDocument([event])), {
        "content-type": "application/ld+json",
        ...bearer(cheese),
      });
      expect(res.status, res.text).to.equal(202);
      await capturesDone(node);

      const body = (await ok(`/api/v1/scores/batches/${dl(DEMO_GOODS.butter, "BTR-2611")}`)).body;
      const mine = (type: string) =>
        body.anomalies.filter((a: Item) => a.type === type && (a.evidence as Item).eventID === eventID);
      const excursions = mine("sensor_excursion");
      expect(excursions).to.have.length(1);
      expect(excursions[0]).to.include({ source: "epcis", at });
      expect(excursions[0].evidence).to.deep.include({
        lowestCelsius: 5.1,
        highestCelsius: 12.6,
        range: { minCelsius: 0, maxCelsius: 8 },
      });
      expect(excursions[0].detail).to.match(/12\.6 °C/);
      const alarms = mine("sensor_alarm");
      expect(alarms).to.have.length(1);
      expect(alarms[0].evidence).to.include({ alert: "ALARM_CONDITION", measurement: "RelativeHumidity" });
      const checked = body.checks.sensorReports;
      expect(checked).to.include({ status: "checked", events: before.events + 1, reports: before.reports + 3 });
      expect(checked.temperatureReports).to.equal(before.temperatureReports + 2);
      // The portions on the shelves name the same lot: its events are theirs too.
      const shelf = (
        await ok(`/api/v1/scores/batches/${encodeURIComponent(keccak256(coder.encode(["bytes32", "uint32"], [butter, 0])))}`)
      ).body;
      expect(
        shelf.anomalies.filter((a: Item) => a.type === "sensor_excursion" && (a.evidence as Item).eventID === eventID),
      ).to.have.length(1);
      expect(shelf.ownQuality.runs.map((r: Item) => r.line)).to.deep.equal(["churn-1"]);
    });

    it("answers 404 for an unknown batch or lot and 400 for a malformed reference", async function () {
      expectProblem(await get(node, `/api/v1/scores/batches/0x${"ab".repeat(32)}`), 404, "batch_not_found");
      expectProblem(await get(node, `/api/v1/scores/batches/${dl(DEMO_GOODS.butter, "NO-SUCH-LOT")}`), 404, "batch_not_found");
      expectProblem(await get(node, "/api/v1/scores/batches/not-a-batch"), 400, "invalid_ref");
      expectProblem(
        await get(node, `/api/v1/scores/batches/${encodeURIComponent("https://id.gs1.org/01/04012345000017/10/X")}`),
        400,
        "invalid_ref",
      );
    });
  });
});
