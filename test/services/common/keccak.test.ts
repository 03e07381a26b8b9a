import { expect } from "chai";
import { hexlify, keccak256 as keccak256InJs, randomBytes } from "ethers";
import { keccak256, keccakReady } from "../../../services/common/keccak";

describe("keccak256 in WebAssembly (services/common/keccak.ts)", function () {
  before(async function () {
    await keccakReady;
  });

  it("gives ethers' digest for bytes of every length around the sponge's 136-byte rate, and for a megabyte", function () {
    const lengths = [0, 1, 31, 32, 33, 64, 135, 136, 137, 271, 272, 273, 1000, 1 << 20];
    for (const n of lengths) {
      const data = randomBytes(n);
      expect(keccak256(data), `${n} bytes`).to.equal(keccak256InJs(data));
    }
  });

  it("reads a hex string as bytes, as ethers does, not as text", function () {
    const data = randomBytes(77);
    expect(keccak256(hexlify(data))).to.equal(keccak256InJs(data));
    expect(keccak256("0x")).to.equal(keccak256InJs("0x"));
  });

  it("refuses what ethers refuses (a string that is not hex)", function () {
    expect(() => keccak256("hello")).to.throw();
    expect(() => keccak256("0x123")).to.throw();
  });

  it("gives the same answer call after call (the hasher is reset each time)", function () {
    const a = randomBytes(500);
    const b = randomBytes(10);
    const first = keccak256(a);
    keccak256(b);
    expect(keccak256(a)).to.equal(first);
  });
});
