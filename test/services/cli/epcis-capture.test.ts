import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import { canonicalize } from "json-canonicalize";
import type { TestNode } from "../../helpers/node";
import { eventHashId } from "../../../services/epcis/hash";
import { bearer, get, sharedNode } from "../api/helpers";
import { agentToken } from "../epcis/helpers";
import { epcisDocument } from "../epcis/helpers";
import { json, lotline, oneLine, type Run } from "./run";

/**
 * `lotline epcis capture` and `lotline epcis verify` end to end against the shared test node: the
 * capture signs in with SIWE, posts the document as it is and follows its capture job; verify
 * recomputes the event's hash ID and leaf from what the API serves, checks the Merkle proof locally
 * and the root on the chain, and fails once the stored record is altered.
 */
const unique = () => crypto.randomBytes(4).toString("hex");

function objectEvent(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: "ObjectEvent",
    eventID: `urn:uuid:${crypto.randomUUID()}`,
    eventTime: "2025-02-01T10:00:00.000+01:00",
    eventTimeZoneOffset: "+01:00",
    epcList: [`urn:epc:id:sgtin:4012345.011111.${unique()}`],
    action: "OBSERVE",
    bizStep: "receiving",
    disposition: "in_progress",
    ...overrides,
  };
}

describe("lotline epcis capture / verify", function () {
  this.timeout(180_000);
  let node: TestNode;
  let dir: string;
  let env: Record<string, string>;
  const cli = (args: string[]): Promise<Run> => lotline(args, env);
  const file = (name: string, content: unknown) => {
    const at = path.join(dir, name);
    fs.writeFileSync(at, typeof content === "string" ? content : JSON.stringify(content, null, 2));
    return at;
  };

  before(async function () {
    node = await sharedNode();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "lotline-epcis-cli-"));
    env = { LOTLINE_API_URL: node.url, LOTLINE_DATA_DIR: dir };
  });

  after(function () {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  describe("capture", function () {
    const events = [objectEvent(), objectEvent({ bizStep: "shipping", disposition: "in_transit" })];
    let document: string;

    before(function () {
      document = file("document.jsonld", epcisDocument(events));
    });

    it("signs in, captures the document, waits for its capture job and prints the outcome", async function () {
      const run = await cli(["epcis", "capture", document, "--dev-account", "1"]);
      expect(run.code, run.stderr).to.equal(0);
      const [accepted, outcome] = run.stdout.trim().split("\n");
      const captureId = /^capture ([0-9a-f-]{36}) accepted; waiting for it to finish$/.exec(accepted)?.[1];
      expect(captureId, accepted).to.be.a("string");
      expect(outcome).to.equal(`capture ${captureId}: success — 2 stored, 0 duplicates, 0 errors (2 of 2 events)`);
      for (const e of events) {
        expect((await get(node, `/epcis/events/${encodeURIComponent(e.eventID as string)}`, bearer(await agentToken(node)))).status).to.equal(200);
      }
    });

    it("reports the duplicates of a second capture of the same document (--json: the capture job)", async function () {
      const job = json(await cli(["--json", "epcis", "capture", document, "--dev-account", "1"]));
      expect(job).to.include({ running: false, success: true, stored: 0, total: 2 });
      expect(job.duplicates.map((d: { eventID: string }) => d.eventID)).to.deep.equal(events.map((e) => e.eventID));
      const human = await cli(["epcis", "capture", document, "--dev-account", "1"]);
      expect(human.stdout).to.include(`duplicate: event 0 (${events[0].eventID}) was already stored by capture `);
    });

    it("captures a bare event (with its own @context)", async function () {
      const bare = file("bare.json", { ...objectEvent(), "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"] });
      const run = await cli(["epcis", "capture", bare, "--dev-account", "1"]);
      expect(run.code, run.stderr).to.equal(0);
      expect(run.stdout).to.match(/success — 1 stored/);
    });

    it("fails with one line naming the first failing event and field of a 400; nothing is captured", async function () {
      const good = objectEvent();
      const bad = objectEvent({ bizStep: "transforming", quantityList: [{ epcClass: "urn:epc:class:lgtin:4012345.011111.1", quantity: "twenty" }] });
      const line = oneLine(await cli(["epcis", "capture", file("invalid.jsonld", epcisDocument([good, bad])), "--dev-account", "1"]));
      expect(line).to.equal(
        'lotline: the document is not valid EPCIS 2.0, nothing was captured: event 1, quantityList[0].quantity: must be a number, not a string ("twenty") (and 1 more error) (invalid_epcis_document)',
      );
      expect((await get(node, `/epcis/events/${encodeURIComponent(good.eventID as string)}`, bearer(await agentToken(node)))).status).to.equal(404);
    });

    it("fails with one line for a document over the size or event limit (413)", async function () {
      const big = file("big.jsonld", JSON.stringify({ ...epcisDocument([objectEvent()]), padding: "x".repeat(8 * 1024 * 1024) }));
      const line = oneLine(await cli(["epcis", "capture", big, "--dev-account", "1"]));
      expect(line).to.match(/^lotline: the document is larger than 8388608 bytes \(GS1-EPCIS-Capture-File-Size-Limit\); split it \(payload_too_large\)$/);
      const many = file("many.jsonld", epcisDocument(Array.from({ length: 10_001 }, () => ({ ...objectEvent(), eventID: undefined }))));
      expect(oneLine(await cli(["epcis", "capture", many, "--dev-account", "1"]))).to.equal(
        "lotline: the document has 10001 events; at most 10000 per capture (GS1-EPCIS-Capture-Limit) (too_many_events)",
      );
    });

    it("fails with one line without a signer, or for a file that is not JSON", async function () {
      expect(oneLine(await cli(["epcis", "capture", document]))).to.match(/^lotline: say who signs: --key <name>/);
      expect(oneLine(await cli(["epcis", "capture", __filename, "--dev-account", "1"]))).to.match(/is not JSON/);
    });
  });

  describe("verify", function () {
    const event = objectEvent({ bizStep: "inspecting" });
    const proofPath = `/epcis/events/${encodeURIComponent(event.eventID as string)}/proof`;
    const rpc = () => ["--rpc-url", node.chain!.url];

    before(async function () {
      const run = await cli(["epcis", "capture", file("verify.jsonld", epcisDocument([event])), "--dev-account", "1"]);
      expect(run.code, run.stderr).to.equal(0);
      const deadline = Date.now() + 90_000;
      while ((await get(node, proofPath)).body.status !== "anchored") {
        if (Date.now() > deadline) throw new Error("the event was not anchored in time");
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    });

    it("verifies an anchored event: hash ID and leaf recomputed, proof checked locally, root found on-chain", async function () {
      const run = await cli(["epcis", "verify", "--dev-account", "1", event.eventID as string, ...rpc()]);
      expect(run.code, run.stderr).to.equal(0);
      const hashId = eventHashId(event, epcisDocument([])["@context"]);
      expect(run.stdout).to.include(`verified: event ${event.eventID}`);
      expect(run.stdout).to.include(`hash ID      ${hashId}`);
      expect(run.stdout).to.match(/anchored as EPCIS by organisation 1 \(Alpenmilch Hof GmbH\) in block \d+/);
      const byHashId = json(await cli(["--json", "epcis", "verify", "--dev-account", "1", hashId, ...rpc()]));
      expect(byHashId).to.include({ verified: true, reason: null, hashId });
      expect(byHashId.anchor).to.include({ kind: "EPCIS", orgId: "1", orgName: "Alpenmilch Hof GmbH" });
    });

    it("is not verified against an organisation that did not anchor the root, naming the one that did (exit 1, one line)", async function () {
      const run = await cli(["epcis", "verify", "--dev-account", "1", event.eventID as string, "--org", "2", ...rpc()]);
      expect(oneLine(run)).to.match(
        /^lotline: not verified: the root 0x[0-9a-f]{64} is not anchored by organisation 2 on the chain at \S+ \(only by organisation 1, whose anchor does not stand for organisation 2\)$/,
      );
      expect(oneLine(await cli(["epcis", "verify", "--dev-account", "1", event.eventID as string, "--org", "two", ...rpc()]))).to.equal(
        'lotline: --org must be a positive integer organisation id, got "two"',
      );
    });

    it("is not verified once the stored record is altered (exit 1, one line)", async function () {
      const row = node.db.prepare(`SELECT seq, event FROM epcis_events WHERE event_id = ?`).get(event.eventID) as { seq: number; event: string };
      const alter = (changes: Record<string, unknown>) =>
        node.db.prepare(`UPDATE epcis_events SET event = ? WHERE seq = ?`).run(canonicalize({ ...JSON.parse(row.event), ...changes }), row.seq);
      try {
        alter({ recordTime: "2000-01-01T00:00:00.000Z" });
        expect(oneLine(await cli(["epcis", "verify", "--dev-account", "1", event.eventID as string, ...rpc()]))).to.match(
          /^lotline: not verified: the event does not hash to the anchored leaf 0x[0-9a-f]{64}: the stored record was altered$/,
        );
        alter({ bizStep: "shipping" });
        expect(oneLine(await cli(["epcis", "verify", "--dev-account", "1", event.eventID as string, ...rpc()]))).to.match(/^lotline: not verified: the event's hash ID .* is not the one recorded/);
      } finally {
        node.db.prepare(`UPDATE epcis_events SET event = ? WHERE seq = ?`).run(row.event, row.seq);
      }
      expect((await cli(["epcis", "verify", "--dev-account", "1", event.eventID as string, ...rpc()])).code).to.equal(0);
    });

    it("fails with one line for an unknown event or an unreachable chain", async function () {
      expect(oneLine(await cli(["epcis", "verify", "--dev-account", "1", `urn:uuid:${crypto.randomUUID()}`, ...rpc()]))).to.match(/^lotline: no event urn:uuid:.* \(event_not_found\)$/);
      expect(oneLine(await cli(["epcis", "verify", "--dev-account", "1", event.eventID as string, "--rpc-url", "http://127.0.0.1:9"]))).to.match(
        /^lotline: cannot reach the chain at http:\/\/127\.0\.0\.1:9 .*: give --rpc-url$/,
      );
    });
  });
});
