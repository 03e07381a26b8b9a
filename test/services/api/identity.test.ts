import { expect } from "chai";
import type { TestNode } from "../../helpers/node";
import { DEMO_MEMBERS, demoWallet, GOVERNOR_ACCOUNT } from "../../../services/demo/roster";
import { glnFor } from "../../../services/gs1/keys";
import { expectProblem, get, sharedNode } from "./helpers";

const member = (key: string) => DEMO_MEMBERS.find((m) => m.key === key)!;
/** Demo organisations are admitted in roster order, so org ids are 1-based roster positions. */
const orgIdOf = (key: string) => String(DEMO_MEMBERS.findIndex((m) => m.key === key) + 1);

describe("API identity routes", function () {
  let node: TestNode;

  before(async function () {
    this.timeout(120_000);
    node = await sharedNode();
    await node.synced();
  });

  describe("GET /api/v1/orgs", function () {
    it("lists the eight demo organisations in id order with no next cursor", async function () {
      const res = await get(node, "/api/v1/orgs");
      expect(res.status).to.equal(200);
      expect(res.body).to.have.all.keys("items", "nextCursor");
      expect(res.body.nextCursor).to.equal(null);
      expect(res.body.items.map((o: { name: string }) => o.name)).to.deep.equal(DEMO_MEMBERS.map((m) => m.name));
      expect(res.body.items.map((o: { orgId: string }) => o.orgId)).to.deep.equal(["1", "2", "3", "4", "5", "6", "7", "8"]);
    });

    it("shows each organisation's status, roles, prefixes and locations", async function () {
      const res = await get(node, "/api/v1/orgs");
      const producer = res.body.items[0];
      const roster = member("producer");
      expect(producer).to.include({ id: "1", orgId: "1", name: roster.name, status: "active", suspensionReason: null });
      expect(producer.allowedRoles).to.have.members(roster.allowedRoles);
      expect(producer.companyPrefixes).to.deep.equal([{ prefix: "4012345", length: 7 }]);
      expect(producer.locations).to.include.members(roster.locations.map((ref) => glnFor("4012345", ref)));
      expect(producer.metadataHash).to.match(/^0x[0-9a-f]{64}$/);
      expect(new Date(producer.admittedAt).toISOString()).to.equal(producer.admittedAt);
    });

    it("walks all organisations three at a time by following nextCursor, without repeats", async function () {
      const seen: string[] = [];
      const pageSizes: number[] = [];
      let cursor: string | null = null;
      for (let page = 0; page < 10; page++) {
        const query: string = cursor ? `?limit=3&cursor=${encodeURIComponent(cursor)}` : "?limit=3";
        const res = await get(node, `/api/v1/orgs${query}`);
        expect(res.status, res.text).to.equal(200);
        pageSizes.push(res.body.items.length);
        seen.push(...res.body.items.map((o: { orgId: string }) => o.orgId));
        cursor = res.body.nextCursor;
        if (!cursor) break;
      }
      expect(pageSizes).to.deep.equal([3, 3, 2]);
      expect(seen).to.deep.equal(["1", "2", "3", "4", "5", "6", "7", "8"]);
    });

    it("returns an opaque cursor string rather than a raw id", async function () {
      const res = await get(node, "/api/v1/orgs?limit=3");
      expect(res.body.nextCursor).to.be.a("string").and.not.equal("3");
    });

    it("filters by status: none suspended in the demo, all eight active", async function () {
      const suspended = await get(node, "/api/v1/orgs?status=suspended");
      expect(suspended.status, suspended.text).to.equal(200);
      expect(suspended.body).to.deep.equal({ items: [], nextCursor: null });
      const active = await get(node, "/api/v1/orgs?status=active");
      expect(active.status, active.text).to.equal(200);
      expect(active.body.items).to.have.length(8);
    });

    it("answers the organisations named by ids in one list, in the order asked, each with its node's URL", async function () {
      const res = await get(node, "/api/v1/orgs?ids=7,1,99,7,3");
      expect(res.status, res.text).to.equal(200);
      expect(res.body.nextCursor).to.equal(null);
      expect(res.body.items.map((o: { orgId: string }) => o.orgId), "unknown 99 left out, 7 once").to.deep.equal(["7", "1", "3"]);
      const one = await get(node, "/api/v1/orgs/3");
      expect(res.body.items[2]).to.include({ name: one.body.name, serviceUrl: one.body.serviceUrl });
      const listed = await get(node, "/api/v1/orgs?limit=8");
      expect(listed.body.items.every((o: object) => "serviceUrl" in o), "the plain list carries it too").to.equal(true);
    });

    it("refuses ids that are not a list of at most 100 organisation ids, and ids with a cursor", async function () {
      for (const ids of ["", "1,,2", "1;DROP TABLE orgs", "-1", "0x1", Array.from({ length: 101 }, (_, i) => i + 1).join(",")]) {
        expectProblem(await get(node, `/api/v1/orgs?ids=${encodeURIComponent(ids)}`), 400);
      }
      const first = await get(node, "/api/v1/orgs?limit=3");
      expectProblem(await get(node, `/api/v1/orgs?ids=1&cursor=${first.body.nextCursor}`), 400, "invalid_query");
    });

    it("lists a suspended organisation under status=suspended and no longer under status=active", async function () {
      const registry = node.contracts.registry.connect(demoWallet(GOVERNOR_ACCOUNT, node.provider));
      const carrier = orgIdOf("carrier");
      await (await registry.suspendOrganisation(carrier, "insurance lapsed")).wait();
      try {
        await node.synced();
        const suspended = await get(node, "/api/v1/orgs?status=suspended");
        expect(suspended.body.items.map((o: { orgId: string }) => o.orgId)).to.deep.equal([carrier]);
        expect(suspended.body.items[0]).to.include({ status: "suspended", suspensionReason: "insurance lapsed" });
        const active = await get(node, "/api/v1/orgs?status=active&limit=500");
        const activeIds = active.body.items.map((o: { orgId: string }) => o.orgId);
        expect(activeIds).to.have.length(7);
        expect(activeIds).to.not.include(carrier);
      } finally {
        await (await registry.reinstateOrganisation(carrier)).wait();
        await node.synced();
      }
      const after = await get(node, `/api/v1/orgs/${carrier}`);
      expect(after.body).to.include({ status: "active", suspensionReason: null });
    });

    it("pages within a status filter", async function () {
      const first = await get(node, "/api/v1/orgs?status=active&limit=5");
      expect(first.status, first.text).to.equal(200);
      expect(first.body.items).to.have.length(5);
      const second = await get(node, `/api/v1/orgs?status=active&limit=5&cursor=${first.body.nextCursor}`);
      expect(second.body.items.map((o: { orgId: string }) => o.orgId)).to.deep.equal(["6", "7", "8"]);
      expect(second.body.nextCursor).to.equal(null);
    });
  });

  describe("GET /api/v1/orgs/{orgId}", function () {
    it("includes the organisation's agents: its admin wallet and its integration key", async function () {
      const retailer = member("retailer");
      const res = await get(node, `/api/v1/orgs/${orgIdOf("retailer")}`);
      expect(res.status).to.equal(200);
      expect(res.body).to.include({ orgId: "6", name: retailer.name, status: "active" });
      const agents = res.body.agents as { address: string; roles: string[]; status: string; orgId: string }[];
      expect(agents.map((a) => a.address)).to.have.members([
        demoWallet(retailer.account).address,
        demoWallet(retailer.integrationAccount).address,
      ]);
      const admin = agents.find((a) => a.address === demoWallet(retailer.account).address)!;
      expect(admin.roles).to.have.members([...retailer.allowedRoles, "org-admin", "treasury"]);
      expect(admin).to.include({ status: "active", orgId: "6" });
      const integration = agents.find((a) => a.address === demoWallet(retailer.integrationAccount).address)!;
      expect(integration.roles).to.deep.equal(["integration"]);
    });

    it("shows the retailer's revoked credential as revoked, with the reason", async function () {
      const res = await get(node, `/api/v1/orgs/${orgIdOf("retailer")}`);
      expect(res.body.credentials).to.have.length(1);
      const [credential] = res.body.credentials;
      expect(credential).to.include({ type: "ORGANIC", status: "revoked", subjectOrgId: "6", issuerOrgId: orgIdOf("certifier") });
      expect(credential.revocationReason).to.match(/organic and conventional stock mixed/);
      expect(credential.revokedAt).to.be.a("string");
      expect(credential.issuedBy).to.equal(demoWallet(member("certifier").account).address);
      expect(credential).to.include({ revokedBy: demoWallet(member("certifier").account).address, revokedByGovernance: false });
    });

    it("shows the credential types governance allows the certifier to issue", async function () {
      const res = await get(node, `/api/v1/orgs/${orgIdOf("certifier")}`);
      expect(res.body.certifierTypes.map((t: { type: string }) => t.type)).to.include.members(["ORGANIC", "ISO14001", "ISO22000"]);
      expect(res.body.certifierTypes[0].allowedBy).to.equal(demoWallet(GOVERNOR_ACCOUNT).address);
    });

    it("shows no pending agent proposals for an organisation whose agents all accepted", async function () {
      const res = await get(node, `/api/v1/orgs/${orgIdOf("retailer")}`);
      expect(res.body.agentProposals).to.deep.equal([]);
      expect((await get(node, `/api/v1/orgs/${orgIdOf("retailer")}/agent-proposals`)).body).to.deep.equal({ items: [] });
    });

    it("answers 404 org_not_found for the proposals of an organisation that does not exist", async function () {
      expectProblem(await get(node, "/api/v1/orgs/99/agent-proposals"), 404, "org_not_found");
    });

    it("shows valid credentials as valid", async function () {
      const res = await get(node, `/api/v1/orgs/${orgIdOf("processor")}`);
      const types = res.body.credentials.map((c: { type: string; status: string }) => `${c.type}:${c.status}`);
      expect(types).to.have.members(["ISO14001:valid", "ORGANIC:valid"]);
    });

    it("lists the credentials an organisation issued as well as those it holds", async function () {
      const res = await get(node, `/api/v1/orgs/${orgIdOf("certifier")}`);
      expect(res.body.credentials).to.have.length(5);
      for (const c of res.body.credentials) expect(c.issuerOrgId).to.equal(orgIdOf("certifier"));
    });

    it("answers 404 org_not_found for an organisation that does not exist", async function () {
      expectProblem(await get(node, "/api/v1/orgs/99"), 404, "org_not_found");
    });
  });

  describe("GET /api/v1/agents/{address}", function () {
    it("returns the organisation, roles and status of a demo wallet", async function () {
      const producer = member("producer");
      const address = demoWallet(producer.account).address;
      const res = await get(node, `/api/v1/agents/${address}`);
      expect(res.status).to.equal(200);
      expect(res.body).to.include({ address, id: address, orgId: "1", status: "active", expiresAt: null });
      expect(res.body.roles).to.have.members([...producer.allowedRoles, "org-admin", "treasury"]);
      expect(res.body.effectiveRoles).to.have.members([...producer.allowedRoles, "org-admin", "treasury"]);
    });

    it("accepts a lowercase address and answers with the checksummed one", async function () {
      const address = demoWallet(member("processor").integrationAccount).address;
      const res = await get(node, `/api/v1/agents/${address.toLowerCase()}`);
      expect(res.status).to.equal(200);
      expect(res.body).to.include({ address, orgId: "2" });
      expect(res.body.roles).to.deep.equal(["integration"]);
    });

    it("answers 404 agent_not_found for a wallet that is not an agent", async function () {
      expectProblem(await get(node, `/api/v1/agents/${demoWallet(GOVERNOR_ACCOUNT).address}`), 404, "agent_not_found");
    });
  });
});
