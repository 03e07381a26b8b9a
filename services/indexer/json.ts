import type { ParamType, Result } from "ethers";

/**
 * Converts decoded event arguments to plain JSON by parameter name. uint256 and other integers
 * become decimal strings (they can exceed 2^53); bytes stay 0x-hex; structs and arrays recurse.
 */
export function eventArgsToJson(inputs: readonly ParamType[], args: Result): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  inputs.forEach((input, i) => {
    out[input.name || String(i)] = toJson(input, args[i]);
  });
  return out;
}

function toJson(type: ParamType, value: unknown): unknown {
  if (type.isArray()) return (value as unknown[]).map((v) => toJson(type.arrayChildren!, v));
  if (type.isTuple()) return eventArgsToJson(type.components!, value as Result);
  if (typeof value === "bigint") return value.toString();
  return value;
}
