import type { Database } from "better-sqlite3";
import { DERIVED_TABLES } from "./migrations";
import { JOURNAL_OPS } from "./journal";
import { prepared } from "./statements";

/**
 * Schema objects a catching-up indexer writes without (docs/adr/0035-catch-up-without-journal-triggers-and-unread-indexes.md).
 *
 * A step wholly below the reorg window applies final blocks: nothing journals them, and no handler
 * reads most of the secondary indexes it fills. Yet every journal trigger makes each insert and
 * update keep a statement journal (a copy of every page it touches), and each index keyed by a
 * 32-byte hash takes one random B-tree insert per row. Both were about half of a full-size
 * backfill's CPU (docs/performance.md "Backfill").
 *
 * Such a step drops them, in its own transaction, and records each one with the statement that
 * creates it again (table `deferred_schema`). The triggers come back before a step reaches into the
 * reorg window (its blocks are journalled); the indexes before the step reaching the head; both
 * before a reorganisation is rolled back and before migrations run on open. A CREATE INDEX sorts
 * the table once: far cheaper than a random insert per row.
 */

/**
 * Secondary indexes of the derived tables that no indexer handler reads while it writes (the API
 * reads them). Each handler's reads, for the record:
 * - batches by batch_id (its primary key) and by unit_key (units.UnitHandedOver: batches_unit stays);
 * - lineage_edges by from_batch (recall notices' impact walk), which its primary key serves;
 * - recall_edges by to_batch (recall withdrawals: recall_edges_to stays);
 * - products, lots, logistic_units, orders, org_balances, agents, grants, claim_definitions by
 *   their primary keys.
 * Unique indexes never leave: they are constraints, and INSERT OR IGNORE / REPLACE rely on them.
 * The journal's rollback reads rows by rowid and reorg_journal by block (reorg_journal_block stays).
 */
export const DEFERRABLE_INDEXES = [
  "batches_lot",
  "batches_owner",
  "batches_custodian",
  "batches_gtin",
  "batch_events_batch",
  "batch_events_packed_sscc",
  "lineage_edges_upstream",
  "lineage_edges_downstream",
  "lineage_edges_tx",
  "sales_batch",
] as const;

/** The journal triggers of every derived table (journal.ts). */
const JOURNAL_TRIGGERS = DERIVED_TABLES.flatMap((table) => JOURNAL_OPS.map((op) => `${table}_journal_${op}`));

/**
 * Drops the journal triggers and, with `indexes`, the deferrable indexes still in the schema,
 * recording each. Runs inside the caller's transaction (the step's), so the objects leave with the
 * rows written without them, or not at all.
 */
export function deferCatchUpSchema(db: Database, options: { indexes: boolean }): number {
  const present = prepared(
    db,
    `SELECT type, name, sql FROM sqlite_master
     WHERE (type = 'trigger' AND name IN (SELECT value FROM json_each(?)))
        OR (type = 'index' AND ? AND name IN (SELECT value FROM json_each(?)))`,
  ).all(JSON.stringify(JOURNAL_TRIGGERS), options.indexes ? 1 : 0, JSON.stringify(DEFERRABLE_INDEXES)) as {
    type: "index" | "trigger";
    name: string;
    sql: string;
  }[];
  for (const object of present) {
    prepared(db, `INSERT OR REPLACE INTO deferred_schema (name, type, sql) VALUES (?, ?, ?)`).run(object.name, object.type, object.sql);
    db.exec(`DROP ${object.type === "index" ? "INDEX" : "TRIGGER"} ${quoteIdent(object.name)}`);
  }
  return present.length;
}

/** Names of the objects dropped and not yet created again (of one type, or all). */
export function deferredSchema(db: Database, type?: "index" | "trigger"): string[] {
  return prepared(db, `SELECT name FROM deferred_schema WHERE ? IS NULL OR type = ? ORDER BY type DESC, name`)
    .pluck()
    .all(type ?? null, type ?? null) as string[];
}

/** Creates the named deferred objects again and forgets them, in one transaction; returns how many. */
export function restoreDeferred(db: Database, names: string[]): number {
  if (names.length === 0) return 0;
  return db.transaction(() => {
    let restored = 0;
    for (const name of names) {
      const row = prepared(db, `SELECT sql FROM deferred_schema WHERE name = ?`).get(name) as { sql: string } | undefined;
      if (!row) continue;
      db.exec(row.sql);
      prepared(db, `DELETE FROM deferred_schema WHERE name = ?`).run(name);
      restored++;
    }
    return restored;
  })();
}

/** Creates every deferred object again: the triggers in one transaction, each index in its own. */
export function restoreCatchUpSchema(db: Database): number {
  return restoreDeferred(db, deferredSchema(db, "trigger")) + deferredSchema(db, "index").reduce((n, name) => n + restoreDeferred(db, [name]), 0);
}

function quoteIdent(name: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`bad identifier ${name}`);
  return `"${name}"`;
}
