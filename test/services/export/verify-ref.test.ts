import { expect } from "chai";
import type { TestNode } from "../../helpers/node";
import { sharedNode } from "../api/helpers";
import { lotline, oneLine } from "../cli/run";
import { DEMO_GOODS } from "../../../services/demo/supply-chain";
import { formatDigitalLink } from "../../../services/gs1/digital-link";

/**
 * `lotline verify <ref>`: every off-chain record of a batch and its lineage, as the node serves it
 * to the reader, re-checked against the chain with a verdict per record. A record changed in the
 * node's database is served changed and fails; it is restored before the test ends (shared node).
 */
describe("lotline verify <ref>", function () {
  this.timeout(180_000);
  let node: TestNode;
  const lotA = formatDigitalLink(DEMO_GOODS.rawMilk, "MILK-2611-A");

  before(async function () {
    node = await sharedNode();
  });

  it("re-checks every record of a lot and its lineage against the chain and prints a verdict per record", async function () {
    const run = await lotline(["verify", lotA, "--dev-account", "7", "--rpc", node.chain!.url], { LOTLINE_API_URL: node.url });
    expect(run.code, run.stderr + run.stdout).to.equal(0);
    const records = run.stdout.split("\n").filter((l) => / record (PRODUCT|PRODUCTION_RUN|EPCIS) /.test(l));
    expect(records.length).to.be.greaterThan(1);
    for (const line of records) expect(line).to.match(/^ok {3}record /);
    expect(run.stdout).to.match(/verified: all \d+ checks passed/);
  });

  it("fails a record changed in the node's database, saying what failed, and exits non-zero", async function () {
    const gtin = DEMO_GOODS.rawMilk;
    const before = node.db.prepare(`SELECT document FROM product_master_data WHERE gtin = ?`).get(gtin) as { document: string };
    node.db.prepare(`UPDATE product_master_data SET document = json_set(document, '$.name', 'Tampered milk') WHERE gtin = ?`).run(gtin);
    try {
      const run = await lotline(["verify", lotA, "--dev-account", "7", "--rpc", node.chain!.url], { LOTLINE_API_URL: node.url });
      expect(run.code).to.equal(1);
      const failed = run.stdout.split("\n").filter((l) => l.startsWith("FAIL"));
      expect(failed).to.have.length(1);
      expect(failed[0]).to.match(/^FAIL record PRODUCT product:0x[0-9a-f]{64}: record changed: the record hashes to/);
      expect(run.stdout).to.match(/NOT verified: 1 of \d+ checks failed/);
    } finally {
      node.db.prepare(`UPDATE product_master_data SET document = ? WHERE gtin = ?`).run(before.document, gtin);
    }
  });

  it("refuses a batch and a bundle at once with one line saying what to give", async function () {
    const both = await lotline(["verify", lotA, "--bundle", "/tmp/x", "--rpc", node.chain!.url], { LOTLINE_API_URL: node.url });
    expect(oneLine(both)).to.include("give either a batch <ref> or --bundle <dir>");
  });
});
