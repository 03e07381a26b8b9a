import { encodeBytes32String, id as keccakText, type Provider } from "ethers";
import type { LotlineContracts } from "../chain/deploy";
import { rolesToMask } from "../chain/roles";
import { glnFor } from "../gs1/keys";
import { DEMO_MEMBERS, demoWallet, GOVERNOR_ACCOUNT } from "./roster";

/**
 * Seeds the demo consortium: admits the roster's organisations, licenses their prefixes, registers
 * their locations, binds their agents (the member's wallet with all its roles, org-admin and treasury, its
 * service's integration key) and has the certifier issue credentials. Every step first checks the
 * chain, so a seeding interrupted by a crash resumes where it stopped.
 */
export async function seedDemo(
  provider: Provider,
  contracts: LotlineContracts,
  progress: (message: string) => void = () => undefined,
): Promise<void> {
  const governor = demoWallet(GOVERNOR_ACCOUNT, provider);
  const registry = contracts.registry.connect(governor);
  const orgIds: Record<string, bigint> = {};

  for (const member of DEMO_MEMBERS) {
    const wallet = demoWallet(member.account, provider);
    const prefix = member.companyPrefixes[0];
    let orgId = await contracts.registry.orgOfCompanyPrefix(prefix);
    if (orgId === 0n) {
      progress(`admitting ${member.name}`);
      const metadataHash = keccakText(JSON.stringify(member.metadata));
      await (await registry.admitOrganisation(member.name, member.companyPrefixes, metadataHash, rolesToMask(member.allowedRoles), wallet.address)).wait();
      orgId = await contracts.registry.orgOfCompanyPrefix(prefix);
    }
    orgIds[member.key] = orgId;
    const asAdmin = contracts.registry.connect(wallet);

    const agent = await contracts.registry.agent(wallet.address);
    const roles = rolesToMask([...member.allowedRoles, "org-admin", "treasury"]);
    if (agent.roles !== roles) await (await asAdmin.setAgent(wallet.address, orgId, roles, 0)).wait();

    const integration = demoWallet(member.integrationAccount);
    if ((await contracts.registry.agent(integration.address)).orgId === 0n) {
      await (await asAdmin.setAgent(integration.address, orgId, rolesToMask(["integration"]), 0)).wait();
    }
    for (const ref of member.locations) {
      const gln = glnFor(prefix, ref);
      if ((await contracts.registry.orgOfLocation(gln)) === 0n) await (await asAdmin.addLocation(orgId, gln)).wait();
    }
  }

  const certifier = DEMO_MEMBERS.find((m) => m.key === "certifier")!;
  const asCertifier = contracts.credentials.connect(demoWallet(certifier.account, provider));
  const now = (await provider.getBlock("latest"))!.timestamp;
  const year = 365 * 24 * 3600;
  const credentials: { subject: string; type: string; revoke?: string }[] = [
    { subject: "producer", type: "ORGANIC" },
    { subject: "processor", type: "ISO14001" },
    { subject: "processor", type: "ORGANIC" },
    { subject: "processor2", type: "ISO22000" },
    { subject: "retailer", type: "ORGANIC", revoke: "retail handling audit failed: organic and conventional stock mixed" },
  ];
  for (const c of credentials) {
    const type = encodeBytes32String(c.type);
    const existing = await contracts.credentials.credentialsOf(orgIds[c.subject], type);
    if (existing.length > 0) continue;
    progress(`issuing ${c.type} to ${c.subject}`);
    const claimHash = keccakText(`${c.type} certificate for ${c.subject}`);
    const receipt = await (await asCertifier.issueCredential(type, orgIds[c.subject], claimHash, now - 30 * 24 * 3600, now + 2 * year)).wait();
    if (c.revoke) {
      const issued = contracts.credentials.interface.parseLog(receipt!.logs.find((l) => l.address === receipt!.to) ?? receipt!.logs[0]);
      await (await asCertifier.revokeCredential(issued!.args.credentialId, c.revoke)).wait();
    }
  }
  progress("demo consortium seeded");
}
