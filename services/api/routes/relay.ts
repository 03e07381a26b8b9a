import { Type } from "@sinclair/typebox";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Address, Hex32, requireChecksum } from "../schemas";
import { HttpProblem } from "../problem";
import type { RouteDeps } from "../app";

const ForwardRequest = Type.Object(
  {
    from: Address,
    to: Address,
    value: Type.String({ pattern: "^[0-9]{1,78}$", default: "0", description: "wei, decimal string; must be 0" }),
    gas: Type.String({ pattern: "^[0-9]{1,78}$", description: "gas for the inner call, decimal string" }),
    deadline: Type.Integer({ minimum: 0, maximum: 281474976710655, description: "unix seconds (uint48)" }),
    data: Type.String({ pattern: "^0x([0-9a-fA-F]{2}){4,}$", maxLength: 65536 }),
    signature: Type.String({ pattern: "^0x[0-9a-fA-F]{130}$" }),
  },
  { additionalProperties: false },
);

export const relayRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, { state }) => {
  app.post(
    "/api/v1/relay",
    {
      schema: {
        summary: "Submit a wallet's signed ERC-2771 forward request (EIP-712: domain, nonce, deadline)",
        description:
          "Checked before any gas is spent: allowlisted target and function, deadline, signature against the signer's current forwarder nonce, signer an active agent, and a simulation. The service's relayer key pays.",
        tags: ["relayer"],
        body: ForwardRequest,
        response: {
          202: Type.Object({ transactionHash: Hex32, from: Address, to: Address, contract: Type.String(), function: Type.String() }),
          400: { $ref: "Problem#" },
          403: { $ref: "Problem#" },
          422: { $ref: "Problem#" },
          503: { $ref: "Problem#" },
        },
      },
    },
    async (request, reply) => {
      if (!state.relayer) throw new HttpProblem(503, "not_ready", "the relayer is not running yet");
      const body = request.body;
      requireChecksum(body.from, "body/from");
      requireChecksum(body.to, "body/to");
      const result = await state.relayer.relay({
        from: body.from,
        to: body.to,
        value: BigInt(body.value),
        gas: BigInt(body.gas),
        deadline: body.deadline,
        data: body.data,
        signature: body.signature,
      });
      state.indexer?.poke();
      return reply.code(202).send(result);
    },
  );
};
