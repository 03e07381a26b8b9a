import { expect } from "chai";
import { ZeroHash } from "ethers";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { UNDER_COVERAGE } from "../../helpers/coverage";
import {
  GLN,
  Kind,
  LOT,
  lotIdOf,
  NEEDED,
  newLot,
  PREFIX,
  PRODUCT,
  provenanceFixture,
  qty,
  signAcceptance,
  ssccFor,
  Status,
  unitKeyOf,
  offered,
} from "../../helpers/provenance-fixture";

const MAX_UNIT_CONTENTS = 64;
const UNKNOWN_ORG = 99n;
/** The producer's first SSCC: a tank container. */
const TANK = ssccFor(PREFIX.producer, 1);
const TANK_KEY = unitKeyOf(TANK);

/** `count` milk lots of 100 litres at the farm, numbered from M240601-001. */
function smallMilkLots(count: number, series = "M240601") {
  return Array.from({ length: count }, (_, i) =>
    newLot("milk", `${series}-${String(i + 1).padStart(3, "0")}`, qty(100), GLN.producer),
  );
}

describe("LogisticUnits: packing, unit hand-over, unpacking", function () {
  /** The producer packed both milk lots into its tank container. */
  async function packedFixture() {
    const f = await loadFixture(provenanceFixture);
    await f.units.connect(f.agents.producer).pack(TANK, [f.lotIds.milk, f.lotIds.milkB]);
    return { ...f, packed: [f.lotIds.milk, f.lotIds.milkB] };
  }

  /** The packed tank has been offered to the carrier. */
  async function offeredFixture() {
    const f = await loadFixture(packedFixture);
    await f.units.connect(f.agents.producer).offerUnit(TANK, f.orgs.carrier);
    return f;
  }

  /** The carrier accepted the tank at its depot. */
  async function carriedFixture() {
    const f = await loadFixture(offeredFixture);
    await f.units.connect(f.agents.carrier).acceptUnit(TANK, await f.units.contentsHash(TANK), GLN.carrier);
    return f;
  }

  describe("pack", function () {
    it("announces the unit, its SSCC, custodian and contents", async function () {
      const { units, agents, orgs, lotIds } = await loadFixture(provenanceFixture);
      await expect(units.connect(agents.producer).pack(TANK, [lotIds.milk, lotIds.milkB]))
        .to.emit(units, "Packed")
        .withArgs(TANK_KEY, TANK, orgs.producer, [lotIds.milk, lotIds.milkB]);
    });

    it("lists the contents under the packer's custody", async function () {
      const { units, orgs, packed } = await loadFixture(packedFixture);
      const [custodian, batchIds] = await units.contents(TANK);
      expect([custodian, batchIds]).to.deep.equal([orgs.producer, packed]);
    });

    it("records each batch's unit", async function () {
      const { provenance, packed } = await loadFixture(packedFixture);
      expect(await Promise.all(packed.map((id) => provenance.unitOf(id)))).to.deep.equal([TANK_KEY, TANK_KEY]);
    });

    it("records the unit's custodian in the provenance registry", async function () {
      const { provenance, orgs } = await loadFixture(packedFixture);
      expect(await provenance.unitCustodian(TANK_KEY)).to.equal(orgs.producer);
    });

    it("adds batches to a unit already packed", async function () {
      const { provenance, units, agents, packed } = await loadFixture(packedFixture);
      const [extra] = smallMilkLots(1);
      await provenance.connect(agents.producer).registerLots([extra]);
      await units.connect(agents.producer).pack(TANK, [lotIdOf(extra.gtin, extra.lot)]);
      expect((await units.contents(TANK))[1]).to.deep.equal([...packed, lotIdOf(extra.gtin, extra.lot)]);
    });

    it("lets a carrier pack batches it holds into an SSCC of its own prefix", async function () {
      const { provenance, units, agents, orgs, lotIds } = await loadFixture(provenanceFixture);
      await provenance.connect(agents.producer).offer(lotIds.milkB, LOT.milkB.quantity, orgs.carrier, Kind.Custody);
      await provenance.connect(agents.carrier).accept(...(await offered(provenance, lotIds.milkB)), GLN.carrier);
      const trailer = ssccFor(PREFIX.carrier, 77);
      await expect(units.connect(agents.carrier).pack(trailer, [lotIds.milkB]))
        .to.emit(units, "Packed")
        .withArgs(unitKeyOf(trailer), trailer, orgs.carrier, [lotIds.milkB]);
    });

    it(`packs ${MAX_UNIT_CONTENTS} batches into one unit`, async function () {
      const { provenance, units, agents } = await loadFixture(provenanceFixture);
      const lots = smallMilkLots(MAX_UNIT_CONTENTS);
      await provenance.connect(agents.producer).registerLots(lots);
      await units.connect(agents.producer).pack(
        TANK,
        lots.map((l) => lotIdOf(l.gtin, l.lot)),
      );
      expect((await units.contents(TANK))[1].length).to.equal(MAX_UNIT_CONTENTS);
    });

    it(`refuses a batch beyond ${MAX_UNIT_CONTENTS} in a unit`, async function () {
      const { provenance, units, agents, lotIds } = await loadFixture(provenanceFixture);
      const lots = smallMilkLots(MAX_UNIT_CONTENTS);
      await provenance.connect(agents.producer).registerLots(lots);
      await units.connect(agents.producer).pack(
        TANK,
        lots.map((l) => lotIdOf(l.gtin, l.lot)),
      );
      await expect(units.connect(agents.producer).pack(TANK, [lotIds.milk]))
        .to.be.revertedWithCustomError(units, "UnitsFull")
        .withArgs(TANK_KEY, MAX_UNIT_CONTENTS);
    });

    for (const [label, sscc] of [
      ["seventeen digits", TANK.slice(1)],
      ["nineteen digits", `0${TANK}`],
      ["a letter", `${TANK.slice(0, 5)}A${TANK.slice(6)}`],
      ["a wrong check digit", TANK.slice(0, -1) + String((Number(TANK.at(-1)) + 1) % 10)],
    ] as const) {
      it(`refuses an SSCC with ${label}`, async function () {
        const { units, agents, lotIds } = await loadFixture(provenanceFixture);
        await expect(units.connect(agents.producer).pack(sscc, [lotIds.milk]))
          .to.be.revertedWithCustomError(units, "UnitsInvalidSscc")
          .withArgs(sscc);
      });
    }

    it("refuses an SSCC under another organisation's company prefix", async function () {
      const { units, agents, lotIds } = await loadFixture(provenanceFixture);
      const foreign = ssccFor(PREFIX.carrier, 1);
      await expect(units.connect(agents.producer).pack(foreign, [lotIds.milk]))
        .to.be.revertedWithCustomError(units, "UnitsInvalidSscc")
        .withArgs(foreign);
    });

    it("refuses a batch the packer does not hold", async function () {
      const { provenance, units, agents, orgs, lotIds } = await loadFixture(provenanceFixture);
      await expect(units.connect(agents.processor).pack(ssccFor(PREFIX.processor, 1), [lotIds.milk]))
        .to.be.revertedWithCustomError(provenance, "ProvenanceNotCustodian")
        .withArgs(lotIds.milk, orgs.processor);
    });

    it("refuses packing into a unit another organisation holds", async function () {
      const { provenance, units, agents, orgs } = await loadFixture(carriedFixture);
      const [extra] = smallMilkLots(1);
      await provenance.connect(agents.producer).registerLots([extra]);
      await expect(units.connect(agents.producer).pack(TANK, [lotIdOf(extra.gtin, extra.lot)]))
        .to.be.revertedWithCustomError(units, "UnitsNotCustodian")
        .withArgs(TANK_KEY, orgs.producer);
    });

    it("refuses packing into a unit in transit", async function () {
      const { provenance, units, agents } = await loadFixture(offeredFixture);
      const [extra] = smallMilkLots(1);
      await provenance.connect(agents.producer).registerLots([extra]);
      await expect(units.connect(agents.producer).pack(TANK, [lotIdOf(extra.gtin, extra.lot)]))
        .to.be.revertedWithCustomError(units, "UnitsInTransit")
        .withArgs(TANK_KEY);
    });

    it("refuses a batch already packed in another unit", async function () {
      const { provenance, units, agents, lotIds } = await loadFixture(packedFixture);
      await expect(units.connect(agents.producer).pack(ssccFor(PREFIX.producer, 2), [lotIds.milk]))
        .to.be.revertedWithCustomError(provenance, "ProvenanceInUnit")
        .withArgs(lotIds.milk, TANK_KEY);
    });

    it("refuses the same batch twice in one call", async function () {
      const { provenance, units, agents, lotIds } = await loadFixture(provenanceFixture);
      await expect(units.connect(agents.producer).pack(TANK, [lotIds.milk, lotIds.milk]))
        .to.be.revertedWithCustomError(provenance, "ProvenanceInUnit")
        .withArgs(lotIds.milk, TANK_KEY);
    });

    it("refuses a batch in transit", async function () {
      const { provenance, units, agents, orgs, lotIds } = await loadFixture(provenanceFixture);
      await provenance.connect(agents.producer).offer(lotIds.milk, qty(1), orgs.processor, Kind.Both);
      await expect(units.connect(agents.producer).pack(TANK, [lotIds.milk]))
        .to.be.revertedWithCustomError(provenance, "ProvenanceNotActive")
        .withArgs(lotIds.milk, Status.InTransit);
    });

    it("is refused to an auditor", async function () {
      const { registry, units, agents, lotIds } = await loadFixture(provenanceFixture);
      await expect(units.connect(agents.auditor).pack(ssccFor(PREFIX.auditor, 1), [lotIds.milk]))
        .to.be.revertedWithCustomError(registry, "IdentityUnauthorizedAgent")
        .withArgs(agents.auditor.address, NEEDED.handlers);
    });
  });

  describe("a packed batch", function () {
    it("cannot be offered on its own", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(packedFixture);
      await expect(provenance.connect(agents.producer).offer(lotIds.milk, qty(1), orgs.processor, Kind.Both))
        .to.be.revertedWithCustomError(provenance, "ProvenanceInUnit")
        .withArgs(lotIds.milk, TANK_KEY);
    });

    it("cannot be handed over with a signed acceptance", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(packedFixture);
      const terms = {
        batchId: lotIds.milk,
        quantity: qty(1),
        from: orgs.producer,
        to: orgs.processor,
        kind: Kind.Ownership,
        gln: "",
        deadline: (await time.latest()) + 3600,
      };
      const { acceptance, signature } = await signAcceptance(agents.processor, provenance, terms);
      await expect(provenance.connect(agents.producer).handOverWithAcceptance(acceptance, signature))
        .to.be.revertedWithCustomError(provenance, "ProvenanceInUnit")
        .withArgs(lotIds.milk, TANK_KEY);
    });

    it("cannot be split", async function () {
      const { provenance, agents, lotIds } = await loadFixture(packedFixture);
      await expect(provenance.connect(agents.producer).split(lotIds.milk, [qty(1)]))
        .to.be.revertedWithCustomError(provenance, "ProvenanceInUnit")
        .withArgs(lotIds.milk, TANK_KEY);
    });
  });

  describe("offerUnit", function () {
    it("announces the offer of the unit", async function () {
      const { units, agents, orgs } = await loadFixture(packedFixture);
      await expect(units.connect(agents.producer).offerUnit(TANK, orgs.carrier))
        .to.emit(units, "UnitOffered")
        .withArgs(TANK_KEY, orgs.producer, orgs.carrier);
    });

    it("stores the pending offer", async function () {
      const { units, orgs } = await loadFixture(offeredFixture);
      expect(await units.pendingOffer(TANK)).to.equal(orgs.carrier);
    });

    it("refuses an organisation that does not hold the unit", async function () {
      const { units, agents, orgs } = await loadFixture(packedFixture);
      await expect(units.connect(agents.carrier).offerUnit(TANK, orgs.processor))
        .to.be.revertedWithCustomError(units, "UnitsNotCustodian")
        .withArgs(TANK_KEY, orgs.carrier);
    });

    it("refuses an offer to the holder itself", async function () {
      const { units, agents, orgs } = await loadFixture(packedFixture);
      await expect(units.connect(agents.producer).offerUnit(TANK, orgs.producer))
        .to.be.revertedWithCustomError(units, "UnitsSelfHandover")
        .withArgs(orgs.producer);
    });

    it("refuses an organisation that was never admitted", async function () {
      const { units, agents } = await loadFixture(packedFixture);
      await expect(units.connect(agents.producer).offerUnit(TANK, UNKNOWN_ORG))
        .to.be.revertedWithCustomError(units, "UnitsUnknownOrganisation")
        .withArgs(UNKNOWN_ORG);
    });

    it("refuses a suspended organisation", async function () {
      const { units, registry, agents, orgs } = await loadFixture(packedFixture);
      await registry.suspendOrganisation(orgs.carrier, "licence expired");
      await expect(units.connect(agents.producer).offerUnit(TANK, orgs.carrier))
        .to.be.revertedWithCustomError(units, "UnitsUnknownOrganisation")
        .withArgs(orgs.carrier);
    });
  });

  describe("acceptUnit", function () {
    it("announces the hand-over with location and accepting agent", async function () {
      const { units, agents, orgs } = await loadFixture(offeredFixture);
      await expect(units.connect(agents.carrier).acceptUnit(TANK, await units.contentsHash(TANK), GLN.carrier))
        .to.emit(units, "UnitHandedOver")
        .withArgs(TANK_KEY, orgs.producer, orgs.carrier, GLN.carrier, agents.carrier.address);
    });

    it("gives the receiver custody of every batch in the unit", async function () {
      const { provenance, orgs, packed } = await loadFixture(carriedFixture);
      const custodians = await Promise.all(packed.map(async (id) => (await provenance.batch(id)).custodian));
      expect(custodians).to.deep.equal([orgs.carrier, orgs.carrier]);
    });

    it("leaves ownership of the batches with the producer", async function () {
      const { provenance, orgs, packed } = await loadFixture(carriedFixture);
      const owners = await Promise.all(packed.map(async (id) => (await provenance.batch(id)).owner));
      expect(owners).to.deep.equal([orgs.producer, orgs.producer]);
    });

    it("announces no per-batch hand-over", async function () {
      const { provenance, units, agents } = await loadFixture(offeredFixture);
      await expect(units.connect(agents.carrier).acceptUnit(TANK, await units.contentsHash(TANK), GLN.carrier)).not.to.emit(
        provenance,
        "HandedOver",
      );
    });

    it("costs the same for a unit of one batch as for a unit of twenty", async function () {
      if (UNDER_COVERAGE) this.skip(); // instrumentation adds gas per statement run: a measurement of it says nothing
      const { provenance, units, agents, orgs } = await loadFixture(provenanceFixture);
      const lots = smallMilkLots(21);
      await provenance.connect(agents.producer).registerLots(lots);
      const ids = lots.map((l) => lotIdOf(l.gtin, l.lot));
      const [small, large] = [ssccFor(PREFIX.producer, 10), ssccFor(PREFIX.producer, 11)];
      await units.connect(agents.producer).pack(small, ids.slice(0, 1));
      await units.connect(agents.producer).pack(large, ids.slice(1));
      await units.connect(agents.producer).offerUnit(small, orgs.carrier);
      await units.connect(agents.producer).offerUnit(large, orgs.carrier);
      const gasOf = async (sscc: string) =>
        (await (await units.connect(agents.carrier).acceptUnit(sscc, await units.contentsHash(sscc), GLN.carrier)).wait())!
          .gasUsed;
      expect(await gasOf(large)).to.equal(await gasOf(small));
    });

    it("clears the pending offer and reports the new custodian", async function () {
      const { units, orgs } = await loadFixture(carriedFixture);
      expect([await units.pendingOffer(TANK), (await units.contents(TANK))[0]]).to.deep.equal([0n, orgs.carrier]);
    });

    it("lets the new custodian record observations of the packed batches", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(carriedFixture);
      await expect(provenance.connect(agents.carrier).observe(lotIds.milk, ZeroHash, ZeroHash, GLN.carrier, ZeroHash))
        .to.emit(provenance, "Observed")
        .withArgs(lotIds.milk, ZeroHash, ZeroHash, GLN.carrier, ZeroHash, orgs.carrier);
    });

    it("lets the carrier pass the unit on", async function () {
      const { provenance, units, agents, orgs, lotIds } = await loadFixture(carriedFixture);
      await units.connect(agents.carrier).offerUnit(TANK, orgs.processor);
      await units.connect(agents.processor).acceptUnit(TANK, await units.contentsHash(TANK), GLN.processor);
      expect((await provenance.batch(lotIds.milk)).custodian).to.equal(orgs.processor);
    });

    it("refuses a unit with no pending offer", async function () {
      const { units, agents } = await loadFixture(packedFixture);
      await expect(units.connect(agents.carrier).acceptUnit(TANK, await units.contentsHash(TANK), GLN.carrier))
        .to.be.revertedWithCustomError(units, "UnitsNoOffer")
        .withArgs(TANK_KEY);
    });

    it("refuses an organisation the offer is not for", async function () {
      const { units, agents, orgs } = await loadFixture(offeredFixture);
      await expect(units.connect(agents.processor).acceptUnit(TANK, await units.contentsHash(TANK), GLN.processor))
        .to.be.revertedWithCustomError(units, "UnitsNotReceiver")
        .withArgs(TANK_KEY, orgs.processor);
    });

    it("refuses a location of another organisation", async function () {
      const { units, agents, orgs } = await loadFixture(offeredFixture);
      await expect(units.connect(agents.carrier).acceptUnit(TANK, await units.contentsHash(TANK), GLN.processor))
        .to.be.revertedWithCustomError(units, "UnitsForeignLocation")
        .withArgs(GLN.processor, orgs.carrier);
    });
  });

  describe("a unit holding a recalled batch", function () {
    it("cannot be offered: the recall stops hand-overs of the goods inside", async function () {
      const { provenance, units, agents, orgs, packed } = await loadFixture(packedFixture);
      await provenance.connect(agents.producer).recall(packed[1], "listeria in the retained sample");
      await expect(units.connect(agents.producer).offerUnit(TANK, orgs.carrier))
        .to.be.revertedWithCustomError(units, "UnitsContainsRecalled")
        .withArgs(TANK_KEY, packed[1]);
    });

    it("cannot be accepted when the recall arrived while it was offered", async function () {
      const { provenance, units, agents, packed } = await loadFixture(offeredFixture);
      await provenance.connect(agents.producer).recall(packed[0], "listeria in the retained sample");
      await expect(units.connect(agents.carrier).acceptUnit(TANK, await units.contentsHash(TANK), GLN.carrier))
        .to.be.revertedWithCustomError(units, "UnitsContainsRecalled")
        .withArgs(TANK_KEY, packed[0]);
    });

    it("names the recalled batch in the registry without walking the unit", async function () {
      const { provenance, agents, packed } = await loadFixture(packedFixture);
      await provenance.connect(agents.producer).recall(packed[0], "listeria in the retained sample");
      expect(await provenance.unitRecall(TANK_KEY)).to.equal(packed[0]);
    });

    it("is clear again once unpacked", async function () {
      const { provenance, units, agents, packed } = await loadFixture(packedFixture);
      await provenance.connect(agents.producer).recall(packed[0], "listeria in the retained sample");
      await units.connect(agents.producer).unpack(TANK);
      expect(await provenance.unitRecall(TANK_KEY)).to.equal(ZeroHash);
    });
  });

  describe("cancelUnitOffer", function () {
    it("lets the custodian withdraw its offer", async function () {
      const { units, agents, orgs } = await loadFixture(offeredFixture);
      await expect(units.connect(agents.producer).cancelUnitOffer(TANK))
        .to.emit(units, "UnitOfferCancelled")
        .withArgs(TANK_KEY, orgs.producer);
    });

    it("lets the receiver reject the offer", async function () {
      const { units, agents, orgs } = await loadFixture(offeredFixture);
      await expect(units.connect(agents.carrier).cancelUnitOffer(TANK))
        .to.emit(units, "UnitOfferCancelled")
        .withArgs(TANK_KEY, orgs.carrier);
    });

    it("leaves the unit with its custodian, no offer pending", async function () {
      const { units, agents, orgs } = await loadFixture(offeredFixture);
      await units.connect(agents.carrier).cancelUnitOffer(TANK);
      expect([await units.pendingOffer(TANK), (await units.contents(TANK))[0]]).to.deep.equal([0n, orgs.producer]);
    });

    it("refuses an organisation that is neither custodian nor receiver", async function () {
      const { units, agents, orgs } = await loadFixture(offeredFixture);
      await expect(units.connect(agents.retailer).cancelUnitOffer(TANK))
        .to.be.revertedWithCustomError(units, "UnitsNotReceiver")
        .withArgs(TANK_KEY, orgs.retailer);
    });

    it("refuses a unit with no pending offer", async function () {
      const { units, agents } = await loadFixture(packedFixture);
      await expect(units.connect(agents.producer).cancelUnitOffer(TANK))
        .to.be.revertedWithCustomError(units, "UnitsNoOffer")
        .withArgs(TANK_KEY);
    });
  });

  describe("unpack", function () {
    it("announces the unpacked batches and their custodian", async function () {
      const { units, agents, orgs, packed } = await loadFixture(carriedFixture);
      await expect(units.connect(agents.carrier).unpack(TANK))
        .to.emit(units, "Unpacked")
        .withArgs(TANK_KEY, orgs.carrier, packed);
    });

    it("leaves each batch with the unit's last custodian, outside any unit", async function () {
      const { provenance, units, agents, orgs, packed } = await loadFixture(carriedFixture);
      await units.connect(agents.carrier).unpack(TANK);
      const state = await Promise.all(
        packed.map(async (id) => [(await provenance.batch(id)).custodian, await provenance.unitOf(id)]),
      );
      expect(state).to.deep.equal([
        [orgs.carrier, ZeroHash],
        [orgs.carrier, ZeroHash],
      ]);
    });

    it("empties the unit and forgets its custodian", async function () {
      const { provenance, units, agents } = await loadFixture(carriedFixture);
      await units.connect(agents.carrier).unpack(TANK);
      const [custodian, batchIds] = await units.contents(TANK);
      expect([custodian, batchIds, await provenance.unitCustodian(TANK_KEY)]).to.deep.equal([0n, [], 0n]);
    });

    it("lets the carrier hand over custody of an unpacked batch on its own", async function () {
      const { provenance, units, agents, orgs, lotIds } = await loadFixture(carriedFixture);
      await units.connect(agents.carrier).unpack(TANK);
      await expect(provenance.connect(agents.carrier).offer(lotIds.milkB, LOT.milkB.quantity, orgs.processor, Kind.Custody))
        .to.emit(provenance, "HandoverOffered")
        .withArgs(lotIds.milkB, orgs.carrier, orgs.processor, Kind.Custody, LOT.milkB.quantity);
    });

    it("refuses an organisation that does not hold the unit", async function () {
      const { units, agents, orgs } = await loadFixture(carriedFixture);
      await expect(units.connect(agents.producer).unpack(TANK))
        .to.be.revertedWithCustomError(units, "UnitsNotCustodian")
        .withArgs(TANK_KEY, orgs.producer);
    });

    it("refuses a unit in transit", async function () {
      const { units, agents } = await loadFixture(offeredFixture);
      await expect(units.connect(agents.producer).unpack(TANK))
        .to.be.revertedWithCustomError(units, "UnitsInTransit")
        .withArgs(TANK_KEY);
    });
  });

  describe("provenance hooks", function () {
    it("refuses packHook from anyone but the logistic-units contract", async function () {
      const { provenance, agents, orgs, lotIds } = await loadFixture(provenanceFixture);
      await expect(provenance.connect(agents.producer).packHook(TANK_KEY, orgs.producer, [lotIds.milk]))
        .to.be.revertedWithCustomError(provenance, "ProvenanceNotGovernor")
        .withArgs(agents.producer.address);
    });

    it("refuses unitCustodyHook from anyone but the logistic-units contract", async function () {
      const { provenance, agents, orgs } = await loadFixture(packedFixture);
      await expect(provenance.connect(agents.carrier).unitCustodyHook(TANK_KEY, orgs.carrier))
        .to.be.revertedWithCustomError(provenance, "ProvenanceNotGovernor")
        .withArgs(agents.carrier.address);
    });

    it("refuses unpackHook from anyone but the logistic-units contract", async function () {
      const { provenance, governor, packed } = await loadFixture(packedFixture);
      await expect(provenance.connect(governor).unpackHook(TANK_KEY, packed))
        .to.be.revertedWithCustomError(provenance, "ProvenanceNotGovernor")
        .withArgs(governor.address);
    });

    it("is the contract the provenance registry deployed", async function () {
      const { provenance, units, record } = await loadFixture(provenanceFixture);
      expect([await provenance.logisticUnits(), await units.provenance()]).to.deep.equal([
        record.contracts.units,
        await provenance.getAddress(),
      ]);
    });
  });

  it("keeps a packed batch's own GTIN and quantity", async function () {
    const { provenance, lotIds } = await loadFixture(packedFixture);
    const b = await provenance.batch(lotIds.milk);
    expect([b.gtin, b.quantity]).to.deep.equal([PRODUCT.milk.gtin, LOT.milk.quantity]);
  });
});
