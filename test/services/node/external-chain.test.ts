import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import pino from "pino";
import { loadConfig } from "../../../services/config";
import { startNode } from "../../../services/node/node";
import { demoWallet } from "../../../services/demo/roster";
import { createRpcClient } from "../../../services/chain/rpc";
import { CONTRACTS_VERSION } from "../../../services/chain/version";
import { startAnvil, tempDir } from "../../helpers/chain";
import { freePort } from "../../helpers/ports";

const LOTLINE = path.resolve(__dirname, "../../../bin/lotline.js");

describe("running against an existing chain (LOTLINE_RPC_URL)", function () {
  let chain: Awaited<ReturnType<typeof startAnvil>>;
  let dir: string;
  let deploymentFile: string;

  before(async function () {
    chain = await startAnvil();
    dir = tempDir("external");
    deploymentFile = path.join(dir, "shared", "deployment.json");
    await new Promise<void>((resolve, reject) =>
      execFile(
        process.execPath,
        [LOTLINE, "deploy", "--out", deploymentFile],
        { env: { ...process.env, LOTLINE_RPC_URL: chain.url, LOTLINE_DEPLOYER_KEY: demoWallet(0).privateKey } },
        (error, _stdout, stderr) => (error ? reject(new Error(stderr)) : resolve()),
      ),
    );
  });

  after(async function () {
    await chain.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function boot(env: Record<string, string>) {
    const config = loadConfig({
      LOTLINE_DATA_DIR: path.join(dir, `member-${Math.random().toString(36).slice(2)}`),
      LOTLINE_PORT: "0",
      LOTLINE_CHAIN_PORT: String(await freePort()),
      LOTLINE_RPC_URL: chain.url,
      LOTLINE_RELAYER_KEY: demoWallet(9).privateKey,
      ...env,
    });
    return startNode(config, { logger: pino({ level: "silent" }) });
  }

  it("npm run deploy writes a deployment record naming the chain's genesis", async function () {
    const record = JSON.parse(fs.readFileSync(deploymentFile, "utf8"));
    expect(record.genesisHash).to.equal((await createRpcClient(chain.url).getBlock(0))!.hash);
    expect(record.contracts).to.include.keys("forwarder", "registry", "credentials", "provenance", "units", "anchors", "escrow", "token", "sharing");
    expect(record.contractsVersion).to.equal(CONTRACTS_VERSION);
  });

  it("refuses a deployment file of other contracts (an earlier version), saying to deploy the current ones", async function () {
    const { contractsVersion: _version, ...record } = JSON.parse(fs.readFileSync(deploymentFile, "utf8"));
    const earlier = path.join(dir, "earlier.json");
    fs.writeFileSync(earlier, JSON.stringify(record));
    const node = await boot({ LOTLINE_DEPLOYMENT_FILE: earlier });
    let error: Error | undefined;
    await node.ready.catch((err: Error) => (error = err));
    expect(error?.name).to.equal("ContractsVersionError");
    expect(error?.message).to.match(/is a deployment of contracts of a version it did not record, but this Lotline needs contracts .*: deploy the current contracts \(lotline deploy\)/);
    await node.stop();
  });

  it("uses the shared deployment and neither deploys nor seeds", async function () {
    const blocksBefore = await createRpcClient(chain.url).blockNumber();
    const node = await boot({ LOTLINE_DEPLOYMENT_FILE: deploymentFile });
    await node.ready;
    expect(node.chain).to.equal(null);
    const orgs = (await (await fetch(`${node.url}/api/v1/orgs`)).json()) as { items: unknown[] };
    expect(orgs.items).to.deep.equal([]);
    const health = (await (await fetch(`${node.url}/health`)).json()) as { headBlock: number; status: string };
    expect(health.status).to.equal("ok");
    expect(health.headBlock).to.equal(blocksBefore);
    await node.stop();
  });

  it("refuses to start without a deployment file", async function () {
    const node = await boot({});
    let error: Error | undefined;
    await node.ready.catch((err: Error) => (error = err));
    expect(error?.message).to.match(/LOTLINE_DEPLOYMENT_FILE is not/);
    expect(node.state.phase).to.equal("failed");
    const ready = await fetch(`${node.url}/ready`);
    expect(ready.status).to.equal(503);
    await node.stop();
  });

  it("refuses a deployment file made for another chain (genesis hash differs)", async function () {
    const record = JSON.parse(fs.readFileSync(deploymentFile, "utf8"));
    const wrong = path.join(dir, "wrong.json");
    fs.writeFileSync(wrong, JSON.stringify({ ...record, genesisHash: `0x${"ab".repeat(32)}` }));
    const node = await boot({ LOTLINE_DEPLOYMENT_FILE: wrong });
    let error: Error | undefined;
    await node.ready.catch((err: Error) => (error = err));
    expect(error?.name).to.equal("WrongChainError");
    expect(error?.message).to.match(/wrong chain or wrong LOTLINE_DEPLOYMENT_FILE/);
    await node.stop();
  });

  it("refuses a deployment file with missing fields, naming them", async function () {
    const broken = path.join(dir, "broken.json");
    fs.writeFileSync(broken, JSON.stringify({ chainId: 31337 }));
    const node = await boot({ LOTLINE_DEPLOYMENT_FILE: broken });
    let error: Error | undefined;
    await node.ready.catch((err: Error) => (error = err));
    expect(error?.message).to.match(/missing or has invalid: genesisHash, startBlock, contracts.forwarder/);
    await node.stop();
  });

  it("refuses to start without a relayer key", async function () {
    const node = await boot({ LOTLINE_DEPLOYMENT_FILE: deploymentFile, LOTLINE_RELAYER_KEY: "" });
    let error: Error | undefined;
    await node.ready.catch((err: Error) => (error = err));
    expect(error?.message).to.match(/LOTLINE_RELAYER_KEY is required/);
    await node.stop();
  });
});
