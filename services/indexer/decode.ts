import { getAddress, type EventFragment, type Interface, type ParamType, type Result } from "ethers";

/**
 * A log decoder compiled once per event: the same values as ethers' `Interface.decodeEventLog`
 * (bigint integers, checksummed addresses, lowercase 0x-hex bytes, strings, arrays), read straight
 * from the hex. ethers builds a coder tree, a Proxy'd Result and several copies of the data per
 * log; this was the largest CPU cost of a backfill after the journal (docs/performance.md).
 * Events with a type this does not read (tuples, signed integers, dynamic `bytes`, indexed
 * dynamic values) keep ethers' decoder.
 *
 * The value is an array with each argument also under its name, as handlers (`e.args.lotId`) and
 * `eventArgsToJson` (`args[i]`) read a Result.
 */
export type LogDecoder = (data: string, topics: readonly string[]) => Result;

type Reader = (hex: string, word: number) => unknown;

const WORD = 64;

function wordAt(hex: string, word: number): string {
  const start = 2 + word * WORD;
  if (hex.length < start + WORD) throw new Error("log data too short");
  return hex.slice(start, start + WORD);
}

/** Reads a static value of `type` from a 32-byte word (hex without 0x), or null for a type not handled. */
function staticReader(type: ParamType): ((word: string) => unknown) | null {
  const t = type.type;
  if (/^uint\d+$/.test(t)) return (w) => BigInt(`0x${w}`);
  if (t === "address") return (w) => checksumAddress(w.slice(24).toLowerCase());
  if (t === "bool") return (w) => BigInt(`0x${w}`) !== 0n;
  if (t === "bytes32") return (w) => `0x${w.toLowerCase()}`;
  return null;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Checksummed addresses already computed (a keccak each): a consortium's events name the same few
 * hundred agents and contracts again and again. Emptied past MAX_ADDRESSES, so logs naming endless
 * new addresses cannot grow it without bound.
 */
const checksummed = new Map<string, string>();
const MAX_ADDRESSES = 10_000;

function checksumAddress(lowerHex40: string): string {
  let address = checksummed.get(lowerHex40);
  if (address === undefined) {
    if (checksummed.size >= MAX_ADDRESSES) checksummed.clear();
    checksummed.set(lowerHex40, (address = getAddress(`0x${lowerHex40}`)));
  }
  return address;
}

function bytesAt(hex: string, offsetBytes: number): Uint8Array {
  const lengthWord = offsetBytes / 32;
  const length = Number(BigInt(`0x${wordAt(hex, lengthWord)}`));
  const start = 2 + (lengthWord + 1) * WORD;
  if (hex.length < start + length * 2) throw new Error("log data too short");
  return Buffer.from(hex.slice(start, start + length * 2), "hex");
}

/** Reads a head slot of `type`: static in place, or dynamic at the offset the slot holds. */
function headReader(type: ParamType): Reader | null {
  const fixed = staticReader(type);
  if (fixed) return (hex, word) => fixed(wordAt(hex, word));
  if (type.type === "string") {
    return (hex, word) => utf8.decode(bytesAt(hex, Number(BigInt(`0x${wordAt(hex, word)}`))));
  }
  if (type.isArray() && type.arrayLength === -1) {
    const child = staticReader(type.arrayChildren!);
    if (!child) return null;
    return (hex, word) => {
      const at = Number(BigInt(`0x${wordAt(hex, word)}`)) / 32;
      const length = Number(BigInt(`0x${wordAt(hex, at)}`));
      const out: unknown[] = [];
      for (let i = 0; i < length; i++) out.push(child(wordAt(hex, at + 1 + i)));
      return out;
    };
  }
  return null;
}

/**
 * The argument values of `fragment`'s logs, by position (no names), or null for a fragment with a
 * type this does not read. The function answers null for a log whose topic count is not the
 * fragment's, and throws for data too short. The catch-up's reader thread sends these values, as
 * they clone far cheaper than a value carrying names (services/indexer/range-reader.ts).
 */
export function compileValues(fragment: EventFragment): ((data: string, topics: readonly string[]) => unknown[] | null) | null {
  if (fragment.anonymous) return null;
  const readers: ((data: string, topics: readonly string[]) => unknown)[] = [];
  let topic = 1;
  let word = 0;
  for (const input of fragment.inputs) {
    if (input.indexed) {
      const fixed = staticReader(input);
      if (!fixed) return null;
      const at = topic++;
      readers.push((_d, topics) => fixed(topics[at].slice(2)));
    } else {
      const read = headReader(input);
      if (!read) return null;
      const at = word++;
      readers.push((data) => read(data, at));
    }
  }
  // A name an array already has (length, map, …) could not be set on the value: ethers' Result then.
  if (fragment.inputs.some((input) => input.name in Array.prototype)) return null;
  return (data, topics) => (topics.length === topic ? readers.map((read) => read(data, topics)) : null);
}

/** `values` (compileValues') as a Result: the array, each argument also under its name. */
export function nameValues(values: unknown[], names: readonly string[]): Result {
  const result = values as unknown as Result & Record<string, unknown>;
  for (let i = 0; i < names.length; i++) if (names[i]) result[names[i]] = values[i];
  return result;
}

/** A decoder for `fragment`, or ethers' own when the fragment has a type this does not read. */
export function compileDecoder(iface: Interface, fragment: EventFragment): LogDecoder {
  const fallback: LogDecoder = (data, topics) => iface.decodeEventLog(fragment, data, topics);
  const read = compileValues(fragment);
  if (!read) return fallback;
  const names = fragment.inputs.map((input) => input.name);
  return (data, topics) => {
    const values = read(data, topics);
    return values ? nameValues(values, names) : fallback(data, topics);
  };
}
