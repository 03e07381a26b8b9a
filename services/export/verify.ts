import { encodeBytes32String, Fragment, Interface, type LogDescription } from "ethers";
import { INTERFACES, type ContractName } from "../chain/contracts";
import { QUANTITY_DECIMALS } from "../provenance/quantity";
import type { Bundle, BundleDeployment, BundleEdge, ChainRef, CustodyEntry, ProductRegistration } from "./bundle";
import { checkRecord, type ProvenRecord } from "./records";

/**
 * The checks of an export bundle, as pure functions: each takes the bundle's claim and the chain
 * data fetched for it (by verify-run.ts over plain JSON-RPC) and returns one Check. A claim is
 * bound to the chain by deriving, from the bundle's own values (an edge's ends and quantity, an
 * entry's details), the event the chain must hold at the named transaction and log: change a
 * value, and the log no longer matches.
 */
export interface Check {
  check: "manifest" | "chain" | "abi" | "record" | "edge" | "custody" | "product" | "completeness" | "gap";
  subject: string;
  ok: boolean;
  detail: string;
}

/** A log as a JSON-RPC receipt gives it. */
export interface FetchedLog {
  address: string;
  topics: string[];
  data: string;
  logIndex: number;
  blockNumber: number;
  blockHash: string;
  transactionHash: string;
}

/** A transaction's receipt and the hash of the chain's block at the receipt's height (null if none). */
export interface TxFacts {
  status: number;
  blockNumber: number;
  blockHash: string;
  canonicalBlockHash: string | null;
  logs: FetchedLog[];
}

/** What the log must decode to: event name and arguments (normalised text; `includes` for an array argument). */
export interface Expectation {
  contract: ContractName;
  event: string;
  args: Record<string, string | { includes: string }>;
}

const HANDOVER_KINDS = ["custody", "ownership", "both"];
const BATCH_STATUS = ["none", "active", "in_transit", "consumed", "destroyed"];

/** Decoded values as comparable text: integers in decimal, hex lowercased. */
export function normalise(value: unknown): string | string[] {
  if (Array.isArray(value)) return value.map((v) => normalise(v) as string);
  if (typeof value === "bigint" || typeof value === "number") return value.toString();
  if (typeof value === "boolean") return value ? "true" : "false";
  const text = String(value ?? "");
  return /^0x[0-9a-fA-F]*$/.test(text) ? text.toLowerCase() : text;
}

/** A decimal quantity (up to 3 decimals, zero allowed: a remainder may be nothing) as the chain's fixed-point integer. */
function raw(quantity: unknown): string {
  const text = String(quantity);
  if (!/^[0-9]{1,36}(\.[0-9]{1,3})?$/.test(text)) throw new Error(`quantity "${text}" is not a decimal with at most 3 decimals`);
  const [whole, fraction = ""] = text.split(".");
  return (BigInt(whole) * 10n ** BigInt(QUANTITY_DECIMALS) + BigInt(fraction.padEnd(QUANTITY_DECIMALS, "0"))).toString();
}
const id = (value: unknown) => String(value ?? "").toLowerCase();
const text = (value: unknown) => (value === null || value === undefined ? "" : String(value));

/** The event a lineage edge stands for: a split's BatchSplit, any other flow's LineageEdge. */
export function edgeExpectation(edge: BundleEdge): Expectation {
  if (edge.type === "split") {
    return { contract: "provenance", event: "BatchSplit", args: { parent: id(edge.from), child: id(edge.to), quantity: raw(edge.quantity) } };
  }
  return {
    contract: "provenance",
    event: "LineageEdge",
    args: { from: id(edge.from), to: id(edge.to), kind: encodeBytes32String(edge.type.toUpperCase()).toLowerCase(), quantity: raw(edge.quantity) },
  };
}

/**
 * The event a custody entry stands for, from its type and details (the indexer's mapping read
 * backwards: services/indexer/handlers/provenance.ts). Null for a type without a known mapping,
 * which is then checked only for naming the batch.
 */
export function custodyExpectation(entry: CustodyEntry): Expectation | null {
  const d = entry.details;
  const batchId = id(entry.batchId);
  const p = (event: string, args: Expectation["args"]): Expectation => ({ contract: "provenance", event, args });
  switch (entry.type) {
    case "registered":
      return p("LotRegistered", { lotId: batchId, producer: text(d.orgId), quantity: raw(d.quantity), gln: text(d.location) });
    case "split":
      return p("BatchSplit", { parent: batchId, child: id(d.child), quantity: raw(d.quantity) });
    case "split_from":
      return p("BatchSplit", { child: batchId, parent: id(d.parent), quantity: raw(d.quantity) });
    case "offered":
      return p("HandoverOffered", {
        batchId,
        from: text(d.fromOrgId),
        to: text(d.toOrgId),
        kind: String(HANDOVER_KINDS.indexOf(text(d.kind))),
        quantity: raw(d.quantity),
      });
    case "offer_withdrawn":
      return p("HandoverCancelled", { batchId, by: text(d.byOrgId), reason: text(d.reason) });
    case "handed_over":
      return p("HandedOver", {
        batchId,
        from: text(d.fromOrgId),
        to: text(d.toOrgId),
        kind: String(HANDOVER_KINDS.indexOf(text(d.kind))),
        quantity: raw(d.quantity),
        gln: text(d.location),
        acceptedBy: id(d.acceptedBy),
      });
    case "transformed_into":
      return p("LineageEdge", { from: batchId, to: id(d.output), kind: encodeBytes32String(text(d.kind)).toLowerCase(), quantity: raw(d.quantity) });
    case "made_from":
      return p("LineageEdge", { from: id(d.input), to: batchId, kind: encodeBytes32String(text(d.kind)).toLowerCase(), quantity: raw(d.quantity) });
    case "consumed":
    case "destroyed":
      // A QuantityConsumed carries quantity and remaining; a BatchEnded only its status.
      return d.remaining !== undefined
        ? p("QuantityConsumed", { batchId, quantity: raw(d.quantity), remaining: raw(d.remaining) })
        : p("BatchEnded", { batchId, status: String(BATCH_STATUS.indexOf(entry.type)), reason: text(d.reason) });
    case "recalled":
      return p("Recalled", { batchId, by: d.byOrgId === "governance" ? "0" : text(d.byOrgId), reason: text(d.reason) });
    case "recall_propagated":
      return p("RecallPropagated", { batchId, from: id(d.from) });
    case "packed":
      return { contract: "units", event: "Packed", args: { sscc: text(d.sscc), batchIds: { includes: batchId } } };
    case "unpacked":
      return { contract: "units", event: "Unpacked", args: { unitKey: id(d.unitKey), batchIds: { includes: batchId } } };
    case "unit_handed_over":
      return { contract: "units", event: "UnitHandedOver", args: { unitKey: id(d.unitKey), from: text(d.fromOrgId), to: text(d.toOrgId) } };
    case "observed":
      return p("Observed", { batchId, eventHash: id(d.eventHash), dataHash: id(d.dataHash), org: text(d.orgId) });
    case "delivered_for_order":
      return { contract: "escrow", event: "DeliveryRecorded", args: { batchId, orderId: text(d.orderId) } };
    default:
      return null;
  }
}

/** The event that registered a product to its owner. */
export function productExpectation(product: ProductRegistration): Expectation {
  return { contract: "provenance", event: "ProductRegistered", args: { gtin: BigInt(product.gtin).toString(), org: product.owner } };
}

/** Interfaces built from the bundle's own ABI fragments (the bundle is self-contained). */
export function bundleInterfaces(abi: Bundle["abi"]): Partial<Record<ContractName, Interface>> {
  const out: Partial<Record<ContractName, Interface>> = {};
  for (const [contract, fragments] of Object.entries(abi ?? {})) out[contract as ContractName] = new Interface(fragments ?? []);
  return out;
}

function decode(iface: Interface | undefined, log: FetchedLog): LogDescription | null {
  if (!iface) return null;
  try {
    return iface.parseLog({ topics: log.topics, data: log.data });
  } catch {
    return null;
  }
}

function mismatches(decoded: LogDescription, expected: Expectation): string[] {
  const out: string[] = [];
  for (const [name, want] of Object.entries(expected.args)) {
    const index = decoded.fragment.inputs.findIndex((input) => input.name === name);
    if (index < 0) {
      out.push(`the event has no argument ${name}`);
      continue;
    }
    const got = normalise(decoded.args[index]);
    if (typeof want === "object") {
      if (!Array.isArray(got) || !got.includes(want.includes)) out.push(`${name} does not include ${want.includes}`);
    } else if (got !== want) {
      out.push(`${name} is ${JSON.stringify(got)} on-chain, ${JSON.stringify(want)} in the bundle`);
    }
  }
  return out;
}

const describeLog = (d: LogDescription) => `${d.name}(${d.fragment.inputs.map((input, i) => `${input.name}=${normalise(d.args[i])}`).join(", ")})`;

/**
 * Whether the chain holds `expected` at `ref`: the transaction succeeded in a block of this chain
 * (its hash is the chain's block at that height), and its log at `ref.logIndex` comes from the
 * deployment's contract and decodes to the expected event and values. With `expected` null, the
 * log must only decode to an event of that contract naming `mentions`. Null when it holds.
 */
export function checkRef(
  ref: ChainRef,
  expected: Expectation | null,
  facts: TxFacts | null,
  deployment: BundleDeployment,
  interfaces: Partial<Record<ContractName, Interface>>,
  mentions?: string,
): string | null {
  if (!ref || !/^0x[0-9a-fA-F]{64}$/.test(ref.transactionHash ?? "")) return "no chain reference";
  const at = `${ref.transactionHash}${ref.logIndex === null ? "" : `:${ref.logIndex}`}`;
  if (expected && (ref.contract !== expected.contract || ref.event !== expected.event)) {
    return `names ${ref.contract}.${ref.event} at ${at}, but stands for ${expected.contract}.${expected.event}`;
  }
  if (!facts) return `no transaction ${ref.transactionHash} on this chain`;
  if (facts.status !== 1) return `transaction ${ref.transactionHash} failed on this chain`;
  if (facts.blockNumber !== ref.blockNumber) return `transaction ${ref.transactionHash} is in block ${facts.blockNumber}, not in the stated block ${ref.blockNumber}`;
  if (!facts.canonicalBlockHash || facts.canonicalBlockHash.toLowerCase() !== facts.blockHash.toLowerCase()) {
    return `block ${facts.blockNumber} of transaction ${ref.transactionHash} is not on this chain`;
  }
  const address = deployment.contracts?.[ref.contract]?.toLowerCase();
  if (!address) return `the bundle names no address for contract ${ref.contract}`;
  const iface = interfaces[ref.contract];
  const candidates =
    ref.logIndex === null
      ? facts.logs.filter((l) => l.address.toLowerCase() === address && decode(iface, l)?.name === ref.event)
      : facts.logs.filter((l) => l.logIndex === ref.logIndex);
  if (candidates.length === 0) return `no ${ref.logIndex === null ? `${ref.event} log` : `log ${ref.logIndex}`} in transaction ${ref.transactionHash}`;
  const problems: string[] = [];
  for (const log of candidates) {
    if (log.address.toLowerCase() !== address) {
      problems.push(`log ${log.logIndex} comes from ${log.address}, not from the deployment's ${ref.contract} ${deployment.contracts[ref.contract]}`);
      continue;
    }
    const decoded = decode(iface, log);
    if (!decoded) {
      problems.push(`log ${log.logIndex} is not an event of the bundled ${ref.contract} ABI`);
      continue;
    }
    if (expected) {
      if (decoded.name !== expected.event) {
        problems.push(`log ${log.logIndex} is ${decoded.name}, not ${expected.event}`);
        continue;
      }
      const wrong = mismatches(decoded, expected);
      if (wrong.length > 0) {
        problems.push(`the chain says ${describeLog(decoded)}: ${wrong.join("; ")}`);
        continue;
      }
      return null;
    }
    if (decoded.name !== ref.event) {
      problems.push(`log ${log.logIndex} is ${decoded.name}, not ${ref.event}`);
      continue;
    }
    const values = decoded.args.toArray().flatMap((v) => normalise(v));
    if (mentions && !values.includes(mentions.toLowerCase())) {
      problems.push(`${describeLog(decoded)} does not name ${mentions}`);
      continue;
    }
    return null;
  }
  return problems.join("; ");
}

const short = (hex: string) => (hex.length > 14 ? `${hex.slice(0, 10)}…` : hex);

export function checkEdge(edge: BundleEdge, facts: TxFacts | null, bundle: Pick<Bundle, "deployment">, interfaces: Partial<Record<ContractName, Interface>>): Check {
  const subject = `${edge.from}→${edge.to}`;
  let expected: Expectation;
  try {
    expected = edgeExpectation(edge);
  } catch (err) {
    return { check: "edge", subject, ok: false, detail: `edge changed: ${(err as Error).message}` };
  }
  if (!edge.chain) return { check: "edge", subject, ok: false, detail: "edge without a chain reference: nothing proves it" };
  const problem = checkRef(edge.chain, expected, facts, bundle.deployment, interfaces);
  return problem
    ? { check: "edge", subject, ok: false, detail: `edge not on the chain as stated (${edge.type} ${edge.quantity} ${edge.unit}): ${problem}` }
    : { check: "edge", subject, ok: true, detail: `${edge.type} of ${edge.quantity} ${edge.unit}: ${expected.event} at ${short(edge.chain.transactionHash)}:${edge.chain.logIndex}` };
}

export function checkCustody(entry: CustodyEntry, facts: TxFacts | null, bundle: Pick<Bundle, "deployment">, interfaces: Partial<Record<ContractName, Interface>>): Check {
  const subject = `${entry.batchId} ${entry.type} at ${entry.chain?.transactionHash}:${entry.chain?.logIndex}`;
  let expected: Expectation | null;
  try {
    expected = custodyExpectation(entry);
  } catch (err) {
    return { check: "custody", subject, ok: false, detail: `custody entry changed: ${(err as Error).message}` };
  }
  const problem = checkRef(entry.chain, expected, facts, bundle.deployment, interfaces, entry.batchId);
  return problem
    ? { check: "custody", subject, ok: false, detail: `custody entry not on the chain as stated: ${problem}` }
    : { check: "custody", subject, ok: true, detail: `${entry.type}: ${entry.chain.event}${expected ? "" : " naming the batch"}` };
}

export function checkProduct(product: ProductRegistration, facts: TxFacts | null, bundle: Pick<Bundle, "deployment">, interfaces: Partial<Record<ContractName, Interface>>): Check {
  const subject = `GTIN ${product.gtin}`;
  let expected: Expectation;
  try {
    expected = productExpectation(product);
  } catch (err) {
    return { check: "product", subject, ok: false, detail: `product registration changed: ${(err as Error).message}` };
  }
  const problem = checkRef(product.chain, expected, facts, bundle.deployment, interfaces);
  return problem
    ? { check: "product", subject, ok: false, detail: `registration to organisation ${product.owner} not on the chain: ${problem}` }
    : { check: "product", subject, ok: true, detail: `registered on-chain by organisation ${product.owner}` };
}

/** What `anchorOf(org, root)` answered: blockNumber 0 when `org` never anchored `root`. */
export interface AnchorFacts {
  org: string;
  blockNumber: number;
}

/**
 * A record: the off-chain half (leaf, proof, owner: records.ts) and the anchor the chain answered
 * for (owner, root). A product's owner must also be the GTIN's registrant in the bundle.
 */
export function checkProvenRecord(pr: ProvenRecord, anchor: AnchorFacts | null, products: ProductRegistration[]): Check {
  const subject = `${pr.class} ${pr.recordId}`;
  const offChain = checkRecord(pr);
  if (offChain) return { check: "record", subject, ok: false, detail: offChain.detail };
  if (pr.class === "PRODUCT") {
    const gtin = String((pr.record as { gtin?: unknown }).gtin ?? "");
    const registration = products.find((p) => p.gtin === gtin);
    if (!registration) return { check: "record", subject, ok: false, detail: `no on-chain registration of GTIN ${gtin} in the bundle` };
    if (registration.owner !== pr.owner) {
      return { check: "record", subject, ok: false, detail: `owner changed: GTIN ${gtin} is registered to organisation ${registration.owner}, not ${pr.owner}` };
    }
  }
  if (!anchor || anchor.blockNumber === 0) {
    return { check: "record", subject, ok: false, detail: `root ${pr.proof.merkleRoot} is not anchored on this chain by the owner, organisation ${pr.owner}` };
  }
  if (anchor.org !== pr.owner) {
    return { check: "record", subject, ok: false, detail: `the chain's anchor of root ${pr.proof.merkleRoot} is organisation ${anchor.org}'s, not the owner's (${pr.owner})` };
  }
  return { check: "record", subject, ok: true, detail: `leaf and proof match root ${short(pr.proof.merkleRoot)}, anchored by organisation ${pr.owner} in block ${anchor.blockNumber}` };
}

/** The chain the node serves is the bundle's: same chain id and genesis block. */
export function checkChain(deployment: BundleDeployment, chainId: number, genesisHash: string | null): Check {
  const subject = `chain ${deployment.chainId}`;
  const same = Number(deployment.chainId) === chainId && String(deployment.genesisHash).toLowerCase() === (genesisHash ?? "").toLowerCase();
  return same
    ? { check: "chain", subject, ok: true, detail: `the node serves chain ${chainId} with genesis ${short(genesisHash!)}` }
    : {
        check: "chain",
        subject,
        ok: false,
        detail: `wrong chain: the node serves chain ${chainId} with genesis ${genesisHash}, the bundle was exported from chain ${deployment.chainId} with genesis ${deployment.genesisHash}`,
      };
}

/**
 * Each bundled fragment this verifier also knows (same event topic or function selector) must be
 * the same in full, names included: a fragment with two same-typed parameters swapped would decode
 * an edge backwards. Fragments it does not know (contracts of another version) are used as bundled.
 */
export function checkAbi(abi: Bundle["abi"]): Check[] {
  const out: Check[] = [];
  for (const [contract, fragments] of Object.entries(abi ?? {})) {
    const known = INTERFACES[contract as ContractName];
    for (const json of fragments ?? []) {
      let fragment: Fragment;
      try {
        fragment = Fragment.from(json);
      } catch (err) {
        out.push({ check: "abi", subject: `${contract}`, ok: false, detail: `an ABI fragment does not parse: ${(err as Error).message}` });
        continue;
      }
      const subject = `${contract}.${fragment.format("sighash")}`;
      if (!known) {
        out.push({ check: "abi", subject, ok: false, detail: `unknown contract ${contract}` });
        continue;
      }
      const mine = known.fragments.find((f) => f.type === fragment.type && f.format("sighash") === fragment.format("sighash"));
      if (!mine) out.push({ check: "abi", subject, ok: true, detail: "not in this verifier's contracts; used as bundled" });
      else if (mine.format("full") !== fragment.format("full")) {
        out.push({ check: "abi", subject, ok: false, detail: `ABI changed: the bundle says ${fragment.format("full")}, the contract is ${mine.format("full")}` });
      } else out.push({ check: "abi", subject, ok: true, detail: "matches the contract" });
    }
  }
  return out;
}

/**
 * Every LineageEdge the chain holds into an upstream node (and the root), and out of a downstream
 * node (and the root), is in the bundle: an exporter cannot leave out an input or an output it did
 * not like. Nodes at the depth limit of a truncated trace are not checked (their far side is outside).
 */
export function checkCompleteness(
  node: { id: string; depth: number },
  direction: "upstream" | "downstream",
  onChain: { from: string; to: string }[],
  edges: BundleEdge[],
): Check {
  const subject = `${node.id} ${direction}`;
  const have = new Set(edges.map((e) => `${id(e.from)}>${id(e.to)}`));
  const missing = onChain.filter((e) => !have.has(`${id(e.from)}>${id(e.to)}`));
  return missing.length > 0
    ? { check: "completeness", subject, ok: false, detail: `edge left out: the chain has ${missing.map((e) => `${e.from}→${e.to}`).join(", ")}, not in the bundle` }
    : { check: "completeness", subject, ok: true, detail: `all ${onChain.length} ${direction === "upstream" ? "incoming" : "outgoing"} edge(s) on the chain are in the bundle` };
}
