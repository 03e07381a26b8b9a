import http from "node:http";
import type { AddressInfo } from "node:net";
import { expect } from "chai";
import { createRpcClient, RetryableRpcError, RpcError, withRetry } from "../../../services/chain/rpc";
import { dumpDerivedTables, openDatabase } from "../../../services/store/db";
import { createLotlineIndexer } from "../../../services/indexer/lotline";
import { deployDemo, freshRebuildDump, startAnvil } from "../../helpers/chain";

/** A JSON-RPC proxy on loopback that answers HTTP 503 to every `failEvery`-th request. */
async function flakyProxy(target: string, failEvery: number) {
  let count = 0;
  let failures = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      if (++count % failEvery === 0) {
        failures++;
        res.writeHead(503).end("busy");
        return;
      }
      const upstream = await fetch(target, { method: "POST", headers: { "content-type": "application/json" }, body: Buffer.concat(chunks) });
      res.writeHead(upstream.status, { "content-type": "application/json" }).end(await upstream.text());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    failures: () => failures,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * A JSON-RPC "node" on loopback whose every answer is `answer(request)`: a raw HTTP exchange written
 * by hand, so a test can cut a body short or answer another request's id.
 */
async function badNode(answer: (request: { id: number }, res: http.ServerResponse) => void) {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => answer(JSON.parse(Buffer.concat(chunks).toString()) as { id: number }, res));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function errorOf(call: Promise<unknown>): Promise<unknown> {
  try {
    await call;
  } catch (err) {
    return err;
  }
  throw new Error("the call succeeded");
}

describe("RPC answers a client must not take", function () {
  it("a body cut short mid-transfer is a retryable error, not an answer", async function () {
    const node = await badNode((request, res) => {
      const text = JSON.stringify({ jsonrpc: "2.0", id: request.id, result: [{ blockNumber: "0x63" }] });
      res.writeHead(200, { "content-type": "application/json", "content-length": text.length });
      res.write(text.slice(0, 20));
      setTimeout(() => res.socket?.destroy(), 10);
    });
    const err = await errorOf(createRpcClient(node.url, { timeoutMs: 2_000 }).call("eth_getLogs", [{}]));
    expect(err).to.be.instanceOf(RetryableRpcError);
    expect((err as Error).message).to.match(/unreadable response|cannot reach/);
    await node.close();
  });

  it("an answer naming another request's id is a retryable error, not this call's result", async function () {
    const node = await badNode((request, res) =>
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id: request.id + 1, result: "0x5" })),
    );
    const err = await errorOf(createRpcClient(node.url).blockNumber());
    expect(err).to.be.instanceOf(RetryableRpcError);
    expect((err as Error).message).to.match(/answer for request 2, not 1/);
    await node.close();
  });

  it("valid JSON that is not a JSON-RPC answer (null, a list, an empty object) is a retryable error", async function () {
    for (const text of ["null", "[]", "{}", '"0x5"']) {
      const node = await badNode((_request, res) => res.writeHead(200, { "content-type": "application/json" }).end(text));
      const err = await errorOf(createRpcClient(node.url).blockNumber());
      expect(err, text).to.be.instanceOf(RetryableRpcError);
      await node.close();
    }
  });
});

describe("RPC failures", function () {
  it("the indexer retries failed RPC calls with backoff and indexes everything", async function () {
    const chain = await startAnvil();
    const demo = await deployDemo(chain.url);
    const proxy = await flakyProxy(chain.url, 4);
    const db = openDatabase(":memory:");
    const indexer = createLotlineIndexer(
      { db, rpc: createRpcClient(proxy.url), deployment: demo.deployment },
      { finalityDepth: 0, reorgWindow: 64, logRange: 2_000, rpcUrl: proxy.url },
    );
    await indexer.syncToHead();
    expect(proxy.failures()).to.be.greaterThan(5);
    expect(dumpDerivedTables(db)).to.equal(await freshRebuildDump(chain.url, demo.deployment));
    db.close();
    await proxy.close();
    demo.provider.destroy();
    await chain.stop();
  });

  it("types an unreachable node as retryable", async function () {
    const rpc = createRpcClient("http://127.0.0.1:9", { timeoutMs: 1_000 });
    let error: unknown;
    await rpc.blockNumber().catch((err) => (error = err));
    expect(error).to.be.instanceOf(RetryableRpcError);
  });

  it("does not retry an error the node gives for a bad request", async function () {
    const chain = await startAnvil();
    let attempts = 0;
    const rpc = createRpcClient(chain.url);
    let error: unknown;
    await withRetry(() => {
      attempts++;
      return rpc.call("eth_noSuchMethod");
    }).catch((err) => (error = err));
    expect(error).to.be.instanceOf(RpcError).and.not.instanceOf(RetryableRpcError);
    expect(attempts).to.equal(1);
    await chain.stop();
  });

  it("gives up after the configured attempts", async function () {
    let attempts = 0;
    let error: unknown;
    await withRetry(
      async () => {
        attempts++;
        throw new RetryableRpcError("still down");
      },
      { attempts: 3, baseMs: 1 },
    ).catch((err) => (error = err));
    expect(attempts).to.equal(3);
    expect((error as Error).message).to.equal("still down");
  });
});
