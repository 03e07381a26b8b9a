// In-page verification of anchored records, trusting neither this node nor its answers: for each
// record as served, recompute its Merkle leaf and check its proof with the same code the CLI and
// export bundles use (services/export/records.ts, bundled by the node as /explorer/verifier.js),
// then ask the chain — through a JSON-RPC URL the reader may change — whether the record's owner
// anchored that root: AnchorRegistry.anchorOf(owner, root).
import { checkRecord, keccak256, keccakReady, leafOf } from "/explorer/verifier.js";

/**
 * AnchorRegistry.anchorOf(uint64 org, bytes32 root) returns (Anchor { bytes32 kind; uint64 org;
 * uint64 blockNumber; uint32 count }), encoded and decoded here rather than by ethers' ABI coder
 * from a fragment the node serves: the page then trusts no ABI from the node, and the browser
 * compiles half the code (the coder was 50 kB of the 100 kB bundle).
 */
// (Computed at load, before the WebAssembly Keccak is ready: keccak256 answers the same bytes in JavaScript.)
const ANCHOR_OF_SELECTOR = keccak256(new TextEncoder().encode("anchorOf(uint64,bytes32)")).slice(0, 10);
const word = (value) => value.toString(16).padStart(64, "0");
function anchorOfCall(owner, root) {
  const org = BigInt(owner);
  if (!/^[0-9]{1,20}$/.test(String(owner)) || org >= 2n ** 64n) throw new Error(`organisation ${owner} is not a uint64`);
  if (!/^0x[0-9a-fA-F]{64}$/.test(root)) throw new Error(`root ${root} is not 32-byte hex`);
  return `${ANCHOR_OF_SELECTOR}${word(org)}${root.slice(2).toLowerCase()}`;
}
/** The Anchor an eth_call of anchorOf answered: its org and block number (numbers as decimal strings / numbers). */
function decodeAnchor(answer) {
  if (typeof answer !== "string" || !/^0x([0-9a-fA-F]{64}){4}$/.test(answer)) throw new Error(`anchorOf answered ${String(answer).slice(0, 80)}, not an Anchor (four 32-byte words)`);
  const at = (i) => BigInt(`0x${answer.slice(2 + 64 * i, 2 + 64 * (i + 1))}`);
  return { org: at(1).toString(), blockNumber: Number(at(2)) };
}

let nextId = 1;
/** A JSON-RPC POST of `body`. No cookies: the chain needs no session, and a URL the reader typed gets none of this node's. */
const post = (url, body) => fetch(url, { method: "POST", priority: "high", credentials: "omit", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
async function rpc(url, method, params) {
  const res = await post(url, { jsonrpc: "2.0", id: nextId++, method, params });
  if (!res.ok) throw new Error(`${method}: HTTP ${res.status} from ${url}`);
  const body = await res.json();
  if (body.error) throw new Error(`${method}: ${body.error.message}`);
  return body.result;
}

const FAILURES = { record_changed: "record changed", proof_changed: "proof does not lead to the root", owner_mismatch: "wrong owner", malformed: "malformed" };

/**
 * Checks each record; resolves to [{ record, ok, failed, detail, leaf }], one per record, in order.
 * `anchors` is the AnchorRegistry address; `chainId` what the node says the chain is (a different
 * answer from the chosen RPC is reported, not trusted). `onOffChain`, if given, is called with
 * [{ record, failed, detail }] once the leaves and proofs are checked, before the chain is read
 * (`failed` null for a record that matches its proof).
 */
export async function verifyRecords(records, { rpcUrl: url, anchors, chainId, onOffChain }) {
  // The chain is asked at once, in one JSON-RPC batch — its id, and one anchorOf per (owner, root)
  // the records name (the records of one anchoring share it) — and the records are checked
  // off-chain meanwhile. An anchor read for a record that then fails off-chain is not used; a chain
  // of another id is not believed at all.
  const calls = new Map();
  for (const record of anchors ? records : []) {
    const key = `${record?.owner}:${record?.proof?.merkleRoot}`;
    if (calls.has(key)) continue;
    try {
      calls.set(key, { to: anchors, data: anchorOfCall(record.owner, record.proof.merkleRoot) });
    } catch {
      // a malformed owner or root: the off-chain check below names it
    }
  }
  const answered = rpcBatch(url, [["eth_chainId", []], ...[...calls.values()].map((call) => ["eth_call", [call, "latest"]])]);
  const chainRead = answered.then(([id]) =>
    id instanceof Error ? `cannot read the chain: ${id.message}` : Number(id) === Number(chainId) ? null : `the JSON-RPC at ${url} serves chain ${Number(id)}, not this deployment's chain ${chainId}`,
  );
  const anchorsAnswered = answered.then((answers) => answers.slice(1));
  await keccakReady;
  const checked = records.map((record) => {
    const offChain = checkRecord(record);
    // A record that passes recomputes to its served leaf: only a failing one is hashed again, to show what it hashes to.
    if (!offChain) return { record, leaf: record.leaf.toLowerCase(), offChain };
    let leaf = null;
    try {
      leaf = leafOf(record);
    } catch {
      leaf = null;
    }
    return { record, leaf, offChain };
  });
  onOffChain?.(checked.map(({ record, offChain }) => ({ record, failed: offChain ? FAILURES[offChain.failure] ?? offChain.failure : null, detail: offChain?.detail ?? null })));
  let chainProblem = await chainRead;
  if (!anchors) chainProblem ??= "the node names no AnchorRegistry";
  const anchorsRead = new Map();
  const answers = await anchorsAnswered;
  [...calls.keys()].forEach((key, i) => anchorsRead.set(key, answers[i]));
  return checked.map(({ record, leaf, offChain }) => {
    if (offChain) return { record, ok: false, failed: FAILURES[offChain.failure] ?? offChain.failure, detail: offChain.detail, leaf };
    if (chainProblem) return { record, ok: false, failed: "chain not read", detail: chainProblem, leaf };
    const answer = anchorsRead.get(`${record.owner}:${record.proof.merkleRoot}`);
    try {
      if (answer instanceof Error) throw answer;
      const anchor = decodeAnchor(answer);
      const block = anchor.blockNumber;
      if (block === 0) return { record, ok: false, failed: "not anchored", detail: `organisation ${record.owner} never anchored root ${record.proof.merkleRoot} on this chain`, leaf };
      if (String(anchor.org) !== String(record.owner)) return { record, ok: false, failed: "wrong anchor", detail: `the chain's anchor is organisation ${anchor.org}'s, not the owner's (${record.owner})`, leaf };
      return { record, ok: true, failed: null, detail: `leaf ${leaf.slice(0, 10)}… and proof match root ${record.proof.merkleRoot.slice(0, 10)}…, anchored by organisation ${record.owner} in block ${block}`, leaf };
    } catch (err) {
      return { record, ok: false, failed: "chain not read", detail: err.message, leaf };
    }
  });
}

/**
 * Each of `calls` ([method, params]): JSON-RPC batches of at most 50 (what the node's pass-through
 * takes), one request at a time for an RPC that answers batches otherwise. Each answer is the
 * result or an Error.
 */
async function rpcBatch(url, calls) {
  const answers = [];
  for (let i = 0; i < calls.length; i += 50) {
    const chunk = calls.slice(i, i + 50);
    const requests = chunk.map(([method, params]) => ({ jsonrpc: "2.0", id: nextId++, method, params }));
    let batch = null;
    try {
      const res = await post(url, requests);
      if (res.ok) batch = await res.json();
    } catch {
      batch = null;
    }
    if (Array.isArray(batch)) {
      const byId = new Map(batch.map((r) => [r.id, r]));
      for (const r of requests) {
        const answer = byId.get(r.id);
        answers.push(!answer ? new Error(`${r.method}: no answer in the batch`) : answer.error ? new Error(`${r.method}: ${answer.error.message}`) : answer.result);
      }
    } else {
      for (const [method, params] of chunk) answers.push(await rpc(url, method, params).catch((err) => err));
    }
  }
  return answers;
}
