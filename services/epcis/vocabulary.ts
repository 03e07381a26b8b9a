import { cbvUrnToWebUri, namespacesFrom, type Namespaces } from "./hash";
import { expandCompactIri } from "./hash/context";
import { shippedContext } from "./context";

/**
 * The CBV 2.0 and GS1 vocabularies of EPCIS fields, read from the shipped GS1 context (which maps
 * each bare term, e.g. `shipping`, to its web URI, `cbv:BizStep-shipping`). A value can be written
 * as the bare term, the CBV 1.x URN (`urn:epcglobal:cbv:bizstep:shipping`), the compact IRI
 * (`cbv:BizStep-shipping`) or the web URI; `canonicalTerm` turns all four into the web URI, which is
 * what Lotline indexes and matches queries against.
 */
export type VocabularyKind =
  | "bizStep"
  | "disposition"
  | "bizTransactionType"
  | "sourceDestType"
  | "errorReason"
  | "measurementType"
  | "sensorAlertType"
  | "component";

interface Vocabulary {
  label: string;
  /** The namespace (with the CBV type prefix) every term of this vocabulary lives in. */
  namespace: string;
  /** Bare term → web URI. */
  terms: ReadonlyMap<string, string>;
  /** The web URIs, for membership. */
  uris: ReadonlySet<string>;
}

const CBV = "https://ref.gs1.org/cbv/";
const GS1_VOC = "https://gs1.org/voc/";

/** Where each vocabulary's scoped term map sits in the shipped context, and how it is named. */
const LOCATIONS: Record<VocabularyKind, { path: string[]; label: string; namespace: string }> = {
  bizStep: { path: ["bizStep"], label: "CBV business step", namespace: `${CBV}BizStep-` },
  disposition: { path: ["disposition"], label: "CBV disposition", namespace: `${CBV}Disp-` },
  bizTransactionType: { path: ["bizTransactionList", "type"], label: "CBV business transaction type", namespace: `${CBV}BTT-` },
  sourceDestType: { path: ["sourceList", "type"], label: "CBV source/destination type", namespace: `${CBV}SDT-` },
  errorReason: { path: ["errorDeclaration", "reason"], label: "CBV error reason", namespace: `${CBV}ER-` },
  measurementType: { path: ["sensorElementList", "sensorReport", "type"], label: "GS1 measurement type", namespace: GS1_VOC },
  sensorAlertType: {
    path: ["sensorElementList", "sensorReport", "exception"],
    label: "GS1 sensor alert type",
    namespace: GS1_VOC,
  },
  component: { path: ["sensorElementList", "sensorReport", "component"], label: "CBV component", namespace: `${CBV}Comp-` },
};

let vocabularies: Record<VocabularyKind, Vocabulary> | null = null;

function scoped(definition: unknown): Record<string, unknown> {
  const context = (definition as { "@context"?: unknown } | undefined)?.["@context"];
  // persistentDisposition's scoped context is a list; the others are objects.
  const first = Array.isArray(context) ? context[0] : context;
  if (!first || typeof first !== "object") throw new Error("the shipped EPCIS context has an unexpected shape");
  return first as Record<string, unknown>;
}

function load(): Record<VocabularyKind, Vocabulary> {
  const root = shippedContext();
  const ns = namespacesFrom(undefined);
  const out = {} as Record<VocabularyKind, Vocabulary>;
  for (const [kind, where] of Object.entries(LOCATIONS) as [VocabularyKind, (typeof LOCATIONS)[VocabularyKind]][]) {
    let definitions: Record<string, unknown> = root;
    for (const key of where.path) definitions = scoped(definitions[key]);
    const terms = new Map<string, string>();
    for (const [term, iri] of Object.entries(definitions)) {
      if (term.startsWith("@") || typeof iri !== "string") continue;
      const uri = expandCompactIri(ns, iri);
      if (uri.startsWith(where.namespace)) terms.set(term, uri);
    }
    if (terms.size === 0) throw new Error(`the shipped EPCIS context defines no ${where.label}s`);
    out[kind] = { label: where.label, namespace: where.namespace, terms, uris: new Set(terms.values()) };
  }
  return out;
}

function vocabulary(kind: VocabularyKind): Vocabulary {
  vocabularies ??= load();
  return vocabularies[kind];
}

const DEFAULT_NAMESPACES = namespacesFrom(undefined);

/** The web URI of a vocabulary value (bare term, CBV URN, compact IRI or URI); other URIs unchanged. */
export function canonicalTerm(kind: VocabularyKind, value: string, ns: Namespaces = DEFAULT_NAMESPACES): string {
  const v = value.trim();
  const term = vocabulary(kind).terms.get(v);
  if (term) return term;
  if (/^urn:epcglobal:cbv:/i.test(v)) return cbvUrnToWebUri(v) ?? v;
  return expandCompactIri(ns, v);
}

/** The bare terms of a vocabulary, in the context's order. */
export function vocabularyTerms(kind: VocabularyKind): string[] {
  return [...vocabulary(kind).terms.keys()];
}

/** The bare term of a web URI of this vocabulary, or null when it is not one of its terms. */
export function bareTerm(kind: VocabularyKind, uri: string): string | null {
  for (const [term, iri] of vocabulary(kind).terms) if (iri === uri) return term;
  return null;
}

/**
 * Why a value the JSON Schema let through is still not acceptable, or null: the schema accepts any
 * URI outside the `urn:epcglobal:cbv` namespace, so a misspelt CBV web URI (`cbv:BizStep-shiping`),
 * a term of the wrong vocabulary (`cbv:Disp-in_transit` as a business step) or an unknown GS1
 * measurement type (`gs1:Molar_concentration`) would pass it. Values outside the CBV type
 * namespaces (a company's own URIs, `cbv:my_own_party`) are the user's business.
 */
export function termProblem(kind: VocabularyKind, value: string, ns: Namespaces): string | null {
  const vocab = vocabulary(kind);
  const uri = canonicalTerm(kind, value, ns);
  if (uri.startsWith(vocab.namespace)) {
    return vocab.uris.has(uri) ? null : `${JSON.stringify(value)} is not a ${vocab.label}`;
  }
  if (!uri.startsWith(CBV)) return null;
  for (const other of Object.values(vocabularies!)) {
    if (other !== vocab && other.namespace.startsWith(CBV) && uri.startsWith(other.namespace)) {
      return `${JSON.stringify(value)} is a ${other.label}, not a ${vocab.label}`;
    }
  }
  return null;
}

export function vocabularyLabel(kind: VocabularyKind): string {
  return vocabulary(kind).label;
}
