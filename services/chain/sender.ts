import {
  AbstractSigner,
  Transaction,
  TransactionResponse,
  type Signer,
  type TransactionReceipt,
  type TransactionRequest,
  type TypedDataDomain,
  type TypedDataField,
} from "ethers";

/**
 * One transaction sender per key (issue 12). Every part of a node that sends with a key — the
 * relayer, the anchor job, the recall propagator, the order freezer, the EPCIS mapping job — goes
 * through the one sender of that key, which keeps these promises:
 *
 * - **No nonce gap.** A transaction is estimated (and so refused, when it would revert) before it
 *   is given a nonce; a nonce is kept only once the transaction carrying it has been broadcast (or
 *   might have been: an answer lost in transit keeps it, and the sender broadcasts it again).
 * - **Nothing stays pending for ever.** A transaction not mined `replaceAfterMs` after it was sent
 *   is sent again: the same signed bytes when the node has forgotten it (dropped from its pool),
 *   else a replacement with fees raised by `feeBumpPercent` (the same nonce, call and gas).
 * - **Every wait has a timeout**: each JSON-RPC call (`rpcTimeoutMs`) and each wait for a receipt
 *   (`waitTimeoutMs`) ends with an error rather than hanging.
 * - **Another process using the same key is noticed.** Its nonces (the chain's pending count ahead
 *   of what this sender gave out, a broadcast answered "nonce too low" or "underpriced", a nonce of
 *   ours mined with someone else's transaction) make the sender take the chain's count again and,
 *   where its own transaction lost the nonce, send the same call again with a fresh one.
 *
 * Sends are serialised per key; the waits are not. ADR 0014 says why the node does not use
 * ethers' NonceManager.
 */
export interface SenderOptions {
  /** A label for logs and metrics (`relayer`, `integration`, `org:3`). */
  name: string;
  /** The key: a signer with a provider (an ethers Wallet). */
  signer: Signer;
  replaceAfterMs?: number;
  feeBumpPercent?: number;
  waitTimeoutMs?: number;
  rpcTimeoutMs?: number;
  /** How often pending transactions are checked when nobody waits for them. */
  pollMs?: number;
  log?: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };
}

export const SENDER_DEFAULTS = { replaceAfterMs: 60_000, feeBumpPercent: 20, waitTimeoutMs: 180_000, rpcTimeoutMs: 15_000, pollMs: 1_000 };

/** A wait that ran out of time: the transaction may still be mined later (the sender keeps following it). */
export class TransactionTimeoutError extends Error {
  override name = "TransactionTimeoutError";
  readonly code = "TIMEOUT";
  constructor(
    readonly hash: string,
    readonly timeoutMs: number,
  ) {
    super(`transaction ${hash} is not mined after ${Math.round(timeoutMs / 1000)} s`);
  }
}

interface InFlight {
  nonce: number;
  /** Everything but the nonce: the call as first estimated and priced (fees raised on replacement). */
  request: TransactionRequest;
  /** Hashes of every version sent for this call, oldest first; the last is the current one. */
  hashes: string[];
  raw: string;
  sentAt: number;
  receipt: TransactionReceipt | null;
  error: Error | null;
  checking: Promise<void> | null;
}

const ERROR_CODE = (err: unknown) => (err as { code?: string }).code;
/** The error's own words and, beneath ethers' wrapping, the node's. */
const messageOf = (err: unknown) => {
  const e = err as { shortMessage?: string; message?: string; error?: { message?: string }; info?: { error?: { message?: string } } };
  return [e.shortMessage ?? e.message ?? String(err), e.error?.message, e.info?.error?.message].filter(Boolean).join(": ");
};

/** The node already holds the nonce: ours was mined, or another process's transaction has it. */
function nonceConflict(err: unknown): boolean {
  const code = ERROR_CODE(err);
  return code === "NONCE_EXPIRED" || code === "REPLACEMENT_UNDERPRICED" || /nonce too low|underpriced|nonce.*already/i.test(messageOf(err));
}
function alreadyKnown(err: unknown): boolean {
  return /already known|known transaction|already imported/i.test(messageOf(err));
}
/** The request may or may not have reached the node. */
function ambiguous(err: unknown): boolean {
  const code = ERROR_CODE(err);
  return code === "TIMEOUT" || code === "NETWORK_ERROR" || code === "SERVER_ERROR" || /ECONNREFUSED|ECONNRESET|fetch failed|socket hang up/i.test(messageOf(err));
}

export type TransactionSender = ReturnType<typeof createTransactionSender>;

export function createTransactionSender(options: SenderOptions) {
  const o = { ...SENDER_DEFAULTS, ...stripUndefined(options) };
  const signer = options.signer;
  const provider = signer.provider;
  if (!provider) throw new Error(`the ${options.name} key has no provider`);
  const inFlight: InFlight[] = [];
  const byHash = new Map<string, InFlight>();
  let address: string | null = null;
  let chainId: bigint | null = null;
  /** The next nonce this sender expects the chain's pending count to be (null before the first send). */
  let expected: number | null = null;
  let resyncs = 0;
  let replacements = 0;
  let lock: Promise<unknown> = Promise.resolve();
  let monitor: NodeJS.Timeout | null = null;
  let closed = false;

  function rpc<T>(what: string, call: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(Object.assign(new Error(`${what}: no answer from the chain after ${o.rpcTimeoutMs} ms`), { code: "TIMEOUT" })), o.rpcTimeoutMs);
    });
    return Promise.race([call, timeout]).finally(() => clearTimeout(timer));
  }

  function serially<T>(fn: () => Promise<T>): Promise<T> {
    const next = lock.then(fn, fn);
    lock = next.catch(() => undefined);
    return next;
  }

  async function from(): Promise<string> {
    address ??= await signer.getAddress();
    return address;
  }

  const count = async (tag: "pending" | "latest") => rpc(`eth_getTransactionCount(${tag})`, provider!.getTransactionCount(await from(), tag));

  /** Gas and fees for a call; throws (the call's revert) before any nonce is taken. */
  async function populate(tx: TransactionRequest): Promise<TransactionRequest> {
    const sender = await from();
    chainId ??= (await rpc("eth_chainId", provider!.getNetwork())).chainId;
    const call: TransactionRequest = { to: tx.to, data: tx.data, value: tx.value ?? 0n, from: sender, chainId };
    const gasLimit = tx.gasLimit ?? (await rpc("eth_estimateGas", provider!.estimateGas(call)));
    const fees = await rpc("fee data", provider!.getFeeData());
    const priced: TransactionRequest =
      fees.maxFeePerGas !== null
        ? { type: 2, maxFeePerGas: tx.maxFeePerGas ?? fees.maxFeePerGas, maxPriorityFeePerGas: tx.maxPriorityFeePerGas ?? fees.maxPriorityFeePerGas ?? 0n }
        : { type: 0, gasPrice: tx.gasPrice ?? fees.gasPrice ?? 0n };
    return { ...call, gasLimit, ...priced };
  }

  /**
   * The nonce for a new transaction: the chain's pending count, or past our own transactions the
   * node does not show (which are broadcast again here, so they fill their place).
   */
  async function nextNonce(): Promise<number> {
    const pending = await count("pending");
    const open = inFlight.filter((t) => !t.receipt && !t.error);
    const ours = open.reduce((max, t) => Math.max(max, t.nonce + 1), 0);
    if (expected !== null && pending > Math.max(expected, ours)) {
      resyncs++;
      options.log?.warn({ key: options.name, expected, chain: pending }, "another process sent with this key: nonces taken from the chain again");
    }
    for (const t of open.filter((t) => t.nonce >= pending).sort((a, b) => a.nonce - b.nonce)) {
      if (!(await rpc("eth_getTransactionByHash", provider!.getTransaction(t.hashes.at(-1)!)))) await rebroadcast(t, "the node had dropped it");
    }
    const nonce = Math.max(pending, ours);
    expected = nonce + 1;
    return nonce;
  }

  function track(t: InFlight, hash: string): void {
    t.hashes.push(hash);
    byHash.set(hash, t);
  }

  async function sign(request: TransactionRequest, nonce: number): Promise<{ raw: string; hash: string }> {
    const raw = await signer.signTransaction({ ...request, nonce });
    return { raw, hash: Transaction.from(raw).hash! };
  }

  async function broadcast(raw: string): Promise<void> {
    try {
      await rpc("eth_sendRawTransaction", provider!.broadcastTransaction(raw));
    } catch (err) {
      if (!alreadyKnown(err)) throw err;
    }
  }

  async function rebroadcast(t: InFlight, why: string): Promise<void> {
    options.log?.warn({ key: options.name, nonce: t.nonce, hash: t.hashes.at(-1), why }, "sending a transaction again");
    try {
      await broadcast(t.raw);
    } catch (err) {
      if (!nonceConflict(err) && !ambiguous(err)) throw err;
    }
    t.sentAt = Date.now();
  }

  /** Sends a call with a fresh nonce (a new call, or one whose nonce another process took). */
  async function dispatch(t: InFlight | null, tx: TransactionRequest): Promise<InFlight> {
    let lastError: unknown = null;
    for (let attempt = 1; attempt <= 4; attempt++) {
      const request = await populate(t ? t.request : tx);
      const nonce = await nextNonce();
      const { raw, hash } = await sign(request, nonce);
      const entry: InFlight = t ?? { nonce, request, hashes: [], raw, sentAt: 0, receipt: null, error: null, checking: null };
      Object.assign(entry, { nonce, request, raw, sentAt: Date.now() });
      track(entry, hash);
      if (!inFlight.includes(entry)) inFlight.push(entry);
      try {
        await broadcast(raw);
        startMonitor();
        return entry;
      } catch (err) {
        if (ambiguous(err)) {
          // It may have reached the node: keep the nonce; the monitor sends it again if it did not.
          options.log?.warn({ key: options.name, nonce, hash, err: messageOf(err) }, "no clear answer to a broadcast; will send it again if the chain lacks it");
          startMonitor();
          return entry;
        }
        byHash.delete(hash);
        entry.hashes.pop();
        expected = null;
        if (!t) inFlight.splice(inFlight.indexOf(entry), 1);
        if (!nonceConflict(err)) throw err;
        resyncs++;
        lastError = err;
        options.log?.warn({ key: options.name, nonce, err: messageOf(err) }, "the nonce was taken (another process with this key?); resynchronised");
      }
    }
    throw lastError;
  }

  function response(t: InFlight): TransactionResponse {
    const tx = Transaction.from(t.raw);
    return new TransactionResponse(
      {
        blockNumber: null,
        blockHash: null,
        hash: tx.hash!,
        index: 0,
        type: tx.type ?? 0,
        to: tx.to,
        from: tx.from!,
        nonce: tx.nonce,
        gasLimit: tx.gasLimit,
        gasPrice: tx.gasPrice ?? tx.maxFeePerGas ?? 0n,
        maxPriorityFeePerGas: tx.maxPriorityFeePerGas,
        maxFeePerGas: tx.maxFeePerGas,
        data: tx.data,
        value: tx.value,
        chainId: tx.chainId,
        signature: tx.signature!,
        accessList: tx.accessList,
        authorizationList: tx.authorizationList,
      },
      provider!,
    );
  }

  /** Raised fees for a replacement: at least `feeBumpPercent` above what was sent, and no less than the network asks now. */
  async function bumped(request: TransactionRequest): Promise<TransactionRequest> {
    const raise = (fee: bigint) => (fee * BigInt(100 + o.feeBumpPercent)) / 100n + 1n;
    const now = await rpc("fee data", provider!.getFeeData());
    const max = (a: bigint, b: bigint | null) => (b !== null && b > a ? b : a);
    if (request.type === 2) {
      return {
        ...request,
        maxFeePerGas: max(raise(BigInt(request.maxFeePerGas!)), now.maxFeePerGas),
        maxPriorityFeePerGas: max(raise(BigInt(request.maxPriorityFeePerGas!)), now.maxPriorityFeePerGas),
      };
    }
    return { ...request, gasPrice: max(raise(BigInt(request.gasPrice!)), now.gasPrice) };
  }

  function settle(t: InFlight, outcome: { receipt: TransactionReceipt } | { error: Error }): void {
    if ("receipt" in outcome) t.receipt = outcome.receipt;
    else t.error = outcome.error;
    inFlight.splice(inFlight.indexOf(t), 1);
    // Hashes stay known for a while so a late wait(hash) of a replaced version still finds the outcome.
    setTimeout(() => t.hashes.forEach((h) => byHash.get(h) === t && byHash.delete(h)), 10 * 60_000).unref();
  }

  async function receiptOf(t: InFlight): Promise<TransactionReceipt | null> {
    for (const hash of [...t.hashes].reverse()) {
      const receipt = await rpc("eth_getTransactionReceipt", provider!.getTransactionReceipt(hash));
      if (receipt) return receipt;
    }
    return null;
  }

  /** One look at a transaction in flight: mined, lost to another process, or overdue for replacement. */
  async function inspect(t: InFlight): Promise<void> {
    if (t.receipt || t.error) return;
    // The count first: a transaction of ours mined after it was read is then found by its receipt.
    const mined = await count("latest");
    const receipt = await receiptOf(t);
    if (receipt) return settle(t, { receipt });
    if (mined > t.nonce) {
      // The nonce is used, by none of our versions: another process's transaction has it.
      resyncs++;
      options.log?.warn({ key: options.name, nonce: t.nonce, hash: t.hashes.at(-1) }, "another transaction took this nonce; sending the call again with a fresh one");
      await serially(async () => {
        if (t.receipt || t.error) return;
        expected = null;
        try {
          await dispatch(t, t.request);
        } catch (err) {
          settle(t, { error: err as Error });
        }
      });
      return;
    }
    if (Date.now() - t.sentAt < o.replaceAfterMs) return;
    await serially(async () => {
      if (t.receipt || t.error || Date.now() - t.sentAt < o.replaceAfterMs) return;
      const known = await rpc("eth_getTransactionByHash", provider!.getTransaction(t.hashes.at(-1)!));
      if (!known) return rebroadcast(t, "not mined in time and unknown to the node");
      const request = await bumped(t.request);
      const { raw, hash } = await sign(request, t.nonce);
      try {
        await broadcast(raw);
      } catch (err) {
        // Mined meanwhile (nonce too low) or still underpriced: the next look decides.
        if (!nonceConflict(err) && !ambiguous(err)) throw err;
        if (!ambiguous(err)) {
          t.sentAt = Date.now();
          return;
        }
      }
      replacements++;
      Object.assign(t, { request, raw, sentAt: Date.now() });
      track(t, hash);
      options.log?.warn({ key: options.name, nonce: t.nonce, replaced: t.hashes.at(-2), by: hash }, "transaction not mined in time: replaced with higher fees");
    });
  }

  function check(t: InFlight): Promise<void> {
    t.checking ??= inspect(t).finally(() => (t.checking = null));
    return t.checking;
  }

  function startMonitor(): void {
    if (monitor || closed) return;
    monitor = setInterval(() => {
      if (inFlight.length === 0) {
        clearInterval(monitor!);
        monitor = null;
        return;
      }
      for (const t of [...inFlight]) check(t).catch((err) => options.log?.warn({ key: options.name, err: messageOf(err) }, "checking a pending transaction failed"));
    }, o.pollMs);
    monitor.unref();
  }

  return {
    name: options.name,
    address: from,
    /**
     * Estimates, numbers, signs and broadcasts a transaction. A call that would revert throws here
     * (the chain's revert data on the error) and takes no nonce.
     */
    send(tx: TransactionRequest): Promise<TransactionResponse> {
      if (closed) return Promise.reject(new Error(`the ${options.name} sender is closed`));
      return serially(() => dispatch(null, tx)).then(response);
    },
    /**
     * Waits until a transaction sent by this sender (any version of it) or any other hash is mined,
     * for at most `timeoutMs`. Resolves with the receipt of the version that was mined.
     */
    async wait(hash: string, timeoutMs = o.waitTimeoutMs): Promise<TransactionReceipt> {
      const deadline = Date.now() + timeoutMs;
      let delay = 10;
      for (;;) {
        // A stopping node does not wait for the chain (Ctrl-C stops within seconds, even with a transaction stuck).
        if (closed) throw new Error(`the ${options.name} sender is closed (the node is stopping); transaction ${hash} is not awaited`);
        const t = byHash.get(hash);
        if (t?.error) throw t.error;
        if (t && !t.receipt) {
          await check(t);
          if (t.receipt) return t.receipt;
          if (t.error) throw t.error;
        } else {
          // Settled earlier (or never ours): the chain's answer now, which a reorganisation may have changed.
          for (const version of t ? [...t.hashes].reverse() : [hash]) {
            const receipt = await rpc("eth_getTransactionReceipt", provider!.getTransactionReceipt(version));
            if (receipt) return receipt;
          }
        }
        const left = deadline - Date.now();
        if (left <= 0) throw new TransactionTimeoutError(hash, timeoutMs);
        await new Promise((resolve) => setTimeout(resolve, Math.min(delay, left)));
        delay = Math.min(delay * 2, o.pollMs);
      }
    },
    /** What became of a hash this sender sent: the versions sent for the same call and the one mined. */
    versionsOf(hash: string): { hashes: string[]; minedHash: string | null; inFlight: boolean } | null {
      const t = byHash.get(hash);
      return t ? { hashes: [...t.hashes], minedHash: t.receipt?.hash ?? null, inFlight: !t.receipt && !t.error } : null;
    },
    /** Transactions sent and not yet seen mined. */
    pending: () => inFlight.length,
    stats: () => ({ pending: inFlight.length, resyncs, replacements }),
    /** Stops following transactions (the node is stopping): waits end with an error, sends are refused. */
    close(): void {
      closed = true;
      if (monitor) clearInterval(monitor);
      monitor = null;
    },
  };
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * A Signer whose transactions go through a key's sender: contracts connected with it send as
 * usual, and `mined()` waits through the sender (replacements followed, with a timeout).
 */
export class SenderSigner extends AbstractSigner {
  constructor(
    readonly sender: TransactionSender,
    private readonly key: Signer,
  ) {
    super(key.provider);
  }
  getAddress(): Promise<string> {
    return this.key.getAddress();
  }
  connect(): SenderSigner {
    throw new Error("a sender's signer stays on its provider");
  }
  signTransaction(tx: TransactionRequest): Promise<string> {
    return this.key.signTransaction(tx);
  }
  signMessage(message: string | Uint8Array): Promise<string> {
    return this.key.signMessage(message);
  }
  signTypedData(domain: TypedDataDomain, types: Record<string, TypedDataField[]>, value: Record<string, unknown>): Promise<string> {
    return this.key.signTypedData(domain, types, value);
  }
  override sendTransaction(tx: TransactionRequest): Promise<TransactionResponse> {
    return this.sender.send(tx);
  }
}

/** The senders of a node's keys: one per address, whoever asks for it. */
export function createSenders(defaults: Omit<SenderOptions, "name" | "signer"> = {}) {
  const senders = new Map<string, SenderSigner>();
  return {
    /** The one signer-through-sender for `key` (created on first use, named after its first user). */
    forKey(name: string, key: Signer & { address: string }): SenderSigner {
      const address = key.address.toLowerCase();
      let signer = senders.get(address);
      if (!signer) {
        signer = new SenderSigner(createTransactionSender({ ...defaults, name, signer: key }), key);
        senders.set(address, signer);
      }
      return signer;
    },
    all: () => [...senders.values()].map((s) => s.sender),
    close: () => senders.forEach((s) => s.sender.close()),
  };
}
export type Senders = ReturnType<typeof createSenders>;

/**
 * Waits for a sent transaction to be mined, through the key's sender when the contract's runner
 * has one (replacements followed), else through ethers; both with a timeout. Throws when it reverted.
 */
export async function mined(runner: unknown, tx: { hash: string; wait(confirms?: number, timeout?: number): Promise<TransactionReceipt | null> }, timeoutMs = SENDER_DEFAULTS.waitTimeoutMs): Promise<TransactionReceipt> {
  const receipt = runner instanceof SenderSigner ? await runner.sender.wait(tx.hash, timeoutMs) : await tx.wait(1, timeoutMs);
  if (!receipt) throw new TransactionTimeoutError(tx.hash, timeoutMs);
  if (receipt.status !== 1) throw Object.assign(new Error(`transaction ${receipt.hash} reverted`), { code: "CALL_EXCEPTION", receipt });
  return receipt;
}

/** The sender behind a contract's runner, if any. */
export function senderOf(runner: unknown): TransactionSender | null {
  return runner instanceof SenderSigner ? runner.sender : null;
}
