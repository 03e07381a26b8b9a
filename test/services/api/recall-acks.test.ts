import { expect } from "chai";
import { hexlify, randomBytes, type HDNodeWallet } from "ethers";
import { bearer, expectProblem, get, getAnonymous, post, sharedNode, tokenFor } from "./helpers";
import type { TestNode } from "../../helpers/node";
import { DEMO_MEMBERS, demoWallet } from "../../../services/demo/roster";
import { DEMO_GOODS } from "../../../services/demo/supply-chain";
import { lotIdOf } from "../../../services/cli/args";
import { recallAckDomain, RECALL_ACK_TYPES } from "../../../services/recalls/acknowledgements";

const agentOf = (orgId: string): HDNodeWallet => demoWallet(DEMO_MEMBERS[Number(orgId) - 1].account);

describe("Recall acknowledgements (API)", function () {
  this.timeout(120_000);
  let node: TestNode;
  const lotB = lotIdOf(DEMO_GOODS.recalledLot.gtin, DEMO_GOODS.recalledLot.lot);
  const path = `/api/v1/recalls/${lotB}/acknowledgements`;
  let recallTx: string;
  let custodians: string[];

  before(async function () {
    node = await sharedNode();
    const res = await get(node, path);
    expect(res.status, res.text).to.equal(200);
    recallTx = res.body.recall.transactionHash;
    custodians = res.body.custodians.filter((c: { holding: unknown[] }) => c.holding.length > 0).map((c: { orgId: string }) => c.orgId);
  });

  async function signed(wallet: HDNodeWallet, orgId: string, overrides: { deadline?: number; note?: string; recallTx?: string; batchId?: string } = {}) {
    const message = {
      batchId: overrides.batchId ?? lotB,
      recallTx: overrides.recallTx ?? recallTx,
      orgId,
      nonce: hexlify(randomBytes(32)),
      deadline: overrides.deadline ?? Math.floor(Date.now() / 1000) + 3600,
      note: overrides.note ?? "quarantined in cold store 2, awaiting return",
    };
    const domain = recallAckDomain(31337, node.state.deployment!.contracts.provenance);
    const signature = await wallet.signTypedData(domain, RECALL_ACK_TYPES, message);
    return { orgId, agent: wallet.address, recallTx: message.recallTx, nonce: message.nonce, deadline: message.deadline, note: message.note, signature };
  }

  it("lists to members every organisation holding affected goods, none acknowledged yet, with how long it has held them", async function () {
    const res = await get(node, path);
    expect(res.body.batchId).to.equal(lotB);
    expect(res.body.recall.reason).to.match(/antibiotic/);
    expect(custodians.length).to.be.greaterThan(1);
    for (const c of res.body.custodians.filter((x: { holding: unknown[] }) => x.holding.length > 0)) {
      expect(c.holdingSince).to.equal(res.body.recall.at);
      expect(c.heldSinceRecallSeconds).to.be.a("number").greaterThan(0);
    }
    expect(res.body.signing.domain).to.include({ chainId: 31337, verifyingContract: node.state.deployment!.contracts.provenance });
  });

  it("refuses the acknowledgement list to the public: who holds the goods is custody data", async function () {
    expectProblem(await getAnonymous(node, path), 401, "unauthorized");
  });

  it("records an acknowledgement signed by an agent of the custodian, anchored like every record, and shows it", async function () {
    const orgId = custodians[0];
    const before = (await get(node, path)).body;
    const res = await post(node, path, await signed(agentOf(orgId), orgId));
    expect(res.status, res.text).to.equal(201);
    expect(res.body).to.include({ orgId, agent: agentOf(orgId).address, recallTx });
    const after = (await get(node, path)).body;
    const row = after.custodians.find((c: { orgId: string }) => c.orgId === orgId);
    expect(row.acknowledged).to.equal(true);
    expect(row.acknowledgement).to.include({ agent: agentOf(orgId).address, recordId: res.body.recordId });
    expect(after.totals.outstanding).to.equal(before.totals.outstanding - 1);
    const queued = node.db.prepare(`SELECT kind, owner_org FROM anchor_outbox WHERE record_id = ?`).get(res.body.recordId);
    expect(queued).to.deep.equal({ kind: "RECALL_ACK", owner_org: Number(orgId) });
  });

  it("refuses a rival acknowledging for another organisation", async function () {
    const victim = custodians[1];
    const rival = custodians.find((c) => c !== victim)!;
    const res = await post(node, path, await signed(agentOf(rival), victim));
    expectProblem(res, 403, "not_your_organisation");
    const row = (await get(node, path)).body.custodians.find((c: { orgId: string }) => c.orgId === victim);
    expect(row.acknowledged).to.equal(false);
  });

  it("refuses a signature presented for another agent than its signer", async function () {
    const victim = custodians[1];
    const forged = { ...(await signed(agentOf(custodians[0]), victim)), agent: agentOf(victim).address };
    expectProblem(await post(node, path, forged), 403, "invalid_signature");
  });

  it("refuses a replayed acknowledgement, and a replayed signature over an altered note", async function () {
    const orgId = custodians[1];
    const payload = await signed(agentOf(orgId), orgId);
    expect((await post(node, path, payload)).status).to.equal(201);
    expectProblem(await post(node, path, payload), 409, "already_acknowledged");
    expectProblem(await post(node, path, { ...payload, note: "nothing to see" }), 403, "invalid_signature");
  });

  it("refuses an acknowledgement whose deadline has passed", async function () {
    const orgId = custodians[custodians.length - 1];
    const res = await post(node, path, await signed(agentOf(orgId), orgId, { deadline: Math.floor(Date.now() / 1000) - 1 }));
    expectProblem(res, 400, "signature_expired");
  });

  it("refuses an acknowledgement of an older recall notice of the batch", async function () {
    const orgId = custodians[custodians.length - 1];
    const stale = "0x" + "ab".repeat(32);
    expectProblem(await post(node, path, await signed(agentOf(orgId), orgId, { recallTx: stale })), 409, "stale_recall");
  });

  it("refuses an organisation that holds none of the affected goods", async function () {
    const outsider = DEMO_MEMBERS.findIndex((m) => m.key === "certifier") + 1;
    expect(custodians).to.not.include(String(outsider));
    expectProblem(await post(node, path, await signed(agentOf(String(outsider)), String(outsider))), 403, "not_a_custodian");
  });

  it("points a batch recalled by propagation to its source's notice", async function () {
    const affected = (await get(node, `/api/v1/batches/${lotB}/recall-impact`)).body.affected.find((b: { recall: { kind: string } | null }) => b.recall?.kind === "propagated");
    expectProblem(await get(node, `/api/v1/recalls/${affected.id}/acknowledgements`), 409, "recall_propagated");
  });

  it("audits each write with its signer's organisation and the request's hash, never its body; each organisation reads its own", async function () {
    const orgId = custodians[0];
    const token = await tokenFor(node, agentOf(orgId));
    const res = await get(node, "/api/v1/audit?limit=500", bearer(token));
    expect(res.status, res.text).to.equal(200);
    const acks = res.body.items.filter((e: { action: string }) => e.action === "POST /api/v1/recalls/:ref/acknowledgements");
    expect(acks.some((e: { status: number; agent: string }) => e.status === 201 && e.agent === agentOf(orgId).address)).to.equal(true);
    expect(res.body.items.every((e: { orgId: string }) => e.orgId === orgId)).to.equal(true);
    expect(res.text).to.not.include("quarantined");
    for (const e of acks) expect(e.requestHash).to.match(/^0x[0-9a-f]{64}$/);
    // The rival's refused attempt is in the rival's part of the log, not the victim's.
    const rival = custodians.find((c) => c !== custodians[1])!;
    const rivalLog = await get(node, "/api/v1/audit?limit=500", bearer(await tokenFor(node, agentOf(rival))));
    expect(rivalLog.body.items.some((e: { status: number; action: string }) => e.status === 403 && e.action.includes("acknowledgements"))).to.equal(true);
  });

  it("refuses the audit log to the public", async function () {
    expectProblem(await getAnonymous(node, "/api/v1/audit"), 401, "unauthorized");
  });
});
