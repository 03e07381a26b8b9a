import { keccak256 } from "../common/keccak";

/**
 * The Merkle leaf of a stored event: keccak256(abi.encode(string hashId, string canonicalJson)). It
 * commits to the hash ID and to the canonical JSON of the event as stored, so a record altered in a
 * field the hash ID leaves out (eventID, recordTime, errorDeclaration, comments) fails too.
 */
export function eventLeaf(hashId: string, canonicalJson: string): string {
  return keccak256(encodeTwoStrings(hashId, canonicalJson));
}

/**
 * `abi.encode(string, string)`, written directly: the same bytes as ethers' AbiCoder, which copied
 * the data several times and was a third of the capture job's CPU (docs/performance.md). Plain
 * TextEncoder and Uint8Array, no Node Buffer: the explorer's page runs this code in the browser.
 */
const utf8 = new TextEncoder();
export function encodeTwoStrings(a: string, b: string): Uint8Array {
  const first = utf8.encode(a);
  const second = utf8.encode(b);
  const padded = (n: number) => Math.ceil(n / 32) * 32;
  const out = new Uint8Array(64 + 32 + padded(first.length) + 32 + padded(second.length));
  const view = new DataView(out.buffer);
  // Lengths and offsets fit in 32 bits: a uint256 word whose last 4 bytes carry them.
  const word = (at: number, value: number) => view.setUint32(at + 28, value);
  const secondAt = 64 + 32 + padded(first.length);
  word(0, 64);
  word(32, secondAt);
  word(64, first.length);
  out.set(first, 96);
  word(secondAt, second.length);
  out.set(second, secondAt + 32);
  return out;
}
