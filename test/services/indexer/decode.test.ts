import { expect } from "chai";
import { hexlify, randomBytes, type ParamType } from "ethers";
import { INTERFACES } from "../../../services/chain/contracts";
import { compileDecoder } from "../../../services/indexer/decode";
import { eventArgsToJson } from "../../../services/indexer/json";

/**
 * The indexer's compiled log decoder against ethers' decodeEventLog, for every event of every
 * Lotline ABI, over random values (edge values included): the same values by position and by
 * name, and the same JSON in chain_events.
 */
function randomValue(type: ParamType, i: number): unknown {
  if (type.isArray()) return Array.from({ length: i % 4 }, (_, k) => randomValue(type.arrayChildren!, i + k + 1));
  const t = type.type;
  const bits = /^uint(\d+)$/.exec(t);
  if (bits) {
    const max = (1n << BigInt(bits[1])) - 1n;
    return [0n, 1n, max, BigInt(hexlify(randomBytes(Number(bits[1]) / 8)))][i % 4];
  }
  if (t === "address") return hexlify(randomBytes(20));
  if (t === "bool") return i % 2 === 0;
  if (t === "bytes32") return hexlify(randomBytes(32));
  if (t === "string") return ["", "MILK-2611-A", "Käse – 12 ° ✓", "x".repeat(70)][i % 4];
  if (type.isTuple()) return type.components!.map((c, k) => randomValue(c, i + k));
  if (t === "bytes") return hexlify(randomBytes(i % 40));
  const intBits = /^int(\d+)$/.exec(t);
  if (intBits) return [0n, -1n, 5n][i % 3];
  const fixed = /^bytes(\d+)$/.exec(t);
  if (fixed) return hexlify(randomBytes(Number(fixed[1])));
  throw new Error(`no generator for ${t}`);
}

describe("indexer: compiled log decoder", function () {
  for (const [name, iface] of Object.entries(INTERFACES)) {
    it(`decodes every ${name} event as ethers does`, function () {
      let events = 0;
      iface.forEachEvent((fragment) => {
        const decode = compileDecoder(iface, fragment);
        for (let i = 0; i < 4; i++) {
          const values = fragment.inputs.map((input) => randomValue(input, i));
          const { data, topics } = iface.encodeEventLog(fragment, values);
          const expected = iface.decodeEventLog(fragment, data, topics);
          const actual = decode(data, topics);
          expect([...actual], `${fragment.name} #${i}`).to.deep.equal([...expected]);
          for (const input of fragment.inputs) if (input.name) expect(actual[input.name as never]).to.deep.equal(expected[input.name as never]);
          expect(JSON.stringify(eventArgsToJson(fragment.inputs, actual))).to.equal(JSON.stringify(eventArgsToJson(fragment.inputs, expected)));
        }
        events++;
      });
      expect(events).to.be.greaterThan(0);
    });
  }

  it("refuses data too short for its event, as ethers does", function () {
    const iface = INTERFACES.provenance;
    const fragment = iface.getEvent("LotRegistered")!;
    const { data, topics } = iface.encodeEventLog(fragment, fragment.inputs.map((input) => randomValue(input, 1)));
    expect(() => compileDecoder(iface, fragment)(data.slice(0, 66), topics)).to.throw();
  });
});
