import hre from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { AbiCoder, hexlify, keccak256, parseUnits, toUtf8Bytes, type Signer } from "ethers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { connectLotline, deployLotline } from "../../services/chain/deploy";
import { bindAgent } from "./identity-fixture";
import { rolesToMask } from "../../services/chain/roles";
import { gs1CheckDigit, glnFor } from "../../services/gs1/keys";
import type { ProvenanceRegistry } from "../../services/chain/contracts";

export { gs1CheckDigit, glnFor };

/** GS1 company prefixes of the supply chain's organisations (DE farm, BE dairy, NL carrier, FR retailer, FR auditor). */
export const PREFIX = {
  producer: "4012345",
  processor: "5412345",
  carrier: "8712345",
  retailer: "3760123",
  auditor: "3012345",
} as const;
export type OrgKey = keyof typeof PREFIX;

export const NAME: Record<OrgKey, string> = {
  producer: "Hof Sonnenfeld",
  processor: "Brabant Dairy",
  carrier: "Rijnvaart Logistics",
  retailer: "Marche Frais",
  auditor: "Bureau Controle Bio",
};

/** Business roles governance allows each organisation; each organisation's agent holds all of them. */
export const ALLOWED: Record<OrgKey, bigint> = {
  producer: rolesToMask(["producer"]),
  processor: rolesToMask(["processor", "receiver", "buyer"]),
  carrier: rolesToMask(["carrier"]),
  retailer: rolesToMask(["receiver", "buyer"]),
  auditor: rolesToMask(["auditor", "certifier"]),
};

/** The role masks ProvenanceRegistry asks the consortium registry for (see its HANDLERS, MAKERS, OBSERVERS). */
export const NEEDED = {
  handlers: rolesToMask(["producer", "processor", "carrier", "receiver", "buyer", "integration"]),
  makers: rolesToMask(["producer", "processor", "integration"]),
  observers: rolesToMask(["producer", "processor", "carrier", "receiver", "buyer", "integration", "auditor"]),
  all: (1n << 10n) - 1n,
} as const;

/** One location (GLN) per organisation: the farm, the dairy plant, the depot, the store, the auditor's office. */
export const GLN: Record<OrgKey, string> = {
  producer: glnFor(PREFIX.producer, 1),
  processor: glnFor(PREFIX.processor, 1),
  carrier: glnFor(PREFIX.carrier, 1),
  retailer: glnFor(PREFIX.retailer, 1),
  auditor: glnFor(PREFIX.auditor, 1),
};

/** A GTIN-14 as the contract takes it: indicator digit, company prefix, item reference, check digit. */
export function gtinFor(prefix: string, itemReference: number, indicator = 0): bigint {
  const data = `${indicator}${prefix}${String(itemReference).padStart(12 - prefix.length, "0")}`;
  if (data.length !== 13) throw new Error(`prefix ${prefix} leaves no room for item ${itemReference}`);
  return BigInt(data + gs1CheckDigit(data));
}

/** An SSCC (18 digits): extension digit, company prefix, serial reference, check digit. */
export function ssccFor(prefix: string, serial: number, extension = 0): string {
  const data = `${extension}${prefix}${String(serial).padStart(16 - prefix.length, "0")}`;
  if (data.length !== 17) throw new Error(`prefix ${prefix} leaves no room for serial ${serial}`);
  return data + gs1CheckDigit(data);
}

/** keccak256(bytes(sscc)): a logistic unit's key. */
export function unitKeyOf(sscc: string): string {
  return keccak256(toUtf8Bytes(sscc));
}

/** A UN/CEFACT Rec 20 unit code as the contract's bytes3. */
export function unitCode(code: string): string {
  return hexlify(toUtf8Bytes(code));
}

/** A quantity in the contract's fixed point (3 decimals): qty("20000") is 20,000 units. */
export function qty(amount: string | number): bigint {
  return parseUnits(String(amount), 3);
}

const abi = AbiCoder.defaultAbiCoder();

/** keccak256(abi.encode(uint64 gtin, string lot)): a lot's id and its first portion's. */
export function lotIdOf(gtin: bigint, lot: string): string {
  return keccak256(abi.encode(["uint64", "string"], [gtin, lot]));
}

/** keccak256(abi.encode(bytes32 parent, uint32 index)): the index-th portion split off parent. */
export function portionIdOf(parent: string, index: number): string {
  return keccak256(abi.encode(["bytes32", "uint32"], [parent, index]));
}

/** Digest of an off-chain document, for metadata and master-data hashes. */
export function digest(text: string): string {
  return keccak256(toUtf8Bytes(text));
}

/** Mirrors IProvenanceRegistry's enums. */
export const Status = { None: 0n, Active: 1n, InTransit: 2n, Consumed: 3n, Destroyed: 4n } as const;
export const Recall = { None: 0n, Direct: 1n, Propagated: 2n } as const;
export const Kind = { Custody: 0, Ownership: 1, Both: 2 } as const;

// The EIP-712 type the service signs with: one definition for the service and the tests.
export { ACCEPTANCE_TYPES } from "../../services/provenance/acceptance";
import { ACCEPTANCE_TYPES } from "../../services/provenance/acceptance";

export interface AcceptanceTerms {
  batchId: string;
  quantity: bigint;
  from: bigint;
  to: bigint;
  kind: number;
  gln: string;
  deadline: number;
}

let nextNonce = 1n;

/**
 * A receiver's EIP-712 acceptance signed by `signer`, as handOverWithAcceptance takes it. Nonces
 * are unordered: a fresh one from a counter unless given (tests pass a spent one to check replay
 * refusal, or concurrent ones).
 */
export async function signAcceptance(
  signer: Signer,
  provenance: ProvenanceRegistry,
  terms: AcceptanceTerms,
  nonce: bigint = nextNonce++,
): Promise<{ acceptance: AcceptanceTerms & { signer: string; nonce: bigint }; signature: string }> {
  const address = await signer.getAddress();
  const domain = await provenance.eip712Domain();
  const signature = await signer.signTypedData(
    { name: domain.name, version: domain.version, chainId: domain.chainId, verifyingContract: domain.verifyingContract },
    ACCEPTANCE_TYPES,
    {
      batchId: terms.batchId,
      quantity: terms.quantity,
      fromOrg: terms.from,
      toOrg: terms.to,
      kind: terms.kind,
      gln: terms.gln,
      nonce,
      deadline: terms.deadline,
    },
  );
  return { acceptance: { ...terms, signer: address, nonce }, signature };
}

/** The fixture's products: raw milk from the farm, dairy products from the processor. */
export const PRODUCT = {
  /** Raw cow's milk in bulk, litres. */
  milk: {
    org: "producer",
    gtin: gtinFor(PREFIX.producer, 1),
    unit: unitCode("LTR"),
    masterData: digest("Rohmilch, Kuh, 4.1 % Fett"),
  },
  /** Butter in bulk blocks, kilograms. */
  butter: {
    org: "processor",
    gtin: gtinFor(PREFIX.processor, 1),
    unit: unitCode("KGM"),
    masterData: digest("Boter, 82 % vet, blok 25 kg"),
  },
  /** Cream, litres. */
  cream: { org: "processor", gtin: gtinFor(PREFIX.processor, 2), unit: unitCode("LTR"), masterData: digest("Room, 35 % vet") },
  /** Skimmed milk, millilitres. */
  skimmedMilk: { org: "processor", gtin: gtinFor(PREFIX.processor, 3), unit: unitCode("MLT"), masterData: digest("Magere melk") },
  /** Butter portions, grams. */
  butterPortion: {
    org: "processor",
    gtin: gtinFor(PREFIX.processor, 4),
    unit: unitCode("GRM"),
    masterData: digest("Boter, portie 10 g"),
  },
  /** Retail cases of butter, pieces (trade-item level 1). */
  butterCase: {
    org: "processor",
    gtin: gtinFor(PREFIX.processor, 5, 1),
    unit: unitCode("H87"),
    masterData: digest("Boter, doos 40 x 250 g"),
  },
} as const satisfies Record<string, { org: OrgKey; gtin: bigint; unit: string; masterData: string }>;
export type ProductKey = keyof typeof PRODUCT;

/** The lots registered by the fixture. */
export const LOT = {
  /** 20,000 litres collected on the farm. */
  milk: { product: "milk", lot: "M240412-A", quantity: qty(20_000), org: "producer" },
  /** A second milk collection of 5,000 litres. */
  milkB: { product: "milk", lot: "M240412-B", quantity: qty(5_000), org: "producer" },
  /** 800 kg of butter made by the processor. */
  butter: { product: "butter", lot: "B2404-17", quantity: qty(800), org: "processor" },
} as const satisfies Record<string, { product: ProductKey; lot: string; quantity: bigint; org: OrgKey }>;

/** A NewLot argument for registerLots or a transformation output. */
export function newLot(product: ProductKey, lot: string, quantity: bigint, gln = "", metadataHash = digest(lot)) {
  return { gtin: PRODUCT[product].gtin, lot, quantity, gln, metadataHash };
}

/**
 * A Lotline deployment governed by the deployer with five organisations admitted (producer,
 * processor, carrier, retailer, auditor), each with one company prefix, one location and one agent
 * holding every business role the organisation is allowed; the producer's and processor's products
 * registered; two milk lots at the farm and a butter lot at the dairy.
 */
export async function provenanceFixture() {
  const [governor, producerAdmin, processorAdmin, carrierAdmin, retailerAdmin, auditorAdmin, ...rest] =
    await hre.ethers.getSigners();
  const [producerAgent, processorAgent, carrierAgent, retailerAgent, auditorAgent, outsider, relayer, ...spare] = rest;
  const record = await deployLotline(governor);
  const contracts = connectLotline(record, governor);
  const { registry, provenance } = contracts;

  const admins: Record<OrgKey, HardhatEthersSigner> = {
    producer: producerAdmin,
    processor: processorAdmin,
    carrier: carrierAdmin,
    retailer: retailerAdmin,
    auditor: auditorAdmin,
  };
  const agents: Record<OrgKey, HardhatEthersSigner> = {
    producer: producerAgent,
    processor: processorAgent,
    carrier: carrierAgent,
    retailer: retailerAgent,
    auditor: auditorAgent,
  };

  const orgs = {} as Record<OrgKey, bigint>;
  for (const key of Object.keys(PREFIX) as OrgKey[]) {
    const args: [string, string[], string, bigint, string] = [
      NAME[key],
      [PREFIX[key]],
      digest(NAME[key]),
      ALLOWED[key],
      admins[key].address,
    ];
    orgs[key] = await registry.admitOrganisation.staticCall(...args);
    await (await registry.admitOrganisation(...args)).wait();
    await (await registry.connect(admins[key]).addLocation(orgs[key], GLN[key])).wait();
    await bindAgent(registry, admins[key], agents[key], orgs[key], ALLOWED[key]);
  }

  for (const key of Object.keys(PRODUCT) as ProductKey[]) {
    const { org, gtin, unit, masterData } = PRODUCT[key];
    await (await provenance.connect(agents[org]).registerProduct(gtin, unit, masterData)).wait();
  }

  const lotIds = {} as Record<keyof typeof LOT, string>;
  for (const key of Object.keys(LOT) as (keyof typeof LOT)[]) {
    const { product, lot, quantity, org } = LOT[key];
    await (await provenance.connect(agents[org]).registerLots([newLot(product, lot, quantity, GLN[org])])).wait();
    lotIds[key] = lotIdOf(PRODUCT[product].gtin, lot);
  }

  return {
    record,
    ...contracts,
    orgs,
    admins,
    agents,
    governor,
    outsider,
    relayer,
    /** Unbound accounts. */
    spare,
    lotIds,
  };
}
export type ProvenanceFixture = Awaited<ReturnType<typeof provenanceFixture>>;

/** The fixture after the producer handed the whole first milk lot, custody and ownership, to the processor at its plant. */
export async function milkAtProcessorFixture() {
  const f = await loadFixture(provenanceFixture);
  const { provenance, agents, orgs, lotIds } = f;
  await (await provenance.connect(agents.producer).offer(lotIds.milk, LOT.milk.quantity, orgs.processor, Kind.Both)).wait();
  await (await provenance.connect(agents.processor).accept(...(await offered(provenance, lotIds.milk)), GLN.processor)).wait();
  return f;
}

/** The fixture after the carrier took custody (not ownership) of the whole first milk lot at the farm. */
export async function milkWithCarrierFixture() {
  const f = await loadFixture(provenanceFixture);
  const { provenance, agents, orgs, lotIds } = f;
  await (await provenance.connect(agents.producer).offer(lotIds.milk, LOT.milk.quantity, orgs.carrier, Kind.Custody)).wait();
  await (await provenance.connect(agents.carrier).accept(...(await offered(provenance, lotIds.milk)), "")).wait();
  return f;
}

/**
 * The terms of the offer pending on `batchId`, as accept() must name them: [batchId, quantity,
 * kind]. Honest receivers accept what they were shown; tests read it from the chain.
 */
export async function offered(provenance: ProvenanceRegistry, batchId: string): Promise<[string, bigint, bigint]> {
  const pending = await provenance.pendingOffer(batchId);
  return [batchId, pending.quantity, pending.kind];
}
