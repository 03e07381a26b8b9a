import { execFileSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { getAddress, getBytes, id as keccakText, TypedDataEncoder, type HDNodeWallet, type TypedDataField } from "ethers";
import { CHROMIUM, CHROMIUM_FLAGS } from "../../../scripts/chromium";
import { startTestNode, type TestNode } from "../../helpers/node";
import { bearer, startedSharedNode, tokenFor } from "../api/helpers";
import { DEMO_MEMBERS, demoWallet } from "../../../services/demo/roster";
import { DEMO_GOODS } from "../../../services/demo/supply-chain";
import { glnFor } from "../../../services/gs1/keys";
import { lotIdOf } from "../../../services/epcis/mapping/plan";
import { parseQuantity } from "../../../services/provenance/quantity";
import { HANDOVER_KINDS } from "../../../services/provenance/acceptance";
import { DISPUTE_DEFAULTS } from "../../../services/settlement/terms";

/**
 * The explorer in a real browser (Debian's chromium through playwright-core), against a node of
 * its own: the test changes state (a tampered record, a recall), which the shared node's other
 * tests must not see. The wallet is a test EIP-1193 provider injected into the page, whose
 * requests are signed in Node with a demo key: the dairy's (it accepts an offer and decides on
 * deliveries as a buyer, and grants an auditor) and the farm's (it recalls its lot, and withdraws
 * the recall). Each action goes through the relayer and is checked in the page and in the API.
 *
 * LOTLINE_SCREENSHOTS=docs/screenshots saves the screenshots the README shows.
 */
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

const member = (key: string) => DEMO_MEMBERS.find((m) => m.key === key)!;
const orgIdOf = (key: string) => DEMO_MEMBERS.indexOf(member(key)) + 1;

/**
 * Chain state the page's actions work on, made with the members' own keys: the dairy orders
 * 1,000 l of lot A from the farm and receives them (a delivery awaiting its decision), and the farm
 * offers it 500 l more (an offer awaiting its acceptance). Returns the delivered portion and order.
 */
async function prepareDeliveryAndOffer(node: TestNode): Promise<{ portion: string; orderId: bigint }> {
  const { contracts, provider } = node;
  const farm = demoWallet(member("producer").account, provider);
  const dairy = demoWallet(member("processor").account, provider);
  const send = async (tx: Promise<{ wait(): Promise<unknown> }>) => (await tx).wait() as Promise<{ logs: { topics: readonly string[]; data: string }[]; blockNumber: number }>;
  const lotA = lotIdOf(DEMO_GOODS.rawMilk, "MILK-2611-A");
  const now = (await provider.getBlock("latest"))!.timestamp;
  const created = await send(
    contracts.escrow.connect(dairy).createOrder({
      seller: orgIdOf("producer"),
      arbiter: orgIdOf("auditor"),
      token: await contracts.token.getAddress(),
      gtin: BigInt(DEMO_GOODS.rawMilk),
      quantity: parseQuantity("1000"),
      pricePerUnit: 48n,
      deliveryDeadline: BigInt(now + 7 * 86_400),
      inspectionWindow: 7 * 86_400,
      disputeTimeout: DISPUTE_DEFAULTS.timeoutSeconds,
      defaultSellerShareBps: DISPUTE_DEFAULTS.sellerShareBps,
      termsHash: keccakText(`browser test order ${now}`),
    }),
  );
  const orderId = created.logs.map((l) => contracts.escrow.interface.parseLog(l)).find((l) => l?.name === "OrderCreated")!.args.orderId as bigint;
  const order = await contracts.escrow.order(orderId);
  await send(contracts.token.connect(dairy).approve(await contracts.escrow.getAddress(), (order.quantity * order.pricePerUnit) / 1000n));
  await send(contracts.escrow.connect(dairy).fund(orderId));
  await send(contracts.provenance.connect(farm).offer(lotA, parseQuantity("1000"), orgIdOf("processor"), HANDOVER_KINDS.both));
  const accepted = await send(contracts.provenance.connect(dairy).accept(lotA, parseQuantity("1000"), HANDOVER_KINDS.both, glnFor(member("processor").companyPrefixes[0], 1)));
  const sale = accepted.logs.map((l) => contracts.provenance.interface.parseLog(l)).find((l) => l?.name === "OwnershipTransferred")!;
  await send(contracts.escrow.connect(farm).deliver(orderId, [{ batchId: sale.args.batchId as string, index: sale.args.index as bigint }]));
  const offered = await send(contracts.provenance.connect(farm).offer(lotA, parseQuantity("500"), orgIdOf("processor"), HANDOVER_KINDS.both));
  await node.state.indexer!.waitForBlock(offered.blockNumber);
  return { portion: sale.args.batchId as string, orderId };
}

describe("explorer in a browser", function () {
  this.timeout(180_000);
  let node: TestNode;
  let context: BrowserContext;
  let page: Page;
  let userDataDir: string;
  let prepared: { portion: string; orderId: bigint };
  const producer = demoWallet(member("producer").account);
  const dairy = demoWallet(member("processor").account);
  /** The account the test wallet signs with. */
  let wallet: HDNodeWallet = producer;
  const lotA = lotIdOf(DEMO_GOODS.rawMilk, "MILK-2611-A");

  before(async function () {
    execFileSync("bash", [path.join(__dirname, "..", "..", "..", "scripts", "ensure-chromium.sh")], { stdio: "inherit" });
    node = await startTestNode({ LOTLINE_DATA_DIR: await dataDirWithModel() });
    prepared = await prepareDeliveryAndOffer(node);
    userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "lotline-chromium-"));
    context = await chromium.launchPersistentContext(userDataDir, { executablePath: CHROMIUM, args: CHROMIUM_FLAGS, headless: true, viewport: { width: 1280, height: 900 } });
    // The test wallet: window.ethereum forwards to Node, which signs with the demo key.
    await context.exposeFunction("__lotlineWallet", async (method: string, params: unknown[]) => {
      switch (method) {
        case "eth_requestAccounts":
        case "eth_accounts":
          return [wallet.address];
        case "eth_chainId":
          return "0x7a69";
        case "personal_sign":
          return wallet.signMessage(getBytes(params[0] as string));
        case "eth_signTypedData_v4": {
          const typed = JSON.parse(params[1] as string) as { domain: Record<string, unknown>; types: Record<string, TypedDataField[]>; message: Record<string, unknown> };
          const types = { ...typed.types };
          delete types.EIP712Domain;
          if (getAddress(params[0] as string) !== wallet.address) throw new Error("unknown account");
          TypedDataEncoder.from(types); // rejects malformed types before signing
          return wallet.signTypedData(typed.domain, types, typed.message);
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
    if (!shots) return;
    // A full-page capture does not scroll: the sections below the screen, drawn only near it
    // (style.css, content-visibility), are drawn for it first.
    const drawAll = await page.addStyleTag({ content: "main > section.card { content-visibility: visible !important; }" });
    await page.screenshot({ path: path.join(shots, name), fullPage: true });
    await drawAll.evaluate((style) => style.remove());
  };
  /** Signs the page in with `who`'s key (signing out whoever is signed in). */
  const signInAs = async (who: HDNodeWallet) => {
    wallet = who;
    await page.goto(node.url);
    await page.locator("#sign-in, [data-testid=signed-in]").first().waitFor();
    if ((await page.getByTestId("signed-in").count()) > 0) {
      await page.getByRole("button", { name: "Sign out" }).click();
      await page.locator("#sign-in").waitFor();
    }
    await page.locator("#sign-in").click();
    await page.getByTestId("signed-in").waitFor();
  };
  /** GET as `who` over the API (the page's answer checked against the node's). */
  const apiAs = async (who: HDNodeWallet, route: string) => {
    const res = await fetch(`${node.url}${route}`, { headers: bearer(await tokenFor(node, who)) });
    expect(res.status, route).to.equal(200);
    return (await res.json()) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  };
  /** Submits an action form and waits for the page to reload once the transaction is indexed. */
  const act = async (form: ReturnType<Page["getByTestId"]>, values: string[] = []) => {
    const inputs = form.locator("input");
    for (const [i, v] of values.entries()) await inputs.nth(i).fill(v);
    const reloaded = page.waitForEvent("load", { timeout: 30_000 });
    await form.locator("button[type=submit]").click();
    await reloaded;
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
    const width = await page.evaluate(() => (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document.documentElement.scrollWidth);
    expect(width, "nothing wider than the phone's screen").to.be.at.most(390);
    await shot("explorer-phone.png");
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it("shows a page, not a JSON document, where the node refuses what the browser opened (an unknown path, a GTIN too long)", async function () {
    for (const [url, status, code] of [
      [`${node.url}/no/such/page`, 404, "not_found"],
      [`${node.url}/01/040123450000161/10/MILK-2611-B`, 400, "invalid_request"],
    ] as const) {
      const response = await page.goto(url);
      expect(response?.status(), url).to.equal(status);
      expect(response?.headers()["content-type"], url).to.match(/^text\/html/);
      expect(await page.locator("h1").textContent(), url).to.match(new RegExp(`^${status} `));
      expect(await page.locator("code").textContent(), url).to.equal(code);
      await page.getByRole("link", { name: "Back to search" }).waitFor();
    }
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

  it("finds a lot by keyboard (tab to the search box, type, enter), draws its lineage with as many nodes as the trace API, and verifies every anchored record against the chain", async function () {
    await page.goto(node.url);
    await page.getByTestId("signed-in").waitFor();
    const focused = () =>
      page.evaluate(() => {
        const active = (globalThis as unknown as { document: { activeElement: { id: string; className: string } | null } }).document.activeElement;
        return { id: active?.id ?? "", className: active?.className ?? "" };
      });
    await page.keyboard.press("Tab");
    expect((await focused()).className, "the first stop skips to the content").to.equal("skip");
    for (let i = 0; i < 3 && (await focused()).id !== "q"; i++) await page.keyboard.press("Tab");
    expect((await focused()).id, "the search box within a few tabs").to.equal("q");
    await page.keyboard.type(`${GTIN} ${LOT}`);
    await page.keyboard.press("Enter");
    await page.waitForURL(/\/explorer\/batch\/0x[0-9a-f]{64}$/);
    const batchId = page.url().split("/").pop()!;
    const graph = page.locator('[data-testid="lineage-graph"][data-node-count]');
    await graph.waitFor({ timeout: 20_000 });
    const token = await tokenFor(node, producer);
    const trace = (await (await fetch(`${node.url}/api/v1/batches/${batchId}/trace?direction=both&maxDepth=50`, { headers: bearer(token) })).json()) as { nodes: unknown[] };
    expect(trace.nodes.length).to.be.greaterThan(1);
    expect(Number(await graph.getAttribute("data-node-count"))).to.equal(trace.nodes.length);

    const records = (await (await fetch(`${node.url}/api/v1/batches/${batchId}/records`, { headers: bearer(token) })).json()) as { records: { class: string }[] };
    const s = await summary();
    expect(s.total, "one verdict per record served").to.equal(records.records.length);
    expect(s.total).to.be.greaterThan(1);
    expect(s.failed).to.equal(0);
    expect(s.verified).to.equal(s.total);
    // The farm's own demo events of lot A (commissioning, shipping): their leaves (CBV hash IDs) recomputed in the browser.
    const epcis = page.locator('[data-testid="record-verdict"][data-ok="true"][data-record-id^="epcis:event:"]');
    expect(await epcis.count()).to.equal(records.records.filter((r) => r.class === "EPCIS").length);
    expect(await epcis.count()).to.be.greaterThan(0);
    await page.getByTestId("sensor-chart").waitFor();
    expect(await page.getByTestId("footprint-boundary").textContent()).to.match(/cradle-to-gate/);
  });

  it("draws the lineage as links: every batch of the trace once, zoomed by its buttons, and a batch opened from the graph by keyboard", async function () {
    await page.goto(`${node.url}/explorer/batch/${lotA}`);
    const graph = page.locator('[data-testid="lineage-graph"][data-node-count]');
    await graph.waitFor({ timeout: 20_000 });
    const token = await tokenFor(node, producer);
    const trace = (await (await fetch(`${node.url}/api/v1/batches/${lotA}/trace?direction=both&maxDepth=50`, { headers: bearer(token) })).json()) as { root: string; nodes: { id: string }[]; edges: unknown[] };
    const hrefs = await graph.locator("a.batch").evaluateAll((links) => links.map((a) => a.getAttribute("href")));
    expect([...hrefs].sort()).to.deep.equal(trace.nodes.map((n) => `/explorer/batch/${n.id}`).sort());
    expect(await graph.locator("path.flow").count()).to.equal(trace.edges.length);
    expect(Number(await graph.getAttribute("data-edge-count"))).to.equal(trace.edges.length);
    expect(await graph.locator("a.batch.root").getAttribute("data-batch")).to.equal(trace.root);

    const transform = () => graph.locator("g.scene").getAttribute("transform");
    await graph.getByRole("button", { name: "Zoom in" }).click();
    // d3's pan and zoom loads once the page has settled, or at this first press.
    await page.locator('[data-testid="lineage-graph"][data-pan-zoom="ready"]').waitFor({ timeout: 10_000 });
    const zoomed = await transform();
    expect(zoomed, "zoom in scales the scene").to.match(/scale\(1\.5\)/);
    await graph.getByRole("button", { name: "Fit the whole lineage" }).click();
    expect(await transform()).to.not.equal(zoomed);

    const other = trace.nodes.find((n) => n.id !== trace.root)!;
    await graph.locator(`a.batch[data-batch="${other.id}"]`).focus();
    await page.keyboard.press("Enter");
    await page.waitForURL(`${node.url}/explorer/batch/${other.id}`);
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

  it("reads the chain through the JSON-RPC URL the reader chooses: a slow one shows the off-chain checks first, one serving another chain is not believed", async function () {
    // A JSON-RPC in front of the node's pass-through (another origin, as a reader's own chain node
    // would be): it answers after RPC_DELAY_MS, and under /other-chain it says the chain is another.
    const RPC_DELAY_MS = 1500;
    const proxy = http.createServer((req, res) => {
      res.setHeader("access-control-allow-origin", "*");
      res.setHeader("access-control-allow-headers", "content-type");
      if (req.method === "OPTIONS") return void res.end();
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        void (async () => {
          const answer = await (await fetch(`${node.url}/rpc`, { method: "POST", headers: { "content-type": "application/json" }, body })).text();
          type Message = { id: number; method?: string; result?: unknown };
          const json = JSON.parse(answer) as Message | Message[];
          const asked = JSON.parse(body) as Message | Message[];
          if (req.url === "/other-chain") {
            const chainIdAsked = new Set((Array.isArray(asked) ? asked : [asked]).filter((q) => q.method === "eth_chainId").map((q) => q.id));
            for (const a of Array.isArray(json) ? json : [json]) if (chainIdAsked.has(a.id)) a.result = "0x1";
          }
          setTimeout(() => res.setHeader("content-type", "application/json").end(JSON.stringify(json)), RPC_DELAY_MS);
        })();
      });
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    const proxyUrl = `http://127.0.0.1:${(proxy.address() as { port: number }).port}`;
    try {
      await page.goto(`${node.url}/explorer/batch/${lotA}`);
      const first = await summary();
      const results = page.getByTestId("verification-results");
      const verifyAt = async (url: string) => {
        await page.locator("#rpc-url").fill(url);
        await page.getByRole("button", { name: "Verify again" }).click();
      };

      await verifyAt(`${proxyUrl}/slow`);
      // Before the chain answers: every record's leaf and proof, checked in the page.
      await page.getByText(`${first.total} of ${first.total} record(s) match their proofs; reading their anchors from ${proxyUrl}/slow`).waitFor({ timeout: 10_000 });
      expect(await page.getByTestId("verification-summary").count(), "no verdict before the chain answered").to.equal(0);
      expect(await results.getByText("leaf and proof match; reading the chain…").count()).to.equal(first.total);
      const slow = await summary();
      expect(slow).to.deep.equal({ verified: first.total, failed: 0, total: first.total });

      await verifyAt(`${proxyUrl}/other-chain`);
      await page.getByTestId("verification-summary").getByText("FAILED").waitFor({ timeout: 10_000 });
      const other = await summary();
      expect(other).to.deep.equal({ verified: 0, failed: first.total, total: first.total });
      expect(await results.getByTestId("record-verdict").first().textContent()).to.include("serves chain 1, not this deployment's chain");
    } finally {
      // The URL the reader chose is kept for their next pages: back to the node's own.
      await page.evaluate(() => (globalThis as unknown as { localStorage: { removeItem(k: string): void } }).localStorage.removeItem("lotline.rpcUrl"));
      await new Promise((resolve) => proxy.close(resolve));
    }
  });

  it("accepts a hand-over offer from the page (the dairy, signed in its wallet, through the relayer)", async function () {
    await signInAs(dairy);
    await page.goto(`${node.url}/explorer/batch/${lotA}`);
    const form = page.getByTestId("accept-offer");
    await form.waitFor();
    // The dairy reads the farm's events of the lot it bought and its own intake reading, 6.8 °C, above the milk's range.
    await page.getByTestId("sensor-chart").waitFor();
    expect(await page.locator(".card", { hasText: "sensor readings" }).textContent()).to.include("5 readings; storage range 2 to 6 °C; 1 outside it.");
    await page.locator('[data-testid="lineage-graph"][data-node-count]').waitFor();
    await summary();
    await shot("explorer-lot.png");
    const portionsBefore = (await apiAs(dairy, `/api/v1/batches/${lotA}`)).lotSummary.portions.length;
    await act(form, [glnFor(member("processor").companyPrefixes[0], 1)]);
    await page.getByTestId("batch-status").waitFor();
    expect(await page.getByTestId("accept-offer").count(), "no offer left to accept").to.equal(0);
    const batch = await apiAs(dairy, `/api/v1/batches/${lotA}`);
    expect(batch.pendingOffer).to.equal(null);
    expect(batch.lotSummary.portions).to.have.length(portionsBefore + 1);
    const portion = batch.lotSummary.portions.at(-1);
    expect(portion.quantity).to.equal("500");
    expect((await apiAs(dairy, `/api/v1/batches/${portion.id}`)).ownerOrgId).to.equal(String(orgIdOf("processor")));
  });

  it("accepts a delivery against an escrowed order from the page", async function () {
    const orderId = String(prepared.orderId);
    await page.goto(`${node.url}/explorer/batch/${prepared.portion}`);
    const status = page.locator(`[data-testid="order-status"][data-order-id="${orderId}"]`);
    expect(await status.textContent()).to.equal("delivered");
    await act(page.locator(`[data-testid="accept-delivery"][data-order-id="${orderId}"]`));
    await status.waitFor();
    const order = await apiAs(dairy, `/api/v1/orders/${orderId}`);
    expect(order.status).to.equal("completed");
    expect(await status.textContent()).to.equal("completed");
    expect(await page.locator('[data-testid="accept-delivery"]').count()).to.equal(0);
  });

  it("disputes a delivery from the page: the quantity rejected and why", async function () {
    const portion = (await node.contracts.provenance.portionId(lotA, 1)).toLowerCase();
    const { orderId } = await apiAs(dairy, `/api/v1/batches/${portion}`);
    await page.goto(`${node.url}/explorer/batch/${portion}`);
    const status = page.locator(`[data-testid="order-status"][data-order-id="${orderId}"]`);
    expect(await status.textContent()).to.equal("delivered");
    await act(page.locator(`[data-testid="dispute-delivery"][data-order-id="${orderId}"]`), ["250", "sour on arrival: pH 6.4 at intake"]);
    await status.waitFor();
    const order = await apiAs(dairy, `/api/v1/orders/${orderId}`);
    expect(order.status).to.equal("disputed");
    expect(await status.textContent()).to.equal("disputed");
  });

  it("grants an auditor read access to the organisation's records from its page (SharingRegistry.grant)", async function () {
    const dairyOrg = orgIdOf("processor");
    const certifier = String(orgIdOf("certifier"));
    await page.goto(`${node.url}/explorer/org/${dairyOrg}`);
    // Its KPIs over time: one point per month and series with data, as the monthly KPI route answers them.
    const months = (await apiAs(dairy, `/api/v1/analytics/orgs/${dairyOrg}/kpis/monthly`)).months as { from: string; oee: number | null }[];
    const chart = page.getByTestId("kpi-chart");
    await chart.locator("circle").first().waitFor();
    const oeePoints = await chart.locator("circle title", { hasText: "OEE %" }).allTextContents();
    expect(oeePoints.map((t) => t.slice(0, 7))).to.deep.equal(months.filter((m) => m.oee !== null).map((m) => m.from.slice(0, 7)));
    expect(oeePoints.length).to.be.greaterThan(0);
    const given = async () => (await apiAs(dairy, `/api/v1/grants?grantor=${dairyOrg}&limit=500`)).items as { grantId: string; granteeOrgId: string; inForce: boolean; classes: string[]; scope: { kind: string } }[];
    const before = (await given()).length;
    await act(page.getByTestId("grant-auditor"), [certifier, "30"]);
    const grants = await given();
    expect(grants).to.have.length(before + 1);
    const made = grants.find((g) => g.granteeOrgId === certifier)!;
    expect(made).to.deep.include({ inForce: true, scope: { kind: "all", value: null } });
    expect(made.classes).to.have.members(["EPCIS", "PRODUCTION_RUN", "ORDER_TERMS"]);
    const row = page.getByTestId("grants-given").locator("tr", { hasText: "EcoCert Europe" });
    await row.waitFor();
    expect(await row.textContent()).to.include(made.grantId);
  });

  it("raises a recall from the page, signed in the wallet and sent through the relayer, and shows the banner", async function () {
    await signInAs(producer);
    await page.goto(`${node.url}/explorer/batch/${lotA}`);
    await page.getByTestId("raise-recall").waitFor();
    expect(await page.getByTestId("recall-banner").count()).to.equal(0);
    const form = page.getByTestId("raise-recall");
    await form.locator("input").fill("listeria found in the retained sample");
    await form.locator("button").click();
    await page.getByTestId("recall-banner").waitFor({ timeout: 30_000 });
    expect(await page.getByTestId("recall-banner").textContent()).to.include("listeria found in the retained sample");
    expect(await page.getByTestId("batch-status").textContent()).to.equal("recalled");
    expect((await apiAs(producer, `/api/v1/batches/${lotA}`)).recall).to.include({ kind: "direct", reason: "listeria found in the retained sample" });
  });

  it("withdraws the recall from the page: the banner goes, the lot is active again", async function () {
    await act(page.getByTestId("withdraw-recall"), ["the retained sample was re-tested: negative for listeria"]);
    await page.getByTestId("batch-status").waitFor();
    expect(await page.getByTestId("recall-banner").count()).to.equal(0);
    expect(await page.getByTestId("batch-status").textContent()).to.equal("active");
    const batch = await apiAs(producer, `/api/v1/batches/${lotA}`);
    expect(batch.recall).to.equal(null);
    expect(batch.status).to.equal("active");
  });

  it("shows the butter pallet's freight leg in the footprint: its factor, the factor's source and the kg CO2e, as the API gives them", async function () {
    const auditor = demoWallet(member("auditor").account);
    await signInAs(auditor);
    const butter = lotIdOf(DEMO_GOODS.butter, "BTR-2611");
    await page.goto(`${node.url}/explorer/batch/${butter}`);
    const legs = page.getByTestId("footprint-legs");
    await legs.waitFor({ timeout: 30_000 });
    const fp = await apiAs(auditor, `/api/v1/batches/${butter}/footprint`);
    const leg = fp.stages.find((s: { type: string }) => s.type === "transport").transport[0];
    expect(leg.co2eKg).to.be.closeTo(180 * 0.96 * 0.107, 1e-9);
    expect(await legs.getByTestId("leg-factor").first().textContent()).to.equal("0.107");
    expect(await legs.getByTestId("leg-factor-source").first().textContent()).to.equal(leg.factorSource);
    expect(await legs.getByTestId("leg-co2e").first().textContent()).to.match(/^18\.49[0-9]? \(SSCC /);
    expect(await legs.textContent()).to.include("road").and.include("180 km").and.include("0.96 t");
    await shot("explorer-freight-leg.png");
  });
});
