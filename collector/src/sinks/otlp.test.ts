/**
 * The otlp sink against a real HTTP receiver. The payload is checked at the wire level with
 * protobufjs' Reader against the field numbers of the official opentelemetry-proto definitions
 * (ExportLogsServiceRequest.resource_logs = 1, ResourceLogs.scope_logs = 2, …) — not with the
 * schema the sink encodes with, so a wrong field in collector/src/otlp/proto.ts would show.
 */
import protobuf from 'protobufjs';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCodes, isRetriable, type SluiceError } from '../../../shared/src/errors.ts';
import type { StoredEvent } from '../../../shared/src/event.ts';
import type { Sink } from '../components.ts';
import { buildSink, Receiver } from './testing.ts';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function receiver(): Promise<Receiver> {
  const r = await Receiver.start();
  cleanups.push(() => r.stop());
  return r;
}

function otlp(config: Record<string, unknown>): Sink {
  const s = buildSink({ type: 'otlp', ...config }, 'otel');
  cleanups.push(() => s.close());
  return s;
}

/** Every field of a message as [field number, value]: length-delimited as bytes, varints as numbers, fixed64 as bigint. */
type Field = [number, Uint8Array | number | bigint];
function fields(bytes: Uint8Array): Field[] {
  const r = protobuf.Reader.create(bytes);
  const out: Field[] = [];
  while (r.pos < r.len) {
    const tag = r.uint32();
    const no = tag >>> 3;
    switch (tag & 7) {
      case 0:
        {
          const v = r.uint64() as unknown as { low: number; high: number };
          out.push([no, Number((BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0))]);
        }
        break;
      case 1: {
        const lo = r.fixed32() >>> 0;
        const hi = r.fixed32() >>> 0;
        out.push([no, (BigInt(hi) << 32n) | BigInt(lo)]);
        break;
      }
      case 2:
        out.push([no, r.bytes()]);
        break;
      case 5:
        out.push([no, r.fixed32()]);
        break;
      default:
        throw new Error(`unexpected wire type ${tag & 7}`);
    }
  }
  return out;
}
const all = (fs: Field[], no: number) => fs.filter(([n]) => n === no).map(([, v]) => v);
const one = (fs: Field[], no: number) => all(fs, no)[0];
const msg = (v: unknown) => fields(v as Uint8Array);
const str = (v: unknown) => Buffer.from(v as Uint8Array).toString('utf8');
const keyValues = (kvs: unknown[]) => Object.fromEntries(kvs.map((kv) => [str(one(msg(kv), 1)), str(one(msg(one(msg(kv), 2)), 1))]));

const TRACE = '5b8efff798038103d269b633813fc60c';
const fromOtlp: StoredEvent = {
  topic: 'checkout',
  offset: 0,
  ts: 1_700_000_000_123,
  key: null,
  body: Buffer.from('card declined'),
  headers: {
    'content-type': 'text/plain',
    'otel.time_unix_nano': '1700000000123456789',
    'otel.severity_number': '17',
    'otel.severity_text': 'ERROR',
    'otel.trace_id': TRACE,
    'otel.span_id': 'eee19b7ec3c1b174',
    'otel.resource.service.name': 'checkout',
    'otel.scope.name': 'app',
    'otel.attr.order': 'A-1',
  },
};
const plain: StoredEvent = { topic: 'web', offset: 5, ts: 2000, key: 'k', body: Buffer.from('{"a":1}'), headers: { 'content-type': 'application/json', env: 'prod' } };

describe('otlp sink', () => {
  it('POSTs one protobuf ExportLogsServiceRequest per batch, with the official field numbers', async () => {
    const r = await receiver();
    await otlp({ url: r.url('/v1/logs') }).send([fromOtlp, plain], 'mixed');
    expect(r.accepted).toHaveLength(1);
    const req = r.accepted[0];
    expect(req.url).toBe('/v1/logs');
    expect(req.headers['content-type']).toBe('application/x-protobuf');
    const resourceLogs = all(fields(req.body), 1).map(msg);
    expect(resourceLogs).toHaveLength(2);
    // Resource{attributes=1}, ResourceLogs{resource=1, scope_logs=2}, ScopeLogs{scope=1, log_records=2}
    expect(keyValues(all(msg(one(resourceLogs[0], 1)), 1))).toEqual({ 'service.name': 'checkout' });
    const scopeLogs = msg(one(resourceLogs[0], 2));
    expect(str(one(msg(one(scopeLogs, 1)), 1))).toBe('app');
    const record = msg(one(scopeLogs, 2));
    // LogRecord{time_unix_nano=1 fixed64, severity_number=2, severity_text=3, body=5, attributes=6, trace_id=9, span_id=10}
    expect(one(record, 1)).toBe(1700000000123456789n);
    expect(one(record, 2)).toBe(17);
    expect(str(one(record, 3))).toBe('ERROR');
    expect(str(one(msg(one(record, 5)), 1))).toBe('card declined');
    expect(keyValues(all(record, 6))).toEqual({ order: 'A-1' });
    expect(Buffer.from(one(record, 9) as Uint8Array).toString('hex')).toBe(TRACE);
    expect(Buffer.from(one(record, 10) as Uint8Array).toString('hex')).toBe('eee19b7ec3c1b174');

    const other = msg(one(msg(one(resourceLogs[1], 2)), 2));
    expect(one(other, 1)).toBe(2_000_000_000n);
    expect(str(one(msg(one(other, 5)), 1))).toBe('{"a":1}');
    const attrs = all(other, 6).map(msg);
    expect(attrs.map((kv) => str(one(kv, 1)))).toEqual(['sluice.topic', 'sluice.offset', 'sluice.key', 'env']);
  });

  it('gzip when asked', async () => {
    const r = await receiver();
    await otlp({ url: r.url('/v1/logs'), compression: 'gzip' }).send([plain], 'web');
    expect(r.accepted[0].headers['content-encoding']).toBe('gzip');
    expect(all(fields(r.accepted[0].body), 1)).toHaveLength(1); // the receiver gunzipped it
  });

  it('503 and 429 are retriable with the Retry-After hint; 400 rejects the batch; no connection is retriable', async () => {
    const r = await receiver();
    const sink = otlp({ url: r.url('/v1/logs') });
    r.script = [{ status: 503, headers: { 'retry-after': '2' } }, { status: 429, headers: { 'retry-after': '1' } }, { status: 400, body: 'bad' }];
    const errors: SluiceError[] = [];
    for (let i = 0; i < 3; i++) await sink.send([plain], 'web').catch((e: SluiceError) => errors.push(e));
    expect(errors.map((e) => [isRetriable(e), e.code, e.retryAfterMs])).toEqual([
      [true, ErrorCodes.DESTINATION_UNAVAILABLE, 2000],
      [true, ErrorCodes.DESTINATION_UNAVAILABLE, 1000],
      [false, ErrorCodes.DESTINATION_REJECTED, undefined],
    ]);
    const port = r.port;
    await r.stop();
    const refused = await otlp({ url: `http://127.0.0.1:${port}/v1/logs` }).send([plain], 'web').catch((e: SluiceError) => e);
    expect(isRetriable(refused)).toBe(true);
    expect((refused as SluiceError).message).toMatch(/connection refused/);
  });
});
