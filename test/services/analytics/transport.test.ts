import crypto from "node:crypto";
import { expect } from "chai";
import { id as keccakText } from "ethers";
import type { TestNode } from "../../helpers/node";
import { demoWallet } from "../../../services/demo/roster";
import { glnFor, gtinFor } from "../../../services/gs1/keys";
import { unitToBytes3 } from "../../../services/provenance/quantity";
import { mappingJobFor } from "../../../services/epcis/mapping/job";
import { TRANSPORT_FACTORS } from "../../../services/analytics/emissions";
import { bearer, get, sharedNode, tokenFor } from "../api/helpers";
import { captureAndWait, epcisDocument, member } from "../epcis/helpers";

/**
 * Freight legs between custody hand-overs from captured EPCIS shipping events (docs/analytics.md,
 * "Transport legs"): the producer ships a lot to the processor with Lotline's transport fields, the
 * node's mapping job offers it on-chain, and the lot's footprint gains a transport stage computed
 * from the event. Goods use item references 796x, which nothing else uses. No production run records
 * the lot (a run would move the producer's productivity windows other tests read): the footprint
 * has that gap, and its known part is the freight leg alone.
 */
const PRODUCER = { account: member("producer").account, prefix: member("producer").companyPrefixes[0] };
const PROCESSOR_PREFIX = member("processor").companyPrefixes[0];
const CURD = gtinFor(PRODUCER.prefix, 7961); // KGM
const LOT = "TRUCK-7961";
const PRODUCER_GLN = glnFor(PRODUCER.prefix, 1);
const PROCESSOR_GLN = glnFor(PROCESSOR_PREFIX, 1);
const lgtin = (gtin: string, lot: string) => `urn:epc:class:lgtin:${gtin.slice(1, 8)}.${gtin[0]}${gtin.slice(8, 13)}.${lot}`;
const sgln = (gln: string) => `urn:epc:id:sgln:${gln.slice(0, 7)}.${gln.slice(7, 12)}.0`;
const pgln = (gln: string) => `urn:epc:id:pgln:${gln.slice(0, 7)}.${gln.slice(7, 12)}`;
const LOTLINE_NS = { lotline: "https://lotline.dev/epcis/" };

function shipping(transport: Record<string, unknown>): Record<string, unknown> {
  return {
    type: "ObjectEvent",
    eventID: `urn:uuid:${crypto.randomUUID()}`,
    eventTime: new Date(Date.now() - 600_000).toISOString(),
    eventTimeZoneOffset: "+00:00",
    action: "OBSERVE",
    bizStep: "shipping",
    disposition: "in_transit",
    epcList: [],
    quantityList: [{ epcClass: lgtin(CURD, LOT), quantity: 2000, uom: "KGM" }],
    readPoint: { id: sgln(PRODUCER_GLN) },
    bizLocation: { id: sgln(PRODUCER_GLN) },
    sourceList: [{ type: "location", source: sgln(PRODUCER_GLN) }],
    destinationList: [
      { type: "possessing_party", destination: pgln(PROCESSOR_GLN) },
      { type: "location", destination: sgln(PROCESSOR_GLN) },
    ],
    ...transport,
  };
}

type Leg = { eventId: string; from: string; to: string; mode: string; distanceKm: number; tonnes: number; kgCo2ePerTonneKm: number; co2eKg: number; quantity: number };
type Stage = { type: string; batchId: string; ownCo2ePerUnitKg: number; co2eKg: number; transport: Leg[] | null; runIds: string[] };

describe("transport legs from EPCIS shipping events", function () {
  this.timeout(120_000);
  let node: TestNode;
  let token: string;
  let lotId: string;
  const road = shipping({ "lotline:transportMode": "road", "lotline:distanceKm": 250 });
  const teleport = shipping({ "lotline:transportMode": "teleport", "lotline:distanceKm": 10 });

  before(async function () {
    node = await sharedNode();
    await node.synced();
    token = await tokenFor(node, demoWallet(PRODUCER.account));
    const producer = node.contracts.provenance.connect(demoWallet(PRODUCER.account, node.provider));
    await (await producer.registerProduct(BigInt(CURD), unitToBytes3("KGM"), keccakText(`transport test ${CURD}`))).wait();
    const zero = `0x${"00".repeat(32)}`;
    await (await producer.registerLots([{ gtin: BigInt(CURD), lot: LOT, quantity: 2_000_000n, gln: "", metadataHash: zero }])).wait();
    lotId = (await producer.lotId(BigInt(CURD), LOT)).toLowerCase();
    await node.synced();
    // Captured as the producer, mapped by the node's integration key (the producer's): an offer to the processor.
    const job = await captureAndWait(node, token, epcisDocument([road], [LOTLINE_NS]));
    expect(job.success, JSON.stringify(job.errors)).to.equal(true);
    await mappingJobFor(node.db)!.runOnce();
    await node.synced();
  });

  async function footprint(as = token) {
    const res = await get(node, `/api/v1/batches/${lotId}/footprint`, bearer(as));
    expect(res.status, res.text).to.equal(200);
    return res.body as { co2ePerUnitKg: number | null; knownCo2ePerUnitKg: number; complete: boolean; stages: Stage[]; gaps: { reason: string; detail: string; orgId: string }[]; boundary: { recorded: string[]; label: string }; scopesPerUnitKg: { scope3Upstream: number } };
  }

  it("adds the shipped lot's freight leg as a transport stage: 250 km × 2 t × the road factor, per kg moved", async function () {
    const fp = await footprint();
    const transport = fp.stages.find((s) => s.type === "transport")!;
    expect(transport.batchId).to.equal(lotId);
    const expected = (250 * 2 * TRANSPORT_FACTORS.road.value) / 2000; // 0.02675 kg CO2e per kg
    expect(transport.ownCo2ePerUnitKg).to.be.closeTo(expected, 1e-12);
    expect(transport.co2eKg).to.be.closeTo(250 * 2 * 0.107, 1e-9);
    expect(fp.knownCo2ePerUnitKg).to.be.closeTo(expected, 1e-12);
    expect(fp.scopesPerUnitKg.scope3Upstream).to.be.closeTo(expected, 1e-12);
    expect(fp.boundary.recorded).to.deep.equal(["transport"]);
    // The lot's production is unrecorded: a gap, so no complete figure is claimed.
    expect(fp.gaps.map((g) => g.reason)).to.deep.equal(["no_production_run"]);
    expect(fp.co2ePerUnitKg).to.equal(null);
  });

  it("names where the leg came from: the EPCIS event, its places, mode, distance and mass", async function () {
    const leg = (await footprint()).stages.find((s) => s.type === "transport")!.transport![0];
    expect(leg).to.include({ eventId: road.eventID, from: PRODUCER_GLN, to: PROCESSOR_GLN, mode: "road", distanceKm: 250, tonnes: 2, quantity: 2000 });
    expect(leg.kgCo2ePerTonneKm).to.equal(0.107);
  });

  it("names a leg whose mode Lotline does not know as a transport_undetermined gap, never a zero", async function () {
    const job = await captureAndWait(node, token, epcisDocument([teleport], [LOTLINE_NS]));
    expect(job.success, JSON.stringify(job.errors)).to.equal(true);
    const fp = await footprint();
    expect(fp.knownCo2ePerUnitKg).to.be.closeTo((250 * 2 * 0.107) / 2000, 1e-12);
    const gap = fp.gaps.find((g) => g.reason === "transport_undetermined")!;
    expect(gap.detail).to.include(teleport.eventID as string).and.match(/lotline:transportMode must be one of road/);
  });

  it("refuses to show a reader the legs of shipping events the shipper did not share with it (not_shared)", async function () {
    const certifier = await tokenFor(node, demoWallet(member("certifier").account));
    const fp = await footprint(certifier);
    expect(fp.stages.filter((s) => s.type === "transport")).to.deep.equal([]);
    expect(fp.gaps.some((g) => g.reason === "not_shared" && /EPCIS shipping events/.test(g.detail))).to.equal(true);
    expect(fp.knownCo2ePerUnitKg).to.equal(0);
  });
});
