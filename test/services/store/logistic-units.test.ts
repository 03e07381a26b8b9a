import { expect } from "chai";
import { contentsAt, loadAt, type UnitHistory } from "../../../services/store/logistic-units";

/**
 * What a reused logistic unit held when (services/store/logistic-units.ts): the footprint's load of a
 * shipment (loadAt) and, for who may read an event naming the unit, the batches packed in it at the
 * event's time (contentsAt). Chain times are whole seconds.
 */
describe("logistic unit contents over time (pure)", function () {
  const s = (seconds: number) => seconds * 1000;
  // Block 1: A packed at 100 s; block 2: unpacked at 200 s; block 3: B packed at 300 s; block 4: C added at 400 s.
  const history: UnitHistory = {
    packs: [
      { batchId: "0xa", blockNumber: 1, logIndex: 0, at: s(100) },
      { batchId: "0xb", blockNumber: 3, logIndex: 0, at: s(300) },
      { batchId: "0xc", blockNumber: 4, logIndex: 0, at: s(400) },
    ],
    unpacks: [{ blockNumber: 2, logIndex: 0, at: s(200) }],
  };
  const ids = (packs: UnitHistory["packs"]) => packs.map((p) => p.batchId);

  it("holds what was packed at or before the time and not unpacked by then", function () {
    expect(contentsAt(history, s(150))).to.deep.equal(["0xa"]);
    expect(contentsAt(history, s(350))).to.deep.equal(["0xb"]);
    expect(contentsAt(history, s(450))).to.deep.equal(["0xb", "0xc"]);
  });

  it("holds nothing before the first packing, between an unpacking and the next packing, or at an invalid time", function () {
    expect(contentsAt(history, s(50))).to.deep.equal([]);
    expect(contentsAt(history, s(250))).to.deep.equal([]);
    expect(contentsAt(history, Number.NaN)).to.deep.equal([]);
  });

  it("counts a packing or an unpacking in the instant's very second as before it", function () {
    expect(contentsAt(history, s(100) + 400)).to.deep.equal(["0xa"]);
    expect(contentsAt(history, s(200) + 400)).to.deep.equal([]);
  });

  it("gives a shipment the whole load between two unpackings, packings mined after its time included (the footprint's reading)", function () {
    expect(ids(loadAt(history, s(50)))).to.deep.equal(["0xa"]);
    expect(ids(loadAt(history, s(350)))).to.deep.equal(["0xb", "0xc"]);
    // The same instant for a reader: C was added later, so an event then was not about C.
    expect(contentsAt(history, s(350))).to.not.include("0xc");
  });
});
