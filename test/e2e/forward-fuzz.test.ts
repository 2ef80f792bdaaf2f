/**
 * Thousands of random and mutated frames thrown at a real hub's forward port over real sockets,
 * one connection each, several at a time, while a well-behaved edge (a real `sluice start`
 * process) streams to the same port. The hub never crashes; from the frames it stores exactly
 * what a correct decoder accepts (each case is classified here with the codec and the hub's
 * limits: a case either decodes completely — then every event of it must be stored — or fails
 * before its first complete frame — then nothing of it may be); and the edge's events all arrive,
 * once, in order. SLUICE_FUZZ_SEED / SLUICE_FUZZ_CASES explore further.
 */
import { mkdirSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, expect, it } from 'vitest';
import { Channel } from '../../collector/src/channel/channel.ts';
import { checkBatches, encodeBatch, RECORD_FORMAT } from '../../collector/src/channel/format.ts';
import { batchesFrame } from '../../collector/src/sinks/forward/bytes-frame.ts';
import { tagToTopic } from '../../collector/src/sources/forward/forward.ts';
import {
  createRequestDecoder,
  encodeForwardMode,
  encodeHeartbeat,
  encodeMessageMode,
  encodePackedForward,
  encodePing,
  type FluentRecord,
  type RequestFrame,
} from '../../shared/src/protocol/forward/index.ts';
import { pack } from '../../shared/src/protocol/forward/msgpack.ts';
import { checkTopic, edgeConfig, high, hubConfig, post } from '../helpers/forward.ts';
import { freePort, removeDir, scaled, startCollector, tempDir, until, type CollectorProcess } from '../helpers/process.ts';
import { int, pick, prng, type Rand } from '../helpers/random.ts';
import { FLEET_TOPIC } from '../../shared/src/api/fleet.ts';

const SEED = Number(process.env.SLUICE_FUZZ_SEED ?? 0xf0f0);
const CASES = Number(process.env.SLUICE_FUZZ_CASES ?? 3000);
const WORKERS = 8;
const EDGE_TOPIC = 'edge.stream';
const EDGE_EVENTS = 20_000;
const LIMITS = { maxFrameBytes: 64 * 1024, maxDecompressedBytes: 256 * 1024 };
const gunzip = (data: Uint8Array, max: number) => gunzipSync(data, { maxOutputLength: max });


function value(rand: Rand, depth: number): unknown {
  const r = rand();
  if (depth > 3 || r < 0.5) return pick(rand, [0, 1, -1, 300, 2 ** 40, 0.5, true, false, null, '', 'text', 'é✓😀', new Uint8Array([0, 1, 255]), 'x'.repeat(int(rand, 300))]);
  if (r < 0.75) return Array.from({ length: int(rand, 4) }, () => value(rand, depth + 1));
  return record(rand, depth + 1);
}

function record(rand: Rand, depth = 0): FluentRecord {
  const out: FluentRecord = {};
  for (let i = int(rand, 5); i > 0; i--) out[pick(rand, ['log', 'message', 'level', 'k', '_sluice_headers', '_sluice_body', 'ü'])] = value(rand, depth + 1);
  return out;
}

const TAGS = ['fuzz.app', 'fuzz.a.b', 'fuzz/odd tag', 'fuzz.é', 'x'.repeat(300), 'fuzz.k8s_pod-1'];

function validFrame(rand: Rand): Uint8Array {
  const entries = Array.from({ length: 1 + int(rand, 6) }, () => ({ time: 1_600_000_000_000 + int(rand, 1e11), record: record(rand) }));
  const tag = pick(rand, TAGS);
  const chunk = rand() < 0.6 ? `fz-${int(rand, 1e9)}` : undefined;
  switch (int(rand, 6)) {
    case 5: {
      // Sluice batch forwarding: record batches as an edge stores them (any client may send them)
      const events = entries.map((e, i) => ({ topic: tag, ts: e.time, key: rand() < 0.3 ? `k${i}` : null, headers: rand() < 0.5 ? ({} as Record<string, string>) : { h: pick(rand, ['v', 'é✓']) }, body: noise(rand, int(rand, 40)) }));
      const cut = int(rand, events.length);
      const payloads = cut === 0 ? [encodeBatch(events).payload] : [encodeBatch(events, 0, cut).payload, encodeBatch(events, cut).payload];
      return Buffer.concat(batchesFrame(tag, payloads, events.length, RECORD_FORMAT, { chunk, gzip: rand() < 0.3 ? (d) => gzipSync(d) : undefined }));
    }
    case 0:
      return encodeMessageMode(tag, entries[0], chunk ? { chunk } : undefined);
    case 1:
      return encodeForwardMode(tag, entries, chunk ? { chunk, size: entries.length } : undefined);
    case 2:
      return encodePackedForward(tag, entries, { chunk, gzip: (d) => gzipSync(d) });
    case 3:
      return encodeHeartbeat();
    default:
      return encodePackedForward(tag, entries, { chunk });
  }
}

function mutate(rand: Rand, bytes: Uint8Array): Uint8Array {
  const b = Buffer.from(bytes);
  switch (int(rand, 6)) {
    case 0:
      for (let i = 1 + int(rand, 4); i > 0; i--) b[int(rand, b.length)] = int(rand, 256);
      return b;
    case 1:
      return b.subarray(0, int(rand, b.length));
    case 2:
      return Buffer.concat([b.subarray(0, int(rand, b.length)), Buffer.from(Array.from({ length: 1 + int(rand, 8) }, () => int(rand, 256)))]);
    case 3: {
      const at = int(rand, b.length);
      return Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + int(rand, 4))]);
    }
    case 4:
      b[int(rand, Math.min(b.length, 12))] ^= 1 << int(rand, 8);
      return b;
    default:
      return Buffer.concat([b, b.subarray(0, int(rand, b.length))]);
  }
}

const noise = (rand: Rand, n: number) => Uint8Array.from({ length: n }, () => int(rand, 256));
const nested = (depth: number): unknown => (depth === 0 ? 'leaf' : [nested(depth - 1)]);

/** Well-formed msgpack with the wrong shape or contents: bad inner data, garbage gzip, wrong types, huge declared sizes, deep records. */
function hostileFrame(rand: Rand): Uint8Array {
  const tag = Buffer.from([0xa9, ...Buffer.from('fuzz.host')]);
  switch (int(rand, 10)) {
    case 0: // PackedForward whose entry stream is noise
      return pack(['fuzz.packed', noise(rand, 1 + int(rand, 300)), { size: 3, chunk: `pk-${int(rand, 1e9)}` }]);
    case 1: // CompressedPackedForward whose payload is not gzip
      return pack(['fuzz.gz', noise(rand, 1 + int(rand, 300)), { compressed: 'gzip', chunk: `gz-${int(rand, 1e9)}` }]);
    case 2: {
      // CompressedPackedForward: valid gzip of noise
      return pack(['fuzz.gz', gzipSync(noise(rand, 1 + int(rand, 300))), { compressed: 'gzip', size: 1 }]);
    }
    case 3: // wrong types: tag as int, entries as a map, time as text, option as an array
      return pack(pick(rand, [[123, 1_700_000_000, {}], ['fuzz.t', { a: 1 }], ['fuzz.t', 'noon', { a: 1 }], ['fuzz.t', 1_700_000_000, { a: 1 }, [1]], ['fuzz.t', 1_700_000_000, 'not a map']]));
    case 4: // huge declared sizes: array32 / map32 / str32 / bin32 counts the frame does not hold
      return Buffer.concat([Buffer.from([0x93]), tag, Buffer.from(pick(rand, [[0xdd, 0xff, 0xff, 0xff, 0xff], [0xdf, 0x7f, 0xff, 0xff, 0xff], [0xdb, 0xff, 0xff, 0xff, 0xf0], [0xc6, 0x7f, 0xff, 0xff, 0xff]]))]);
    case 5: // deep nesting inside a record
      return pack(['fuzz.deep', 1_700_000_000, { a: nested(10 + int(rand, 200)) }, { chunk: `dp-${int(rand, 1e9)}` }]);
    case 6: // Forward mode with entries that are not [time, record]
      return pack(['fuzz.fw', [[1_700_000_000], ['x', {}], [1_700_000_000, { a: 1 }, 'extra'], 5], { chunk: `fw-${int(rand, 1e9)}` }]);
    case 7: // option with a chunk id that is not a string, or far too long
      return pack(['fuzz.opt', 1_700_000_000, { a: 1 }, { chunk: pick(rand, [42, 'c'.repeat(5000), null, { x: 1 }]) }]);
    case 8: // ext types where times or records belong
      return Buffer.concat([Buffer.from([0x93]), tag, Buffer.from([0xd7, 0x05, 1, 2, 3, 4, 5, 6, 7, 8]), Buffer.from([0xd4, 0x07, 0x00])]);
    default: // a PackedForward whose bin is a valid entry stream followed by noise
      return pack(['fuzz.tail', Buffer.concat([pack([1_700_000_000, { a: 1 }]), noise(rand, 1 + int(rand, 40))]), { chunk: `tl-${int(rand, 1e9)}` }]);
  }
}

/** A frame-sized byte string: valid, mutated, hostile by design, or noise. */
function fuzzCase(rand: Rand): Uint8Array {
  const r = rand();
  if (r < 0.25) return validFrame(rand);
  if (r < 0.7) return mutate(rand, validFrame(rand));
  if (r < 0.75) return Buffer.from([0x93, 0xa3, 0x61, 0x62, 0x63, 0xc6, 0x04, 0x60, 0x00, 0x00]); // bin32 of 70 MiB: refused from the header
  if (r < 0.8) {
    // a gzip bomb: a small frame whose entries inflate past max_decompressed_bytes
    return encodePackedForward('fuzz.bomb', [{ time: 1_700_000_000_000, record: { log: 'a'.repeat(1024 * 1024) } }], { chunk: 'bomb', gzip: (d) => gzipSync(d) });
  }
  if (r < 0.83) return encodePing({ clientHostname: 'fuzzer', sharedKeySalt: new Uint8Array(16), sharedKeyHexdigest: 'ab', username: '', passwordHexdigest: '' });
  if (r < 0.84) return Buffer.from([0x93, 0xa0, 0x01, 0x80]); // an empty tag: no topic to map it to
  if (r < 0.86) return Buffer.from(pick(rand, ['GET / HTTP/1.1\r\n\r\n', '{"tag":"x"}', '["fuzz.json",1,{}]', '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03']));
  if (r < 0.89) return Buffer.concat([Buffer.from([0x93, 0xa8, ...Buffer.from('fuzz.dep')]), Buffer.alloc(200, 0x91)]); // nesting too deep
  if (r < 0.93) return hostileFrame(rand);
  return Buffer.from(Array.from({ length: 1 + int(rand, 200) }, () => int(rand, 256)));
}

type Verdict = { kind: 'clean'; events: number } | { kind: 'refused' } | { kind: 'ambiguous' };

/** What the hub must do with a case sent alone on a connection and then closed. */
function classify(bytes: Uint8Array): Verdict {
  const decoder = createRequestDecoder({ gunzip, ...LIMITS });
  let frames: RequestFrame[];
  try {
    frames = decoder.push(bytes);
    decoder.finish();
  } catch {
    return decoder.consumedBytes === 0 ? { kind: 'refused' } : { kind: 'ambiguous' };
  }
  let events = 0;
  for (let i = 0; i < frames.length; i++) {
    const f = frames[i];
    if (f.kind === 'heartbeat') continue;
    const bad = f.kind === 'ping' || tagToTopic(f.tag) === null;
    if (bad) return i === 0 ? { kind: 'refused' } : { kind: 'ambiguous' };
    if (tagToTopic(f.tag) === EDGE_TOPIC) return { kind: 'ambiguous' };
    if (f.kind === 'batches') {
      // the hub checks a batch frame's record batches (format.ts) before it queues the frame
      let n = -1;
      try {
        if (f.option.sluiceBatches === RECORD_FORMAT) n = checkBatches(f.batches!, f.option.size).reduce((a, b) => a + b.count, 0);
      } catch {
        n = -1;
      }
      if (n !== f.option.size) return i === 0 ? { kind: 'refused' } : { kind: 'ambiguous' };
      events += n;
      continue;
    }
    events += f.entries.length;
  }
  return { kind: 'clean', events };
}

/** Sends a case on its own connection, in up to three writes, then closes; resolves when the hub has closed too. */
function throwAt(port: number, bytes: Uint8Array, rand: Rand): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const cuts = [0, ...Array.from({ length: int(rand, 3) }, () => int(rand, bytes.length)).sort((a, b) => a - b), bytes.length];
    socket.on('error', () => undefined);
    socket.on('close', () => resolve());
    socket.on('data', () => undefined);
    socket.once('connect', async () => {
      for (let i = 0; i + 1 < cuts.length; i++) {
        if (socket.destroyed) break;
        socket.write(bytes.subarray(cuts[i], cuts[i + 1]));
        await new Promise((r) => setImmediate(r));
      }
      socket.end();
    });
    setTimeout(() => socket.destroy(), 10_000).unref();
  });
}

const dir = tempDir('sluice-forward-fuzz-');
const running: CollectorProcess[] = [];
afterAll(async () => {
  for (const c of running) await c.kill();
  removeDir(dir);
});

it(`forward: ${CASES} random and mutated frames while an edge streams — the hub stays up, stores only what is valid, and the edge's events arrive once, in order`, async () => {
  const rand = prng(SEED);
  const cases: { bytes: Uint8Array; verdict: Verdict }[] = [];
  while (cases.length < CASES) {
    const bytes = fuzzCase(rand);
    const verdict = classify(bytes);
    if (verdict.kind !== 'ambiguous') cases.push({ bytes, verdict });
  }
  const expectedFuzzEvents = cases.reduce((n, c) => n + (c.verdict.kind === 'clean' ? c.verdict.events : 0), 0);
  const refused = cases.filter((c) => c.verdict.kind === 'refused').length;

  const hubDir = join(dir, 'hub');
  const edgeDir = join(dir, 'edge');
  mkdirSync(hubDir);
  mkdirSync(edgeDir);
  const hubPorts = { admin: await freePort(), forward: await freePort() };
  const edgePorts = { admin: await freePort(), http: await freePort() };
  const hub = await startCollector({
    config: hubConfig(hubDir, hubPorts, `    max_frame_bytes: ${LIMITS.maxFrameBytes}\n    max_decompressed_bytes: ${LIMITS.maxDecompressedBytes}\n`),
    dir: hubDir,
  });
  running.push(hub);
  const edge = await startCollector({
    config: edgeConfig(edgeDir, edgePorts, [hubPorts.forward], '    max_frame_bytes: 64KiB\n    chunk_max_bytes: 32KiB\n'),
    dir: edgeDir,
  });
  running.push(edge);

  // The well-behaved edge streams all along: its events are spread over the fuzzing.
  let fuzzing = true;
  let edgeFed = 0;
  const feeding = (async () => {
    for (; edgeFed < EDGE_EVENTS; edgeFed += 1000) {
      await post(edgePorts.http, EDGE_TOPIC, edgeFed, 1000);
      if (fuzzing) await new Promise((r) => setTimeout(r, 600));
    }
  })();
  let next = 0;
  const worker = async () => {
    const local = prng(SEED ^ (next + 1));
    while (next < cases.length) await throwAt(hubPorts.forward, cases[next++].bytes, local);
  };
  const started = Date.now();
  await Promise.all(Array.from({ length: WORKERS }, worker));
  const fuzzMs = Date.now() - started;
  const edgeDuringFuzz = edgeFed;
  fuzzing = false;
  await feeding;
  // The edge streamed while frames were thrown (how much of it depends on the machine's speed,
  // which a test must not assume).
  expect(edgeDuringFuzz).toBeGreaterThan(0);

  expect(hub.proc.exitCode).toBeNull();
  const fuzzTotal = async () => {
    const { topics } = await hub.api<{ topics: { name: string; high: number }[] }>('/api/v1/topics');
    // The edge's own topic and its fleet reports (docs/fleet.md) are not the fuzz's.
    return topics.filter((t) => t.name !== EDGE_TOPIC && t.name !== FLEET_TOPIC).reduce((n, t) => n + t.high, 0);
  };
  await until(async () => (await fuzzTotal()) >= expectedFuzzEvents && (await high(hub.adminUrl, EDGE_TOPIC)) >= EDGE_EVENTS, { timeoutMs: 60_000, what: 'the valid frames and the edge events' });
  await new Promise((r) => setTimeout(r, 1000));
  expect(await fuzzTotal()).toBe(expectedFuzzEvents);
  expect((await hub.api<{ status: string }>('/api/v1/health')).status).toBe('ok');
  console.log(
    `forward fuzz: ${CASES} cases in ${(fuzzMs / 1000).toFixed(1)} s (${refused} refused, ${CASES - refused} valid carrying ${expectedFuzzEvents} events); hub up; the edge sent ${edgeDuringFuzz} of its ${EDGE_EVENTS} events meanwhile, all arrived once, in order`,
  );

  expect(await hub.stop()).toBe(0); // a clean shutdown: it was never wedged
  const channelFile = join(hubDir, 'data', 'channel.db');
  expect(checkTopic(channelFile, EDGE_TOPIC, EDGE_EVENTS)).toEqual({ topic: EDGE_TOPIC, events: EDGE_EVENTS, duplicates: [], missing: [], inOrder: true, dense: true });
  const channel = Channel.open({ file: channelFile, readonly: true, retentionIntervalMs: 0 });
  const stored = channel.topics().filter((t) => t.name !== EDGE_TOPIC && t.name !== FLEET_TOPIC).reduce((n, t) => n + t.high, 0); // high: retention may already have removed old-dated ones
  await channel.close();
  expect(stored).toBe(expectedFuzzEvents);
  expect(hub.stderr()).toMatch(/forward: .* from 127\.0\.0\.1:\d+; connection closed/);
  expect(await edge.stop()).toBe(0);
}, scaled(300_000));
