import { expect } from "chai";
import { id as keccakText } from "ethers";
import type { TestNode } from "../../helpers/node";
import { demoWallet } from "../../../services/demo/roster";
import { glnFor, gtinFor, ssccFor } from "../../../services/gs1/keys";
import { unitToBytes3 } from "../../../services/provenance/quantity";
import { unitLegOf, unitContentsAt } from "../../../services/analytics/transport";
import { TRANSPORT_FACTORS } from "../../../services/analytics/emissions";
import { createEpcisReplicaStore } from "../../../services/federation/epcis";
import { HANDOVER_KINDS } from "../../../services/provenance/acceptance";
import type { EventFacts } from "../../../services/epcis/mapping/facts";
import { bearer, get, sharedNode, tokenFor } from "../api/helpers";
import { EPCIS_CONTEXT, captureAndWait, epcisDocument, member, orgIdOf } from "../epcis/helpers";
import { observedAt } from "../../helpers/epcis";

/**
 * Freight legs of logistic units (SSCC shipments) and of EPCIS events held on another member's node
 * (docs/analytics.md, "Transport legs"; docs/adr/0031). Goods use item references 797x, which nothing
 * else uses; no production run records them, so each footprint's known part is its freight alone.
 */
const PRODUCER = { account: member("producer").account, prefix: member("producer").companyPrefixes[0] };
const CHEESE = gtinFor(PRODUCER.prefix, 7971); // KGM
const WHEY = gtinFor(PRODUCER.prefix, 7972); // GRM: a mass in another unit, so raw quantities do not add up
const CURD = gtinFor(PRODUCER.prefix, 7973); // KGM
const SSCC = ssccFor(PRODUCER.prefix, 7971);
const SSCC_URN = `urn:epc:id:sscc:${PRODUCER.prefix}.${SSCC[0]}${SSCC.slice(1 + PRODUCER.prefix.length, 17)}`;
const PRODUCER_GLN = glnFor(PRODUCER.prefix, 1);
const HUB_GLN = glnFor("9999997", 1); // no member's: the mapping refuses it, the chain keeps the unit packed
const LOTLINE_NS = { lotline: "https://lotline.dev/epcis/" };
const sgln = (gln: string) => `urn:epc:id:sgln:${gln.slice(0, 7)}.${gln.slice(7, 12)}.0`;
const lgtin = (gtin: string, lot: string) => `urn:epc:class:lgtin:${gtin.slice(1, 8)}.${gtin[0]}${gtin.slice(8, 13)}.${lot}`;

type Leg = {
  eventId: string;
  batchId: string;
  mode: string;
  distanceKm: number;
  tonnes: number;
  co2eKg: number;
  quantity: number;
  origin: { orgId: string; servedBy: string; verified: boolean } | null;
  logisticUnit: { sscc: string; batches: number; batchKg: number; contentsKg: number; share: number; legCo2eKg: number } | null;
};
type Footprint = {
  knownCo2ePerUnitKg: number;
  stages: { type: string; batchId: string; ownCo2ePerUnitKg: number; co2eKg: number; transport: Leg[] | null }[];
  gaps: { reason: string; detail: string; orgId: string }[];
};

function leg(eventTime: number, fields: Record<string, unknown>): Record<string, unknown> {
  return observedAt(eventTime, {
    bizStep: "shipping",
    disposition: "in_transit",
    readPoint: { id: sgln(PRODUCER_GLN) },
    bizLocation: { id: sgln(PRODUCER_GLN) },
    sourceList: [{ type: "location", source: sgln(PRODUCER_GLN) }],
    destinationList: [{ type: "location", destination: sgln(HUB_GLN) }],
    ...fields,
  });
}

const facts = (lotlineFields: Record<string, unknown>) =>
  ({
    eventId: "urn:uuid:pure",
    recordId: "ev_pure",
    orgId: 1,
    bizStep: "shipping",
    eventTime: "2026-01-01T00:00:00.000Z",
    sources: [],
    destinations: [],
    bizLocationGln: null,
    readPointGln: null,
    lotlineFields,
  }) as Pick<
    EventFacts,
    | "eventId"
    | "recordId"
    | "orgId"
    | "bizStep"
    | "eventTime"
    | "sources"
    | "destinations"
    | "bizLocationGln"
    | "readPointGln"
    | "lotlineFields"
  >;

describe("freight legs of a logistic unit, split by mass share (pure)", function () {
  const contents = [
    { batchId: "0xa", gtin: "03012345079710", unit: "KGM", quantity: 600 },
    { batchId: "0xb", gtin: "03012345079727", unit: "LTR", quantity: 400 },
  ];
  const road = facts({ transportMode: "road", distanceKm: 250 });

  it("weighs litres by the product's kg per unit: 400 l of milk at 1.03 kg/l is 412 kg of the unit's 1,012 kg", function () {
    const kgPerUnitOf = (gtin: string) => (gtin === "03012345079727" ? 1.03 : undefined);
    const a = unitLegOf(road, SSCC, "0xa", contents, { kgPerUnitOf })!;
    const b = unitLegOf(road, SSCC, "0xb", contents, { kgPerUnitOf })!;
    // 250 km × 1.012 t × 0.107 kg/tkm = 27.071 kg CO2e, shared 600 : 412.
    expect(a.logisticUnit!.legCo2eKg).to.be.closeTo(250 * 1.012 * 0.107, 1e-9);
    expect(a.co2eKg).to.be.closeTo(250 * 0.6 * 0.107, 1e-9); // 16.05
    expect(b.co2eKg).to.be.closeTo(250 * 0.412 * 0.107, 1e-9); // 11.021
    expect(a.logisticUnit).to.include({ sscc: SSCC, batches: 2, batchKg: 600, share: 600 / 1012 });
    expect(b.logisticUnit!.batchKg).to.be.closeTo(412, 1e-9);
    expect(a.co2eKg! + b.co2eKg!).to.be.closeTo(a.logisticUnit!.legCo2eKg!, 1e-9);
  });

  it("cannot split a unit whose contents' masses are not all known: no figure, a named problem, for every batch in it", function () {
    const a = unitLegOf(road, SSCC, "0xa", contents)!;
    expect(a.co2eKg).to.equal(null);
    expect(a.logisticUnit).to.include({ contentsKg: null, share: null });
    expect(a.problem).to.match(/mass of batch 0xb in SSCC \d{18} is unknown \(400 LTR\)/);
  });

  it("gives no leg to a batch that was not in the unit, nor for an event without Lotline's transport fields", function () {
    expect(unitLegOf(road, SSCC, "0xc", contents)).to.equal(null);
    expect(unitLegOf(facts({}), SSCC, "0xa", contents)).to.equal(null);
  });
});

describe("freight legs of SSCC shipments and of other members' events (node)", function () {
  this.timeout(120_000);
  let node: TestNode;
  let token: string;
  let cheese: string;
  let whey: string;
  let curd: string;
  let first: Record<string, unknown>;
  let second: Record<string, unknown>;
  const producerOrg = orgIdOf("producer");
  const processorOrg = orgIdOf("processor");

  before(async function () {
    node = await sharedNode();
    await node.synced();
    token = await tokenFor(node, demoWallet(PRODUCER.account));
    const wallet = demoWallet(PRODUCER.account, node.provider);
    const producer = node.contracts.provenance.connect(wallet);
    const units = node.contracts.units.connect(wallet);
    for (const [gtin, unit] of [
      [CHEESE, "KGM"],
      [WHEY, "GRM"],
      [CURD, "KGM"],
    ]) {
      await (await producer.registerProduct(BigInt(gtin), unitToBytes3(unit), keccakText(`transport units test ${gtin}`))).wait();
    }
    const zero = `0x${"00".repeat(32)}`;
    await (
      await producer.registerLots([
        { gtin: BigInt(CHEESE), lot: "PAL-7971", quantity: 600_000n, gln: "", metadataHash: zero }, // 600 kg
        { gtin: BigInt(WHEY), lot: "PAL-7972", quantity: 412_000_000n, gln: "", metadataHash: zero }, // 412,000 g
        { gtin: BigInt(CURD), lot: "PAL-7973", quantity: 1_000_000n, gln: "", metadataHash: zero }, // 1,000 kg
      ])
    ).wait();
    cheese = (await producer.lotId(BigInt(CHEESE), "PAL-7971")).toLowerCase();
    whey = (await producer.lotId(BigInt(WHEY), "PAL-7972")).toLowerCase();
    curd = (await producer.lotId(BigInt(CURD), "PAL-7973")).toLowerCase();
    const packed = await (await units.pack(SSCC, [cheese, whey])).wait();
    const packedAt = (await node.provider.getBlock(packed!.blockNumber))!.timestamp * 1000;

    // 1. The pallet of cheese and whey leaves by road: 250 km, 1.1 t gross (pallet included), the carrier's 0.1 kg/tkm.
    first = leg(packedAt - 60_000, {
      epcList: [`https://id.gs1.org/00/${SSCC}`],
      "lotline:transportMode": "road",
      "lotline:distanceKm": 250,
      "lotline:tonnes": 1.1,
      "lotline:kgCo2ePerTonneKm": 0.1,
    });
    const one = await captureAndWait(node, token, epcisDocument([first], [LOTLINE_NS]));
    expect(one.success, JSON.stringify(one.errors)).to.equal(true);

    // 2. Unpacked at the hub, the same SSCC repacked with the cheese alone, which departs by rail: 100 km. The event
    //    lists the pallet's children too: the cheese counts the leg once, as the unit's. Chain times are whole
    //    seconds and the test chain mines many blocks in one: each step is moved 10 s on (network helper).
    const later = () => node.provider.send("evm_increaseTime", [10]);
    await later();
    await (await units.unpack(SSCC)).wait();
    await later();
    const repacked = await (await units.pack(SSCC, [cheese])).wait();
    const repackedAt = (await node.provider.getBlock(repacked!.blockNumber))!.timestamp * 1000;
    second = leg(repackedAt + 5000, {
      type: "AggregationEvent",
      bizStep: "departing",
      parentID: SSCC_URN,
      childEPCs: [],
      childQuantityList: [{ epcClass: lgtin(CHEESE, "PAL-7971"), quantity: 600, uom: "KGM" }],
      "lotline:transportMode": "rail",
      "lotline:distanceKm": 100,
    });
    const two = await captureAndWait(node, token, epcisDocument([second], [LOTLINE_NS]));
    expect(two.success, JSON.stringify(two.errors)).to.equal(true);
    // Unpacked again: the unit is empty now, so its current contents say nothing of either shipment.
    await later();
    await (await units.unpack(SSCC)).wait();
    await node.synced();
  });

  async function footprint(batchId: string, as = token): Promise<Footprint> {
    const res = await get(node, `/api/v1/batches/${batchId}/footprint`, bearer(as));
    expect(res.status, res.text).to.equal(200);
    return res.body as Footprint;
  }
  const legsOf = (fp: Footprint) => fp.stages.filter((s) => s.type === "transport").flatMap((s) => s.transport ?? []);

  it("reads the unit's contents at each shipment from the chain's pack and unpack records, not its contents now", function () {
    const contents = (t: number) => unitContentsAt(node.db, SSCC, t).map((c) => [c.batchId, c.quantity]);
    expect(contents(Date.parse(first.eventTime as string))).to.deep.equal([
      [cheese, 600],
      [whey, 412_000],
    ]);
    expect(contents(Date.parse(second.eventTime as string))).to.deep.equal([[cheese, 600]]);
  });

  it("splits the pallet's road leg by mass share: cheese 27.5 × 600/1,012 = 16.304 kg CO2e, whey 27.5 × 412/1,012 = 11.196 kg", async function () {
    const legs = legsOf(await footprint(whey));
    expect(legs).to.have.length(1);
    const [road] = legs;
    expect(road).to.include({
      eventId: first.eventID,
      batchId: whey,
      mode: "road",
      distanceKm: 250,
      tonnes: 1.1,
      quantity: 412_000,
    });
    // 250 km × 1.1 t × 0.1 kg/tkm = 27.5 kg for the pallet; the whey's 412 kg of the 1,012 kg of goods.
    expect(road.logisticUnit).to.deep.include({ sscc: SSCC, batches: 2, batchKg: 412, contentsKg: 1012, legCo2eKg: 27.5 });
    expect(road.logisticUnit!.share).to.be.closeTo(412 / 1012, 1e-9);
    expect(road.co2eKg).to.be.closeTo(11.195652173913043, 1e-9);
    // Not split equally (13.75 each) nor by raw quantities (grams against kilograms).
    expect(road.co2eKg).to.not.be.closeTo(13.75, 0.1);
    const stage = (await footprint(whey)).stages.find((s) => s.type === "transport")!;
    expect(stage.ownCo2ePerUnitKg).to.be.closeTo(11.195652173913043 / 412_000, 1e-15); // per gram
  });

  it("gives the cheese its share of the pallet's leg and the whole of the rail leg it travelled alone, counted once", async function () {
    const fp = await footprint(cheese);
    const legs = legsOf(fp);
    expect(legs.map((l) => l.mode)).to.deep.equal(["road", "rail"]);
    expect(legs[0].co2eKg).to.be.closeTo(16.304347826086957, 1e-9); // 27.5 × 600 / 1,012
    // 100 km × 0.6 t × 0.028 kg/tkm (rail default) = 1.68 kg, all the cheese's.
    expect(legs).to.have.length(2);
    expect(legs[1].logisticUnit).to.include({ sscc: SSCC, batches: 1, batchKg: 600, contentsKg: 600, share: 1 });
    expect(legs[1].co2eKg).to.be.closeTo(100 * 0.6 * TRANSPORT_FACTORS.rail.value, 1e-12);
    const stage = fp.stages.find((s) => s.type === "transport")!;
    expect(stage.ownCo2ePerUnitKg).to.be.closeTo((16.304347826086957 + 1.68) / 600, 1e-12);
    expect(stage.co2eKg).to.be.closeTo(16.304347826086957 + 1.68, 1e-9);
    // The whey was not on the train.
    expect(legsOf(await footprint(whey)).map((l) => l.mode)).to.deep.equal(["road"]);
  });

  it("attack: a member that never held the goods declares a 10,000 km air leg for the pallet and the cheese, and adds nothing", async function () {
    const retailer = await tokenFor(node, demoWallet(member("retailer").account));
    const before = await footprint(cheese);
    const bogus = leg(Date.parse(first.eventTime as string) + 1000, {
      epcList: [`https://id.gs1.org/00/${SSCC}`],
      quantityList: [{ epcClass: lgtin(CHEESE, "PAL-7971"), quantity: 600, uom: "KGM" }],
      "lotline:transportMode": "air",
      "lotline:distanceKm": 10_000,
    });
    const job = await captureAndWait(node, retailer, epcisDocument([bogus], [LOTLINE_NS]));
    expect(job.success, JSON.stringify(job.errors)).to.equal(true);
    // Captured and stored (any member may record what it saw), but it declares no freight of goods the retailer never held.
    expect(node.db.prepare(`SELECT COUNT(*) AS n FROM epcis_events WHERE event_id = ?`).get(bogus.eventID)).to.deep.equal({
      n: 1,
    });
    for (const [batchId, modes] of [
      [cheese, ["road", "rail"]],
      [whey, ["road"]],
    ] as const) {
      const fp = await footprint(batchId);
      expect(legsOf(fp).map((l) => l.mode)).to.deep.equal(modes);
      expect(fp.gaps.filter((g) => g.detail.includes(bogus.eventID as string))).to.deep.equal([]);
    }
    expect((await footprint(cheese)).knownCo2ePerUnitKg).to.equal(before.knownCo2ePerUnitKg);
  });

  it("names each leg's origin: this node's own event, captured by the producer, its proof not in question", async function () {
    const [road] = legsOf(await footprint(cheese));
    expect(road.origin).to.include({ orgId: producerOrg, verified: true });
    expect(road.origin!.servedBy)
      .to.be.a("string")
      .and.match(/^https?:\/\//);
  });

  it("refuses a reader the legs of unit shipments the shipper did not share with it (not_shared)", async function () {
    const certifier = await tokenFor(node, demoWallet(member("certifier").account));
    const fp = await footprint(cheese, certifier);
    expect(legsOf(fp)).to.deep.equal([]);
    expect(
      fp.gaps.some((g) => g.reason === "not_shared" && g.orgId === producerOrg && /EPCIS shipping events/.test(g.detail)),
    ).to.equal(true);
  });

  describe("a shipping event held on another member's node", function () {
    const event = () =>
      leg(Date.now() - 3_600_000, {
        epcList: [],
        quantityList: [{ epcClass: lgtin(CURD, "PAL-7973"), quantity: 1000, uom: "KGM" }],
        "lotline:transportMode": "road",
        "lotline:distanceKm": 80,
      });
    let seq: number;

    before(async function () {
      // The processor took custody of the curd (so it may declare its freight)…
      const offered = node.contracts.provenance.connect(demoWallet(PRODUCER.account, node.provider));
      await (await offered.offer(curd, 1_000_000n, processorOrg, HANDOVER_KINDS.custody)).wait();
      const processor = node.contracts.provenance.connect(demoWallet(member("processor").account, node.provider));
      await (await processor.accept(curd, 1_000_000n, HANDOVER_KINDS.custody, "")).wait();
      await node.synced();
      // …and its node holds the shipping event: a replica as services/federation stores it once the owner's proof held (ADR 0025): the processor's event, served by its node.
      const replicas = createEpcisReplicaStore(node.db);
      const proof = { merkleRoot: `0x${"11".repeat(32)}`, proof: [], anchoredBy: { orgId: processorOrg } } as never;
      const stored = replicas.store(
        {
          class: "EPCIS",
          owner: processorOrg,
          recordId: "ev_node_b_7973",
          record: { event: event(), context: [EPCIS_CONTEXT, LOTLINE_NS] },
          leaf: `0x${"22".repeat(32)}`,
          proof,
        },
        "https://node-b.test",
      );
      expect(stored).to.equal("stored");
      seq = (node.db.prepare(`SELECT seq FROM epcis_events WHERE origin_record = 'ev_node_b_7973'`).get() as { seq: number }).seq;
    });

    it("counts its verified replica's leg, named as served by that node: 80 km × 1 t × 0.107", async function () {
      const processor = await tokenFor(node, demoWallet(member("processor").account));
      const [remote] = legsOf(await footprint(curd, processor));
      expect(remote.origin).to.deep.equal({ orgId: processorOrg, servedBy: "https://node-b.test", verified: true });
      expect(remote.co2eKg).to.be.closeTo(80 * 1 * TRANSPORT_FACTORS.road.value, 1e-9);
      expect(remote.logisticUnit).to.equal(null);
    });

    it("leaves a replica whose proof was never checked out of the footprint", async function () {
      const processor = await tokenFor(node, demoWallet(member("processor").account));
      node.db.prepare(`UPDATE epcis_events SET verified_at = NULL WHERE seq = ?`).run(seq);
      try {
        expect(legsOf(await footprint(curd, processor))).to.deep.equal([]);
      } finally {
        node.db.prepare(`UPDATE epcis_events SET verified_at = ? WHERE seq = ?`).run(new Date().toISOString(), seq);
      }
    });

    it("shows a reader the owner did not grant its events a not_shared gap, never the replica's leg", async function () {
      const certifier = await tokenFor(node, demoWallet(member("certifier").account));
      const fp = await footprint(curd, certifier);
      expect(legsOf(fp)).to.deep.equal([]);
      expect(fp.gaps.some((g) => g.reason === "not_shared" && g.orgId === processorOrg)).to.equal(true);
      expect(fp.knownCo2ePerUnitKg).to.equal(0);
    });
  });
});
