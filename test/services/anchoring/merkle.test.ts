import { expect } from "chai";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { keccak256, toUtf8Bytes } from "ethers";
import { LEAF_ENCODING, merkleTree } from "../../../services/anchoring/outbox";
import { buildTree, leafNode, proofAt, proofReaches } from "../../../services/anchoring/merkle";

const leaf = (n: number) => keccak256(toUtf8Bytes(`leaf ${n}`));

describe("Merkle trees built, and proofs read and checked, without the library (services/anchoring/merkle.ts)", function () {
  it("builds, for trees of 1 to 17 leaves, OpenZeppelin's tree node for node, and reads the proof it gives for every leaf", function () {
    for (let size = 1; size <= 17; size++) {
      const leaves = Array.from({ length: size }, (_, i) => leaf(size * 100 + i));
      const reference = StandardMerkleTree.of(
        leaves.map((l) => [l]),
        [...LEAF_ENCODING],
        { sortLeaves: false },
      );
      const tree = merkleTree(leaves);
      expect(tree.root, `size ${size}`).to.equal(reference.root);
      expect(tree.nodes, `size ${size}`).to.deep.equal(reference.dump().tree);
      expect(buildTree(leaves)).to.deep.equal(tree.nodes);
      reference.dump().values.forEach(({ value, treeIndex }, i) => {
        const proof = proofAt(tree.nodes, treeIndex);
        expect(proof, `size ${size}, leaf ${i}`).to.deep.equal(reference.getProof(i));
        expect(tree.getProof(i)).to.deep.equal(proof);
        expect(proofReaches(tree.root, value[0], proof)).to.equal(true);
        expect(StandardMerkleTree.verify(tree.root, [...LEAF_ENCODING], [value[0]], proof)).to.equal(true);
      });
    }
  });

  it("builds no tree of no leaves", function () {
    expect(() => buildTree([])).to.throw(/at least one leaf/);
  });

  it("hashes a bytes32 leaf as the library does (keccak256 of keccak256 of the 32 bytes)", function () {
    const tree = merkleTree([leaf(1)]);
    expect(tree.root).to.equal(leafNode(leaf(1)));
  });

  it("refuses a proof with a changed sibling, a leaf from elsewhere, the wrong root, or a sibling left out", function () {
    const leaves = [1, 2, 3, 4, 5].map(leaf);
    const tree = merkleTree(leaves);
    const proof = tree.getProof(2);
    const changed = [...proof];
    changed[0] = `0x${"ab".repeat(32)}`;
    expect(proofReaches(tree.root, leaves[2], changed)).to.equal(false);
    expect(proofReaches(tree.root, leaf(99), proof)).to.equal(false);
    expect(proofReaches(merkleTree([leaf(7), leaf(8)]).root, leaves[2], proof)).to.equal(false);
    expect(proofReaches(tree.root, leaves[2], proof.slice(1))).to.equal(false);
    // The leaf itself offered as the root's only child is no proof either.
    expect(proofReaches(tree.root, tree.root, [])).to.equal(false);
  });

  it("answers false, never throws, for malformed input from another party", function () {
    const tree = merkleTree([leaf(1), leaf(2)]);
    const good = tree.getProof(0);
    const cases: [unknown, unknown, unknown][] = [
      ["0x1234", leaf(1), good],
      [tree.root, "not hex", good],
      [tree.root, leaf(1), ["0xzz"]],
      [tree.root, leaf(1), "0x00"],
      [null, leaf(1), good],
      [tree.root, leaf(1), [42]],
    ];
    for (const [root, l, proof] of cases) expect(proofReaches(root as string, l as string, proof as string[])).to.equal(false);
  });

  it("accepts upper-case hex as the library does", function () {
    const tree = merkleTree([leaf(1), leaf(2), leaf(3)]);
    const up = (h: string) => `0x${h.slice(2).toUpperCase()}`;
    expect(proofReaches(up(tree.root), up(leaf(3)), tree.getProof(2).map(up))).to.equal(true);
  });
});
