import { expect } from "chai";
import { AbiCoder, keccak256 } from "ethers";
import { DEMO_MEMBERS, demoWallet } from "../../../services/demo/roster";
import { DEMO_GOODS } from "../../../services/demo/supply-chain";
import type { TestNode } from "../../helpers/node";
import { bearer, expectProblem, get, getAnonymous, sharedNode, tokenFor } from "../api/helpers";

const lotIdOf = (gtin: string, lot: string) => keccak256(AbiCoder.defaultAbiCoder().encode(["uint64", "string"], [BigInt(gtin), lot]));
const milkA = lotIdOf(DEMO_GOODS.rawMilk, "MILK-2611-A");
const milkB = lotIdOf(DEMO_GOODS.rawMilk, "MILK-2611-B");
const butter = lotIdOf(DEMO_GOODS.butter, "BTR-2611");
const account = (key: string) => DEMO_MEMBERS.find((m) => m.key === key)!.account;
const ORG = { producer: 1, processor: 2, processor2: 3, certifier: 8 } as const;

interface Run {
  id: string;
  orgId: string;
  outputs: { batchId?: string }[];
}

/**
 * The visibility table's rows for production runs and what is derived from them (README "Who may
 * read what"): the owner and the organisations it granted read them; other members get 403
 * not_shared or, in derived figures, a named not_shared gap; the public gets 401.
 */
describe("visibility: production runs, KPIs, footprints and scores", function () {
  let node: TestNode;
  const tokens: Record<string, string> = {};
  const as = (who: keyof typeof tokens | "public") => (who === "public" ? {} : bearer(tokens[who]));
  let runOf: (lotId: string) => Run;

  before(async function () {
    node = await sharedNode();
    for (const key of ["auditor", "producer", "processor2", "certifier"]) tokens[key] = await tokenFor(node, demoWallet(account(key)));
    const all: Run[] = [];
    for (let cursor: string | null = null; ; ) {
      const page = await get(node, `/api/v1/production-runs?orgId=${ORG.producer}&limit=500${cursor ? `&cursor=${cursor}` : ""}`, as("auditor"));
      all.push(...(page.body.items as Run[]));
      cursor = page.body.nextCursor;
      if (!cursor) break;
    }
    runOf = (lotId) => all.find((r) => r.outputs.some((o) => o.batchId === lotId))!;
  });

  it("refuses the public every route that shows production runs or what is derived from them (401)", async function () {
    for (const path of [
      "/api/v1/production-runs",
      `/api/v1/production-runs/${runOf(milkA).id}`,
      `/api/v1/batches/${butter}/footprint`,
      `/api/v1/analytics/orgs/${ORG.producer}/kpis`,
      `/api/v1/analytics/orgs/${ORG.producer}/kpis/monthly`,
      `/api/v1/analytics/orgs/${ORG.producer}/productivity`,
      `/api/v1/scores/runs/${runOf(milkA).id}`,
      `/api/v1/scores/batches/${butter}`,
      `/api/v1/scores/suppliers/${ORG.producer}`,
    ]) {
      expectProblem(await getAnonymous(node, path), 401, "unauthorized");
    }
  });

  it("lets the owner read its own runs and its KPIs", async function () {
    const own = await get(node, `/api/v1/production-runs/${runOf(milkA).id}`, as("producer"));
    expect(own.status, own.text).to.equal(200);
    expect((await get(node, `/api/v1/analytics/orgs/${ORG.producer}/kpis`, as("producer"))).status).to.equal(200);
    expect((await get(node, `/api/v1/analytics/orgs/${ORG.producer}/kpis/monthly`, as("producer"))).status).to.equal(200);
  });

  it("attack: a member without a grant cannot read another member's run, its score or its KPIs (403 not_shared)", async function () {
    expectProblem(await get(node, `/api/v1/production-runs/${runOf(milkA).id}`, as("certifier")), 403, "not_shared");
    expectProblem(await get(node, `/api/v1/scores/runs/${runOf(milkA).id}`, as("certifier")), 403, "not_shared");
    expectProblem(await get(node, `/api/v1/analytics/orgs/${ORG.producer}/kpis`, as("certifier")), 403, "not_shared");
    expectProblem(await get(node, `/api/v1/analytics/orgs/${ORG.processor}/kpis`, as("producer")), 403, "not_shared");
    expectProblem(await get(node, `/api/v1/analytics/orgs/${ORG.processor}/kpis/monthly`, as("producer")), 403, "not_shared");
  });

  it("attack: listing runs shows a member without a grant none of another member's runs", async function () {
    const res = await get(node, `/api/v1/production-runs?orgId=${ORG.producer}&limit=500`, as("certifier"));
    expect(res.status).to.equal(200);
    expect(res.body.items).to.deep.equal([]);
  });

  it("shows a footprint over records the reader may not see as not_shared gaps, never as zeros", async function () {
    const res = await get(node, `/api/v1/batches/${butter}/footprint`, as("certifier"));
    expect(res.status, res.text).to.equal(200);
    expect(res.body).to.include({ complete: false, co2ePerUnitKg: null });
    const hidden = res.body.gaps.filter((g: { reason: string }) => g.reason === "not_shared").map((g: { batchId: string }) => g.batchId);
    expect(hidden).to.include.members([milkA, milkB, butter]);
    // No stage from a production run: the certifier was granted no runs. A freight leg comes from an
    // EPCIS event, shown only when its owner granted the certifier its EPCIS events (another test
    // file's cheese maker does, on this shared node).
    const stages = res.body.stages as { type: string; transport?: { orgId: number }[] }[];
    expect(stages.filter((s) => s.type !== "transport")).to.deep.equal([]);
    for (const leg of stages.flatMap((s) => s.transport ?? [])) {
      const grants = await get(node, `/api/v1/grants?grantor=${leg.orgId}&grantee=${ORG.certifier}&inForce=true`, as("certifier"));
      expect(grants.status, grants.text).to.equal(200);
      expect(grants.body.items.some((g: { classes: string[] }) => g.classes.includes("EPCIS")), `a leg of organisation ${leg.orgId}'s event`).to.equal(true);
    }
  });

  it("attack: a member without a grant cannot get a PACT export over others' runs (409 footprint_incomplete, no figure)", async function () {
    const res = await get(node, `/api/v1/batches/${butter}/footprint/pact`, as("certifier"));
    expectProblem(res, 409, "footprint_incomplete");
    expect(res.text).to.not.match(/pCfExcludingBiogenic/);
    expect(res.body.detail).to.match(/not_shared/);
  });

  it("hides the run-derived components of a supplier's score from a member without a grant", async function () {
    const res = await get(node, `/api/v1/scores/suppliers/${ORG.producer}`, as("certifier"));
    expect(res.status, res.text).to.equal(200);
    for (const name of ["predictedQualityFailures", "observedQualityFailures"]) {
      const c = res.body.components.find((x: { name: string }) => x.name === name);
      expect(c, name).to.include({ status: "missing", value: null });
      expect(c.note).to.match(/^not_shared/);
    }
    const onChain = res.body.components.find((x: { name: string }) => x.name === "credentials");
    expect(onChain.status).to.equal("ok");
  });

  it("lists in a batch score what it left out for the reader", async function () {
    const res = await get(node, `/api/v1/scores/batches/${butter}`, as("certifier"));
    expect(res.status, res.text).to.equal(200);
    expect(res.body.ownQuality).to.equal(null);
    expect(res.body.notShared.map((g: { batchId: string }) => g.batchId)).to.include(butter);
    const auditor = await get(node, `/api/v1/scores/batches/${butter}`, as("auditor"));
    expect(auditor.body.notShared).to.deep.equal([]);
  });

  it("opens exactly a granted lot and what was made from it, and closes it again on revocation", async function () {
    const producer = node.contracts.sharing.connect(demoWallet(account("producer"), node.provider));
    const now = (await node.provider.getBlock("latest"))!.timestamp;
    // The cheese maker: no other test grants it the producer's runs (tests share one node).
    const receipt = await (await producer.grant(ORG.processor2, 2, 2, milkA, now + 86_400)).wait();
    await node.synced();
    const grantId = producer.interface.parseLog(receipt!.logs[0])!.args.grantId as bigint;

    expect((await get(node, `/api/v1/production-runs/${runOf(milkA).id}`, as("processor2"))).status).to.equal(200);
    expectProblem(await get(node, `/api/v1/production-runs/${runOf(milkB).id}`, as("processor2")), 403, "not_shared");
    const fp = await get(node, `/api/v1/batches/${butter}/footprint`, as("processor2"));
    expect(fp.body.stages.map((s: { batchId: string }) => s.batchId)).to.include(milkA);
    expect(fp.body.gaps.filter((g: { reason: string }) => g.reason === "not_shared").map((g: { batchId: string }) => g.batchId)).to.include(milkB);

    await (await producer.revoke(grantId)).wait();
    await node.synced();
    expectProblem(await get(node, `/api/v1/production-runs/${runOf(milkA).id}`, as("processor2")), 403, "not_shared");
  });
});
