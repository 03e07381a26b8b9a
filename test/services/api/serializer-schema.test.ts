import { createRequire } from "node:module";
import { expect } from "chai";
import { Type } from "@sinclair/typebox";
import { serializerSchema } from "../../../services/api/serializer-schema";

// Fastify's own serializer compiler, resolved as Fastify resolves it (services/api/lazy-compile.ts).
const fastifyRequire = createRequire(require.resolve("fastify"));
const build = fastifyRequire("fast-json-stringify") as (schema: unknown) => (value: unknown) => string;

const Kind = Type.Union([Type.Literal("split"), Type.Literal("transform"), Type.Literal("merge")]);
const Proof = Type.Object({ root: Type.String(), proof: Type.Array(Type.String()), anchoredBy: Type.Union([Type.Object({ orgId: Type.String(), name: Type.Union([Type.String(), Type.Null()]) }), Type.Null()]) });
const Response = Type.Object({
  id: Type.String(),
  kind: Kind,
  status: Type.Union([Type.Literal("pending"), Type.Literal("anchored"), Type.Null()], { description: "null when not queued" }),
  quantity: Type.Union([Type.Number(), Type.Null()]),
  count: Type.Union([Type.Integer(), Type.Null()]),
  anchor: Type.Union([Proof, Type.Null()]),
  edges: Type.Array(Type.Object({ from: Type.String(), kind: Kind, share: Type.Union([Type.Number(), Type.Null()]) })),
  // Left as written: only Ajv can tell a string from an object here.
  value: Type.Union([Type.String(), Type.Object({ amount: Type.Number() })]),
  extra: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
});

const values = [
  {
    id: "a",
    kind: "split",
    status: "anchored",
    quantity: 1.5,
    count: 3,
    anchor: { root: "0x1", proof: ["0x2", "0x3"], anchoredBy: { orgId: "7", name: null } },
    edges: [{ from: "0x4", kind: "merge", share: null }, { from: "0x5", kind: "transform", share: 0.25 }],
    value: "text",
    extra: true,
  },
  { id: "b", kind: "merge", status: null, quantity: null, count: null, anchor: null, edges: [], value: { amount: 2 }, extra: null },
  { id: "c", kind: "transform", status: "pending", quantity: 0, count: 0, anchor: { root: "0x6", proof: [], anchoredBy: null }, edges: [], value: "", surplus: "dropped" },
];

/**
 * Response schemas simplified for the serializers (services/api/serializer-schema.ts): a nullable
 * schema or a choice of string literals is one schema, so the serializer needs no Ajv validator to
 * pick a branch; what it writes is unchanged.
 */
describe("API response schemas as the serializers read them", function () {
  it("writes every value as the schema as written does", function () {
    const asWritten = build(Response);
    const simplified = build(serializerSchema(Response));
    for (const value of values) expect(simplified(value)).to.equal(asWritten(value));
  });

  it("folds a nullable schema into one with nullable, a choice of string literals into an enum; leaves other unions", function () {
    const s = serializerSchema(Response) as unknown as { properties: Record<string, Record<string, unknown>> };
    expect(s.properties.kind).to.deep.include({ type: "string", enum: ["split", "transform", "merge"] }).and.not.have.property("anyOf");
    expect(s.properties.status).to.deep.include({ type: "string", enum: ["pending", "anchored"], nullable: true, description: "null when not queued" });
    expect(s.properties.quantity).to.deep.include({ type: "number", nullable: true });
    expect(s.properties.anchor).to.include({ type: "object", nullable: true });
    expect((s.properties.anchor.properties as Record<string, Record<string, unknown>>).anchoredBy).to.include({ type: "object", nullable: true });
    expect(s.properties.value).to.have.property("anyOf").with.length(2);
  });

  it("leaves the schema it is given as it was (the validators and the OpenAPI document use it)", function () {
    const before = JSON.stringify(Response);
    serializerSchema(Response);
    expect(JSON.stringify(Response)).to.equal(before);
  });
});
