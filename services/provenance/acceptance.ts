import { randomBytes } from "node:crypto";
import type { Signer } from "ethers";
import type { ProvenanceRegistry } from "../chain/contracts";

/** Hand-over kinds as the contract numbers them. */
export const HANDOVER_KINDS = { custody: 0, ownership: 1, both: 2 } as const;
export type HandoverKindName = keyof typeof HANDOVER_KINDS;

export const ACCEPTANCE_TYPES = {
  Acceptance: [
    { name: "batchId", type: "bytes32" },
    { name: "quantity", type: "uint128" },
    { name: "fromOrg", type: "uint64" },
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
  /** The sending organisation: only its agents can submit the acceptance. */
  from: bigint;
  to: bigint;
  kind: number;
  gln: string;
  signer: string;
  /** Unordered (a bit in the signer's bitmap on the registry): word nonce >> 8, bit nonce & 0xff. */
  nonce: bigint;
  deadline: bigint;
}

/** A fresh unordered nonce: 256 random bits, so concurrent acceptances never collide. */
export function randomNonce(): bigint {
  return BigInt("0x" + randomBytes(32).toString("hex"));
}

/**
 * The receiver's EIP-712 acceptance of a hand-over (domain LotlineProvenance/1, an unordered nonce,
 * a deadline), which an agent of the sending organisation submits with handOverWithAcceptance.
 * The signer can revoke it before use with invalidateAcceptanceNonces(nonce >> 8, 1 << (nonce & 0xff)).
 */
export async function signAcceptance(
  receiver: Signer,
  provenance: ProvenanceRegistry,
  terms: Omit<Acceptance, "signer" | "nonce">,
  nonce: bigint = randomNonce(),
): Promise<{ acceptance: Acceptance; signature: string }> {
  const signer = await receiver.getAddress();
  const domain = await provenance.eip712Domain();
  const signature = await receiver.signTypedData(
    { name: domain.name, version: domain.version, chainId: domain.chainId, verifyingContract: domain.verifyingContract },
    ACCEPTANCE_TYPES,
    {
      batchId: terms.batchId,
      quantity: terms.quantity,
      fromOrg: terms.from,
      toOrg: terms.to,
      kind: terms.kind,
      gln: terms.gln,
      nonce,
      deadline: terms.deadline,
    },
  );
  return { acceptance: { ...terms, signer, nonce }, signature };
}

/**
 * The terms of the offer pending on `batchId` as accept(batchId, quantity, kind, gln) must name
 * them. A receiver that shows its user the offer first passes those terms instead, so that an
 * offer changed in the meantime is refused rather than accepted.
 */
export async function pendingTerms(provenance: ProvenanceRegistry, batchId: string): Promise<[string, bigint, bigint]> {
  const pending = await provenance.pendingOffer(batchId);
  if (pending.to === 0n) throw new Error(`no offer is pending on batch ${batchId}`);
  return [batchId, pending.quantity, pending.kind];
}
