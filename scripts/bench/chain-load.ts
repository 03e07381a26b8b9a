import { Wallet, dataSlice, getAddress, id as keccakText } from "ethers";
import { INTERFACES } from "../../services/chain/contracts";
import { LOCAL_CHAIN_ID } from "../../services/chain/evm";
import { demoWallet } from "../../services/demo/roster";
import type { RpcClient } from "../../services/chain/rpc";

/** The processor organisation of the demo roster, whose admin (account 2) sends the load. */
export const PROCESSOR_ORG = 2n;
export const PROCESSOR_ACCOUNT = 2;

/** A deterministic address that is no demo account, so setAgent records a proposal to it (ADR 0010: it binds only on acceptance). */
export function benchAddress(label: string, i: number): string {
  return getAddress(dataSlice(keccakText(`lotline-bench:${label}:${i}`), 12));
}

interface RpcResponse {
  id: number;
  result?: unknown;
  error?: { code: number; message: string };
}

/** One JSON-RPC batch request (Anvil answers arrays), so a block's worth of transactions is one HTTP round trip. */
export async function rpcBatch(url: string, calls: { method: string; params: unknown[] }[]): Promise<unknown[]> {
  if (calls.length === 0) return [];
  const body = calls.map((c, i) => ({ jsonrpc: "2.0", id: i, method: c.method, params: c.params }));
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`batch of ${calls.length}: HTTP ${response.status}`);
  const replies = (await response.json()) as RpcResponse[];
  const byId = new Map(replies.map((r) => [r.id, r]));
  return calls.map((c, i) => {
    const reply = byId.get(i);
    if (!reply) throw new Error(`${c.method}: no reply in batch`);
    if (reply.error) throw new Error(`${c.method}: ${reply.error.message}`);
    return reply.result;
  });
}

/**
 * Generates identity events fast: the processor admin signs setAgent transactions locally with an
 * explicit nonce and fixed gas, sends one batch per block with automining off, then mines it. The
 * addresses are nobody's wallets, so each setAgent records (or replaces) a proposal: one
 * AgentProposed event and one agent_proposals row, as costly to index as a binding.
 */
export function createLoadGenerator(rpc: RpcClient, registryAddress: string) {
  const wallet = new Wallet(demoWallet(PROCESSOR_ACCOUNT).privateKey);
  const registry = INTERFACES.registry;
  const hex = (n: number | bigint) => `0x${n.toString(16)}`;

  async function gasFor(data: string): Promise<bigint> {
    const estimate = await rpc.call<string>("eth_estimateGas", [{ from: wallet.address, to: registryAddress, data }]);
    return (BigInt(estimate) * 3n) / 2n;
  }

  return {
    address: wallet.address,

    /**
     * Sends setAgent(address, processor org, roles, 0) for every address, `perBlock` transactions per
     * mined block, with `gapBlocks` empty blocks mined after each. Returns the block range used.
     */
    async setAgents(
      addresses: string[],
      roles: bigint,
      options: { perBlock: number; gapBlocks?: number; onBlock?: (done: number) => void },
    ): Promise<{
      firstBlock: number;
      lastBlock: number;
      txs: number;
      ms: number;
      signMs: number;
      sendMs: number;
      mineMs: number;
    }> {
      const t0 = performance.now();
      let signMs = 0;
      let sendMs = 0;
      let mineMs = 0;
      const gapBlocks = options.gapBlocks ?? 0;
      const firstBlock = (await rpc.blockNumber()) + 1;
      let nonce = Number(await rpc.call<string>("eth_getTransactionCount", [wallet.address, "latest"]));
      const startNonce = nonce;
      const latest = await rpc.call<{ baseFeePerGas?: string }>("eth_getBlockByNumber", ["latest", false]);
      const baseFee = BigInt(latest.baseFeePerGas ?? "0x3b9aca00");
      const maxPriorityFeePerGas = 1_000_000_000n;
      const maxFeePerGas = baseFee * 4n + maxPriorityFeePerGas;
      const encode = (address: string) => registry.encodeFunctionData("setAgent", [address, PROCESSOR_ORG, roles, 0n]);
      const gasLimit = addresses.length > 0 ? await gasFor(encode(addresses[0])) : 0n;

      await rpc.call("evm_setAutomine", [false]);
      try {
        for (let i = 0; i < addresses.length; i += options.perBlock) {
          const chunk = addresses.slice(i, i + options.perBlock);
          const tSign = performance.now();
          const raw = await Promise.all(
            chunk.map((address) =>
              wallet.signTransaction({
                type: 2,
                chainId: LOCAL_CHAIN_ID,
                to: registryAddress,
                data: encode(address),
                nonce: nonce++,
                gasLimit,
                maxFeePerGas,
                maxPriorityFeePerGas,
              }),
            ),
          );
          const tSend = performance.now();
          await rpcBatch(
            rpc.url,
            raw.map((tx) => ({ method: "eth_sendRawTransaction", params: [tx] })),
          );
          const tMine = performance.now();
          await rpc.call("evm_mine", []);
          if (gapBlocks > 0) await rpc.call("anvil_mine", [hex(gapBlocks)]);
          const tDone = performance.now();
          signMs += tSend - tSign;
          sendMs += tMine - tSend;
          mineMs += tDone - tMine;
          options.onBlock?.(i + chunk.length);
        }
        // Anything the block gas limit left over goes into further blocks.
        for (let guard = 0; ; guard++) {
          const mined = Number(await rpc.call<string>("eth_getTransactionCount", [wallet.address, "latest"]));
          if (mined >= nonce) break;
          if (guard > 1_000) throw new Error(`only ${mined - startNonce} of ${nonce - startNonce} transactions were mined`);
          await rpc.call("evm_mine", []);
        }
      } finally {
        await rpc.call("evm_setAutomine", [true]);
      }
      const lastBlock = await rpc.blockNumber();
      return { firstBlock, lastBlock, txs: addresses.length, ms: performance.now() - t0, signMs, sendMs, mineMs };
    },
  };
}
export type LoadGenerator = ReturnType<typeof createLoadGenerator>;
