import type { Db } from "../store/db";
import { epcisVisibility } from "../epcis/access";
import { epcisTimeline, type EpcisTimelineEntry } from "../epcis/mapping/batches";
import { createProvenanceStore } from "../store/provenance";
import { createSharingStore } from "../store/sharing";
import { createUnitContents } from "../store/logistic-units";
import type { ServiceState } from "./state";

/**
 * The EPCIS events of batches as a member organisation may read them: the rule
 * `GET /api/v1/batches/{ref}/history` and the trace apply, and the explorer's records route reads
 * directly (one call for a whole lineage instead of one history request per batch).
 */
export function createEpcisTimelines(db: Db, state: Pick<ServiceState, "federation">) {
  const store = createProvenanceStore(db);
  const sharing = createSharingStore(db);

  /**
   * Those other members' nodes hold are fetched first as far as the organisation may read them
   * (services/federation, ADR 0025; fresh answers are reused); then what it may read here, local or
   * replicated (`visible`), and the named gaps.
   */
  async function federatedEpcis(batchIds: string[], readerOrg: number) {
    const federation = state.federation;
    if (federation) await federation.ensureEpcis(batchIds, readerOrg);
    return {
      visible: epcisVisibility(db, sharing, readerOrg).visible,
      gaps: federation ? federation.epcisGaps(batchIds, readerOrg) : [],
    };
  }

  /** Each batch's EPCIS timeline entries (the `epcis` items of its history) for `readerOrg`; unknown batches have none. */
  async function timelines(batchIds: string[], readerOrg: number): Promise<Map<string, EpcisTimelineEntry[]>> {
    const { visible } = await federatedEpcis(batchIds, readerOrg);
    const batches = store.getBatches(batchIds);
    const ssccs = store.ssccsOfBatches(batches);
    const units = createUnitContents(db);
    return new Map(batchIds.map((id) => [id, batches.has(id) ? epcisTimeline(db, batches.get(id)!, ssccs.get(id) ?? [], visible, units) : []]));
  }

  return { federatedEpcis, timelines };
}
