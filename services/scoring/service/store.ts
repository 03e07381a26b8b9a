import { canonicalize } from "json-canonicalize";
import type { Db } from "../../store/db";
import { prepared } from "../../store/statements";
import { queueForAnchoring } from "../../anchoring/outbox";
import type { ModelFile } from "../model";

/**
 * The scoring tables (migration "quality models and scores"): `models`, a small record of each
 * model the node has scored with, anchored through the outbox (kind MODEL, leaf = the model file's
 * SHA-256 `modelHash`), and `quality_scores`, every quality score with the hash of the model that
 * produced it. Both are primary data: never derived from the chain, never rolled back.
 */
export const MODEL_ANCHOR_KIND = "MODEL";
export const modelRecordId = (modelHash: string) => `model:${modelHash}`;
/** The anchored leaf: the model hash as bytes32. */
export const modelLeaf = (modelHash: string) => `0x${modelHash.toLowerCase()}`;

export interface ModelRecord {
  modelHash: string;
  format: string;
  target: string;
  learner: ModelFile["learner"];
  inputs: ModelFile["inputs"];
  features: ModelFile["features"];
  threshold: number;
  riskBands: ModelFile["riskBands"];
  training: Omit<ModelFile["training"], "columns" | "ranges"> & { ranges: ModelFile["training"]["ranges"] };
  crossValidation: ModelFile["crossValidation"];
  explanation: { method: string };
  createdAt: string;
}

/** The metadata kept of a model file (not the booster itself: the file's hash commits to it). */
export function modelRecordOf(file: ModelFile, createdAt: string): ModelRecord {
  return {
    modelHash: file.modelHash,
    format: file.format,
    target: file.target,
    learner: file.learner,
    inputs: file.inputs,
    features: file.features,
    threshold: file.threshold,
    riskBands: file.riskBands,
    training: {
      file: file.training.file,
      sha256: file.training.sha256,
      rows: file.training.rows,
      positives: file.training.positives,
      ranges: file.training.ranges,
    },
    crossValidation: file.crossValidation,
    explanation: { method: file.explanation.method },
    createdAt,
  };
}

/**
 * Stores the model's record and queues its hash for anchoring, in ONE transaction; a model already
 * recorded is left as it is. Returns whether it was new.
 */
export function recordModel(db: Db, file: ModelFile, now = new Date()): boolean {
  return db.transaction(() => {
    const record = modelRecordOf(file, now.toISOString());
    const inserted = prepared(
      db,
      `INSERT INTO models (model_hash, learner, features, threshold, cv_metrics, record, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (model_hash) DO NOTHING`,
    ).run(
      file.modelHash,
      canonicalize(file.learner),
      canonicalize(file.features.map((f) => f.name)),
      file.threshold,
      canonicalize(file.crossValidation),
      canonicalize(record),
      record.createdAt,
    ).changes;
    queueForAnchoring(db, { recordId: modelRecordId(file.modelHash), kind: MODEL_ANCHOR_KIND, hash: modelLeaf(file.modelHash) });
    return inserted === 1;
  })();
}

export function getModelRecord(db: Db, modelHash: string): ModelRecord | null {
  const row = prepared(db, `SELECT record FROM models WHERE model_hash = ?`).get(modelHash.toLowerCase()) as
    { record: string } | undefined;
  return row ? (JSON.parse(row.record) as ModelRecord) : null;
}

export function listModelRecords(db: Db): ModelRecord[] {
  return (prepared(db, `SELECT record FROM models ORDER BY created_at, model_hash`).all() as { record: string }[]).map(
    (r) => JSON.parse(r.record) as ModelRecord,
  );
}

export type ScoreSource = "request" | "production_run";

export interface ScoreRow<Output> {
  source: ScoreSource;
  runId: string | null;
  inputsHash: string;
  scorable: boolean;
  probability: number | null;
  riskBand: string | null;
  output: Output;
  modelHash: string;
  /** The agent that asked (requests only). */
  requestedBy?: string | null;
}

/** Stores scores in one transaction; returns their ids (null for a production run's score that already existed). */
export function insertScores<Output>(db: Db, rows: ScoreRow<Output>[], now = new Date()): (number | null)[] {
  return db.transaction(() => {
    const insert = prepared(
      db,
      `INSERT INTO quality_scores (source, run_id, inputs_hash, scorable, probability, risk_band, output, model_hash, requested_by, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
    );
    return rows.map((r) => {
      const result = insert.run(
        r.source,
        r.runId,
        r.inputsHash,
        r.scorable ? 1 : 0,
        r.probability,
        r.riskBand,
        JSON.stringify(r.output),
        r.modelHash,
        r.requestedBy ?? null,
        now.toISOString(),
      );
      return result.changes === 1 ? Number(result.lastInsertRowid) : null;
    });
  })();
}

export interface StoredScore<Output> {
  scoreId: number;
  runId: string | null;
  inputsHash: string;
  output: Output;
  modelHash: string;
  scoredAt: string;
}

/** The score of a production run by a model, if it was scored. */
export function productionRunScore<Output>(db: Db, runId: string, modelHash: string): StoredScore<Output> | null {
  const row = prepared(
    db,
    `SELECT seq, run_id, inputs_hash, output, model_hash, created_at FROM quality_scores WHERE source = 'production_run' AND run_id = ? AND model_hash = ?`,
  ).get(runId, modelHash) as
    { seq: number; run_id: string; inputs_hash: string; output: string; model_hash: string; created_at: string } | undefined;
  return row
    ? {
        scoreId: row.seq,
        runId: row.run_id,
        inputsHash: row.inputs_hash,
        output: JSON.parse(row.output) as Output,
        modelHash: row.model_hash,
        scoredAt: row.created_at,
      }
    : null;
}

export function hasTable(db: Db, table: string): boolean {
  return prepared(db, `SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`).get(table) !== undefined;
}
