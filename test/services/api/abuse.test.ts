import { expect } from "chai";
import type { FastifyInstance } from "fastify";
import { buildApp, type AppDeps } from "../../../services/api/app";
import { initialState } from "../../../services/api/state";
import { ConfigError, loadConfig } from "../../../services/config";
import { openDatabase, type Db } from "../../../services/store/db";
import { demoWallet } from "../../../services/demo/roster";
import type { TestNode } from "../../helpers/node";
import { bearer, get, sharedNode, tokenFor } from "./helpers";
import { epcisDocument, member } from "../epcis/helpers";

/**
 * Abuse costs the abuser (issue 12): rate limits weighted by a route's cost, the client's address
 * behind a trusted proxy (and only then), per-organisation storage quotas for captured EPCIS
 * documents, and limits on trace depth and lineage result sizes, each answered with a problem
 * document. The limits are configuration, so each test builds the HTTP application with its own
 * (on an empty database, or on the shared node's database and state where it needs the demo's data).
 */
const SOME_BATCH = `0x${"ab".repeat(32)}`;

describe("abuse costs the abuser", function () {
  describe("rate limits weighted by route cost", function () {
    const LIMIT = 20;
    let db: Db;
    let app: FastifyInstance;

    async function appWith(config: Partial<AppDeps["config"]> = {}): Promise<FastifyInstance> {
      return buildApp({ config: { rateLimit: LIMIT, finalityDepth: 0, ...config }, publicUrl: () => "http://127.0.0.1:8080", db, state: initialState() });
    }

    // One application for the describe (building one takes seconds): each test limits its own client addresses.
    before(async function () {
      db = openDatabase(":memory:");
      app = await appWith();
    });

    after(async function () {
      await app.close();
      db.close();
    });

    const remaining = (res: { headers: Record<string, unknown> }) => Number(res.headers["x-ratelimit-remaining"]);

    it("counts a lineage trace by its depth: the default depth of 50 as 6 requests, a depth of 10 as 2", async function () {
      const deep = await app.inject({ method: "GET", url: `/api/v1/batches/${SOME_BATCH}/trace`, remoteAddress: "10.0.1.1" });
      expect(remaining(deep)).to.equal(LIMIT - 6);
      const shallow = await app.inject({ method: "GET", url: `/api/v1/batches/${SOME_BATCH}/trace?maxDepth=10`, remoteAddress: "10.0.1.1" });
      expect(remaining(shallow)).to.equal(LIMIT - 8);
    });

    it("counts a capture by its size: one unit per started 64 KiB", async function () {
      const body = JSON.stringify({ padding: "x".repeat(200_000) });
      const res = await app.inject({ method: "POST", url: "/epcis/capture", payload: body, headers: { "content-type": "application/json" }, remoteAddress: "10.0.2.1" });
      expect(res.statusCode).to.equal(401);
      expect(remaining(res)).to.equal(LIMIT - (1 + Math.ceil(Buffer.byteLength(body) / 65_536)));
    });

    it("refuses a client that spent its budget on recall impacts with 429, naming the route's weight", async function () {
      const url = `/api/v1/batches/${SOME_BATCH}/recall-impact`;
      for (let i = 0; i < LIMIT / 10; i++) expect((await app.inject({ method: "GET", url, remoteAddress: "10.0.3.1" })).statusCode).to.not.equal(429);
      const refused = await app.inject({ method: "GET", url, remoteAddress: "10.0.3.1" });
      expect(refused.statusCode).to.equal(429);
      expect(refused.json()).to.include({ code: "rate_limited", status: 429 });
      expect(refused.json().detail).to.include("counts as 10 requests");
      // Another client's cheap reads are untouched.
      expect((await app.inject({ method: "GET", url: "/health", remoteAddress: "10.0.3.2" })).statusCode).to.equal(200);
    });

    it("counts a client that sends the node's internal header with a value of its own (the warm-up's and the explorer's secret is per process)", async function () {
      const url = `/api/v1/batches/${SOME_BATCH}/recall-impact`;
      const forged = ["1", "", "0".repeat(64), "f".repeat(64), "x".repeat(200)];
      for (const [i, value] of forged.entries()) {
        const res = await app.inject({ method: "GET", url, remoteAddress: `10.0.9.${i + 1}`, headers: { "x-lotline-internal": value } });
        expect(remaining(res), `forged header "${value.slice(0, 8)}…"`).to.equal(LIMIT - 10);
      }
    });

    it("counts requests refused before their route runs (unauthenticated, unknown routes)", async function () {
      for (let i = 0; i < LIMIT; i++) await app.inject({ method: "GET", url: `/no/such/route/${i}`, remoteAddress: "10.0.4.1" });
      expect((await app.inject({ method: "GET", url: "/health", remoteAddress: "10.0.4.1" })).statusCode).to.equal(429);
    });

    it("refuses to let a client escape its budget by forging X-Forwarded-For when no proxy is trusted", async function () {
      for (let i = 0; i < LIMIT; i++) {
        await app.inject({ method: "GET", url: "/health", remoteAddress: "10.0.5.1", headers: { "x-forwarded-for": `198.51.100.${i}` } });
      }
      const res = await app.inject({ method: "GET", url: "/health", remoteAddress: "10.0.5.1", headers: { "x-forwarded-for": "198.51.100.250" } });
      expect(res.statusCode).to.equal(429);
    });

    it("limits each real client behind a trusted proxy by its own address (LOTLINE_TRUST_PROXY)", async function () {
      const proxied = await appWith({ trustProxy: ["127.0.0.1"] });
      try {
        const viaProxy = (client: string) =>
          proxied.inject({ method: "GET", url: "/health", remoteAddress: "127.0.0.1", headers: { "x-forwarded-for": client } });
        for (let i = 0; i < LIMIT; i++) await viaProxy("203.0.113.7");
        expect((await viaProxy("203.0.113.7")).statusCode).to.equal(429);
        expect((await viaProxy("203.0.113.8")).statusCode).to.equal(200);
        // A header from a peer that is not the trusted proxy is still ignored.
        for (let i = 0; i <= LIMIT; i++) await proxied.inject({ method: "GET", url: "/health", remoteAddress: "10.9.9.9", headers: { "x-forwarded-for": `203.0.113.${100 + i}` } });
        expect((await proxied.inject({ method: "GET", url: "/health", remoteAddress: "10.9.9.9", headers: { "x-forwarded-for": "203.0.113.200" } })).statusCode).to.equal(429);
      } finally {
        await proxied.close();
      }
    });

    it("reads LOTLINE_TRUST_PROXY as false, true, a hop count or proxy addresses, and refuses anything else", function () {
      const trust = (value?: string) => loadConfig({ LOTLINE_TRUST_PROXY: value }).trustProxy;
      expect(trust()).to.equal(false);
      expect(trust("true")).to.equal(true);
      expect(trust("2")).to.equal(2);
      expect(trust("10.0.0.1, 192.168.0.0/16, ::1")).to.deep.equal(["10.0.0.1", "192.168.0.0/16", "::1"]);
      expect(() => trust("proxy.example")).to.throw(ConfigError, /LOTLINE_TRUST_PROXY/);
    });
  });

  describe("limits on lineage walks and captured storage", function () {
    this.timeout(120_000);
    let node: TestNode;
    let auditorToken: string;
    let producerToken: string;
    /** A demo batch with at least two neighbours in its lineage. */
    let batchWithLineage: string;

    before(async function () {
      node = await sharedNode();
      await node.synced();
      auditorToken = await tokenFor(node, demoWallet(member("auditor").account));
      producerToken = await tokenFor(node, demoWallet(member("producer").account));
      const row = node.db
        .prepare(`SELECT from_batch AS id FROM lineage_edges GROUP BY from_batch HAVING COUNT(*) >= 2 ORDER BY from_batch LIMIT 1`)
        .get() as { id: string } | undefined;
      expect(row, "the demo has a batch with two outputs").to.not.equal(undefined);
      batchWithLineage = row!.id;
    });

    /** The shared node's data and sessions behind an application with tight limits (the shared node serves the defaults). */
    let tight: FastifyInstance;
    const PRODUCER_ORG = 1;
    const usedBy = (orgId: number) => (node.db.prepare(`SELECT bytes FROM epcis_org_usage WHERE org_id = ?`).get(orgId) as { bytes: number } | undefined)?.bytes ?? 0;
    before(async function () {
      tight = await buildApp({
        config: { ...node.config, maxTraceDepth: 5, maxResultItems: 2, epcisQuotaBytes: usedBy(PRODUCER_ORG) + 100 },
        publicUrl: () => node.url,
        db: node.db,
        state: node.state,
      });
    });
    after(async function () {
      await tight?.close();
    });
    const getAs = (on: FastifyInstance, token: string, url: string) => on.inject({ method: "GET", url, headers: bearer(token) });

    it("refuses a trace deeper than LOTLINE_MAX_TRACE_DEPTH with a trace_too_deep problem", async function () {
      const res = await getAs(tight, auditorToken, `/api/v1/batches/${batchWithLineage}/trace?maxDepth=6`);
      expect(res.statusCode).to.equal(400);
      expect(res.headers["content-type"]).to.match(/^application\/problem\+json/);
      expect(res.json()).to.include({ code: "trace_too_deep" });
      expect(res.json().detail).to.include("LOTLINE_MAX_TRACE_DEPTH");
    });

    it("refuses a trace reaching more batches than LOTLINE_MAX_RESULT_ITEMS with result_too_large; the default limits serve it", async function () {
      const url = `/api/v1/batches/${batchWithLineage}/trace?direction=downstream&maxDepth=1`;
      const refused = await getAs(tight, auditorToken, url);
      expect(refused.statusCode).to.equal(422);
      expect(refused.json()).to.include({ code: "result_too_large" });
      const served = await get(node, url);
      expect(served.status).to.equal(200);
      expect(served.body.nodes.length).to.be.at.least(3);
    });

    it("refuses a recall impact reaching more batches than LOTLINE_MAX_RESULT_ITEMS with result_too_large", async function () {
      const res = await getAs(tight, auditorToken, `/api/v1/batches/${batchWithLineage}/recall-impact`);
      expect(res.statusCode).to.equal(422);
      expect(res.json()).to.include({ code: "result_too_large" });
    });

    it("counts the bytes of each organisation's captured documents", function () {
      const rows = node.db.prepare(`SELECT org_id, SUM(length(CAST(document AS BLOB))) AS bytes FROM epcis_captures GROUP BY org_id`).all() as { org_id: number; bytes: number }[];
      for (const row of rows) {
        const usage = node.db.prepare(`SELECT bytes FROM epcis_org_usage WHERE org_id = ?`).get(row.org_id) as { bytes: number };
        expect(usage.bytes, `organisation ${row.org_id}`).to.equal(row.bytes);
      }
    });

    it("refuses a capture that would pass the organisation's storage quota with quota_exceeded, storing nothing", async function () {
      const on = tight;
      const captures = () => (node.db.prepare(`SELECT COUNT(*) AS n FROM epcis_captures`).get() as { n: number }).n;
      const before = captures();
      const doc = epcisDocument([
        {
          type: "ObjectEvent",
          eventTime: "2024-03-10T12:00:00.000Z",
          eventTimeZoneOffset: "+00:00",
          action: "OBSERVE",
          epcList: ["urn:epc:id:sgtin:4012345.077889.QUOTA"],
        },
      ]);
      const res = await on.inject({
        method: "POST",
        url: "/epcis/capture",
        payload: JSON.stringify(doc),
        headers: { ...bearer(producerToken), "content-type": "application/ld+json" },
      });
      expect(res.statusCode, res.body).to.equal(413);
      expect(res.json()).to.include({ code: "quota_exceeded" });
      expect(res.json().detail).to.include("LOTLINE_EPCIS_QUOTA_BYTES");
      expect(captures()).to.equal(before);
    });
  });
});
