import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { Type } from "@sinclair/typebox";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { RouteDeps } from "../app";
import { readerOf } from "../access";
import { HttpProblem } from "../problem";
import { escapeHtml } from "../html";
import { Address, Hex32, Iso, RoleName } from "../schemas";
import { clearSessionCookies, setSessionCookies } from "../session-cookie";
import { Batch, publicBatch } from "./provenance";
import { INTERFACES } from "../../chain/contracts";
import { DigitalLinkError, isLotNumber, normaliseGtin, parseDigitalLink } from "../../gs1/digital-link";
import { hasValidCheckDigit } from "../../gs1/keys";
import { createProvenanceStore, type BatchView } from "../../store/provenance";
import { prepared } from "../../store/statements";
import { collectLineageRecords, type ProductAnswer } from "../../export/exporter";
import type { ProvenRecord } from "../../export/records";
import type { BundleGap } from "../../export/bundle";
import { createEpcisTimelines } from "../epcis-timelines";
import { createRecordReads } from "../record-reads";

/**
 * The auditor's explorer, served by the node itself (ADR 0016): plain ES modules and a stylesheet
 * from services/web/, the libraries they use straight from the project's own node_modules
 * (ethers, d3's pan and zoom; its charts and lineage graph are its own SVG), and the record verifier bundled on first use from the same
 * TypeScript the CLI and export bundles verify with (services/export/records.ts). No CDN, no build
 * step for the user. The page reads everything through the API, so the visibility rules apply.
 */
export const WEB_DIR = path.join(__dirname, "..", "..", "web");

const PAGE_FILES: Record<string, string> = {
  "app.js": "text/javascript",
  "style.css": "text/css",
  // The page's verification as written (it is bundled into /explorer/verifier.js, which the page loads): served for reading.
  "verify.js": "text/javascript",
  "lineage.js": "text/javascript",
  "charts.js": "text/javascript",
};

/** esbuild's options for a module the browser imports: one ES module, minified, from the project root. */
const BROWSER_BUNDLE = { bundle: true, format: "esm", platform: "browser", target: "es2022", minify: true, write: false, logLevel: "silent" } as const;
const PROJECT_ROOT = path.join(__dirname, "..", "..", "..");

/**
 * Libraries the page loads: the packages' own minified builds from their dist folders, and d3's pan
 * and zoom (published as many small ES modules) bundled into one module by esbuild. Read or built
 * once per process, off the event loop (warmed as soon as the node serves), and kept: node_modules
 * does not change under a running node.
 */
const VENDOR: Record<string, { type: string; load: () => Promise<Buffer> }> = {
  "ethers.js": { type: "text/javascript", load: () => fs.promises.readFile(path.join(path.dirname(require.resolve("ethers")), "..", "dist", "ethers.min.js")) },
  "d3.js": {
    type: "text/javascript",
    async load() {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const esbuild = require("esbuild") as typeof import("esbuild");
      const result = await esbuild.build({
        ...BROWSER_BUNDLE,
        stdin: { contents: `export { zoom, zoomIdentity } from "d3-zoom"; export { select } from "d3-selection";`, resolveDir: PROJECT_ROOT },
      });
      return Buffer.from(result.outputFiles[0].contents);
    },
  },
};
const vendorLoaded = new Map<string, Promise<{ content: Buffer; version: string }>>();
/** A library's content and content hash, or undefined for a name that is not one. */
function vendorFile(name: string): Promise<{ content: Buffer; version: string }> | undefined {
  if (!Object.hasOwn(VENDOR, name)) return undefined;
  let loaded = vendorLoaded.get(name);
  if (!loaded) {
    loaded = VENDOR[name].load().then((content) => ({ content, version: hashOf(content) }));
    loaded.catch(() => vendorLoaded.delete(name)); // a failed read or build is tried again
    vendorLoaded.set(name, loaded);
  }
  return loaded;
}

let shell: Promise<string> | null = null;

/** index.html as written; explorerShell() fills in its asset URLs. */
function shellTemplate(): Promise<string> {
  shell ??= fs.promises.readFile(path.join(WEB_DIR, "index.html"), "utf8");
  shell.catch(() => (shell = null));
  return shell;
}

const hashOf = (content: string | Buffer) => createHash("sha256").update(content).digest("hex").slice(0, 12);
const pageFiles = new Map<string, { mtimeMs: number; size: number; version: string; content: Buffer }>();
/**
 * One of services/web/'s files with its content hash, kept in memory and read again only when the
 * file changed. Synchronous (a stat of a local file): a page's scripts are answered as they arrive,
 * not after whatever API request the node took up while waiting for the file system.
 */
function pageFile(file: string): { version: string; content: Buffer } {
  const full = path.join(WEB_DIR, file);
  const stat = fs.statSync(full);
  const known = pageFiles.get(file);
  if (known && known.mtimeMs === stat.mtimeMs && known.size === stat.size) return known;
  const content = fs.readFileSync(full);
  const entry = { mtimeMs: stat.mtimeMs, size: stat.size, version: hashOf(content), content };
  pageFiles.set(file, entry);
  return entry;
}
let verifierVersion: string | null = null;

/** What a page will load first, named in its HTML so the browser fetches and compiles it meanwhile the page asks the API. */
export type Preload = "lineage" | "verifier" | "charts";

/** An API answer carried in the page's HTML: the status and body the page's own GET of its URL would get. */
export interface EmbeddedAnswer {
  status: number;
  body: unknown;
}

export interface ShellOptions {
  /** Libraries the page needs first (`modulepreload` hints). */
  preload?: Preload[];
  /** Answers the page reads at once, by the URL it would ask them at (pageAnswers). */
  embedded?: Record<string, EmbeddedAnswer>;
  /** What the page asks for next, by the URLs it will fetch: asked with the HTML (`preload as=fetch`). */
  fetches?: string[];
}

/**
 * The one HTML page every explorer URL serves (its module routes on location.pathname), with
 * content-hashed asset URLs (`?v=`, served as immutable: a reload asks for none of them again),
 * `modulepreload` hints for the libraries the page at hand needs first, the API answers of its first
 * render in the HTML itself (no round trip before it; see pageAnswers for how they are read) and
 * `preload` hints for the answers it asks for next.
 */
export async function explorerShell({ preload = [], embedded = {}, fetches = [] }: ShellOptions = {}): Promise<string> {
  const template = await shellTemplate();
  const v = async (file: string) => `/explorer/assets/${file}?v=${pageFile(file).version}`;
  const vendor = async (file: string) => `/explorer/vendor/${file}?v=${(await vendorFile(file)!).version}`;
  // Built on first use (esbuild); until then its URL stays unversioned (and is revalidated).
  if (!verifierVersion) void verifierModule().catch(() => undefined);
  const verifierUrl = verifierVersion ? `/explorer/verifier.js?v=${verifierVersion}` : "/explorer/verifier.js";
  const [app, lineage, charts, style, ethers, d3] = await Promise.all([
    v("app.js"),
    v("lineage.js"),
    v("charts.js"),
    v("style.css"),
    vendor("ethers.js"),
    vendor("d3.js"),
  ]);
  const imports = {
    ethers,
    d3,
    "/explorer/assets/lineage.js": lineage,
    "/explorer/assets/charts.js": charts,
    "/explorer/verifier.js": verifierUrl,
  };
  const hints = [
    // (Not d3: the graph loads it for pan and zoom once the page has settled.)
    ...(preload.includes("lineage") ? [imports["/explorer/assets/lineage.js"]] : []),
    // (Asked only once a chart's answers had arrived, it was the last request before a page settled.)
    ...(preload.includes("charts") ? [imports["/explorer/assets/charts.js"]] : []),
    ...(preload.includes("verifier") ? [verifierUrl] : []),
  ].map((href) => `<link rel="modulepreload" href="${href}">`);
  // The page fetches these same-origin with the session cookie, and the browser hands it the
  // preloaded answer: asked with the HTML instead of once the page's script has run.
  const fetchHints = fetches.map((href) => `<link rel="preload" href="${escapeHtml(href)}" as="fetch" crossorigin>`);
  // JSON in a data block: `<` escaped, so no answer can close the element.
  const answers = `<script type="application/json" id="lotline-answers">${JSON.stringify(embedded).replace(/</g, "\\u003c")}</script>`;
  // Replaced by functions: a `$` in an answer is text, not a replacement pattern.
  return template
    .replace('href="/explorer/assets/style.css"', () => `href="${style}"`)
    .replace(/<script type="importmap">[^<]*<\/script>/, () => `<script type="importmap">${JSON.stringify({ imports })}</script>`)
    .replace('<script type="module" src="/explorer/assets/app.js"></script>', () => [answers, ...hints, `<script type="module" src="${app}"></script>`, ...fetchHints].join("\n  "));
}

/** Who is signed in: every explorer page asks. */
export const SESSION = "/api/v1/auth/session";
/**
 * The consortium's organisations (the first 50; the public list): every page names organisations,
 * and takes their names from this answer in its HTML instead of asking for them (app.js orgInfo).
 */
export const ORG_DIRECTORY = "/api/v1/orgs?limit=50";
/** What every explorer page carries in its HTML. */
export const EVERY_PAGE = [SESSION, ORG_DIRECTORY];

/**
 * A lot page's answers of its batch (`batchUrl`), as pageAnswers gives them, and of the batch's
 * product (the page's title), asked once the batch's GTIN is known.
 */
export async function lotAnswers(app: FastifyInstance, request: FastifyRequest, batchUrl: string): Promise<Record<string, EmbeddedAnswer>> {
  const answers = await pageAnswers(app, request, [batchUrl]);
  const gtin = answers[batchUrl]?.status === 200 ? (answers[batchUrl].body as { gtin?: unknown }).gtin : undefined;
  if (typeof gtin === "string" && /^[0-9]{14}$/.test(gtin)) Object.assign(answers, await pageAnswers(app, request, [`/api/v1/products/${gtin}`]));
  return answers;
}

/**
 * What a lot page needs beyond its batch (`batch`: the batch route's answer for the reader, as
 * embedded): its libraries (the verifier; for a member the lineage graph and charts too), for a
 * member the ABI fragments of the page's actions, and its records and (for a member) its trace
 * asked with the HTML, by the URLs the page builds from the batch's id, so the node collects them
 * meanwhile the page's scripts load.
 * (The answers of the sections below the verdict are not: asked with the HTML, the node computed
 * them before the records, which it answers after one turn of its event loop, and a first visit's
 * verdict came later.)
 */
export function lotPageOptions(member: boolean, batch: EmbeddedAnswer | undefined): ShellOptions {
  const id = batch?.status === 200 ? (batch.body as { id?: unknown }).id : undefined;
  const byId = typeof id === "string" && /^0x[0-9a-f]{64}$/.test(id) ? `/api/v1/batches/${id}` : null;
  return {
    preload: member ? ["lineage", "verifier", "charts"] : ["verifier"],
    // (The public is offered no action; the verification encodes its one call itself, ADR 0043.)
    embedded: member ? { "/explorer/abi.json": { status: 200, body: pageAbi() } } : {},
    // The (light) trace first: the node answers in the order asked, and the graph is drawn while it
    // collects the records (in the other order the graph waited for the records).
    fetches: byId ? [...(member ? [`${byId}/trace?direction=both&maxDepth=50`] : []), `${byId}/records`] : [],
  };
}

const FORWARDED_HEADERS = ["cookie", "authorization", "x-forwarded-for", "user-agent"] as const;
/**
 * The answers a page would GET first, asked of the API's own routes in process for the HTML to carry
 * (explorerShell's `embedded`): with the reader's credentials (session cookie or bearer token) and
 * address, so each route's access check and rate limit apply as to the page's own request, and the
 * page shows only what the reader may see. A server error or a refusal to answer now (429) is left
 * out: the page asks for it itself.
 */
export async function pageAnswers(app: FastifyInstance, request: FastifyRequest, urls: string[]): Promise<Record<string, EmbeddedAnswer>> {
  const headers: Record<string, string> = { accept: "application/json" };
  for (const name of FORWARDED_HEADERS) {
    const value = request.headers[name];
    if (typeof value === "string") headers[name] = value;
  }
  const out: Record<string, EmbeddedAnswer> = {};
  const answered = await Promise.all(urls.map((url) => app.inject({ method: "GET", url, headers, remoteAddress: request.socket.remoteAddress ?? request.ip })));
  urls.forEach((url, i) => {
    const res = answered[i];
    if (res.statusCode >= 500 || res.statusCode === 429) return;
    try {
      out[url] = { status: res.statusCode, body: res.json() };
    } catch {
      // not JSON: the page asks for it itself
    }
  });
  return out;
}

let verifier: Promise<string> | null = null;
/**
 * The record verifier for the browser, one module: the page's verification (services/web/verify.js:
 * verifyRecords, the JSON-RPC URL) with services/export/records.ts (leafOf, checkRecord) and the
 * parts of ethers they use, bundled by esbuild, which the node already runs on (tsx), once per
 * process. ethers is bundled rather than imported because the page then parses and compiles the
 * few utilities verification needs (the page encodes anchorOf itself: ADR 0043; the bundle is about
 * 66 KB) on the way to its first verdict; the whole vendored ethers is loaded only to sign with a
 * wallet. node:crypto's SHA-256 becomes hash-wasm's (ethers' until it is instantiated) and Buffer's
 * UTF-8 encoding and byte comparison a few lines over TextEncoder.
 */
export function verifierModule(): Promise<string> {
  verifier ??= (async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const esbuild = require("esbuild") as typeof import("esbuild");
    const result = await esbuild.build({
      ...BROWSER_BUNDLE,
      stdin: {
        contents: `export { leafOf, checkRecord, keccak256, keccakReady } from "./services/export/records"; export * from "./services/web/verify.js";`,
        resolveDir: PROJECT_ROOT,
        loader: "ts",
      },
      // The EPCIS hash code compares and percent-encodes UTF-8 bytes with Node's Buffer; the browser has none.
      inject: [path.join(WEB_DIR, "shims", "buffer.js")],
      plugins: [
        {
          name: "browser-shims",
          setup(build) {
            // verify.js imports the checks by the URL the page serves them at: here, their source.
            build.onResolve({ filter: /^\/explorer\/verifier\.js$/ }, () => ({ path: path.join(__dirname, "..", "..", "export", "records.ts") }));
            // SHA-256 by WebAssembly (services/web/shims/crypto.js).
            build.onResolve({ filter: /^(node:)?crypto$/ }, () => ({ path: path.join(WEB_DIR, "shims", "crypto.js") }));
          },
        },
      ],
    });
    const text = result.outputFiles[0].text;
    verifierVersion = hashOf(text);
    return text;
  })();
  verifier.catch(() => (verifier = null));
  return verifier;
}

/** ABI fragments the page calls: reading anchors, and the actions it offers (sent through the relayer). */
const PAGE_ABI: Record<string, string[]> = {
  anchors: ["anchorOf"],
  provenance: ["recall", "withdrawRecall", "accept"],
  escrow: ["acceptDelivery", "reject"],
  sharing: ["grant"],
  forwarder: ["nonces"],
};

let pageAbiFragments: Record<string, string[]> | null = null;
/** The fragments of PAGE_ABI in full human-readable form, formatted once (ethers' formatting is not cheap). */
function pageAbi(): Record<string, string[]> {
  pageAbiFragments ??= Object.fromEntries(
    Object.entries(PAGE_ABI).map(([contract, names]) => [contract, names.map((name) => INTERFACES[contract as keyof typeof INTERFACES].getFunction(name)!.format("full"))]),
  );
  return pageAbiFragments;
}

const SearchResult = Type.Object({
  type: Type.Union([Type.Literal("batch"), Type.Literal("organisation")]),
  id: Type.String(),
  label: Type.String(),
  detail: Type.String(),
  href: Type.String(),
});

const ProvenRecordSchema = Type.Object({
  class: Type.String(),
  owner: Type.String(),
  recordId: Type.String(),
  record: Type.Unknown(),
  leaf: Type.String(),
  proof: Type.Object({
    merkleRoot: Type.String(),
    proof: Type.Array(Type.String()),
    anchoredBy: Type.Object({ orgId: Type.String(), name: Type.Union([Type.String(), Type.Null()]) }),
    transactionHash: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    blockNumber: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
  }),
});
const Gap = Type.Object({
  class: Type.String(),
  subject: Type.String(),
  owner: Type.Union([Type.String(), Type.Null()]),
  reason: Type.String(),
  detail: Type.String(),
});

const static_ = { rateLimit: false } as const;
/** `?v=` on an asset URL: the content hash the page was given (explorerShell). */
const Versioned = Type.Object({ v: Type.Optional(Type.String({ maxLength: 64 })) });
const IMMUTABLE = "public, max-age=31536000, immutable";

export const explorerRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  const { db, auth, state, internal } = deps;
  const store = createProvenanceStore(db);
  const timelines = createEpcisTimelines(db, state);
  const recordReads = createRecordReads(db, state);
  const sendShell = async (reply: FastifyReply, options: ShellOptions) =>
    // It carries the reader's own answers: never stored by a shared cache, revalidated by the browser.
    reply.type("text/html; charset=utf-8").header("cache-control", "private, no-cache").send(await explorerShell(options));
  /** An explorer page with the session's answer in it (every page shows who is signed in) and the answers of `embed`. */
  const sendPage = async (request: FastifyRequest, reply: FastifyReply, embed: string[] = [], options: ShellOptions = {}) =>
    sendShell(reply, { ...options, embedded: await pageAnswers(app, request, [...EVERY_PAGE, ...embed]) });
  const html = (request: FastifyRequest, reply: FastifyReply) => sendPage(request, reply);
  // The verifier bundle is built once the node serves (esbuild works in its own process), so the
  // first lot page after a start neither waits for it nor gets its URL unversioned.
  app.addHook("onReady", async () => {
    setImmediate(() => {
      void verifierModule().catch((err: Error) => app.log.warn({ err: err.message }, "the explorer's verifier module does not build"));
      pageAbi();
      // The libraries (d3 is bundled): read and hashed before the first page names them.
      for (const name of Object.keys(VENDOR)) void vendorFile(name)!.catch((err: Error) => app.log.warn({ err: err.message, library: name }, "an explorer library cannot be read"));
    });
  });
  const pageSchema = (summary: string, params?: ReturnType<typeof Type.Object>) => ({
    summary,
    tags: ["explorer"],
    ...(params ? { params } : {}),
    response: { 200: { content: { "text/html": { schema: Type.String() } } } },
  });

  // The front page's recent recalls, asked with the HTML (its list of organisations is the directory every page carries).
  const front = (request: FastifyRequest, reply: FastifyReply) => sendPage(request, reply, [], { fetches: ["/api/v1/recalls?limit=10"] });
  app.get("/", { config: static_, schema: pageSchema("The explorer: search, recent recalls") }, front);
  app.get("/explorer", { config: static_, schema: pageSchema("The explorer's front page") }, front);
  app.get("/explorer/search", { config: static_, schema: { ...pageSchema("Explorer search results"), querystring: Type.Object({ q: Type.Optional(Type.String({ maxLength: 512 })) }) } }, html);
  app.get("/explorer/batch/:ref", { config: static_, schema: pageSchema("Explorer page of a batch", Type.Object({ ref: Type.String({ maxLength: 512 }) })) }, async (request, reply) => {
    const { ref } = request.params as { ref: string };
    const batchUrl = `/api/v1/batches/${encodeURIComponent(ref)}`;
    const [every, lotAnswered] = await Promise.all([pageAnswers(app, request, EVERY_PAGE), lotAnswers(app, request, batchUrl)]);
    const answers = { ...every, ...lotAnswered };
    const lot = lotPageOptions(readerOf(request, auth).kind !== "public", answers[batchUrl]);
    return sendShell(reply, { ...lot, embedded: { ...answers, ...lot.embedded } });
  });
  app.get("/explorer/org/:orgId", { config: static_, schema: pageSchema("Explorer page of an organisation", Type.Object({ orgId: Type.String({ maxLength: 20 }) })) }, (request, reply) => {
    const { orgId } = request.params as { orgId: string };
    // The organisation's answer is its page's first render (app.js asks for it only by an id).
    return sendPage(request, reply, /^[0-9]{1,19}$/.test(orgId) ? [`/api/v1/orgs/${orgId}`] : [], { preload: ["charts"] });
  });

  app.get(
    "/explorer/assets/:file",
    {
      config: static_,
      // Files, not API operations: left out of the OpenAPI document.
      schema: {
        hide: true,
        summary: "The explorer's own scripts and styles",
        tags: ["explorer"],
        params: Type.Object({ file: Type.String({ maxLength: 40 }) }),
        querystring: Versioned,
        response: { 404: { $ref: "Problem#" } },
      },
    },
    async (request, reply) => {
      const type = PAGE_FILES[request.params.file];
      if (!type) throw new HttpProblem(404, "not_found", `no explorer file ${request.params.file}`);
      const { content, version } = pageFile(request.params.file);
      // Cached for good only under the URL of its own content; any other URL is revalidated.
      const cache = request.query.v !== undefined && request.query.v === version ? IMMUTABLE : "no-cache";
      return reply.type(`${type}; charset=utf-8`).header("cache-control", cache).send(content);
    },
  );

  app.get(
    "/explorer/vendor/:file",
    {
      config: static_,
      schema: {
        hide: true,
        summary: "Libraries the explorer uses, from the project's node_modules",
        tags: ["explorer"],
        params: Type.Object({ file: Type.String({ maxLength: 40 }) }),
        querystring: Versioned,
        response: { 404: { $ref: "Problem#" } },
      },
    },
    async (request, reply) => {
      const library = await vendorFile(request.params.file);
      if (!library) throw new HttpProblem(404, "not_found", `no library ${request.params.file}`);
      const cache = request.query.v !== undefined && request.query.v === library.version ? IMMUTABLE : "public, max-age=3600";
      return reply.type(`${VENDOR[request.params.file].type}; charset=utf-8`).header("cache-control", cache).send(library.content);
    },
  );

  app.get(
    "/explorer/verifier.js",
    { config: static_, schema: { hide: true, summary: "The record verifier (leafOf, checkRecord) as an ES module for the browser", tags: ["explorer"], querystring: Versioned } },
    async (request, reply) => {
      const text = await verifierModule();
      return reply
        .type("text/javascript; charset=utf-8")
        .header("cache-control", request.query.v !== undefined && request.query.v === verifierVersion ? IMMUTABLE : "no-cache")
        .send(text);
    },
  );

  app.get(
    "/explorer/abi.json",
    {
      config: static_,
      schema: {
        summary: "ABI fragments the explorer calls (anchor reads, page actions)",
        tags: ["explorer"],
        response: { 200: Type.Record(Type.String(), Type.Array(Type.String())) },
      },
    },
    async () => pageAbi(),
  );

  const SessionBody = Type.Object(
    { message: Type.String({ minLength: 1, maxLength: 4096 }), signature: Type.String({ pattern: "^0x[0-9a-fA-F]{130}$" }) },
    { additionalProperties: false },
  );
  app.post(
    "/explorer/session",
    {
      schema: {
        summary: "Sign in for the explorer: a signed EIP-4361 message in, the session as an HttpOnly cookie (lotline_session) out",
        description:
          "Same checks as POST /api/v1/auth/login. The token goes only into the HttpOnly cookie; the answer carries the CSRF token that writes authenticated by the cookie must send as x-lotline-csrf.",
        tags: ["explorer", "auth"],
        body: SessionBody,
        response: {
          200: Type.Object({ address: Address, orgId: Type.String(), roles: Type.Array(RoleName), expiresAt: Iso, csrfToken: Type.String() }),
          400: { $ref: "Problem#" },
          401: { $ref: "Problem#" },
          403: { $ref: "Problem#" },
        },
      },
    },
    async (request, reply) => {
      const session = await auth.login(request.body.message, request.body.signature);
      const csrfToken = setSessionCookies(reply, session.token, deps.publicUrl());
      return { address: session.address, orgId: session.orgId, roles: session.roles, expiresAt: session.expiresAt, csrfToken };
    },
  );

  app.delete(
    "/explorer/session",
    {
      schema: {
        summary: "Sign out of the explorer (clears the session cookies)",
        tags: ["explorer", "auth"],
        response: { 200: Type.Object({ signedOut: Type.Literal(true) }), 403: { $ref: "Problem#" } },
      },
    },
    async (_request, reply) => {
      clearSessionCookies(reply, deps.publicUrl());
      return { signedOut: true as const };
    },
  );

  app.get(
    "/api/v1/recalls",
    {
      schema: {
        summary: "Recent recalls raised directly on lots (public: a lot's identity and recall status)",
        tags: ["explorer", "provenance"],
        querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })) }, { additionalProperties: false }),
        response: { 200: Type.Object({ items: Type.Array(Batch) }), 400: { $ref: "Problem#" } },
      },
    },
    async (request) => {
      const rows = prepared(db, `SELECT batch_id FROM recalls WHERE kind = 'direct' ORDER BY block_number DESC, batch_id LIMIT ?`).all(request.query.limit ?? 20) as { batch_id: string }[];
      const batches = [...store.getBatches(rows.map((r) => r.batch_id)).values()];
      return { items: readerOf(request, auth).kind === "public" ? batches.map(publicBatch) : batches.map((b) => ({ ...b, view: "member" as const })) };
    },
  );

  app.get(
    "/api/v1/search",
    {
      schema: {
        summary: "Find batches and organisations: batch id, GTIN + lot, GS1 Digital Link URI, GTIN, SSCC, organisation id or name",
        tags: ["explorer"],
        querystring: Type.Object({ q: Type.String({ minLength: 1, maxLength: 512 }) }, { additionalProperties: false }),
        response: { 200: Type.Object({ query: Type.String(), kind: Type.String(), results: Type.Array(SearchResult) }), 400: { $ref: "Problem#" } },
      },
    },
    async (request) => {
      const q = request.query.q.trim();
      const { kind, results } = search(q);
      return { query: q, kind, results };
    },
  );

  const batchResult = (b: BatchView) => ({
    type: "batch" as const,
    id: b.id,
    label: `GTIN ${b.gtin} · lot ${b.lot}${b.portionIndex ? ` · portion ${b.portionIndex}` : ""}`,
    detail: b.recall ? `recalled (${b.recall.kind})` : b.status,
    href: `/explorer/batch/${b.id}`,
  });
  /** A lot is found as its first portion (whose id is the lot id): its page shows the other portions in its lineage. */
  const lotResults = (gtin: string, lot?: string) =>
    store
      .listBatches({ gtin, lot }, { limit: 200, after: 0 })
      .items.filter((b) => b.id === b.lotId)
      .slice(0, 50)
      .map(batchResult);

  type Result = { type: "batch" | "organisation"; id: string; label: string; detail: string; href: string };
  function search(q: string): { kind: string; results: Result[] } {
    if (/^0x[0-9a-fA-F]{64}$/.test(q)) {
      const b = store.getBatch(q);
      return { kind: "batch id", results: b ? [batchResult(b)] : [] };
    }
    if (/^https?:\/\//i.test(q)) {
      let url: URL;
      try {
        url = new URL(q);
      } catch {
        throw new HttpProblem(400, "invalid_query", `"${q}" is not a URL`);
      }
      const sscc = /\/00\/([0-9]{18})(\/|$)/.exec(url.pathname);
      if (sscc) return searchSscc(sscc[1]);
      if (/\/01\/[0-9]+\/10\//.test(url.pathname)) {
        try {
          const key = parseDigitalLink(q);
          return { kind: "Digital Link", results: lotResults(key.gtin, key.lot) };
        } catch (err) {
          throw new HttpProblem(400, "invalid_query", (err as DigitalLinkError).message);
        }
      }
      const gtin = /\/01\/([0-9]{8,14})\/?$/.exec(url.pathname);
      if (gtin) return { kind: "Digital Link", results: lotResults(gtinOf(gtin[1])) };
      throw new HttpProblem(400, "invalid_query", `"${q}" is not a GS1 Digital Link (…/01/{gtin}/10/{lot}, …/01/{gtin} or …/00/{sscc})`);
    }
    const pair = /^([0-9]{8}|[0-9]{12,14})\s*(?:[\s/,;]|\(10\))\s*(\S{1,20})$/.exec(q) ?? /^\(01\)([0-9]{14})\(10\)(\S{1,20})$/.exec(q);
    if (pair && isLotNumber(pair[2])) return { kind: "GTIN + lot", results: lotResults(gtinOf(pair[1]), pair[2]) };
    if (/^[0-9]{18}$/.test(q)) return searchSscc(q);
    if (/^([0-9]{8}|[0-9]{12,14})$/.test(q)) return { kind: "GTIN", results: lotResults(gtinOf(q)) };
    const orgs = prepared(db, `SELECT org_id, name, status FROM organisations WHERE CAST(org_id AS TEXT) = ? OR name LIKE ? ESCAPE '\\' ORDER BY org_id LIMIT 20`).all(
      q,
      `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`,
    ) as { org_id: number; name: string; status: string }[];
    const lots = isLotNumber(q) ? store.listBatches({ lot: q }, { limit: 20, after: 0 }).items.map(batchResult) : [];
    return {
      kind: "organisation or lot",
      results: [
        ...orgs.map((o) => ({ type: "organisation" as const, id: String(o.org_id), label: o.name, detail: `organisation ${o.org_id} · ${o.status}`, href: `/explorer/org/${o.org_id}` })),
        ...lots,
      ],
    };
  }
  function gtinOf(raw: string): string {
    try {
      return normaliseGtin(raw);
    } catch (err) {
      throw new HttpProblem(400, "invalid_query", (err as DigitalLinkError).message);
    }
  }
  function searchSscc(sscc: string) {
    if (!hasValidCheckDigit(sscc)) throw new HttpProblem(400, "invalid_query", `"${sscc}" is not an SSCC: wrong check digit`);
    const rows = prepared(
      db,
      `SELECT DISTINCT b.batch_id FROM batches b JOIN logistic_units u ON u.unit_key = b.unit_key WHERE u.sscc = ?
       UNION SELECT batch_id FROM batch_events WHERE type = 'packed' AND json_extract(details, '$.sscc') = ?`,
    ).all(sscc, sscc) as { batch_id: string }[];
    return { kind: "SSCC", results: [...store.getBatches(rows.map((r) => r.batch_id).slice(0, 50)).values()].map(batchResult) };
  }

  app.get(
    "/api/v1/batches/:ref/records",
    {
      schema: {
        summary: "The anchored off-chain records of a batch and its lineage that the reader may see, as served, with their Merkle proofs",
        description:
          "For verification that does not trust this node: recompute each record's leaf (services/export/records.ts leafOf), check the proof to `merkleRoot`, and ask the chain for AnchorRegistry.anchorOf(owner, merkleRoot). " +
          "Records are as the node holds them — a record changed in the node's database is served changed, and fails that check. The public sees product master data only. " +
          "Records the reader may not see, and records not anchored yet, are listed as gaps.",
        tags: ["explorer", "anchoring"],
        params: Type.Object({ ref: Type.String({ minLength: 1, maxLength: 512 }) }),
        response: {
          200: Type.Object({
            root: Hex32,
            chainId: Type.Integer(),
            anchors: Type.Union([Address, Type.Null()], { description: "the AnchorRegistry to ask" }),
            records: Type.Array(ProvenRecordSchema),
            gaps: Type.Array(Gap),
          }),
          400: { $ref: "Problem#" },
          404: { $ref: "Problem#" },
          503: { $ref: "Problem#" },
        },
      },
    },
    async (request) => {
      if (!state.deployment) throw new HttpProblem(503, "not_ready", "the node is still starting");
      const reader = readerOf(request, auth);
      // A lot page asks for its records with its HTML, together with its scripts: one turn of the
      // event loop first, so the requests that arrived with this one (the scripts, answered from
      // memory) are answered before the collection holds the node's thread.
      await new Promise((resolve) => setImmediate(resolve));
      const headers: Record<string, string> = { "x-lotline-internal": internal };
      if (request.headers.authorization) headers.authorization = request.headers.authorization;
      // Through the API's own routes (as `lotline export` reads it), so the reader sees what the routes show them.
      const api = {
        url: deps.publicUrl(),
        async get<T>(url: string, extra?: Record<string, string>): Promise<T> {
          const res = await app.inject({ method: "GET", url, headers: { ...headers, ...extra } });
          const body = res.json() as T & { detail?: string; code?: string };
          // A refusal of an inner route (a malformed or unknown ref, a record not shared) is answered as that refusal, never a 500.
          if (res.statusCode >= 400 && res.statusCode < 500) throw new HttpProblem(res.statusCode, body.code ?? "refused", body.detail ?? `HTTP ${res.statusCode}`);
          if (res.statusCode >= 300) throw Object.assign(new Error(body.detail ?? `HTTP ${res.statusCode}`), { status: res.statusCode });
          return body;
        },
      };
      const root = await api.get<BatchView>(`/api/v1/batches/${encodeURIComponent(request.params.ref)}`);
      let records: ProvenRecord[];
      let gaps: BundleGap[];
      if (reader.kind === "public") ({ records, gaps } = productRecord(recordReads.productAsServed(root.gtin), root.gtin));
      else {
        // The lineage's EPCIS events as its history requests would list them for the reader, in one call.
        const epcisTimelines = (batchIds: string[]) => timelines.timelines(batchIds, reader.orgId);
        // Its records read directly with the record routes' own rules, not ~40 requests through the HTTP stack.
        ({ records, gaps } = await collectLineageRecords(api, root.id, { keepFailing: true, epcisTimelines, source: recordReads.lineageSource(reader) }));
      }
      return { root: root.id, chainId: state.deployment.chainId, anchors: state.deployment.contracts.anchors ?? null, records, gaps };
    },
  );
};

/** What the public may verify of a lot: its product's master data (public, anchored by the GTIN's owner). */
function productRecord(p: ProductAnswer, gtin: string): { records: ProvenRecord[]; gaps: BundleGap[] } {
  const subject = `GTIN ${gtin}`;
  if (!p.masterData) return { records: [], gaps: [{ class: "PRODUCT", subject, owner: p.orgId, reason: "not_verifiable", detail: "the node does not hold the master data" }] };
  const a = p.anchor;
  if (!a || a.status !== "anchored" || !a.merkleRoot || !a.anchoredBy) return { records: [], gaps: [{ class: "PRODUCT", subject, owner: p.orgId, reason: "pending", detail: "not anchored on-chain yet" }] };
  return {
    records: [
      {
        class: "PRODUCT",
        owner: p.orgId,
        recordId: a.recordId,
        record: p.masterData,
        leaf: a.leaf,
        proof: { merkleRoot: a.merkleRoot, proof: a.proof, anchoredBy: a.anchoredBy, transactionHash: a.transactionHash, blockNumber: a.blockNumber },
      },
    ],
    gaps: [],
  };
}

/** Lines for a start banner: where a newcomer opens the explorer on a node at `url`. */
export function explorerUrlLines(url: string): string[] {
  const base = url.replace(/\/$/, "");
  return [
    `Explorer         ${base}/   (search, recent recalls, sign in with a wallet)`,
    `Digital Link     ${base}/01/{gtin}/10/{lot}   (what a scanned pack opens)`,
    `Chain (read)     ${base}/rpc   (read-only JSON-RPC for in-page verification)`,
  ];
}
