import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import pino from "pino";
import { loadConfig } from "../../../services/config";
import { startNode } from "../../../services/node/node";
import { openDatabase } from "../../../services/store/db";
import { demoWallet, RELAYER_ACCOUNT } from "../../../services/demo/roster";
import { MAX_CAPTURE_EVENTS } from "../../../services/api/routes/epcis";
import { deployDemo, startAnvil, tempDir, writeDeploymentFile } from "../../helpers/chain";
import { freePort } from "../../helpers/ports";
import type { TestNode } from "../../helpers/node";
import { bearer, get, tokenFor } from "../api/helpers";
import { capture, epcisDocument, member } from "./helpers";

const LOTLINE = path.resolve(__dirname, "../../../bin/lotline.js");

/**
 * A capture is durable once answered 202: `lotline up` killed with SIGKILL right after the 202 (its
 * capture job mid-document) finishes the capture when it starts again, storing every event once.
 */
describe("EPCIS capture: a node killed right after the 202", function () {
  it("completes the capture after a restart, storing each event exactly once", async function () {
    // A chain, a deployment, `lotline up`, a 10,000-event document and a second boot: minutes on a loaded machine.
    this.timeout(360_000);
    const chain = await startAnvil();
    const demo = await deployDemo(chain.url);
    demo.provider.destroy();
    const dataDir = tempDir("epcis-crash");
    const env: Record<string, string> = {
      LOTLINE_RPC_URL: chain.url,
      LOTLINE_DEPLOYMENT_FILE: writeDeploymentFile(dataDir, demo.deployment),
      LOTLINE_DATA_DIR: dataDir,
      LOTLINE_DEMO_NODES: "1",
      LOTLINE_RELAYER_KEY: demoWallet(RELAYER_ACCOUNT).privateKey,
      // Without an integration key the node must be told whose records it keeps (the capture is organisation 1's).
      LOTLINE_SERVE_ORGS: "1",
      LOTLINE_LOG_LEVEL: "warn",
    };
    const port = await freePort();
    const child = spawn(process.execPath, [LOTLINE, "up"], {
      env: { ...process.env, ...env, LOTLINE_PORT: String(port) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    try {
      let output = "";
      child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
      const deadline = Date.now() + 240_000;
      while (!output.includes("Ready.")) {
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`lotline up did not become ready: ${output}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const first = { url: `http://127.0.0.1:${port}` } as TestNode;
      const token = await tokenFor(first, demoWallet(member("producer").account));

      // The largest document accepted, so that the job is still at work when the node dies.
      const events = Array.from({ length: MAX_CAPTURE_EVENTS }, (_, i) => ({
        type: "ObjectEvent",
        eventTime: "2024-05-01T12:00:00.000Z",
        eventTimeZoneOffset: "+00:00",
        epcList: [`urn:epc:id:sgtin:4012345.011111.crash-${i}`],
        action: "OBSERVE",
        bizStep: "inspecting",
      }));
      const res = await capture(first, token, epcisDocument(events));
      child.kill("SIGKILL");
      expect(res.status, res.text).to.equal(202);
      const captureId = res.body.captureID as string;
      await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(null) : child.once("exit", r)));

      const db = openDatabase(path.join(dataDir, "lotline.sqlite"));
      const killed = db.prepare(`SELECT running, processed, total FROM epcis_captures WHERE capture_id = ?`).get(captureId) as {
        running: number;
        processed: number;
        total: number;
      };
      db.close();
      expect(killed, "the capture was stored before the 202, unfinished").to.deep.equal({
        running: 1,
        processed: killed.processed,
        total: MAX_CAPTURE_EVENTS,
      });
      expect(killed.processed).to.be.below(MAX_CAPTURE_EVENTS);

      // The node's boot runs its jobs once before it says it is ready.
      const node = await startNode(loadConfig({ ...env, LOTLINE_PORT: "0", LOTLINE_LOG_LEVEL: "silent" }), {
        logger: pino({ level: "silent" }),
      });
      try {
        await node.ready;
        const job = await get({ url: node.url } as TestNode, `/epcis/capture/${captureId}`, bearer(token));
        expect(job.body).to.deep.include({
          running: false,
          success: true,
          processed: MAX_CAPTURE_EVENTS,
          total: MAX_CAPTURE_EVENTS,
          stored: MAX_CAPTURE_EVENTS,
          duplicates: [],
        });
        const counts = node.db
          .prepare(
            `SELECT COUNT(*) AS events, COUNT(DISTINCT event_index) AS indexes,
                    (SELECT COUNT(*) FROM anchor_outbox WHERE kind = 'EPCIS') AS queued
             FROM epcis_events WHERE capture_id = ?`,
          )
          .get(captureId);
        expect(counts).to.deep.equal({ events: MAX_CAPTURE_EVENTS, indexes: MAX_CAPTURE_EVENTS, queued: MAX_CAPTURE_EVENTS });
      } finally {
        await node.stop();
      }
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await chain.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
