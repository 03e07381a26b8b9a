import { expect } from "chai";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import {
  GLN,
  Kind,
  LOT,
  NEEDED,
  portionIdOf,
  provenanceFixture,
  qty,
  signAcceptance,
  Status,
} from "../../helpers/provenance-fixture";

const HOUR = 3600;

describe("ProvenanceRegistry hand-over with a signed acceptance (EIP-712)", function () {
  /** The processor's agent has signed its acceptance of 6,000 litres of the first milk lot at its plant. */
  async function signedFixture() {
    const f = await loadFixture(provenanceFixture);
    const deadline = (await time.latest()) + HOUR;
    const terms = {
      batchId: f.lotIds.milk,
      quantity: qty(6_000),
      from: f.orgs.producer,
      to: f.orgs.processor,
      kind: Kind.Both,
      gln: GLN.processor,
      deadline,
    };
    const { acceptance, signature } = await signAcceptance(f.agents.processor, f.provenance, terms);
    return { ...f, terms, acceptance, signature, deadline, portion: portionIdOf(f.lotIds.milk, 0) };
  }

  it("uses the LotlineProvenance version 1 domain", async function () {
    const { provenance } = await loadFixture(provenanceFixture);
    const domain = await provenance.eip712Domain();
    expect([domain.name, domain.version]).to.deep.equal(["LotlineProvenance", "1"]);
  });

  it("hands over in one call, announcing the signer as the accepting agent", async function () {
    const { provenance, agents, orgs, acceptance, signature, portion } = await loadFixture(signedFixture);
    await expect(provenance.connect(agents.producer).handOverWithAcceptance(acceptance, signature))
      .to.emit(provenance, "HandedOver")
      .withArgs(portion, orgs.producer, orgs.processor, Kind.Both, qty(6_000), GLN.processor, agents.processor.address);
  });

  it("announces the offer it completes", async function () {
    const { provenance, agents, orgs, lotIds, acceptance, signature } = await loadFixture(signedFixture);
    await expect(provenance.connect(agents.producer).handOverWithAcceptance(acceptance, signature))
      .to.emit(provenance, "HandoverOffered")
      .withArgs(lotIds.milk, orgs.producer, orgs.processor, Kind.Both, qty(6_000));
  });

  it("returns the portion that changed hands", async function () {
    const { provenance, agents, acceptance, signature, portion } = await loadFixture(signedFixture);
    expect(await provenance.connect(agents.producer).handOverWithAcceptance.staticCall(acceptance, signature)).to.equal(portion);
  });

  it("gives the receiver the portion and leaves the rest with the producer, with no offer pending", async function () {
    const { provenance, agents, orgs, lotIds, acceptance, signature, portion } = await loadFixture(signedFixture);
    await provenance.connect(agents.producer).handOverWithAcceptance(acceptance, signature);
    const [p, lot, pending] = await Promise.all([
      provenance.batch(portion),
      provenance.batch(lotIds.milk),
      provenance.pendingOffer(lotIds.milk),
    ]);
    expect([p.owner, p.custodian, p.quantity, lot.quantity, lot.status, pending.to]).to.deep.equal([
      orgs.processor,
      orgs.processor,
      qty(6_000),
      qty(14_000),
      Status.Active,
      0n,
    ]);
  });

  it("hands over a whole batch without splitting it", async function () {
    const { provenance, agents, orgs, lotIds, terms } = await loadFixture(signedFixture);
    const { acceptance, signature } = await signAcceptance(agents.processor, provenance, {
      ...terms,
      quantity: LOT.milk.quantity,
    });
    await provenance.connect(agents.producer).handOverWithAcceptance(acceptance, signature);
    const b = await provenance.batch(lotIds.milk);
    expect([b.owner, b.custodian, b.quantity]).to.deep.equal([orgs.processor, orgs.processor, LOT.milk.quantity]);
  });

  it("spends the signer's nonce: its bit in the signer's bitmap", async function () {
    const { provenance, agents, acceptance, signature } = await loadFixture(signedFixture);
    await provenance.connect(agents.producer).handOverWithAcceptance(acceptance, signature);
    const word = await provenance.nonceBitmap(agents.processor.address, acceptance.nonce >> 8n);
    expect((word >> (acceptance.nonce & 0xffn)) & 1n).to.equal(1n);
  });

  it("still accepts a signature in the second of its deadline", async function () {
    const { provenance, agents, acceptance, signature, deadline } = await loadFixture(signedFixture);
    await time.setNextBlockTimestamp(deadline);
    await expect(provenance.connect(agents.producer).handOverWithAcceptance(acceptance, signature)).to.emit(
      provenance,
      "HandedOver",
    );
  });

  it("refuses a signature past its deadline", async function () {
    const { provenance, agents, acceptance, signature, deadline } = await loadFixture(signedFixture);
    await time.increaseTo(deadline + 1);
    await expect(provenance.connect(agents.producer).handOverWithAcceptance(acceptance, signature))
      .to.be.revertedWithCustomError(provenance, "ProvenanceExpiredSignature")
      .withArgs(deadline);
  });

  it("refuses a replay of a used acceptance", async function () {
    const { provenance, agents, orgs, acceptance, signature } = await loadFixture(signedFixture);
    await provenance.connect(agents.producer).handOverWithAcceptance(acceptance, signature);
    await expect(provenance.connect(agents.producer).handOverWithAcceptance(acceptance, signature))
      .to.be.revertedWithCustomError(provenance, "ProvenanceNonceUsed")
      .withArgs(agents.processor.address, acceptance.nonce);
    expect((await provenance.batch(portionIdOf(acceptance.batchId, 1))).status).to.equal(Status.None);
    void orgs;
  });

  it("refuses an acceptance signed over a nonce already used", async function () {
    const { provenance, agents, orgs, acceptance, signature, terms } = await loadFixture(signedFixture);
    await provenance.connect(agents.producer).handOverWithAcceptance(acceptance, signature);
    const stale = await signAcceptance(agents.processor, provenance, { ...terms, quantity: qty(1_000) }, acceptance.nonce);
    await expect(provenance.connect(agents.producer).handOverWithAcceptance(stale.acceptance, stale.signature))
      .to.be.revertedWithCustomError(provenance, "ProvenanceNonceUsed")
      .withArgs(agents.processor.address, acceptance.nonce);
    void orgs;
  });

  it("refuses terms that differ from those signed", async function () {
    const { provenance, agents, orgs, acceptance, signature } = await loadFixture(signedFixture);
    await expect(provenance.connect(agents.producer).handOverWithAcceptance({ ...acceptance, quantity: qty(6_001) }, signature))
      .to.be.revertedWithCustomError(provenance, "ProvenanceInvalidSignature")
      .withArgs(agents.processor.address, orgs.processor);
  });

  it("refuses a signature by someone other than the named signer", async function () {
    const { provenance, agents, orgs, terms } = await loadFixture(signedFixture);
    const signed = await signAcceptance(agents.retailer, provenance, terms);
    const signature = signed.signature;
    const claimed = { ...signed.acceptance, signer: agents.processor.address };
    await expect(provenance.connect(agents.producer).handOverWithAcceptance(claimed, signature))
      .to.be.revertedWithCustomError(provenance, "ProvenanceInvalidSignature")
      .withArgs(agents.processor.address, orgs.processor);
  });

  it("refuses an acceptance signed by an agent of another organisation than the receiver", async function () {
    const { provenance, agents, orgs, terms } = await loadFixture(signedFixture);
    const { acceptance, signature } = await signAcceptance(agents.retailer, provenance, terms);
    await expect(provenance.connect(agents.producer).handOverWithAcceptance(acceptance, signature))
      .to.be.revertedWithCustomError(provenance, "ProvenanceInvalidSignature")
      .withArgs(agents.retailer.address, orgs.processor);
  });

  it("refuses an acceptance signed by a wallet that is no agent", async function () {
    const { provenance, agents, orgs, outsider, terms } = await loadFixture(signedFixture);
    const { acceptance, signature } = await signAcceptance(outsider, provenance, terms);
    await expect(provenance.connect(agents.producer).handOverWithAcceptance(acceptance, signature))
      .to.be.revertedWithCustomError(provenance, "ProvenanceInvalidSignature")
      .withArgs(outsider.address, orgs.processor);
  });

  it("refuses an acceptance signed by the receiver's org admin, who holds no handling role", async function () {
    const { provenance, agents, admins, orgs, terms } = await loadFixture(signedFixture);
    const { acceptance, signature } = await signAcceptance(admins.processor, provenance, terms);
    await expect(provenance.connect(agents.producer).handOverWithAcceptance(acceptance, signature))
      .to.be.revertedWithCustomError(provenance, "ProvenanceInvalidSignature")
      .withArgs(admins.processor.address, orgs.processor);
  });

  it("refuses an acceptance at a location of another organisation", async function () {
    const { provenance, agents, orgs, terms } = await loadFixture(signedFixture);
    const { acceptance, signature } = await signAcceptance(agents.processor, provenance, { ...terms, gln: GLN.retailer });
    await expect(provenance.connect(agents.producer).handOverWithAcceptance(acceptance, signature))
      .to.be.revertedWithCustomError(provenance, "ProvenanceForeignLocation")
      .withArgs(GLN.retailer, orgs.processor);
  });

  it("refuses a sender that does not hold the batch", async function () {
    const { provenance, agents, orgs, lotIds, terms } = await loadFixture(signedFixture);
    const { acceptance, signature } = await signAcceptance(agents.processor, provenance, { ...terms, from: orgs.carrier });
    await expect(provenance.connect(agents.carrier).handOverWithAcceptance(acceptance, signature))
      .to.be.revertedWithCustomError(provenance, "ProvenanceNotOwner")
      .withArgs(lotIds.milk, orgs.carrier);
  });

  it("refuses an acceptance submitted by an organisation other than the sender it names", async function () {
    const { provenance, agents, orgs, lotIds, acceptance, signature } = await loadFixture(signedFixture);
    // The carrier holds nothing here, but a rival holding goods of the same batch id must not
    // use an acceptance the receiver gave another sender either.
    await expect(provenance.connect(agents.carrier).handOverWithAcceptance(acceptance, signature))
      .to.be.revertedWithCustomError(provenance, "ProvenanceWrongSender")
      .withArgs(orgs.producer, orgs.carrier);
    expect((await provenance.batch(lotIds.milk)).quantity).to.equal(LOT.milk.quantity);
  });

  it("lets two acceptances signed concurrently both be used, in either order", async function () {
    const { provenance, agents, orgs, lotIds, terms, acceptance, signature } = await loadFixture(signedFixture);
    const other = await signAcceptance(agents.processor, provenance, { ...terms, batchId: lotIds.milkB, quantity: qty(1_000) });
    await provenance.connect(agents.producer).handOverWithAcceptance(other.acceptance, other.signature);
    await provenance.connect(agents.producer).handOverWithAcceptance(acceptance, signature);
    const [a, b] = await Promise.all([
      provenance.batch(portionIdOf(lotIds.milk, 0)),
      provenance.batch(portionIdOf(lotIds.milkB, 0)),
    ]);
    expect([a.owner, a.quantity, b.owner, b.quantity]).to.deep.equal([orgs.processor, qty(6_000), orgs.processor, qty(1_000)]);
  });

  it("refuses an acceptance its signer revoked before it was used", async function () {
    const { provenance, agents, lotIds, acceptance, signature } = await loadFixture(signedFixture);
    const word = acceptance.nonce >> 8n;
    const mask = 1n << (acceptance.nonce & 0xffn);
    await expect(provenance.connect(agents.processor).invalidateAcceptanceNonces(word, mask))
      .to.emit(provenance, "AcceptanceNoncesInvalidated")
      .withArgs(agents.processor.address, word, mask);
    await expect(provenance.connect(agents.producer).handOverWithAcceptance(acceptance, signature))
      .to.be.revertedWithCustomError(provenance, "ProvenanceNonceUsed")
      .withArgs(agents.processor.address, acceptance.nonce);
    expect((await provenance.batch(lotIds.milk)).quantity).to.equal(LOT.milk.quantity);
  });

  it("lets nobody but the signer revoke its acceptances", async function () {
    const { provenance, agents, lotIds, acceptance, signature } = await loadFixture(signedFixture);
    // The producer marks the same word and bit in its own bitmap: the processor's stays clear.
    await provenance
      .connect(agents.producer)
      .invalidateAcceptanceNonces(acceptance.nonce >> 8n, 1n << (acceptance.nonce & 0xffn));
    await provenance.connect(agents.producer).handOverWithAcceptance(acceptance, signature);
    expect((await provenance.batch(portionIdOf(lotIds.milk, 0))).quantity).to.equal(qty(6_000));
  });

  it("refuses a batch already in transit", async function () {
    const { provenance, agents, orgs, lotIds, acceptance, signature } = await loadFixture(signedFixture);
    await provenance.connect(agents.producer).offer(lotIds.milk, qty(1_000), orgs.retailer, Kind.Both);
    await expect(provenance.connect(agents.producer).handOverWithAcceptance(acceptance, signature))
      .to.be.revertedWithCustomError(provenance, "ProvenanceNotActive")
      .withArgs(lotIds.milk, Status.InTransit);
  });

  it("is refused to a sender that is no agent", async function () {
    const { provenance, registry, outsider, acceptance, signature } = await loadFixture(signedFixture);
    await expect(provenance.connect(outsider).handOverWithAcceptance(acceptance, signature))
      .to.be.revertedWithCustomError(registry, "IdentityUnauthorizedAgent")
      .withArgs(outsider.address, NEEDED.handlers);
  });
});
