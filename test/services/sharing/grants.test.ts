import { expect } from "chai";
import { demoWallet } from "../../../services/demo/roster";
import type { TestNode } from "../../helpers/node";
import { bearer, expectProblem, get, getAnonymous, sharedNode, tokenFor } from "../api/helpers";
import { lotline, oneLine } from "../cli/run";

/** Demo organisations (services/demo/roster.ts): account n is the org admin of organisation n. */
const ORG = { producer: 1, processor: 2, carrier: 4, retailer: 6, auditor: 7 } as const;

describe("grants: indexed from the chain, served to members, managed with lotline grant", function () {
  let node: TestNode;
  let env: Record<string, string>;

  before(async function () {
    node = await sharedNode();
    env = { LOTLINE_API_URL: node.url };
  });

  const json = (run: { code: number; stdout: string; stderr: string }) => {
    expect(run.code, run.stderr).to.equal(0);
    return JSON.parse(run.stdout);
  };

  it("lotline grant add records a grant the grantee's node serves at GET /api/v1/grants", async function () {
    const made = json(
      await lotline(
        ["grant", "add", "--to", String(ORG.retailer), "--classes", "PRODUCTION_RUN,EPCIS", "--expires", "+30d", "--dev-account", String(ORG.producer), "--json"],
        env,
      ),
    );
    expect(made.grant).to.include({ grantorOrgId: "1", granteeOrgId: "6", inForce: true });
    expect(made.grant.classes).to.deep.equal(["EPCIS", "PRODUCTION_RUN"]);
    expect(made.grant.scope).to.deep.equal({ kind: "all", value: null });

    const token = await tokenFor(node, demoWallet(ORG.retailer));
    const res = await get(node, `/api/v1/grants?grantor=${ORG.producer}&grantee=${ORG.retailer}`, bearer(token));
    expect(res.status, res.text).to.equal(200);
    expect(res.body.items.map((g: { grantId: string }) => g.grantId)).to.include(made.grant.grantId);
  });

  it("scopes a grant to a GTIN", async function () {
    const made = json(
      await lotline(
        ["grant", "add", "--to", String(ORG.auditor), "--classes", "EPCIS", "--scope", "gtin:04012345000016", "--expires", "+7d", "--dev-account", String(ORG.producer), "--json"],
        env,
      ),
    );
    expect(made.grant.scope).to.deep.equal({ kind: "gtin", value: "04012345000016" });
  });

  it("refuses the grants list to anyone not signed in", async function () {
    expectProblem(await getAnonymous(node, "/api/v1/grants"), 401, "unauthorized");
  });

  it("attack: a third member cannot revoke a grant between two others", async function () {
    const made = json(
      await lotline(["grant", "add", "--to", String(ORG.processor), "--classes", "ALL", "--expires", "+1d", "--dev-account", String(ORG.producer), "--json"], env),
    );
    const run = await lotline(["grant", "revoke", made.grant.grantId, "--dev-account", String(ORG.carrier)], env);
    expect(oneLine(run)).to.match(/SharingNotParty/);
    const token = await tokenFor(node, demoWallet(ORG.processor));
    expect((await get(node, `/api/v1/grants/${made.grant.grantId}`, bearer(token))).body.inForce).to.equal(true);
  });

  it("lets the grantee renounce a grant; it is then listed as no longer in force", async function () {
    const made = json(
      await lotline(["grant", "add", "--to", String(ORG.carrier), "--classes", "ORDER_TERMS", "--expires", "+1d", "--dev-account", String(ORG.producer), "--json"], env),
    );
    const revoked = json(await lotline(["grant", "revoke", made.grant.grantId, "--dev-account", String(ORG.carrier), "--json"], env));
    expect(revoked.grant).to.include({ inForce: false, revokedByOrgId: String(ORG.carrier) });
    const listed = json(await lotline(["grant", "list", "--grantee", String(ORG.carrier), "--in-force", "--dev-account", String(ORG.carrier), "--json"], env));
    expect(listed.map((g: { grantId: string }) => g.grantId)).to.not.include(made.grant.grantId);
  });

  it("refuses bad grant options with one line saying what to fix", async function () {
    const run = await lotline(["grant", "add", "--to", "6", "--classes", "RECIPES", "--expires", "+1d", "--dev-account", "1"], env);
    expect(oneLine(run)).to.match(/--classes: "RECIPES" is not a record class/);
    const past = await lotline(["grant", "add", "--to", "6", "--classes", "EPCIS", "--expires", "2020-01-01", "--dev-account", "1"], env);
    expect(oneLine(past)).to.match(/--expires: .* is not in the future/);
  });

  it("publishes an organisation's node URL, shown in GET /api/v1/orgs/{orgId}", async function () {
    json(await lotline(["org", "publish-url", String(ORG.producer), "https://lotline.alpenmilch.example", "--dev-account", String(ORG.producer), "--json"], env));
    const org = await get(node, `/api/v1/orgs/${ORG.producer}`);
    expect(org.body.serviceUrl).to.equal("https://lotline.alpenmilch.example");
  });

  it("attack: a rival cannot publish another member's node URL", async function () {
    const run = await lotline(["org", "publish-url", String(ORG.producer), "https://evil.example", "--dev-account", String(ORG.retailer)], env);
    expect(oneLine(run)).to.match(/SharingNotOrgAdmin/);
    expect((await get(node, `/api/v1/orgs/${ORG.producer}`)).body.serviceUrl).to.not.equal("https://evil.example");
  });
});
