import { expect } from "chai";
import fc from "fast-check";
import { MaxUint256, type ContractTransactionReceipt, type ContractTransactionResponse } from "ethers";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { propertyRuns, UNDER_COVERAGE } from "../../helpers/coverage";
import { DAY, digest, eur, lotIdOf, OrderStatus, PRODUCT, qty, settlementFixture, type Sale } from "../../helpers/settlement-fixture";

/**
 * Random sequences of order actions against several orders, checked after every step against:
 * - a reference model of the state machine written from ISettlementEscrow (which call succeeds,
 *   and what each order then holds); every action that can be formed is attempted whether or not
 *   the model expects it to succeed, and the contract must agree either way;
 * - an independent ledger kept from the test's own hand-overs and token balances, not from the
 *   contract's formulas: tokens are conserved between the buyer's wallet, the escrow and the two
 *   payout addresses; the escrow holds exactly what its orders hold plus what it owes; no sale is
 *   counted twice; no order pays its seller more than the price of the goods the test actually
 *   handed over to the buyer for it (capped at the ordered quantity); and no release or acceptance
 *   pays anything while a batch delivered for the order is recalled.
 * Each run starts from the same fixture snapshot.
 */

const SEED = Number(process.env.PROPERTY_SEED ?? 20_240_412);
// Under coverage (instrumented contracts, several times slower) 10 sequences unless the env var says otherwise.
const RUNS = propertyRuns(process.env.ESCROW_PROPERTY_RUNS, 100, 10);
const STOCK = 40; // seller-held cheese lots available to sell and deliver in each run
const MAX_ORDERS = 8;
const GAS = 3_000_000n; // explicit, so a doomed call is sent (and judged) at the step's timestamp
const HOUR = 3600;

type Action =
  | {
      kind: "create";
      arbiter: boolean;
      quantityKg: number;
      priceCents: number;
      deadlineHours: number;
      windowHours: number;
      timeoutHours: number;
      defaultShareBps: number;
      /** Fund it right away (the separate fund action still exercises late and repeated funding). */
      thenFund: boolean;
    }
  | { kind: "fund" | "cancel" | "accept"; order: number }
  /** `catchUp`: time first passes to the end of the order's inspection window (release) or its deadline (refund). */
  | { kind: "release" | "refund"; order: number; catchUp: boolean }
  | { kind: "deliver"; order: number; count: number }
  | { kind: "deliverCounted"; order: number; batch: number }
  | { kind: "reject"; order: number; amount: number }
  | { kind: "resolve"; order: number; bps: number }
  /** `catchUp`: time first passes to the order's decision deadline. */
  | { kind: "timeout"; order: number; catchUp: boolean }
  | { kind: "recallAndFreeze"; order: number; batch: number }
  /** Three times in four a party that is owed something, when one is. */
  | { kind: "withdraw"; who: number }
  | { kind: "wait"; seconds: number };

const order = fc.nat({ max: 1_000 });
const actionArb: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("create" as const),
      arbiter: fc.boolean(),
      quantityKg: fc.integer({ min: 100, max: 800 }),
      priceCents: fc.integer({ min: 1, max: 2_000 }),
      deadlineHours: fc.integer({ min: 12, max: 14 * 24 }),
      windowHours: fc.oneof({ weight: 1, arbitrary: fc.constant(0) }, { weight: 4, arbitrary: fc.integer({ min: 1, max: 72 }) }),
      timeoutHours: fc.integer({ min: 1, max: 10 * 24 }),
      defaultShareBps: fc.integer({ min: 0, max: 10_000 }),
      thenFund: fc.oneof({ weight: 3, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("fund" as const), order }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("cancel" as const), order }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant("deliver" as const), order, count: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("deliverCounted" as const), order, batch: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("accept" as const), order }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("reject" as const), order, amount: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("resolve" as const), order, bps: fc.integer({ min: 0, max: 10_000 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("timeout" as const), order, catchUp: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("release" as const), order, catchUp: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("refund" as const), order, catchUp: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("recallAndFreeze" as const), order, batch: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("withdraw" as const), who: fc.nat({ max: 1_000 }) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("wait" as const),
      seconds: fc.oneof(
        { weight: 3, arbitrary: fc.integer({ min: HOUR, max: DAY }) },
        { weight: 2, arbitrary: fc.integer({ min: DAY, max: 4 * DAY }) },
        { weight: 1, arbitrary: fc.integer({ min: 4 * DAY, max: 15 * DAY }) },
      ),
    }),
  },
);

const { Created, Funded, Delivered, Disputed, Frozen } = OrderStatus;
/** The statuses in which each order action can succeed. */
const SUITABLE: Record<Exclude<Action["kind"], "create" | "withdraw" | "wait">, readonly bigint[]> = {
  fund: [Created],
  cancel: [Created],
  deliver: [Funded, Delivered],
  deliverCounted: [Funded, Delivered],
  accept: [Delivered],
  reject: [Delivered],
  resolve: [Disputed, Frozen],
  timeout: [Disputed, Frozen],
  release: [Delivered],
  refund: [Funded],
  recallAndFreeze: [Delivered, Disputed],
};

/** The model's view of one order (field names as in ISettlementEscrow.Order). */
interface ModelOrder {
  id: bigint;
  arbiter: boolean;
  quantity: bigint;
  pricePerUnit: bigint;
  deliveryDeadline: number;
  inspectionWindow: number;
  disputeTimeout: number;
  defaultShareBps: bigint;
  decideBy: number;
  status: bigint;
  held: bigint;
  delivered: bigint;
  paidQuantity: bigint;
  contested: bigint;
  inspectionEnds: number;
  batches: string[];
  /** The ledger: quantity of the test's own seller → buyer hand-overs recorded toward the order. */
  handedOver: bigint;
}

/** The settlement fixture with STOCK more cheese lots (50–245 kg) at the seller's and an unlimited approval. */
async function propertyFixture() {
  const f = await loadFixture(settlementFixture);
  const stock = Array.from({ length: STOCK }, (_, i) => ({
    gtin: PRODUCT.cheese.gtin,
    lot: `P${String(i).padStart(3, "0")}`,
    quantity: qty(50 + ((i * 37) % 200)),
    gln: "",
    metadataHash: digest(`property lot ${i}`),
  }));
  await (await f.provenance.connect(f.agents.seller).registerLots(stock)).wait();
  const stockIds = stock.map((lot) => lotIdOf(lot.gtin, lot.lot));
  await (await f.token.connect(f.governor).mint(f.agents.buyer.address, eur(1_000_000))).wait();
  await (await f.token.connect(f.agents.buyer).approve(f.escrowAddress, MaxUint256)).wait();
  const quantities = new Map(stock.map((lot, i) => [stockIds[i], lot.quantity]));
  return { ...f, stockIds, quantities };
}

describe("SettlementEscrow properties", function () {
  it("keeps its books and agrees with the model through random sequences of order actions", async function () {
    // The reliability harness runs thousands of sequences, coverage runs them instrumented: no per-test timeout then.
    if (process.env.ESCROW_PROPERTY_RUNS || UNDER_COVERAGE) this.timeout(0);
    await fc.assert(
      fc.asyncProperty(fc.array(actionArb, { minLength: 15, maxLength: 30 }), async (actions) => {
        const f = await loadFixture(propertyFixture);
        const { escrow, provenance, token, agents, orgs, payouts, governor, escrowAddress, tokenAddress } = f;
        const iface = escrow.interface;

        const orders: ModelOrder[] = [];
        const fresh = [...f.stockIds];
        const saleKey = (sale: Sale) => `${sale.batchId}:${sale.index}`;
        /** Sales counted toward an order, as the model expects. */
        const counted = new Map<string, { sale: Sale; order: bigint }>();
        const recalled = new Set<string>();
        const wallets = [agents.buyer.address, escrowAddress, payouts.buyer.address, payouts.seller.address];
        const balances = async () => Promise.all(wallets.map((w) => token.balanceOf(w)));
        const initialTotal = (await balances()).reduce((a, b) => a + b, 0n);
        const owed = { buyer: 0n, seller: 0n };
        // Ledgers rebuilt from the escrow's events only.
        const recordedQuantity = new Map<bigint, bigint>();
        const creditedTotal = new Map<bigint, bigint>();
        const fundedAmount = new Map<bigint, bigint>();
        const creditedToSeller = new Map<bigint, bigint>();
        const recordedSales = new Map<string, bigint>();
        const lastHeld = new Map<bigint, bigint>();
        let clock = await time.latest();

        const value = (o: ModelOrder, quantity: bigint) => (quantity * o.pricePerUnit) / 1000n;
        const unpaid = (o: ModelOrder) => {
          const payable = o.delivered < o.quantity ? o.delivered : o.quantity;
          return payable > o.paidQuantity ? payable - o.paidQuantity : 0n;
        };
        const credit = (o: ModelOrder, toSeller: boolean, amount: bigint) => {
          const capped = amount > o.held ? o.held : amount;
          o.held -= capped;
          owed[toSeller ? "seller" : "buyer"] += capped;
        };
        const payDelivered = (o: ModelOrder) => {
          const u = unpaid(o);
          if (u === 0n) return;
          o.paidQuantity += u;
          credit(o, true, value(o, u));
        };
        const close = (o: ModelOrder, status: bigint) => {
          if (o.held > 0n) credit(o, false, o.held);
          o.status = status;
        };
        /**
         * The order an action is aimed at: three times in four one whose status lets the action
         * succeed (when there is one), otherwise any, so refusals are exercised too.
         */
        const pick = (index: number, statuses: readonly bigint[], extra: (o: ModelOrder) => boolean = () => true) => {
          const suitable = orders.filter((o) => statuses.includes(o.status) && extra(o));
          if (suitable.length > 0 && index % 4 !== 0) return suitable[Math.floor(index / 4) % suitable.length];
          return orders.length === 0 ? undefined : orders[index % orders.length];
        };

        /** The timestamp the next transaction is mined at: the model's clock, at least a second after the last block. */
        async function nextTimestamp(): Promise<number> {
          clock = Math.max(clock, (await time.latest()) + 1);
          await time.setNextBlockTimestamp(clock);
          return clock;
        }

        /** Sends a call the model expects to succeed and folds its escrow events into the ledgers. */
        async function succeeds(send: () => Promise<ContractTransactionResponse>): Promise<void> {
          const receipt = (await (await send()).wait()) as ContractTransactionReceipt;
          for (const log of receipt.logs) {
            if (log.address.toLowerCase() !== escrowAddress.toLowerCase()) continue;
            const event = iface.parseLog(log);
            if (!event) continue;
            const id = event.args.orderId as bigint;
            if (event.name === "DeliveryRecorded") {
              const sale = { batchId: event.args.batchId as string, index: event.args.saleIndex as bigint };
              expect(recordedSales.has(saleKey(sale)), `sale ${saleKey(sale)} counted twice`).to.equal(false);
              recordedSales.set(saleKey(sale), id);
              recordedQuantity.set(id, (recordedQuantity.get(id) ?? 0n) + (event.args.quantity as bigint));
              expect(await escrow.orderOfSale(sale.batchId, sale.index)).to.equal(id);
            } else if (event.name === "Credited") {
              creditedTotal.set(id, (creditedTotal.get(id) ?? 0n) + (event.args.amount as bigint));
              if (event.args.toSeller) {
                expect(event.args.org).to.equal(orgs.seller);
                creditedToSeller.set(id, (creditedToSeller.get(id) ?? 0n) + (event.args.amount as bigint));
              } else expect(event.args.org).to.equal(orgs.buyer);
            } else if (event.name === "OrderFunded") {
              fundedAmount.set(id, event.args.amount as bigint);
            }
          }
        }

        async function fails(send: () => Promise<ContractTransactionResponse>): Promise<void> {
          await expect(send()).to.be.reverted;
        }

        async function attempt(expectOk: boolean, send: () => Promise<ContractTransactionResponse>): Promise<void> {
          if (expectOk) await succeeds(send);
          else await fails(send);
        }

        async function checkInvariants(): Promise<void> {
          let heldSum = 0n;
          for (const m of orders) {
            const o = await escrow.order(m.id);
            // The model and the contract agree.
            expect([o.status, o.held, o.delivered, o.paidQuantity, o.contested], `order ${m.id}`).to.deep.equal([
              m.status,
              m.held,
              m.delivered,
              m.paidQuantity,
              m.contested,
            ]);
            heldSum += o.held;
            // Every delivered quantity was announced, batch by batch, and none twice.
            expect(o.delivered).to.equal(recordedQuantity.get(m.id) ?? 0n);
            expect(o.paidQuantity + o.contested <= o.delivered).to.equal(true);
            const funded = fundedAmount.get(m.id);
            if (funded !== undefined) {
              const credited = creditedTotal.get(m.id) ?? 0n;
              // An order never pays out more than it was funded with, and what it paid out left it.
              expect(credited <= funded, `order ${m.id} credited ${credited} of ${funded}`).to.equal(true);
              expect(credited + o.held).to.equal(funded);
              // Held only decreases once funded.
              expect(o.held <= (lastHeld.get(m.id) ?? funded)).to.equal(true);
              lastHeld.set(m.id, o.held);
            }
            // The ledger: the seller is never paid more than the goods handed over for the order
            // are worth at its price (no more than ordered), whatever the contract's own counts say.
            const paidFor = m.handedOver < m.quantity ? m.handedOver : m.quantity;
            expect(creditedToSeller.get(m.id) ?? 0n, `order ${m.id} paid beyond its goods`).to.be.lte((paidFor * m.pricePerUnit) / 1000n);
          }
          const owedBuyer = await escrow.owed(tokenAddress, orgs.buyer);
          const owedSeller = await escrow.owed(tokenAddress, orgs.seller);
          expect([owedBuyer, owedSeller]).to.deep.equal([owed.buyer, owed.seller]);
          // The escrow's balance is exactly what its orders hold plus what it owes.
          expect(await token.balanceOf(escrowAddress)).to.equal(heldSum + owedBuyer + owedSeller);
          // No token is created or lost between the buyer's wallet, the escrow and the payout addresses.
          expect((await balances()).reduce((a, b) => a + b, 0n)).to.equal(initialTotal);
        }

        /** A release or acceptance refused for a recall: nothing is credited to the seller. */
        async function refusedForRecall(m: ModelOrder, send: () => Promise<ContractTransactionResponse>): Promise<void> {
          const before = creditedToSeller.get(m.id) ?? 0n;
          await expect(send()).to.be.revertedWithCustomError(escrow, "SettlementBatchRecalled");
          expect(creditedToSeller.get(m.id) ?? 0n).to.equal(before);
        }

        for (const action of actions) {
          if (action.kind === "wait") {
            clock += action.seconds;
            continue;
          }
          if (action.kind === "create") {
            if (orders.length >= MAX_ORDERS) continue;
            const now = await nextTimestamp();
            const m: ModelOrder = {
              id: BigInt(orders.length + 1),
              arbiter: action.arbiter,
              quantity: qty(action.quantityKg),
              pricePerUnit: BigInt(action.priceCents),
              deliveryDeadline: now + action.deadlineHours * HOUR,
              inspectionWindow: action.windowHours * HOUR,
              disputeTimeout: action.timeoutHours * HOUR,
              defaultShareBps: BigInt(action.defaultShareBps),
              decideBy: 0,
              status: OrderStatus.Created,
              held: 0n,
              delivered: 0n,
              paidQuantity: 0n,
              contested: 0n,
              inspectionEnds: 0,
              batches: [],
              handedOver: 0n,
            };
            const terms = f.terms({
              arbiter: m.arbiter ? f.orgs.arbiter : 0n,
              quantity: m.quantity,
              pricePerUnit: m.pricePerUnit,
              deliveryDeadline: BigInt(m.deliveryDeadline),
              inspectionWindow: m.inspectionWindow,
              disputeTimeout: m.disputeTimeout,
              defaultSellerShareBps: action.defaultShareBps,
            });
            await succeeds(() => escrow.connect(agents.buyer).createOrder(terms, { gasLimit: GAS }));
            orders.push(m);
            if (action.thenFund) {
              await nextTimestamp();
              await succeeds(() => escrow.connect(agents.buyer).fund(m.id, { gasLimit: GAS }));
              m.held = value(m, m.quantity);
              m.status = OrderStatus.Funded;
            }
          } else if (action.kind === "withdraw") {
            await nextTimestamp();
            const parties = (["buyer", "seller"] as const).filter((p) => owed[p] > 0n);
            const who =
              parties.length > 0 && action.who % 4 !== 0
                ? parties[action.who % parties.length]
                : action.who % 2
                  ? "seller"
                  : "buyer";
            const ok = owed[who] > 0n;
            await attempt(ok, () => escrow.connect(agents[who]).withdraw(tokenAddress, { gasLimit: GAS }));
            if (ok) owed[who] = 0n;
          } else {
            const m = pick(action.order, SUITABLE[action.kind], (o) =>
              action.kind === "recallAndFreeze" ? o.batches.length > 0 : true,
            );
            if (!m) continue;
            if (action.kind === "fund") {
              await nextTimestamp();
              const ok = m.status === OrderStatus.Created;
              await attempt(ok, () => escrow.connect(agents.buyer).fund(m.id, { gasLimit: GAS }));
              if (ok) {
                m.held = value(m, m.quantity);
                m.status = OrderStatus.Funded;
              }
            } else if (action.kind === "cancel") {
              await nextTimestamp();
              const ok = m.status === OrderStatus.Created;
              await attempt(ok, () => escrow.connect(agents.seller).cancel(m.id, { gasLimit: GAS }));
              if (ok) m.status = OrderStatus.Cancelled;
            } else if (action.kind === "deliver") {
              if (fresh.length < action.count) continue;
              // The seller first sells fresh lots to the buyer (the sales exist whatever follows).
              const batches = fresh.splice(0, action.count);
              const sales: Sale[] = [];
              for (const b of batches) {
                await nextTimestamp();
                sales.push(await f.handOver(b));
              }
              const now = await nextTimestamp();
              const ok = (m.status === OrderStatus.Funded || m.status === OrderStatus.Delivered) && now <= m.deliveryDeadline;
              await attempt(ok, () => escrow.connect(agents.seller).deliver(m.id, sales, { gasLimit: GAS }));
              if (ok) {
                for (const [i, b] of batches.entries()) {
                  m.delivered += f.quantities.get(b)!;
                  m.handedOver += f.quantities.get(b)!;
                  counted.set(saleKey(sales[i]), { sale: sales[i], order: m.id });
                }
                m.batches.push(...batches);
                m.inspectionEnds = now + m.inspectionWindow;
                m.status = OrderStatus.Delivered;
              }
            } else if (action.kind === "deliverCounted") {
              const claimed = [...counted.values()];
              if (claimed.length === 0) continue;
              const now = await nextTimestamp();
              const { sale, order: owner } = claimed[action.batch % claimed.length];
              const send = () => escrow.connect(agents.seller).deliver(m.id, [sale], { gasLimit: GAS });
              const reachesSaleCheck = (m.status === OrderStatus.Funded || m.status === OrderStatus.Delivered) && now <= m.deliveryDeadline;
              if (reachesSaleCheck) {
                await expect(send()).to.be.revertedWithCustomError(escrow, "SettlementSaleAlreadyCounted").withArgs(sale.batchId, sale.index, owner);
              } else {
                await fails(send);
              }
            } else if (action.kind === "accept") {
              await nextTimestamp();
              const send = () => escrow.connect(agents.buyer).acceptDelivery(m.id, { gasLimit: GAS });
              const ok = m.status === OrderStatus.Delivered && !m.batches.some((b) => recalled.has(b));
              if (m.status === OrderStatus.Delivered && !ok) await refusedForRecall(m, send);
              else await attempt(ok, send);
              if (ok) {
                payDelivered(m);
                close(m, OrderStatus.Completed);
              }
            } else if (action.kind === "reject") {
              const now = await nextTimestamp();
              const u = unpaid(m);
              const quantity = u === 0n ? 1n : 1n + (BigInt(action.amount) % u);
              const ok = m.status === OrderStatus.Delivered && now < m.inspectionEnds && u > 0n;
              await attempt(ok, () => escrow.connect(agents.buyer).reject(m.id, quantity, "property", { gasLimit: GAS }));
              if (ok) {
                m.contested = quantity;
                m.decideBy = now + m.disputeTimeout;
                m.status = OrderStatus.Disputed;
              }
            } else if (action.kind === "resolve") {
              await nextTimestamp();
              const ok = m.status === OrderStatus.Disputed || m.status === OrderStatus.Frozen;
              const arbiter = m.arbiter ? agents.arbiter : governor;
              await attempt(ok, () => escrow.connect(arbiter).resolve(m.id, action.bps, { gasLimit: GAS }));
              if (ok) {
                const contested = m.contested;
                const uncontested = unpaid(m) - contested;
                const toSeller = value(m, uncontested) + (value(m, contested) * BigInt(action.bps)) / 10_000n;
                m.paidQuantity += uncontested + contested;
                m.contested = 0n;
                if (toSeller > 0n) credit(m, true, toSeller);
                close(m, OrderStatus.Resolved);
              }
            } else if (action.kind === "timeout") {
              if (action.catchUp) clock = Math.max(clock, m.decideBy);
              const now = await nextTimestamp();
              const ok = (m.status === OrderStatus.Disputed || m.status === OrderStatus.Frozen) && now >= m.decideBy;
              await attempt(ok, () => escrow.connect(f.outsider).resolveAfterTimeout(m.id, { gasLimit: GAS }));
              if (ok) {
                const contested = m.contested;
                const uncontested = unpaid(m) - contested;
                const toSeller = value(m, uncontested) + (value(m, contested) * m.defaultShareBps) / 10_000n;
                m.paidQuantity += uncontested + contested;
                m.contested = 0n;
                if (toSeller > 0n) credit(m, true, toSeller);
                close(m, OrderStatus.Resolved);
              }
            } else if (action.kind === "release") {
              if (action.catchUp) clock = Math.max(clock, m.inspectionEnds);
              const now = await nextTimestamp();
              const send = () => escrow.connect(f.outsider).release(m.id, { gasLimit: GAS });
              const ready = m.status === OrderStatus.Delivered && now >= m.inspectionEnds;
              const ok = ready && !m.batches.some((b) => recalled.has(b));
              if (ready && !ok) await refusedForRecall(m, send);
              else await attempt(ok, send);
              if (ok) {
                payDelivered(m);
                if (m.delivered >= m.quantity || now > m.deliveryDeadline) close(m, OrderStatus.Completed);
              }
            } else if (action.kind === "refund") {
              if (action.catchUp) clock = Math.max(clock, m.deliveryDeadline + 1);
              const now = await nextTimestamp();
              const ok = m.status === OrderStatus.Funded && now > m.deliveryDeadline;
              await attempt(ok, () => escrow.connect(f.outsider).refund(m.id, { gasLimit: GAS }));
              if (ok) close(m, OrderStatus.Refunded);
            } else if (action.kind === "recallAndFreeze") {
              if (m.batches.length === 0) continue;
              const batch = m.batches[action.batch % m.batches.length];
              if (!recalled.has(batch)) {
                await nextTimestamp();
                await succeeds(() => provenance.connect(agents.seller).recall(batch, "property", { gasLimit: GAS }));
                recalled.add(batch);
              }
              const now = await nextTimestamp();
              const ok = m.status === OrderStatus.Delivered || m.status === OrderStatus.Disputed;
              await attempt(ok, () => escrow.connect(f.outsider).freeze(m.id, batch, { gasLimit: GAS }));
              if (ok) {
                m.contested = unpaid(m);
                m.decideBy = now + m.disputeTimeout;
                m.status = OrderStatus.Frozen;
              }
            }
          }
          await checkInvariants();
        }
        // No sale ended up mapped to an order other than the one its delivery was recorded for,
        // and every sale the model counted was recorded (and no other).
        expect([...recordedSales.keys()].sort()).to.deep.equal([...counted.keys()].sort());
        for (const { sale, order: id } of counted.values()) expect(await escrow.orderOfSale(sale.batchId, sale.index)).to.equal(id);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });
});
