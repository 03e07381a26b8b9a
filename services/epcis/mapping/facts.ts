import type { Db } from "../../store/db";
import { prepared } from "../../store/statements";
import { canonicalNumber, namespacesFrom, type EpcisEvent, type Namespaces } from "../hash";
import { resolveKey } from "../hash/context";
import { isObject } from "../document";
import { canonicalId } from "../identifiers";
import { recordIdOf } from "../store";
import { bareTerm, canonicalTerm, type VocabularyKind } from "../vocabulary";

/**
 * What the mapping needs to know about a stored event, read from its record: its identifiers in
 * canonical GS1 Digital Link form, sorted into lots (`/01/{gtin}/10/{lot}`: LGTIN classes and lot
 * Digital Links), logistic units (`/00/{sscc}`) and anything else (serialised items, other keys),
 * with the role each plays; its places as GLNs; its typed destinations and business transactions.
 */

/** Extension and ILMD fields of Lotline's own namespace (define `"lotline": "https://lotline.dev/epcis/"` in @context). */
export const LOTLINE_EPCIS_NS = "https://lotline.dev/epcis/";

/** Which list an identifier came from. */
export type Group = "object" | "parent" | "child" | "input" | "output";

const GROUP_OF_ROLE: Record<string, Group> = {
  epc: "object",
  epcClass: "object",
  parent: "parent",
  child: "child",
  childEPCClass: "child",
  input: "input",
  inputEPCClass: "input",
  output: "output",
  outputEPCClass: "output",
};

export interface LotRef {
  group: Group;
  gtin: string;
  lot: string;
  /** Canonical Digital Link of the lot. */
  id: string;
  raw: string;
  /** The quantity as a plain decimal (quantity lists), null when none was given. */
  quantity: string | null;
  uom: string | null;
}

export interface SsccRef {
  group: Group;
  sscc: string;
  id: string;
  raw: string;
}

export interface OtherRef {
  group: Group;
  id: string;
  raw: string;
}

export interface EventFacts {
  seq: number;
  recordId: string;
  eventId: string;
  hashId: string;
  eventType: string;
  action: string | null;
  /** The bare CBV term (`shipping`) or, for a company's own business step, its URI. */
  bizStep: string | null;
  eventTime: string;
  /** The organisation that captured the event. */
  orgId: number;
  originalSeq: number | null;
  errorDeclaration: boolean;
  lots: LotRef[];
  ssccs: SsccRef[];
  others: OtherRef[];
  bizLocationGln: string | null;
  readPointGln: string | null;
  destinations: { type: string | null; id: string; raw: string }[];
  sources: { type: string | null; id: string; raw: string }[];
  bizTransactions: { type: string | null; value: string }[];
  sensorElementList: unknown;
  certificationInfo: unknown;
  /** `lotline:kind` (ILMD or a top-level extension), e.g. MERGE; null when absent. */
  kind: string | null;
  /** Top-level extension fields of Lotline's namespace by local name (`lotline:distanceKm` → distanceKm). */
  lotlineFields: Record<string, unknown>;
  event: EpcisEvent;
}

const LOT_DL = /^https:\/\/id\.gs1\.org\/01\/(\d{14})\/10\/([^/]+)$/;
const SSCC_DL = /^https:\/\/id\.gs1\.org\/00\/(\d{18})$/;
const GLN_DL = /^https:\/\/id\.gs1\.org\/(?:414|417)\/(\d{13})(?:\/254\/[^/]+)?$/;

/** The GLN (AI 414, or the party GLN of AI 417) a canonical identifier names, or null. */
export function glnOf(canonical: string | null): string | null {
  if (!canonical) return null;
  return GLN_DL.exec(canonical)?.[1] ?? null;
}

/** The (GTIN-14, lot) of a canonical lot Digital Link, or null. */
export function lotOf(canonical: string): { gtin: string; lot: string } | null {
  const m = LOT_DL.exec(canonical);
  if (!m) return null;
  try {
    return { gtin: m[1], lot: decodeURIComponent(m[2]) };
  } catch {
    return null;
  }
}

export function ssccOf(canonical: string): string | null {
  return SSCC_DL.exec(canonical)?.[1] ?? null;
}

const text = (v: unknown): string | null => (typeof v === "string" && v.trim() !== "" ? v : null);

function term(kind: VocabularyKind, value: unknown, ns: Namespaces): string | null {
  const v = text(value);
  if (!v) return null;
  const uri = canonicalTerm(kind, v, ns);
  return bareTerm(kind, uri) ?? uri;
}

function kindOf(event: EpcisEvent, ns: Namespaces): string | null {
  const places: Record<string, unknown>[] = [event, ...(isObject(event.ilmd) ? [event.ilmd] : [])];
  for (const place of places) {
    for (const [key, value] of Object.entries(place)) {
      const name = resolveKey(ns, key);
      if (name?.namespace === LOTLINE_EPCIS_NS && name.localName === "kind" && text(value)) return (value as string).trim();
    }
  }
  return null;
}

function lotlineFieldsOf(event: EpcisEvent, ns: Namespaces): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(event)) {
    const name = resolveKey(ns, key);
    if (name?.namespace === LOTLINE_EPCIS_NS) fields[name.localName] = value;
  }
  return fields;
}

interface StoredRow {
  seq: number;
  event_id: string;
  hash_id: string;
  event: string;
  context: string | null;
  event_type: string;
  event_time: string;
  action: string | null;
  biz_step: string | null;
  biz_location: string | null;
  read_point: string | null;
  original_seq: number | null;
  error_declaration_time: string | null;
  org_id: number;
}

/** The facts of a stored event, or null when there is no such record. */
export function eventFacts(db: Db, seq: number): EventFacts | null {
  const row = prepared(
    db,
    `SELECT seq, event_id, hash_id, event, context, event_type, event_time, action, biz_step, biz_location, read_point,
            original_seq, error_declaration_time, org_id
     FROM epcis_events WHERE seq = ?`,
  ).get(seq) as StoredRow | undefined;
  if (!row) return null;
  const event = JSON.parse(row.event) as EpcisEvent;
  const context: unknown = row.context === null ? undefined : JSON.parse(row.context);
  let ns = namespacesFrom(context);
  if (event["@context"] !== undefined) ns = namespacesFrom(event["@context"], ns);

  const lots: LotRef[] = [];
  const ssccs: SsccRef[] = [];
  const others: OtherRef[] = [];
  const identifiers = prepared(db, `SELECT role, id, raw, quantity, uom FROM epcis_event_identifiers WHERE seq = ? ORDER BY rowid`).all(seq) as {
    role: string;
    id: string;
    raw: string;
    quantity: number | null;
    uom: string | null;
  }[];
  for (const r of identifiers) {
    const group = GROUP_OF_ROLE[r.role];
    if (!group) continue;
    const lot = lotOf(r.id);
    const sscc = ssccOf(r.id);
    if (lot) {
      lots.push({
        group,
        ...lot,
        id: r.id,
        raw: r.raw,
        quantity: r.quantity === null ? null : (canonicalNumber(r.quantity) ?? String(r.quantity)),
        uom: r.uom,
      });
    } else if (sscc) {
      ssccs.push({ group, sscc, id: r.id, raw: r.raw });
    } else {
      others.push({ group, id: r.id, raw: r.raw });
    }
  }

  const destinations: EventFacts["destinations"] = [];
  for (const d of Array.isArray(event.destinationList) ? event.destinationList : []) {
    if (!isObject(d) || !text(d.destination)) continue;
    destinations.push({ type: term("sourceDestType", d.type, ns), id: canonicalId(d.destination as string, ns), raw: d.destination as string });
  }
  const sources: EventFacts["sources"] = [];
  for (const d of Array.isArray(event.sourceList) ? event.sourceList : []) {
    if (!isObject(d) || !text(d.source)) continue;
    sources.push({ type: term("sourceDestType", d.type, ns), id: canonicalId(d.source as string, ns), raw: d.source as string });
  }
  const bizTransactions: EventFacts["bizTransactions"] = [];
  for (const t of Array.isArray(event.bizTransactionList) ? event.bizTransactionList : []) {
    if (!isObject(t) || !text(t.bizTransaction)) continue;
    bizTransactions.push({ type: term("bizTransactionType", t.type, ns), value: (t.bizTransaction as string).trim() });
  }

  return {
    seq: row.seq,
    recordId: recordIdOf(row.seq),
    eventId: row.event_id,
    hashId: row.hash_id,
    eventType: row.event_type,
    action: row.action,
    bizStep: row.biz_step === null ? null : (bareTerm("bizStep", row.biz_step) ?? row.biz_step),
    eventTime: row.event_time,
    orgId: row.org_id,
    originalSeq: row.original_seq,
    errorDeclaration: row.error_declaration_time !== null,
    lots,
    ssccs,
    others,
    bizLocationGln: glnOf(row.biz_location),
    readPointGln: glnOf(row.read_point),
    destinations,
    sources,
    bizTransactions,
    sensorElementList: event.sensorElementList,
    certificationInfo: event.certificationInfo,
    kind: kindOf(event, ns),
    lotlineFields: lotlineFieldsOf(event, ns),
    event,
  };
}

/** True when the event carries sensor data or certification information. */
export function hasObservations(f: Pick<EventFacts, "sensorElementList" | "certificationInfo">): boolean {
  const sensors = Array.isArray(f.sensorElementList) && f.sensorElementList.length > 0;
  const certification = f.certificationInfo !== undefined && f.certificationInfo !== null && f.certificationInfo !== "";
  return sensors || certification;
}
