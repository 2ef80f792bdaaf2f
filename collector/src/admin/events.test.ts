/**
 * Browse, search and export through the admin API (inject(), a real collector and channel file).
 */
import { pack } from 'msgpackr';
import { afterEach, describe, expect, it } from 'vitest';
import type { BrowseResponse } from '../../../shared/src/api/events.ts';
import { makeEvent, type EventDraft } from '../../../shared/src/event.ts';
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

/** n JSON events on `topic`: {"i":i,"even":bool}, key k<i%10>, header parity, ts T0 + i*10. */
async function fill(f: AdminFixture, topic: string, n: number, from = 0): Promise<void> {
  for (let start = from; start < from + n; start += 5000) {
    const events: EventDraft[] = [];
    for (let i = start; i < Math.min(from + n, start + 5000); i++) {
      events.push(makeEvent(topic, JSON.stringify({ i, even: i % 2 === 0 }), { ts: T0 + i * 10, key: `k${i % 10}`, headers: { 'content-type': 'application/json', parity: i % 2 === 0 ? 'even' : 'odd' } }));
    }
    await f.collector.channel.append({ events });
  }
}

async function browse(f: AdminFixture, topic: string, query: string): Promise<BrowseResponse> {
  const r = await f.app.inject({ method: 'GET', url: `/api/v1/topics/${topic}/events?${query}` });
  expect(r.statusCode, r.body).toBe(200);
  return r.json() as BrowseResponse;
}

function offsets(page: BrowseResponse): number[] {
  return page.events.map((e) => e.offset);
}

describe('paging', () => {
  it('pages forward and backward with next/prev, without gap or overlap, and says where the end is', async () => {
    const f = await fixture();
    await fill(f, 'logs', 2500);
    const seen: number[] = [];
    let page = await browse(f, 'logs', 'from=0&limit=1000');
    expect(page).toMatchObject({ low: 0, high: 2500, next: 1000, prev: 0, stopped: 'limit', scanned: 1000, scannedFrom: 0, scannedTo: 999, filtered: false });
    seen.push(...offsets(page));
    while (page.stopped !== 'end') {
      page = await browse(f, 'logs', `from=${page.next}&limit=1000`);
      seen.push(...offsets(page));
    }
    expect(seen).toEqual(Array.from({ length: 2500 }, (_, i) => i));
    expect(page).toMatchObject({ next: 2500, prev: 2000, stopped: 'end' });

    // Backward from the end: newest first pages, each in offset order.
    const back: number[][] = [];
    let b = await browse(f, 'logs', 'from=2500&direction=backward&limit=1000');
    expect(b).toMatchObject({ prev: 1500, next: 2500, stopped: 'limit', scannedFrom: 1500, scannedTo: 2499 });
    back.push(offsets(b));
    while (b.stopped !== 'end') {
      b = await browse(f, 'logs', `from=${b.prev}&direction=backward&limit=1000`);
      back.push(offsets(b));
    }
    expect(back.reverse().flat()).toEqual(Array.from({ length: 2500 }, (_, i) => i));
    expect(b).toMatchObject({ prev: 0, stopped: 'end' });
  });

  it('newest N with last=N, and the default start is the beginning', async () => {
    const f = await fixture();
    await fill(f, 'logs', 50);
    expect(offsets(await browse(f, 'logs', 'last=5'))).toEqual([45, 46, 47, 48, 49]);
    const first = await browse(f, 'logs', 'limit=3');
    expect(offsets(first)).toEqual([0, 1, 2]);
    // last=N with a filter: the newest N matching.
    expect(offsets(await browse(f, 'logs', 'last=3&header=parity:odd'))).toEqual([45, 47, 49]);
  });

  it('at the edges: from = high is an empty page at the end; beyond the end is refused; unknown topics are 404', async () => {
    const f = await fixture();
    await fill(f, 'logs', 10);
    const atEnd = await browse(f, 'logs', 'from=10');
    expect(atEnd).toMatchObject({ events: [], scanned: 0, stopped: 'end', next: 10, prev: 10, scannedFrom: 10, scannedTo: 9 });
    const beyond = await f.app.inject({ url: '/api/v1/topics/logs/events?from=11' });
    expect(beyond.statusCode).toBe(400);
    expect(beyond.json().error).toEqual({ code: 'SLUICE_OFFSET_OUT_OF_RANGE', message: 'topic "logs": offset 11 is beyond the end (high watermark 10)' });
    const missing = await f.app.inject({ url: '/api/v1/topics/nope/events' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe('SLUICE_TOPIC_NOT_FOUND');
    const both = await f.app.inject({ url: '/api/v1/topics/logs/events?from=1&last=2' });
    expect(both.statusCode).toBe(400);
    expect(both.json().error.message).toMatch(/one of from, time, last/);
  });

  it('jumps to a time (ms or ISO): the first event at or after it', async () => {
    const f = await fixture();
    await fill(f, 'logs', 100);
    expect(offsets(await browse(f, 'logs', `time=${T0 + 250}&limit=2`))).toEqual([25, 26]);
    expect(offsets(await browse(f, 'logs', `time=${T0 + 251}&limit=1`))).toEqual([26]);
    expect(offsets(await browse(f, 'logs', `time=${new Date(T0 + 250).toISOString()}&limit=1`))).toEqual([25]);
    const late = await browse(f, 'logs', `time=${T0 + 5000}`);
    expect(late).toMatchObject({ events: [], stopped: 'end', next: 100 });
    expect(late.notes[0]).toMatch(/no event at or after/);
    // Backward from a time: what came just before it.
    expect(offsets(await browse(f, 'logs', `time=${T0 + 250}&direction=backward&limit=2`))).toEqual([23, 24]);
    const bad = await f.app.inject({ url: '/api/v1/topics/logs/events?time=yesterday' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.message).toMatch(/time: "yesterday" is neither/);
  });

  it('a start older than retention begins at the earliest kept event and says so', async () => {
    const f = await fixture({ channel: '  retention:\n    max_age: 1h' });
    const channel = f.collector.channel;
    await fill(f, 'logs', 3000);
    await channel.append({ events: [makeEvent('logs', '{"fresh":true}', { ts: Date.now() })] });
    backdateArrival(channel.file, 'logs', 3000, 2 * 3600_000); // retention counts from arrival: these came 2 h ago
    channel.runRetention();
    expect(channel.topic('logs')!.low).toBe(3000);
    const page = await browse(f, 'logs', 'from=0&limit=1');
    expect(offsets(page)).toEqual([3000]);
    expect(page.notes[0]).toBe('offset 0 is older than what retention kept; started at the earliest kept offset 3000');
  });
});

describe('decoded bodies', () => {
  it('shows JSON, msgpack and UTF-8 text decoded beside the raw bytes; binary and broken bodies get null', async () => {
    const f = await fixture();
    const events: EventDraft[] = [
      makeEvent('mix', '{"a":[1,2],"b":"x"}', { headers: { 'content-type': 'application/json; charset=utf-8' } }),
      makeEvent('mix', pack({ n: 1, bin: Buffer.from([1, 2, 3]), nested: { ok: true } }), { headers: { 'content-type': 'application/msgpack' } }),
      makeEvent('mix', 'hello wörld', { headers: { 'content-type': 'text/plain' } }),
      makeEvent('mix', 'plain text without a type'),
      makeEvent('mix', new Uint8Array([0, 1, 2, 255, 254])),
      makeEvent('mix', '{"broken":', { headers: { 'content-type': 'application/json' } }),
    ];
    await f.collector.channel.append({ events });
    const page = await browse(f, 'mix', 'from=0');
    const [json, mp, text, untyped, binary, broken] = page.events;
    expect(json).toMatchObject({ contentType: 'application/json', bodyEncoding: 'json', body: { a: [1, 2], b: 'x' }, size: 19 });
    expect(Buffer.from(json.raw!, 'base64').toString()).toBe('{"a":[1,2],"b":"x"}');
    expect(mp).toMatchObject({ contentType: 'application/msgpack', bodyEncoding: 'msgpack', body: { n: 1, bin: 'AQID', nested: { ok: true } } });
    expect(text).toMatchObject({ contentType: 'text/plain', bodyEncoding: 'text', body: 'hello wörld' });
    expect(untyped).toMatchObject({ contentType: 'application/octet-stream', bodyEncoding: 'text', body: 'plain text without a type' });
    expect(binary).toMatchObject({ bodyEncoding: null, body: null, raw: Buffer.from([0, 1, 2, 255, 254]).toString('base64'), size: 5 });
    expect(broken).toMatchObject({ bodyEncoding: 'text', body: '{"broken":' });
    expect(broken.decodeError).toMatch(/declared application\/json but does not parse/);
    const noRaw = await browse(f, 'mix', 'from=0&limit=1&raw=false');
    expect(noRaw.events[0].raw).toBeUndefined();
  });
});

describe('filters', () => {
  it('header equals / matches, key equals / matches, body contains / matches, JSONata — all combined with AND', async () => {
    const f = await fixture();
    await fill(f, 'logs', 200);
    const q = async (query: string) => offsets(await browse(f, 'logs', `from=0&limit=1000&${query}`));
    expect((await q('header=parity:even')).length).toBe(100);
    expect((await q('header=Parity:even')).length).toBe(100); // header names are case-insensitive
    expect(await q('headerRegex=parity:/^ODD$/i&key=k3')).toEqual(Array.from({ length: 20 }, (_, i) => i * 10 + 3));
    expect((await q('keyRegex=^k[12]$')).length).toBe(40);
    expect(await q('bodyContains=%22i%22%3A17%2C')).toEqual([17]);
    expect(await q('bodyRegex=%22i%22%3A1[0-9]%2C')).toEqual(Array.from({ length: 10 }, (_, i) => 10 + i));
    expect(await q(`jsonata=${encodeURIComponent('i >= 190 and even')}`)).toEqual([190, 192, 194, 196, 198]);
    expect(await q(`jsonata=${encodeURIComponent('$key = "k5" and $headers.parity = "odd" and $offset < 50')}`)).toEqual([5, 15, 25, 35, 45]);
    expect(await q(`header=parity:even&jsonata=${encodeURIComponent('i % 3 = 0')}&keyRegex=^k0`)).toEqual([0, 30, 60, 90, 120, 150, 180]);
    const page = await browse(f, 'logs', 'from=0&limit=5&header=parity:odd');
    expect(page).toMatchObject({ filtered: true, stopped: 'limit', next: 10, scanned: 10, scannedTo: 9 });
  });

  it('refuses bad filters and unknown parameters with a clear 400', async () => {
    const f = await fixture();
    await fill(f, 'logs', 5);
    const cases: [string, RegExp][] = [
      ['bodyRegex=(', /bodyRegex: invalid regex/],
      ['bodyRegex=/x/g', /flag\(s\) "g" not supported/],
      [`bodyRegex=${encodeURIComponent('a(?=b)')}`, /bodyRegex: invalid regex: .*\(RE2 syntax: lookaround and backreferences are not supported\)/],
      [`keyRegex=${encodeURIComponent('(a)\\1')}`, /keyRegex: invalid regex: .*RE2 syntax/],
      ['header=novalue', /header: expected name:value/],
      [`jsonata=${encodeURIComponent('a +')}`, /^jsonata: /],
      ['bodyregex=x', /unknown query parameter "bodyregex"/],
      ['limit=0', /limit/],
    ];
    for (const [query, message] of cases) {
      const r = await f.app.inject({ url: `/api/v1/topics/logs/events?${query}` });
      expect(r.statusCode, query).toBe(400);
      expect(r.json().error.code).toBe('SLUICE_BAD_INPUT');
      expect(r.json().error.message).toMatch(message);
    }
  });

  it('a JSONata error on an event counts as no match and is reported', async () => {
    const f = await fixture();
    await fill(f, 'logs', 10);
    const page = await browse(f, 'logs', `from=0&jsonata=${encodeURIComponent('$number("x" & i) > 0')}`);
    expect(page.events).toEqual([]);
    expect(page.filterErrors).toBe(10);
    expect(page.firstFilterError).toMatch(/offset 0/);
  });
});

describe('scan bounds', () => {
  it('never a silent empty page: a search stopped by rows says how far it got, and continues from next', async () => {
    const f = await fixture({ admin: '  max_scan_rows: 5000' });
    await fill(f, 'logs', 12_000);
    const page = await browse(f, 'logs', 'from=0&bodyContains=nothing-like-this');
    expect(page).toMatchObject({ events: [], stopped: 'rows', scanned: 5000, scannedFrom: 0, scannedTo: 4999, next: 5000 });
    // The request may lower the bound, not raise it.
    expect((await browse(f, 'logs', 'from=0&bodyContains=zz&maxScanRows=1000')).scanned).toBe(1000);
    expect((await browse(f, 'logs', 'from=0&bodyContains=zz&maxScanRows=9000')).scanned).toBe(5000);
    const next = await browse(f, 'logs', `from=${page.next}&bodyContains=%22i%22%3A11999%7D`);
    expect(next).toMatchObject({ stopped: 'rows', scannedFrom: 5000, scannedTo: 9999, events: [] });
    const last = await browse(f, 'logs', `from=${next.next}&bodyContains=%22i%22%3A11999%2C`);
    expect(offsets(last)).toEqual([11999]);
    expect(last.stopped).toBe('end');
  });

  it('a search stopped by time says so; the event loop keeps turning during a long scan', async () => {
    const f = await fixture({ admin: '  max_scan_ms: 300\n  max_scan_rows: 10000000' });
    await fill(f, 'logs', 60_000);
    // No timing thresholds (shared, noisy machines): the loop must simply get turns during the scan.
    let ticks = 0;
    let ticking = true;
    const tick = () => {
      ticks++;
      if (ticking) setImmediate(tick);
    };
    setImmediate(tick);
    const page = await browse(f, 'logs', `from=0&jsonata=${encodeURIComponent('$contains($string(i), "nope")')}`);
    ticking = false;
    expect(page.events).toEqual([]);
    expect(page.stopped).toBe('time');
    expect(page.scanned).toBeGreaterThan(0);
    expect(page.scanned).toBeLessThan(60_000);
    expect(page.scannedTo).toBe(page.scanned - 1);
    expect(ticks).toBeGreaterThan(1);
  });
});

describe('export', () => {
  it('streams a range as NDJSON and a filter result as CSV', async () => {
    const f = await fixture();
    await fill(f, 'logs', 5000);
    const nd = await f.app.inject({ url: '/api/v1/topics/logs/export?format=ndjson&from=100&to=4100' });
    expect(nd.statusCode).toBe(200);
    expect(nd.headers['content-type']).toMatch(/application\/x-ndjson/);
    expect(nd.headers['x-sluice-range']).toBe('100-4100');
    const lines = nd.body.trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(lines.length).toBe(4000);
    expect(lines[0]).toMatchObject({ offset: 100, body: { i: 100, even: true }, key: 'k0' });
    expect(lines.at(-1).offset).toBe(4099);

    const csv = await f.app.inject({ url: `/api/v1/topics/logs/export?format=csv&header=parity:odd&until=${T0 + 100}` });
    expect(csv.statusCode).toBe(200);
    expect(csv.headers['content-type']).toMatch(/text\/csv/);
    const rows = csv.body.trimEnd().split('\r\n');
    expect(rows[0]).toBe('offset,ts,time,key,content_type,headers,body,raw_base64');
    expect(rows.slice(1).map((r) => Number(r.split(',')[0]))).toEqual([1, 3, 5, 7, 9]);
    expect(rows[1]).toContain('"{""i"":1,""even"":false}"');
  });

  it('is refused with 403 when admin.export is false', async () => {
    const f = await fixture({ admin: '  export: false' });
    await fill(f, 'logs', 5);
    const r = await f.app.inject({ url: '/api/v1/topics/logs/export' });
    expect(r.statusCode).toBe(403);
    expect(r.json()).toEqual({ error: { code: 'SLUICE_EXPORT_DISABLED', message: 'export is disabled on this collector (admin.export: false)' } });
  });
});
