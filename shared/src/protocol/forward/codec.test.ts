 
import { pack as encode } from 'msgpackr';
import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
 
import { describe, expect, it } from 'vitest';
import { ErrorCodes, SluiceError } from '../../errors.ts';
import {
  checkPing,
  checkPong,
  createPing,
  createSalt,
  createPong,
  createRequestDecoder,
  createResponseDecoder,
  decodeEventTime,
  decodeRequests,
  decodeResponses,
  encodeAck,
  encodeEventTime,
  encodeForwardMode,
  encodeHeartbeat,
  encodeHelo,
  encodeMessageMode,
  encodePackedForward,
  encodePing,
  encodePong,
  type EventFrame,
  type HeloFrame,
  type RequestFrame,
} from './index.ts';

const gzip = (data: Uint8Array) => gzipSync(data);
const gunzip = (data: Uint8Array, max: number) => gunzipSync(data, { maxOutputLength: max });
const sha512Hex = (data: Uint8Array) => createHash('sha512').update(data).digest('hex');

const entries = [
  { time: 1441588984123, record: { message: 'foo', level: 'info', n: 1 } },
  { time: 1441588985000, record: { nested: { list: [1, -2, 3.5, null, true, 'x'], empty: {} }, bin: new Uint8Array([0, 1, 255]) } },
  { time: 1000, record: {} },
];

function thrown(fn: () => unknown): SluiceError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(SluiceError);
    return error as SluiceError;
  }
  throw new Error('expected a SluiceError, nothing was thrown');
}

function event(frames: RequestFrame[], i = 0): EventFrame {
  const frame = frames[i];
  if (frame.kind === 'ping' || frame.kind === 'heartbeat') throw new Error(`frame ${i} is a ${frame.kind}`);
  return frame;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(Buffer.concat(parts));
}

describe('EventTime', () => {
  it('encodes milliseconds as fixext8 seconds + nanoseconds, big-endian', () => {
    // 1441588984 = 0x55ece6f8 seconds; 123 ms = 123000000 = 0x0754d4c0 ns
    expect(Buffer.from(encodeEventTime(1441588984123)).toString('hex')).toBe('d70055ece6f80754d4c0');
    expect(decodeEventTime(encodeEventTime(1441588984123))).toBe(1441588984123);
  });

  it('decodes the ext8 form and truncates nanoseconds to milliseconds', () => {
    expect(decodeEventTime(Buffer.from('c7080055ece6f80754d4c0', 'hex'))).toBe(1441588984123);
    expect(decodeEventTime(Buffer.from('d70055ece6f8075bcd15', 'hex'))).toBe(1441588984123); // 123456789 ns
  });

  it('keeps sub-millisecond fractions as nanoseconds on the wire', () => {
    const bytes = encodeEventTime(1000.5);
    expect(Buffer.from(bytes.subarray(6)).readUInt32BE(0)).toBe(500000);
    expect(decodeEventTime(bytes)).toBe(1000);
  });

  it('refuses times it cannot represent', () => {
    expect(thrown(() => encodeEventTime(-1)).code).toBe(ErrorCodes.BAD_INPUT);
    expect(thrown(() => encodeEventTime(Number.NaN)).code).toBe(ErrorCodes.BAD_INPUT);
    expect(thrown(() => encodeEventTime(0xfffffffe * 1000)).message).toMatch(/cannot be sent as an EventTime/);
  });
});

describe('event modes round trip', () => {
  it('PackedForward with chunk and size', () => {
    const bytes = encodePackedForward('app.access', entries, { chunk: 'p8n9gmxTQVC8/nh2wlKKeQ==' });
    const frame = event(decodeRequests(bytes));
    expect(frame).toEqual({
      kind: 'packed',
      tag: 'app.access',
      entries,
      option: { chunk: 'p8n9gmxTQVC8/nh2wlKKeQ==', size: 3 },
      bytes: bytes.length,
    });
  });

  it('CompressedPackedForward', () => {
    const bytes = encodePackedForward('app', entries, { chunk: 'abc', gzip });
    const frame = event(decodeRequests(bytes, { gunzip }));
    expect(frame.kind).toBe('compressed');
    expect(frame.option).toEqual({ chunk: 'abc', size: 3, compressed: 'gzip' });
    expect(frame.entries).toEqual(entries);
  });

  it('CompressedPackedForward made of several gzip members', () => {
    // the spec allows concatenated gzip members: [tag, bin(gzip(e0) + gzip(e1, e2)), {compressed: gzip}]
    const part1 = gzipSync(entryStream(entries.slice(0, 1)));
    const part2 = gzipSync(entryStream(entries.slice(1)));
    const body = concat(part1, part2);
    const bytes = concat(
      Uint8Array.of(0x93, 0xa3, 0x61, 0x70, 0x70, 0xc5, body.length >> 8, body.length & 0xff),
      body,
      Uint8Array.of(0x81, 0xaa, ...Buffer.from('compressed'), 0xa4, ...Buffer.from('gzip')),
    );
    expect(event(decodeRequests(bytes, { gunzip })).entries).toEqual(entries);
  });

  it('Forward mode, with and without option', () => {
    expect(event(decodeRequests(encodeForwardMode('fw', entries)))).toMatchObject({ kind: 'forward', tag: 'fw', entries, option: {} });
    expect(event(decodeRequests(encodeForwardMode('fw', entries, { chunk: 'c1', size: 3 })))).toMatchObject({ option: { chunk: 'c1', size: 3 } });
    const many = Array.from({ length: 70000 }, (_, i) => ({ time: i, record: { i } }));
    expect(event(decodeRequests(encodeForwardMode('fw', many), { maxFrameBytes: 64 * 1024 * 1024 })).entries).toHaveLength(70000);
  });

  it('Message mode, with and without option', () => {
    expect(event(decodeRequests(encodeMessageMode('m', entries[0])))).toMatchObject({ kind: 'message', tag: 'm', entries: [entries[0]], option: {} });
    expect(event(decodeRequests(encodeMessageMode('m', entries[1], { chunk: 'id' })))).toMatchObject({ entries: [entries[1]], option: { chunk: 'id' } });
  });

  it('heartbeats between frames', () => {
    const frames = decodeRequests(concat(encodeHeartbeat(), encodeMessageMode('m', entries[0]), encodeHeartbeat()));
    expect(frames.map((f) => f.kind)).toEqual(['heartbeat', 'message', 'heartbeat']);
  });

  it('stamps entries whose time is nil or 0 with the clock, once per frame (as fluentd does)', () => {
    let calls = 0;
    const now = () => (calls++, 1700000000999);
    // [tag, [[0, {}], [nil, {}], [EventTime(0, 5ms), {}], [1, {}]]]
    const wire = Uint8Array.of(0x92, 0xa1, 0x61, 0x94, 0x92, 0x00, 0x80, 0x92, 0xc0, 0x80, 0x92, 0xd7, 0x00, 0, 0, 0, 0, 0, 0x4c, 0x4b, 0x40, 0x80, 0x92, 0x01, 0x80);
    expect(event(decodeRequests(wire, { now })).entries.map((e) => e.time)).toEqual([1700000000999, 1700000000999, 1700000000999, 1000]);
    expect(calls).toBe(1);
    expect(event(decodeRequests(Uint8Array.of(0x93, 0xa1, 0x61, 0xc0, 0x80), { now })).entries[0].time).toBe(1700000000999);
  });

  it('an empty PackedForward', () => {
    expect(event(decodeRequests(encodePackedForward('e', [], { chunk: 'z' })))).toMatchObject({ entries: [], option: { size: 0, chunk: 'z' } });
  });
});

function entryStream(list: typeof entries): Uint8Array {
  // the entries part of a PackedForward frame: tag "x" is 2 bytes after the 1-byte array header
  const frame = encodePackedForward('x', list);
  const h = frame[3];
  const [start, length] =
    h === 0xc4 ? [5, frame[4]] : h === 0xc5 ? [6, (frame[4] << 8) | frame[5]] : [8, Buffer.from(frame).readUInt32BE(4)];
  return frame.subarray(start, start + length);
}

describe('streaming', () => {
  const stream = concat(
    encodePackedForward('a', entries, { chunk: 'c1', gzip }),
    encodeHeartbeat(),
    encodeMessageMode('b', entries[0], { chunk: 'c2' }),
    encodeForwardMode('c', entries),
    encodePing({ clientHostname: 'edge-1', sharedKeySalt: new Uint8Array(16).fill(7), sharedKeyHexdigest: 'ab', username: '', passwordHexdigest: '' }),
    encodePackedForward('d', entries.slice(1)),
  );
  const expected = decodeRequests(stream, { gunzip });

  it('decodes the same frames when the stream is split at every byte', () => {
    expect(expected.map((f) => f.kind)).toEqual(['compressed', 'heartbeat', 'message', 'forward', 'ping', 'packed']);
    for (let i = 0; i <= stream.length; i++) {
      const decoder = createRequestDecoder({ gunzip });
      const frames = [...decoder.push(stream.subarray(0, i)), ...decoder.push(stream.subarray(i))];
      decoder.finish();
      expect(frames).toEqual(expected);
    }
  });

  it('decodes the same frames fed one byte at a time', () => {
    const decoder = createRequestDecoder({ gunzip });
    const frames: RequestFrame[] = [];
    for (let i = 0; i < stream.length; i++) frames.push(...decoder.push(stream.subarray(i, i + 1)));
    decoder.finish();
    expect(frames).toEqual(expected);
    expect(decoder.consumedBytes).toBe(stream.length);
  });

  it('returns plain Uint8Arrays for bin values, even from Buffer chunks', () => {
    const [frame] = decodeRequests(Buffer.from(encodePackedForward('a', entries)));
    const bin = event([frame]).entries[1].record.bin;
    expect(bin).toBeInstanceOf(Uint8Array);
    expect((bin as Uint8Array).constructor).toBe(Uint8Array);
  });

  it('does not alias the buffers it was given', () => {
    const copy = Uint8Array.from(stream);
    const decoder = createRequestDecoder({ gunzip });
    const frames = decoder.push(copy);
    copy.fill(0);
    expect(frames).toEqual(expected);
  });

  it('reports a stream that ends inside a frame', () => {
    const decoder = createRequestDecoder();
    decoder.push(encodeMessageMode('m', entries[0]).subarray(0, 10));
    expect(decoder.bufferedBytes).toBe(10);
    expect(thrown(() => decoder.finish()).message).toBe('stream ended inside a frame (10 bytes of it received)');
  });
});

describe('size limits', () => {
  it('refuses a frame from its header, before the body arrives', () => {
    const decoder = createRequestDecoder();
    // [ "a", bin32 of 70 MiB ...
    const header = Uint8Array.of(0x93, 0xa1, 0x61, 0xc6, 0x04, 0x60, 0x00, 0x00);
    const error = thrown(() => decoder.push(header));
    expect(error.code).toBe(ErrorCodes.TOO_LARGE);
    expect(error.message).toBe('frame of at least 70 MiB exceeds max 16 MiB');
    // and stays failed: the stream cannot be resynchronised
    expect(thrown(() => decoder.push(Uint8Array.of(0xc0)))).toBe(error);
  });

  it('refuses a container whose item count cannot fit', () => {
    const error = thrown(() => createRequestDecoder().push(Uint8Array.of(0x92, 0xa1, 0x61, 0xdd, 0xff, 0xff, 0xff, 0xff)));
    expect(error.code).toBe(ErrorCodes.TOO_LARGE);
    expect(error.message).toMatch(/an array of 4294967295 at offset 3, which cannot fit in max 16 MiB/);
  });

  it('refuses a frame of many small values once it passes the limit', () => {
    const bytes = encodeForwardMode('fw', Array.from({ length: 200 }, (_, i) => ({ time: i, record: { i } })));
    expect(bytes.length).toBeGreaterThan(2048);
    const decoder = createRequestDecoder({ maxFrameBytes: 2048 });
    let error: SluiceError | undefined;
    let pushed = 0;
    for (let i = 0; i < bytes.length && !error; i += 100) {
      try {
        decoder.push(bytes.subarray(i, i + 100));
        pushed = i + 100;
      } catch (e) {
        error = e as SluiceError;
      }
    }
    expect(error?.code).toBe(ErrorCodes.TOO_LARGE);
    expect(error?.message).toMatch(/exceeds max 2 KiB$/);
    expect(pushed).toBeLessThanOrEqual(2048);
  });

  it('accepts a frame of exactly the limit', () => {
    const bytes = encodeMessageMode('m', { time: 1, record: { pad: 'x'.repeat(1000) } });
    expect(decodeRequests(bytes, { maxFrameBytes: bytes.length })).toHaveLength(1);
    expect(thrown(() => decodeRequests(bytes, { maxFrameBytes: bytes.length - 1 })).code).toBe(ErrorCodes.TOO_LARGE);
  });

  it('refuses compressed entries that inflate past the limit (gzip bomb)', () => {
    const bomb = gzipSync(new Uint8Array(8 * 1024 * 1024));
    const bytes = concat(
      Uint8Array.of(0x93, 0xa1, 0x61, 0xc6, ...u32(bomb.length)),
      bomb,
      Uint8Array.of(0x81, 0xaa, ...Buffer.from('compressed'), 0xa4, ...Buffer.from('gzip')),
    );
    const error = thrown(() => decodeRequests(bytes, { gunzip, maxDecompressedBytes: 1024 * 1024 }));
    expect(error.code).toBe(ErrorCodes.TOO_LARGE);
    expect(error.message).toBe('compressed entries inflate to more than max 1 MiB');
  });

  it('refuses nesting deeper than maxDepth', () => {
    let record: Record<string, unknown> = { leaf: 1 };
    for (let i = 0; i < 30; i++) record = { r: record };
    const bytes = encodeMessageMode('m', { time: 1, record });
    expect(decodeRequests(bytes)).toHaveLength(1);
    expect(thrown(() => decodeRequests(bytes, { maxDepth: 20 })).message).toMatch(/deeper than 20 levels/);
  });
});

function u32(n: number): number[] {
  return [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
}

describe('malformed requests', () => {
  const tagA = [0xa1, 0x61];
  const cases: Array<[string, number[], RegExp]> = [
    ['not an array', [0x81, 0xa1, 0x61, 0x01], /must be a msgpack array \(a forward request\) or nil \(a heartbeat\), got a map of 1/],
    ['JSON', [...Buffer.from('["tag",1,{}]')], /looks like JSON/],
    ['TLS', [0x16, 0x03, 0x01, 0x00, 0xa5], /looks like a TLS handshake/],
    ['the never-used byte', [0x92, 0xa1, 0x61, 0xc1], /byte 0xc1 \(never used\)/],
    ['an array of 1', [0x91, ...tagA], /got an array of 1/],
    ['an array of 5', [0x95, ...tagA, 1, 0x80, 0x80, 0x80], /got an array of 5/],
    ['a tag that is not a string', [0x93, 0x01, 0x01, 0x80], /tag must be a string, got an integer/],
    ['a tag that is not UTF-8', [0x93, 0xa1, 0xff, 0x01, 0x80], /tag is not valid UTF-8/],
    ['a map as second element', [0x92, ...tagA, 0x80], /second element must be a time .*got a map of 0/],
    ['a record that is not a map', [0x93, ...tagA, 0x01, 0xa1, 0x78], /record must be a map, got a string/],
    ['Message mode without record', [0x92, ...tagA, 0x01], /Message mode is \[tag, time, record, option\?\], got 2 elements/],
    ['a negative time', [0x93, ...tagA, 0xff, 0x80], /time -1 is out of range/],
    ['a bad EventTime', [0x93, ...tagA, 0xd7, 0x00, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0x80], /nanoseconds 4294967295/],
    ['an unknown ext as time', [0x93, ...tagA, 0xd6, 0x05, 0, 0, 0, 1, 0x80], /ext type 5 of 4 bytes/],
    ['an ext inside a record', [0x93, ...tagA, 0x01, 0x81, 0xa1, 0x6b, 0xd4, 0x72, 0x00], /record holds msgpack ext type 114/],
    ['a Forward entry of 3', [0x92, ...tagA, 0x91, 0x93, 0x01, 0x80, 0x80], /entry 0 must be \[time, record\], got an array of 3/],
    ['a Forward entry that is a map', [0x92, ...tagA, 0x91, 0x80], /entry 0 must be an array, got a map of 0/],
    ['truncated packed entries', [0x92, ...tagA, 0xc4, 0x03, 0x92, 0x01, 0x81], /entry 0 record is truncated/],
    ['garbage packed entries', [0x92, ...tagA, 0xc4, 0x02, 0xc1, 0xc1], /entry 0 is malformed: byte 0xc1/],
    ['a size that does not match', [0x93, ...tagA, 0xc4, 0x03, 0x92, 0x01, 0x80, 0x81, 0xa4, ...Buffer.from('size'), 0x02], /option size says 2 entries, but the frame holds 1/],
    ['a chunk that is not a string', [0x93, ...tagA, 0x90, 0x81, 0xa5, ...Buffer.from('chunk'), 0x01], /option chunk must be a string, got an integer/],
    ['an empty chunk', [0x93, ...tagA, 0x90, 0x81, 0xa5, ...Buffer.from('chunk'), 0xa0], /option chunk must be 1..256 characters, got 0/],
    ['an option that is not a map', [0x93, ...tagA, 0x90, 0x01], /option must be a map, got an integer/],
    ['an unknown compression', [0x93, ...tagA, 0xc4, 0x00, 0x81, 0xaa, ...Buffer.from('compressed'), 0xa4, ...Buffer.from('zstd')], /compression "zstd" is not supported \(only gzip\)/],
    ['gzip without a gunzip function', [0x93, ...tagA, 0xc4, 0x00, 0x81, 0xaa, ...Buffer.from('compressed'), 0xa4, ...Buffer.from('gzip')], /without a gunzip function/],
    ['Fluent Bit metrics', [0x93, ...tagA, 0xc4, 0x00, 0x81, 0xad, ...Buffer.from('fluent_signal'), 0x01], /Fluent Bit metrics \(fluent_signal 1\) are not supported/],
    ['a 6-element array that is not PING', [0x96, ...tagA, 1, 2, 3, 4, 5], /must be a PING, got tag "a"/],
    ['a PING with a number for hostname', [0x96, 0xa4, ...Buffer.from('PING'), 1, 0xa0, 0xa0, 0xa0, 0xa0], /PING client_hostname must be a string, got an integer/],
  ];
  for (const [name, bytes, message] of cases) {
    it(`refuses ${name}`, () => {
      const error = thrown(() => decodeRequests(Uint8Array.from(bytes)));
      expect(error.code).toBe(ErrorCodes.PROTOCOL);
      expect(error.message).toMatch(message);
    });
  }

  it('refuses gzip that is corrupt', () => {
    const body = Uint8Array.of(0x1f, 0x8b, 0x08, 0x00, 1, 2, 3, 4, 5, 6);
    const bytes = concat(
      Uint8Array.of(0x93, 0xa1, 0x61, 0xc4, body.length),
      body,
      Uint8Array.of(0x81, 0xaa, ...Buffer.from('compressed'), 0xa4, ...Buffer.from('gzip')),
    );
    const error = thrown(() => decodeRequests(bytes, { gunzip }));
    expect(error.code).toBe(ErrorCodes.PROTOCOL);
    expect(error.message).toMatch(/^compressed entries are not valid gzip: /);
  });

  it('refuses responses on the request side and requests on the response side', () => {
    expect(thrown(() => decodeRequests(encodeAck('x'))).message).toMatch(/got a map of 1/);
    expect(thrown(() => decodeResponses(encodeMessageMode('m', entries[0]))).message).toMatch(/response must be HELO, PONG or \{ack: chunk\}, got "m"/);
    expect(thrown(() => decodeResponses(encodeHeartbeat())).message).toMatch(/must be a msgpack array \(HELO or PONG\) or map \(an ack\), got nil/);
  });

  it('checks option values only for the keys it knows and ignores others', () => {
    const option = { chunk: 'c', other: { deep: [1, 2] }, 7: 'numeric key' } as Record<string, unknown>;
    const bytes = encodeMessageMode('m', entries[0], option as { chunk: string });
    expect(event(decodeRequests(bytes)).option).toEqual({ chunk: 'c' });
  });
});

describe('responses', () => {
  it('acks', () => {
    expect(decodeResponses(encodeAck('p8n9gmxTQVC8/nh2wlKKeQ=='))).toEqual([{ kind: 'ack', chunk: 'p8n9gmxTQVC8/nh2wlKKeQ==' }]);
    // a Sluice hub's ack says so; keys a client does not know (and a non-integer `sluice`) are skipped
    expect(decodeResponses(encodeAck('c', 1))).toEqual([{ kind: 'ack', chunk: 'c', sluice: 1 }]);
    expect(decodeResponses(encode({ ack: 'c', sluice: 'yes', other: [1] }))).toEqual([{ kind: 'ack', chunk: 'c' }]);
    expect(thrown(() => decodeResponses(Uint8Array.of(0x81, 0xa1, 0x78, 0xa0))).message).toBe('response map has no "ack" key');
  });

  it('HELO and PONG, split at every byte', () => {
    const helo: HeloFrame = { kind: 'helo', nonce: Uint8Array.from([0, 255, 128, 7]), auth: new Uint8Array(0), keepalive: false };
    const pong = { kind: 'pong' as const, authResult: true, reason: '', serverHostname: 'hub', sharedKeyHexdigest: 'ff'.repeat(64) };
    const stream = concat(encodeHelo(helo), encodePong(pong), encodeAck('a'));
    for (let i = 0; i <= stream.length; i++) {
      const decoder = createResponseDecoder();
      expect([...decoder.push(stream.subarray(0, i)), ...decoder.push(stream.subarray(i))]).toEqual([helo, pong, { kind: 'ack', chunk: 'a' }]);
    }
  });

  it('HELO with nonce and auth as str (fluentd) and keepalive defaulting to true', () => {
    // ["HELO", {"nonce": "n\x01", "auth": ""}]
    const bytes = Uint8Array.of(0x92, 0xa4, ...Buffer.from('HELO'), 0x82, 0xa5, ...Buffer.from('nonce'), 0xa2, 0x6e, 0x01, 0xa4, ...Buffer.from('auth'), 0xa0);
    expect(decodeResponses(bytes)).toEqual([{ kind: 'helo', nonce: Uint8Array.of(0x6e, 0x01), auth: new Uint8Array(0), keepalive: true }]);
  });
});

describe('handshake', () => {
  const salt = new Uint8Array(16).fill(0xfe); // not UTF-8: digests must be over bytes
  const helo: HeloFrame = { kind: 'helo', nonce: Uint8Array.from({ length: 16 }, (_, i) => i * 17), auth: new Uint8Array(0), keepalive: true };
  const server = { hostname: 'hub.example', sharedKey: 's3cret', helo };

  it('succeeds when both sides share the key, across the wire', () => {
    const ping = createPing(helo, { hostname: 'edge.example', sharedKey: 's3cret', salt }, sha512Hex);
    const [received] = decodeRequests(encodePing(ping));
    expect(received).toEqual(ping);
    if (received.kind !== 'ping') throw new Error('not a ping');
    const result = checkPing(received, server, sha512Hex);
    expect(result).toEqual({ ok: true });
    const [pong] = decodeResponses(encodePong(createPong(received, server, result, sha512Hex)));
    if (pong.kind !== 'pong') throw new Error('not a pong');
    expect(checkPong(pong, ping, helo, 's3cret', sha512Hex)).toEqual({ ok: true });
  });

  it('computes the spec digest: sha512_hex(salt + hostname + nonce + shared_key)', () => {
    const ping = createPing(helo, { hostname: 'edge', sharedKey: 'k', salt }, sha512Hex);
    const expected = createHash('sha512').update(salt).update('edge').update(helo.nonce).update('k').digest('hex');
    expect(ping.sharedKeyHexdigest).toBe(expected);
    expect(ping.username).toBe('');
    expect(ping.passwordHexdigest).toBe('');
  });

  it('fails on a wrong shared key, on either side', () => {
    const ping = createPing(helo, { hostname: 'edge', sharedKey: 'wrong', salt }, sha512Hex);
    const result = checkPing(ping, server, sha512Hex);
    expect(result).toEqual({ ok: false, reason: 'shared_key mismatch' });
    const pong = createPong(ping, server, result, sha512Hex);
    expect(pong).toMatchObject({ authResult: false, reason: 'shared_key mismatch' });
    expect(checkPong(pong, ping, helo, 'wrong', sha512Hex)).toEqual({ ok: false, reason: 'server refused the handshake: shared_key mismatch' });
    // a server that accepts anyone but does not know the key is caught by the client
    const good = createPing(helo, { hostname: 'edge', sharedKey: 's3cret', salt }, sha512Hex);
    const impostor = createPong(good, { ...server, sharedKey: 'other' }, { ok: true }, sha512Hex);
    expect(checkPong(impostor, good, helo, 's3cret', sha512Hex).ok).toBe(false);
  });

  it('checks username and password when HELO carries an auth salt', () => {
    const authHelo: HeloFrame = { ...helo, auth: Uint8Array.of(9, 9, 9) };
    const secret = { ...server, helo: authHelo, passwordOf: (user: string) => (user === 'alice' ? 'pw' : undefined) };
    const ok = createPing(authHelo, { hostname: 'edge', sharedKey: 's3cret', salt, username: 'alice', password: 'pw' }, sha512Hex);
    expect(ok.passwordHexdigest).toBe(createHash('sha512').update(Uint8Array.of(9, 9, 9)).update('alice').update('pw').digest('hex'));
    expect(checkPing(ok, secret, sha512Hex)).toEqual({ ok: true });
    const bad = createPing(authHelo, { hostname: 'edge', sharedKey: 's3cret', salt, username: 'alice', password: 'nope' }, sha512Hex);
    expect(checkPing(bad, secret, sha512Hex)).toEqual({ ok: false, reason: 'username/password mismatch' });
    const unknown = createPing(authHelo, { hostname: 'edge', sharedKey: 's3cret', salt, username: 'bob', password: 'pw' }, sha512Hex);
    expect(checkPing(unknown, secret, sha512Hex).ok).toBe(false);
  });

  it('writes every PING element as a msgpack str, the salt too (Fluent Bit in_forward refuses bin)', () => {
    const printable = createSalt(Uint8Array.from({ length: 16 }, (_, i) => i * 37));
    expect(Buffer.from(printable).toString('latin1')).toMatch(/^[A-Za-z0-9_-]{16}$/);
    for (const saltBytes of [printable, salt]) {
      const ping = createPing(helo, { hostname: 'edge.example', sharedKey: 's3cret', salt: saltBytes }, sha512Hex);
      const bytes = Buffer.from(encodePing(ping));
      expect(bytes[0]).toBe(0x96); // fixarray of 6
      const types: string[] = [];
      const values: Buffer[] = [];
      for (let pos = 1; pos < bytes.length; ) {
        const h = bytes[pos];
        const [kind, start, length] =
          h >= 0xa0 && h <= 0xbf ? ['str', pos + 1, h & 0x1f] : h === 0xd9 ? ['str', pos + 2, bytes[pos + 1]] : h === 0xda ? ['str', pos + 3, bytes.readUInt16BE(pos + 1)] : ['not str', pos + 1, 0];
        types.push(kind);
        values.push(bytes.subarray(start, start + length));
        pos = start + length;
        if (kind !== 'str') break;
      }
      expect(types).toEqual(['str', 'str', 'str', 'str', 'str', 'str']);
      expect(values.map((v) => v.length)).toEqual([4, 12, 16, 128, 0, 0]);
      expect(Buffer.compare(values[2], Buffer.from(saltBytes))).toBe(0); // the salt's bytes as sent, hashed as sent
      const [decoded] = decodeRequests(bytes);
      expect(decoded).toEqual(ping);
    }
  });

  it('refuses a client that uses the server hostname', () => {
    const ping = createPing(helo, { hostname: 'hub.example', sharedKey: 's3cret', salt }, sha512Hex);
    expect(checkPing(ping, server, sha512Hex)).toEqual({ ok: false, reason: 'same hostname between input and output: invalid configuration' });
  });
});
