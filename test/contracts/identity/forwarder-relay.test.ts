import hre from "hardhat";
import { expect } from "chai";
import { encodeBytes32String, keccak256, solidityPacked, toUtf8Bytes, verifyTypedData } from "ethers";
import { impersonateAccount, loadFixture, setBalance, time } from "@nomicfoundation/hardhat-network-helpers";
import { bindAgent, certifierFixture, identityFixture, type IdentityFixture } from "../../helpers/identity-fixture";
import { ROLE, rolesToMask } from "../../../services/chain/roles";
import {
  FORWARD_REQUEST_TYPES,
  forwarderDomain,
  signForwardRequest,
  type SignedForwardRequest,
} from "../../../services/relayer/forward-request";

const HOUR = 3600;

/** The address the forwarder recovers from `request` at nonce `nonce` (what it reports when it is not `from`). */
async function recoveredSigner(forwarder: IdentityFixture["forwarder"], request: SignedForwardRequest, nonce: bigint) {
  const { signature, ...fields } = request;
  return verifyTypedData(await forwarderDomain(forwarder), FORWARD_REQUEST_TYPES, { ...fields, nonce }, signature);
}

describe("Relayed calls through LotlineForwarder (ERC-2771)", function () {
  /** The producer's admin has signed a request binding a new producer agent; the relayer has not sent it yet. */
  async function signedSetAgent() {
    const f = await loadFixture(identityFixture);
    const [newAgent] = f.spare;
    const registryAddress = await f.registry.getAddress();
    const deadline = (await time.latest()) + HOUR;
    const data = f.registry.interface.encodeFunctionData("setAgent", [newAgent.address, f.orgs.producer, ROLE.producer, 0n]);
    const request = await signForwardRequest(f.admins.producer, f.forwarder, { to: registryAddress, data, deadline });
    return { ...f, newAgent, registryAddress, deadline, data, request };
  }

  it("is trusted by the registry and the credential registry", async function () {
    const { registry, credentials, forwarder } = await loadFixture(identityFixture);
    const forwarderAddress = await forwarder.getAddress();
    expect(await registry.isTrustedForwarder(forwarderAddress)).to.equal(true);
    expect(await credentials.isTrustedForwarder(forwarderAddress)).to.equal(true);
  });

  it("accepts a request signed by an org admin as valid", async function () {
    const { forwarder, request } = await loadFixture(signedSetAgent);
    expect(await forwarder.verify(request)).to.equal(true);
  });

  it("attributes a relayed setAgent to the signer, not the relayer", async function () {
    const { forwarder, registry, relayer, request, newAgent, orgs, admins } = await loadFixture(signedSetAgent);
    await expect(forwarder.connect(relayer).execute(request))
      .to.emit(registry, "AgentProposed")
      .withArgs(newAgent.address, orgs.producer, ROLE.producer, 0n, admins.producer.address);
  });

  it("lets a wallet accept its binding through the relayer, gaslessly", async function () {
    const { forwarder, registry, relayer, request, newAgent, orgs } = await loadFixture(signedSetAgent);
    await forwarder.connect(relayer).execute(request);
    const accept = await signForwardRequest(newAgent, forwarder, {
      to: await registry.getAddress(),
      data: registry.interface.encodeFunctionData("acceptAgent", [orgs.producer, ROLE.producer, 0n]),
      deadline: (await time.latest()) + HOUR,
    });
    await expect(forwarder.connect(relayer).execute(accept))
      .to.emit(registry, "AgentProposalAccepted")
      .withArgs(newAgent.address, orgs.producer);
    expect((await registry.agent(newAgent.address)).orgId).to.equal(orgs.producer);
  });

  it("reports the executed request with the signer and the nonce it used", async function () {
    const { forwarder, relayer, request, admins } = await loadFixture(signedSetAgent);
    await expect(forwarder.connect(relayer).execute(request))
      .to.emit(forwarder, "ExecutedForwardRequest")
      .withArgs(admins.producer.address, 0n, true);
  });

  it("advances the signer's nonce", async function () {
    const { forwarder, relayer, request, admins } = await loadFixture(signedSetAgent);
    await forwarder.connect(relayer).execute(request);
    expect(await forwarder.nonces(admins.producer.address)).to.equal(1n);
  });

  it("refuses a request past its deadline", async function () {
    const { forwarder, relayer, request, deadline } = await loadFixture(signedSetAgent);
    await time.increaseTo(deadline + 1);
    await expect(forwarder.connect(relayer).execute(request))
      .to.be.revertedWithCustomError(forwarder, "ERC2771ForwarderExpiredRequest")
      .withArgs(deadline);
  });

  it("still accepts a request in the second of its deadline", async function () {
    const { forwarder, registry, relayer, request, deadline } = await loadFixture(signedSetAgent);
    await time.setNextBlockTimestamp(deadline);
    await expect(forwarder.connect(relayer).execute(request)).to.emit(registry, "AgentProposed");
  });

  it("refuses to replay an executed request, as its nonce has moved on", async function () {
    const { forwarder, relayer, request } = await loadFixture(signedSetAgent);
    await forwarder.connect(relayer).execute(request);
    // OZ 5.7 recovers the signature against the current nonce (1), which yields an unrelated address.
    const recovered = await recoveredSigner(forwarder, request, 1n);
    await expect(forwarder.connect(relayer).execute(request))
      .to.be.revertedWithCustomError(forwarder, "ERC2771ForwarderInvalidSigner")
      .withArgs(recovered, request.from);
  });

  it("refuses a request signed with a stale nonce", async function () {
    const { forwarder, relayer, registryAddress, data, deadline, admins } = await loadFixture(signedSetAgent);
    const stale = await signForwardRequest(admins.producer, forwarder, { to: registryAddress, data, deadline, nonce: 7n });
    await expect(forwarder.connect(relayer).execute(stale))
      .to.be.revertedWithCustomError(forwarder, "ERC2771ForwarderInvalidSigner")
      .withArgs(await recoveredSigner(forwarder, stale, 0n), admins.producer.address);
  });

  it("refuses a request signed by one wallet that claims another as its sender", async function () {
    const { forwarder, relayer, registryAddress, data, deadline, admins, outsider } = await loadFixture(signedSetAgent);
    const message = { from: admins.producer.address, to: registryAddress, value: 0n, gas: 1_000_000n, nonce: 0n, deadline, data };
    const signature = await outsider.signTypedData(await forwarderDomain(forwarder), FORWARD_REQUEST_TYPES, message);
    const forged: SignedForwardRequest = { ...message, signature };
    await expect(forwarder.connect(relayer).execute(forged))
      .to.be.revertedWithCustomError(forwarder, "ERC2771ForwarderInvalidSigner")
      .withArgs(outsider.address, admins.producer.address);
  });

  it("refuses a request whose calldata the relayer altered after signing", async function () {
    const { forwarder, registry, relayer, request, orgs, outsider } = await loadFixture(signedSetAgent);
    const data = registry.interface.encodeFunctionData("setAgent", [outsider.address, orgs.producer, ROLE["org-admin"], 0n]);
    const altered = { ...request, data };
    await expect(forwarder.connect(relayer).execute(altered))
      .to.be.revertedWithCustomError(forwarder, "ERC2771ForwarderInvalidSigner")
      .withArgs(await recoveredSigner(forwarder, altered, 0n), request.from);
  });

  describe("a relayed call the registry refuses", function () {
    /** A wallet that is no agent has signed a setAgent for the producer organisation. */
    async function signedByOutsider() {
      const f = await loadFixture(identityFixture);
      const deadline = (await time.latest()) + HOUR;
      const data = f.registry.interface.encodeFunctionData("setAgent", [
        f.outsider.address,
        f.orgs.producer,
        ROLE["org-admin"],
        0n,
      ]);
      const request = await signForwardRequest(f.outsider, f.forwarder, { to: await f.registry.getAddress(), data, deadline });
      return { ...f, data, request };
    }

    it("passes the forwarder's own checks", async function () {
      const { forwarder, request } = await loadFixture(signedByOutsider);
      expect(await forwarder.verify(request)).to.equal(true);
    });

    it("makes execute revert with FailedCall", async function () {
      const { forwarder, relayer, request } = await loadFixture(signedByOutsider);
      await expect(forwarder.connect(relayer).execute(request)).to.be.revertedWithCustomError(forwarder, "FailedCall");
    });

    it("leaves the signed request usable: it executes once its signer may act", async function () {
      const { forwarder, registry, relayer, request, outsider, admins, orgs } = await loadFixture(signedByOutsider);
      await expect(forwarder.connect(relayer).execute(request)).to.be.revertedWithCustomError(forwarder, "FailedCall");
      // The refusal consumed nothing: the same request runs as soon as the outsider is the
      // producer's org admin (bound by its consent), and only then does its nonce count as used.
      await bindAgent(registry, admins.producer, outsider, orgs.producer, ROLE["org-admin"]);
      await (await forwarder.connect(relayer).execute(request)).wait();
      expect(await forwarder.nonces(outsider.address)).to.equal(1n);
      expect((await registry.agent(outsider.address)).roles).to.equal(ROLE["org-admin"]);
    });

    it("fails in the registry with IdentityNotOrgAdmin for the signer", async function () {
      const { forwarder, registry, data, orgs, outsider } = await loadFixture(signedByOutsider);
      // The forwarder swallows the inner revert data; replay the exact inner call it makes
      // (calldata followed by the signer's address, sent from the forwarder) to see the reason.
      const forwarderAddress = await forwarder.getAddress();
      await impersonateAccount(forwarderAddress);
      await setBalance(forwarderAddress, 10n ** 18n);
      const asForwarder = await hre.ethers.getSigner(forwarderAddress);
      await expect(
        asForwarder.sendTransaction({
          to: await registry.getAddress(),
          data: solidityPacked(["bytes", "address"], [data, outsider.address]),
        }),
      )
        .to.be.revertedWithCustomError(registry, "IdentityNotOrgAdmin")
        .withArgs(outsider.address, orgs.producer);
    });
  });

  it("ignores a sender address appended to calldata by anyone other than the forwarder", async function () {
    const { registry, orgs, admins, outsider } = await loadFixture(identityFixture);
    const data = registry.interface.encodeFunctionData("setAgent", [outsider.address, orgs.producer, ROLE["org-admin"], 0n]);
    const spoofed = solidityPacked(["bytes", "address"], [data, admins.producer.address]);
    await expect(outsider.sendTransaction({ to: await registry.getAddress(), data: spoofed }))
      .to.be.revertedWithCustomError(registry, "IdentityNotOrgAdmin")
      .withArgs(outsider.address, orgs.producer);
  });

  it("lets the governor act through the forwarder", async function () {
    const { forwarder, registry, relayer, governor } = await loadFixture(identityFixture);
    const metadata = keccak256(toUtf8Bytes("Alpenmilch Kooperative eG, Innsbruck"));
    const allowed = rolesToMask(["producer"]);
    const data = registry.interface.encodeFunctionData("admitOrganisation", [
      "Alpenmilch Kooperative",
      ["9012345"],
      metadata,
      allowed,
      hre.ethers.ZeroAddress,
    ]);
    const request = await signForwardRequest(governor, forwarder, {
      to: await registry.getAddress(),
      data,
      deadline: (await time.latest()) + HOUR,
    });
    await expect(forwarder.connect(relayer).execute(request))
      .to.emit(registry, "OrganisationAdmitted")
      .withArgs(5n, "Alpenmilch Kooperative", metadata, allowed);
  });

  it("attributes a relayed credential to the certifier who signed it", async function () {
    const { forwarder, credentials, relayer, certifierAgent, orgs } = await loadFixture(certifierFixture);
    const organic = encodeBytes32String("ORGANIC");
    const claim = keccak256(toUtf8Bytes("EU organic certificate DE-ÖKO-006-12345"));
    const validFrom = await time.latest();
    const validUntil = validFrom + 365 * 86_400;
    const data = credentials.interface.encodeFunctionData("issueCredential", [
      organic,
      orgs.producer,
      claim,
      validFrom,
      validUntil,
    ]);
    const request = await signForwardRequest(certifierAgent, forwarder, {
      to: await credentials.getAddress(),
      data,
      deadline: validFrom + HOUR,
    });
    await expect(forwarder.connect(relayer).execute(request))
      .to.emit(credentials, "CredentialIssued")
      .withArgs(1n, organic, orgs.producer, orgs.certifier, claim, validFrom, validUntil, certifierAgent.address);
  });
});
