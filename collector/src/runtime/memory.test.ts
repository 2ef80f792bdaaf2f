import { afterEach, describe, expect, it } from 'vitest';
import { until } from '../../../test/helpers/process.ts';
import { startMemoryReducer } from './memory.ts';

let stop: (() => void) | null = null;
afterEach(() => {
  stop?.();
  stop = null;
});

/**
 * Makes `mb` megabytes of JS garbage that V8 keeps until a full collection: the arrays live through
 * the scavenges of the burst, so they are promoted, and are dropped before anything awaits.
 */
function burst(mb: number): number {
  const keep: number[][] = [];
  for (let i = 0; i < mb * 16; i++) keep.push(new Array<number>(8192).fill(i + 0.5));
  return keep.length;
}

describe('memory reducer', () => {
  it('after a burst, once the process is quiet, releases the caches and collects once: the RSS goes down', async () => {
    const reductions: { before: number; after: number }[] = [];
    let released = 0;
    const reduced = new Promise<void>((resolve) => {
      stop = startMemoryReducer({
        intervalMs: 100,
        quietCpuRatio: 0.5,
        growthBytes: 32 * 1024 * 1024,
        release: () => released++,
        onReduce: (before, after) => {
          reductions.push({ before, after });
          resolve();
        },
      });
    });
    expect(burst(96)).toBe(96 * 16);
    await reduced;
    expect(released).toBeGreaterThanOrEqual(1);
    // V8 hands the freed pages back in the background: the RSS goes down soon after.
    await until(() => process.memoryUsage.rss() < reductions[0].before - 32 * 1024 * 1024, { what: 'the RSS to go down after the reduction' });
    // Quiet and no new growth: one follow-up collection, then none.
    await until(() => reductions.length === 2, { what: 'the follow-up collection' });
    await new Promise((r) => setTimeout(r, 1000));
    expect(reductions).toHaveLength(2);
  });

  it('does nothing while the RSS has not grown', async () => {
    let released = 0;
    stop = startMemoryReducer({ intervalMs: 50, quietCpuRatio: 1, growthBytes: 1024 * 1024 * 1024, release: () => released++ });
    await new Promise((r) => setTimeout(r, 300));
    expect(released).toBe(0);
  });
});
