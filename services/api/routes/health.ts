import { Type } from "@sinclair/typebox";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import client from "prom-client";
import { problem, sendProblem } from "../problem";
import type { RouteDeps } from "../app";

const Health = Type.Object({
  status: Type.Union([Type.Literal("ok"), Type.Literal("starting"), Type.Literal("syncing"), Type.Literal("halted"), Type.Literal("failed")]),
  phase: Type.String(),
  chainId: Type.Integer(),
  headBlock: Type.Integer(),
  indexedBlock: Type.Integer(),
  lagBlocks: Type.Integer(),
  error: Type.Union([Type.String(), Type.Null()]),
  relayer: Type.Union([Type.Object({ address: Type.String(), balanceWei: Type.String() }), Type.Null()]),
});

export const healthRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  const { state } = deps;
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: "lotline_" });
  const gauge = (name: string, help: string, read: () => number) =>
    new client.Gauge({ name, help, registers: [registry], collect() { this.set(read()); } });
  gauge("lotline_indexer_head_block", "Chain head seen by the indexer", () => state.indexer?.status().headBlock ?? 0);
  gauge("lotline_indexer_indexed_block", "Last block applied to the index", () => state.indexer?.status().indexedBlock ?? 0);
  gauge("lotline_indexer_lag_blocks", "Blocks behind the head (after finality depth)", () => state.indexer?.status().lagBlocks ?? 0);
  gauge("lotline_ready", "1 once the node is deployed, seeded and indexed to the head", () => (state.phase === "ready" ? 1 : 0));
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
    const status = state.phase === "failed" ? "failed" : s?.halted ? "halted" : state.phase === "ready" ? (s?.synced ? "ok" : "syncing") : "starting";
    return {
      status,
      phase: state.phase,
      chainId: state.chainId,
      headBlock: s?.headBlock ?? 0,
      indexedBlock: s?.indexedBlock ?? 0,
      lagBlocks: s?.lagBlocks ?? 0,
      error: s?.halted ?? state.error,
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
      if (state.phase === "ready" && state.indexer?.status().synced !== false && !state.indexer?.status().halted) {
        return { ready: true } as const;
      }
      return sendProblem(reply, problem(503, "not_ready", `the node is ${state.phase}${state.error ? `: ${state.error}` : ""}`));
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
