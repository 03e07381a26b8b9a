import hre from "hardhat";
import { expect } from "chai";
import { keccak256, toUtf8Bytes, ZeroAddress } from "ethers";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { ALLOWED, glnFor, identityFixture, PREFIX, type IdentityFixture } from "../../helpers/identity-fixture";
import { ROLE, rolesToMask } from "../../../services/chain/roles";

const ORG_STATUS = { None: 0n, Active: 1n, Suspended: 2n } as const;
const NEW_ORG = {
  name: "Alpenmilch Kooperative",
  prefix: "9012345",
  metadata: keccak256(toUtf8Bytes("Alpenmilch Kooperative eG, Innsbruck")),
  allowed: rolesToMask(["producer", "processor"]),
};
const UNKNOWN_ORG = 99n;
const UNDEFINED_ROLE_BIT = 1n << 10n;

describe("ConsortiumRegistry governance", function () {
  describe("admitOrganisation", function () {
    /** Admits a fifth organisation whose first admin is the first spare account. */
    function admitNew(f: IdentityFixture) {
      const [newAdmin] = f.spare;
      const tx = f.registry.admitOrganisation(
        NEW_ORG.name,
        [NEW_ORG.prefix],
        NEW_ORG.metadata,
        NEW_ORG.allowed,
        newAdmin.address,
      );
      return { newAdmin, tx };
    }

    it("numbers organisations sequentially from 1", async function () {
      const { orgs, registry } = await loadFixture(identityFixture);
      expect([orgs.producer, orgs.processor, orgs.carrier, orgs.certifier]).to.deep.equal([1n, 2n, 3n, 4n]);
      expect(await registry.organisationCount()).to.equal(4n);
    });

    it("emits OrganisationAdmitted with the name, metadata hash and allowed roles", async function () {
      const f = await loadFixture(identityFixture);
      const { registry } = f;
      const { tx } = admitNew(f);
      await expect(tx).to.emit(registry, "OrganisationAdmitted").withArgs(5n, NEW_ORG.name, NEW_ORG.metadata, NEW_ORG.allowed);
    });

    it("stores the organisation as active with its admission time", async function () {
      const f = await loadFixture(identityFixture);
      const { registry } = f;
      const { tx } = admitNew(f);
      const receipt = await (await tx).wait();
      const block = await hre.ethers.provider.getBlock(receipt!.blockNumber);
      const org = await registry.organisation(5n);
      expect(org.name).to.equal(NEW_ORG.name);
      expect(org.metadataHash).to.equal(NEW_ORG.metadata);
      expect(org.status).to.equal(ORG_STATUS.Active);
      expect(org.allowedRoles).to.equal(NEW_ORG.allowed);
      expect(org.admittedAt).to.equal(BigInt(block!.timestamp));
    });

    it("licenses the given company prefixes to the new organisation", async function () {
      const f = await loadFixture(identityFixture);
      const { registry } = f;
      const { tx } = admitNew(f);
      await expect(tx).to.emit(registry, "CompanyPrefixAdded").withArgs(5n, NEW_ORG.prefix, 7);
      expect(await registry.companyPrefixes(5n)).to.deep.equal([NEW_ORG.prefix]);
      expect(await registry.orgOfCompanyPrefix(NEW_ORG.prefix)).to.equal(5n);
    });

    it("binds the first admin to the new organisation as org admin, attributed to the governor", async function () {
      const f = await loadFixture(identityFixture);
      const { registry, governor } = f;
      const { tx, newAdmin } = admitNew(f);
      await expect(tx).to.emit(registry, "AgentSet").withArgs(newAdmin.address, 5n, ROLE["org-admin"], 0n, governor.address);
      const agent = await registry.agent(newAdmin.address);
      expect([agent.orgId, agent.roles, agent.expiresAt]).to.deep.equal([5n, ROLE["org-admin"], 0n]);
    });

    it("admits an organisation without an admin when the first admin is the zero address", async function () {
      const { registry } = await loadFixture(identityFixture);
      await expect(registry.admitOrganisation(NEW_ORG.name, [NEW_ORG.prefix], NEW_ORG.metadata, NEW_ORG.allowed, ZeroAddress))
        .to.emit(registry, "OrganisationAdmitted")
        .and.not.to.emit(registry, "AgentSet");
    });

    it("admits an organisation with no company prefix", async function () {
      const { registry } = await loadFixture(identityFixture);
      await registry.admitOrganisation(NEW_ORG.name, [], NEW_ORG.metadata, NEW_ORG.allowed, ZeroAddress);
      expect(await registry.companyPrefixes(5n)).to.deep.equal([]);
    });

    it("is refused to an account without the governor role", async function () {
      const { registry, outsider, GOVERNOR_ROLE } = await loadFixture(identityFixture);
      await expect(
        registry
          .connect(outsider)
          .admitOrganisation(NEW_ORG.name, [NEW_ORG.prefix], NEW_ORG.metadata, NEW_ORG.allowed, ZeroAddress),
      )
        .to.be.revertedWithCustomError(registry, "AccessControlUnauthorizedAccount")
        .withArgs(outsider.address, GOVERNOR_ROLE);
    });

    it("is refused to an org admin", async function () {
      const { registry, admins, GOVERNOR_ROLE } = await loadFixture(identityFixture);
      await expect(
        registry
          .connect(admins.producer)
          .admitOrganisation(NEW_ORG.name, [NEW_ORG.prefix], NEW_ORG.metadata, NEW_ORG.allowed, ZeroAddress),
      )
        .to.be.revertedWithCustomError(registry, "AccessControlUnauthorizedAccount")
        .withArgs(admins.producer.address, GOVERNOR_ROLE);
    });

    it("refuses an empty name", async function () {
      const { registry } = await loadFixture(identityFixture);
      await expect(
        registry.admitOrganisation("", [NEW_ORG.prefix], NEW_ORG.metadata, NEW_ORG.allowed, ZeroAddress),
      ).to.be.revertedWithCustomError(registry, "IdentityEmptyName");
    });

    it("refuses allowed roles with a bit outside the defined roles", async function () {
      const { registry } = await loadFixture(identityFixture);
      const roles = ROLE.producer | UNDEFINED_ROLE_BIT;
      await expect(registry.admitOrganisation(NEW_ORG.name, [NEW_ORG.prefix], NEW_ORG.metadata, roles, ZeroAddress))
        .to.be.revertedWithCustomError(registry, "IdentityInvalidRoles")
        .withArgs(roles);
    });

    it("refuses a company prefix already held by another organisation", async function () {
      const { registry, orgs } = await loadFixture(identityFixture);
      await expect(registry.admitOrganisation(NEW_ORG.name, [PREFIX.producer], NEW_ORG.metadata, NEW_ORG.allowed, ZeroAddress))
        .to.be.revertedWithCustomError(registry, "IdentityCompanyPrefixTaken")
        .withArgs(PREFIX.producer, orgs.producer);
    });

    it("refuses the same company prefix listed twice", async function () {
      const { registry } = await loadFixture(identityFixture);
      await expect(
        registry.admitOrganisation(
          NEW_ORG.name,
          [NEW_ORG.prefix, NEW_ORG.prefix],
          NEW_ORG.metadata,
          NEW_ORG.allowed,
          ZeroAddress,
        ),
      )
        .to.be.revertedWithCustomError(registry, "IdentityCompanyPrefixTaken")
        .withArgs(NEW_ORG.prefix, 5n);
    });

    it("admits an organisation whose first admin is an agent of another organisation, offering it the binding", async function () {
      const { registry, admins, orgs, governor } = await loadFixture(identityFixture);
      await expect(
        registry.admitOrganisation(NEW_ORG.name, [NEW_ORG.prefix], NEW_ORG.metadata, NEW_ORG.allowed, admins.producer.address),
      )
        .to.emit(registry, "AgentProposed")
        .withArgs(admins.producer.address, 5n, ROLE["org-admin"], 0n, governor.address);
      expect((await registry.agent(admins.producer.address)).orgId).to.equal(orgs.producer);
      expect((await registry.organisation(5n)).status).to.equal(1n);
    });
  });

  describe("setAllowedRoles", function () {
    it("lets the governor change the roles an organisation may hold", async function () {
      const { registry, orgs } = await loadFixture(identityFixture);
      const roles = rolesToMask(["producer", "receiver"]);
      await expect(registry.setAllowedRoles(orgs.producer, roles))
        .to.emit(registry, "AllowedRolesChanged")
        .withArgs(orgs.producer, roles);
      expect((await registry.organisation(orgs.producer)).allowedRoles).to.equal(roles);
    });

    it("is refused to an account without the governor role", async function () {
      const { registry, orgs, admins, GOVERNOR_ROLE } = await loadFixture(identityFixture);
      await expect(registry.connect(admins.producer).setAllowedRoles(orgs.producer, ALLOWED.carrier))
        .to.be.revertedWithCustomError(registry, "AccessControlUnauthorizedAccount")
        .withArgs(admins.producer.address, GOVERNOR_ROLE);
    });

    it("refuses an unknown organisation", async function () {
      const { registry } = await loadFixture(identityFixture);
      await expect(registry.setAllowedRoles(UNKNOWN_ORG, ALLOWED.carrier))
        .to.be.revertedWithCustomError(registry, "IdentityUnknownOrganisation")
        .withArgs(UNKNOWN_ORG);
    });

    it("refuses a bit outside the defined roles", async function () {
      const { registry, orgs } = await loadFixture(identityFixture);
      await expect(registry.setAllowedRoles(orgs.producer, UNDEFINED_ROLE_BIT))
        .to.be.revertedWithCustomError(registry, "IdentityInvalidRoles")
        .withArgs(UNDEFINED_ROLE_BIT);
    });
  });

  describe("suspendOrganisation", function () {
    it("lets the governor suspend an organisation with a reason", async function () {
      const { registry, orgs } = await loadFixture(identityFixture);
      await expect(registry.suspendOrganisation(orgs.carrier, "audit finding 2024-17"))
        .to.emit(registry, "OrganisationSuspended")
        .withArgs(orgs.carrier, "audit finding 2024-17");
    });

    it("marks the suspended organisation inactive", async function () {
      const { registry, orgs } = await loadFixture(identityFixture);
      await registry.suspendOrganisation(orgs.carrier, "audit finding 2024-17");
      expect(await registry.isOrganisationActive(orgs.carrier)).to.equal(false);
      expect((await registry.organisation(orgs.carrier)).status).to.equal(ORG_STATUS.Suspended);
    });

    it("is refused to an account without the governor role", async function () {
      const { registry, orgs, outsider, GOVERNOR_ROLE } = await loadFixture(identityFixture);
      await expect(registry.connect(outsider).suspendOrganisation(orgs.carrier, "no reason"))
        .to.be.revertedWithCustomError(registry, "AccessControlUnauthorizedAccount")
        .withArgs(outsider.address, GOVERNOR_ROLE);
    });

    it("refuses an organisation that is already suspended", async function () {
      const { registry, orgs } = await loadFixture(identityFixture);
      await registry.suspendOrganisation(orgs.carrier, "audit finding 2024-17");
      await expect(registry.suspendOrganisation(orgs.carrier, "again"))
        .to.be.revertedWithCustomError(registry, "IdentityOrganisationSuspended")
        .withArgs(orgs.carrier);
    });

    it("refuses an unknown organisation", async function () {
      const { registry } = await loadFixture(identityFixture);
      await expect(registry.suspendOrganisation(UNKNOWN_ORG, "unknown"))
        .to.be.revertedWithCustomError(registry, "IdentityUnknownOrganisation")
        .withArgs(UNKNOWN_ORG);
    });
  });

  describe("reinstateOrganisation", function () {
    async function suspendedCarrier() {
      const f = await loadFixture(identityFixture);
      await (await f.registry.suspendOrganisation(f.orgs.carrier, "audit finding 2024-17")).wait();
      return f;
    }

    it("lets the governor lift a suspension", async function () {
      const { registry, orgs } = await loadFixture(suspendedCarrier);
      await expect(registry.reinstateOrganisation(orgs.carrier))
        .to.emit(registry, "OrganisationReinstated")
        .withArgs(orgs.carrier);
      expect(await registry.isOrganisationActive(orgs.carrier)).to.equal(true);
    });

    it("is refused to an account without the governor role", async function () {
      const { registry, orgs, admins, GOVERNOR_ROLE } = await loadFixture(suspendedCarrier);
      await expect(registry.connect(admins.carrier).reinstateOrganisation(orgs.carrier))
        .to.be.revertedWithCustomError(registry, "AccessControlUnauthorizedAccount")
        .withArgs(admins.carrier.address, GOVERNOR_ROLE);
    });

    it("refuses an organisation that is not suspended", async function () {
      const { registry, orgs } = await loadFixture(suspendedCarrier);
      await expect(registry.reinstateOrganisation(orgs.producer))
        .to.be.revertedWithCustomError(registry, "IdentityOrganisationNotSuspended")
        .withArgs(orgs.producer);
    });

    it("refuses an unknown organisation", async function () {
      const { registry } = await loadFixture(suspendedCarrier);
      await expect(registry.reinstateOrganisation(UNKNOWN_ORG))
        .to.be.revertedWithCustomError(registry, "IdentityUnknownOrganisation")
        .withArgs(UNKNOWN_ORG);
    });
  });

  describe("addCompanyPrefix", function () {
    it("lets the governor license a further prefix, reporting its length", async function () {
      const { registry, orgs } = await loadFixture(identityFixture);
      await expect(registry.addCompanyPrefix(orgs.producer, "40987654"))
        .to.emit(registry, "CompanyPrefixAdded")
        .withArgs(orgs.producer, "40987654", 8);
      expect(await registry.companyPrefixes(orgs.producer)).to.deep.equal([PREFIX.producer, "40987654"]);
      expect(await registry.orgOfCompanyPrefix("40987654")).to.equal(orgs.producer);
    });

    it("accepts the shortest allowed prefix of 4 digits", async function () {
      const { registry, orgs } = await loadFixture(identityFixture);
      await expect(registry.addCompanyPrefix(orgs.producer, "0614"))
        .to.emit(registry, "CompanyPrefixAdded")
        .withArgs(orgs.producer, "0614", 4);
    });

    it("accepts the longest allowed prefix of 12 digits", async function () {
      const { registry, orgs } = await loadFixture(identityFixture);
      await expect(registry.addCompanyPrefix(orgs.producer, "061414000001"))
        .to.emit(registry, "CompanyPrefixAdded")
        .withArgs(orgs.producer, "061414000001", 12);
    });

    it("is refused to an account without the governor role", async function () {
      const { registry, orgs, admins, GOVERNOR_ROLE } = await loadFixture(identityFixture);
      await expect(registry.connect(admins.producer).addCompanyPrefix(orgs.producer, "40987654"))
        .to.be.revertedWithCustomError(registry, "AccessControlUnauthorizedAccount")
        .withArgs(admins.producer.address, GOVERNOR_ROLE);
    });

    it("refuses an unknown organisation", async function () {
      const { registry } = await loadFixture(identityFixture);
      await expect(registry.addCompanyPrefix(UNKNOWN_ORG, "40987654"))
        .to.be.revertedWithCustomError(registry, "IdentityUnknownOrganisation")
        .withArgs(UNKNOWN_ORG);
    });

    for (const [why, prefix] of [
      ["a letter", "40A2345"],
      ["a space", "4012 45"],
      ["a sign", "-401234"],
      ["only 3 digits", "401"],
      ["13 digits", "4012345678901"],
      ["nothing", ""],
    ] as const) {
      it(`refuses a prefix with ${why}`, async function () {
        const { registry, orgs } = await loadFixture(identityFixture);
        await expect(registry.addCompanyPrefix(orgs.producer, prefix))
          .to.be.revertedWithCustomError(registry, "IdentityInvalidCompanyPrefix")
          .withArgs(prefix);
      });
    }

    it("refuses a prefix held by another organisation", async function () {
      const { registry, orgs } = await loadFixture(identityFixture);
      await expect(registry.addCompanyPrefix(orgs.carrier, PREFIX.processor))
        .to.be.revertedWithCustomError(registry, "IdentityCompanyPrefixTaken")
        .withArgs(PREFIX.processor, orgs.processor);
    });

    it("refuses a prefix the organisation already holds", async function () {
      const { registry, orgs } = await loadFixture(identityFixture);
      await expect(registry.addCompanyPrefix(orgs.producer, PREFIX.producer))
        .to.be.revertedWithCustomError(registry, "IdentityCompanyPrefixTaken")
        .withArgs(PREFIX.producer, orgs.producer);
    });

    it("refuses a prefix that extends a shorter prefix already held", async function () {
      const { registry, orgs } = await loadFixture(identityFixture);
      await expect(registry.addCompanyPrefix(orgs.carrier, `${PREFIX.producer}8`))
        .to.be.revertedWithCustomError(registry, "IdentityCompanyPrefixTaken")
        .withArgs(`${PREFIX.producer}8`, orgs.producer);
    });

    it("refuses a prefix that a longer prefix already held extends", async function () {
      const { registry, orgs } = await loadFixture(identityFixture);
      await expect(registry.addCompanyPrefix(orgs.carrier, "40123"))
        .to.be.revertedWithCustomError(registry, "IdentityCompanyPrefixTaken")
        .withArgs("40123", orgs.producer);
    });

    it("accepts a prefix sharing leading digits with a held one when neither starts the other", async function () {
      const { registry, orgs } = await loadFixture(identityFixture);
      await expect(registry.addCompanyPrefix(orgs.carrier, "4012399"))
        .to.emit(registry, "CompanyPrefixAdded")
        .withArgs(orgs.carrier, "4012399", 7);
    });
  });

  describe("removeCompanyPrefix", function () {
    async function producerWithThreePrefixes() {
      const f = await loadFixture(identityFixture);
      await (await f.registry.addCompanyPrefix(f.orgs.producer, "40987654")).wait();
      await (await f.registry.addCompanyPrefix(f.orgs.producer, "4055555")).wait();
      return f;
    }

    it("lets the governor withdraw a prefix", async function () {
      const { registry, orgs } = await loadFixture(producerWithThreePrefixes);
      await expect(registry.removeCompanyPrefix(orgs.producer, "40987654"))
        .to.emit(registry, "CompanyPrefixRemoved")
        .withArgs(orgs.producer, "40987654");
      expect(await registry.orgOfCompanyPrefix("40987654")).to.equal(0n);
    });

    it("keeps the organisation's other prefixes listed", async function () {
      const { registry, orgs } = await loadFixture(producerWithThreePrefixes);
      await registry.removeCompanyPrefix(orgs.producer, PREFIX.producer);
      expect([...(await registry.companyPrefixes(orgs.producer))].sort()).to.deep.equal(["4055555", "40987654"]);
    });

    it("keeps the list consistent when prefixes are withdrawn one after another", async function () {
      const { registry, orgs } = await loadFixture(producerWithThreePrefixes);
      await registry.removeCompanyPrefix(orgs.producer, PREFIX.producer);
      await registry.removeCompanyPrefix(orgs.producer, "4055555");
      expect(await registry.companyPrefixes(orgs.producer)).to.deep.equal(["40987654"]);
    });

    it("lets a withdrawn prefix be licensed to another organisation", async function () {
      const { registry, orgs } = await loadFixture(producerWithThreePrefixes);
      await registry.removeCompanyPrefix(orgs.producer, "40987654");
      await registry.addCompanyPrefix(orgs.carrier, "40987654");
      expect(await registry.orgOfCompanyPrefix("40987654")).to.equal(orgs.carrier);
    });

    it("lets a shorter prefix be licensed once the longer one it starts is withdrawn", async function () {
      const { registry, orgs } = await loadFixture(identityFixture);
      await registry.removeCompanyPrefix(orgs.producer, PREFIX.producer);
      await expect(registry.addCompanyPrefix(orgs.carrier, "40123"))
        .to.emit(registry, "CompanyPrefixAdded")
        .withArgs(orgs.carrier, "40123", 5);
    });

    it("is refused while one of the organisation's GLNs lies under the prefix", async function () {
      const { registry, orgs, admins } = await loadFixture(producerWithThreePrefixes);
      const gln = glnFor("4055555", 7);
      await registry.connect(admins.producer).addLocation(orgs.producer, gln);
      await expect(registry.removeCompanyPrefix(orgs.producer, "4055555"))
        .to.be.revertedWithCustomError(registry, "IdentityCompanyPrefixInUse")
        .withArgs("4055555", gln);
    });

    it("is allowed once the GLNs under the prefix are removed", async function () {
      const { registry, orgs, admins } = await loadFixture(producerWithThreePrefixes);
      const gln = glnFor("4055555", 7);
      await registry.connect(admins.producer).addLocation(orgs.producer, gln);
      await registry.connect(admins.producer).removeLocation(orgs.producer, gln);
      await expect(registry.removeCompanyPrefix(orgs.producer, "4055555")).to.emit(registry, "CompanyPrefixRemoved");
    });

    it("is refused to an account without the governor role", async function () {
      const { registry, orgs, admins, GOVERNOR_ROLE } = await loadFixture(identityFixture);
      await expect(registry.connect(admins.producer).removeCompanyPrefix(orgs.producer, PREFIX.producer))
        .to.be.revertedWithCustomError(registry, "AccessControlUnauthorizedAccount")
        .withArgs(admins.producer.address, GOVERNOR_ROLE);
    });

    it("refuses a prefix held by another organisation", async function () {
      const { registry, orgs } = await loadFixture(identityFixture);
      await expect(registry.removeCompanyPrefix(orgs.carrier, PREFIX.producer))
        .to.be.revertedWithCustomError(registry, "IdentityUnknownCompanyPrefix")
        .withArgs(PREFIX.producer, orgs.carrier);
    });

    it("refuses a prefix nobody holds", async function () {
      const { registry, orgs } = await loadFixture(identityFixture);
      await expect(registry.removeCompanyPrefix(orgs.producer, "7777777"))
        .to.be.revertedWithCustomError(registry, "IdentityUnknownCompanyPrefix")
        .withArgs("7777777", orgs.producer);
    });

    it("refuses organisation id 0 for a prefix nobody holds", async function () {
      const { registry } = await loadFixture(identityFixture);
      await expect(registry.removeCompanyPrefix(0n, "7777777"))
        .to.be.revertedWithCustomError(registry, "IdentityUnknownCompanyPrefix")
        .withArgs("7777777", 0n);
    });
  });

  describe("views", function () {
    it("resolves a GTIN body to the organisation holding its prefix and the prefix length", async function () {
      const { registry, orgs } = await loadFixture(identityFixture);
      const [orgId, length] = await registry.orgOfKey(`${PREFIX.processor}000427`);
      expect([orgId, length]).to.deep.equal([orgs.processor, 7n]);
    });

    it("resolves a key under no licensed prefix to organisation 0", async function () {
      const { registry } = await loadFixture(identityFixture);
      const [orgId, length] = await registry.orgOfKey("7777777000427");
      expect([orgId, length]).to.deep.equal([0n, 0n]);
    });

    it("refuses to return an unknown organisation", async function () {
      const { registry } = await loadFixture(identityFixture);
      await expect(registry.organisation(UNKNOWN_ORG))
        .to.be.revertedWithCustomError(registry, "IdentityUnknownOrganisation")
        .withArgs(UNKNOWN_ORG);
    });
  });

  describe("governor role administration", function () {
    it("lets the governor hand the governor role to another account", async function () {
      const { registry, outsider, GOVERNOR_ROLE } = await loadFixture(identityFixture);
      await registry.grantRole(GOVERNOR_ROLE, outsider.address);
      await expect(registry.connect(outsider).setAllowedRoles(1n, ALLOWED.producer)).to.emit(registry, "AllowedRolesChanged");
    });
  });
});
