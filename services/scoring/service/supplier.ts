import type { Db } from "../../store/db";
import { prepared } from "../../store/statements";
import { hasTable } from "./store";
import type { QualityOutput } from "./service";
import { PRIOR_STRENGTH, shrink } from "./shrinkage";

/**
 * A supplier's 0–100 risk score from what the index shows of its behaviour. Each component is a
 * number in [0, 1] (1 = worst) with a documented formula and a weight; a component without data
 * is reported as missing, never as 0, and the score is
 *
 *   score = 100 × Σ (weight × value) / Σ weight      over the components with data
 *
 * (null when no component has data: nothing known is not "no risk"). `coverage` is the share of the
 * total weight that had data. The whole indexed history counts; every component lists its evidence.
 */

export type ComponentStatus = "ok" | "missing" | "not_observable";

export interface Component {
  name: string;
  weight: number;
  /** In [0, 1], 1 = worst; null when missing or not observable. */
  value: number | null;
  status: ComponentStatus;
  formula: string;
  evidence: Record<string, unknown>;
  note?: string;
  /** Rate components: the supplier's observations (n), bad outcomes, the unshrunk rate and the 95 % credible interval. */
  sampleSize?: number;
  events?: number;
  rawValue?: number | null;
  interval?: [number, number] | null;
  prior?: { mean: number; strength: number; consortiumEvents: number; consortiumSampleSize: number };
}

/** A rate component before shrinkage: its bad outcomes out of its observations. */
interface Observed extends Component {
  observations?: { events: number; trials: number };
}

export interface SupplierScore {
  score: number | null;
  coverage: number;
  formula: string;
  components: Component[];
}

/** Weights of the components (they sum to 1 over the observable ones). */
export const SUPPLIER_WEIGHTS = {
  lateDeliveries: 0.2,
  disputedOrders: 0.15,
  recallsInLineage: 0,
  recallsCaused: 0.2,
  recallsExposedTo: 0,
  massBalanceRefusals: 0,
  predictedQualityFailures: 0.15,
  observedQualityFailures: 0.1,
  credentials: 0.1,
  custodyGaps: 0.1,
} as const;

/** An offer still open, or accepted, after this long is a custody gap. */
export const MAX_TRANSIT_HOURS = 48;
/** A mean defect rate (1 − good/total) at or above this counts as the worst observed quality. */
export const DEFECT_RATE_CEILING = 0.05;

export const SCORE_FORMULA = "score = 100 × Σ(weight × value) / Σ(weight) over the components with data; null when none has data";

/** The score from its components (pure). */
export function combine(components: Component[]): SupplierScore {
  const withData = components.filter((c) => c.status === "ok" && c.value !== null && c.weight > 0);
  const weights = withData.reduce((s, c) => s + c.weight, 0);
  const total = components.reduce((s, c) => s + c.weight, 0);
  const score =
    weights > 0 ? Math.round(((100 * withData.reduce((s, c) => s + c.weight * c.value!, 0)) / weights) * 10) / 10 : null;
  return { score, coverage: total > 0 ? Math.round((weights / total) * 1000) / 1000 : 0, formula: SCORE_FORMULA, components };
}

const ratio = (bad: number, all: number) => (all > 0 ? Math.round((bad / all) * 10_000) / 10_000 : null);
const component = (
  name: keyof typeof SUPPLIER_WEIGHTS,
  value: number | null,
  formula: string,
  evidence: Record<string, unknown>,
  note?: string,
): Component => ({
  name,
  weight: SUPPLIER_WEIGHTS[name],
  value,
  status: value === null ? "missing" : "ok",
  formula,
  evidence,
  ...(note ? { note } : {}),
});
/** A rate component: `events` bad outcomes out of `trials`, shrunk later toward the consortium's rate. */
const rate = (
  name: keyof typeof SUPPLIER_WEIGHTS,
  events: number,
  trials: number,
  formula: string,
  evidence: Record<string, unknown>,
  note?: string,
): Observed => ({ ...component(name, ratio(events, trials), formula, evidence, note), observations: { events, trials } });

const round4 = (x: number) => Math.round(x * 10_000) / 10_000;
export const SHRINKAGE_NOTE =
  `shrunk toward the consortium's rate: the posterior mean of Beta(${PRIOR_STRENGTH}·m + bad, ${PRIOR_STRENGTH}·(1 − m) + n − bad), ` +
  "m = (consortium bad + ½) / (consortium n + 1); interval: its 95 % credible interval";

/** The rate components of one organisation (what the consortium's prior is made of). */
function rateComponents(db: Db, orgId: number, now: number): Observed[] {
  return [lateDeliveries(db, orgId, now), disputedOrders(db, orgId), recallsCaused(db, orgId), recallsExposedTo(db, orgId), credentials(db, orgId, now), custodyGaps(db, orgId, now)];
}

/** Applies the Beta prior of the consortium's totals to each rate component of `own`. */
export function shrinkComponents(own: Component[], consortium: Map<string, { events: number; trials: number }>): Component[] {
  return own.map((c) => {
    const observed = (c as Observed).observations;
    if (!observed) return c;
    const { observations: _dropped, ...rest } = c as Observed;
    if (observed.trials === 0) return { ...rest, sampleSize: 0, events: 0, rawValue: null, interval: null };
    const totals = consortium.get(c.name) ?? observed;
    const s = shrink(observed.events, observed.trials, totals.events, totals.trials);
    return {
      ...rest,
      value: round4(s.value),
      status: "ok" as const,
      formula: `${c.formula}; ${SHRINKAGE_NOTE}`,
      sampleSize: s.sampleSize,
      events: s.events,
      rawValue: s.rawRate === null ? null : round4(s.rawRate),
      interval: [round4(s.interval[0]), round4(s.interval[1])],
      prior: { ...s.prior, mean: round4(s.prior.mean) },
    };
  });
}

const LIST_LIMIT = 20;

export interface SupplierInputs {
  /** Epoch ms; decides which orders are decided, which offers have waited too long, which credentials expired. */
  now: number;
  /** The loaded model's hash (predicted quality uses the scores it made), or null. */
  modelHash: string | null;
}

/** Every component of an organisation's score, from the index and the production-run records. */
export function supplierComponents(db: Db, orgId: number, inputs: SupplierInputs): Component[] {
  const consortium = new Map<string, { events: number; trials: number }>();
  const orgs = prepared(db, `SELECT org_id FROM organisations ORDER BY org_id`).all() as { org_id: number }[];
  for (const { org_id } of orgs) {
    for (const c of rateComponents(db, org_id, inputs.now)) {
      const t = consortium.get(c.name) ?? { events: 0, trials: 0 };
      consortium.set(c.name, { events: t.events + c.observations!.events, trials: t.trials + c.observations!.trials });
    }
  }
  const own = rateComponents(db, orgId, inputs.now);
  const byName = new Map(own.map((c) => [c.name, c]));
  return shrinkComponents([
    byName.get("lateDeliveries")!,
    byName.get("disputedOrders")!,
    recallsInLineage(db, orgId),
    byName.get("recallsCaused")!,
    byName.get("recallsExposedTo")!,
    {
      name: "massBalanceRefusals",
      weight: SUPPLIER_WEIGHTS.massBalanceRefusals,
      value: null,
      status: "not_observable",
      formula: "transformations refused for breaking mass balance / transformations attempted",
      evidence: {},
      note:
        "not observable from the index: a transformation whose outputs exceed its inputs beyond the tolerance reverts, and reverted " +
        "transactions leave no events (the relayer refuses them before sending). Weight 0.",
    },
    predictedQuality(db, orgId, inputs.modelHash),
    observedQuality(db, orgId),
    byName.get("credentials")!,
    byName.get("custodyGaps")!,
  ], consortium);
}

/** Each order once; its delivered quantity adds each sale counted toward it, as onTimeDelivery (services/analytics/kpi.ts) does. */
function lateDeliveries(db: Db, orgId: number, now: number): Component {
  const orders = prepared(
    db,
    `SELECT order_id, status, quantity, delivery_deadline FROM orders WHERE seller_org = ? AND status NOT IN ('created', 'cancelled') ORDER BY order_id`,
  ).all(orgId) as { order_id: number; status: string; quantity: string; delivery_deadline: number }[];
  const deliveries = prepared(db, `SELECT quantity, time FROM order_deliveries WHERE order_id = ?`);
  let decided = 0;
  const late: string[] = [];
  for (const o of orders) {
    const deadline = o.delivery_deadline * 1000;
    const rows = deliveries.all(o.order_id) as { quantity: string; time: string }[];
    const delivered = rows.reduce((s, d) => s + BigInt(d.quantity), 0n);
    const onTime = rows.filter((d) => Date.parse(d.time) <= deadline).reduce((s, d) => s + BigInt(d.quantity), 0n);
    if (deadline > now && delivered < BigInt(o.quantity)) continue; // still open
    decided++;
    if (onTime < BigInt(o.quantity)) late.push(String(o.order_id));
  }
  return rate(
    "lateDeliveries",
    late.length,
    decided,
    "orders as seller not delivered in full by their deadline (delivered late, or refunded undelivered) / decided orders as seller " +
      "(funded, and past their deadline or fully delivered)",
    { decidedOrders: decided, late: late.length, lateOrderIds: late.slice(0, LIST_LIMIT) },
  );
}

function disputedOrders(db: Db, orgId: number): Component {
  const rows = prepared(
    db,
    `SELECT o.order_id,
            EXISTS (SELECT 1 FROM order_events e WHERE e.order_id = o.order_id AND e.type = 'rejected') AS disputed,
            EXISTS (SELECT 1 FROM order_events e WHERE e.order_id = o.order_id AND e.type = 'frozen') AS frozen
     FROM orders o WHERE o.seller_org = ? AND EXISTS (SELECT 1 FROM order_deliveries d WHERE d.order_id = o.order_id)
     ORDER BY o.order_id`,
  ).all(orgId) as { order_id: number; disputed: number; frozen: number }[];
  const bad = rows.filter((r) => r.disputed || r.frozen);
  return rate(
    "disputedOrders",
    bad.length,
    rows.length,
    "orders as seller that the buyer disputed (rejected a quantity) or that were frozen (a delivered batch was recalled) / orders as seller with a delivery",
    {
      deliveredOrders: rows.length,
      disputed: rows.filter((r) => r.disputed).length,
      frozen: rows.filter((r) => r.frozen).length,
      orderIds: bad.map((r) => String(r.order_id)).slice(0, LIST_LIMIT),
    },
  );
}

/** Lots the organisation produced or held (owner or custodian, now or before), each lot once. */
function lotsTouched(db: Db, orgId: number): { lot_id: string; lot: string; gtin: string; producer_org: number }[] {
  const org = String(orgId);
  return prepared(
    db,
    `SELECT l.lot_id, l.lot, l.gtin, l.producer_org FROM lots l WHERE l.lot_id IN (
        SELECT lot_id FROM batches WHERE producer_org = ? OR owner_org = ? OR custodian_org = ?
        UNION SELECT b.lot_id FROM batch_events e JOIN batches b ON b.batch_id = e.batch_id
          WHERE e.type IN ('handed_over', 'unit_handed_over') AND json_extract(e.details, '$.toOrgId') = ?)
     ORDER BY l.lot_id`,
  ).all(orgId, orgId, orgId, org) as { lot_id: string; lot: string; gtin: string; producer_org: number }[];
}

/** The lots where the recalls reaching a lot started (directly recalled batches' lots), following the propagation back. */
function recallOrigins(db: Db, lotId: string): { lotId: string; producerOrg: number }[] {
  const recalled = prepared(db, `SELECT r.batch_id, r.kind, r.source_batch FROM recalls r JOIN batches b ON b.batch_id = r.batch_id WHERE b.lot_id = ?`);
  const byBatch = prepared(db, `SELECT r.kind, r.source_batch, b.lot_id, b.producer_org FROM recalls r JOIN batches b ON b.batch_id = r.batch_id WHERE r.batch_id = ?`);
  const origins = new Map<string, number>();
  for (const start of recalled.all(lotId) as { batch_id: string; kind: string; source_batch: string | null }[]) {
    let current: string | null = start.batch_id;
    for (let guard = 0; current && guard < 100; guard++) {
      const row = byBatch.get(current) as { kind: string; source_batch: string | null; lot_id: string; producer_org: number } | undefined;
      if (!row) break;
      if (row.kind === "direct") {
        origins.set(row.lot_id, row.producer_org);
        break;
      }
      current = row.source_batch;
    }
  }
  return [...origins].map(([id, producerOrg]) => ({ lotId: id, producerOrg }));
}

function recallsInLineage(db: Db, orgId: number): Component {
  const lots = lotsTouched(db, orgId);
  const kinds = prepared(db, `SELECT DISTINCT r.kind FROM recalls r JOIN batches b ON b.batch_id = r.batch_id WHERE b.lot_id = ?`);
  const recalled = lots
    .map((l) => ({ ...l, kinds: (kinds.all(l.lot_id) as { kind: string }[]).map((k) => k.kind) }))
    .filter((l) => l.kinds.length > 0);
  return component(
    "recallsInLineage",
    ratio(recalled.length, lots.length),
    "lots the organisation produced or held (each lot once, however many portions) that are recalled, directly or by propagation / those lots",
    {
      lots: lots.length,
      recalled: recalled.length,
      recalledBatches: recalled.slice(0, LIST_LIMIT).map((l) => ({
        batchId: l.lot_id,
        gtin: l.gtin,
        lot: l.lot,
        recall: l.kinds.includes("direct") ? "direct" : "propagated",
      })),
    },
    "weight 0: it mixes recalls the organisation caused with recalls it was only exposed to; recallsCaused and recallsExposedTo separate them",
  );
}

function recallsCaused(db: Db, orgId: number): Observed {
  const produced = prepared(db, `SELECT lot_id, lot, gtin FROM lots WHERE producer_org = ? ORDER BY lot_id`).all(orgId) as {
    lot_id: string;
    lot: string;
    gtin: string;
  }[];
  const direct = prepared(db, `SELECT 1 FROM recalls r JOIN batches b ON b.batch_id = r.batch_id WHERE b.lot_id = ? AND r.kind = 'direct' LIMIT 1`);
  const caused = produced.filter((l) => direct.get(l.lot_id) !== undefined);
  return rate(
    "recallsCaused",
    caused.length,
    produced.length,
    "lots the organisation produced where a recall started (recalled directly) / lots it produced, each lot once",
    { producedLots: produced.length, caused: caused.length, lots: caused.slice(0, LIST_LIMIT).map((l) => ({ lotId: l.lot_id, gtin: l.gtin, lot: l.lot })) },
  );
}

function recallsExposedTo(db: Db, orgId: number): Observed {
  const lots = lotsTouched(db, orgId);
  const exposed = lots
    .map((l) => ({ ...l, origins: recallOrigins(db, l.lot_id) }))
    .filter((l) => l.origins.length > 0 && l.origins.every((o) => o.producerOrg !== orgId));
  return rate(
    "recallsExposedTo",
    exposed.length,
    lots.length,
    "lots the organisation produced or held that were recalled only because of a recall that started at another organisation's lot / those lots",
    {
      lots: lots.length,
      exposed: exposed.length,
      exposures: exposed.slice(0, LIST_LIMIT).map((l) => ({
        lotId: l.lot_id,
        gtin: l.gtin,
        lot: l.lot,
        causedBy: l.origins.map((o) => ({ lotId: o.lotId, orgId: String(o.producerOrg) })),
      })),
    },
    "weight 0: a holder is not blamed for a recall it did not cause; shown so a buyer sees the exposure",
  );
}

function predictedQuality(db: Db, orgId: number, modelHash: string | null): Component {
  const formula = "mean failure probability the quality model gives the organisation's current production runs (scorable ones)";
  if (!hasTable(db, "production_runs")) {
    return component(
      "predictedQualityFailures",
      null,
      formula,
      {},
      "no production-run records on this node (services/analytics)",
    );
  }
  if (!modelHash) return component("predictedQualityFailures", null, formula, {}, "the quality model is not loaded");
  const runs = prepared(db, `SELECT COUNT(*) AS n FROM production_runs WHERE org_id = ? AND superseded_by IS NULL`).get(
    orgId,
  ) as { n: number };
  const scores = prepared(
    db,
    `SELECT s.scorable, s.probability, s.risk_band, s.output FROM quality_scores s JOIN production_runs r ON r.run_id = s.run_id
     WHERE s.source = 'production_run' AND s.model_hash = ? AND r.org_id = ? AND r.superseded_by IS NULL`,
  ).all(modelHash, orgId) as { scorable: number; probability: number | null; risk_band: string | null; output: string }[];
  const scorable = scores.filter((s) => s.scorable === 1 && s.probability !== null);
  const missing = new Map<string, number>();
  for (const s of scores.filter((x) => x.scorable === 0)) {
    for (const name of (JSON.parse(s.output) as Extract<QualityOutput, { scorable: false }>).missing)
      missing.set(name, (missing.get(name) ?? 0) + 1);
  }
  const mean = scorable.length ? scorable.reduce((s, r) => s + r.probability!, 0) / scorable.length : null;
  return component(
    "predictedQualityFailures",
    mean === null ? null : Math.round(mean * 10_000) / 10_000,
    formula,
    {
      modelHash,
      currentRuns: runs.n,
      scoredRuns: scores.length,
      scorableRuns: scorable.length,
      highRiskRuns: scorable.filter((s) => s.risk_band === "high").length,
      notScorableRuns: scores.length - scorable.length,
      notScorableMissing: Object.fromEntries(missing),
    },
    mean === null && runs.n > 0 ? "none of the organisation's runs carries the model's inputs" : undefined,
  );
}

function observedQuality(db: Db, orgId: number): Component {
  const formula = `min(1, mean over current production runs of (totalCount − goodCount) / totalCount ÷ ${DEFECT_RATE_CEILING})`;
  if (!hasTable(db, "production_runs")) {
    return component("observedQualityFailures", null, formula, {}, "no production-run records on this node (services/analytics)");
  }
  const rows = prepared(db, `SELECT record FROM production_runs WHERE org_id = ? AND superseded_by IS NULL`).all(orgId) as {
    record: string;
  }[];
  const rates = rows
    .map((r) => JSON.parse(r.record) as { totalCount: number; goodCount: number })
    .filter((r) => r.totalCount > 0)
    .map((r) => (r.totalCount - r.goodCount) / r.totalCount);
  const mean = rates.length ? rates.reduce((s, x) => s + x, 0) / rates.length : null;
  return component(
    "observedQualityFailures",
    mean === null ? null : Math.round(Math.min(1, mean / DEFECT_RATE_CEILING) * 10_000) / 10_000,
    formula,
    {
      runs: rates.length,
      meanDefectRate: mean === null ? null : Math.round(mean * 1e6) / 1e6,
      defectRateCeiling: DEFECT_RATE_CEILING,
    },
  );
}

function credentials(db: Db, orgId: number, now: number): Component {
  const rows = prepared(
    db,
    `SELECT credential_id, credential_type, valid_from, valid_until, revoked_at FROM credentials WHERE subject_org = ?`,
  ).all(orgId) as {
    credential_id: number;
    credential_type: string;
    valid_from: number;
    valid_until: number;
    revoked_at: string | null;
  }[];
  const t = now / 1000;
  const revoked = rows.filter((r) => r.revoked_at !== null);
  const expired = rows.filter((r) => r.revoked_at === null && t >= r.valid_until);
  return rate(
    "credentials",
    revoked.length + expired.length,
    rows.length,
    "credentials issued to the organisation that are expired or revoked / credentials issued to it",
    {
      credentials: rows.length,
      revoked: revoked.length,
      expired: expired.length,
      credentialIds: [...revoked, ...expired].map((r) => String(r.credential_id)).slice(0, LIST_LIMIT),
    },
  );
}

function custodyGaps(db: Db, orgId: number, now: number): Component {
  const org = String(orgId);
  const events = prepared(
    db,
    `SELECT batch_id, type, details, time FROM batch_events
     WHERE batch_id IN (SELECT batch_id FROM batch_events WHERE type = 'offered' AND (json_extract(details, '$.fromOrgId') = ? OR json_extract(details, '$.toOrgId') = ?))
       AND type IN ('offered', 'offer_withdrawn', 'handed_over', 'split')
     ORDER BY batch_id, block_number, log_index`,
  ).all(org, org) as { batch_id: string; type: string; details: string; time: string }[];
  const limit = MAX_TRANSIT_HOURS * 3_600_000;
  let offers = 0;
  const slow: string[] = [];
  const neverAccepted: string[] = [];
  const pending: string[] = [];
  const open = new Map<string, number>();
  for (const e of events) {
    const d = JSON.parse(e.details) as { fromOrgId?: string; toOrgId?: string };
    const at = Date.parse(e.time);
    if (e.type === "offered") {
      if (d.fromOrgId !== org && d.toOrgId !== org) continue;
      offers++;
      open.set(e.batch_id, at);
    } else if (open.has(e.batch_id)) {
      const since = open.get(e.batch_id)!;
      open.delete(e.batch_id);
      // A partial offer is accepted by splitting the portion off (its hand-over is on the portion).
      if (e.type === "offer_withdrawn") neverAccepted.push(e.batch_id);
      else if (at - since > limit) slow.push(e.batch_id);
    }
  }
  for (const [batchId, since] of open) if (now - since > limit) pending.push(batchId);
  const gaps = slow.length + neverAccepted.length + pending.length;
  return rate(
    "custodyGaps",
    gaps,
    offers,
    `hand-over offers the organisation made or received that were accepted after more than ${MAX_TRANSIT_HOURS} h in transit, withdrawn or rejected ` +
      `(never accepted), or are still open after ${MAX_TRANSIT_HOURS} h / those offers`,
    {
      offers,
      acceptedLate: slow.length,
      neverAccepted: neverAccepted.length,
      openTooLong: pending.length,
      maxTransitHours: MAX_TRANSIT_HOURS,
      batchIds: [...slow, ...neverAccepted, ...pending].slice(0, LIST_LIMIT),
    },
  );
}
