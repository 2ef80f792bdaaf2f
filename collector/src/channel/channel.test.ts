/**
 * The channel contract (docs/specs/channel.md), clause by clause, on real database files.
 * Crash safety across a process boundary is in test/crash/channel-crash.test.ts.
 */
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { fromUtf8 } from '../../../shared/src/event.ts';
import { ErrorCodes } from '../../../shared/src/errors.ts';
import { Channel } from './channel.ts';
import { checkBatches, encodeBatch } from './format.ts';
import { SCHEMA_VERSION } from './schema.ts';
import { channelFixture, ev, bodies } from './test-fixture.ts';

const { tempFile, openChannel } = channelFixture();

describe('offsets', () => {
  it('MUST create topics on first use and assign dense offsets from 0', async () => {
    const channel = openChannel();
    const a = await channel.append({ events: [ev('a', 'a0'), ev('a', 'a1'), ev('b', 'b0')] });
    const b = await channel.append({ events: [ev('a', 'a2')] });
    expect(a.ranges).toEqual([
      { topic: 'a', first: 0, last: 1 },
      { topic: 'b', first: 0, last: 0 },
    ]);
    expect(b.ranges).toEqual([{ topic: 'a', first: 2, last: 2 }]);
    const read = channel.read('a', 0);
    expect(read.map((e) => e.offset)).toEqual([0, 1, 2]);
    expect(bodies(read)).toEqual(['a0', 'a1', 'a2']);
    expect(channel.topic('a')).toMatchObject({ low: 0, high: 3, count: 3 });
  });

  it('MUST keep key, headers, ts and body bytes exactly', async () => {
    const channel = openChannel();
    const body = new Uint8Array([0, 255, 1, 128, 10]);
    await channel.append({ events: [{ topic: 't', ts: 1_700_000_000_123, key: 'k1', headers: { 'content-type': 'application/octet-stream', a: 'é' }, body }] });
    const [e] = channel.read('t', 0);
    expect(e).toMatchObject({ topic: 't', offset: 0, ts: 1_700_000_000_123, key: 'k1', headers: { 'content-type': 'application/octet-stream', a: 'é' } });
    expect([...e.body]).toEqual([...body]);
  });

  it('MUST NOT reuse offsets after retention empties a topic or after a restart', async () => {
    const file = tempFile();
    let now = 1_000_000;
    let channel = openChannel({ file, now: () => now, defaults: { retentionMs: 1000 } });
    await channel.append({ events: [ev('t', 'x', now), ev('t', 'y', now)] });
    now += 10_000;
    expect(channel.runRetention().deletedEvents).toBe(2);
    expect(channel.topic('t')).toMatchObject({ low: 2, high: 2, count: 0 });
    await channel.close();
    channel = openChannel({ file, now: () => now });
    const r = await channel.append({ events: [ev('t', 'z', now)] });
    expect(r.ranges[0]).toEqual({ topic: 't', first: 2, last: 2 });
    expect(channel.read('t', 0).map((e) => e.offset)).toEqual([2]);
  });

  it('MUST refuse invalid topic names with a clear error', async () => {
    const channel = openChannel();
    await expect(channel.append({ events: [ev('bad topic/..', 'x')] })).rejects.toMatchObject({ code: ErrorCodes.TOPIC_INVALID });
  });

  it('splits large appends into record batches and reads across batch borders', async () => {
    const channel = openChannel({ maxBatchEvents: 7 });
    const events = Array.from({ length: 100 }, (_, i) => ev('t', `e${i}`, 1000 + i));
    await channel.append({ events });
    expect(bodies(channel.read('t', 5, { maxEvents: 10 }))).toEqual(Array.from({ length: 10 }, (_, i) => `e${i + 5}`));
    expect(channel.read('t', 95, { maxEvents: 10 }).map((e) => e.offset)).toEqual([95, 96, 97, 98, 99]);
    expect(channel.readLast('t', 3).map((e) => e.offset)).toEqual([97, 98, 99]);
    expect(channel.readBefore('t', 10, 12).map((e) => e.offset)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(channel.read('t', 100)).toEqual([]);
  });
});

describe('group commit', () => {
  it('MUST commit concurrent appends together and resolve each caller with its own offsets', async () => {
    const channel = openChannel();
    const results = await Promise.all(Array.from({ length: 64 }, (_, p) => channel.append({ events: [ev('t', `p${p}-0`), ev('t', `p${p}-1`)] })));
    expect(channel.stats().commits).toBe(1);
    const all = channel.read('t', 0, { maxEvents: 1000 });
    expect(all).toHaveLength(128);
    for (const [p, r] of results.entries()) {
      const { first, last } = r.ranges[0];
      expect(last - first).toBe(1);
      expect(bodies(all.slice(first, last + 1))).toEqual([`p${p}-0`, `p${p}-1`]);
    }
  });

  it('MUST reject every caller of a failed commit and leave nothing half-written visible', async () => {
    const file = tempFile();
    const channel = openChannel({ file });
    await channel.append({ events: [ev('ok', 'before'), ev('poison', 'seed')] });
    // A trigger makes the next write to topic "poison" fail inside the transaction.
    const raw = new Database(file);
    raw.exec(`CREATE TRIGGER fail_poison BEFORE INSERT ON batches WHEN NEW.topic_id = (SELECT id FROM topics WHERE name = 'poison') BEGIN SELECT RAISE(ABORT, 'disk says no'); END;`);
    raw.close();
    const outcomes = await Promise.allSettled([
      channel.append({ events: [ev('ok', 'same-group-1')] }),
      channel.append({ events: [ev('poison', 'boom')] }),
      channel.append({ events: [ev('ok', 'same-group-2')], state: [{ namespace: 'n', key: 'k', value: 'v' }] }),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect((outcomes[1] as PromiseRejectedResult).reason).toMatchObject({ code: ErrorCodes.CHANNEL_COMMIT_FAILED, retriable: true });
    expect(bodies(channel.read('ok', 0))).toEqual(['before']);
    expect(channel.topic('ok')).toMatchObject({ high: 1, count: 1 });
    expect(channel.getState('n', 'k')).toBeNull();
    // The channel keeps working for everyone else afterwards.
    const after = await channel.append({ events: [ev('ok', 'after')] });
    expect(after.ranges[0].first).toBe(1);
  });

  it('MUST commit state writes atomically with the events and honour dedupe keys', async () => {
    const channel = openChannel();
    const first = await channel.append({ events: [ev('t', 'a')], dedupe: { namespace: 'chunks', key: 'c1' }, state: [{ namespace: 'pos', key: 'f', value: '10' }] });
    const again = await channel.append({ events: [ev('t', 'a')], dedupe: { namespace: 'chunks', key: 'c1' } });
    expect(first.duplicate).toBe(false);
    expect(again).toEqual({ duplicate: true, ranges: [] });
    expect(channel.topic('t')?.count).toBe(1);
    expect(channel.getState('pos', 'f')).toBe('10');
  });

  it('MUST bound a commit group by its window and by its size, whichever comes first', async () => {
    // Window: appends from different event-loop turns inside the window share one commit.
    const windowed = openChannel({ commitWindowMs: 500 });
    const a = windowed.append({ events: [ev('t', 'a')] });
    await new Promise((r) => setTimeout(r, 1));
    const b = windowed.append({ events: [ev('t', 'b')] });
    expect((await Promise.all([a, b])).map((r) => r.ranges[0].first)).toEqual([0, 1]);
    expect(windowed.stats().commits).toBe(1);
    // Size: with a window of an hour, maxCommitEvents pending events commit at once (or this times out).
    const sized = openChannel({ commitWindowMs: 3_600_000, maxCommitEvents: 10 });
    await sized.append({ events: Array.from({ length: 10 }, (_, i) => ev('t', `s${i}`)) });
    expect(sized.stats().commits).toBe(1);
    // close() commits what is still waiting for its window before it closes.
    const late = sized.append({ events: [ev('t', 'late')] });
    await sized.close();
    expect((await late).ranges[0]).toEqual({ topic: 't', first: 10, last: 10 });
  });

  it('writes the events of one commit group for one topic into shared record batches', async () => {
    const file = tempFile();
    const channel = openChannel({ file, maxBatchEvents: 100 });
    await Promise.all(Array.from({ length: 150 }, (_, i) => channel.append({ events: [ev('t', `e${i}`), ev('u', `u${i}`)] })));
    expect(channel.stats().commits).toBe(1);
    const raw = new Database(file, { readonly: true });
    const batches = raw.prepare('SELECT t.name, b.base_offset, b.count FROM batches b JOIN topics t ON t.id = b.topic_id ORDER BY t.name, b.base_offset').all();
    raw.close();
    expect(batches).toEqual([
      { name: 't', base_offset: 0, count: 100 },
      { name: 't', base_offset: 100, count: 50 },
      { name: 'u', base_offset: 0, count: 100 },
      { name: 'u', base_offset: 100, count: 50 },
    ]);
    expect(bodies(channel.read('u', 0, { maxEvents: 200 }))).toEqual(Array.from({ length: 150 }, (_, i) => `u${i}`));
  });

  it('rejects appends after close with a retriable error', async () => {
    const channel = openChannel();
    await channel.close();
    await expect(channel.append({ events: [ev('t', 'x')] })).rejects.toMatchObject({ code: ErrorCodes.CHANNEL_CLOSED });
  });
});

describe('pre-encoded record batches (batch forwarding)', () => {
  const strip = (events: { offset: number; ts: number; key: string | null; headers: Record<string, string>; body: Uint8Array }[]) =>
    events.map((e) => ({ offset: e.offset, ts: e.ts, key: e.key, headers: e.headers, body: fromUtf8(e.body) }));

  it('MUST store an encoded batch as one batch at the next offsets, in request order with events, and read it back exactly', async () => {
    const channel = openChannel();
    const drafts = [ev('t', 'b0', 5, { h: '1' }), { ...ev('t', 'b1', 7), key: 'k' }, ev('t', 'b2', 6)];
    const [checked] = checkBatches(encodeBatch(drafts).payload);
    const [r1, r2] = await Promise.all([
      channel.append({ events: [ev('t', 'e0'), ev('u', 'u0')] }),
      channel.append({ events: [], batches: [{ topic: 't', ...checked }, { topic: 'u', ...checked }] }),
    ]);
    expect(r1.ranges).toEqual([{ topic: 't', first: 0, last: 0 }, { topic: 'u', first: 0, last: 0 }]);
    expect(r2.ranges).toEqual([{ topic: 't', first: 1, last: 3 }, { topic: 'u', first: 1, last: 3 }]);
    expect(strip(channel.read('t', 0))).toEqual([
      { offset: 0, ts: 1000, key: null, headers: {}, body: 'e0' },
      { offset: 1, ts: 5, key: null, headers: { h: '1' }, body: 'b0' },
      { offset: 2, ts: 7, key: 'k', headers: {}, body: 'b1' },
      { offset: 3, ts: 6, key: null, headers: {}, body: 'b2' },
    ]);
    expect(channel.topic('t')).toMatchObject({ low: 0, high: 4, count: 4 });
    expect(channel.stats().appendedEvents).toBe(8);
  });

  it('MUST NOT store a duplicate: the dedupe key covers batches too', async () => {
    const channel = openChannel();
    const [checked] = checkBatches(encodeBatch([ev('t', 'x')]).payload);
    await channel.append({ events: [], batches: [{ topic: 't', ...checked }], dedupe: { namespace: 'n', key: 'c1' } });
    const again = await channel.append({ events: [], batches: [{ topic: 't', ...checked }], dedupe: { namespace: 'n', key: 'c1' } });
    expect(again.duplicate).toBe(true);
    expect(channel.topic('t')?.high).toBe(1);
  });

  it('readStored returns the stored batches undecoded, clipped to the read', async () => {
    const channel = openChannel({ maxBatchEvents: 4 });
    await channel.append({ events: Array.from({ length: 10 }, (_, i) => ev('t', `e${i}`)) });
    const read = channel.readStored('t', 2, { maxEvents: 5 });
    expect(read.map((b) => [b.baseOffset, b.lastOffset, b.first, b.last])).toEqual([
      [0, 3, 2, 3],
      [4, 7, 4, 6],
    ]);
    expect(checkBatches(read[0].payload)[0].count).toBe(4);
    expect(channel.readStored('t', 8).map((b) => [b.first, b.last])).toEqual([[8, 9]]);
    expect(channel.readStored('t', 10)).toEqual([]);
    expect(channel.readStored('t', 0, { maxBytes: 1 }).length).toBe(1);
  });
});

describe('capacity of one append', () => {
  it('refuses a single append larger than the whole channel for good', async () => {
    const channel = openChannel({ maxBytes: 1000 });
    await expect(channel.append({ events: [ev('t', 'z'.repeat(5000))] })).rejects.toMatchObject({ code: ErrorCodes.TOO_LARGE, retriable: false });
  });
});

describe('versioned storage', () => {
  it('MUST refuse a file written by a newer schema version with what to do', async () => {
    const file = tempFile();
    (await openChannel({ file }).close());
    const raw = new Database(file);
    raw.pragma('user_version = 99');
    raw.close();
    expect(() => Channel.open({ file })).toThrow(`newer Sluice (schema version 99; this build reads up to ${SCHEMA_VERSION}): upgrade Sluice`);
  });

  it('MUST refuse a file of an older schema version with what to do', async () => {
    const file = tempFile();
    (await openChannel({ file }).close());
    const raw = new Database(file);
    raw.pragma('user_version = 0');
    raw.close();
    expect(() => Channel.open({ file })).toThrow(`has schema version 0, which this build cannot read (it reads ${SCHEMA_VERSION}); export it with the Sluice version that wrote it`);
  });

  it('MUST refuse a SQLite file that is not a channel', () => {
    const file = tempFile();
    const raw = new Database(file);
    raw.exec('CREATE TABLE users (id INTEGER)');
    raw.close();
    expect(() => Channel.open({ file })).toThrow(/not a Sluice channel file/);
  });

  it('MUST refuse a record batch of an unknown format instead of misreading it', async () => {
    const file = tempFile();
    const channel = openChannel({ file });
    await channel.append({ events: [ev('t', 'x')] });
    const raw = new Database(file);
    raw.prepare('UPDATE batches SET format = 9').run();
    raw.close();
    expect(() => channel.read('t', 0)).toThrow(/has format 9, this build reads format 1/);
  });
});
