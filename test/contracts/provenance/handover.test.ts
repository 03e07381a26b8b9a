import { expect } from "chai";
import { encodeBytes32String } from "ethers";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import {
  GLN,
  Kind,
  LOT,
  milkWithCarrierFixture,
  NEEDED,
  portionIdOf,
  provenanceFixture,
  qty,
  Status,
  offered,
} from "../../helpers/provenance-fixture";

const SPLIT = encodeBytes32String("SPLIT");
const UNKNOWN_ORG = 99n;
const UNKNOWN_BATCH = encodeBytes32String("no such batch");

describe("ProvenanceRegistry hand-over: offer, accept, cancel", function () {
  /** The producer has offered 6,000 of the 20,000 litres, custody and ownership, to the processor. */
  async function partialOfferFixture() {
    const f = await loadFixture(provenanceFixture);
    await f.provenance.connect(f.agents.producer).offer(f.lotIds.milk, qty(6_000), f.orgs.processor, Kind.Both);
    return { ...f, portion: portionIdOf(f.lotIds.milk, 0) };
  }

  /** The producer has offered the whole first milk lot, custody and ownership, to the processor. */
  async function fullOfferFixture() {
    const f = await loadFixture(provenanceFixture);
    await f.provenance.connect(f.agents.producer).offer(f.lotIds.milk, LOT.milk.quantity, f.orgs.processor, Kind.Both);
    return f;
  }

  describe("offer", function () {
    it("announces the offer with sender, receiver, kind and quantity", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(provenanceFixture);
      await expect(provenance.connect(agents.producer).offer(lotIds.milk, qty(6_000), orgs.processor, Kind.Both))
        .to.emit(provenance, "HandoverOffered")
        .withArgs(lotIds.milk, orgs.producer, orgs.processor, Kind.Both, qty(6_000));
    });

    it("puts the batch in transit", async function () {
      const { provenance, lotIds } = await loadFixture(partialOfferFixture);
      expect((await provenance.batch(lotIds.milk)).status).to.equal(Status.InTransit);
    });

    it("stores the pending offer", async function () {
      const { provenance, orgs, lotIds } = await loadFixture(partialOfferFixture);
      const pending = await provenance.pendingOffer(lotIds.milk);
      expect([pending.quantity, pending.to, pending.kind]).to.deep.equal([qty(6_000), orgs.processor, BigInt(Kind.Both)]);
    });

    it("refuses a batch already in transit", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(partialOfferFixture);
      await expect(provenance.connect(agents.producer).offer(lotIds.milk, qty(1_000), orgs.retailer, Kind.Both))
        .to.be.revertedWithCustomError(provenance, "ProvenanceNotActive")
        .withArgs(lotIds.milk, Status.InTransit);
    });

    it("refuses an unknown batch", async function () {
      const { provenance, agents, orgs } = await loadFixture(provenanceFixture);
      await expect(provenance.connect(agents.producer).offer(UNKNOWN_BATCH, qty(1), orgs.processor, Kind.Both))
        .to.be.revertedWithCustomError(provenance, "ProvenanceUnknownBatch")
        .withArgs(UNKNOWN_BATCH);
    });

    it("refuses a batch that has ended", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(provenanceFixture);
      await provenance.connect(agents.producer).end(lotIds.milkB, true, "spilled");
      await expect(provenance.connect(agents.producer).offer(lotIds.milkB, qty(1), orgs.processor, Kind.Both))
        .to.be.revertedWithCustomError(provenance, "ProvenanceNotActive")
        .withArgs(lotIds.milkB, Status.Destroyed);
    });

    it("refuses custody offered by an owner who does not hold the goods", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(milkWithCarrierFixture);
      await expect(provenance.connect(agents.producer).offer(lotIds.milk, qty(1), orgs.processor, Kind.Custody))
        .to.be.revertedWithCustomError(provenance, "ProvenanceNotCustodian")
        .withArgs(lotIds.milk, orgs.producer);
    });

    it("refuses custody and ownership offered by an owner who does not hold the goods", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(milkWithCarrierFixture);
      await expect(provenance.connect(agents.producer).offer(lotIds.milk, qty(1), orgs.processor, Kind.Both))
        .to.be.revertedWithCustomError(provenance, "ProvenanceNotCustodian")
        .withArgs(lotIds.milk, orgs.producer);
    });

    it("refuses ownership offered by a carrier that only holds the goods", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(milkWithCarrierFixture);
      await expect(provenance.connect(agents.carrier).offer(lotIds.milk, qty(1), orgs.processor, Kind.Ownership))
        .to.be.revertedWithCustomError(provenance, "ProvenanceNotOwner")
        .withArgs(lotIds.milk, orgs.carrier);
    });

    it("refuses custody and ownership offered by a carrier that only holds the goods", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(milkWithCarrierFixture);
      await expect(provenance.connect(agents.carrier).offer(lotIds.milk, qty(1), orgs.processor, Kind.Both))
        .to.be.revertedWithCustomError(provenance, "ProvenanceNotOwner")
        .withArgs(lotIds.milk, orgs.carrier);
    });

    it("refuses an organisation that neither owns nor holds the batch", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(provenanceFixture);
      await expect(provenance.connect(agents.retailer).offer(lotIds.milk, qty(1), orgs.processor, Kind.Custody))
        .to.be.revertedWithCustomError(provenance, "ProvenanceNotCustodian")
        .withArgs(lotIds.milk, orgs.retailer);
    });

    it("refuses a zero quantity", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(provenanceFixture);
      await expect(provenance.connect(agents.producer).offer(lotIds.milk, 0n, orgs.processor, Kind.Both))
        .to.be.revertedWithCustomError(provenance, "ProvenanceInsufficientQuantity")
        .withArgs(lotIds.milk, LOT.milk.quantity, 0n);
    });

    it("refuses more than the batch holds", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(provenanceFixture);
      const tooMuch = LOT.milk.quantity + 1n;
      await expect(provenance.connect(agents.producer).offer(lotIds.milk, tooMuch, orgs.processor, Kind.Both))
        .to.be.revertedWithCustomError(provenance, "ProvenanceInsufficientQuantity")
        .withArgs(lotIds.milk, LOT.milk.quantity, tooMuch);
    });

    it("refuses a hand-over to the sender's own organisation", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(provenanceFixture);
      await expect(provenance.connect(agents.producer).offer(lotIds.milk, qty(1), orgs.producer, Kind.Both))
        .to.be.revertedWithCustomError(provenance, "ProvenanceSelfHandover")
        .withArgs(orgs.producer);
    });

    it("refuses an organisation that was never admitted", async function () {
      const { provenance, agents, lotIds } = await loadFixture(provenanceFixture);
      await expect(provenance.connect(agents.producer).offer(lotIds.milk, qty(1), UNKNOWN_ORG, Kind.Both))
        .to.be.revertedWithCustomError(provenance, "ProvenanceUnknownOrganisation")
        .withArgs(UNKNOWN_ORG);
    });

    it("refuses a suspended organisation", async function () {
      const { provenance, registry, agents, orgs, lotIds } = await loadFixture(provenanceFixture);
      await registry.suspendOrganisation(orgs.processor, "audit failed");
      await expect(provenance.connect(agents.producer).offer(lotIds.milk, qty(1), orgs.processor, Kind.Both))
        .to.be.revertedWithCustomError(provenance, "ProvenanceUnknownOrganisation")
        .withArgs(orgs.processor);
    });

    it("is refused to an auditor", async function () {
      const { provenance, registry, agents, orgs, lotIds } = await loadFixture(provenanceFixture);
      await expect(provenance.connect(agents.auditor).offer(lotIds.milk, qty(1), orgs.processor, Kind.Both))
        .to.be.revertedWithCustomError(registry, "IdentityUnauthorizedAgent")
        .withArgs(agents.auditor.address, NEEDED.handlers);
    });

    it("is refused to a wallet bound to no organisation", async function () {
      const { provenance, registry, outsider, orgs, lotIds } = await loadFixture(provenanceFixture);
      await expect(provenance.connect(outsider).offer(lotIds.milk, qty(1), orgs.processor, Kind.Both))
        .to.be.revertedWithCustomError(registry, "IdentityUnauthorizedAgent")
        .withArgs(outsider.address, NEEDED.handlers);
    });
  });

  describe("accept, whole batch", function () {
    it("announces the hand-over with location and accepting agent", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(fullOfferFixture);
      await expect(provenance.connect(agents.processor).accept(...(await offered(provenance, lotIds.milk)), GLN.processor))
        .to.emit(provenance, "HandedOver")
        .withArgs(
          lotIds.milk,
          orgs.producer,
          orgs.processor,
          Kind.Both,
          LOT.milk.quantity,
          GLN.processor,
          agents.processor.address,
        );
    });

    it("gives the receiver ownership and custody", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(fullOfferFixture);
      await provenance.connect(agents.processor).accept(...(await offered(provenance, lotIds.milk)), GLN.processor);
      const b = await provenance.batch(lotIds.milk);
      expect([b.owner, b.custodian, b.quantity]).to.deep.equal([orgs.processor, orgs.processor, LOT.milk.quantity]);
    });

    it("makes the batch active again", async function () {
      const { provenance, agents, lotIds } = await loadFixture(fullOfferFixture);
      await provenance.connect(agents.processor).accept(...(await offered(provenance, lotIds.milk)), GLN.processor);
      expect((await provenance.batch(lotIds.milk)).status).to.equal(Status.Active);
    });

    it("clears the pending offer", async function () {
      const { provenance, agents, lotIds } = await loadFixture(fullOfferFixture);
      await provenance.connect(agents.processor).accept(...(await offered(provenance, lotIds.milk)), GLN.processor);
      expect((await provenance.pendingOffer(lotIds.milk)).to).to.equal(0n);
    });

    it("splits nothing off", async function () {
      const { provenance, agents, lotIds } = await loadFixture(fullOfferFixture);
      await expect(
        provenance.connect(agents.processor).accept(...(await offered(provenance, lotIds.milk)), GLN.processor),
      ).not.to.emit(provenance, "BatchSplit");
    });

    it("returns the batch itself", async function () {
      const { provenance, agents, lotIds } = await loadFixture(fullOfferFixture);
      expect(
        await provenance.connect(agents.processor).accept.staticCall(...(await offered(provenance, lotIds.milk)), GLN.processor),
      ).to.equal(lotIds.milk);
    });

    it("accepts without a location", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(fullOfferFixture);
      await expect(provenance.connect(agents.processor).accept(...(await offered(provenance, lotIds.milk)), ""))
        .to.emit(provenance, "HandedOver")
        .withArgs(lotIds.milk, orgs.producer, orgs.processor, Kind.Both, LOT.milk.quantity, "", agents.processor.address);
    });
  });

  describe("accept, part of a batch", function () {
    it("splits the accepted quantity off as portion keccak256(parent, 0)", async function () {
      const { provenance, agents, lotIds, portion } = await loadFixture(partialOfferFixture);
      await expect(provenance.connect(agents.processor).accept(...(await offered(provenance, lotIds.milk)), GLN.processor))
        .to.emit(provenance, "BatchSplit")
        .withArgs(lotIds.milk, portion, 0, qty(6_000));
    });

    it("records a SPLIT lineage edge from the parent to the portion", async function () {
      const { provenance, agents, lotIds, portion } = await loadFixture(partialOfferFixture);
      await expect(provenance.connect(agents.processor).accept(...(await offered(provenance, lotIds.milk)), GLN.processor))
        .to.emit(provenance, "LineageEdge")
        .withArgs(lotIds.milk, portion, SPLIT, qty(6_000));
    });

    it("stores the edge", async function () {
      const { provenance, agents, lotIds, portion } = await loadFixture(partialOfferFixture);
      await provenance.connect(agents.processor).accept(...(await offered(provenance, lotIds.milk)), GLN.processor);
      expect(await provenance.hasEdge(lotIds.milk, portion)).to.equal(true);
    });

    it("announces the hand-over of the portion, not of the parent", async function () {
      const { provenance, agents, orgs, lotIds, portion } = await loadFixture(partialOfferFixture);
      await expect(provenance.connect(agents.processor).accept(...(await offered(provenance, lotIds.milk)), GLN.processor))
        .to.emit(provenance, "HandedOver")
        .withArgs(portion, orgs.producer, orgs.processor, Kind.Both, qty(6_000), GLN.processor, agents.processor.address);
    });

    it("returns the portion's id", async function () {
      const { provenance, agents, lotIds, portion } = await loadFixture(partialOfferFixture);
      expect(
        await provenance.connect(agents.processor).accept.staticCall(...(await offered(provenance, lotIds.milk)), GLN.processor),
      ).to.equal(portion);
    });

    it("gives the portion to the receiver with the lot's GTIN and producer", async function () {
      const { provenance, agents, orgs, lotIds, portion } = await loadFixture(partialOfferFixture);
      await provenance.connect(agents.processor).accept(...(await offered(provenance, lotIds.milk)), GLN.processor);
      const p = await provenance.batch(portion);
      const lot = await provenance.batch(lotIds.milk);
      expect([p.quantity, p.owner, p.custodian, p.gtin, p.producer, p.splits, p.status]).to.deep.equal([
        qty(6_000),
        orgs.processor,
        orgs.processor,
        lot.gtin,
        orgs.producer,
        0n,
        Status.Active,
      ]);
    });

    it("leaves the rest with the producer, active, counting one split", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(partialOfferFixture);
      await provenance.connect(agents.processor).accept(...(await offered(provenance, lotIds.milk)), GLN.processor);
      const lot = await provenance.batch(lotIds.milk);
      expect([lot.quantity, lot.owner, lot.custodian, lot.splits, lot.status]).to.deep.equal([
        qty(14_000),
        orgs.producer,
        orgs.producer,
        1n,
        Status.Active,
      ]);
    });

    it("numbers the next portion of the same parent 1", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(partialOfferFixture);
      await provenance.connect(agents.processor).accept(...(await offered(provenance, lotIds.milk)), GLN.processor);
      await provenance.connect(agents.producer).offer(lotIds.milk, qty(2_000), orgs.retailer, Kind.Both);
      await expect(provenance.connect(agents.retailer).accept(...(await offered(provenance, lotIds.milk)), GLN.retailer))
        .to.emit(provenance, "BatchSplit")
        .withArgs(lotIds.milk, portionIdOf(lotIds.milk, 1), 1, qty(2_000));
    });
  });

  describe("custody versus ownership", function () {
    it("gives a carrier custody and leaves ownership with the producer", async function () {
      const { provenance, orgs, lotIds } = await loadFixture(milkWithCarrierFixture);
      const b = await provenance.batch(lotIds.milk);
      expect([b.owner, b.custodian]).to.deep.equal([orgs.producer, orgs.carrier]);
    });

    it("gives ownership alone and leaves the goods where they are", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(provenanceFixture);
      await provenance.connect(agents.producer).offer(lotIds.milkB, LOT.milkB.quantity, orgs.processor, Kind.Ownership);
      await provenance.connect(agents.processor).accept(...(await offered(provenance, lotIds.milkB)), "");
      const b = await provenance.batch(lotIds.milkB);
      expect([b.owner, b.custodian]).to.deep.equal([orgs.processor, orgs.producer]);
    });

    it("lets the carrier pass custody on, announced as from the carrier", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(milkWithCarrierFixture);
      await provenance.connect(agents.carrier).offer(lotIds.milk, LOT.milk.quantity, orgs.processor, Kind.Custody);
      await expect(provenance.connect(agents.processor).accept(...(await offered(provenance, lotIds.milk)), GLN.processor))
        .to.emit(provenance, "HandedOver")
        .withArgs(
          lotIds.milk,
          orgs.carrier,
          orgs.processor,
          Kind.Custody,
          LOT.milk.quantity,
          GLN.processor,
          agents.processor.address,
        );
    });

    it("lets the owner sell goods a carrier holds, announced as from the owner", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(milkWithCarrierFixture);
      await provenance.connect(agents.producer).offer(lotIds.milk, LOT.milk.quantity, orgs.processor, Kind.Ownership);
      await expect(provenance.connect(agents.processor).accept(...(await offered(provenance, lotIds.milk)), ""))
        .to.emit(provenance, "HandedOver")
        .withArgs(lotIds.milk, orgs.producer, orgs.processor, Kind.Ownership, LOT.milk.quantity, "", agents.processor.address);
    });

    it("keeps the carrier as custodian when the owner sells goods it holds", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(milkWithCarrierFixture);
      await provenance.connect(agents.producer).offer(lotIds.milk, LOT.milk.quantity, orgs.processor, Kind.Ownership);
      await provenance.connect(agents.processor).accept(...(await offered(provenance, lotIds.milk)), "");
      const b = await provenance.batch(lotIds.milk);
      expect([b.owner, b.custodian]).to.deep.equal([orgs.processor, orgs.carrier]);
    });

    it("gives a carrier custody of part of a lot as a portion still owned by the producer", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(provenanceFixture);
      await provenance.connect(agents.producer).offer(lotIds.milk, qty(6_000), orgs.carrier, Kind.Custody);
      await provenance.connect(agents.carrier).accept(...(await offered(provenance, lotIds.milk)), GLN.carrier);
      const p = await provenance.batch(portionIdOf(lotIds.milk, 0));
      expect([p.quantity, p.owner, p.custodian]).to.deep.equal([qty(6_000), orgs.producer, orgs.carrier]);
    });
  });

  describe("accept refusals", function () {
    it("refuses a batch with no pending offer", async function () {
      const { provenance, agents, lotIds } = await loadFixture(provenanceFixture);
      await expect(provenance.connect(agents.processor).accept(...(await offered(provenance, lotIds.milk)), GLN.processor))
        .to.be.revertedWithCustomError(provenance, "ProvenanceNoOffer")
        .withArgs(lotIds.milk);
    });

    it("refuses an organisation the offer is not for", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(partialOfferFixture);
      await expect(provenance.connect(agents.retailer).accept(...(await offered(provenance, lotIds.milk)), GLN.retailer))
        .to.be.revertedWithCustomError(provenance, "ProvenanceNotReceiver")
        .withArgs(lotIds.milk, orgs.retailer);
    });

    it("refuses the sender accepting its own offer", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(partialOfferFixture);
      await expect(provenance.connect(agents.producer).accept(...(await offered(provenance, lotIds.milk)), GLN.producer))
        .to.be.revertedWithCustomError(provenance, "ProvenanceNotReceiver")
        .withArgs(lotIds.milk, orgs.producer);
    });

    it("refuses a location of another organisation", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(partialOfferFixture);
      await expect(provenance.connect(agents.processor).accept(...(await offered(provenance, lotIds.milk)), GLN.producer))
        .to.be.revertedWithCustomError(provenance, "ProvenanceForeignLocation")
        .withArgs(GLN.producer, orgs.processor);
    });

    it("is refused to a wallet bound to no organisation", async function () {
      const { provenance, registry, outsider, lotIds } = await loadFixture(partialOfferFixture);
      await expect(provenance.connect(outsider).accept(...(await offered(provenance, lotIds.milk)), ""))
        .to.be.revertedWithCustomError(registry, "IdentityUnauthorizedAgent")
        .withArgs(outsider.address, NEEDED.handlers);
    });
  });

  describe("cancelOffer", function () {
    it("lets the sender withdraw its offer", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(partialOfferFixture);
      await expect(provenance.connect(agents.producer).cancelOffer(lotIds.milk, "tanker broke down"))
        .to.emit(provenance, "HandoverCancelled")
        .withArgs(lotIds.milk, orgs.producer, "tanker broke down");
    });

    it("lets the receiver reject the offer", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(partialOfferFixture);
      await expect(provenance.connect(agents.processor).cancelOffer(lotIds.milk, "fat content below contract"))
        .to.emit(provenance, "HandoverCancelled")
        .withArgs(lotIds.milk, orgs.processor, "fat content below contract");
    });

    it("makes the batch active again with its whole quantity", async function () {
      const { provenance, agents, lotIds } = await loadFixture(partialOfferFixture);
      await provenance.connect(agents.processor).cancelOffer(lotIds.milk, "rejected");
      const b = await provenance.batch(lotIds.milk);
      expect([b.status, b.quantity, b.splits]).to.deep.equal([Status.Active, LOT.milk.quantity, 0n]);
    });

    it("leaves nothing to accept", async function () {
      const { provenance, agents, lotIds } = await loadFixture(partialOfferFixture);
      await provenance.connect(agents.processor).cancelOffer(lotIds.milk, "rejected");
      await expect(provenance.connect(agents.processor).accept(...(await offered(provenance, lotIds.milk)), ""))
        .to.be.revertedWithCustomError(provenance, "ProvenanceNoOffer")
        .withArgs(lotIds.milk);
    });

    it("lets a carrier withdraw a custody offer it made", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(milkWithCarrierFixture);
      await provenance.connect(agents.carrier).offer(lotIds.milk, qty(1_000), orgs.processor, Kind.Custody);
      await expect(provenance.connect(agents.carrier).cancelOffer(lotIds.milk, "wrong dock"))
        .to.emit(provenance, "HandoverCancelled")
        .withArgs(lotIds.milk, orgs.carrier, "wrong dock");
    });

    it("refuses an organisation that is neither sender nor receiver", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(partialOfferFixture);
      await expect(provenance.connect(agents.retailer).cancelOffer(lotIds.milk, "not mine"))
        .to.be.revertedWithCustomError(provenance, "ProvenanceNotReceiver")
        .withArgs(lotIds.milk, orgs.retailer);
    });

    it("refuses a batch with no pending offer", async function () {
      const { provenance, agents, lotIds } = await loadFixture(provenanceFixture);
      await expect(provenance.connect(agents.producer).cancelOffer(lotIds.milk, "nothing"))
        .to.be.revertedWithCustomError(provenance, "ProvenanceNoOffer")
        .withArgs(lotIds.milk);
    });

    it("is refused to a wallet bound to no organisation", async function () {
      const { provenance, registry, outsider, lotIds } = await loadFixture(partialOfferFixture);
      await expect(provenance.connect(outsider).cancelOffer(lotIds.milk, "x"))
        .to.be.revertedWithCustomError(registry, "IdentityUnauthorizedAgent")
        .withArgs(outsider.address, NEEDED.handlers);
    });
  });
});
