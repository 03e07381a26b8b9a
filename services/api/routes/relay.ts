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

/** What clients need to sign for this deployment, and to follow what they submitted. */
export const chainRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, { state }) => {
  const requireReady = () => {
    if (!state.deployment || !state.relayer) throw new HttpProblem(503, "not_ready", "the node is still starting");
    return { deployment: state.deployment, relayer: state.relayer };
  };

  app.get(
    "/api/v1/deployment",
    {
      schema: {
        summary: "The deployment this node serves: chain, contract addresses and EIP-712 domains",
        tags: ["relayer"],
        response: {
          200: Type.Object({
            chainId: Type.Integer(),
            genesisHash: Hex32,
            startBlock: Type.Integer(),
            contracts: Type.Record(Type.String(), Address),
            contractsVersion: Type.String({ description: "the contracts' version (revision and ABI hash) this deployment and node speak" }),
            eip712: Type.Object({
              forwarder: Type.Object({ name: Type.String(), version: Type.String(), chainId: Type.Integer(), verifyingContract: Address }),
              provenance: Type.Object({ name: Type.String(), version: Type.String(), chainId: Type.Integer(), verifyingContract: Address }),
            }),
          }),
          503: { $ref: "Problem#" },
        },
      },
    },
    async () => {
      const { deployment } = requireReady();
      return {
        chainId: deployment.chainId,
        genesisHash: deployment.genesisHash,
        startBlock: deployment.startBlock,
        contracts: deployment.contracts,
        contractsVersion: deployment.contractsVersion,
        eip712: {
          forwarder: { name: "LotlineForwarder", version: "1", chainId: deployment.chainId, verifyingContract: deployment.contracts.forwarder },
          provenance: { name: "LotlineProvenance", version: "1", chainId: deployment.chainId, verifyingContract: deployment.contracts.provenance },
        },
      };
    },
  );

  app.get(
    "/api/v1/relay/nonces/:address",
    {
      schema: {
        summary: "The forwarder nonce a wallet's next relayed request must carry",
        tags: ["relayer"],
        params: Type.Object({ address: Address }),
        response: { 200: Type.Object({ address: Address, nonce: Type.String() }), 400: { $ref: "Problem#" }, 503: { $ref: "Problem#" } },
      },
    },
    async (request) => {
      requireChecksum(request.params.address, "params/address");
      const { relayer } = requireReady();
      return { address: request.params.address, nonce: (await relayer.nonceOf(request.params.address)).toString() };
    },
  );

  app.get(
    "/api/v1/transactions/:hash",
    {
      schema: {
        summary: "Whether a submitted transaction is mined and indexed",
        tags: ["relayer"],
        params: Type.Object({ hash: Hex32 }),
        response: {
          200: Type.Object({
            transactionHash: Hex32,
            status: Type.Union(["pending", "succeeded", "failed", "unknown"].map((s) => Type.Literal(s))),
            blockNumber: Type.Union([Type.Integer(), Type.Null()]),
            indexed: Type.Boolean({ description: "the index includes the transaction's block" }),
          }),
          400: { $ref: "Problem#" },
          503: { $ref: "Problem#" },
        },
      },
    },
    async (request) => {
      const { relayer } = requireReady();
      const tx = await relayer.transaction(request.params.hash);
      const indexedBlock = state.indexer?.status().indexedBlock ?? 0;
      return {
        transactionHash: request.params.hash,
        status: tx.status,
        blockNumber: tx.blockNumber,
        indexed: tx.blockNumber !== null && indexedBlock >= tx.blockNumber,
      };
    },
  );
};
