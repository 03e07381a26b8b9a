/**
 * Value normalisation for the CBV 2.0 event hash ID: timestamps and numbers.
 */

const DATE_TIME = /^(-?\d{4,})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/** True for an xsd:dateTime with seconds and an explicit time zone (what EPCIS timestamps are). */
export function isZonedTimestamp(value: string): boolean {
  const m = DATE_TIME.exec(value.trim());
  return m !== null && m[6] !== undefined && m[8] !== undefined;
}

/**
 * Timestamp → UTC `YYYY-MM-DDThh:mm:ss.sssZ`: the offset applied, exactly three fractional digits
 * (padded; more than three rounded half up at the third, carrying into the seconds and beyond).
 * A timestamp without a zone is taken as UTC. A value that is not an xsd:dateTime is returned trimmed.
 */
export function canonicalTimestamp(value: string): string {
  const v = value.trim();
  const m = DATE_TIME.exec(v);
  if (!m) return v;
  const [, year, month, day, hour, minute, second = "0", fraction = "", zone = "Z"] = m;
  let ms = Number((fraction + "000").slice(0, 3));
  if (fraction.length > 3 && fraction.charCodeAt(3) - 48 >= 5) ms += 1;
  let offsetMinutes = 0;
  if (zone.toUpperCase() !== "Z") {
    const z = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone)!;
    offsetMinutes = (z[1] === "-" ? -1 : 1) * (Number(z[2]) * 60 + Number(z[3] ?? "0"));
  }
  const mo = Number(month);
  const d = Number(day);
  const h = Number(hour);
  const mi = Number(minute);
  const s = Number(second);
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 24 || mi > 59 || s > 60) return v;
  // setUTCFullYear avoids Date.UTC's mapping of years 0–99 to 1900–1999.
  const date = new Date(0);
  date.setUTCFullYear(Number(year), mo - 1, d);
  date.setUTCHours(h, mi - offsetMinutes, s, ms);
  if (Number.isNaN(date.getTime())) return v;
  return date.toISOString();
}

const NUMBER = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

/**
 * Number (or numeric string) → plain decimal without exponent, leading zeros or trailing zeros:
 * `1.0` → `1`, `1e3` → `1000`, `0.50` → `0.5`, `-0` → `0`, `1e-7` → `0.0000001`.
 * Returns `undefined` for anything that is not a finite decimal number.
 */
export function canonicalNumber(value: number | string): string | undefined {
  if (typeof value === "number" && !Number.isFinite(value)) return undefined;
  const text = typeof value === "number" ? String(value) : value.trim();
  const m = NUMBER.exec(text);
  if (!m) return undefined;
  const [, sign, intPart = "", fracPart = "", expPart] = m;
  if (intPart.length === 0 && fracPart.length === 0) return undefined;
  const exp = Number(expPart ?? "0") - fracPart.length;
  if (!Number.isSafeInteger(exp) || Math.abs(exp) > 400) return undefined;
  let digits = (intPart + fracPart).replace(/^0+/, "");
  if (digits.length === 0) return "0";
  let out: string;
  if (exp >= 0) {
    out = digits + "0".repeat(exp);
  } else {
    // Drop trailing zeros of the fractional part before placing the point.
    let e = exp;
    while (e < 0 && digits.endsWith("0")) {
      digits = digits.slice(0, -1);
      e += 1;
    }
    if (e >= 0) {
      out = digits + "0".repeat(e);
    } else {
      const point = digits.length + e;
      out = point > 0 ? `${digits.slice(0, point)}.${digits.slice(point)}` : `0.${"0".repeat(-point)}${digits}`;
    }
  }
  return (sign === "-" ? "-" : "") + out;
}
