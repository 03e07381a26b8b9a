import { Refusal } from "../common/refusal";

/**
 * Which organisations a node serves (LOTLINE_SERVE_ORGS): it accepts their writes, keeps their
 * off-chain records and acts on-chain for their agents (relayer, anchoring). Agents of other
 * organisations use their own organisation's node; a node never acts for a member it does not serve.
 * `all`: the single-node demo, which serves every member.
 */
export type ServedOrgs = { kind: "all" } | { kind: "some"; orgs: ReadonlySet<number> };

export const SERVES_EVERYONE: ServedOrgs = { kind: "all" };

export function servesOrg(served: ServedOrgs, orgId: number): boolean {
  return served.kind === "all" || served.orgs.has(orgId);
}

/** 403 `org_not_served` unless the node serves `orgId`. */
export function requireServed(served: ServedOrgs, orgId: number, serviceUrl: string | null = null): void {
  if (servesOrg(served, orgId)) return;
  const where = serviceUrl ? ` (${serviceUrl})` : "";
  throw new Refusal(
    403,
    "org_not_served",
    `this node does not serve organisation ${orgId}: send its writes to its own organisation's node${where}`,
  );
}

/** LOTLINE_SERVE_ORGS: a comma-separated list of organisation ids, or null when unset. */
export function parseServedOrgs(raw: string | undefined): number[] | null {
  const text = raw?.trim();
  if (!text) return null;
  const ids = text.split(",").map((part) => part.trim());
  if (ids.some((id) => !/^[1-9][0-9]{0,9}$/.test(id))) {
    throw new Error(`LOTLINE_SERVE_ORGS must be organisation ids separated by commas (1,2,3), got "${text}"`);
  }
  return [...new Set(ids.map(Number))];
}
