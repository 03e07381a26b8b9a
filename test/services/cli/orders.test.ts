import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import { keccak256 } from "ethers";
import { DEMO_MEMBERS, demoWallet } from "../../../services/demo/roster";
import { DEMO_GOODS } from "../../../services/demo/supply-chain";
import { glnFor, gtinFor } from "../../../services/gs1/keys";
import { HANDOVER_KINDS } from "../../../services/provenance/acceptance";
import { deadlineArg, durationArg, formatTokenAmount, percentBpsArg, tokenAmountArg } from "../../../services/cli/args";
import type { TestNode } from "../../helpers/node";
import { get as apiGet, sharedNode } from "../api/helpers";
import { json, lotline, oneLine, type Run } from "./run";

/**
 * The CLI's purchase-order commands against the shared test node: the demo's orders (one in each
 * state) read back, then orders of the test's own, signed with dev accounts and relayed: the
 * retailer orders from the distributor, funds with an ERC-2612 permit (gasless), the distributor
 * hands over goods it holds and delivers them, the retailer accepts or disputes, the arbiter
 * resolves, everyone withdraws. Goods use a GTIN and lots the demo does not (item reference 74xx),
 * and the demo's own orders are only read or refused, so other files sharing the node see them
 * unchanged.
 */
const member = (key: string) => {
  const index = DEMO_MEMBERS.findIndex((m) => m.key === key);
  return { account: DEMO_MEMBERS[index].account, org: String(index + 1), address: demoWallet(DEMO_MEMBERS[index].account).address };
};
const PROCESSOR = member("processor"); // org 2: makes the goods
const DISTRIBUTOR = member("distributor"); // org 5: the seller
const RETAILER = member("retailer"); // org 6: the buyer
const AUDITOR = member("auditor"); // org 7: the arbiter
const CERTIFIER = member("certifier"); // org 8: an auditor too, but not the orders' arbiter
const dev = (m: { account: number }) => ["--dev-account", String(m.account)];

describe("lotline order commands", function () {
  this.timeout(300_000);
  const gtin = gtinFor("5412345", 7401);
  const lot = "ORD-7401";
  let node: TestNode;
  let dataDir: string;
  let env: Record<string, string | undefined>;
  let token: string;

  const cli = (args: string[], extra: Record<string, string | undefined> = {}): Promise<Run> => lotline(args, { ...env, ...extra });
  const ok = (run: Run): Run => {
    expect(run.code, `lotline failed: ${run.stderr}`).to.equal(0);
    return run;
  };
  const show = async (orderId: string) => json(await cli(["--json", "order", "show", orderId]));
  const refused = async (args: string[], expected: string | RegExp, extra: Record<string, string | undefined> = {}) => {
    const run = await cli(args, extra);
    const line = oneLine(run);
    expect(run.stdout).to.equal("");
    if (typeof expected === "string") expect(line).to.equal(expected);
    else expect(line).to.match(expected);
  };
  /** A JSON body from the shared node's API. */
  const get = async (path: string): Promise<unknown> => {
    const res = await apiGet(node, path);
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    return res.body;
  };
  const balance = async (address: string) => node.contracts.token.balanceOf(address);
  /** What the escrow owes an organisation (money belongs to organisations, not wallets). */
  const owed = async (orgId: string) => node.contracts.escrow.owed(token, BigInt(orgId));

  before(async function () {
    node = await sharedNode();
    await node.synced();
    token = await node.contracts.token.getAddress();
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "lotline-cli-orders-"));
    // Read-only chain calls (permit nonces) go to the embedded chain at LOTLINE_CHAIN_PORT by default.
    env = { LOTLINE_API_URL: node.url, LOTLINE_DATA_DIR: dataDir, LOTLINE_RPC_URL: undefined, LOTLINE_CHAIN_PORT: new URL(node.chain!.url).port };
  });

  after(function () {
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  describe("values on the command line", function () {
    it("converts prices to token base units with the token's decimals, refusing what would be rounded", function () {
      expect(tokenAmountArg("9.80", 2)).to.equal(980n);
      expect(tokenAmountArg("9.8", 2)).to.equal(980n);
      expect(tokenAmountArg("12", 2)).to.equal(1200n);
      expect(tokenAmountArg("0.000001", 6)).to.equal(1n);
      expect(() => tokenAmountArg("9.805", 2)).to.throw('--price: "9.805" has more decimals than the token\'s 2');
      expect(() => tokenAmountArg("0", 2)).to.throw("--price must be more than zero");
      expect(() => tokenAmountArg("9,80", 2)).to.throw('--price: "9,80" is not an amount');
      expect(formatTokenAmount(117600n, 2)).to.equal("1176.00");
      expect(formatTokenAmount("5", 2)).to.equal("0.05");
    });

    it("reads deadlines, inspection windows and shares", function () {
      const now = Date.parse("2026-01-10T12:00:00Z");
      expect(deadlineArg("+7d", now)).to.equal(now / 1000 + 7 * 86_400);
      expect(deadlineArg("+36h", now)).to.equal(now / 1000 + 36 * 3_600);
      expect(deadlineArg("2026-03-31", now)).to.equal(Date.parse("2026-03-31T00:00:00Z") / 1000);
      expect(deadlineArg("2026-03-31T18:00:00Z", now)).to.equal(Date.parse("2026-03-31T18:00:00Z") / 1000);
      expect(() => deadlineArg("2025-12-31", now)).to.throw("--deadline: 2025-12-31T00:00:00.000Z is not in the future");
      expect(() => deadlineArg("next week", now)).to.throw(/^--deadline must be an ISO date/);
      expect(durationArg("48")).to.equal(48 * 3600);
      expect(durationArg("48h")).to.equal(48 * 3600);
      expect(durationArg("2d")).to.equal(2 * 86_400);
      expect(() => durationArg("2w")).to.throw(/^--inspection must be hours/);
      expect(percentBpsArg("60")).to.equal(6000);
      expect(percentBpsArg("12.5")).to.equal(1250);
      expect(percentBpsArg("0")).to.equal(0);
      expect(() => percentBpsArg("100.01")).to.throw(/^--seller-share must be a percentage from 0 to 100/);
    });
  });

  describe("the demo's orders", function () {
    it("lists them, one in each state, and filters by party and status", async function () {
      const all = json(await cli(["--json", "order", "list"]));
      expect(all.slice(0, 6).map((o: { orderId: string; status: string }) => `${o.orderId} ${o.status}`)).to.deep.equal([
        "1 refunded",
        "2 frozen",
        "3 completed",
        "4 disputed",
        "5 delivered",
        "6 funded",
      ]);
      const disputed = json(await cli(["--json", "order", "list", "--status", "disputed"]));
      expect(disputed.map((o: { orderId: string }) => o.orderId)).to.include("4");
      expect(disputed.every((o: { status: string }) => o.status === "disputed")).to.equal(true);
      const fromDistributor = json(await cli(["--json", "order", "list", "--seller", DISTRIBUTOR.org, "--buyer", RETAILER.org]));
      expect(fromDistributor.slice(0, 2).map((o: { orderId: string }) => o.orderId)).to.deep.equal(["3", "4"]);
      const text = ok(await cli(["order", "list", "--buyer", RETAILER.org])).stdout;
      expect(text).to.match(
        /^ {3}#3 {2}completed {2}org 6 \(FreshMart Supermarkets SpA\) ← org 5 \(Helvetia Food Distribution AG\) {2}03012345000208 300 KGM at 9\.80 LEUR\/KGM {2}total 2940\.00 LEUR {2}deadline 20/m,
      );
      expect(text).to.include("#6  funded     org 6 (FreshMart Supermarkets SpA) ← org 3 (Lyon Fromagerie SA)  03012345000208 500 KGM at 9.75 LEUR/KGM  total 4875.00 LEUR");
      expect(ok(await cli(["order", "list", "--buyer", "99"])).stdout.trim()).to.equal("no orders");
    });

    it("shows a completed order: parties, product, price, total, escrow, delivery and payment", async function () {
      const detail = await show("3");
      const text = ok(await cli(["order", "show", "3"])).stdout;
      for (const line of [
        "order       3",
        "status      completed",
        "buyer       org 6 (FreshMart Supermarkets SpA)",
        "seller      org 5 (Helvetia Food Distribution AG)",
        "arbiter     org 7 (Food Safety Audit Bureau)",
        `product     GTIN ${DEMO_GOODS.butter} (KGM)`,
        "quantity    300 KGM",
        "price       9.80 LEUR per KGM",
        "total       2940.00 LEUR",
        `deadline    ${detail.deliveryDeadline}`,
        `inspection  3 d, ends ${detail.inspectionEnds}`,
        `funded      2940.00 LEUR by ${RETAILER.address}`,
        "held        0.00 LEUR in escrow",
        "delivered   300 of 300 KGM",
        `  ${detail.deliveries[0].batchId}         300 KGM`,
        "2940.00 LEUR credited to the seller (org 5 (Helvetia Food Distribution AG))",
      ]) {
        expect(text).to.include(line);
      }
      expect(text).to.match(/^disputes:\n {2}none$/m);
    });

    it("shows disputes: the demo's rejected and frozen orders", async function () {
      const disputed = ok(await cli(["order", "show", "4"])).stdout;
      expect(disputed).to.include("delivered   200 of 200 KGM (50 KGM contested)");
      expect(disputed).to.include("50 KGM rejected by the buyer: 12 cartons with torn wrapping on arrival (photos in the claim)");
      expect(disputed).to.match(/^payments:\n {2}none$/m);
      const frozen = await show("2");
      expect(frozen.status).to.equal("frozen");
      expect(ok(await cli(["order", "show", "2"])).stdout).to.include(`frozen: delivered batch ${frozen.deliveries[0].batchId} is recalled`);
      const refunded = ok(await cli(["order", "show", "1"])).stdout;
      expect(refunded).to.include("3500.00 LEUR credited back to the buyer");
    });
  });

  describe("an order from creation to payment, signed with dev accounts and relayed", function () {
    let orderId: string;
    let portionId: string;
    const termsFile = () => path.join(dataDir, "terms.txt");

    it("creates the order as the retailer and prints its id", async function () {
      ok(await cli(["product", "register", ...dev(PROCESSOR), "--gtin", gtin, "--name", "CLI order butter", "--unit", "KGM"]));
      fs.writeFileSync(termsFile(), "Incoterms DAP Milano; cartons of 20 × 250 g; 2 % penalty per day late\n");
      const out = json(
        await cli([
          "--json", "order", "create", ...dev(RETAILER), "--seller", DISTRIBUTOR.org, "--gtin", gtin, "--quantity", "120", "--price", "9.80",
          "--deadline", "+7d", "--arbiter", AUDITOR.org, "--terms-file", termsFile(),
        ]),
      );
      orderId = out.orderId;
      expect(Number(orderId)).to.be.greaterThan(6);
      expect(out.function).to.equal("createOrder");
      expect(out.order).to.include({
        status: "created",
        buyerOrgId: RETAILER.org,
        sellerOrgId: DISTRIBUTOR.org,
        arbiterOrgId: AUDITOR.org,
        token,
        gtin,
        quantity: "120",
        unit: "KGM",
        pricePerUnit: "980",
        totalPrice: "117600",
        inspectionWindowSeconds: 48 * 3600,
        termsHash: keccak256(fs.readFileSync(termsFile())),
        funded: "0",
      });
      // The terms file went to the buyer's node once the order existed.
      expect(out.terms).to.include({ orderId, termsHash: keccak256(fs.readFileSync(termsFile())), contentType: "text/plain; charset=utf-8", verified: true });
      const deadline = Date.parse(out.order.deliveryDeadline);
      expect(Math.abs(deadline - (Date.now() + 7 * 86_400_000))).to.be.lessThan(120_000);
      const onChain = await node.contracts.escrow.order(orderId);
      expect(onChain.pricePerUnit).to.equal(980n);
      expect(onChain.quantity).to.equal(120_000n);
    });

    it("order terms get prints the stored terms to the seller, and --out writes their exact bytes", async function () {
      const run = ok(await cli(["order", "terms", "get", orderId], { LOTLINE_DEV_ACCOUNT: String(DISTRIBUTOR.account) }));
      expect(run.stdout).to.include(`order ${orderId}'s terms: `);
      expect(run.stdout).to.include("stored on this node, verified");
      expect(run.stdout).to.include("Incoterms DAP Milano; cartons of 20 × 250 g; 2 % penalty per day late");
      const out = path.join(dataDir, "terms-copy.txt");
      ok(await cli(["order", "terms", "get", orderId, "--out", out], { LOTLINE_DEV_ACCOUNT: String(DISTRIBUTOR.account) }));
      expect(fs.readFileSync(out).equals(fs.readFileSync(termsFile()))).to.equal(true);
    });

    it("order terms put stores the same file again for the seller, and refuses other bytes, a third organisation and unshared reads", async function () {
      const again = json(await cli(["--json", "order", "terms", "put", orderId, termsFile(), ...dev(DISTRIBUTOR)]));
      expect(again).to.include({ orderId, verified: true });
      const other = path.join(dataDir, "other-terms.txt");
      fs.writeFileSync(other, "Incoterms EXW; no penalty\n");
      await refused(["order", "terms", "put", orderId, other, ...dev(RETAILER)], new RegExp(`^lotline: ${other.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} hashes to 0x[0-9a-f]{64}, but order ${orderId} recorded termsHash 0x[0-9a-f]{64}: give the exact file whose keccak256 the order names$`));
      await refused(["order", "terms", "put", orderId, termsFile(), ...dev(PROCESSOR)], /\(not_a_party\)$/);
      await refused(["order", "terms", "get", orderId], /\(not_shared\)$/, { LOTLINE_DEV_ACCOUNT: String(CERTIFIER.account) });
      await refused(["order", "terms", "put", orderId, path.join(dataDir, "missing.txt"), ...dev(RETAILER)], /^lotline: <file>: cannot read .*missing\.txt: ENOENT$/);
    });

    it("prints the new order in words", async function () {
      const run = ok(
        await cli([
          "order", "create", ...dev(RETAILER), "--seller", DISTRIBUTOR.org, "--gtin", gtin, "--quantity", "80", "--price-base-units", "980",
          "--deadline", "+10d", "--inspection", "3d", "--arbiter", AUDITOR.org,
        ]),
      );
      const id = /^created order ([0-9]+): 80 KGM of GTIN [0-9]{14} from org 5 \(Helvetia Food Distribution AG\)$/m.exec(run.stdout)?.[1];
      expect(id, run.stdout).to.equal(String(Number(orderId) + 1));
      expect(run.stdout).to.include("  price     9.80 LEUR per KGM, total 784.00 LEUR");
      expect(run.stdout).to.match(/ {2}deadline {2}20[0-9-]+T[0-9:.]+Z; inspection 3 d after each delivery/);
      expect(run.stdout).to.include("  arbiter   org 7 (Food Safety Audit Bureau)");
      expect(run.stdout).to.include(`  fund it with: lotline order fund ${id}`);
    });

    it("funds it gaslessly with an ERC-2612 permit: the retailer's tokens move into escrow", async function () {
      const before = await balance(RETAILER.address);
      const retailerEth = await node.provider.getBalance(RETAILER.address);
      const out = json(await cli(["--json", "order", "fund", orderId, ...dev(RETAILER)]));
      expect(out.function).to.equal("fundWithPermit");
      expect(out.order).to.include({ status: "funded", funded: "117600", held: "117600", buyerWallet: RETAILER.address });
      expect(out.order.events.map((e: { type: string }) => e.type)).to.deep.equal(["funded"]);
      expect(before - (await balance(RETAILER.address))).to.equal(117_600n);
      expect(await node.provider.getBalance(RETAILER.address)).to.equal(retailerEth); // the relayer paid the gas
      expect(await node.contracts.token.nonces(RETAILER.address)).to.be.greaterThan(0n);
    });

    it("refuses to fund it twice", async function () {
      await refused(["order", "fund", orderId, ...dev(RETAILER)], `lotline: order ${orderId} is funded: only a created order can be funded`);
    });

    it("hands goods over to the retailer through the distributor (batch offer and accept)", async function () {
      const link = `https://id.gs1.org/01/${gtin}/10/${lot}`;
      ok(await cli(["batch", "register", ...dev(PROCESSOR), "--gtin", gtin, "--lot", lot, "--quantity", "200", "--gln", glnFor("5412345", 1)]));
      ok(await cli(["batch", "offer", link, "--to", DISTRIBUTOR.org, "--quantity", "200", ...dev(PROCESSOR)]));
      ok(await cli(["batch", "accept", link, ...dev(DISTRIBUTOR)]));
      ok(await cli(["batch", "offer", link, "--to", RETAILER.org, "--quantity", "120", ...dev(DISTRIBUTOR)]));
      portionId = json(await cli(["--json", "batch", "accept", link, "--gln", glnFor("8012345", 1), ...dev(RETAILER)])).batch.id;
      expect((await node.contracts.provenance.batch(portionId)).custodian).to.equal(BigInt(RETAILER.org));
      const sales = (await get(`/api/v1/batches/${portionId}/sales?from=${DISTRIBUTOR.org}&to=${RETAILER.org}`)) as {
        items: { fromOrgId: string; toOrgId: string; quantity: string; orderId: string | null }[];
        deliverable: { saleIndex: string } | null;
      };
      expect(sales.items.map((x) => [x.fromOrgId, x.toOrgId, x.quantity, x.orderId])).to.deep.equal([[DISTRIBUTOR.org, RETAILER.org, "120", null]]);
      expect(sales.deliverable).to.not.equal(null);
    });

    it("refuses a delivery by anyone but the seller, with the contract's error on one line", async function () {
      await refused(["order", "deliver", orderId, portionId, ...dev(RETAILER)], `lotline: the call would revert: SettlementNotSeller(${orderId}, ${RETAILER.org}) (call_reverted)`);
    });

    it("delivers as the distributor: the order is delivered and its inspection window runs", async function () {
      const run = ok(await cli(["order", "deliver", orderId, portionId, ...dev(DISTRIBUTOR)]));
      expect(run.stdout).to.include(`delivered 120 KGM in 1 batch for order ${orderId}: 120 of 120 KGM delivered; status delivered`);
      expect(run.stdout).to.include(`  ${portionId}  120 KGM`);
      const order = await show(orderId);
      expect(order).to.include({ status: "delivered", delivered: "120" });
      expect(order.deliveries.map((d: { batchId: string }) => d.batchId)).to.deep.equal([portionId]);
      expect(Date.parse(order.inspectionEnds) - Date.parse(order.deliveries[0].at)).to.equal(48 * 3600 * 1000);
      // The batch counts toward this order only, once.
      const again = await cli(["order", "deliver", String(Number(orderId) + 1), portionId, ...dev(DISTRIBUTOR)]);
      expect(oneLine(again)).to.match(/^lotline: the call would revert: SettlementWrongStatus\([0-9]+, 1\) \(call_reverted\)$/);
    });

    it("refuses a release while the inspection window runs", async function () {
      await refused(["order", "release", orderId, ...dev(DISTRIBUTOR)], new RegExp(`^lotline: the call would revert: SettlementInspectionRunning\\(${orderId}, [0-9]+\\) \\(call_reverted\\)$`));
    });

    it("accepts as the retailer: completed, the distributor credited the delivered value", async function () {
      const run = ok(await cli(["order", "accept", orderId, ...dev(RETAILER)]));
      expect(run.stdout).to.include(`accepted the delivery of order ${orderId}; status completed`);
      expect(run.stdout).to.include(`  1176.00 LEUR credited to the seller (org ${DISTRIBUTOR.org})`);
      const order = await show(orderId);
      expect(order).to.include({ status: "completed", held: "0", sellerWallet: DISTRIBUTOR.address });
      expect(order.payments.map((p: { type: string; details: { amount: string } }) => [p.type, p.details.amount])).to.deep.equal([["paid_to_seller", "117600"]]);
      expect(await owed(DISTRIBUTOR.org)).to.equal(117_600n);
    });

    it("withdraws as the distributor's treasury agent to its payout address, then has nothing left to withdraw", async function () {
      const before = await balance(DISTRIBUTOR.address);
      const out = json(await cli(["--json", "order", "withdraw", ...dev(DISTRIBUTOR)]));
      expect(out).to.include({ function: "withdraw", token, orgId: DISTRIBUTOR.org, account: DISTRIBUTOR.address, amount: "117600" });
      expect((await balance(DISTRIBUTOR.address)) - before).to.equal(117_600n);
      await refused(["order", "withdraw", ...dev(DISTRIBUTOR)], `lotline: the escrow owes org ${DISTRIBUTOR.org} nothing in LEUR`);
      const account = (await get(`/api/v1/orgs/${DISTRIBUTOR.org}/settlement`)) as { payoutAddress: string; owed: { token: string; amount: string }[] };
      expect(account.payoutAddress).to.equal(DISTRIBUTOR.address);
      expect(account.owed.find((o) => o.token === token)?.amount).to.equal("0");
    });

    it("refuses a payout address set by an agent without the org-admin role", async function () {
      const integration = DEMO_MEMBERS.find((m) => m.key === "distributor")!.integrationAccount;
      await refused(
        ["order", "payout-address", RETAILER.address, "--dev-account", String(integration)],
        new RegExp(`^lotline: the call would revert: IdentityUnauthorizedAgent\\(0x[0-9a-fA-F]{40}, 128\\) \\(call_reverted\\)$`),
      );
      expect(await node.contracts.escrow.payoutAddress(BigInt(DISTRIBUTOR.org))).to.equal(DISTRIBUTOR.address);
    });
  });

  describe("a delivery of the most batches the contract takes in one call", function () {
    it("delivers 32 batches in one relayed call (the gas the CLI asks for covers them)", async function () {
      // 32 one-kilogram lots handed from the processor to the retailer, directly on the chain.
      const as = (m: { account: number }) => node.contracts.provenance.connect(demoWallet(m.account, node.provider));
      const lots = Array.from({ length: 32 }, (_, i) => `ORD-7402-${i}`);
      const zero = `0x${"00".repeat(32)}`;
      await (await as(PROCESSOR).registerLots(lots.map((l) => ({ gtin: BigInt(gtin), lot: l, quantity: 1000n, gln: "", metadataHash: zero })))).wait();
      const ids = await Promise.all(lots.map((l) => node.contracts.provenance.lotId(BigInt(gtin), l)));
      const created = json(
        await cli(["--json", "order", "create", ...dev(RETAILER), "--seller", PROCESSOR.org, "--gtin", gtin, "--quantity", "32", "--price", "1", "--deadline", "+2d"]),
      );
      ok(await cli(["order", "fund", created.orderId, ...dev(RETAILER)]));
      // Sold after the order was funded: earlier sales never count.
      for (const id of ids) {
        await (await as(PROCESSOR).offer(id, 1000n, BigInt(RETAILER.org), HANDOVER_KINDS.both)).wait();
        await (await as(RETAILER).accept(id, 1000n, HANDOVER_KINDS.both, "")).wait();
      }
      await node.synced();
      const run = ok(await cli(["order", "deliver", created.orderId, ...ids, ...dev(PROCESSOR)]));
      expect(run.stdout).to.include(`delivered 32 KGM in 32 batches for order ${created.orderId}: 32 of 32 KGM delivered; status delivered`);
      expect((await show(created.orderId)).deliveries).to.have.length(32);
      ok(await cli(["order", "accept", created.orderId, ...dev(RETAILER)]));
      ok(await cli(["order", "withdraw", ...dev(PROCESSOR)]));
    });
  });

  describe("a dispute settled by the arbiter", function () {
    let orderId: string;
    let batchId: string;

    before(async function () {
      // The second order created above: 80 KGM from the distributor, arbiter org 7.
      const mine = json(await cli(["--json", "order", "list", "--buyer", RETAILER.org, "--seller", DISTRIBUTOR.org, "--status", "created"]));
      orderId = mine.find((o: { quantity: string }) => o.quantity === "80").orderId;
      batchId = await node.contracts.provenance.lotId(BigInt(gtin), lot);
    });

    it("funds with --rpc-url, sells and delivers, rejects part, and the auditor resolves with a split", async function () {
      ok(await cli(["order", "fund", orderId, ...dev(RETAILER), "--rpc-url", node.chain!.url], { LOTLINE_CHAIN_PORT: "1" }));
      const link = `https://id.gs1.org/01/${gtin}/10/${lot}`;
      // Goods sold before the order was funded would not count: the distributor sells the rest now.
      ok(await cli(["batch", "offer", link, "--to", RETAILER.org, "--quantity", "80", ...dev(DISTRIBUTOR)]));
      const restId = json(await cli(["--json", "batch", "accept", link, ...dev(RETAILER)])).batch.id;
      expect(restId).to.equal(batchId);
      ok(await cli(["order", "deliver", orderId, link, ...dev(DISTRIBUTOR)]));
      const rejected = ok(await cli(["order", "reject", orderId, "--quantity", "30", "--reason", "six cartons crushed", ...dev(RETAILER)]));
      expect(rejected.stdout).to.include(`rejected 30 KGM of order ${orderId}: six cartons crushed; status disputed`);
      expect(rejected.stdout).to.include(`org 7 (Food Safety Audit Bureau) settles it with: lotline order resolve ${orderId} --seller-share <percent>`);
      expect(ok(await cli(["order", "show", orderId])).stdout).to.include("30 KGM rejected by the buyer: six cartons crushed");

      // Only an auditor agent of the order's arbiter organisation resolves: the buyer is no auditor,
      // the certifier (an auditor of org 8) not the order's arbiter.
      await refused(["order", "resolve", orderId, "--seller-share", "50", ...dev(RETAILER)], `lotline: the call would revert: IdentityUnauthorizedAgent(${RETAILER.address}, 32) (call_reverted)`);
      await refused(["order", "resolve", orderId, "--seller-share", "50", ...dev(CERTIFIER)], `lotline: the call would revert: SettlementNotArbiter(${orderId}, ${CERTIFIER.address}) (call_reverted)`);
      const sellerBefore = await owed(DISTRIBUTOR.org);
      const buyerBefore = await owed(RETAILER.org);
      const resolved = ok(await cli(["order", "resolve", orderId, "--seller-share", "50", ...dev(AUDITOR)]));
      // 50 KGM uncontested (490.00) + half of 30 KGM (147.00) to the seller; the rest (147.00) back.
      expect(resolved.stdout).to.include(`resolved order ${orderId}: 50% of the contested value to the seller; status resolved`);
      expect(resolved.stdout).to.include(`  637.00 LEUR credited to the seller (org ${DISTRIBUTOR.org})`);
      expect(resolved.stdout).to.include(`  147.00 LEUR credited to the buyer (org ${RETAILER.org})`);
      expect((await owed(DISTRIBUTOR.org)) - sellerBefore).to.equal(63_700n);
      expect((await owed(RETAILER.org)) - buyerBefore).to.equal(14_700n);
      const order = await show(orderId);
      expect(order).to.include({ status: "resolved", held: "0", contested: "0" });
      expect(order.disputes.map((d: { type: string }) => d.type)).to.deep.equal(["rejected", "resolved"]);
      expect(order.deliveries.map((d: { batchId: string }) => d.batchId)).to.deep.equal([batchId]);

      const withdrawn = ok(await cli(["order", "withdraw", ...dev(RETAILER)]));
      expect(withdrawn.stdout.trim()).to.equal(`withdrew ${formatTokenAmount(buyerBefore + 14_700n, 2)} LEUR of org ${RETAILER.org} to ${RETAILER.address}`);
      ok(await cli(["order", "withdraw", ...dev(DISTRIBUTOR)]));
      expect(await owed(DISTRIBUTOR.org)).to.equal(0n);
    });
  });

  describe("refusals, each on one line with a non-zero exit", function () {
    const create = (extra: string[]) => [
      "order", "create", ...dev(RETAILER), "--seller", DISTRIBUTOR.org, "--gtin", gtin, "--quantity", "10", "--price", "9.80", "--deadline", "+7d", ...extra,
    ];

    it("malformed values", async function () {
      await refused(
        ["order", "create", ...dev(RETAILER), "--seller", "5", "--gtin", gtin, "--quantity", "abc", "--price", "9.80", "--deadline", "+7d"],
        'lotline: --quantity: "abc" is not a quantity (a decimal number with at most 3 decimals)',
      );
      await refused(create(["--price", "9.805"]), 'lotline: --price: "9.805" has more decimals than the token\'s 2');
      await refused(create(["--price-base-units", "980"]), "lotline: give the price per unit: --price <amount> or --price-base-units <n>");
      await refused(create(["--deadline", "2020-01-01"]), "lotline: --deadline: 2020-01-01T00:00:00.000Z is not in the future");
      await refused(create(["--inspection", "a week"]), 'lotline: --inspection must be hours ("48", "48h") or days ("2d"), got "a week"');
      await refused(create(["--arbiter", DISTRIBUTOR.org]), "lotline: --arbiter must be neither the seller nor the buyer");
      await refused(create(["--terms-hash", "0x12"]), 'lotline: --terms-hash must be 0x followed by 64 hex digits, got "0x12"');
      await refused(create(["--token", "0xnope"]), 'lotline: --token must be an address (0x followed by 40 hex digits), got "0xnope"');
      await refused(["order", "show", "abc"], 'lotline: the order id must be a positive integer, got "abc"');
      await refused(["order", "list", "--status", "paid"], /^lotline: --status must be one of created, funded, .*, got "paid"$/);
      await refused(["order", "resolve", "4", "--seller-share", "150", ...dev(AUDITOR)], 'lotline: --seller-share must be a percentage from 0 to 100 (up to 2 decimals), got "150"');
    });

    it("an order from your own organisation, or of a product nobody registered", async function () {
      await refused(create([]).map((a) => (a === DISTRIBUTOR.org ? RETAILER.org : a)), `lotline: --seller is your own organisation (org ${RETAILER.org})`);
      const unknown = gtinFor("5412345", 7499);
      await refused(create([]).map((a) => (a === gtin ? unknown : a)), `lotline: no product ${unknown} is registered: its maker registers it first`);
    });

    it("an order that does not exist", async function () {
      await refused(["order", "show", "999999"], "lotline: no order 999999 (order_not_found)");
      await refused(["order", "fund", "999999", ...dev(RETAILER)], "lotline: no order 999999 (order_not_found)");
      await refused(["order", "accept", "999999", ...dev(RETAILER)], "lotline: no order 999999 (order_not_found)");
    });

    it("a rejection of an order nothing was delivered for; then the order is cancelled by its seller", async function () {
      const created = json(await cli(["--json", ...create([])]));
      expect(created.order.arbiterOrgId).to.equal(null);
      expect(created.order).to.include({ disputeTimeoutSeconds: 30 * 86_400, defaultSellerShareBps: 5_000 });
      await refused(
        ["order", "reject", created.orderId, "--quantity", "1", "--reason", "late", ...dev(RETAILER)],
        `lotline: the call would revert: SettlementWrongStatus(${created.orderId}, 1) (call_reverted)`,
      );
      const cancelled = ok(await cli(["order", "cancel", created.orderId, ...dev(DISTRIBUTOR)]));
      expect(cancelled.stdout.trim()).to.equal(`cancelled order ${created.orderId}; status cancelled`);
      await refused(["order", "fund", created.orderId, ...dev(RETAILER)], `lotline: order ${created.orderId} is cancelled: only a created order can be funded`);
    });

    it("calls the contract refuses, on the demo's orders (which stay unchanged)", async function () {
      // Order 6 is funded, its deadline ahead: no refund yet. Order 4 is disputed: only its arbiter resolves.
      await refused(["order", "refund", "6", ...dev(RETAILER)], /^lotline: the call would revert: SettlementDeadlineNotPassed\(6, [0-9]+\) \(call_reverted\)$/);
      await refused(["order", "resolve", "4", "--seller-share", "100", ...dev(CERTIFIER)], `lotline: the call would revert: SettlementNotArbiter(4, ${CERTIFIER.address}) (call_reverted)`);
      await refused(["order", "accept", "3", ...dev(RETAILER)], "lotline: the call would revert: SettlementWrongStatus(3, 6) (call_reverted)");
      expect((await show("6")).status).to.equal("funded");
      expect((await show("4")).status).to.equal("disputed");
    });

    it("funding when the chain cannot be read for the permit nonce", async function () {
      const created = json(await cli(["--json", ...create([])]));
      await refused(
        ["order", "fund", created.orderId, ...dev(RETAILER), "--rpc-url", "http://127.0.0.1:1"],
        "lotline: cannot reach the chain's JSON-RPC at http://127.0.0.1:1 to read your token balance: give --rpc-url <url> or set LOTLINE_RPC_URL",
      );
      ok(await cli(["order", "cancel", created.orderId, ...dev(RETAILER)]));
    });
  });
});
