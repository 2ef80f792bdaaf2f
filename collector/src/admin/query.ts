/** Request helpers shared by the admin routes: unknown query parameters (times: consumers/time.ts). */
import type { FastifyRequest } from 'fastify';
import { ErrorCodes, SluiceError } from '../../../shared/src/errors.ts';

export { parseTime } from '../consumers/time.ts';

/**
 * A preValidation hook refusing query parameters the route does not know. Fastify's Ajv
 * removes unknown keys silently, and a misspelt filter (`bodyregex=`) must not turn into an
 * unfiltered answer.
 */
export function rejectUnknownQuery(schema: { properties: Record<string, unknown> }) {
  const known = new Set([...Object.keys(schema.properties), 'access_token']);
  return async (request: FastifyRequest): Promise<void> => {
    const raw = request.raw.url ?? '';
    const q = raw.indexOf('?');
    if (q === -1) return;
    for (const name of new URLSearchParams(raw.slice(q + 1)).keys()) {
      if (!known.has(name)) {
        throw new SluiceError(ErrorCodes.BAD_INPUT, `unknown query parameter "${name}" (known: ${[...known].filter((k) => k !== 'access_token').join(', ')})`);
      }
    }
  };
}

interface ObjectSchema {
  type?: unknown;
  properties?: Record<string, unknown>;
  additionalProperties?: unknown;
  items?: unknown;
}

/** Paths of keys in `value` that a closed object schema (`additionalProperties: false`) does not know. */
export function unknownKeys(schema: ObjectSchema, value: unknown, path = ''): string[] {
  if (value === null || typeof value !== 'object') return [];
  if (Array.isArray(value)) return schema.items ? value.flatMap((v, i) => unknownKeys(schema.items as ObjectSchema, v, `${path}[${i}]`)) : [];
  if (schema.type !== 'object' || !schema.properties) return [];
  const out: string[] = [];
  for (const [k, v] of Object.entries(value)) {
    const child = schema.properties[k];
    if (!child) {
      if (schema.additionalProperties === false) out.push(path ? `${path}.${k}` : k);
      continue;
    }
    out.push(...unknownKeys(child as ObjectSchema, v, path ? `${path}.${k}` : k));
  }
  return out;
}

/** A preValidation hook refusing body keys the route's schema does not know (same reason as above). */
export function rejectUnknownBody(schema: ObjectSchema) {
  return async (request: FastifyRequest): Promise<void> => {
    const unknown = unknownKeys(schema, request.body);
    if (unknown.length > 0) throw new SluiceError(ErrorCodes.BAD_INPUT, `unknown key${unknown.length === 1 ? '' : 's'} in the request body: ${unknown.join(', ')}`);
  };
}
