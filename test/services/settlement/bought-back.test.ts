import fs from "node:fs";
import { expect } from "chai";
import { encodeBytes32String, id as keccakText, ZeroHash, type ContractTransactionResponse } from "ethers";
import { startTestNode, type TestNode } from "../../helpers/node";
import { tempDir } from "../../helpers/chain";
import { until } from "../../helpers/member";
import { seedDemo } from "../../../services/demo/seed";
import { DEMO_MEMBERS, demoWallet, GOVERNOR_ACCOUNT } from "../../../services/demo/roster";
import { glnFor, gtinFor } from "../../../services/gs1/keys";
import { parseQuantity, unitToBytes3 } from "../../../services/provenance/quantity";
import { HANDOVER_KINDS, pendingTerms } from "../../../services/provenance/acceptance";
import { DISPUTE_DEFAULTS } from "../../../services/settlement/terms";
import { createRpcClient } from "../../../services/chain/rpc";
import { openDatabase, type Db } from "../../../services/store/db";
import { createLotlineIndexer } from "../../../services/indexer/lotline";
import { get as apiGet, type ApiResponse } from "../api/helpers";
import { lotline, type Run } from "../cli/run";

/**
 * A batch sold (an escrowed order delivered and settled: the buyer takes ownership), sold back to
 * its earlier owner, and bought again by the same buyer, on a real chain (the node's embedded
 * Anvil, the demo's organisations without its supply chain), read back through the node's API and
 * the CLI. What each read counts:
 *
 * - a sale is an event: every sale is listed, each with the order it counts toward, and an order's
 *   delivered quantity adds each of its sales, also two sales of the same batch (the escrow's own
 *   `delivered`, docs/adr/0008: "a sale pays at most once", a batch sold again is a new sale);
 * - an order is counted once per KPI (on-time delivery, late and disputed orders), however many
 *   sales of one batch it holds;
 * - a batch (and a lot) is counted once wherever batches are counted: an order's batches, the lots
 *   an organisation produced or held, a recall's affected batches and holdings;
 * - the lineage has each node and each material flow once: a sale moves ownership, not material, so
 *   selling a batch back and forth adds no edge;
 * - stock sums (in circulation, affected quantity) count each unit once: what is held now.
 *
 * The scenario (org 2 the dairy, org 3 the cheese maker, org 7 the arbiter):
 *   WHEY-1   100 kg lot: order 1 (3 buys from 2), order 2 (2 buys it back), order 3 (3 buys it again), each accepted
 *   CURD-1   100 kg lot: order 4 (3 buys 200 kg from 2): sold, sold back outside escrow, sold again, and both
 *            sales delivered in one `lotline order deliver` (200 kg delivered: one batch, two sales)
 *   CREAM-1  200 kg lot: its 100 kg portion P sold in order 5, bought back in order 6, bought again in order 7;
 *            org 3 churns P into BTR-1 (40 kg)
 */
const DAY = 86_400;
const member = (key: string) => DEMO_MEMBERS.find((m) => m.key === key)!;
const orgOf = (key: string) => BigInt(DEMO_MEMBERS.indexOf(member(key)) + 1);
const siteOf = (key: string) => glnFor(member(key).companyPrefixes[0], 1);
const WIDE = "from=2020-01-01T00:00:00Z&to=2100-01-01T00:00:00Z";

describe("a batch sold, sold back and bought again", function () {
  this.timeout(300_000);
  let node: TestNode;
  let cliDir: string;
  const ids = {} as Record<"whey" | "curd" | "cream" | "portion" | "butter", string>;
  const orders = {} as Record<"o1" | "o2" | "o3" | "o4" | "o5" | "o6" | "o7", string>;
  let curdSales: { batchId: string; index: bigint }[] = [];
  let cliDelivery: Run;

  const get = async (path: string): Promise<ApiResponse> => {
    const res = await apiGet(node, path);
    expect(res.status, `${path}: ${res.text}`).to.equal(200);
    return res;
  };
  type Body = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

  before(async function () {
    node = await startTestNode({ LOTLINE_DEMO: "0" });
    await seedDemo(node.provider, node.contracts);
    const { provenance, escrow, token } = node.contracts;
    const wallet = (key: string) => demoWallet(member(key).account, node.provider);
    const send = async (tx: Promise<ContractTransactionResponse>) => (await (await tx).wait())!;
    const minter = token.connect(demoWallet(GOVERNOR_ACCOUNT, node.provider));
    for (const key of ["processor", "processor2"]) await send(minter.mint(wallet(key).address, 1_000_000_00n));
    const gtin = BigInt(gtinFor(member("processor").companyPrefixes[0], 40));
    await send(provenance.connect(wallet("processor")).registerProduct(gtin, unitToBytes3("KGM"), keccakText("whey")));
    const lot = (name: string, quantity: string) => ({
      gtin,
      lot: name,
      quantity: parseQuantity(quantity),
      gln: siteOf("processor"),
      metadataHash: keccakText(name),
    });
    await send(
      provenance.connect(wallet("processor")).registerLots([lot("WHEY-1", "100"), lot("CURD-1", "100"), lot("CREAM-1", "200")]),
    );
    ids.whey = (await provenance.lotId(gtin, "WHEY-1")).toLowerCase();
    ids.curd = (await provenance.lotId(gtin, "CURD-1")).toLowerCase();
    ids.cream = (await provenance.lotId(gtin, "CREAM-1")).toLowerCase();

    /** `buyer` orders `quantity` kg from `seller` and funds the order; its id. */
    const order = async (buyer: string, seller: string, quantity = "100"): Promise<bigint> => {
      const now = (await node.provider.getBlock("latest"))!.timestamp;
      const receipt = await send(
        escrow.connect(wallet(buyer)).createOrder({
          seller: orgOf(seller),
          arbiter: orgOf("auditor"),
          token: await token.getAddress(),
          gtin,
          quantity: parseQuantity(quantity),
          pricePerUnit: 100n,
          deliveryDeadline: BigInt(now + 10 * DAY),
          inspectionWindow: DAY,
          disputeTimeout: DISPUTE_DEFAULTS.timeoutSeconds,
          defaultSellerShareBps: DISPUTE_DEFAULTS.sellerShareBps,
          termsHash: ZeroHash,
        }),
      );
      const orderId = receipt.logs.map((l) => escrow.interface.parseLog(l)).find((l) => l?.name === "OrderCreated")!.args
        .orderId as bigint;
      await send(token.connect(wallet(buyer)).approve(await escrow.getAddress(), (parseQuantity(quantity) * 100n) / 1000n));
      await send(escrow.connect(wallet(buyer)).fund(orderId));
      return orderId;
    };
    /** `seller` hands `quantity` kg of `batchId` over to `buyer` with ownership (a sale); the sale recorded. */
    const sell = async (batchId: string, seller: string, buyer: string, quantity = "100") => {
      await send(provenance.connect(wallet(seller)).offer(batchId, parseQuantity(quantity), orgOf(buyer), HANDOVER_KINDS.both));
      const receipt = await send(
        provenance.connect(wallet(buyer)).accept(...(await pendingTerms(provenance, batchId)), siteOf(buyer)),
      );
      const sale = receipt.logs.map((l) => provenance.interface.parseLog(l)).find((l) => l?.name === "OwnershipTransferred")!;
      return { batchId: (sale.args.batchId as string).toLowerCase(), index: sale.args.index as bigint };
    };
    /** A whole escrowed sale of `batchId`: ordered, sold, delivered, accepted. */
    const settled = async (batchId: string, buyer: string, seller: string) => {
      const orderId = await order(buyer, seller);
      await send(escrow.connect(wallet(seller)).deliver(orderId, [await sell(batchId, seller, buyer)]));
      await send(escrow.connect(wallet(buyer)).acceptDelivery(orderId));
      return String(orderId);
    };

    orders.o1 = await settled(ids.whey, "processor2", "processor");
    orders.o2 = await settled(ids.whey, "processor", "processor2");
    orders.o3 = await settled(ids.whey, "processor2", "processor");

    orders.o4 = String(await order("processor2", "processor", "200"));
    const first = await sell(ids.curd, "processor", "processor2");
    await sell(ids.curd, "processor2", "processor"); // sold back, outside escrow
    curdSales = [first, await sell(ids.curd, "processor", "processor2")];

    orders.o5 = String(await order("processor2", "processor"));
    const portion = await sell(ids.cream, "processor", "processor2");
    ids.portion = portion.batchId;
    await send(escrow.connect(wallet("processor")).deliver(BigInt(orders.o5), [portion]));
    await send(escrow.connect(wallet("processor2")).acceptDelivery(BigInt(orders.o5)));
    orders.o6 = await settled(ids.portion, "processor", "processor2");
    orders.o7 = await settled(ids.portion, "processor2", "processor");
    const butterGtin = BigInt(gtinFor(member("processor2").companyPrefixes[0], 41));
    await send(provenance.connect(wallet("processor2")).registerProduct(butterGtin, unitToBytes3("KGM"), keccakText("butter")));
    await send(
      provenance
        .connect(wallet("processor2"))
        .transform(
          encodeBytes32String("PROCESS"),
          [ids.portion],
          [parseQuantity("100")],
          [
            {
              gtin: butterGtin,
              lot: "BTR-1",
              quantity: parseQuantity("40"),
              gln: siteOf("processor2"),
              metadataHash: keccakText("BTR-1"),
            },
          ],
          keccakText("churn 1"),
        ),
    );
    ids.butter = (await provenance.lotId(butterGtin, "BTR-1")).toLowerCase();
    await node.synced();

    // The seller delivers both sales of CURD-1 in one call, as a seller would (signed, relayed by the node).
    cliDir = tempDir("cli-bought-back");
    const refs = curdSales.map((s) => `${s.batchId}@${s.index}`);
    cliDelivery = await lotline(["order", "deliver", orders.o4, ...refs, "--dev-account", String(member("processor").account)], {
      LOTLINE_API_URL: node.url,
      LOTLINE_DATA_DIR: cliDir,
      LOTLINE_RPC_URL: undefined,
      LOTLINE_CHAIN_PORT: new URL(node.chain!.url).port,
    });
    expect(cliDelivery.code, cliDelivery.stderr).to.equal(0);
    await node.synced();
  });

  after(async function () {
    await node?.cleanup();
    if (cliDir) fs.rmSync(cliDir, { recursive: true, force: true });
  });

  describe("sales and orders", function () {
    it("lists each of the batch's three sales once, each with the order it counts toward", async function () {
      const sales = (await get(`/api/v1/batches/${ids.whey}/sales`)).body;
      expect(sales.items.map((s: Body) => [s.fromOrgId, s.toOrgId, s.quantity, s.orderId])).to.deep.equal([
        ["2", "3", "100", orders.o1],
        ["3", "2", "100", orders.o2],
        ["2", "3", "100", orders.o3],
      ]);
      expect(new Set(sales.items.map((s: Body) => s.saleIndex)).size).to.equal(3);
    });

    it("lists the two sales from the seller to the buyer, and names the latest as the one a delivery between them names", async function () {
      const sales = (await get(`/api/v1/batches/${ids.whey}/sales?from=2&to=3`)).body;
      expect(sales.items.map((s: Body) => s.orderId)).to.deep.equal([orders.o1, orders.o3]);
      expect(sales.deliverable.saleIndex).to.equal(sales.items[1].saleIndex);
    });

    it("names the order of the batch's latest sale as the batch's order, one batch at a time and in lists", async function () {
      expect((await get(`/api/v1/batches/${ids.whey}`)).body.orderId).to.equal(orders.o3);
      const listed = (await get(`/api/v1/batches?owner=3&limit=500`)).body.items.find((b: Body) => b.id === ids.whey);
      expect(listed?.orderId).to.equal(orders.o3);
    });

    it("shows the orders the batch settled each once, each naming the batch in one delivery (the explorer's 'Orders it settled')", async function () {
      const sales = (await get(`/api/v1/batches/${ids.whey}/sales`)).body;
      const orderIds = sales.items.map((s: Body) => s.orderId);
      expect(orderIds).to.deep.equal([...new Set(orderIds)]);
      for (const orderId of orderIds) {
        const o = (await get(`/api/v1/orders/${orderId}`)).body;
        expect(
          o.deliveries.map((d: Body) => d.batchId),
          `order ${orderId}`,
        ).to.deep.equal([ids.whey]);
        expect(o, `order ${orderId}`).to.include({ status: "completed", delivered: "100" });
      }
    });

    it("lists each of the seller's orders once, as seller and as buyer", async function () {
      const asSeller = (await get(`/api/v1/orders?seller=2`)).body.items.map((o: Body) => o.orderId);
      const asBuyer = (await get(`/api/v1/orders?buyer=2`)).body.items.map((o: Body) => o.orderId);
      expect(asSeller).to.deep.equal([orders.o1, orders.o3, orders.o4, orders.o5, orders.o7]);
      expect(asBuyer).to.deep.equal([orders.o2, orders.o6]);
    });

    it("counts both sales of one batch delivered for one order in its quantity, as the escrow does, and the batch once among its batches", async function () {
      const o = (await get(`/api/v1/orders/${orders.o4}`)).body;
      expect(o.deliveries.map((d: Body) => [d.batchId, d.saleIndex, d.quantity])).to.deep.equal(
        curdSales.map((s) => [ids.curd, String(s.index), "100"]),
      );
      const onChain = await node.contracts.escrow.order(BigInt(orders.o4));
      expect(o).to.include({ delivered: "200", status: "delivered" });
      expect(parseQuantity(o.delivered)).to.equal(onChain.delivered);
      const batches = [...new Set(o.deliveries.map((d: Body) => d.batchId))];
      expect(batches).to.deep.equal(
        (await node.contracts.escrow.deliveredBatches(BigInt(orders.o4))).map((b) => b.toLowerCase()),
      );
    });

    it("says a delivery of two sales of one batch is 2 sales of 1 batch (lotline order deliver)", function () {
      expect(cliDelivery.stdout).to.include(
        `delivered 200 KGM in 2 sales of 1 batch for order ${orders.o4}: 200 of 200 KGM delivered; status delivered`,
      );
      for (const s of curdSales) expect(cliDelivery.stdout).to.include(`  ${ids.curd}  100 KGM  sale ${s.index}`);
    });
  });

  describe("an organisation's KPIs and supplier risk", function () {
    it("counts each order once in on-time delivery, as seller and as the buyer who sold it back", async function () {
      const seller = (await get(`/api/v1/analytics/orgs/2/kpis?${WIDE}`)).body;
      const buyer = (await get(`/api/v1/analytics/orgs/3/kpis?${WIDE}`)).body;
      expect(seller.onTimeOrders).to.deep.equal({ onTime: 5, decided: 5 });
      expect(buyer.onTimeOrders).to.deep.equal({ onTime: 2, decided: 2 });
    });

    it("counts each order once in late and disputed orders, each lot once however often it was bought, each offer once", async function () {
      const component = (score: Body, name: string) => score.components.find((c: Body) => c.name === name);
      const seller = (await get(`/api/v1/scores/suppliers/2`)).body;
      expect(component(seller, "lateDeliveries").evidence).to.include({ decidedOrders: 5, late: 0 });
      expect(component(seller, "disputedOrders").evidence).to.include({ deliveredOrders: 5 });
      expect(component(seller, "recallsCaused").evidence).to.include({ producedLots: 3 });
      expect(component(seller, "recallsInLineage").evidence).to.include({ lots: 3 });
      // Nine hand-over offers each way: three sales of each of WHEY-1, CURD-1 and the cream portion.
      expect(component(seller, "custodyGaps").evidence).to.include({ offers: 9, acceptedLate: 0 });
      const buyer = (await get(`/api/v1/scores/suppliers/3`)).body;
      expect(component(buyer, "lateDeliveries").evidence).to.include({ decidedOrders: 2 });
      // WHEY-1, CURD-1, CREAM-1 (its portion) and BTR-1: bought twice, each lot counts once.
      expect(component(buyer, "recallsInLineage").evidence).to.include({ lots: 4 });
      expect(component(buyer, "recallsExposedTo").evidence).to.include({ lots: 4 });
      expect(component(buyer, "custodyGaps").evidence).to.include({ offers: 9 });
    });
  });

  describe("lineage, stock and footprint", function () {
    it("has no edge for a sale: the batch sold back and forth is one node without edges", async function () {
      const trace = (await get(`/api/v1/batches/${ids.whey}/trace`)).body;
      expect(trace.nodes.map((n: Body) => n.id)).to.deep.equal([ids.whey]);
      expect(trace.edges).to.deep.equal([]);
    });

    it("traces what was made from a portion bought back and bought again through each flow once", async function () {
      const trace = (await get(`/api/v1/batches/${ids.butter}/trace?direction=upstream`)).body;
      expect(trace.nodes.map((n: Body) => n.id))
        .to.have.members([ids.butter, ids.portion, ids.cream])
        .and.have.length(3);
      expect(trace.edges.map((e: Body) => [e.from, e.to, e.type, e.quantity])).to.have.deep.members([
        [ids.cream, ids.portion, "split", "100"],
        [ids.portion, ids.butter, "process", "100"],
      ]);
      expect(trace.edges).to.have.length(2);
    });

    it("sizes a recall of the lot with each downstream batch once and counts only what is held now", async function () {
      const impact = (await get(`/api/v1/batches/${ids.cream}/recall-impact`)).body;
      expect(impact.affected.map((b: Body) => b.id))
        .to.have.members([ids.portion, ids.butter])
        .and.have.length(2);
      expect(impact.totals).to.deep.include({
        batches: 2,
        inCirculation: 1,
        quantityByUnit: { KGM: "40" },
        byCustodian: { "3": 1 },
      });
      const lot = (await get(`/api/v1/batches/${ids.cream}`)).body.lotSummary;
      expect(lot.quantityInCirculation).to.equal("100");
      expect(lot.portions.map((p: Body) => p.id))
        .to.have.members([ids.cream, ids.portion])
        .and.have.length(2);
    });

    it("names each upstream lot once in the footprint's gaps and in the batch's inherited risk", async function () {
      const footprint = (await get(`/api/v1/batches/${ids.butter}/footprint`)).body;
      expect(footprint.basisQuantity).to.equal(40);
      expect(footprint.gaps.map((g: Body) => [g.batchId, g.reason])).to.have.deep.members([
        [ids.butter, "no_production_run"],
        [ids.cream, "no_production_run"],
      ]);
      expect(footprint.gaps).to.have.length(2);
      const score = (await get(`/api/v1/scores/batches/${ids.butter}`)).body;
      expect(score.inheritedRisk.upstreamBatches).to.equal(2);
    });
  });

  describe("the index", function () {
    let fresh: Db;
    before(async function () {
      fresh = openDatabase(":memory:");
      const url = node.chain!.url;
      await createLotlineIndexer(
        { db: fresh, rpc: createRpcClient(url), deployment: node.state.deployment! },
        { finalityDepth: 0, reorgWindow: 64, logRange: 2_000, rpcUrl: url },
      ).syncToHead();
    });
    after(() => fresh?.close());

    it("holds each sale and each delivery once, as indexing the chain again from scratch does", function () {
      const rows = (db: Db, sql: string, ...params: string[]) => db.prepare(sql).all(...params);
      for (const sql of [
        `SELECT sale_index, batch_id, from_org, to_org, quantity, block_number FROM sales ORDER BY sale_index`,
        `SELECT sale_index, batch_id, order_id, quantity, block_number FROM order_deliveries ORDER BY sale_index`,
        `SELECT from_batch, to_batch, kind, quantity FROM lineage_edges ORDER BY from_batch, to_batch`,
      ]) {
        expect(rows(node.db, sql), sql).to.deep.equal(rows(fresh, sql));
      }
      // Three sales each of WHEY-1, CURD-1 and the cream portion; CURD-1's order names two of its sales.
      expect(rows(node.db, `SELECT sale_index FROM sales`)).to.have.length(9);
      expect(rows(node.db, `SELECT sale_index FROM order_deliveries WHERE batch_id = ?`, ids.curd)).to.have.length(2);
    });
  });

  describe("a recall of the batch an order holds by two sales", function () {
    before(async function () {
      const producer = node.contracts.provenance.connect(demoWallet(member("processor").account, node.provider));
      await (await producer.recall(ids.curd, "listeria in the retained sample")).wait();
      await node.synced();
      // The node's freezer freezes delivered orders that hold a recalled batch (services/settlement/freezer.ts).
      await until("order 4 frozen", async () =>
        (await get(`/api/v1/orders/${orders.o4}`)).body.status === "frozen" ? true : undefined,
      );
    });

    it("freezes the order once", async function () {
      const o = (await get(`/api/v1/orders/${orders.o4}`)).body;
      expect(o.events.filter((e: Body) => e.type === "frozen").map((e: Body) => e.details.batchId.toLowerCase())).to.deep.equal([
        ids.curd,
      ]);
    });

    it("asks the buyer holding it to acknowledge once, for the batch once", async function () {
      const status = (await get(`/api/v1/recalls/${ids.curd}/acknowledgements`)).body;
      expect(status.custodians.map((c: Body) => [c.orgId, c.holding.map((h: Body) => h.batchId)])).to.deep.equal([
        ["3", [ids.curd]],
      ]);
      expect(status.totals).to.include({ custodians: 1, outstanding: 1 });
    });
  });
});
