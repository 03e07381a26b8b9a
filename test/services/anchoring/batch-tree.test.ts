import { expect } from "chai";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { keccak256, toUtf8Bytes } from "ethers";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { batchTree, LEAF_ENCODING, merkleTree, proofOf, queueForAnchoring } from "../../../services/anchoring/outbox";
import { openDatabase } from "../../../services/store/db";

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

  it("serves a proof as verified only while the stored batch's leaves recompute to its root", function () {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lotline-batch-tree-"));
    const db = openDatabase(path.join(dir, "lotline.db"));
    try {
      const batchLeaves = [11, 12, 13].map(leaf);
      const batchRoot = merkleTree(batchLeaves).root;
      batchLeaves.forEach((hash, i) => queueForAnchoring(db, { recordId: `run:${i}`, kind: "production-run", hash, ownerOrg: 3 }));
      db.prepare(`UPDATE anchor_outbox SET root = ?`).run(batchRoot);
      db.prepare(`INSERT INTO anchor_batches (root, kind, leaves, created_at, org_id) VALUES (?, ?, ?, ?, ?)`).run(batchRoot, "production-run", JSON.stringify(batchLeaves), "2026-12-07T00:00:00Z", 3);
      db.prepare(
        `INSERT INTO anchors (root, kind, org_id, count, uri, anchored_by, block_number, tx_hash, time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(batchRoot, "production-run", 3, 3, "", "0x0000000000000000000000000000000000000003", 7, `0x${"ab".repeat(32)}`, "2026-12-07T00:00:00Z");

      const served = proofOf(db, "run:1")!;
      expect(served.status).to.equal("anchored");
      expect(served.verified).to.equal(true);
      expect(StandardMerkleTree.verify(batchRoot, [...LEAF_ENCODING], [batchLeaves[1]], served.proof)).to.equal(true);

      // A leaf of the stored batch changed under the node: its tree no longer reaches the anchored root.
      const edited = [batchLeaves[0], batchLeaves[1], leaf(99)];
      db.prepare(`UPDATE anchor_batches SET leaves = ? WHERE root = ?`).run(JSON.stringify(edited), batchRoot);
      expect(proofOf(db, "run:1")!.verified).to.equal(false);
    } finally {
      db.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
