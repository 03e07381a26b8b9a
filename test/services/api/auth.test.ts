import { expect } from "chai";
import { Wallet } from "ethers";
import type { TestNode } from "../../helpers/node";
import { DEMO_MEMBERS, demoWallet, GOVERNOR_ACCOUNT } from "../../../services/demo/roster";
import { NONCE_TTL_SECONDS, SESSION_TTL_SECONDS } from "../../../services/api/auth";
import { bearer, expectProblem, get, getAnonymous, post, requestNonce, sharedNode, siweMessage, signIn, tokenFor } from "./helpers";

const producer = DEMO_MEMBERS.find((m) => m.key === "producer")!;
const distributor = DEMO_MEMBERS.find((m) => m.key === "distributor")!;

describe("API Sign-In with Ethereum", function () {
  let node: TestNode;

  before(async function () {
    this.timeout(120_000);
    node = await sharedNode();
    await node.synced();
  });

  describe("POST /api/v1/auth/nonce", function () {
    it("issues a fresh alphanumeric nonce with the domain, URI and chain id to sign for", async function () {
      const address = demoWallet(producer.account).address;
      const before = Date.now();
      const res = await post(node, "/api/v1/auth/nonce", { address });
      expect(res.status).to.equal(200);
      expect(res.body.nonce).to.match(/^[0-9a-zA-Z]{8,}$/);
      expect(res.body).to.include({ domain: new URL(node.url).host, uri: node.url, chainId: 31337 });
      const expiresIn = (Date.parse(res.body.expiresAt) - before) / 1000;
      expect(expiresIn).to.be.within(NONCE_TTL_SECONDS - 5, NONCE_TTL_SECONDS + 5);
      const again = await post(node, "/api/v1/auth/nonce", { address });
      expect(again.body.nonce).to.not.equal(res.body.nonce);
    });
  });

  describe("POST /api/v1/auth/login", function () {
    it("exchanges a signed message for a token, its expiry, the address, organisation and roles", async function () {
      const wallet = demoWallet(producer.account);
      const before = Date.now();
      const { res } = await signIn(node, wallet);
      expect(res.status, res.text).to.equal(200);
      expect(res.body).to.have.all.keys("token", "expiresAt", "address", "orgId", "roles");
      expect(res.body.token).to.be.a("string").with.length.greaterThan(20);
      expect(res.body.address).to.equal(wallet.address);
      expect(res.body.orgId).to.equal("1");
      expect(res.body.roles).to.have.members([...producer.allowedRoles, "org-admin", "treasury"]);
      const expiresIn = (Date.parse(res.body.expiresAt) - before) / 1000;
      expect(expiresIn).to.be.within(SESSION_TTL_SECONDS - 5, SESSION_TTL_SECONDS + 5);
    });

    it("signs in an integration key with its organisation's allowed business roles, not 'integration'", async function () {
      const { res } = await signIn(node, demoWallet(producer.integrationAccount));
      expect(res.status, res.text).to.equal(200);
      expect(res.body).to.include({ orgId: "1" });
      expect(res.body.roles).to.have.members([...producer.allowedRoles]);
      expect(res.body.roles).to.not.include("org-admin");
    });

    it("refuses the same nonce and signed message a second time (replay) with 401 invalid_nonce", async function () {
      const { res, message, signature } = await signIn(node, demoWallet(producer.account));
      expect(res.status).to.equal(200);
      expectProblem(await post(node, "/api/v1/auth/login", { message, signature }), 401, "invalid_nonce");
    });

    it("refuses a nonce the service never issued with 401 invalid_nonce", async function () {
      const wallet = demoWallet(producer.account);
      const message = siweMessage(node, wallet.address, "neverissued1234").prepareMessage();
      const res = await post(node, "/api/v1/auth/login", { message, signature: await wallet.signMessage(message) });
      expectProblem(res, 401, "invalid_nonce");
    });

    it("refuses a nonce issued for another address with 401 invalid_nonce", async function () {
      const nonce = await requestNonce(node, demoWallet(distributor.account).address);
      const wallet = demoWallet(producer.account);
      const message = siweMessage(node, wallet.address, nonce).prepareMessage();
      const res = await post(node, "/api/v1/auth/login", { message, signature: await wallet.signMessage(message) });
      expectProblem(res, 401, "invalid_nonce");
    });

    it("refuses a message for another domain with 401 wrong_domain", async function () {
      const { res } = await signIn(node, demoWallet(producer.account), { domain: "lotline.evil.example" });
      expectProblem(res, 401, "wrong_domain");
    });

    it("refuses a message for another URI with 401 wrong_uri", async function () {
      const { res } = await signIn(node, demoWallet(producer.account), { uri: "https://lotline.evil.example" });
      expectProblem(res, 401, "wrong_uri");
    });

    it("refuses a message for another chain id with 401 wrong_chain", async function () {
      const { res } = await signIn(node, demoWallet(producer.account), { chainId: 1 });
      expectProblem(res, 401, "wrong_chain");
    });

    it("refuses a message signed by another wallet with 401 invalid_signature", async function () {
      const wallet = demoWallet(producer.account);
      const nonce = await requestNonce(node, wallet.address);
      const message = siweMessage(node, wallet.address, nonce).prepareMessage();
      const signature = await demoWallet(distributor.account).signMessage(message);
      expectProblem(await post(node, "/api/v1/auth/login", { message, signature }), 401, "invalid_signature");
    });

    it("refuses a signed message whose own expirationTime has passed with 401", async function () {
      const { res } = await signIn(node, demoWallet(producer.account), {
        issuedAt: new Date(Date.now() - 120_000).toISOString(),
        expirationTime: new Date(Date.now() - 60_000).toISOString(),
      });
      expectProblem(res, 401, "invalid_signature");
    });

    it("refuses an expired nonce with 401 nonce_expired", async function () {
      const wallet = demoWallet(producer.account);
      const nonce = await requestNonce(node, wallet.address);
      // Waiting out NONCE_TTL_SECONDS (five minutes) is too slow for a test, and the service takes
      // its clock from Date.now(); so the nonce's stored expiry is moved into the past directly in
      // the node's database, exactly as the row would look five minutes later.
      const changed = node.db
        .prepare(`UPDATE auth_nonces SET expires_at = ? WHERE nonce = ?`)
        .run(Math.floor(Date.now() / 1000) - 1, nonce);
      expect(changed.changes).to.equal(1);
      const message = siweMessage(node, wallet.address, nonce).prepareMessage();
      const res = await post(node, "/api/v1/auth/login", { message, signature: await wallet.signMessage(message) });
      expectProblem(res, 401, "nonce_expired");
    });

    it("consumes the nonce even when the attempt is refused, so it cannot be retried", async function () {
      const wallet = demoWallet(producer.account);
      const nonce = await requestNonce(node, wallet.address);
      const wrong = siweMessage(node, wallet.address, nonce, { chainId: 1 }).prepareMessage();
      expectProblem(
        await post(node, "/api/v1/auth/login", { message: wrong, signature: await wallet.signMessage(wrong) }),
        401,
        "wrong_chain",
      );
      const right = siweMessage(node, wallet.address, nonce).prepareMessage();
      expectProblem(
        await post(node, "/api/v1/auth/login", { message: right, signature: await wallet.signMessage(right) }),
        401,
        "invalid_nonce",
      );
    });

    it("refuses a wallet that is not an agent of any organisation with 403 not_an_agent", async function () {
      const { res } = await signIn(node, Wallet.createRandom());
      expectProblem(res, 403, "not_an_agent");
    });

    it("refuses the consortium governor, who is not an organisation's agent, with 403 not_an_agent", async function () {
      const { res } = await signIn(node, demoWallet(GOVERNOR_ACCOUNT));
      expectProblem(res, 403, "not_an_agent");
    });
  });

  describe("GET /api/v1/auth/session", function () {
    it("returns the signed-in agent for its bearer token", async function () {
      const wallet = demoWallet(producer.account);
      const token = await tokenFor(node, wallet);
      const res = await get(node, "/api/v1/auth/session", bearer(token));
      expect(res.status, res.text).to.equal(200);
      expect(res.body).to.include({ address: wallet.address, orgId: "1" });
      expect(res.body.roles).to.have.members([...producer.allowedRoles, "org-admin", "treasury"]);
    });

    it("refuses a request without a token with 401 unauthorized", async function () {
      expectProblem(await getAnonymous(node, "/api/v1/auth/session"), 401, "unauthorized");
    });

    it("refuses an unknown token with 401 unauthorized", async function () {
      expectProblem(await get(node, "/api/v1/auth/session", bearer("A".repeat(43))), 401, "unauthorized");
    });

    it("refuses a token sent without the Bearer scheme with 401 unauthorized", async function () {
      const token = await tokenFor(node, demoWallet(producer.account));
      expectProblem(await get(node, "/api/v1/auth/session", { authorization: token }), 401, "unauthorized");
    });
  });

  describe("an agent whose organisation is suspended", function () {
    const wallet = demoWallet(distributor.account);
    const orgId = String(DEMO_MEMBERS.indexOf(distributor) + 1);
    let token: string;

    before(async function () {
      token = await tokenFor(node, wallet);
      expect((await get(node, "/api/v1/auth/session", bearer(token))).status).to.equal(200);
      const registry = node.contracts.registry.connect(demoWallet(GOVERNOR_ACCOUNT, node.provider));
      await (await registry.suspendOrganisation(orgId, "failed cold-chain audit")).wait();
      await node.synced();
    });

    after(async function () {
      // The last test reinstates; this only cleans up when it did not get that far.
      if (await node.contracts.registry.isOrganisationActive(orgId)) return;
      const registry = node.contracts.registry.connect(demoWallet(GOVERNOR_ACCOUNT, node.provider));
      await (await registry.reinstateOrganisation(orgId)).wait();
      await node.synced();
    });

    it("cannot sign in: 403 organisation_suspended", async function () {
      const { res } = await signIn(node, wallet);
      expectProblem(res, 403, "organisation_suspended");
    });

    it("has its existing token refused on every request: 403 organisation_suspended", async function () {
      expectProblem(await get(node, "/api/v1/auth/session", bearer(token)), 403, "organisation_suspended");
    });

    it("has its token honoured again once the organisation is reinstated", async function () {
      const registry = node.contracts.registry.connect(demoWallet(GOVERNOR_ACCOUNT, node.provider));
      await (await registry.reinstateOrganisation(orgId)).wait();
      await node.synced();
      const res = await get(node, "/api/v1/auth/session", bearer(token));
      expect(res.status, res.text).to.equal(200);
      expect(res.body).to.include({ address: wallet.address, orgId });
    });
  });
});
