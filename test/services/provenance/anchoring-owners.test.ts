import { expect } from "chai";
import { DEMO_MEMBERS, demoWallet } from "../../../services/demo/roster";
import type { TestNode } from "../../helpers/node";
import { bearer, get, sharedNode, tokenFor } from "../api/helpers";

const account = (key: string) => DEMO_MEMBERS.find((m) => m.key === key)!.account;

/**
 * Every record is anchored by the organisation that owns it (its integration key), so an
 * organisation it is shared with can check it against the owner's own anchor — not against the
 * anchor of whichever organisation happens to run the node.
 */
describe("anchoring by the owning organisation", function () {
  let node: TestNode;
  let token: string;

  before(async function () {
    node = await sharedNode();
    token = await tokenFor(node, demoWallet(account("auditor")));
  });

  async function anchoredProof(runId: string) {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const res = await get(node, `/api/v1/production-runs/${runId}`, bearer(token));
      if (res.body.anchor?.status === "anchored" || Date.now() > deadline) return res.body.anchor;
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  for (const key of ["producer", "processor", "processor2"]) {
    it(`anchors the ${key}'s production runs with the ${key}'s own key`, async function () {
      const orgId = String(DEMO_MEMBERS.findIndex((m) => m.key === key) + 1);
      const runs = await get(node, `/api/v1/production-runs?orgId=${orgId}&limit=1`, bearer(token));
      expect(runs.body.items, `runs of ${key}`).to.have.length(1);
      const proof = await anchoredProof(runs.body.items[0].id);
      expect(proof).to.include({ status: "anchored", verified: true });
      expect(proof.anchoredBy.orgId).to.equal(orgId);
    });
  }
});
