/**
 * Emission factors: kg CO2e per kWh of final energy, by source. A production run records its
 * energy by source (primary data); CO2e is derived at read time with the factors in force, so a
 * revised factor re-states every run consistently and no stored record changes.
 *
 * Defaults and where they come from:
 * - grid   0.25  EU-27 average GHG emission intensity of electricity generation, ≈ 250 g CO2e/kWh
 *               (European Environment Agency, "Greenhouse gas emission intensity of electricity
 *               generation in Europe", 2023 indicator update, 2022 data). A member on a national
 *               grid should configure its own (location-based) factor.
 * - solar  0.041 life-cycle median, rooftop PV (IPCC AR5 WGIII 2014, Annex III, Table A.III.2: 41 g/kWh;
 *               utility PV 48 g). Renewables are not zero: panels, turbines and dams are built.
 * - wind   0.011 life-cycle median, onshore wind (same table: 11 g/kWh; offshore 12 g).
 * - hydro  0.024 life-cycle median, hydropower (same table: 24 g/kWh).
 * - gas    0.202 natural gas burnt on site (UK DESNZ/DEFRA GHG conversion factors 2023, natural gas
 *               per kWh, net CV ≈ 0.202; consistent with the IPCC 2006 Guidelines' default of
 *               56,100 kg CO2/TJ = 0.202 kg/kWh).
 * - diesel 0.267 gas/diesel oil burnt on site, e.g. a generator (IPCC 2006 Guidelines, Vol. 2,
 *               Table 1.4: 74,100 kg CO2/TJ = 0.267 kg/kWh; combustion CO2 only).
 *
 * Override with LOTLINE_EMISSION_FACTORS, a JSON object of source → kg CO2e/kWh
 * (`{"grid": 0.16}`); a source it names replaces the default, the others stay.
 */
export const ENERGY_SOURCES = ["grid", "solar", "wind", "hydro", "gas", "diesel"] as const;
export type EnergySource = (typeof ENERGY_SOURCES)[number];
export type EmissionFactors = Record<EnergySource, number>;

export const DEFAULT_EMISSION_FACTORS: Readonly<EmissionFactors> = Object.freeze({
  grid: 0.25,
  solar: 0.041,
  wind: 0.011,
  hydro: 0.024,
  gas: 0.202,
  diesel: 0.267,
});

export const EMISSION_FACTOR_SOURCES: Readonly<Record<EnergySource, string>> = Object.freeze({
  grid: "EEA (2023), GHG emission intensity of electricity generation, EU-27 average ≈ 250 g CO2e/kWh",
  solar: "IPCC AR5 WGIII (2014) Annex III Table A.III.2, rooftop PV life-cycle median 41 g CO2e/kWh",
  wind: "IPCC AR5 WGIII (2014) Annex III Table A.III.2, onshore wind life-cycle median 11 g CO2e/kWh",
  hydro: "IPCC AR5 WGIII (2014) Annex III Table A.III.2, hydropower life-cycle median 24 g CO2e/kWh",
  gas: "UK DESNZ/DEFRA GHG conversion factors 2023, natural gas ≈ 0.202 kg CO2e/kWh (IPCC 2006: 56,100 kg CO2/TJ)",
  diesel: "IPCC 2006 Guidelines Vol. 2 Table 1.4, gas/diesel oil 74,100 kg CO2/TJ = 0.267 kg CO2/kWh",
});

export const isEnergySource = (name: string): name is EnergySource => (ENERGY_SOURCES as readonly string[]).includes(name);

/** Factors from LOTLINE_EMISSION_FACTORS over the defaults; throws, naming the problem, on a bad value. */
export function emissionFactorsFromEnv(env: NodeJS.ProcessEnv = process.env): EmissionFactors {
  const text = env.LOTLINE_EMISSION_FACTORS?.trim();
  if (!text) return { ...DEFAULT_EMISSION_FACTORS };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`LOTLINE_EMISSION_FACTORS is not JSON: give an object such as {"grid": 0.16}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new Error(`LOTLINE_EMISSION_FACTORS must be a JSON object of source → kg CO2e/kWh, such as {"grid": 0.16}`);
  }
  const factors: EmissionFactors = { ...DEFAULT_EMISSION_FACTORS };
  for (const [source, value] of Object.entries(parsed)) {
    if (!isEnergySource(source))
      throw new Error(`LOTLINE_EMISSION_FACTORS: unknown energy source "${source}" (known: ${ENERGY_SOURCES.join(", ")})`);
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || value > 5) {
      throw new Error(`LOTLINE_EMISSION_FACTORS: ${source} must be a number of kg CO2e per kWh between 0 and 5`);
    }
    factors[source] = value;
  }
  return factors;
}
