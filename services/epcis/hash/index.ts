/**
 * The GS1 CBV 2.0 EPCIS event hash ID: `ni:///sha-256;{hex}?ver=CBV2.0` (RFC 6920), the SHA-256 of the
 * event's canonical pre-hash string (UTF-8).
 *
 * The pre-hash string takes the event's fields in the canonical order, writes each present field as
 * `name=value` (a list's name once, then its elements), sorts list elements by code point (a structured
 * element — quantity element, sensor element, sensor report, business transaction, source, destination —
 * is built as a string first, then the strings are sorted), normalises values (trimmed; timestamps in UTC
 * with three fractional digits, rounded half up; numbers without exponent or trailing zeros; EPC URNs and
 * Digital Links on other domains as canonical Digital Links on id.gs1.org; CBV terms and URNs as CBV web
 * URIs; `gs1:`/`cbv:`/document prefixes expanded) and writes ILMD and user extensions as
 * `{namespace}localName[=value]`, children after their parent, sorted. `eventID`, `recordTime`,
 * `errorDeclaration` and comments (`rdfs:comment`) are not part of it.
 *
 * Checked against the reference vectors of RalphTro/epcis-event-hash-generator (see
 * test/services/epcis/hash.test.ts). Pure functions: no I/O, no network.
 */
import { createHash } from "node:crypto";
import { expandCompactIri, namespacesFrom, resolveKey, type Namespaces } from "./context";
import { cbvUrnToWebUri, normaliseIdentifier } from "./digital-link";
import { canonicalNumber, canonicalTimestamp, isZonedTimestamp } from "./values";

export { canonicalDigitalLink, cbvUrnToWebUri, epcUriToDigitalLink, gs1CheckDigit, normaliseIdentifier } from "./digital-link";
export { canonicalNumber, canonicalTimestamp } from "./values";
export { namespacesFrom, type Namespaces } from "./context";

export type EpcisEvent = Record<string, unknown>;

export const HASH_ALGORITHM_VERSION = "CBV2.0";

/** Event types of EPCIS 2.0. */
export const EVENT_TYPES = [
  "ObjectEvent",
  "AggregationEvent",
  "TransactionEvent",
  "TransformationEvent",
  "AssociationEvent",
] as const;

const CBV = "https://ref.gs1.org/cbv/";
const GS1_VOC = "https://gs1.org/voc/";
const RDFS_COMMENT = "http://www.w3.org/2000/01/rdf-schema#comment";

/** Code-point order (the UTF-8 byte order), not JavaScript's UTF-16 code-unit order. */
function compareCodePoints(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

function sorted(items: string[]): string[] {
  return [...items].sort(compareCodePoints);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function asArray(v: unknown): unknown[] {
  if (v === undefined || v === null) return [];
  return Array.isArray(v) ? v : [v];
}

/** A scalar as text (JSON-LD `{"@value": …}` and `{"@id": …}` unwrapped); `undefined` for structures. */
function scalarText(v: unknown): string | undefined {
  if (typeof v === "string") return v.trim();
  if (typeof v === "number") return canonicalNumber(v) ?? String(v);
  if (typeof v === "boolean") return String(v);
  if (isObject(v)) {
    if ("@value" in v) return scalarText(v["@value"]);
    if (typeof v["@id"] === "string" && Object.keys(v).every((k) => k.startsWith("@"))) return v["@id"].trim();
  }
  return undefined;
}

// ---------------------------------------------------------------- field value kinds

type Kind = (ns: Namespaces, v: unknown) => string | undefined;

/** Identifier (`@id`-typed): compact IRIs expanded; EPC URN / Digital Link / CBV URN canonicalised. */
const idValue: Kind = (ns, v) => {
  const t = scalarText(v);
  if (t === undefined || t === "") return t;
  return normaliseIdentifier(expandCompactIri(ns, t));
};

/**
 * Vocabulary (`@vocab`-typed) with the CBV or GS1 web-vocabulary prefix its bare terms take:
 * `receiving` → `https://ref.gs1.org/cbv/BizStep-receiving`, `Temperature` → `https://gs1.org/voc/Temperature`.
 */
function vocabValue(barePrefix: string): Kind {
  return (ns, v) => {
    const t = scalarText(v);
    if (t === undefined || t === "") return t;
    if (/^[A-Za-z0-9_]+$/.test(t)) return barePrefix + t;
    const expanded = expandCompactIri(ns, t);
    return cbvUrnToWebUri(expanded) ?? normaliseIdentifier(expanded);
  };
}

const timeValue: Kind = (_ns, v) => {
  const t = scalarText(v);
  return t === undefined ? undefined : canonicalTimestamp(t);
};

const numberValue: Kind = (_ns, v) => {
  const t = scalarText(v);
  if (t === undefined) return undefined;
  return canonicalNumber(t) ?? t;
};

/** Plain string (trimmed); identifiers inside it are canonicalised all the same. */
const textValue: Kind = (_ns, v) => {
  const t = scalarText(v);
  return t === undefined || t === "" ? t : normaliseIdentifier(t);
};

const bizStepValue = vocabValue(`${CBV}BizStep-`);
const dispositionValue = vocabValue(`${CBV}Disp-`);
const bizTransactionTypeValue = vocabValue(`${CBV}BTT-`);
const sourceDestTypeValue = vocabValue(`${CBV}SDT-`);
const measurementTypeValue = vocabValue(GS1_VOC);
const componentValue = vocabValue(`${CBV}Comp-`);

// ---------------------------------------------------------------- pieces

/** `name=value` for a present, non-empty value; "" otherwise. */
function field(ns: Namespaces, name: string, value: unknown, kind: Kind): string {
  if (value === undefined || value === null) return "";
  let out = "";
  // A field given as a list (e.g. certificationInfo) is written once per value, sorted.
  const texts = asArray(value)
    .map((v) => kind(ns, v))
    .filter((t): t is string => t !== undefined && t !== "");
  for (const t of sorted(texts)) out += `${name}=${t}`;
  return out;
}

/** Known fields of a structure in canonical order, followed by its extension elements. */
function structure(ns: Namespaces, obj: Record<string, unknown>, order: [string, Kind][], known: ReadonlySet<string>): string {
  let out = "";
  for (const [name, kind] of order) out += field(ns, name, obj[name], kind);
  return out + extensions(ns, obj, known);
}

/** A list of identifiers: `listName` then `elementName=value` for each, sorted. */
function idList(ns: Namespaces, listName: string, elementName: string, value: unknown): string {
  const texts = asArray(value)
    .map((v) => idValue(ns, v))
    .filter((t): t is string => t !== undefined && t !== "");
  if (texts.length === 0) return "";
  return listName + sorted(texts.map((t) => `${elementName}=${t}`)).join("");
}

/** A list of structured elements: `listName` then the element strings, sorted. */
function structList(listName: string, elements: string[]): string {
  const present = elements.filter((e) => e !== "");
  return present.length === 0 ? "" : listName + sorted(present).join("");
}

const QUANTITY_ORDER: [string, Kind][] = [
  ["epcClass", idValue],
  ["quantity", numberValue],
  ["uom", textValue],
];
const QUANTITY_KNOWN = new Set(QUANTITY_ORDER.map(([k]) => k));

function quantityList(ns: Namespaces, listName: string, value: unknown): string {
  const elements = asArray(value).map((q) => {
    if (!isObject(q)) return "";
    const body = structure(ns, q, QUANTITY_ORDER, QUANTITY_KNOWN);
    return body === "" ? "" : "quantityElement" + body;
  });
  return structList(listName, elements);
}

/** Business transactions, sources and destinations: `type=…` then `{valueName}=…`, sorted. */
function typedList(ns: Namespaces, listName: string, valueName: string, typeKind: Kind, value: unknown): string {
  const known = new Set(["type", valueName]);
  const elements = asArray(value).map((e) => {
    if (!isObject(e)) {
      const t = idValue(ns, e);
      return t ? `${valueName}=${t}` : "";
    }
    return field(ns, "type", e.type, typeKind) + field(ns, valueName, e[valueName], idValue) + extensions(ns, e, known);
  });
  return structList(listName, elements);
}

function persistentDisposition(ns: Namespaces, value: unknown): string {
  if (!isObject(value)) return "";
  let out = "";
  for (const name of ["set", "unset"]) {
    const texts = asArray(value[name])
      .map((v) => dispositionValue(ns, v))
      .filter((t): t is string => t !== undefined && t !== "");
    out += sorted(texts.map((t) => `${name}=${t}`)).join("");
  }
  out += extensions(ns, value, new Set(["set", "unset"]));
  return out === "" ? "" : "persistentDisposition" + out;
}

const LOCATION_KNOWN = new Set(["id"]);

/** readPoint / bizLocation: `name` + `id=…` + its extensions. */
function location(ns: Namespaces, name: string, value: unknown): string {
  if (value === undefined || value === null) return "";
  if (!isObject(value)) {
    const t = idValue(ns, value);
    return t ? `${name}id=${t}` : "";
  }
  const body = field(ns, "id", value.id, idValue) + extensions(ns, value, LOCATION_KNOWN);
  return body === "" ? "" : name + body;
}

const SENSOR_METADATA_ORDER: [string, Kind][] = [
  ["time", timeValue],
  ["startTime", timeValue],
  ["endTime", timeValue],
  ["deviceID", idValue],
  ["deviceMetadata", idValue],
  ["rawData", idValue],
  ["dataProcessingMethod", idValue],
  ["bizRules", idValue],
];
const SENSOR_REPORT_ORDER: [string, Kind][] = [
  ["type", measurementTypeValue],
  ["exception", measurementTypeValue],
  ["deviceID", idValue],
  ["deviceMetadata", idValue],
  ["rawData", idValue],
  ["dataProcessingMethod", idValue],
  ["time", timeValue],
  ["microorganism", idValue],
  ["chemicalSubstance", idValue],
  ["value", numberValue],
  ["component", componentValue],
  ["stringValue", textValue],
  ["booleanValue", textValue],
  ["hexBinaryValue", textValue],
  ["uriValue", idValue],
  ["minValue", numberValue],
  ["maxValue", numberValue],
  ["meanValue", numberValue],
  ["sDev", numberValue],
  ["percRank", numberValue],
  ["percValue", numberValue],
  ["uom", textValue],
  ["coordinateReferenceSystem", idValue],
];
const SENSOR_METADATA_KNOWN = new Set(SENSOR_METADATA_ORDER.map(([k]) => k));
const SENSOR_REPORT_KNOWN = new Set(SENSOR_REPORT_ORDER.map(([k]) => k));
const SENSOR_ELEMENT_KNOWN = new Set(["sensorMetadata", "sensorReport"]);

function sensorElementList(ns: Namespaces, value: unknown): string {
  const elements = asArray(value).map((el) => {
    if (!isObject(el)) return "";
    let body = "";
    if (isObject(el.sensorMetadata)) {
      const md = structure(ns, el.sensorMetadata, SENSOR_METADATA_ORDER, SENSOR_METADATA_KNOWN);
      if (md !== "") body += "sensorMetadata" + md;
    }
    const reports = asArray(el.sensorReport).map((r) => {
      if (!isObject(r)) return "";
      const s = structure(ns, r, SENSOR_REPORT_ORDER, SENSOR_REPORT_KNOWN);
      return s === "" ? "" : "sensorReport" + s;
    });
    body += sorted(reports.filter((r) => r !== "")).join("");
    body += extensions(ns, el, SENSOR_ELEMENT_KNOWN);
    return body === "" ? "" : "sensorElement" + body;
  });
  return structList("sensorElementList", elements);
}

// ---------------------------------------------------------------- ILMD and user extensions

/** Value of an extension leaf: trimmed; numbers canonical; identifiers and zoned timestamps canonicalised. */
function extensionLeaf(v: unknown): string | undefined {
  if (typeof v === "string") {
    const t = v.trim();
    return isZonedTimestamp(t) ? canonicalTimestamp(t) : normaliseIdentifier(t);
  }
  if (isObject(v) && "@value" in v) return extensionLeaf(v["@value"]);
  return scalarText(v);
}

/** The pieces of one extension element (one per value when it is a list), each a full string. */
function extensionPieces(ns: Namespaces, qname: string, namespace: string, value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap((v) => extensionPieces(ns, qname, namespace, v));
  if (value === undefined) return [];
  if (value === null) return [qname];
  if (
    isObject(value) &&
    !("@value" in value) &&
    !(typeof value["@id"] === "string" && Object.keys(value).every((k) => k.startsWith("@")))
  ) {
    const inner = isObject(value["@context"]) || Array.isArray(value["@context"]) ? namespacesFrom(value["@context"], ns) : ns;
    const children: string[] = [];
    for (const [key, child] of Object.entries(value)) {
      if (key.startsWith("@")) continue;
      const q = resolveKey(inner, key, namespace);
      if (!q || q.namespace + q.localName === RDFS_COMMENT) continue;
      children.push(...extensionPieces(inner, `{${q.namespace}}${q.localName}`, q.namespace, child));
    }
    return [qname + sorted(children).join("")];
  }
  const text = extensionLeaf(value);
  return [text === undefined || text === "" ? qname : `${qname}=${text}`];
}

/** All extension elements of `obj` (keys not in `known`, resolvable to a namespace), sorted and joined. */
function extensions(ns: Namespaces, obj: Record<string, unknown>, known: ReadonlySet<string>): string {
  const pieces: string[] = [];
  for (const [key, value] of Object.entries(obj)) {
    if (known.has(key) || key.startsWith("@")) continue;
    const q = resolveKey(ns, key);
    if (!q || q.namespace + q.localName === RDFS_COMMENT) continue; // no namespace: not an extension
    pieces.push(...extensionPieces(ns, `{${q.namespace}}${q.localName}`, q.namespace, value));
  }
  return sorted(pieces).join("");
}

function ilmd(ns: Namespaces, value: unknown): string {
  if (!isObject(value)) return "";
  const body = extensions(ns, value, new Set());
  return body === "" ? "" : "ilmd" + body;
}

// ---------------------------------------------------------------- the event

/** Event fields that are part of the standard (hashed or deliberately left out). */
const EVENT_KNOWN = new Set([
  "type",
  "eventTime",
  "eventTimeZoneOffset",
  "certificationInfo",
  "epcList",
  "parentID",
  "inputEPCList",
  "childEPCs",
  "quantityList",
  "childQuantityList",
  "inputQuantityList",
  "outputEPCList",
  "outputQuantityList",
  "action",
  "transformationID",
  "bizStep",
  "disposition",
  "persistentDisposition",
  "readPoint",
  "bizLocation",
  "bizTransactionList",
  "sourceList",
  "destinationList",
  "sensorElementList",
  "ilmd",
  // not hashed
  "eventID",
  "recordTime",
  "errorDeclaration",
  "id",
  "isA",
]);

function eventType(event: EpcisEvent): string {
  const t = scalarText(event.type ?? event.isA);
  if (t === undefined) return "";
  // `epcis:ObjectEvent` or a full IRI → the local name.
  const local = t.slice(Math.max(t.lastIndexOf(":"), t.lastIndexOf("/"), t.lastIndexOf("#")) + 1);
  return local === "" ? "" : `eventType=${local}`;
}

/**
 * The canonical pre-hash string of an EPCIS 2.0 JSON(-LD) event. `documentContext` is the `@context` of
 * the document the event came from (so that its namespace prefixes resolve); an event's own `@context`
 * is applied on top of it.
 */
export function preHashString(event: EpcisEvent, documentContext?: unknown): string {
  let ns = namespacesFrom(documentContext);
  if (event["@context"] !== undefined) ns = namespacesFrom(event["@context"], ns);
  return [
    eventType(event),
    field(ns, "eventTime", event.eventTime, timeValue),
    field(ns, "eventTimeZoneOffset", event.eventTimeZoneOffset, (_n, v) => scalarText(v)),
    field(ns, "certificationInfo", event.certificationInfo, idValue),
    idList(ns, "epcList", "epc", event.epcList),
    field(ns, "parentID", event.parentID, idValue),
    idList(ns, "inputEPCList", "epc", event.inputEPCList),
    idList(ns, "childEPCs", "epc", event.childEPCs),
    quantityList(ns, "quantityList", event.quantityList),
    quantityList(ns, "childQuantityList", event.childQuantityList),
    quantityList(ns, "inputQuantityList", event.inputQuantityList),
    idList(ns, "outputEPCList", "epc", event.outputEPCList),
    quantityList(ns, "outputQuantityList", event.outputQuantityList),
    field(ns, "action", event.action, (_n, v) => scalarText(v)),
    field(ns, "transformationID", event.transformationID, idValue),
    field(ns, "bizStep", event.bizStep, bizStepValue),
    field(ns, "disposition", event.disposition, dispositionValue),
    persistentDisposition(ns, event.persistentDisposition),
    location(ns, "readPoint", event.readPoint),
    location(ns, "bizLocation", event.bizLocation),
    typedList(ns, "bizTransactionList", "bizTransaction", bizTransactionTypeValue, event.bizTransactionList),
    // The reference vectors put destinations before sources.
    typedList(ns, "destinationList", "destination", sourceDestTypeValue, event.destinationList),
    typedList(ns, "sourceList", "source", sourceDestTypeValue, event.sourceList),
    sensorElementList(ns, event.sensorElementList),
    ilmd(ns, event.ilmd),
    extensions(ns, event, EVENT_KNOWN),
  ].join("");
}

/** SHA-256 of a pre-hash string as an RFC 6920 `ni` URI with the CBV version. */
export function hashIdOfPreHash(preHash: string): string {
  const hex = createHash("sha256").update(preHash, "utf8").digest("hex");
  return `ni:///sha-256;${hex}?ver=${HASH_ALGORITHM_VERSION}`;
}

/** The CBV 2.0 event hash ID `ni:///sha-256;{hex}?ver=CBV2.0` of an event. */
export function eventHashId(event: EpcisEvent, documentContext?: unknown): string {
  return hashIdOfPreHash(preHashString(event, documentContext));
}

/** True for a well-formed CBV 2.0 event hash ID. */
export function isEventHashId(value: string): boolean {
  return /^ni:\/\/\/sha-256;[0-9a-f]{64}\?ver=CBV2\.0$/.test(value);
}

/**
 * The events of an EPCIS document (`epcisBody.eventList`), query document
 * (`epcisBody.queryResults.resultsBody.eventList`) or a bare event, with the context to hash them under.
 */
export function documentEvents(doc: unknown): { event: EpcisEvent; context: unknown }[] {
  if (!isObject(doc)) return [];
  const context = doc["@context"];
  const body = isObject(doc.epcisBody) ? doc.epcisBody : undefined;
  let list: unknown = body?.eventList;
  if (list === undefined && body && isObject(body.queryResults) && isObject(body.queryResults.resultsBody)) {
    list = body.queryResults.resultsBody.eventList;
  }
  if (list === undefined && !body && (typeof doc.type === "string" || doc.eventTime !== undefined)) {
    // A bare event carries its own @context; preHashString applies it.
    return [{ event: doc, context: undefined }];
  }
  return asArray(list)
    .filter(isObject)
    .map((event) => ({ event, context }));
}

/** Hash IDs of every event of a document, in document order. */
export function documentEventHashIds(doc: unknown): string[] {
  return documentEvents(doc).map(({ event, context }) => eventHashId(event, context));
}
