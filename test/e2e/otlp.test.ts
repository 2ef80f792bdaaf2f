/**
 * The otlp source and sink end to end, with real OpenTelemetry JS SDK exporters from npm
 * (`@opentelemetry/exporter-logs-otlp-proto` and `-http`) sending to a real `sluice start`
 * process: every record arrives once, in order, with severity, trace/span ids and resource and
 * scope attributes as headers; JSON with fetch; gzip; a bad payload gets 400 and stores nothing;
 * a full channel answers 503 + Retry-After. The collector's otlp sink sends a topic to a second
 * collector's otlp source (the records arrive as they were sent: a round trip).
 */
import { context, trace, TraceFlags } from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { OTLPLogExporter as HttpJsonExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPLogExporter as ProtoExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, LoggerProvider } from '@opentelemetry/sdk-logs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeStatusProto, encodeRequestProto } from '../../collector/src/otlp/proto.ts';
import { freePort, removeDir, startCollector, tempDir, until, type CollectorProcess } from '../helpers/process.ts';
import { otelPython } from '../helpers/python-otel.ts';

interface ApiEvent {
  offset: number;
  ts: number;
  headers: Record<string, string>;
  body: unknown;
}

const running: CollectorProcess[] = [];
const dir = tempDir('sluice-otlp-');
let collector: CollectorProcess;
let hub: CollectorProcess;
let otlpUrl: string;

beforeAll(async () => {
  const ports = { admin: await freePort(), otlp: await freePort(), hubAdmin: await freePort(), hubOtlp: await freePort() };
  // The hub: another process whose otlp source receives what the edge's otlp sink sends.
  hub = await startCollector({
    dir: tempDir('sluice-otlp-hub-'),
    config: `admin:
  listen: 127.0.0.1:${ports.hubAdmin}
sources:
  otel:
    type: otlp
    listen: 127.0.0.1:${ports.hubOtlp}
    topic_from: service.name
`,
  });
  running.push(hub);
  collector = await startCollector({
    dir,
    config: `admin:
  listen: 127.0.0.1:${ports.admin}
channel:
  path: ${dir}/data
sources:
  otel:
    type: otlp
    listen: 127.0.0.1:${ports.otlp}
    topic_from: service.name
    max_body_bytes: 1048576
sinks:
  hub:
    type: otlp
    url: http://127.0.0.1:${ports.hubOtlp}/v1/logs
    topics: [checkout]
`,
  });
  running.push(collector);
  otlpUrl = `http://127.0.0.1:${ports.otlp}/v1/logs`;
}, 60_000);

afterAll(async () => {
  for (const c of running) await c.kill();
  removeDir(dir);
});

async function events(topic: string, limit = 10_000, from = collector): Promise<ApiEvent[]> {
  const r = await from.api<{ events: ApiEvent[] }>(`/api/v1/topics/${topic}/events?limit=${limit}&raw=false`);
  return r.events;
}

async function count(topic: string): Promise<number> {
  const r = await fetch(`${collector.adminUrl}/api/v1/topics/${topic}`);
  return r.ok ? ((await r.json()) as { count: number }).count : 0;
}

/** Emits n records through the SDK into one export (one request keeps them in order), then shuts down. */
async function sendWithSdk(exporter: ProtoExporter | HttpJsonExporter, service: string, n: number): Promise<void> {
  const provider = new LoggerProvider({
    resource: resourceFromAttributes({ 'service.name': service, 'deployment.environment': 'test' }),
    processors: [new BatchLogRecordProcessor({ exporter, maxExportBatchSize: n, maxQueueSize: n, scheduledDelayMillis: 60_000 })],
  });
  const logger = provider.getLogger('sluice-test', '1.2.3');
  for (let i = 0; i < n; i++) {
    const traceId = (i + 1).toString(16).padStart(32, '0'); // all zeros is an invalid context
    const spanId = (i + 1).toString(16).padStart(16, '0');
    const ctx = trace.setSpanContext(context.active(), { traceId, spanId, traceFlags: TraceFlags.SAMPLED });
    logger.emit({
      severityNumber: i % 2 === 0 ? SeverityNumber.INFO : SeverityNumber.ERROR,
      severityText: i % 2 === 0 ? 'INFO' : 'ERROR',
      body: `record ${i}`,
      attributes: { i, 'http.route': '/pay' },
      context: ctx,
    });
  }
  await provider.forceFlush();
  await provider.shutdown();
}

describe('otlp source with the OpenTelemetry JS SDK', () => {
  it('protobuf exporter: every record once, in order, with severity, ids and attributes as headers', async () => {
    const n = 500;
    await sendWithSdk(new ProtoExporter({ url: otlpUrl }), 'checkout', n);
    const got = await until(async () => {
      const e = await events('checkout');
      return e.length >= n ? e : null;
    }, { what: `${n} records on topic checkout` });
    expect(got).toHaveLength(n);
    got.forEach((e, i) => {
      expect(e.body).toBe(`record ${i}`);
      expect(e.headers).toMatchObject({
        'content-type': 'text/plain',
        'otel.severity_number': String(i % 2 === 0 ? 9 : 17),
        'otel.severity_text': i % 2 === 0 ? 'INFO' : 'ERROR',
        'otel.trace_id': (i + 1).toString(16).padStart(32, '0'),
        'otel.span_id': (i + 1).toString(16).padStart(16, '0'),
        'otel.resource.service.name': 'checkout',
        'otel.resource.deployment.environment': 'test',
        'otel.scope.name': 'sluice-test',
        'otel.scope.version': '1.2.3',
        'otel.attr.i': String(i),
        'otel.attr.http.route': '/pay',
      });
    });
  });

  it('the otlp sink sends those records to another collector\'s otlp source: the same records arrive, once, in order', async () => {
    const edge = await events('checkout');
    const got = await until(async () => {
      const e = await events('checkout', 10_000, hub);
      return e.length >= edge.length ? e : null;
    }, { what: `${edge.length} records on the hub` });
    expect(got).toHaveLength(edge.length);
    got.forEach((e, i) => {
      expect(e.body).toBe(edge[i].body);
      expect(e.ts).toBe(edge[i].ts);
      expect(e.headers).toEqual(edge[i].headers);
    });
  });

  it('protobuf exporter with gzip, and the JSON exporter: every record arrives', async () => {
    await sendWithSdk(new ProtoExporter({ url: otlpUrl, compression: 'gzip' } as ConstructorParameters<typeof ProtoExporter>[0]), 'gzipped', 200);
    await sendWithSdk(new HttpJsonExporter({ url: otlpUrl }), 'json', 200);
    await until(async () => (await count('gzipped')) === 200 && (await count('json')) === 200, { what: '200 records on gzipped and json' });
    const json = await events('json');
    expect(json.map((e) => e.body)).toEqual(Array.from({ length: 200 }, (_, i) => `record ${i}`));
    expect(json[3].headers['otel.trace_id']).toBe('4'.padStart(32, '0'));
  });

  it('JSON with fetch (gzip): kvlist body as application/json; an invalid topic is a partial success', async () => {
    const request = {
      resourceLogs: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'curl' } }] },
          scopeLogs: [{ logRecords: [{ timeUnixNano: '1700000000000000000', body: { kvlistValue: { values: [{ key: 'user', value: { stringValue: 'ann' } }] } } }] }],
        },
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'bad topic!' } }] },
          scopeLogs: [{ logRecords: [{ body: { stringValue: 'x' } }, { body: { stringValue: 'y' } }] }],
        },
      ],
    };
    const r = await fetch(otlpUrl, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: gzipSync(JSON.stringify(request)) });
    expect(r.status).toBe(200);
    const answer = (await r.json()) as { partialSuccess: { rejectedLogRecords: string; errorMessage: string } };
    expect(answer.partialSuccess.rejectedLogRecords).toBe('2');
    expect(answer.partialSuccess.errorMessage).toMatch(/service\.name="bad topic!" is not a valid topic/);
    const [e] = await events('curl');
    expect(e.body).toEqual({ user: 'ann' });
    expect(e.ts).toBe(1_700_000_000_000);
    expect(e.headers['content-type']).toBe('application/json');
  });

  it('a bad payload gets 400 with a google.rpc.Status and stores nothing', async () => {
    const before = await count('otlp');
    const proto = await fetch(otlpUrl, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01]) });
    expect(proto.status).toBe(400);
    const status = decodeStatusProto(new Uint8Array(await proto.arrayBuffer()));
    expect(status.code).toBe(3);
    expect(status.message).toMatch(/bad ExportLogsServiceRequest \(protobuf/);
    const json = await fetch(otlpUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"resourceLogs": [' });
    expect(json.status).toBe(400);
    expect(((await json.json()) as { message: string }).message).toMatch(/bad ExportLogsServiceRequest \(JSON/);
    const wrongType = await fetch(otlpUrl, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hi' });
    expect(wrongType.status).toBe(415);
    const wrongPath = await fetch(otlpUrl.replace('/v1/logs', '/v1/traces'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(wrongPath.status).toBe(404);
    // Larger than max_body_bytes, as sent or once decompressed: 413, nothing stored.
    const big = await fetch(otlpUrl, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: Buffer.alloc(2 * 1024 * 1024) });
    expect(big.status).toBe(413);
    const bomb = await fetch(otlpUrl, { method: 'POST', headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' }, body: gzipSync(Buffer.alloc(4 * 1024 * 1024)) });
    expect(bomb.status).toBe(413);
    expect(decodeStatusProto(new Uint8Array(await bomb.arrayBuffer())).message).toMatch(/max_body_bytes \(1048576 bytes\)/);
    expect(await count('otlp')).toBe(before);
  });

  it('a full channel answers 503 with Retry-After and stores nothing of that request', async () => {
    // A second collector: a 4 KiB channel whose only sink cannot deliver (nothing listens there).
    const ports = { admin: await freePort(), otlp: await freePort(), away: await freePort() };
    const small = await startCollector({
      dir: tempDir('sluice-otlp-full-'),
      config: `admin:
  listen: 127.0.0.1:${ports.admin}
channel:
  max_bytes: 4KiB
sources:
  small:
    type: otlp
    listen: 127.0.0.1:${ports.otlp}
    topic: tiny
sinks:
  away:
    type: http
    url: http://127.0.0.1:${ports.away}/
    topics: [tiny]
`,
    });
    running.push(small);
    const fullUrl = `http://127.0.0.1:${ports.otlp}/v1/logs`;
    const count = async (topic: string) => (await small.api<{ count: number }>(`/api/v1/topics/${topic}`)).count;
    const big = (n: number) =>
      JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords: Array.from({ length: n }, (_, i) => ({ body: { stringValue: `${i}`.padEnd(400, '.') } })) }] }] });
    let refused: Response | null = null;
    for (let i = 0; i < 20 && !refused; i++) {
      const r = await fetch(fullUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: big(2) });
      if (r.status === 503) refused = r;
      else expect(r.status).toBe(200);
    }
    expect(refused, 'the topic never filled').not.toBeNull();
    expect(Number(refused!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(((await refused!.json()) as { code: number }).code).toBe(14);
    const stored = await count('tiny');
    expect((await fetch(fullUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: big(2) })).status).toBe(503);
    expect(await count('tiny')).toBe(stored);
  });
});

// Python's exporter: $SLUICE_OTEL_PYTHON, or a venv under .cache/ made on first use from PyPI
// (test/helpers/python-otel.ts); skipped, with the reason, where that cannot be done.
const PY = otelPython();
const PYTHON = 'python' in PY ? PY.python : '';
const HAS_PYTHON_OTEL = 'python' in PY;
if ('skip' in PY) console.log(`otlp e2e: the Python exporter case is skipped: ${PY.skip}`);

describe('otlp source with the OpenTelemetry Python SDK', () => {
  it.runIf(HAS_PYTHON_OTEL)('python logging through the OTLP/HTTP exporter: every record once, in order', async () => {
    const n = 300;
    const r = spawnSync(PYTHON, [join(import.meta.dirname, 'otlp/python_exporter.py'), otlpUrl, String(n)], { encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const got = await until(async () => {
      const e = await events('pyapp');
      return e.length >= n ? e : null;
    }, { what: `${n} records from Python` });
    expect(got.map((e) => e.body)).toEqual(Array.from({ length: n }, (_, i) => `py record ${i}`));
    expect(got[0].headers).toMatchObject({ 'otel.severity_number': '13', 'otel.severity_text': 'WARN', 'otel.resource.service.name': 'pyapp' });
  });
});

describe('otlp source and kill -9', () => {
  it('every record of every 200 OK survives a SIGKILL of the collector mid-stream', async () => {
    const ports = { admin: await freePort(), otlp: await freePort() };
    const crashDir = tempDir('sluice-otlp-kill-');
    const config = `admin:
  listen: 127.0.0.1:${ports.admin}
sources:
  otel:
    type: otlp
    listen: 127.0.0.1:${ports.otlp}
    topic: crash
`;
    const first = await startCollector({ dir: crashDir, config, adminPort: ports.admin });
    running.push(first);
    const url = `http://127.0.0.1:${ports.otlp}/v1/logs`;
    const acked = new Set<number>();
    let stop = false;
    const sender = (async () => {
      for (let req = 0; !stop && req < 150; req++) {
        // ≤ 150 × 50 records: within one events page (10,000)
        const body = Buffer.from(encodeRequestProto({ resourceLogs: [{ scopeLogs: [{ logRecords: Array.from({ length: 50 }, (_, i) => ({ body: { stringValue: `${req}:${i}` } })) }] }] }));
        try {
          const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body });
          if (r.status === 200) acked.add(req);
        } catch {
          return; // the collector is gone: this request was never acknowledged
        }
      }
    })();
    await until(() => acked.size >= 20, { what: '20 acknowledged requests' });
    await first.kill();
    stop = true;
    await sender;
    const again = await startCollector({ dir: crashDir, config, adminPort: ports.admin });
    running.push(again);
    const stored = new Set((await events('crash', 10_000, again)).map((e) => String(e.body)));
    for (const req of acked) for (let i = 0; i < 50; i++) expect(stored.has(`${req}:${i}`), `record ${req}:${i} was acknowledged`).toBe(true);
  });
});
