import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { canonicalize } from "json-canonicalize";
import { readDatasetFile } from "./dataset";
import { EXPLANATION_METHOD, checkModelFile, loadModel, type ModelFile, type QualityModel } from "./model";
import { DEFAULT_BAG, DEFAULT_PARAMS, trainQualityModel, type TrainProgress } from "./train";
import { xgboostVersion } from "./xgboost";
import { FLOOR_ON, FLOOR_SPREAD, blendMethod } from "./calibration";
import { FEATURE_NAMES } from "./features";
import { createWorkerThread } from "../runtime/worker";

/**
 * The default quality model: trained from the AI4I 2020 rows shipped in ./data (never
 * downloaded) the first time it is needed, then cached at <dataDir>/models/quality-default.json.
 * Training is deterministic, so every installation derives the same file and the same modelHash.
 * A cached file is used only if it is intact and was made from the shipped data with this
 * learner version, these features, parameters and blend; otherwise it is trained again and replaced
 * (a file of an older recipe would still score correctly — model.ts builds the vector it lists —
 * but it is not the default this Lotline ships).
 * The installation keeps a copy too (node_modules/.cache/lotline, where build tools keep theirs), so a
 * second data dir of the same installation (another node, a test) loads it instead of training again.
 * That copy is keyed by DEFAULT_MODEL_VERSION, since several Lotlines may share one node_modules.
 */

/**
 * Version of the default model's recipe: its feature list, booster parameters and blend. It names the
 * installation's copy, which every Lotline sharing the installation's node_modules reads (checkouts
 * side by side, an older release beside a newer one): each finds the file of its own recipe, and none
 * trains over another's. 1 (quality-default.json): the 13 physics features, the rule floor on every
 * flagged run (ADR 0021); 2: + the rules' score (not the wear window), the floor on the documented
 * physical mechanisms (ADR 0031).
 */
export const DEFAULT_MODEL_VERSION = 2;

export const SHIPPED_DATA_FILE = path.join(__dirname, "data", "ai4i2020.csv");

export const INSTALLATION_CACHE = path.resolve(
  __dirname,
  "..",
  "..",
  "node_modules",
  ".cache",
  "lotline",
  `quality-default.v${DEFAULT_MODEL_VERSION}.json`,
);

export function defaultModelPath(dataDir: string): string {
  return path.join(dataDir, "models", "quality-default.json");
}

function shippedDataSha256(): string {
  return createHash("sha256").update(fs.readFileSync(SHIPPED_DATA_FILE)).digest("hex");
}

/** The cached file, when it is intact and current; undefined otherwise. */
function readCached(file: string, dataSha256: string): ModelFile | undefined {
  let cached: ModelFile;
  try {
    cached = checkModelFile(JSON.parse(fs.readFileSync(file, "utf8")));
  } catch {
    return undefined;
  }
  const current =
    cached.features.map((f) => f.name).join(",") === FEATURE_NAMES.join(",") &&
    cached.blend?.floorOn === FLOOR_ON &&
    cached.blend?.method === blendMethod(FLOOR_ON) &&
    cached.explanation.method === EXPLANATION_METHOD &&
    cached.blend?.floorSpread === FLOOR_SPREAD &&
    cached.training.sha256 === dataSha256 &&
    cached.learner.version === xgboostVersion() &&
    canonicalize(cached.learner.params) === canonicalize(DEFAULT_PARAMS) &&
    // As many boosters as the recipe averages (format /2 lists the others in `bag`).
    1 + (cached.bag?.length ?? 0) === DEFAULT_BAG;
  return current ? cached : undefined;
}

const pending = new Map<string, Promise<QualityModel>>();

/**
 * The default model, trained and cached on first use. Each call returns its own scorer (the
 * caller owns it and may dispose it); concurrent calls for the same data dir share one training.
 */
export function ensureDefaultModel(
  dataDir: string,
  progress?: TrainProgress,
  options: { installationCache?: string | null } = {},
): Promise<QualityModel> {
  const file = path.resolve(defaultModelPath(dataDir));
  let promise = pending.get(file);
  if (!promise) {
    const shared = options.installationCache === undefined ? INSTALLATION_CACHE : options.installationCache;
    promise = build(file, shared, progress).finally(() => pending.delete(file));
    pending.set(file, promise);
  }
  return promise;
}

/** `installationCache`: the installation's copy (null: none). */
async function build(file: string, installationCache: string | null, progress?: TrainProgress): Promise<QualityModel> {
  const dataSha256 = shippedDataSha256();
  const cached = readCached(file, dataSha256);
  if (cached) return loadModel(cached);
  const shared = installationCache === null ? undefined : readCached(installationCache, dataSha256);
  if (shared) {
    writeModelFile(file, shared);
    return loadModel(shared);
  }
  // Training takes seconds of CPU: it runs in a worker thread so the node keeps serving meanwhile.
  progress?.({ step: 0, total: 1, label: "training in a worker thread" });
  const thread = createWorkerThread("model-training");
  let model: ModelFile;
  try {
    model = await thread.run<ModelFile>(require.resolve("./default-model"), "trainDefaultModelFile", []);
  } finally {
    await thread.close();
  }
  writeModelFile(file, model);
  try {
    if (installationCache !== null) writeModelFile(installationCache, model);
  } catch {
    // A read-only installation: each data dir trains its own (the same file; training is deterministic).
  }
  return loadModel(model);
}

/** Trains the default model from the shipped data (in the worker thread; deterministic). */
export async function trainDefaultModelFile(): Promise<ModelFile> {
  const dataset = readDatasetFile(SHIPPED_DATA_FILE);
  return (await trainQualityModel(dataset, { fileName: path.basename(SHIPPED_DATA_FILE) })).file;
}

/** Writes a model file atomically (temporary file, then rename). */
export function writeModelFile(file: string, model: ModelFile): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temporary, `${JSON.stringify(model, null, 2)}\n`);
  fs.renameSync(temporary, file);
}
