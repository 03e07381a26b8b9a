import { expect } from "chai";
import { encodeBytes32String, type Interface } from "ethers";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { signForwardRequest } from "../../../services/relayer/forward-request";
import {
  digest,
  GLN,
  Kind,
  lotIdOf,
  NEEDED,
  newLot,
  portionIdOf,
  PREFIX,
  provenanceFixture,
  qty,
  ssccFor,
  unitKeyOf,
  type ProvenanceFixture,
} from "../../helpers/provenance-fixture";

const HOUR = 3600;

/** Has `signer` sign a call of `method(args)` on `contract` for the forwarder, valid for an hour. */
async function relayed(
  f: ProvenanceFixture,
  signer: ProvenanceFixture["outsider"],
  contract: "provenance" | "units" | "anchors",
  method: string,
  args: unknown[],
) {
  const target = f[contract];
  const iface: Interface = target.interface;
  const data = iface.encodeFunctionData(method, args);
  return signForwardRequest(signer, f.forwarder, { to: await target.getAddress(), data, deadline: (await time.latest()) + HOUR });
}

describe("Provenance calls relayed through the forwarder (ERC-2771)", function () {
  /** The producer's agent has offered 6,000 litres to the processor through the relayer. */
  async function relayedOfferFixture() {
    const f = await loadFixture(provenanceFixture);
    const request = await relayed(f, f.agents.producer, "provenance", "offer", [
      f.lotIds.milk,
      qty(6_000),
      f.orgs.processor,
      Kind.Both,
    ]);
    await f.forwarder.connect(f.relayer).execute(request);
    return f;
  }

  it("is trusted by the provenance, logistic-units and anchor registries", async function () {
    const { provenance, units, anchors, forwarder } = await loadFixture(provenanceFixture);
    const address = await forwarder.getAddress();
    expect(await Promise.all([provenance, units, anchors].map((c) => c.isTrustedForwarder(address)))).to.deep.equal([
      true,
      true,
      true,
    ]);
  });

  it("attributes a relayed offer to the signer's organisation", async function () {
    const f = await loadFixture(provenanceFixture);
    const request = await relayed(f, f.agents.producer, "provenance", "offer", [
      f.lotIds.milk,
      qty(6_000),
      f.orgs.processor,
      Kind.Both,
    ]);
    await expect(f.forwarder.connect(f.relayer).execute(request))
      .to.emit(f.provenance, "HandoverOffered")
      .withArgs(f.lotIds.milk, f.orgs.producer, f.orgs.processor, Kind.Both, qty(6_000));
  });

  it("attributes a relayed acceptance to the signing agent, not the relayer", async function () {
    const f = await loadFixture(relayedOfferFixture);
    const request = await relayed(f, f.agents.processor, "provenance", "accept", [
      f.lotIds.milk,
      qty(6_000),
      Kind.Both,
      GLN.processor,
    ]);
    await expect(f.forwarder.connect(f.relayer).execute(request))
      .to.emit(f.provenance, "HandedOver")
      .withArgs(
        portionIdOf(f.lotIds.milk, 0),
        f.orgs.producer,
        f.orgs.processor,
        Kind.Both,
        qty(6_000),
        GLN.processor,
        f.agents.processor.address,
      );
  });

  it("lets the receiver reject a relayed offer through the relayer", async function () {
    const f = await loadFixture(relayedOfferFixture);
    const request = await relayed(f, f.agents.processor, "provenance", "cancelOffer", [f.lotIds.milk, "no capacity"]);
    await expect(f.forwarder.connect(f.relayer).execute(request))
      .to.emit(f.provenance, "HandoverCancelled")
      .withArgs(f.lotIds.milk, f.orgs.processor, "no capacity");
  });

  it("attributes relayed lot registrations to the signer's organisation", async function () {
    const f = await loadFixture(provenanceFixture);
    const lot = newLot("milk", "M-RELAYED", qty(1), GLN.producer);
    const request = await relayed(f, f.agents.producer, "provenance", "registerLots", [[lot]]);
    await expect(f.forwarder.connect(f.relayer).execute(request))
      .to.emit(f.provenance, "LotRegistered")
      .withArgs(lotIdOf(lot.gtin, lot.lot), lot.gtin, f.orgs.producer, lot.lot, lot.quantity, lot.gln, lot.metadataHash);
  });

  it("attributes a relayed pack to the signer's organisation", async function () {
    const f = await loadFixture(provenanceFixture);
    const sscc = ssccFor(PREFIX.producer, 5);
    const request = await relayed(f, f.agents.producer, "units", "pack", [sscc, [f.lotIds.milkB]]);
    await expect(f.forwarder.connect(f.relayer).execute(request))
      .to.emit(f.units, "Packed")
      .withArgs(unitKeyOf(sscc), sscc, f.orgs.producer, [f.lotIds.milkB]);
  });

  it("attributes a relayed anchor to the signer", async function () {
    const f = await loadFixture(provenanceFixture);
    const root = digest("root");
    const request = await relayed(f, f.agents.auditor, "anchors", "anchor", [encodeBytes32String("AUDIT"), root, 3, ""]);
    await expect(f.forwarder.connect(f.relayer).execute(request))
      .to.emit(f.anchors, "Anchored")
      .withArgs(root, encodeBytes32String("AUDIT"), f.orgs.auditor, 3, "", f.agents.auditor.address);
    // Stored under the signer's organisation: a proof naming the auditor finds it, one naming the
    // relayer's (or any other) organisation does not.
    const stored = await f.anchors.anchorOf(f.orgs.auditor, root);
    expect([stored.org, stored.count]).to.deep.equal([f.orgs.auditor, 3n]);
    expect((await f.anchors.anchorOf(f.orgs.producer, root)).blockNumber).to.equal(0n);
  });

  it("does not let the relayer act in its own name", async function () {
    const { provenance, registry, relayer, orgs, lotIds } = await loadFixture(provenanceFixture);
    await expect(provenance.connect(relayer).offer(lotIds.milk, qty(1), orgs.processor, Kind.Both))
      .to.be.revertedWithCustomError(registry, "IdentityUnauthorizedAgent")
      .withArgs(relayer.address, NEEDED.handlers);
  });

  it("fails a relayed offer signed by a wallet that is no agent", async function () {
    const f = await loadFixture(provenanceFixture);
    const request = await relayed(f, f.outsider, "provenance", "offer", [f.lotIds.milk, qty(1), f.orgs.processor, Kind.Both]);
    await expect(f.forwarder.connect(f.relayer).execute(request)).to.be.revertedWithCustomError(f.forwarder, "FailedCall");
  });
});
