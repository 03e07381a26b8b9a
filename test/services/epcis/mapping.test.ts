import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import pino from "pino";
import { id as keccakText } from "ethers";
import type { TestNode } from "../../helpers/node";
import { loadConfig } from "../../../services/config";
import { startNode, type RunningNode } from "../../../services/node/node";
import { demoWallet } from "../../../services/demo/roster";
import { glnFor, gtinFor, ssccFor } from "../../../services/gs1/keys";
import { unitToBytes3 } from "../../../services/provenance/quantity";
import { mappingJobFor } from "../../../services/epcis/mapping/job";
import { eventFacts } from "../../../services/epcis/mapping/facts";
import { lotIdOf, planMapping } from "../../../services/epcis/mapping/plan";
import { mappingView } from "../../../services/epcis/mapping/queue";
import { eventsById } from "../../../services/epcis/store";
import { createProvenanceStore } from "../../../services/store/provenance";
import { bearer, get, sharedNode, tokenFor } from "../api/helpers";
import { captureAndWait, epcisDocument, eventsOf, member } from "./helpers";

/**
 * Stored EPCIS events mapped onto provenance by the node's mapping job with its integration key
 * (the shared node's is organisation 1's: the demo producer). A second node on the same chain with
 * organisation 2's integration key plays the receiver. Goods use item and serial references 76xx,
 * which neither the demo nor other test files use. Mappings and batches are read from the node's
 * database where the HTTP route is not the point (the node's rate limit is shared by all test files).
 */
const PRODUCER = { org: 1, account: member("producer").account, prefix: "4012345" };
const PROCESSOR = { org: 2, account: member("processor").account, prefix: "5412345" };
const MILK = gtinFor(PRODUCER.prefix, 7601); // LTR
const CHEESE = gtinFor(PRODUCER.prefix, 7602); // KGM
const BLEND = gtinFor(PRODUCER.prefix, 7603); // LTR
const UNKNOWN = gtinFor(PRODUCER.prefix, 7699); // never registered
const SSCC = ssccFor(PRODUCER.prefix, 7601);
const PRODUCER_GLN = glnFor(PRODUCER.prefix, 1);
const PROCESSOR_GLN = glnFor(PROCESSOR.prefix, 1);

/** `urn:epc:class:lgtin:4012345.007401.LOT` for a GTIN under a 7-digit prefix. */
const lgtin = (gtin: string, lot: string) => `urn:epc:class:lgtin:${gtin.slice(1, 8)}.${gtin[0]}${gtin.slice(8, 13)}.${lot}`;
const digitalLink = (gtin: string, lot: string) => `https://id.gs1.org/01/${gtin}/10/${encodeURIComponent(lot)}`;
const sgln = (gln: string) => `urn:epc:id:sgln:${gln.slice(0, 7)}.${gln.slice(7, 12)}.0`;
const pgln = (gln: string) => `urn:epc:id:pgln:${gln.slice(0, 7)}.${gln.slice(7, 12)}`;
const ssccUrn = (sscc: string) => `urn:epc:id:sscc:${sscc.slice(1, 8)}.${sscc[0]}${sscc.slice(8, 17)}`;

let clock = Date.now() - 3_600_000;
function event(type: string, fields: Record<string, unknown>): Record<string, unknown> {
  clock += 60_000;
  return { type, eventID: `urn:uuid:${crypto.randomUUID()}`, eventTime: new Date(clock).toISOString(), eventTimeZoneOffset: "+00:00", ...fields };
}

type Mapping = { status: string; effect: string | null; reason: string | null; transactionHash: string | null; details: Record<string, unknown> | null };

describe("EPCIS events mapped onto provenance", function () {
  this.timeout(300_000);
  let node: TestNode;
  let token: string;

  /** Captures events on a node, runs its mapping job and returns each event's mapping. */
  async function captureAndMap(on: Pick<TestNode, "db" | "url">, agentToken: string, ...events: Record<string, unknown>[]): Promise<Mapping[]> {
    const job = await captureAndWait(on as TestNode, agentToken, epcisDocument(events, [{ lotline: "https://lotline.dev/epcis/" }]));
    expect(job.success, JSON.stringify(job.errors)).to.equal(true);
    await mappingJobFor(on.db)!.runOnce();
    return events.map((e) => {
      const rows = eventsById(on.db, e.eventID as string);
      expect(rows).to.have.length(1);
      return mappingView(on.db, rows[0]) as Mapping;
    });
  }
  const mapOne = async (e: Record<string, unknown>) => (await captureAndMap(node, token, e))[0];

  /**
   * Organisation 2's own node on the same chain, with its integration key (demo account 11): the
   * receiver's side of a hand-over. Started on first use, synced to the chain's head on each use.
   */
  let receiver: RunningNode | null = null;
  let receiverDir = "";
  async function receiverNode(): Promise<RunningNode> {
    if (!receiver) {
      receiverDir = fs.mkdtempSync(path.join(os.tmpdir(), "lotline-receiver-"));
      const deploymentFile = path.join(receiverDir, "deployment.json");
      fs.writeFileSync(deploymentFile, JSON.stringify(node.state.deployment));
      const config = loadConfig({
        LOTLINE_DATA_DIR: receiverDir,
        LOTLINE_PORT: "0",
        LOTLINE_RPC_URL: node.chain!.url,
        LOTLINE_DEPLOYMENT_FILE: deploymentFile,
        LOTLINE_INTEGRATION_KEY: demoWallet(member("processor").integrationAccount).privateKey,
        LOTLINE_RELAYER_KEY: demoWallet(18).privateKey,
        LOTLINE_LOG_LEVEL: "silent",
      });
      receiver = await startNode(config, { logger: pino({ level: "silent" }) });
      await receiver.ready;
    }
    await receiver.state.indexer!.waitForBlock(await node.provider.getBlockNumber());
    return receiver;
  }

  after(async function () {
    await receiver?.stop();
    if (receiverDir) fs.rmSync(receiverDir, { recursive: true, force: true });
  });

  const batchesOf = async (gtin: string, lot: string) =>
    createProvenanceStore(node.db).listBatches({ gtin, lot }, { limit: 50, after: 0 }).items as unknown as Record<string, unknown>[];
  const batch = async (id: string) => {
    const found = createProvenanceStore(node.db).getBatch(id);
    expect(found, `batch ${id}`).to.not.equal(null);
    return found!;
  };

  const commissioning = (gtin: string, lot: string, quantity: number, uom: string, epcClass = lgtin(gtin, lot)) =>
    event("ObjectEvent", {
      action: "ADD",
      bizStep: "commissioning",
      disposition: "active",
      epcList: [],
      quantityList: [{ epcClass, quantity, uom }],
      readPoint: { id: sgln(PRODUCER_GLN) },
      bizLocation: { id: sgln(PRODUCER_GLN) },
    });

  const transformation = (inputs: [string, string, number, string][], outputs: [string, string, number, string][], extra: Record<string, unknown> = {}) =>
    event("TransformationEvent", {
      inputQuantityList: inputs.map(([gtin, lot, quantity, uom]) => ({ epcClass: lgtin(gtin, lot), quantity, uom })),
      outputQuantityList: outputs.map(([gtin, lot, quantity, uom]) => ({ epcClass: digitalLink(gtin, lot), quantity, uom })),
      bizStep: "commissioning",
      bizLocation: { id: sgln(PRODUCER_GLN) },
      ...extra,
    });

  before(async function () {
    node = await sharedNode();
    await node.synced();
    token = await tokenFor(node, demoWallet(PRODUCER.account));
    const producer = node.contracts.provenance.connect(demoWallet(PRODUCER.account, node.provider));
    // Milk and the blend declare their mass per litre (1.030 kg): mass balance compares litres with kilograms of cheese through it.
    for (const [gtin, unit, kgPerUnit] of [
      [MILK, "LTR", 1030n],
      [CHEESE, "KGM", 0n],
      [BLEND, "LTR", 1030n],
    ] as const) {
      const masterData = keccakText(`mapping test product ${gtin}`);
      if (kgPerUnit === 0n) await (await producer.registerProduct(BigInt(gtin), unitToBytes3(unit), masterData)).wait();
      else await (await producer.registerProductWithNetContent(BigInt(gtin), unitToBytes3(unit), unitToBytes3("KGM"), kgPerUnit, masterData)).wait();
    }
    await node.synced();
  });

  describe("commissioning → registerLots", function () {
    it("registers a lot of the organisation's product at its GLN, then visible in /api/v1/batches", async function () {
      const e = commissioning(MILK, "MAP-A", 1000, "LTR");
      const mapping = await mapOne(e);
      expect(mapping, mapping.reason ?? "").to.include({ status: "applied", effect: "registerLots", reason: null });
      expect(mapping.transactionHash).to.match(/^0x[0-9a-f]{64}$/);
      const listed = await get(node, `/api/v1/batches?gtin=${MILK}&lot=MAP-A`);
      expect(listed.status, listed.text).to.equal(200);
      const [lot] = listed.body.items;
      expect(lot).to.include({ id: lotIdOf(MILK, "MAP-A"), quantity: "1000", unit: "LTR", ownerOrgId: "1", custodianOrgId: "1", location: PRODUCER_GLN });
      // GET /epcis/events/{eventID}/mapping says so; the lot's metadata hash commits to the event's hash ID.
      const res = await get(node, `/epcis/events/${encodeURIComponent(e.eventID as string)}/mapping`, bearer(token));
      expect(res.status, res.text).to.equal(200);
      expect(res.body.eventID).to.equal(e.eventID);
      expect(res.body.records).to.have.length(1);
      expect(res.body.records[0]).to.deep.equal({ ...mapping, details: res.body.records[0].details });
      expect(res.body.records[0].details.calls[0]).to.include({ contract: "provenance", fn: "registerLots" });
      expect(lot.metadataHash).to.equal(keccakText(res.body.records[0].hashId));
    });

    it("converts the quantity to the product's unit (500,000 MLT of a product in LTR → 500), Digital Link classes too", async function () {
      const mapping = await mapOne(commissioning(MILK, "MAP-B", 500_000, "MLT", digitalLink(MILK, "MAP-B")));
      expect(mapping).to.include({ status: "applied", effect: "registerLots" });
      expect((mapping.details!.lots as { converted: string }[])[0].converted).to.equal("500000 MLT = 500 LTR");
      expect((await batchesOf(MILK, "MAP-B"))[0]).to.include({ quantity: "500", unit: "LTR" });
    });

    it("does not map a GTIN nobody registered, nor a quantity that cannot be converted", async function () {
      const unknown = await mapOne(commissioning(UNKNOWN, "MAP-X", 10, "KGM"));
      expect(unknown.status).to.equal("not_applied");
      expect(unknown.reason).to.equal(`GTIN ${UNKNOWN} is not a registered product (register it first: lotline product register)`);
      const mass = await mapOne(commissioning(MILK, "MAP-Y", 10, "KGM"));
      expect(mass).to.include({ status: "not_applied", reason: `lot MAP-Y of GTIN ${MILK}: KGM cannot be converted to the product's unit LTR` });
      expect(await batchesOf(UNKNOWN, "MAP-X")).to.deep.equal([]);
      expect(await batchesOf(MILK, "MAP-Y")).to.deep.equal([]);
    });

    it("refuses a lot that exists already with the contract's custom error, sending nothing", async function () {
      const mapping = await mapOne(commissioning(MILK, "MAP-A", 5, "LTR"));
      expect(mapping.status).to.equal("not_applied");
      expect(mapping.reason).to.match(/^refused by the contract: ProvenanceLotExists\(0x[0-9a-f]{64}\); nothing was sent$/);
      expect(mapping.transactionHash).to.equal(null);
      expect((await batchesOf(MILK, "MAP-A"))[0]).to.include({ quantity: "1000" });
    });

    it("without an integration key, plans nothing to send: not_applied 'no integration key'", async function () {
      const e = commissioning(MILK, "MAP-NOKEY", 1, "LTR");
      await captureAndWait(node, token, epcisDocument([e]));
      const seq = (node.db.prepare(`SELECT seq FROM epcis_events WHERE event_id = ?`).get(e.eventID) as { seq: number }).seq;
      const plan = planMapping(node.db, eventFacts(node.db, seq)!, { orgId: null, address: null, problem: "this node has none (LOTLINE_INTEGRATION_KEY)" });
      expect(plan).to.deep.include({ status: "not_applied", reason: "no integration key: this node has none (LOTLINE_INTEGRATION_KEY)", effect: "registerLots" });
      await mappingJobFor(node.db)!.runOnce(); // (the node does have one)
    });
  });

  describe("shipping → offer, receiving → accept", function () {
    const shipping = (destinations: Record<string, string>[], quantity = 400) =>
      event("ObjectEvent", {
        action: "OBSERVE",
        bizStep: "shipping",
        disposition: "in_transit",
        epcList: [],
        quantityList: [{ epcClass: lgtin(MILK, "MAP-A"), quantity, uom: "LTR" }],
        readPoint: { id: sgln(PRODUCER_GLN) },
        destinationList: destinations,
      });
    const receiving = () =>
      event("ObjectEvent", {
        action: "OBSERVE",
        bizStep: "receiving",
        disposition: "in_progress",
        epcList: [],
        quantityList: [{ epcClass: digitalLink(MILK, "MAP-A"), quantity: 400, uom: "LTR" }],
        bizLocation: { id: sgln(PROCESSOR_GLN) },
      });
    it("refuses a shipping event without a destination naming a member", async function () {
      const mapping = await mapOne(shipping([{ type: "owning_party", destination: "urn:epc:id:pgln:0614141.00000" }]));
      expect(mapping).to.include({ status: "not_applied", reason: "destination urn:epc:id:pgln:0614141.00000 (owning_party) is not a GLN of any member" });
    });

    it("offers part of a lot the organisation holds to the member its destinations name (ownership and custody: both)", async function () {
      const mapping = await mapOne(
        shipping([
          { type: "owning_party", destination: pgln(PROCESSOR_GLN) },
          { type: "location", destination: sgln(PROCESSOR_GLN) },
        ]),
      );
      expect(mapping, mapping.reason ?? "").to.include({ status: "applied", effect: "offer" });
      expect(mapping.details).to.deep.include({ batchId: lotIdOf(MILK, "MAP-A"), quantity: "400", fromOrgId: "1", toOrgId: "2", kind: "both" });
      expect((await batch(lotIdOf(MILK, "MAP-A"))).pendingOffer).to.deep.equal({ toOrgId: "2", kind: "both", quantity: "400" });
    });

    it("does not accept for the receiver with this node's key: needs another member's signature", async function () {
      const processorToken = await tokenFor(node, demoWallet(PROCESSOR.account));
      const [mapping] = await captureAndMap(node, processorToken, receiving());
      expect(mapping.status).to.equal("not_applied");
      expect(mapping.reason).to.match(/^needs another member's signature: organisation 2 must accept lot MAP-A/);
      expect(mapping.details).to.deep.include({ batchId: lotIdOf(MILK, "MAP-A"), toOrgId: "2", location: PROCESSOR_GLN });
      expect((await batch(lotIdOf(MILK, "MAP-A"))).status).to.equal("in_transit");
    });

    it("accepts on the receiver's own node, with its integration key, at the bizLocation GLN", async function () {
      const receiver = await receiverNode();
      const [mapping] = await captureAndMap(receiver, await tokenFor(receiver as TestNode, demoWallet(PROCESSOR.account)), receiving());
      expect(mapping, mapping.reason ?? "").to.include({ status: "applied", effect: "accept" });
      await node.synced();
      const portion = await node.contracts.provenance.portionId(lotIdOf(MILK, "MAP-A"), 0);
      expect(await batch(portion)).to.include({ quantity: "400", ownerOrgId: "2", custodianOrgId: "2", location: PROCESSOR_GLN, status: "active" });
      expect(await batch(lotIdOf(MILK, "MAP-A"))).to.include({ quantity: "600", status: "active", pendingOffer: null });
    });
  });

  describe("aggregation → pack / unpack", function () {
    it("packs a batch the organisation holds into an SSCC of its prefix, and unpacks it", async function () {
      const packed = await mapOne(
        event("AggregationEvent", {
          action: "ADD",
          bizStep: "packing",
          parentID: ssccUrn(SSCC),
          childEPCs: [],
          childQuantityList: [{ epcClass: lgtin(MILK, "MAP-B"), quantity: 500, uom: "LTR" }],
          bizLocation: { id: sgln(PRODUCER_GLN) },
        }),
      );
      expect(packed, packed.reason ?? "").to.include({ status: "applied", effect: "pack" });
      expect((await batch(lotIdOf(MILK, "MAP-B"))).logisticUnit).to.include({ sscc: SSCC });

      const unpacked = await mapOne(event("AggregationEvent", { action: "DELETE", bizStep: "unpacking", parentID: `https://id.gs1.org/00/${SSCC}` }));
      expect(unpacked, unpacked.reason ?? "").to.include({ status: "applied", effect: "unpack" });
      expect(unpacked.details).to.deep.include({ sscc: SSCC, batchIds: [lotIdOf(MILK, "MAP-B")] });
      expect((await batch(lotIdOf(MILK, "MAP-B"))).logisticUnit).to.equal(null);
    });

    it("ships a logistic unit (offerUnit, custody) and the receiver's node accepts it (acceptUnit)", async function () {
      const sscc = ssccFor(PRODUCER.prefix, 7602);
      expect(await mapOne(commissioning(MILK, "MAP-D", 100, "LTR"))).to.include({ status: "applied" });
      const packed = await mapOne(
        event("AggregationEvent", { action: "ADD", bizStep: "packing", parentID: ssccUrn(sscc), childEPCs: [digitalLink(MILK, "MAP-D")] }),
      );
      expect(packed, packed.reason ?? "").to.include({ status: "applied", effect: "pack" });
      const shipped = await mapOne(
        event("AggregationEvent", {
          action: "OBSERVE",
          bizStep: "departing",
          parentID: ssccUrn(sscc),
          childEPCs: [digitalLink(MILK, "MAP-D")],
          destinationList: [{ type: "possessing_party", destination: pgln(PROCESSOR_GLN) }],
        }),
      );
      expect(shipped, shipped.reason ?? "").to.include({ status: "applied", effect: "offerUnit" });
      expect(shipped.details).to.deep.equal({ sscc, fromOrgId: "1", toOrgId: "2", kind: "custody", calls: shipped.details!.calls, transactions: shipped.details!.transactions });

      const receiver = await receiverNode();
      const [received] = await captureAndMap(
        receiver,
        await tokenFor(receiver as TestNode, demoWallet(PROCESSOR.account)),
        event("ObjectEvent", { action: "OBSERVE", bizStep: "arriving", epcList: [`https://id.gs1.org/00/${sscc}`], bizLocation: { id: sgln(PROCESSOR_GLN) } }),
      );
      expect(received, received.reason ?? "").to.include({ status: "applied", effect: "acceptUnit" });
      await node.synced();
      expect(await batch(lotIdOf(MILK, "MAP-D"))).to.include({ ownerOrgId: "1", custodianOrgId: "2" });
    });

    it("does not pack part of a batch (packs whole batches) nor an unknown SSCC's unpacking", async function () {
      const part = await mapOne(
        event("AggregationEvent", {
          action: "ADD",
          parentID: ssccUrn(SSCC),
          childQuantityList: [{ epcClass: lgtin(MILK, "MAP-B"), quantity: 100, uom: "LTR" }],
        }),
      );
      expect(part.status).to.equal("not_applied");
      expect(part.reason).to.match(/^packs whole batches: organisation 1 holds no portion of lot MAP-B .* of exactly 100 LTR/);
      const unknown = await mapOne(event("AggregationEvent", { action: "DELETE", parentID: ssccUrn(ssccFor(PRODUCER.prefix, 7699)) }));
      expect(unknown.reason).to.match(/^SSCC \d{18} is no logistic unit on the chain/);
    });
  });

  describe("transformation → transform", function () {
    it("transforms inputs the organisation holds into lots of its products (kind PROCESS by default)", async function () {
      const mapping = await mapOne(transformation([[MILK, "MAP-B", 200, "LTR"]], [[CHEESE, "MAP-CHEESE", 20, "KGM"]]));
      expect(mapping, mapping.reason ?? "").to.include({ status: "applied", effect: "transform" });
      expect(mapping.details).to.deep.include({ kind: "PROCESS", location: PRODUCER_GLN });
      expect(await batch(lotIdOf(MILK, "MAP-B"))).to.include({ quantity: "300" });
      expect((await batchesOf(CHEESE, "MAP-CHEESE"))[0]).to.include({ quantity: "20", unit: "KGM", ownerOrgId: "1" });
    });

    it("takes the kind from lotline:kind in the ILMD", async function () {
      const mapping = await mapOne(transformation([[MILK, "MAP-B", 100, "LTR"]], [[BLEND, "MAP-BLEND", 100, "LTR"]], { ilmd: { "lotline:kind": "merge" } }));
      expect(mapping, mapping.reason ?? "").to.include({ status: "applied", effect: "transform" });
      expect(mapping.details).to.deep.include({ kind: "MERGE" });
      const trace = await get(node, `/api/v1/batches/${lotIdOf(BLEND, "MAP-BLEND")}/trace?direction=upstream`);
      expect(trace.body.edges).to.deep.include({ from: lotIdOf(MILK, "MAP-B"), to: lotIdOf(BLEND, "MAP-BLEND"), type: "merge", quantity: "100", unit: "LTR" });
    });

    it("records a refusal beyond mass balance with the contract's custom error; nothing is half-applied", async function () {
      const mapping = await mapOne(transformation([[MILK, "MAP-B", 50, "LTR"]], [[BLEND, "MAP-BLEND-2", 60, "LTR"]]));
      expect(mapping.status).to.equal("not_applied");
      expect(mapping.effect).to.equal("transform");
      expect(mapping.reason).to.equal("refused by the contract: ProvenanceMassBalance(1, 51500000000, 61800000000, 200); nothing was sent");
      expect(mapping.transactionHash).to.equal(null);
      expect(await batch(lotIdOf(MILK, "MAP-B"))).to.include({ quantity: "200" });
      expect(await batchesOf(BLEND, "MAP-BLEND-2")).to.deep.equal([]);
    });

    it("transforms the portion it holds of a lot another organisation holds part of; refuses unregistered inputs", async function () {
      // Organisation 1 holds MAP-A's first portion (600 l), organisation 2 the 400 l portion: it transforms its own.
      const mine = await mapOne(transformation([[MILK, "MAP-A", 10, "LTR"]], [[BLEND, "MAP-BLEND-3", 10, "LTR"]]));
      expect(mine, mine.reason ?? "").to.include({ status: "applied" });
      expect((mine.details!.inputs as { batchId: string }[])[0].batchId).to.equal(lotIdOf(MILK, "MAP-A"));
      const unknown = await mapOne(transformation([[UNKNOWN, "MAP-Z", 10, "KGM"]], [[BLEND, "MAP-BLEND-4", 10, "LTR"]]));
      expect(unknown).to.include({ status: "not_applied", reason: `lot MAP-Z of GTIN ${UNKNOWN} is not registered (no member registered ${lgtin(UNKNOWN, "MAP-Z")})` });
    });
  });

  describe("sensor data, certification and purchase orders", function () {
    it("observes sensor data on a batch the organisation holds, anchoring the event's hash on it", async function () {
      const e = event("ObjectEvent", {
        action: "OBSERVE",
        bizStep: "inspecting",
        epcList: [digitalLink(MILK, "MAP-B")],
        bizLocation: { id: sgln(PRODUCER_GLN) },
        sensorElementList: [{ sensorReport: [{ type: "gs1:Temperature", value: 4.2, uom: "CEL" }] }],
      });
      const mapping = await mapOne(e);
      expect(mapping, mapping.reason ?? "").to.include({ status: "applied", effect: "observe" });
      const hashId = eventsById(node.db, e.eventID as string)[0].hash_id;
      const history = (await get(node, `/api/v1/batches/${lotIdOf(MILK, "MAP-B")}/history`)).body.items as { type: string; details: Record<string, unknown> }[];
      const observed = history.filter((i) => i.type === "observed").at(-1)!;
      expect(observed.details).to.include({ eventHash: keccakText(hashId), bizStep: "inspecting", location: PRODUCER_GLN });
    });

    it("keeps sensor data about a batch the organisation does not hold, without a transaction", async function () {
      const processor = node.contracts.provenance.connect(demoWallet(PROCESSOR.account, node.provider));
      const whey = gtinFor(PROCESSOR.prefix, 7601);
      await (await processor.registerProduct(BigInt(whey), unitToBytes3("LTR"), keccakText(`mapping test product ${whey}`))).wait();
      await (await processor.registerLots([{ gtin: BigInt(whey), lot: "MAP-WHEY", quantity: 1000_000n, gln: "", metadataHash: keccakText("whey") }])).wait();
      await node.synced();
      const mapping = await mapOne(
        event("ObjectEvent", {
          action: "OBSERVE",
          bizStep: "inspecting",
          quantityList: [{ epcClass: lgtin(whey, "MAP-WHEY") }],
          sensorElementList: [{ sensorReport: [{ type: "gs1:Temperature", value: 11.5, uom: "CEL" }] }],
        }),
      );
      expect(mapping).to.include({ status: "applied", effect: "kept", transactionHash: null });
      expect(mapping.details).to.deep.include({
        batchIds: [lotIdOf(whey, "MAP-WHEY")],
        notObserved: "organisation 1 holds none of these batches: observing them needs another member's signature",
      });
      const history = (await get(node, `/api/v1/batches/${lotIdOf(whey, "MAP-WHEY")}/history`)).body.items as { type: string }[];
      expect(history.map((i) => i.type)).to.have.members(["registered", "epcis"]);
    });

    it("observes the portions of a lot it holds and keeps the others", async function () {
      const portion = await node.contracts.provenance.portionId(lotIdOf(MILK, "MAP-A"), 0);
      const mapping = await mapOne(
        event("ObjectEvent", {
          action: "OBSERVE",
          bizStep: "storing",
          epcList: [ssccUrn(ssccFor(PROCESSOR.prefix, 7699))],
          quantityList: [{ epcClass: lgtin(MILK, "MAP-A"), quantity: 400, uom: "LTR" }],
          certificationInfo: "https://cert.example/organic/7401",
        }),
      );
      // The lot's first portion is organisation 1's: it observes that one; the processor's portion is kept.
      expect(mapping, mapping.reason ?? "").to.include({ status: "applied", effect: "observe" });
      expect(mapping.details!.observed).to.deep.equal([lotIdOf(MILK, "MAP-A")]);
      expect(mapping.details!.batchIds).to.include(portion);
    });

    it("links a TransactionEvent's po to a Lotline order of the organisation, shown on the order and the batch", async function () {
      const { order_id: orderId } = node.db.prepare(`SELECT order_id FROM orders WHERE seller_org = 1 ORDER BY order_id LIMIT 1`).get() as { order_id: number };
      const e = event("TransactionEvent", {
        action: "ADD",
        bizStep: "shipping",
        bizTransactionList: [{ type: "po", bizTransaction: `urn:lotline:po:${orderId}` }],
        quantityList: [{ epcClass: lgtin(MILK, "MAP-B"), quantity: 50, uom: "LTR" }],
      });
      const mapping = await mapOne(e);
      expect(mapping).to.include({ status: "applied", effect: "link", transactionHash: null });
      expect(mapping.details).to.deep.include({ orderIds: [String(orderId)], batchIds: [lotIdOf(MILK, "MAP-B")] });
      const linked = await get(node, `/api/v1/orders/${orderId}/epcis-events`, bearer(token));
      expect(linked.body.events.map((x: { eventID: string }) => x.eventID)).to.include(e.eventID);
      const history = (await get(node, `/api/v1/batches/${lotIdOf(MILK, "MAP-B")}/history`)).body.items as { type: string; details: Record<string, unknown> }[];
      expect(history.find((i) => i.details.eventID === e.eventID)!.details.orderIds).to.deep.equal([String(orderId)]);

      const none = await mapOne(event("TransactionEvent", { action: "ADD", bizTransactionList: [{ type: "po", bizTransaction: "urn:lotline:po:999999" }], epcList: [] }));
      expect(none).to.include({ status: "not_applied", reason: "no Lotline order 999999 (urn:lotline:po:999999)" });
    });

    it("leaves anything else not applied, with the reason", async function () {
      const mapping = await mapOne(event("ObjectEvent", { action: "OBSERVE", bizStep: "storing", epcList: [digitalLink(MILK, "MAP-B")] }));
      expect(mapping.status).to.equal("not_applied");
      expect(mapping.reason).to.match(/^no provenance effect for a ObjectEvent OBSERVE with bizStep storing/);
    });
  });

  describe("a batch's history and trace include its EPCIS events", function () {
    it("lists the events naming the lot (in any form) or its SSCC as entries of type epcis, with their mapping", async function () {
      const res = await get(node, `/api/v1/batches/${lotIdOf(MILK, "MAP-B")}/history`);
      expect(res.status, res.text).to.equal(200);
      const items = res.body.items as { type: string; at: string; details: Record<string, unknown> }[];
      const epcis = items.filter((i) => i.type === "epcis");
      const steps = epcis.map((i) => `${i.details.eventType}/${i.details.bizStep}/${(i.details.mapping as Mapping).status}/${(i.details.mapping as Mapping).effect}`);
      expect(steps).to.include.members([
        "ObjectEvent/commissioning/applied/registerLots",
        "AggregationEvent/packing/applied/pack",
        "AggregationEvent/unpacking/applied/unpack",
        "TransformationEvent/commissioning/applied/transform",
        "ObjectEvent/inspecting/applied/observe",
        "TransactionEvent/shipping/applied/link",
        "ObjectEvent/storing/not_applied/null",
      ]);
      const first = epcis[0].details;
      expect(first).to.have.keys("recordId", "eventID", "hashId", "orgId", "eventType", "action", "bizStep", "eventTime", "mapping", "orderIds", "origin");
      // Captured on this node: no other node served it.
      expect(first.origin).to.deep.equal({ orgId: first.orgId, servedBy: null, verified: true });
      expect(first.hashId).to.match(/^ni:\/\/\/sha-256;[0-9a-f]{64}\?ver=CBV2\.0$/);
      // One timeline by time: the chain's entries keep their block order, the events their event time.
      expect(items.map((i) => Date.parse(i.at))).to.deep.equal(items.map((i) => Date.parse(i.at)).sort((a, b) => a - b));
      expect(items.some((i) => i.type === "registered")).to.equal(true);
    });

    it("counts them on the trace's nodes", async function () {
      const res = await get(node, `/api/v1/batches/${lotIdOf(CHEESE, "MAP-CHEESE")}/trace?direction=upstream`);
      expect(res.status, res.text).to.equal(200);
      const byId = new Map((res.body.nodes as { id: string; epcisEvents: number }[]).map((n) => [n.id, n.epcisEvents]));
      expect(byId.get(lotIdOf(CHEESE, "MAP-CHEESE"))).to.equal(1);
      expect(byId.get(lotIdOf(MILK, "MAP-B"))).to.be.greaterThan(5);
    });

    it("keeps GET /epcis/events/{eventID} a standard EPCIS document (no mapping in it)", async function () {
      const e = commissioning(MILK, "MAP-C", 1, "LTR");
      await mapOne(e);
      const [stored] = eventsOf(await get(node, `/epcis/events/${encodeURIComponent(e.eventID as string)}`, bearer(token)));
      expect(stored).to.have.keys(...Object.keys(e), "recordTime");
    });
  });
});
