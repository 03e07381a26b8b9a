import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import { evaluateBaseline, evaluateModel } from "../../../services/scoring/evaluate";
import { FEATURE_NAMES, LEAKAGE_COLUMNS, featureValues, featureVector, monotoneConstraints } from "../../../services/scoring/features";
import { readDataset, DatasetError } from "../../../services/scoring/dataset";
import { bestF1Threshold } from "../../../services/scoring/metrics";
import { brierScore, FLOOR_SPREAD } from "../../../services/scoring/calibration";
import {
  checkModelFile,
  computeModelHash,
  loadModel,
  predictRuns,
  scoreRun,
  type QualityModel,
} from "../../../services/scoring/model";
import { trainQualityModel, chooseThreshold, CV_FOLDS, type TrainResult } from "../../../services/scoring/train";
import { baselineScore } from "../../../services/scoring/baseline";
import {
  DEFAULT_MODEL_VERSION,
  INSTALLATION_CACHE,
  defaultModelPath,
  ensureDefaultModel,
  writeModelFile,
} from "../../../services/scoring/default-model";
import type { EvaluationReport } from "../../../services/scoring/metrics";
import { ai4iSplit } from "./split";

/**
 * The quality-risk model trained on a fixed 80 % stratified split of the shipped AI4I rows and
 * judged on the other 20 %, against the bar of the issue (ROC-AUC ≥ 0.97, PR-AUC ≥ 0.85,
 * F1 ≥ 0.82 at the model's own threshold) and against the rule baseline.
 */
describe("quality-risk model", function () {
  this.timeout(120_000);
  let trained: TrainResult;
  let model: QualityModel;
  let heldOut: EvaluationReport;
  let baseline: EvaluationReport;

  before(async function () {
    const { train, test } = ai4iSplit();
    trained = await trainQualityModel(train, { fileName: "ai4i2020-train80.csv" });
    model = await loadModel(trained.file);
    heldOut = evaluateModel(model, test);
    baseline = evaluateBaseline(test);
    console.log(`      held-out 20 %: model ${JSON.stringify(heldOut)}`);
    console.log(`      held-out 20 %: baseline ${JSON.stringify(baseline)}`);
  });

  after(function () {
    model?.dispose();
  });

  it("meets the goal on the held-out 20 % at its own threshold: F1 above the rules, ROC-AUC ≥ 0.98, PR-AUC ≥ 0.92", function () {
    expect(heldOut.n).to.equal(ai4iSplit().test.runs.length);
    expect(heldOut.rocAuc).to.be.at.least(0.98);
    expect(heldOut.prAuc).to.be.at.least(0.92);
    // Above, not only at: the rules' tool-wear cut-off (240 min) is evidence to the model, not a verdict (ADR 0031).
    expect(heldOut.f1).to.be.greaterThan(baseline.f1);
    expect(heldOut.threshold).to.be.closeTo(trained.file.threshold, 1e-6);
    expect(heldOut.f1Interval[0]).to.be.at.most(heldOut.f1);
    expect(heldOut.f1Interval[1]).to.be.at.least(heldOut.f1);
  });

  it("gives calibrated probabilities: Brier score and reliability curve recorded, failure rate matched on held-out rows", function () {
    const { test } = ai4iSplit();
    const p = predictRuns(model, test.runs);
    const cal = trained.file.calibration!;
    expect(trained.file.blend!.coefficients).to.have.length(4);
    // Brier by hand on the out-of-fold scores the file reports on.
    const brier = trained.outOfFold.reduce((s, q, i) => s + (q - ai4iSplit().train.labels[i]) ** 2, 0) / trained.outOfFold.length;
    expect(cal.brier).to.be.closeTo(brier, 1e-6);
    expect(cal.reliability.reduce((s, b) => s + b.n, 0)).to.equal(trained.outOfFold.length);
    // Calibration in the large on rows the model never saw: mean probability ≈ observed failure rate.
    const mean = p.reduce((s, x) => s + x, 0) / p.length;
    const rate = test.labels.reduce((s: number, y: number) => s + y, 0) / test.labels.length;
    expect(Math.abs(mean - rate)).to.be.below(0.01);
    // And per bin: where the model says ≥ 0.5, most runs fail; where it says < 0.1, almost none do.
    const high = p.map((x, i) => [x, test.labels[i]]).filter(([x]) => x >= 0.5);
    const low = p.map((x, i) => [x, test.labels[i]]).filter(([x]) => x < 0.1);
    expect(high.filter(([, y]) => y === 1).length / high.length).to.be.above(0.7);
    expect(low.filter(([, y]) => y === 1).length / low.length).to.be.below(0.01);
    expect(brierScore(p, test.labels)).to.be.below(0.02);
  });

  it("ranks failures better than the documented-mechanism baseline (ROC-AUC and PR-AUC)", function () {
    expect(baseline.n).to.equal(heldOut.n);
    expect(baseline.threshold).to.equal(1);
    expect(heldOut.rocAuc).to.be.greaterThan(baseline.rocAuc);
    expect(heldOut.prAuc).to.be.greaterThan(baseline.prAuc);
  });

  it("uses no leakage column as a feature, and its features do not depend on them", function () {
    const names = trained.file.features.map((f) => f.name);
    expect(names).to.deep.equal([...FEATURE_NAMES]);
    for (const leak of [...LEAKAGE_COLUMNS, "Machine failure", "UDI", "Product ID"]) expect(names).to.not.include(leak);
    expect(trained.file.excludedColumns.leakage).to.deep.equal([...LEAKAGE_COLUMNS]);
    expect(Object.values(trained.file.training.columns)).to.not.include.members([...LEAKAGE_COLUMNS]);

    // Flipping every failure-mode flag changes no feature vector.
    const header =
      "Type,Air temperature [K],Process temperature [K],Rotational speed [rpm],Torque [Nm],Tool wear [min],Machine failure,TWF,HDF,PWF,OSF,RNF";
    const rows = ["L,298.1,308.6,1551,42.8,0,0", "H,302.5,311.2,1310,65.4,210,1"];
    const a = readDataset([header, ...rows.map((r) => `${r},0,0,0,0,0`)].join("\n"));
    const b = readDataset([header, ...rows.map((r) => `${r},1,1,1,1,1`)].join("\n"));
    expect(a.runs.map((r) => featureVector(r))).to.deep.equal(b.runs.map((r) => featureVector(r)));
    // And a mapping cannot smuggle one in.
    expect(() => readDataset([header, `${rows[0]},0,0,0,0,0`].join("\n"), { mapping: { torque: "OSF" } })).to.throw(
      DatasetError,
      /leakage/,
    );
  });

  it("chooses the threshold on out-of-fold predictions of the training rows only", function () {
    const { train } = ai4iSplit();
    // Every training row has exactly one out-of-fold prediction, from a model that did not see it.
    expect(trained.outOfFold).to.have.length(train.runs.length);
    expect(trained.outOfFold.every((p) => p >= 0 && p <= 1)).to.equal(true);
    const perFold = new Array(CV_FOLDS).fill(0);
    trained.foldOf.forEach((f) => perFold[f]++);
    expect(perFold.every((n) => Math.abs(n - train.runs.length / CV_FOLDS) <= 1)).to.equal(true);
    // The threshold is the F1-maximising cut of those predictions…
    const loads = train.runs.map((r) => featureValues(r).mechanismLoad);
    expect(trained.file.threshold).to.equal(chooseThreshold(trained.outOfFold, train.labels, trained.file.blend, loads));
    // …among the cut-offs that keep every run a physical mechanism flags predicted to fail: at most the unconstrained max-F1 cut.
    const flaggedOof = trained.outOfFold.filter((_, i) => loads[i] >= 1);
    expect(Math.min(...flaggedOof)).to.be.at.least(trained.file.threshold);
    expect(bestF1Threshold(trained.outOfFold, train.labels).f1).to.be.at.least(trained.file.crossValidation.metrics.f1);
    expect(trained.file.crossValidation.metrics.n).to.equal(train.runs.length);
    // …which really are out of fold: the final model, which saw every row, is far surer of them.
    const inSample = predictRuns(model, train.runs);
    const error = (scores: number[]) => scores.reduce((s, p, i) => s + Math.abs(p - train.labels[i]), 0);
    expect(error(inSample)).to.be.lessThan(error(trained.outOfFold) * 0.8);
    expect(trained.file.training.rows).to.equal(train.runs.length);
  });

  it("round-trips through its file: same hash, same predictions; an altered file is refused", async function () {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lotline-model-"));
    try {
      const file = path.join(dir, "model.json");
      writeModelFile(file, trained.file);
      const text = fs.readFileSync(file, "utf8");
      const reloaded = await loadModel(text);
      expect(reloaded.modelHash).to.equal(trained.file.modelHash);
      expect(computeModelHash(JSON.parse(text))).to.equal(trained.file.modelHash);
      const { test } = ai4iSplit();
      expect(predictRuns(reloaded, test.runs)).to.deep.equal(predictRuns(model, test.runs));
      reloaded.dispose();

      const altered = JSON.parse(text);
      altered.threshold = 0.5;
      expect(() => checkModelFile(altered)).to.throw(/altered/);
      await loadModel({ ...JSON.parse(text), features: [{ name: "TWF" }] }).then(
        () => expect.fail("loaded a model with other features"),
        (err: Error) => expect(err.message).to.match(/features/),
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("describes itself: learner and version, training file hash, CV metrics, model hash", function () {
    const f = trained.file;
    expect(f.learner).to.include({ name: "XGBoost", library: "ml-xgboost", version: "1.1.2" });
    expect(f.learner.params.seed).to.be.a("number");
    expect(f.training.sha256).to.match(/^[0-9a-f]{64}$/);
    expect(f.modelHash).to.match(/^[0-9a-f]{64}$/);
    expect(f.crossValidation.folds).to.equal(CV_FOLDS);
    expect(f.crossValidation.metrics.rocAuc).to.be.greaterThan(0.9);
    expect(f.riskBands.high).to.equal(f.threshold);
    expect(f.riskBands.medium).to.be.at.most(f.threshold);
  });

  it("never overrules a documented mechanism, yet ranks the runs it flags instead of tying them (soft rule floor)", function () {
    const { test } = ai4iSplit();
    const blend = trained.file.blend!;
    expect(blend.floorSpread).to.equal(FLOOR_SPREAD);
    expect(blend.floorOn).to.equal("mechanismLoad");
    const p = predictRuns(model, test.runs);
    const flagged = p.filter((_, i) => featureValues(test.runs[i]).mechanismLoad >= 1);
    expect(flagged.length).to.be.greaterThan(30);
    // Every flagged run is predicted to fail and scores within the spread of the floor or above it…
    for (const q of flagged) {
      expect(q).to.be.at.least(trained.file.threshold);
      expect(q).to.be.at.least(blend.ruleFloor! - FLOOR_SPREAD - 1e-12);
    }
    // …but not all at one value: the hard floor tied most of them, which cost PR-AUC.
    const atFloor = flagged.filter((q) => q === blend.ruleFloor).length;
    expect(atFloor).to.equal(0);
    expect(new Set(flagged).size).to.be.greaterThan(flagged.length * 0.9);
  });

  it("reads tool wear past 240 min as evidence, not a verdict: such runs are not lifted to the rule floor", function () {
    // Every held-out run worn to 245 min with no physical mechanism reached: the rules flag each (ruleScore ≥ 1).
    const worn = ai4iSplit()
      .test.runs.map((run) => ({ ...run, toolWear: 245 }))
      .filter((run) => featureValues(run).mechanismLoad < 1);
    expect(worn.length).to.be.greaterThan(1000);
    expect(worn.every((run) => baselineScore(run) >= 1)).to.equal(true);
    const p = predictRuns(model, worn);
    const floor = trained.file.blend!.ruleFloor! - FLOOR_SPREAD;
    // On the training rows 1 of the few runs worn past 240 min without another mechanism failed: the model says so.
    expect(p.filter((q) => q >= floor).length).to.be.below(worn.length / 10);
    expect(p.filter((q) => q < trained.file.threshold).length).to.be.greaterThan(worn.length / 2);
  });

  it("never lowers the risk as tool wear grows (monotone constraints on the risk-increasing features)", function () {
    expect(trained.file.learner.params.monotone_constraints).to.equal(monotoneConstraints());
    expect(monotoneConstraints()).to.equal("(0,0,0,0,1,0,0,0,1,1,1,1,1,1)");
    // Runs across the data's range of types, temperatures, speeds and torques; wear swept 0–250 min.
    const runs = ai4iSplit()
      .test.runs.filter((_, i) => i % 40 === 0)
      .flatMap((run) => Array.from({ length: 51 }, (_, w) => ({ ...run, toolWear: w * 5 })));
    const p = predictRuns(model, runs);
    let drops = 0;
    for (let i = 0; i < p.length; i++) if (i % 51 !== 0 && p[i] < p[i - 1] - 1e-9) drops++;
    expect(drops).to.equal(0);
    // And the constraint is not vacuous: wear does raise some runs' risk.
    expect(p.some((q, i) => i % 51 === 50 && q > p[i - 50] + 0.1)).to.equal(true);
  });

  it("refuses to score a run with missing or invalid inputs, and never guesses them", function () {
    const complete = { airTemp: 298.1, processTemp: 308.6, rotationalSpeed: 1551, torque: 42.8, toolWear: 0, productType: 1 };
    const { torque: _torque, ...noTorque } = complete;
    expect(scoreRun(model, noTorque)).to.deep.equal({ scorable: false, missing: ["torque"], invalid: [] });
    expect(scoreRun(model, {})).to.deep.include({
      scorable: false,
      missing: ["airTemp", "processTemp", "rotationalSpeed", "torque", "toolWear", "productType"],
    });
    expect(scoreRun(model, { ...complete, toolWear: Number.NaN })).to.deep.equal({
      scorable: false,
      missing: [],
      invalid: ["toolWear"],
    });
    expect(scoreRun(model, { ...complete, productType: "X" })).to.deep.equal({
      scorable: false,
      missing: [],
      invalid: ["productType"],
    });
    expect(scoreRun(model, { ...complete, rotationalSpeed: -5 })).to.deep.equal({
      scorable: false,
      missing: [],
      invalid: ["rotationalSpeed"],
    });

    const ok = scoreRun(model, { ...complete, productType: "M" });
    if (!ok.scorable) throw new Error("a complete run must be scorable");
    expect(ok.modelHash).to.equal(trained.file.modelHash);
    expect(ok.probability).to.be.within(0, 1);
    expect(ok.riskBand).to.equal("low");
    expect(scoreRun(model, complete)).to.deep.equal(ok); // 1 and "M" are the same product type
  });

  it("explains an overstrained run by torque and tool wear", function () {
    // Type L, torque 58 Nm at 220 min of wear: 12,760 min·Nm, past the 11,000 overstrain limit;
    // temperatures, speed and power (8.5 kW) are inside their safe ranges, so overstrain is the
    // only mechanism at work and both of its factors must carry the explanation.
    const run = { airTemp: 300, processTemp: 310, rotationalSpeed: 1400, torque: 58, toolWear: 220, productType: "L" };
    const score = scoreRun(model, run);
    if (!score.scorable) throw new Error("unscorable");
    expect(score.riskBand).to.equal("high");
    const top = score.reasons.slice(0, 2);
    expect(top.map((r) => r.feature)).to.have.members(["torque", "toolWear"]);
    for (const reason of top) {
      expect(reason.direction).to.equal("raises");
      expect(reason.contribution).to.be.greaterThan(0.3);
    }
    expect(top.find((r) => r.feature === "torque")).to.include({ value: 58, reference: trained.file.explanation.medians.torque });

    // A healthy run with low wear: tool wear is a reason it is safe, if any.
    const healthy = scoreRun(model, { ...run, torque: 40, toolWear: 10 });
    if (!healthy.scorable) throw new Error("unscorable");
    expect(healthy.riskBand).to.equal("low");
    expect(healthy.reasons.every((r) => Math.abs(r.contribution) < 0.05)).to.equal(true);
  });

  it("trains the default model from the shipped data once, deterministically, and caches it by its recipe's version", async function () {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "lotline-default-model-"));
    const installationCache = path.join(dataDir, "installation", "quality-default.json");
    try {
      // Caches holding an intact model of the older feature list (13 features): it would score correctly
      // (model-compat.test.ts) but is not this Lotline's default, so it is trained again and replaced.
      expect(path.basename(INSTALLATION_CACHE)).to.equal(`quality-default.v${DEFAULT_MODEL_VERSION}.json`);
      expect(DEFAULT_MODEL_VERSION).to.equal(2);
      const old = fs.readFileSync(path.join(__dirname, "..", "..", "fixtures", "scoring", "model-13-features.json"), "utf8");
      fs.mkdirSync(path.dirname(installationCache), { recursive: true });
      fs.mkdirSync(path.dirname(defaultModelPath(dataDir)), { recursive: true });
      fs.writeFileSync(installationCache, old);
      fs.writeFileSync(defaultModelPath(dataDir), old);
      const steps: string[] = [];
      const first = await ensureDefaultModel(dataDir, (e) => steps.push(e.label), { installationCache });
      // Trained in a worker thread (the node keeps serving): one progress line says so.
      expect(steps).to.deep.equal(["training in a worker thread"]);
      expect(first.featureNames).to.deep.equal([...FEATURE_NAMES]);
      expect(first.file.blend!.floorOn).to.equal("mechanismLoad");
      const file = defaultModelPath(dataDir);
      expect(fs.existsSync(file)).to.equal(true);
      expect(checkModelFile(JSON.parse(fs.readFileSync(installationCache, "utf8"))).modelHash).to.equal(first.modelHash);
      expect(first.file.training.file).to.equal("ai4i2020.csv");
      expect(first.file.training.rows).to.equal(ai4iSplit().all.runs.length);

      const again = await ensureDefaultModel(dataDir, () => expect.fail("the cached model was trained again"), { installationCache });
      expect(again.modelHash).to.equal(first.modelHash);

      // Another data dir of the same installation loads the installation's copy instead of training.
      const second = await ensureDefaultModel(path.join(dataDir, "second"), () => expect.fail("trained again for another data dir"), { installationCache });
      expect(second.modelHash).to.equal(first.modelHash);

      // A damaged cache (and no installation copy) is rebuilt, to the very same model.
      fs.writeFileSync(file, "{ not json");
      const rebuilt = await ensureDefaultModel(dataDir, undefined, { installationCache: null });
      expect(rebuilt.modelHash).to.equal(first.modelHash);
      for (const m of [first, again, second, rebuilt]) m.dispose();
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
