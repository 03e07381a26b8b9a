import { Interface, type EventFragment, type InterfaceAbi } from "ethers";
import { createRpcClient, type RpcBlock, type RpcClient, type RpcLog } from "../chain/rpc";
import { compileValues } from "./decode";
import { eventArgsToJson } from "./json";

/**
 * Reading a final range of the catch-up (logs by range, the headers of the blocks holding them)
 * and decoding its logs, on a worker thread (ADR 0039). The main thread's CPU limits a backfill:
 * the HTTP client, JSON.parse of ≈ 90 MB of logs per 100,000 events and the ABI decoding took
 * 1.3–2 s of it beside the handlers' SQLite writes, while the second core was partly idle.
 *
 * The reader answers a range in columns (`PackedRange`): a structured clone of 100,000 small log
 * objects cost the receiving thread ≈ 3.6 µs each, columns ≈ 1.2 µs with the objects built again
 * (docs/performance.md "Backfill", sixth pass). Each log carries its arguments decoded (values by
 * position, names set again on the main thread) and their chain_events JSON; a log the compiled
 * decoder does not read (a type it does not handle, data it cannot read) goes raw, and the main
 * thread decodes it as before, raising the same errors in its step.
 */

/** A log as a step applies it: read by the main thread (raw), or decoded already by the reader thread. */
export type StepLog = RpcLog & { decoded?: { values: unknown[]; json: string } };

/** A final range's logs (sorted) and the blocks holding them, read ahead of its step. */
export interface FinalRange {
  logs: StepLog[];
  blocks: Map<number, RpcBlock>;
}

/** A final range as the reader thread answers it: one array per field. */
export interface PackedRange {
  blocks: RpcBlock[];
  blockNumber: Float64Array;
  logIndex: Float64Array;
  /** Index into `hashes`: a block's hash once per range, not once per log. */
  blockHash: Int32Array;
  hashes: string[];
  transactionHash: string[];
  /** Index into `sources`: [address, topic0] once per kind of event. */
  source: Int32Array;
  sources: [string, string][];
  /** The decoded values, or 0 for a log sent raw. */
  values: (unknown[] | 0)[];
  json: string[];
  /** [data, topics] of a log sent raw, 0 for a decoded one. */
  raw: ([string, string[]] | 0)[];
}

export interface ReadRequest {
  url: string;
  /** The contracts' addresses, and their events' ABI: `readerEvents`. */
  events: string;
  from: number;
  to: number;
  /** Most events a step applies: the headers read are those up to where the step will be cut. */
  limit: number;
  /** Ask for every block's header with the logs (a short, dense range). */
  eagerHeaders: boolean;
}

/** Logs a step applies, in chain order, without those a reorganisation removed. */
export function sortLogs<T extends RpcLog>(logs: T[]): T[] {
  return logs.filter((l) => !l.removed).sort((a, b) => a.blockNumber - b.blockNumber || a.logIndex - b.logIndex);
}

/**
 * Where a step holding `sorted` (more than `limit` logs) ends: at a block boundary, never
 * splitting a block.
 */
export function cutBlock(sorted: RpcLog[], limit: number): number {
  const from = sorted[0].blockNumber;
  const firstCut = sorted[limit].blockNumber;
  return firstCut > from ? firstCut - 1 : firstCut;
}

export async function mapLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]);
  });
  await Promise.all(workers);
}

/**
 * The blocks whose headers a step of `logs` (sorted) needs: those holding its logs up to where it is
 * cut at `limit` events, and its last block (`to` when it is not cut).
 */
export function headersNeeded(logs: RpcLog[], limit: number, to: number): number[] {
  const end = logs.length > limit ? cutBlock(logs, limit) : to;
  return [...new Set([end, ...logs.filter((l) => l.blockNumber <= end).map((l) => l.blockNumber)])];
}

/**
 * A final range's logs (`readLogs`: read, or known already) and the headers a step needs for them,
 * 8 at a time. A short range is a dense one (the range narrows to the blocks a step holds): with
 * `eagerHeaders` all its headers are asked for with its logs, so that both are answered in one round
 * trip. One attempt: any failure rejects, and the step reads the range itself, retrying. The engine
 * runs it on the event loop, `readFinalRange` on the reader thread.
 */
export async function readRangeWithHeaders<T extends RpcLog>(
  rpc: Pick<RpcClient, "getBlock">,
  range: { from: number; to: number; limit: number; eagerHeaders: boolean },
  readLogs: () => Promise<T[]>,
): Promise<{ logs: T[]; blocks: Map<number, RpcBlock> }> {
  const { from, to, limit } = range;
  const blocks = new Map<number, RpcBlock>();
  const eager: number[] = [];
  if (range.eagerHeaders) for (let n = from; n <= to; n++) eager.push(n);
  const [logs] = await Promise.all([readLogs(), readHeadersInto(rpc, eager, blocks)]);
  await readHeadersInto(rpc, headersNeeded(logs, limit, to).filter((n) => !blocks.has(n)), blocks);
  return { logs, blocks };
}

/** The headers of `numbers` (those the node has) into `blocks`, 8 at a time; one attempt. */
async function readHeadersInto(rpc: Pick<RpcClient, "getBlock">, numbers: number[], blocks: Map<number, RpcBlock>): Promise<void> {
  await mapLimited(numbers, 8, async (n) => {
    const block = await rpc.getBlock(n);
    if (block) blocks.set(n, block);
  });
}

/** Reads a final range on the reader thread: its logs and headers, parsed and decoded there, packed. */
export async function readFinalRange(request: ReadRequest): Promise<PackedRange> {
  const rpc = clientFor(request.url);
  const decoders = decodersFor(request.events);
  const { logs, blocks } = await readRangeWithHeaders(rpc, request, () =>
    rpc.getLogs({ fromBlock: request.from, toBlock: request.to, address: decoders.addresses }).then(sortLogs),
  );
  return pack(logs, [...blocks.values()], decoders);
}

/**
 * What the reader thread needs to decode `contracts`' logs: each address with its events' ABI (JSON
 * fragments). The thread builds its decoders from this rather than loading every contract's
 * generated factory (ABI and bytecode), which took about half a second of its start.
 */
export function readerEvents(contracts: Record<string, string>, interfaces: Record<string, Interface | undefined>): string {
  const out: [string, unknown[]][] = [];
  for (const [name, address] of Object.entries(contracts)) {
    const events: unknown[] = [];
    interfaces[name]?.forEachEvent((fragment) => events.push(JSON.parse(fragment.format("json"))));
    out.push([address, events]);
  }
  return JSON.stringify(out);
}

/** Answers once the thread has loaded this module (the first read ahead need not wait for it). */
export function warmUp(): boolean {
  return true;
}

/** The headers of `numbers` (those the node has), read 8 at a time; one attempt. */
export async function readHeaders(url: string, numbers: number[]): Promise<RpcBlock[]> {
  const blocks = new Map<number, RpcBlock>();
  await readHeadersInto(clientFor(url), numbers, blocks);
  return [...blocks.values()];
}

/** The logs and blocks of a packed range, as a step reads them. */
export function unpackRange(packed: PackedRange): FinalRange {
  const topicsOf = packed.sources.map(([, topic0]) => [topic0]);
  const logs: StepLog[] = new Array(packed.transactionHash.length);
  for (let i = 0; i < logs.length; i++) {
    const raw = packed.raw[i];
    const values = packed.values[i];
    const source = packed.source[i];
    logs[i] = {
      address: packed.sources[source][0],
      topics: raw === 0 ? topicsOf[source] : raw[1],
      data: raw === 0 ? "" : raw[0],
      blockNumber: packed.blockNumber[i],
      blockHash: packed.hashes[packed.blockHash[i]],
      transactionHash: packed.transactionHash[i],
      logIndex: packed.logIndex[i],
      removed: false,
      decoded: values === 0 ? undefined : { values, json: packed.json[i] },
    };
  }
  return { logs, blocks: new Map(packed.blocks.map((b) => [b.number, b])) };
}

/** Decoders by lowercase address, then topic0 (only events compileValues reads), and the addresses as given. */
type Decoders = Map<string, Map<string, { fragment: EventFragment; read: NonNullable<ReturnType<typeof compileValues>> }>> & { addresses: string[] };

function pack(logs: RpcLog[], blocks: RpcBlock[], decoders: Decoders): PackedRange {
  const n = logs.length;
  const packed: PackedRange = {
    blocks,
    blockNumber: new Float64Array(n),
    logIndex: new Float64Array(n),
    blockHash: new Int32Array(n),
    hashes: [],
    transactionHash: new Array(n),
    source: new Int32Array(n),
    sources: [],
    values: new Array(n),
    json: new Array(n),
    raw: new Array(n),
  };
  // Sorted logs: a block's logs are together, so its hash is the one before or a new one.
  let hash = -1;
  const sourceIndex = new Map<string, Map<string, number>>();
  for (let i = 0; i < n; i++) {
    const log = logs[i];
    packed.blockNumber[i] = log.blockNumber;
    packed.logIndex[i] = log.logIndex;
    if (hash < 0 || packed.hashes[hash] !== log.blockHash) hash = packed.hashes.push(log.blockHash) - 1;
    packed.blockHash[i] = hash;
    packed.transactionHash[i] = log.transactionHash;
    let byTopic = sourceIndex.get(log.address);
    if (!byTopic) sourceIndex.set(log.address, (byTopic = new Map()));
    let s = byTopic.get(log.topics[0]);
    if (s === undefined) byTopic.set(log.topics[0], (s = packed.sources.push([log.address, log.topics[0]]) - 1));
    packed.source[i] = s;
    const known = decoders.get(log.address.toLowerCase())?.get(log.topics[0]);
    let values: unknown[] | null = null;
    let json = "";
    if (known) {
      try {
        values = known.read(log.data, log.topics);
        if (values) json = JSON.stringify(eventArgsToJson(known.fragment.inputs, values as never));
      } catch {
        values = null; // the main thread decodes it, and fails the step as it always has
      }
    }
    // A log of no known event is sent raw as well: the step skips it, as it always has.
    packed.values[i] = values ?? 0;
    packed.json[i] = json;
    packed.raw[i] = values ? 0 : [log.data, log.topics];
  }
  return packed;
}

const clients = new Map<string, RpcClient>();
function clientFor(url: string): RpcClient {
  let client = clients.get(url);
  if (!client) clients.set(url, (client = createRpcClient(url)));
  return client;
}

const decoderSets = new Map<string, Decoders>();
function decodersFor(events: string): Decoders {
  let decoders = decoderSets.get(events);
  if (!decoders) {
    const contracts = JSON.parse(events) as [string, InterfaceAbi][];
    decoders = Object.assign(new Map(), { addresses: contracts.map(([address]) => address) });
    for (const [address, abi] of contracts) {
      const iface = new Interface(abi);
      const byTopic = new Map<string, { fragment: EventFragment; read: NonNullable<ReturnType<typeof compileValues>> }>();
      iface.forEachEvent((fragment) => {
        const read = compileValues(fragment);
        if (read) byTopic.set(fragment.topicHash, { fragment, read });
      });
      decoders.set(address.toLowerCase(), byTopic);
    }
    decoderSets.set(events, decoders);
  }
  return decoders;
}
