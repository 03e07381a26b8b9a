import fs from "node:fs";
import type { Db } from "../../store/db";
import { prepared } from "../../store/statements";
import { INPUT_NAMES, type InputName } from "../features";
import { defaultModelPath, ensureDefaultModel, writeModelFile } from "../default-model";
import { scoreRun, type ModelFile, type QualityModel, type RiskBand } from "../model";
import { API_NAMES, inputsHash, mapParams } from "./params";
import { hasTable, insertScores, productionRunScore, recordModel, type StoredScore } from "./store";
import { createWorkerThread, type WorkerThread } from "../../runtime/worker";

/**
 * The node's quality scoring: the default model (trained at first start, cached in the data dir,
 * recorded and anchored), scoring of submitted parameters, and the job that scores every
 * production run recorded through the production-run API. One service per database
 * (`scoringFor(db)`), like the EPCIS capture job: the node starts it during boot, the routes use it.
 */

/** How many contributing parameters a score lists, largest contribution first. */
export const TOP_REASONS = 3;

export interface ApiReason {
  /** The parameter's API name (torqueNm…). */
  feature: string;
  /** Its name in the model file (torque…). */
  modelInput: InputName;
  value: number;
  /** The training median it was compared against. */
  reference: number;
  direction: "raises" | "lowers";
  /** Probability of this run minus the probability with this parameter at its training median. */
  contribution: number;
}

export type QualityOutput =
  | {
      scorable: true;
      probability: number;
      riskBand: RiskBand;
      reasons: ApiReason[];
      /** API names of inputs outside the training data's range (the trees extrapolate flat there). */
      outsideTrainingRange: string[];
      modelHash: string;
    }
  | { scorable: false; missing: string[]; invalid: string[]; modelHash: string };

export class ModelUnavailableError extends Error {
  override name = "ModelUnavailableError";
}

interface Log {
  info(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** The default model file trained by this process, so a second node in it (tests) does not train again. */
let trainedDefault: ModelFile | null = null;

/** Scores raw parameters (either vocabulary, other parameters ignored) with a model; nothing is guessed. */
export function scoreParams(
  model: QualityModel,
  raw: Readonly<Record<string, unknown>>,
): { output: QualityOutput; inputsHash: string } {
  const { params, conflicts } = mapParams(raw);
  const hash = inputsHash(params);
  const result = scoreRun(model, params, { maxReasons: TOP_REASONS });
  if (!result.scorable || conflicts.length > 0) {
    const conflicting = new Set(conflicts.map((c) => c.modelInput));
    const missing = result.scorable ? [] : result.missing;
    const invalid = INPUT_NAMES.filter((n) => conflicting.has(n) || (!result.scorable && result.invalid.includes(n)));
    return {
      output: {
        scorable: false,
        missing: missing.map((n) => API_NAMES[n]),
        invalid: invalid.map((n) => API_NAMES[n]),
        modelHash: model.modelHash,
      },
      inputsHash: hash,
    };
  }
  return {
    output: {
      scorable: true,
      probability: result.probability,
      riskBand: result.riskBand,
      reasons: result.reasons.map((r) => ({
        feature: API_NAMES[r.feature],
        modelInput: r.feature,
        value: r.value,
        reference: r.reference,
        direction: r.direction,
        contribution: r.contribution,
      })),
      outsideTrainingRange: result.outsideTrainingRange.map((n) => API_NAMES[n]),
      modelHash: result.modelHash,
    },
    inputsHash: hash,
  };
}

export interface RequestedRun {
  id?: string;
  params: Record<string, unknown>;
}

export type RequestScore = QualityOutput & { id: string | null; scoreId: string; inputsHash: string };

export function createScoringService(db: Db) {
  let model: QualityModel | null = null;
  let failure: string | null = null;
  let starting: Promise<QualityModel | null> | null = null;
  const productionRuns = () => hasTable(db, "production_runs");

  function requireModel(): QualityModel {
    if (model) return model;
    throw new ModelUnavailableError(
      failure
        ? `the quality model could not be loaded: ${failure}`
        : "the quality model is still being prepared (the node is starting)",
    );
  }

  /** Scores a batch of the current production runs not yet scored by the model; returns how many. */
  function scoreProductionRuns(limit = 500): number {
    if (!model || !productionRuns()) return 0;
    const current = model;
    const rows = prepared(
      db,
      `SELECT r.run_id, r.record FROM production_runs r
       WHERE r.superseded_by IS NULL
         AND NOT EXISTS (SELECT 1 FROM quality_scores s WHERE s.source = 'production_run' AND s.run_id = r.run_id AND s.model_hash = ?)
       ORDER BY r.seq LIMIT ?`,
    ).all(current.modelHash, limit) as { run_id: string; record: string }[];
    if (rows.length === 0) return 0;
    insertScores(
      db,
      rows.map((row) => {
        const record = JSON.parse(row.record) as { processParameters?: Record<string, unknown> };
        const { output, inputsHash: hash } = scoreParams(current, record.processParameters ?? {});
        return {
          source: "production_run" as const,
          runId: row.run_id,
          inputsHash: hash,
          scorable: output.scorable,
          probability: output.scorable ? output.probability : null,
          riskBand: output.scorable ? output.riskBand : null,
          output,
          modelHash: current.modelHash,
        };
      }),
    );
    return rows.length;
  }

  let thread: WorkerThread | null = null;

  /**
   * scoreProductionRuns with the scoring itself in a worker thread (the job's bulk rounds): the
   * same rows, scores and records, without holding the event loop while a batch is scored.
   */
  async function scoreProductionRunsOffThread(limit = 500): Promise<number> {
    if (!model || !productionRuns()) return 0;
    const current = model;
    const rows = prepared(
      db,
      `SELECT r.run_id, r.record FROM production_runs r
       WHERE r.superseded_by IS NULL
         AND NOT EXISTS (SELECT 1 FROM quality_scores s WHERE s.source = 'production_run' AND s.run_id = r.run_id AND s.model_hash = ?)
       ORDER BY r.seq LIMIT ?`,
    ).all(current.modelHash, limit) as { run_id: string; record: string }[];
    if (rows.length === 0) return 0;
    const params = rows.map((row) => (JSON.parse(row.record) as { processParameters?: Record<string, unknown> }).processParameters ?? {});
    thread ??= createWorkerThread("scoring");
    const scored = await thread.run<{ output: QualityOutput; inputsHash: string }[]>(require.resolve("./score-worker"), "scoreInWorker", [
      current.file,
      params,
    ]);
    // A score the routes recorded meanwhile for the same run and model is kept (ON CONFLICT DO NOTHING).
    insertScores(
      db,
      scored.map(({ output, inputsHash: hash }, i) => ({
        source: "production_run" as const,
        runId: rows[i].run_id,
        inputsHash: hash,
        scorable: output.scorable,
        probability: output.scorable ? output.probability : null,
        riskBand: output.scorable ? output.riskBand : null,
        output,
        modelHash: current.modelHash,
      })),
    );
    return rows.length;
  }

  return {
    /** The loaded model, or null while starting (or when loading failed). */
    get model(): QualityModel | null {
      return model;
    },
    status(): { state: "starting" | "ready" | "failed"; error: string | null } {
      return { state: model ? "ready" : failure ? "failed" : "starting", error: failure };
    },
    requireModel,

    /**
     * Trains (first start) or loads the default model from the data dir, then records it and
     * queues its hash for anchoring in one transaction. A failure does not stop the node (its
     * traceability does not depend on scores): it is logged and kept, the scoring routes answer
     * 503 with it, and the promise resolves to null.
     */
    start(dataDir: string, log?: Log): Promise<QualityModel | null> {
      starting ??= (async () => {
        const file = defaultModelPath(dataDir);
        // The training is deterministic: a file this process already trained is the same file.
        if (trainedDefault && !fs.existsSync(file)) writeModelFile(file, trainedDefault);
        const started = Date.now();
        try {
          const loaded = await ensureDefaultModel(dataDir, (p) =>
            log?.info({ step: p.step, of: p.total }, `training the default quality model: ${p.label}`),
          );
          trainedDefault = loaded.file;
          const created = recordModel(db, loaded.file);
          model = loaded;
          log?.info({ modelHash: loaded.modelHash, ms: Date.now() - started, recorded: created }, "quality model ready");
          return loaded;
        } catch (err) {
          failure = (err as Error).message;
          log?.error({ err: failure }, "the quality model could not be loaded; quality scores are unavailable");
          return null;
        }
      })();
      return starting;
    },

    scoreParams(raw: Readonly<Record<string, unknown>>) {
      return scoreParams(requireModel(), raw);
    },

    /** Scores submitted runs and records every score (with its run id, inputs hash and model hash) in one transaction. */
    scoreRequests(runs: RequestedRun[], requestedBy: string | null = null): RequestScore[] {
      const current = requireModel();
      const scored = runs.map((run) => ({ id: run.id ?? null, ...scoreParams(current, run.params) }));
      const ids = insertScores(
        db,
        scored.map((s) => ({
          source: "request" as const,
          runId: s.id,
          inputsHash: s.inputsHash,
          scorable: s.output.scorable,
          probability: s.output.scorable ? s.output.probability : null,
          riskBand: s.output.scorable ? s.output.riskBand : null,
          output: s.output,
          modelHash: current.modelHash,
          requestedBy,
        })),
      );
      return scored.map((s, i) => ({ id: s.id, ...s.output, scoreId: String(ids[i]), inputsHash: s.inputsHash }));
    },

    scoreProductionRuns,

    /**
     * The score of a current production run by the loaded model, scoring it now if the job has not
     * reached it yet. Null when there is no model or no such current run.
     */
    productionRunScore(runId: string): StoredScore<QualityOutput> | null {
      if (!model || !productionRuns()) return null;
      const stored = productionRunScore<QualityOutput>(db, runId, model.modelHash);
      if (stored) return stored;
      const row = prepared(db, `SELECT record FROM production_runs WHERE run_id = ?`).get(runId) as
        { record: string } | undefined;
      if (!row) return null;
      const { output, inputsHash: hash } = scoreParams(
        model,
        (JSON.parse(row.record) as { processParameters?: Record<string, unknown> }).processParameters ?? {},
      );
      insertScores(db, [
        {
          source: "production_run",
          runId,
          inputsHash: hash,
          scorable: output.scorable,
          probability: output.scorable ? output.probability : null,
          riskBand: output.scorable ? output.riskBand : null,
          output,
          modelHash: model.modelHash,
        },
      ]);
      return productionRunScore<QualityOutput>(db, runId, model.modelHash);
    },

    /** The background job: scores production runs recorded since its last round. */
    job: {
      name: "quality-scoring",
      async runOnce(): Promise<number> {
        let total = 0;
        for (let n = await scoreProductionRunsOffThread(); n > 0 && total < 10_000; n = await scoreProductionRunsOffThread()) total += n;
        return total;
      },
    },

    scoreProductionRunsOffThread,

    stop(): void {
      void thread?.close();
      thread = null;
      model?.dispose();
      model = null;
      failure ??= "the node is stopping";
    },
  };
}
export type ScoringService = ReturnType<typeof createScoringService>;

const services = new WeakMap<Db, ScoringService>();

/** The scoring service of a database (created on first use). */
export function scoringFor(db: Db): ScoringService {
  let service = services.get(db);
  if (!service) services.set(db, (service = createScoringService(db)));
  return service;
}
