import fs from "node:fs";
import path from "node:path";
import { INTERFACES } from "../chain/contracts";
import { createRpcClient, type RpcClient } from "../chain/rpc";
import { manifestMismatches, readBundle, type Bundle, type Manifest } from "./bundle";
import {
  bundleInterfaces,
  checkAbi,
  checkChain,
  checkCompleteness,
  checkCustody,
  checkEdge,
  checkProduct,
  checkProvenRecord,
  type AnchorFacts,
  type Check,
  type FetchedLog,
  type TxFacts,
} from "./verify";

/**
 * `lotline verify`: reads a bundle directory and checks it against a chain node over plain JSON-RPC
 * (eth_chainId, eth_getBlockByNumber, eth_getTransactionReceipt, eth_getLogs, eth_call) — no
 * Lotline service. The I/O half; the judgements are the pure functions of verify.ts.
 */

/** Every file of a bundle directory (recursively), relative path → UTF-8 text. */
export function readBundleDir(dir: string): Map<string, string> {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new Error(`${dir} is not a directory`);
  const files = new Map<string, string>();
  const walk = (sub: string) => {
    for (const entry of fs.readdirSync(path.join(dir, sub), { withFileTypes: true })) {
      const rel = sub ? `${sub}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(rel);
      else files.set(rel, fs.readFileSync(path.join(dir, rel), "utf8"));
    }
  };
  walk("");
  return files;
}

const hexQuantity = (n: number) => `0x${n.toString(16)}`;
const LOG_RANGE = 5_000;

interface RawReceipt {
  status: string;
  blockNumber: string;
  blockHash: string;
  logs: { address: string; topics: string[]; data: string; logIndex: string; blockNumber: string; blockHash: string; transactionHash: string }[];
}

function chainReader(rpc: RpcClient) {
  const receipts = new Map<string, Promise<TxFacts | null>>();
  const blocks = new Map<number, Promise<string | null>>();
  const blockHash = (n: number) => {
    if (!blocks.has(n)) {
      blocks.set(
        n,
        rpc.call<{ hash: string } | null>("eth_getBlockByNumber", [hexQuantity(n), false]).then((b) => b?.hash ?? null),
      );
    }
    return blocks.get(n)!;
  };
  const tx = (hash: string): Promise<TxFacts | null> => {
    const key = String(hash).toLowerCase();
    if (!/^0x[0-9a-f]{64}$/.test(key)) return Promise.resolve(null);
    if (!receipts.has(key)) {
      receipts.set(
        key,
        (async () => {
          const r = await rpc.call<RawReceipt | null>("eth_getTransactionReceipt", [key]);
          if (!r) return null;
          const blockNumber = Number(r.blockNumber);
          return {
            status: Number(r.status),
            blockNumber,
            blockHash: r.blockHash,
            canonicalBlockHash: await blockHash(blockNumber),
            logs: r.logs.map(
              (l): FetchedLog => ({
                address: l.address,
                topics: l.topics,
                data: l.data,
                logIndex: Number(l.logIndex),
                blockNumber: Number(l.blockNumber),
                blockHash: l.blockHash,
                transactionHash: l.transactionHash,
              }),
            ),
          };
        })(),
      );
    }
    return receipts.get(key)!;
  };
  return { tx, blockHash };
}

/** Runs every check of the bundle in `dir` against the node at `rpcUrl`; the checks in order. */
export async function verifyBundle(dir: string, rpcUrl: string): Promise<Check[]> {
  const files = readBundleDir(dir);
  const checks: Check[] = [];

  const manifestText = files.get("manifest.json");
  let manifest: Manifest | null = null;
  try {
    manifest = manifestText === undefined ? null : (JSON.parse(manifestText) as Manifest);
  } catch {
    manifest = null;
  }
  if (!manifest || !Array.isArray(manifest.files)) {
    checks.push({ check: "manifest", subject: "manifest.json", ok: false, detail: "manifest.json is missing or not a manifest" });
  } else {
    const bad = manifestMismatches(files, manifest);
    if (bad.length === 0) checks.push({ check: "manifest", subject: "manifest.json", ok: true, detail: `${manifest.files.length} files, each with its SHA-256` });
    for (const b of bad) checks.push({ check: "manifest", subject: b.path, ok: false, detail: `manifest hash mismatch: ${b.path} ${b.problem}` });
  }

  let bundle: Bundle;
  try {
    bundle = readBundle(files);
  } catch (err) {
    checks.push({ check: "manifest", subject: "bundle", ok: false, detail: `not a readable bundle: ${(err as Error).message}` });
    return checks;
  }
  checks.push(...(await verifyBundleAgainstChain(bundle, rpcUrl)));
  return checks;
}

/**
 * Every check of a bundle's content against the chain at `rpcUrl` (all but the manifest's): the
 * chain, the ABI, each product registration, each record (leaf, proof, the owner's anchor), each
 * lineage edge and custody entry, completeness, and the gaps as notes. `lotline verify <ref>` runs
 * it on a bundle collected from a node in memory.
 */
export async function verifyBundleAgainstChain(bundle: Bundle, rpcUrl: string): Promise<Check[]> {
  const checks: Check[] = [];
  const rpc = createRpcClient(rpcUrl);
  const chain = chainReader(rpc);
  const chainId = await rpc.chainId();
  const genesis = await chain.blockHash(0);
  const chainCheck = checkChain(bundle.deployment, chainId, genesis);
  checks.push(chainCheck);
  // On another chain every reference would fail for the same reason: say it once.
  if (!chainCheck.ok) return checks;

  checks.push(...checkAbi(bundle.abi));
  const interfaces = bundleInterfaces(bundle.abi);
  const deployment = bundle.deployment;

  for (const product of bundle.products ?? []) checks.push(checkProduct(product, await chain.tx(product.chain?.transactionHash), bundle, interfaces));

  const anchors = interfaces.anchors;
  const anchorAddress = deployment.contracts?.anchors;
  for (const pr of bundle.records ?? []) {
    let facts: AnchorFacts | null = null;
    try {
      if (anchors && anchorAddress && /^[1-9][0-9]{0,18}$/.test(pr.owner) && /^0x[0-9a-fA-F]{64}$/.test(pr.proof?.merkleRoot ?? "")) {
        const data = anchors.encodeFunctionData("anchorOf", [BigInt(pr.owner), pr.proof.merkleRoot]);
        const result = await rpc.call<string>("eth_call", [{ to: anchorAddress, data }, "latest"]);
        const [anchor] = anchors.decodeFunctionResult("anchorOf", result);
        facts = { org: String(anchor.org), blockNumber: Number(anchor.blockNumber) };
      }
    } catch {
      facts = null;
    }
    checks.push(checkProvenRecord(pr, facts, bundle.products ?? []));
  }

  for (const edge of bundle.lineage?.edges ?? []) checks.push(checkEdge(edge, edge.chain ? await chain.tx(edge.chain.transactionHash) : null, bundle, interfaces));
  for (const entry of bundle.custody ?? []) checks.push(checkCustody(entry, await chain.tx(entry.chain?.transactionHash), bundle, interfaces));

  // Completeness: the chain's LineageEdge logs into upstream nodes and out of downstream ones.
  const lineageEdge = (interfaces.provenance ?? INTERFACES.provenance).getEvent("LineageEdge")!;
  const head = await rpc.blockNumber();
  const edgeLogs = async (topics: (string | null)[]) => {
    const out: { from: string; to: string }[] = [];
    for (let from = Math.max(0, Number(deployment.startBlock) || 0); from <= head; from += LOG_RANGE) {
      const logs = await rpc.call<{ topics: string[] }[]>("eth_getLogs", [
        { fromBlock: hexQuantity(from), toBlock: hexQuantity(Math.min(head, from + LOG_RANGE - 1)), address: deployment.contracts.provenance, topics },
      ]);
      // Batch ids are bytes32: the indexed topics are the ids themselves.
      for (const log of logs) out.push({ from: log.topics[1].toLowerCase(), to: log.topics[2].toLowerCase() });
    }
    return out;
  };
  const lineage = bundle.lineage;
  for (const node of lineage?.nodes ?? []) {
    const frontier = lineage.truncated && Math.abs(node.depth) >= lineage.maxDepth;
    if (frontier) continue;
    const nodeTopic = String(node.id).toLowerCase();
    if (node.depth <= 0) checks.push(checkCompleteness(node, "upstream", await edgeLogs([lineageEdge.topicHash, null, nodeTopic]), lineage.edges));
    if (node.depth >= 0) checks.push(checkCompleteness(node, "downstream", await edgeLogs([lineageEdge.topicHash, nodeTopic]), lineage.edges));
  }

  for (const gap of bundle.gaps ?? []) {
    checks.push({ check: "gap", subject: `${gap.class} ${gap.subject}`, ok: true, detail: `not in the bundle (${gap.reason}): ${gap.detail}` });
  }
  return checks;
}
