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

/** The model's features, in the order of the feature vector. */
export const FEATURES = [
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
] as const;

export type FeatureName = (typeof FEATURES)[number]["name"];
export const FEATURE_NAMES: readonly FeatureName[] = FEATURES.map((f) => f.name);

/**
 * Features along which the failure risk can only rise, by the AI4I documentation: tool wear
 * (tool-wear failure at 200–240 min), strain (overstrain) and the load ratios of the documented
 * mechanisms. The booster is trained with monotone constraints on them (docs/adr/0021).
 */
export const RISK_INCREASING: readonly FeatureName[] = [
  "toolWear",
  "strain",
  "strainRatio",
  "heatRatio",
  "powerRatio",
  "mechanismLoad",
];

/** XGBoost's monotone_constraints string over FEATURE_NAMES: 1 for RISK_INCREASING, 0 otherwise. */
export function monotoneConstraints(): string {
  return `(${FEATURE_NAMES.map((n) => (RISK_INCREASING.includes(n) ? 1 : 0)).join(",")})`;
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

/** The feature vector of a run, in FEATURE_NAMES order. */
export function featureVector(run: RunInputs): number[] {
  const ratios = mechanismRatios(run);
  return [
    run.airTemp,
    run.processTemp,
    run.rotationalSpeed,
    run.torque,
    run.toolWear,
    run.productType,
    run.processTemp - run.airTemp,
    powerW(run.torque, run.rotationalSpeed),
    run.toolWear * run.torque,
    ratios.strain,
    ratios.heat,
    ratios.power,
    Math.max(ratios.strain, ratios.heat, ratios.power),
  ];
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
