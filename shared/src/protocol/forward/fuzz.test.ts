/**
 * Fuzzing the stream decoders with a seeded PRNG: valid frames, frames shaped like requests with
 * random parts, random msgpack (lying lengths, every ext type, 0xc1), mutations of valid frames,
 * and raw noise, each fed in random chunks. A decoder may only return well-formed frames or throw a
 * SluiceError coded PROTOCOL or TOO_LARGE. A failure prints the seed and case to reproduce it:
 *   FUZZ_SEED=<seed> FUZZ_CASES=<n> npx vitest run shared/src/protocol/forward/fuzz.test.ts
 */
 
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ErrorCodes, SluiceError } from '../../errors.ts';
import {
  createRequestDecoder,
  createResponseDecoder,
  encodeAck,
  encodeForwardMode,
  encodeHeartbeat,
  encodeHelo,
  encodeMessageMode,
  encodePackedForward,
  encodePing,
  encodePong,
  MAX_EVENT_TIME_MS,
  recordToEvent,
  type FluentRecord,
  type ForwardDecoder,
  type RequestFrame,
  type ResponseFrame,
} from './index.ts';

const SEED = Number(process.env.FUZZ_SEED ?? 0x51c3);
const CASES = Number(process.env.FUZZ_CASES ?? 4000);
const LIMITS = { maxFrameBytes: 64 * 1024, maxDecompressedBytes: 256 * 1024, maxDepth: 32 };
const gunzip = (data: Uint8Array, max: number) => gunzipSync(data, { maxOutputLength: max });

type Rand = () => number;

function mulberry32(seed: number): Rand {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const int = (rand: Rand, n: number) => Math.floor(rand() * n);
const pick = <T>(rand: Rand, xs: readonly T[]): T => xs[int(rand, xs.length)];

// --- generators ---------------------------------------------------------------------------------

function randomJsValue(rand: Rand, depth: number): unknown {
  const r = rand();
  if (depth > 4 || r < 0.4) {
    return pick(rand, [0, 1, -1, 127, 128, -33, 65535, 2 ** 32, 2 ** 53 + 2, -(2 ** 40), 0.5, -1e300, true, false, null, '', 'x', 'é✓😀', 'a\u0000b', new Uint8Array([0, 255]), new Date(1700000000000)]);
  }
  if (r < 0.7) return Array.from({ length: int(rand, 5) }, () => randomJsValue(rand, depth + 1));
  return randomRecord(rand, depth + 1);
}

function randomRecord(rand: Rand, depth = 0): FluentRecord {
  const record: FluentRecord = {};
  for (let i = int(rand, 6); i > 0; i--) record[pick(rand, ['log', 'message', 'k', '1', '_sluice_headers', '_sluice_key', '_sluice_body', 'ü'])] = randomJsValue(rand, depth + 1);
  return record;
}

function validFrame(rand: Rand): Uint8Array {
  const entries = Array.from({ length: int(rand, 5) }, () => ({ time: 1000 + int(rand, MAX_EVENT_TIME_MS - 1000), record: randomRecord(rand) }));
  const tag = pick(rand, ['app', 'a.b.c', 'é', 'kube.var.log']);
  switch (int(rand, 6)) {
    case 0:
      return encodeMessageMode(tag, entries[0] ?? { time: 1, record: {} }, rand() < 0.5 ? { chunk: 'c' } : undefined);
    case 1:
      return encodeForwardMode(tag, entries, rand() < 0.5 ? { chunk: 'c', size: entries.length } : undefined);
    case 2:
      return encodePackedForward(tag, entries, { chunk: 'c', gzip: (d) => gzipSync(d) });
    case 3:
      return encodeHeartbeat();
    case 4:
      return encodePing({ clientHostname: 'h', sharedKeySalt: new Uint8Array([1, 255]), sharedKeyHexdigest: 'ab', username: '', passwordHexdigest: '' });
    default:
      return encodePackedForward(tag, entries, rand() < 0.5 ? { chunk: 'id' } : {});
  }
}

function validResponse(rand: Rand): Uint8Array {
  switch (int(rand, 3)) {
    case 0:
      return encodeAck(pick(rand, ['c', 'p8n9gmxTQVC8/nh2wlKKeQ==']));
    case 1:
      return encodeHelo({ nonce: new Uint8Array([1, 2, 3]), auth: new Uint8Array(int(rand, 3)), keepalive: rand() < 0.5 });
    default:
      return encodePong({ authResult: rand() < 0.5, reason: 'r', serverHostname: 'hub', sharedKeyHexdigest: 'ff' });
  }
}

const be = (n: number, bytes: number) => Array.from({ length: bytes }, (_, i) => Math.floor(n / 256 ** (bytes - 1 - i)) & 0xff);

/** Random msgpack written byte by byte: every format, lengths that may lie, any ext type. */
function randomMsgpack(rand: Rand, depth: number, out: number[]): void {
  const lie = () => (rand() < 0.05 ? pick(rand, [0xff, 0xffff, 0xffffffff, 70 * 1024 * 1024]) : -1);
  const count = (max: number) => {
    const l = lie();
    return l >= 0 ? Math.min(l, max) : int(rand, 4);
  };
  const r = int(rand, depth > 6 ? 10 : 16);
  switch (r) {
    case 0:
      out.push(int(rand, 128));
      break;
    case 1:
      out.push(pick(rand, [0xc0, 0xc2, 0xc3, 0xe0, 0xff, 0xc1]));
      break;
    case 2: {
      const b = pick(rand, [0xcc, 0xcd, 0xce, 0xcf, 0xd0, 0xd1, 0xd2, 0xd3, 0xca, 0xcb]);
      const size = { 0xcc: 1, 0xcd: 2, 0xce: 4, 0xcf: 8, 0xd0: 1, 0xd1: 2, 0xd2: 4, 0xd3: 8, 0xca: 4, 0xcb: 8 }[b]!;
      out.push(b, ...Array.from({ length: size }, () => int(rand, 256)));
      break;
    }
    case 3:
    case 4: {
      const n = count(40);
      const body = Array.from({ length: Math.min(n, 40) }, () => (rand() < 0.9 ? 0x61 + int(rand, 26) : int(rand, 256)));
      if (n < 32 && rand() < 0.7) out.push(0xa0 | n, ...body);
      else out.push(...pick(rand, [[0xd9, ...be(n, 1)], [0xda, ...be(n, 2)], [0xdb, ...be(n, 4)]]), ...body);
      break;
    }
    case 5: {
      const n = count(40);
      out.push(...pick(rand, [[0xc4, ...be(n, 1)], [0xc5, ...be(n, 2)], [0xc6, ...be(n, 4)]]), ...Array.from({ length: Math.min(n, 40) }, () => int(rand, 256)));
      break;
    }
    case 6: {
      const type = pick(rand, [0, 0, 0xff, 0x72, 0x69, 0x70, 0x73, 0x65, 0x42, 0x74, 0x78, 0x62, 5]);
      const size = pick(rand, [1, 2, 4, 8, 8, 12, 16]);
      const fixed = { 1: 0xd4, 2: 0xd5, 4: 0xd6, 8: 0xd7, 16: 0xd8 }[size];
      if (fixed && rand() < 0.7) out.push(fixed, type);
      else out.push(0xc7, size, type);
      out.push(...Array.from({ length: size }, () => int(rand, 256)));
      break;
    }
    case 7:
      // an EventTime, the thing times are made of
      out.push(0xd7, 0x00, ...be(int(rand, 2 ** 32), 4), ...be(rand() < 0.9 ? int(rand, 1e9) : 0xffffffff, 4));
      break;
    case 8:
    case 9:
    case 10:
    case 11: {
      const n = count(6);
      if (n < 16 && rand() < 0.8) out.push(0x90 | n);
      else out.push(...pick(rand, [[0xdc, ...be(n, 2)], [0xdd, ...be(n, 4)]]));
      for (let i = 0; i < Math.min(n, 6); i++) randomMsgpack(rand, depth + 1, out);
      break;
    }
    default: {
      const n = count(5);
      if (n < 16 && rand() < 0.8) out.push(0x80 | n);
      else out.push(...pick(rand, [[0xde, ...be(n, 2)], [0xdf, ...be(n, 4)]]));
      for (let i = 0; i < Math.min(n, 5) * 2; i++) {
        if (i % 2 === 0 && rand() < 0.6) out.push(...strBytes(pick(rand, ['chunk', 'size', 'compressed', 'fluent_signal', 'nonce', 'auth', 'keepalive', 'ack', 'log'])));
        else if (i % 2 === 1 && rand() < 0.2) out.push(...strBytes(pick(rand, ['gzip', 'text', 'zstd', ''])));
        else randomMsgpack(rand, depth + 1, out);
      }
    }
  }
}

function strBytes(text: string): number[] {
  const b = [...Buffer.from(text)];
  return [0xa0 | b.length, ...b];
}

function anyMsgpack(rand: Rand): number[] {
  const out: number[] = [];
  randomMsgpack(rand, 0, out);
  return out;
}

/** Frames shaped like requests and responses, with random parts where the decoder makes decisions. */
function shapedFrame(rand: Rand, responses: boolean): Uint8Array {
  const out: number[] = [];
  const time = () => (rand() < 0.6 ? [0xd7, 0x00, ...be(int(rand, 2 ** 31), 4), ...be(int(rand, 1e9), 4)] : rand() < 0.5 ? [int(rand, 128)] : anyMsgpack(rand));
  const record = () => (rand() < 0.7 ? [0x81, ...strBytes('log'), ...anyMsgpack(rand)] : anyMsgpack(rand));
  const entry = () => (rand() < 0.8 ? [0x92, ...(rand() < 0.3 ? [0x92, ...time(), ...anyMsgpack(rand)] : time()), ...record()] : anyMsgpack(rand));
  const option = () => {
    const n = int(rand, 4);
    const o = [0x80 | n];
    for (let i = 0; i < n; i++) {
      const key = pick(rand, ['chunk', 'size', 'compressed', 'fluent_signal', 'other']);
      o.push(...strBytes(key));
      o.push(...(rand() < 0.5 ? (key === 'compressed' ? strBytes(pick(rand, ['gzip', 'text'])) : key === 'chunk' ? strBytes('c') : [int(rand, 5)]) : anyMsgpack(rand)));
    }
    return o;
  };
  if (responses) {
    const which = int(rand, 3);
    if (which === 0) out.push(0x81, ...strBytes('ack'), ...anyMsgpack(rand));
    else if (which === 1) out.push(0x92, ...strBytes('HELO'), ...(rand() < 0.5 ? [0x81, ...strBytes('nonce'), ...anyMsgpack(rand)] : anyMsgpack(rand)));
    else out.push(0x95, ...strBytes('PONG'), ...anyMsgpack(rand), ...anyMsgpack(rand), ...anyMsgpack(rand), ...anyMsgpack(rand));
    return Uint8Array.from(out);
  }
  const tag = rand() < 0.9 ? strBytes('tag') : anyMsgpack(rand);
  switch (int(rand, 4)) {
    case 0:
      out.push(rand() < 0.5 ? 0x93 : 0x94, ...tag, ...time(), ...record(), ...option());
      break;
    case 1: {
      const n = int(rand, 4);
      out.push(rand() < 0.5 ? 0x92 : 0x93, ...tag, 0x90 | n);
      for (let i = 0; i < n; i++) out.push(...entry());
      out.push(...option());
      break;
    }
    case 2: {
      const stream: number[] = [];
      for (let i = int(rand, 4); i > 0; i--) stream.push(...entry());
      let body = Uint8Array.from(stream);
      let opt = option();
      if (rand() < 0.3) {
        body = gzipSync(body);
        opt = [0x81, ...strBytes('compressed'), ...strBytes('gzip')];
      }
      out.push(0x93, ...tag, 0xc6, ...be(body.length, 4), ...body, ...opt);
      break;
    }
    default:
      out.push(0x96, ...strBytes('PING'), ...anyMsgpack(rand), ...anyMsgpack(rand), ...anyMsgpack(rand), ...anyMsgpack(rand), ...anyMsgpack(rand));
  }
  return Uint8Array.from(out);
}

const INTERESTING = [0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc4, 0xc6, 0xc7, 0xc9, 0xd7, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0xff];

function mutate(rand: Rand, input: Uint8Array): Uint8Array {
  const bytes = [...input];
  for (let m = 1 + int(rand, 3); m > 0; m--) {
    const at = int(rand, bytes.length + 1);
    switch (int(rand, 7)) {
      case 0:
        if (bytes.length) bytes[at % bytes.length] ^= 1 << int(rand, 8);
        break;
      case 1:
        if (bytes.length) bytes[at % bytes.length] = pick(rand, INTERESTING);
        break;
      case 2:
        bytes.splice(at, 0, ...Array.from({ length: 1 + int(rand, 4) }, () => pick(rand, INTERESTING)));
        break;
      case 3:
        bytes.splice(at, 1 + int(rand, 4));
        break;
      case 4:
        bytes.length = Math.min(bytes.length, at);
        break;
      case 5:
        bytes.splice(at, 0, ...bytes.slice(int(rand, bytes.length + 1), int(rand, bytes.length + 1)));
        break;
      default:
        // a length field that lies big
        bytes.splice(at, 0, pick(rand, [0xdd, 0xdf, 0xc6, 0xdb, 0xc9]), 0xff, 0xff, 0xff, 0xff);
    }
  }
  return Uint8Array.from(bytes);
}

// --- checks -------------------------------------------------------------------------------------

function isPlainRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

function checkRequest(frame: RequestFrame): void {
  switch (frame.kind) {
    case 'heartbeat':
      return;
    case 'ping':
      if (typeof frame.clientHostname !== 'string' || !(frame.sharedKeySalt instanceof Uint8Array) || typeof frame.sharedKeyHexdigest !== 'string' || typeof frame.username !== 'string' || typeof frame.passwordHexdigest !== 'string') {
        throw new Error(`malformed ping frame: ${JSON.stringify(frame)}`);
      }
      return;
    case 'message':
    case 'forward':
    case 'packed':
    case 'compressed': {
      if (typeof frame.tag !== 'string' || !Array.isArray(frame.entries) || typeof frame.option !== 'object') throw new Error(`malformed event frame ${frame.kind}`);
      const { chunk, size } = frame.option;
      if (chunk !== undefined && (typeof chunk !== 'string' || chunk.length === 0)) throw new Error('bad chunk');
      if (size !== undefined && !(Number.isInteger(size) && size >= 0)) throw new Error('bad size');
      for (const entry of frame.entries) {
        if (!Number.isInteger(entry.time) || entry.time < 0) throw new Error(`bad time ${entry.time}`);
        if (!isPlainRecord(entry.record)) throw new Error('record is not a map');
        if (entry.metadata !== undefined && !isPlainRecord(entry.metadata)) throw new Error('metadata is not a map');
        const event = recordToEvent(frame.tag, entry.time, entry.record);
        if (!(event.body instanceof Uint8Array)) throw new Error('event body is not bytes');
      }
      return;
    }
    default:
      throw new Error(`unknown frame kind ${(frame as { kind: string }).kind}`);
  }
}

function checkResponse(frame: ResponseFrame): void {
  const ok =
    (frame.kind === 'ack' && typeof frame.chunk === 'string') ||
    (frame.kind === 'helo' && frame.nonce instanceof Uint8Array && frame.auth instanceof Uint8Array && typeof frame.keepalive === 'boolean') ||
    (frame.kind === 'pong' && typeof frame.authResult === 'boolean' && typeof frame.reason === 'string' && typeof frame.serverHostname === 'string');
  if (!ok) throw new Error(`malformed response frame ${JSON.stringify(frame)}`);
}

interface Outcome {
  frames: number;
  errors: Record<string, number>;
}

/** Feeds bytes in random chunks; returns the error code it ended with ('' if none). */
function feed<F>(rand: Rand, decoder: ForwardDecoder<F>, bytes: Uint8Array, check: (frame: F) => void, outcome: Outcome): void {
  try {
    let pos = 0;
    while (pos < bytes.length) {
      const size = rand() < 0.3 ? bytes.length - pos : 1 + int(rand, 64);
      for (const frame of decoder.push(bytes.subarray(pos, pos + size))) {
        check(frame);
        outcome.frames++;
      }
      pos += size;
    }
    decoder.finish();
  } catch (error) {
    if (!(error instanceof SluiceError) || (error.code !== ErrorCodes.PROTOCOL && error.code !== ErrorCodes.TOO_LARGE)) throw error;
    outcome.errors[error.code] = (outcome.errors[error.code] ?? 0) + 1;
  }
}

function runCase(kind: string, index: number, run: () => void): void {
  try {
    run();
  } catch (error) {
    throw new Error(`fuzz case ${kind} #${index} failed (FUZZ_SEED=${SEED}): ${error instanceof Error ? error.stack : String(error)}`);
  }
}

describe(`forward decoder fuzz (seed ${SEED}, ${CASES} cases per generator)`, () => {
  const generators: Array<[string, boolean, (rand: Rand) => Uint8Array]> = [
    ['valid request streams', false, (rand) => Uint8Array.from(Buffer.concat(Array.from({ length: 1 + int(rand, 3) }, () => validFrame(rand))))],
    ['shaped requests', false, (rand) => shapedFrame(rand, false)],
    ['random msgpack as requests', false, (rand) => Uint8Array.from(anyMsgpack(rand))],
    ['mutated requests', false, (rand) => mutate(rand, rand() < 0.5 ? validFrame(rand) : shapedFrame(rand, false))],
    ['noise as requests', false, (rand) => Uint8Array.from({ length: int(rand, 200) }, () => int(rand, 256))],
    ['shaped responses', true, (rand) => shapedFrame(rand, true)],
    ['mutated responses', true, (rand) => mutate(rand, validResponse(rand))],
    ['random msgpack as responses', true, (rand) => Uint8Array.from(anyMsgpack(rand))],
  ];

  for (const [name, responses, generate] of generators) {
    it(`${name}: only valid frames or PROTOCOL/TOO_LARGE errors`, () => {
      const rand = mulberry32(SEED ^ name.length * 7919);
      const outcome: Outcome = { frames: 0, errors: {} };
      const started = performance.now();
      let slowest = 0;
      for (let i = 0; i < CASES; i++) {
        const bytes = generate(rand);
        const t0 = performance.now();
        runCase(name, i, () => {
          if (responses) feed(rand, createResponseDecoder(LIMITS), bytes, checkResponse, outcome);
          else feed(rand, createRequestDecoder({ ...LIMITS, gunzip }), bytes, checkRequest, outcome);
        });
        const took = performance.now() - t0;
        if (process.env.FUZZ_VERBOSE && took > 50) console.log(`slow case ${name} #${i}: ${took.toFixed(0)} ms, ${bytes.length} bytes`);
        slowest = Math.max(slowest, took);
      }
      const elapsed = performance.now() - started;
      if (process.env.FUZZ_VERBOSE) console.log(name, JSON.stringify(outcome), `${elapsed.toFixed(0)} ms, slowest ${slowest.toFixed(1)} ms`);
      // every generator must reach the decoder's decisions, not just its first-byte check
      expect(outcome.frames + Object.values(outcome.errors).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
      if (name.startsWith('valid')) expect(outcome.errors).toEqual({});
      // No timing thresholds (shared machines): a pathological input that loops shows as a test timeout.
    });
  }

  it('valid frames decode to exactly what was encoded, however the stream is cut', () => {
    const rand = mulberry32(SEED);
    for (let i = 0; i < CASES / 4; i++) {
      runCase('exact', i, () => {
        const entries = Array.from({ length: 1 + int(rand, 4) }, () => ({ time: 1000 + int(rand, MAX_EVENT_TIME_MS - 1000), record: randomRecord(rand) }));
        const bytes = encodePackedForward('t', entries, rand() < 0.5 ? { chunk: `c${i}`, gzip: (d) => gzipSync(d) } : { chunk: `c${i}` });
        const decoder = createRequestDecoder({ gunzip });
        const frames: RequestFrame[] = [];
        for (let pos = 0; pos < bytes.length; ) {
          const size = 1 + int(rand, 40);
          frames.push(...decoder.push(bytes.subarray(pos, pos + size)));
          pos += size;
        }
        expect(frames).toHaveLength(1);
        const frame = frames[0];
        if (frame.kind !== 'packed' && frame.kind !== 'compressed') throw new Error(`unexpected ${frame.kind}`);
        expect(frame.option.chunk).toBe(`c${i}`);
        expect(frame.entries).toEqual(entries.map((e) => ({ time: e.time, record: normalize(e.record) })));
      });
    }
  });
});

/** What a record looks like after msgpack: object keys named __proto__ are renamed by msgpackr. */
function normalize(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(normalize);
  if (value instanceof Uint8Array || value instanceof Date || value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalize(v)]));
}
