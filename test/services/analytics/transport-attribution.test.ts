import { expect } from "chai";
import { id as keccakText } from "ethers";
import type { TestNode } from "../../helpers/node";
import { demoWallet } from "../../../services/demo/roster";
import { glnFor, gtinFor } from "../../../services/gs1/keys";
import { unitToBytes3 } from "../../../services/provenance/quantity";
import { HANDOVER_KINDS } from "../../../services/provenance/acceptance";
import { mappingJobFor } from "../../../services/epcis/mapping/job";
import { epcisTransportLegs } from "../../../services/analytics/transport";
import { TRANSPORT_FACTORS } from "../../../services/analytics/emissions";
import { createEpcisReplicaStore } from "../../../services/federation/epcis";
import { bearer, get, sharedNode, tokenFor } from "../api/helpers";
import { EPCIS_CONTEXT, captureAndWait, epcisDocument, member, orgIdOf } from "../epcis/helpers";
import { observedAt } from "../../helpers/epcis";

/**
 * Which batch carries a freight leg declared on an EPCIS shipping event (docs/analytics.md,
 * "Transport legs", "Which batch carries a leg"): the portion the event's applied mapping moved, or,
 * with no such mapping here, the lot as a whole only when the event moved the whole lot; otherwise
 * a `transport_unattributed` gap, never a charge on the lot's first portion (which every portion of
 * the lot, and everything made from it, inherits). Goods use item references 798x, which nothing
 * else uses; no production run records them, so each footprint's known part is its freight alone.
 */
const PRODUCER = { account: member("producer").account, prefix: member("producer").companyPrefixes[0] };
const PROCESSOR_PREFIX = member("processor").companyPrefixes[0];
const PART = gtinFor(PRODUCER.prefix, 7981); // KGM: a lot split before its partial, unmapped shipment
const WHOLE = gtinFor(PRODUCER.prefix, 7982); // KGM: a lot shipped whole, unmapped, split afterwards
const ELSEWHERE = gtinFor(PRODUCER.prefix, 7983); // KGM: a lot in no other lot's lineage
const OFFERED = gtinFor(PRODUCER.prefix, 7984); // KGM: a partial shipment mapped to an offer and accepted
const PRODUCER_GLN = glnFor(PRODUCER.prefix, 1);
const PROCESSOR_GLN = glnFor(PROCESSOR_PREFIX, 1);
const HUB_GLN = glnFor("9999997", 1); // no member's: the mapping refuses the shipment (not_applied)
const LOTLINE_NS = { lotline: "https://lotline.dev/epcis/" };
const sgln = (gln: string) => `urn:epc:id:sgln:${gln.slice(0, 7)}.${gln.slice(7, 12)}.0`;
const pgln = (gln: string) => `urn:epc:id:pgln:${gln.slice(0, 7)}.${gln.slice(7, 12)}`;
const lgtin = (gtin: string, lot: string) => `urn:epc:class:lgtin:${gtin.slice(1, 8)}.${gtin[0]}${gtin.slice(8, 13)}.${lot}`;

function shipping(
  at: number,
  gtin: string,
  lot: string,
  kg: number,
  to: "hub" | "processor",
  leg: Record<string, unknown>,
): Record<string, unknown> {
  return observedAt(at, {
    bizStep: "shipping",
    disposition: "in_transit",
    epcList: [],
    quantityList: [{ epcClass: lgtin(gtin, lot), quantity: kg, uom: "KGM" }],
    readPoint: { id: sgln(PRODUCER_GLN) },
    bizLocation: { id: sgln(PRODUCER_GLN) },
    sourceList: [{ type: "location", source: sgln(PRODUCER_GLN) }],
    destinationList:
      to === "hub"
        ? [{ type: "location", destination: sgln(HUB_GLN) }]
        : [
            { type: "possessing_party", destination: pgln(PROCESSOR_GLN) },
            { type: "location", destination: sgln(PROCESSOR_GLN) },
          ],
    ...leg,
  });
}

type Leg = { eventId: string; batchId: string; co2eKg: number; quantity: number };
type Footprint = {
  knownCo2ePerUnitKg: number;
  complete: boolean;
  stages: { type: string; batchId: string; ownCo2ePerUnitKg: number; co2eKg: number; transport: Leg[] | null }[];
  gaps: { batchId: string; reason: string; detail: string; orgId: string }[];
};

describe("which batch carries a freight leg of an EPCIS shipping event (node)", function () {
  this.timeout(120_000);
  let node: TestNode;
  let token: string;
  const ids: Record<string, string> = {};
  let partial: Record<string, unknown>;
  let whole: Record<string, unknown>;
  let elsewhere: Record<string, unknown>;
  let offered: Record<string, unknown>;
  const producerOrg = orgIdOf("producer");

  before(async function () {
    node = await sharedNode();
    await node.synced();
    token = await tokenFor(node, demoWallet(PRODUCER.account));
    const provenance = node.contracts.provenance.connect(demoWallet(PRODUCER.account, node.provider));
    const blockTime = async (receipt: { blockNumber: number } | null) =>
      (await node.provider.getBlock(receipt!.blockNumber))!.timestamp * 1000;
    for (const gtin of [PART, WHOLE, ELSEWHERE, OFFERED]) {
      await (
        await provenance.registerProduct(BigInt(gtin), unitToBytes3("KGM"), keccakText(`transport attribution test ${gtin}`))
      ).wait();
    }
    const zero = `0x${"00".repeat(32)}`;
    const registered = await (
      await provenance.registerLots([
        { gtin: BigInt(PART), lot: "PART-7981", quantity: 1_000_000n, gln: "", metadataHash: zero },
        { gtin: BigInt(WHOLE), lot: "WHOLE-7982", quantity: 1_000_000n, gln: "", metadataHash: zero },
        { gtin: BigInt(ELSEWHERE), lot: "ELSE-7983", quantity: 500_000n, gln: "", metadataHash: zero },
        { gtin: BigInt(OFFERED), lot: "OFFER-7984", quantity: 1_000_000n, gln: "", metadataHash: zero },
      ])
    ).wait();
    const registeredAt = await blockTime(registered);
    for (const [key, gtin, lot] of [
      ["part", PART, "PART-7981"],
      ["whole", WHOLE, "WHOLE-7982"],
      ["elsewhere", ELSEWHERE, "ELSE-7983"],
      ["offered", OFFERED, "OFFER-7984"],
    ]) {
      ids[key] = (await provenance.lotId(BigInt(gtin), lot)).toLowerCase();
    }
    // Chain times are whole seconds and the test chain mines many blocks in one: each step is moved 10 s on.
    const later = () => node.provider.send("evm_increaseTime", [10]);

    // 1. 300 kg are split off the first lot; then 700 kg of the lot leave for a hub that is no member's, by road:
    //    the mapping refuses the shipment, so nothing ties the event to a portion.
    await later();
    const split = await (await provenance.split(ids.part, [300_000n])).wait();
    ids.partKept = (await provenance.portionId(ids.part, 0)).toLowerCase();
    partial = shipping((await blockTime(split)) + 5000, PART, "PART-7981", 700, "hub", {
      "lotline:transportMode": "road",
      "lotline:distanceKm": 250,
    });

    // 2. The whole 1,000 kg of the second lot leave for the hub (mapping refused too); the lot is split afterwards.
    whole = shipping(registeredAt + 2000, WHOLE, "WHOLE-7982", 1000, "hub", {
      "lotline:transportMode": "road",
      "lotline:distanceKm": 100,
    });

    // 3. A lot that no other lot here is made from: its 1,000 km air leg belongs to it alone.
    elsewhere = shipping(registeredAt + 2000, ELSEWHERE, "ELSE-7983", 500, "hub", {
      "lotline:transportMode": "air",
      "lotline:distanceKm": 1000,
    });

    // 4. 400 kg of the fourth lot go to the processor, by road: mapped to an offer of 400 kg of the lot, which the
    //    processor accepts, splitting the 400 kg off as its own portion.
    offered = shipping(registeredAt + 2000, OFFERED, "OFFER-7984", 400, "processor", {
      "lotline:transportMode": "road",
      "lotline:distanceKm": 50,
    });

    const job = await captureAndWait(node, token, epcisDocument([partial, whole, elsewhere, offered], [LOTLINE_NS]));
    expect(job.success, JSON.stringify(job.errors)).to.equal(true);
    await mappingJobFor(node.db)!.runOnce();
    await node.synced();
    const mapping = (event: Record<string, unknown>) =>
      node.db
        .prepare(`SELECT m.status, m.reason FROM epcis_mappings m JOIN epcis_events e ON e.seq = m.seq WHERE e.event_id = ?`)
        .get(event.eventID) as { status: string; reason: string | null };
    for (const event of [partial, whole, elsewhere])
      expect(mapping(event).status, mapping(event).reason ?? "").to.equal("not_applied");
    expect(mapping(offered).status, mapping(offered).reason ?? "").to.equal("applied");

    await later();
    await (await provenance.split(ids.whole, [250_000n])).wait();
    ids.wholePortion = (await provenance.portionId(ids.whole, 0)).toLowerCase();
    const processor = node.contracts.provenance.connect(demoWallet(member("processor").account, node.provider));
    await (await processor.accept(ids.offered, 400_000n, HANDOVER_KINDS.custody, "")).wait();
    ids.offeredMoved = (await provenance.portionId(ids.offered, 0)).toLowerCase();
    await node.synced();
  });

  async function footprint(batchId: string): Promise<Footprint> {
    const res = await get(node, `/api/v1/batches/${batchId}/footprint`, bearer(token));
    expect(res.status, res.text).to.equal(200);
    return res.body as Footprint;
  }
  const transportStages = (fp: Footprint) => fp.stages.filter((s) => s.type === "transport");
  const legsOf = (fp: Footprint) => transportStages(fp).flatMap((s) => s.transport ?? []);
  const gapsNaming = (fp: Footprint, event: Record<string, unknown>) =>
    fp.gaps.filter((g) => g.detail.includes(event.eventID as string));

  it("does not charge a portion the shipment may never have moved with a leg no mapping ties to a portion: a transport_unattributed gap", async function () {
    const fp = await footprint(ids.partKept);
    // Before: the 300 kg kept back inherited the lot's transport stage, 250 × 0.7 × 0.107 / 700 kg per kg.
    expect(legsOf(fp)).to.deep.equal([]);
    expect(fp.knownCo2ePerUnitKg).to.equal(0);
    const [gap] = gapsNaming(fp, partial);
    expect(gap).to.include({ reason: "transport_unattributed", batchId: ids.part, orgId: producerOrg });
    expect(gap.detail)
      .to.match(/lot PART-7981/)
      .and.match(/not applied/)
      .and.match(/700 of the 1000 KGM/);
  });

  it("does not charge the lot itself with it either, least of all per kg of the 700 kg over all its 1,000 kg", async function () {
    const fp = await footprint(ids.part);
    expect(transportStages(fp)).to.deep.equal([]);
    expect(gapsNaming(fp, partial).map((g) => g.reason)).to.deep.equal(["transport_unattributed"]);
    expect(fp.complete).to.equal(false);
  });

  it("says why nothing ties it while its mapping is pending", function () {
    const seq = (node.db.prepare(`SELECT seq FROM epcis_events WHERE event_id = ?`).get(partial.eventID) as { seq: number }).seq;
    const lot = node.db
      .prepare(`SELECT batch_id AS id, lot_id AS lotId, gtin, lot, unit FROM batches WHERE batch_id = ?`)
      .get(ids.part) as {
      id: string;
      lotId: string;
      gtin: string;
      lot: string;
      unit: string;
    };
    // Synchronous from the update to the restore: the node's mapping job cannot run in between.
    const was = node.db.prepare(`SELECT status FROM epcis_mappings WHERE seq = ?`).get(seq) as { status: string };
    node.db.prepare(`UPDATE epcis_mappings SET status = 'pending' WHERE seq = ?`).run(seq);
    try {
      const { legs, unattributed } = epcisTransportLegs(node.db, lot);
      expect(legs).to.deep.equal([]);
      expect(unattributed.map((u) => u.leg.eventId)).to.deep.equal([partial.eventID]);
      expect(unattributed[0].why).to.match(/mapping is pending/);
    } finally {
      node.db.prepare(`UPDATE epcis_mappings SET status = ? WHERE seq = ?`).run(was.status, seq);
    }
  });

  it("charges a leg of the whole lot that no mapping ties to a portion to the lot, once: 100 km × 1 t × 0.107 over its 1,000 kg", async function () {
    const fp = await footprint(ids.whole);
    const [stage] = transportStages(fp);
    expect(stage.batchId).to.equal(ids.whole);
    expect(stage.ownCo2ePerUnitKg).to.be.closeTo((100 * 1 * TRANSPORT_FACTORS.road.value) / 1000, 1e-12);
    expect(stage.co2eKg).to.be.closeTo(100 * 1 * TRANSPORT_FACTORS.road.value, 1e-9);
    expect(fp.gaps.filter((g) => g.reason.startsWith("transport"))).to.deep.equal([]);
  });

  it("lets a portion split off after the whole lot travelled inherit the lot's leg per kg", async function () {
    const fp = await footprint(ids.wholePortion);
    expect(legsOf(fp).map((l) => l.eventId)).to.deep.equal([whole.eventID]);
    expect(fp.knownCo2ePerUnitKg).to.be.closeTo((100 * 1 * TRANSPORT_FACTORS.road.value) / 1000, 1e-12);
  });

  it("leaves a leg of goods outside the lineage out of it: no stage, no gap", async function () {
    for (const id of [ids.part, ids.partKept, ids.whole, ids.offered]) {
      const fp = await footprint(id);
      expect(legsOf(fp).map((l) => l.eventId)).to.not.include(elsewhere.eventID);
      expect(gapsNaming(fp, elsewhere)).to.deep.equal([]);
    }
    expect(legsOf(await footprint(ids.elsewhere)).map((l) => l.co2eKg)).to.deep.equal([1000 * 0.5 * TRANSPORT_FACTORS.air.value]);
  });

  it("charges a mapped partial shipment to the portion the acceptance split off, not to the lot it was offered from", async function () {
    const moved = await footprint(ids.offeredMoved);
    const [stage] = transportStages(moved);
    expect(stage.batchId).to.equal(ids.offeredMoved);
    expect(stage.transport!.map((l) => l.quantity)).to.deep.equal([400]);
    expect(stage.ownCo2ePerUnitKg).to.be.closeTo((50 * 0.4 * TRANSPORT_FACTORS.road.value) / 400, 1e-12);
    // The 600 kg left at the producer did not travel; before, the lot carried 50 × 0.4 × 0.107 / 400 kg per kg on all 1,000 kg.
    const lot = await footprint(ids.offered);
    expect(transportStages(lot)).to.deep.equal([]);
    expect(lot.knownCo2ePerUnitKg).to.equal(0);
    expect(lot.gaps.filter((g) => g.reason.startsWith("transport"))).to.deep.equal([]);
    expect(legsOf(moved)[0]).to.include({ eventId: offered.eventID });
  });

  describe("a replica of another member's shipment of part of a split lot", function () {
    let replica: Record<string, unknown>;

    before(function () {
      // The processor, which took the 400 kg, ships 200 kg of the lot on; its node holds the event, mapped there (ADR 0025).
      replica = shipping(Date.now(), OFFERED, "OFFER-7984", 200, "hub", {
        "lotline:transportMode": "road",
        "lotline:distanceKm": 30,
      });
      const processorOrg = orgIdOf("processor");
      const proof = { merkleRoot: `0x${"33".repeat(32)}`, proof: [], anchoredBy: { orgId: processorOrg } } as never;
      const stored = createEpcisReplicaStore(node.db).store(
        {
          class: "EPCIS",
          owner: processorOrg,
          recordId: "ev_node_c_7984",
          record: { event: replica, context: [EPCIS_CONTEXT, LOTLINE_NS] },
          leaf: `0x${"44".repeat(32)}`,
          proof,
        },
        "https://node-c.test",
      );
      expect(stored).to.equal("stored");
    });

    it("is a transport_unattributed gap of the lot, naming the node that served it, not a charge on the lot's first portion", async function () {
      const processor = await tokenFor(node, demoWallet(member("processor").account));
      const res = await get(node, `/api/v1/batches/${ids.offered}/footprint`, bearer(processor));
      expect(res.status, res.text).to.equal(200);
      const fp = res.body as Footprint;
      expect(transportStages(fp)).to.deep.equal([]);
      const [gap] = gapsNaming(fp, replica);
      expect(gap).to.include({ reason: "transport_unattributed", batchId: ids.offered, orgId: orgIdOf("processor") });
      expect(gap.detail)
        .to.match(/replica served by https:\/\/node-c\.test/)
        .and.match(/200 of the 1000 KGM/);
    });
  });
});
