import { createHash } from "node:crypto";
import type { JsonFragment } from "ethers";
import { INTERFACES, type ContractName } from "../chain/contracts";
import type { ProvenRecord, ProvenRecordClass } from "./records";

/**
 * An export bundle: a batch, its lineage and the off-chain records its exporter may read, with
 * everything needed to check them against any node of the chain and nothing else (no Lotline
 * service). A bundle is a directory of JSON files listed, with their SHA-256, in manifest.json.
 * This module is the model: pure functions from data to data (the files, the manifest, reading
 * them back). services/export/exporter.ts fills it from the API; verify.ts checks it.
 */
export const BUNDLE_FORMAT = "lotline-export/1";

/** Where one claim about the chain can be checked: the log of `event` at (transactionHash, logIndex). */
export interface ChainRef {
  contract: ContractName;
  event: string;
  transactionHash: string;
  blockNumber: number;
  /** Null when the holder did not know it: the verifier then looks for the one matching log in the transaction. */
  logIndex: number | null;
}

export interface BundleDeployment {
  chainId: number;
  genesisHash: string;
  startBlock: number;
  contracts: Record<string, string>;
  contractsVersion?: string;
}

/** Material flowed from `from` to `to`: a LineageEdge (or, for a split, the BatchSplit of the same write). */
export interface BundleEdge {
  from: string;
  to: string;
  type: string;
  quantity: string;
  unit: string;
  chain: ChainRef | null;
}

/** One on-chain entry of a batch's custody timeline (GET /api/v1/batches/{ref}/history). */
export interface CustodyEntry {
  batchId: string;
  type: string;
  at: string;
  details: Record<string, unknown>;
  chain: ChainRef;
}

/** A product's on-chain registration: who holds the GTIN (the owner of its master data). */
export interface ProductRegistration {
  gtin: string;
  owner: string;
  chain: ChainRef;
}

/** What the exporter could not include, and why: never silently left out. */
export interface BundleGap {
  /** A record class, or CUSTODY for a custody entry of a kind this exporter cannot tie to an event. */
  class: ProvenRecordClass | "CUSTODY";
  subject: string;
  owner: string | null;
  reason: "not_shared" | "pending" | "not_anchored_by_owner" | "not_verifiable";
  detail: string;
}

export interface Bundle {
  format: typeof BUNDLE_FORMAT;
  exportedAt: string;
  exportedBy: { address: string; orgId: string | null };
  source: string;
  root: string;
  deployment: BundleDeployment;
  /** Per contract, the JSON ABI fragments of the events and functions the checks use (and no others). */
  abi: Partial<Record<ContractName, JsonFragment[]>>;
  lineage: {
    root: string;
    direction: "both";
    maxDepth: number;
    truncated: boolean;
    nodes: Array<Record<string, unknown> & { id: string; depth: number }>;
    edges: BundleEdge[];
  };
  custody: CustodyEntry[];
  products: ProductRegistration[];
  records: ProvenRecord[];
  gaps: BundleGap[];
}

export interface ManifestEntry {
  path: string;
  sha256: string;
  bytes: number;
}
export interface Manifest {
  format: typeof BUNDLE_FORMAT;
  files: ManifestEntry[];
}

/** The bundle's files and which part of the bundle each holds. */
export const BUNDLE_FILES = {
  "bundle.json": "format, root batch, exporter, source",
  "chain.json": "chain id, genesis hash, contract addresses",
  "abi.json": "ABI fragments used by the checks",
  "lineage.json": "lineage nodes and edges with their chain references",
  "custody.json": "custody entries with their chain references",
  "products.json": "products' on-chain registrations",
  "records.json": "off-chain records as proven records",
  "gaps.json": "what the exporter could not include, and why",
} as const;
export type BundleFile = keyof typeof BUNDLE_FILES;

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;
export const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest("hex");

/** The files of a bundle (README.txt and manifest.json included), path → content. */
export function bundleFiles(bundle: Bundle, readme: string): Map<string, string> {
  const files = new Map<string, string>([
    ["README.txt", readme],
    ["bundle.json", json({ format: bundle.format, root: bundle.root, exportedAt: bundle.exportedAt, exportedBy: bundle.exportedBy, source: bundle.source })],
    ["chain.json", json(bundle.deployment)],
    ["abi.json", json(bundle.abi)],
    ["lineage.json", json(bundle.lineage)],
    ["custody.json", json(bundle.custody)],
    ["products.json", json(bundle.products)],
    ["records.json", json(bundle.records)],
    ["gaps.json", json(bundle.gaps)],
  ]);
  files.set("manifest.json", json(manifestOf(files)));
  return files;
}

export function manifestOf(files: Map<string, string>): Manifest {
  return {
    format: BUNDLE_FORMAT,
    files: [...files.entries()]
      .filter(([path]) => path !== "manifest.json")
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([path, content]) => ({ path, sha256: sha256(content), bytes: Buffer.byteLength(content, "utf8") })),
  };
}

/** Every file named by the manifest with its hash, and no other file: the names of those that differ. */
export function manifestMismatches(files: Map<string, string>, manifest: Manifest): { path: string; problem: string }[] {
  const out: { path: string; problem: string }[] = [];
  const listed = new Set<string>();
  for (const entry of manifest.files ?? []) {
    listed.add(entry.path);
    const content = files.get(entry.path);
    if (content === undefined) out.push({ path: entry.path, problem: "listed in the manifest but missing" });
    else if (sha256(content) !== String(entry.sha256).toLowerCase()) out.push({ path: entry.path, problem: "SHA-256 differs from the manifest's" });
  }
  for (const path of files.keys()) {
    if (path !== "manifest.json" && !listed.has(path)) out.push({ path, problem: "not listed in the manifest" });
  }
  return out;
}

/** Reads a bundle back from its files; throws with the file that is missing or not JSON. */
export function readBundle(files: Map<string, string>): Bundle {
  const parse = <T>(path: BundleFile): T => {
    const text = files.get(path);
    if (text === undefined) throw new Error(`${path} is missing`);
    try {
      return JSON.parse(text) as T;
    } catch (err) {
      throw new Error(`${path} is not JSON: ${(err as Error).message}`);
    }
  };
  const head = parse<Pick<Bundle, "format" | "root" | "exportedAt" | "exportedBy" | "source">>("bundle.json");
  if (head.format !== BUNDLE_FORMAT) throw new Error(`bundle.json: format "${String(head.format)}" is not ${BUNDLE_FORMAT}`);
  return {
    ...head,
    deployment: parse("chain.json"),
    abi: parse("abi.json"),
    lineage: parse("lineage.json"),
    custody: parse("custody.json"),
    products: parse("products.json"),
    records: parse("records.json"),
    gaps: parse("gaps.json"),
  };
}

/** What the verifier uses whatever the bundle holds: the anchor view, and LineageEdge for the completeness of the lineage. */
export const ALWAYS_USED: { contract: ContractName; kind: "function" | "event"; name: string }[] = [
  { contract: "anchors", kind: "function", name: "anchorOf" },
  { contract: "provenance", kind: "event", name: "LineageEdge" },
];

/** The JSON ABI fragments of exactly the events named by the bundle's chain references, and ALWAYS_USED. */
export function abiFragments(refs: Pick<ChainRef, "contract" | "event">[]): Partial<Record<ContractName, JsonFragment[]>> {
  const wanted = new Map<ContractName, Set<string>>();
  const add = (contract: ContractName, kind: "function" | "event", name: string) => {
    const fragment = kind === "event" ? INTERFACES[contract].getEvent(name) : INTERFACES[contract].getFunction(name);
    if (!fragment) throw new Error(`contract ${contract} has no ${kind} ${name}`);
    if (!wanted.has(contract)) wanted.set(contract, new Set());
    wanted.get(contract)!.add(fragment.format("json"));
  };
  for (const ref of refs) add(ref.contract, "event", ref.event);
  for (const used of ALWAYS_USED) add(used.contract, used.kind, used.name);
  return Object.fromEntries(
    [...wanted.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([c, set]) => [c, [...set].sort().map((f) => JSON.parse(f) as JsonFragment)]),
  );
}
