import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { getAddress, getBytes, TypedDataEncoder, type TypedDataField } from "ethers";
import { startTestNode, type TestNode } from "../../helpers/node";
import { bearer, startedSharedNode, tokenFor } from "../api/helpers";
import { DEMO_MEMBERS, demoWallet } from "../../../services/demo/roster";

/**
 * The explorer in a real browser (Debian's chromium through playwright-core), against a node of
 * its own: the test changes state (a tampered record, a recall), which the shared node's other
 * tests must not see. The wallet is a test EIP-1193 provider injected into the page, whose
 * requests are signed in Node with a demo key (the producer's agent, which may recall its lots).
 *
 * LOTLINE_SCREENSHOTS=docs/screenshots saves the screenshots the README shows.
 */
const CHROMIUM = "/usr/bin/chromium";
const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const GTIN = "04012345000016";
const LOT = "MILK-2611-A";
const shots = process.env.LOTLINE_SCREENSHOTS;

/**
 * A fresh data dir; with the shared node's trained quality model when that node runs already (the
 * node re-trains a cached model that is not current, so borrowing it is only ever faster).
 */
async function dataDirWithModel(): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lotline-browser-"));
  const shared = await startedSharedNode()?.catch(() => null);
  const model = shared ? path.join(shared.config.dataDir, "models", "quality-default.json") : null;
  if (model && fs.existsSync(model)) {
    fs.mkdirSync(path.join(dir, "models"), { recursive: true });
    fs.copyFileSync(model, path.join(dir, "models", "quality-default.json"));
  }
  return dir;
}

/** The farm (organisation 1) records three temperature readings of lot A, one above the milk's storage range; waits until anchored. */
async function captureSensorEvent(node: TestNode, token: string): Promise<void> {
  const at = (minutes: number) => new Date(Date.now() - minutes * 60_000).toISOString();
  const reading = (minutes: number, value: number) => ({ sensorMetadata: { time: at(minutes) }, sensorReport: [{ type: "gs1:Temperature", value, uom: "CEL" }] });
  const doc = {
    "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
    type: "EPCISDocument",
    schemaVersion: "2.0",
    creationDate: at(0),
    epcisBody: {
      eventList: [
        {
          type: "ObjectEvent",
          eventTime: at(30),
          eventTimeZoneOffset: "+00:00",
          epcList: [],
          quantityList: [{ epcClass: `https://id.gs1.org/01/${GTIN}/10/${LOT}`, quantity: 100, uom: "LTR" }],
          action: "OBSERVE",
          bizStep: "inspecting",
          disposition: "active",
          sensorElementList: [reading(90, 4.1), reading(60, 4.6), reading(30, 11.5)],
        },
      ],
    },
  };
  const res = await fetch(`${node.url}/epcis/capture`, { method: "POST", headers: { "content-type": "application/ld+json", ...bearer(token) }, body: JSON.stringify(doc) });
  expect(res.status, await res.text()).to.equal(202);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const { n } = node.db
      .prepare(
        `SELECT COUNT(*) AS n FROM anchor_outbox o WHERE o.root IS NULL OR NOT EXISTS (
           SELECT 1 FROM anchor_batches b JOIN anchors a ON a.root = b.root AND a.org_id = b.org_id WHERE b.root = o.root)`,
      )
      .get() as { n: number };
    const stored = node.db.prepare(`SELECT COUNT(*) AS n FROM epcis_events`).get() as { n: number };
    if (n === 0 && stored.n > 0) return;
    if (Date.now() > deadline) throw new Error(`the sensor event is not anchored (${n} records pending, ${stored.n} events stored)`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe("explorer in a browser", function () {
  this.timeout(180_000);
  let node: TestNode;
  let context: BrowserContext;
  let page: Page;
  let userDataDir: string;
  const producer = demoWallet(DEMO_MEMBERS.find((m) => m.key === "producer")!.account);

  before(async function () {
    execFileSync("bash", [path.join(__dirname, "..", "..", "..", "scripts", "ensure-chromium.sh")], { stdio: "inherit" });
    node = await startTestNode({ LOTLINE_DATA_DIR: await dataDirWithModel() });
    await captureSensorEvent(node, await tokenFor(node, producer));
    userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "lotline-chromium-"));
    context = await chromium.launchPersistentContext(userDataDir, { executablePath: CHROMIUM, args: FLAGS, headless: true, viewport: { width: 1280, height: 900 } });
    // The test wallet: window.ethereum forwards to Node, which signs with the demo key.
    await context.exposeFunction("__lotlineWallet", async (method: string, params: unknown[]) => {
      switch (method) {
        case "eth_requestAccounts":
        case "eth_accounts":
          return [producer.address];
        case "eth_chainId":
          return "0x7a69";
        case "personal_sign":
          return producer.signMessage(getBytes(params[0] as string));
        case "eth_signTypedData_v4": {
          const typed = JSON.parse(params[1] as string) as { domain: Record<string, unknown>; types: Record<string, TypedDataField[]>; message: Record<string, unknown> };
          const types = { ...typed.types };
          delete types.EIP712Domain;
          if (getAddress(params[0] as string) !== producer.address) throw new Error("unknown account");
          TypedDataEncoder.from(types); // rejects malformed types before signing
          return producer.signTypedData(typed.domain, types, typed.message);
        }
        default:
          throw new Error(`the test wallet does not support ${method}`);
      }
    });
    await context.addInitScript(() => {
      const w = globalThis as unknown as { ethereum: unknown; __lotlineWallet: (m: string, p: unknown[]) => Promise<unknown> };
      w.ethereum = { isTestWallet: true, request: ({ method, params }: { method: string; params?: unknown[] }) => w.__lotlineWallet(method, params ?? []) };
    });
    page = context.pages()[0] ?? (await context.newPage());
  });

  after(async function () {
    await context?.close();
    if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
    await node?.cleanup();
    if (node) fs.rmSync(node.config.dataDir, { recursive: true, force: true });
  });

  const shot = async (name: string) => {
    if (shots) await page.screenshot({ path: path.join(shots, name), fullPage: true });
  };
  const summary = async () => {
    const el = page.getByTestId("verification-summary");
    await el.waitFor({ timeout: 20_000 });
    return { verified: Number(await el.getAttribute("data-verified")), failed: Number(await el.getAttribute("data-failed")), total: Number(await el.getAttribute("data-total")) };
  };

  it("shows the public a recalled lot's identity, recall banner and verification on a phone", async function () {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${node.url}/01/04012345000016/10/MILK-2611-B`);
    await page.getByTestId("recall-banner").waitFor();
    expect(await page.getByTestId("lineage-graph").count(), "the public sees no lineage").to.equal(0);
    const s = await summary();
    expect(s.total).to.be.greaterThan(0);
    expect(s.failed).to.equal(0);
    await shot("explorer-phone.png");
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it("signs in with an EIP-1193 wallet into an HttpOnly session cookie", async function () {
    await page.goto(node.url);
    await page.locator("#sign-in").click();
    await page.getByTestId("signed-in").waitFor();
    const cookies = await context.cookies(node.url);
    const session = cookies.find((c) => c.name === "lotline_session");
    expect(session?.httpOnly).to.equal(true);
    expect(session?.sameSite).to.equal("Strict");
    expect(await page.evaluate(() => (globalThis as unknown as { document: { cookie: string } }).document.cookie)).to.not.include("lotline_session");
    await shot("explorer-home.png");
  });

  it("finds a lot by GTIN and lot, draws its lineage with as many nodes as the trace API, and verifies every anchored record against the chain", async function () {
    await page.locator("#q").fill(`${GTIN} ${LOT}`);
    await page.locator("#q").press("Enter");
    await page.waitForURL(/\/explorer\/batch\/0x[0-9a-f]{64}$/);
    const batchId = page.url().split("/").pop()!;
    const graph = page.locator('[data-testid="lineage-graph"][data-node-count]');
    await graph.waitFor({ timeout: 20_000 });
    const token = await tokenFor(node, producer);
    const trace = (await (await fetch(`${node.url}/api/v1/batches/${batchId}/trace?direction=both&maxDepth=50`, { headers: bearer(token) })).json()) as { nodes: unknown[] };
    expect(trace.nodes.length).to.be.greaterThan(1);
    expect(Number(await graph.getAttribute("data-node-count"))).to.equal(trace.nodes.length);

    const records = (await (await fetch(`${node.url}/api/v1/batches/${batchId}/records`, { headers: bearer(token) })).json()) as { records: unknown[] };
    const s = await summary();
    expect(s.total, "one verdict per record served").to.equal(records.records.length);
    expect(s.total).to.be.greaterThan(1);
    expect(s.failed).to.equal(0);
    expect(s.verified).to.equal(s.total);
    const epcis = page.locator('[data-testid="record-verdict"][data-ok="true"][data-record-id^="epcis:event:"]');
    expect(await epcis.count(), "the EPCIS event's leaf (CBV hash ID) recomputed in the browser").to.equal(1);
    await page.getByTestId("sensor-chart").waitFor();
    expect(await page.locator(".card", { hasText: "sensor readings" }).textContent()).to.match(/3 readings; storage range .* 1 outside it/);
    await shot("explorer-lot.png");
  });

  it("shows a record changed in the node's database as failed, in red, with what failed", async function () {
    const before = node.db.prepare(`SELECT document FROM product_master_data WHERE gtin = ?`).get(GTIN) as { document: string };
    node.db.prepare(`UPDATE product_master_data SET document = json_set(document, '$.name', 'Tampered milk') WHERE gtin = ?`).run(GTIN);
    try {
      await page.reload();
      const s = await summary();
      expect(s.failed).to.equal(1);
      const failed = page.locator('[data-testid="record-verdict"][data-ok="false"]');
      expect(await failed.count()).to.equal(1);
      expect(await failed.textContent()).to.include("record changed");
      expect(await failed.evaluate((e) => (globalThis as unknown as { getComputedStyle(e: unknown): { color: string } }).getComputedStyle(e).color)).to.equal("rgb(176, 0, 32)");
      await shot("explorer-tampered.png");
    } finally {
      node.db.prepare(`UPDATE product_master_data SET document = ? WHERE gtin = ?`).run(before.document, GTIN);
    }
  });

  it("raises a recall from the page, signed in the wallet and sent through the relayer, and shows the banner", async function () {
    await page.reload();
    expect(await page.getByTestId("recall-banner").count()).to.equal(0);
    const form = page.getByTestId("raise-recall");
    await form.locator("input").fill("listeria found in the retained sample");
    await form.locator("button").click();
    await page.getByTestId("recall-banner").waitFor({ timeout: 30_000 });
    expect(await page.getByTestId("recall-banner").textContent()).to.include("listeria found in the retained sample");
    expect(await page.getByTestId("batch-status").textContent()).to.equal("recalled");
  });
});
