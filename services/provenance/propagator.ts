import type { ProvenanceRegistry } from "../chain/contracts";
import { mined } from "../chain/sender";
import type { ProvenanceStore } from "../store/provenance";
import { recallEdgePairs } from "./trace";

/** Pairs per propagateRecall / propagateWithdrawal transaction (the contract accepts up to 128). */
export const PROPAGATION_CHUNK = 100;

/**
 * Carries every recall down the lineage on-chain, then every withdrawal. Any member's service may
 * submit (the contract verifies each pair against its stored edges), so each node runs this. Recalls
 * first: from the index, the parent → child edges out of recalled batches not yet propagated, in
 * breadth-first order. Then withdrawals: propagated edges whose parent is no longer recalled, one
 * generation per round (a child's edges become withdrawable once it is lifted). Each chunk is mined
 * and indexed before the next pairs are computed.
 */
export function createRecallPropagator(deps: {
  provenance: ProvenanceRegistry;
  store: ProvenanceStore;
  /** Resolves once the index includes `blockNumber`. */
  indexed: (blockNumber: number) => Promise<void>;
  log?: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };
}) {
  async function submit(pairs: [string, string][], send: (parents: string[], children: string[]) => Promise<Parameters<typeof mined>[1]>) {
    for (let i = 0; i < pairs.length; i += PROPAGATION_CHUNK) {
      const chunk = pairs.slice(i, i + PROPAGATION_CHUNK);
      // Through the key's sender when the node gave one (replaced if stuck, with a timeout).
      const receipt = await mined(deps.provenance.runner, await send(chunk.map(([parent]) => parent), chunk.map(([, child]) => child)));
      await deps.indexed(receipt.blockNumber);
    }
    return pairs.length;
  }

  async function runOnce(): Promise<number> {
    const recallPairs = recallEdgePairs(deps.store.directlyRecalled(), deps.store.neighbours, deps.store.isRecallEdge);
    const recalled = await submit(recallPairs, (parents, children) => deps.provenance.propagateRecall(parents, children));
    if (recalled > 0) deps.log?.info({ pairs: recalled }, "recall propagated along the lineage");
    let withdrawn = 0;
    for (let pairs = deps.store.withdrawalPairs(); pairs.length > 0; pairs = deps.store.withdrawalPairs()) {
      withdrawn += await submit(pairs, (parents, children) => deps.provenance.propagateWithdrawal(parents, children));
    }
    if (withdrawn > 0) deps.log?.info({ pairs: withdrawn }, "recall withdrawal propagated along the lineage");
    return recalled + withdrawn;
  }
  return { name: "recall-propagation", runOnce };
}
export type RecallPropagator = ReturnType<typeof createRecallPropagator>;
