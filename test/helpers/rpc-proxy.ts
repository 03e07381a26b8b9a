import http from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A recording JSON-RPC proxy: an HTTP server that forwards every request body, as is, to
 * `upstream` and records the method of each call (every call of a batch). Put it between a
 * Lotline node and its chain to see exactly which JSON-RPC methods the node uses.
 */
export interface RecordingRpcProxy {
  url: string;
  /** Every method called, in order, one entry per call (a batch of n calls adds n). */
  calls: string[];
  /** How many requests came as batches (JSON arrays). */
  batches: number;
  /** The distinct methods called, sorted. */
  methods(): string[];
  stop(): Promise<void>;
}

export async function startRecordingRpcProxy(upstream: string): Promise<RecordingRpcProxy> {
  const calls: string[] = [];
  let batches = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      try {
        const parsed = JSON.parse(body) as unknown;
        const requests = Array.isArray(parsed) ? parsed : [parsed];
        if (Array.isArray(parsed)) batches++;
        for (const request of requests) calls.push(String((request as { method?: unknown }).method));
      } catch {
        calls.push("<unparseable>");
      }
      fetch(upstream, { method: "POST", headers: { "content-type": "application/json" }, body })
        .then(async (answer) => {
          const text = await answer.text();
          res.writeHead(answer.status, { "content-type": answer.headers.get("content-type") ?? "application/json" });
          res.end(text);
        })
        .catch((err: Error) => {
          res.writeHead(502, { "content-type": "text/plain" });
          res.end(err.message);
        });
    });
  });
  // Longer than the node's quiet spells, so a kept-alive connection is not closed under its next call.
  server.keepAliveTimeout = 120_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    get batches() {
      return batches;
    },
    methods: () => [...new Set(calls)].sort(),
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
