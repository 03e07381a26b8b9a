import { requireServed } from "../../config/served";
import { Type } from "@sinclair/typebox";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { FastifyRequest } from "fastify";
import { HttpProblem } from "../problem";
import { decodeCursor, encodeCursor } from "../cursor";
import { AnchoredBy, Address, Hex32, IdString, Iso, List } from "../schemas";
import type { Principal } from "../auth";
import type { RouteDeps } from "../app";
import { resolveBatchRef } from "../batch-ref";
import { createProvenanceStore } from "../../store/provenance";
import {
  createAnalyticsStore,
  ProductionRunError,
  recordProductionRun,
  type ProductionRunInput,
  type StoredRun,
} from "../../analytics/store";
import {
  DEFAULT_EMISSION_FACTORS,
  EMISSION_FACTOR_SOURCES,
  emissionFactorsFromEnv,
  ENERGY_SOURCES,
} from "../../analytics/factors";
import { aggregateRuns, custodySpells, dwellHours, onTimeDelivery, runMetrics } from "../../analytics/kpi";
import { batchFootprint } from "../../analytics/footprint";
import { productivity } from "../../analytics/productivity";
import { RUN_ID_PATTERN, runBatchIds, type ProductionRunRecord } from "../../analytics/record";
import { createSharingStore } from "../../store/sharing";
import { mayReadRecord, readerOf, requireMember, requireRecordAccess, visibilityOf, type Reader } from "../access";

/**
 * Production efficiency: production-run records (primary data, anchored), per-batch footprints
 * through the lineage, KPIs and productivity per organisation. Formulas: services/analytics/*.ts.
 */
const DAY_MS = 86_400_000;
/** Default KPI window and default productivity windows: 90 days. */
export const DEFAULT_WINDOW_DAYS = 90;

const Num = Type.Number();
const NullableNumber = Type.Union([Type.Number(), Type.Null()]);
const NullableString = Type.Union([Type.String(), Type.Null()]);
const Quantity = Type.String({ pattern: "^[0-9]+(\\.[0-9]{1,3})?$", description: "decimal string, at most 3 decimals" });
const UnitCode = Type.String({ pattern: "^[A-Z0-9]{2,3}$", description: "UN/CEFACT Rec 20 code (H87 pieces, LTR, KGM…)" });
const Gln = Type.String({ pattern: "^[0-9]{13}$", description: "GLN" });
const RunId = Type.String({ pattern: RUN_ID_PATTERN });
const EnergyMap = Type.Record(Type.String(), Num, { description: `kWh by source: ${ENERGY_SOURCES.join(", ")}` });
const ParameterMap = Type.Record(Type.String(), Num, {
  description:
    "numeric process parameters, e.g. airTemperatureK, processTemperatureK, rotationalSpeedRpm, torqueNm, toolWearMin (kelvin for names ending in K)",
});

const MaterialIn = Type.Object(
  {
    batchId: Type.Optional(Hex32),
    material: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: "untracked material (no batch id): its name" }),
    ),
    quantity: Quantity,
    unit: Type.Optional(UnitCode),
  },
  { additionalProperties: false },
);
const MaterialOut = Type.Object({
  batchId: Type.Optional(Hex32),
  material: Type.Optional(Type.String()),
  quantity: Quantity,
  unit: Type.String(),
});

const RunBody = Type.Object(
  {
    site: Gln,
    line: Type.String({ minLength: 1, maxLength: 100 }),
    startTime: Type.String({ maxLength: 40, description: "ISO 8601 with time zone" }),
    endTime: Type.String({ maxLength: 40, description: "ISO 8601 with time zone" }),
    plannedTimeSeconds: Type.Number({ exclusiveMinimum: 0 }),
    runTimeSeconds: Type.Number({ minimum: 0, description: "the part of the planned time the line ran" }),
    idealCycleTimeSeconds: Type.Number({ exclusiveMinimum: 0, description: "seconds per unit of countUnit at rated speed" }),
    totalCount: Type.Number({ minimum: 0 }),
    goodCount: Type.Number({ minimum: 0 }),
    countUnit: Type.Optional(UnitCode),
    inputs: Type.Optional(
      Type.Array(MaterialIn, {
        maxItems: 100,
        description: "consumed: batches of the index (held by your organisation) or untracked material",
      }),
    ),
    outputs: Type.Optional(
      Type.Array(MaterialIn, {
        maxItems: 100,
        description: "produced: lots your organisation registered, or untracked material",
      }),
    ),
    energyKwh: Type.Optional(EnergyMap),
    waterM3: Type.Optional(Type.Number({ minimum: 0 })),
    scrapKg: Type.Optional(Type.Number({ minimum: 0 })),
    processParameters: Type.Optional(ParameterMap),
    corrects: Type.Optional(RunId),
    notes: Type.Optional(Type.String({ maxLength: 2000 })),
  },
  { additionalProperties: false },
);

const Metrics = Type.Object({
  availability: NullableNumber,
  performance: NullableNumber,
  quality: NullableNumber,
  oee: NullableNumber,
  energyKwh: NullableNumber,
  co2eKg: NullableNumber,
  energyPerUnitKwh: NullableNumber,
  co2ePerUnitKg: NullableNumber,
  waterPerUnitM3: NullableNumber,
  scrapPerUnitKg: NullableNumber,
  defectPpm: NullableNumber,
  yield: NullableNumber,
});

const Run = Type.Object({
  id: RunId,
  orgId: Type.String(),
  site: Type.String(),
  line: Type.String(),
  startTime: Iso,
  endTime: Iso,
  plannedTimeSeconds: Num,
  runTimeSeconds: Num,
  idealCycleTimeSeconds: Num,
  totalCount: Num,
  goodCount: Num,
  countUnit: Type.String(),
  inputs: Type.Array(MaterialOut),
  outputs: Type.Array(MaterialOut),
  energyKwh: Type.Optional(EnergyMap),
  waterM3: Type.Optional(Num),
  scrapKg: Type.Optional(Num),
  processParameters: ParameterMap,
  corrects: Type.Optional(Type.String()),
  notes: Type.Optional(Type.String()),
  submittedBy: Address,
  recordedAt: Iso,
  status: Type.Union([Type.Literal("current"), Type.Literal("superseded")]),
  supersededBy: Type.Union([RunId, Type.Null()]),
  metrics: Metrics,
});

const RunProof = Type.Object({
  recordId: Type.String(),
  kind: Type.String(),
  leaf: Hex32,
  recordHash: Type.String({ description: "keccak256 of the stored record, recomputed for this response" }),
  status: Type.Union([Type.Literal("pending"), Type.Literal("anchored")]),
  merkleRoot: Type.Union([Hex32, Type.Null()]),
  proof: Type.Array(Hex32),
  transactionHash: Type.Union([Hex32, Type.Null()]),
  blockNumber: Type.Union([Type.Integer(), Type.Null()]),
  anchoredAt: Type.Union([Iso, Type.Null()]),
  anchoredBy: AnchoredBy,
  verified: Type.Boolean({
    description: "the stored record hashes to the leaf and the leaf's proof reaches a root anchored on the indexed chain by anchoredBy",
  }),
});

const RunDetail = Type.Intersect([Run, Type.Object({ anchor: Type.Union([RunProof, Type.Null()]) })]);

const Window = Type.Object({
  from: Type.Union([Iso, Type.Null()]),
  to: Type.Union([Iso, Type.Null()]),
  runs: Type.Integer(),
  countUnit: NullableString,
  goodOutput: NullableNumber,
  runHours: Num,
  co2eKg: NullableNumber,
  outputPerRunHour: NullableNumber,
  outputPerKgCo2e: NullableNumber,
});

const problems = { 400: { $ref: "Problem#" }, 404: { $ref: "Problem#" } };
const TimeParam = Type.String({ maxLength: 40, description: "ISO 8601 date (UTC midnight) or date-time with time zone" });

const principals = new WeakMap<FastifyRequest, Principal>();

/** A query time: a date (UTC midnight) or a date-time with a zone, as epoch ms. */
function timeParam(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const ok =
    /^\d{4}-\d{2}-\d{2}$/.test(value) || /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/.test(value);
  const ms = ok ? Date.parse(value.length === 10 ? `${value}T00:00:00Z` : value) : NaN;
  if (!Number.isFinite(ms)) {
    const message = "must be an ISO 8601 date (2025-03-01) or date-time with a time zone (2025-03-01T00:00:00Z)";
    throw new HttpProblem(400, "invalid_request", `querystring/${name} ${message}`, [{ path: `querystring/${name}`, message }]);
  }
  return ms;
}

function orderedWindow(from: number, to: number, fromName: string, toName: string): void {
  if (from >= to) {
    const message = `must be after ${fromName}`;
    throw new HttpProblem(400, "invalid_request", `querystring/${toName} ${message}`, [
      { path: `querystring/${toName}`, message },
    ]);
  }
}

const iso = (ms: number) => new Date(ms).toISOString();

/** Rounds computed figures to 12 significant digits (126242.19999999992 → 126242.2); records stay as stored. */
function tidy<T>(value: T): T {
  if (typeof value === "number")
    return (Number.isFinite(value) && !Number.isInteger(value) ? Number(value.toPrecision(12)) : value) as T;
  if (Array.isArray(value)) return value.map(tidy) as T;
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, tidy(v)])) as T;
  return value;
}

export const analyticsRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, { db, auth, state }) => {
  const store = createAnalyticsStore(db);
  const sharing = createSharingStore(db);
  /** Production runs are their owner's records: readable by it and the organisations it granted. */
  const mayReadRun = (reader: Reader, run: StoredRun) =>
    mayReadRecord(sharing, reader, Number(run.record.orgId), "PRODUCTION_RUN", () => sharing.subjectOf(runBatchIds(run.record)));
  /**
   * Figures over all of an organisation's runs (KPIs, productivity) need an unscoped grant of its
   * production runs: a scoped one would let the totals reveal runs outside the scope.
   */
  const requireAllRunsOf = (request: FastifyRequest, orgId: number) =>
    requireRecordAccess(sharing, readerOf(request, auth), orgId, "PRODUCTION_RUN", null, `figures over organisation ${orgId}'s production runs`);
  const provenance = createProvenanceStore(db);
  const factors = emissionFactorsFromEnv();

  function view(run: StoredRun) {
    return {
      ...run.record,
      status: run.supersededBy ? ("superseded" as const) : ("current" as const),
      supersededBy: run.supersededBy,
      metrics: tidy(runMetrics(run.record, factors, store.units())),
    };
  }

  function requireOrg(orgIdText: string): number {
    const orgId = Number(orgIdText);
    if (!store.orgExists(orgId)) throw new HttpProblem(404, "org_not_found", `no organisation ${orgIdText}`);
    return orgId;
  }

  app.post(
    "/api/v1/production-runs",
    {
      schema: {
        summary: "Record a production run (primary data, anchored); a correction names the run it `corrects`",
        description:
          "For a signed-in agent of the producing organisation. Validated against the index: the site is one of your GLNs, input batches are held by " +
          "your organisation, outputs are lots it registered (and no more than their registered quantity is recorded across runs). Times are ordered, " +
          "runTime ≤ plannedTime ≤ endTime − startTime, goodCount ≤ totalCount, idealCycleTime × totalCount ≤ runTime. A correction supersedes the " +
          "original, which stays readable.",
        tags: ["analytics"],
        security: [{ bearer: [] }],
        body: RunBody,
        response: {
          201: RunDetail,
          ...problems,
          401: { $ref: "Problem#" },
          403: { $ref: "Problem#" },
          409: { $ref: "Problem#" },
        },
      },
      // Authentication before validation: without a valid token the answer is 401, whatever the body.
      onRequest: async (request) => {
        principals.set(request, auth.authenticate(request.headers.authorization));
      },
    },
    async (request, reply) => {
      const principal = principals.get(request)!;
      // The node keeps records only for the organisations it serves (LOTLINE_SERVE_ORGS).
      requireServed(state.served, Number(principal.agent.orgId));
      let stored;
      try {
        stored = recordProductionRun(db, request.body as ProductionRunInput, {
          orgId: principal.agent.orgId,
          submittedBy: principal.address,
        });
      } catch (err) {
        if (err instanceof ProductionRunError) throw new HttpProblem(err.status, err.code, err.detail, err.errors);
        throw err;
      }
      const run = store.getRun(stored.record.id)!;
      return reply
        .code(201)
        .header("location", `/api/v1/production-runs/${run.record.id}`)
        .send({ ...view(run), anchor: store.proof(run) });
    },
  );

  app.get(
    "/api/v1/production-runs/:id",
    {
      schema: {
        summary: "A production run with its metrics and anchoring proof (verified against the stored record)",
        tags: ["analytics"],
        params: Type.Object({ id: RunId }),
        response: { 200: RunDetail, ...problems },
      },
    },
    async (request) => {
      const run = store.getRun(request.params.id);
      if (!run) throw new HttpProblem(404, "run_not_found", `no production run ${request.params.id}`);
      const reader = readerOf(request, auth);
      requireRecordAccess(
        sharing,
        reader,
        Number(run.record.orgId),
        "PRODUCTION_RUN",
        () => sharing.subjectOf(runBatchIds(run.record)),
        `production run ${request.params.id}`,
      );
      return { ...view(run), anchor: store.proof(run) };
    },
  );

  app.get(
    "/api/v1/production-runs",
    {
      schema: {
        summary: "Production runs, oldest start first; superseded records only with includeSuperseded=true",
        description: "`from`/`to` select runs by start time in [from, to).",
        tags: ["analytics"],
        querystring: Type.Object(
          {
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
            cursor: Type.Optional(Type.String({ maxLength: 200 })),
            orgId: Type.Optional(IdString),
            site: Type.Optional(Gln),
            line: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
            from: Type.Optional(TimeParam),
            to: Type.Optional(TimeParam),
            includeSuperseded: Type.Optional(Type.Boolean({ default: false })),
            batch: Type.Optional(Type.String({ pattern: "^0x[0-9a-fA-F]{64}$", description: "only runs that consumed or produced this batch (id)" })),
          },
          { additionalProperties: false },
        ),
        response: { 200: List(Run), ...problems },
      },
    },
    async (request) => {
      const q = request.query;
      const from = timeParam(q.from, "from");
      const to = timeParam(q.to, "to");
      if (from !== undefined && to !== undefined) orderedWindow(from, to, "from", "to");
      let after: { startMs: number; seq: number } | null = null;
      if (q.cursor) {
        const [startMs, seq] = decodeCursor(q.cursor, "run").split("_").map(Number);
        if (!Number.isSafeInteger(startMs) || !Number.isSafeInteger(seq))
          throw new HttpProblem(400, "invalid_cursor", "the cursor is not one this list returned");
        after = { startMs, seq };
      }
      const page = store.listRuns(
        {
          orgId: q.orgId ? Number(q.orgId) : undefined,
          site: q.site,
          line: q.line,
          from,
          to,
          includeSuperseded: q.includeSuperseded ?? false,
          batchId: q.batch,
        },
        { limit: q.limit ?? 50, after },
      );
      const reader = requireMember(request, auth);
      // Only the runs the reader may see; the cursor still follows every run scanned.
      return {
        items: page.items.filter((run) => mayReadRun(reader, run)).map(view),
        nextCursor: page.more && page.last ? encodeCursor("run", `${page.last.startMs}_${page.last.seq}`) : null,
      };
    },
  );

  app.get(
    "/api/v1/batches/:ref/footprint",
    {
      schema: {
        summary: "Cradle-to-gate energy and CO2e of a batch through its lineage, per unit and by stage, with the gaps",
        description:
          "Energy-related emissions of the recorded production runs (not enteric methane, feed, packaging or transport). A lot's own runs plus the " +
          "quantity-weighted share of every upstream batch (lineage edge quantity / the lot's registered quantity); a portion inherits its lot's " +
          "per-unit figure. Unknown upstream data is listed in `gaps` and makes the per-unit figures null (`known…` is the known part, a lower bound).",
        tags: ["analytics"],
        params: Type.Object({
          ref: Type.String({
            minLength: 1,
            maxLength: 512,
            description: "batch id (0x…) or URL-encoded GS1 Digital Link of a lot",
          }),
        }),
        response: {
          200: Type.Object({
            batchId: Hex32,
            lotId: Hex32,
            gtin: Type.String(),
            lot: Type.String(),
            unit: Type.String(),
            basisQuantity: NullableNumber,
            co2ePerUnitKg: NullableNumber,
            energyPerUnitKwh: NullableNumber,
            co2eKg: NullableNumber,
            energyKwh: NullableNumber,
            complete: Type.Boolean(),
            knownCo2ePerUnitKg: Num,
            knownEnergyPerUnitKwh: Num,
            stages: Type.Array(
              Type.Object({
                batchId: Hex32,
                gtin: NullableString,
                lot: NullableString,
                orgId: NullableString,
                unit: NullableString,
                runIds: Type.Array(Type.String()),
                ownCo2ePerUnitKg: Num,
                co2eKg: NullableNumber,
                energyKwh: NullableNumber,
                share: NullableNumber,
              }),
            ),
            gaps: Type.Array(
              Type.Object({ batchId: Type.String(), orgId: NullableString, reason: Type.String(), detail: Type.String() }),
            ),
            emissionFactors: EnergyMap,
          }),
          ...problems,
        },
      },
    },
    async (request) => {
      const reader = requireMember(request, auth);
      const id = resolveBatchRef(provenance, request.params.ref);
      const batch = provenance.getBatch(id);
      if (!batch) throw new HttpProblem(404, "batch_not_found", `no batch ${request.params.ref}`);
      const visible = visibilityOf(sharing, reader);
      const lookups = { ...store.footprintLookups(), mayRead: (run: ProductionRunRecord) => visible(Number(run.orgId), "PRODUCTION_RUN", runBatchIds(run)) };
      const footprint = batchFootprint(id, lookups, factors, store.units());
      return {
        ...tidy(footprint),
        lotId: batch.lotId,
        gtin: batch.gtin,
        lot: batch.lot,
        unit: batch.unit,
        emissionFactors: factors,
      };
    },
  );

  const OrgParams = Type.Object({ orgId: IdString });
  const Scope = { site: Type.Optional(Gln), line: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })) };

  app.get(
    "/api/v1/analytics/orgs/:orgId/kpis",
    {
      schema: {
        summary: "An organisation's production KPIs over a period (default: the last 90 days), optionally for one site or line",
        description:
          "Runs count by start time in [from, to). OEE = availability × performance × quality (planned-time-weighted); yield Σ outputs / Σ inputs " +
          "where units allow; per-unit figures and defect ppm quantity-weighted (one count unit); onTimeDelivery: share of the organisation's sales " +
          "orders with a deadline in the period delivered in full by it; dwellHours: mean hours batches stayed in its custody (spells ending in the " +
          "period). Null where there is no data, never 0.",
        tags: ["analytics"],
        params: OrgParams,
        querystring: Type.Object(
          { from: Type.Optional(TimeParam), to: Type.Optional(TimeParam), ...Scope },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            orgId: Type.String(),
            from: Iso,
            to: Iso,
            site: NullableString,
            line: NullableString,
            runs: Type.Integer(),
            countUnit: NullableString,
            oee: NullableNumber,
            oeeFactors: Type.Object({ availability: NullableNumber, performance: NullableNumber, quality: NullableNumber }),
            yield: NullableNumber,
            energyPerUnitKwh: NullableNumber,
            co2ePerUnitKg: NullableNumber,
            waterPerUnitM3: NullableNumber,
            scrapPerUnitKg: NullableNumber,
            defectPpm: NullableNumber,
            onTimeDelivery: NullableNumber,
            onTimeOrders: Type.Object({ onTime: Type.Integer(), decided: Type.Integer() }),
            dwellHours: NullableNumber,
            goodCount: NullableNumber,
            totalCount: NullableNumber,
            runHours: Num,
            plannedHours: Num,
            energyKwh: NullableNumber,
            energyBySource: Type.Union([EnergyMap, Type.Null()]),
            co2eKg: NullableNumber,
          }),
          ...problems,
        },
      },
    },
    async (request) => {
      const orgId = requireOrg(request.params.orgId);
      requireAllRunsOf(request, orgId);
      const q = request.query;
      const now = Date.now();
      const qFrom = timeParam(q.from, "from");
      const to = timeParam(q.to, "to") ?? now;
      const from = qFrom ?? to - DEFAULT_WINDOW_DAYS * DAY_MS;
      orderedWindow(from, to, "from", "to");
      const runs = store.runs({ orgId, site: q.site, line: q.line, from, to });
      const aggregate = tidy(aggregateRuns(runs, factors, store.units()));
      const delivery = onTimeDelivery(store.sellerOrders(orgId, from, to), now);
      return {
        orgId: String(orgId),
        from: iso(from),
        to: iso(to),
        site: q.site ?? null,
        line: q.line ?? null,
        runs: aggregate.runs,
        countUnit: aggregate.countUnit,
        oee: aggregate.oee,
        oeeFactors: { availability: aggregate.availability, performance: aggregate.performance, quality: aggregate.quality },
        yield: aggregate.yield,
        energyPerUnitKwh: aggregate.energyPerUnitKwh,
        co2ePerUnitKg: aggregate.co2ePerUnitKg,
        waterPerUnitM3: aggregate.waterPerUnitM3,
        scrapPerUnitKg: aggregate.scrapPerUnitKg,
        defectPpm: aggregate.defectPpm,
        onTimeDelivery: delivery.rate,
        onTimeOrders: { onTime: delivery.onTime, decided: delivery.decided },
        dwellHours: tidy(dwellHours(custodySpells(store.custodyEvents()), String(orgId), from, to, q.site)),
        goodCount: aggregate.goodCount,
        totalCount: aggregate.totalCount,
        runHours: aggregate.runHours,
        plannedHours: aggregate.plannedHours,
        energyKwh: aggregate.energyKwh,
        energyBySource: aggregate.energyBySource,
        co2eKg: aggregate.co2eKg,
      };
    },
  );

  app.get(
    "/api/v1/analytics/orgs/:orgId/productivity",
    {
      schema: {
        summary: "Productivity E = E0·(1+η_intelligent)·(1+η_green) between a baseline and a later period",
        description:
          "η_intelligent: relative change in good output per run-hour; η_green: relative change in good output per kg CO2e; index = (1+η_i)(1+η_g). " +
          "Defaults: the baseline is the first 90 days of the organisation's records, the period its last 90. Windows are [from, to) by run start.",
        tags: ["analytics"],
        params: OrgParams,
        querystring: Type.Object(
          {
            baselineFrom: Type.Optional(TimeParam),
            baselineTo: Type.Optional(TimeParam),
            from: Type.Optional(TimeParam),
            to: Type.Optional(TimeParam),
            ...Scope,
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            orgId: Type.String(),
            site: NullableString,
            line: NullableString,
            etaIntelligent: NullableNumber,
            etaGreen: NullableNumber,
            index: NullableNumber,
            outputChange: NullableNumber,
            countUnit: NullableString,
            records: Type.Object({ baseline: Window, period: Window }),
          }),
          ...problems,
        },
      },
    },
    async (request) => {
      const orgId = requireOrg(request.params.orgId);
      requireAllRunsOf(request, orgId);
      const q = request.query;
      const scope = { orgId, site: q.site, line: q.line };
      const window = DEFAULT_WINDOW_DAYS * DAY_MS;
      const range = store.timeRange(scope);
      const bFromQ = timeParam(q.baselineFrom, "baselineFrom");
      const bToQ = timeParam(q.baselineTo, "baselineTo");
      const pFromQ = timeParam(q.from, "from");
      const pToQ = timeParam(q.to, "to");
      const bFrom = bFromQ ?? (bToQ !== undefined ? bToQ - window : range?.first);
      const bTo = bToQ ?? (bFrom !== undefined ? bFrom + window : undefined);
      const pTo = pToQ ?? (pFromQ !== undefined ? pFromQ + window : range?.last);
      const pFrom = pFromQ ?? (pTo !== undefined ? pTo - window : undefined);
      if (bFrom !== undefined && bTo !== undefined) orderedWindow(bFrom, bTo, "baselineFrom", "baselineTo");
      if (pFrom !== undefined && pTo !== undefined) orderedWindow(pFrom, pTo, "from", "to");
      const runsIn = (from?: number, to?: number) =>
        from === undefined || to === undefined ? [] : store.runs({ ...scope, from, to });
      const result = productivity(
        runsIn(bFrom, bTo),
        runsIn(pFrom, pTo),
        {
          baseline: { from: bFrom === undefined ? null : iso(bFrom), to: bTo === undefined ? null : iso(bTo) },
          period: { from: pFrom === undefined ? null : iso(pFrom), to: pTo === undefined ? null : iso(pTo) },
        },
        factors,
      );
      return { orgId: String(orgId), site: q.site ?? null, line: q.line ?? null, ...tidy(result) };
    },
  );

  app.get(
    "/api/v1/analytics/emission-factors",
    {
      schema: {
        summary: "The emission factors in force (kg CO2e per kWh by energy source), the defaults and their sources",
        tags: ["analytics"],
        response: {
          200: Type.Object({ factors: EnergyMap, defaults: EnergyMap, sources: Type.Record(Type.String(), Type.String()) }),
          429: { $ref: "Problem#" },
        },
      },
    },
    async () => ({ factors, defaults: { ...DEFAULT_EMISSION_FACTORS }, sources: { ...EMISSION_FACTOR_SOURCES } }),
  );
};
