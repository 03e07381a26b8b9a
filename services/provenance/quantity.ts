/**
 * On-chain quantities are fixed-point integers with QUANTITY_DECIMALS decimals (the contract's
 * constant); the API and CLI speak decimal strings ("6000", "12.5").
 */
export const QUANTITY_DECIMALS = 3;
const SCALE = 10n ** BigInt(QUANTITY_DECIMALS);

export class QuantityError extends Error {
  override name = "QuantityError";
}

export function parseQuantity(text: string): bigint {
  const match = /^(\d{1,30})(?:\.(\d{1,3}))?$/.exec(text.trim());
  if (!match) throw new QuantityError(`"${text}" is not a quantity (a decimal number with at most ${QUANTITY_DECIMALS} decimals)`);
  const raw = BigInt(match[1]) * SCALE + BigInt((match[2] ?? "").padEnd(QUANTITY_DECIMALS, "0") || "0");
  if (raw === 0n) throw new QuantityError("a quantity must be more than zero");
  return raw;
}

export function formatQuantity(raw: bigint | string): string {
  const value = BigInt(raw);
  const whole = value / SCALE;
  const fraction = (value % SCALE).toString().padStart(QUANTITY_DECIMALS, "0").replace(/0+$/, "");
  return fraction ? `${whole}.${fraction}` : `${whole}`;
}

/** The bytes3 of a UN/CEFACT Rec 20 code ("KGM" → 0x4b474d; two-letter codes are zero-padded). */
export function unitToBytes3(code: string): string {
  if (!/^[A-Z0-9]{2,3}$/.test(code)) throw new QuantityError(`"${code}" is not a UN/CEFACT Rec 20 unit code`);
  return "0x" + Buffer.from(code.padEnd(3, "\0"), "latin1").toString("hex");
}

export function unitFromBytes3(hex: string): string {
  return Buffer.from(hex.slice(2), "hex").toString("latin1").replace(/\0+$/, "");
}
