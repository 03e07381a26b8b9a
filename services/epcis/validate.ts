import fs from "node:fs";
import path from "node:path";
import Ajv, { type ErrorObject, type ValidateFunction } from "ajv";
import addFormats from "ajv-formats";
import { namespacesFrom, type Namespaces } from "./hash";
import { EPCIS_CONTEXT_URL, namesEpcisContext, unresolvableContexts } from "./context";
import { eventListOf, fieldName, isObject, locateInDocument, pointerSegment, valueAt, type EventList } from "./document";
import { termProblem, vocabularyLabel, type VocabularyKind } from "./vocabulary";

/**
 * Validation of EPCIS 2.0 capture payloads: the official EPCIS 2.0 JSON Schema (draft-07, 2023,
 * shipped in `schema/`), compiled once with ajv + ajv-formats, then the checks the schema cannot
 * make (contexts resolve without the network; CBV web URIs name real CBV terms).
 *
 * Decisions on the three OpenEPCIS documents the 2023 schema rejects (tested in
 * test/services/epcis/capture.test.ts):
 * - `persistentDisposition` on AggregationEvent is ACCEPTED. EPCIS 2.0 puts persistentDisposition in
 *   the "why" dimension of every event type; the 2023 schema lists it only on ObjectEvent and
 *   TransformationEvent. The erratum is patched below at load time, on the three event types that
 *   miss it (AggregationEvent, TransactionEvent, AssociationEvent): the property (same definition as
 *   ObjectEvent's) and its property name.
 * - sensor report types `Molar_concentration` and `EffectiveDoseRate` are REJECTED: they are neither
 *   GS1 measurement types (gs1.org/voc, e.g. `AmountOfSubstancePerUnitVolume`, `DoseEquivalentRate`)
 *   nor URIs, which is all EPCIS 2.0 allows there.
 *
 * Errors come out one per failing field, `{eventIndex, eventID?, path, field, message}`, with ajv's
 * cascades (if/then, anyOf branches, propertyNames) collapsed into one precise message, e.g.
 * `bizStep: "transforming" is not a CBV business step or a URI`.
 */
export interface EventError {
  /** Index of the event in the document's event list; null for an error outside any event. */
  eventIndex: number | null;
  eventID?: string;
  /** JSON pointer from the document root. */
  path: string;
  /** The field inside the event (`quantityList[0].quantity`), or inside the document. */
  field: string;
  message: string;
}

export interface ValidationResult {
  valid: boolean;
  errors: EventError[];
  events: EventList;
}

const SCHEMA_FILE = path.join(__dirname, "schema", "EPCIS-JSON-Schema.json");
const MISSING_PERSISTENT_DISPOSITION = ["AggregationEvent", "TransactionEvent", "AssociationEvent"];

type SchemaNode = Record<string, unknown> & { definitions: Record<string, { allOf?: Record<string, unknown>[] }> };

/** The shipped schema with the persistentDisposition erratum patched (see above). */
export function epcisSchema(): SchemaNode {
  const schema = JSON.parse(fs.readFileSync(SCHEMA_FILE, "utf8")) as SchemaNode;
  for (const type of MISSING_PERSISTENT_DISPOSITION) {
    const body = schema.definitions[type]?.allOf?.[1] as
      { properties?: Record<string, unknown>; propertyNames?: { anyOf?: { enum?: string[] }[] } } | undefined;
    const names = body?.propertyNames?.anyOf?.[1]?.enum;
    if (!body?.properties || !Array.isArray(names)) {
      throw new Error(
        `the EPCIS schema's ${type} has an unexpected shape: review the persistentDisposition erratum in validate.ts`,
      );
    }
    if (body.properties.persistentDisposition) continue; // fixed upstream
    body.properties.persistentDisposition = { $ref: "#/definitions/persistentDisposition" };
    names.push("persistentDisposition");
  }
  return schema;
}

let compiled: { validate: ValidateFunction; names: Map<object, string> } | null = null;

/**
 * The compiled validator (compiled on first use; the capture routes warm it up at boot), and the
 * name of each definition (and each part of a definition's allOf) by identity: ajv's schema paths
 * restart at every $ref, so errors are told apart by the schema object they failed in.
 */
function compiledSchema(): { validate: ValidateFunction; names: Map<object, string> } {
  if (!compiled) {
    const schema = epcisSchema();
    const names = new Map<object, string>();
    for (const [name, definition] of Object.entries(schema.definitions)) {
      names.set(definition, name);
      for (const [i, part] of (definition.allOf ?? []).entries()) names.set(part, `${name}/allOf/${i}`);
    }
    // verbose: errors carry the schema object and data they failed on, for precise messages.
    const ajv = addFormats(new Ajv({ allErrors: true, strict: false, verbose: true }));
    compiled = { validate: ajv.compile(schema), names };
  }
  return compiled;
}

export function schemaValidator(): ValidateFunction {
  return compiledSchema().validate;
}

/** Validates a capture payload: schema, contexts and vocabularies. */
export function validateEpcisDocument(doc: unknown): ValidationResult {
  const events = eventListOf(doc);
  const validate = schemaValidator();
  const schemaErrors = validate(doc) ? [] : collapse(doc, validate.errors ?? []);
  const errors = [...schemaErrors];
  const seen = new Set(schemaErrors.map((e) => e.path));
  for (const found of semanticProblems(doc, events)) {
    if (!seen.has(found.path)) {
      seen.add(found.path);
      errors.push(found);
    }
  }
  const located = errors.map((e) => locate(events, e.path, e.message));
  located.sort((a, b) => (a.eventIndex ?? -1) - (b.eventIndex ?? -1));
  return { valid: located.length === 0, errors: located, events };
}

// ------------------------------------------------------------------ collapsing ajv's errors

interface Found {
  path: string;
  message: string;
}

type AjvError = ErrorObject & { propertyName?: string };

const CONTAINERS = new Set(["anyOf", "oneOf"]);

/** Definitions whose anyOf is "a term of this vocabulary, or a URI". */
const VOCABULARY_DEFINITIONS: Record<string, VocabularyKind> = {
  bizStep: "bizStep",
  disposition: "disposition",
  measurementType: "measurementType",
  sensorAlertType: "sensorAlertType",
  component: "component",
  "bizTransaction-type": "bizTransactionType",
  "source-dest-type": "sourceDestType",
  "error-reason": "errorReason",
};

/** Event-level anyOfs (by the definition part they sit in): the field to name and the rule. */
const EVENT_RULES: [string, string, string][] = [
  [
    "ObjectEvent/allOf/2",
    "epcList",
    "an ObjectEvent needs an epcList or a quantityList (or a sensorElementList with a readPoint)",
  ],
  ["ObjectEvent/allOf/3", "ilmd", "ilmd is only allowed on an ObjectEvent whose action is ADD"],
  [
    "AggregationEvent/allOf/2",
    "childEPCs",
    "an AggregationEvent needs childEPCs or a childQuantityList unless its action is DELETE",
  ],
  [
    "AssociationEvent/allOf/2",
    "childEPCs",
    "an AssociationEvent needs childEPCs or a childQuantityList unless its action is DELETE",
  ],
  ["TransactionEvent/allOf/2", "epcList", "a TransactionEvent needs an epcList or a quantityList unless its action is DELETE"],
  [
    "TransformationEvent/allOf/2",
    "inputEPCList",
    "a TransformationEvent needs inputs (inputEPCList or inputQuantityList) and outputs (outputEPCList or outputQuantityList), or a transformationID",
  ],
];

/** What an object whose property names are restricted is, for "not a field of …". */
const OBJECT_NAMES: Record<string, string> = {
  ObjectEvent: "an ObjectEvent",
  AggregationEvent: "an AggregationEvent",
  TransactionEvent: "a TransactionEvent",
  TransformationEvent: "a TransformationEvent",
  AssociationEvent: "an AssociationEvent",
  epcisDocument: "an EPCISDocument",
  epcisQueryDocument: "an EPCISQueryDocument",
  epcisQueryDocumentBody: "a query document's epcisBody",
  queryResults: "queryResults",
  resultsBody: "resultsBody",
  epcisHeader: "epcisHeader",
  errorDeclaration: "errorDeclaration",
  sensorElement: "a sensor element",
  sensorMetadata: "sensorMetadata",
  sensorReport: "a sensor report",
};

/** The definition (or definition part, `ObjectEvent/allOf/2`) an error failed in, or "". */
function definitionOf(e: ErrorObject): string {
  return (e.parentSchema && compiledSchema().names.get(e.parentSchema)) || "";
}

function isUnder(pointer: string, parent: string): boolean {
  return pointer === parent || pointer.startsWith(`${parent}/`);
}

function show(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 80 ? `${text.slice(0, 77)}…` : text;
}

function collapse(doc: unknown, raw: ErrorObject[]): Found[] {
  const events = eventListOf(doc);
  const eventRoot = (pointer: string) => {
    const { eventIndex, inner } = locateInDocument(events, pointer);
    return pointer === "" || (eventIndex !== null && inner === "");
  };
  const found: Found[] = [];
  // if/then errors only say "must match the then schema": the branch's own errors are in the list.
  let pool = (raw as AjvError[]).filter((e) => e.keyword !== "if");

  // propertyNames: one message per offending name; drop the errors from inside the name checks.
  for (const e of pool.filter((e) => e.keyword === "propertyNames")) {
    const name = String((e.params as { propertyName: string }).propertyName);
    found.push({
      path: e.instancePath + pointerSegment(name),
      message: propertyNameMessage(definitionOf(e).split("/")[0], name),
    });
  }
  pool = pool.filter((e) => e.keyword !== "propertyNames" && e.propertyName === undefined);

  // anyOf/oneOf, outermost first: each takes the errors of its branches. Alternatives never span
  // events, so each event's errors are collapsed on their own (a document of 10,000 bad events stays fast).
  const byEvent = new Map<number | null, AjvError[]>();
  for (const e of pool) {
    const key = locateInDocument(events, e.instancePath).eventIndex;
    byEvent.set(key, [...(byEvent.get(key) ?? []), e]);
  }
  for (const group of byEvent.values()) found.push(...collapseGroup(doc, group, eventRoot));
  // One message per field: the first (most specific) wins.
  const byPath = new Map<string, Found>();
  for (const f of found) if (!byPath.has(f.path)) byPath.set(f.path, f);
  return [...byPath.values()];
}

function collapseGroup(doc: unknown, pool: AjvError[], eventRoot: (pointer: string) => boolean): Found[] {
  const found: Found[] = [];
  const containers = pool
    .filter((e) => CONTAINERS.has(e.keyword))
    .sort((a, b) => a.instancePath.length - b.instancePath.length || a.schemaPath.length - b.schemaPath.length);
  const consumed = new Map<AjvError, AjvError[]>();
  const taken = new Set<AjvError>();
  for (const c of containers) {
    if (taken.has(c)) continue;
    // At an event (or the document root) a branch's errors are found by schema path; deeper in,
    // everything at or below the field belongs to the alternatives (refs restart schema paths).
    const atRoot = eventRoot(c.instancePath);
    const mine = pool.filter(
      (e) =>
        e !== c &&
        !taken.has(e) &&
        isUnder(e.instancePath, c.instancePath) &&
        (atRoot ? e.schemaPath.startsWith(`${c.schemaPath}/`) : true),
    );
    for (const e of mine) taken.add(e);
    consumed.set(c, mine);
  }
  const direct = pool.filter((e) => !taken.has(e) && !CONTAINERS.has(e.keyword));
  for (const e of direct) found.push({ path: targetOf(e), message: directMessage(e, doc) });
  for (const [c, mine] of consumed) {
    // An alternative that failed only because a field is plainly wrong (action "CREATE" failing
    // the ilmd-only-with-ADD rule) says nothing the field's own error does not.
    if (mine.length > 0 && mine.every((e) => direct.some((d) => d.instancePath === e.instancePath))) continue;
    found.push(containerMessage(c, mine, doc, eventRoot(c.instancePath)));
  }
  return found;
}

function targetOf(e: AjvError): string {
  const params = e.params as Record<string, unknown>;
  if (e.keyword === "required") return e.instancePath + pointerSegment(String(params.missingProperty));
  if (e.keyword === "additionalProperties") return e.instancePath + pointerSegment(String(params.additionalProperty));
  return e.instancePath;
}

function propertyNameMessage(definition: string, name: string): string {
  if (definition === "ilmd")
    return `ILMD fields need a namespace (prefix:name with the prefix defined in @context, or a full URI); "${name}" has none`;
  const what = OBJECT_NAMES[definition];
  const prefix = what ? `is not a field of ${what}` : "is not allowed here";
  return `${prefix}; extension fields need a namespace (prefix:name with the prefix defined in @context, or a full URI)`;
}

const ARTICLE: Record<string, string> = { array: "an array", object: "an object", integer: "an integer" };

function directMessage(e: AjvError, doc: unknown): string {
  const params = e.params as Record<string, unknown>;
  const value = valueAt(doc, e.instancePath);
  const leaf = e.instancePath.slice(e.instancePath.lastIndexOf("/") + 1);
  switch (e.keyword) {
    case "required":
      return "is required";
    case "type": {
      const expected = String(params.type);
      const actual =
        value === null
          ? "null"
          : Array.isArray(value)
            ? "an array"
            : `${ARTICLE[typeof value] ?? `a ${typeof value}`} (${show(value)})`;
      return `must be ${ARTICLE[expected] ?? `a ${expected}`}, not ${actual}`;
    }
    case "format":
      if (params.format === "date-time")
        return `${show(value)} is not a date-time with a time zone (RFC 3339, e.g. 2024-05-01T10:00:00.000+02:00)`;
      if (params.format === "uri" && leaf === "type" && definitionOf(e) === "vocab-uri") {
        return `${show(value)} is not an EPCIS event type (ObjectEvent, AggregationEvent, TransactionEvent, TransformationEvent, AssociationEvent) or the URI of an extension event type`;
      }
      if (params.format === "uri") return `${show(value)} is not an absolute URI`;
      return `${show(value)} is not a valid ${String(params.format)}`;
    case "enum": {
      const allowed = (params.allowedValues as unknown[]).map(String);
      const list = allowed.length > 12 ? `${allowed.slice(0, 12).join(", ")}, …` : allowed.join(", ");
      return `${show(value)} is not one of ${list}`;
    }
    case "pattern":
      if (leaf === "eventTimeZoneOffset") return `${show(value)} is not a time zone offset such as +02:00 or -05:00`;
      if (leaf === "uom")
        return `${show(value)} is not a UN/CEFACT Rec. 20 unit code (2 or 3 upper-case letters or digits, e.g. KGM)`;
      if (leaf === "schemaVersion") return `${show(value)} is not a version number such as 2.0`;
      if (definitionOf(e) === "hexBinary") return `${show(value)} is not hexadecimal`;
      return `${show(value)} does not match ${String(params.pattern)}`;
    case "additionalProperties": {
      const parent = e.parentSchema as { properties?: Record<string, unknown> } | undefined;
      const allowed = parent?.properties ? ` (${Object.keys(parent.properties).join(", ")})` : "";
      return `is not allowed here${allowed}`;
    }
    case "minItems":
      return Number(params.limit) === 1 ? "must not be empty" : `needs at least ${String(params.limit)} items`;
    case "uniqueItems": {
      const list = Array.isArray(value) ? value : [];
      return `lists ${show(list[Number(params.j)])} twice (items ${String(params.j)} and ${String(params.i)})`;
    }
    case "not":
      return "is not allowed here";
    default:
      return e.message ?? "is invalid";
  }
}

function containerMessage(c: AjvError, mine: AjvError[], doc: unknown, atEventRoot: boolean): Found {
  const value = valueAt(doc, c.instancePath);
  if (atEventRoot) {
    const part = definitionOf(c);
    for (const [where, field, message] of EVENT_RULES) {
      if (where === part) return { path: c.instancePath + pointerSegment(field), message };
    }
  }
  const definition = definitionOf(c).split("/")[0];
  const kind = VOCABULARY_DEFINITIONS[definition];
  if (kind) {
    const uri = kind === "measurementType" || kind === "sensorAlertType" ? "a URI outside gs1.org/voc" : "a URI";
    return { path: c.instancePath, message: `${show(value)} is not a ${vocabularyLabel(kind)} or ${uri}` };
  }
  if (definition === "certificationInfo") return { path: c.instancePath, message: "must be a URI or a list of URIs" };
  if (definition === "@context")
    return { path: c.instancePath, message: "must be a context URL, a context object, or a list of them" };
  if (definition === "persistentDisposition")
    return { path: c.instancePath, message: "needs a set or an unset list of dispositions" };
  const first = mine.find((e) => !CONTAINERS.has(e.keyword));
  const detail = first
    ? `: ${fieldName(first.instancePath.slice(c.instancePath.length)) || "value"} ${directMessage(first, doc)}`
    : "";
  return { path: c.instancePath, message: `matches none of the allowed forms${detail}` };
}

// ------------------------------------------------------------------ beyond the schema

/** Where vocabulary values sit in an event. */
function* vocabularyValues(event: Record<string, unknown>): Generator<[string, VocabularyKind, unknown]> {
  yield ["/bizStep", "bizStep", event.bizStep];
  yield ["/disposition", "disposition", event.disposition];
  const pd = isObject(event.persistentDisposition) ? event.persistentDisposition : {};
  for (const list of ["set", "unset"]) {
    const items = Array.isArray(pd[list]) ? (pd[list] as unknown[]) : [];
    for (const [i, v] of items.entries()) yield [`/persistentDisposition/${list}/${i}`, "disposition", v];
  }
  const each = (list: unknown, key: string, kind: VocabularyKind, base: string) =>
    (Array.isArray(list) ? list : []).map(
      (item, i) => [`${base}/${i}/${key}`, kind, isObject(item) ? item[key] : undefined] as [string, VocabularyKind, unknown],
    );
  yield* each(event.bizTransactionList, "type", "bizTransactionType", "/bizTransactionList");
  yield* each(event.sourceList, "type", "sourceDestType", "/sourceList");
  yield* each(event.destinationList, "type", "sourceDestType", "/destinationList");
  if (isObject(event.errorDeclaration)) yield ["/errorDeclaration/reason", "errorReason", event.errorDeclaration.reason];
  for (const [i, element] of (Array.isArray(event.sensorElementList) ? event.sensorElementList : []).entries()) {
    const reports = isObject(element) && Array.isArray(element.sensorReport) ? element.sensorReport : [];
    const base = `/sensorElementList/${i}/sensorReport`;
    yield* each(reports, "type", "measurementType", base);
    yield* each(reports, "exception", "sensorAlertType", base);
    yield* each(reports, "component", "component", base);
  }
}

/** Keys `prefix:local` whose prefix nothing here defines (absolute IRIs such as `urn:…` or `https://…` are fine). */
function* undefinedPrefixes(value: unknown, pointer: string, ns: Namespaces): Generator<[string, string]> {
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) yield* undefinedPrefixes(item, `${pointer}/${i}`, ns);
    return;
  }
  if (!isObject(value)) return;
  for (const [key, child] of Object.entries(value)) {
    if (key === "@context") continue;
    const m = /^([A-Za-z][A-Za-z0-9._-]*):(?!\/\/)/.exec(key);
    if (m && m[1] !== "urn" && !ns.terms.has(m[1])) yield [pointer + pointerSegment(key), m[1]];
    yield* undefinedPrefixes(child, pointer + pointerSegment(key), ns);
  }
}

function* semanticProblems(doc: unknown, list: EventList): Generator<Found> {
  if (!isObject(doc)) return;
  if (doc["@context"] !== undefined && !namesEpcisContext(doc["@context"])) {
    yield { path: "/@context", message: `must include the GS1 EPCIS 2.0 context ${EPCIS_CONTEXT_URL}` };
  }
  let documentNs: Namespaces;
  try {
    documentNs = namespacesFrom(list.context);
  } catch {
    return; // an unreadable context is reported by the schema
  }
  const documentRemote = list.kind === "event" ? [] : unresolvableContexts(list.context);
  for (const [index, event] of list.events.entries()) {
    if (!isObject(event)) continue;
    const base = list.kind === "event" ? "" : `${list.pointer}/${index}`;
    const ns =
      list.kind === "event"
        ? namespacesFrom(event["@context"])
        : event["@context"] === undefined
          ? documentNs
          : namespacesFrom(event["@context"], documentNs);
    // Contexts are never fetched: a prefix only another context URL could define cannot be read.
    const remote = [...documentRemote, ...unresolvableContexts(event["@context"])];
    if (remote.length > 0) {
      for (const [pointer, prefix] of undefinedPrefixes(event, base, ns)) {
        yield {
          path: pointer,
          message: `prefix "${prefix}" is not defined: Lotline resolves only the GS1 EPCIS context and never fetches ${remote.join(", ")}; define "${prefix}" inline in @context`,
        };
      }
    }
    for (const [pointer, kind, value] of vocabularyValues(event)) {
      if (typeof value !== "string") continue;
      const problem = termProblem(kind, value, ns);
      if (problem) yield { path: base + pointer, message: problem };
    }
  }
}

function locate(list: EventList, pointer: string, message: string): EventError {
  const { eventIndex, inner } = locateInDocument(list, pointer);
  const field = fieldName(inner) || (eventIndex === null ? "document" : "event");
  const event = eventIndex === null ? undefined : list.events[eventIndex];
  const eventID = isObject(event) && typeof event.eventID === "string" ? event.eventID : undefined;
  return { eventIndex, ...(eventID ? { eventID } : {}), path: pointer, field, message: `${field}: ${message}` };
}
