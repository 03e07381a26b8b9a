/**
 * Lotline's quality-risk model: the probability that a production run fails, from its process
 * parameters (docs/adr/0007-quality-model.md).
 *
 *   const model = await ensureDefaultModel(config.dataDir);     // or: await loadModel(json)
 *   const score = scoreRun(model, { airTemp: 298.1, processTemp: 308.6, rotationalSpeed: 1551,
 *                                   torque: 42.8, toolWear: 0, productType: "M" });
 *   // { scorable: true, probability, riskBand, reasons: [...], modelHash, outsideTrainingRange }
 *   // or { scorable: false, missing: [...], invalid: [...] }
 */
export {
  loadModel,
  scoreRun,
  predictRuns,
  computeModelHash,
  checkModelFile,
  ModelFileError,
  MODEL_FORMAT,
  EXPLANATION_METHOD,
} from "./model";
export type { ModelFile, QualityModel, ScoreResult, Reason, RiskBand } from "./model";
export { ensureDefaultModel, defaultModelPath, writeModelFile, SHIPPED_DATA_FILE } from "./default-model";
export { trainQualityModel, DEFAULT_PARAMS, CV_FOLDS, CV_SEED } from "./train";
export type { TrainProgress, TrainResult } from "./train";
export { evaluateModel, evaluateBaseline } from "./evaluate";
export { baselineScore, BASELINE_THRESHOLD } from "./baseline";
export { readDataset, readDatasetFile, parseColumnMapping, DatasetError, AI4I_COLUMNS } from "./dataset";
export type { Dataset, ColumnMapping } from "./dataset";
export { INPUTS, INPUT_NAMES, FEATURES, FEATURE_NAMES, LEAKAGE_COLUMNS, featureVector } from "./features";
export type { EvaluationReport } from "./metrics";
