import type { Command } from "commander";
import { encodeBytes32String, JsonRpcProvider } from "ethers";
import { ConfigError, loadConfig } from "../config";
import { decodeRevert, INTERFACES, ProvenanceRegistry__factory } from "../chain/contracts";
import { ALLOCATION_RULES, allocationRuleCode, isAllocationRule, TRANSFORM_KIND_PATTERN, type AllocationRule } from "../analytics/allocation";
import { apiGet, CliError } from "./client";
import { signing, type Print } from "./batch-cmd";
import { resolveSigner, type SignerOptions } from "./keystore";
import { waitIndexed, type Deployment } from "./relay-client";

interface RuleItem {
  kind: string;
  enabled: boolean | null;
  rule: string;
  origin: { from: string; transactionHash: string | null; blockNumber: number | null; setAt: string | null; detail: string };
}
interface RulesJson {
  defaultRule: string;
  source: string;
  rules: string[];
  items: RuleItem[];
}

const line = (r: RuleItem) =>
  `${r.kind.padEnd(12)} ${r.rule.padEnd(10)} ${r.origin.from === "chain" ? `on-chain (tx ${r.origin.transactionHash}, block ${r.origin.blockNumber})` : r.origin.from}${r.enabled === false ? "  [kind disabled]" : ""}`;

function kindArg(raw: string): string {
  const kind = raw.toUpperCase();
  if (!new RegExp(TRANSFORM_KIND_PATTERN).test(kind)) throw new CliError(`<kind> must be a transformation kind such as PROCESS or MERGE (A–Z, 0–9, _; at most 31), got "${raw}"`);
  return kind;
}

function ruleArg(raw: string): AllocationRule | "clear" {
  if (raw === "clear" || isAllocationRule(raw)) return raw;
  throw new CliError(`<rule> must be one of ${ALLOCATION_RULES.join(", ")} or clear, got "${raw}"`);
}

/** The chain the node follows: LOTLINE_RPC_URL, or the embedded chain on LOTLINE_CHAIN_PORT. */
function chainUrl(): string {
  try {
    const config = loadConfig();
    return config.rpcUrl ?? `http://127.0.0.1:${config.chainPort}`;
  } catch (err) {
    throw new CliError((err as ConfigError).message);
  }
}

/**
 * `lotline allocation list|set` (docs/adr/0026): the allocation rule of each transformation kind.
 * Governance functions are never relayed (services/relayer), so `set` sends its own transaction to
 * the chain, signed with the governance key; with --calldata it prints the call for the consortium's
 * timelock or multisig to propose instead.
 */
export function registerAllocationCommands(program: Command, print: Print): void {
  const allocation = program.command("allocation").description("allocation rules of footprints per transformation kind, set by governance on-chain");

  allocation
    .command("list")
    .description("each transformation kind's rule and where it comes from (on-chain, this node's configuration, or the default)")
    .option("--kind <kind>", "only this kind")
    .action(async (opts: { kind?: string }) => {
      const query = opts.kind ? `?kind=${encodeURIComponent(kindArg(opts.kind))}` : "";
      const rules = await apiGet<RulesJson>(`/api/v1/allocation-rules${query}`);
      print(rules, () => [...rules.items.map(line), `default: ${rules.defaultRule} (${rules.source})`].join("\n"));
    });

  signing(
    allocation
      .command("set")
      .description("set the rule footprints apply to a transformation kind (governance key): mass, dry_matter, economic, none, or clear")
      .argument("<kind>", "an enabled transformation kind (PROCESS, MERGE, REPACK…)")
      .argument("<rule>", `${ALLOCATION_RULES.join(", ")}, or clear (the node's configured default applies again)`)
      .option("--calldata", "print the transaction for the governance timelock or multisig to propose, without signing"),
  ).action(async (rawKind: string, rawRule: string, opts: SignerOptions & { calldata?: boolean }) => {
    const kind = kindArg(rawKind);
    const rule = ruleArg(rawRule);
    const args = [encodeBytes32String(kind), allocationRuleCode(rule)] as const;
    const deployment = await apiGet<Deployment>("/api/v1/deployment");
    const to = deployment.contracts.provenance;
    if (opts.calldata) {
      const data = INTERFACES.provenance.encodeFunctionData("setAllocationRule", [...args]);
      print({ to, data, value: "0", function: "setAllocationRule", kind, rule }, () => `propose to ${to}: ${data}`);
      return;
    }
    const signer = await resolveSigner(opts, async () => deployment.chainId);
    const provider = new JsonRpcProvider(chainUrl(), deployment.chainId, { staticNetwork: true, cacheTimeout: -1 });
    try {
      const provenance = ProvenanceRegistry__factory.connect(to, signer.connect(provider));
      try {
        // Simulated first: a refusal is named before anything is sent (and costs nothing).
        await provenance.setAllocationRule.staticCall(...args);
      } catch (err) {
        const reason = decodeRevert((err as { data?: string }).data);
        if (reason?.name === "ProvenanceNotGovernor")
          throw new CliError(`${signer.address} does not hold the consortium's governance role: sign with the governor's key, or print the call with --calldata for the timelock or multisig`);
        if (reason?.name === "ProvenanceUnknownTransformKind") throw new CliError(`${kind} is not a transformation kind enabled on-chain; see 'lotline allocation list'`);
        if (reason) throw new CliError(`the chain refused setAllocationRule: ${reason.text}`);
        throw new CliError(`cannot reach the chain at ${chainUrl()} (${(err as Error).message.split("\n")[0]}): set LOTLINE_RPC_URL or LOTLINE_CHAIN_PORT`);
      }
      const tx = await provenance.setAllocationRule(...args);
      const blockNumber = await waitIndexed(tx.hash, 120_000);
      const after = await apiGet<RulesJson>(`/api/v1/allocation-rules?kind=${kind}`);
      print({ transactionHash: tx.hash, blockNumber, ...after.items[0] }, () => line(after.items[0]));
    } finally {
      provider.destroy();
    }
  });
}
