/**
 * Emission sources beyond purchased energy: direct emissions by gas (converted to CO2e with a stated
 * GWP set) and freight legs (tonne-kilometres × a factor per mode).
 */

/** Gases a run (or a farm record) may report directly, in kg of the gas. */
export const GASES = ["CO2", "CH4", "CH4_fossil", "N2O", "HFC-134a", "HFC-32", "HFC-125", "HFC-143a", "R-404A", "R-410A", "SF6"] as const;
export type Gas = (typeof GASES)[number];
export const isGas = (name: string): name is Gas => (GASES as readonly string[]).includes(name);

export type GwpSet = "AR6" | "AR5";
export const DEFAULT_GWP_SET: GwpSet = "AR6";

/**
 * 100-year global warming potentials. AR6: IPCC AR6 WGI (2021) Table 7.15; AR5: IPCC AR5 WGI (2013)
 * Table 8.A.1 (without climate-carbon feedbacks). CH4 is biogenic methane (enteric fermentation,
 * manure: AR6 27.0); CH4_fossil is methane of fossil origin (AR6 29.8; AR5 gives one value, 28).
 * Blends by mass: R-404A = 44 % HFC-125 + 52 % HFC-143a + 4 % HFC-134a; R-410A = 50 % HFC-32 + 50 % HFC-125.
 */
const AR6 = { CO2: 1, CH4: 27.0, CH4_fossil: 29.8, N2O: 273, "HFC-134a": 1526, "HFC-32": 771, "HFC-125": 3740, "HFC-143a": 5810, SF6: 25_200 };
const AR5 = { CO2: 1, CH4: 28, CH4_fossil: 28, N2O: 265, "HFC-134a": 1300, "HFC-32": 677, "HFC-125": 3170, "HFC-143a": 4800, SF6: 23_500 };
const blends = (g: typeof AR6) => ({
  ...g,
  "R-404A": 0.44 * g["HFC-125"] + 0.52 * g["HFC-143a"] + 0.04 * g["HFC-134a"],
  "R-410A": 0.5 * g["HFC-32"] + 0.5 * g["HFC-125"],
});
export const GWP100: Readonly<Record<GwpSet, Readonly<Record<Gas, number>>>> = Object.freeze({ AR6: blends(AR6), AR5: blends(AR5) });
export const GWP_SOURCES: Readonly<Record<GwpSet, string>> = Object.freeze({
  AR6: "IPCC AR6 WGI (2021) Table 7.15, GWP100",
  AR5: "IPCC AR5 WGI (2013) Table 8.A.1, GWP100",
});

/** kg CO2e of direct emissions given in kg of each gas. */
export function directCo2e(gases: Partial<Record<Gas, number>> | undefined, set: GwpSet = DEFAULT_GWP_SET): number {
  if (!gases) return 0;
  return Object.entries(gases).reduce((sum, [gas, kg]) => sum + (kg ?? 0) * GWP100[set][gas as Gas], 0);
}

export const TRANSPORT_MODES = ["road", "rail", "sea", "air", "inland_waterway"] as const;
export type TransportMode = (typeof TRANSPORT_MODES)[number];

/**
 * Default freight factors, kg CO2e per tonne-kilometre (tank-to-wheel, average laden vehicle):
 * UK DESNZ GHG conversion factors 2023, "freighting goods" — HGV all diesel average ≈ 0.107, freight
 * train ≈ 0.028, average container ship ≈ 0.016, long-haul air freight ≈ 0.60 (without radiative
 * forcing); inland waterway ≈ 0.031 (GLEC Framework v3 default for a motor vessel). A leg may carry
 * its carrier's own factor instead.
 */
export const TRANSPORT_FACTORS: Readonly<Record<TransportMode, { value: number; source: string }>> = Object.freeze({
  road: { value: 0.107, source: "DESNZ 2023 freighting goods, HGV (all diesel) average laden ≈ 0.107 kg CO2e/tkm" },
  rail: { value: 0.028, source: "DESNZ 2023 freighting goods, freight train ≈ 0.028 kg CO2e/tkm" },
  sea: { value: 0.016, source: "DESNZ 2023 freighting goods, container ship average ≈ 0.016 kg CO2e/tkm" },
  air: { value: 0.6, source: "DESNZ 2023 freighting goods, long-haul air freight ≈ 0.60 kg CO2e/tkm (without RF)" },
  inland_waterway: { value: 0.031, source: "GLEC Framework v3, inland waterway motor vessel default ≈ 0.031 kg CO2e/tkm" },
});

export interface TransportLeg {
  mode: TransportMode;
  distanceKm: number;
  /** Mass moved, tonnes. */
  tonnes: number;
  /** The batch moved, when it is one of the index. */
  batchId?: string;
  /** The carrier's own factor (kg CO2e per tonne-km), when it gave one. */
  kgCo2ePerTonneKm?: number;
}

export function transportCo2e(legs: readonly TransportLeg[] | undefined): number {
  if (!legs) return 0;
  return legs.reduce((sum, l) => sum + l.distanceKm * l.tonnes * (l.kgCo2ePerTonneKm ?? TRANSPORT_FACTORS[l.mode].value), 0);
}
