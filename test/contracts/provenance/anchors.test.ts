import { expect } from "chai";
import hre from "hardhat";
import { encodeBytes32String, ZeroHash } from "ethers";
import { loadFixture, mine } from "@nomicfoundation/hardhat-network-helpers";
import { digest, NEEDED, provenanceFixture, type ProvenanceFixture } from "../../helpers/provenance-fixture";

const EPCIS = encodeBytes32String("EPCIS");
const AUDIT = encodeBytes32String("AUDIT");
const ROOT = digest("merkle root of 250 EPCIS events, 2024-04-13");
const URI = "https://epcis.hof-sonnenfeld.example/batches/2024-04-13";

/** The stored anchor of `root` by `org`, as plain values. */
async function stored(f: ProvenanceFixture, org: bigint, root = ROOT) {
  const a = await f.anchors.anchorOf(org, root);
  return { kind: a.kind, org: a.org, blockNumber: a.blockNumber, count: a.count };
}
const NONE = { kind: ZeroHash, org: 0n, blockNumber: 0n, count: 0n };

describe("AnchorRegistry", function () {
  it("anchors a root by an agent, naming its organisation and the sender", async function () {
    const { anchors, agents, orgs } = await loadFixture(provenanceFixture);
    await expect(anchors.connect(agents.producer).anchor(EPCIS, ROOT, 250, URI))
      .to.emit(anchors, "Anchored")
      .withArgs(ROOT, EPCIS, orgs.producer, 250, URI, agents.producer.address);
  });

  it("stores the anchor's kind, organisation, block and count under the sender's organisation", async function () {
    const f = await loadFixture(provenanceFixture);
    const receipt = await (await f.anchors.connect(f.agents.producer).anchor(EPCIS, ROOT, 250, URI)).wait();
    expect(await stored(f, f.orgs.producer)).to.deep.equal({ kind: EPCIS, org: f.orgs.producer, blockNumber: BigInt(receipt!.blockNumber), count: 250n });
  });

  it("lets an org admin anchor, as any role of an active agent may", async function () {
    const f = await loadFixture(provenanceFixture);
    await expect(f.anchors.connect(f.admins.retailer).anchor(EPCIS, ROOT, 1, ""))
      .to.emit(f.anchors, "Anchored")
      .withArgs(ROOT, EPCIS, f.orgs.retailer, 1, "", f.admins.retailer.address);
    expect((await stored(f, f.orgs.retailer)).count).to.equal(1n);
  });

  it("reports block 0 for a root never anchored", async function () {
    const f = await loadFixture(provenanceFixture);
    expect(await stored(f, f.orgs.producer)).to.deep.equal(NONE);
  });

  describe("a rival front-running a root (anchors name their organisation)", function () {
    it("does not block the owner when a rival copies the owner's pending root into an earlier transaction", async function () {
      const f = await loadFixture(provenanceFixture);
      // The rival sees the owner's transaction in the mempool and outbids it into the same block, ahead of it.
      await hre.network.provider.send("evm_setAutomine", [false]);
      try {
        // Fee caps and gas explicit: under solidity-coverage the base fee is zero (a default cap would
        // equal both tips) and the default gas limit so large that no account could pay for it.
        const fees = { gasLimit: 1_000_000n, maxFeePerGas: 100_000_000_000n };
        const owner = await f.anchors.connect(f.agents.producer).anchor(EPCIS, ROOT, 250, URI, { ...fees, maxPriorityFeePerGas: 1_000_000_000n });
        const rival = await f.anchors
          .connect(f.agents.processor)
          .anchor(AUDIT, ROOT, 1, "https://rival.example", { ...fees, maxPriorityFeePerGas: 50_000_000_000n });
        await mine(1);
        const [ownerReceipt, rivalReceipt] = [await owner.wait(), await rival.wait()];
        expect(rivalReceipt!.blockNumber, "same block").to.equal(ownerReceipt!.blockNumber);
        expect(rivalReceipt!.index, "the rival's transaction ran first").to.be.lessThan(ownerReceipt!.index);
        expect(ownerReceipt!.status, "the owner's anchor did not revert").to.equal(1);
        expect(await stored(f, f.orgs.producer)).to.deep.equal({ kind: EPCIS, org: f.orgs.producer, blockNumber: BigInt(ownerReceipt!.blockNumber), count: 250n });
      } finally {
        await hre.network.provider.send("evm_setAutomine", [true]);
      }
    });

    it("anchors the owner's root after a rival anchored the same root first", async function () {
      const f = await loadFixture(provenanceFixture);
      await (await f.anchors.connect(f.agents.processor).anchor(AUDIT, ROOT, 1, "https://rival.example")).wait();
      await expect(f.anchors.connect(f.agents.producer).anchor(EPCIS, ROOT, 250, URI))
        .to.emit(f.anchors, "Anchored")
        .withArgs(ROOT, EPCIS, f.orgs.producer, 250, URI, f.agents.producer.address);
      expect((await stored(f, f.orgs.producer)).count).to.equal(250n);
      expect(await stored(f, f.orgs.processor), "the rival keeps its own anchor, nothing more").to.include({ kind: AUDIT, org: f.orgs.processor, count: 1n });
    });

    it("does not accept a rival's anchor as the owner's: the owner has no anchor of the root until it anchors it", async function () {
      const f = await loadFixture(provenanceFixture);
      await (await f.anchors.connect(f.agents.processor).anchor(EPCIS, ROOT, 250, URI)).wait();
      expect(await stored(f, f.orgs.producer)).to.deep.equal(NONE);
      expect((await stored(f, f.orgs.processor)).org).to.equal(f.orgs.processor);
    });

    it("stores an agent's anchor under its own organisation only, never another's", async function () {
      const f = await loadFixture(provenanceFixture);
      await (await f.anchors.connect(f.agents.processor).anchor(EPCIS, ROOT, 250, URI)).wait();
      for (const key of ["producer", "carrier", "retailer", "auditor"] as const) {
        expect(await stored(f, f.orgs[key]), key).to.deep.equal(NONE);
      }
    });
  });

  // A reverted transaction stores nothing by construction, so the refusals below assert the exact
  // error and its values (what tells one refusal from another), not a state no revert could change.
  it("refuses a root its own organisation anchored before, even through another of its agents", async function () {
    const f = await loadFixture(provenanceFixture);
    await (await f.anchors.connect(f.agents.producer).anchor(EPCIS, ROOT, 250, URI)).wait();
    await expect(f.anchors.connect(f.admins.producer).anchor(AUDIT, ROOT, 7, ""))
      .to.be.revertedWithCustomError(f.anchors, "AnchorExists")
      .withArgs(f.orgs.producer, ROOT);
  });

  it("refuses a zero count", async function () {
    const f = await loadFixture(provenanceFixture);
    await expect(f.anchors.connect(f.agents.producer).anchor(EPCIS, ROOT, 0, URI)).to.be.revertedWithCustomError(f.anchors, "AnchorEmpty");
  });

  it("refuses the zero root", async function () {
    const f = await loadFixture(provenanceFixture);
    await expect(f.anchors.connect(f.agents.producer).anchor(EPCIS, ZeroHash, 1, URI)).to.be.revertedWithCustomError(f.anchors, "AnchorEmpty");
  });

  it("is refused to a wallet bound to no organisation", async function () {
    const f = await loadFixture(provenanceFixture);
    await expect(f.anchors.connect(f.outsider).anchor(EPCIS, ROOT, 250, URI))
      .to.be.revertedWithCustomError(f.registry, "IdentityUnauthorizedAgent")
      .withArgs(f.outsider.address, NEEDED.all);
  });

  it("is refused to an agent whose organisation is suspended, and anchors again once it is reinstated", async function () {
    const f = await loadFixture(provenanceFixture);
    await f.registry.suspendOrganisation(f.orgs.producer, "audit");
    await expect(f.anchors.connect(f.agents.producer).anchor(EPCIS, ROOT, 250, URI))
      .to.be.revertedWithCustomError(f.registry, "IdentityUnauthorizedAgent")
      .withArgs(f.agents.producer.address, NEEDED.all);
    await f.registry.reinstateOrganisation(f.orgs.producer);
    await (await f.anchors.connect(f.agents.producer).anchor(EPCIS, ROOT, 250, URI)).wait();
    expect((await stored(f, f.orgs.producer)).count).to.equal(250n);
  });
});
