import { expect } from "chai";
import { glnFor, gs1CheckDigit, hasValidCheckDigit } from "../../../services/gs1/keys";

describe("GS1 keys", function () {
  it("computes the check digit of published examples (GTIN-13, GTIN-14, SSCC)", function () {
    expect(gs1CheckDigit("629104150021")).to.equal(3); // GTIN-13 6291041500213 (GS1 General Specifications)
    expect(hasValidCheckDigit("6291041500213")).to.equal(true);
    expect(hasValidCheckDigit("00614141123452")).to.equal(true); // GTIN-14 example from GS1
    expect(hasValidCheckDigit("106141411234567897")).to.equal(true); // SSCC example from GS1
  });

  it("rejects a key whose last digit is not its check digit", function () {
    expect(hasValidCheckDigit("6291041500214")).to.equal(false);
    expect(hasValidCheckDigit("12a4")).to.equal(false);
  });

  it("builds a GLN under a company prefix", function () {
    const gln = glnFor("4012345", 1);
    expect(gln).to.have.length(13);
    expect(gln.startsWith("4012345")).to.equal(true);
    expect(hasValidCheckDigit(gln)).to.equal(true);
  });

  it("refuses a location reference that does not fit after the prefix", function () {
    expect(() => glnFor("401234567890", 12)).to.throw(/leaves no room/);
  });
});
