import type { Db } from "../../store/db";
import { prepared } from "../../store/statements";
import { hasTable } from "./store";
import type { QualityOutput } from "./service";

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
  recallsInLineage: 0.2,
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

const LIST_LIMIT = 20;

export interface SupplierInputs {
  /** Epoch ms; decides which orders are decided, which offers have waited too long, which credentials expired. */
  now: number;
  /** The loaded model's hash (predicted quality uses the scores it made), or null. */
  modelHash: string | null;
}

/** Every component of an organisation's score, from the index and the production-run records. */
export function supplierComponents(db: Db, orgId: number, inputs: SupplierInputs): Component[] {
  return [
    lateDeliveries(db, orgId, inputs.now),
    disputedOrders(db, orgId),
    recallsInLineage(db, orgId),
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
    credentials(db, orgId, inputs.now),
    custodyGaps(db, orgId, inputs.now),
  ];
}

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
  return component(
    "lateDeliveries",
    ratio(late.length, decided),
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
  return component(
    "disputedOrders",
    ratio(bad.length, rows.length),
    "orders as seller that the buyer disputed (rejected a quantity) or that were frozen (a delivered batch was recalled) / orders as seller with a delivery",
    {
      deliveredOrders: rows.length,
      disputed: rows.filter((r) => r.disputed).length,
      frozen: rows.filter((r) => r.frozen).length,
      orderIds: bad.map((r) => String(r.order_id)).slice(0, LIST_LIMIT),
    },
  );
}

function recallsInLineage(db: Db, orgId: number): Component {
  const org = String(orgId);
  const rows = prepared(
    db,
    `SELECT b.batch_id, b.lot, b.gtin, b.recall FROM batches b WHERE b.batch_id IN (
        SELECT batch_id FROM batches WHERE producer_org = ? OR owner_org = ? OR custodian_org = ?
        UNION SELECT batch_id FROM batch_events WHERE type IN ('handed_over', 'unit_handed_over') AND json_extract(details, '$.toOrgId') = ?
        UNION SELECT batch_id FROM batch_events WHERE type = 'registered' AND json_extract(details, '$.orgId') = ?)
     ORDER BY b.created_block, b.batch_id`,
  ).all(orgId, orgId, orgId, org, org) as { batch_id: string; lot: string; gtin: string; recall: string }[];
  const recalled = rows.filter((r) => r.recall !== "none");
  return component(
    "recallsInLineage",
    ratio(recalled.length, rows.length),
    "batches the organisation produced or held (owner or custodian, now or before) that are recalled, directly or by propagation / those batches",
    {
      batches: rows.length,
      recalled: recalled.length,
      direct: recalled.filter((r) => r.recall === "direct").length,
      propagated: recalled.filter((r) => r.recall === "propagated").length,
      recalledBatches: recalled
        .slice(0, LIST_LIMIT)
        .map((r) => ({ batchId: r.batch_id, gtin: r.gtin, lot: r.lot, recall: r.recall })),
    },
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
  return component(
    "credentials",
    ratio(revoked.length + expired.length, rows.length),
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
  return component(
    "custodyGaps",
    ratio(gaps, offers),
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
