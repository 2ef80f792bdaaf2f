import { describe, expect, it } from 'vitest';
import type { StoredEvent } from '../../../shared/src/event.ts';
import { eventsToRequest, recordToEvent, scopeHeaders } from './mapping.ts';
import { decodeRequestJson, decodeRequestProto, encodeRequestProto, type ExportLogsServiceRequest } from './proto.ts';

const TRACE = '5b8efff798038103d269b633813fc60c';
const SPAN = 'eee19b7ec3c1b174';

const request: ExportLogsServiceRequest = {
  resourceLogs: [
    {
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'checkout' } }, { key: 'host.cpus', value: { intValue: 4 } }] },
      scopeLogs: [
        {
          scope: { name: 'app.logger', version: '1.2.0', attributes: [{ key: 'team', value: { stringValue: 'pay' } }] },
          logRecords: [
            {
              timeUnixNano: '1700000000123456789',
              severityNumber: 17,
              severityText: 'ERROR',
              body: { stringValue: 'card declined' },
              attributes: [{ key: 'order', value: { stringValue: 'A-1' } }],
              traceId: Buffer.from(TRACE, 'hex'),
              spanId: Buffer.from(SPAN, 'hex'),
            },
            { observedTimeUnixNano: '1700000001000000000', body: { kvlistValue: { values: [{ key: 'n', value: { intValue: 3 } }] } } },
          ],
        },
      ],
    },
  ],
};

function events(req: ExportLogsServiceRequest) {
  const rl = req.resourceLogs![0];
  const sl = rl.scopeLogs![0];
  return sl.logRecords!.map((r) => recordToEvent('otlp', scopeHeaders(rl, sl.scope), r, 42));
}

describe('OTLP log records → events', () => {
  it('maps body, severity, time, ids, resource/scope/record attributes (protobuf)', () => {
    const [a, b] = events(decodeRequestProto(encodeRequestProto(request)));
    expect(Buffer.from(a.body).toString()).toBe('card declined');
    expect(a.ts).toBe(1700000000123);
    expect(a.headers).toMatchObject({
      'content-type': 'text/plain',
      'otel.severity_number': '17',
      'otel.severity_text': 'ERROR',
      'otel.time_unix_nano': '1700000000123456789',
      'otel.trace_id': TRACE,
      'otel.span_id': SPAN,
      'otel.resource.service.name': 'checkout',
      'otel.resource.host.cpus': '4',
      'otel.scope.name': 'app.logger',
      'otel.scope.version': '1.2.0',
      'otel.scope.team': 'pay',
      'otel.attr.order': 'A-1',
    });
    expect(JSON.parse(Buffer.from(b.body).toString())).toEqual({ n: 3 });
    expect(b.headers['content-type']).toBe('application/json');
    expect(b.ts).toBe(1700000001000);
  });

  it('reads the OTLP JSON encoding (hex ids, int64 as strings, camelCase)', () => {
    const json = JSON.stringify({
      resourceLogs: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'checkout' } }] },
          scopeLogs: [{ logRecords: [{ timeUnixNano: '1700000000123456789', severityNumber: 9, body: { stringValue: 'hi' }, traceId: TRACE, spanId: SPAN }] }],
        },
      ],
    });
    const [e] = events(decodeRequestJson(json));
    expect(e.headers['otel.trace_id']).toBe(TRACE);
    expect(e.headers['otel.span_id']).toBe(SPAN);
    expect(e.headers['otel.severity_number']).toBe('9');
    expect(e.ts).toBe(1700000000123);
  });

  it('refuses bad input with what and where', () => {
    expect(() => decodeRequestJson('[1]')).toThrow(/JSON object/);
    expect(() => decodeRequestJson('{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"traceId":"xyz"}]}]}]}')).toThrow(/logRecords\[0\]\.traceId: "xyz" is not hex/);
    expect(() => decodeRequestProto(Buffer.from([0x0a, 0xff, 0xff, 0x01]))).toThrow();
  });

  it('round-trips: events from the otlp source become their original records again', () => {
    const original = decodeRequestProto(encodeRequestProto(request));
    const stored: StoredEvent[] = events(original).map((e, offset) => ({ ...e, offset }));
    const back = decodeRequestProto(encodeRequestProto(eventsToRequest(stored)));
    const r0 = back.resourceLogs![0];
    expect(r0.resource!.attributes!.find((kv) => kv.key === 'service.name')!.value).toEqual({ stringValue: 'checkout' });
    expect(r0.scopeLogs![0].scope).toMatchObject({ name: 'app.logger', version: '1.2.0' });
    const [a, b] = r0.scopeLogs![0].logRecords!;
    expect(a).toMatchObject({ timeUnixNano: '1700000000123456789', severityNumber: 17, severityText: 'ERROR', body: { stringValue: 'card declined' } });
    expect(Buffer.from(a.traceId!).toString('hex')).toBe(TRACE);
    expect(Buffer.from(a.spanId!).toString('hex')).toBe(SPAN);
    expect(b.body).toEqual({ kvlistValue: { values: [{ key: 'n', value: { intValue: '3' } }] } });
    // Attribute types come back too: host.cpus was an int.
    expect(r0.resource!.attributes!.find((kv) => kv.key === 'host.cpus')!.value).toEqual({ intValue: '4' });
  });

  it('records non-string attribute kinds in otel.attr_types', () => {
    const [a] = events(decodeRequestProto(encodeRequestProto(request)));
    expect(JSON.parse(a.headers['otel.attr_types'])).toEqual({ 'otel.resource.host.cpus': 'int' });
    const typed = recordToEvent('t', {}, { attributes: [{ key: 'ok', value: { boolValue: true } }, { key: 'r', value: { doubleValue: 0.5 } }, { key: 's', value: { stringValue: 'x' } }] }, 1);
    expect(JSON.parse(typed.headers['otel.attr_types'])).toEqual({ 'otel.attr.ok': 'bool', 'otel.attr.r': 'double' });
    const back = eventsToRequest([{ ...typed, offset: 0 }]).resourceLogs![0].scopeLogs![0].logRecords![0].attributes;
    expect(back).toEqual([
      { key: 'ok', value: { boolValue: true } },
      { key: 'r', value: { doubleValue: 0.5 } },
      { key: 's', value: { stringValue: 'x' } },
    ]);
  });

  it('other events become records with body = text and headers as attributes', () => {
    const req = eventsToRequest([{ topic: 'web', offset: 7, ts: 1000, key: 'k', headers: { 'content-type': 'application/json', env: 'prod' }, body: Buffer.from('{"a":1}') }]);
    const r = decodeRequestProto(encodeRequestProto(req)).resourceLogs![0].scopeLogs![0].logRecords![0];
    expect(r.body).toEqual({ stringValue: '{"a":1}' });
    expect(r.timeUnixNano).toBe('1000000000');
    expect(r.attributes!.map((kv) => [kv.key, kv.value])).toEqual([
      ['sluice.topic', { stringValue: 'web' }],
      ['sluice.offset', { intValue: '7' }],
      ['sluice.key', { stringValue: 'k' }],
      ['env', { stringValue: 'prod' }],
    ]);
  });
});
