import { HttpProblem } from "./problem";

/**
 * Opaque list cursors: base64url of `{kind}:{value}`. The kind stops a cursor of one list from
 * being replayed against another.
 */
export function encodeCursor(kind: string, value: string | number): string {
  return Buffer.from(`${kind}:${value}`).toString("base64url");
}

export function decodeCursor(cursor: string, kind: string): string {
  const text = Buffer.from(cursor, "base64url").toString();
  const prefix = `${kind}:`;
  const value = text.startsWith(prefix) ? text.slice(prefix.length) : "";
  if (!/^[0-9A-Za-z_.:-]{1,100}$/.test(value)) {
    throw new HttpProblem(400, "invalid_cursor", "the cursor is not one this list returned; start again without it");
  }
  return value;
}
