import { expect } from "chai";
import { canonicalize } from "json-canonicalize";
import { merkleTree } from "../../../services/anchoring/outbox";
import { masterDataHash } from "../../../services/provenance/products";
import { recordHash } from "../../../services/analytics/record";
import { eventLeaf } from "../../../services/epcis/leaf";
import { eventHashId } from "../../../services/epcis/hash";
import { checkRecord, leafOf, type ProvenRecord } from "../../../services/export/records";
import { manifestMismatches, manifestOf, sha256 } from "../../../services/export/bundle";
import { checkAbi, checkChain, checkCompleteness, edgeExpectation } from "../../../services/export/verify";
import { INTERFACES } from "../../../services/chain/contracts";

/** The pure halves of proven records, the bundle manifest and the ABI check: no chain, no node. */
describe("proven records and bundle checks (pure)", function () {
  const product = { gtin: "04012345000016", name: "Raw cow's milk, organic", unit: "LTR" };
  const run = { id: "pr_000000000000000000000001", orgId: "1", site: "4012345000016", line: "L1", goodCount: 10 };
  const context = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"];
  const event = { type: "ObjectEvent", eventTime: "2024-01-01T00:00:00.000Z", eventTimeZoneOffset: "+00:00", epcList: [], action: "OBSERVE" };

  /** A proven record of `owner` in a two-leaf tree, as the anchor job builds it. */
  function proven<C extends ProvenRecord["class"]>(cls: C, record: ProvenRecord<C>["record"], owner = "1"): ProvenRecord {
    const leaf = leafOf({ class: cls, record });
    const tree = merkleTree([leaf, `0x${"11".repeat(32)}`]);
    return { class: cls, owner, recordId: "r", record, leaf, proof: { merkleRoot: tree.root, proof: tree.getProof(0), anchoredBy: { orgId: owner, name: null } } };
  }

  it("computes each class's leaf with the functions that computed it when the record was stored", function () {
    expect(leafOf({ class: "PRODUCT", record: product })).to.equal(masterDataHash(product).toLowerCase());
    expect(leafOf({ class: "PRODUCTION_RUN", record: run })).to.equal(recordHash(run).toLowerCase());
    expect(leafOf({ class: "EPCIS", record: { event, context } })).to.equal(eventLeaf(eventHashId(event, context), canonicalize(event)).toLowerCase());
  });

  it("accepts a record whose leaf, proof and anchoring organisation hold", function () {
    for (const pr of [proven("PRODUCT", product), proven("PRODUCTION_RUN", run), proven("EPCIS", { event, context })]) expect(checkRecord(pr)).to.equal(null);
  });

  it("names a changed record, a changed proof and a record claimed for another organisation", function () {
    const changed = proven("PRODUCT", product);
    (changed.record as { name: string }).name = "Raw goat's milk";
    expect(checkRecord(changed)).to.include({ failure: "record_changed" });

    const forged = proven("PRODUCT", product);
    forged.proof.proof = [`0x${"22".repeat(32)}`];
    expect(checkRecord(forged)).to.include({ failure: "proof_changed" });

    // A rival names itself owner of the farm's run: the record itself says organisation 1.
    const claimed = proven("PRODUCTION_RUN", run, "2");
    expect(checkRecord(claimed)).to.deep.include({ failure: "owner_mismatch" });

    const borrowed = proven("PRODUCT", product);
    borrowed.proof.anchoredBy = { orgId: "5", name: null };
    expect(checkRecord(borrowed)!.detail).to.match(/organisation 5's anchor, not on the owner's/);
  });

  it("lists files whose hash differs, that are missing, or that the manifest does not name", function () {
    const files = new Map([
      ["a.json", "{}"],
      ["b.json", "[]"],
    ]);
    const manifest = manifestOf(files);
    expect(manifestMismatches(files, manifest)).to.deep.equal([]);
    const edited = new Map([
      ["a.json", "{ }"],
      ["c.json", "1"],
    ]);
    expect(manifestMismatches(edited, manifest).map((m) => m.path)).to.deep.equal(["a.json", "b.json", "c.json"]);
    expect(manifest.files[0].sha256).to.equal(sha256("{}"));
  });

  it("refuses a bundled ABI fragment with parameter names swapped (an edge decoded backwards)", function () {
    const fragment = JSON.parse(INTERFACES.provenance.getEvent("LineageEdge")!.format("json"));
    const swapped = { ...fragment, inputs: [{ ...fragment.inputs[0], name: "to" }, { ...fragment.inputs[1], name: "from" }, ...fragment.inputs.slice(2)] };
    expect(checkAbi({ provenance: [fragment] }).every((c) => c.ok)).to.equal(true);
    const [check] = checkAbi({ provenance: [swapped] });
    expect(check).to.include({ ok: false });
    expect(check.detail).to.match(/^ABI changed/);
  });

  it("derives the event an edge stands for from the edge's own values", function () {
    const a = `0x${"aa".repeat(32)}`;
    const b = `0x${"bb".repeat(32)}`;
    expect(edgeExpectation({ from: a, to: b, type: "split", quantity: "12000", unit: "LTR", chain: null })).to.deep.equal({
      contract: "provenance",
      event: "BatchSplit",
      args: { parent: a, child: b, quantity: "12000000" },
    });
    expect(edgeExpectation({ from: a, to: b, type: "process", quantity: "0.5", unit: "KGM", chain: null }).args.quantity).to.equal("500");
  });

  it("says wrong chain for another chain id or genesis, and names an edge left out", function () {
    const deployment = { chainId: 31337, genesisHash: `0x${"01".repeat(32)}`, startBlock: 0, contracts: {} };
    expect(checkChain(deployment, 31337, `0x${"01".repeat(32)}`).ok).to.equal(true);
    expect(checkChain(deployment, 31337, `0x${"02".repeat(32)}`).detail).to.match(/^wrong chain/);
    expect(checkChain(deployment, 1, `0x${"01".repeat(32)}`).detail).to.match(/^wrong chain/);
    const missing = checkCompleteness({ id: "0xb", depth: -1 }, "upstream", [{ from: "0xa", to: "0xb" }], []);
    expect(missing).to.include({ ok: false });
    expect(missing.detail).to.include("0xa→0xb");
  });
});
