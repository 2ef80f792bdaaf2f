 
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../errors.ts';
import { fromUtf8, makeEvent, utf8, type EventDraft } from '../../event.ts';
import { pack } from './msgpack.ts';
import {
  chunkId,
  decodeRequests,
  encodePackedForward,
  eventToEntry,
  eventToRecord,
  murmur3x86_128,
  recordToEvent,
  type EventFrame,
  type EventToRecordOptions,
} from './index.ts';

const gunzip = (data: Uint8Array, max: number) => gunzipSync(data, { maxOutputLength: max });

/** Sends events edge → hub over the wire (gzip-compressed PackedForward) and maps them back. */
function overTheWire(list: EventDraft[], options: EventToRecordOptions = {}): EventDraft[] {
  const topic = list[0].topic;
  const wire = encodePackedForward(topic, list.map((e) => eventToEntry(e, options)), { chunk: 'c', gzip: (d) => gzipSync(d) });
  const [frame] = decodeRequests(wire, { gunzip }) as EventFrame[];
  return frame.entries.map((entry) => recordToEvent(frame.tag, entry.time, entry.record));
}

const json = (body: string, init: Partial<EventDraft> = {}) =>
  makeEvent('orders', body, { ts: 1700000000123, key: null, headers: { 'content-type': 'application/json' }, ...init });

describe('eventToRecord', () => {
  it('a canonical JSON object travels as the record itself', () => {
    const event = json('{"id":7,"items":[{"sku":"a","qty":2}],"note":null}', { key: 'order-7', headers: { 'content-type': 'application/json', tenant: 'acme' } });
    expect(eventToRecord(event)).toEqual({
      id: 7,
      items: [{ sku: 'a', qty: 2 }],
      note: null,
      _sluice_headers: { 'content-type': 'application/json', tenant: 'acme' },
      _sluice_key: 'order-7',
    });
  });

  it('text travels as message', () => {
    const event = makeEvent('logs', 'GET /index.html 200', { headers: { 'content-type': 'text/plain; charset=utf-8' } });
    expect(eventToRecord(event)).toEqual({ message: 'GET /index.html 200', _sluice_headers: { 'content-type': 'text/plain; charset=utf-8' } });
  });

  it('JSON that re-serializes differently travels verbatim as text', () => {
    for (const body of ['{ "id": 7 }', '[1,2,3]', '{"b":1,"2":0}', '{"n":1.0}', '{"big":12345678901234567890}', '"just a string"', '{"a":"\\ud800"}', '{"__proto__":{}}']) {
      expect(eventToRecord(json(body))).toEqual({ _sluice_body: body, _sluice_headers: { 'content-type': 'application/json' } });
    }
  });

  it('a JSON object using a reserved key travels verbatim', () => {
    expect(eventToRecord(json('{"_sluice_key":"x"}'))._sluice_body).toBe('{"_sluice_key":"x"}');
  });

  it('bytes that are not UTF-8 travel as bin', () => {
    const body = Uint8Array.of(0xff, 0x00, 0xc3);
    expect(eventToRecord(makeEvent('bin', body, { headers: {} }))).toEqual({ _sluice_body: body, _sluice_headers: {} });
    expect(eventToRecord(makeEvent('bin', body, { headers: { 'content-type': 'application/json' } }))._sluice_body).toEqual(body);
  });

  it('a msgpack map travels as fields only when our encoder reproduces it', () => {
    const canonical = pack({ a: 1, b: 'x' });
    expect(eventToRecord(makeEvent('m', canonical, { headers: { 'content-type': 'application/msgpack' } }))).toMatchObject({ a: 1, b: 'x' });
    const float32 = Uint8Array.of(0x81, 0xa1, 0x61, 0xca, 0x3f, 0x80, 0x00, 0x00); // {a: 1.0 as float32}
    expect(eventToRecord(makeEvent('m', float32, { headers: { 'content-type': 'application/msgpack' } }))._sluice_body).toEqual(float32);
  });

  it('jsonFields: "always" sends any JSON object as fields, and the hub gets compact JSON', () => {
    const event = json('{ "id": 7,\n  "ok": true }');
    expect(eventToRecord(event, { jsonFields: 'always' })).toMatchObject({ id: 7, ok: true });
    const [back] = overTheWire([event], { jsonFields: 'always' });
    expect(fromUtf8(back.body)).toBe('{"id":7,"ok":true}');
  });
});

describe('Sluice → Sluice round trip', () => {
  it('reproduces topic, ts, key, headers and body bytes exactly', () => {
    const list: EventDraft[] = [
      json('{"id":7,"items":[{"sku":"a","qty":2}],"when":"2024-01-01T00:00:00Z","price":9.95}', { key: 'k1', headers: { 'content-type': 'application/json', 'x-trace': 'abc' } }),
      json('{\n  "pretty": true\n}'),
      json('[{"a":1}]'),
      json('{"__proto__":{"x":1}}'),
      json('{}'),
      json(''),
      makeEvent('orders', 'plain text line', { ts: 5000, key: 'k', headers: { 'content-type': 'text/plain' } }),
      makeEvent('orders', '', { ts: 5000, key: null, headers: { 'content-type': 'text/plain' } }),
      makeEvent('orders', '\ufeffBOM and ümlauts ✓', { ts: 5000, key: null, headers: {} }),
      makeEvent('orders', Uint8Array.of(0, 1, 2, 0xff, 0xfe), { ts: 5000, key: '', headers: { 'content-type': 'application/octet-stream' } }),
      makeEvent('orders', pack({ m: [1, 2], s: 'x' }), { ts: 6001, key: null, headers: { 'content-type': 'application/msgpack' } }),
      makeEvent('orders', Uint8Array.of(0x81, 0xa1, 0x61, 0xca, 0x3f, 0x80, 0x00, 0x00), { ts: 6001, key: null, headers: { 'content-type': 'application/msgpack' } }),
    ];
    expect(overTheWire(list)).toEqual(list);
  });

  it('holds for random events (seeded)', () => {
    let seed = 42;
    const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)];
    const randomValue = (depth: number): unknown => {
      const r = rand();
      if (depth > 3 || r < 0.3) return pick([0, -1, 42, 2 ** 40, 3.25, -0.5, true, false, null, '', 'é✓', 'a"b\\c\n']);
      if (r < 0.6) return Array.from({ length: Math.floor(rand() * 4) }, () => randomValue(depth + 1));
      return Object.fromEntries(Array.from({ length: Math.floor(rand() * 4) }, (_, i) => [pick(['k', 'id', 'x y', '1', 'ü']) + i, randomValue(depth + 1)]));
    };
    const list: EventDraft[] = [];
    for (let i = 0; i < 500; i++) {
      const type = pick(['application/json', 'application/json', 'text/plain', 'application/msgpack', 'application/octet-stream', undefined]);
      const headers: Record<string, string> = type ? { 'content-type': type } : {};
      if (rand() < 0.5) headers[`h${i}`] = `v${i}`;
      let body: Uint8Array;
      if (type === 'application/json') body = utf8(JSON.stringify(randomValue(0), null, rand() < 0.3 ? 2 : undefined));
      else if (type === 'application/msgpack') body = pack(randomValue(0));
      else if (rand() < 0.5) body = utf8(String(randomValue(3)));
      else body = Uint8Array.from({ length: Math.floor(rand() * 20) }, () => Math.floor(rand() * 256));
      list.push({ topic: 'r', ts: 1000 + Math.floor(rand() * 2 ** 41), key: rand() < 0.5 ? null : `key-${i}`, headers, body });
    }
    expect(overTheWire(list)).toEqual(list);
  });
});

describe('recordToEvent', () => {
  it('a record from another client becomes a JSON event', () => {
    const event = recordToEvent('docker.web', 1000, { log: 'hello', container_name: '/web', _sluice_key: 'not ours' });
    expect(event).toMatchObject({ topic: 'docker.web', ts: 1000, key: null, headers: { 'content-type': 'application/json' } });
    expect(JSON.parse(fromUtf8(event.body))).toEqual({ log: 'hello', container_name: '/web', _sluice_key: 'not ours' });
  });

  it('malformed reserved keys make the record foreign, never an exception', () => {
    const bad = { _sluice_headers: { a: 1 }, x: 1 };
    expect(JSON.parse(fromUtf8(recordToEvent('t', 1, bad).body))).toEqual(bad);
    const event = recordToEvent('t', 1, { _sluice_headers: {}, _sluice_key: 5, _sluice_body: 7, other: 'x' });
    expect(event.key).toBeNull();
    expect(fromUtf8(event.body)).toBe('{"other":"x"}');
  });

  it('a Sluice text record rewritten on the way keeps its message', () => {
    const event = recordToEvent('t', 1, { message: 'line', hostname: 'added-by-fluentd', _sluice_headers: { 'content-type': 'text/plain' } });
    expect(fromUtf8(event.body)).toBe('line');
  });
});

describe('chunkId', () => {
  it('is MurmurHash3_x86_128 (reference vectors)', () => {
    const hex = (b: Uint8Array) => Buffer.from(b).toString('hex').toUpperCase();
    expect(hex(murmur3x86_128(new Uint8Array(0), 0))).toBe('00000000000000000000000000000000');
    expect(hex(murmur3x86_128(new Uint8Array(0), 2538058380))).toBe('A1D5BEF71C6A575B1C6A575B1C6A575B');
    expect(hex(murmur3x86_128(utf8('The quick brown fox jumps over the lazy dog'), 2538058380))).toBe('5ED5D48A7161B84C9C3AA78E3E79B6CD');
  });

  it('is deterministic, 16 bytes of base64, and never changes for the same batch', () => {
    const id = chunkId('edge-1', 'orders', 0, 999);
    expect(id).toBe(chunkId('edge-1', 'orders', 0, 999));
    expect(Buffer.from(id, 'base64')).toHaveLength(16);
    // pinned: changing the derivation would make retries across an upgrade look like new batches
    expect(id).toBe('i1lpRLs4xaPoboENKkbf6A==');
  });

  it('separates every field', () => {
    const ids = new Set([
      chunkId('edge-1', 'orders', 0, 999),
      chunkId('edge-2', 'orders', 0, 999),
      chunkId('edge-1', 'orders2', 0, 999),
      chunkId('edge-1o', 'rders', 0, 999),
      chunkId('edge-1', 'orders', 1, 999),
      chunkId('edge-1', 'orders', 0, 1000),
      chunkId('edge-1', 'orders', 2 ** 40, 2 ** 40 + 5),
    ]);
    expect(ids.size).toBe(7);
  });

  it('refuses offsets that are not offsets', () => {
    expect(() => chunkId('e', 't', -1, 0)).toThrow(expect.objectContaining({ code: ErrorCodes.BAD_INPUT }));
    expect(() => chunkId('e', 't', 5, 4)).toThrow(/lastOffset 4 is before firstOffset 5/);
    expect(() => chunkId('e', 't', 0.5, 1)).toThrow(/safe integer/);
  });
});
