import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { DEV_MNEMONIC, EVM_HARDFORK, LOCAL_CHAIN_ID } from "./evm";
import { createRpcClient } from "./rpc";

/**
 * The embedded default chain: Anvil (Foundry's node, from the npm registry) with its state in the
 * data dir, so `npm start` twice gives the same chain (docs/adr/0003). Anvil writes the state file
 * on a clean exit and every `stateIntervalSeconds`; after a crash the chain may come back shorter,
 * which the indexer treats as a reorganisation.
 */
export interface EmbeddedChain {
  url: string;
  stateFile: string;
  stop(): Promise<void>;
  /** Kills the node without letting it save (tests use it to simulate a crash). */
  kill(): void;
  process: ChildProcess;
}

export interface EmbeddedChainOptions {
  dataDir: string;
  port: number;
  host?: string;
  stateIntervalSeconds?: number;
  accounts?: number;
  /** Timestamp of block 0 when the chain is created (a fresh data dir); ignored on restart. */
  genesisTimestamp?: number;
}

export function anvilBinary(): string {
  const platform = `${process.platform === "win32" ? "win32" : process.platform}-${process.arch === "x64" ? "amd64" : process.arch}`;
  const pkg = `@foundry-rs/anvil-${platform}`;
  try {
    const dir = path.dirname(require.resolve(`${pkg}/package.json`));
    return path.join(dir, "bin", process.platform === "win32" ? "anvil.exe" : "anvil");
  } catch {
    throw new Error(`the embedded chain needs ${pkg}; run npm install (or set LOTLINE_RPC_URL to use another chain)`);
  }
}

/**
 * The environment the chain process gets: the node's own, less anything that looks like a secret
 * (node keys, keystore passwords, tokens). Anvil needs none of them, and a child process's
 * environment is readable by every process of the same user (/proc/<pid>/environ).
 */
export function chainEnvironment(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([name]) => !/KEY|SECRET|PASSWORD|TOKEN|MNEMONIC|SEED/i.test(name)));
}

/**
 * Stops a chain left running by an earlier node that died without stopping it (SIGKILL, power
 * loss of the parent only): its pid file names it. Only a process whose command line is this
 * data dir's Anvil is touched, so a recycled pid is never killed.
 */
export async function stopLeftoverChain(pidFile: string, stateFile: string): Promise<boolean> {
  let pid: number;
  try {
    pid = Number(fs.readFileSync(pidFile, "utf8").trim());
  } catch {
    return false;
  }
  const isOurs = () => {
    try {
      const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8");
      return cmdline.includes("anvil") && cmdline.includes(stateFile);
    } catch {
      return false;
    }
  };
  if (!Number.isInteger(pid) || pid <= 0 || !isOurs()) {
    fs.rmSync(pidFile, { force: true });
    return false;
  }
  process.kill(pid, "SIGINT"); // Anvil saves its state on SIGINT
  const deadline = Date.now() + 10_000;
  while (isOurs() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (isOurs()) process.kill(pid, "SIGKILL");
  while (isOurs()) await new Promise((r) => setTimeout(r, 50));
  fs.rmSync(pidFile, { force: true });
  return true;
}

export async function startEmbeddedChain(options: EmbeddedChainOptions): Promise<EmbeddedChain> {
  const host = options.host ?? "127.0.0.1";
  const chainDir = path.join(options.dataDir, "chain");
  fs.mkdirSync(chainDir, { recursive: true, mode: 0o700 });
  const stateFile = path.join(chainDir, "anvil-state.json");
  const pidFile = path.join(chainDir, "anvil.pid");
  const url = `http://${host}:${options.port}`;
  await stopLeftoverChain(pidFile, stateFile);

  const probe = createRpcClient(url, { timeoutMs: 1_000 });
  if (await probe.chainId().then(() => true, () => false)) {
    throw new Error(`port ${options.port} already serves JSON-RPC; set LOTLINE_CHAIN_PORT to a free port`);
  }

  const args = [
    "--host", host,
    "--port", String(options.port),
    "--chain-id", String(LOCAL_CHAIN_ID),
    "--hardfork", EVM_HARDFORK,
    "--mnemonic", DEV_MNEMONIC,
    "--accounts", String(options.accounts ?? 20),
    "--balance", "1000000",
    "--state", stateFile,
    "--state-interval", String(options.stateIntervalSeconds ?? 1),
    "--silent",
  ];
  if (options.genesisTimestamp !== undefined && !fs.existsSync(stateFile)) args.push("--timestamp", String(options.genesisTimestamp));
  const child = spawn(anvilBinary(), args, { stdio: ["ignore", "ignore", "pipe"], env: chainEnvironment() });
  if (child.pid) fs.writeFileSync(pidFile, String(child.pid), { mode: 0o600 });
  child.once("exit", () => fs.rmSync(pidFile, { force: true }));
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4_000);
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the embedded chain exited (${child.exitCode}): ${stderr.trim()}`);
    if (await probe.chainId().then(() => true, () => false)) break;
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`the embedded chain did not answer on ${url} within 30 s: ${stderr.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  return {
    url,
    stateFile,
    process: child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGINT"); // Anvil saves its state on SIGINT
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      await exited;
      clearTimeout(timer);
    },
    kill() {
      child.kill("SIGKILL");
    },
  };
}
