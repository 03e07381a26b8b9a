import { execFile } from "node:child_process";
import path from "node:path";
import { expect } from "chai";
import { DEMO_MEMBERS, demoWallet } from "../../../services/demo/roster";
import type { TestNode } from "../../helpers/node";
import { sharedNode } from "../api/helpers";

const LOTLINE = path.resolve(__dirname, "../../../bin/lotline.js");

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function lotline(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [LOTLINE, ...args], { env: { ...process.env, ...env } }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe("the lotline CLI", function () {
  let node: TestNode;
  let env: Record<string, string>;

  before(async function () {
    node = await sharedNode();
    // Read-only commands read as the demo's auditor (members-only routes, README "Who may read what").
    env = { LOTLINE_API_URL: node.url, LOTLINE_DEV_ACCOUNT: "7" };
  });

  it("prints help listing its commands", async function () {
    const run = await lotline(["--help"]);
    expect(run.code).to.equal(0);
    for (const command of ["up", "status", "org", "agent", "index", "deploy", "besu-genesis"]) expect(run.stdout).to.include(command);
  });

  it("reports the service's status as JSON with --json", async function () {
    const run = await lotline(["--json", "status"], env);
    expect(run.code).to.equal(0);
    expect(JSON.parse(run.stdout)).to.include({ status: "ok", chainId: 31337 });
  });

  it("lists every organisation, following cursors", async function () {
    const run = await lotline(["--json", "org", "list"], env);
    expect(JSON.parse(run.stdout).map((o: { name: string }) => o.name)).to.deep.equal(DEMO_MEMBERS.map((m) => m.name));
  });

  it("shows an organisation with its agents and credentials in human form", async function () {
    const run = await lotline(["org", "show", "8"], env);
    expect(run.code).to.equal(0);
    expect(run.stdout).to.include("EcoCert Europe (org 8, active)");
    expect(run.stdout).to.include(demoWallet(8).address);
    expect(run.stdout).to.match(/ORGANIC issued by org 8 to org 6: revoked/);
  });

  it("shows an agent given a lowercase address", async function () {
    const run = await lotline(["agent", "show", demoWallet(1).address.toLowerCase()], env);
    expect(run.code).to.equal(0);
    expect(run.stdout).to.include(`${demoWallet(1).address}: org 1, active`);
  });

  it("lets an org admin propose a wallet, the wallet accept through the relayer, then leave", async function () {
    this.timeout(60_000);
    const wallet = demoWallet(19).address;
    const propose = await lotline(["agent", "propose", wallet, "--org", "7", "--roles", "auditor", "--dev-account", "7"], env);
    expect(propose.code, propose.stderr).to.equal(0);
    await node.synced();
    const listed = await lotline(["agent", "proposals", wallet], env);
    expect(listed.stdout).to.match(/org 7: roles auditor/);

    const accept = await lotline(["agent", "accept", "--org", "7", "--dev-account", "19"], env);
    expect(accept.code, accept.stderr).to.equal(0);
    await node.synced();
    expect((await lotline(["agent", "show", wallet], env)).stdout).to.include(`${wallet}: org 7, active`);

    const leave = await lotline(["agent", "leave", "--dev-account", "19"], env);
    expect(leave.code, leave.stderr).to.equal(0);
    expect((await node.contracts.registry.agent(wallet)).orgId).to.equal(0n);
    await node.synced();
  });

  it("exits 1 with one line when accepting a proposal no organisation made", async function () {
    const run = await lotline(["agent", "accept", "--org", "3", "--dev-account", "19"], env);
    expect(run.code).to.equal(1);
    expect(run.stderr.trim()).to.match(/^lotline: organisation 3 has proposed no binding to 0x[0-9a-fA-F]{40}; ask its org admin/);
  });

  it("exits 1 with one line when an organisation does not exist", async function () {
    const run = await lotline(["org", "show", "999"], env);
    expect(run.code).to.equal(1);
    expect(run.stderr.trim().split("\n")).to.deep.equal(["lotline: no organisation 999 (org_not_found)"]);
  });

  it("exits 1 with one line for an argument that is not an address", async function () {
    const run = await lotline(["agent", "show", "0x123"], env);
    expect(run.code).to.equal(1);
    expect(run.stderr.trim()).to.equal('lotline: "0x123" is not an address (0x followed by 40 hex digits)');
  });

  it("exits 1 with one line saying how to start the service when it is not running", async function () {
    const run = await lotline(["status"], { LOTLINE_API_URL: "http://127.0.0.1:9" });
    expect(run.code).to.equal(1);
    expect(run.stderr.trim()).to.match(/^lotline: cannot reach the Lotline service at http:\/\/127\.0\.0\.1:9: start it with 'npm start'/);
  });

  it("exits non-zero on an unknown command", async function () {
    const run = await lotline(["frobnicate"]);
    expect(run.code).to.not.equal(0);
    expect(run.stderr).to.include("unknown command 'frobnicate'");
  });

  it("prints a Besu QBFT genesis whose extraData names the validators", async function () {
    const validators = [demoWallet(1).address, demoWallet(2).address, demoWallet(3).address, demoWallet(4).address];
    const run = await lotline(["besu-genesis", "--validators", validators.join(","), "--chain-id", "2026"]);
    expect(run.code).to.equal(0);
    const genesis = JSON.parse(run.stdout);
    expect(genesis.config).to.include({ chainId: 2026, cancunTime: 0, shanghaiTime: 0, zeroBaseFee: true });
    for (const v of validators) expect(genesis.extraData).to.include(v.slice(2).toLowerCase());
  });
});
