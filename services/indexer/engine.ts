import { EventEmitter } from "node:events";
import type { EventFragment } from "ethers";
import { clearIndex, type Db } from "../store/db";
import { beginJournalBlock, pruneJournal, rollbackJournal, setJournalling } from "../store/journal";
import { INTERFACES, type ContractName } from "../chain/contracts";
import { isRangeTooLarge, withRetry, type RpcBlock, type RpcClient, type RpcLog } from "../chain/rpc";
import { IndexerHaltedError, type ChainEvent, type HandlerMap, type IndexerStep } from "./types";
import { eventArgsToJson } from "./json";
import { compileDecoder, nameValues, type LogDecoder } from "./decode";
import { createCheckpointer, type Checkpointer } from "./checkpointer";
import { deferCatchUpSchema, deferredSchema, restoreDeferred } from "../store/catch-up-schema";
import { closeRowGroup, flushRowGroup, insertGrouped, openRowGroup } from "../store/row-groups";
import { createWorkerThread, type WorkerThread } from "../runtime/worker";
import { cutBlock, headersNeeded, mapLimited, readRangeWithHeaders, readerEvents, sortLogs, unpackRange, type FinalRange, type PackedRange, type ReadRequest, type StepLog } from "./range-reader";

export interface IndexerOptions {
  db: Db;
  rpc: RpcClient;
  contracts: Record<ContractName, string>;
  startBlock: number;
  handlers: HandlerMap;
  finalityDepth: number;
  reorgWindow: number;
  /**
   * When a reorganisation is deeper than the window (or no common ancestor is stored), rebuild
   * from startBlock instead of halting. Only for the embedded chain, which comes back shorter after
   * a crash (docs/adr/0004); on a shared network a deep reorganisation needs an operator.
   */
  rebuildOnDeepReorg: boolean;
  /** Upper bound of the adaptive eth_getLogs range. */
  maxRange?: number;
  /**
   * Most events applied in one step (one SQLite transaction, which blocks the event loop while it
   * runs). A block's events are never split; a range holding more is cut at a block boundary.
   */
  maxEventsPerStep?: number;
  /**
   * Most events in a step that ends short of the head (the index catching up: below the reorg
   * window or inside it; default 2,000, or maxEventsPerStep when only that is given). Larger transactions write each
   * index page once for more rows: a 100,000-event backfill wrote 2.1 GB at 500 events per step
   * and 1.3 GB at 2,000 (docs/performance.md "Backfill").
   */
  catchUpEventsPerStep?: number;
  pollMs?: number;
  /**
   * Read the catch-up's final ranges ahead (logs, headers, decoding) on a worker thread from
   * `rpc.url`, not through `rpc` on the event loop (ADR 0039). Off for an `rpc` that is not
   * simply a client of its URL (a recording, a replay).
   */
  readOffThread?: boolean;
  log?: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };
}

export interface IndexerStatus {
  headBlock: number;
  indexedBlock: number;
  /** Blocks between the chain head last read and the index (the finality depth included). */
  lagBlocks: number;
  synced: boolean;
  halted: string | null;
  range: number;
  /** When the chain head was last read successfully (ms since the epoch), null before the first. */
  lastHeadAt: number | null;
  /** Why the last step failed, null once a step succeeds again. */
  lastError: string | null;
}

interface Checkpoint {
  number: number;
  hash: string | null;
}

/**
 * Blocks the first range of a catch-up spans. Nothing is read ahead of the first step, so the node
 * answers its eth_getLogs while the indexer waits: the bench's first range of 500 blocks held 69,000
 * logs, 1.2–1.5 s before the first write. The range doubles after each light step, and the next
 * range is read while a step writes.
 */
const FIRST_RANGE = 32;

/**
 * Reads ahead on the reader thread failing in a row before a catch-up reads ahead on the event loop
 * instead: a thread that cannot start (or a node the thread cannot reach) would otherwise cost a
 * failed attempt, and a thread start, per step.
 */
const READER_FAILURES = 3;

/** A final range read ahead spanning fewer blocks than this has all its headers asked for with its logs. */
const EAGER_HEADERS = 32;

/** Blocks within the reorg window read per round (headers, then logs by block hash). */
const RECENT_CHUNK = 8;

/** Blocks inside the reorg window by number: headers, and the logs read by each header's hash. */
interface RecentBlocks {
  headers: Map<number, RpcBlock>;
  logs: Map<number, RpcLog[]>;
}

/** How old the head a catching-up step read ahead may be when the next step takes it. */
const EARLY_HEAD_MAX_AGE_MS = 1_000;

/**
 * A block's chain_events rows go to the table together (store/row-groups.ts): running one statement
 * per row from JavaScript cost as much again as the rows themselves (100,401 rows: 1.3 s one at a
 * time, 0.6 s 32 to a statement; docs/performance.md "Backfill"). No handler reads chain_events.
 */
const INSERT_CHAIN_EVENT = `INSERT INTO chain_events (block_number, log_index, tx_hash, block_time, contract, event, args) VALUES`;

/**
 * Follows a chain and applies Lotline's contract events to SQLite.
 *
 * Invariant (the block-hash chain): every stored block's parentHash equals the stored hash of the
 * block before it, and the checkpoint names the newest applied block by number and hash. Each
 * step first checks the checkpoint's hash against the chain; a mismatch or a chain shorter than
 * the checkpoint is a reorganisation, rolled back to the newest stored block the chain still has.
 *
 * Durability: a step's rows, its block hashes and the new checkpoint commit in one SQLite
 * transaction, so a crash at any instant leaves the index at a step boundary: nothing lost, nothing
 * applied twice.
 */
export function createIndexer(options: IndexerOptions) {
  const { db, rpc, handlers, finalityDepth, reorgWindow } = options;
  const maxRange = options.maxRange ?? 2_000;
  // 100 ms: a transaction sent past the service (a wallet, another member) shows in the API within
  // about a poll and a step (docs/performance.md, visibility); an idle poll is one eth_blockNumber.
  const pollMs = options.pollMs ?? 100;
  const maxEventsPerStep = options.maxEventsPerStep ?? 500;
  const catchUpEventsPerStep = options.catchUpEventsPerStep ?? options.maxEventsPerStep ?? 2_000;
  const emitter = new EventEmitter();
  const addresses = Object.values(options.contracts);
  const contractByAddress = new Map<string, ContractName>(
    Object.entries(options.contracts).map(([name, address]) => [address.toLowerCase(), name as ContractName]),
  );
  // topic0 → event, built once: ethers' parseLog recomputes every event's topic hash per log.
  // Each event's decoder is compiled once too (decode.ts).
  const eventsByTopic = new Map<ContractName, Map<string, { fragment: EventFragment; decode: LogDecoder; names: string[] }>>();
  for (const name of contractByAddress.values()) {
    const byTopic = new Map<string, { fragment: EventFragment; decode: LogDecoder; names: string[] }>();
    INTERFACES[name].forEachEvent((fragment) =>
      byTopic.set(fragment.topicHash, { fragment, decode: compileDecoder(INTERFACES[name], fragment), names: fragment.inputs.map((i) => i.name) }),
    );
    eventsByTopic.set(name, byTopic);
  }

  let range = Math.min(maxRange, FIRST_RANGE);
  /**
   * The next final range, read while the current step fetches its blocks and writes (a pipeline one
   * range deep): its logs and the blocks holding them, as a step would read them. Never written
   * from before its own step: that step takes it only if it starts where the checkpoint ends and is
   * still wholly below the reorg window; any other step, a reorganisation or a rebuild drops it.
   */
  let prefetch: { from: number; to: number; read: Promise<FinalRange | null> } | null = null;
  /**
   * Blocks inside the reorg window read and not yet applied: headers, and the logs read by each
   * header's hash. Those past a step's cut, the headers of the next step's blocks (read with the
   * step's own), and the next step's logs, read while a step writes (`readRecentAhead`). A step takes
   * them only as part of a chain of parent hashes starting at its checkpoint
   * (`chainMovedUnderneath`), as it takes blocks it reads itself; a step that finds them not to
   * continue its checkpoint, a reorganisation and a rebuild drop them all (`forgetRecent`).
   */
  let recentRead: RecentBlocks = { headers: new Map(), logs: new Map() };
  /**
   * The head and the header of the block a catching-up step is about to checkpoint, asked for
   * before it writes, for the step right after it: every step starts with these two reads, and
   * waiting for them was about 0.6 s of a 100,000-event backfill on an idle machine (1.8 s with the
   * node busy). Taken only by the next step, only if the checkpoint is that block and the answer is
   * less than EARLY_HEAD_MAX_AGE_MS old; otherwise, or if it failed, the step reads them itself as
   * before. A reorganisation or a rebuild drops it.
   */
  let headAhead: { checkpoint: number; at: number; read: Promise<[number, RpcBlock | null] | null> } | null = null;
  /** The read of the next step's window blocks, under way while this step writes; never rejects. */
  let recentAhead: Promise<void> | null = null;
  /**
   * Checkpoints off the event loop while the index catches up (ADR 0033). undefined: none running,
   * made by the next catch-up step; null: none for this indexer (no file, or its thread failed).
   */
  let checkpointer: Checkpointer | null | undefined;
  /**
   * The thread reading final ranges ahead while the index catches up (ADR 0039); made by the first
   * final step of a catch-up, closed with the checkpointer before the step reaching the head and on
   * stop. The engine emits "reader" once it has loaded.
   */
  let reader: WorkerThread | undefined;
  const READER = require.resolve("./range-reader");
  let eventsForReader: string | undefined;
  /** Reads ahead on the thread that failed in a row; past READER_FAILURES the catch-up reads ahead on the event loop. */
  let readerFailures = 0;
  /** The reader thread has loaded its module: reads ahead go to it. */
  let readerReady = false;
  let headBlock = 0;
  let lastHeadAt: number | null = null;
  let lastError: string | null = null;
  let halted: string | null = null;
  let running = false;
  let loop: Promise<void> | null = null;
  let wake: (() => void) | null = null;

  const readCheckpoint = db.prepare(`SELECT block_number AS number, block_hash AS hash FROM indexer_checkpoint WHERE id = 1`);
  const writeCheckpoint = db.prepare(
    `INSERT INTO indexer_checkpoint (id, block_number, block_hash, updated_at) VALUES (1, ?, ?, ?)
     ON CONFLICT (id) DO UPDATE SET block_number = excluded.block_number, block_hash = excluded.block_hash, updated_at = excluded.updated_at`,
  );
  const storeBlock = db.prepare(
    `INSERT OR REPLACE INTO indexer_blocks (block_number, block_hash, parent_hash, timestamp, journalled) VALUES (?, ?, ?, ?, ?)`,
  );

  const forgetBlocks = db.prepare(`DELETE FROM indexer_blocks WHERE block_number <= ? AND block_number < ?`);

  function checkpoint(): Checkpoint {
    const row = readCheckpoint.get() as Checkpoint | undefined;
    return row ?? { number: options.startBlock - 1, hash: null };
  }

  const rpcRetry = <T>(fn: () => Promise<T>) =>
    withRetry(fn, { onRetry: (err, attempt) => options.log?.warn({ err: err.message, attempt }, "RPC call failed; retrying") });
  /** How a read calls the node: retrying as a step reads, or once (a read ahead, which the step redoes if it fails). */
  const rpcCall = (retry: boolean) => (retry ? rpcRetry : <T>(fn: () => Promise<T>) => fn());

  /**
   * Reads a final range ahead of its step: its logs, then the blocks a step would fetch for them
   * (those holding logs up to where the step will be cut, and its last block). `known`: the range's
   * logs, already read (what a step cut off its own range). One attempt, no retries: a failure is
   * answered null, and the step reads the range itself, retrying as usual.
   */
  function readAhead(from: number, to: number, known?: StepLog[]): void {
    if (readerReady && readerFailures < READER_FAILURES) {
      readAheadOffThread(from, to, known);
      return;
    }
    const read: Promise<FinalRange | null> = readRangeWithHeaders(
      rpc,
      { from, to, limit: catchUpEventsPerStep, eagerHeaders: !known && to - from < EAGER_HEADERS },
      async () => known ?? rpc.getLogs({ fromBlock: from, toBlock: to, address: addresses }).then(sortLogs),
    ).catch(() => null);
    prefetch = { from, to, read };
  }

  /**
   * readAhead on the reader thread: the range's logs read, parsed and decoded there, handed over
   * in columns (range-reader.ts); for logs known already, only the headers. Any failure (the node,
   * the thread) is answered null, as a read ahead's: the step reads the range itself.
   */
  function readAheadOffThread(from: number, to: number, known?: StepLog[]): void {
    reader ??= createWorkerThread("indexer-reader");
    const thread = reader;
    const read = (async (): Promise<FinalRange | null> => {
      if (!known) {
        const request: ReadRequest = { url: rpc.url, events: (eventsForReader ??= readerEvents(options.contracts, INTERFACES)), from, to, limit: catchUpEventsPerStep, eagerHeaders: to - from < EAGER_HEADERS };
        return unpackRange(await thread.run<PackedRange>(READER, "readFinalRange", [request]));
      }
      const headers = await thread.run<RpcBlock[]>(READER, "readHeaders", [rpc.url, headersNeeded(known, catchUpEventsPerStep, to)]);
      return { logs: known, blocks: new Map(headers.map((b) => [b.number, b])) };
    })().then(
      (range) => {
        readerFailures = 0;
        return range;
      },
      () => {
        readerFailures++;
        return null;
      },
    );
    prefetch = { from, to, read };
  }

  /**
   * Reads the headers of `numbers` not read yet into `into`. `retry`: as a step reads; otherwise
   * one attempt, and the first failure ends the read (the step reads what is missing itself).
   */
  async function readHeaders(into: RecentBlocks, numbers: number[], retry: boolean): Promise<void> {
    const call = rpcCall(retry);
    const missing = numbers.filter((n) => !into.headers.has(n));
    if (missing.length === 0) return;
    await mapLimited(missing, 8, async (n) => {
      const block = await call(() => rpc.getBlock(n));
      if (!block) throw new Error(`block ${n} is missing though the head is ${headBlock}`);
      into.headers.set(n, block);
    });
  }

  /**
   * Reads the headers of `numbers` not read yet, then the logs of each by its hash, into `into`:
   * a block's logs are always the very header's. With the headers read already, the logs are asked
   * for before this returns to the caller (no await in between). `retry`: as a step reads
   * (retrying, and telling a block that left the chain from a fault: its number is returned);
   * otherwise one attempt, and the first failure ends the read.
   */
  async function readRecent(into: RecentBlocks, numbers: number[], retry: boolean): Promise<number | null> {
    const call = rpcCall(retry);
    if (numbers.some((n) => !into.headers.has(n))) await readHeaders(into, numbers, retry);
    let leftChain: number | null = null;
    await mapLimited(numbers.filter((n) => !into.logs.has(n)), 8, async (n) => {
      const block = into.headers.get(n)!;
      try {
        into.logs.set(n, await call(() => rpc.getBlockLogs(block.hash, addresses)));
      } catch (err) {
        if (!retry) throw err;
        // A node forgets a block that left the chain: that is a reorganisation under way, not a fault.
        const now = await rpcRetry(() => rpc.getBlock(n));
        if (now && now.hash === block.hash) throw err;
        leftChain = n;
      }
    });
    return leftChain;
  }

  /**
   * Reads the window blocks the next step will apply (from `from`, eight at a time, until they hold
   * more events than a catching-up step applies, or `to`) while this step writes: the node answers
   * while SQLite works, instead of after (ADR 0038).
   */
  function readRecentAhead(from: number, to: number): void {
    const into = recentRead;
    recentAhead = (async () => {
      let events = 0;
      for (let start = from; start <= to && events <= catchUpEventsPerStep; start += RECENT_CHUNK) {
        const numbers: number[] = [];
        for (let n = start; n <= Math.min(to, start + RECENT_CHUNK - 1); n++) numbers.push(n);
        await readRecent(into, numbers, false);
        for (const n of numbers) events += into.logs.get(n)!.length;
      }
    })().catch(() => undefined);
  }

  /** Drops the window blocks read below `n` (applied, or behind the checkpoint). */
  function forgetBelow(n: number): void {
    for (const map of [recentRead.headers, recentRead.logs]) for (const k of map.keys()) if (k < n) map.delete(k);
  }

  /** Drops every window block read and not applied (the chain moved, or the index did). */
  function forgetRecent(): void {
    recentRead = { headers: new Map(), logs: new Map() };
    recentAhead = null;
  }

  /** One step: check for a reorganisation, else apply the next range of blocks. */
  async function step(): Promise<IndexerStep> {
    if (halted) throw new IndexerHaltedError(halted);
    const cp = checkpoint();
    const early = headAhead;
    headAhead = null;
    const earlyRead = early && early.checkpoint === cp.number && performance.now() - early.at < EARLY_HEAD_MAX_AGE_MS ? await early.read : null;
    // The head and the checkpoint's block on the chain, read together (one round trip, not two).
    const [head, onChain] = earlyRead ?? await Promise.all([
      rpcRetry(() => rpc.blockNumber()).catch((err: Error) => {
        lastError = `cannot read the chain head: ${err.message}`;
        throw err;
      }),
      cp.hash === null ? null : rpcRetry(() => rpc.getBlock(cp.number)).catch((err: Error) => err),
    ]);
    headBlock = head;
    lastHeadAt = Date.now();
    const ahead = prefetch;
    prefetch = null;

    if (cp.hash !== null) {
      if (head < cp.number) return reorganise(head, `the chain head ${head} is below the checkpoint ${cp.number}`);
      if (onChain instanceof Error) throw onChain;
      if (!onChain || onChain.hash !== cp.hash) return reorganise(head, `block ${cp.number} changed hash`);
    }

    const target = head - finalityDepth;
    if (target <= cp.number) return { type: "idle", head };
    const from = cp.number + 1;
    let to = Math.min(target, from + range - 1);
    // Blocks within the reorg window may still change. Their headers are read first and their
    // logs then by block hash, so every log applied belongs to the very header checked: a fork
    // switching between a range query and the header reads cannot hide a block's logs (a range
    // query answered from the old fork would miss logs the new fork's block has). Older blocks
    // are final, read by range, and only those with logs (and the range end) are fetched.
    const recentFrom = Math.max(from, head - reorgWindow + 1);
    // The reader thread starts (≈ 0.5 s of loading, on the other core) while this step reads.
    // Until it has started, steps read ahead on the event loop: the first steps of a catch-up are
    // light (the range ramps up from FIRST_RANGE), and waiting for the thread held them for most of
    // its start.
    if (options.readOffThread && from < recentFrom && !reader) {
      const thread = (reader = createWorkerThread("indexer-reader"));
      thread.run(READER, "warmUp", []).then(
        () => {
          if (reader !== thread) return;
          readerReady = true;
          emitter.emit("reader");
        },
        () => undefined,
      );
    }

    let logs: StepLog[] = [];
    const blocks = new Map<number, RpcBlock>();
    // The last block whose logs `logs` holds (of a final range read by this step or ahead of it).
    let readTo = to;
    // The range read ahead, if it is this step's: it starts at the checkpoint and is still final.
    const readAlready = ahead && ahead.from === from && ahead.to < recentFrom && ahead.to <= target ? await ahead.read : null;
    if (readAlready) {
      to = readTo = ahead!.to;
      logs = readAlready.logs;
      for (const [n, block] of readAlready.blocks) blocks.set(n, block);
      if (logs.length > catchUpEventsPerStep) to = cutAtBlock(logs, catchUpEventsPerStep);
    } else if (from < recentFrom) {
      const finalTo = Math.min(to, recentFrom - 1);
      readTo = finalTo;
      try {
        logs = await rpcRetry(() => rpc.getLogs({ fromBlock: from, toBlock: finalTo, address: addresses }));
      } catch (err) {
        if (isRangeTooLarge(err) && range > 1) {
          range = Math.max(1, Math.floor(range / 2));
          return { type: "retry", reason: `log range too large; now ${range} blocks` };
        }
        throw err;
      }
      logs = sortLogs(logs);
      if (logs.length > catchUpEventsPerStep) to = cutAtBlock(logs, catchUpEventsPerStep);
    }
    // A step wholly below the reorg window reads the next range (if final too) while it fetches
    // its blocks and writes: the node answers while SQLite works.
    // A step cut short hands on the logs past its cut: the next step's range, read already.
    if (to < recentFrom) {
      if (readTo > to) readAhead(to + 1, readTo, logs.filter((l) => l.blockNumber > to));
      else {
        const inStep = logs.length;
        const nextRange = inStep < catchUpEventsPerStep / 2 ? Math.min(maxRange, range * 2) : range;
        const nextTo = Math.min(target, recentFrom - 1, to + nextRange);
        if (nextTo > to) readAhead(to + 1, nextTo);
      }
    }

    const fetchBlocks = (numbers: number[]) =>
      mapLimited(numbers, 8, async (n) => {
        const block = await rpcRetry(() => rpc.getBlock(n));
        if (!block) throw new Error(`block ${n} is missing though the head is ${head}`);
        blocks.set(n, block);
      });
    // Recent blocks, eight at a time (headers, then their logs by hash), until the step holds more
    // events than a catching-up step applies: the blocks past its cut are read again by the next
    // step, so reading all of a window full of events at every step read most of them many times.
    // Those read already (past the step before's cut, or while it wrote) are taken as read.
    const recentLogs: RpcLog[] = [];
    const finalEvents = logs.filter((l) => l.blockNumber <= to).length;
    if (recentAhead) await recentAhead;
    recentAhead = null;
    forgetBelow(from);
    if (recentFrom <= to) {
      // The headers of this step's blocks and of the next step's in one round: the next step's logs
      // can then be asked for before this step writes (readRecentAhead).
      const own: number[] = [];
      const next: number[] = [];
      for (let n = recentFrom; n <= to; n++) own.push(n);
      for (let n = to + 1; n <= Math.min(target, to + (to - recentFrom + 1)); n++) next.push(n);
      await Promise.all([readHeaders(recentRead, own, true), readHeaders(recentRead, next, false).catch(() => undefined)]);
    }
    for (let start = recentFrom; start <= to; start += RECENT_CHUNK) {
      const recent: number[] = [];
      for (let n = start; n <= Math.min(to, start + RECENT_CHUNK - 1); n++) recent.push(n);
      const leftChain = await readRecent(recentRead, recent, true);
      if (leftChain !== null) {
        forgetRecent();
        return { type: "retry", reason: `block ${leftChain} left the chain while its logs were read` };
      }
      for (const n of recent) {
        blocks.set(n, recentRead.headers.get(n)!);
        recentLogs.push(...recentRead.logs.get(n)!);
      }
      if (finalEvents + recentLogs.length > catchUpEventsPerStep && recent.at(-1)! < to) {
        to = recent.at(-1)!;
        range = Math.max(1, to - from + 1);
        break;
      }
    }
    logs = sortLogs([...logs, ...recentLogs]);
    // A step that may reach the head applies at most maxEventsPerStep (final blocks first): those
    // are the steps of a node following the head. One that ends short of it (its range, or more
    // than catchUpEventsPerStep events ahead) is the index still catching up, inside the reorg
    // window or below it: it applies as many as catchUpEventsPerStep (the bench's last 64 blocks,
    // 12,700 events: 2.9 → 2.0 CPU-seconds).
    const limit = to < target ? catchUpEventsPerStep : maxEventsPerStep;
    if (logs.length > limit) to = cutAtBlock(logs, limit);
    logs = logs.filter((l) => l.blockNumber <= to);

    const wanted = new Set<number>([to, ...logs.map((l) => l.blockNumber)]);
    for (let n = recentFrom; n <= to; n++) wanted.add(n);
    const numbers = [...wanted].sort((a, b) => a - b);
    await fetchBlocks(numbers.filter((n) => !blocks.has(n)));

    const moved = chainMovedUnderneath(cp, from, recentFrom, to, blocks, logs);
    if (moved) {
      forgetRecent();
      return { type: "retry", reason: moved };
    }

    // A step wholly below the reorg window writes without the journal triggers and, when the
    // catch-up ahead is at least as long as the chain indexed so far (so rebuilding them costs less
    // than it saves), without the secondary indexes no handler reads (ADR 0035). A step reaching
    // into the window has the triggers back first (its blocks are journalled); the step reaching
    // the head has the indexes back too (the node's view is then current).
    const final = to < recentFrom;
    const deferIndexes = final && recentFrom - from >= from - options.startBlock;
    const catchingUp = to < target;

    const events = logs;
    // The next step's window blocks, read while this one waits for the checkpointer and writes.
    forgetBelow(to + 1);
    if (catchingUp && to + 1 > head - reorgWindow) {
      const nextRange = events.length < limit / 2 ? Math.min(maxRange, range * 2) : range;
      readRecentAhead(to + 1, Math.min(target, to + nextRange));
    }
    // A step that leaves blocks behind it (the index catching up: a backfill) commits without
    // waiting for the disk, and lets the WAL grow before a checkpoint copies it back; the step that
    // reaches the head commits as every other write, and its fsync makes the whole catch-up durable
    // (docs/performance.md "Backfill"). A power cut in between can only take the index back to an
    // earlier step boundary: WAL commits stay atomic, SQLite still syncs around each checkpoint, and
    // every row here is derived from blocks the chain keeps. Commits (the WAL's fsync, and a
    // checkpoint at nearly every step) were about a third of a backfill's time.
    const apply = db.transaction(() => {
      if (final) deferCatchUpSchema(db, { indexes: deferIndexes });
      // Rows held back per block (chain_events, timelines: store/row-groups.ts) are inserted before
      // the block's other writes end, in the order given: the rowids and the journal's block of each
      // are those one statement per row gives.
      openRowGroup(db);
      try {
        let i = 0;
        for (const n of numbers) {
          const block = blocks.get(n)!;
          // Blocks below the reorg window are final (read by range, never rolled back through the
          // journal: a deeper reorganisation rebuilds or halts), so their writes are not journalled;
          // the journal's row images were most of a backfill's write cost.
          if (n >= recentFrom) beginJournalBlock(db, n);
          else setJournalling(db, false);
          const time = new Date(block.timestamp * 1000).toISOString();
          for (; i < events.length && events[i].blockNumber === n; i++) applyLog(events[i], block, time);
          flushRowGroup(db);
          storeBlock.run(block.number, block.hash, block.parentHash, block.timestamp, n >= recentFrom ? 1 : 0);
        }
      } finally {
        closeRowGroup(db);
      }
      setJournalling(db, false);
      writeCheckpoint.run(to, blocks.get(to)!.hash, new Date().toISOString());
      const finalBelow = to - reorgWindow;
      pruneJournal(db, finalBelow);
      forgetBlocks.run(finalBelow, to);
    });
    if (catchingUp && checkpointer === undefined)
      checkpointer = createCheckpointer(db, (message) => options.log?.warn({ err: message }, "WAL checkpoint failed"));
    // A thread that failed: this connection checkpoints again, as it did before (ADR 0032).
    if (checkpointer && !checkpointer.alive()) checkpointer = null;
    // The checkpointer two commits behind: let it finish, so the WAL it copies back stays a few
    // steps long and starts over (awaited: the event loop is free meanwhile). Before the step that
    // reaches the head, it finishes and stops: that step commits and checkpoints as any write does.
    if (checkpointer && (checkpointer.behind() || !catchingUp)) await checkpointer.drained();
    if (checkpointer && !catchingUp) {
      await checkpointer.close();
      checkpointer = undefined;
    }
    if (reader && !catchingUp) {
      await reader.close();
      reader = undefined;
      readerReady = false;
      readerFailures = 0;
    }
    if (!final) await restoreSchema(catchingUp ? "trigger" : "all");
    const restore = catchingUp ? relaxDurability(db, checkpointer != null) : null;
    if (catchingUp) headAhead = { checkpoint: to, at: performance.now(), read: Promise.all([rpc.blockNumber(), rpc.getBlock(to)]).catch(() => null) };
    try {
      apply();
    } finally {
      restore?.();
    }
    if (catchingUp) checkpointer?.request();

    if (events.length < limit / 2) range = Math.min(maxRange, range * 2);
    const result: IndexerStep = { type: "blocks", from, to, events: events.length };
    emitter.emit("step", result);
    return result;
  }

  /**
   * Cuts a step holding more than `limit` logs (sorted) at a block boundary, never
   * splitting a block, and narrows the range to match. Returns the step's new last block.
   */
  function cutAtBlock(sorted: StepLog[], limit: number): number {
    const to = cutBlock(sorted, limit);
    range = Math.max(1, to - (checkpoint().number + 1) + 1);
    return to;
  }

  /** Applies one log of `block`, whose timestamp is `time` (ISO 8601, formatted once per block). */
  function applyLog(log: StepLog, block: RpcBlock, time: string): void {
    const contract = contractByAddress.get(log.address.toLowerCase());
    if (!contract) return;
    const known = eventsByTopic.get(contract)!.get(log.topics[0]);
    if (!known) return; // not an event of this contract's ABI
    const { fragment, names } = known;
    // Decoded by the reader thread (a final range read ahead), or here.
    const decoded = log.decoded;
    const args = decoded ? nameValues(decoded.values, names) : known.decode(log.data, log.topics);
    const event: ChainEvent = {
      contract,
      name: fragment.name,
      args,
      log,
      block,
      time,
    };
    insertGrouped(db, INSERT_CHAIN_EVENT, [
      log.blockNumber,
      log.logIndex,
      log.transactionHash,
      event.time,
      contract,
      fragment.name,
      decoded ? decoded.json : JSON.stringify(eventArgsToJson(fragment.inputs, args)),
    ]);
    handlers[`${contract}.${fragment.name}`]?.(db, event);
  }

  /**
   * Creates again what catch-up steps dropped (ADR 0035): the triggers in one transaction, each
   * index in its own, letting the event loop run in between (a CREATE INDEX over a large table
   * holds it for a while).
   */
  async function restoreSchema(which: "trigger" | "all"): Promise<void> {
    const t0 = performance.now();
    const triggers = restoreDeferred(db, deferredSchema(db, "trigger"));
    const indexes = which === "all" ? deferredSchema(db, "index") : [];
    for (const name of indexes) {
      await new Promise((resolve) => setImmediate(resolve));
      restoreDeferred(db, [name]);
    }
    if (triggers + indexes.length > 0)
      options.log?.info({ triggers, indexes: indexes.length, ms: Math.round(performance.now() - t0) }, "schema objects dropped for the catch-up created again");
  }

  /** Finds the common ancestor and rolls back to it, or rebuilds/halts when none is in reach. */
  async function reorganise(head: number, reason: string): Promise<IndexerStep> {
    prefetch = null;
    headAhead = null;
    forgetRecent();
    // Only steps holding the journal triggers wrote the journal a rollback replays; and the node's
    // view after a reorganisation is current, as after a step reaching the head.
    await restoreSchema("all");
    const cp = checkpoint();
    const stored = db
      .prepare(`SELECT block_number AS number, block_hash AS hash FROM indexer_blocks WHERE block_number <= ? ORDER BY block_number DESC`)
      .all(Math.min(head, cp.number)) as { number: number; hash: string }[];
    let ancestor: number | null = null;
    for (const candidate of stored) {
      const onChain = await rpcRetry(() => rpc.getBlock(candidate.number));
      if (onChain && onChain.hash === candidate.hash) {
        ancestor = candidate.number;
        break;
      }
    }
    // Rolled back through the journal only if every block above the ancestor was journalled: a block
    // indexed while it was final (the index catching up, more than the window below the head) was
    // written without it, and is not even stored unless it had logs. Counted from the checkpoint, a
    // reorganisation of such blocks looked shallow, and their rows outlived the rollback.
    const journalledAbove = (from: number) => {
      const r = db.prepare(`SELECT COUNT(*) AS n, MIN(journalled) AS all_journalled FROM indexer_blocks WHERE block_number > ? AND block_number <= ?`).get(
        from,
        cp.number,
      ) as { n: number; all_journalled: number | null };
      return r.n === cp.number - from && (r.n === 0 || r.all_journalled === 1);
    };
    // (A const: the check below narrows it for the rollback's closure, which `ancestor`, reassigned above, is not.)
    const target = ancestor;
    const tooDeep = target === null || cp.number - target > reorgWindow;
    if (tooDeep || !journalledAbove(target)) {
      const why = tooDeep
        ? `reorganisation deeper than the reorg window (${reorgWindow} blocks): ${reason}`
        : `reorganisation of blocks indexed while they were final (more than the reorg window of ${reorgWindow} blocks below the head, so not journalled) back to block ${target}: ${reason}`;
      if (options.rebuildOnDeepReorg) return rebuild(why);
      halted = `${why}; the index needs an operator (rebuild it with 'lotline index rebuild')`;
      options.log?.warn({ reason }, halted);
      throw new IndexerHaltedError(halted);
    }
    const undone = db.transaction(() => {
      const count = rollbackJournal(db, target);
      db.prepare(`DELETE FROM indexer_blocks WHERE block_number > ?`).run(target);
      const hash = (db.prepare(`SELECT block_hash FROM indexer_blocks WHERE block_number = ?`).get(target) as { block_hash: string }).block_hash;
      writeCheckpoint.run(target, hash, new Date().toISOString());
      return count;
    })();
    options.log?.warn({ from: cp.number, ancestor: target, undone, reason }, "reorganisation rolled back");
    const result: IndexerStep = { type: "reorg", from: cp.number, ancestor: target, undone };
    emitter.emit("step", result);
    return result;
  }

  /** Empties every derived table and the checkpoint, so the next steps re-read from startBlock. */
  function rebuild(reason: string): IndexerStep {
    prefetch = null;
    headAhead = null;
    forgetRecent();
    clearIndex(db);
    options.log?.warn({ reason }, "rebuilding the index from the chain");
    const result: IndexerStep = { type: "rebuild", reason };
    emitter.emit("step", result);
    return result;
  }

  async function runLoop(): Promise<void> {
    while (running) {
      try {
        const result = await step();
        lastError = null;
        if (result.type === "idle") await pause(pollMs);
      } catch (err) {
        lastError ??= (err as Error).message;
        if (err instanceof IndexerHaltedError) {
          running = false;
          emitter.emit("halted", err);
          return;
        }
        options.log?.warn({ err: (err as Error).message }, "indexer step failed; retrying");
        emitter.emit("error", err);
        await pause(Math.max(pollMs, 1_000));
      }
    }
  }

  function pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  function status(): IndexerStatus {
    const indexedBlock = Math.max(checkpoint().number, 0);
    const lagBlocks = Math.max(0, headBlock - indexedBlock);
    const synced = headBlock > 0 && lagBlocks <= finalityDepth;
    return { headBlock, indexedBlock, lagBlocks, synced, halted, range, lastHeadAt, lastError };
  }

  return {
    step,
    status,
    rebuild,
    /** Runs steps until the index reaches the chain head as it is now. */
    async syncToHead(): Promise<void> {
      for (;;) {
        const result = await step();
        if (result.type === "idle") return;
      }
    },
    start(): void {
      if (running) return;
      running = true;
      emitter.on("error", () => undefined); // errors are logged; keep EventEmitter from throwing
      loop = runLoop();
    },
    /** Lets a waiting loop look at the chain now (after the service sent a transaction). */
    poke(): void {
      wake?.();
    },
    async stop(): Promise<void> {
      running = false;
      wake?.();
      await loop;
      await checkpointer?.close();
      checkpointer = undefined;
      await reader?.close();
      reader = undefined;
      readerReady = false;
    },
    /** Resolves once blocks up to `blockNumber` are indexed. */
    waitForBlock(blockNumber: number, timeoutMs = 60_000): Promise<void> {
      if (checkpoint().number >= blockNumber) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          emitter.off("step", onStep);
          reject(new Error(`the indexer did not reach block ${blockNumber} within ${timeoutMs} ms`));
        }, timeoutMs);
        const onStep = () => {
          if (checkpoint().number >= blockNumber) {
            clearTimeout(timer);
            emitter.off("step", onStep);
            resolve();
          }
        };
        emitter.on("step", onStep);
        wake?.();
      });
    },
    on: emitter.on.bind(emitter),
  };
}
export type Indexer = ReturnType<typeof createIndexer>;

/**
 * Returns why the fetched blocks and logs do not form one chain continuing the checkpoint (the
 * chain reorganised while we were reading), or null when they do.
 */
function chainMovedUnderneath(
  cp: Checkpoint,
  from: number,
  recentFrom: number,
  to: number,
  blocks: Map<number, RpcBlock>,
  logs: RpcLog[],
): string | null {
  for (let n = recentFrom; n <= to; n++) {
    const block = blocks.get(n)!;
    const parentHash = n === from ? cp.hash : blocks.get(n - 1)?.hash;
    if (parentHash && block.parentHash !== parentHash) return `block ${n} does not follow block ${n - 1}`;
  }
  for (const log of logs) {
    if (blocks.get(log.blockNumber)!.hash !== log.blockHash) return `log in block ${log.blockNumber} is from another fork`;
  }
  return null;
}


/** Pages of WAL a catching-up step lets accumulate before its commit checkpoints (SQLite's default: 1,000). */
const CATCH_UP_CHECKPOINT_PAGES = 4_096;

/**
 * synchronous = NORMAL and a larger auto-checkpoint for the next transaction; returns what puts the
 * connection's own settings back. Both are per connection, read and set synchronously around one
 * synchronous transaction, so no other write of the node runs under them.
 */
function relaxDurability(db: Db, checkpointsElsewhere: boolean): () => void {
  const synchronous = db.pragma("synchronous", { simple: true }) as number;
  const checkpointPages = db.pragma("wal_autocheckpoint", { simple: true }) as number;
  db.pragma("synchronous = NORMAL");
  // 0: no checkpoint on this connection; the checkpointer's thread copies the WAL back.
  db.pragma(`wal_autocheckpoint = ${checkpointsElsewhere ? 0 : Math.max(checkpointPages, CATCH_UP_CHECKPOINT_PAGES)}`);
  return () => {
    db.pragma(`synchronous = ${synchronous}`);
    db.pragma(`wal_autocheckpoint = ${checkpointPages}`);
  };
}
