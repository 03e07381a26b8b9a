import path from "node:path";
import { Worker } from "node:worker_threads";

/**
 * Work that would hold the event loop (model training, validating a large EPCIS document, scoring
 * many production runs) runs in a worker thread, so the node keeps answering requests and
 * following the chain meanwhile. One worker per WorkerThread, started on first use and kept for
 * the next task (its modules stay loaded: a compiled schema, a loaded model); tasks run one after
 * another. The worker does not keep the process alive, and `close()` ends it.
 */
const ENTRY = path.join(__dirname, "worker-entry.js");

type Pending = { resolve(value: unknown): void; reject(err: Error): void };

export class WorkerTaskError extends Error {
  constructor(
    message: string,
    readonly remoteName: string,
  ) {
    super(message);
    this.name = remoteName;
  }
}

export function createWorkerThread(name: string) {
  let worker: Worker | null = null;
  let nextId = 1;
  const pending = new Map<number, Pending>();

  function failAll(err: Error): void {
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  }

  function start(): Worker {
    const w = new Worker(ENTRY, { name: `lotline-${name}` });
    w.unref();
    w.on("message", (message: { id: number; ok: boolean; result?: unknown; error?: { message: string; name: string } }) => {
      const p = pending.get(message.id);
      if (!p) return;
      pending.delete(message.id);
      if (pending.size === 0) w.unref();
      if (message.ok) p.resolve(message.result);
      else p.reject(new WorkerTaskError(message.error!.message, message.error!.name));
    });
    w.on("error", (err) => {
      worker = null;
      failAll(err);
    });
    w.on("exit", (code) => {
      if (worker === w) worker = null;
      failAll(new Error(`the ${name} worker thread stopped (exit code ${code})`));
    });
    return w;
  }

  return {
    /**
     * Calls `fn` exported by `module` (an absolute path, e.g. require.resolve'd) in the worker with
     * `args` (copied by structured clone, as is the result).
     */
    run<T>(module: string, fn: string, args: unknown[]): Promise<T> {
      worker ??= start();
      const w = worker;
      const id = nextId++;
      // While a task runs, the worker keeps the process alive (its result is awaited).
      w.ref();
      return new Promise<T>((resolve, reject) => {
        pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
        w.postMessage({ id, module, fn, args });
      });
    },
    async close(): Promise<void> {
      const w = worker;
      worker = null;
      if (w) await w.terminate();
    },
  };
}
export type WorkerThread = ReturnType<typeof createWorkerThread>;
