import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { demoWallet } from "../../services/demo/roster";
import { DERIVED_TABLES } from "../../services/store/migrations";
import { writeDeploymentFile } from "../../test/helpers/chain";
import { freePort } from "../../test/helpers/ports";
import { startFaultProxy } from "./fault-proxy";
import { bearer, Cleanup, createTraffic, firstDifference, nodeEnv, progress, rebuildDump, Report, sleep, spawnNode, tokenFor, type ChainContext, type Rng } from "./util";

/** The producer (organisation 1) and its node's integration key (demo accounts 1 and 10). */
const PRODUCER = 1;
const INTEGRATION = 10;

function dump(db: Database.Database): string {
  return DERIVED_TABLES.map((table) => {
    const rows = db.prepare(`SELECT rowid AS _rowid, * FROM "${table}" ORDER BY rowid`).all();
    return `${table}\n${rows.map((r) => JSON.stringify(r)).join("\n")}`;
  }).join("\n\n");
}

function captureDocument(round: number, count: number) {
  const events = Array.from({ length: count }, (_, i) =>
    i % 3 === 0
      ? {
          type: "ObjectEvent",
          eventTime: `2024-05-01T12:${String(i % 60).padStart(2, "0")}:00.000Z`,
          eventTimeZoneOffset: "+00:00",
          action: "ADD",
          bizStep: "commissioning",
          epcList: [],
          quantityList: [{ epcClass: `urn:epc:class:lgtn:4012345.011111.crash-${round}-${i}`, quantity: 100, uom: "KGM" }],
          bizLocation: { id: "urn:epc:id:sgln:4012345.00001.0" },
        }
      : {
          type: "ObjectEvent",
          eventTime: `2024-05-01T13:${String(i % 60).padStart(2, "0")}:00.000Z`,
          eventTimeZoneOffset: "+00:00",
          action: "OBSERVE",
          bizStep: "inspecting",
          epcList: [`urn:epc:id:sgtin:4012345.011111.crash-${round}-${i}`],
        },
  );
  return {
    "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
    type: "EPCISDocument",
    schemaVersion: "2.0",
    creationDate: "2024-05-01T12:00:00.000Z",
    epcisBody: { eventList: events },
  };
}

/**
 * The whole node (`lotline up` against an external chain, with the producer's integration key so it
 * maps and anchors) SIGKILLed at random moments: during its first backfill, while it follows new
 * blocks, mid capture job, mid anchoring and mapping. After each kill: `PRAGMA integrity_check`
 * ok, the derived tables equal a fresh rebuild at the node's checkpoint, every capture answered 202
 * stored with its events once and each event queued for anchoring. After a last clean start:
 * every capture completed, the state equals a rebuild at the head, every record anchored or pending.
 */
export async function crashHarness(ctx: ChainContext, random: Rng, quick: boolean, cleanup: Cleanup): Promise<Report> {
  const report = new Report("crash");
  const kills = process.env.CRASH_KILLS ? Number(process.env.CRASH_KILLS) : quick ? 20 : 200;
  const dataDir = cleanup.tempDir("crash");
  const env = nodeEnv(ctx, dataDir, writeDeploymentFile(dataDir, ctx.deployment), {
    LOTLINE_INTEGRATION_KEY: demoWallet(INTEGRATION).privateKey,
    LOTLINE_LOG_RANGE: "3",
  });
  // Rebuilds at a checkpoint read the chain through a proxy that claims the head is that block.
  const capped = await startFaultProxy({ upstream: ctx.url, random, faultRate: 0, hangMs: 0 });
  cleanup.add(() => capped.stop());
  const traffic = createTraffic(ctx, random);
  const dbFile = path.join(dataDir, "lotline.sqlite");
  const accepted: string[] = [];
  const phases = new Map<string, number>();
  const atKill = { runningCaptures: 0, unanchored: 0, pendingMappings: 0 };
  report.try(`${kills} SIGKILLs of lotline up (log range 3, integration key of organisation ${PRODUCER}) at random moments`);

  for (let k = 0; k < kills; k++) {
    const node = await spawnNode(env, await freePort());
    cleanup.add(() => node.kill());
    const phase = k === 0 ? "first backfill" : random.pick(["boot", "following", "capture", "capture", "anchoring and mapping"]);
    phases.set(phase, (phases.get(phase) ?? 0) + 1);
    try {
      if (phase === "first backfill" || phase === "boot") {
        await sleep(random.int(500, 6_000));
      } else {
        await node.ready();
        const token = await tokenFor(node.url, demoWallet(PRODUCER));
        if (phase === "following") {
          const n = random.int(1, 6);
          for (let i = 0; i < n; i++) await traffic.one(`crash${k}`);
          await sleep(random.int(0, 400));
        } else {
          const res = await fetch(`${node.url}/epcis/capture`, {
            method: "POST",
            headers: { "content-type": "application/ld+json", ...bearer(token) },
            body: JSON.stringify(captureDocument(k, random.int(5, phase === "capture" ? 200 : 20))),
          });
          const body = (await res.json()) as { captureID?: string };
          report.check(res.status === 202, `kill ${k}: the capture is accepted`, `HTTP ${res.status} ${JSON.stringify(body).slice(0, 200)}`);
          if (body.captureID) accepted.push(body.captureID);
          await sleep(phase === "capture" ? random.int(0, 300) : random.int(200, 2_500));
        }
      }
    } catch (err) {
      report.check(false, `kill ${k} (${phase}): the node worked until the kill`, (err as Error).message);
    }
    await node.kill();

    if (!fs.existsSync(dbFile)) continue;
    const db = new Database(dbFile);
    try {
      const integrity = db.pragma("integrity_check", { simple: true });
      report.check(integrity === "ok", `kill ${k}: PRAGMA integrity_check`, String(integrity));
      // Killed before its migrations committed: nothing to compare yet (they run in one transaction).
      if (!db.prepare(`SELECT name FROM sqlite_master WHERE name = 'epcis_mappings'`).get()) continue;
      const cp = db.prepare(`SELECT block_number AS n FROM indexer_checkpoint`).get() as { n: number } | undefined;
      if (cp) {
        capped.setCapHead(cp.n);
        const fresh = await rebuildDump(capped.url, ctx.deployment);
        const mine = dump(db);
        report.check(mine === fresh.dump, `kill ${k} (${phase}): derived tables equal a rebuild at the checkpoint ${cp.n}`, firstDifference(mine, fresh.dump));
      }
      for (const id of accepted) {
        const row = db.prepare(`SELECT running, processed, total FROM epcis_captures WHERE capture_id = ?`).get(id) as
          | { running: number; processed: number; total: number }
          | undefined;
        if (!report.check(row !== undefined, `kill ${k}: capture ${id}, answered 202, is stored`)) continue;
        const events = db.prepare(`SELECT COUNT(*) AS n, COUNT(DISTINCT event_index) AS d FROM epcis_events WHERE capture_id = ?`).get(id) as { n: number; d: number };
        report.check(events.n === events.d && events.n <= row!.total, `kill ${k}: capture ${id} stores each event at most once`, JSON.stringify(events));
        if (row!.running) atKill.runningCaptures++;
      }
      const unqueued = db
        .prepare(`SELECT (SELECT COUNT(*) FROM epcis_events) - (SELECT COUNT(*) FROM anchor_outbox WHERE kind = 'EPCIS') AS n`)
        .get() as { n: number };
      report.check(unqueued.n === 0, `kill ${k}: every stored event is queued for anchoring`, `${unqueued.n} not queued`);
      atKill.unanchored += (db.prepare(`SELECT COUNT(*) AS n FROM anchor_outbox WHERE root IS NULL OR root NOT IN (SELECT root FROM anchors)`).get() as { n: number }).n > 0 ? 1 : 0;
      const mappings = (db.prepare(`SELECT COUNT(*) AS n FROM epcis_mappings WHERE status = 'pending'`).get() as { n: number }).n;
      atKill.pendingMappings += mappings > 0 ? 1 : 0;
    } finally {
      db.close();
    }
    if ((k + 1) % 5 === 0) progress(`crash: ${k + 1}/${kills} kills, ${accepted.length} captures accepted, ${report.violations.length} violations`);
  }
  report.try(`kill phases: ${[...phases.entries()].map(([p, n]) => `${p} ${n}`).join(", ")}`);
  report.try(
    `kills with work in flight: ${atKill.runningCaptures} unfinished captures seen, ${atKill.unanchored} kills with records not yet anchored, ${atKill.pendingMappings} with mappings pending`,
  );

  // A last clean start finishes everything.
  const node = await spawnNode(env, await freePort());
  cleanup.add(() => node.kill());
  try {
    await node.ready();
    const token = await tokenFor(node.url, demoWallet(PRODUCER));
    const deadline = Date.now() + 120_000;
    for (const id of accepted) {
      let job: { running?: boolean; success?: boolean; processed?: number; total?: number } = {};
      while (Date.now() < deadline) {
        job = (await (await fetch(`${node.url}/epcis/capture/${id}`, { headers: bearer(token) })).json()) as typeof job;
        if (job.running === false) break;
        await sleep(200);
      }
      report.check(job.running === false && job.processed === job.total, `capture ${id} completes after the restarts`, JSON.stringify(job).slice(0, 300));
    }
    // Anchoring finishes: every record anchored (its root on-chain) or still pending (no root yet).
    let stray = -1;
    while (Date.now() < deadline) {
      const db = new Database(dbFile, { readonly: true });
      stray = (
        db.prepare(`SELECT COUNT(*) AS n FROM anchor_outbox WHERE root IS NOT NULL AND root NOT IN (SELECT root FROM anchors) AND submitted_tx IS NULL`).get() as { n: number }
      ).n;
      const pending = (db.prepare(`SELECT COUNT(*) AS n FROM anchor_outbox WHERE root IS NULL OR root NOT IN (SELECT root FROM anchors)`).get() as { n: number }).n;
      db.close();
      if (pending === 0) break;
      await sleep(500);
    }
    report.check(stray <= 0, "every record is anchored or pending (no batch with a root but neither sent nor on-chain)", `${stray} stray`);
    const head = await ctx.rpc.blockNumber();
    while (Date.now() < deadline) {
      const db = new Database(dbFile, { readonly: true });
      const cp = (db.prepare(`SELECT block_number AS n FROM indexer_checkpoint`).get() as { n: number }).n;
      db.close();
      if (cp >= head) break;
      await sleep(100);
    }
    await node.kill();
    const db = new Database(dbFile);
    const integrity = db.pragma("integrity_check", { simple: true });
    const mine = dump(db);
    const anchoredCount = (db.prepare(`SELECT COUNT(*) AS n FROM anchor_outbox WHERE root IN (SELECT root FROM anchors)`).get() as { n: number }).n;
    const totalRecords = (db.prepare(`SELECT COUNT(*) AS n FROM anchor_outbox`).get() as { n: number }).n;
    db.close();
    capped.setCapHead(null);
    const fresh = await rebuildDump(ctx.url, ctx.deployment);
    report.check(integrity === "ok", "final PRAGMA integrity_check", String(integrity));
    report.check(mine === fresh.dump, "after the last restart the derived tables equal a fresh rebuild", firstDifference(mine, fresh.dump));
    if (report.violations.length === 0)
      report.hold(
        `${kills} kills: integrity ok and state equal to a rebuild after each; ${accepted.length} captures answered 202 all stored once and completed; ${anchoredCount}/${totalRecords} records anchored, the rest pending`,
      );
  } finally {
    await node.kill();
  }
  return report;
}
