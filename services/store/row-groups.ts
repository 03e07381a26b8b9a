import type Database from "better-sqlite3";

/**
 * Rows held back and inserted many to a statement. Running one INSERT per row from JavaScript costs
 * about as much again as the row's own B-tree work (docs/performance.md "Backfill"), and an indexer
 * step inserts one timeline row for most events.
 *
 * Only while a group is open on the connection (the indexer opens one per block, inside its
 * transaction, and flushes it before the block's writes end): rows then reach the table in the
 * order they were given, so they take the rowids, and the journal's block, that one statement per
 * row gives. With no group open, `insertGrouped` inserts at once, so a handler run on its own (a
 * test) writes as before. Nothing may read a grouped table while its group is open.
 */
interface Group {
  /** `INSERT … INTO t (columns) VALUES` without the tuples. */
  head: string;
  width: number;
  values: unknown[];
}

const ROWS_PER_STATEMENT = 32;

const open = new WeakMap<Database.Database, Map<string, Group>>();
const statements = new WeakMap<Database.Database, Map<string, Database.Statement>>();

function statement(db: Database.Database, head: string, width: number, rows: number): Database.Statement {
  let byKey = statements.get(db);
  if (!byKey) statements.set(db, (byKey = new Map()));
  const key = `${rows} ${head}`;
  let prepared = byKey.get(key);
  if (!prepared) {
    const tuple = `(${Array(width).fill("?").join(", ")})`;
    byKey.set(key, (prepared = db.prepare(`${head} ${Array(rows).fill(tuple).join(", ")}`)));
  }
  return prepared;
}

/** Inserts one row (`width` values) with `head` (`INSERT … INTO t (columns) VALUES`): held back while a group is open, at once otherwise. */
export function insertGrouped(db: Database.Database, head: string, row: unknown[]): void {
  const groups = open.get(db);
  if (!groups) {
    statement(db, head, row.length, 1).run(row);
    return;
  }
  let group = groups.get(head);
  if (!group) groups.set(head, (group = { head, width: row.length, values: [] }));
  group.values.push(...row);
}

/** Opens a group on the connection; rows held from an earlier one that failed are dropped. */
export function openRowGroup(db: Database.Database): void {
  open.set(db, new Map());
}

/** Inserts the rows held back, each table's in the order given, and keeps the group open. */
export function flushRowGroup(db: Database.Database): void {
  const groups = open.get(db);
  if (!groups) return;
  for (const group of groups.values()) {
    const { values, width, head } = group;
    group.values = [];
    const full = ROWS_PER_STATEMENT * width;
    let at = 0;
    for (; values.length - at >= full; at += full) statement(db, head, width, ROWS_PER_STATEMENT).run(values.slice(at, at + full));
    for (; at < values.length; at += width) statement(db, head, width, 1).run(values.slice(at, at + width));
  }
}

/** Closes the group, dropping anything not flushed (the caller's transaction failed). */
export function closeRowGroup(db: Database.Database): void {
  open.delete(db);
}
