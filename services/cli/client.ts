/** A small client for the Lotline HTTP API that turns problem documents into one-line errors. */
export class CliError extends Error {
  override name = "CliError";
  /** The problem document's `code` and HTTP status, when the error came from the API. */
  constructor(
    message: string,
    readonly code?: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export function apiUrl(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env.LOTLINE_API_URL?.trim();
  if (explicit) return explicit.replace(/\/$/, "");
  return `http://127.0.0.1:${env.LOTLINE_PORT?.trim() || "8080"}`;
}

/**
 * How a command signs in when a route is for members only (README "Who may read what"): a
 * signing command reads as its signer; a read-only command as LOTLINE_KEY (a keystore key) or, on
 * the local chain, LOTLINE_DEV_ACCOUNT. Set by services/cli/session.ts; null: read as the public.
 */
let signInForReads: (() => Promise<string>) | null = null;
let readToken: string | null = null;

let signingIn = false;

export function setReadSession(signIn: (() => Promise<string>) | null): void {
  signInForReads = signIn;
  readToken = null;
}

async function startReadSession(): Promise<void> {
  signingIn = true;
  try {
    readToken = await signInForReads!();
  } catch (err) {
    // A wallet that is no agent yet (accepting its first binding) reads as the public.
    if (!(err instanceof CliError && err.status === 403)) throw err;
    signInForReads = null;
  } finally {
    signingIn = false;
  }
}

export async function apiGet<T>(path: string, env: NodeJS.ProcessEnv = process.env): Promise<T> {
  return apiRequest<T>("GET", path, { env });
}

export async function apiPost<T>(path: string, body: unknown, options: { token?: string; env?: NodeJS.ProcessEnv } = {}): Promise<T> {
  return apiRequest<T>("POST", path, { ...options, body });
}

/** One request; a problem document becomes a CliError "detail (code)", an unreachable service says how to start it. */
export async function apiRequest<T>(
  method: "GET" | "POST" | "PUT" | "DELETE",
  path: string,
  options: { body?: unknown; token?: string; env?: NodeJS.ProcessEnv; headers?: Record<string, string> } = {},
): Promise<T> {
  const base = apiUrl(options.env);
  const headers: Record<string, string> = { ...options.headers, accept: "application/json" };
  if (options.body !== undefined) headers["content-type"] = "application/json";
  // Reads go out signed in when the command has a reader (some routes show members more than the public).
  if (method === "GET" && !options.token && !readToken && signInForReads && !signingIn) await startReadSession();
  const token = options.token ?? (method === "GET" ? readToken : null);
  if (token) headers.authorization = `Bearer ${token}`;
  let response: Response;
  try {
    response = await fetch(base + path, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: AbortSignal.timeout(30_000),
    });
  } catch {
    throw new CliError(`cannot reach the Lotline service at ${base}: start it with 'npm start' or set LOTLINE_API_URL`);
  }
  const text = await response.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    throw new CliError(`${base}${path} answered HTTP ${response.status} with something that is not JSON`);
  }

  if (!response.ok) {
    const problem = body as { detail?: string; code?: string } | null;
    if (response.status === 401 && !token && !signInForReads) {
      throw new CliError(
        `${problem?.detail ?? "sign in to read this"}: give --key or --dev-account, or set LOTLINE_KEY (or LOTLINE_DEV_ACCOUNT on the local chain)`,
        problem?.code,
        401,
      );
    }
    throw new CliError(`${problem?.detail ?? `HTTP ${response.status}`}${problem?.code ? ` (${problem.code})` : ""}`, problem?.code, response.status);
  }
  return body as T;
}
