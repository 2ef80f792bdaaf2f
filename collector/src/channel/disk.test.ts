/**
 * The free-space guard's rules (disk.ts) with a clock and a filesystem answer the test controls;
 * the channel's use of it, on real files, is in channel.test.ts › disk space, and a real full
 * filesystem in test/e2e/disk-full.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { DiskGuard, requiredFreeBytes } from './disk.ts';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

function guard(free: number, min: ConstructorParameters<typeof DiskGuard>[0]['min'], total = 10 * GiB) {
  const env = { free, total, t: 0, fail: false };
  const g = new DiskGuard({
    dir: '/data',
    min,
    now: () => env.t,
    probe: () => {
      if (env.fail) throw new Error('EACCES');
      return { free: env.free, total: env.total };
    },
  });
  return { g, env };
}

describe('DiskGuard', () => {
  it('auto keeps 256 MiB, but at most 10% of a small filesystem; a ratio or bytes as given', () => {
    expect(requiredFreeBytes('auto', 100 * GiB)).toBe(256 * MiB);
    expect(requiredFreeBytes('auto', 64 * MiB)).toBe(Math.floor(6.4 * MiB));
    expect(requiredFreeBytes({ ratio: 0.05 }, 100 * GiB)).toBe(5 * GiB);
    expect(requiredFreeBytes(123, 100 * GiB)).toBe(123);
  });

  it('refuses below the requirement, counting reusable pages as free, and says why', () => {
    const { g, env } = guard(300 * MiB, 'auto');
    expect(g.refuses(() => 0)).toBe(false);
    env.free = 200 * MiB;
    env.t += 1000;
    expect(g.refuses(() => 100 * MiB)).toBe(false); // 200 + 100 reusable ≥ 256
    expect(g.refuses(() => 0)).toBe(true);
    expect(g.state()).toMatchObject({ full: true, requiredBytes: 256 * MiB, episodes: 1, reason: '200 MiB free on the filesystem of /data, below channel.min_free_space (256 MiB)' });
    expect(g.shortfall()).toBe(56 * MiB);
  });

  it('probes again after the interval or after half the requirement was written, not before', () => {
    const { g, env } = guard(300 * MiB, 100 * MiB);
    expect(g.refuses(() => 0)).toBe(false);
    env.free = 10 * MiB;
    expect(g.refuses(() => 0)).toBe(false); // same instant, nothing written: the last probe stands
    g.wrote(50 * MiB);
    expect(g.refuses(() => 0)).toBe(true);
    env.free = 300 * MiB;
    env.t += 1000;
    expect(g.refuses(() => 0)).toBe(false);
  });

  it('after SQLITE_FULL refuses for at least the hold time, even if a probe shows room, then clears', () => {
    const { g, env } = guard(300 * MiB, 100 * MiB);
    g.sawSqliteFull('a commit');
    expect(g.state().reason).toMatch(/^the disk is full: a commit failed with SQLITE_FULL/);
    env.t += 500;
    expect(g.refuses(() => 0)).toBe(true);
    env.t += 600;
    expect(g.refuses(() => 0)).toBe(false);
    expect(g.state()).toMatchObject({ full: false, reason: null, since: null, episodes: 1 });
  });

  it('with the guard off (0) only SQLITE_FULL refuses, for the hold time', () => {
    const { g, env } = guard(0, 0);
    expect(g.refuses(() => 0)).toBe(false);
    g.sawSqliteFull('a checkpoint');
    expect(g.refuses(() => 0)).toBe(true);
    env.t += 1000;
    expect(g.refuses(() => 0)).toBe(false);
  });

  it('keeps the WAL free on top while a checkpoint is owed', () => {
    const { g, env } = guard(150 * MiB, 100 * MiB);
    g.owesCheckpoint(64 * MiB);
    env.t += 1000;
    expect(g.refuses(() => 0)).toBe(true);
    expect(g.state().requiredBytes).toBe(164 * MiB);
    g.checkpointed();
    expect(g.refuses(() => 0)).toBe(false);
  });

  it('while a checkpoint is owed, appends wait for it even with room — the guard off too', () => {
    for (const min of [0, 100 * MiB] as const) {
      const { g, env } = guard(0, min);
      g.owesCheckpoint(8 * MiB);
      g.sawSqliteFull('a checkpoint');
      env.free = 4 * GiB; // space came back: it goes to the checkpoint first
      env.t += 5000;
      expect(g.refuses(() => 0), `min ${min}`).toBe(true);
      expect(g.state().reason).toMatch(/a checkpoint failed with SQLITE_FULL/);
      expect(g.checkpointOwed).toBe(true);
      g.checkpointed();
      expect(g.checkpointOwed).toBe(false);
      expect(g.refuses(() => 0), `min ${min}`).toBe(false);
    }
  });

  it('a filesystem that cannot be asked is no reason to refuse', () => {
    const { g, env } = guard(300 * MiB, 100 * MiB);
    env.fail = true;
    env.t += 1000;
    expect(g.refuses(() => 0)).toBe(false);
    expect(g.state().reason).toBe('cannot check free space: EACCES');
  });
});
