/**
 * Every admin read path over a channel with one damaged record batch (a CRC mismatch): the
 * damaged offsets answer 410 SLUICE_CHANNEL_CORRUPT naming the range, the offsets around them are
 * served, and health says degraded. Real collector, real channel file, damaged with a second
 * SQLite connection.
 */
import Database from 'better-sqlite3';
import { afterEach, expect, it } from 'vitest';
import { makeEvent } from '../../../shared/src/event.ts';
import { adminFixture, type AdminFixture } from './testing.ts';

const fixtures: AdminFixture[] = [];
afterEach(async () => {
  for (const f of fixtures.splice(0)) await f.close();
});

it('browse, search, consumer fetch and time seek answer 410 in a damaged range; pages stop at it and continue past it; the rest is served', async () => {
  const f = await adminFixture();
  fixtures.push(f);
  const channel = f.collector.channel;
  const T0 = Date.UTC(2026, 0, 1);
  for (let b = 0; b < 3; b++) {
    await channel.append({ events: Array.from({ length: 100 }, (_, i) => makeEvent('logs', `{"n":${b * 100 + i}}`, { ts: T0 + (b * 100 + i) * 1000 })) });
  }
  const raw = new Database(channel.file);
  raw.pragma('busy_timeout = 5000');
  raw.prepare(`UPDATE batches SET payload = CAST(X'00' || substr(payload, 2) AS BLOB) WHERE base_offset = 100`).run();
  raw.close();

  const get = async (url: string) => {
    const r = await f.app.inject({ url });
    return { status: r.statusCode, body: r.body, json: () => r.json() };
  };
  const damaged = (r: { status: number; json: () => { error: { code: string; message: string } } }, what: string) => {
    expect(r.status, what).toBe(410);
    expect(r.json().error.code, what).toBe('SLUICE_CHANNEL_CORRUPT');
    expect(r.json().error.message, what).toContain('topic "logs": offsets 100–199 are damaged');
  };
  damaged(await get('/api/v1/topics/logs/events?from=150&limit=10'), 'browse');
  damaged(await get(`/api/v1/topics/logs/events?time=${T0 + 150_000}&limit=10`), 'browse by time');
  damaged(await get('/api/v1/topics/logs/fetch?offset=120&max=10'), 'consumer fetch');
  damaged(await get(`/api/v1/topics/logs/events?from=100&jsonata=${encodeURIComponent('n > 1000')}`), 'search');
  // Around the damage everything is served.
  const before = await get('/api/v1/topics/logs/events?from=0&limit=500');
  expect(before.status).toBe(200);
  expect(before.json().events.map((e: { offset: number }) => e.offset)).toEqual(Array.from({ length: 100 }, (_, i) => i));
  // The page stops at the damage, says so, and its continuation goes on past it.
  expect(before.json()).toMatchObject({ stopped: 'damaged', next: 200 });
  expect(before.json().notes[0]).toMatch(/^stopped at damaged offsets 100–199, which cannot be read; next continues past them/);
  const backward = (await get('/api/v1/topics/logs/events?from=250&direction=backward&limit=200')).json();
  expect(backward).toMatchObject({ stopped: 'damaged', prev: 100 });
  expect(backward.events.map((e: { offset: number }) => e.offset)).toEqual(Array.from({ length: 50 }, (_, i) => 200 + i));
  const after = await get('/api/v1/topics/logs/fetch?offset=200&max=500');
  expect(after.status).toBe(200);
  expect(after.json().events).toHaveLength(100);
  const newest = await get('/api/v1/topics/logs/events?last=50');
  expect(newest.json().events.at(-1).offset).toBe(299);
  damaged(await get('/api/v1/topics/logs/export?format=ndjson&from=150&to=300'), 'export');
  const exported = await get('/api/v1/topics/logs/export?format=ndjson&from=200&to=300');
  expect(exported.status).toBe(200);
  expect(exported.body.trimEnd().split('\n')).toHaveLength(100);

  const health = (await get('/api/v1/health')).json();
  expect(health.status).toBe('degraded');
  expect(health.channel.integrity.damaged).toEqual([{ topic: 'logs', first: 100, last: 199, reason: 'crc mismatch' }]);
  expect(health.problems.some((p: string) => p.includes('offsets 100–199 are damaged'))).toBe(true);
  const metrics = (await get('/metrics')).body;
  expect(metrics).toMatch(/sluice_channel_damaged_ranges\{topic="logs"\} 1/);
});
