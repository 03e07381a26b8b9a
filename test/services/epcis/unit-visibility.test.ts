import crypto from "node:crypto";
import { expect } from "chai";
import { id as keccakText } from "ethers";
import type { TestNode } from "../../helpers/node";
import { demoWallet } from "../../../services/demo/roster";
import { DEMO_GOODS } from "../../../services/demo/supply-chain";
import { lotIdOf } from "../../../services/epcis/mapping/plan";
import { gtinFor, ssccFor } from "../../../services/gs1/keys";
import { unitToBytes3 } from "../../../services/provenance/quantity";
import { RECORD_CLASSES, scopeToChain } from "../../../services/sharing/grants";
import { bearer, expectProblem, get, sharedNode, tokenFor } from "../api/helpers";
import { captureAndWait, epcisDocument, eventsOf, member, orgIdOf } from "./helpers";
import { observedAt } from "../../helpers/epcis";

/**
 * An EPCIS event naming a logistic unit (SSCC: `urn:epc:id:sscc:…`, Digital Link `/00/…`, an
 * AggregationEvent's parentID) is about the batches packed in the unit at the event's time — from
 * the chain's pack, hand-over and unpack records (services/store/logistic-units.ts) — not about what
 * the unit holds now: a unit is unpacked and repacked with other goods (README "Who may read what").
 * Who may read it (a grant scoped to a lot or GTIN), which batch's history and trace it appears in,
 * which events a batch's score reads and what a member's node is served all follow that rule.
 *
 * The producer packs its goods (item references 799x, which nothing else uses); the carrier records
 * the units' temperatures and grants two buyers its EPCIS events of some lots each.
 */
const PRODUCER = { account: member("producer").account, prefix: member("producer").companyPrefixes[0] };
const R = crypto.randomInt(10_000, 99_999);
const GTIN_X = gtinFor(PRODUCER.prefix, 7991);
const GTIN_Y = gtinFor(PRODUCER.prefix, 7992);
const [LOT_X, LOT_Y, LOT_Z, LOT_W] = [`UX-${R}`, `UY-${R}`, `UZ-${R}`, `UW-${R}`];
// Serials random so that a rerun on the same chain starts clean.
const PALLET = ssccFor(PRODUCER.prefix, R * 10 + 1);
const CRATE = ssccFor(PRODUCER.prefix, R * 10 + 2);
const BOX = ssccFor(PRODUCER.prefix, R * 10 + 3);
// A serialised case on the pallet (an instance, not a lot): what the pallet's AggregationEvent lists.
const CASE = `urn:epc:id:sgtin:${PRODUCER.prefix}.0${GTIN_Y.slice(8, 13)}.${R}`;
const ssccUrn = (sscc: string) => `urn:epc:id:sscc:${PRODUCER.prefix}.${sscc[0]}${sscc.slice(1 + PRODUCER.prefix.length, 17)}`;
const ZERO = `0x${"00".repeat(32)}`;

/** The carrier's temperature reading of a unit at `at` (ms): the event names the unit only, never a lot. */
function reading(at: number, names: Record<string, unknown>): Record<string, unknown> {
  return observedAt(at, {
    bizStep: "inspecting",
    sensorElementList: [
      {
        sensorMetadata: { time: new Date(at).toISOString(), deviceID: `urn:lotline:test:logger-${R}` },
        sensorReport: [{ type: "gs1:Temperature", value: 4.2, uom: "CEL" }],
      },
    ],
    ...names,
  });
}

describe("EPCIS visibility of events naming a logistic unit (SSCC): its contents at the event's time", function () {
  this.timeout(120_000);
  let node: TestNode;
  let x: string;
  let y: string;
  let z: string;
  let w: string;
  // E1: the pallet holding X. E2: the same pallet, unpacked and repacked with Y. E3: the crate holding X while the
  // carrier had it; back at the producer, Z was added and the crate unpacked. E4: the box, recorded before its
  // packing with W reached the chain.
  let e1: Record<string, unknown>;
  let e2: Record<string, unknown>;
  let e3: Record<string, unknown>;
  let e4: Record<string, unknown>;
  const tokens: Record<string, string> = {};
  const carrierOrg = orgIdOf("carrier");

  before(async function () {
    node = await sharedNode();
    await node.synced();
    const producer = node.contracts.provenance.connect(demoWallet(PRODUCER.account, node.provider));
    const units = node.contracts.units.connect(demoWallet(PRODUCER.account, node.provider));
    const carrierUnits = node.contracts.units.connect(demoWallet(member("carrier").account, node.provider));
    for (const gtin of [GTIN_X, GTIN_Y]) {
      await (await producer.registerProduct(BigInt(gtin), unitToBytes3("KGM"), keccakText(`unit visibility test ${gtin}`))).wait();
    }
    await (
      await producer.registerLots([
        { gtin: BigInt(GTIN_X), lot: LOT_X, quantity: 400_000n, gln: "", metadataHash: ZERO },
        { gtin: BigInt(GTIN_Y), lot: LOT_Y, quantity: 500_000n, gln: "", metadataHash: ZERO },
        { gtin: BigInt(GTIN_Y), lot: LOT_Z, quantity: 300_000n, gln: "", metadataHash: ZERO },
        { gtin: BigInt(GTIN_X), lot: LOT_W, quantity: 200_000n, gln: "", metadataHash: ZERO },
      ])
    ).wait();
    x = (await producer.lotId(BigInt(GTIN_X), LOT_X)).toLowerCase();
    y = (await producer.lotId(BigInt(GTIN_Y), LOT_Y)).toLowerCase();
    z = (await producer.lotId(BigInt(GTIN_Y), LOT_Z)).toLowerCase();
    w = (await producer.lotId(BigInt(GTIN_X), LOT_W)).toLowerCase();
    // Chain times are whole seconds and the chain mines a block per transaction: each step 10 s on (network helper).
    const later = () => node.provider.send("evm_increaseTime", [10]);
    const minedAt = async (tx: Promise<{ wait(): Promise<{ blockNumber: number } | null> }>) =>
      (await node.provider.getBlock((await (await tx).wait())!.blockNumber))!.timestamp * 1000;

    const carrier = await tokenFor(node, demoWallet(member("carrier").account));
    const capture = async (event: Record<string, unknown>) => {
      const job = await captureAndWait(node, carrier, epcisDocument([event]));
      expect(job.success, JSON.stringify(job.errors)).to.equal(true);
    };
    const packedX = await minedAt(units.pack(PALLET, [x]));
    e1 = reading(packedX + 5000, { epcList: [ssccUrn(PALLET)] });
    await capture(e1);
    await later();
    await (await units.unpack(PALLET)).wait();
    await later();
    const packedY = await minedAt(units.pack(PALLET, [y]));
    e2 = reading(packedY + 5000, { type: "AggregationEvent", parentID: `https://id.gs1.org/00/${PALLET}`, childEPCs: [CASE] });
    await capture(e2);
    await later();

    // The crate travels with the carrier and comes back; only then does the producer add Z: E3 did not see Z.
    const handOver = async (from: typeof units, to: typeof units, toOrg: string) => {
      await (await from.offerUnit(CRATE, toOrg)).wait();
      return minedAt(to.acceptUnit(CRATE, await node.contracts.units.contentsHash(CRATE), ""));
    };
    await (await units.pack(CRATE, [x])).wait();
    await later();
    const carried = await handOver(units, carrierUnits, orgIdOf("carrier"));
    e3 = reading(carried + 5000, { epcList: [`https://id.gs1.org/00/${CRATE}`] });
    await capture(e3);
    await later();
    await handOver(carrierUnits, units, orgIdOf("producer"));
    await later();
    await (await units.pack(CRATE, [z])).wait();
    await later();
    await (await units.unpack(CRATE)).wait();
    await later();

    // E4 is captured first, timed before the producer's packing of W into the box reaches the chain.
    const now = (await node.provider.getBlock("latest"))!.timestamp * 1000;
    e4 = reading(now + 1000, { epcList: [`https://id.gs1.org/00/${BOX}`] });
    await capture(e4);
    await later();
    await (await units.pack(BOX, [w])).wait();

    // The carrier shares its events of lots Y and Z with the distributor, of lots X and W with the retailer (lot scope).
    const sharing = node.contracts.sharing.connect(demoWallet(member("carrier").account, node.provider));
    const expires = (await node.provider.getBlock("latest"))!.timestamp + 30 * 86_400;
    for (const [grantee, lot] of [
      ["distributor", y],
      ["distributor", z],
      ["retailer", x],
      ["retailer", w],
    ] as const) {
      const scope = scopeToChain({ kind: "lot", value: lot });
      await (await sharing.grant(orgIdOf(grantee), RECORD_CLASSES.EPCIS, scope.kind, scope.value, expires)).wait();
    }
    await node.synced();
    for (const key of ["carrier", "distributor", "retailer"]) tokens[key] = await tokenFor(node, demoWallet(member(key).account));
  });

  const idsOf = (...events: Record<string, unknown>[]) => events.map((e) => e.eventID as string);
  const readable = async (who: string) =>
    eventsOf(await get(node, `/epcis/events?EQ_eventID=${idsOf(e1, e2, e3, e4).map(encodeURIComponent).join("|")}&orderDirection=ASC`, bearer(tokens[who]))).map(
      (e) => e.eventID,
    );
  const historyEvents = async (who: string, batchId: string) => {
    const res = await get(node, `/api/v1/batches/${batchId}/history`, bearer(tokens[who]));
    expect(res.status, res.text).to.equal(200);
    return (res.body.items as { type: string; details: { eventID?: string } }[]).filter((i) => i.type === "epcis").map((i) => i.details.eventID);
  };
  const byId = (who: string, e: Record<string, unknown>) => get(node, `/epcis/events/${encodeURIComponent(e.eventID as string)}`, bearer(tokens[who]));

  it("attack: a reader granted a batch packed later into a reused unit does not see the unit's earlier events", async function () {
    // The distributor may read the carrier's events of lot Y, now on the pallet: not the pallet's reading when it held X.
    expect(await readable("distributor")).to.deep.equal(idsOf(e2));
    expectProblem(await byId("distributor", e1), 404, "event_not_found");
    expect(await historyEvents("distributor", y)).to.deep.equal(idsOf(e2));
  });

  it("attack: goods added to a unit after it changed hands do not open the unit's events from before", async function () {
    // The producer added Z to the crate once the carrier had handed it back: the distributor, granted Z, does not read E3.
    expect(await readable("distributor")).to.not.include(e3.eventID);
    expectProblem(await byId("distributor", e3), 404, "event_not_found");
    expect(await historyEvents("distributor", z)).to.deep.equal([]);
    expect(await historyEvents("carrier", z)).to.deep.equal([]);
  });

  it("a reader granted a batch keeps the events of the units it travelled in, after they were repacked with other goods or emptied", async function () {
    expect(await readable("retailer")).to.deep.equal(idsOf(e1, e3, e4));
    expect(eventsOf(await byId("retailer", e1)).map((e) => e.eventID)).to.deep.equal(idsOf(e1));
    expect(await historyEvents("retailer", x)).to.deep.equal(idsOf(e1, e3));
    expectProblem(await byId("retailer", e2), 404, "event_not_found");
  });

  it("keeps an event recorded before its goods' packing reached the chain about those goods (the custodian's packing, before the unit changed hands)", async function () {
    expect(eventsOf(await byId("retailer", e4)).map((e) => e.eventID)).to.deep.equal(idsOf(e4));
    expect(await historyEvents("retailer", w)).to.deep.equal(idsOf(e4));
  });

  it("puts a unit's event in the history and trace counts of the batches it held at the event's time only, even for its owner", async function () {
    expect(await historyEvents("carrier", x)).to.deep.equal(idsOf(e1, e3));
    expect(await historyEvents("carrier", y)).to.deep.equal(idsOf(e2));
    const trace = await get(node, `/api/v1/batches/${x}/trace?direction=upstream`, bearer(tokens.carrier));
    expect(trace.status, trace.text).to.equal(200);
    const node_ = (trace.body.nodes as { id: string; epcisEvents: number; epcisOrigins: { origin: { orgId: string }; events: number }[] }[]).find((n) => n.id === x)!;
    expect(node_.epcisEvents).to.equal(2);
    expect(node_.epcisOrigins).to.deep.equal([{ origin: { orgId: carrierOrg, servedBy: null, verified: true }, events: 2 }]);
  });

  it("attack: a batch's score reads no sensor report of a unit's load it was not in", async function () {
    const res = await get(node, `/api/v1/scores/batches/${y}`, bearer(tokens.distributor));
    expect(res.status, res.text).to.equal(200);
    expect(res.body.checks.sensorReports).to.include({ status: "checked", events: 1, temperatureReports: 1 });
  });

  it("attack: another node asking for a batch's events gets the proofs of the unit's events of that batch only", async function () {
    const res = await get(node, `/api/v1/federation/epcis-proofs?batches=${y}`, bearer(tokens.distributor));
    expect(res.status, res.text).to.equal(200);
    const proofs = (res.body.proofs as { eventID: string; owner: string }[]).filter((p) => p.owner === carrierOrg);
    expect(proofs.map((p) => p.eventID)).to.not.include(e1.eventID).and.not.include(e3.eventID);
    const tally = (res.body.batches as { batchId: string; orgId: string; status: string; pending: number }[]).find((b) => b.orgId === carrierOrg)!;
    expect(tally).to.include({ batchId: y, status: "ok" });
    expect(proofs.length + tally.pending).to.equal(1);
  });

  it("shows the demo pallet's shipping and receiving on the butter's history: the demo's events fall within the pallet's load", async function () {
    // The auditor (get's default reader) is granted every producer's records.
    const res = await get(node, `/api/v1/batches/${lotIdOf(DEMO_GOODS.butter, "BTR-2611")}/history`);
    expect(res.status, res.text).to.equal(200);
    const steps = (res.body.items as { type: string; details: { bizStep?: string; orgId?: string } }[])
      .filter((i) => i.type === "epcis" && (i.details.bizStep === "shipping" || i.details.bizStep === "receiving"))
      .map((i) => `${i.details.bizStep}/${i.details.orgId}`);
    expect(steps).to.include.members([`shipping/${orgIdOf("processor2")}`, `receiving/${orgIdOf("distributor")}`]);
  });
});
