/**
 * The otlp source: OpenTelemetry logs over OTLP/HTTP (https://opentelemetry.io/docs/specs/otlp/).
 * `POST /v1/logs` with an ExportLogsServiceRequest, protobuf (`application/x-protobuf`) or JSON
 * (`application/json`), optionally gzip/deflate (Content-Encoding; the size limit applies after
 * decompression). Each log record becomes one event (the mapping: collector/src/otlp/mapping.ts,
 * docs/otlp.md). Answers as the OTLP spec says, in the request's encoding:
 *   200 + ExportLogsServiceResponse   after every accepted record committed; partial_success
 *                                     (rejected_log_records, error_message) when some were refused
 *   400 + google.rpc.Status           undecodable payload: nothing stored
 *   413                               body larger than max_body_bytes
 *   415                               other Content-Type / Content-Encoding
 *   503 + Retry-After                 the channel applies back-pressure: nothing stored, retry
 * OTLP exporters retry 429/502/503/504 honouring Retry-After and drop on other codes.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { gunzipSync, inflateSync } from 'node:zlib';
import { bearerCheck } from '../bearer.ts';
import { errorMessage, httpStatusFor, isRetriable, isSluiceError, retryAfterSeconds } from '../../../shared/src/errors.ts';
import { isValidTopic, TOPIC_PATTERN, type EventDraft } from '../../../shared/src/event.ts';
import type { ConfigProblem } from '../../../shared/src/spec.ts';
import type { Source, SourceContext, SourceSpec } from '../components.ts';
import { HttpListener } from './http-listener.ts';
import { checkPortFree, checkTlsFiles, ListenSchema, parseListen, TlsSchema } from '../net.ts';
import { recordToEvent, resourceAttribute, scopeHeaders } from '../otlp/mapping.ts';
import { decodeRequestJson, decodeRequestProto, encodeResponse, encodeStatus, type ExportLogsServiceRequest } from '../otlp/proto.ts';

const OtlpConfig = Type.Object(
  {
    listen: ListenSchema('127.0.0.1:4318', 'Address to listen on (OTLP/HTTP default port 4318)'),
    topic: Type.String({ pattern: TOPIC_PATTERN.source, default: 'otlp', description: 'Topic of every record (unless topic_from names a resource attribute the record has)' }),
    topic_from: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'A resource attribute whose value is the topic, e.g. `service.name`; records without it go to `topic`; a value that is not a valid topic refuses the record (partial success)',
      }),
    ),
    token: Type.Optional(Type.String({ minLength: 1, description: 'Bearer token exporters must send (`Authorization: Bearer TOKEN`); none: no authentication' })),
    tls: TlsSchema,
    max_body_bytes: Type.Integer({ minimum: 1, default: 16 * 1024 * 1024, description: 'Largest request body accepted (after decompression); larger ones get 413' }),
  },
  { additionalProperties: false },
);

export type OtlpSourceConfig = Static<typeof OtlpConfig>;

const LOGS_PATH = '/v1/logs';
/** gRPC status codes carried in google.rpc.Status bodies. */
const GRPC = { INVALID_ARGUMENT: 3, NOT_FOUND: 5, RESOURCE_EXHAUSTED: 8, UNAUTHENTICATED: 16, UNAVAILABLE: 14, INTERNAL: 13, UNIMPLEMENTED: 12 } as const;

class OtlpHttpError extends Error {
  constructor(
    readonly status: number,
    readonly grpcCode: number,
    message: string,
    readonly extraHeaders: Record<string, string> = {},
  ) {
    super(message);
  }
}

export class OtlpSource implements Source {
  readonly #config: OtlpSourceConfig;
  readonly #ctx: SourceContext;
  readonly #tokenOk: ((authorization: string | undefined) => boolean) | null;
  readonly #listener: HttpListener;

  constructor(config: OtlpSourceConfig, ctx: SourceContext) {
    this.#config = config;
    this.#ctx = ctx;
    this.#listener = new HttpListener({ listen: config.listen, tls: config.tls, ctx, handle: (req, res) => this.#handle(req, res) });
    this.#tokenOk = config.token ? bearerCheck(config.token) : null;
  }

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
    return [this.#listener.endpoint(`${LOGS_PATH}`)];
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const json = isJson(req.headers['content-type']);
    try {
      this.#route(req);
      const raw = await this.#readBody(req);
      const request = this.#decode(req, raw, json);
      const { events, rejected, reasons } = this.#events(request);
      if (this.#listener.stopping) throw new OtlpHttpError(503, GRPC.UNAVAILABLE, 'the source is shutting down; retry', { 'retry-after': '1' });
      if (events.length > 0) await this.#ctx.ingest(events);
      const body = encodeResponse(json, rejected > 0 ? { rejectedLogRecords: rejected, errorMessage: reasons } : null);
      if (this.#listener.stopping) res.setHeader('connection', 'close');
      res.writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    } catch (error) {
      this.#fail(req, res, error, json);
    }
  }

  #route(req: IncomingMessage): void {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    if (path !== LOGS_PATH) throw new OtlpHttpError(404, GRPC.UNIMPLEMENTED, `no OTLP endpoint at "${path}": this source receives logs at POST ${LOGS_PATH}`);
    if (req.method !== 'POST') throw new OtlpHttpError(405, GRPC.UNIMPLEMENTED, `${req.method} is not supported; POST logs to ${LOGS_PATH}`, { allow: 'POST' });
    if (this.#tokenOk) {
      if (!this.#tokenOk(req.headers.authorization)) {
        throw new OtlpHttpError(401, GRPC.UNAUTHENTICATED, 'missing or wrong bearer token (send Authorization: Bearer TOKEN)', { 'www-authenticate': 'Bearer' });
      }
    }
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

  #decode(req: IncomingMessage, raw: Buffer, json: boolean): ExportLogsServiceRequest {
    const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    if (!json && type !== 'application/x-protobuf' && type !== 'application/protobuf') {
      throw new OtlpHttpError(415, GRPC.INVALID_ARGUMENT, `unsupported Content-Type "${type}"; OTLP/HTTP uses application/x-protobuf or application/json`);
    }
    const body = this.#decompress(req, raw);
    try {
      return json ? decodeRequestJson(body.toString('utf8')) : decodeRequestProto(body);
    } catch (error) {
      throw new OtlpHttpError(400, GRPC.INVALID_ARGUMENT, `bad ExportLogsServiceRequest (${json ? 'JSON' : 'protobuf'}, ${body.length} bytes): ${errorMessage(error)}`);
    }
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
      throw new OtlpHttpError(400, GRPC.INVALID_ARGUMENT, `cannot decompress ${encoding} body: ${errorMessage(error)}`);
    }
    throw new OtlpHttpError(415, GRPC.INVALID_ARGUMENT, `unsupported Content-Encoding "${encoding}"; use gzip, deflate or none`);
  }

  /** One event per record, in request order; records routed to an invalid topic are refused. */
  #events(request: ExportLogsServiceRequest): { events: EventDraft[]; rejected: number; reasons: string } {
    const events: EventDraft[] = [];
    const now = Date.now();
    const topicFrom = this.#config.topic_from;
    let rejected = 0;
    let reasons = '';
    for (const rl of request.resourceLogs ?? []) {
      let topic = this.#config.topic;
      if (topicFrom) {
        const value = resourceAttribute(rl, topicFrom);
        if (value !== undefined && !isValidTopic(value)) {
          let count = 0;
          for (const sl of rl.scopeLogs ?? []) count += sl.logRecords?.length ?? 0;
          rejected += count;
          if (!reasons) reasons = `resource attribute ${topicFrom}="${value}" is not a valid topic (1–249 letters, digits, '.', '_' or '-'); ${count} record(s) refused`;
          continue;
        }
        if (value !== undefined) topic = value;
      }
      for (const sl of rl.scopeLogs ?? []) {
        const base = scopeHeaders(rl, sl.scope);
        for (const record of sl.logRecords ?? []) events.push(recordToEvent(topic, base, record, now));
      }
    }
    return { events, rejected, reasons };
  }

  #fail(req: IncomingMessage, res: ServerResponse, error: unknown, json: boolean): void {
    let status = 500;
    let grpc: number = GRPC.INTERNAL;
    let extra: Record<string, string> = {};
    if (error instanceof OtlpHttpError) {
      status = error.status;
      grpc = error.grpcCode;
      extra = error.extraHeaders;
    } else if (isSluiceError(error)) {
      status = httpStatusFor(error);
      if (status === 503) {
        grpc = GRPC.UNAVAILABLE;
        extra = { 'retry-after': String(retryAfterSeconds(error)) };
      } else if (status === 400) {
        grpc = GRPC.INVALID_ARGUMENT;
      }
    }
    if (status >= 500 && !isRetriable(error) && !(error instanceof OtlpHttpError)) {
      this.#ctx.log.error({ err: error }, `source "${this.#ctx.name}": request failed`);
    }
    const body = encodeStatus(json, grpc, errorMessage(error));
    if (!req.complete) {
      extra = { ...extra, connection: 'close' };
      res.once('finish', () => req.destroy());
    } else if (this.#listener.stopping) {
      extra = { ...extra, connection: 'close' };
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.writeHead(status, { 'content-type': json ? 'application/json' : 'application/x-protobuf', 'content-length': Buffer.byteLength(body), ...extra });
    res.end(body);
  }
}

function isJson(contentType: string | undefined): boolean {
  return (contentType ?? '').split(';')[0].trim().toLowerCase() === 'application/json';
}

function tooLarge(limit: number): OtlpHttpError {
  return new OtlpHttpError(413, GRPC.RESOURCE_EXHAUSTED, `request body larger than max_body_bytes (${limit} bytes); send smaller batches`);
}

async function preflight(config: OtlpSourceConfig, path: string): Promise<ConfigProblem[]> {
  return [...checkTlsFiles(config.tls, path), ...(await checkPortFree(parseListen(config.listen), `${path}.listen`))];
}

export const otlpSource: SourceSpec<typeof OtlpConfig> = {
  kind: 'source',
  name: 'otlp',
  summary: 'Receives OpenTelemetry logs over OTLP/HTTP (POST /v1/logs, protobuf or JSON); one event per log record, answered after the commit',
  config: OtlpConfig,
  examples: [
    { title: 'Defaults: OTLP/HTTP on 127.0.0.1:4318, topic otlp', config: { listen: '127.0.0.1:4318' } },
    { title: 'A topic per service (resource attribute service.name), bearer token', config: { listen: '0.0.0.0:4318', topic: 'otel-logs', topic_from: 'service.name', token: 's3cret' } },
  ],
  create: (config, ctx) => new OtlpSource(config, ctx),
  preflight,
};
