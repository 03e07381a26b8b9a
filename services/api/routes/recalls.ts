import { Type } from "@sinclair/typebox";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Address, Hex32, Iso, requireChecksum } from "../schemas";
import { HttpProblem } from "../problem";
import { membersOnly } from "../access";
import { requireActiveAgentOf } from "../auth";
import { requireBatchRef } from "../batch-ref";
import { requireServed } from "../../config/served";
import { createProvenanceStore, type BatchView } from "../../store/provenance";
import { setAuditActor } from "../../audit/plugin";
import {
  AckConflict,
  ackDigest,
  affectedHoldings,
  recallAckDomain,
  recallAckStatus,
  recoverAckSigner,
  storeAcknowledgement,
  type RecallAckMessage,
} from "../../recalls/acknowledgements";
import type { RouteDeps } from "../app";

const problems = {
  400: { $ref: "Problem#" },
  401: { $ref: "Problem#" },
  403: { $ref: "Problem#" },
  404: { $ref: "Problem#" },
  409: { $ref: "Problem#" },
  503: { $ref: "Problem#" },
};
const RefParams = Type.Object({ ref: Type.String({ minLength: 1, maxLength: 512, description: "batch id (0x…) or GS1 Digital Link of the recalled lot" }) });

const Acknowledgement = Type.Object({
  agent: Address,
  at: Iso,
  note: Type.String(),
  nonce: Hex32,
  digest: Hex32,
  recordId: Type.String(),
});

const Custodian = Type.Object({
  orgId: Type.String(),
  name: Type.Union([Type.String(), Type.Null()]),
  acknowledged: Type.Boolean(),
  acknowledgement: Type.Union([Acknowledgement, Type.Null()]),
  holding: Type.Array(
    Type.Object({ batchId: Hex32, gtin: Type.String(), lot: Type.String(), quantity: Type.String(), unit: Type.String(), status: Type.String() }),
    { description: "affected batches the organisation holds now (custodian, in circulation)" },
  ),
  holdingSince: Type.Union([Iso, Type.Null()], { description: "since when it has held affected goods under the recall; null when it holds none" }),
  heldSinceRecallSeconds: Type.Union([Type.Integer(), Type.Null()], { description: "seconds it has held affected goods since the recall" }),
});

const AckStatus = Type.Object({
  batchId: Hex32,
  recall: Type.Object({
    reason: Type.Union([Type.String(), Type.Null()]),
    byOrgId: Type.Union([Type.String(), Type.Null()]),
    at: Iso,
    blockNumber: Type.Integer(),
    transactionHash: Hex32,
  }),
  signing: Type.Object(
    {
      domain: Type.Object({ name: Type.String(), version: Type.String(), chainId: Type.Integer(), verifyingContract: Address }),
      primaryType: Type.Literal("RecallAcknowledgement"),
    },
    { description: "what an acknowledgement is signed with (EIP-712): types in docs/operations.md" },
  ),
  custodians: Type.Array(Custodian),
  totals: Type.Object({ custodians: Type.Integer(), acknowledged: Type.Integer(), outstanding: Type.Integer() }),
});

/** Longest a signed acknowledgement may stay valid: a signature lying around for longer is refused. */
export const MAX_ACK_VALIDITY_SECONDS = 7 * 24 * 3600;

/**
 * Recall notices tracked to acknowledgement (issue 15). A recall's existence and reason are public
 * (`GET /api/v1/batches/{ref}`); who holds the goods is custody data, so the acknowledgement list
 * is for members (README "Who may read what"). Acknowledging is a write of the custodian
 * organisation: it is made at its own node, signed by one of its agents.
 */
export const recallRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, { db, state, auth, identity }) => {
  const store = createProvenanceStore(db);
  const members = membersOnly(auth);

  function requireNotice(ref: string): BatchView & { recall: NonNullable<BatchView["recall"]> } {
    const batch = requireBatchRef(store, ref);
    if (!batch.recall) throw new HttpProblem(404, "not_recalled", `batch ${batch.id} is not recalled: there is no recall notice to acknowledge`);
    if (batch.recall.kind !== "direct") {
      throw new HttpProblem(
        409,
        "recall_propagated",
        `batch ${batch.id} is recalled because ${batch.recall.sourceBatchId} was: the notice is that batch's recall (/api/v1/recalls/${batch.recall.sourceBatchId}/acknowledgements)`,
      );
    }
    return batch as BatchView & { recall: NonNullable<BatchView["recall"]> };
  }

  function domain() {
    if (!state.deployment) throw new HttpProblem(503, "not_ready", "the node has no deployment yet; retry when /ready answers 200");
    return recallAckDomain(state.chainId, state.deployment.contracts.provenance);
  }

  app.get(
    "/api/v1/recalls/:ref/acknowledgements",
    {
      onRequest: members,
      schema: {
        summary: "A recall notice: every organisation holding affected goods, whether it acknowledged, and for how long it has held them since the recall",
        tags: ["provenance"],
        security: [{ bearer: [] }],
        params: RefParams,
        response: { 200: AckStatus, ...problems },
      },
    },
    async (request) => {
      const root = requireNotice(request.params.ref);
      const d = domain();
      const status = recallAckStatus(db, store, root);
      return {
        ...status,
        signing: {
          domain: { name: String(d.name), version: String(d.version), chainId: Number(d.chainId), verifyingContract: String(d.verifyingContract) },
          primaryType: "RecallAcknowledgement" as const,
        },
      };
    },
  );

  app.post(
    "/api/v1/recalls/:ref/acknowledgements",
    {
      schema: {
        summary: "Acknowledge a recall notice for a custodian organisation, signed (EIP-712) by one of its agents",
        tags: ["provenance"],
        params: RefParams,
        body: Type.Object(
          {
            orgId: Type.String({ pattern: "^[1-9][0-9]{0,18}$" }),
            agent: Address,
            recallTx: Hex32,
            nonce: Hex32,
            deadline: Type.Integer({ minimum: 1, maximum: 2 ** 53 - 1, description: "unix seconds after which the signature is void" }),
            note: Type.String({ maxLength: 1000, description: "what the custodian did (quarantined, returned, destroyed …)" }),
            signature: Type.String({ pattern: "^0x[0-9a-fA-F]{130}$" }),
          },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Object({
            batchId: Hex32,
            recallTx: Hex32,
            orgId: Type.String(),
            agent: Address,
            acknowledgedAt: Iso,
            digest: Hex32,
            recordId: Type.String({ description: "the anchoring record; its proof at /api/v1/anchors/…" }),
          }),
          ...problems,
        },
      },
    },
    async (request, reply) => {
      const body = request.body;
      requireChecksum(body.agent, "/agent");
      const root = requireNotice(request.params.ref);
      const d = domain();
      const nowSeconds = Math.floor(Date.now() / 1000);
      if (body.recallTx.toLowerCase() !== root.recall.transactionHash.toLowerCase()) {
        throw new HttpProblem(409, "stale_recall", `the batch's recall notice is transaction ${root.recall.transactionHash}, not ${body.recallTx}: sign the current one`);
      }
      if (body.deadline <= nowSeconds) throw new HttpProblem(400, "signature_expired", "the acknowledgement's deadline has passed; sign a new one");
      if (body.deadline > nowSeconds + MAX_ACK_VALIDITY_SECONDS) {
        throw new HttpProblem(400, "deadline_too_far", `the deadline may be at most ${MAX_ACK_VALIDITY_SECONDS / 86400} days ahead`);
      }
      const message: RecallAckMessage = {
        batchId: root.id,
        recallTx: body.recallTx.toLowerCase(),
        orgId: body.orgId,
        nonce: body.nonce.toLowerCase(),
        deadline: body.deadline,
        note: body.note,
      };
      let signer: string;
      try {
        signer = recoverAckSigner(d, message, body.signature);
      } catch {
        throw new HttpProblem(400, "invalid_signature", "the signature is not a valid ECDSA signature");
      }
      if (signer.toLowerCase() !== body.agent.toLowerCase()) {
        throw new HttpProblem(403, "invalid_signature", `the signature is not ${body.agent}'s over this acknowledgement (batch, recall, organisation, nonce, deadline, note)`);
      }
      const agent = requireActiveAgentOf(identity, signer);
      // Audited as the signer's own organisation, also when refused (a rival's attempt shows as the rival's).
      setAuditActor(request, { agent: signer, orgId: Number(agent.orgId) });
      if (agent.orgId !== body.orgId) {
        throw new HttpProblem(403, "not_your_organisation", `${signer} is an agent of organisation ${agent.orgId}: it cannot acknowledge for organisation ${body.orgId}`);
      }
      if (!affectedHoldings(store, root).has(body.orgId)) {
        throw new HttpProblem(403, "not_a_custodian", `organisation ${body.orgId} holds none of the goods this recall affects`);
      }
      requireServed(state.served, Number(body.orgId));
      const digest = ackDigest(d, message);
      try {
        const stored = storeAcknowledgement(db, { ...message, orgId: Number(body.orgId), agent: signer, signature: body.signature, digest });
        reply.code(201);
        return { batchId: root.id, recallTx: message.recallTx, orgId: body.orgId, agent: signer, acknowledgedAt: stored.acknowledgedAt, digest, recordId: stored.recordId };
      } catch (err) {
        if (err instanceof AckConflict) throw new HttpProblem(409, err.code, err.message);
        throw err;
      }
    },
  );
};
