import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { expect } from "chai";
import pino from "pino";
import { loadConfig } from "../../../services/config";
import { startNode, type RunningNode } from "../../../services/node/node";
import { deployLotline } from "../../../services/chain/deploy";
import { demoWallet } from "../../../services/demo/roster";
import { providerFor, startAnvil, tempDir, writeDeploymentFile } from "../../helpers/chain";
import { freePort } from "../../helpers/ports";

/**
 * A JSON-RPC pass-through that can be cut off: while `down`, every request's connection is
 * destroyed, as when the chain node crashes or the network between them fails.
 */
async function startCutoffProxy(target: string) {
  let down = false;
  const server = http.createServer((req, res) => {
    if (down) return req.socket.destroy();
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      try {
        const upstream = await fetch(target, { method: "POST", headers: { "content-type": "application/json" }, body: Buffer.concat(chunks) });
        res.writeHead(upstream.status, { "content-type": "application/json" });
        res.end(Buffer.from(await upstream.arrayBuffer()));
      } catch {
        req.socket.destroy();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    setDown(value: boolean) {
      down = value;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function until<T>(read: () => Promise<T>, ok: (value: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (ok(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe("health tells the truth when the chain cannot be reached", function () {
  let chain: Awaited<ReturnType<typeof startAnvil>>;
  let proxy: Awaited<ReturnType<typeof startCutoffProxy>>;
  let node: RunningNode;
  let dir: string;
  let base: string;

  const getJson = async (route: string) => {
    const res = await fetch(`${base}${route}`);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  before(async function () {
    chain = await startAnvil();
    dir = tempDir("health-truth");
    const provider = providerFor(chain.url);
    const deployment = await deployLotline(demoWallet(0, provider));
    provider.destroy();
    proxy = await startCutoffProxy(chain.url);
    const config = loadConfig({
      LOTLINE_DATA_DIR: path.join(dir, "member"),
      LOTLINE_PORT: "0",
      LOTLINE_CHAIN_PORT: String(await freePort()),
      LOTLINE_RPC_URL: proxy.url,
      LOTLINE_DEPLOYMENT_FILE: writeDeploymentFile(dir, deployment),
      LOTLINE_RELAYER_KEY: demoWallet(9).privateKey,
      LOTLINE_HEAD_STALE_SECONDS: "1",
    });
    node = await startNode(config, { logger: pino({ level: "silent" }) });
    await node.ready;
    base = node.url;
  });

  after(async function () {
    await node?.stop();
    await proxy?.close();
    await chain?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("says ok while the chain answers", async function () {
    const health = await until(() => getJson("/health"), (r) => r.body.status === "ok");
    expect(health.body).to.include({ status: "ok", reason: null });
    expect(health.body.lastHeadAgeSeconds).to.be.a("number").and.at.most(1);
    expect((await getJson("/ready")).status).to.equal(200);
  });

  it("says degraded, with the reason and the age of the last head, once the chain is gone", async function () {
    proxy.setDown(true);
    const health = await until(() => getJson("/health"), (r) => r.body.status === "degraded");
    expect(health.body.status).to.equal("degraded");
    expect(health.body.reason).to.match(/chain cannot be reached/);
    expect(health.body.lastHeadAgeSeconds).to.be.a("number").and.at.least(1);
  });

  it("answers /ready with 503 while degraded", async function () {
    const ready = await getJson("/ready");
    expect(ready.status).to.equal(503);
    expect(ready.body).to.include({ code: "not_ready" });
    expect(String(ready.body.detail)).to.match(/degraded/);
  });

  it("refuses writes with 503 rather than trusting a stale index for permissions", async function () {
    const res = await fetch(`${base}/api/v1/auth/nonce`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ address: demoWallet(1).address }),
    });
    expect(res.status).to.equal(503);
    expect(await res.json()).to.include({ code: "chain_unreachable" });
  });

  it("still answers reads from the index while degraded", async function () {
    expect((await getJson("/api/v1/orgs")).status).to.equal(200);
  });

  it("publishes the seconds since the last head in /metrics", async function () {
    const text = await (await fetch(`${base}/metrics`)).text();
    const seconds = Number(/^lotline_seconds_since_last_head (\S+)$/m.exec(text)?.[1]);
    expect(seconds).to.be.greaterThan(1);
    expect(text).to.match(/^lotline_anchor_backlog \d+$/m);
  });

  it("recovers to ok when the chain is back", async function () {
    proxy.setDown(false);
    const health = await until(() => getJson("/health"), (r) => r.body.status === "ok");
    expect(health.body).to.include({ status: "ok", reason: null });
    expect((await getJson("/ready")).status).to.equal(200);
  });
});
