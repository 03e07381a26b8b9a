import crypto from "node:crypto";
import { expect } from "chai";
import { id as keccakText } from "ethers";
import type { TestNode } from "../../helpers/node";
import { demoWallet } from "../../../services/demo/roster";
import { glnFor, gtinFor, ssccFor } from "../../../services/gs1/keys";
import { unitToBytes3 } from "../../../services/provenance/quantity";
import { HANDOVER_KINDS } from "../../../services/provenance/acceptance";
import { mappingJobFor } from "../../../services/epcis/mapping/job";
import { lotIdOf } from "../../../services/epcis/mapping/plan";
import { mappingView, updateMapping } from "../../../services/epcis/mapping/queue";
import { eventsById } from "../../../services/epcis/store";
import { createProvenanceStore } from "../../../services/store/provenance";
import { sharedNode, tokenFor } from "../api/helpers";
import { captureAndWait, epcisDocument, member } from "./helpers";

/**
 * The mapping onto provenance of creating_class_instance, of shipping and receiving events naming
 * several lots (one set, all or none, every call simulated first), and of error declarations and
 * their corrective events, on the shared node (Anvil; integration key of organisation 1). Goods use
 * item references 77xx, which no other test file uses.
 */
const PRODUCER = { org: 1, account: member("producer").account, prefix: "4012345" };
const PROCESSOR = { org: 2, account: member("processor").account, prefix: "5412345" };
const OIL = gtinFor(PRODUCER.prefix, 7701); // LTR
const FLOUR = gtinFor(PRODUCER.prefix, 7702); // KGM
const RIVAL_SUGAR = gtinFor(PROCESSOR.prefix, 7701); // organisation 2's, KGM
const PRODUCER_GLN = glnFor(PRODUCER.prefix, 1);
const PROCESSOR_GLN = glnFor(PROCESSOR.prefix, 1);
const CARRIER_GLN = glnFor("8712345", 1); // organisation 4

const lgtin = (gtin: string, lot: string) => `urn:epc:class:lgtin:${gtin.slice(1, 8)}.${gtin[0]}${gtin.slice(8, 13)}.${lot}`;
const sgln = (gln: string) => `urn:epc:id:sgln:${gln.slice(0, 7)}.${gln.slice(7, 12)}.0`;
const pgln = (gln: string) => `urn:epc:id:pgln:${gln.slice(0, 7)}.${gln.slice(7, 12)}`;

let clock = Date.now() - 3_000_000;
function event(type: string, fields: Record<string, unknown>): Record<string, unknown> {
  clock += 60_000;
  return { type, eventID: `urn:uuid:${crypto.randomUUID()}`, eventTime: new Date(clock).toISOString(), eventTimeZoneOffset: "+00:00", ...fields };
}

type Mapping = { status: string; effect: string | null; reason: string | null; transactionHash: string | null; transactions: string[]; details: Record<string, unknown> | null };

describe("EPCIS mapping: creating_class_instance, multi-lot sets, error declarations", function () {
  this.timeout(180_000);
  let node: TestNode;
  let token: string;
  let processorToken: string;

  /** Captures one document of events, runs the mapping job, returns each event's last stored record's mapping. */
  async function captureAndMap(agentToken: string, ...events: Record<string, unknown>[]): Promise<Mapping[]> {
    const job = await captureAndWait(node, agentToken, epcisDocument(events));
    expect(job.success, JSON.stringify(job.errors)).to.equal(true);
    await mappingJobFor(node.db)!.runOnce();
    return events.map((e) => mappingOf(e));
  }
  const mappingOf = (e: Record<string, unknown>) => {
    const rows = eventsById(node.db, e.eventID as string);
    return mappingView(node.db, rows[rows.length - 1]) as Mapping;
  };
  const mapOne = async (e: Record<string, unknown>) => (await captureAndMap(token, e))[0];
  const batch = (id: string) => createProvenanceStore(node.db).getBatch(id)!;

  const commissioning = (gtin: string, lot: string, quantity: number, uom: string, bizStep = "commissioning") =>
    event("ObjectEvent", {
      action: "ADD",
      bizStep,
      epcList: [],
      quantityList: [{ epcClass: lgtin(gtin, lot), quantity, uom }],
      bizLocation: { id: sgln(PRODUCER_GLN) },
    });
  const shipping = (lots: [string, string, number, string][], to = PROCESSOR_GLN) =>
    event("ObjectEvent", {
      action: "OBSERVE",
      bizStep: "shipping",
      epcList: [],
      quantityList: lots.map(([gtin, lot, quantity, uom]) => ({ epcClass: lgtin(gtin, lot), quantity, uom })),
      readPoint: { id: sgln(PRODUCER_GLN) },
      destinationList: [
        { type: "owning_party", destination: pgln(to) },
        { type: "location", destination: sgln(to) },
      ],
    });
  /** The event again, declared erroneous (same hash ID), naming its corrective events. */
  const declaration = (original: Record<string, unknown>, correctiveEventIDs: string[] = []): Record<string, unknown> => ({
    ...original,
    errorDeclaration: { declarationTime: new Date(clock + 30_000).toISOString(), reason: "incorrect_data", ...(correctiveEventIDs.length ? { correctiveEventIDs } : {}) },
  });

  before(async function () {
    node = await sharedNode();
    await node.synced();
    token = await tokenFor(node, demoWallet(PRODUCER.account));
    processorToken = await tokenFor(node, demoWallet(PROCESSOR.account));
    const producer = node.contracts.provenance.connect(demoWallet(PRODUCER.account, node.provider));
    await (await producer.registerProduct(BigInt(OIL), unitToBytes3("LTR"), keccakText(`sets ${OIL}`))).wait();
    await (await producer.registerProduct(BigInt(FLOUR), unitToBytes3("KGM"), keccakText(`sets ${FLOUR}`))).wait();
    const processor = node.contracts.provenance.connect(demoWallet(PROCESSOR.account, node.provider));
    await (await processor.registerProduct(BigInt(RIVAL_SUGAR), unitToBytes3("KGM"), keccakText(`sets ${RIVAL_SUGAR}`))).wait();
    await (
      await processor.registerLots(
        ["SET-R1", "SET-R2", "SET-R3"].map((lot) => ({ gtin: BigInt(RIVAL_SUGAR), lot, quantity: 100_000n, gln: "", metadataHash: keccakText(lot) })),
      )
    ).wait();
    await node.synced();
  });

  describe("creating_class_instance", function () {
    it("commissions the lots of a quantityList as commissioning does (registerLots)", async function () {
      const mapping = await mapOne(commissioning(OIL, "SET-A", 1000, "LTR", "creating_class_instance"));
      expect(mapping, mapping.reason ?? "").to.include({ status: "applied", effect: "registerLots" });
      expect(batch(lotIdOf(OIL, "SET-A"))).to.include({ quantity: "1000", unit: "LTR", ownerOrgId: "1", location: PRODUCER_GLN });
    });
  });

  describe("a shipping or receiving event naming several lots: one set, all or none", function () {
    before(async function () {
      expect(await mapOne(commissioning(OIL, "SET-B", 500, "LTR"))).to.include({ status: "applied" });
      expect(await mapOne(commissioning(FLOUR, "SET-C", 200, "KGM"))).to.include({ status: "applied" });
    });

    it("offers every lot of a shipping event, one transaction each, after simulating them all", async function () {
      const mapping = await mapOne(shipping([[OIL, "SET-B", 100, "LTR"], [FLOUR, "SET-C", 50, "KGM"]]));
      expect(mapping, mapping.reason ?? "").to.include({ status: "applied", effect: "offer" });
      expect(mapping.transactions).to.have.length(2);
      expect(mapping.details).to.deep.include({ allOrNone: true });
      expect((mapping.details!.goods as { batchId: string }[]).map((g) => g.batchId)).to.deep.equal([lotIdOf(OIL, "SET-B"), lotIdOf(FLOUR, "SET-C")]);
      expect(batch(lotIdOf(OIL, "SET-B")).pendingOffer).to.deep.equal({ toOrgId: "2", kind: "both", quantity: "100" });
      expect(batch(lotIdOf(FLOUR, "SET-C")).pendingOffer).to.deep.equal({ toOrgId: "2", kind: "both", quantity: "50" });
    });

    it("refuses a multi-lot shipping event naming a rival's lot: nothing of it is applied", async function () {
      expect(await mapOne(commissioning(OIL, "SET-D", 300, "LTR"))).to.include({ status: "applied" });
      // Organisation 1 ships its own lot and organisation 2's to a third member, the carrier.
      const mapping = await mapOne(shipping([[OIL, "SET-D", 100, "LTR"], [RIVAL_SUGAR, "SET-R1", 10, "KGM"]], CARRIER_GLN));
      expect(mapping.status).to.equal("not_applied");
      expect(mapping.reason).to.match(/^needs another member's signature: organisation 2 must offer lot SET-R1 .*applied all or none: nothing of it was applied\)$/);
      expect(mapping.transactions).to.deep.equal([]);
      expect(batch(lotIdOf(OIL, "SET-D"))).to.include({ status: "active", pendingOffer: null });
      expect(batch(lotIdOf(RIVAL_SUGAR, "SET-R1"))).to.include({ status: "active", pendingOffer: null, ownerOrgId: "2" });
    });

    it("sends nothing when the simulation of one lot's offer reverts (more than the lot holds)", async function () {
      const mapping = await mapOne(shipping([[OIL, "SET-D", 100, "LTR"], [OIL, "SET-A", 5000, "LTR"]]));
      expect(mapping.status).to.equal("not_applied");
      expect(mapping.reason).to.match(/^refused by the contract: ProvenanceInsufficientQuantity\(0x[0-9a-f]{64}, 1000000, 5000000\); nothing was sent$/);
      expect(mapping.transactions).to.deep.equal([]);
      expect(batch(lotIdOf(OIL, "SET-D"))).to.include({ status: "active", pendingOffer: null });
    });

    it("withdraws the offers already made when a later call of the set fails on-chain (the chain changed after the simulation)", async function () {
      // Two offers of the same portion: each passes the simulation alone, the second reverts once the first is mined.
      const e = event("ObjectEvent", { action: "OBSERVE", bizStep: "storing", epcList: [] });
      await captureAndMap(token, e);
      const seq = eventsById(node.db, e.eventID as string)[0].seq;
      const offer = { contract: "provenance", fn: "offer", args: [lotIdOf(OIL, "SET-D"), "50000", "2", String(HANDOVER_KINDS.both)] };
      updateMapping(node.db, seq, { status: "pending", effect: "offer", details: { calls: [offer, offer], transactions: [] } });
      await mappingJobFor(node.db)!.runOnce();
      const mapping = mappingOf(e);
      expect(mapping.status).to.equal("not_applied");
      expect(mapping.reason).to.match(/^refused by the contract: ProvenanceNotActive\(0x[0-9a-f]{64}, 2\); the 1 of 2 transactions applied before were withdrawn \(cancelOffer\): nothing of the event remains$/);
      expect(mapping.details!.partial).to.deep.include({ withdrawn: true });
      await node.synced();
      expect(batch(lotIdOf(OIL, "SET-D"))).to.include({ status: "active", pendingOffer: null, quantity: "300" });
    });

    it("accepts every lot of a receiving event offered to the organisation, all in one set", async function () {
      const processor = node.contracts.provenance.connect(demoWallet(PROCESSOR.account, node.provider));
      for (const lot of ["SET-R2", "SET-R3"]) {
        await (await processor.offer(lotIdOf(RIVAL_SUGAR, lot), 40_000n, PRODUCER.org, HANDOVER_KINDS.both)).wait();
      }
      await node.synced();
      const mapping = await mapOne(
        event("ObjectEvent", {
          action: "OBSERVE",
          bizStep: "receiving",
          epcList: [],
          quantityList: ["SET-R2", "SET-R3"].map((lot) => ({ epcClass: lgtin(RIVAL_SUGAR, lot), quantity: 40, uom: "KGM" })),
          bizLocation: { id: sgln(PRODUCER_GLN) },
        }),
      );
      expect(mapping, mapping.reason ?? "").to.include({ status: "applied", effect: "accept" });
      expect(mapping.transactions).to.have.length(2);
      await node.synced();
      for (const lot of ["SET-R2", "SET-R3"]) {
        const portion = await node.contracts.provenance.portionId(lotIdOf(RIVAL_SUGAR, lot), 0);
        expect(batch(portion)).to.include({ quantity: "40", ownerOrgId: "1", custodianOrgId: "1", location: PRODUCER_GLN });
      }
    });
  });

  describe("error declarations and corrective events", function () {
    let shipped: Record<string, unknown>;
    before(async function () {
      expect(await mapOne(commissioning(OIL, "SET-E", 900, "LTR"))).to.include({ status: "applied" });
      shipped = shipping([[OIL, "SET-E", 400, "LTR"]]);
      expect(await mapOne(shipped)).to.include({ status: "applied", effect: "offer" });
    });

    it("refuses a rival's error declaration of the organisation's event: the offer stays", async function () {
      const [mapping] = await captureAndMap(processorToken, declaration(shipped));
      expect(mapping).to.include({ status: "not_applied", effect: "reverse" });
      expect(mapping.reason).to.equal(
        "declared by organisation 2, but organisation 1 captured the event: only the organisation that captured an event may declare it erroneous; nothing is reversed",
      );
      expect(batch(lotIdOf(OIL, "SET-E")).pendingOffer).to.deep.equal({ toOrgId: "2", kind: "both", quantity: "400" });
    });

    it("withdraws an offer not yet accepted (cancelOffer), then applies the corrective event it names", async function () {
      // The corrective event comes first in the document: refused while the erroneous offer is pending, mapped again after the withdrawal.
      const corrective = shipping([[OIL, "SET-E", 300, "LTR"]]);
      const declared = declaration(shipped, [corrective.eventID as string]);
      const [correctiveMapping, declarationMapping] = await captureAndMap(token, corrective, declared);
      expect(declarationMapping, declarationMapping.reason ?? "").to.include({ status: "applied", effect: "reverse" });
      expect(declarationMapping.details).to.deep.include({ originalEffect: "offer", withdraw: ["cancelOffer"] });
      expect(correctiveMapping, correctiveMapping.reason ?? "").to.include({ status: "applied", effect: "offer" });
      await node.synced();
      expect(batch(lotIdOf(OIL, "SET-E")).pendingOffer).to.deep.equal({ toOrgId: "2", kind: "both", quantity: "300" });
      const withdrawn = createProvenanceStore(node.db).history(lotIdOf(OIL, "SET-E")).filter((i) => i.type === "offer_withdrawn");
      expect(withdrawn.map((i) => i.details.reason)).to.deep.equal([`EPCIS error declaration epcis:event:${eventsById(node.db, declared.eventID as string).at(-1)!.seq}`]);
    });

    it("unpacks a packing declared erroneous while the unit still holds what was packed", async function () {
      const sscc = ssccFor(PRODUCER.prefix, 7701);
      expect(await mapOne(commissioning(OIL, "SET-G", 20, "LTR"))).to.include({ status: "applied" });
      const packing = event("AggregationEvent", { action: "ADD", bizStep: "packing", parentID: `https://id.gs1.org/00/${sscc}`, childEPCs: [`https://id.gs1.org/01/${OIL}/10/SET-G`] });
      expect(await mapOne(packing)).to.include({ status: "applied", effect: "pack" });
      expect(batch(lotIdOf(OIL, "SET-G")).logisticUnit).to.include({ sscc });
      const mapping = await mapOne(declaration(packing));
      expect(mapping, mapping.reason ?? "").to.include({ status: "applied", effect: "reverse" });
      expect(mapping.details).to.deep.include({ withdraw: ["unpack"] });
      expect(batch(lotIdOf(OIL, "SET-G")).logisticUnit).to.equal(null);
    });

    it("removes the order link of a po event declared erroneous, without a transaction", async function () {
      const { order_id: orderId } = node.db.prepare(`SELECT order_id FROM orders WHERE seller_org = 1 ORDER BY order_id LIMIT 1`).get() as { order_id: number };
      const linking = event("TransactionEvent", { action: "ADD", bizTransactionList: [{ type: "po", bizTransaction: `urn:lotline:po:${orderId}` }], epcList: [] });
      expect(await mapOne(linking)).to.include({ status: "applied", effect: "link" });
      const linked = () => (node.db.prepare(`SELECT COUNT(*) AS n FROM epcis_order_links WHERE seq = ?`).get(eventsById(node.db, linking.eventID as string)[0].seq) as { n: number }).n;
      expect(linked()).to.equal(1);
      expect(await mapOne(declaration(linking))).to.include({ status: "applied", effect: "reverse", transactionHash: null });
      expect(linked()).to.equal(0);
    });

    it("marks a registration declared erroneous as irreversible, sending nothing", async function () {
      const registered = commissioning(FLOUR, "SET-F", 10, "KGM");
      expect(await mapOne(registered)).to.include({ status: "applied", effect: "registerLots" });
      const mapping = await mapOne(declaration(registered));
      expect(mapping).to.include({ status: "not_applied", effect: "reverse", transactionHash: null });
      expect(mapping.reason).to.match(/^cannot be reversed on-chain: a registration cannot be reversed on-chain/);
      expect(mapping.details).to.deep.include({ irreversible: true, originalEffect: "registerLots" });
      expect(batch(lotIdOf(FLOUR, "SET-F"))).to.include({ status: "active", quantity: "10" });
    });
  });
});
