import { Type } from "@sinclair/typebox";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import client from "prom-client";
import { problem, sendProblem } from "../problem";
import type { RouteDeps } from "../app";
import { createStallMonitor } from "../../runtime/event-loop";

const Health = Type.Object({
  status: Type.Union([
    Type.Literal("ok"),
    Type.Literal("starting"),
    Type.Literal("syncing"),
    Type.Literal("degraded"),
    Type.Literal("halted"),
    Type.Literal("failed"),
  ]),
  phase: Type.String(),
  chainId: Type.Integer(),
  headBlock: Type.Integer(),
  indexedBlock: Type.Integer(),
  lagBlocks: Type.Integer(),
  error: Type.Union([Type.String(), Type.Null()]),
  reason: Type.Union([Type.String(), Type.Null()], { description: "why the node is degraded (null when it is not)" }),
  lastHeadAgeSeconds: Type.Union([Type.Number(), Type.Null()], {
    description: "seconds since the chain head was last read successfully (null before the first read)",
  }),
  relayer: Type.Union([Type.Object({ address: Type.String(), balanceWei: Type.String() }), Type.Null()]),
});

/** Methods that change state: refused while the node cannot see the chain (see chainBlindness). */
const WRITES = new Set(["POST", "PUT", "PATCH", "DELETE"]);

export const healthRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  const { state } = deps;
  const staleSeconds = deps.config.headStaleSeconds ?? 30;

  /**
   * Why the node cannot trust its view of the chain now, or null. Past `staleSeconds` without a
   * head, the index may miss a suspension or a revoked role: permission checks read it, so writes
   * answer 503 instead of trusting it, /ready answers 503 and /health says degraded.
   */
  function chainBlindness(): { reason: string; ageSeconds: number | null } | null {
    const s = state.indexer?.status();
    if (!s) return null;
    const ageSeconds = s.lastHeadAt === null ? null : (Date.now() - s.lastHeadAt) / 1000;
    if (ageSeconds !== null && ageSeconds <= staleSeconds) return null;
    if (ageSeconds === null && state.phase !== "ready") return null; // still booting
    const why = s.lastError ?? "no successful read of the chain head";
    return { reason: `the chain cannot be reached: ${why}`, ageSeconds };
  }

  app.addHook("onRequest", async (request, reply) => {
    if (!WRITES.has(request.method)) return;
    const blind = chainBlindness();
    if (!blind) return;
    const age = blind.ageSeconds === null ? "never" : `${Math.round(blind.ageSeconds)} s ago`;
    return sendProblem(
      reply,
      problem(503, "chain_unreachable", `${blind.reason} (last head ${age}); writes are refused until the node sees the chain again`),
    );
  });

  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: "lotline_" });
  const gauge = (name: string, help: string, read: () => number) =>
    new client.Gauge({ name, help, registers: [registry], collect() { this.set(read()); } });
  gauge("lotline_indexer_head_block", "Chain head seen by the indexer", () => state.indexer?.status().headBlock ?? 0);
  gauge("lotline_indexer_indexed_block", "Last block applied to the index", () => state.indexer?.status().indexedBlock ?? 0);
  gauge("lotline_indexer_lag_blocks", "Blocks behind the head (after finality depth)", () => state.indexer?.status().lagBlocks ?? 0);
  gauge("lotline_ready", "1 once the node is deployed, seeded and indexed to the head", () => (state.phase === "ready" ? 1 : 0));
  gauge("lotline_seconds_since_last_head", "Seconds since the chain head was last read successfully (-1 before the first)", () => {
    const at = state.indexer?.status().lastHeadAt;
    return at ? (Date.now() - at) / 1000 : -1;
  });
  gauge("lotline_anchor_backlog", "Off-chain records waiting to be anchored", () => {
    const row = deps.db.prepare(`SELECT COUNT(*) AS n FROM anchor_outbox WHERE root IS NULL`).get() as { n: number };
    return row.n;
  });
  gauge("lotline_relayer_balance_wei", "The relayer key's balance (as last refreshed)", () => Number(state.relayer?.cachedBalance() ?? 0));
  new client.Gauge({
    name: "lotline_pending_transactions",
    help: "Transactions a node key's sender has sent and not yet seen mined, per key (relayer, integration, integration:<member>)",
    labelNames: ["key"],
    registers: [registry],
    collect() {
      this.reset();
      for (const sender of state.senders?.all() ?? []) this.set({ key: sender.name }, sender.pending());
    },
  });
  new client.Gauge({
    name: "lotline_sender_nonce_resyncs",
    help: "Times a key's sender found its nonces taken by another process using the same key and resynchronised",
    labelNames: ["key"],
    registers: [registry],
    collect() {
      this.reset();
      for (const sender of state.senders?.all() ?? []) this.set({ key: sender.name }, sender.stats().resyncs);
    },
  });
  new client.Gauge({
    name: "lotline_sender_replacements",
    help: "Transactions a key's sender replaced with higher fees because they were not mined in time",
    labelNames: ["key"],
    registers: [registry],
    collect() {
      this.reset();
      for (const sender of state.senders?.all() ?? []) this.set({ key: sender.name }, sender.stats().replacements);
    },
  });
  // The longest event-loop stall since the previous scrape (training, large validations and bulk
  // scoring run in worker threads so that it stays short; docs/reliability.md).
  const stalls = createStallMonitor();
  app.addHook("onClose", async () => stalls.stop());
  new client.Gauge({
    name: "lotline_event_loop_max_stall_seconds",
    help: "Longest time the event loop was blocked since the previous scrape",
    registers: [registry],
    collect() {
      this.set(stalls.maxStallMs() / 1000);
      stalls.reset();
    },
  });
  const requests = new client.Counter({ name: "lotline_http_requests_total", help: "HTTP requests", labelNames: ["method", "status"], registers: [registry] });
  app.addHook("onResponse", async (request, reply) => {
    requests.inc({ method: request.method, status: String(reply.statusCode) });
  });

  app.get("/health", { schema: { summary: "Liveness and indexing progress", tags: ["operations"], response: { 200: Health } } }, async () => {
    const s = state.indexer?.status();
    let relayer = null;
    if (state.relayer) {
      const balance = state.relayer.cachedBalance();
      relayer = { address: await state.relayer.address(), balanceWei: balance === null ? "unknown" : balance.toString() };
    }
    const blind = chainBlindness();
    const status =
      state.phase === "failed"
        ? "failed"
        : s?.halted
          ? "halted"
          : blind
            ? "degraded"
            : state.phase === "ready"
              ? s?.synced
                ? "ok"
                : "syncing"
              : "starting";
    return {
      status,
      phase: state.phase,
      chainId: state.chainId,
      headBlock: s?.headBlock ?? 0,
      indexedBlock: s?.indexedBlock ?? 0,
      lagBlocks: s?.lagBlocks ?? 0,
      error: s?.halted ?? state.error,
      reason: blind?.reason ?? null,
      lastHeadAgeSeconds: s?.lastHeadAt ? Math.round((Date.now() - s.lastHeadAt) / 100) / 10 : null,
      relayer,
    } as const;
  });

  app.get(
    "/ready",
    {
      schema: {
        summary: "200 once deployment, demo seeding and indexing to the head are done; 503 before",
        tags: ["operations"],
        response: { 200: Type.Object({ ready: Type.Literal(true) }), 503: { $ref: "Problem#" } },
      },
    },
    async (_request, reply) => {
      const blind = chainBlindness();
      if (state.phase === "ready" && state.indexer?.status().synced !== false && !state.indexer?.status().halted && !blind) {
        return { ready: true } as const;
      }
      const why = blind ? `degraded: ${blind.reason}` : `${state.phase}${state.error ? `: ${state.error}` : ""}`;
      return sendProblem(reply, problem(503, "not_ready", `the node is ${why}`));
    },
  );

  app.get(
    "/metrics",
    {
      schema: {
        summary: "Prometheus metrics",
        tags: ["operations"],
        produces: ["text/plain"],
        response: { 200: { description: "Prometheus text exposition format", content: { "text/plain": { schema: Type.String() } } } },
      },
    },
    async (_request, reply) => {
      reply.type(registry.contentType);
      return registry.metrics();
    },
  );
};

// Not encapsulated (what fastify-plugin does): the request counter's onResponse hook has to see
// every route's responses, not only those of the routes above.
Object.assign(healthRoutes, { [Symbol.for("skip-override")]: true });
