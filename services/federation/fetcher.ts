import type { Signer } from "ethers";
import type { Db } from "../store/db";
import { prepared } from "../store/statements";
import { createSharingStore } from "../store/sharing";
import { createProvenanceStore } from "../store/provenance";
import { checkRecord, type ProvenRecord } from "../export/records";
import { runBatchIds, type ProductionRunRecord } from "../analytics/record";
import { signNodeRequest } from "./node-auth";
import { traceLineage } from "../provenance/trace";
import { createFederationStore, type FetchOutcome, type FetchStatus } from "./store";

/**
 * The fetching half of federation. A node that needs another member's records (a footprint, a
 * batch's upstream runs) asks the node that holds them — the URL the owning organisation published
 * on-chain (`serviceUrl`) — in a GET signed by the integration key of the organisation it reads
 * for. Every record answered is checked before it is stored as a replica: the leaf recomputed from
 * the record, the Merkle proof, the owner named in the record and in the proof, and the owner's
 * anchor of the root on the indexed chain (ADR 0011). A record that fails is refused and logged.
 * What could not be obtained is remembered per (batch, owner, reading organisation) as a status —
 * not_shared, not_recorded or unreachable — which derived figures show as gaps.
 */
export const FEDERATION_CLASS = "PRODUCTION_RUN";
/** Lineage hops followed upstream when a footprint or a score asks for the runs it needs. */
const MAX_UPSTREAM_DEPTH = 64;
/** Batches asked in one request (the holder's limit too). */
export const MAX_BATCHES_PER_REQUEST = 50;

export interface HolderAnswer {
  records: ProvenRecord[];
  batches: { batchId: string; status: Exclude<FetchStatus, "unreachable">; pending: number }[];
}

export interface FederationOptions {
  db: Db;
  chainId: () => number;
  /** The integration key the node reads for `orgId` with (null: it holds none for that organisation). */
  signerFor(orgId: number): Signer | null;
  /** Whether this node itself holds the organisation's records. */
  serves(orgId: number): boolean;
  log?: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };
  /** Per request to a holder. */
  timeoutMs?: number;
  /** An answer younger than this is not asked again on demand. */
  freshForMs?: number;
  fetchImpl?: typeof fetch;
  now?: () => number;
}

export function createFederation(options: FederationOptions) {
  const { db } = options;
  const store = createFederationStore(db);
  const sharing = createSharingStore(db);
  const provenance = createProvenanceStore(db);
  const timeoutMs = options.timeoutMs ?? 3_000;
  const freshForMs = options.freshForMs ?? 30_000;
  const now = options.now ?? Date.now;
  const doFetch = options.fetchImpl ?? fetch;

  /** The organisation whose node holds a batch's production runs: its lot's producer. */
  function holderOrgOf(batchId: string): number | null {
    const batch = provenance.getBatch(batchId);
    return batch ? Number(batch.producerOrgId) : null;
  }

  async function askHolder(url: string, signer: Signer, batchIds: string[]): Promise<HolderAnswer> {
    const target = new URL(`/api/v1/federation/records?batches=${batchIds.join(",")}`, url);
    const authorization = await signNodeRequest(signer, options.chainId(), target);
    const response = await doFetch(target, { headers: { authorization, accept: "application/json" }, signal: AbortSignal.timeout(timeoutMs), redirect: "error" });
    const text = await response.text();
    if (!response.ok) {
      let detail = text.slice(0, 300);
      try {
        detail = (JSON.parse(text) as { detail?: string }).detail ?? detail;
      } catch {
        // not a problem document: keep the text
      }
      throw Object.assign(new Error(`the holder answered ${response.status}: ${detail}`), { status: response.status });
    }
    return JSON.parse(text) as HolderAnswer;
  }

  /** Organisations whose published node is `url`: the owners whose records that node may answer. */
  function orgsServedAt(url: string): Set<string> {
    const rows = prepared(db, `SELECT org_id FROM service_urls WHERE url = ?`).all(url) as { org_id: number }[];
    return new Set(rows.map((r) => String(r.org_id)));
  }

  /**
   * Checks one record answered by `servedBy` (asked for `ownerOrg`'s batches); stores it when it
   * holds, logs and refuses it when not. The holder may answer records of any organisation that
   * published it as its node (a dairy's run consuming the farm's milk, from the node serving both).
   */
  function accept(pr: ProvenRecord, ownerOrg: number, servedBy: string, owners: Set<string>): boolean {
    const refuse = (failure: string, detail: string) => {
      store.reject({ ownerOrg, servedBy, recordId: String(pr?.recordId ?? "?"), failure, detail });
      options.log?.warn({ ownerOrg, servedBy, recordId: pr?.recordId, failure, detail }, "federation: refused a record that does not verify");
      return false;
    };
    if (!pr || pr.class !== "PRODUCTION_RUN") return refuse("malformed", `expected a PRODUCTION_RUN record, got ${String(pr?.class)}`);
    if (!owners.has(pr.owner)) {
      return refuse("owner_mismatch", `asked organisation ${ownerOrg}'s node, which organisation ${pr.owner} has not published as its own, for a record of organisation ${pr.owner}`);
    }
    const problem = checkRecord(pr);
    if (problem) return refuse(problem.failure, problem.detail);
    if (!store.anchoredBy(Number(pr.owner), pr.proof.merkleRoot)) {
      return refuse("not_anchored", `organisation ${pr.owner} has not anchored root ${pr.proof.merkleRoot} on the indexed chain`);
    }
    const record = pr.record as unknown as ProductionRunRecord;
    if (typeof record.id !== "string" || !Array.isArray(record.outputs)) return refuse("malformed", "the record is not a production run");
    store.storeRunReplica(pr as ProvenRecord<"PRODUCTION_RUN">, servedBy);
    return true;
  }

  /**
   * Makes sure the production runs of these batches held by other members' nodes are here, as far
   * as organisation `asOrg` may read them: asks each holder (grouped, in parallel) unless its last
   * answer is fresh. Returns the outcome per batch whose holder is another node.
   */
  async function ensureRuns(batchIds: readonly string[], asOrg: number, ensureOptions: { force?: boolean } = {}): Promise<Map<string, FetchOutcome>> {
    const outcomes = new Map<string, FetchOutcome>();
    const byHolder = new Map<number, string[]>();
    for (const raw of new Set(batchIds.map((b) => b.toLowerCase()))) {
      const owner = holderOrgOf(raw);
      if (owner === null || options.serves(owner)) continue;
      const last = store.lastFetch(raw, owner, asOrg, FEDERATION_CLASS);
      // An unreachable holder is asked again at once: its being back must show on the next read.
      if (last && last.status !== "unreachable" && !ensureOptions.force && now() - last.fetchedAt < freshForMs) {
        outcomes.set(raw, last);
        continue;
      }
      byHolder.set(owner, [...(byHolder.get(owner) ?? []), raw]);
    }
    const record = (batchId: string, owner: number, status: FetchStatus, servedBy: string | null, detail: string) => {
      const outcome: FetchOutcome = { batchId, ownerOrg: owner, asOrg, recordClass: FEDERATION_CLASS, status, servedBy, detail, fetchedAt: now() };
      store.recordFetch(outcome);
      outcomes.set(batchId, outcome);
    };
    await Promise.all(
      [...byHolder].map(async ([owner, batches]) => {
        const url = sharing.serviceUrl(owner);
        const signer = options.signerFor(asOrg);
        if (!url) {
          for (const b of batches) record(b, owner, "unreachable", null, `organisation ${owner} has published no service URL (lotline org publish-url)`);
          return;
        }
        if (!signer) {
          for (const b of batches) record(b, owner, "unreachable", url, `this node holds no integration key of organisation ${asOrg} to ask organisation ${owner}'s node with`);
          return;
        }
        for (let i = 0; i < batches.length; i += MAX_BATCHES_PER_REQUEST) {
          const chunk = batches.slice(i, i + MAX_BATCHES_PER_REQUEST);
          let answer: HolderAnswer;
          try {
            answer = await askHolder(url, signer, chunk);
          } catch (err) {
            const status = (err as { status?: number }).status;
            const refused = status === 401 || status === 403;
            const detail = refused
              ? `organisation ${owner}'s node (${url}) refused organisation ${asOrg}: ${(err as Error).message}`
              : `organisation ${owner}'s node (${url}) could not be reached: ${(err as Error).message}`;
            for (const b of chunk) record(b, owner, refused ? "not_shared" : "unreachable", url, detail);
            continue;
          }
          let accepted = 0;
          const owners = orgsServedAt(url);
          for (const pr of answer.records ?? []) if (accept(pr, owner, url, owners)) accepted++;
          const said = new Map((answer.batches ?? []).map((b) => [String(b.batchId).toLowerCase(), b]));
          for (const b of chunk) {
            const s = said.get(b);
            const status: FetchStatus = s?.status === "ok" || s?.status === "not_shared" || s?.status === "not_recorded" ? s.status : "not_recorded";
            const detail =
              status === "ok"
                ? `organisation ${owner}'s node (${url}) answered its production runs (${s?.pending ?? 0} not anchored yet)`
                : status === "not_shared"
                  ? `organisation ${owner} has not shared its production runs of batch ${b} with organisation ${asOrg}`
                  : `organisation ${owner}'s node (${url}) holds no production run naming batch ${b}`;
            record(b, owner, status, url, detail);
          }
          if (accepted) options.log?.info({ owner, servedBy: url, accepted }, "federation: replicated production runs");
        }
      }),
    );
    return outcomes;
  }

  /** ensureRuns for a batch and every batch upstream of it: what a footprint or a batch score needs. */
  function ensureUpstream(root: string, asOrg: number): Promise<Map<string, FetchOutcome>> {
    const lineage = traceLineage(root, ["upstream"], MAX_UPSTREAM_DEPTH, provenance.neighbours);
    return ensureRuns(
      lineage.nodes.map((n) => n.id),
      asOrg,
    );
  }

  /** The last outcome for a batch read as `asOrg` (null: its holder is this node, or never asked). */
  function outcomeOf(batchId: string, asOrg: number): FetchOutcome | null {
    const owner = holderOrgOf(batchId);
    if (owner === null || options.serves(owner)) return null;
    return store.lastFetch(batchId, owner, asOrg, FEDERATION_CLASS);
  }

  /** Organisations this node reads for: those it serves and holds a key of. */
  function readers(): number[] {
    const rows = prepared(db, `SELECT org_id FROM organisations WHERE status = 'active' ORDER BY org_id`).all() as { org_id: number }[];
    return rows.map((r) => r.org_id).filter((id) => options.serves(id) && options.signerFor(id) !== null);
  }

  /**
   * One round of background sync: for every organisation this node reads for, the lots of other
   * members whose production runs a grant in force lets it read are asked again (fresh answers
   * skipped); replicas no reader here may read any more (a revoked or expired grant) are deleted.
   */
  async function syncOnce(): Promise<{ asked: number; dropped: number }> {
    let asked = 0;
    const local = readers();
    const lots = prepared(db, `SELECT l.lot_id, l.producer_org FROM lots l ORDER BY l.lot_id`).all() as { lot_id: string; producer_org: number }[];
    for (const reader of local) {
      const wanted = lots
        .filter((lot) => !options.serves(lot.producer_org))
        .filter((lot) => sharing.mayRead(reader, lot.producer_org, "PRODUCTION_RUN", () => sharing.subjectOf([lot.lot_id])))
        .map((lot) => lot.lot_id);
      if (wanted.length === 0) continue;
      asked += wanted.length;
      await ensureRuns(wanted, reader);
    }
    let dropped = 0;
    const owners = prepared(db, `SELECT DISTINCT org_id FROM production_runs WHERE served_by IS NOT NULL`).all() as { org_id: number }[];
    for (const { org_id: owner } of owners) {
      dropped += store.dropReplicas(owner, (run) => local.some((reader) => sharing.mayRead(reader, owner, "PRODUCTION_RUN", () => sharing.subjectOf(runBatchIds(run)))));
    }
    if (dropped) options.log?.info({ dropped }, "federation: deleted replicas no grant covers any more");
    return { asked, dropped };
  }

  return { ensureRuns, ensureUpstream, outcomeOf, syncOnce, store, job: { name: "federation-sync", runOnce: syncOnce } };
}
export type Federation = ReturnType<typeof createFederation>;
