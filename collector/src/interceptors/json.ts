/**
 * json: reads and edits fields of JSON and msgpack bodies — copy a field to a header, set a
 * field, drop a field. The body is decoded by its content type and re-encoded in the same type,
 * only when an operation changed it (so an event that only had fields extracted keeps its exact
 * bytes). A body that does not decode passes unchanged.
 */
import { Type } from '@sinclair/typebox';
import type { Headers } from '../../../shared/src/event.ts';
import { decodeStructured, encodeStructured, headerValue } from './body.ts';
import { ConfigChecks, interceptorConfig, stringEnum } from './config.ts';
import { deleteField, getField, setField, type FieldPath } from './field-path.ts';
import { getHeader, withHeader } from './headers.ts';
import type { InterceptorSpec } from './types.ts';

const Operation = Type.Object(
  {
    op: stringEnum(['extract', 'set', 'drop'], {
      description: '`extract` copies `field` into `header`; `set` sets `field` to `value` or to the header `from_header`; `drop` removes `field`.',
    }),
    field: Type.String({ minLength: 1, description: 'A field path: `user.id`, `items[0].sku`, `labels["app.name"]`.' }),
    header: Type.Optional(Type.String({ minLength: 1, description: '`extract`: the header to write. Strings are written as they are, other values as JSON.' })),
    value: Type.Optional(Type.Unknown({ description: '`set`: the value (any JSON value).' })),
    from_header: Type.Optional(Type.String({ minLength: 1, description: '`set`: take the value (a string) from this header; skipped when the event lacks it.' })),
  },
  { additionalProperties: false },
);

const config = interceptorConfig({
  operations: Type.Array(Operation, { minItems: 1, description: 'Applied in order.' }),
});

type Compiled =
  | { op: 'extract'; path: FieldPath; header: string }
  | { op: 'set'; path: FieldPath; value: unknown; fromHeader?: string }
  | { op: 'drop'; path: FieldPath };

export const json: InterceptorSpec<typeof config> = {
  kind: 'interceptor',
  name: 'json',
  summary: 'Copies fields of a JSON or msgpack body to headers, sets fields, drops fields; re-encodes in the same type.',
  config,
  examples: [
    { title: 'Route and key by fields', config: { operations: [{ op: 'extract', field: 'tenant.id', header: 'tenant' }] } },
    {
      title: 'Drop secrets, stamp the host into the body',
      config: { operations: [{ op: 'drop', field: 'password' }, { op: 'set', field: 'meta.host', from_header: 'host' }, { op: 'set', field: 'schema', value: 2 }] },
    },
  ],
  cases: [
    {
      title: 'Extract, set, drop',
      config: {
        operations: [
          { op: 'extract', field: 'user.id', header: 'user' },
          { op: 'set', field: 'env', value: 'prod' },
          { op: 'drop', field: 'user.password' },
        ],
      },
      cases: [
        {
          input: { headers: { 'content-type': 'application/json' }, body: '{"user":{"id":42,"password":"hunter2"}}' },
          output: { headers: { 'content-type': 'application/json', user: '42' }, body: '{"user":{"id":42},"env":"prod"}' },
        },
        {
          input: { headers: { 'content-type': 'text/plain' }, body: 'not json' },
          output: { headers: { 'content-type': 'text/plain' }, body: 'not json' },
        },
      ],
    },
    {
      title: 'Extracting alone keeps the bytes',
      config: { operations: [{ op: 'extract', field: 'items[0].sku', header: 'sku' }] },
      cases: [
        {
          input: { headers: { 'content-type': 'application/json' }, body: '{ "items": [ { "sku": "A-1" } ] }' },
          output: { headers: { 'content-type': 'application/json', sku: 'A-1' }, body: '{ "items": [ { "sku": "A-1" } ] }' },
        },
      ],
    },
  ],
  create(c) {
    const checks = new ConfigChecks('json');
    const ops: Compiled[] = [];
    c.operations.forEach((o, i) => {
      const at = ['operations', i];
      const path = checks.fieldPath(o.field, [...at, 'field']);
      const unused = (key: 'header' | 'value' | 'from_header') => {
        if (o[key] !== undefined) checks.problem([...at, key], `not used by op ${o.op}`);
      };
      if (o.op === 'extract') {
        if (o.header === undefined) checks.problem([...at, 'header'], 'required by op extract');
        unused('value');
        unused('from_header');
        if (path && o.header) ops.push({ op: 'extract', path, header: o.header });
      } else if (o.op === 'set') {
        if ((o.value === undefined) === (o.from_header === undefined)) checks.problem([...at, 'value'], 'op set needs exactly one of `value` and `from_header`');
        unused('header');
        if (path) ops.push({ op: 'set', path, value: o.value, fromHeader: o.from_header });
      } else {
        unused('header');
        unused('value');
        unused('from_header');
        if (path) ops.push({ op: 'drop', path });
      }
    });
    checks.done();

    return (event) => {
      const decoded = decodeStructured(event);
      if (decoded === null) return event;
      const doc = decoded.value;
      let headers: Headers | undefined;
      let bodyChanged = false;
      for (const o of ops) {
        if (o.op === 'extract') {
          const value = headerValue(getField(doc, o.path));
          if (value !== undefined && getHeader(headers ?? event.headers, o.header) !== value) headers = withHeader(headers ?? event.headers, o.header, value);
        } else if (o.op === 'set') {
          const value = o.fromHeader === undefined ? copyOf(o.value) : getHeader(headers ?? event.headers, o.fromHeader);
          if (value !== undefined && setField(doc, o.path, value)) bodyChanged = true;
        } else if (deleteField(doc, o.path)) {
          bodyChanged = true;
        }
      }
      if (!bodyChanged && headers === undefined) return event;
      return { ...event, headers: headers ?? event.headers, body: bodyChanged ? encodeStructured(decoded.kind, doc) : event.body };
    };
  },
};

/** Config values are frozen and shared by every event; a later op may change what `set` put in. */
function copyOf(value: unknown): unknown {
  return typeof value === 'object' && value !== null ? structuredClone(value) : value;
}
