import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import Database from "better-sqlite3";
import { openDatabase, type Db } from "../../../services/store/db";
import { appendAudit, auditHead, queueAuditHead, verifyAuditLog } from "../../../services/audit/log";
import { recordKeyChanges } from "../../../services/audit/plugin";
import { lotline, oneLine } from "../cli/run";

const COLUMNS = ["at", "agent", "org_id", "action", "target", "status", "request_hash", "prev_hash", "entry_hash"] as const;

function logOf(entries: number, file = ":memory:"): Db {
  const db = openDatabase(file);
  for (let i = 1; i <= entries; i += 1) {
    appendAudit(db, {
      agent: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
      orgId: (i % 3) + 1,
      action: i % 2 ? "POST /api/v1/relay provenance.offer" : "POST /api/v1/recalls/:ref/acknowledgements",
      target: i % 2 ? null : `ref=0x${String(i).padStart(64, "0")}`,
      status: i % 4 ? 200 : 403,
      requestHash: "0x" + String(i).padStart(64, "a"),
      at: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
    });
  }
  return db;
}

/** An editor with the file bypasses the append-only triggers, as an attacker would. */
function tamper(db: Db, sql: string, ...params: unknown[]): void {
  db.exec(`DROP TRIGGER IF EXISTS audit_log_no_update; DROP TRIGGER IF EXISTS audit_log_no_delete;`);
  db.prepare(sql).run(...params);
}

/** Flips one byte (the character at `at`) of a text value. */
const flip = (text: string, at: number) => text.slice(0, at) + String.fromCharCode(text.charCodeAt(at) ^ 1) + text.slice(at + 1);

describe("Audit log", function () {
  it("chains every entry to the one before and verifies intact", function () {
    const db = logOf(12);
    const result = verifyAuditLog(db);
    expect(result).to.include({ ok: true, entries: 12, firstBroken: null });
    expect(result.head).to.equal(auditHead(db).head);
  });

  it("refuses updates and deletes through SQL (append-only)", function () {
    const db = logOf(3);
    expect(() => db.prepare(`UPDATE audit_log SET status = 200 WHERE seq = 2`).run()).to.throw(/append-only/);
    expect(() => db.prepare(`DELETE FROM audit_log WHERE seq = 3`).run()).to.throw(/append-only/);
  });

  it("detects a one-byte edit in any column of any entry and names that entry", function () {
    // Migrations run once; each edit works on a fresh copy of the same log.
    const template = logOf(12).serialize();
    for (const seq of [1, 5, 12]) {
      for (const column of COLUMNS) {
        const db = new Database(template);
        const row = db.prepare(`SELECT * FROM audit_log WHERE seq = ?`).get(seq) as Record<string, string | number | null>;
        const value = row[column];
        const edited = typeof value === "number" ? value ^ 1 : value === null ? "x" : flip(value, Math.floor(value.length / 2));
        tamper(db, `UPDATE audit_log SET "${column}" = ? WHERE seq = ?`, edited, seq);
        const result = verifyAuditLog(db);
        expect(result.ok, `${column} of entry ${seq}`).to.equal(false);
        // An edited entry_hash is caught at the next entry (whose prev_hash no longer matches) or, for the last, by its own recomputation.
        expect(result.firstBroken!.seq, `${column} of entry ${seq}`).to.equal(seq);
      }
    }
  });

  it("detects a removed entry in the middle, and a removed tail once its head was queued for anchoring", function () {
    const middle = logOf(6);
    tamper(middle, `DELETE FROM audit_log WHERE seq = 3`);
    expect(verifyAuditLog(middle).firstBroken).to.deep.include({ seq: 4 });

    const tail = logOf(6);
    expect(queueAuditHead(tail)).to.include({ seq: 6, recordId: "audit:head:6" });
    expect(queueAuditHead(tail)).to.equal(null); // the head did not move
    tamper(tail, `DELETE FROM audit_log WHERE seq >= 5`);
    expect(verifyAuditLog(tail).firstBroken).to.deep.include({ seq: 5 });
    expect(tail.prepare(`SELECT kind, leaf FROM anchor_outbox WHERE record_id = 'audit:head:6'`).get()).to.have.property("kind", "AUDIT_HEAD");
  });

  it("records a change of the node's relayer or integration key once per change", function () {
    const db = logOf(0);
    const a = "0x" + "11".repeat(32);
    const b = "0x" + "22".repeat(32);
    expect(recordKeyChanges(db, { relayer: a, integration: b })).to.deep.equal(["relayer", "integration"]);
    expect(recordKeyChanges(db, { relayer: a, integration: b })).to.deep.equal([]);
    expect(recordKeyChanges(db, { relayer: b })).to.deep.equal(["relayer"]);
    expect(verifyAuditLog(db)).to.include({ ok: true, entries: 3 });
  });

  it("lotline audit verify exits non-zero naming the first broken entry of a database file", async function () {
    this.timeout(30_000);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lotline-audit-"));
    try {
      const file = path.join(dir, "lotline.sqlite");
      const db = logOf(8, file);
      expect(verifyAuditLog(db).ok).to.equal(true);
      const row = db.prepare(`SELECT action FROM audit_log WHERE seq = 6`).get() as { action: string };
      tamper(db, `UPDATE audit_log SET action = ? WHERE seq = 6`, flip(row.action, 3));
      db.close();
      expect(oneLine(await lotline(["audit", "verify", "--file", file]))).to.match(/broken at entry 6/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
