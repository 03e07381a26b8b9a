import fs from "node:fs";
import path from "node:path";
import { Wallet } from "ethers";
import { parseServedOrgs } from "./served";

/** Everything Lotline reads from its environment, with the defaults documented in README.md. */
export interface Config {
  /** JSON-RPC endpoint of an existing chain; unset → the embedded local chain. */
  rpcUrl: string | null;
  dataDir: string;
  port: number;
  host: string;
  /** JSON-RPC port of the embedded chain. */
  chainPort: number;
  /** Blocks behind the head the indexer waits for before indexing (0 for QBFT's instant finality). */
  finalityDepth: number;
  /** Blocks kept reversible: a reorganisation up to this depth is rolled back, a deeper one halts. */
  reorgWindow: number;
  /** Largest block range of one eth_getLogs call; halved automatically when the node refuses. */
  logRange: number;
  /** Requests per minute per client (authenticated address, else IP). */
  rateLimit: number;
  /** Deployment record of a shared deployment on a real network. */
  deploymentFile: string | null;
  /**
   * Base URL clients use to reach this service; Sign-In with Ethereum messages must name it.
   * null: http://{host}:{port the API listens on}.
   */
  publicUrl: string | null;
  /** Private key the relayer submits with (hex); on the embedded chain defaults to demo account 9. */
  relayerKey: string | null;
  /**
   * This member's integration key (an agent of its organisation with the integration role): it
   * anchors off-chain records. On the embedded chain, the demo producer's integration key.
   */
  integrationKey: string | null;
  /** Log level for pino (`info` by default; `silent` in tests). */
  logLevel: string;
  /** Whether to seed the demo consortium on a freshly deployed embedded chain. */
  seedDemo: boolean;
  /**
   * LOTLINE_DEMO_NODES: member nodes the embedded demo runs (3: the consortium of services/node/consortium.ts,
   * on ports LOTLINE_PORT, +1, +2; 1: one node serving every member). Ignored with LOTLINE_RPC_URL.
   */
  demoNodes: 1 | 3;
  /**
   * Seconds without a successful read of the chain head after which the node is degraded: /health
   * says so, /ready answers 503 and writes that re-check permissions answer 503.
   */
  headStaleSeconds: number;
  /**
   * Organisations this node serves (LOTLINE_SERVE_ORGS, ids separated by commas): it accepts their
   * writes and acts on-chain only for their agents. null: the organisation of the integration key
   * (every organisation on the embedded demo chain, whose one node serves the whole demo).
   */
  serveOrgs: number[] | null;
  /** Seconds between queuings of the audit log's head for anchoring, when it moved (0: never). */
  auditAnchorSeconds: number;
  /**
   * Which proxies to believe about the client's address (X-Forwarded-For), for rate limits and
   * logs: false (the default: the socket's peer is the client), true (every hop), a number of hops,
   * or addresses / CIDR ranges of the proxies (LOTLINE_TRUST_PROXY).
   */
  trustProxy: boolean | number | string[];
  /** Bytes of captured EPCIS documents each organisation may store on this node (0: no quota). */
  epcisQuotaBytes: number;
  /** Deepest lineage walk a trace may ask for (maxDepth beyond it is refused). */
  maxTraceDepth: number;
  /** Most items a lineage result (trace, recall impact) may hold before it is refused as too large. */
  maxResultItems: number;
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const port = integer(env, "LOTLINE_PORT", 8080, 0, 65535);
  const host = env.LOTLINE_HOST?.trim() || "127.0.0.1";
  const dataDir = path.resolve(env.LOTLINE_DATA_DIR?.trim() || "./data");
  const rpcUrl = env.LOTLINE_RPC_URL?.trim() || null;
  if (rpcUrl && /^wss?:\/\//i.test(rpcUrl)) {
    // The node speaks JSON-RPC over HTTP (every call is a fetch); a WebSocket URL would fail later, deep in boot.
    throw new ConfigError(`LOTLINE_RPC_URL must be an http(s) URL: WebSocket endpoints are not supported, use the node's HTTP JSON-RPC port (got "${rpcUrl}")`);
  }
  if (rpcUrl && !/^https?:\/\//.test(rpcUrl)) {
    throw new ConfigError(`LOTLINE_RPC_URL must be an http(s) URL, got "${rpcUrl}"`);
  }
  const relayerKey = nodeKey(env, "LOTLINE_RELAYER");
  const integrationKey = nodeKey(env, "LOTLINE_INTEGRATION");
  const publicUrl = env.LOTLINE_PUBLIC_URL?.trim().replace(/\/$/, "") || null;
  if (publicUrl && !URL.canParse(publicUrl)) throw new ConfigError(`LOTLINE_PUBLIC_URL must be a URL, got "${publicUrl}"`);
  return {
    rpcUrl,
    dataDir,
    port,
    host,
    chainPort: integer(env, "LOTLINE_CHAIN_PORT", 8545, 1, 65535),
    finalityDepth: integer(env, "LOTLINE_FINALITY_DEPTH", 0, 0, 10_000),
    reorgWindow: integer(env, "LOTLINE_REORG_WINDOW", 64, 1, 100_000),
    rateLimit: integer(env, "LOTLINE_RATE_LIMIT", 600, 1, 1_000_000),
    logRange: integer(env, "LOTLINE_LOG_RANGE", 2_000, 1, 1_000_000),
    deploymentFile: env.LOTLINE_DEPLOYMENT_FILE?.trim() ? path.resolve(env.LOTLINE_DEPLOYMENT_FILE.trim()) : null,
    publicUrl,
    relayerKey,
    integrationKey,
    logLevel: env.LOTLINE_LOG_LEVEL?.trim() || "info",
    seedDemo: (env.LOTLINE_DEMO ?? "1") !== "0",
    demoNodes: demoNodes(env),
    headStaleSeconds: integer(env, "LOTLINE_HEAD_STALE_SECONDS", 30, 1, 86_400),
    serveOrgs: servedOrgs(env),
    auditAnchorSeconds: integer(env, "LOTLINE_AUDIT_ANCHOR_SECONDS", 300, 0, 86_400),
    trustProxy: trustProxy(env.LOTLINE_TRUST_PROXY),
    epcisQuotaBytes: integer(env, "LOTLINE_EPCIS_QUOTA_BYTES", 1_073_741_824, 0, Number.MAX_SAFE_INTEGER),
    maxTraceDepth: integer(env, "LOTLINE_MAX_TRACE_DEPTH", 1000, 1, 1000),
    maxResultItems: integer(env, "LOTLINE_MAX_RESULT_ITEMS", 10_000, 1, 10_000_000),
  };
}

/**
 * A node key from `<PREFIX>_KEY` (hex) or, kept like a key should be, from an encrypted JSON
 * keystore `<PREFIX>_KEYSTORE` (Web3 Secret Storage, as `lotline keys` writes) unlocked with the
 * password in the file `<PREFIX>_KEYSTORE_PASSWORD_FILE`. Errors name the variables, never a value.
 */
export function nodeKey(env: NodeJS.ProcessEnv, prefix: string): string | null {
  const hex = privateKey(env, `${prefix}_KEY`);
  const keystore = env[`${prefix}_KEYSTORE`]?.trim();
  if (!keystore) return hex;
  if (hex) throw new ConfigError(`set ${prefix}_KEY or ${prefix}_KEYSTORE, not both`);
  const passwordFile = env[`${prefix}_KEYSTORE_PASSWORD_FILE`]?.trim();
  if (!passwordFile) throw new ConfigError(`${prefix}_KEYSTORE needs ${prefix}_KEYSTORE_PASSWORD_FILE (a file holding its password)`);
  let json: string;
  let password: string;
  try {
    json = fs.readFileSync(path.resolve(keystore), "utf8");
  } catch {
    throw new ConfigError(`${prefix}_KEYSTORE: cannot read the keystore file ${path.resolve(keystore)}`);
  }
  try {
    // One trailing newline is how most editors and `echo` end the file; it is not part of the password.
    password = fs.readFileSync(path.resolve(passwordFile), "utf8").replace(/\r?\n$/, "");
  } catch {
    throw new ConfigError(`${prefix}_KEYSTORE_PASSWORD_FILE: cannot read the password file ${path.resolve(passwordFile)}`);
  }
  try {
    return Wallet.fromEncryptedJsonSync(json, password).privateKey;
  } catch {
    throw new ConfigError(`${prefix}_KEYSTORE: the keystore cannot be unlocked with the password in ${prefix}_KEYSTORE_PASSWORD_FILE (wrong password or not a keystore)`);
  }
}

/** LOTLINE_TRUST_PROXY: unset/false, true, a hop count, or proxy addresses and CIDR ranges separated by commas. */
function trustProxy(raw: string | undefined): boolean | number | string[] {
  const value = raw?.trim() ?? "";
  if (value === "" || value === "false" || value === "0") return false;
  if (value === "true") return true;
  if (/^[0-9]{1,2}$/.test(value)) return Number(value);
  const entries = value.split(",").map((e) => e.trim()).filter(Boolean);
  const address = /^(?:[0-9]{1,3}(?:\.[0-9]{1,3}){3}|[0-9a-fA-F:]*:[0-9a-fA-F:.]*)(?:\/[0-9]{1,3})?$/;
  const bad = entries.find((e) => !address.test(e) && !["loopback", "linklocal", "uniquelocal"].includes(e));
  if (entries.length === 0 || bad !== undefined) {
    throw new ConfigError(
      `LOTLINE_TRUST_PROXY must be true, false, a number of proxy hops, or proxy addresses / CIDR ranges separated by commas${bad ? ` (not "${bad}")` : ""}`,
    );
  }
  return entries;
}

function servedOrgs(env: NodeJS.ProcessEnv): number[] | null {
  try {
    return parseServedOrgs(env.LOTLINE_SERVE_ORGS);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
}

function privateKey(env: NodeJS.ProcessEnv, name: string): string | null {
  const value = env[name]?.trim() || null;
  // The message names the variable, never the value: it is a secret.
  if (value && !/^(0x)?[0-9a-fA-F]{64}$/.test(value)) throw new ConfigError(`${name} must be a 32-byte hex private key`);
  return value;
}

function demoNodes(env: NodeJS.ProcessEnv): 1 | 3 {
  const raw = env.LOTLINE_DEMO_NODES?.trim();
  if (!raw) return 3;
  if (raw !== "1" && raw !== "3") throw new ConfigError(`LOTLINE_DEMO_NODES must be 3 (the demo consortium) or 1 (one node serving everyone), got "${raw}"`);
  return raw === "1" ? 1 : 3;
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}
