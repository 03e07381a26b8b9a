import { expect } from "chai";
import { AbiCoder, hexlify, keccak256 } from "ethers";
import { encodeTwoStrings, eventLeaf } from "../../../services/epcis/leaf";

/** The capture job's hand-written abi.encode(string, string) against ethers' AbiCoder. */
describe("EPCIS event leaf encoding", function () {
  const cases: [string, string][] = [
    ["", ""],
    ["ni:///sha-256;abc?ver=CBV2.0", '{"type":"ObjectEvent"}'],
    ["x".repeat(32), "y".repeat(31)],
    ["x".repeat(33), "y".repeat(64)],
    ["Käse ✓ 🧀", JSON.stringify({ eventTime: "2024-03-01T10:00:00.000Z", note: "é".repeat(500) })],
  ];
  for (const [a, b] of cases) {
    it(`encodes (${a.length}, ${b.length} characters) as abi.encode(string, string) does`, function () {
      const expected = AbiCoder.defaultAbiCoder().encode(["string", "string"], [a, b]);
      expect(hexlify(encodeTwoStrings(a, b))).to.equal(expected);
      expect(eventLeaf(a, b)).to.equal(keccak256(expected));
    });
  }
});
