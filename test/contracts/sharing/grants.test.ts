import { expect } from "chai";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { connectLotline } from "../../../services/chain/deploy";
import { bindAgent, identityFixture } from "../../helpers/identity-fixture";

/** Mirrors SharingRegistry's record classes and ISharingRegistry.ScopeKind. */
const CLASS = { EPCIS: 1, PRODUCTION_RUN: 2, ORDER_TERMS: 4, ALL: 7 } as const;
const Scope = { All: 0, Gtin: 1, Lot: 2 } as const;
const ZERO = "0x" + "00".repeat(32);
const DAY = 86_400;

describe("SharingRegistry: grants of read access and node URLs", function () {
  async function fixture() {
    const base = await loadFixture(identityFixture);
    const { sharing } = connectLotline(base.record, base.governor);
    const now = await time.latest();
    return { ...base, sharing, now };
  }

  describe("grant", function () {
    it("records a grant from the org admin's own organisation, with its classes, scope and expiry", async function () {
      const { sharing, orgs, admins, now } = await loadFixture(fixture);
      const lot = "0x" + "ab".repeat(32);
      await expect(sharing.connect(admins.producer).grant(orgs.processor, CLASS.PRODUCTION_RUN, Scope.Lot, lot, now + 30 * DAY))
        .to.emit(sharing, "GrantIssued")
        .withArgs(1n, orgs.producer, orgs.processor, CLASS.PRODUCTION_RUN, Scope.Lot, lot, now + 30 * DAY, admins.producer.address);
      const g = await sharing.grantOf(1);
      expect([g.grantor, g.grantee, g.classes, g.scopeKind, g.scope, g.expiresAt, g.revokedAt]).to.deep.equal([
        orgs.producer,
        orgs.processor,
        BigInt(CLASS.PRODUCTION_RUN),
        BigInt(Scope.Lot),
        lot,
        BigInt(now + 30 * DAY),
        0n,
      ]);
      expect(await sharing.isInForce(1)).to.equal(true);
      expect(await sharing.grantCount()).to.equal(1n);
    });

    it("attack: an org admin cannot share another organisation's records — the grantor is always its own", async function () {
      const { sharing, orgs, admins, now } = await loadFixture(fixture);
      // There is no grantor parameter: the processor's admin granting lands as the processor's grant.
      await (await sharing.connect(admins.processor).grant(orgs.carrier, CLASS.ALL, Scope.All, ZERO, now + DAY)).wait();
      expect((await sharing.grantOf(1)).grantor).to.equal(orgs.processor);
    });

    it("attack: an agent without the org-admin role cannot grant its organisation's records", async function () {
      const { sharing, registry, orgs, admins, spare, now } = await loadFixture(fixture);
      const [agent] = spare;
      await bindAgent(registry, admins.producer, agent, orgs.producer, 1n);
      await expect(sharing.connect(agent).grant(orgs.processor, CLASS.EPCIS, Scope.All, ZERO, now + DAY)).to.be.revertedWithCustomError(
        registry,
        "IdentityUnauthorizedAgent",
      );
      expect(await sharing.grantCount()).to.equal(0n);
    });

    it("attack: a suspended organisation's admin cannot grant", async function () {
      const { sharing, registry, governor, orgs, admins, now } = await loadFixture(fixture);
      await (await registry.connect(governor).suspendOrganisation(orgs.producer, "audit")).wait();
      await expect(sharing.connect(admins.producer).grant(orgs.processor, CLASS.EPCIS, Scope.All, ZERO, now + DAY)).to.be.revertedWithCustomError(
        registry,
        "IdentityUnauthorizedAgent",
      );
    });

    it("attack: an outsider wallet cannot grant", async function () {
      const { sharing, registry, orgs, outsider, now } = await loadFixture(fixture);
      await expect(sharing.connect(outsider).grant(orgs.processor, CLASS.EPCIS, Scope.All, ZERO, now + DAY)).to.be.revertedWithCustomError(
        registry,
        "IdentityUnauthorizedAgent",
      );
    });

    it("refuses a grant to itself, to an unknown or suspended organisation", async function () {
      const { sharing, registry, governor, orgs, admins, now } = await loadFixture(fixture);
      await expect(sharing.connect(admins.producer).grant(orgs.producer, CLASS.EPCIS, Scope.All, ZERO, now + DAY))
        .to.be.revertedWithCustomError(sharing, "SharingSelfGrant")
        .withArgs(orgs.producer);
      await expect(sharing.connect(admins.producer).grant(99, CLASS.EPCIS, Scope.All, ZERO, now + DAY))
        .to.be.revertedWithCustomError(sharing, "SharingUnknownGrantee")
        .withArgs(99);
      await (await registry.connect(governor).suspendOrganisation(orgs.carrier, "audit")).wait();
      await expect(sharing.connect(admins.producer).grant(orgs.carrier, CLASS.EPCIS, Scope.All, ZERO, now + DAY)).to.be.revertedWithCustomError(
        sharing,
        "SharingUnknownGrantee",
      );
    });

    it("refuses no class, an unknown class bit, a scope that does not match its kind, and an expiry not in the future", async function () {
      const { sharing, orgs, admins, now } = await loadFixture(fixture);
      const grant = (classes: number, kind: number, scope: string, expiresAt: number) =>
        sharing.connect(admins.producer).grant(orgs.processor, classes, kind, scope, expiresAt);
      await expect(grant(0, Scope.All, ZERO, now + DAY)).to.be.revertedWithCustomError(sharing, "SharingInvalidClasses").withArgs(0);
      await expect(grant(8, Scope.All, ZERO, now + DAY)).to.be.revertedWithCustomError(sharing, "SharingInvalidClasses").withArgs(8);
      await expect(grant(CLASS.EPCIS, Scope.All, "0x" + "01".repeat(32), now + DAY)).to.be.revertedWithCustomError(sharing, "SharingInvalidScope");
      await expect(grant(CLASS.EPCIS, Scope.Gtin, ZERO, now + DAY)).to.be.revertedWithCustomError(sharing, "SharingInvalidScope");
      await expect(grant(CLASS.EPCIS, Scope.All, ZERO, now)).to.be.revertedWithCustomError(sharing, "SharingInvalidExpiry");
      expect(await sharing.grantCount()).to.equal(0n);
    });

    it("is no longer in force after its expiry, or while its grantor is suspended", async function () {
      const { sharing, registry, governor, orgs, admins, now } = await loadFixture(fixture);
      await (await sharing.connect(admins.producer).grant(orgs.processor, CLASS.EPCIS, Scope.All, ZERO, now + DAY)).wait();
      await (await registry.connect(governor).suspendOrganisation(orgs.producer, "audit")).wait();
      expect(await sharing.isInForce(1)).to.equal(false);
      await (await registry.connect(governor).reinstateOrganisation(orgs.producer)).wait();
      expect(await sharing.isInForce(1)).to.equal(true);
      await time.increaseTo(now + DAY);
      expect(await sharing.isInForce(1)).to.equal(false);
    });
  });

  describe("revoke", function () {
    async function granted() {
      const f = await fixture();
      await (await f.sharing.connect(f.admins.producer).grant(f.orgs.processor, CLASS.ALL, Scope.All, ZERO, f.now + 30 * DAY)).wait();
      return f;
    }

    it("lets the grantor end its grant", async function () {
      const { sharing, orgs, admins } = await loadFixture(granted);
      await expect(sharing.connect(admins.producer).revoke(1)).to.emit(sharing, "GrantRevoked").withArgs(1n, orgs.producer, admins.producer.address);
      expect((await sharing.grantOf(1)).revokedAt).to.be.greaterThan(0n);
      expect(await sharing.isInForce(1)).to.equal(false);
    });

    it("lets the grantee renounce it", async function () {
      const { sharing, orgs, admins } = await loadFixture(granted);
      await expect(sharing.connect(admins.processor).revoke(1)).to.emit(sharing, "GrantRevoked").withArgs(1n, orgs.processor, admins.processor.address);
      expect(await sharing.isInForce(1)).to.equal(false);
    });

    it("attack: a third member cannot revoke a grant between two others (it would cut their data flow)", async function () {
      const { sharing, orgs, admins } = await loadFixture(granted);
      await expect(sharing.connect(admins.carrier).revoke(1)).to.be.revertedWithCustomError(sharing, "SharingNotParty").withArgs(1n, orgs.carrier);
      expect(await sharing.isInForce(1)).to.equal(true);
    });

    it("refuses an unknown grant and a second revocation", async function () {
      const { sharing, admins } = await loadFixture(granted);
      await expect(sharing.connect(admins.producer).revoke(7)).to.be.revertedWithCustomError(sharing, "SharingUnknownGrant").withArgs(7n);
      await (await sharing.connect(admins.producer).revoke(1)).wait();
      await expect(sharing.connect(admins.producer).revoke(1)).to.be.revertedWithCustomError(sharing, "SharingAlreadyRevoked").withArgs(1n);
    });
  });

  describe("setServiceUrl", function () {
    it("publishes and clears the organisation's node URL", async function () {
      const { sharing, orgs, admins } = await loadFixture(fixture);
      await expect(sharing.connect(admins.producer).setServiceUrl(orgs.producer, "https://lotline.farm.example"))
        .to.emit(sharing, "ServiceUrlSet")
        .withArgs(orgs.producer, "https://lotline.farm.example", admins.producer.address);
      expect(await sharing.serviceUrl(orgs.producer)).to.equal("https://lotline.farm.example");
      await (await sharing.connect(admins.producer).setServiceUrl(orgs.producer, "")).wait();
      expect(await sharing.serviceUrl(orgs.producer)).to.equal("");
    });

    it("attack: a rival's admin cannot point another member's URL at its own node", async function () {
      const { sharing, orgs, admins } = await loadFixture(fixture);
      await expect(sharing.connect(admins.processor).setServiceUrl(orgs.producer, "https://evil.example"))
        .to.be.revertedWithCustomError(sharing, "SharingNotOrgAdmin")
        .withArgs(admins.processor.address, orgs.producer);
      expect(await sharing.serviceUrl(orgs.producer)).to.equal("");
    });

    it("takes a plain http URL (a node inside a private network)", async function () {
      const { sharing, orgs, admins } = await loadFixture(fixture);
      await (await sharing.connect(admins.producer).setServiceUrl(orgs.producer, "http://10.0.0.7:8080")).wait();
      expect(await sharing.serviceUrl(orgs.producer)).to.equal("http://10.0.0.7:8080");
    });

    it("refuses what is not an http(s) URL", async function () {
      const { sharing, orgs, admins } = await loadFixture(fixture);
      // Also a scheme alone, a control character, DEL and a non-ASCII (UTF-8) host: a URL other nodes fetch is printable ASCII.
      for (const url of ["ftp://x", "https://", "http://", "javascript:alert(1)", "https://a b", "http://a\tb", "http://a\x7f", "https://bücher.example", "https://" + "a".repeat(260)]) {
        await expect(sharing.connect(admins.producer).setServiceUrl(orgs.producer, url), url).to.be.revertedWithCustomError(sharing, "SharingInvalidUrl");
      }
    });
  });
});
