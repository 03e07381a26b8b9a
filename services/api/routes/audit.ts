import { Type } from "@sinclair/typebox";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Address, Iso } from "../schemas";
import { requireMember } from "../access";
import { decodeCursor, encodeCursor } from "../cursor";
import { HttpProblem } from "../problem";
import { requireServed } from "../../config/served";
import { auditHead, listAudit } from "../../audit/log";
import type { RouteDeps } from "../app";

const Hash = Type.String({ pattern: "^0x[0-9a-f]{64}$" });
const Entry = Type.Object({
  seq: Type.Integer({ description: "position in the node's log" }),
  at: Iso,
  agent: Type.Union([Address, Type.Null()]),
  orgId: Type.Union([Type.String(), Type.Null()]),
  action: Type.String({ description: "METHOD /route [contract.function for relayed calls]" }),
  target: Type.Union([Type.String(), Type.Null()], { description: "the route's parameters" }),
  status: Type.Integer({ description: "the HTTP status the write got" }),
  requestHash: Hash,
  prevHash: Hash,
  entryHash: Hash,
});

/**
 * The audit log of the node, for the organisations it serves: a signed-in agent of a served
 * organisation reads the entries of its own organisation (the log is the node's; members that
 * share a node do not read each other's). The operator checks the whole chain with
 * `lotline audit verify` on the data dir.
 */
export const auditRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, { db, state, auth }) => {
  app.get(
    "/api/v1/audit",
    {
      schema: {
        summary: "Audit log entries of the reader's organisation (agents of organisations this node serves), oldest first",
        tags: ["operations"],
        security: [{ bearer: [] }],
        querystring: Type.Object(
          { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })), cursor: Type.Optional(Type.String({ maxLength: 200 })) },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            items: Type.Array(Entry),
            nextCursor: Type.Union([Type.String(), Type.Null()]),
            head: Type.Object({ seq: Type.Integer(), entryHash: Hash }, { description: "the log's head now" }),
          }),
          400: { $ref: "Problem#" },
          401: { $ref: "Problem#" },
          403: { $ref: "Problem#" },
        },
      },
    },
    async (request) => {
      const reader = requireMember(request, auth);
      requireServed(state.served, reader.orgId);
      const after = request.query.cursor ? decodeCursor(request.query.cursor, "audit") : "0";
      if (!/^[0-9]{1,15}$/.test(after)) throw new HttpProblem(400, "invalid_cursor", "the cursor is not one this list returned; start again without it");
      const limit = request.query.limit ?? 100;
      const rows = listAudit(db, { orgId: reader.orgId, afterSeq: Number(after), limit: limit + 1 });
      const items = rows.slice(0, limit).map((e) => ({ ...e, orgId: e.orgId === null ? null : String(e.orgId) }));
      const head = auditHead(db);
      return {
        items,
        nextCursor: rows.length > limit ? encodeCursor("audit", items[items.length - 1].seq) : null,
        head: { seq: head.seq, entryHash: head.head },
      };
    },
  );
};
