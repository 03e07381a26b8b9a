import { createSharingStore } from "../../store/sharing";
import { mayReadRecord, readerOf, requireMember, requireRecordAccess, visibilityOf } from "../access";
import { runBatchIds, type ProductionRunRecord } from "../../analytics/record";
import { Type, type TSchema } from "@sinclair/typebox";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { FastifyRequest } from "fastify";
import { HttpProblem } from "../problem";
import { AnchoredBy, Hex32, IdString, Iso } from "../schemas";
import type { Principal } from "../auth";
import type { RouteDeps } from "../app";
import { requireBatchRef } from "../batch-ref";
import { createProvenanceStore, type BatchView } from "../../store/provenance";
import { proofOf } from "../../anchoring/outbox";
import {
  API_NAMES,
  combine,
  createBatchScorer,
  getModelRecord,
  listModelRecords,
  mapParams,
  modelLeaf,
  modelRecordId,
  ModelUnavailableError,
  scoringFor,
  supplierComponents,
  TOP_REASONS,
  type ModelRecord,
} from "../../scoring/service";

/**
 * Quality-risk scores (services/scoring/service): the models, scores of production-run
 * parameters, supplier risk and batch risk. How each is built: README "Scores".
 */

const Num = Type.Number();
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const AnyRecord = Type.Record(Type.String(), Type.Unknown());
const ModelHash = Type.String({ pattern: "^[0-9a-f]{64}$", description: "SHA-256 (hex) of the model file's canonical JSON" });
const RiskBand = Type.Union([Type.Literal("low"), Type.Literal("medium"), Type.Literal("high")]);

const Kelvin = Type.Number({ exclusiveMinimum: 0, maximum: 5000, description: "kelvin" });
const NonNegative = Type.Number({ minimum: 0 });
const ProductType = Type.Union([Type.String({ pattern: "^[LMHlmh]$" }), Type.Integer({ minimum: 0, maximum: 2 })], {
  description: "L, M or H (or 0, 1, 2)",
});
const orNull = (t: TSchema) => Type.Optional(Type.Union([t, Type.Null()]));

const Params = Type.Object(
  {
    airTemperatureK: orNull(Kelvin),
    processTemperatureK: orNull(Kelvin),
    rotationalSpeedRpm: orNull(NonNegative),
    torqueNm: orNull(NonNegative),
    toolWearMin: orNull(NonNegative),
    productType: orNull(ProductType),
    airTemp: orNull(Kelvin),
    processTemp: orNull(Kelvin),
    rotationalSpeed: orNull(NonNegative),
    torque: orNull(NonNegative),
    toolWear: orNull(NonNegative),
  },
  {
    additionalProperties: Type.Number(),
    maxProperties: 64,
    description:
      "A run's process parameters under their API names (airTemperatureK, processTemperatureK, rotationalSpeedRpm, torqueNm, toolWearMin, " +
      "productType) or the model's (airTemp, processTemp, rotationalSpeed, torque, toolWear, productType). Other numeric parameters are ignored.",
  },
);

const QualityBody = Type.Object(
  {
    runs: Type.Array(
      Type.Object(
        {
          id: Type.Optional(
            Type.String({ minLength: 1, maxLength: 200, description: "your id of the run, recorded with the score" }),
          ),
          params: Params,
        },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: 1000 },
    ),
  },
  { additionalProperties: false },
);

const Reason = Type.Object({
  feature: Type.String({ description: "API name of the parameter" }),
  modelInput: Type.String({ description: "its name in the model file" }),
  value: Num,
  reference: Type.Number({ description: "the training median it is compared with" }),
  direction: Type.Union([Type.Literal("raises"), Type.Literal("lowers")]),
  contribution: Type.Number({ description: "probability minus the probability with this parameter at its training median" }),
});

const QualityFields = {
  scorable: Type.Boolean(),
  probability: Type.Optional(Num),
  riskBand: Type.Optional(RiskBand),
  reasons: Type.Optional(Type.Array(Reason)),
  outsideTrainingRange: Type.Optional(Type.Array(Type.String())),
  missing: Type.Optional(Type.Array(Type.String(), { description: "inputs the run lacks (API names): not scored, not guessed" })),
  invalid: Type.Optional(Type.Array(Type.String())),
  modelHash: ModelHash,
};

const QualityResult = Type.Object({
  id: Nullable(Type.String()),
  ...QualityFields,
  inputsHash: Type.String({ description: "SHA-256 of the canonical JSON of the inputs under the model's names" }),
  scoreId: Type.String(),
});

const RunFields = {
  runId: Type.String(),
  orgId: Type.String(),
  site: Type.String(),
  line: Type.String(),
  startTime: Iso,
  endTime: Iso,
  scoredAt: Iso,
};
const RunScore = Type.Object({ ...RunFields, ...QualityFields });
const UpstreamRunScore = Type.Object({
  origin: Type.Object(
    { orgId: Type.String(), servedBy: Type.String({ description: "the node that served the run (this node's URL for its own)" }), verified: Type.Boolean() },
    { description: "where the run came from: federation replicas keep their owner and holder" },
  ),
  lotId: Hex32,
  lot: Type.String(),
  gtin: Type.String(),
  depth: Type.Integer(),
  ...RunFields,
  ...QualityFields,
});

const Proof = Type.Object({
  recordId: Type.String(),
  kind: Type.String(),
  leaf: Hex32,
  status: Type.Union([Type.Literal("pending"), Type.Literal("anchored")]),
  merkleRoot: Nullable(Hex32),
  proof: Type.Array(Hex32),
  transactionHash: Nullable(Hex32),
  blockNumber: Type.Union([Type.Integer(), Type.Null()]),
  anchoredAt: Nullable(Iso),
  anchoredBy: AnchoredBy,
  verified: Type.Boolean(),
});

const Model = Type.Object({
  modelHash: ModelHash,
  active: Type.Boolean({ description: "the model this node scores with" }),
  format: Type.String(),
  target: Type.String(),
  learner: AnyRecord,
  inputs: Type.Array(
    Type.Object({ name: Type.String(), apiName: Type.String(), unit: Type.String(), description: Type.String() }),
  ),
  features: Type.Array(Type.Object({ name: Type.String(), unit: Type.String(), definition: Type.String() })),
  threshold: Num,
  riskBands: Type.Object({ medium: Num, high: Num }),
  training: AnyRecord,
  crossValidation: AnyRecord,
  explanation: Type.Object({ method: Type.String() }),
  createdAt: Iso,
  recordId: Type.String(),
});
const ModelDetail = Type.Object({
  ...Model.properties,
  anchor: Type.Union([Proof, Type.Null()]),
  verified: Type.Boolean({
    description: "the anchored leaf is this model hash and its proof reaches a root anchored on the indexed chain",
  }),
});

const Component = Type.Object({
  name: Type.String(),
  weight: Num,
  value: Nullable(Num),
  status: Type.Union([Type.Literal("ok"), Type.Literal("missing"), Type.Literal("not_observable")]),
  formula: Type.String(),
  evidence: AnyRecord,
  note: Type.Optional(Type.String()),
  sampleSize: Type.Optional(Type.Integer({ description: "the supplier's observations behind a rate component" })),
  events: Type.Optional(Type.Integer({ description: "its bad outcomes among them" })),
  rawValue: Type.Optional(Nullable(Num)),
  interval: Type.Optional(Nullable(Type.Tuple([Num, Num], { description: "95 % credible interval of the shrunk rate" }))),
  prior: Type.Optional(
    Type.Object({ mean: Num, strength: Num, consortiumEvents: Type.Integer(), consortiumSampleSize: Type.Integer() }),
  ),
});

const Anomaly = Type.Object({
  type: Type.Union([
    Type.Literal("sensor_excursion"),
    Type.Literal("sensor_alarm"),
    Type.Literal("dwell_outlier"),
    Type.Literal("fast_handover"),
  ]),
  source: Type.Union([Type.Literal("chain"), Type.Literal("epcis")]),
  at: Type.String(),
  detail: Type.String(),
  evidence: AnyRecord,
});

const BatchScore = Type.Object({
  batchId: Hex32,
  lotId: Hex32,
  gtin: Type.String(),
  lot: Type.String(),
  digitalLink: Type.String(),
  recall: Type.Union([
    Type.Null(),
    Type.Object({ kind: Type.String(), reason: Nullable(Type.String()), sourceBatchId: Nullable(Hex32), at: Iso }),
  ]),
  modelHash: ModelHash,
  ownQuality: Type.Union([
    Type.Null(),
    Type.Object({
      probability: Nullable(Num),
      riskBand: Type.Union([RiskBand, Type.Null()]),
      rule: Type.String(),
      modelHash: ModelHash,
      runs: Type.Array(RunScore),
    }),
  ]),
  inheritedRisk: Type.Object({
    score: Nullable(Num),
    rule: Type.String(),
    upstreamBatches: Type.Integer(),
    truncated: Type.Boolean(),
    recalls: Type.Array(
      Type.Object({
        batchId: Hex32,
        gtin: Type.String(),
        lot: Type.String(),
        depth: Type.Integer(),
        reason: Nullable(Type.String()),
        byOrgId: Nullable(Type.String()),
        at: Iso,
      }),
    ),
    maxUpstreamProbability: Nullable(Num),
    meanUpstreamProbability: Nullable(Num),
    modelHash: ModelHash,
    upstreamRuns: Type.Array(UpstreamRunScore),
  }),
  anomalies: Type.Array(Anomaly),
  checks: AnyRecord,
  notShared: Type.Array(
    Type.Object({ batchId: Type.String(), orgId: Type.String(), reason: Type.Literal("not_shared") }),
    { description: "records the reader may not see (their owner has not granted it): left out of the score, never counted as zero" },
  ),
});

const problems = { 400: { $ref: "Problem#" }, 404: { $ref: "Problem#" }, 503: { $ref: "Problem#" } };

const principals = new WeakMap<FastifyRequest, Principal>();

/** Supplier-score components computed from the supplier's production-run records (off-chain). */
const RUN_COMPONENTS = new Set<string>(["predictedQualityFailures", "observedQualityFailures"]);

export const scoreRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, { db, auth, state, publicUrl }) => {
  const sharing = createSharingStore(db);
  const provenance = createProvenanceStore(db);
  const scoring = scoringFor(db);
  const batches = createBatchScorer(db, scoring, { here: publicUrl });

  /** Runs `fn`, answering 503 while the model is not loaded. */
  function withModel<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      if (err instanceof ModelUnavailableError) throw new HttpProblem(503, "model_unavailable", err.message);
      throw err;
    }
  }

  function modelView(record: ModelRecord) {
    return {
      ...record,
      active: scoring.model?.modelHash === record.modelHash,
      inputs: record.inputs.map((i) => ({ ...i, apiName: API_NAMES[i.name] })),
      recordId: modelRecordId(record.modelHash),
    };
  }

  const requireBatch = (ref: string): BatchView => requireBatchRef(provenance, ref);

  app.get(
    "/api/v1/models",
    {
      schema: {
        summary: "Quality models this node has scored with: metadata, and which one is active",
        tags: ["scores"],
        response: { 200: Type.Object({ items: Type.Array(Model), nextCursor: Type.Null() }), 429: { $ref: "Problem#" } },
      },
    },
    async () => ({ items: listModelRecords(db).map(modelView), nextCursor: null }),
  );

  app.get(
    "/api/v1/models/:hash",
    {
      schema: {
        summary: "A quality model's metadata with the anchoring proof of its hash",
        description:
          "The anchored leaf is the model hash itself (bytes32): anyone holding the model file can recompute it and check the proof.",
        tags: ["scores"],
        params: Type.Object({ hash: Type.String({ pattern: "^(0x)?[0-9a-fA-F]{64}$" }) }),
        response: { 200: ModelDetail, ...problems },
      },
    },
    async (request) => {
      const hash = request.params.hash.replace(/^0x/, "").toLowerCase();
      const record = getModelRecord(db, hash);
      if (!record) throw new HttpProblem(404, "model_not_found", `no model ${hash} is recorded on this node`);
      const anchor = proofOf(db, modelRecordId(hash));
      return { ...modelView(record), anchor, verified: anchor !== null && anchor.verified && anchor.leaf === modelLeaf(hash) };
    },
  );

  app.post(
    "/api/v1/scores/quality",
    {
      schema: {
        summary: "Failure probability of production runs from their process parameters, with the top contributing parameters",
        description:
          `For a signed-in agent. Each run: probability, risk band, the ${TOP_REASONS} parameters that move it most (direction: raises / lowers) and the ` +
          "hash of the model; a run lacking an input of the model is answered `scorable: false` with the `missing` inputs, never scored from " +
          "guessed values. Every score is recorded with the run id, the inputs' hash, the output, the model hash and the time.",
        tags: ["scores"],
        security: [{ bearer: [] }],
        body: QualityBody,
        response: {
          200: Type.Object({ modelHash: ModelHash, results: Type.Array(QualityResult) }),
          ...problems,
          401: { $ref: "Problem#" },
        },
      },
      onRequest: async (request) => {
        principals.set(request, auth.authenticate(request.headers.authorization));
      },
    },
    async (request) => {
      const principal = principals.get(request)!;
      const runs = request.body.runs as { id?: string; params: Record<string, unknown> }[];
      const errors: { path: string; message: string }[] = [];
      runs.forEach((run, i) => {
        for (const c of mapParams(run.params).conflicts) {
          errors.push({
            path: `body/runs/${i}/params/${c.apiName}`,
            message: `is given as ${JSON.stringify(run.params[c.apiName])} and, as ${c.modelInput}, ${JSON.stringify(run.params[c.modelInput])}: give one value`,
          });
        }
      });
      if (errors.length)
        throw new HttpProblem(400, "invalid_request", errors.map((e) => `${e.path} ${e.message}`).join("; "), errors);
      return withModel(() => {
        const results = scoring.scoreRequests(runs, principal.address);
        return { modelHash: scoring.requireModel().modelHash, results };
      });
    },
  );

  app.get(
    "/api/v1/scores/runs/:runId",
    {
      schema: {
        summary: "The quality score of a production run recorded through the production-run API (scored automatically)",
        tags: ["scores"],
        params: Type.Object({ runId: Type.String({ pattern: "^pr_[0-9a-f]{24}$" }) }),
        response: { 200: RunScore, ...problems },
      },
    },
    async (request) =>
      withModel(() => {
        scoring.requireModel();
        // Null when the node has no such run (or no production-run records at all).
        const score = scoring.productionRunScore(request.params.runId);
        const run = score
          ? (db.prepare(`SELECT record FROM production_runs WHERE run_id = ?`).get(request.params.runId) as
              { record: string } | undefined)
          : undefined;
        if (!run || !score) throw new HttpProblem(404, "run_not_found", `no production run ${request.params.runId}`);
        const record = JSON.parse(run.record) as ProductionRunRecord;
        requireRecordAccess(
          sharing,
          readerOf(request, auth),
          Number(record.orgId),
          "PRODUCTION_RUN",
          () => sharing.subjectOf(runBatchIds(record)),
          `the score of production run ${request.params.runId}`,
        );
        return {
          runId: request.params.runId,
          orgId: record.orgId,
          site: record.site,
          line: record.line,
          startTime: record.startTime,
          endTime: record.endTime,
          scoredAt: score.scoredAt,
          ...score.output,
        };
      }),
  );

  app.get(
    "/api/v1/scores/suppliers/:orgId",
    {
      schema: {
        summary: "A supplier's 0–100 risk score with every component, its weight, formula and evidence",
        description:
          "score = 100 × Σ(weight × value) / Σ(weight) over the components with data (each value in [0, 1], 1 = worst); components without data " +
          "are reported `missing` and left out, never counted as 0; null when none has data. Rate components (late deliveries, disputes, " +
          "recalls caused, credentials, custody gaps) are shrunk toward the consortium's rate with a Beta prior and report their sample size " +
          "and 95 % credible interval; a lot counts once however many portions it has; recalls the supplier only held or bought into " +
          "(`recallsExposedTo`) are shown with weight 0, apart from those it caused (`recallsCaused`).",
        tags: ["scores"],
        params: Type.Object({ orgId: IdString }),
        response: {
          200: Type.Object({
            orgId: Type.String(),
            name: Type.String(),
            score: Nullable(Num),
            coverage: Type.Number({ description: "share of the total weight whose component had data" }),
            formula: Type.String(),
            modelHash: Nullable(ModelHash),
            computedAt: Iso,
            components: Type.Array(Component),
          }),
          ...problems,
        },
      },
    },
    async (request) => {
      const reader = requireMember(request, auth);
      const orgId = Number(request.params.orgId);
      const org = db.prepare(`SELECT name FROM organisations WHERE org_id = ?`).get(orgId) as { name: string } | undefined;
      if (!org) throw new HttpProblem(404, "org_not_found", `no organisation ${orgId}`);
      const now = Date.now();
      const modelHash = scoring.model?.modelHash ?? null;
      // Components over the supplier's production runs need an unscoped grant of them; the on-chain ones every member sees.
      const runsShared = mayReadRecord(sharing, reader, orgId, "PRODUCTION_RUN", null);
      const components = supplierComponents(db, orgId, { now, modelHash }).map((c) =>
        runsShared || !RUN_COMPONENTS.has(c.name)
          ? c
          : {
              ...c,
              value: null,
              status: "missing" as const,
              evidence: {},
              note: `not_shared: organisation ${orgId} has not granted organisation ${reader.orgId} read access to its production runs`,
            },
      );
      const result = combine(components);
      return { orgId: String(orgId), name: org.name, ...result, modelHash, computedAt: new Date(now).toISOString() };
    },
  );

  app.get(
    "/api/v1/scores/batches/:ref",
    {
      schema: {
        summary: "A batch's own quality risk, the risk inherited from its upstream lineage, and anomaly flags",
        description:
          "`ownQuality`: the production runs that made its lot, scored by the model. `inheritedRisk`: the maximum over the upstream lineage of " +
          "1 for a batch recalled directly and each upstream run's failure probability (null when nothing upstream is known). `anomalies`: EPCIS sensor excursions (outside the product's " +
          "storage range) and alarms, dwell-time outliers per step (robust z > 3.5 against the consortium's history), hand-overs between " +
          "countries faster than 6 h. `checks` says what was examined.",
        tags: ["scores"],
        params: Type.Object({
          ref: Type.String({
            minLength: 1,
            maxLength: 512,
            description: "batch id (0x…) or URL-encoded GS1 Digital Link of a lot",
          }),
        }),
        response: { 200: BatchScore, ...problems },
      },
    },
    async (request) => {
      const reader = requireMember(request, auth);
      const batch = requireBatch(request.params.ref);
      // Upstream runs held by other members' nodes are fetched first (federation), as the reader's organisation.
      await state.federation?.ensureUpstream(batch.id, reader.orgId);
      return withModel(() => batches.score(batch, visibilityOf(sharing, reader)));
    },
  );
};
