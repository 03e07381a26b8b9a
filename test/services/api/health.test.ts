import { expect } from "chai";
import type { TestNode } from "../../helpers/node";
import { get, sharedNode } from "./helpers";

describe("API operations endpoints", function () {
  let node: TestNode;

  before(async function () {
    this.timeout(120_000);
    node = await sharedNode();
  });

  describe("GET /health", function () {
    it("reports the chain id, head, indexed block and lag as numbers", async function () {
      const res = await get(node, "/health");
      expect(res.status).to.equal(200);
      expect(res.body.chainId).to.equal(31337);
      for (const field of ["headBlock", "indexedBlock", "lagBlocks"]) {
        expect(res.body[field], field).to.be.a("number");
        expect(Number.isInteger(res.body[field]), field).to.equal(true);
      }
      expect(res.body.headBlock).to.be.greaterThan(0);
      expect(res.body.indexedBlock).to.be.at.most(res.body.headBlock);
      expect(res.body.lagBlocks).to.be.at.least(0);
    });

    it("reports the relayer's address and balance in wei as a decimal string", async function () {
      const res = await get(node, "/health");
      expect(res.body.relayer.address).to.match(/^0x[0-9a-fA-F]{40}$/);
      expect(res.body.relayer.balanceWei)
        .to.be.a("string")
        .and.match(/^[0-9]+$/);
      // /health reads a balance refreshed in the background (it never waits on the chain), so it
      // may trail the chain by one refresh; it is the relayer's real, funded balance.
      const onChain = await node.provider.getBalance(res.body.relayer.address);
      expect(BigInt(res.body.relayer.balanceWei)).to.be.greaterThan(0n).and.at.least(onChain);
    });

    it("says ok once the node is booted and synced", async function () {
      await node.synced();
      const res = await get(node, "/health");
      expect(res.body).to.include({ status: "ok", phase: "ready", error: null });
    });
  });

  describe("GET /ready", function () {
    it("answers 200 after boot", async function () {
      const res = await get(node, "/ready");
      expect(res.status).to.equal(200);
      expect(res.body).to.deep.equal({ ready: true });
    });
  });

  describe("GET /metrics", function () {
    it("serves Prometheus text with the indexer's indexed block", async function () {
      const res = await get(node, "/metrics");
      expect(res.status).to.equal(200);
      expect(res.contentType).to.match(/^text\/plain/);
      expect(res.text).to.match(/^# HELP lotline_indexer_indexed_block /m);
      expect(res.text).to.match(/^# TYPE lotline_indexer_indexed_block gauge$/m);
      const sample = /^lotline_indexer_indexed_block (\d+)$/m.exec(res.text);
      expect(sample, "a lotline_indexer_indexed_block sample").to.not.equal(null);
      expect(Number(sample![1])).to.be.greaterThan(0);
    });

    it("counts HTTP requests by method and status", async function () {
      await get(node, "/api/v1/orgs/99"); // a 404
      const res = await get(node, "/metrics");
      expect(res.text).to.match(/^lotline_http_requests_total\{method="GET",status="404"\} [1-9]\d*$/m);
    });

    it("shows the pending transactions of each node key's sender and the longest event-loop stall", async function () {
      const res = await get(node, "/metrics");
      expect(res.text).to.match(/^lotline_pending_transactions\{key="relayer"\} \d+$/m);
      expect(res.text).to.match(/^lotline_pending_transactions\{key="integration"\} \d+$/m);
      expect(res.text).to.match(/^lotline_sender_nonce_resyncs\{key="relayer"\} \d+$/m);
      expect(res.text).to.match(/^lotline_event_loop_max_stall_seconds \d+(\.\d+)?(e-?\d+)?$/m);
    });
  });

  describe("GET /docs/json", function () {
    const ROUTES: Record<string, string[]> = {
      "/api/v1/allocation-rules": ["get"],
      "/api/v1/orgs": ["get"],
      "/api/v1/orgs/{orgId}": ["get"],
      "/api/v1/agents/{address}": ["get"],
      "/api/v1/auth/nonce": ["post"],
      "/api/v1/auth/login": ["post"],
      "/api/v1/auth/session": ["get"],
      "/api/v1/relay": ["post"],
      "/health": ["get"],
      "/ready": ["get"],
      "/metrics": ["get"],
    };

    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    let doc: any;
    before(async function () {
      const res = await get(node, "/docs/json");
      expect(res.status).to.equal(200);
      doc = res.body;
    });

    it("is an OpenAPI 3 document", async function () {
      expect(doc.openapi).to.match(/^3\.\d+\.\d+$/);
      expect(doc.info.title).to.be.a("string").that.is.not.empty;
    });

    it("lists every route with its method", async function () {
      for (const [path, methods] of Object.entries(ROUTES)) {
        expect(doc.paths, path).to.have.property(path);
        for (const method of methods) expect(doc.paths[path], `${method} ${path}`).to.have.property(method);
      }
    });

    it("gives every operation a response schema for its success status", async function () {
      for (const [path, ops] of Object.entries<
        Record<string, { responses?: Record<string, { content?: Record<string, { schema?: unknown }> }> }>
      >(doc.paths)) {
        for (const [method, op] of Object.entries(ops)) {
          const statuses = Object.keys(op.responses ?? {});
          const success = statuses.filter((s) => s.startsWith("2"));
          expect(success, `${method} ${path} has a 2xx response`).to.not.be.empty;
          for (const status of success) {
            const content = Object.values(op.responses![status].content ?? {});
            expect(content, `${method} ${path} ${status} content`).to.not.be.empty;
            for (const media of content) expect(media.schema, `${method} ${path} ${status} schema`).to.be.an("object");
          }
        }
      }
    });

    it("documents the problem responses of every API route with a schema", async function () {
      for (const [path, ops] of Object.entries<
        Record<string, { parameters?: unknown[]; requestBody?: unknown; responses: Record<string, { content?: Record<string, { schema?: unknown }> }> }>
      >(doc.paths)) {
        if (!path.startsWith("/api/v1/")) continue;
        for (const [method, op] of Object.entries(ops)) {
          const errors = Object.keys(op.responses).filter((s) => /^[45]/.test(s));
          expect(errors, `${method} ${path} documents its error responses`).to.not.be.empty;
          // A route that takes input documents how it refuses bad input.
          if (op.parameters?.length || op.requestBody) expect(errors, `${method} ${path} documents 400`).to.include("400");
          for (const status of errors) {
            const content = Object.values(op.responses[status].content ?? {});
            expect(content, `${method} ${path} ${status}`).to.not.be.empty;
            for (const media of content) expect(media.schema, `${method} ${path} ${status} schema`).to.be.an("object");
          }
        }
      }
    });

    it("resolves every $ref to a schema in components", async function () {
      const refs = new Set<string>();
      JSON.stringify(doc, (key, value) => {
        if (key === "$ref" && typeof value === "string") refs.add(value);
        return value;
      });
      for (const ref of refs) {
        expect(ref, "local reference").to.match(/^#\/components\/schemas\//);
        const name = ref.replace("#/components/schemas/", "");
        expect(doc.components?.schemas, ref).to.have.property(name);
      }
    });
  });
});
