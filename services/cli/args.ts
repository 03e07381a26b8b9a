import { AbiCoder, getAddress, isAddress, keccak256 } from "ethers";
import { isLotNumber, normaliseGtin } from "../gs1/digital-link";
import { hasValidCheckDigit } from "../gs1/keys";
import { parseQuantity } from "../provenance/quantity";
import { HANDOVER_KINDS, type HandoverKindName } from "../provenance/acceptance";
import { CliError } from "./client";

/** Checks of command-line values, each failing with one line that names the option and what to give. */

export function gtinArg(raw: string, option = "--gtin"): string {
  try {
    return normaliseGtin(raw.trim());
  } catch (err) {
    throw new CliError(`${option}: ${(err as Error).message}`);
  }
}

export function lotArg(raw: string, option = "--lot"): string {
  if (!isLotNumber(raw)) throw new CliError(`${option}: "${raw}" is not a GS1 lot number (1–20 letters, digits or !"%&'()*+,-./:;<=>?_)`);
  return raw;
}

export function quantityArg(raw: string, option = "--quantity"): bigint {
  try {
    return parseQuantity(raw);
  } catch (err) {
    throw new CliError(`${option}: ${(err as Error).message}`);
  }
}

export function glnArg(raw: string | undefined, option = "--gln"): string {
  if (raw === undefined || raw === "") return "";
  if (!/^[0-9]{13}$/.test(raw) || !hasValidCheckDigit(raw)) throw new CliError(`${option}: "${raw}" is not a GLN (13 digits with a valid check digit)`);
  return raw;
}

export function ssccArg(raw: string): string {
  if (!/^[0-9]{18}$/.test(raw) || !hasValidCheckDigit(raw)) throw new CliError(`"${raw}" is not an SSCC (18 digits with a valid check digit)`);
  return raw;
}

export function orgIdArg(raw: string, option = "--to"): bigint {
  if (!/^[1-9][0-9]{0,18}$/.test(raw)) throw new CliError(`${option} must be an organisation id (a positive integer), got "${raw}"`);
  return BigInt(raw);
}

export function hashArg(raw: string | undefined, option = "--metadata-hash"): string {
  if (raw === undefined) return `0x${"00".repeat(32)}`;
  if (!/^0x[0-9a-fA-F]{64}$/.test(raw)) throw new CliError(`${option} must be 0x followed by 64 hex digits, got "${raw}"`);
  return raw.toLowerCase();
}

export function handoverKindArg(raw: string): { name: HandoverKindName; value: number } {
  const name = raw.toLowerCase() as HandoverKindName;
  if (!Object.hasOwn(HANDOVER_KINDS, name)) throw new CliError(`--kind must be custody, ownership or both, got "${raw}"`);
  return { name, value: HANDOVER_KINDS[name] };
}

export function wholeNumberArg(raw: string, option: string, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^[0-9]+$/.test(raw) || Number(raw) > max) throw new CliError(`${option} must be an integer from 0 to ${max}, got "${raw}"`);
  return Number(raw);
}

/** A lot's id, which is also its first portion's batch id: keccak256(abi.encode(uint64 gtin, string lot)). */
export function lotIdOf(gtin: string, lot: string): string {
  return keccak256(AbiCoder.defaultAbiCoder().encode(["uint64", "string"], [BigInt(gtin), lot]));
}

/** `<ref>=<quantity>`: the quantity follows the last "=" (a Digital Link may contain "=" before it). */
export function inputArg(raw: string): { ref: string; quantity: bigint; text: string } {
  const at = raw.lastIndexOf("=");
  if (at <= 0) throw new CliError(`--input must be <batch id or Digital Link>=<quantity>, got "${raw}"`);
  const text = raw.slice(at + 1);
  return { ref: raw.slice(0, at), quantity: quantityArg(text, "--input"), text };
}

/**
 * `<gtin>/<lot>=<quantity>[@<gln>]`. Lot numbers may contain "/" and "=", never "@": the GLN is
 * split off at "@", the GTIN before the first "/", the quantity after the last "=".
 */
export function outputArg(raw: string): { gtin: string; lot: string; quantity: bigint; text: string; gln: string } {
  const usage = `--output must be <gtin>/<lot>=<quantity>[@<gln>], got "${raw}"`;
  const [body, gln, ...rest] = raw.split("@");
  if (rest.length > 0) throw new CliError(usage);
  const slash = body.indexOf("/");
  const eq = body.lastIndexOf("=");
  if (slash <= 0 || eq <= slash + 1) throw new CliError(usage);
  const text = body.slice(eq + 1);
  return {
    gtin: gtinArg(body.slice(0, slash), "--output"),
    lot: lotArg(body.slice(slash + 1, eq), "--output"),
    quantity: quantityArg(text, "--output"),
    text,
    gln: glnArg(gln, "--output"),
  };
}

/** An order id: a positive integer, as a decimal string. */
export function orderIdArg(raw: string): string {
  if (!/^[1-9][0-9]{0,18}$/.test(raw)) throw new CliError(`the order id must be a positive integer, got "${raw}"`);
  return raw;
}

export function addressArg(raw: string, option: string): string {
  if (!isAddress(raw)) throw new CliError(`${option} must be an address (0x followed by 40 hex digits), got "${raw}"`);
  return getAddress(raw.toLowerCase());
}

const UINT128_MAX = (1n << 128n) - 1n;

/**
 * A decimal amount ("9.80") in a token's base units, given its decimals: more decimals than the
 * token has would be rounded away, so they are refused.
 */
export function tokenAmountArg(raw: string, decimals: number, option = "--price"): bigint {
  const match = /^([0-9]{1,40})(?:\.([0-9]+))?$/.exec(raw.trim());
  if (!match) throw new CliError(`${option}: "${raw}" is not an amount (a decimal number such as 9.80)`);
  const fraction = match[2] ?? "";
  if (fraction.length > decimals) throw new CliError(`${option}: "${raw}" has more decimals than the token's ${decimals}`);
  const value = BigInt(match[1]) * 10n ** BigInt(decimals) + BigInt(fraction.padEnd(decimals, "0") || "0");
  if (value === 0n) throw new CliError(`${option} must be more than zero`);
  if (value > UINT128_MAX) throw new CliError(`${option}: "${raw}" is too large`);
  return value;
}

/** A whole number of token base units (`--price-base-units`). */
export function baseUnitsArg(raw: string, option = "--price-base-units"): bigint {
  if (!/^[0-9]{1,39}$/.test(raw) || BigInt(raw) === 0n || BigInt(raw) > UINT128_MAX) {
    throw new CliError(`${option} must be a positive whole number of the token's base units, got "${raw}"`);
  }
  return BigInt(raw);
}

/** Base units as a decimal with the token's decimals: 117600 with 2 decimals → "1176.00". */
export function formatTokenAmount(raw: bigint | string, decimals: number): string {
  const value = BigInt(raw);
  if (decimals === 0) return value.toString();
  const scale = 10n ** BigInt(decimals);
  return `${value / scale}.${(value % scale).toString().padStart(decimals, "0")}`;
}

/**
 * A delivery deadline, as unix seconds: an ISO 8601 date or date-time ("2026-03-31", midnight
 * UTC; "2026-03-31T18:00:00Z") or a time from now ("+7d", "+36h"). It must lie in the future.
 */
export function deadlineArg(raw: string, nowMs = Date.now(), option = "--deadline"): number {
  const relative = /^\+([0-9]{1,5})([dh])$/.exec(raw.trim());
  let ms: number;
  if (relative) {
    ms = nowMs + Number(relative[1]) * (relative[2] === "d" ? 86_400_000 : 3_600_000);
  } else if (/^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9:.]+(Z|[+-][0-9]{2}:?[0-9]{2})?)?$/.test(raw.trim())) {
    ms = Date.parse(raw.trim());
    if (Number.isNaN(ms)) throw new CliError(`${option}: "${raw}" is not a date`);
  } else {
    throw new CliError(`${option} must be an ISO date ("2026-03-31", "2026-03-31T18:00:00Z") or a time from now ("+7d", "+36h"), got "${raw}"`);
  }
  const seconds = Math.floor(ms / 1000);
  if (ms <= nowMs) throw new CliError(`${option}: ${new Date(seconds * 1000).toISOString()} is not in the future`);
  return seconds;
}

/** An inspection window in seconds: hours ("48", "48h") or days ("2d"). */
export function durationArg(raw: string, option = "--inspection"): number {
  const match = /^([0-9]{1,6})([hd]?)$/.exec(raw.trim());
  const seconds = match ? Number(match[1]) * (match[2] === "d" ? 86_400 : 3_600) : NaN;
  if (!match || seconds > 0xffffffff) throw new CliError(`${option} must be hours ("48", "48h") or days ("2d"), got "${raw}"`);
  return seconds;
}

/** A percentage with up to two decimals ("60", "12.5") in basis points (6000, 1250). */
export function percentBpsArg(raw: string, option = "--seller-share"): number {
  const match = /^([0-9]{1,3})(?:\.([0-9]{1,2}))?$/.exec(raw.trim());
  const bps = match ? Number(match[1]) * 100 + Number((match[2] ?? "").padEnd(2, "0")) : NaN;
  if (!match || bps > 10_000) throw new CliError(`${option} must be a percentage from 0 to 100 (up to 2 decimals), got "${raw}"`);
  return bps;
}
