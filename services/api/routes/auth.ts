import { Type } from "@sinclair/typebox";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Address, Iso, requireChecksum, RoleName } from "../schemas";
import type { RouteDeps } from "../app";

const Session = Type.Object({
  address: Address,
  orgId: Type.String(),
  roles: Type.Array(RoleName),
});
const problems = { 400: { $ref: "Problem#" }, 401: { $ref: "Problem#" }, 403: { $ref: "Problem#" } };

export const authRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, { auth, state }) => {
  app.post(
    "/api/v1/auth/nonce",
    {
      schema: {
        summary: "Get a single-use Sign-In with Ethereum nonce for an address",
        tags: ["auth"],
        body: Type.Object({ address: Address }, { additionalProperties: false }),
        response: { 200: Type.Object({ nonce: Type.String(), expiresAt: Iso, domain: Type.String(), uri: Type.String(), chainId: Type.Integer() }), ...problems },
      },
    },
    async (request) => {
      requireChecksum(request.body.address, "body/address");
      // The message to sign must name exactly this domain, URI and chain id.
      return { ...auth.issueNonce(request.body.address), domain: auth.domain(), uri: auth.uri(), chainId: state.chainId };
    },
  );

  app.post(
    "/api/v1/auth/login",
    {
      schema: {
        summary: "Exchange a signed EIP-4361 message for a short-lived bearer token",
        tags: ["auth"],
        body: Type.Object(
          {
            message: Type.String({ minLength: 1, maxLength: 4096 }),
            signature: Type.String({ pattern: "^0x[0-9a-fA-F]{130}$" }),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Intersect([Session, Type.Object({ token: Type.String(), expiresAt: Iso })]), ...problems },
      },
    },
    async (request) => auth.login(request.body.message, request.body.signature),
  );

  app.get(
    "/api/v1/auth/session",
    {
      schema: {
        summary: "The signed-in agent, re-checked against the index",
        tags: ["auth"],
        security: [{ bearer: [] }],
        response: { 200: Session, ...problems },
      },
    },
    async (request) => {
      const principal = auth.authenticate(request.headers.authorization);
      return { address: principal.address, orgId: principal.agent.orgId, roles: principal.agent.effectiveRoles };
    },
  );
};
