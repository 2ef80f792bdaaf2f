/**
 * The OpenAPI 3.1 description of /api/v1, generated from the routes as they are registered:
 * an `onRoute` hook on the whole app records each route's method, URL and fastify schema
 * (TypeBox schemas are JSON Schema), and GET /api/v1/openapi.json assembles the document.
 * docs/api/openapi.json is the same document, written by openapi-doc.ts; a test fails when it
 * is stale. A route without a schema is still listed, with the summary from UNSCHEMED below.
 */
import type { FastifyInstance, FastifyPluginAsync, RouteOptions } from 'fastify';

declare module 'fastify' {
  /** The documentation keys of a route schema (as @fastify/swagger reads them; fastify ignores them). */
  interface FastifySchema {
    summary?: string;
    description?: string;
    tags?: string[];
  }
  interface FastifyContextConfig {
    openapi?: OpenApiExtras;
  }
}

export interface RouteDoc {
  method: string;
  url: string;
  schema: Record<string, unknown> | undefined;
  openapi: OpenApiExtras | undefined;
  websocket: boolean;
}

/** What a route adds to its OpenAPI entry beyond its schema, under `config.openapi`. */
export interface OpenApiExtras {
  responses?: Record<string, unknown>;
}

/** Summaries for routes registered without a schema (the core routes, others' later routes). */
const UNSCHEMED: Record<string, { summary: string; tags: string[]; description?: string }> = {
  'GET /api/v1/health': { summary: 'Health: status, channel fill, sink states', tags: ['core'], description: 'Shape: HealthResponse in shared/src/api/core.ts.' },
  'GET /api/v1/topics': { summary: 'Topics with low/high offsets, counts, bytes and rates', tags: ['core'], description: 'Shape: TopicsResponse in shared/src/api/core.ts.' },
  'GET /api/v1/topics/{topic}': { summary: 'One topic with its retention policy and cursors (with lag)', tags: ['core'], description: 'Shape: TopicDetailResponse in shared/src/api/core.ts.' },
  'GET /api/v1/sources': { summary: 'Sources with endpoints, interceptor chains and counters', tags: ['core'], description: 'Shape: SourcesResponse in shared/src/api/core.ts.' },
  'GET /api/v1/sinks': { summary: 'Sinks with cursor, lag, state and last error per topic', tags: ['core'], description: 'Shape: SinksResponse in shared/src/api/core.ts.' },
  'GET /api/v1/sinks/{sink}': { summary: 'One sink', tags: ['core'], description: 'Shape: SinkStatus in shared/src/api/core.ts.' },
  'POST /api/v1/sinks/{sink}/resume': { summary: 'Restart a failed sink', tags: ['core'], description: 'Shape: SinkStatus in shared/src/api/core.ts.' },
};

const docs = new WeakMap<FastifyInstance, RouteDoc[]>();
const everyRoute = new WeakMap<FastifyInstance, { method: string; url: string; public: boolean }[]>();

/** Every route registered on an app, API or not (access tests walk them all). */
export function registeredRoutes(app: FastifyInstance): readonly { method: string; url: string; public: boolean }[] {
  return everyRoute.get(app) ?? [];
}

/** The routes recorded on an app (for tests and the document writer). */
export function recordedRoutes(app: FastifyInstance): RouteDoc[] {
  return docs.get(app) ?? [];
}

function record(list: RouteDoc[], route: RouteOptions & { websocket?: boolean }): void {
  if (!route.url.startsWith('/api/')) return;
  const methods = (Array.isArray(route.method) ? route.method : [route.method]).filter((m) => m !== 'HEAD' && m !== 'OPTIONS');
  for (const method of methods) {
    list.push({
      method,
      url: route.url,
      schema: route.schema as Record<string, unknown> | undefined,
      openapi: (route.config as { openapi?: OpenApiExtras } | undefined)?.openapi,
      websocket: route.websocket === true,
    });
  }
}

/**
 * Registered first, on the root (skip-override), so its onRoute hook sees every route
 * registered after it; serves the document.
 */
export const openapiRoutes: FastifyPluginAsync = Object.assign(
  async (app: FastifyInstance) => {
    const list: RouteDoc[] = [];
    docs.set(app, list);
    const all: { method: string; url: string; public: boolean }[] = [];
    everyRoute.set(app, all);
    app.addHook('onRoute', (route) => {
      record(list, route as RouteOptions & { websocket?: boolean });
      for (const method of Array.isArray(route.method) ? route.method : [route.method]) {
        all.push({ method, url: route.url, public: (route.config as { public?: boolean } | undefined)?.public === true });
      }
    });
    app.get(
      '/api/v1/openapi.json',
      { schema: { summary: 'This document: the OpenAPI 3.1 description of /api/v1', tags: ['meta'] } },
      async () => buildOpenApi(list),
    );
  },
  { [Symbol.for('skip-override')]: true },
);

const VERSION = '0.1.0';

/** JSON Schema without TypeBox's symbol keys, and without keys OpenAPI does not take. */
function clean(schema: unknown): Record<string, unknown> {
  return JSON.parse(JSON.stringify(schema)) as Record<string, unknown>;
}

function openapiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

const ERROR_REF = { $ref: '#/components/schemas/ApiError' };

export function buildOpenApi(routes: readonly RouteDoc[]): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  const sorted = [...routes].sort((a, b) => a.url.localeCompare(b.url) || a.method.localeCompare(b.method));
  for (const r of sorted) {
    const path = openapiPath(r.url);
    const key = `${r.method} ${path}`;
    const s = r.schema ?? {};
    const known = UNSCHEMED[key];
    const op: Record<string, unknown> = {
      operationId: operationId(r.method, path),
      summary: (s.summary as string | undefined) ?? known?.summary ?? `${r.method} ${path}`,
    };
    const description = (s.description as string | undefined) ?? known?.description;
    if (description) op.description = description;
    op.tags = (s.tags as string[] | undefined) ?? known?.tags ?? ['other'];
    const parameters: Record<string, unknown>[] = [];
    const params = s.params as { properties?: Record<string, unknown>; required?: string[] } | undefined;
    const pathNames = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
    for (const name of pathNames) {
      const p = params?.properties?.[name];
      parameters.push({ name, in: 'path', required: true, schema: p ? clean(p) : { type: 'string' } });
    }
    const query = s.querystring as { properties?: Record<string, unknown>; required?: string[] } | undefined;
    for (const [name, p] of Object.entries(query?.properties ?? {})) {
      const schema = clean(p);
      const param: Record<string, unknown> = { name, in: 'query', required: query?.required?.includes(name) ?? false, schema };
      if (typeof schema.description === 'string') param.description = schema.description;
      if (schema.type === 'array') Object.assign(param, { style: 'form', explode: true });
      parameters.push(param);
    }
    if (parameters.length > 0) op.parameters = parameters;
    if (s.body) op.requestBody = { required: true, content: { 'application/json': { schema: clean(s.body) } } };
    const responses: Record<string, unknown> = {};
    for (const [code, schema] of Object.entries((s.response as Record<string, unknown> | undefined) ?? {})) {
      const c = clean(schema);
      const isError = Number(code) >= 400;
      responses[code] = { description: isError ? errorDescription(Number(code)) : 'OK', content: { 'application/json': { schema: isError ? ERROR_REF : c } } };
    }
    for (const [code, extra] of Object.entries(r.openapi?.responses ?? {})) responses[code] = extra;
    if (!Object.keys(responses).some((c) => c.startsWith('2') || c === '101')) {
      responses['200'] = { description: 'OK', content: { 'application/json': { schema: { type: 'object' } } } };
    }
    responses['401'] ??= { description: errorDescription(401), content: { 'application/json': { schema: ERROR_REF } } };
    op.responses = Object.fromEntries(Object.entries(responses).sort(([a], [b]) => a.localeCompare(b)));
    if (r.websocket) op['x-websocket'] = true;
    (paths[path] ??= {})[r.method.toLowerCase()] = op;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Sluice admin API',
      version: VERSION,
      description:
        'Inspection and control of a Sluice collector (DESIGN §6). JSON under /api/v1; errors are `{ "error": { "code", "message" } }` with a proper status (codes in docs/errors.md). A bearer token is required on every request when `admin.token` is set (always when the API listens on anything but loopback). Generated from the route schemas; see docs/admin-api.md.',
    },
    servers: [{ url: 'http://127.0.0.1:9410' }],
    security: [{ bearer: [] }, {}],
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'admin.token' } },
      schemas: {
        ApiError: {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['code', 'message'],
              properties: {
                code: { type: 'string', description: 'A stable code (docs/errors.md)' },
                message: { type: 'string' },
                problems: { type: 'array', items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } } } },
              },
            },
          },
        },
      },
    },
    paths,
  };
}

function operationId(method: string, path: string): string {
  const words = path
    .replace(/^\/api\/v1\//, '')
    .split('/')
    .map((p) => (p.startsWith('{') ? `by-${p.slice(1, -1)}` : p))
    .join('-')
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean);
  return [method.toLowerCase(), ...words].map((w, i) => (i === 0 ? w : w[0].toUpperCase() + w.slice(1))).join('');
}

function errorDescription(code: number): string {
  switch (code) {
    case 400:
      return 'Bad input (SLUICE_BAD_INPUT, SLUICE_OFFSET_OUT_OF_RANGE, SLUICE_CONFIG_INVALID with problems)';
    case 401:
      return 'Missing or wrong bearer token (SLUICE_UNAUTHORIZED)';
    case 403:
      return 'Forbidden (SLUICE_EXPORT_DISABLED; SLUICE_UNAUTHORIZED for an origin not allowed)';
    case 404:
      return 'Not found (SLUICE_TOPIC_NOT_FOUND, SLUICE_NOT_FOUND, SLUICE_CURSOR_NOT_FOUND)';
    case 413:
      return 'Request body too large (SLUICE_TOO_LARGE)';
    default:
      return 'Error';
  }
}
