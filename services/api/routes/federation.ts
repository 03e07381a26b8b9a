import { Type } from "@sinclair/typebox";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { HttpProblem } from "../problem";
import { requireMember } from "../access";
import { createSharingStore } from "../../store/sharing";
import { createFederationStore } from "../../federation/store";
import { MAX_BATCHES_PER_REQUEST, MAX_ORDERS_PER_REQUEST } from "../../federation/fetcher";
import { createOrderTermsStore } from "../../settlement/order-terms";
import { runBatchIds } from "../../analytics/record";
import { servesOrg } from "../../config/served";
import { epcisVisibility } from "../../epcis/access";
import { batchIdentifiers, eventNamesBatch } from "../../epcis/mapping/batches";
import { createUnitContents } from "../../store/logistic-units";
import { createProvenanceStore } from "../../store/provenance";
import { eventsNamingOwn, proofEntryOf } from "../../federation/epcis";
import type { RouteDeps } from "../app";

const problems = { 400: { $ref: "Problem#" }, 401: { $ref: "Problem#" }, 403: { $ref: "Problem#" } };
const Hex32 = Type.String({ pattern: "^0x[0-9a-fA-F]{64}$" });

/** The ProvenRecord form (services/export/records.ts), as bundles carry it. */
const ProvenRecordSchema = Type.Object({
  class: Type.Union([Type.Literal("PRODUCT"), Type.Literal("PRODUCTION_RUN"), Type.Literal("EPCIS")]),
  owner: Type.String({ description: "the owning organisation, whose anchor the proof relies on" }),
  recordId: Type.String(),
  record: Type.Object({}, { additionalProperties: true, description: "the record as stored; its leaf is recomputed from it" }),
  leaf: Hex32,
  proof: Type.Object({
    merkleRoot: Hex32,
    proof: Type.Array(Hex32),
    anchoredBy: Type.Object({ orgId: Type.String(), name: Type.Union([Type.String(), Type.Null()]) }),
    transactionHash: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    blockNumber: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
  }),
});

/**
 * The holder's half of federation: another member's node (signed with its integration key — see
 * services/federation/node-auth.ts — or any signed-in member) asks for the production runs naming
 * some batches, and gets those of this node's own organisations that the reader's organisation may
 * read, each with its Merkle proof, in the ProvenRecord form export bundles use. Replicas this node
 * holds from others are never passed on: a record is fetched from the node that holds it.
 */
export const federationRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, { db, auth, state }) => {
  const sharing = createSharingStore(db);
  const store = createFederationStore(db);

  app.get(
    "/api/v1/federation/records",
    {
      schema: {
        summary: "Production runs naming the batches, with Merkle proofs, for another member's node (owner and grantees)",
        description:
          "Signed by the asking node's integration key (`Authorization: LotlineNode …`) or a member's session. Per batch: `ok` (records follow; " +
          "`pending` counts those not anchored yet), `not_shared` (runs exist that the reader's organisation may not read) or `not_recorded`.",
        tags: ["federation"],
        security: [{ bearer: [] }],
        querystring: BatchesQuery,
        response: {
          200: Type.Object({
            records: Type.Array(ProvenRecordSchema),
            batches: Type.Array(
              Type.Object({
                batchId: Hex32,
                status: Type.Union([Type.Literal("ok"), Type.Literal("not_shared"), Type.Literal("not_recorded")]),
                pending: Type.Integer({ minimum: 0 }),
              }),
            ),
          }),
          ...problems,
        },
      },
    },
    async (request) => {
      const reader = requireMember(request, auth);
      const batchIds = requestedBatches(request.query.batches);
      const records = new Map<string, unknown>();
      const batches = batchIds.map((batchId) => {
        const own = store.ownRunsNaming(batchId).filter((run) => servesOrg(state.served, Number(run.record.orgId)));
        if (own.length === 0) return { batchId, status: "not_recorded" as const, pending: 0 };
        const readable = own.filter((run) =>
          sharing.mayRead(reader.orgId, Number(run.record.orgId), "PRODUCTION_RUN", () => sharing.subjectOf(runBatchIds(run.record))),
        );
        if (readable.length === 0) return { batchId, status: "not_shared" as const, pending: 0 };
        let pending = 0;
        for (const run of readable) {
          const proven = store.provenRun(run);
          if ("pending" in proven) pending++;
          else records.set(proven.recordId, proven);
        }
        return { batchId, status: "ok" as const, pending };
      });
      return { records: [...records.values()] as never[], batches };
    },
  );

  const provenance = createProvenanceStore(db);
  app.get(
    "/api/v1/federation/epcis-proofs",
    {
      schema: {
        summary: "Merkle proofs of this node's own EPCIS events naming the batches, beside its EPCIS query interface (owner and grantees)",
        description:
          "The companion of GET /epcis/events for another member's node (ADR 0025): the events travel in the standard EPCISQueryDocument, " +
          "their proofs here, one per stored record: `{recordId, eventID, owner, context, leaf, proof}` where `context` is the @context of the " +
          "document the event was captured in (null: a bare event) and the leaf is keccak256(abi.encode(hashId, canonical JSON of the event)). " +
          "Signed by the asking node's integration key (`Authorization: LotlineNode …`) or a member's session. Only events this node captured for " +
          "the organisations it serves, never replicas. Per batch and owning organisation holding events naming it: `ok` (`pending` counts " +
          "those not anchored yet) or `not_shared`; an organisation not listed holds none.",
        tags: ["federation", "epcis"],
        security: [{ bearer: [] }],
        querystring: BatchesQuery,
        response: {
          200: Type.Object({
            proofs: Type.Array(
              Type.Object({
                recordId: Type.String(),
                eventID: Type.String(),
                owner: Type.String({ description: "the organisation that captured the event, whose anchor the proof relies on" }),
                context: Type.Unknown({ description: "the @context of the document the event was captured in; null for a bare event" }),
                leaf: Hex32,
                proof: ProvenRecordSchema.properties.proof,
              }),
            ),
            batches: Type.Array(
              Type.Object({
                batchId: Hex32,
                orgId: Type.String(),
                status: Type.Union([Type.Literal("ok"), Type.Literal("not_shared")]),
                pending: Type.Integer({ minimum: 0 }),
              }),
            ),
          }),
          ...problems,
        },
      },
    },
    async (request) => {
      const reader = requireMember(request, auth);
      const batchIds = requestedBatches(request.query.batches);
      const visibility = epcisVisibility(db, sharing, reader.orgId, { serves: (orgId) => servesOrg(state.served, orgId) });
      const proofs = new Map<string, NonNullable<ReturnType<typeof proofEntryOf>>>();
      const batches: { batchId: string; orgId: string; status: "ok" | "not_shared"; pending: number }[] = [];
      const units = createUnitContents(db);
      for (const batchId of batchIds) {
        const batch = provenance.getBatch(batchId);
        if (!batch) continue;
        const byOwner = new Map<number, { readable: number; pending: number }>();
        for (const row of eventsNamingOwn(db, batchIdentifiers(batch, provenance.ssccsOf(batchId)))) {
          if (!servesOrg(state.served, row.org_id)) continue;
          // A logistic unit's event of another load is about other goods: neither counted nor served for this batch.
          if (!eventNamesBatch(units, batch, JSON.parse(row.named) as string[], row.event_time)) continue;
          const tally = byOwner.get(row.org_id) ?? { readable: 0, pending: 0 };
          byOwner.set(row.org_id, tally);
          if (!visibility.visible({ ...row, served_by: null })) continue;
          tally.readable++;
          const entry = proofEntryOf(db, row);
          if (entry) proofs.set(entry.recordId, entry);
          else tally.pending++;
        }
        for (const [orgId, tally] of byOwner) {
          batches.push({ batchId, orgId: String(orgId), status: tally.readable > 0 ? "ok" : "not_shared", pending: tally.pending });
        }
      }
      return { proofs: [...proofs.values()], batches };
    },
  );

  const orderTerms = createOrderTermsStore(db, sharing);
  app.get(
    "/api/v1/federation/order-terms",
    {
      schema: {
        summary: "Terms documents of orders, for another member's node: this node's own, hash-checked by the asker (parties and ORDER_TERMS grantees)",
        description:
          "Signed by the asking node's integration key (`Authorization: LotlineNode …`) or a member's session (docs/adr/0030). Only documents " +
          "uploaded to this node by the organisations it serves, never replicas. Per order: `ok` (the document follows, its bytes base64), " +
          "`not_shared` (a document is held that the reader's organisation may not read: neither party granted it ORDER_TERMS covering the " +
          "order) or `not_recorded`. The asker checks keccak256 of the bytes against the order's on-chain termsHash.",
        tags: ["federation", "settlement"],
        security: [{ bearer: [] }],
        querystring: Type.Object(
          {
            orders: Type.String({
              pattern: "^[1-9][0-9]{0,18}(,[1-9][0-9]{0,18})*$",
              maxLength: 20 * MAX_ORDERS_PER_REQUEST,
              description: "comma-separated order ids",
            }),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            documents: Type.Array(
              Type.Object({
                orderId: Type.String(),
                owner: Type.String({ description: "the party (buyer or seller) that stored the document here" }),
                termsHash: Hex32,
                contentType: Type.String(),
                content: Type.String({ contentEncoding: "base64" }),
              }),
            ),
            orders: Type.Array(
              Type.Object({
                orderId: Type.String(),
                status: Type.Union([Type.Literal("ok"), Type.Literal("not_shared"), Type.Literal("not_recorded")]),
              }),
            ),
          }),
          ...problems,
        },
      },
    },
    async (request) => {
      const reader = requireMember(request, auth);
      const ids = [...new Set(request.query.orders.split(",").map(Number))];
      if (ids.length > MAX_ORDERS_PER_REQUEST) throw new HttpProblem(400, "too_many_orders", `ask for at most ${MAX_ORDERS_PER_REQUEST} orders per request`);
      const documents: { orderId: string; owner: string; termsHash: string; contentType: string; content: string }[] = [];
      const orders = ids.map((id) => {
        const order = orderTerms.orderOf(id);
        const held = order ? orderTerms.held(order) : null;
        // Never a replica: a document is fetched from a node its owning party published.
        if (!order || !held || held.servedBy !== null || !servesOrg(state.served, held.ownerOrg)) return { orderId: String(id), status: "not_recorded" as const };
        if (!orderTerms.mayRead(reader.orgId, order)) return { orderId: String(id), status: "not_shared" as const };
        documents.push({ orderId: String(id), owner: String(held.ownerOrg), termsHash: held.termsHash, contentType: held.contentType, content: held.content.toString("base64") });
        return { orderId: String(id), status: "ok" as const };
      });
      return { documents, orders };
    },
  );

  app.get(
    "/api/v1/federation/rejections",
    {
      schema: {
        summary: "Records other nodes answered that did not verify and were refused (members)",
        tags: ["federation"],
        security: [{ bearer: [] }],
        querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })) }, { additionalProperties: false }),
        response: {
          200: Type.Object({
            items: Type.Array(
              Type.Object({
                ownerOrgId: Type.String(),
                servedBy: Type.String(),
                recordId: Type.String(),
                failure: Type.String(),
                detail: Type.String(),
                at: Type.String(),
              }),
            ),
          }),
          ...problems,
        },
      },
    },
    async (request) => {
      requireMember(request, auth);
      return {
        items: store.rejections(request.query.limit ?? 100).map((r) => ({
          ownerOrgId: String(r.ownerOrg),
          servedBy: r.servedBy,
          recordId: r.recordId,
          failure: r.failure,
          detail: r.detail,
          at: r.at,
        })),
      };
    },
  );
};

/** `?batches=`: the batch ids a federation request asks about (both routes). */
const BatchesQuery = Type.Object(
  { batches: Type.String({ pattern: "^0x[0-9a-fA-F]{64}(,0x[0-9a-fA-F]{64})*$", maxLength: 67 * MAX_BATCHES_PER_REQUEST, description: "comma-separated batch ids" }) },
  { additionalProperties: false },
);

/** The distinct batch ids of a `batches=` list, at most MAX_BATCHES_PER_REQUEST of them. */
function requestedBatches(list: string): string[] {
  const batchIds = [...new Set(list.toLowerCase().split(","))];
  if (batchIds.length > MAX_BATCHES_PER_REQUEST) {
    throw new HttpProblem(400, "too_many_batches", `ask for at most ${MAX_BATCHES_PER_REQUEST} batches per request`);
  }
  return batchIds;
}
