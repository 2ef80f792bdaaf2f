/**
 * Frames as real fluent clients put them on the wire, built byte by byte from the spec and the
 * clients' sources (not with our encoder), then decoded and mapped to events.
 */
 
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { fromUtf8 } from '../../event.ts';
import { createRequestDecoder, decodeRequests, recordToEvent, type EventFrame, type RequestFrame } from './index.ts';

const gunzip = (data: Uint8Array, max: number) => gunzipSync(data, { maxOutputLength: max });

// A minimal, independent msgpack writer: every helper returns the bytes of one value.
const u16 = (n: number) => [n >> 8, n & 0xff];
const u32 = (n: number) => [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
const mp = {
  array: (n: number) => (n < 16 ? [0x90 | n] : [0xdc, ...u16(n)]),
  map: (n: number) => (n < 16 ? [0x80 | n] : [0xde, ...u16(n)]),
  str(text: string): number[] {
    const b = [...Buffer.from(text)];
    return b.length < 32 ? [0xa0 | b.length, ...b] : b.length < 256 ? [0xd9, b.length, ...b] : [0xda, ...u16(b.length), ...b];
  },
  str32: (bytes: number[] | Uint8Array) => [0xdb, ...u32(bytes.length), ...bytes],
  bin16: (bytes: number[] | Uint8Array) => [0xc5, ...u16(bytes.length), ...bytes],
  bin32: (bytes: number[] | Uint8Array) => [0xc6, ...u32(bytes.length), ...bytes],
  uint32: (n: number) => [0xce, ...u32(n)],
  int: (n: number) => (n >= 0 && n < 128 ? [n] : n < 0 && n >= -32 ? [0x100 + n] : [0xd3, ...u32(Math.floor(n / 2 ** 32) >>> 0), ...u32(n >>> 0)]),
  float64(x: number): number[] {
    const b = Buffer.alloc(8);
    b.writeDoubleBE(x);
    return [0xcb, ...b];
  },
  /** EventTime as fixext8 (fluentd, Fluent Bit, fluent-logger-python) */
  eventTime: (s: number, ns: number) => [0xd7, 0x00, ...u32(s), ...u32(ns)],
  /** EventTime as ext8 with length 8 (also allowed by the spec) */
  eventTimeExt8: (s: number, ns: number) => [0xc7, 0x08, 0x00, ...u32(s), ...u32(ns)],
  nil: [0xc0],
  true: [0xc3],
  false: [0xc2],
};
const pairs = (...kv: number[][]) => kv.flat();
const bytes = (...parts: number[][]) => Uint8Array.from(parts.flat());

function events(frames: RequestFrame[]): EventFrame[] {
  return frames.filter((f): f is EventFrame => f.kind !== 'ping' && f.kind !== 'heartbeat');
}

describe('fluent-logger-python', () => {
  it('sends Message mode with integer seconds: exact bytes of sender.emit("follow", {...})', () => {
    // logger = sender.FluentSender('app'); logger.emit('follow', {'from': 'userA', 'to': 'userB'}) at 1441588984
    const wire = Buffer.from('93aa6170702e666f6c6c6f77ce55ece6f882a466726f6da5757365724' + '1a2746fa57573657242', 'hex');
    const [frame] = events(decodeRequests(wire));
    expect(frame).toEqual({
      kind: 'message',
      tag: 'app.follow',
      entries: [{ time: 1441588984000, record: { from: 'userA', to: 'userB' } }],
      option: {},
      bytes: wire.length,
    });
    const event = recordToEvent(frame.tag, frame.entries[0].time, frame.entries[0].record);
    expect(event).toMatchObject({ topic: 'app.follow', ts: 1441588984000, key: null, headers: { 'content-type': 'application/json' } });
    expect(fromUtf8(event.body)).toBe('{"from":"userA","to":"userB"}');
  });

  it('sends EventTime with nanosecond_precision=True', () => {
    const wire = bytes(mp.array(3), mp.str('app.follow'), mp.eventTime(1441588984, 987654321), mp.map(1), mp.str('a'), mp.int(1));
    expect(events(decodeRequests(wire))[0].entries).toEqual([{ time: 1441588984987, record: { a: 1 } }]);
  });
});

describe('Docker fluentd log driver (fluent-logger-golang)', () => {
  const record = pairs(
    mp.map(4),
    mp.str('container_id'),
    mp.str('0123456789ab'.repeat(5) + 'cdef'),
    mp.str('container_name'),
    mp.str('/web'),
    mp.str('source'),
    mp.str('stdout'),
    mp.str('log'),
    mp.str('GET / 200'),
  );

  it('sends [tag, time, record, nil] (an Option left nil)', () => {
    const wire = bytes(mp.array(4), mp.str('docker.web'), mp.eventTimeExt8(1700000000, 5_000_000), record, mp.nil);
    const [frame] = events(decodeRequests(wire));
    expect(frame.option).toEqual({});
    expect(frame.entries[0].time).toBe(1700000000005);
    expect(frame.entries[0].record).toMatchObject({ container_name: '/web', log: 'GET / 200' });
  });

  it('sends {chunk} with RequestAck', () => {
    const wire = bytes(mp.array(4), mp.str('docker.web'), mp.int(1700000000), record, mp.map(1), mp.str('chunk'), mp.str('MTIzNDU2Nzg5MDEyMzQ1Ng=='));
    expect(events(decodeRequests(wire))[0].option).toEqual({ chunk: 'MTIzNDU2Nzg5MDEyMzQ1Ng==' });
  });
});

describe('fluentd out_forward', () => {
  // fluentd writes entries as str32 "for backward compatibility", sends compressed: "text" when it
  // does not compress, and Base64.encode64 leaves a newline at the end of the chunk id
  const entryStream = bytes(
    mp.array(2),
    mp.eventTime(1441588984, 0),
    mp.map(1),
    mp.str('message'),
    mp.str('foo'),
    mp.array(2),
    mp.eventTime(1441588985, 500_000_000),
    mp.map(2),
    mp.str('message'),
    mp.str('bar'),
    mp.str('hostname'),
    mp.str('web-1'),
  );
  const option = (compressed: string) =>
    pairs(mp.map(3), mp.str('size'), mp.int(2), mp.str('compressed'), mp.str(compressed), mp.str('chunk'), mp.str('p8n9gmxTQVC8/nh2wlKKeQ==\n'));

  it('PackedForward with str32 entries and compressed: "text"', () => {
    const wire = bytes(mp.array(3), mp.str('app.access'), mp.str32(entryStream), option('text'));
    const [frame] = events(decodeRequests(wire));
    expect(frame.kind).toBe('packed');
    expect(frame.option).toEqual({ size: 2, compressed: 'text', chunk: 'p8n9gmxTQVC8/nh2wlKKeQ==\n' });
    expect(frame.entries).toEqual([
      { time: 1441588984000, record: { message: 'foo' } },
      { time: 1441588985500, record: { message: 'bar', hostname: 'web-1' } },
    ]);
  });

  it('CompressedPackedForward, still as str32', () => {
    const wire = bytes(mp.array(3), mp.str('app.access'), mp.str32(gzipSync(entryStream)), option('gzip'));
    const [frame] = events(decodeRequests(wire, { gunzip }));
    expect(frame.kind).toBe('compressed');
    expect(frame.entries).toHaveLength(2);
  });
});

describe('Fluent Bit out_forward', () => {
  const chunk = '0123456789abcdef0123456789abcdef'; // sha512 of the data, first 16 bytes as hex
  const legacyEntries = bytes(
    mp.array(2),
    mp.eventTime(1700000000, 123_456_789),
    mp.map(2),
    mp.str('log'),
    mp.str('line 1'),
    mp.str('stream'),
    mp.str('stdout'),
    mp.array(2),
    mp.eventTime(1700000001, 0),
    mp.map(1),
    mp.str('log'),
    mp.str('line 2'),
  );
  const options = (size: number, compressed: boolean) =>
    compressed
      ? pairs(mp.map(4), mp.str('chunk'), mp.str(chunk), mp.str('size'), mp.int(size), mp.str('compressed'), mp.str('gzip'), mp.str('fluent_signal'), mp.int(0))
      : pairs(mp.map(3), mp.str('chunk'), mp.str(chunk), mp.str('size'), mp.int(size), mp.str('fluent_signal'), mp.int(0));

  it('PackedForward (retain_metadata_in_forward_mode false)', () => {
    const wire = bytes(mp.array(3), mp.str('kube.var.log.containers.web'), mp.bin16(legacyEntries), options(2, false));
    const [frame] = events(decodeRequests(wire));
    expect(frame).toMatchObject({ kind: 'packed', tag: 'kube.var.log.containers.web', option: { chunk, size: 2, fluentSignal: 0 } });
    expect(frame.entries).toEqual([
      { time: 1700000000123, record: { log: 'line 1', stream: 'stdout' } },
      { time: 1700000001000, record: { log: 'line 2' } },
    ]);
  });

  it('CompressedPackedForward', () => {
    const wire = bytes(mp.array(3), mp.str('app'), mp.bin32(gzipSync(legacyEntries)), options(2, true));
    const [frame] = events(decodeRequests(wire, { gunzip }));
    expect(frame.kind).toBe('compressed');
    expect(frame.entries.map((e) => e.record.log)).toEqual(['line 1', 'line 2']);
  });

  it('[[time, metadata], record] entries (the default since 5.0.4), group markers skipped', () => {
    const groupMarker = (seconds: number) =>
      pairs(mp.array(2), mp.array(2), mp.eventTime(seconds, 0), mp.map(1), mp.str('group'), mp.str('marker'), mp.map(1), mp.str('resource'), mp.str('x'));
    const entry = (s: number, metadata: number[], log: string) => pairs(mp.array(2), mp.array(2), mp.eventTime(s, 0), metadata, mp.map(1), mp.str('log'), mp.str(log));
    const stream = bytes(
      groupMarker(0xffffffff), // start: int32 -1 as uint32
      entry(1700000000, mp.map(0), 'a'),
      entry(1700000001, pairs(mp.map(1), mp.str('trace_id'), mp.str('abc')), 'b'),
      groupMarker(0xfffffffe), // end: -2
      entry(1700000002, mp.map(0), 'c'),
    );
    const wire = bytes(mp.array(3), mp.str('otel'), mp.bin16(stream), options(5, false));
    const [frame] = events(decodeRequests(wire));
    expect(frame.entries).toEqual([
      { time: 1700000000000, record: { log: 'a' } },
      { time: 1700000001000, record: { log: 'b' }, metadata: { trace_id: 'abc' } },
      { time: 1700000002000, record: { log: 'c' } },
    ]);
  });

  it('time_as_integer in Forward mode, a float time, and a heartbeat, split across pushes', () => {
    const forward = bytes(
      mp.array(2),
      mp.str('compat'),
      mp.array(2),
      mp.array(2),
      mp.uint32(1441588984),
      mp.map(1),
      mp.str('k'),
      mp.true,
      mp.array(2),
      mp.float64(1441588984.25),
      mp.map(1),
      mp.str('k'),
      mp.false,
    );
    const wire = bytes([...forward], mp.nil, [...forward]);
    const decoder = createRequestDecoder();
    const frames = [...decoder.push(wire.subarray(0, 7)), ...decoder.push(wire.subarray(7, 30)), ...decoder.push(wire.subarray(30))];
    expect(frames.map((f) => f.kind)).toEqual(['forward', 'heartbeat', 'forward']);
    expect(events(frames)[0].entries).toEqual([
      { time: 1441588984000, record: { k: true } },
      { time: 1441588984250, record: { k: false } },
    ]);
  });

  it('refuses metrics with a clear message', () => {
    const wire = bytes(mp.array(3), mp.str('metrics'), mp.bin16([0x80]), pairs(mp.map(1), mp.str('fluent_signal'), mp.int(1)));
    expect(() => decodeRequests(wire)).toThrow(/Fluent Bit metrics \(fluent_signal 1\) are not supported; only logs \(0\) are/);
  });
});

describe('records from fluent clients become JSON events', () => {
  it('keeps nested values, turns bin into text and timestamps into ISO strings', () => {
    // {"log": bin("hi"), "raw": bin(ff fe), "at": timestamp32(1700000000), "n": [1, 2.5, nil]}
    const record = pairs(
      mp.map(4),
      mp.str('log'),
      [0xc4, 2, 0x68, 0x69],
      mp.str('raw'),
      [0xc4, 2, 0xff, 0xfe],
      mp.str('at'),
      [0xd6, 0xff, ...u32(1700000000)],
      mp.str('n'),
      mp.array(3),
      mp.int(1),
      mp.float64(2.5),
      mp.nil,
    );
    const [frame] = events(decodeRequests(bytes(mp.array(3), mp.str('t'), mp.int(1), record)));
    const event = recordToEvent(frame.tag, frame.entries[0].time, frame.entries[0].record);
    expect(JSON.parse(fromUtf8(event.body))).toEqual({ log: 'hi', raw: '//4=', at: '2023-11-14T22:13:20.000Z', n: [1, 2.5, null] });
  });
});
