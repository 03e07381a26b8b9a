import { canonicalize } from "json-canonicalize";
import type { Db } from "../store/db";
import { prepared } from "../store/statements";
import { queueForAnchoring, proofOf, type AnchorProof } from "../anchoring/outbox";
import { hasValidCheckDigit } from "../gs1/keys";
import { formatQuantity, parseQuantity, QuantityError } from "../provenance/quantity";
import { createProvenanceStore } from "../store/provenance";
import { ENERGY_SOURCES, isEnergySource, type EnergySource } from "./factors";
import { documentHash, isRunId, recordHash, RUN_ANCHOR_KIND, runRecordId, withId, type MaterialLine, type ProductionRunRecord } from "./record";
import { DEFAULT_UNITS, type UnitInfo, type UnitTable } from "./units";
import { GASES, isGas, TRANSPORT_MODES, type Gas, type GwpSet, type TransportLeg, type TransportMode } from "./emissions";
import { supplierFootprint } from "./pact-store";
import type { FootprintBatch, FootprintLookups, TransformationFacts } from "./footprint";
import type { AllocationOutput } from "./allocation";
import type { CustodyEvent, OrderDeliveryFacts } from "./kpi";

/**
 * The production-run store: validation against the index, storage with its anchoring queue entry
 * in ONE transaction (services/provenance/products.ts does the same for master data), and the
 * reads the analytics need. The API and the demo both write through recordProductionRun.
 */

/** A refusal with an HTTP status, a machine-readable code and, for 400, the failing fields. */
export class ProductionRunError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    readonly errors?: { path: string; message: string }[],
  ) {
    super(detail);
  }
}

export interface MaterialInput {
  batchId?: string;
  material?: string;
  quantity: string;
  unit?: string;
  /** A purchased untracked input's footprint per unit: given, or from a stored supplier PACT footprint (`pactId`). */
  footprint?: { co2ePerUnitKg?: number; source?: string; pactId?: string };
}

/** What a client submits (POST /api/v1/production-runs); see ProductionRunRecord for units. */
export interface ProductionRunInput {
  site: string;
  line: string;
  startTime: string;
  endTime: string;
  plannedTimeSeconds: number;
  runTimeSeconds: number;
  idealCycleTimeSeconds: number;
  totalCount: number;
  goodCount: number;
  countUnit?: string;
  inputs?: MaterialInput[];
  outputs?: MaterialInput[];
  energyKwh?: Record<string, number>;
  waterM3?: number;
  scrapKg?: number;
  directEmissionsKg?: Record<string, number>;
  gwpSet?: string;
  transportLegs?: { mode: string; distanceKm: number; tonnes: number; batchId?: string; kgCo2ePerTonneKm?: number }[];
  processParameters?: Record<string, number>;
  corrects?: string;
  notes?: string;
}

export interface SubmitContext {
  orgId: number | string;
  /** The agent's wallet address. */
  submittedBy: string;
  /** When the record is stored (default: now); the demo fixes it so its records are deterministic. */
  recordedAt?: string;
  /** Epoch ms (default Date.now): runs may not end in the future. */
  now?: number;
}

export interface StoredRun {
  seq: number;
  record: ProductionRunRecord;
  /** The stored document exactly as kept (canonical JSON), for verification. */
  document: string;
  supersededBy: string | null;
}

/** Plausible bounds of process parameters by name; keys ending in K are absolute temperatures. */
const PARAMETER_BOUNDS: Record<string, [number, number]> = {
  rotationalSpeedRpm: [0, 1_000_000],
  torqueNm: [-1_000_000, 1_000_000],
  toolWearMin: [0, 10_000_000],
};
const PARAMETER_NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
const FUTURE_SLACK_MS = 5 * 60_000;
/** The earliest start a run may have (catches epoch-zero and two-digit-year mistakes). */
const TIME_FLOOR = Date.UTC(2000, 0, 1);

interface RunRow {
  seq: number;
  run_id: string;
  org_id: number;
  record: string;
  superseded_by: string | null;
}

const parseRecord = (row: Pick<RunRow, "record">) => JSON.parse(row.record) as ProductionRunRecord;

function unitTableOf(db: Db): UnitTable {
  const rows = prepared(db, `SELECT unit, dimension, to_base FROM units_of_measure`).all() as {
    unit: string;
    dimension: number;
    to_base: string;
  }[];
  if (rows.length === 0) return DEFAULT_UNITS;
  return new Map<string, UnitInfo>(rows.map((r) => [r.unit, { dimension: r.dimension, toBase: Number(r.to_base) }]));
}

/** A batch's quantity at its origin: a lot's registered quantity, a portion's split quantity (raw). */
function originalQuantity(db: Db, batchId: string): bigint | null {
  const registered = prepared(db, `SELECT details FROM batch_events WHERE batch_id = ? AND type = 'registered' LIMIT 1`).get(
    batchId,
  ) as { details: string } | undefined;
  if (registered) return BigInt((JSON.parse(registered.details) as { quantity: string }).quantity);
  const split = prepared(db, `SELECT quantity FROM lineage_edges WHERE to_batch = ? AND kind = 'SPLIT' LIMIT 1`).get(batchId) as
    { quantity: string } | undefined;
  return split ? BigInt(split.quantity) : null;
}

function timeOf(text: string): number | null {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/.test(text)) return null;
  const ms = Date.parse(text);
  return Number.isFinite(ms) ? ms : null;
}

/**
 * Validates a submission against the index and stores it, queued for anchoring, in one
 * transaction. Throws ProductionRunError: 400 with every failing field, 403 when a site, batch or
 * corrected record belongs to another organisation, 409 when the line already ran then or the
 * corrected record was already corrected. Submitting the same document twice returns the first.
 */
export function recordProductionRun(
  db: Db,
  input: ProductionRunInput,
  ctx: SubmitContext,
): { record: ProductionRunRecord; created: boolean } {
  return db.transaction(() => {
    const orgId = String(ctx.orgId);
    const now = ctx.now ?? Date.now();
    const units = unitTableOf(db);
    const provenance = createProvenanceStore(db);
    const errors: { path: string; message: string }[] = [];
    const forbidden: string[] = [];
    const fail = (path: string, message: string) => errors.push({ path: `body/${path}`, message });
    const finite = (path: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER, exclusiveMin = false) => {
      if (typeof value !== "number" || !Number.isFinite(value)) return fail(path, "must be a number");
      if (exclusiveMin ? value <= min : value < min)
        return fail(path, exclusiveMin ? `must be more than ${min}` : `must be at least ${min}`);
      if (value > max) fail(path, `must be at most ${max}`);
    };

    // Site: a GLN of this organisation.
    if (typeof input.site !== "string" || !/^[0-9]{13}$/.test(input.site) || !hasValidCheckDigit(input.site)) {
      fail("site", "must be a GLN (13 digits with a valid check digit)");
    } else {
      const location = prepared(db, `SELECT org_id FROM locations WHERE gln = ?`).get(input.site) as
        { org_id: number } | undefined;
      if (!location) fail("site", `no location ${input.site} is registered on the chain`);
      else if (String(location.org_id) !== orgId)
        forbidden.push(`site ${input.site} is a location of organisation ${location.org_id}, not ${orgId}`);
    }
    const line = typeof input.line === "string" ? input.line.trim() : "";
    if (line.length === 0 || line.length > 100) fail("line", "must be a line name of 1 to 100 characters");

    // Times and durations.
    const start = typeof input.startTime === "string" ? timeOf(input.startTime) : null;
    const end = typeof input.endTime === "string" ? timeOf(input.endTime) : null;
    if (start === null) fail("startTime", "must be an ISO 8601 date-time with a time zone (2025-03-01T06:00:00Z)");
    else if (start < TIME_FLOOR) fail("startTime", "must be in the year 2000 or later");
    if (end === null) fail("endTime", "must be an ISO 8601 date-time with a time zone (2025-03-01T14:00:00Z)");
    else if (end > now + FUTURE_SLACK_MS) fail("endTime", "is in the future: record a run once it has ended");
    if (start !== null && end !== null && end <= start) fail("endTime", "must be after startTime");
    finite("plannedTimeSeconds", input.plannedTimeSeconds, 0, 366 * 86_400, true);
    finite("runTimeSeconds", input.runTimeSeconds, 0, 366 * 86_400);
    finite("idealCycleTimeSeconds", input.idealCycleTimeSeconds, 0, 86_400 * 30, true);
    finite("totalCount", input.totalCount, 0, 1e12);
    finite("goodCount", input.goodCount, 0, 1e12);
    const numbersOk = errors.length === 0;
    if (numbersOk && start !== null && end !== null && input.plannedTimeSeconds > (end - start) / 1000 + 1) {
      fail(
        "plannedTimeSeconds",
        `must fit the run's window: ${input.plannedTimeSeconds} s is more than endTime − startTime (${(end - start) / 1000} s)`,
      );
    }
    if (
      typeof input.runTimeSeconds === "number" &&
      typeof input.plannedTimeSeconds === "number" &&
      input.runTimeSeconds > input.plannedTimeSeconds
    ) {
      fail(
        "runTimeSeconds",
        `must not exceed plannedTimeSeconds (${input.plannedTimeSeconds} s): run time is the part of the planned time the line ran`,
      );
    }
    if (typeof input.goodCount === "number" && typeof input.totalCount === "number" && input.goodCount > input.totalCount) {
      fail("goodCount", `must not exceed totalCount (${input.totalCount})`);
    }
    if (
      typeof input.idealCycleTimeSeconds === "number" &&
      typeof input.totalCount === "number" &&
      typeof input.runTimeSeconds === "number" &&
      input.idealCycleTimeSeconds * input.totalCount > input.runTimeSeconds * (1 + 1e-9) + 1e-9
    ) {
      fail(
        "idealCycleTimeSeconds",
        `× totalCount is ${input.idealCycleTimeSeconds * input.totalCount} s, more than runTimeSeconds (${input.runTimeSeconds} s): ` +
          "no line runs faster than its ideal cycle (performance would exceed 100 %)",
      );
    }
    const countUnit = input.countUnit ?? "H87";
    if (!units.has(countUnit))
      fail("countUnit", `unknown unit "${countUnit}" (UN/CEFACT Rec 20: ${[...units.keys()].join(", ")})`);

    // Energy, water, scrap.
    let energyKwh: Partial<Record<EnergySource, number>> | undefined;
    if (input.energyKwh !== undefined) {
      if (typeof input.energyKwh !== "object" || input.energyKwh === null || Array.isArray(input.energyKwh))
        fail("energyKwh", "must be an object of source → kWh");
      else {
        energyKwh = {};
        for (const [source, kwh] of Object.entries(input.energyKwh)) {
          if (!isEnergySource(source)) fail(`energyKwh/${source}`, `unknown energy source; use ${ENERGY_SOURCES.join(", ")}`);
          else {
            finite(`energyKwh/${source}`, kwh, 0, 1e9);
            energyKwh[source] = kwh;
          }
        }
      }
    }
    if (input.waterM3 !== undefined) finite("waterM3", input.waterM3, 0, 1e9);
    if (input.scrapKg !== undefined) finite("scrapKg", input.scrapKg, 0, 1e9);

    // Direct emissions by gas, and the GWP set that converts them.
    let directEmissionsKg: Partial<Record<Gas, number>> | undefined;
    if (input.directEmissionsKg !== undefined) {
      if (typeof input.directEmissionsKg !== "object" || input.directEmissionsKg === null || Array.isArray(input.directEmissionsKg))
        fail("directEmissionsKg", "must be an object of gas → kg of the gas");
      else {
        directEmissionsKg = {};
        for (const [gas, kg] of Object.entries(input.directEmissionsKg)) {
          if (!isGas(gas)) fail(`directEmissionsKg/${gas}`, `unknown gas; use ${GASES.join(", ")}`);
          else {
            finite(`directEmissionsKg/${gas}`, kg, 0, 1e9);
            directEmissionsKg[gas] = kg;
          }
        }
      }
    }
    if (input.gwpSet !== undefined && input.gwpSet !== "AR6" && input.gwpSet !== "AR5") fail("gwpSet", "must be AR6 or AR5");
    let transportLegs: TransportLeg[] | undefined;
    if (input.transportLegs !== undefined) {
      if (!Array.isArray(input.transportLegs) || input.transportLegs.length > 100) fail("transportLegs", "must be an array of at most 100 legs");
      else {
        transportLegs = [];
        input.transportLegs.forEach((leg, i) => {
          const path = `transportLegs/${i}`;
          if (!(TRANSPORT_MODES as readonly string[]).includes(leg?.mode)) return fail(`${path}/mode`, `must be one of ${TRANSPORT_MODES.join(", ")}`);
          finite(`${path}/distanceKm`, leg.distanceKm, 0, 50_000);
          finite(`${path}/tonnes`, leg.tonnes, 0, 1e6);
          if (leg.kgCo2ePerTonneKm !== undefined) finite(`${path}/kgCo2ePerTonneKm`, leg.kgCo2ePerTonneKm, 0, 10);
          if (leg.batchId !== undefined && !/^0x[0-9a-f]{64}$/.test(String(leg.batchId).toLowerCase()))
            return fail(`${path}/batchId`, "must be a batch id (0x + 64 hex digits)");
          transportLegs!.push({
            mode: leg.mode as TransportMode,
            distanceKm: leg.distanceKm,
            tonnes: leg.tonnes,
            ...(leg.batchId !== undefined ? { batchId: String(leg.batchId).toLowerCase() } : {}),
            ...(leg.kgCo2ePerTonneKm !== undefined ? { kgCo2ePerTonneKm: leg.kgCo2ePerTonneKm } : {}),
          });
        });
      }
    }

    // Process parameters: a numeric map with plausible ranges.
    const processParameters: Record<string, number> = {};
    const params = input.processParameters ?? {};
    if (typeof params !== "object" || params === null || Array.isArray(params))
      fail("processParameters", "must be an object of name → number");
    else {
      const entries = Object.entries(params);
      if (entries.length > 50) fail("processParameters", "must have at most 50 parameters");
      for (const [name, value] of entries) {
        const path = `processParameters/${name}`;
        if (!PARAMETER_NAME.test(name)) {
          fail(path, "parameter names are letters, digits and _ (up to 64), starting with a letter");
          continue;
        }
        if (typeof value !== "number" || !Number.isFinite(value)) {
          fail(path, "must be a number");
          continue;
        }
        const bounds = PARAMETER_BOUNDS[name];
        if (/K$/.test(name) && (value < 60 || value > 5000)) {
          const celsius =
            value > -274 && value < 60 ? `; ${value} looks like °C — send ${value} °C as ${(value + 273.15).toFixed(2)} K` : "";
          fail(path, `is an absolute temperature in kelvin, between 60 and 5000 K${celsius}`);
        } else if (bounds && (value < bounds[0] || value > bounds[1]))
          fail(path, `must be between ${bounds[0]} and ${bounds[1]}`);
        else processParameters[name] = value;
      }
    }
    if (input.notes !== undefined && (typeof input.notes !== "string" || input.notes.length > 2000))
      fail("notes", "must be text of at most 2000 characters");

    // Material: batches of the index (which must belong to the organisation) or untracked lines.
    // Output lots are checked against the runs already stored once the record is known (below).
    const inputFootprint = (
      role: "inputs" | "outputs",
      path: string,
      given: NonNullable<MaterialInput["footprint"]>,
      unit: string | undefined,
    ): MaterialLine["footprint"] | undefined => {
      if (role !== "inputs") return void fail(`${path}/footprint`, "applies to purchased inputs only");
      if (typeof given !== "object" || given === null) return void fail(`${path}/footprint`, "must be an object");
      if (given.pactId !== undefined) {
        const stored = supplierFootprint(db, String(given.pactId), orgId);
        if (!stored) return void fail(`${path}/footprint/pactId`, `no supplier PACT footprint ${given.pactId} was imported by your organisation`);
        if (unit !== undefined && stored.unit !== unit)
          return void fail(`${path}/unit`, `PACT footprint ${given.pactId} is per ${stored.unit}; give the quantity in ${stored.unit}`);
        return { co2ePerUnitKg: stored.co2ePerUnitKg, source: `supplier PACT footprint ${stored.pactId} (${stored.companyName})`, pactId: stored.pactId };
      }
      finite(`${path}/footprint/co2ePerUnitKg`, given.co2ePerUnitKg, 0, 1e6);
      if (typeof given.source !== "string" || given.source.trim().length === 0 || given.source.length > 300)
        return void fail(`${path}/footprint/source`, "must name where the figure comes from (1 to 300 characters)");
      if (typeof given.co2ePerUnitKg !== "number") return undefined;
      return { co2ePerUnitKg: given.co2ePerUnitKg, source: given.source.trim() };
    };
    const lotChecks: { path: string; batchId: string; lot: string; unit: string; raw: bigint }[] = [];
    const materials = (role: "inputs" | "outputs"): MaterialLine[] => {
      const lines = input[role] ?? [];
      if (!Array.isArray(lines)) {
        fail(role, "must be an array");
        return [];
      }
      if (lines.length > 100) fail(role, "must have at most 100 lines");
      const seen = new Set<string>();
      const out: MaterialLine[] = [];
      lines.forEach((item, i) => {
        const path = `${role}/${i}`;
        let raw: bigint | null = null;
        try {
          raw = parseQuantity(String(item.quantity ?? ""));
        } catch (err) {
          fail(`${path}/quantity`, err instanceof QuantityError ? err.message : "must be a decimal string");
        }
        if (item.unit !== undefined && !units.has(item.unit)) fail(`${path}/unit`, `unknown unit "${item.unit}"`);
        if ((item.batchId === undefined) === (item.material === undefined)) {
          fail(path, "give either batchId (a batch of the index) or material (untracked: a name with quantity and unit)");
          return;
        }
        if (item.material !== undefined) {
          if (typeof item.material !== "string" || item.material.trim().length === 0 || item.material.length > 200)
            fail(`${path}/material`, "must be a name of 1 to 200 characters");
          if (item.unit === undefined) fail(`${path}/unit`, "is required for untracked material");
          const footprint = item.footprint === undefined ? undefined : inputFootprint(role, path, item.footprint, item.unit);
          if (raw !== null && item.unit !== undefined)
            out.push({ material: item.material.trim(), quantity: formatQuantity(raw), unit: item.unit, ...(footprint ? { footprint } : {}) });
          return;
        }
        if (item.footprint !== undefined)
          fail(`${path}/footprint`, "applies to untracked material only: a tracked batch's footprint comes from its lineage");
        const batchId = String(item.batchId).toLowerCase();
        if (!/^0x[0-9a-f]{64}$/.test(batchId)) return fail(`${path}/batchId`, "must be a batch id (0x + 64 hex digits)");
        if (seen.has(batchId)) return fail(`${path}/batchId`, `batch ${batchId} is listed twice`);
        seen.add(batchId);
        const batch = provenance.getBatch(batchId);
        if (!batch) return fail(`${path}/batchId`, `no batch ${batchId} is in the index`);
        if (item.unit !== undefined && item.unit !== batch.unit)
          fail(`${path}/unit`, `batch ${batchId} is measured in ${batch.unit}, not ${item.unit}`);
        if (role === "inputs") {
          if (batch.ownerOrgId !== orgId && batch.custodianOrgId !== orgId) {
            forbidden.push(`input ${batchId} (lot ${batch.lot}) is held by organisation ${batch.ownerOrgId}, not ${orgId}`);
          }
        } else {
          if (batch.batchId !== batch.lotId) {
            fail(
              `${path}/batchId`,
              `batch ${batchId} is a portion of lot ${batch.lot}: a run produces lots, so give the lot ${batch.lotId}`,
            );
          } else if (batch.producerOrgId !== orgId) {
            forbidden.push(
              `output ${batchId} (lot ${batch.lot}) was registered by organisation ${batch.producerOrgId}, not ${orgId}`,
            );
          } else if (raw !== null) {
            lotChecks.push({ path: `${path}/quantity`, batchId, lot: batch.lot, unit: batch.unit, raw });
          }
        }
        if (raw !== null) out.push({ batchId, quantity: formatQuantity(raw), unit: batch.unit });
      });
      return out;
    };
    const inputs = materials("inputs");
    const outputs = materials("outputs");

    // Corrections.
    let corrected: RunRow | undefined;
    if (input.corrects !== undefined) {
      if (typeof input.corrects !== "string" || !isRunId(input.corrects))
        fail("corrects", "must be a production run id (pr_ + 24 hex digits)");
      else {
        corrected = prepared(db, `SELECT * FROM production_runs WHERE run_id = ?`).get(input.corrects) as RunRow | undefined;
        if (!corrected) fail("corrects", `no production run ${input.corrects}`);
        else if (String(corrected.org_id) !== orgId)
          forbidden.push(`production run ${input.corrects} belongs to organisation ${corrected.org_id}`);
      }
    }

    if (errors.length > 0)
      throw new ProductionRunError(400, "invalid_request", errors.map((e) => `${e.path} ${e.message}`).join("; "), errors);
    if (forbidden.length > 0) throw new ProductionRunError(403, "foreign_resource", forbidden.join("; "));

    const body: Omit<ProductionRunRecord, "id"> = {
      orgId,
      site: input.site,
      line,
      startTime: new Date(start!).toISOString(),
      endTime: new Date(end!).toISOString(),
      plannedTimeSeconds: input.plannedTimeSeconds,
      runTimeSeconds: input.runTimeSeconds,
      idealCycleTimeSeconds: input.idealCycleTimeSeconds,
      totalCount: input.totalCount,
      goodCount: input.goodCount,
      countUnit,
      inputs,
      outputs,
      ...(energyKwh ? { energyKwh } : {}),
      ...(input.waterM3 !== undefined ? { waterM3: input.waterM3 } : {}),
      ...(input.scrapKg !== undefined ? { scrapKg: input.scrapKg } : {}),
      ...(directEmissionsKg ? { directEmissionsKg } : {}),
      ...(input.gwpSet !== undefined ? { gwpSet: input.gwpSet as GwpSet } : {}),
      ...(transportLegs ? { transportLegs } : {}),
      processParameters,
      ...(input.corrects !== undefined ? { corrects: input.corrects } : {}),
      ...(input.notes !== undefined ? { notes: input.notes } : {}),
      submittedBy: ctx.submittedBy,
      recordedAt: ctx.recordedAt ?? new Date(now).toISOString(),
    };
    const record = withId(body);
    const existing = prepared(db, `SELECT record FROM production_runs WHERE run_id = ?`).get(record.id) as
      { record: string } | undefined;
    if (existing) return { record: JSON.parse(existing.record) as ProductionRunRecord, created: false };

    // Checks against the runs already stored (a correction replaces the record it corrects).
    if (corrected?.superseded_by) {
      throw new ProductionRunError(
        409,
        "already_superseded",
        `production run ${corrected.run_id} was already corrected by ${corrected.superseded_by}; correct that one`,
      );
    }
    const overlap = prepared(
      db,
      `SELECT run_id FROM production_runs WHERE site = ? AND line = ? AND superseded_by IS NULL AND start_ms < ? AND end_ms > ? AND run_id <> ? LIMIT 1`,
    ).get(input.site, line, end!, start!, input.corrects ?? "") as { run_id: string } | undefined;
    if (overlap) {
      throw new ProductionRunError(
        409,
        "run_overlap",
        `line ${line} at ${input.site} already has run ${overlap.run_id} overlapping this time; correct that record instead`,
      );
    }
    const overRecorded: { path: string; message: string }[] = [];
    for (const check of lotChecks) {
      const registered = originalQuantity(db, check.batchId);
      const recorded = (
        prepared(
          db,
          `SELECT b.quantity FROM production_run_batches b JOIN production_runs r ON r.run_id = b.run_id
           WHERE b.batch_id = ? AND b.role = 'output' AND r.superseded_by IS NULL AND r.run_id <> ?`,
        ).all(check.batchId, input.corrects ?? "") as { quantity: string }[]
      ).reduce((sum, r) => sum + BigInt(r.quantity), 0n);
      if (registered !== null && recorded + check.raw > registered) {
        const left = registered - recorded > 0n ? registered - recorded : 0n;
        overRecorded.push({
          path: `body/${check.path}`,
          message:
            `lot ${check.lot} was registered with ${formatQuantity(registered)} ${check.unit}; other runs already record ${formatQuantity(recorded)}, ` +
            `so this run can produce at most ${formatQuantity(left)}`,
        });
      }
    }
    if (overRecorded.length > 0)
      throw new ProductionRunError(
        400,
        "invalid_request",
        overRecorded.map((e) => `${e.path} ${e.message}`).join("; "),
        overRecorded,
      );

    const document = canonicalize(record);
    const hash = documentHash(document);
    prepared(
      db,
      `INSERT INTO production_runs (run_id, org_id, site, line, start_ms, end_ms, record, record_hash, corrects, superseded_by, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?)`,
    ).run(
      record.id,
      Number(orgId),
      record.site,
      record.line,
      start!,
      end!,
      document,
      hash,
      record.corrects ?? null,
      new Date().toISOString(),
    );
    const link = prepared(db, `INSERT INTO production_run_batches (run_id, role, batch_id, quantity) VALUES (?, ?, ?, ?)`);
    for (const m of inputs) if (m.batchId) link.run(record.id, "input", m.batchId, parseQuantity(m.quantity).toString());
    for (const m of outputs) if (m.batchId) link.run(record.id, "output", m.batchId, parseQuantity(m.quantity).toString());
    if (corrected) {
      const marked = prepared(db, `UPDATE production_runs SET superseded_by = ? WHERE run_id = ? AND superseded_by IS NULL`).run(
        record.id,
        corrected.run_id,
      );
      if (marked.changes !== 1)
        throw new ProductionRunError(409, "already_superseded", `production run ${corrected.run_id} was already corrected`);
    }
    queueForAnchoring(db, { recordId: runRecordId(record.id), kind: RUN_ANCHOR_KIND, hash, ownerOrg: Number(record.orgId) });
    return { record, created: true };
  })();
}

export interface RunFilters {
  orgId?: number;
  site?: string;
  line?: string;
  /** Epoch ms; a run is in [from, to) by its start time. */
  from?: number;
  to?: number;
  includeSuperseded?: boolean;
  /** Runs that consumed or produced this batch. */
  batchId?: string;
}

export interface RunProof extends AnchorProof {
  /** keccak256 of the stored record, recomputed now. */
  recordHash: string;
}

export function createAnalyticsStore(db: Db) {
  const provenance = createProvenanceStore(db);

  function where(filters: RunFilters): { clause: string; params: unknown[] } {
    const parts: string[] = [];
    const params: unknown[] = [];
    if (filters.orgId !== undefined) {
      parts.push("org_id = ?");
      params.push(filters.orgId);
    }
    if (filters.site !== undefined) {
      parts.push("site = ?");
      params.push(filters.site);
    }
    if (filters.line !== undefined) {
      parts.push("line = ?");
      params.push(filters.line);
    }
    if (filters.from !== undefined) {
      parts.push("start_ms >= ?");
      params.push(filters.from);
    }
    if (filters.to !== undefined) {
      parts.push("start_ms < ?");
      params.push(filters.to);
    }
    if (filters.batchId !== undefined) {
      parts.push("run_id IN (SELECT run_id FROM production_run_batches WHERE batch_id = ?)");
      params.push(filters.batchId.toLowerCase());
    }
    if (!filters.includeSuperseded) parts.push("superseded_by IS NULL");
    return { clause: parts.length > 0 ? parts.join(" AND ") : "1 = 1", params };
  }

  return {
    units: () => unitTableOf(db),

    getRun(id: string): StoredRun | null {
      const row = prepared(db, `SELECT seq, record, superseded_by FROM production_runs WHERE run_id = ?`).get(id) as
        Pick<RunRow, "seq" | "record" | "superseded_by"> | undefined;
      return row ? { seq: row.seq, record: parseRecord(row), document: row.record, supersededBy: row.superseded_by } : null;
    },

    /**
     * The record's anchoring proof, `verified` only when the stored record still hashes to the
     * anchored leaf and the leaf's Merkle proof reaches a root on the indexed chain.
     */
    proof(run: StoredRun): RunProof | null {
      const proof = proofOf(db, runRecordId(run.record.id));
      if (!proof) return null;
      let hash: string;
      try {
        hash = recordHash(JSON.parse(run.document) as object);
      } catch {
        hash = "0x";
      }
      return { ...proof, recordHash: hash, verified: proof.verified && hash === proof.leaf };
    },

    /** Runs ordered by start time (then insertion); the cursor is the last item's (start_ms, seq). */
    listRuns(filters: RunFilters, page: { limit: number; after: { startMs: number; seq: number } | null }) {
      const { clause, params } = where(filters);
      const after = page.after ? ` AND (start_ms > ? OR (start_ms = ? AND seq > ?))` : "";
      const afterParams = page.after ? [page.after.startMs, page.after.startMs, page.after.seq] : [];
      // Fixed fragments only; every value is a bound parameter.
      const rows = prepared(
        db,
        `SELECT seq, start_ms, record, superseded_by FROM production_runs WHERE ${clause}${after} ORDER BY start_ms, seq LIMIT ?`,
      ).all(...params, ...afterParams, page.limit + 1) as (Pick<RunRow, "seq" | "record" | "superseded_by"> & {
        start_ms: number;
      })[];
      const items = rows.slice(0, page.limit);
      const last = items.at(-1);
      return {
        items: items.map((r) => ({ seq: r.seq, record: parseRecord(r), document: r.record, supersededBy: r.superseded_by })),
        more: rows.length > page.limit,
        last: last ? { startMs: last.start_ms, seq: last.seq } : null,
      };
    },

    /** Current runs matching the filters, oldest first. */
    runs(filters: RunFilters): ProductionRunRecord[] {
      const { clause, params } = where({ ...filters, includeSuperseded: false });
      return (
        prepared(db, `SELECT record FROM production_runs WHERE ${clause} ORDER BY start_ms, seq`).all(...params) as {
          record: string;
        }[]
      ).map(parseRecord);
    },

    /** First start and last end of an organisation's current runs (epoch ms), or null. */
    timeRange(filters: Omit<RunFilters, "from" | "to">): { first: number; last: number } | null {
      const { clause, params } = where({ ...filters, includeSuperseded: false });
      const row = prepared(db, `SELECT MIN(start_ms) AS first, MAX(end_ms) AS last FROM production_runs WHERE ${clause}`).get(
        ...params,
      ) as {
        first: number | null;
        last: number | null;
      };
      return row.first === null || row.last === null ? null : { first: row.first, last: row.last };
    },

    orgExists(orgId: number): boolean {
      return prepared(db, `SELECT 1 FROM organisations WHERE org_id = ?`).get(orgId) !== undefined;
    },

    footprintLookups(): FootprintLookups {
      return {
        batch(id: string): FootprintBatch | null {
          const b = provenance.getBatch(id);
          if (!b) return null;
          const raw = originalQuantity(db, id);
          return {
            id: b.batchId,
            lotId: b.lotId,
            gtin: b.gtin,
            lot: b.lot,
            orgId: b.producerOrgId,
            unit: b.unit,
            basisQuantity: raw === null ? null : Number(formatQuantity(raw)),
          };
        },
        upstream: (id: string) => provenance.neighbours(id, "upstream"),
        transformation(lotId: string): TransformationFacts | null {
          // The transformation is the transaction that drew the lot's lineage edges: its other
          // outputs are the batches the same inputs went to in that transaction.
          const into = prepared(
            db,
            `SELECT from_batch, kind, tx_hash FROM lineage_edges WHERE to_batch = ? AND kind <> 'SPLIT' ORDER BY from_batch`,
          ).all(lotId) as { from_batch: string; kind: string; tx_hash: string }[];
          if (into.length === 0) return null;
          const inputs = new Set(into.map((e) => e.from_batch));
          const edges = (
            prepared(db, `SELECT from_batch, to_batch, quantity FROM lineage_edges WHERE tx_hash = ? AND kind = ? ORDER BY rowid`).all(
              into[0].tx_hash,
              into[0].kind,
            ) as { from_batch: string; to_batch: string; quantity: string }[]
          ).filter((e) => inputs.has(e.from_batch));
          // What the transformation consumed of each input (its QuantityConsumed event in the same
          // transaction); the edges' sum only where that is missing (the contract rounds each edge down).
          const consumed = new Map<string, bigint>();
          for (const e of edges) consumed.set(e.from_batch, (consumed.get(e.from_batch) ?? 0n) + BigInt(e.quantity));
          const event = prepared(db, `SELECT details FROM batch_events WHERE batch_id = ? AND type = 'consumed' AND tx_hash = ? LIMIT 1`);
          for (const input of consumed.keys()) {
            const row = event.get(input, into[0].tx_hash) as { details: string } | undefined;
            if (row) consumed.set(input, BigInt((JSON.parse(row.details) as { quantity: string }).quantity));
          }
          const outputs: AllocationOutput[] = [];
          for (const to of new Set(edges.map((e) => e.to_batch))) {
            const b = provenance.getBatch(to);
            const raw = originalQuantity(db, to);
            if (!b || raw === null) return null;
            outputs.push({ batchId: to, gtin: b.gtin, quantity: Number(formatQuantity(raw)), unit: b.unit });
          }
          return {
            kind: into[0].kind,
            outputs,
            inputs: [...consumed].map(([batchId, q]) => ({ batchId, quantity: Number(formatQuantity(q)) })),
          };
        },
        runsProducing(lotId: string): ProductionRunRecord[] {
          return (
            prepared(
              db,
              `SELECT r.record FROM production_run_batches b JOIN production_runs r ON r.run_id = b.run_id
               WHERE b.batch_id = ? AND b.role = 'output' AND r.superseded_by IS NULL ORDER BY r.start_ms, r.seq`,
            ).all(lotId) as { record: string }[]
          ).map(parseRecord);
        },
      };
    },

    /** A seller's orders whose delivery deadline falls in [from, to) (epoch ms), with deliveries. */
    sellerOrders(orgId: number, from: number, to: number): OrderDeliveryFacts[] {
      const orders = prepared(
        db,
        `SELECT order_id, status, quantity, delivery_deadline FROM orders WHERE seller_org = ? AND delivery_deadline * 1000 >= ? AND delivery_deadline * 1000 < ? ORDER BY order_id`,
      ).all(orgId, from, to) as { order_id: number; status: string; quantity: string; delivery_deadline: number }[];
      const deliveries = prepared(db, `SELECT quantity, time FROM order_deliveries WHERE order_id = ?`);
      return orders.map((o) => ({
        orderId: String(o.order_id),
        status: o.status,
        quantity: BigInt(o.quantity),
        deadline: o.delivery_deadline * 1000,
        deliveries: (deliveries.all(o.order_id) as { quantity: string; time: string }[]).map((d) => ({
          quantity: BigInt(d.quantity),
          at: Date.parse(d.time),
        })),
      }));
    },

    /** The custody-relevant timeline entries of every batch, in chain order. */
    custodyEvents(): CustodyEvent[] {
      return (
        prepared(
          db,
          `SELECT batch_id, type, details, time FROM batch_events
           WHERE type IN ('registered', 'split_from', 'handed_over', 'unit_handed_over', 'consumed', 'destroyed')
           ORDER BY block_number, log_index, CASE type WHEN 'split_from' THEN 0 ELSE 1 END`,
        ).all() as { batch_id: string; type: string; details: string; time: string }[]
      ).map((r) => ({
        batchId: r.batch_id,
        type: r.type,
        at: Date.parse(r.time),
        details: JSON.parse(r.details) as Record<string, unknown>,
      }));
    },
  };
}
export type AnalyticsStore = ReturnType<typeof createAnalyticsStore>;
