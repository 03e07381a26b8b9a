/**
 * The waterfall of explorer pages in chromium (a diagnostic beside the pages bench, not a stage of
 * it): for each page's cold visits (a fresh browser context each), every request the page made with
 * its start, time to first byte and end (ms from navigation start), the node's own time for it when
 * the node sends `Server-Timing` (at LOTLINE_LOG_LEVEL=debug), and the page's marks.
 *
 *   npx tsx scripts/bench/page-waterfall.ts [--url http://…] [--visits 2] [--pages lotA,butter,public,org,front]
 *
 * Without --url it starts a one-node demo with `lotline up` as the pages bench does (at log level debug, so with
 * Server-Timing), so its first visit to each page is the node's first request for that page since it started.
 */
import { parseArgs } from "node:util";
import { chromium, type Page } from "playwright-core";
import { DEMO_GOODS } from "../../services/demo/supply-chain";
import { DEMO_MEMBERS, demoWallet } from "../../services/demo/roster";
import { lotIdOf } from "../../services/epcis/mapping/plan";
import { CHROMIUM, CHROMIUM_FLAGS } from "../chromium";
import { signIn } from "./auth";
import { startDemoNode, waitForMarks } from "./pages";
import { Cleanup } from "./util";

const PAGES: Record<string, { path: string; signedIn: boolean; phone?: boolean }> = {
  front: { path: "/", signedIn: false },
  lotA: { path: `/explorer/batch/${lotIdOf(DEMO_GOODS.rawMilk, "MILK-2611-A")}`, signedIn: true },
  butter: { path: `/explorer/batch/${lotIdOf(DEMO_GOODS.butter, "BTR-2611")}`, signedIn: true },
  public: { path: `/01/${DEMO_GOODS.recalledLot.gtin}/10/${DEMO_GOODS.recalledLot.lot}`, signedIn: false, phone: true },
  org: { path: "/explorer/org/2", signedIn: true },
};

async function waterfall(page: Page): Promise<string[]> {
  // Over the DevTools protocol, not playwright's waitForFunction: that injects playwright's own
  // script into the page in the middle of its load (see pages.ts, waitForMarks).
  const cdp = await page.context().newCDPSession(page);
  await waitForMarks(cdp, ["lotline:settled"]);
  // Late requests (a chart's script) are listed too.
  await new Promise((resolve) => setTimeout(resolve, 300));
  const rows = (await cdp.send("Runtime.evaluate", { expression: WATERFALL_SCRIPT, returnByValue: true })).result.value as string[];
  await cdp.detach();
  return rows;
}

const WATERFALL_SCRIPT = `(() => {
  const r = (x) => String(Math.round(x)).padStart(5);
  const nav = performance.getEntriesByType("navigation")[0];
  const rows = [];
  const line = (e, name) => {
    const server = (e.serverTiming ?? []).map((s) => s.name + "=" + Math.round(s.duration)).join(" ");
    rows.push([e.startTime, r(e.startTime) + " " + r(e.requestStart || e.fetchStart) + " " + r(e.responseStart) + " " + r(e.responseEnd) + " " + String(Math.round(e.encodedBodySize / 1024)).padStart(4) + "k " + server.padEnd(10) + " " + name]);
  };
  line(nav, "(html) " + location.pathname.slice(0, 40));
  for (const e of performance.getEntriesByType("resource")) {
    const u = new URL(e.name);
    line(e, e.initiatorType.padEnd(6) + " " + (u.pathname + u.search).replace(/\\?v=[0-9a-f]+/, "").slice(0, 90));
  }
  for (const m of performance.getEntriesByType("mark")) rows.push([m.startTime, r(m.startTime) + "                                 MARK " + m.name]);
  rows.sort((a, b) => a[0] - b[0]);
  return ["start   req  ttfb   end  size server     what", ...rows.map((x) => x[1])];
})()`;

async function main() {
  const { values } = parseArgs({ options: { url: { type: "string" }, visits: { type: "string", default: "2" }, pages: { type: "string", default: "front,lotA,butter,public,org" } } });
  const cleanup = new Cleanup();
  process.on("SIGINT", () => void cleanup.runAll().then(() => process.exit(130)));
  try {
    let url = values.url;
    // Request logs at debug also send Server-Timing (the node's own time per request).
    if (!url) url = await startDemoNode(cleanup, "debug");
    const token = await signIn(url, demoWallet(DEMO_MEMBERS.find((m) => m.key === "auditor")!.account));
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS });
    cleanup.add("close chromium", () => browser.close());
    await fetch(`${url}/explorer/verifier.js`).then((r) => r.arrayBuffer());
    for (const name of values.pages!.split(",")) {
      const c = PAGES[name];
      for (let visit = 0; visit < Number(values.visits); visit++) {
        const context = await browser.newContext({ viewport: c.phone ? { width: 390, height: 844 } : { width: 1280, height: 900 } });
        if (c.signedIn) await context.addCookies([{ name: "lotline_session", value: token, url, httpOnly: true, sameSite: "Strict" }]);
        const page = await context.newPage();
        await page.goto(url + c.path, { waitUntil: "commit" });
        console.log(`\n== ${name}, cold visit ${visit + 1}${visit === 0 && !values.url ? " (first after start)" : ""}`);
        console.log((await waterfall(page)).join("\n"));
        await context.close();
      }
    }
  } finally {
    await cleanup.runAll();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
