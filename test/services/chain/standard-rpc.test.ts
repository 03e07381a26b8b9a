import { expect } from "chai";
import { Wallet } from "ethers";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { startRecordingRpcProxy, type RecordingRpcProxy } from "../../helpers/rpc-proxy";
import { memberChain, memberDataDir, signInTo, startMemberNode, until, type MemberChain, type MemberNode } from "../../helpers/member";
import { DEMO_MEMBERS, demoWallet } from "../../../services/demo/roster";
import { signForwardRequest } from "../../../services/relayer/forward-request";
import { gtinFor } from "../../../services/gs1/keys";

/**
 * The standard Ethereum JSON-RPC methods (execution-apis `eth_*`, plus `net_*` and `web3_*`): what a
 * Besu node serves with `--rpc-http-api=ETH,NET,WEB3` (docs/besu.md). Lotline outside its tests must
 * call nothing else: no anvil_/hardhat_/evm_/debug_/txpool_/admin_/trace_/qbft_/perm_ method.
 */
const STANDARD_METHODS = new Set([
  "eth_accounts",
  "eth_blobBaseFee",
  "eth_blockNumber",
  "eth_call",
  "eth_chainId",
  "eth_coinbase",
  "eth_createAccessList",
  "eth_estimateGas",
  "eth_feeHistory",
  "eth_gasPrice",
  "eth_getBalance",
  "eth_getBlockByHash",
  "eth_getBlockByNumber",
  "eth_getBlockReceipts",
  "eth_getBlockTransactionCountByHash",
  "eth_getBlockTransactionCountByNumber",
  "eth_getCode",
  "eth_getFilterChanges",
  "eth_getFilterLogs",
  "eth_getLogs",
  "eth_getProof",
  "eth_getStorageAt",
  "eth_getTransactionByBlockHashAndIndex",
  "eth_getTransactionByBlockNumberAndIndex",
  "eth_getTransactionByHash",
  "eth_getTransactionCount",
  "eth_getTransactionReceipt",
  "eth_getUncleCountByBlockHash",
  "eth_getUncleCountByBlockNumber",
  "eth_maxPriorityFeePerGas",
  "eth_newBlockFilter",
  "eth_newFilter",
  "eth_newPendingTransactionFilter",
  "eth_sendRawTransaction",
  "eth_syncing",
  "eth_uninstallFilter",
  "net_listening",
  "net_peerCount",
  "net_version",
  "web3_clientVersion",
  "web3_sha3",
]);

/**
 * A member's node between it and its chain a recording proxy: every JSON-RPC call the node makes,
 * batches included, through boot, indexing, a relayed write, anchoring and reads.
 */
describe("Lotline calls only standard JSON-RPC methods (a recording proxy before the chain)", function () {
  this.timeout(120_000);
  let chain: MemberChain;
  let proxy: RecordingRpcProxy;
  let node: MemberNode;
  const cheeseMaker = DEMO_MEMBERS.findIndex((m) => m.key === "processor2") + 1;
  const admin = demoWallet(DEMO_MEMBERS[cheeseMaker - 1].account);

  before(async function () {
    chain = await memberChain();
    proxy = await startRecordingRpcProxy(chain.url);
    const relayer = Wallet.createRandom();
    await (await demoWallet(0, chain.demo.provider).sendTransaction({ to: relayer.address, value: 10n ** 18n })).wait();
    node = await startMemberNode({
      LOTLINE_DATA_DIR: memberDataDir(chain.dir, "standard-rpc"),
      LOTLINE_RPC_URL: proxy.url,
      LOTLINE_DEPLOYMENT_FILE: chain.deploymentFile,
      LOTLINE_INTEGRATION_KEY: demoWallet(DEMO_MEMBERS[cheeseMaker - 1].integrationAccount).privateKey,
      LOTLINE_RELAYER_KEY: relayer.privateKey,
      LOTLINE_SERVE_ORGS: String(cheeseMaker),
    });
  });

  after(async function () {
    await node?.stop();
    await proxy?.stop();
  });

  it("boots, indexes, relays, anchors and answers reads through standard eth_ methods only", async function () {
    const token = await signInTo(node, admin);
    const auth = { authorization: `Bearer ${token}`, "content-type": "application/json" };

    // An off-chain record, anchored by the node's integration key.
    const stored = await fetch(`${node.url}/api/v1/products`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ gtin: gtinFor("3012345", 999), name: "Tomme de test", unit: "KGM" }),
    });
    const { recordId } = (await stored.json()) as { recordId: string };
    expect(stored.status).to.equal(201);
    const proof = await until("the record's anchor", async () => {
      const body = (await (await fetch(`${node.url}/api/v1/anchors/records/${recordId}/proof`)).json()) as {
        status: string;
        merkleRoot: string;
        leaf: string;
        proof: string[];
        verified: boolean;
      };
      return body.status === "anchored" ? body : undefined;
    });
    expect(proof.verified).to.equal(true);
    expect(StandardMerkleTree.verify(proof.merkleRoot, ["bytes32"], [proof.leaf], proof.proof)).to.equal(true);

    // A relayed write: the admin publishes its node's URL, the node's relayer pays.
    const url = "https://lotline.fromagerie.example";
    const request = await signForwardRequest(admin, chain.demo.contracts.forwarder, {
      to: chain.demo.deployment.contracts.sharing,
      data: chain.demo.contracts.sharing.interface.encodeFunctionData("setServiceUrl", [cheeseMaker, url]),
      deadline: Math.floor(Date.now() / 1000) + 600,
    });
    const relayed = await fetch(`${node.url}/api/v1/relay`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ ...request, value: request.value.toString(), gas: request.gas.toString() }),
    });
    const { transactionHash } = (await relayed.json()) as { transactionHash: string };
    expect(relayed.status).to.equal(202);
    await until("the relayed transaction, indexed", async () => {
      const body = (await (await fetch(`${node.url}/api/v1/transactions/${transactionHash}`)).json()) as { status: string; indexed: boolean };
      return body.status === "succeeded" && body.indexed ? true : undefined;
    });

    // Reads.
    const org = (await (await fetch(`${node.url}/api/v1/orgs/${cheeseMaker}`)).json()) as { serviceUrl: string };
    expect(org.serviceUrl).to.equal(url);
    const reads = [
      "/health",
      "/ready",
      "/api/v1/deployment",
      `/api/v1/relay/nonces/${admin.address}`,
      "/api/v1/orgs",
      `/api/v1/agents/${admin.address}`,
      `/api/v1/anchors/${proof.merkleRoot}`,
      // A transaction the chain does not know: the node looks for a receipt, then for the transaction.
      `/api/v1/transactions/0x${"ab".repeat(32)}`,
    ];
    for (const path of reads) {
      const res = await fetch(`${node.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
      expect(res.status, path).to.equal(200);
    }

    const methods = proxy.methods();
    // The proxy did see the node's traffic, batches included (ethers batches concurrent calls).
    expect(proxy.batches).to.be.greaterThan(0);
    expect(methods).to.include.members(["eth_chainId", "eth_getBlockByNumber", "eth_getLogs", "eth_call", "eth_sendRawTransaction", "eth_getTransactionByHash"]);
    const nonStandard = methods.filter((m) => !STANDARD_METHODS.has(m));
    expect(nonStandard, `non-standard JSON-RPC methods called: ${nonStandard.join(", ")}`).to.deep.equal([]);
    expect(methods.filter((m) => /^(anvil|hardhat|evm|debug|txpool|admin|trace|qbft|perm|miner|personal|clique|ibft)_/.test(m))).to.deep.equal([]);
    // What docs/besu.md tells a member to enable: every call is in Besu's ETH API.
    expect([...new Set(methods.map((m) => m.split("_")[0]))]).to.deep.equal(["eth"]);
  });
});
