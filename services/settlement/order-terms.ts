import { keccak256 } from "../common/keccak";
import type { Db } from "../store/db";
import { prepared } from "../store/statements";
import type { SharingStore } from "../store/sharing";
import type { RecordSubject } from "../sharing/grants";
import { Refusal } from "../common/refusal";

/**
 * Order terms documents (docs/adr/0030): the commercial terms of an escrowed order kept off-chain,
 * whose keccak256 is the order's on-chain `termsHash` (SettlementEscrow). The chain already commits
 * to the exact bytes, so a document is checked against that hash when it is stored — here, or as a
 * replica fetched from a party's node — and needs no Merkle anchor of its own.
 *
 * Who may read one: the buyer's and the seller's organisations, and the organisations either of
 * them granted ORDER_TERMS records (SharingRegistry) over a scope covering the order: everything,
 * the order's GTIN, or a lot the order's deliveries name (or one they were made from).
 * Who may store one: an agent of the buyer or the seller, on a node that serves its organisation.
 */
export const ORDER_TERMS_CLASS = "ORDER_TERMS";
/** The largest document stored (its bytes, before base64). */
export const MAX_TERMS_BYTES = 1_048_576;
/** A MIME type with optional parameters ("application/json", "text/plain; charset=utf-8"). */
export const CONTENT_TYPE_PATTERN = "^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,63}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,63}(; ?[A-Za-z0-9!#$&^_.+-]{1,64}=[A-Za-z0-9!#$&^_.+-]{1,64}){0,4}$";
const CONTENT_TYPE = new RegExp(CONTENT_TYPE_PATTERN);
/** An order created without terms names this hash: it has no document. */
export const ZERO_HASH = "0x" + "00".repeat(32);

export const termsHashOf = (bytes: Uint8Array): string => keccak256(bytes).toLowerCase();

/** Strict base64 (RFC 4648 §4, padded): null for anything Buffer.from would silently skip or repair. */
export function decodeBase64(text: string): Buffer | null {
  if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return null;
  const bytes = Buffer.from(text, "base64");
  return bytes.toString("base64") === text ? bytes : null;
}

export function isContentType(text: string): boolean {
  return CONTENT_TYPE.test(text);
}

/** An order as far as its terms need it: parties, GTIN, on-chain termsHash, the batches its deliveries name. */
export interface TermsOrder {
  orderId: number;
  buyerOrg: number;
  sellerOrg: number;
  gtin: string;
  termsHash: string;
  batchIds: string[];
}

/** Where a stored document came from: the party whose document it is, the node that served it (null: uploaded here), whether it verified. */
export interface TermsOrigin {
  orgId: string;
  servedBy: string | null;
  verified: boolean;
}

export interface StoredTerms {
  orderId: number;
  termsHash: string;
  contentType: string;
  content: Buffer;
  size: number;
  ownerOrg: number;
  uploadedBy: string | null;
  storedAt: string;
  servedBy: string | null;
  verifiedAt: string | null;
}

/** What the parties' nodes answered; `rejected`: a document was answered that did not verify (refused, logged). */
export type TermsFetchStatus = "ok" | "not_shared" | "not_recorded" | "unreachable" | "rejected";

export interface TermsFetch {
  orderId: number;
  asOrg: number;
  status: TermsFetchStatus;
  orgId: number | null;
  servedBy: string | null;
  detail: string;
  fetchedAt: number;
}

/** A document that could not be obtained for a reader: a named gap, never an empty document. */
export interface TermsGap {
  orgId: string | null;
  reason: Exclude<TermsFetchStatus, "ok">;
  detail: string;
}

interface TermsRow {
  order_id: number;
  terms_hash: string;
  content_type: string;
  content: Buffer;
  size: number;
  owner_org: number;
  uploaded_by: string | null;
  stored_at: string;
  served_by: string | null;
  verified_at: string | null;
}

const stored = (row: TermsRow): StoredTerms => ({
  orderId: row.order_id,
  termsHash: row.terms_hash,
  contentType: row.content_type,
  content: row.content,
  size: row.size,
  ownerOrg: row.owner_org,
  uploadedBy: row.uploaded_by,
  storedAt: row.stored_at,
  servedBy: row.served_by,
  verifiedAt: row.verified_at,
});

export function createOrderTermsStore(db: Db, sharing: SharingStore) {
  function orderOf(orderId: number): TermsOrder | null {
    const row = prepared(db, `SELECT order_id, buyer_org, seller_org, gtin, terms_hash FROM orders WHERE order_id = ?`).get(orderId) as
      | { order_id: number; buyer_org: number; seller_org: number; gtin: string; terms_hash: string }
      | undefined;
    if (!row) return null;
    const batches = prepared(db, `SELECT DISTINCT batch_id FROM order_deliveries WHERE order_id = ? ORDER BY batch_id`).all(orderId) as { batch_id: string }[];
    return {
      orderId: row.order_id,
      buyerOrg: row.buyer_org,
      sellerOrg: row.seller_org,
      gtin: row.gtin,
      termsHash: row.terms_hash.toLowerCase(),
      batchIds: batches.map((b) => b.batch_id.toLowerCase()),
    };
  }

  /** What an order's terms are about, for scoped grants: the order's GTIN, and every lot its deliveries name or were made from. */
  function subjectOf(order: TermsOrder): RecordSubject {
    const delivered = sharing.subjectOf(order.batchIds);
    return { gtins: [...new Set([order.gtin, ...delivered.gtins])], lotsUpstream: delivered.lotsUpstream };
  }

  /** Whether organisation `reader` may read the order's terms: a party, or granted ORDER_TERMS by either party over a scope covering the order. */
  function mayRead(reader: number, order: TermsOrder): boolean {
    if (reader === order.buyerOrg || reader === order.sellerOrg) return true;
    let subject: RecordSubject | null = null;
    const lazily = () => (subject ??= subjectOf(order));
    return sharing.mayRead(reader, order.buyerOrg, ORDER_TERMS_CLASS, lazily) || sharing.mayRead(reader, order.sellerOrg, ORDER_TERMS_CLASS, lazily);
  }

  function get(orderId: number): StoredTerms | null {
    const row = prepared(db, `SELECT * FROM order_terms WHERE order_id = ?`).get(orderId) as TermsRow | undefined;
    return row ? stored(row) : null;
  }

  /** The document held for the order as it stands on-chain now (null: none, or one stored for another termsHash). */
  function held(order: TermsOrder): StoredTerms | null {
    const terms = get(order.orderId);
    return terms && terms.termsHash === order.termsHash ? terms : null;
  }

  /** Where a held document came from; verified: its bytes hash to the order's termsHash now. */
  function originOf(terms: StoredTerms, order: TermsOrder): TermsOrigin {
    return { orgId: String(terms.ownerOrg), servedBy: terms.servedBy, verified: termsHashOf(terms.content) === order.termsHash };
  }

  /**
   * Stores a document an agent of `orgId` (the buyer or the seller, checked by the caller) uploads:
   * refused unless its keccak256 is the order's termsHash; the same bytes again are known (a
   * replica held of them becomes this party's own document). Nothing is written when refused.
   */
  function storeUpload(order: TermsOrder, upload: { contentType: string; content: Buffer; orgId: number; agent: string }): { outcome: "stored" | "known"; terms: StoredTerms } {
    if (order.termsHash === ZERO_HASH) {
      throw new Refusal(409, "no_terms_hash", `order ${order.orderId} recorded no terms hash (zero) on-chain: it has no terms document to store`);
    }
    if (upload.content.length === 0) throw new Refusal(400, "invalid_request", "the terms document is empty");
    if (upload.content.length > MAX_TERMS_BYTES) {
      throw new Refusal(413, "terms_too_large", `the terms document is ${upload.content.length} bytes; at most ${MAX_TERMS_BYTES} are stored`);
    }
    const hash = termsHashOf(upload.content);
    if (hash !== order.termsHash) {
      throw new Refusal(
        422,
        "terms_hash_mismatch",
        `the document's keccak256 is ${hash}, but order ${order.orderId} recorded termsHash ${order.termsHash} on-chain: upload the exact bytes whose hash the order names`,
      );
    }
    const now = new Date().toISOString();
    return db.transaction(() => {
      const existing = get(order.orderId);
      if (existing && existing.termsHash === hash && existing.servedBy === null) {
        if (existing.contentType !== upload.contentType) {
          throw new Refusal(
            409,
            "terms_content_type_differs",
            `order ${order.orderId}'s terms are stored already as ${existing.contentType}; the same bytes cannot be stored again as ${upload.contentType}`,
          );
        }
        return { outcome: "known" as const, terms: existing };
      }
      // None yet, a replica of the same bytes (now this party's own), or one stored for a termsHash the order no longer names.
      prepared(
        db,
        `INSERT INTO order_terms (order_id, terms_hash, content_type, content, size, owner_org, uploaded_by, stored_at, served_by, verified_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)
         ON CONFLICT (order_id) DO UPDATE SET terms_hash = excluded.terms_hash, content_type = excluded.content_type, content = excluded.content,
           size = excluded.size, owner_org = excluded.owner_org, uploaded_by = excluded.uploaded_by, stored_at = excluded.stored_at,
           served_by = NULL, verified_at = NULL`,
      ).run(order.orderId, hash, upload.contentType, upload.content, upload.content.length, upload.orgId, upload.agent, now);
      prepared(db, `DELETE FROM order_terms_fetches WHERE order_id = ?`).run(order.orderId);
      return { outcome: "stored" as const, terms: get(order.orderId)! };
    })();
  }

  /** Stores a replica whose bytes the caller checked against the order's termsHash (idempotent; never over a document uploaded here). */
  function storeReplica(order: TermsOrder, replica: { contentType: string; content: Buffer; ownerOrg: number; servedBy: string }): "stored" | "known" {
    return db.transaction((): "stored" | "known" => {
      const existing = held(order);
      if (existing) return "known";
      const now = new Date().toISOString();
      prepared(
        db,
        `INSERT INTO order_terms (order_id, terms_hash, content_type, content, size, owner_org, uploaded_by, stored_at, served_by, verified_at)
         VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?, ?)
         ON CONFLICT (order_id) DO UPDATE SET terms_hash = excluded.terms_hash, content_type = excluded.content_type, content = excluded.content,
           size = excluded.size, owner_org = excluded.owner_org, uploaded_by = NULL, stored_at = excluded.stored_at,
           served_by = excluded.served_by, verified_at = excluded.verified_at`,
      ).run(order.orderId, termsHashOf(replica.content), replica.contentType, replica.content, replica.content.length, replica.ownerOrg, now, replica.servedBy, now);
      return "stored";
    })();
  }

  /** Orders whose terms are held here as replicas. */
  function replicaOrders(): number[] {
    return (prepared(db, `SELECT order_id FROM order_terms WHERE served_by IS NOT NULL ORDER BY order_id`).all() as { order_id: number }[]).map((r) => r.order_id);
  }

  /** Deletes a replica (a revoked grant: no organisation of this node may read it any more) and what was answered for it. */
  function dropReplica(orderId: number): boolean {
    return db.transaction(() => {
      const gone = prepared(db, `DELETE FROM order_terms WHERE order_id = ? AND served_by IS NOT NULL`).run(orderId).changes > 0;
      if (gone) prepared(db, `DELETE FROM order_terms_fetches WHERE order_id = ?`).run(orderId);
      return gone;
    })();
  }

  function recordFetch(fetch: TermsFetch): void {
    prepared(
      db,
      `INSERT INTO order_terms_fetches (order_id, as_org, status, org_id, served_by, detail, fetched_at) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (order_id, as_org) DO UPDATE SET status = excluded.status, org_id = excluded.org_id, served_by = excluded.served_by,
         detail = excluded.detail, fetched_at = excluded.fetched_at`,
    ).run(fetch.orderId, fetch.asOrg, fetch.status, fetch.orgId, fetch.servedBy, fetch.detail, fetch.fetchedAt);
  }

  function lastFetch(orderId: number, asOrg: number): TermsFetch | null {
    const row = prepared(db, `SELECT * FROM order_terms_fetches WHERE order_id = ? AND as_org = ?`).get(orderId, asOrg) as
      | { order_id: number; as_org: number; status: TermsFetchStatus; org_id: number | null; served_by: string | null; detail: string; fetched_at: number }
      | undefined;
    if (!row) return null;
    return { orderId: row.order_id, asOrg: row.as_org, status: row.status, orgId: row.org_id, servedBy: row.served_by, detail: row.detail, fetchedAt: row.fetched_at };
  }

  /** Orders whose terms `reader` may read (a party, or granted): what the background sync keeps here. */
  function readableOrders(reader: number, nowSeconds = Math.floor(Date.now() / 1000)): TermsOrder[] {
    // Candidates: the reader's own orders and those of organisations granting it ORDER_TERMS (bit 4) now; mayRead decides on scope.
    const rows = prepared(
      db,
      `SELECT order_id FROM orders
       WHERE terms_hash <> @zero AND (buyer_org = @reader OR seller_org = @reader
         OR buyer_org IN (SELECT grantor_org FROM grants WHERE grantee_org = @reader AND revoked_at IS NULL AND expires_at > @now AND (classes & 4) <> 0)
         OR seller_org IN (SELECT grantor_org FROM grants WHERE grantee_org = @reader AND revoked_at IS NULL AND expires_at > @now AND (classes & 4) <> 0))
       ORDER BY order_id`,
    ).all({ zero: ZERO_HASH, reader, now: nowSeconds }) as { order_id: number }[];
    return rows.map((r) => orderOf(r.order_id)!).filter((order) => mayRead(reader, order));
  }

  /**
   * Why the order's terms are not held here for `asOrg`: from what the parties' nodes answered it
   * last (services/federation), else what this node knows itself.
   */
  function gapOf(order: TermsOrder, asOrg: number, serves: (orgId: number) => boolean): TermsGap {
    if (order.termsHash === ZERO_HASH) {
      return { orgId: null, reason: "not_recorded", detail: `order ${order.orderId} recorded no terms hash (zero) on-chain: it has no terms document` };
    }
    const last = lastFetch(order.orderId, asOrg);
    if (last && last.status !== "ok") return { orgId: last.orgId === null ? null : String(last.orgId), reason: last.status, detail: last.detail };
    if (serves(order.buyerOrg) && serves(order.sellerOrg)) {
      return {
        orgId: String(order.buyerOrg),
        reason: "not_recorded",
        detail: `neither party has stored order ${order.orderId}'s terms document (lotline order terms put ${order.orderId} <file>)`,
      };
    }
    return { orgId: null, reason: "unreachable", detail: `the parties' nodes have not answered organisation ${asOrg} for order ${order.orderId}'s terms` };
  }

  return { orderOf, subjectOf, gapOf, mayRead, get, held, originOf, storeUpload, storeReplica, replicaOrders, dropReplica, recordFetch, lastFetch, readableOrders };
}
export type OrderTermsStore = ReturnType<typeof createOrderTermsStore>;
