import type { Db } from "./db";
import { prepared } from "./statements";
import { isoFromChainSeconds } from "../chain/time";
import { classesToNames, grantCovers, type RecordClass, type RecordSubject, type RecordVisibility, type ScopeKind } from "../sharing/grants";

interface GrantRow {
  grant_id: number;
  grantor_org: number;
  grantee_org: number;
  classes: number;
  scope_kind: ScopeKind;
  scope: string | null;
  expires_at: number;
  revoked_at: string | null;
  revoked_by_org: number | null;
  granted_by: string;
  granted_at: string;
  block_number: number;
  tx_hash: string;
}

export interface GrantView {
  grantId: string;
  grantorOrgId: string;
  granteeOrgId: string;
  classes: ReturnType<typeof classesToNames>;
  scope: { kind: ScopeKind; value: string | null };
  expiresAt: string;
  revokedAt: string | null;
  revokedByOrgId: string | null;
  inForce: boolean;
  grantedBy: string;
  grantedAt: string;
  blockNumber: number;
  transactionHash: string;
}

/** Lineage hops followed upstream to find the lots a record's batches were made from. */
const MAX_UPSTREAM = 10_000;

export function createSharingStore(db: Db, now: () => number = () => Math.floor(Date.now() / 1000)) {
  function view(row: GrantRow): GrantView {
    return {
      grantId: String(row.grant_id),
      grantorOrgId: String(row.grantor_org),
      granteeOrgId: String(row.grantee_org),
      classes: classesToNames(row.classes),
      scope: { kind: row.scope_kind, value: row.scope },
      expiresAt: isoFromChainSeconds(row.expires_at),
      revokedAt: row.revoked_at,
      revokedByOrgId: row.revoked_by_org === null ? null : String(row.revoked_by_org),
      inForce: row.revoked_at === null && row.expires_at > now() && orgActive(row.grantor_org),
      grantedBy: row.granted_by,
      grantedAt: row.granted_at,
      blockNumber: row.block_number,
      transactionHash: row.tx_hash,
    };
  }

  function orgActive(orgId: number): boolean {
    const row = prepared(db, `SELECT status FROM organisations WHERE org_id = ?`).get(orgId) as { status: string } | undefined;
    return row?.status === "active";
  }

  /** Grants between the two organisations (either may be null: any), newest first, paged by id. */
  function listGrants(filter: { grantor: number | null; grantee: number | null; inForce?: boolean; before: number | null; limit: number }) {
    const rows = prepared(
      db,
      `SELECT * FROM grants
       WHERE (@grantor IS NULL OR grantor_org = @grantor) AND (@grantee IS NULL OR grantee_org = @grantee)
         AND (@before IS NULL OR grant_id < @before) AND (@inForce = 0 OR (revoked_at IS NULL AND expires_at > @now))
       ORDER BY grant_id DESC LIMIT @limit`,
    ).all({
      grantor: filter.grantor,
      grantee: filter.grantee,
      before: filter.before,
      inForce: filter.inForce ? 1 : 0,
      now: now(),
      limit: filter.limit + 1,
    }) as GrantRow[];
    const more = rows.length > filter.limit;
    const items = rows.slice(0, filter.limit).map(view);
    return { items: filter.inForce ? items.filter((g) => g.inForce) : items, more, last: items.length ? Number(items[items.length - 1].grantId) : null };
  }

  function getGrant(grantId: number): GrantView | null {
    const row = prepared(db, `SELECT * FROM grants WHERE grant_id = ?`).get(grantId) as GrantRow | undefined;
    return row ? view(row) : null;
  }

  /** What a record about these batches is about: their GTINs and every lot upstream of them (their own included). */
  function subjectOf(batchIds: readonly string[]): RecordSubject {
    if (batchIds.length === 0) return { gtins: [], lotsUpstream: [] };
    const json = JSON.stringify(batchIds.map((b) => b.toLowerCase()));
    const gtins = prepared(db, `SELECT DISTINCT gtin FROM batches WHERE batch_id IN (SELECT value FROM json_each(?))`).all(json) as { gtin: string }[];
    const lots = prepared(
      db,
      `WITH RECURSIVE up(batch_id, n) AS (
         SELECT value, 0 FROM json_each(@batches)
         UNION
         SELECT e.from_batch, up.n + 1 FROM lineage_edges e JOIN up ON e.to_batch = up.batch_id WHERE up.n < @depth
       )
       SELECT DISTINCT b.lot_id FROM up JOIN batches b ON b.batch_id = up.batch_id LIMIT @limit`,
    ).all({ batches: json, depth: 64, limit: MAX_UPSTREAM }) as { lot_id: string }[];
    return { gtins: gtins.map((g) => g.gtin), lotsUpstream: lots.map((l) => l.lot_id.toLowerCase()) };
  }

  /**
   * Whether organisation `reader` may read `owner`'s record of class `recordClass` about `subject`
   * (null: the record names no batch, so only an unscoped grant covers it). Owners read their own.
   * `subject` may be given as a function: it is then computed (a walk up the lineage) only when a
   * scoped grant has to be checked against it — never for the owner, nor under an unscoped grant.
   */
  function mayRead(
    reader: number,
    owner: number,
    recordClass: RecordClass,
    subject: RecordSubject | null | (() => RecordSubject | null),
  ): boolean {
    if (reader === owner) return true;
    if (!orgActive(owner)) return false;
    const rows = prepared(db, `SELECT * FROM grants WHERE grantee_org = ? AND grantor_org = ? AND revoked_at IS NULL AND expires_at > ?`).all(
      reader,
      owner,
      now(),
    ) as GrantRow[];
    const terms = rows.map((row) => ({
      classes: row.classes,
      scope: { kind: row.scope_kind, value: row.scope },
      expiresAt: row.expires_at,
      revoked: false,
    }));
    if (terms.some((grant) => grantCovers(grant, recordClass, null, now()))) return true;
    const scoped = terms.filter((grant) => grant.scope.kind !== "all");
    if (scoped.length === 0) return false;
    const resolved = typeof subject === "function" ? subject() : subject;
    return scoped.some((grant) => grantCovers(grant, recordClass, resolved, now()));
  }

  function serviceUrl(orgId: number): string | null {
    const row = prepared(db, `SELECT url FROM service_urls WHERE org_id = ?`).get(orgId) as { url: string } | undefined;
    return row?.url ?? null;
  }

  /** What organisation `reader` may see, as a predicate for derived figures (subjects memoised per call site). */
  function visibilityFor(reader: number): RecordVisibility {
    const subjects = new Map<string, RecordSubject>();
    const memoised = (batchIds: readonly string[]) => {
      const key = [...batchIds].sort().join(",");
      let subject = subjects.get(key);
      if (!subject) subjects.set(key, (subject = subjectOf(batchIds)));
      return subject;
    };
    return (owner, recordClass, batchIds) => mayRead(reader, owner, recordClass, () => (batchIds.length ? memoised(batchIds) : null));
  }

  return { listGrants, getGrant, subjectOf, mayRead, visibilityFor, serviceUrl };
}
export type SharingStore = ReturnType<typeof createSharingStore>;
