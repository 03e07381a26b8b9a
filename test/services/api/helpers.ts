import { expect } from "chai";
import { SiweMessage } from "siwe";
import type { Signer } from "ethers";
import { startTestNode, type TestNode } from "../../helpers/node";
import type { SignedForwardRequest } from "../../../services/relayer/forward-request";
import { DEMO_MEMBERS, demoWallet } from "../../../services/demo/roster";

/**
 * Helpers shared by the HTTP API tests. Booting a node (Anvil, deployment, demo seed, indexer,
 * API) takes several seconds, so all API test files share ONE node, booted on first use and
 * stopped by a root-level `after` hook once every file has run. Tests that change chain state
 * (suspending an organisation, say) undo it before they finish, so the files stay independent
 * of their order.
 */
let shared: Promise<TestNode> | null = null;

export function sharedNode(): Promise<TestNode> {
  shared ??= startTestNode();
  return shared;
}

/** The shared node if a test file already started it (to borrow what it computed once, such as its trained model); null otherwise. */
export function startedSharedNode(): Promise<TestNode> | null {
  return shared;
}

// Registered at module load, outside any describe: a root hook, run after all test files.
after(async function () {
  if (!shared) return;
  const node = await shared.catch(() => null);
  shared = null;
  await node?.cleanup();
});

export interface ApiResponse {
  status: number;
  contentType: string;
  headers: Headers;
  // Parsed JSON when the body is JSON, the text otherwise.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
  text: string;
}

async function toResponse(res: Response): Promise<ApiResponse> {
  const text = await res.text();
  const contentType = res.headers.get("content-type") ?? "";
  let body: unknown = text;
  if (/json/.test(contentType) && text) body = JSON.parse(text);
  return { status: res.status, contentType, headers: res.headers, body, text };
}

/**
 * GET over real HTTP against the node's listening port, as a signed-in member (the demo's auditor,
 * whom every producer granted its records) unless `headers` carry their own authorization: most
 * routes are for members (README "Who may read what"). `getAnonymous` reads as the public.
 */
export async function get(node: TestNode, path: string, headers: Record<string, string> = {}): Promise<ApiResponse> {
  if (headers.authorization === undefined) headers = { ...(await memberHeaders(node)), ...headers };
  return toResponse(await fetch(node.url + path, { headers }));
}

/** GET as the public: no credentials. */
export async function getAnonymous(node: TestNode, path: string, headers: Record<string, string> = {}): Promise<ApiResponse> {
  return toResponse(await fetch(node.url + path, { headers }));
}

// One member session per node, renewed before the 15-minute session ends.
const memberSessions = new WeakMap<TestNode, { token: string; at: number }>();
async function memberHeaders(node: TestNode): Promise<Record<string, string>> {
  const session = memberSessions.get(node);
  if (session && Date.now() - session.at < 10 * 60_000) return bearer(session.token);
  const auditor = DEMO_MEMBERS.find((m) => m.key === "auditor")!;
  const token = await tokenFor(node, demoWallet(auditor.account));
  memberSessions.set(node, { token, at: Date.now() });
  return bearer(token);
}

/** POST a JSON value (or, given a string, that exact text) as application/json. */
export async function post(
  node: TestNode,
  path: string,
  body: unknown,
  headers: Record<string, string> = { "content-type": "application/json" },
): Promise<ApiResponse> {
  const payload = typeof body === "string" ? body : JSON.stringify(body);
  return toResponse(await fetch(node.url + path, { method: "POST", headers, body: payload }));
}

/** Asserts an RFC 9457 problem document with Lotline's `code`. */
export function expectProblem(res: ApiResponse, status: number, code?: string): void {
  expect(res.status, `status of ${res.text}`).to.equal(status);
  expect(res.contentType).to.match(/^application\/problem\+json/);
  expect(res.body).to.include.keys("type", "title", "status", "detail", "code");
  expect(res.body.status).to.equal(status);
  expect(res.body.detail).to.be.a("string").that.is.not.empty;
  if (code) expect(res.body.code, res.body.detail).to.equal(code);
}

/** An EIP-4361 message for `address` as this node expects it, with overrides for the refusals. */
export function siweMessage(node: TestNode, address: string, nonce: string, overrides: Partial<SiweMessage> = {}): SiweMessage {
  const now = Date.now();
  return new SiweMessage({
    domain: new URL(node.url).host,
    address,
    statement: "Sign in to Lotline",
    uri: node.url,
    version: "1",
    chainId: 31337,
    nonce,
    issuedAt: new Date(now).toISOString(),
    expirationTime: new Date(now + 5 * 60_000).toISOString(),
    ...overrides,
  });
}

export async function requestNonce(node: TestNode, address: string): Promise<string> {
  const res = await post(node, "/api/v1/auth/nonce", { address });
  expect(res.status, res.text).to.equal(200);
  return res.body.nonce as string;
}

/** Nonce → sign → login; returns the raw login response (callers assert on it). */
export async function signIn(
  node: TestNode,
  wallet: Signer,
  overrides: Partial<SiweMessage> = {},
): Promise<{ res: ApiResponse; message: string; signature: string }> {
  const address = await wallet.getAddress();
  const nonce = await requestNonce(node, address);
  const message = siweMessage(node, address, nonce, overrides).prepareMessage();
  const signature = await wallet.signMessage(message);
  const res = await post(node, "/api/v1/auth/login", { message, signature });
  return { res, message, signature };
}

/** Signs in and returns the bearer token, failing the test if sign-in is refused. */
export async function tokenFor(node: TestNode, wallet: Signer): Promise<string> {
  const { res } = await signIn(node, wallet);
  expect(res.status, res.text).to.equal(200);
  return res.body.token as string;
}

export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

/** A signed ERC-2771 forward request as POST /api/v1/relay takes it (uint values as decimal strings). */
export function relayPayload(request: SignedForwardRequest): Record<string, unknown> {
  return {
    from: request.from,
    to: request.to,
    value: request.value.toString(),
    gas: request.gas.toString(),
    deadline: request.deadline,
    data: request.data,
    signature: request.signature,
  };
}
