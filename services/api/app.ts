import crypto from "node:crypto";
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import rateLimit from "@fastify/rate-limit";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { Config } from "../config";
import type { Db } from "../store/db";
import { createIdentityStore } from "../store/identity";
import { createAuth } from "./auth";
import { errorHandler, HttpProblem, problem, Problem, sendProblem } from "./problem";
import type { ServiceState } from "./state";
import { createValidatorCompiler } from "./validation";
import { routeCost, weightedKey, WeightedStore } from "./cost";
import { healthRoutes } from "./routes/health";
import { authRoutes } from "./routes/auth";
import { identityRoutes } from "./routes/identity";
import { chainRoutes, relayRoutes } from "./routes/relay";
import { provenanceRoutes } from "./routes/provenance";
import { settlementRoutes } from "./routes/settlement";
import { orderTermsRoutes } from "./routes/order-terms";
import { analyticsRoutes } from "./routes/analytics";
import { epcisRoutes } from "./routes/epcis";
import { scoreRoutes } from "./routes/scores";
import { sharingRoutes } from "./routes/sharing";
import { federationRoutes } from "./routes/federation";
import { notificationRoutes } from "./routes/notifications";
import { recallRoutes } from "./routes/recalls";
import { auditRoutes } from "./routes/audit";
import { installAudit } from "../audit/plugin";
import { explorerRoutes } from "./routes/explorer";
import { digitalLinkRoutes } from "./routes/digital-link";
import { rpcProxyRoutes } from "./routes/rpc-proxy";
import { sessionCookieHook } from "./session-cookie";
import { registerWebsocket } from "./websocket";
import { createLazyCompilation } from "./lazy-compile";
import { warmUpExplorer, type WarmUpOptions } from "./warm-up";

export interface AppDeps {
  config: Pick<Config, "rateLimit" | "finalityDepth"> &
    Partial<Pick<Config, "headStaleSeconds" | "auditAnchorSeconds" | "relayerKey" | "integrationKey" | "trustProxy" | "epcisQuotaBytes" | "maxTraceDepth" | "maxResultItems">>;
  /** The URL clients reach this service at (known once it listens). */
  publicUrl: () => string;
  db: Db;
  state: ServiceState;
  /** A pino logger; none in tests. */
  logger?: FastifyBaseLogger;
}

/**
 * Request logs at `debug` (LOTLINE_LOG_LEVEL=debug shows them): one line per request, with method,
 * path (no query string), status and time. A request that failed with a server error stays at `error`.
 */
class RequestLogsAtDebug extends LogController {
  override incomingRequest(): void {}
  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const line = { method: request.method, url: request.url.split("?")[0], status: reply.statusCode, ms: Math.round(reply.elapsedTime) };
    if (error) reply.log.error({ ...line, err: error }, "request failed");
    else reply.log.debug(line, "request");
  }
}

/**
 * The HTTP application as a plugin tree that never listens (fastify/demo's app.ts): external
 * plugins (docs, rate limit), then app services (auth, stores), then routes. server.ts listens.
 */
const schemasWarmed = new WeakMap<object, Promise<void>>();
/** Each app's secret for its requests to itself (see `internal` in buildApp), and how it ends a session. */
const internals = new WeakMap<object, Pick<WarmUpOptions, "internal" | "endSession">>();

/** Resolves once every route's schemas are compiled (after `ready()`; they compile in the background). */
export function schemasCompiled(app: FastifyInstance): Promise<void> {
  return schemasWarmed.get(app) ?? Promise.reject(new Error("the app is not ready yet"));
}

/** Runs the explorer's pages once, as the node's own requests (services/api/warm-up.ts); after `ready()`. */
export function warmUp(app: FastifyInstance, db: Db, options: Omit<WarmUpOptions, "internal" | "endSession">): ReturnType<typeof warmUpExplorer> {
  const own = internals.get(app);
  if (!own) return Promise.reject(new Error("not an app built by buildApp"));
  return warmUpExplorer(app, db, { ...options, ...own });
}

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  // Schemas compiled on first use, then in the background once the app is ready (lazy-compile.ts).
  const compilation = createLazyCompilation();
  const app = Fastify({
    schemaController: { compilersFactory: { buildSerializer: compilation.buildSerializer } },
    ...(deps.logger ? { loggerInstance: deps.logger } : { logger: false }),
    bodyLimit: 1_048_576,
    // Behind a reverse proxy, the client's address comes from X-Forwarded-For, but only from the
    // proxies LOTLINE_TRUST_PROXY names (else anyone could pick the address they are limited as).
    // (A hop count is accepted at run time; Fastify's types omit it.)
    trustProxy: (deps.config.trustProxy ?? false) as boolean | string[],
    // The router's default (100 characters, counted percent-encoded) would cut URL-encoded Digital
    // Links long before the routes' own limits (a `ref` of up to 512 characters, 3 × 512 encoded).
    routerOptions: { maxParamLength: 1_536 },
    logController: new RequestLogsAtDebug(),
  }).withTypeProvider<TypeBoxTypeProvider>();

  const identity = createIdentityStore(deps.db);
  const auth = createAuth({ db: deps.db, identity, publicUrl: deps.publicUrl, chainId: () => deps.state.chainId });

  // Requests the explorer's record collection makes to the API's own routes on behalf of one reader
  // (one page view) carry this per-process secret and are not rate-limited again.
  const internal = crypto.randomBytes(32).toString("hex");

  internals.set(app, { internal, endSession: auth.endSession });
  const isInternal = (value: unknown) =>
    typeof value === "string" && value.length === internal.length && crypto.timingSafeEqual(Buffer.from(value), Buffer.from(internal));

  // The explorer's session cookie counts as the bearer token (with CSRF protection on writes).
  app.addHook("onRequest", sessionCookieHook(auth));

  // With request logs on (debug), every answer also says how long the node took over it
  // (`Server-Timing: app;dur=ms`), which a browser's resource timing shows beside each request
  // (scripts/bench/page-waterfall.ts).
  if (deps.logger && ["debug", "trace"].includes(deps.logger.level)) {
    app.addHook("onSend", async (_request, reply, payload) => {
      reply.header("server-timing", `app;dur=${reply.elapsedTime.toFixed(1)}`);
      return payload;
    });
  }

  app.setValidatorCompiler(compilation.validatorCompiler(createValidatorCompiler()));
  app.addHook("onReady", async () => {
    const warmed = compilation.warm();
    schemasWarmed.set(app, warmed);
    warmed.catch((err: Error) => app.log.error({ err: err.message }, "a route's schema does not compile"));
  });
  app.addSchema(Problem);
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, { ...problem(404, "not_found", `no route for ${request.method} ${request.url.split("?")[0]}`), instance: request.url }),
  );

  await app.register(swagger, {
    openapi: {
      openapi: "3.0.3",
      info: {
        title: "Lotline API",
        version: "1",
        description: "Supply-chain traceability on a permissioned EVM chain. Errors are RFC 9457 problem documents with a machine-readable `code`.",
      },
      components: { securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "Token from POST /api/v1/auth/login" } } },
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
  });
  await app.register(swaggerUi, { routePrefix: "/docs" });
  // WebSocket upgrades (EPCIS query subscriptions, notification streams) go through the routes' hooks.
  await registerWebsocket(app);
  await app.register(rateLimit, {
    max: deps.config.rateLimit,
    timeWindow: 60_000,
    allowList: (request) => isInternal(request.headers["x-lotline-internal"]),
    // Each request counts by its route's cost (services/api/cost.ts) against one budget per client.
    store: WeightedStore,
    global: false,
    keyGenerator: (request) => weightedKey(auth.peekAddress(request.headers.authorization) ?? request.ip, routeCost(request)),
    // Thrown by the plugin into errorHandler, which answers an HttpProblem with its own detail.
    errorResponseBuilder: (request, context) => {
      const cost = routeCost(request);
      const weighted = cost > 1 ? ` (this route counts as ${cost} requests)` : "";
      const detail = `more than ${context.max} requests per minute${weighted}; retry in ${Math.ceil(context.ttl / 1000)} s`;
      return new HttpProblem(429, "rate_limited", detail);
    },
  });
  // Before every route's own hooks (authentication included) and for unknown routes too: a client
  // spends its budget even on requests that are refused.
  app.addHook("onRequest", app.rateLimit());

  // Before the routes, so that every write of every route is audited (services/audit).
  installAudit(app, {
    db: deps.db,
    identity,
    state: deps.state,
    peekAddress: auth.peekAddress,
    anchorEverySeconds: deps.config.auditAnchorSeconds ?? 0,
    nodeKeys: { relayer: deps.config.relayerKey, integration: deps.config.integrationKey },
  });
  const routeDeps = { ...deps, identity, auth, internal };
  const routes = [
    healthRoutes,
    authRoutes,
    identityRoutes,
    relayRoutes,
    chainRoutes,
    provenanceRoutes,
    settlementRoutes,
    orderTermsRoutes,
    analyticsRoutes,
    epcisRoutes,
    scoreRoutes,
    sharingRoutes,
    federationRoutes,
    notificationRoutes,
    recallRoutes,
    auditRoutes,
    rpcProxyRoutes,
    digitalLinkRoutes,
    explorerRoutes,
  ];
  for (const plugin of routes) {
    await app.register(plugin, routeDeps);
    // A turn of the event loop between route plugins: registering them all is a few hundred
    // milliseconds of synchronous work, which must not hold the node in one block (a first start's
    // longest stall; docs/performance.md "Event loop").
    await new Promise((resolve) => setImmediate(resolve));
  }
  return app;
}
export type RouteDeps = AppDeps & {
  identity: ReturnType<typeof createIdentityStore>;
  auth: ReturnType<typeof createAuth>;
  /** Marks the API's requests to itself (the explorer's record collection); never leaves the process. */
  internal: string;
};
