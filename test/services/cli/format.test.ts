import { expect } from "chai";
import { deliveredText, deliveryLine, renderTrace, type BatchJson, type TraceJson } from "../../../services/cli/format";

/** The trace tree on synthetic graphs: shapes the demo does not have (a diamond) without a node. */
describe("lotline trace rendering", function () {
  const org = (id: string | null | undefined) => `org ${id}`;
  const id = (n: number) => `0x${n.toString(16).padStart(64, "0")}`;
  const batch = (n: number, lot: string, depth: number): BatchJson & { depth: number } => ({
    id: id(n),
    lotId: id(n),
    gtin: "04012345000016",
    lot,
    digitalLink: `https://id.gs1.org/01/04012345000016/10/${lot}`,
    parentId: null,
    portionIndex: null,
    quantity: "10",
    unit: "KGM",
    ownerOrgId: "1",
    custodianOrgId: "1",
    producerOrgId: "1",
    location: null,
    status: "active",
    recall: null,
    logisticUnit: null,
    pendingOffer: null,
    createdAt: "2026-01-01T00:00:00.000Z",
    depth,
  });
  const edge = (from: number, to: number, type = "process") => ({ from: id(from), to: id(to), type, quantity: "5", unit: "KGM" });

  // 1 → 2, 1 → 3, 2 → 4, 3 → 4: batch 4 is reached by two paths.
  const diamond: TraceJson = {
    root: id(1),
    nodes: [batch(1, "A", 0), batch(2, "B", 1), batch(3, "C", 1), batch(4, "D", 2)],
    edges: [edge(1, 2, "split"), edge(1, 3, "split"), edge(2, 4, "merge"), edge(3, 4, "merge")],
    truncated: false,
  };

  it("prints a node reached twice once, and names it as '(see above)' the second time", function () {
    expect(renderTrace(diamond, "downstream", org).split("\n")).to.deep.equal([
      `04012345000016/A  10 KGM  active  org 1  ${id(1)}`,
      `├─ split 5 KGM → 04012345000016/B  10 KGM  active  org 1  ${id(2)}`,
      `│  └─ merge 5 KGM → 04012345000016/D  10 KGM  active  org 1  ${id(4)}`,
      `└─ split 5 KGM → 04012345000016/C  10 KGM  active  org 1  ${id(3)}`,
      `   └─ merge 5 KGM → 04012345000016/D  ${id(4)}  (see above)`,
    ]);
  });

  it("walks upstream from the root through each node's inputs", function () {
    const upstream: TraceJson = { ...diamond, root: id(4) };
    const lines = renderTrace(upstream, "upstream", org).split("\n");
    expect(lines[0]).to.equal(`04012345000016/D  10 KGM  active  org 1  ${id(4)}`);
    expect(lines[1]).to.equal(`├─ merge 5 KGM ← 04012345000016/B  10 KGM  active  org 1  ${id(2)}`);
    expect(lines[2]).to.equal(`│  └─ split 5 KGM ← 04012345000016/A  10 KGM  active  org 1  ${id(1)}`);
    expect(lines[4]).to.equal(`   └─ split 5 KGM ← 04012345000016/A  ${id(1)}  (see above)`);
  });

  it("shows owner and custodian apart, and recalls, in a node's line", function () {
    const held = { ...batch(1, "A", 0), custodianOrgId: "4", status: "recalled", recall: { kind: "propagated", reason: null, sourceBatchId: id(9), byOrgId: null, at: "" } };
    const text = renderTrace({ root: id(1), nodes: [held], edges: [], truncated: false }, "upstream", org);
    expect(text.split("\n")[0]).to.equal(`04012345000016/A  10 KGM  recalled (propagated)  owner org 1, held by org 4  ${id(1)}`);
  });

  it("says when there is nothing to show and when the depth limit cut the walk", function () {
    const alone: TraceJson = { root: id(1), nodes: [batch(1, "A", 0)], edges: [], truncated: false };
    expect(renderTrace(alone, "upstream", org)).to.include("(no inputs: registered as a new lot)");
    expect(renderTrace(alone, "downstream", org)).to.include("(nothing made from it or split off it yet)");
    const cut = renderTrace({ ...alone, truncated: true }, "downstream", org);
    expect(cut).to.include("(truncated: raise --max-depth to see further)");
    expect(cut).to.not.include("nothing made from it");
  });
});

/** What `lotline order deliver` says it delivered: sales add up, batches count once. */
describe("lotline delivery summary", function () {
  const A = `0x${"a1".repeat(32)}`;
  const B = `0x${"b2".repeat(32)}`;

  it("counts one batch per sale when every sale is of another batch", function () {
    expect(deliveredText([{ batchId: A, quantity: "120" }], "KGM")).to.equal("120 KGM in 1 batch");
    expect(deliveredText([{ batchId: A, quantity: "0.5" }, { batchId: B, quantity: "1.25" }], "KGM")).to.equal("1.75 KGM in 2 batches");
  });

  it("counts a batch sold back and bought again once among the batches, and both its sales in the quantity", function () {
    const twice = [
      { batchId: A, quantity: "100" },
      { batchId: A.toUpperCase().replace("0X", "0x"), quantity: "100" },
      { batchId: B, quantity: "40" },
    ];
    expect(deliveredText(twice, "KGM")).to.equal("240 KGM in 3 sales of 2 batches");
  });

  it("names each delivery's sale, so a batch listed twice reads as two sales", function () {
    expect(deliveryLine({ batchId: A, quantity: "100", saleIndex: "7" }, "KGM")).to.equal(`${A}  100 KGM  sale 7`);
  });
});
