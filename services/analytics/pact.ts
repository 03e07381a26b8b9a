import { keccak256, toUtf8Bytes } from "ethers";
import type { Footprint } from "./footprint";

/**
 * WBCSD PACT Pathfinder data model, version 2 (Technical Specifications for PCF Data Exchange
 * v2.x): a batch's footprint out as a ProductFootprint, and a supplier's ProductFootprint in as a
 * purchased input's footprint. Only what Lotline can state is filled in; what the data model
 * requires and Lotline does not record is said so in `comment`.
 */
export const PACT_SPEC_VERSION = "2.2.0";

/** PACT declared units ↔ UN/CEFACT Rec 20 codes Lotline's material lines use, with the factor to the PACT unit. */
const DECLARED_UNITS: Record<string, { pact: string; perUnit: number }> = {
  KGM: { pact: "kilogram", perUnit: 1 },
  GRM: { pact: "kilogram", perUnit: 1e-3 },
  TNE: { pact: "kilogram", perUnit: 1e3 },
  LTR: { pact: "liter", perUnit: 1 },
  MLT: { pact: "liter", perUnit: 1e-3 },
  MTQ: { pact: "cubic meter", perUnit: 1 },
};
const FROM_PACT: Record<string, string> = { kilogram: "KGM", liter: "LTR", "cubic meter": "MTQ" };

export class PactError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
  ) {
    super(detail);
  }
}

/** A deterministic UUID (v4 layout) from a text: the same batch footprint keeps one id. */
function uuidOf(text: string): string {
  const h = keccak256(toUtf8Bytes(text)).slice(2, 34).split("");
  h[12] = "4";
  h[16] = "89ab"[parseInt(h[16], 16) % 4];
  const s = h.join("");
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20, 32)}`;
}

const decimal = (x: number) => {
  const text = Number(x.toPrecision(12)).toString();
  return /e/.test(text) ? x.toFixed(12).replace(/0+$/, "").replace(/\.$/, "") : text;
};

export interface PactExportContext {
  gtin: string;
  lot: string;
  productName: string;
  companyName: string;
  orgId: string;
  /** Start and end of the production of the lot's stages (ISO 8601). */
  referencePeriodStart: string;
  referencePeriodEnd: string;
  /** The node's time of export (created/updated). */
  now: string;
  /** Geography of the producing site (ISO 3166-1 alpha-2), when known. */
  country: string | null;
}

/**
 * The published freight factors the footprint's legs used (a carrier's own factor is primary data,
 * not listed), once each; the version is the year the source names.
 */
function freightFactorSources(fp: Footprint): { name: string; version: string }[] {
  const names = new Set<string>();
  for (const stage of fp.stages)
    for (const leg of stage.transport ?? []) if (leg.factorSource && !/carrier's own factor/.test(leg.factorSource)) names.add(leg.factorSource);
  return [...names].map((name) => ({ name, version: /\b(?:19|20)\d\d\b/.exec(name)?.[0] ?? "unversioned" }));
}

/** The footprint as a PACT v2 ProductFootprint; refuses (409) an incomplete footprint and units PACT cannot declare. */
export function toPactProductFootprint(fp: Footprint, ctx: PactExportContext): Record<string, unknown> {
  if (!fp.complete || fp.co2ePerUnitKg === null) {
    throw new PactError(
      409,
      "footprint_incomplete",
      `the footprint has ${fp.gaps.length} gap(s) (${fp.gaps.map((g) => `${g.reason} at ${g.batchId}`).slice(0, 5).join("; ")}): ` +
        "a PACT footprint states a complete figure, so it cannot be exported until they are filled or shared",
    );
  }
  const unit = fp.unit ? DECLARED_UNITS[fp.unit] : undefined;
  if (!unit)
    throw new PactError(
      422,
      "unit_not_declarable",
      `the lot is counted in ${fp.unit}; PACT declares footprints per kilogram, liter or cubic meter`,
    );
  const perDeclared = (x: number) => x / unit.perUnit;
  const s = fp.bySourcePerUnit;
  const total = perDeclared(fp.co2ePerUnitKg);
  const landManagement = perDeclared(s.directGases);
  const primaryShare = fp.co2ePerUnitKg > 0 ? (1 - s.purchasedInputs / fp.co2ePerUnitKg) * 100 : 100;
  const rules = Object.entries(fp.allocationPolicy.kinds)
    .map(([k, r]) => `${k}: ${r}`)
    .join(", ");
  const stageRules = fp.stages
    .filter((st) => st.allocation && st.allocation.share !== 1)
    .map((st) => `${st.lot}: ${st.allocation!.rule} (${st.allocation!.basis}), share ${decimal(st.allocation!.share ?? 0)}`)
    .join("; ");
  return {
    id: uuidOf(`lotline-pcf:${fp.batchId}:${decimal(total)}`),
    specVersion: PACT_SPEC_VERSION,
    version: 1,
    created: ctx.now,
    status: "Active",
    companyName: ctx.companyName,
    companyIds: [`urn:pathfinder:company:customcode:vendor-assigned:lotline-org-${ctx.orgId}`],
    productDescription: `${ctx.productName}, lot ${ctx.lot}`,
    productIds: [`urn:gtin:${ctx.gtin}`, `urn:pathfinder:product:customcode:vendor-assigned:lot:${ctx.gtin}:${ctx.lot}`],
    productCategoryCpc: "0",
    productNameCompany: ctx.productName,
    comment:
      `Lotline footprint over ${fp.stages.length} recorded stage(s). Boundary: ${fp.boundary.label}. ` +
      "fossilCarbonContent and biogenicCarbonContent are not recorded by Lotline and are given as 0 because the data model requires a value. " +
      "productCategoryCpc is not recorded (0).",
    pcf: {
      declaredUnit: unit.pact,
      unitaryProductAmount: decimal((fp.basisQuantity ?? 0) * unit.perUnit),
      pCfExcludingBiogenic: decimal(total),
      fossilGhgEmissions: decimal(total - landManagement),
      fossilCarbonContent: "0",
      biogenicCarbonContent: "0",
      landManagementGhgEmissions: decimal(landManagement),
      ipccCharacterizationFactorsSources: [fp.boundary.gwpSet.startsWith("AR5") ? "AR5" : "AR6"],
      crossSectoralStandardsUsed: ["GHG Protocol Product standard", "ISO Standard 14067"],
      productOrSectorSpecificRules: [
        { operator: "Other", otherOperatorName: "IDF", ruleNames: ["IDF Bulletin 520/2022 (allocation of dairy co-products)"] },
      ],
      boundaryProcessesDescription: `${fp.boundary.stages}. Includes: ${fp.boundary.includes.join("; ")}. Excludes: ${fp.boundary.excludes.join("; ")}.`,
      referencePeriodStart: ctx.referencePeriodStart,
      referencePeriodEnd: ctx.referencePeriodEnd,
      ...(ctx.country ? { geographyCountry: ctx.country } : {}),
      secondaryEmissionFactorSources: [
        ...Object.values(fp.factorVintages)
          .flat()
          .map((v) => ({ name: v!.source, version: v!.year === null ? "unversioned" : String(v!.year) })),
        ...freightFactorSources(fp),
      ],
      exemptedEmissionsPercent: 0,
      exemptedEmissionsDescription: "none exempted; sources no run records are outside the boundary (see boundaryProcessesDescription)",
      packagingEmissionsIncluded: false,
      allocationRulesDescription:
        `Allocation by transformation kind, set by the consortium (${fp.allocationPolicy.source}; default ${fp.allocationPolicy.defaultRule}` +
        `${rules ? `; ${rules}` : ""}).${stageRules ? ` Applied: ${stageRules}.` : ""}`,
      primaryDataShare: Math.round(primaryShare * 10) / 10,
      dqi: {
        coveragePercent: 100,
        technologicalDQR: 2,
        temporalDQR: 1,
        geographicalDQR: 2,
        completenessDQR: 2,
        reliabilityDQR: 2,
      },
    },
  };
}

/** What Lotline keeps of an imported supplier footprint. */
export interface ImportedPact {
  pactId: string;
  version: number;
  companyName: string;
  productIds: string[];
  declaredUnit: string;
  /** The UN/CEFACT code of the declared unit (LTR, KGM, MTQ). */
  unit: string;
  unitaryProductAmount: string;
  /** pCfExcludingBiogenic: kg CO2e per declared unit. */
  co2ePerUnitKg: number;
  referencePeriodEnd: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DECIMAL = /^-?[0-9]+(\.[0-9]+)?$/;

/**
 * Checks a supplier's PACT ProductFootprint for use as a purchased input's footprint. Refuses
 * (400 invalid_pact, naming every field) what the data model requires and is missing or malformed;
 * refuses (422) a deprecated footprint, a spec version other than 2.x, a unit a material line cannot
 * carry, and a reference period that has not ended.
 */
export function checkPactFootprint(value: unknown, now: number): ImportedPact {
  const errors: string[] = [];
  const v = (value ?? {}) as Record<string, unknown>;
  const pcf = (v.pcf ?? {}) as Record<string, unknown>;
  const str = (o: Record<string, unknown>, name: string, path = name) => {
    if (typeof o[name] !== "string" || (o[name] as string).length === 0) errors.push(`${path} must be a non-empty string`);
    return o[name] as string;
  };
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new PactError(400, "invalid_pact", "the body must be a PACT ProductFootprint object");
  const id = str(v, "id");
  if (typeof id === "string" && !UUID.test(id)) errors.push("id must be a UUID");
  const spec = str(v, "specVersion");
  if (typeof v.version !== "number" || !Number.isInteger(v.version) || v.version < 0) errors.push("version must be a non-negative integer");
  str(v, "created");
  const status = str(v, "status");
  const company = str(v, "companyName");
  if (!Array.isArray(v.companyIds) || v.companyIds.length === 0 || v.companyIds.some((x) => typeof x !== "string" || !x.startsWith("urn:")))
    errors.push("companyIds must be a non-empty array of URNs");
  if (!Array.isArray(v.productIds) || v.productIds.length === 0 || v.productIds.some((x) => typeof x !== "string" || !x.startsWith("urn:")))
    errors.push("productIds must be a non-empty array of URNs");
  str(v, "productDescription");
  str(v, "productNameCompany");
  if (typeof v.pcf !== "object" || v.pcf === null) errors.push("pcf must be the CarbonFootprint object");
  const declared = str(pcf, "declaredUnit", "pcf/declaredUnit");
  for (const name of ["unitaryProductAmount", "pCfExcludingBiogenic", "fossilGhgEmissions", "fossilCarbonContent", "biogenicCarbonContent"]) {
    if (typeof pcf[name] !== "string" || !DECIMAL.test(pcf[name] as string)) errors.push(`pcf/${name} must be a decimal string`);
  }
  if (typeof pcf.unitaryProductAmount === "string" && !(Number(pcf.unitaryProductAmount) > 0)) errors.push("pcf/unitaryProductAmount must be more than 0");
  if (typeof pcf.pCfExcludingBiogenic === "string" && Number(pcf.pCfExcludingBiogenic) < 0) errors.push("pcf/pCfExcludingBiogenic must not be negative");
  const sources = pcf.ipccCharacterizationFactorsSources ?? pcf.characterizationFactors;
  if (!(Array.isArray(sources) ? sources : [sources]).every((s) => s === "AR5" || s === "AR6"))
    errors.push("pcf/ipccCharacterizationFactorsSources must list AR5 or AR6");
  str(pcf, "boundaryProcessesDescription", "pcf/boundaryProcessesDescription");
  const start = str(pcf, "referencePeriodStart", "pcf/referencePeriodStart");
  const end = str(pcf, "referencePeriodEnd", "pcf/referencePeriodEnd");
  for (const [name, t] of [["referencePeriodStart", start], ["referencePeriodEnd", end]] as const)
    if (typeof t === "string" && !Number.isFinite(Date.parse(t))) errors.push(`pcf/${name} must be an ISO 8601 date-time`);
  if (typeof pcf.exemptedEmissionsPercent !== "number" || pcf.exemptedEmissionsPercent < 0 || pcf.exemptedEmissionsPercent > 5)
    errors.push("pcf/exemptedEmissionsPercent must be a number from 0 to 5");
  if (typeof pcf.packagingEmissionsIncluded !== "boolean") errors.push("pcf/packagingEmissionsIncluded must be a boolean");
  if (errors.length) throw new PactError(400, "invalid_pact", errors.join("; "));

  if (!/^2\.\d+\.\d+$/.test(spec)) throw new PactError(422, "unsupported_pact_version", `specVersion ${spec}: Lotline reads PACT Pathfinder 2.x footprints`);
  if (status !== "Active") throw new PactError(422, "pact_not_active", `the footprint's status is ${status}: only an Active footprint may be used`);
  const unit = FROM_PACT[declared];
  if (!unit)
    throw new PactError(422, "unit_not_declarable", `declaredUnit "${declared}": a purchased input is measured in kilogram, liter or cubic meter`);
  if (Date.parse(end) > now) throw new PactError(422, "reference_period_open", `the reference period ends ${end}, in the future`);
  if (Date.parse(start) > Date.parse(end)) throw new PactError(400, "invalid_pact", "pcf/referencePeriodStart must not be after referencePeriodEnd");
  return {
    pactId: id.toLowerCase(),
    version: v.version as number,
    companyName: company,
    productIds: v.productIds as string[],
    declaredUnit: declared,
    unit,
    unitaryProductAmount: pcf.unitaryProductAmount as string,
    co2ePerUnitKg: Number(pcf.pCfExcludingBiogenic),
    referencePeriodEnd: end,
  };
}
