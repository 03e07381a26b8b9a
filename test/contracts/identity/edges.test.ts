import { expect } from "chai";
import hre from "hardhat";
import { encodeBytes32String, toBeHex, zeroPadValue, ZeroHash } from "ethers";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { glnFor, identityFixture, PREFIX } from "../../helpers/identity-fixture";
import { ROLE } from "../../../services/chain/roles";

/**
 * Identity rules the main registry tests leave out (found by `npm run coverage`,
 * docs/reliability.md).
 */

/** ConsortiumRegistry's `_orgCount`: the first slot after AccessControl's role mapping (slot 0). */
const ORG_COUNT_SLOT = toBeHex(1, 32);
const MAX_ORG_ID = 2n ** 32n - 1n;

describe("ConsortiumRegistry and CredentialRegistry edge cases", function () {
  it("refuses an organisation beyond id 2^32 − 1, so other contracts may pack ids in 32 bits", async function () {
    const { registry, governor } = await loadFixture(identityFixture);
    const address = await registry.getAddress();
    // Checked against the contract's own count before it is moved on (4 billion admissions would take as many transactions).
    expect(BigInt(await hre.ethers.provider.getStorage(address, ORG_COUNT_SLOT)), "_orgCount slot").to.equal(await registry.organisationCount());
    await hre.network.provider.send("hardhat_setStorageAt", [address, ORG_COUNT_SLOT, zeroPadValue(toBeHex(MAX_ORG_ID - 1n), 32)]);
    await expect(registry.connect(governor).admitOrganisation("Last Member", [], ZeroHash, ROLE.carrier, hre.ethers.ZeroAddress))
      .to.emit(registry, "OrganisationAdmitted")
      .withArgs(MAX_ORG_ID, "Last Member", ZeroHash, ROLE.carrier);
    await expect(registry.connect(governor).admitOrganisation("One Too Many", [], ZeroHash, ROLE.carrier, hre.ethers.ZeroAddress))
      .to.be.revertedWithCustomError(registry, "IdentityOrganisationLimit")
      .withArgs(MAX_ORG_ID);
  });

  it("withdraws a company prefix while the organisation keeps a location under its other prefix", async function () {
    const { registry, governor, admins, orgs } = await loadFixture(identityFixture);
    const gln = glnFor(PREFIX.producer, 1);
    await registry.connect(governor).addCompanyPrefix(orgs.producer, "4099999");
    await registry.connect(admins.producer).addLocation(orgs.producer, gln);
    await expect(registry.connect(governor).removeCompanyPrefix(orgs.producer, "4099999"))
      .to.emit(registry, "CompanyPrefixRemoved")
      .withArgs(orgs.producer, "4099999");
    expect([await registry.companyPrefixes(orgs.producer), await registry.orgOfLocation(gln)]).to.deep.equal([[PREFIX.producer], orgs.producer]);
  });

  it("refuses a shorter prefix that a later-admitted organisation's prefix extends, naming that organisation", async function () {
    const { registry, governor, orgs } = await loadFixture(identityFixture);
    // "8712" heads the carrier's 8712345; the producer's and processor's prefixes come first in the walk.
    await expect(registry.connect(governor).addCompanyPrefix(orgs.certifier, "8712"))
      .to.be.revertedWithCustomError(registry, "IdentityCompanyPrefixTaken")
      .withArgs("8712", orgs.carrier);
  });

  it("refuses an acceptance naming the proposed roles with another expiry", async function () {
    const { registry, admins, orgs, spare } = await loadFixture(identityFixture);
    const [wallet] = spare;
    const expiresAt = BigInt(await time.latest()) + 30n * 24n * 3600n;
    await registry.connect(admins.carrier).setAgent(wallet.address, orgs.carrier, ROLE.carrier, expiresAt);
    await expect(registry.connect(wallet).acceptAgent(orgs.carrier, ROLE.carrier, 0))
      .to.be.revertedWithCustomError(registry, "IdentityAgentProposalMismatch")
      .withArgs(wallet.address, orgs.carrier, ROLE.carrier, expiresAt);
    expect((await registry.agent(wallet.address)).orgId).to.equal(0n);
  });

  it("refuses allowing the empty credential type or an organisation id 0 to certify", async function () {
    const { credentials, governor, orgs } = await loadFixture(identityFixture);
    await expect(credentials.connect(governor).setCertifierType(orgs.certifier, ZeroHash, true)).to.be.revertedWithCustomError(credentials, "CredentialEmptyType");
    await expect(credentials.connect(governor).setCertifierType(0, encodeBytes32String("ORGANIC"), true))
      .to.be.revertedWithCustomError(credentials, "CredentialUnknownIssuer")
      .withArgs(0);
  });
});
