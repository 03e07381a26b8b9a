import type { HandlerMap } from "../types";
import { prepared } from "../../store/statements";
import { scopeFromChain } from "../../sharing/grants";

/** SharingRegistry events → grants, service_urls (every value is in the events). */
export const sharingHandlers: HandlerMap = {
  "sharing.GrantIssued": (db, e) => {
    const scope = scopeFromChain(Number(e.args.scopeKind), e.args.scope as string);
    prepared(
      db,
      `INSERT INTO grants (grant_id, grantor_org, grantee_org, classes, scope_kind, scope, expires_at, revoked_at, revoked_by_org, granted_by, granted_at, block_number, tx_hash)
       VALUES (?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?, ?, ?, ?)`,
    ).run(
      Number(e.args.grantId),
      Number(e.args.grantor),
      Number(e.args.grantee),
      Number(e.args.classes),
      scope.kind,
      scope.value,
      // uint64 seconds: beyond 2^53 is beyond any real expiry; clamp so SQLite keeps an integer.
      Number(BigInt(e.args.expiresAt) > BigInt(Number.MAX_SAFE_INTEGER) ? BigInt(Number.MAX_SAFE_INTEGER) : BigInt(e.args.expiresAt)),
      e.args.by,
      e.time,
      e.block.number,
      e.log.transactionHash,
    );
  },
  "sharing.GrantRevoked": (db, e) => {
    prepared(db, `UPDATE grants SET revoked_at = ?, revoked_by_org = ? WHERE grant_id = ?`).run(e.time, Number(e.args.by), Number(e.args.grantId));
  },
  "sharing.ServiceUrlSet": (db, e) => {
    if (e.args.url === "") {
      prepared(db, `DELETE FROM service_urls WHERE org_id = ?`).run(Number(e.args.orgId));
      return;
    }
    prepared(
      db,
      `INSERT INTO service_urls (org_id, url, set_by, block_number) VALUES (?, ?, ?, ?)
       ON CONFLICT (org_id) DO UPDATE SET url = excluded.url, set_by = excluded.set_by, block_number = excluded.block_number`,
    ).run(Number(e.args.orgId), e.args.url, e.args.by, e.block.number);
  },
};
