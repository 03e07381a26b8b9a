/**
 * Where the events of an EPCIS 2.0 JSON(-LD) capture payload are: an `EPCISDocument`
 * (`epcisBody.eventList`), an `EPCISQueryDocument` (`epcisBody.queryResults.resultsBody.eventList`,
 * which the capture interface also accepts) or a single bare event carrying its own `@context`.
 */
export interface EventList {
  kind: "EPCISDocument" | "EPCISQueryDocument" | "event";
  /** JSON pointer of the list (of the event itself for a bare event). */
  pointer: string;
  events: unknown[];
  /** The `@context` the events are read under (a bare event's own context applies to itself). */
  context: unknown;
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

export function eventListOf(doc: unknown): EventList {
  if (!isObject(doc)) return { kind: "EPCISDocument", pointer: "/epcisBody/eventList", events: [], context: undefined };
  const body = isObject(doc.epcisBody) ? doc.epcisBody : undefined;
  if (doc.type === "EPCISQueryDocument") {
    const results = isObject(body?.queryResults) ? body.queryResults.resultsBody : undefined;
    const list = isObject(results) ? results.eventList : undefined;
    return {
      kind: "EPCISQueryDocument",
      pointer: "/epcisBody/queryResults/resultsBody/eventList",
      events: Array.isArray(list) ? list : [],
      context: doc["@context"],
    };
  }
  if (doc.type === "EPCISDocument" || body !== undefined) {
    return {
      kind: "EPCISDocument",
      pointer: "/epcisBody/eventList",
      events: Array.isArray(body?.eventList) ? body.eventList : [],
      context: doc["@context"],
    };
  }
  return { kind: "event", pointer: "", events: [doc], context: undefined };
}

/** The event index and the pointer inside the event, for a pointer into the document. */
export function locateInDocument(list: EventList, pointer: string): { eventIndex: number | null; inner: string } {
  if (list.kind === "event") return { eventIndex: 0, inner: pointer };
  const prefix = `${list.pointer}/`;
  if (pointer.startsWith(prefix)) {
    const rest = pointer.slice(prefix.length);
    const slash = rest.indexOf("/");
    const index = Number(slash < 0 ? rest : rest.slice(0, slash));
    if (Number.isInteger(index)) return { eventIndex: index, inner: slash < 0 ? "" : rest.slice(slash) };
  }
  return { eventIndex: null, inner: pointer };
}

/** `/quantityList/0/quantity` → `quantityList[0].quantity`. */
export function fieldName(pointer: string): string {
  let out = "";
  for (const raw of pointer.split("/").slice(1)) {
    const segment = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (/^\d+$/.test(segment)) out += `[${segment}]`;
    else out += out ? `.${segment}` : segment;
  }
  return out;
}

export function pointerSegment(key: string | number): string {
  return `/${String(key).replace(/~/g, "~0").replace(/\//g, "~1")}`;
}

/** The value a JSON pointer names, or undefined. */
export function valueAt(doc: unknown, pointer: string): unknown {
  let value: unknown = doc;
  for (const raw of pointer.split("/").slice(1)) {
    const key = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (Array.isArray(value)) value = value[Number(key)];
    else if (isObject(value)) value = value[key];
    else return undefined;
  }
  return value;
}
