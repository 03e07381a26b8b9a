import { expect } from "chai";
import { Wallet, type HDNodeWallet } from "ethers";
import type { TestNode } from "../../helpers/node";
import { DEMO_MEMBERS, demoWallet, GOVERNOR_ACCOUNT, RELAYER_ACCOUNT } from "../../../services/demo/roster";
import { glnFor } from "../../../services/gs1/keys";
import { signForwardRequest } from "../../../services/relayer/forward-request";
import { expectProblem, get, post, relayPayload, sharedNode, type ApiResponse } from "./helpers";

const producer = DEMO_MEMBERS.find((m) => m.key === "producer")!;
const processor = DEMO_MEMBERS.find((m) => m.key === "processor")!;
const PRODUCER_ORG = 1n;
const PROCESSOR_ORG = 2n;

/** Location references the demo seed does not use, one per test that adds a location. */
let nextLocationRef = 700;
const freshGln = (prefix: string) => glnFor(prefix, nextLocationRef++);

const inAMinute = () => Math.floor(Date.now() / 1000) + 60;

/** The JSON body POST /api/v1/relay takes, from a signed request. */
const body = relayPayload;

describe("API relay: POST /api/v1/relay", function () {
  let node: TestNode;
  let registryAddress: string;
  let producerWallet: HDNodeWallet;

  before(async function () {
    this.timeout(120_000);
    node = await sharedNode();
    await node.synced();
    registryAddress = await node.contracts.registry.getAddress();
    producerWallet = demoWallet(producer.account, node.provider);
  });

  /** Signs registry.addLocation(orgId, gln) as `signer` for the forwarder. */
  function signAddLocation(
    signer: Wallet | HDNodeWallet,
    orgId: bigint,
    gln: string,
    extra: { deadline?: number; gas?: bigint } = {},
  ) {
    return signForwardRequest(signer, node.contracts.forwarder, {
      to: registryAddress,
      data: node.contracts.registry.interface.encodeFunctionData("addLocation", [orgId, gln]),
      deadline: extra.deadline ?? inAMinute(),
      gas: extra.gas,
    });
  }

  const relay = (payload: Record<string, unknown>): Promise<ApiResponse> => post(node, "/api/v1/relay", payload);

  describe("an org admin's signed addLocation", function () {
    let gln: string;
    let res: ApiResponse;
    let nonceBefore: bigint;

    before(async function () {
      gln = freshGln(producer.companyPrefixes[0]);
      nonceBefore = await node.contracts.forwarder.nonces(producerWallet.address);
      res = await relay(body(await signAddLocation(producerWallet, PRODUCER_ORG, gln)));
      if (res.status === 202) await node.provider.waitForTransaction(res.body.transactionHash);
      await node.synced();
    });

    it("is accepted with 202 and the transaction hash, naming the contract and function", async function () {
      expect(res.status, res.text).to.equal(202);
      expect(res.body.transactionHash).to.match(/^0x[0-9a-f]{64}$/);
      expect(res.body).to.include({
        from: producerWallet.address,
        to: registryAddress,
        contract: "registry",
        function: "addLocation",
      });
    });

    it("is submitted and paid for by the service's relayer key, through the forwarder", async function () {
      const tx = await node.provider.getTransaction(res.body.transactionHash);
      expect(tx!.from).to.equal(demoWallet(RELAYER_ACCOUNT).address);
      expect(tx!.to).to.equal(await node.contracts.forwarder.getAddress());
      const receipt = await node.provider.getTransactionReceipt(res.body.transactionHash);
      expect(receipt!.status).to.equal(1);
    });

    it("acts as the signer: the location shows under the producer's organisation once indexed", async function () {
      // addLocation is onlyOrgAdmin: it only succeeds if the registry's _msgSender() is the
      // producer's wallet, not the relayer that sent the transaction.
      const org = await get(node, `/api/v1/orgs/${PRODUCER_ORG}`);
      expect(org.body.locations).to.include(gln);
      expect(await node.contracts.registry.orgOfLocation(gln)).to.equal(PRODUCER_ORG);
    });

    it("consumes the signer's forwarder nonce", async function () {
      expect(await node.contracts.forwarder.nonces(producerWallet.address)).to.equal(nonceBefore + 1n);
    });
  });

  it("accepts a request signed by an org admin of another organisation for its own organisation", async function () {
    const wallet = demoWallet(processor.account, node.provider);
    const gln = freshGln(processor.companyPrefixes[0]);
    const res = await relay(body(await signAddLocation(wallet, PROCESSOR_ORG, gln)));
    expect(res.status, res.text).to.equal(202);
    await node.provider.waitForTransaction(res.body.transactionHash);
    await node.synced();
    expect((await get(node, `/api/v1/orgs/${PROCESSOR_ORG}`)).body.locations).to.include(gln);
  });

  it("refuses a request whose deadline has passed with 400 request_expired", async function () {
    const signed = await signAddLocation(producerWallet, PRODUCER_ORG, freshGln(producer.companyPrefixes[0]), {
      deadline: Math.floor(Date.now() / 1000) - 10,
    });
    expectProblem(await relay(body(signed)), 400, "request_expired");
  });

  it("refuses the same signed request a second time with 400 invalid_signature (nonce consumed)", async function () {
    const signed = body(await signAddLocation(producerWallet, PRODUCER_ORG, freshGln(producer.companyPrefixes[0])));
    const first = await relay(signed);
    expect(first.status, first.text).to.equal(202);
    await node.provider.waitForTransaction(first.body.transactionHash);
    expectProblem(await relay(signed), 400, "invalid_signature");
  });

  it("refuses a request whose from is not the signer with 400 invalid_signature", async function () {
    const signed = body(await signAddLocation(producerWallet, PRODUCER_ORG, freshGln(producer.companyPrefixes[0])));
    const res = await relay({ ...signed, from: demoWallet(processor.account).address });
    expectProblem(res, 400, "invalid_signature");
  });

  it("refuses a request whose calldata was altered after signing with 400 invalid_signature", async function () {
    const signed = body(await signAddLocation(producerWallet, PRODUCER_ORG, freshGln(producer.companyPrefixes[0])));
    const data = node.contracts.registry.interface.encodeFunctionData("addLocation", [
      PRODUCER_ORG,
      freshGln(producer.companyPrefixes[0]),
    ]);
    expectProblem(await relay({ ...signed, data }), 400, "invalid_signature");
  });

  it("refuses a signer who is not an agent of any organisation with 403 not_an_agent", async function () {
    const stranger = Wallet.createRandom();
    const signed = await signAddLocation(stranger, PRODUCER_ORG, freshGln(producer.companyPrefixes[0]));
    expectProblem(await relay(body(signed)), 403, "not_an_agent");
  });

  describe("a wallet answering a proposal", function () {
    const AUDITOR_ORG = 7n;
    const AUDITOR_ROLE = 1n << 5n;
    const auditor = DEMO_MEMBERS.find((m) => m.key === "auditor")!;

    /** A fresh, unfunded wallet the auditor organisation's admin offered the auditor role. */
    async function proposedWallet() {
      const wallet = Wallet.createRandom();
      const admin = node.contracts.registry.connect(demoWallet(auditor.account, node.provider));
      await (await admin.setAgent(wallet.address, AUDITOR_ORG, AUDITOR_ROLE, 0)).wait();
      await node.synced();
      return wallet;
    }

    function signAccept(wallet: Wallet | HDNodeWallet, orgId: bigint) {
      return signForwardRequest(wallet, node.contracts.forwarder, {
        to: registryAddress,
        data: node.contracts.registry.interface.encodeFunctionData("acceptAgent", [orgId, AUDITOR_ROLE, 0]),
        deadline: inAMinute(),
      });
    }

    it("lists the proposal for the wallet before it accepts", async function () {
      const wallet = await proposedWallet();
      const res = await get(node, `/api/v1/agents/${wallet.address}/proposals`);
      expect(res.status, res.text).to.equal(200);
      expect(res.body.items).to.have.length(1);
      expect(res.body.items[0]).to.include({ address: wallet.address, orgId: "7", expiresAt: null });
      expect(res.body.items[0].roles).to.deep.equal(["auditor"]);
    });

    it("relays the acceptance of a wallet that is not yet an agent, which then acts for the organisation", async function () {
      const wallet = await proposedWallet();
      const res = await relay(body(await signAccept(wallet, AUDITOR_ORG)));
      expect(res.status, res.text).to.equal(202);
      expect(res.body).to.include({ from: wallet.address, function: "acceptAgent" });
      await node.provider.waitForTransaction(res.body.transactionHash);
      await node.synced();
      expect((await get(node, `/api/v1/agents/${wallet.address}`)).body).to.include({ orgId: "7", status: "active" });
      expect((await get(node, `/api/v1/agents/${wallet.address}/proposals`)).body.items).to.deep.equal([]);
    });

    it("refuses with 403 no_proposal a stranger's acceptance of an organisation that proposed nothing to it", async function () {
      const stranger = Wallet.createRandom();
      expectProblem(await relay(body(await signAccept(stranger, AUDITOR_ORG))), 403, "no_proposal");
      expect((await node.contracts.registry.agent(stranger.address)).orgId).to.equal(0n);
    });
  });

  it("refuses a signer whose organisation is suspended with 403 organisation_suspended", async function () {
    const registry = node.contracts.registry.connect(demoWallet(GOVERNOR_ACCOUNT, node.provider));
    const wallet = demoWallet(processor.account, node.provider);
    // Signed while active, submitted once the index shows the suspension.
    const signed = await signAddLocation(wallet, PROCESSOR_ORG, freshGln(processor.companyPrefixes[0]));
    await (await registry.suspendOrganisation(PROCESSOR_ORG, "unpaid consortium fees")).wait();
    try {
      await node.synced();
      expectProblem(await relay(body(signed)), 403, "organisation_suspended");
    } finally {
      await (await registry.reinstateOrganisation(PROCESSOR_ORG)).wait();
      await node.synced();
    }
  });

  it("refuses a function that is not on the allowlist (admitOrganisation) with 403 function_not_allowed", async function () {
    const governor = demoWallet(GOVERNOR_ACCOUNT, node.provider);
    const data = node.contracts.registry.interface.encodeFunctionData("admitOrganisation", [
      "Relayed Newcomer",
      ["4099999"],
      `0x${"11".repeat(32)}`,
      1n,
      governor.address,
    ]);
    const signed = await signForwardRequest(governor, node.contracts.forwarder, {
      to: registryAddress,
      data,
      deadline: inAMinute(),
    });
    expectProblem(await relay(body(signed)), 403, "function_not_allowed");
  });

  it("refuses a target that is not a Lotline contract with 403 target_not_allowed", async function () {
    const signed = await signForwardRequest(producerWallet, node.contracts.forwarder, {
      to: Wallet.createRandom().address,
      data: node.contracts.registry.interface.encodeFunctionData("addLocation", [
        PRODUCER_ORG,
        freshGln(producer.companyPrefixes[0]),
      ]),
      deadline: inAMinute(),
    });
    expectProblem(await relay(body(signed)), 403, "target_not_allowed");
  });

  it("refuses the forwarder itself as a target with 403 target_not_allowed", async function () {
    const forwarder = await node.contracts.forwarder.getAddress();
    const signed = await signForwardRequest(producerWallet, node.contracts.forwarder, {
      to: forwarder,
      data: node.contracts.forwarder.interface.encodeFunctionData("nonces", [producerWallet.address]),
      deadline: inAMinute(),
    });
    expectProblem(await relay(body(signed)), 403, "target_not_allowed");
  });

  it("refuses a request carrying value with 400 value_not_allowed", async function () {
    const signed = await signForwardRequest(producerWallet, node.contracts.forwarder, {
      to: registryAddress,
      data: node.contracts.registry.interface.encodeFunctionData("addLocation", [
        PRODUCER_ORG,
        freshGln(producer.companyPrefixes[0]),
      ]),
      deadline: inAMinute(),
      value: 1n,
    });
    expectProblem(await relay(body(signed)), 400, "value_not_allowed");
  });

  it("refuses a request asking for more gas than the relayer pays for with 400 gas_too_high", async function () {
    const signed = await signAddLocation(producerWallet, PRODUCER_ORG, freshGln(producer.companyPrefixes[0]), {
      gas: 50_000_000n,
    });
    expectProblem(await relay(body(signed)), 400, "gas_too_high");
  });

  it("refuses a call that would revert with 422 call_reverted naming the custom error", async function () {
    // The producer's admin adds a location to the processor's organisation: onlyOrgAdmin reverts.
    const signed = await signAddLocation(producerWallet, PROCESSOR_ORG, freshGln(processor.companyPrefixes[0]));
    const res = await relay(body(signed));
    expectProblem(res, 422, "call_reverted");
    expect(res.body.detail).to.include("IdentityNotOrgAdmin");
    expect(res.body.detail).to.include(producerWallet.address);
  });

  it("refuses a GLN outside the organisation's prefixes with 422 naming IdentityGlnOutsidePrefixes", async function () {
    const signed = await signAddLocation(producerWallet, PRODUCER_ORG, freshGln(processor.companyPrefixes[0]));
    const res = await relay(body(signed));
    expectProblem(res, 422, "call_reverted");
    expect(res.body.detail).to.include("IdentityGlnOutsidePrefixes");
  });

  it("spends no nonce and sends no transaction for a refused request", async function () {
    const nonce = await node.contracts.forwarder.nonces(producerWallet.address);
    const relayerNonce = await node.provider.getTransactionCount(demoWallet(RELAYER_ACCOUNT).address);
    const signed = await signAddLocation(producerWallet, PROCESSOR_ORG, freshGln(processor.companyPrefixes[0]));
    expectProblem(await relay(body(signed)), 422, "call_reverted");
    expect(await node.contracts.forwarder.nonces(producerWallet.address)).to.equal(nonce);
    expect(await node.provider.getTransactionCount(demoWallet(RELAYER_ACCOUNT).address)).to.equal(relayerNonce);
  });
});
