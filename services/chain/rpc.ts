import http from "node:http";
import https from "node:https";

/**
 * A minimal JSON-RPC client over HTTP for the indexer and health checks. Only standard `eth_*`
 * methods are used outside tests, so any EVM node (Anvil, Hardhat, Besu) serves.
 *
 * Errors are typed: a RetryableRpcError (network failure, timeout, HTTP 5xx/429, node busy) is
 * retried with exponential backoff by `withRetry`; an RpcError (the node refused the request) is not.
 */
export class RpcError extends Error {
  override name = "RpcError";
  constructor(
    message: string,
    readonly code?: number,
    readonly data?: unknown,
  ) {
    super(message);
  }
}
export class RetryableRpcError extends RpcError {
  override name = "RetryableRpcError";
}

export interface RpcBlock {
  number: number;
  hash: string;
  parentHash: string;
  timestamp: number;
}

export interface RpcLog {
  address: string;
  topics: string[];
  data: string;
  blockNumber: number;
  blockHash: string;
  transactionHash: string;
  logIndex: number;
  removed?: boolean;
}

export interface RpcClient {
  url: string;
  call<T = unknown>(method: string, params?: unknown[]): Promise<T>;
  chainId(): Promise<number>;
  blockNumber(): Promise<number>;
  getBlock(number: number): Promise<RpcBlock | null>;
  getLogs(filter: { fromBlock: number; toBlock: number; address: string[] }): Promise<RpcLog[]>;
  /**
   * The logs of exactly one block, named by hash (EIP-234): they cannot come from another fork
   * than the header that was read. A node that no longer has the block answers an error.
   */
  getBlockLogs(blockHash: string, address: string[]): Promise<RpcLog[]>;
}

export function createRpcClient(url: string, options: { timeoutMs?: number } = {}): RpcClient {
  const timeoutMs = options.timeoutMs ?? 30_000;
  let id = 0;

  async function call<T>(method: string, params: unknown[] = []): Promise<T> {
    let response: { status: number; text: string | null };
    const requestId = ++id;
    try {
      response = await post(url, JSON.stringify({ jsonrpc: "2.0", id: requestId, method, params }), timeoutMs);
    } catch (err) {
      throw new RetryableRpcError(`${method}: cannot reach ${url}: ${(err as Error).message}`);
    }
    if (response.status === 429 || response.status >= 500) {
      throw new RetryableRpcError(`${method}: HTTP ${response.status} from ${url}`);
    }
    const body = parseAnswer<T>(response.text);
    if (!body) throw new RetryableRpcError(`${method}: unreadable response (HTTP ${response.status}) from ${url}`);
    // An answer to another request (a proxy or a connection mixing answers up) is not this call's.
    // (A node answers id null only to a request it could not read at all.)
    if (body.id != null && body.id !== requestId) throw new RetryableRpcError(`${method}: answer for request ${String(body.id)}, not ${requestId}, from ${url}`);
    if (body.error) {
      const { code, message, data } = body.error;
      // -32005 limit exceeded / -32603 internal: nodes use these for transient overload.
      const transient = code === -32005 || /timeout|busy|rate|try again/i.test(message);
      throw transient
        ? new RetryableRpcError(`${method}: ${message}`, code, data)
        : new RpcError(`${method}: ${message}`, code, data);
    }
    return body.result as T;
  }

  const quantity = (n: number) => `0x${n.toString(16)}`;
  return {
    url,
    call,
    async chainId() {
      return Number(await call<string>("eth_chainId"));
    },
    async blockNumber() {
      return Number(await call<string>("eth_blockNumber"));
    },
    async getBlock(number) {
      const raw = await call<{ number: string; hash: string; parentHash: string; timestamp: string } | null>(
        "eth_getBlockByNumber",
        [quantity(number), false],
      );
      if (!raw) return null;
      return { number: Number(raw.number), hash: raw.hash, parentHash: raw.parentHash, timestamp: Number(raw.timestamp) };
    },
    async getLogs(filter) {
      const raw = await call<Array<Record<string, unknown>>>("eth_getLogs", [
        { fromBlock: quantity(filter.fromBlock), toBlock: quantity(filter.toBlock), address: filter.address },
      ]);
      return raw.map(toRpcLog);
    },
    async getBlockLogs(blockHash, address) {
      const raw = await call<Array<Record<string, unknown>>>("eth_getLogs", [{ blockHash, address }]);
      return raw.map(toRpcLog);
    },
  };
}

/**
 * One JSON-RPC POST over node:http(s) with the global keep-alive agents, `timeoutMs` for the whole
 * exchange. Fetch (undici) spent about three times the CPU per call, which a backfill's hundreds of
 * calls felt (docs/performance.md "Backfill"). Rejects when the node cannot be reached or the
 * exchange does not finish in time; a body cut short is answered with `text` null (unreadable).
 */
function post(url: string, body: string, timeoutMs: number): Promise<{ status: number; text: string | null }> {
  return new Promise((resolve, reject) => {
    let target: URL;
    try {
      target = new URL(url);
    } catch (err) {
      reject(err as Error);
      return;
    }
    const transport = target.protocol === "https:" ? https : http;
    let status: number | null = null;
    const request = transport.request(
      target,
      { method: "POST", headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } },
      (response) => {
        status = response.statusCode ?? 0;
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => {
          clearTimeout(timer);
          resolve({ status: status!, text: response.complete ? Buffer.concat(chunks).toString("utf8") : null });
        });
        response.on("error", () => undefined); // "close" below answers
        response.on("close", () => {
          clearTimeout(timer);
          if (!response.complete) resolve({ status: status!, text: null });
        });
      },
    );
    const timer = setTimeout(() => request.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    request.on("error", (err) => {
      clearTimeout(timer);
      // An error once the answer began (the body cut short) is answered by the response's "close".
      if (status === null) reject(err);
    });
    request.end(body);
  });
}

interface RpcAnswer<T> {
  id?: unknown;
  result?: T;
  error?: { code: number; message: string; data?: unknown };
}

/**
 * A JSON-RPC answer object, or null for anything else: a body cut short (`text` null; JSON.parse
 * would turn null into null rather than throw), JSON that does not parse, or JSON that is not an
 * object holding `result` or `error`.
 */
function parseAnswer<T>(text: string | null): RpcAnswer<T> | null {
  if (text === null) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return null;
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) return null;
  return "result" in parsed || "error" in parsed ? (parsed as RpcAnswer<T>) : null;
}

function toRpcLog(log: Record<string, unknown>): RpcLog {
  return {
    address: String(log.address),
    topics: log.topics as string[],
    data: String(log.data),
    blockNumber: Number(log.blockNumber),
    blockHash: String(log.blockHash),
    transactionHash: String(log.transactionHash),
    logIndex: Number(log.logIndex),
    removed: Boolean(log.removed),
  };
}

/** True for errors a node gives when a log query spans too much (each client words it its own way). */
export function isRangeTooLarge(err: unknown): boolean {
  if (!(err instanceof RpcError)) return false;
  return /range|too many|limit|exceed|10000|query returned more/i.test(err.message);
}

/**
 * Runs `fn`, retrying RetryableRpcErrors with exponential backoff (base × 2^attempt, capped, with
 * jitter) up to `attempts` times; other errors propagate at once.
 */
export async function withRetry<T>(
  fn: () => Promise<T>,
  options: { attempts?: number; baseMs?: number; maxMs?: number; onRetry?: (err: Error, attempt: number) => void } = {},
): Promise<T> {
  const attempts = options.attempts ?? 8;
  const baseMs = options.baseMs ?? 200;
  const maxMs = options.maxMs ?? 10_000;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof RetryableRpcError) || attempt + 1 >= attempts) throw err;
      options.onRetry?.(err, attempt + 1);
      const delay = Math.min(maxMs, baseMs * 2 ** attempt) * (0.5 + Math.random() / 2);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
