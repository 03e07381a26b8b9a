import type { Db } from "../store/db";
import { canonicalTimestamp, namespacesFrom, type EpcisEvent, type Namespaces } from "./hash";
import { resolveKey } from "./hash/context";
import { isObject } from "./document";
import { canonicalId } from "./identifiers";
import { canonicalTerm, type VocabularyKind } from "./vocabulary";

/**
 * SQL functions for the query parameters that look inside a stored event's JSON (business
 * transactions, sources and destinations by type, sensor reports, ILMD and extension fields). They are
 * pure: they read only their arguments, never the database (better-sqlite3 forbids a statement inside
 * a function called by another), and they see each event with the namespaces it was captured under.
 *
 * Comparisons: EQ matches any listed value (identifiers and vocabulary terms in any form, as the
 * indexed columns do); GT/GE/LT/LE compare numbers, or date-times (canonical UTC) when the parameter's
 * value is one; EXISTS matches a present field.
 */
export type Op = "EQ" | "GT" | "GE" | "LT" | "LE" | "EXISTS";

const ZONED = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;

/** Whether a stored value satisfies `op` against the parameter's values (already canonical for EQ). */
export function compare(op: Op, found: unknown, values: readonly string[], canon: (v: string) => string = (v) => v): boolean {
  if (op === "EXISTS") return found !== undefined;
  if (found === undefined || found === null || typeof found === "object") return false;
  const text = String(found).trim();
  if (op === "EQ") return values.includes(canon(text)) || values.includes(text);
  const target = values[0];
  if (ZONED.test(target)) {
    if (!ZONED.test(text)) return false;
    const a = canonicalTimestamp(text);
    const b = canonicalTimestamp(target);
    return op === "GT" ? a > b : op === "GE" ? a >= b : op === "LT" ? a < b : a <= b;
  }
  const a = Number(text);
  const b = Number(target);
  if (text === "" || !Number.isFinite(a)) return false;
  return op === "GT" ? a > b : op === "GE" ? a >= b : op === "LT" ? a < b : a <= b;
}

function scalars(value: unknown): unknown[] {
  if (Array.isArray(value)) return value.flatMap(scalars);
  if (isObject(value) && "@value" in value) return [value["@value"]];
  if (isObject(value) && typeof value["@id"] === "string" && Object.keys(value).every((k) => k.startsWith("@"))) return [value["@id"]];
  return [value];
}

function namespacesOf(event: EpcisEvent, context: string | null): Namespaces {
  const ns = namespacesFrom(context === null ? undefined : JSON.parse(context));
  return event["@context"] === undefined ? ns : namespacesFrom(event["@context"], ns);
}

/** `namespace#localName` as the binding names an extension field, matched against a resolved key. */
function sameField(name: string, namespace: string, localName: string): boolean {
  return name === `${namespace}#${localName}` || (/[#/]$/.test(namespace) && name === namespace + localName);
}

/**
 * The values of extension field `name` (namespace#localName) in an event: top-level extension fields
 * (`where` "event") or ILMD fields ("ilmd"); `inner` also looks inside nested extension elements.
 */
export function extensionValues(event: EpcisEvent, context: string | null, where: "event" | "ilmd", inner: boolean, name: string): unknown[] {
  const ns = namespacesOf(event, context);
  const found: unknown[] = [];
  const visit = (obj: Record<string, unknown>, parent: string | undefined, depth: number) => {
    for (const [key, value] of Object.entries(obj)) {
      if (key.startsWith("@")) continue;
      // At an event's top level, the standard fields are bare names; extension fields have a namespace.
      if (depth === 0 && where === "event" && !key.includes(":") && !ns.terms.has(key)) continue;
      const q = resolveKey(ns, key, parent);
      if (!q) continue;
      const nested = Array.isArray(value) ? value : [value];
      // Plain parameters name top-level fields; INNER ones fields nested inside them.
      if (sameField(name, q.namespace, q.localName) && (inner ? depth > 0 : depth === 0)) {
        found.push(...scalars(value).map((v) => (isObject(v) ? {} : v)));
      }
      if (inner) for (const child of nested) if (isObject(child) && !("@value" in child)) visit(child, q.namespace, depth + 1);
    }
  };
  if (where === "ilmd") {
    if (isObject(event.ilmd)) visit(event.ilmd, undefined, 0);
  } else {
    visit(event, undefined, 0);
  }
  return found;
}

/** The values of a sensor field in an event's sensor reports ("report") or sensor metadata ("metadata"). */
export function sensorValues(event: EpcisEvent, level: "report" | "metadata", field: string): unknown[] {
  const out: unknown[] = [];
  for (const element of Array.isArray(event.sensorElementList) ? event.sensorElementList : []) {
    if (!isObject(element)) continue;
    if (level === "metadata") {
      if (isObject(element.sensorMetadata) && field in element.sensorMetadata) out.push(element.sensorMetadata[field]);
    } else {
      for (const report of Array.isArray(element.sensorReport) ? element.sensorReport : []) if (isObject(report) && field in report) out.push(report[field]);
    }
  }
  return out;
}

const installed = new WeakSet<Db>();

/** Registers the functions on a database connection (once). */
export function installQueryFunctions(db: Db): void {
  if (installed.has(db)) return;
  installed.add(db);
  const opts = { deterministic: true, varargs: false } as const;

  // epcis_ext(event, context, where, inner, name, op, values) → 1 when a value of the field matches.
  db.function("epcis_ext", opts, (event: unknown, context: unknown, where: unknown, inner: unknown, name: unknown, op: unknown, values: unknown) => {
    const found = extensionValues(JSON.parse(String(event)) as EpcisEvent, context as string | null, where as "event" | "ilmd", inner === 1, String(name));
    const list = JSON.parse(String(values)) as string[];
    if (op === "EXISTS") return found.length > 0 ? 1 : 0;
    return found.some((v) => compare(op as Op, v, list)) ? 1 : 0;
  });

  // epcis_sensor(event, level, field, op, kind, values): kind "id" | "term:{VocabularyKind}" | "text".
  db.function("epcis_sensor", opts, (event: unknown, level: unknown, field: unknown, op: unknown, kind: unknown, values: unknown) => {
    const found = sensorValues(JSON.parse(String(event)) as EpcisEvent, level as "report" | "metadata", String(field));
    const list = JSON.parse(String(values)) as string[];
    const canon = canonOf(String(kind));
    return found.flatMap(scalars).some((v) => compare(op as Op, v, list, canon)) ? 1 : 0;
  });

  // epcis_typed(event, list, valueKey, typeKind, type, values): a business transaction, source or
  // destination of the type (null: untyped) whose value is one of the values.
  db.function("epcis_typed", opts, (event: unknown, list: unknown, valueKey: unknown, typeKind: unknown, type: unknown, values: unknown) => {
    const parsed = JSON.parse(String(event)) as EpcisEvent;
    const wanted = JSON.parse(String(values)) as string[];
    const kind = typeKind as VocabularyKind;
    for (const item of Array.isArray(parsed[String(list)]) ? (parsed[String(list)] as unknown[]) : []) {
      if (!isObject(item) || typeof item[String(valueKey)] !== "string") continue;
      const itemType = typeof item.type === "string" ? canonicalTerm(kind, item.type) : null;
      if (itemType !== type) continue;
      if (wanted.includes(canonicalId(item[String(valueKey)] as string))) return 1;
    }
    return 0;
  });
}

function canonOf(kind: string): (v: string) => string {
  if (kind === "id") return (v) => canonicalId(v);
  if (kind.startsWith("term:")) return (v) => canonicalTerm(kind.slice(5) as VocabularyKind, v);
  return (v) => v;
}
