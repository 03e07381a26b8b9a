import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { DERIVED_TABLES, MIGRATIONS, type Migration } from "./migrations";
import { installJournalTriggers, JOURNAL_OPS } from "./journal";
import { restoreCatchUpSchema } from "./catch-up-schema";

export type Db = Database.Database;

/**
 * The page size of a new file: 16 KiB, where SQLite's default is 4. The index's keys are 32-byte
 * hashes, so a step of the indexer dirties a page of every hash-keyed B-tree for nearly every row,
 * and a commit writes each dirty page to the WAL as its own frame (two system calls), which the
 * checkpointer reads and copies back. Four times fewer, larger leaves: a 100,000-event backfill
 * replayed took about a fifth less CPU (ADR 0042, docs/performance.md "Backfill", seventh pass).
 * A file created earlier keeps its page size (a WAL file cannot change it): it works as before.
 */
export const NEW_FILE_PAGE_SIZE = 16_384;

/**
 * Opens (creating if needed) the SQLite file, in WAL mode with foreign keys on, and applies the
 * forward-only migrations not yet applied. `:memory:` works for pure tests.
 */
export function openDatabase(file: string, migrations: Migration[] = MIGRATIONS): Db {
  if (file !== ":memory:") fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const db = new Database(file);
  // Records of a member's production and trade: readable by the node's user only.
  if (file !== ":memory:") fs.chmodSync(file, 0o600);
  // Takes effect only on a file with no page written yet; ignored for an existing one.
  db.pragma(`page_size = ${NEW_FILE_PAGE_SIZE}`);
  db.pragma("journal_mode = WAL");
  // FULL: a commit survives a power cut as well as a crash; the indexer's checkpoint depends on it.
  db.pragma("synchronous = FULL");
  db.pragma("foreign_keys = ON");
  db.pragma("busy_timeout = 5000");
  // The index's B-trees are keyed by 32-byte hashes, so writes land on random pages: with SQLite's
  // default 2 MB page cache a backfill re-read most of them from the OS for every row
  // (docs/performance.md). 64 MB of cache and temporary B-trees in memory.
  db.pragma("cache_size = -65536");
  db.pragma("temp_store = MEMORY");
  migrate(db, migrations);
  return db;
}

function migrate(db: Db, migrations: Migration[]): void {
  const current = db.pragma("user_version", { simple: true }) as number;
  const known = migrations.reduce((max, m) => Math.max(max, m.id), 0);
  if (current > known) {
    throw new Error(`the database schema (version ${current}) is newer than this Lotline (${known}); upgrade Lotline`);
  }
  const pending = migrations.filter((m) => m.id > current).sort((a, b) => a.id - b.id);
  // A migration may name any index or trigger: those a catching-up indexer dropped come back first
  // (catch-up-schema.ts). Without a pending migration they stay out until the indexer reaches the
  // reorg window, where it creates them again.
  if (pending.length > 0 && hasTable(db, "deferred_schema")) restoreCatchUpSchema(db);
  const tables = db.prepare(`SELECT name, sql FROM sqlite_master WHERE type = 'table'`).raw(true);
  const triggers = db.prepare(`SELECT tbl_name || '.' || name FROM sqlite_master WHERE type = 'trigger'`).pluck();
  for (const [i, migration] of pending.entries()) {
    db.transaction(() => {
      const before = new Map(tables.all() as [string, string][]);
      db.exec(migration.sql);
      const after = new Map(tables.all() as [string, string][]);
      const installed = new Set(triggers.all() as string[]);
      for (const table of DERIVED_TABLES) {
        if (!after.has(table)) continue;
        // A table this migration left as it was keeps its triggers: they depend on its columns only.
        // Reinstalling all of them after each of 30-odd migrations was most of a first start's
        // longest stall (docs/performance.md "Event loop"). The last migration checks every table,
        // so triggers written by an older Lotline are brought up to date too.
        const unchanged =
          before.get(table) === after.get(table) && JOURNAL_OPS.every((op) => installed.has(`${table}.${table}_journal_${op}`));
        if (!unchanged || i === pending.length - 1) installJournalTriggers(db, table);
      }
      db.pragma(`user_version = ${migration.id}`);
    })();
  }
}

function hasTable(db: Db, name: string): boolean {
  return db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`).get(name) !== undefined;
}

/** A stable text dump of the derived tables, for comparing a rolled-back index with a rebuild. */
export function dumpDerivedTables(db: Db): string {
  return DERIVED_TABLES.map((table) => {
    const rows = db.prepare(`SELECT rowid AS _rowid, * FROM "${table}" ORDER BY rowid`).all();
    return `${table}\n${rows.map((r) => JSON.stringify(r)).join("\n")}`;
  }).join("\n\n");
}

/**
 * Empties the index: every derived table, the journal, the stored block hashes and the
 * checkpoint, in one transaction. The next indexer steps re-read the chain from the start block.
 */
export function clearIndex(db: Db): void {
  db.transaction(() => {
    db.prepare(`UPDATE journal_context SET enabled = 0 WHERE id = 1`).run();
    for (const table of DERIVED_TABLES) db.prepare(`DELETE FROM "${table}"`).run();
    db.prepare(`DELETE FROM reorg_journal`).run();
    db.prepare(`DELETE FROM indexer_blocks`).run();
    db.prepare(`DELETE FROM indexer_checkpoint`).run();
  })();
}
