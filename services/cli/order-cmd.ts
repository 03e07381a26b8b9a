import fs from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { getAddress, keccak256, Signature, type HDNodeWallet, type Interface, type Result, type Wallet } from "ethers";
import { INTERFACES } from "../chain/contracts";
import { createRpcClient, RetryableRpcError } from "../chain/rpc";
import { formatQuantity } from "../provenance/quantity";
import { apiGet, apiRequest, CliError } from "./client";
import { signIn } from "./product-cmd";
import {
  addressArg,
  baseUnitsArg,
  deadlineArg,
  durationArg,
  formatTokenAmount,
  gtinArg,
  hashArg,
  orderIdArg,
  orgIdArg,
  percentBpsArg,
  quantityArg,
  tokenAmountArg,
} from "./args";
import { actor, getBatch, signing, type Print } from "./batch-cmd";
import { deliveredText, deliveryLine, inspectionText, orderLine, orgNames, renderOrder, type Money, type OrderDetailJson, type OrderEventJson, type OrderJson } from "./format";
import type { SignerOptions } from "./keystore";
import type { Deployment, Relayed } from "./relay-client";
import { DISPUTE_DEFAULTS, MAX_DISPUTE_TIMEOUT_SECONDS } from "../settlement/terms";

/**
 * `lotline order …`: escrowed purchase orders (contracts/settlement/SettlementEscrow.sol), every
 * write signed here and relayed (gasless) through the service, like the batch commands.
 *
 * Two things the API does not serve, and how the CLI gets them:
 * - Token decimals. The deployment's token is the ConsortiumToken (LEUR), whose `decimals()` is
 *   the constant 2, so `--price 9.80` means 980 base units without asking the chain. For another
 *   token, `--price` reads `decimals()` from the chain (below), or give `--price-base-units`.
 * - The ERC-2612 permit nonce (`nonces(owner)` of the token), which `order fund` must sign. It is
 *   read, with the token's EIP-712 domain, balance and allowance, by read-only `eth_call`s to the
 *   chain's JSON-RPC: `--rpc-url`, else LOTLINE_RPC_URL, else the embedded chain at
 *   http://127.0.0.1:$LOTLINE_CHAIN_PORT. Nothing is ever sent to the chain directly. `order
 *   withdraw` reads the amount owed the same way when it can (only to print it).
 */

/** The deployment's token (services/chain/deploy.ts: ConsortiumToken "Lotline Settlement Euro", LEUR, 2 decimals). */
export const DEPLOYMENT_TOKEN = { symbol: "LEUR", decimals: 2 } as const;

export const ORDER_STATUSES = ["created", "funded", "delivered", "disputed", "frozen", "completed", "refunded", "resolved", "cancelled"] as const;

const PERMIT_TYPES = {
  Permit: [
    { name: "owner", type: "address" },
    { name: "spender", type: "address" },
    { name: "value", type: "uint256" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
};

/** How long a signed permit stays valid (the relayed call is mined within seconds). */
const PERMIT_SECONDS = 3_600;

type RpcOptions = { rpcUrl?: string };

export function rpcUrlOf(opts: RpcOptions, env: NodeJS.ProcessEnv = process.env): string {
  const url = opts.rpcUrl?.trim() || env.LOTLINE_RPC_URL?.trim() || `http://127.0.0.1:${env.LOTLINE_CHAIN_PORT?.trim() || "8545"}`;
  if (!/^https?:\/\//.test(url)) throw new CliError(`--rpc-url must be an http(s) URL, got "${url}"`);
  return url;
}

/**
 * Read-only calls on the chain the service follows, for what the API does not serve. The chain id
 * is checked against the service's deployment first, so a wrong URL cannot yield a wrong nonce.
 */
export function chainReader(opts: RpcOptions, deployment: Deployment) {
  const url = rpcUrlOf(opts);
  const rpc = createRpcClient(url, { timeoutMs: 10_000 });
  let checked: Promise<void> | null = null;
  const unreachable = (what: string) =>
    new CliError(`cannot reach the chain's JSON-RPC at ${url} to read ${what}: give --rpc-url <url> or set LOTLINE_RPC_URL`);

  async function request<T>(what: string, method: string, params: unknown[]): Promise<T> {
    try {
      return await rpc.call<T>(method, params);
    } catch (err) {
      if (err instanceof RetryableRpcError) throw unreachable(what);
      throw err;
    }
  }
  const check = (what: string) =>
    (checked ??= (async () => {
      const id = Number(await request<string>(what, "eth_chainId", []));
      if (id !== deployment.chainId) throw new CliError(`the JSON-RPC at ${url} serves chain ${id}, the service chain ${deployment.chainId}: give the right --rpc-url`);
    })());

  async function call(what: string, iface: Interface, to: string, fn: string, args: unknown[]): Promise<Result> {
    await check(what);
    const raw = await request<string>(what, "eth_call", [{ to, data: iface.encodeFunctionData(fn, args) }, "latest"]);
    return iface.decodeFunctionResult(fn, raw);
  }
  /** Like `call`, but null when the contract has no such function (reverts or returns nothing). */
  async function tryCall(what: string, iface: Interface, to: string, fn: string, args: unknown[]): Promise<Result | null> {
    try {
      return await call(what, iface, to, fn, args);
    } catch (err) {
      if (err instanceof CliError) throw err;
      return null;
    }
  }
  return {
    url,
    call,
    tryCall,
    async chainTime(): Promise<number> {
      await check("the latest block");
      const block = await request<{ timestamp: string }>("the latest block", "eth_getBlockByNumber", ["latest", false]);
      return Number(block.timestamp);
    },
  };
}

/** Amounts in words: LEUR with its 2 decimals for the deployment's token, base units otherwise. */
export function moneyOf(deployment: Deployment): Money {
  const token = deployment.contracts.token?.toLowerCase();
  return (amount, address) =>
    address.toLowerCase() === token ? `${formatTokenAmount(amount, DEPLOYMENT_TOKEN.decimals)} ${DEPLOYMENT_TOKEN.symbol}` : `${BigInt(amount)} base units of ${address}`;
}

export const getOrder = (orderId: string) => apiGet<OrderDetailJson>(`/api/v1/orders/${orderIdArg(orderId)}`);

/** Every order matching the filters, following the cursor. */
async function listOrders(filters: Record<string, string>): Promise<OrderJson[]> {
  const items: OrderJson[] = [];
  let cursor: string | null = null;
  do {
    const query = new URLSearchParams({ limit: "500", ...filters, ...(cursor ? { cursor } : {}) });
    const page: { items: OrderJson[]; nextCursor: string | null } = await apiGet(`/api/v1/orders?${query}`);
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return items;
}

const orgOf = async (address: string) => (await apiGet<{ orgId: string }>(`/api/v1/agents/${address}`)).orgId;

/** What a transaction credited (payments of the order made in it). */
const creditsOf = (order: OrderDetailJson, tx: Relayed): OrderEventJson[] =>
  order.payments.filter((p) => p.transactionHash.toLowerCase() === tx.transactionHash.toLowerCase());

function creditLines(order: OrderDetailJson, tx: Relayed, money: Money): string[] {
  return creditsOf(order, tx).map(
    (p) => `  ${money(String(p.details.amount), order.token)} credited to the ${p.type === "paid_to_seller" ? "seller" : "buyer"} (org ${p.details.orgId})`,
  );
}

interface SaleJson {
  saleIndex: string;
  batchId: string;
  fromOrgId: string;
  toOrgId: string;
  quantity: string;
  orderId: string | null;
}

/**
 * The sale a delivery names for each ref: `<batch>@<index>` names it outright; a batch id or
 * Digital Link resolves to the batch's latest sale from the seller to the buyer not yet counted
 * toward an order (the index's sales table).
 */
async function salesFor(refs: string[], order: OrderJson): Promise<{ batchId: string; index: bigint }[]> {
  return Promise.all(
    refs.map(async (ref) => {
      const at = /^(0x[0-9a-fA-F]{64})@([0-9]+)$/.exec(ref);
      if (at) return { batchId: at[1].toLowerCase(), index: BigInt(at[2]) };
      const batch = await getBatch(ref);
      const found = await apiGet<{ deliverable: SaleJson | null }>(
        `/api/v1/batches/${batch.id}/sales?from=${order.sellerOrgId}&to=${order.buyerOrgId}`,
      );
      if (!found.deliverable) {
        throw new CliError(
          `no sale of batch ${batch.id} from org ${order.sellerOrgId} to org ${order.buyerOrgId} is recorded: hand it over with ownership first (lotline batch offer … --kind both, then the buyer accepts)`,
        );
      }
      return { batchId: found.deliverable.batchId, index: BigInt(found.deliverable.saleIndex) };
    }),
  );
}

/** A relayed escrow call on one order, and the order as the index shows it afterwards. */
async function onOrder(orderId: string, opts: SignerOptions, fn: string, args: (order: OrderDetailJson) => unknown[]) {
  const before = await getOrder(orderId);
  const { relay, signer } = await actor(opts);
  const tx = await relay.send(signer, "escrow", fn, args(before));
  const [order, deployment] = await Promise.all([getOrder(orderId), relay.deployment()]);
  return { tx, before, order, money: moneyOf(deployment), signer };
}

/** An order's terms document as GET /api/v1/orders/{orderId}/terms answers it. */
export interface TermsJson {
  orderId: string;
  termsHash: string;
  contentType: string | null;
  content: string | null;
  size: number | null;
  verified: boolean;
  origin: { orgId: string; servedBy: string | null; verified: boolean } | null;
  gaps: { orgId: string | null; reason: string; detail: string }[];
}

/** What PUT /api/v1/orders/{orderId}/terms answers. */
interface StoredTermsJson {
  orderId: string;
  termsHash: string;
  contentType: string;
  size: number;
  verified: boolean;
  origin: { orgId: string; servedBy: string | null; verified: boolean };
}

/** The largest terms document a node stores (services/settlement/order-terms.ts, MAX_TERMS_BYTES). */
const MAX_TERMS_BYTES = 1_048_576;

const CONTENT_TYPES: Record<string, string> = {
  ".json": "application/json",
  ".pdf": "application/pdf",
  ".txt": "text/plain; charset=utf-8",
  ".md": "text/markdown; charset=utf-8",
  ".xml": "application/xml",
  ".html": "text/html; charset=utf-8",
};

function readTermsFile(file: string, option: string): Buffer {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    throw new CliError(`${option}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (bytes.length === 0) throw new CliError(`${option}: ${file} is empty`);
  if (bytes.length > MAX_TERMS_BYTES) throw new CliError(`${option}: ${file} is ${bytes.length} bytes; a node stores terms documents of at most ${MAX_TERMS_BYTES} bytes`);
  return bytes;
}

/** Stores the bytes as the order's terms, signed in as `signer` (a buyer or seller agent). */
async function putTerms(orderId: string, bytes: Buffer, contentType: string, signer: Wallet | HDNodeWallet): Promise<StoredTermsJson> {
  const token = await signIn(signer);
  return apiRequest<StoredTermsJson>("PUT", `/api/v1/orders/${orderId}/terms`, { token, body: { contentType, content: bytes.toString("base64") } });
}

const originText = (origin: { servedBy: string | null; verified: boolean }) =>
  `${origin.servedBy ? `from ${origin.servedBy}` : "stored on this node"}, ${origin.verified ? "verified" : "NOT verified"}`;

const TEXT_TYPES = /^(text\/|application\/(json|xml|ld\+json)|[^/]+\/[^;]*\+(json|xml))/;

const rpcOption = (command: Command, what: string) =>
  command.option("--rpc-url <url>", `chain JSON-RPC for read-only calls (${what}); default LOTLINE_RPC_URL, else http://127.0.0.1:$LOTLINE_CHAIN_PORT`);

export function registerOrderCommands(program: Command, print: Print): void {
  const order = program.command("order").description("escrowed purchase orders: create, fund, deliver, accept or reject, settle, inspect");

  rpcOption(
    signing(
      order
        .command("create")
        .description("order a quantity of a GTIN from another organisation (you sign as a buyer agent); prints the order id")
        .requiredOption("--seller <orgId>", "the selling organisation")
        .requiredOption("--gtin <gtin>", "the product ordered (a registered GTIN)")
        .requiredOption("--quantity <q>", "how much, in the product's unit (up to 3 decimals)")
        .option("--price <amount>", "price per unit of quantity as a decimal in the token (LEUR: 2 decimals, e.g. 9.80)")
        .option("--price-base-units <n>", "price per unit in the token's base units (instead of --price)")
        .requiredOption("--deadline <date|+Nd>", 'delivery deadline: ISO date or date-time ("2026-03-31", UTC midnight) or from now ("+14d", "+36h")')
        .option("--inspection <hours|Nd>", "inspection window after each delivery: hours (48, 48h) or days (2d)", "48h")
        .option("--arbiter <orgId>", "organisation (one governance allows to audit) that settles disputes; without one, governance settles them")
        .option("--dispute-timeout <hours|Nd>", "how long the arbiter has to decide a dispute or freeze before anyone may apply the default split", "30d")
        .option("--default-seller-share <percent>", "the contested value's share to the seller when nobody decides in time (0–100)", String(DISPUTE_DEFAULTS.sellerShareBps / 100))
        .option("--token <address>", "ERC-20 to pay in (default: the deployment's token, LEUR)")
        .option("--terms-file <file>", "file of the commercial terms kept off-chain; its keccak256 is recorded, and the file is stored on your node once the order exists")
        .option("--terms-content-type <type>", "media type of --terms-file (default from its extension: .json application/json, .pdf, .txt, …)")
        .option("--terms-hash <0x..>", "hash of the commercial terms (instead of --terms-file; default zero)"),
    ),
    "decimals of a --token other than the deployment's",
  ).action(
    async (
      opts: SignerOptions &
        RpcOptions & {
          seller: string;
          gtin: string;
          quantity: string;
          price?: string;
          priceBaseUnits?: string;
          deadline: string;
          inspection: string;
          arbiter?: string;
          disputeTimeout: string;
          defaultSellerShare: string;
          token?: string;
          termsFile?: string;
          termsHash?: string;
          termsContentType?: string;
        },
    ) => {
      const seller = orgIdArg(opts.seller, "--seller");
      const gtin = gtinArg(opts.gtin);
      const quantity = quantityArg(opts.quantity);
      const deliveryDeadline = deadlineArg(opts.deadline);
      const inspectionWindow = durationArg(opts.inspection);
      const arbiter = opts.arbiter === undefined ? 0n : orgIdArg(opts.arbiter, "--arbiter");
      const disputeTimeout = durationArg(opts.disputeTimeout, "--dispute-timeout");
      if (disputeTimeout <= 0 || disputeTimeout > MAX_DISPUTE_TIMEOUT_SECONDS) throw new CliError("--dispute-timeout must be more than zero and at most 365 days");
      const defaultSellerShareBps = percentBpsArg(opts.defaultSellerShare, "--default-seller-share");
      if (arbiter !== 0n && arbiter === seller) throw new CliError("--arbiter must be neither the seller nor the buyer");
      if ((opts.price === undefined) === (opts.priceBaseUnits === undefined)) throw new CliError("give the price per unit: --price <amount> or --price-base-units <n>");
      if (opts.termsFile !== undefined && opts.termsHash !== undefined) throw new CliError("give either --terms-file or --terms-hash, not both");
      let termsHash = hashArg(opts.termsHash, "--terms-hash");
      const termsBytes = opts.termsFile === undefined ? null : readTermsFile(opts.termsFile, "--terms-file");
      if (termsBytes) termsHash = keccak256(termsBytes);
      if (opts.termsContentType !== undefined && !termsBytes) throw new CliError("--terms-content-type goes with --terms-file");
      const termsType = termsBytes ? termsContentType(opts.termsFile!, opts.termsContentType, "--terms-content-type") : null;
      const unit = await productUnit(gtin);
      const { relay, signer } = await actor(opts);
      const deployment = await relay.deployment();
      const token = opts.token === undefined ? deployment.contracts.token : addressArg(opts.token, "--token");
      if (!token) throw new CliError("the service's deployment has no token: give --token <address>");
      let pricePerUnit: bigint;
      if (opts.priceBaseUnits !== undefined) pricePerUnit = baseUnitsArg(opts.priceBaseUnits);
      else if (token.toLowerCase() === deployment.contracts.token?.toLowerCase()) pricePerUnit = tokenAmountArg(opts.price!, DEPLOYMENT_TOKEN.decimals);
      else {
        const decimals = await chainReader(opts, deployment).tryCall("the token's decimals", INTERFACES.token, token, "decimals", []);
        if (!decimals) throw new CliError(`token ${token} does not say its decimals: give --price-base-units`);
        pricePerUnit = tokenAmountArg(opts.price!, Number(decimals[0]));
      }
      if ((quantity * pricePerUnit) / 1000n === 0n) throw new CliError("the order's total (quantity × price) rounds to zero base units of the token");
      const buyer = await orgOf(signer.address);
      if (buyer === seller.toString()) throw new CliError(`--seller is your own organisation (org ${buyer})`);
      if (buyer === arbiter.toString()) throw new CliError("--arbiter must be neither the seller nor the buyer");

      const tx = await relay.send(signer, "escrow", "createOrder", [
        { seller, arbiter, token, gtin: BigInt(gtin), quantity, pricePerUnit, deliveryDeadline, inspectionWindow, disputeTimeout, defaultSellerShareBps, termsHash },
      ]);
      // The order id is the index's: the buyer's order created by this transaction.
      const created = (await listOrders({ buyer })).find((o) => o.transactionHash.toLowerCase() === tx.transactionHash.toLowerCase());
      if (!created) throw new CliError(`order created in ${tx.transactionHash}, but the index does not list it yet: see 'lotline order list --buyer ${buyer}'`);
      const detail = await getOrder(created.orderId);
      const org = await orgNames();
      const money = moneyOf(deployment);
      // The terms file goes to the buyer's node once the order exists (its hash is now on-chain).
      let terms: StoredTermsJson | null = null;
      if (termsBytes) {
        try {
          terms = await putTerms(created.orderId, termsBytes, termsType!, signer);
        } catch (err) {
          throw new CliError(
            `created order ${created.orderId} (${tx.transactionHash}), but its terms were not stored: ${(err as Error).message}; store them with: lotline order terms put ${created.orderId} ${opts.termsFile}`,
          );
        }
      }
      print({ ...tx, orderId: created.orderId, order: detail, ...(terms ? { terms } : {}) }, () =>
        [
          `created order ${created.orderId}: ${formatQuantity(quantity)} ${unit} of GTIN ${gtin} from ${org(seller.toString())}`,
          `  price     ${money(pricePerUnit, token)} per ${unit}, total ${money(detail.totalPrice, token)}`,
          `  deadline  ${detail.deliveryDeadline}; inspection ${inspectionText(inspectionWindow)} after each delivery`,
          `  arbiter   ${arbiter === 0n ? "none (governance settles disputes)" : org(arbiter.toString())}`,
          `  disputes  undecided after ${inspectionText(disputeTimeout)}: ${defaultSellerShareBps / 100}% of the contested value to the seller`,
          ...(terms ? [`  terms     ${terms.termsHash} (${terms.size} bytes, ${terms.contentType}) ${originText(terms.origin)}`] : []),
          `  fund it with: lotline order fund ${created.orderId}`,
        ].join("\n"),
      );
    },
  );

  rpcOption(
    signing(
      order
        .command("fund")
        .description("move the order's total from your wallet into escrow, gasless: you sign an ERC-2612 permit for the escrow")
        .argument("<orderId>", "the order"),
    ),
    "the token's permit nonce, EIP-712 domain, balance and allowance",
  ).action(async (orderId: string, opts: SignerOptions & RpcOptions) => {
    const before = await getOrder(orderId);
    if (before.status !== "created") throw new CliError(`order ${before.orderId} is ${before.status}: only a created order can be funded`);
    const { relay, signer } = await actor(opts);
    const deployment = await relay.deployment();
    const chain = chainReader(opts, deployment);
    const token = getAddress(before.token);
    const escrow = deployment.contracts.escrow;
    const amount = BigInt(before.totalPrice);
    const money = moneyOf(deployment);
    const [balance] = await chain.call("your token balance", INTERFACES.token, token, "balanceOf", [signer.address]);
    if ((balance as bigint) < amount) {
      throw new CliError(`${signer.address} holds ${money(balance as bigint, token)}; order ${before.orderId} needs ${money(amount, token)}`);
    }
    const [allowance] = await chain.call("your allowance", INTERFACES.token, token, "allowance", [signer.address, escrow]);
    let tx: Relayed;
    let how: string;
    if ((allowance as bigint) >= amount) {
      // Already approved (a token without permits is approved once, directly): fund pulls with it.
      tx = await relay.send(signer, "escrow", "fund", [BigInt(before.orderId)]);
      how = "with your existing approval";
    } else {
      const permit = await signPermit(chain, signer, token, escrow, amount, deployment.chainId);
      tx = await relay.send(signer, "escrow", "fundWithPermit", [BigInt(before.orderId), permit.deadline, permit.v, permit.r, permit.s]);
      how = "with a signed permit";
    }
    const after = await getOrder(before.orderId);
    print({ ...tx, order: after }, () =>
      [
        `funded order ${after.orderId} ${how}: ${money(after.funded, token)} moved from ${signer.address} into escrow; status ${after.status}`,
        `  the seller delivers with: lotline order deliver ${after.orderId} <batch…>`,
      ].join("\n"),
    );
  });

  signing(
    order
      .command("deliver")
      .description("as the seller, record sales of the ordered GTIN to the buyer made after funding (sell first: batch offer --kind both or ownership, the buyer accepts)")
      .argument("<orderId>", "the order")
      .argument("<ref...>", "batch ids (0x…) or Digital Links, each resolved to its latest sale from you to the buyer; or <batchId>@<saleIndex> (at most 32)"),
  ).action(async (orderId: string, refs: string[], opts: SignerOptions) => {
    orderIdArg(orderId);
    const current = await getOrder(orderId);
    const sales = await salesFor(refs, current);
    const { tx, order: after } = await onOrder(orderId, opts, "deliver", (o) => [BigInt(o.orderId), sales]);
    const unit = after.unit ?? "units";
    const added = after.deliveries.filter((d) => d.transactionHash.toLowerCase() === tx.transactionHash.toLowerCase());
    print({ ...tx, order: after }, () =>
      [
        `delivered ${deliveredText(added, unit)} for order ${after.orderId}: ${after.delivered} of ${after.quantity} ${unit} delivered; status ${after.status}`,
        ...added.map((d) => `  ${deliveryLine(d, unit)}`),
        `  the buyer inspects until ${after.inspectionEnds}: lotline order accept ${after.orderId}, or lotline order reject ${after.orderId} --quantity <q> --reason <text>`,
      ].join("\n"),
    );
  });

  signing(
    order
      .command("accept")
      .description("as the buyer, accept what was delivered: the seller is credited its value, you the rest; the order completes")
      .argument("<orderId>", "the order"),
  ).action(async (orderId: string, opts: SignerOptions) => {
    const { tx, order: after, money } = await onOrder(orderId, opts, "acceptDelivery", (o) => [BigInt(o.orderId)]);
    print({ ...tx, order: after }, () =>
      [`accepted the delivery of order ${after.orderId}; status ${after.status}`, ...creditLines(after, tx, money), "  each collects with: lotline order withdraw"].join("\n"),
    );
  });

  signing(
    order
      .command("reject")
      .description("as the buyer, within the inspection window, reject part of what was delivered: a dispute for the order's arbiter (governance without one)")
      .argument("<orderId>", "the order")
      .requiredOption("--quantity <q>", "how much of the delivered quantity you reject")
      .requiredOption("--reason <text>", "why (recorded on-chain)"),
  ).action(async (orderId: string, opts: SignerOptions & { quantity: string; reason: string }) => {
    orderIdArg(orderId);
    const quantity = quantityArg(opts.quantity);
    if (!opts.reason.trim()) throw new CliError("--reason must say why the delivery is rejected");
    const { tx, order: after } = await onOrder(orderId, opts, "reject", (o) => [BigInt(o.orderId), quantity, opts.reason]);
    const org = await orgNames();
    print({ ...tx, order: after }, () =>
      [
        `rejected ${formatQuantity(quantity)} ${after.unit ?? "units"} of order ${after.orderId}: ${opts.reason}; status ${after.status}`,
        `  ${after.arbiterOrgId ? org(after.arbiterOrgId) : "governance"} settles it with: lotline order resolve ${after.orderId} --seller-share <percent>`,
        `  undecided by ${after.decideBy}, anyone applies the default split (${(after.defaultSellerShareBps ?? 0) / 100}% to the seller): lotline order resolve-timeout ${after.orderId}`,
      ].join("\n"),
    );
  });

  const simple: [name: string, fn: string, description: string][] = [
    ["release", "release", "after the inspection window (anyone): credit the seller for what was delivered; closes the order when all is delivered or the deadline passed"],
    ["refund", "refund", "after the deadline with nothing delivered (anyone): the buyer's funds are credited back"],
    ["cancel", "cancel", "cancel an order not yet funded (the buyer or the seller)"],
    ["resolve-timeout", "resolveAfterTimeout", "after a dispute's or freeze's decision deadline (anyone): apply the order's default split"],
  ];
  for (const [name, fn, description] of simple) {
    signing(order.command(name).description(description).argument("<orderId>", "the order")).action(async (orderId: string, opts: SignerOptions) => {
      const { tx, order: after, money } = await onOrder(orderId, opts, fn, (o) => [BigInt(o.orderId)]);
      const credits = creditLines(after, tx, money);
      print({ ...tx, order: after }, () =>
        [`${{ cancel: "cancelled", "resolve-timeout": "applied the default split to" }[name] ?? `${name}d`} order ${after.orderId}; status ${after.status}`, ...credits, ...(credits.length ? ["  each collects with: lotline order withdraw"] : [])].join(
          "\n",
        ),
      );
    });
  }

  signing(
    order
      .command("resolve")
      .description("as the order's arbiter (governance when it has none), settle a dispute or a freeze: the seller's share of the contested value")
      .argument("<orderId>", "the order")
      .requiredOption("--seller-share <percent>", "percentage of the contested value credited to the seller (0–100); the buyer gets the rest"),
  ).action(async (orderId: string, opts: SignerOptions & { sellerShare: string }) => {
    orderIdArg(orderId);
    const bps = percentBpsArg(opts.sellerShare);
    const { tx, order: after, money } = await onOrder(orderId, opts, "resolve", (o) => [BigInt(o.orderId), bps]);
    print({ ...tx, order: after }, () =>
      [`resolved order ${after.orderId}: ${bps / 100}% of the contested value to the seller; status ${after.status}`, ...creditLines(after, tx, money), "  each collects with: lotline order withdraw"].join(
        "\n",
      ),
    );
  });

  rpcOption(
    signing(
      order
        .command("withdraw")
        .description("as a treasury agent, collect everything the escrow owes your organisation in a token, paid to its payout address")
        .option("--token <address>", "the token (default: the deployment's token, LEUR)"),
    ),
    "the amount owed, only to print it",
  ).action(async (opts: SignerOptions & RpcOptions & { token?: string }) => {
    const { relay, signer } = await actor(opts);
    const deployment = await relay.deployment();
    const token = opts.token === undefined ? deployment.contracts.token : addressArg(opts.token, "--token");
    if (!token) throw new CliError("the service's deployment has no token: give --token <address>");
    const money = moneyOf(deployment);
    const orgId = await orgOf(signer.address);
    const account = await apiGet<{ payoutAddress: string | null }>(`/api/v1/orgs/${orgId}/settlement`);
    if (!account.payoutAddress) {
      throw new CliError(`org ${orgId} has no payout address: an org admin sets one with lotline order payout-address <address>`);
    }
    // What is owed, when the chain can be read (only to print it: the withdrawal needs just the
    // relayer). A chain named explicitly must answer; the default embedded one may be absent.
    const explicit = Boolean(opts.rpcUrl?.trim() || process.env.LOTLINE_RPC_URL?.trim());
    let owed: bigint | null = null;
    try {
      const [value] = await chainReader(opts, deployment).call("what the escrow owes your organisation", INTERFACES.escrow, deployment.contracts.escrow, "owed", [
        token,
        BigInt(orgId),
      ]);
      owed = value as bigint;
    } catch (err) {
      if (explicit) throw err;
    }
    const tokenName = token.toLowerCase() === deployment.contracts.token?.toLowerCase() ? DEPLOYMENT_TOKEN.symbol : token;
    if (owed === 0n) throw new CliError(`the escrow owes org ${orgId} nothing in ${tokenName}`);
    const tx = await relay.send(signer, "escrow", "withdraw", [token]);
    print({ ...tx, token, orgId, account: account.payoutAddress, amount: owed === null ? null : owed.toString() }, () =>
      owed === null
        ? `withdrew what the escrow owed org ${orgId} in ${token} to ${account.payoutAddress}`
        : `withdrew ${money(owed, token)} of org ${orgId} to ${account.payoutAddress}`,
    );
  });

  signing(
    order
      .command("payout-address")
      .description("as an org admin, set where the escrow pays your organisation's withdrawals")
      .argument("<address>", "the payout address (0x…)"),
  ).action(async (address: string, opts: SignerOptions) => {
    const payout = addressArg(address, "the payout address");
    const { relay, signer } = await actor(opts);
    const tx = await relay.send(signer, "escrow", "setPayoutAddress", [payout]);
    const orgId = await orgOf(signer.address);
    print({ ...tx, orgId, payoutAddress: payout }, () => `org ${orgId} is paid to ${payout}; its treasury agents withdraw with: lotline order withdraw`);
  });

  const terms = order.command("terms").description("an order's terms document: the off-chain bytes whose keccak256 the order recorded as termsHash");

  signing(
    terms
      .command("put")
      .description("store the order's terms document on your node (you sign in as an agent of the buyer or the seller); the file's keccak256 must be the order's termsHash")
      .argument("<orderId>", "the order")
      .argument("<file>", `the terms document (at most ${MAX_TERMS_BYTES} bytes)`)
      .option("--content-type <type>", "its media type (default from the extension: .json application/json, .pdf, .txt, …; else application/octet-stream)"),
  ).action(async (orderId: string, file: string, opts: SignerOptions & { contentType?: string }) => {
    orderIdArg(orderId);
    const bytes = readTermsFile(file, "<file>");
    const contentType = termsContentType(file, opts.contentType);
    const { signer } = await actor(opts);
    const before = await getOrder(orderId);
    const hash = keccak256(bytes);
    if (hash.toLowerCase() !== before.termsHash.toLowerCase()) {
      throw new CliError(`${file} hashes to ${hash}, but order ${before.orderId} recorded termsHash ${before.termsHash}: give the exact file whose keccak256 the order names`);
    }
    const stored = await putTerms(before.orderId, bytes, contentType, signer);
    print(stored, () => `stored order ${stored.orderId}'s terms: ${stored.size} bytes of ${stored.contentType}, keccak256 ${stored.termsHash} (the order's termsHash); ${originText(stored.origin)}`);
  });

  terms
    .command("get")
    .description("an order's terms document (the buyer, the seller and organisations they granted ORDER_TERMS), fetched from a party's node when yours holds none; text on stdout, or --out")
    .argument("<orderId>", "the order")
    .option("--out <file>", "write the document's bytes to this file (needed for a binary document)")
    .action(async (orderId: string, opts: { out?: string }) => {
      const got = await apiGet<TermsJson>(`/api/v1/orders/${orderIdArg(orderId)}/terms`);
      if (got.content === null || !got.origin) {
        const gap = got.gaps[0];
        throw new CliError(`order ${got.orderId}'s terms could not be obtained: ${gap ? `${gap.reason}: ${gap.detail}` : "no document"}`);
      }
      const bytes = Buffer.from(got.content, "base64");
      // Checked here too: the bytes must be the ones the order committed to on-chain.
      if (keccak256(bytes).toLowerCase() !== got.termsHash.toLowerCase()) {
        throw new CliError(`the node answered order ${got.orderId}'s terms with bytes that hash to ${keccak256(bytes)}, not the order's termsHash ${got.termsHash}: not written`);
      }
      if (opts.out !== undefined) {
        try {
          fs.writeFileSync(opts.out, bytes);
        } catch (err) {
          throw new CliError(`--out: cannot write ${opts.out}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
        }
        print({ ...got, content: undefined, out: path.resolve(opts.out) }, () =>
          `wrote order ${got.orderId}'s terms to ${opts.out}: ${bytes.length} bytes of ${got.contentType}, keccak256 ${got.termsHash}; org ${got.origin!.orgId}'s document, ${originText(got.origin!)}`,
        );
        return;
      }
      if (!TEXT_TYPES.test(got.contentType ?? "")) throw new CliError(`order ${got.orderId}'s terms are ${got.contentType}, not text: give --out <file>`);
      print(got, () =>
        [
          `order ${got.orderId}'s terms: ${bytes.length} bytes of ${got.contentType}, keccak256 ${got.termsHash}; org ${got.origin!.orgId}'s document, ${originText(got.origin!)}`,
          bytes.toString("utf8").replace(/\n$/, ""),
        ].join("\n"),
      );
    });

  order
    .command("show")
    .description("an order: parties, GTIN, quantity, price, total, status, deadline, inspection, escrow, deliveries, disputes, payments")
    .argument("<orderId>", "the order")
    .action(async (orderId: string) => {
      const o = await getOrder(orderId);
      const [org, deployment] = await Promise.all([orgNames(), apiGet<Deployment>("/api/v1/deployment")]);
      print(o, () => renderOrder(o, org, moneyOf(deployment)));
    });

  order
    .command("list")
    .description("orders, oldest first")
    .option("--buyer <orgId>", "only orders of this buying organisation")
    .option("--seller <orgId>", "only orders to this selling organisation")
    .option("--status <status>", ORDER_STATUSES.join(", "))
    .action(async (opts: { buyer?: string; seller?: string; status?: string }) => {
      const filters: Record<string, string> = {};
      if (opts.buyer !== undefined) filters.buyer = orgIdArg(opts.buyer, "--buyer").toString();
      if (opts.seller !== undefined) filters.seller = orgIdArg(opts.seller, "--seller").toString();
      if (opts.status !== undefined) {
        if (!(ORDER_STATUSES as readonly string[]).includes(opts.status)) throw new CliError(`--status must be one of ${ORDER_STATUSES.join(", ")}, got "${opts.status}"`);
        filters.status = opts.status;
      }
      const items = await listOrders(filters);
      const [org, deployment] = await Promise.all([orgNames(), apiGet<Deployment>("/api/v1/deployment")]);
      const money = moneyOf(deployment);
      print(items, () => items.map((o) => orderLine(o, org, money)).join("\n") || "no orders");
    });
}

/** The product's unit, failing with what to do when the GTIN is not registered. */
async function productUnit(gtin: string): Promise<string> {
  try {
    return (await apiGet<{ unit: string }>(`/api/v1/products/${gtin}`)).unit;
  } catch (err) {
    if (err instanceof CliError && err.code === "product_not_found") throw new CliError(`no product ${gtin} is registered: its maker registers it first`);
    throw err;
  }
}

/**
 * An ERC-2612 permit for `spender` to pull `value` from the signer, with the token's current
 * nonce and its EIP-712 domain (ERC-5267 `eip712Domain()`, else its name and version "1").
 */
async function signPermit(
  chain: ReturnType<typeof chainReader>,
  signer: Wallet | HDNodeWallet,
  token: string,
  spender: string,
  value: bigint,
  chainId: number,
): Promise<{ deadline: bigint; v: number; r: string; s: string }> {
  const iface = INTERFACES.token;
  const nonces = await chain.tryCall("the token's permit nonce", iface, token, "nonces", [signer.address]);
  if (!nonces) {
    throw new CliError(`token ${token} has no ERC-2612 permits: approve the escrow (${spender}) for ${value} base units from your wallet directly, then run order fund again`);
  }
  const domainResult = await chain.tryCall("the token's EIP-712 domain", iface, token, "eip712Domain", []);
  let domain: { name: string; version: string; chainId: number; verifyingContract: string };
  if (domainResult) {
    domain = { name: String(domainResult[1]), version: String(domainResult[2]), chainId: Number(domainResult[3]), verifyingContract: String(domainResult[4]) };
  } else {
    const name = await chain.call("the token's name", iface, token, "name", []);
    domain = { name: String(name[0]), version: "1", chainId, verifyingContract: token };
  }
  const deadline = BigInt(Math.max(await chain.chainTime(), Math.floor(Date.now() / 1000)) + PERMIT_SECONDS);
  const signature = Signature.from(
    await signer.signTypedData(domain, PERMIT_TYPES, { owner: signer.address, spender, value, nonce: nonces[0] as bigint, deadline }),
  );
  return { deadline, v: signature.v, r: signature.r, s: signature.s };
}

/** The media type of a terms file: as given, else from its extension. */
function termsContentType(file: string, given: string | undefined, option = "--content-type"): string {
  if (given !== undefined) {
    if (!/^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,63}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,63}(; ?[A-Za-z0-9!#$&^_.+-]{1,64}=[A-Za-z0-9!#$&^_.+-]{1,64}){0,4}$/.test(given)) {
      throw new CliError(`${option} must be a media type such as application/json, got "${given}"`);
    }
    return given;
  }
  return CONTENT_TYPES[path.extname(file).toLowerCase()] ?? "application/octet-stream";
}
