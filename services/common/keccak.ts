import { createKeccak, type IHasher } from "hash-wasm";
import { getBytes, keccak256 as keccak256InJs, type BytesLike } from "ethers";

/**
 * keccak256 as ethers' `keccak256` answers it (0x-prefixed lower-case hex), computed by hash-wasm's
 * WebAssembly Keccak: 5 to 18 times faster than the JavaScript one ethers uses (@noble/hashes) on
 * the inputs Lotline hashes most — the canonical JSON of every captured EPCIS event, production
 * run and master data document, and every Merkle proof step (docs/performance.md). It was 42 % of
 * the transaction that publishes a captured document.
 *
 * The WebAssembly module is instantiated asynchronously when this module loads; until it is ready
 * (the first milliseconds of a process) the same digest comes from ethers. Both give the same
 * bytes, so no caller can tell which answered (test/services/common/keccak.test.ts).
 */
let hasher: IHasher | null = null;
export const keccakReady: Promise<void> = createKeccak(256).then(
  (h) => {
    hasher = h;
  },
  () => undefined, // no WebAssembly here: ethers answers every call
);

export function keccak256(data: BytesLike): string {
  if (!hasher) return keccak256InJs(data);
  hasher.init();
  hasher.update(typeof data === "string" ? getBytes(data) : data);
  return `0x${hasher.digest("hex")}`;
}
