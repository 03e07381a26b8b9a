/**
 * The quality model's evaluation behind docs/model-card.md, reproducible:
 *
 *   npm run model:evaluate [-- csv]        (a few minutes on 2 cores)
 *
 * 1. Nested cross-validation over the whole file: 5 stratified outer folds (seed 2021). For each,
 *    the full training procedure (inner 5-fold CV for the booster's out-of-fold predictions, the
 *    cross-fitted blend, the threshold) sees only the outer training rows; the outer fold is
 *    scored once at the threshold that procedure chose. So the reported F1 is never measured at a
 *    threshold tuned on the same predictions.
 * 2. The tests' fixed split (80 % train, 20 % held out, seed 20200), for comparison with them.
 * Each against the rule baseline (baseline.ts) on the same rows. Prints a Markdown report.
 */
import { readDatasetFile, type Dataset } from "./dataset";
import { SHIPPED_DATA_FILE } from "./default-model";
import { trainQualityModel } from "./train";
import { loadModel, predictRuns } from "./model";
import { baselineScore, BASELINE_THRESHOLD } from "./baseline";
import { averagePrecision, confusionAt, f1Of, precisionOf, recallOf, rocAuc, type Confusion } from "./metrics";
import { brierScore, reliabilityCurve } from "./calibration";
import { stratifiedFolds, stratifiedSplit } from "./random";

export const OUTER_FOLDS = 5;
export const OUTER_SEED = 2021;
export const SPLIT_SEED = 20200;

const subset = (d: Dataset, rows: number[]): Dataset => ({ ...d, runs: rows.map((i) => d.runs[i]), labels: rows.map((i) => d.labels[i]) });
const add = (a: Confusion, b: Confusion): Confusion => ({ tp: a.tp + b.tp, fp: a.fp + b.fp, tn: a.tn + b.tn, fn: a.fn + b.fn });
const f = (x: number) => x.toFixed(4);

async function scoreFold(train: Dataset, test: Dataset) {
  const trained = await trainQualityModel(train, { fileName: "fold.csv" });
  const model = await loadModel(trained.file);
  const scores = predictRuns(model, test.runs);
  model.dispose();
  return { scores, threshold: trained.file.threshold };
}

export async function main(file = SHIPPED_DATA_FILE): Promise<void> {
  const data = readDatasetFile(file);
  const all = data.runs.map((_, i) => i);
  const outer = stratifiedFolds(all, data.labels, OUTER_FOLDS, OUTER_SEED);
  const pooled = { scores: new Array<number>(all.length), model: { tp: 0, fp: 0, tn: 0, fn: 0 }, rules: { tp: 0, fp: 0, tn: 0, fn: 0 } };
  const lines: string[] = [];
  lines.push(`| outer fold | rows | failures | model F1 | precision | recall | threshold | rules F1 | ROC-AUC | PR-AUC | Brier |`);
  lines.push(`|---|---|---|---|---|---|---|---|---|---|---|`);
  for (let k = 0; k < OUTER_FOLDS; k++) {
    const held = new Set(outer[k]);
    const trainRows = all.filter((i) => !held.has(i));
    const test = subset(data, outer[k]);
    process.stderr.write(`outer fold ${k + 1}/${OUTER_FOLDS}: training on ${trainRows.length} rows…\n`);
    const { scores, threshold } = await scoreFold(subset(data, trainRows), test);
    outer[k].forEach((row, j) => (pooled.scores[row] = scores[j]));
    const c = confusionAt(scores, test.labels, threshold);
    const r = confusionAt(test.runs.map(baselineScore), test.labels, BASELINE_THRESHOLD);
    pooled.model = add(pooled.model, c);
    pooled.rules = add(pooled.rules, r);
    lines.push(
      `| ${k + 1} | ${test.runs.length} | ${c.tp + c.fn} | ${f(f1Of(c))} | ${f(precisionOf(c))} | ${f(recallOf(c))} | ${threshold.toFixed(3)} | ${f(f1Of(r))} | ` +
        `${f(rocAuc(scores, test.labels))} | ${f(averagePrecision(scores, test.labels))} | ${f(brierScore(scores, test.labels))} |`,
    );
  }
  const m = pooled.model;
  const r = pooled.rules;
  lines.push(
    `| **all (pooled)** | ${all.length} | ${m.tp + m.fn} | **${f(f1Of(m))}** | ${f(precisionOf(m))} | ${f(recallOf(m))} | each fold's own | **${f(f1Of(r))}** | ` +
      `${f(rocAuc(pooled.scores, data.labels))} | ${f(averagePrecision(pooled.scores, data.labels))} | ${f(brierScore(pooled.scores, data.labels))} |`,
  );
  console.log(`## Nested cross-validation (${OUTER_FOLDS} outer folds, seed ${OUTER_SEED}; inner: the training procedure's own 5-fold CV)\n`);
  console.log(lines.join("\n"));
  console.log(`\nReliability of the pooled outer-fold probabilities (10 bins):\n`);
  console.log(`| bin | rows | mean predicted | observed failure rate |\n|---|---|---|---|`);
  for (const b of reliabilityCurve(pooled.scores, data.labels))
    console.log(`| ${b.from.toFixed(1)}–${b.to.toFixed(1)} | ${b.n} | ${b.meanPredicted ?? "–"} | ${b.observedRate ?? "–"} |`);

  const { first, second } = stratifiedSplit(data.labels, 0.8, SPLIT_SEED);
  process.stderr.write(`fixed split: training on ${first.length} rows…\n`);
  const test = subset(data, second);
  const { scores, threshold } = await scoreFold(subset(data, first), test);
  const c = confusionAt(scores, test.labels, threshold);
  const rr = confusionAt(test.runs.map(baselineScore), test.labels, BASELINE_THRESHOLD);
  console.log(`\n## The tests' fixed split (80 / 20, seed ${SPLIT_SEED}), held-out 20 %\n`);
  console.log(`| | F1 | precision | recall | ROC-AUC | PR-AUC | Brier |\n|---|---|---|---|---|---|---|`);
  console.log(
    `| model (threshold ${threshold.toFixed(3)}) | ${f(f1Of(c))} | ${f(precisionOf(c))} | ${f(recallOf(c))} | ${f(rocAuc(scores, test.labels))} | ` +
      `${f(averagePrecision(scores, test.labels))} | ${f(brierScore(scores, test.labels))} |`,
  );
  const base = test.runs.map(baselineScore);
  console.log(`| rule baseline (≥ 1) | ${f(f1Of(rr))} | ${f(precisionOf(rr))} | ${f(recallOf(rr))} | ${f(rocAuc(base, test.labels))} | ${f(averagePrecision(base, test.labels))} | – |`);
}

if (require.main === module) {
  main(process.argv[2]).catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
