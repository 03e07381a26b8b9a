/**
 * JSON-LD namespace resolution for EPCIS 2.0 documents, enough for the event hash ID: the prefixes of the
 * GS1 EPCIS 2.0 context (embedded: never fetched) plus the prefixes, terms and `@vocab` that a document
 * or an event declares in its own `@context`. Remote contexts other than the EPCIS one cannot be resolved
 * (no network) and are ignored.
 *
 * The prefixes below are those of the GS1 EPCIS 2.0 JSON-LD context (gs1/EPCIS, `epcis-context.jsonld`,
 * © GS1 AISBL, provided "as is" under the GS1 IP policy); the context is `@protected`, so a document
 * cannot redefine them.
 */

export const EPCIS_PREFIXES: Readonly<Record<string, string>> = {
  epcis: "https://ref.gs1.org/epcis/",
  cbv: "https://ref.gs1.org/cbv/",
  cbvmda: "urn:epcglobal:cbv:mda:",
  gs1: "https://gs1.org/voc/",
  rdfs: "http://www.w3.org/2000/01/rdf-schema#",
  owl: "http://www.w3.org/2002/07/owl#",
  xsd: "http://www.w3.org/2001/XMLSchema#",
  dcterms: "http://purl.org/dc/terms/",
};

export interface Namespaces {
  /** Prefix or term → IRI. */
  readonly terms: ReadonlyMap<string, string>;
  /** The active `@vocab`, if any. */
  readonly vocab?: string;
}

export interface QName {
  namespace: string;
  localName: string;
}

const ABSOLUTE = /^[A-Za-z][A-Za-z0-9+.-]*:/;

function expandWith(terms: Map<string, string>, value: string): string {
  const colon = value.indexOf(":");
  if (colon > 0 && !value.startsWith("//", colon + 1)) {
    const prefix = value.slice(0, colon);
    const iri = terms.get(prefix);
    if (iri !== undefined) return iri + value.slice(colon + 1);
  }
  return terms.get(value) ?? value;
}

/** Build the namespaces in force from a `@context` (string, object or array of them), on top of `base`. */
export function namespacesFrom(context: unknown, base?: Namespaces): Namespaces {
  const terms = new Map<string, string>(base ? base.terms : Object.entries(EPCIS_PREFIXES));
  let vocab = base?.vocab;
  const entries = Array.isArray(context) ? context : context === undefined || context === null ? [] : [context];
  for (const entry of entries) {
    if (Array.isArray(entry)) {
      const nested = namespacesFrom(entry, { terms, vocab });
      for (const [k, v] of nested.terms) terms.set(k, v);
      vocab = nested.vocab;
      continue;
    }
    if (entry === null || typeof entry !== "object") continue; // remote context URL (or null): not fetched
    for (const [key, def] of Object.entries(entry as Record<string, unknown>)) {
      if (key === "@vocab") {
        if (typeof def === "string") vocab = expandWith(terms, def);
        else if (def === null) vocab = undefined;
        continue;
      }
      if (key.startsWith("@")) continue;
      if (Object.prototype.hasOwnProperty.call(EPCIS_PREFIXES, key)) continue; // @protected in the EPCIS context
      if (def === null) {
        // JSON-LD: a term set to null is decoupled from any IRI (a context that undoes an outer one's).
        terms.delete(key);
        continue;
      }
      let iri: string | undefined;
      if (typeof def === "string") iri = def;
      else if (def && typeof def === "object" && typeof (def as Record<string, unknown>)["@id"] === "string") {
        iri = (def as Record<string, string>)["@id"];
      }
      if (iri === undefined || iri.startsWith("@")) continue;
      terms.set(key, expandWith(terms, iri));
    }
  }
  return { terms, vocab };
}

/** Expand a compact IRI (`gs1:Temperature`, `example:x`) with the known prefixes; other values unchanged. */
export function expandCompactIri(ns: Namespaces, value: string): string {
  const colon = value.indexOf(":");
  if (colon <= 0 || value.startsWith("//", colon + 1)) return value;
  const iri = ns.terms.get(value.slice(0, colon));
  return iri === undefined ? value : iri + value.slice(colon + 1);
}

function splitIri(iri: string): QName {
  const cut = Math.max(iri.lastIndexOf("#"), iri.lastIndexOf("/"));
  const at = cut >= 0 ? cut : iri.lastIndexOf(":");
  return { namespace: iri.slice(0, at + 1), localName: iri.slice(at + 1) };
}

/**
 * The `{namespace}localName` of a JSON key that is not an EPCIS field: `prefix:local` with a known prefix,
 * an absolute IRI, a term of the document's context, or (with `@vocab`) a bare name. A bare key inside an
 * extension element inherits its parent's namespace (`inherit`). `undefined` when nothing resolves it.
 */
export function resolveKey(ns: Namespaces, key: string, inherit?: string): QName | undefined {
  const colon = key.indexOf(":");
  if (colon > 0) {
    const prefix = key.slice(0, colon);
    const iri = ns.terms.get(prefix);
    if (iri !== undefined && !key.startsWith("//", colon + 1)) return { namespace: iri, localName: key.slice(colon + 1) };
    if (ABSOLUTE.test(key)) return splitIri(key);
  }
  const term = ns.terms.get(key);
  if (term !== undefined) return splitIri(term);
  if (inherit !== undefined) return { namespace: inherit, localName: key };
  if (ns.vocab !== undefined) return { namespace: ns.vocab, localName: key };
  return undefined;
}
