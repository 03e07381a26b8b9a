import type { SettlementEscrow } from "../chain/contracts";
import type { SettlementStore } from "../store/settlement";
import { mined } from "../chain/sender";

/**
 * Freezes every delivered order one of whose batches is recalled (directly or through its
 * lineage), so no payment leaves escrow for goods under recall until the arbiter decides. The
 * contract checks the recall itself; anyone may call it.
 */
export function createOrderFreezer(deps: {
  escrow: SettlementEscrow;
  store: SettlementStore;
  indexed: (blockNumber: number) => Promise<void>;
  log?: { info(obj: object, msg?: string): void };
}) {
  async function runOnce(): Promise<number> {
    let frozen = 0;
    for (const { orderId, batchId } of deps.store.ordersToFreeze()) {
      const receipt = await mined(deps.escrow.runner, await deps.escrow.freeze(orderId, batchId));
      await deps.indexed(receipt.blockNumber);
      deps.log?.info({ orderId, batchId }, "order frozen: a delivered batch is recalled");
      frozen++;
    }
    return frozen;
  }
  return { name: "order-freezing", runOnce };
}
