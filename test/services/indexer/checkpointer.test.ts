import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { expect } from "chai";
import { createRpcClient } from "../../../services/chain/rpc";
import { createCheckpointer } from "../../../services/indexer/checkpointer";
import { dumpDerivedTables, openDatabase } from "../../../services/store/db";
import { deployDemo, freshRebuildDump, smallStepIndexer, startAnvil, tempDir } from "../../helpers/chain";

/** The rows of `table` in the database file alone, as a copy without its WAL sees them. */
function rowsInFileAlone(file: string, table: string): number {
  const copy = path.join(tempDir("checkpointer-copy"), "copy.sqlite");
  fs.copyFileSync(file, copy);
  const db = new Database(copy, { readonly: true });
  try {
    return (db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
  } finally {
    db.close();
  }
}

/**
 * rowsInFileAlone of chain_events while the worker may be checkpointing: a copy taken in the middle
 * of a passive checkpoint holds pages of two commits (the catch-up drops and creates indexes, so its
 * schema may not even open: "malformed database schema … orphan index") and counts as none; the
 * next step's copy is read instead.
 */
function rowsInFileMidway(file: string): number {
  try {
    return rowsInFileAlone(file, "chain_events");
  } catch (err) {
    if ((err as { code?: string }).code?.startsWith("SQLITE_CORRUPT") || /malformed/.test((err as Error).message)) return 0;
    throw err;
  }
}

describe("indexer: WAL checkpoints on a worker thread (ADR 0033)", function () {
  it("copies what the writer committed back into the database file, the writer's connection never checkpointing", async function () {
    const file = path.join(tempDir("checkpointer"), "index.sqlite");
    const db = openDatabase(file);
    db.pragma("wal_checkpoint(TRUNCATE)"); // the schema in the file, what follows in the WAL only
    db.pragma("wal_autocheckpoint = 0");
    const insert = db.prepare(`INSERT INTO indexer_blocks (block_number, block_hash, parent_hash, timestamp) VALUES (?, ?, ?, ?)`);
    db.transaction(() => {
      for (let n = 1; n <= 200; n++) insert.run(n, `0x${n}`, `0x${n - 1}`, n);
    })();
    expect(rowsInFileAlone(file, "indexer_blocks"), "before: the rows are in the WAL only").to.equal(0);
    const checkpointer = createCheckpointer(db)!;
    checkpointer.request();
    await checkpointer.drained();
    expect(rowsInFileAlone(file, "indexer_blocks"), "after: copied back").to.equal(200);
    await checkpointer.close();
    db.close();
  });

  it("is not made for a database without a file", function () {
    const db = openDatabase(":memory:");
    expect(createCheckpointer(db)).to.equal(null);
    db.close();
  });

  it("a backfill into a file in many catch-up steps equals a clean run, with the WAL copied back as it goes", async function () {
    const chain = await startAnvil();
    const demo = await deployDemo(chain.url);
    await demo.provider.send("anvil_mine", ["0x10"]);
    const file = path.join(tempDir("checkpointer-backfill"), "index.sqlite");
    const db = openDatabase(file);
    try {
      const indexer = smallStepIndexer(db, createRpcClient(chain.url), demo.deployment);
      let catchUpSteps = 0;
      let lotsInFileMidway = 0;
      const head = await createRpcClient(chain.url).blockNumber();
      for (;;) {
        const step = await indexer.step();
        if (step.type === "idle") break;
        if (step.type !== "blocks" || step.to >= head) continue;
        catchUpSteps++;
        // From the 20th catch-up step on (the worker's checkpoints run beside the steps, so not at a
        // set one), the lots indexed so far reach the file itself, not only the WAL, before the step
        // reaching the head checkpoints on the writer's connection.
        if (catchUpSteps >= 20) lotsInFileMidway = Math.max(lotsInFileMidway, rowsInFileMidway(file));
      }
      expect(catchUpSteps).to.be.greaterThan(20);
      expect(lotsInFileMidway, "events in the database file after 20 catch-up steps").to.be.greaterThan(0);
      expect(dumpDerivedTables(db)).to.equal(await freshRebuildDump(chain.url, demo.deployment));
      await indexer.stop();
    } finally {
      db.close();
      demo.provider.destroy();
      await chain.stop();
    }
  });
});
