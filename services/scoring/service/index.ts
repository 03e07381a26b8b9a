/**
 * Quality scoring as a service of the node: the default model's record and anchor, scores of
 * submitted and recorded production runs (every score with its model's hash), supplier risk and
 * batch risk with anomaly flags. Routes: services/api/routes/scores.ts.
 */
export { scoringFor, createScoringService, scoreParams, ModelUnavailableError, TOP_REASONS } from "./service";
export type { ScoringService, QualityOutput, ApiReason, RequestScore } from "./service";
export { API_NAMES, PARAMETER_MAPPING, mapParams, inputsHash } from "./params";
export { MODEL_ANCHOR_KIND, modelRecordId, modelLeaf, recordModel, getModelRecord, listModelRecords } from "./store";
export type { ModelRecord } from "./store";
export { supplierComponents, combine, SUPPLIER_WEIGHTS, MAX_TRANSIT_HOURS, DEFECT_RATE_CEILING, SCORE_FORMULA } from "./supplier";
export type { Component, SupplierScore } from "./supplier";
export { createBatchScorer, chainSteps, epcisSteps, INHERITED_RULE } from "./batch";
export type { Anomaly, RunScore } from "./batch";
export { dwellOutliers, robustStats, robustZ, median, MAD_SCALE, OUTLIER_Z, MIN_HISTORY } from "./robust";
export { fastHandovers, MIN_CROSS_BORDER_TRANSIT_HOURS } from "./transit";
export type { LocatedEntry, FastHandover } from "./transit";
export { countryOfGln, countryOfGs1Prefix } from "./countries";
export { sensorFindings, toCelsius } from "./sensors";
export type { StorageRange, SensorFinding } from "./sensors";
