import { TOOL_WEAR_LIMIT_MIN, mechanismRatios, type RunInputs } from "./features";

/**
 * A transparent, non-learned baseline: the failure mechanisms that the AI4I 2020 documentation
 * (S. Matzka 2020) describes, each as a load ratio that reaches 1 at the documented limit
 * (see mechanismRatios in features.ts for heat dissipation, power and overstrain), plus tool wear:
 *
 *   tool wear   the tool fails or is replaced at a random wear between 200 and 240 min
 *               → wear / TOOL_WEAR_LIMIT_MIN
 *
 * The score is the largest ratio; a run is predicted to fail when it reaches 1 (BASELINE_THRESHOLD).
 * Random failures (RNF) have no mechanism and are not predicted. New models also read this score
 * as a feature (`ruleScore` in features.ts, docs/adr/0031).
 */

export const BASELINE_THRESHOLD = 1;

export { TOOL_WEAR_LIMIT_MIN };

/** The baseline's score of a run: its largest mechanism ratio (≥ 1: failure predicted). */
export function baselineScore(run: RunInputs): number {
  const r = mechanismRatios(run);
  return Math.max(r.heat, r.power, r.strain, run.toolWear / TOOL_WEAR_LIMIT_MIN);
}
