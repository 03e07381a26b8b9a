import { expect } from "chai";
import { DEMO_MEMBERS, demoWallet } from "../../../services/demo/roster";
import { signForwardRequest } from "../../../services/relayer/forward-request";
import { ConfigError, loadConfig } from "../../../services/config";
import { startTestNode, type TestNode } from "../../helpers/node";
import { bearer, expectProblem, post, relayPayload, tokenFor } from "../api/helpers";
import { capture, epcisDocument } from "../epcis/helpers";
import { demoTermsOf } from "../../../services/demo/order-terms";

const account = (key: string) => DEMO_MEMBERS.find((m) => m.key === key)!.account;

/**
 * A node serves the organisations of LOTLINE_SERVE_ORGS: it accepts their writes and acts
 * on-chain only for their agents. Agents of other members use their own organisation's node.
 */
describe("a node serves only its own organisations (LOTLINE_SERVE_ORGS)", function () {
  let node: TestNode;

  before(async function () {
    node = await startTestNode({ LOTLINE_SERVE_ORGS: "1" });
  });
  after(async () => node?.cleanup());

  async function relayedBy(key: string) {
    const wallet = demoWallet(account(key), node.provider);
    const orgId = DEMO_MEMBERS.findIndex((m) => m.key === key) + 1;
    const sharing = node.contracts.sharing;
    const data = sharing.interface.encodeFunctionData("setServiceUrl", [orgId, "https://node.example"]);
    const deadline = (await node.provider.getBlock("latest"))!.timestamp + 600;
    const request = await signForwardRequest(wallet, node.contracts.forwarder, { to: await sharing.getAddress(), data, deadline });
    return post(node, "/api/v1/relay", relayPayload(request));
  }

  it("attack: refuses to relay (and pay gas) for an agent of an organisation it does not serve", async function () {
    expectProblem(await relayedBy("processor"), 403, "org_not_served");
  });

  it("relays for an agent of an organisation it serves", async function () {
    const res = await relayedBy("producer");
    expect(res.status, res.text).to.equal(202);
  });

  it("attack: refuses a production run from an agent of an organisation it does not serve, storing nothing", async function () {
    const token = await tokenFor(node, demoWallet(account("processor")));
    const run = {
      site: "5412345000013",
      line: "l1",
      startTime: "2026-01-01T00:00:00Z",
      endTime: "2026-01-01T01:00:00Z",
      plannedTimeSeconds: 3600,
      runTimeSeconds: 3600,
      idealCycleTimeSeconds: 10,
      totalCount: 10,
      goodCount: 10,
      countUnit: "KGM",
      inputs: [{ material: "cream", quantity: "20", unit: "LTR" }],
      outputs: [{ material: "butter", quantity: "10", unit: "KGM" }],
    };
    const count = () => (node.db.prepare(`SELECT COUNT(*) AS n FROM production_runs`).get() as { n: number }).n;
    const before = count();
    const res = await post(node, "/api/v1/production-runs", run, { "content-type": "application/json", ...bearer(token) });
    expectProblem(res, 403, "org_not_served");
    expect(count()).to.equal(before);
  });

  it("attack: refuses an EPCIS capture from an agent of an organisation it does not serve", async function () {
    const token = await tokenFor(node, demoWallet(account("processor")));
    const doc = epcisDocument([
      { type: "ObjectEvent", eventTime: "2026-01-01T00:00:00Z", eventTimeZoneOffset: "+00:00", action: "OBSERVE", epcList: ["https://id.gs1.org/01/05412345000013/21/1"] },
    ]);
    expectProblem(await capture(node, token, doc), 403);
    expect((node.db.prepare(`SELECT COUNT(*) AS n FROM epcis_captures WHERE org_id = 2`).get() as { n: number }).n).to.equal(0);
  });

  it("attack: refuses an order's terms from the buyer's agent when the node does not serve the buyer; stores the served seller's", async function () {
    // The demo's raw milk order: the dairy (not served here) buys from the farm (served).
    const order = node.db.prepare(`SELECT order_id FROM orders WHERE buyer_org = 2 AND seller_org = 1 ORDER BY order_id LIMIT 1`).get() as { order_id: number };
    const content = demoTermsOf(node.db, order.order_id)!.toString("base64");
    const put = async (key: string) =>
      fetch(`${node.url}/api/v1/orders/${order.order_id}/terms`, {
        method: "PUT",
        headers: { "content-type": "application/json", ...bearer(await tokenFor(node, demoWallet(account(key)))) },
        body: JSON.stringify({ contentType: "application/json", content }),
      });
    const refused = await put("processor");
    expect(refused.status).to.equal(403);
    expect(((await refused.json()) as { code: string }).code).to.equal("org_not_served");
    expect(node.db.prepare(`SELECT 1 FROM order_terms WHERE order_id = ?`).get(order.order_id)).to.equal(undefined);
    expect((await put("producer")).status).to.equal(201);
  });

  it("refuses a malformed LOTLINE_SERVE_ORGS at configuration time", function () {
    expect(() => loadConfig({ LOTLINE_SERVE_ORGS: "1,farm" })).to.throw(ConfigError, /LOTLINE_SERVE_ORGS must be organisation ids/);
  });
});
