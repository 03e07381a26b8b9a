import { encodeBytes32String, id as keccakText, type ContractTransactionResponse, type Provider } from "ethers";
import type { LotlineContracts } from "../chain/deploy";
import type { Db } from "../store/db";
import { glnFor, gtinFor, ssccFor } from "../gs1/keys";
import { storeProductMasterData, type ProductMasterData } from "../provenance/products";
import { parseQuantity, unitToBytes3 } from "../provenance/quantity";
import { HANDOVER_KINDS, signAcceptance } from "../provenance/acceptance";
import { DEMO_MEMBERS, demoWallet } from "./roster";

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

const PRODUCTS: Record<string, { maker: string; data: Omit<ProductMasterData, "gtin"> }> = {
  [DEMO_GOODS.rawMilk]: {
    maker: "producer",
    data: { name: "Raw cow's milk, organic", unit: "LTR", storageTemperature: { minCelsius: 2, maxCelsius: 6 }, shelfLifeDays: 3, countryOfOrigin: "DE" },
  },
  [DEMO_GOODS.pooledMilk]: {
    maker: "processor",
    data: { name: "Pooled raw milk", unit: "LTR", storageTemperature: { minCelsius: 2, maxCelsius: 6 }, shelfLifeDays: 2, countryOfOrigin: "BE" },
  },
  [DEMO_GOODS.cream]: {
    maker: "processor",
    data: { name: "Sweet cream 35% fat", unit: "LTR", storageTemperature: { minCelsius: 2, maxCelsius: 6 }, shelfLifeDays: 10, countryOfOrigin: "BE" },
  },
  [DEMO_GOODS.skimMilk]: {
    maker: "processor",
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

export async function seedSupplyChain(
  provider: Provider,
  contracts: LotlineContracts,
  db: Db,
  progress: (message: string) => void = () => undefined,
): Promise<void> {
  const wallet = (key: string) => demoWallet(member(key).account, provider);
  const as = (key: string) => contracts.provenance.connect(wallet(key));
  const send = async (tx: Promise<ContractTransactionResponse>) => (await (await tx).wait())!;
  const q = parseQuantity;
  const hash = (text: string) => keccakText(text);

  progress("registering the demo's products");
  for (const [gtin, { maker, data }] of Object.entries(PRODUCTS)) {
    const document = { gtin, ...data };
    const masterHash = storeProductMasterData(db, document, wallet(maker).address);
    await send(as(maker).registerProduct(BigInt(gtin), unitToBytes3(data.unit), masterHash));
  }

  progress("registering raw milk lots at the farm");
  const lot = (gtin: string, lotNumber: string, quantity: string, at: string) => ({
    gtin: BigInt(gtin),
    lot: lotNumber,
    quantity: q(quantity),
    gln: at,
    metadataHash: hash(`${gtin}/${lotNumber}`),
  });
  await send(
    as("producer").registerLots([
      lot(DEMO_GOODS.rawMilk, "MILK-2611-A", "20000", gln("producer", 1)),
      lot(DEMO_GOODS.rawMilk, "MILK-2611-B", "15000", gln("producer", 2)),
    ]),
  );
  const lotA = await contracts.provenance.lotId(BigInt(DEMO_GOODS.rawMilk), "MILK-2611-A");
  const lotB = await contracts.provenance.lotId(BigInt(DEMO_GOODS.rawMilk), "MILK-2611-B");

  progress("moving 12,000 l of lot A: custody to the carrier, ownership to the processor");
  await send(as("producer").offer(lotA, q("12000"), org("carrier"), HANDOVER_KINDS.custody));
  await send(as("carrier").accept(lotA, gln("carrier", 1)));
  const portionA = await contracts.provenance.portionId(lotA, 0);
  await send(
    as("carrier").observe(portionA, hash("epcis:transporting:portionA"), encodeBytes32String("transporting"), gln("carrier", 1), hash("temperature 3.1–4.4 °C, 212 readings")),
  );
  await send(as("producer").offer(portionA, q("12000"), org("processor"), HANDOVER_KINDS.ownership));
  await send(as("processor").accept(portionA, ""));
  await send(as("carrier").offer(portionA, q("12000"), org("processor"), HANDOVER_KINDS.custody));
  await send(as("processor").accept(portionA, gln("processor", 1)));

  progress("handing over lot B in one call with the processor's EIP-712 acceptance");
  const deadline = BigInt((await provider.getBlock("latest"))!.timestamp + 3600);
  const { acceptance, signature } = await signAcceptance(wallet("processor"), contracts.provenance, {
    batchId: lotB,
    quantity: q("15000"),
    to: org("processor"),
    kind: HANDOVER_KINDS.both,
    gln: gln("processor", 1),
    deadline,
  });
  await send(as("producer").handOverWithAcceptance(acceptance, signature));

  progress("merging and processing milk at the dairy");
  const pooled = lot(DEMO_GOODS.pooledMilk, "POOL-2611", "27000", gln("processor", 1));
  await send(as("processor").transform(encodeBytes32String("MERGE"), [portionA, lotB], [q("12000"), q("15000")], [pooled], hash("merge tank 3")));
  const pooledId = await contracts.provenance.lotId(BigInt(DEMO_GOODS.pooledMilk), "POOL-2611");
  const cream = lot(DEMO_GOODS.cream, "CRM-2611", "3000", gln("processor", 1));
  const skim = lot(DEMO_GOODS.skimMilk, "SKM-2611", "23500", gln("processor", 1));
  await send(as("processor").transform(encodeBytes32String("PROCESS"), [pooledId], [q("27000")], [cream, skim], hash("separator run 2611-1")));
  const creamId = await contracts.provenance.lotId(BigInt(DEMO_GOODS.cream), "CRM-2611");

  progress("selling 2,000 l of cream to the cheese maker, churning butter");
  await send(as("processor").offer(creamId, q("2000"), org("processor2"), HANDOVER_KINDS.both));
  await send(as("processor2").accept(creamId, gln("processor2", 1)));
  const creamPortion = await contracts.provenance.portionId(creamId, 0);
  const butter = lot(DEMO_GOODS.butter, "BTR-2611", "900", gln("processor2", 1));
  await send(as("processor2").transform(encodeBytes32String("PROCESS"), [creamPortion], [q("2000")], [butter], hash("churn 7, batch 2611")));
  const butterId = await contracts.provenance.lotId(BigInt(DEMO_GOODS.butter), "BTR-2611");

  progress("shipping butter on a pallet (SSCC) through the carrier to the distributor");
  const units = (key: string) => contracts.units.connect(wallet(key));
  await send(units("processor2").pack(DEMO_GOODS.butterUnit, [butterId]));
  await send(units("processor2").offerUnit(DEMO_GOODS.butterUnit, org("carrier")));
  await send(units("carrier").acceptUnit(DEMO_GOODS.butterUnit, gln("carrier", 2)));
  await send(units("carrier").offerUnit(DEMO_GOODS.butterUnit, org("distributor")));
  await send(units("distributor").acceptUnit(DEMO_GOODS.butterUnit, gln("distributor", 1)));
  await send(units("distributor").unpack(DEMO_GOODS.butterUnit));
  await send(as("processor2").offer(butterId, q("900"), org("distributor"), HANDOVER_KINDS.ownership));
  await send(as("distributor").accept(butterId, ""));

  progress("delivering butter to two stores");
  await send(as("distributor").offer(butterId, q("300"), org("retailer"), HANDOVER_KINDS.both));
  await send(as("retailer").accept(butterId, gln("retailer", 1)));
  await send(as("distributor").offer(butterId, q("200"), org("retailer"), HANDOVER_KINDS.both));
  await send(as("retailer").accept(butterId, gln("retailer", 2)));

  progress("recalling raw milk lot B");
  await send(as("producer").recall(lotB, "antibiotic residue above the MRL in the farm's retained sample"));
}
