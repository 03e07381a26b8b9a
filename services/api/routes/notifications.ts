import { Type } from "@sinclair/typebox";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { FastifyRequest } from "fastify";
import { Iso, List } from "../schemas";
import { HttpProblem } from "../problem";
import { decodeCursor, encodeCursor } from "../cursor";
import type { RouteDeps } from "../app";
import { requireServed } from "../../config/served";
import { checkDestination, DestinationError } from "../../delivery/destination";
import { TOPICS } from "../../notifications/handlers";
import { createNotificationStore, deliveryView, notificationSubscriptionView } from "../../notifications/store";
import { liveStreamsFor, MAX_SOCKETS_PER_ORG } from "../../delivery/live";
import { authenticateUpgrade, BEARER_PROTOCOL_PREFIX, LOTLINE_PROTOCOL, requireUpgrade, sessionCheck } from "../websocket";
import type { Topic } from "../../notifications/handlers";

const problems = { 400: { $ref: "Problem#" }, 401: { $ref: "Problem#" }, 403: { $ref: "Problem#" }, 404: { $ref: "Problem#" } };

/** `recall,offer` (or `all`) as topics; a 400 naming what is not one. */
export function parseTopics(text: string | undefined): Set<Topic> {
  if (text === undefined || text.trim() === "all") return new Set(TOPICS);
  const names = text.split(",").map((t) => t.trim());
  const unknown = names.filter((t) => !(TOPICS as readonly string[]).includes(t));
  if (unknown.length > 0 || names.length === 0) {
    throw new HttpProblem(
      400,
      "invalid_topics",
      `topics: ${unknown.map((t) => JSON.stringify(t)).join(", ")} not among ${TOPICS.join(", ")} (comma-separated, or all)`,
    );
  }
  return new Set(names as Topic[]);
}

const TopicName = Type.Union(TOPICS.map((t) => Type.Literal(t)));

const Subscription = Type.Object({
  id: Type.String({ format: "uuid" }),
  orgId: Type.String({ description: "the organisation whose notifications it receives (the subscriber's)" }),
  url: Type.String(),
  topics: Type.Array(TopicName),
  createdBy: Type.String({ description: "the agent who subscribed" }),
  createdAt: Iso,
});

const Delivery = Type.Object({
  deliveryId: Type.Integer(),
  topic: Type.String(),
  type: Type.String(),
  status: Type.Union([Type.Literal("pending"), Type.Literal("delivered"), Type.Literal("failed"), Type.Literal("cancelled")]),
  attempts: Type.Integer(),
  lastStatus: Type.Union([Type.Integer(), Type.Null()], { description: "the HTTP status of the last attempt's answer" }),
  lastError: Type.Union([Type.String(), Type.Null()]),
  createdAt: Iso,
  deliveredAt: Type.Union([Iso, Type.Null()]),
  nextAttemptAt: Type.Optional(Iso),
  notificationKey: Type.Union([Type.String(), Type.Null()], {
    description: "also sent as X-Lotline-Notification: the same notification has the same key",
  }),
});

const IdParams = Type.Object({ id: Type.String({ format: "uuid" }) });

/**
 * Lotline notifications (docs/notifications.md): a member's webhooks for what concerns it (recalls
 * reaching its batches, hand-overs offered to it, deliveries and disputes on its orders, grants
 * given or revoked to or by it, its capture jobs finished). A subscription belongs to the
 * subscriber's organisation: nobody else sees, ends or reads the log of it.
 */
export const notificationRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, { db, auth, state }) => {
  const store = createNotificationStore(db);
  const principalOf = (request: FastifyRequest) => auth.authenticate(request.headers.authorization);
  const signedIn = async (request: FastifyRequest) => {
    principalOf(request);
  };
  const own = (request: FastifyRequest, id: string) => {
    const orgId = Number(principalOf(request).agent.orgId);
    const row = store.get(id, orgId);
    if (!row) throw new HttpProblem(404, "subscription_not_found", `no notification subscription ${id} of organisation ${orgId}`);
    return row;
  };

  app.post(
    "/api/v1/subscriptions",
    {
      onRequest: signedIn,
      schema: {
        summary: "Subscribe a webhook to your organisation's notifications; 201 with the subscription",
        description:
          "Each delivery POSTs {topic, type, at, data} with X-Lotline-Signature: sha256=<hex HMAC-SHA256 of the body keyed with secret>, retried with backoff and logged (GET …/deliveries). The url must resolve to a public address (LOTLINE_WEBHOOK_ALLOW_PRIVATE=1 lifts this on the embedded demo). The secret is never shown again.",
        tags: ["notifications"],
        security: [{ bearer: [] }],
        body: Type.Object(
          {
            url: Type.String({ minLength: 1, maxLength: 2048, description: "the webhook (http or https)" }),
            topics: Type.Array(TopicName, { minItems: 1, maxItems: TOPICS.length, uniqueItems: true }),
            secret: Type.String({
              minLength: 16,
              maxLength: 256,
              description: "the key of the deliveries' HMAC-SHA256 signature",
            }),
          },
          { additionalProperties: false },
        ),
        response: { 201: Subscription, ...problems },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const orgId = Number(principal.agent.orgId);
      requireServed(state.served, orgId);
      try {
        await checkDestination(request.body.url);
      } catch (err) {
        if (err instanceof DestinationError) throw new HttpProblem(400, "invalid_destination", `url: ${err.message}`);
        throw err;
      }
      const row = store.insert({
        orgId,
        url: request.body.url,
        topics: request.body.topics,
        secret: request.body.secret,
        createdBy: principal.address,
      });
      return reply
        .code(201)
        .header("Location", `/api/v1/subscriptions/${row.subscription_id}`)
        .send(notificationSubscriptionView(row));
    },
  );

  app.get(
    "/api/v1/subscriptions",
    {
      onRequest: signedIn,
      schema: {
        summary: "Your organisation's notification subscriptions, oldest first",
        tags: ["notifications"],
        security: [{ bearer: [] }],
        response: { 200: List(Subscription), ...problems },
      },
    },
    async (request) => ({
      items: store.list(Number(principalOf(request).agent.orgId)).map(notificationSubscriptionView),
      nextCursor: null,
    }),
  );

  // Checked before the upgrade: a refusal is an HTTP problem and no socket is opened.
  const pendingStreams = new WeakMap<FastifyRequest, { orgId: number; topics: Set<Topic>; authorised: () => boolean }>();

  app.route({
    method: "GET",
    url: "/api/v1/subscriptions/stream",
    schema: {
      // A WebSocket answers 101, then messages: kept out of the OpenAPI document, whose operations
      // all answer a 2xx body; docs/notifications.md describes it.
      hide: true,
      summary: "Your organisation's notifications over a WebSocket (GET with Upgrade: websocket)",
      description:
        "Each notification concerning your organisation, of the topics asked (default all), is pushed as a text message {topic, type, at, data}: the body a webhook delivery carries, at the delivery job's round that fans it out (every 2 s). " +
        `Credentials: Authorization: Bearer <token>, or (browsers) the subprotocols "${LOTLINE_PROTOCOL}" and "${BEARER_PROTOCOL_PREFIX}<token>". ` +
        "The socket is closed (4401) when the session expires or the agent is no longer active. Without Upgrade: 426. See docs/notifications.md.",
      tags: ["notifications"],
      security: [{ bearer: [] }],
      querystring: Type.Object(
        {
          topics: Type.Optional(
            Type.String({ maxLength: 200, description: `comma-separated among ${TOPICS.join(", ")}, or all (the default)` }),
          ),
        },
        { additionalProperties: false },
      ),
      response: { 426: { $ref: "Problem#" }, 429: { $ref: "Problem#" }, ...problems },
    },
    preHandler: async (request) => {
      requireUpgrade(request);
      const { principal, authorization } = authenticateUpgrade(request, auth);
      const orgId = Number(principal.agent.orgId);
      requireServed(state.served, orgId);
      const topics = parseTopics(request.query.topics);
      if (liveStreamsFor(db).countFor(orgId) >= MAX_SOCKETS_PER_ORG) {
        throw new HttpProblem(
          429,
          "too_many_sockets",
          `your organisation has ${MAX_SOCKETS_PER_ORG} open sockets on this node already; close one first`,
        );
      }
      pendingStreams.set(request, { orgId, topics, authorised: sessionCheck(auth, authorization, principal.agent.orgId) });
    },
    // Reached only by a GET without Upgrade, which preHandler refuses (426).
    handler: async (request) => requireUpgrade(request),
    wsHandler: (socket, request) => {
      const pending = pendingStreams.get(request)!;
      liveStreamsFor(db).addNoticeStream(socket, pending.orgId, pending.topics, pending.authorised);
    },
  });

  app.get(
    "/api/v1/subscriptions/:id",
    {
      onRequest: signedIn,
      schema: {
        summary: "One of your organisation's notification subscriptions",
        tags: ["notifications"],
        security: [{ bearer: [] }],
        params: IdParams,
        response: { 200: Subscription, ...problems },
      },
    },
    async (request) => notificationSubscriptionView(own(request, request.params.id)),
  );

  app.delete(
    "/api/v1/subscriptions/:id",
    {
      onRequest: signedIn,
      schema: {
        summary: "End a notification subscription (its pending deliveries are dropped; the log stays)",
        tags: ["notifications"],
        security: [{ bearer: [] }],
        params: IdParams,
        response: { 200: Type.Object({ id: Type.String(), ended: Type.Literal(true) }), ...problems },
      },
    },
    async (request) => {
      const row = own(request, request.params.id);
      store.remove(row.subscription_id, row.org_id);
      return { id: row.subscription_id, ended: true as const };
    },
  );

  app.get(
    "/api/v1/subscriptions/:id/deliveries",
    {
      onRequest: signedIn,
      schema: {
        summary: "The delivery log of a notification subscription, newest first",
        tags: ["notifications"],
        security: [{ bearer: [] }],
        params: IdParams,
        querystring: Type.Object(
          {
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
            cursor: Type.Optional(Type.String({ maxLength: 200 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: List(Delivery), ...problems },
      },
    },
    async (request) => {
      const row = own(request, request.params.id);
      const before = request.query.cursor ? decodeCursor(request.query.cursor, "delivery") : null;
      if (before !== null && !/^[0-9]{1,15}$/.test(before)) {
        throw new HttpProblem(400, "invalid_cursor", "the cursor is not one this list returned; start again without it");
      }
      const limit = request.query.limit ?? 50;
      const rows = store.deliveries(row.subscription_id, limit + 1, before === null ? null : Number(before));
      const items = rows.slice(0, limit);
      return {
        items: items.map(deliveryView),
        nextCursor: rows.length > limit ? encodeCursor("delivery", items[items.length - 1].delivery_id) : null,
      };
    },
  );
};
