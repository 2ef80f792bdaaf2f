/** timestamp: sets the event time from the clock, a header or a body field. */
import { Type } from '@sinclair/typebox';
import type { EventDraft } from '../../../shared/src/event.ts';
import { decodeStructured } from './body.ts';
import { ConfigChecks, interceptorConfig, stringEnum } from './config.ts';
import { interceptorContext } from './context.ts';
import { getField, type FieldPath } from './field-path.ts';
import { getHeader, hasHeader, withHeader } from './headers.ts';
import { parseTime, TimeFormat } from './time.ts';
import type { InterceptorSpec } from './types.ts';

const config = interceptorConfig({
  from: stringEnum(['now', 'header', 'field'], {
    default: 'now',
    description: 'Where the time comes from: the clock as the event passes (`now`), a header, or a field of a JSON or msgpack body.',
  }),
  name: Type.Optional(Type.String({ minLength: 1, description: 'The header (`from: header`) or field path such as `meta.time` (`from: field`) to read.' })),
  format: TimeFormat,
  header: Type.Optional(Type.String({ minLength: 1, description: "Also write the time, in epoch milliseconds, to this header (Flume's `timestamp` header)." })),
  preserve_existing: Type.Boolean({
    default: false,
    description: "Leave the event unchanged when it already has the header named in `header`, so the first collector's time wins (Flume's `preserveExisting`).",
  }),
});

export const timestamp: InterceptorSpec<typeof config> = {
  kind: 'interceptor',
  name: 'timestamp',
  summary: 'Sets the event time from the clock, a header or a body field (epoch ms/s or ISO 8601).',
  config,
  examples: [
    { title: 'Take the time from the producer\'s "time" field', config: { from: 'field', name: 'time', format: 'iso8601' } },
    { title: 'Stamp the time once, at the first collector', config: { from: 'now', header: 'timestamp', preserve_existing: true } },
  ],
  cases: [
    {
      title: 'From a JSON field in ISO 8601',
      config: { from: 'field', name: 'time' },
      cases: [
        {
          input: { headers: { 'content-type': 'application/json' }, body: '{"time":"2024-01-01T00:00:00Z","msg":"hi"}' },
          output: { ts: 1704067200000, headers: { 'content-type': 'application/json' }, body: '{"time":"2024-01-01T00:00:00Z","msg":"hi"}' },
        },
        {
          input: { headers: { 'content-type': 'application/json' }, body: '{"msg":"no time"}' },
          output: { headers: { 'content-type': 'application/json' }, body: '{"msg":"no time"}' },
        },
      ],
    },
    {
      title: 'From a header in epoch seconds',
      config: { from: 'header', name: 'x-sent-at', format: 'epoch_s' },
      cases: [{ input: { headers: { 'x-sent-at': '1700000123.5' }, body: 'x' }, output: { ts: 1700000123500, headers: { 'x-sent-at': '1700000123.5' }, body: 'x' } }],
    },
    {
      title: 'Stamp once and keep the first stamp',
      config: { header: 'timestamp', preserve_existing: true },
      cases: [
        { input: { body: 'new' }, output: { ts: 1700000060000, headers: { timestamp: '1700000060000' }, body: 'new' } },
        { input: { ts: 1600000000000, headers: { timestamp: '1600000000000' }, body: 'stamped upstream' }, output: { ts: 1600000000000, headers: { timestamp: '1600000000000' }, body: 'stamped upstream' } },
      ],
    },
  ],
  create(c, ctx) {
    const checks = new ConfigChecks('timestamp');
    let path: FieldPath | undefined;
    if (c.from !== 'now' && c.name === undefined) checks.problem(['name'], `required with from: ${c.from}`);
    if (c.from === 'now' && c.name !== undefined) checks.problem(['name'], 'not used with from: now');
    if (c.from === 'field' && c.name !== undefined) path = checks.fieldPath(c.name, ['name']);
    if (c.preserve_existing && c.header === undefined) checks.problem(['preserve_existing'], 'needs `header`: the header that marks an event as already stamped');
    checks.done();
    const { now } = ctx ?? interceptorContext();
    const { from, name, format, header, preserve_existing } = c;

    const read = (event: EventDraft): number | undefined => {
      if (from === 'now') return now();
      if (from === 'header') return parseTime(getHeader(event.headers, name!), format);
      const decoded = decodeStructured(event);
      return decoded ? parseTime(getField(decoded.value, path!), format) : undefined;
    };

    return (event) => {
      if (preserve_existing && header !== undefined && hasHeader(event.headers, header)) return event;
      const ts = read(event);
      if (ts === undefined) return event;
      if (header === undefined) return ts === event.ts ? event : { ...event, ts };
      return { ...event, ts, headers: withHeader(event.headers, header, String(ts)) };
    };
  },
};
