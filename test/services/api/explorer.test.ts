import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { expect } from "chai";
import { Transaction } from "ethers";
import type { TestNode } from "../../helpers/node";
import { bearer, expectProblem, get, getAnonymous, post, requestNonce, sharedNode, siweMessage, tokenFor } from "./helpers";
import { DEMO_MEMBERS, demoWallet } from "../../../services/demo/roster";
import { leafOf, type ProvenRecord } from "../../../services/export/records";
import { collectLineageRecords } from "../../../services/export/exporter";
import { DEMO_GOODS } from "../../../services/demo/supply-chain";
import { lotIdOf } from "../../../services/epcis/mapping/plan";
import { warmUp } from "../../../services/api/app";

/**
 * The explorer's server side against the shared demo node: pages and scripts served by the node,
 * the Digital Link resolver, search, recent recalls, records for in-page verification, the
 * read-only JSON-RPC pass-through and the session cookie with its CSRF protection. Nothing here
 * changes chain state or the index (the browser test, which does, has a node of its own).
 */
const GTIN = "04012345000016";
const LOT = "MILK-2611-A";
const SSCC = "030123450000000017";
const auditor = demoWallet(DEMO_MEMBERS.find((m) => m.key === "auditor")!.account);

async function rpc(node: TestNode, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${node.url}/rpc`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return { status: res.status, body: (await res.json()) as any };
}

/** Signs in for the explorer: the session comes back as cookies. */
async function cookieSession(node: TestNode) {
  const nonce = await requestNonce(node, auditor.address);
  const message = siweMessage(node, auditor.address, nonce).prepareMessage();
  const res = await post(node, "/explorer/session", { message, signature: await auditor.signMessage(message) });
  expect(res.status, res.text).to.equal(200);
  const cookies = res.headers.getSetCookie();
  const session = cookies.find((c) => c.startsWith("lotline_session="))!;
  const csrf = cookies.find((c) => c.startsWith("lotline_csrf="))!;
  return { res, session, csrf, cookie: [session, csrf].map((c) => c.split(";")[0]).join("; "), csrfToken: res.body.csrfToken as string };
}

describe("explorer API", function () {
  this.timeout(120_000);
  let node: TestNode;
  before(async function () {
    node = await sharedNode();
  });

  describe("pages and scripts", function () {
    it("serves the explorer page at / with every script from the node itself", async function () {
      const res = await getAnonymous(node, "/");
      expect(res.status).to.equal(200);
      expect(res.contentType).to.match(/^text\/html/);
      expect(res.text).to.match(/"ethers":"\/explorer\/vendor\/ethers\.js\?v=[0-9a-f]{12}"/);
      const sources = [...res.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]).filter((s) => !s.startsWith("#") && !s.startsWith("data:"));
      for (const src of sources) expect(src, "no CDN: every script and style comes from the node").to.match(/^\//);
    });

    it("serves ethers and d3's pan and zoom from the project's own dependencies", async function () {
      for (const [file, minimum] of [["ethers.js", 100_000], ["d3.js", 20_000]] as const) {
        const res = await getAnonymous(node, `/explorer/vendor/${file}`);
        expect(res.status, file).to.equal(200);
        expect(res.contentType).to.match(/^text\/javascript/);
        expect(res.text.length, file).to.be.greaterThan(minimum);
      }
      // d3 as one ES module (bundled from d3-zoom and d3-selection), exporting what lineage.js imports.
      expect((await getAnonymous(node, "/explorer/vendor/d3.js")).text).to.match(/export\s*\{[^}]*\bzoom\b[^}]*\}/);
      // Libraries the page no longer loads (the lineage and the charts are drawn in SVG: ADR 0037, ADR 0041).
      for (const gone of ["cytoscape.js", "chart.js"]) expect((await getAnonymous(node, `/explorer/vendor/${gone}`)).status, gone).to.equal(404);
    });

    it("names its scripts and styles by content hash, cached for good only under their own hash", async function () {
      const shell = (await getAnonymous(node, "/")).text;
      const urls = [...shell.matchAll(/"(\/explorer\/(?:assets|vendor)\/[a-z0-9.]+\?v=[0-9a-f]{12})"/g)].map((m) => m[1]);
      expect(urls.filter((u) => u.startsWith("/explorer/vendor/")).length, "ethers, d3").to.equal(2);
      expect(urls.some((u) => u.startsWith("/explorer/assets/app.js?v="))).to.equal(true);
      expect(urls.some((u) => u.startsWith("/explorer/assets/style.css?v="))).to.equal(true);
      for (const url of urls) {
        const res = await getAnonymous(node, url);
        expect(res.status, url).to.equal(200);
        expect(res.headers.get("cache-control"), url).to.equal("public, max-age=31536000, immutable");
      }
      // A stale or made-up version is served, but revalidated: never cached for good under a hash that is not its content's.
      expect((await getAnonymous(node, "/explorer/assets/app.js?v=000000000000")).headers.get("cache-control")).to.equal("no-cache");
      expect((await getAnonymous(node, "/explorer/assets/app.js")).headers.get("cache-control")).to.equal("no-cache");
      expect((await getAnonymous(node, "/explorer/vendor/ethers.js?v=000000000000")).headers.get("cache-control")).to.not.include("immutable");
      expect((await getAnonymous(node, "/")).headers.get("cache-control")).to.equal("private, no-cache");
    });

    it("hints a lot page's libraries: the lineage graph's and the charts' for a member, the verifier's for everyone", async function () {
      const preloads = (html: string) => [...html.matchAll(/<link rel="modulepreload" href="([^"?]+)/g)].map((m) => m[1]);
      const lot = `/explorer/batch/${encodeURIComponent(`https://id.gs1.org/01/${GTIN}/10/${LOT}`)}`;
      // (Not d3: the graph loads its pan and zoom once the page has settled.)
      expect(preloads((await get(node, lot)).text)).to.have.members(["/explorer/assets/lineage.js", "/explorer/assets/charts.js", "/explorer/verifier.js"]);
      // No lineage or chart for the public; the verifier carries the parts of ethers it needs (the whole library waits for a wallet).
      expect(preloads((await getAnonymous(node, lot)).text)).to.deep.equal(["/explorer/verifier.js"]);
      expect(preloads((await getAnonymous(node, `/01/${GTIN}/10/${LOT}`, { accept: "text/html" })).text)).to.deep.equal(["/explorer/verifier.js"]);
      expect(preloads((await get(node, "/explorer/org/2")).text), "an organisation's KPIs are charts").to.deep.equal(["/explorer/assets/charts.js"]);
      expect(preloads((await getAnonymous(node, "/")).text)).to.deep.equal([]);
    });

    it("carries a page's first answers in its HTML as the API answers the reader, and asks for a lot's records (a member's trace too) with it", async function () {
      const embedded = (html: string) => JSON.parse(/<script type="application\/json" id="lotline-answers">([^<]*)<\/script>/.exec(html)![1]) as Record<string, { status: number; body: any }>; // eslint-disable-line @typescript-eslint/no-explicit-any
      // The hrefs as the browser reads them (an attribute's `&#38;` is `&`).
      const fetches = (html: string) =>
        [...html.matchAll(/<link rel="preload" href="([^"]+)" as="fetch" crossorigin[^>]*>/g)].map((m) => m[1].replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code))));
      const id = lotIdOf(DEMO_GOODS.rawMilk, "MILK-2611-A");
      const batch = `/api/v1/batches/${id}`;
      const member = await get(node, `/explorer/batch/${id}`);
      expect(member.headers.get("cache-control"), "the reader's own answers: no shared cache").to.equal("private, no-cache");
      const memberAnswers = embedded(member.text);
      expect(memberAnswers[batch]).to.deep.equal({ status: 200, body: (await get(node, batch)).body });
      expect(memberAnswers["/api/v1/auth/session"]).to.deep.equal({ status: 200, body: (await get(node, "/api/v1/auth/session")).body });
      expect(memberAnswers["/explorer/abi.json"].body.anchors).to.deep.equal((await getAnonymous(node, "/explorer/abi.json")).body.anchors);
      // The organisations every page names, and the lot's product (its title), as the routes answer them.
      expect(memberAnswers["/api/v1/orgs?limit=50"]).to.deep.equal({ status: 200, body: (await get(node, "/api/v1/orgs?limit=50")).body });
      expect(memberAnswers["/api/v1/orgs?limit=50"].body.items.length).to.be.greaterThan(1);
      expect(memberAnswers[`/api/v1/products/${GTIN}`]).to.deep.equal({ status: 200, body: (await get(node, `/api/v1/products/${GTIN}`)).body });
      expect(fetches(member.text)).to.deep.equal([`${batch}/trace?direction=both&maxDepth=50`, `${batch}/records`]);
      // The public gets what the routes show the public: the lot's public view, no session; its records, no trace.
      const anonymous = await getAnonymous(node, `/explorer/batch/${id}`);
      const publicAnswers = embedded(anonymous.text);
      expect(publicAnswers[batch]).to.deep.equal({ status: 200, body: (await getAnonymous(node, batch)).body });
      expect(publicAnswers[batch].body.view).to.equal("public");
      expect(publicAnswers[batch].body).to.not.have.property("ownerOrgId");
      expect(publicAnswers["/api/v1/auth/session"].status).to.equal(401);
      expect(publicAnswers[`/api/v1/products/${GTIN}`]).to.deep.equal({ status: 200, body: (await getAnonymous(node, `/api/v1/products/${GTIN}`)).body });
      expect(fetches(anonymous.text)).to.deep.equal([`${batch}/records`]);
      // By a Digital Link ref: embedded under the URL the page asks, the rest by the batch's id.
      const ref = encodeURIComponent(`https://id.gs1.org/01/${GTIN}/10/${LOT}`);
      const byLink = await get(node, `/explorer/batch/${ref}`);
      expect(embedded(byLink.text)[`/api/v1/batches/${ref}`].body.id).to.equal(id);
      expect(fetches(byLink.text)).to.deep.equal(fetches(member.text));
      // A lot opened by its Digital Link in a browser: the resolver's answer and the batch it opens.
      const scanned = embedded((await getAnonymous(node, `/01/${GTIN}/10/${LOT}`, { accept: "text/html" })).text);
      expect(scanned[`/01/${GTIN}/10/${LOT}`]).to.deep.equal({ status: 200, body: (await getAnonymous(node, `/01/${GTIN}/10/${LOT}`, { accept: "application/json" })).body });
      expect(scanned[batch].body.view).to.equal("public");
      expect(scanned[`/api/v1/products/${GTIN}`].status).to.equal(200);
      expect(Object.keys(scanned)).to.include("/api/v1/orgs?limit=50");
      // An unknown batch is embedded as the route's refusal, with nothing more to ask.
      const unknown = await get(node, `/explorer/batch/0x${"0".repeat(64)}`);
      expect(embedded(unknown.text)[`/api/v1/batches/0x${"0".repeat(64)}`].status).to.equal(404);
      expect(fetches(unknown.text)).to.deep.equal([]);
      expect(Object.keys(embedded(unknown.text)).filter((url) => url.startsWith("/api/v1/products/")), "no product for a batch it does not know").to.deep.equal([]);
      // A ref that tries to close the element or an attribute stays inside it.
      for (const hostile of ['x" onload="alert(1)', "</script><script>alert(1)</script>"]) {
        const html = (await getAnonymous(node, `/explorer/batch/${encodeURIComponent(hostile)}`)).text;
        expect(html).to.not.include('onload="alert');
        expect(html).to.not.include("<script>alert");
        expect(Object.keys(embedded(html))).to.include(`/api/v1/batches/${encodeURIComponent(hostile)}`);
      }
    });

    it("runs a lot page's requests once at start, signed in with the node's key for the lot's producer, and ends that session", async function () {
      const keys = DEMO_MEMBERS.map((m) => demoWallet(m.integrationAccount));
      const live = () =>
        keys.map((key) => (node.db.prepare(`SELECT COUNT(*) AS n FROM sessions WHERE address = ? AND expires_at > ?`).get(key.address, Math.floor(Date.now() / 1000)) as { n: number }).n);
      const before = live();
      const asked: number[] = [];
      const done = await warmUp(node.app, node.db, { signerFor: (orgId) => (asked.push(orgId), keys[orgId - 1]) });
      expect(done.failed, "every request answered (a route the warm-up no longer reaches is named)").to.deep.equal([]);
      expect(done.requests).to.be.greaterThan(15);
      expect(asked, "read as the lot's producer").to.have.length(1);
      expect(live(), "its session ended").to.deep.equal(before);
    });

    it("refuses a library or page file it does not list, whatever the path", async function () {
      expectProblem(await getAnonymous(node, "/explorer/vendor/..%2F..%2Fpackage.json"), 404, "not_found");
      expectProblem(await getAnonymous(node, "/explorer/assets/..%2Findex.html"), 404, "not_found");
    });

    it("bundles the CLI's record verifier for the browser, computing the same leaves as the CLI and reading the anchors from the chain", async function () {
      const res = await getAnonymous(node, "/explorer/verifier.js");
      expect(res.status).to.equal(200);
      // One self-contained module (the parts of ethers it uses bundled in): written outside the project,
      // where a bare import such as "ethers" would not resolve, it still loads.
      const file = path.join(os.tmpdir(), `lotline-verifier-${process.pid}.mjs`);
      fs.writeFileSync(file, res.text);
      try {
        type Verdict = { record: ProvenRecord; ok: boolean; failed: string | null; detail: string };
        type VerifyRecords = (records: ProvenRecord[], options: { rpcUrl: string; anchors: string | null; chainId: number }) => Promise<Verdict[]>;
        const dynamicImport = new Function("url", "return import(url)") as (url: string) => Promise<{ leafOf: typeof leafOf; verifyRecords: VerifyRecords }>;
        const browser = await dynamicImport(pathToFileURL(file).href);
        expect(browser.verifyRecords, "the page's verification is in the same module").to.be.a("function");
        const records = await get(node, `/api/v1/batches/${encodeURIComponent(`https://id.gs1.org/01/${GTIN}/10/${LOT}`)}/records`);
        expect(records.status, records.text).to.equal(200);
        const served = records.body.records as ProvenRecord[];
        expect(served.length).to.be.greaterThan(1);
        for (const record of served) {
          expect(browser.leafOf(record), record.recordId).to.equal(leafOf(record));
          expect(browser.leafOf(record)).to.equal(record.leaf.toLowerCase());
        }
        // The page's whole check, anchorOf encoded and decoded by the verifier itself, against the chain through the node's pass-through.
        const options = { rpcUrl: `${node.url}/rpc`, anchors: records.body.anchors as string, chainId: records.body.chainId as number };
        const verdicts = await browser.verifyRecords(served, options);
        expect(verdicts.filter((v) => !v.ok).map((v) => v.detail)).to.deep.equal([]);
        expect(verdicts[0].detail).to.match(/anchored by organisation [0-9]+ in block [1-9][0-9]*$/);
        // The same root claimed by an organisation that did not anchor it: refused by the chain's answer.
        // (A record that does not name its owner inside: only the chain can tell.)
        const taken = served.find((r) => r.class !== "PRODUCTION_RUN")!;
        const other = taken.owner === "7" ? "8" : "7";
        const claimed = { ...taken, owner: other, proof: { ...taken.proof, anchoredBy: { ...taken.proof.anchoredBy, orgId: other } } };
        const [refused] = await browser.verifyRecords([claimed], options);
        expect(refused.ok).to.equal(false);
        expect(refused.failed).to.equal("not anchored");

        // A JSON-RPC that lies (the reader's own choice, or a node's pass-through acting in bad faith):
        // answers that are not an Anchor, an anchor by another organisation, another chain. No record passes.
        let lie: (method: string) => unknown = () => null;
        const liar = http.createServer((req, res) => {
          let text = "";
          req.on("data", (c: Buffer) => (text += c));
          req.on("end", () => {
            const body = JSON.parse(text) as { id: number; method: string } | { id: number; method: string }[];
            const answer = (r: { id: number; method: string }) => ({ jsonrpc: "2.0", id: r.id, result: lie(r.method) });
            res.setHeader("content-type", "application/json");
            res.end(JSON.stringify(Array.isArray(body) ? body.map(answer) : answer(body)));
          });
        });
        await new Promise<void>((resolve) => liar.listen(0, "127.0.0.1", resolve));
        try {
          const rpcUrl = `http://127.0.0.1:${(liar.address() as { port: number }).port}`;
          const chainIdHex = `0x${options.chainId.toString(16)}`;
          const word = (n: bigint) => n.toString(16).padStart(64, "0");
          const verdictsFrom = async (answerFor: (method: string) => unknown) => {
            lie = answerFor;
            return browser.verifyRecords(served, { ...options, rpcUrl });
          };
          const short = await verdictsFrom((m) => (m === "eth_chainId" ? chainIdHex : "0x01"));
          expect(short.map((v) => v.failed)).to.deep.equal(served.map(() => "chain not read"));
          expect(short[0].detail).to.match(/not an Anchor/);
          const others = await verdictsFrom((m) => (m === "eth_chainId" ? chainIdHex : `0x${word(1n)}${word(9999n)}${word(5n)}${word(1n)}`));
          expect(others.map((v) => v.failed)).to.deep.equal(served.map(() => "wrong anchor"));
          const elsewhere = await verdictsFrom((m) => (m === "eth_chainId" ? "0x1" : `0x${word(1n)}${word(1n)}${word(5n)}${word(1n)}`));
          expect(elsewhere.map((v) => v.failed)).to.deep.equal(served.map(() => "chain not read"));
          expect(elsewhere[0].detail).to.match(/serves chain 1, not this deployment's chain/);
        } finally {
          await new Promise((resolve) => liar.close(resolve));
        }
      } finally {
        fs.rmSync(file, { force: true });
      }
    });
  });

  describe("GS1 Digital Link resolver", function () {
    it("answers a lot's Digital Link with {gtin, lot, batches} to Accept: application/json, as the public may see it", async function () {
      const res = await getAnonymous(node, `/01/${GTIN}/10/${LOT}`, { accept: "application/json" });
      expect(res.status, res.text).to.equal(200);
      expect(res.body.gtin).to.equal(GTIN);
      expect(res.body.lot).to.equal(LOT);
      expect(res.body.batches.length).to.be.greaterThan(0);
      for (const b of res.body.batches) {
        expect(b.view).to.equal("public");
        expect(b).to.not.have.any.keys("ownerOrgId", "custodianOrgId", "quantity", "location");
      }
      const member = await get(node, `/01/${GTIN}/10/${LOT}`, { accept: "application/json" });
      expect(member.body.batches[0].view).to.equal("member");
    });

    it("opens the explorer's page for a browser scanning the same link", async function () {
      const res = await getAnonymous(node, `/01/${GTIN}/10/${LOT}`, { accept: "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8" });
      expect(res.status).to.equal(200);
      expect(res.contentType).to.match(/^text\/html/);
    });

    it("resolves a URL-encoded lot, a GTIN alone and an SSCC", async function () {
      const lot = await getAnonymous(node, `/01/${GTIN}/10/${encodeURIComponent(LOT)}`, { accept: "application/json" });
      expect(lot.body.lot).to.equal(LOT);
      const product = await getAnonymous(node, `/01/${GTIN}`, { accept: "application/json" });
      expect(product.status).to.equal(200);
      expect(product.body.batches.map((b: { lot: string }) => b.lot)).to.include.members(["MILK-2611-A", "MILK-2611-B"]);
      const unit = await getAnonymous(node, `/00/${SSCC}`, { accept: "application/json" });
      expect(unit.status, unit.text).to.equal(200);
      expect(unit.body.sscc).to.equal(SSCC);
      expect(unit.body.batches.length).to.be.greaterThan(0);
    });

    it("refuses a wrong check digit, a lot outside GS1's character set and an unknown lot with problems", async function () {
      expectProblem(await getAnonymous(node, `/01/04012345000017/10/${LOT}`, { accept: "application/json" }), 400, "invalid_gtin");
      expectProblem(await getAnonymous(node, `/01/${GTIN}/10/${encodeURIComponent("lot with spaces")}`, { accept: "application/json" }), 400, "invalid_lot");
      expectProblem(await getAnonymous(node, `/01/${GTIN}/10/NO-SUCH-LOT`, { accept: "application/json" }), 404, "batch_not_found");
      expectProblem(await getAnonymous(node, `/00/030123450000000018`, { accept: "application/json" }), 400, "invalid_sscc");
      const page = await getAnonymous(node, `/01/${GTIN}/10/NO-SUCH-LOT`, { accept: "text/html" });
      expect(page.status, "a browser gets the page, with the status").to.equal(404);
      expect(page.contentType).to.match(/^text\/html/);
    });
  });

  describe("search and recent recalls", function () {
    it("finds a lot by GTIN + lot, by its Digital Link and by batch id", async function () {
      const byKey = await getAnonymous(node, `/api/v1/search?q=${encodeURIComponent(`${GTIN} ${LOT}`)}`);
      expect(byKey.status, byKey.text).to.equal(200);
      expect(byKey.body.results).to.have.length(1);
      const lotId = byKey.body.results[0].id;
      expect(byKey.body.results[0].href).to.equal(`/explorer/batch/${lotId}`);
      const byLink = await getAnonymous(node, `/api/v1/search?q=${encodeURIComponent(`https://id.gs1.org/01/${GTIN}/10/${LOT}`)}`);
      expect(byLink.body.results.map((r: { id: string }) => r.id)).to.deep.equal([lotId]);
      const byId = await getAnonymous(node, `/api/v1/search?q=${lotId}`);
      expect(byId.body.results.map((r: { id: string }) => r.id)).to.deep.equal([lotId]);
    });

    it("finds batches by SSCC and organisations by name", async function () {
      const unit = await getAnonymous(node, `/api/v1/search?q=${SSCC}`);
      expect(unit.body.kind).to.equal("SSCC");
      expect(unit.body.results.length).to.be.greaterThan(0);
      const org = await getAnonymous(node, `/api/v1/search?q=alpenmilch`);
      expect(org.body.results).to.deep.include({ type: "organisation", id: "1", label: "Alpenmilch Hof GmbH", detail: "organisation 1 · active", href: "/explorer/org/1" });
      const wildcard = await getAnonymous(node, `/api/v1/search?q=${encodeURIComponent("%")}`);
      expect(wildcard.body.results.filter((r: { type: string }) => r.type === "organisation"), "% is matched literally").to.have.length(0);
    });

    it("lists recent recalls to the public with a lot's identity and recall status only", async function () {
      const res = await getAnonymous(node, "/api/v1/recalls");
      expect(res.status).to.equal(200);
      const recalled = res.body.items.find((b: { lot: string }) => b.lot === "MILK-2611-B");
      expect(recalled.recall.kind).to.equal("direct");
      expect(recalled.view).to.equal("public");
      expect(recalled).to.not.have.any.keys("ownerOrgId", "custodianOrgId", "quantity");
    });
  });

  describe("records for in-page verification", function () {
    it("gives the public the product's master data record and a member the lineage's records it may read", async function () {
      const ref = encodeURIComponent(`https://id.gs1.org/01/${GTIN}/10/${LOT}`);
      const pub = await getAnonymous(node, `/api/v1/batches/${ref}/records`);
      expect(pub.status, pub.text).to.equal(200);
      expect(pub.body.records.map((r: ProvenRecord) => r.class)).to.deep.equal(["PRODUCT"]);
      const member = await get(node, `/api/v1/batches/${ref}/records`);
      const classes = new Set(member.body.records.map((r: ProvenRecord) => r.class));
      expect([...classes]).to.include.members(["PRODUCT", "PRODUCTION_RUN"]);
      expect(member.body.anchors).to.equal(node.state.deployment!.contracts.anchors);
    });

    it("refuses a member a record its owner did not share: the processor sees no other producer's runs", async function () {
      const processor = demoWallet(DEMO_MEMBERS.find((m) => m.key === "processor2")!.account);
      const token = await tokenFor(node, processor);
      const res = await get(node, `/api/v1/batches/${encodeURIComponent(`https://id.gs1.org/01/${GTIN}/10/${LOT}`)}/records`, bearer(token));
      expect(res.status, res.text).to.equal(200);
      const runOwners = res.body.records.filter((r: ProvenRecord) => r.class === "PRODUCTION_RUN").map((r: ProvenRecord) => r.owner);
      // The dairy shares its runs of the cream it sold the cheese maker (a demo grant); the farm shares nothing with it.
      expect(runOwners.every((owner: string) => owner === "3" || owner === "2"), `runs of ${runOwners.join(", ")} shown to organisation 3`).to.equal(true);
      expect(runOwners).to.not.include("1");
      // The auditor, whom the producers granted their records, sees other organisations' runs of the same lineage.
      const audited = await get(node, `/api/v1/batches/${encodeURIComponent(`https://id.gs1.org/01/${GTIN}/10/${LOT}`)}/records`);
      const auditedOwners = audited.body.records.filter((r: ProvenRecord) => r.class === "PRODUCTION_RUN").map((r: ProvenRecord) => r.owner);
      expect(auditedOwners.some((owner: string) => owner !== "3")).to.equal(true);
    });

    it("answers each reader the records a collection through the API's own history requests finds (its EPCIS timelines read in one call)", async function () {
      const lots = [`https://id.gs1.org/01/${GTIN}/10/${LOT}`, lotIdOf(DEMO_GOODS.butter, "BTR-2611")];
      for (const key of ["auditor", "processor2", "retailer"]) {
        const token = await tokenFor(node, demoWallet(DEMO_MEMBERS.find((m) => m.key === key)!.account));
        const api = {
          url: node.url,
          async get<T>(p: string, extra: Record<string, string> = {}): Promise<T> {
            const res = await get(node, p, { ...bearer(token), ...extra });
            if (res.status >= 300) throw Object.assign(new Error(res.body?.detail ?? res.text), { status: res.status });
            return res.body as T;
          },
        };
        for (const lot of lots) {
          const served = await get(node, `/api/v1/batches/${encodeURIComponent(lot)}/records`, bearer(token));
          expect(served.status, served.text).to.equal(200);
          const throughHistories = await collectLineageRecords(api, served.body.root, { keepFailing: true });
          expect(served.body.records, `${key}, ${lot}`).to.deep.equal(throughHistories.records);
          expect(served.body.gaps, `${key}, ${lot}`).to.deep.equal(throughHistories.gaps);
          if (key === "auditor") expect(served.body.records.filter((r: ProvenRecord) => r.class === "EPCIS").length, "EPCIS records to compare").to.be.greaterThan(0);
        }
      }
    });
  });

  describe("read-only JSON-RPC pass-through", function () {
    it("reads the chain: chain id, head, a block, logs and a contract call", async function () {
      const head = await node.provider.getBlockNumber();
      const res = await rpc(node, [
        { jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] },
        { jsonrpc: "2.0", id: "b", method: "eth_blockNumber", params: [] },
        { jsonrpc: "2.0", id: 3, method: "eth_getBlockByNumber", params: ["0x0", false] },
        { jsonrpc: "2.0", id: 4, method: "eth_getLogs", params: [{ fromBlock: "0x0", toBlock: "0x5", address: node.state.deployment!.contracts.registry }] },
        { jsonrpc: "2.0", id: 5, method: "eth_call", params: [{ to: node.state.deployment!.contracts.forwarder, data: "0x84b0196e" }, "latest"] },
      ]);
      expect(res.status).to.equal(200);
      expect(res.body.map((r: { id: unknown }) => r.id)).to.deep.equal([1, "b", 3, 4, 5]);
      expect(res.body[0].result).to.equal("0x7a69");
      expect(Number(res.body[1].result)).to.be.at.least(head);
      expect((res.body[2].result as { hash: string }).hash).to.equal(node.state.deployment!.genesisHash);
      expect(res.body[3].result).to.be.an("array");
      expect(res.body[4].result).to.match(/^0x[0-9a-f]+$/);
    });

    it("leaves its reads out of the audit log (a POST that changes nothing), while every other POST is audited", async function () {
      const entries = () => (node.db.prepare(`SELECT count(*) AS n FROM audit_log`).get() as { n: number }).n;
      const before = entries();
      expect((await rpc(node, { jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] })).status).to.equal(200);
      expect(entries(), "a page's chain reads write nothing").to.equal(before);
      await post(node, "/api/v1/auth/nonce", { address: auditor.address });
      expect(entries(), "the control: another POST is audited").to.equal(before + 1);
    });

    it("refuses eth_sendRawTransaction and every other method that writes or administers, without reaching the chain", async function () {
      const funded = demoWallet(DEMO_MEMBERS[0].account).connect(node.provider);
      const nonce = await node.provider.getTransactionCount(funded.address);
      const head = await node.provider.getBlockNumber();
      const raw = await funded.signTransaction(
        Transaction.from({ to: funded.address, value: 1n, nonce, gasLimit: 21_000n, maxFeePerGas: 10n ** 10n, maxPriorityFeePerGas: 1n, chainId: 31337n, type: 2 }),
      );
      const methods: [string, unknown[]][] = [
        ["eth_sendRawTransaction", [raw]],
        ["eth_sendTransaction", [{ from: funded.address, to: funded.address, value: "0x1" }]],
        ["eth_sign", [funded.address, "0x00"]],
        ["personal_sign", ["0x00", funded.address]],
        ["eth_getTransactionReceipt", ["0x" + "0".repeat(64)]],
        ["anvil_setBalance", [funded.address, "0x0"]],
        ["anvil_impersonateAccount", [funded.address]],
        ["hardhat_setBalance", [funded.address, "0x0"]],
        ["evm_mine", []],
        ["evm_revert", ["0x1"]],
        ["debug_traceCall", [{ to: funded.address }, "latest"]],
        ["admin_addPeer", ["enode://x"]],
      ];
      const single = await rpc(node, { jsonrpc: "2.0", id: 7, method: "eth_sendRawTransaction", params: [raw] });
      expect(single.status).to.equal(200);
      expect(single.body.error?.code).to.equal(-32601);
      expect(single.body.error?.message).to.include("read-only");
      const batch = await rpc(node, methods.map(([method, params], i) => ({ jsonrpc: "2.0", id: i, method, params })));
      for (const [i, answer] of (batch.body as { error?: { code: number } }[]).entries()) {
        expect(answer.error?.code, methods[i][0]).to.equal(-32601);
        expect(answer).to.not.have.property("result");
      }
      expect(await node.provider.getTransactionCount(funded.address), "the transaction never reached the chain").to.equal(nonce);
      expect(await node.provider.getBlockNumber(), "nothing was mined").to.equal(head);
      expect((await node.provider.getBalance(funded.address)) > 0n).to.equal(true);
    });

    it("refuses a request that is not JSON-RPC 2.0 or a batch over 50 with a problem", async function () {
      expectProblem(await post(node, "/rpc", { method: "eth_chainId" }), 400);
      const many = Array.from({ length: 51 }, (_, i) => ({ jsonrpc: "2.0", id: i, method: "eth_chainId", params: [] }));
      expectProblem(await post(node, "/rpc", many), 400);
    });
  });

  describe("session cookie", function () {
    it("signs in into an HttpOnly, SameSite=Strict cookie that the API reads as the bearer token", async function () {
      const { res, session, csrf, cookie } = await cookieSession(node);
      expect(res.body).to.not.have.property("token");
      expect(res.text).to.not.include(session.split(";")[0].split("=")[1]);
      expect(session).to.match(/; HttpOnly/);
      expect(session).to.match(/SameSite=Strict/);
      expect(csrf).to.not.match(/HttpOnly/);
      const who = await getAnonymous(node, "/api/v1/auth/session", { cookie });
      expect(who.status, who.text).to.equal(200);
      expect(who.body.address).to.equal(auditor.address);
      const trace = await getAnonymous(node, `/api/v1/batches/${encodeURIComponent(`https://id.gs1.org/01/${GTIN}/10/${LOT}`)}/trace`, { cookie });
      expect(trace.status, "members' routes accept the cookie").to.equal(200);
    });

    it("refuses a write authenticated by the session cookie without the CSRF token (a request another site makes the browser send)", async function () {
      const { cookie, csrfToken } = await cookieSession(node);
      // A form post from another site: the browser attaches the cookie, but the site cannot read or send the token.
      const forged = await post(node, "/api/v1/products", { gtin: GTIN, name: "x", unit: "LTR" }, { "content-type": "application/json", cookie });
      expectProblem(forged, 403, "csrf_failed");
      const wrong = await post(node, "/api/v1/products", { gtin: GTIN, name: "x", unit: "LTR" }, { "content-type": "application/json", cookie, "x-lotline-csrf": csrfToken.replace(/.$/, (c) => (c === "A" ? "B" : "A")) });
      expectProblem(wrong, 403, "csrf_failed");
      const signOut = await fetch(`${node.url}/explorer/session`, { method: "DELETE", headers: { cookie } });
      expect(signOut.status, "a cross-site sign-out is refused too").to.equal(403);
      // With the token, the same request passes the CSRF check and meets the route's own rules (an invalid body here).
      const honest = await post(node, "/api/v1/products", { gtin: GTIN }, { "content-type": "application/json", cookie, "x-lotline-csrf": csrfToken });
      expectProblem(honest, 400);
    });

    it("reads an ended session's cookie as the public instead of failing the page", async function () {
      const res = await getAnonymous(node, `/api/v1/batches/${encodeURIComponent(`https://id.gs1.org/01/${GTIN}/10/${LOT}`)}`, { cookie: `lotline_session=${"x".repeat(43)}` });
      expect(res.status).to.equal(200);
      expect(res.body.view).to.equal("public");
    });
  });
});
