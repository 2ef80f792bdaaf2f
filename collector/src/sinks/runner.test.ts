/**
 * SinkRunner against a real channel file. The destination here is an in-process recorder that
 * fails on demand; the runner (cursors, retry, parking, replay) is the thing under test.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fromUtf8, makeEvent, type StoredEvent } from '../../../shared/src/event.ts';
import { ErrorCodes, SluiceError } from '../../../shared/src/errors.ts';
import { Channel, type ChannelOptions } from '../channel/channel.ts';
import type { Sink } from '../components.ts';
import { createLogger, silentLogger } from '../log.ts';
import { Writable } from 'node:stream';
import { cursorConsumer, parkedTopic, SinkRunner, type SinkRunnerOptions } from './runner.ts';
import { scaled } from '../../../test/helpers/children.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function setup(sink: Sink, overrides: Partial<SinkRunnerOptions> = {}, channelOptions: Partial<ChannelOptions> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-runner-'));
  const channel = Channel.open({ file: join(dir, 'c.db'), retentionIntervalMs: 0, ...channelOptions });
  const runner = new SinkRunner({
    name: 'dest',
    sink,
    channel,
    log: silentLogger,
    topics: ['*'],
    batch: { maxEvents: 10, maxBytes: 1 << 20, maxWaitMs: 0 },
    retry: { initialMs: 5, maxMs: 20 },
    startFrom: 'earliest',
    onRejected: 'park',
    ...overrides,
  });
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }), () => channel.close(), () => runner.stop(1000));
  return { channel, runner };
}

class Recorder implements Sink {
  received: StoredEvent[] = [];
  failures: SluiceError[] = [];
  send(events: readonly StoredEvent[]): Promise<void> {
    const failure = this.failures.shift();
    if (failure) return Promise.reject(failure);
    this.received.push(...events);
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

async function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + scaled(timeoutMs);
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

const transient = () => new SluiceError(ErrorCodes.DESTINATION_UNAVAILABLE, 'connection refused by 127.0.0.1:1', { retriable: true });

describe('SinkRunner', () => {
  it('delivers every event once, in order, across retries, and commits the cursor after confirmation', async () => {
    const sink = new Recorder();
    sink.failures = [transient(), transient(), transient()];
    const { channel, runner } = setup(sink);
    await channel.append({ events: Array.from({ length: 35 }, (_, i) => makeEvent('a', `a${i}`, { headers: { n: String(i) } })) });
    runner.start();
    await until(() => sink.received.length === 35);
    expect(sink.received.map((e) => fromUtf8(e.body))).toEqual(Array.from({ length: 35 }, (_, i) => `a${i}`));
    expect(sink.received.map((e) => e.headers.n)).toEqual(Array.from({ length: 35 }, (_, i) => String(i)));
    await until(() => channel.getCursor(cursorConsumer('dest'), 'a') === 35);
    const status = runner.status();
    expect(status).toMatchObject({ state: 'running', lag: 0, lagSeconds: 0, sentEvents: 35 });
    expect(status.rate).toBeGreaterThan(0);
    expect(status.lastError?.message).toMatch(/connection refused/);
  });

  it('log lines name the sink once: in the message and as one `sink` field, not its error\'s prefix again', async () => {
    const lines: string[] = [];
    const out = new Writable({ write: (chunk: Buffer, _e, done) => { lines.push(...chunk.toString().split('\n').filter(Boolean)); done(); } });
    const sink = new Recorder();
    // A sink's own errors start with its name, as the HTTP and forward sinks' do.
    sink.failures = [new SluiceError(ErrorCodes.DESTINATION_UNAVAILABLE, 'sink "dest": connection refused by 127.0.0.1:1', { retriable: true })];
    const { channel, runner } = setup(sink, { log: createLogger({ destination: out }).child({ sink: 'dest' }) });
    await channel.append({ events: [makeEvent('a', 'x')] });
    runner.start();
    await until(() => sink.received.length === 1 && lines.some((l) => l.includes('delivering again')));
    const retry = lines.find((l) => l.includes('retrying'))!;
    expect(JSON.parse(retry).msg).toMatch(/^sink "dest": connection refused by 127\.0\.0\.1:1; retrying "a" in /);
    for (const line of lines) {
      expect(line.match(/sink \\?"dest\\?": sink/g)).toBeNull();
      expect(line.match(/"sink":/g)?.length ?? 0).toBeLessThanOrEqual(1);
    }
  });

  it('shows backing_off with the last error and the next attempt while the destination is down', async () => {
    const sink = new Recorder();
    sink.failures = Array.from({ length: 1000 }, transient);
    const { channel, runner } = setup(sink, { retry: { initialMs: 50, maxMs: 100 } });
    await channel.append({ events: [makeEvent('a', 'x', { ts: Date.now() - 3_600_000 })] });
    runner.start();
    await until(() => runner.state === 'backing_off');
    const status = runner.status();
    expect(status.lastError).toMatchObject({ code: ErrorCodes.DESTINATION_UNAVAILABLE, retriable: true });
    expect(status.nextAttemptAt).toBeGreaterThan(Date.now() - 1000);
    expect(status.lag).toBe(1);
    // how far behind: the oldest undelivered event is an hour old
    expect(status.lagSeconds).toBeGreaterThanOrEqual(3600);
    expect(status.topics[0]).toMatchObject({ topic: 'a', lag: 1, state: 'backing_off', rate: 0 });
    expect(channel.getCursor(cursorConsumer('dest'), 'a')).toBe(0);
    sink.failures = [];
    await until(() => sink.received.length === 1 && runner.state === 'running');
  });

  it('parks a batch the destination rejects for good and moves on', async () => {
    const sink = new Recorder();
    sink.failures = [new SluiceError(ErrorCodes.DESTINATION_REJECTED, 'HTTP 400 from http://x: bad record')];
    const { channel, runner } = setup(sink, { batch: { maxEvents: 2, maxBytes: 1 << 20, maxWaitMs: 0 } });
    await channel.append({ events: [makeEvent('a', 'bad1'), makeEvent('a', 'bad2'), makeEvent('a', 'good')] });
    runner.start();
    await until(() => sink.received.length === 1);
    expect(fromUtf8(sink.received[0].body)).toBe('good');
    const parked = channel.read(parkedTopic('dest'), 0);
    expect(parked.map((e) => fromUtf8(e.body))).toEqual(['bad1', 'bad2']);
    expect(parked[0].headers).toMatchObject({ 'sluice.parked.topic': 'a', 'sluice.parked.offset': '0', 'sluice.parked.error': 'HTTP 400 from http://x: bad record' });
    expect(runner.status().parkedEvents).toBe(2);
  });

  it('keeps draining while the disk is below min_free_space: cursors commit, a parked copy waits for space', async () => {
    const sink = new Recorder();
    sink.failures = [new SluiceError(ErrorCodes.DESTINATION_REJECTED, 'HTTP 400 from http://x: bad record')];
    const disk = { free: 1 << 30 };
    const { channel, runner } = setup(
      sink,
      { batch: { maxEvents: 2, maxBytes: 1 << 20, maxWaitMs: 0 } },
      { minFreeSpace: 64 << 20, freeSpaceProbe: () => ({ free: disk.free, total: 10 * 2 ** 30 }) },
    );
    channel.protect(cursorConsumer('dest'), ['*']); // as runner.start() does: undelivered events are not the guard's to free
    await channel.append({ events: [makeEvent('a', 'bad1'), makeEvent('a', 'bad2'), makeEvent('a', 'good1'), makeEvent('a', 'good2')] });
    disk.free = 1 << 20; // the disk fills before the sink starts; the guard notices within a second
    await until(() => channel.stats().disk!.full, 5000);
    runner.start();
    // The rejected batch cannot be parked yet (the channel refuses new events): nothing moves past it.
    await until(() => runner.status().lastError !== null);
    await new Promise((r) => setTimeout(r, 100));
    expect(sink.received).toHaveLength(0);
    expect(channel.getCursor(cursorConsumer('dest'), 'a')).toBe(0); // the first cursor commit passed
    expect(channel.topic(parkedTopic('dest'))).toBeUndefined();
    disk.free = 1 << 30;
    await until(() => sink.received.length === 2, 10_000);
    expect(channel.read(parkedTopic('dest'), 0).map((e) => fromUtf8(e.body))).toEqual(['bad1', 'bad2']);
    await until(() => channel.getCursor(cursorConsumer('dest'), 'a') === 4);
    expect(runner.state).not.toBe('failed');
  });

  it('stops as failed on a rejected batch with on_rejected: stop, and resumes', async () => {
    const sink = new Recorder();
    sink.failures = [new SluiceError(ErrorCodes.DESTINATION_REJECTED, 'nope')];
    const { channel, runner } = setup(sink, { onRejected: 'stop' });
    await channel.append({ events: [makeEvent('a', 'x')] });
    runner.start();
    await until(() => runner.state === 'failed');
    expect(runner.status().lastError?.message).toBe('nope');
    expect(channel.getCursor(cursorConsumer('dest'), 'a')).toBe(0);
    runner.resume();
    await until(() => sink.received.length === 1);
  });

  it('re-sends from a cursor moved by a replay', async () => {
    const sink = new Recorder();
    const { channel, runner } = setup(sink);
    await channel.append({ events: Array.from({ length: 5 }, (_, i) => makeEvent('a', `a${i}`)) });
    runner.start();
    await until(() => sink.received.length === 5);
    channel.moveCursors([{ consumer: runner.consumer, topic: 'a', spec: { offset: 2 } }], false);
    await until(() => sink.received.length === 8);
    expect(sink.received.map((e) => e.offset)).toEqual([0, 1, 2, 3, 4, 2, 3, 4]);
  });

  it('one topic backing off never stalls the others: each topic has its own backoff', async () => {
    // a destination that refuses topic "a" (retriable) for as long as the test says, and takes "b"
    let refuseA = true;
    const received: string[] = [];
    let attemptsA = 0;
    const sink: Sink = {
      send(events, topic) {
        if (topic === 'a' && refuseA) {
          attemptsA++;
          return Promise.reject(transient());
        }
        for (const e of events) received.push(`${topic}:${fromUtf8(e.body)}`);
        return Promise.resolve();
      },
      close: () => Promise.resolve(),
    };
    const { channel, runner } = setup(sink, { retry: { initialMs: 50, maxMs: 200 } });
    await channel.append({ events: [makeEvent('a', 'a0')] });
    await channel.append({ events: Array.from({ length: 25 }, (_, i) => makeEvent('b', `b${i}`)) });
    runner.start();
    await until(() => received.length === 25 && attemptsA >= 2);
    expect(received).toEqual(Array.from({ length: 25 }, (_, i) => `b:b${i}`));
    // "b" goes on while "a" is still backing off
    await channel.append({ events: [makeEvent('b', 'later')] });
    await until(() => received.length === 26);
    expect(runner.state).toBe('backing_off');
    const topics = runner.status().topics;
    expect(topics.find((t) => t.topic === 'a')).toMatchObject({ lag: 1, state: 'backing_off' });
    expect(topics.find((t) => t.topic === 'b')).toMatchObject({ lag: 0, state: 'running' });
    refuseA = false;
    await until(() => received.includes('a:a0') && runner.state === 'running');
    expect(channel.getCursor(cursorConsumer('dest'), 'a')).toBe(1);
  });

  it('tells the sink when someone else moved its cursor (rewound), before re-reading; never for its own commits', async () => {
    const rewinds: [string, number][] = [];
    const sink = new Recorder() as Recorder & { rewound(topic: string, next: number): void };
    sink.rewound = (topic, next) => {
      rewinds.push([topic, next]);
      // called before the runner reads from the new position
      expect(sink.received.length).toBe(5);
    };
    const { channel, runner } = setup(sink, { batch: { maxEvents: 2, maxBytes: 1 << 20, maxWaitMs: 0 } });
    await channel.append({ events: Array.from({ length: 5 }, (_, i) => makeEvent('a', `a${i}`)) });
    runner.start();
    await until(() => sink.received.length === 5 && channel.getCursor(runner.consumer, 'a') === 5);
    expect(rewinds).toEqual([]);
    channel.moveCursors([{ consumer: runner.consumer, topic: 'a', spec: { offset: 1 } }], false);
    await until(() => sink.received.length === 9);
    expect(rewinds).toEqual([['a', 1]]);
    expect(sink.received.map((e) => e.offset)).toEqual([0, 1, 2, 3, 4, 1, 2, 3, 4]);
  });

  it('does not match internal topics with a glob, and protects its topics from retention', async () => {
    const sink = new Recorder();
    const { channel, runner } = setup(sink);
    await channel.append({ events: [makeEvent('_internal', 'x'), makeEvent('b', 'y')] });
    runner.start();
    await until(() => sink.received.length === 1);
    expect(runner.matches('_internal')).toBe(false);
    expect(sink.received[0].topic).toBe('b');
  });
});
