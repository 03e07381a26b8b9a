/**
 * The experiments behind the "what was tried" table of docs/model-card.md, reproducible:
 *
 *   npx tsx scripts/model/experiments.ts [csv]      (about 10 minutes on 2 cores)
 *
 * Nested cross-validation exactly as services/scoring/nested.ts (5 outer folds, seed 2021; inner
 * 5 folds, seed 2020 of train.ts): for every outer fold, each candidate booster configuration is
 * cross-validated on the outer training rows only, each score variant (booster alone, the blend
 * of ADR 0021 with and without its rule floor) is cross-fitted on those inner out-of-fold
 * predictions, and its threshold is the inner max-F1 one. The outer fold is then scored once.
 * "inner-selected" picks, per outer fold, the configuration with the best inner out-of-fold
 * PR-AUC: the outer folds never choose. Rows of fixed configurations are reported for the
 * table, not to choose from.
 */
import { readDatasetFile } from "../../services/scoring/dataset";
import { SHIPPED_DATA_FILE } from "../../services/scoring/default-model";
import { PHYSICS_FEATURE_NAMES, featureVector, type RunInputs } from "../../services/scoring/features";
import { baselineScore, BASELINE_THRESHOLD } from "../../services/scoring/baseline";
import { DEFAULT_PARAMS, CV_FOLDS, CV_SEED } from "../../services/scoring/train";
import { loadXGBoost } from "../../services/scoring/xgboost";
import {
  averagePrecision,
  bestF1Threshold,
  confusionAt,
  f1Of,
  precisionOf,
  recallOf,
  rocAuc,
  type Confusion,
} from "../../services/scoring/metrics";
import { blendInputs, blendedProbability, brierScore, fitLogistic, ruleFloorOf } from "../../services/scoring/calibration";
import { stratifiedFolds } from "../../services/scoring/random";
import { OUTER_FOLDS, OUTER_SEED } from "../../services/scoring/nested";

type Features = (run: RunInputs) => number[];
const base: Features = (run) => featureVector(run, PHYSICS_FEATURE_NAMES);
/** + the rules' score and how far the wear is into the 200–240 min tool-failure window. */
const withRules: Features = (run) => [
  ...featureVector(run, PHYSICS_FEATURE_NAMES),
  baselineScore(run),
  Math.min(Math.max(run.toolWear - 200, 0), 40) / 40,
];
// toolWear 4, strain 8, strainRatio 9, heatRatio 10, powerRatio 11, mechanismLoad 12 (+ rule score 13, wear window 14)
const MONO = "(0,0,0,0,1,0,0,0,1,1,1,1,1,1,1)";

interface Config {
  name: string;
  features: Features;
  params: Record<string, unknown>;
}
const MONO_BASE = "(0,0,0,0,1,0,0,0,1,1,1,1,1)";
const MONO_DT = "(0,0,0,0,1,0,-1,0,1,1,1,1,1,1,1)";
const REG = { max_depth: 4, eta: 0.05, iterations: 400, min_child_weight: 3, colsample_bytree: 0.8 };
const RUN1: Config[] = [
  { name: "current (depth 5, eta 0.1, 200 trees)", features: base, params: {} },
  { name: "+ rule score & wear-window features", features: withRules, params: {} },
  { name: "+ rules, monotone constraints", features: withRules, params: { monotone_constraints: MONO } },
  { name: "+ rules, depth 3, eta 0.05, 600 trees", features: withRules, params: { max_depth: 3, eta: 0.05, iterations: 600 } },
  { name: "+ rules, depth 4, eta 0.05, 400, mcw 3, sub 0.8, col 0.8", features: withRules, params: REG },
  {
    name: "+ rules, depth 6, eta 0.05, 300 trees, mcw 2",
    features: withRules,
    params: { max_depth: 6, eta: 0.05, iterations: 300, min_child_weight: 2 },
  },
];
const RUN2: Config[] = [
  {
    name: "+ rules, monotone, depth 4, eta 0.05, 400, mcw 3, col 0.8",
    features: withRules,
    params: { ...REG, monotone_constraints: MONO },
  },
  {
    name: "+ rules, monotone, depth 3, eta 0.05, 600, mcw 3, col 0.8",
    features: withRules,
    params: { ...REG, max_depth: 3, iterations: 600, monotone_constraints: MONO },
  },
  {
    name: "+ rules, monotone, depth 5, eta 0.05, 400, mcw 3, col 0.8",
    features: withRules,
    params: { ...REG, max_depth: 5, monotone_constraints: MONO },
  },
  {
    name: "+ rules, monotone incl. ΔT decreasing, depth 4, eta 0.05, 400, mcw 3, col 0.8",
    features: withRules,
    params: { ...REG, monotone_constraints: MONO_DT },
  },
  {
    name: "base features, monotone, depth 4, eta 0.05, 400, mcw 3, col 0.8",
    features: base,
    params: { ...REG, monotone_constraints: MONO_BASE },
  },
];
const CONFIGS: Config[] = process.env.RUN === "1" ? RUN1 : RUN2;

type Variant = "booster" | "blend" | "blend+floor" | "blend+soft floor";
const VARIANTS: Variant[] = ["booster", "blend", "blend+floor", "blend+soft floor"];
/** The floor, but ordered by the blend below it: a flagged run gets at least floor − 0.02·(1 − p). */
const softFloor = (p: number, rule: number, floor: number) => (rule >= 1 ? Math.max(p, floor - 0.02 * (1 - p)) : p);

const add = (a: Confusion, b: Confusion): Confusion => ({ tp: a.tp + b.tp, fp: a.fp + b.fp, tn: a.tn + b.tn, fn: a.fn + b.fn });

async function main(file = SHIPPED_DATA_FILE) {
  const XGBoost = await loadXGBoost();
  const data = readDatasetFile(file);
  const n = data.runs.length;
  const all = data.runs.map((_, i) => i);
  const labels = data.labels;
  const rules = data.runs.map(baselineScore);
  const outer = stratifiedFolds(all, labels, OUTER_FOLDS, OUTER_SEED);
  const matrices = new Map<Features, number[][]>();
  for (const c of CONFIGS) if (!matrices.has(c.features)) matrices.set(c.features, data.runs.map(c.features));
  const fit = (c: Config, rows: number[]) => {
    const X = matrices.get(c.features)!;
    // DEFAULT_PARAMS' constraints are sized for the default feature list: each configuration sets its own.
    const { monotone_constraints: _sized, ...defaults } = DEFAULT_PARAMS;
    const b = new XGBoost({ ...defaults, ...c.params });
    b.train(
      rows.map((i) => X[i]),
      rows.map((i) => labels[i]),
    );
    return (test: number[]) => {
      const p = b.predict(test.map((i) => X[i]));
      b.free();
      return p;
    };
  };
  // results[config][variant] pooled outer scores and confusion
  const pooled = CONFIGS.map(
    () =>
      Object.fromEntries(VARIANTS.map((v) => [v, { scores: new Array<number>(n), c: { tp: 0, fp: 0, tn: 0, fn: 0 } }])) as Record<
        Variant,
        { scores: number[]; c: Confusion }
      >,
  );
  const selected = Object.fromEntries(
    VARIANTS.map((v) => [v, { scores: new Array<number>(n), c: { tp: 0, fp: 0, tn: 0, fn: 0 }, picks: [] as string[] }]),
  ) as Record<Variant, { scores: number[]; c: Confusion; picks: string[] }>;
  const rulesC = { tp: 0, fp: 0, tn: 0, fn: 0 };
  const started = Date.now();
  for (let k = 0; k < OUTER_FOLDS; k++) {
    const held = new Set(outer[k]);
    const T = all.filter((i) => !held.has(i));
    const S = outer[k];
    const inner = stratifiedFolds(T, labels, CV_FOLDS, CV_SEED);
    const innerOf = new Map<number, number>();
    inner.forEach((fold, f) => fold.forEach((i) => innerOf.set(i, f)));
    const bestInner = {} as Record<Variant, { ap: number; ci: number; scores: number[]; threshold: number } | undefined>;
    const outerScores: Array<Record<Variant, { scores: number[]; threshold: number }>> = [];
    for (let ci = 0; ci < CONFIGS.length; ci++) {
      const c = CONFIGS[ci];
      process.stderr.write(`outer ${k + 1}/${OUTER_FOLDS}, ${c.name}, ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
      const oof = new Map<number, number>();
      for (const fold of inner) {
        const h = new Set(fold);
        const p = fit(
          c,
          T.filter((i) => !h.has(i)),
        )(fold);
        fold.forEach((i, j) => oof.set(i, p[j]));
      }
      const pOuter = fit(c, T)(S);
      // score variants: inner cross-fitted scores (threshold, selection) and outer scores
      const innerScores: Record<Variant, Map<number, number>> = {
        booster: oof,
        blend: new Map(),
        "blend+floor": new Map(),
        "blend+soft floor": new Map(),
      };
      for (let f = 0; f < inner.length; f++) {
        const rest = T.filter((i) => innerOf.get(i) !== f);
        const w = fitLogistic(
          rest.map((i) => blendInputs(oof.get(i)!, rules[i])),
          rest.map((i) => labels[i]),
        );
        const floor = ruleFloorOf(
          rest.map((i) => rules[i]),
          rest.map((i) => labels[i]),
        );
        for (const i of inner[f]) {
          innerScores.blend.set(i, blendedProbability({ coefficients: w }, oof.get(i)!, rules[i]));
          innerScores["blend+floor"].set(i, blendedProbability({ coefficients: w, ruleFloor: floor }, oof.get(i)!, rules[i]));
          innerScores["blend+soft floor"].set(i, softFloor(innerScores.blend.get(i)!, rules[i], floor));
        }
      }
      const wAll = fitLogistic(
        T.map((i) => blendInputs(oof.get(i)!, rules[i])),
        T.map((i) => labels[i]),
      );
      const floorAll = ruleFloorOf(
        T.map((i) => rules[i]),
        T.map((i) => labels[i]),
      );
      const outerVariant: Record<Variant, number[]> = {
        booster: pOuter,
        blend: S.map((i, j) => blendedProbability({ coefficients: wAll }, pOuter[j], rules[i])),
        "blend+floor": S.map((i, j) => blendedProbability({ coefficients: wAll, ruleFloor: floorAll }, pOuter[j], rules[i])),
        "blend+soft floor": S.map((i, j) =>
          softFloor(blendedProbability({ coefficients: wAll }, pOuter[j], rules[i]), rules[i], floorAll),
        ),
      };
      const record = {} as Record<Variant, { scores: number[]; threshold: number }>;
      for (const v of VARIANTS) {
        const is = T.map((i) => innerScores[v].get(i)!);
        const yl = T.map((i) => labels[i]);
        const { threshold } = bestF1Threshold(is, yl);
        const ap = averagePrecision(is, yl);
        record[v] = { scores: outerVariant[v], threshold };
        const cf = confusionAt(
          outerVariant[v],
          S.map((i) => labels[i]),
          threshold,
        );
        pooled[ci][v].c = add(pooled[ci][v].c, cf);
        S.forEach((i, j) => (pooled[ci][v].scores[i] = outerVariant[v][j]));
        if (!bestInner[v] || ap > bestInner[v]!.ap) bestInner[v] = { ap, ci, scores: outerVariant[v], threshold };
      }
      outerScores.push(record);
    }
    for (const v of VARIANTS) {
      const b = bestInner[v]!;
      selected[v].picks.push(String(b.ci));
      selected[v].c = add(
        selected[v].c,
        confusionAt(
          b.scores,
          S.map((i) => labels[i]),
          b.threshold,
        ),
      );
      S.forEach((i, j) => (selected[v].scores[i] = b.scores[j]));
    }
    const rc = confusionAt(
      S.map((i) => rules[i]),
      S.map((i) => labels[i]),
      BASELINE_THRESHOLD,
    );
    Object.assign(rulesC, add(rulesC, rc));
  }
  const f = (x: number) => x.toFixed(4);
  const row = (name: string, scores: number[], c: Confusion) =>
    `| ${name} | ${f(rocAuc(scores, labels))} | ${f(averagePrecision(scores, labels))} | ${f(f1Of(c))} | ${f(precisionOf(c))} | ${f(recallOf(c))} | ${f(brierScore(scores, labels))} |`;
  console.log(`| configuration | score | ROC-AUC | PR-AUC | F1 | precision | recall | Brier |`.replace("| score ", "| score "));
  console.log(`|---|---|---|---|---|---|---|---|`);
  console.log(
    `| rules (baseline.ts, ≥ 1) | – | ${f(rocAuc(rules, labels))} | ${f(averagePrecision(rules, labels))} | ${f(f1Of(rulesC))} | ${f(precisionOf(rulesC))} | ${f(recallOf(rulesC))} | – |`,
  );
  CONFIGS.forEach((c, ci) =>
    VARIANTS.forEach((v) => console.log(row(`${c.name} | ${v}`, pooled[ci][v].scores, pooled[ci][v].c))),
  );
  VARIANTS.forEach((v) =>
    console.log(row(`inner-selected (picks ${selected[v].picks.join(",")}) | ${v}`, selected[v].scores, selected[v].c)),
  );
  console.log(`\n${((Date.now() - started) / 1000).toFixed(0)} s`);
}

main(process.argv[2]).catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
