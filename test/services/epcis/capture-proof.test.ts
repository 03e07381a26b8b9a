import crypto from "node:crypto";
import { expect } from "chai";
import { AbiCoder, keccak256 } from "ethers";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { canonicalize } from "json-canonicalize";
import type { TestNode } from "../../helpers/node";
import { eventHashId } from "../../../services/epcis/hash";
import { bearer, expectProblem, get, sharedNode } from "../api/helpers";
import { agentToken, captureAndWait, epcisDocument, eventsOf } from "./helpers";

/**
 * Every stored event is queued for anchoring in the transaction that stores it; the node's anchor
 * job puts the Merkle root on-chain. The leaf commits to the hash ID and the canonical JSON of the
 * stored event, so the proof fails for a record altered even where its hash ID would not change.
 */
describe("EPCIS events anchored on-chain: GET /epcis/events/{eventID}/proof", function () {
  let node: TestNode;
  const event = {
    type: "ObjectEvent",
    eventID: `urn:uuid:${crypto.randomUUID()}`,
    eventTime: "2024-04-01T08:00:00.000+02:00",
    eventTimeZoneOffset: "+02:00",
    epcList: [`urn:epc:id:sgtin:4012345.011111.${crypto.randomBytes(4).toString("hex")}`],
    action: "OBSERVE",
    bizStep: "receiving",
    disposition: "in_progress",
  };
  const proofPath = `/epcis/events/${encodeURIComponent(event.eventID)}/proof`;

  before(async function () {
    node = await sharedNode();
    const job = await captureAndWait(node, await agentToken(node), epcisDocument([event]));
    expect(job.stored).to.equal(1);
  });

  async function anchoredProof() {
    const deadline = Date.now() + 90_000;
    for (;;) {
      const res = await get(node, proofPath);
      expect(res.status, res.text).to.equal(200);
      if (res.body.status === "anchored") return res.body;
      if (Date.now() > deadline) throw new Error(`not anchored in time: ${res.text}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  it("is anchored by the node's anchor job, and the proof verifies against the on-chain root", async function () {
    const proof = await anchoredProof();
    const [stored] = eventsOf(
      await get(node, `/epcis/events/${encodeURIComponent(event.eventID)}`, { ...bearer(await agentToken(node)), "GS1-EPC-Format": "Never_Translates" }),
    );
    const hashId = eventHashId(event, epcisDocument([])["@context"]);
    expect(proof).to.include({ eventHash: hashId, status: "anchored", verified: true });
    expect(proof.leaf).to.equal(
      keccak256(AbiCoder.defaultAbiCoder().encode(["string", "string"], [hashId, canonicalize(stored)])),
    );
    expect(StandardMerkleTree.verify(proof.merkleRoot, ["bytes32"], [proof.leaf], proof.proof)).to.equal(true);
    expect(proof.anchoredBy).to.deep.equal({ orgId: "1", name: "Alpenmilch Hof GmbH" });
    const onChain = await node.contracts.anchors.anchorOf(1n, proof.merkleRoot);
    expect(Number(onChain.blockNumber)).to.equal(proof.blockNumber);
    expect((await node.provider.getTransactionReceipt(proof.transactionHash))!.blockNumber).to.equal(proof.blockNumber);
  });

  it("fails for a stored event altered where the hash ID does not look (recordTime), and in an EPC", async function () {
    const before = await anchoredProof();
    const row = node.db.prepare(`SELECT seq, event FROM epcis_events WHERE event_id = ?`).get(event.eventID) as {
      seq: number;
      event: string;
    };
    const alter = (changes: Record<string, unknown>) =>
      node.db
        .prepare(`UPDATE epcis_events SET event = ? WHERE seq = ?`)
        .run(canonicalize({ ...JSON.parse(row.event), ...changes }), row.seq);
    try {
      alter({ recordTime: "2000-01-01T00:00:00.000Z" });
      const recordTime = (await get(node, proofPath)).body;
      expect(recordTime).to.include({
        verified: false,
        eventHash: before.eventHash,
        leaf: before.leaf,
        merkleRoot: before.merkleRoot,
      });

      alter({ epcList: ["urn:epc:id:sgtin:4012345.011111.forged"] });
      expect((await get(node, proofPath)).body.verified).to.equal(false);
    } finally {
      node.db.prepare(`UPDATE epcis_events SET event = ? WHERE seq = ?`).run(row.event, row.seq);
    }
    expect((await get(node, proofPath)).body.verified).to.equal(true);
  });

  it("answers 404 for an event it does not have", async function () {
    expectProblem(
      await get(node, `/epcis/events/${encodeURIComponent(`urn:uuid:${crypto.randomUUID()}`)}/proof`),
      404,
      "event_not_found",
    );
  });
});
