import hre from "hardhat";
import { keccak256, toUtf8Bytes } from "ethers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { connectLotline, deployLotline } from "../../services/chain/deploy";
import { ROLE, rolesToMask } from "../../services/chain/roles";

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

/** GS1 mod-10 check digit of a string of data digits (weights 3,1,3,… from the right). */
export function gs1CheckDigit(data: string): number {
  if (!/^\d+$/.test(data)) throw new Error(`not a digit string: ${data}`);
  let sum = 0;
  for (let i = 0; i < data.length; i++) {
    const digit = Number(data[data.length - 1 - i]);
    sum += i % 2 === 0 ? digit * 3 : digit;
  }
  return (10 - (sum % 10)) % 10;
}

/** A 13-digit GLN made of a company prefix, a zero-padded location reference and its check digit. */
export function glnFor(prefix: string, locationRef: number | string): string {
  const width = 12 - prefix.length;
  const ref = String(locationRef).padStart(width, "0");
  if (ref.length !== width) throw new Error(`location reference ${locationRef} does not fit after prefix ${prefix}`);
  const data = prefix + ref;
  return data + String(gs1CheckDigit(data));
}

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

/**
 * The identity fixture plus credential issuers: a certifier agent of the certifier organisation and
 * a second, independent certifier organisation ("Nordic Organic Control", prefix 7312345) with its
 * own admin and certifier agent.
 */
export async function certifierFixture() {
  const base = await identityFixture();
  const { registry, orgs, admins, governor, spare } = base;
  const [certifierAgent, secondCertifierAdmin, secondCertifierAgent, producerAgent, ...rest] = spare;

  await (await registry.connect(admins.certifier).setAgent(certifierAgent.address, orgs.certifier, ROLE.certifier, 0)).wait();

  const secondArgs: AdmissionArgs = [
    "Nordic Organic Control",
    ["7312345"],
    keccak256(toUtf8Bytes("Nordic Organic Control AB, Malmo")),
    ALLOWED.certifier,
    secondCertifierAdmin.address,
  ];
  const secondCertifierOrg = await registry.connect(governor).admitOrganisation.staticCall(...secondArgs);
  await (await registry.connect(governor).admitOrganisation(...secondArgs)).wait();
  await (
    await registry.connect(secondCertifierAdmin).setAgent(secondCertifierAgent.address, secondCertifierOrg, ROLE.certifier, 0)
  ).wait();
  await (await registry.connect(admins.producer).setAgent(producerAgent.address, orgs.producer, ROLE.producer, 0)).wait();

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
