import { expect } from "chai";
import { get, sharedNode } from "../api/helpers";
import type { TestNode } from "../../helpers/node";
import { DEMO_MEMBERS } from "../../../services/demo/roster";
import { DEMO_GOODS } from "../../../services/demo/supply-chain";
import { lotIdOf } from "../../../services/cli/args";
import { json, lotline } from "./run";

describe("lotline recall status and ack", function () {
  this.timeout(120_000);
  let node: TestNode;
  const lotB = lotIdOf(DEMO_GOODS.recalledLot.gtin, DEMO_GOODS.recalledLot.lot);

  before(async function () {
    node = await sharedNode();
  });

  it("acknowledges for the signer's organisation and lists who has and who has not, with how long they have held the goods", async function () {
    const before = (await get(node, `/api/v1/recalls/${lotB}/acknowledgements`)).body;
    // An organisation holding affected goods that has not acknowledged yet (other files may have acknowledged for others).
    const open = before.custodians.filter((c: { acknowledged: boolean; holding: unknown[] }) => !c.acknowledged && c.holding.length > 0);
    expect(open.length, "an unacknowledged custodian").to.be.greaterThan(0);
    const orgId: string = open[open.length - 1].orgId;
    const account = String(DEMO_MEMBERS[Number(orgId) - 1].account);
    const env = { LOTLINE_API_URL: node.url };
    const ack = json(await lotline(["--json", "recall", "ack", lotB, "--dev-account", account, "--note", "returned to the supplier"], env));
    expect(ack).to.include({ orgId, batchId: lotB });

    // By the lot's Digital Link, as a user scanning it would.
    const status = await lotline(["recall", "status", `https://id.gs1.org/01/${DEMO_GOODS.recalledLot.gtin}/10/${DEMO_GOODS.recalledLot.lot}`], env);
    expect(status.code, status.stderr).to.equal(0);
    const line = status.stdout.split("\n").find((l) => l.includes(`(org ${orgId})`))!;
    expect(line).to.match(/^ {2}✓ .* holding \d+ batch(es)? for \d+[dhm] .*since the recall; acknowledged .* returned to the supplier$/);
    expect(status.stdout).to.match(/✗ .*NOT ACKNOWLEDGED|of \d+ organisations acknowledged; 0 outstanding/);
  });
});
