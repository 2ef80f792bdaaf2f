/**
 * otlp sink: OpenTelemetry logs out over OTLP/HTTP — each batch is one protobuf
 * ExportLogsServiceRequest POSTed to `url` (`application/x-protobuf`, optionally gzip), so a hub
 * can feed any OpenTelemetry backend (an OpenTelemetry Collector, Loki, Elastic, Datadog …).
 *
 * Events that came in through the otlp source become their original log records again (body,
 * time, severity, trace/span ids, resource, scope and record attributes; collector/src/otlp/mapping.ts);
 * other events become records whose body is the event body as text and whose attributes are its
 * headers plus sluice.topic, sluice.offset and sluice.key.
 *
 * Transport, retries and failure classes are the http sink's (sinks/http.ts): retriable on no
 * connection, timeouts, 429 and 5xx (honouring Retry-After — the OTLP spec's retryable codes are
 * 429, 502, 503, 504); any other 4xx rejects the batch for good. A 200 with partial_success means
 * the backend refused some records on purpose: delivered, as the OTLP spec says not to retry it.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { StoredEvent } from '../../../shared/src/event.ts';
import type { ConfigProblem } from '../../../shared/src/spec.ts';
import type { SinkSpec } from '../components.ts';
import { checkTlsFiles } from '../net.ts';
import { eventsToRequest } from '../otlp/mapping.ts';
import { encodeRequestProto } from '../otlp/proto.ts';
import { HttpConfig, HttpSink } from './http.ts';

const OtlpConfig = Type.Object(
  {
    url: Type.String({
      pattern: '^https?://[^\\s]+$',
      default: 'http://127.0.0.1:4318/v1/logs',
      description: 'The OTLP/HTTP logs endpoint (the full URL, usually ending in /v1/logs)',
      examples: ['http://otel-collector:4318/v1/logs'],
    }),
    compression: HttpConfig.properties.compression,
    headers: HttpConfig.properties.headers,
    token: HttpConfig.properties.token,
    timeout: HttpConfig.properties.timeout,
    tls: HttpConfig.properties.tls,
  },
  { additionalProperties: false },
);

export type OtlpSinkConfig = Static<typeof OtlpConfig>;

export function encodeOtlpBatch(events: readonly StoredEvent[]): Buffer {
  const bytes = encodeRequestProto(eventsToRequest(events));
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export const otlpSink: SinkSpec<typeof OtlpConfig> = {
  kind: 'sink',
  name: 'otlp',
  summary: 'Sends events as OpenTelemetry log records over OTLP/HTTP (protobuf) to any OpenTelemetry backend',
  config: OtlpConfig,
  examples: [
    { title: 'To a local OpenTelemetry Collector', config: { url: 'http://127.0.0.1:4318/v1/logs' } },
    { title: 'To a vendor over HTTPS, gzip, with an API key header', config: { url: 'https://otlp.example.com/v1/logs', compression: 'gzip', headers: { 'x-api-key': 'change-me' } } },
  ],
  create: (config, ctx) =>
    new HttpSink(
      { ...config, method: 'POST', format: 'ndjson', payload: 'record' },
      { name: ctx.name, collectorId: ctx.collectorId, signal: ctx.signal, payload: { contentType: 'application/x-protobuf', encode: encodeOtlpBatch } },
    ),
  async preflight(config, path) {
    const problems: ConfigProblem[] = [];
    try {
      new URL(config.url);
    } catch {
      problems.push({ path: `${path}.url`, message: `not a URL: ${config.url}` });
    }
    if (config.tls && !config.url.startsWith('https:')) problems.push({ path: `${path}.tls`, message: 'tls is set but url is not https://' });
    problems.push(...checkTlsFiles(config.tls, path));
    return problems;
  },
};
