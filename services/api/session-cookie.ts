import crypto from "node:crypto";
import type { FastifyReply, FastifyRequest } from "fastify";
import { SESSION_TTL_SECONDS, type Auth } from "./auth";
import { HttpProblem } from "./problem";

/**
 * The explorer's session: the same bearer token POST /api/v1/auth/login issues, kept by the browser
 * in an HttpOnly cookie `lotline_session` (page scripts never see it). Every route accepts it as if
 * it were `Authorization: Bearer <token>`; a request carrying both is judged by the header.
 *
 * A cookie rides along on requests another site makes the browser send, so a write authenticated
 * by the cookie must also prove it comes from a page of this node (CSRF): it carries the header
 * `x-lotline-csrf` with the session's CSRF token, which the node derives from the session token
 * (SHA-256 of "csrf:" + token) and hands to the page at sign-in and in the readable cookie
 * `lotline_csrf`. Another site can neither read that cookie nor set a custom header cross-origin.
 * The session cookie is also SameSite=Strict, a second, independent barrier.
 */
export const SESSION_COOKIE = "lotline_session";
export const CSRF_COOKIE = "lotline_csrf";
export const CSRF_HEADER = "x-lotline-csrf";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** The cookies of a request (first value of each name). */
export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (header ?? "").split(";")) {
    const at = part.indexOf("=");
    if (at <= 0) continue;
    const name = part.slice(0, at).trim();
    if (out.has(name)) continue;
    let value = part.slice(at + 1).trim();
    try {
      value = decodeURIComponent(value);
    } catch {
      continue;
    }
    out.set(name, value);
  }
  return out;
}

/** The CSRF token of a session token. */
export function csrfTokenFor(sessionToken: string): string {
  return crypto.createHash("sha256").update(`csrf:${sessionToken}`).digest("base64url");
}

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}

/**
 * onRequest hook: turns a live session cookie into the Authorization header the routes read, after
 * the CSRF check for writes. A cookie whose session has ended is ignored (the browser reads as the
 * public and the page shows it signed out). Runs before rate limiting, so a cookie session is
 * limited per agent too.
 */
export function sessionCookieHook(auth: Pick<Auth, "peekAddress">) {
  return async (request: FastifyRequest): Promise<void> => {
    if (request.headers.authorization !== undefined) return;
    const token = parseCookies(request.headers.cookie).get(SESSION_COOKIE);
    if (!token || auth.peekAddress(`Bearer ${token}`) === null) return;
    if (!SAFE_METHODS.has(request.method)) {
      const sent = request.headers[CSRF_HEADER];
      if (typeof sent !== "string" || !sameToken(sent, csrfTokenFor(token))) {
        throw new HttpProblem(
          403,
          "csrf_failed",
          `a write signed in by the session cookie must carry the ${CSRF_HEADER} header the explorer got at sign-in; sign in again from this node's page`,
        );
      }
    }
    request.headers.authorization = `Bearer ${token}`;
  };
}

/** Whether the request came over TLS (directly or, as its public URL says, behind a proxy). */
function secure(publicUrl: string): boolean {
  return publicUrl.startsWith("https://");
}

/** Sets the session and CSRF cookies of a fresh session token. */
export function setSessionCookies(reply: FastifyReply, token: string, publicUrl: string): string {
  const csrf = csrfTokenFor(token);
  const flags = `Path=/; Max-Age=${SESSION_TTL_SECONDS}; SameSite=Strict${secure(publicUrl) ? "; Secure" : ""}`;
  reply.header("set-cookie", [`${SESSION_COOKIE}=${token}; HttpOnly; ${flags}`, `${CSRF_COOKIE}=${csrf}; ${flags}`]);
  return csrf;
}

/** Clears both cookies. */
export function clearSessionCookies(reply: FastifyReply, publicUrl: string): void {
  const flags = `Path=/; Max-Age=0; SameSite=Strict${secure(publicUrl) ? "; Secure" : ""}`;
  reply.header("set-cookie", [`${SESSION_COOKIE}=; HttpOnly; ${flags}`, `${CSRF_COOKIE}=; ${flags}`]);
}
