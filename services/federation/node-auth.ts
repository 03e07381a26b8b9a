import crypto from "node:crypto";
import { getAddress, verifyTypedData, type Signer, type TypedDataDomain } from "ethers";

/**
 * Signed node-to-node requests (federation). A member node fetching another member's records signs
 * each request with its organisation's integration key as EIP-712 typed data:
 *
 *   domain   {name: "Lotline node request", version: "1", chainId}
 *   NodeRequest {address node; string method; string host; string path; uint64 deadline; bytes32 nonce}
 *
 * and sends it as `Authorization: LotlineNode <base64url(JSON {node, deadline, nonce, signature})>`.
 * The holder accepts the request as a member read by the signer's organisation when the signature
 * recovers `node`, `host` is the holder's own public host (a signature for another node is worth
 * nothing here), `path` is the exact path and query asked, the deadline is in the future and at
 * most MAX_REQUEST_LIFETIME_SECONDS away, the nonce was never seen before, and `node` is an active
 * agent holding its organisation's integration role. Only reads (GET) are signed this way.
 */
export const NODE_AUTH_SCHEME = "LotlineNode";
export const MAX_REQUEST_LIFETIME_SECONDS = 300;

export const NODE_REQUEST_TYPES = {
  NodeRequest: [
    { name: "node", type: "address" },
    { name: "method", type: "string" },
    { name: "host", type: "string" },
    { name: "path", type: "string" },
    { name: "deadline", type: "uint64" },
    { name: "nonce", type: "bytes32" },
  ],
};

export function nodeRequestDomain(chainId: number): TypedDataDomain {
  return { name: "Lotline node request", version: "1", chainId };
}

export interface NodeRequest {
  node: string;
  method: string;
  host: string;
  path: string;
  deadline: number;
  nonce: string;
}

interface NodeCredential {
  node: string;
  deadline: number;
  nonce: string;
  signature: string;
}

/** The Authorization header value for a GET of `url`, signed by `signer` (an integration key). */
export async function signNodeRequest(signer: Signer, chainId: number, url: URL, now = Math.floor(Date.now() / 1000)): Promise<string> {
  const request: NodeRequest = {
    node: getAddress(await signer.getAddress()),
    method: "GET",
    host: url.host,
    path: url.pathname + url.search,
    deadline: now + 60,
    nonce: `0x${crypto.randomBytes(32).toString("hex")}`,
  };
  const signature = await signer.signTypedData(nodeRequestDomain(chainId), NODE_REQUEST_TYPES, request);
  const credential: NodeCredential = { node: request.node, deadline: request.deadline, nonce: request.nonce, signature };
  return `${NODE_AUTH_SCHEME} ${Buffer.from(JSON.stringify(credential)).toString("base64url")}`;
}

export function isNodeAuthorization(header: string | undefined): boolean {
  return header?.startsWith(`${NODE_AUTH_SCHEME} `) ?? false;
}

export type NodeAuthFailure = { code: "invalid_node_signature" | "node_request_expired" | "wrong_host" | "replayed_node_request"; detail: string };

/**
 * Checks a node credential against the request it came with; returns the signing address, or why
 * not. `seenNonce` records the nonce and answers whether it had been seen (the caller's store).
 */
export function verifyNodeRequest(
  header: string,
  asked: { method: string; host: string; path: string; chainId: number; now: number },
  seenNonce: (nonce: string, expiresAt: number) => boolean,
): { address: string } | { failure: NodeAuthFailure } {
  let credential: NodeCredential;
  try {
    credential = JSON.parse(Buffer.from(header.slice(NODE_AUTH_SCHEME.length + 1), "base64url").toString("utf8")) as NodeCredential;
  } catch {
    return { failure: { code: "invalid_node_signature", detail: "the LotlineNode credential is not base64url JSON" } };
  }
  const { node, deadline, nonce, signature } = credential ?? ({} as NodeCredential);
  if (typeof node !== "string" || !Number.isSafeInteger(deadline) || typeof nonce !== "string" || !/^0x[0-9a-fA-F]{64}$/.test(nonce) || typeof signature !== "string") {
    return { failure: { code: "invalid_node_signature", detail: "the LotlineNode credential needs node, deadline, nonce (bytes32) and signature" } };
  }
  if (asked.method !== "GET") return { failure: { code: "invalid_node_signature", detail: "node signatures are accepted for reads (GET) only" } };
  if (deadline <= asked.now) return { failure: { code: "node_request_expired", detail: "the signed request's deadline has passed" } };
  if (deadline > asked.now + MAX_REQUEST_LIFETIME_SECONDS) {
    return { failure: { code: "node_request_expired", detail: `the signed request's deadline is more than ${MAX_REQUEST_LIFETIME_SECONDS} s away` } };
  }
  let signer: string;
  try {
    const request: NodeRequest = { node: getAddress(node), method: asked.method, host: asked.host, path: asked.path, deadline, nonce: nonce.toLowerCase() };
    signer = verifyTypedData(nodeRequestDomain(asked.chainId), NODE_REQUEST_TYPES, request, signature);
  } catch {
    return { failure: { code: "invalid_node_signature", detail: "the node signature cannot be read" } };
  }
  if (signer !== getAddress(node)) {
    return {
      failure: {
        code: "invalid_node_signature",
        detail: `the signature does not match this request (${asked.method} ${asked.host}${asked.path} on chain ${asked.chainId}) by ${node}`,
      },
    };
  }
  // Checked after the signature, so nobody can burn another node's nonces with forged credentials.
  if (seenNonce(nonce.toLowerCase(), deadline)) {
    return { failure: { code: "replayed_node_request", detail: "this signed request was already used: sign each request afresh" } };
  }
  return { address: signer };
}
