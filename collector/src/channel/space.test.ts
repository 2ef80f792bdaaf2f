/**
 * The channel's space on disk (docs/specs/channel.md "Disk space", "WAL"), through the channel on
 * real database files: space.ts behind the façade.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { makeEvent } from '../../../shared/src/event.ts';
import { ErrorCodes, SluiceError } from '../../../shared/src/errors.ts';
import type { ChannelOptions } from './channel.ts';
import { encodeBatch } from './format.ts';
import { channelFixture, ev, bodies } from './test-fixture.ts';

const { tempFile, openChannel } = channelFixture();

describe('disk space (min_free_space)', () => {
  const MiB = 1024 * 1024;
  /** A channel whose free-space probe reports `disk.free`: the channel and its file are real, the filesystem's answer is the test's. */
  function onDisk(free: number, options: Partial<ChannelOptions> = {}) {
    const disk = { free, t: 1_000_000 };
    const channel = openChannel({
      now: () => disk.t,
      minFreeSpace: 10 * MiB,
      freeSpaceProbe: () => ({ free: disk.free, total: 1000 * MiB }),
      defaults: { retentionMs: null },
      ...options,
    });
    channel.protect('sink:s', ['*']);
    return { channel, disk };
  }

  it('MUST refuse appends below min_free_space with a retryable CHANNEL_FULL that says why, and accept again once space returns', async () => {
    const { channel, disk } = onDisk(100 * MiB);
    await channel.append({ events: [ev('t', 'a')] });
    disk.free = 5 * MiB;
    disk.t += 1000;
    const refused = (await channel.append({ events: [ev('t', 'b')] }).catch((e: unknown) => e)) as SluiceError;
    expect(refused).toMatchObject({ code: ErrorCodes.CHANNEL_FULL, retriable: true, retryAfterMs: 1000 });
    expect(refused.message).toMatch(/5 MiB free on the filesystem of .*, below channel\.min_free_space \(10 MiB\); sinks keep delivering/);
    expect(channel.stats()).toMatchObject({ rejectedDisk: 1, rejectedFull: 0, disk: { full: true, freeBytes: 5 * MiB, requiredBytes: 10 * MiB, episodes: 1 } });
    expect(channel.topic('t')!.high).toBe(1); // nothing refused was stored
    // Sinks keep draining and sources keep their positions: cursor commits and state-only writes pass.
    channel.commit([{ consumer: 'sink:s', topic: 't', next: 1, protects: true }]);
    await channel.append({ events: [], state: [{ namespace: 'tail', key: 'f', value: '42' }] });
    expect(channel.getState('tail', 'f')).toBe('42');
    // A peer's pre-encoded record batches (forward from a Sluice edge) are events too: refused the same.
    const peer = { topic: 't', ...encodeBatch([ev('t', 'from an edge')], 0, 1) };
    await expect(channel.append({ events: [], batches: [peer] })).rejects.toMatchObject({ code: ErrorCodes.CHANNEL_FULL });
    expect(channel.topic('t')!.high).toBe(1);

    disk.free = 50 * MiB;
    disk.t += 1000;
    const r = await channel.append({ events: [ev('t', 'c')] });
    expect(r.ranges[0].first).toBe(1);
    expect(bodies(channel.read('t', 0))).toEqual(['a', 'c']);
    expect(channel.stats().disk).toMatchObject({ full: false, reason: null });
  });

  it('MUST make room by removing delivered events (their pages are reused) before refusing, never undelivered ones', async () => {
    const { channel, disk } = onDisk(100 * MiB, { maxBatchEvents: 100 });
    const body = () => randomBytes(1000);
    for (let i = 0; i < 30; i++) await channel.append({ events: Array.from({ length: 100 }, () => makeEvent('t', body())) });
    channel.commit([{ consumer: 'sink:s', topic: 't', next: 2000, protects: true }]); // 2,000 of 3,000 delivered
    disk.free = 9.5 * MiB; // short by 0.5 MiB; ~2 MB of delivered batches can go
    disk.t += 1000;
    const r = await channel.append({ events: [ev('t', 'after')] });
    expect(r.ranges[0].first).toBe(3000);
    const info = channel.topic('t')!;
    expect(info.low).toBeGreaterThan(0);
    expect(info.low).toBeLessThanOrEqual(2000);
    expect(channel.read('t', 2000)).toHaveLength(1000);

    // Nothing delivered is left to free: the next short disk refuses.
    channel.commit([{ consumer: 'sink:s', topic: 't', next: info.low, protects: true }]);
    disk.free = 1 * MiB;
    disk.t += 2000;
    await expect(channel.append({ events: [ev('t', 'refused')] })).rejects.toMatchObject({ code: ErrorCodes.CHANNEL_FULL });
    expect(channel.topic('t')!.low).toBe(info.low);
  });

  it('says so from the start when the disk is already short, and reports it once on `disk`', async () => {
    const { channel } = onDisk(5 * MiB);
    expect(channel.stats().disk).toMatchObject({ full: true, freeBytes: 5 * MiB });
    const reported: unknown[] = [];
    channel.onDisk((state) => reported.push(state));
    await expect(channel.append({ events: [ev('t', 'a')] })).rejects.toMatchObject({ code: ErrorCodes.CHANNEL_FULL });
    await expect(channel.append({ events: [ev('t', 'b')] })).rejects.toMatchObject({ code: ErrorCodes.CHANNEL_FULL });
    expect(reported).toEqual([expect.objectContaining({ full: true })]);
  });

  it('keeps a share of the filesystem with a ratio, and is off at 0', async () => {
    const ratio = onDisk(60 * MiB, { minFreeSpace: { ratio: 0.05 } }); // keeps 50 MiB of 1000
    expect(ratio.channel.stats().disk!.requiredBytes).toBe(50 * MiB);
    await ratio.channel.append({ events: [ev('t', 'a')] });
    ratio.disk.free = 40 * MiB;
    ratio.disk.t += 1000;
    await expect(ratio.channel.append({ events: [ev('t', 'b')] })).rejects.toMatchObject({ code: ErrorCodes.CHANNEL_FULL });
    const off = onDisk(0, { minFreeSpace: 0 });
    await off.channel.append({ events: [ev('t', 'a')] });
    expect(off.channel.stats().disk!.full).toBe(false);
  });
});

describe('WAL', () => {
  it('MUST keep the WAL bounded while a reader keeps reading through a long write run', async () => {
    const file = tempFile();
    const channel = openChannel({ file, checkpointBytes: 1024 * 1024, walMaxBytes: 4 * 1024 * 1024 });
    const reader = openChannel({ file, readonly: true });
    let readUpTo = 0;
    let maxWal = 0;
    const body = 'w'.repeat(500);
    for (let round = 0; round < 60; round++) {
      await channel.append({ events: Array.from({ length: 1000 }, () => ev('t', body)) });
      for (let e = reader.read('t', readUpTo, { maxEvents: 5000 }); e.length > 0; e = reader.read('t', readUpTo, { maxEvents: 5000 })) {
        readUpTo = e[e.length - 1].offset + 1;
      }
      maxWal = Math.max(maxWal, channel.walBytes());
      await new Promise((r) => setImmediate(r));
    }
    expect(readUpTo).toBe(60_000);
    // 60k × 500 B ≈ 30 MB went through the WAL; it never held more than its bound plus one commit.
    expect(maxWal).toBeLessThan(4 * 1024 * 1024 + 2 * 1024 * 1024);
  });
});
