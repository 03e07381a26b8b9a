/**
 * Grants of read access to off-chain records (contracts/sharing/SharingRegistry.sol): the record
 * classes, the scopes and the pure rule deciding whether a grant covers a record. I/O lives in
 * services/store/sharing.ts.
 */

/** Record classes as the contract's bits. */
export const RECORD_CLASSES = { EPCIS: 1, PRODUCTION_RUN: 2, ORDER_TERMS: 4 } as const;
export type RecordClass = keyof typeof RECORD_CLASSES;
export const ALL_CLASSES = RECORD_CLASSES.EPCIS | RECORD_CLASSES.PRODUCTION_RUN | RECORD_CLASSES.ORDER_TERMS;

export type ScopeKind = "all" | "gtin" | "lot";
/** ISharingRegistry.ScopeKind, in the contract's order. */
export const SCOPE_KINDS: readonly ScopeKind[] = ["all", "gtin", "lot"];

export interface Scope {
  kind: ScopeKind;
  /** null for "all"; the 14-digit GTIN for "gtin"; the lot id (0x…) for "lot". */
  value: string | null;
}

export function classesToNames(bits: number): RecordClass[] {
  return (Object.keys(RECORD_CLASSES) as RecordClass[]).filter((name) => (bits & RECORD_CLASSES[name]) !== 0);
}

export function namesToClasses(names: readonly string[]): number {
  let bits = 0;
  for (const name of names) {
    const upper = name.trim().toUpperCase();
    if (upper === "ALL") bits |= ALL_CLASSES;
    else if (Object.hasOwn(RECORD_CLASSES, upper)) bits |= RECORD_CLASSES[upper as RecordClass];
    else throw new Error(`"${name}" is not a record class: use EPCIS, PRODUCTION_RUN, ORDER_TERMS or ALL`);
  }
  return bits;
}

/** The scope as the contract stores it (kind index, bytes32) → as the index and the API show it. */
export function scopeFromChain(kindIndex: number, scope: string): Scope {
  const kind = SCOPE_KINDS[kindIndex];
  if (!kind) throw new Error(`unknown grant scope kind ${kindIndex}`);
  if (kind === "all") return { kind, value: null };
  if (kind === "gtin") return { kind, value: BigInt(scope).toString().padStart(14, "0") };
  return { kind, value: scope.toLowerCase() };
}

/** The scope as the contract takes it. */
export function scopeToChain(scope: Scope): { kind: number; value: string } {
  const kind = SCOPE_KINDS.indexOf(scope.kind);
  if (scope.kind === "all") return { kind, value: "0x" + "00".repeat(32) };
  if (scope.kind === "gtin") return { kind, value: "0x" + BigInt(scope.value!).toString(16).padStart(64, "0") };
  return { kind, value: scope.value! };
}

export interface GrantTerms {
  classes: number;
  scope: Scope;
  expiresAt: number;
  revoked: boolean;
}

/**
 * What a record is about, for scope checks: the batches it names with their GTINs, and every lot
 * those batches were made from (their own lots included), which a "lot" grant may name.
 */
export interface RecordSubject {
  gtins: readonly string[];
  lotsUpstream: readonly string[];
}

/** Whether one grant, in force at `nowSeconds`, covers a record of class `recordClass` about `subject`. */
export function grantCovers(grant: GrantTerms, recordClass: RecordClass, subject: RecordSubject | null, nowSeconds: number): boolean {
  if (grant.revoked || grant.expiresAt <= nowSeconds) return false;
  if ((grant.classes & RECORD_CLASSES[recordClass]) === 0) return false;
  if (grant.scope.kind === "all") return true;
  // A scoped grant covers only records known to be about the scope.
  if (!subject) return false;
  if (grant.scope.kind === "gtin") return subject.gtins.includes(grant.scope.value!);
  return subject.lotsUpstream.includes(grant.scope.value!);
}

/**
 * Whether the reader of a request may see a record of `ownerOrg`, of `recordClass`, about the
 * batches `batchIds`: what derived figures (footprints, scores) consult so that they are computed
 * from, and show, only what the reader may see.
 */
export type RecordVisibility = (ownerOrg: number, recordClass: RecordClass, batchIds: readonly string[]) => boolean;

/** Everything visible: the node's own computations (jobs, scoring at capture). */
export const SEE_EVERYTHING: RecordVisibility = () => true;

/** A record that could not be obtained or shown: a named gap, never a zero. */
export interface NotSharedGap {
  batchId: string;
  orgId: string;
  reason: "not_shared";
}
