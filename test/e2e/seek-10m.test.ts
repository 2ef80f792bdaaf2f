/**
 * Jumping to an offset and to a timestamp on a 10,000,000-event topic, through the admin API,
 * checked at the edges: the first event, the last, between two events sharing a timestamp,
 * between two timestamps, before the first, beyond the end. The file is built once through the
 * Channel (test/helpers/big-topic.ts) and reused by later runs; its build time is logged.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowseResponse } from '../../shared/src/api/events.ts';
import { adminFixture, type AdminFixture } from '../../collector/src/admin/testing.ts';
import { BIG_EVENTS, BIG_T0, BIG_TOPIC, bigTopic, bigTs } from '../helpers/big-topic.ts';
import { scaled } from '../helpers/children.ts';

let f: AdminFixture;
const N = BIG_EVENTS;
const LAST = N - 1;

beforeAll(async () => {
  const big = await bigTopic();
  console.log(big.buildMs === null ? `10M-event topic reused from ${big.file}` : `10M-event topic built in ${(big.buildMs / 1000).toFixed(1)} s (${big.file})`);
  f = await adminFixture({ inspect: true, channelDir: big.dir, yaml: '' });
}, scaled(240_000));

afterAll(async () => {
  await f?.close();
});

async function page(query: string): Promise<BrowseResponse> {
  const r = await f.app.inject({ url: `/api/v1/topics/${BIG_TOPIC}/events?${query}` });
  expect(r.statusCode, r.body).toBe(200);
  return r.json() as BrowseResponse;
}

function summary(p: BrowseResponse): [number, string, number][] {
  return p.events.map((e) => [e.offset, e.body as string, e.ts]);
}

describe(`a ${N.toLocaleString('en-US')}-event topic`, () => {
  it('jumps to an offset: first, middle, last, the end, beyond the end', async () => {
    expect((await page('limit=1')).low).toBe(0);
    expect(summary(await page('from=0&limit=3'))).toEqual([
      [0, '0', BIG_T0],
      [1, '1', BIG_T0],
      [2, '2', BIG_T0 + 2],
    ]);
    const middle = await page('from=5000000&limit=2');
    expect(summary(middle)).toEqual([
      [5_000_000, '5000000', bigTs(5_000_000)],
      [5_000_001, '5000001', bigTs(5_000_001)],
    ]);
    expect(middle).toMatchObject({ next: 5_000_002, prev: 5_000_000, stopped: 'limit', high: N });
    expect(summary(await page('from=5000000&direction=backward&limit=2')).map((e) => e[0])).toEqual([4_999_998, 4_999_999]);
    const last = await page(`from=${LAST}&limit=10`);
    expect(summary(last)).toEqual([[LAST, String(LAST), bigTs(LAST)]]);
    expect(last).toMatchObject({ stopped: 'end', next: N });
    expect(summary(await page('last=2')).map((e) => e[0])).toEqual([LAST - 1, LAST]);
    expect(await page(`from=${N}`)).toMatchObject({ events: [], scanned: 0, stopped: 'end', next: N });
    const beyond = await f.app.inject({ url: `/api/v1/topics/${BIG_TOPIC}/events?from=${N + 1}` });
    expect(beyond.statusCode).toBe(400);
    expect(beyond.json().error.message).toBe(`topic "big": offset ${N + 1} is beyond the end (high watermark ${N})`);
  });

  it('jumps to a timestamp: the first event at or after it, at every edge', async () => {
    const at = async (ts: number | string) => summary(await page(`time=${ts}&limit=1`))[0]?.[0] ?? null;
    expect(await at(BIG_T0 - 60_000)).toBe(0); // before the first event
    expect(await at(BIG_T0)).toBe(0); // the first event (shares its ts with offset 1)
    expect(await at(new Date(BIG_T0).toISOString())).toBe(0);
    expect(await at(BIG_T0 + 1)).toBe(2); // between two timestamps
    expect(await at(bigTs(4_000_001))).toBe(4_000_000); // two events with the same ts: the first of them
    expect(await at(bigTs(4_000_000) + 1)).toBe(4_000_002);
    expect(await at(bigTs(LAST))).toBe(LAST - 1); // the last pair
    const beyond = await page(`time=${bigTs(LAST) + 1}`); // after the last event
    expect(beyond).toMatchObject({ events: [], stopped: 'end', next: N });
    expect(beyond.notes[0]).toMatch(/no event at or after/);
    // Backward from a time: what came just before it.
    expect(summary(await page(`time=${bigTs(6_000_000)}&direction=backward&limit=2`)).map((e) => e[0])).toEqual([5_999_998, 5_999_999]);
  });

  it('agrees with arithmetic at random offsets and times, in milliseconds', async () => {
    let seed = 42;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const offsetMs: number[] = [];
    const timeMs: number[] = [];
    for (let i = 0; i < 25; i++) {
      const o = Math.floor(rand() * N);
      let t0 = performance.now();
      expect(summary(await page(`from=${o}&limit=1`))[0]).toEqual([o, String(o), bigTs(o)]);
      offsetMs.push(performance.now() - t0);
      const ts = bigTs(o) + (i % 2);
      const want = ts % 2 === 0 ? o - (o % 2) : o - (o % 2) + 2;
      t0 = performance.now();
      expect(summary(await page(`time=${ts}&limit=1`))[0]?.[0]).toBe(want);
      timeMs.push(performance.now() - t0);
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    console.log(`seek on 10M events through the API (inject): offset median ${median(offsetMs).toFixed(2)} ms, time median ${median(timeMs).toFixed(2)} ms`);
  });
});
