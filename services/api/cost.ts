import type { FastifyRequest } from "fastify";

/**
 * What a request costs against its client's rate-limit budget (LOTLINE_RATE_LIMIT units per
 * minute): 1 for a plain read, more for routes whose work grows with what they are asked — a deep
 * lineage walk, a KPI scan over an organisation's runs, a recall's blast radius, a large capture.
 * So an abuser spends their own budget ten times faster on the expensive routes, and cheap reads
 * by honest clients are not crowded out. docs/reliability.md lists the weights.
 */
export const ROUTE_COSTS: Record<string, number | ((request: FastifyRequest) => number)> = {
  // One unit per started 10 levels of the walk (the default depth of 50 costs 6).
  "GET /api/v1/batches/:ref/trace": (request) => 1 + Math.ceil(Math.min(queryInt(request, "maxDepth") ?? 50, 1000) / 10),
  "GET /api/v1/batches/:ref/recall-impact": 10,
  "GET /api/v1/batches/:ref/footprint": 5,
  "GET /api/v1/analytics/orgs/:orgId/kpis": 10,
  "GET /api/v1/analytics/orgs/:orgId/productivity": 10,
  "GET /api/v1/scores/suppliers/:orgId": 5,
  "GET /epcis/events": 2,
  "GET /epcis/queries/:queryName/events": 2,
  // One unit per started 64 KiB of the document (a 1 MiB capture costs 17).
  "POST /epcis/capture": (request) => 1 + Math.ceil(Math.max(0, Number(request.headers["content-length"]) || 0) / 65_536),
  // Likewise for an order's terms document (up to 1 MiB, base64 in JSON).
  "PUT /api/v1/orders/:orderId/terms": (request) => 1 + Math.ceil(Math.max(0, Number(request.headers["content-length"]) || 0) / 65_536),
};

function queryInt(request: FastifyRequest, name: string): number | null {
  const value = (request.query as Record<string, unknown> | undefined)?.[name];
  const n = typeof value === "string" ? Number(value) : typeof value === "number" ? value : NaN;
  return Number.isFinite(n) && n >= 0 ? Math.floor(n) : null;
}

export function routeCost(request: FastifyRequest): number {
  const cost = ROUTE_COSTS[`${request.method} ${request.routeOptions.url ?? ""}`];
  return typeof cost === "function" ? cost(request) : (cost ?? 1);
}

/** The rate limiter's key for a request: the client, then its cost after a separator the store reads. */
const COST_SEPARATOR = "\u0000cost=";
export function weightedKey(client: string, cost: number): string {
  return `${client}${COST_SEPARATOR}${cost}`;
}

type Counter = { current: number; ttl: number; iterationStartMs: number };

/**
 * A store for @fastify/rate-limit that counts each request by its cost (read from the key
 * weightedKey made) instead of by one: the plugin's fixed window, headers and 429 are kept as they
 * are. Memory is bounded: at most `cache` clients are remembered (the oldest forgotten first).
 */
export class WeightedStore {
  private readonly counters = new Map<string, Counter>();
  private readonly cache: number;
  private readonly timeWindow: number;

  /** The plugin constructs it with its options (the time window among them). */
  constructor(options: { cache?: number; timeWindow?: unknown } = {}) {
    this.cache = options.cache ?? 5_000;
    this.timeWindow = typeof options.timeWindow === "number" ? options.timeWindow : 60_000;
  }

  incr(key: string, callback: (err: Error | null, result?: { current: number; ttl: number }) => void, timeWindow: number = this.timeWindow): void {
    const at = key.lastIndexOf(COST_SEPARATOR);
    const client = at >= 0 ? key.slice(0, at) : key;
    const cost = at >= 0 ? Number(key.slice(at + COST_SEPARATOR.length)) || 1 : 1;
    const now = Date.now();
    let counter = this.counters.get(client);
    if (!counter || counter.iterationStartMs + timeWindow <= now) counter = { current: 0, ttl: timeWindow, iterationStartMs: now };
    counter.current += cost;
    counter.ttl = timeWindow - (now - counter.iterationStartMs);
    // Re-inserted so the Map's order is least recently used first.
    this.counters.delete(client);
    this.counters.set(client, counter);
    if (this.counters.size > this.cache) this.counters.delete(this.counters.keys().next().value!);
    callback(null, { current: counter.current, ttl: counter.ttl });
  }

  child(): WeightedStore {
    return new WeightedStore({ cache: this.cache, timeWindow: this.timeWindow });
  }
}
