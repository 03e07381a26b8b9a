// node:crypto as the record checks use it (createHash("sha256").update(text).digest("hex")), for the
// page's verifier bundle (routes/explorer.ts, verifierModule): SHA-256 of each EPCIS event's
// pre-hash string by hash-wasm's WebAssembly, as Keccak (services/common/keccak.ts). ethers'
// JavaScript SHA-256 was a fifth of the page's verification (ADR 0043); it answers the same digest
// until the WebAssembly module is instantiated (the module's first milliseconds).
import { sha256, toUtf8Bytes } from "ethers";
import { createSHA256 } from "hash-wasm";

let wasm = null;
createSHA256().then(
  (hasher) => (wasm = hasher),
  () => undefined, // no WebAssembly here: ethers answers every digest
);

export function createHash(algorithm) {
  if (algorithm !== "sha256") throw new Error("only sha256 is available in the browser");
  let text = "";
  return {
    update(s) {
      text += s;
      return this;
    },
    digest() {
      if (!wasm) return sha256(toUtf8Bytes(text)).slice(2);
      wasm.init();
      wasm.update(text);
      return wasm.digest("hex");
    },
  };
}
