import { encodeRlp, getAddress } from "ethers";
import { EVM_HARDFORK } from "./evm";

/**
 * A Hyperledger Besu QBFT genesis for a Lotline consortium, with every fork up to the pinned
 * EVM_HARDFORK active from genesis (ADR 2), zero base fee (members do not pay each other for gas;
 * node and account allowlists control who may transact) and the validators in QBFT's extraData.
 */
export interface BesuGenesisOptions {
  chainId: number;
  validators: string[];
  blockPeriodSeconds?: number;
  /** Accounts funded at genesis (deployer, relayers), in wei. */
  alloc?: Record<string, bigint>;
}

/** Fork activation for Besu's genesis `config`, by the hardfork Lotline targets. */
const BLOCK_FORKS = [
  "homesteadBlock", "eip150Block", "eip155Block", "eip158Block", "byzantiumBlock", "constantinopleBlock",
  "petersburgBlock", "istanbulBlock", "muirGlacierBlock", "berlinBlock", "londonBlock",
];
const TIME_FORKS: Record<string, string[]> = {
  london: [],
  shanghai: ["shanghaiTime"],
  cancun: ["shanghaiTime", "cancunTime"],
  prague: ["shanghaiTime", "cancunTime", "pragueTime"],
};

/** QBFT's sentinel mixHash, which Besu requires in a QBFT genesis. */
export const QBFT_MIX_HASH = "0x63746963616c2062797a616e74696e65206661756c7420746f6c6572616e6365";

/** extraData = RLP([32-byte vanity, [validators], no vote, round 0, no seals]). */
export function qbftExtraData(validators: string[]): string {
  return encodeRlp(["0x" + "00".repeat(32), validators.map((v) => getAddress(v).toLowerCase()), [], "0x", []]);
}

export function besuGenesis(options: BesuGenesisOptions, hardfork: string = EVM_HARDFORK) {
  const timeForks = TIME_FORKS[hardfork];
  if (!timeForks) throw new Error(`no Besu fork mapping for hardfork ${hardfork}`);
  if (options.validators.length < 1) throw new Error("QBFT needs at least one validator (4 or more tolerate a faulty one)");
  const config: Record<string, unknown> = { chainId: options.chainId };
  for (const fork of BLOCK_FORKS) config[fork] = 0;
  for (const fork of timeForks) config[fork] = 0;
  config.zeroBaseFee = true;
  config.qbft = { blockperiodseconds: options.blockPeriodSeconds ?? 2, epochlength: 30000, requesttimeoutseconds: 4 };
  return {
    config,
    nonce: "0x0",
    timestamp: "0x0",
    gasLimit: "0x1fffffffffffff",
    difficulty: "0x1",
    mixHash: QBFT_MIX_HASH,
    coinbase: "0x0000000000000000000000000000000000000000",
    alloc: Object.fromEntries(
      Object.entries(options.alloc ?? {}).map(([address, wei]) => [getAddress(address).slice(2).toLowerCase(), { balance: `0x${wei.toString(16)}` }]),
    ),
    extraData: qbftExtraData(options.validators),
  };
}

/**
 * The members' Besu nodes and extra accounts (deploy/besu/members.json): per organisation id, its
 * nodes' enode URLs and the accounts that send transactions without being agents (its relayer key).
 * Everything an organisation lists is allowed only while the registry shows it active.
 */
export interface BesuMembersFile {
  /** Accounts of the consortium itself, always allowed (deployer, timelock proposers and executors). */
  consortiumAccounts?: string[];
  /** Validators' and other consortium nodes, always allowed. */
  consortiumNodes?: string[];
  members: Record<string, { enodes?: string[]; accounts?: string[] }>;
}

export interface RegistryMember {
  orgId: string;
  status: "active" | "suspended";
  /** Agents bound to the organisation and not expired. */
  agents: string[];
}

const ENODE = /^enode:\/\/[0-9a-f]{128}@[^\s"]+:[0-9]{1,5}(\?discport=[0-9]{1,5})?$/;

/**
 * Besu's node and account allowlists from the registry (admission, suspension, agent bindings) and
 * the members file: an active member's agents, enodes and extra accounts; a suspended member's
 * nothing. Sorted and de-duplicated, so the same registry always gives the same file.
 */
export function besuAllowlists(registry: RegistryMember[], file: BesuMembersFile): { nodes: string[]; accounts: string[] } {
  const bad = [...(file.consortiumNodes ?? []), ...Object.values(file.members).flatMap((m) => m.enodes ?? [])].find((e) => !ENODE.test(e));
  if (bad) throw new Error(`"${bad}" is not an enode URL (enode://<128 hex>@host:port)`);
  const nodes = new Set(file.consortiumNodes ?? []);
  const accounts = new Set((file.consortiumAccounts ?? []).map((a) => getAddress(a)));
  for (const member of registry) {
    if (member.status !== "active") continue;
    for (const agent of member.agents) accounts.add(getAddress(agent));
    const listed = file.members[member.orgId];
    for (const enode of listed?.enodes ?? []) nodes.add(enode);
    for (const account of listed?.accounts ?? []) accounts.add(getAddress(account));
  }
  return { nodes: [...nodes].sort(), accounts: [...accounts].sort() };
}

/** Besu's permissions_config.toml (--permissions-nodes-config-file and --permissions-accounts-config-file). */
export function permissionsToml(lists: { nodes: string[]; accounts: string[] }): string {
  const array = (values: string[]) => `[${values.map((v) => JSON.stringify(v)).join(", ")}]`;
  return `# Generated by lotline besu-allowlist from the registry; do not edit by hand.\nnodes-allowlist=${array(lists.nodes)}\naccounts-allowlist=${array(lists.accounts)}\n`;
}
