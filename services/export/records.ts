import { canonicalize } from "json-canonicalize";
import type { AnchoringOrg } from "../anchoring/outbox";
import { proofReaches } from "../anchoring/merkle";
import { masterDataHash } from "../provenance/master-data-hash";
import { recordHash } from "../analytics/record";
import { eventLeaf } from "../epcis/leaf";
import { eventHashId, type EpcisEvent } from "../epcis/hash";
// The checks hash with WebAssembly once it is instantiated (asynchronously, at load): a caller that
// checks at once (the explorer's page) waits for it rather than hash every leaf in JavaScript. The
// page's verifier (services/web/verify.js) takes its keccak256 from here too, with the checks.
export { keccak256, keccakReady } from "../common/keccak";

/**
 * A proven record: one off-chain record with what it takes to check it against the chain and
 * nothing else. The ONE form in which Lotline hands records to someone who must not trust the
 * sender: export bundles (services/export) and, in the same form, answers between member nodes.
 *
 *   class       what the record is, and so how its leaf is computed (below)
 *   owner       the organisation the record belongs to (decimal id): the one whose anchor counts
 *   recordId    the holder's id of the record (anchoring outbox id: product:…, production-run:…, epcis:event:…)
 *   record      the record itself, as stored (see RecordOf)
 *   leaf        the Merkle leaf the holder anchored; the receiver recomputes it from `record`
 *   proof       merkleRoot, the sibling hashes from the leaf to it (OpenZeppelin StandardMerkleTree,
 *               leaf encoding ["bytes32"]), and anchoredBy: the organisation whose on-chain anchor
 *               (`AnchorRegistry.anchorOf(org, root)`) the proof relies on; transactionHash and
 *               blockNumber of that anchor are informational.
 *
 * A receiver accepts the record only when (checkRecord below, then the chain): the leaf recomputed
 * from `record` equals `leaf`, the proof leads from `leaf` to `merkleRoot`, `anchoredBy` is `owner`,
 * and the chain answers a non-zero anchor for `anchorOf(owner, merkleRoot)`. An anchor of the same
 * root by another organisation proves nothing about the owner's record (ADR 0011).
 */
export type ProvenRecordClass = "PRODUCT" | "PRODUCTION_RUN" | "EPCIS";
export const PROVEN_RECORD_CLASSES: readonly ProvenRecordClass[] = ["PRODUCT", "PRODUCTION_RUN", "EPCIS"];

/** What `record` holds, per class. */
export interface RecordOf {
  /** Product master data as stored (services/provenance/products.ts); leaf = masterDataHash(record). */
  PRODUCT: Record<string, unknown>;
  /** A production run as stored (services/analytics/record.ts); leaf = recordHash(record). */
  PRODUCTION_RUN: Record<string, unknown> & { orgId?: unknown };
  /**
   * An EPCIS event as stored and the @context of the document it is served in (services/epcis/store.ts):
   * leaf = eventLeaf(eventHashId(event, context), canonical JSON of event).
   */
  EPCIS: { event: Record<string, unknown>; context: unknown };
}

export interface RecordProof {
  merkleRoot: string;
  proof: string[];
  anchoredBy: AnchoringOrg;
  transactionHash?: string | null;
  blockNumber?: number | null;
}

/** The proof part of a ProvenRecord from a node's anchoring proof; null while it is not anchored. */
export function recordProofOf(anchor: {
  status: string;
  merkleRoot: string | null;
  proof: string[];
  anchoredBy: AnchoringOrg | null;
  transactionHash: string | null;
  blockNumber: number | null;
}): RecordProof | null {
  if (anchor.status !== "anchored" || !anchor.merkleRoot || !anchor.anchoredBy) return null;
  return { merkleRoot: anchor.merkleRoot, proof: anchor.proof, anchoredBy: anchor.anchoredBy, transactionHash: anchor.transactionHash, blockNumber: anchor.blockNumber };
}

export interface ProvenRecord<C extends ProvenRecordClass = ProvenRecordClass> {
  class: C;
  owner: string;
  recordId: string;
  record: RecordOf[C];
  leaf: string;
  proof: RecordProof;
}

/** The leaf of a record, computed by the same functions that computed it when it was stored. Throws on a malformed record. */
export function leafOf(pr: Pick<ProvenRecord, "class" | "record">): string {
  switch (pr.class) {
    case "PRODUCT":
      return masterDataHash(pr.record as RecordOf["PRODUCT"]).toLowerCase();
    case "PRODUCTION_RUN":
      return recordHash(pr.record as RecordOf["PRODUCTION_RUN"]).toLowerCase();
    case "EPCIS": {
      const { event, context } = pr.record as RecordOf["EPCIS"];
      if (!event || typeof event !== "object") throw new Error("the record has no event");
      return eventLeaf(eventHashId(event as EpcisEvent, context), canonicalize(event)).toLowerCase();
    }
    default:
      throw new Error(`unknown record class ${String((pr as { class: unknown }).class)}`);
  }
}

/** Where a record's owner is written inside the record itself (so it is covered by the leaf), if anywhere. */
export function ownerInRecord(pr: Pick<ProvenRecord, "class" | "record">): string | null {
  if (pr.class === "PRODUCTION_RUN") {
    const orgId = (pr.record as RecordOf["PRODUCTION_RUN"]).orgId;
    return orgId === undefined || orgId === null ? null : String(orgId);
  }
  return null;
}

export type RecordFailure = "record_changed" | "proof_changed" | "owner_mismatch" | "malformed";

/** The off-chain half of a record's check; null when it holds. The on-chain half is `anchorOf(owner, merkleRoot)`. */
export function checkRecord(pr: ProvenRecord): { failure: RecordFailure; detail: string } | null {
  if (!PROVEN_RECORD_CLASSES.includes(pr.class)) return { failure: "malformed", detail: `unknown record class "${String(pr.class)}"` };
  const hex32 = /^0x[0-9a-fA-F]{64}$/;
  if (!pr.proof || !hex32.test(pr.leaf ?? "") || !hex32.test(pr.proof.merkleRoot ?? "") || !Array.isArray(pr.proof.proof) || !pr.proof.proof.every((p) => hex32.test(p))) {
    return { failure: "malformed", detail: "leaf, merkleRoot and every proof element must be 32-byte hex" };
  }
  let leaf: string;
  try {
    leaf = leafOf(pr);
  } catch (err) {
    return { failure: "record_changed", detail: `record changed: its leaf cannot be computed (${(err as Error).message})` };
  }
  if (leaf !== pr.leaf.toLowerCase()) {
    return { failure: "record_changed", detail: `record changed: the record hashes to ${leaf}, not to the anchored leaf ${pr.leaf}` };
  }
  const reaches = proofReaches(pr.proof.merkleRoot, pr.leaf, pr.proof.proof);
  if (!reaches) return { failure: "proof_changed", detail: `proof changed: the proof does not lead from leaf ${pr.leaf} to root ${pr.proof.merkleRoot}` };
  const inside = ownerInRecord(pr);
  if (inside !== null && inside !== pr.owner) {
    return { failure: "owner_mismatch", detail: `the record names organisation ${inside} as its owner, not ${pr.owner}` };
  }
  if (String(pr.proof.anchoredBy?.orgId) !== pr.owner) {
    return {
      failure: "owner_mismatch",
      detail: `the proof relies on organisation ${String(pr.proof.anchoredBy?.orgId)}'s anchor, not on the owner's (organisation ${pr.owner})`,
    };
  }
  return null;
}
