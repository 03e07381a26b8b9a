import { membersOnly } from "../access";
import { Type } from "@sinclair/typebox";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { HttpProblem } from "../problem";
import { decodeCursor, encodeCursor } from "../cursor";
import { Address, Hex32, IdString, Iso, List, ListQuery } from "../schemas";
import { createSettlementStore } from "../../store/settlement";
import { createProvenanceStore } from "../../store/provenance";
import { requireBatchRef } from "../batch-ref";
import { ORDER_STATUS } from "../../store/settlement";
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
  buyerWallet: Type.Union([Address, Type.Null()], { description: "the wallet that funded the order" }),
  sellerWallet: Type.Union([Address, Type.Null()], {
    description: "the seller organisation's payout address (credits belong to the organisation; its treasury withdraws them there)",
  }),
  fundedAt: Type.Union([Iso, Type.Null()], { description: "sales before this instant never count toward the order" }),
  disputeTimeoutSeconds: Type.Union([Type.Integer(), Type.Null()]),
  defaultSellerShareBps: Type.Union([Type.Integer(), Type.Null()], { description: "the contested value's split to the seller when a dispute times out" }),
  decideBy: Type.Union([Iso, Type.Null()], { description: "while disputed or frozen: when anyone may apply the default split" }),
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
      Type.Object({
        batchId: Hex32,
        saleIndex: Type.String({ description: "the sale (OwnershipTransferred index) the delivery names" }),
        quantity: Quantity,
        inspectionEnds: Iso,
        at: Iso,
        blockNumber: Type.Integer(),
        transactionHash: Hex32,
      }),
    ),
    disputes: Type.Array(OrderEvent),
    payments: Type.Array(OrderEvent),
    events: Type.Array(OrderEvent),
  }),
]);

const SaleSchema = Type.Object({
  saleIndex: Type.String(),
  batchId: Hex32,
  fromOrgId: Type.String(),
  toOrgId: Type.String(),
  quantity: Quantity,
  orderId: Type.Union([Type.String(), Type.Null()], { description: "the order the sale counts toward, if any" }),
  at: Iso,
  blockNumber: Type.Integer(),
  transactionHash: Hex32,
});

const Account = Type.Object({
  orgId: Type.String(),
  payoutAddress: Type.Union([Address, Type.Null()], { description: "where the organisation's treasury agents withdraw to; null: withdrawals are refused" }),
  payoutAddressSetBy: Type.Union([Address, Type.Null()]),
  owed: Type.Array(Type.Object({ token: Address, amount: Amount })),
  withdrawals: Type.Array(Type.Object({ token: Address, amount: Amount, to: Address, by: Address, at: Iso, transactionHash: Hex32 })),
});

export const settlementRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, { db, auth }) => {
  const store = createSettlementStore(db);
  const provenance = createProvenanceStore(db);

  app.get(
    "/api/v1/batches/:ref/sales",
    {
      onRequest: membersOnly(auth),
      schema: {
        summary: "A batch's recorded sales (ownership hand-overs), oldest first; with from and to, the one a delivery between them names",
        tags: ["settlement"],
        params: Type.Object({ ref: Type.String() }),
        querystring: Type.Object({ from: Type.Optional(IdString), to: Type.Optional(IdString) }, { additionalProperties: false }),
        response: {
          200: Type.Object({
            batchId: Hex32,
            items: Type.Array(SaleSchema),
            deliverable: Type.Union([SaleSchema, Type.Null()], {
              description: "with from and to: the latest sale between them not yet counted toward an order (else the latest counted one)",
            }),
          }),
          400: { $ref: "Problem#" },
          404: { $ref: "Problem#" },
        },
      },
    },
    async (request) => {
      const batch = requireBatchRef(provenance, request.params.ref);
      const { from, to } = request.query;
      const items = store.salesOfBatch(batch.id).filter((s) => (from === undefined || s.fromOrgId === from) && (to === undefined || s.toOrgId === to));
      const deliverable = from !== undefined && to !== undefined ? store.saleFor(batch.id, Number(from), Number(to)) : null;
      return { batchId: batch.id, items, deliverable };
    },
  );

  app.get(
    "/api/v1/orgs/:orgId/settlement",
    {
      onRequest: membersOnly(auth),
      schema: {
        summary: "What the escrow owes an organisation per token, its payout address and its withdrawals",
        tags: ["settlement"],
        params: Type.Object({ orgId: IdString }),
        response: { 200: Account, 400: { $ref: "Problem#" } },
      },
    },
    async (request) => store.account(Number(request.params.orgId)),
  );

  app.get(
    "/api/v1/orders",
    {
      onRequest: membersOnly(auth),
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
      onRequest: membersOnly(auth),
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
