import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import {
  computeModelHash,
  loadModel,
  MODEL_FORMAT,
  MODEL_FORMAT_BAGGED,
  ModelFileError,
  predictRuns,
  scoreRun,
  type ModelFile,
} from "../../../services/scoring/model";
import {
  FEATURE_NAMES,
  PHYSICS_FEATURE_NAMES,
  featureValues,
  featureVector,
  type RunInputs,
} from "../../../services/scoring/features";
import { trainQualityModel } from "../../../services/scoring/train";
import { stratifiedSplit } from "../../../services/scoring/random";
import { ai4iSplit } from "./split";

const FIXTURES = path.join(__dirname, "..", "..", "fixtures", "scoring");
const oldFile = () => JSON.parse(fs.readFileSync(path.join(FIXTURES, "model-13-features.json"), "utf8")) as ModelFile;
const expected = JSON.parse(fs.readFileSync(path.join(FIXTURES, "model-13-features.expected.json"), "utf8")) as {
  runs: RunInputs[];
  probabilities: number[];
  scores: unknown[];
};

/**
 * A model file lists the features its booster reads; scoring builds that vector (docs/adr/0031). The
 * fixture is a 13-feature file written by the code before the rules' score and the wear window became
 * features, with the scores that code gave from it (test/fixtures/scoring/README.md).
 */
describe("quality model files of older feature lists", function () {
  this.timeout(60_000);

  it("still load a file written with the 13 physics features and score every run exactly as the code that wrote it", async function () {
    const file = oldFile();
    expect(file.features.map((f) => f.name)).to.deep.equal([...PHYSICS_FEATURE_NAMES]);
    expect(FEATURE_NAMES).to.not.deep.equal(PHYSICS_FEATURE_NAMES);
    const model = await loadModel(file);
    try {
      expect(model.featureNames).to.deep.equal([...PHYSICS_FEATURE_NAMES]);
      expect(predictRuns(model, expected.runs)).to.deep.equal(expected.probabilities);
      expect(model.predictVectors(expected.runs.map((r) => featureVector(r, PHYSICS_FEATURE_NAMES)))).to.deep.equal(
        expected.probabilities,
      );
      const scores = expected.runs.map((run) => scoreRun(model, { ...run }));
      expect(scores).to.deep.equal(expected.scores);
      // Not a vacuous comparison: the file flags some runs and clears others.
      expect(expected.probabilities.some((p) => p > 0.9)).to.equal(true);
      expect(expected.probabilities.some((p) => p < 0.01)).to.equal(true);
    } finally {
      model.dispose();
    }
  });

  it("keep the rule floor of their time on every run the rules flag, tool wear past 240 min included", async function () {
    const file = oldFile();
    expect(file.blend).to.not.have.property("floorOn");
    const model = await loadModel(file);
    try {
      // Worn past 240 min, no physical mechanism reached: the old floor lifts it; a new file's would not.
      const worn = { airTemp: 300, processTemp: 310.5, rotationalSpeed: 1500, torque: 35, toolWear: 245, productType: 1 };
      expect(featureValues(worn).mechanismLoad).to.be.below(1);
      expect(featureValues(worn).ruleScore).to.be.above(1);
      const [p] = predictRuns(model, [worn]);
      expect(p).to.be.at.least(file.blend!.ruleFloor! - file.blend!.floorSpread!);
    } finally {
      model.dispose();
    }
  });

  it("score a file of any known features in the order it lists them", async function () {
    const { all } = ai4iSplit();
    const { first } = stratifiedSplit(all.labels, 1500 / all.runs.length, 23);
    const train = { ...all, runs: first.map((i) => all.runs[i]), labels: first.map((i) => all.labels[i]) };
    const features = ["ruleScore", "torque", "toolWear", "mechanismLoad", "tempDiff"] as const;
    const { file } = await trainQualityModel(train, { features, params: { iterations: 20 } });
    expect(file.features.map((f) => f.name)).to.deep.equal([...features]);
    expect(file.learner.params.monotone_constraints).to.equal("(1,0,1,1,0)");
    const model = await loadModel(file);
    try {
      const runs = ai4iSplit().test.runs.slice(0, 200);
      const p = predictRuns(model, runs);
      // The vector the file asks for, built by hand, gives the same probabilities.
      expect(model.predictVectors(runs.map((r) => featureVector(r, features)))).to.deep.equal(p);
      // The default vector would be a different input altogether (14 columns, another order).
      expect(featureVector(runs[0])).to.have.length(FEATURE_NAMES.length);
      expect(p.some((q) => q > 0.5)).to.equal(true);
    } finally {
      model.dispose();
    }
  });

  it("refuse a file naming a feature this Lotline does not compute, even one whose hash holds", async function () {
    const { modelHash: _old, ...body } = oldFile();
    const future = {
      ...body,
      features: [...body.features, { name: "vibrationRms", unit: "mm/s", definition: "a sensor this Lotline does not read" }],
    };
    const file = { ...future, modelHash: computeModelHash(future as ModelFile) };
    await loadModel(file).then(
      () => expect.fail("loaded a file with a feature it cannot compute"),
      (err: Error) => {
        expect(err).to.be.instanceOf(ModelFileError);
        expect(err.message).to.match(/not vibrationRms/);
      },
    );
    const twice = { ...body, features: [...body.features, body.features[0]] };
    await loadModel({ ...twice, modelHash: computeModelHash(twice as ModelFile) }).then(
      () => expect.fail("loaded a file listing a feature twice"),
      (err: Error) => expect(err.message).to.match(/listed twice/),
    );
  });
  it("score a bagged file (format /2) as the mean of its boosters, each as a single-booster file scores alone", async function () {
    const { all } = ai4iSplit();
    const { first } = stratifiedSplit(all.labels, 1500 / all.runs.length, 23);
    const train = { ...all, runs: first.map((i) => all.runs[i]), labels: first.map((i) => all.labels[i]) };
    const params = { iterations: 20, seed: 11 };
    const bagged = (await trainQualityModel(train, { params, bag: 3, blend: false })).file;
    expect(bagged.format).to.equal(MODEL_FORMAT_BAGGED);
    expect(bagged.bag).to.have.length(2);
    // Booster j of the bag is the booster a single-booster training with seed 11 + j writes.
    const singles = await Promise.all([0, 1, 2].map(async (j) => (await trainQualityModel(train, { params: { ...params, seed: 11 + j }, blend: false })).file));
    expect(singles.map((f) => f.format)).to.deep.equal([MODEL_FORMAT, MODEL_FORMAT, MODEL_FORMAT]);
    expect([bagged.model, ...bagged.bag!].map((m) => m.bytes)).to.deep.equal(singles.map((f) => f.model.bytes));
    const runs = ai4iSplit().test.runs.slice(0, 300);
    const models = await Promise.all([bagged, ...singles].map((f) => loadModel(f)));
    try {
      const [mean, ...each] = models.map((m) => predictRuns(m, runs));
      mean.forEach((p, i) => expect(p).to.be.closeTo((each[0][i] + each[1][i] + each[2][i]) / 3, 1e-12));
      // Not a vacuous mean: the boosters disagree somewhere.
      expect(each[0].some((p, i) => Math.abs(p - each[1][i]) > 1e-4)).to.equal(true);
    } finally {
      models.forEach((m) => m.dispose());
    }
  });

  it("refuse a bagged file an older format string would hide, and a /2 file without its bag", async function () {
    const { modelHash: _old, ...body } = oldFile();
    const hidden = { ...body, bag: [body.model] };
    await loadModel({ ...hidden, modelHash: computeModelHash(hidden as ModelFile) }).then(
      () => expect.fail("loaded a /1 file carrying further boosters"),
      (err: Error) => expect(err.message).to.match(/only such a file, lists its further boosters/),
    );
    const empty = { ...body, format: MODEL_FORMAT_BAGGED };
    await loadModel({ ...empty, modelHash: computeModelHash(empty as ModelFile) }).then(
      () => expect.fail("loaded a /2 file without a bag"),
      (err: Error) => expect(err.message).to.match(/non-empty "bag"/),
    );
  });
});
