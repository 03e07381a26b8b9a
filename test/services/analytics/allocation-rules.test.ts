import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import { encodeBytes32String, keccak256, toUtf8Bytes } from "ethers";
import type { TestNode } from "../../helpers/node";
import { DEMO_MEMBERS, demoWallet } from "../../../services/demo/roster";
import { glnFor, gtinFor } from "../../../services/gs1/keys";
import { unitToBytes3 } from "../../../services/provenance/quantity";
import { bearer, expectProblem, get, getAnonymous, post, sharedNode, tokenFor } from "../api/helpers";
import { json, lotline, oneLine } from "../cli/run";

/**
 * Allocation rules set by governance on-chain (docs/adr/0026), end to end on the shared node: the
 * governor sets a rule with `lotline allocation set`, the indexer stores AllocationRuleSet, and a
 * footprint of a co-product applies it, saying on its stage which rule applied and that it came
 * from the chain. Everything uses a transformation kind of its own (ALLOCTEST), goods the demo
 * does not (item references 795x) and a run in 2021, so the demo's figures do not move.
 */
// The producer makes the goods. Its run is dated 2021, outside every KPI window other tests read; no
// test reads the producer's productivity, whose default windows start at its oldest run.
const MAKER = DEMO_MEMBERS.find((m) => m.key === "producer")!;
const PREFIX = MAKER.companyPrefixes[0];
const KIND = "ALLOCTEST";
const GOVERNOR_ACCOUNT = "0";

describe("allocation rules set by governance on-chain", function () {
  this.timeout(120_000);
  let node: TestNode;
  let env: Record<string, string>;
  let dataDir: string;
  let token: string;
  let outputA: string;
  const cli = (args: string[], extra: Record<string, string> = {}) => lotline(args, { ...env, ...extra });

  before(async function () {
    node = await sharedNode();
    await node.synced();
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "lotline-alloc-"));
    env = { LOTLINE_API_URL: node.url, LOTLINE_DATA_DIR: dataDir, LOTLINE_CHAIN_PORT: String(node.config.chainPort) };
    const governor = demoWallet(Number(GOVERNOR_ACCOUNT), node.provider);
    const maker = demoWallet(MAKER.account, node.provider);
    const provenance = node.contracts.provenance;
    await (await provenance.connect(governor).setTransformKind(encodeBytes32String(KIND), true, 0)).wait();
    const [input, a, b] = [7951, 7952, 7953].map((ref) => BigInt(gtinFor(PREFIX, ref)));
    for (const gtin of [input, a, b]) {
      await (await provenance.connect(maker).registerProduct(gtin, unitToBytes3("KGM"), keccak256(toUtf8Bytes(`alloc ${gtin}`)))).wait();
    }
    const zero = `0x${"00".repeat(32)}`;
    await (await provenance.connect(maker).registerLots([{ gtin: input, lot: "ALLOC-IN", quantity: 1_000_000n, gln: "", metadataHash: zero }])).wait();
    const inputId = await provenance.lotId(input, "ALLOC-IN");
    await (
      await provenance.connect(maker).transform(
        encodeBytes32String(KIND),
        [inputId],
        [1_000_000n],
        [
          { gtin: a, lot: "ALLOC-A", quantity: 600_000n, gln: "", metadataHash: zero },
          { gtin: b, lot: "ALLOC-B", quantity: 400_000n, gln: "", metadataHash: zero },
        ],
        zero,
      )
    ).wait();
    outputA = (await provenance.lotId(a, "ALLOC-A")).toLowerCase();
    const outputB = (await provenance.lotId(b, "ALLOC-B")).toLowerCase();
    await node.synced();
    token = await tokenFor(node, demoWallet(MAKER.account));
    const run = await post(
      node,
      "/api/v1/production-runs",
      {
        site: glnFor(PREFIX, 1),
        line: "alloc-test",
        startTime: "2021-03-01T06:00:00Z",
        endTime: "2021-03-01T08:00:00Z",
        plannedTimeSeconds: 7_200,
        runTimeSeconds: 6_000,
        idealCycleTimeSeconds: 5,
        totalCount: 1_000,
        goodCount: 1_000,
        countUnit: "KGM",
        inputs: [{ material: "cream", quantity: "1000", unit: "KGM" }],
        outputs: [
          { batchId: outputA, quantity: "600", unit: "KGM" },
          { batchId: outputB, quantity: "400", unit: "KGM" },
        ],
        energyKwh: { grid: 10 },
      },
      { "content-type": "application/json", ...bearer(token) },
    );
    expect(run.status, run.text).to.equal(201);
  });

  after(function () {
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  type Allocation = { kind: string; rule: string; share: number | null; origin: { from: string; transactionHash: string | null } };
  async function stageOfA(): Promise<{ allocation: Allocation; gaps: { reason: string; detail: string }[]; policy: { kinds: Record<string, string> } }> {
    const res = await get(node, `/api/v1/batches/${outputA}/footprint`, bearer(token));
    expect(res.status, res.text).to.equal(200);
    const stage = (res.body.stages as { batchId: string; allocation: Allocation }[]).find((s) => s.batchId === outputA)!;
    return { allocation: stage.allocation, gaps: res.body.gaps, policy: res.body.allocationPolicy };
  }

  it("splits a co-product by the default rule (mass) while governance has set none, and says so", async function () {
    const { allocation } = await stageOfA();
    expect(allocation).to.include({ kind: KIND, rule: "mass" });
    expect(allocation.share).to.be.closeTo(0.6, 1e-12);
    expect(allocation.origin).to.include({ from: "default", transactionHash: null });
  });

  it("lists the kind's rule publicly, with where it comes from", async function () {
    const res = await getAnonymous(node, `/api/v1/allocation-rules?kind=${KIND}`);
    expect(res.status, res.text).to.equal(200);
    expect(res.body.items).to.have.length(1);
    expect(res.body.items[0]).to.deep.include({ kind: KIND, enabled: true, rule: "mass" });
    expect(res.body.items[0].origin.from).to.equal("default");
    expect(res.body.rules).to.deep.equal(["mass", "dry_matter", "economic", "none"]);
  });

  it("refuses a non-governor member setting a rule with the CLI, naming the governance role", async function () {
    const line = oneLine(await cli(["allocation", "set", KIND, "none", "--dev-account", String(MAKER.account)]));
    expect(line).to.match(/does not hold the consortium's governance role/);
    expect((await stageOfA()).allocation.origin.from).to.equal("default");
  });

  it("refuses a rule value the contract does not know, before signing anything", async function () {
    expect(oneLine(await cli(["allocation", "set", KIND, "volume", "--dev-account", GOVERNOR_ACCOUNT]))).to.match(/<rule> must be one of mass, dry_matter, economic, none or clear/);
  });

  it("applies the rule governance set on-chain, recording it and its transaction on the stage", async function () {
    const set = json(await cli(["--json", "allocation", "set", KIND, "none", "--dev-account", GOVERNOR_ACCOUNT]));
    expect(set).to.deep.include({ kind: KIND, rule: "none" });
    expect(set.origin).to.include({ from: "chain", transactionHash: set.transactionHash });
    const { allocation, gaps, policy } = await stageOfA();
    expect(allocation).to.include({ kind: KIND, rule: "none", share: null });
    expect(allocation.origin).to.include({ from: "chain", transactionHash: set.transactionHash });
    expect(gaps.find((g) => g.reason === "allocation_undetermined")!.detail).to.match(/rule "none"/);
    expect(policy.kinds[KIND]).to.equal("none");
    const listed = json(await cli(["--json", "allocation", "list", "--kind", KIND]));
    expect(listed.items[0]).to.deep.include({ kind: KIND, rule: "none" });
  });

  it("falls back to the node's default when governance clears the rule", async function () {
    const cleared = json(await cli(["--json", "allocation", "set", KIND, "clear", "--dev-account", GOVERNOR_ACCOUNT]));
    expect(cleared).to.deep.include({ kind: KIND, rule: "mass" });
    const { allocation } = await stageOfA();
    expect(allocation).to.include({ rule: "mass" });
    expect(allocation.origin.from).to.equal("default");
  });

  it("prints the call for a timelock or multisig to propose with --calldata, signing nothing", async function () {
    const call = json(await cli(["--json", "allocation", "set", KIND, "dry_matter", "--calldata"]));
    expect(call.to).to.equal(node.state.deployment!.contracts.provenance);
    expect(node.contracts.provenance.interface.decodeFunctionData("setAllocationRule", call.data).map(String)).to.deep.equal([
      encodeBytes32String(KIND),
      "2",
    ]);
  });

  it("answers a malformed or unknown kind with 4xx problems", async function () {
    expectProblem(await getAnonymous(node, "/api/v1/allocation-rules?kind=lower-case"), 400);
    expectProblem(await getAnonymous(node, "/api/v1/allocation-rules?kind=NOPE"), 404, "kind_not_found");
    expectProblem(await getAnonymous(node, "/api/v1/allocation-rules?other=1"), 400);
  });
});
