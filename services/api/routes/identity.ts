import { membersOnly, readerOf } from "../access";
import { Type } from "@sinclair/typebox";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { getAddress } from "ethers";
import { Address, Agent, AgentProposal, IdString, List, ListQuery, OrganisationDetail, OrganisationListed, requireChecksum } from "../schemas";
import { HttpProblem } from "../problem";
import { decodeCursor, encodeCursor } from "../cursor";
import type { RouteDeps } from "../app";
import { createSharingStore } from "../../store/sharing";

const problems = { 400: { $ref: "Problem#" }, 404: { $ref: "Problem#" } };

export const identityRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, { identity, db, auth }) => {
  const sharing = createSharingStore(db);
  /** A directory entry as the list shows it: with where the organisation's node is. */
  const listed = <O extends { orgId: string }>(org: O) => ({ ...org, serviceUrl: sharing.serviceUrl(Number(org.orgId)) });
  app.get(
    "/api/v1/orgs",
    {
      schema: {
        summary: "List the consortium's organisations",
        tags: ["identity"],
        // One object, not an intersection: ListQuery's additionalProperties: false would refuse `status`.
        querystring: Type.Object(
          {
            ...ListQuery.properties,
            status: Type.Optional(Type.Union([Type.Literal("active"), Type.Literal("suspended")])),
            ids: Type.Optional(
              Type.String({
                pattern: "^[0-9]{1,19}(,[0-9]{1,19}){0,99}$",
                description: "Only these organisations (comma-separated ids, at most 100), in this order; unknown ids are left out. One request for the names a page shows.",
              }),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 200: List(OrganisationListed), ...problems },
      },
    },
    async (request) => {
      const limit = request.query.limit ?? 50;
      if (request.query.ids !== undefined) {
        if (request.query.cursor !== undefined) throw new HttpProblem(400, "invalid_query", "ids and cursor cannot be combined: a list by ids is one page");
        const items = [];
        for (const orgId of new Set(request.query.ids.split(",").map(Number))) {
          const org = identity.getOrganisation(orgId);
          if (org && (request.query.status === undefined || org.status === request.query.status)) items.push(listed(org));
        }
        return { items, nextCursor: null };
      }
      const after = request.query.cursor ? decodeCursor(request.query.cursor, "orgId") : "0";
      // decodeCursor accepts any token; an orgs cursor must hold an org id (Number("abc") is NaN).
      if (!/^[0-9]{1,19}$/.test(after)) {
        throw new HttpProblem(400, "invalid_cursor", "the cursor is not one this list returned; start again without it");
      }
      const page = identity.listOrganisations({ limit, after: Number(after), status: request.query.status });
      return { items: page.items.map(listed), nextCursor: page.more && page.last !== null ? encodeCursor("orgId", page.last) : null };
    },
  );

  app.get(
    "/api/v1/orgs/:orgId",
    {
      schema: {
        summary: "One organisation with its agents and credentials",
        tags: ["identity"],
        params: Type.Object({ orgId: IdString }),
        response: { 200: OrganisationDetail, ...problems },
      },
    },
    async (request) => {
      const orgId = Number(request.params.orgId);
      const org = identity.getOrganisation(orgId);
      if (!org) throw new HttpProblem(404, "org_not_found", `no organisation ${request.params.orgId}`);
      // The directory is public; agents, proposals and credentials are for members.
      if (readerOf(request, auth).kind === "public") return { ...org, serviceUrl: sharing.serviceUrl(orgId) };
      return {
        ...org,
        agents: identity.agentsOf(orgId),
        credentials: identity.credentialsOf(orgId),
        agentProposals: identity.proposalsOf(orgId),
        certifierTypes: identity.certifierTypesOf(orgId),
        serviceUrl: sharing.serviceUrl(orgId),
      };
    },
  );

  app.get(
    "/api/v1/orgs/:orgId/agent-proposals",
    {
      onRequest: membersOnly(auth),
      schema: {
        summary: "Bindings an organisation offered to wallets that have not accepted them yet",
        tags: ["identity"],
        params: Type.Object({ orgId: IdString }),
        response: { 200: Type.Object({ items: Type.Array(AgentProposal) }), ...problems },
      },
    },
    async (request) => {
      const orgId = Number(request.params.orgId);
      if (!identity.getOrganisation(orgId)) throw new HttpProblem(404, "org_not_found", `no organisation ${request.params.orgId}`);
      return { items: identity.proposalsOf(orgId) };
    },
  );

  app.get(
    "/api/v1/agents/:address/proposals",
    {
      schema: {
        summary: "Bindings offered to a wallet, which it may accept (acceptAgent) or decline",
        tags: ["identity"],
        params: Type.Object({ address: Address }),
        response: { 200: Type.Object({ items: Type.Array(AgentProposal) }), ...problems },
      },
    },
    async (request) => {
      requireChecksum(request.params.address, "params/address");
      return { items: identity.proposalsFor(getAddress(request.params.address)) };
    },
  );

  app.get(
    "/api/v1/agents/:address",
    {
      onRequest: membersOnly(auth),
      schema: {
        summary: "An agent: the organisation a wallet acts for, its roles and status",
        tags: ["identity"],
        params: Type.Object({ address: Address }),
        response: { 200: Agent, ...problems },
      },
    },
    async (request) => {
      requireChecksum(request.params.address, "params/address");
      const agent = identity.getAgent(getAddress(request.params.address));
      if (!agent) throw new HttpProblem(404, "agent_not_found", `${request.params.address} is not an agent of any organisation`);
      return agent;
    },
  );
};
