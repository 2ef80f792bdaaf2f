/**
 * Sluice-to-Sluice batch forwarding (docs/protocols/forward.md "Batch forwarding"): the sink's
 * `sendStored` against a real forward source on real sockets and channel files — stored batches
 * travel as they are once the hub's acks say `sluice: 2`, the same events arrive as on the
 * per-event paths, a lost ack is still stored once, the hub falls back to events where it must
 * touch each one, an old (level 1) hub only ever gets PackedForward, and hostile batch frames
 * close the connection without storing anything.
 */
import { connect, createServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { fromUtf8, utf8, type EventDraft, type StoredEvent } from '../../../../shared/src/event.ts';
import { createRequestDecoder, encodeAck, type EventMode } from '../../../../shared/src/protocol/forward/index.ts';
import { validateConfig } from '../../../../shared/src/spec.ts';
import { TcpProxy } from '../../../../test/helpers/tcp-proxy.ts';
import type { Channel, StoredBatch } from '../../channel/channel.ts';
import { encodeBatch } from '../../channel/format.ts';
import type { SinkContext } from '../../components.ts';
import { silentLogger } from '../../log.ts';
import { ForwardSource, forwardSource } from '../../sources/forward/forward.ts';
import { createTestContext, openTestChannel, readAll, waitUntil, type TestChannel, type TestContextOptions, type TestSourceContext } from '../../sources/testing.ts';
import { batchesFrame } from './bytes-frame.ts';
import { ForwardSink, forwardSink } from './forward.ts';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Hub {
  t: TestChannel;
  ctx: TestSourceContext;
  source: ForwardSource;
  port: number;
}

async function startHub(input: Record<string, unknown> = {}, options: TestContextOptions = {}): Promise<Hub> {
  const { value, problems } = validateConfig(forwardSource.config, { listen: '127.0.0.1:0', ...input }, 'sources.fwd');
  expect(problems).toEqual([]);
  const t = openTestChannel();
  const ctx = createTestContext(t.channel, { name: 'fwd', collectorId: 'hub', ...options });
  const source = forwardSource.create(value!, ctx) as ForwardSource;
  await source.start();
  cleanups.push(() => t.cleanup());
  cleanups.push(() => source.stop());
  return { t, ctx, source, port: source.port };
}

function makeSink(input: Record<string, unknown>, channel: Channel): ForwardSink {
  const { value, problems } = validateConfig(forwardSink.config, input, 'sinks.hub');
  expect(problems).toEqual([]);
  const ctx: SinkContext = {
    name: 'hub',
    log: silentLogger,
    signal: new AbortController().signal,
    collectorId: 'edge-1',
    channel,
    createSink() {
      throw new Error('not a group');
    },
  };
  const sink = forwardSink.create(value!, ctx) as ForwardSink;
  cleanups.push(() => sink.close());
  return sink;
}

/** An edge channel holding `n` events of `topic` in several stored batches (appends of 150, batches of at most 100). */
async function edge(topic: string, n: number): Promise<{ t: TestChannel; events: StoredEvent[]; stored: StoredBatch[] }> {
  const t = openTestChannel({ maxBatchEvents: 100 });
  cleanups.push(() => t.cleanup());
  const drafts: EventDraft[] = Array.from({ length: n }, (_, i) => ({
    topic,
    ts: 1_700_000_000_000 + i * 7 - (i % 3),
    key: i % 5 === 0 ? `key-${i}-é` : null,
    headers: i % 4 === 0 ? ({} as Record<string, string>) : { 'content-type': i % 2 ? 'application/json' : 'text/plain', seq: String(i), 'x-ü': 'ß' },
    body: i % 2 ? utf8(`{"seq":${i},"msg":"hello"}`) : i % 3 ? utf8(`line ${i}`) : Uint8Array.from([0xff, 0, i & 0xff]),
  }));
  for (let i = 0; i < n; i += 150) await t.channel.append({ events: drafts.slice(i, i + 150) });
  return { t, events: t.channel.read(topic, 0, { maxEvents: n }), stored: t.channel.readStored(topic, 0, { maxEvents: n }) };
}

const view = (events: readonly { ts: number; key: string | null; headers: Record<string, string>; body: Uint8Array }[]) =>
  events.map((e) => ({ ts: e.ts, key: e.key, headers: e.headers, body: Buffer.from(e.body).toString('hex') }));

describe('batch forwarding (Sluice to Sluice)', () => {
  it('sends the stored batches as they are once the hub says sluice: 2; the hub stores them as they are', async () => {
    const hub = await startHub();
    const { t, events, stored } = await edge('app', 1000);
    const sink = makeSink({ servers: [`127.0.0.1:${hub.port}`], chunk_max_events: 300, in_flight: 2 }, t.channel);
    await sink.sendStored(stored, 'app');
    expect(view(readAll(hub.t.channel, 'app'))).toEqual(view(events));
    expect(sink.describe()).toMatchObject({ bodyAs: 'batches', events: 1000 });
    expect(hub.ctx.counts.batchCalls).toBeGreaterThan(0);
    // Whole batches arrived byte for byte: the hub holds some of the edge's payloads unchanged.
    const edgePayloads = new Set(stored.map((b) => b.payload.toString('hex')));
    const same = hub.t.channel.readStored('app', 0, { maxEvents: 1000 }).filter((b) => edgePayloads.has(b.payload.toString('hex')));
    expect(same.length).toBeGreaterThan(0);
  });

  it('cuts a stored batch of large events into chunks of about chunk_max_bytes, as it would for events', async () => {
    // One stored batch of 10 MB, as a hub holds a peer's batch (stored as it came).
    const t = openTestChannel({ maxBatchEvents: 100, maxBatchBytes: 64 * 1024 * 1024 });
    cleanups.push(() => t.cleanup());
    const big = Buffer.alloc(100 * 1024, 0x61);
    await t.channel.append({ events: Array.from({ length: 100 }, (_, i) => ({ topic: 'big', ts: 1_700_000_000_000 + i, key: null, headers: {}, body: big })) });
    const stored = t.channel.readStored('big', 0, { maxEvents: 100 });
    expect(stored).toHaveLength(1); // one 10 MB batch
    const hub = await startHub();
    await makeSink({ servers: [`127.0.0.1:${hub.port}`] }, t.channel).sendStored(stored, 'big');
    expect(readAll(hub.t.channel, 'big')).toHaveLength(100);
    // 1 MiB chunks of ~10 events: the same cuts whatever the chunk travels as, so a resend after a
    // reconnect (as events) is never split for max_frame_bytes into chunks with other ids.
    expect(hub.t.channel.listState('forward.chunks').length).toBeGreaterThanOrEqual(10);
  });

  it('stores the same events through fields, bytes and batches (except offsets and arrival)', async () => {
    const { t, events, stored } = await edge('app', 700);
    const viaFields = await startHub();
    await makeSink({ servers: [`127.0.0.1:${viaFields.port}`], body_as: 'fields' }, t.channel).sendStored(stored, 'app');
    const viaBytes = await startHub();
    await makeSink({ servers: [`127.0.0.1:${viaBytes.port}`], body_as: 'bytes' }, t.channel).send(events, 'app');
    const viaBatches = await startHub();
    // chunks of 100 and 1 in flight: every chunk after the first travels as stored batches
    const sink = makeSink({ servers: [`127.0.0.1:${viaBatches.port}`], chunk_max_events: 100, in_flight: 1 }, t.channel);
    await sink.sendStored(stored, 'app');
    expect(viaBatches.ctx.counts.batchCalls).toBeGreaterThanOrEqual(6);
    expect(viaFields.ctx.counts.batchCalls).toBe(0);
    const fields = view(readAll(viaFields.t.channel, 'app'));
    expect(view(readAll(viaBytes.t.channel, 'app'))).toEqual(fields);
    expect(view(readAll(viaBatches.t.channel, 'app'))).toEqual(fields);
    expect(fields).toEqual(view(events));
  });

  it('a batch whose acks were lost is sent again with the same chunk ids: the hub stores every event once', async () => {
    const hub = await startHub();
    const proxy = await TcpProxy.start({ host: '127.0.0.1', port: hub.port });
    cleanups.push(() => proxy.stop());
    const { t, events, stored } = await edge('app', 1000);
    const sink = makeSink({ servers: [`127.0.0.1:${proxy.port}`], chunk_max_events: 200, in_flight: 1, ack_timeout: 400 }, t.channel);
    await sink.sendStored(t.channel.readStored('app', 0, { maxEvents: 200 }), 'app'); // the hub's first ack: batches from here on
    proxy.swallowResponses = true;
    const rest = stored.filter((b) => b.lastOffset >= 200).map((b) => ({ ...b, first: Math.max(200, b.first) }));
    await expect(sink.sendStored(rest, 'app')).rejects.toThrow(/no ack from 127\.0\.0\.1:\d+ within 400 ms/);
    await waitUntil(() => readAll(hub.t.channel, 'app').length > 200, 5000, 'the hub to store an unacknowledged chunk');
    proxy.swallowResponses = false;
    await sink.sendStored(rest, 'app');
    expect(view(readAll(hub.t.channel, 'app'))).toEqual(view(events));
    expect(hub.source.stats.duplicates).toBeGreaterThan(0);
    expect(hub.ctx.counts.batchCalls).toBeGreaterThan(0);
  });

  it.each([false, true])('a batch that grew between attempts is cut as before up to where the failed attempt ended: the hub stores every event once (edge restarted: %s)', async (restart) => {
    const hub = await startHub();
    const proxy = await TcpProxy.start({ host: '127.0.0.1', port: hub.port });
    cleanups.push(() => proxy.stop());
    const t = openTestChannel({ maxBatchEvents: 100 });
    cleanups.push(() => t.cleanup());
    const add = async (from: number, n: number) => {
      for (let i = from; i < from + n; i += 100) {
        await t.channel.append({ events: Array.from({ length: 100 }, (_, k) => ({ topic: 'app', ts: 1_700_000_000_000 + i + k, key: null, headers: {}, body: utf8(`e${i + k}`) })) });
      }
    };
    const sink = makeSink({ servers: [`127.0.0.1:${proxy.port}`], chunk_max_events: 200, in_flight: 8, ack_timeout: 400 }, t.channel);
    await add(0, 100);
    await sink.sendStored(t.channel.readStored('app', 0), 'app'); // acknowledged: batches from here on
    await add(100, 300);
    proxy.swallowResponses = true;
    await expect(sink.sendStored(t.channel.readStored('app', 100), 'app')).rejects.toThrow(/no ack/); // chunks 100–299, 300–399
    await waitUntil(() => readAll(hub.t.channel, 'app').length >= 400, 5000, 'the hub to store the unacknowledged chunks');
    await add(400, 300); // the retry reads a longer batch: 100–699
    proxy.swallowResponses = false;
    // a restarted edge (a new sink on the same channel file) retries: it finds where the attempt ended in the channel
    const again = restart ? makeSink({ servers: [`127.0.0.1:${proxy.port}`], chunk_max_events: 200, in_flight: 8, ack_timeout: 400 }, t.channel) : sink;
    if (restart) await sink.close();
    await again.sendStored(t.channel.readStored('app', 100, { maxEvents: 10_000 }), 'app');
    expect(readAll(hub.t.channel, 'app').map((e) => fromUtf8(e.body))).toEqual(Array.from({ length: 700 }, (_, i) => `e${i}`));
    expect(hub.source.stats.duplicates).toBe(2);
  });

  it('a hub that must touch each event (topic override, interceptors) stores them as events: tag header, chain applied', async () => {
    const { t, events, stored } = await edge('app', 400);
    const fixed = await startHub({ topic: 'all' });
    await makeSink({ servers: [`127.0.0.1:${fixed.port}`], chunk_max_events: 100, in_flight: 1 }, t.channel).sendStored(stored, 'app');
    expect(view(readAll(fixed.t.channel, 'all'))).toEqual(view(events.map((e) => ({ ...e, headers: { ...e.headers, 'fluent.tag': 'app' } }))));
    const chained = await startHub({}, { intercept: (e) => (e.key === null ? { ...e, headers: { ...e.headers, seen: 'yes' } } : null) });
    await makeSink({ servers: [`127.0.0.1:${chained.port}`], chunk_max_events: 100, in_flight: 1 }, t.channel).sendStored(stored, 'app');
    expect(view(readAll(chained.t.channel, 'app'))).toEqual(view(events.filter((e) => e.key === null).map((e) => ({ ...e, headers: { ...e.headers, seen: 'yes' } }))));
    expect(chained.ctx.counts.batchCalls).toBe(0);
  });

  it('a level-1 hub (an older Sluice) and any fluent server only ever get PackedForward', async () => {
    const kinds: EventMode[] = [];
    const server = createServer((socket: Socket) => {
      const decoder = createRequestDecoder();
      socket.on('data', (chunk: Buffer) => {
        for (const frame of decoder.push(chunk)) {
          if (frame.kind === 'heartbeat' || frame.kind === 'ping') continue;
          kinds.push(frame.kind);
          if (frame.option.chunk) socket.write(encodeAck(frame.option.chunk, 1));
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => server.close(r)));
    const { t, stored } = await edge('app', 500);
    const sink = makeSink({ servers: [`127.0.0.1:${(server.address() as { port: number }).port}`], chunk_max_events: 100, in_flight: 1 }, t.channel);
    await sink.sendStored(stored, 'app');
    expect(kinds.length).toBe(6); // chunks cut at the stored batches (100, 50, 100, 50, 100, 50 + 50)
    expect(new Set(kinds)).toEqual(new Set(['packed']));
    expect(sink.describe().bodyAs).toBe('bytes');
  });

  it('refuses hostile record batches: the connection is closed, nothing of it is stored, other clients go on', async () => {
    const hub = await startHub();
    const good = encodeBatch([{ topic: 'app', ts: 1_700_000_000_000, key: null, headers: { a: 'b' }, body: utf8('x') }]).payload;
    const frame = (payload: Uint8Array, events: number, chunk: string, format = 1) => Buffer.concat(batchesFrame('app', [payload], events, format, { chunk }));
    const bad = Buffer.from(good);
    bad[bad.length - 1 - 2] = 0xc1; // inside the header value: never valid msgpack
    const cases: [string, Buffer][] = [
      ['garbage', frame(Buffer.from([0x92, 0xc1, 0x90]), 1, 'c1')],
      ['a corrupt byte', frame(bad, 1, 'c2')],
      ['a size that lies', frame(good, 2, 'c3')],
      ['an unknown record format', frame(good, 1, 'c4', 9)],
      ['a truncated batch', frame(good.subarray(0, good.length - 3), 1, 'c5')],
      ['trailing bytes', frame(Buffer.concat([good, Buffer.from([0x00])]), 1, 'c6')],
    ];
    for (const [, bytes] of cases) {
      const socket = connect(hub.port, '127.0.0.1');
      socket.on('error', () => undefined);
      const answered: Buffer[] = [];
      socket.on('data', (d: Buffer) => answered.push(d));
      await new Promise<void>((r) => socket.once('connect', r));
      socket.write(bytes);
      await new Promise<void>((r) => socket.once('close', () => r()));
      expect(answered).toEqual([]); // no ack
    }
    expect(hub.source.stats.refused).toBe(cases.length);
    expect(readAll(hub.t.channel, 'app')).toEqual([]);
    // a well-formed batch frame is taken (any Sluice level-2 client may send one)
    const socket = connect(hub.port, '127.0.0.1');
    cleanups.push(() => socket.destroy());
    const acks: Buffer[] = [];
    socket.on('data', (d: Buffer) => acks.push(d));
    socket.write(frame(good, 1, 'ok'));
    await waitUntil(() => acks.length > 0, 5000, 'the ack');
    expect(fromUtf8(readAll(hub.t.channel, 'app')[0].body)).toBe('x');
  });
});
