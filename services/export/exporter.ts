import fs from "node:fs";
import path from "node:path";
import { INTERFACES } from "../chain/contracts";
import { documentEvents } from "../epcis/hash";
import {
  abiFragments,
  BUNDLE_FORMAT,
  bundleFiles,
  type Bundle,
  type BundleEdge,
  type BundleGap,
  type ChainRef,
  type CustodyEntry,
  type ProductRegistration,
} from "./bundle";
import { checkRecord, type ProvenRecord, recordProofOf } from "./records";
import { custodyExpectation } from "./verify";
import { bundleReadme } from "./readme";

/**
 * `lotline export`: collects a bundle from a Lotline node's HTTP API, signed in as the exporter, so
 * that it holds exactly what the API serves that exporter (the visibility rules apply to the export
 * as to any read), then writes it as a directory. The I/O half; the model is bundle.ts.
 */
export interface ExportApi {
  /** The API's base URL (recorded in the bundle as its source). */
  url: string;
  /** GET as the signed-in exporter (with extra request `headers`); a refusal throws an error carrying the HTTP `status`. */
  get<T>(path: string, headers?: Record<string, string>): Promise<T>;
}

export interface ExportOptions {
  ref: string;
  maxDepth?: number;
  exportedBy: { address: string; orgId: string | null };
  now?: () => Date;
  progress?: (message: string) => void;
  /**
   * Keep records that fail the off-chain check (leaf, proof, owner) as served, for a verifier to
   * report as failed (`lotline verify <ref>`, the explorer), instead of leaving them out as gaps.
   */
  keepFailing?: boolean;
}

interface Batch extends Record<string, unknown> {
  id: string;
  gtin: string;
  depth: number;
}
interface HistoryItem {
  type: string;
  at: string;
  blockNumber?: number;
  logIndex?: number;
  transactionHash?: string;
  details: Record<string, unknown>;
}
export interface AnchorProofJson {
  recordId: string;
  leaf: string;
  status: "pending" | "anchored";
  merkleRoot: string | null;
  proof: string[];
  transactionHash: string | null;
  blockNumber: number | null;
  anchoredBy: { orgId: string; name: string | null } | null;
}

const batchPath = (id: string) => `/api/v1/batches/${encodeURIComponent(id)}`;
const statusOf = (err: unknown) => (err as { status?: number }).status;
const refused = (err: unknown) => statusOf(err) === 401 || statusOf(err) === 403;

/** Fields the run routes add to a stored run record (outside the hashed document). */
const RUN_VIEW_FIELDS = ["status", "supersededBy", "metrics", "anchor"];

/** `fn` over `items`, at most `limit` at a time; the answers in the items' order. */
async function mapLimit<I, A>(items: I[], fn: (item: I) => Promise<A>, limit = 8): Promise<A[]> {
  const answers = new Array<A>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      answers[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return answers;
}

/** A product as `GET /api/v1/products/{gtin}` serves it (what the records need of it). */
export interface ProductAnswer {
  gtin: string;
  orgId: string;
  masterData: Record<string, unknown> | null;
  transactionHash: string;
  blockNumber: number;
  anchor: AnchorProofJson | null;
}
/** A production run as `GET /api/v1/production-runs/{id}` serves it: the record with the view's fields. */
export type RunAnswer = Record<string, unknown> & { orgId: string; anchor: AnchorProofJson | null };
export interface EpcisRecordRef {
  recordId: string;
  eventID: string;
  owner: string | null;
}
/** An EPCIS record as served (identifiers as captured) with its proof; nulls when the node does not serve it. */
export interface EpcisRecordAnswer {
  stored: { event: unknown; context: unknown } | null;
  proof: AnchorProofJson | null;
}

/**
 * Where the records of a lineage are read, as the API's routes serve them to one reader: refusals
 * throw an error carrying the HTTP `status` (401/403 become not_shared gaps, 404 not_verifiable).
 * `lotline export` reads them over HTTP (httpRecordSource); the explorer's records route, inside
 * the node, reads them directly with the same routes' rules (services/api/record-reads.ts).
 */
export interface RecordSource {
  product(gtin: string): Promise<ProductAnswer>;
  /** Ids of the current production runs that consumed or produced the batch, that the reader may read. */
  runIds(batchId: string): Promise<string[]>;
  run(runId: string): Promise<RunAnswer>;
  epcisRecord(ref: EpcisRecordRef & { owner: string }): Promise<EpcisRecordAnswer>;
}

/** The records through the API's routes, as the signed-in `api` caller may read them. */
export function httpRecordSource(api: ExportApi): RecordSource {
  return {
    product: (gtin) => api.get<ProductAnswer>(`/api/v1/products/${gtin}`),
    async runIds(batchId) {
      const ids: string[] = [];
      let cursor: string | null = null;
      do {
        const query = new URLSearchParams({ batch: batchId, limit: "500", ...(cursor ? { cursor } : {}) });
        const page: { items: { id: string }[]; nextCursor: string | null } = await api.get(`/api/v1/production-runs?${query}`);
        ids.push(...page.items.map((run) => run.id));
        cursor = page.nextCursor;
      } while (cursor);
      return ids;
    },
    run: (runId) => api.get<RunAnswer>(`/api/v1/production-runs/${runId}`),
    async epcisRecord({ recordId, eventID }) {
      const event = encodeURIComponent(eventID);
      // Identifiers as captured: the leaf commits to the stored event, not to its Digital Link rewrite.
      const [doc, links] = await Promise.all([
        api.get<unknown>(`/epcis/events/${event}`, { "GS1-EPC-Format": "Never_Translates" }),
        api.get<{ records: { recordId: string }[] }>(`/epcis/events/${event}/links`),
      ]);
      const index = links.records.findIndex((r) => r.recordId === recordId);
      const stored = documentEvents(doc)[index] ?? null;
      if (!stored) return { stored: null, proof: null };
      // The proof only of an event the reader was shown.
      const proof = await api.get<AnchorProofJson>(`/epcis/events/${event}/proof?recordId=${encodeURIComponent(recordId)}`);
      return { stored, proof };
    },
  };
}

/** A batch's lineage both ways as the API shows it, and each of its batches' timelines. */
interface Lineage {
  trace: { root: string; nodes: Batch[]; edges: Omit<BundleEdge, "chain">[]; truncated: boolean };
  histories: Map<string, HistoryItem[]>;
}

/**
 * The EPCIS entries of batches' timelines as `GET /api/v1/batches/{ref}/history` shows them to the
 * caller (its `epcis` items): what the records need of a history, read without a request per batch
 * by a caller inside the node (the explorer's records route).
 */
export type EpcisTimelines = (batchIds: string[]) => Promise<Map<string, HistoryItem[]>>;

async function collectLineage(api: ExportApi, rootId: string, maxDepth: number, epcisTimelines?: EpcisTimelines): Promise<Lineage> {
  const trace = await api.get<Lineage["trace"]>(`${batchPath(rootId)}/trace?direction=both&maxDepth=${maxDepth}`);
  if (epcisTimelines) return { trace, histories: await epcisTimelines(trace.nodes.map((node) => node.id)) };
  const histories = new Map<string, HistoryItem[]>();
  const timelines = await mapLimit(trace.nodes, async (node) => (await api.get<{ items: HistoryItem[] }>(`${batchPath(node.id)}/history`)).items);
  trace.nodes.forEach((node, i) => histories.set(node.id, timelines[i]));
  return { trace, histories };
}

export async function collectBundle(api: ExportApi, options: ExportOptions): Promise<Bundle> {
  const progress = options.progress ?? (() => undefined);
  const maxDepth = options.maxDepth ?? 50;
  const gaps: BundleGap[] = [];

  const [deployment, root] = await Promise.all([api.get<Bundle["deployment"]>("/api/v1/deployment"), api.get<{ id: string }>(batchPath(options.ref))]);
  const lineage = await collectLineage(api, root.id, maxDepth);
  const { trace, histories } = lineage;
  progress(`lineage: ${trace.nodes.length} batches, ${trace.edges.length} edges`);

  // Each edge's proof is in its output's timeline: the BatchSplit of a split, the LineageEdge of any other flow.
  const edges: BundleEdge[] = trace.edges.map((edge) => {
    const split = edge.type === "split";
    const item = [...(histories.get(edge.to) ?? [])]
      .reverse()
      .find((i) =>
        split
          ? i.type === "split_from" && String(i.details.parent).toLowerCase() === edge.from.toLowerCase()
          : i.type === "made_from" && String(i.details.input).toLowerCase() === edge.from.toLowerCase(),
      );
    const chain: ChainRef | null =
      item?.transactionHash && item.blockNumber !== undefined && item.logIndex !== undefined
        ? { contract: "provenance", event: split ? "BatchSplit" : "LineageEdge", transactionHash: item.transactionHash, blockNumber: item.blockNumber, logIndex: item.logIndex }
        : null;
    return { ...edge, chain };
  });

  const custody: CustodyEntry[] = [];
  for (const [batchId, items] of histories) {
    for (const item of items) {
      if (item.type === "epcis" || !item.transactionHash || item.blockNumber === undefined || item.logIndex === undefined) continue;
      const chainless = { batchId, type: item.type, at: item.at, details: item.details };
      let event: { contract: ChainRef["contract"]; event: string } | null = null;
      try {
        const expected = custodyExpectation({ ...chainless, chain: null as unknown as ChainRef });
        if (expected && INTERFACES[expected.contract].getEvent(expected.event)) event = expected;
      } catch {
        event = null;
      }
      if (!event) {
        gaps.push({
          class: "CUSTODY",
          subject: `${batchId} ${item.type} at ${item.transactionHash}:${item.logIndex}`,
          owner: null,
          reason: "not_verifiable",
          detail: `this exporter cannot tie a "${item.type}" entry to a contract event`,
        });
        continue;
      }
      custody.push({ ...chainless, chain: { ...event, transactionHash: item.transactionHash, blockNumber: item.blockNumber, logIndex: item.logIndex } });
    }
  }

  const proven = await collectRecords(httpRecordSource(api), lineage, options);
  gaps.push(...proven.gaps);

  const refs = [...edges.flatMap((e) => (e.chain ? [e.chain] : [])), ...custody.map((c) => c.chain), ...proven.products.map((p) => p.chain)];
  return {
    format: BUNDLE_FORMAT,
    exportedAt: (options.now ?? (() => new Date()))().toISOString(),
    exportedBy: options.exportedBy,
    source: api.url,
    root: root.id,
    deployment: {
      chainId: deployment.chainId,
      genesisHash: deployment.genesisHash,
      startBlock: deployment.startBlock,
      contracts: deployment.contracts,
      contractsVersion: deployment.contractsVersion,
    },
    abi: abiFragments(refs),
    lineage: { root: trace.root, direction: "both", maxDepth, truncated: trace.truncated, nodes: trace.nodes, edges },
    custody,
    products: proven.products,
    records: proven.records,
    gaps,
  };
}

/**
 * The anchored records of a batch's lineage that the API serves the caller, with their proofs
 * (product master data, production runs, EPCIS events), and a gap for each it cannot prove; with
 * the products' on-chain registrations. What the explorer's records route answers (with
 * `keepFailing`), without the rest of a bundle. `epcisTimelines` stands in for the lineage's
 * history requests (only their EPCIS entries are read here), `source` for the record requests.
 */
export async function collectLineageRecords(
  api: ExportApi,
  rootId: string,
  options: Pick<ExportOptions, "maxDepth" | "keepFailing" | "progress"> & { epcisTimelines?: EpcisTimelines; source?: RecordSource },
) {
  const lineage = await collectLineage(api, rootId, options.maxDepth ?? 50, options.epcisTimelines);
  return collectRecords(options.source ?? httpRecordSource(api), lineage, options);
}

async function collectRecords(
  source: RecordSource,
  { trace, histories }: Lineage,
  options: Pick<ExportOptions, "keepFailing" | "progress">,
): Promise<{ records: ProvenRecord[]; gaps: BundleGap[]; products: ProductRegistration[] }> {
  const progress = options.progress ?? (() => undefined);
  const gaps: BundleGap[] = [];
  const records: ProvenRecord[] = [];
  /** Adds a record when it can be proven as its owner's; otherwise says why not. */
  const offer = (pr: Omit<ProvenRecord, "leaf" | "proof">, anchor: AnchorProofJson | null, subject: string) => {
    const proof = anchor ? recordProofOf(anchor) : null;
    if (!anchor || !proof) {
      gaps.push({ class: pr.class, subject, owner: pr.owner, reason: "pending", detail: "not anchored on-chain yet" });
      return;
    }
    if (proof.anchoredBy.orgId !== pr.owner) {
      gaps.push({
        class: pr.class,
        subject,
        owner: pr.owner,
        reason: "not_anchored_by_owner",
        detail: `anchored by organisation ${proof.anchoredBy.orgId}, not by its owner (organisation ${pr.owner})`,
      });
      return;
    }
    const proven = { ...pr, leaf: anchor.leaf, proof } as ProvenRecord;
    // Kept failing or not, the caller checks every record itself; only a bundle that leaves them out checks here.
    const problem = options.keepFailing ? null : checkRecord(proven);
    if (problem) {
      gaps.push({ class: pr.class, subject, owner: pr.owner, reason: "not_verifiable", detail: `as served: ${problem.detail}` });
      return;
    }
    records.push(proven);
  };
  /** A refusal (401/403) or an absent record becomes a gap; any other error is thrown. */
  const gapOrThrow = (gap: Omit<BundleGap, "reason" | "detail">, err: unknown) => {
    if (refused(err)) gaps.push({ ...gap, reason: "not_shared", detail: (err as Error).message });
    else if (statusOf(err) === 404) gaps.push({ ...gap, reason: "not_verifiable", detail: (err as Error).message });
    else throw err;
  };
  /**
   * For each item, `fetch` (several at a time), then `use` of each answer in the items' order, so
   * the bundle lists records and gaps in the same order however the answers arrive.
   */
  const each = async <I, A>(items: I[], gap: (item: I) => Omit<BundleGap, "reason" | "detail">, fetch: (item: I) => Promise<A>, use: (item: I, answer: A) => void) => {
    const answers = await mapLimit(items, (item) => fetch(item).then((value) => ({ ok: true as const, value }), (error: unknown) => ({ ok: false as const, error })));
    items.forEach((item, i) => {
      const answer = answers[i];
      if (answer.ok) use(item, answer.value);
      else gapOrThrow(gap(item), answer.error);
    });
  };

  // Product master data, and each GTIN's on-chain registration (which names the owner).
  const products: ProductRegistration[] = [];
  await each(
    [...new Set(trace.nodes.map((n) => n.gtin))],
    (gtin) => ({ class: "PRODUCT", subject: `GTIN ${gtin}`, owner: null }),
    (gtin) => source.product(gtin),
    (gtin, p) => {
      products.push({ gtin: p.gtin, owner: p.orgId, chain: { contract: "provenance", event: "ProductRegistered", transactionHash: p.transactionHash, blockNumber: p.blockNumber, logIndex: null } });
      if (!p.masterData) {
        gaps.push({ class: "PRODUCT", subject: `GTIN ${gtin}`, owner: p.orgId, reason: "not_verifiable", detail: "the node does not hold the master data" });
        return;
      }
      offer({ class: "PRODUCT", owner: p.orgId, recordId: p.anchor?.recordId ?? `product:${gtin}`, record: p.masterData }, p.anchor, `GTIN ${gtin}`);
    },
  );

  // Production runs that consumed or produced a batch of the lineage.
  const runIds = new Set<string>();
  await each(
    trace.nodes,
    (node) => ({ class: "PRODUCTION_RUN", subject: `runs of batch ${node.id}`, owner: null }),
    (node) => source.runIds(node.id),
    (_node, ids) => ids.forEach((id) => runIds.add(id)),
  );
  await each(
    [...runIds],
    (runId) => ({ class: "PRODUCTION_RUN", subject: runId, owner: null }),
    (runId) => source.run(runId),
    (runId, run) => {
      const record = Object.fromEntries(Object.entries(run).filter(([key]) => !RUN_VIEW_FIELDS.includes(key)));
      offer({ class: "PRODUCTION_RUN", owner: String(run.orgId), recordId: run.anchor?.recordId ?? `production-run:${runId}`, record }, run.anchor, runId);
    },
  );
  progress(`records: ${runIds.size} production runs`);

  // EPCIS events naming a batch of the lineage (or a logistic unit it was packed in).
  const seen = new Set<string>();
  const events: EpcisRecordRef[] = [];
  for (const items of histories.values()) {
    for (const item of items) {
      if (item.type !== "epcis") continue;
      const recordId = String(item.details.recordId);
      if (seen.has(recordId)) continue;
      seen.add(recordId);
      events.push({ recordId, eventID: String(item.details.eventID), owner: item.details.orgId === undefined ? null : String(item.details.orgId) });
    }
  }
  await each(
    events,
    ({ recordId, owner }) => ({ class: "EPCIS", subject: recordId, owner }),
    async ({ recordId, eventID, owner }): Promise<EpcisRecordAnswer> => (owner === null ? { stored: null, proof: null } : source.epcisRecord({ recordId, eventID, owner })),
    ({ recordId, eventID, owner }, { stored, proof }) => {
      if (owner === null) {
        gaps.push({ class: "EPCIS", subject: recordId, owner, reason: "not_verifiable", detail: "the node does not say which organisation captured the event" });
        return;
      }
      if (!stored || !proof) {
        gaps.push({ class: "EPCIS", subject: recordId, owner, reason: "not_verifiable", detail: `the node did not serve record ${recordId} of event ${eventID}` });
        return;
      }
      offer({ class: "EPCIS", owner, recordId, record: { event: stored.event, context: stored.context } }, { ...proof, recordId }, recordId);
    },
  );
  progress(`records: ${records.length} proven, ${gaps.length} gaps`);
  return { records, gaps, products };
}

/** Throws unless `dir` does not exist or is an empty directory (checked before anything is fetched, and again before writing). */
export function assertNewTarget(dir: string): void {
  const target = path.resolve(dir);
  if (fs.existsSync(target) && (!fs.statSync(target).isDirectory() || fs.readdirSync(target).length > 0)) {
    throw new Error(`${dir} exists and is not an empty directory: give a new directory for the bundle`);
  }
}

/**
 * Writes the bundle's files into `dir`, which must not exist or be empty. The files go to a
 * sibling directory first and are renamed into place at the end: an error leaves nothing half-written.
 */
export function writeBundleDir(dir: string, bundle: Bundle): { files: number } {
  const target = path.resolve(dir);
  assertNewTarget(dir);
  const files = bundleFiles(bundle, bundleReadme(bundle));
  const staging = `${target}.partial-${process.pid}-${Date.now()}`;
  try {
    fs.mkdirSync(staging, { recursive: true });
    for (const [name, content] of files) fs.writeFileSync(path.join(staging, name), content);
    if (fs.existsSync(target)) fs.rmdirSync(target);
    fs.renameSync(staging, target);
  } catch (err) {
    fs.rmSync(staging, { recursive: true, force: true });
    throw err;
  }
  return { files: files.size };
}
