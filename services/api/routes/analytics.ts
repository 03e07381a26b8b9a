import { requireServed } from "../../config/served";
import { Type } from "@sinclair/typebox";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { FastifyRequest } from "fastify";
import { HttpProblem } from "../problem";
import { prepared } from "../../store/statements";
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
  DEFAULT_VINTAGES,
  EMISSION_FACTOR_SOURCES,
  ENERGY_SOURCES,
  factorBookFromEnv,
  factorsFor,
  runFactors,
} from "../../analytics/factors";
import {
  allocationPolicyFromEnv,
  ALLOCATION_RULES,
  ruleFor,
  ruleOriginFor,
  TRANSFORM_KIND_PATTERN,
  withChainRules,
} from "../../analytics/allocation";
import { chainAllocationRules, transformKinds } from "../../analytics/allocation-store";
import { epcisTransportLegs, type TransportLegRecord } from "../../analytics/transport";
import { GASES, TRANSPORT_MODES, TRANSPORT_FACTORS, GWP100 } from "../../analytics/emissions";
import { PactError, toPactProductFootprint } from "../../analytics/pact";
import { importPactFootprint, supplierFootprint, type StoredPact } from "../../analytics/pact-store";
import { aggregateRuns, custodySpells, dwellHours, onTimeDelivery, runMetrics } from "../../analytics/kpi";
import { batchFootprint, type FootprintLookups } from "../../analytics/footprint";
import { createFederationStore } from "../../federation/store";
import { productivity, windowProblem } from "../../analytics/productivity";
import { RUN_ID_PATTERN, runBatchIds, type ProductionRunRecord } from "../../analytics/record";
import { createSharingStore } from "../../store/sharing";
import { createRecordReads } from "../record-reads";
import { readerOf, requireMember, requireRecordAccess, visibilityOf } from "../access";

/**
 * Production efficiency: production-run records (primary data, anchored), per-batch footprints
 * through the lineage, KPIs and productivity per organisation. Formulas: services/analytics/*.ts.
 */
const DAY_MS = 86_400_000;
/** Default KPI window and default productivity windows: 90 days. */
export const DEFAULT_WINDOW_DAYS = 90;
/** The shortest default productivity window: records spanning less than two of them are refused. */
export const MIN_WINDOW_DAYS = 7;

const Num = Type.Number();
const RuleOriginSchema = Type.Object({
  from: Type.Union([Type.Literal("chain"), Type.Literal("configuration"), Type.Literal("default")]),
  transactionHash: Type.Union([Type.String(), Type.Null()]),
  blockNumber: Type.Union([Type.Integer(), Type.Null()]),
  setAt: Type.Union([Type.String(), Type.Null()]),
  detail: Type.String(),
});
const NullableNumber = Type.Union([Type.Number(), Type.Null()]);
const NullableString = Type.Union([Type.String(), Type.Null()]);
const TransportLegSchema = Type.Object({
  eventId: Type.String({ description: "the EPCIS event that declared the leg" }),
  recordId: Type.String(),
  orgId: Type.Integer({ description: "the organisation that captured it" }),
  bizStep: Type.String(),
  eventTime: Type.String(),
  batchId: Type.String(),
  from: NullableString,
  to: NullableString,
  mode: NullableString,
  distanceKm: NullableNumber,
  tonnes: NullableNumber,
  kgCo2ePerTonneKm: NullableNumber,
  factorSource: NullableString,
  quantity: Type.Union([Type.Number(), Type.Null()], { description: "quantity moved in the batch's unit" }),
  co2eKg: Type.Union([Type.Number(), Type.Null()], { description: "the leg's kg CO2e this batch carries (for a logistic unit, its mass share)" }),
  problem: NullableString,
  origin: Type.Union(
    [
      Type.Object({
        orgId: Type.String({ description: "the organisation that captured the event" }),
        servedBy: Type.String({ description: "the node that served the event (this node's URL for its own)" }),
        verified: Type.Boolean({ description: "the event's Merkle proof held against its owner's anchor" }),
      }),
      Type.Null(),
    ],
    { description: "where the EPCIS event came from" },
  ),
  logisticUnit: Type.Union(
    [
      Type.Object({
        sscc: Type.String(),
        batches: Type.Integer({ description: "batches packed in the unit for the shipment (from the chain's pack and unpack records)" }),
        batchKg: NullableNumber,
        contentsKg: NullableNumber,
        share: Type.Union([Type.Number(), Type.Null()], { description: "batchKg / contentsKg: the share of the leg this batch carries" }),
        legCo2eKg: Type.Union([Type.Number(), Type.Null()], { description: "the whole leg's kg CO2e before the split" }),
      }),
      Type.Null(),
    ],
    { description: "for a shipment of a logistic unit (SSCC): the unit and this batch's mass share; null for the lot's own leg" },
  ),
});
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
    footprint: Type.Optional(
      Type.Object(
        {
          co2ePerUnitKg: Type.Optional(Type.Number({ minimum: 0, description: "kg CO2e per unit of the line's unit" })),
          source: Type.Optional(Type.String({ minLength: 1, maxLength: 300, description: "where the figure comes from" })),
          pactId: Type.Optional(Type.String({ maxLength: 36, description: "a supplier PACT footprint your organisation imported" })),
        },
        { additionalProperties: false, description: "a purchased (untracked) input's own cradle-to-gate footprint" },
      ),
    ),
  },
  { additionalProperties: false },
);
const InputFootprint = Type.Object({ co2ePerUnitKg: Num, source: Type.String(), pactId: Type.Optional(Type.String()) });
const MaterialOut = Type.Object({
  batchId: Type.Optional(Hex32),
  material: Type.Optional(Type.String()),
  quantity: Quantity,
  unit: Type.String(),
  footprint: Type.Optional(InputFootprint),
});
const GasMap = Type.Record(Type.String(), Num, { description: `kg of each gas emitted directly: ${GASES.join(", ")}` });
const Leg = Type.Object(
  {
    mode: Type.Union(TRANSPORT_MODES.map((m) => Type.Literal(m))),
    distanceKm: Type.Number({ minimum: 0, maximum: 50_000 }),
    tonnes: Type.Number({ minimum: 0, maximum: 1e6 }),
    batchId: Type.Optional(Hex32),
    kgCo2ePerTonneKm: Type.Optional(Type.Number({ minimum: 0, maximum: 10, description: "the carrier's own factor" })),
  },
  { additionalProperties: false },
);
const GwpSetSchema = Type.Union([Type.Literal("AR6"), Type.Literal("AR5")]);

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
    directEmissionsKg: Type.Optional(GasMap),
    gwpSet: Type.Optional(GwpSetSchema),
    transportLegs: Type.Optional(Type.Array(Leg, { maxItems: 100, description: "freight legs that brought the inputs to the site" })),
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
  directEmissionsKg: Type.Optional(GasMap),
  gwpSet: Type.Optional(GwpSetSchema),
  transportLegs: Type.Optional(Type.Array(Leg)),
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
  plannedHours: Num,
  co2eKg: NullableNumber,
  outputPerRunHour: NullableNumber,
  outputPerPlannedHour: NullableNumber,
  outputPerKgCo2e: NullableNumber,
});
const Uncertainty = Type.Union([
  Type.Object({ interval: Type.Tuple([Num, Num]), standardError: Num, resamples: Type.Integer() }),
  Type.Null(),
]);

const BurdenSchema = Type.Object({
  energyKwh: Num,
  energyScope1: Num,
  energyScope2Location: Num,
  energyScope2Market: Num,
  energyScope3: Num,
  directGases: Num,
  purchasedInputs: Num,
  transport: Num,
});
const Vintage = Type.Object({
  value: Num,
  year: Type.Union([Type.Integer(), Type.Null()]),
  source: Type.String(),
  basis: Type.Union([Type.Literal("net"), Type.Literal("gross"), Type.Null()]),
  boundary: Type.Union([Type.Literal("combustion"), Type.Literal("life_cycle")]),
  marketBased: Type.Optional(Num),
});

const problems = { 400: { $ref: "Problem#" }, 404: { $ref: "Problem#" } };
/** An organisation's KPIs over one period (GET …/kpis, and each month of …/kpis/monthly). */
const Kpis = Type.Object({
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
});
/** The most months GET …/kpis/monthly answers at once. */
const MAX_KPI_MONTHS = 36;

const TimeParam = Type.String({ maxLength: 40, description: "ISO 8601 date (UTC midnight) or date-time with time zone" });

const principals = new WeakMap<FastifyRequest, Principal>();

/** A 400 naming the query parameter `name` and what is wrong with it. */
function queryProblem(name: string, message: string): HttpProblem {
  return new HttpProblem(400, "invalid_request", `querystring/${name} ${message}`, [{ path: `querystring/${name}`, message }]);
}

/** A query time: a date (UTC midnight) or a date-time with a zone, as epoch ms. */
function timeParam(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const ok =
    /^\d{4}-\d{2}-\d{2}$/.test(value) || /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/.test(value);
  const ms = ok ? Date.parse(value.length === 10 ? `${value}T00:00:00Z` : value) : NaN;
  if (!Number.isFinite(ms)) {
    throw queryProblem(name, "must be an ISO 8601 date (2025-03-01) or date-time with a time zone (2025-03-01T00:00:00Z)");
  }
  return ms;
}

function orderedWindow(from: number, to: number, fromName: string, toName: string): void {
  if (from >= to) throw queryProblem(toName, `must be after ${fromName}`);
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

export const analyticsRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, { db, auth, state, publicUrl }) => {
  const store = createAnalyticsStore(db);
  const federationStore = createFederationStore(db);
  const sharing = createSharingStore(db);
  const { mayReadRun, readableRun, runAnchor } = createRecordReads(db, state);
  /**
   * Figures over all of an organisation's runs (KPIs, productivity) need an unscoped grant of its
   * production runs: a scoped one would let the totals reveal runs outside the scope.
   */
  const requireAllRunsOf = (request: FastifyRequest, orgId: number) =>
    requireRecordAccess(sharing, readerOf(request, auth), orgId, "PRODUCTION_RUN", null, `figures over organisation ${orgId}'s production runs`);
  const provenance = createProvenanceStore(db);
  const book = factorBookFromEnv();
  /** The factors of the latest vintage year (the footprint response's `emissionFactors`). */
  const factors = factorsFor(book, null, 9999);
  /** This node's configured policy: the fallback for kinds governance set no rule for on-chain. */
  const configuredAllocation = allocationPolicyFromEnv();
  /** The policy in force now: governance's on-chain rules (indexed) over the configured ones. */
  const allocationNow = () => withChainRules(configuredAllocation, chainAllocationRules(db));

  function view(run: StoredRun) {
    return {
      ...run.record,
      status: run.supersededBy ? ("superseded" as const) : ("current" as const),
      supersededBy: run.supersededBy,
      metrics: tidy(runMetrics(run.record, runFactors(book, run.record), store.units())),
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
        .send({ ...view(run), anchor: runAnchor(run) });
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
      const run = readableRun(readerOf(request, auth), request.params.id);
      return { ...view(run), anchor: runAnchor(run) };
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

  const RefParams = Type.Object({
    ref: Type.String({
      minLength: 1,
      maxLength: 512,
      description: "batch id (0x…) or URL-encoded GS1 Digital Link of a lot",
    }),
  });

  /** The batch's footprint over the runs the reader may see (the others are not_shared gaps). */
  async function footprintFor(request: FastifyRequest, ref: string) {
    const reader = requireMember(request, auth);
    const id = resolveBatchRef(provenance, ref);
    const batch = provenance.getBatch(id);
    if (!batch) throw new HttpProblem(404, "batch_not_found", `no batch ${ref}`);
    const visible = visibilityOf(sharing, reader);
    const allocation = allocationNow();
    const units = store.units();
    const base = store.footprintLookups();
    const epcisGaps = await federatedEpcisGaps(id, reader.orgId);
    const here = publicUrl();
    const lookups: FootprintLookups = {
      ...base,
      mayRead: (run: ProductionRunRecord) => visible(Number(run.orgId), "PRODUCTION_RUN", runBatchIds(run)),
      ...(await federatedLookups(id, reader.orgId)),
      // Freight legs from the EPCIS shipping events stored here (own, and verified replicas of other
      // members' nodes), as far as the reader may read them; each leg names where its event came from.
      transportLegs(batchId: string) {
        const b = base.batch(batchId);
        if (!b) return { legs: [], notShared: [] };
        const found = epcisTransportLegs(db, { ...b, id: batchId }, { units, kgPerUnitOf: (gtin) => allocation.products[gtin]?.kgPerUnit });
        const mayRead = (leg: TransportLegRecord) => visible(leg.orgId, "EPCIS", [batchId]);
        const legs = found.legs.filter(mayRead);
        // A leg of the lot nothing ties to a portion is a gap the reader sees only if it may read the event.
        const unattributed = found.unattributed.filter((u) => mayRead(u.leg));
        const hidden = [...found.legs.filter((leg) => !legs.includes(leg)), ...found.unattributed.filter((u) => !unattributed.includes(u)).map((u) => u.leg)];
        return {
          legs: legs.map((leg) => (leg.origin ? { ...leg, origin: { ...leg.origin, servedBy: leg.origin.servedBy ?? here } } : leg)),
          unattributed,
          notShared: [...new Set(hidden.map((leg) => leg.orgId))],
          gaps: epcisGaps.get(batchId.toLowerCase()) ?? [],
        };
      },
    };
    return { batch, footprint: batchFootprint(id, lookups, book, { units, allocation }) };
  }

  app.get(
    "/api/v1/batches/:ref/footprint",
    {
      schema: {
        summary: "Cradle-to-gate CO2e of a batch over its recorded stages, per unit, by stage, scope and source, with its boundary and gaps",
        description:
          "Over the recorded stages only (`boundary` says what is in): energy of production runs by source with the factor vintage of each run's " +
          "site and year, direct emissions by gas (GWP100, AR6 by default), purchased inputs with their own footprints and freight legs recorded " +
          "on runs. A lot's own runs plus its share of the inputs its transformation consumed, split among co-products by the allocation rule " +
          "governance set for the transformation kind (recorded per stage); a portion inherits its lot's per-unit figure. Scope 1, Scope 2 " +
          "(location- and market-based) and upstream Scope 3 are reported apart. Unknown upstream data is listed in `gaps` and makes the " +
          "per-unit figures null (`known…` is the known part, a lower bound).",
        tags: ["analytics"],
        params: RefParams,
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
                origin: Type.Union([
                  Type.Object({
                    orgId: Type.String({ description: "the organisation the runs belong to" }),
                    servedBy: Type.Union([Type.String(), Type.Null()], { description: "the node that served them (this node's URL for its own)" }),
                    verified: Type.Boolean({ description: "the runs' Merkle proofs held against the owner's anchor when stored" }),
                  }),
                  Type.Null(),
                ]),
                allocation: Type.Union([
                  Type.Object({ kind: NullableString, rule: Type.String(), share: NullableNumber, basis: Type.String(), origin: RuleOriginSchema }),
                  Type.Null(),
                ]),
                ownBySource: BurdenSchema,
                type: Type.Union([Type.Literal("production"), Type.Literal("transport")]),
                transport: Type.Union([Type.Array(TransportLegSchema), Type.Null()]),
              }),
            ),
            gaps: Type.Array(
              Type.Object({ batchId: Type.String(), orgId: NullableString, reason: Type.String(), detail: Type.String() }),
            ),
            emissionFactors: EnergyMap,
            boundary: Type.Object({
              label: Type.String(),
              stages: Type.String(),
              includes: Type.Array(Type.String()),
              recorded: Type.Array(Type.String()),
              excludes: Type.Array(Type.String()),
              gwpSet: Type.String(),
              scope2: Type.String(),
            }),
            scopesPerUnitKg: Type.Object({
              scope1: Num,
              scope2LocationBased: Num,
              scope2MarketBased: Num,
              scope3Upstream: Num,
            }),
            bySourcePerUnit: BurdenSchema,
            allocationPolicy: Type.Object({
              source: Type.String(),
              defaultRule: Type.String(),
              kinds: Type.Record(Type.String(), Type.String()),
              origins: Type.Record(Type.String(), RuleOriginSchema),
            }),
            factorVintages: Type.Record(Type.String(), Type.Array(Vintage)),
          }),
          ...problems,
        },
      },
    },
    async (request) => {
      const { batch, footprint } = await footprintFor(request, request.params.ref);
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

  /**
   * Federation for a lineage (services/federation): the runs of upstream batches held by other
   * members' nodes are fetched now (as the reader's organisation, fresh answers reused), then each
   * stage says where its runs came from and each batch its holder did not give says why.
   */
  async function federatedLookups(root: string, readerOrg: number): Promise<Pick<FootprintLookups, "remote" | "originOf">> {
    const federation = state.federation;
    const here = publicUrl();
    const originOf = (runId: string) => {
      const origin = federationStore.originOf(runId);
      return origin ? { ...origin, servedBy: origin.servedBy ?? here } : null;
    };
    if (!federation) return { originOf };
    await federation.ensureUpstream(root, readerOrg);
    return {
      originOf,
      remote(batchId: string) {
        const outcome = federation.outcomeOf(batchId, readerOrg);
        if (!outcome || outcome.status === "ok") return null;
        return { reason: outcome.status, orgId: String(outcome.ownerOrg), detail: outcome.detail };
      },
    };
  }

  /**
   * The EPCIS events of the lineage held on other members' nodes are fetched now (as the reader's
   * organisation, fresh answers reused) and stored as verified replicas (ADR 0025); what those nodes
   * did not give the reader is a gap per batch: not_shared, or unreachable for an organisation that
   * handled the batch. (not_recorded says nothing of freight: no gap.)
   */
  async function federatedEpcisGaps(root: string, readerOrg: number) {
    const byBatch = new Map<string, { orgId: string; reason: "not_shared" | "unreachable"; detail: string }[]>();
    const federation = state.federation;
    if (!federation) return byBatch;
    const { gaps } = await federation.ensureUpstreamEpcis(root, readerOrg);
    for (const g of gaps) {
      if (g.reason !== "not_shared" && g.reason !== "unreachable") continue;
      const key = g.batchId.toLowerCase();
      byBatch.set(key, [...(byBatch.get(key) ?? []), { orgId: g.orgId ?? "unknown", reason: g.reason, detail: g.detail }]);
    }
    return byBatch;
  }

  app.get(
    "/api/v1/batches/:ref/footprint/pact",
    {
      schema: {
        summary: "The batch's footprint as a WBCSD PACT Pathfinder v2 ProductFootprint (boundary, allocation and data-quality fields)",
        description:
          "Same visibility as the footprint: a member, over the production runs it may read. A PACT footprint states a complete figure: a " +
          "footprint with gaps (unrecorded or not shared stages) is refused with 409 footprint_incomplete; a lot counted in pieces with 422.",
        tags: ["analytics"],
        params: RefParams,
        response: {
          200: Type.Object(
            {
              id: Type.String(),
              specVersion: Type.String(),
              version: Type.Integer(),
              created: Iso,
              status: Type.String(),
              companyName: Type.String(),
              companyIds: Type.Array(Type.String()),
              productDescription: Type.String(),
              productIds: Type.Array(Type.String()),
              productCategoryCpc: Type.String(),
              productNameCompany: Type.String(),
              comment: Type.String(),
              pcf: Type.Record(Type.String(), Type.Unknown()),
            },
            { additionalProperties: false },
          ),
          ...problems,
          409: { $ref: "Problem#" },
          422: { $ref: "Problem#" },
        },
      },
    },
    async (request) => {
      const { batch, footprint } = await footprintFor(request, request.params.ref);
      const runs = footprint.stages.flatMap((s) => s.runIds).map((id) => store.getRun(id)?.record).filter((r) => r !== undefined);
      const start = runs.reduce((m, r) => (r.startTime < m ? r.startTime : m), runs[0]?.startTime ?? batch.createdAt);
      const end = runs.reduce((m, r) => (r.endTime > m ? r.endTime : m), runs[0]?.endTime ?? batch.createdAt);
      const producer = footprint.stages.find((s) => s.batchId === batch.lotId)?.orgId ?? null;
      const org = prepared(db, `SELECT name FROM organisations WHERE org_id = ?`).get(Number(producer ?? 0)) as { name: string } | undefined;
      const name = (provenance.product(batch.gtin)?.masterData?.name as string | undefined) ?? `GTIN ${batch.gtin}`;
      try {
        return toPactProductFootprint(tidy(footprint), {
          gtin: batch.gtin,
          lot: batch.lot,
          productName: typeof name === "string" ? name : `GTIN ${batch.gtin}`,
          companyName: org?.name ?? `organisation ${producer ?? "unknown"}`,
          orgId: producer ?? "0",
          referencePeriodStart: new Date(start).toISOString(),
          referencePeriodEnd: new Date(end).toISOString(),
          now: new Date().toISOString(),
          country: null,
        });
      } catch (err) {
        if (err instanceof PactError) throw new HttpProblem(err.status, err.code, err.detail);
        throw err;
      }
    },
  );

  const StoredPactSchema = Type.Object({
    pactId: Type.String(),
    version: Type.Integer(),
    orgId: Type.String(),
    companyName: Type.String(),
    productIds: Type.Array(Type.String()),
    declaredUnit: Type.String(),
    unit: Type.String(),
    unitaryProductAmount: Type.String(),
    co2ePerUnitKg: Num,
    referencePeriodEnd: Type.String(),
    documentHash: Hex32,
    importedBy: Address,
    importedAt: Iso,
  });
  const pactView = (p: StoredPact) => p;

  app.post(
    "/api/v1/footprints/pact",
    {
      schema: {
        summary: "Import a supplier's PACT v2 ProductFootprint, to cite as a purchased input's footprint in your production runs",
        description:
          "For a signed-in agent; stored for your organisation only (no other member reads it). A production run's untracked input cites it " +
          "with `footprint.pactId`: its pCfExcludingBiogenic (kg CO2e per declared unit) is the input's footprint per unit. Refused: a " +
          "malformed footprint (400 invalid_pact), a spec version other than 2.x, a Deprecated one, a declared unit other than kilogram, " +
          "liter or cubic meter, a reference period not yet ended (422), the same id and version with other content (409).",
        tags: ["analytics"],
        security: [{ bearer: [] }],
        body: Type.Record(Type.String(), Type.Unknown(), { description: "a PACT Pathfinder v2 ProductFootprint" }),
        response: {
          201: StoredPactSchema,
          200: StoredPactSchema,
          400: { $ref: "Problem#" },
          401: { $ref: "Problem#" },
          403: { $ref: "Problem#" },
          409: { $ref: "Problem#" },
          422: { $ref: "Problem#" },
        },
      },
      onRequest: async (request) => {
        principals.set(request, auth.authenticate(request.headers.authorization));
      },
    },
    async (request, reply) => {
      const principal = principals.get(request)!;
      requireServed(state.served, Number(principal.agent.orgId));
      try {
        const { footprint, created } = importPactFootprint(db, request.body, {
          orgId: principal.agent.orgId,
          importedBy: principal.address,
        });
        return reply
          .code(created ? 201 : 200)
          .header("location", `/api/v1/footprints/pact/${footprint.pactId}`)
          .send(pactView(footprint));
      } catch (err) {
        if (err instanceof PactError) throw new HttpProblem(err.status, err.code, err.detail);
        throw err;
      }
    },
  );

  app.get(
    "/api/v1/footprints/pact/:id",
    {
      schema: {
        summary: "A supplier PACT footprint your organisation imported (latest version)",
        tags: ["analytics"],
        security: [{ bearer: [] }],
        params: Type.Object({ id: Type.String({ pattern: "^[0-9a-fA-F-]{36}$" }) }),
        response: { 200: StoredPactSchema, ...problems, 401: { $ref: "Problem#" } },
      },
    },
    async (request) => {
      const reader = requireMember(request, auth);
      const found = supplierFootprint(db, request.params.id, reader.orgId);
      // Another organisation's import is not disclosed, not even that it exists.
      if (!found) throw new HttpProblem(404, "pact_not_found", `your organisation imported no PACT footprint ${request.params.id}`);
      return pactView(found);
    },
  );

  const OrgParams = Type.Object({ orgId: IdString });
  const Scope = { site: Type.Optional(Gln), line: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })) };

  /**
   * The KPIs of an organisation's runs started in [from, to) (site or line: one of its sites or
   * lines), its sales orders due in it and its custody spells ending in it. `shared`: what does not
   * depend on the period (the custody spells of every batch, the units table), read once for a series.
   */
  function kpisOf(orgId: number, from: number, to: number, scope: { site?: string; line?: string }, shared: KpiInputs, now: number) {
    const runs = store.runs({ orgId, site: scope.site, line: scope.line, from, to });
    const aggregate = tidy(aggregateRuns(runs, (run) => runFactors(book, run), shared.units));
    const delivery = onTimeDelivery(store.sellerOrders(orgId, from, to), now);
    return {
      orgId: String(orgId),
      from: iso(from),
      to: iso(to),
      site: scope.site ?? null,
      line: scope.line ?? null,
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
      dwellHours: tidy(dwellHours(shared.spells, String(orgId), from, to, scope.site)),
      goodCount: aggregate.goodCount,
      totalCount: aggregate.totalCount,
      runHours: aggregate.runHours,
      plannedHours: aggregate.plannedHours,
      energyKwh: aggregate.energyKwh,
      energyBySource: aggregate.energyBySource,
      co2eKg: aggregate.co2eKg,
    };
  }
  type KpiInputs = { spells: ReturnType<typeof custodySpells>; units: ReturnType<typeof store.units> };
  const kpiInputs = (): KpiInputs => ({ spells: custodySpells(store.custodyEvents()), units: store.units() });
  const KPI_DESCRIPTION =
    "Runs count by start time in [from, to). OEE = availability × performance × quality (planned-time-weighted); yield Σ outputs / Σ inputs " +
    "where units allow; per-unit figures and defect ppm quantity-weighted (one count unit); onTimeDelivery: share of the organisation's sales " +
    "orders with a deadline in the period delivered in full by it; dwellHours: mean hours batches stayed in its custody (spells ending in the " +
    "period). Null where there is no data, never 0.";

  app.get(
    "/api/v1/analytics/orgs/:orgId/kpis",
    {
      schema: {
        summary: "An organisation's production KPIs over a period (default: the last 90 days), optionally for one site or line",
        description: KPI_DESCRIPTION,
        tags: ["analytics"],
        params: OrgParams,
        querystring: Type.Object(
          { from: Type.Optional(TimeParam), to: Type.Optional(TimeParam), ...Scope },
          { additionalProperties: false },
        ),
        response: { 200: Kpis, ...problems },
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
      return kpisOf(orgId, from, to, q, kpiInputs(), now);
    },
  );

  app.get(
    "/api/v1/analytics/orgs/:orgId/kpis/monthly",
    {
      schema: {
        summary: "An organisation's production KPIs month by month (UTC calendar months; default: the last 6, this one included), optionally for one site or line",
        description:
          `One point per month, each as GET …/kpis for that month; the months from \`from\`'s month to \`to\`'s (inclusive), at most ${MAX_KPI_MONTHS}. ` +
          KPI_DESCRIPTION,
        tags: ["analytics"],
        params: OrgParams,
        querystring: Type.Object(
          {
            from: Type.Optional(Type.String({ pattern: "^[0-9]{4}-(0[1-9]|1[0-2])$", description: "first month, YYYY-MM (default: 5 months before `to`)" })),
            to: Type.Optional(Type.String({ pattern: "^[0-9]{4}-(0[1-9]|1[0-2])$", description: "last month, YYYY-MM (default: this month)" })),
            ...Scope,
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ orgId: Type.String(), site: NullableString, line: NullableString, months: Type.Array(Kpis) }), ...problems },
      },
    },
    async (request) => {
      const orgId = requireOrg(request.params.orgId);
      requireAllRunsOf(request, orgId);
      const q = request.query;
      const now = Date.now();
      const month = (text: string) => Number(text.slice(0, 4)) * 12 + Number(text.slice(5, 7)) - 1;
      const today = new Date(now);
      const last = q.to === undefined ? today.getUTCFullYear() * 12 + today.getUTCMonth() : month(q.to);
      const first = q.from === undefined ? last - 5 : month(q.from);
      if (first > last) throw queryProblem("to", "must not be before from");
      if (last - first + 1 > MAX_KPI_MONTHS) throw queryProblem("from", `spans ${last - first + 1} months; at most ${MAX_KPI_MONTHS}`);
      const start = (m: number) => Date.UTC(Math.floor(m / 12), m % 12, 1);
      // One pass over the custody events (and one read of the units) for every month.
      const shared = kpiInputs();
      const months = [];
      for (let m = first; m <= last; m++) months.push(kpisOf(orgId, start(m), start(m + 1), q, shared, now));
      return { orgId: String(orgId), site: q.site ?? null, line: q.line ?? null, months };
    },
  );

  app.get(
    "/api/v1/analytics/orgs/:orgId/productivity",
    {
      schema: {
        summary: "Productivity E = E0·(1+η_intelligent)·(1+η_green) between a baseline and a later period",
        description:
          "η_intelligent: relative change in good output per planned hour (availability, performance and quality gains all count); η_green: " +
          "relative change in good output per kg CO2e within the footprint boundary (runs with energy data); index = (1+η_i)(1+η_g); each with a " +
          "bootstrap 95 % interval over runs. Defaults: the baseline is the first 90 days of the organisation's records, the period its last 90. " +
          "Windows are [from, to) by run start and must not overlap (400 overlapping_windows); without explicit windows, records spanning less " +
          "than two weeks are refused (400 records_too_short).",
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
            uncertainty: Type.Object({
              etaIntelligent: Uncertainty,
              etaGreen: Uncertainty,
              index: Uncertainty,
              method: Type.String(),
            }),
            co2eBoundary: Type.String({ description: "what η_green's kg CO2e include and leave out" }),
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
      const range = store.timeRange(scope);
      const bFromQ = timeParam(q.baselineFrom, "baselineFrom");
      const bToQ = timeParam(q.baselineTo, "baselineTo");
      const pFromQ = timeParam(q.from, "from");
      const pToQ = timeParam(q.to, "to");
      const defaulted = bFromQ === undefined && bToQ === undefined && pFromQ === undefined && pToQ === undefined;
      // Default windows: the first and the last 90 days, or each half of the records when they span
      // less than 180 days — never overlapping; refused when a half would be shorter than a week.
      let window = DEFAULT_WINDOW_DAYS * DAY_MS;
      if (defaulted && range) {
        const span = range.last - range.first;
        if (span / 2 < MIN_WINDOW_DAYS * DAY_MS) {
          const days = Math.round((span / DAY_MS) * 10) / 10;
          throw new HttpProblem(
            400,
            "records_too_short",
            `the records span ${days} days: two non-overlapping windows of at least ${MIN_WINDOW_DAYS} days need ${2 * MIN_WINDOW_DAYS}. ` +
              "Record more runs, or give baselineFrom/baselineTo and from/to that do not overlap",
          );
        }
        window = Math.min(window, span / 2);
      }
      const bFrom = bFromQ ?? (bToQ !== undefined ? bToQ - window : range?.first);
      const bTo = bToQ ?? (bFrom !== undefined ? bFrom + window : undefined);
      const pTo = pToQ ?? (pFromQ !== undefined ? pFromQ + window : range?.last);
      const pFrom = pFromQ ?? (pTo !== undefined ? pTo - window : undefined);
      if (bFrom !== undefined && bTo !== undefined) orderedWindow(bFrom, bTo, "baselineFrom", "baselineTo");
      if (pFrom !== undefined && pTo !== undefined) orderedWindow(pFrom, pTo, "from", "to");
      if (bFrom !== undefined && bTo !== undefined && pFrom !== undefined && pTo !== undefined) {
        const problem = windowProblem({ from: bFrom, to: bTo }, { from: pFrom, to: pTo });
        if (problem) throw new HttpProblem(400, "overlapping_windows", problem);
      }
      const runsIn = (from?: number, to?: number) =>
        from === undefined || to === undefined ? [] : store.runs({ ...scope, from, to });
      const result = productivity(
        runsIn(bFrom, bTo),
        runsIn(pFrom, pTo),
        {
          baseline: { from: bFrom === undefined ? null : iso(bFrom), to: bTo === undefined ? null : iso(bTo) },
          period: { from: pFrom === undefined ? null : iso(pFrom), to: pTo === undefined ? null : iso(pTo) },
        },
        book,
      );
      return { orgId: String(orgId), site: q.site ?? null, line: q.line ?? null, ...tidy(result) };
    },
  );

  app.get(
    "/api/v1/analytics/emission-factors",
    {
      schema: {
        summary: "The emission factors in force (kg CO2e per kWh by energy source, with vintages per year and site), GWPs, freight factors and allocation rules",
        tags: ["analytics"],
        response: {
          200: Type.Object({
            factors: EnergyMap,
            defaults: EnergyMap,
            sources: Type.Record(Type.String(), Type.String()),
            vintages: Type.Record(Type.String(), Type.Array(Vintage), { description: "the consortium's factors by source and year" }),
            defaultVintages: Type.Record(Type.String(), Type.Array(Vintage)),
            siteVintages: Type.Record(Type.String(), Type.Record(Type.String(), Type.Array(Vintage)), { description: "by site GLN" }),
            gwp100: Type.Record(Type.String(), Type.Record(Type.String(), Num)),
            transportKgCo2ePerTonneKm: Type.Record(Type.String(), Type.Object({ value: Num, source: Type.String() })),
            allocation: Type.Object({
              source: Type.String(),
              defaultRule: Type.String(),
              kinds: Type.Record(Type.String(), Type.String()),
              rules: Type.Array(Type.String()),
            }),
          }),
          429: { $ref: "Problem#" },
        },
      },
    },
    async () => ({
      allocation: (() => {
        const policy = allocationNow();
        return { source: policy.source, defaultRule: policy.defaultRule, kinds: policy.kinds, rules: [...ALLOCATION_RULES] };
      })(),
      factors,
      defaults: { ...DEFAULT_EMISSION_FACTORS },
      sources: { ...EMISSION_FACTOR_SOURCES },
      vintages: book.global,
      defaultVintages: DEFAULT_VINTAGES as unknown as Record<string, typeof book.global.grid>,
      siteVintages: book.sites as Record<string, Record<string, typeof book.global.grid>>,
      gwp100: GWP100 as unknown as Record<string, Record<string, number>>,
      transportKgCo2ePerTonneKm: { ...TRANSPORT_FACTORS },
    }),
  );

  app.get(
    "/api/v1/allocation-rules",
    {
      schema: {
        summary: "The allocation rule of each transformation kind: set by governance on-chain, else this node's configuration, else the default",
        description:
          "Public, like the emission factors: the method footprints apply, not anyone's records. Rules are set by governance with the provenance " +
          "registry's setAllocationRule (`lotline allocation set`) and indexed from AllocationRuleSet; LOTLINE_ALLOCATION_RULES is the fallback for " +
          "kinds with no rule on-chain (and gives the default rule and products' kg per unit, dry-matter fraction and price). `kind` selects one kind.",
        tags: ["analytics"],
        querystring: Type.Object(
          { kind: Type.Optional(Type.String({ pattern: TRANSFORM_KIND_PATTERN, description: "a transformation kind (PROCESS, MERGE…)" })) },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            defaultRule: Type.String(),
            source: Type.String({ description: "where the policy comes from" }),
            rules: Type.Array(Type.String(), { description: "the rules governance may set" }),
            items: Type.Array(
              Type.Object({
                kind: Type.String(),
                enabled: Type.Union([Type.Boolean(), Type.Null()], { description: "whether the kind is enabled on-chain; null: not a kind the chain knows" }),
                rule: Type.String({ description: "the rule footprints apply to transformations of this kind" }),
                origin: RuleOriginSchema,
              }),
            ),
          }),
          ...problems,
          429: { $ref: "Problem#" },
        },
      },
    },
    async (request) => {
      const policy = allocationNow();
      const known = new Map(transformKinds(db).map((k) => [k.kind, k.enabled]));
      const kinds = [...new Set([...known.keys(), ...Object.keys(policy.kinds)])].sort();
      const wanted = request.query.kind;
      if (wanted !== undefined && !kinds.includes(wanted)) {
        throw new HttpProblem(404, "kind_not_found", `no transformation kind ${wanted}: the chain knows ${[...known.keys()].join(", ") || "none"}`);
      }
      return {
        defaultRule: policy.defaultRule,
        source: policy.source,
        rules: [...ALLOCATION_RULES],
        items: kinds
          .filter((kind) => wanted === undefined || kind === wanted)
          .map((kind) => ({ kind, enabled: known.get(kind) ?? null, rule: ruleFor(policy, kind), origin: ruleOriginFor(policy, kind) })),
      };
    },
  );
};
