/**
 * Replay through the admin API: dry-run plans, atomic application, what the sink then receives,
 * and refusals past retention.
 */
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { ReplayResponse } from '../../../shared/src/api/replay.ts';
import { makeEvent, type EventDraft } from '../../../shared/src/event.ts';
import { createLogger } from '../log.ts';
import { backdateArrival, adminFixture, deliveredTo, type AdminFixture } from './testing.ts';
import { scaled } from '../../../test/helpers/children.ts';

const fixtures: AdminFixture[] = [];
afterEach(async () => {
  for (const f of fixtures.splice(0)) await f.close();
});

const T0 = Date.UTC(2026, 0, 1);
const SINKS = 'sinks:\n  out:\n    type: memory\n    topics: [a, b]\n';

async function fixture(options: Parameters<typeof adminFixture>[0] = {}): Promise<AdminFixture> {
  const f = await adminFixture({ yaml: `sources:\n  mem:\n    type: memory\n${SINKS}`, ...options });
  fixtures.push(f);
  return f;
}

function events(topic: string, from: number, n: number, ts = (i: number) => T0 + i * 1000): EventDraft[] {
  return Array.from({ length: n }, (_, k) => makeEvent(topic, `e${from + k}`, { ts: ts(from + k) }));
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + scaled(10_000);
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function replay(f: AdminFixture, path: string, body: unknown): Promise<{ status: number; json: ReplayResponse & { error?: { code: string; message: string } } }> {
  const r = await f.app.inject({ method: 'POST', url: path, payload: body as object });
  return { status: r.statusCode, json: r.json() };
}

async function delivered(f: AdminFixture, n: number): Promise<void> {
  await until(() => deliveredTo('out').length >= n, `${n} deliveries`);
  await until(() => f.collector.sinks.get('out')!.status().lag === 0, 'the sink to commit');
}

describe('sink replay', () => {
  it('dry-run by default: shows current, target and counts per topic, and changes nothing', async () => {
    const f = await fixture();
    await f.collector.channel.append({ events: [...events('a', 0, 1000), ...events('b', 0, 500)] });
    await delivered(f, 1500);
    const { status, json } = await replay(f, '/api/v1/sinks/out/replay', { to: { offset: 400 } });
    expect(status).toBe(200);
    expect(json).toMatchObject({ consumer: 'sink:out', executed: false, redeliver: 600 + 100, skip: 0 });
    expect(json.topics).toEqual([
      { topic: 'a', current: 1000, from: 1000, target: 400, low: 0, high: 1000, redeliver: 600, skip: 0 },
      { topic: 'b', current: 500, from: 500, target: 400, low: 0, high: 500, redeliver: 100, skip: 0 },
    ]);
    await new Promise((r) => setTimeout(r, 100));
    expect(deliveredTo('out').length).toBe(1500);
    expect(f.collector.channel.getCursor('sink:out', 'a')).toBe(1000);
  });

  it('execute: moves every topic atomically, logs it, and the sink receives exactly what the dry-run said', async () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'info', destination: new Writable({ write: (chunk, _e, done) => (lines.push(String(chunk)), done()) }) });
    const f = await fixture({ log });
    await f.collector.channel.append({ events: [...events('a', 0, 1000), ...events('b', 0, 500)] });
    await delivered(f, 1500);
    const plan = (await replay(f, '/api/v1/sinks/out/replay', { to: { time: new Date(T0 + 300_000).toISOString() } })).json;
    expect(plan.topics.map((t) => [t.topic, t.target, t.redeliver])).toEqual([
      ['a', 300, 700],
      ['b', 300, 200],
    ]);
    deliveredTo('out').length = 0;
    const applied = await replay(f, '/api/v1/sinks/out/replay', { to: { time: T0 + 300_000 }, execute: true });
    expect(applied.status).toBe(200);
    expect(applied.json).toMatchObject({ executed: true, redeliver: plan.redeliver });
    await delivered(f, plan.redeliver);
    expect(lines.map((l) => JSON.parse(l).msg)).toContain('replay applied to sink:out: a 1000→300, b 500→300');
    const got = deliveredTo('out');
    expect(got.length).toBe(plan.redeliver);
    expect(got.filter((e) => e.topic === 'a').map((e) => e.offset)).toEqual(Array.from({ length: 700 }, (_, i) => 300 + i));
    expect(got.filter((e) => e.topic === 'b').map((e) => e.offset)).toEqual(Array.from({ length: 200 }, (_, i) => 300 + i));
  });

  it('earliest, latest, shift ±N; a topic subset; forward moves count skipped events', async () => {
    const f = await fixture();
    await f.collector.channel.append({ events: [...events('a', 0, 100), ...events('b', 0, 100)] });
    await delivered(f, 200);
    const plan = async (to: object, topics?: string[]) => (await replay(f, '/api/v1/sinks/out/replay', { to, ...(topics ? { topics } : {}) })).json.topics;
    expect((await plan({ earliest: true }, ['a']))).toMatchObject([{ topic: 'a', target: 0, redeliver: 100 }]);
    expect((await plan({ shift: -30 }, ['b']))).toMatchObject([{ topic: 'b', target: 70, redeliver: 30 }]);
    await replay(f, '/api/v1/sinks/out/replay', { to: { offset: 50 }, topics: ['a'], execute: true });
    // Stop the sink from catching up, to plan forward moves from 50.
    await f.collector.sinks.get('out')!.stop();
    f.collector.channel.commit([{ consumer: 'sink:out', topic: 'a', next: 50, protects: true }]);
    expect((await plan({ latest: true }, ['a']))).toMatchObject([{ current: 50, target: 100, redeliver: 0, skip: 50 }]);
    expect((await plan({ shift: 20 }, ['a']))).toMatchObject([{ target: 70, skip: 20 }]);
    const clamped = (await plan({ shift: 500 }, ['a']))[0];
    expect(clamped).toMatchObject({ target: 100, skip: 50 });
    expect(clamped.note).toBe('shift 500 from 50 stops at the end (offset 100)');
    const start = (await plan({ shift: -500 }, ['a']))[0];
    expect(start).toMatchObject({ target: 0, redeliver: 50 });
    expect(start.note).toMatch(/stops at the topic's first event/);
    // A time before the first event of a topic that never lost one: its beginning.
    expect((await plan({ time: T0 - 1e6 }, ['a']))).toMatchObject([{ target: 0 }]);
  });

  it('refuses targets older than what retention kept, and says what is possible', async () => {
    const f = await fixture({ channel: '  retention:\n    max_age: 1h' });
    const channel = f.collector.channel;
    // 100 old events (January) and 20 fresh ones, in separate record batches; after delivery,
    // retention removes the old batch.
    await channel.append({ events: events('a', 0, 100) });
    await channel.append({ events: events('a', 100, 20, () => Date.now()) });
    await delivered(f, 120);
    backdateArrival(channel.file, 'a', 100, 2 * 3600_000); // retention counts from arrival: these came 2 h ago
    channel.runRetention();
    expect(channel.topic('a')!.low).toBe(100);
    const refused = async (to: object, message: RegExp) => {
      const r = await replay(f, '/api/v1/sinks/out/replay', { to, topics: ['a'], execute: true });
      expect(r.status, JSON.stringify(to)).toBe(400);
      expect(r.json.error!.code).toBe('SLUICE_OFFSET_OUT_OF_RANGE');
      expect(r.json.error!.message).toMatch(message);
    };
    await refused({ offset: 50 }, /offset 50 is older than what retention kept \(earliest is 100\); use earliest/);
    await refused({ time: T0 }, /2026-01-01T00:00:00.000Z is older than what retention kept \(the oldest kept event, offset 100, is from/);
    await refused({ shift: -21 }, /shifting -21 from 120 lands at 99, older than what retention kept \(earliest is 100\); at most 20 events can be replayed/);
    await refused({ offset: 121 }, /offset 121 is beyond the end \(high watermark 120\)/);
    expect(channel.getCursor('sink:out', 'a')).toBe(120);
    const ok = await replay(f, '/api/v1/sinks/out/replay', { to: { earliest: true }, topics: ['a'] });
    expect(ok.json.topics[0]).toMatchObject({ target: 100, redeliver: 20 });
  });

  it('bad requests: unknown sink, topic not delivered by the sink, two targets, unknown keys', async () => {
    const f = await fixture();
    await f.collector.channel.append({ events: [...events('a', 0, 5), ...events('c', 0, 5)] });
    const cases: [string, unknown, number, RegExp][] = [
      ['/api/v1/sinks/nope/replay', { to: { earliest: true } }, 404, /sink "nope" does not exist/],
      ['/api/v1/sinks/out/replay', { to: { earliest: true }, topics: ['c'] }, 400, /sink "out" does not deliver topic "c"/],
      ['/api/v1/sinks/out/replay', { to: { earliest: true }, topics: ['zz'] }, 404, /topic "zz" does not exist/],
      ['/api/v1/sinks/out/replay', { to: { earliest: true, latest: true } }, 400, /to/],
      ['/api/v1/sinks/out/replay', { to: {} }, 400, /to/],
      ['/api/v1/sinks/out/replay', { to: { earliest: true }, exectue: true }, 400, /unknown key in the request body: exectue/],
      ['/api/v1/sinks/out/replay', { to: { offset: -1 } }, 400, /offset/],
    ];
    for (const [url, body, status, message] of cases) {
      const r = await replay(f, url, body);
      expect(r.status, JSON.stringify(body)).toBe(status);
      expect(r.json.error!.message).toMatch(message);
    }
  });
});

describe('consumer group replay', () => {
  it('sets and moves group:<name> cursors, which do not protect from retention', async () => {
    const f = await fixture();
    const channel = f.collector.channel;
    await channel.append({ events: events('a', 0, 50) });
    const none = await replay(f, '/api/v1/groups/analytics/replay', { to: { earliest: true } });
    expect(none.status).toBe(404);
    expect(none.json.error).toMatchObject({ code: 'SLUICE_CURSOR_NOT_FOUND' });
    const set = await replay(f, '/api/v1/groups/analytics/replay', { to: { offset: 10 }, topics: ['a'], execute: true });
    expect(set.json.topics[0]).toMatchObject({ current: null, from: 0, target: 10, skip: 10 });
    expect(channel.cursors('group:analytics')).toMatchObject([{ topic: 'a', next: 10, protects: false }]);
    const back = await replay(f, '/api/v1/groups/analytics/replay', { to: { shift: -5 } });
    expect(back.json.topics[0]).toMatchObject({ current: 10, target: 5, redeliver: 5 });
  });

  it('an inspection (read-only) plans but does not apply', async () => {
    const f = await fixture();
    await f.collector.channel.append({ events: events('a', 0, 5) });
    const ro = await adminFixture({ inspect: true, channelDir: `${f.dir}/data`, yaml: '' });
    fixtures.push(ro);
    const r = await replay(ro, '/api/v1/groups/g/replay', { to: { earliest: true }, topics: ['a'], execute: true });
    expect(r.status).toBe(400);
    expect(r.json.error!.message).toMatch(/read-only inspection/);
    const plan = await replay(ro, '/api/v1/groups/g/replay', { to: { earliest: true }, topics: ['a'] });
    expect(plan.status).toBe(200);
  });
});
