import type { Db } from "../store/db";
import { prepared } from "../store/statements";
import { loadAt, unitHistory } from "../store/logistic-units";
import { eventFacts, glnOf, type EventFacts, type LotRef } from "../epcis/mapping/facts";
import { formatQuantity } from "../provenance/quantity";
import { TRANSPORT_FACTORS, TRANSPORT_MODES, type TransportMode } from "./emissions";
import { DEFAULT_UNITS, MASS, toBase, type UnitTable } from "./units";

/**
 * Freight legs between custody hand-overs, from the EPCIS shipping events members capture
 * (docs/analytics.md, "Transport legs"). CBV 2.0 has no field for a leg's distance or mode, so a
 * shipping (or departing) event carries them as top-level extension fields of Lotline's namespace
 * (`"lotline": "https://lotline.dev/epcis/"` in @context), as EPCIS 2.0 §7.1.3 allows:
 *
 *   lotline:transportMode       road | rail | sea | air | inland_waterway        (required)
 *   lotline:distanceKm          the leg's distance, km (> 0)                         (required)
 *   lotline:tonnes              mass moved, tonnes — when the quantity is not a mass
 *   lotline:kgCo2ePerTonneKm    the carrier's own factor (ISO 14083 / GLEC), else the mode's default
 *
 * Where from and to: the event's sourceList / destinationList (GLNs), the bizLocation otherwise.
 * A leg's emissions are distance × tonnes × factor (ISO 14083 tonne-km method), carried by the
 * batch the event moved, per unit moved. Which batch that is (attributionOf):
 *
 *   - the event's mapping here was applied and offered a portion of the lot: that portion when the
 *     offer was of all of it, else the portion the acceptance split off (the goods that changed hands);
 *   - nothing here ties the event to a portion (mapping pending, not applied, applied without naming
 *     a portion, a replica mapped on its owner's node, a partial offer not accepted): the lot's first
 *     portion — whose figure every portion of the lot and everything made from it inherits — only
 *     when the event moved the whole lot (no portion split off by its time, and no quantity or the
 *     lot's registered one). Otherwise the leg is charged to no batch: it is *unattributed*, a
 *     `transport_unattributed` gap of the lot, because freight of part of a lot put on its first
 *     portion lands on portions that never travelled, per unit of what did.
 *
 * An event naming no lot of the lineage is never read for it (legs are found by the lot's identifier).
 *
 * A shipment of a logistic unit — an event naming an SSCC (parentID, or epcList as
 * `urn:epc:id:sscc:…` or Digital Link `/00/…`) — moves the batches packed in it. Which batches, and
 * how much of each, the chain says (LogisticUnits' pack and unpack records, indexed in batch_events):
 * the batches packed into the unit since its last unpacking before the event's time and not unpacked
 * by then (a unit is unpacked whole, so its packings between two unpackings are one load; a packing
 * mined after the event's time still belongs to the load the event shipped; chain times are whole
 * seconds, and an unpacking in the event's very second counts as before it). The leg's emissions,
 * distance × tonnes × factor with tonnes the unit's `lotline:tonnes` (its gross mass) or else the sum
 * of its contents' masses, are split among the contents by **mass share** (ISO 14083 allocates a
 * shared leg by the transported mass): batch b carries leg × m_b / Σ m, m its quantity in kg (a mass
 * unit, or quantity × the product's kg per unit). A content whose mass is unknown makes the split,
 * and so the leg, undetermined for every batch in the unit. An event that names a lot and also the
 * unit the lot is packed in counts once for that batch: as the unit's leg.
 *
 * Events held here are this node's own and the verified replicas of other members' events
 * (services/federation/epcis.ts); each leg says where its event came from (`origin`). A replica
 * whose proof has not been checked is not used.
 *
 * Only an organisation that handled the batch's lot on-chain declares its freight: its producer, an
 * owner or custodian of one of its portions, or a party to one of their hand-overs (a carrier that
 * took custody, of the lot or of a unit holding it). Any member may capture an event naming any
 * lot or SSCC; one that never held the goods cannot put freight on another member's footprint.
 */
export const TRANSPORT_BIZ_STEPS = ["shipping", "departing"] as const;

export interface TransportLegRecord {
  /** The EPCIS event's eventID and its record id (ev_…) on this node. */
  eventId: string;
  recordId: string;
  /** The organisation that captured the event (its owner for visibility). */
  orgId: number;
  bizStep: string;
  eventTime: string;
  batchId: string;
  from: string | null;
  to: string | null;
  mode: TransportMode | null;
  distanceKm: number | null;
  tonnes: number | null;
  kgCo2ePerTonneKm: number | null;
  factorSource: string | null;
  /** The quantity moved in the batch's unit; null: unknown (the batch's whole quantity is used). */
  quantity: number | null;
  co2eKg: number | null;
  /** Why the leg cannot be computed; null when it can. */
  problem: string | null;
  /** Where the event came from: its owner, the node that served it (null: this node), whether its proof held. */
  origin: LegOrigin | null;
  /** For a logistic unit's shipment: the unit and the share of the leg this batch carries; null for a lot's own leg. */
  logisticUnit: UnitShare | null;
}

export interface LegOrigin {
  orgId: string;
  servedBy: string | null;
  verified: boolean;
}

export interface UnitShare {
  sscc: string;
  /** Batches packed in the unit for the shipment. */
  batches: number;
  /** This batch's mass in the unit and the contents' total, kg (null: unknown). */
  batchKg: number | null;
  contentsKg: number | null;
  /** batchKg / contentsKg: the share of the leg's emissions this batch carries (null: unknown). */
  share: number | null;
  /** The whole leg's emissions, kg CO2e, before the split (null: unknown). */
  legCo2eKg: number | null;
}

/** A leg that nothing on this node ties to a portion of its lot, and why: a gap of the lot, charged to no batch. */
export interface UnattributedLeg {
  leg: TransportLegRecord;
  why: string;
}

/** A batch's freight legs, and the legs of its lot nothing ties to a portion (for the lot's first portion only). */
export interface BatchTransportLegs {
  legs: TransportLegRecord[];
  unattributed: UnattributedLeg[];
}

/** A batch packed in a logistic unit for a shipment, with its quantity in the unit (its own unit of measure). */
export interface UnitContent {
  batchId: string;
  gtin: string;
  unit: string;
  /** null: the chain's records do not give it. */
  quantity: number | null;
}

const positive = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) && v > 0 ? v : null);

/**
 * A leg from an event's facts for one lot it names. `moved` is what the mapping knows of the
 * hand-over (batch and quantity in the batch's unit), `batch` the batch it is attributed to.
 */
type LegFacts = Pick<
  EventFacts,
  "eventId" | "recordId" | "orgId" | "bizStep" | "eventTime" | "sources" | "destinations" | "bizLocationGln" | "readPointGln" | "lotlineFields"
>;

/** What any leg of an event has: its mode, distance and factor (with their problems) and its places. */
function legBasics(f: LegFacts) {
  const x = f.lotlineFields;
  const problems: string[] = [];
  const mode = (TRANSPORT_MODES as readonly unknown[]).includes(x.transportMode) ? (x.transportMode as TransportMode) : null;
  if (!mode) problems.push(`lotline:transportMode must be one of ${TRANSPORT_MODES.join(", ")}`);
  const distanceKm = positive(x.distanceKm);
  if (distanceKm === null) problems.push("lotline:distanceKm must be a positive number of kilometres");
  const own = x.kgCo2ePerTonneKm === undefined ? null : positive(x.kgCo2ePerTonneKm);
  if (x.kgCo2ePerTonneKm !== undefined && own === null) problems.push("lotline:kgCo2ePerTonneKm must be a positive number");
  const factor = own ?? (mode ? TRANSPORT_FACTORS[mode].value : null);
  const factorSource = own !== null ? "the carrier's own factor given on the event (lotline:kgCo2ePerTonneKm)" : mode ? TRANSPORT_FACTORS[mode].source : null;
  const place = (list: { type: string | null; id: string }[]) => {
    const preferred = list.find((d) => d.type === "location") ?? list[0];
    return preferred ? (glnOf(preferred.id) ?? preferred.id) : null;
  };
  return {
    problems,
    mode,
    distanceKm,
    factor,
    factorSource,
    head: {
      eventId: f.eventId,
      recordId: f.recordId,
      orgId: f.orgId,
      bizStep: f.bizStep ?? "",
      eventTime: f.eventTime,
      from: place(f.sources) ?? f.bizLocationGln ?? f.readPointGln,
      to: place(f.destinations),
    },
  };
}

/** Whether an event declares a leg at all (either of Lotline's two required transport fields). */
const declaresLeg = (f: Pick<EventFacts, "lotlineFields">) =>
  f.lotlineFields.transportMode !== undefined || f.lotlineFields.distanceKm !== undefined;

/**
 * A leg from an event's facts for one lot it names. `moved` is what the mapping knows of the
 * hand-over (batch and quantity in the batch's unit), `batch` the batch it is attributed to.
 */
export function transportLegOf(
  f: LegFacts,
  lot: Pick<LotRef, "quantity" | "uom">,
  batch: { id: string; unit: string },
  moved: { quantity: number | null },
  options: { units?: UnitTable; kgPerUnit?: number } = {},
): TransportLegRecord | null {
  if (!declaresLeg(f)) return null;
  const x = f.lotlineFields;
  const units = options.units ?? DEFAULT_UNITS;
  const { problems, mode, distanceKm, factor, factorSource, head } = legBasics(f);

  // The quantity moved in the batch's unit: the mapping's, else the event's when its unit converts.
  let quantity = moved.quantity;
  const eventQuantity = lot.quantity === null ? null : Number(lot.quantity);
  const eventUnit = lot.uom ?? null;
  if (quantity === null && eventQuantity !== null) {
    const a = toBase(eventQuantity, eventUnit ?? batch.unit, units);
    const unit = units.get(batch.unit);
    if (a && unit && a.dimension === unit.dimension) quantity = a.value / unit.toBase;
  }
  // Mass moved: given, else the quantity when it is a mass, else quantity × kg per unit of the product.
  let tonnes: number | null = null;
  if (x.tonnes !== undefined) {
    tonnes = positive(x.tonnes);
    if (tonnes === null) problems.push("lotline:tonnes must be a positive number");
  } else {
    const inEvent = eventQuantity !== null ? toBase(eventQuantity, eventUnit ?? batch.unit, units) : null;
    const inBatch = quantity !== null ? toBase(quantity, batch.unit, units) : null;
    const mass = [inEvent, inBatch].find((b) => b?.dimension === MASS);
    if (mass) tonnes = mass.value / 1e9;
    else if (quantity !== null && options.kgPerUnit !== undefined) tonnes = (quantity * options.kgPerUnit) / 1000;
    else problems.push("no mass moved: give the quantity in a mass unit (KGM, TNE) or lotline:tonnes");
  }
  const ok = problems.length === 0;
  return {
    ...head,
    batchId: batch.id,
    mode,
    distanceKm,
    tonnes,
    kgCo2ePerTonneKm: factor,
    factorSource,
    quantity,
    co2eKg: ok ? distanceKm! * tonnes! * factor! : null,
    problem: ok ? null : problems.join("; "),
    origin: null,
    logisticUnit: null,
  };
}

/** A content's mass in kg: its quantity in a mass unit, else quantity × the product's kg per unit; null when neither is known. */
function massKg(c: UnitContent, units: UnitTable, kgPerUnitOf: (gtin: string) => number | undefined): number | null {
  if (c.quantity === null) return null;
  const base = toBase(c.quantity, c.unit, units);
  if (base?.dimension === MASS) return base.value / 1e6;
  const perUnit = kgPerUnitOf(c.gtin);
  return perUnit === undefined ? null : c.quantity * perUnit;
}

/**
 * The share of a logistic unit's leg that one batch packed in it carries: the leg (distance ×
 * tonnes × factor; tonnes the unit's `lotline:tonnes`, else its contents' total mass) times the
 * batch's mass share of the contents. `contents` are the batches packed in the unit for the event
 * (unitContentsAt); null when the event declares no leg or the batch was not in the unit.
 */
export function unitLegOf(
  f: LegFacts,
  sscc: string,
  batchId: string,
  contents: readonly UnitContent[],
  options: { units?: UnitTable; kgPerUnitOf?: (gtin: string) => number | undefined } = {},
): TransportLegRecord | null {
  if (!declaresLeg(f)) return null;
  const mine = contents.find((c) => c.batchId.toLowerCase() === batchId.toLowerCase());
  if (!mine) return null;
  const units = options.units ?? DEFAULT_UNITS;
  const kgPerUnitOf = options.kgPerUnitOf ?? (() => undefined);
  const { problems, mode, distanceKm, factor, factorSource, head } = legBasics(f);
  const masses = contents.map((c) => massKg(c, units, kgPerUnitOf));
  const unknown = contents.filter((_, i) => masses[i] === null);
  for (const c of unknown) {
    problems.push(
      `the mass of batch ${c.batchId} in SSCC ${sscc} is unknown (${c.quantity ?? "?"} ${c.unit}): the leg cannot be split by mass; ` +
        `record its product's kg per unit (LOTLINE_ALLOCATION_PRODUCTS) or count it in a mass unit`,
    );
  }
  const contentsKg = unknown.length ? null : masses.reduce<number>((sum, m) => sum + m!, 0);
  const batchKg = masses[contents.indexOf(mine)];
  let tonnes: number | null = contentsKg === null ? null : contentsKg / 1000;
  if (f.lotlineFields.tonnes !== undefined) {
    tonnes = positive(f.lotlineFields.tonnes);
    if (tonnes === null) problems.push("lotline:tonnes must be a positive number");
  }
  const share = contentsKg !== null && contentsKg > 0 && batchKg !== null ? batchKg / contentsKg : null;
  if (contentsKg === 0) problems.push(`the contents of SSCC ${sscc} have no mass: the leg cannot be split by mass`);
  const ok = problems.length === 0 && share !== null;
  const legCo2eKg = ok ? distanceKm! * tonnes! * factor! : null;
  return {
    ...head,
    batchId: mine.batchId,
    mode,
    distanceKm,
    tonnes,
    kgCo2ePerTonneKm: factor,
    factorSource,
    quantity: mine.quantity,
    co2eKg: ok ? legCo2eKg! * share : null,
    problem: ok ? null : problems.join("; "),
    origin: null,
    logisticUnit: { sscc, batches: contents.length, batchKg, contentsKg, share, legCo2eKg },
  };
}

const lotLink = (gtin: string, lot: string) => `https://id.gs1.org/01/${gtin}/10/${encodeURIComponent(lot)}`;

/** Shipping or departing events, not erroneous nor declared erroneous, local or verified replicas (the SQL's part of the check). */
const LEG_EVENTS = `e.error_declaration_time IS NULL
       -- Only shipping and departing events are read (the bare CBV term or its URI); the check on the facts is exact.
       AND (e.biz_step LIKE '%shipping' OR e.biz_step LIKE '%departing')
       -- A replica counts once its proof held against its owner's anchor (ADR 0025).
       AND (e.served_by IS NULL OR e.verified_at IS NOT NULL)
       AND NOT EXISTS (SELECT 1 FROM epcis_events d WHERE d.original_seq = e.seq AND d.error_declaration_time IS NOT NULL)`;

interface LegEventRow {
  seq: number;
  served_by: string | null;
  verified_at: string | null;
}

const originOf = (f: EventFacts, row: LegEventRow): LegOrigin => ({
  orgId: String(f.orgId),
  servedBy: row.served_by,
  verified: row.served_by === null || row.verified_at !== null,
});

const isLegStep = (f: EventFacts) => f.bizStep !== null && (TRANSPORT_BIZ_STEPS as readonly string[]).includes(f.bizStep);

/**
 * The transport legs of a batch from the EPCIS shipping events stored here (own, and verified
 * replicas of other members'): events naming its lot (not erroneous), with Lotline's transport
 * fields, that attributionOf gives to this batch, and events naming a logistic unit (SSCC) the batch
 * was packed in for the shipment, whose leg it carries by its mass share of the unit (unitLegOf).
 * For the lot's first portion, also the lot's legs nothing ties to a portion (`unattributed`). Each
 * leg names its event's origin.
 */
export function epcisTransportLegs(
  db: Db,
  batch: { id: string; lotId: string; gtin: string; lot: string; unit: string },
  options: { units?: UnitTable; kgPerUnit?: number; kgPerUnitOf?: (gtin: string) => number | undefined } = {},
): BatchTransportLegs {
  const legs: TransportLegRecord[] = [];
  const unattributed: UnattributedLeg[] = [];
  const handlers = lotHandlers(db, batch.lotId);
  // Shipments of the units the batch was packed in first: an event that also names the lot counts once, as the unit's leg.
  const byUnit = new Set<number>();
  for (const sscc of ssccsPackedWith(db, batch.id)) {
    const rows = prepared(
      db,
      `SELECT DISTINCT e.seq, e.served_by, e.verified_at FROM epcis_event_identifiers i JOIN epcis_events e ON e.seq = i.seq
       WHERE i.id = ? AND i.role IN ('epc', 'parent') AND ${LEG_EVENTS}
       ORDER BY e.seq`,
    ).all(`https://id.gs1.org/00/${sscc}`) as LegEventRow[];
    for (const row of rows) {
      const f = eventFacts(db, row.seq);
      if (!f || !isLegStep(f) || !declaresLeg(f) || !handlers.has(f.orgId)) continue;
      const at = Date.parse(f.eventTime);
      if (!Number.isFinite(at)) continue;
      const contents = unitContentsAt(db, sscc, at);
      const leg = unitLegOf(f, sscc, batch.id, contents, {
        units: options.units,
        kgPerUnitOf: options.kgPerUnitOf ?? ((gtin) => (gtin === batch.gtin ? options.kgPerUnit : undefined)),
      });
      if (!leg) continue;
      byUnit.add(row.seq);
      legs.push({ ...leg, origin: originOf(f, row) });
    }
  }
  const rows = prepared(
    db,
    `SELECT DISTINCT e.seq, e.served_by, e.verified_at FROM epcis_event_identifiers i JOIN epcis_events e ON e.seq = i.seq
     WHERE i.id = ? AND i.role IN ('epc', 'epcClass', 'child', 'childEPCClass') AND ${LEG_EVENTS}
     ORDER BY e.seq`,
  ).all(lotLink(batch.gtin, batch.lot)) as LegEventRow[];
  const id = batch.id.toLowerCase();
  const isLotRoot = id === batch.lotId.toLowerCase();
  for (const row of rows) {
    if (byUnit.has(row.seq)) continue;
    const f = eventFacts(db, row.seq);
    if (!f || !isLegStep(f) || !declaresLeg(f) || !handlers.has(f.orgId)) continue;
    const lot = f.lots.find((l) => l.gtin === batch.gtin && l.lot === batch.lot && (l.group === "object" || l.group === "child"));
    if (!lot) continue;
    const tie = attributionOf(db, row, batch);
    if ("batchId" in tie) {
      if (tie.batchId.toLowerCase() !== id) continue;
      const leg = transportLegOf(f, lot, batch, { quantity: tie.quantity }, options);
      if (leg) legs.push({ ...leg, origin: originOf(f, row) });
      continue;
    }
    // Untied: the lot's first portion answers for it (every portion inherits that figure), once.
    if (!isLotRoot) continue;
    const leg = transportLegOf(f, lot, batch, { quantity: null }, options);
    if (!leg) continue;
    const partial = notWholeLot(db, batch, lot, leg, f.eventTime);
    if (partial === null) legs.push({ ...leg, origin: originOf(f, row) });
    else unattributed.push({ leg: { ...leg, origin: originOf(f, row) }, why: `${tie.why}, and ${partial}` });
  }
  return {
    legs: legs.sort((a, b) => a.eventTime.localeCompare(b.eventTime) || a.recordId.localeCompare(b.recordId)),
    unattributed,
  };
}

/** The portion that carries an event's leg of a lot (and the quantity it moved, in its unit), or why nothing here says. */
type Attribution = { batchId: string; quantity: number | null } | { why: string };

/**
 * Which portion of the lot a shipping event moved, as this node's mapping of the event says: the
 * portion its applied offer named when the offer was of all of it, else the portion split off that
 * one when the offer was accepted. Nothing else ties an event to a portion: no mapping here (a
 * replica, mapped on its owner's node), a mapping pending, not applied or naming no portion of the
 * lot, or a partial offer not accepted (yet) — each gives why.
 */
function attributionOf(db: Db, row: LegEventRow, batch: { gtin: string; lot: string }): Attribution {
  const m = prepared(db, `SELECT status, effect, reason, details FROM epcis_mappings WHERE seq = ?`).get(row.seq) as
    { status: string; effect: string | null; reason: string | null; details: string | null } | undefined;
  if (!m) {
    return {
      why:
        row.served_by !== null
          ? `it is a replica served by ${row.served_by}, mapped on its owner's node, not here`
          : "it was never queued for mapping",
    };
  }
  if (m.status === "pending") return { why: "its mapping is pending" };
  if (m.status !== "applied") return { why: `its mapping was not applied (${m.reason ?? "no reason recorded"})` };
  const good = mappedGoods(db, row.seq).find((g) => g.gtin === batch.gtin && g.lot === batch.lot);
  if (!good?.batchId) return { why: `its mapping (${m.effect ?? "applied"}) names no portion of the lot` };
  const details = JSON.parse(m.details ?? "{}") as { transactions?: unknown };
  const transactions = new Set(
    (Array.isArray(details.transactions) ? details.transactions : []).map((t) => String(t).toLowerCase()),
  );
  return movedPortion(db, good.batchId, good.quantity, transactions);
}

type ChainRow = { block_number: number; log_index: number; type: string; details: string; tx_hash: string };

/**
 * The portion an offer of `batchId` (sent in one of `transactions`) handed over: the batch itself
 * when the offer was of all of it; for part of it, the portion the acceptance split off (the contract
 * splits a partial offer when it is accepted, and emits the hand-over for that portion). An offer
 * the index does not show (the mapping's record only) keeps the offered batch.
 */
function movedPortion(db: Db, batchId: string, quantity: number | null, transactions: Set<string>): Attribution {
  const rows = prepared(
    db,
    `SELECT block_number, log_index, type, details, tx_hash FROM batch_events
     WHERE batch_id = ? AND type IN ('offered', 'split', 'handed_over', 'offer_withdrawn') ORDER BY block_number, log_index`,
  ).all(batchId) as ChainRow[];
  const at = rows.findIndex((r) => r.type === "offered" && transactions.has(r.tx_hash.toLowerCase()));
  if (at < 0) return { batchId, quantity };
  const offer = rows[at];
  const offeredRaw = BigInt((JSON.parse(offer.details) as { quantity?: string }).quantity ?? "0");
  const offered = Number(formatQuantity(offeredRaw));
  const held = quantityAt(db, batchId, offer);
  if (held !== null && offered >= held) return { batchId, quantity: quantity ?? offered };
  const handedOver = prepared(db, `SELECT 1 FROM batch_events WHERE batch_id = ? AND type = 'handed_over' AND tx_hash = ?`);
  for (const r of rows.slice(at + 1)) {
    if (r.type === "handed_over") return { batchId, quantity: quantity ?? offered };
    if (r.type === "offer_withdrawn")
      return { why: `its offer of ${offered} of the ${held ?? "?"} of batch ${batchId} was withdrawn: no portion changed hands` };
    if (r.type === "split") {
      const child = (JSON.parse(r.details) as { child?: string }).child;
      if (child && handedOver.get(child, r.tx_hash)) return { batchId: child, quantity: quantity ?? offered };
    }
  }
  return {
    why: `its offer of ${offered} of the ${held ?? "?"} of batch ${batchId} is not accepted: the portion it moves is split off at acceptance`,
  };
}

/**
 * Null when an event no mapping ties to a portion moved the whole lot — no portion had been split
 * off the lot by the event's time (chain times are whole seconds: a split in the event's very second
 * counts as before it), and the event names no quantity or the lot's registered quantity — else why not.
 */
function notWholeLot(
  db: Db,
  batch: { lotId: string; unit: string },
  lot: LotRef,
  leg: TransportLegRecord,
  eventTime: string,
): string | null {
  const registered = prepared(db, `SELECT details FROM batch_events WHERE batch_id = ? AND type = 'registered' LIMIT 1`).get(
    batch.lotId,
  ) as { details: string } | undefined;
  if (!registered) return "the lot's registered quantity is unknown here";
  const whole = Number(formatQuantity((JSON.parse(registered.details) as { quantity?: string }).quantity ?? "0"));
  if (lot.quantity !== null) {
    if (leg.quantity === null)
      return `its quantity ${lot.quantity} ${lot.uom ?? "(count)"} does not convert to the lot's unit ${batch.unit}`;
    if (Math.abs(leg.quantity - whole) > 1e-9 * Math.max(1, whole))
      return `it moved ${leg.quantity} of the ${whole} ${batch.unit} of the lot`;
  }
  const split = prepared(
    db,
    `SELECT batch_id, created_at FROM batches WHERE lot_id = ? AND batch_id <> lot_id ORDER BY created_block, rowid LIMIT 1`,
  ).get(batch.lotId) as { batch_id: string; created_at: string } | undefined;
  const at = Date.parse(eventTime);
  if (split && (!Number.isFinite(at) || Date.parse(split.created_at) <= at)) {
    return `portion ${split.batch_id} had been split off the lot by then (${split.created_at}): which portion travelled is unknown`;
  }
  return null;
}

/**
 * The organisations that handled a lot on-chain: its producer, every portion's owner and custodian,
 * and both parties of every hand-over of a portion, of the batch or of a logistic unit holding it.
 */
export function lotHandlers(db: Db, lotId: string): Set<number> {
  const orgs = new Set<number>();
  for (const r of prepared(db, `SELECT producer_org, owner_org, custodian_org FROM batches WHERE lot_id = ?`).all(lotId) as {
    producer_org: number;
    owner_org: number;
    custodian_org: number;
  }[]) {
    orgs.add(r.producer_org).add(r.owner_org).add(r.custodian_org);
  }
  const handOvers = prepared(
    db,
    `SELECT json_extract(e.details, '$.fromOrgId') AS from_org, json_extract(e.details, '$.toOrgId') AS to_org
     FROM batches b JOIN batch_events e ON e.batch_id = b.batch_id
     WHERE b.lot_id = ? AND e.type IN ('handed_over', 'unit_handed_over')`,
  ).all(lotId) as { from_org: string | null; to_org: string | null }[];
  for (const h of handOvers) for (const o of [h.from_org, h.to_org]) if (o !== null) orgs.add(Number(o));
  return orgs;
}

/** The SSCCs a batch was ever packed into, from the chain's pack records. */
function ssccsPackedWith(db: Db, batchId: string): string[] {
  return (
    prepared(
      db,
      `SELECT DISTINCT json_extract(details, '$.sscc') AS sscc FROM batch_events WHERE batch_id = ? AND type = 'packed' ORDER BY block_number, log_index`,
    ).all(batchId) as { sscc: string | null }[]
  )
    .map((r) => r.sscc)
    .filter((s): s is string => typeof s === "string" && s !== "");
}

/**
 * The batches packed in logistic unit `sscc` for a shipment at `atMs` (the event's time): its load
 * then (services/store/logistic-units.ts, loadAt: packed after its last unpacking at or before that
 * time and before its first unpacking after it), each with its quantity when packed (a packed batch
 * cannot be split, consumed or transformed: the contract refuses, ProvenanceInUnit).
 */
export function unitContentsAt(db: Db, sscc: string, atMs: number): UnitContent[] {
  const load = loadAt(unitHistory(db, sscc), atMs);
  const batchRow = prepared(db, `SELECT gtin, unit FROM batches WHERE batch_id = ?`);
  const seen = new Set<string>();
  const contents: UnitContent[] = [];
  for (const p of load) {
    if (seen.has(p.batchId)) continue;
    seen.add(p.batchId);
    const b = batchRow.get(p.batchId) as { gtin: string; unit: string } | undefined;
    if (!b) continue;
    contents.push({ batchId: p.batchId, gtin: b.gtin, unit: b.unit, quantity: quantityAt(db, p.batchId, { block_number: p.blockNumber, log_index: p.logIndex }) });
  }
  return contents;
}

/** A batch's quantity just before a chain position, replayed from its records: registered or split off, less what was split off it or consumed. */
function quantityAt(db: Db, batchId: string, at: { block_number: number; log_index: number }): number | null {
  const rows = prepared(
    db,
    `SELECT type, details FROM batch_events WHERE batch_id = ? AND (block_number < ? OR (block_number = ? AND log_index < ?))
       AND type IN ('registered', 'split_from', 'split', 'consumed')
     ORDER BY block_number, log_index`,
  ).all(batchId, at.block_number, at.block_number, at.log_index) as { type: string; details: string }[];
  let raw: bigint | null = null;
  for (const r of rows) {
    const d = JSON.parse(r.details) as { quantity?: string; remaining?: string };
    if (r.type === "registered" || r.type === "split_from") raw = BigInt(d.quantity ?? "0");
    else if (r.type === "split" && raw !== null) raw -= BigInt(d.quantity ?? "0");
    else if (r.type === "consumed") raw = BigInt(d.remaining ?? "0");
  }
  return raw === null ? null : Number(formatQuantity(raw));
}

/** The lots an applied mapping moved (single offer or a set), with their batch and quantity. */
function mappedGoods(db: Db, seq: number): { gtin: string; lot: string; batchId: string | null; quantity: number | null }[] {
  const row = prepared(db, `SELECT status, details FROM epcis_mappings WHERE seq = ?`).get(seq) as { status: string; details: string | null } | undefined;
  if (!row || row.status !== "applied" || !row.details) return [];
  const details = JSON.parse(row.details) as Record<string, unknown>;
  const goods = (Array.isArray(details.goods) ? details.goods : [details]) as Record<string, unknown>[];
  return goods
    .filter((g) => typeof g.gtin === "string" && typeof g.lot === "string")
    .map((g) => ({
      gtin: g.gtin as string,
      lot: g.lot as string,
      batchId: typeof g.batchId === "string" ? g.batchId : null,
      quantity: typeof g.quantity === "string" ? Number(g.quantity) : null,
    }));
}
