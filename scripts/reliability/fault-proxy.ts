import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Rng } from "./util";

/** The faults a JSON-RPC node or the network between can throw at a client. */
export const FAULTS = ["latency", "drop", "http5xx", "http429", "timeout", "truncated", "range", "lagging"] as const;
export type Fault = (typeof FAULTS)[number];

export interface FaultProxyOptions {
  upstream: string;
  random: Rng;
  /** Share of calls faulted (0–1). */
  faultRate: number;
  /** How long a `timeout` fault holds the request before dropping it (longer than the client's timeout). */
  hangMs: number;
}

interface RpcRequest {
  id: unknown;
  method: string;
  params?: unknown[];
}

/**
 * A fault-injecting JSON-RPC proxy. Every call is forwarded to `upstream` unless the proxy picks a
 * fault for it; during an outage every connection is cut. `capHead` makes it a node that has only
 * reached a given block (for rebuilding the state at a checkpoint). It records every log read it
 * answered in full, so a harness can check that the indexer never passes blocks it did not read.
 */
export async function startFaultProxy(options: FaultProxyOptions) {
  const counts = new Map<string, number>();
  let calls = 0;
  let outage = false;
  let capHead: number | null = null;
  /** Log reads answered in full: ranges by number, single blocks by hash. */
  const readRanges: { from: number; to: number }[] = [];
  const readHashes = new Set<string>();
  const count = (what: string) => counts.set(what, (counts.get(what) ?? 0) + 1);

  async function forward(body: string): Promise<{ status: number; text: string }> {
    const response = await fetch(options.upstream, { method: "POST", headers: { "content-type": "application/json" }, body });
    return { status: response.status, text: await response.text() };
  }

  function pickFault(method: string): Fault | null {
    if (options.faultRate <= 0 || !options.random.chance(options.faultRate)) return null;
    const possible = FAULTS.filter((f) => (f === "range" ? method === "eth_getLogs" : f === "lagging" ? method === "eth_blockNumber" : true));
    return options.random.pick(possible);
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      void (async () => {
        calls++;
        if (outage) {
          count("outage");
          req.socket.destroy();
          return;
        }
        const body = Buffer.concat(chunks).toString();
        let request: RpcRequest | RpcRequest[];
        try {
          request = JSON.parse(body);
        } catch {
          res.writeHead(400).end();
          return;
        }
        if (Array.isArray(request)) {
          const up = await forward(body);
          res.writeHead(up.status, { "content-type": "application/json" }).end(up.text);
          return;
        }
        const reply = (result: unknown) =>
          res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id: request.id, result }));
        if (capHead !== null) {
          if (request.method === "eth_blockNumber") {
            const up = JSON.parse((await forward(body)).text) as { result: string };
            return reply(`0x${Math.min(Number(up.result), capHead).toString(16)}`);
          }
          if (request.method === "eth_getBlockByNumber" && Number(request.params?.[0]) > capHead) return reply(null);
        }
        const fault = pickFault(request.method);
        if (fault) count(fault);
        switch (fault) {
          case "drop":
            req.socket.destroy();
            return;
          case "http5xx":
            res.writeHead(options.random.pick([500, 502, 503])).end("upstream unavailable");
            return;
          case "http429":
            res.writeHead(429, { "retry-after": "1" }).end("too many requests");
            return;
          case "timeout":
            setTimeout(() => req.socket.destroy(), options.hangMs);
            return;
          case "range":
            res
              .writeHead(200, { "content-type": "application/json" })
              .end(JSON.stringify({ jsonrpc: "2.0", id: request.id, error: { code: -32602, message: "query exceeds max block range 1" } }));
            return;
          case "latency":
            await new Promise((r) => setTimeout(r, options.random.int(20, 400)));
            break;
        }
        let up: { status: number; text: string };
        try {
          up = await forward(body);
        } catch {
          req.socket.destroy();
          return;
        }
        if (fault === "truncated") {
          res.writeHead(200, { "content-type": "application/json" }).end(up.text.slice(0, Math.max(1, Math.floor(up.text.length / 2))));
          return;
        }
        if (fault === "lagging") {
          const parsed = JSON.parse(up.text) as { result?: string };
          if (parsed.result) return reply(`0x${Math.max(0, Number(parsed.result) - options.random.int(1, 5)).toString(16)}`);
        }
        if (request.method === "eth_getLogs" && up.status === 200 && !/"error"/.test(up.text.slice(0, 200))) {
          const filter = (request.params?.[0] ?? {}) as { fromBlock?: string; toBlock?: string; blockHash?: string };
          if (filter.blockHash) readHashes.add(filter.blockHash.toLowerCase());
          else if (filter.fromBlock && filter.toBlock) readRanges.push({ from: Number(filter.fromBlock), to: Number(filter.toBlock) });
        }
        res.writeHead(up.status, { "content-type": "application/json" }).end(up.text);
      })().catch(() => req.socket.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    counts,
    get calls() {
      return calls;
    },
    setOutage(on: boolean) {
      outage = on;
    },
    setFaultRate(rate: number) {
      options.faultRate = rate;
    },
    setCapHead(block: number | null) {
      capHead = block;
    },
    /** Whether a block (number and hash) was covered by a log read answered in full. */
    wasRead(number: number, hash: string): boolean {
      return readHashes.has(hash.toLowerCase()) || readRanges.some((r) => r.from <= number && number <= r.to);
    },
    async stop() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
export type FaultProxy = Awaited<ReturnType<typeof startFaultProxy>>;
