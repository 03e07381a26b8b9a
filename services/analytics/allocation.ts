import { DEFAULT_UNITS, MASS, toBase, type UnitTable } from "./units";

/**
 * Allocation of a multi-output process's burden among its co-products (ISO 14044 §4.3.4), one rule
 * per transformation kind (MERGE, PROCESS… as the chain's governance enabled them), set by the
 * consortium's governance and recorded in every footprint (docs/adr/0020):
 *
 *   mass        share ∝ mass of each output (kg: mass units, or quantity × kgPerUnit of its GTIN)
 *   dry_matter  share ∝ mass × dry-matter (milk-solids) fraction of its GTIN — the dairy sector's
 *               rule (IDF Bulletin 520/2022, the Global Carbon Footprint Standard for the Dairy Sector)
 *   economic    share ∝ quantity × price per unit of its GTIN
 *   none        no allocation: a process of this kind must have one output, which carries it all
 *
 * A kind without a rule uses `defaultRule` (mass). When an output lacks what its rule needs, the
 * share is undetermined and the footprint names the gap; quantities of different dimensions are
 * never added. Only under the mass rule, when no output's mass is known and every output is in the
 * same dimension (all litres), is that quantity used as a proxy — and the stage says so.
 */
export const ALLOCATION_RULES = ["mass", "dry_matter", "economic", "none"] as const;
export type AllocationRule = (typeof ALLOCATION_RULES)[number];

export interface ProductProperties {
  /** kg per unit of the lot's unit (density for litres, net weight for pieces). */
  kgPerUnit?: number;
  /** Dry matter (milk solids) as a fraction of mass, 0–1. */
  dryMatterFraction?: number;
  /** Price per unit of the lot's unit, any one currency across the consortium. */
  pricePerUnit?: number;
}

/**
 * Where the rule of a kind came from: `chain` (governance's AllocationRuleSet on the provenance
 * registry, with its transaction), `configuration` (LOTLINE_ALLOCATION_RULES of this node) or
 * `default` (no rule anywhere: the policy's default rule).
 */
export interface RuleOrigin {
  from: "chain" | "configuration" | "default";
  transactionHash: string | null;
  blockNumber: number | null;
  setAt: string | null;
  detail: string;
}

export interface AllocationPolicy {
  kinds: Record<string, AllocationRule>;
  defaultRule: AllocationRule;
  products: Record<string, ProductProperties>;
  /** Where the policy comes from (the governance decision it records). */
  source: string;
  /** Where each kind's rule came from; a kind absent here is `configuration` when in `kinds`, else `default`. */
  origins?: Record<string, RuleOrigin>;
}

export const DEFAULT_ALLOCATION_POLICY: AllocationPolicy = Object.freeze({
  kinds: {},
  defaultRule: "mass",
  products: {},
  source: "default: no rule set by governance, mass",
}) as AllocationPolicy;

/** The rules as the contract codes them (AllocationRuleSet): 0 none set, 1 mass, 2 dry matter, 3 economic, 4 none. */
export const ALLOCATION_RULE_CODES: readonly (AllocationRule | null)[] = [null, "mass", "dry_matter", "economic", "none"];
/** The contract's code of a rule, or 0 for "clear". */
export const allocationRuleCode = (rule: AllocationRule | "clear"): number => (rule === "clear" ? 0 : ALLOCATION_RULE_CODES.indexOf(rule));
export const isAllocationRule = (r: unknown): r is AllocationRule => (ALLOCATION_RULES as readonly unknown[]).includes(r);
/** A transformation kind as the chain's bytes32 short strings carry it. */
export const TRANSFORM_KIND_PATTERN = "^[A-Z0-9_]{1,31}$";

/** A rule governance set on-chain for a kind, as the indexer stored it (table allocation_rules). */
export interface ChainAllocationRule {
  kind: string;
  rule: AllocationRule;
  transactionHash: string;
  blockNumber: number;
  setAt: string;
}

/**
 * The policy in force: governance's on-chain rules (docs/adr/0026) over this node's configured
 * policy (LOTLINE_ALLOCATION_RULES), which stays the fallback for kinds governance set no rule for
 * and the source of the default rule and of the products' properties (kg per unit, dry matter, price).
 */
export function withChainRules(configured: AllocationPolicy, chain: readonly ChainAllocationRule[]): AllocationPolicy {
  const kinds = { ...configured.kinds };
  const origins: Record<string, RuleOrigin> = {};
  for (const kind of Object.keys(configured.kinds)) origins[kind] = configurationOrigin(configured);
  for (const r of chain) {
    kinds[r.kind] = r.rule;
    origins[r.kind] = {
      from: "chain",
      transactionHash: r.transactionHash,
      blockNumber: r.blockNumber,
      setAt: r.setAt,
      detail: `set by governance on-chain (AllocationRuleSet, transaction ${r.transactionHash}, block ${r.blockNumber})`,
    };
  }
  const onChain = chain.map((r) => r.kind).sort();
  const source = onChain.length
    ? `governance on-chain for ${onChain.join(", ")}; otherwise ${configured.source}`
    : configured.source;
  return { ...configured, kinds, origins, source };
}

const configurationOrigin = (policy: AllocationPolicy): RuleOrigin => ({
  from: "configuration",
  transactionHash: null,
  blockNumber: null,
  setAt: null,
  detail: `this node's configuration (${ENV}: ${policy.source})`,
});

/** Where the rule `ruleFor(policy, kind)` returns came from. */
export function ruleOriginFor(policy: AllocationPolicy, kind: string | null): RuleOrigin {
  const key = kind?.toUpperCase();
  if (key !== undefined && policy.origins?.[key]) return policy.origins[key];
  if (key !== undefined && policy.kinds[key]) return configurationOrigin(policy);
  return {
    from: "default",
    transactionHash: null,
    blockNumber: null,
    setAt: null,
    detail: `no rule set for ${kind ?? "this process"} on-chain or in ${ENV}: the default rule (${policy.defaultRule}; ${policy.source})`,
  };
}

export interface AllocationOutput {
  batchId: string;
  gtin: string | null;
  quantity: number;
  unit: string;
}

export interface AllocationResult {
  kind: string | null;
  rule: AllocationRule;
  /** Share of each output by batch id; null when undetermined. */
  shares: Map<string, number> | null;
  /** What the shares are proportional to, or why they are undetermined. */
  basis: string;
}

export const ruleFor = (policy: AllocationPolicy, kind: string | null): AllocationRule =>
  (kind !== null ? policy.kinds[kind.toUpperCase()] : undefined) ?? policy.defaultRule;

export function allocate(
  outputs: readonly AllocationOutput[],
  kind: string | null,
  policy: AllocationPolicy = DEFAULT_ALLOCATION_POLICY,
  units: UnitTable = DEFAULT_UNITS,
): AllocationResult {
  const rule = ruleFor(policy, kind);
  const result = (shares: Map<string, number> | null, basis: string): AllocationResult => ({ kind, rule, shares, basis });
  if (outputs.length === 1) return result(new Map([[outputs[0].batchId, 1]]), "single output");
  if (outputs.length === 0) return result(null, "no outputs");
  const props = (o: AllocationOutput) => (o.gtin ? policy.products[o.gtin] : undefined) ?? {};
  const massKg = (o: AllocationOutput): number | null => {
    const base = toBase(o.quantity, o.unit, units);
    if (base && base.dimension === MASS) return base.value / 1e6;
    const k = props(o).kgPerUnit;
    return k !== undefined ? o.quantity * k : null;
  };
  const proportional = (values: (number | null)[], basis: string, missing: string): AllocationResult => {
    if (values.some((v) => v === null)) {
      const lacking = outputs.filter((_, i) => values[i] === null).map((o) => o.gtin ?? o.batchId);
      return result(null, `${missing} for ${lacking.join(", ")}`);
    }
    const total = (values as number[]).reduce((s, v) => s + v, 0);
    if (!(total > 0)) return result(null, `the outputs' ${basis} sum to zero`);
    return result(new Map(outputs.map((o, i) => [o.batchId, values[i]! / total])), basis);
  };
  switch (rule) {
    case "none":
      return result(null, `rule "none" allows no allocation, but this ${kind ?? "process"} has ${outputs.length} outputs`);
    case "economic":
      return proportional(
        outputs.map((o) => (props(o).pricePerUnit !== undefined ? o.quantity * props(o).pricePerUnit! : null)),
        "revenue (quantity × price per unit)",
        "no price per unit",
      );
    case "dry_matter":
      return proportional(
        outputs.map((o) => {
          const m = massKg(o);
          const dm = props(o).dryMatterFraction;
          return m !== null && dm !== undefined ? m * dm : null;
        }),
        "dry matter (kg × dry-matter fraction)",
        "no mass (kg per unit) or dry-matter fraction",
      );
    case "mass": {
      const masses = outputs.map(massKg);
      if (masses.every((m) => m !== null)) return proportional(masses, "mass (kg)", "no mass");
      const bases = outputs.map((o) => toBase(o.quantity, o.unit, units));
      const dimensions = new Set(bases.map((b) => b?.dimension));
      if (masses.every((m) => m === null) && bases.every((b) => b !== null) && dimensions.size === 1) {
        return proportional(
          bases.map((b) => b!.value),
          "quantity in one unit dimension as a proxy for mass (no kg per unit given for these products)",
          "no quantity",
        );
      }
      return proportional(masses, "mass (kg)", "no mass (kg per unit), and the outputs' units cannot be added");
    }
  }
}

const ENV = "LOTLINE_ALLOCATION_RULES";

/**
 * The policy from LOTLINE_ALLOCATION_RULES:
 *   {"kinds": {"PROCESS": "dry_matter"}, "default": "mass", "source": "Board decision 2026-04",
 *    "products": {"<GTIN-14>": {"kgPerUnit": 1.03, "dryMatterFraction": 0.09, "pricePerUnit": 0.4}}}
 * Throws, naming the problem, on a bad value.
 */
export function allocationPolicyFromEnv(env: NodeJS.ProcessEnv = process.env): AllocationPolicy {
  const text = env[ENV]?.trim();
  if (!text) return { ...DEFAULT_ALLOCATION_POLICY, kinds: {}, products: {} };
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new Error(`${ENV} is not JSON: give an object such as {"kinds": {"PROCESS": "dry_matter"}}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error(`${ENV} must be a JSON object`);
  const isRule = isAllocationRule;
  const kinds: Record<string, AllocationRule> = {};
  for (const [kind, rule] of Object.entries((parsed.kinds as Record<string, unknown> | undefined) ?? {})) {
    if (!new RegExp(TRANSFORM_KIND_PATTERN).test(kind)) throw new Error(`${ENV}: kind "${kind}" must be a transformation kind (A–Z, 0–9, _)`);
    if (!isRule(rule)) throw new Error(`${ENV}: kinds.${kind} must be one of ${ALLOCATION_RULES.join(", ")}`);
    kinds[kind] = rule;
  }
  const defaultRule = parsed.default ?? "mass";
  if (!isRule(defaultRule)) throw new Error(`${ENV}: default must be one of ${ALLOCATION_RULES.join(", ")}`);
  const products: Record<string, ProductProperties> = {};
  for (const [gtin, p] of Object.entries((parsed.products as Record<string, unknown> | undefined) ?? {})) {
    if (!/^[0-9]{14}$/.test(gtin)) throw new Error(`${ENV}: products key "${gtin}" must be a GTIN-14`);
    const q = (p ?? {}) as Record<string, unknown>;
    const out: ProductProperties = {};
    for (const [name, max] of [["kgPerUnit", 1e6], ["dryMatterFraction", 1], ["pricePerUnit", 1e9]] as const) {
      const v = q[name];
      if (v === undefined) continue;
      if (typeof v !== "number" || !Number.isFinite(v) || v < 0 || v > max)
        throw new Error(`${ENV}: products.${gtin}.${name} must be a number between 0 and ${max}`);
      out[name] = v;
    }
    products[gtin] = out;
  }
  const source = typeof parsed.source === "string" ? parsed.source.slice(0, 300) : `${ENV}`;
  return { kinds, defaultRule, products, source };
}
