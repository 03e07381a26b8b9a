import { createHash } from "node:crypto";
import { canonicalize } from "json-canonicalize";
import {
  FEATURES,
  INPUT_NAMES,
  KNOWN_FEATURE_NAMES,
  LEAKAGE_COLUMNS,
  TOOL_WEAR_LIMIT_MIN,
  checkInputs,
  featureValues,
  isKnownFeature,
  type FeatureName,
  type InputName,
  type RunInputs,
} from "./features";
import type { FieldName } from "./dataset";
import type { EvaluationReport } from "./metrics";
import { loadXGBoost, type Booster, type XGBoostParams } from "./xgboost";
import { blendedProbability, floorValue, type FloorOn, type ReliabilityBin } from "./calibration";

/**
 * The quality-risk model file and the pure scoring API over it.
 *
 * A model file describes itself: the inputs and features, the leakage columns kept out, the
 * decision threshold and risk bands, the learner with its version and parameters, the SHA-256 of
 * the training file, the cross-validated metrics, the training medians used for explanations, the
 * serialised booster, and `modelHash`: SHA-256 of the RFC 8785 (JCS) canonical JSON of everything
 * else in the file. Every score carries that hash, and loading refuses a file whose hash does
 * not match its content.
 *
 * The file's `features` list is what its booster reads, in order: scoring builds that vector, by
 * name, from the run (features.ts knows every feature any Lotline has written). A file trained
 * with an older feature list therefore still scores exactly as it did (docs/adr/0031); a file
 * naming a feature this Lotline does not compute is refused.
 */

export const MODEL_FORMAT = "lotline-quality-model/1";
/**
 * A file whose probability is the mean of several boosters (`model` and those in `bag`). Its own
 * format string, so that a Lotline reading only /1 refuses it rather than scoring with its first
 * booster alone; this Lotline reads both.
 */
export const MODEL_FORMAT_BAGGED = "lotline-quality-model/2";
const FORMATS: readonly string[] = [MODEL_FORMAT, MODEL_FORMAT_BAGGED];

/** The mean of the boosters' probabilities, row by row. */
export function meanPrediction(boosters: readonly Booster[], rows: number[][]): number[] {
  if (!rows.length) return [];
  const sum = new Array<number>(rows.length).fill(0);
  for (const booster of boosters) booster.predict(rows).forEach((p, i) => (sum[i] += p));
  return sum.map((s) => s / boosters.length);
}

type SerialisedBooster = { encoding: "base64"; options: Record<string, unknown>; bytes: string };

export interface ModelFile {
  format: typeof MODEL_FORMAT | typeof MODEL_FORMAT_BAGGED;
  target: string;
  inputs: Array<{ name: InputName; unit: string; description: string }>;
  features: Array<{ name: FeatureName; unit: string; definition: string }>;
  excludedColumns: { leakage: string[]; reason: string };
  /**
   * Probability at or above which a run is predicted to fail: max F1 on out-of-fold predictions,
   * among cut-offs that keep every run a documented mechanism flags predicted to fail.
   */
  threshold: number;
  /** Lower bounds of the risk bands: `high` is the threshold, `medium` is documented in docs/adr/0007. */
  riskBands: { medium: number; high: number };
  learner: { name: "XGBoost"; library: "ml-xgboost"; version: string; params: XGBoostParams };
  training: {
    file: string;
    sha256: string;
    rows: number;
    positives: number;
    columns: Record<FieldName, string>;
    /** Smallest and largest value of each input in the training data. */
    ranges: Record<InputName, [number, number]>;
  };
  crossValidation: { folds: number; seed: number; metrics: EvaluationReport };
  /**
   * The calibrated blend the booster's probability goes through (calibration.ts); absent in files
   * trained before it: the booster's probability is then the score.
   */
  blend?: { method: string; features: string[]; coefficients: number[]; ruleFloor?: number; floorSpread?: number; floorOn?: FloorOn };
  /** Calibration of the scores on the out-of-fold predictions: Brier score and reliability curve. */
  calibration?: { brier: number; boosterBrier: number; reliability: ReliabilityBin[] };
  /** Medians of the inputs over the training rows: the reference of the explanations. */
  explanation: { method: string; medians: Record<InputName, number> };
  model: SerialisedBooster;
  /** Format /2: the other boosters (seeds params.seed + 1, + 2, …); the probability is the mean of all. */
  bag?: SerialisedBooster[];
  modelHash: string;
}

export interface QualityModel {
  readonly file: ModelFile;
  readonly modelHash: string;
  /** The features the file's booster reads, in its vector's order. */
  readonly featureNames: readonly FeatureName[];
  /** Failure probabilities of complete runs (the file's feature vector is built from each). */
  predict(runs: readonly RunInputs[]): number[];
  /**
   * Failure probabilities of feature vectors in the file's feature order (`featureNames`). With a
   * blend, the rules' score is read from the vector's toolWear and ratio features.
   */
  predictVectors(rows: number[][]): number[];
  /** Releases the booster's WebAssembly memory; the model cannot score afterwards. */
  dispose(): void;
}

export interface Reason {
  /** The run parameter (its derived features move with it). */
  feature: InputName;
  value: number;
  /** The training median the parameter was replaced by. */
  reference: number;
  direction: "raises" | "lowers";
  /** Probability of this run minus the probability with this parameter at its training median. */
  contribution: number;
}

export type RiskBand = "low" | "medium" | "high";

export type ScoreResult =
  | {
      scorable: true;
      probability: number;
      riskBand: RiskBand;
      reasons: Reason[];
      modelHash: string;
      /** Inputs outside the range seen in training: the trees extrapolate flat there. */
      outsideTrainingRange: InputName[];
    }
  | { scorable: false; missing: InputName[]; invalid: InputName[] };

export const EXPLANATION_METHOD =
  "occlusion of inputs against training medians: for each run parameter, the run's probability minus the probability of the same run with that one parameter set to its training median and every derived feature (tempDiff, power, strain, ratios, the rules' score) recomputed";

/** SHA-256 (hex) of the canonical JSON of the file without its `modelHash`. */
export function computeModelHash(file: Omit<ModelFile, "modelHash"> | ModelFile): string {
  const { modelHash: _ignored, ...rest } = file as ModelFile;
  return createHash("sha256").update(canonicalize(rest)).digest("hex");
}

export class ModelFileError extends Error {
  override name = "ModelFileError";
}

/** Checks a parsed model file's shape and hash; returns it typed. */
export function checkModelFile(value: unknown): ModelFile {
  if (typeof value !== "object" || value === null) throw new ModelFileError("the model file is not a JSON object");
  const file = value as ModelFile;
  if (!FORMATS.includes(file.format))
    throw new ModelFileError(`not a Lotline quality model (format "${String(file.format)}", expected one of ${FORMATS.map((f) => `"${f}"`).join(", ")})`);
  const bagged = file.format === MODEL_FORMAT_BAGGED;
  if (bagged !== (file.bag !== undefined) || (bagged && (!Array.isArray(file.bag) || !file.bag.length || file.bag.some((b) => typeof b?.bytes !== "string"))))
    throw new ModelFileError(`a "${MODEL_FORMAT_BAGGED}" file, and only such a file, lists its further boosters in a non-empty "bag"`);
  const names: unknown[] = Array.isArray(file.features) ? file.features.map((f) => (f as { name?: unknown } | null)?.name) : [];
  const unknown = names.filter((n) => !isKnownFeature(n));
  if (!names.length || unknown.length || new Set(names).size !== names.length) {
    throw new ModelFileError(
      `the model uses features [${names.map(String).join(", ")}]; this Lotline computes [${KNOWN_FEATURE_NAMES.join(", ")}]` +
        (unknown.length ? `, not ${unknown.map(String).join(", ")}` : names.length ? " (a feature is listed twice)" : ""),
    );
  }
  const leaked = names.filter((n) => (LEAKAGE_COLUMNS as readonly unknown[]).includes(n));
  if (leaked.length) throw new ModelFileError(`the model uses leakage columns as features: ${leaked.join(", ")}`);
  if (
    typeof file.threshold !== "number" ||
    typeof file.model?.bytes !== "string" ||
    INPUT_NAMES.some((n) => typeof file.explanation?.medians?.[n] !== "number" || !Array.isArray(file.training?.ranges?.[n]))
  ) {
    throw new ModelFileError("the model file lacks its threshold, booster, input medians or ranges");
  }
  const hash = computeModelHash(file);
  if (file.modelHash !== hash)
    throw new ModelFileError(`the model file's modelHash does not match its content (computed ${hash}): it was altered`);
  return file;
}

/** Loads a model file (its JSON text or the parsed object) into a scorer. */
export async function loadModel(json: string | object): Promise<QualityModel> {
  let value: unknown = json;
  if (typeof json === "string") {
    try {
      value = JSON.parse(json);
    } catch {
      throw new ModelFileError("the model file is not valid JSON");
    }
  }
  const file = checkModelFile(value);
  const XGBoost = await loadXGBoost();
  let boosters: Booster[] | undefined = [file.model, ...(file.bag ?? [])].map((m) =>
    XGBoost.load({
      name: "ml-xgboost",
      model: new Uint8Array(Buffer.from(m.bytes, "base64")),
      options: { ...m.options },
    }),
  );
  const featureNames = file.features.map((f) => f.name);
  const blend = file.blend;
  const boost = (rows: number[][]): number[] => {
    if (!boosters) throw new Error("the model was disposed");
    // One booster: its own output, bit for bit as files of format /1 always scored.
    return rows.length ? (boosters.length === 1 ? boosters[0].predict(rows) : meanPrediction(boosters, rows)) : [];
  };
  return {
    file,
    modelHash: file.modelHash,
    featureNames,
    predict(runs: readonly RunInputs[]): number[] {
      const values = runs.map(featureValues);
      const p = boost(values.map((v) => vectorOf(v, featureNames)));
      return blend ? p.map((q, i) => blendedProbability(blend, q, values[i].ruleScore, floorValue(blend, values[i]))) : p;
    },
    predictVectors(rows: number[][]): number[] {
      const p = boost(rows);
      if (!blend) return p;
      // The rules' score and the mechanisms' load (features.ts) from the vector: as features, or from the ratios and wear.
      const at = (n: FeatureName) => featureNames.indexOf(n);
      const [wear, strain, heat, power, load, rule] = (["toolWear", "strainRatio", "heatRatio", "powerRatio", "mechanismLoad", "ruleScore"] as const).map(at);
      const loadOf = (v: number[]) => (load >= 0 ? v[load] : strain >= 0 && heat >= 0 && power >= 0 ? Math.max(v[strain], v[heat], v[power]) : null);
      return p.map((q, i) => {
        const mechanismLoad = loadOf(rows[i]);
        const ruleScore = rule >= 0 ? rows[i][rule] : mechanismLoad !== null && wear >= 0 ? Math.max(mechanismLoad, rows[i][wear] / TOOL_WEAR_LIMIT_MIN) : null;
        if (mechanismLoad === null || ruleScore === null)
          throw new ModelFileError("this model's blend needs the rules' score and the mechanisms' load, which its feature vectors do not carry: use predict");
        return blendedProbability(blend, q, ruleScore, floorValue(blend, { ruleScore, mechanismLoad }));
      });
    },
    dispose() {
      boosters?.forEach((b) => b.free());
      boosters = undefined;
    },
  };
}

const vectorOf = (values: Record<FeatureName, number>, names: readonly FeatureName[]) => names.map((n) => values[n]);

/** Failure probabilities of complete runs (no checks: use scoreRun for untrusted input). */
export function predictRuns(model: QualityModel, runs: readonly RunInputs[]): number[] {
  return model.predict(runs);
}

export function riskBandOf(model: QualityModel, probability: number): RiskBand {
  const { medium, high } = model.file.riskBands;
  return probability >= high ? "high" : probability >= medium ? "medium" : "low";
}

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;

/**
 * Scores one run from its parameters. Missing or invalid inputs make the run unscorable (it is
 * never scored from guessed values). `reasons` lists up to `maxReasons` parameters by the size of
 * their occlusion contribution (see EXPLANATION_METHOD); parameters whose occlusion changes
 * nothing are left out.
 */
export function scoreRun(
  model: QualityModel,
  params: Readonly<Record<string, unknown>>,
  options: { maxReasons?: number } = {},
): ScoreResult {
  const checked = checkInputs(params);
  if (!("run" in checked)) return { scorable: false, missing: checked.missing, invalid: checked.invalid };
  const { run } = checked;
  const medians = model.file.explanation.medians;
  const occluded = INPUT_NAMES.map((name) => ({ ...run, [name]: medians[name] }));
  const [probability, ...without] = predictRuns(model, [run, ...occluded]);
  const reasons: Reason[] = INPUT_NAMES.map((feature, j) => ({
    feature,
    value: run[feature],
    reference: medians[feature],
    direction: probability - without[j] >= 0 ? ("raises" as const) : ("lowers" as const),
    contribution: round(probability - without[j], 4),
  }))
    .filter((r) => r.contribution !== 0)
    .sort(
      (a, b) =>
        Math.abs(b.contribution) - Math.abs(a.contribution) || INPUT_NAMES.indexOf(a.feature) - INPUT_NAMES.indexOf(b.feature),
    )
    .slice(0, options.maxReasons ?? 5);
  const ranges = model.file.training.ranges;
  const outsideTrainingRange = INPUT_NAMES.filter((name) => run[name] < ranges[name][0] || run[name] > ranges[name][1]);
  return {
    scorable: true,
    probability: round(probability, 6),
    riskBand: riskBandOf(model, probability),
    reasons,
    modelHash: model.modelHash,
    outsideTrainingRange,
  };
}

/** The feature descriptions written into model files (the default feature list). */
export const FEATURE_DESCRIPTIONS = FEATURES.map((f) => ({ ...f }));
