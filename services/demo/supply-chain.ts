import {
  encodeBytes32String,
  id as keccakText,
  keccak256,
  Signature,
  type ContractTransactionReceipt,
  type ContractTransactionResponse,
  type JsonRpcProvider,
} from "ethers";
import type { LotlineContracts } from "../chain/deploy";
import type { Db } from "../store/db";
import { glnFor, gtinFor, ssccFor } from "../gs1/keys";
import { masterDataHash, storeProductMasterData, type ProductMasterData } from "../provenance/products";
import { parseQuantity, unitToBytes3 } from "../provenance/quantity";
import { HANDOVER_KINDS, pendingTerms, signAcceptance } from "../provenance/acceptance";
import { DEMO_MEMBERS, demoWallet, GOVERNOR_ACCOUNT } from "./roster";
import { DAY, type DemoClock } from "./clock";
import { DISPUTE_DEFAULTS } from "../settlement/terms";
import { seedDemoEpcis } from "./epcis-seed";
import { demoTermsDocument } from "./order-terms";

/**
 * The demo's goods: a dairy chain five levels deep on the demo roster.
 *
 *   raw milk lots A, B (farm)  ─MERGE→  pooled milk  ─PROCESS→  cream, skim milk
 *   cream portion (to the cheese maker)  ─PROCESS→  butter  ─(logistic unit, carrier, distributor)→
 *   butter portions at the retailer's stores
 *
 * with partial hand-overs (12,000 of 20,000 l of lot A; 2,000 l of cream; butter to two stores),
 * custody apart from ownership (the carrier holds milk the processor owns), an EIP-712 one-call
 * hand-over, a logistic unit (SSCC), a temperature observation, and a recall of raw milk lot B
 * ("antibiotic residue") that the node's propagator carries down to the butter on the shelves.
 */
const member = (key: string) => DEMO_MEMBERS.find((m) => m.key === key)!;
const org = (key: string) => BigInt(DEMO_MEMBERS.indexOf(member(key)) + 1);
const prefix = (key: string) => member(key).companyPrefixes[0];
const gln = (key: string, ref = 1) => glnFor(prefix(key), ref);

export const DEMO_GOODS = {
  rawMilk: gtinFor(prefix("producer"), 1),
  pooledMilk: gtinFor(prefix("processor"), 10),
  cream: gtinFor(prefix("processor"), 11),
  skimMilk: gtinFor(prefix("processor"), 12),
  butter: gtinFor(prefix("processor2"), 20),
  butterUnit: ssccFor(prefix("processor2"), 1),
  recalledLot: { gtin: gtinFor(prefix("producer"), 1), lot: "MILK-2611-B" },
};

/**
 * The demo's products. `net` is the net content per unit registered with the product (mass per
 * litre here), through which mass balance compares litres of milk and cream with kilograms of butter.
 */
const PRODUCTS: Record<string, { maker: string; net?: { unit: string; perUnit: string }; data: Omit<ProductMasterData, "gtin"> }> = {
  [DEMO_GOODS.rawMilk]: {
    maker: "producer",
    net: { unit: "KGM", perUnit: "1.030" },
    data: { name: "Raw cow's milk, organic", unit: "LTR", storageTemperature: { minCelsius: 2, maxCelsius: 6 }, shelfLifeDays: 3, countryOfOrigin: "DE" },
  },
  [DEMO_GOODS.pooledMilk]: {
    maker: "processor",
    net: { unit: "KGM", perUnit: "1.030" },
    data: { name: "Pooled raw milk", unit: "LTR", storageTemperature: { minCelsius: 2, maxCelsius: 6 }, shelfLifeDays: 2, countryOfOrigin: "BE" },
  },
  [DEMO_GOODS.cream]: {
    maker: "processor",
    net: { unit: "KGM", perUnit: "1.010" },
    data: { name: "Sweet cream 35% fat", unit: "LTR", storageTemperature: { minCelsius: 2, maxCelsius: 6 }, shelfLifeDays: 10, countryOfOrigin: "BE" },
  },
  [DEMO_GOODS.skimMilk]: {
    maker: "processor",
    net: { unit: "KGM", perUnit: "1.035" },
    data: { name: "Skimmed milk", unit: "LTR", storageTemperature: { minCelsius: 2, maxCelsius: 6 }, shelfLifeDays: 7, countryOfOrigin: "BE" },
  },
  [DEMO_GOODS.butter]: {
    maker: "processor2",
    data: {
      name: "Beurre de baratte doux, 250 g",
      unit: "KGM",
      brand: "Lyon Fromagerie",
      storageTemperature: { minCelsius: 0, maxCelsius: 8 },
      shelfLifeDays: 60,
      countryOfOrigin: "FR",
    },
  },
};

/**
 * Stores the demo products' master data for the makers `serves` names (every maker by default),
 * queued for anchoring by their own keys: each member node keeps its own organisations' records.
 * With them, the EPCIS events those organisations captured along the demo's chain (epcis-seed.ts;
 * they need the demo's batches indexed). Idempotent.
 */
export function seedDemoMasterData(db: Db, serves: (orgId: number) => boolean = () => true): number {
  let stored = 0;
  for (const [gtin, { maker, data }] of Object.entries(PRODUCTS)) {
    if (!serves(Number(org(maker)))) continue;
    storeProductMasterData(db, { gtin, ...data }, demoWallet(member(maker).account).address, Number(org(maker)));
    stored++;
  }
  seedDemoEpcis(db, DEMO_GOODS, serves);
  return stored;
}

export async function seedSupplyChain(
  provider: JsonRpcProvider,
  contracts: LotlineContracts,
  clock: DemoClock,
  progress: (message: string) => void = () => undefined,
): Promise<void> {
  const wallet = (key: string) => demoWallet(member(key).account, provider);
  const as = (key: string) => contracts.provenance.connect(wallet(key));
  const send = async (tx: Promise<ContractTransactionResponse>) => (await (await tx).wait())!;
  const q = parseQuantity;
  const hash = (text: string) => keccakText(text);
  const days = (n: number) => clock.advance(n * DAY);
  const orders = createDemoOrders(provider, contracts, clock);

  await days(18);
  progress("registering the demo's products");
  for (const [gtin, { maker, net, data }] of Object.entries(PRODUCTS)) {
    const document = { gtin, ...data };
    // Each maker's master data is kept by its own node (seedDemoMasterData); the chain has its hash.
    const masterHash = masterDataHash(document);
    if (net) {
      await send(
        as(maker).registerProductWithNetContent(BigInt(gtin), unitToBytes3(data.unit), unitToBytes3(net.unit), q(net.perUnit), masterHash),
      );
    } else await send(as(maker).registerProduct(BigInt(gtin), unitToBytes3(data.unit), masterHash));
  }
  await orders.fundBuyers(["processor", "processor2", "distributor", "retailer"]);
  // Each trading member is paid to its own wallet; its wallet also holds the treasury role (seed.ts).
  await orders.setPayoutAddresses(["producer", "processor", "processor2", "distributor", "retailer"]);

  progress("registering raw milk lots at the farm");
  const lot = (gtin: string, lotNumber: string, quantity: string, at: string) => ({
    gtin: BigInt(gtin),
    lot: lotNumber,
    quantity: q(quantity),
    gln: at,
    metadataHash: hash(`${gtin}/${lotNumber}`),
  });
  await days(2);
  await send(
    as("producer").registerLots([
      lot(DEMO_GOODS.rawMilk, "MILK-2611-A", "20000", gln("producer", 1)),
      lot(DEMO_GOODS.rawMilk, "MILK-2611-B", "15000", gln("producer", 2)),
    ]),
  );
  const lotA = await contracts.provenance.lotId(BigInt(DEMO_GOODS.rawMilk), "MILK-2611-A");
  const lotB = await contracts.provenance.lotId(BigInt(DEMO_GOODS.rawMilk), "MILK-2611-B");

  // An order nobody delivers: refunded after its deadline.
  const skimOrder = await orders.place("distributor", "processor", DEMO_GOODS.skimMilk, "10000", 35n, 9, 2 * DAY, "auditor");
  await orders.fund("distributor", skimOrder);

  await days(1);
  progress("moving 12,000 l of lot A: custody to the carrier, ownership to the dairy");
  await send(as("producer").offer(lotA, q("12000"), org("carrier"), HANDOVER_KINDS.custody));
  await send(as("carrier").accept(...(await pendingTerms(contracts.provenance, lotA)), gln("carrier", 1)));
  const portionA = await contracts.provenance.portionId(lotA, 0);
  await clock.advance(6 * 3600);
  await send(
    as("carrier").observe(
      portionA,
      hash("epcis:transporting:portionA"),
      encodeBytes32String("transporting"),
      gln("carrier", 1),
      hash("temperature 3.1–4.4 °C, 212 readings"),
    ),
  );
  await send(as("producer").offer(portionA, q("12000"), org("processor"), HANDOVER_KINDS.ownership));
  await send(as("processor").accept(...(await pendingTerms(contracts.provenance, portionA)), ""));
  await send(as("carrier").offer(portionA, q("12000"), org("processor"), HANDOVER_KINDS.custody));
  await send(as("processor").accept(...(await pendingTerms(contracts.provenance, portionA)), gln("processor", 1)));

  progress("handing over lot B in one call with the dairy's EIP-712 acceptance");
  const deadline = BigInt((await clock.chainTime()) + 3600);
  const { acceptance, signature } = await signAcceptance(wallet("processor"), contracts.provenance, {
    batchId: lotB,
    quantity: q("15000"),
    from: org("producer"),
    to: org("processor"),
    kind: HANDOVER_KINDS.both,
    gln: gln("processor", 1),
    deadline,
  });
  await send(as("producer").handOverWithAcceptance(acceptance, signature));

  await days(1);
  progress("merging and processing milk at the dairy");
  const pooled = lot(DEMO_GOODS.pooledMilk, "POOL-2611", "27000", gln("processor", 1));
  await send(as("processor").transform(encodeBytes32String("MERGE"), [portionA, lotB], [q("12000"), q("15000")], [pooled], hash("merge tank 3")));
  const pooledId = await contracts.provenance.lotId(BigInt(DEMO_GOODS.pooledMilk), "POOL-2611");
  const cream = lot(DEMO_GOODS.cream, "CRM-2611", "3000", gln("processor", 1));
  const skim = lot(DEMO_GOODS.skimMilk, "SKM-2611", "23500", gln("processor", 1));
  await send(as("processor").transform(encodeBytes32String("PROCESS"), [pooledId], [q("27000")], [cream, skim], hash("separator run 2611-1")));
  const creamId = await contracts.provenance.lotId(BigInt(DEMO_GOODS.cream), "CRM-2611");

  await days(1);
  progress("selling 2,000 l of cream to the cheese maker (escrow funded with a permit), churning butter");
  const creamOrder = await orders.place("processor2", "processor", DEMO_GOODS.cream, "2000", 320n, 5, 60 * DAY, "auditor");
  await orders.fundWithPermit("processor2", creamOrder);
  await send(as("processor").offer(creamId, q("2000"), org("processor2"), HANDOVER_KINDS.both));
  const creamSale = orders.saleIn(await send(as("processor2").accept(...(await pendingTerms(contracts.provenance, creamId)), gln("processor2", 1))));
  const creamPortion = await contracts.provenance.portionId(creamId, 0);
  await orders.deliver("processor", creamOrder, [creamSale]);
  await days(1);
  const butter = lot(DEMO_GOODS.butter, "BTR-2611", "900", gln("processor2", 1));
  await send(as("processor2").transform(encodeBytes32String("PROCESS"), [creamPortion], [q("2000")], [butter], hash("churn 7, batch 2611")));
  const butterId = await contracts.provenance.lotId(BigInt(DEMO_GOODS.butter), "BTR-2611");

  await days(2);
  progress("shipping butter on a pallet (SSCC) through the carrier to the distributor");
  const units = (key: string) => contracts.units.connect(wallet(key));
  await send(units("processor2").pack(DEMO_GOODS.butterUnit, [butterId]));
  await send(units("processor2").offerUnit(DEMO_GOODS.butterUnit, org("carrier")));
  await send(units("carrier").acceptUnit(DEMO_GOODS.butterUnit, await contracts.units.contentsHash(DEMO_GOODS.butterUnit), gln("carrier", 2)));
  await days(1);
  await send(units("carrier").offerUnit(DEMO_GOODS.butterUnit, org("distributor")));
  await send(units("distributor").acceptUnit(DEMO_GOODS.butterUnit, await contracts.units.contentsHash(DEMO_GOODS.butterUnit), gln("distributor", 1)));
  await send(units("distributor").unpack(DEMO_GOODS.butterUnit));
  await send(as("processor2").offer(butterId, q("900"), org("distributor"), HANDOVER_KINDS.ownership));
  await send(as("distributor").accept(...(await pendingTerms(contracts.provenance, butterId)), ""));

  await days(1);
  progress("delivering butter to two stores against escrowed orders");
  const storeOneOrder = await orders.place("retailer", "distributor", DEMO_GOODS.butter, "300", 980n, 6, 3 * DAY, "auditor");
  await orders.fund("retailer", storeOneOrder);
  await send(as("distributor").offer(butterId, q("300"), org("retailer"), HANDOVER_KINDS.both));
  const storeOneSale = orders.saleIn(await send(as("retailer").accept(...(await pendingTerms(contracts.provenance, butterId)), gln("retailer", 1))));
  await orders.deliver("distributor", storeOneOrder, [storeOneSale]);

  const storeTwoOrder = await orders.place("retailer", "distributor", DEMO_GOODS.butter, "200", 980n, 6, 5 * DAY, "auditor");
  await orders.fund("retailer", storeTwoOrder);
  await days(1);
  await send(as("distributor").offer(butterId, q("200"), org("retailer"), HANDOVER_KINDS.both));
  const storeTwoSale = orders.saleIn(await send(as("retailer").accept(...(await pendingTerms(contracts.provenance, butterId)), gln("retailer", 2))));
  await orders.deliver("distributor", storeTwoOrder, [storeTwoSale]);
  await clock.advance(8 * 3600);
  await orders.reject("retailer", storeTwoOrder, "50", "12 cartons with torn wrapping on arrival (photos in the claim)");

  await days(4);
  progress("store one's inspection window is over: paying the distributor");
  await orders.release(storeOneOrder);
  await orders.withdraw("distributor");
  progress("the skim milk order's deadline passed undelivered: refunding");
  await orders.refund(skimOrder);
  await orders.withdraw("distributor");

  await days(10);
  progress("recalling raw milk lot B");
  await send(as("producer").recall(lotB, "antibiotic residue above the MRL in the farm's retained sample"));

  await days(3);
  progress("selling 5,000 l of lot A's remaining milk to the dairy (inspection running)");
  const milkOrder = await orders.place("processor", "producer", DEMO_GOODS.rawMilk, "5000", 48n, 10, 14 * DAY, "auditor");
  await orders.fund("processor", milkOrder);
  await send(as("producer").offer(lotA, q("5000"), org("processor"), HANDOVER_KINDS.both));
  const milkSale = orders.saleIn(await send(as("processor").accept(...(await pendingTerms(contracts.provenance, lotA)), gln("processor", 2))));
  await orders.deliver("producer", milkOrder, [milkSale]);

  await days(1);
  progress("a new butter order, funded, awaiting delivery");
  const nextOrder = await orders.place("retailer", "processor2", DEMO_GOODS.butter, "500", 975n, 25, 3 * DAY, "auditor");
  await orders.fund("retailer", nextOrder);

  // Buyers see their suppliers' production runs and EPCIS events for the lots they bought (and what was made
  // from them), for a year: lot-scoped grants, as trading partners would make them.
  progress("suppliers share their records of the lots they sold with their buyers");
  const expiry = (await provider.getBlock("latest"))!.timestamp + 365 * 86_400;
  const shares: [string, string, string][] = [
    ["producer", "processor", lotA],
    ["producer", "processor", lotB],
    ["processor", "processor2", creamId],
    ["processor2", "retailer", butterId],
    ["processor2", "distributor", butterId],
  ];
  for (const [grantor, grantee, lotId] of shares) {
    await send(contracts.sharing.connect(wallet(grantor)).grant(org(grantee), SHARED_WITH_BUYERS, LOT_SCOPE, lotId, expiry));
  }
}

/** SharingRegistry record classes EPCIS | PRODUCTION_RUN, and its "lot and everything made from it" scope. */
const SHARED_WITH_BUYERS = 1 | 2;
const LOT_SCOPE = 2;

/** Escrowed purchase orders of the demo, placed and settled by its members' own wallets. */
function createDemoOrders(provider: JsonRpcProvider, contracts: LotlineContracts, clock: DemoClock) {
  const wallet = (key: string) => demoWallet(member(key).account, provider);
  const escrow = (key: string) => contracts.escrow.connect(wallet(key));
  const send = async (tx: Promise<ContractTransactionResponse>) => (await (await tx).wait())!;
  const amountOf = async (orderId: bigint) => {
    const o = await contracts.escrow.order(orderId);
    return (o.quantity * o.pricePerUnit) / 1000n;
  };
  return {
    /** The consortium mints settlement euros (2 decimals) to the buyers' wallets. */
    async fundBuyers(keys: string[]) {
      const minter = contracts.token.connect(demoWallet(GOVERNOR_ACCOUNT, provider));
      for (const key of keys) await send(minter.mint(wallet(key).address, 1_000_000_00n));
    },
    async place(buyer: string, seller: string, gtin: string, quantity: string, pricePerUnit: bigint, deadlineDays: number, inspection: number, arbiter: string) {
      const now = await clock.chainTime();
      const deliveryDeadline = now + deadlineDays * DAY;
      // The buyer's terms document (kept off-chain by its node, order-terms.ts): the order records its keccak256.
      const terms = demoTermsDocument({
        buyerOrg: Number(org(buyer)),
        sellerOrg: Number(org(seller)),
        arbiterOrg: Number(org(arbiter)),
        gtin,
        quantity: parseQuantity(quantity),
        unit: PRODUCTS[gtin].data.unit,
        pricePerUnit,
        deliveryDeadline,
        inspectionWindow: inspection,
      });
      const receipt = await send(
        escrow(buyer).createOrder({
          seller: org(seller),
          arbiter: org(arbiter),
          token: await contracts.token.getAddress(),
          gtin: BigInt(gtin),
          quantity: parseQuantity(quantity),
          pricePerUnit,
          deliveryDeadline: BigInt(deliveryDeadline),
          inspectionWindow: inspection,
          disputeTimeout: DISPUTE_DEFAULTS.timeoutSeconds,
          defaultSellerShareBps: DISPUTE_DEFAULTS.sellerShareBps,
          termsHash: keccak256(terms),
        }),
      );
      const created = receipt.logs.map((l) => contracts.escrow.interface.parseLog(l)).find((l) => l?.name === "OrderCreated");
      return created!.args.orderId as bigint;
    },
    async fund(buyer: string, orderId: bigint) {
      await send(contracts.token.connect(wallet(buyer)).approve(await contracts.escrow.getAddress(), await amountOf(orderId)));
      await send(escrow(buyer).fund(orderId));
    },
    /** Funding with an ERC-2612 permit: the buyer signs, so the call could be relayed. */
    async fundWithPermit(buyer: string, orderId: bigint) {
      const owner = wallet(buyer);
      const value = await amountOf(orderId);
      const deadline = BigInt((await clock.chainTime()) + 3600);
      const domain = await contracts.token.eip712Domain();
      const signature = Signature.from(
        await owner.signTypedData(
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
          { owner: owner.address, spender: await contracts.escrow.getAddress(), value, nonce: await contracts.token.nonces(owner.address), deadline },
        ),
      );
      await send(escrow(buyer).fundWithPermit(orderId, deadline, signature.v, signature.r, signature.s));
    },
    /** The sale a hand-over's acceptance recorded (its OwnershipTransferred log). */
    saleIn(receipt: ContractTransactionReceipt): { batchId: string; index: bigint } {
      for (const log of receipt.logs) {
        const parsed = contracts.provenance.interface.parseLog(log);
        if (parsed?.name === "OwnershipTransferred") return { batchId: parsed.args.batchId as string, index: parsed.args.index as bigint };
      }
      throw new Error(`no sale recorded in ${receipt.hash}`);
    },
    async deliver(seller: string, orderId: bigint, sales: { batchId: string; index: bigint }[]) {
      await send(escrow(seller).deliver(orderId, sales));
    },
    /** Each member's org admin (its wallet) has the escrow pay the organisation to that wallet. */
    async setPayoutAddresses(keys: string[]) {
      for (const key of keys) {
        if ((await contracts.escrow.payoutAddress(org(key))) === wallet(key).address) continue;
        await send(escrow(key).setPayoutAddress(wallet(key).address));
      }
    },
    async reject(buyer: string, orderId: bigint, quantity: string, reason: string) {
      await send(escrow(buyer).reject(orderId, parseQuantity(quantity), reason));
    },
    async release(orderId: bigint) {
      await send(escrow("carrier").release(orderId));
    },
    async refund(orderId: bigint) {
      await send(escrow("carrier").refund(orderId));
    },
    async withdraw(account: string) {
      await send(escrow(account).withdraw(await contracts.token.getAddress()));
    },
  };
}
