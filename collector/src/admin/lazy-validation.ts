/**
 * The admin API's request validators and response serializers, compiled on a route's first use
 * instead of at start-up. Fastify compiles every route's schemas (Ajv for requests,
 * fast-json-stringify for responses) when the app becomes ready: ~120 ms each of the collector's
 * start measured (docs/decisions/runtime-build.md), for dozens of routes an edge collector may
 * never be asked. Same compilers (fastify's own @fastify/ajv-compiler and
 * @fastify/fast-json-stringify-compiler, same options and shared schemas), same results, only
 * later. Our routes have no header schemas, the one thing fastify prepares differently for a
 * validator compiler it did not build (it lower-cases them).
 */
import type AjvCompilerModule from '@fastify/ajv-compiler';
import type SerializerSelectorModule from '@fastify/fast-json-stringify-compiler';
import { createRequire } from 'node:module';

// Required on first use, not imported: the compilers (Ajv, fast-json-stringify; ~0.5 MB of source)
// stay outside the bundle and are not even parsed until a route is first called.
const load = createRequire(import.meta.url);
const AjvCompiler = (): ReturnType<typeof AjvCompilerModule> => (load('@fastify/ajv-compiler') as typeof AjvCompilerModule)();
const SerializerSelector = (): ReturnType<typeof SerializerSelectorModule> => (load('@fastify/fast-json-stringify-compiler') as typeof SerializerSelectorModule)();

interface RouteSchema {
  schema: unknown;
  method: string;
  url: string;
  httpPart?: string;
}
type Validate = ((data: unknown) => unknown) & { errors?: unknown };
type Compile = (route: RouteSchema) => Validate;

/** A `schemaController.compilersFactory.buildValidator` for Fastify(). */
export function buildLazyValidator(externalSchemas: unknown, ajvOptions: unknown): Compile {
  let compile: Compile | undefined;
  return (route) => {
    let validate: Validate | undefined;
    const lazy: Validate = (data) => {
      compile ??= (AjvCompiler() as unknown as (schemas: unknown, options: unknown) => Compile)(externalSchemas, ajvOptions);
      validate ??= compile(route);
      const result = validate(data);
      lazy.errors = validate.errors; // fastify reads the errors from the function it called
      return result;
    };
    return lazy;
  };
}

type Serialize = (data: unknown) => string;
type CompileSerializer = (route: RouteSchema & { httpStatus?: string; contentType?: string }) => Serialize;

/** A `schemaController.compilersFactory.buildSerializer` for Fastify(). */
export function buildLazySerializer(externalSchemas: unknown, serializerOptions: unknown): CompileSerializer {
  let compile: CompileSerializer | undefined;
  return (route) => {
    let serialize: Serialize | undefined;
    return (data) => {
      compile ??= (SerializerSelector() as unknown as (schemas: unknown, options: unknown) => CompileSerializer)(externalSchemas, serializerOptions);
      serialize ??= compile(route);
      return serialize(data);
    };
  };
}
