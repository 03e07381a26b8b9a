import { expect } from "chai";
import { encodeBytes32String, ZeroHash } from "ethers";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { digest, NEEDED, provenanceFixture } from "../../helpers/provenance-fixture";

const EPCIS = encodeBytes32String("EPCIS");
const ROOT = digest("merkle root of 250 EPCIS events, 2024-04-13");
const URI = "https://epcis.hof-sonnenfeld.example/batches/2024-04-13";

describe("AnchorRegistry", function () {
  it("anchors a root by an agent, naming its organisation and the sender", async function () {
    const { anchors, agents, orgs } = await loadFixture(provenanceFixture);
    await expect(anchors.connect(agents.producer).anchor(EPCIS, ROOT, 250, URI))
      .to.emit(anchors, "Anchored")
      .withArgs(ROOT, EPCIS, orgs.producer, 250, URI, agents.producer.address);
  });

  it("stores the anchor's kind, organisation, block and count", async function () {
    const { anchors, agents, orgs } = await loadFixture(provenanceFixture);
    const receipt = await (await anchors.connect(agents.producer).anchor(EPCIS, ROOT, 250, URI)).wait();
    const stored = await anchors.anchorOf(ROOT);
    expect([stored.kind, stored.org, stored.blockNumber, stored.count]).to.deep.equal([
      EPCIS,
      orgs.producer,
      BigInt(receipt!.blockNumber),
      250n,
    ]);
  });

  it("lets an org admin anchor, as any role of an active agent may", async function () {
    const { anchors, admins, orgs } = await loadFixture(provenanceFixture);
    await expect(anchors.connect(admins.retailer).anchor(EPCIS, ROOT, 1, ""))
      .to.emit(anchors, "Anchored")
      .withArgs(ROOT, EPCIS, orgs.retailer, 1, "", admins.retailer.address);
  });

  it("reports block 0 for a root never anchored", async function () {
    const { anchors } = await loadFixture(provenanceFixture);
    expect((await anchors.anchorOf(ROOT)).blockNumber).to.equal(0n);
  });

  it("refuses a root anchored before, even by another organisation", async function () {
    const { anchors, agents } = await loadFixture(provenanceFixture);
    await anchors.connect(agents.producer).anchor(EPCIS, ROOT, 250, URI);
    await expect(anchors.connect(agents.auditor).anchor(EPCIS, ROOT, 250, URI))
      .to.be.revertedWithCustomError(anchors, "AnchorExists")
      .withArgs(ROOT);
  });

  it("refuses a zero count", async function () {
    const { anchors, agents } = await loadFixture(provenanceFixture);
    await expect(anchors.connect(agents.producer).anchor(EPCIS, ROOT, 0, URI)).to.be.revertedWithCustomError(
      anchors,
      "AnchorEmpty",
    );
  });

  it("refuses the zero root", async function () {
    const { anchors, agents } = await loadFixture(provenanceFixture);
    await expect(anchors.connect(agents.producer).anchor(EPCIS, ZeroHash, 1, URI)).to.be.revertedWithCustomError(
      anchors,
      "AnchorEmpty",
    );
  });

  it("is refused to a wallet bound to no organisation", async function () {
    const { anchors, registry, outsider } = await loadFixture(provenanceFixture);
    await expect(anchors.connect(outsider).anchor(EPCIS, ROOT, 250, URI))
      .to.be.revertedWithCustomError(registry, "IdentityUnauthorizedAgent")
      .withArgs(outsider.address, NEEDED.all);
  });

  it("is refused to an agent whose organisation is suspended", async function () {
    const { anchors, registry, agents, orgs } = await loadFixture(provenanceFixture);
    await registry.suspendOrganisation(orgs.producer, "audit");
    await expect(anchors.connect(agents.producer).anchor(EPCIS, ROOT, 250, URI))
      .to.be.revertedWithCustomError(registry, "IdentityUnauthorizedAgent")
      .withArgs(agents.producer.address, NEEDED.all);
  });
});
