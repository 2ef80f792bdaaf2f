/**
 * Subscriptions and waiting readers, apart from the database: what a subscriber hears, that it
 * stops hearing once it unsubscribes, and every way a waiter resolves.
 */
import { describe, expect, it } from 'vitest';
import { ChannelEvents, TopicWaiters } from './subscriptions.ts';

function source(initial: Record<string, number> = {}) {
  const highs = new Map(Object.entries(initial));
  let closed = false;
  return {
    highs,
    close: () => void (closed = true),
    waitSource: { high: (topic: string) => highs.get(topic), closed: () => closed },
  };
}

describe('channel events', () => {
  it('delivers each event to its subscribers with its arguments, and nothing after unsubscribing', () => {
    const events = new ChannelEvents();
    const heard: unknown[] = [];
    const off = events.on('append', (topic: string, high: number) => heard.push(['append', topic, high]));
    events.on('cursor', (consumer: string, topic: string, next: number) => heard.push(['cursor', consumer, topic, next]));
    expect(events.count('append')).toBe(1);
    events.appended('t', 3);
    events.cursorMoved('sink:a', 't', 2);
    off();
    events.appended('t', 4);
    expect(heard).toEqual([
      ['append', 't', 3],
      ['cursor', 'sink:a', 't', 2],
    ]);
    expect(events.count('append')).toBe(0);
  });

  it('throws an error nobody subscribed to, as an EventEmitter does, and hands it to a subscriber otherwise', () => {
    const events = new ChannelEvents();
    expect(() => events.error(new Error('retention failed'))).toThrow('retention failed');
    const seen: unknown[] = [];
    events.on('error', (e: unknown) => seen.push(e));
    events.error(new Error('checkpoint failed'));
    expect(seen).toEqual([new Error('checkpoint failed')]);
  });
});

describe('waiting readers', () => {
  it('resolves at once when the topic already holds the offset', async () => {
    const s = source({ t: 5 });
    await expect(new TopicWaiters(s.waitSource).wait('t', 4, 60_000)).resolves.toBe(true);
  });

  it('resolves true on the wake after the topic grew past the offset, not on an earlier one', async () => {
    const s = source({ t: 1 });
    const waiters = new TopicWaiters(s.waitSource);
    let settled: boolean | undefined;
    const waiting = waiters.wait('t', 2, 60_000).then((v) => (settled = v));
    s.highs.set('t', 2);
    waiters.wake('t');
    await Promise.resolve();
    expect(settled).toBeUndefined();
    s.highs.set('t', 3);
    waiters.wake('t');
    await expect(waiting).resolves.toBe(true);
  });

  it('resolves false on timeout, on abort and on close', async () => {
    const s = source();
    const waiters = new TopicWaiters(s.waitSource);
    await expect(waiters.wait('t', 0, 1)).resolves.toBe(false);
    const abort = new AbortController();
    const aborted = waiters.wait('t', 0, 60_000, abort.signal);
    abort.abort();
    await expect(aborted).resolves.toBe(false);
    const closing = waiters.wait('t', 0, 60_000);
    s.close();
    waiters.wakeAll();
    await expect(closing).resolves.toBe(false);
    await expect(waiters.wait('t', 0, 60_000)).resolves.toBe(false);
  });
});
