import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import { lotline } from "./run";

const VECTORS = path.resolve(__dirname, "../../../../shared/data/epcis/event-hash-vectors");

describe("lotline epcis hash (offline)", function () {
  for (const file of ["epcisDocWithVariousEventTypes", "epcisDocWithSensorDataObjectEvent"]) {
    it(`prints the hash ID of every event of ${file}, one per line, in document order`, async function () {
      const run = await lotline(["epcis", "hash", path.join(VECTORS, `${file}.jsonld`)], { LOTLINE_API_URL: "http://127.0.0.1:9" });
      expect(run.code).to.equal(0);
      expect(run.stdout.trim().split("\n")).to.deep.equal(fs.readFileSync(path.join(VECTORS, `${file}.hashes`), "utf8").trim().split(/\r?\n/));
    });
  }

  it("exits 1 with one line for a file that is not JSON", async function () {
    const run = await lotline(["epcis", "hash", __filename]);
    expect(run.code).to.equal(1);
    expect(run.stderr.trim().split("\n")).to.have.length(1);
    expect(run.stderr).to.match(/is not JSON/);
  });
});
