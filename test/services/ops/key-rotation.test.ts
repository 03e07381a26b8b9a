import { expect } from "chai";
import { Wallet, type HDNodeWallet } from "ethers";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { memberChain, memberDataDir, signInTo, startMemberNode, until, type MemberChain, type MemberNode } from "../../helpers/member";
import { DEMO_MEMBERS, demoWallet } from "../../../services/demo/roster";
import { signForwardRequest, type SignedForwardRequest } from "../../../services/relayer/forward-request";
import { rolesToMask } from "../../../services/chain/roles";
import { gtinFor } from "../../../services/gs1/keys";
import { lotline } from "../cli/run";

type Proof = { status: string; merkleRoot: string; leaf: string; proof: string[]; verified: boolean; transactionHash: string; anchoredBy: { orgId: string } | null };

/**
 * docs/operations.md "Service key rotation", walked on a member's node configured as on a real
 * network (RPC URL, deployment file, integration and relayer keys, served organisations): records
 * the retired integration key could not anchor are anchored by the new one, as the same
 * organisation, and relayed requests in flight when the relayer key changes are not lost.
 */
describe("service key rotation (integration and relayer keys)", function () {
  this.timeout(180_000);
  let chain: MemberChain;
  let node: MemberNode | null = null;
  let dataDir: string;
  const orgOf = (key: string) => DEMO_MEMBERS.findIndex((m) => m.key === key) + 1;
  const distributor = orgOf("distributor");
  const retailer = orgOf("retailer");
  const admin = demoWallet(DEMO_MEMBERS[distributor - 1].account);
  const keyA = demoWallet(DEMO_MEMBERS[distributor - 1].integrationAccount);
  const keyB = Wallet.createRandom();
  const relayerA = Wallet.createRandom();
  const relayerB = Wallet.createRandom();
  const records: Record<string, string> = {};
  let proposal: SignedForwardRequest;
  let serviceUrl: SignedForwardRequest;
  const inFlight: Record<string, string> = {};

  const send = (method: string, params: unknown[] = []) => chain.demo.provider.send(method, params);
  const envFor = (integration: string, relayer: string) => ({
    LOTLINE_DATA_DIR: dataDir,
    LOTLINE_RPC_URL: chain.url,
    LOTLINE_DEPLOYMENT_FILE: chain.deploymentFile,
    LOTLINE_INTEGRATION_KEY: integration,
    LOTLINE_RELAYER_KEY: relayer,
    LOTLINE_SERVE_ORGS: `${distributor},${retailer}`,
  });

  async function proofOf(recordId: string): Promise<Proof> {
    return (await (await fetch(`${node!.url}/api/v1/anchors/records/${recordId}/proof`)).json()) as Proof;
  }
  const anchored = (recordId: string) => until(`the anchor of ${recordId}`, async () => ((await proofOf(recordId)).status === "anchored" ? proofOf(recordId) : undefined));

  async function storeProduct(itemReference: number): Promise<string> {
    const token = await signInTo(node!, admin);
    const res = await fetch(`${node!.url}/api/v1/products`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ gtin: gtinFor("7612345", itemReference), name: `Rotation test ${itemReference}`, unit: "KGM" }),
    });
    const body = (await res.json()) as { recordId: string };
    expect(res.status, JSON.stringify(body)).to.equal(201);
    return body.recordId;
  }

  async function relay(request: SignedForwardRequest): Promise<{ status: number; body: Record<string, string> }> {
    const res = await fetch(`${node!.url}/api/v1/relay`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ ...request, value: request.value.toString(), gas: request.gas.toString() }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, string> };
  }

  async function expectAnchoredBy(recordId: string, key: Wallet | HDNodeWallet): Promise<Proof> {
    const proof = await anchored(recordId);
    expect(proof.verified).to.equal(true);
    expect(proof.anchoredBy?.orgId).to.equal(String(distributor));
    expect(StandardMerkleTree.verify(proof.merkleRoot, ["bytes32"], [proof.leaf], proof.proof)).to.equal(true);
    // The organisation's anchor of the root, on the chain itself, sent by that key.
    const onChain = await chain.demo.contracts.anchors.anchorOf(distributor, proof.merkleRoot);
    expect(onChain.count).to.be.greaterThan(0n);
    expect((await chain.demo.provider.getTransaction(proof.transactionHash))!.from).to.equal(key.address);
    return proof;
  }

  before(async function () {
    chain = await memberChain();
    dataDir = memberDataDir(chain.dir, "rotation");
    const funder = demoWallet(0, chain.demo.provider);
    // Anvil charges gas (a Besu network with zeroBaseFee does not): the new keys get some.
    for (const wallet of [keyB, relayerA, relayerB]) await (await funder.sendTransaction({ to: wallet.address, value: 10n ** 18n })).wait();
  });

  after(async function () {
    await send("evm_setAutomine", [true]).catch(() => undefined);
    await node?.stop();
  });

  it("anchors the organisation's records with integration key A", async function () {
    node = await startMemberNode(envFor(keyA.privateKey, relayerA.privateKey));
    records.before = await storeProduct(801);
    await expectAnchoredBy(records.before, keyA);
  });

  it("refuses another member's removal of key A, and anchors nothing with the revoked key: the records stay pending, nothing is lost", async function () {
    // The org admin retires key A (say it leaked) before the node has a new one; another member's admin cannot.
    const foreign = await signForwardRequest(demoWallet(DEMO_MEMBERS[retailer - 1].account), chain.demo.contracts.forwarder, {
      to: chain.demo.deployment.contracts.registry,
      data: chain.demo.contracts.registry.interface.encodeFunctionData("removeAgent", [keyA.address]),
      deadline: Math.floor(Date.now() / 1000) + 600,
    });
    const refused = await relay(foreign);
    expect(refused.status).to.equal(422);
    expect(refused.body.detail).to.match(/IdentityNotOrgAdmin/);
    const removed = await lotline(["agent", "remove", keyA.address, "--dev-account", String(DEMO_MEMBERS[distributor - 1].account)], { LOTLINE_API_URL: node!.url });
    expect(removed.code, removed.stderr).to.equal(0);
    expect(removed.stdout).to.include(`${keyA.address} is no longer an agent of org ${distributor}`);
    const seen = node!.logs.length;
    records.pending1 = await storeProduct(802);
    records.pending2 = await storeProduct(803);
    await until("an anchoring round that refused key A", () =>
      node!.logs.slice(seen).some((l) => l.msg === "the integration key is not an active agent; records stay pending") ? true : undefined,
    );
    for (const id of [records.pending1, records.pending2]) expect((await proofOf(id)).status).to.equal("pending");
    // What key A anchored for the organisation stays proven: anchors belong to the organisation.
    expect((await proofOf(records.before)).verified).to.equal(true);
  });

  it("takes relayed requests while blocks are not being made, then stops", async function () {
    await send("evm_setAutomine", [false]);
    const deadline = Math.floor(Date.now() / 1000) + 3600;
    // The rotation's first step, relayed: the admin proposes key B as the organisation's integration key.
    proposal = await signForwardRequest(admin, chain.demo.contracts.forwarder, {
      to: chain.demo.deployment.contracts.registry,
      data: chain.demo.contracts.registry.interface.encodeFunctionData("setAgent", [keyB.address, distributor, rolesToMask(["integration"]), 0]),
      deadline,
    });
    // Another member's write through the same node.
    serviceUrl = await signForwardRequest(demoWallet(DEMO_MEMBERS[retailer - 1].account), chain.demo.contracts.forwarder, {
      to: chain.demo.deployment.contracts.sharing,
      data: chain.demo.contracts.sharing.interface.encodeFunctionData("setServiceUrl", [retailer, "https://lotline.freshmart.example"]),
      deadline,
    });
    for (const [name, request] of [["proposal", proposal], ["serviceUrl", serviceUrl]] as const) {
      const res = await relay(request);
      expect(res.status, JSON.stringify(res.body)).to.equal(202);
      inFlight[name] = res.body.transactionHash;
    }
    // The second one never reaches a block: the network dropped it (a restart of the member's Besu node, say).
    await send("anvil_dropTransaction", [inFlight.serviceUrl]);
    await node!.stop();
    node = null;
    await send("evm_mine");
    await send("evm_setAutomine", [true]);
  });

  it("anchors every pending record with key B after the restart, as the same organisation", async function () {
    // Key B accepts the proposal the old relayer's transaction made (docs/operations.md step 2).
    const terms = [distributor, rolesToMask(["integration"]), 0] as const;
    await (await chain.demo.contracts.registry.connect(keyB.connect(chain.demo.provider)).acceptAgent(...terms)).wait();
    node = await startMemberNode(envFor(keyB.privateKey, relayerB.privateKey));
    for (const id of [records.pending1, records.pending2]) await expectAnchoredBy(id, keyB);
    expect((await proofOf(records.before)).verified).to.equal(true);
    // New records go the same way.
    await expectAnchoredBy(await storeProduct(804), keyB);
    // The audit log names the keys now in use.
    const keys = node.db.prepare(`SELECT action, target FROM audit_log WHERE action LIKE 'node.key.%' ORDER BY seq`).all() as { action: string; target: string }[];
    expect(keys).to.deep.equal([
      { action: "node.key.relayer", target: relayerA.address },
      { action: "node.key.integration", target: keyA.address },
      { action: "node.key.relayer", target: relayerB.address },
      { action: "node.key.integration", target: keyB.address },
    ]);
  });

  it("loses no relayed request: the old relayer's transaction mined, a dropped one is resent through the new relayer", async function () {
    const mined = await chain.demo.provider.getTransactionReceipt(inFlight.proposal);
    expect(mined!.status).to.equal(1);
    expect(mined!.from).to.equal(relayerA.address);
    const status = async (hash: string) => (await (await fetch(`${node!.url}/api/v1/transactions/${hash}`)).json()) as { status: string };
    expect((await status(inFlight.proposal)).status).to.equal("succeeded");
    // The dropped request is unknown to the chain; the wallet's signature is bound to the forwarder, not the relayer.
    expect((await status(inFlight.serviceUrl)).status).to.equal("unknown");
    const resent = await relay(serviceUrl);
    expect(resent.status, JSON.stringify(resent.body)).to.equal(202);
    const receipt = await chain.demo.provider.waitForTransaction(resent.body.transactionHash);
    expect(receipt!.from).to.equal(relayerB.address);
    await node!.state.indexer!.waitForBlock(receipt!.blockNumber);
    const org = (await (await fetch(`${node!.url}/api/v1/orgs/${retailer}`)).json()) as { serviceUrl: string };
    expect(org.serviceUrl).to.equal("https://lotline.freshmart.example");
  });

  it("refuses a relayed request replayed after the rotation", async function () {
    const replay = await relay(proposal);
    expect(replay.status).to.equal(400);
    expect(replay.body.code).to.equal("invalid_signature");
  });
});
