import { Type } from "@sinclair/typebox";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { FastifyRequest } from "fastify";
import { HttpProblem } from "../problem";
import { readerOf } from "../access";
import type { Principal } from "../auth";
import { Address, Hex32, IdString, Iso } from "../schemas";
import { createSharingStore } from "../../store/sharing";
import { requireServed, servesOrg } from "../../config/served";
import {
  CONTENT_TYPE_PATTERN,
  createOrderTermsStore,
  decodeBase64,
  MAX_TERMS_BYTES,
  type StoredTerms,
  type TermsOrder,
} from "../../settlement/order-terms";
import type { RouteDeps } from "../app";

/** The base64 text of the largest document, and the request body around it. */
const MAX_CONTENT_CHARS = Math.ceil(MAX_TERMS_BYTES / 3) * 4;
const BODY_LIMIT = MAX_CONTENT_CHARS + 4_096;

const problems = { 400: { $ref: "Problem#" }, 401: { $ref: "Problem#" }, 403: { $ref: "Problem#" }, 404: { $ref: "Problem#" } };

const ContentType = Type.String({ pattern: CONTENT_TYPE_PATTERN, maxLength: 400, description: "the document's media type, e.g. application/json, application/pdf" });

const Origin = Type.Object(
  {
    orgId: Type.String({ description: "the party (buyer or seller) whose document it is" }),
    servedBy: Type.Union([Type.String(), Type.Null()], { description: "the node it was fetched from; null: uploaded to this node" }),
    verified: Type.Boolean({ description: "keccak256 of the bytes is the order's on-chain termsHash" }),
  },
  { description: "where the document came from" },
);

const Gap = Type.Object({
  orgId: Type.Union([Type.String(), Type.Null()], { description: "the party whose node the reason stands for" }),
  reason: Type.Union([Type.Literal("not_shared"), Type.Literal("unreachable"), Type.Literal("not_recorded"), Type.Literal("rejected")]),
  detail: Type.String(),
});

const Stored = Type.Object({
  orderId: Type.String(),
  termsHash: Hex32,
  contentType: Type.String(),
  size: Type.Integer({ minimum: 1 }),
  verified: Type.Boolean(),
  origin: Origin,
  uploadedBy: Type.Union([Address, Type.Null()], { description: "the agent that uploaded it here; null for a replica" }),
  storedAt: Iso,
});

const Terms = Type.Object({
  orderId: Type.String(),
  termsHash: Hex32,
  contentType: Type.Union([Type.String(), Type.Null()]),
  content: Type.Union([Type.String({ contentEncoding: "base64" }), Type.Null()], { description: "the document's bytes, base64; null when it could not be obtained (see gaps)" }),
  size: Type.Union([Type.Integer(), Type.Null()]),
  verified: Type.Boolean({ description: "keccak256 of the bytes is the order's on-chain termsHash (false without a document)" }),
  origin: Type.Union([Origin, Type.Null()]),
  gaps: Type.Array(Gap, { description: "why there is no document: empty when there is one" }),
});

const principals = new WeakMap<FastifyRequest, Principal>();

/**
 * Order terms documents (docs/adr/0030): the buyer or the seller uploads the document whose
 * keccak256 the order recorded as `termsHash`; the parties and ORDER_TERMS grantees read it, from
 * this node or — fetched and hash-checked — from a party's node (services/federation).
 */
export const orderTermsRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, { db, auth, state }) => {
  const sharing = createSharingStore(db);
  const terms = createOrderTermsStore(db, sharing);
  const serves = (orgId: number) => servesOrg(state.served, orgId);

  const requireOrder = (orderId: string): TermsOrder => {
    const order = terms.orderOf(Number(orderId));
    if (!order) throw new HttpProblem(404, "order_not_found", `no order ${orderId}`);
    return order;
  };

  const storedView = (stored: StoredTerms, order: TermsOrder) => {
    const origin = terms.originOf(stored, order);
    return {
      orderId: String(order.orderId),
      termsHash: order.termsHash,
      contentType: stored.contentType,
      size: stored.size,
      verified: origin.verified,
      origin,
      uploadedBy: stored.uploadedBy,
      storedAt: stored.storedAt,
    };
  };

  app.put(
    "/api/v1/orders/:orderId/terms",
    {
      bodyLimit: BODY_LIMIT,
      schema: {
        summary: "Store an order's terms document: the bytes whose keccak256 the order recorded as termsHash (buyer or seller)",
        description:
          "For a signed-in agent of the order's buyer or seller organisation, on a node that serves that organisation. The body is JSON " +
          `\`{contentType, content}\` with the document's bytes in base64 (at most ${MAX_TERMS_BYTES} bytes). Refused (422 \`terms_hash_mismatch\`, ` +
          "nothing stored) unless keccak256 of the bytes is the order's on-chain termsHash. The same bytes again: 200, nothing changed; " +
          "first stored: 201.",
        tags: ["settlement"],
        security: [{ bearer: [] }],
        params: Type.Object({ orderId: IdString }),
        body: Type.Object(
          {
            contentType: ContentType,
            content: Type.String({ minLength: 4, maxLength: MAX_CONTENT_CHARS, pattern: "^[A-Za-z0-9+/]*={0,2}$", description: "the document's bytes, base64 (padded)" }),
          },
          { additionalProperties: false },
        ),
        response: { 200: Stored, 201: Stored, ...problems, 409: { $ref: "Problem#" }, 413: { $ref: "Problem#" }, 422: { $ref: "Problem#" } },
      },
      // Authentication before validation: without a valid token the answer is 401, whatever the body.
      onRequest: async (request) => {
        principals.set(request, auth.authenticate(request.headers.authorization));
      },
    },
    async (request, reply) => {
      const principal = principals.get(request)!;
      const orgId = Number(principal.agent.orgId);
      const order = requireOrder(request.params.orderId);
      if (orgId !== order.buyerOrg && orgId !== order.sellerOrg) {
        throw new HttpProblem(
          403,
          "not_a_party",
          `organisation ${orgId} is neither the buyer (${order.buyerOrg}) nor the seller (${order.sellerOrg}) of order ${order.orderId}: only they store its terms`,
        );
      }
      // The node keeps records only for the organisations it serves (LOTLINE_SERVE_ORGS).
      requireServed(state.served, orgId, sharing.serviceUrl(orgId));
      const content = decodeBase64(request.body.content);
      if (!content) throw new HttpProblem(400, "invalid_request", "body/content is not padded base64 (RFC 4648)", [{ path: "body/content", message: "is not padded base64" }]);
      const { outcome, terms: stored } = terms.storeUpload(order, { contentType: request.body.contentType, content, orgId, agent: principal.address });
      return reply.code(outcome === "stored" ? 201 : 200).send(storedView(stored, order));
    },
  );

  app.get(
    "/api/v1/orders/:orderId/terms",
    {
      schema: {
        summary: "An order's terms document (buyer, seller and ORDER_TERMS grantees), from this node or fetched from a party's node",
        description:
          "For the order's buyer and seller organisations and the organisations either granted ORDER_TERMS records over a scope covering the " +
          "order (all, the order's GTIN, or a lot its deliveries name or were made from). Held here: answered with its origin. Otherwise asked of " +
          "the parties' published nodes (a signed node request), checked against the on-chain termsHash and stored as a replica; what could not " +
          "be obtained is a gap (`not_shared`, `unreachable`, `not_recorded`, `rejected`), never an error. A node request is answered documents " +
          "uploaded here only, never replicas.",
        tags: ["settlement"],
        security: [{ bearer: [] }],
        params: Type.Object({ orderId: IdString }),
        response: { 200: Terms, ...problems },
      },
    },
    async (request) => {
      const reader = readerOf(request, auth);
      if (reader.kind === "public") {
        throw new HttpProblem(401, "unauthorized", "sign in to read an order's terms: they are shown to its buyer, its seller and the organisations they granted");
      }
      const order = requireOrder(request.params.orderId);
      if (!terms.mayRead(reader.orgId, order)) {
        throw new HttpProblem(
          403,
          "not_shared",
          `order ${order.orderId}'s terms belong to organisations ${order.buyerOrg} and ${order.sellerOrg}, neither of which has granted organisation ${reader.orgId} read access to its ORDER_TERMS records for it`,
        );
      }
      // A node asking is answered this node's own documents only (it fetches from their owners itself).
      const own = (stored: StoredTerms | null) => (stored && stored.servedBy === null && serves(stored.ownerOrg) ? stored : null);
      let stored = reader.node ? own(terms.held(order)) : terms.held(order);
      if (!stored && !reader.node && state.federation) {
        await state.federation.ensureOrderTerms([order.orderId], reader.orgId);
        stored = terms.held(order);
      }
      if (!stored) {
        return {
          orderId: String(order.orderId),
          termsHash: order.termsHash,
          contentType: null,
          content: null,
          size: null,
          verified: false,
          origin: null,
          gaps: [reader.node ? { orgId: null, reason: "not_recorded" as const, detail: `this node holds no terms document of order ${order.orderId} of its own` } : terms.gapOf(order, reader.orgId, serves)],
        };
      }
      const origin = terms.originOf(stored, order);
      return {
        orderId: String(order.orderId),
        termsHash: order.termsHash,
        contentType: stored.contentType,
        content: stored.content.toString("base64"),
        size: stored.size,
        verified: origin.verified,
        origin,
        gaps: [],
      };
    },
  );
};
