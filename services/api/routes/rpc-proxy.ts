import { Type } from "@sinclair/typebox";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { RouteDeps } from "../app";

/**
 * A read-only JSON-RPC pass-through to the node's chain, for the explorer's in-page verification
 * (and anyone else without a chain node of their own): it forwards only the methods that read
 * (eth_call, eth_getLogs, eth_getBlockByNumber/Hash, eth_chainId, eth_blockNumber) and answers any
 * other method (eth_sendRawTransaction, eth_sendTransaction, eth_sign, personal_*, admin_*,
 * debug_*, anvil_*, hardhat_*, evm_*…) with a JSON-RPC error, without contacting the chain. The
 * chain's URL never appears in an answer. The page lets its reader point verification at any
 * other JSON-RPC URL, so trusting this node is a choice, not a requirement.
 */
export const RPC_READ_METHODS: readonly string[] = ["eth_call", "eth_getLogs", "eth_getBlockByNumber", "eth_getBlockByHash", "eth_chainId", "eth_blockNumber"];

/** Requests in one JSON-RPC batch, at most. */
export const RPC_MAX_BATCH = 50;

const Id = Type.Union([Type.String({ maxLength: 100 }), Type.Number(), Type.Null()]);
const RpcRequest = Type.Object(
  {
    jsonrpc: Type.Literal("2.0"),
    id: Type.Optional(Id),
    method: Type.String({ minLength: 1, maxLength: 100 }),
    params: Type.Optional(Type.Array(Type.Unknown(), { maxItems: 10 })),
  },
  { additionalProperties: false },
);
const RpcResponse = Type.Object({
  jsonrpc: Type.Literal("2.0"),
  id: Id,
  result: Type.Optional(Type.Unknown()),
  error: Type.Optional(Type.Object({ code: Type.Integer(), message: Type.String(), data: Type.Optional(Type.Unknown()) })),
});

type Req = { jsonrpc: "2.0"; id?: string | number | null; method: string; params?: unknown[] };
type Res = { jsonrpc: "2.0"; id: string | number | null; result?: unknown; error?: { code: number; message: string; data?: unknown } };

const refusal = (req: Req): Res => ({
  jsonrpc: "2.0",
  id: req.id ?? null,
  // -32601 "method not found": to this endpoint, a method that writes does not exist.
  error: { code: -32601, message: `${req.method} is not allowed: this endpoint is read-only (allowed: ${RPC_READ_METHODS.join(", ")})` },
});

export const rpcProxyRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, { state }) => {
  async function forward(requests: Req[]): Promise<Res[]> {
    const allowed = requests.filter((r) => RPC_READ_METHODS.includes(r.method));
    const answers = new Map<Req, Res>();
    for (const r of requests) if (!allowed.includes(r)) answers.set(r, refusal(r));
    if (allowed.length > 0) {
      const unavailable = (message: string) => {
        for (const r of allowed) answers.set(r, { jsonrpc: "2.0", id: r.id ?? null, error: { code: -32603, message } });
      };
      if (!state.rpc) unavailable("the node is still starting: no chain yet");
      else {
        // Our own ids, so a client's duplicate or missing ids cannot mix answers up.
        const outgoing = allowed.map((r, i) => ({ jsonrpc: "2.0", id: i + 1, method: r.method, params: r.params ?? [] }));
        try {
          const response = await fetch(state.rpc.url, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify(outgoing),
            signal: AbortSignal.timeout(15_000),
          });
          const body = (await response.json()) as { id: number; result?: unknown; error?: Res["error"] }[] | { error?: Res["error"] };
          if (!Array.isArray(body)) unavailable(`the chain refused the request${body?.error?.message ? `: ${body.error.message}` : ""}`);
          else {
            for (const item of body) {
              const original = allowed[Number(item.id) - 1];
              if (!original) continue;
              answers.set(original, item.error ? { jsonrpc: "2.0", id: original.id ?? null, error: item.error } : { jsonrpc: "2.0", id: original.id ?? null, result: item.result ?? null });
            }
            for (const r of allowed) if (!answers.has(r)) answers.set(r, { jsonrpc: "2.0", id: r.id ?? null, error: { code: -32603, message: "the chain gave no answer" } });
          }
        } catch {
          unavailable("the chain did not answer");
        }
      }
    }
    return requests.map((r) => answers.get(r)!);
  }

  app.post(
    "/rpc",
    {
      // Reads only (every other method is refused before the chain): not an audited write.
      config: { audit: false },
      schema: {
        summary: "Read-only JSON-RPC pass-through to the chain (eth_call, eth_getLogs, eth_getBlockBy*, eth_chainId, eth_blockNumber)",
        description:
          "A single JSON-RPC 2.0 request or a batch of at most 50. Methods outside the list (eth_sendRawTransaction and every other) are answered with error -32601 and never reach the chain.",
        tags: ["explorer"],
        body: Type.Union([RpcRequest, Type.Array(RpcRequest, { minItems: 1, maxItems: RPC_MAX_BATCH })]),
        response: { 200: Type.Union([RpcResponse, Type.Array(RpcResponse)]), 400: { $ref: "Problem#" } },
      },
    },
    async (request) => {
      const body = request.body as Req | Req[];
      if (Array.isArray(body)) return forward(body);
      return (await forward([body]))[0];
    },
  );
};
