import hre from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { encodeBytes32String, keccak256, toUtf8Bytes } from "ethers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { connectLotline, deployLotline } from "../../services/chain/deploy";
import { ROLE, rolesToMask } from "../../services/chain/roles";
import { bindAgent } from "../../services/chain/agents";

/** GS1 company prefixes of the fixture's organisations (real-looking: DE, BE, NL, FR ranges). */
export const PREFIX = {
  producer: "4012345",
  processor: "5412345",
  carrier: "8712345",
  certifier: "3012345",
} as const;

/** Business roles governance allows each fixture organisation. */
export const ALLOWED = {
  producer: rolesToMask(["producer"]),
  processor: rolesToMask(["processor", "receiver", "buyer"]),
  carrier: rolesToMask(["carrier"]),
  certifier: rolesToMask(["certifier", "auditor"]),
} as const;

export const METADATA = {
  producer: keccak256(toUtf8Bytes("Hof Sonnenfeld GmbH, Bavaria")),
  processor: keccak256(toUtf8Bytes("Brabant Dairy NV, Antwerp")),
  carrier: keccak256(toUtf8Bytes("Rijnvaart Logistics BV, Rotterdam")),
  certifier: keccak256(toUtf8Bytes("Bureau Contrôle Bio SA, Lyon")),
} as const;

export const NAME = {
  producer: "Hof Sonnenfeld",
  processor: "Brabant Dairy",
  carrier: "Rijnvaart Logistics",
  certifier: "Bureau Controle Bio",
} as const;

// Binding an agent takes the admin's proposal and the wallet's acceptance; one line at call sites.
export { bindAgent } from "../../services/chain/agents";

// The service's GS1 arithmetic, so contract tests and the service agree on check digits.
export { gs1CheckDigit, glnFor } from "../../services/gs1/keys";

/** Arguments of ConsortiumRegistry.admitOrganisation: name, prefixes, metadata hash, allowed roles, first admin. */
type AdmissionArgs = [string, string[], string, bigint, string];

/**
 * A Lotline deployment governed by the deployer, with four organisations admitted, each with one
 * company prefix and an org admin. Every other account is unbound.
 */
export async function identityFixture() {
  const [governor, producerAdmin, processorAdmin, carrierAdmin, certifierAdmin, outsider, relayer, ...spare] =
    await hre.ethers.getSigners();
  const record = await deployLotline(governor);
  const { forwarder, registry, credentials } = connectLotline(record, governor);

  async function admit(key: keyof typeof PREFIX, admin: HardhatEthersSigner): Promise<bigint> {
    const args: AdmissionArgs = [NAME[key], [PREFIX[key]], METADATA[key], ALLOWED[key], admin.address];
    const orgId = await registry.admitOrganisation.staticCall(...args);
    await (await registry.admitOrganisation(...args)).wait();
    return orgId;
  }

  const orgs = {
    producer: await admit("producer", producerAdmin),
    processor: await admit("processor", processorAdmin),
    carrier: await admit("carrier", carrierAdmin),
    certifier: await admit("certifier", certifierAdmin),
  };

  return {
    record,
    forwarder,
    registry,
    credentials,
    orgs,
    governor,
    admins: { producer: producerAdmin, processor: processorAdmin, carrier: carrierAdmin, certifier: certifierAdmin },
    outsider,
    relayer,
    /** Unbound accounts for tests to make agents of. */
    spare,
    GOVERNOR_ROLE: await registry.GOVERNOR_ROLE(),
  };
}

export type IdentityFixture = Awaited<ReturnType<typeof identityFixture>>;

/** Credential types governance allows the fixture's two certifier organisations to issue. */
export const CERTIFIED_TYPES = ["ORGANIC", "ISO14001"] as const;

/**
 * The identity fixture plus credential issuers: a certifier agent of the certifier organisation and
 * a second, independent certifier organisation ("Nordic Organic Control", prefix 7312345) with its
 * own admin and certifier agent. Governance allows both to issue CERTIFIED_TYPES.
 */
export async function certifierFixture() {
  const base = await loadFixture(identityFixture);
  const { registry, orgs, admins, governor, spare } = base;
  const [certifierAgent, secondCertifierAdmin, secondCertifierAgent, producerAgent, ...rest] = spare;

  await bindAgent(registry, admins.certifier, certifierAgent, orgs.certifier, ROLE.certifier);

  const secondArgs: AdmissionArgs = [
    "Nordic Organic Control",
    ["7312345"],
    keccak256(toUtf8Bytes("Nordic Organic Control AB, Malmo")),
    ALLOWED.certifier,
    secondCertifierAdmin.address,
  ];
  const secondCertifierOrg = await registry.connect(governor).admitOrganisation.staticCall(...secondArgs);
  await (await registry.connect(governor).admitOrganisation(...secondArgs)).wait();
  await bindAgent(registry, secondCertifierAdmin, secondCertifierAgent, secondCertifierOrg, ROLE.certifier);
  await bindAgent(registry, admins.producer, producerAgent, orgs.producer, ROLE.producer);
  // Governance decides which certifier issues which type: both certifiers may issue these two.
  for (const issuer of [orgs.certifier, secondCertifierOrg]) {
    for (const type of CERTIFIED_TYPES) {
      await (await base.credentials.connect(governor).setCertifierType(issuer, encodeBytes32String(type), true)).wait();
    }
  }

  return {
    ...base,
    orgs: { ...base.orgs, secondCertifier: secondCertifierOrg },
    certifierAgent,
    secondCertifierAdmin,
    secondCertifierAgent,
    producerAgent,
    spare: rest,
  };
}
