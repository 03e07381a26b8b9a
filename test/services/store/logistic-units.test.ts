import { expect } from "chai";
import { contentsAt, loadAt, type UnitHistory } from "../../../services/store/logistic-units";

/**
 * What a reused logistic unit held when (services/store/logistic-units.ts): the footprint's load of a
 * shipment (loadAt) and the batches an event naming the unit is about (contentsAt). Chain times are
 * whole seconds.
 */
describe("logistic unit contents over time (pure)", function () {
  const s = (seconds: number) => seconds * 1000;
  // A packed at 100 s, unpacked at 200 s; B packed at 300 s, C added at 400 s, the unit handed over at 500 s
  // and D added by its new custodian at 600 s.
  const history: UnitHistory = {
    packs: [
      { batchId: "0xa", blockNumber: 1, logIndex: 0, at: s(100) },
      { batchId: "0xb", blockNumber: 3, logIndex: 0, at: s(300) },
      { batchId: "0xc", blockNumber: 4, logIndex: 0, at: s(400) },
      { batchId: "0xd", blockNumber: 6, logIndex: 0, at: s(600) },
    ],
    unpacks: [{ blockNumber: 2, logIndex: 0, at: s(200) }],
    handOvers: [{ blockNumber: 5, logIndex: 0, at: s(500) }],
  };
  const ids = (packs: UnitHistory["packs"]) => packs.map((p) => p.batchId);

  it("holds what was packed at or before the time and not unpacked by then", function () {
    expect(contentsAt(history, s(150))).to.deep.equal(["0xa"]);
    expect(contentsAt(history, s(450))).to.deep.equal(["0xb", "0xc"]);
    expect(contentsAt(history, s(650))).to.deep.equal(["0xb", "0xc", "0xd"]);
  });

  it("never holds the goods of the unit's earlier load after its unpacking, nor those of its later load before it", function () {
    expect(contentsAt(history, s(150))).to.not.include("0xb");
    for (const t of [250, 350, 450, 550, 650]) expect(contentsAt(history, s(t))).to.not.include("0xa");
  });

  it("also holds what the custodian packed into the load later, before handing the unit on (a packing recorded after the event)", function () {
    expect(contentsAt(history, s(50))).to.deep.equal(["0xa"]);
    expect(contentsAt(history, s(350))).to.deep.equal(["0xb", "0xc"]);
    expect(contentsAt(history, s(250))).to.deep.equal(["0xb", "0xc"]);
  });

  it("does not hold what a later custodian added after taking the unit over", function () {
    expect(contentsAt(history, s(450))).to.not.include("0xd");
    expect(contentsAt(history, s(550))).to.deep.equal(["0xb", "0xc", "0xd"]);
  });

  it("counts a packing, a hand-over or an unpacking in the instant's very second as before it; an invalid time holds nothing", function () {
    expect(contentsAt(history, s(200) + 400)).to.not.include("0xa");
    expect(contentsAt(history, s(500) + 400)).to.include("0xd");
    expect(contentsAt(history, Number.NaN)).to.deep.equal([]);
  });

  it("gives a shipment the whole load between two unpackings (the footprint's reading)", function () {
    expect(ids(loadAt(history, s(50)))).to.deep.equal(["0xa"]);
    expect(ids(loadAt(history, s(350)))).to.deep.equal(["0xb", "0xc", "0xd"]);
  });
});
