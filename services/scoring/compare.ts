/**
 * The learner comparison behind docs/adr/0007-quality-model.md, reproducible:
 *
 *   npx tsx services/scoring/compare.ts [csv]      (about 10 minutes on 2 cores)
 *
 * Every learner sees the same rows — the 80 % stratified split of the shipped AI4I file that the
 * tests train on (seed 20200) — and the same 5 stratified folds (seed 2020). Each prints its
 * out-of-fold ROC-AUC, PR-AUC and the best F1 with its threshold. The 20 % held out by the tests
 * is not touched here. ml-random-forest and ml-logistic-regression are devDependencies: only
 * this script uses them.
 */
import path from "node:path";
import { readDatasetFile, type Dataset } from "./dataset";
import { baselineScore, BASELINE_THRESHOLD } from "./baseline";
import { PHYSICS_FEATURE_NAMES, INPUT_NAMES, featureVector, monotoneConstraints } from "./features";
import { averagePrecision, bestF1Threshold, confusionAt, f1Of, rocAuc } from "./metrics";
import { stratifiedFolds, stratifiedSplit } from "./random";
import { DEFAULT_PARAMS, CV_FOLDS, CV_SEED } from "./train";
import { SHIPPED_DATA_FILE } from "./default-model";
import { loadXGBoost } from "./xgboost";

export const SPLIT_SEED = 20200;

type Fit = (rows: number[][], labels: number[]) => Promise<(rows: number[][]) => number[]>;

interface Learner {
  name: string;
  features: (run: Dataset["runs"][number]) => number[];
  fit: Fit;
}

/** The 13 physics features of ADR 0007 (the rules' score, a feature since ADR 0031, is left out here). */
const physicsFeatures = (run: Dataset["runs"][number]) => featureVector(run, PHYSICS_FEATURE_NAMES);
const rawInputs = (run: Dataset["runs"][number]) => INPUT_NAMES.map((n) => run[n]);

const xgboost: Fit = async (rows, labels) => {
  const XGBoost = await loadXGBoost();
  // The monotone constraints name the physics features: not for the raw-inputs learner.
  const { monotone_constraints: _default, ...rest } = DEFAULT_PARAMS;
  const physics = rows[0].length === PHYSICS_FEATURE_NAMES.length;
  const booster = new XGBoost(physics ? { ...rest, monotone_constraints: monotoneConstraints(PHYSICS_FEATURE_NAMES) } : rest);
  booster.train(rows, labels);
  return (test) => {
    const p = booster.predict(test);
    booster.free();
    return p;
  };
};

const randomForest: Fit = async (rows, labels) => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { RandomForestClassifier } = require("ml-random-forest") as typeof import("ml-random-forest");
  const forest = new RandomForestClassifier({
    nEstimators: 50,
    maxFeatures: 0.7,
    replacement: false,
    useSampleBagging: true,
    seed: 3,
    noOOB: true,
    // ml-cart's default gainThreshold (0.01) stops the trees before they isolate a 3 % class.
    treeOptions: { minNumSamples: 3, gainThreshold: 1e-4, maxDepth: 12 },
  } as ConstructorParameters<typeof RandomForestClassifier>[0]);
  forest.train(rows, labels);
  return (test) => {
    // The share of trees voting "failure" (predictProbability skips the first tree's vote).
    const votes = forest.predictionValues(test);
    return Array.from({ length: votes.rows }, (_, r) => votes.getRow(r).filter((v) => v === 1).length / votes.columns);
  };
};

interface LogisticModule {
  new (options: { numSteps: number; learningRate: number }): {
    train(X: unknown, y: unknown): void;
    classifiers: Array<{ testScores(X: unknown): number[] }>;
  };
}

const logisticRegression: Fit = async (rows, labels) => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const LogisticRegression = require("ml-logistic-regression") as LogisticModule;
  // The Matrix class of ml-logistic-regression's own ml-matrix (a dependency of it, not of Lotline).
  const matrixPath = require.resolve("ml-matrix", { paths: [path.dirname(require.resolve("ml-logistic-regression"))] });
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Matrix } = require(matrixPath) as { Matrix: { new (rows: number[][]): unknown; columnVector(v: number[]): unknown } };
  const d = rows[0].length;
  const mean = Array.from({ length: d }, (_, j) => rows.reduce((s, r) => s + r[j], 0) / rows.length);
  const sd = Array.from(
    { length: d },
    (_, j) => Math.sqrt(rows.reduce((s, r) => s + (r[j] - mean[j]) ** 2, 0) / rows.length) || 1,
  );
  const standard = (r: number[]) => [1, ...r.map((v, j) => (v - mean[j]) / sd[j])];
  const model = new LogisticRegression({ numSteps: 5000, learningRate: 1e-3 });
  model.train(new Matrix(rows.map(standard)), Matrix.columnVector(labels));
  // The one-vs-all classifier of class 0 scores "not class 0", that is failure.
  return (test) => model.classifiers[0].testScores(new Matrix(test.map(standard)));
};

export const LEARNERS: Learner[] = [
  { name: "XGBoost (ml-xgboost), physics features", features: physicsFeatures, fit: xgboost },
  { name: "XGBoost (ml-xgboost), raw inputs only", features: rawInputs, fit: xgboost },
  { name: "random forest (ml-random-forest), physics features", features: physicsFeatures, fit: randomForest },
  { name: "logistic regression (ml-logistic-regression), physics features", features: physicsFeatures, fit: logisticRegression },
];

async function main(): Promise<void> {
  const dataset = readDatasetFile(process.argv[2] ?? SHIPPED_DATA_FILE);
  const { first: training } = stratifiedSplit(dataset.labels, 0.8, SPLIT_SEED);
  const labels = training.map((i) => dataset.labels[i]);
  const runs = training.map((i) => dataset.runs[i]);
  const local = runs.map((_, i) => i);
  const folds = stratifiedFolds(local, labels, CV_FOLDS, CV_SEED);
  console.log(
    `${runs.length} training rows, ${labels.filter((y) => y === 1).length} failures; features: ${PHYSICS_FEATURE_NAMES.join(", ")}`,
  );
  const line = (name: string, scores: number[], seconds: number, fixed?: number) => {
    const best = bestF1Threshold(scores, labels);
    const atFixed = fixed === undefined ? "" : `, F1 at ${fixed} ${f1Of(confusionAt(scores, labels, fixed)).toFixed(4)}`;
    console.log(
      `| ${name} | ${rocAuc(scores, labels).toFixed(4)} | ${averagePrecision(scores, labels).toFixed(4)} | ${best.f1.toFixed(4)} (t = ${best.threshold.toPrecision(3)}${atFixed}) | ${seconds.toFixed(0)} s |`,
    );
  };
  line("rule baseline (not learned)", runs.map(baselineScore), 0, BASELINE_THRESHOLD);
  for (const learner of LEARNERS) {
    const started = Date.now();
    const X = runs.map(learner.features);
    const oof = new Array<number>(runs.length);
    for (const fold of folds) {
      const held = new Set(fold);
      const train = local.filter((i) => !held.has(i));
      const predict = await learner.fit(
        train.map((i) => X[i]),
        train.map((i) => labels[i]),
      );
      predict(fold.map((i) => X[i])).forEach((p, j) => (oof[fold[j]] = p));
    }
    line(learner.name, oof, (Date.now() - started) / 1000);
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
