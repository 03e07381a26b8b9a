import type { HDNodeWallet, TypedDataDomain, Wallet } from "ethers";
import { INTERFACES, type ContractName } from "../chain/contracts";
import { FORWARD_REQUEST_TYPES } from "../relayer/forward-request";
import { apiGet, apiPost, CliError } from "./client";

/**
 * Gasless calls through the service's relayer, with nothing but the HTTP API: the deployment
 * (contract addresses, the forwarder's EIP-712 domain) and the signer's forwarder nonce come from
 * the API, the request is signed here (the same typed data as services/relayer/forward-request.ts,
 * which needs a contract object and so a provider), posted to POST /api/v1/relay, and followed
 * until the index includes it, so that what the command prints next is already readable.
 */
export interface Deployment {
  chainId: number;
  contracts: Record<ContractName, string>;
  eip712: { forwarder: TypedDataDomain & { chainId: number; verifyingContract: string } };
}

export interface Relayed {
  transactionHash: string;
  blockNumber: number;
  from: string;
  contract: string;
  function: string;
}

/** How long a request stays valid, and how long the CLI waits for it to be mined and indexed. */
const DEADLINE_SECONDS = 600;
const DEFAULT_WAIT_MS = 120_000;

/**
 * Gas for the inner call: enough for the widest batch calls, below the relayer's 5,000,000 cap
 * (an escrow delivery costs about 95,000 per sale of a batch new to the order — the sale's claim
 * and the order's batch list — up to 32 sales: about 3.1 million).
 */
const GAS: Partial<Record<string, bigint>> = { registerLots: 3_000_000n, transform: 4_000_000n, pack: 3_000_000n, unpack: 3_000_000n, deliver: 4_500_000n };
const DEFAULT_GAS = 1_000_000n;

export function createRelayClient(options: { waitMs?: number } = {}) {
  let deployment: Promise<Deployment> | null = null;
  const getDeployment = () => (deployment ??= apiGet<Deployment>("/api/v1/deployment"));

  async function send(signer: Wallet | HDNodeWallet, contract: ContractName, fn: string, args: unknown[]): Promise<Relayed> {
    const d = await getDeployment();
    const to = d.contracts[contract];
    if (!to) throw new CliError(`the service's deployment has no ${contract} contract`);
    const data = INTERFACES[contract].encodeFunctionData(fn, args);
    const from = signer.address;
    const { nonce } = await apiGet<{ nonce: string }>(`/api/v1/relay/nonces/${from}`);
    const message = {
      from,
      to,
      value: 0n,
      gas: GAS[fn] ?? DEFAULT_GAS,
      nonce: BigInt(nonce),
      deadline: Math.floor(Date.now() / 1000) + DEADLINE_SECONDS,
      data,
    };
    const domain = d.eip712.forwarder;
    const signature = await signer.signTypedData(
      { name: domain.name, version: domain.version, chainId: domain.chainId, verifyingContract: domain.verifyingContract },
      FORWARD_REQUEST_TYPES,
      message,
    );
    const submitted = await apiPost<{ transactionHash: string; from: string; contract: string; function: string }>("/api/v1/relay", {
      from,
      to,
      value: "0",
      gas: message.gas.toString(),
      deadline: message.deadline,
      data,
      signature,
    });
    const blockNumber = await waitIndexed(submitted.transactionHash, options.waitMs ?? DEFAULT_WAIT_MS);
    return { transactionHash: submitted.transactionHash, blockNumber, from: submitted.from, contract: submitted.contract, function: submitted.function };
  }

  return { deployment: getDeployment, send };
}
export type RelayClient = ReturnType<typeof createRelayClient>;

/** Polls GET /api/v1/transactions/{hash} until the transaction is mined and indexed. */
export async function waitIndexed(hash: string, waitMs: number): Promise<number> {
  const until = Date.now() + waitMs;
  let delay = 100;
  while (true) {
    let tx: { status: string; blockNumber: number | null; indexed: boolean };
    try {
      tx = await apiGet(`/api/v1/transactions/${hash}`);
    } catch (err) {
      // Rate limited while polling: the request went through; keep waiting, more slowly.
      if (!(err instanceof CliError && err.status === 429) || Date.now() + 1_000 > until) throw err;
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      continue;
    }
    if (tx.status === "failed") throw new CliError(`transaction ${hash} failed on-chain in block ${tx.blockNumber}; nothing changed`);
    if (tx.status === "succeeded" && tx.indexed) return tx.blockNumber!;
    if (Date.now() + delay > until) {
      throw new CliError(
        `transaction ${hash} is ${tx.status === "succeeded" ? "mined but not indexed yet" : tx.status} after ${Math.round(waitMs / 1000)} s; check later with GET /api/v1/transactions/${hash}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 1_000);
  }
}
