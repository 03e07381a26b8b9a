import fs from "node:fs";
import path from "node:path";

/**
 * JSON-LD contexts of EPCIS 2.0 documents, resolved from the copy of the GS1 context shipped in
 * `schema/epcis-context.jsonld` (GS1 terms, see `schema/NOTICE`). Nothing is ever fetched: another
 * context URL a document names stays unresolved, and capture refuses the document only if it uses a
 * prefix that context would have had to define (see validate.ts).
 */

/** The URL EPCIS 2.0 documents name the GS1 context by; Lotline's own documents use it. */
export const EPCIS_CONTEXT_URL = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld";

/**
 * URLs that resolve to the shipped copy: the versioned and unversioned ref.gs1.org URLs, and the
 * gs1.github.io URL the REST binding's own examples use.
 */
export const EPCIS_CONTEXT_URLS: readonly string[] = [
  EPCIS_CONTEXT_URL,
  "https://ref.gs1.org/standards/epcis/epcis-context.jsonld",
  "https://gs1.github.io/EPCIS/epcis-context.jsonld",
];

const SHIPPED_CONTEXT_FILE = path.join(__dirname, "schema", "epcis-context.jsonld");
let shipped: Record<string, unknown> | null = null;

/** The term definitions of the GS1 EPCIS 2.0 context (the object under its `@context`), read once. */
export function shippedContext(): Record<string, unknown> {
  shipped ??= (JSON.parse(fs.readFileSync(SHIPPED_CONTEXT_FILE, "utf8")) as { "@context": Record<string, unknown> })["@context"];
  return shipped;
}

/** Any published EPCIS 2.0.x version of the context (2.0.0, 2.0.1, …), all served by the shipped copy. */
const VERSIONED_CONTEXT = /^https:\/\/ref\.gs1\.org\/standards\/epcis\/2\.0\.\d{1,3}\/epcis-context\.jsonld$/;

export function isEpcisContextUrl(url: string): boolean {
  const trimmed = url.trim();
  return EPCIS_CONTEXT_URLS.includes(trimmed) || VERSIONED_CONTEXT.test(trimmed);
}

/** The context URLs named in a `@context` value (a string, an object, or a list of them). */
export function contextUrls(context: unknown): string[] {
  if (typeof context === "string") return [context];
  if (Array.isArray(context)) return context.flatMap((entry) => (typeof entry === "string" ? [entry] : []));
  return [];
}

/** The context URLs of a `@context` that cannot be resolved here (anything but the EPCIS context). */
export function unresolvableContexts(context: unknown): string[] {
  return contextUrls(context).filter((url) => !isEpcisContextUrl(url));
}

/** A document's context must include the EPCIS context: its terms are what the document is written in. */
export function namesEpcisContext(context: unknown): boolean {
  return contextUrls(context).some(isEpcisContextUrl);
}
