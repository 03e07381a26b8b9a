/** The latest instant ISO 8601 can show with a four-digit year: the API's representation of "no end". */
export const MAX_ISO = "9999-12-31T23:59:59.000Z";
const MAX_ISO_SECONDS = BigInt(Date.parse(MAX_ISO) / 1000);

/**
 * Unix seconds from the chain (a uint64: an order deadline, a credential expiry, an agent's
 * binding) as ISO 8601, capped at 9999-12-31T23:59:59Z. A member may set any uint64, up to
 * 2^64 − 1 seconds (about 585 billion years): such a value must never crash a read of the route
 * that shows it; it reads as the cap, which every client understands as "no end in sight".
 */
export function isoFromChainSeconds(seconds: number | bigint): string {
  const whole = typeof seconds === "bigint" ? seconds : BigInt(Math.trunc(seconds));
  const capped = whole > MAX_ISO_SECONDS ? MAX_ISO_SECONDS : whole < 0n ? 0n : whole;
  return new Date(Number(capped) * 1000).toISOString();
}
