import { decodeBytes32String } from "ethers";
import type { HandlerMap } from "../types";
import { prepared } from "../../store/statements";

/**
 * Identity events → organisations, company_prefixes, locations, agents, agent_proposals,
 * credentials, certifier_types. The contract events carry every value, so these tables are
 * rebuilt from logs alone.
 */
export const identityHandlers: HandlerMap = {
  "registry.OrganisationAdmitted": (db, e) => {
    prepared(db, 
      `INSERT INTO organisations (org_id, name, metadata_hash, status, allowed_roles, suspension_reason, admitted_at, admitted_block, updated_block)
       VALUES (?, ?, ?, 'active', ?, NULL, ?, ?, ?)`,
    ).run(Number(e.args.orgId), e.args.name, e.args.metadataHash, Number(e.args.allowedRoles), e.time, e.block.number, e.block.number);
  },
  "registry.OrganisationUpdated": (db, e) => {
    prepared(db, `UPDATE organisations SET name = ?, metadata_hash = ?, updated_block = ? WHERE org_id = ?`).run(
      e.args.name,
      e.args.metadataHash,
      e.block.number,
      Number(e.args.orgId),
    );
  },
  "registry.AllowedRolesChanged": (db, e) => {
    prepared(db, `UPDATE organisations SET allowed_roles = ?, updated_block = ? WHERE org_id = ?`).run(
      Number(e.args.allowedRoles),
      e.block.number,
      Number(e.args.orgId),
    );
  },
  "registry.OrganisationSuspended": (db, e) => {
    prepared(db, `UPDATE organisations SET status = 'suspended', suspension_reason = ?, updated_block = ? WHERE org_id = ?`).run(
      e.args.reason,
      e.block.number,
      Number(e.args.orgId),
    );
  },
  "registry.OrganisationReinstated": (db, e) => {
    prepared(db, `UPDATE organisations SET status = 'active', suspension_reason = NULL, updated_block = ? WHERE org_id = ?`).run(
      e.block.number,
      Number(e.args.orgId),
    );
  },
  "registry.CompanyPrefixAdded": (db, e) => {
    prepared(db, `INSERT INTO company_prefixes (prefix, org_id, length, added_block) VALUES (?, ?, ?, ?)`).run(
      e.args.prefix,
      Number(e.args.orgId),
      Number(e.args.prefixLength),
      e.block.number,
    );
  },
  "registry.CompanyPrefixRemoved": (db, e) => {
    prepared(db, `DELETE FROM company_prefixes WHERE prefix = ?`).run(e.args.prefix);
  },
  "registry.LocationAdded": (db, e) => {
    prepared(db, `INSERT INTO locations (gln, org_id, added_block) VALUES (?, ?, ?)`).run(e.args.gln, Number(e.args.orgId), e.block.number);
  },
  "registry.LocationRemoved": (db, e) => {
    prepared(db, `DELETE FROM locations WHERE gln = ?`).run(e.args.gln);
  },
  "registry.AgentSet": (db, e) => {
    prepared(db, 
      `INSERT INTO agents (address, org_id, roles, expires_at, set_by, updated_at, updated_block) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (address) DO UPDATE SET org_id = excluded.org_id, roles = excluded.roles, expires_at = excluded.expires_at,
         set_by = excluded.set_by, updated_at = excluded.updated_at, updated_block = excluded.updated_block`,
    ).run(e.args.agent, Number(e.args.orgId), Number(e.args.roles), Number(e.args.expiresAt), e.args.by, e.time, e.block.number);
  },
  "registry.AgentRemoved": (db, e) => {
    prepared(db, `DELETE FROM agents WHERE address = ?`).run(e.args.agent);
  },
  "registry.AgentLeft": (db, e) => {
    prepared(db, `DELETE FROM agents WHERE address = ?`).run(e.args.agent);
  },
  "registry.AgentProposed": (db, e) => {
    prepared(db,
      `INSERT INTO agent_proposals (address, org_id, roles, expires_at, proposed_by, proposed_at, proposed_block) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (address, org_id) DO UPDATE SET roles = excluded.roles, expires_at = excluded.expires_at,
         proposed_by = excluded.proposed_by, proposed_at = excluded.proposed_at, proposed_block = excluded.proposed_block`,
    ).run(e.args.agent, Number(e.args.orgId), Number(e.args.roles), Number(e.args.expiresAt), e.args.by, e.time, e.block.number);
  },
  // AgentSet follows in the same transaction and binds the wallet.
  "registry.AgentProposalAccepted": (db, e) => {
    prepared(db, `DELETE FROM agent_proposals WHERE address = ? AND org_id = ?`).run(e.args.agent, Number(e.args.orgId));
  },
  "registry.AgentProposalCancelled": (db, e) => {
    prepared(db, `DELETE FROM agent_proposals WHERE address = ? AND org_id = ?`).run(e.args.agent, Number(e.args.orgId));
  },
  "credentials.CredentialIssued": (db, e) => {
    prepared(db, 
      `INSERT INTO credentials (credential_id, credential_type, issuer_org, subject_org, claim_hash, valid_from, valid_until,
         issued_by, issued_at, issued_tx, revoked_at, revocation_reason, revoked_by)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL)`,
    ).run(
      Number(e.args.credentialId),
      credentialTypeName(e.args.credentialType),
      Number(e.args.issuerOrg),
      Number(e.args.subjectOrg),
      e.args.claimHash,
      Number(e.args.validFrom),
      Number(e.args.validUntil),
      e.args.issuedBy,
      e.time,
      e.log.transactionHash,
    );
  },
  "credentials.CredentialRevoked": (db, e) => {
    // Only the issuer's certifiers and governance may revoke: a revoker that is not an agent of the
    // issuing organisation at this point of the chain is governance.
    const byIssuer = prepared(db, `SELECT 1 FROM agents WHERE address = ? AND org_id = ?`).get(e.args.revokedBy, Number(e.args.issuerOrg));
    prepared(db,
      `UPDATE credentials SET revoked_at = ?, revocation_reason = ?, revoked_by = ?, revoked_by_governance = ? WHERE credential_id = ?`,
    ).run(e.time, e.args.reason, e.args.revokedBy, byIssuer ? 0 : 1, Number(e.args.credentialId));
  },
  "credentials.CertifierTypeSet": (db, e) => {
    const issuerOrg = Number(e.args.issuerOrg);
    const type = credentialTypeName(e.args.credentialType);
    if (e.args.allowed) {
      prepared(db,
        `INSERT INTO certifier_types (issuer_org, credential_type, set_by, updated_at, updated_block) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (issuer_org, credential_type) DO UPDATE SET set_by = excluded.set_by, updated_at = excluded.updated_at,
           updated_block = excluded.updated_block`,
      ).run(issuerOrg, type, e.args.by, e.time, e.block.number);
    } else {
      prepared(db, `DELETE FROM certifier_types WHERE issuer_org = ? AND credential_type = ?`).run(issuerOrg, type);
    }
  },
};

/** Credential types are short strings in bytes32; anything else is shown as hex. */
export function credentialTypeName(raw: string): string {
  try {
    return decodeBytes32String(raw);
  } catch {
    return raw;
  }
}
