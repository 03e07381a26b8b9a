import { Worker } from "node:worker_threads";
import type { Db } from "../store/db";

/**
 * Copies the WAL back into the database file (a SQLite checkpoint) on a worker thread's own
 * connection, so a catching-up indexer's event loop never runs one (ADR 0033). SQLite lets one
 * connection checkpoint while another writes: a PASSIVE checkpoint copies the frames committed
 * before it began and never blocks the writer, and the writer starts the WAL over at its next
 * transaction once everything in it is copied back.
 *
 * The worker is plain JavaScript run from a string (no TypeScript loader needed in the thread), and
 * loads better-sqlite3 from the path this module resolves.
 */
const WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.sqlite);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma("busy_timeout = 5000");
parentPort.on("message", (message) => {
  if (message === "close") {
    db.close();
    parentPort.close();
    return;
  }
  try {
    const [row] = db.pragma("wal_checkpoint(PASSIVE)");
    parentPort.postMessage({ busy: row.busy, log: row.log, checkpointed: row.checkpointed });
  } catch (err) {
    parentPort.postMessage({ error: String(err && err.message) });
  }
});
`;

export interface Checkpointer {
  /** Asks for a checkpoint of everything committed so far; one runs at a time, asks in between merge. */
  request(): void;
  /** A checkpoint is running and another is asked for: the writer is two commits ahead. */
  behind(): boolean;
  /** False once the thread has failed or exited: the writer's connection must checkpoint again. */
  alive(): boolean;
  /** Resolves once no checkpoint is running or asked for. */
  drained(): Promise<void>;
  close(): Promise<void>;
}

/** A checkpointer for `db`'s file, or null for a database with no file (`:memory:`). */
export function createCheckpointer(db: Db, onError: (message: string) => void = () => undefined): Checkpointer | null {
  if (db.memory || !db.name || db.name === ":memory:") return null;
  const worker = new Worker(WORKER, { eval: true, workerData: { file: db.name, sqlite: require.resolve("better-sqlite3") } });
  // Idle, the thread keeps no process alive; while a checkpoint runs it does (a step may await it).
  worker.unref();
  let running = false;
  let again = false;
  let closed = false;
  let waiters: (() => void)[] = [];
  const settle = () => {
    if (running) return;
    worker.unref();
    for (const resolve of waiters) resolve();
    waiters = [];
  };
  worker.on("message", (result: { error?: string }) => {
    running = false;
    if (result.error) onError(result.error);
    if (again && !closed) {
      again = false;
      running = true;
      worker.postMessage("checkpoint");
    }
    settle();
  });
  worker.on("error", (err) => {
    closed = true;
    running = false;
    onError(err.message);
    settle();
  });
  worker.on("exit", () => {
    closed = true;
    running = false;
    settle();
  });
  return {
    request() {
      if (closed) return;
      if (running) again = true;
      else {
        running = true;
        worker.ref();
        worker.postMessage("checkpoint");
      }
    },
    behind: () => running && again,
    alive: () => !closed,
    drained() {
      if (!running) return Promise.resolve();
      return new Promise((resolve) => waiters.push(resolve));
    },
    async close() {
      if (closed) return;
      again = false;
      await this.drained();
      closed = true;
      const exited = new Promise((resolve) => worker.once("exit", resolve));
      worker.ref();
      worker.postMessage("close");
      await exited;
    },
  };
}
