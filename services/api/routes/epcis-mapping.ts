import { Type } from "@sinclair/typebox";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { Db } from "../../store/db";
import type { FastifyRequest } from "fastify";
import type { EventRow } from "../../epcis/store";
import { orderEvents } from "../../epcis/mapping/batches";
import { installMappingQueue, mappingView } from "../../epcis/mapping/queue";

/**
 * How captured events were mapped onto provenance. Kept out of GET /epcis/events/{eventID}, whose
 * body stays a standard EPCIS document. Registered inside the EPCIS routes (their problem documents).
 */

const Problem = Type.Object({
  type: Type.String(),
  title: Type.String(),
  status: Type.Integer(),
  detail: Type.String(),
  code: Type.String(),
  instance: Type.Optional(Type.String()),
});

const Mapping = Type.Object({
  recordId: Type.String(),
  eventID: Type.String(),
  hashId: Type.String(),
  status: Type.Union([Type.Literal("pending"), Type.Literal("applied"), Type.Literal("not_applied")]),
  effect: Type.Union([Type.String(), Type.Null()], {
    description:
      "registerLots, offer, accept, transform, pack, unpack, offerUnit, acceptUnit, observe, link (to an order), kept (shown on the batches)," +
      " reverse (an error declaration withdrawing what its event did); a set of several lots joins its effects with + (offer+offerUnit)",
  }),
  reason: Type.Union([Type.String(), Type.Null()], {
    description: "why it was not applied (the contract's custom error for a refusal)",
  }),
  transactionHash: Type.Union([Type.String(), Type.Null()]),
  transactions: Type.Array(Type.String()),
  details: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()], {
    description: "what the effect acted on (batches, quantities in the product's unit, organisations) and the calls sent",
  }),
  createdAt: Type.Union([Type.String(), Type.Null()]),
  updatedAt: Type.Union([Type.String(), Type.Null()]),
});

export interface MappingRouteOptions {
  db: Db;
  /** The stored records under an eventID the reader may read: 401 for the public, 404 when none. */
  readableById: (request: FastifyRequest, eventID: string) => EventRow[];
  /** Whether the reader may read a stored event (401 for the public). */
  readableSeq: (request: FastifyRequest) => (row: { seq: number; org_id: number }) => boolean;
}

export const mappingRoutes: FastifyPluginAsyncTypebox<MappingRouteOptions> = async (app, { db, readableById, readableSeq }) => {
  installMappingQueue();

  app.get(
    "/epcis/events/:eventID/mapping",
    {
      schema: {
        summary: "How an event was mapped onto provenance: pending, applied (effect, transactions) or not_applied (reason)",
        description: "One record per stored record under the eventID (an event and its error declarations), oldest first.",
        tags: ["epcis"],
        params: Type.Object({
          eventID: Type.String({ minLength: 1, maxLength: 1024, description: "the eventID (or CBV hash ID), percent-encoded" }),
        }),
        response: {
          200: Type.Object({ eventID: Type.String(), records: Type.Array(Mapping) }),
          400: Problem,
          401: Problem,
          404: Problem,
        },
      },
    },
    async (request) => {
      const rows = readableById(request, request.params.eventID);
      return { eventID: request.params.eventID, records: rows.map((row) => mappingView(db, row)) };
    },
  );

  app.get(
    "/api/v1/orders/:orderId/epcis-events",
    {
      schema: {
        summary:
          "EPCIS events naming a purchase order (a po business transaction …:po:{orderId}, …/po/{orderId} or …/orders/{orderId})",
        tags: ["epcis", "settlement"],
        params: Type.Object({ orderId: Type.String({ pattern: "^[1-9][0-9]{0,18}$" }) }),
        response: {
          200: Type.Object({
            orderId: Type.String(),
            events: Type.Array(
              Type.Object({
                recordId: Type.String(),
                eventID: Type.String(),
                hashId: Type.String(),
                eventType: Type.String(),
                bizStep: Type.Union([Type.String(), Type.Null()]),
                eventTime: Type.String(),
                bizTransaction: Type.String(),
              }),
            ),
          }),
          400: Problem,
          401: Problem,
        },
      },
    },
    async (request) => {
      const visible = readableSeq(request);
      return { orderId: request.params.orderId, events: orderEvents(db, Number(request.params.orderId), visible) };
    },
  );
};
