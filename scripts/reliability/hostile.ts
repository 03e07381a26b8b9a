import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import fc from "fast-check";
import { Wallet } from "ethers";
import { INTERFACES } from "../../services/chain/contracts";
import { demoWallet, RELAYER_ACCOUNT } from "../../services/demo/roster";
import { DERIVED_TABLES } from "../../services/store/migrations";
import { writeDeploymentFile } from "../../test/helpers/chain";
import { freePort } from "../../test/helpers/ports";
import { bearer, Cleanup, nodeEnv, progress, Report, signIn, sleep, spawnNode, tokenFor, type ChainContext, type Rng } from "./util";

const INTEGRATION = 10;
const RETAILER = { account: 6, org: 6 };

interface Route {
  method: string;
  path: string;
}

/** Strings an attacker tries: SQL metacharacters, traversal, markup, control and odd Unicode, huge numbers. */
const NASTY = [
  "' OR 1=1 --",
  "\"; DROP TABLE lots; --",
  "1; SELECT * FROM sessions",
  "%' UNION SELECT token_hash FROM sessions --",
  "../../../../etc/passwd",
  "<script>alert(1)</script>",
  "\u0000",
  "\uFEFF\u202E",
  "\uD800",
  "9".repeat(400),
  "-1",
  "1e400",
  "0x" + "f".repeat(64),
  "18446744073709551616",
  "NaN",
  "${jndi:ldap://x}",
  "%00",
  "{{7*7}}",
];

/** Percent-encodes anything, lone surrogates included (as the replacement character's UTF-8). */
function enc(text: string): string {
  try {
    return encodeURIComponent(text);
  } catch {
    return [...Buffer.from(text)].map((b) => `%${b.toString(16).padStart(2, "0").toUpperCase()}`).join("");
  }
}

const nastyString = fc.oneof(fc.constantFrom(...NASTY), fc.string({ maxLength: 40 }), fc.string({ unit: "binary", maxLength: 20 }));

/** A path segment: nasty text, percent-encoded; sometimes raw invalid UTF-8 percent escapes. */
const segment = fc.oneof(
  nastyString.map((s) => enc(s).replace(/%2F/g, "%252F") || "x"),
  fc.constantFrom("%C3%28", "%FF%FE", "%E2%82", "%ED%A0%80", "..%2F..%2F", "%2e%2e"),
);

function deepNest(depth: number): string {
  return "[".repeat(depth) + "]".repeat(depth);
}

/** Bodies: malformed, oversized, deeply nested, invalid UTF-8, huge numbers, random JSON. */
const body = fc.oneof(
  fc.constant({ kind: "malformed", bytes: Buffer.from('{"a": [1, 2,, }') }),
  fc.constant({ kind: "truncated", bytes: Buffer.from('{"address": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8", "x": ') }),
  fc.integer({ min: 100, max: 20_000 }).map((d) => ({ kind: "nested", bytes: Buffer.from(d > 5_000 ? deepNest(d) : `${'{"a":'.repeat(d)}1${"}".repeat(d)}`) })),
  fc.constant({ kind: "oversized", bytes: Buffer.from(JSON.stringify({ data: "x".repeat(3 * 1024 * 1024) })) }),
  fc.constant({ kind: "invalid-utf8", bytes: Buffer.concat([Buffer.from('{"name": "'), Buffer.from([0xc3, 0x28, 0xff, 0xfe, 0xed, 0xa0, 0x80]), Buffer.from('"}')]) }),
  fc.constant({ kind: "huge-numbers", bytes: Buffer.from('{"quantity": 1e400, "orderId": 18446744073709551616, "amount": -0, "deadline": 99999999999999999999999}') }),
  fc.dictionary(nastyString, fc.oneof(nastyString, fc.integer(), fc.double(), fc.boolean(), fc.constant(null)), { maxKeys: 6 }).map((o) => ({
    kind: "random-json",
    bytes: Buffer.from(JSON.stringify(o)),
  })),
  fc.anything({ maxDepth: 4 }).map((o) => ({ kind: "anything", bytes: Buffer.from(JSON.stringify(o) ?? "null") })),
);

const contentType = fc.constantFrom(
  "application/json",
  "application/ld+json",
  "text/plain",
  "application/xml",
  "multipart/form-data; boundary=x",
  "application/json; charset=latin1",
  "",
);

/**
 * What the node's own jobs write while requests are refused (anchoring rounds, the audit log — which
 * records refused writes on purpose —, deliveries, federation answers, scores): not a request's doing.
 */
const BACKGROUND_TABLES = /^(meta|anchor_.*|audit_.*|webhook_.*|notifications.*|federation_.*|quality_scores)$/;

/** Rows of every table a request could write (everything but derived tables, the session bookkeeping and background jobs' tables). */
function primaryCounts(db: Database.Database): Record<string, number> {
  const tables = (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`).all() as { name: string }[])
    .map((t) => t.name)
    .filter(
      (t) =>
        !(DERIVED_TABLES as readonly string[]).includes(t) && !/nonce|session|journal|checkpoint|block|metric|rate/i.test(t) && !BACKGROUND_TABLES.test(t),
    );
  return Object.fromEntries(tables.map((t) => [t, (db.prepare(`SELECT COUNT(*) AS n FROM "${t}"`).get() as { n: number }).n]));
}

/**
 * Every route of a running node (from its OpenAPI document) fuzzed with fast-check: nasty path
 * segments and query strings, malformed / oversized / deeply nested / invalid UTF-8 bodies, wrong
 * content types, huge numbers, with no token, a forged one and a member's. Never a 5xx, never a
 * crash, never a row written by a refused request. Then SIWE: a login replayed, forged, expired, and
 * a token used after its organisation is suspended. Last, the node's whole log is scanned for its
 * keys and every token it issued.
 */
export async function hostileHarness(ctx: ChainContext, random: Rng, quick: boolean, cleanup: Cleanup): Promise<Report> {
  const report = new Report("hostile");
  const runsPerRoute = quick ? 25 : 400;
  const dataDir = cleanup.tempDir("hostile");
  const integrationKey = demoWallet(INTEGRATION).privateKey;
  const relayerKey = demoWallet(RELAYER_ACCOUNT).privateKey;
  const node = await spawnNode(
    nodeEnv(ctx, dataDir, writeDeploymentFile(dataDir, ctx.deployment), { LOTLINE_INTEGRATION_KEY: integrationKey, LOTLINE_LOG_LEVEL: "debug", LOTLINE_RATE_LIMIT: "100000" }),
    await freePort(),
  );
  cleanup.add(() => node.kill());
  await node.ready();
  const issued: string[] = [];
  const member = await tokenFor(node.url, demoWallet(1));
  issued.push(member);
  const spec = (await (await fetch(`${node.url}/docs/json`)).json()) as { paths: Record<string, Record<string, unknown>> };
  const routes: Route[] = Object.entries(spec.paths).flatMap(([p, methods]) =>
    Object.keys(methods)
      .filter((m) => ["get", "post", "put", "patch", "delete"].includes(m))
      .map((m) => ({ method: m.toUpperCase(), path: p })),
  );
  const db = new Database(path.join(dataDir, "lotline.sqlite"), { readonly: true });
  cleanup.add(() => db.close());
  report.try(`${routes.length} routes × ${runsPerRoute} fast-check runs: nasty path segments and queries, bodies malformed/oversized/nested/invalid UTF-8/huge numbers, 7 content types, 3 kinds of caller`);

  let requests = 0;
  const statuses = new Map<number, number>();
  const fiveXX: string[] = [];
  const partial: string[] = [];
  for (const route of routes) {
    const write = route.method !== "GET";
    await fc.assert(
      fc
        .asyncProperty(
          fc.array(segment, { minLength: 6, maxLength: 6 }),
          fc.array(fc.tuple(fc.oneof(nastyString, fc.constantFrom("limit", "cursor", "depth", "direction", "eventType", "GE_eventTime")), nastyString), { maxLength: 3 }),
          body,
          contentType,
          fc.constantFrom("none", "forged", "member"),
          async (segments, query, payload, type, caller) => {
            let i = 0;
            const url =
              node.url +
              route.path.replace(/\{[^}]+\}/g, () => segments[i++]!) +
              (query.length ? `?${query.map(([k, v]) => `${enc(k)}=${enc(v)}`).join("&")}` : "");
            const headers: Record<string, string> = {};
            if (type) headers["content-type"] = type;
            if (caller === "forged") headers.authorization = `Bearer ${Buffer.from(random.next().toString()).toString("base64url")}`;
            if (caller === "member") Object.assign(headers, bearer(member));
            const before = write ? JSON.stringify(primaryCounts(db)) : "";
            let status: number;
            try {
              const res = await fetch(url, { method: route.method, headers, body: write ? payload.bytes : undefined, signal: AbortSignal.timeout(20_000) });
              status = res.status;
              await res.arrayBuffer();
            } catch (err) {
              if (node.child.exitCode !== null || node.child.signalCode !== null) {
                report.check(false, `${route.method} ${route.path}: the node crashed`, `${payload.kind}: ${(err as Error).message}`);
                throw err;
              }
              // Refusing a 3 MB upload by closing the connection is an answer, not a crash.
              status = 0;
            }
            requests++;
            statuses.set(status, (statuses.get(status) ?? 0) + 1);
            if (status >= 500) fiveXX.push(`${route.method} ${url.slice(node.url.length, 160)} (${payload.kind}, ${type || "no content type"}, ${caller}) → ${status}`);
            if (write && status >= 400) {
              const after = JSON.stringify(primaryCounts(db));
              if (after !== before) partial.push(`${route.method} ${route.path} (${payload.kind}) → ${status} changed ${before} → ${after}`);
            }
          },
        ),
      { numRuns: runsPerRoute, seed: Math.floor(random.next() * 2 ** 31), endOnFailure: true },
    ).catch((err: Error) => report.check(false, `${route.method} ${route.path}: the fuzzing itself failed`, err.message.slice(0, 400)));
    if (node.child.exitCode !== null || node.child.signalCode !== null) break;
  }
  report.check(fiveXX.length === 0, `never a 5xx (${fiveXX.length} seen)`, fiveXX.slice(0, 8).join(" | "));
  report.check(partial.length === 0, "nothing written by a refused request", partial.slice(0, 5).join(" | "));
  const alive = node.child.exitCode === null && node.child.signalCode === null && (await fetch(`${node.url}/health`).then((r) => r.status === 200, () => false));
  report.check(alive, "the node is alive after the fuzzing");
  report.try(`${requests} requests; statuses ${[...statuses.entries()].sort().map(([s, n]) => `${s}×${n}`).join(", ")}`);
  progress(`hostile: ${requests} fuzzed requests`);

  // SIWE.
  const wallet = demoWallet(1);
  const first = await signIn(node.url, wallet);
  issued.push(first.body.token as string);
  const replay = await fetch(`${node.url}/api/v1/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ message: first.message, signature: first.signature }),
  });
  report.check(replay.status === 401, "a replayed SIWE login is refused", `HTTP ${replay.status}`);
  const stranger = Wallet.createRandom();
  const forgedNonce = await signIn(node.url, {
    address: wallet.address,
    signMessage: (m: string) => stranger.signMessage(m),
  });
  report.check(forgedNonce.status === 401, "a SIWE message signed by another key is refused", `HTTP ${forgedNonce.status}`);
  const expired = await signIn(node.url, wallet, { issuedAt: new Date(Date.now() - 3_600_000).toISOString(), expirationTime: new Date(Date.now() - 60_000).toISOString() });
  report.check(expired.status === 401 || expired.status === 400, "an expired SIWE message is refused", `HTTP ${expired.status}`);
  const forgedToken = await fetch(`${node.url}/api/v1/auth/session`, { headers: bearer(member.slice(0, -4) + "AAAA") });
  report.check(forgedToken.status === 401 || forgedToken.status === 404, "an altered token is refused", `HTTP ${forgedToken.status}`);
  // Suspension: the retailer's token stops working once its organisation is suspended on-chain.
  const retailer = await tokenFor(node.url, demoWallet(RETAILER.account));
  issued.push(retailer);
  const governor = demoWallet(0).address;
  const send = (data: string) => ctx.rpc.call<string>("eth_sendTransaction", [{ from: governor, to: ctx.deployment.contracts.registry, data, gas: "0x100000" }]);
  await send(INTERFACES.registry.encodeFunctionData("suspendOrganisation", [RETAILER.org, "reliability harness"]));
  let suspendedStatus = 0;
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    suspendedStatus = (await fetch(`${node.url}/api/v1/orgs/1`, { headers: bearer(retailer) })).status;
    const signInAgain = suspendedStatus === 403 ? (await signIn(node.url, demoWallet(RETAILER.account))).status : 0;
    if (suspendedStatus === 403 && signInAgain === 403) break;
    await sleep(200);
  }
  report.check(suspendedStatus === 403, "a token of a suspended organisation's agent is refused", `HTTP ${suspendedStatus}`);
  await send(INTERFACES.registry.encodeFunctionData("reinstateOrganisation", [RETAILER.org]));
  report.try("SIWE: a login replayed, signed by another key, expired; a token altered; a token used after its organisation's suspension");

  // The log: no key, no token.
  await node.kill();
  const log = node.output();
  const secrets: [string, string][] = [
    ["the integration key", integrationKey.slice(2)],
    ["the relayer key", relayerKey.slice(2)],
    ...issued.map((t, i) => [`issued token ${i + 1}`, t] as [string, string]),
  ];
  const leaked = secrets.filter(([, s]) => log.toLowerCase().includes(s.toLowerCase())).map(([name]) => name);
  report.check(leaked.length === 0, "no key or token in the node's log", `found ${leaked.join(", ")}`);
  fs.writeFileSync(path.join(dataDir, "node.log"), log);
  report.try(`scanned ${log.split("\n").length} log lines (level debug) for 2 keys and ${issued.length} tokens`);
  if (report.violations.length === 0)
    report.hold(`${requests} hostile requests: no 5xx, no crash, no partial write; SIWE replay/forgery/expiry/suspension refused; no key or token in ${log.length} bytes of log`);
  return report;
}
