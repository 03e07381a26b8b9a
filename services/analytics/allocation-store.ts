import type { Db } from "../store/db";
import { prepared } from "../store/statements";
import type { AllocationRule, ChainAllocationRule } from "./allocation";

/** The allocation rules governance set on-chain (indexed from AllocationRuleSet, migration 35), by kind. */
export function chainAllocationRules(db: Db): ChainAllocationRule[] {
  const rows = prepared(db, `SELECT kind, rule, set_block, set_tx, set_at FROM allocation_rules ORDER BY kind`).all() as {
    kind: string;
    rule: AllocationRule;
    set_block: number;
    set_tx: string;
    set_at: string;
  }[];
  return rows.map((r) => ({ kind: r.kind, rule: r.rule, transactionHash: r.set_tx, blockNumber: r.set_block, setAt: r.set_at }));
}

/** The transformation kinds governance enabled or disabled on-chain (TransformKindSet). */
export function transformKinds(db: Db): { kind: string; enabled: boolean }[] {
  const rows = prepared(db, `SELECT kind, enabled FROM transform_kinds ORDER BY kind`).all() as { kind: string; enabled: number }[];
  return rows.map((r) => ({ kind: r.kind, enabled: r.enabled === 1 }));
}
