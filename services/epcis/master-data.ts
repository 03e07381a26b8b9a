import { canonicalize } from "json-canonicalize";
import type { Db } from "../store/db";
import { prepared } from "../store/statements";
import { namespacesFrom, type Namespaces } from "./hash";
import { expandCompactIri } from "./hash/context";
import { isObject } from "./document";
import { canonicalId } from "./identifiers";

/**
 * EPCIS master data captured with documents: the vocabulary elements of `epcisHeader.epcisMasterData`
 * (or `masterData`, the context's term) `.vocabularyList`, and of an EPCISQueryDocument's
 * `resultsBody.vocabularyList`, stored per capture (table epcis_vocabulary_elements) with their
 * `children` (epcis_vocabulary_children), which make the location hierarchies WD_readPoint and
 * WD_bizLocation follow.
 *
 * Which declared children a query follows (view epcis_location_links, migration 31): a link is
 * followed when the organisation that captured it owns both ends — a GLN owns by the location's
 * registration, else its company prefix — or an end is no member's GLN. So a member cannot graft its
 * sites under another member's location, nor put another member's sites under its own.
 */

export const VTYPE_BUSINESS_LOCATION = "urn:epcglobal:epcis:vtype:BusinessLocation";
export const VTYPE_READ_POINT = "urn:epcglobal:epcis:vtype:ReadPoint";

/**
 * The vocabulary type as its EPCIS URN: `urn:epcglobal:epcis:vtype:X`, and the web forms of it
 * (`https://ref.gs1.org/epcis/vtype-X`, `https://ref.gs1.org/cbv/vtype-X`, `…/vtype/X`, compact IRIs
 * of those) for the two location types; any other type is kept as written (expanded).
 */
export function canonicalVocabularyType(type: string, ns?: Namespaces): string {
  const expanded = ns ? (expandCompactIri(ns, type) ?? type) : type;
  const m = /^https:\/\/(?:ref\.gs1\.org\/(?:epcis|cbv)|gs1\.org\/voc)\/vtype[-/](BusinessLocation|ReadPoint)$/.exec(expanded);
  return m ? `urn:epcglobal:epcis:vtype:${m[1]}` : expanded;
}

export interface VocabularyElement {
  vtype: string;
  id: string;
  raw: string;
  element: Record<string, unknown>;
  children: string[];
}

const GLN_ID = /^https:\/\/id\.gs1\.org\/414\/(\d{13})(\/254\/.+)?$/;

/** The vocabulary elements of a captured document (none for a bare event). */
export function masterDataOf(doc: unknown): VocabularyElement[] {
  if (!isObject(doc)) return [];
  const ns = namespacesFrom(doc["@context"]);
  const header = isObject(doc.epcisHeader) ? doc.epcisHeader : {};
  const lists: unknown[] = [];
  for (const key of ["epcisMasterData", "masterData"]) {
    const md = header[key];
    if (isObject(md) && Array.isArray(md.vocabularyList)) lists.push(...md.vocabularyList);
  }
  const body = isObject(doc.epcisBody) && isObject(doc.epcisBody.queryResults) ? doc.epcisBody.queryResults.resultsBody : undefined;
  if (isObject(body) && Array.isArray(body.vocabularyList)) lists.push(...body.vocabularyList);
  const out: VocabularyElement[] = [];
  for (const vocabulary of lists) {
    if (!isObject(vocabulary) || typeof vocabulary.type !== "string" || !Array.isArray(vocabulary.vocabularyElementList)) continue;
    const vtype = canonicalVocabularyType(vocabulary.type, ns);
    for (const element of vocabulary.vocabularyElementList) {
      if (!isObject(element) || typeof element.id !== "string" || element.id.trim() === "") continue;
      const children = Array.isArray(element.children)
        ? element.children.filter((c): c is string => typeof c === "string" && c.trim() !== "").map((c) => canonicalId(c, ns))
        : [];
      out.push({ vtype, id: canonicalId(element.id, ns), raw: element.id, element, children });
    }
  }
  return out;
}

/** Stores a capture's master data (inside the transaction that stores its events); idempotent. */
export function storeMasterData(db: Db, capture: { capture_id: string; org_id: number; document: string }): number {
  const elements = masterDataOf(JSON.parse(capture.document));
  const element = prepared(
    db,
    `INSERT OR IGNORE INTO epcis_vocabulary_elements (capture_id, vtype, id, org_id, element) VALUES (?, ?, ?, ?, ?)`,
  );
  const child = prepared(
    db,
    `INSERT OR IGNORE INTO epcis_vocabulary_children (vtype, parent, child, org_id, parent_base, parent_gln, child_gln, capture_id)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  for (const e of elements) {
    element.run(capture.capture_id, e.vtype, e.id, capture.org_id, canonicalize(e.element));
    const parent = GLN_ID.exec(e.id);
    for (const c of e.children) {
      if (c === e.id) continue;
      const base = parent?.[2] ? e.id.slice(0, e.id.length - parent[2].length) : e.id;
      child.run(e.vtype, e.id, c, capture.org_id, base, parent?.[1] ?? null, GLN_ID.exec(c)?.[1] ?? null, capture.capture_id);
    }
  }
  return elements.length;
}

/**
 * The SQL condition (fixed text, bound values) of WD_readPoint / WD_bizLocation on a column: the
 * location is one of `ids`, a descendant of one by declared children (transitively, see the module
 * comment for whose declarations count), or a GLN extension (`…/414/{gln}/254/{ext}`) of one of those.
 */
export function withDescendants(column: "read_point" | "biz_location", ids: string[]): { sql: string; args: unknown[] } {
  const vtype = column === "read_point" ? VTYPE_READ_POINT : VTYPE_BUSINESS_LOCATION;
  const tree =
    `WITH RECURSIVE d(id) AS (SELECT value FROM json_each(?) UNION ` +
    `SELECT l.child FROM epcis_location_links l JOIN d ON l.parent = d.id OR l.parent_base = d.id WHERE l.vtype = ?) SELECT id FROM d`;
  const list = JSON.stringify(ids);
  return {
    sql:
      `(e.${column} IN (${tree}) OR (instr(e.${column}, '/254/') > 0 AND ` +
      `substr(e.${column}, 1, instr(e.${column}, '/254/') - 1) IN (${tree})))`,
    args: [list, vtype, list, vtype],
  };
}
