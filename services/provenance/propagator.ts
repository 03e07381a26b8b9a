import type { ProvenanceRegistry } from "../chain/contracts";
import type { ProvenanceStore } from "../store/provenance";
import { propagationPairs } from "./trace";

/** Pairs per propagateRecall transaction (the contract accepts up to 128). */
export const PROPAGATION_CHUNK = 100;

/**
 * Carries every recall down the lineage on-chain. Any member's service may submit (the contract
 * verifies each pair against its stored edges), so each node runs this: it computes from the index
 * the parent → child pairs whose child is not flagged yet, in breadth-first order, and submits them
 * in chunks, waiting for each to be mined and indexed before computing again.
 */
export function createRecallPropagator(deps: {
  provenance: ProvenanceRegistry;
  store: ProvenanceStore;
  /** Resolves once the index includes `blockNumber`. */
  indexed: (blockNumber: number) => Promise<void>;
  log?: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };
}) {
  async function runOnce(): Promise<number> {
    const pairs = propagationPairs(deps.store.directlyRecalled(), deps.store.neighbours, deps.store.isFlagged);
    if (pairs.length === 0) return 0;
    let submitted = 0;
    for (let i = 0; i < pairs.length; i += PROPAGATION_CHUNK) {
      const chunk = pairs.slice(i, i + PROPAGATION_CHUNK);
      const tx = await deps.provenance.propagateRecall(
        chunk.map(([parent]) => parent),
        chunk.map(([, child]) => child),
      );
      const receipt = await tx.wait();
      submitted += chunk.length;
      if (receipt) await deps.indexed(receipt.blockNumber);
    }
    deps.log?.info({ pairs: submitted }, "recall propagated along the lineage");
    return submitted;
  }
  return { name: "recall-propagation", runOnce };
}
export type RecallPropagator = ReturnType<typeof createRecallPropagator>;
