import { keccak256 } from "../common/keccak";

/**
 * OpenZeppelin's StandardMerkleTree with the leaf encoding ["bytes32"] (the one Lotline anchors),
 * built, read and checked without the library, which stays the reference in the tests. The library
 * re-encodes every leaf through @metamask/abi-utils and hashes in JavaScript: two thirds of the
 * records route's time in a profile when it read proofs, 100 kB of the page's verifier, and the
 * longest stall of a capture when the anchor job built a tree of 2,000 events with it (190–255 ms in
 * one piece; here about 15 ms) — where a bytes32 leaf needs two keccak256 calls.
 *
 *   node of a leaf   keccak256(keccak256(leaf))        (abi.encode of one bytes32 is the 32 bytes)
 *   parent           keccak256(lower ‖ higher)         (the two children sorted as byte strings)
 *
 * Pure: no I/O. Also bundled into the explorer's in-page verifier (services/web).
 */

const BYTES32 = /^0x[0-9a-fA-F]{64}$/;

export function leafNode(leaf: string): string {
  return keccak256(keccak256(leaf));
}

function parentOf(a: string, b: string): string {
  // Same-length lower-case hex compares as the bytes do; two 32-byte hex strings are joined as text
  // (ethers' concat converted each to bytes and back: 4/5 of a proof check in the page's profile).
  return a < b ? keccak256(`${a}${b.slice(2)}`) : keccak256(`${b}${a.slice(2)}`);
}

/**
 * The tree `StandardMerkleTree.of(leaves.map((l) => [l]), ["bytes32"], { sortLeaves: false })` builds,
 * as its `dump().tree` lays it out: the root at 0, the children of i at 2i+1 and 2i+2, leaf i at
 * `length - 1 - i`.
 */
export function buildTree(leaves: readonly string[]): string[] {
  if (leaves.length === 0) throw new Error("a Merkle tree needs at least one leaf");
  const nodes = new Array<string>(2 * leaves.length - 1);
  leaves.forEach((leaf, i) => (nodes[nodes.length - 1 - i] = leafNode(leaf)));
  for (let i = nodes.length - 1 - leaves.length; i >= 0; i--) nodes[i] = parentOf(nodes[2 * i + 1], nodes[2 * i + 2]);
  return nodes;
}

/**
 * Whether `proof` leads from `leaf` to `root`. False (never a throw) for anything malformed: the
 * callers check what other parties sent them.
 */
export function proofReaches(root: string, leaf: string, proof: readonly string[]): boolean {
  if (typeof root !== "string" || typeof leaf !== "string" || !Array.isArray(proof)) return false;
  if (!BYTES32.test(root) || !BYTES32.test(leaf) || !proof.every((p) => typeof p === "string" && BYTES32.test(p))) return false;
  let node = leafNode(leaf);
  for (const sibling of proof) node = parentOf(node, sibling.toLowerCase());
  return node === root.toLowerCase();
}

/**
 * The proof of the leaf at `treeIndex` in a tree as StandardMerkleTree lays it out (`dump().tree`:
 * the root at 0, the children of i at 2i+1 and 2i+2, the leaves at the end).
 */
export function proofAt(tree: readonly string[], treeIndex: number): string[] {
  const proof: string[] = [];
  for (let i = treeIndex; i > 0; i = Math.floor((i - 1) / 2)) proof.push(tree[i % 2 === 1 ? i + 1 : i - 1]);
  return proof;
}
