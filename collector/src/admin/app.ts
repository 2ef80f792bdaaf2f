/**
 * The admin API (DESIGN §6), built apart from listen() so tests use inject(). JSON under
 * /api/v1/, errors as `{ "error": { "code", "message" } }` with a proper status, Prometheus text
 * at /metrics, the web UI at /.
 *
 * Access: a bearer token, when configured, is required on every request except the web UI's
 * static files (the config refuses a non-loopback listen without one). The check is made on the
 * ROUTED request (the route fastify matched after decoding the path), never on the raw URL: a
 * spelling such as `/%61pi/v1/topics` reaches the same route as `/api/v1/topics` and needs the
 * same token. Routes are private unless they say `config: { public: true }`; a request that
 * matches no route needs the token too. CORS allows only the UI's own origin and the configured
 * `admin.cors_origins`.
 */
import cors from '@fastify/cors';
import websocket from '@fastify/websocket';
import { buildLazySerializer, buildLazyValidator } from './lazy-validation.ts';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { bearerCheck } from '../bearer.ts';
import { ErrorCodes, httpStatusFor, isSluiceError, retryAfterSeconds, SluiceError } from '../../../shared/src/errors.ts';
import { DEFAULT_JSON_MAX_DEPTH, jsonTextTooDeepAt } from '../../../shared/src/json-limits.ts';
import { isSqliteCorruption } from '../channel/integrity.ts';
import type { Collector } from '../runtime/collector.ts';
import { ConfigError } from '../config/load.ts';
import { adminRoutes } from './routes/index.ts';

export interface AdminAppOptions {
  /** Pino logger for request errors (requests themselves are not logged). */
  logger?: boolean;
}

declare module 'fastify' {
  interface FastifyInstance {
    collector: Collector;
  }
  interface FastifyContextConfig {
    /** Served without the admin token (only the web UI's files, which hold no data). */
    public?: boolean;
  }
}

export async function buildAdminApp(collector: Collector, _options: AdminAppOptions = {}): Promise<FastifyInstance> {
  const admin = collector.config.admin;
  const https = admin.tls ? { https: { cert: await readFile(admin.tls.cert), key: await readFile(admin.tls.key) } } : {};
  const app = Fastify({
    logger: false,
    schemaController: { compilersFactory: { buildValidator: buildLazyValidator as never, buildSerializer: buildLazySerializer as never } },
    bodyLimit: admin.maxBodyBytes,
    ...https,
  }) as unknown as FastifyInstance;
  app.decorate('collector', collector);

  // Shutdown: new requests get fastify's 503 (return503OnClosing); a request still in flight
  // when close() begins (a search running to max_scan_ms) gets its answer with
  // `Connection: close`, so its keep-alive connection ends with it instead of holding close()
  // open until the keep-alive timeout.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close');
  });

  // JSON request bodies: nesting is bounded before parsing, so a hostile body gets a 400 instead
  // of overflowing the stack wherever the value is walked later (produce re-serialises `value`).
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const at = jsonTextTooDeepAt(body as string, DEFAULT_JSON_MAX_DEPTH);
    if (at !== -1) {
      done(new SluiceError(ErrorCodes.BAD_INPUT, `request body: JSON nested deeper than ${DEFAULT_JSON_MAX_DEPTH} levels at character ${at}`), undefined);
      return;
    }
    parseJson(request, body as string, (error, value) => {
      if (!error) return done(null, value);
      // Say why: fastify's message is the same for a syntax error and a prototype-poisoning key.
      let why: string;
      try {
        JSON.parse(body as string);
        why = 'a "__proto__" or "constructor.prototype" key is not allowed';
      } catch (syntax) {
        why = `invalid JSON: ${(syntax as Error).message}`;
      }
      done(new SluiceError(ErrorCodes.BAD_INPUT, `request body: ${why}`), undefined);
    });
  });

  await app.register(cors, {
    origin: (origin, cb) => {
      // Same-origin requests (the UI served here) send no Origin or our own; others must be listed.
      if (!origin) return cb(null, true);
      cb(null, admin.cors_origins.includes(origin));
    },
    credentials: false,
  });
  await app.register(websocket, { options: { maxPayload: 1024 * 1024 } });

  if (admin.token) {
    const tokenOk = bearerCheck(admin.token);
    app.addHook('onRequest', async (request, reply) => {
      if (!needsToken(request)) return;
      if (!tokenOk(request.headers.authorization ?? tokenFromQuery(request))) {
        reply.header('www-authenticate', 'Bearer');
        return reply.code(401).send({ error: { code: ErrorCodes.UNAUTHORIZED, message: 'missing or wrong bearer token: send "Authorization: Bearer <admin.token>"' } });
      }
    });
  }

  app.setErrorHandler((error: Error & { statusCode?: number; code?: string; validation?: unknown }, _request: FastifyRequest, reply: FastifyReply) => {
    if (error instanceof ConfigError) {
      return reply.code(400).send({ error: { code: error.code, message: error.message, problems: error.problems } });
    }
    if (isSluiceError(error)) {
      const status = httpStatusFor(error);
      if (status === 503) reply.header('retry-after', String(retryAfterSeconds(error)));
      return reply.code(status).send({ error: { code: error.code, message: error.message } });
    }
    if (isSqliteCorruption(error)) {
      // Damage outside a record batch (a topic row, an index page): still named, never a bare 500.
      const file = collector.channel.file;
      const damaged = new SluiceError(ErrorCodes.CHANNEL_CORRUPT, `the channel file ${file} is damaged (${error.message}); salvage it with \`sluice doctor ${file} --out NEW.db\``);
      return reply.code(httpStatusFor(damaged)).send({ error: { code: damaged.code, message: damaged.message } });
    }
    if (error.validation) {
      return reply.code(400).send({ error: { code: ErrorCodes.BAD_INPUT, message: error.message } });
    }
    const status = error.statusCode && error.statusCode >= 400 ? error.statusCode : 500;
    if (status >= 500) collector.log.error({ err: error.message, stack: error.stack }, 'admin API request failed');
    return reply.code(status).send({ error: { code: status === 413 ? ErrorCodes.TOO_LARGE : status >= 500 ? ErrorCodes.INTERNAL : ErrorCodes.BAD_INPUT, message: error.message } });
  });
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send({ error: { code: ErrorCodes.NOT_FOUND, message: `no route ${request.method} ${request.url.split('?')[0]}` } });
  });

  for (const routes of adminRoutes) await app.register(routes);
  return app;
}

/**
 * Whether a request needs the token, from the route it was routed to (fastify has decoded and
 * matched the path by now): every route unless it is marked public, and unmatched requests.
 */
export function needsToken(request: FastifyRequest): boolean {
  return request.routeOptions.config?.public !== true;
}

/** Browsers cannot set headers on a WebSocket: the tail accepts `?access_token=` too. */
function tokenFromQuery(request: FastifyRequest): string | undefined {
  const token = (request.query as Record<string, unknown> | undefined)?.access_token;
  return typeof token === 'string' ? `Bearer ${token}` : undefined;
}

async function readFile(path: string): Promise<Buffer> {
  const { readFile: rf } = await import('node:fs/promises');
  return rf(path);
}
