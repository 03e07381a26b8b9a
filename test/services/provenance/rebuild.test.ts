import { expect } from "chai";
import { AbiCoder, keccak256 } from "ethers";
import { dumpDerivedTables } from "../../../services/store/db";
import { createProvenanceStore } from "../../../services/store/provenance";
import { downstreamClosure } from "../../../services/provenance/trace";
import { HANDOVER_KINDS } from "../../../services/provenance/acceptance";
import { formatQuantity } from "../../../services/provenance/quantity";
import { DEMO_GOODS } from "../../../services/demo/supply-chain";
import { DEMO_MEMBERS, demoWallet } from "../../../services/demo/roster";
import { glnFor } from "../../../services/gs1/keys";
import { freshRebuildDump } from "../../helpers/chain";
import { startTestNode, type TestNode } from "../../helpers/node";

/**
 * The provenance tables are derived: a node that indexed the demo live (a backfill after seeding,
 * then the blocks of its own recall-propagation and anchoring jobs, then whatever happens while it
 * runs) holds exactly what indexing the same chain from scratch gives, byte for byte (ADR 0004),
 * and what the contract itself stores.
 */
const member = (key: string) => DEMO_MEMBERS.find((m) => m.key === key)!;
const orgOf = (key: string) => BigInt(DEMO_MEMBERS.indexOf(member(key)) + 1);
const coder = AbiCoder.defaultAbiCoder();
const lotIdOf = (gtin: string, lot: string) => keccak256(coder.encode(["uint64", "string"], [BigInt(gtin), lot]));
const portionIdOf = (parent: string, k: number) => keccak256(coder.encode(["bytes32", "uint32"], [parent, k]));
const lotA = lotIdOf(DEMO_GOODS.rawMilk, "MILK-2611-A");
const lotB = lotIdOf(DEMO_GOODS.recalledLot.gtin, DEMO_GOODS.recalledLot.lot);

const STATUS = ["none", "active", "in_transit", "consumed", "destroyed"];
const RECALL = ["none", "direct", "propagated"];
const HANDOVER = ["custody", "ownership", "both"];

/** Each derived table's dump, by table name, so a mismatch names its table. */
function byTable(dump: string): Record<string, string> {
  return Object.fromEntries(dump.split("\n\n").map((section) => [section.split("\n", 1)[0], section]));
}

function expectSameTables(rebuilt: string, live: string): void {
  const a = byTable(rebuilt);
  const b = byTable(live);
  expect(Object.keys(a)).to.deep.equal(Object.keys(b));
  for (const table of Object.keys(b)) expect(a[table], `derived table ${table}`).to.equal(b[table]);
  expect(rebuilt === live, "the whole dump").to.equal(true);
}

async function until(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("provenance index: a rebuild from scratch equals the live index", function () {
  let node: TestNode;

  before(async function () {
    this.timeout(180_000);
    node = await startTestNode();
    await node.synced();
  });

  after(async function () {
    await node?.cleanup();
  });

  const as = (key: string) => node.contracts.provenance.connect(demoWallet(member(key).account, node.provider));
  const send = async (tx: Promise<{ wait(): Promise<unknown> }>) => (await tx).wait();

  async function expectRebuildEqualsLive(): Promise<void> {
    await node.synced();
    const live = dumpDerivedTables(node.db);
    expectSameTables(await freshRebuildDump(node.chain!.url, node.state.deployment!), live);
  }

  /** Every indexed portion against the contract's own record of it, and every edge against its stored edges. */
  async function expectIndexMatchesChain(): Promise<void> {
    await node.synced();
    const rows = node.db.prepare(`SELECT * FROM batches ORDER BY rowid`).all() as {
      batch_id: string;
      gtin: string;
      quantity: string;
      owner_org: number;
      custodian_org: number;
      producer_org: number;
      status: string;
      recall: string;
      unit_key: string | null;
      offer_to: number | null;
      offer_kind: string | null;
      offer_quantity: string | null;
    }[];
    for (const row of rows) {
      const b = await node.contracts.provenance.batch(row.batch_id);
      const offer = await node.contracts.provenance.pendingOffer(row.batch_id);
      const unit = await node.contracts.provenance.unitOf(row.batch_id);
      expect(
        {
          quantity: row.quantity,
          owner: row.owner_org,
          custodian: row.custodian_org,
          producer: row.producer_org,
          gtin: row.gtin,
          status: row.status,
          recall: row.recall,
          unit: row.unit_key,
          offer: row.offer_to === null ? null : [row.offer_to, row.offer_kind, row.offer_quantity],
        },
        row.batch_id,
      ).to.deep.equal({
        quantity: b.quantity.toString(),
        owner: Number(b.owner),
        custodian: Number(b.custodian),
        producer: Number(b.producer),
        gtin: b.gtin.toString().padStart(14, "0"),
        status: STATUS[Number(b.status)],
        recall: RECALL[Number(b.recall)],
        unit: BigInt(unit) === 0n ? null : unit,
        offer: offer.to === 0n ? null : [Number(offer.to), HANDOVER[Number(offer.kind)], offer.quantity.toString()],
      });
    }
    const edges = node.db.prepare(`SELECT from_batch, to_batch FROM lineage_edges`).all() as {
      from_batch: string;
      to_batch: string;
    }[];
    for (const e of edges)
      expect(await node.contracts.provenance.hasEdge(e.from_batch, e.to_batch), `${e.from_batch}>${e.to_batch}`).to.equal(true);
  }

  it("has the demo's recall of lot B propagated by the node's job to every batch downstream", function () {
    const store = createProvenanceStore(node.db);
    const descendants = downstreamClosure(lotB, store.neighbours);
    expect(descendants).to.have.length(7);
    for (const id of descendants) expect(store.getBatch(id)!.recall, id).to.include({ kind: "propagated" });
    expect(
      (node.db.prepare(`SELECT COUNT(*) AS n FROM anchors`).get() as { n: number }).n,
      "the demo's master data anchored",
    ).to.be.at.least(1);
  });

  it("gives byte-identical derived tables when the chain is indexed again from scratch", async function () {
    await expectRebuildEqualsLive();
    expect(byTable(dumpDerivedTables(node.db)).batches.split("\n").length, "header and the demo's portions").to.be.at.least(
      1 + 10,
    );
  });

  it("gives the same tables when the rebuild reads the chain three blocks at a time", async function () {
    await node.synced();
    const live = dumpDerivedTables(node.db);
    expectSameTables(await freshRebuildDump(node.chain!.url, node.state.deployment!, 3), live);
  });

  it("agrees with the contract's own record of every portion and lineage edge", async function () {
    await expectIndexMatchesChain();
  });

  it("still matches the chain and a rebuild after live hand-overs: custody apart from ownership, and an offer in transit", async function () {
    // Lot A's remaining milk (the demo's only stock free of the recall): half to the carrier's
    // custody, the rest offered to the dairy's ownership and left in transit.
    const before = await node.contracts.provenance.batch(lotA);
    const half = before.quantity / 2n;
    const rest = before.quantity - half;
    await send(as("producer").offer(lotA, half, orgOf("carrier"), HANDOVER_KINDS.custody));
    await send(as("carrier").accept(lotA, half, HANDOVER_KINDS.custody, glnFor(member("carrier").companyPrefixes[0], 3)));
    await send(as("producer").offer(lotA, rest, orgOf("processor"), HANDOVER_KINDS.ownership));
    await node.synced();
    const store = createProvenanceStore(node.db);
    expect(store.getBatch(portionIdOf(lotA, Number(before.splits)))).to.include({
      ownerOrgId: String(orgOf("producer")),
      custodianOrgId: String(orgOf("carrier")),
      quantity: formatQuantity(half),
    });
    expect(store.getBatch(lotA)).to.deep.include({
      status: "in_transit",
      pendingOffer: { toOrgId: String(orgOf("processor")), kind: "ownership", quantity: formatQuantity(rest) },
    });
    await expectIndexMatchesChain();
    await expectRebuildEqualsLive();
  });

  it("still matches the chain and a rebuild after a live recall that the running node's propagator carries down the lineage", async function () {
    this.timeout(60_000);
    await send(as("producer").recall(lotA, "listeria in the farm's bulk tank"));
    const store = createProvenanceStore(node.db);
    // Lot A's split-off portions are its only descendants not flagged yet (the pooled milk and all
    // below it carry lot B's recall): the job has one pair per portion to submit.
    const splits = Number((await node.contracts.provenance.batch(lotA)).splits);
    const children = Array.from({ length: splits }, (_, k) => portionIdOf(lotA, k));
    expect(children).to.have.length.at.least(2);
    await until(
      () => children.every((id) => store.getBatch(id)?.recall?.kind === "propagated"),
      "the node to propagate lot A's recall",
    );
    for (const id of children) expect(store.getBatch(id)!.recall).to.include({ sourceBatchId: lotA });
    await expectIndexMatchesChain();
    await expectRebuildEqualsLive();
  });

  it("lifts lot A's portions when its recall is withdrawn, keeps the pooled milk recalled through lot B, and still matches a rebuild", async function () {
    this.timeout(60_000);
    await send(as("producer").withdrawRecall(lotA, "retest of the retained sample negative"));
    const store = createProvenanceStore(node.db);
    const splits = Number((await node.contracts.provenance.batch(lotA)).splits);
    const children = Array.from({ length: splits }, (_, k) => portionIdOf(lotA, k));
    await until(() => children.every((id) => !store.getBatch(id)?.recall), "the node to propagate the withdrawal of lot A's recall");
    const pooled = lotIdOf(DEMO_GOODS.pooledMilk, "POOL-2611");
    expect([store.getBatch(lotA)!.recall, await node.contracts.provenance.isRecalled(lotA)]).to.deep.equal([null, false]);
    expect(await Promise.all(children.map((id) => node.contracts.provenance.isRecalled(id)))).to.deep.equal(children.map(() => false));
    expect([store.getBatch(pooled)!.recall?.kind, await node.contracts.provenance.isRecalled(pooled)]).to.deep.equal(["propagated", true]);
    await expectIndexMatchesChain();
    await expectRebuildEqualsLive();
  });
});
