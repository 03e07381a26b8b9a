import { canonicalize } from "json-canonicalize";
import { toUtf8Bytes } from "ethers";
import { keccak256 } from "../common/keccak";

/**
 * The hash of product master data that goes on-chain: keccak256 of the RFC 8785 canonical JSON of
 * the document. Apart from products.ts (which stores) so the explorer's in-page verifier can bundle
 * it without the node's storage code.
 */
export function masterDataHash(document: object): string {
  return keccak256(toUtf8Bytes(canonicalize(document)));
}
