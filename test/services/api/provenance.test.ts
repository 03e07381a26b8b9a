import { expect } from "chai";
import { AbiCoder, keccak256 } from "ethers";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import type { TestNode } from "../../helpers/node";
import { DEMO_MEMBERS, demoWallet } from "../../../services/demo/roster";
import { DEMO_GOODS } from "../../../services/demo/supply-chain";
import { glnFor, gtinFor } from "../../../services/gs1/keys";
import { masterDataHash, productRecordId } from "../../../services/provenance/products";
import { formatQuantity, parseQuantity } from "../../../services/provenance/quantity";
import { bearer, expectProblem, get, post, sharedNode, tokenFor, type ApiResponse } from "./helpers";

/**
 * The provenance routes against the shared node's demo dairy chain (services/demo/supply-chain.ts):
 *
 *   lot A ─split→ portion A ─┐
 *                            ├─merge→ pooled ─process→ cream ─split→ cream portion ─process→ butter
 *   lot B (recalled) ────────┘                └process→ skim                   butter ─split→ shelf 1, shelf 2
 *
 * Ids are derived here as ADR 0006 defines them, independently of the service.
 */
const member = (key: string) => DEMO_MEMBERS.find((m) => m.key === key)!;
const orgIdOf = (key: string) => String(DEMO_MEMBERS.findIndex((m) => m.key === key) + 1);
const gln = (key: string, ref: number) => glnFor(member(key).companyPrefixes[0], ref);

const coder = AbiCoder.defaultAbiCoder();
const lotIdOf = (gtin: string, lot: string) => keccak256(coder.encode(["uint64", "string"], [BigInt(gtin), lot]));
const portionIdOf = (parent: string, k: number) => keccak256(coder.encode(["bytes32", "uint32"], [parent, k]));

const lotA = lotIdOf(DEMO_GOODS.rawMilk, "MILK-2611-A");
const portionA = portionIdOf(lotA, 0);
const lotB = lotIdOf(DEMO_GOODS.rawMilk, "MILK-2611-B");
const pooled = lotIdOf(DEMO_GOODS.pooledMilk, "POOL-2611");
const cream = lotIdOf(DEMO_GOODS.cream, "CRM-2611");
const skim = lotIdOf(DEMO_GOODS.skimMilk, "SKM-2611");
const creamPortion = portionIdOf(cream, 0);
const butter = lotIdOf(DEMO_GOODS.butter, "BTR-2611");
const shelf1 = portionIdOf(butter, 0);
const shelf2 = portionIdOf(butter, 1);
const NAMES: Record<string, string> = { lotA, portionA, lotB, pooled, cream, skim, creamPortion, butter, shelf1, shelf2 };
const nameOf = (id: string) => Object.keys(NAMES).find((k) => NAMES[k] === id) ?? id;
const sum = (quantities: string[]) =>
  formatQuantity(quantities.reduce((total, q) => total + (q === "0" ? 0n : parseQuantity(q)), 0n));
/** The timeline entries the provenance and logistic-unit events write (settlement adds its own). */
const PROVENANCE_ENTRIES = new Set([
  "registered",
  "split",
  "split_from",
  "offered",
  "offer_withdrawn",
  "handed_over",
  "transformed_into",
  "made_from",
  "consumed",
  "destroyed",
  "observed",
  "recalled",
  "recall_propagated",
  "packed",
  "unit_handed_over",
  "unpacked",
]);
type Entry = { type: string; details: Record<string, unknown>; blockNumber: number; logIndex: number };
const provenanceEntries = (res: ApiResponse) => (res.body.items as Entry[]).filter((i) => PROVENANCE_ENTRIES.has(i.type));

/**
 * The demo's portions in the order the index created them. Lot A's remaining milk is the demo's
 * only stock free of the recall, so portions sold off it later (split index 1 on) are looked up
 * on the chain and expected after these.
 */
const DAIRY = [lotA, lotB, portionA, pooled, cream, skim, creamPortion, butter, shelf1, shelf2];
const RECALL_REASON = "antibiotic residue above the MRL in the farm's retained sample";

const digitalLink = (gtin: string, lot: string, resolver = "https://id.gs1.org") =>
  `${resolver}/01/${gtin}/10/${encodeURIComponent(lot)}`;
const batchPath = (ref: string, suffix = "") => `/api/v1/batches/${encodeURIComponent(ref)}${suffix}`;

type Item = { id: string };
const ids = (res: ApiResponse) => (res.body.items as Item[]).map((b) => b.id);
const names = (list: Item[]) => list.map((b) => nameOf(b.id));
const depthsOf = (res: ApiResponse) =>
  Object.fromEntries((res.body.nodes as { id: string; depth: number }[]).map((n) => [nameOf(n.id), n.depth]));
const edgesOf = (res: ApiResponse) =>
  (res.body.edges as { from: string; to: string; type: string; quantity: string; unit: string }[])
    .map((e) => `${nameOf(e.from)}>${nameOf(e.to)} ${e.type} ${e.quantity} ${e.unit}`)
    .sort();

/** Statuses as the API shows them, from the contract's BatchStatus and RecallState. */
function visibleStatus(status: bigint, recall: bigint): string {
  const name = ["none", "active", "in_transit", "consumed", "destroyed"][Number(status)];
  return recall !== 0n && (name === "active" || name === "in_transit") ? "recalled" : name;
}

describe("API provenance routes", function () {
  let node: TestNode;
  /** Every portion of the demo, in creation order. */
  let ALL: string[];
  /** Lot A's portions as the contract records them: id, quantity, visible status. */
  let lotAPortions: { id: string; quantity: string; status: string }[];
  let laterA: string[];

  before(async function () {
    this.timeout(120_000);
    node = await sharedNode();
    await node.synced();
    const provenance = node.contracts.provenance;
    const splits = Number((await provenance.batch(lotA)).splits);
    laterA = Array.from({ length: Math.max(0, splits - 1) }, (_, k) => portionIdOf(lotA, k + 1));
    ALL = [...DAIRY, ...laterA];
    lotAPortions = [];
    for (const id of [lotA, portionA, ...laterA]) {
      const b = await provenance.batch(id);
      lotAPortions.push({ id, quantity: formatQuantity(b.quantity), status: visibleStatus(b.status, b.recall) });
    }
  });

  async function ok(path: string): Promise<ApiResponse> {
    const res = await get(node, path);
    expect(res.status, res.text).to.equal(200);
    return res;
  }

  /** Every item of a batch list, following nextCursor (`path` ends in ? or &). */
  async function everyPage(path: string): Promise<Item[]> {
    const items: Item[] = [];
    let cursor: string | null = null;
    do {
      const res = await ok(`${path}limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      items.push(...(res.body.items as Item[]));
      cursor = res.body.nextCursor;
    } while (cursor);
    return items;
  }

  /** The demo's portions of a list: other test files on the shared node register lots of their own. */
  const demoOnly = (items: Item[]) => items.filter((b) => ALL.includes(b.id));

  describe("GET /api/v1/batches", function () {
    it("lists every portion of the demo in the order they were created", async function () {
      expect(names(demoOnly(await everyPage("/api/v1/batches?")))).to.deep.equal(ALL.map(nameOf));
    });

    it("shows a portion's lot, Digital Link, parent, quantity, holders, location and recall", async function () {
      const res = await ok(`/api/v1/batches?owner=${orgIdOf("retailer")}&limit=1`);
      const shelf = res.body.items[0];
      expect(shelf).to.deep.include({
        id: shelf1,
        batchId: shelf1,
        lotId: butter,
        gtin: DEMO_GOODS.butter,
        lot: "BTR-2611",
        digitalLink: `https://id.gs1.org/01/${DEMO_GOODS.butter}/10/BTR-2611`,
        parentId: butter,
        portionIndex: 0,
        quantity: "300",
        unit: "KGM",
        ownerOrgId: orgIdOf("retailer"),
        custodianOrgId: orgIdOf("retailer"),
        producerOrgId: orgIdOf("processor2"),
        location: gln("retailer", 1),
        status: "recalled",
        logisticUnit: null,
        pendingOffer: null,
      });
      expect(shelf.recall).to.include({ kind: "propagated", sourceBatchId: butter, reason: null, byOrgId: null });
      expect(shelf.transactionHash).to.match(/^0x[0-9a-f]{64}$/);
    });

    it("filters by GTIN-14", async function () {
      expect(names((await ok(`/api/v1/batches?gtin=${DEMO_GOODS.butter}`)).body.items)).to.deep.equal([
        "butter",
        "shelf1",
        "shelf2",
      ]);
    });

    it("filters by a GTIN given in its 13-digit form", async function () {
      const gtin13 = DEMO_GOODS.butter.slice(1);
      expect(names((await ok(`/api/v1/batches?gtin=${gtin13}`)).body.items)).to.deep.equal(["butter", "shelf1", "shelf2"]);
    });

    it("filters by lot number, across the lot's portions", async function () {
      expect((await ok("/api/v1/batches?lot=MILK-2611-A")).body.items.map((b: Item) => b.id)).to.deep.equal([
        lotA,
        portionA,
        ...laterA,
      ]);
    });

    it("combines filters (GTIN and lot)", async function () {
      expect(names((await ok(`/api/v1/batches?gtin=${DEMO_GOODS.rawMilk}&lot=MILK-2611-B`)).body.items)).to.deep.equal(["lotB"]);
    });

    it("filters by owner", async function () {
      expect(names((await ok(`/api/v1/batches?owner=${orgIdOf("retailer")}`)).body.items)).to.deep.equal(["shelf1", "shelf2"]);
      expect(names((await ok(`/api/v1/batches?owner=${orgIdOf("processor2")}`)).body.items)).to.deep.equal(["creamPortion"]);
    });

    it("filters by custodian", async function () {
      expect(names((await ok(`/api/v1/batches?custodian=${orgIdOf("distributor")}`)).body.items)).to.deep.equal(["butter"]);
      expect(names((await ok(`/api/v1/batches?custodian=${orgIdOf("processor2")}`)).body.items)).to.deep.equal(["creamPortion"]);
    });

    it("lists under status=recalled exactly the flagged portions still in circulation", async function () {
      const res = await ok("/api/v1/batches?status=recalled");
      expect(names(res.body.items)).to.deep.equal(["cream", "skim", "butter", "shelf1", "shelf2"]);
      expect(res.body.items.map((b: { status: string }) => b.status)).to.deep.equal(Array(5).fill("recalled"));
    });

    it("lists a consumed portion under status=consumed whether or not it was recalled", async function () {
      expect(names(demoOnly(await everyPage("/api/v1/batches?status=consumed&")))).to.deep.equal([
        "lotB",
        "portionA",
        "pooled",
        "creamPortion",
      ]);
    });

    it("lists under status=active only portions in circulation that are not recalled", async function () {
      const expected = lotAPortions.filter((p) => p.status === "active").map((p) => p.id);
      expect(expected).to.include(lotA);
      expect(demoOnly(await everyPage("/api/v1/batches?status=active&")).map((b) => b.id)).to.deep.equal(expected);
    });

    it("answers a filter nothing matches with an empty page", async function () {
      expect((await ok(`/api/v1/batches?owner=${orgIdOf("certifier")}`)).body).to.deep.equal({ items: [], nextCursor: null });
    });

    it("walks all portions three at a time by following nextCursor, without repeats or gaps", async function () {
      const seen: string[] = [];
      const sizes: number[] = [];
      let cursor: string | null = null;
      for (let page = 0; page < 100; page++) {
        const res = await ok(`/api/v1/batches?limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
        sizes.push(res.body.items.length);
        seen.push(...ids(res));
        cursor = res.body.nextCursor;
        if (!cursor) break;
      }
      expect(
        sizes.slice(0, -1).every((n) => n === 3),
        `page sizes ${sizes}`,
      ).to.equal(true);
      const every = (await everyPage("/api/v1/batches?")).map((b) => b.id);
      expect(sizes).to.have.length(Math.ceil(every.length / 3));
      expect(seen).to.deep.equal(every);
      expect(names(demoOnly(seen.map((id) => ({ id }))))).to.deep.equal(ALL.map(nameOf));
    });

    it("pages a filtered list with the filter kept on each page", async function () {
      const seen: string[] = [];
      let cursor: string | null = null;
      for (let page = 0; page < 10; page++) {
        const res = await ok(`/api/v1/batches?status=recalled&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
        seen.push(...ids(res));
        cursor = res.body.nextCursor;
        if (!cursor) break;
      }
      expect(seen.map(nameOf)).to.deep.equal(["cream", "skim", "butter", "shelf1", "shelf2"]);
    });
  });

  describe("GET /api/v1/batches/{ref}", function () {
    it("returns a lot's first portion by id, with every portion of the lot and the quantity in circulation", async function () {
      const res = await ok(batchPath(butter));
      expect(res.body).to.include({
        id: butter,
        lotId: butter,
        parentId: null,
        quantity: "400",
        custodianOrgId: orgIdOf("distributor"),
      });
      expect(res.body.lotSummary).to.deep.include({
        lotId: butter,
        gtin: DEMO_GOODS.butter,
        lot: "BTR-2611",
        digitalLink: `https://id.gs1.org/01/${DEMO_GOODS.butter}/10/BTR-2611`,
        producerOrgId: orgIdOf("processor2"),
        quantityInCirculation: "900",
        portions: [
          { id: butter, quantity: "400", status: "recalled" },
          { id: shelf1, quantity: "300", status: "recalled" },
          { id: shelf2, quantity: "200", status: "recalled" },
        ],
      });
    });

    it("returns a split-off portion by id, with its lot's summary", async function () {
      const res = await ok(batchPath(shelf2));
      expect(res.body).to.include({
        id: shelf2,
        lotId: butter,
        parentId: butter,
        portionIndex: 1,
        quantity: "200",
        location: gln("retailer", 2),
      });
      expect(res.body.lotSummary.portions.map((p: Item) => p.id)).to.deep.equal([butter, shelf1, shelf2]);
    });

    it("accepts a batch id in upper-case hex", async function () {
      const res = await ok(batchPath(`0x${butter.slice(2).toUpperCase()}`));
      expect(res.body.id).to.equal(butter);
    });

    it("resolves a URL-encoded canonical Digital Link to the lot's first portion, listing every portion", async function () {
      const res = await ok(batchPath(digitalLink(DEMO_GOODS.rawMilk, "MILK-2611-A")));
      expect(res.body).to.include({
        id: lotA,
        lotId: lotA,
        quantity: lotAPortions[0].quantity,
        parentId: null,
        ownerOrgId: orgIdOf("producer"),
      });
      // As the contract records the lot's portions: lot A keeps the rest of its 20,000 l, portion A was used up.
      expect(res.body.lotSummary.portions).to.deep.equal(lotAPortions);
      expect(res.body.lotSummary.portions[1]).to.deep.equal({ id: portionA, quantity: "0", status: "consumed" });
      const inCirculation = lotAPortions.filter((p) => p.status === "active" || p.status === "in_transit").map((p) => p.quantity);
      expect(res.body.lotSummary).to.include({ quantityInCirculation: sum(inCirculation) });
      expect(sum(lotAPortions.map((p) => p.quantity))).to.equal("8000");
    });

    it("resolves a Digital Link with another resolver's domain and a GTIN-13 to the same lot", async function () {
      const canonical = await ok(batchPath(digitalLink(DEMO_GOODS.butter, "BTR-2611")));
      const brand = await ok(
        batchPath(digitalLink(DEMO_GOODS.butter.slice(1), "BTR-2611", "https://scan.lyon-fromagerie.example/products")),
      );
      expect(brand.body.id).to.equal(butter);
      expect(brand.body).to.deep.equal(canonical.body);
    });

    it("resolves a Digital Link longer than 100 characters once URL-encoded (a brand resolver's path, a query string)", async function () {
      const link = `${digitalLink(DEMO_GOODS.butter, "BTR-2611", "https://resolver.lyon-fromagerie.example/gs1/digital-link/v1")}?linkType=gs1:recallStatus`;
      expect(encodeURIComponent(link).length).to.be.greaterThan(100);
      expect((await ok(batchPath(link))).body.id).to.equal(butter);
      expect((await ok(batchPath(link, "/trace?direction=upstream"))).body.root).to.equal(butter);
    });

    it("ignores a Digital Link's query string", async function () {
      const res = await ok(batchPath(`${digitalLink(DEMO_GOODS.rawMilk, "MILK-2611-B")}?linkType=gs1:recallStatus`));
      expect(res.body.id).to.equal(lotB);
    });

    it("shows a directly recalled lot with the recall's reason and the organisation that recalled it", async function () {
      const res = await ok(batchPath(digitalLink(DEMO_GOODS.recalledLot.gtin, DEMO_GOODS.recalledLot.lot)));
      expect(res.body).to.include({ id: lotB, status: "consumed", quantity: "0" });
      expect(res.body.recall).to.include({
        kind: "direct",
        reason: RECALL_REASON,
        byOrgId: orgIdOf("producer"),
        sourceBatchId: null,
      });
      expect(res.body.lotSummary).to.include({ quantityInCirculation: "0" });
    });
  });

  describe("GET /api/v1/batches/{ref}/trace", function () {
    it("traces the butter upstream through the cream and the pooled milk back to both raw milk lots", async function () {
      const res = await ok(batchPath(butter, "/trace?direction=upstream"));
      expect(res.body.root).to.equal(butter);
      expect(depthsOf(res)).to.deep.equal({
        butter: 0,
        creamPortion: -1,
        cream: -2,
        pooled: -3,
        portionA: -4,
        lotB: -4,
        lotA: -5,
      });
      expect(res.body.nodes).to.have.length(7);
      expect(edgesOf(res)).to.deep.equal([
        "cream>creamPortion split 2000 LTR",
        "creamPortion>butter process 2000 LTR",
        "lotA>portionA split 12000 LTR",
        "lotB>pooled merge 15000 LTR",
        "pooled>cream process 3056.603 LTR",
        "portionA>pooled merge 12000 LTR",
      ]);
      expect(res.body.truncated).to.equal(false);
    });

    it("returns each trace node as a full batch", async function () {
      const res = await ok(batchPath(butter, "/trace?direction=upstream"));
      const b = res.body.nodes.find((n: Item) => n.id === lotB);
      expect(b).to.include({
        gtin: DEMO_GOODS.rawMilk,
        lot: "MILK-2611-B",
        status: "consumed",
        depth: -4,
        location: gln("processor", 1),
      });
      expect(b.recall).to.include({ kind: "direct", reason: RECALL_REASON });
    });

    it("traces recalled lot B downstream to the retailer's two butter portions", async function () {
      const res = await ok(batchPath(lotB, "/trace?direction=downstream"));
      expect(depthsOf(res)).to.deep.equal({
        lotB: 0,
        pooled: 1,
        cream: 2,
        skim: 2,
        creamPortion: 3,
        butter: 4,
        shelf1: 5,
        shelf2: 5,
      });
      expect(edgesOf(res)).to.deep.equal([
        "butter>shelf1 split 300 KGM",
        "butter>shelf2 split 200 KGM",
        "cream>creamPortion split 2000 LTR",
        "creamPortion>butter process 2000 LTR",
        "lotB>pooled merge 15000 LTR",
        "pooled>cream process 3056.603 LTR",
        "pooled>skim process 23943.396 LTR",
      ]);
      const shelves = res.body.nodes.filter((n: Item) => n.id === shelf1 || n.id === shelf2);
      expect(shelves.map((n: { custodianOrgId: string }) => n.custodianOrgId)).to.deep.equal([
        orgIdOf("retailer"),
        orgIdOf("retailer"),
      ]);
    });

    it("traces both ways by default, without the sibling portions of the inputs", async function () {
      const res = await ok(batchPath(pooled, "/trace"));
      expect(depthsOf(res)).to.deep.equal({
        pooled: 0,
        portionA: -1,
        lotB: -1,
        lotA: -2,
        cream: 1,
        skim: 1,
        creamPortion: 2,
        butter: 3,
        shelf1: 4,
        shelf2: 4,
      });
      expect(res.body.edges).to.have.length(9);
    });

    it("traces a lot named by its Digital Link as it traces its first portion's id", async function () {
      const byLink = await ok(batchPath(digitalLink(DEMO_GOODS.rawMilk, "MILK-2611-B"), "/trace?direction=downstream"));
      const byId = await ok(batchPath(lotB, "/trace?direction=downstream"));
      expect(byLink.body).to.deep.equal(byId.body);
    });

    it("stops at maxDepth and says the trace was truncated", async function () {
      const res = await ok(batchPath(butter, "/trace?direction=upstream&maxDepth=2"));
      expect(depthsOf(res)).to.deep.equal({ butter: 0, creamPortion: -1, cream: -2 });
      expect(res.body.truncated).to.equal(true);
    });

    it("returns only the root at maxDepth 0", async function () {
      const res = await ok(batchPath(pooled, "/trace?maxDepth=0"));
      expect(depthsOf(res)).to.deep.equal({ pooled: 0 });
      expect(res.body.edges).to.deep.equal([]);
      expect(res.body.truncated).to.equal(true);
    });
  });

  describe("GET /api/v1/batches/{ref}/recall-impact", function () {
    it("lists as affected by lot B exactly the downstream trace's nodes without the root", async function () {
      const impact = await ok(batchPath(lotB, "/recall-impact"));
      const trace = await ok(batchPath(lotB, "/trace?direction=downstream&maxDepth=1000"));
      const downstream = (trace.body.nodes as Item[]).map((n) => n.id).filter((id) => id !== lotB);
      expect((impact.body.affected as Item[]).map((b) => b.id).sort()).to.deep.equal([...downstream].sort());
      expect(names(impact.body.affected).sort()).to.deep.equal([
        "butter",
        "cream",
        "creamPortion",
        "pooled",
        "shelf1",
        "shelf2",
        "skim",
      ]);
    });

    it("names the recalled batch, its recall and reason", async function () {
      const res = await ok(batchPath(lotB, "/recall-impact"));
      expect(res.body.recalled).to.deep.include({ batchId: lotB, recalled: true });
      expect(res.body.recalled.recall).to.include({ kind: "direct", reason: RECALL_REASON, byOrgId: orgIdOf("producer") });
    });

    it("reports each affected batch's custodian, location, quantity and recall flag", async function () {
      const res = await ok(batchPath(lotB, "/recall-impact"));
      const byName = Object.fromEntries((res.body.affected as Item[]).map((b) => [nameOf(b.id), b]));
      expect(byName.shelf1).to.include({
        custodianOrgId: orgIdOf("retailer"),
        location: gln("retailer", 1),
        quantity: "300",
        unit: "KGM",
        status: "recalled",
      });
      expect(byName.shelf2).to.include({
        custodianOrgId: orgIdOf("retailer"),
        location: gln("retailer", 2),
        quantity: "200",
        unit: "KGM",
      });
      expect(byName.butter).to.include({
        custodianOrgId: orgIdOf("distributor"),
        location: gln("distributor", 1),
        quantity: "400",
      });
      expect(byName.skim).to.include({
        custodianOrgId: orgIdOf("processor"),
        location: gln("processor", 1),
        quantity: "23500",
        unit: "LTR",
      });
      expect(byName.pooled).to.include({ status: "consumed", quantity: "0" });
      for (const b of res.body.affected) expect(b.recall, nameOf(b.id)).to.include({ kind: "propagated" });
    });

    it("totals the affected batches, those in circulation, the quantities per unit and the batches per custodian", async function () {
      const res = await ok(batchPath(lotB, "/recall-impact"));
      expect(res.body.totals).to.deep.equal({
        batches: 7,
        inCirculation: 5,
        flaggedOnChain: 7,
        quantityByUnit: { LTR: "24500", KGM: "900" },
        byCustodian: { [orgIdOf("processor")]: 2, [orgIdOf("distributor")]: 1, [orgIdOf("retailer")]: 2 },
      });
    });

    it("shows the blast radius of a batch that is not recalled, counting the affected batches already flagged", async function () {
      const res = await ok(batchPath(digitalLink(DEMO_GOODS.rawMilk, "MILK-2611-A"), "/recall-impact"));
      expect(res.body.recalled).to.deep.equal({ batchId: lotA, recalled: false, recall: null });
      const later = lotAPortions.slice(2);
      expect((res.body.affected as Item[]).map((b) => b.id).sort()).to.deep.equal(
        [portionA, pooled, cream, skim, creamPortion, butter, shelf1, shelf2, ...laterA].sort(),
      );
      expect(res.body.totals).to.include({
        batches: 8 + later.length,
        inCirculation: 5 + later.filter((p) => p.status !== "consumed" && p.status !== "destroyed").length,
        flaggedOnChain: 7,
      });
    });

    it("reports nothing affected for a batch nothing was made from", async function () {
      const res = await ok(batchPath(shelf1, "/recall-impact"));
      expect(res.body.affected).to.deep.equal([]);
      expect(res.body.totals).to.deep.equal({
        batches: 0,
        inCirculation: 0,
        flaggedOnChain: 0,
        quantityByUnit: {},
        byCustodian: {},
      });
    });
  });

  describe("GET /api/v1/batches/{ref}/history", function () {
    it("shows a butter shelf portion split from the butter lot, handed over to the retailer, then flagged by the recall", async function () {
      const res = await ok(batchPath(shelf1, "/history"));
      expect(res.body.batchId).to.equal(shelf1);
      const items = provenanceEntries(res);
      expect(items.map((i) => i.type)).to.deep.equal(["split_from", "handed_over", "recall_propagated"]);
      expect(items[0].details).to.deep.equal({ parent: butter, quantity: "300" });
      expect(items[1].details).to.deep.equal({
        fromOrgId: orgIdOf("distributor"),
        toOrgId: orgIdOf("retailer"),
        kind: "both",
        quantity: "300",
        location: gln("retailer", 1),
        acceptedBy: demoWallet(member("retailer").account).address,
      });
      expect(items[2].details).to.deep.equal({ from: butter });
    });

    it("orders the timeline by block and log index", async function () {
      const res = await ok(batchPath(butter, "/history"));
      // The chain's entries (EPCIS events naming the butter, the demo's among them, are placed by their event time).
      const positions = (provenanceEntries(res) as unknown as { blockNumber: number; logIndex: number }[]).map(
        (i) => i.blockNumber * 1e6 + i.logIndex,
      );
      expect(positions).to.deep.equal([...positions].sort((a, b) => a - b));
      expect(new Set(positions).size).to.equal(positions.length);
    });

    it("shows the butter lot's journey on the pallet, its sale and the split to the stores", async function () {
      const res = await ok(batchPath(butter, "/history"));
      expect(provenanceEntries(res).map((i) => i.type)).to.deep.equal([
        "registered",
        "made_from",
        "packed",
        "unit_handed_over",
        "unit_handed_over",
        "unpacked",
        "offered",
        "handed_over",
        "offered",
        "split",
        "offered",
        "split",
        "recall_propagated",
      ]);
      const packed = provenanceEntries(res).find((i) => i.type === "packed")!;
      expect(packed.details).to.deep.equal({ sscc: DEMO_GOODS.butterUnit });
    });

    it("shows a recalled lot's history by its Digital Link, ending with the recall", async function () {
      const res = await ok(batchPath(digitalLink(DEMO_GOODS.rawMilk, "MILK-2611-B"), "/history"));
      expect(res.body.batchId).to.equal(lotB);
      const items = provenanceEntries(res);
      expect(items.map((i) => i.type)).to.deep.equal([
        "registered",
        "offered",
        "handed_over",
        "consumed",
        "transformed_into",
        "recalled",
      ]);
      expect(items[5].details).to.deep.equal({ reason: RECALL_REASON, byOrgId: orgIdOf("producer") });
    });
  });

  describe("GET /api/v1/products/{gtin}", function () {
    it("shows the butter's master data, verified against its on-chain hash", async function () {
      const res = await ok(`/api/v1/products/${DEMO_GOODS.butter}`);
      expect(res.body).to.include({
        id: DEMO_GOODS.butter,
        gtin: DEMO_GOODS.butter,
        orgId: orgIdOf("processor2"),
        unit: "KGM",
        masterDataVerified: true,
      });
      expect(res.body.masterData).to.include({
        gtin: DEMO_GOODS.butter,
        name: "Beurre de baratte doux, 250 g",
        unit: "KGM",
        brand: "Lyon Fromagerie",
      });
      expect(res.body.masterDataHash).to.equal(masterDataHash(res.body.masterData));
    });

    it("shows the master data's anchoring proof: anchored, verified, and recomputing the anchored root", async function () {
      const res = await ok(`/api/v1/products/${DEMO_GOODS.butter}`);
      const anchor = res.body.anchor;
      expect(anchor).to.include({
        recordId: productRecordId(res.body.masterDataHash),
        kind: "PRODUCT",
        leaf: res.body.masterDataHash,
        status: "anchored",
        verified: true,
      });
      expect(StandardMerkleTree.verify(anchor.merkleRoot, ["bytes32"], [anchor.leaf], anchor.proof)).to.equal(true);
      // Anchored by the organisation that owns the product (its maker), in a tree of its own products.
      expect(anchor.anchoredBy).to.deep.equal({ orgId: orgIdOf("processor2"), name: member("processor2").name });
      const onChain = await node.contracts.anchors.anchorOf(BigInt(anchor.anchoredBy.orgId), anchor.merkleRoot);
      expect(Number(onChain.blockNumber)).to.equal(anchor.blockNumber);
      expect(Number(onChain.count)).to.equal(1);
    });

    it("finds a product by its GTIN-13", async function () {
      const res = await ok(`/api/v1/products/${DEMO_GOODS.butter.slice(1)}`);
      expect(res.body.gtin).to.equal(DEMO_GOODS.butter);
    });

    it("serves the anchor that the on-chain uri names, with its records in tree order", async function () {
      const product = await ok(`/api/v1/products/${DEMO_GOODS.butter}`);
      const root = product.body.anchor.merkleRoot;
      const res = await ok(`/api/v1/anchors/${root}`);
      expect(res.body).to.include({ root, kind: "PRODUCT", status: "anchored", count: 1 });
      expect(res.body.leaves).to.deep.include({ leaf: product.body.masterDataHash, recordId: product.body.anchor.recordId });
      expect(StandardMerkleTree.of(res.body.leaves.map((l: { leaf: string }) => [l.leaf]), ["bytes32"], { sortLeaves: false }).root).to.equal(root);
      expect(res.body).to.include({ orgId: orgIdOf("processor2") });
      expect(res.body.anchoredBy).to.deep.equal({ orgId: orgIdOf("processor2"), name: member("processor2").name });
      const own = res.body.anchors.find((a: { orgId: string }) => a.orgId === orgIdOf("processor2"));
      expect(own.uri, "the on-chain uri names the anchoring organisation").to.match(new RegExp(`/api/v1/anchors/${root}\\?org=${orgIdOf("processor2")}$`));
      expect((await ok(own.uri.slice(own.uri.indexOf("/api/v1/")))).body).to.deep.equal(res.body);
    });

    it("keeps describing its own organisation's anchor when a rival anchors the same root, and shows the rival's only under ?org", async function () {
      const product = await ok(`/api/v1/products/${DEMO_GOODS.cream}`);
      const root = product.body.anchor.merkleRoot;
      const before = (await ok(`/api/v1/anchors/${root}`)).body;
      const owner = product.body.anchor.anchoredBy.orgId as string;
      expect(owner, "anchored by the product's maker").to.equal(product.body.orgId);
      const rival = demoWallet(member("retailer").integrationAccount, node.provider);
      await (await node.contracts.anchors.connect(rival).anchor(keccak256("0x01"), root, 1, "https://rival.example")).wait();
      await node.synced();

      const after = (await ok(`/api/v1/anchors/${root}`)).body;
      expect({ ...after, anchors: before.anchors }, "the node's own anchor, unchanged").to.deep.equal(before);
      expect(after.anchors.map((a: { orgId: string }) => a.orgId)).to.deep.equal([owner, orgIdOf("retailer")]);
      const rivals = (await ok(`/api/v1/anchors/${root}?org=${orgIdOf("retailer")}`)).body;
      expect(rivals).to.include({ orgId: orgIdOf("retailer"), status: "anchored", count: 1 });
      expect(rivals.leaves, "the rival's anchor carries none of this node's records").to.deep.equal([]);
      // The product's proof still relies on its own organisation's anchor.
      expect((await ok(`/api/v1/products/${DEMO_GOODS.cream}`)).body.anchor).to.deep.equal(product.body.anchor);
      expectProblem(await get(node, `/api/v1/anchors/${root}?org=${orgIdOf("carrier")}`), 404, "anchor_not_found");
    });

    it("answers an unknown anchor root with 404 anchor_not_found", async function () {
      const res = await get(node, `/api/v1/anchors/0x${"ab".repeat(32)}`);
      expect(res.status).to.equal(404);
      expect(res.body.code).to.equal("anchor_not_found");
    });

    it("serves the same proof at /api/v1/anchors/records/{recordId}/proof", async function () {
      const product = await ok(`/api/v1/products/${DEMO_GOODS.rawMilk}`);
      const proof = await ok(`/api/v1/anchors/records/${encodeURIComponent(product.body.anchor.recordId)}/proof`);
      expect(proof.body).to.deep.equal(product.body.anchor);
    });
  });

  describe("POST /api/v1/products", function () {
    const producer = demoWallet(member("producer").account);
    const document = (gtin: string) => ({ gtin, name: "Raw goat's milk", unit: "LTR", shelfLifeDays: 3, countryOfOrigin: "DE" });

    it("refuses a request without a bearer token with 401 unauthorized", async function () {
      expectProblem(await post(node, "/api/v1/products", document(gtinFor("4012345", 501))), 401, "unauthorized");
    });

    it("refuses an unknown bearer token with 401 unauthorized", async function () {
      const res = await post(node, "/api/v1/products", document(gtinFor("4012345", 501)), {
        "content-type": "application/json",
        ...bearer("A".repeat(43)),
      });
      expectProblem(res, 401, "unauthorized");
    });

    it("refuses a GTIN under another organisation's company prefix with 403 foreign_prefix", async function () {
      const token = await tokenFor(node, producer);
      const processorsGtin = gtinFor(member("processor").companyPrefixes[0], 502);
      const res = await post(node, "/api/v1/products", document(processorsGtin), {
        "content-type": "application/json",
        ...bearer(token),
      });
      expectProblem(res, 403, "foreign_prefix");
      expect(
        (
          await get(
            node,
            `/api/v1/anchors/records/${encodeURIComponent(productRecordId(masterDataHash(document(processorsGtin))))}/proof`,
          )
        ).status,
      ).to.equal(404);
    });

    it("refuses a GTIN with a wrong check digit with 400 invalid_gtin", async function () {
      const token = await tokenFor(node, producer);
      const good = gtinFor("4012345", 503);
      const bad = good.slice(0, 13) + String((Number(good[13]) + 1) % 10);
      const res = await post(node, "/api/v1/products", document(bad), { "content-type": "application/json", ...bearer(token) });
      expectProblem(res, 400, "invalid_gtin");
    });

    it("refuses master data without a name with 400 invalid_request", async function () {
      const token = await tokenFor(node, producer);
      const { name: _name, ...nameless } = document(gtinFor("4012345", 504));
      const res = await post(node, "/api/v1/products", nameless, { "content-type": "application/json", ...bearer(token) });
      expectProblem(res, 400, "invalid_request");
    });

    it("accepts the same master data twice as the same record", async function () {
      const token = await tokenFor(node, producer);
      const headers = { "content-type": "application/json", ...bearer(token) };
      const first = await post(node, "/api/v1/products", document(gtinFor("4012345", 506)), headers);
      const second = await post(node, "/api/v1/products", document(gtinFor("4012345", 506)), headers);
      expect([first.status, second.status], second.text).to.deep.equal([201, 201]);
      expect(second.body).to.deep.equal(first.body);
    });

    it("stores an own product's master data, returns its hash, and the node's job anchors it with a verified proof", async function () {
      this.timeout(60_000);
      const token = await tokenFor(node, producer);
      const gtin = gtinFor("4012345", 505);
      const res = await post(node, "/api/v1/products", document(gtin.slice(1)), {
        "content-type": "application/json",
        ...bearer(token),
      });
      expect(res.status, res.text).to.equal(201);
      const hash = masterDataHash(document(gtin));
      expect(res.body).to.deep.equal({ gtin, masterDataHash: hash, recordId: productRecordId(hash), anchorStatus: "pending" });
      const path = `/api/v1/anchors/records/${encodeURIComponent(res.body.recordId)}/proof`;
      let proof = await ok(path);
      for (let i = 0; i < 150 && proof.body.status !== "anchored"; i++) {
        await new Promise((r) => setTimeout(r, 200));
        proof = await ok(path);
      }
      expect(proof.body).to.include({ recordId: productRecordId(hash), leaf: hash, status: "anchored", verified: true });
    });
  });

  describe("malformed input", function () {
    const unknownBatch = `0x${"ab".repeat(32)}`;
    const badCheckDigit = `${DEMO_GOODS.rawMilk.slice(0, 13)}${(Number(DEMO_GOODS.rawMilk[13]) + 1) % 10}`;
    const ROUTES = ["", "/trace", "/history", "/recall-impact"];

    for (const suffix of ROUTES) {
      const route = `/api/v1/batches/{ref}${suffix}`;

      it(`answers ${route} with a ref that is neither an id nor a Digital Link with 400 invalid_ref`, async function () {
        expectProblem(await get(node, batchPath("0x1234", suffix)), 400, "invalid_ref");
        expectProblem(await get(node, batchPath("not a batch", suffix)), 400, "invalid_ref");
      });

      it(`answers ${route} with a malformed Digital Link with 400 invalid_ref`, async function () {
        expectProblem(await get(node, batchPath(digitalLink(badCheckDigit, "MILK-2611-A"), suffix)), 400, "invalid_ref");
        expectProblem(await get(node, batchPath(`https://id.gs1.org/01/${DEMO_GOODS.rawMilk}`, suffix)), 400, "invalid_ref");
        expectProblem(await get(node, batchPath(digitalLink(DEMO_GOODS.rawMilk, "L".repeat(21)), suffix)), 400, "invalid_ref");
      });

      it(`answers ${route} for an unknown batch id or lot with 404 batch_not_found`, async function () {
        expectProblem(await get(node, batchPath(unknownBatch, suffix)), 404, "batch_not_found");
        expectProblem(await get(node, batchPath(digitalLink(DEMO_GOODS.rawMilk, "MILK-NONE"), suffix)), 404, "batch_not_found");
      });
    }

    it("answers a ref longer than 512 characters with 400 invalid_request", async function () {
      const long = `${digitalLink(DEMO_GOODS.butter, "BTR-2611")}?q=${"x".repeat(500)}`;
      expectProblem(await get(node, batchPath(long)), 400, "invalid_request");
    });

    it("answers a maxDepth of -1, 1001 or x with 400 invalid_request", async function () {
      for (const maxDepth of ["-1", "1001", "x", "1.5"]) {
        expectProblem(await get(node, batchPath(butter, `/trace?maxDepth=${maxDepth}`)), 400, "invalid_request");
      }
    });

    it("answers a direction other than upstream, downstream or both with 400 invalid_request", async function () {
      expectProblem(await get(node, batchPath(butter, "/trace?direction=x")), 400, "invalid_request");
    });

    it("answers an unknown trace parameter with 400 invalid_request", async function () {
      expectProblem(await get(node, batchPath(butter, "/trace?depth=3")), 400, "invalid_request");
    });

    it("answers an unknown batch filter with 400 invalid_request", async function () {
      expectProblem(await get(node, "/api/v1/batches?colour=red"), 400, "invalid_request");
    });

    it("answers a malformed GTIN filter with 400 invalid_request", async function () {
      expectProblem(await get(node, "/api/v1/batches?gtin=12345"), 400, "invalid_request");
    });

    it("answers a GTIN filter with a wrong check digit with 400 invalid_request naming the field", async function () {
      const res = await get(node, `/api/v1/batches?gtin=${badCheckDigit}`);
      expectProblem(res, 400, "invalid_request");
      expect(res.body.errors.map((e: { path: string }) => e.path)).to.include("querystring/gtin");
    });

    it("answers malformed owner, custodian, status, lot and limit filters with 400 invalid_request", async function () {
      for (const query of [
        "owner=0",
        "owner=x",
        "custodian=-1",
        "status=lost",
        `lot=${"L".repeat(21)}`,
        "limit=0",
        "limit=501",
      ]) {
        expectProblem(await get(node, `/api/v1/batches?${query}`), 400, "invalid_request");
      }
    });

    it("answers a garbage cursor with 400 invalid_cursor", async function () {
      expectProblem(await get(node, "/api/v1/batches?cursor=!!!garbage"), 400, "invalid_cursor");
    });

    it("answers a cursor of another list with 400 invalid_cursor", async function () {
      const orgs = await ok("/api/v1/orgs?limit=1");
      expectProblem(await get(node, `/api/v1/batches?cursor=${encodeURIComponent(orgs.body.nextCursor)}`), 400, "invalid_cursor");
    });

    it("answers a batch cursor whose position is not a number with 400 invalid_cursor", async function () {
      const cursor = Buffer.from("batch:abc").toString("base64url");
      expectProblem(await get(node, `/api/v1/batches?cursor=${cursor}`), 400, "invalid_cursor");
    });

    it("answers a product GTIN that is not 8, 12, 13 or 14 digits with 400 invalid_request", async function () {
      expectProblem(await get(node, "/api/v1/products/12345"), 400, "invalid_request");
      expectProblem(await get(node, "/api/v1/products/0401234500001x"), 400, "invalid_request");
    });

    it("answers a product GTIN with a wrong check digit with 400 invalid_gtin", async function () {
      expectProblem(await get(node, `/api/v1/products/${badCheckDigit}`), 400, "invalid_gtin");
    });

    it("answers an unregistered product with 404 product_not_found", async function () {
      expectProblem(await get(node, `/api/v1/products/${gtinFor("4012345", 999)}`), 404, "product_not_found");
    });

    it("answers a record never queued for anchoring with 404 record_not_found", async function () {
      expectProblem(
        await get(node, `/api/v1/anchors/records/${encodeURIComponent(productRecordId(unknownBatch))}/proof`),
        404,
        "record_not_found",
      );
    });

    it("answers a long record id it never queued (150 characters, URL-encoded) with 404 record_not_found", async function () {
      const recordId = `epcis:urn:uuid:${"6f1c2a40-".repeat(15)}`.slice(0, 150);
      expectProblem(await get(node, `/api/v1/anchors/records/${encodeURIComponent(recordId)}/proof`), 404, "record_not_found");
    });

    it("answers a record id longer than 200 characters with 400 invalid_request", async function () {
      expectProblem(await get(node, `/api/v1/anchors/records/${"r".repeat(201)}/proof`), 400, "invalid_request");
    });
  });
});
