/**
 * The consumer API through inject(): fetch by offset and as a group (reset policies, long-poll,
 * commit=true), atomic commits, group listing with lag, delete, produce, and retention (groups do
 * not hold it back).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { FetchResponse, Group, GroupsResponse, ProduceResponse } from '../../../shared/src/api/consumers.ts';
import { makeEvent, type EventDraft } from '../../../shared/src/event.ts';
import { generateOpenApi } from './openapi-doc.ts';
import { backdateArrival, adminFixture, type AdminFixture } from './testing.ts';

const fixtures: AdminFixture[] = [];
afterEach(async () => {
  for (const f of fixtures.splice(0)) await f.close();
});

async function fixture(options: Parameters<typeof adminFixture>[0] = {}): Promise<AdminFixture> {
  const f = await adminFixture(options);
  fixtures.push(f);
  return f;
}

const T0 = Date.UTC(2026, 0, 1);

function events(topic: string, from: number, n: number, ts = (i: number) => T0 + i * 1000): EventDraft[] {
  return Array.from({ length: n }, (_, k) => makeEvent(topic, JSON.stringify({ n: from + k }), { ts: ts(from + k), headers: { 'content-type': 'application/json' } }));
}

interface Answer<T> {
  status: number;
  json: T & { error?: { code: string; message: string } };
}

async function call<T>(f: AdminFixture, method: 'GET' | 'POST' | 'DELETE', url: string, payload?: unknown): Promise<Answer<T>> {
  const r = await f.app.inject({ method, url, ...(payload === undefined ? {} : { payload: payload as object }) });
  return { status: r.statusCode, json: r.json() };
}

const fetchAs = (f: AdminFixture, topic: string, query: string) => call<FetchResponse>(f, 'GET', `/api/v1/topics/${topic}/fetch?${query}`);
const offsets = (a: FetchResponse) => a.events.map((e) => e.offset);

describe('fetch', () => {
  it('a new group starts at the earliest offset (default reset), reads max events, and says where to continue', async () => {
    const f = await fixture();
    await f.collector.channel.append({ events: events('web', 0, 25) });
    const a = await fetchAs(f, 'web', 'group=g1&max=10');
    expect(a.status).toBe(200);
    expect(a.json).toMatchObject({ topic: 'web', group: 'g1', exists: true, offset: 0, next: 10, low: 0, high: 25, lag: 15, committed: null, notes: [] });
    expect(offsets(a.json)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // the admin API's event shape (present.ts), decoded body and raw bytes
    expect(a.json.events[3]).toMatchObject({ offset: 3, ts: T0 + 3000, key: null, contentType: 'application/json', bodyEncoding: 'json', body: { n: 3 } });
    expect(Buffer.from(a.json.events[3].raw!, 'base64').toString()).toBe('{"n":3}');
    // Without a commit, the group still starts at the beginning.
    expect((await fetchAs(f, 'web', 'group=g1&max=3')).json.offset).toBe(0);
    expect((await fetchAs(f, 'web', 'group=g1&reset=latest')).json).toMatchObject({ offset: 25, next: 25, events: [] });
    const none = await fetchAs(f, 'web', 'group=g1&reset=none');
    expect(none.status).toBe(404);
    expect(none.json.error).toMatchObject({ code: 'SLUICE_CURSOR_NOT_FOUND', message: expect.stringMatching(/consumer group "g1" has no committed offset for topic "web" and reset=none/) });
    expect((await fetchAs(f, 'web', 'raw=false&offset=24')).json.events[0].raw).toBeUndefined();
  });

  it('commit=true acknowledges the start offset: a loop of offset=<next>&commit=true reads every event once, and the group resumes from its commit', async () => {
    const f = await fixture();
    await f.collector.channel.append({ events: events('web', 0, 100) });
    const seen: number[] = [];
    let next: number | undefined;
    for (let i = 0; i < 3; i++) {
      const a = (await fetchAs(f, 'web', `group=g&max=30&commit=true${next === undefined ? '' : `&offset=${next}`}`)).json;
      // commits what the previous answer returned, not this one
      expect(a.committed).toBe(next ?? 0);
      seen.push(...offsets(a));
      next = a.next;
    }
    expect(seen).toEqual(Array.from({ length: 90 }, (_, i) => i));
    const g = (await call<Group>(f, 'GET', '/api/v1/groups/g')).json;
    expect(g).toMatchObject({ name: 'g', lag: 40, topics: [{ topic: 'web', committed: 60, low: 0, high: 100, lag: 40, lost: 0 }] });
    // A consumer that restarts without a position continues from the commit: 60..89 again (at-least-once).
    const again = (await fetchAs(f, 'web', 'group=g&max=30')).json;
    expect(again.offset).toBe(60);
    expect(offsets(again)[0]).toBe(60);
    // commit=true needs a group; a read-only inspection refuses it
    expect((await fetchAs(f, 'web', 'commit=true')).status).toBe(400);
  });

  it('positions: offset, time, last; one at most; an offset beyond the end is refused', async () => {
    const f = await fixture();
    await f.collector.channel.append({ events: events('web', 0, 50) });
    expect((await fetchAs(f, 'web', 'offset=40&max=2')).json).toMatchObject({ group: null, offset: 40, next: 42, committed: null });
    expect((await fetchAs(f, 'web', `time=${new Date(T0 + 20_500).toISOString()}&max=1`)).json).toMatchObject({ offset: 21, next: 22 });
    expect((await fetchAs(f, 'web', 'last=5')).json).toMatchObject({ offset: 45, next: 50, lag: 0 });
    expect((await fetchAs(f, 'web', 'last=500')).json).toMatchObject({ offset: 0 });
    const beyond = await fetchAs(f, 'web', 'offset=51');
    expect(beyond.status).toBe(400);
    expect(beyond.json.error).toMatchObject({ code: 'SLUICE_OFFSET_OUT_OF_RANGE', message: 'topic "web": offset 51 is beyond the end (high watermark 50)' });
    expect((await fetchAs(f, 'web', 'offset=1&last=2')).json.error!.message).toBe('give one of offset, time, last (got offset and last)');
    expect((await fetchAs(f, 'web', 'offest=1')).json.error!.message).toMatch(/unknown query parameter "offest"/);
    expect((await fetchAs(f, 'web', 'wait=30001')).status).toBe(400);
    expect((await fetchAs(f, 'we$b', 'offset=0')).json.error!.code).toBe('SLUICE_TOPIC_INVALID');
    expect((await fetchAs(f, 'web', 'group=a%20b')).status).toBe(400);
  });

  it('maxBytes bounds an answer, but an answer holds at least one event', async () => {
    const f = await fixture();
    const big = 'x'.repeat(10_000);
    await f.collector.channel.appendEvents('web', Array.from({ length: 5 }, () => makeEvent('web', big)));
    expect(offsets((await fetchAs(f, 'web', 'offset=0&maxBytes=1')).json)).toEqual([0]);
    expect(offsets((await fetchAs(f, 'web', 'offset=0&maxBytes=25000')).json)).toEqual([0, 1, 2]);
  });

  it('long-poll: answers as soon as an event is committed, also on a topic that does not exist yet; times out empty', async () => {
    const f = await fixture();
    const t0 = Date.now();
    const empty = (await fetchAs(f, 'later', 'group=g&wait=200')).json;
    expect(Date.now() - t0).toBeGreaterThanOrEqual(190);
    expect(empty).toMatchObject({ exists: false, offset: 0, next: 0, high: 0, events: [] });

    const started = Date.now();
    const pending = fetchAs(f, 'later', 'group=g&wait=20000');
    await new Promise((r) => setTimeout(r, 150));
    const appendedAt = Date.now();
    await f.collector.channel.append({ events: events('later', 0, 3) });
    const a = (await pending).json;
    const answeredAt = Date.now();
    expect(a).toMatchObject({ exists: true, offset: 0, next: 3, high: 3 });
    // Answered because of the append, not because the 20 s wait ran out (no tighter timing: shared machines).
    expect(answeredAt - started).toBeLessThan(15_000);
    expect(answeredAt).toBeGreaterThanOrEqual(appendedAt);

    // waiting at the end of an existing topic
    const tail = fetchAs(f, 'later', 'offset=3&wait=20000');
    setTimeout(() => void f.collector.channel.append({ events: events('later', 3, 1) }), 100);
    expect(offsets((await tail).json)).toEqual([3]);
  });

  it('closing the app ends a waiting long-poll at once', async () => {
    const f = await adminFixture();
    const pending = f.app.inject({ method: 'GET', url: '/api/v1/topics/web/fetch?wait=30000' });
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    await f.close();
    const r = await pending;
    expect(Date.now() - t0).toBeLessThan(29_000); // the 30 s wait did not run out (any load: nothing else bounds it)
    expect(r.json()).toMatchObject({ events: [] });
  });
});

describe('groups', () => {
  it('two groups at different paces: committed offset, high watermark and lag for each', async () => {
    const f = await fixture();
    await f.collector.channel.append({ events: [...events('web', 0, 100), ...events('api', 0, 40)] });
    expect((await call<GroupsResponse>(f, 'GET', '/api/v1/groups')).json).toEqual({ groups: [] });
    expect((await call<Group>(f, 'POST', '/api/v1/groups/fast/commit', { offsets: [{ topic: 'web', offset: 90 }, { topic: 'api', offset: 40 }] })).status).toBe(200);
    const slow = await call<Group>(f, 'POST', '/api/v1/groups/slow/commit', { offsets: [{ topic: 'web', offset: 10 }] });
    expect(slow.json).toMatchObject({ name: 'slow', lag: 90, topics: [{ topic: 'web', committed: 10, high: 100, lag: 90 }] });
    await f.collector.channel.append({ events: events('web', 100, 5) });
    const { groups } = (await call<GroupsResponse>(f, 'GET', '/api/v1/groups')).json;
    expect(groups.map((g) => [g.name, g.lag, g.topics.map((t) => [t.topic, t.committed, t.high, t.lag])])).toEqual([
      ['fast', 15, [['api', 40, 40, 0], ['web', 90, 105, 15]]],
      ['slow', 95, [['web', 10, 105, 95]]],
    ]);
    // sinks' cursors are not groups; the topic detail shows the group cursors too, with the same lag
    const detail = (await call<{ cursors: { consumer: string; lag: number; protects: boolean }[] }>(f, 'GET', '/api/v1/topics/web')).json;
    expect(detail.cursors).toEqual(expect.arrayContaining([expect.objectContaining({ consumer: 'group:slow', lag: 95, protects: false })]));
  });

  it('a commit over several topics is atomic: a refused offset or an unknown topic commits nothing', async () => {
    const f = await fixture();
    await f.collector.channel.append({ events: [...events('a', 0, 10), ...events('b', 0, 10)] });
    await call(f, 'POST', '/api/v1/groups/g/commit', { offsets: [{ topic: 'a', offset: 1 }, { topic: 'b', offset: 1 }] });
    const cases: [unknown, number, string, RegExp][] = [
      [{ offsets: [{ topic: 'a', offset: 5 }, { topic: 'b', offset: 11 }] }, 400, 'SLUICE_OFFSET_OUT_OF_RANGE', /topic "b": offset 11 is beyond the end \(high watermark 10\); nothing was committed/],
      [{ offsets: [{ topic: 'a', offset: 5 }, { topic: 'zz', offset: 0 }] }, 404, 'SLUICE_TOPIC_NOT_FOUND', /topic "zz" does not exist/],
      [{ offsets: [{ topic: 'a', offset: 5 }, { topic: 'a', offset: 6 }] }, 400, 'SLUICE_BAD_INPUT', /topic "a" is given twice/],
      [{ offsets: [{ topic: 'a', offset: -1 }] }, 400, 'SLUICE_BAD_INPUT', /offset/],
      [{ offsets: [] }, 400, 'SLUICE_BAD_INPUT', /offsets/],
      [{ offsets: [{ topic: 'a', offset: 5, partition: 0 }] }, 400, 'SLUICE_BAD_INPUT', /unknown key in the request body: offsets\[0\]\.partition/],
    ];
    for (const [body, status, code, message] of cases) {
      const r = await call(f, 'POST', '/api/v1/groups/g/commit', body);
      expect(r.status, JSON.stringify(body)).toBe(status);
      expect(r.json.error).toMatchObject({ code, message: expect.stringMatching(message) });
    }
    expect(f.collector.channel.cursors('group:g').map((c) => [c.topic, c.next])).toEqual([['a', 1], ['b', 1]]);
    expect(f.collector.channel.topic('zz')).toBeUndefined();
    const ok = await call<Group>(f, 'POST', '/api/v1/groups/g/commit', { offsets: [{ topic: 'a', offset: 10 }, { topic: 'b', offset: 7 }] });
    expect(ok.json.topics.map((t) => [t.topic, t.committed, t.lag])).toEqual([['a', 10, 0], ['b', 7, 3]]);
  });

  it('describe and delete: all offsets or some topics; unknown groups are 404; the group then starts over per reset', async () => {
    const f = await fixture();
    await f.collector.channel.append({ events: [...events('a', 0, 10), ...events('b', 0, 10)] });
    expect((await call(f, 'GET', '/api/v1/groups/nope')).json.error).toMatchObject({ code: 'SLUICE_CURSOR_NOT_FOUND', message: 'consumer group "nope" has no committed offsets on this collector' });
    expect((await call(f, 'DELETE', '/api/v1/groups/nope')).status).toBe(404);
    await call(f, 'POST', '/api/v1/groups/g/commit', { offsets: [{ topic: 'a', offset: 4 }, { topic: 'b', offset: 6 }] });
    expect((await call(f, 'DELETE', '/api/v1/groups/g?topic=c')).json.error!.message).toBe('consumer group "g" has no offset for topic "c"');
    expect((await call(f, 'DELETE', '/api/v1/groups/g?topic=a')).json).toEqual({ group: 'g', deleted: [{ topic: 'a', committed: 4 }] });
    expect((await call<Group>(f, 'GET', '/api/v1/groups/g')).json.topics.map((t) => t.topic)).toEqual(['b']);
    expect((await call(f, 'DELETE', '/api/v1/groups/g')).json).toEqual({ group: 'g', deleted: [{ topic: 'b', committed: 6 }] });
    expect((await call(f, 'GET', '/api/v1/groups/g')).status).toBe(404);
    expect((await fetchAs(f, 'b', 'group=g&reset=latest')).json.offset).toBe(10);
  });

  it('groups do not hold back retention (as in Kafka): lost events are reported and the next fetch resets', async () => {
    const f = await fixture({ channel: '  retention:\n    max_age: 1h' });
    const channel = f.collector.channel;
    // 100 old events and 20 fresh ones, in separate record batches; retention removes the old batch.
    await channel.append({ events: events('a', 0, 100) });
    await channel.append({ events: events('a', 100, 20, () => Date.now()) });
    await call(f, 'POST', '/api/v1/groups/slow/commit', { offsets: [{ topic: 'a', offset: 30 }] });
    backdateArrival(channel.file, 'a', 100, 2 * 3600_000); // retention counts from arrival: these came 2 h ago
    channel.runRetention();
    expect(channel.topic('a')!.low).toBe(100);
    expect((await call<Group>(f, 'GET', '/api/v1/groups/slow')).json.topics[0]).toMatchObject({ committed: 30, low: 100, high: 120, lag: 20, lost: 70 });
    const none = await fetchAs(f, 'a', 'group=slow&reset=none');
    expect(none.status).toBe(400);
    expect(none.json.error).toMatchObject({ code: 'SLUICE_OFFSET_OUT_OF_RANGE', message: expect.stringMatching(/committed offset 30 is older than what retention kept \(earliest is 100\) and reset=none/) });
    const a = (await fetchAs(f, 'a', 'group=slow&commit=true')).json;
    expect(a).toMatchObject({ offset: 100, committed: 100, notes: ['committed offset 30 is older than what retention kept (earliest is 100): 70 events were removed unread; reset to earliest (100)'] });
    expect(offsets(a)[0]).toBe(100);
    expect((await fetchAs(f, 'a', 'offset=5&reset=latest')).json).toMatchObject({ offset: 120, events: [] });
  });

  it('a read-only inspection lists groups and fetches, but refuses commits, deletes and produce', async () => {
    const f = await fixture();
    await f.collector.channel.append({ events: events('a', 0, 5) });
    await call(f, 'POST', '/api/v1/groups/g/commit', { offsets: [{ topic: 'a', offset: 2 }] });
    const ro = await fixture({ inspect: true, channelDir: `${f.dir}/data`, yaml: '' });
    expect((await call<GroupsResponse>(ro, 'GET', '/api/v1/groups')).json.groups.map((g) => g.name)).toEqual(['g']);
    expect(offsets((await fetchAs(ro, 'a', 'group=g')).json)).toEqual([2, 3, 4]);
    for (const [method, url, body] of [
      ['POST', '/api/v1/groups/g/commit', { offsets: [{ topic: 'a', offset: 3 }] }],
      ['GET', '/api/v1/topics/a/fetch?group=g&offset=3&commit=true', undefined],
      ['DELETE', '/api/v1/groups/g', undefined],
      ['POST', '/api/v1/topics/a/events', { events: [{ text: 'x' }] }],
    ] as const) {
      const r = await call(ro, method, url, body);
      expect(r.status, url).toBe(400);
      expect(r.json.error!.message).toMatch(/read-only inspection/);
    }
    expect(f.collector.channel.getCursor('group:g', 'a')).toBe(2);
  });
});

describe('produce', () => {
  it('appends value, text and base64 bodies with key, headers and ts, answered after the commit', async () => {
    const f = await fixture();
    const r = await call<ProduceResponse>(f, 'POST', '/api/v1/topics/orders/events', {
      events: [
        { key: 'k1', headers: { region: 'eu' }, ts: T0, value: { id: 1, items: ['a'] } },
        { text: 'plain line' },
        { base64: Buffer.from([0, 1, 2, 255]).toString('base64'), headers: { 'content-type': 'image/x-raw' } },
        { text: 'a,b', headers: { 'content-type': 'text/csv' } },
        { value: null },
      ],
    });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ topic: 'orders', first: 0, last: 4, count: 5, high: 5 });
    const stored = f.collector.channel.read('orders', 0);
    expect(stored.map((e) => [e.key, e.headers, Buffer.from(e.body).toString('latin1')])).toEqual([
      ['k1', { region: 'eu', 'content-type': 'application/json' }, '{"id":1,"items":["a"]}'],
      [null, { 'content-type': 'text/plain' }, 'plain line'],
      [null, { 'content-type': 'image/x-raw' }, '\x00\x01\x02\xff'],
      [null, { 'content-type': 'text/csv' }, 'a,b'],
      [null, { 'content-type': 'application/json' }, 'null'],
    ]);
    expect(stored[0].ts).toBe(T0);
    expect(Math.abs(stored[1].ts - Date.now())).toBeLessThan(5000);
    const more = await call<ProduceResponse>(f, 'POST', '/api/v1/topics/orders/events', { events: [{ text: 'x' }, { text: 'y' }] });
    expect(more.json).toEqual({ topic: 'orders', first: 5, last: 6, count: 2, high: 7 });
  });

  it('runs no interceptor chain: the events are stored as given', async () => {
    const f = await fixture({ yaml: 'sources:\n  mem:\n    type: memory\n    interceptors:\n      - type: static\n        header: added\n        value: "yes"\n' });
    await f.ingest([makeEvent('t', 'through the source')]);
    await call(f, 'POST', '/api/v1/topics/t/events', { events: [{ text: 'produced' }] });
    expect(f.collector.channel.read('t', 0).map((e) => e.headers.added ?? null)).toEqual(['yes', null]);
  });

  it('refuses bad requests whole: body kinds, base64, topic names, unknown keys, empty lists', async () => {
    const f = await fixture();
    const cases: [string, unknown, number, RegExp][] = [
      ['orders', { events: [{ text: 'ok' }, { text: 'a', value: 1 }] }, 400, /events\[1\]: give exactly one of value, text, base64 as the body \(got value, text\)/],
      ['orders', { events: [{ key: 'k' }] }, 400, /events\[0\]: give exactly one of value, text, base64 as the body \(got none\)/],
      ['orders', { events: [{ base64: 'not base64!' }] }, 400, /events\[0\]\.base64: not base64/],
      ['orders', { events: [{ text: 'x', tags: 1 }] }, 400, /unknown key in the request body: events\[0\]\.tags/],
      ['orders', { events: [] }, 400, /events/],
      ['or$ders', { events: [{ text: 'x' }] }, 400, /invalid topic name "or\$ders"/],
      ['orders', { events: [{ text: 'x', headers: { n: { x: 1 } } }] }, 400, /headers/],
    ];
    for (const [topic, body, status, message] of cases) {
      const r = await call(f, 'POST', `/api/v1/topics/${encodeURIComponent(topic)}/events`, body);
      expect(r.status, JSON.stringify(body)).toBe(status);
      expect(r.json.error!.message).toMatch(message);
    }
    expect(f.collector.channel.topic('orders')).toBeUndefined();
  });

  it('an append larger than the whole channel answers 413 SLUICE_TOO_LARGE', async () => {
    const f = await fixture({ channel: '  max_bytes: 4KiB' });
    const r = await call(f, 'POST', '/api/v1/topics/t/events', { events: Array.from({ length: 50 }, () => ({ text: 'y'.repeat(200) })) });
    expect(r.status).toBe(413);
    expect(r.json.error!.code).toBe('SLUICE_TOO_LARGE');
    expect(f.collector.channel.topic('t')).toBeUndefined();
  });
});

describe('OpenAPI', () => {
  it('documents the consumer routes from their schemas', async () => {
    const doc = (await generateOpenApi()) as { paths: Record<string, Record<string, { tags: string[]; parameters?: { name: string }[] }>> };
    expect(Object.keys(doc.paths['/api/v1/groups/{group}']).sort()).toEqual(['delete', 'get']);
    expect(doc.paths['/api/v1/groups/{group}/commit'].post.tags).toEqual(['consumers']);
    expect(doc.paths['/api/v1/topics/{topic}/events'].post.tags).toEqual(['consumers']);
    expect(doc.paths['/api/v1/topics/{topic}/fetch'].get.parameters!.map((p) => p.name)).toEqual(
      expect.arrayContaining(['topic', 'group', 'offset', 'time', 'last', 'reset', 'wait', 'max', 'maxBytes', 'commit', 'raw']),
    );
  });
});

describe('truncate', () => {
  it('deletes the events before an offset in whole batches, a group behind it continues from the new low, and says what went', async () => {
    const f = await fixture();
    // Three appends: batches 0–9, 10–19, 20–29.
    for (let i = 0; i < 3; i++) await f.collector.channel.append({ events: events('web', i * 10, 10) });
    await call(f, 'POST', '/api/v1/groups/g/commit', { offsets: [{ topic: 'web', offset: 5 }] });
    // 15 lies inside the second batch: that batch stays whole.
    const cut = await call<{ topic: string; low: number; high: number; deleted: number; dropped: number; bytes: number }>(f, 'DELETE', '/api/v1/topics/web/events?before=15');
    expect(cut.status).toBe(200);
    expect(cut.json).toMatchObject({ topic: 'web', low: 10, high: 30, deleted: 10, dropped: 0 });
    expect(cut.json.bytes).toBeGreaterThan(0);
    expect(f.collector.channel.topic('web')).toMatchObject({ low: 10, count: 20 });
    const read = await fetchAs(f, 'web', 'group=g&max=100');
    expect(offsets(read.json)[0]).toBe(10);
    // Past the end: everything goes, the high watermark stays.
    expect((await call<{ low: number; deleted: number }>(f, 'DELETE', '/api/v1/topics/web/events?before=1000')).json).toMatchObject({ low: 30, high: 30, deleted: 20 });
    expect(f.collector.channel.topic('web')).toMatchObject({ low: 30, high: 30, count: 0 });
    const missing = await call(f, 'DELETE', '/api/v1/topics/nope/events?before=1');
    expect(missing.status).toBe(404);
    expect((await call(f, 'DELETE', '/api/v1/topics/web/events')).status).toBe(400);
  });
});
