import { createRequire } from "node:module";
import type { FastifySchemaCompiler } from "fastify";
import { serializerSchema } from "./serializer-schema";

/**
 * Request validators and response serializers compiled on first use instead of all at once.
 *
 * Fastify compiles every route's schemas in one synchronous burst when the app becomes ready: with
 * Lotline's hundred-odd routes that held the event loop for most of a second at each start
 * (docs/performance.md "First start"). Here each route part gets a stand-in that compiles its
 * schema the first time it is used; `warm()` then compiles the rest one per turn of the event loop
 * (a few milliseconds each), so the first requests do not pay for it either. The compilers are
 * Fastify's own (its fast-json-stringify compiler, resolved as Fastify resolves it) and the API's
 * Ajv instances: the same code, compiled at another time.
 */
type SerializerFactory = (externalSchemas: unknown, options: unknown) => (route: unknown) => (data: unknown) => string;

const fastifyRequire = createRequire(require.resolve("fastify"));
const defaultSerializerFactory = (fastifyRequire("@fastify/fast-json-stringify-compiler") as { SerializerSelector: () => SerializerFactory }).SerializerSelector();

export function createLazyCompilation() {
  const pending = new Set<() => void>();

  /** A stand-in for `compile()`'s result that compiles on first call, or when warmed. */
  function lazy<F extends (...args: never[]) => unknown>(compile: () => F, copyErrors: boolean): F {
    let compiled: F | undefined;
    const ensure = () => {
      if (!compiled) {
        pending.delete(ensure);
        compiled = compile();
      }
      return compiled;
    };
    pending.add(ensure);
    const standIn = function (this: unknown, ...args: Parameters<F>) {
      const fn = ensure();
      const result = fn.apply(this, args);
      // Fastify reads a validator's `errors` from the function it called.
      if (copyErrors) (standIn as unknown as { errors: unknown }).errors = (fn as unknown as { errors: unknown }).errors;
      return result;
    };
    return standIn as unknown as F;
  }

  return {
    /** For Fastify's `schemaController.compilersFactory.buildSerializer`. */
    buildSerializer: ((externalSchemas, options) => {
      // The unions left after serializerSchema (the few whose branch only Ajv can tell) have their
      // validators compiled with the serializer (compileValidators), not on the first response that
      // reaches them: else the first page after a start paid for them in its requests.
      const compiler = defaultSerializerFactory(externalSchemas, { ...(options as object), compileValidators: true });
      return (route) => lazy(() => compiler({ ...(route as { schema: unknown }), schema: serializerSchema((route as { schema: unknown }).schema) }), false);
    }) as SerializerFactory,
    /** Wraps a validator compiler (setValidatorCompiler's argument). */
    validatorCompiler(compiler: FastifySchemaCompiler<unknown>): FastifySchemaCompiler<unknown> {
      return (route) => lazy(() => compiler(route) as (data: unknown) => unknown, true) as ReturnType<FastifySchemaCompiler<unknown>>;
    },
    /** Compiles what is still uncompiled, one schema per turn of the event loop. */
    async warm(): Promise<void> {
      for (const ensure of pending) {
        ensure();
        await new Promise((resolve) => setImmediate(resolve));
      }
    },
    pendingCount: () => pending.size,
  };
}
