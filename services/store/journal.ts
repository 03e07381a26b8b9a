import type { Database } from "better-sqlite3";
import { prepared } from "./statements";

/**
 * Reorganisation journal. Triggers on every derived table record, for each row the indexer
 * inserts, updates or deletes, the block being applied and the row's previous image. Rolling back
 * to block N replays the journal above N in reverse. Handlers therefore write plain SQL and are
 * reorg-safe without knowing it; later issues' tables only need to be listed as derived.
 *
 * Rows are identified by SQLite's rowid, which every derived table keeps (no WITHOUT ROWID), so a
 * restored row regains its exact position and a rollback leaves tables byte-identical.
 */
/** The journal triggers of a table are named `${table}_journal_${op}`. */
export const JOURNAL_OPS = ["insert", "update", "delete"] as const;

export function installJournalTriggers(db: Database, table: string): void {
  const columns = (prepared(db, `SELECT name FROM pragma_table_info(?)`).all(table) as { name: string }[]).map(
    (c) => c.name,
  );
  if (columns.length === 0) throw new Error(`unknown table ${table}`);
  const image = (alias: "OLD" | "NEW") =>
    `json_object(${["'rowid'", `${alias}.rowid`, ...columns.flatMap((c) => [`'${c}'`, `${alias}."${c}"`])].join(", ")})`;
  const context = `(SELECT block_number FROM journal_context WHERE id = 1)`;
  const enabled = `(SELECT enabled FROM journal_context WHERE id = 1) = 1`;
  const triggers: [string, string][] = [
    [
      `${table}_journal_insert`,
      `CREATE TRIGGER ${table}_journal_insert AFTER INSERT ON ${table} WHEN ${enabled} BEGIN
      INSERT INTO reorg_journal (block_number, table_name, op, row_id, old_row)
      VALUES (${context}, '${table}', 'insert', NEW.rowid, NULL);
    END`,
    ],
    [
      `${table}_journal_update`,
      `CREATE TRIGGER ${table}_journal_update AFTER UPDATE ON ${table} WHEN ${enabled} BEGIN
      INSERT INTO reorg_journal (block_number, table_name, op, row_id, old_row)
      VALUES (${context}, '${table}', 'update', OLD.rowid, ${image("OLD")});
    END`,
    ],
    [
      `${table}_journal_delete`,
      `CREATE TRIGGER ${table}_journal_delete AFTER DELETE ON ${table} WHEN ${enabled} BEGIN
      INSERT INTO reorg_journal (block_number, table_name, op, row_id, old_row)
      VALUES (${context}, '${table}', 'delete', OLD.rowid, ${image("OLD")});
    END`,
    ],
  ];
  // sqlite_master keeps each trigger's text as created: triggers already as they would be written
  // (every migration that leaves the table's columns alone) are not dropped and created again. Each
  // schema change costs a rewrite of sqlite_master; a new database runs 30-odd migrations over 30-odd
  // tables, and that was most of a first start's longest stall (docs/performance.md "Event loop").
  const current = prepared(db, `SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ? AND name = ?`);
  if (triggers.every(([name, sql]) => (current.get(table, name) as { sql: string } | undefined)?.sql === sql)) return;
  db.exec(`
    DROP TRIGGER IF EXISTS ${table}_journal_insert;
    DROP TRIGGER IF EXISTS ${table}_journal_update;
    DROP TRIGGER IF EXISTS ${table}_journal_delete;
    ${triggers.map(([, sql]) => `${sql};`).join("\n    ")}
  `);
}

interface JournalEntry {
  seq: number;
  table_name: string;
  op: "insert" | "update" | "delete";
  row_id: number;
  old_row: string | null;
}

/**
 * Undoes every journalled write above `blockNumber`, newest first, and drops those entries.
 * Must run inside the caller's transaction; journalling is off while it runs.
 */
export function rollbackJournal(db: Database, blockNumber: number): number {
  const entries = db
    .prepare(`SELECT seq, table_name, op, row_id, old_row FROM reorg_journal WHERE block_number > ? ORDER BY seq DESC`)
    .all(blockNumber) as JournalEntry[];
  setJournalling(db, false);
  for (const entry of entries) {
    const table = quoteIdent(entry.table_name);
    prepared(db, `DELETE FROM ${table} WHERE rowid = ?`).run(entry.row_id);
    if (entry.op !== "insert" && entry.old_row) {
      const row = JSON.parse(entry.old_row) as Record<string, unknown>;
      const names = Object.keys(row);
      const columns = names.map((n) => (n === "rowid" ? "rowid" : quoteIdent(n))).join(", ");
      prepared(db, `INSERT INTO ${table} (${columns}) VALUES (${names.map(() => "?").join(", ")})`).run(
        ...names.map((n) => row[n]),
      );
    }
  }
  db.prepare(`DELETE FROM reorg_journal WHERE block_number > ?`).run(blockNumber);
  return entries.length;
}

/** Sets the block the following writes belong to and turns journalling on. */
export function beginJournalBlock(db: Database, blockNumber: number): void {
  prepared(db, `UPDATE journal_context SET block_number = ?, enabled = 1 WHERE id = 1`).run(blockNumber);
}

export function setJournalling(db: Database, enabled: boolean): void {
  prepared(db, `UPDATE journal_context SET enabled = ? WHERE id = 1`).run(enabled ? 1 : 0);
}

/** Forgets journal entries at or below `blockNumber`: those blocks are final now. */
export function pruneJournal(db: Database, blockNumber: number): void {
  prepared(db, `DELETE FROM reorg_journal WHERE block_number <= ?`).run(blockNumber);
}

function quoteIdent(name: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`bad identifier ${name}`);
  return `"${name}"`;
}
