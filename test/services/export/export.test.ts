import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import type { TestNode } from "../../helpers/node";
import { startAnvil, tempDir } from "../../helpers/chain";
import { bearer, sharedNode, tokenFor } from "../api/helpers";
import { agentToken, captureAndWait, epcisDocument } from "../epcis/helpers";
import { lotline, type Run } from "../cli/run";
import { DEMO_GOODS } from "../../../services/demo/supply-chain";
import { demoWallet } from "../../../services/demo/roster";
import { formatDigitalLink } from "../../../services/gs1/digital-link";
import { bundleFiles, readBundle, type Bundle } from "../../../services/export/bundle";
import { bundleReadme } from "../../../services/export/readme";
import { readBundleDir, verifyBundle } from "../../../services/export/verify-run";
import { collectBundle } from "../../../services/export/exporter";
import type { Check } from "../../../services/export/verify";

/**
 * `lotline export` against a whole node (the demo chain, an EPCIS event captured here), then
 * `lotline verify` against the node's chain over plain JSON-RPC: the honest bundle verifies, and
 * every tampered copy fails naming what was changed.
 */
describe("verifiable exports: lotline export and lotline verify", function () {
  this.timeout(240_000);
  let node: TestNode;
  let env: Record<string, string>;
  let dir: string;
  let exported: Record<string, unknown>;
  const lotA = formatDigitalLink(DEMO_GOODS.rawMilk, "MILK-2611-A");
  const eventID = `urn:uuid:${crypto.randomUUID()}`;

  /** Every record the node queued is anchored by the organisation it anchored it as. */
  async function allAnchored(): Promise<void> {
    const deadline = Date.now() + 120_000;
    for (;;) {
      const { n } = node.db
        .prepare(
          `SELECT COUNT(*) AS n FROM anchor_outbox o WHERE o.root IS NULL OR NOT EXISTS (
             SELECT 1 FROM anchor_batches b JOIN anchors a ON a.root = b.root AND a.org_id = b.org_id WHERE b.root = o.root)`,
        )
        .get() as { n: number };
      if (n === 0) return;
      if (Date.now() > deadline) throw new Error(`${n} records still not anchored`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  before(async function () {
    node = await sharedNode();
    env = { LOTLINE_API_URL: node.url };
    // An EPCIS event of the farm (organisation 1, the organisation this node anchors as) naming lot A.
    const job = await captureAndWait(
      node,
      await agentToken(node, "producer"),
      epcisDocument([
        {
          type: "ObjectEvent",
          eventID,
          eventTime: "2024-11-26T06:00:00.000+01:00",
          eventTimeZoneOffset: "+01:00",
          epcList: [],
          quantityList: [{ epcClass: lotA, quantity: 20000, uom: "LTR" }],
          action: "OBSERVE",
          bizStep: "inspecting",
          disposition: "active",
          // An EPC URN, which the binding serves as a Digital Link by default: the export asks for it as captured.
          bizLocation: { id: "urn:epc:id:sgln:4012345.00001.0" },
        },
      ]),
    );
    expect(job.stored, JSON.stringify(job.errors)).to.equal(1);
    await allAnchored();
    await node.synced();
    dir = path.join(tempDir("export"), "bundle");
    const run = await lotline(["--json", "export", lotA, dir, "--dev-account", "7"], env);
    expect(run.code, run.stderr).to.equal(0);
    exported = JSON.parse(run.stdout);
  });

  const bundle = () => readBundle(readBundleDir(dir));
  const failures = (checks: Check[]) => checks.filter((c) => !c.ok);

  /** A copy of the bundle changed by `change`; with `rehash`, the manifest is rewritten as a careful forger would. */
  function tampered(change: (b: Bundle) => void, rehash = true): string {
    const copy = path.join(tempDir("tampered"), "bundle");
    fs.cpSync(dir, copy, { recursive: true });
    if (!rehash) return copy;
    const b = bundle();
    change(b);
    const files = bundleFiles(b, fs.readFileSync(path.join(dir, "README.txt"), "utf8"));
    for (const [name, content] of files) fs.writeFileSync(path.join(copy, name), content);
    return copy;
  }

  it("writes a bundle with the lineage, custody, proven records of every class, a README and a manifest", function () {
    const files = readBundleDir(dir);
    expect([...files.keys()].sort()).to.deep.equal(
      ["README.txt", "abi.json", "bundle.json", "chain.json", "custody.json", "gaps.json", "lineage.json", "manifest.json", "products.json", "records.json"].sort(),
    );
    const b = bundle();
    expect(b.deployment.chainId).to.equal(31337);
    expect(b.lineage.edges.length).to.be.greaterThan(3);
    expect(b.lineage.edges.every((e) => e.chain !== null)).to.equal(true);
    expect(b.custody.map((c) => c.type)).to.include.members(["registered", "split", "handed_over", "made_from", "consumed"]);
    expect(b.gaps.filter((g) => g.class === "CUSTODY"), "every custody entry is tied to its event").to.deep.equal([]);
    expect(new Set(b.records.map((r) => r.class))).to.deep.equal(new Set(["PRODUCT", "PRODUCTION_RUN", "EPCIS"]));
    expect(b.records.find((r) => r.class === "EPCIS")!.record).to.have.nested.property("event.eventID", eventID);
    expect(files.get("README.txt")).to.include("lotline verify --bundle");
    expect(exported).to.include({ root: b.root, records: b.records.length });
  });

  it("carries only the ABI fragments its checks use", function () {
    const b = bundle();
    expect(b.abi.anchors!.map((f) => f.name)).to.deep.equal(["anchorOf"]);
    expect(b.abi).to.not.have.any.keys("registry", "credentials", "forwarder", "token", "sharing");
    const names = b.abi.provenance!.map((f) => f.name);
    expect(names).to.include.members(["LineageEdge", "BatchSplit", "HandedOver", "LotRegistered", "ProductRegistered"]);
    expect(names).to.not.include("TransformKindSet");
  });

  it("proves every record as its owner's: each is anchored by the organisation that owns it, none left as a gap", function () {
    // The node anchors each record with its owning organisation's key, so the processors' records
    // verify against their own anchors, not organisation 1's.
    const gaps = bundle().gaps.filter((g) => g.class !== "CUSTODY");
    expect(gaps.filter((g) => g.reason === "not_anchored_by_owner")).to.deep.equal([]);
    expect(new Set(bundle().records.map((r) => r.owner)).size).to.be.greaterThan(1);
  });

  it("verifies against the node's chain with nothing but JSON-RPC: exit 0, one line per check", async function () {
    const run = await lotline(["verify", "--bundle", dir, "--rpc", node.chain!.url], {});
    expect(run.code, run.stdout + run.stderr).to.equal(0);
    const lines = run.stdout.trim().split("\n");
    expect(lines.at(-1)).to.match(/^verified: all \d+ checks passed$/);
    expect(lines.filter((l) => l.startsWith("FAIL"))).to.deep.equal([]);
    for (const kind of ["manifest", "chain", "abi", "record", "edge", "custody", "product", "completeness"]) {
      expect(lines.some((l) => l.startsWith(`ok   ${kind} `)), kind).to.equal(true);
    }
  });

  it("answers --json for machines", async function () {
    const run: Run = await lotline(["--json", "verify", "--bundle", dir, "--rpc", node.chain!.url], {});
    expect(run.code, run.stderr).to.equal(0);
    const out = JSON.parse(run.stdout);
    expect(out).to.include({ verified: true, failed: 0 });
    expect(out.checks[0]).to.have.keys("check", "subject", "ok", "detail");
  });

  it("fails a record changed by one byte, naming the record", async function () {
    let recordId = "";
    const copy = tampered((b) => {
      const product = b.records.find((r) => r.class === "PRODUCT")!;
      recordId = product.recordId;
      (product.record as { name: string }).name += "x";
    });
    const failed = failures(await verifyBundle(copy, node.chain!.url));
    expect(failed).to.have.length(1);
    expect(failed[0]).to.include({ check: "record", subject: `PRODUCT ${recordId}` });
    expect(failed[0].detail).to.match(/^record changed/);
  });

  it("fails a changed proof element, naming the record", async function () {
    let recordId = "";
    const copy = tampered((b) => {
      const record = b.records.find((r) => r.proof.proof.length > 0)!;
      recordId = record.recordId;
      const p = record.proof.proof[0];
      record.proof.proof[0] = `${p.slice(0, -1)}${p.endsWith("0") ? "1" : "0"}`;
    });
    const failed = failures(await verifyBundle(copy, node.chain!.url));
    expect(failed).to.have.length(1);
    expect(failed[0].subject).to.include(recordId);
    expect(failed[0].detail).to.match(/^proof changed/);
  });

  it("fails a record claimed for another organisation (a rival's name on the farm's record)", async function () {
    const copy = tampered((b) => {
      const run = b.records.find((r) => r.class === "EPCIS")!;
      run.owner = "2";
      run.proof.anchoredBy = { orgId: "2", name: null };
    });
    const failed = failures(await verifyBundle(copy, node.chain!.url));
    expect(failed).to.have.length(1);
    expect(failed[0].check).to.equal("record");
    expect(failed[0].detail).to.match(/not anchored on this chain by the owner, organisation 2/);
  });

  it("fails an edge whose quantity was changed, naming the edge", async function () {
    let subject = "";
    const copy = tampered((b) => {
      const edge = b.lineage.edges[0];
      subject = `${edge.from}→${edge.to}`;
      edge.quantity = `${Number(edge.quantity) + 1}`;
    });
    const failed = failures(await verifyBundle(copy, node.chain!.url));
    expect(failed.map((f) => f.subject)).to.deep.equal([subject]);
    expect(failed[0].check).to.equal("edge");
    expect(failed[0].detail).to.match(/quantity is "\d+" on-chain, "\d+" in the bundle/);
  });

  it("fails an invented edge that borrows another edge's transaction, naming it", async function () {
    let subject = "";
    const copy = tampered((b) => {
      const real = b.lineage.edges.find((e) => e.type !== "split")!;
      const other = b.lineage.nodes.find((n) => n.id !== real.from && n.id !== real.to)!;
      const invented = { ...real, from: other.id, chain: { ...real.chain! } };
      subject = `${invented.from}→${invented.to}`;
      b.lineage.edges.push(invented);
    });
    const failed = failures(await verifyBundle(copy, node.chain!.url));
    expect(failed.map((f) => f.subject)).to.deep.equal([subject]);
    expect(failed[0].detail).to.match(/^edge not on the chain as stated.*from is "0x[0-9a-f]{64}" on-chain/);
  });

  it("fails an edge left out of the lineage (completeness against the chain's logs)", async function () {
    let left: { from: string; to: string } = { from: "", to: "" };
    const copy = tampered((b) => {
      left = b.lineage.edges.pop()!;
    });
    const failed = failures(await verifyBundle(copy, node.chain!.url));
    expect(failed.length).to.be.greaterThan(0);
    expect(failed.every((f) => f.check === "completeness")).to.equal(true);
    expect(failed[0].detail).to.include(`${left.from}→${left.to}`);
  });

  it("fails a bundle whose chain id was changed: wrong chain", async function () {
    const copy = tampered((b) => {
      b.deployment.chainId = 1;
    });
    const failed = failures(await verifyBundle(copy, node.chain!.url));
    expect(failed).to.have.length(1);
    expect(failed[0]).to.include({ check: "chain" });
    expect(failed[0].detail).to.match(/^wrong chain/);
  });

  it("fails a file edited without updating the manifest, naming the file", async function () {
    const copy = tampered(() => undefined, false);
    const file = path.join(copy, "custody.json");
    const custody = JSON.parse(fs.readFileSync(file, "utf8"));
    custody[0].at = "2000-01-01T00:00:00.000Z";
    fs.writeFileSync(file, JSON.stringify(custody, null, 2));
    const run = await lotline(["verify", "--bundle", copy, "--rpc", node.chain!.url], {});
    expect(run.code).to.equal(1);
    const failedLines = run.stdout.split("\n").filter((l) => l.startsWith("FAIL"));
    expect(failedLines).to.deep.equal(["FAIL manifest custody.json: manifest hash mismatch: custody.json SHA-256 differs from the manifest's"]);
    expect(run.stdout.trim().split("\n").at(-1)).to.match(/^NOT verified: 1 of \d+ checks failed$/);
  });

  it("fails against another chain (a second Anvil): wrong chain, exit 1", async function () {
    const other = await startAnvil();
    try {
      const run = await lotline(["verify", "--bundle", dir, "--rpc", other.url], {});
      expect(run.code).to.equal(1);
      expect(run.stdout).to.match(/^FAIL chain chain 31337: wrong chain: /m);
    } finally {
      await other.stop();
    }
  });

  it("exports only what the API serves the exporter: a refused record class is a not_shared gap, not a record", async function () {
    const token = await tokenFor(node, demoWallet(8));
    const get = async <T>(p: string): Promise<T> => {
      if (p.startsWith("/api/v1/production-runs")) throw Object.assign(new Error("not shared with organisation 8 (not_shared)"), { status: 403 });
      const res = await fetch(node.url + p, { headers: bearer(token) });
      const body = (await res.json()) as { detail?: string };
      if (!res.ok) throw Object.assign(new Error(String(body.detail)), { status: res.status });
      return body as T;
    };
    const b = await collectBundle({ url: node.url, get }, { ref: lotA, exportedBy: { address: demoWallet(8).address, orgId: "8" } });
    expect(b.records.filter((r) => r.class === "PRODUCTION_RUN")).to.deep.equal([]);
    const refused = b.gaps.filter((g) => g.class === "PRODUCTION_RUN");
    expect(refused.length).to.equal(b.lineage.nodes.length);
    for (const gap of refused) expect(gap).to.include({ reason: "not_shared" });
    expect(bundleReadme(b)).to.include(`${b.gaps.length} declared gap`);
  });

  it("refuses to write into a directory that is not empty, leaving it as it was", async function () {
    const run = await lotline(["export", lotA, dir, "--dev-account", "7"], env);
    expect(run.code).to.equal(1);
    expect(run.stderr.trim()).to.match(/^lotline: .* exists and is not an empty directory/);
    expect((await verifyBundle(dir, node.chain!.url)).every((c) => c.ok)).to.equal(true);
  });
});
