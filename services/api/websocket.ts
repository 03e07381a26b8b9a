import type { IncomingMessage } from "node:http";
import type { FastifyInstance, FastifyRequest } from "fastify";
import websocket from "@fastify/websocket";
import type { Auth, Principal } from "./auth";
import { HttpProblem } from "./problem";
import { CLOSE } from "../delivery/live";

/**
 * WebSocket upgrades (ADR 0022): the EPCIS binding's query subscriptions and the stream of a
 * member's notifications. An upgrade is an HTTP GET that goes through the routes' hooks like any
 * other, so a refusal (401, 403, 404, 400) is an ordinary problem response and no socket is opened.
 *
 * Credentials, as for every route, are a session token (POST /api/v1/auth/login):
 * - `Authorization: Bearer <token>` (any client that can set headers);
 * - or, for browsers (whose WebSocket API cannot set headers), as a subprotocol: offer
 *   `lotline` and `lotline.bearer.<token>` (`new WebSocket(url, ["lotline", "lotline.bearer." + token])`);
 *   the server selects `lotline`, never echoing the token.
 * Never in the URL: query strings end up in access logs, proxies' logs and browser history.
 */

/** The subprotocol the server selects. */
export const LOTLINE_PROTOCOL = "lotline";
/** The prefix of the subprotocol that carries a session token. */
export const BEARER_PROTOCOL_PREFIX = "lotline.bearer.";

/** Extra headers for the 101 answer to an upgrade, set by its route before the upgrade. */
const upgradeHeaders = new WeakMap<IncomingMessage, string[]>();

export function addUpgradeHeaders(request: FastifyRequest, headers: Record<string, string>): void {
  upgradeHeaders.set(
    request.raw,
    Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
  );
}

function offeredProtocols(request: FastifyRequest): string[] {
  const header = request.headers["sec-websocket-protocol"];
  return (Array.isArray(header) ? header.join(",") : (header ?? ""))
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p !== "");
}

/**
 * The session of an upgrade request and its credentials (kept in memory only, to check the session
 * again while the socket is open): 401 without credentials or with a session that is unknown or expired, 403 for an agent
 * that is not active (as every route).
 */
export function authenticateUpgrade(request: FastifyRequest, auth: Auth): { principal: Principal; authorization: string } {
  const header = request.headers.authorization;
  let authorization: string;
  if (header !== undefined) authorization = header;
  else {
    const offered = offeredProtocols(request);
    const carried = offered.filter((p) => p.startsWith(BEARER_PROTOCOL_PREFIX));
    if (carried.length === 0) {
      throw new HttpProblem(
        401,
        "unauthorized",
        `sign in (POST /api/v1/auth/login) and send the token as Authorization: Bearer <token>, or (browsers) offer the subprotocols "${LOTLINE_PROTOCOL}" and "${BEARER_PROTOCOL_PREFIX}<token>"`,
      );
    }
    if (carried.length > 1)
      throw new HttpProblem(
        400,
        "invalid_upgrade",
        `offer one "${BEARER_PROTOCOL_PREFIX}<token>" subprotocol, not ${carried.length}`,
      );
    if (!offered.includes(LOTLINE_PROTOCOL)) {
      throw new HttpProblem(
        400,
        "invalid_upgrade",
        `offer the subprotocol "${LOTLINE_PROTOCOL}" beside the token's: it is the one the server selects (the token is never echoed back)`,
      );
    }
    authorization = `Bearer ${carried[0].slice(BEARER_PROTOCOL_PREFIX.length)}`;
  }
  const principal = auth.authenticate(authorization);
  return { principal, authorization };
}

/** A check, for as long as a socket is open, that the session it was opened with still holds. */
export function sessionCheck(auth: Auth, authorization: string, orgId: string): () => boolean {
  return () => {
    try {
      return auth.authenticate(authorization).agent.orgId === orgId;
    } catch {
      return false;
    }
  };
}

/** Refuses an upgrade request made without Upgrade (a plain GET of a WebSocket-only route). */
export function requireUpgrade(request: FastifyRequest): void {
  if (!request.ws) {
    throw new HttpProblem(
      426,
      "upgrade_required",
      `${request.url.split("?")[0]} is a WebSocket: send the GET with Upgrade: websocket`,
    );
  }
}

/** How long sockets get to close when the node stops, before they are cut. */
const CLOSE_GRACE_MS = 1_000;

/** Registers @fastify/websocket with Lotline's subprotocol rule, extra 101 headers and a bounded close. */
export async function registerWebsocket(app: FastifyInstance): Promise<void> {
  await app.register(websocket, {
    options: {
      // Clients send nothing the server reads: small frames only.
      maxPayload: 4096,
      handleProtocols: (protocols: Set<string>) => (protocols.has(LOTLINE_PROTOCOL) ? LOTLINE_PROTOCOL : false),
    },
    // Every socket is told the node is going away, and cut after a short grace: the node stops within its deadline.
    preClose: async function (this: FastifyInstance) {
      const clients = [...this.websocketServer.clients];
      await Promise.race([
        Promise.all(
          clients.map(
            (client) =>
              new Promise<void>((resolve) => {
                if (client.readyState === 3) return resolve();
                client.once("close", () => resolve());
                client.close(CLOSE.shuttingDown, "the node is shutting down");
              }),
          ),
        ),
        new Promise<void>((resolve) => setTimeout(resolve, CLOSE_GRACE_MS).unref()),
      ]);
      for (const client of clients) if (client.readyState !== 3) client.terminate();
      await new Promise<void>((resolve) => this.websocketServer.close(() => resolve()));
    },
  });
  app.websocketServer.on("headers", (headers: string[], request: IncomingMessage) => {
    headers.push(...(upgradeHeaders.get(request) ?? []));
  });
}
