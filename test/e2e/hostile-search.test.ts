/**
 * A hostile search regex against a real collector process (issue #12 item 4): `(a+)+$` over
 * events `aaaa…a!` backtracks exponentially in a backtracking engine. With RE2 matching the
 * search answers, while another client keeps ingesting and reading, and a SIGTERM during the
 * search ends the process. No wall-clock thresholds: each wait is bounded only so a regression
 * fails instead of hanging, and the waits scale with the machine's load (SLUICE_TEST_TIMEOUT_SCALE).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, removeDir, scaled, startCollector, until, type CollectorProcess } from '../helpers/process.ts';

const running: CollectorProcess[] = [];
afterEach(async () => {
  for (const c of running.splice(0)) {
    await c.kill();
    removeDir(c.dir);
  }
});

const HOSTILE = 'bodyRegex=(a%2B)%2B%24';
const EVIL_LINE = `${'a'.repeat(38)}!`;
/** 2^60 calls per event: only a time box ends it. */
const HOSTILE_JSONATA = `jsonata=${encodeURIComponent('($f := function($d){ $d = 0 ? 1 : $f($d - 1) + $f($d - 1) }; $f(60) > 0)')}`;

async function collector(): Promise<{ c: CollectorProcess; ingest: string }> {
  const admin = await freePort();
  const http = await freePort();
  const c = await startCollector({ config: `admin:\n  listen: 127.0.0.1:${admin}\nsources:\n  web:\n    type: http\n    listen: 127.0.0.1:${http}\n` });
  running.push(c);
  return { c, ingest: `http://127.0.0.1:${http}` };
}

async function post(url: string, body: string, type = 'text/plain'): Promise<number> {
  const r = await fetch(url, { method: 'POST', body, headers: { 'content-type': type } });
  await r.text();
  return r.status;
}

describe('a hostile search regex', () => {
  it('answers, and ingestion and other reads keep being answered meanwhile', async () => {
    const { c, ingest } = await collector();
    expect(await post(`${ingest}/evil`, Array.from({ length: 2000 }, () => EVIL_LINE).join('\n'))).toBe(200);
    // Several hostile searches at once, each over the whole topic.
    const searches = Array.from({ length: 4 }, () => fetch(`${c.adminUrl}/api/v1/topics/evil/events?from=0&${HOSTILE}&maxScanRows=1000000`).then(async (r) => ({ status: r.status, body: (await r.json()) as { events: unknown[]; scanned: number; stopped: string } })));
    // Meanwhile another client ingests and reads, and gets every answer.
    for (let i = 0; i < 20; i++) {
      expect(await post(`${ingest}/other`, `{"i":${i}}`, 'application/json')).toBe(200);
      const topics = await c.api<{ topics: { name: string; high: number }[] }>('/api/v1/topics');
      expect(topics.topics.find((t) => t.name === 'other')?.high).toBe(i + 1);
    }
    const results = await Promise.all(searches);
    for (const r of results) {
      expect(r.status).toBe(200);
      expect(r.body.events).toEqual([]);
      expect(r.body.scanned).toBeGreaterThan(0);
    }
    // The search ran to the end of the topic: a linear-time engine, not a time-out.
    expect(results.some((r) => r.body.stopped === 'end' && r.body.scanned === 2000)).toBe(true);
    // The same pattern finds what it should.
    expect(await post(`${ingest}/evil`, 'aaaa')).toBe(200);
    const found = await c.api<{ events: { offset: number }[] }>(`/api/v1/topics/evil/events?from=0&${HOSTILE}`);
    expect(found.events.map((e) => e.offset)).toEqual([2000]);
  }, scaled(180_000));

  it('a hostile JSONata predicate (exponential recursion) is stopped at max_scan_ms; others are answered meanwhile', async () => {
    const { c, ingest } = await collector();
    expect(await post(`${ingest}/evil`, Array.from({ length: 50 }, (_, i) => `{"n":${i}}`).join('\n'), 'application/x-ndjson')).toBe(200);
    const search = fetch(`${c.adminUrl}/api/v1/topics/evil/events?from=0&${HOSTILE_JSONATA}`).then(async (r) => ({ status: r.status, body: (await r.json()) as { events: unknown[]; scanned: number; stopped: string; filterErrors: number; firstFilterError?: string } }));
    for (let i = 0; i < 10; i++) {
      expect(await post(`${ingest}/other`, `{"i":${i}}`, 'application/json')).toBe(200);
      const topics = await c.api<{ topics: { name: string; high: number }[] }>('/api/v1/topics');
      expect(topics.topics.find((t) => t.name === 'other')?.high).toBe(i + 1);
    }
    const r = await search;
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ events: [], stopped: 'time', filterErrors: 1 });
    expect(r.body.scanned).toBeGreaterThanOrEqual(1);
    expect(r.body.firstFilterError).toMatch(/^offset \d+: the JSONata evaluation was stopped at the scan's time bound \(max_scan_ms\)$/);
  }, scaled(180_000));

  it('does not hold up SIGTERM: the process exits while searches run', async () => {
    const { c, ingest } = await collector();
    expect(await post(`${ingest}/evil`, Array.from({ length: 2000 }, () => EVIL_LINE).join('\n'))).toBe(200);
    const searches = [HOSTILE, HOSTILE, HOSTILE_JSONATA, HOSTILE_JSONATA].map((q) => fetch(`${c.adminUrl}/api/v1/topics/evil/events?from=0&${q}`).then((r) => r.status, () => 0));
    c.proc.kill('SIGTERM');
    let code: number | null | undefined;
    void c.exited.then((x) => (code = x));
    await until(() => code !== undefined, { what: 'the collector to exit after SIGTERM', timeoutMs: 60_000, intervalMs: 20 });
    expect(code, c.stderr()).toBe(0);
    // Each search either got its answer or saw the connection close; none hangs.
    for (const status of await Promise.all(searches)) expect([0, 200, 503]).toContain(status);
  }, scaled(180_000));
});
