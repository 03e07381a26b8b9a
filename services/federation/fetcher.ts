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
import { batchIdentifiers } from "../epcis/mapping/batches";
import type { EpcisEvent } from "../epcis/hash";
import { epcisVisibility } from "../epcis/access";
import { createEpcisReplicaStore, provenEvent, type EpcisProofEntry } from "./epcis";
import { createOrderTermsStore, decodeBase64, isContentType, MAX_TERMS_BYTES, termsHashOf, ZERO_HASH, type TermsFetchStatus } from "../settlement/order-terms";

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
/** The record class of EPCIS events, in federation_fetches. */
export const EPCIS_CLASS = "EPCIS";
/** Batches whose events one EPCIS query asks for (their identifiers go into one MATCH_ parameter). */
const EPCIS_BATCHES_PER_QUERY = 20;
/** Pages of one EPCIS query followed at most (perPage = EPCIS_PAGE_SIZE). */
const MAX_EPCIS_PAGES = 50;
const EPCIS_PAGE_SIZE = 500;

/** What a holder answered beside its EPCIS events: the proofs, and per batch and organisation whether it holds events. */
export interface EpcisProofAnswer {
  proofs: EpcisProofEntry[];
  batches: { batchId: string; orgId: string; status: "ok" | "not_shared"; pending: number }[];
}

/** A batch's EPCIS events that could not be obtained, for an organisation: a named gap. */
export interface EpcisGap {
  batchId: string;
  orgId: string | null;
  reason: "not_shared" | "unreachable" | "not_recorded";
  detail: string;
}

/** What a party's node answered for order terms documents (GET /api/v1/federation/order-terms). */
export interface TermsHolderAnswer {
  documents: { orderId: string; owner: string; termsHash: string; contentType: string; content: string }[];
  orders: { orderId: string; status: "ok" | "not_shared" | "not_recorded" }[];
}
/** Orders asked in one request (the holder's limit too). */
export const MAX_ORDERS_PER_REQUEST = 50;

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
    return (await signedGet(new URL(`/api/v1/federation/records?batches=${batchIds.join(",")}`, url), signer)).body as HolderAnswer;
  }

  /** A GET signed by `signer` (a node request); the JSON body and the headers, or an Error with the status. */
  async function signedGet(target: URL, signer: Signer, headers: Record<string, string> = {}): Promise<{ body: unknown; headers: Headers }> {
    const authorization = await signNodeRequest(signer, options.chainId(), target);
    const response = await doFetch(target, { headers: { ...headers, authorization, accept: "application/json" }, signal: AbortSignal.timeout(timeoutMs), redirect: "error" });
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
    return { body: JSON.parse(text) as unknown, headers: response.headers };
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

  const epcisReplicas = createEpcisReplicaStore(db);

  /** Other members' nodes: each published URL with the organisations that published it, not served here. */
  function otherNodes(): Map<string, number[]> {
    const rows = prepared(db, `SELECT s.url, s.org_id FROM service_urls s JOIN organisations o ON o.org_id = s.org_id WHERE o.status = 'active' ORDER BY s.org_id`).all() as {
      url: string;
      org_id: number;
    }[];
    const nodes = new Map<string, number[]>();
    for (const { url, org_id } of rows) if (!options.serves(org_id)) nodes.set(url, [...(nodes.get(url) ?? []), org_id]);
    return nodes;
  }

  /** The event-naming identifiers of a batch (its lot's Digital Link, its logistic units' SSCCs), from the index. */
  function identifiersOf(batchId: string): string[] {
    const batch = provenance.getBatch(batchId);
    return batch ? batchIdentifiers(batch, provenance.ssccsOf(batchId)) : [];
  }

  /** Every page of one EPCIS query at the holder, as received: each event with the @context of its page. */
  async function queryEvents(url: string, signer: Signer, parameter: string, ids: string[]): Promise<{ event: EpcisEvent; pageContext: unknown }[]> {
    const out: { event: EpcisEvent; pageContext: unknown }[] = [];
    const first = new URL("/epcis/events", url);
    first.searchParams.set(parameter, ids.join("|"));
    first.searchParams.set("perPage", String(EPCIS_PAGE_SIZE));
    let target: URL | null = first;
    for (let page = 0; target && page < MAX_EPCIS_PAGES; page++) {
      // As captured: the leaf commits to the identifiers in the form the owner captured them.
      const { body, headers } = await signedGet(target, signer, { "gs1-epc-format": "No_Preference" });
      const doc = body as { "@context"?: unknown; epcisBody?: { queryResults?: { resultsBody?: { eventList?: unknown[] } } } };
      for (const event of doc.epcisBody?.queryResults?.resultsBody?.eventList ?? []) {
        if (event && typeof event === "object") out.push({ event: event as EpcisEvent, pageContext: doc["@context"] });
      }
      const next = /<([^>]+)>\s*;\s*rel="next"/.exec(headers.get("link") ?? "")?.[1];
      target = next ? new URL(next) : null;
      // The next page is asked of the same node only (a signature names the host it is for).
      if (target && target.host !== first.host) throw new Error(`the holder's next page points at another host (${target.host})`);
    }
    return out;
  }

  /**
   * Makes sure the EPCIS events naming these batches that other members' nodes hold are here, as far
   * as organisation `asOrg` may read them: asks every other member node (unless its last answers for
   * every organisation it serves are fresh) through its EPCIS query interface — MATCH_anyEPC and
   * MATCH_anyEPCClass with the batches' identifiers — and for the proofs beside them, checks every
   * event against its owner's anchor and stores it as a replica. Remembers per (batch, organisation)
   * what the node answered: ok, not_shared, not_recorded or unreachable.
   */
  async function ensureEpcis(batchIds: readonly string[], asOrg: number, ensureOptions: { force?: boolean } = {}): Promise<void> {
    const batches = [...new Set(batchIds.map((b) => b.toLowerCase()))].filter((b) => provenance.getBatch(b) !== null);
    if (batches.length === 0) return;
    const record = (batchId: string, owner: number, status: FetchStatus, servedBy: string | null, detail: string) =>
      store.recordFetch({ batchId, ownerOrg: owner, asOrg, recordClass: EPCIS_CLASS, status, servedBy, detail, fetchedAt: now() });
    await Promise.all(
      [...otherNodes()].map(async ([url, orgs]) => {
        const stale = batches.filter((b) =>
          orgs.some((o) => {
            const last = store.lastFetch(b, o, asOrg, EPCIS_CLASS);
            if (ensureOptions.force || !last || last.status === "unreachable" || now() - last.fetchedAt >= freshForMs) return true;
            // A grant revoked since the last answer shows at once: the holder is asked again (and says not_shared).
            return last.status === "ok" && !sharing.mayRead(asOrg, o, "EPCIS", () => sharing.subjectOf([b]));
          }),
        );
        if (stale.length === 0) return;
        const signer = options.signerFor(asOrg);
        if (!signer) {
          for (const b of stale) for (const o of orgs) record(b, o, "unreachable", url, `this node holds no integration key of organisation ${asOrg} to ask organisation ${o}'s node with`);
          return;
        }
        const owners = orgsServedAt(url);
        for (let i = 0; i < stale.length; i += EPCIS_BATCHES_PER_QUERY) {
          const chunk = stale.slice(i, i + EPCIS_BATCHES_PER_QUERY);
          const ids = [...new Set(chunk.flatMap(identifiersOf))];
          let answer: EpcisProofAnswer;
          let received: { event: EpcisEvent; pageContext: unknown }[];
          try {
            answer = (await signedGet(new URL(`/api/v1/federation/epcis-proofs?batches=${chunk.join(",")}`, url), signer)).body as EpcisProofAnswer;
            received = [...(await queryEvents(url, signer, "MATCH_anyEPC", ids)), ...(await queryEvents(url, signer, "MATCH_anyEPCClass", ids))];
          } catch (err) {
            const status = (err as { status?: number }).status;
            const refused = status === 401 || status === 403;
            for (const b of chunk) {
              for (const o of orgs) {
                const detail = refused
                  ? `organisation ${o}'s node (${url}) refused organisation ${asOrg}: ${(err as Error).message}`
                  : `organisation ${o}'s node (${url}) could not be reached: ${(err as Error).message}`;
                record(b, o, refused ? "not_shared" : "unreachable", url, detail);
              }
            }
            continue;
          }
          let accepted = 0;
          const receivedById = new Map<string, { event: EpcisEvent; pageContext: unknown }[]>();
          for (const r of received) receivedById.set(String(r.event.eventID), [...(receivedById.get(String(r.event.eventID)) ?? []), r]);
          for (const entry of answer.proofs ?? []) {
            const events = receivedById.get(String(entry?.eventID)) ?? [];
            // A proof whose event the query did not answer has nothing to check (the holder withheld it: no replica).
            // Held already, from its owner's node: nothing to check again (a record from any other node is checked, and refused).
            if (events.length === 0 || (owners.has(String(entry?.owner)) && epcisReplicas.known(Number(entry.owner), String(entry.recordId)))) continue;
            // Several records may share an eventID (an event and its error declaration): the one whose leaf is this entry's.
            const readings = events.map((r) => provenEvent(r.event, r.pageContext, entry));
            const pr = readings.find((candidate) => checkRecord(candidate)?.failure !== "record_changed") ?? readings[0];
            if (acceptEvent(pr, Number(entry.owner), url, owners)) accepted++;
          }
          const said = new Map((answer.batches ?? []).map((b) => [`${String(b.batchId).toLowerCase()}:${String(b.orgId)}`, b]));
          for (const b of chunk) {
            for (const o of orgs) {
              const s = said.get(`${b}:${o}`);
              const status: FetchStatus = s?.status === "ok" || s?.status === "not_shared" ? s.status : "not_recorded";
              const detail =
                status === "ok"
                  ? `organisation ${o}'s node (${url}) answered its EPCIS events naming batch ${b} (${s?.pending ?? 0} not anchored yet)`
                  : status === "not_shared"
                    ? `organisation ${o} has not shared its EPCIS events naming batch ${b} with organisation ${asOrg}`
                    : `organisation ${o}'s node (${url}) holds no EPCIS event naming batch ${b}`;
              record(b, o, status, url, detail);
            }
          }
          if (accepted) options.log?.info({ servedBy: url, accepted }, "federation: replicated EPCIS events");
        }
      }),
    );
  }

  /** Checks one EPCIS event answered by `servedBy`; stores it when it holds, logs and refuses it when not. */
  function acceptEvent(pr: ProvenRecord<"EPCIS">, ownerOrg: number, servedBy: string, owners: Set<string>): boolean {
    const refuse = (failure: string, detail: string) => {
      store.reject({ ownerOrg, servedBy, recordId: String(pr?.recordId ?? "?"), failure, detail });
      options.log?.warn({ ownerOrg, servedBy, recordId: pr?.recordId, failure, detail }, "federation: refused an EPCIS event that does not verify");
      return false;
    };
    if (!owners.has(pr.owner)) {
      return refuse("owner_mismatch", `${servedBy} answered an event of organisation ${pr.owner}, which has not published that node as its own`);
    }
    const problem = checkRecord(pr);
    if (problem) return refuse(problem.failure, problem.detail);
    if (!store.anchoredBy(Number(pr.owner), pr.proof.merkleRoot)) {
      return refuse("not_anchored", `organisation ${pr.owner} has not anchored root ${pr.proof.merkleRoot} on the indexed chain`);
    }
    try {
      epcisReplicas.store(pr, servedBy);
    } catch (err) {
      return refuse("malformed", `the event cannot be stored: ${(err as Error).message}`);
    }
    return true;
  }

  const orderTerms = createOrderTermsStore(db, sharing);

  /**
   * Makes sure the terms documents of these orders are here, as far as organisation `asOrg` may read
   * them (docs/adr/0030): asks the node each party (buyer, seller) published, unless the document is
   * held already (its bytes are fixed by the order's termsHash: a held copy never goes stale) or the
   * last answer is fresh. Each document answered is checked — the answering node is the one its
   * owning party published, the owner is a party, keccak256 of the bytes is the order's termsHash on
   * this node's index — and stored as a replica; one that fails is refused and logged. Remembers per
   * (order, reading organisation) what the parties' nodes answered — the best of their answers: ok,
   * then not_shared, rejected (a document answered that did not verify), unreachable, not_recorded.
   */
  async function ensureOrderTerms(orderIds: readonly number[], asOrg: number, ensureOptions: { force?: boolean } = {}): Promise<void> {
    type Answer = { status: TermsFetchStatus; orgId: number | null; servedBy: string | null; detail: string };
    const byUrl = new Map<string, Set<number>>();
    const answers = new Map<number, Answer[]>();
    const note = (orderId: number, answer: Answer) => answers.set(orderId, [...(answers.get(orderId) ?? []), answer]);
    for (const orderId of new Set(orderIds)) {
      const order = orderTerms.orderOf(orderId);
      if (!order || order.termsHash === ZERO_HASH || orderTerms.held(order)) continue;
      const last = orderTerms.lastFetch(orderId, asOrg);
      // Unreachable and rejected answers are asked again at once (the node being back, or fixed, must show on the next read);
      // so is a not_shared answer while this node's index says the reader may read (a grant made since, a holder's index behind).
      const settled = last !== null && (last.status === "not_shared" || last.status === "not_recorded") && now() - last.fetchedAt < freshForMs;
      if (settled && !ensureOptions.force && !(last.status === "not_shared" && orderTerms.mayRead(asOrg, order))) continue;
      for (const party of new Set([order.buyerOrg, order.sellerOrg])) {
        if (options.serves(party)) continue;
        const url = sharing.serviceUrl(party);
        if (url) byUrl.set(url, (byUrl.get(url) ?? new Set()).add(orderId));
        else note(orderId, { status: "unreachable", orgId: party, servedBy: null, detail: `organisation ${party} has published no service URL (lotline org publish-url)` });
      }
    }
    const signer = options.signerFor(asOrg);
    await Promise.all(
      [...byUrl].map(async ([url, ids]) => {
        const owners = orgsServedAt(url);
        /** The party of the order that published `url` (both may have). */
        const partyAt = (orderId: number) => {
          const order = orderTerms.orderOf(orderId)!;
          return [order.buyerOrg, order.sellerOrg].find((o) => owners.has(String(o))) ?? order.buyerOrg;
        };
        const list = [...ids];
        if (!signer) {
          for (const id of list) note(id, { status: "unreachable", orgId: partyAt(id), servedBy: url, detail: `this node holds no integration key of organisation ${asOrg} to ask ${url} with` });
          return;
        }
        for (let i = 0; i < list.length; i += MAX_ORDERS_PER_REQUEST) {
          const chunk = list.slice(i, i + MAX_ORDERS_PER_REQUEST);
          let answer: TermsHolderAnswer;
          try {
            answer = (await signedGet(new URL(`/api/v1/federation/order-terms?orders=${chunk.join(",")}`, url), signer)).body as TermsHolderAnswer;
          } catch (err) {
            const refused = [401, 403].includes((err as { status?: number }).status ?? 0);
            for (const id of chunk) {
              note(id, {
                status: refused ? "not_shared" : "unreachable",
                orgId: partyAt(id),
                servedBy: url,
                detail: refused
                  ? `organisation ${partyAt(id)}'s node (${url}) refused organisation ${asOrg}: ${(err as Error).message}`
                  : `organisation ${partyAt(id)}'s node (${url}) could not be reached: ${(err as Error).message}`,
              });
            }
            continue;
          }
          const refusals = new Map<number, string>();
          let accepted = 0;
          for (const document of Array.isArray(answer?.documents) ? answer.documents : []) {
            const id = Number(document?.orderId);
            if (!chunk.includes(id)) continue;
            const refusal = acceptTerms(document, url, owners);
            if (refusal) refusals.set(id, refusal);
            else accepted++;
          }
          const said = new Map((Array.isArray(answer?.orders) ? answer.orders : []).map((o) => [Number(o?.orderId), o?.status]));
          for (const id of chunk) {
            const party = partyAt(id);
            const refusal = refusals.get(id);
            if (refusal) note(id, { status: "rejected", orgId: party, servedBy: url, detail: refusal });
            else if (said.get(id) === "not_shared") note(id, { status: "not_shared", orgId: party, servedBy: url, detail: `organisation ${party} has not shared order ${id}'s terms with organisation ${asOrg}` });
            else if (said.get(id) !== "ok") note(id, { status: "not_recorded", orgId: party, servedBy: url, detail: `organisation ${party}'s node (${url}) holds no terms document of order ${id}` });
            else note(id, { status: "ok", orgId: party, servedBy: url, detail: `organisation ${party}'s node (${url}) answered order ${id}'s terms` });
          }
          if (accepted) options.log?.info({ servedBy: url, accepted }, "federation: replicated order terms documents");
        }
      }),
    );
    // The best answer per order: a document held beats a refusal to share, a document refused, an unreachable node, a node without it.
    const rank: Record<TermsFetchStatus, number> = { ok: 0, not_shared: 1, rejected: 2, unreachable: 3, not_recorded: 4 };
    for (const [orderId, said] of answers) {
      const best = [...said].sort((a, b) => rank[a.status] - rank[b.status])[0];
      orderTerms.recordFetch({ orderId, asOrg, fetchedAt: now(), ...best });
    }
  }

  /**
   * Checks one terms document `servedBy` answered; stores it as a replica when it holds (null), logs
   * and refuses it when not, storing nothing of it (the reason).
   */
  function acceptTerms(document: TermsHolderAnswer["documents"][number], servedBy: string, owners: Set<string>): string | null {
    const orderId = Number(document?.orderId);
    const ownerOrg = Number(document?.owner);
    const refuse = (failure: string, detail: string) => {
      store.reject({ ownerOrg: Number.isSafeInteger(ownerOrg) ? ownerOrg : 0, servedBy, recordId: `order-terms:${String(document?.orderId)}`, failure, detail });
      options.log?.warn({ ownerOrg, servedBy, orderId: document?.orderId, failure, detail }, "federation: refused an order terms document that does not verify");
      return `${detail} (refused: ${failure})`;
    };
    const order = orderTerms.orderOf(orderId)!;
    if (ownerOrg !== order.buyerOrg && ownerOrg !== order.sellerOrg) {
      return refuse("owner_mismatch", `${servedBy} answered order ${orderId}'s terms as organisation ${String(document?.owner)}'s, which is neither its buyer nor its seller`);
    }
    if (!owners.has(String(ownerOrg))) {
      return refuse("owner_mismatch", `${servedBy} answered order ${orderId}'s terms as organisation ${ownerOrg}'s, which has not published that node as its own`);
    }
    const content = typeof document.content === "string" ? decodeBase64(document.content) : null;
    if (!content || content.length === 0 || content.length > MAX_TERMS_BYTES || typeof document.contentType !== "string" || !isContentType(document.contentType)) {
      return refuse("malformed", `order ${orderId}'s terms answered by ${servedBy} are not a base64 document of 1 to ${MAX_TERMS_BYTES} bytes with a content type`);
    }
    const hash = termsHashOf(content);
    if (hash !== order.termsHash) {
      return refuse("terms_hash_mismatch", `order ${orderId}'s terms answered by ${servedBy} hash to ${hash}, but the order recorded termsHash ${order.termsHash} on-chain`);
    }
    orderTerms.storeReplica(order, { contentType: document.contentType, content, ownerOrg, servedBy });
    return null;
  }

  /** The organisations that handled a batch's lot on-chain: its producer and every portion's owner and custodian. */
  function involvedOrgs(batchId: string): Set<number> {
    const rows = prepared(
      db,
      `SELECT producer_org, owner_org, custodian_org FROM batches WHERE lot_id = (SELECT lot_id FROM batches WHERE batch_id = ?)`,
    ).all(batchId) as { producer_org: number; owner_org: number; custodian_org: number }[];
    return new Set(rows.flatMap((r) => [r.producer_org, r.owner_org, r.custodian_org]));
  }

  /**
   * The named gaps of these batches' EPCIS events for `asOrg`, from what each node answered last.
   * Any member may have captured events about a lot, but only those that handled it on-chain (its
   * producer, its portions' owners and custodians) are expected to: for them an unreachable node is
   * a gap, and for the producer also holding none (not_recorded); for any organisation, events it
   * holds and did not share are a not_shared gap.
   */
  function epcisGaps(batchIds: readonly string[], asOrg: number): EpcisGap[] {
    const gaps: EpcisGap[] = [];
    const orgs = [...otherNodes().values()].flat();
    for (const raw of new Set(batchIds.map((b) => b.toLowerCase()))) {
      const producer = holderOrgOf(raw);
      if (producer === null) continue;
      const involved = involvedOrgs(raw);
      for (const o of involved) {
        if (!options.serves(o) && !orgs.includes(o)) {
          gaps.push({ batchId: raw, orgId: String(o), reason: "unreachable", detail: `organisation ${o} has published no service URL (lotline org publish-url)` });
        }
      }
      for (const o of orgs) {
        const last = store.lastFetch(raw, o, asOrg, EPCIS_CLASS);
        if (!last) {
          if (involved.has(o)) gaps.push({ batchId: raw, orgId: String(o), reason: "unreachable", detail: `organisation ${o}'s node was not asked for organisation ${asOrg} yet` });
          continue;
        }
        if (last.status === "ok") continue;
        if (last.status === "not_recorded" && o !== producer) continue;
        if (last.status === "unreachable" && !involved.has(o)) continue;
        gaps.push({ batchId: raw, orgId: String(o), reason: last.status, detail: last.detail });
      }
    }
    return gaps;
  }

  /** ensureRuns for a batch and every batch upstream of it: what a footprint or a batch score needs. */
  function ensureUpstream(root: string, asOrg: number): Promise<Map<string, FetchOutcome>> {
    const lineage = traceLineage(root, ["upstream"], MAX_UPSTREAM_DEPTH, provenance.neighbours);
    return ensureRuns(
      lineage.nodes.map((n) => n.id),
      asOrg,
    );
  }

  /**
   * ensureEpcis for a batch and every batch upstream of it (a footprint's freight legs), and their
   * named gaps for `asOrg`; returns the lineage's batch ids with those gaps.
   */
  async function ensureUpstreamEpcis(root: string, asOrg: number): Promise<{ batchIds: string[]; gaps: EpcisGap[] }> {
    const lineage = traceLineage(root, ["upstream"], MAX_UPSTREAM_DEPTH, provenance.neighbours);
    const batchIds = lineage.nodes.map((n) => n.id);
    await ensureEpcis(batchIds, asOrg);
    return { batchIds, gaps: epcisGaps(batchIds, asOrg) };
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
      if (wanted.length > 0) {
        asked += wanted.length;
        await ensureRuns(wanted, reader);
      }
      // EPCIS events: the lots an owner on another node granted the reader EPCIS records of (any member may have captured events about them).
      const grantors = (
        prepared(db, `SELECT DISTINCT grantor_org FROM grants WHERE grantee_org = ? AND revoked_at IS NULL AND expires_at > ? AND (classes & 1) <> 0`).all(
          reader,
          Math.floor(now() / 1000),
        ) as { grantor_org: number }[]
      )
        .map((r) => r.grantor_org)
        .filter((org) => !options.serves(org));
      const wantedEvents = lots
        .filter((lot) => grantors.some((grantor) => sharing.mayRead(reader, grantor, "EPCIS", () => sharing.subjectOf([lot.lot_id]))))
        .map((lot) => lot.lot_id);
      if (wantedEvents.length > 0) {
        asked += wantedEvents.length;
        await ensureEpcis(wantedEvents, reader);
      }
    }
    for (const reader of local) {
      // Order terms documents: the reader's orders and those a party granted it ORDER_TERMS of, not held here, of parties served elsewhere.
      const wantedTerms = orderTerms
        .readableOrders(reader, Math.floor(now() / 1000))
        .filter((order) => !orderTerms.held(order) && (!options.serves(order.buyerOrg) || !options.serves(order.sellerOrg)))
        .map((order) => order.orderId);
      if (wantedTerms.length > 0) {
        asked += wantedTerms.length;
        await ensureOrderTerms(wantedTerms, reader);
      }
    }
    let dropped = 0;
    for (const orderId of orderTerms.replicaOrders()) {
      const order = orderTerms.orderOf(orderId);
      if (order && orderTerms.held(order) && local.some((reader) => orderTerms.mayRead(reader, order))) continue;
      if (orderTerms.dropReplica(orderId)) dropped++;
    }
    const owners = prepared(db, `SELECT DISTINCT org_id FROM production_runs WHERE served_by IS NOT NULL`).all() as { org_id: number }[];
    for (const { org_id: owner } of owners) {
      dropped += store.dropReplicas(owner, (run) => local.some((reader) => sharing.mayRead(reader, owner, "PRODUCTION_RUN", () => sharing.subjectOf(runBatchIds(run)))));
    }
    const visibilities = local.map((reader) => epcisVisibility(db, sharing, reader));
    for (const owner of epcisReplicas.replicaOwners()) {
      dropped += epcisReplicas.drop(owner, (row) => visibilities.some((v) => v.visible(row)));
    }
    if (dropped) options.log?.info({ dropped }, "federation: deleted replicas no grant covers any more");
    return { asked, dropped };
  }

  return { ensureRuns, ensureUpstream, ensureEpcis, ensureUpstreamEpcis, epcisGaps, ensureOrderTerms, outcomeOf, syncOnce, store, epcisReplicas, orderTerms, job: { name: "federation-sync", runOnce: syncOnce } };
}
export type Federation = ReturnType<typeof createFederation>;
