import path from "node:path";
import {
  FEATURE_NAMES,
  INPUTS,
  INPUT_NAMES,
  KNOWN_FEATURES,
  LEAKAGE_COLUMNS,
  featureValues,
  featureVector,
  isKnownFeature,
  monotoneConstraints,
  type FeatureName,
  type InputName,
} from "./features";
import type { Dataset } from "./dataset";
import { bestF1Threshold, evaluateScores } from "./metrics";
import { EXPLANATION_METHOD, MODEL_FORMAT, MODEL_FORMAT_BAGGED, computeModelHash, meanPrediction, type ModelFile } from "./model";
import { stratifiedFolds } from "./random";
import { loadXGBoost, xgboostVersion, type XGBoostParams } from "./xgboost";
import {
  BLEND_FEATURES,
  blendMethod,
  floorValue,
  FLOOR_ON,
  FLOOR_SPREAD,
  blendInputs,
  blendedProbability,
  brierScore,
  ruleFloorOf,
  fitLogistic,
  reliabilityCurve,
  type FloorOn,
} from "./calibration";

/**
 * Training: k-fold stratified cross-validation on the training rows gives out-of-fold
 * probabilities, from which the decision threshold (max F1) and the risk bands are chosen and the
 * cross-validated metrics computed; then one booster is fitted on all training rows. Nothing
 * outside the dataset handed in is seen. Fixed seeds throughout: the same file gives the same
 * model, byte for byte, and so the same modelHash.
 */

/**
 * Shallower, slower-learning and more regularised trees than ADR 0007's (depth 5, eta 0.1, 200
 * rounds, min_child_weight 1, all columns), monotone in the risk-increasing features: better
 * ranking of the failures no documented mechanism flags, by nested CV (docs/adr/0021, 0031,
 * docs/model-card.md "What was tried"). The constraints are those of the default feature list;
 * training on another list (TrainOptions.features) derives its own.
 */
export const DEFAULT_PARAMS: XGBoostParams = {
  booster: "gbtree",
  objective: "binary:logistic",
  max_depth: 4,
  eta: 0.05,
  min_child_weight: 3,
  subsample: 0.8,
  colsample_bytree: 0.8,
  seed: 7,
  monotone_constraints: monotoneConstraints(),
  silent: 1,
  iterations: 400,
};

/**
 * Boosters averaged per model: booster j is trained with seed `params.seed + j` (its row and column
 * subsampling) and the model's probability is their mean, which takes most of one seed's randomness
 * out of the ranking. 1 is a single booster, as in files of format /1: averaging 5 moved nested-CV
 * PR-AUC by +0.00006 (docs/model-card.md, fourth pass), not worth 5× the training. Part of the
 * default model's recipe: changing it means a new DEFAULT_MODEL_VERSION (default-model.ts).
 */
export const DEFAULT_BAG = 1;

export const CV_FOLDS = 5;
export const CV_SEED = 2020;
/** The medium band starts where out-of-fold recall reaches this share of failures. */
export const MEDIUM_BAND_RECALL = 0.9;

export interface TrainProgress {
  (event: { step: number; total: number; label: string }): void;
}

export interface TrainOptions {
  /** File name recorded in the model (base name only: the hash identifies the content). */
  fileName?: string;
  params?: Partial<XGBoostParams>;
  /** The features to train on, in vector order (default FEATURE_NAMES); any known features. */
  features?: readonly FeatureName[];
  folds?: number;
  progress?: TrainProgress;
  /** Put the booster's probability through the calibrated blend (default true). */
  blend?: boolean;
  /** Which runs the blend's rule floor lifts (default FLOOR_ON; calibration.ts). */
  floorOn?: FloorOn;
  /** Boosters averaged (default DEFAULT_BAG), seeds params.seed, params.seed + 1, … */
  bag?: number;
}

export interface TrainResult {
  file: ModelFile;
  /** Out-of-fold score of every training row (dataset order): the blend's when there is one. */
  outOfFold: number[];
  /** Out-of-fold probability of the booster alone. */
  boosterOutOfFold: number[];
  /** Fold of every training row. */
  foldOf: number[];
}

function median(values: number[]): number {
  const sorted = values.slice().sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Lower bound of the medium band: the highest cut-off reaching MEDIUM_BAND_RECALL out of fold, at most the threshold. */
function mediumBand(scores: number[], labels: number[], threshold: number): number {
  const positives = scores.filter((_, i) => labels[i] === 1).sort((a, b) => b - a);
  if (!positives.length) return threshold;
  const cut = positives[Math.min(positives.length - 1, Math.ceil(MEDIUM_BAND_RECALL * positives.length) - 1)];
  return Math.min(cut, threshold);
}

/**
 * Max F1 on the out-of-fold scores. With the blend, only among cut-offs at or below the lowest score a
 * flagged run gets (out of fold, and ruleFloor − floorSpread for the final blend): the learned model
 * never overrules a documented mechanism, so the soft floor changes the ranking, not the decisions.
 * `floored`: each run's value the floor reads (calibration.ts, floorValue); ≥ 1 is flagged.
 */
export function chooseThreshold(
  scores: readonly number[],
  labels: readonly number[],
  blend?: ModelFile["blend"],
  floored?: readonly number[],
): number {
  if (!blend || blend.ruleFloor === undefined || !floored) return bestF1Threshold(scores, labels).threshold;
  let cap = blend.ruleFloor - (blend.floorSpread ?? 0);
  scores.forEach((s, i) => {
    if (floored[i] >= 1) cap = Math.min(cap, s);
  });
  // Scores above the cap pass every cut-off at or below it: clamping them changes no candidate's F1.
  return bestF1Threshold(
    scores.map((s) => Math.min(s, cap)),
    labels,
  ).threshold;
}

export async function trainQualityModel(dataset: Dataset, options: TrainOptions = {}): Promise<TrainResult> {
  const XGBoost = await loadXGBoost();
  const features = options.features ?? FEATURE_NAMES;
  if (!features.length || new Set(features).size !== features.length || features.some((n) => !isKnownFeature(n)))
    throw new Error(`features must be distinct names among ${KNOWN_FEATURES.map((f) => f.name).join(", ")}`);
  const params: XGBoostParams = {
    ...DEFAULT_PARAMS,
    monotone_constraints: monotoneConstraints(features),
    ...options.params,
  };
  const k = options.folds ?? CV_FOLDS;
  const { runs, labels } = dataset;
  const positives = labels.filter((y) => y === 1).length;
  if (positives < k || runs.length - positives < k) {
    throw new Error(
      `training needs at least ${k} failures and ${k} non-failures (found ${positives} and ${runs.length - positives})`,
    );
  }
  const X = runs.map((run) => featureVector(run, features));
  const values = runs.map(featureValues);
  const baselines = values.map((v) => v.ruleScore);
  const floorOn = options.floorOn ?? FLOOR_ON;
  const floored = values.map((v) => floorValue({ floorOn }, v));
  const total = k + 1;
  const bag = options.bag ?? DEFAULT_BAG;
  if (!Number.isSafeInteger(bag) || bag < 1) throw new Error("bag must be a positive integer");
  const fit = (rows: number[]) =>
    Array.from({ length: bag }, (_, j) => {
      const booster = new XGBoost({ ...params, seed: params.seed + j });
      booster.train(
        rows.map((i) => X[i]),
        rows.map((i) => labels[i]),
      );
      return booster;
    });

  const all = runs.map((_, i) => i);
  const folds = stratifiedFolds(all, labels, k, CV_SEED);
  const outOfFold = new Array<number>(runs.length).fill(Number.NaN);
  const foldOf = new Array<number>(runs.length).fill(-1);
  for (let f = 0; f < k; f++) {
    options.progress?.({ step: f, total, label: `cross-validation fold ${f + 1}/${k}` });
    const held = new Set(folds[f]);
    const boosters = fit(all.filter((i) => !held.has(i)));
    const p = meanPrediction(boosters, folds[f].map((i) => X[i]));
    boosters.forEach((b) => b.free());
    folds[f].forEach((row, j) => {
      outOfFold[row] = p[j];
      foldOf[row] = f;
    });
  }
  // The blend: fitted on the booster's out-of-fold predictions; its own out-of-fold scores come from
  // refitting it without each fold (cross-fitting), so the threshold is not chosen on predictions
  // of a blend that saw their rows.
  const boosterOutOfFold = outOfFold.slice();
  let blend: ModelFile["blend"];
  if (options.blend ?? true) {
    const Z = all.map((i) => blendInputs(boosterOutOfFold[i], baselines[i]));
    for (let f = 0; f < k; f++) {
      const held = new Set(folds[f]);
      const rest = all.filter((i) => !held.has(i));
      const w = fitLogistic(
        rest.map((i) => Z[i]),
        rest.map((i) => labels[i]),
      );
      const floor = ruleFloorOf(
        rest.map((i) => floored[i]),
        rest.map((i) => labels[i]),
      );
      for (const i of folds[f])
        outOfFold[i] = blendedProbability(
          { coefficients: w, ruleFloor: floor, floorSpread: FLOOR_SPREAD },
          boosterOutOfFold[i],
          baselines[i],
          floored[i],
        );
    }
    blend = {
      method: blendMethod(floorOn),
      features: [...BLEND_FEATURES],
      coefficients: fitLogistic(Z, labels),
      ruleFloor: ruleFloorOf(floored, labels),
      floorSpread: FLOOR_SPREAD,
      floorOn,
    };
  }
  const threshold = chooseThreshold(outOfFold, labels, blend, blend ? floored : undefined);
  const metrics = evaluateScores(outOfFold, labels, threshold);
  const calibration = {
    brier: Math.round(brierScore(outOfFold, labels) * 1e6) / 1e6,
    boosterBrier: Math.round(brierScore(boosterOutOfFold, labels) * 1e6) / 1e6,
    reliability: reliabilityCurve(outOfFold, labels),
  };

  options.progress?.({ step: k, total, label: "final fit on all training rows" });
  const boosters = fit(all);
  const serialised = boosters.map((b) => b.toJSON());
  boosters.forEach((b) => b.free());
  const encoded = serialised.map((m) => ({
    encoding: "base64" as const,
    options: m.options,
    bytes: Buffer.from(Uint8Array.from(m.model, (b) => b & 0xff)).toString("base64"),
  }));
  options.progress?.({ step: total, total, label: "done" });

  const medians = Object.fromEntries(INPUT_NAMES.map((name) => [name, median(runs.map((r) => r[name]))])) as Record<
    InputName,
    number
  >;
  const ranges = Object.fromEntries(
    INPUT_NAMES.map((name) => {
      const values = runs.map((r) => r[name]);
      return [name, [Math.min(...values), Math.max(...values)]];
    }),
  ) as Record<InputName, [number, number]>;

  const body: Omit<ModelFile, "modelHash"> = {
    format: bag > 1 ? MODEL_FORMAT_BAGGED : MODEL_FORMAT,
    target: "probability that a production run fails (AI4I 2020 'Machine failure')",
    inputs: INPUTS.map((i) => ({ ...i })),
    features: features.map((name) => ({ ...KNOWN_FEATURES.find((f) => f.name === name)! })),
    excludedColumns: {
      leakage: [...LEAKAGE_COLUMNS],
      reason: "failure-mode flags that define the label; a model reading them would read the answer",
    },
    threshold,
    riskBands: { medium: mediumBand(outOfFold, labels, threshold), high: threshold },
    learner: { name: "XGBoost", library: "ml-xgboost", version: xgboostVersion(), params },
    training: {
      file: path.basename(options.fileName ?? "training.csv"),
      sha256: dataset.sha256,
      rows: runs.length,
      positives,
      columns: dataset.columns,
      ranges,
    },
    crossValidation: { folds: k, seed: CV_SEED, metrics },
    ...(blend ? { blend } : {}),
    calibration,
    explanation: { method: EXPLANATION_METHOD, medians },
    model: encoded[0],
    ...(bag > 1 ? { bag: encoded.slice(1) } : {}),
  };
  return { file: { ...body, modelHash: computeModelHash(body) }, outOfFold, boosterOutOfFold, foldOf };
}
