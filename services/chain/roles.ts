/**
 * Agent roles as bit flags, mirroring contracts/common/Roles.sol (same names, same order).
 * The API and CLI speak role names; the chain stores bits.
 */
export const ROLE_NAMES = [
  "producer",
  "processor",
  "carrier",
  "receiver",
  "buyer",
  "auditor",
  "certifier",
  "org-admin",
  "integration",
  "treasury",
] as const;
export type RoleName = (typeof ROLE_NAMES)[number];

export const ROLE: Record<RoleName, bigint> = Object.fromEntries(
  ROLE_NAMES.map((name, bit) => [name, 1n << BigInt(bit)]),
) as Record<RoleName, bigint>;

/** Roles every organisation may hold whatever governance allows (see Roles.INTERNAL). */
export const INTERNAL_ROLES = ROLE["org-admin"] | ROLE.integration | ROLE.treasury;

export function rolesToMask(names: readonly RoleName[]): bigint {
  return names.reduce((mask, name) => mask | ROLE[name], 0n);
}

export function maskToRoles(mask: bigint | number): RoleName[] {
  const bits = BigInt(mask);
  return ROLE_NAMES.filter((name) => (bits & ROLE[name]) !== 0n);
}

export function isRoleName(value: string): value is RoleName {
  return (ROLE_NAMES as readonly string[]).includes(value);
}

/** Business roles: what governance allows an organisation (everything but INTERNAL_ROLES). */
export const BUSINESS_ROLES = ((1n << BigInt(ROLE_NAMES.length)) - 1n) & ~INTERNAL_ROLES;

/**
 * The roles an active, unexpired agent may use, as ConsortiumRegistry.effectiveRoles computes them:
 * its business roles within the organisation's allowance plus the org-admin and treasury roles it
 * holds; holding integration yields every business role the organisation is allowed, and the
 * integration bit itself is never usable (ADR 0010).
 */
export function effectiveRoleMask(held: bigint | number, allowed: bigint | number): bigint {
  const roles = BigInt(held);
  const business = BigInt(allowed) & BUSINESS_ROLES;
  let usable = roles & (business | ROLE["org-admin"] | ROLE.treasury);
  if ((roles & ROLE.integration) !== 0n) usable |= business;
  return usable;
}
