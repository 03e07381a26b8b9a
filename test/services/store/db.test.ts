import path from "node:path";
import { expect } from "chai";
import Database from "better-sqlite3";
import { dumpDerivedTables, NEW_FILE_PAGE_SIZE, openDatabase } from "../../../services/store/db";
import { MIGRATIONS } from "../../../services/store/migrations";
import { beginJournalBlock, pruneJournal, rollbackJournal, setJournalling } from "../../../services/store/journal";
import { tempDir } from "../../helpers/chain";

describe("SQLite store", function () {
  it("opens a file in WAL mode with every migration applied", function () {
    const db = openDatabase(path.join(tempDir("db"), "lotline.sqlite"));
    expect(db.pragma("journal_mode", { simple: true })).to.equal("wal");
    expect(db.pragma("user_version", { simple: true })).to.equal(Math.max(...MIGRATIONS.map((m) => m.id)));
    db.close();
  });

  it("creates a new file with 16 KiB pages and opens a file written with 4 KiB pages as it is", function () {
    const fresh = openDatabase(path.join(tempDir("db"), "lotline.sqlite"));
    expect(NEW_FILE_PAGE_SIZE).to.equal(16_384);
    expect(fresh.pragma("page_size", { simple: true })).to.equal(NEW_FILE_PAGE_SIZE);
    fresh.close();

    // A node's file from before the change: SQLite's default page size, WAL, some migrations applied.
    const file = path.join(tempDir("db"), "older.sqlite");
    const older = new Database(file);
    older.pragma("page_size = 4096");
    older.pragma("journal_mode = WAL");
    older.exec(MIGRATIONS.filter((m) => m.id <= 3).map((m) => m.sql).join("\n"));
    older.pragma("user_version = 3");
    older.close();
    const db = openDatabase(file);
    expect(db.pragma("page_size", { simple: true })).to.equal(4096);
    expect(db.pragma("user_version", { simple: true })).to.equal(Math.max(...MIGRATIONS.map((m) => m.id)));
    expect(db.pragma("integrity_check", { simple: true })).to.equal("ok");
    db.close();
  });

  it("applies each migration once: reopening changes nothing", function () {
    const file = path.join(tempDir("db"), "lotline.sqlite");
    openDatabase(file).close();
    const db = openDatabase(file);
    expect(db.prepare(`SELECT COUNT(*) AS n FROM journal_context`).get()).to.deep.equal({ n: 1 });
    db.close();
  });

  it("refuses a database whose schema is newer than this Lotline", function () {
    const file = path.join(tempDir("db"), "lotline.sqlite");
    const db = openDatabase(file);
    db.pragma("user_version = 999");
    db.close();
    expect(() => openDatabase(file)).to.throw(/schema \(version 999\) is newer than this Lotline/);
  });

  it("rolls inserts, updates and deletes of a block back to the exact previous rows", function () {
    const db = openDatabase(":memory:");
    const insertOrg = db.prepare(
      `INSERT INTO organisations (org_id, name, metadata_hash, status, allowed_roles, suspension_reason, admitted_at, admitted_block, updated_block)
       VALUES (?, ?, '0x00', 'active', 1, NULL, '2026-01-01T00:00:00.000Z', ?, ?)`,
    );
    db.transaction(() => {
      beginJournalBlock(db, 10);
      insertOrg.run(1, "A", 10, 10);
      insertOrg.run(2, "B", 10, 10);
      setJournalling(db, false);
    })();
    const before = dumpDerivedTables(db);
    db.transaction(() => {
      beginJournalBlock(db, 11);
      db.prepare(`UPDATE organisations SET status = 'suspended', updated_block = 11 WHERE org_id = 1`).run();
      db.prepare(`DELETE FROM organisations WHERE org_id = 2`).run();
      insertOrg.run(3, "C", 11, 11);
      beginJournalBlock(db, 12);
      db.prepare(`UPDATE organisations SET name = 'A2' WHERE org_id = 1`).run();
      setJournalling(db, false);
    })();
    expect(dumpDerivedTables(db)).to.not.equal(before);
    const undone = db.transaction(() => rollbackJournal(db, 10))();
    expect(undone).to.equal(4);
    expect(dumpDerivedTables(db)).to.equal(before);
    expect(db.prepare(`SELECT COUNT(*) AS n FROM reorg_journal`).get()).to.deep.equal({ n: 2 });
    pruneJournal(db, 10);
    expect(db.prepare(`SELECT COUNT(*) AS n FROM reorg_journal`).get()).to.deep.equal({ n: 0 });
    db.close();
  });

  it("journals nothing while journalling is off", function () {
    const db = openDatabase(":memory:");
    setJournalling(db, false);
    db.prepare(`INSERT INTO locations (gln, org_id, added_block) VALUES ('4012345000016', 1, 5)`).run();
    expect(db.prepare(`SELECT COUNT(*) AS n FROM reorg_journal`).get()).to.deep.equal({ n: 0 });
    db.close();
  });
});
