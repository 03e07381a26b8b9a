import { Worker } from "node:worker_threads";
import { percentile } from "./util";

export interface RouteResult {
  route: string;
  requests: number;
  errors: number;
  seconds: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/**
 * The load generator runs in a worker thread: startTestNode serves the API from this process's
 * event loop, and a client sharing that loop would count its own work against the server's.
 * Plain JavaScript (evaluated, not loaded through tsx) with node:http keep-alive connections.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const http = require("node:http");
const { url, path, concurrency, seconds } = workerData;
const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
const target = new URL(path, url);
const latencies = [];
let errors = 0;

function get() {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const req = http.get(target, { agent }, (res) => {
      res.resume();
      res.on("end", () => {
        if (res.statusCode !== 200) errors++;
        latencies.push(performance.now() - t0);
        resolve();
      });
    });
    req.on("error", () => {
      errors++;
      latencies.push(performance.now() - t0);
      resolve();
    });
  });
}

(async () => {
  const start = performance.now();
  const deadline = start + seconds * 1000;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < deadline) await get();
  }));
  const elapsed = (performance.now() - start) / 1000;
  agent.destroy();
  parentPort.postMessage({ latencies: Float64Array.from(latencies), errors, elapsed });
})();
`;

function loadRoute(url: string, path: string, concurrency: number, seconds: number) {
  return new Promise<{ latencies: Float64Array; errors: number; elapsed: number }>((resolve, reject) => {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { url, path, concurrency, seconds } });
    worker.once("message", (message) => {
      resolve(message);
      void worker.terminate();
    });
    worker.once("error", reject);
    // After a report this is a no-op; before one it means the worker died.
    worker.once("exit", (code) => reject(new Error(`the load worker exited (${code}) without reporting`)));
  });
}

/** C concurrent keep-alive loops against each route in turn, for `seconds` each. */
export async function runApiLoad(options: {
  url: string;
  routes: string[];
  concurrency: number;
  seconds: number;
  warmupSeconds: number;
  onRoute?: (route: string) => void;
}): Promise<RouteResult[]> {
  const results: RouteResult[] = [];
  for (const route of options.routes) {
    options.onRoute?.(route);
    if (options.warmupSeconds > 0) await loadRoute(options.url, route, options.concurrency, options.warmupSeconds);
    const { latencies, errors, elapsed } = await loadRoute(options.url, route, options.concurrency, options.seconds);
    const sorted = Float64Array.from(latencies).sort();
    results.push({
      route,
      requests: sorted.length,
      errors,
      seconds: elapsed,
      p50: percentile(sorted, 50),
      p95: percentile(sorted, 95),
      p99: percentile(sorted, 99),
      max: sorted.length ? sorted[sorted.length - 1] : NaN,
    });
  }
  return results;
}
