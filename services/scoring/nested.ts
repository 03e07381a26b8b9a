/**
 * The quality model's evaluation behind docs/model-card.md, reproducible:
 *
 *   npm run model:evaluate [-- csv] [--features physics|default|name,name,…] [--floor-on mechanisms|rules]
 *                          [--booster-seed n] [--bag n] [--outer-seed n] [--skip-split]
 *                          [--scores-out f.json] [--against f.json]
 *
 * (a few minutes on 2 cores)
 *
 * 1. Nested cross-validation over the whole file: 5 stratified outer folds (seed 2021). For each,
 *    the full training procedure (inner 5-fold CV for the booster's out-of-fold predictions, the
 *    cross-fitted blend, the threshold) sees only the outer training rows; the outer fold is
 *    scored once at the threshold that procedure chose. So the reported F1 is never measured at a
 *    threshold tuned on the same predictions. Per fold, the spread (mean, SD, range) of each metric,
 *    and a bootstrap interval of the pooled ROC-AUC and PR-AUC over the rows.
 * 2. The tests' fixed split (80 % train, 20 % held out, seed 20200), for comparison with them.
 * Each against the rule baseline (baseline.ts) on the same rows. Prints a Markdown report.
 *
 * `--features` trains on another feature list (`physics`: the 13 features of models before the rules'
 * score became one); `--floor-on rules` puts the rule floor on every run the rules flag, as before
 * ADR 0031 (default: the physical mechanisms only); `--booster-seed` changes the booster's own seed
 * (row and column subsampling) to see how much of a difference is training randomness; `--bag n` averages
 * n boosters of seeds seed … seed + n − 1 (TrainOptions.bag); `--outer-seed` draws other outer folds
 * (default 2021), to see how much of a figure is the one split of the rows; `--skip-split` leaves out
 * part 2. `--scores-out` keeps the pooled outer-fold scores; `--against` reads such a file
 * of another run (same data, same folds) and reports the paired bootstrap difference, so a change is
 * judged against the sampling noise of the rows rather than by its point estimate alone.
 */
import fs from "node:fs";
import { readDatasetFile, type Dataset } from "./dataset";
import { SHIPPED_DATA_FILE } from "./default-model";
import { DEFAULT_BAG, DEFAULT_PARAMS, trainQualityModel } from "./train";
import { loadModel, predictRuns } from "./model";
import { baselineScore, BASELINE_THRESHOLD } from "./baseline";
import { FEATURE_NAMES, PHYSICS_FEATURE_NAMES, isKnownFeature, type FeatureName } from "./features";
import { averagePrecision, confusionAt, f1Of, precisionOf, recallOf, rocAuc, type Confusion } from "./metrics";
import { FLOOR_ON, brierScore, reliabilityCurve, type FloorOn } from "./calibration";
import { seededRng, stratifiedFolds, stratifiedSplit } from "./random";

export const OUTER_FOLDS = 5;
export const OUTER_SEED = 2021;
export const SPLIT_SEED = 20200;
export const BOOTSTRAP_ROUNDS = 1000;
export const BOOTSTRAP_SEED = 17;

const subset = (d: Dataset, rows: number[]): Dataset => ({
  ...d,
  runs: rows.map((i) => d.runs[i]),
  labels: rows.map((i) => d.labels[i]),
});
const add = (a: Confusion, b: Confusion): Confusion => ({ tp: a.tp + b.tp, fp: a.fp + b.fp, tn: a.tn + b.tn, fn: a.fn + b.fn });
const f = (x: number) => x.toFixed(4);

async function scoreFold(train: Dataset, test: Dataset, args: Pick<Args, "features" | "floorOn" | "boosterSeed" | "bag">) {
  const started = Date.now();
  const trained = await trainQualityModel(train, {
    fileName: "fold.csv",
    features: args.features,
    floorOn: args.floorOn,
    ...(args.boosterSeed === undefined ? {} : { params: { seed: args.boosterSeed } }),
    ...(args.bag === undefined ? {} : { bag: args.bag }),
  });
  const seconds = (Date.now() - started) / 1000;
  const model = await loadModel(trained.file);
  const scores = predictRuns(model, test.runs);
  model.dispose();
  return { scores, threshold: trained.file.threshold, seconds };
}

/** Mean, sample standard deviation and range. */
export function spread(values: readonly number[]): { mean: number; sd: number; min: number; max: number } {
  const mean = values.reduce((s, x) => s + x, 0) / values.length;
  const sd = Math.sqrt(values.reduce((s, x) => s + (x - mean) ** 2, 0) / Math.max(1, values.length - 1));
  return { mean, sd, min: Math.min(...values), max: Math.max(...values) };
}

/**
 * Percentile bootstrap over rows (seeded): 2.5 and 97.5 percentiles of `statistic` on resamples,
 * and the share of resamples where it is above `above`.
 */
export function bootstrap(
  n: number,
  statistic: (rows: number[]) => number,
  options: { rounds?: number; seed?: number; above?: number } = {},
): { low: number; high: number; shareAbove: number } {
  const rounds = options.rounds ?? BOOTSTRAP_ROUNDS;
  const rng = seededRng(options.seed ?? BOOTSTRAP_SEED);
  const values: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const rows = Array.from({ length: n }, () => Math.floor(rng() * n));
    values.push(statistic(rows));
  }
  values.sort((a, b) => a - b);
  const at = (q: number) => values[Math.min(rounds - 1, Math.max(0, Math.round(q * (rounds - 1))))];
  return { low: at(0.025), high: at(0.975), shareAbove: values.filter((v) => v > (options.above ?? 0)).length / rounds };
}

export function parseFeatures(spec: string | undefined): readonly FeatureName[] {
  if (spec === undefined || spec === "default") return FEATURE_NAMES;
  if (spec === "physics") return PHYSICS_FEATURE_NAMES;
  // `physics` inside a list stands for the 13 physics features.
  const names: string[] = spec
    .split(",")
    .flatMap((n): readonly string[] => (n.trim() === "physics" ? PHYSICS_FEATURE_NAMES : [n.trim()]));
  const unknown = names.filter((n) => !isKnownFeature(n));
  if (unknown.length) throw new Error(`--features: unknown ${unknown.join(", ")}`);
  if (new Set(names).size !== names.length) throw new Error("--features: a feature is listed twice");
  return names as FeatureName[];
}

interface Args {
  file: string;
  features: readonly FeatureName[];
  floorOn: FloorOn;
  boosterSeed?: number;
  /** Boosters averaged per model (TrainOptions.bag). */
  bag?: number;
  outerSeed: number;
  /** Skip the tests' fixed split (a run per outer seed needs it once). */
  skipSplit: boolean;
  scoresOut?: string;
  against?: string;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { file: SHIPPED_DATA_FILE, features: FEATURE_NAMES, floorOn: FLOOR_ON, outerSeed: OUTER_SEED, skipSplit: false };
  for (let i = 0; i < argv.length; i++) {
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${argv[i]} needs a value`);
      return argv[++i];
    };
    if (argv[i] === "--features") args.features = parseFeatures(value());
    else if (argv[i] === "--floor-on") {
      const v = value();
      if (v !== "mechanisms" && v !== "rules") throw new Error(`--floor-on: "${v}" is neither mechanisms nor rules`);
      args.floorOn = v === "rules" ? "ruleScore" : "mechanismLoad";
    } else if (argv[i] === "--booster-seed") {
      const v = Number(value());
      if (!Number.isSafeInteger(v) || v < 0) throw new Error("--booster-seed: a non-negative integer");
      args.boosterSeed = v;
    } else if (argv[i] === "--bag") {
      const v = Number(value());
      if (!Number.isSafeInteger(v) || v < 1 || v > 32) throw new Error("--bag: an integer from 1 to 32");
      args.bag = v;
    } else if (argv[i] === "--outer-seed") {
      const v = Number(value());
      if (!Number.isSafeInteger(v) || v < 0) throw new Error("--outer-seed: a non-negative integer");
      args.outerSeed = v;
    } else if (argv[i] === "--skip-split") args.skipSplit = true;
    else if (argv[i] === "--scores-out") args.scoresOut = value();
    else if (argv[i] === "--against") args.against = value();
    else if (argv[i].startsWith("--")) throw new Error(`unknown option ${argv[i]}`);
    else args.file = argv[i];
  }
  return args;
}

export async function main(argv: readonly string[] = []): Promise<void> {
  const args = parseArgs(argv);
  const data = readDatasetFile(args.file);
  const all = data.runs.map((_, i) => i);
  const outer = stratifiedFolds(all, data.labels, OUTER_FOLDS, args.outerSeed);
  const pooled = {
    scores: new Array<number>(all.length),
    model: { tp: 0, fp: 0, tn: 0, fn: 0 },
    rules: { tp: 0, fp: 0, tn: 0, fn: 0 },
  };
  const perFold = {
    roc: [] as number[],
    pr: [] as number[],
    f1: [] as number[],
    rulesF1: [] as number[],
    brier: [] as number[],
    seconds: [] as number[],
  };
  const lines: string[] = [];
  lines.push(
    `| outer fold | rows | failures | model F1 | precision | recall | threshold | rules F1 | ROC-AUC | PR-AUC | Brier |`,
  );
  lines.push(`|---|---|---|---|---|---|---|---|---|---|---|`);
  for (let k = 0; k < OUTER_FOLDS; k++) {
    const held = new Set(outer[k]);
    const trainRows = all.filter((i) => !held.has(i));
    const test = subset(data, outer[k]);
    process.stderr.write(`outer fold ${k + 1}/${OUTER_FOLDS}: training on ${trainRows.length} rows…\n`);
    const { scores, threshold, seconds } = await scoreFold(subset(data, trainRows), test, args);
    outer[k].forEach((row, j) => (pooled.scores[row] = scores[j]));
    const c = confusionAt(scores, test.labels, threshold);
    const r = confusionAt(test.runs.map(baselineScore), test.labels, BASELINE_THRESHOLD);
    pooled.model = add(pooled.model, c);
    pooled.rules = add(pooled.rules, r);
    perFold.roc.push(rocAuc(scores, test.labels));
    perFold.pr.push(averagePrecision(scores, test.labels));
    perFold.f1.push(f1Of(c));
    perFold.rulesF1.push(f1Of(r));
    perFold.brier.push(brierScore(scores, test.labels));
    perFold.seconds.push(seconds);
    lines.push(
      `| ${k + 1} | ${test.runs.length} | ${c.tp + c.fn} | ${f(f1Of(c))} | ${f(precisionOf(c))} | ${f(recallOf(c))} | ${threshold.toFixed(3)} | ${f(f1Of(r))} | ` +
        `${f(perFold.roc[k])} | ${f(perFold.pr[k])} | ${f(perFold.brier[k])} |`,
    );
  }
  const m = pooled.model;
  const r = pooled.rules;
  const pooledRoc = rocAuc(pooled.scores, data.labels);
  const pooledPr = averagePrecision(pooled.scores, data.labels);
  lines.push(
    `| **all (pooled)** | ${all.length} | ${m.tp + m.fn} | **${f(f1Of(m))}** | ${f(precisionOf(m))} | ${f(recallOf(m))} | each fold's own | **${f(f1Of(r))}** | ` +
      `${f(pooledRoc)} | ${pooledPr.toFixed(5)} | ${f(brierScore(pooled.scores, data.labels))} |`,
  );
  console.log(
    `## Nested cross-validation (${OUTER_FOLDS} outer folds, seed ${args.outerSeed}; inner: the training procedure's own 5-fold CV)\n`,
  );
  console.log(
    `Features (${args.features.length}): ${args.features.join(", ")}; rule floor on ${args.floorOn}; booster seed ${args.boosterSeed ?? DEFAULT_PARAMS.seed}; ${args.bag ?? DEFAULT_BAG} booster(s) averaged\n`,
  );
  console.log(lines.join("\n"));

  console.log(`\nSpread over the ${OUTER_FOLDS} outer folds (mean ± SD, min–max):\n`);
  console.log(`| | mean ± SD | min–max |\n|---|---|---|`);
  const spreadLine = (name: string, values: number[]) => {
    const s = spread(values);
    console.log(`| ${name} | ${f(s.mean)} ± ${f(s.sd)} | ${f(s.min)}–${f(s.max)} |`);
  };
  spreadLine("ROC-AUC", perFold.roc);
  spreadLine("PR-AUC", perFold.pr);
  spreadLine("F1 (model)", perFold.f1);
  spreadLine(
    "F1 model − rules",
    perFold.f1.map((x, i) => x - perFold.rulesF1[i]),
  );
  spreadLine("Brier", perFold.brier);
  const time = spread(perFold.seconds);
  console.log(
    `\nTraining time per outer fold (${data.runs.length - outer[0].length} rows, the full procedure): ${time.mean.toFixed(1)} s (${time.min.toFixed(1)}–${time.max.toFixed(1)} s)`,
  );

  const labels = data.labels;
  const pick = (rows: number[], v: readonly number[]) => rows.map((i) => v[i]);
  const prCi = bootstrap(all.length, (rows) => averagePrecision(pick(rows, pooled.scores), pick(rows, labels)), { above: 0.92 });
  const rocCi = bootstrap(all.length, (rows) => rocAuc(pick(rows, pooled.scores), pick(rows, labels)), { above: 0.98 });
  console.log(
    `\nBootstrap over the ${all.length.toLocaleString("en")} rows (${BOOTSTRAP_ROUNDS} resamples, seed ${BOOTSTRAP_SEED}), pooled outer-fold scores: ` +
      `ROC-AUC 95 % [${f(rocCi.low)}, ${f(rocCi.high)}] (above 0.98 in ${(rocCi.shareAbove * 100).toFixed(1)} %), ` +
      `PR-AUC 95 % [${f(prCi.low)}, ${f(prCi.high)}] (above 0.92 in ${(prCi.shareAbove * 100).toFixed(1)} %)`,
  );

  if (args.scoresOut) fs.writeFileSync(args.scoresOut, `${JSON.stringify({ features: args.features, scores: pooled.scores })}\n`);
  if (args.against) {
    const other = JSON.parse(fs.readFileSync(args.against, "utf8")) as { features: string[]; scores: number[] };
    if (other.scores.length !== all.length) throw new Error(`--against: ${other.scores.length} scores for ${all.length} rows`);
    const dPr = (rows: number[]) =>
      averagePrecision(pick(rows, pooled.scores), pick(rows, labels)) -
      averagePrecision(pick(rows, other.scores), pick(rows, labels));
    const dRoc = (rows: number[]) =>
      rocAuc(pick(rows, pooled.scores), pick(rows, labels)) - rocAuc(pick(rows, other.scores), pick(rows, labels));
    const pr = bootstrap(all.length, dPr);
    const roc = bootstrap(all.length, dRoc);
    console.log(
      `\nPaired against ${other.features.length} features [${other.features.join(", ")}] (same rows, same folds): ` +
        `ΔPR-AUC ${dPr(all).toFixed(5)} 95 % [${pr.low.toFixed(5)}, ${pr.high.toFixed(5)}] (> 0 in ${(pr.shareAbove * 100).toFixed(1)} %), ` +
        `ΔROC-AUC ${dRoc(all).toFixed(5)} 95 % [${roc.low.toFixed(5)}, ${roc.high.toFixed(5)}] (> 0 in ${(roc.shareAbove * 100).toFixed(1)} %)`,
    );
  }

  console.log(`\nReliability of the pooled outer-fold probabilities (10 bins):\n`);
  console.log(`| bin | rows | mean predicted | observed failure rate |\n|---|---|---|---|`);
  for (const b of reliabilityCurve(pooled.scores, data.labels))
    console.log(`| ${b.from.toFixed(1)}–${b.to.toFixed(1)} | ${b.n} | ${b.meanPredicted ?? "–"} | ${b.observedRate ?? "–"} |`);

  if (args.skipSplit) return;
  const { first, second } = stratifiedSplit(data.labels, 0.8, SPLIT_SEED);
  process.stderr.write(`fixed split: training on ${first.length} rows…\n`);
  const test = subset(data, second);
  const { scores, threshold } = await scoreFold(subset(data, first), test, args);
  const c = confusionAt(scores, test.labels, threshold);
  const rr = confusionAt(test.runs.map(baselineScore), test.labels, BASELINE_THRESHOLD);
  console.log(`\n## The tests' fixed split (80 / 20, seed ${SPLIT_SEED}), held-out 20 %\n`);
  console.log(`| | F1 | precision | recall | ROC-AUC | PR-AUC | Brier |\n|---|---|---|---|---|---|---|`);
  console.log(
    `| model (threshold ${threshold.toFixed(3)}) | ${f(f1Of(c))} | ${f(precisionOf(c))} | ${f(recallOf(c))} | ${f(rocAuc(scores, test.labels))} | ` +
      `${f(averagePrecision(scores, test.labels))} | ${f(brierScore(scores, test.labels))} |`,
  );
  const base = test.runs.map(baselineScore);
  console.log(
    `| rule baseline (≥ 1) | ${f(f1Of(rr))} | ${f(precisionOf(rr))} | ${f(recallOf(rr))} | ${f(rocAuc(base, test.labels))} | ${f(averagePrecision(base, test.labels))} | – |`,
  );
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
