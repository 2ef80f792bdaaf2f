/**
 * Reading (docs/specs/channel.md "Readers"), through the channel on real database files: reads.ts
 * and the waiting readers behind the façade.
 */
import { describe, expect, it } from 'vitest';
import { channelFixture, ev, bodies } from './test-fixture.ts';

const { tempFile, openChannel } = channelFixture();

describe('readers', () => {
  it('MUST serve a second connection the events of the batch it asked for after retention freed row ids', async () => {
    const file = tempFile();
    let now = 1_000_000;
    const writer = openChannel({ file, now: () => now, defaults: { retentionMs: 1000 } });
    await writer.append({ events: [ev('a', 'from-a', now)] });
    const reader = openChannel({ file, readonly: true });
    expect(bodies(reader.read('a', 0))).toEqual(['from-a']);
    now += 10_000;
    writer.runRetention(); // deletes the only batch: the next one reuses its row id
    await writer.append({ events: [ev('b', 'from-b', now)] });
    const read = reader.read('b', 0);
    expect(read.map((e) => [e.topic, e.offset])).toEqual([['b', 0]]);
    expect(bodies(read)).toEqual(['from-b']);
    expect(reader.read('a', 0)).toEqual([]);
  });

  it('MUST tell waiting readers about new events only once they are committed', async () => {
    const channel = openChannel({ commitWindowMs: 20 });
    const seen: [string, number][] = [];
    channel.onAppend((topic, high) => seen.push([topic, high]));
    const waiting = channel.waitFor('t', 0, 10_000);
    const appended = channel.append({ events: [ev('t', 'x')] });
    expect(seen).toEqual([]); // pending, not committed: nobody is told yet
    expect(await waiting).toBe(true);
    await appended;
    expect(seen).toEqual([['t', 1]]);
    expect(channel.read('t', 0)).toHaveLength(1);
    expect(await channel.waitFor('t', 1, 10)).toBe(false); // nothing newer: times out
  });
});

describe('time seek', () => {
  it('MUST find the first offset at or after a timestamp, at the edges', async () => {
    const channel = openChannel({ maxBatchEvents: 4 });
    // ts: 10 20 20 30 | 30 40 50 60 | 70 — two equal timestamps straddle nothing, two straddle a border
    const ts = [10, 20, 20, 30, 30, 40, 50, 60, 70];
    await channel.append({ events: ts.map((t, i) => ev('t', `e${i}`, t)) });
    expect(channel.offsetForTime('t', 0)).toBe(0);
    expect(channel.offsetForTime('t', 10)).toBe(0);
    expect(channel.offsetForTime('t', 11)).toBe(1);
    expect(channel.offsetForTime('t', 20)).toBe(1);
    expect(channel.offsetForTime('t', 30)).toBe(3);
    expect(channel.offsetForTime('t', 31)).toBe(5);
    expect(channel.offsetForTime('t', 70)).toBe(8);
    expect(channel.offsetForTime('t', 71)).toBe(9); // beyond the end: the high watermark
    expect(channel.offsetForTime('missing', 5)).toBe(0);
  });

  it('MUST handle timestamps that go backwards (first event with ts ≥ T, as Kafka)', async () => {
    const channel = openChannel({ maxBatchEvents: 2 });
    const ts = [100, 50, 60, 200, 70, 300];
    await channel.append({ events: ts.map((t, i) => ev('t', `e${i}`, t)) });
    expect(channel.offsetForTime('t', 55)).toBe(0);
    expect(channel.offsetForTime('t', 150)).toBe(3);
    expect(channel.offsetForTime('t', 250)).toBe(5);
  });
});
