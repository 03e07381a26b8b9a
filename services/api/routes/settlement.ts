import { Type } from "@sinclair/typebox";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { HttpProblem } from "../problem";
import { decodeCursor, encodeCursor } from "../cursor";
import { Address, Hex32, IdString, Iso, List, ListQuery } from "../schemas";
import { createSettlementStore } from "../../store/settlement";
import { ORDER_STATUS } from "../../indexer/handlers/settlement";
import type { RouteDeps } from "../app";

const Status = Type.Union(ORDER_STATUS.filter((s) => s !== "none").map((s) => Type.Literal(s)));
const Amount = Type.String({ pattern: "^[0-9]+$", description: "token base units, decimal string" });
const Quantity = Type.String({ pattern: "^[0-9]+(\\.[0-9]{1,3})?$" });

const Order = Type.Object({
  id: Type.String(),
  orderId: Type.String(),
  status: Status,
  buyerOrgId: Type.String(),
  sellerOrgId: Type.String(),
  arbiterOrgId: Type.Union([Type.String(), Type.Null()]),
  token: Address,
  gtin: Type.String(),
  quantity: Quantity,
  unit: Type.Union([Type.String(), Type.Null()]),
  pricePerUnit: Amount,
  totalPrice: Amount,
  deliveryDeadline: Iso,
  inspectionWindowSeconds: Type.Integer(),
  inspectionEnds: Type.Union([Iso, Type.Null()]),
  termsHash: Hex32,
  funded: Amount,
  delivered: Quantity,
  contested: Quantity,
  held: Amount,
  buyerWallet: Type.Union([Address, Type.Null()]),
  sellerWallet: Type.Union([Address, Type.Null()]),
  createdAt: Iso,
  createdBlock: Type.Integer(),
  transactionHash: Hex32,
  updatedAt: Iso,
});

const OrderEvent = Type.Object({
  type: Type.String(),
  at: Iso,
  blockNumber: Type.Integer(),
  transactionHash: Hex32,
  details: Type.Record(Type.String(), Type.Unknown()),
});

const OrderDetail = Type.Intersect([
  Order,
  Type.Object({
    deliveries: Type.Array(
      Type.Object({ batchId: Hex32, quantity: Quantity, inspectionEnds: Iso, at: Iso, blockNumber: Type.Integer(), transactionHash: Hex32 }),
    ),
    disputes: Type.Array(OrderEvent),
    payments: Type.Array(OrderEvent),
    events: Type.Array(OrderEvent),
  }),
]);

export const settlementRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, { db }) => {
  const store = createSettlementStore(db);

  app.get(
    "/api/v1/orders",
    {
      schema: {
        summary: "Purchase orders with escrowed payment",
        tags: ["settlement"],
        querystring: Type.Object(
          { ...ListQuery.properties, buyer: Type.Optional(IdString), seller: Type.Optional(IdString), status: Type.Optional(Status) },
          { additionalProperties: false },
        ),
        response: { 200: List(Order), 400: { $ref: "Problem#" } },
      },
    },
    async (request) => {
      const q = request.query;
      const after = q.cursor ? Number(decodeCursor(q.cursor, "order")) : 0;
      if (!Number.isSafeInteger(after)) throw new HttpProblem(400, "invalid_cursor", "the cursor is not one this list returned");
      const page = store.listOrders(
        { buyer: q.buyer ? Number(q.buyer) : undefined, seller: q.seller ? Number(q.seller) : undefined, status: q.status },
        { limit: q.limit ?? 50, after },
      );
      return { items: page.items, nextCursor: page.more && page.last !== null ? encodeCursor("order", page.last) : null };
    },
  );

  app.get(
    "/api/v1/orders/:orderId",
    {
      schema: {
        summary: "An order with its deliveries (batch ids), disputes and payments",
        tags: ["settlement"],
        params: Type.Object({ orderId: IdString }),
        response: { 200: OrderDetail, 400: { $ref: "Problem#" }, 404: { $ref: "Problem#" } },
      },
    },
    async (request) => {
      const order = store.getOrder(Number(request.params.orderId));
      if (!order) throw new HttpProblem(404, "order_not_found", `no order ${request.params.orderId}`);
      return order;
    },
  );
};
