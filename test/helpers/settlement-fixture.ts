import hre from "hardhat";
import { AbiCoder, keccak256, parseUnits, Signature, toUtf8Bytes, type Signer } from "ethers";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { connectLotline, deployLotline } from "../../services/chain/deploy";
import { bindAgent } from "./identity-fixture";
import { ROLE, rolesToMask } from "../../services/chain/roles";
import { glnFor, gtinFor as gtinDigits } from "../../services/gs1/keys";
import { unitToBytes3 } from "../../services/provenance/quantity";
import type { ConsortiumToken } from "../../services/chain/contracts";
import { offered } from "./provenance-fixture";
import type { ISettlementEscrow } from "../../typechain-types";
import type { ProvenanceRegistry } from "../../services/chain/contracts";

export { ROLE, rolesToMask, bindAgent };

export const DAY = 24 * 3600;

/** Mirrors ISettlementEscrow.OrderStatus. */
export const OrderStatus = {
  None: 0n,
  Created: 1n,
  Funded: 2n,
  Delivered: 3n,
  Disputed: 4n,
  Frozen: 5n,
  Completed: 6n,
  Refunded: 7n,
  Resolved: 8n,
  Cancelled: 9n,
} as const;

/** Mirrors IProvenanceRegistry.HandoverKind. */
export const Kind = { Custody: 0, Ownership: 1, Both: 2 } as const;

/** Mirrors SettlementEscrow's constants. */
export const MAX_BATCHES_PER_DELIVERY = 32;
export const MAX_SHARE_BPS = 10_000;

/** The escrow asks for "any role" (Roles.ALL) where any agent of the party will do (cancel, deliver). */
export const ANY_ROLE = (1n << 10n) - 1n;

/** The standard dispute fallback: 30 days, then half of the contested value to the seller (ADR 0008). */
export const DISPUTE = { timeout: 30 * DAY, defaultShareBps: 5_000 } as const;

/** A sale the provenance registry recorded, as deliver names it. */
export interface Sale {
  batchId: string;
  index: bigint;
}

/**
 * `by` (an agent of the receiving organisation) accepts the pending offer of `batchId` at `gln`:
 * the one place the settlement tests accept hand-overs (accepting is about to name what it
 * accepts). Returns the batch that changed hands and the sale recorded, if ownership passed.
 */
export async function acceptOffer(provenance: ProvenanceRegistry, by: Signer, batchId: string, gln: string): Promise<{ moved: string; sale: Sale | null }> {
  const terms = await offered(provenance, batchId);
  const moved = await provenance.connect(by).accept.staticCall(...terms, gln);
  const receipt = (await (await provenance.connect(by).accept(...terms, gln)).wait())!;
  return { moved, sale: saleIn(provenance, receipt.logs) };
}

/** The sale an OwnershipTransferred log among `logs` records (null: none). */
export function saleIn(provenance: ProvenanceRegistry, logs: readonly { topics: readonly string[]; data: string }[]): Sale | null {
  for (const log of logs) {
    const parsed = provenance.interface.parseLog({ topics: [...log.topics], data: log.data });
    if (parsed?.name === "OwnershipTransferred") return { batchId: parsed.args.batchId as string, index: parsed.args.index as bigint };
  }
  return null;
}

/** GS1 company prefixes: a DE cheese dairy, an FR retailer, an FR auditor, an IT retailer, an SE auditor. */
export const PREFIX = {
  seller: "4012345",
  buyer: "3760123",
  arbiter: "3012345",
  otherBuyer: "8012345",
  otherAuditor: "7312345",
} as const;
export type OrgKey = keyof typeof PREFIX;

export const NAME: Record<OrgKey, string> = {
  seller: "Alpenkaeserei Allgaeu",
  buyer: "Marche Frais",
  arbiter: "Bureau Controle Bio",
  otherBuyer: "Supermercati Uniti",
  otherAuditor: "Nordic Organic Control",
};

/** Business roles governance allows each organisation; its agent holds all of them. */
export const ALLOWED: Record<OrgKey, bigint> = {
  seller: rolesToMask(["producer", "processor"]),
  buyer: rolesToMask(["buyer", "receiver"]),
  arbiter: rolesToMask(["auditor"]),
  otherBuyer: rolesToMask(["buyer", "receiver"]),
  otherAuditor: rolesToMask(["auditor"]),
};

/** One location per organisation that handles goods: the dairy, the retailer's warehouse, the other retailer's. */
export const GLN = {
  seller: glnFor(PREFIX.seller, 1),
  buyer: glnFor(PREFIX.buyer, 1),
  otherBuyer: glnFor(PREFIX.otherBuyer, 1),
} as const;

/** A quantity in the registry's fixed point (3 decimals): qty(200) is 200 kg. */
export function qty(amount: string | number): bigint {
  return parseUnits(String(amount), 3);
}

/** An amount of LEUR (2 decimals): eur("8.40") is 840 base units. */
export function eur(amount: string | number): bigint {
  return parseUnits(String(amount), 2);
}

export function digest(text: string): string {
  return keccak256(toUtf8Bytes(text));
}

/** keccak256(abi.encode(uint64 gtin, string lot)): a lot's id (and its first portion's). */
export function lotIdOf(gtin: bigint, lot: string): string {
  return keccak256(AbiCoder.defaultAbiCoder().encode(["uint64", "string"], [gtin, lot]));
}

/** keccak256(abi.encode(bytes32 parent, uint32 index)): the index-th portion split off `parent`. */
export function portionIdOf(parent: string, index: number): string {
  return keccak256(AbiCoder.defaultAbiCoder().encode(["bytes32", "uint32"], [parent, index]));
}

/** The seller's products: the one ordered, and another one to deliver by mistake. */
export const PRODUCT = {
  /** Bergkäse in 40 kg wheels, sold by the kilogram. */
  cheese: { gtin: BigInt(gtinDigits(PREFIX.seller, 1)), unit: unitToBytes3("KGM"), masterData: digest("Bergkaese, 12 Monate") },
  /** Alpine butter, kilograms. */
  butter: { gtin: BigInt(gtinDigits(PREFIX.seller, 2)), unit: unitToBytes3("KGM"), masterData: digest("Alpbutter, 82 % Fett") },
} as const;
export type ProductKey = keyof typeof PRODUCT;

/** The seller's lots, registered at the dairy. */
export const LOT = {
  cheeseA: { product: "cheese", lot: "K2404-01", quantity: qty(200) },
  cheeseB: { product: "cheese", lot: "K2404-02", quantity: qty(200) },
  cheeseC: { product: "cheese", lot: "K2404-03", quantity: qty(100) },
  cheeseD: { product: "cheese", lot: "K2404-04", quantity: qty(150) },
  /** Stays at the dairy in the delivery fixtures. */
  cheeseE: { product: "cheese", lot: "K2404-05", quantity: qty(50) },
  butter: { product: "butter", lot: "B2404-01", quantity: qty(60) },
} as const satisfies Record<string, { product: ProductKey; lot: string; quantity: bigint }>;
export type LotKey = keyof typeof LOT;

/** The standard order: 500 kg of cheese at 8.40 EUR/kg (4,200.00 EUR), three days to inspect. */
export const ORDER = {
  quantity: qty(500),
  pricePerUnit: eur("8.40"),
  inspectionWindow: 3 * DAY,
  /** Days from the fixture's deployment to the delivery deadline. */
  deadlineDays: 30,
  termsHash: digest("Rahmenvertrag 2024/17, Incoterms DAP Lyon"),
} as const;

/** What the buyer's wallet starts with. */
export const BUYER_FUNDS = eur(100_000);

export type OrderTerms = ISettlementEscrow.OrderTermsStruct;

/**
 * A Lotline deployment governed by the deployer with five organisations: a seller (producer and
 * processor, with a prefix and a GLN) whose cheese and butter are registered with lots at its
 * dairy, a buyer (buyer and receiver, with a GLN), an arbiter (auditor), a second buyer and a
 * second auditor (to be the wrong party); one agent each holding every role its organisation may
 * and the treasury role, plus a receiving clerk of the buyer without the buyer role, an outsider
 * and a relayer. The seller's and the buyer's admins set their payout addresses (`payouts`). The
 * buyer's agent holds 100,000.00 LEUR minted by the deployer (the token's admin and minter).
 */
export async function settlementFixture() {
  const signers = await hre.ethers.getSigners();
  const [governor, sellerAdmin, buyerAdmin, arbiterAdmin, otherBuyerAdmin, otherAuditorAdmin] = signers;
  const [sellerAgent, buyerAgent, arbiterAgent, otherBuyerAgent, otherAuditorAgent, buyerClerk, outsider, relayer] =
    signers.slice(6);
  const spare = signers.slice(14, 18);
  /** Where each party's organisation is paid when its treasury withdraws. */
  const payouts = { seller: signers[18], buyer: signers[19] };
  const record = await deployLotline(governor);
  const contracts = connectLotline(record, governor);
  const { registry, provenance, escrow, token } = contracts;

  const admins: Record<OrgKey, HardhatEthersSigner> = {
    seller: sellerAdmin,
    buyer: buyerAdmin,
    arbiter: arbiterAdmin,
    otherBuyer: otherBuyerAdmin,
    otherAuditor: otherAuditorAdmin,
  };
  const agents: Record<OrgKey, HardhatEthersSigner> = {
    seller: sellerAgent,
    buyer: buyerAgent,
    arbiter: arbiterAgent,
    otherBuyer: otherBuyerAgent,
    otherAuditor: otherAuditorAgent,
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
    // Each organisation's agent also holds the treasury role (allowed to every organisation).
    await bindAgent(registry, admins[key], agents[key], orgs[key], ALLOWED[key] | ROLE.treasury);
  }
  for (const key of Object.keys(GLN) as (keyof typeof GLN)[]) {
    await (await registry.connect(admins[key]).addLocation(orgs[key], GLN[key])).wait();
  }
  await bindAgent(registry, buyerAdmin, buyerClerk, orgs.buyer, ROLE.receiver);
  await (await escrow.connect(sellerAdmin).setPayoutAddress(payouts.seller.address)).wait();
  await (await escrow.connect(buyerAdmin).setPayoutAddress(payouts.buyer.address)).wait();

  for (const key of Object.keys(PRODUCT) as ProductKey[]) {
    const { gtin, unit, masterData } = PRODUCT[key];
    await (await provenance.connect(sellerAgent).registerProduct(gtin, unit, masterData)).wait();
  }
  const lotIds = {} as Record<LotKey, string>;
  const lots = (Object.keys(LOT) as LotKey[]).map((key) => {
    const { product, lot, quantity } = LOT[key];
    lotIds[key] = lotIdOf(PRODUCT[product].gtin, lot);
    return { gtin: PRODUCT[product].gtin, lot, quantity, gln: GLN.seller, metadataHash: digest(lot) };
  });
  await (await provenance.connect(sellerAgent).registerLots(lots)).wait();

  await (await token.connect(governor).mint(buyerAgent.address, BUYER_FUNDS)).wait();

  const deadline = BigInt(await time.latest()) + BigInt(ORDER.deadlineDays * DAY);
  const escrowAddress = await escrow.getAddress();
  const tokenAddress = await token.getAddress();

  /** The standard order's terms, with the arbiter, changed by `overrides`. */
  function terms(overrides: Partial<OrderTerms> = {}): OrderTerms {
    return {
      seller: orgs.seller,
      arbiter: orgs.arbiter,
      token: tokenAddress,
      gtin: PRODUCT.cheese.gtin,
      quantity: ORDER.quantity,
      pricePerUnit: ORDER.pricePerUnit,
      deliveryDeadline: deadline,
      inspectionWindow: ORDER.inspectionWindow,
      disputeTimeout: DISPUTE.timeout,
      defaultSellerShareBps: DISPUTE.defaultShareBps,
      termsHash: ORDER.termsHash,
      ...overrides,
    };
  }

  /** The token value of `quantity` at the standard price (the escrow's valueOf, rounded down). */
  function valueAt(quantity: bigint, pricePerUnit: bigint = ORDER.pricePerUnit): bigint {
    return (quantity * pricePerUnit) / 1000n;
  }

  /**
   * The escrow's valueOf(orderId, quantity). ethers resolves `escrow.valueOf` to
   * Object.prototype.valueOf (which returns the contract), so the function is looked up by name.
   */
  async function orderValue(orderId: bigint, quantity: bigint): Promise<bigint> {
    return escrow.getFunction("valueOf(uint256,uint128)").staticCall(orderId, quantity) as Promise<bigint>;
  }

  /** The buyer's agent (or `by`) creates an order; returns its id. */
  async function createOrder(overrides: Partial<OrderTerms> = {}, by: Signer = buyerAgent): Promise<bigint> {
    const t = terms(overrides);
    const orderId = await escrow.connect(by).createOrder.staticCall(t);
    await (await escrow.connect(by).createOrder(t)).wait();
    return orderId;
  }

  /** Approves the escrow for the order's value and funds it from `by`'s wallet. */
  async function fund(orderId: bigint, by: Signer = buyerAgent): Promise<void> {
    const o = await escrow.order(orderId);
    const amount = await orderValue(orderId, o.quantity);
    await (await token.connect(by).approve(escrowAddress, amount)).wait();
    await (await escrow.connect(by).fund(orderId)).wait();
  }

  /** Creates and funds an order; returns its id. */
  async function fundedOrder(overrides: Partial<OrderTerms> = {}): Promise<bigint> {
    const orderId = await createOrder(overrides);
    await fund(orderId);
    return orderId;
  }

  /**
   * `from` (default: the seller) offers `quantity` (default: all) of a batch to `to` (default: the
   * buyer), custody and ownership unless `kind` says otherwise; the receiver's agent accepts at its
   * warehouse. Returns the sale recorded (the batch that changed hands: the batch itself, or the
   * portion split off it, and the sale's index); for a custody-only hand-over, index -1.
   */
  async function handOver(
    batchId: string,
    quantity?: bigint,
    to: OrgKey = "buyer",
    from: OrgKey = "seller",
    kind: number = Kind.Both,
  ): Promise<Sale> {
    const amount = quantity ?? (await provenance.batch(batchId)).quantity;
    await (await provenance.connect(agents[from]).offer(batchId, amount, orgs[to], kind)).wait();
    const { moved, sale } = await acceptOffer(provenance, agents[to], batchId, GLN[to as keyof typeof GLN] ?? "");
    return sale ?? { batchId: moved, index: -1n };
  }

  /** The seller's agent (or `by`) records the delivery of `sales` against the order. */
  async function deliver(orderId: bigint, sales: Sale[], by: Signer = sellerAgent): Promise<void> {
    await (await escrow.connect(by).deliver(orderId, sales)).wait();
  }

  /** An ERC-2612 permit by `owner` letting the escrow take `value` of LEUR, as fundWithPermit takes it. */
  async function signPermit(owner: Signer, value: bigint, permitDeadline: bigint, t: ConsortiumToken = token) {
    const domain = await t.eip712Domain();
    const ownerAddress = await owner.getAddress();
    const signature = await owner.signTypedData(
      { name: domain.name, version: domain.version, chainId: domain.chainId, verifyingContract: domain.verifyingContract },
      {
        Permit: [
          { name: "owner", type: "address" },
          { name: "spender", type: "address" },
          { name: "value", type: "uint256" },
          { name: "nonce", type: "uint256" },
          { name: "deadline", type: "uint256" },
        ],
      },
      { owner: ownerAddress, spender: escrowAddress, value, nonce: await t.nonces(ownerAddress), deadline: permitDeadline },
    );
    const { v, r, s } = Signature.from(signature);
    return { v, r, s, deadline: permitDeadline };
  }

  return {
    record,
    ...contracts,
    escrowAddress,
    tokenAddress,
    orgs,
    admins,
    agents,
    governor,
    payouts,
    buyerClerk,
    outsider,
    relayer,
    /** Unbound accounts. */
    spare,
    lotIds,
    deadline,
    terms,
    valueAt,
    orderValue,
    createOrder,
    fund,
    fundedOrder,
    handOver,
    deliver,
    signPermit,
  };
}
export type SettlementFixture = Awaited<ReturnType<typeof settlementFixture>>;

/** The standard order created by the buyer (id 1), not funded. */
export async function createdOrderFixture() {
  const f = await loadFixture(settlementFixture);
  const orderId = await f.createOrder();
  return { ...f, orderId };
}

/**
 * The standard order funded (4,200.00 LEUR in escrow), then cheese lots A–D (200 + 200 + 100 +
 * 150 kg) and the butter lot sold to the buyer (custody and ownership; `sales` names each sale);
 * lot E still at the dairy. Nothing delivered.
 */
export async function fundedOrderFixture() {
  const f = await loadFixture(createdOrderFixture);
  await f.fund(f.orderId);
  const sales = {} as Record<"cheeseA" | "cheeseB" | "cheeseC" | "cheeseD" | "butter", Sale>;
  for (const key of ["cheeseA", "cheeseB", "cheeseC", "cheeseD", "butter"] as const) sales[key] = await f.handOver(f.lotIds[key]);
  return { ...f, sales };
}

/** The funded order with lot A (200 of 500 kg) delivered: inspection runs until `inspectionEnds`. */
export async function partlyDeliveredFixture() {
  const f = await loadFixture(fundedOrderFixture);
  await f.deliver(f.orderId, [f.sales.cheeseA]);
  const inspectionEnds = (await f.escrow.order(f.orderId)).inspectionEnds;
  return { ...f, inspectionEnds };
}

/** The funded order with lots A, B and C (the whole 500 kg) delivered in one call. */
export async function fullyDeliveredFixture() {
  const f = await loadFixture(fundedOrderFixture);
  await f.deliver(f.orderId, [f.sales.cheeseA, f.sales.cheeseB, f.sales.cheeseC]);
  const inspectionEnds = (await f.escrow.order(f.orderId)).inspectionEnds;
  return { ...f, inspectionEnds };
}
