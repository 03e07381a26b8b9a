import { execFileSync } from "node:child_process";
import path from "node:path";
import { chromium, type Browser, type CDPSession, type Page, type Response } from "playwright-core";
import { DEMO_GOODS } from "../../services/demo/supply-chain";
import { DEMO_MEMBERS, demoWallet } from "../../services/demo/roster";
import { lotIdOf } from "../../services/epcis/mapping/plan";
import { freePort } from "../../test/helpers/ports";
import { CHROMIUM, CHROMIUM_FLAGS } from "../chromium";
import { spawnNode } from "../reliability/util";
import { signIn } from "./auth";
import { median, round, type Results } from "./results";
import { type Cleanup, fmt, progress, table } from "./util";

/**
 * Explorer page times in Debian's chromium (playwright-core, as the browser test drives it) on the
 * demo: for each page, milliseconds from navigation start to the marks the page sets
 * (services/web/app.js) — `first-render` (the page's own content replaces "Loading…"),
 * `lineage-drawn` (the lineage graph is drawn), `verified` (every anchored record checked
 * against the chain in the page), `settled` (every section loaded). Each run opens a fresh browser
 * context (cold: the libraries are fetched and compiled) and then reloads it (warm: from the HTTP
 * cache). Before the timed runs each page is visited once in a context of its own: the node's first
 * request for a page after it started (its JIT, its first statements, its caches) is reported apart,
 * as "first visit after the node started", not mixed into the median of a browser's cold visits to
 * a running node. Figures only, no thresholds.
 *
 * `url` measures a running node (e.g. `npm start`'s first node); without it a one-node demo is started
 * with `lotline up` in a process of its own, as a user runs it: in the bench's own process its event
 * loop would also carry playwright's side of the browser's protocol.
 */
export interface PagesOptions {
  runs: number;
  url?: string;
}

const MARKS = ["first-render", "lineage-drawn", "verified", "settled"] as const;
type Mark = (typeof MARKS)[number];

interface PageCase {
  name: string;
  path: string;
  signedIn: boolean;
  phone?: boolean;
  /** Marks this page sets (the public view draws no lineage). */
  marks: Mark[];
}

const lotA = lotIdOf(DEMO_GOODS.rawMilk, "MILK-2611-A");
const butter = lotIdOf(DEMO_GOODS.butter, "BTR-2611");
const CASES: PageCase[] = [
  { name: "front page (public)", path: "/", signedIn: false, marks: ["first-render", "settled"] },
  { name: "lot page, raw milk A (auditor)", path: `/explorer/batch/${lotA}`, signedIn: true, marks: ["first-render", "lineage-drawn", "verified", "settled"] },
  { name: "lot page, butter (auditor)", path: `/explorer/batch/${butter}`, signedIn: true, marks: ["first-render", "lineage-drawn", "verified", "settled"] },
  {
    name: "Digital Link, recalled lot B (public, phone)",
    path: `/01/${DEMO_GOODS.recalledLot.gtin}/10/${DEMO_GOODS.recalledLot.lot}`,
    signedIn: false,
    phone: true,
    marks: ["first-render", "verified", "settled"],
  },
  { name: "organisation page, dairy (auditor)", path: "/explorer/org/2", signedIn: true, marks: ["first-render", "settled"] },
];

/**
 * `lotline up` with the one-node demo in a child process; resolves to its URL once it prints "Ready.".
 * `logLevel` debug also sends Server-Timing (the node's own time per request: page-waterfall.ts).
 */
export async function startDemoNode(cleanup: Cleanup, logLevel = "warn"): Promise<string> {
  const port = await freePort();
  const node = await spawnNode(
    {
      LOTLINE_DATA_DIR: cleanup.tempDir("pages"),
      LOTLINE_CHAIN_PORT: String(await freePort()),
      LOTLINE_DEMO_NODES: "1",
      LOTLINE_RATE_LIMIT: "1000000",
      LOTLINE_LOG_LEVEL: logLevel,
    },
    port,
  );
  // Stopped with SIGTERM: the node stops its embedded chain before it exits.
  cleanup.add("stop the pages node", () => node.stop());
  await node.ready(600_000);
  return node.url;
}

/**
 * The times of the performance marks `names` (ms from navigation start) once the page has set them
 * all. One DevTools-protocol call that waits in the page (a PerformanceObserver), not a poll: polling
 * (Runtime.evaluate every 20 ms) made the page's renderer, the browser process and this process do a
 * round trip 50 times a second on the two cores the page loads on. Nor playwright's
 * `waitForFunction`/`evaluate`: those first inject playwright's own script (about 330 kB) into the
 * page, compiled on the page's main thread in the middle of its load (a 150–250 ms task in a
 * Chromium trace at load 3, which held up the page's first render) — a cost no reader's browser has.
 */
export async function waitForMarks(cdp: CDPSession, names: string[], timeoutMs = 60_000): Promise<number[]> {
  const expression = `new Promise((resolve) => {
    const names = ${JSON.stringify(names)};
    const times = () => {
      const t = names.map((n) => performance.getEntriesByName(n, "mark")[0]?.startTime ?? null);
      return t.every((x) => x !== null) ? t : null;
    };
    if (times()) return resolve(times());
    new PerformanceObserver((_, observer) => {
      if (times()) observer.disconnect(), resolve(times());
    }).observe({ type: "mark" });
  })`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`the page did not set ${names.join(", ")} within ${timeoutMs / 1000} s`)), Math.max(0, deadline - Date.now()))));
    try {
      const { result, exceptionDetails } = await Promise.race([cdp.send("Runtime.evaluate", { expression, awaitPromise: true, returnByValue: true }), timeout]);
      if (exceptionDetails) throw new Error(exceptionDetails.exception?.description ?? exceptionDetails.text);
      return result.value as number[];
    } catch (err) {
      // Asked of the document the navigation was replacing: ask the new one.
      if (/context was destroyed|Cannot find context|navigated/i.test(String(err)) && Date.now() < deadline) continue;
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** What a page that did not settle shows: its marks, whether it is visible, its sections' headings and errors. */
async function pageState(cdp: CDPSession): Promise<string> {
  const expression = `JSON.stringify({
    url: location.pathname,
    visibility: document.visibilityState,
    marks: performance.getEntriesByType("mark").map((m) => m.name),
    sections: [...document.querySelectorAll("main h2")].map((h) => h.textContent),
    errors: [...document.querySelectorAll("main .error")].map((e) => e.textContent.slice(0, 200)),
    pending: [...document.querySelectorAll("main .muted")].map((e) => e.textContent.slice(0, 80)).filter((t) => /…/.test(t)),
  })`;
  try {
    const { result } = await cdp.send("Runtime.evaluate", { expression, returnByValue: true, timeout: 5_000 });
    return String(result.value);
  } catch (err) {
    return `not readable (${(err as Error).message})`;
  }
}

/** Loads the page with `load` and returns the times of the marks `c` sets. */
async function measure(page: Page, c: PageCase, load: () => Promise<unknown>): Promise<Record<Mark, number | null>> {
  const cdp = await page.context().newCDPSession(page);
  // A request the node refused for its rate limit makes a page that measures nothing (a blank page,
  // or a section with an error): said at once, with what to do.
  let limited: string | null = null;
  const onResponse = (response: Response) => {
    if (response.status() === 429) limited ??= new URL(response.url()).pathname;
  };
  page.on("response", onResponse);
  try {
    const rateLimited = () =>
      new Error(
        `${c.name}: the node refused ${limited} for its rate limit (429); a lot page and its reload spend about 60 of a client's ` +
          "requests per minute in a second: start the node that --pages-url measures with LOTLINE_RATE_LIMIT=1000000",
      );
    await load();
    const times = await waitForMarks(cdp, c.marks.map((m) => `lotline:${m}`)).catch(async (err: Error) => {
      throw limited ? rateLimited() : new Error(`${c.name}: ${err.message}; the page: ${await pageState(cdp)}`);
    });
    if (limited) throw rateLimited();
    const out = Object.fromEntries(MARKS.map((m) => [m, null])) as Record<Mark, number | null>;
    c.marks.forEach((m, i) => (out[m] = times[i]));
    return out;
  } finally {
    page.off("response", onResponse);
    await cdp.detach().catch(() => undefined);
  }
}

export async function pagesStage(options: PagesOptions, cleanup: Cleanup, results: Results, out: string[]): Promise<void> {
  execFileSync("bash", [path.join(__dirname, "..", "ensure-chromium.sh")], { stdio: ["ignore", "ignore", "inherit"] });
  let url = options.url;
  if (!url) {
    progress("pages: starting a demo node (lotline up)");
    url = await startDemoNode(cleanup);
  }
  const auditor = DEMO_MEMBERS.find((m) => m.key === "auditor")!;
  const token = await signIn(url, demoWallet(auditor.account));
  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS, headless: true });
  cleanup.add("close chromium", () => browser.close());
  // The node bundles the in-page verifier on first use: one visit first, so no run measures esbuild.
  await fetch(`${url}/explorer/verifier.js`).then((r) => r.arrayBuffer());

  const figures: Record<string, Record<"first" | "cold" | "warm", Record<Mark, number[]>>> = {};
  for (const c of CASES) {
    const series = () => Object.fromEntries(MARKS.map((m) => [m, [] as number[]])) as Record<Mark, number[]>;
    const f = (figures[c.name] = { first: series(), cold: series(), warm: series() });
    const add = (into: Record<Mark, number[]>, marks: Record<Mark, number | null>) => MARKS.forEach((m) => marks[m] !== null && into[m].push(marks[m]!));
    for (let run = -1; run < options.runs; run++) {
      progress(`pages: ${c.name}, ${run < 0 ? "first visit after the node started" : `run ${run + 1} of ${options.runs}`}`);
      const context = await browser.newContext({ viewport: c.phone ? { width: 390, height: 844 } : { width: 1280, height: 900 } });
      try {
        if (c.signedIn) await context.addCookies([{ name: "lotline_session", value: token, url, httpOnly: true, sameSite: "Strict" }]);
        const page = await context.newPage();
        const cold = await measure(page, c, () => page.goto(url + c.path, { waitUntil: "commit" }));
        if (run < 0) {
          add(f.first, cold);
          continue;
        }
        add(f.cold, cold);
        add(f.warm, await measure(page, c, () => page.reload({ waitUntil: "commit" })));
      } finally {
        await context.close();
      }
    }
  }

  const cell = (values: number[]) => (values.length ? fmt(median(values), 0) : "-");
  // The slowest visit too: "no page needs more than a second" is about every visit, not the median.
  const slowest = (values: number[]) => (values.length ? fmt(Math.max(...values), 0) : "-");
  const rows = CASES.flatMap((c) => [
    [`${c.name}, cold`, ...MARKS.map((m) => cell(figures[c.name].cold[m])), slowest(figures[c.name].cold.settled)],
    [`${c.name}, warm`, ...MARKS.map((m) => cell(figures[c.name].warm[m])), slowest(figures[c.name].warm.settled)],
    [`${c.name}, first after start`, ...MARKS.map((m) => cell(figures[c.name].first[m])), "-"],
  ]);
  results.set("pages", {
    runs: options.runs,
    unit: "ms from navigation start, median (settledMax: the slowest visit)",
    pages: Object.fromEntries(
      CASES.map((c) => [
        c.name,
        Object.fromEntries(
          (["cold", "warm", "first"] as const).map((k) => [
            k,
            { ...Object.fromEntries(c.marks.map((m) => [m, round(median(figures[c.name][k][m]), 0)])), settledMax: round(Math.max(...figures[c.name][k].settled), 0) },
          ]),
        ),
      ]),
    ),
  });
  out.push(
    table(
      `Explorer pages in chromium on the demo (ms from navigation start, median of ${options.runs} run(s))`,
      ["page", ...MARKS, "slowest settled"],
      rows,
      [
        "cold: a fresh browser context (libraries fetched and compiled); warm: the same page reloaded (HTTP cache);",
        "first after start: one cold visit before the timed runs, the node's first request for the page since it started.",
      ],
    ),
  );
}
