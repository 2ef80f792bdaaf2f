import { pack, unpack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { fromUtf8, makeEvent, type EventDraft } from '../../../shared/src/event.ts';
import { validateConfig } from '../../../shared/src/spec.ts';
import { json } from './json.ts';

function build(config: Record<string, unknown>) {
  const { value, problems } = validateConfig(json.config, config, 'json');
  expect(problems).toEqual([]);
  return json.create(value!);
}

const msgpackEvent = (value: unknown, contentType = 'application/msgpack'): EventDraft =>
  Object.freeze(makeEvent('app', new Uint8Array(pack(value)), { headers: Object.freeze({ 'content-type': contentType }) }));

describe('json', () => {
  it('edits a msgpack body and re-encodes it as plain msgpack that any reader decodes', () => {
    const input = msgpackEvent({ user: { id: 42, password: 'x' }, tags: ['a'], big: 2n ** 60n, at: new Date(0), raw: new Uint8Array([1, 2]) });
    const before = input.body.slice();
    const out = build({
      operations: [
        { op: 'extract', field: 'user.id', header: 'user' },
        { op: 'drop', field: 'user.password' },
        { op: 'set', field: 'tags[1]', value: 'b' },
        { op: 'extract', field: 'big', header: 'big' },
      ],
    })(input)!;
    expect(input.body).toEqual(before);
    expect(out.headers).toEqual({ 'content-type': 'application/msgpack', user: '42', big: String(2n ** 60n) });
    expect(out.body).toBeInstanceOf(Uint8Array);
    // Decoded by a reader with default options: maps, not msgpackr records.
    expect(unpack(out.body)).toEqual({ user: { id: 42 }, tags: ['a', 'b'], big: 2n ** 60n, at: new Date(0), raw: new Uint8Array([1, 2]) });
    expect(out.body[0] >> 4).toBe(0x8); // fixmap
  });

  it('recognises the other msgpack and JSON content types', () => {
    const drop = build({ operations: [{ op: 'drop', field: 'a' }] });
    expect(unpack(drop(msgpackEvent({ a: 1, b: 2 }, 'application/x-msgpack'))!.body)).toEqual({ b: 2 });
    const cloudEvent = makeEvent('app', '{"a":1,"b":2}', { headers: { 'content-type': 'application/cloudevents+json; charset=utf-8' } });
    expect(fromUtf8(drop(cloudEvent)!.body)).toBe('{"b":2}');
  });

  it('passes bodies that do not decode unchanged, and returns the same event', () => {
    const op = build({ operations: [{ op: 'set', field: 'a', value: 1 }] });
    for (const event of [
      makeEvent('app', '{"broken":', { headers: { 'content-type': 'application/json' } }),
      makeEvent('app', new Uint8Array([0xc1]), { headers: { 'content-type': 'application/msgpack' } }),
      makeEvent('app', '{"a":0}'),
    ]) {
      expect(op(event)).toBe(event);
    }
  });

  it('keeps the exact bytes when nothing in the body changed', () => {
    const event = makeEvent('app', '{ "a" : 1 }', { headers: { 'content-type': 'application/json' } });
    const out = build({ operations: [{ op: 'extract', field: 'a', header: 'a' }, { op: 'drop', field: 'missing' }] })(event)!;
    expect(out.body).toBe(event.body);
    expect(out.headers.a).toBe('1');
    expect(build({ operations: [{ op: 'extract', field: 'nope', header: 'n' }] })(event)).toBe(event);
  });

  it('sets from a header, and from a header extracted earlier in the same step', () => {
    const event = makeEvent('app', '{"id":"o-1"}', { headers: { 'content-type': 'application/json', host: 'edge-1' } });
    const out = build({
      operations: [
        { op: 'set', field: 'meta.host', from_header: 'host' },
        { op: 'extract', field: 'id', header: 'order' },
        { op: 'set', field: 'meta.order', from_header: 'order' },
        { op: 'set', field: 'meta.gone', from_header: 'absent' },
      ],
    })(event)!;
    expect(JSON.parse(fromUtf8(out.body))).toEqual({ id: 'o-1', meta: { host: 'edge-1', order: 'o-1' } });
  });

  it('writes objects into headers as JSON and skips paths blocked by scalars', () => {
    const event = makeEvent('app', '{"a":{"b":[1,{"c":true}]},"s":"x"}', { headers: { 'content-type': 'application/json' } });
    const out = build({ operations: [{ op: 'extract', field: 'a.b', header: 'ab' }, { op: 'set', field: 's.deeper', value: 1 }] })(event)!;
    expect(out.headers.ab).toBe('[1,{"c":true}]');
    expect(out.body).toBe(event.body);
  });

  it('treats __proto__ as an ordinary key', () => {
    const event = makeEvent('app', '{"a":{}}', { headers: { 'content-type': 'application/json' } });
    const out = build({ operations: [{ op: 'set', field: 'a.__proto__.polluted', value: true }] })(event)!;
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(JSON.parse(fromUtf8(out.body))).toEqual(JSON.parse('{"a":{"__proto__":{"polluted":true}}}'));
  });

  it('reports operation keys that do not fit the op', () => {
    const { value } = validateConfig(json.config, { operations: [{ op: 'drop', field: 'a', header: 'h' }, { op: 'set', field: 'b' }, { op: 'set', field: 'c', value: 1, from_header: 'h' }] }, 'j');
    expect(() => json.create(value!)).toThrow(
      'interceptor "json": operations.0.header: not used by op drop; operations.1.value: op set needs exactly one of `value` and `from_header`; operations.2.value: op set needs exactly one of `value` and `from_header`',
    );
  });
});
