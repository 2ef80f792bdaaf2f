/**
 * The forward source over real sockets with a real channel file: every frame mode, acks after
 * commit, duplicate chunks, refusals (size, garbage, handshake, tags) that close one connection
 * and leave the others alone, TLS, back-pressure and the dedupe window.
 */
import { execFileSync } from 'node:child_process';
import { createHash, getRandomValues } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { fromUtf8, utf8, type EventDraft } from '../../../../shared/src/event.ts';
import {
  createPing,
  createResponseDecoder,
  encodeForwardMode,
  encodeHeartbeat,
  encodeMessageMode,
  encodePackedForward,
  encodePing,
  eventToEntry,
  type ResponseFrame,
} from '../../../../shared/src/protocol/forward/index.ts';
import { validateConfig } from '../../../../shared/src/spec.ts';
import { createLogger } from '../../log.ts';
import { createTestContext, openTestChannel, readAll, waitUntil, type TestChannel } from '../testing.ts';
import { CHUNK_NAMESPACE } from './connection.ts';
import { ForwardSource, forwardSource, tagToTopic } from './forward.ts';

const sha512Hex = (d: Uint8Array) => createHash('sha512').update(d).digest('hex');
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Hub {
  t: TestChannel;
  source: ForwardSource;
  port: number;
  logs: string[];
}

async function startHub(input: Record<string, unknown> = {}, channelOptions = {}): Promise<Hub> {
  const { value, problems } = validateConfig(forwardSource.config, { listen: '127.0.0.1:0', ...input }, 'sources.fwd');
  expect(problems).toEqual([]);
  const t = openTestChannel(channelOptions);
  cleanups.push(() => t.cleanup());
  const logs: string[] = [];
  const log = createLogger({ level: 'debug', destination: new Writable({ write: (chunk, _e, done) => (logs.push(String(chunk)), done()) }) });
  const source = forwardSource.create(value!, { ...createTestContext(t.channel, { name: 'fwd', collectorId: 'hub' }), log }) as ForwardSource;
  await source.start();
  cleanups.push(() => source.stop());
  return { t, source, port: source.port, logs };
}

/** A raw client: writes bytes, collects decoded responses, knows when the server closed. */
class Client {
  readonly responses: ResponseFrame[] = [];
  closed = false;
  readonly #decoder = createResponseDecoder();
  constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.responses.push(...this.#decoder.push(chunk)));
    socket.on('close', () => (this.closed = true));
    socket.on('error', () => undefined);
  }
  static async connect(port: number): Promise<Client> {
    const socket = netConnect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const client = new Client(socket);
    cleanups.push(() => socket.destroy());
    return client;
  }
  send(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }
  acks(): string[] {
    return this.responses.flatMap((r) => (r.kind === 'ack' ? [r.chunk] : []));
  }
  async next(kind: ResponseFrame['kind']): Promise<ResponseFrame> {
    await waitUntil(() => this.responses.some((r) => r.kind === kind) || this.closed, 5000, kind);
    const frame = this.responses.find((r) => r.kind === kind);
    if (!frame) throw new Error(`connection closed before ${kind}`);
    return frame;
  }
}

function sluiceEvent(i: number, topic = 'edge.logs'): EventDraft {
  return {
    topic,
    ts: 1_700_000_000_000 + i,
    key: i % 2 ? `k${i}` : null,
    headers: { 'content-type': i % 3 === 0 ? 'application/json' : 'text/plain', n: String(i) },
    body: utf8(i % 3 === 0 ? `{"i":${i},"msg":"hello"}` : `line ${i}`),
  };
}

describe('forward source: frames and acks', () => {
  it('stores a PackedForward chunk exactly as the edge had it and acks after the commit', async () => {
    const hub = await startHub();
    const client = await Client.connect(hub.port);
    const events = Array.from({ length: 30 }, (_, i) => sluiceEvent(i));
    client.send(encodePackedForward('edge.logs', events.map((e) => eventToEntry(e)), { chunk: 'chunk-1' }));
    await waitUntil(() => client.acks().length === 1, 5000, 'the ack');
    expect(client.acks()).toEqual(['chunk-1']);
    // The ack came after the commit: the events are readable now.
    const stored = readAll(hub.t.channel, 'edge.logs');
    expect(stored.map(({ offset: _o, ...e }) => ({ ...e, body: fromUtf8(e.body) }))).toEqual(events.map((e) => ({ ...e, body: fromUtf8(e.body) })));
    expect(stored.map((e) => e.offset)).toEqual(events.map((_, i) => i));
  });

  it('reads Message, Forward and CompressedPackedForward frames from fluent clients; records become JSON bodies', async () => {
    const hub = await startHub();
    const client = await Client.connect(hub.port);
    const t = 1_700_000_000_123;
    client.send(encodeMessageMode('app.a', { time: t, record: { msg: 'one', n: 1 } }));
    client.send(encodeForwardMode('app.a', [{ time: t + 1, record: { msg: 'two' } }, { time: t + 2, record: { msg: 'three', nested: { ok: true } } }], { chunk: 'f1', size: 2 }));
    client.send(encodeHeartbeat());
    client.send(encodePackedForward('app.a', [{ time: t + 3, record: { msg: 'four', bin: utf8('bytes') } }], { chunk: 'c1', gzip: (d) => gzipSync(d) }));
    await waitUntil(() => client.acks().length === 2, 5000, 'two acks');
    expect(client.acks()).toEqual(['f1', 'c1']);
    await waitUntil(() => readAll(hub.t.channel, 'app.a').length === 4, 5000, 'four events');
    const stored = readAll(hub.t.channel, 'app.a');
    expect(stored.map((e) => [e.ts, e.headers['content-type'], JSON.parse(fromUtf8(e.body))])).toEqual([
      [t, 'application/json', { msg: 'one', n: 1 }],
      [t + 1, 'application/json', { msg: 'two' }],
      [t + 2, 'application/json', { msg: 'three', nested: { ok: true } }],
      [t + 3, 'application/json', { msg: 'four', bin: 'bytes' }],
    ]);
  });

  it('stores every frame a client sent before it hung up', async () => {
    const hub = await startHub();
    const client = await Client.connect(hub.port);
    const frames = Array.from({ length: 500 }, (_, i) => encodeMessageMode('burst', { time: 1_700_000_000_000 + i, record: { seq: i } }));
    client.socket.end(Buffer.concat(frames));
    await waitUntil(() => readAll(hub.t.channel, 'burst').length === 500, 10_000, 'all 500 events');
    expect(readAll(hub.t.channel, 'burst').map((e) => JSON.parse(fromUtf8(e.body)).seq)).toEqual(Array.from({ length: 500 }, (_, i) => i));
  });

  it('acks a repeated chunk again but stores it once', async () => {
    const hub = await startHub();
    const frame = encodePackedForward('edge.logs', [0, 1, 2].map((i) => eventToEntry(sluiceEvent(i))), { chunk: 'same-id' });
    const first = await Client.connect(hub.port);
    first.send(frame);
    await waitUntil(() => first.acks().length === 1, 5000, 'first ack');
    first.socket.destroy();
    const second = await Client.connect(hub.port);
    second.send(frame);
    second.send(frame);
    await waitUntil(() => second.acks().length === 2, 5000, 'acks of the resent chunk');
    expect(readAll(hub.t.channel, 'edge.logs')).toHaveLength(3);
    expect(hub.source.stats.duplicates).toBe(2);
    expect(hub.t.channel.getState(CHUNK_NAMESPACE, 'same-id')).not.toBeNull();
  });

  it('keeps the order of pipelined chunks of one connection', async () => {
    const hub = await startHub();
    const client = await Client.connect(hub.port);
    const n = 40;
    for (let c = 0; c < n; c++) client.send(encodePackedForward('ordered', Array.from({ length: 50 }, (_, i) => eventToEntry(sluiceEvent(c * 50 + i, 'ordered'))), { chunk: `c${c}` }));
    await waitUntil(() => client.acks().length === n, 10_000, 'every ack');
    expect(client.acks()).toEqual(Array.from({ length: n }, (_, c) => `c${c}`));
    expect(readAll(hub.t.channel, 'ordered').map((e) => e.headers.n)).toEqual(Array.from({ length: n * 50 }, (_, i) => String(i)));
  });
});

describe('forward source: frames stored together', () => {
  const chunkOf = (c: number, topic = 'grouped') => encodePackedForward(topic, Array.from({ length: 20 }, (_, i) => eventToEntry(sluiceEvent(c * 20 + i, topic))), { chunk: `g${c}` });

  it('stores frames that arrived during a commit in one transaction, in order, each acknowledged', async () => {
    const hub = await startHub();
    const client = await Client.connect(hub.port);
    const before = hub.t.channel.stats().commits;
    client.send(Buffer.concat(Array.from({ length: 60 }, (_, c) => chunkOf(c))));
    await waitUntil(() => client.acks().length === 60, 10_000, 'every ack');
    expect(client.acks()).toEqual(Array.from({ length: 60 }, (_, c) => `g${c}`));
    expect(readAll(hub.t.channel, 'grouped').map((e) => e.headers.n)).toEqual(Array.from({ length: 1200 }, (_, i) => String(i)));
    expect(hub.t.channel.stats().commits - before).toBeLessThan(60);
    for (let c = 0; c < 60; c++) expect(hub.t.channel.getState(CHUNK_NAMESPACE, `g${c}`)).not.toBeNull();
  });

  it('a group holding a chunk stored before is stored frame by frame: the old one once, the new ones once', async () => {
    const hub = await startHub();
    const first = await Client.connect(hub.port);
    first.send(chunkOf(1));
    await waitUntil(() => first.acks().length === 1, 5000, 'first ack');
    const again = await Client.connect(hub.port);
    again.send(Buffer.concat([chunkOf(0), chunkOf(1), chunkOf(2), chunkOf(3)]));
    await waitUntil(() => again.acks().length === 4, 5000, 'four acks');
    expect(again.acks()).toEqual(['g0', 'g1', 'g2', 'g3']);
    const seen = readAll(hub.t.channel, 'grouped').map((e) => Number(e.headers.n));
    expect(seen.slice(0, 20)).toEqual(Array.from({ length: 20 }, (_, i) => 20 + i)); // chunk 1, stored first
    expect([...seen].sort((a, b) => a - b)).toEqual(Array.from({ length: 80 }, (_, i) => i));
    expect(hub.source.stats.duplicates).toBe(1);
  });

  it('the same chunk on two connections at once is stored once', async () => {
    const hub = await startHub();
    const a = await Client.connect(hub.port);
    const b = await Client.connect(hub.port);
    const frames = Buffer.concat([chunkOf(0), chunkOf(1), chunkOf(2)]);
    a.send(frames);
    b.send(frames);
    await waitUntil(() => a.acks().length === 3 && b.acks().length === 3, 5000, 'acks on both');
    expect(readAll(hub.t.channel, 'grouped')).toHaveLength(60);
  });
});

describe('forward source: refusals close one connection only', () => {
  it('closes a connection sending an oversized frame, says why and from where, stores nothing; others go on', async () => {
    const hub = await startHub({ max_frame_bytes: '64KiB' });
    const good = await Client.connect(hub.port);
    const bad = await Client.connect(hub.port);
    const big = encodePackedForward('big', [{ time: 1_700_000_000_000, record: { message: 'x'.repeat(200_000) } }], { chunk: 'big' });
    bad.send(big.subarray(0, 1000)); // refused from the header, before the body arrives
    await waitUntil(() => bad.closed, 5000, 'the oversized connection to close');
    const line = hub.logs.find((l) => l.includes('exceeds max'));
    expect(line).toMatch(/forward: frame of at least 195\.3 KiB exceeds max 64 KiB from 127\.0\.0\.1:\d+; connection closed/);
    good.send(encodePackedForward('small', [{ time: 1_700_000_000_000, record: { message: 'fine' } }], { chunk: 'ok' }));
    await waitUntil(() => good.acks().length === 1, 5000, 'the good ack');
    expect(hub.t.channel.topic('big')).toBeUndefined();
    expect(readAll(hub.t.channel, 'small')).toHaveLength(1);
    expect(hub.source.stats.refused).toBe(1);
  });

  it('closes on garbage with a hint, acks nothing', async () => {
    const hub = await startHub();
    const client = await Client.connect(hub.port);
    client.send(utf8('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    await waitUntil(() => client.closed, 5000, 'close');
    expect(hub.logs.join('')).toContain('bytes look like text');
    expect(client.acks()).toEqual([]);
    expect(hub.t.channel.topics()).toEqual([]);
  });

  it('maps tags that are not topic names, or refuses them; a fixed topic keeps the tag in a header', async () => {
    expect(tagToTopic('kube.var.log')).toBe('kube.var.log');
    expect(tagToTopic('docker/web:1 ü')).toBe('docker_web_1__');
    expect(tagToTopic('')).toBeNull();
    expect(tagToTopic('x'.repeat(300))).toHaveLength(249);

    const hub = await startHub();
    const client = await Client.connect(hub.port);
    client.send(encodeMessageMode('docker/web:1', { time: 1_700_000_000_000, record: { log: 'a' } }, { chunk: 'm1' }));
    await waitUntil(() => client.acks().length === 1, 5000, 'ack');
    const [e] = readAll(hub.t.channel, 'docker_web_1');
    expect(e.headers['fluent.tag']).toBe('docker/web:1');

    const strict = await startHub({ invalid_tags: 'refuse' });
    const refused = await Client.connect(strict.port);
    refused.send(encodeMessageMode('docker/web:1', { time: 1_700_000_000_000, record: { log: 'a' } }, { chunk: 'm1' }));
    await waitUntil(() => refused.closed, 5000, 'close');
    expect(strict.logs.join('')).toContain('is not a valid topic name (invalid_tags: refuse)');
    expect(strict.t.channel.topics()).toEqual([]);

    const fixed = await startHub({ topic: 'docker' });
    const c3 = await Client.connect(fixed.port);
    c3.send(encodeMessageMode('web.1', { time: 1_700_000_000_000, record: { log: 'b' } }, { chunk: 'x' }));
    await waitUntil(() => c3.acks().length === 1, 5000, 'ack');
    expect(readAll(fixed.t.channel, 'docker')[0].headers['fluent.tag']).toBe('web.1');
  });
});

describe('forward source: handshake and TLS', () => {
  async function handshake(port: number, credentials: { hostname: string; sharedKey: string; username?: string; password?: string }, salt = getRandomValues(new Uint8Array(16))) {
    const client = await Client.connect(port);
    const helo = await client.next('helo');
    if (helo.kind !== 'helo') throw new Error('no helo');
    client.send(encodePing(createPing(helo, { ...credentials, salt }, sha512Hex)));
    const pong = await client.next('pong');
    return { client, helo, pong };
  }

  it('requires the shared key, then stores; a wrong key gets PONG false and a closed connection', async () => {
    const hub = await startHub({ shared_key: 'sekrit', self_hostname: 'hub-1' });
    const ok = await handshake(hub.port, { hostname: 'edge-1', sharedKey: 'sekrit' });
    expect(ok.pong).toMatchObject({ kind: 'pong', authResult: true, serverHostname: 'hub-1' });
    ok.client.send(encodeMessageMode('t', { time: 1_700_000_000_000, record: { a: 1 } }, { chunk: 'h1' }));
    await waitUntil(() => ok.client.acks().length === 1, 5000, 'ack');

    const wrong = await handshake(hub.port, { hostname: 'edge-2', sharedKey: 'guess' });
    expect(wrong.pong).toMatchObject({ kind: 'pong', authResult: false, reason: 'shared_key mismatch' });
    wrong.client.send(encodeMessageMode('t', { time: 1_700_000_000_000, record: { a: 2 } }, { chunk: 'h2' }));
    await waitUntil(() => wrong.client.closed, 5000, 'close');
    expect(hub.logs.join('')).toContain('refused the shared_key handshake of client \\"edge-2\\": shared_key mismatch');

    const skipper = await Client.connect(hub.port);
    await skipper.next('helo');
    skipper.send(encodeMessageMode('t', { time: 1_700_000_000_000, record: { a: 3 } }, { chunk: 'h3' }));
    await waitUntil(() => skipper.closed, 5000, 'close');
    expect(hub.logs.join('')).toContain('event frame before the handshake');
    expect(readAll(hub.t.channel, 't').map((e) => fromUtf8(e.body))).toEqual(['{"a":1}']);
  });

  it('accepts the PINGs Fluent Bit and fluentd send: a str salt of 16 raw bytes, or of 32 hex characters', async () => {
    const hub = await startHub({ shared_key: 'sekrit', self_hostname: 'hub-1' });
    // encodePing writes the salt as a msgpack str, as Fluent Bit's out_forward (raw bytes) and fluentd's out_forward (SecureRandom.hex(16)) do
    for (const salt of [Uint8Array.of(0xff, 0xfe, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13), new Uint8Array(utf8('0123456789abcdef0123456789abcdef'))] as Uint8Array<ArrayBuffer>[]) {
      const { helo, pong } = await handshake(hub.port, { hostname: 'fluent-bit', sharedKey: 'sekrit' }, salt);
      if (helo.kind !== 'helo') throw new Error('no helo');
      expect(pong).toMatchObject({ kind: 'pong', authResult: true, serverHostname: 'hub-1', sharedKeyHexdigest: createHash('sha512').update(salt).update('hub-1').update(helo.nonce).update('sekrit').digest('hex') });
    }
  });

  it('checks users when configured, and times out a silent client', async () => {
    const hub = await startHub({ shared_key: 'k', self_hostname: 'hub-1', users: [{ username: 'edge', password: 'pw' }], handshake_timeout: 300 });
    const ok = await handshake(hub.port, { hostname: 'e1', sharedKey: 'k', username: 'edge', password: 'pw' });
    expect(ok.helo.kind === 'helo' && ok.helo.auth.length).toBe(16);
    expect(ok.pong).toMatchObject({ authResult: true });
    const bad = await handshake(hub.port, { hostname: 'e2', sharedKey: 'k', username: 'edge', password: 'nope' });
    expect(bad.pong).toMatchObject({ authResult: false, reason: 'username/password mismatch' });
    const silent = await Client.connect(hub.port);
    await waitUntil(() => silent.closed, 5000, 'the silent client to be closed');
    expect(hub.logs.join('')).toContain('no PING within 300 ms');
  });

  it('refuses users without a shared key', () => {
    const { value } = validateConfig(forwardSource.config, { listen: '127.0.0.1:0', users: [{ username: 'u', password: 'p' }] }, 'sources.fwd');
    const t = openTestChannel();
    cleanups.push(() => t.cleanup());
    expect(() => forwardSource.create(value!, createTestContext(t.channel, { name: 'fwd' }))).toThrow('sources.fwd.users: users need shared_key');
  });

  it('serves TLS', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-forward-tls-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    const hub = await startHub({ tls: { cert, key }, handshake_timeout: 300 });
    expect(hub.source.endpoints()[0]).toMatch(/^tls:\/\/127\.0\.0\.1:\d+$/);
    const socket = tlsConnect({ host: '127.0.0.1', port: hub.port, ca: readFileSync(cert) });
    await new Promise<void>((r, j) => socket.once('secureConnect', () => r()).once('error', j));
    cleanups.push(() => socket.destroy());
    const client = new Client(socket);
    client.send(encodePackedForward('secure', [{ time: 1_700_000_000_000, record: { message: 'hi' } }], { chunk: 's1' }));
    await waitUntil(() => client.acks().length === 1, 5000, 'ack over TLS');
    // A plaintext client on the TLS port is refused by the TLS layer; the listener goes on.
    const plain = await Client.connect(hub.port);
    plain.send(encodeMessageMode('secure', { time: 1_700_000_000_000, record: {} }));
    await waitUntil(() => plain.closed, 5000, 'plaintext refused');
    expect(readAll(hub.t.channel, 'secure')).toHaveLength(1);
    // A client that never starts its TLS handshake is closed after handshake_timeout.
    const silent = await Client.connect(hub.port);
    await waitUntil(() => silent.closed, 10_000, 'the silent client to be closed');
    expect(hub.source.network().closed?.handshake).toBe(1);
  });
});

describe('forward source: back-pressure and the dedupe window', () => {
  it('does not ack a chunk the full channel refuses, closes so the client resends, and takes it once there is room', async () => {
    const hub = await startHub({}, { maxBytes: 20_000 });
    hub.t.channel.protect('sink:x', ['*']); // a sink that has delivered nothing: nothing may be removed
    const filler = Array.from({ length: 60 }, (_, i) => ({ time: 1_700_000_000_000, record: { message: `${i}`.padEnd(200, '.') } }));
    const client = await Client.connect(hub.port);
    client.send(encodePackedForward('fill', filler, { chunk: 'fill' }));
    await waitUntil(() => client.acks().length === 1, 5000, 'the filler ack');
    const started = Date.now();
    client.send(encodePackedForward('more', filler, { chunk: 'more' }));
    await waitUntil(() => client.closed, 5000, 'close after the refusal');
    expect(Date.now() - started).toBeGreaterThanOrEqual(900); // paused reading first
    expect(client.acks()).toEqual(['fill']);
    expect(hub.t.channel.topic('more')).toBeUndefined();
    expect(hub.logs.join('')).toContain('channel full');
    // A sink delivers the filler; retention frees it; the resent chunk is stored.
    hub.t.channel.commit([{ consumer: 'sink:x', topic: 'fill', next: 60, protects: true }]);
    hub.t.channel.runRetention({ needBytes: 1 });
    const again = await Client.connect(hub.port);
    again.send(encodePackedForward('more', filler, { chunk: 'more' }));
    await waitUntil(() => again.acks().length === 1, 5000, 'the resent chunk');
    expect(readAll(hub.t.channel, 'more')).toHaveLength(60);
  });

  it('holds an ack-less client until the channel has room, losing nothing', async () => {
    const hub = await startHub({}, { maxBytes: 20_000 });
    hub.t.channel.protect('sink:x', ['*']); // a sink that has delivered nothing: nothing may be removed
    const filler = Array.from({ length: 60 }, (_, i) => ({ time: 1_700_000_000_000, record: { message: `${i}`.padEnd(200, '.') } }));
    const client = await Client.connect(hub.port);
    client.send(encodeForwardMode('fill', filler));
    await waitUntil(() => readAll(hub.t.channel, 'fill').length === 60, 5000, 'the filler');
    client.send(encodeForwardMode('late', filler));
    await new Promise((r) => setTimeout(r, 300));
    expect(hub.t.channel.topic('late')).toBeUndefined();
    expect(client.closed).toBe(false);
    hub.t.channel.commit([{ consumer: 'sink:x', topic: 'fill', next: 60, protects: true }]);
    hub.t.channel.runRetention({ needBytes: 1 });
    await waitUntil(() => readAll(hub.t.channel, 'late').length === 60, 5000, 'the held events');
  });

  it('forgets chunk ids older than dedupe_window', async () => {
    const hub = await startHub({ dedupe_window: '1h' });
    const client = await Client.connect(hub.port);
    client.send(encodeMessageMode('t', { time: 1_700_000_000_000, record: {} }, { chunk: 'old' }));
    await waitUntil(() => client.acks().length === 1, 5000, 'ack');
    expect(hub.source.pruneChunkIds(Date.now() + 30 * 60_000)).toBe(0);
    expect(hub.source.pruneChunkIds(Date.now() + 61 * 60_000)).toBe(1);
    expect(hub.t.channel.getState(CHUNK_NAMESPACE, 'old')).toBeNull();
  });
});
