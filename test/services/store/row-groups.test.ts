import { expect } from "chai";
import { openDatabase, type Db } from "../../../services/store/db";
import { closeRowGroup, flushRowGroup, insertGrouped, openRowGroup } from "../../../services/store/row-groups";

/** Rows held back and inserted many to a statement (services/store/row-groups.ts). */
describe("store: row groups", function () {
  const HEAD = `INSERT OR IGNORE INTO batch_events (block_number, log_index, batch_id, type, details, tx_hash, time) VALUES`;
  const row = (i: number, batch = `0x${i.toString(16).padStart(64, "0")}`) => [1, i, batch, "registered", "{}", "0xtx", "2026-01-01T00:00:00.000Z"];
  const rows = (db: Db) => db.prepare(`SELECT rowid, log_index, batch_id FROM batch_events ORDER BY rowid`).all() as { rowid: number; log_index: number; batch_id: string }[];
  let db: Db;
  beforeEach(function () {
    db = openDatabase(":memory:");
  });
  afterEach(function () {
    db.close();
  });

  it("inserts at once when no group is open", function () {
    insertGrouped(db, HEAD, row(0));
    expect(rows(db)).to.have.length(1);
  });

  it("holds rows back while a group is open and inserts them in the order given when flushed, more than one statement's worth included", function () {
    openRowGroup(db);
    for (let i = 0; i < 70; i++) insertGrouped(db, HEAD, row(69 - i));
    expect(rows(db)).to.have.length(0);
    flushRowGroup(db);
    closeRowGroup(db);
    const written = rows(db);
    expect(written.map((r) => r.log_index)).to.deep.equal(Array.from({ length: 70 }, (_, i) => 69 - i));
    expect(written.map((r) => r.rowid)).to.deep.equal(Array.from({ length: 70 }, (_, i) => i + 1));
  });

  it("ignores a duplicate within a group as one statement per row would, and the rowids stay consecutive", function () {
    openRowGroup(db);
    insertGrouped(db, HEAD, row(1));
    insertGrouped(db, HEAD, row(1));
    insertGrouped(db, HEAD, row(2));
    flushRowGroup(db);
    closeRowGroup(db);
    expect(rows(db).map((r) => [r.rowid, r.log_index])).to.deep.equal([
      [1, 1],
      [2, 2],
    ]);
  });

  it("drops rows not flushed when the group closes (their transaction failed), and a new group starts empty", function () {
    openRowGroup(db);
    insertGrouped(db, HEAD, row(1));
    closeRowGroup(db);
    openRowGroup(db);
    insertGrouped(db, HEAD, row(2));
    flushRowGroup(db);
    closeRowGroup(db);
    expect(rows(db).map((r) => r.log_index)).to.deep.equal([2]);
  });
});
