import { BASELINE_THRESHOLD, baselineScore } from "./baseline";
import type { Dataset } from "./dataset";
import { evaluateScores, type EvaluationReport } from "./metrics";
import { predictRuns, type QualityModel } from "./model";

/** The learned model on labelled runs, at the model's own threshold. */
export function evaluateModel(model: QualityModel, dataset: Pick<Dataset, "runs" | "labels">): EvaluationReport {
  return evaluateScores(predictRuns(model, dataset.runs), dataset.labels, model.file.threshold);
}

/** The rule baseline (baseline.ts) on labelled runs, at its threshold of 1. */
export function evaluateBaseline(dataset: Pick<Dataset, "runs" | "labels">): EvaluationReport {
  return evaluateScores(dataset.runs.map(baselineScore), dataset.labels, BASELINE_THRESHOLD);
}
