import crypto from "node:crypto";
import { getAddress } from "ethers";
import { SiweMessage } from "siwe";
import type { Db } from "../store/db";
import type { AgentView, IdentityStore } from "../store/identity";
import { HttpProblem } from "./problem";
import { verifyNodeRequest } from "../federation/node-auth";
import { requireActiveAgentOf } from "../identity/agents";

export { requireActiveAgentOf };

/**
 * Sign-In with Ethereum (EIP-4361). A nonce is issued for an address, expires after NONCE_TTL and
 * is consumed by the first login attempt that names it, successful or not. The message must name
 * this service's domain and URI and the chain id. A session token is 32 random bytes, returned
 * once and stored only as its SHA-256, valid for SESSION_TTL.
 */
export const NONCE_TTL_SECONDS = 300;
export const SESSION_TTL_SECONDS = 900;

export interface AuthContext {
  db: Db;
  identity: IdentityStore;
  publicUrl: () => string;
  chainId: () => number;
  now?: () => number;
}

export interface Principal {
  address: string;
  agent: AgentView;
}

export function createAuth(ctx: AuthContext) {
  const now = ctx.now ?? (() => Math.floor(Date.now() / 1000));
  const domain = () => new URL(ctx.publicUrl()).host;
  const insertNonce = ctx.db.prepare(`INSERT INTO auth_nonces (nonce, address, expires_at) VALUES (?, ?, ?)`);
  const takeNonce = ctx.db.prepare(`DELETE FROM auth_nonces WHERE nonce = ? RETURNING address, expires_at`);
  const purgeNonces = ctx.db.prepare(`DELETE FROM auth_nonces WHERE expires_at <= ?`);
  const insertSession = ctx.db.prepare(`INSERT INTO sessions (token_hash, address, expires_at) VALUES (?, ?, ?)`);
  const findSession = ctx.db.prepare(`SELECT address, expires_at FROM sessions WHERE token_hash = ?`);
  const purgeSessions = ctx.db.prepare(`DELETE FROM sessions WHERE expires_at <= ?`);
  const deleteSession = ctx.db.prepare(`DELETE FROM sessions WHERE token_hash = ?`);

  const requireActiveAgent = (address: string) => requireActiveAgentOf(ctx.identity, address);
  const purgeNodeNonces = ctx.db.prepare(`DELETE FROM node_request_nonces WHERE expires_at <= ?`);
  const insertNodeNonce = ctx.db.prepare(`INSERT INTO node_request_nonces (nonce, expires_at) VALUES (?, ?) ON CONFLICT (nonce) DO NOTHING`);

  return {
    domain,
    uri: () => ctx.publicUrl(),
    issueNonce(rawAddress: string): { nonce: string; expiresAt: string } {
      const address = getAddress(rawAddress);
      purgeNonces.run(now());
      // SIWE nonces are alphanumeric, at least 8 characters.
      const nonce = crypto.randomBytes(16).toString("hex");
      const expiresAt = now() + NONCE_TTL_SECONDS;
      insertNonce.run(nonce, address, expiresAt);
      return { nonce, expiresAt: new Date(expiresAt * 1000).toISOString() };
    },

    async login(message: string, signature: string) {
      let siwe: SiweMessage;
      try {
        siwe = new SiweMessage(message);
      } catch (err) {
        throw new HttpProblem(400, "invalid_siwe_message", `the message is not an EIP-4361 message: ${(err as Error).message ?? err}`);
      }
      const stored = takeNonce.get(siwe.nonce) as { address: string; expires_at: number } | undefined;
      if (!stored) throw new HttpProblem(401, "invalid_nonce", "the nonce is unknown or already used; request a new one");
      if (stored.expires_at <= now()) throw new HttpProblem(401, "nonce_expired", "the nonce has expired; request a new one");
      if (getAddress(siwe.address) !== stored.address) {
        throw new HttpProblem(401, "invalid_nonce", "the nonce was issued for another address");
      }
      if (siwe.domain !== domain()) throw new HttpProblem(401, "wrong_domain", `the message must be for ${domain()}, not ${siwe.domain}`);
      if (siwe.uri.replace(/\/$/, "") !== ctx.publicUrl()) {
        throw new HttpProblem(401, "wrong_uri", `the message URI must be ${ctx.publicUrl()}`);
      }
      if (siwe.chainId !== ctx.chainId()) {
        throw new HttpProblem(401, "wrong_chain", `the message must be for chain ${ctx.chainId()}, not ${siwe.chainId}`);
      }
      const result = await siwe.verify(
        { signature, domain: domain(), nonce: siwe.nonce, time: new Date(now() * 1000).toISOString() },
        { suppressExceptions: true },
      );
      if (!result.success) {
        throw new HttpProblem(401, "invalid_signature", `sign-in refused: ${result.error?.type ?? "the signature does not match"}`);
      }
      const address = getAddress(siwe.address);
      const agent = requireActiveAgent(address);
      purgeSessions.run(now());
      const token = crypto.randomBytes(32).toString("base64url");
      const expiresAt = now() + SESSION_TTL_SECONDS;
      insertSession.run(hashToken(token), address, expiresAt);
      return {
        token,
        expiresAt: new Date(expiresAt * 1000).toISOString(),
        address,
        orgId: agent.orgId,
        roles: agent.effectiveRoles,
      };
    },

    /** Ends a session at once: its token no longer authenticates. */
    endSession(token: string): void {
      deleteSession.run(hashToken(token));
    },

    /** Resolves a bearer token to its agent, re-checking the agent's status from the index. */
    authenticate(authorization: string | undefined): Principal {
      const match = /^Bearer\s+([A-Za-z0-9_-]{20,})$/.exec(authorization ?? "");
      if (!match) throw new HttpProblem(401, "unauthorized", "send Authorization: Bearer <token> from POST /api/v1/auth/login");
      const session = findSession.get(hashToken(match[1])) as { address: string; expires_at: number } | undefined;
      if (!session || session.expires_at <= now()) {
        throw new HttpProblem(401, "unauthorized", "the session token is unknown or expired; sign in again");
      }
      return { address: session.address, agent: requireActiveAgent(session.address) };
    },

    /**
     * A signed node-to-node read (services/federation/node-auth.ts): the signer must be an active
     * agent holding its organisation's integration role; the signature must name this node's public
     * host, the exact path asked, a near deadline and an unused nonce.
     */
    authenticateNode(authorization: string, asked: { method: string; path: string }): Principal {
      const verdict = verifyNodeRequest(authorization, { ...asked, host: domain(), chainId: ctx.chainId(), now: now() }, (nonce, expiresAt) => {
        purgeNodeNonces.run(now());
        return insertNodeNonce.run(nonce, expiresAt).changes === 0;
      });
      if ("failure" in verdict) throw new HttpProblem(401, verdict.failure.code, verdict.failure.detail);
      const agent = requireActiveAgent(verdict.address);
      if (!agent.roles.includes("integration")) {
        throw new HttpProblem(403, "not_a_node_key", `${verdict.address} is not an integration key of its organisation: nodes sign with their integration key`);
      }
      return { address: verdict.address, agent };
    },

    /** The address behind a token without status checks (for rate-limit keys); null if none. */
    peekAddress(authorization: string | undefined): string | null {
      const match = /^Bearer\s+([A-Za-z0-9_-]{20,})$/.exec(authorization ?? "");
      if (!match) return null;
      const session = findSession.get(hashToken(match[1])) as { address: string; expires_at: number } | undefined;
      return session && session.expires_at > now() ? session.address : null;
    },

    requireActiveAgent,
  };
}
export type Auth = ReturnType<typeof createAuth>;

function hashToken(token: string): string {
  return crypto.createHash("sha256").update(token).digest("hex");
}
