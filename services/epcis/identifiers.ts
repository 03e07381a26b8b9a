import { epcUriToDigitalLink, normaliseIdentifier, type EpcisEvent, type Namespaces } from "./hash";
import { isObject } from "./document";
import { expandCompactIri } from "./hash/context";

/**
 * EPC URNs and GS1 Digital Link URIs name the same things: `urn:epc:id:sgtin:4012345.011111.987`
 * is `https://id.gs1.org/01/04012345111118/21/987`, and so is the same Digital Link on a brand's own
 * resolver. Lotline indexes every identifier in its canonical Digital Link form (the form the CBV 2.0
 * event hash uses) and converts output between the forms as the `GS1-EPC-Format` header asks.
 */

/** The canonical form an identifier is indexed and matched under; non-GS1 identifiers unchanged. */
export function canonicalId(value: string, ns?: Namespaces): string {
  const v = value.trim();
  return normaliseIdentifier(ns ? expandCompactIri(ns, v) : v);
}

/** How a query value matches indexed identifiers: exactly, or (EPC patterns) by SQL LIKE. */
export type IdMatcher = { exact: string } | { like: string };

function likeEscape(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/**
 * A MATCH_ parameter value: an identifier (URN or Digital Link, matched as the same identifier) or an
 * EPC pattern. `urn:epc:idpat:sgtin:4012345.011111.*` matches every serial and lot of that GTIN (and
 * the GTIN class itself); `urn:epc:idpat:sgtin:4012345.*.*` every GTIN under the company prefix.
 */
export function idMatcher(value: string): IdMatcher {
  const v = value.trim();
  const pattern = /^urn:epc:idpat:([a-z]+):(.*)$/i.exec(v);
  if (pattern) {
    const [scheme, body] = [pattern[1].toLowerCase(), pattern[2]];
    const parts = body.split(".");
    if (parts.at(-1) === "*" && parts.at(-2) !== "*") {
      const keyOnly = epcUriToDigitalLink(v);
      if (keyOnly) return { like: `${likeEscape(keyOnly)}%` };
    }
    // Company-wide: every key under the prefix, whatever its indicator / extension digit.
    const cp = parts[0];
    if (/^\d{4,12}$/.test(cp) && parts.slice(1).every((p) => p === "*")) {
      const base = "https://id.gs1.org";
      if (scheme === "sgtin") return { like: `${base}/01/_${cp}%` };
      if (scheme === "sscc") return { like: `${base}/00/_${cp}%` };
      if (scheme === "sgln") return { like: `${base}/414/${cp}%` };
      if (scheme === "grai") return { like: `${base}/8003/0${cp}%` };
      if (scheme === "gdti") return { like: `${base}/253/${cp}%` };
    }
    return { exact: v };
  }
  return { exact: canonicalId(v) };
}

// ------------------------------------------------------------------ Digital Link → EPC URN

/** Finds the GS1 company prefix a key starts with (at `offset`), or undefined when none is known. */
export type PrefixLookup = (digits: string, offset: number) => string | undefined;

/** A lookup over a set of known company prefixes (4 to 12 digits). */
export function prefixLookup(prefixes: Iterable<string>): PrefixLookup {
  const known = new Set(prefixes);
  return (digits, offset) => {
    for (let length = 12; length >= 4; length--) {
      const candidate = digits.slice(offset, offset + length);
      if (candidate.length === length && known.has(candidate)) return candidate;
    }
    return undefined;
  };
}

/** The company prefix of an EPC URN (the first component of its body), for learning prefixes. */
export function companyPrefixOfUrn(urn: string): string | undefined {
  const m = /^urn:epc:(?:id|class|idpat):[a-z]+:(\d{4,12})\./i.exec(urn.trim());
  return m?.[1];
}

/** URN component escaping (EPC Tag Data Standard): `"`, `%`, `&`, `/`, `<`, `>`, `?` and `#`. */
function urnEscape(value: string): string {
  let out = "";
  for (const ch of value) {
    if (/[A-Za-z0-9\-._:;=!'()*+,]/.test(ch)) out += ch;
    else for (const byte of Buffer.from(ch, "utf8")) out += `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

function pairsOf(canonical: string): [string, string][] | undefined {
  const m = /^https:\/\/id\.gs1\.org((?:\/[^/]+\/[^/]+)+)$/.exec(canonical);
  if (!m) return undefined;
  const segments = m[1].split("/").slice(1);
  const pairs: [string, string][] = [];
  for (let i = 0; i < segments.length; i += 2) {
    try {
      pairs.push([segments[i], decodeURIComponent(segments[i + 1])]);
    } catch {
      return undefined;
    }
  }
  return pairs;
}

/**
 * A Digital Link (any domain) → its EPC URN, when the company prefix is known (a Digital Link does
 * not say where the company prefix ends; the URN does). Undefined when it cannot be converted.
 */
export function digitalLinkToEpcUrn(uri: string, gcp: PrefixLookup): string | undefined {
  const canonical = normaliseIdentifier(uri);
  const pairs = pairsOf(canonical);
  if (!pairs) return undefined;
  const [[ai, key], qualifier] = pairs;
  const [qai, qv] = qualifier ?? [undefined, undefined];
  let urn: string | undefined;
  const cpAt = (offset: number) => gcp(key, offset);
  switch (ai) {
    case "01": {
      const cp = cpAt(1);
      if (!cp) return undefined;
      const ref = key[0] + key.slice(1 + cp.length, 13);
      if (qai === "21") urn = `urn:epc:id:sgtin:${cp}.${ref}.${urnEscape(qv!)}`;
      else if (qai === "10") urn = `urn:epc:class:lgtin:${cp}.${ref}.${urnEscape(qv!)}`;
      else if (qai === "235") urn = `urn:epc:id:upui:${cp}.${ref}.${urnEscape(qv!)}`;
      else if (!qai) urn = `urn:epc:idpat:sgtin:${cp}.${ref}.*`;
      break;
    }
    case "00": {
      const cp = cpAt(1);
      if (cp) urn = `urn:epc:id:sscc:${cp}.${key[0]}${key.slice(1 + cp.length, 17)}`;
      break;
    }
    case "414": {
      const cp = cpAt(0);
      if (cp) urn = `urn:epc:id:sgln:${cp}.${key.slice(cp.length, 12)}.${qai === "254" ? urnEscape(qv!) : "0"}`;
      break;
    }
    case "417": {
      const cp = cpAt(0);
      if (cp) urn = `urn:epc:id:pgln:${cp}.${key.slice(cp.length, 12)}`;
      break;
    }
    case "8003": {
      const cp = cpAt(1);
      if (!cp) break;
      const [assetType, serial] = [key.slice(1 + cp.length, 13), key.slice(14)];
      urn = serial ? `urn:epc:id:grai:${cp}.${assetType}.${urnEscape(serial)}` : `urn:epc:idpat:grai:${cp}.${assetType}.*`;
      break;
    }
    case "8004": {
      const cp = cpAt(0);
      if (cp) urn = `urn:epc:id:giai:${cp}.${urnEscape(key.slice(cp.length))}`;
      break;
    }
    case "8017":
    case "8018": {
      const cp = cpAt(0);
      if (cp) urn = `urn:epc:id:${ai === "8018" ? "gsrn" : "gsrnp"}:${cp}.${key.slice(cp.length, 17)}`;
      break;
    }
    case "253":
    case "255": {
      const cp = cpAt(0);
      const scheme = ai === "253" ? "gdti" : "sgcn";
      const serial = key.slice(13);
      if (cp)
        urn = serial
          ? `urn:epc:id:${scheme}:${cp}.${key.slice(cp.length, 12)}.${urnEscape(serial)}`
          : `urn:epc:idpat:${scheme}:${cp}.${key.slice(cp.length, 12)}.*`;
      break;
    }
    case "402": {
      const cp = cpAt(0);
      if (cp) urn = `urn:epc:id:gsin:${cp}.${key.slice(cp.length, 16)}`;
      break;
    }
    case "401": {
      const cp = cpAt(0);
      if (cp) urn = `urn:epc:id:ginc:${cp}.${urnEscape(key.slice(cp.length))}`;
      break;
    }
    case "8006": {
      const cp = cpAt(1);
      if (cp && qai === "21") {
        urn = `urn:epc:id:itip:${cp}.${key[0]}${key.slice(1 + cp.length, 13)}.${key.slice(14, 16)}.${key.slice(16, 18)}.${urnEscape(qv!)}`;
      }
      break;
    }
    case "8010": {
      const cp = cpAt(0);
      if (cp && qai === "8011") urn = `urn:epc:id:cpi:${cp}.${urnEscape(key.slice(cp.length))}.${urnEscape(qv!)}`;
      break;
    }
  }
  // Only a conversion that converts back to the same identifier is a conversion.
  return urn && epcUriToDigitalLink(urn) === canonical ? urn : undefined;
}

// ------------------------------------------------------------------ GS1-EPC-Format

export const EPC_FORMATS = ["No_Preference", "Always_GS1_Digital_Link", "Always_EPC_URN", "Never_Translates"] as const;
export type EpcFormat = (typeof EPC_FORMATS)[number];

/** Every identifier-valued field of an event: [value, set(new value)]. */
function* identifierSlots(event: EpcisEvent): Generator<[string, (v: string) => void]> {
  for (const list of ["epcList", "childEPCs", "inputEPCList", "outputEPCList"]) {
    const items = event[list];
    if (Array.isArray(items)) {
      for (const [i, v] of items.entries()) if (typeof v === "string") yield [v, (n) => (items[i] = n)];
    }
  }
  if (typeof event.parentID === "string") yield [event.parentID, (n) => (event.parentID = n)];
  for (const list of ["quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList"]) {
    const items = event[list];
    if (!Array.isArray(items)) continue;
    for (const q of items) if (isObject(q) && typeof q.epcClass === "string") yield [q.epcClass, (n) => (q.epcClass = n)];
  }
  for (const where of ["readPoint", "bizLocation"]) {
    const place = event[where];
    if (isObject(place) && typeof place.id === "string") yield [place.id, (n) => (place.id = n)];
  }
  for (const [list, key] of [
    ["sourceList", "source"],
    ["destinationList", "destination"],
  ]) {
    const items = event[list];
    if (!Array.isArray(items)) continue;
    for (const s of items) if (isObject(s) && typeof s[key] === "string") yield [s[key] as string, (n) => (s[key] = n)];
  }
}

/**
 * The event with its identifiers in the requested form (a copy; the argument is not changed).
 * Identifiers that cannot be converted (non-GS1 URIs, an unknown company prefix) stay as captured.
 */
export function withEpcFormat(event: EpcisEvent, format: EpcFormat, gcp: PrefixLookup): EpcisEvent {
  if (format === "Never_Translates" || format === "No_Preference") return event;
  const copy = structuredClone(event);
  for (const [value, set] of identifierSlots(copy)) {
    if (format === "Always_GS1_Digital_Link" && /^urn:epc:/i.test(value)) {
      set(epcUriToDigitalLink(value) ?? value);
    } else if (format === "Always_EPC_URN" && /^https?:\/\//i.test(value)) {
      set(digitalLinkToEpcUrn(value, gcp) ?? value);
    }
  }
  return copy;
}

/** The identifiers of an event by role, as captured and in canonical form (for the index). */
export interface IdentifierRow {
  role: string;
  id: string;
  raw: string;
  quantity: number | null;
  uom: string | null;
}

export function identifierRows(event: EpcisEvent, ns: Namespaces): IdentifierRow[] {
  const rows: IdentifierRow[] = [];
  const add = (role: string, raw: unknown, quantity: unknown = null, uom: unknown = null) => {
    if (typeof raw !== "string" || raw.trim() === "") return;
    rows.push({
      role,
      id: canonicalId(raw, ns),
      raw,
      quantity: typeof quantity === "number" ? quantity : null,
      uom: typeof uom === "string" ? uom : null,
    });
  };
  const lists: [string, string][] = [
    ["epcList", "epc"],
    ["childEPCs", "child"],
    ["inputEPCList", "input"],
    ["outputEPCList", "output"],
  ];
  for (const [list, role] of lists) for (const v of Array.isArray(event[list]) ? (event[list] as unknown[]) : []) add(role, v);
  add("parent", event.parentID);
  const quantities: [string, string][] = [
    ["quantityList", "epcClass"],
    ["childQuantityList", "childEPCClass"],
    ["inputQuantityList", "inputEPCClass"],
    ["outputQuantityList", "outputEPCClass"],
  ];
  for (const [list, role] of quantities) {
    for (const q of Array.isArray(event[list]) ? (event[list] as unknown[]) : [])
      if (isObject(q)) add(role, q.epcClass, q.quantity, q.uom);
  }
  for (const s of Array.isArray(event.sourceList) ? event.sourceList : []) if (isObject(s)) add("source", s.source);
  for (const d of Array.isArray(event.destinationList) ? event.destinationList : [])
    if (isObject(d)) add("destination", d.destination);
  return rows;
}
