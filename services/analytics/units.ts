/**
 * Units of measure for yields and allocation: UN/CEFACT Rec 20 codes with a dimension and a factor
 * to the dimension's base unit. The defaults mirror the ProvenanceRegistry's constructor (mass in
 * mg, volume in ml, count in pieces); the store passes the indexed governance table when it has one.
 */
export interface UnitInfo {
  dimension: number;
  toBase: number;
}
export type UnitTable = ReadonlyMap<string, UnitInfo>;

export const MASS = 1;
export const VOLUME = 2;
export const COUNT = 3;

export const DEFAULT_UNITS: UnitTable = new Map<string, UnitInfo>([
  ["MGM", { dimension: MASS, toBase: 1 }],
  ["GRM", { dimension: MASS, toBase: 1e3 }],
  ["KGM", { dimension: MASS, toBase: 1e6 }],
  ["TNE", { dimension: MASS, toBase: 1e9 }],
  ["LBR", { dimension: MASS, toBase: 453_592 }],
  ["MLT", { dimension: VOLUME, toBase: 1 }],
  ["LTR", { dimension: VOLUME, toBase: 1e3 }],
  ["MTQ", { dimension: VOLUME, toBase: 1e6 }],
  ["H87", { dimension: COUNT, toBase: 1 }],
  ["C62", { dimension: COUNT, toBase: 1 }],
  ["EA", { dimension: COUNT, toBase: 1 }],
]);

/** A quantity in its dimension's base unit, or null when the unit is unknown. */
export function toBase(
  quantity: number,
  unit: string,
  units: UnitTable = DEFAULT_UNITS,
): { dimension: number; value: number } | null {
  const info = units.get(unit);
  return info ? { dimension: info.dimension, value: quantity * info.toBase } : null;
}

/** "12.5" → 12.5: the API's decimal-string quantities as numbers for ratios. */
export const quantityNumber = (text: string): number => Number(text);
