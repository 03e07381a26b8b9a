import crypto from "node:crypto";
import { canonicalize } from "json-canonicalize";
import type { Db } from "../store/db";
import { canonicalTimestamp, namespacesFrom, type EpcisEvent, type Namespaces } from "./hash";
import { EPCIS_PREFIXES } from "./hash/context";
import { EPCIS_CONTEXT_URL, isEpcisContextUrl } from "./context";
import { canonicalId, idMatcher, withEpcFormat, type EpcFormat, type PrefixLookup } from "./identifiers";
import { canonicalTerm, type VocabularyKind } from "./vocabulary";
import { installQueryFunctions } from "./query-functions";
import { EVENT_COLUMNS_E, type EventRow } from "./store";
import { candidateOwners, type EpcisVisibility } from "./access";
import { withDescendants } from "./master-data";

/**
 * The EPCIS 2.0 query interface over stored events: the SimpleEventQuery parameters as the REST
 * binding passes them in the query string (a list is `a|b` or the parameter repeated), keyset paging
 * with `perPage` / `nextPageToken`, and the result as an EPCISQueryDocument.
 *
 * Identifiers match whatever form they were captured or are asked in (EPC URN, Digital Link on any
 * domain); vocabulary values may be bare CBV terms, CBV URNs or CBV web URIs.
 */

export class QueryParameterError extends Error {
  constructor(
    readonly parameter: string,
    message: string,
  ) {
    super(message);
  }
}

/** Too many events for `maxEventCount` (the binding's QueryTooLargeException). */
export class QueryTooLargeError extends Error {}

export const DEFAULT_PER_PAGE = 30;
export const MAX_PER_PAGE = 1_000;

type Params = Record<string, string | string[] | undefined>;

/** Parameters matching identifiers, by the roles of the identifier rows they look at. */
const MATCH_ROLES: Record<string, string[]> = {
  MATCH_epc: ["epc", "child"],
  MATCH_parentID: ["parent"],
  MATCH_inputEPC: ["input"],
  MATCH_outputEPC: ["output"],
  MATCH_anyEPC: ["epc", "child", "parent", "input", "output"],
  MATCH_epcClass: ["epcClass", "childEPCClass"],
  MATCH_inputEPCClass: ["inputEPCClass"],
  MATCH_outputEPCClass: ["outputEPCClass"],
  MATCH_anyEPCClass: ["epcClass", "childEPCClass", "inputEPCClass", "outputEPCClass"],
};

/** Parameters comparing a vocabulary column with terms. */
const EQ_VOCABULARY: Record<string, [column: string, kind: VocabularyKind]> = {
  EQ_bizStep: ["biz_step", "bizStep"],
  EQ_disposition: ["disposition", "disposition"],
  EQ_errorReason: ["error_reason", "errorReason"],
};

/** Parameters comparing an identifier column. */
const EQ_IDENTIFIER: Record<string, string> = {
  EQ_readPoint: "read_point",
  EQ_bizLocation: "biz_location",
  EQ_transformationID: "transformation_id",
};

const TIME_RANGES: Record<string, [column: string, op: string]> = {
  GE_eventTime: ["event_time", ">="],
  LT_eventTime: ["event_time", "<"],
  GE_recordTime: ["record_time", ">="],
  LT_recordTime: ["record_time", "<"],
  GE_errorDeclarationTime: ["error_declaration_time", ">="],
  LT_errorDeclarationTime: ["error_declaration_time", "<"],
};

const QUANTITY_OPS: Record<string, string> = {
  EQ_quantity: "=",
  GT_quantity: ">",
  GE_quantity: ">=",
  LT_quantity: "<",
  LE_quantity: "<=",
};

const PERSISTENT: Record<string, string> = {
  EQ_persistentDisposition_set: "persistentDispositionSet",
  EQ_persistentDisposition_unset: "persistentDispositionUnset",
};

const CONTROL = ["perPage", "nextPageToken", "orderBy", "orderDirection", "eventCountLimit", "maxEventCount"];

/** Every query parameter Lotline understands. */
export const QUERY_PARAMETERS = [
  "eventType",
  ...Object.keys(TIME_RANGES),
  "EQ_action",
  ...Object.keys(EQ_VOCABULARY),
  ...Object.keys(EQ_IDENTIFIER),
  ...Object.keys(PERSISTENT),
  ...Object.keys(MATCH_ROLES),
  ...Object.keys(QUANTITY_OPS),
  "EQ_eventID",
  "EXISTS_errorDeclaration",
  "EQ_correctiveEventID",
  ...CONTROL,
];

function values(params: Params, name: string): string[] {
  const raw = params[name];
  const list = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  return list
    .flatMap((v) => v.split("|"))
    .map((v) => v.trim())
    .filter((v) => v !== "");
}

function single(params: Params, name: string): string | undefined {
  const raw = params[name];
  if (raw === undefined) return undefined;
  if (Array.isArray(raw)) {
    if (raw.length !== 1) throw new QueryParameterError(name, `${name} takes one value, not ${raw.length}`);
    return raw[0];
  }
  return raw;
}

function timeOf(name: string, value: string): string {
  // A `+` in a query string means a space: `2024-05-01T10:00:00+02:00` unencoded arrives with " 02:00".
  const repaired = value.trim().replace(/ (\d{2}:?\d{2})$/, "+$1");
  if (
    !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(repaired) ||
    Number.isNaN(Date.parse(repaired))
  ) {
    throw new QueryParameterError(
      name,
      `${name}: "${value}" is not a date-time with a time zone (e.g. 2024-05-01T10:00:00Z; encode + as %2B)`,
    );
  }
  return canonicalTimestamp(repaired);
}

function numberOf(name: string, value: string): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n)) throw new QueryParameterError(name, `${name}: "${value}" is not a number`);
  return n;
}

function positiveInteger(name: string, value: string | undefined, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max)
    throw new QueryParameterError(name, `${name} must be an integer from 1 to ${max}, not "${value}"`);
  return n;
}

export interface EventQuery {
  where: string[];
  args: unknown[];
  order: "record" | "eventTime";
  direction: "ASC" | "DESC";
  perPage: number;
  eventCountLimit?: number;
  maxEventCount?: number;
  /** Identifies the filter, so a page token cannot be replayed against another query. */
  digest: string;
}

const COMPARE = "(EQ|GT|GE|LT|LE)";
/** Sensor report fields compared as numbers (EQ/GT/GE/LT/LE_{field}). */
const SENSOR_NUMBERS = ["value", "minValue", "maxValue", "meanValue", "sDev", "percValue"];
/** Sensor fields compared by EQ_{field}: where they are and how values compare. */
const SENSOR_EQ: Record<string, [levels: ("report" | "metadata")[], kind: string]> = {
  EQ_type: [["report"], "term:measurementType"],
  EQ_deviceID: [["report", "metadata"], "id"],
  EQ_dataProcessingMethod: [["report", "metadata"], "id"],
  EQ_microorganism: [["report"], "id"],
  EQ_chemicalSubstance: [["report"], "id"],
  EQ_bizRules: [["metadata"], "id"],
  EQ_stringValue: [["report"], "text"],
  EQ_booleanValue: [["report"], "text"],
  EQ_hexBinaryValue: [["report"], "text"],
  EQ_uriValue: [["report"], "id"],
  EQ_uom: [["report"], "text"],
  EQ_percRank: [["report"], "text"],
};
/** Sensor times: GE_/LT_ on the report's or the metadata's `time`, the metadata's start and end. */
const SENSOR_TIMES: Record<string, ("report" | "metadata")[]> = { time: ["report", "metadata"], startTime: ["metadata"], endTime: ["metadata"] };
const TYPED_LISTS: Record<string, [list: string, valueKey: string, kind: VocabularyKind]> = {
  bizTransaction: ["bizTransactionList", "bizTransaction", "bizTransactionType"],
  source: ["sourceList", "source", "sourceDestType"],
  destination: ["destinationList", "destination", "sourceDestType"],
};

/** Every query parameter name pattern Lotline understands beyond the fixed names (for errors and docs). */
export const QUERY_PARAMETER_PATTERNS = [
  "EQ_bizTransaction_{type}",
  "EQ_source_{type}",
  "EQ_destination_{type}",
  "WD_readPoint",
  "WD_bizLocation",
  "EQ_userID",
  ...Object.keys(SENSOR_EQ),
  ...SENSOR_NUMBERS.map((f) => `EQ|GT|GE|LT|LE_${f}`),
  "GE|LT_time",
  "GE|LT_startTime",
  "GE|LT_endTime",
  "EQ|GT|GE|LT|LE|EXISTS_ILMD_{namespace}#{field}",
  "EQ|GT|GE|LT|LE|EXISTS_INNER_ILMD_{namespace}#{field}",
  "EQ|GT|GE|LT|LE|EXISTS_{namespace}#{field}",
  "EQ|GT|GE|LT|LE|EXISTS_INNER_{namespace}#{field}",
  "EXISTS_{standard field}",
];

/** Top-level fields of EPCIS 2.0 events that EXISTS_{field} may name. */
const STANDARD_FIELDS = new Set([
  "eventTime", "eventTimeZoneOffset", "certificationInfo", "epcList", "parentID", "inputEPCList", "childEPCs", "quantityList",
  "childQuantityList", "inputQuantityList", "outputEPCList", "outputQuantityList", "action", "transformationID", "bizStep",
  "disposition", "persistentDisposition", "readPoint", "bizLocation", "bizTransactionList", "sourceList", "destinationList",
  "sensorElementList", "ilmd",
]);

/**
 * The SQL condition of a parameter with a variable name, or null when the name is none Lotline knows.
 * Every value is bound; the fragments are fixed text.
 */
function dynamicCondition(name: string, list: string[], one: () => string): { sql: string; args: unknown[] } | null {
  let m = /^EQ_(bizTransaction|source|destination)_(.+)$/.exec(name);
  if (m) {
    const [listName, valueKey, kind] = TYPED_LISTS[m[1]];
    return { sql: `epcis_typed(e.event, ?, ?, ?, ?, ?) = 1`, args: [listName, valueKey, kind, canonicalTerm(kind, m[2]), JSON.stringify(list.map((v) => canonicalId(v)))] };
  }
  m = /^WD_(readPoint|bizLocation)$/.exec(name);
  if (m) return withDescendants(m[1] === "readPoint" ? "read_point" : "biz_location", list.map((v) => canonicalId(v)));
  if (name === "EQ_userID") {
    return {
      sql: `e.capture_id IN (SELECT capture_id FROM epcis_captures WHERE lower(agent) IN (SELECT value FROM json_each(?)))`,
      args: [JSON.stringify(list.map((v) => v.toLowerCase()))],
    };
  }
  if (Object.hasOwn(SENSOR_EQ, name)) {
    const [levels, kind] = SENSOR_EQ[name];
    const field = name.slice(3);
    const canon = kind === "id" ? (v: string) => canonicalId(v) : kind.startsWith("term:") ? (v: string) => canonicalTerm(kind.slice(5) as VocabularyKind, v) : (v: string) => v;
    if (name === "EQ_percRank") for (const v of list) numberOf(name, v);
    return {
      sql: `(${levels.map(() => `epcis_sensor(e.event, ?, ?, 'EQ', ?, ?) = 1`).join(" OR ")})`,
      args: levels.flatMap((level) => [level, field, kind, JSON.stringify(list.map(canon))]),
    };
  }
  m = new RegExp(`^${COMPARE}_(${SENSOR_NUMBERS.join("|")})$`).exec(name);
  if (m) {
    const value = one();
    numberOf(name, value);
    return { sql: `epcis_sensor(e.event, 'report', ?, ?, 'text', ?) = 1`, args: [m[2], m[1], JSON.stringify([value])] };
  }
  m = /^(GE|LT)_(time|startTime|endTime)$/.exec(name);
  if (m) {
    const levels = SENSOR_TIMES[m[2]];
    const value = timeOf(name, one());
    return {
      sql: `(${levels.map(() => `epcis_sensor(e.event, ?, ?, ?, 'text', ?) = 1`).join(" OR ")})`,
      args: levels.flatMap((level) => [level, m![2], m![1], JSON.stringify([value])]),
    };
  }
  m = /^(EQ|GT|GE|LT|LE|EXISTS)_(INNER_)?(ILMD_)?(.+#.*)$/.exec(name);
  if (m) {
    const [, op, inner, ilmd, field] = m;
    let values = list;
    if (op === "EXISTS") {
      const v = one().trim();
      if (!["", "true"].includes(v)) throw new QueryParameterError(name, `${name} takes no value (or true)`);
      values = [];
    } else if (op !== "EQ") {
      const v = one();
      if (!ZONED_TIME.test(v.trim().replace(/ (\d{2}:?\d{2})$/, "+$1"))) numberOf(name, v);
      values = [v.trim().replace(/ (\d{2}:?\d{2})$/, "+$1")];
    }
    return {
      sql: `epcis_ext(e.event, e.context, ?, ?, ?, ?, ?) = 1`,
      args: [ilmd ? "ilmd" : "event", inner ? 1 : 0, field, op, JSON.stringify(values)],
    };
  }
  m = /^EXISTS_([A-Za-z]+)$/.exec(name);
  if (m && STANDARD_FIELDS.has(m[1])) {
    const v = one().trim();
    if (!["", "true", "false"].includes(v)) throw new QueryParameterError(name, `${name} takes no value, true or false`);
    return { sql: `json_type(e.event, ?) IS ${v === "false" ? "" : "NOT "}NULL`, args: [`$."${m[1]}"`] };
  }
  return null;
}

const ZONED_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

/** Parses query-string parameters (already URL-decoded) into a query; unknown ones are refused by name. */
export function parseEventQuery(params: Params, fixed: Params = {}): EventQuery {
  const all: Params = { ...params, ...fixed };
  const where: string[] = [];
  const args: unknown[] = [];
  for (const name of Object.keys(all)) {
    if (QUERY_PARAMETERS.includes(name)) continue;
    const condition = dynamicCondition(name, values(all, name), () => single(all, name) ?? "");
    if (condition) {
      where.push(condition.sql);
      args.push(...condition.args);
      continue;
    }
    {
      throw new QueryParameterError(
        name,
        /^(EQ|GT|GE|LT|LE|EXISTS|WD|HASATTR|EQATTR|MATCH)_/.test(name)
          ? `${name} is not a query parameter Lotline supports; supported: ${[...QUERY_PARAMETERS, ...QUERY_PARAMETER_PATTERNS].join(", ")}`
          : `${name} is not an EPCIS query parameter`,
      );
    }
  }
  const inList = (column: string, list: unknown[]) => {
    where.push(`e.${column} IN (${list.map(() => "?").join(", ")})`);
    args.push(...list);
  };

  const types = values(all, "eventType");
  if (types.length) inList("event_type", types);
  for (const [name, [column, op]] of Object.entries(TIME_RANGES)) {
    const v = single(all, name);
    if (v !== undefined) {
      where.push(`e.${column} ${op} ?`);
      args.push(timeOf(name, v));
    }
  }
  const actions = values(all, "EQ_action");
  for (const a of actions)
    if (!["ADD", "OBSERVE", "DELETE"].includes(a))
      throw new QueryParameterError("EQ_action", `EQ_action: "${a}" is not ADD, OBSERVE or DELETE`);
  if (actions.length) inList("action", actions);
  for (const [name, [column, kind]] of Object.entries(EQ_VOCABULARY)) {
    const list = values(all, name);
    if (list.length)
      inList(
        column,
        list.map((v) => canonicalTerm(kind, v)),
      );
  }
  for (const [name, column] of Object.entries(EQ_IDENTIFIER)) {
    const list = values(all, name);
    if (list.length)
      inList(
        column,
        list.map((v) => canonicalId(v)),
      );
  }
  const ids = values(all, "EQ_eventID");
  if (ids.length) inList("event_id", ids);
  if (all.EXISTS_errorDeclaration !== undefined) {
    const v = single(all, "EXISTS_errorDeclaration")!.trim();
    if (!["", "true", "false"].includes(v))
      throw new QueryParameterError("EXISTS_errorDeclaration", "EXISTS_errorDeclaration takes no value, true or false");
    where.push(v === "false" ? `e.error_declaration_time IS NULL` : `e.error_declaration_time IS NOT NULL`);
  }
  const identifierRows = (roles: string[], condition: string, conditionArgs: unknown[]) => {
    where.push(
      // The same as EXISTS (… WHERE i.seq = e.seq …), but uncorrelated: SQLite evaluates the identifier
      // match once (by its index on id) instead of once per stored event (docs/performance.md).
      `e.seq IN (SELECT i.seq FROM epcis_event_identifiers i WHERE i.role IN (${roles.map(() => "?").join(", ")}) AND (${condition}))`,
    );
    args.push(...roles, ...conditionArgs);
  };
  for (const [name, roles] of Object.entries(MATCH_ROLES)) {
    const list = values(all, name);
    if (!list.length) continue;
    const matchers = list.map(idMatcher);
    identifierRows(
      roles,
      matchers.map((m) => ("exact" in m ? "i.id = ?" : "i.id LIKE ? ESCAPE '\\'")).join(" OR "),
      matchers.map((m) => ("exact" in m ? m.exact : m.like)),
    );
  }
  for (const [name, role] of Object.entries(PERSISTENT)) {
    const list = values(all, name);
    if (list.length)
      identifierRows(
        [role],
        list.map(() => "i.id = ?").join(" OR "),
        list.map((v) => canonicalTerm("disposition", v)),
      );
  }
  const corrective = values(all, "EQ_correctiveEventID");
  if (corrective.length) identifierRows(["correctiveEventID"], corrective.map(() => "i.id = ?").join(" OR "), corrective);
  const quantity = Object.entries(QUANTITY_OPS).flatMap(([name, op]) => {
    const v = single(all, name);
    return v === undefined ? [] : [[op, numberOf(name, v)] as const];
  });
  if (quantity.length) {
    identifierRows(
      MATCH_ROLES.MATCH_anyEPCClass,
      quantity.map(([op]) => `i.quantity ${op} ?`).join(" AND "),
      quantity.map(([, n]) => n),
    );
  }

  const orderBy = single(all, "orderBy");
  let order: EventQuery["order"] = "record";
  if (orderBy !== undefined) {
    if (["eventTime", "https://ref.gs1.org/epcis/eventTime"].includes(orderBy)) order = "eventTime";
    else if (!["recordTime", "https://ref.gs1.org/epcis/recordTime"].includes(orderBy)) {
      throw new QueryParameterError("orderBy", `orderBy: "${orderBy}" is not eventTime or recordTime`);
    }
  }
  // The binding's default order is descending.
  const direction = (single(all, "orderDirection") ?? "DESC").toUpperCase();
  if (direction !== "ASC" && direction !== "DESC")
    throw new QueryParameterError("orderDirection", "orderDirection must be ASC or DESC");
  const perPage = positiveInteger("perPage", single(all, "perPage"), MAX_PER_PAGE) ?? DEFAULT_PER_PAGE;
  const eventCountLimit = positiveInteger("eventCountLimit", single(all, "eventCountLimit"));
  const maxEventCount = positiveInteger("maxEventCount", single(all, "maxEventCount"));
  if (eventCountLimit !== undefined && orderBy === undefined) {
    throw new QueryParameterError("eventCountLimit", "eventCountLimit may only be used with orderBy (eventTime or recordTime)");
  }
  if (eventCountLimit !== undefined && maxEventCount !== undefined) {
    throw new QueryParameterError("maxEventCount", "eventCountLimit and maxEventCount cannot be used together");
  }

  const filter = Object.fromEntries(
    Object.keys(all)
      .filter((k) => k !== "perPage" && k !== "nextPageToken")
      .sort()
      .map((k) => [k, all[k]]),
  );
  const digest = crypto.createHash("sha256").update(canonicalize(filter)).digest("base64url").slice(0, 16);
  return { where, args, order, direction: direction as "ASC" | "DESC", perPage, eventCountLimit, maxEventCount, digest };
}

interface PageToken {
  d: string;
  /** The last event of the previous page: its event time (when ordered by it) and seq. */
  t: string | null;
  s: number;
  /** Events returned so far (for eventCountLimit). */
  n: number;
}

function decodeToken(token: string, query: EventQuery): PageToken {
  try {
    const parsed = JSON.parse(Buffer.from(token, "base64url").toString()) as PageToken;
    if (
      parsed.d === query.digest &&
      Number.isSafeInteger(parsed.s) &&
      Number.isSafeInteger(parsed.n) &&
      (parsed.t === null || typeof parsed.t === "string")
    ) {
      return parsed;
    }
  } catch {
    // fall through
  }
  throw new QueryParameterError(
    "nextPageToken",
    "nextPageToken is not one this query returned; repeat the query's other parameters unchanged, or start again without it",
  );
}

export interface EventPage {
  rows: EventRow[];
  nextPageToken: string | null;
}

/** Rows scanned per round when events must be checked one by one (scoped grants). */
const SCAN_CHUNK = 200;

/**
 * One page of the events a query selects, in its order, among those `visibility` lets the reader
 * read (all stored events without it: for the node's own jobs only).
 */
export function runEventQuery(db: Db, query: EventQuery, token?: string, visibility?: EpcisVisibility): EventPage {
  installQueryFunctions(db);
  const base = [...query.where];
  const baseArgs = [...query.args];
  if (visibility) {
    base.push(`e.org_id IN (SELECT value FROM json_each(?))`);
    baseArgs.push(candidateOwners(visibility));
    if (visibility.ownRecordsOnly) base.push(`e.served_by IS NULL`);
  }
  const perRow = visibility !== undefined && visibility.scopedOrgs.size > 0;
  const cmp = query.direction === "ASC" ? ">" : "<";
  const order =
    query.order === "eventTime" ? `e.event_time ${query.direction}, e.seq ${query.direction}` : `e.seq ${query.direction}`;
  /** Rows after a position in the query's order (keyset), at most `limit`. */
  const scan = (pos: { t: string | null; s: number } | null, limit: number): EventRow[] => {
    const where = [...base];
    const args = [...baseArgs];
    if (pos) {
      if (query.order === "eventTime") {
        where.push(`(e.event_time ${cmp} ? OR (e.event_time = ? AND e.seq ${cmp} ?))`);
        args.push(pos.t, pos.t, pos.s);
      } else {
        where.push(`e.seq ${cmp} ?`);
        args.push(pos.s);
      }
    }
    // Dynamic SQL from fixed fragments; every value is a bound parameter.
    return db
      .prepare(
        `SELECT ${EVENT_COLUMNS_E} FROM epcis_events e ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY ${order} LIMIT ?`,
      )
      .all(...args, limit) as EventRow[];
  };
  /** Up to `want` readable rows after `pos`. */
  const readable = (pos: { t: string | null; s: number } | null, want: number): EventRow[] => {
    if (!perRow) return want > 0 ? scan(pos, want) : [];
    const out: EventRow[] = [];
    let at = pos;
    while (out.length < want) {
      const chunk = scan(at, SCAN_CHUNK);
      for (const row of chunk) {
        if (visibility!.visible(row)) out.push(row);
        if (out.length >= want) break;
      }
      if (chunk.length < SCAN_CHUNK) break;
      const last = chunk[chunk.length - 1];
      at = { t: last.event_time, s: last.seq };
    }
    return out;
  };

  const after = token ? decodeToken(token, query) : null;
  if (query.maxEventCount !== undefined && !after) {
    let n: number;
    if (!perRow) {
      n = (
        db
          .prepare(`SELECT COUNT(*) AS n FROM epcis_events e ${base.length ? `WHERE ${base.join(" AND ")}` : ""}`)
          .get(...baseArgs) as {
          n: number;
        }
      ).n;
    } else {
      n = readable(null, query.maxEventCount + 1).length;
    }
    if (n > query.maxEventCount)
      throw new QueryTooLargeError(
        perRow
          ? `the query selects more events than maxEventCount (${query.maxEventCount})`
          : `the query selects ${n} events, more than maxEventCount (${query.maxEventCount})`,
      );
  }
  const returned = after?.n ?? 0;
  const remaining = query.eventCountLimit === undefined ? Infinity : query.eventCountLimit - returned;
  const size = Math.max(0, Math.min(query.perPage, remaining));
  const rows = size === 0 ? [] : readable(after ? { t: after.t, s: after.s } : null, size + 1);
  const page = rows.slice(0, size);
  const more = rows.length > size && remaining - page.length > 0;
  const last = page.at(-1);
  const next: PageToken | null =
    more && last
      ? { d: query.digest, t: query.order === "eventTime" ? last.event_time : null, s: last.seq, n: returned + page.length }
      : null;
  return { rows: page, nextPageToken: next ? Buffer.from(JSON.stringify(next)).toString("base64url") : null };
}

/** The `@context` an event was captured under: its document's (a bare event's own context is inside it). */
export function documentContextOf(row: Pick<EventRow, "context">): unknown[] {
  const context: unknown = row.context === null ? [EPCIS_CONTEXT_URL] : JSON.parse(row.context);
  return Array.isArray(context) ? context : [context];
}

/**
 * The event-level `@context` that gives an event its own document's meaning under a page whose
 * context is another document's: it first undoes every term and `@vocab` the page defines (JSON-LD
 * `null`; the EPCIS context's own prefixes are protected and the same everywhere), then applies the
 * document's context as captured, then the event's own. Under it, the event's namespaces are exactly
 * those it was hashed under at capture, so its CBV 2.0 hash ID computed from the response is the
 * stored one.
 */
export function eventContext(page: Namespaces, documentContext: unknown[], own: unknown): unknown[] {
  const reset: Record<string, null> = {};
  for (const term of page.terms.keys()) if (!(term in EPCIS_PREFIXES)) reset[term] = null;
  if (page.vocab !== undefined) reset["@vocab"] = null;
  const ownList = own === undefined ? [] : Array.isArray(own) ? own : [own];
  return [
    ...(Object.keys(reset).length ? [reset] : []),
    // The EPCIS context is the page's already (re-applying a protected context is allowed, but noise).
    ...documentContext.filter((entry) => !(typeof entry === "string" && isEpcisContextUrl(entry))),
    ...ownList,
  ];
}

/**
 * An EPCISQueryDocument of stored events that keeps each event's meaning: the page's `@context` is
 * the context of the document its first event came from; an event captured under another context
 * carries an event-level `@context` (valid EPCIS 2.0 JSON-LD) that restores its own (see
 * eventContext). So the CBV 2.0 hash ID of every event, computed from the response as a JSON-LD
 * document, is the one stored and anchored, however the documents' prefixes differ or clash.
 */
export function queryDocument(rows: EventRow[], format: EpcFormat, gcp: PrefixLookup, queryName = "SimpleEventQuery") {
  const pageContext = rows.length ? documentContextOf(rows[0]) : [EPCIS_CONTEXT_URL];
  const pageKey = canonicalize(pageContext);
  const pageNs = namespacesFrom(pageContext);
  const events: EpcisEvent[] = rows.map((row) => {
    const event = withEpcFormat(JSON.parse(row.event) as EpcisEvent, format, gcp);
    const context = documentContextOf(row);
    if (canonicalize(context) === pageKey) return event;
    const { "@context": own, ...rest } = event;
    return { "@context": eventContext(pageNs, context, own), ...rest };
  });
  return {
    "@context": pageContext,
    type: "EPCISQueryDocument" as const,
    schemaVersion: "2.0",
    creationDate: new Date().toISOString(),
    epcisBody: { queryResults: { queryName, resultsBody: { eventList: events } } },
  };
}
