/** route: sets the topic from a header or a body field, through an optional mapping table. */
import { Type } from '@sinclair/typebox';
import { isValidTopic, type EventDraft } from '../../../shared/src/event.ts';
import { decodeStructured, headerValue } from './body.ts';
import { ConfigChecks, interceptorConfig, stringEnum } from './config.ts';
import { getField } from './field-path.ts';
import { getHeader } from './headers.ts';
import type { InterceptorSpec } from './types.ts';

const config = interceptorConfig({
  from: stringEnum(['header', 'field'], { default: 'header', description: 'Read a header, or a field of a JSON or msgpack body.' }),
  name: Type.String({ minLength: 1, description: 'The header name, or the field path (`kind`, `meta.type`).' }),
  mapping: Type.Optional(
    Type.Record(Type.String(), Type.String(), {
      description: 'Value → topic. Without a mapping, the value itself is the topic (when it is a valid topic name).',
    }),
  ),
  default: Type.Optional(Type.String({ description: 'The topic for events whose value is missing, not in `mapping`, or not a valid topic name. Without it they keep their topic.' })),
});

export const route: InterceptorSpec<typeof config> = {
  kind: 'interceptor',
  name: 'route',
  summary: 'Sets the topic from a header or a body field, through a mapping table with a default.',
  config,
  examples: [
    { title: 'The topic is the `app` header', config: { name: 'app' } },
    {
      title: 'Map event kinds to topics',
      config: { from: 'field', name: 'kind', mapping: { order_created: 'orders', order_paid: 'orders', login: 'audit' }, default: 'misc' },
    },
  ],
  cases: [
    {
      title: 'Mapping with a default',
      config: { from: 'field', name: 'kind', mapping: { order_created: 'orders', login: 'audit' }, default: 'misc' },
      cases: [
        { input: { headers: { 'content-type': 'application/json' }, body: '{"kind":"login"}' }, output: { topic: 'audit', headers: { 'content-type': 'application/json' }, body: '{"kind":"login"}' } },
        { input: { headers: { 'content-type': 'application/json' }, body: '{"kind":"other"}' }, output: { topic: 'misc', headers: { 'content-type': 'application/json' }, body: '{"kind":"other"}' } },
        { input: { headers: { 'content-type': 'application/json' }, body: '{}' }, output: { topic: 'misc', headers: { 'content-type': 'application/json' }, body: '{}' } },
      ],
    },
    {
      title: 'The header is the topic',
      config: { name: 'app' },
      cases: [
        { input: { headers: { app: 'billing' }, body: 'x' }, output: { topic: 'billing', headers: { app: 'billing' }, body: 'x' } },
        { input: { headers: { app: 'not a topic!' }, body: 'y' }, output: { headers: { app: 'not a topic!' }, body: 'y' } },
      ],
    },
  ],
  create(c) {
    const checks = new ConfigChecks('route');
    const path = c.from === 'field' ? checks.fieldPath(c.name, ['name']) : undefined;
    for (const [value, topic] of Object.entries(c.mapping ?? {})) checks.topic(topic, ['mapping', value]);
    if (c.default !== undefined) checks.topic(c.default, ['default']);
    checks.done();
    const mapping = c.mapping === undefined ? undefined : new Map(Object.entries(c.mapping));
    const { from, name, default: fallback } = c;

    const read = (event: EventDraft): string | undefined => {
      if (from === 'header') return getHeader(event.headers, name);
      const decoded = decodeStructured(event);
      const value = decoded ? getField(decoded.value, path!) : undefined;
      return value !== null && typeof value === 'object' ? undefined : headerValue(value);
    };

    return (event) => {
      const value = read(event);
      let topic: string | undefined;
      if (value !== undefined) topic = mapping ? mapping.get(value) : isValidTopic(value) ? value : undefined;
      topic ??= fallback;
      return topic === undefined || topic === event.topic ? event : { ...event, topic };
    };
  },
};
