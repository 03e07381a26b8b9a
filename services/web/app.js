// The Lotline explorer: one ES module, no build step. It reads everything through this node's API
// (so the visibility rules apply to the page as to any client), draws the lineage in SVG
// (lineage.js, d3 for pan and zoom) and its charts in SVG (charts.js), and checks
// anchored records itself (verify.js) against the chain through a JSON-RPC URL the reader chooses.
//
// The libraries load when a page needs them (ethers to sign, the lineage module and d3 for the
// graph, the charts module for charts): the page's own content shows before they are fetched and compiled.

const lazy = (load) => {
  let loaded = null;
  return () => (loaded ??= load());
};

/** After the next frame: the section holding a chart or graph is in the page by then. */
const nextFrame = () => new Promise((resolve) => requestAnimationFrame(() => resolve()));
/** A library, once the element it draws in is laid out. */
const whenDrawable = (load) => Promise.all([load(), nextFrame()]).then(([lib]) => lib);
const loadEthers = lazy(() => import("ethers"));
// The lineage graph (lineage.js; it loads d3 for pan and zoom after the page has settled).
const loadLineage = lazy(() => import("/explorer/assets/lineage.js"));
// verify.js bundled by the node with the record checks and the parts of ethers it needs (one module).
const loadVerifier = lazy(() => import("/explorer/verifier.js"));
// Line charts in SVG (charts.js).
const loadCharts = lazy(() => import("/explorer/assets/charts.js"));

const main = document.getElementById("main");
const account = document.getElementById("account");

// ---------------------------------------------------------------- small helpers

/** An element: el("p", { class: "x" }, "text", child…). Text is always set as text, never as HTML. */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}
/** Replaces a node's children, skipping empty ones (null, false, undefined) at any depth. */
function fill(node, ...children) {
  node.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false).map((c) => (c instanceof Node ? c : document.createTextNode(String(c)))));
}
const short = (hex) => (typeof hex === "string" && hex.length > 14 ? `${hex.slice(0, 8)}…${hex.slice(-4)}` : String(hex ?? ""));
// Dates and numbers are formatted by hand, not with Intl: a fresh renderer loads ICU's locale data on
// its first Intl formatter (or localeCompare), 40–75 ms of a lot page's main thread on this machine
// (docs/explorer.md, "Twelfth session"). Dates read YYYY-MM-DD hh:mm:ss in the reader's time zone
// (unambiguous in every locale); numbers have a decimal point and comma-grouped thousands.
const pad2 = (n) => String(n).padStart(2, "0");
function when(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}
/** `v` rounded to at most `digits` decimals, without trailing zeros, its thousands grouped: num(1234.5) is "1,234.5". */
function num(v, digits = 2) {
  if (v === null || v === undefined) return "—";
  const n = Number(v);
  if (!Number.isFinite(n)) return String(v);
  let [whole, fraction = ""] = Math.abs(n).toFixed(digits).split(".");
  fraction = fraction.replace(/0+$/, "");
  whole = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const negative = n < 0 && (Number(whole.replace(/,/g, "")) > 0 || fraction !== "");
  return `${negative ? "-" : ""}${whole}${fraction ? `.${fraction}` : ""}`;
}
const pct = (v) => (v === null || v === undefined ? "—" : `${(Number(v) * 100).toFixed(1)} %`);
const cookie = (name) => document.cookie.split("; ").find((c) => c.startsWith(`${name}=`))?.slice(name.length + 1) ?? null;

class ApiError extends Error {
  constructor(status, body) {
    super(body?.detail ?? `HTTP ${status}`);
    this.status = status;
    this.code = body?.code;
  }
}

/**
 * Answers the node put in the page's HTML (routes/explorer.ts pageAnswers: each as its route answers
 * this reader), by URL: the first GET of one of these URLs takes it instead of asking the node.
 */
const embedded = (() => {
  try {
    return new Map(Object.entries(JSON.parse(document.getElementById("lotline-answers")?.textContent || "{}")));
  } catch {
    return new Map();
  }
})();

/** A request to this node; writes carry the CSRF token the session cookie requires. */
async function api(path, { method = "GET", body, accept = "application/json", priority = "auto" } = {}) {
  const answer = method === "GET" && accept === "application/json" ? embedded.get(path) : undefined;
  if (answer) {
    embedded.delete(path);
    if (answer.status >= 400) throw new ApiError(answer.status, answer.body);
    return answer.body;
  }
  const headers = { accept };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (method !== "GET") {
    const csrf = cookie("lotline_csrf");
    if (csrf) headers["x-lotline-csrf"] = decodeURIComponent(csrf);
  }
  const res = await fetch(path, { method, headers, priority, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  const data = text ? JSON.parse(text) : null;
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

/** Requests a page starts before it knows it needs them (route()), each taken once by the page. */
const prefetched = new Map();
function prefetch(path) {
  const answer = api(path);
  answer.catch(() => undefined); // a refusal is reported by the page that takes it
  prefetched.set(path, answer);
}
function apiEarly(path) {
  const answer = prefetched.get(path);
  prefetched.delete(path);
  return answer ?? api(path);
}

/**
 * Resolved once a lot page's verification has its answers from the chain, or SECTIONS_WAIT_MS
 * after its records were served (at once on other pages; also when it cannot verify): the sections
 * below the verdict ask the node only then, so the records and the chain reads through the node's
 * pass-through are not queued behind half a dozen other answers on the node's one thread.
 */
let verdictAsked = Promise.resolve();
/** How long the sections below the verdict wait for the chain's answers at most, from the records' arrival. */
const SECTIONS_WAIT_MS = 300;
let openSections = () => undefined;
/**
 * A GET for a section below the verdict (custody, footprint, KPIs, scores, orders): asked once the
 * verification has the chain's answers (see verdictAsked), at low priority (the browser has six connections to this node).
 */
const later = (path) => verdictAsked.then(() => api(path, { priority: "low" }));

const shared = new Map();
/** A GET that several sections of one page need, asked once (at low priority, as `later`). */
function apiShared(path) {
  if (!shared.has(path)) shared.set(path, later(path));
  return shared.get(path);
}

const orgs = new Map();
/** The consortium's organisations, in every page's HTML (routes/explorer.ts ORG_DIRECTORY). */
const ORG_DIRECTORY = "/api/v1/orgs?limit=50";
// Read, not taken (the front page lists them too): no request for a name among them.
for (const org of embedded.get(ORG_DIRECTORY)?.body?.items ?? []) orgs.set(String(org.orgId), Promise.resolve(org));
let orgsWanted = null;
/**
 * An organisation as the API lists it (name, node URL; null when it cannot be read), asked once per
 * page: the ids the page's code asks for in one turn go in one request (`/api/v1/orgs?ids=`).
 */
function orgInfo(id) {
  const key = String(id);
  if (!orgs.has(key)) {
    if (!/^[0-9]{1,19}$/.test(key)) return Promise.resolve(null);
    if (!orgsWanted) {
      const wanted = (orgsWanted = new Map());
      setTimeout(() => {
        orgsWanted = null;
        const keys = [...wanted.keys()];
        for (let i = 0; i < keys.length; i += 100) {
          const chunk = keys.slice(i, i + 100);
          api(`/api/v1/orgs?ids=${chunk.join(",")}&limit=100`).then(
            ({ items }) => {
              const byId = new Map(items.map((org) => [org.orgId, org]));
              for (const k of chunk) wanted.get(k)(byId.get(k) ?? null);
            },
            () => chunk.forEach((k) => wanted.get(k)(null)),
          );
        }
      }, 0);
    }
    orgs.set(key, new Promise((resolve) => orgsWanted.set(key, resolve)));
  }
  return orgs.get(key);
}
async function orgName(id) {
  if (id === null || id === undefined) return "—";
  return (await orgInfo(id))?.name ?? `organisation ${id}`;
}
function orgLink(id) {
  if (id === null || id === undefined) return el("span", {}, "—");
  const link = el("a", { href: `/explorer/org/${id}` }, `organisation ${id}`);
  orgName(id).then((name) => (link.textContent = name));
  return link;
}

// ---------------------------------------------------------------- timing (read by scripts/bench/pages.ts)

/**
 * Performance marks: `lotline:first-render` when a page's first content replaces "Loading…",
 * `lotline:lineage-drawn` when the lineage graph is drawn, `lotline:verified` when every anchored
 * record shown is checked against the chain, `lotline:settled` when every section has loaded. Each
 * is set once per page load.
 */
let pendingSections = 0;
let rendered = false;
function mark(name) {
  if (performance.getEntriesByName(name, "mark").length === 0) performance.mark(name);
}
const whenSettled = [];
function settle() {
  mark("lotline:settled");
  for (const run of whenSettled.splice(0)) run();
}
/** Runs `work` once the page has settled (at once if it has): what the reader does not need to read the page. */
function afterSettled(work) {
  if (performance.getEntriesByName("lotline:settled", "mark").length > 0) setTimeout(work);
  else whenSettled.push(work);
}
function firstRender() {
  rendered = true;
  mark("lotline:first-render");
  if (pendingSections === 0) settle();
}
function sectionDone() {
  pendingSections--;
  if (rendered && pendingSections === 0) settle();
}

/** A titled section whose body loads on its own; a refusal says who may see it. */
function section(title, load, attrs = {}) {
  const body = el("div", { class: "section-body" }, el("p", { class: "muted" }, "Loading…"));
  const node = el("section", { class: "card", ...attrs }, el("h2", {}, title), body);
  pendingSections++;
  Promise.resolve()
    .then(load)
    .then((content) => fill(body, ...[content].flat().filter(Boolean)))
    .catch((err) => fill(body, refusal(err)))
    .finally(sectionDone);
  return node;
}
function refusal(err) {
  if (err instanceof ApiError && err.status === 401) return el("p", { class: "muted" }, "Shown to consortium members: sign in with your wallet to see it.");
  if (err instanceof ApiError && err.status === 403) return el("p", { class: "muted" }, `Not shared with your organisation: ${err.message}`);
  return el("p", { class: "error" }, err.message ?? String(err));
}
function table(headers, rows) {
  if (rows.length === 0) return el("p", { class: "muted" }, "None.");
  return el(
    "div",
    { class: "table-wrap" },
    el("table", {}, el("thead", {}, el("tr", {}, headers.map((h) => el("th", { scope: "col" }, h)))), el("tbody", {}, rows.map((r) => el("tr", {}, r.map((c) => el("td", {}, c)))))),
  );
}
function kv(pairs) {
  return el("dl", { class: "kv" }, pairs.filter(([, v]) => v !== undefined).map(([k, v]) => [el("dt", {}, k), el("dd", {}, v ?? "—")]));
}

/**
 * A chart's place in a section (an <svg role="img"> in a sized box, there at once for tests and
 * screen readers), drawn by charts.js once the section is laid out: `draw(data)` with a function
 * returning { labels, series } (see charts.js lineChart).
 */
function chartFrame(attrs) {
  const target = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  target.setAttribute("role", "img");
  for (const [key, value] of Object.entries(attrs)) target.setAttribute(key, value);
  const frame = el("div", { class: "chart" }, target);
  return {
    frame,
    draw: (data) =>
      whenDrawable(loadCharts)
        .then(({ lineChart }) => lineChart(target, data()))
        .catch((err) => fill(frame, el("p", { class: "error" }, `The chart could not be drawn: ${err.message}`))),
  };
}

// ---------------------------------------------------------------- session (SIWE with an EIP-1193 wallet)

let session = null;

async function loadSession() {
  try {
    session = await api("/api/v1/auth/session");
  } catch {
    session = null;
  }
  renderAccount();
}

function renderAccount() {
  if (session) {
    fill(account, 
      el("span", { class: "who", "data-testid": "signed-in" }, `${short(session.address)} · `, orgLink(session.orgId)),
      el("button", { type: "button", class: "link", onclick: signOut }, "Sign out"),
    );
  } else {
    fill(account, el("button", { type: "button", id: "sign-in", onclick: signIn }, window.ethereum ? "Sign in with wallet" : "Sign in (needs a wallet)"));
  }
}

/** The EIP-4361 message text (as the siwe library formats it). */
function siweMessage({ domain, address, uri, chainId, nonce }) {
  const now = new Date();
  return [
    `${domain} wants you to sign in with your Ethereum account:`,
    address,
    "",
    "Sign in to the Lotline explorer",
    "",
    `URI: ${uri}`,
    "Version: 1",
    `Chain ID: ${chainId}`,
    `Nonce: ${nonce}`,
    `Issued At: ${now.toISOString()}`,
    `Expiration Time: ${new Date(now.getTime() + 5 * 60_000).toISOString()}`,
  ].join("\n");
}

async function signIn() {
  try {
    if (!window.ethereum) throw new Error("no wallet in this browser (an EIP-1193 provider such as MetaMask)");
    const ethers = await loadEthers();
    const [raw] = await window.ethereum.request({ method: "eth_requestAccounts" });
    const address = ethers.getAddress(raw);
    const n = await api("/api/v1/auth/nonce", { method: "POST", body: { address } });
    const message = siweMessage({ ...n, address });
    const signature = await window.ethereum.request({ method: "personal_sign", params: [ethers.hexlify(ethers.toUtf8Bytes(message)), address] });
    await api("/explorer/session", { method: "POST", body: { message, signature } });
    location.reload();
  } catch (err) {
    notify(`Sign-in failed: ${err.message ?? err}`, true);
  }
}

async function signOut() {
  await api("/explorer/session", { method: "DELETE" }).catch(() => undefined);
  location.reload();
}

function notify(text, error = false) {
  const box = el("div", { class: error ? "toast error" : "toast", role: "status" }, text);
  document.body.append(box);
  setTimeout(() => box.remove(), 8000);
}

// ---------------------------------------------------------------- actions: signed in the wallet, sent through the relayer

let abiCache = null;
const abi = () => (abiCache ??= api("/explorer/abi.json", { priority: "high" }));

/** Signs `contract.fn(args)` as an ERC-2771 forward request in the wallet and submits it to the relayer; waits until indexed. */
async function relay(contract, fn, args) {
  if (!session || !window.ethereum) throw new Error("sign in with your wallet first");
  const [deployment, fragments, ethers] = await Promise.all([api("/api/v1/deployment"), abi(), loadEthers()]);
  const iface = new ethers.Interface(fragments[contract]);
  const to = deployment.contracts[contract];
  const data = iface.encodeFunctionData(fn, args);
  const { nonce } = await api(`/api/v1/relay/nonces/${session.address}`);
  const deadline = Math.floor(Date.now() / 1000) + 600;
  const message = { from: session.address, to, value: "0", gas: "1000000", nonce, deadline, data };
  const typed = {
    domain: deployment.eip712.forwarder,
    types: {
      EIP712Domain: [
        { name: "name", type: "string" },
        { name: "version", type: "string" },
        { name: "chainId", type: "uint256" },
        { name: "verifyingContract", type: "address" },
      ],
      ForwardRequest: [
        { name: "from", type: "address" },
        { name: "to", type: "address" },
        { name: "value", type: "uint256" },
        { name: "gas", type: "uint256" },
        { name: "nonce", type: "uint256" },
        { name: "deadline", type: "uint48" },
        { name: "data", type: "bytes" },
      ],
    },
    primaryType: "ForwardRequest",
    message,
  };
  const signature = await window.ethereum.request({ method: "eth_signTypedData_v4", params: [session.address, JSON.stringify(typed)] });
  const sent = await api("/api/v1/relay", { method: "POST", body: { from: session.address, to, value: "0", gas: "1000000", deadline, data, signature } });
  for (let i = 0; i < 100; i++) {
    const tx = await api(`/api/v1/transactions/${sent.transactionHash}`);
    if (tx.status === "failed") throw new Error(`transaction ${sent.transactionHash} failed on-chain`);
    if (tx.indexed) return sent;
    await new Promise((r) => setTimeout(r, 300));
  }
  return sent;
}

/** A small form that runs an action and reloads the page when it is on-chain and indexed. */
function actionForm(label, fields, run, attrs = {}) {
  const status = el("span", { class: "muted", role: "status" });
  const inputs = fields.map((f) => el("input", { name: f.name, placeholder: f.placeholder, "aria-label": f.label, value: f.value, required: f.required !== false, type: f.type ?? "text" }));
  const form = el(
    "form",
    {
      class: "action",
      ...attrs,
      onsubmit: async (event) => {
        event.preventDefault();
        const values = Object.fromEntries(inputs.map((i) => [i.name, i.value.trim()]));
        status.textContent = "Sign in your wallet…";
        try {
          const sent = await run(values);
          status.textContent = `Done: ${short(sent.transactionHash)}`;
          setTimeout(() => location.reload(), 300);
        } catch (err) {
          status.textContent = "";
          notify(`${label} failed: ${err.message ?? err}`, true);
        }
      },
    },
    inputs,
    el("button", { type: "submit" }, label),
    status,
  );
  return form;
}

// ---------------------------------------------------------------- pages

async function home() {
  document.title = "Lotline explorer";
  fill(main, 
    el(
      "section",
      { class: "hero" },
      el("h1", {}, "Trace a product"),
      el("p", {}, "Search by batch id, GTIN and lot, a scanned GS1 Digital Link, an SSCC or an organisation. Every anchored record on a lot's page is checked in your browser against the chain."),
    ),
    section("Recent recalls", async () => {
      const { items } = await api("/api/v1/recalls?limit=10");
      if (items.length === 0) return el("p", { class: "muted" }, "No recalls.");
      return el(
        "ul",
        { class: "recalls", "data-testid": "recent-recalls" },
        items.map((b) => el("li", {}, el("a", { href: `/explorer/batch/${b.id}` }, `GTIN ${b.gtin} · lot ${b.lot}`), " ", el("span", { class: "badge red" }, "recalled"), ` ${b.recall?.reason ?? ""} · ${when(b.recall?.at)}`)),
      );
    }),
    section("Organisations", async () => {
      const { items } = await api(ORG_DIRECTORY);
      return el("ul", { class: "orgs" }, items.map((o) => el("li", {}, el("a", { href: `/explorer/org/${o.orgId ?? o.id}` }, o.name), ` · ${o.status ?? ""}`)));
    }),
  );
}

async function searchPage(q) {
  document.title = `Search: ${q} · Lotline`;
  document.getElementById("q").value = q;
  fill(main, 
    section(`Results for “${q}”`, async () => {
      const result = await api(`/api/v1/search?q=${encodeURIComponent(q)}`);
      if (result.results.length === 1) {
        location.replace(result.results[0].href);
        return el("p", {}, "Opening…");
      }
      if (result.results.length === 0) return el("p", { class: "muted" }, `Nothing found (searched as ${result.kind}).`);
      return el(
        "ul",
        { class: "results", "data-testid": "search-results" },
        result.results.map((r) => el("li", {}, el("a", { href: r.href }, r.label), el("span", { class: "muted" }, ` · ${r.detail}`))),
      );
    }),
  );
}

/** A GS1 Digital Link path opened in the browser: resolve it, then show the lot (or the list). */
async function digitalLinkPage() {
  try {
    const resolved = await apiEarly(location.pathname);
    if (resolved.batches.length === 0) throw new Error("no batches");
    const first = resolved.lot ? resolved.batches.find((b) => b.id === b.lotId) ?? resolved.batches[0] : null;
    if (first || resolved.batches.length === 1) return batchPage((first ?? resolved.batches[0]).id, resolved);
    fill(main, 
      section(resolved.sscc ? `Logistic unit ${resolved.sscc}` : `Product ${resolved.gtin}`, async () =>
        el("ul", { class: "results" }, resolved.batches.map((b) => el("li", {}, el("a", { href: `/explorer/batch/${b.id}` }, `GTIN ${b.gtin} · lot ${b.lot}`), ` · ${b.status}`))),
      ),
    );
  } catch (err) {
    fill(main, el("section", { class: "card" }, el("h1", {}, "Not found"), refusal(err)));
  }
}

async function batchPage(ref) {
  let batch;
  try {
    batch = await apiEarly(`/api/v1/batches/${encodeURIComponent(ref)}`);
  } catch (err) {
    fill(main, el("section", { class: "card" }, el("h1", {}, "Batch not found"), refusal(err)));
    return;
  }
  const id = batch.id;
  const product = api(`/api/v1/products/${batch.gtin}`).catch(() => null);
  const trace = batch.view === "public" ? null : api(`/api/v1/batches/${batch.id}/trace?direction=both&maxDepth=50`);
  // The records route is the node's heaviest answer (every record of the lineage, with proofs):
  // asked as soon as the batch is known (not before: the page's first answers are not queued
  // behind it), so it is collected meanwhile the graph is drawn.
  const records = api(`/api/v1/batches/${id}/records`, { priority: "high" });
  // Checked as soon as they are served (and the verifier is loaded), not once their section is on the page.
  const firstCheck = startVerification(records, rpcUrl());
  verdictAsked = new Promise((resolve) => (openSections = resolve));
  // The sections below the verdict ask the node once the chain has answered (through the node's
  // pass-through, the chain reads would otherwise queue behind them on its one thread), or after a
  // short wait for a chain that is slow to answer, or at once when there is nothing to check.
  records.then(
    () => Promise.race([firstCheck.verdict.catch(() => undefined), new Promise((resolve) => setTimeout(resolve, SECTIONS_WAIT_MS))]).then(() => openSections()),
    () => openSections(),
  );
  const title = el("h1", {}, `GTIN ${batch.gtin} · lot ${batch.lot}`);
  product.then((p) => {
    if (p?.masterData?.name) {
      title.textContent = `${p.masterData.name} · lot ${batch.lot}`;
      document.title = `${p.masterData.name} lot ${batch.lot} · Lotline`;
    }
  });
  document.title = `Lot ${batch.lot} · Lotline`;

  const banner = batch.recall
    ? el(
        "div",
        { class: "recall-banner", role: "alert", "data-testid": "recall-banner" },
        el("strong", {}, batch.recall.kind === "direct" ? "RECALLED" : "RECALLED (through its lineage)"),
        ` ${batch.recall.reason ?? ""} · since ${when(batch.recall.at)}`,
        batch.recall.sourceBatchId ? [" · source ", el("a", { href: `/explorer/batch/${batch.recall.sourceBatchId}` }, short(batch.recall.sourceBatchId))] : null,
        batch.recall.byOrgId ? [" · by ", orgLink(batch.recall.byOrgId)] : null,
      )
    : null;

  // The libraries the page's sections use (the page's HTML names them as modulepreload hints, so
  // they are fetched and compiled already): the graph's first (the verifier is asked for above).
  if (batch.view !== "public") loadLineage();

  fill(main, 
    el(
      "section",
      { class: "card head" },
      title,
      banner,
      kv([
        ["Batch", el("code", {}, id)],
        ["Digital Link", el("a", { href: new URL(batch.digitalLink).pathname }, batch.digitalLink)],
        ["Status", el("span", { class: `badge ${batch.recall ? "red" : ""}`, "data-testid": "batch-status" }, batch.status)],
        ["Producer", orgLink(batch.producerOrgId)],
        ["Quantity", batch.quantity === undefined ? undefined : `${batch.quantity} ${batch.unit}`],
        ["Owner", batch.ownerOrgId === undefined ? undefined : orgLink(batch.ownerOrgId)],
        ["Custodian", batch.custodianOrgId === undefined ? undefined : orgLink(batch.custodianOrgId)],
        ["Location (GLN)", batch.location === undefined ? undefined : batch.location ?? "—"],
        ["Registered", when(batch.createdAt)],
      ]),
      batch.view === "public" ? el("p", { class: "muted" }, "Public view: the lot's identity, recall status and verification. Sign in to see its lineage, custody and records your organisation may read.") : null,
    ),
    session ? actionsCard(batch) : null,
    batch.recall && batch.view !== "public" ? section("Recall impact", () => recallImpact(id)) : null,
    section("Verification", () => verification(records, firstCheck), { "data-testid": "verification" }),
    // The rest is for members (README "Who may read what"): the public view stays short on a phone.
    batch.view === "public"
      ? null
      : [
          section("Lineage", () => lineage(trace), { class: "card wide" }),
          section("Custody timeline", () => custody(id)),
          section("EPCIS events and sensor readings", () => sensors(id, records, product, trace)),
          section("Footprint by stage", () => footprint(id)),
          section("KPIs of the runs that made it", () => kpis(id)),
          section("Risk scores", () => risk(id)),
          section("Orders it settled", () => orders(id, batch)),
        ],
  );
}

async function recallImpact(id) {
  const impact = await api(`/api/v1/batches/${id}/recall-impact`);
  const t = impact.totals;
  return [
    kv([
      ["Affected batches", String(t.batches)],
      ["Still in circulation", String(t.inCirculation)],
      ["Flagged on-chain", String(t.flaggedOnChain)],
      ["Quantity in circulation", Object.entries(t.quantityByUnit).map(([u, q]) => `${q} ${u}`).join(", ") || "—"],
    ]),
    table(
      ["Batch", "Custodian", "Location", "Quantity", "Status"],
      impact.affected.map((b) => [el("a", { href: `/explorer/batch/${b.id}` }, `${b.lot} ${short(b.id)}`), orgLink(b.custodianOrgId), b.location ?? "—", `${b.quantity} ${b.unit}`, b.status]),
    ),
  ];
}

// ---------------------------------------------------------------- verification (verify.js)

const RPC_URL_KEY = "lotline.rpcUrl";
/** The node's read-only JSON-RPC pass-through: what the page reads the chain through unless the reader chose another. */
const defaultRpcUrl = () => `${location.origin}/rpc`;
const rpcUrl = () => localStorage.getItem(RPC_URL_KEY) || defaultRpcUrl();
function setRpcUrl(url) {
  if (!url || url === defaultRpcUrl()) localStorage.removeItem(RPC_URL_KEY);
  else localStorage.setItem(RPC_URL_KEY, url);
}

/**
 * A verification of the records `recordsPromise` serves against the chain at `url`, started at once:
 * `offChain` resolves with the off-chain checks (verifyRecords' onOffChain), `verdict` with the outcome.
 */
function startVerification(recordsPromise, url) {
  let offChainDone;
  const offChain = new Promise((resolve) => (offChainDone = resolve));
  const verdict = Promise.all([recordsPromise, loadVerifier()]).then(([data, { verifyRecords }]) =>
    verifyRecords(data.records, { rpcUrl: url, anchors: data.anchors, chainId: data.chainId, onOffChain: offChainDone }),
  );
  return { url, offChain, verdict };
}

/** How long the Verification section waits for the chain's answers before it shows the off-chain checks alone. */
const OFF_CHAIN_ONLY_MS = 150;

/** The Verification section: `first` is the lot's verification the page started as soon as it asked for the records. */
async function verification(recordsPromise, first) {
  // (A refusal opens the sections below too: batchPage.)
  const data = await recordsPromise;
  const input = el("input", { id: "rpc-url", type: "url", value: first.url, "aria-label": "JSON-RPC URL used to read the chain", size: 40 });
  const results = el("div", { "data-testid": "verification-results" });
  let latest = null;
  const run = async (check) => {
    latest = check;
    fill(results, el("p", { class: "muted" }, `Checking ${data.records.length} record(s) against ${check.url}…`));
    // Progressively: each record's leaf and proof are checked first (a changed record shows as
    // failed at once), then the anchors are read from the chain — unless the chain answers within
    // OFF_CHAIN_ONLY_MS, when the table is drawn once, with the verdicts (each drawing of it is a
    // layout and a repaint of the top of a lot page).
    let verdictIn = false;
    check.verdict.finally(() => (verdictIn = true)).catch(() => undefined);
    check.offChain.then((checked) => setTimeout(() => {
      if (latest !== check || verdictIn) return;
      fill(results,
        el("p", { class: "muted" }, `${checked.filter((c) => !c.failed).length} of ${checked.length} record(s) match their proofs; reading their anchors from ${check.url}…`),
        table(
          ["Record", "Owner", "Result"],
          checked.map((c) => [
            el("span", {}, `${c.record.class} `, el("code", { title: c.record.recordId }, short(c.record.recordId))),
            orgLink(c.record.owner),
            c.failed ? el("span", { class: "error" }, `✗ ${c.detail.startsWith(c.failed) ? c.detail : `${c.failed}: ${c.detail}`}`) : el("span", { class: "muted" }, "leaf and proof match; reading the chain…"),
          ]),
        ),
      );
    }, OFF_CHAIN_ONLY_MS));
    const outcome = await check.verdict;
    if (latest !== check) return;
    const ok = outcome.filter((o) => o.ok).length;
    fill(results, 
      el("p", { class: ok === outcome.length ? "ok" : "error", "data-testid": "verification-summary", dataset: { verified: String(ok), failed: String(outcome.length - ok), total: String(outcome.length) } },
        outcome.length === 0 ? "No anchored record of this lot is shown to you." : `${ok} of ${outcome.length} record(s) verified against the chain${ok === outcome.length ? "" : `; ${outcome.length - ok} FAILED`}.`),
      table(
        ["Record", "Owner", "Result"],
        outcome.map((o) => [
          el("span", {}, `${o.record.class} `, el("code", { title: o.record.recordId }, short(o.record.recordId))),
          orgLink(o.record.owner),
          el("span", { class: o.ok ? "ok" : "error", "data-testid": "record-verdict", dataset: { ok: String(o.ok), recordId: o.record.recordId } }, o.ok ? `✓ ${o.detail}` : `✗ ${o.detail.startsWith(o.failed) ? o.detail : `${o.failed}: ${o.detail}`}`),
        ]),
      ),
      data.gaps.length ? el("details", {}, el("summary", {}, `${data.gaps.length} record(s) not shown or not yet anchored`), el("ul", {}, data.gaps.map((g) => el("li", {}, `${g.class} ${g.subject}: ${g.reason} — ${g.detail}`)))) : null,
    );
    mark("lotline:verified");
  };
  const failed = (err) => fill(results, el("p", { class: "error" }, `Verification could not run: ${err.message}`));
  const form = el(
    "form",
    { class: "rpc", onsubmit: (e) => (e.preventDefault(), setRpcUrl(input.value), run(startVerification(recordsPromise, input.value)).catch(failed)) },
    el("label", { for: "rpc-url" }, "Chain JSON-RPC "),
    input,
    el("button", { type: "submit" }, "Verify again"),
  );
  const hint = el("p", { class: "muted small" }, `Default ${defaultRpcUrl()}: this node's read-only pass-through. Point it at a chain node you trust to stop trusting this one.`);
  run(first).catch(failed);
  return [form, hint, results];
}

async function lineage(tracePromise) {
  const trace = await tracePromise;
  const container = el("div", { class: "graph", "data-testid": "lineage-graph" });
  whenDrawable(loadLineage)
    .then(({ drawLineage }) => {
      const drawn = drawLineage(container, trace, { href: (id) => `/explorer/batch/${id}` });
      container.dataset.nodeCount = String(drawn.nodes);
      container.dataset.edgeCount = String(drawn.edges);
      mark("lotline:lineage-drawn");
      afterSettled(() => drawn.panAndZoom().catch(() => undefined));
    })
    .catch((err) => fill(container, el("p", { class: "error" }, `The graph could not be drawn: ${err.message}`)));
  // The same graph as a list: for keyboards, screen readers and small screens.
  const list = el(
    "details",
    {},
    el("summary", {}, `${trace.nodes.length} batches, ${trace.edges.length} flows (list)`),
    table(
      ["Batch", "Depth", "Status", "Producer"],
      trace.nodes.map((n) => [el("a", { href: `/explorer/batch/${n.id}` }, `GTIN ${n.gtin} · lot ${n.lot}`), n.depth < 0 ? `${-n.depth} upstream` : n.depth > 0 ? `${n.depth} downstream` : "this batch", n.status, orgLink(n.producerOrgId)]),
    ),
  );
  return [container, trace.truncated ? el("p", { class: "muted" }, "The lineage goes on beyond 50 steps.") : null, list];
}

async function custody(id) {
  const { items } = await apiShared(`/api/v1/batches/${id}/history`);
  const chain = items.filter((i) => i.type !== "epcis");
  return el(
    "ol",
    { class: "timeline" },
    chain.map((i) => {
      const d = i.details ?? {};
      const who = [d.fromOrgId !== undefined ? ["from ", orgLink(d.fromOrgId)] : null, d.toOrgId !== undefined ? [" to ", orgLink(d.toOrgId)] : null, d.orgId !== undefined && d.fromOrgId === undefined ? orgLink(d.orgId) : null, d.byOrgId !== undefined ? [" by ", orgLink(d.byOrgId)] : null];
      return el(
        "li",
        {},
        el("time", { datetime: i.at }, when(i.at)),
        " ",
        el("strong", {}, i.type.replace(/_/g, " ")),
        " ",
        who,
        d.quantity ? ` · ${d.quantity}` : "",
        d.location ? ` · at GLN ${d.location}` : "",
        d.reason ? ` · ${d.reason}` : "",
        i.transactionHash ? el("span", { class: "muted small" }, ` · tx ${short(i.transactionHash)} block ${i.blockNumber}`) : "",
      );
    }),
  );
}

/**
 * Each member's node keeps the EPCIS events its own organisations captured (the consortium's
 * default of several nodes): links to this lot on the nodes of the lineage's other organisations,
 * or nothing when every one of them is served here.
 */
async function nodesElsewhere(id, tracePromise) {
  const trace = await tracePromise.catch(() => null);
  if (!trace) return null;
  const ids = new Set(trace.nodes.flatMap((n) => [n.producerOrgId, n.ownerOrgId, n.custodianOrgId]).filter((o) => o !== undefined && o !== null).map(String));
  const byNode = new Map();
  for (const org of await Promise.all([...ids].map(orgInfo))) {
    if (!org?.serviceUrl || new URL(org.serviceUrl).origin === location.origin) continue;
    byNode.set(org.serviceUrl, [...(byNode.get(org.serviceUrl) ?? []), org.name]);
  }
  if (byNode.size === 0) return null;
  return el(
    "p",
    { class: "muted small", "data-testid": "epcis-elsewhere" },
    "Events are kept by the node of the organisation that captured them; this node shows those it holds. The lot on the other members' nodes: ",
    [...byNode].map(([url, names], i) => [i ? "; " : "", el("a", { href: `${url.replace(/\/$/, "")}/explorer/batch/${id}` }, names.join(", "))]),
    ".",
  );
}

/** Temperature readings of the lot's EPCIS events (as served and verified above), against the product's storage range. */
async function sensors(id, recordsPromise, productPromise, tracePromise) {
  const [{ items }, data, product, elsewhere] = await Promise.all([apiShared(`/api/v1/batches/${id}/history`), recordsPromise, productPromise, nodesElsewhere(id, tracePromise)]);
  const events = items.filter((i) => i.type === "epcis");
  const readings = [];
  for (const r of data.records.filter((r) => r.class === "EPCIS")) {
    const event = r.record.event ?? {};
    for (const element of event.sensorElementList ?? []) {
      for (const report of element.sensorReport ?? []) {
        if (!/temperature/i.test(String(report.type ?? "")) || typeof report.value !== "number") continue;
        readings.push({ t: report.time ?? element.sensorMetadata?.time ?? event.eventTime, v: report.value, event: event.eventID });
      }
    }
  }
  readings.sort((a, b) => Date.parse(a.t) - Date.parse(b.t));
  const range = product?.masterData?.storageTemperature ?? null;
  const out = [
    table(
      ["Time", "Event", "Business step", "Mapping"],
      events.map((e) => [when(e.at), e.details.eventType ?? "", String(e.details.bizStep ?? "").replace(/^.*[:/]/, ""), e.details.mapping?.status ?? ""]),
    ),
    elsewhere,
  ];
  if (readings.length === 0) {
    out.push(el("p", { class: "muted" }, "No temperature readings shown to you."));
    return out;
  }
  const outside = range ? readings.filter((r) => r.v < range.minCelsius || r.v > range.maxCelsius).length : 0;
  out.push(el("p", { class: outside ? "error" : "ok" }, range
        ? `${readings.length} readings; storage range ${range.minCelsius} to ${range.maxCelsius} °C; ${outside} outside it.`
        : product?.masterData
          ? `${readings.length} readings; the product declares no storage range.`
          : `${readings.length} readings; the product's storage range is in its master data, which this node does not hold.`));
  const chart = chartFrame({ "aria-label": "Temperature readings against the storage range", "data-testid": "sensor-chart" });
  out.push(chart.frame);
  chart.draw(() => {
    const series = [{ label: "°C", values: readings.map((r) => r.v), color: "#1b3a5c", pointColors: readings.map((r) => (range && (r.v < range.minCelsius || r.v > range.maxCelsius) ? "#b00020" : "#1b3a5c")) }];
    if (range) {
      series.push({ label: "max", values: readings.map(() => range.maxCelsius), color: "#b00020", dashed: true, points: false });
      series.push({ label: "min", values: readings.map(() => range.minCelsius), color: "#2a7ab0", dashed: true, points: false });
    }
    return { labels: readings.map((r) => when(r.t)), series };
  });
  return out;
}

/** Where a stage's production runs came from: this node's own records, or a member's node (federation). */
function originOf(o) {
  if (!o) return el("span", { class: "muted" }, "—");
  // The API names this node by its public URL, which may differ from the address the page was opened at.
  if (o.servedBy === null || new URL(o.servedBy).origin === location.origin) return el("span", {}, "this node");
  return el("span", { class: o.verified ? "ok" : "error" }, `${o.verified ? "✓" : "✗ not verified:"} `, el("a", { href: o.servedBy }, new URL(o.servedBy).host));
}

async function footprint(id) {
  const f = await later(`/api/v1/batches/${id}/footprint`);
  const b = f.boundary;
  return [
    kv([
      ["CO2e per unit", f.co2ePerUnitKg === null ? `at least ${num(f.knownCo2ePerUnitKg, 4)} kg (incomplete)` : `${num(f.co2ePerUnitKg, 4)} kg / ${f.unit}`],
      ["Energy per unit", f.energyPerUnitKwh === null ? `at least ${num(f.knownEnergyPerUnitKwh, 4)} kWh (incomplete)` : `${num(f.energyPerUnitKwh, 4)} kWh / ${f.unit}`],
      ["Complete", f.complete ? "yes" : `no: ${f.gaps.length} gap(s), see below`],
      ["Boundary", el("span", { "data-testid": "footprint-boundary" }, b.label)],
    ]),
    el(
      "details",
      {},
      el("summary", {}, "What the boundary includes and leaves out"),
      kv([
        ["Stages", b.stages],
        ["Sources recorded", b.recorded.join(", ").replace(/_/g, " ") || "—"],
        ["Includes", el("ul", {}, b.includes.map((i) => el("li", {}, i)))],
        ["Excludes", el("ul", {}, b.excludes.map((i) => el("li", {}, i)))],
        ["GWP", b.gwpSet],
        ["Scope 2", b.scope2],
      ]),
    ),
    table(
      ["Stage (batch)", "Kind", "Organisation", "Own CO2e / unit", "Share", "Runs", "Records from"],
      f.stages.map((s) => [
        el("a", { href: `/explorer/batch/${s.batchId}` }, `${s.lot ?? ""} ${short(s.batchId)}`),
        s.type === "transport" ? `freight (${s.transport.length} leg${s.transport.length === 1 ? "" : "s"})` : "production",
        orgLink(s.orgId),
        `${num(s.ownCo2ePerUnitKg, 4)} kg`,
        pct(s.share),
        s.type === "transport" ? "—" : String(s.runIds.length),
        s.type === "transport" ? "see the legs" : originOf(s.origin),
      ]),
    ),
    freightLegs(f.stages.filter((s) => s.type === "transport").flatMap((s) => s.transport.map((leg) => ({ ...leg, lot: s.lot })))),
    f.gaps.length ? el("h3", {}, "Gaps") : null,
    f.gaps.length
      ? el(
          "div",
          { "data-testid": "footprint-gaps" },
          table(["Batch", "Organisation", "Reason", "Detail"], f.gaps.map((g) => [el("a", { href: `/explorer/batch/${g.batchId}` }, short(g.batchId)), orgLink(g.orgId), g.reason.replace(/_/g, " "), g.detail])),
        )
      : null,
  ];
}

/**
 * The freight legs of a footprint's transport stages (EPCIS shipping events): where from and to, mode,
 * distance, mass, the factor with its source, and the kg CO2e this batch carries (a logistic unit's leg
 * split by mass share says so).
 */
function freightLegs(legs) {
  if (!legs.length) return null;
  return [
    el("h3", {}, "Freight legs"),
    el(
      "div",
      { "data-testid": "footprint-legs" },
      table(
        ["Batch", "Event", "From → to", "Mode", "Distance", "Mass", "Factor (kg CO2e / t·km)", "Factor source", "kg CO2e", "Event from"],
        legs.map((l) => [
          l.lot ?? short(l.batchId),
          el("code", { title: l.eventId }, `${l.bizStep} ${when(l.eventTime)}`),
          `${l.from ?? "?"} → ${l.to ?? "?"}`,
          l.mode ?? "—",
          `${num(l.distanceKm, 1)} km`,
          `${num(l.tonnes, 3)} t`,
          el("span", { "data-testid": "leg-factor" }, num(l.kgCo2ePerTonneKm, 4)),
          el("span", { "data-testid": "leg-factor-source" }, l.factorSource ?? "—"),
          el(
            "span",
            { "data-testid": "leg-co2e" },
            l.logisticUnit
              ? `${num(l.co2eKg, 3)} (SSCC ${l.logisticUnit.sscc}: ${num(l.logisticUnit.legCo2eKg, 3)} × mass share ${pct(l.logisticUnit.share)})`
              : num(l.co2eKg, 3),
          ),
          originOf(l.origin),
        ]),
      ),
    ),
  ];
}

async function kpis(id) {
  const { items } = await later(`/api/v1/production-runs?batch=${id}&limit=50`);
  return table(
    ["Run", "Organisation", "Line", "OEE", "Yield", "Good / total", "Status"],
    items.map((r) => [
      el("code", {}, r.id),
      orgLink(r.orgId),
      r.line,
      pct(r.metrics?.oee),
      pct(r.metrics?.yield),
      `${r.goodCount} / ${r.totalCount} ${r.countUnit}`,
      r.status ?? "",
    ]),
  );
}

async function risk(id) {
  const s = await later(`/api/v1/scores/batches/${id}`);
  const reasons = (q) => (q?.reasons ?? []).map((r) => `${r.feature} ${r.direction} risk (${num(r.value)} vs ${num(r.reference)})`).join("; ");
  const rows = [];
  if (s.ownQuality) rows.push(["this batch", s.ownQuality.riskBand ?? "—", s.ownQuality.probability === null ? "—" : pct(s.ownQuality.probability), s.ownQuality.rule ?? ""]);
  for (const r of s.upstream ?? s.upstreamRuns ?? []) rows.push([`${r.lot ?? ""} run ${r.runId ?? ""}`, r.riskBand ?? "—", r.probability === undefined ? "—" : pct(r.probability), reasons(r)]);
  for (const r of s.runs ?? []) rows.push([`run ${r.runId}`, r.riskBand ?? "—", r.probability === undefined ? "—" : pct(r.probability), reasons(r)]);
  return [
    table(["Subject", "Band", "Probability", "Reasons"], rows),
    (s.anomalies ?? []).length ? el("h3", {}, "Anomalies") : null,
    (s.anomalies ?? []).length ? table(["When", "Type", "Source", "Detail"], s.anomalies.map((a) => [when(a.at), a.type, a.source, a.detail])) : null,
    el("p", { class: "muted small" }, `Model ${short(s.modelHash)}`),
  ];
}

async function orders(id, batch) {
  const ids = new Set();
  if (batch.orderId) ids.add(batch.orderId);
  const sales = await later(`/api/v1/batches/${id}/sales`).catch(() => ({ items: [] }));
  for (const s of sales.items ?? []) if (s.orderId) ids.add(String(s.orderId));
  const list = await Promise.all([...ids].map((o) => later(`/api/v1/orders/${o}`).catch((err) => ({ orderId: o, error: err }))));
  if (list.length === 0) return el("p", { class: "muted" }, "Not delivered against an order.");
  return list.map((o) => {
    if (o.error) return el("p", {}, `Order ${o.orderId}: `, refusal(o.error));
    const buyer = String(o.buyerOrgId ?? o.buyer ?? "");
    // The buyer decides on a delivery while it awaits a decision (the chain refuses anyone else).
    const mine = session && buyer === String(session.orgId) && o.status === "delivered";
    const orderId = String(o.orderId ?? o.id);
    return el(
      "div",
      { class: "order" },
      kv([
        ["Order", orderId],
        ["Status", el("span", { "data-testid": "order-status", dataset: { orderId } }, o.status)],
        ["Buyer", orgLink(o.buyerOrgId ?? o.buyer)],
        ["Seller", orgLink(o.sellerOrgId ?? o.seller)],
        ["Quantity", o.quantity ? `${o.quantity} ${o.unit ?? ""}` : undefined],
        ["Delivered", o.deliveredQuantity ?? o.delivered ?? undefined],
      ]),
      mine ? actionForm("Accept delivery", [], () => relay("escrow", "acceptDelivery", [BigInt(orderId)]), { "data-testid": "accept-delivery", dataset: { orderId } }) : null,
      mine
        ? actionForm("Dispute delivery", [{ name: "quantity", label: "Quantity rejected", placeholder: "quantity rejected" }, { name: "reason", label: "Reason", placeholder: "reason" }], (v) =>
            relay("escrow", "reject", [BigInt(orderId), rawQuantity(v.quantity), v.reason]),
            { "data-testid": "dispute-delivery", dataset: { orderId } },
          )
        : null,
    );
  });
}

/** A decimal quantity (≤ 3 decimals) as the chain's fixed-point integer. */
function rawQuantity(text) {
  if (!/^[0-9]+(\.[0-9]{1,3})?$/.test(text)) throw new Error(`"${text}" is not a quantity with at most 3 decimals`);
  const [whole, fraction = ""] = text.split(".");
  return BigInt(whole) * 1000n + BigInt(fraction.padEnd(3, "0"));
}

function actionsCard(batch) {
  const forms = [];
  const mine = String(session.orgId);
  forms.push(
    actionForm("Raise recall", [{ name: "reason", label: "Recall reason", placeholder: "reason for the recall" }], (v) => relay("provenance", "recall", [batch.id, v.reason]), { "data-testid": "raise-recall" }),
  );
  if (batch.recall?.kind === "direct") {
    forms.push(
      actionForm("Withdraw recall", [{ name: "reason", label: "Why the recall is withdrawn", placeholder: "why it is withdrawn" }], (v) => relay("provenance", "withdrawRecall", [batch.id, v.reason]), {
        "data-testid": "withdraw-recall",
      }),
    );
  }
  if (batch.pendingOffer && String(batch.pendingOffer.toOrgId) === mine) {
    const kinds = ["custody", "ownership", "both"];
    forms.push(
      actionForm(`Accept offer (${batch.pendingOffer.kind}, ${batch.pendingOffer.quantity} ${batch.unit})`, [{ name: "gln", label: "Receiving location (GLN)", placeholder: "your GLN" }], (v) =>
        relay("provenance", "accept", [batch.id, rawQuantity(batch.pendingOffer.quantity), kinds.indexOf(batch.pendingOffer.kind), v.gln]),
        { "data-testid": "accept-offer" },
      ),
    );
  }
  forms.push(
    actionForm(
      "Grant an auditor this lot",
      [
        { name: "grantee", label: "Auditor organisation id", placeholder: "auditor organisation id" },
        { name: "days", label: "Days", placeholder: "days", value: "30" },
      ],
      (v) => relay("sharing", "grant", [BigInt(v.grantee), 7, 2, batch.lotId, BigInt(Math.floor(Date.now() / 1000) + Number(v.days) * 86400)]),
      { "data-testid": "grant-lot" },
    ),
  );
  return el("section", { class: "card actions" }, el("h2", {}, "Act on this lot"), el("p", { class: "muted small" }, "Each action is signed in your wallet and sent through this node's relayer; the chain checks your rights."), forms);
}

async function orgPage(orgId) {
  let org;
  try {
    org = await api(`/api/v1/orgs/${orgId}`);
  } catch (err) {
    fill(main, el("section", { class: "card" }, el("h1", {}, "Organisation not found"), refusal(err)));
    return;
  }
  document.title = `${org.name} · Lotline`;
  const mine = session && String(session.orgId) === String(orgId);
  fill(main, 
    el(
      "section",
      { class: "card head" },
      el("h1", {}, org.name),
      kv([
        ["Organisation", String(orgId)],
        ["Status", org.status],
        ["Company prefixes", (org.companyPrefixes ?? []).map((p) => p.prefix ?? p).join(", ") || "—"],
        ["Locations (GLN)", (org.locations ?? []).map((l) => l.gln ?? l).join(", ") || "—"],
        ["Node", org.serviceUrl ?? "—"],
      ]),
    ),
    section("Agents", async () => table(["Wallet", "Roles", "Status"], (org.agents ?? []).map((a) => [el("code", {}, short(a.address)), (a.effectiveRoles ?? a.roles ?? []).join(", "), a.status ?? ""]))),
    section("Credentials", async () => table(["Kind", "Issuer", "Expires", "Status"], (org.credentials ?? []).map((c) => [c.kind ?? c.type ?? "", orgLink(c.issuerOrgId ?? c.issuer), when(c.expiresAt), c.status ?? (c.revoked ? "revoked" : "valid")]))),
    section("Grants given", () => grants({ grantor: orgId }), { "data-testid": "grants-given" }),
    section("Grants received", () => grants({ grantee: orgId })),
    mine
      ? el(
          "section",
          { class: "card actions" },
          el("h2", {}, "Grant an auditor"),
          actionForm(
            "Grant read access",
            [
              { name: "grantee", label: "Auditor organisation id", placeholder: "auditor organisation id" },
              { name: "days", label: "Days", placeholder: "days", value: "90" },
            ],
            (v) => relay("sharing", "grant", [BigInt(v.grantee), 7, 0, `0x${"0".repeat(64)}`, BigInt(Math.floor(Date.now() / 1000) + Number(v.days) * 86400)]),
            { "data-testid": "grant-auditor" },
          ),
        )
      : null,
    section("KPIs over time", () => kpiCharts(orgId), { class: "card wide" }),
    section("Supplier risk", () => supplierRisk(orgId), { class: "card wide" }),
  );
}

async function grants(query) {
  const { items } = await api(`/api/v1/grants?${new URLSearchParams(query)}`);
  return table(
    ["Grant", "From", "To", "Classes", "Scope", "Expires", "In force"],
    items.map((g) => [
      g.grantId,
      orgLink(g.grantorOrgId),
      orgLink(g.granteeOrgId),
      g.classes.join(", "),
      g.scope.value ? `${g.scope.kind} ${short(g.scope.value)}` : g.scope.kind,
      when(g.expiresAt),
      g.inForce ? "yes" : g.revokedAt ? `revoked ${when(g.revokedAt)}` : "no",
    ]),
  );
}

async function kpiCharts(orgId) {
  // The last six months, this one included, in one answer.
  const points = (await api(`/api/v1/analytics/orgs/${orgId}/kpis/monthly`)).months;
  const month = (p) => p.from.slice(0, 7);
  if (points.every((p) => p.runs === 0)) return el("p", { class: "muted" }, "No production runs in the last six months.");
  const chart = chartFrame({ "aria-label": "OEE, yield and on-time delivery by month", "data-testid": "kpi-chart" });
  chart.draw(() => {
    const series = (key) => points.map((p) => (p[key] === null ? null : Math.round(p[key] * 1000) / 10));
    return {
      labels: points.map(month),
      series: [
        { label: "OEE %", values: series("oee"), color: "#1b3a5c" },
        { label: "Yield %", values: series("yield"), color: "#2a7a3a" },
        { label: "On-time delivery %", values: series("onTimeDelivery"), color: "#b06a00" },
      ],
    };
  });
  return [
    chart.frame,
    table(["Month", "Runs", "OEE", "Yield", "CO2e / unit", "Defect ppm"], points.map((p) => [month(p), String(p.runs), pct(p.oee), pct(p.yield), p.co2ePerUnitKg === null ? "—" : `${num(p.co2ePerUnitKg, 4)} kg`, num(p.defectPpm, 0)])),
  ];
}

async function supplierRisk(orgId) {
  const s = await api(`/api/v1/scores/suppliers/${orgId}`);
  return [
    kv([
      ["Score (0–100, higher is riskier)", num(s.score ?? s.risk, 1)],
      ["Coverage", pct(s.coverage)],
    ]),
    table(["Component", "Weight", "Value", "Status", "Formula"], s.components.map((c) => [c.name, num(c.weight), num(c.value, 3), c.status, el("code", {}, c.formula)])),
  ];
}

// ---------------------------------------------------------------- routing

function page() {
  const path = location.pathname;
  let m;
  if (path === "/" || path === "/explorer" || path === "/explorer/") return home();
  if (path === "/explorer/search") return searchPage(new URLSearchParams(location.search).get("q") ?? "");
  if ((m = /^\/explorer\/batch\/([^/]+)$/.exec(path))) return batchPage(decodeURIComponent(m[1]));
  if ((m = /^\/explorer\/org\/([0-9]+)$/.exec(path))) return orgPage(m[1]);
  if (/^\/(01|00)\//.test(path)) return digitalLinkPage();
  fill(main, el("section", { class: "card" }, el("h1", {}, "Not found"), el("p", {}, el("a", { href: "/" }, "Back to search"))));
}

async function route() {
  const path = location.pathname;
  const raw = /^\/explorer\/batch\/([^/]+)$/.exec(path)?.[1];
  let batchRef = null;
  try {
    batchRef = raw ? encodeURIComponent(decodeURIComponent(raw)) : null;
  } catch {
    batchRef = null; // page() says what is wrong with the URL
  }
  // A lot page's own requests go out with the session's, not after it.
  if (batchRef) prefetch(`/api/v1/batches/${batchRef}`);
  else if (/^\/(01|00)\//.test(path)) prefetch(path);
  await loadSession();
  await page();
  firstRender();
}

route().catch((err) => (fill(main, el("p", { class: "error" }, err.message ?? String(err))), firstRender()));
