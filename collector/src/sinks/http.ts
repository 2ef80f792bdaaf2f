/**
 * http sink: POSTs each batch to a URL as NDJSON or a JSON array of records (record.ts), or of
 * bodies alone, optionally gzip-compressed. A batch is confirmed by a 2xx answer.
 *
 * What a failure means (docs/sinks.md "http"):
 * - retriable (the runner backs off and sends the same batch again): no connection (refused,
 *   reset, DNS, TLS), no answer within `timeout`, 408, 429 and every 5xx (`Retry-After` on 429
 *   and 503 becomes the runner's hint), and 3xx (a moved endpoint is a config problem, not the
 *   batch's: the events stay in the channel until `url` is fixed);
 * - not retriable (the runner parks the batch and reports it): every other 4xx — the destination
 *   looked at this batch and refused it.
 *
 * Every request carries `sluice-topic`, `sluice-first-offset`, `sluice-last-offset`,
 * `sluice-collector` and `idempotency-key: <collector>/<topic>/<first>-<last>`: a retry of the
 * same batch carries the same key, so a receiver can drop duplicates.
 *
 * Built on node:http rather than fetch: measured ~3–4× the throughput for 1,000-event batches
 * (docs/sinks.md), and TLS options (CA, client certificate) need no extra dependency.
 */
import { Type, type Static } from '@sinclair/typebox';
import { readFileSync } from 'node:fs';
import { checkTlsFiles } from '../net.ts';
import http from 'node:http';
import https from 'node:https';
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import { ErrorCodes, SluiceError } from '../../../shared/src/errors.ts';
import type { StoredEvent } from '../../../shared/src/event.ts';
import { EXPECTED, type ConfigProblem } from '../../../shared/src/spec.ts';
import type { Sink, SinkSpec } from '../components.ts';
import { Duration, toMs } from '../units.ts';
import { bodyOnlyJson, jsonArray, ndjson, recordJson } from './record.ts';

const gzip = promisify(gzipCallback);

export const HttpConfig = Type.Object(
  {
    url: Type.String({
      pattern: '^https?://[^\\s]+$',
      [EXPECTED]: 'an http:// or https:// URL such as https://hub.example.com:9880/{topic}',
      description: 'Where batches are sent (http:// or https://); `{topic}` is replaced by the batch\'s topic',
      examples: ['http://127.0.0.1:8080/ingest', 'https://hub.example.com:9880/{topic}'],
    }),
    method: Type.Union([Type.Literal('POST'), Type.Literal('PUT')], { default: 'POST', description: 'HTTP method' }),
    format: Type.Union([Type.Literal('ndjson'), Type.Literal('json_array')], {
      default: 'ndjson',
      description: '`ndjson`: one JSON value per line (Content-Type application/x-ndjson); `json_array`: one JSON array (application/json)',
    }),
    payload: Type.Union([Type.Literal('record'), Type.Literal('body')], {
      default: 'record',
      description: '`record`: {topic, offset, ts, key, headers, body} per event; `body`: the decoded body alone (base64 string when binary) — e.g. to feed another collector\'s http source',
    }),
    compression: Type.Union([Type.Literal('none'), Type.Literal('gzip')], { default: 'none', description: 'Compress request bodies (Content-Encoding: gzip)' }),
    headers: Type.Record(Type.String({ pattern: '^[A-Za-z0-9!#$%&\'*+.^_`|~-]+$' }), Type.String(), { default: {}, description: 'Extra request headers' }),
    token: Type.Optional(Type.String({ minLength: 1, description: 'Sent as `Authorization: Bearer <token>`' })),
    timeout: Duration('Give up on a request (connect, send and answer) after this long; it is retried', '30s'),
    tls: Type.Optional(
      Type.Object(
        {
          ca: Type.Optional(Type.String({ description: 'PEM file of the CA(s) to trust for the server\'s certificate (default: the system\'s)' })),
          cert: Type.Optional(Type.String({ description: 'PEM client certificate chain file, for servers that require one' })),
          key: Type.Optional(Type.String({ description: 'PEM private key file of the client certificate' })),
          insecure: Type.Boolean({ default: false, description: 'Accept any server certificate (testing only: anyone on the path can read and change the data)' }),
        },
        { additionalProperties: false, description: 'TLS options for https:// URLs' },
      ),
    ),
  },
  { additionalProperties: false },
);

export type HttpConfig = Static<typeof HttpConfig>;

interface Answer {
  status: number;
  statusText: string;
  headers: http.IncomingHttpHeaders;
  /** The start of the response body, for messages. */
  text: string;
}

const SNIPPET_BYTES = 512;
const MAX_RETRY_AFTER_MS = 3_600_000;
const CONNECTION_ERRORS: Record<string, string> = {
  ECONNREFUSED: 'connection refused by',
  ECONNRESET: 'connection reset by',
  EPIPE: 'connection closed by',
  ECONNABORTED: 'connection aborted by',
  EHOSTUNREACH: 'no route to',
  ENETUNREACH: 'network unreachable for',
  ETIMEDOUT: 'connection timed out to',
};

/** A Retry-After value (seconds or an HTTP date) in ms, or undefined. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (!raw) return undefined;
  const trimmed = raw.trim();
  let ms: number;
  if (/^\d+$/.test(trimmed)) ms = Number(trimmed) * 1000;
  else {
    const at = Date.parse(trimmed);
    if (Number.isNaN(at)) return undefined;
    ms = at - now;
  }
  return Math.min(MAX_RETRY_AFTER_MS, Math.max(0, ms));
}

/** A request body format other than the http sink's own JSON ones. */
export interface HttpPayload {
  contentType: string;
  encode(events: readonly StoredEvent[]): Buffer;
}

export class HttpSink implements Sink {
  readonly #config: HttpConfig;
  readonly #name: string;
  readonly #collector: string;
  readonly #signal: AbortSignal | undefined;
  readonly #agent: http.Agent;
  readonly #timeoutMs: number;
  readonly #encode: (events: readonly StoredEvent[]) => Buffer;
  readonly #staticHeaders: Record<string, string>;
  #requests = 0;
  #failures = 0;
  #lastStatus: number | null = null;
  #lastError: string | null = null;

  /** `payload` replaces the JSON encodings, for sinks that speak another format over the same transport (otlp). */
  constructor(config: HttpConfig, options: { name: string; collectorId: string; signal?: AbortSignal; payload?: HttpPayload }) {
    this.#config = config;
    this.#name = options.name;
    this.#collector = options.collectorId;
    this.#signal = options.signal;
    this.#timeoutMs = toMs(config.timeout);
    const item = config.payload === 'body' ? bodyOnlyJson : recordJson;
    this.#encode = options.payload?.encode ?? (config.format === 'json_array' ? (events) => jsonArray(events, item) : (events) => ndjson(events, item));
    const tls = config.tls;
    const readTls = (key: 'ca' | 'cert' | 'key') => {
      const file = tls?.[key];
      if (!file) return undefined;
      try {
        return readFileSync(file);
      } catch (error) {
        throw new SluiceError(ErrorCodes.CONFIG_INVALID, `sinks.${options.name}.tls.${key}: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, {
          where: `sinks.${options.name}.tls.${key}`,
          cause: error,
        });
      }
    };
    this.#agent = config.url.startsWith('https:')
      ? new https.Agent({ keepAlive: true, maxSockets: 4, ca: readTls('ca'), cert: readTls('cert'), key: readTls('key'), rejectUnauthorized: !tls?.insecure })
      : new http.Agent({ keepAlive: true, maxSockets: 4 });
    this.#staticHeaders = {
      'user-agent': 'sluice',
      'content-type': options.payload?.contentType ?? (config.format === 'json_array' ? 'application/json' : 'application/x-ndjson'),
      ...(config.compression === 'gzip' ? { 'content-encoding': 'gzip' } : {}),
      ...(config.token ? { authorization: `Bearer ${config.token}` } : {}),
      ...Object.fromEntries(Object.entries(config.headers).map(([k, v]) => [k.toLowerCase(), v])),
    };
  }

  async send(events: readonly StoredEvent[], topic: string): Promise<void> {
    if (events.length === 0) return;
    const encoded = this.#encode(events);
    const body = this.#config.compression === 'gzip' ? await gzip(encoded) : encoded;
    const url = new URL(this.#config.url.replaceAll('{topic}', encodeURIComponent(topic)));
    const first = events[0].offset;
    const last = events[events.length - 1].offset;
    const headers: Record<string, string | number> = {
      ...this.#staticHeaders,
      'content-length': body.length,
      'sluice-topic': topic,
      'sluice-first-offset': first,
      'sluice-last-offset': last,
      'sluice-collector': this.#collector,
      'idempotency-key': `${this.#collector}/${topic}/${first}-${last}`,
    };
    this.#requests++;
    let answer: Answer;
    try {
      answer = await this.#request(url, headers, body, true);
    } catch (error) {
      this.#failures++;
      this.#lastError = (error as Error).message;
      throw error;
    }
    this.#lastStatus = answer.status;
    if (answer.status >= 200 && answer.status < 300) return;
    this.#failures++;
    const error = this.#statusError(url, answer);
    this.#lastError = error.message;
    throw error;
  }

  close(): Promise<void> {
    this.#agent.destroy();
    return Promise.resolve();
  }

  describe(): Record<string, unknown> {
    return { url: this.#config.url, requests: this.#requests, failures: this.#failures, lastStatus: this.#lastStatus, lastError: this.#lastError };
  }

  #statusError(url: URL, answer: Answer): SluiceError {
    const { status } = answer;
    const what = `${this.#config.method} ${url.href} answered ${status}${answer.statusText ? ` ${answer.statusText}` : ''}`;
    const said = answer.text.trim() ? `: ${answer.text.trim().replace(/\s+/g, ' ').slice(0, 200)}` : '';
    if (status === 429 || status === 503 || status === 408 || status >= 500) {
      const retryAfterMs = status === 429 || status === 503 ? parseRetryAfter(answer.headers['retry-after']) : undefined;
      const hint = retryAfterMs === undefined ? '' : ` (Retry-After ${(retryAfterMs / 1000).toFixed(1)}s)`;
      return new SluiceError(ErrorCodes.DESTINATION_UNAVAILABLE, `sink "${this.#name}": ${what}${hint}${said}`, { retriable: true, retryAfterMs, where: url.href });
    }
    if (status >= 300 && status < 400) {
      const location = answer.headers.location ? ` to ${answer.headers.location}` : '';
      return new SluiceError(ErrorCodes.DESTINATION_UNAVAILABLE, `sink "${this.#name}": ${what} (redirect${location}; set url to the new address)`, { retriable: true, where: url.href });
    }
    const advice = status === 413 ? ' (the batch is too large for the server: lower batch.max_events or batch.max_bytes)' : status === 401 || status === 403 ? ' (check token)' : '';
    return new SluiceError(ErrorCodes.DESTINATION_REJECTED, `sink "${this.#name}": ${what}${advice}${said}`, { retriable: false, where: url.href });
  }

  #request(url: URL, headers: Record<string, string | number>, body: Buffer, retryOnStaleSocket: boolean): Promise<Answer> {
    const transport = url.protocol === 'https:' ? https : http;
    const peer = `${url.hostname}:${url.port || (url.protocol === 'https:' ? 443 : 80)}`;
    return new Promise<Answer>((resolve, reject) => {
      let settled = false;
      const finish = (error: SluiceError | null, answer?: Answer) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.#signal?.removeEventListener('abort', onAbort);
        if (error) reject(error);
        else resolve(answer!);
      };
      const req = transport.request(url, { method: this.#config.method, headers, agent: this.#agent });
      const timer = setTimeout(() => {
        req.destroy();
        finish(new SluiceError(ErrorCodes.DESTINATION_UNAVAILABLE, `sink "${this.#name}": no answer from ${url.href} within ${this.#config.timeout}`, { retriable: true, where: url.href }));
      }, this.#timeoutMs);
      const onAbort = () => {
        req.destroy();
        finish(new SluiceError(ErrorCodes.DESTINATION_UNAVAILABLE, `sink "${this.#name}": stopped while sending to ${url.href}`, { retriable: true, where: url.href }));
      };
      if (this.#signal?.aborted) return onAbort();
      this.#signal?.addEventListener('abort', onAbort, { once: true });

      req.on('error', (error: NodeJS.ErrnoException) => {
        if (settled) return;
        // A kept-alive connection the server closed while idle fails on first use: the request
        // never reached the server, so send it once more on a fresh connection.
        if (retryOnStaleSocket && req.reusedSocket && (error.code === 'ECONNRESET' || error.code === 'EPIPE')) {
          settled = true;
          clearTimeout(timer);
          this.#signal?.removeEventListener('abort', onAbort);
          this.#request(url, headers, body, false).then(resolve, reject);
          return;
        }
        finish(this.#connectionError(error, url, peer));
      });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        let kept = 0;
        res.on('data', (chunk: Buffer) => {
          if (kept < SNIPPET_BYTES) {
            chunks.push(chunk);
            kept += chunk.length;
          }
        });
        res.on('error', (error: NodeJS.ErrnoException) => finish(this.#connectionError(error, url, peer)));
        res.on('aborted', () => finish(this.#connectionError(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }), url, peer)));
        res.on('end', () =>
          finish(null, {
            status: res.statusCode ?? 0,
            statusText: res.statusMessage ?? '',
            headers: res.headers,
            text: Buffer.concat(chunks).subarray(0, SNIPPET_BYTES).toString('utf8'),
          }),
        );
      });
      req.end(body);
    });
  }

  #connectionError(error: NodeJS.ErrnoException, url: URL, peer: string): SluiceError {
    const code = error.code ?? '';
    let why: string;
    if (error.message === 'socket hang up') why = `connection closed by ${peer} before an answer`;
    else if (CONNECTION_ERRORS[code]) why = `${CONNECTION_ERRORS[code]} ${peer}`;
    else if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') why = `cannot resolve ${url.hostname} (${code})`;
    else if (/CERT|SSL|TLS|self[- ]signed|certificate/i.test(`${code} ${error.message}`)) {
      why = `TLS with ${peer} failed: ${error.message} (set tls.ca to the CA that signed the server's certificate)`;
    } else why = `request to ${url.href} failed: ${error.message}${code ? ` (${code})` : ''}`;
    return new SluiceError(ErrorCodes.DESTINATION_UNAVAILABLE, `sink "${this.#name}": ${why}`, { retriable: true, cause: error, where: peer });
  }
}

export const httpSink: SinkSpec<typeof HttpConfig> = {
  kind: 'sink',
  name: 'http',
  summary: 'POSTs batches of events to an HTTP endpoint as NDJSON or a JSON array',
  config: HttpConfig,
  examples: [
    { title: 'NDJSON records to a collector endpoint', config: { url: 'http://127.0.0.1:8080/ingest' } },
    {
      title: 'Bodies to another Sluice\'s http source, gzip, with a token',
      config: { url: 'https://hub.example.com:9880/{topic}', payload: 'body', format: 'json_array', compression: 'gzip', token: 'change-me-0123456789', timeout: '10s', tls: { ca: '/etc/sluice/ca.pem' } },
    },
  ],
  create: (config, ctx) => new HttpSink(config, { name: ctx.name, collectorId: ctx.collectorId, signal: ctx.signal }),
  async preflight(config, path) {
    const problems: ConfigProblem[] = [];
    try {
      new URL(config.url.replaceAll('{topic}', 'topic'));
    } catch {
      problems.push({ path: `${path}.url`, message: `not a URL: ${config.url}` });
    }
    if (config.tls && !config.url.startsWith('https:')) problems.push({ path: `${path}.tls`, message: 'tls is set but url is not https://' });
    problems.push(...checkTlsFiles(config.tls, path));
    return problems;
  },
};
