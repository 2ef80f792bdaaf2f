/**
 * The http source: `POST /<topic>` (the topic from the path, as Fluent Bit's http input takes
 * the tag) with JSON, NDJSON, msgpack or text bodies (decode.ts). Each request is all or
 * nothing: it is answered 200 only after every one of its events has committed, 400 when any
 * part of the body is bad (nothing stored), 503 + Retry-After while the channel applies
 * back-pressure (nothing stored; send it again).
 *
 * Request headers that map onto events (all optional):
 *   x-sluice-key: K           event key of every event of the request
 *   x-sluice-ts: T            event time, ms since the epoch or an ISO 8601 date (default: now)
 *   x-sluice-header-NAME: V   event header NAME = V
 *   content-encoding: gzip | deflate   the body is decompressed first (the size limit applies after)
 *
 * Built on node:http rather than fastify: on this hot path (one route, raw bodies) it was
 * measurably faster — see docs/sources.md.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { gunzipSync, inflateSync } from 'node:zlib';
import { bearerCheck } from '../../bearer.ts';
import { ErrorCodes, errorMessage, httpStatusFor, isRetriable, isSluiceError, retryAfterSeconds } from '../../../../shared/src/errors.ts';
import { isValidTopic, TOPIC_PATTERN, type EventDraft, type Headers } from '../../../../shared/src/event.ts';
import { DEFAULT_JSON_MAX_DEPTH } from '../../../../shared/src/json-limits.ts';
import type { ConfigProblem } from '../../../../shared/src/spec.ts';
import type { Source, SourceContext, SourceSpec } from '../../components.ts';
import { HttpListener } from '../http-listener.ts';
import { checkPortFree, checkTlsFiles, ListenSchema, parseListen, TlsSchema } from '../../net.ts';
import { bodyFormat, decodeBody, SUPPORTED_CONTENT_TYPES } from './decode.ts';

const HttpConfig = Type.Object(
  {
    listen: ListenSchema('127.0.0.1:9880', 'Address to listen on'),
    topic: Type.Optional(
      Type.String({ pattern: TOPIC_PATTERN.source, description: 'Topic for every request, overriding the one in the path (then any path is accepted)' }),
    ),
    token: Type.Optional(Type.String({ minLength: 1, description: 'Bearer token clients must send (`Authorization: Bearer TOKEN`); none: no authentication' })),
    tls: TlsSchema,
    max_body_bytes: Type.Integer({ minimum: 1, default: 16 * 1024 * 1024, description: 'Largest request body accepted (after decompression); larger ones get 413' }),
    max_depth: Type.Integer({
      minimum: 1,
      maximum: 1000,
      default: DEFAULT_JSON_MAX_DEPTH,
      description: 'Deepest nesting accepted in JSON and msgpack bodies (objects/maps and arrays); deeper bodies get 400 naming the limit, and nothing is stored',
    }),
    text: Type.Union([Type.Literal('lines'), Type.Literal('whole')], {
      default: 'lines',
      description: 'text/plain bodies: one event per line (blank lines skipped), or the whole body as one event',
    }),
  },
  { additionalProperties: false },
);

export type HttpSourceConfig = Static<typeof HttpConfig>;

const KEY_HEADER = 'x-sluice-key';
const TS_HEADER = 'x-sluice-ts';
const HEADER_PREFIX = 'x-sluice-header-';

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extraHeaders: Record<string, string> = {},
  ) {
    super(message);
  }
}

export class HttpSource implements Source {
  readonly #config: HttpSourceConfig;
  readonly #ctx: SourceContext;
  readonly #tokenOk: ((authorization: string | undefined) => boolean) | null;
  readonly #listener: HttpListener;

  constructor(config: HttpSourceConfig, ctx: SourceContext) {
    this.#config = config;
    this.#ctx = ctx;
    this.#listener = new HttpListener({ listen: config.listen, tls: config.tls, ctx, handle: (req, res) => this.#handle(req, res) });
    this.#tokenOk = config.token ? bearerCheck(config.token) : null;
  }

  /** The bound port (useful with `:0`). */
  get port(): number {
    return this.#listener.port;
  }

  start(): Promise<void> {
    return this.#listener.start();
  }

  /**
   * Stops so that every request a client sent gets an answer (http-listener.ts): requests in flight
   * finish (200 if stored); requests arriving on open connections meanwhile get 503 + Retry-After.
   */
  stop(): Promise<void> {
    return this.#listener.stop();
  }

  endpoints(): string[] {
    return [this.#listener.endpoint('/<topic>')];
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const topic = this.#route(req);
      const raw = await this.#readBody(req);
      const events = this.#events(req, topic, raw);
      if (this.#listener.stopping) throw new HttpError(503, ErrorCodes.CHANNEL_CLOSED, 'the source is shutting down; retry', { 'retry-after': '1' });
      let accepted = 0;
      let dropped = 0;
      if (events.length > 0) {
        const result = await this.#ctx.ingest(events);
        accepted = result.accepted;
        dropped = result.dropped;
      }
      const body = `{"accepted":${accepted},"dropped":${dropped}}`;
      if (this.#listener.stopping) res.setHeader('connection', 'close');
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    } catch (error) {
      this.#fail(req, res, error);
    }
  }

  #route(req: IncomingMessage): string {
    if (req.method !== 'POST') {
      throw new HttpError(405, ErrorCodes.NOT_FOUND, `${req.method} is not supported; POST events to /<topic>`, { allow: 'POST' });
    }
    if (this.#tokenOk) {
      if (!this.#tokenOk(req.headers.authorization)) {
        throw new HttpError(401, ErrorCodes.UNAUTHORIZED, 'missing or wrong bearer token (send Authorization: Bearer TOKEN)', { 'www-authenticate': 'Bearer' });
      }
    }
    if (this.#config.topic) return this.#config.topic;
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const topic = path.slice(1);
    if (topic === '' || topic.includes('/')) {
      throw new HttpError(404, ErrorCodes.NOT_FOUND, `no topic in path "${path}": POST events to /<topic>`);
    }
    if (!isValidTopic(topic)) {
      throw new HttpError(400, ErrorCodes.TOPIC_INVALID, `invalid topic "${topic}": use 1–249 letters, digits, '.', '_' or '-'`);
    }
    return topic;
  }

  #readBody(req: IncomingMessage): Promise<Buffer> {
    const limit = this.#config.max_body_bytes;
    const declared = Number(req.headers['content-length']);
    if (declared > limit) return Promise.reject(tooLarge(limit));
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const onData = (chunk: Buffer) => {
        size += chunk.length;
        if (size > limit) {
          req.off('data', onData);
          reject(tooLarge(limit));
          return;
        }
        chunks.push(chunk);
      };
      req.on('data', onData);
      req.once('end', () => resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size)));
      req.once('error', reject);
    });
  }

  #events(req: IncomingMessage, topic: string, raw: Buffer): EventDraft[] {
    const body = this.#decompress(req, raw);
    const format = bodyFormat(req.headers['content-type']);
    if (!format) {
      throw new HttpError(415, ErrorCodes.BAD_INPUT, `unsupported Content-Type "${req.headers['content-type']}"; use one of ${SUPPORTED_CONTENT_TYPES.join(', ')}`);
    }
    const decoded = decodeBody(format, body, { textWhole: this.#config.text === 'whole', maxDepth: this.#config.max_depth });
    const headers: Headers = { 'content-type': decoded.contentType };
    let key: string | null = null;
    let ts = Date.now();
    const h = req.headers;
    for (const name in h) {
      if (name.startsWith(HEADER_PREFIX) && name.length > HEADER_PREFIX.length) {
        headers[name.slice(HEADER_PREFIX.length)] = headerValue(h[name]);
      } else if (name === KEY_HEADER) {
        key = headerValue(h[name]);
      } else if (name === TS_HEADER) {
        ts = parseTs(headerValue(h[name]));
      }
    }
    // One headers object per request: interceptors never mutate their input (interceptors/types.ts).
    const events: EventDraft[] = new Array(decoded.bodies.length);
    for (let i = 0; i < decoded.bodies.length; i++) events[i] = { topic, ts, key, headers, body: decoded.bodies[i] };
    return events;
  }

  #decompress(req: IncomingMessage, raw: Buffer): Buffer {
    const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
    if (encoding === 'identity') return raw;
    const limit = this.#config.max_body_bytes;
    try {
      if (encoding === 'gzip' || encoding === 'x-gzip') return gunzipSync(raw, { maxOutputLength: limit });
      if (encoding === 'deflate') return inflateSync(raw, { maxOutputLength: limit });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || error instanceof RangeError) throw tooLarge(limit);
      throw new HttpError(400, ErrorCodes.BAD_INPUT, `cannot decompress ${encoding} body: ${errorMessage(error)}`);
    }
    throw new HttpError(415, ErrorCodes.BAD_INPUT, `unsupported Content-Encoding "${encoding}"; use gzip, deflate or none`);
  }

  #fail(req: IncomingMessage, res: ServerResponse, error: unknown): void {
    let status = 500;
    let code: string = ErrorCodes.INTERNAL;
    let extra: Record<string, string> = {};
    if (error instanceof HttpError) {
      status = error.status;
      code = error.code;
      extra = error.extraHeaders;
    } else if (isSluiceError(error)) {
      code = error.code;
      status = httpStatusFor(error);
      if (status === 503) extra = { 'retry-after': String(retryAfterSeconds(error)) };
    }
    if (status >= 500 && !isRetriable(error) && !(error instanceof HttpError)) {
      this.#ctx.log.error({ err: error }, `source "${this.#ctx.name}": request failed`);
    }
    const body = JSON.stringify({ error: { code, message: errorMessage(error) } });
    if (!req.complete) {
      // The body was not read to its end (413, or an early error): close rather than drain it.
      extra = { ...extra, connection: 'close' };
      res.once('finish', () => req.destroy());
    } else if (this.#listener.stopping) {
      extra = { ...extra, connection: 'close' };
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...extra });
    res.end(body);
  }
}

function tooLarge(limit: number): HttpError {
  return new HttpError(413, ErrorCodes.TOO_LARGE, `request body larger than max_body_bytes (${limit} bytes); send smaller batches`);
}

function headerValue(v: string | string[] | undefined): string {
  return Array.isArray(v) ? v.join(', ') : (v ?? '');
}

/** The latest time a JavaScript Date can hold (ms): later stamps could not be shown or exported. */
const MAX_TS = 8.64e15;

function parseTs(value: string): number {
  const n = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(n)) throw new HttpError(400, ErrorCodes.BAD_INPUT, `${TS_HEADER}: "${value}" is neither milliseconds since the epoch nor an ISO 8601 date`);
  if (n < 0 || n > MAX_TS) throw new HttpError(400, ErrorCodes.BAD_INPUT, `${TS_HEADER}: "${value}" is out of range (0 to ${MAX_TS} ms since the epoch, 1970 to 275760)`);
  return n;
}

async function preflight(config: HttpSourceConfig, path: string): Promise<ConfigProblem[]> {
  return [...checkTlsFiles(config.tls, path), ...(await checkPortFree(parseListen(config.listen), `${path}.listen`))];
}

export const httpSource: SourceSpec<typeof HttpConfig> = {
  kind: 'source',
  name: 'http',
  summary: 'Receives events over HTTP: POST /<topic> with JSON, NDJSON, msgpack or text; answers after the commit',
  config: HttpConfig,
  examples: [
    { title: 'Defaults: POST /<topic> on 127.0.0.1:9880', config: { listen: '127.0.0.1:9880' } },
    { title: 'One topic, bearer token, larger bodies', config: { listen: '0.0.0.0:9880', topic: 'web', token: 's3cret', max_body_bytes: 67108864 } },
    { title: 'HTTPS, whole text bodies as single events', config: { listen: '0.0.0.0:9443', tls: { cert: '/etc/sluice/cert.pem', key: '/etc/sluice/key.pem' }, text: 'whole' } },
  ],
  create: (config, ctx) => new HttpSource(config, ctx),
  preflight,
};
