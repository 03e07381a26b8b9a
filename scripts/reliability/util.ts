import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { dataSlice, getAddress, id as keccakText } from "ethers";
import { INTERFACES } from "../../services/chain/contracts";
import { createRpcClient, type RpcClient } from "../../services/chain/rpc";
import type { DeploymentRecord } from "../../services/chain/deploy";
import { rolesToMask } from "../../services/chain/roles";
import { demoWallet, RELAYER_ACCOUNT } from "../../services/demo/roster";
import { dumpDerivedTables, openDatabase } from "../../services/store/db";
import { createLotlineIndexer } from "../../services/indexer/lotline";

const started = Date.now();

/** Progress goes to stderr; the verdicts to stdout. */
export function progress(message: string): void {
  process.stderr.write(`[reliability +${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s] ${message}\n`);
}

/** What a harness tried, what held, and every violation it saw (a harness fails on any). */
export class Report {
  readonly tried: string[] = [];
  readonly held: string[] = [];
  readonly violations: string[] = [];
  constructor(readonly name: string) {}
  try(line: string) {
    this.tried.push(line);
  }
  check(ok: boolean, what: string, detail = ""): boolean {
    if (!ok) {
      const line = `${what}${detail ? `: ${detail}` : ""}`;
      if (this.violations.length < 50) this.violations.push(line);
      progress(`VIOLATION (${this.name}) ${line}`);
    }
    return ok;
  }
  hold(line: string) {
    this.held.push(line);
  }
}

/** A small seeded generator (mulberry32), so a failing run can be replayed with RELIABILITY_SEED. */
export function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (min: number, max: number) => min + Math.floor(next() * (max - min + 1)),
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!,
    chance: (p: number) => next() < p,
  };
}
export type Rng = ReturnType<typeof rng>;

export class Cleanup {
  private actions: (() => unknown)[] = [];
  add(run: () => unknown) {
    this.actions.push(run);
  }
  tempDir(label: string): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `lotline-reliability-${label}-`));
    this.add(() => fs.rmSync(dir, { recursive: true, force: true }));
    return dir;
  }
  async run() {
    for (const action of this.actions.reverse()) {
      try {
        await action();
      } catch (err) {
        progress(`cleanup: ${(err as Error).message}`);
      }
    }
    this.actions = [];
  }
}

/** The shared chain every harness runs against: Anvil with the demo consortium deployed. */
export interface ChainContext {
  url: string;
  rpc: RpcClient;
  deployment: DeploymentRecord;
  dataDir: string;
}

const hex = (n: number | bigint) => `0x${n.toString(16)}`;

/**
 * Identity transactions that insert, update and delete derived rows: the processor organisation's
 * admin (demo account 2, unlocked on Anvil) proposes agents and renames its organisation. One
 * transaction, one block (Anvil automines).
 */
export function createTraffic(ctx: ChainContext, random: Rng) {
  const admin = demoWallet(2).address;
  const registry = ctx.deployment.contracts.registry;
  let counter = 0;
  async function send(data: string) {
    const hash = await ctx.rpc.call<string>("eth_sendTransaction", [{ from: admin, to: registry, data, gas: hex(400_000) }]);
    // Anvil automines, so the receipt is there at once; a few tries for a chain that is slower. A
    // transaction that is never mined is not traffic: the harness would compare the index with a
    // chain that did not change.
    for (let attempt = 0; ; attempt++) {
      const receipt = await ctx.rpc.call<{ status: string } | null>("eth_getTransactionReceipt", [hash]);
      if (receipt) {
        if (receipt.status !== "0x1") throw new Error(`traffic transaction ${hash} reverted`);
        return;
      }
      if (attempt === 50) throw new Error(`traffic transaction ${hash} was not mined within 5 s`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return {
    async one(label: string) {
      counter++;
      if (random.chance(0.3)) {
        await send(INTERFACES.registry.encodeFunctionData("updateOrganisation", [2, `Processor ${label} ${counter}`, keccakText(`${label}:${counter}`)]));
      } else {
        const who = getAddress(dataSlice(keccakText(`reliability:${label}:${random.int(0, 40)}`), 12));
        const roles = rolesToMask(random.pick([["processor"], ["buyer"], ["processor", "receiver"], ["receiver"]] as const));
        await send(INTERFACES.registry.encodeFunctionData("setAgent", [who, 2, roles, 0]));
      }
    },
    async many(n: number, label: string) {
      for (let i = 0; i < n; i++) await this.one(label);
    },
  };
}

/** Indexes the chain behind `url` from scratch and returns the canonical ordered dump of the derived tables. */
export async function rebuildDump(url: string, deployment: DeploymentRecord): Promise<{ dump: string; checkpoint: number }> {
  const db = openDatabase(":memory:");
  try {
    const indexer = createLotlineIndexer({ db, rpc: createRpcClient(url), deployment }, { finalityDepth: 0, reorgWindow: 64, logRange: 2_000, rpcUrl: url });
    await indexer.syncToHead();
    const row = db.prepare(`SELECT block_number AS n FROM indexer_checkpoint`).get() as { n: number } | undefined;
    return { dump: dumpDerivedTables(db), checkpoint: row?.n ?? 0 };
  } finally {
    db.close();
  }
}

/** The first line where two dumps differ, for a readable violation. */
export function firstDifference(a: string, b: string): string {
  const la = a.split("\n");
  const lb = b.split("\n");
  for (let i = 0; i < Math.max(la.length, lb.length); i++) {
    if (la[i] !== lb[i]) return `line ${i + 1}: have ${(la[i] ?? "<none>").slice(0, 160)} / rebuild ${(lb[i] ?? "<none>").slice(0, 160)}`;
  }
  return "equal";
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const LOTLINE = path.resolve(__dirname, "../../bin/lotline.js");

export interface SpawnedNode {
  url: string;
  child: import("node:child_process").ChildProcess;
  /** Everything the node printed (stdout and stderr). */
  output(): string;
  /** Resolves once the node prints "Ready." (rejects if it exits first or `timeoutMs` passes). */
  ready(timeoutMs?: number): Promise<void>;
  /** SIGKILL, then wait for the exit. */
  kill(): Promise<void>;
  /** SIGTERM (the node stops its jobs and an embedded chain first), then wait for the exit. */
  stop(): Promise<void>;
}

/** `lotline up` in a child process against an external chain (LOTLINE_RPC_URL in `env`). */
export async function spawnNode(env: Record<string, string>, port: number): Promise<SpawnedNode> {
  const { spawn } = await import("node:child_process");
  const child = spawn(process.execPath, [LOTLINE, "up"], {
    env: { ...process.env, LOTLINE_PORT: String(port), ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let text = "";
  child.stdout!.on("data", (c: Buffer) => (text += c.toString()));
  child.stderr!.on("data", (c: Buffer) => (text += c.toString()));
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  async function signal(name: NodeJS.Signals): Promise<void> {
    if (exited()) return;
    const gone = new Promise((r) => child.once("exit", r));
    child.kill(name);
    await gone;
  }
  return {
    url: `http://127.0.0.1:${port}`,
    child,
    output: () => text,
    async ready(timeoutMs = 120_000) {
      const deadline = Date.now() + timeoutMs;
      while (!text.includes("Ready.")) {
        if (exited()) throw new Error(`lotline up exited (${child.exitCode ?? child.signalCode}) before it was ready: ${text.slice(-800)}`);
        if (Date.now() > deadline) throw new Error(`lotline up was not ready within ${timeoutMs} ms: ${text.slice(-800)}`);
        await sleep(50);
      }
    },
    kill: () => signal("SIGKILL"),
    stop: () => signal("SIGTERM"),
  };
}

/** The environment of a node on the shared chain, serving organisation 1, with the demo relayer key. */
export function nodeEnv(ctx: ChainContext, dataDir: string, deploymentFile: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    LOTLINE_RPC_URL: ctx.url,
    LOTLINE_DEPLOYMENT_FILE: deploymentFile,
    LOTLINE_DATA_DIR: dataDir,
    LOTLINE_RELAYER_KEY: demoWallet(RELAYER_ACCOUNT).privateKey,
    LOTLINE_SERVE_ORGS: "1",
    LOTLINE_LOG_LEVEL: "warn",
    ...extra,
  };
}

/** SIWE sign-in as `wallet`; returns the login response's status, body and what was signed. */
export async function signIn(
  url: string,
  wallet: { address: string; signMessage(m: string): Promise<string> },
  overrides: Record<string, unknown> = {},
): Promise<{ status: number; body: Record<string, unknown>; message: string; signature: string }> {
  const { SiweMessage } = await import("siwe");
  const post = async (p: string, body: unknown) => {
    const res = await fetch(url + p, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const nonce = await post("/api/v1/auth/nonce", { address: wallet.address });
  if (nonce.status !== 200) throw new Error(`nonce: HTTP ${nonce.status} ${JSON.stringify(nonce.body)}`);
  const now = Date.now();
  const message = new SiweMessage({
    domain: new URL(url).host,
    address: wallet.address,
    statement: "Sign in to Lotline",
    uri: url,
    version: "1",
    chainId: 31337,
    nonce: nonce.body.nonce as string,
    issuedAt: new Date(now).toISOString(),
    expirationTime: new Date(now + 5 * 60_000).toISOString(),
    ...overrides,
  }).prepareMessage();
  const signature = await wallet.signMessage(message);
  const res = await post("/api/v1/auth/login", { message, signature });
  return { ...res, message, signature };
}

export async function tokenFor(url: string, wallet: { address: string; signMessage(m: string): Promise<string> }): Promise<string> {
  const res = await signIn(url, wallet);
  if (res.status !== 200) throw new Error(`sign-in of ${wallet.address}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.token as string;
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
