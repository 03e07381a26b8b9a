import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import type { TestNode } from "../../helpers/node";
import { sharedNode } from "../api/helpers";
import { json, lotline, oneLine, type Run } from "./run";

/** `lotline subscribe add|list|remove` against the shared test node, as the producer (dev account 1). */
describe("lotline subscribe commands", function () {
  this.timeout(120_000);
  let node: TestNode;
  let dataDir: string;
  let env: Record<string, string | undefined>;
  let previousEnv: string | undefined;
  const cli = (args: string[], extra: Record<string, string | undefined> = {}): Promise<Run> =>
    lotline(args, { ...env, ...extra });

  before(async function () {
    previousEnv = process.env.LOTLINE_WEBHOOK_ALLOW_PRIVATE;
    process.env.LOTLINE_WEBHOOK_ALLOW_PRIVATE = "1"; // the node runs in this process
    node = await sharedNode();
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "lotline-cli-subscribe-"));
    env = {
      LOTLINE_API_URL: node.url,
      LOTLINE_DATA_DIR: dataDir,
      LOTLINE_RPC_URL: undefined,
      LOTLINE_CHAIN_PORT: new URL(node.chain!.url).port,
    };
  });

  after(function () {
    if (previousEnv === undefined) delete process.env.LOTLINE_WEBHOOK_ALLOW_PRIVATE;
    else process.env.LOTLINE_WEBHOOK_ALLOW_PRIVATE = previousEnv;
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("adds a webhook with a secret from LOTLINE_WEBHOOK_SECRET (never printed), lists it and removes it", async function () {
    const secret = "cli-secret-0123456789abcdef";
    const added = json(
      await cli(["--json", "subscribe", "add", "http://127.0.0.1:9/hook", "--topics", "recall,offer", "--dev-account", "1"], {
        LOTLINE_WEBHOOK_SECRET: secret,
      }),
    );
    expect(added).to.include({ url: "http://127.0.0.1:9/hook", orgId: "1" });
    expect(added.topics).to.deep.equal(["recall", "offer"]);
    expect(JSON.stringify(added)).to.not.include(secret);
    const list = await cli(["subscribe", "list", "--dev-account", "1"]);
    expect(list.code, list.stderr).to.equal(0);
    expect(list.stdout).to.include(added.id).and.not.include(secret);
    // Another organisation's agent cannot end it.
    expect(oneLine(await cli(["subscribe", "remove", added.id, "--dev-account", "8"]))).to.match(
      /^lotline: no notification subscription .* \(subscription_not_found\)$/,
    );
    const removed = await cli(["subscribe", "remove", added.id, "--dev-account", "1"]);
    expect(removed.stdout.trim()).to.equal(`ended subscription ${added.id}`);
  });

  it("refuses an unknown topic with one line", async function () {
    expect(oneLine(await cli(["subscribe", "add", "http://127.0.0.1:9/x", "--topics", "gossip", "--dev-account", "1"]))).to.match(
      /^lotline: --topics must be all or some of recall, offer, order, grant, capture/,
    );
  });
});
