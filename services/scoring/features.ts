/**
 * What the quality model sees: six process parameters of a run and the physics features derived
 * from them. The AI4I 2020 documentation (S. Matzka 2020) describes how its failures arise —
 * heat dissipation (ΔT and speed), power (torque × angular speed), overstrain (tool wear × torque,
 * with a limit per product type) and tool wear — so those quantities, and how close each is to
 * its documented limit, are computed explicitly instead of being left for the trees to
 * approximate from the raw columns. All of them are functions of the six inputs only.
 */

/** The parameters of a run that a score needs. Temperatures in kelvin. */
export const INPUTS = [
  { name: "airTemp", unit: "K", description: "air temperature" },
  { name: "processTemp", unit: "K", description: "process temperature" },
  { name: "rotationalSpeed", unit: "rpm", description: "rotational speed of the tool" },
  { name: "torque", unit: "Nm", description: "torque" },
  { name: "toolWear", unit: "min", description: "tool wear (minutes of use)" },
  { name: "productType", unit: "code", description: "product quality variant: L = 0, M = 1, H = 2 (or the letter)" },
] as const;

export type InputName = (typeof INPUTS)[number]["name"];
export const INPUT_NAMES: readonly InputName[] = INPUTS.map((i) => i.name);

/** A run's parameters, all present and numeric (productType as its code 0/1/2). */
export type RunInputs = Record<InputName, number>;

export const PRODUCT_TYPE_CODES: Readonly<Record<string, number>> = { L: 0, M: 1, H: 2 };
export const PRODUCT_TYPE_LETTERS = ["L", "M", "H"] as const;

/** Overstrain limits of the AI4I documentation: tool wear × torque in min·Nm, per product type. */
export const OVERSTRAIN_LIMIT = [11_000, 12_000, 13_000] as const;

/**
 * Every feature Lotline can compute, by name. A model file lists the features it was trained on, in
 * its vector's order, and scoring builds exactly that vector (model.ts): a file written with an
 * older feature list still scores as it did (docs/adr/0031). Names are a contract: a feature's
 * definition never changes under its name; a new quantity gets a new name.
 */
export const KNOWN_FEATURES = [
  { name: "airTemp", unit: "K", definition: "air temperature" },
  { name: "processTemp", unit: "K", definition: "process temperature" },
  { name: "rotationalSpeed", unit: "rpm", definition: "rotational speed" },
  { name: "torque", unit: "Nm", definition: "torque" },
  { name: "toolWear", unit: "min", definition: "tool wear" },
  { name: "productType", unit: "code", definition: "product type, ordinal: L = 0, M = 1, H = 2" },
  { name: "tempDiff", unit: "K", definition: "processTemp − airTemp (heat dissipation)" },
  { name: "power", unit: "W", definition: "torque × rotationalSpeed × 2π / 60" },
  { name: "strain", unit: "min·Nm", definition: "toolWear × torque" },
  { name: "strainRatio", unit: "1", definition: "strain / overstrain limit of the product type (11,000 L, 12,000 M, 13,000 H)" },
  {
    name: "heatRatio",
    unit: "1",
    definition: "min(8.6 K / tempDiff, 1380 rpm / rotationalSpeed): ≥ 1 inside the heat-dissipation failure region",
  },
  { name: "powerRatio", unit: "1", definition: "max(3500 W / power, power / 9000 W): ≥ 1 outside the safe power band" },
  {
    name: "mechanismLoad",
    unit: "1",
    definition: "max(strainRatio, heatRatio, powerRatio): ≥ 1 when a documented failure mechanism is reached",
  },
  {
    name: "ruleScore",
    unit: "1",
    definition:
      "the transparent rules' score (baseline.ts): max(strainRatio, heatRatio, powerRatio, toolWear / 240 min); ≥ 1 when the rules predict a failure",
  },
  {
    name: "wearWindow",
    unit: "1",
    definition: "(toolWear − 200 min) / 40 min, clipped to [0, 1]: how far the tool is into the documented 200–240 min tool-wear failure window",
  },
] as const;

export type FeatureName = (typeof KNOWN_FEATURES)[number]["name"];
export const KNOWN_FEATURE_NAMES: readonly FeatureName[] = KNOWN_FEATURES.map((f) => f.name);

export function isKnownFeature(name: unknown): name is FeatureName {
  return typeof name === "string" && (KNOWN_FEATURE_NAMES as readonly string[]).includes(name);
}

/**
 * The 13 physics features of the models trained before the rules' score became a feature (issue 17):
 * the feature list of every model file written until then.
 */
export const PHYSICS_FEATURE_NAMES: readonly FeatureName[] = KNOWN_FEATURE_NAMES.filter((n) => n !== "ruleScore" && n !== "wearWindow");

/** The features new models are trained on, in the order of the feature vector. */
export const FEATURE_NAMES: readonly FeatureName[] = [...PHYSICS_FEATURE_NAMES, "ruleScore"];
export const FEATURES = FEATURE_NAMES.map((name) => KNOWN_FEATURES.find((f) => f.name === name)!);

/**
 * Features along which the failure risk can only rise, by the AI4I documentation: tool wear
 * (tool-wear failure at 200–240 min), strain (overstrain), the load ratios of the documented
 * mechanisms and the rules' score, their maximum. The booster is trained with monotone constraints
 * on them (docs/adr/0021, 0031).
 */
export const RISK_INCREASING: readonly FeatureName[] = [
  "toolWear",
  "strain",
  "strainRatio",
  "heatRatio",
  "powerRatio",
  "mechanismLoad",
  "ruleScore",
  "wearWindow",
];

/** XGBoost's monotone_constraints string over a feature list: 1 for RISK_INCREASING, 0 otherwise. */
export function monotoneConstraints(names: readonly FeatureName[] = FEATURE_NAMES): string {
  return `(${names.map((n) => (RISK_INCREASING.includes(n) ? 1 : 0)).join(",")})`;
}

/**
 * Columns of AI4I 2020 that record which failure mode happened. They define the label, so a
 * model that saw them would be reading the answer (leakage): never features, never mapped.
 */
export const LEAKAGE_COLUMNS = ["TWF", "HDF", "PWF", "OSF", "RNF"] as const;

export function powerW(torque: number, rpm: number): number {
  return (torque * rpm * 2 * Math.PI) / 60;
}

/** Limits of the documented failure mechanisms (AI4I 2020, S. Matzka 2020). */
export const HDF_TEMP_DIFF_K = 8.6;
export const HDF_SPEED_RPM = 1380;
export const PWF_MIN_W = 3500;
export const PWF_MAX_W = 9000;

/** limit / value, capped: a zero or negative value is as far past the limit as the cap says. */
const RATIO_CAP = 1e6;
const below = (limit: number, value: number) => (value > limit / RATIO_CAP ? limit / value : RATIO_CAP);

/**
 * Load ratios of the documented failure mechanisms, each 1 at its limit:
 *   heat dissipation  ΔT < 8.6 K and speed < 1380 rpm        → min(8.6 / ΔT, 1380 / rpm)
 *   power             power outside 3500–9000 W               → max(3500 / P, P / 9000)
 *   overstrain        wear × torque above 11,000 / 12,000 / 13,000 min·Nm (L / M / H)
 */
export function mechanismRatios(run: RunInputs): { heat: number; power: number; strain: number } {
  const power = powerW(run.torque, run.rotationalSpeed);
  return {
    heat: Math.min(below(HDF_TEMP_DIFF_K, run.processTemp - run.airTemp), below(HDF_SPEED_RPM, run.rotationalSpeed)),
    power: Math.max(below(PWF_MIN_W, power), power / PWF_MAX_W),
    strain: (run.toolWear * run.torque) / OVERSTRAIN_LIMIT[run.productType],
  };
}

/**
 * Where the tool-wear ratio of the rules reaches 1. Within 200–240 min the documentation gives no rule for
 * which tools fail (51 fail, 69 are replaced, at random times); the window's end is the one point
 * at which a tool still in use has certainly reached its failure time. See docs/adr/0007.
 */
export const TOOL_WEAR_LIMIT_MIN = 240;
/** Where the documented tool-wear failure window begins. */
export const TOOL_WEAR_WINDOW_MIN = 200;

/** Every known feature of a run, by name. */
export function featureValues(run: RunInputs): Record<FeatureName, number> {
  const ratios = mechanismRatios(run);
  const mechanismLoad = Math.max(ratios.strain, ratios.heat, ratios.power);
  return {
    airTemp: run.airTemp,
    processTemp: run.processTemp,
    rotationalSpeed: run.rotationalSpeed,
    torque: run.torque,
    toolWear: run.toolWear,
    productType: run.productType,
    tempDiff: run.processTemp - run.airTemp,
    power: powerW(run.torque, run.rotationalSpeed),
    strain: run.toolWear * run.torque,
    strainRatio: ratios.strain,
    heatRatio: ratios.heat,
    powerRatio: ratios.power,
    mechanismLoad,
    ruleScore: Math.max(ratios.heat, ratios.power, ratios.strain, run.toolWear / TOOL_WEAR_LIMIT_MIN),
    wearWindow: Math.min(Math.max(run.toolWear - TOOL_WEAR_WINDOW_MIN, 0), TOOL_WEAR_LIMIT_MIN - TOOL_WEAR_WINDOW_MIN) / (TOOL_WEAR_LIMIT_MIN - TOOL_WEAR_WINDOW_MIN),
  };
}

/** The feature vector of a run over `names` (default: the features new models use), in that order. */
export function featureVector(run: RunInputs, names: readonly FeatureName[] = FEATURE_NAMES): number[] {
  const values = featureValues(run);
  return names.map((n) => values[n]);
}

/** Parses a product type given as L/M/H (any case) or its code 0/1/2; undefined when it is neither. */
export function productTypeCode(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isInteger(value) && value >= 0 && value <= 2 ? value : undefined;
  if (typeof value === "string") {
    const text = value.trim().toUpperCase();
    if (Object.hasOwn(PRODUCT_TYPE_CODES, text)) return PRODUCT_TYPE_CODES[text];
    if (/^[012]$/.test(text)) return Number(text);
  }
  return undefined;
}

/**
 * Checks raw parameters: every input present (not undefined/null/empty) and valid. Numeric
 * inputs must be finite numbers; nothing is filled in or guessed.
 */
export function checkInputs(
  params: Readonly<Record<string, unknown>>,
): { run: RunInputs } | { missing: InputName[]; invalid: InputName[] } {
  const missing: InputName[] = [];
  const invalid: InputName[] = [];
  const run = {} as RunInputs;
  for (const name of INPUT_NAMES) {
    const value = params[name];
    if (value === undefined || value === null || value === "") {
      missing.push(name);
      continue;
    }
    if (name === "productType") {
      const code = productTypeCode(value);
      if (code === undefined) invalid.push(name);
      else run.productType = code;
      continue;
    }
    if (typeof value !== "number" || !Number.isFinite(value)) invalid.push(name);
    else run[name] = value;
  }
  if (missing.length || invalid.length) return { missing, invalid };
  if (run.rotationalSpeed < 0 || run.torque < 0 || run.toolWear < 0 || run.airTemp <= 0 || run.processTemp <= 0) {
    // Negative speeds, torques or wear, and temperatures at or below 0 K, are not measurements.
    const bad = INPUT_NAMES.filter((n) => n !== "productType" && (n.endsWith("Temp") ? run[n] <= 0 : run[n] < 0));
    return { missing, invalid: bad };
  }
  return { run };
}
