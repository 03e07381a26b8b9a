import { AbiCoder, encodeBytes32String, id as keccakText, keccak256, ZeroHash } from "ethers";
import { canonicalize } from "json-canonicalize";
import type { Db } from "../../store/db";
import { prepared } from "../../store/statements";
import { orgOfKey } from "../../store/identity";
import { formatQuantity } from "../../provenance/quantity";
import { HANDOVER_KINDS, type HandoverKindName } from "../../provenance/acceptance";
import { recordIdOf } from "../store";
import { hasObservations, type EventFacts, type LotRef, type SsccRef } from "./facts";

/**
 * The mapping of one stored EPCIS event onto provenance (README, "EPCIS 2.0 → provenance"): pure
 * decisions over the event's facts and the index, no chain access. The job simulates and sends the
 * calls a plan asks for.
 */

/** The organisation this node's integration key acts for, or why there is none. */
export interface Actor {
  orgId: number | null;
  address: string | null;
  problem: string | null;
}

export interface PlannedCall {
  contract: "provenance" | "units";
  fn: string;
  /** ABI arguments, JSON-safe (integers as decimal strings). */
  args: unknown[];
}

export interface OrderLink {
  orderId: number;
  bizTransaction: string;
}

export type Plan =
  | { status: "not_applied"; reason: string; effect?: string; details?: Record<string, unknown> }
  | { status: "applied"; effect: "link" | "kept" | "reverse"; details: Record<string, unknown>; orderLinks?: OrderLink[]; unlinkSeq?: number }
  | { status: "send"; effect: string; calls: PlannedCall[]; details: Record<string, unknown> };

const no = (reason: string, effect?: string, details?: Record<string, unknown>): Plan => ({
  status: "not_applied",
  reason,
  ...(effect ? { effect } : {}),
  ...(details ? { details } : {}),
});

/** A reason a plan cannot go on; thrown inside the planners and turned into `not_applied`. */
class Refusal extends Error {}
const refuse = (reason: string): never => {
  throw new Refusal(reason);
};

// ------------------------------------------------------------------ the index

interface BatchRow {
  batch_id: string;
  gtin: string;
  lot: string;
  quantity: string;
  unit: string;
  owner_org: number;
  custodian_org: number;
  status: "active" | "in_transit" | "consumed" | "destroyed";
  recall: string;
  unit_key: string | null;
  offer_to: number | null;
  offer_kind: string | null;
  offer_quantity: string | null;
}

interface UnitRow {
  unit_key: string;
  sscc: string;
  custodian_org: number;
  status: string;
  offer_to: number | null;
  contents_hash: string | null;
}

function index(db: Db) {
  const portions = (gtin: string, lot: string) =>
    prepared(db, `SELECT * FROM batches WHERE gtin = ? AND lot = ? ORDER BY created_block, rowid`).all(gtin, lot) as BatchRow[];
  return {
    portions,
    product: (gtin: string) => prepared(db, `SELECT org_id, unit FROM products WHERE gtin = ?`).get(gtin) as { org_id: number; unit: string } | undefined,
    unitOfMeasure: (code: string) =>
      prepared(db, `SELECT dimension, to_base FROM units_of_measure WHERE unit = ?`).get(code) as { dimension: number; to_base: string } | undefined,
    /** The organisation a GLN is registered to as a location (exactly). */
    locationOrg: (gln: string) => (prepared(db, `SELECT org_id FROM locations WHERE gln = ?`).get(gln) as { org_id: number } | undefined)?.org_id ?? null,
    unitBySscc: (sscc: string) => prepared(db, `SELECT * FROM logistic_units WHERE sscc = ?`).get(sscc) as UnitRow | undefined,
    contents: (unitKey: string) => prepared(db, `SELECT * FROM batches WHERE unit_key = ? ORDER BY rowid`).all(unitKey) as BatchRow[],
    batch: (batchId: string) => prepared(db, `SELECT * FROM batches WHERE batch_id = ?`).get(batchId) as BatchRow | undefined,
    /** A stored event's organisation, record id and mapping (null fields when it was never queued). */
    original: (seq: number) =>
      prepared(
        db,
        `SELECT e.seq, e.org_id, m.status, m.effect, m.details FROM epcis_events e LEFT JOIN epcis_mappings m ON m.seq = e.seq WHERE e.seq = ?`,
      ).get(seq) as { seq: number; org_id: number; status: string | null; effect: string | null; details: string | null } | undefined,
    order: (orderId: number) =>
      prepared(db, `SELECT order_id, buyer_org, seller_org FROM orders WHERE order_id = ?`).get(orderId) as
        | { order_id: number; buyer_org: number; seller_org: number }
        | undefined,
  };
}
type Index = ReturnType<typeof index>;

/** keccak256(abi.encode(uint64 gtin, string lot)): a lot's id, which is its first portion's batch id. */
export function lotIdOf(gtin: string, lot: string): string {
  return keccak256(AbiCoder.defaultAbiCoder().encode(["uint64", "string"], [BigInt(gtin), lot]));
}

const lotName = (l: { gtin: string; lot: string }) => `lot ${l.lot} of GTIN ${l.gtin}`;
const usable = (b: BatchRow) => b.status === "active" && b.recall === "none" && b.unit_key === null;

/** The organisation a GLN or party GLN names: its registered location's, else its company prefix's holder. */
function orgOfGln(ix: Index, db: Db, gln: string): number | null {
  return ix.locationOrg(gln) ?? orgOfKey(db, gln);
}

// ------------------------------------------------------------------ quantities

/**
 * An EPCIS quantity (+ uom, UN/CEFACT Rec 20) in a product's unit as the contract's 3-decimal fixed
 * point. No uom means a count of instances (EPCIS), which only a count unit (dimension 3) can take.
 * Units of one dimension convert through the governance table; the result is rounded half up to 3
 * decimals (noted).
 */
function productQuantity(ix: Index, quantity: string, uom: string | null, unit: string, what: string): { raw: bigint; note?: string } {
  const m = /^(\d+)(?:\.(\d+))?$/.exec(quantity);
  if (!m) return refuse(`${what}: quantity ${quantity} is not a positive decimal`);
  const fraction = m[2] ?? "";
  const value = BigInt(m[1] + fraction);
  const scale = 10n ** BigInt(fraction.length);
  const target = ix.unitOfMeasure(unit);
  if (!target) return refuse(`${what}: the product's unit ${unit} is not in the units of measure table`);
  let numerator: bigint;
  let denominator: bigint;
  if (uom === unit) {
    numerator = value * 1000n;
    denominator = scale;
  } else {
    const from = uom === null ? { dimension: 3, to_base: "1" } : ix.unitOfMeasure(uom);
    if (!from) return refuse(`${what}: uom ${uom} is not a unit Lotline knows (UN/CEFACT Rec 20 codes of the units of measure table)`);
    if (from.dimension === 0 || from.dimension !== target.dimension) {
      return refuse(
        uom === null
          ? `${what}: a quantity without uom is a count of instances, and the product is measured in ${unit}: give the uom`
          : `${what}: ${uom} cannot be converted to the product's unit ${unit}`,
      );
    }
    numerator = value * BigInt(from.to_base) * 1000n;
    denominator = scale * BigInt(target.to_base);
  }
  const raw = (numerator * 2n + denominator) / (denominator * 2n);
  if (raw === 0n) return refuse(`${what}: ${quantity} ${uom ?? "(count)"} is less than 0.001 ${unit}`);
  const exact = numerator % denominator === 0n;
  const converted = uom !== unit || !exact;
  return converted ? { raw, note: `${quantity} ${uom ?? "(count)"} = ${formatQuantity(raw)} ${unit}${exact ? "" : " (rounded to 3 decimals)"}` } : { raw };
}

/** Picks the portion to act on: the one of exactly the quantity asked for, else the largest. */
function pick(candidates: BatchRow[], quantity: bigint | null, of: (b: BatchRow) => string = (b) => b.quantity): BatchRow {
  if (quantity !== null) {
    const exact = candidates.find((b) => BigInt(of(b)) === quantity);
    if (exact) return exact;
  }
  return candidates.reduce((best, b) => (BigInt(of(b)) > BigInt(of(best)) ? b : best));
}

// ------------------------------------------------------------------ who acts

/**
 * Null when this node may send the effect for `actingOrg`, else why not: no integration key, another
 * member's signature needed, or a capture by another organisation (the integration key acts only on
 * its own organisation's captures).
 */
function blockedFor(actor: Actor, actingOrg: number, f: EventFacts, what: string): string | null {
  if (actor.orgId === null) return `no integration key: ${actor.problem}`;
  if (actingOrg !== actor.orgId) {
    return `needs another member's signature: organisation ${actingOrg} must ${what} with its own key (this node's integration key acts for organisation ${actor.orgId})`;
  }
  if (f.orgId !== actor.orgId) {
    return `captured by organisation ${f.orgId}: this node's integration key acts only on organisation ${actor.orgId}'s own captures`;
  }
  return null;
}

/** The GLN of the event's bizLocation (else readPoint) when it is a location of `org`; "" otherwise. */
function placeOf(ix: Index, f: EventFacts, org: number): { gln: string; ignored: string | null } {
  for (const gln of [f.bizLocationGln, f.readPointGln]) if (gln && ix.locationOrg(gln) === org) return { gln, ignored: null };
  return { gln: "", ignored: f.bizLocationGln ?? f.readPointGln };
}

const lotsIn = (f: EventFacts, ...groups: string[]) => f.lots.filter((l) => groups.includes(l.group));
const ssccsIn = (f: EventFacts, ...groups: string[]) => f.ssccs.filter((s) => groups.includes(s.group));
const othersIn = (f: EventFacts, ...groups: string[]) => f.others.filter((o) => groups.includes(o.group));

function noSerials(f: EventFacts, groups: string[], what: string): void {
  const other = othersIn(f, ...groups);
  if (other.length > 0) {
    refuse(
      `${other[0].raw} is not a lot or an SSCC: Lotline ${what} lots (LGTIN classes or lot Digital Links /01/{gtin}/10/{lot})` +
        " and logistic units (SSCCs), not serialised items or other keys",
    );
  }
}

function registeredPortions(ix: Index, l: LotRef): BatchRow[] {
  const portions = ix.portions(l.gtin, l.lot);
  if (portions.length === 0) refuse(`${lotName(l)} is not registered (no member registered ${l.raw})`);
  return portions;
}

function knownUnit(ix: Index, s: SsccRef): UnitRow {
  const unit = ix.unitBySscc(s.sscc);
  if (!unit) return refuse(`SSCC ${s.sscc} is no logistic unit on the chain (pack it first with an AggregationEvent ADD)`);
  return unit;
}

// ------------------------------------------------------------------ the rules

function commissioning(ix: Index, f: EventFacts, actor: Actor): Plan {
  noSerials(f, ["object"], "registers");
  const classes = lotsIn(f, "object");
  if (classes.length === 0) refuse("names no lot to commission (an LGTIN class in quantityList, with quantity and uom)");
  if (classes.length > 64) refuse(`names ${classes.length} lots; registerLots takes at most 64`);
  const seen = new Set<string>();
  const orgs = new Set<number>();
  const lots: { gtin: string; lot: string; quantity: bigint; unit: string; note?: string }[] = [];
  for (const l of classes) {
    if (seen.has(l.id)) refuse(`names ${lotName(l)} twice`);
    seen.add(l.id);
    const product = ix.product(l.gtin);
    if (!product) refuse(`GTIN ${l.gtin} is not a registered product (register it first: lotline product register)`);
    orgs.add(product!.org_id);
    if (l.quantity === null) refuse(`${lotName(l)} has no quantity: commission lots in quantityList with quantity and uom`);
    const q = productQuantity(ix, l.quantity!, l.uom, product!.unit, lotName(l));
    lots.push({ gtin: l.gtin, lot: l.lot, quantity: q.raw, unit: product!.unit, ...(q.note ? { note: q.note } : {}) });
  }
  if (orgs.size > 1) refuse(`names products of organisations ${[...orgs].join(" and ")}: each registers its own lots`);
  const org = [...orgs][0];
  const place = placeOf(ix, f, org);
  const blocked = blockedFor(actor, org, f, "register its lots");
  const metadataHash = keccakText(f.hashId);
  const details = {
    orgId: String(org),
    lots: lots.map((l) => ({
      batchId: lotIdOf(l.gtin, l.lot),
      gtin: l.gtin,
      lot: l.lot,
      quantity: formatQuantity(l.quantity),
      unit: l.unit,
      ...(l.note ? { converted: l.note } : {}),
    })),
    location: place.gln || null,
    ...(place.ignored ? { locationIgnored: `${place.ignored} is not a location of organisation ${org}` } : {}),
    metadataHash,
  };
  if (blocked) return no(blocked, "registerLots", details);
  return {
    status: "send",
    effect: "registerLots",
    calls: [
      {
        contract: "provenance",
        fn: "registerLots",
        args: [lots.map((l) => ({ gtin: BigInt(l.gtin).toString(), lot: l.lot, quantity: l.quantity.toString(), gln: place.gln, metadataHash }))],
      },
    ],
    details,
  };
}

/** At most this many lots and units in one shipping or receiving event (one transaction each). */
export const MAX_GOODS = 16;

type Goods = { lot: LotRef } | { unit: SsccRef };
const goodsName = (g: Goods) => ("lot" in g ? lotName(g.lot) : `SSCC ${g.unit.sscc}`);

/**
 * The lots and logistic units a shipping or receiving event moves: an AggregationEvent moves its
 * parent unit (the children say what is in it), any other event each lot and SSCC it names.
 */
function goodsOf(f: EventFacts): Goods[] {
  const parentUnit = f.eventType === "AggregationEvent" ? ssccsIn(f, "parent")[0] : undefined;
  if (parentUnit) return [{ unit: parentUnit }];
  noSerials(f, ["object", "parent", "child"], "hands over");
  const goods: Goods[] = [...lotsIn(f, "object", "child").map((lot) => ({ lot })), ...ssccsIn(f, "object", "child").map((unit) => ({ unit }))];
  if (goods.length === 0) refuse("names no lot or logistic unit (SSCC) to hand over");
  if (goods.length > MAX_GOODS) refuse(`names ${goods.length} lots and units; Lotline moves at most ${MAX_GOODS} per event`);
  const seen = new Set<string>();
  for (const g of goods) {
    const key = "lot" in g ? g.lot.id : g.unit.id;
    if (seen.has(key)) refuse(`names ${goodsName(g)} twice`);
    seen.add(key);
  }
  return goods;
}

/** One hand-over of a set: who must sign it, its call and what it acts on. */
interface Part {
  actingOrg: number;
  what: string;
  effect: string;
  call: PlannedCall;
  details: Record<string, unknown>;
}

/**
 * A set of hand-overs applied all or none: every part must be planned (a refusal of any refuses the
 * event) and sendable by this node's key; the job then simulates every call before sending any.
 */
function handOverSet(f: EventFacts, actor: Actor, goods: Goods[], plan: (g: Goods) => Part): Plan {
  const several = goods.length > 1;
  const allOrNone = ` (the event names ${goods.length} lots and units, applied all or none: nothing of it was applied)`;
  const parts: Part[] = [];
  for (const g of goods) {
    try {
      parts.push(plan(g));
    } catch (err) {
      if (several && err instanceof Refusal) refuse(`${err.message}${allOrNone}`);
      throw err;
    }
  }
  const effects = [...new Set(parts.map((p) => p.effect))];
  const effect = effects.length === 1 ? effects[0] : effects.join("+");
  const details = several ? { goods: parts.map((p) => p.details), allOrNone: true } : parts[0].details;
  for (const p of parts) {
    const blocked = blockedFor(actor, p.actingOrg, f, p.what);
    if (blocked) return no(several ? `${blocked}${allOrNone}` : blocked, effect, details);
  }
  return { status: "send", effect, calls: parts.map((p) => p.call), details };
}

function shipping(ix: Index, f: EventFacts, actor: Actor, db: Db): Plan {
  const goods = goodsOf(f);
  const party = (type: string) => {
    const d = f.destinations.find((x) => x.type === type);
    if (!d) return null;
    const gln = /^https:\/\/id\.gs1\.org\/(?:414|417)\/(\d{13})/.exec(d.id)?.[1];
    const org = gln ? orgOfGln(ix, db, gln) : null;
    if (org === null) refuse(`destination ${d.raw} (${type}) is not a GLN of any member`);
    return org;
  };
  const owning = party("owning_party");
  const possessing = party("possessing_party") ?? party("location");
  if (owning === null && possessing === null) {
    refuse("has no destination naming a member (destinationList with owning_party, possessing_party or location)");
  }
  return handOverSet(f, actor, goods, (g) => ("unit" in g ? offerUnitPart(ix, g.unit, owning, possessing) : offerPart(ix, actor, g.lot, owning, possessing)));
}

function offerUnitPart(ix: Index, s: SsccRef, owning: number | null, possessing: number | null): Part {
  const unit = knownUnit(ix, s);
  if (unit.status !== "packed") refuse(`logistic unit ${unit.sscc} is unpacked`);
  const from = unit.custodian_org;
  if (owning !== null && owning !== from) {
    refuse(`a logistic unit hands over custody only (offerUnit): offer ownership of the batches in SSCC ${unit.sscc} batch by batch`);
  }
  if (possessing === null || possessing === from) refuse(`names no other member to take custody of SSCC ${unit.sscc}`);
  return {
    actingOrg: from,
    what: `offer SSCC ${unit.sscc}`,
    effect: "offerUnit",
    call: { contract: "units", fn: "offerUnit", args: [unit.sscc, String(possessing)] },
    details: { sscc: unit.sscc, fromOrgId: String(from), toOrgId: String(possessing), kind: "custody" },
  };
}

function offerPart(ix: Index, actor: Actor, lot: LotRef, owning: number | null, possessing: number | null): Part {
  const live = registeredPortions(ix, lot).filter(usable);
  if (live.length === 0) refuse(`no portion of ${lotName(lot)} is active and outside logistic units (in transit, packed, used up or recalled)`);
  const from = actor.orgId !== null && live.some((b) => b.owner_org === actor.orgId || b.custodian_org === actor.orgId) ? actor.orgId : live[0].custodian_org;
  const ownerTo = owning !== null && owning !== from ? owning : null;
  const custodyTo = possessing !== null && possessing !== from ? possessing : null;
  if (ownerTo === null && custodyTo === null) refuse(`names no member other than organisation ${from}, which already holds ${lotName(lot)}`);
  if (ownerTo !== null && custodyTo !== null && ownerTo !== custodyTo) {
    refuse(`ownership to organisation ${ownerTo} and custody to organisation ${custodyTo}: one offer at a time; capture two shipping events`);
  }
  const kind: HandoverKindName = ownerTo !== null && custodyTo !== null ? "both" : ownerTo !== null ? "ownership" : "custody";
  const to = (ownerTo ?? custodyTo)!;
  const candidates = live.filter((b) => (kind === "ownership" || b.custodian_org === from) && (kind === "custody" || b.owner_org === from));
  if (candidates.length === 0) {
    const verb = kind === "custody" ? "hold" : kind === "ownership" ? "own" : "own and hold";
    refuse(`organisation ${from} does not ${verb} an active portion of ${lotName(lot)}`);
  }
  const requested = lot.quantity === null ? null : productQuantity(ix, lot.quantity, lot.uom, candidates[0].unit, lotName(lot));
  const batch = pick(candidates, requested?.raw ?? null);
  const quantity = requested?.raw ?? BigInt(batch.quantity);
  const details = {
    batchId: batch.batch_id,
    gtin: lot.gtin,
    lot: lot.lot,
    quantity: formatQuantity(quantity),
    unit: batch.unit,
    ...(requested?.note ? { converted: requested.note } : {}),
    fromOrgId: String(from),
    toOrgId: String(to),
    kind,
  };
  return {
    actingOrg: from,
    what: `offer ${lotName(lot)}`,
    effect: "offer",
    call: { contract: "provenance", fn: "offer", args: [batch.batch_id, quantity.toString(), String(to), HANDOVER_KINDS[kind]] },
    details,
  };
}

function receiving(ix: Index, f: EventFacts, actor: Actor, db: Db): Plan {
  const goods = goodsOf(f);
  const placeGln = f.bizLocationGln ?? f.readPointGln;
  const receiver = (placeGln ? orgOfGln(ix, db, placeGln) : null) ?? f.orgId;
  const gln = placeGln && ix.locationOrg(placeGln) === receiver ? placeGln : "";
  return handOverSet(f, actor, goods, (g) => ("unit" in g ? acceptUnitPart(ix, g.unit, receiver, gln) : acceptPart(ix, g.lot, receiver, gln)));
}

function acceptUnitPart(ix: Index, s: SsccRef, receiver: number, gln: string): Part {
  const unit = knownUnit(ix, s);
  if (unit.offer_to !== receiver) refuse(`no pending offer of SSCC ${unit.sscc} to organisation ${receiver}`);
  return {
    actingOrg: receiver,
    what: `accept SSCC ${unit.sscc}`,
    effect: "acceptUnit",
    call: { contract: "units", fn: "acceptUnit", args: [unit.sscc, unit.contents_hash ?? ZeroHash, gln] },
    details: { sscc: unit.sscc, fromOrgId: String(unit.custodian_org), toOrgId: String(receiver), location: gln || null },
  };
}

function acceptPart(ix: Index, lot: LotRef, receiver: number, gln: string): Part {
  const offered = registeredPortions(ix, lot).filter((b) => b.status === "in_transit" && b.offer_to === receiver);
  if (offered.length === 0) refuse(`no pending offer of ${lotName(lot)} to organisation ${receiver}`);
  const requested = lot.quantity === null ? null : productQuantity(ix, lot.quantity, lot.uom, offered[0].unit, lotName(lot));
  const batch = pick(offered, requested?.raw ?? null, (b) => b.offer_quantity ?? "0");
  if (requested && requested.raw !== BigInt(batch.offer_quantity!)) {
    refuse(
      `receives ${formatQuantity(requested.raw)} ${batch.unit} but the pending offer is for ${formatQuantity(batch.offer_quantity!)} ${batch.unit}:` +
        " an acceptance takes the whole offer",
    );
  }
  return {
    actingOrg: receiver,
    what: `accept ${lotName(lot)}`,
    effect: "accept",
    // The offer as indexed: a sender that changed it since gets the acceptance refused on-chain.
    call: { contract: "provenance", fn: "accept", args: [batch.batch_id, batch.offer_quantity!, HANDOVER_KINDS[batch.offer_kind as HandoverKindName], gln] },
    details: {
      batchId: batch.batch_id,
      gtin: lot.gtin,
      lot: lot.lot,
      quantity: formatQuantity(batch.offer_quantity!),
      unit: batch.unit,
      kind: batch.offer_kind,
      toOrgId: String(receiver),
      location: gln || null,
    },
  };
}

function transformation(ix: Index, f: EventFacts, actor: Actor): Plan {
  noSerials(f, ["input", "output"], "transforms");
  if (ssccsIn(f, "input", "output").length > 0) refuse("transforms lots, not logistic units (SSCC): unpack the unit first");
  const inputs = lotsIn(f, "input");
  const outputs = lotsIn(f, "output");
  if (inputs.length === 0 || outputs.length === 0) refuse("needs input lots and output lots (input/outputQuantityList or lot Digital Links)");
  if (inputs.length * outputs.length > 64) refuse(`${inputs.length} inputs × ${outputs.length} outputs exceed the contract's 64 lineage edges`);

  const held = (b: BatchRow, org: number) => usable(b) && b.owner_org === org && b.custodian_org === org;
  const portionsOf = inputs.map((l) => registeredPortions(ix, l));
  const keyHoldsAll = actor.orgId !== null && portionsOf.every((ps) => ps.some((b) => held(b, actor.orgId!)));
  const firstHolder = portionsOf[0].find((b) => held(b, b.owner_org));
  const org = keyHoldsAll ? actor.orgId! : (firstHolder?.owner_org ?? refuse(`no organisation owns and holds an active portion of ${lotName(inputs[0])}`));

  const used = new Set<string>();
  const ins = inputs.map((l, i) => {
    const candidates = portionsOf[i].filter((b) => held(b, org) && !used.has(b.batch_id));
    if (candidates.length === 0) refuse(`organisation ${org} does not own and hold an active portion of ${lotName(l)}`);
    const requested = l.quantity === null ? null : productQuantity(ix, l.quantity, l.uom, candidates[0].unit, lotName(l));
    const batch = pick(candidates, requested?.raw ?? null);
    used.add(batch.batch_id);
    return { lot: l, batch, quantity: requested?.raw ?? BigInt(batch.quantity), note: requested?.note };
  });
  const place = placeOf(ix, f, org);
  const metadataHash = keccakText(f.hashId);
  const outs = outputs.map((l) => {
    const product = ix.product(l.gtin);
    if (!product) return refuse(`output GTIN ${l.gtin} is not a registered product (register it first: lotline product register)`);
    if (product.org_id !== org) {
      return refuse(`output GTIN ${l.gtin} is organisation ${product.org_id}'s product: a transformation makes the transforming organisation's own products`);
    }
    if (l.quantity === null) return refuse(`output ${lotName(l)} has no quantity (outputQuantityList with quantity and uom)`);
    const q = productQuantity(ix, l.quantity, l.uom, product.unit, lotName(l));
    return { lot: l, unit: product.unit, quantity: q.raw, note: q.note };
  });
  const kind = (f.kind ?? "PROCESS").toUpperCase();
  if (!/^[A-Z0-9_]{1,31}$/.test(kind)) refuse(`lotline:kind "${f.kind}" is not a transformation kind (letters, digits and _ , at most 31)`);
  const details = {
    orgId: String(org),
    kind,
    inputs: ins.map((i) => ({
      batchId: i.batch.batch_id,
      gtin: i.lot.gtin,
      lot: i.lot.lot,
      quantity: formatQuantity(i.quantity),
      unit: i.batch.unit,
      ...(i.note ? { converted: i.note } : {}),
    })),
    outputs: outs.map((o) => ({
      batchId: lotIdOf(o.lot.gtin, o.lot.lot),
      gtin: o.lot.gtin,
      lot: o.lot.lot,
      quantity: formatQuantity(o.quantity),
      unit: o.unit,
      ...(o.note ? { converted: o.note } : {}),
    })),
    location: place.gln || null,
    metadataHash,
  };
  const blocked = blockedFor(actor, org, f, "transform its goods");
  if (blocked) return no(blocked, "transform", details);
  return {
    status: "send",
    effect: "transform",
    calls: [
      {
        contract: "provenance",
        fn: "transform",
        args: [
          encodeBytes32String(kind),
          ins.map((i) => i.batch.batch_id),
          ins.map((i) => i.quantity.toString()),
          outs.map((o) => ({ gtin: BigInt(o.lot.gtin).toString(), lot: o.lot.lot, quantity: o.quantity.toString(), gln: place.gln, metadataHash })),
          metadataHash,
        ],
      },
    ],
    details,
  };
}

function aggregation(ix: Index, f: EventFacts, actor: Actor, db: Db): Plan {
  const parent = ssccsIn(f, "parent")[0];
  if (!parent) {
    const other = othersIn(f, "parent")[0];
    refuse(other ? `parentID ${other.raw} is not an SSCC: Lotline packs logistic units (SSCC)` : "has no parentID (the SSCC of the logistic unit)");
  }
  noSerials(f, ["child"], "packs");
  if (ssccsIn(f, "child").length > 0) refuse("packs batches, not other logistic units (nested SSCCs are not supported)");
  const children = lotsIn(f, "child");

  if (f.action === "DELETE") {
    const unit = knownUnit(ix, parent);
    if (unit.status !== "packed") refuse(`logistic unit ${unit.sscc} is already unpacked`);
    const contents = ix.contents(unit.unit_key);
    if (children.length > 0) {
      const listed = new Set(children.flatMap((l) => contents.filter((b) => b.gtin === l.gtin && b.lot === l.lot).map((b) => b.batch_id)));
      const missing = children.find((l) => !contents.some((b) => b.gtin === l.gtin && b.lot === l.lot));
      if (missing) refuse(`${lotName(missing)} is not in logistic unit ${unit.sscc}`);
      if (listed.size !== contents.length) refuse(`unpacks ${listed.size} of the ${contents.length} batches in ${unit.sscc}: Lotline unpacks whole units`);
    }
    const details = { sscc: unit.sscc, orgId: String(unit.custodian_org), batchIds: contents.map((b) => b.batch_id) };
    const blocked = blockedFor(actor, unit.custodian_org, f, `unpack SSCC ${unit.sscc}`);
    if (blocked) return no(blocked, "unpack", details);
    return { status: "send", effect: "unpack", calls: [{ contract: "units", fn: "unpack", args: [unit.sscc] }], details };
  }

  const org = orgOfKey(db, parent.sscc.slice(1, 17));
  if (org === null) refuse(`SSCC ${parent.sscc} is under no member's company prefix`);
  if (children.length === 0) refuse("names no batches to pack (LGTIN classes in childQuantityList or lot Digital Links in childEPCs)");
  const used = new Set<string>();
  const batches = children.map((l) => {
    const candidates = registeredPortions(ix, l).filter((b) => usable(b) && b.custodian_org === org && !used.has(b.batch_id));
    if (candidates.length === 0) refuse(`organisation ${org} holds no active portion of ${lotName(l)} outside a logistic unit`);
    let batch: BatchRow;
    if (l.quantity !== null) {
      const q = productQuantity(ix, l.quantity, l.uom, candidates[0].unit, lotName(l));
      const exact = candidates.find((b) => BigInt(b.quantity) === q.raw);
      if (!exact) {
        refuse(
          `packs whole batches: organisation ${org} holds no portion of ${lotName(l)} of exactly ${formatQuantity(q.raw)} ${candidates[0].unit}` +
            ` (it holds ${candidates.map((b) => formatQuantity(b.quantity)).join(", ")}); split the lot first`,
        );
      }
      batch = exact!;
    } else if (candidates.length === 1) {
      batch = candidates[0];
    } else {
      return refuse(`organisation ${org} holds ${candidates.length} portions of ${lotName(l)}: give the quantity of the one to pack`);
    }
    used.add(batch.batch_id);
    return { lot: l, batch };
  });
  const details = {
    sscc: parent.sscc,
    orgId: String(org),
    batches: batches.map((b) => ({ batchId: b.batch.batch_id, gtin: b.lot.gtin, lot: b.lot.lot, quantity: formatQuantity(b.batch.quantity), unit: b.batch.unit })),
  };
  const blocked = blockedFor(actor, org!, f, `pack SSCC ${parent.sscc}`);
  if (blocked) return no(blocked, "pack", details);
  return { status: "send", effect: "pack", calls: [{ contract: "units", fn: "pack", args: [parent.sscc, batches.map((b) => b.batch.batch_id)] }], details };
}

/** `…:po:{orderId}`, `…/po/{orderId}` or `…/orders/{orderId}` (a decimal Lotline order id). */
export const ORDER_REFERENCE = /(?::po:|\/po\/|\/orders\/)([1-9][0-9]{0,18})$/i;

function orderLink(ix: Index, f: EventFacts): Plan {
  const pos = f.bizTransactions.filter((t) => t.type === "po");
  const named = pos.map((t) => ({ t, m: ORDER_REFERENCE.exec(t.value) })).filter((x) => x.m);
  if (named.length === 0) {
    refuse(`no po business transaction names a Lotline order (…:po:{orderId}, …/po/{orderId} or …/orders/{orderId}): ${pos.map((t) => t.value).join(", ")}`);
  }
  if (f.action === "DELETE") refuse("DELETE ends a business transaction; Lotline keeps the order links it recorded");
  const links: OrderLink[] = [];
  for (const { t, m } of named) {
    const orderId = Number(m![1]);
    const order = ix.order(orderId);
    if (!order) refuse(`no Lotline order ${orderId} (${t.value})`);
    if (order!.buyer_org !== f.orgId && order!.seller_org !== f.orgId) {
      refuse(`order ${orderId} is between organisations ${order!.buyer_org} and ${order!.seller_org}; organisation ${f.orgId} captured the event`);
    }
    if (!links.some((l) => l.orderId === orderId)) links.push({ orderId, bizTransaction: t.value });
  }
  const batches = [...new Set(f.lots.flatMap((l) => ix.portions(l.gtin, l.lot).map((b) => b.batch_id)))];
  return { status: "applied", effect: "link", details: { orderIds: links.map((l) => String(l.orderId)), batchIds: batches }, orderLinks: links };
}

/** Sensor data or certification about batches: kept (shown on them), observed on-chain for those this org holds. */
function observation(ix: Index, f: EventFacts, actor: Actor): Plan {
  const batches = new Map<string, BatchRow>();
  const unknown: string[] = [];
  for (const l of f.lots) {
    const portions = ix.portions(l.gtin, l.lot);
    if (portions.length === 0) unknown.push(l.raw);
    for (const b of portions) batches.set(b.batch_id, b);
  }
  for (const s of f.ssccs) {
    const unit = ix.unitBySscc(s.sscc);
    if (!unit) unknown.push(s.raw);
    else for (const b of ix.contents(unit.unit_key)) batches.set(b.batch_id, b);
  }
  if (batches.size === 0) {
    refuse(`names no registered batch (${[...unknown, ...f.others.map((o) => o.raw)].slice(0, 3).join(", ") || "no identifiers"}): nobody registered these identifiers`);
  }
  const all = [...batches.values()];
  const key = actor.orgId;
  const mine = all.filter((b) => (b.status === "active" || b.status === "in_transit") && (b.owner_org === key || b.custodian_org === key));
  const kept = { batchIds: all.map((b) => b.batch_id), sensorData: Array.isArray(f.sensorElementList), certificationInfo: f.certificationInfo ?? null };
  const why =
    key === null
      ? `no integration key: ${actor.problem}`
      : mine.length === 0
        ? `organisation ${key} holds none of these batches: observing them needs another member's signature`
        : f.orgId !== key
          ? `captured by organisation ${f.orgId}: this node's integration key acts only on organisation ${key}'s own captures`
          : null;
  if (why) return { status: "applied", effect: "kept", details: { ...kept, notObserved: why } };
  if (mine.length > 16) refuse(`names ${mine.length} batches this organisation holds; Lotline observes at most 16 per event`);
  const bizStep = f.bizStep ?? "";
  const bizStepBytes = Buffer.byteLength(bizStep) <= 31 ? encodeBytes32String(bizStep) : keccakText(bizStep);
  const eventHash = keccakText(f.hashId);
  const dataHash = keccak256(Buffer.from(canonicalize({ sensorElementList: f.sensorElementList ?? null, certificationInfo: f.certificationInfo ?? null })));
  const gln = f.bizLocationGln ?? f.readPointGln ?? "";
  return {
    status: "send",
    effect: "observe",
    calls: mine.map((b) => ({ contract: "provenance" as const, fn: "observe", args: [b.batch_id, eventHash, bizStepBytes, gln, dataHash] })),
    details: { ...kept, observed: mine.map((b) => b.batch_id), eventHash, dataHash, location: gln || null },
  };
}

/** CBV 2.0 creating_class_instance commissions lots (classes) as commissioning does. */
const COMMISSIONING = new Set(["commissioning", "creating_class_instance"]);
const SHIPPING = new Set(["shipping", "departing"]);
const RECEIVING = new Set(["receiving", "arriving"]);

// ------------------------------------------------------------------ error declarations

/**
 * What an applied call did that cannot be undone on-chain, by function. Everything else a call did
 * can be withdrawn while the state it made is still there: an offer not yet accepted (cancelOffer),
 * a unit offer (cancelUnitOffer), a packing (unpack).
 */
export const IRREVERSIBLE: Record<string, string> = {
  registerLots: "a registration cannot be reversed on-chain (a lot id is never freed); the lot stays registered — end it if it does not exist",
  accept: "an accepted hand-over cannot be reversed on-chain (reversing it needs both organisations); hand the goods back with a new shipping event",
  acceptUnit: "an accepted hand-over cannot be reversed on-chain (reversing it needs both organisations); hand the unit back with a new shipping event",
  transform: "a transformation cannot be reversed on-chain (its inputs were consumed, its outputs registered)",
  observe: "an observation anchored on-chain stays (the declaration is stored and linked beside it)",
  unpack: "an unpacking is not reversed; pack the unit again with a new AggregationEvent ADD",
};

/**
 * The call that withdraws an applied call, while what it made is still there (checked against the
 * index; the job simulates it too), else a refusal naming why not. Exported for the job, which uses
 * it to withdraw the calls of a set sent before one of them failed.
 */
export function undoCall(call: PlannedCall, reason: string, state?: { batch(id: string): BatchRow | undefined; unitBySscc(sscc: string): UnitRow | undefined; contents(key: string): BatchRow[] }): PlannedCall | string {
  const [first] = call.args as string[];
  if (call.fn === "offer") {
    const [batchId, quantity, to] = call.args as string[];
    const b = state?.batch(batchId);
    if (state && (!b || b.status !== "in_transit" || String(b.offer_to) !== to || b.offer_quantity !== quantity)) {
      return `the offer of batch ${batchId} to organisation ${to} is no longer pending (accepted or withdrawn since): ${IRREVERSIBLE.accept}`;
    }
    return { contract: "provenance", fn: "cancelOffer", args: [batchId, reason] };
  }
  if (call.fn === "offerUnit") {
    const [, to] = call.args as string[];
    const u = state?.unitBySscc(first);
    if (state && (!u || String(u.offer_to) !== to)) {
      return `the offer of SSCC ${first} to organisation ${to} is no longer pending (accepted or withdrawn since): ${IRREVERSIBLE.acceptUnit}`;
    }
    return { contract: "units", fn: "cancelUnitOffer", args: [first] };
  }
  if (call.fn === "pack") {
    const [, batchIds] = call.args as [string, string[]];
    const u = state?.unitBySscc(first);
    const same = (a: string[], b: string[]) => a.length === b.length && [...a].sort().join() === [...b].sort().join();
    if (state && (!u || u.status !== "packed" || u.offer_to !== null || !same(state.contents(u.unit_key).map((b) => b.batch_id), batchIds))) {
      return `SSCC ${first} no longer holds what was packed (unpacked, offered or handed over since): it is not unpacked`;
    }
    return { contract: "units", fn: "unpack", args: [first] };
  }
  return IRREVERSIBLE[call.fn] ?? `${call.fn} cannot be reversed on-chain`;
}

/**
 * An error declaration (EPCIS errorDeclaration) of a stored event: withdraws what the event's mapping
 * did where the contracts allow, all of it or none; an irreversible effect is marked `irreversible` in
 * the details. Only the organisation that captured the event may declare it erroneous. The corrective
 * events it names map as any event (the job maps again those refused before the withdrawal).
 */
function correction(ix: Index, f: EventFacts, actor: Actor): Plan {
  if (f.originalSeq === null) return no("an error declaration of no stored event (no stored event has its hash ID): nothing to reverse");
  const original = ix.original(f.originalSeq)!;
  const details: Record<string, unknown> = { original: recordIdOf(original.seq), originalEffect: original.effect };
  if (original.org_id !== f.orgId) {
    return no(
      `declared by organisation ${f.orgId}, but organisation ${original.org_id} captured the event: only the organisation that captured an event may declare it erroneous; nothing is reversed`,
      "reverse",
      details,
    );
  }
  if (original.status !== "applied") {
    return no(`nothing to reverse: the event's mapping is ${original.status ?? "missing"}`, "reverse", details);
  }
  const done = original.details ? (JSON.parse(original.details) as { calls?: PlannedCall[]; transactions?: string[] }) : {};
  if (original.effect === "link") return { status: "applied", effect: "reverse", details: { ...details, unlinked: true }, unlinkSeq: original.seq };
  if (!done.calls || done.calls.length === 0) return no(`nothing to reverse: the event was ${original.effect ?? "kept"} off-chain, without a transaction`, "reverse", details);
  const reason = `EPCIS error declaration ${f.recordId}`;
  const undo = done.calls.map((c) => undoCall(c, reason, ix));
  const irreversible = undo.filter((u): u is string => typeof u === "string");
  if (irreversible.length > 0) {
    return no(
      `cannot be reversed on-chain: ${[...new Set(irreversible)].join("; ")}${done.calls.length > 1 ? " (nothing of the event is reversed: all or none)" : ""}`,
      "reverse",
      { ...details, irreversible: true, originalTransactions: done.transactions ?? [] },
    );
  }
  const calls = undo as PlannedCall[];
  const blocked = blockedFor(actor, original.org_id, f, "withdraw what its event did");
  if (blocked) return no(blocked, "reverse", { ...details, withdraw: calls.map((c) => c.fn) });
  return { status: "send", effect: "reverse", calls, details: { ...details, withdraw: calls.map((c) => c.fn) } };
}

/** Decides what an event means for provenance. */
export function planMapping(db: Db, f: EventFacts, actor: Actor): Plan {
  const ix = index(db);
  if (!f.errorDeclaration && f.originalSeq !== null) {
    return no(`has the hash ID of stored event ${recordIdOf(f.originalSeq)}: a corrected copy is stored, not mapped again`);
  }
  try {
    if (f.errorDeclaration) return correction(ix, f, actor);
    if (f.eventType === "TransactionEvent" && f.bizTransactions.some((t) => t.type === "po")) return orderLink(ix, f);
    if (f.eventType === "TransformationEvent") return transformation(ix, f, actor);
    if (f.eventType === "AggregationEvent" && (f.action === "ADD" || f.action === "DELETE")) return aggregation(ix, f, actor, db);
    if (f.eventType === "ObjectEvent" && f.action === "ADD" && f.bizStep && COMMISSIONING.has(f.bizStep)) return commissioning(ix, f, actor);
    const movable = f.eventType === "ObjectEvent" || f.eventType === "AggregationEvent";
    if (movable && f.action === "OBSERVE" && f.bizStep && SHIPPING.has(f.bizStep)) return shipping(ix, f, actor, db);
    if (movable && f.action === "OBSERVE" && f.bizStep && RECEIVING.has(f.bizStep)) return receiving(ix, f, actor, db);
    if (hasObservations(f)) return observation(ix, f, actor);
  } catch (err) {
    if (err instanceof Refusal) return no(err.message);
    throw err;
  }
  return no(
    `no provenance effect for a ${f.eventType} ${f.action ?? ""} with bizStep ${f.bizStep ?? "(none)"}`.replace(/\s+/g, " ") +
      " (see the mapping table: commissioning, shipping, receiving, transformation, aggregation, po links, sensor data)",
  );
}
