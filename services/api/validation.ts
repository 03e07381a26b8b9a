import Ajv from "ajv";
import addFormats from "ajv-formats";
import type { FastifySchemaCompiler } from "fastify";

/**
 * Request validation. Query strings and path parameters arrive as text, so they are coerced to the
 * schema's types (`limit=5` → 5); JSON bodies are not: a client that sends `"gas": 5` where a
 * decimal string is required, or an array where an address is, gets a 400 rather than a guess.
 */
export function createValidatorCompiler(): FastifySchemaCompiler<unknown> {
  const options = { allErrors: true, useDefaults: true, removeAdditional: false, strict: false } as const;
  const forBodies = addFormats(new Ajv({ ...options, coerceTypes: false }));
  const forText = addFormats(new Ajv({ ...options, coerceTypes: "array" }));
  return ({ schema, httpPart }) => (httpPart === "body" ? forBodies : forText).compile(schema as object);
}
