import { hasValidCheckDigit } from "./keys";

/**
 * GS1 Digital Link URIs for lots: `https://id.gs1.org/01/{gtin14}/10/{lot}`. Parsing accepts any
 * domain (a brand's resolver), GTIN-8/12/13/14 (normalised to 14 digits) and a percent-encoded lot;
 * the query string and fragment are ignored.
 */
export const CANONICAL_RESOLVER = "https://id.gs1.org";

/** GS1 AI (10) lot numbers: 1–20 characters of GS1 character set 82. */
const LOT_PATTERN = /^[!"%-?A-Z_a-z]{1,20}$/;

export interface LotKey {
  gtin: string;
  lot: string;
}

export class DigitalLinkError extends Error {
  override name = "DigitalLinkError";
}

/** GTIN-8, -12, -13 or -14 → GTIN-14 with a valid check digit. */
export function normaliseGtin(raw: string): string {
  if (!/^(\d{8}|\d{12}|\d{13}|\d{14})$/.test(raw)) throw new DigitalLinkError(`"${raw}" is not a GTIN (8, 12, 13 or 14 digits)`);
  const gtin = raw.padStart(14, "0");
  if (!hasValidCheckDigit(gtin)) throw new DigitalLinkError(`GTIN ${raw} has a wrong check digit`);
  return gtin;
}

export function isLotNumber(lot: string): boolean {
  return LOT_PATTERN.test(lot);
}

export function formatDigitalLink(gtin: string, lot: string): string {
  return `${CANONICAL_RESOLVER}/01/${gtin}/10/${encodeURIComponent(lot)}`;
}

export function parseDigitalLink(uri: string): LotKey {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new DigitalLinkError(`"${uri}" is not a URI`);
  }
  const parts = url.pathname.split("/").filter(Boolean);
  const at = parts.indexOf("01");
  if (at < 0 || parts.length < at + 4 || parts[at + 2] !== "10") {
    throw new DigitalLinkError(`"${uri}" is not a GS1 Digital Link of a lot (…/01/{gtin}/10/{lot})`);
  }
  const gtin = normaliseGtin(parts[at + 1]);
  let lot: string;
  try {
    lot = decodeURIComponent(parts[at + 3]);
  } catch {
    throw new DigitalLinkError(`the lot in "${uri}" is not valid percent-encoding`);
  }
  if (!isLotNumber(lot)) throw new DigitalLinkError(`"${lot}" is not a GS1 lot number (1–20 characters of set 82)`);
  return { gtin, lot };
}
