import { canonicalize } from "json-canonicalize";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { Wallet } from "ethers";
import { INTERFACES, type ContractName } from "../chain/contracts";
import type { Db } from "../store/db";
import type { IdentityStore } from "../store/identity";
import type { ServiceState } from "../api/state";
import { appendAudit, queueAuditHead, sha256Hex } from "./log";
import { prepared } from "../store/statements";

/** Who a write was made by, when the route knows better than the session (a signed payload's signer). */
export interface AuditActor {
  agent: string;
  orgId: number | null;
}

const actors = new WeakMap<FastifyRequest, AuditActor>();

/** Routes whose writes are authorised by a signature rather than a session name the signer here. */
export function setAuditActor(request: FastifyRequest, actor: AuditActor): void {
  actors.set(request, actor);
}

const WRITE_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/**
 * The request's hash: SHA-256 of the canonical JSON of method, URL (path and query) and body as
 * parsed. The body itself is never logged: it may carry signatures, notes or commercial terms.
 */
export function requestHash(request: Pick<FastifyRequest, "method" | "url" | "body">): string {
  let body: unknown = request.body ?? null;
  if (Buffer.isBuffer(body)) body = body.toString("base64");
  let text: string;
  try {
    text = canonicalize([request.method, request.url, body]);
  } catch {
    text = JSON.stringify([request.method, request.url, String(body)]);
  }
  return sha256Hex(text);
}

/** `relay <contract>.<function>` for a relayed call to a Lotline contract, else null. */
function relayedCall(state: ServiceState, body: unknown): string | null {
  const b = body as { to?: unknown; data?: unknown } | null;
  if (!state.deployment || typeof b?.to !== "string" || typeof b.data !== "string") return null;
  const entry = Object.entries(state.deployment.contracts).find(([, address]) => address.toLowerCase() === (b.to as string).toLowerCase());
  if (!entry) return null;
  const name = entry[0] as ContractName;
  try {
    const fn = INTERFACES[name]?.getFunction((b.data as string).slice(0, 10));
    return fn ? `${name}.${fn.name}` : name;
  } catch {
    return name;
  }
}

export interface AuditPluginOptions {
  db: Db;
  identity: IdentityStore;
  state: ServiceState;
  peekAddress: (authorization: string | undefined) => string | null;
  /** Seconds between checks whether the head moved and must be queued for anchoring (0: never). */
  anchorEverySeconds: number;
  /** The node's own keys (relayer, integration): a change between starts is an audit entry. */
  nodeKeys?: { relayer?: string | null; integration?: string | null };
}

/**
 * Audits every write through the API (onResponse: refused writes too, with their status) and queues
 * the log's head for anchoring every `anchorEverySeconds` when it moved. Installs on the root
 * instance so that it sees every route.
 */
export function installAudit(app: FastifyInstance, options: AuditPluginOptions): void {
  const { db, identity, state } = options;

  app.addHook("onResponse", async (request: FastifyRequest, reply: FastifyReply) => {
    if (!WRITE_METHODS.has(request.method)) return;
    // A POST that only reads (the chain's read-only JSON-RPC pass-through) changes nothing: auditing
    // it would append, and sync, an entry for every explorer page that verifies its records.
    if ((request.routeOptions?.config as { audit?: boolean } | undefined)?.audit === false) return;
    const route = request.routeOptions?.url ?? request.url.split("?")[0];
    let actor = actors.get(request) ?? null;
    if (!actor) {
      const address = options.peekAddress(request.headers.authorization);
      if (address) actor = { agent: address, orgId: orgOf(identity, address) };
    }
    const call = route === "/api/v1/relay" ? relayedCall(state, request.body) : null;
    if (!actor && call) {
      const from = (request.body as { from?: unknown }).from;
      if (typeof from === "string" && /^0x[0-9a-fA-F]{40}$/.test(from)) actor = { agent: from, orgId: orgOf(identity, from) };
    }
    const params = request.params as Record<string, unknown> | undefined;
    const target = params && Object.keys(params).length ? Object.entries(params).map(([k, v]) => `${k}=${String(v)}`).join("&") : null;
    try {
      appendAudit(db, {
        agent: actor?.agent ?? null,
        orgId: actor?.orgId ?? null,
        action: `${request.method} ${route}${call ? ` ${call}` : ""}`,
        target,
        status: reply.statusCode,
        requestHash: requestHash(request),
      });
    } catch (err) {
      // The response is sent; a write that cannot be audited must be loud.
      request.log.error({ err: (err as Error).message }, "could not append to the audit log");
    }
  });

  let timer: NodeJS.Timeout | null = null;
  app.addHook("onReady", async () => {
    recordKeyChanges(db, options.nodeKeys ?? {});
    if (options.anchorEverySeconds <= 0) return;
    timer = setInterval(() => {
      try {
        queueAuditHead(db);
      } catch (err) {
        app.log.warn({ err: (err as Error).message }, "could not queue the audit head for anchoring");
      }
    }, options.anchorEverySeconds * 1000);
    timer.unref();
  });
  app.addHook("onClose", async () => {
    if (timer) clearInterval(timer);
  });
}

function orgOf(identity: IdentityStore, address: string): number | null {
  const agent = identity.getAgent(address);
  return agent ? Number(agent.orgId) : null;
}

/**
 * Audits a change of the node's relayer or integration key (a key rotation, docs/operations.md):
 * the address in use now against the last one the log recorded for that role.
 */
export function recordKeyChanges(db: Db, keys: { relayer?: string | null; integration?: string | null }): string[] {
  const changed: string[] = [];
  for (const [role, key] of Object.entries(keys)) {
    if (!key) continue;
    const address = new Wallet(key).address;
    const last = prepared(db, `SELECT target FROM audit_log WHERE action = ? ORDER BY seq DESC LIMIT 1`).get(`node.key.${role}`) as
      | { target: string }
      | undefined;
    if (last?.target === address) continue;
    appendAudit(db, {
      agent: null,
      orgId: null,
      action: `node.key.${role}`,
      target: address,
      status: 0,
      requestHash: sha256Hex(`node.key.${role}:${address}:${last?.target ?? "none"}`),
    });
    changed.push(role);
  }
  return changed;
}
