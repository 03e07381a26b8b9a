// In-page verification of anchored records, trusting neither this node nor its answers: for each
// record as served, recompute its Merkle leaf and check its proof with the same code the CLI and
// export bundles use (services/export/records.ts, bundled by the node as /explorer/verifier.js),
// then ask the chain — through a JSON-RPC URL the reader may change — whether the record's owner
// anchored that root: AnchorRegistry.anchorOf(owner, root).
import * as ethers from "ethers";
import { checkRecord, leafOf } from "/explorer/verifier.js";

const STORAGE_KEY = "lotline.rpcUrl";

export const defaultRpcUrl = () => `${location.origin}/rpc`;
export const rpcUrl = () => localStorage.getItem(STORAGE_KEY) || defaultRpcUrl();
export function setRpcUrl(url) {
  if (!url || url === defaultRpcUrl()) localStorage.removeItem(STORAGE_KEY);
  else localStorage.setItem(STORAGE_KEY, url);
}

let nextId = 1;
async function rpc(url, method, params) {
  // No cookies: the chain needs no session, and a URL the reader typed gets none of this node's.
  const res = await fetch(url, { method: "POST", credentials: "omit", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: nextId++, method, params }) });
  if (!res.ok) throw new Error(`${method}: HTTP ${res.status} from ${url}`);
  const body = await res.json();
  if (body.error) throw new Error(`${method}: ${body.error.message}`);
  return body.result;
}

const FAILURES = { record_changed: "record changed", proof_changed: "proof does not lead to the root", owner_mismatch: "wrong owner", malformed: "malformed" };

/**
 * Checks each record; resolves to [{ record, ok, failed, detail, leaf }], one per record, in order.
 * `anchors` is the AnchorRegistry address and `abi` its anchorOf fragment; `chainId` what the node
 * says the chain is (a different answer from the chosen RPC is reported, not trusted).
 */
export async function verifyRecords(records, { rpcUrl: url, anchors, chainId, abi }) {
  const iface = new ethers.Interface(abi);
  let chainProblem = null;
  try {
    const id = Number(await rpc(url, "eth_chainId", []));
    if (id !== Number(chainId)) chainProblem = `the JSON-RPC at ${url} serves chain ${id}, not this deployment's chain ${chainId}`;
  } catch (err) {
    chainProblem = `cannot read the chain: ${err.message}`;
  }
  if (!anchors) chainProblem ??= "the node names no AnchorRegistry";
  return Promise.all(
    records.map(async (record) => {
      let leaf = null;
      try {
        leaf = leafOf(record);
      } catch {
        leaf = null;
      }
      const offChain = checkRecord(record);
      if (offChain) return { record, ok: false, failed: FAILURES[offChain.failure] ?? offChain.failure, detail: offChain.detail, leaf };
      if (chainProblem) return { record, ok: false, failed: "chain not read", detail: chainProblem, leaf };
      try {
        const data = iface.encodeFunctionData("anchorOf", [BigInt(record.owner), record.proof.merkleRoot]);
        const [anchor] = iface.decodeFunctionResult("anchorOf", await rpc(url, "eth_call", [{ to: anchors, data }, "latest"]));
        const block = Number(anchor.blockNumber);
        if (block === 0) return { record, ok: false, failed: "not anchored", detail: `organisation ${record.owner} never anchored root ${record.proof.merkleRoot} on this chain`, leaf };
        if (String(anchor.org) !== String(record.owner)) return { record, ok: false, failed: "wrong anchor", detail: `the chain's anchor is organisation ${anchor.org}'s, not the owner's (${record.owner})`, leaf };
        return { record, ok: true, failed: null, detail: `leaf ${leaf.slice(0, 10)}… and proof match root ${record.proof.merkleRoot.slice(0, 10)}…, anchored by organisation ${record.owner} in block ${block}`, leaf };
      } catch (err) {
        return { record, ok: false, failed: "chain not read", detail: err.message, leaf };
      }
    }),
  );
}
