/**
 * Cursors and state (docs/specs/channel.md "Cursors"), through the channel on real database
 * files: cursors.ts behind the façade.
 */
import { describe, expect, it } from 'vitest';
import { SluiceError } from '../../../shared/src/errors.ts';
import { channelFixture, ev } from './test-fixture.ts';

const { tempFile, openChannel } = channelFixture();

describe('cursors', () => {
  it('MUST persist cursors with state atomically and move them by every position kind', async () => {
    const file = tempFile();
    let channel = openChannel({ file });
    await channel.append({ events: Array.from({ length: 10 }, (_, i) => ev('t', `e${i}`, 100 + i * 10)) });
    channel.commit([{ consumer: 'sink:a', topic: 't', next: 4, protects: true }], [{ namespace: 'x', key: 'y', value: 'z' }]);
    await channel.close();
    channel = openChannel({ file });
    expect(channel.getCursor('sink:a', 't')).toBe(4);
    expect(channel.getState('x', 'y')).toBe('z');

    const dry = channel.moveCursors([{ consumer: 'sink:a', topic: 't', spec: { earliest: true } }], true);
    expect(dry[0]).toMatchObject({ current: 4, target: 0, redeliver: 4, skip: 0 });
    expect(channel.getCursor('sink:a', 't')).toBe(4); // dry-run changed nothing

    expect(channel.moveCursors([{ consumer: 'sink:a', topic: 't', spec: { latest: true } }], false)[0]).toMatchObject({ target: 10, skip: 6 });
    expect(channel.moveCursors([{ consumer: 'sink:a', topic: 't', spec: { shift: -3 } }], false)[0]).toMatchObject({ target: 7, redeliver: 3 });
    expect(channel.moveCursors([{ consumer: 'sink:a', topic: 't', spec: { time: 125 } }], false)[0].target).toBe(3);
    expect(channel.moveCursors([{ consumer: 'sink:a', topic: 't', spec: { offset: 6 } }], false)[0].target).toBe(6);
    expect(channel.moveCursors([{ consumer: 'sink:a', topic: 't', spec: { shift: -100 } }], false)[0].target).toBe(0);
    expect(channel.getCursor('sink:a', 't')).toBe(0);
    expect(channel.cursors('sink:a')[0]).toMatchObject({ protects: true });
  });

  it('MUST refuse offsets beyond the end or older than retention kept', async () => {
    let now = 10_000;
    const channel = openChannel({ now: () => now, defaults: { retentionMs: 1000 } });
    await channel.append({ events: [ev('t', 'old', 1), ev('t', 'old', 1)] });
    now += 5000; // retention counts from arrival: the first two arrived 5 s ago
    await channel.append({ events: [ev('t', 'new', now)] });
    channel.runRetention();
    expect(channel.topic('t')).toMatchObject({ low: 2, high: 3 });
    expect(() => channel.moveCursors([{ consumer: 'c', topic: 't', spec: { offset: 1 } }], true)).toThrow(/older than what retention kept \(earliest is 2\)/);
    expect(() => channel.moveCursors([{ consumer: 'c', topic: 't', spec: { offset: 9 } }], true)).toThrow(/beyond the end/);
    expect(() => channel.commit([{ consumer: 'c', topic: 't', next: 4 }])).toThrow(SluiceError);
  });
});

describe('protection from retention', () => {
  it('a protector holds a topic back before its consumer has a cursor, and lets go once withdrawn', async () => {
    let now = 1_000;
    const channel = openChannel({ now: () => now, defaults: { retentionMs: 1_000 } });
    // One commit each, so one record batch each (retention removes whole batches).
    for (const body of ['a', 'b', 'c']) await channel.append({ events: [ev('t', body)] });
    now = 10_000;
    const withdraw = channel.protect('sink:a', ['t*']);
    channel.runRetention();
    expect(channel.topic('t')!.low).toBe(0);
    // A cursor made now protects by default, since its consumer declared the topic protected.
    channel.moveCursors([{ consumer: 'sink:a', topic: 't', spec: { offset: 2 } }], false);
    expect(channel.cursors('sink:a')).toEqual([expect.objectContaining({ topic: 't', next: 2, protects: true })]);
    withdraw();
    channel.runRetention();
    expect(channel.topic('t')!.low).toBe(2);
  });

  it('state writes and deletes, listed by namespace; pruning removes what was not updated since', async () => {
    let now = 1_000;
    const channel = openChannel({ now: () => now });
    channel.putState([{ namespace: 'tail', key: '/a', value: '10' }, { namespace: 'tail', key: '/b', value: '20' }]);
    now = 2_000;
    channel.putState([{ namespace: 'tail', key: '/b', value: '21' }, { namespace: 'other', key: 'x', value: '1' }]);
    expect(channel.listState('tail')).toEqual([
      { key: '/a', value: '10', updatedAt: 1_000 },
      { key: '/b', value: '21', updatedAt: 2_000 },
    ]);
    expect(channel.pruneState('tail', 1_500)).toBe(1);
    channel.putState([{ namespace: 'tail', key: '/b', value: null }]);
    expect(channel.getState('tail', '/b')).toBeNull();
    expect(channel.getState('other', 'x')).toBe('1');
  });
});
