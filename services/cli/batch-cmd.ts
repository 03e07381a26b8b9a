import type { Command } from "commander";
import { encodeBytes32String } from "ethers";
import { formatQuantity } from "../provenance/quantity";
import { apiGet, CliError } from "./client";
import {
  glnArg,
  gtinArg,
  handoverKindArg,
  hashArg,
  inputArg,
  lotArg,
  lotIdOf,
  orgIdArg,
  outputArg,
  wholeNumberArg,
  quantityArg,
  ssccArg,
} from "./args";
import { resolveSigner, type SignerOptions } from "./keystore";
import { createRelayClient } from "./relay-client";
import { readAs } from "./session";
import {
  batchLine,
  batchRef,
  orgNames,
  renderBatch,
  renderHistory,
  renderTrace,
  type BatchDetailJson,
  type HistoryJson,
  type TraceJson,
} from "./format";

export type Print = (value: unknown, human: () => string) => void;

/** Adds the options every signing command takes. */
export function signing(command: Command): Command {
  return command
    .option("--key <name>", "sign with this key of the keystore (lotline keys list)")
    .option("--dev-account <n>", "sign with account n of the public test mnemonic (local chain 31337 only)");
}

/** A relay client and the signer the options name; the chain id check needs the deployment. */
export async function actor(opts: SignerOptions) {
  const relay = createRelayClient();
  const signer = await resolveSigner(opts, async () => (await relay.deployment()).chainId);
  // What the command reads next (the batch it changed, say) it reads as its signer.
  readAs(signer);
  return { relay, signer };
}

export const getBatch = (ref: string) => apiGet<BatchDetailJson>(batchRef(ref));

/** The product's unit, failing with what to do when the GTIN is not registered. */
async function productUnit(gtin: string): Promise<string> {
  try {
    return (await apiGet<{ unit: string }>(`/api/v1/products/${gtin}`)).unit;
  } catch (err) {
    if (err instanceof CliError && err.code === "product_not_found") {
      throw new CliError(`no product ${gtin} is registered; register it first with 'lotline product register'`);
    }
    throw err;
  }
}

const collect = (value: string, previous: string[]) => [...previous, value];
const fmt = (raw: bigint) => formatQuantity(raw);

export function registerBatchCommands(program: Command, print: Print): void {
  const batch = program.command("batch").description("lots and their portions: register, hand over, transform, pack, recall, inspect");

  signing(
    batch
      .command("register")
      .description("register a new lot of one of your organisation's products")
      .requiredOption("--gtin <gtin>", "the product's GTIN (registered with 'lotline product register')")
      .requiredOption("--lot <lot>", "lot number (GS1 AI 10: 1–20 characters)")
      .requiredOption("--quantity <q>", "quantity in the product's unit (up to 3 decimals)")
      .option("--gln <gln>", "where the lot is (a GLN of your organisation)")
      .option("--metadata-hash <0x..>", "hash of off-chain lot data (default zero)"),
  ).action(async (opts: SignerOptions & { gtin: string; lot: string; quantity: string; gln?: string; metadataHash?: string }) => {
    const gtin = gtinArg(opts.gtin);
    const lot = lotArg(opts.lot);
    const quantity = quantityArg(opts.quantity);
    const gln = glnArg(opts.gln);
    const metadataHash = hashArg(opts.metadataHash);
    const unit = await productUnit(gtin);
    const { relay, signer } = await actor(opts);
    const lotId = lotIdOf(gtin, lot);
    const tx = await relay.send(signer, "provenance", "registerLots", [[{ gtin: BigInt(gtin), lot, quantity, gln, metadataHash }]]);
    const created = await getBatch(lotId);
    print({ ...tx, batchId: lotId, digitalLink: created.digitalLink, batch: created }, () =>
      [`registered lot ${lot} of GTIN ${gtin}: ${fmt(quantity)} ${unit}`, `  batch id      ${lotId}`, `  digital link  ${created.digitalLink}`].join("\n"),
    );
  });

  signing(
    batch
      .command("offer")
      .description("offer (part of) a batch to another organisation; it is in transit until they accept or reject")
      .argument("<ref>", "batch id (0x…) or the GS1 Digital Link of a lot")
      .requiredOption("--to <orgId>", "the receiving organisation")
      .requiredOption("--quantity <q>", "how much (all of it or part: a part is split off when accepted)")
      .option("--kind <kind>", "custody, ownership or both", "both"),
  ).action(async (ref: string, opts: SignerOptions & { to: string; quantity: string; kind: string }) => {
    const to = orgIdArg(opts.to);
    const quantity = quantityArg(opts.quantity);
    const kind = handoverKindArg(opts.kind);
    const before = await getBatch(ref);
    const { relay, signer } = await actor(opts);
    const tx = await relay.send(signer, "provenance", "offer", [before.id, quantity, to, kind.value]);
    const after = await getBatch(before.id);
    const org = await orgNames();
    print({ ...tx, batch: after }, () =>
      [
        `offered ${fmt(quantity)} ${after.unit} of ${after.gtin}/${after.lot} to ${org(String(to))}: ${kind.name === "both" ? "custody and ownership" : kind.name}; in transit until they accept`,
        `  batch id  ${after.id}`,
        `  they accept with: lotline batch accept ${after.id}`,
      ].join("\n"),
    );
  });

  signing(
    batch
      .command("accept")
      .description("accept the offer of a batch to your organisation; prints the batch that changed hands")
      .argument("<ref>", "batch id (0x…) or the GS1 Digital Link of a lot")
      .option("--gln <gln>", "where you receive it (a GLN of your organisation)"),
  ).action(async (ref: string, opts: SignerOptions & { gln?: string }) => {
    const gln = glnArg(opts.gln);
    const offered = await getBatch(ref);
    if (!offered.pendingOffer) throw new CliError(`batch ${offered.id} has no pending offer to accept`);
    const { relay, signer } = await actor(opts);
    // Accept exactly the offer shown: a sender that changed it since gets a revert, not a new deal.
    const { quantity, kind } = offered.pendingOffer;
    const tx = await relay.send(signer, "provenance", "accept", [offered.id, quantityArg(quantity), handoverKindArg(kind).value, gln]);
    // A partial offer splits a portion off the offered batch in the same transaction; that
    // portion (keccak256(abi.encode(parent, index))) is what changed hands.
    const history = await apiGet<HistoryJson>(`${batchRef(offered.id)}/history`);
    const split = history.items.find((i) => i.type === "split" && i.transactionHash?.toLowerCase() === tx.transactionHash.toLowerCase());
    const moved = await getBatch(split ? String(split.details.child) : offered.id);
    const parent = split ? await getBatch(offered.id) : null;
    const org = await orgNames();
    print({ ...tx, batch: moved, splitFrom: parent ? { batchId: parent.id, remaining: parent.quantity } : null }, () =>
      [
        `accepted ${moved.quantity} ${moved.unit} of ${moved.gtin}/${moved.lot}: owner ${org(moved.ownerOrgId)}, custodian ${org(moved.custodianOrgId)}${moved.location ? `, at GLN ${moved.location}` : ""}`,
        `  batch id  ${moved.id}`,
        ...(parent ? [`  split off ${parent.id}, which keeps ${parent.quantity} ${parent.unit}`] : []),
      ].join("\n"),
    );
  });

  for (const [name, who] of [
    ["reject", "the receiver refuses"],
    ["cancel", "the sender withdraws"],
  ] as const) {
    signing(
      batch
        .command(name)
        .description(`withdraw a pending offer of a batch (${who} it)`)
        .argument("<ref>", "batch id (0x…) or the GS1 Digital Link of a lot")
        .option("--reason <text>", "why", ""),
    ).action(async (ref: string, opts: SignerOptions & { reason: string }) => {
      const offered = await getBatch(ref);
      if (!offered.pendingOffer) throw new CliError(`batch ${offered.id} has no pending offer to ${name}`);
      const { relay, signer } = await actor(opts);
      const tx = await relay.send(signer, "provenance", "cancelOffer", [offered.id, opts.reason]);
      const after = await getBatch(offered.id);
      print({ ...tx, batch: after }, () => `offer of ${after.gtin}/${after.lot} (${after.id}) ${name === "reject" ? "rejected" : "cancelled"}; the batch is ${after.status}`);
    });
  }

  signing(
    batch
      .command("transform")
      .description("consume input batches into new lots of your products (mass balance per the kind's tolerance)")
      .option("--kind <kind>", "PROCESS, MERGE or REPACK (or another kind governance enabled)", "PROCESS")
      .option("--input <ref=qty>", "an input batch and the quantity consumed (repeat for several)", collect, [])
      .option("--output <gtin/lot=qty[@gln]>", "a new lot made (repeat for several)", collect, [])
      .option("--metadata-hash <0x..>", "hash of off-chain data about the transformation (default zero)"),
  ).action(async (opts: SignerOptions & { kind: string; input: string[]; output: string[]; metadataHash?: string }) => {
    if (!/^[A-Za-z0-9_]{1,31}$/.test(opts.kind)) throw new CliError(`--kind must be a transformation kind such as PROCESS, got "${opts.kind}"`);
    if (opts.input.length === 0 || opts.output.length === 0) throw new CliError("give at least one --input <ref>=<qty> and one --output <gtin>/<lot>=<qty>");
    const inputs = opts.input.map(inputArg);
    const outputs = opts.output.map(outputArg);
    const metadataHash = hashArg(opts.metadataHash);
    // Each output must be a registered product; say so before signing anything.
    await Promise.all(outputs.map((o) => productUnit(o.gtin)));
    const inputBatches = await Promise.all(inputs.map((i) => getBatch(i.ref)));
    const { relay, signer } = await actor(opts);
    const tx = await relay.send(signer, "provenance", "transform", [
      encodeBytes32String(opts.kind.toUpperCase()),
      inputBatches.map((b) => b.id),
      inputs.map((i) => i.quantity),
      outputs.map((o) => ({ gtin: BigInt(o.gtin), lot: o.lot, quantity: o.quantity, gln: o.gln, metadataHash: hashArg(undefined) })),
      metadataHash,
    ]);
    const made = await Promise.all(outputs.map((o) => getBatch(lotIdOf(o.gtin, o.lot))));
    const org = await orgNames();
    print({ ...tx, inputs: inputBatches.map((b, i) => ({ batchId: b.id, quantity: fmt(inputs[i].quantity) })), outputs: made }, () =>
      [
        `${opts.kind.toUpperCase()}: ${inputBatches.map((b, i) => `${fmt(inputs[i].quantity)} ${b.unit} of ${b.gtin}/${b.lot}`).join(" + ")}`,
        ...made.map((b) => `  → ${batchLine(b, org)}`),
      ].join("\n"),
    );
  });

  signing(
    batch
      .command("aggregate")
      .description("pack batches your organisation holds into a logistic unit (SSCC of your prefix); they move with it")
      .argument("<sscc>", "the unit's SSCC (18 digits)")
      .argument("<ref...>", "batch ids or Digital Links"),
  ).action(async (sscc: string, refs: string[], opts: SignerOptions) => {
    ssccArg(sscc);
    const batches = await Promise.all(refs.map(getBatch));
    const { relay, signer } = await actor(opts);
    const tx = await relay.send(signer, "units", "pack", [sscc, batches.map((b) => b.id)]);
    print({ ...tx, sscc, batchIds: batches.map((b) => b.id) }, () =>
      [`packed ${batches.length} batch${batches.length === 1 ? "" : "es"} into SSCC ${sscc}`, ...batches.map((b) => `  ${b.gtin}/${b.lot}  ${b.id}`)].join("\n"),
    );
  });

  signing(
    batch.command("unpack").description("unpack a logistic unit your organisation holds").argument("<sscc>", "the unit's SSCC (18 digits)"),
  ).action(async (sscc: string, opts: SignerOptions) => {
    ssccArg(sscc);
    const { relay, signer } = await actor(opts);
    const tx = await relay.send(signer, "units", "unpack", [sscc]);
    print({ ...tx, sscc }, () => `unpacked SSCC ${sscc}`);
  });

  signing(
    batch
      .command("recall")
      .description("recall a batch (its producer, an auditor it or governance appointed, or governance); the node propagates the recall downstream")
      .argument("<ref>", "batch id (0x…) or the GS1 Digital Link of a lot")
      .requiredOption("--reason <text>", "why (shown to everyone holding affected goods)"),
  ).action(async (ref: string, opts: SignerOptions & { reason: string }) => {
    if (!opts.reason.trim()) throw new CliError("--reason must say why the batch is recalled");
    const target = await getBatch(ref);
    const { relay, signer } = await actor(opts);
    const tx = await relay.send(signer, "provenance", "recall", [target.id, opts.reason]);
    const impact = await apiGet<{ totals: { batches: number; inCirculation: number } }>(`${batchRef(target.id)}/recall-impact`);
    print({ ...tx, batchId: target.id, impact: impact.totals }, () =>
      [
        `recalled ${target.gtin}/${target.lot} (${target.id}): ${opts.reason}`,
        `  ${impact.totals.batches} downstream batch${impact.totals.batches === 1 ? "" : "es"} affected, ${impact.totals.inCirculation} in circulation; the node flags them on-chain`,
        `  see them with: lotline trace ${target.id} --downstream`,
      ].join("\n"),
    );
  });

  signing(
    batch
      .command("withdraw-recall")
      .description("withdraw a recall your organisation made (or governance); the node propagates the withdrawal downstream")
      .argument("<ref>", "batch id (0x…) or the GS1 Digital Link of a lot")
      .requiredOption("--reason <text>", "why the recall no longer holds (shown to everyone holding affected goods)"),
  ).action(async (ref: string, opts: SignerOptions & { reason: string }) => {
    if (!opts.reason.trim()) throw new CliError("--reason must say why the recall is withdrawn");
    const target = await getBatch(ref);
    const { relay, signer } = await actor(opts);
    const tx = await relay.send(signer, "provenance", "withdrawRecall", [target.id, opts.reason]);
    print({ ...tx, batchId: target.id }, () =>
      [
        `withdrew the recall of ${target.gtin}/${target.lot} (${target.id}): ${opts.reason}`,
        "  the node lifts the batches downstream on-chain that no other recall reaches",
      ].join("\n"),
    );
  });

  batch
    .command("show")
    .description("a batch: product, quantity, owner, custodian, location, status, recall, the lot's portions")
    .argument("<ref>", "batch id (0x…) or the GS1 Digital Link of a lot")
    .action(async (ref: string) => {
      const b = await getBatch(ref);
      const org = await orgNames();
      print(b, () => renderBatch(b, org));
    });

  batch
    .command("history")
    .description("a batch's custody and observation timeline")
    .argument("<ref>", "batch id (0x…) or the GS1 Digital Link of a lot")
    .action(async (ref: string) => {
      const b = await getBatch(ref);
      const history = await apiGet<HistoryJson>(`${batchRef(b.id)}/history`);
      const org = await orgNames();
      print(history, () => `${b.gtin}/${b.lot}  ${b.id}\n${renderHistory(history, b.unit, org)}`);
    });

  batch
    .command("footprint")
    .description("a batch's cradle-to-gate footprint through its lineage: per-unit CO2e, each stage with where its records came from, the gaps")
    .argument("<ref>", "batch id (0x…) or the GS1 Digital Link of a lot")
    .action(async (ref: string) => {
      const fp = await apiGet<FootprintJson>(`${batchRef(ref)}/footprint`);
      const org = await orgNames();
      print(fp, () => renderFootprint(fp, org));
    });

  program
    .command("trace")
    .description("lineage of a batch as a tree: what it was made from (default) or what was made from it")
    .argument("<ref>", "batch id (0x…) or the GS1 Digital Link of a lot")
    .option("--downstream", "follow the material forward instead of back to its sources")
    .option("--max-depth <n>", "how many steps to follow (default 50)")
    .action(async (ref: string, opts: { downstream?: boolean; maxDepth?: string }) => {
      const direction = opts.downstream ? "downstream" : "upstream";
      const query = new URLSearchParams({ direction });
      if (opts.maxDepth !== undefined) query.set("maxDepth", String(wholeNumberArg(opts.maxDepth, "--max-depth", 1000)));
      const trace = await apiGet<TraceJson>(`${batchRef(ref)}/trace?${query}`);
      const org = await orgNames();
      print(trace, () => renderTrace(trace, direction, org));
    });
}

interface FootprintJson {
  gtin: string;
  lot: string;
  unit: string;
  co2ePerUnitKg: number | null;
  knownCo2ePerUnitKg: number;
  complete: boolean;
  stages: { lot: string | null; orgId: string | null; ownCo2ePerUnitKg: number; share: number | null; origin: { servedBy: string | null; verified: boolean } | null }[];
  gaps: { batchId: string; orgId: string | null; reason: string; detail: string }[];
}

function renderFootprint(fp: FootprintJson, org: (id: string | null) => string): string {
  const perUnit = fp.co2ePerUnitKg === null ? `unknown (known part ${fp.knownCo2ePerUnitKg.toFixed(4)} kg CO2e/${fp.unit}, a lower bound)` : `${fp.co2ePerUnitKg.toFixed(4)} kg CO2e/${fp.unit}`;
  const lines = [`${fp.gtin}/${fp.lot}  ${perUnit}`];
  for (const s of fp.stages) {
    const from = s.origin ? `  from ${s.origin.servedBy ?? "this node"}${s.origin.verified ? ", verified" : ", NOT verified"}` : "";
    lines.push(`  stage ${s.lot ?? "?"} (${org(s.orgId)})  ${s.share === null ? "" : `${(s.share * 100).toFixed(1)} %`}${from}`);
  }
  for (const g of fp.gaps) lines.push(`  gap   ${g.reason} (${org(g.orgId)}): ${g.detail}`);
  return lines.join("\n");
}
