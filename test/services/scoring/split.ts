import { readDatasetFile, type Dataset } from "../../../services/scoring/dataset";
import { SHIPPED_DATA_FILE } from "../../../services/scoring/default-model";
import { stratifiedSplit } from "../../../services/scoring/random";

/** The fixed split of the scoring tests: 80 % of the shipped AI4I rows to train, 20 % to evaluate, stratified, seed 20200. */
export const SPLIT_SEED = 20200;

export interface Split {
  all: Dataset;
  train: Dataset;
  test: Dataset;
  trainRows: number[];
  testRows: number[];
}

let cached: Split | undefined;

export function ai4iSplit(): Split {
  if (cached) return cached;
  const all = readDatasetFile(SHIPPED_DATA_FILE);
  const { first, second } = stratifiedSplit(all.labels, 0.8, SPLIT_SEED);
  const subset = (rows: number[]): Dataset => ({
    ...all,
    runs: rows.map((i) => all.runs[i]),
    labels: rows.map((i) => all.labels[i]),
  });
  cached = { all, train: subset(first), test: subset(second), trainRows: first, testRows: second };
  return cached;
}
