import { createHash } from "node:crypto";
import { canonicalize } from "json-canonicalize";
import { INPUT_NAMES, productTypeCode, type InputName } from "../features";

/**
 * Run parameters as the API and production-run records name them, and the model's own names.
 * Production runs (POST /api/v1/production-runs) carry `processParameters` with the unit in the
 * name, so the API speaks that vocabulary; the model file names its inputs without units. Both are
 * accepted; the same quantity given under both names must agree.
 *
 *   API / production run      model input       unit
 *   airTemperatureK           airTemp           K
 *   processTemperatureK       processTemp       K
 *   rotationalSpeedRpm        rotationalSpeed   rpm
 *   torqueNm                  torque            Nm
 *   toolWearMin               toolWear          min
 *   productType               productType       L/M/H or 0/1/2 (a production run's numeric map: 0/1/2)
 */
export const API_NAMES: Readonly<Record<InputName, string>> = {
  airTemp: "airTemperatureK",
  processTemp: "processTemperatureK",
  rotationalSpeed: "rotationalSpeedRpm",
  torque: "torqueNm",
  toolWear: "toolWearMin",
  productType: "productType",
};

export const MODEL_NAME_OF: Readonly<Record<string, InputName>> = Object.fromEntries(
  INPUT_NAMES.map((name) => [API_NAMES[name], name]),
) as Record<string, InputName>;

export const apiName = (name: InputName): string => API_NAMES[name];

/** The parameter mapping, as the API documents it. */
export const PARAMETER_MAPPING = INPUT_NAMES.map((name) => ({ apiName: API_NAMES[name], modelInput: name }));

const absent = (value: unknown) => value === undefined || value === null || value === "";

export interface MappedParams {
  /** Inputs under the model's names, as given (nothing filled in). */
  params: Partial<Record<InputName, unknown>>;
  /** API names whose value under the model's name differs. */
  conflicts: { apiName: string; modelInput: InputName }[];
}

/**
 * Picks the model's inputs out of a parameter map that may use either vocabulary (and may hold
 * other process parameters, which are ignored). Nothing is guessed: an input given under neither
 * name stays absent.
 */
export function mapParams(raw: Readonly<Record<string, unknown>>): MappedParams {
  const params: Partial<Record<InputName, unknown>> = {};
  const conflicts: MappedParams["conflicts"] = [];
  for (const name of INPUT_NAMES) {
    const api = raw[API_NAMES[name]];
    const own = raw[name];
    if (!absent(api) && !absent(own) && !sameValue(name, api, own))
      conflicts.push({ apiName: API_NAMES[name], modelInput: name });
    const value = absent(api) ? own : api;
    if (!absent(value)) params[name] = value;
  }
  return { params, conflicts };
}

function sameValue(name: InputName, a: unknown, b: unknown): boolean {
  if (name === "productType") return productTypeCode(a) !== undefined && productTypeCode(a) === productTypeCode(b);
  return a === b;
}

/**
 * SHA-256 (hex) of the RFC 8785 canonical JSON of the inputs the model saw, under the model's
 * names (product type as its code when valid): the same run given in either vocabulary has the
 * same inputs hash.
 */
export function inputsHash(params: Partial<Record<InputName, unknown>>): string {
  const normalised: Record<string, unknown> = {};
  for (const name of INPUT_NAMES) {
    if (absent(params[name])) continue;
    normalised[name] = name === "productType" ? (productTypeCode(params[name]) ?? params[name]) : params[name];
  }
  return createHash("sha256").update(canonicalize(normalised)).digest("hex");
}
