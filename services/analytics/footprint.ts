import { co2eOf, energyTotal } from "./kpi";
import type { EmissionFactors } from "./factors";
import type { ProductionRunRecord } from "./record";
import { DEFAULT_UNITS, toBase, type UnitTable } from "./units";
import type { LineageEdge } from "../provenance/trace";

/**
 * Cradle-to-gate footprint of a batch through its lineage (energy-related CO2e and energy of the
 * recorded production runs; not enteric methane, feed, packaging or transport, which no run
 * records). Per unit of a batch B (in B's unit):
 *
 *   portion (B split off P):  f(B) = f(P)                      — a portion inherits its lot's figure
 *   lot:                      f(B) = own(B) + Σ_inputs f(I) · q(I→B) / Q(B)
 *   own(B) = Σ_runs producing B  footprint(run) · share(run, B) / Q(B)
 *
 * q(I→B) is the lineage edge's quantity (the part of input I the contract attributes to B, in I's
 * unit) and Q(B) the lot's registered quantity, so the upstream shares follow the chain's own mass
 * balance. share(run, B) allocates a run's energy among its outputs by quantity when they share a
 * dimension (physical allocation, ISO 14044 §4.3.4.2), else equally.
 *
 * Unknown data is a gap, never a zero: a lot no run records, a run without energy data, runs that
 * record only part of a lot, a batch missing from the index. With any gap the per-unit figures are
 * null and `known…` gives the sum of the known stages (a lower bound).
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
}

/** Where a stage's records came from: the owner, the node that served them (null: this node), whether they verified. */
export interface StageOrigin {
  orgId: string;
  servedBy: string | null;
  verified: boolean;
}

export interface FootprintStage {
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
}

export type GapReason =
  | "no_production_run"
  | "no_energy_data"
  | "partial_coverage"
  | "unknown_batch"
  | "no_quantity"
  | "not_shared"
  | "unreachable"
  | "not_recorded";

export interface FootprintGap {
  batchId: string;
  orgId: string | null;
  reason: GapReason;
  detail: string;
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
}

interface PerUnit {
  /** Per unit of the batch, by stage batch id, in insertion (lineage) order. */
  stages: Map<string, { co2e: number; energy: number }>;
  gaps: Map<string, FootprintGap>;
}

/** A run's allocation share for one of its outputs. */
export function allocationShare(
  run: Pick<ProductionRunRecord, "outputs">,
  batchId: string,
  units: UnitTable = DEFAULT_UNITS,
): number {
  const outputs = run.outputs;
  const bases = outputs.map((o) => toBase(Number(o.quantity), o.unit, units));
  const index = outputs.findIndex((o) => o.batchId === batchId);
  if (index < 0) return 0;
  const dimensions = new Set(bases.map((b) => b?.dimension));
  if (bases.every((b) => b !== null) && dimensions.size === 1) {
    const total = bases.reduce((s, b) => s + b!.value, 0);
    return total > 0 ? bases[index]!.value / total : 1 / outputs.length;
  }
  return 1 / outputs.length;
}

export function batchFootprint(
  rootId: string,
  lookups: FootprintLookups,
  factors: EmissionFactors,
  units: UnitTable = DEFAULT_UNITS,
): Footprint {
  const memo = new Map<string, PerUnit>();
  const info = new Map<string, FootprintBatch | null>();
  const runIdsOf = new Map<string, string[]>();
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
      memo.set(id, parent);
      return parent;
    }

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
      let co2e = 0;
      let energy = 0;
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
          continue;
        }
        const share = allocationShare(run, id, units);
        co2e += co2eOf(run.energyKwh, factors)! * share;
        energy += energyTotal(run.energyKwh)! * share;
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
      result.stages.set(id, { co2e: co2e / batch.basisQuantity, energy: energy / batch.basisQuantity });
    }

    for (const edge of edges) {
      if (!batch.basisQuantity) {
        result.gaps.set(
          ...gap({
            batchId: id,
            orgId: batch.orgId,
            reason: "no_quantity",
            detail: `the registered quantity of lot ${batch.lot} is unknown`,
          }),
        );
        break;
      }
      const input = perUnit(edge.from, inner);
      const factor = Number(edge.quantity) / batch.basisQuantity;
      for (const [stageId, s] of input.stages) {
        const current = result.stages.get(stageId) ?? { co2e: 0, energy: 0 };
        result.stages.set(stageId, { co2e: current.co2e + s.co2e * factor, energy: current.energy + s.energy * factor });
      }
      for (const [key, g] of input.gaps) result.gaps.set(key, g);
    }
    memo.set(id, result);
    return result;
  }

  const root = batchOf(rootId);
  const result = perUnit(rootId, new Set());
  const knownCo2e = [...result.stages.values()].reduce((s, x) => s + x.co2e, 0);
  const knownEnergy = [...result.stages.values()].reduce((s, x) => s + x.energy, 0);
  const basis = root?.basisQuantity ?? null;
  const complete = result.gaps.size === 0;
  const stages: FootprintStage[] = [...result.stages].map(([stageId, s]) => {
    const b = batchOf(stageId);
    const own = memo.get(stageId)?.stages.get(stageId);
    return {
      batchId: stageId,
      gtin: b?.gtin ?? null,
      lot: b?.lot ?? null,
      orgId: b?.orgId ?? null,
      unit: b?.unit ?? null,
      runIds: runIdsOf.get(stageId) ?? [],
      origin: lookups.originOf?.((runIdsOf.get(stageId) ?? [])[0] ?? "") ?? null,
      ownCo2ePerUnitKg: own?.co2e ?? 0,
      co2eKg: basis === null ? null : s.co2e * basis,
      energyKwh: basis === null ? null : s.energy * basis,
      share: knownCo2e > 0 ? s.co2e / knownCo2e : null,
    };
  });
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
  };
}
