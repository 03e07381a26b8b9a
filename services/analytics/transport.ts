import type { Db } from "../store/db";
import { prepared } from "../store/statements";
import { eventFacts, glnOf, type EventFacts, type LotRef } from "../epcis/mapping/facts";
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
 * batch the event moved: the batch the mapping offered, else the lot's first portion; per unit moved.
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
}

const positive = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) && v > 0 ? v : null);

/**
 * A leg from an event's facts for one lot it names. `moved` is what the mapping knows of the
 * hand-over (batch and quantity in the batch's unit), `batch` the batch it is attributed to.
 */
export function transportLegOf(
  f: Pick<EventFacts, "eventId" | "recordId" | "orgId" | "bizStep" | "eventTime" | "sources" | "destinations" | "bizLocationGln" | "readPointGln" | "lotlineFields">,
  lot: Pick<LotRef, "quantity" | "uom">,
  batch: { id: string; unit: string },
  moved: { quantity: number | null },
  options: { units?: UnitTable; kgPerUnit?: number } = {},
): TransportLegRecord | null {
  const x = f.lotlineFields;
  if (x.transportMode === undefined && x.distanceKm === undefined) return null;
  const units = options.units ?? DEFAULT_UNITS;
  const problems: string[] = [];
  const mode = (TRANSPORT_MODES as readonly unknown[]).includes(x.transportMode) ? (x.transportMode as TransportMode) : null;
  if (!mode) problems.push(`lotline:transportMode must be one of ${TRANSPORT_MODES.join(", ")}`);
  const distanceKm = positive(x.distanceKm);
  if (distanceKm === null) problems.push("lotline:distanceKm must be a positive number of kilometres");
  const own = x.kgCo2ePerTonneKm === undefined ? null : positive(x.kgCo2ePerTonneKm);
  if (x.kgCo2ePerTonneKm !== undefined && own === null) problems.push("lotline:kgCo2ePerTonneKm must be a positive number");

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
  const factor = own ?? (mode ? TRANSPORT_FACTORS[mode].value : null);
  const factorSource = own !== null ? "the carrier's own factor given on the event (lotline:kgCo2ePerTonneKm)" : mode ? TRANSPORT_FACTORS[mode].source : null;
  const place = (list: { type: string | null; id: string }[]) => {
    const preferred = list.find((d) => d.type === "location") ?? list[0];
    return preferred ? (glnOf(preferred.id) ?? preferred.id) : null;
  };
  const ok = problems.length === 0;
  return {
    eventId: f.eventId,
    recordId: f.recordId,
    orgId: f.orgId,
    bizStep: f.bizStep ?? "",
    eventTime: f.eventTime,
    batchId: batch.id,
    from: place(f.sources) ?? f.bizLocationGln ?? f.readPointGln,
    to: place(f.destinations),
    mode,
    distanceKm,
    tonnes,
    kgCo2ePerTonneKm: factor,
    factorSource,
    quantity,
    co2eKg: ok ? distanceKm! * tonnes! * factor! : null,
    problem: ok ? null : problems.join("; "),
  };
}

const lotLink = (gtin: string, lot: string) => `https://id.gs1.org/01/${gtin}/10/${encodeURIComponent(lot)}`;

/**
 * The transport legs of a batch from the EPCIS shipping events stored here: events naming its lot
 * (not erroneous), with Lotline's transport fields, whose mapping offered this batch — or, not
 * mapped to a batch, the lot's first portion.
 */
export function epcisTransportLegs(
  db: Db,
  batch: { id: string; lotId: string; gtin: string; lot: string; unit: string },
  options: { units?: UnitTable; kgPerUnit?: number } = {},
): TransportLegRecord[] {
  const seqs = prepared(
    db,
    `SELECT DISTINCT i.seq FROM epcis_event_identifiers i JOIN epcis_events e ON e.seq = i.seq
     WHERE i.id = ? AND i.role IN ('epc', 'epcClass', 'child', 'childEPCClass') AND e.error_declaration_time IS NULL
       -- Only shipping and departing events are read (the bare CBV term or its URI); the check below is exact.
       AND (e.biz_step LIKE '%shipping' OR e.biz_step LIKE '%departing')
       AND NOT EXISTS (SELECT 1 FROM epcis_events d WHERE d.original_seq = e.seq AND d.error_declaration_time IS NOT NULL)
     ORDER BY i.seq`,
  ).all(lotLink(batch.gtin, batch.lot)) as { seq: number }[];
  const legs: TransportLegRecord[] = [];
  for (const { seq } of seqs) {
    const f = eventFacts(db, seq);
    if (!f || !f.bizStep || !(TRANSPORT_BIZ_STEPS as readonly string[]).includes(f.bizStep)) continue;
    const lot = f.lots.find((l) => l.gtin === batch.gtin && l.lot === batch.lot && (l.group === "object" || l.group === "child"));
    if (!lot) continue;
    const mapped = mappedGoods(db, seq).find((g) => g.gtin === batch.gtin && g.lot === batch.lot);
    const attributed = mapped?.batchId?.toLowerCase() ?? batch.lotId.toLowerCase();
    if (attributed !== batch.id.toLowerCase()) continue;
    const leg = transportLegOf(f, lot, batch, { quantity: mapped?.quantity ?? null }, options);
    if (leg) legs.push(leg);
  }
  return legs;
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
