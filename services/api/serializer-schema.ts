/**
 * Response schemas as the serializers read them: a union whose branch is obvious from the value is
 * written as one schema. fast-json-stringify serializes a union (`anyOf`) by validating the value
 * against each branch with Ajv, and compiling those validators cost the API several seconds of CPU
 * (docs/performance.md "First page after a start"), while most unions here are a schema or null
 * (`Type.Union([X, Type.Null()])`) or a choice of string literals. The first is X with `nullable`
 * (the serializer writes null as null, anything else as X), the second one string with an `enum`.
 * The output is the same for every value the schema admits; the request validators and the OpenAPI
 * document keep the schemas as written. Pure: returns new objects, never changes its argument.
 */
export function serializerSchema<T>(schema: T): T {
  return simplify(schema) as T;
}

/** Keywords whose values are data, not schemas. */
const DATA_KEYWORDS = new Set(["const", "default", "enum", "examples", "example"]);
/** Keywords a branch may not carry to be folded into one schema. */
const COMPOSITE_KEYWORDS = ["anyOf", "oneOf", "allOf", "not", "if", "$ref"];

type Schema = Record<string, unknown>;
const isSchema = (value: unknown): value is Schema => typeof value === "object" && value !== null && !Array.isArray(value);
const isNull = (branch: Schema) => branch.type === "null" && Object.keys(branch).length === 1;
const isStringLiteral = (branch: Schema) =>
  typeof branch.const === "string" && Object.keys(branch).every((key) => key === "const" || (key === "type" && branch.type === "string"));

function simplify(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(simplify);
  if (!isSchema(value)) return value;
  const out: Schema = {};
  for (const key of Object.keys(value)) out[key] = DATA_KEYWORDS.has(key) ? value[key] : simplify(value[key]);
  if (!Array.isArray(out.anyOf) || !out.anyOf.every(isSchema)) return out;
  const branches = out.anyOf as Schema[];
  const others = branches.filter((branch) => !isNull(branch));
  let one: Schema | null = null;
  if (others.length > 0 && others.every(isStringLiteral)) one = { type: "string", enum: others.map((branch) => branch.const) };
  else if (others.length === 1 && typeof others[0].type === "string" && others[0].type !== "null" && !COMPOSITE_KEYWORDS.some((key) => key in others[0])) one = others[0];
  if (!one) return out;
  const { anyOf: _anyOf, ...siblings } = out;
  return { ...siblings, ...one, ...(others.length < branches.length ? { nullable: true } : {}) };
}
