import { Worker } from "node:worker_threads";
import { pct } from "./results";

/**
 * Keep-alive HTTP load from a worker thread (the node serves from this process's event loop, so a
 * client sharing it would count its own work against the server). Each of `concurrency` loops
 * cycles through `paths` for `seconds`.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const http = require("node:http");
const { url, paths, headers, concurrency, seconds } = workerData;
const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
const latencies = [];
let errors = 0;
let next = 0;
function get() {
  const target = new URL(paths[next++ % paths.length], url);
  return new Promise((resolve) => {
    const t0 = performance.now();
    const req = http.get(target, { agent, headers }, (res) => {
      res.resume();
      res.on("end", () => {
        if (res.statusCode !== 200) errors++;
        latencies.push(performance.now() - t0);
        resolve();
      });
    });
    req.on("error", () => { errors++; latencies.push(performance.now() - t0); resolve(); });
  });
}
(async () => {
  const start = performance.now();
  const deadline = start + seconds * 1000;
  await Promise.all(Array.from({ length: concurrency }, async () => { while (performance.now() < deadline) await get(); }));
  const elapsed = (performance.now() - start) / 1000;
  agent.destroy();
  parentPort.postMessage({ latencies: Float64Array.from(latencies), errors, elapsed });
})();
`;

export function httpLoad(options: { url: string; paths: string[]; headers: Record<string, string>; concurrency: number; seconds: number }) {
  return new Promise<{ requests: number; errors: number; seconds: number; p50: number; p95: number }>((resolve, reject) => {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: options });
    worker.once("message", (m: { latencies: Float64Array; errors: number; elapsed: number }) => {
      const values = Array.from(m.latencies);
      resolve({ requests: values.length, errors: m.errors, seconds: m.elapsed, p50: pct(values, 50), p95: pct(values, 95) });
      void worker.terminate();
    });
    worker.once("error", reject);
    worker.once("exit", (code) => reject(new Error(`the load worker exited (${code}) without reporting`)));
  });
}
