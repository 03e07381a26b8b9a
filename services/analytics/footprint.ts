import { energyTotal } from "./kpi";
import {
  ENERGY_SCOPE,
  ENERGY_SOURCES,
  flatFactorBook,
  marketGridFactor,
  runFactors,
  vintageFor,
  type EmissionFactors,
  type FactorBook,
  type FactorVintage,
  type EnergySource,
} from "./factors";
import { DEFAULT_GWP_SET, directCo2e, transportCo2e, GWP_SOURCES, type GwpSet } from "./emissions";
import {
  allocate,
  DEFAULT_ALLOCATION_POLICY,
  ruleFor,
  ruleOriginFor,
  type AllocationOutput,
  type AllocationPolicy,
  type AllocationRule,
  type RuleOrigin,
} from "./allocation";
import type { ProductionRunRecord } from "./record";
import type { TransportLegRecord, UnattributedLeg } from "./transport";
import { DEFAULT_UNITS, type UnitTable } from "./units";
import type { LineageEdge } from "../provenance/trace";

/**
 * Cradle-to-gate footprint of a batch through its lineage, over the RECORDED stages only: what the
 * production runs of each lot record — energy by source (Scope 1 fuels, Scope 2 grid, on-site
 * renewables' life cycle), direct emissions by gas (CH4, N2O, CO2, refrigerants; GWP100 of the
 * run's set, AR6 by default), purchased untracked inputs with their own footprints, and freight
 * legs to the site. A lot no run records is a gap, never a zero: the boundary says what is in.
 * Per unit of a batch B (in B's unit):
 *
 *   portion (B split off P):  f(B) = f(P)                      — a portion inherits its lot's figure
 *   lot made by a transformation T of kind K with outputs O:
 *       f(B) = own(B) + a_K(B) · Σ_inputs f(I) · c(I, T) / Q(B)
 *   own(B) = Σ_runs producing B  burden(run) · a_K(run, B) / Q(B)
 *
 * c(I, T) is the quantity of input I the transformation consumed (Σ of its lineage edges to T's
 * outputs), Q(B) the lot's registered quantity, and a_K the share of B among the outputs by the
 * allocation rule governance set for kind K (allocation.ts: mass, dry matter, economic, none). The
 * chain's own edge quantities pro-rate inputs by raw output quantity whatever the unit, so they are
 * used only for a single-output transformation (where they are exact) or when no transformation
 * facts are given. The rule that applied is recorded per stage.
 *
 * Unknown data is a gap, never a zero: a lot no run records, a run without energy data, runs that
 * record only part of a lot, a batch missing from the index, an allocation the rule cannot make.
 * With any gap the per-unit figures are null and `known…` gives the sum of the known stages (a
 * lower bound).
 */
export interface FootprintBatch {
  id: string;
  lotId: string;
  gtin: string;
  lot: string;
  orgId: string;
  unit: string;
  /** A lot's registered quantity; a portion's quantity when it was split off. */
  basisQuantity: number | null;
}

export interface TransformationFacts {
  /** The transformation kind as the chain records it (MERGE, PROCESS…). */
  kind: string;
  /** Every output of the transformation with its registered quantity. */
  outputs: AllocationOutput[];
  /** Every input with the quantity the transformation consumed of it (in the input's unit). */
  inputs: { batchId: string; quantity: number }[];
}

export interface FootprintLookups {
  batch(id: string): FootprintBatch | null;
  /** Lineage edges into the batch (its inputs, or the split it came from). */
  upstream(id: string): LineageEdge[];
  /** Current (not superseded) runs that list the lot among their outputs. */
  runsProducing(lotId: string): ProductionRunRecord[];
  /**
   * Whether the reader may see this run (its owner's record, shared by grant or not). A run it may
   * not see is a `not_shared` gap: its figures are neither used nor shown. Absent: every run.
   */
  mayRead?(run: ProductionRunRecord, lotId: string): boolean;
  /**
   * Why another member's node gave no runs for the batch, when it is held there (federation):
   * not_shared, unreachable or not_recorded. Absent or null: the batch's runs are held here.
   */
  remote?(batchId: string): { reason: "not_shared" | "unreachable" | "not_recorded"; orgId: string; detail: string } | null;
  /** Where a run came from (its owner, the node that served it, whether its proof held); null: recorded here. */
  originOf?(runId: string): StageOrigin | null;
  /**
   * The transformation that made a lot (from the chain: its kind, all its outputs and the input
   * quantities it consumed), or null. Absent: the lineage edges' own quantities are used.
   */
  transformation?(lotId: string): TransformationFacts | null;
  /**
   * Freight legs that moved the batch, from EPCIS shipping events (transport.ts: the lot's own and its
   * logistic units' shipments, held here or replicated from other members' nodes), the owners of such
   * events the reader may not see (each a `not_shared` gap), and the batch's EPCIS events other
   * members' nodes did not give the reader (`gaps`: not_shared or unreachable; their freight legs are
   * unknown), and, for a lot's first portion, the lot's legs nothing ties to a portion (`unattributed`:
   * each a `transport_unattributed` gap, charged to no batch). Absent: no transport stages.
   */
  transportLegs?(batchId: string): {
    legs: TransportLegRecord[];
    notShared: number[];
    unattributed?: UnattributedLeg[];
    gaps?: { orgId: string; reason: "not_shared" | "unreachable"; detail: string }[];
  };
}

/** Where a stage's records came from: the owner, the node that served them (null: this node), whether they verified. */
export interface StageOrigin {
  orgId: string;
  servedBy: string | null;
  verified: boolean;
}

/** Emissions by source and scope, kg CO2e (energy in kWh). Total = location-based. */
export interface Burden {
  energyKwh: number;
  /** Fuels burnt on site (gas, diesel). */
  energyScope1: number;
  /** Grid electricity, location-based (grid-average factor). */
  energyScope2Location: number;
  /** Grid electricity, market-based (the site's contract factor; the grid average when none is given). */
  energyScope2Market: number;
  /** Life cycle of on-site renewables (upstream). */
  energyScope3: number;
  /** Direct emissions by gas (Scope 1). */
  directGases: number;
  /** Purchased untracked inputs with their own footprints (upstream). */
  purchasedInputs: number;
  /** Freight legs to the site (upstream). */
  transport: number;
}

const ZERO: Burden = {
  energyKwh: 0,
  energyScope1: 0,
  energyScope2Location: 0,
  energyScope2Market: 0,
  energyScope3: 0,
  directGases: 0,
  purchasedInputs: 0,
  transport: 0,
};
const KEYS = Object.keys(ZERO) as (keyof Burden)[];
const scale = (b: Burden, k: number): Burden => Object.fromEntries(KEYS.map((key) => [key, b[key] * k])) as unknown as Burden;
const add = (a: Burden, b: Burden): Burden => Object.fromEntries(KEYS.map((key) => [key, a[key] + b[key]])) as unknown as Burden;
/** kg CO2e of a burden (Scope 2 location-based). */
export const co2eOfBurden = (b: Burden) =>
  b.energyScope1 + b.energyScope2Location + b.energyScope3 + b.directGases + b.purchasedInputs + b.transport;

export interface StageAllocation {
  kind: string | null;
  rule: AllocationRule | "portion";
  /** The stage lot's share of the transformation's burden (1 for a single output). */
  share: number | null;
  basis: string;
  /** Where the rule came from: governance on-chain (with its transaction), this node's configuration, or the default. */
  origin: RuleOrigin;
}

export interface FootprintStage {
  /** `production`: the lot's production runs; `transport`: freight legs that moved the batch (EPCIS shipping events). */
  type: "production" | "transport";
  batchId: string;
  gtin: string | null;
  lot: string | null;
  orgId: string | null;
  unit: string | null;
  runIds: string[];
  /** The stage's own emissions per unit of its batch. */
  ownCo2ePerUnitKg: number;
  /** Attributed to the root batch's basis quantity. */
  co2eKg: number | null;
  energyKwh: number | null;
  /** Share of the root's known CO2e. */
  share: number | null;
  /** Where the stage's production runs came from (federation); null when unknown. */
  origin: StageOrigin | null;
  /** How the stage's transformation burden was split among its co-products. */
  allocation: StageAllocation | null;
  /** The stage's own emissions per unit by source and scope. */
  ownBySource: Burden;
  /** A transport stage's legs: where from and to, mode, distance, mass, factor, and the EPCIS event. */
  transport: TransportLegRecord[] | null;
}

export type GapReason =
  | "no_production_run"
  | "no_energy_data"
  | "partial_coverage"
  | "unknown_batch"
  | "no_quantity"
  | "not_shared"
  | "unreachable"
  | "not_recorded"
  | "allocation_undetermined"
  | "transport_undetermined"
  | "transport_unattributed";

export interface FootprintGap {
  batchId: string;
  orgId: string | null;
  reason: GapReason;
  detail: string;
}

export interface FootprintBoundary {
  /** What the figure is: the label pages and the README use. */
  label: string;
  /** Life-cycle stages in: cradle (raw material) to the root's factory gate, recorded stages only. */
  stages: string;
  /** Emission sources the method includes (each counted where a run records it). */
  includes: string[];
  /** Sources a run recorded for at least one stage of this figure. */
  recorded: string[];
  /** What the method leaves out (not recorded by any run: not in the figure). */
  excludes: string[];
  gwpSet: string;
  scope2: string;
}

export interface FootprintScopes {
  /** kg CO2e per unit of the root. The root lot's own stage by scope; every upstream stage is Scope 3. */
  scope1: number;
  scope2LocationBased: number;
  scope2MarketBased: number;
  scope3Upstream: number;
}

export interface Footprint {
  batchId: string;
  unit: string | null;
  basisQuantity: number | null;
  co2ePerUnitKg: number | null;
  energyPerUnitKwh: number | null;
  co2eKg: number | null;
  energyKwh: number | null;
  complete: boolean;
  knownCo2ePerUnitKg: number;
  knownEnergyPerUnitKwh: number;
  stages: FootprintStage[];
  gaps: FootprintGap[];
  boundary: FootprintBoundary;
  /** Known per-unit emissions by scope (GHG Protocol; Scope 2 location- and market-based apart). */
  scopesPerUnitKg: FootprintScopes;
  /** Known per-unit emissions by source, summed over stages. */
  bySourcePerUnit: Burden;
  /** The allocation policy in force (the governance decision it records). */
  allocationPolicy: {
    source: string;
    defaultRule: AllocationRule;
    kinds: Record<string, AllocationRule>;
    /** Where each kind's rule came from (on-chain governance or this node's configuration). */
    origins: Record<string, RuleOrigin>;
  };
  /** The emission-factor vintages the stages' runs used, by source. */
  factorVintages: Partial<Record<EnergySource, FactorVintage[]>>;
}

interface PerUnit {
  /** Per unit of the batch, by stage batch id, in insertion (lineage) order. */
  stages: Map<string, Burden>;
  gaps: Map<string, FootprintGap>;
}

export interface FootprintOptions {
  units?: UnitTable;
  allocation?: AllocationPolicy;
}

/** A run's burden (emissions by source and scope) with the factors of its site and year. */
export function runBurden(run: ProductionRunRecord, book: FactorBook): Burden {
  const f = runFactors(book, run);
  const e = run.energyKwh ?? {};
  const kwh = (s: EnergySource) => e[s] ?? 0;
  const byScope = (scope: 1 | 2 | 3) =>
    ENERGY_SOURCES.filter((s) => ENERGY_SCOPE[s] === scope).reduce((sum, s) => sum + kwh(s) * f[s], 0);
  const market = marketGridFactor(book, run);
  return {
    energyKwh: energyTotal(run.energyKwh) ?? 0,
    energyScope1: byScope(1),
    energyScope2Location: byScope(2),
    energyScope2Market: kwh("grid") * (market ?? f.grid),
    energyScope3: byScope(3),
    directGases: directCo2e(run.directEmissionsKg, run.gwpSet ?? DEFAULT_GWP_SET),
    purchasedInputs: (run.inputs ?? []).reduce(
      (sum, line) => sum + (line.footprint ? Number(line.quantity) * line.footprint.co2ePerUnitKg : 0),
      0,
    ),
    transport: transportCo2e(run.transportLegs),
  };
}

/** A run's allocation share for one of its outputs by the rule of `kind`; null when undetermined. */
export function allocationShare(
  run: Pick<ProductionRunRecord, "outputs">,
  batchId: string,
  units: UnitTable = DEFAULT_UNITS,
  options: { kind?: string | null; policy?: AllocationPolicy; gtinOf?: (batchId: string) => string | null } = {},
): number | null {
  const outputs = run.outputs.map((o, i) => ({
    batchId: o.batchId ?? `material:${i}`,
    gtin: o.batchId && options.gtinOf ? options.gtinOf(o.batchId) : null,
    quantity: Number(o.quantity),
    unit: o.unit,
  }));
  if (!outputs.some((o) => o.batchId === batchId)) return 0;
  const result = allocate(outputs, options.kind ?? null, options.policy ?? DEFAULT_ALLOCATION_POLICY, units);
  return result.shares?.get(batchId) ?? null;
}

const isBook = (f: EmissionFactors | FactorBook): f is FactorBook => typeof (f as FactorBook).global === "object";

export function batchFootprint(
  rootId: string,
  lookups: FootprintLookups,
  factors: EmissionFactors | FactorBook,
  unitsOrOptions: UnitTable | FootprintOptions = DEFAULT_UNITS,
): Footprint {
  const book = isBook(factors) ? factors : flatFactorBook(factors);
  const options: FootprintOptions =
    unitsOrOptions instanceof Map ? { units: unitsOrOptions as UnitTable } : (unitsOrOptions as FootprintOptions);
  const units = options.units ?? DEFAULT_UNITS;
  const policy = options.allocation ?? DEFAULT_ALLOCATION_POLICY;
  const memo = new Map<string, PerUnit>();
  const info = new Map<string, FootprintBatch | null>();
  const runIdsOf = new Map<string, string[]>();
  const allocationOf = new Map<string, StageAllocation>();
  const transportOf = new Map<string, TransportLegRecord[]>();
  const usedRuns: ProductionRunRecord[] = [];
  const batchOf = (id: string) => {
    if (!info.has(id)) info.set(id, lookups.batch(id));
    return info.get(id)!;
  };

  const gap = (g: FootprintGap): [string, FootprintGap] => [`${g.batchId}:${g.reason}`, g];

  function perUnit(id: string, path: Set<string>): PerUnit {
    const cached = memo.get(id);
    if (cached) return cached;
    const result: PerUnit = { stages: new Map(), gaps: new Map() };
    const batch = batchOf(id);
    if (!batch || path.has(id)) {
      result.gaps.set(...gap({ batchId: id, orgId: null, reason: "unknown_batch", detail: `batch ${id} is not in the index` }));
      memo.set(id, result);
      return result;
    }
    const inner = new Set(path).add(id);
    const edges = lookups.upstream(id);
    const split = edges.find((e) => e.type === "split");
    if (split) {
      const parent = perUnit(split.from, inner);
      // A portion inherits its lot's figure, plus the freight legs that moved the portion itself.
      const withLegs: PerUnit = { stages: new Map(parent.stages), gaps: new Map(parent.gaps) };
      const moved = addTransport(id, batch, withLegs);
      memo.set(id, moved ? withLegs : parent);
      return moved ? withLegs : parent;
    }
    const transformation = edges.length > 0 && lookups.transformation ? lookups.transformation(id) : null;
    const kind = transformation?.kind ?? edges[0]?.type?.toUpperCase() ?? null;

    const recorded_ = lookups.runsProducing(id);
    const hidden = lookups.mayRead ? recorded_.filter((run) => !lookups.mayRead!(run, id)) : [];
    const runs = hidden.length ? recorded_.filter((run) => !hidden.includes(run)) : recorded_;
    for (const owner of new Set(hidden.map((run) => run.orgId))) {
      result.gaps.set(
        ...gap({
          batchId: id,
          orgId: owner,
          reason: "not_shared",
          detail: `organisation ${owner} has not shared its production runs of lot ${batch.lot} (GTIN ${batch.gtin}) with the reader`,
        }),
      );
    }
    if (runs.length === 0 && hidden.length > 0) {
      // Nothing the reader may see: the gap above says why, no stage is shown.
    } else if (runs.length === 0 && lookups.remote?.(id)) {
      // Held by another member's node, which did not give its runs: say why (federation).
      const remote = lookups.remote(id)!;
      result.gaps.set(...gap({ batchId: id, orgId: remote.orgId, reason: remote.reason, detail: remote.detail }));
    } else if (runs.length === 0) {
      result.gaps.set(
        ...gap({
          batchId: id,
          orgId: batch.orgId,
          reason: "no_production_run",
          detail: `no production run records lot ${batch.lot} (GTIN ${batch.gtin}) among its outputs`,
        }),
      );
    } else if (!batch.basisQuantity) {
      result.gaps.set(
        ...gap({
          batchId: id,
          orgId: batch.orgId,
          reason: "no_quantity",
          detail: `the registered quantity of lot ${batch.lot} is unknown`,
        }),
      );
    } else {
      let own: Burden = { ...ZERO };
      let recorded = 0;
      for (const run of runs) {
        const line = run.outputs.find((o) => o.batchId === id)!;
        recorded += Number(line.quantity);
        if (!run.energyKwh) {
          result.gaps.set(
            ...gap({
              batchId: id,
              orgId: batch.orgId,
              reason: "no_energy_data",
              detail: `production run ${run.id} of lot ${batch.lot} reports no energy`,
            }),
          );
        }
        const outputs = run.outputs.map((o, i) => ({
          batchId: o.batchId ?? `material:${i}:${o.material ?? ""}`,
          gtin: o.batchId ? (batchOf(o.batchId)?.gtin ?? null) : null,
          quantity: Number(o.quantity),
          unit: o.unit,
        }));
        const allocation = allocate(outputs, kind, policy, units);
        const share = allocation.shares?.get(id) ?? null;
        if (share === null) {
          result.gaps.set(
            ...gap({
              batchId: id,
              orgId: batch.orgId,
              reason: "allocation_undetermined",
              detail: `run ${run.id}: rule "${allocation.rule}" cannot split it among its outputs: ${allocation.basis}`,
            }),
          );
          continue;
        }
        if (!allocationOf.has(id) && outputs.length > 1)
          allocationOf.set(id, { kind, rule: allocation.rule, share, basis: allocation.basis, origin: ruleOriginFor(policy, kind) });
        usedRuns.push(run);
        own = add(own, scale(runBurden(run, book), share));
      }
      runIdsOf.set(
        id,
        runs.map((r) => r.id),
      );
      if (hidden.length === 0 && recorded < batch.basisQuantity * (1 - 1e-9)) {
        result.gaps.set(
          ...gap({
            batchId: id,
            orgId: batch.orgId,
            reason: "partial_coverage",
            detail: `production runs record ${recorded} of the ${batch.basisQuantity} ${batch.unit} of lot ${batch.lot}`,
          }),
        );
      }
      result.stages.set(id, scale(own, 1 / batch.basisQuantity));
    }

    if (edges.length > 0 && !batch.basisQuantity) {
      result.gaps.set(
        ...gap({ batchId: id, orgId: batch.orgId, reason: "no_quantity", detail: `the registered quantity of lot ${batch.lot} is unknown` }),
      );
    } else if (edges.length > 0) {
      // Inputs and their attributed quantities: by the allocation rule over the whole
      // transformation when it has several outputs, else the edges (exact for one output).
      let inputs: { from: string; factor: number }[] | null;
      if (transformation && transformation.outputs.length > 1) {
        const allocation = allocate(transformation.outputs, transformation.kind, policy, units);
        const share = allocation.shares?.get(id) ?? null;
        allocationOf.set(id, {
          kind: transformation.kind,
          rule: allocation.rule,
          share,
          basis: allocation.basis,
          origin: ruleOriginFor(policy, transformation.kind),
        });
        if (share === null) {
          result.gaps.set(
            ...gap({
              batchId: id,
              orgId: batch.orgId,
              reason: "allocation_undetermined",
              detail: `${transformation.kind} made lot ${batch.lot} with ${transformation.outputs.length} co-products; rule "${allocation.rule}": ${allocation.basis}`,
            }),
          );
          inputs = null;
        } else {
          inputs = transformation.inputs.map((i) => ({ from: i.batchId, factor: (i.quantity * share) / batch.basisQuantity! }));
        }
      } else {
        if (!allocationOf.has(id))
          allocationOf.set(id, { kind, rule: ruleFor(policy, kind), share: 1, basis: "single output", origin: ruleOriginFor(policy, kind) });
        inputs = edges.map((e) => ({ from: e.from, factor: Number(e.quantity) / batch.basisQuantity! }));
      }
      for (const { from, factor } of inputs ?? []) {
        const input = perUnit(from, inner);
        for (const [stageId, s] of input.stages) result.stages.set(stageId, add(result.stages.get(stageId) ?? ZERO, scale(s, factor)));
        for (const [key, g] of input.gaps) result.gaps.set(key, g);
      }
    }
    addTransport(id, batch, result);
    memo.set(id, result);
    return result;
  }

  /**
   * The batch's transport stage (key `transport:<id>`): Σ over its legs of the leg's CO2e per unit
   * moved. A leg that cannot be computed, or that the reader may not see, is a gap. A leg of the lot
   * that nothing ties to a portion is a gap too, never a charge: put on the lot's first portion it
   * would land, per unit of what travelled, on portions that never did (transport.ts). True when the
   * batch has a transport stage or gap.
   */
  function addTransport(id: string, batch: FootprintBatch, into: PerUnit): boolean {
    const found = lookups.transportLegs?.(id);
    const remote = found?.gaps ?? [];
    const untied = found?.unattributed ?? [];
    if (!found || (found.legs.length === 0 && found.notShared.length === 0 && remote.length === 0 && untied.length === 0)) return false;
    // Keyed apart from the batch's production gaps (and per organisation or event): one does not hide another.
    const transportGap = (key: string, g: FootprintGap) => into.gaps.set(`${id}:transport:${g.reason}:${key}`, g);
    for (const owner of found.notShared) {
      transportGap(String(owner), {
        batchId: id,
        orgId: String(owner),
        reason: "not_shared",
        detail: `organisation ${owner} has not shared its EPCIS shipping events of lot ${batch.lot} (GTIN ${batch.gtin}) with the reader: their freight legs are unknown`,
      });
    }
    for (const g of remote) {
      transportGap(g.orgId, {
        batchId: id,
        orgId: g.orgId,
        reason: g.reason,
        detail: `${g.detail}: freight legs its EPCIS shipping events may declare for lot ${batch.lot} (GTIN ${batch.gtin}) are unknown`,
      });
    }
    for (const { leg, why } of untied) {
      const figure = leg.co2eKg !== null ? `its ${Number(leg.co2eKg.toPrecision(6))} kg CO2e` : `its freight (${leg.problem ?? "not computable"})`;
      transportGap(leg.recordId, {
        batchId: id,
        orgId: String(leg.orgId),
        reason: "transport_unattributed",
        detail:
          `EPCIS event ${leg.eventId} (${leg.bizStep}) declares a freight leg of lot ${batch.lot} (GTIN ${batch.gtin}) that nothing ties to a portion of it: ` +
          `${why}; which portions carry ${figure} is unknown, so none is charged with it`,
      });
    }
    let perUnitKg = 0;
    const used: TransportLegRecord[] = [];
    for (const leg of found.legs) {
      const moved = leg.quantity ?? batch.basisQuantity;
      if (leg.co2eKg === null || !moved) {
        const unit = leg.logisticUnit ? ` (logistic unit SSCC ${leg.logisticUnit.sscc})` : "";
        transportGap(leg.recordId, {
          batchId: id,
          orgId: String(leg.orgId),
          reason: "transport_undetermined",
          detail: `EPCIS event ${leg.eventId} (${leg.bizStep}) of lot ${batch.lot}${unit}: ${leg.problem ?? "the quantity moved is unknown"}`,
        });
        continue;
      }
      perUnitKg += leg.co2eKg / moved;
      used.push(leg);
    }
    if (used.length === 0) return true;
    transportOf.set(id, used);
    into.stages.set(`transport:${id}`, { ...ZERO, transport: perUnitKg });
    return true;
  }

  const root = batchOf(rootId);
  const result = perUnit(rootId, new Set());
  const total = [...result.stages.values()].reduce(add, { ...ZERO });
  const knownCo2e = co2eOfBurden(total);
  const knownEnergy = total.energyKwh;
  const basis = root?.basisQuantity ?? null;
  const complete = result.gaps.size === 0;
  const stages: FootprintStage[] = [...result.stages].map(([key, s]) => {
    const isTransport = key.startsWith("transport:");
    const stageId = isTransport ? key.slice("transport:".length) : key;
    const b = batchOf(stageId);
    const legs = isTransport ? (transportOf.get(stageId) ?? []) : null;
    const own = (isTransport ? memo.get(stageId)?.stages.get(key) : memo.get(stageId)?.stages.get(stageId)) ?? { ...ZERO };
    const co2e = co2eOfBurden(s);
    if (legs) {
      return {
        type: "transport" as const,
        batchId: stageId,
        gtin: b?.gtin ?? null,
        lot: b?.lot ?? null,
        orgId: legs[0] ? String(legs[0].orgId) : null,
        unit: b?.unit ?? null,
        runIds: [],
        origin: null,
        ownCo2ePerUnitKg: co2eOfBurden(own),
        co2eKg: basis === null ? null : co2e * basis,
        energyKwh: basis === null ? null : 0,
        share: knownCo2e > 0 ? co2e / knownCo2e : null,
        allocation: null,
        ownBySource: own,
        transport: legs,
      };
    }
    return {
      type: "production" as const,
      batchId: stageId,
      gtin: b?.gtin ?? null,
      lot: b?.lot ?? null,
      orgId: b?.orgId ?? null,
      unit: b?.unit ?? null,
      runIds: runIdsOf.get(stageId) ?? [],
      origin: lookups.originOf?.((runIdsOf.get(stageId) ?? [])[0] ?? "") ?? null,
      ownCo2ePerUnitKg: co2eOfBurden(own),
      co2eKg: basis === null ? null : co2e * basis,
      energyKwh: basis === null ? null : s.energyKwh * basis,
      share: knownCo2e > 0 ? co2e / knownCo2e : null,
      allocation: allocationOf.get(stageId) ?? null,
      ownBySource: own,
      transport: null,
    };
  });

  // The root lot's own stage by scope; every other stage is upstream (Scope 3) for its holder.
  const rootLot = root ? (lookups.upstream(rootId).find((e) => e.type === "split") ? root.lotId : rootId) : rootId;
  const ownStage = result.stages.get(rootLot) ?? { ...ZERO };
  const upstream = co2eOfBurden(total) - co2eOfBurden(ownStage);
  const scopesPerUnitKg: FootprintScopes = {
    scope1: ownStage.energyScope1 + ownStage.directGases,
    scope2LocationBased: ownStage.energyScope2Location,
    scope2MarketBased: ownStage.energyScope2Market,
    scope3Upstream: ownStage.energyScope3 + ownStage.purchasedInputs + ownStage.transport + upstream,
  };

  const recordedSources = new Set<string>();
  if (transportOf.size > 0) recordedSources.add("transport");
  for (const run of usedRuns) {
    if (run.energyKwh) recordedSources.add("energy");
    if (run.directEmissionsKg && Object.keys(run.directEmissionsKg).length) recordedSources.add("direct_gases");
    if (run.inputs?.some((l) => l.footprint)) recordedSources.add("purchased_inputs");
    if (run.transportLegs?.length) recordedSources.add("transport");
  }
  const gwpSets = new Set(usedRuns.filter((r) => r.directEmissionsKg).map((r) => r.gwpSet ?? DEFAULT_GWP_SET));
  const vintages: Partial<Record<EnergySource, FactorVintage[]>> = {};
  for (const run of usedRuns) {
    for (const source of ENERGY_SOURCES) {
      if (!run.energyKwh?.[source]) continue;
      const v = vintageFor(book, source, run.site, new Date(run.startTime).getUTCFullYear());
      const list = (vintages[source] ??= []);
      if (!list.some((x) => x.year === v.year && x.source === v.source && x.value === v.value)) list.push(v);
    }
  }
  // In one order whatever the lineage's order: energy, direct gases, purchased inputs, transport.
  const sourceOrder = ["energy", "direct_gases", "purchased_inputs", "transport"];
  const recordedList = [...recordedSources].sort((a, b) => sourceOrder.indexOf(a) - sourceOrder.indexOf(b));
  const onlyEnergy = recordedList.every((s) => s === "energy");
  return {
    batchId: rootId,
    unit: root?.unit ?? null,
    basisQuantity: basis,
    co2ePerUnitKg: complete ? knownCo2e : null,
    energyPerUnitKwh: complete ? knownEnergy : null,
    co2eKg: complete && basis !== null ? knownCo2e * basis : null,
    energyKwh: complete && basis !== null ? knownEnergy * basis : null,
    complete,
    knownCo2ePerUnitKg: knownCo2e,
    knownEnergyPerUnitKwh: knownEnergy,
    stages,
    gaps: [...result.gaps.values()],
    boundary: {
      label: onlyEnergy
        ? "energy-related CO2e of the recorded production stages (cradle-to-gate over recorded stages; no farm emissions, transport or purchased inputs recorded)"
        : `cradle-to-gate over the recorded stages: ${recordedList.join(", ").replace(/_/g, " ")}`,
      stages:
        "every lot in the batch's upstream lineage up to the root lot's factory gate whose production runs are recorded and readable" +
        (transportOf.size > 0
          ? ", and the freight legs (EPCIS shipping events, of the lots or of the logistic units they were packed in) that moved these batches, the root batch's own included"
          : ""),
      includes: [
        "energy of production runs by source: fuels burnt on site (Scope 1), grid electricity (Scope 2, location- and market-based), on-site renewables' life cycle",
        "direct emissions by gas recorded on a run (enteric and manure CH4, N2O, fossil CO2, refrigerant leaks), GWP100",
        "purchased untracked inputs with their own footprints (a supplier's PACT footprint or a database value)",
        "freight legs recorded on a run (tonne-km × mode factor)",
        "freight legs between custody hand-overs from EPCIS shipping events (lotline:transportMode, lotline:distanceKm; tonne-km × the mode's or the carrier's factor, ISO 14083), carried by the batch moved",
        "freight legs of logistic units (SSCC shipments), split among the batches packed in the unit by their mass share",
        "EPCIS events held on other members' nodes, replicated here with their proofs checked against the owner's anchor (each leg names its origin)",
      ],
      recorded: recordedList,
      excludes: [
        "any emission source no run records (it is not estimated)",
        "downstream of the gate: distribution beyond the freight legs recorded for the batch (the root batch's own shipments are in when their events declare a leg), use, end of life",
        "capital goods other than on-site renewables, business travel, employee commuting",
        "biogenic carbon removals and land-use change",
      ],
      gwpSet: gwpSets.size === 0 ? `${DEFAULT_GWP_SET} (${GWP_SOURCES[DEFAULT_GWP_SET]})` : [...gwpSets].map((s: GwpSet) => `${s} (${GWP_SOURCES[s]})`).join("; "),
      scope2:
        "totals use location-based Scope 2 (grid-average factor); market-based is reported apart, from the site's contract factor or the grid average when none is given (GHG Protocol Scope 2 Guidance)",
    },
    scopesPerUnitKg,
    bySourcePerUnit: total,
    allocationPolicy: {
      source: policy.source,
      defaultRule: policy.defaultRule,
      kinds: { ...policy.kinds },
      origins: Object.fromEntries(Object.keys(policy.kinds).map((k) => [k, ruleOriginFor(policy, k)])),
    },
    factorVintages: vintages,
  };
}
