/**
 * The http sink under the real SinkRunner and a real Channel file, against a real server that
 * fails for a while and then recovers: nothing lost, order kept, state visible.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fromUtf8, makeEvent } from '../../../shared/src/event.ts';
import { Channel } from '../channel/channel.ts';
import { silentLogger } from '../log.ts';
import { cursorConsumer, parkedTopic, SinkRunner } from './runner.ts';
import { buildSink, Receiver, until } from './testing.ts';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(sinkConfig: Record<string, unknown> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-http-runner-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const channel = Channel.open({ file: join(dir, 'channel.db'), retentionIntervalMs: 0 });
  cleanups.push(() => channel.close());
  const server = await Receiver.start();
  cleanups.push(() => server.stop());
  const sink = buildSink({ type: 'http', url: server.url('/ingest/{topic}'), timeout: '2s', ...sinkConfig }, 'hub');
  const runner = new SinkRunner({
    name: 'hub',
    sink,
    channel,
    log: silentLogger,
    topics: ['*'],
    batch: { maxEvents: 50, maxBytes: 1 << 20, maxWaitMs: 0 },
    retry: { initialMs: 20, maxMs: 200 },
    startFrom: 'earliest',
    onRejected: 'park',
  });
  cleanups.push(() => runner.stop(2000));
  return { channel, server, runner };
}

function produce(channel: Channel, topic: string, from: number, n: number) {
  return channel.append({
    events: Array.from({ length: n }, (_, i) => makeEvent(topic, JSON.stringify({ topic, n: from + i }), { headers: { 'content-type': 'application/json', n: String(from + i) } })),
  });
}

/** Per topic, the `n` of every accepted record in arrival order. */
function arrived(server: Receiver, topic: string): number[] {
  return server
    .items<{ topic: string; headers: Record<string, string>; body: { n: number } }>()
    .filter((e) => e.topic === topic)
    .map((e) => {
      expect(e.headers.n).toBe(String(e.body.n));
      return e.body.n;
    });
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('http sink under the SinkRunner', () => {
  it('a server that fails, then recovers: nothing lost, order kept, backing_off with the last error, then running', async () => {
    const { channel, server, runner } = await setup();
    server.script = Array.from({ length: 10_000 }, () => ({ status: 500, body: 'upstream database unavailable' }));
    await produce(channel, 'web', 0, 120);
    await produce(channel, 'app', 0, 80);
    runner.start();

    await until(() => runner.state === 'backing_off' && server.seen.length >= 3, 10_000, 'backing_off');
    const down = runner.status();
    expect(down.state).toBe('backing_off');
    expect(down.lastError).toMatchObject({ code: 'SLUICE_DESTINATION_UNAVAILABLE', retriable: true });
    // Each topic backs off on its own: the last error is whichever topic's attempt failed last.
    expect([`sink "hub": POST ${server.url('/ingest/app')} answered 500 Internal Server Error: upstream database unavailable`, `sink "hub": POST ${server.url('/ingest/web')} answered 500 Internal Server Error: upstream database unavailable`]).toContain(down.lastError?.message);
    expect(down.nextAttemptAt).toBeGreaterThan(Date.now() - 1000);
    expect(down.lag).toBe(200);
    expect(channel.getCursor(cursorConsumer('hub'), 'web') ?? 0).toBe(0);
    expect(down.detail).toMatchObject({ url: server.url('/ingest/{topic}'), lastStatus: 500 });

    // More events arrive while the destination is down.
    await produce(channel, 'web', 120, 80);
    // It comes back through a few more kinds of trouble: closed connections, rate limiting.
    server.script = ['close', 'close', { status: 429, headers: { 'retry-after': '1' } }, { status: 503 }, 'close', 'close'];
    await until(() => runner.status().lag === 0 && runner.state === 'running', 20_000, 'recovery');

    expect(arrived(server, 'web')).toEqual(range(200));
    expect(arrived(server, 'app')).toEqual(range(80));
    const up = runner.status();
    expect(up).toMatchObject({ state: 'running', lag: 0, sentEvents: 280, parkedEvents: 0, nextAttemptAt: null });
    expect(up.lastError?.message).toMatch(/^sink "hub": (connection closed by 127\.0\.0\.1:\d+ before an answer|POST .* answered (429|503) .*)$/);
    expect(channel.getCursor(cursorConsumer('hub'), 'web')).toBe(200);
    expect(channel.getCursor(cursorConsumer('hub'), 'app')).toBe(80);
    expect(server.accepted.every((r) => r.items.length <= 50)).toBe(true);
  });

  it('a batch the server rejects for good is parked with its error, and delivery goes on', async () => {
    const { channel, server, runner } = await setup();
    server.script = [{ status: 400, body: 'field "n" must be a string' }];
    await produce(channel, 'web', 0, 120);
    runner.start();
    await until(() => runner.status().lag === 0, 10_000, 'drained');
    // The first batch (0–49) was refused; the rest arrived in order.
    expect(arrived(server, 'web')).toEqual(range(120).slice(50));
    const parked = channel.read(parkedTopic('hub'), 0);
    expect(parked.map((e) => JSON.parse(fromUtf8(e.body)).n)).toEqual(range(50));
    expect(parked[0].headers).toMatchObject({
      'sluice.parked.topic': 'web',
      'sluice.parked.offset': '0',
      'sluice.parked.error': `sink "hub": POST ${server.url('/ingest/web')} answered 400 Bad Request: field "n" must be a string`,
    });
    expect(runner.status()).toMatchObject({ state: 'running', parkedEvents: 50, sentEvents: 70 });
  });

  it('a failover group under the runner: the primary dies, the standby takes over, nothing lost', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-group-runner-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const channel = Channel.open({ file: join(dir, 'channel.db'), retentionIntervalMs: 0 });
    cleanups.push(() => channel.close());
    const primary = await Receiver.start();
    const standby = await Receiver.start();
    cleanups.push(() => primary.stop(), () => standby.stop());
    const sink = buildSink(
      { type: 'failover', cooldown: '5s', sinks: { primary: { type: 'http', priority: 1, url: primary.url() }, standby: { type: 'http', url: standby.url() } } },
      'out',
    );
    const runner = new SinkRunner({
      name: 'out',
      sink,
      channel,
      log: silentLogger,
      topics: ['web'],
      batch: { maxEvents: 25, maxBytes: 1 << 20, maxWaitMs: 0 },
      retry: { initialMs: 20, maxMs: 200 },
      startFrom: 'earliest',
      onRejected: 'park',
    });
    cleanups.push(() => runner.stop(2000));
    await produce(channel, 'web', 0, 100);
    runner.start();
    await until(() => runner.status().lag === 0, 10_000, 'first drain');
    await primary.stop();
    await produce(channel, 'web', 100, 100);
    await until(() => runner.status().lag === 0, 10_000, 'second drain');
    const all = [...primary.items<{ offset: number }>(), ...standby.items<{ offset: number }>()].map((e) => e.offset);
    expect(all).toEqual(range(200));
    expect(standby.items<{ offset: number }>().map((e) => e.offset)).toEqual(range(200).slice(100));
    const detail = runner.status().detail as { active: string; members: { name: string; healthy: boolean; lastError: string | null }[] };
    expect(detail.active).toBe('standby');
    expect(detail.members[0]).toMatchObject({ name: 'primary', healthy: false });
    expect(detail.members[0].lastError).toMatch(/^sink "out\/primary": connection (refused|reset|closed) /);
    expect(runner.state).toBe('running');
  });
});
