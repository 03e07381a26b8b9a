import { SEE_EVERYTHING, type NotSharedGap, type RecordVisibility } from "../../sharing/grants";
import { runBatchIds, type ProductionRunRecord } from "../../analytics/record";
import type { Db } from "../../store/db";
import { prepared } from "../../store/statements";
import { createProvenanceStore, type BatchView } from "../../store/provenance";
import { batchIdentifiers, eventNamesBatch } from "../../epcis/mapping/batches";
import { createUnitContents } from "../../store/logistic-units";
import { dwellOutliers, MIN_HISTORY, OUTLIER_Z, type DwellStep } from "./robust";
import { fastHandovers, MIN_CROSS_BORDER_TRANSIT_HOURS, type LocatedEntry } from "./transit";
import { sensorFindings, type StorageRange } from "./sensors";
import { hasTable } from "./store";
import type { QualityOutput, ScoringService } from "./service";

/**
 * A batch's risk: its own quality (the production runs that made its lot, scored by the model),
 * the risk it inherits from its upstream lineage, and anomaly flags from its history (EPCIS
 * sensor reports, dwell times, hand-overs faster than the locations allow). EPCIS and
 * production-run data are used when the node has them (their tables exist and hold records).
 */

export const INHERITED_RULE =
  "max over the upstream lineage of: 1 for every upstream batch recalled directly (the recall reaches this batch), and the failure " +
  "probability of every scored production run that made an upstream lot; null when the lineage holds neither (nothing upstream is " +
  "known: unknown, not 0)";
const MAX_UPSTREAM_DEPTH = 100;

/** Timeline entries that are not custody steps (recall propagation and order bookkeeping), left out of dwell times. */
const NOT_STEPS = new Set(["recalled", "recall_propagated", "delivered_for_order"]);
/** Roles under which an EPCIS event names an object (not its place or parties). */
const OBJECT_ROLES = [
  "epc",
  "epcClass",
  "parent",
  "child",
  "childEPCClass",
  "input",
  "inputEPCClass",
  "output",
  "outputEPCClass",
];

export type RunScore = {
  runId: string;
  orgId: string;
  site: string;
  line: string;
  startTime: string;
  endTime: string;
  scoredAt: string;
  /** Where the run came from (federation): its owner, the node that served it, whether its proof held. */
  origin: { orgId: string; servedBy: string; verified: boolean };
} & QualityOutput;

export interface Anomaly {
  type: "sensor_excursion" | "sensor_alarm" | "dwell_outlier" | "fast_handover";
  source: "chain" | "epcis";
  at: string;
  detail: string;
  evidence: Record<string, unknown>;
}

interface TimelineRow {
  batch_id: string;
  type: string;
  details: string;
  time: string;
  tx_hash: string;
}

const iso = (ms: number) => new Date(ms).toISOString();
const shortStep = (uri: string | null) => (uri ? uri.replace(/^https:\/\/ref\.gs1\.org\/cbv\/BizStep-/, "") : "unspecified");
const stepName = (row: { type: string; details: string }) => {
  if (row.type !== "observed") return row.type;
  const bizStep = (JSON.parse(row.details) as { bizStep?: string }).bizStep;
  return bizStep ? `observed:${bizStep}` : "observed";
};
const glnOfPlace = (place: string | null) =>
  place ? (/^https:\/\/id\.gs1\.org\/414\/([0-9]{13})(?:\/254\/.*)?$/.exec(place)?.[1] ?? null) : null;

/** The chain steps of one batch's timeline: consecutive custody-relevant entries. */
export function chainSteps(rows: readonly Pick<TimelineRow, "type" | "details" | "time">[]): DwellStep[] {
  const entries = rows.filter((r) => !NOT_STEPS.has(r.type));
  const steps: DwellStep[] = [];
  for (let i = 1; i < entries.length; i++) {
    const from = stepName(entries[i - 1]);
    const to = stepName(entries[i]);
    steps.push({
      key: `chain:${from}→${to}`,
      label: `${from} → ${to}`,
      start: Date.parse(entries[i - 1].time),
      end: Date.parse(entries[i].time),
    });
  }
  return steps;
}

/** The EPCIS steps of one object: from each event to the next, by the business step of the first. */
export function epcisSteps(events: readonly { eventTime: string; bizStep: string | null }[]): DwellStep[] {
  const steps: DwellStep[] = [];
  for (let i = 1; i < events.length; i++) {
    const step = shortStep(events[i - 1].bizStep);
    steps.push({
      key: `epcis:${step}`,
      label: `EPCIS ${step} → ${shortStep(events[i].bizStep)}`,
      start: Date.parse(events[i - 1].eventTime),
      end: Date.parse(events[i].eventTime),
    });
  }
  return steps;
}

interface History {
  version: string;
  /** Step key → durations (ms) with the batch or object they belong to. */
  steps: Map<string, { owner: string; ms: number }[]>;
}

const histories = new WeakMap<Db, History>();

function epcisAvailable(db: Db): boolean {
  return hasTable(db, "epcis_events") && hasTable(db, "epcis_event_identifiers");
}

/** Events of EPCIS objects, in time order, without error-declared events and declarations. */
function epcisObjectEvents(db: Db, ids: string[] | null) {
  const filter = ids ? `AND i.id IN (${ids.map(() => "?").join(", ")})` : "";
  return prepared(
    db,
    `SELECT i.id AS object, e.seq, e.event_id, e.event_time, e.biz_step, e.read_point, e.biz_location, e.org_id FROM epcis_event_identifiers i
       JOIN epcis_events e ON e.seq = i.seq
     WHERE i.role IN (${OBJECT_ROLES.map((r) => `'${r}'`).join(", ")}) ${filter}
       AND e.error_declaration_time IS NULL AND e.original_seq IS NULL
       AND NOT EXISTS (SELECT 1 FROM epcis_events d WHERE d.original_seq = e.seq)
     ORDER BY i.id, e.event_time, e.seq`,
  ).all(...(ids ?? [])) as {
    object: string;
    seq: number;
    org_id: number;
    event_id: string;
    event_time: string;
    biz_step: string | null;
    read_point: string | null;
    biz_location: string | null;
  }[];
}

function groupBy<T, K>(items: readonly T[], key: (item: T) => K): Map<K, T[]> {
  const out = new Map<K, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = out.get(k);
    if (list) list.push(item);
    else out.set(k, [item]);
  }
  return out;
}

/** The consortium's step durations (every batch timeline, every EPCIS object), cached until either grows. */
function history(db: Db): History {
  const chain = prepared(db, `SELECT COUNT(*) AS n, MAX(block_number) AS b FROM batch_events`).get() as {
    n: number;
    b: number | null;
  };
  const epcis = epcisAvailable(db)
    ? (prepared(db, `SELECT COUNT(*) AS n, MAX(seq) AS s FROM epcis_events`).get() as { n: number; s: number | null })
    : { n: 0, s: 0 };
  const version = `${chain.n}:${chain.b}:${epcis.n}:${epcis.s}`;
  const cached = histories.get(db);
  if (cached?.version === version) return cached;
  const steps = new Map<string, { owner: string; ms: number }[]>();
  const add = (owner: string, list: DwellStep[]) => {
    for (const s of list) {
      const entry = { owner, ms: s.end - s.start };
      const bucket = steps.get(s.key);
      if (bucket) bucket.push(entry);
      else steps.set(s.key, [entry]);
    }
  };
  const rows = prepared(
    db,
    `SELECT batch_id, type, details, time FROM batch_events ORDER BY batch_id, block_number, log_index`,
  ).all() as TimelineRow[];
  for (const [batchId, list] of groupBy(rows, (r) => r.batch_id)) add(batchId, chainSteps(list));
  if (epcisAvailable(db)) {
    for (const [object, list] of groupBy(epcisObjectEvents(db, null), (r) => r.object)) {
      add(object, epcisSteps(list.map((e) => ({ eventTime: e.event_time, bizStep: e.biz_step }))));
    }
  }
  const fresh = { version, steps };
  histories.set(db, fresh);
  return fresh;
}

/** The history of every step type, without the durations of the given owners (the batch under test). */
function historyWithout(h: History, owners: Set<string>): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const [key, list] of h.steps)
    out.set(
      key,
      list.filter((e) => !owners.has(e.owner)).map((e) => e.ms),
    );
  return out;
}

function storageRangeOf(store: ReturnType<typeof createProvenanceStore>, gtin: string): StorageRange | null {
  const range = store.product(gtin)?.masterData?.storageTemperature as Partial<StorageRange> | undefined;
  return range && typeof range.minCelsius === "number" && typeof range.maxCelsius === "number"
    ? { minCelsius: range.minCelsius, maxCelsius: range.maxCelsius }
    : null;
}

export function createBatchScorer(db: Db, service: ScoringService, options: { here?: () => string } = {}) {
  const here = options.here ?? (() => "this node");
  const store = createProvenanceStore(db);
  // What the current score() call may use (its reader's visibility) and what it had to leave out.
  let visible: RecordVisibility = SEE_EVERYTHING;
  let notShared = new Map<string, NotSharedGap>();
  const hide = (batchId: string, orgId: string) => notShared.set(`${batchId}:${orgId}`, { batchId, orgId, reason: "not_shared" });
  const runsAvailable = () => hasTable(db, "production_runs") && hasTable(db, "production_run_batches");

  /** The current production runs that made a lot, with their scores. */
  function runsProducing(lotId: string): RunScore[] {
    if (!runsAvailable()) return [];
    const rows = prepared(
      db,
      `SELECT r.run_id, r.record, r.served_by, r.verified_at FROM production_run_batches b JOIN production_runs r ON r.run_id = b.run_id
       WHERE b.batch_id = ? AND b.role = 'output' AND r.superseded_by IS NULL ORDER BY r.start_ms, r.seq`,
    ).all(lotId) as { run_id: string; record: string; served_by: string | null; verified_at: string | null }[];
    const out: RunScore[] = [];
    for (const row of rows) {
      const score = service.productionRunScore(row.run_id);
      if (!score) continue;
      const record = JSON.parse(row.record) as ProductionRunRecord;
      if (!visible(Number(record.orgId), "PRODUCTION_RUN", runBatchIds(record))) {
        hide(lotId, record.orgId);
        continue;
      }
      out.push({
        runId: row.run_id,
        orgId: record.orgId,
        site: record.site,
        line: record.line,
        startTime: record.startTime,
        endTime: record.endTime,
        scoredAt: score.scoredAt,
        origin: { orgId: record.orgId, servedBy: row.served_by ?? here(), verified: row.served_by === null || row.verified_at !== null },
        ...score.output,
      });
    }
    return out;
  }

  function worst(runs: RunScore[]) {
    const scorable = runs.filter((r): r is Extract<RunScore, { scorable: true }> => r.scorable);
    if (scorable.length === 0) return null;
    return scorable.reduce((a, b) => (b.probability > a.probability ? b : a));
  }

  function ownQuality(batch: BatchView) {
    const runs = runsProducing(batch.lotId);
    if (runs.length === 0) return null;
    const top = worst(runs);
    return {
      probability: top?.probability ?? null,
      riskBand: top?.riskBand ?? null,
      rule: "the highest failure probability of the current production runs that made the batch's lot (null when none of them is scorable)",
      modelHash: service.requireModel().modelHash,
      runs,
    };
  }

  function inheritedRisk(batch: BatchView) {
    const trace = store.lineage(batch.id, ["upstream"], MAX_UPSTREAM_DEPTH);
    const upstream = trace.nodes.filter((n) => n.id !== batch.id);
    const batches = store.getBatches(upstream.map((n) => n.id));
    const recalls = upstream
      .map((n) => ({ node: n, b: batches.get(n.id)! }))
      .filter(({ b }) => b.recall?.kind === "direct")
      .map(({ node, b }) => ({
        batchId: b.id,
        gtin: b.gtin,
        lot: b.lot,
        depth: node.depth,
        reason: b.recall!.reason,
        byOrgId: b.recall!.byOrgId,
        at: b.recall!.at,
      }));
    const lotDepth = new Map<string, { lot: string; gtin: string; depth: number }>();
    for (const n of upstream) {
      const b = batches.get(n.id)!;
      if (b.lotId === batch.lotId) continue;
      const known = lotDepth.get(b.lotId);
      if (!known || Math.abs(n.depth) < Math.abs(known.depth))
        lotDepth.set(b.lotId, { lot: b.lot, gtin: b.gtin, depth: n.depth });
    }
    const upstreamRuns = [...lotDepth].flatMap(([lotId, l]) =>
      runsProducing(lotId).map((run) => ({ lotId, lot: l.lot, gtin: l.gtin, depth: l.depth, ...run })),
    );
    const probabilities = upstreamRuns
      .filter((r) => r.scorable)
      .map((r) => (r as Extract<RunScore, { scorable: true }>).probability);
    const maxP = probabilities.length ? Math.max(...probabilities) : null;
    const meanP = probabilities.length
      ? Math.round((probabilities.reduce((s, p) => s + p, 0) / probabilities.length) * 1e6) / 1e6
      : null;
    return {
      score: recalls.length > 0 ? 1 : maxP,
      rule: INHERITED_RULE,
      upstreamBatches: upstream.length,
      truncated: trace.truncated,
      recalls,
      maxUpstreamProbability: maxP,
      meanUpstreamProbability: meanP,
      modelHash: service.requireModel().modelHash,
      upstreamRuns,
    };
  }

  function anomalies(batch: BatchView) {
    const found: Anomaly[] = [];
    const timeline = prepared(
      db,
      `SELECT batch_id, type, details, time, tx_hash FROM batch_events WHERE batch_id = ? ORDER BY block_number, log_index`,
    ).all(batch.id) as TimelineRow[];

    // EPCIS: the lot (class-level identifier) and the logistic units (SSCC) the batch travelled in —
    // a unit's events of the loads it was packed in only (services/store/logistic-units.ts).
    const units = createUnitContents(db);
    const ssccs = [
      ...new Set(timeline.filter((r) => r.type === "packed").map((r) => (JSON.parse(r.details) as { sscc: string }).sscc)),
    ];
    const objects = batchIdentifiers(batch, ssccs);
    const epcis = (epcisAvailable(db) ? epcisObjectEvents(db, objects) : []).filter((e) => {
      if (!eventNamesBatch(units, batch, [e.object], e.event_time)) return false;
      if (visible(e.org_id, "EPCIS", [batch.id])) return true;
      hide(batch.id, String(e.org_id));
      return false;
    });
    const range = storageRangeOf(store, batch.gtin);

    // 1. Sensor reports.
    const sensorCheck = {
      status: !epcisAvailable(db) ? "epcis_unavailable" : epcis.length === 0 ? "no_epcis_events" : "checked",
      events: 0,
      reports: 0,
      temperatureReports: 0,
      notJudged: 0,
      storageRange: range,
    };
    const seen = new Set<number>();
    for (const e of epcis) {
      if (seen.has(e.seq)) continue;
      seen.add(e.seq);
      const stored = prepared(db, `SELECT event FROM epcis_events WHERE seq = ?`).get(e.seq) as { event: string };
      const summary = sensorFindings(JSON.parse(stored.event) as Record<string, unknown>, range);
      sensorCheck.events++;
      sensorCheck.reports += summary.reports;
      sensorCheck.temperatureReports += summary.temperatureReports;
      sensorCheck.notJudged += summary.notJudged;
      for (const f of summary.findings) {
        const { type, detail, at, ...evidence } = f;
        found.push({ type, source: "epcis", at, detail, evidence });
      }
    }

    // 2. Dwell times per step type against the consortium's history (without this batch's own steps).
    const own: DwellStep[] = chainSteps(timeline);
    for (const [, list] of groupBy(epcis, (r) => r.object))
      own.push(...epcisSteps(list.map((e) => ({ eventTime: e.event_time, bizStep: e.biz_step }))));
    const dwell = dwellOutliers(own, historyWithout(history(db), new Set([batch.id, ...objects])));
    for (const o of dwell.outliers) {
      found.push({
        type: "dwell_outlier",
        source: o.key.startsWith("epcis:") ? "epcis" : "chain",
        at: iso(o.start),
        detail: `${o.label ?? o.key} took ${o.hours} h; the consortium's median for this step is ${o.medianHours} h (robust z ${o.z})`,
        evidence: { ...o, start: iso(o.start), end: iso(o.end) },
      });
    }

    // 3. Hand-overs faster than the locations allow: this batch's located entries, its ancestors' before it split off, EPCIS places.
    const located: LocatedEntry[] = [];
    const locatedOf = (rows: TimelineRow[], until = Number.POSITIVE_INFINITY) => {
      for (const r of rows) {
        const at = Date.parse(r.time);
        const location = (JSON.parse(r.details) as { location?: string | null }).location;
        if (at <= until && typeof location === "string" && location)
          located.push({ at, gln: location, type: stepName(r), source: "chain", ref: r.tx_hash });
      }
    };
    locatedOf(timeline);
    let child: BatchView | null = batch;
    for (let guard = 0; child?.parentId && guard < 64; guard++) {
      // A portion's material was its parent's until the split that created it.
      const parentRows = prepared(
        db,
        `SELECT batch_id, type, details, time, tx_hash FROM batch_events WHERE batch_id = ? ORDER BY block_number, log_index`,
      ).all(child.parentId) as TimelineRow[];
      locatedOf(parentRows, Date.parse(child.createdAt));
      child = store.getBatch(child.parentId);
    }
    for (const e of new Map(epcis.map((x) => [x.seq, x])).values()) {
      const gln = glnOfPlace(e.biz_location) ?? glnOfPlace(e.read_point);
      if (gln)
        located.push({
          at: Date.parse(e.event_time),
          gln,
          type: `epcis:${shortStep(e.biz_step)}`,
          source: "epcis",
          ref: e.event_id,
        });
    }
    const fast = fastHandovers(located);
    for (const f of fast) {
      found.push({
        type: "fast_handover",
        source: f.from.source === "epcis" || f.to.source === "epcis" ? "epcis" : "chain",
        at: iso(f.to.at),
        detail: `${f.from.type} at ${f.from.gln} (${f.from.country}) then ${f.to.type} at ${f.to.gln} (${f.to.country}) ${f.hours} h later; moving between countries takes at least ${f.minimumHours} h`,
        evidence: {
          from: { ...f.from, at: iso(f.from.at) },
          to: { ...f.to, at: iso(f.to.at) },
          hours: f.hours,
          minimumHours: f.minimumHours,
        },
      });
    }

    found.sort((a, b) => a.at.localeCompare(b.at) || a.type.localeCompare(b.type));
    return {
      anomalies: found,
      checks: {
        sensorReports: sensorCheck,
        dwellTimes: {
          stepsChecked: dwell.checked,
          stepsNotJudged: dwell.notJudged,
          threshold: OUTLIER_Z,
          minHistory: MIN_HISTORY,
        },
        transit: { locatedEntries: located.length, minimumCrossBorderHours: MIN_CROSS_BORDER_TRANSIT_HOURS },
      },
    };
  }

  return {
    /**
     * The batch's score from the records `visibility` lets its reader see (all by default: the
     * node's own jobs); what it had to leave out is listed in `notShared`, never counted as zero.
     */
    score(batch: BatchView, visibility: RecordVisibility = SEE_EVERYTHING) {
      visible = visibility;
      notShared = new Map();
      const model = service.requireModel();
      const { anomalies: flags, checks } = anomalies(batch);
      const own = ownQuality(batch);
      const inherited = inheritedRisk(batch);
      return {
        batchId: batch.id,
        lotId: batch.lotId,
        gtin: batch.gtin,
        lot: batch.lot,
        digitalLink: batch.digitalLink,
        recall: batch.recall
          ? {
              kind: batch.recall.kind,
              reason: batch.recall.reason,
              sourceBatchId: batch.recall.sourceBatchId,
              at: batch.recall.at,
            }
          : null,
        modelHash: model.modelHash,
        ownQuality: own,
        inheritedRisk: inherited,
        anomalies: flags,
        checks,
        notShared: [...notShared.values()],
      };
    },
  };
}
