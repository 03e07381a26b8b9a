/**
 * Gas of every state-changing call of the provenance contracts on Hardhat's network (the pinned
 * EVM target and optimizer settings of hardhat.config.ts), beside an OpenZeppelin ERC-721 mint on
 * the same network, and the EVM floor of a lot registration in the chosen storage layout.
 *
 *   npx hardhat run scripts/gas/measure.ts
 *
 * Prints Markdown: the figures in docs/gas.md come from here, each beside its EVM floor (floorOf).
 * Every call is its own transaction, so each pays its cold storage and account accesses as a real
 * one would.
 */
import hre from "hardhat";
import { encodeBytes32String, getBytes, type ContractTransactionResponse, type TransactionReceipt } from "ethers";
import { ERC721Mock__factory } from "../../typechain-types";
import { settlementFixture } from "../../test/helpers/settlement-fixture";
import { signForwardRequest } from "../../services/relayer/forward-request";
import {
  digest,
  GLN,
  gtinFor,
  Kind,
  LOT,
  lotIdOf,
  newLot,
  portionIdOf,
  PREFIX,
  PRODUCT,
  provenanceFixture,
  qty,
  signAcceptance,
  ssccFor,
  unitCode,
  offered,
} from "../../test/helpers/provenance-fixture";

/** EVM costs (Cancun) the floor is built from. */
const G = {
  transaction: 21_000,
  calldataZero: 4,
  calldataNonZero: 16,
  /** SSTORE of a zero slot to non-zero, cold: 20,000 + 2,100. */
  newSlot: 22_100,
  coldSload: 2_100,
  warmAccess: 100,
  coldAccount: 2_600,
  log: 375,
  logTopic: 375,
  logByte: 8,
};

/** A fixed far deadline (2100-01-01): signatures, and so calldata and gas, are the same on every run. */
const DEADLINE = 4_102_444_800;

interface Row {
  area: string;
  call: string;
  gas: bigint;
  receipt: TransactionReceipt;
}

const rows: Row[] = [];

async function measure(area: string, call: string, sent: Promise<ContractTransactionResponse>): Promise<TransactionReceipt> {
  const receipt = await (await sent).wait();
  if (!receipt || receipt.status !== 1) throw new Error(`${call} failed`);
  rows.push({ area, call, gas: receipt.gasUsed, receipt });
  return receipt;
}

function calldataGas(data: string): number {
  return Array.from(getBytes(data)).reduce((sum, byte) => sum + (byte === 0 ? G.calldataZero : G.calldataNonZero), 0);
}

function logGas(receipt: TransactionReceipt): number {
  return receipt.logs.reduce(
    (sum, log) => sum + G.log + G.logTopic * log.topics.length + G.logByte * getBytes(log.data).length,
    0,
  );
}

interface StructLog {
  op: string;
  depth: number;
  stack?: string[];
}

const word = (hex: string) => BigInt(hex.startsWith("0x") ? hex : `0x${hex}`);
const address = (hex: string) => `0x${word(hex).toString(16).padStart(40, "0").slice(-40)}`;

/**
 * The EVM floor of one measured transaction: what its calldata, its logs and the state it touched
 * cost at EVM prices if execution itself were free — 21,000 base, calldata, 22,100 per slot written
 * from zero, 2,100 per other slot touched (its first, cold access), 2,600 per account reached
 * beyond the sender, the target and the precompiles, and 375 + 375 per topic + 8 per byte per
 * log. Read from the node's own trace (debug_traceTransaction), so it follows the contracts as they
 * are: the gap between a row and its floor is computation (ABI decoding, checks, hashing).
 */
async function floorOf(receipt: TransactionReceipt): Promise<number> {
  const tx = (await hre.ethers.provider.getTransaction(receipt.hash))!;
  const trace = (await hre.network.provider.send("debug_traceTransaction", [receipt.hash, { disableMemory: true, disableStorage: true }])) as {
    structLogs: StructLog[];
  };
  const warm = new Set([tx.from.toLowerCase(), (tx.to ?? "").toLowerCase()]);
  let coldAccounts = 0;
  const touch = (account: string) => {
    if (BigInt(account) < 0x100n || warm.has(account)) return;
    warm.add(account);
    coldAccounts++;
  };
  // Storage context per call depth (a DELEGATECALL runs in its caller's storage).
  const context: string[] = [(tx.to ?? "").toLowerCase()];
  let pending: string | null = null;
  const slots = new Map<string, { account: string; slot: bigint; last: bigint | null }>();
  for (const step of trace.structLogs) {
    if (pending !== null && step.depth === context.length + 1) context.push(pending);
    while (context.length > step.depth) context.pop();
    pending = null;
    const stack = step.stack ?? [];
    const top = (n: number) => stack[stack.length - 1 - n];
    const here = context[context.length - 1];
    switch (step.op) {
      case "CALL":
      case "STATICCALL":
        touch(address(top(1)));
        pending = address(top(1));
        break;
      case "DELEGATECALL":
      case "CALLCODE":
        touch(address(top(1)));
        pending = here;
        break;
      case "EXTCODESIZE":
      case "EXTCODEHASH":
      case "BALANCE":
        touch(address(top(0)));
        break;
      case "SLOAD":
      case "SSTORE": {
        const slot = word(top(0));
        const key = `${here}:${slot}`;
        const entry = slots.get(key) ?? { account: here, slot, last: null };
        if (step.op === "SSTORE") entry.last = word(top(1));
        slots.set(key, entry);
        break;
      }
    }
  }
  let newSlots = 0;
  for (const s of slots.values()) {
    if (s.last === null || s.last === 0n) continue;
    const before = await hre.ethers.provider.getStorage(s.account, s.slot, receipt.blockNumber - 1);
    if (BigInt(before) === 0n) newSlots++;
  }
  return (
    G.transaction +
    calldataGas(tx.data) +
    logGas(receipt) +
    newSlots * G.newSlot +
    (slots.size - newSlots) * G.coldSload +
    coldAccounts * G.coldAccount
  );
}

/** Prints rows with their floor and the ratio measured / floor. */
async function printRows(title: string | null, list: Row[]): Promise<void> {
  if (title) console.log(`\n## ${title}\n`);
  console.log("| area | call | gas | floor | ratio |");
  console.log("|---|---|---:|---:|---:|");
  for (const r of list) {
    const floor = await floorOf(r.receipt);
    console.log(`| ${r.area} | ${r.call} | ${fmt(r.gas)} | ${fmt(floor)} | ${(Number(r.gas) / floor).toFixed(2)} |`);
  }
}

function fmt(gas: number | bigint): string {
  return Math.round(Number(gas)).toLocaleString("en-US");
}

function milkLots(count: number, series: string) {
  return Array.from({ length: count }, (_, i) =>
    newLot("milk", `${series}-${String(i + 1).padStart(3, "0")}`, qty(1_000), GLN.producer),
  );
}

async function main() {
  const f = await provenanceFixture();
  const { provenance, units, anchors, forwarder, agents, orgs, lotIds, governor, relayer } = f;
  const producer = provenance.connect(agents.producer);
  const processor = provenance.connect(agents.processor);
  const carrier = provenance.connect(agents.carrier);
  const PROCESS = encodeBytes32String("PROCESS");

  // ─── governance tables ─────────────────────────────────────────────────────────────────────
  await measure(
    "governance",
    "setUnitOfMeasure (new unit)",
    provenance.connect(governor).setUnitOfMeasure(unitCode("ONZ"), 1, 28_350),
  );
  await measure(
    "governance",
    "setTransformKind (new kind)",
    provenance.connect(governor).setTransformKind(encodeBytes32String("CHURN"), true, 50),
  );
  await measure("governance", "setAllocationRule (first rule of a kind)", provenance.connect(governor).setAllocationRule(PROCESS, 2));

  // ─── products and lots ─────────────────────────────────────────────────────────────────────
  await measure(
    "products",
    "registerProduct",
    processor.registerProduct(gtinFor(PREFIX.processor, 42), unitCode("KGM"), digest("yoghurt")),
  );
  await measure("products", "updateProduct", processor.updateProduct(PRODUCT.butter.gtin, digest("butter v2")));
  const one = milkLots(1, "M240501");
  const oneReceipt = await measure("lots", "registerLots, 1 lot", producer.registerLots(one));
  const tenReceipt = await measure("lots", "registerLots, 10 lots", producer.registerLots(milkLots(10, "M240502")));
  const maxReceipt = await measure("lots", "registerLots, 64 lots", producer.registerLots(milkLots(64, "M240503")));

  // ─── custody ───────────────────────────────────────────────────────────────────────────────
  await measure(
    "custody",
    "offer (whole batch, custody and ownership)",
    producer.offer(lotIds.milkB, LOT.milkB.quantity, orgs.processor, Kind.Both),
  );
  await measure("custody", "accept (whole batch)", processor.accept(...(await offered(provenance, lotIds.milkB)), GLN.processor));
  await measure("custody", "offer (part of a batch)", producer.offer(lotIds.milk, qty(6_000), orgs.processor, Kind.Both));
  await measure("custody", "accept (part: new portion + SPLIT edge)", processor.accept(...(await offered(provenance, lotIds.milk)), GLN.processor));
  const portion = portionIdOf(lotIds.milk, 0);
  await measure("custody", "offer (custody to a carrier)", producer.offer(lotIds.milk, qty(1_000), orgs.carrier, Kind.Custody));
  await measure("custody", "cancelOffer (receiver rejects)", carrier.cancelOffer(lotIds.milk, "no truck"));
  const [signedLot] = milkLots(1, "M240504");
  await producer.registerLots([signedLot]);
  const signedId = lotIdOf(signedLot.gtin, signedLot.lot);
  const first = await signAcceptance(agents.processor, provenance, {
    batchId: signedId,
    quantity: qty(400),
    from: orgs.producer,
    to: orgs.processor,
    kind: Kind.Both,
    gln: GLN.processor,
    deadline: DEADLINE,
  });
  await measure(
    "custody",
    "handOverWithAcceptance (part, signer's first nonce)",
    producer.handOverWithAcceptance(first.acceptance, first.signature),
  );
  const second = await signAcceptance(agents.processor, provenance, {
    batchId: signedId,
    quantity: qty(600),
    from: orgs.producer,
    to: orgs.processor,
    kind: Kind.Both,
    gln: GLN.processor,
    deadline: DEADLINE,
  });
  await measure(
    "custody",
    "handOverWithAcceptance (whole, later nonce)",
    producer.handOverWithAcceptance(second.acceptance, second.signature),
  );
  const relayedOffer = await signForwardRequest(agents.producer, forwarder, {
    to: await provenance.getAddress(),
    data: provenance.interface.encodeFunctionData("offer", [lotIds.milk, qty(1_000), orgs.carrier, Kind.Custody]),
    deadline: DEADLINE,
  });
  await measure("custody", "offer relayed through the forwarder (ERC-2771)", forwarder.connect(relayer).execute(relayedOffer));
  await carrier.accept(...(await offered(provenance, lotIds.milk)), GLN.carrier);

  // ─── lineage ───────────────────────────────────────────────────────────────────────────────
  await measure("lineage", "split (1 portion)", processor.split(portion, [qty(1_000)]));
  await measure("lineage", "split (4 portions)", processor.split(portion, [qty(500), qty(500), qty(500), qty(500)]));
  await measure(
    "lineage",
    "transform (1 input, 2 outputs, 2 edges)",
    processor.transform(
      PROCESS,
      [portion],
      [qty(2_000)],
      [newLot("cream", "R240413-1", qty(240), GLN.processor), newLot("skimmedMilk", "S240413-1", qty(1_760_000), GLN.processor)],
      digest("run"),
    ),
  );
  await measure("lineage", "end (consumed)", processor.end(portionIdOf(portion, 4), false, "lab samples"));
  await measure(
    "lineage",
    "observe",
    processor.observe(portion, digest("epcis event"), encodeBytes32String("storing"), GLN.processor, digest("4 C")),
  );

  // ─── recall ────────────────────────────────────────────────────────────────────────────────
  await measure("recall", "recall (by the producer)", producer.recall(lotIds.milk, "Listeria in tank sample"));
  const cream = lotIdOf(PRODUCT.cream.gtin, "R240413-1");
  const skimmed = lotIdOf(PRODUCT.skimmedMilk.gtin, "S240413-1");
  await measure("recall", "propagateRecall (1 edge)", provenance.connect(relayer).propagateRecall([lotIds.milk], [portion]));
  await measure(
    "recall",
    "propagateRecall (3 edges)",
    provenance.connect(relayer).propagateRecall([portion, portion, portion], [cream, skimmed, portionIdOf(portion, 0)]),
  );

  // ─── logistic units ────────────────────────────────────────────────────────────────────────
  const tank = ssccFor(PREFIX.producer, 1);
  const pallet = ssccFor(PREFIX.producer, 2);
  const palletLots = milkLots(10, "M240505");
  await producer.registerLots(palletLots);
  await measure(
    "units",
    "pack (1 batch, new unit)",
    units.connect(agents.producer).pack(tank, [lotIdOf(one[0].gtin, one[0].lot)]),
  );
  await measure(
    "units",
    "pack (10 batches, new unit)",
    units.connect(agents.producer).pack(
      pallet,
      palletLots.map((l) => lotIdOf(l.gtin, l.lot)),
    ),
  );
  await measure("units", "offerUnit", units.connect(agents.producer).offerUnit(pallet, orgs.carrier));
  await measure("units", "cancelUnitOffer (receiver rejects)", units.connect(agents.carrier).cancelUnitOffer(pallet));
  await units.connect(agents.producer).offerUnit(pallet, orgs.carrier);
  await measure(
    "units",
    "acceptUnit (10 batches change custodian)",
    units.connect(agents.carrier).acceptUnit(pallet, await units.contentsHash(pallet), GLN.carrier),
  );
  await measure("units", "unpack (10 batches)", units.connect(agents.carrier).unpack(pallet));

  // ─── anchors ───────────────────────────────────────────────────────────────────────────────
  await measure(
    "anchors",
    "anchor",
    anchors.connect(agents.auditor).anchor(encodeBytes32String("EPCIS"), digest("root"), 250, "https://epcis.example/r/1"),
  );

  // ─── reference: OpenZeppelin ERC-721 ───────────────────────────────────────────────────────
  const nft = await new ERC721Mock__factory(governor).deploy();
  await nft.waitForDeployment();
  const mintReceipt = await measure(
    "reference",
    "ERC-721 _mint (OpenZeppelin 5, holder's first token)",
    nft.mint(agents.producer.address, 1n),
  );
  await measure("reference", "ERC-721 _mint (holder already has tokens)", nft.mint(agents.producer.address, 2n));

  // ─── report ────────────────────────────────────────────────────────────────────────────────
  const network = hre.network.config;
  console.log(
    `# Gas (hardhat network, hardfork ${"hardfork" in network ? network.hardfork : "?"}, solc ${hre.config.solidity.compilers[0].version}, optimizer ${hre.config.solidity.compilers[0].settings?.optimizer?.runs} runs)\n`,
  );
  await printRows(null, rows);

  const tx1 = await hre.ethers.provider.getTransaction(oneReceipt.hash);
  const tx10 = await hre.ethers.provider.getTransaction(tenReceipt.hash);
  const calldata1 = calldataGas(tx1!.data);
  const log1 = logGas(oneReceipt);
  // requireAgent: cold registry account, then the agent's two slots and the organisation's status
  // and allowed-roles slots, all cold. Then the product slot (cold), prefixHolder (warm account,
  // cold prefix slot: the GS1 licence still holds) and orgOfLocation (warm account, cold GLN slot).
  // The batch is one slot (docs/adr/0009); the lot-exists read warms it for the SSTORE.
  const permission = G.coldAccount + 4 * G.coldSload;
  const lookups = G.coldSload + 2 * (G.warmAccess + G.coldSload);
  const floor1 = G.transaction + calldata1 + G.newSlot + log1 + permission + lookups;
  const measured1 = Number(oneReceipt.gasUsed);
  console.log("\n## registerLots, 1 lot: EVM floor of the layout versus measured\n");
  console.log("| component | gas |");
  console.log("|---|---:|");
  console.log(`| transaction base | ${fmt(G.transaction)} |`);
  console.log(`| calldata (${getBytes(tx1!.data).length} bytes) | ${fmt(calldata1)} |`);
  console.log(`| one new storage slot (the packed batch record) | ${fmt(G.newSlot)} |`);
  console.log(`| LotRegistered (LOG4, ${getBytes(oneReceipt.logs[0].data).length} data bytes) | ${fmt(log1)} |`);
  console.log(`| registry.requireAgent: cold account + 4 cold slots | ${fmt(permission)} |`);
  console.log(`| product slot (cold) + prefixHolder and orgOfLocation (warm calls, cold slots) | ${fmt(lookups)} |`);
  console.log(`| **floor** | **${fmt(floor1)}** |`);
  console.log(`| measured | ${fmt(measured1)} |`);
  console.log(`| ratio measured / floor | ${(measured1 / floor1).toFixed(3)} |`);

  // A further lot of the same product at the same location: its calldata, one slot, its log, and a
  // warm product read (the licence and location checked for the first lot hold for the call).
  const perLot = (a: TransactionReceipt, b: TransactionReceipt, n: number) => Number(b.gasUsed - a.gasUsed) / n;
  const calldataPerLot = (calldataGas(tx10!.data) - calldata1) / 9;
  const marginalFloor = calldataPerLot + G.newSlot + log1 + G.warmAccess;
  console.log("\n## registerLots, per further lot\n");
  console.log("| | gas |");
  console.log("|---|---:|");
  const marginal = perLot(oneReceipt, tenReceipt, 9);
  console.log(`| measured, 10 lots: per lot on average | ${fmt(Number(tenReceipt.gasUsed) / 10)} |`);
  console.log(`| measured, 64 lots: per lot on average | ${fmt(Number(maxReceipt.gasUsed) / 64)} |`);
  console.log(`| measured, marginal lot (1 → 10) | ${fmt(marginal)} |`);
  console.log(
    `| floor of a marginal lot (calldata ${fmt(calldataPerLot)} + 1 slot + log + warm read) | ${fmt(marginalFloor)} |`,
  );
  console.log(`| ratio measured / floor | ${(marginal / marginalFloor).toFixed(3)} |`);

  const mintTx = await hre.ethers.provider.getTransaction(mintReceipt.hash);
  const mintFloor = G.transaction + calldataGas(mintTx!.data) + 2 * G.newSlot + logGas(mintReceipt);
  console.log(
    `\nERC-721 mint floor (base + calldata + owner and balance slots + Transfer log): ${fmt(mintFloor)}; measured ${fmt(mintReceipt.gasUsed)}.`,
  );

  const layout = await storageLayout();
  console.log("\n## ProvenanceRegistry storage layout (from solc)\n");
  console.log(layout);
}

/** Recompiles ProvenanceRegistry's build input with storageLayout output (Hardhat does not request it). */
async function storageLayout(): Promise<string> {
  const name = "contracts/provenance/ProvenanceRegistry.sol:ProvenanceRegistry";
  const buildInfo = await hre.artifacts.getBuildInfo(name);
  if (!buildInfo) throw new Error(`no build info for ${name}; run npx hardhat compile`);
  const [source, contract] = name.split(":");
  const input = {
    ...buildInfo.input,
    settings: { ...buildInfo.input.settings, outputSelection: { [source]: { [contract]: ["storageLayout"] } } },
  };
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const solc = require("solc") as { compile(input: string): string };
  const output = JSON.parse(solc.compile(JSON.stringify(input)));
  const layout = output.contracts[source][contract].storageLayout as {
    storage: { label: string; slot: string; offset: number; type: string }[];
    types: Record<
      string,
      { label: string; numberOfBytes: string; members?: { label: string; slot: string; offset: number; type: string }[] }
    >;
  };
  const lines = ["| slot | variable | type |", "|---:|---|---|"];
  for (const v of layout.storage) lines.push(`| ${v.slot} | ${v.label} | ${layout.types[v.type].label} |`);
  for (const type of Object.values(layout.types)) {
    if (!type.members) continue;
    lines.push(
      "",
      `${type.label} (${Number(type.numberOfBytes) / 32} slot${Number(type.numberOfBytes) > 32 ? "s" : ""}):`,
      "",
      "| slot | byte offset | field | type |",
      "|---:|---:|---|---|",
    );
    for (const m of type.members) lines.push(`| ${m.slot} | ${m.offset} | ${m.label} | ${layout.types[m.type].label} |`);
  }
  return lines.join("\n");
}

/**
 * The escrow's rows (docs/gas.md, "Escrow"): one order through its life on a fresh settlement
 * fixture, plus a dispute settled by the timeout fallback. Kept apart from the provenance rows.
 */
async function measureEscrow(): Promise<void> {
  const f = await settlementFixture();
  const { escrow, token, agents, admins, lotIds, escrowAddress, tokenAddress } = f;
  const escrowRows: Row[] = [];
  const row = async (call: string, sent: Promise<ContractTransactionResponse>) => {
    const receipt = (await (await sent).wait())!;
    escrowRows.push({ area: "escrow", call, gas: receipt.gasUsed, receipt });
    return receipt;
  };
  await row("setPayoutAddress", escrow.connect(admins.otherBuyer).setPayoutAddress(agents.otherBuyer.address));
  const terms = f.terms();
  const orderId = await escrow.connect(agents.buyer).createOrder.staticCall(terms);
  await row("createOrder", escrow.connect(agents.buyer).createOrder(terms));
  const value = (terms.quantity as bigint) * (terms.pricePerUnit as bigint) / 1000n;
  await (await token.connect(agents.buyer).approve(escrowAddress, value * 3n)).wait();
  await row("fund (approved; balance measured)", escrow.connect(agents.buyer).fund(orderId));
  const a = await f.handOver(lotIds.cheeseA);
  const b = await f.handOver(lotIds.cheeseB);
  const c = await f.handOver(lotIds.cheeseC);
  await row("deliver (1 sale)", escrow.connect(agents.seller).deliver(orderId, [a]));
  await row("deliver (2 sales)", escrow.connect(agents.seller).deliver(orderId, [b, c]));
  await hre.network.provider.send("evm_increaseTime", [Number(terms.inspectionWindow)]);
  await row("release (3 delivered batches checked for recalls; completes)", escrow.connect(f.outsider).release(orderId));
  await row("withdraw (seller's treasury, to its payout address)", escrow.connect(agents.seller).withdraw(tokenAddress));

  const second = await escrow.connect(agents.buyer).createOrder.staticCall(terms);
  await (await escrow.connect(agents.buyer).createOrder(terms)).wait();
  await (await escrow.connect(agents.buyer).fund(second)).wait();
  const d = await f.handOver(lotIds.cheeseD);
  await (await escrow.connect(agents.seller).deliver(second, [d])).wait();
  await row("acceptDelivery (1 batch checked; completes)", escrow.connect(agents.buyer).acceptDelivery(second));

  const third = await escrow.connect(agents.buyer).createOrder.staticCall(terms);
  await (await escrow.connect(agents.buyer).createOrder(terms)).wait();
  await (await escrow.connect(agents.buyer).fund(third)).wait();
  const e = await f.handOver(lotIds.cheeseE);
  await (await escrow.connect(agents.seller).deliver(third, [e])).wait();
  await row("reject (opens a dispute)", escrow.connect(agents.buyer).reject(third, 1_000n, "rind damage"));
  await hre.network.provider.send("evm_increaseTime", [Number(terms.disputeTimeout)]);
  await row("resolveAfterTimeout (default split; closes)", escrow.connect(f.outsider).resolveAfterTimeout(third));
  await row("withdraw (buyer's refunds, to its payout address)", escrow.connect(agents.buyer).withdraw(tokenAddress));

  await printRows("Escrow (SettlementEscrow)", escrowRows);
}

main()
  .then(measureEscrow)
  .catch((error) => {
    console.error(error);
    process.exitCode = 1;
  });
