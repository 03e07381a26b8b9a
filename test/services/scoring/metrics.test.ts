import { expect } from "chai";
import {
  averagePrecision,
  bestF1Threshold,
  bootstrapF1Interval,
  confusionAt,
  evaluateScores,
  f1Of,
  rocAuc,
} from "../../../services/scoring/metrics";
import { stratifiedFolds, stratifiedSplit } from "../../../services/scoring/random";
import { parseCsv, parseColumnMapping } from "../../../services/scoring/dataset";
import { baselineScore } from "../../../services/scoring/baseline";
import { featureValues, featureVector, FEATURE_NAMES, checkInputs } from "../../../services/scoring/features";

describe("scoring metrics, splits and parsing", function () {
  it("computes ROC-AUC and average precision exactly, ties included", function () {
    expect(rocAuc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])).to.equal(0.75);
    expect(rocAuc([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1])).to.equal(0.5);
    // Ranked 1 (hit), 0.8 (miss), 0.6 (hit): AP = 0.5·1 + 0.5·(2/3).
    expect(averagePrecision([1, 0.8, 0.6], [1, 0, 1])).to.be.closeTo(0.5 + 1 / 3, 1e-12);
    // A tie block counts as one cut-off.
    expect(averagePrecision([1, 1], [1, 0])).to.equal(0.5);
  });

  it("picks the F1-maximising threshold between two scores and computes F1 at it", function () {
    const scores = [0.9, 0.8, 0.7, 0.3, 0.2];
    const labels = [1, 1, 0, 1, 0];
    const best = bestF1Threshold(scores, labels);
    // Cutting below 0.3 gives tp 3, fp 1, fn 0: F1 = 6/7, the best.
    expect(best.f1).to.be.closeTo(6 / 7, 1e-12);
    expect(best.threshold).to.equal(0.25);
    expect(f1Of(confusionAt(scores, labels, best.threshold))).to.be.closeTo(6 / 7, 1e-12);
  });

  it("gives the same bootstrap interval for the same seed", function () {
    const scores = Array.from({ length: 300 }, (_, i) => ((i * 37) % 100) / 100);
    const labels = scores.map((s, i) => (s > 0.8 || i % 17 === 0 ? 1 : 0));
    const a = bootstrapF1Interval(scores, labels, 0.8, { seed: 5 });
    expect(bootstrapF1Interval(scores, labels, 0.8, { seed: 5 })).to.deep.equal(a);
    expect(a[0]).to.be.lessThan(a[1]);
    expect(evaluateScores(scores, labels, 0.8)).to.deep.equal(evaluateScores(scores, labels, 0.8));
  });

  it("splits and folds stratified, reproducibly, without overlap", function () {
    const labels = Array.from({ length: 1000 }, (_, i) => (i % 25 === 0 ? 1 : 0));
    const { first, second } = stratifiedSplit(labels, 0.8, 1);
    expect(first.length + second.length).to.equal(1000);
    expect(new Set([...first, ...second]).size).to.equal(1000);
    expect(first.filter((i) => labels[i] === 1)).to.have.length(32);
    expect(stratifiedSplit(labels, 0.8, 1)).to.deep.equal({ first, second });
    const folds = stratifiedFolds(first, labels, 5, 2);
    expect(folds.flat().sort((a, b) => a - b)).to.deep.equal(first);
    for (const fold of folds) expect(fold.filter((i) => labels[i] === 1).length).to.be.within(6, 7);
  });

  it("parses quoted CSV and column mappings", function () {
    expect(parseCsv('\ufeffa,"b, c","d ""e"""\r\n1,2,3\n')).to.deep.equal([
      ["a", "b, c", 'd "e"'],
      ["1", "2", "3"],
    ]);
    expect(parseColumnMapping("airTemp=Air (K), torque = T")).to.deep.equal({ airTemp: "Air (K)", torque: "T" });
    expect(() => parseColumnMapping("airTemp")).to.throw(/neither field=column pairs nor a readable JSON file/);
  });

  it("derives the physics features and the baseline from the documented mechanisms", function () {
    // Power 60 Nm × 1500 rpm × 2π/60 = 9424.8 W: past 9000 W.
    const run = { airTemp: 300, processTemp: 310, rotationalSpeed: 1500, torque: 60, toolWear: 100, productType: 0 };
    const x = Object.fromEntries(FEATURE_NAMES.map((n, j) => [n, featureVector(run)[j]]));
    expect(x.tempDiff).to.be.closeTo(10, 1e-9);
    expect(x.power).to.be.closeTo(9424.778, 1e-3);
    expect(x.strain).to.equal(6000);
    expect(x.strainRatio).to.be.closeTo(6000 / 11000, 1e-12);
    expect(x.powerRatio).to.be.closeTo(9424.778 / 9000, 1e-6);
    expect(baselineScore(run)).to.be.greaterThan(1);
    expect(baselineScore({ ...run, torque: 40 })).to.be.lessThan(1);
    // Heat dissipation needs both a small ΔT and a low speed.
    expect(baselineScore({ ...run, torque: 40, processTemp: 308, rotationalSpeed: 1300 })).to.be.greaterThan(1);
    expect(baselineScore({ ...run, torque: 40, processTemp: 308, rotationalSpeed: 1400 })).to.be.lessThan(1);
    expect(checkInputs({ ...run, productType: "h" })).to.deep.equal({ run: { ...run, productType: 2 } });
  });

  it("derives the rules' score as a feature: the largest load ratio or wear / 240 min, apart from the mechanisms' load", function () {
    // 40 Nm × 1500 rpm: 6283 W, inside the power band; strain 40 × 220 = 8800 of 11,000 (0.8); heat 8.6 / 10 = 0.86.
    const run = { airTemp: 300, processTemp: 310, rotationalSpeed: 1500, torque: 40, toolWear: 220, productType: 0 };
    const v = featureValues(run);
    expect(v.mechanismLoad).to.be.closeTo(0.86, 1e-12);
    expect(v.ruleScore).to.be.closeTo(220 / 240, 1e-12); // tool wear is the rules' largest ratio here
    expect(v.ruleScore).to.equal(baselineScore(run));
    expect(v.wearWindow).to.be.closeTo(0.5, 1e-12); // (220 − 200) / 40
    expect(featureValues({ ...run, toolWear: 250 }).wearWindow).to.equal(1);
    expect(featureValues({ ...run, toolWear: 150 }).wearWindow).to.equal(0);
    // The vector a file asks for, in its order.
    expect(featureVector(run, ["ruleScore", "toolWear"])).to.deep.equal([v.ruleScore, 220]);
    expect(featureVector(run)).to.have.length(FEATURE_NAMES.length);
    expect(FEATURE_NAMES[FEATURE_NAMES.length - 1]).to.equal("ruleScore");
  });
});
