import { expect } from "chai";
import { encodeBytes32String, ZeroHash, type ContractTransactionResponse } from "ethers";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import {
  digest,
  GLN,
  gtinFor,
  Kind,
  LOT,
  lotIdOf,
  milkAtProcessorFixture,
  NEEDED,
  newLot,
  PREFIX,
  PRODUCT,
  qty,
  signAcceptance,
  ssccFor,
  unitCode,
  offered,
} from "../../helpers/provenance-fixture";

const PROCESS = encodeBytes32String("PROCESS");
/** The processor's pallet, holding its butter lot. */
const PALLET = ssccFor(PREFIX.processor, 1);
/** The producer's tank, offered to the processor. */
const TANK = ssccFor(PREFIX.producer, 2);

/**
 * The processor holds the first milk lot and a pallet of butter; the producer has offered it the
 * second milk lot and a tank, and a third lot is ready to hand over with the processor's signed
 * acceptance. Then governance suspended the processor.
 */
async function suspendedProcessorFixture() {
  const f = await loadFixture(milkAtProcessorFixture);
  const { provenance, units, registry, agents, orgs, lotIds } = f;
  await units.connect(agents.processor).pack(PALLET, [lotIds.butter]);
  await provenance.connect(agents.producer).offer(lotIds.milkB, LOT.milkB.quantity, orgs.processor, Kind.Both);
  const tankLot = newLot("milk", "M240412-C", qty(3_000), GLN.producer);
  const signedLot = newLot("milk", "M240412-D", qty(3_000), GLN.producer);
  await provenance.connect(agents.producer).registerLots([tankLot, signedLot]);
  await units.connect(agents.producer).pack(TANK, [lotIdOf(tankLot.gtin, tankLot.lot)]);
  await units.connect(agents.producer).offerUnit(TANK, orgs.processor);
  const terms = {
    batchId: lotIdOf(signedLot.gtin, signedLot.lot),
    quantity: signedLot.quantity,
    from: orgs.producer,
    to: orgs.processor,
    kind: Kind.Both,
    gln: GLN.processor,
    deadline: (await time.latest()) + 3600,
  };
  const signed = await signAcceptance(agents.processor, provenance, terms);
  await registry.suspendOrganisation(orgs.processor, "failed hygiene audit");
  return { ...f, signed };
}
type Suspended = Awaited<ReturnType<typeof suspendedProcessorFixture>>;

/** Every call an agent of the processor might make, with the role mask the registry asks for. */
const CALLS: [string, bigint, (f: Suspended) => Promise<ContractTransactionResponse>][] = [
  [
    "registering a product",
    NEEDED.makers,
    (f) => f.provenance.connect(f.agents.processor).registerProduct(gtinFor(PREFIX.processor, 9), unitCode("KGM"), digest("x")),
  ],
  [
    "updating a product",
    NEEDED.makers,
    (f) => f.provenance.connect(f.agents.processor).updateProduct(PRODUCT.butter.gtin, digest("x")),
  ],
  [
    "registering a lot",
    NEEDED.makers,
    (f) => f.provenance.connect(f.agents.processor).registerLots([newLot("butter", "B-SUSP", qty(1))]),
  ],
  [
    "offering a batch",
    NEEDED.handlers,
    (f) => f.provenance.connect(f.agents.processor).offer(f.lotIds.milk, qty(1), f.orgs.retailer, Kind.Both),
  ],
  [
    "accepting a batch",
    NEEDED.handlers,
    (f) => f.provenance.connect(f.agents.processor).accept(f.lotIds.milkB, LOT.milkB.quantity, Kind.Both, GLN.processor),
  ],
  ["rejecting an offer", NEEDED.handlers, (f) => f.provenance.connect(f.agents.processor).cancelOffer(f.lotIds.milkB, "x")],
  [
    "handing over with a signed acceptance",
    NEEDED.handlers,
    async (f) => {
      const terms = {
        batchId: f.lotIds.milk,
        quantity: qty(1),
        from: f.orgs.processor,
        to: f.orgs.retailer,
        kind: Kind.Both,
        gln: "",
        deadline: (await time.latest()) + 3600,
      };
      const { acceptance, signature } = await signAcceptance(f.agents.retailer, f.provenance, terms);
      return f.provenance.connect(f.agents.processor).handOverWithAcceptance(acceptance, signature);
    },
  ],
  ["splitting a batch", NEEDED.handlers, (f) => f.provenance.connect(f.agents.processor).split(f.lotIds.milk, [qty(1)])],
  [
    "transforming",
    NEEDED.makers,
    (f) =>
      f.provenance
        .connect(f.agents.processor)
        .transform(PROCESS, [f.lotIds.milk], [qty(1)], [newLot("cream", "R1", qty(1))], digest("x")),
  ],
  ["ending a batch", NEEDED.handlers, (f) => f.provenance.connect(f.agents.processor).end(f.lotIds.milk, true, "x")],
  [
    "observing a batch",
    NEEDED.observers,
    (f) => f.provenance.connect(f.agents.processor).observe(f.lotIds.milk, digest("e"), digest("s"), "", digest("d")),
  ],
  [
    "packing a unit",
    NEEDED.handlers,
    (f) => f.units.connect(f.agents.processor).pack(ssccFor(PREFIX.processor, 2), [f.lotIds.milk]),
  ],
  ["unpacking a unit", NEEDED.handlers, (f) => f.units.connect(f.agents.processor).unpack(PALLET)],
  ["offering a unit", NEEDED.handlers, (f) => f.units.connect(f.agents.processor).offerUnit(PALLET, f.orgs.carrier)],
  ["accepting a unit", NEEDED.handlers, (f) => f.units.connect(f.agents.processor).acceptUnit(TANK, ZeroHash, GLN.processor)],
  ["rejecting a unit offer", NEEDED.handlers, (f) => f.units.connect(f.agents.processor).cancelUnitOffer(TANK)],
  [
    "anchoring a root",
    NEEDED.all,
    (f) => f.anchors.connect(f.agents.processor).anchor(encodeBytes32String("EPCIS"), digest("root"), 1, ""),
  ],
];

describe("A suspended organisation's agents", function () {
  for (const [action, needed, call] of CALLS) {
    it(`are refused ${action}`, async function () {
      const f = await loadFixture(suspendedProcessorFixture);
      await expect(call(f))
        .to.be.revertedWithCustomError(f.registry, "IdentityUnauthorizedAgent")
        .withArgs(f.agents.processor.address, needed);
    });
  }

  it("are refused recalling their own organisation's lot", async function () {
    const { provenance, agents, lotIds } = await loadFixture(suspendedProcessorFixture);
    await expect(provenance.connect(agents.processor).recall(lotIds.butter, "x"))
      .to.be.revertedWithCustomError(provenance, "ProvenanceNotAllowedToRecall")
      .withArgs(agents.processor.address, lotIds.butter);
  });

  it("cannot have an acceptance they signed before the suspension used", async function () {
    const { provenance, agents, orgs, signed } = await loadFixture(suspendedProcessorFixture);
    await expect(provenance.connect(agents.producer).handOverWithAcceptance(signed.acceptance, signed.signature))
      .to.be.revertedWithCustomError(provenance, "ProvenanceInvalidSignature")
      .withArgs(agents.processor.address, orgs.processor);
  });

  it("cannot be offered new goods", async function () {
    const { provenance, agents, orgs, signed } = await loadFixture(suspendedProcessorFixture);
    await expect(provenance.connect(agents.producer).offer(signed.acceptance.batchId, qty(1), orgs.processor, Kind.Both))
      .to.be.revertedWithCustomError(provenance, "ProvenanceUnknownOrganisation")
      .withArgs(orgs.processor);
  });

  it("act again once governance reinstates the organisation", async function () {
    const { provenance, registry, agents, orgs, lotIds } = await loadFixture(suspendedProcessorFixture);
    await registry.reinstateOrganisation(orgs.processor);
    await expect(provenance.connect(agents.processor).accept(...(await offered(provenance, lotIds.milkB)), GLN.processor))
      .to.emit(provenance, "HandedOver")
      .withArgs(
        lotIds.milkB,
        orgs.producer,
        orgs.processor,
        Kind.Both,
        LOT.milkB.quantity,
        GLN.processor,
        agents.processor.address,
      );
  });

  it("leave their organisation's goods recallable by an auditor governance appointed", async function () {
    const { provenance, governor, agents, orgs, lotIds } = await loadFixture(suspendedProcessorFixture);
    await provenance.connect(governor).appointRecallAuditor(orgs.processor, orgs.auditor);
    await expect(provenance.connect(agents.auditor).recall(lotIds.butter, "supplier suspended"))
      .to.emit(provenance, "Recalled")
      .withArgs(lotIds.butter, orgs.auditor, "supplier suspended");
  });
});
