import { createEpcisTimelines } from "../epcis-timelines";
import { createRecordReads } from "../record-reads";
import { requireServed } from "../../config/served";
import { membersOnly, readerOf } from "../access";
import { Type } from "@sinclair/typebox";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { HttpProblem } from "../problem";
import { decodeCursor, encodeCursor } from "../cursor";
import { AnchoredBy, Hex32, Iso, List, ListQuery } from "../schemas";
import { normaliseGtin } from "../../gs1/digital-link";
import { requireBatchRef } from "../batch-ref";
import { createProvenanceStore, type BatchStatus as BatchStatusName, type BatchView } from "../../store/provenance";
import { LineageTooLargeError, type Direction } from "../../provenance/trace";
import { anchorOf, proofOf } from "../../anchoring/outbox";
import { productRecordId, storeProductMasterData } from "../../provenance/products";
import { orgOfKey } from "../../store/identity";
import type { RouteDeps } from "../app";
import { epcisOriginCounts, epcisTimeline, mergeTimelines } from "../../epcis/mapping/batches";

const BatchStatus = Type.Union(["active", "in_transit", "consumed", "destroyed", "recalled"].map((s) => Type.Literal(s)));
const Quantity = Type.String({ pattern: "^[0-9]+(\\.[0-9]{1,3})?$", description: "decimal string in `unit`" });

/**
 * A batch. The public (no sign-in) sees a lot's identity and recall status only: id, lot id, GTIN,
 * lot, Digital Link, unit, producer, status, recall and when it was registered; every other field
 * is for members (README "Who may read what") and absent from the public view (`view: "public"`).
 */
export const Batch = Type.Object({
  id: Hex32,
  batchId: Hex32,
  lotId: Hex32,
  gtin: Type.String(),
  lot: Type.String(),
  digitalLink: Type.String(),
  view: Type.Optional(Type.Union([Type.Literal("public"), Type.Literal("member")], { description: "what the reader may see of it" })),
  parentId: Type.Optional(Type.Union([Hex32, Type.Null()])),
  portionIndex: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
  quantity: Type.Optional(Quantity),
  unit: Type.String({ description: "UN/CEFACT Rec 20 code" }),
  ownerOrgId: Type.Optional(Type.String()),
  custodianOrgId: Type.Optional(Type.String()),
  producerOrgId: Type.String(),
  location: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  status: BatchStatus,
  recall: Type.Union([
    Type.Null(),
    Type.Object({
      kind: Type.Union([Type.Literal("direct"), Type.Literal("propagated")]),
      reason: Type.Union([Type.String(), Type.Null()]),
      sourceBatchId: Type.Union([Hex32, Type.Null()]),
      byOrgId: Type.Union([Type.String(), Type.Null()]),
      at: Iso,
      blockNumber: Type.Integer(),
      transactionHash: Hex32,
    }),
  ]),
  logisticUnit: Type.Optional(Type.Union([Type.Null(), Type.Object({ unitKey: Hex32, sscc: Type.String() })])),
  pendingOffer: Type.Optional(Type.Union([Type.Null(), Type.Object({ toOrgId: Type.String(), kind: Type.String(), quantity: Quantity })])),
  orderId: Type.Optional(Type.Union([Type.String(), Type.Null()], { description: "the purchase order this batch was last delivered against (its latest sale's; a batch bought again lists every order in its sales)" })),
  metadataHash: Type.Optional(Hex32),
  createdAt: Iso,
  createdBlock: Type.Optional(Type.Integer()),
  transactionHash: Type.Optional(Hex32),
});

/** What the public may see of a batch: the lot's identity and its recall status. */
export function publicBatch(batch: BatchView) {
  const { id, batchId, lotId, gtin, lot, digitalLink, unit, producerOrgId, status, createdAt } = batch;
  const recall = batch.recall ? { ...batch.recall } : null;
  return { id, batchId, lotId, gtin, lot, digitalLink, view: "public" as const, unit, producerOrgId, status, recall, createdAt };
}

const BatchDetail = Type.Intersect([
  Batch,
  Type.Object({
    lotSummary: Type.Optional(Type.Object({
      lotId: Hex32,
      gtin: Type.String(),
      lot: Type.String(),
      digitalLink: Type.String(),
      producerOrgId: Type.String(),
      registeredAt: Iso,
      quantityInCirculation: Quantity,
      portions: Type.Array(Type.Object({ id: Hex32, quantity: Quantity, status: BatchStatus })),
    })),
  }),
]);

const Edge = Type.Object({
  from: Hex32,
  to: Hex32,
  type: Type.String({ description: "split, process, merge, repack…" }),
  quantity: Quantity,
  unit: Type.String(),
});

const Origin = Type.Object(
  {
    orgId: Type.String({ description: "the organisation that captured the event (its owner)" }),
    servedBy: Type.Union([Type.String(), Type.Null()], { description: "the member node it was replicated from; null: captured on this node" }),
    verified: Type.Boolean({ description: "its proof checked against the owner's anchor on-chain before it was stored" }),
  },
  { description: "where an EPCIS event came from (services/federation, ADR 0025)" },
);

/** EPCIS events that could not be obtained for the reader: named, never a zero. */
const EpcisGapSchema = Type.Object({
  batchId: Hex32,
  orgId: Type.Union([Type.String(), Type.Null()]),
  reason: Type.Union([Type.Literal("not_shared"), Type.Literal("unreachable"), Type.Literal("not_recorded")]),
  detail: Type.String(),
});

const TraceNode = Type.Intersect([
  Batch,
  Type.Object({
    depth: Type.Integer({ description: "negative upstream, positive downstream" }),
    epcisEvents: Type.Optional(
      Type.Integer({ description: "EPCIS events naming the batch's lot or a logistic unit (SSCC) it was packed in at the event's time, that the reader may read (held here or replicated)" }),
    ),
    epcisOrigins: Type.Optional(
      Type.Array(Type.Object({ origin: Origin, events: Type.Integer({ minimum: 1 }) }), { description: "the events counted in epcisEvents, by where they came from" }),
    ),
  }),
]);

const RefParams = Type.Object({
  ref: Type.String({ minLength: 1, maxLength: 512, description: "batch id (0x…) or URL-encoded GS1 Digital Link of a lot" }),
});

const BatchQuery = Type.Object(
  {
    ...ListQuery.properties,
    owner: Type.Optional(Type.String({ pattern: "^[1-9][0-9]{0,18}$" })),
    custodian: Type.Optional(Type.String({ pattern: "^[1-9][0-9]{0,18}$" })),
    gtin: Type.Optional(Type.String({ pattern: "^([0-9]{8}|[0-9]{12,14})$" })),
    lot: Type.Optional(Type.String({ minLength: 1, maxLength: 20 })),
    status: Type.Optional(BatchStatus),
  },
  { additionalProperties: false },
);

const MasterData = Type.Object(
  {
    gtin: Type.String({ pattern: "^([0-9]{8}|[0-9]{12,14})$" }),
    name: Type.String({ minLength: 1, maxLength: 200 }),
    unit: Type.String({ pattern: "^[A-Z0-9]{2,3}$", description: "UN/CEFACT Rec 20 code of the product's quantities" }),
    description: Type.Optional(Type.String({ maxLength: 2000 })),
    storageTemperature: Type.Optional(
      Type.Object({ minCelsius: Type.Number({ minimum: -273.15 }), maxCelsius: Type.Number({ maximum: 1000 }) }, { additionalProperties: false }),
    ),
    shelfLifeDays: Type.Optional(Type.Integer({ minimum: 0, maximum: 36500 })),
    brand: Type.Optional(Type.String({ maxLength: 200 })),
    countryOfOrigin: Type.Optional(Type.String({ pattern: "^[A-Z]{2}$" })),
  },
  { additionalProperties: false },
);

const Proof = Type.Object({
  recordId: Type.String(),
  kind: Type.String(),
  leaf: Hex32,
  status: Type.Union([Type.Literal("pending"), Type.Literal("anchored")]),
  merkleRoot: Type.Union([Hex32, Type.Null()]),
  proof: Type.Array(Hex32),
  transactionHash: Type.Union([Hex32, Type.Null()]),
  blockNumber: Type.Union([Type.Integer(), Type.Null()]),
  anchoredAt: Type.Union([Iso, Type.Null()]),
  anchoredBy: AnchoredBy,
  verified: Type.Boolean(),
});

const problems = { 400: { $ref: "Problem#" }, 404: { $ref: "Problem#" } };
/** Lineage routes may also refuse an answer too large to serve. */
const lineageProblems = { ...problems, 422: { $ref: "Problem#" } };

export const provenanceRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, { db, auth, state, config }) => {
  const store = createProvenanceStore(db);
  const maxTraceDepth = config.maxTraceDepth ?? 1000;
  const maxResultItems = config.maxResultItems ?? 10_000;
  /** Runs a lineage walk, answering 422 result_too_large when it reaches more batches than LOTLINE_MAX_RESULT_ITEMS. */
  function bounded<T>(walk: () => T, narrower: string): T {
    try {
      return walk();
    } catch (err) {
      if (!(err instanceof LineageTooLargeError)) throw err;
      throw new HttpProblem(422, "result_too_large", `the answer would list more than ${err.limit} batches (LOTLINE_MAX_RESULT_ITEMS); ${narrower}`);
    }
  }
  // Lineage, custody and recall impact are chain data every member may read; not the public.
  const members = membersOnly(auth);
  // The EPCIS events of a set of batches for a member organisation, fetched first from the nodes that hold them.
  const { federatedEpcis } = createEpcisTimelines(db, state);
  const records = createRecordReads(db, state);

  const requireBatch = (ref: string): BatchView => requireBatchRef(store, ref);

  app.get(
    "/api/v1/batches",
    {
      onRequest: members,
      schema: {
        summary: "List batches (portions of lots)",
        tags: ["provenance"],
        querystring: BatchQuery,
        response: { 200: List(Batch), ...problems },
      },
    },
    async (request) => {
      const q = request.query;
      const limit = q.limit ?? 50;
      const after = q.cursor ? Number(decodeCursor(q.cursor, "batch")) : 0;
      if (!Number.isSafeInteger(after)) throw new HttpProblem(400, "invalid_cursor", "the cursor is not one this list returned");
      let gtin: string | undefined;
      try {
        gtin = q.gtin === undefined ? undefined : normaliseGtin(q.gtin);
      } catch (err) {
        throw new HttpProblem(400, "invalid_request", (err as Error).message, [{ path: "querystring/gtin", message: (err as Error).message }]);
      }
      const page = store.listBatches(
        { owner: q.owner ? Number(q.owner) : undefined, custodian: q.custodian ? Number(q.custodian) : undefined, gtin, lot: q.lot, status: q.status as BatchStatusName | undefined },
        { limit, after },
      );
      return { items: page.items, nextCursor: page.more && page.last !== null ? encodeCursor("batch", page.last) : null };
    },
  );

  app.get(
    "/api/v1/batches/:ref",
    {
      schema: {
        summary: "A batch, by id or by the Digital Link of its lot (which resolves to the lot's first portion)",
        tags: ["provenance"],
        params: RefParams,
        response: { 200: BatchDetail, ...problems },
      },
    },
    async (request) => {
      const batch = requireBatch(request.params.ref);
      if (readerOf(request, auth).kind === "public") return publicBatch(batch);
      return { ...batch, view: "member" as const, lotSummary: store.lotSummary(batch.lotId) };
    },
  );

  app.get(
    "/api/v1/batches/:ref/trace",
    {
      onRequest: members,
      schema: {
        summary: "Lineage graph: upstream to raw materials, downstream to every product made from it",
        description: "Edges point the way material flows (`from` = input, `to` = output). Each node appears once, however many paths reach it.",
        tags: ["provenance"],
        params: RefParams,
        querystring: Type.Object(
          {
            direction: Type.Optional(Type.Union([Type.Literal("upstream"), Type.Literal("downstream"), Type.Literal("both")], { default: "both" })),
            maxDepth: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000, default: 50 })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            root: Hex32,
            nodes: Type.Array(TraceNode),
            edges: Type.Array(Edge),
            truncated: Type.Boolean(),
            epcisGaps: Type.Optional(Type.Array(EpcisGapSchema, { description: "EPCIS events of other members' nodes that could not be obtained for the reader" })),
          }),
          ...lineageProblems,
        },
      },
    },
    async (request) => {
      const maxDepth = request.query.maxDepth ?? 50;
      if (maxDepth > maxTraceDepth) {
        throw new HttpProblem(400, "trace_too_deep", `maxDepth ${maxDepth} is beyond this node's limit of ${maxTraceDepth} (LOTLINE_MAX_TRACE_DEPTH); trace from a batch further along instead`);
      }
      const root = requireBatch(request.params.ref);
      const direction = request.query.direction ?? "both";
      const directions: Direction[] = direction === "both" ? ["upstream", "downstream"] : [direction];
      const result = bounded(
        () => store.lineage(root.id, directions, maxDepth, { maxNodes: maxResultItems }),
        "ask for a smaller maxDepth or one direction",
      );
      // Every node's view, logistic units and EPCIS counts in a fixed number of queries (docs/performance.md "Trace").
      const ids = result.nodes.map((n) => n.id);
      const batches = store.getBatches(ids);
      const ssccs = store.ssccsOfBatches(batches);
      const reader = readerOf(request, auth) as Extract<ReturnType<typeof readerOf>, { kind: "member" }>;
      const epcis = await federatedEpcis(ids, reader.orgId);
      const counts = epcisOriginCounts(db, ids.map((id) => ({ ...batches.get(id)!, ssccs: ssccs.get(id)! })), epcis.visible);
      return {
        root: root.id,
        // The views are this request's own (getBatches builds them afresh): completed in place, not copied.
        nodes: result.nodes.map((n) => {
          const count = counts.get(n.id)!;
          return Object.assign(batches.get(n.id)!, { depth: n.depth, epcisEvents: count.events, epcisOrigins: count.origins });
        }),
        edges: result.edges,
        truncated: result.truncated,
        epcisGaps: epcis.gaps,
      };
    },
  );

  app.get(
    "/api/v1/batches/:ref/history",
    {
      onRequest: members,
      schema: {
        summary: "Custody and observation timeline of a batch, with the EPCIS events naming it",
        description:
          "On-chain entries carry blockNumber, logIndex and transactionHash. Entries of type `epcis` are stored EPCIS events naming the batch's lot " +
          "(its Digital Link /01/{gtin}/10/{lot}, however captured) or a logistic unit (SSCC) it was packed in at the event's time, at their eventTime, with " +
          "{recordId, eventID, hashId, eventType, action, bizStep, eventTime, mapping: {status, effect, reason, transactionHash}, orderIds}.",
        tags: ["provenance"],
        params: RefParams,
        response: {
          200: Type.Object({
            batchId: Hex32,
            items: Type.Array(
              Type.Object({
                type: Type.String({ description: "registered, offered, handed_over, …; epcis for a stored EPCIS event" }),
                at: Iso,
                blockNumber: Type.Optional(Type.Integer()),
                logIndex: Type.Optional(Type.Integer()),
                transactionHash: Type.Optional(Hex32),
                details: Type.Record(Type.String(), Type.Unknown()),
              }),
            ),
            epcisGaps: Type.Optional(Type.Array(EpcisGapSchema, { description: "EPCIS events of other members' nodes that could not be obtained for the reader" })),
          }),
          ...problems,
        },
      },
    },
    async (request) => {
      const batch = requireBatch(request.params.ref);
      const reader = readerOf(request, auth);
      // Members read the chain's history; of the EPCIS events, only those their owners shared with them
      // (fetched first from the members' nodes that hold them, as far as the reader may read them).
      const federated = reader.kind === "member" ? await federatedEpcis([batch.id], reader.orgId) : { visible: () => false, gaps: [] };
      const epcis = epcisTimeline(db, batch, store.ssccsOf(batch.id), federated.visible);
      return { batchId: batch.id, items: mergeTimelines(store.history(batch.id), epcis), epcisGaps: federated.gaps };
    },
  );

  app.get(
    "/api/v1/batches/:ref/recall-impact",
    {
      onRequest: members,
      schema: {
        summary: "Blast radius of a recall: every downstream batch with its custodian, location and quantity",
        tags: ["provenance"],
        params: RefParams,
        response: {
          200: Type.Object({
            recalled: Type.Object({ batchId: Hex32, recalled: Type.Boolean(), recall: Batch.properties.recall }),
            affected: Type.Array(Batch),
            totals: Type.Object({
              batches: Type.Integer(),
              inCirculation: Type.Integer({ description: "affected batches still active or in transit" }),
              flaggedOnChain: Type.Integer({ description: "affected batches whose recall flag is already on-chain" }),
              quantityByUnit: Type.Record(Type.String(), Quantity),
              byCustodian: Type.Record(Type.String(), Type.Integer()),
            }),
          }),
          ...lineageProblems,
        },
      },
    },
    async (request) => {
      const root = requireBatch(request.params.ref);
      const closure = bounded(() => store.downstreamClosure(root.id, { maxNodes: maxResultItems }), "ask the node's operator for a higher limit");
      const affected = [...store.getBatches(closure).values()];
      const inCirculation = affected.filter((b) => b.status === "active" || b.status === "in_transit" || b.status === "recalled");
      const quantityByUnit: Record<string, bigint> = {};
      const byCustodian: Record<string, number> = {};
      for (const b of inCirculation) {
        const [whole, fraction = ""] = b.quantity.split(".");
        quantityByUnit[b.unit] = (quantityByUnit[b.unit] ?? 0n) + BigInt(whole) * 1000n + BigInt(fraction.padEnd(3, "0"));
        byCustodian[b.custodianOrgId] = (byCustodian[b.custodianOrgId] ?? 0) + 1;
      }
      const format = (raw: bigint) => {
        const f = (raw % 1000n).toString().padStart(3, "0").replace(/0+$/, "");
        return f ? `${raw / 1000n}.${f}` : `${raw / 1000n}`;
      };
      return {
        recalled: { batchId: root.id, recalled: root.recall !== null, recall: root.recall },
        affected,
        totals: {
          batches: affected.length,
          inCirculation: inCirculation.length,
          flaggedOnChain: affected.filter((b) => b.recall !== null).length,
          quantityByUnit: Object.fromEntries(Object.entries(quantityByUnit).map(([u, q]) => [u, format(q)])),
          byCustodian,
        },
      };
    },
  );

  app.get(
    "/api/v1/products/:gtin",
    {
      schema: {
        summary: "Product master data, with the on-chain commitment and its anchoring proof",
        tags: ["provenance"],
        params: Type.Object({ gtin: Type.String({ pattern: "^([0-9]{8}|[0-9]{12,14})$" }) }),
        response: {
          200: Type.Object({
            id: Type.String(),
            gtin: Type.String(),
            orgId: Type.String(),
            unit: Type.String(),
            masterDataHash: Hex32,
            masterData: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
            masterDataVerified: Type.Boolean({ description: "the stored master data hashes to the on-chain commitment" }),
            registeredAt: Iso,
            blockNumber: Type.Integer(),
            transactionHash: Hex32,
            anchor: Type.Union([Proof, Type.Null()]),
          }),
          ...problems,
        },
      },
    },
    async (request) => {
      return records.product(request.params.gtin);
    },
  );

  app.post(
    "/api/v1/products",
    {
      schema: {
        summary: "Store product master data and queue it for anchoring; returns the hash to register on-chain",
        description:
          "For an agent of the organisation holding the GTIN's company prefix. The wallet then calls registerProduct(gtin, unit, masterDataHash) (the CLI does both).",
        tags: ["provenance"],
        security: [{ bearer: [] }],
        body: MasterData,
        response: {
          201: Type.Object({ gtin: Type.String(), masterDataHash: Hex32, recordId: Type.String(), anchorStatus: Type.Literal("pending") }),
          ...problems,
          401: { $ref: "Problem#" },
          403: { $ref: "Problem#" },
        },
      },
    },
    async (request, reply) => {
      const principal = auth.authenticate(request.headers.authorization);
      requireServed(state.served, Number(principal.agent.orgId));
      let gtin: string;
      try {
        gtin = normaliseGtin(request.body.gtin);
      } catch (err) {
        throw new HttpProblem(400, "invalid_gtin", (err as Error).message);
      }
      const holder = orgOfKey(db, gtin.slice(1, 13));
      if (holder !== Number(principal.agent.orgId)) {
        throw new HttpProblem(403, "foreign_prefix", `GTIN ${gtin} is not under a company prefix of organisation ${principal.agent.orgId}`);
      }
      const hash = storeProductMasterData(db, { ...request.body, gtin }, principal.address, Number(principal.agent.orgId));
      const recordId = productRecordId(hash);
      return reply.code(201).send({ gtin, masterDataHash: hash, recordId, anchorStatus: "pending" as const });
    },
  );

  app.get(
    "/api/v1/anchors/:root",
    {
      schema: {
        summary: "An anchored Merkle root: who anchored it, its kind, transaction, and the records (leaves) it commits to, in tree order",
        description:
          "Several organisations may anchor the same root (anchors are keyed by organisation and root; a rival copying a root gets an anchor of its own, " +
          "which stands for nothing of the owner's). With `org`, the response describes that organisation's anchor (404 when it has none and this node " +
          "submitted no batch as it). Without `org`, it describes the anchor of the organisation this node anchored its batch as, or, for a root this node " +
          "did not submit, the earliest anchor on the indexed chain. `anchors` lists every organisation's anchor of the root, earliest first. " +
          "`leaves` are shown only for a batch this node submitted as the organisation described. The `uri` recorded on-chain with each anchor points here, with `org`.",
        tags: ["anchoring"],
        params: Type.Object({ root: Hex32 }),
        querystring: Type.Object(
          { org: Type.Optional(Type.String({ pattern: "^[1-9][0-9]{0,18}$", description: "the anchoring organisation's id" })) },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            root: Hex32,
            kind: Type.String(),
            status: Type.Union([Type.Literal("pending"), Type.Literal("anchored")]),
            orgId: Type.Union([Type.String(), Type.Null()], { description: "the organisation whose anchor this describes" }),
            anchoredBy: AnchoredBy,
            count: Type.Integer(),
            transactionHash: Type.Union([Hex32, Type.Null()]),
            blockNumber: Type.Union([Type.Integer(), Type.Null()]),
            anchoredAt: Type.Union([Iso, Type.Null()]),
            leaves: Type.Array(Type.Object({ leaf: Hex32, recordId: Type.Union([Type.String(), Type.Null()]) })),
            anchors: Type.Array(
              Type.Object({
                orgId: Type.String(),
                name: Type.Union([Type.String(), Type.Null()]),
                kind: Type.String(),
                count: Type.Integer(),
                uri: Type.String(),
                transactionHash: Hex32,
                blockNumber: Type.Integer(),
                anchoredAt: Iso,
              }),
              { description: "every organisation's anchor of this root on the indexed chain, earliest first" },
            ),
          }),
          ...problems,
        },
      },
    },
    async (request) => {
      const org = request.query.org === undefined ? undefined : BigInt(request.query.org);
      const anchor = anchorOf(db, request.params.root.toLowerCase(), org);
      if (!anchor) {
        throw new HttpProblem(
          404,
          "anchor_not_found",
          `no anchor ${request.params.root}${org === undefined ? "" : ` by organisation ${org}`} is known to this node`,
        );
      }
      return anchor;
    },
  );

  app.get(
    "/api/v1/anchors/records/:recordId/proof",
    {
      schema: {
        summary: "Inclusion proof of an off-chain record in an anchored Merkle root (pending until anchored)",
        tags: ["anchoring"],
        params: Type.Object({ recordId: Type.String({ minLength: 1, maxLength: 200 }) }),
        response: { 200: Proof, ...problems },
      },
    },
    async (request) => {
      const proof = proofOf(db, request.params.recordId);
      if (!proof) throw new HttpProblem(404, "record_not_found", `no record ${request.params.recordId} was queued for anchoring`);
      return proof;
    },
  );
};
