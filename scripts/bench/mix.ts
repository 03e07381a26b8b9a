import { AbiCoder, Wallet, encodeBytes32String, id as keccakText, keccak256 } from "ethers";
import type { DeploymentRecord } from "../../services/chain/deploy";
import { INTERFACES } from "../../services/chain/contracts";
import { LOCAL_CHAIN_ID } from "../../services/chain/evm";
import type { RpcClient } from "../../services/chain/rpc";
import { DEMO_GOODS } from "../../services/demo/supply-chain";
import { DEMO_MEMBERS, demoWallet } from "../../services/demo/roster";
import { glnFor } from "../../services/gs1/keys";
import { HANDOVER_KINDS } from "../../services/provenance/acceptance";
import { parseQuantity } from "../../services/provenance/quantity";
import { rpcBatch } from "./chain-load";

/**
 * The bench's real mix of Lotline activity, sent fast: every transaction is signed locally with an
 * explicit nonce and fixed gas, a round's transactions go to Anvil in one JSON-RPC batch with
 * automining off, and one `evm_mine` makes them a block. Rounds form a pipeline, so every call
 * acts on what earlier blocks created (no contract change, no multicall):
 *
 *   round r  producer    registerLots(lotsPerRound raw-milk lots)            LotRegistered × n
 *            producer    offer(lot of round r-1, whole, to processor, both)  HandoverOffered
 *            processor   accept(lot offered in round r-1)                     HandedOver, OwnershipTransferred
 *            processor   transform MERGE (2 lots accepted in r-1 → pooled)    QuantityConsumed, BatchEnded, LotRegistered, LineageEdge × 2, Transformed …
 *            processor   transform PROCESS (pooled of r-1 → cream + skim)     … LineageEdge × 2 …
 *            producer    recall(one lot merged in r-2)                        Recalled
 *            anyone      propagateRecall(recalled lot → its pooled milk)      RecallPropagated
 *            both        anchor(a root)                                       Anchored
 *            distributor createOrder(skim milk from the processor)           OrderCreated
 *
 * Every block's receipts are checked: a reverted transaction stops the bench (the mix would no
 * longer be what it says).
 */
const member = (key: string) => DEMO_MEMBERS.find((m) => m.key === key)!;
const orgOf = (key: string) => BigInt(DEMO_MEMBERS.indexOf(member(key)) + 1);
const glnOf = (key: string, ref = 1) => glnFor(member(key).companyPrefixes[0], ref);
const coder = AbiCoder.defaultAbiCoder();
const lotIdOf = (gtin: string, lot: string) => keccak256(coder.encode(["uint64", "string"], [BigInt(gtin), lot]));

export interface MixResult {
  rounds: number;
  txs: number;
  events: number;
  /** Gas used by all the mix's transactions. */
  gas: number;
  byEvent: Map<string, number>;
  firstBlock: number;
  lastBlock: number;
  ms: number;
  signMs: number;
  sendMs: number;
  mineMs: number;
}

export async function seedMix(options: {
  rpc: RpcClient;
  deployment: DeploymentRecord;
  /** Stop once at least this many Lotline events were emitted. */
  events: number;
  lotsPerRound?: number;
  handoversPerRound?: number;
  onRound?: (events: number) => void;
}): Promise<MixResult> {
  const { rpc, deployment } = options;
  const c = deployment.contracts;
  const lotsPerRound = options.lotsPerRound ?? 48;
  const handovers = options.handoversPerRound ?? 16;
  const wallets = {
    producer: new Wallet(demoWallet(member("producer").account).privateKey),
    processor: new Wallet(demoWallet(member("processor").account).privateKey),
    distributor: new Wallet(demoWallet(member("distributor").account).privateKey),
  };
  type Sender = keyof typeof wallets;
  const nonces = new Map<Sender, number>();
  for (const key of Object.keys(wallets) as Sender[]) {
    nonces.set(key, Number(await rpc.call<string>("eth_getTransactionCount", [wallets[key].address, "latest"])));
  }
  const latest = await rpc.call<{ baseFeePerGas?: string; timestamp: string }>("eth_getBlockByNumber", ["latest", false]);
  const maxPriorityFeePerGas = 1_000_000_000n;
  const maxFeePerGas = BigInt(latest.baseFeePerGas ?? "0x3b9aca00") * 4n + maxPriorityFeePerGas;
  const chainNow = Number(BigInt(latest.timestamp));
  const P = INTERFACES.provenance;
  const qty = parseQuantity;
  const hash = (text: string) => keccakText(text);
  const contractEvents = new Set(Object.values(c).map((a) => a.toLowerCase()));

  const t0 = performance.now();
  let signMs = 0;
  let sendMs = 0;
  let mineMs = 0;
  let txs = 0;
  let events = 0;
  let gas = 0n;
  const byEvent = new Map<string, number>();
  const topicNames = new Map<string, string>();
  for (const iface of Object.values(INTERFACES)) iface.forEachEvent((e) => topicNames.set(e.topicHash, e.name));

  // The pipeline's state: what each earlier round left for the next.
  let registered: string[] = []; // lots of the previous round, held by the producer
  let offered: string[] = []; // offered to the processor in the previous round
  let accepted: string[] = []; // accepted by the processor in the previous round
  let pooled: string[] = []; // pooled milk made in the previous round
  let merged: { input: string; output: string }[] = []; // merge inputs of the previous round
  let toPropagate: { parent: string; child: string }[] = [];

  await rpc.call("evm_setAutomine", [false]);
  const firstBlock = (await rpc.blockNumber()) + 1;
  let round = 0;
  try {
    while (events < options.events) {
      const calls: { from: Sender; to: string; data: string; gas: bigint; what: string }[] = [];
      const send = (from: Sender, to: string, data: string, gas: bigint, what: string) => calls.push({ from, to, data, gas, what });

      const lots = Array.from({ length: lotsPerRound }, (_, i) => ({
        gtin: BigInt(DEMO_GOODS.rawMilk),
        lot: `B${round}-${i}`,
        quantity: qty("1000"),
        gln: glnOf("producer", 1 + (i % 2)),
        metadataHash: hash(`bench lot ${round}-${i}`),
      }));
      send("producer", c.provenance, P.encodeFunctionData("registerLots", [lots]), 4_000_000n, "registerLots");
      const newLots = lots.map((l) => lotIdOf(DEMO_GOODS.rawMilk, l.lot));

      const toOffer = registered.slice(0, handovers);
      for (const lot of toOffer)
        send("producer", c.provenance, P.encodeFunctionData("offer", [lot, qty("1000"), orgOf("processor"), HANDOVER_KINDS.both]), 200_000n, "offer");
      for (const lot of offered)
        send("processor", c.provenance, P.encodeFunctionData("accept", [lot, qty("1000"), HANDOVER_KINDS.both, glnOf("processor", 1)]), 400_000n, "accept");

      const newPooled: string[] = [];
      const newMerged: { input: string; output: string }[] = [];
      for (let i = 0; i + 1 < accepted.length; i += 2) {
        const lot = `PM${round}-${i / 2}`;
        const output = { gtin: BigInt(DEMO_GOODS.pooledMilk), lot, quantity: qty("2000"), gln: glnOf("processor", 1), metadataHash: hash(lot) };
        send(
          "processor",
          c.provenance,
          P.encodeFunctionData("transform", [encodeBytes32String("MERGE"), [accepted[i], accepted[i + 1]], [qty("1000"), qty("1000")], [output], hash(`merge ${lot}`)]),
          800_000n,
          "transform MERGE",
        );
        const outputId = lotIdOf(DEMO_GOODS.pooledMilk, lot);
        newPooled.push(outputId);
        newMerged.push({ input: accepted[i], output: outputId });
      }
      for (const [i, input] of pooled.entries()) {
        const cream = { gtin: BigInt(DEMO_GOODS.cream), lot: `CR${round}-${i}`, quantity: qty("400"), gln: glnOf("processor", 1), metadataHash: hash(`cream ${round}-${i}`) };
        const skim = { gtin: BigInt(DEMO_GOODS.skimMilk), lot: `SK${round}-${i}`, quantity: qty("1600"), gln: glnOf("processor", 1), metadataHash: hash(`skim ${round}-${i}`) };
        send(
          "processor",
          c.provenance,
          P.encodeFunctionData("transform", [encodeBytes32String("PROCESS"), [input], [qty("2000")], [cream, skim], hash(`separate ${round}-${i}`)]),
          900_000n,
          "transform PROCESS",
        );
      }
      if (toPropagate.length > 0) {
        send(
          "distributor",
          c.provenance,
          P.encodeFunctionData("propagateRecall", [toPropagate.map((e) => e.parent), toPropagate.map((e) => e.child)]),
          400_000n,
          "propagateRecall",
        );
      }
      toPropagate = [];
      if (merged.length > 0) {
        const victim = merged[0];
        send("producer", c.provenance, P.encodeFunctionData("recall", [victim.input, `bench recall ${round}`]), 300_000n, "recall");
        toPropagate.push({ parent: victim.input, child: victim.output });
      }
      for (const key of ["producer", "processor"] as const) {
        send(
          key,
          c.anchors,
          INTERFACES.anchors.encodeFunctionData("anchor", [encodeBytes32String("EPCIS"), hash(`bench root ${key} ${round}`), 100, ""]),
          200_000n,
          "anchor",
        );
      }
      send(
        "distributor",
        c.escrow,
        INTERFACES.escrow.encodeFunctionData("createOrder", [
          {
            seller: orgOf("processor"),
            arbiter: orgOf("auditor"),
            token: c.token,
            gtin: BigInt(DEMO_GOODS.skimMilk),
            quantity: qty("1600"),
            pricePerUnit: 45n,
            deliveryDeadline: BigInt(chainNow + 90 * 86_400),
            inspectionWindow: 3 * 86_400,
            disputeTimeout: 14 * 86_400,
            defaultSellerShareBps: 5_000,
            termsHash: hash(`bench order ${round}`),
          },
        ]),
        500_000n,
        "createOrder",
      );

      const tSign = performance.now();
      const raw = await Promise.all(
        calls.map((call) => {
          const nonce = nonces.get(call.from)!;
          nonces.set(call.from, nonce + 1);
          return wallets[call.from].signTransaction({
            type: 2,
            chainId: LOCAL_CHAIN_ID,
            to: call.to,
            data: call.data,
            nonce,
            gasLimit: call.gas,
            maxFeePerGas,
            maxPriorityFeePerGas,
          });
        }),
      );
      const tSend = performance.now();
      const hashes = (await rpcBatch(
        rpc.url,
        raw.map((tx) => ({ method: "eth_sendRawTransaction", params: [tx] })),
      )) as string[];
      const tMine = performance.now();
      await rpc.call("evm_mine", []);
      // Whatever the block gas limit left over goes into further blocks before the next round.
      for (let guard = 0; ; guard++) {
        const pool = await rpc.call<{ pending: string }>("txpool_status", []);
        if (BigInt(pool.pending) === 0n) break;
        if (guard > 20) throw new Error(`round ${round}: transactions stay pending`);
        await rpc.call("evm_mine", []);
      }
      const receipts = (await rpcBatch(
        rpc.url,
        hashes.map((h) => ({ method: "eth_getTransactionReceipt", params: [h] })),
      )) as { status: string; gasUsed: string; logs: { address: string; topics: string[] }[] }[];
      for (const [i, receipt] of receipts.entries()) {
        if (!receipt || receipt.status !== "0x1")
          throw new Error(`round ${round}: ${calls[i].what} by the ${calls[i].from} reverted (transaction ${hashes[i]})`);
        gas += BigInt(receipt.gasUsed);
        for (const log of receipt.logs) {
          if (!contractEvents.has(log.address.toLowerCase())) continue;
          events++;
          const name = topicNames.get(log.topics[0]) ?? "other";
          byEvent.set(name, (byEvent.get(name) ?? 0) + 1);
        }
      }
      mineMs += performance.now() - tMine;
      signMs += tSend - tSign;
      sendMs += tMine - tSend;
      txs += calls.length;

      merged = newMerged;
      pooled = newPooled;
      accepted = offered;
      offered = toOffer;
      registered = newLots;
      round++;
      options.onRound?.(events);
    }
  } finally {
    await rpc.call("evm_setAutomine", [true]);
  }
  const lastBlock = await rpc.blockNumber();
  return { rounds: round, txs, events, gas: Number(gas), byEvent, firstBlock, lastBlock, ms: performance.now() - t0, signMs, sendMs, mineMs };
}
