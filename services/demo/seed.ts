import { encodeBytes32String, id as keccakText, ZeroHash, type Provider } from "ethers";
import type { LotlineContracts } from "../chain/deploy";
import { rolesToMask } from "../chain/roles";
import { bindAgent } from "../chain/agents";
import { glnFor } from "../gs1/keys";
import { DEMO_MEMBERS, demoWallet, GOVERNOR_ACCOUNT } from "./roster";

/**
 * Seeds the demo consortium: admits the roster's organisations, licenses their prefixes, registers
 * their locations, binds their agents (the member's wallet with all its roles, org-admin and treasury,
 * its service's integration key, which proposes and accepts), lets the certifier issue its credential
 * types and has it issue credentials. Every step first checks the chain, so a seeding interrupted
 * by a crash resumes where it stopped.
 */
/** Credential types governance lets the demo certifier issue. */
export const DEMO_CERTIFIED_TYPES = ["ORGANIC", "ISO14001", "ISO22000", "GLOBALGAP"] as const;

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

    const integration = demoWallet(member.integrationAccount, provider);
    if ((await contracts.registry.agent(integration.address)).orgId === 0n) {
      await bindAgent(contracts.registry, wallet, integration, orgId, rolesToMask(["integration"]));
    }
    for (const ref of member.locations) {
      const gln = glnFor(prefix, ref);
      if ((await contracts.registry.orgOfLocation(gln)) === 0n) await (await asAdmin.addLocation(orgId, gln)).wait();
    }
  }

  const certifier = DEMO_MEMBERS.find((m) => m.key === "certifier")!;
  for (const type of DEMO_CERTIFIED_TYPES) {
    const encoded = encodeBytes32String(type);
    if (!(await contracts.credentials.mayIssue(orgIds.certifier, encoded))) {
      await (await contracts.credentials.connect(governor).setCertifierType(orgIds.certifier, encoded, true)).wait();
    }
  }
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
  await seedDemoGrants(provider, contracts, orgIds, progress);
  progress("demo consortium seeded");
}

/** Record classes, as SharingRegistry's bits (services/sharing/grants.ts). */
const ALL_RECORDS = 7;

/**
 * The demo's standing grants: every member that keeps production or EPCIS records appoints the
 * auditor (an unscoped grant of all its record classes, for two years). The certifier is granted
 * nothing commercial. Grants between trading partners are made where they trade (the supply chain).
 * Resumable: grant ids are sequential, so those already made are skipped.
 */
async function seedDemoGrants(
  provider: Provider,
  contracts: LotlineContracts,
  orgIds: Record<string, bigint>,
  progress: (message: string) => void,
): Promise<void> {
  const grantors = DEMO_MEMBERS.filter((m) => m.key !== "auditor" && m.key !== "certifier");
  const now = (await provider.getBlock("latest"))!.timestamp;
  const made = Number(await contracts.sharing.grantCount());
  for (const [i, member] of grantors.entries()) {
    if (i < made) continue;
    progress(`${member.name} appoints the auditor (grant of all its records)`);
    const admin = contracts.sharing.connect(demoWallet(member.account, provider));
    await (await admin.grant(orgIds.auditor, ALL_RECORDS, 0, ZeroHash, now + 2 * 365 * 24 * 3600)).wait();
  }
}
