import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
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
import { healthRoutes } from "./routes/health";
import { authRoutes } from "./routes/auth";
import { identityRoutes } from "./routes/identity";
import { chainRoutes, relayRoutes } from "./routes/relay";
import { provenanceRoutes } from "./routes/provenance";
import { settlementRoutes } from "./routes/settlement";
import { analyticsRoutes } from "./routes/analytics";
import { epcisRoutes } from "./routes/epcis";
import { scoreRoutes } from "./routes/scores";
import { sharingRoutes } from "./routes/sharing";
import { federationRoutes } from "./routes/federation";
import { notificationRoutes } from "./routes/notifications";
import { recallRoutes } from "./routes/recalls";
import { auditRoutes } from "./routes/audit";
import { installAudit } from "../audit/plugin";
import { registerWebsocket } from "./websocket";

export interface AppDeps {
  config: Pick<Config, "rateLimit" | "finalityDepth"> & Partial<Pick<Config, "headStaleSeconds" | "auditAnchorSeconds" | "relayerKey" | "integrationKey">>;
  /** The URL clients reach this service at (known once it listens). */
  publicUrl: () => string;
  db: Db;
  state: ServiceState;
  /** A pino logger; none in tests. */
  logger?: FastifyBaseLogger;
}

/**
 * The HTTP application as a plugin tree that never listens (fastify/demo's app.ts): external
 * plugins (docs, rate limit), then app services (auth, stores), then routes. server.ts listens.
 */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger } : { logger: false }),
    bodyLimit: 1_048_576,
    // The router's default (100 characters, counted percent-encoded) would cut URL-encoded Digital
    // Links long before the routes' own limits (a `ref` of up to 512 characters, 3 × 512 encoded).
    routerOptions: { maxParamLength: 1_536 },
  }).withTypeProvider<TypeBoxTypeProvider>();

  const identity = createIdentityStore(deps.db);
  const auth = createAuth({ db: deps.db, identity, publicUrl: deps.publicUrl, chainId: () => deps.state.chainId });

  app.setValidatorCompiler(createValidatorCompiler());
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
    keyGenerator: (request) => auth.peekAddress(request.headers.authorization) ?? request.ip,
    // Thrown by the plugin into errorHandler, which answers an HttpProblem with its own detail.
    errorResponseBuilder: (_request, context) => {
      const detail = `more than ${context.max} requests per minute; retry in ${Math.ceil(context.ttl / 1000)} s`;
      return new HttpProblem(429, "rate_limited", detail);
    },
  });

  // Before the routes, so that every write of every route is audited (services/audit).
  installAudit(app, {
    db: deps.db,
    identity,
    state: deps.state,
    peekAddress: auth.peekAddress,
    anchorEverySeconds: deps.config.auditAnchorSeconds ?? 0,
    nodeKeys: { relayer: deps.config.relayerKey, integration: deps.config.integrationKey },
  });
  const routeDeps = { ...deps, identity, auth };
  await app.register(healthRoutes, routeDeps);
  await app.register(authRoutes, routeDeps);
  await app.register(identityRoutes, routeDeps);
  await app.register(relayRoutes, routeDeps);
  await app.register(chainRoutes, routeDeps);
  await app.register(provenanceRoutes, routeDeps);
  await app.register(settlementRoutes, routeDeps);
  await app.register(analyticsRoutes, routeDeps);
  await app.register(epcisRoutes, routeDeps);
  await app.register(scoreRoutes, routeDeps);
  await app.register(sharingRoutes, routeDeps);
  await app.register(federationRoutes, routeDeps);
  await app.register(notificationRoutes, routeDeps);
  await app.register(recallRoutes, routeDeps);
  await app.register(auditRoutes, routeDeps);
  return app;
}
export type RouteDeps = AppDeps & { identity: ReturnType<typeof createIdentityStore>; auth: ReturnType<typeof createAuth> };
