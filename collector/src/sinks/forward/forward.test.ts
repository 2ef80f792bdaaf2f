/**
 * The forward sink against a real forward source (the hub side) on real sockets and channel
 * files: acks, chunking and pipelining, lost acks and retries without duplicates, failover,
 * handshake, TLS, gzip, size limits, chunk-id identity per channel file, and replays.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCodes, SluiceError } from '../../../../shared/src/errors.ts';
import { fromUtf8, utf8, type EventDraft, type StoredEvent } from '../../../../shared/src/event.ts';
import { createRequestDecoder, encodeAck } from '../../../../shared/src/protocol/forward/index.ts';
import { validateConfig } from '../../../../shared/src/spec.ts';
import { TcpProxy } from '../../../../test/helpers/tcp-proxy.ts';
import type { Channel } from '../../channel/channel.ts';
import type { SinkContext } from '../../components.ts';
import { silentLogger } from '../../log.ts';
import { ForwardSource, forwardSource } from '../../sources/forward/forward.ts';
import { createTestContext, openTestChannel, readAll, waitUntil, type TestChannel } from '../../sources/testing.ts';
import { SinkGroup } from '../group.ts';
import { SinkRunner } from '../runner.ts';
import { ForwardSink, forwardSink } from './forward.ts';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Hub {
  t: TestChannel;
  source: ForwardSource;
  port: number;
}

async function startHub(input: Record<string, unknown> = {}, port = 0): Promise<Hub> {
  const { value, problems } = validateConfig(forwardSource.config, { listen: `127.0.0.1:${port}`, ...input }, 'sources.fwd');
  expect(problems).toEqual([]);
  const t = openTestChannel();
  const source = forwardSource.create(value!, createTestContext(t.channel, { name: 'fwd', collectorId: 'hub' })) as ForwardSource;
  await source.start();
  cleanups.push(() => t.cleanup());
  cleanups.push(() => source.stop());
  return { t, source, port: source.port };
}

function sinkContext(name: string, channel?: Channel): SinkContext {
  return {
    name,
    log: silentLogger,
    signal: new AbortController().signal,
    collectorId: 'edge-1',
    channel,
    createSink() {
      throw new Error('not a group');
    },
  };
}

function makeSink(input: Record<string, unknown>, channel?: Channel, name = 'hub'): ForwardSink {
  const { value, problems } = validateConfig(forwardSink.config, input, `sinks.${name}`);
  expect(problems).toEqual([]);
  const sink = forwardSink.create(value!, sinkContext(name, channel)) as ForwardSink;
  cleanups.push(() => sink.close());
  return sink;
}

/** Events as an edge's channel holds them. */
async function edgeEvents(t: TestChannel, topic: string, n: number, from = 0): Promise<StoredEvent[]> {
  const drafts: EventDraft[] = Array.from({ length: n }, (_, k) => {
    const i = from + k;
    return {
      topic,
      ts: 1_700_000_000_000 + i,
      key: i % 5 === 0 ? `key-${i}` : null,
      headers: { 'content-type': i % 2 ? 'application/json' : 'text/plain', seq: String(i) },
      body: utf8(i % 2 ? `{"seq":${i},"msg":"hello"}` : `line ${i}`),
    };
  });
  await t.channel.append({ events: drafts });
  return t.channel.read(topic, from, { maxEvents: n });
}

const view = (events: readonly StoredEvent[]) => events.map((e) => ({ ts: e.ts, key: e.key, headers: e.headers, body: fromUtf8(e.body) }));

function edgeChannel(): TestChannel {
  const t = openTestChannel();
  cleanups.push(() => t.cleanup());
  return t;
}

type MsgpackType = 'str' | 'bin' | 'other';

/** Reads a msgpack array of 6 scalars with their wire types; null while incomplete. */
function readPing(buf: Buffer): { types: MsgpackType[]; values: Buffer[]; end: number } | null {
  if (buf.length < 1) return null;
  if (buf[0] !== 0x96) return { types: [], values: [], end: -1 };
  const types: MsgpackType[] = [];
  const values: Buffer[] = [];
  let pos = 1;
  for (let i = 0; i < 6; i++) {
    if (pos >= buf.length) return null;
    const h = buf[pos];
    let type: MsgpackType = 'other';
    let start = pos + 1;
    let len = 0;
    if (h >= 0xa0 && h <= 0xbf) [type, len] = ['str', h & 0x1f];
    else if (h === 0xd9 || h === 0xc4) [type, start, len] = [h === 0xd9 ? 'str' : 'bin', pos + 2, buf[pos + 1]];
    else if (h === 0xda || h === 0xc5) [type, start, len] = [h === 0xda ? 'str' : 'bin', pos + 3, buf.readUInt16BE(pos + 1)];
    else return { types: [...types, 'other'], values, end: -1 };
    if (start + len > buf.length) return null;
    types.push(type);
    values.push(buf.subarray(start, start + len));
    pos = start + len;
  }
  return { types, values, end: pos };
}

/**
 * A forward server that does the handshake the way Fluent Bit's in_forward does
 * (plugins/in_forward/fw_prot.c): HELO with nonce and auth as 16-byte str, a PING whose six
 * elements must each be a msgpack str (else it logs "Invalid <field> type message" and closes),
 * sha512_hex(salt + hostname + nonce + shared_key) over the salt's bytes, and on a mismatch it
 * closes without a PONG. Then it acks every chunk.
 */
class FluentBitLikeServer {
  refusals: string[] = [];
  pingTypes: MsgpackType[] = [];
  salt = '';
  events = 0;
  readonly #server: Server;
  private constructor(server: Server) {
    this.#server = server;
  }
  get port(): number {
    return (this.#server.address() as { port: number }).port;
  }
  static async start(sharedKey: string): Promise<FluentBitLikeServer> {
    const sha = (...parts: (Buffer | string)[]) => parts.reduce((h, p) => h.update(p), createHash('sha512')).digest('hex');
    const server = createServer();
    const fb = new FluentBitLikeServer(server);
    server.on('connection', (socket) => {
      const nonce = randomBytes(16);
      const head = (s: string) => Buffer.concat([Buffer.of(0xa0 | s.length), Buffer.from(s)]);
      socket.write(Buffer.concat([Buffer.of(0x92), head('HELO'), Buffer.of(0x82), head('nonce'), Buffer.of(0xb0), nonce, head('auth'), Buffer.of(0xb0), randomBytes(16)]));
      let buf = Buffer.alloc(0);
      let established = false;
      const decoder = createRequestDecoder();
      socket.on('data', (chunk: Buffer) => {
        if (established) {
          for (const frame of decoder.push(chunk)) {
            if (frame.kind === 'heartbeat' || frame.kind === 'ping') continue;
            fb.events += frame.entries.length;
            if (frame.option.chunk) socket.write(encodeAck(frame.option.chunk));
          }
          return;
        }
        buf = Buffer.concat([buf, chunk]);
        const ping = readPing(buf);
        if (!ping) return;
        fb.pingTypes = ping.types;
        const names = ['PING', 'hostname', 'shared_key_salt', 'shared_key_digest', 'username', 'password_digest'];
        const bad = ping.types.findIndex((t) => t !== 'str');
        if (ping.end < 0 || bad >= 0) {
          fb.refusals.push(`Invalid ${names[bad < 0 ? 0 : bad]} type message`);
          socket.destroy();
          return;
        }
        const [, hostname, salt, digest] = ping.values;
        fb.salt = salt.toString('latin1');
        if (sha(salt, hostname, nonce, sharedKey) !== digest.toString()) {
          fb.refusals.push('shared_key mismatch');
          socket.destroy();
          return;
        }
        established = true;
        const pong = ['PONG', true, '', 'fluent-bit', sha(salt, 'fluent-bit', nonce, sharedKey)] as const;
        socket.write(Buffer.concat([Buffer.of(0x95), head(pong[0]), Buffer.of(0xc3), head(''), head(pong[3]), Buffer.of(0xd9, 128), Buffer.from(pong[4])]));
        const rest = buf.subarray(ping.end);
        if (rest.length > 0) socket.emit('data', rest);
      });
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const sockets = new Set<Socket>();
    server.on('connection', (socket) => (sockets.add(socket), socket.on('close', () => sockets.delete(socket))));
    cleanups.push(() => new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    }));
    return fb;
  }
}

describe('forward sink', () => {
  it.each(['fields', 'bytes', 'auto'])('delivers a batch in acknowledged chunks, pipelined, in order, exactly as stored on the edge (body_as: %s)', async (bodyAs) => {
    const hub = await startHub();
    const edge = edgeChannel();
    const events = await edgeEvents(edge, 'app', 2500);
    const sink = makeSink({ servers: [`127.0.0.1:${hub.port}`], chunk_max_events: 300, in_flight: 3, body_as: bodyAs }, edge.channel);
    await sink.send(events, 'app');
    // send resolved: every chunk was acknowledged, so everything is committed on the hub.
    const stored = readAll(hub.t.channel, 'app');
    expect(view(stored)).toEqual(view(events));
    expect(sink.describe()).toMatchObject({ chunks: 9, events: 2500, connects: 1, connectedTo: `127.0.0.1:${hub.port}` });
    // auto: the hub's acks said it is Sluice, so the rest went as bytes (send() never sends stored batches)
    expect(sink.describe().bodyAs).toBe(bodyAs === 'fields' ? 'fields' : 'batches'); // level 2: what the runner sends (sendStored) goes as stored batches
  });

  it('body_as auto: a fluent server that is not Sluice (plain `{ack}`) only ever gets record fields', async () => {
    const records: Record<string, unknown>[] = [];
    const server = createServer((socket: Socket) => {
      const decoder = createRequestDecoder();
      socket.on('data', (chunk: Buffer) => {
        for (const frame of decoder.push(chunk)) {
          if (frame.kind === 'heartbeat' || frame.kind === 'ping') continue;
          for (const entry of frame.entries) records.push(entry.record);
          if (frame.option.chunk) socket.write(encodeAck(frame.option.chunk)); // as Fluent Bit and fluentd answer
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => server.close(r)));
    const edge = edgeChannel();
    const events = await edgeEvents(edge, 'app', 1000);
    const sink = makeSink({ servers: [`127.0.0.1:${(server.address() as { port: number }).port}`], chunk_max_events: 100, in_flight: 2 }, edge.channel);
    await sink.send(events, 'app');
    await sink.send(await edgeEvents(edge, 'app', 500, 1000), 'app');
    expect(records).toHaveLength(1500);
    expect(records.filter((r) => '_sluice_body' in r)).toEqual([]);
    expect(records[1]).toMatchObject({ seq: 1, msg: 'hello' });
    expect(sink.describe().bodyAs).toBe('fields');
  });

  it('retries a batch whose acks were lost: the hub stores every event once', async () => {
    const hub = await startHub();
    const proxy = await TcpProxy.start({ host: '127.0.0.1', port: hub.port });
    cleanups.push(() => proxy.stop());
    const edge = edgeChannel();
    const events = await edgeEvents(edge, 'app', 1000);
    const sink = makeSink({ servers: [`127.0.0.1:${proxy.port}`], chunk_max_events: 250, ack_timeout: 400 }, edge.channel);
    proxy.swallowResponses = true;
    const error = await sink.send(events, 'app').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SluiceError);
    expect((error as SluiceError).retriable).toBe(true);
    expect((error as SluiceError).message).toMatch(/^sink "hub": no ack from 127\.0\.0\.1:\d+ within 400 ms$/);
    // The hub stored what it received, though the edge never saw an ack.
    await waitUntil(() => readAll(hub.t.channel, 'app').length > 0, 5000, 'the hub to store the unacknowledged chunks');
    proxy.swallowResponses = false;
    await sink.send(events, 'app');
    expect(view(readAll(hub.t.channel, 'app'))).toEqual(view(events));
    expect(hub.source.stats.duplicates).toBeGreaterThan(0);
  });

  it('does not resend chunks acknowledged before a failure of the same batch', async () => {
    const hub = await startHub();
    const proxy = await TcpProxy.start({ host: '127.0.0.1', port: hub.port });
    cleanups.push(() => proxy.stop());
    const edge = edgeChannel();
    const events = await edgeEvents(edge, 'app', 10_000);
    const sink = makeSink({ servers: [`127.0.0.1:${proxy.port}`], chunk_max_events: 100, in_flight: 1, ack_timeout: 2000 }, edge.channel);
    const sending = sink.send(events, 'app');
    await waitUntil(() => readAll(hub.t.channel, 'app').length >= 300, 5000, 'a few chunks');
    // From here no ack reaches the edge (so the batch cannot finish however fast the machine), then the cut.
    proxy.swallowResponses = true;
    proxy.cutAll();
    await expect(sending).rejects.toThrow(/connection closed by|connection reset by/);
    proxy.swallowResponses = false;
    const before = hub.source.stats.frames;
    await sink.send(events, 'app');
    expect(view(readAll(hub.t.channel, 'app'))).toEqual(view(events));
    // At most the chunk in flight at the cut came again; the acknowledged ones did not.
    expect(hub.source.stats.frames - before).toBeLessThanOrEqual(100 - before + 1);
    expect(hub.source.stats.duplicates).toBeLessThanOrEqual(1);
  });

  it('fails over to the next server, and names every server when none answers', async () => {
    const hub = await startHub();
    const dead = await closedPort();
    const edge = edgeChannel();
    const events = await edgeEvents(edge, 'app', 10);
    const sink = makeSink({ servers: [`127.0.0.1:${dead}`, `127.0.0.1:${hub.port}`], connect_timeout: 1000 }, edge.channel);
    await sink.send(events, 'app');
    expect(sink.describe()).toMatchObject({ connectedTo: `127.0.0.1:${hub.port}`, connectFailures: 1 });
    await hub.source.stop();
    const error = await sink.send(events, 'app').catch((e: unknown) => e as SluiceError);
    expect(error).toMatchObject({ code: ErrorCodes.DESTINATION_UNAVAILABLE, retriable: true });
    const again = await sink.send(events, 'app').catch((e: unknown) => e as SluiceError);
    expect((again as SluiceError).message).toMatch(/^sink "hub": no forward server reachable: connection refused by 127\.0\.0\.1:\d+; connection refused by 127\.0\.0\.1:\d+$/);
    for (const port of [dead, hub.port]) expect((again as SluiceError).message).toContain(`127.0.0.1:${port}`);
  });

  it('passes the shared-key handshake with a user; a wrong key is a retriable error that says so', async () => {
    const hub = await startHub({ shared_key: 'k3y', self_hostname: 'hub-1', users: [{ username: 'edge', password: 'pw' }] });
    const edge = edgeChannel();
    const events = await edgeEvents(edge, 'app', 20);
    await makeSink({ servers: [`127.0.0.1:${hub.port}`], shared_key: 'k3y', username: 'edge', password: 'pw' }, edge.channel).send(events, 'app');
    expect(readAll(hub.t.channel, 'app')).toHaveLength(20);
    const wrong = makeSink({ servers: [`127.0.0.1:${hub.port}`], shared_key: 'nope', username: 'edge', password: 'pw' }, edge.channel, 'wrong');
    const refusal = await wrong.send(events, 'app').catch((e: unknown) => e as SluiceError);
    expect(refusal).toMatchObject({ code: ErrorCodes.UNAUTHORIZED, retriable: true });
    expect((refusal as SluiceError).message).toContain(`sink "wrong": 127.0.0.1:${hub.port} refused the shared_key handshake: shared_key mismatch`);
    const none = makeSink({ servers: [`127.0.0.1:${hub.port}`] }, edge.channel, 'none');
    await expect(none.send(events, 'app')).rejects.toThrow('asks for the shared-key handshake (HELO): set shared_key on this sink');
  });

  it('passes the handshake of a server that reads PING as Fluent Bit in_forward does (every element a msgpack str)', async () => {
    const fb = await FluentBitLikeServer.start('k3y');
    const edge = edgeChannel();
    const events = await edgeEvents(edge, 'app', 30);
    await makeSink({ servers: [`127.0.0.1:${fb.port}`], shared_key: 'k3y', self_hostname: 'edge-7' }, edge.channel).send(events, 'app');
    expect(fb.refusals).toEqual([]);
    expect(fb.events).toBe(30);
    // byte level: [str "PING", str hostname, str salt, str hexdigest, str username, str password]
    expect(fb.pingTypes).toEqual(['str', 'str', 'str', 'str', 'str', 'str']);
    expect(fb.salt).toMatch(/^[A-Za-z0-9_-]{16}$/); // 16 printable bytes: older Fluent Bit hashes exactly 16

    const wrong = makeSink({ servers: [`127.0.0.1:${fb.port}`], shared_key: 'nope' }, edge.channel, 'wrong');
    const error = await wrong.send(events, 'app').catch((e: unknown) => e as SluiceError);
    expect(error).toMatchObject({ code: ErrorCodes.UNAUTHORIZED, retriable: true });
    expect((error as SluiceError).message).toContain(`sink "wrong": 127.0.0.1:${fb.port} refused the shared_key handshake: it closed the connection after our PING`);
    expect(fb.refusals).toEqual(['shared_key mismatch']);
  });

  it('speaks TLS (verifying the hub against a CA) and gzip', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-forward-sink-tls-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'ignore' });
    const hub = await startHub({ tls: { cert, key } });
    const edge = edgeChannel();
    const events = await edgeEvents(edge, 'app', 500);
    await makeSink({ servers: [`localhost:${hub.port}`], tls: { ca: cert }, compression: 'gzip' }, edge.channel).send(events, 'app');
    expect(view(readAll(hub.t.channel, 'app'))).toEqual(view(events));
    const untrusting = makeSink({ servers: [`127.0.0.1:${hub.port}`], tls: {} }, edge.channel, 'untrusting');
    await expect(untrusting.send(events, 'app')).rejects.toThrow(/TLS with 127\.0\.0\.1:\d+ failed: .*set tls\.ca/);
  });

  it('splits chunks over max_frame_bytes; parks a single event no server would take', async () => {
    const hub = await startHub({ max_frame_bytes: '64KiB' });
    const edge = edgeChannel();
    const drafts: EventDraft[] = Array.from({ length: 40 }, (_, i) => ({ topic: 'big', ts: 1_700_000_000_000, key: null, headers: {}, body: utf8(`${i}:`.padEnd(5000, 'x')) }));
    await edge.channel.append({ events: drafts });
    const events = edge.channel.read('big', 0);
    const sink = makeSink({ servers: [`127.0.0.1:${hub.port}`], max_frame_bytes: '64KiB', chunk_max_bytes: '1MiB' }, edge.channel);
    await sink.send(events, 'big');
    expect(view(readAll(hub.t.channel, 'big'))).toEqual(view(events));
    await edge.channel.append({ events: [{ topic: 'huge', ts: 1, key: null, headers: {}, body: new Uint8Array(70_000) }] });
    const error = await sink.send(edge.channel.read('huge', 0), 'huge').then(() => null, (e: unknown) => e as SluiceError);
    expect(error).toMatchObject({ code: ErrorCodes.TOO_LARGE, retriable: false });
    expect(error?.message).toMatch(/^sink "hub": event 0 of "huge" makes a frame of 700\d\d bytes, over max_frame_bytes \(65536\)/);
  });

  it('keeps one edge id per channel file: the same after a restart, new for a new file', async () => {
    const edge = edgeChannel();
    const a = makeSink({ servers: ['127.0.0.1:1'] }, edge.channel);
    const b = makeSink({ servers: ['127.0.0.1:1'] }, edge.channel);
    expect(a.edgeId).toMatch(/^edge-1\/hub\/[0-9a-f]{16}$/);
    expect(b.edgeId).toBe(a.edgeId);
    expect(makeSink({ servers: ['127.0.0.1:1'] }, edge.channel, 'other').edgeId).not.toBe(a.edgeId.replace('/hub/', '/other/'));
    expect(makeSink({ servers: ['127.0.0.1:1'] }, edgeChannel().channel).edgeId).not.toBe(a.edgeId);
  });

  it('under a SinkRunner: a replay is delivered again to the hub, while retries stay de-duplicated', async () => {
    const hub = await startHub();
    const edge = edgeChannel();
    await edgeEvents(edge, 'app', 3000);
    const sink = makeSink({ servers: [`127.0.0.1:${hub.port}`], chunk_max_events: 500 }, edge.channel);
    const runner = new SinkRunner({
      name: 'hub',
      sink,
      channel: edge.channel,
      log: silentLogger,
      topics: ['*'],
      batch: { maxEvents: 1000, maxBytes: 4 << 20, maxWaitMs: 0 },
      retry: { initialMs: 10, maxMs: 50 },
      startFrom: 'earliest',
      onRejected: 'park',
    });
    runner.start();
    cleanups.push(() => runner.stop());
    await waitUntil(() => readAll(hub.t.channel, 'app').length === 3000, 10_000, 'delivery');
    edge.channel.moveCursors([{ consumer: runner.consumer, topic: 'app', spec: { offset: 1000 } }], false);
    await waitUntil(() => readAll(hub.t.channel, 'app').length === 5000, 10_000, 'the replay');
    const seqs = readAll(hub.t.channel, 'app').map((e) => Number(e.headers.seq));
    expect(seqs).toEqual([...Array.from({ length: 3000 }, (_, i) => i), ...Array.from({ length: 2000 }, (_, i) => 1000 + i)]);
    expect(edge.channel.getState('forward.sink.hub', 'generation.app')).toBe('1');
  });

  it('as a member of a failover group: a replay of the group reaches the hub again (the runner tells the member through rewound)', async () => {
    const hub = await startHub();
    const edge = edgeChannel();
    await edgeEvents(edge, 'app', 2000);
    const member = makeSink({ servers: [`127.0.0.1:${hub.port}`], chunk_max_events: 500 }, edge.channel, 'primary');
    const group = new SinkGroup({ mode: 'failover', name: 'hubs', members: [{ name: 'primary', type: 'forward', priority: 1, sink: member }], cooldownMs: 10, maxCooldownMs: 50 });
    const runner = new SinkRunner({
      name: 'hubs',
      sink: group,
      channel: edge.channel,
      log: silentLogger,
      topics: ['*'],
      batch: { maxEvents: 1000, maxBytes: 4 << 20, maxWaitMs: 0 },
      retry: { initialMs: 10, maxMs: 50 },
      startFrom: 'earliest',
      onRejected: 'park',
    });
    runner.start();
    cleanups.push(() => runner.stop());
    await waitUntil(() => readAll(hub.t.channel, 'app').length === 2000 && edge.channel.getCursor(runner.consumer, 'app') === 2000, 10_000, 'delivery');
    edge.channel.moveCursors([{ consumer: runner.consumer, topic: 'app', spec: { offset: 500 } }], false);
    await waitUntil(() => readAll(hub.t.channel, 'app').length === 3500, 10_000, 'the replay');
    const seqs = readAll(hub.t.channel, 'app').map((e) => Number(e.headers.seq));
    expect(seqs).toEqual([...Array.from({ length: 2000 }, (_, i) => i), ...Array.from({ length: 1500 }, (_, i) => 500 + i)]);
  });
});

function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server: Server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
