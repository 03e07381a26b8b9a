import type { Signer } from "ethers";
import type { ProvenanceRegistry } from "../chain/contracts";

/** Hand-over kinds as the contract numbers them. */
export const HANDOVER_KINDS = { custody: 0, ownership: 1, both: 2 } as const;
export type HandoverKindName = keyof typeof HANDOVER_KINDS;

export const ACCEPTANCE_TYPES = {
  Acceptance: [
    { name: "batchId", type: "bytes32" },
    { name: "quantity", type: "uint128" },
    { name: "toOrg", type: "uint64" },
    { name: "kind", type: "uint8" },
    { name: "gln", type: "string" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
};

export interface Acceptance {
  batchId: string;
  quantity: bigint;
  to: bigint;
  kind: number;
  gln: string;
  signer: string;
  deadline: bigint;
}

/**
 * The receiver's EIP-712 acceptance of a hand-over (domain LotlineProvenance/1, its nonce on the
 * provenance registry, a deadline), which the sender submits with handOverWithAcceptance.
 */
export async function signAcceptance(
  receiver: Signer,
  provenance: ProvenanceRegistry,
  terms: Omit<Acceptance, "signer">,
  nonce?: bigint,
): Promise<{ acceptance: Acceptance; signature: string }> {
  const signer = await receiver.getAddress();
  const domain = await provenance.eip712Domain();
  const signature = await receiver.signTypedData(
    { name: domain.name, version: domain.version, chainId: domain.chainId, verifyingContract: domain.verifyingContract },
    ACCEPTANCE_TYPES,
    {
      batchId: terms.batchId,
      quantity: terms.quantity,
      toOrg: terms.to,
      kind: terms.kind,
      gln: terms.gln,
      nonce: nonce ?? (await provenance.nonces(signer)),
      deadline: terms.deadline,
    },
  );
  return { acceptance: { ...terms, signer }, signature };
}
