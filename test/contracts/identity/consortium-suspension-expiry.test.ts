import { expect } from "chai";
import { encodeBytes32String, keccak256, toUtf8Bytes } from "ethers";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { bindAgent, certifierFixture, glnFor, PREFIX } from "../../helpers/identity-fixture";
import { ROLE } from "../../../services/chain/roles";

const ORGANIC = encodeBytes32String("ORGANIC");
const CLAIM = keccak256(toUtf8Bytes("EU organic certificate DE-ÖKO-006-12345"));
const YEAR = 365 * 86_400;

describe("ConsortiumRegistry suspension and agent expiry", function () {
  describe("suspension", function () {
    /** Both certifier organisations have issued a credential; then the first one is suspended. */
    async function suspendedCertifier() {
      const f = await loadFixture(certifierFixture);
      const now = await time.latest();
      await (
        await f.credentials.connect(f.certifierAgent).issueCredential(ORGANIC, f.orgs.producer, CLAIM, now, now + YEAR)
      ).wait();
      await (await f.registry.suspendOrganisation(f.orgs.certifier, "accreditation under review")).wait();
      return { ...f, credentialId: 1n, validFrom: now, validUntil: now + YEAR };
    }

    it("takes every role from the organisation's agents at once", async function () {
      const { registry, admins, certifierAgent } = await loadFixture(suspendedCertifier);
      expect(await registry.effectiveRoles(certifierAgent.address)).to.equal(0n);
      expect(await registry.effectiveRoles(admins.certifier.address)).to.equal(0n);
    });

    it("makes requireAgent refuse the organisation's agents", async function () {
      const { registry, certifierAgent } = await loadFixture(suspendedCertifier);
      await expect(registry.requireAgent(certifierAgent.address, ROLE.certifier))
        .to.be.revertedWithCustomError(registry, "IdentityUnauthorizedAgent")
        .withArgs(certifierAgent.address, ROLE.certifier);
    });

    it("stops the org admin binding agents", async function () {
      const { registry, orgs, admins, spare } = await loadFixture(suspendedCertifier);
      const [agent] = spare;
      await expect(registry.connect(admins.certifier).setAgent(agent.address, orgs.certifier, ROLE.certifier, 0))
        .to.be.revertedWithCustomError(registry, "IdentityOrganisationSuspended")
        .withArgs(orgs.certifier);
    });

    it("stops the org admin removing agents", async function () {
      const { registry, orgs, admins, certifierAgent } = await loadFixture(suspendedCertifier);
      await expect(registry.connect(admins.certifier).removeAgent(certifierAgent.address))
        .to.be.revertedWithCustomError(registry, "IdentityOrganisationSuspended")
        .withArgs(orgs.certifier);
    });

    it("stops the org admin updating the organisation", async function () {
      const { registry, orgs, admins } = await loadFixture(suspendedCertifier);
      await expect(registry.connect(admins.certifier).updateOrganisation(orgs.certifier, "Renamed", CLAIM))
        .to.be.revertedWithCustomError(registry, "IdentityOrganisationSuspended")
        .withArgs(orgs.certifier);
    });

    it("stops the org admin registering locations", async function () {
      const { registry, orgs, admins } = await loadFixture(suspendedCertifier);
      await expect(registry.connect(admins.certifier).addLocation(orgs.certifier, glnFor(PREFIX.certifier, 1)))
        .to.be.revertedWithCustomError(registry, "IdentityOrganisationSuspended")
        .withArgs(orgs.certifier);
    });

    it("stops the org admin removing locations", async function () {
      const { registry, orgs, admins } = await loadFixture(suspendedCertifier);
      await expect(registry.connect(admins.certifier).removeLocation(orgs.certifier, glnFor(PREFIX.certifier, 1)))
        .to.be.revertedWithCustomError(registry, "IdentityOrganisationSuspended")
        .withArgs(orgs.certifier);
    });

    it("stops its certifiers issuing credentials", async function () {
      const { registry, credentials, orgs, certifierAgent, validFrom, validUntil } = await loadFixture(suspendedCertifier);
      await expect(credentials.connect(certifierAgent).issueCredential(ORGANIC, orgs.processor, CLAIM, validFrom, validUntil))
        .to.be.revertedWithCustomError(registry, "IdentityUnauthorizedAgent")
        .withArgs(certifierAgent.address, ROLE.certifier);
    });

    it("stops its certifiers revoking credentials", async function () {
      const { registry, credentials, certifierAgent, credentialId } = await loadFixture(suspendedCertifier);
      await expect(credentials.connect(certifierAgent).revokeCredential(credentialId, "withdrawn"))
        .to.be.revertedWithCustomError(registry, "IdentityUnauthorizedAgent")
        .withArgs(certifierAgent.address, ROLE.certifier);
    });

    it("leaves the agents of other organisations untouched", async function () {
      const { registry, secondCertifierAgent } = await loadFixture(suspendedCertifier);
      expect(await registry.effectiveRoles(secondCertifierAgent.address)).to.equal(ROLE.certifier);
    });

    it("keeps the wallets bound, so no other organisation can take them", async function () {
      const { registry, orgs, admins, certifierAgent } = await loadFixture(suspendedCertifier);
      await registry.connect(admins.producer).setAgent(certifierAgent.address, orgs.producer, ROLE.producer, 0);
      expect((await registry.agent(certifierAgent.address)).orgId).to.equal(orgs.certifier);
      await expect(registry.connect(certifierAgent).acceptAgent(orgs.producer, ROLE.producer, 0))
        .to.be.revertedWithCustomError(registry, "IdentityAgentBoundElsewhere")
        .withArgs(certifierAgent.address, orgs.certifier);
    });

    it("still lets the governor remove an agent of the suspended organisation", async function () {
      const { registry, orgs, governor, certifierAgent } = await loadFixture(suspendedCertifier);
      await expect(registry.removeAgent(certifierAgent.address))
        .to.emit(registry, "AgentRemoved")
        .withArgs(certifierAgent.address, orgs.certifier, governor.address);
    });

    it("is lifted by reinstatement, restoring the agents' roles", async function () {
      const { registry, orgs, certifierAgent } = await loadFixture(suspendedCertifier);
      await registry.reinstateOrganisation(orgs.certifier);
      expect(await registry.effectiveRoles(certifierAgent.address)).to.equal(ROLE.certifier);
    });

    it("no longer stops the org admin once the organisation is reinstated", async function () {
      const { registry, orgs, admins, spare } = await loadFixture(suspendedCertifier);
      const [agent] = spare;
      await registry.reinstateOrganisation(orgs.certifier);
      await expect(registry.connect(admins.certifier).setAgent(agent.address, orgs.certifier, ROLE.auditor, 0))
        .to.emit(registry, "AgentProposed")
        .withArgs(agent.address, orgs.certifier, ROLE.auditor, 0n, admins.certifier.address);
    });

    it("no longer stops its certifiers once the organisation is reinstated", async function () {
      const { registry, credentials, orgs, certifierAgent, validFrom, validUntil } = await loadFixture(suspendedCertifier);
      await registry.reinstateOrganisation(orgs.certifier);
      await expect(credentials.connect(certifierAgent).issueCredential(ORGANIC, orgs.processor, CLAIM, validFrom, validUntil))
        .to.emit(credentials, "CredentialIssued")
        .withArgs(2n, ORGANIC, orgs.processor, orgs.certifier, CLAIM, validFrom, validUntil, certifierAgent.address);
    });
  });

  describe("agent expiry", function () {
    /** A certifier agent whose binding lapses 30 days from now, and a producer admin appointed for 7 days. */
    async function expiringAgents() {
      const f = await loadFixture(certifierFixture);
      const [temporary, deputy] = f.spare;
      const now = await time.latest();
      const certifierExpiry = now + 30 * 86_400;
      const deputyExpiry = now + 7 * 86_400;
      await bindAgent(f.registry, f.admins.certifier, temporary, f.orgs.certifier, ROLE.certifier, certifierExpiry);
      await bindAgent(f.registry, f.admins.producer, deputy, f.orgs.producer, ROLE["org-admin"], deputyExpiry);
      return { ...f, temporary, deputy, certifierExpiry, deputyExpiry, others: f.spare.slice(2) };
    }

    it("leaves the roles in force until the second before expiry", async function () {
      const { registry, temporary, certifierExpiry } = await loadFixture(expiringAgents);
      await time.increaseTo(certifierExpiry - 1);
      expect(await registry.effectiveRoles(temporary.address)).to.equal(ROLE.certifier);
    });

    it("takes every role away at the expiry time", async function () {
      const { registry, temporary, certifierExpiry } = await loadFixture(expiringAgents);
      await time.increaseTo(certifierExpiry);
      expect(await registry.effectiveRoles(temporary.address)).to.equal(0n);
    });

    it("makes requireAgent refuse the expired agent", async function () {
      const { registry, temporary, certifierExpiry } = await loadFixture(expiringAgents);
      await time.increaseTo(certifierExpiry);
      await expect(registry.requireAgent(temporary.address, ROLE.certifier))
        .to.be.revertedWithCustomError(registry, "IdentityUnauthorizedAgent")
        .withArgs(temporary.address, ROLE.certifier);
    });

    it("stops an expired certifier issuing credentials", async function () {
      const { registry, credentials, orgs, temporary, certifierExpiry } = await loadFixture(expiringAgents);
      await time.increaseTo(certifierExpiry);
      await expect(
        credentials.connect(temporary).issueCredential(ORGANIC, orgs.producer, CLAIM, certifierExpiry, certifierExpiry + YEAR),
      )
        .to.be.revertedWithCustomError(registry, "IdentityUnauthorizedAgent")
        .withArgs(temporary.address, ROLE.certifier);
    });

    it("stops an expired org admin binding agents", async function () {
      const { registry, orgs, deputy, deputyExpiry, others } = await loadFixture(expiringAgents);
      const [agent] = others;
      await time.increaseTo(deputyExpiry);
      await expect(registry.connect(deputy).setAgent(agent.address, orgs.producer, ROLE.producer, 0))
        .to.be.revertedWithCustomError(registry, "IdentityNotOrgAdmin")
        .withArgs(deputy.address, orgs.producer);
    });

    it("lets the org admin renew an expired agent", async function () {
      const { registry, orgs, admins, temporary, certifierExpiry } = await loadFixture(expiringAgents);
      await time.increaseTo(certifierExpiry);
      await registry
        .connect(admins.certifier)
        .setAgent(temporary.address, orgs.certifier, ROLE.certifier, certifierExpiry + YEAR);
      expect(await registry.effectiveRoles(temporary.address)).to.equal(ROLE.certifier);
    });

    it("keeps an expired wallet bound, so no other organisation can take it", async function () {
      const { registry, orgs, admins, temporary, certifierExpiry } = await loadFixture(expiringAgents);
      await time.increaseTo(certifierExpiry);
      await registry.connect(admins.carrier).setAgent(temporary.address, orgs.carrier, ROLE.carrier, 0);
      expect((await registry.agent(temporary.address)).orgId).to.equal(orgs.certifier);
    });
  });
});
