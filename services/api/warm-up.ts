import type { Signer } from "ethers";
import type { FastifyInstance } from "fastify";
import type { Db } from "../store/db";
import { signInMessage, type SignInChallenge } from "../identity/sign-in-message";
import { prepared } from "../store/statements";

export interface WarmUpOptions {
  /** The key of an organisation this node serves that signs in to read as that member (its integration key), or null: public reads only. */
  signerFor: (orgId: number) => Signer | null;
  /** Marks the requests as the node's own (not rate-limited); see buildApp's `internal`. */
  internal: string;
  /** Ends the warm-up's session when it is done. */
  endSession: (token: string) => void;
}

/**
 * Runs the requests of the explorer's pages once before the node says it is ready, answers
 * discarded: the lot page of the most recently registered lot (its HTML as the public sees it, then
 * as a member — signed in (EIP-4361, as any agent) with the key this node holds for the lot's
 * producer, its session ended afterwards — its records, trace, history, footprint, runs, scores,
 * sales and recall impact), its Digital Link page, its producer's organisation page (its monthly
 * KPIs, grants and supplier score), the front page's lists and the
 * JSON-RPC pass-through its verification reads the chain through.
 *
 * Why: the first time each of these routes runs after a start, V8 compiles its code, Node loads the
 * modules it requires lazily (the in-process injection the records route uses among them) and the
 * node prepares its SQL statements: about 200 ms of the node's CPU on the first lot page (records
 * 73–134 ms the first time, 18–35 ms after), paid by the first reader of each page, on two cores
 * shared with that reader's browser. Nothing is chosen for the demo: any node with one lot runs the
 * same requests, and a node with none runs the front page's.
 */
export async function warmUpExplorer(app: FastifyInstance, db: Db, options: WarmUpOptions): Promise<{ requests: number; ms: number; failed: string[] }> {
  const started = performance.now();
  const lot = prepared(db, `SELECT batch_id, gtin, lot, producer_org FROM batches WHERE batch_id = lot_id ORDER BY created_block DESC, batch_id LIMIT 1`).get() as
    | { batch_id: string; gtin: string; lot: string; producer_org: number }
    | undefined;
  const base = { "x-lotline-internal": options.internal };
  const publicPaths = ["/", "/api/v1/recalls?limit=10", "/api/v1/orgs?limit=50"];
  const memberPaths: string[] = [];
  if (lot) {
    const id = lot.batch_id;
    publicPaths.push(`/explorer/batch/${id}`, `/01/${lot.gtin}/10/${encodeURIComponent(lot.lot)}`);
    memberPaths.push(
      // The page itself as a member sees it (its answers embedded for a member: the ABI, the trace hint).
      `/explorer/batch/${id}`,
      `/api/v1/batches/${id}`,
      `/api/v1/batches/${id}/records`,
      `/api/v1/batches/${id}/trace?direction=both&maxDepth=50`,
      `/api/v1/batches/${id}/history`,
      `/api/v1/batches/${id}/footprint`,
      `/api/v1/production-runs?batch=${id}&limit=50`,
      `/api/v1/scores/batches/${id}`,
      `/api/v1/batches/${id}/sales`,
      `/api/v1/batches/${id}/recall-impact`,
      `/api/v1/products/${lot.gtin}`,
      `/api/v1/orgs?ids=${lot.producer_org}&limit=100`,
      `/api/v1/orgs/${lot.producer_org}`,
      `/api/v1/grants?grantor=${lot.producer_org}`,
      // The organisation page's chart (its six months in one request).
      `/api/v1/analytics/orgs/${lot.producer_org}/kpis/monthly`,
      `/api/v1/scores/suppliers/${lot.producer_org}`,
    );
  }
  let requests = 0;
  // A route that refuses its own node's read (or fails) is named: the warm-up no longer covers it.
  const failed: string[] = [];
  const run = async (url: string, headers: Record<string, string>) => {
    const res = await app.inject({ method: "GET", url, headers: { ...base, ...headers } });
    requests++;
    if (res.statusCode >= 400) failed.push(`${url.split("?")[0]}: ${res.statusCode}`);
  };
  const accept = (url: string) => (url.startsWith("/api/") ? "application/json" : "text/html");
  for (const url of publicPaths) await run(url, { accept: accept(url) });
  // The page's verification reads the chain through the node's pass-through: its first call loads
  // Node's fetch (undici) and compiles the route's schemas (a first visit's chain reads took
  // 288 ms of the node's time, the next visit's 40).
  const rpc = await app.inject({
    method: "POST",
    url: "/rpc",
    headers: { ...base, "content-type": "application/json" },
    payload: [
      { jsonrpc: "2.0", id: 1, method: "eth_chainId" },
      { jsonrpc: "2.0", id: 2, method: "eth_blockNumber" },
    ],
  });
  requests++;
  const rpcAnswers = rpc.statusCode === 200 ? (rpc.json() as { error?: unknown }[]) : [];
  if (rpc.statusCode !== 200 || rpcAnswers.some((a) => a.error)) failed.push(`/rpc: ${rpc.statusCode}`);
  const signer = lot ? (options.signerFor(lot.producer_org) ?? null) : null;
  const token = signer ? await signIn(app, signer, options) : null;
  if (signer && !token) failed.push("sign-in refused");
  if (token) {
    try {
      for (const url of memberPaths) await run(url, { accept: accept(url), authorization: `Bearer ${token}` });
    } finally {
      options.endSession(token);
    }
  }
  return { requests, ms: Math.round(performance.now() - started), failed };
}

/** A session for `signer`'s agent, through the API's own sign-in (nonce, EIP-4361 message, login). */
async function signIn(app: FastifyInstance, signer: Signer, options: WarmUpOptions): Promise<string | null> {
  const address = await signer.getAddress();
  const headers = { "x-lotline-internal": options.internal, "content-type": "application/json" };
  const nonce = await app.inject({ method: "POST", url: "/api/v1/auth/nonce", headers, payload: { address } });
  if (nonce.statusCode !== 200) return null;
  const message = signInMessage(nonce.json() as SignInChallenge, address, "Lotline node warm-up", 60_000);
  const login = await app.inject({ method: "POST", url: "/api/v1/auth/login", headers, payload: { message, signature: await signer.signMessage(message) } });
  return login.statusCode === 200 ? (login.json() as { token: string }).token : null;
}
