import type { Signer, TypedDataDomain } from "ethers";
import type { LotlineForwarder } from "../chain/contracts";

/**
 * ERC-2771 forward requests as OpenZeppelin's ERC2771Forwarder defines them. The signature covers
 * the EIP-712 domain (forwarder name, version, chain id, address), the signer's current nonce on
 * the forwarder and a deadline, so a request cannot be replayed, redirected or used late.
 */
export const FORWARD_REQUEST_TYPES = {
  ForwardRequest: [
    { name: "from", type: "address" },
    { name: "to", type: "address" },
    { name: "value", type: "uint256" },
    { name: "gas", type: "uint256" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint48" },
    { name: "data", type: "bytes" },
  ],
};

/** What a wallet sends to the relayer: the request fields plus the signature (nonce implied). */
export interface SignedForwardRequest {
  from: string;
  to: string;
  value: bigint;
  gas: bigint;
  deadline: number;
  data: string;
  signature: string;
}

export async function forwarderDomain(forwarder: LotlineForwarder): Promise<TypedDataDomain> {
  const domain = await forwarder.eip712Domain();
  return {
    name: domain.name,
    version: domain.version,
    chainId: domain.chainId,
    verifyingContract: domain.verifyingContract,
  };
}

/**
 * Signs a call to `to` with calldata `data` as `signer`, for the forwarder to execute. The nonce
 * is read from the forwarder unless given (tests pass stale nonces to check replay refusal).
 */
export async function signForwardRequest(
  signer: Signer,
  forwarder: LotlineForwarder,
  call: { to: string; data: string; gas?: bigint; value?: bigint; deadline: number; nonce?: bigint },
): Promise<SignedForwardRequest> {
  const from = await signer.getAddress();
  const nonce = call.nonce ?? (await forwarder.nonces(from));
  const message = {
    from,
    to: call.to,
    value: call.value ?? 0n,
    gas: call.gas ?? 1_000_000n,
    nonce,
    deadline: call.deadline,
    data: call.data,
  };
  const signature = await signer.signTypedData(await forwarderDomain(forwarder), FORWARD_REQUEST_TYPES, message);
  return { from, to: message.to, value: message.value, gas: message.gas, deadline: call.deadline, data: call.data, signature };
}
