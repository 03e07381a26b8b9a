import path from "node:path";
import { expect } from "chai";
import { createRpcClient } from "../../../services/chain/rpc";
import { dumpDerivedTables, openDatabase, type Db } from "../../../services/store/db";
import { MIGRATIONS } from "../../../services/store/migrations";
import { createIndexer } from "../../../services/indexer/engine";
import { createLotlineIndexer, LOTLINE_HANDLERS } from "../../../services/indexer/lotline";
import { DEFERRABLE_INDEXES, deferCatchUpSchema, deferredSchema } from "../../../services/store/catch-up-schema";
import { demoWallet } from "../../../services/demo/roster";
import { seedSupplyChain } from "../../../services/demo/supply-chain";
import { createDemoClock, DAY, DEMO_HISTORY_DAYS } from "../../../services/demo/clock";
import { seedMix } from "../../../scripts/bench/mix";
import { deployDemo, freshRebuildDump, smallStepIndexer, startAnvil, tempDir } from "../../helpers/chain";

/** Every index and trigger of a database, as SQLite keeps them. */
function schemaOf(db: Db): { type: string; name: string; sql: string | null }[] {
  return db.prepare(`SELECT type, name, sql FROM sqlite_master WHERE type IN ('index', 'trigger') ORDER BY type, name`).all() as {
    type: string;
    name: string;
    sql: string | null;
  }[];
}

/** Every row of an index's table, in the index's order (rowid, key): equal iff the indexes hold the same entries. */
function scanByIndex(db: Db, index: string): unknown[] {
  const { tbl_name: table, sql } = db.prepare(`SELECT tbl_name, sql FROM sqlite_master WHERE type = 'index' AND name = ?`).get(index) as {
    tbl_name: string;
    sql: string;
  };
  const partial = / WHERE (.*)$/.exec(sql)?.[1] ?? "1";
  return db.prepare(`SELECT rowid, * FROM "${table}" INDEXED BY "${index}" WHERE ${partial}`).all();
}

const integrity = (db: Db) => db.pragma("integrity_check", { simple: true });
const journalTriggers = (db: Db) => schemaOf(db).filter((o) => o.type === "trigger" && o.name.includes("_journal_"));

/**
 * A step wholly below the reorg window drops the journal triggers and the indexes no handler reads,
 * recording each in deferred_schema; they come back before a step reaches into the window
 * (services/store/catch-up-schema.ts, docs/adr/0035). The demo's supply chain and a few rounds of
 * the bench's real mix lie below a small reorg window (64 empty blocks mined after them), read in
 * many small steps (smallStepIndexer).
 */
describe("indexer: catching up without the journal triggers and the indexes no handler reads", function () {
  let chain: Awaited<ReturnType<typeof startAnvil>>;
  let demo: Awaited<ReturnType<typeof deployDemo>>;
  let fresh: string;
  let reference: ReturnType<typeof schemaOf>;

  before(async function () {
    // As the node's embedded demo chain: its genesis in the past, so the supply chain's dates are real.
    chain = await startAnvil({ genesisTimestamp: Math.floor(Date.now() / 1000) - DEMO_HISTORY_DAYS * DAY });
    demo = await deployDemo(chain.url);
    // Lots, hand-overs, sales, transformations and recalls: rows for every index dropped.
    await seedSupplyChain(demo.provider, demo.contracts, createDemoClock(demo.provider));
    await seedMix({ rpc: createRpcClient(chain.url), deployment: demo.deployment, events: 200, lotsPerRound: 6, handoversPerRound: 3 });
    await demo.provider.send("anvil_mine", ["0x40"]);
    fresh = await freshRebuildDump(chain.url, demo.deployment);
    const empty = openDatabase(":memory:");
    reference = schemaOf(empty);
    empty.close();
  });

  after(async function () {
    demo.provider.destroy();
    await chain.stop();
  });

  const rpc = () => createRpcClient(chain.url);

  it("writes final blocks without them, has every one back at the reorg window, and ends with a fresh rebuild's tables", async function () {
    const db = openDatabase(":memory:");
    const indexer = smallStepIndexer(db, rpc(), demo.deployment);
    const triggers = journalTriggers(db).length;
    let mostDeferred = 0;
    let stepsWithout = 0;
    for (;;) {
      const step = await indexer.step();
      if (step.type === "idle") break;
      const deferred = deferredSchema(db);
      mostDeferred = Math.max(mostDeferred, deferred.length);
      if (deferred.length > 0) {
        stepsWithout++;
        // What is recorded is what is missing from the schema, nothing else.
        const present = new Set(schemaOf(db).map((o) => o.name));
        expect(deferred.filter((name) => present.has(name))).to.deep.equal([]);
        expect(reference.filter((o) => !present.has(o.name)).map((o) => o.name).sort()).to.deep.equal([...deferred].sort());
      }
    }
    expect(stepsWithout).to.be.greaterThan(5);
    expect(mostDeferred).to.equal(triggers + DEFERRABLE_INDEXES.length);
    expect(deferredSchema(db)).to.deep.equal([]);
    expect(schemaOf(db)).to.deep.equal(reference);
    expect(integrity(db)).to.equal("ok");
    expect(dumpDerivedTables(db)).to.equal(fresh);
    db.close();
  });

  it("inserts a block's chain events and timeline rows in groups with the rowids and journal blocks one row at a time gives", async function () {
    const db = openDatabase(":memory:");
    // A window wider than the chain: every block journalled, as a step inside the window writes.
    const indexer = createLotlineIndexer(
      { db, rpc: rpc(), deployment: demo.deployment },
      { finalityDepth: 0, reorgWindow: 100_000, logRange: 2_000, rpcUrl: chain.url },
    );
    await indexer.syncToHead();
    const largest = (db.prepare(`SELECT MAX(n) AS n FROM (SELECT COUNT(*) AS n FROM chain_events GROUP BY block_number)`).get() as { n: number }).n;
    expect(largest, "no block holds more events than one group (32)").to.be.greaterThan(32);
    const inRowidOrder = db.prepare(`SELECT block_number, log_index FROM chain_events ORDER BY rowid`).all();
    expect(inRowidOrder).to.deep.equal(db.prepare(`SELECT block_number, log_index FROM chain_events ORDER BY block_number, log_index`).all());
    for (const table of ["chain_events", "batch_events"]) {
      const journalledElsewhere = db
        .prepare(
          `SELECT COUNT(*) AS n FROM "${table}" e LEFT JOIN reorg_journal j ON j.table_name = ? AND j.op = 'insert' AND j.row_id = e.rowid
           WHERE j.block_number IS NOT e.block_number`,
        )
        .get(table) as { n: number };
      expect(journalledElsewhere.n, table).to.equal(0);
    }
    expect((db.prepare(`SELECT COUNT(*) AS n FROM batch_events`).get() as { n: number }).n).to.be.greaterThan(32);
    db.close();
  });

  it("builds indexes after the catch-up that hold the entries indexes kept up row by row hold", async function () {
    const deferring = openDatabase(":memory:");
    await smallStepIndexer(deferring, rpc(), demo.deployment).syncToHead();
    // The same small steps, every block inside the reorg window: nothing is ever dropped.
    const incremental = openDatabase(":memory:");
    const rowByRow = createIndexer({
      db: incremental,
      rpc: rpc(),
      contracts: demo.deployment.contracts,
      startBlock: demo.deployment.startBlock,
      handlers: LOTLINE_HANDLERS,
      finalityDepth: 0,
      reorgWindow: 1_000_000,
      rebuildOnDeepReorg: false,
      maxRange: 4,
      maxEventsPerStep: 5,
    });
    for (;;) {
      const step = await rowByRow.step();
      expect(deferredSchema(incremental)).to.deep.equal([]);
      if (step.type === "idle") break;
    }
    expect(dumpDerivedTables(deferring)).to.equal(dumpDerivedTables(incremental));
    for (const index of DEFERRABLE_INDEXES) expect(scanByIndex(deferring, index), index).to.deep.equal(scanByIndex(incremental, index));
    // The demo fills the largest of them, so the comparison above compares something.
    for (const index of ["batches_lot", "batch_events_batch", "lineage_edges_upstream", "sales_batch"])
      expect(scanByIndex(deferring, index), index).to.not.be.empty;
    // The same question gets the same answer through the rebuilt index.
    const batch = (deferring.prepare(`SELECT to_batch FROM lineage_edges LIMIT 1`).get() as { to_batch: string }).to_batch;
    const upstream = `SELECT from_batch, kind, quantity FROM lineage_edges WHERE to_batch = ? ORDER BY block_number, from_batch`;
    expect(deferring.prepare(upstream).all(batch)).to.deep.equal(incremental.prepare(upstream).all(batch)).and.not.be.empty;
    expect(integrity(deferring)).to.equal("ok");
    expect(integrity(incremental)).to.equal("ok");
    deferring.close();
    incremental.close();
  });

  it("picks up a catch-up left with objects dropped (a process killed mid-way) and has them back at the reorg window", async function () {
    const file = path.join(tempDir("catch-up-schema"), "lotline.sqlite");
    const first = openDatabase(file);
    const indexer = smallStepIndexer(first, rpc(), demo.deployment);
    while (deferredSchema(first).length === 0) await indexer.step();
    await indexer.step();
    // Left as a killed process leaves it: no stop, no clean-up.
    first.close();

    const db = openDatabase(file);
    // No migration pending: they stay out until the indexer reaches the window.
    expect(deferredSchema(db)).to.not.be.empty;
    await smallStepIndexer(db, rpc(), demo.deployment).syncToHead();
    expect(deferredSchema(db)).to.deep.equal([]);
    expect(schemaOf(db)).to.deep.equal(reference);
    expect(integrity(db)).to.equal("ok");
    expect(dumpDerivedTables(db)).to.equal(fresh);
    db.close();
  });

  it("has every dropped object back before a pending migration runs, so migrations may name them", async function () {
    const file = path.join(tempDir("catch-up-schema"), "lotline.sqlite");
    const first = openDatabase(file);
    const indexer = smallStepIndexer(first, rpc(), demo.deployment);
    while (deferredSchema(first).length === 0) await indexer.step();
    first.close();

    const next = {
      id: MIGRATIONS.at(-1)!.id + 1,
      name: "a later migration reshaping an index the catch-up dropped",
      sql: `DROP INDEX batches_lot; CREATE INDEX batches_lot ON batches (lot_id, created_block);`,
    };
    const db = openDatabase(file, [...MIGRATIONS, next]);
    expect(deferredSchema(db)).to.deep.equal([]);
    const names = schemaOf(db).map((o) => o.name);
    expect(reference.map((o) => o.name).filter((name) => !names.includes(name))).to.deep.equal([]);
    expect((db.prepare(`SELECT sql FROM sqlite_master WHERE name = 'batches_lot'`).get() as { sql: string }).sql).to.contain("created_block");
    expect(integrity(db)).to.equal("ok");
    db.close();
  });

  it("has the journal triggers back before it rolls back a reorganisation", async function () {
    const db = openDatabase(":memory:");
    const indexer = createLotlineIndexer(
      { db, rpc: rpc(), deployment: demo.deployment },
      { finalityDepth: 0, reorgWindow: 64, logRange: 2_000, rpcUrl: chain.url },
    );
    await indexer.syncToHead();
    const snapshot = await demo.provider.send("evm_snapshot", []);
    const governor = demo.contracts.registry.connect(demoWallet(0, demo.provider));
    await (await governor.suspendOrganisation(6, "fork A")).wait();
    await indexer.syncToHead();
    // Objects left dropped at the head (as by a catch-up cut short), then the chain reorganises.
    db.transaction(() => deferCatchUpSchema(db, { indexes: true }))();
    expect(deferredSchema(db)).to.not.be.empty;
    await demo.provider.send("evm_revert", [snapshot]);
    await demo.provider.send("anvil_mine", ["0x3"]);
    const steps: string[] = [];
    for (;;) {
      const step = await indexer.step();
      steps.push(step.type);
      // Back by the end of the reorganisation step itself, not only at the window step after it.
      if (step.type === "reorg") expect(deferredSchema(db)).to.deep.equal([]);
      if (step.type === "idle") break;
    }
    expect(steps).to.include("reorg");
    expect(db.prepare(`SELECT status FROM organisations WHERE org_id = 6`).get()).to.deep.equal({ status: "active" });
    expect(dumpDerivedTables(db)).to.equal(await freshRebuildDump(chain.url, demo.deployment));
    expect(integrity(db)).to.equal("ok");
    db.close();
  });
});
