import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { contractMetrics, pct, shortfalls } from "../../scripts/coverage-check";

const m = (covered: number, total: number) => ({ covered, total, pct: 0, skipped: 0 });
const file = (lines: [number, number], branches: [number, number]) => ({
  statements: m(...lines),
  branches: m(...branches),
  functions: m(1, 1),
  lines: m(...lines),
});

describe("npm run coverage:check (the Solidity coverage gate)", function () {
  it("totals the contracts under contracts/, leaving out mocks and istanbul's own total", function () {
    const { files, total } = contractMetrics({
      total: file([0, 1000], [0, 1000]),
      "/repo/contracts/identity/ConsortiumRegistry.sol": file([95, 100], [45, 50]),
      "/repo/contracts/provenance/logic/RecallLogic.sol": file([100, 100], [50, 50]),
      "/repo/contracts/mocks/ReentrantToken.sol": file([0, 40], [0, 40]),
    });
    expect([...files.keys()]).to.deep.equal(["identity/ConsortiumRegistry.sol", "provenance/logic/RecallLogic.sol"]);
    expect(total.lines).to.deep.equal({ covered: 195, total: 200 });
    expect(total.branches).to.deep.equal({ covered: 95, total: 100 });
  });

  it("passes at exactly 95 % of lines and 90 % of branches, and fails just below either", function () {
    const at = (lines: number, branches: number) => shortfalls(contractMetrics({ "contracts/A.sol": file([lines, 1000], [branches, 1000]) }).total);
    expect(at(950, 900)).to.deep.equal([]);
    expect(at(949, 900)).to.have.length(1).and.to.match(/^lines: 94.9 % < 95 %/);
    expect(at(950, 899)).to.have.length(1).and.to.match(/^branches: 89.9 % < 90 %/);
    expect(pct({ covered: 0, total: 0 }), "nothing to cover").to.equal(100);
  });

  it("exits 1 below the gate and 2 without a summary, naming what to do", function () {
    this.timeout(30_000);
    const dir = mkdtempSync(path.join(tmpdir(), "coverage-check-"));
    const summary = path.join(dir, "coverage-summary.json");
    writeFileSync(summary, JSON.stringify({ "contracts/A.sol": file([90, 100], [95, 100]) }));
    const run = (arg: string) => spawnSync(process.execPath, [require.resolve("tsx/cli"), "scripts/coverage-check.ts", arg], { encoding: "utf8" });
    const below = run(summary);
    expect(below.status, below.stderr).to.equal(1);
    expect(below.stderr).to.contain("lines: 90 % < 95 %");
    const missing = run(path.join(dir, "none.json"));
    expect(missing.status).to.equal(2);
    expect(missing.stderr).to.contain("run 'npm run coverage' first");
  });
});
