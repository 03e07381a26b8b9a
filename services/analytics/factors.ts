/**
 * Emission factors with their vintage: kg CO2e per kWh of final energy, by source, each with the
 * year it describes, where it was published, the calorific-value basis the kWh must be measured on
 * (fuels: net or gross) and its boundary (combustion: what leaves the chimney or the power plant;
 * life cycle: building the plant included). A production run records its energy by source (primary
 * data); CO2e is derived at read time with the factor in force for the run's site and year, so a
 * revised factor re-states every run consistently and no stored record changes.
 *
 * Built-in defaults (docs/analytics.md lists them with their sources):
 * - grid   2022: 0.251  EEA, "Greenhouse gas emission intensity of electricity generation in Europe"
 *                       (EU-27 average, 2022 data) — location-based Scope 2, generation (combustion).
 *          2023: 0.203  251 less the ≈ 19 % fall of the EU average from 2022 to 2023 (more wind and
 *                       solar, less coal and gas) that the same indicator reports; derived, not read
 *                       from the EEA's 2023 table. A run in 2023 or later uses it.
 * - gas    0.183        natural gas burnt on site, per kWh on a GROSS calorific-value basis (UK DESNZ
 *                       GHG conversion factors 2023: 0.18293 kg CO2e/kWh gross; 0.2027 on net CV).
 *                       Gas meters and bills in the EU and UK state kWh on gross CV.
 * - diesel 0.267        gas/diesel oil burnt on site, net CV (IPCC 2006 Guidelines Vol. 2 Table 1.4:
 *                       74,100 kg CO2/TJ = 0.2668 kg/kWh; combustion CO2 only).
 * - solar  0.041, wind 0.011, hydro 0.024  life-cycle medians (IPCC AR5 WGIII 2014, Annex III,
 *                       Table A.III.2); renewables are not zero: panels, turbines and dams are built.
 *
 * LOTLINE_EMISSION_FACTORS overrides them, a JSON object:
 *   {"grid": 0.16}                                 one figure for every year and site (as before)
 *   {"grid": {"value": 0.16, "year": 2024, "source": "…", "basis": "gross", "boundary": "combustion",
 *             "marketBased": 0.05}}                a vintage (marketBased: the Scope 2 market-based factor)
 *   {"grid": [{…}, {…}]}                           several vintages
 *   {"sites": {"<GLN>": {"grid": …}}}              a site's own factors (same forms), before the others
 */
export const ENERGY_SOURCES = ["grid", "solar", "wind", "hydro", "gas", "diesel"] as const;
export type EnergySource = (typeof ENERGY_SOURCES)[number];
/** The factors in force for one run (one site, one year): kg CO2e per kWh. */
export type EmissionFactors = Record<EnergySource, number>;

export type CalorificBasis = "net" | "gross";
export type FactorBoundary = "combustion" | "life_cycle";

export interface FactorVintage {
  value: number;
  /** The year the figure describes; null: every year (an override without a year). */
  year: number | null;
  source: string;
  /** For fuels: the calorific-value basis of the kWh; null for electricity and on-site renewables. */
  basis: CalorificBasis | null;
  boundary: FactorBoundary;
  /** Grid only: the Scope 2 market-based factor (contracts, guarantees of origin); absent: none given. */
  marketBased?: number;
}

/** GHG Protocol scope of the energy a run uses, by source. */
export const ENERGY_SCOPE: Readonly<Record<EnergySource, 1 | 2 | 3>> = Object.freeze({
  grid: 2,
  gas: 1,
  diesel: 1,
  // On-site renewables burn nothing; their life-cycle emissions are upstream (capital goods).
  solar: 3,
  wind: 3,
  hydro: 3,
});

const EEA = "EEA, Greenhouse gas emission intensity of electricity generation in Europe (EU-27 average)";
const AR5 = "IPCC AR5 WGIII (2014) Annex III Table A.III.2";

export const DEFAULT_VINTAGES: Readonly<Record<EnergySource, readonly FactorVintage[]>> = Object.freeze({
  grid: [
    { value: 0.251, year: 2022, source: `${EEA}, 2022 data: 251 g CO2e/kWh`, basis: null, boundary: "combustion" },
    {
      value: 0.203,
      year: 2023,
      source:
        `DERIVED, not the published 2023 figure: ${EEA} 2022 data, 251 g CO2e/kWh, less the ≈ 19 % fall of the EU average from 2022 to 2023 ` +
        `(251 × 0.81 ≈ 203 g). Override with the published value: LOTLINE_EMISSION_FACTORS={"grid": {"value": …, "year": 2023, "source": "…"}}`,
      basis: null,
      boundary: "combustion",
    },
  ],
  solar: [{ value: 0.041, year: 2014, source: `${AR5}, rooftop PV life-cycle median 41 g CO2e/kWh`, basis: null, boundary: "life_cycle" }],
  wind: [{ value: 0.011, year: 2014, source: `${AR5}, onshore wind life-cycle median 11 g CO2e/kWh`, basis: null, boundary: "life_cycle" }],
  hydro: [{ value: 0.024, year: 2014, source: `${AR5}, hydropower life-cycle median 24 g CO2e/kWh`, basis: null, boundary: "life_cycle" }],
  gas: [
    {
      value: 0.183,
      year: 2023,
      source: "UK DESNZ GHG conversion factors 2023, natural gas 0.18293 kg CO2e/kWh (gross CV; 0.2027 on net CV)",
      basis: "gross",
      boundary: "combustion",
    },
  ],
  diesel: [
    {
      value: 0.267,
      year: 2006,
      source: "IPCC 2006 Guidelines Vol. 2 Table 1.4, gas/diesel oil 74,100 kg CO2/TJ = 0.267 kg CO2/kWh (net CV)",
      basis: "net",
      boundary: "combustion",
    },
  ],
});

/** The latest default of each source: what a run in the latest vintage year uses. */
export const DEFAULT_EMISSION_FACTORS: Readonly<EmissionFactors> = Object.freeze(
  Object.fromEntries(ENERGY_SOURCES.map((s) => [s, DEFAULT_VINTAGES[s].at(-1)!.value])) as EmissionFactors,
);

export const EMISSION_FACTOR_SOURCES: Readonly<Record<EnergySource, string>> = Object.freeze(
  Object.fromEntries(ENERGY_SOURCES.map((s) => [s, DEFAULT_VINTAGES[s].at(-1)!.source])) as Record<EnergySource, string>,
);

export const isEnergySource = (name: string): name is EnergySource => (ENERGY_SOURCES as readonly string[]).includes(name);

type VintageTable = Record<EnergySource, FactorVintage[]>;

/** The factors in force by site and year, with the vintage each figure came from. */
export interface FactorBook {
  /** Global vintages (overrides before defaults) and each site's own. */
  global: VintageTable;
  sites: Record<string, Partial<VintageTable>>;
}

/** The vintage in force: the site's own list if it has one for the source, else the global one;
 * an entry without a year wins; otherwise the latest year not after `year`, else the earliest. */
export function vintageFor(book: FactorBook, source: EnergySource, site: string | null, year: number): FactorVintage {
  const list = (site !== null ? book.sites[site]?.[source] : undefined) ?? book.global[source];
  const timeless = list.find((v) => v.year === null);
  if (timeless) return timeless;
  const sorted = [...list].sort((a, b) => a.year! - b.year!);
  return [...sorted].reverse().find((v) => v.year! <= year) ?? sorted[0];
}

const factorsOfBook = new WeakMap<FactorBook, Map<string, EmissionFactors>>();
/**
 * The factors in force at a site in a year. Remembered per book (a book is not changed once built),
 * site and year: KPIs and footprints ask it for every run, and each answer sorts every source's
 * vintages. Callers get a frozen object.
 */
export function factorsFor(book: FactorBook, site: string | null, year: number): EmissionFactors {
  let known = factorsOfBook.get(book);
  if (!known) factorsOfBook.set(book, (known = new Map()));
  const key = `${site === null ? "-" : `s${site}`}@${year}`;
  let factors = known.get(key);
  if (!factors) {
    factors = Object.freeze(Object.fromEntries(ENERGY_SOURCES.map((s) => [s, vintageFor(book, s, site, year).value]))) as EmissionFactors;
    known.set(key, factors);
  }
  return factors;
}

/** The factors for a run: its site, the year it started. */
export function runFactors(book: FactorBook, run: { site: string; startTime: string }): EmissionFactors {
  return factorsFor(book, run.site, new Date(run.startTime).getUTCFullYear());
}

/** The Scope 2 market-based grid factor of a run's site and year, or null when no contract factor was given. */
export function marketGridFactor(book: FactorBook, run: { site: string; startTime: string }): number | null {
  return vintageFor(book, "grid", run.site, new Date(run.startTime).getUTCFullYear()).marketBased ?? null;
}

export function defaultFactorBook(): FactorBook {
  return {
    global: Object.fromEntries(ENERGY_SOURCES.map((s) => [s, DEFAULT_VINTAGES[s].map((v) => ({ ...v }))])) as VintageTable,
    sites: {},
  };
}

/** A book with every source at one figure (tests, and callers that hold a flat set). */
export function flatFactorBook(factors: EmissionFactors): FactorBook {
  const book = defaultFactorBook();
  for (const s of ENERGY_SOURCES) book.global[s] = [{ ...DEFAULT_VINTAGES[s].at(-1)!, value: factors[s], year: null }];
  return book;
}

const ENV = "LOTLINE_EMISSION_FACTORS";

function vintagesOf(where: string, source: string, value: unknown): FactorVintage[] {
  if (!isEnergySource(source)) throw new Error(`${ENV}: unknown energy source "${source}" (known: ${ENERGY_SOURCES.join(", ")})`);
  const check = (v: unknown, path: string) => {
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0 || v > 5)
      throw new Error(`${ENV}: ${path} must be a number of kg CO2e per kWh between 0 and 5`);
    return v;
  };
  const fallback = DEFAULT_VINTAGES[source].at(-1)!;
  const one = (item: unknown, path: string): FactorVintage => {
    if (typeof item === "number")
      return { ...fallback, value: check(item, path), year: null, source: `${ENV} (${where})` };
    if (typeof item !== "object" || item === null || Array.isArray(item))
      throw new Error(`${ENV}: ${path} must be a number or an object {"value", "year", "source", "basis", "boundary"}`);
    const v = item as Record<string, unknown>;
    const year = v.year === undefined || v.year === null ? null : v.year;
    if (year !== null && (typeof year !== "number" || !Number.isInteger(year) || year < 1990 || year > 2100))
      throw new Error(`${ENV}: ${path}.year must be a year between 1990 and 2100`);
    if (v.basis !== undefined && v.basis !== null && v.basis !== "net" && v.basis !== "gross")
      throw new Error(`${ENV}: ${path}.basis must be "net" or "gross" (calorific value)`);
    if (v.boundary !== undefined && v.boundary !== "combustion" && v.boundary !== "life_cycle")
      throw new Error(`${ENV}: ${path}.boundary must be "combustion" or "life_cycle"`);
    if (v.source !== undefined && (typeof v.source !== "string" || v.source.length > 300))
      throw new Error(`${ENV}: ${path}.source must be a citation of at most 300 characters`);
    if (v.marketBased !== undefined && source !== "grid") throw new Error(`${ENV}: ${path}.marketBased applies to the grid only`);
    return {
      value: check(v.value, `${path}.value`),
      year: year as number | null,
      source: (v.source as string | undefined) ?? `${ENV} (${where})`,
      basis: (v.basis as CalorificBasis | undefined) ?? fallback.basis,
      boundary: (v.boundary as FactorBoundary | undefined) ?? fallback.boundary,
      ...(v.marketBased !== undefined ? { marketBased: check(v.marketBased, `${path}.marketBased`) } : {}),
    };
  };
  return Array.isArray(value) ? value.map((item, i) => one(item, `${source}[${i}]`)) : [one(value, source)];
}

/** The factor book from LOTLINE_EMISSION_FACTORS over the defaults; throws, naming the problem, on a bad value. */
export function factorBookFromEnv(env: NodeJS.ProcessEnv = process.env): FactorBook {
  const book = defaultFactorBook();
  const text = env[ENV]?.trim();
  if (!text) return book;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`${ENV} is not JSON: give an object such as {"grid": 0.16}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new Error(`${ENV} must be a JSON object of source → kg CO2e/kWh, such as {"grid": 0.16}`);
  }
  for (const [key, value] of Object.entries(parsed)) {
    if (key === "sites") {
      if (typeof value !== "object" || value === null || Array.isArray(value))
        throw new Error(`${ENV}: sites must be an object of GLN → factors`);
      for (const [gln, factors] of Object.entries(value)) {
        if (!/^[0-9]{13}$/.test(gln)) throw new Error(`${ENV}: sites key "${gln}" must be a GLN (13 digits)`);
        if (typeof factors !== "object" || factors === null || Array.isArray(factors))
          throw new Error(`${ENV}: sites.${gln} must be an object of source → factor`);
        book.sites[gln] = Object.fromEntries(
          Object.entries(factors).map(([source, v]) => [source, vintagesOf(`site ${gln}`, source, v)]),
        );
      }
      continue;
    }
    const list = vintagesOf("consortium", key, value);
    // A dated override joins the defaults (and replaces one of the same year); an undated one replaces them.
    const undated = list.some((v) => v.year === null);
    book.global[key as EnergySource] = undated
      ? list
      : [...book.global[key as EnergySource].filter((d) => !list.some((v) => v.year === d.year)), ...list];
  }
  return book;
}

/** The factors in force for the latest year (flat): kept for callers that need one set. */
export function emissionFactorsFromEnv(env: NodeJS.ProcessEnv = process.env): EmissionFactors {
  return factorsFor(factorBookFromEnv(env), null, 9999);
}
