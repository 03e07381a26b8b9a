import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import { decryptKeystoreJson, isAddress } from "ethers";
import { demoWallet } from "../../../services/demo/roster";
import { json, lotline, oneLine } from "./run";

/** The keystore needs no service: these tests run the CLI against a temporary data dir only. */
describe("lotline keys", function () {
  const PASSWORD = "correct horse battery staple";
  let dataDir: string;
  let env: Record<string, string>;

  beforeEach(function () {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "lotline-keys-"));
    env = { LOTLINE_DATA_DIR: dataDir, LOTLINE_KEY_PASSWORD: PASSWORD };
  });

  afterEach(function () {
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("creates a key, stores it as an encrypted keystore readable only by its owner, and prints only its address", async function () {
    const run = await lotline(["keys", "new", "alice"], env);
    expect(run.code, run.stderr).to.equal(0);
    const address = /created key "alice": (0x[0-9a-fA-F]{40})/.exec(run.stdout)?.[1];
    expect(address && isAddress(address), run.stdout).to.be.ok;

    const file = path.join(dataDir, "keys", "alice.json");
    expect(fs.statSync(file).mode & 0o777).to.equal(0o600);
    const account = await decryptKeystoreJson(fs.readFileSync(file, "utf8"), PASSWORD);
    expect(account.address).to.equal(address);
    expect(run.stdout + run.stderr).to.not.include(account.privateKey.slice(2));
  });

  it("imports a private key from stdin without ever printing it or storing it in clear", async function () {
    const wallet = demoWallet(1);
    const secret = wallet.privateKey.slice(2);
    const run = await lotline(["--json", "keys", "import", "producer"], env, `${wallet.privateKey}\n`);
    expect(json(run)).to.include({ name: "producer", address: wallet.address });
    for (const output of [run.stdout, run.stderr]) expect(output.toLowerCase()).to.not.include(secret.toLowerCase());
    const stored = fs.readFileSync(path.join(dataDir, "keys", "producer.json"), "utf8");
    expect(stored.toLowerCase()).to.not.include(secret.toLowerCase());
    expect(fs.statSync(path.join(dataDir, "keys", "producer.json")).mode & 0o777).to.equal(0o600);

    // Without the 0x prefix, too.
    const other = demoWallet(2);
    const second = await lotline(["keys", "import", "processor"], env, other.privateKey.slice(2));
    expect(second.code, second.stderr).to.equal(0);
    expect(second.stdout + second.stderr).to.not.include(other.privateKey.slice(2));
    expect(second.stdout).to.include(other.address);
  });

  it("lists names and addresses, in human form and as JSON", async function () {
    await lotline(["keys", "import", "producer"], env, demoWallet(1).privateKey);
    await lotline(["keys", "import", "carrier"], env, demoWallet(4).privateKey);
    const human = await lotline(["keys", "list"], env);
    expect(human.code).to.equal(0);
    expect(human.stdout).to.match(new RegExp(`^carrier\\s+${demoWallet(4).address}$`, "m"));
    expect(human.stdout).to.match(new RegExp(`^producer\\s+${demoWallet(1).address}$`, "m"));
    const listed = json(await lotline(["--json", "keys", "list"], env));
    expect(listed.map((k: { name: string; address: string }) => [k.name, k.address])).to.deep.equal([
      ["carrier", demoWallet(4).address],
      ["producer", demoWallet(1).address],
    ]);
    // Listing needs no password: it does not decrypt anything.
    expect((await lotline(["keys", "list"], { LOTLINE_DATA_DIR: dataDir })).code).to.equal(0);
  });

  it("says how to start when the keystore is empty", async function () {
    const run = await lotline(["keys", "list"], env);
    expect(run.code).to.equal(0);
    expect(run.stdout).to.include("no keys in");
    expect(json(await lotline(["--json", "keys", "list"], env))).to.deep.equal([]);
  });

  it("refuses, with one line, a missing password, a bad name, a taken name and stdin that is not a key", async function () {
    const noPassword = await lotline(["keys", "new", "alice"], { LOTLINE_DATA_DIR: dataDir });
    expect(oneLine(noPassword)).to.equal("lotline: set LOTLINE_KEY_PASSWORD to the keystore password (there is no terminal to ask for it)");
    expect(fs.existsSync(path.join(dataDir, "keys", "alice.json"))).to.equal(false);

    expect(oneLine(await lotline(["keys", "new", "../escape"], env))).to.match(/^lotline: "\.\.\/escape" is not a key name/);

    expect((await lotline(["keys", "new", "alice"], env)).code).to.equal(0);
    expect(oneLine(await lotline(["keys", "new", "alice"], env))).to.match(/^lotline: a key named "alice" already exists/);

    const notAKey = "0x1234 not a key at all";
    const garbage = await lotline(["keys", "import", "bob"], env, notAKey);
    expect(oneLine(garbage)).to.equal("lotline: stdin must hold one 32-byte hex private key (64 hex digits, 0x optional)");
    expect(garbage.stderr).to.not.include("not a key at all");
  });

  it("refuses to import the same key twice under different names", async function () {
    await lotline(["keys", "import", "producer"], env, demoWallet(1).privateKey);
    const again = await lotline(["keys", "import", "farm"], env, demoWallet(1).privateKey);
    expect(oneLine(again)).to.equal(`lotline: ${demoWallet(1).address} is already in the keystore as "producer"`);
  });
});
