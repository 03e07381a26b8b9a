import type { Command } from "commander";
import { getAddress, isAddress } from "ethers";
import { apiGet, CliError } from "./client";
import { actor, signing, type Print } from "./batch-cmd";
import { isRoleName, rolesToMask, type RoleName } from "../chain/roles";
import type { SignerOptions } from "./keystore";

interface ProposalJson {
  address: string;
  orgId: string;
  roles: RoleName[];
  expiresAt: string | null;
  proposedBy: string;
  proposedAt: string;
}

function addressArg(raw: string): string {
  if (!isAddress(raw)) throw new CliError(`"${raw}" is not an address (0x followed by 40 hex digits)`);
  return getAddress(raw.toLowerCase());
}

function orgArg(raw: string): bigint {
  if (!/^[1-9][0-9]{0,18}$/.test(raw)) throw new CliError(`--org must be a positive integer, got "${raw}"`);
  return BigInt(raw);
}

const seconds = (iso: string | null) => (iso === null ? 0n : BigInt(Math.floor(Date.parse(iso) / 1000)));

/** The proposal `orgId` made to `address`, per the index, or a CliError saying there is none. */
async function proposalFor(address: string, orgId: bigint): Promise<ProposalJson> {
  const { items } = await apiGet<{ items: ProposalJson[] }>(`/api/v1/agents/${address}/proposals`);
  const found = items.find((p) => p.orgId === String(orgId));
  if (!found) throw new CliError(`organisation ${orgId} has proposed no binding to ${address}; ask its org admin to run 'lotline agent propose'`);
  return found;
}

/**
 * Agents: wallets acting for an organisation. A wallet joins only with its consent: an org admin
 * proposes (`agent propose`), the wallet accepts (`agent accept`); it can decline or leave.
 */
export function registerAgentCommands(program: Command, print: Print): void {
  const agent = program.command("agent").description("agents (wallets acting for an organisation)");

  agent
    .command("show")
    .argument("<address>", "wallet address")
    .description("show which organisation a wallet acts for, with its roles and status")
    .action(async (address: string) => {
      const a = await apiGet<Record<string, any>>(`/api/v1/agents/${addressArg(address)}`); // eslint-disable-line @typescript-eslint/no-explicit-any
      print(a, () => `${a.address}: org ${a.orgId}, ${a.status}, roles ${a.roles.join(", ")}${a.expiresAt ? `, expires ${a.expiresAt}` : ""}`);
    });

  agent
    .command("proposals")
    .argument("<address>", "wallet address")
    .description("list the bindings organisations offered this wallet (accept one with 'lotline agent accept')")
    .action(async (address: string) => {
      const { items } = await apiGet<{ items: ProposalJson[] }>(`/api/v1/agents/${addressArg(address)}/proposals`);
      print(items, () =>
        items
          .map((p) => `org ${p.orgId}: roles ${p.roles.join(", ") || "-"}${p.expiresAt ? `, expires ${p.expiresAt}` : ""} (proposed by ${p.proposedBy})`)
          .join("\n") || "no pending proposals",
      );
    });

  signing(
    agent
      .command("propose")
      .description("as an org admin, offer a wallet a binding to your organisation (it joins when it accepts); updates one of your agents at once")
      .argument("<address>", "wallet address")
      .requiredOption("--org <orgId>", "your organisation")
      .requiredOption("--roles <names>", "comma-separated roles (producer, carrier, …, org-admin, integration, treasury)")
      .option("--expires <iso>", "when the binding ends (ISO 8601); none by default"),
  ).action(async (address: string, opts: SignerOptions & { org: string; roles: string; expires?: string }) => {
    const names = opts.roles.split(",").map((r) => r.trim()).filter(Boolean);
    const unknown = names.filter((r) => !isRoleName(r));
    if (unknown.length > 0) throw new CliError(`--roles: unknown role ${unknown.join(", ")}`);
    let expiresAt = 0n;
    if (opts.expires !== undefined) {
      if (Number.isNaN(Date.parse(opts.expires))) throw new CliError(`--expires must be an ISO 8601 time, got "${opts.expires}"`);
      expiresAt = seconds(opts.expires);
    }
    const { relay, signer } = await actor(opts);
    const tx = await relay.send(signer, "registry", "setAgent", [addressArg(address), orgArg(opts.org), rolesToMask(names as RoleName[]), expiresAt]);
    print(tx, () => `proposed ${names.join(", ")} to ${address} for org ${opts.org} (tx ${tx.transactionHash}); it binds when the wallet accepts`);
  });

  signing(
    agent
      .command("accept")
      .description("accept an organisation's proposal with the signing key: it becomes an agent of that organisation")
      .requiredOption("--org <orgId>", "the organisation that proposed"),
  ).action(async (opts: SignerOptions & { org: string }) => {
    const orgId = orgArg(opts.org);
    const { relay, signer } = await actor(opts);
    const proposal = await proposalFor(signer.address, orgId);
    // Names the terms the wallet saw, so a proposal changed meanwhile reverts instead of binding.
    const tx = await relay.send(signer, "registry", "acceptAgent", [orgId, rolesToMask(proposal.roles), seconds(proposal.expiresAt)]);
    print({ ...tx, proposal }, () => `${signer.address} is now an agent of org ${orgId} with ${proposal.roles.join(", ")} (tx ${tx.transactionHash})`);
  });

  signing(
    agent
      .command("decline")
      .description("decline an organisation's proposal to the signing key")
      .requiredOption("--org <orgId>", "the organisation that proposed"),
  ).action(async (opts: SignerOptions & { org: string }) => {
    const orgId = orgArg(opts.org);
    const { relay, signer } = await actor(opts);
    await proposalFor(signer.address, orgId);
    const tx = await relay.send(signer, "registry", "cancelAgentProposal", [signer.address, orgId]);
    print(tx, () => `declined org ${orgId}'s proposal (tx ${tx.transactionHash})`);
  });

  signing(
    agent
      .command("remove")
      .description("as an org admin, unbind one of your organisation's agents at once (a retired, lost or leaked key: docs/operations.md)")
      .argument("<address>", "the agent's address"),
  ).action(async (address: string, opts: SignerOptions) => {
    const account = addressArg(address);
    const { relay, signer } = await actor(opts);
    // Read as the signer (the agent list is for members); a refusal (not your organisation's agent) comes from the relayer's simulation.
    const current = await apiGet<{ orgId: string }>(`/api/v1/agents/${account}`);
    const tx = await relay.send(signer, "registry", "removeAgent", [account]);
    print(tx, () => `${account} is no longer an agent of org ${current.orgId} (tx ${tx.transactionHash})`);
  });

  signing(
    agent.command("leave").description("the signing key leaves its organisation: it can no longer act for it"),
  ).action(async (opts: SignerOptions) => {
    const { relay, signer } = await actor(opts);
    const tx = await relay.send(signer, "registry", "leaveOrganisation", []);
    print(tx, () => `${signer.address} left its organisation (tx ${tx.transactionHash})`);
  });
}
