import { Type, type TSchema } from "@sinclair/typebox";
import { isAddress } from "ethers";
import { ROLE_NAMES } from "../chain/roles";
import { HttpProblem } from "./problem";

/** Shared schema pieces; every route declares its request and response with these. */
export const Address = Type.String({ pattern: "^0x[0-9a-fA-F]{40}$", description: "An EVM address" });

/** JSON Schema cannot check EIP-55: a mixed-case address must also carry a valid checksum. */
export function requireChecksum(address: string, path: string): void {
  if (!isAddress(address)) {
    const message = "has an invalid EIP-55 checksum (send it checksummed or all lowercase)";
    throw new HttpProblem(400, "invalid_request", `${path} ${message}`, [{ path, message }]);
  }
}

export const Hex32 = Type.String({ pattern: "^0x[0-9a-fA-F]{64}$" });
export const IdString = Type.String({ pattern: "^[1-9][0-9]{0,18}$", description: "A positive integer id as a string" });
export const Iso = Type.String({ format: "date-time" });
/** The organisation whose anchor of a Merkle root a proof relies on (anchors are keyed by organisation and root). */
export const AnchoredBy = Type.Union(
  [
    Type.Object({
      orgId: Type.String({ pattern: "^[1-9][0-9]{0,18}$" }),
      name: Type.Union([Type.String(), Type.Null()], { description: "as indexed; null when the index does not know the organisation" }),
    }),
    Type.Null(),
  ],
  { description: "the organisation that anchored merkleRoot and whose anchor the proof relies on; another organisation's anchor of the same root does not count (null while pending)" },
);
export const RoleName = Type.Union(ROLE_NAMES.map((r) => Type.Literal(r)));

export const ListQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
    cursor: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);

export function List<T extends TSchema>(item: T) {
  return Type.Object({ items: Type.Array(item), nextCursor: Type.Union([Type.String(), Type.Null()]) });
}

export const CompanyPrefix = Type.Object({ prefix: Type.String(), length: Type.Integer() });

export const Credential = Type.Object({
  id: Type.String(),
  credentialId: Type.String(),
  type: Type.String(),
  issuerOrgId: Type.String(),
  subjectOrgId: Type.String(),
  claimHash: Hex32,
  validFrom: Iso,
  validUntil: Iso,
  status: Type.Union([Type.Literal("valid"), Type.Literal("not_yet_valid"), Type.Literal("expired"), Type.Literal("revoked")]),
  issuedBy: Address,
  issuedAt: Iso,
  transactionHash: Hex32,
  revokedAt: Type.Union([Iso, Type.Null()]),
  revocationReason: Type.Union([Type.String(), Type.Null()]),
  revokedBy: Type.Union([Address, Type.Null()], { description: "Who revoked it: a certifier of the issuer, or a governance account" }),
  revokedByGovernance: Type.Boolean({ description: "Revoked by consortium governance rather than the issuing organisation" }),
});

export const AgentProposal = Type.Object({
  address: Address,
  orgId: Type.String(),
  roles: Type.Array(RoleName, { description: "Roles the wallet gets when it accepts" }),
  expiresAt: Type.Union([Iso, Type.Null()], { description: "Expiry of the binding once accepted" }),
  proposedBy: Address,
  proposedAt: Iso,
});

export const CertifierType = Type.Object({
  issuerOrgId: Type.String(),
  type: Type.String({ description: "Credential type, e.g. ORGANIC" }),
  allowedBy: Address,
  allowedAt: Iso,
});

export const Agent = Type.Object({
  id: Type.String(),
  address: Address,
  orgId: Type.String(),
  roles: Type.Array(RoleName, { description: "Roles assigned on-chain" }),
  effectiveRoles: Type.Array(RoleName, {
    description:
      "Roles usable now: none when expired or suspended; an integration key gets its organisation's allowed business roles, never 'integration' itself",
  }),
  expiresAt: Type.Union([Iso, Type.Null()]),
  status: Type.Union([Type.Literal("active"), Type.Literal("expired"), Type.Literal("suspended")]),
  updatedAt: Iso,
  setBy: Address,
});

export const Organisation = Type.Object({
  id: Type.String(),
  orgId: Type.String(),
  name: Type.String(),
  status: Type.Union([Type.Literal("active"), Type.Literal("suspended")]),
  suspensionReason: Type.Union([Type.String(), Type.Null()]),
  metadataHash: Hex32,
  allowedRoles: Type.Array(RoleName),
  companyPrefixes: Type.Array(CompanyPrefix),
  locations: Type.Array(Type.String({ description: "GLN" })),
  admittedAt: Iso,
});

const ServiceUrl = Type.Union([Type.String(), Type.Null()], { description: "the URL of the organisation's Lotline node, as its admin published it on-chain" });

/** An organisation in a list: the directory entry and where its node is. */
export const OrganisationListed = Type.Object({ ...Organisation.properties, serviceUrl: ServiceUrl });

export const OrganisationDetail = Type.Intersect([
  Organisation,
  Type.Object({
    // Members only (README "Who may read what"): absent for the public.
    agents: Type.Optional(Type.Array(Agent)),
    credentials: Type.Optional(Type.Array(Credential)),
    serviceUrl: ServiceUrl,
    agentProposals: Type.Optional(Type.Array(AgentProposal, { description: "Bindings offered to wallets, waiting for their acceptance" })),
    certifierTypes: Type.Optional(Type.Array(CertifierType, { description: "Credential types governance allows this organisation to issue" })),
  }),
]);
