import { expect } from "chai";
import { encodeBytes32String, keccak256, toUtf8Bytes, ZeroHash } from "ethers";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { ALLOWED, bindAgent, certifierFixture } from "../../helpers/identity-fixture";
import { ROLE } from "../../../services/chain/roles";

const ORGANIC = encodeBytes32String("ORGANIC");
const ISO14001 = encodeBytes32String("ISO14001");
const HALAL = encodeBytes32String("HALAL");
const CLAIM = keccak256(toUtf8Bytes("EU organic certificate DE-ÖKO-006-12345"));
const DAY = 86_400;
const YEAR = 365 * DAY;
const UNKNOWN_CREDENTIAL = 99n;

describe("CredentialRegistry", function () {
  /** The certifier organisation issues an ORGANIC credential to the producer, valid from 10 days on for a year. */
  async function issuedCredential() {
    const f = await loadFixture(certifierFixture);
    const validFrom = (await time.latest()) + 10 * DAY;
    const validUntil = validFrom + YEAR;
    await (
      await f.credentials.connect(f.certifierAgent).issueCredential(ORGANIC, f.orgs.producer, CLAIM, validFrom, validUntil)
    ).wait();
    return { ...f, credentialId: 1n, validFrom, validUntil };
  }

  describe("issueCredential", function () {
    it("lets a certifier issue a credential to another organisation", async function () {
      const { credentials, orgs, certifierAgent } = await loadFixture(certifierFixture);
      const validFrom = await time.latest();
      const validUntil = validFrom + YEAR;
      await expect(credentials.connect(certifierAgent).issueCredential(ORGANIC, orgs.producer, CLAIM, validFrom, validUntil))
        .to.emit(credentials, "CredentialIssued")
        .withArgs(1n, ORGANIC, orgs.producer, orgs.certifier, CLAIM, validFrom, validUntil, certifierAgent.address);
    });

    it("stores every field of the credential", async function () {
      const { credentials, orgs, certifierAgent, validFrom, validUntil } = await loadFixture(issuedCredential);
      const c = await credentials.credential(1n);
      expect([
        c.credentialType,
        c.issuerOrg,
        c.subjectOrg,
        c.validFrom,
        c.validUntil,
        c.revokedAt,
        c.claimHash,
        c.issuedBy,
      ]).to.deep.equal([
        ORGANIC,
        orgs.certifier,
        orgs.producer,
        BigInt(validFrom),
        BigInt(validUntil),
        0n,
        CLAIM,
        certifierAgent.address,
      ]);
    });

    it("numbers credentials sequentially and lists them by subject and type", async function () {
      const { credentials, orgs, secondCertifierAgent, validFrom, validUntil } = await loadFixture(issuedCredential);
      await credentials.connect(secondCertifierAgent).issueCredential(ORGANIC, orgs.producer, CLAIM, validFrom, validUntil);
      expect(await credentials.credentialCount()).to.equal(2n);
      expect(await credentials.credentialsOf(orgs.producer, ORGANIC)).to.deep.equal([1n, 2n]);
    });

    it("accepts a window that has already begun", async function () {
      const { credentials, orgs, certifierAgent } = await loadFixture(certifierFixture);
      const validFrom = (await time.latest()) - 30 * DAY;
      await expect(
        credentials.connect(certifierAgent).issueCredential(ISO14001, orgs.processor, CLAIM, validFrom, validFrom + YEAR),
      ).to.emit(credentials, "CredentialIssued");
    });

    it("is refused to an agent without the certifier role", async function () {
      const { registry, credentials, orgs, producerAgent } = await loadFixture(certifierFixture);
      const now = await time.latest();
      await expect(credentials.connect(producerAgent).issueCredential(ORGANIC, orgs.processor, CLAIM, now, now + YEAR))
        .to.be.revertedWithCustomError(registry, "IdentityUnauthorizedAgent")
        .withArgs(producerAgent.address, ROLE.certifier);
    });

    it("is refused to the certifier organisation's admin, who lacks the certifier role", async function () {
      const { registry, credentials, orgs, admins } = await loadFixture(certifierFixture);
      const now = await time.latest();
      await expect(credentials.connect(admins.certifier).issueCredential(ORGANIC, orgs.producer, CLAIM, now, now + YEAR))
        .to.be.revertedWithCustomError(registry, "IdentityUnauthorizedAgent")
        .withArgs(admins.certifier.address, ROLE.certifier);
    });

    it("is refused to a wallet that is no agent", async function () {
      const { registry, credentials, orgs, outsider } = await loadFixture(certifierFixture);
      const now = await time.latest();
      await expect(credentials.connect(outsider).issueCredential(ORGANIC, orgs.producer, CLAIM, now, now + YEAR))
        .to.be.revertedWithCustomError(registry, "IdentityUnauthorizedAgent")
        .withArgs(outsider.address, ROLE.certifier);
    });

    it("is refused to a certifier whose organisation governance no longer allows to certify", async function () {
      const { registry, credentials, orgs, certifierAgent } = await loadFixture(certifierFixture);
      await registry.setAllowedRoles(orgs.certifier, ROLE.auditor);
      const now = await time.latest();
      await expect(credentials.connect(certifierAgent).issueCredential(ORGANIC, orgs.producer, CLAIM, now, now + YEAR))
        .to.be.revertedWithCustomError(registry, "IdentityUnauthorizedAgent")
        .withArgs(certifierAgent.address, ROLE.certifier);
    });

    it("refuses a certifier certifying its own organisation", async function () {
      const { credentials, orgs, certifierAgent } = await loadFixture(certifierFixture);
      const now = await time.latest();
      await expect(credentials.connect(certifierAgent).issueCredential(ORGANIC, orgs.certifier, CLAIM, now, now + YEAR))
        .to.be.revertedWithCustomError(credentials, "CredentialSelfCertification")
        .withArgs(orgs.certifier);
    });

    it("refuses organisation id 0 as subject", async function () {
      const { credentials, certifierAgent } = await loadFixture(certifierFixture);
      const now = await time.latest();
      await expect(credentials.connect(certifierAgent).issueCredential(ORGANIC, 0n, CLAIM, now, now + YEAR))
        .to.be.revertedWithCustomError(credentials, "CredentialUnknownSubject")
        .withArgs(0n);
    });

    it("refuses a subject organisation that was never admitted", async function () {
      const { credentials, certifierAgent } = await loadFixture(certifierFixture);
      const now = await time.latest();
      await expect(credentials.connect(certifierAgent).issueCredential(ORGANIC, 99n, CLAIM, now, now + YEAR))
        .to.be.revertedWithCustomError(credentials, "CredentialUnknownSubject")
        .withArgs(99n);
    });

    it("refuses a window ending before it starts", async function () {
      const { credentials, orgs, certifierAgent } = await loadFixture(certifierFixture);
      const validFrom = (await time.latest()) + YEAR;
      const validUntil = validFrom - DAY;
      await expect(credentials.connect(certifierAgent).issueCredential(ORGANIC, orgs.producer, CLAIM, validFrom, validUntil))
        .to.be.revertedWithCustomError(credentials, "CredentialInvalidWindow")
        .withArgs(validFrom, validUntil);
    });

    it("refuses an empty window", async function () {
      const { credentials, orgs, certifierAgent } = await loadFixture(certifierFixture);
      const validFrom = (await time.latest()) + DAY;
      await expect(credentials.connect(certifierAgent).issueCredential(ORGANIC, orgs.producer, CLAIM, validFrom, validFrom))
        .to.be.revertedWithCustomError(credentials, "CredentialInvalidWindow")
        .withArgs(validFrom, validFrom);
    });

    it("refuses a window that has already ended", async function () {
      const { credentials, orgs, certifierAgent } = await loadFixture(certifierFixture);
      const validUntil = (await time.latest()) - DAY;
      const validFrom = validUntil - YEAR;
      await expect(credentials.connect(certifierAgent).issueCredential(ORGANIC, orgs.producer, CLAIM, validFrom, validUntil))
        .to.be.revertedWithCustomError(credentials, "CredentialInvalidWindow")
        .withArgs(validFrom, validUntil);
    });

    it("refuses an empty credential type", async function () {
      const { credentials, orgs, certifierAgent } = await loadFixture(certifierFixture);
      const now = await time.latest();
      await expect(
        credentials.connect(certifierAgent).issueCredential(ZeroHash, orgs.producer, CLAIM, now, now + YEAR),
      ).to.be.revertedWithCustomError(credentials, "CredentialEmptyType");
    });
  });

  describe("validity", function () {
    it("is false before the window opens", async function () {
      const { credentials, credentialId } = await loadFixture(issuedCredential);
      expect(await credentials.isValid(credentialId)).to.equal(false);
    });

    it("is true from the first second of the window", async function () {
      const { credentials, credentialId, validFrom } = await loadFixture(issuedCredential);
      await time.increaseTo(validFrom);
      expect(await credentials.isValid(credentialId)).to.equal(true);
    });

    it("is true until the last second before validUntil", async function () {
      const { credentials, credentialId, validUntil } = await loadFixture(issuedCredential);
      await time.increaseTo(validUntil - 1);
      expect(await credentials.isValid(credentialId)).to.equal(true);
    });

    it("is false from validUntil on", async function () {
      const { credentials, credentialId, validUntil } = await loadFixture(issuedCredential);
      await time.increaseTo(validUntil);
      expect(await credentials.isValid(credentialId)).to.equal(false);
    });

    it("is false for an unknown credential", async function () {
      const { credentials } = await loadFixture(issuedCredential);
      expect(await credentials.isValid(UNKNOWN_CREDENTIAL)).to.equal(false);
    });

    it("gives the subject a valid credential of the type within the window", async function () {
      const { credentials, orgs, validFrom } = await loadFixture(issuedCredential);
      await time.increaseTo(validFrom);
      expect(await credentials.hasValidCredential(orgs.producer, ORGANIC)).to.equal(true);
    });

    it("gives the subject no valid credential before the window opens", async function () {
      const { credentials, orgs } = await loadFixture(issuedCredential);
      expect(await credentials.hasValidCredential(orgs.producer, ORGANIC)).to.equal(false);
    });

    it("gives the subject no valid credential of another type", async function () {
      const { credentials, orgs, validFrom } = await loadFixture(issuedCredential);
      await time.increaseTo(validFrom);
      expect(await credentials.hasValidCredential(orgs.producer, ISO14001)).to.equal(false);
    });

    it("gives another organisation no valid credential", async function () {
      const { credentials, orgs, validFrom } = await loadFixture(issuedCredential);
      await time.increaseTo(validFrom);
      expect(await credentials.hasValidCredential(orgs.processor, ORGANIC)).to.equal(false);
    });

    it("finds an older credential still valid when a newer one has not yet begun", async function () {
      const { credentials, orgs, secondCertifierAgent, validFrom, validUntil } = await loadFixture(issuedCredential);
      await credentials
        .connect(secondCertifierAgent)
        .issueCredential(ORGANIC, orgs.producer, CLAIM, validUntil, validUntil + YEAR);
      await time.increaseTo(validFrom);
      expect(await credentials.hasValidCredential(orgs.producer, ORGANIC)).to.equal(true);
    });

    it("finds a renewal valid after the first credential has lapsed", async function () {
      const { credentials, orgs, certifierAgent, validUntil } = await loadFixture(issuedCredential);
      await credentials.connect(certifierAgent).issueCredential(ORGANIC, orgs.producer, CLAIM, validUntil, validUntil + YEAR);
      await time.increaseTo(validUntil);
      expect(await credentials.hasValidCredential(orgs.producer, ORGANIC)).to.equal(true);
    });

    it("gives the subject no valid credential once every one has lapsed", async function () {
      const { credentials, orgs, validUntil } = await loadFixture(issuedCredential);
      await time.increaseTo(validUntil);
      expect(await credentials.hasValidCredential(orgs.producer, ORGANIC)).to.equal(false);
    });
  });

  describe("revokeCredential", function () {
    it("lets the issuing certifier revoke a credential", async function () {
      const { credentials, orgs, certifierAgent, credentialId } = await loadFixture(issuedCredential);
      await expect(credentials.connect(certifierAgent).revokeCredential(credentialId, "non-conformity NC-2025-031"))
        .to.emit(credentials, "CredentialRevoked")
        .withArgs(credentialId, orgs.certifier, "non-conformity NC-2025-031", certifierAgent.address);
    });

    it("records the revocation time", async function () {
      const { credentials, certifierAgent, credentialId } = await loadFixture(issuedCredential);
      await time.setNextBlockTimestamp((await time.latest()) + DAY);
      await credentials.connect(certifierAgent).revokeCredential(credentialId, "non-conformity NC-2025-031");
      expect((await credentials.credential(credentialId)).revokedAt).to.equal(BigInt(await time.latest()));
    });

    it("makes a revoked credential invalid within its window", async function () {
      const { credentials, certifierAgent, credentialId, validFrom } = await loadFixture(issuedCredential);
      await time.increaseTo(validFrom);
      await credentials.connect(certifierAgent).revokeCredential(credentialId, "non-conformity NC-2025-031");
      expect(await credentials.isValid(credentialId)).to.equal(false);
    });

    it("leaves the subject no valid credential when its only one is revoked", async function () {
      const { credentials, orgs, certifierAgent, credentialId, validFrom } = await loadFixture(issuedCredential);
      await time.increaseTo(validFrom);
      await credentials.connect(certifierAgent).revokeCredential(credentialId, "non-conformity NC-2025-031");
      expect(await credentials.hasValidCredential(orgs.producer, ORGANIC)).to.equal(false);
    });

    it("lets another certifier of the issuing organisation revoke", async function () {
      const { credentials, registry, orgs, admins, spare, credentialId } = await loadFixture(issuedCredential);
      const [colleague] = spare;
      await bindAgent(registry, admins.certifier, colleague, orgs.certifier, ROLE.certifier);
      await expect(credentials.connect(colleague).revokeCredential(credentialId, "issuer left"))
        .to.emit(credentials, "CredentialRevoked")
        .withArgs(credentialId, orgs.certifier, "issuer left", colleague.address);
    });

    it("is refused to a certifier of another organisation", async function () {
      const { credentials, secondCertifierAgent, credentialId } = await loadFixture(issuedCredential);
      await expect(credentials.connect(secondCertifierAgent).revokeCredential(credentialId, "not ours"))
        .to.be.revertedWithCustomError(credentials, "CredentialNotIssuer")
        .withArgs(secondCertifierAgent.address, credentialId);
    });

    it("is refused to an agent of the issuing organisation without the certifier role", async function () {
      const { registry, credentials, admins, credentialId } = await loadFixture(issuedCredential);
      await expect(credentials.connect(admins.certifier).revokeCredential(credentialId, "admin"))
        .to.be.revertedWithCustomError(registry, "IdentityUnauthorizedAgent")
        .withArgs(admins.certifier.address, ROLE.certifier);
    });

    it("is refused to the subject organisation", async function () {
      const { registry, credentials, producerAgent, credentialId } = await loadFixture(issuedCredential);
      await expect(credentials.connect(producerAgent).revokeCredential(credentialId, "we disagree"))
        .to.be.revertedWithCustomError(registry, "IdentityUnauthorizedAgent")
        .withArgs(producerAgent.address, ROLE.certifier);
    });

    it("refuses a credential already revoked", async function () {
      const { credentials, certifierAgent, credentialId } = await loadFixture(issuedCredential);
      await credentials.connect(certifierAgent).revokeCredential(credentialId, "first");
      await expect(credentials.connect(certifierAgent).revokeCredential(credentialId, "second"))
        .to.be.revertedWithCustomError(credentials, "CredentialAlreadyRevoked")
        .withArgs(credentialId);
    });

    it("refuses an unknown credential", async function () {
      const { credentials, certifierAgent } = await loadFixture(issuedCredential);
      await expect(credentials.connect(certifierAgent).revokeCredential(UNKNOWN_CREDENTIAL, "unknown"))
        .to.be.revertedWithCustomError(credentials, "CredentialUnknown")
        .withArgs(UNKNOWN_CREDENTIAL);
    });
  });

  describe("setCertifierType", function () {
    it("lets governance allow a certifier organisation to issue a type", async function () {
      const { credentials, orgs, governor } = await loadFixture(certifierFixture);
      await expect(credentials.setCertifierType(orgs.certifier, HALAL, true))
        .to.emit(credentials, "CertifierTypeSet")
        .withArgs(orgs.certifier, HALAL, true, governor.address);
      expect(await credentials.mayIssue(orgs.certifier, HALAL)).to.equal(true);
    });

    it("refuses a certifier issuing a type governance has not allowed it", async function () {
      const { credentials, orgs, certifierAgent } = await loadFixture(certifierFixture);
      const now = await time.latest();
      await expect(credentials.connect(certifierAgent).issueCredential(HALAL, orgs.producer, CLAIM, now, now + YEAR))
        .to.be.revertedWithCustomError(credentials, "CredentialTypeNotAllowed")
        .withArgs(orgs.certifier, HALAL);
      expect(await credentials.credentialCount()).to.equal(0n);
      expect(await credentials.hasValidCredential(orgs.producer, HALAL)).to.equal(false);
    });

    it("refuses a certifier issuing a type governance has withdrawn from it", async function () {
      const { credentials, orgs, certifierAgent } = await loadFixture(certifierFixture);
      await credentials.setCertifierType(orgs.certifier, ORGANIC, false);
      const now = await time.latest();
      await expect(credentials.connect(certifierAgent).issueCredential(ORGANIC, orgs.producer, CLAIM, now, now + YEAR))
        .to.be.revertedWithCustomError(credentials, "CredentialTypeNotAllowed")
        .withArgs(orgs.certifier, ORGANIC);
    });

    it("refuses a certifier organisation's admin allowing itself a type", async function () {
      const { credentials, orgs, admins } = await loadFixture(certifierFixture);
      await expect(credentials.connect(admins.certifier).setCertifierType(orgs.certifier, HALAL, true))
        .to.be.revertedWithCustomError(credentials, "CredentialNotGovernor")
        .withArgs(admins.certifier.address);
      expect(await credentials.mayIssue(orgs.certifier, HALAL)).to.equal(false);
    });

    it("refuses an organisation that was never admitted", async function () {
      const { credentials } = await loadFixture(certifierFixture);
      await expect(credentials.setCertifierType(99n, HALAL, true))
        .to.be.revertedWithCustomError(credentials, "CredentialUnknownIssuer")
        .withArgs(99n);
    });

    it("leaves credentials issued before a withdrawal valid", async function () {
      const { credentials, orgs, validFrom, credentialId } = await loadFixture(issuedCredential);
      await credentials.setCertifierType(orgs.certifier, ORGANIC, false);
      await time.increaseTo(validFrom);
      expect(await credentials.isValid(credentialId)).to.equal(true);
    });
  });

  describe("revocation by governance", function () {
    it("lets governance revoke a credential whose issuer is suspended, which the issuer no longer can", async function () {
      const { registry, credentials, orgs, certifierAgent, governor, credentialId, validFrom } = await loadFixture(issuedCredential);
      await registry.suspendOrganisation(orgs.certifier, "accreditation withdrawn");
      await expect(credentials.connect(certifierAgent).revokeCredential(credentialId, "too late"))
        .to.be.revertedWithCustomError(registry, "IdentityUnauthorizedAgent")
        .withArgs(certifierAgent.address, ROLE.certifier);
      await expect(credentials.revokeCredential(credentialId, "issuer suspended"))
        .to.emit(credentials, "CredentialRevoked")
        .withArgs(credentialId, orgs.certifier, "issuer suspended", governor.address);
      await time.increaseTo(validFrom);
      expect(await credentials.hasValidCredential(orgs.producer, ORGANIC)).to.equal(false);
    });

    it("lets governance revoke a credential whose issuer is no longer allowed to certify", async function () {
      const { registry, credentials, orgs, credentialId } = await loadFixture(issuedCredential);
      await registry.setAllowedRoles(orgs.certifier, ROLE.auditor);
      await credentials.revokeCredential(credentialId, "no longer a certification body");
      expect((await credentials.credential(credentialId)).revokedAt).to.not.equal(0n);
    });

    it("refuses a rival certifier revoking another issuer's credential even while that issuer is suspended", async function () {
      const { registry, credentials, orgs, secondCertifierAgent, credentialId } = await loadFixture(issuedCredential);
      await registry.suspendOrganisation(orgs.certifier, "accreditation withdrawn");
      await expect(credentials.connect(secondCertifierAgent).revokeCredential(credentialId, "we take over"))
        .to.be.revertedWithCustomError(credentials, "CredentialNotIssuer")
        .withArgs(secondCertifierAgent.address, credentialId);
      expect((await credentials.credential(credentialId)).revokedAt).to.equal(0n);
    });
  });

  describe("bounded validity checks", function () {
    it("refuses a third live credential of one issuer for the same subject and type", async function () {
      const { credentials, orgs, certifierAgent, validFrom, validUntil } = await loadFixture(issuedCredential);
      await credentials.connect(certifierAgent).issueCredential(ORGANIC, orgs.producer, CLAIM, validUntil, validUntil + YEAR);
      await expect(credentials.connect(certifierAgent).issueCredential(ORGANIC, orgs.producer, CLAIM, validFrom, validUntil))
        .to.be.revertedWithCustomError(credentials, "CredentialTooManyLive")
        .withArgs(orgs.producer, ORGANIC, orgs.certifier, 2n);
    });

    it("keeps one certifier that filled its share from blocking another certifier", async function () {
      const { credentials, orgs, certifierAgent, secondCertifierAgent, validFrom, validUntil } = await loadFixture(issuedCredential);
      await credentials.connect(certifierAgent).issueCredential(ORGANIC, orgs.producer, CLAIM, validUntil, validUntil + YEAR);
      await expect(
        credentials.connect(secondCertifierAgent).issueCredential(ORGANIC, orgs.producer, CLAIM, validFrom, validUntil),
      ).to.emit(credentials, "CredentialIssued");
      expect(await credentials.liveCredentialsOf(orgs.producer, ORGANIC)).to.have.length(3);
    });

    it("prunes revoked and expired credentials from the live list on the next issue", async function () {
      const { credentials, orgs, certifierAgent, validFrom, validUntil, credentialId } = await loadFixture(issuedCredential);
      await credentials.connect(certifierAgent).issueCredential(ORGANIC, orgs.producer, CLAIM, validFrom, validFrom + DAY);
      await credentials.connect(certifierAgent).revokeCredential(credentialId, "replaced");
      await time.increaseTo(validFrom + DAY);
      await credentials.connect(certifierAgent).issueCredential(ORGANIC, orgs.producer, CLAIM, validFrom + DAY, validUntil);
      expect(await credentials.liveCredentialsOf(orgs.producer, ORGANIC)).to.deep.equal([3n]);
      expect(await credentials.credentialsOf(orgs.producer, ORGANIC)).to.deep.equal([1n, 2n, 3n]);
      expect(await credentials.hasValidCredential(orgs.producer, ORGANIC)).to.equal(true);
    });

    it("refuses a seventeenth live credential of one subject and type", async function () {
      const f = await loadFixture(certifierFixture);
      const { registry, credentials, orgs, certifierAgent, secondCertifierAgent, spare } = f;
      const now = await time.latest();
      const issuers = [certifierAgent, secondCertifierAgent];
      for (let i = 0; i < 7; i++) {
        const admin = spare[i];
        const args: [string, string[], string, bigint, string] = [`Certifier ${i}`, [`73200${i}1`], CLAIM, ALLOWED.certifier, admin.address];
        const orgId = await registry.admitOrganisation.staticCall(...args);
        await registry.admitOrganisation(...args);
        await registry.connect(admin).setAgent(admin.address, orgId, ROLE.certifier | ROLE["org-admin"], 0);
        await credentials.setCertifierType(orgId, ORGANIC, true);
        issuers.push(admin);
      }
      const ninth = issuers.pop()!;
      for (const issuer of issuers) {
        for (let k = 0; k < 2; k++) {
          await credentials.connect(issuer).issueCredential(ORGANIC, orgs.producer, CLAIM, now, now + YEAR);
        }
      }
      expect(await credentials.liveCredentialsOf(orgs.producer, ORGANIC)).to.have.length(16);
      const ninthOrg = (await registry.agent(ninth.address)).orgId;
      await expect(credentials.connect(ninth).issueCredential(ORGANIC, orgs.producer, CLAIM, now, now + YEAR))
        .to.be.revertedWithCustomError(credentials, "CredentialTooManyLive")
        .withArgs(orgs.producer, ORGANIC, ninthOrg, 16n);
    });
  });

  describe("credential", function () {
    it("refuses to return an unknown credential", async function () {
      const { credentials } = await loadFixture(issuedCredential);
      await expect(credentials.credential(UNKNOWN_CREDENTIAL))
        .to.be.revertedWithCustomError(credentials, "CredentialUnknown")
        .withArgs(UNKNOWN_CREDENTIAL);
    });

    it("refuses to return credential id 0", async function () {
      const { credentials } = await loadFixture(issuedCredential);
      await expect(credentials.credential(0n)).to.be.revertedWithCustomError(credentials, "CredentialUnknown").withArgs(0n);
    });
  });
});
