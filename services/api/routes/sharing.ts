import { Type } from "@sinclair/typebox";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { IdString, Iso, List, ListQuery } from "../schemas";
import { HttpProblem } from "../problem";
import { decodeCursor, encodeCursor } from "../cursor";
import { createSharingStore } from "../../store/sharing";
import type { RouteDeps } from "../app";

const problems = { 400: { $ref: "Problem#" }, 401: { $ref: "Problem#" }, 403: { $ref: "Problem#" }, 404: { $ref: "Problem#" } };

export const Grant = Type.Object({
  grantId: Type.String(),
  grantorOrgId: Type.String({ description: "the organisation whose records are shared" }),
  granteeOrgId: Type.String({ description: "the organisation that may read them" }),
  classes: Type.Array(Type.Union([Type.Literal("EPCIS"), Type.Literal("PRODUCTION_RUN"), Type.Literal("ORDER_TERMS")])),
  scope: Type.Object({
    kind: Type.Union([Type.Literal("all"), Type.Literal("gtin"), Type.Literal("lot")]),
    value: Type.Union([Type.String(), Type.Null()], { description: "null for all; the GTIN-14; the lot id with everything made from it" }),
  }),
  expiresAt: Iso,
  revokedAt: Type.Union([Iso, Type.Null()]),
  revokedByOrgId: Type.Union([Type.String(), Type.Null()]),
  inForce: Type.Boolean({ description: "not revoked, not expired, and the grantor active" }),
  grantedBy: Type.String({ description: "the org admin wallet that issued it" }),
  grantedAt: Iso,
  blockNumber: Type.Integer(),
  transactionHash: Type.String(),
});

/**
 * Grants are chain data: every member can read them (the members class of the visibility table),
 * so a member can prove what it shared and see what it was granted.
 */
export const sharingRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, { db, auth }) => {
  const sharing = createSharingStore(db);
  const signedIn = async (request: { headers: { authorization?: string } }) => {
    auth.authenticate(request.headers.authorization);
  };

  app.get(
    "/api/v1/grants",
    {
      onRequest: signedIn,
      schema: {
        summary: "Grants of read access to off-chain records, newest first (signed-in members)",
        tags: ["sharing"],
        security: [{ bearer: [] }],
        querystring: Type.Object(
          {
            ...ListQuery.properties,
            grantor: Type.Optional(IdString),
            grantee: Type.Optional(IdString),
            inForce: Type.Optional(Type.Boolean({ description: "only grants in force now" })),
          },
          { additionalProperties: false },
        ),
        response: { 200: List(Grant), ...problems },
      },
    },
    async (request) => {
      const q = request.query;
      const before = q.cursor ? decodeCursor(q.cursor, "grant") : null;
      if (before !== null && !/^[0-9]{1,19}$/.test(before)) {
        throw new HttpProblem(400, "invalid_cursor", "the cursor is not one this list returned; start again without it");
      }
      const page = sharing.listGrants({
        grantor: q.grantor ? Number(q.grantor) : null,
        grantee: q.grantee ? Number(q.grantee) : null,
        inForce: q.inForce ?? false,
        before: before === null ? null : Number(before),
        limit: q.limit ?? 50,
      });
      return { items: page.items, nextCursor: page.more && page.last !== null ? encodeCursor("grant", page.last) : null };
    },
  );

  app.get(
    "/api/v1/grants/:grantId",
    {
      onRequest: signedIn,
      schema: {
        summary: "One grant",
        tags: ["sharing"],
        security: [{ bearer: [] }],
        params: Type.Object({ grantId: IdString }),
        response: { 200: Grant, ...problems },
      },
    },
    async (request) => {
      const grant = sharing.getGrant(Number(request.params.grantId));
      if (!grant) throw new HttpProblem(404, "grant_not_found", `no grant ${request.params.grantId}`);
      return grant;
    },
  );
};
