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
