import fs from "node:fs";
import path from "node:path";
import { Writable } from "node:stream";
import { expect } from "chai";
import pino from "pino";
import type { Signer } from "ethers";
import { loadConfig } from "../../services/config";
import { startNode, type RunningNode } from "../../services/node/node";
import { signInMessage, type SignInChallenge } from "../../services/identity/sign-in-message";
import { freePort } from "./ports";
import { deployDemo, startAnvil, tempDir, writeDeploymentFile } from "./chain";

/**
 * One chain for the tests of member nodes on an existing network (the standard-RPC proxy, key
 * rotation): Anvil with the demo consortium deployed and seeded (no supply chain), its deployment
 * file, started on first use and stopped by a root-level hook. Each test file works with its own
 * organisations, so they stay independent of their order.
 */
export interface MemberChain {
  url: string;
  dir: string;
  deploymentFile: string;
  demo: Awaited<ReturnType<typeof deployDemo>>;
  anvil: Awaited<ReturnType<typeof startAnvil>>;
}

let sharedChain: Promise<MemberChain> | null = null;

export function memberChain(): Promise<MemberChain> {
  sharedChain ??= (async () => {
    const anvil = await startAnvil();
    const demo = await deployDemo(anvil.url);
    const dir = tempDir("members");
    return { url: anvil.url, dir, deploymentFile: writeDeploymentFile(dir, demo.deployment), demo, anvil };
  })();
  return sharedChain;
}

after(async function () {
  if (!sharedChain) return;
  const chain = await sharedChain.catch(() => null);
  sharedChain = null;
  if (!chain) return;
  chain.demo.provider.destroy();
  await chain.anvil.stop();
  fs.rmSync(chain.dir, { recursive: true, force: true });
  fs.rmSync(chain.anvil.dataDir, { recursive: true, force: true });
});

/**
 * A member's Lotline node on an existing chain, configured as on a real network: an RPC URL, the
 * consortium's deployment file, its own keys and the organisations it serves (docs/besu.md §4).
 * `logs` collects the node's log lines (parsed), so tests can wait for what a job reported.
 */
export interface MemberNode extends RunningNode {
  logs: { msg: string; level: number; [key: string]: unknown }[];
}

export async function startMemberNode(env: Record<string, string>): Promise<MemberNode> {
  const logs: MemberNode["logs"] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString("utf8").split("\n")) if (line.trim()) logs.push(JSON.parse(line));
      done();
    },
  });
  const config = loadConfig({
    LOTLINE_PORT: "0",
    LOTLINE_CHAIN_PORT: String(await freePort()),
    LOTLINE_LOG_LEVEL: "info",
    LOTLINE_FINALITY_DEPTH: "0",
    ...env,
  });
  const node = await startNode(config, { logger: pino({ level: "info" }, sink) });
  try {
    await node.ready;
  } catch (err) {
    await node.stop();
    throw err;
  }
  return Object.assign(node, { logs });
}

/** Signs in to a node with a wallet (SIWE, the message as the node's nonce route names it) and returns the bearer token. */
export async function signInTo(node: RunningNode, wallet: Signer): Promise<string> {
  const address = await wallet.getAddress();
  const nonceRes = await fetch(`${node.url}/api/v1/auth/nonce`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ address }) });
  const message = signInMessage((await nonceRes.json()) as SignInChallenge, address);
  const login = await fetch(`${node.url}/api/v1/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ message, signature: await wallet.signMessage(message) }),
  });
  const body = (await login.json()) as { token: string };
  expect(login.status, JSON.stringify(body)).to.equal(200);
  return body.token;
}

/** Polls `check` (every 100 ms) until it returns a value other than undefined, or fails after `ms`. */
export async function until<T>(what: string, check: () => Promise<T | undefined> | T | undefined, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export function memberDataDir(root: string, name: string): string {
  const dir = path.join(root, name);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}
