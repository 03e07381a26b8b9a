import { expect } from "chai";
import { encodeBytes32String, id as keccakText } from "ethers";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { createRpcClient } from "../../../services/chain/rpc";
import { dumpDerivedTables, openDatabase, type Db } from "../../../services/store/db";
import { createLotlineIndexer } from "../../../services/indexer/lotline";
import { createAnchorJob } from "../../../services/anchoring/job";
import { merkleTree, proofOf, queueForAnchoring } from "../../../services/anchoring/outbox";
import { productRecordId, storeProductMasterData } from "../../../services/provenance/products";
import { DEMO_MEMBERS, demoWallet } from "../../../services/demo/roster";
import { gtinFor } from "../../../services/gs1/keys";
import { deployDemo, freshRebuildDump, startHardhatNode } from "../../helpers/chain";

/**
 * Off-chain records are primary data; their anchors are not. An anchor whose block is lost in a
 * reorganisation disappears from the index (the record is honestly `pending` again) and the job
 * anchors it again on the new fork once the resubmit delay has passed (ADR 0004, issue 3).
 * `hardhat node` gives real reorganisations with evm_snapshot / evm_revert.
 */
const producer = DEMO_MEMBERS.find((m) => m.key === "producer")!;
const rivalMember = DEMO_MEMBERS.find((m) => m.key === "processor")!;
const RESUBMIT_AFTER = 60;

describe("anchoring: records whose anchor is lost in a rollback", function () {
  let chain: Awaited<ReturnType<typeof startHardhatNode>>;
  let demo: Awaited<ReturnType<typeof deployDemo>>;
  /** The producer's organisation (the one its integration key anchors as) and a rival's. */
  let producerOrg: bigint;
  let rivalOrg: bigint;

  before(async function () {
    this.timeout(180_000);
    chain = await startHardhatNode();
    demo = await deployDemo(chain.url);
    producerOrg = (await demo.contracts.registry.agent(demoWallet(producer.integrationAccount).address)).orgId;
    rivalOrg = (await demo.contracts.registry.agent(demoWallet(rivalMember.integrationAccount).address)).orgId;
    expect(rivalOrg).to.not.equal(producerOrg);
  });

  after(async function () {
    demo?.provider.destroy();
    await chain?.stop();
  });

  /** A service's pieces: its database, an indexer and the anchor job with a clock the test moves. */
  function service() {
    const db = openDatabase(":memory:");
    const indexer = createLotlineIndexer(
      { db, rpc: createRpcClient(chain.url), deployment: demo.deployment },
      { finalityDepth: 0, reorgWindow: 64, logRange: 2_000, rpcUrl: chain.url },
    );
    const clock = { now: Math.floor(Date.now() / 1000) };
    const job = createAnchorJob({
      db,
      // The producer's integration key: an active agent of organisation 1.
      anchors: demo.contracts.anchors.connect(demoWallet(producer.integrationAccount, demo.provider)),
      recordsUrl: () => "http://lotline.test",
      resubmitAfterSeconds: RESUBMIT_AFTER,
      indexed: async (block) => {
        await indexer.syncToHead();
        expect(indexer.status().indexedBlock).to.be.at.least(block);
      },
      now: () => clock.now,
    });
    return { db, indexer, clock, job };
  }

  let masterDataSerial = 100;
  /** Stores a new product master data document of the producer's and returns its record id. */
  function storeProduct(db: Db): string {
    const gtin = gtinFor(producer.companyPrefixes[0], masterDataSerial++);
    const hash = storeProductMasterData(
      db,
      { gtin, name: `Test milk ${gtin}`, unit: "LTR" },
      demoWallet(producer.integrationAccount).address,
    );
    return productRecordId(hash);
  }

  const head = () => demo.provider.getBlockNumber();
  const blockHash = async (n: number) => (await demo.provider.getBlock(n))!.hash!;

  describe("an anchor lost in a rollback (steps in order)", function () {
    let s: ReturnType<typeof service>;
    let records: string[];
    let snapshot: string;
    let forkPoint: number;
    const first = new Map<string, { root: string; blockNumber: number; blockHash: string }>();

    before(async function () {
      s = service();
      records = [storeProduct(s.db), storeProduct(s.db)];
      records.push("epcis:urn:uuid:6f1c2a40-anchoring-test");
      queueForAnchoring(s.db, { recordId: records[2], kind: "EPCIS", hash: keccakText("an EPCIS event document") });
      await s.indexer.syncToHead();
      forkPoint = await head();
      snapshot = await demo.provider.send("evm_snapshot", []);
    });

    after(function () {
      s.db.close();
    });

    it("anchors the queued records, one Merkle root per kind, with proofs that verify against the chain", async function () {
      const result = await s.job.runOnce();
      expect(result.requeued).to.equal(0);
      expect(result.anchored.map((a) => [a.kind, a.count])).to.deep.equal([
        ["EPCIS", 1],
        ["PRODUCT", 2],
      ]);
      for (const recordId of records) {
        const proof = proofOf(s.db, recordId)!;
        expect(proof, recordId).to.include({ status: "anchored", verified: true });
        expect(proof.blockNumber).to.be.greaterThan(forkPoint);
        expect(StandardMerkleTree.verify(proof.merkleRoot!, ["bytes32"], [proof.leaf], proof.proof)).to.equal(true);
        expect(proof.anchoredBy?.orgId).to.equal(String(producerOrg));
        expect(Number((await demo.contracts.anchors.anchorOf(producerOrg, proof.merkleRoot!)).blockNumber)).to.equal(proof.blockNumber);
        first.set(recordId, {
          root: proof.merkleRoot!,
          blockNumber: proof.blockNumber!,
          blockHash: await blockHash(proof.blockNumber!),
        });
      }
    });

    it("reports the records pending, unverified, once the indexer rolls the lost anchors back", async function () {
      expect(first.size, "the previous step anchored").to.equal(3);
      await demo.provider.send("evm_revert", [snapshot]);
      // The new fork: different blocks, ending higher than the lost one did.
      for (let i = 0; i < 5; i++) await demo.provider.send("evm_mine", []);
      const steps: string[] = [];
      for (;;) {
        const step = await s.indexer.step();
        steps.push(step.type);
        if (step.type === "idle") break;
      }
      expect(steps).to.include("reorg");
      for (const recordId of records) {
        expect(proofOf(s.db, recordId), recordId).to.deep.include({
          status: "pending",
          verified: false,
          merkleRoot: null,
          proof: [],
          transactionHash: null,
          blockNumber: null,
        });
        expect(
          Number((await demo.contracts.anchors.anchorOf(producerOrg, first.get(recordId)!.root)).blockNumber),
          "on the new fork",
        ).to.equal(0);
      }
    });

    it("does not submit them again before the resubmit delay has passed", async function () {
      const before = await head();
      s.clock.now += RESUBMIT_AFTER - 1;
      expect(await s.job.runOnce()).to.deep.equal({ requeued: 0, anchored: [] });
      expect(await head()).to.equal(before);
      for (const recordId of records) expect(proofOf(s.db, recordId)!.status).to.equal("pending");
    });

    it("anchors them again after the delay, under the same roots, in a block of the new fork, with verified proofs", async function () {
      const before = await head();
      s.clock.now += 1;
      const result = await s.job.runOnce();
      expect(result.requeued).to.equal(3);
      expect(result.anchored.map((a) => [a.kind, a.count])).to.deep.equal([
        ["EPCIS", 1],
        ["PRODUCT", 2],
      ]);
      for (const recordId of records) {
        const proof = proofOf(s.db, recordId)!;
        const lost = first.get(recordId)!;
        expect(proof, recordId).to.include({ status: "anchored", verified: true, merkleRoot: lost.root });
        expect(proof.blockNumber).to.be.greaterThan(before);
        expect(proof.blockNumber).to.not.equal(lost.blockNumber);
        expect(await blockHash(lost.blockNumber), "the lost block is gone").to.not.equal(lost.blockHash);
        expect(Number((await demo.contracts.anchors.anchorOf(producerOrg, proof.merkleRoot!)).blockNumber)).to.equal(proof.blockNumber);
        const receipt = await demo.provider.getTransactionReceipt(proof.transactionHash!);
        expect(receipt!.blockHash, "the anchor's block is on the chain").to.equal(await blockHash(proof.blockNumber!));
      }
    });

    it("leaves an index equal to a rebuild of the new fork", async function () {
      await s.indexer.syncToHead();
      expect(dumpDerivedTables(s.db)).to.equal(await freshRebuildDump(chain.url, demo.deployment));
    });
  });

  describe("idempotence", function () {
    let s: ReturnType<typeof service>;

    beforeEach(async function () {
      s = service();
      await s.indexer.syncToHead();
    });

    afterEach(function () {
      s.db.close();
    });

    it("anchors nothing, and sends nothing, when run again without new records", async function () {
      const recordId = storeProduct(s.db);
      expect((await s.job.runOnce()).anchored).to.have.length(1);
      const proof = proofOf(s.db, recordId);
      const before = await head();
      s.clock.now += RESUBMIT_AFTER * 10;
      expect(await s.job.runOnce()).to.deep.equal({ requeued: 0, anchored: [] });
      expect(await s.job.runOnce()).to.deep.equal({ requeued: 0, anchored: [] });
      expect(await head()).to.equal(before);
      expect(proofOf(s.db, recordId)).to.deep.equal(proof);
    });

    it("anchors only the records queued since the last run", async function () {
      const earlier = storeProduct(s.db);
      await s.job.runOnce();
      const proof = proofOf(s.db, earlier);
      const later = storeProduct(s.db);
      const result = await s.job.runOnce();
      expect(result.anchored).to.have.length(1);
      expect(result.anchored[0]).to.include({ kind: "PRODUCT", count: 1 });
      expect(result.anchored[0].root).to.not.equal(proof!.merkleRoot);
      expect(proofOf(s.db, later)).to.include({ status: "anchored", verified: true, merkleRoot: result.anchored[0].root });
      expect(proofOf(s.db, earlier)).to.deep.equal(proof);
    });

    it("treats a root its own organisation already anchored (AnchorExists) as anchored, without a second anchor", async function () {
      // Another service of the same organisation already anchored the same record: the same single leaf gives the same root.
      const other = service();
      await other.indexer.syncToHead();
      const recordId = storeProduct(other.db);
      const [{ root }] = (await other.job.runOnce()).anchored;
      other.db.close();
      const leaf = recordId.slice("product:".length);
      queueForAnchoring(s.db, { recordId, kind: "PRODUCT", hash: leaf });
      await s.indexer.syncToHead();
      const before = await head();
      const result = await s.job.runOnce();
      expect(result.anchored).to.deep.equal([{ root, kind: "PRODUCT", count: 1 }]);
      expect(await head(), "no transaction mined").to.equal(before);
      expect(proofOf(s.db, recordId)).to.include({ status: "anchored", verified: true, merkleRoot: root });
    });
  });

  describe("a rival anchoring this node's root (anchors are keyed by organisation and root)", function () {
    let s: ReturnType<typeof service>;
    const rival = () => demo.contracts.anchors.connect(demoWallet(rivalMember.integrationAccount, demo.provider));

    beforeEach(async function () {
      s = service();
      await s.indexer.syncToHead();
    });

    afterEach(function () {
      s.db.close();
    });

    it("anchors its root as its own organisation even when a rival copied the root and anchored it first", async function () {
      const recordId = storeProduct(s.db);
      const leaf = recordId.slice("product:".length);
      const root = merkleTree([leaf]).root;
      const rivalTx = await (await rival().anchor(encodeBytes32String("PRODUCT"), root, 1, "https://rival.example")).wait();
      await s.indexer.syncToHead();
      const before = await head();
      const result = await s.job.runOnce();
      expect(result.anchored).to.deep.equal([{ root, kind: "PRODUCT", count: 1 }]);
      expect(await head(), "the node's own anchor was mined, not skipped as existing").to.equal(before + 1);
      const proof = proofOf(s.db, recordId)!;
      expect(proof).to.include({ status: "anchored", verified: true, merkleRoot: root });
      expect(proof.anchoredBy?.orgId).to.equal(String(producerOrg));
      expect(proof.transactionHash).to.not.equal(rivalTx!.hash);
      expect(Number((await demo.contracts.anchors.anchorOf(producerOrg, root)).blockNumber)).to.equal(proof.blockNumber);
    });

    it("does not count a rival's anchor of its root: the records stay pending, then are anchored again as its own", async function () {
      const recordId = storeProduct(s.db);
      const leaf = recordId.slice("product:".length);
      const root = merkleTree([leaf]).root;
      // The node formed and sent the batch, but its transaction never reached the chain; the rival's copy did.
      s.db.transaction(() => {
        s.db.prepare(`INSERT INTO anchor_batches (root, kind, leaves, created_at, org_id) VALUES (?, 'PRODUCT', ?, ?, ?)`).run(
          root,
          JSON.stringify([leaf]),
          new Date().toISOString(),
          Number(producerOrg),
        );
        s.db.prepare(`UPDATE anchor_outbox SET root = ?, submitted_at = ? WHERE record_id = ?`).run(root, s.clock.now, recordId);
      })();
      await (await rival().anchor(encodeBytes32String("PRODUCT"), root, 1, "https://rival.example")).wait();
      await s.indexer.syncToHead();
      expect(s.db.prepare(`SELECT org_id FROM anchors WHERE root = ?`).all(root), "the rival's anchor is indexed").to.deep.equal([{ org_id: Number(rivalOrg) }]);
      expect(proofOf(s.db, recordId)).to.deep.include({ status: "pending", verified: false, anchoredBy: null, merkleRoot: null });

      s.clock.now += RESUBMIT_AFTER;
      const result = await s.job.runOnce();
      expect(result).to.deep.equal({ requeued: 1, anchored: [{ root, kind: "PRODUCT", count: 1 }] });
      const proof = proofOf(s.db, recordId)!;
      expect(proof).to.include({ status: "anchored", verified: true, merkleRoot: root });
      expect(proof.anchoredBy?.orgId).to.equal(String(producerOrg));
    });
  });
});
