import { expect } from "chai";
import { keccak256, toUtf8Bytes, ZeroAddress } from "ethers";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { bindAgent, glnFor, identityFixture, PREFIX } from "../../helpers/identity-fixture";
import { INTERNAL_ROLES, ROLE, rolesToMask } from "../../../services/chain/roles";

const UNKNOWN_ORG = 99n;
const UNDEFINED_ROLE_BIT = 1n << 10n;
const NEW_METADATA = keccak256(toUtf8Bytes("Hof Sonnenfeld GmbH & Co. KG, Bavaria"));

/** Replaces the last digit of a GLN with a wrong check digit. */
function withWrongCheckDigit(gln: string): string {
  const wrong = (Number(gln[gln.length - 1]) + 1) % 10;
  return gln.slice(0, -1) + String(wrong);
}

describe("ConsortiumRegistry organisation admins", function () {
  describe("setAgent", function () {
    it("records a proposal, not a binding, for a wallet that is not yet an agent of the organisation", async function () {
      const { registry, orgs, admins, spare } = await loadFixture(identityFixture);
      const [agent] = spare;
      const roles = rolesToMask(["processor", "receiver"]);
      await expect(registry.connect(admins.processor).setAgent(agent.address, orgs.processor, roles, 0))
        .to.emit(registry, "AgentProposed")
        .withArgs(agent.address, orgs.processor, roles, 0n, admins.processor.address)
        .and.not.to.emit(registry, "AgentSet");
      expect((await registry.agent(agent.address)).orgId).to.equal(0n);
      const proposal = await registry.agentProposal(agent.address, orgs.processor);
      expect([proposal.roles, proposal.expiresAt, proposal.proposedBy]).to.deep.equal([roles, 0n, admins.processor.address]);
    });

    it("stores the agent's organisation, roles and expiry once the wallet accepts", async function () {
      const { registry, orgs, admins, spare } = await loadFixture(identityFixture);
      const [agent] = spare;
      const expiresAt = (await time.latest()) + 30 * 86_400;
      await registry.connect(admins.processor).setAgent(agent.address, orgs.processor, ROLE.buyer, expiresAt);
      await expect(registry.connect(agent).acceptAgent(orgs.processor, ROLE.buyer, expiresAt))
        .to.emit(registry, "AgentSet")
        .withArgs(agent.address, orgs.processor, ROLE.buyer, BigInt(expiresAt), admins.processor.address);
      const stored = await registry.agent(agent.address);
      expect([stored.orgId, stored.roles, stored.expiresAt]).to.deep.equal([orgs.processor, ROLE.buyer, BigInt(expiresAt)]);
      expect((await registry.agentProposal(agent.address, orgs.processor)).proposedBy).to.equal(ZeroAddress);
    });

    it("lets an org admin change the roles of one of its agents at once", async function () {
      const { registry, orgs, admins, spare } = await loadFixture(identityFixture);
      const [agent] = spare;
      await bindAgent(registry, admins.processor, agent, orgs.processor, ROLE.buyer);
      await expect(registry.connect(admins.processor).setAgent(agent.address, orgs.processor, ROLE.receiver, 0))
        .to.emit(registry, "AgentSet")
        .withArgs(agent.address, orgs.processor, ROLE.receiver, 0n, admins.processor.address);
      expect(await registry.effectiveRoles(agent.address)).to.equal(ROLE.receiver);
    });

    it("lets the governor propose an agent to any organisation", async function () {
      const { registry, orgs, governor, spare } = await loadFixture(identityFixture);
      const [agent] = spare;
      await expect(registry.setAgent(agent.address, orgs.carrier, ROLE.carrier, 0))
        .to.emit(registry, "AgentProposed")
        .withArgs(agent.address, orgs.carrier, ROLE.carrier, 0n, governor.address);
      await registry.connect(agent).acceptAgent(orgs.carrier, ROLE.carrier, 0);
      expect((await registry.agent(agent.address)).orgId).to.equal(orgs.carrier);
    });

    it("is refused to the admin of another organisation", async function () {
      const { registry, orgs, admins, spare } = await loadFixture(identityFixture);
      const [agent] = spare;
      await expect(registry.connect(admins.carrier).setAgent(agent.address, orgs.producer, ROLE.producer, 0))
        .to.be.revertedWithCustomError(registry, "IdentityNotOrgAdmin")
        .withArgs(admins.carrier.address, orgs.producer);
    });

    it("is refused to a wallet that is no agent", async function () {
      const { registry, orgs, outsider } = await loadFixture(identityFixture);
      await expect(registry.connect(outsider).setAgent(outsider.address, orgs.producer, ROLE.producer, 0))
        .to.be.revertedWithCustomError(registry, "IdentityNotOrgAdmin")
        .withArgs(outsider.address, orgs.producer);
    });

    it("is refused to an agent of the organisation without the org-admin role", async function () {
      const { registry, orgs, admins, spare } = await loadFixture(identityFixture);
      const [agent, other] = spare;
      await bindAgent(registry, admins.producer, agent, orgs.producer, ROLE.producer);
      await expect(registry.connect(agent).setAgent(other.address, orgs.producer, ROLE.producer, 0))
        .to.be.revertedWithCustomError(registry, "IdentityNotOrgAdmin")
        .withArgs(agent.address, orgs.producer);
    });

    it("lets an org admin appoint a further org admin", async function () {
      const { registry, orgs, admins, spare } = await loadFixture(identityFixture);
      const [deputy, agent] = spare;
      await bindAgent(registry, admins.producer, deputy, orgs.producer, ROLE["org-admin"]);
      await expect(registry.connect(deputy).setAgent(agent.address, orgs.producer, ROLE.producer, 0))
        .to.emit(registry, "AgentProposed")
        .withArgs(agent.address, orgs.producer, ROLE.producer, 0n, deputy.address);
    });

    it("refuses an unknown organisation", async function () {
      const { registry, admins, spare } = await loadFixture(identityFixture);
      const [agent] = spare;
      await expect(registry.connect(admins.producer).setAgent(agent.address, UNKNOWN_ORG, ROLE.producer, 0))
        .to.be.revertedWithCustomError(registry, "IdentityUnknownOrganisation")
        .withArgs(UNKNOWN_ORG);
    });

    it("refuses a business role the organisation is not allowed", async function () {
      const { registry, orgs, admins, spare } = await loadFixture(identityFixture);
      const [agent] = spare;
      await expect(registry.connect(admins.producer).setAgent(agent.address, orgs.producer, ROLE.carrier, 0))
        .to.be.revertedWithCustomError(registry, "IdentityRolesNotAllowed")
        .withArgs(orgs.producer, ROLE.carrier);
    });

    it("reports exactly the disallowed bits of a mixed role set", async function () {
      const { registry, orgs, admins, spare } = await loadFixture(identityFixture);
      const [agent] = spare;
      const roles = rolesToMask(["producer", "carrier", "certifier", "org-admin"]);
      await expect(registry.connect(admins.producer).setAgent(agent.address, orgs.producer, roles, 0))
        .to.be.revertedWithCustomError(registry, "IdentityRolesNotAllowed")
        .withArgs(orgs.producer, ROLE.carrier | ROLE.certifier);
    });

    it("refuses the governor a role the organisation is not allowed", async function () {
      const { registry, orgs, spare } = await loadFixture(identityFixture);
      const [agent] = spare;
      await expect(registry.setAgent(agent.address, orgs.carrier, ROLE.certifier, 0))
        .to.be.revertedWithCustomError(registry, "IdentityRolesNotAllowed")
        .withArgs(orgs.carrier, ROLE.certifier);
    });

    it("always allows org-admin and integration, even with no business role allowed", async function () {
      const { registry, orgs, admins, spare } = await loadFixture(identityFixture);
      const [agent] = spare;
      await registry.setAllowedRoles(orgs.carrier, 0n);
      await expect(registry.connect(admins.carrier).setAgent(agent.address, orgs.carrier, INTERNAL_ROLES, 0))
        .to.emit(registry, "AgentProposed")
        .withArgs(agent.address, orgs.carrier, INTERNAL_ROLES, 0n, admins.carrier.address);
    });

    it("refuses role bits outside the defined roles", async function () {
      const { registry, orgs, admins, spare } = await loadFixture(identityFixture);
      const [agent] = spare;
      const roles = ROLE.producer | UNDEFINED_ROLE_BIT;
      await expect(registry.connect(admins.producer).setAgent(agent.address, orgs.producer, roles, 0))
        .to.be.revertedWithCustomError(registry, "IdentityInvalidRoles")
        .withArgs(roles);
    });

    it("refuses the zero address", async function () {
      const { registry, orgs, admins } = await loadFixture(identityFixture);
      await expect(registry.connect(admins.producer).setAgent(ZeroAddress, orgs.producer, ROLE.producer, 0))
        .to.be.revertedWithCustomError(registry, "IdentityInvalidAgent")
        .withArgs(ZeroAddress);
    });

    it("leaves a rival's wallet with its organisation when an org admin tries to bind it without consent", async function () {
      const { registry, orgs, admins } = await loadFixture(identityFixture);
      await registry.connect(admins.producer).setAgent(admins.carrier.address, orgs.producer, ROLE.producer, 0);
      const stored = await registry.agent(admins.carrier.address);
      expect([stored.orgId, stored.roles]).to.deep.equal([orgs.carrier, ROLE["org-admin"]]);
      expect(await registry.requireAgent(admins.carrier.address, ROLE["org-admin"])).to.equal(orgs.carrier);
    });

    it("leaves a rival's wallet with its organisation when the governor tries to bind it without consent", async function () {
      const { registry, orgs, admins } = await loadFixture(identityFixture);
      await registry.setAgent(admins.carrier.address, orgs.producer, ROLE.producer, 0);
      expect((await registry.agent(admins.carrier.address)).orgId).to.equal(orgs.carrier);
    });

    it("gives a stranger's wallet no organisation and no roles when an org admin binds it without consent", async function () {
      const { registry, orgs, admins, outsider } = await loadFixture(identityFixture);
      await registry.connect(admins.producer).setAgent(outsider.address, orgs.producer, ROLE.producer, 0);
      expect((await registry.agent(outsider.address)).orgId).to.equal(0n);
      expect(await registry.effectiveRoles(outsider.address)).to.equal(0n);
      await expect(registry.requireAgent(outsider.address, ROLE.producer))
        .to.be.revertedWithCustomError(registry, "IdentityUnauthorizedAgent")
        .withArgs(outsider.address, ROLE.producer);
    });

    it("lets a proposed stranger still join the organisation it chooses, not the one that proposed first", async function () {
      const { registry, orgs, admins, spare } = await loadFixture(identityFixture);
      const [agent] = spare;
      await registry.connect(admins.producer).setAgent(agent.address, orgs.producer, ROLE.producer, 0);
      await registry.connect(admins.carrier).setAgent(agent.address, orgs.carrier, ROLE.carrier, 0);
      await registry.connect(agent).acceptAgent(orgs.carrier, ROLE.carrier, 0);
      expect((await registry.agent(agent.address)).orgId).to.equal(orgs.carrier);
    });

    it("refuses an expiry in the past", async function () {
      const { registry, orgs, admins, spare } = await loadFixture(identityFixture);
      const [agent] = spare;
      const expiresAt = (await time.latest()) - 1;
      await expect(registry.connect(admins.producer).setAgent(agent.address, orgs.producer, ROLE.producer, expiresAt))
        .to.be.revertedWithCustomError(registry, "IdentityInvalidExpiry")
        .withArgs(expiresAt);
    });

    it("refuses an expiry equal to the block time", async function () {
      const { registry, orgs, admins, spare } = await loadFixture(identityFixture);
      const [agent] = spare;
      const expiresAt = (await time.latest()) + 60;
      await time.setNextBlockTimestamp(expiresAt);
      await expect(registry.connect(admins.producer).setAgent(agent.address, orgs.producer, ROLE.producer, expiresAt))
        .to.be.revertedWithCustomError(registry, "IdentityInvalidExpiry")
        .withArgs(expiresAt);
    });
  });

  describe("acceptAgent", function () {
    async function proposedToStranger() {
      const f = await loadFixture(identityFixture);
      const [agent] = f.spare;
      await (await f.registry.connect(f.admins.processor).setAgent(agent.address, f.orgs.processor, ROLE.buyer, 0)).wait();
      return { ...f, agent };
    }

    it("binds the wallet that accepts the proposal, with the proposal's roles", async function () {
      const { registry, orgs, agent } = await loadFixture(proposedToStranger);
      await expect(registry.connect(agent).acceptAgent(orgs.processor, ROLE.buyer, 0))
        .to.emit(registry, "AgentProposalAccepted")
        .withArgs(agent.address, orgs.processor);
      expect(await registry.requireAgent(agent.address, ROLE.buyer)).to.equal(orgs.processor);
    });

    it("refuses a wallet accepting terms other than those proposed (a proposal changed in front of it)", async function () {
      const { registry, orgs, admins, agent } = await loadFixture(proposedToStranger);
      await registry.connect(admins.processor).setAgent(agent.address, orgs.processor, ROLE["org-admin"], 0);
      await expect(registry.connect(agent).acceptAgent(orgs.processor, ROLE.buyer, 0))
        .to.be.revertedWithCustomError(registry, "IdentityAgentProposalMismatch")
        .withArgs(agent.address, orgs.processor, ROLE["org-admin"], 0n);
      expect((await registry.agent(agent.address)).orgId).to.equal(0n);
    });

    it("refuses a wallet that has no proposal from the organisation", async function () {
      const { registry, orgs, outsider } = await loadFixture(proposedToStranger);
      await expect(registry.connect(outsider).acceptAgent(orgs.processor, ROLE.buyer, 0))
        .to.be.revertedWithCustomError(registry, "IdentityNoAgentProposal")
        .withArgs(outsider.address, orgs.processor);
    });

    it("refuses a wallet accepting a proposal made to another wallet", async function () {
      const { registry, orgs, spare } = await loadFixture(proposedToStranger);
      const other = spare[1];
      await expect(registry.connect(other).acceptAgent(orgs.processor, ROLE.buyer, 0))
        .to.be.revertedWithCustomError(registry, "IdentityNoAgentProposal")
        .withArgs(other.address, orgs.processor);
    });

    it("cannot be used twice", async function () {
      const { registry, orgs, admins, agent } = await loadFixture(proposedToStranger);
      await registry.connect(agent).acceptAgent(orgs.processor, ROLE.buyer, 0);
      await registry.connect(admins.processor).removeAgent(agent.address);
      await expect(registry.connect(agent).acceptAgent(orgs.processor, ROLE.buyer, 0))
        .to.be.revertedWithCustomError(registry, "IdentityNoAgentProposal")
        .withArgs(agent.address, orgs.processor);
    });

    it("refuses a wallet still bound to another organisation until it leaves", async function () {
      const { registry, orgs, admins } = await loadFixture(identityFixture);
      await registry.connect(admins.producer).setAgent(admins.carrier.address, orgs.producer, ROLE.producer, 0);
      await expect(registry.connect(admins.carrier).acceptAgent(orgs.producer, ROLE.producer, 0))
        .to.be.revertedWithCustomError(registry, "IdentityAgentBoundElsewhere")
        .withArgs(admins.carrier.address, orgs.carrier);
      await registry.connect(admins.carrier).leaveOrganisation();
      await registry.connect(admins.carrier).acceptAgent(orgs.producer, ROLE.producer, 0);
      expect((await registry.agent(admins.carrier.address)).orgId).to.equal(orgs.producer);
    });

    it("refuses joining a suspended organisation", async function () {
      const { registry, orgs, agent } = await loadFixture(proposedToStranger);
      await registry.suspendOrganisation(orgs.processor, "audit");
      await expect(registry.connect(agent).acceptAgent(orgs.processor, ROLE.buyer, 0))
        .to.be.revertedWithCustomError(registry, "IdentityOrganisationSuspended")
        .withArgs(orgs.processor);
    });

    it("refuses a proposal whose binding would already have expired", async function () {
      const { registry, orgs, admins, spare } = await loadFixture(identityFixture);
      const [agent] = spare;
      const expiresAt = (await time.latest()) + 3_600;
      await registry.connect(admins.processor).setAgent(agent.address, orgs.processor, ROLE.buyer, expiresAt);
      await time.increaseTo(expiresAt);
      await expect(registry.connect(agent).acceptAgent(orgs.processor, ROLE.buyer, expiresAt))
        .to.be.revertedWithCustomError(registry, "IdentityInvalidExpiry")
        .withArgs(expiresAt);
    });
  });

  describe("cancelAgentProposal", function () {
    async function proposed() {
      const f = await loadFixture(identityFixture);
      const [agent] = f.spare;
      await (await f.registry.connect(f.admins.processor).setAgent(agent.address, f.orgs.processor, ROLE.buyer, 0)).wait();
      return { ...f, agent };
    }

    it("lets the proposing organisation's admin withdraw it", async function () {
      const { registry, orgs, admins, agent } = await loadFixture(proposed);
      await expect(registry.connect(admins.processor).cancelAgentProposal(agent.address, orgs.processor))
        .to.emit(registry, "AgentProposalCancelled")
        .withArgs(agent.address, orgs.processor, admins.processor.address);
      expect((await registry.agentProposal(agent.address, orgs.processor)).proposedBy).to.equal(ZeroAddress);
    });

    it("lets the wallet decline it", async function () {
      const { registry, orgs, agent } = await loadFixture(proposed);
      await expect(registry.connect(agent).cancelAgentProposal(agent.address, orgs.processor))
        .to.emit(registry, "AgentProposalCancelled")
        .withArgs(agent.address, orgs.processor, agent.address);
      await expect(registry.connect(agent).acceptAgent(orgs.processor, ROLE.buyer, 0)).to.be.revertedWithCustomError(
        registry,
        "IdentityNoAgentProposal",
      );
    });

    it("refuses another organisation's admin withdrawing a rival's proposal", async function () {
      const { registry, orgs, admins, agent } = await loadFixture(proposed);
      await expect(registry.connect(admins.carrier).cancelAgentProposal(agent.address, orgs.processor))
        .to.be.revertedWithCustomError(registry, "IdentityNotOrgAdmin")
        .withArgs(admins.carrier.address, orgs.processor);
      expect((await registry.agentProposal(agent.address, orgs.processor)).proposedBy).to.equal(admins.processor.address);
    });

    it("refuses a proposal that does not exist", async function () {
      const { registry, orgs, admins, outsider } = await loadFixture(proposed);
      await expect(registry.connect(admins.processor).cancelAgentProposal(outsider.address, orgs.processor))
        .to.be.revertedWithCustomError(registry, "IdentityNoAgentProposal")
        .withArgs(outsider.address, orgs.processor);
    });
  });

  describe("leaveOrganisation", function () {
    it("lets an agent leave its organisation, with no roles left", async function () {
      const { registry, orgs, admins, spare } = await loadFixture(identityFixture);
      const [agent] = spare;
      await bindAgent(registry, admins.producer, agent, orgs.producer, ROLE.producer);
      await expect(registry.connect(agent).leaveOrganisation()).to.emit(registry, "AgentLeft").withArgs(agent.address, orgs.producer);
      expect((await registry.agent(agent.address)).orgId).to.equal(0n);
      expect(await registry.effectiveRoles(agent.address)).to.equal(0n);
    });

    it("lets an agent leave a suspended organisation", async function () {
      const { registry, orgs, admins } = await loadFixture(identityFixture);
      await registry.suspendOrganisation(orgs.carrier, "unpaid fees");
      await expect(registry.connect(admins.carrier).leaveOrganisation())
        .to.emit(registry, "AgentLeft")
        .withArgs(admins.carrier.address, orgs.carrier);
    });

    it("refuses a wallet that is no agent", async function () {
      const { registry, outsider } = await loadFixture(identityFixture);
      await expect(registry.connect(outsider).leaveOrganisation())
        .to.be.revertedWithCustomError(registry, "IdentityUnknownAgent")
        .withArgs(outsider.address);
    });
  });

  describe("removeAgent", function () {
    async function producerWithAgent() {
      const f = await loadFixture(identityFixture);
      const [agent] = f.spare;
      await bindAgent(f.registry, f.admins.producer, agent, f.orgs.producer, ROLE.producer);
      return { ...f, agent };
    }

    it("lets an org admin unbind one of its agents", async function () {
      const { registry, orgs, admins, agent } = await loadFixture(producerWithAgent);
      await expect(registry.connect(admins.producer).removeAgent(agent.address))
        .to.emit(registry, "AgentRemoved")
        .withArgs(agent.address, orgs.producer, admins.producer.address);
    });

    it("leaves the removed wallet with no organisation and no roles", async function () {
      const { registry, admins, agent } = await loadFixture(producerWithAgent);
      await registry.connect(admins.producer).removeAgent(agent.address);
      const stored = await registry.agent(agent.address);
      expect([stored.orgId, stored.roles, stored.expiresAt]).to.deep.equal([0n, 0n, 0n]);
      expect(await registry.effectiveRoles(agent.address)).to.equal(0n);
    });

    it("lets a removed wallet be bound to another organisation", async function () {
      const { registry, orgs, admins, agent } = await loadFixture(producerWithAgent);
      await registry.connect(admins.producer).removeAgent(agent.address);
      await bindAgent(registry, admins.carrier, agent, orgs.carrier, ROLE.carrier);
      expect((await registry.agent(agent.address)).orgId).to.equal(orgs.carrier);
    });

    it("lets the governor unbind any agent", async function () {
      const { registry, orgs, governor, agent } = await loadFixture(producerWithAgent);
      await expect(registry.removeAgent(agent.address))
        .to.emit(registry, "AgentRemoved")
        .withArgs(agent.address, orgs.producer, governor.address);
    });

    it("is refused to the admin of another organisation", async function () {
      const { registry, orgs, admins, agent } = await loadFixture(producerWithAgent);
      await expect(registry.connect(admins.processor).removeAgent(agent.address))
        .to.be.revertedWithCustomError(registry, "IdentityNotOrgAdmin")
        .withArgs(admins.processor.address, orgs.producer);
    });

    it("is refused to a wallet that is no agent", async function () {
      const { registry, orgs, outsider, agent } = await loadFixture(producerWithAgent);
      await expect(registry.connect(outsider).removeAgent(agent.address))
        .to.be.revertedWithCustomError(registry, "IdentityNotOrgAdmin")
        .withArgs(outsider.address, orgs.producer);
    });

    it("is refused to an agent without the org-admin role, even for itself", async function () {
      const { registry, orgs, agent } = await loadFixture(producerWithAgent);
      await expect(registry.connect(agent).removeAgent(agent.address))
        .to.be.revertedWithCustomError(registry, "IdentityNotOrgAdmin")
        .withArgs(agent.address, orgs.producer);
    });

    it("refuses a wallet that is no agent", async function () {
      const { registry, admins, outsider } = await loadFixture(producerWithAgent);
      await expect(registry.connect(admins.producer).removeAgent(outsider.address))
        .to.be.revertedWithCustomError(registry, "IdentityUnknownAgent")
        .withArgs(outsider.address);
    });
  });

  describe("updateOrganisation", function () {
    it("lets an org admin change its organisation's name and metadata hash", async function () {
      const { registry, orgs, admins } = await loadFixture(identityFixture);
      await expect(registry.connect(admins.producer).updateOrganisation(orgs.producer, "Hof Sonnenfeld KG", NEW_METADATA))
        .to.emit(registry, "OrganisationUpdated")
        .withArgs(orgs.producer, "Hof Sonnenfeld KG", NEW_METADATA);
    });

    it("stores the new name and metadata hash", async function () {
      const { registry, orgs, admins } = await loadFixture(identityFixture);
      await registry.connect(admins.producer).updateOrganisation(orgs.producer, "Hof Sonnenfeld KG", NEW_METADATA);
      const org = await registry.organisation(orgs.producer);
      expect([org.name, org.metadataHash]).to.deep.equal(["Hof Sonnenfeld KG", NEW_METADATA]);
    });

    it("lets the governor update any organisation", async function () {
      const { registry, orgs } = await loadFixture(identityFixture);
      await expect(registry.updateOrganisation(orgs.producer, "Hof Sonnenfeld KG", NEW_METADATA))
        .to.emit(registry, "OrganisationUpdated")
        .withArgs(orgs.producer, "Hof Sonnenfeld KG", NEW_METADATA);
    });

    it("is refused to the admin of another organisation", async function () {
      const { registry, orgs, admins } = await loadFixture(identityFixture);
      await expect(registry.connect(admins.carrier).updateOrganisation(orgs.producer, "Taken Over", NEW_METADATA))
        .to.be.revertedWithCustomError(registry, "IdentityNotOrgAdmin")
        .withArgs(admins.carrier.address, orgs.producer);
    });

    it("is refused to a wallet that is no agent", async function () {
      const { registry, orgs, outsider } = await loadFixture(identityFixture);
      await expect(registry.connect(outsider).updateOrganisation(orgs.producer, "Taken Over", NEW_METADATA))
        .to.be.revertedWithCustomError(registry, "IdentityNotOrgAdmin")
        .withArgs(outsider.address, orgs.producer);
    });

    it("refuses an empty name", async function () {
      const { registry, orgs, admins } = await loadFixture(identityFixture);
      await expect(
        registry.connect(admins.producer).updateOrganisation(orgs.producer, "", NEW_METADATA),
      ).to.be.revertedWithCustomError(registry, "IdentityEmptyName");
    });
  });

  describe("addLocation", function () {
    const farm = glnFor(PREFIX.producer, 1);

    it("lets an org admin register a GLN under its company prefix", async function () {
      const { registry, orgs, admins } = await loadFixture(identityFixture);
      await expect(registry.connect(admins.producer).addLocation(orgs.producer, farm))
        .to.emit(registry, "LocationAdded")
        .withArgs(orgs.producer, farm);
    });

    it("lists the location and resolves it to the organisation", async function () {
      const { registry, orgs, admins } = await loadFixture(identityFixture);
      await registry.connect(admins.producer).addLocation(orgs.producer, farm);
      expect(await registry.locations(orgs.producer)).to.deep.equal([farm]);
      expect(await registry.orgOfLocation(farm)).to.equal(orgs.producer);
    });

    it("lets the governor register a location for an organisation", async function () {
      const { registry, orgs } = await loadFixture(identityFixture);
      await expect(registry.addLocation(orgs.producer, farm)).to.emit(registry, "LocationAdded").withArgs(orgs.producer, farm);
    });

    it("is refused to the admin of another organisation", async function () {
      const { registry, orgs, admins } = await loadFixture(identityFixture);
      await expect(registry.connect(admins.processor).addLocation(orgs.producer, farm))
        .to.be.revertedWithCustomError(registry, "IdentityNotOrgAdmin")
        .withArgs(admins.processor.address, orgs.producer);
    });

    it("is refused to a wallet that is no agent", async function () {
      const { registry, orgs, outsider } = await loadFixture(identityFixture);
      await expect(registry.connect(outsider).addLocation(orgs.producer, farm))
        .to.be.revertedWithCustomError(registry, "IdentityNotOrgAdmin")
        .withArgs(outsider.address, orgs.producer);
    });

    for (const [why, gln] of [
      ["a wrong check digit", withWrongCheckDigit(farm)],
      ["12 digits", farm.slice(0, 12)],
      ["14 digits", `0${farm}`],
      ["a letter", `${farm.slice(0, 12)}X`],
      ["nothing", ""],
    ] as const) {
      it(`refuses a GLN with ${why}`, async function () {
        const { registry, orgs, admins } = await loadFixture(identityFixture);
        await expect(registry.connect(admins.producer).addLocation(orgs.producer, gln))
          .to.be.revertedWithCustomError(registry, "IdentityInvalidGln")
          .withArgs(gln);
      });
    }

    it("refuses a GLN under another organisation's company prefix", async function () {
      const { registry, orgs, admins } = await loadFixture(identityFixture);
      const dairy = glnFor(PREFIX.processor, 1);
      await expect(registry.connect(admins.producer).addLocation(orgs.producer, dairy))
        .to.be.revertedWithCustomError(registry, "IdentityGlnOutsidePrefixes")
        .withArgs(dairy, orgs.producer);
    });

    it("refuses a GLN under no licensed company prefix", async function () {
      const { registry, orgs, admins } = await loadFixture(identityFixture);
      const unlicensed = glnFor("7777777", 1);
      await expect(registry.connect(admins.producer).addLocation(orgs.producer, unlicensed))
        .to.be.revertedWithCustomError(registry, "IdentityGlnOutsidePrefixes")
        .withArgs(unlicensed, orgs.producer);
    });

    it("refuses a GLN already registered", async function () {
      const { registry, orgs, admins } = await loadFixture(identityFixture);
      await registry.connect(admins.producer).addLocation(orgs.producer, farm);
      await expect(registry.connect(admins.producer).addLocation(orgs.producer, farm))
        .to.be.revertedWithCustomError(registry, "IdentityGlnTaken")
        .withArgs(farm, orgs.producer);
    });
  });

  describe("removeLocation", function () {
    const farm = glnFor(PREFIX.producer, 1);
    const barn = glnFor(PREFIX.producer, 2);

    async function producerWithLocations() {
      const f = await loadFixture(identityFixture);
      await (await f.registry.connect(f.admins.producer).addLocation(f.orgs.producer, farm)).wait();
      await (await f.registry.connect(f.admins.producer).addLocation(f.orgs.producer, barn)).wait();
      return f;
    }

    it("lets an org admin remove one of its locations", async function () {
      const { registry, orgs, admins } = await loadFixture(producerWithLocations);
      await expect(registry.connect(admins.producer).removeLocation(orgs.producer, farm))
        .to.emit(registry, "LocationRemoved")
        .withArgs(orgs.producer, farm);
    });

    it("unlists the removed location and keeps the others", async function () {
      const { registry, orgs, admins } = await loadFixture(producerWithLocations);
      await registry.connect(admins.producer).removeLocation(orgs.producer, farm);
      expect(await registry.locations(orgs.producer)).to.deep.equal([barn]);
      expect(await registry.orgOfLocation(farm)).to.equal(0n);
    });

    it("lets a removed GLN be registered again", async function () {
      const { registry, orgs, admins } = await loadFixture(producerWithLocations);
      await registry.connect(admins.producer).removeLocation(orgs.producer, farm);
      await expect(registry.connect(admins.producer).addLocation(orgs.producer, farm))
        .to.emit(registry, "LocationAdded")
        .withArgs(orgs.producer, farm);
    });

    it("is refused to the admin of another organisation", async function () {
      const { registry, orgs, admins } = await loadFixture(producerWithLocations);
      await expect(registry.connect(admins.carrier).removeLocation(orgs.producer, farm))
        .to.be.revertedWithCustomError(registry, "IdentityNotOrgAdmin")
        .withArgs(admins.carrier.address, orgs.producer);
    });

    it("is refused to a wallet that is no agent", async function () {
      const { registry, orgs, outsider } = await loadFixture(producerWithLocations);
      await expect(registry.connect(outsider).removeLocation(orgs.producer, farm))
        .to.be.revertedWithCustomError(registry, "IdentityNotOrgAdmin")
        .withArgs(outsider.address, orgs.producer);
    });

    it("refuses a GLN the organisation has not registered", async function () {
      const { registry, orgs, admins } = await loadFixture(producerWithLocations);
      const unregistered = glnFor(PREFIX.producer, 3);
      await expect(registry.connect(admins.producer).removeLocation(orgs.producer, unregistered))
        .to.be.revertedWithCustomError(registry, "IdentityUnknownGln")
        .withArgs(unregistered, orgs.producer);
    });

    it("refuses a GLN registered by another organisation", async function () {
      const { registry, orgs, admins } = await loadFixture(producerWithLocations);
      await expect(registry.connect(admins.carrier).removeLocation(orgs.carrier, farm))
        .to.be.revertedWithCustomError(registry, "IdentityUnknownGln")
        .withArgs(farm, orgs.carrier);
    });
  });

  describe("effective roles", function () {
    async function processorWithBuyer() {
      const f = await loadFixture(identityFixture);
      const [agent] = f.spare;
      const roles = rolesToMask(["processor", "buyer"]);
      await bindAgent(f.registry, f.admins.processor, agent, f.orgs.processor, roles);
      return { ...f, agent };
    }

    it("are the roles set for an agent of an active organisation", async function () {
      const { registry, agent } = await loadFixture(processorWithBuyer);
      expect(await registry.effectiveRoles(agent.address)).to.equal(rolesToMask(["processor", "buyer"]));
    });

    it("are none for a wallet that is no agent", async function () {
      const { registry, outsider } = await loadFixture(processorWithBuyer);
      expect(await registry.effectiveRoles(outsider.address)).to.equal(0n);
    });

    it("shrink at once when governance narrows the organisation's allowed roles", async function () {
      const { registry, orgs, agent } = await loadFixture(processorWithBuyer);
      await registry.setAllowedRoles(orgs.processor, ROLE.processor);
      expect(await registry.effectiveRoles(agent.address)).to.equal(ROLE.processor);
    });

    it("refuse a role governance has withdrawn from the organisation", async function () {
      const { registry, orgs, agent } = await loadFixture(processorWithBuyer);
      await registry.setAllowedRoles(orgs.processor, ROLE.processor);
      await expect(registry.requireAgent(agent.address, ROLE.buyer))
        .to.be.revertedWithCustomError(registry, "IdentityUnauthorizedAgent")
        .withArgs(agent.address, ROLE.buyer);
    });

    it("come back when governance allows the role again", async function () {
      const { registry, orgs, agent } = await loadFixture(processorWithBuyer);
      await registry.setAllowedRoles(orgs.processor, ROLE.processor);
      await registry.setAllowedRoles(orgs.processor, rolesToMask(["processor", "buyer"]));
      expect(await registry.effectiveRoles(agent.address)).to.equal(rolesToMask(["processor", "buyer"]));
    });

    it("keep org-admin when governance withdraws every business role", async function () {
      const { registry, orgs, admins } = await loadFixture(processorWithBuyer);
      await registry.setAllowedRoles(orgs.processor, 0n);
      expect(await registry.effectiveRoles(admins.processor.address)).to.equal(ROLE["org-admin"]);
    });

    it("let requireAgent return the organisation of an agent holding one of the roles", async function () {
      const { registry, orgs, agent } = await loadFixture(processorWithBuyer);
      expect(await registry.requireAgent(agent.address, ROLE.buyer | ROLE.carrier)).to.equal(orgs.processor);
    });

    it("make requireAgent refuse an agent holding none of the roles", async function () {
      const { registry, agent } = await loadFixture(processorWithBuyer);
      await expect(registry.requireAgent(agent.address, ROLE.carrier))
        .to.be.revertedWithCustomError(registry, "IdentityUnauthorizedAgent")
        .withArgs(agent.address, ROLE.carrier);
    });

    it("make requireAgent refuse a wallet that is no agent", async function () {
      const { registry, outsider } = await loadFixture(processorWithBuyer);
      await expect(registry.requireAgent(outsider.address, ROLE.buyer))
        .to.be.revertedWithCustomError(registry, "IdentityUnauthorizedAgent")
        .withArgs(outsider.address, ROLE.buyer);
    });
  });
});
