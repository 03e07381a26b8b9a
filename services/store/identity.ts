import { isoFromChainSeconds } from "../chain/time";
import type { Db } from "./db";
import { effectiveRoleMask, maskToRoles, type RoleName } from "../chain/roles";

/** Read side of the identity tables, shaped as the API and CLI show them. */

export interface OrganisationView {
  id: string;
  orgId: string;
  name: string;
  status: "active" | "suspended";
  suspensionReason: string | null;
  metadataHash: string;
  allowedRoles: RoleName[];
  companyPrefixes: { prefix: string; length: number }[];
  locations: string[];
  admittedAt: string;
}

export interface AgentView {
  id: string;
  address: string;
  orgId: string;
  roles: RoleName[];
  effectiveRoles: RoleName[];
  expiresAt: string | null;
  status: "active" | "expired" | "suspended";
  updatedAt: string;
  setBy: string;
}

/** A binding an organisation offered a wallet, not yet accepted (nor withdrawn or declined). */
export interface AgentProposalView {
  address: string;
  orgId: string;
  roles: RoleName[];
  expiresAt: string | null;
  proposedBy: string;
  proposedAt: string;
}

/** A credential type governance allows a certifier organisation to issue. */
export interface CertifierTypeView {
  issuerOrgId: string;
  type: string;
  allowedBy: string;
  allowedAt: string;
}

export interface CredentialView {
  id: string;
  credentialId: string;
  type: string;
  issuerOrgId: string;
  subjectOrgId: string;
  claimHash: string;
  validFrom: string;
  validUntil: string;
  status: "valid" | "not_yet_valid" | "expired" | "revoked";
  issuedBy: string;
  issuedAt: string;
  transactionHash: string;
  revokedAt: string | null;
  revocationReason: string | null;
  /** Who revoked it; null while not revoked. */
  revokedBy: string | null;
  /** True when consortium governance revoked it rather than the issuing organisation. */
  revokedByGovernance: boolean;
}

interface OrgRow {
  org_id: number;
  name: string;
  metadata_hash: string;
  status: "active" | "suspended";
  allowed_roles: number;
  suspension_reason: string | null;
  admitted_at: string;
}
interface AgentRow {
  address: string;
  org_id: number;
  roles: number;
  expires_at: number;
  set_by: string;
  updated_at: string;
  org_status: "active" | "suspended";
  allowed_roles: number;
}
interface CredentialRow {
  credential_id: number;
  credential_type: string;
  issuer_org: number;
  subject_org: number;
  claim_hash: string;
  valid_from: number;
  valid_until: number;
  issued_by: string;
  issued_at: string;
  issued_tx: string;
  revoked_at: string | null;
  revocation_reason: string | null;
  revoked_by: string | null;
  revoked_by_governance: number;
}
interface ProposalRow {
  address: string;
  org_id: number;
  roles: number;
  expires_at: number;
  proposed_by: string;
  proposed_at: string;
}
interface CertifierTypeRow {
  issuer_org: number;
  credential_type: string;
  set_by: string;
  updated_at: string;
}

const iso = (seconds: number) => isoFromChainSeconds(seconds);

export function createIdentityStore(db: Db, now: () => number = () => Math.floor(Date.now() / 1000)) {
  const orgPage = db.prepare(`SELECT * FROM organisations WHERE org_id > ? ORDER BY org_id LIMIT ?`);
  const orgPageByStatus = db.prepare(`SELECT * FROM organisations WHERE org_id > ? AND status = ? ORDER BY org_id LIMIT ?`);
  const orgById = db.prepare(`SELECT * FROM organisations WHERE org_id = ?`);
  const prefixesOf = db.prepare(`SELECT prefix, length FROM company_prefixes WHERE org_id = ? ORDER BY prefix`);
  const locationsOf = db.prepare(`SELECT gln FROM locations WHERE org_id = ? ORDER BY gln`);
  const agentSelect = `SELECT a.*, o.status AS org_status, o.allowed_roles FROM agents a JOIN organisations o ON o.org_id = a.org_id`;
  const agentsOf = db.prepare(`${agentSelect} WHERE a.org_id = ? ORDER BY a.address`);
  const agentByAddress = db.prepare(`${agentSelect} WHERE a.address = ?`);
  const credentialsOf = db.prepare(
    `SELECT * FROM credentials WHERE subject_org = ? OR issuer_org = ? ORDER BY credential_id`,
  );
  const proposalsOfOrg = db.prepare(`SELECT * FROM agent_proposals WHERE org_id = ? ORDER BY address`);
  const proposalsForWallet = db.prepare(`SELECT * FROM agent_proposals WHERE address = ? ORDER BY org_id`);
  const certifierTypesOf = db.prepare(`SELECT * FROM certifier_types WHERE issuer_org = ? ORDER BY credential_type`);

  function organisation(row: OrgRow): OrganisationView {
    return {
      id: String(row.org_id),
      orgId: String(row.org_id),
      name: row.name,
      status: row.status,
      suspensionReason: row.suspension_reason,
      metadataHash: row.metadata_hash,
      allowedRoles: maskToRoles(row.allowed_roles),
      companyPrefixes: prefixesOf.all(row.org_id) as { prefix: string; length: number }[],
      locations: (locationsOf.all(row.org_id) as { gln: string }[]).map((l) => l.gln),
      admittedAt: row.admitted_at,
    };
  }

  function agent(row: AgentRow): AgentView {
    const expired = row.expires_at !== 0 && row.expires_at <= now();
    const status = row.org_status === "suspended" ? "suspended" : expired ? "expired" : "active";
    const usable = effectiveRoleMask(row.roles, row.allowed_roles);
    return {
      id: row.address,
      address: row.address,
      orgId: String(row.org_id),
      roles: maskToRoles(row.roles),
      effectiveRoles: status === "active" ? maskToRoles(usable) : [],
      expiresAt: row.expires_at === 0 ? null : iso(row.expires_at),
      status,
      updatedAt: row.updated_at,
      setBy: row.set_by,
    };
  }

  function credential(row: CredentialRow): CredentialView {
    const t = now();
    const status = row.revoked_at
      ? "revoked"
      : t < row.valid_from
        ? "not_yet_valid"
        : t >= row.valid_until
          ? "expired"
          : "valid";
    return {
      id: String(row.credential_id),
      credentialId: String(row.credential_id),
      type: row.credential_type,
      issuerOrgId: String(row.issuer_org),
      subjectOrgId: String(row.subject_org),
      claimHash: row.claim_hash,
      validFrom: iso(row.valid_from),
      validUntil: iso(row.valid_until),
      status,
      issuedBy: row.issued_by,
      issuedAt: row.issued_at,
      transactionHash: row.issued_tx,
      revokedAt: row.revoked_at,
      revocationReason: row.revocation_reason,
      revokedBy: row.revoked_by,
      revokedByGovernance: row.revoked_by_governance === 1,
    };
  }

  function proposal(row: ProposalRow): AgentProposalView {
    return {
      address: row.address,
      orgId: String(row.org_id),
      roles: maskToRoles(row.roles),
      expiresAt: row.expires_at === 0 ? null : iso(row.expires_at),
      proposedBy: row.proposed_by,
      proposedAt: row.proposed_at,
    };
  }

  return {
    listOrganisations(options: { limit: number; after: number; status?: string }) {
      const rows = (
        options.status
          ? orgPageByStatus.all(options.after, options.status, options.limit + 1)
          : orgPage.all(options.after, options.limit + 1)
      ) as OrgRow[];
      const page = rows.slice(0, options.limit);
      return { items: page.map(organisation), more: rows.length > options.limit, last: page.at(-1)?.org_id ?? null };
    },
    getOrganisation(orgId: number): OrganisationView | null {
      const row = orgById.get(orgId) as OrgRow | undefined;
      return row ? organisation(row) : null;
    },
    agentsOf(orgId: number): AgentView[] {
      return (agentsOf.all(orgId) as AgentRow[]).map(agent);
    },
    credentialsOf(orgId: number): CredentialView[] {
      return (credentialsOf.all(orgId, orgId) as CredentialRow[]).map(credential);
    },
    /** Pending proposals an organisation made, by wallet address. */
    proposalsOf(orgId: number): AgentProposalView[] {
      return (proposalsOfOrg.all(orgId) as ProposalRow[]).map(proposal);
    },
    /** Pending proposals to a wallet (checksummed address), by organisation. */
    proposalsFor(address: string): AgentProposalView[] {
      return (proposalsForWallet.all(address) as ProposalRow[]).map(proposal);
    },
    /** Credential types governance allows `orgId` to issue. */
    certifierTypesOf(orgId: number): CertifierTypeView[] {
      return (certifierTypesOf.all(orgId) as CertifierTypeRow[]).map((row) => ({
        issuerOrgId: String(row.issuer_org),
        type: row.credential_type,
        allowedBy: row.set_by,
        allowedAt: row.updated_at,
      }));
    },
    /** `address` must be checksummed (as events carry it). */
    getAgent(address: string): AgentView | null {
      const row = agentByAddress.get(address) as AgentRow | undefined;
      return row ? agent(row) : null;
    },
  };
}
export type IdentityStore = ReturnType<typeof createIdentityStore>;

/**
 * The organisation whose GS1 company prefix starts `key` (a GTIN without its indicator digit, a
 * GLN, an SSCC body), as ConsortiumRegistry.orgOfKey answers on-chain; null if none.
 */
export function orgOfKey(db: Db, key: string): number | null {
  const candidates = [];
  for (let length = 4; length <= Math.min(12, key.length); length++) candidates.push(key.slice(0, length));
  if (candidates.length === 0) return null;
  const row = db
    .prepare(`SELECT org_id FROM company_prefixes WHERE prefix IN (${candidates.map(() => "?").join(", ")}) ORDER BY length LIMIT 1`)
    .get(...candidates) as { org_id: number } | undefined;
  return row?.org_id ?? null;
}
