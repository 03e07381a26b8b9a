import { mechanismRatios, type RunInputs } from "./features";

/**
 * A transparent, non-learned baseline: the failure mechanisms that the AI4I 2020 documentation
 * (S. Matzka 2020) describes, each as a load ratio that reaches 1 at the documented limit
 * (see mechanismRatios in features.ts for heat dissipation, power and overstrain), plus tool wear:
 *
 *   tool wear   the tool fails or is replaced at a random wear between 200 and 240 min
 *               → wear / TOOL_WEAR_LIMIT_MIN
 *
 * The score is the largest ratio; a run is predicted to fail when it reaches 1 (BASELINE_THRESHOLD).
 * Random failures (RNF) have no mechanism and are not predicted.
 */

export const BASELINE_THRESHOLD = 1;

/**
 * Where the tool-wear ratio reaches 1. Within 200–240 min the documentation gives no rule for
 * which tools fail (51 fail, 69 are replaced, at random times); the window's end is the one point
 * at which a tool still in use has certainly reached its failure time. See docs/adr/0007.
 */
export const TOOL_WEAR_LIMIT_MIN = 240;

/** The baseline's score of a run: its largest mechanism ratio (≥ 1: failure predicted). */
export function baselineScore(run: RunInputs): number {
  const r = mechanismRatios(run);
  return Math.max(r.heat, r.power, r.strain, run.toolWear / TOOL_WEAR_LIMIT_MIN);
}
