import { DigitalLinkError, parseDigitalLink } from "../gs1/digital-link";
import type { BatchView, ProvenanceStore } from "../store/provenance";
import { HttpProblem } from "./problem";

/**
 * The `{ref}` every batch route takes: a batch id (0x + 64 hex digits), or a GS1 Digital Link of a
 * lot, which names the lot's first portion (ADR 0006). One resolver for every route.
 */
export function resolveBatchRef(store: Pick<ProvenanceStore, "lotIdOf">, ref: string): string {
  if (/^0x[0-9a-fA-F]{64}$/.test(ref)) return ref.toLowerCase();
  try {
    const { gtin, lot } = parseDigitalLink(ref);
    const lotId = store.lotIdOf(gtin, lot);
    if (!lotId) throw new HttpProblem(404, "batch_not_found", `no lot ${lot} of GTIN ${gtin} is registered`);
    return lotId;
  } catch (err) {
    if (err instanceof DigitalLinkError) {
      throw new HttpProblem(400, "invalid_ref", `${err.message}; give a batch id (0x + 64 hex digits) or a GS1 Digital Link`);
    }
    throw err;
  }
}

/** The batch `{ref}` names, or 404 batch_not_found. */
export function requireBatchRef(store: Pick<ProvenanceStore, "lotIdOf" | "getBatch">, ref: string): BatchView {
  const batch = store.getBatch(resolveBatchRef(store, ref));
  if (!batch) throw new HttpProblem(404, "batch_not_found", `no batch ${ref}`);
  return batch;
}
