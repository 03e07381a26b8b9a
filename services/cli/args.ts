import { AbiCoder, keccak256 } from "ethers";
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
  if (!(name in HANDOVER_KINDS)) throw new CliError(`--kind must be custody, ownership or both, got "${raw}"`);
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
