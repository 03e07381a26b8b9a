/** A small client for the Lotline HTTP API that turns problem documents into one-line errors. */
export class CliError extends Error {
  override name = "CliError";
}

export function apiUrl(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env.LOTLINE_API_URL?.trim();
  if (explicit) return explicit.replace(/\/$/, "");
  return `http://127.0.0.1:${env.LOTLINE_PORT?.trim() || "8080"}`;
}

export async function apiGet<T>(path: string, env: NodeJS.ProcessEnv = process.env): Promise<T> {
  const base = apiUrl(env);
  let response: Response;
  try {
    response = await fetch(base + path, { headers: { accept: "application/json" }, signal: AbortSignal.timeout(30_000) });
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
    throw new CliError(`${problem?.detail ?? `HTTP ${response.status}`}${problem?.code ? ` (${problem.code})` : ""}`);
  }
  return body as T;
}
