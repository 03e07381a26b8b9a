import { expect } from "chai";
import { grantCovers, namesToClasses, scopeFromChain, scopeToChain, RECORD_CLASSES, type GrantTerms } from "../../../services/sharing/grants";

const NOW = 1_800_000_000;
const LOT_A = "0x" + "aa".repeat(32);
const LOT_B = "0x" + "bb".repeat(32);

function grant(overrides: Partial<GrantTerms> = {}): GrantTerms {
  return { classes: RECORD_CLASSES.PRODUCTION_RUN, scope: { kind: "all", value: null }, expiresAt: NOW + 60, revoked: false, ...overrides };
}

describe("the grant rule (pure)", function () {
  const subject = { gtins: ["04012345000016"], lotsUpstream: [LOT_B, LOT_A] };

  it("covers a record of a granted class under an unscoped grant in force", function () {
    expect(grantCovers(grant(), "PRODUCTION_RUN", subject, NOW)).to.equal(true);
    expect(grantCovers(grant(), "PRODUCTION_RUN", null, NOW)).to.equal(true);
  });

  it("does not cover another class, an expired grant or a revoked one", function () {
    expect(grantCovers(grant(), "EPCIS", subject, NOW)).to.equal(false);
    expect(grantCovers(grant({ expiresAt: NOW }), "PRODUCTION_RUN", subject, NOW)).to.equal(false);
    expect(grantCovers(grant({ revoked: true }), "PRODUCTION_RUN", subject, NOW)).to.equal(false);
  });

  it("covers a lot-scoped record only when the scope lot is the record's lot or upstream of it", function () {
    const scoped = grant({ scope: { kind: "lot", value: LOT_A } });
    expect(grantCovers(scoped, "PRODUCTION_RUN", subject, NOW)).to.equal(true);
    expect(grantCovers(scoped, "PRODUCTION_RUN", { gtins: [], lotsUpstream: [LOT_B] }, NOW)).to.equal(false);
    expect(grantCovers(scoped, "PRODUCTION_RUN", null, NOW), "a record about no batch is outside any lot").to.equal(false);
  });

  it("covers a GTIN-scoped record only for that GTIN", function () {
    const scoped = grant({ scope: { kind: "gtin", value: "04012345000016" } });
    expect(grantCovers(scoped, "PRODUCTION_RUN", subject, NOW)).to.equal(true);
    expect(grantCovers(scoped, "PRODUCTION_RUN", { gtins: ["04012345000023"], lotsUpstream: [] }, NOW)).to.equal(false);
  });

  it("round-trips scopes through the contract's representation", function () {
    for (const scope of [
      { kind: "all", value: null },
      { kind: "gtin", value: "04012345000016" },
      { kind: "lot", value: LOT_A },
    ] as const) {
      const onChain = scopeToChain(scope);
      expect(scopeFromChain(onChain.kind, onChain.value)).to.deep.equal(scope);
    }
  });

  it("reads class names, ALL included, and refuses unknown ones", function () {
    expect(namesToClasses(["EPCIS", "order_terms"])).to.equal(5);
    expect(namesToClasses(["ALL"])).to.equal(7);
    expect(() => namesToClasses(["RECIPES"])).to.throw(/not a record class/);
  });
});
