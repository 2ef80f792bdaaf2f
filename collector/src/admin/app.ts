/**
 * The admin API (DESIGN §6), built apart from listen() so tests use inject(). JSON under
 * /api/v1/, errors as `{ "error": { "code", "message" } }` with a proper status, Prometheus text
 * at /metrics, the web UI at /.
 *
 * Access: a bearer token, when configured, is required on every /api and /metrics request (the
 * config refuses a non-loopback listen without one). CORS allows only the UI's own origin and
 * the configured `admin.cors_origins`.
 */
import cors from '@fastify/cors';
import websocket from '@fastify/websocket';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { timingSafeEqual } from 'node:crypto';
import { ErrorCodes, isSluiceError } from '../../../shared/src/errors.ts';
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
}

export async function buildAdminApp(collector: Collector, _options: AdminAppOptions = {}): Promise<FastifyInstance> {
  const admin = collector.config.admin;
  const https = admin.tls ? { https: { cert: await readFile(admin.tls.cert), key: await readFile(admin.tls.key) } } : {};
  const app = Fastify({
    logger: false,
    bodyLimit: admin.maxBodyBytes,
    ...https,
  }) as unknown as FastifyInstance;
  app.decorate('collector', collector);

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
    const expected = Buffer.from(`Bearer ${admin.token}`);
    app.addHook('onRequest', async (request, reply) => {
      if (!needsToken(request.url)) return;
      const given = Buffer.from(request.headers.authorization ?? tokenFromQuery(request) ?? '');
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
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
      return reply.code(statusFor(error.code)).send({ error: { code: error.code, message: error.message } });
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

/** The UI's static files need no token (they hold no data); the API and metrics do. */
function needsToken(url: string): boolean {
  return url.startsWith('/api/') || url.startsWith('/metrics');
}

/** Browsers cannot set headers on a WebSocket: the tail accepts `?access_token=` too. */
function tokenFromQuery(request: FastifyRequest): string | undefined {
  const token = (request.query as Record<string, unknown> | undefined)?.access_token;
  return typeof token === 'string' ? `Bearer ${token}` : undefined;
}

export function statusFor(code: string): number {
  switch (code) {
    case ErrorCodes.NOT_FOUND:
    case ErrorCodes.TOPIC_NOT_FOUND:
    case ErrorCodes.CURSOR_NOT_FOUND:
      return 404;
    case ErrorCodes.UNAUTHORIZED:
      return 401;
    case ErrorCodes.CHANNEL_FULL:
    case ErrorCodes.CHANNEL_CLOSED:
      return 503;
    case ErrorCodes.TOO_LARGE:
      return 413;
    case ErrorCodes.EXPORT_DISABLED:
      return 403;
    case ErrorCodes.CHANNEL_CORRUPT:
      return 410;
    case ErrorCodes.OFFSET_OUT_OF_RANGE:
    case ErrorCodes.BAD_INPUT:
    case ErrorCodes.TOPIC_INVALID:
    case ErrorCodes.CONFIG_INVALID:
    case ErrorCodes.SCAN_LIMIT:
      return 400;
    default:
      return 500;
  }
}

async function readFile(path: string): Promise<Buffer> {
  const { readFile: rf } = await import('node:fs/promises');
  return rf(path);
}
