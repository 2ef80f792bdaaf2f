/**
 * Every read path serves whatever bytes are stored (issue #12 item 5): a JSON body nested 20,000
 * deep (stored by an older version, or by a source with a higher limit), one that does not
 * parse, and one that is not UTF-8 sit between ordinary events. Browse, export (NDJSON and CSV),
 * consumer fetch as a group, the live tail over a real WebSocket and `sluice tail` in a real
 * process all answer with every event — the odd ones as text or raw, with the reason — so one
 * event never blocks its range.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { ApiEvent, TailMessage } from '../../../shared/src/api/events.ts';
import { SLUICE } from '../../../test/helpers/process.ts';
import { adminFixture, type AdminFixture } from './testing.ts';
import { scaled } from '../../../test/helpers/children.ts';

const DEPTH = 20_000;
const deep = `{"a":${'['.repeat(DEPTH)}1${']'.repeat(DEPTH)}}`;
const bodies: [string, Buffer][] = [
  ['application/json', Buffer.from('{"n":0}')],
  ['application/json', Buffer.from(deep)],
  ['application/json', Buffer.from('{"n": tru')],
  ['application/json', Buffer.from([0x7b, 0x22, 0x6e, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d])],
  ['application/msgpack', Buffer.from([0xc1, 0xc1])],
  ['application/json', Buffer.from('{"n":5}')],
];

let f: AdminFixture;
let base: string;
beforeAll(async () => {
  f = await adminFixture();
  await f.collector.channel.appendEvents(
    't',
    bodies.map(([type, body]) => ({ ts: Date.now(), key: null, headers: { 'content-type': type }, body })),
  );
  base = await f.app.listen({ host: '127.0.0.1', port: 0 });
}, scaled(60_000));
afterAll(async () => {
  await f?.close();
});

function checkAll(events: ApiEvent[]): void {
  expect(events.map((e) => e.offset)).toEqual([0, 1, 2, 3, 4, 5]);
  expect(events[0]).toMatchObject({ bodyEncoding: 'json', body: { n: 0 } });
  expect(events[1]).toMatchObject({ bodyEncoding: 'text', body: deep, decodeError: expect.stringMatching(/nested deeper than 1000 levels/) });
  expect(events[2]).toMatchObject({ bodyEncoding: 'text', decodeError: expect.stringMatching(/does not parse/) });
  expect(events[3]).toMatchObject({ bodyEncoding: null, decodeError: expect.stringMatching(/not valid UTF-8/) });
  expect(Buffer.from(events[3].raw!, 'base64')).toEqual(bodies[3][1]);
  expect(events[4]).toMatchObject({ bodyEncoding: null, raw: Buffer.from(bodies[4][1]).toString('base64') });
  expect(events[5]).toMatchObject({ bodyEncoding: 'json', body: { n: 5 } });
}

describe('reads of a range holding bodies that cannot be shown as values', () => {
  it('browse answers the page, forward and backward, filtered too', async () => {
    for (const q of ['from=0', 'last=6', 'from=0&bodyContains=n', 'from=0&raw=false']) {
      const r = await fetch(`${base}/api/v1/topics/t/events?${q}`);
      expect(r.status, q).toBe(200);
      const page = (await r.json()) as { events: ApiEvent[] };
      if (q.includes('bodyContains')) expect(page.events.map((e) => e.offset)).toEqual([0, 2, 3, 5]);
      else checkAll(page.events);
    }
    const j = await fetch(`${base}/api/v1/topics/t/events?from=0&jsonata=${encodeURIComponent('n = 5')}`);
    expect(j.status).toBe(200);
    expect(((await j.json()) as { events: ApiEvent[] }).events.map((e) => e.offset)).toEqual([5]);
  });

  it('export streams every event as NDJSON and CSV', async () => {
    const nd = await fetch(`${base}/api/v1/topics/t/export?format=ndjson`);
    expect(nd.status).toBe(200);
    checkAll((await nd.text()).trim().split('\n').map((l) => JSON.parse(l) as ApiEvent));
    const csv = await fetch(`${base}/api/v1/topics/t/export?format=csv`);
    expect(csv.status).toBe(200);
    const text = await csv.text();
    expect(text).toContain('['.repeat(DEPTH));
    expect(text.trim().split('\r\n').filter((l) => /^\d+,/.test(l)).map((l) => Number(l.split(',')[0]))).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('export and browse show an event whose time stamp no date can hold (stored by an older version)', async () => {
    await f.collector.channel.appendEvents('far', [
      { ts: 1e21, key: null, headers: {}, body: Buffer.from('far') },
      { ts: Date.now(), key: null, headers: {}, body: Buffer.from('near') },
    ]);
    const csv = await fetch(`${base}/api/v1/topics/far/export?format=csv`);
    expect(csv.status).toBe(200);
    const rows = (await csv.text()).trim().split('\r\n');
    expect(rows).toHaveLength(3);
    expect(rows[1]).toMatch(/^0,1e\+21,,,/);
    expect(rows[2]).toMatch(/^1,\d+,\d{4}-/);
    const page = (await (await fetch(`${base}/api/v1/topics/far/events?from=0`)).json()) as { events: ApiEvent[] };
    expect(page.events.map((e) => e.body)).toEqual(['far', 'near']);
  });

  it('msgpack nested 100 deep is shown whole; nested deeper than 1000, raw with the reason', async () => {
    // {a: [[…["leaf"]…]]} written byte by byte (msgpackr's own packer recurses).
    const nested = (n: number) => Buffer.concat([Buffer.from([0x81, 0xa1, 0x61]), Buffer.alloc(n - 1, 0x91), Buffer.from([0xa4]), Buffer.from('leaf')]);
    await f.collector.channel.appendEvents('mp', [100, 1500].map((n) => ({ ts: Date.now(), key: null, headers: { 'content-type': 'application/msgpack' }, body: nested(n) })));
    const page = (await (await fetch(`${base}/api/v1/topics/mp/events?from=0`)).json()) as { events: ApiEvent[] };
    expect(page.events[0]).toMatchObject({ bodyEncoding: 'msgpack' });
    expect(JSON.stringify(page.events[0].body)).toContain('"leaf"');
    expect(page.events[1]).toMatchObject({ bodyEncoding: null, body: null, decodeError: 'msgpack nested deeper than 1000 levels: shown raw' });
    expect(page.events[1].raw).toBeTruthy();
  });

  it('a consumer group fetches and commits past them', async () => {
    let offset = 0;
    const seen: ApiEvent[] = [];
    for (let i = 0; i < 10 && offset < 6; i++) {
      const r = await fetch(`${base}/api/v1/topics/t/fetch?group=g&offset=${offset}&commit=true&max=2&raw=true`);
      expect(r.status).toBe(200);
      const answer = (await r.json()) as { events: ApiEvent[]; next: number };
      seen.push(...answer.events);
      offset = answer.next;
    }
    checkAll(seen);
    await fetch(`${base}/api/v1/topics/t/fetch?group=g&offset=6&commit=true`);
    expect(f.collector.channel.cursors('group:g')).toEqual([expect.objectContaining({ topic: 't', next: 6 })]);
  });

  it('the live tail sends them', async () => {
    const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/api/v1/topics/t/tail?from=0`);
    try {
      const events = await new Promise<ApiEvent[]>((resolve, reject) => {
        const got: ApiEvent[] = [];
        ws.on('message', (data) => {
          const m = JSON.parse(String(data)) as TailMessage;
          if (m.type === 'events') got.push(...m.events);
          if (got.length >= 6) resolve(got);
        });
        ws.on('error', reject);
        ws.on('close', (code) => reject(new Error(`tail closed (${code}) after ${got.length} events`)));
      });
      checkAll(events);
    } finally {
      ws.terminate();
    }
  });

  it('`sluice tail` prints them, as NDJSON and --pretty', async () => {
    const run = promisify(execFile);
    const nd = await run(process.execPath, [SLUICE, 'tail', 't', '--from', '0', '--no-follow', '--admin', base], { timeout: scaled(60_000), maxBuffer: 1 << 24 });
    checkAll(nd.stdout.trim().split('\n').map((l) => JSON.parse(l) as ApiEvent));
    const pretty = await run(process.execPath, [SLUICE, 'tail', 't', '--from', '0', '--no-follow', '--pretty', '--admin', base], { timeout: scaled(60_000), maxBuffer: 1 << 24 });
    expect(pretty.stdout.trim().split('\n'), pretty.stderr).toHaveLength(6);
  }, scaled(90_000));

  it('produce refuses a JSON request nested deeper than 128 levels with 400, before anything walks it', async () => {
    const r = await fetch(`${base}/api/v1/topics/p/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"events":[{"value":${'['.repeat(20_000)}${']'.repeat(20_000)}}]}` });
    expect(r.status).toBe(400);
    expect(((await r.json()) as { error: { code: string; message: string } }).error).toEqual({ code: 'SLUICE_BAD_INPUT', message: 'request body: JSON nested deeper than 128 levels at character 145' });
    const ok = await fetch(`${base}/api/v1/topics/p/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"events":[{"value":{"a":[1]}}]}' });
    expect(ok.status).toBe(200);
  });

  it('produce says why a JSON request body is refused: syntax, or a prototype-poisoning key', async () => {
    const post = async (body: string) => {
      const r = await fetch(`${base}/api/v1/topics/p/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      return { status: r.status, error: ((await r.json()) as { error: { code: string; message: string } }).error };
    };
    expect(await post('{"events":[')).toMatchObject({ status: 400, error: { code: 'SLUICE_BAD_INPUT', message: expect.stringMatching(/^request body: invalid JSON: /) } });
    expect(await post('{"events":[],"__proto__":{"x":1}}')).toEqual({ status: 400, error: { code: 'SLUICE_BAD_INPUT', message: 'request body: a "__proto__" or "constructor.prototype" key is not allowed' } });
  });
});
