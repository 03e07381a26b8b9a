import { expect } from "chai";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { keccak256, toUtf8Bytes } from "ethers";
import { batchTree, LEAF_ENCODING, merkleTree } from "../../../services/anchoring/outbox";

const leaf = (n: number) => keccak256(toUtf8Bytes(`record ${n}`));

describe("anchor batch trees, built once per stored batch", function () {
  const leaves = [1, 2, 3, 4, 5].map(leaf);
  const root = merkleTree(leaves).root;

  it("gives proofs that lead to the batch's root, with each leaf's position", function () {
    const batch = batchTree(root, JSON.stringify(leaves));
    const { tree, rootHolds, indexOf } = batch;
    expect(rootHolds).to.equal(true);
    for (const l of leaves) {
      expect(StandardMerkleTree.verify(root, [...LEAF_ENCODING], [l], tree.getProof(indexOf.get(l)!))).to.equal(true);
      expect(batch.proofOf(l)).to.deep.equal(tree.getProof(indexOf.get(l)!));
    }
    expect(batch.proofOf(leaf(99))).to.equal(null);
  });

  it("returns the kept tree for the same stored batch", function () {
    expect(batchTree(root, JSON.stringify(leaves))).to.equal(batchTree(root, JSON.stringify(leaves)));
  });

  it("builds again for a batch row whose leaves were edited under the node, and says its root does not hold", function () {
    batchTree(root, JSON.stringify(leaves));
    const edited = [leaf(1), leaf(2), leaf(99), leaf(4), leaf(5)];
    const tampered = batchTree(root, JSON.stringify(edited));
    expect(tampered.rootHolds).to.equal(false);
    expect(tampered.indexOf.has(leaf(3))).to.equal(false);
    expect(tampered.indexOf.get(leaf(99))).to.equal(2);
  });

  it("keeps the tree the anchor job built instead of building another", function () {
    const fresh = [6, 7, 8].map(leaf);
    const built = merkleTree(fresh);
    expect(batchTree(built.root, JSON.stringify(fresh), built).tree).to.equal(built);
  });
});
