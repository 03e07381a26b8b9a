import type { Db } from "../store/db";
import { createAnalyticsStore, type StoredRun } from "../analytics/store";
import { recordHash, runBatchIds } from "../analytics/record";
import { createFederationStore } from "../federation/store";
import { createSharingStore } from "../store/sharing";
import { createProvenanceStore } from "../store/provenance";
import { proofOf } from "../anchoring/outbox";
import { masterDataHash, productRecordId } from "../provenance/products";
import { normaliseGtin } from "../gs1/digital-link";
import { servesOrg } from "../config/served";
import { epcisVisibility, type EpcisVisibility } from "../epcis/access";
import { eventProof, eventsById, knownPrefixes, recordIdOf, type EventRow } from "../epcis/store";
import { queryDocument } from "../epcis/query";
import { documentEvents } from "../epcis/hash";
import type { AnchorProofJson, ProductAnswer, RecordSource, RunAnswer } from "../export/exporter";
import { mayReadRecord, requireRecordAccess, type Reader } from "./access";
import { HttpProblem } from "./problem";
import type { ServiceState } from "./state";

type Member = Extract<Reader, { kind: "member" }>;

/** A value as a route's JSON response carries it (what a reader of that route gets). */
const asServed = <T>(value: unknown) => JSON.parse(JSON.stringify(value)) as T;

/**
 * Records read as the API's record routes serve them, one rule each, shared by those routes and by
 * the explorer's records route, which reads a whole lineage's records without a request each
 * (`lineageSource`): a product's master data and proof (`GET /api/v1/products/{gtin}`), production
 * runs (`GET /api/v1/production-runs…`) and stored EPCIS events (`GET /epcis/events/{eventID}…`).
 * A refusal is the route's own HttpProblem (404 unknown, 401 public, 403 not granted).
 */
export function createRecordReads(db: Db, state: Pick<ServiceState, "served">) {
  const analytics = createAnalyticsStore(db);
  const provenance = createProvenanceStore(db);
  const federationStore = createFederationStore(db);
  const sharing = createSharingStore(db);

  /** Product master data with its on-chain registration and anchoring proof; public. */
  function product(gtinText: string) {
    let gtin: string;
    try {
      gtin = normaliseGtin(gtinText);
    } catch (err) {
      throw new HttpProblem(400, "invalid_gtin", (err as Error).message);
    }
    const found = provenance.product(gtin);
    if (!found) throw new HttpProblem(404, "product_not_found", `no product ${gtin} is registered`);
    return {
      ...found,
      masterDataVerified: found.masterData !== null && masterDataHash(found.masterData) === found.masterDataHash,
      anchor: proofOf(db, productRecordId(found.masterDataHash)),
    };
  }

  /** Production runs are their owner's records: readable by it and the organisations it granted. */
  const mayReadRun = (reader: Reader, run: StoredRun) =>
    mayReadRecord(sharing, reader, Number(run.record.orgId), "PRODUCTION_RUN", () => sharing.subjectOf(runBatchIds(run.record)));

  /** The run `id` if `reader` may read it; otherwise the route's refusal. */
  function readableRun(reader: Reader, id: string): StoredRun {
    const run = analytics.getRun(id);
    if (!run) throw new HttpProblem(404, "run_not_found", `no production run ${id}`);
    requireRecordAccess(sharing, reader, Number(run.record.orgId), "PRODUCTION_RUN", () => sharing.subjectOf(runBatchIds(run.record)), `production run ${id}`);
    return run;
  }

  /**
   * A run's anchoring proof: this node's own record's, or a replica's (federation), whose record
   * hash is recomputed from the stored record as for the node's own.
   */
  function runAnchor(run: StoredRun) {
    const own = analytics.proof(run);
    if (own) return own;
    const replica = federationStore.replicaProof(run.record.id);
    if (!replica) return null;
    let hash: string;
    try {
      hash = recordHash(JSON.parse(run.document) as object);
    } catch {
      hash = "0x";
    }
    return { ...replica, recordHash: hash, verified: replica.verified && hash === replica.leaf };
  }

  /**
   * What a member may read of the stored events; a member node fetching records (services/federation)
   * only this node's own events of the organisations it serves, so a replica is never passed on.
   */
  const epcisVisibilityFor = (reader: Member): EpcisVisibility =>
    epcisVisibility(db, sharing, reader.orgId, reader.node ? { serves: (orgId) => servesOrg(state.served, orgId) } : undefined);

  /**
   * The stored records under an eventID the reader may read. None is the same 404 as an unknown
   * event: the content routes do not confirm that another organisation's event exists.
   */
  function readableEvents(visibility: EpcisVisibility, eventID: string): EventRow[] {
    const rows = eventsById(db, eventID).filter((row) => visibility.visible(row));
    if (rows.length === 0) throw new HttpProblem(404, "event_not_found", `no event ${eventID}`);
    return rows;
  }

  /** An event's proof (public: whether a record is anchored, and by whom, is on-chain anyway). */
  function eventProofOf(eventID: string, recordId: string | undefined) {
    const rows = eventsById(db, eventID);
    const row = recordId ? rows.find((r) => recordIdOf(r.seq) === recordId) : rows[0];
    if (!row) throw new HttpProblem(404, "event_not_found", `no event ${eventID}${recordId ? ` with record ${recordId}` : ""}`);
    return proofOfRow(eventID, row);
  }

  /** The proof of a stored record of event `eventID`, or the proof route's refusal when it was never queued for anchoring. */
  function proofOfRow(eventID: string, row: EventRow) {
    const proof = eventProof(db, row);
    if (!proof) throw new HttpProblem(404, "record_not_found", `event ${eventID} was not queued for anchoring`);
    return proof;
  }

  /** A product as its route serves it. */
  const productAsServed = (gtin: string) => asServed<ProductAnswer>(product(gtin));

  /**
   * The records of a lineage as the routes would serve `reader` (a member): what `lotline export`
   * collects over HTTP, read here without ~40 requests through the whole HTTP stack per page.
   */
  function lineageSource(reader: Member): RecordSource {
    const visibility = epcisVisibilityFor(reader);
    // Identifiers as captured (Never_Translates) need no company prefixes: read once, not per event.
    let prefixes: ReturnType<typeof knownPrefixes> | null = null;
    return {
      product: async (gtin) => productAsServed(gtin),
      async runIds(batchId) {
        const page = analytics.listRuns({ batchId, includeSuperseded: false }, { limit: Number.MAX_SAFE_INTEGER, after: null });
        return page.items.filter((run) => mayReadRun(reader, run)).map((run) => run.record.id);
      },
      async run(runId) {
        const run = readableRun(reader, runId);
        return asServed<RunAnswer>({ ...run.record, anchor: runAnchor(run) });
      },
      async epcisRecord({ recordId, eventID }) {
        const rows = readableEvents(visibility, eventID);
        const index = rows.findIndex((row) => recordIdOf(row.seq) === recordId);
        if (index < 0) return { stored: null, proof: null };
        // Identifiers as captured: the leaf commits to the stored event, not to its Digital Link rewrite.
        const stored = documentEvents(queryDocument(rows, "Never_Translates", (prefixes ??= knownPrefixes(db))))[index];
        return asServed({ stored, proof: proofOfRow(eventID, rows[index]) as AnchorProofJson });
      },
    };
  }

  return { product, productAsServed, mayReadRun, readableRun, runAnchor, epcisVisibilityFor, readableEvents, eventProofOf, lineageSource };
}
