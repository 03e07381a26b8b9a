/**
 * GS1 identifiers in their canonical GS1 Digital Link form, as the CBV 2.0 event hash ID needs them:
 *
 * - EPC pure-identity URNs (`urn:epc:id:…`), EPC class URNs (`urn:epc:class:lgtin:…`), EPC ID patterns
 *   whose only wildcard is the last component (`urn:epc:idpat:sgtin:4012345.011111.*`) and EPC tag URIs
 *   (`urn:epc:tag:sgtin-96:3.…`) → `https://id.gs1.org/{AI}/{value}[/{qualifier AI}/{value}]`, following
 *   the EPC Tag Data Standard URI ↔ GS1 element string mapping (check digits computed, GTIN-14, …);
 * - GS1 Digital Link URIs on any domain, with numeric AIs or short names (`/gtin/…`), any path prefix,
 *   GTIN-8/12/13 → moved to `https://id.gs1.org`, query string and fragment dropped, and only the finest
 *   key + key qualifier kept (00, 01, 01+21, 01+235, 01+10, 253, 255, 401, 402, 414, 414+254, 417, 8003,
 *   8004, 8006, 8006+21, 8006+10, 8010, 8010+8011, 8013, 8017, 8018).
 *
 * Values are percent-decoded (URN escapes / URI escapes) and re-encoded the way the CBV 2.0 reference
 * vectors do: every character outside `A–Z a–z 0–9 - . _ ~ '` is percent-encoded (upper-case hex, UTF-8).
 *
 * Anything that is not a GS1 key (e.g. `urn:epc:id:gid:…`, `urn:epc:id:bic:…`, a plain web URL, `geo:…`)
 * is left as it is: the functions return `undefined` for it.
 */

export const CANONICAL_DL_ORIGIN = "https://id.gs1.org";

/** GS1 mod-10 check digit over a string of digits (weights 3,1,3,… from the right). */
export function gs1CheckDigit(digits: string): string {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    const d = digits.charCodeAt(digits.length - 1 - i) - 48;
    sum += i % 2 === 0 ? d * 3 : d;
  }
  return String((10 - (sum % 10)) % 10);
}

const SAFE = /[A-Za-z0-9\-._~']/;

/** Percent-encode a (decoded) AI value for a Digital Link path segment. */
export function dlEncode(value: string): string {
  let out = "";
  for (const ch of value) {
    if (SAFE.test(ch)) {
      out += ch;
    } else {
      for (const byte of Buffer.from(ch, "utf8")) out += "%" + byte.toString(16).toUpperCase().padStart(2, "0");
    }
  }
  return out;
}

/** Percent-decode; `undefined` when the escapes are malformed. */
function pctDecode(value: string): string | undefined {
  try {
    return decodeURIComponent(value);
  } catch {
    return undefined;
  }
}

const DIGITS = /^\d*$/;

function isDigits(s: string, length?: number): boolean {
  return DIGITS.test(s) && (length === undefined || s.length === length);
}

/** Company prefix + reference → digits with check digit (the prefix and reference must total `length`). */
function keyWithCheck(cp: string, ref: string, length: number): string | undefined {
  const body = cp + ref;
  if (!isDigits(cp) || !isDigits(ref) || cp.length === 0 || body.length !== length) return undefined;
  return body + gs1CheckDigit(body);
}

/** EPC `CompanyPrefix.IndicatorItemRef` → GTIN-14. */
function gtin14(cp: string, indItemRef: string): string | undefined {
  if (!isDigits(cp) || !isDigits(indItemRef) || cp.length === 0 || indItemRef.length === 0) return undefined;
  if (cp.length + indItemRef.length !== 13) return undefined;
  const body = indItemRef[0] + cp + indItemRef.slice(1);
  return body + gs1CheckDigit(body);
}

type Pair = [ai: string, value: string];

function build(pairs: Pair[]): string {
  return CANONICAL_DL_ORIGIN + pairs.map(([ai, v]) => `/${ai}/${dlEncode(v)}`).join("");
}

/**
 * Split the EPC body into `fixed` components and the remainder (which may itself contain dots: serials
 * may use `.` from the GS1 character set).
 */
function components(body: string, fixed: number): string[] | undefined {
  const parts = body.split(".");
  if (parts.length < fixed + 1) return undefined;
  return [...parts.slice(0, fixed), parts.slice(fixed).join(".")];
}

/** Decoded URN component; `undefined` for malformed escapes. */
function urnValue(component: string): string | undefined {
  return pctDecode(component);
}

/** Key element strings for one EPC scheme (pure identity or class); `undefined` when it is not one. */
function epcToPairs(scheme: string, body: string, pattern: boolean): Pair[] | undefined {
  // In an ID pattern only the last component may be `*`, which leaves the key without its serial.
  const wild = (v: string) => pattern && v === "*";
  switch (scheme) {
    case "sgtin": {
      const c = components(body, 2);
      if (!c) return undefined;
      const gtin = gtin14(c[0], c[1]);
      if (!gtin) return undefined;
      if (wild(c[2])) return [["01", gtin]];
      const serial = urnValue(c[2]);
      return serial === undefined || pattern
        ? undefined
        : [
            ["01", gtin],
            ["21", serial],
          ];
    }
    case "lgtin": {
      const c = components(body, 2);
      if (!c) return undefined;
      const gtin = gtin14(c[0], c[1]);
      if (!gtin) return undefined;
      if (wild(c[2])) return [["01", gtin]];
      const lot = urnValue(c[2]);
      return lot === undefined || pattern
        ? undefined
        : [
            ["01", gtin],
            ["10", lot],
          ];
    }
    case "upui": {
      const c = components(body, 2);
      if (!c) return undefined;
      const gtin = gtin14(c[0], c[1]);
      if (!gtin) return undefined;
      if (wild(c[2])) return [["01", gtin]];
      const tpx = urnValue(c[2]);
      return tpx === undefined || pattern
        ? undefined
        : [
            ["01", gtin],
            ["235", tpx],
          ];
    }
    case "sscc": {
      const c = body.split(".");
      if (c.length !== 2 || pattern) return undefined;
      const [cp, serialRef] = c;
      if (!isDigits(cp) || !isDigits(serialRef) || serialRef.length === 0 || cp.length + serialRef.length !== 17)
        return undefined;
      const b = serialRef[0] + cp + serialRef.slice(1);
      return [["00", b + gs1CheckDigit(b)]];
    }
    case "sgln": {
      const c = components(body, 2);
      if (!c) return undefined;
      const gln = keyWithCheck(c[0], c[1], 12);
      if (!gln) return undefined;
      if (wild(c[2])) return [["414", gln]];
      const ext = urnValue(c[2]);
      if (ext === undefined || pattern) return undefined;
      return ext === "0" || ext === ""
        ? [["414", gln]]
        : [
            ["414", gln],
            ["254", ext],
          ];
    }
    case "grai": {
      const c = components(body, 2);
      if (!c) return undefined;
      const grai = keyWithCheck(c[0], c[1], 12);
      if (!grai) return undefined;
      if (wild(c[2])) return [["8003", "0" + grai]];
      const serial = urnValue(c[2]);
      return serial === undefined || pattern ? undefined : [["8003", "0" + grai + serial]];
    }
    case "giai": {
      const c = components(body, 1);
      if (!c || !isDigits(c[0]) || c[0].length === 0 || pattern) return undefined;
      const ref = urnValue(c[1]);
      return ref === undefined ? undefined : [["8004", c[0] + ref]];
    }
    case "gsrn":
    case "gsrnp":
    case "gsin":
    case "pgln": {
      const c = body.split(".");
      if (c.length !== 2 || pattern) return undefined;
      const length = { gsrn: 17, gsrnp: 17, gsin: 16, pgln: 12 }[scheme];
      const key = keyWithCheck(c[0], c[1], length);
      if (!key) return undefined;
      const ai = { gsrn: "8018", gsrnp: "8017", gsin: "402", pgln: "417" }[scheme];
      return [[ai, key]];
    }
    case "gdti":
    case "sgcn": {
      const c = components(body, 2);
      if (!c) return undefined;
      const key = keyWithCheck(c[0], c[1], 12);
      if (!key) return undefined;
      const ai = scheme === "gdti" ? "253" : "255";
      if (wild(c[2])) return [[ai, key]];
      const serial = urnValue(c[2]);
      return serial === undefined || pattern ? undefined : [[ai, key + serial]];
    }
    case "cpi": {
      const c = components(body, 2);
      if (!c || !isDigits(c[0]) || c[0].length === 0) return undefined;
      const ref = urnValue(c[1]);
      if (ref === undefined) return undefined;
      if (wild(c[2])) return [["8010", c[0] + ref]];
      const serial = urnValue(c[2]);
      return serial === undefined || pattern
        ? undefined
        : [
            ["8010", c[0] + ref],
            ["8011", serial],
          ];
    }
    case "ginc": {
      const c = components(body, 1);
      if (!c || !isDigits(c[0]) || c[0].length === 0 || pattern) return undefined;
      const ref = urnValue(c[1]);
      return ref === undefined ? undefined : [["401", c[0] + ref]];
    }
    case "itip": {
      const c = components(body, 4);
      if (!c) return undefined;
      const gtin = gtin14(c[0], c[1]);
      if (!gtin || !isDigits(c[2], 2) || !isDigits(c[3], 2)) return undefined;
      const itip = gtin + c[2] + c[3];
      if (wild(c[4])) return [["8006", itip]];
      const serial = urnValue(c[4]);
      return serial === undefined || pattern
        ? undefined
        : [
            ["8006", itip],
            ["21", serial],
          ];
    }
    default:
      return undefined;
  }
}

/** Schemes of `urn:epc:id:` and `urn:epc:idpat:` that are GS1 keys. */
const ID_SCHEMES = new Set([
  "sgtin",
  "sscc",
  "sgln",
  "grai",
  "giai",
  "gsrn",
  "gsrnp",
  "gdti",
  "cpi",
  "sgcn",
  "ginc",
  "gsin",
  "itip",
  "upui",
  "pgln",
]);
/** Tag-URI schemes whose first component is a filter value. */
const TAG_WITH_FILTER = new Set(["sgtin", "sscc", "sgln", "grai", "giai", "gsrn", "gsrnp", "gdti", "cpi", "sgcn", "itip"]);

/**
 * EPC URN → canonical GS1 Digital Link URI, or `undefined` when the URN is not a convertible GS1 key
 * (other EPC schemes, company-wide patterns such as `urn:epc:idpat:sgtin:4012345.*.*`, malformed values).
 */
export function epcUriToDigitalLink(uri: string): string | undefined {
  const m = /^urn:epc:(id|class|idpat|tag):([A-Za-z0-9-]+):(.*)$/i.exec(uri.trim());
  if (!m) return undefined;
  const kind = m[1].toLowerCase();
  let scheme = m[2].toLowerCase();
  let body = m[3];
  let pairs: Pair[] | undefined;
  if (kind === "class") {
    if (scheme !== "lgtin") return undefined;
    pairs = epcToPairs(scheme, body, false);
  } else if (kind === "tag") {
    // urn:epc:tag:sgtin-96:3.0614141.812345.6789 — drop the bit length and the filter value.
    const t = /^([a-z]+)-(\d+|var)$/.exec(scheme);
    if (!t || !ID_SCHEMES.has(t[1])) return undefined;
    scheme = t[1];
    if (TAG_WITH_FILTER.has(scheme)) {
      const dot = body.indexOf(".");
      if (dot < 0) return undefined;
      body = body.slice(dot + 1);
    }
    pairs = epcToPairs(scheme, body, false);
  } else {
    if (!ID_SCHEMES.has(scheme)) return undefined;
    pairs = epcToPairs(scheme, body, kind === "idpat");
  }
  return pairs ? build(pairs) : undefined;
}

/** Digital Link short names (GS1 Digital Link 1.x) → AIs. */
const SHORT_NAMES: Record<string, string> = {
  sscc: "00",
  gtin: "01",
  gdti: "253",
  gcn: "255",
  ginc: "401",
  gsin: "402",
  gln: "414",
  party: "417",
  grai: "8003",
  giai: "8004",
  itip: "8006",
  cpid: "8010",
  gmn: "8013",
  gsrnp: "8017",
  gsrn: "8018",
  cpv: "22",
  lot: "10",
  ser: "21",
  glnx: "254",
  cpsn: "8011",
};

/** Primary keys: value syntax and the key qualifiers the Digital Link path may carry after them. */
const PRIMARY: Record<string, { value: RegExp; qualifiers: string[] }> = {
  "00": { value: /^\d{18}$/, qualifiers: [] },
  "01": { value: /^(\d{8}|\d{12}|\d{13}|\d{14})$/, qualifiers: ["22", "10", "21", "235"] },
  "253": { value: /^\d{13}.{0,17}$/u, qualifiers: [] },
  "255": { value: /^\d{13}\d{0,12}$/, qualifiers: [] },
  "401": { value: /^\d.{0,29}$/u, qualifiers: [] },
  "402": { value: /^\d{17}$/, qualifiers: [] },
  "414": { value: /^\d{13}$/, qualifiers: ["254"] },
  "417": { value: /^\d{13}$/, qualifiers: [] },
  "8003": { value: /^\d{14}.{0,16}$/u, qualifiers: [] },
  "8004": { value: /^\d.{0,29}$/u, qualifiers: ["7040"] },
  "8006": { value: /^\d{18}$/, qualifiers: ["22", "10", "21"] },
  "8010": { value: /^\d.{0,29}$/u, qualifiers: ["8011"] },
  "8013": { value: /^\d.{0,24}$/u, qualifiers: [] },
  "8017": { value: /^\d{18}$/, qualifiers: [] },
  "8018": { value: /^\d{18}$/, qualifiers: [] },
};

/** The finest key + qualifier combination kept in the canonical form, in order of preference. */
const FINEST: Record<string, string[]> = {
  "01": ["21", "235", "10"],
  "8006": ["21", "10"],
  "414": ["254"],
  "8010": ["8011"],
};

function toAi(segment: string): string {
  return SHORT_NAMES[segment] ?? segment;
}

function parseKeyPath(segments: string[]): Pair[] | undefined {
  if (segments.length < 2 || segments.length % 2 !== 0) return undefined;
  const primary = toAi(segments[0]);
  const spec = PRIMARY[primary];
  if (!spec) return undefined;
  const values = new Map<string, string>();
  for (let i = 0; i < segments.length; i += 2) {
    const ai = toAi(segments[i]);
    if (i > 0 && (!spec.qualifiers.includes(ai) || values.has(ai))) return undefined;
    const value = pctDecode(segments[i + 1]);
    if (value === undefined || value.length === 0) return undefined;
    values.set(ai, value);
  }
  let key = values.get(primary)!;
  if (!spec.value.test(key)) return undefined;
  if (primary === "01") key = key.padStart(14, "0");
  const pairs: Pair[] = [[primary, key]];
  for (const q of FINEST[primary] ?? []) {
    const v = values.get(q);
    if (v !== undefined) {
      pairs.push([q, v]);
      break;
    }
  }
  return pairs;
}

/**
 * A GS1 Digital Link URI (any domain, http or https) → its canonical form on id.gs1.org, or `undefined`
 * when the URI is not a Digital Link of a GS1 key.
 */
export function canonicalDigitalLink(uri: string): string | undefined {
  const m = /^https?:\/\/[^/?#\s]+(\/[^?#]*)?(?:\?[^#]*)?(?:#.*)?$/i.exec(uri.trim());
  if (!m || !m[1]) return undefined;
  const segments = m[1].split("/").filter((s) => s !== "");
  // A Digital Link may sit under a path prefix on its own domain: try each position for a primary key.
  for (let i = 0; i < segments.length - 1; i++) {
    if (!PRIMARY[toAi(segments[i])]) continue;
    const pairs = parseKeyPath(segments.slice(i));
    if (pairs) return build(pairs);
  }
  return undefined;
}

/** CBV 1.x vocabulary URNs → CBV 2.0 web URIs. */
const CBV_URN_TYPES: Record<string, string> = {
  bizstep: "BizStep",
  disp: "Disp",
  btt: "BTT",
  sdt: "SDT",
  er: "ER",
  comp: "Comp",
};

/** `urn:epcglobal:cbv:bizstep:receiving` → `https://ref.gs1.org/cbv/BizStep-receiving`; else `undefined`. */
export function cbvUrnToWebUri(value: string): string | undefined {
  const m = /^urn:epcglobal:cbv:([a-z]+):(.+)$/i.exec(value.trim());
  if (!m) return undefined;
  const type = CBV_URN_TYPES[m[1].toLowerCase()];
  return type ? `https://ref.gs1.org/cbv/${type}-${m[2]}` : undefined;
}

/**
 * Normalise any identifier-like value: EPC URN → Digital Link, Digital Link → canonical Digital Link,
 * CBV URN → web URI. Other values are returned trimmed and otherwise unchanged.
 */
export function normaliseIdentifier(value: string): string {
  const v = value.trim();
  if (/^urn:epc:/i.test(v)) return epcUriToDigitalLink(v) ?? v;
  if (/^urn:epcglobal:cbv:/i.test(v)) return cbvUrnToWebUri(v) ?? v;
  if (/^https?:\/\//i.test(v)) return canonicalDigitalLink(v) ?? v;
  return v;
}
