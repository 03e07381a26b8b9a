import { getAddress, type Provider, type Signer } from "ethers";
import { decodeRevert, INTERFACES, type ContractName } from "../chain/contracts";
import type { DeploymentRecord, LotlineContracts } from "../chain/deploy";
import type { IdentityStore } from "../store/identity";
import { Refusal } from "../common/refusal";
import { requireActiveAgentOf } from "../identity/agents";
import type { SignedForwardRequest } from "./forward-request";
import { senderOf } from "../chain/sender";

/**
 * Functions wallets may have relayed, per contract. Governance functions are absent on purpose:
 * governance acts through its timelock or multisig, never through a member's relayer.
 * Later issues add their contracts' agent functions here.
 */
export const RELAYABLE: Partial<Record<ContractName, readonly string[]>> = {
  registry: [
    "setAgent",
    "removeAgent",
    "acceptAgent",
    "cancelAgentProposal",
    "leaveOrganisation",
    "updateOrganisation",
    "addLocation",
    "removeLocation",
  ],
  credentials: ["issueCredential", "revokeCredential"],
  provenance: [
    "registerProduct",
    "registerProductWithNetContent",
    "updateProduct",
    "addClaim",
    "registerLots",
    "offer",
    "accept",
    "cancelOffer",
    "handOverWithAcceptance",
    "invalidateAcceptanceNonces",
    "split",
    "transform",
    "end",
    "observe",
    "recall",
    "propagateRecall",
    "withdrawRecall",
    "propagateWithdrawal",
    "appointRecallAuditor",
    "revokeRecallAuditor",
    "returnRecalled",
    "consentToDisposal",
    "endRecalled",
  ],
  units: ["pack", "unpack", "offerUnit", "acceptUnit", "cancelUnitOffer"],
  anchors: ["anchor"],
  sharing: ["grant", "revoke", "setServiceUrl"],
  escrow: ["createOrder", "fund", "fundWithPermit", "cancel", "deliver", "acceptDelivery", "reject", "release", "refund", "freeze", "resolve", "resolveAfterTimeout", "setPayoutAddress", "withdraw"],
};

const BALANCE_TTL_MS = 5_000;

/** Upper bound on the gas a relayed request may ask for; the relayer pays for it. */
export const MAX_RELAY_GAS = 5_000_000n;

export interface RelayResult {
  transactionHash: string;
  from: string;
  to: string;
  contract: ContractName;
  function: string;
}

/**
 * The ERC-2771 relayer. It refuses before spending gas: the target and function must be on the
 * allowlist, the deadline in the future, the signature valid for the signer's current nonce on
 * the forwarder, the signer an active agent per the index, and a simulation of the call must
 * succeed. Only then does it submit with the service's own key.
 */
export function createRelayer(deps: {
  wallet: Signer;
  provider: Provider;
  deployment: DeploymentRecord;
  contracts: LotlineContracts;
  identity: IdentityStore;
  /** Whether the node serves an organisation: the relayer acts only for agents of those it serves. */
  serves?: (orgId: number) => boolean;
  now?: () => number;
}) {
  const now = deps.now ?? (() => Math.floor(Date.now() / 1000));
  const byAddress = new Map<string, ContractName>(
    Object.entries(deps.deployment.contracts).map(([name, address]) => [address.toLowerCase(), name as ContractName]),
  );
  // The node gives the relayer its key's sender (shared with the recall propagator and the order
  // freezer): it serialises sends, so the relayer's nonces never collide (ADR 0014).
  const forwarder = deps.contracts.forwarder.connect(deps.wallet);
  const sender = senderOf(deps.wallet);

  /**
   * A wallet answering a proposal is not (or not yet) an active agent: it may have the relayer send
   * its acceptance or refusal of a proposal the index shows, and an agent of any status may leave.
   * Null for every other call, which needs an active agent.
   */
  function consentingWallet(contract: ContractName, fn: string, request: SignedForwardRequest): string | null {
    if (contract !== "registry") return null;
    const from = getAddress(request.from);
    if (fn === "acceptAgent" || fn === "cancelAgentProposal") {
      const args = INTERFACES.registry.decodeFunctionData(fn, request.data);
      const orgId = String(fn === "acceptAgent" ? args[0] : args[1]);
      if (fn === "cancelAgentProposal" && getAddress(String(args[0])) !== from) return null;
      if (!deps.identity.proposalsFor(from).some((p) => p.orgId === orgId)) {
        throw new Refusal(403, "no_proposal", `organisation ${orgId} has proposed no binding to ${from}`);
      }
      return from;
    }
    if (fn === "leaveOrganisation" && deps.identity.getAgent(from)) return from;
    return null;
  }

  async function relay(request: SignedForwardRequest): Promise<RelayResult> {
    const contract = byAddress.get(request.to.toLowerCase());
    if (!contract || !RELAYABLE[contract]) {
      throw new Refusal(403, "target_not_allowed", `${request.to} is not a Lotline contract that accepts relayed calls`);
    }
    const fn = INTERFACES[contract].getFunction(request.data.slice(0, 10));
    if (!fn || !RELAYABLE[contract]!.includes(fn.name)) {
      throw new Refusal(403, "function_not_allowed", `that function of ${contract} cannot be relayed; allowed: ${RELAYABLE[contract]!.join(", ")}`);
    }
    if (request.value !== 0n) throw new Refusal(400, "value_not_allowed", "relayed requests cannot carry value");
    if (request.gas > MAX_RELAY_GAS) throw new Refusal(400, "gas_too_high", `gas must be at most ${MAX_RELAY_GAS}`);
    if (request.deadline <= now()) throw new Refusal(400, "request_expired", "the request's deadline has passed; sign a new one");

    const forwardRequest = { ...request, from: getAddress(request.from), to: getAddress(request.to) };
    const valid = await deps.contracts.forwarder.verify(forwardRequest);
    if (!valid) {
      throw new Refusal(
        400,
        "invalid_signature",
        "the signature does not match this request and the signer's current forwarder nonce (altered, replayed or signed by another key)",
      );
    }
    const consenting = consentingWallet(contract, fn.name, forwardRequest);
    const signerAgent = consenting ? null : requireActiveAgentOf(deps.identity, forwardRequest.from);
    if (signerAgent && deps.serves && !deps.serves(Number(signerAgent.orgId))) {
      throw new Refusal(
        403,
        "org_not_served",
        `this node does not serve organisation ${signerAgent.orgId}: relay through its own organisation's node`,
      );
    }
    const agent = consenting ?? signerAgent!.address;

    // Simulate exactly what the target will see: a call from the forwarder with the signer
    // appended to the calldata (ERC-2771).
    try {
      await deps.provider.call({
        from: deps.deployment.contracts.forwarder,
        to: forwardRequest.to,
        data: forwardRequest.data + forwardRequest.from.slice(2).toLowerCase(),
        gasLimit: request.gas,
      });
    } catch (err) {
      const revert = decodeRevert((err as { data?: string }).data);
      throw new Refusal(422, "call_reverted", `the call would revert: ${revert?.text ?? (err as Error).message}`);
    }

    let transactionHash: string;
    try {
      // The sender estimates before it takes a nonce: a request that became invalid since the
      // simulation (the same request relayed meanwhile, here or by another node) costs nothing.
      transactionHash = (await forwarder.execute(forwardRequest)).hash;
    } catch (err) {
      const data = (err as { data?: string; info?: { error?: { data?: string } } }).data ?? (err as { info?: { error?: { data?: string } } }).info?.error?.data;
      if ((err as { code?: string }).code !== "CALL_EXCEPTION" && !data) throw err;
      const revert = decodeRevert(data);
      throw new Refusal(422, "call_reverted", `the call would revert: ${revert?.text ?? (err as { shortMessage?: string }).shortMessage ?? (err as Error).message}`);
    }
    refreshBalance();
    return { transactionHash, from: agent, to: forwardRequest.to, contract, function: fn.name };
  }

  // /health shows the balance; it must not wait on the chain, so it reads a value refreshed in
  // the background at most every BALANCE_TTL_MS.
  let balance: { wei: bigint; at: number } | null = null;
  let refreshing: Promise<void> | null = null;
  function refreshBalance(): void {
    refreshing ??= deps.wallet
      .getAddress()
      .then((address) => deps.provider.getBalance(address))
      .then((wei) => void (balance = { wei, at: Date.now() }))
      .catch(() => undefined)
      .finally(() => (refreshing = null));
  }
  refreshBalance();

  return {
    relay,
    /** The signer's current nonce on the forwarder: what its next request must be signed with. */
    nonceOf: (address: string) => deps.contracts.forwarder.nonces(address),
    /** A submitted transaction's fate, as far as the chain knows. */
    async transaction(hash: string) {
      // A transaction the sender replaced (higher fees, or a fresh nonce) is followed to the version mined.
      const versions = sender?.versionsOf(hash);
      const receipt = await deps.provider.getTransactionReceipt(versions?.minedHash ?? hash);
      if (receipt) return { status: receipt.status === 1 ? ("succeeded" as const) : ("failed" as const), blockNumber: receipt.blockNumber };
      const tx = await deps.provider.getTransaction(hash);
      return { status: tx || versions ? ("pending" as const) : ("unknown" as const), blockNumber: null };
    },
    address: () => deps.wallet.getAddress(),
    /** The last known balance in wei (null until first read); refreshes it when stale. */
    cachedBalance(): bigint | null {
      if (!balance || Date.now() - balance.at > BALANCE_TTL_MS) refreshBalance();
      return balance?.wei ?? null;
    },
  };
}
export type Relayer = ReturnType<typeof createRelayer>;
