/**
 * The desktop UI in Chromium against a real collector (token required): connect, see topics,
 * open one, jump to an offset and to a time, filter, open an event's detail — as a user does it.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, removeDir, scaled, until, type CollectorProcess } from '../../helpers/process.ts';
import { collectorConfig, ensureRendererBuilt, hasChromium, openBrowser, ports, produce, screenshot, startE2eCollector, visit, type BrowserSession, type Ports } from './harness.ts';

const TOKEN = 'e2e-desktop-token-0123456789';
const HOUR = 3_600_000;
// Recent enough that retention (7 days by default) keeps it: the start of the hour 4 hours ago.
const T0 = Math.floor((Date.now() - 4 * HOUR) / HOUR) * HOUR;
const day = (ms: number) => new Date(ms - new Date(ms).getTimezoneOffset() * 60_000).toISOString().slice(0, 10);

describe.skipIf(!hasChromium)('desktop UI: connect and browse', () => {
  let p: Ports;
  let collector: CollectorProcess;
  let s: BrowserSession;

  beforeAll(async () => {
    await ensureRendererBuilt();
    p = await ports();
    // A small per-request scan bound, so a search needs many requests to cross a 10,000-event topic.
    collector = await startE2eCollector(collectorConfig(p, { token: TOKEN, admin: ['max_scan_rows: 1000'] }), TOKEN);
    // Three hours of orders, 100 an hour; every tenth one is an error.
    for (let h = 0; h < 3; h++) {
      const base = h * 100;
      const info = Array.from({ length: 100 }, (_, i) => base + i).filter((n) => n % 10 !== 0);
      const errors = Array.from({ length: 100 }, (_, i) => base + i).filter((n) => n % 10 === 0);
      // One request per level keeps offsets in order within the hour: errors first, then the rest.
      await produce(p.http, 'orders', errors.map((n) => ({ id: n, amount: n % 250, customer: `c${n % 7}`, note: 'failed payment' })), { ts: T0 + h * HOUR, headers: { level: 'error' }, key: `hour-${h}` });
      await produce(p.http, 'orders', info.map((n) => ({ id: n, amount: n % 250, customer: `c${n % 7}`, items: [{ sku: `A${n % 5}`, qty: 1 + (n % 3) }] })), { ts: T0 + h * HOUR + 1000, headers: { level: 'info' }, key: `hour-${h}` });
    }
    await produce(p.http, 'audit-log', [{ who: 'alice', what: 'login' }]);
    // A haystack: 10,000 events, the 3 needles at its very end.
    for (let i = 0; i < 10; i++) await produce(p.http, 'haystack', Array.from({ length: 1000 }, (_, j) => ({ n: i * 1000 + j })), { headers: { kind: 'hay' } });
    await produce(p.http, 'haystack', [{ n: 'needle-1' }, { n: 'needle-2' }, { n: 'needle-3' }], { headers: { kind: 'needle' } });
    s = await openBrowser();
  }, scaled(180_000));

  afterAll(async () => {
    await s?.close();
    await collector?.kill();
    if (collector) removeDir(collector.dir);
  });

  it('connects: asks for the token, then shows the collector', async () => {
    const { page } = s;
    await page.goto(`${collector.adminUrl}/`);
    // The page's own origin is the default connection; without the token the API refuses.
    await page.getByText('requires a token').waitFor();
    await screenshot(page, 'desktop-connect-needs-token');
    await page.getByRole('button', { name: 'Edit connections' }).click();
    await page.getByTestId('connection-this').getByRole('button', { name: 'Edit' }).click();
    await page.getByLabel('Token').fill(TOKEN);
    await page.getByRole('button', { name: 'Save and open' }).click();
    await page.getByRole('heading', { name: /Overview/ }).waitFor();
    await page.getByText('e2e-desktop').first().waitFor();
    await page.locator('table.grid').filter({ hasText: 'Sources' }).or(page.locator('td', { hasText: 'web' })).first().waitFor();

    // A second connection that is down shows its status at a glance.
    await visit(page, `${collector.adminUrl}/#/connections`);
    await page.getByRole('button', { name: 'Add connection' }).click();
    await page.getByLabel('Name').fill('edge-offline');
    await page.getByLabel('Admin URL').fill(`http://127.0.0.1:${await freePort()}`);
    await page.getByRole('button', { name: 'Save and open' }).click();
    await visit(page, `${collector.adminUrl}/#/connections`);
    await page.getByText('Unreachable').waitFor();
    await page.getByTestId('connection-this').getByText(/e2e-desktop · v/).waitFor();
    await screenshot(page, 'desktop-connections');
    // Back to the real collector; the saved connections survive a reload (localStorage).
    await page.getByTestId('connection-this').getByRole('button', { name: 'Open' }).click();
    await page.reload();
    await page.getByRole('heading', { name: /Overview/ }).waitFor();
    await page.locator('td', { hasText: /^web$/ }).waitFor();
    await screenshot(page, 'desktop-overview');
    // The refusals above (401 before the token, the offline collector) were the point; from here on
    // the page must log no errors.
    s.problems.length = 0;
  });

  it('shows topics, searches them by name, and opens one', async () => {
    const { page } = s;
    await visit(page, `${collector.adminUrl}/#/topics`);
    await page.locator('tr[data-topic="orders"]').waitFor();
    await page.locator('tr[data-topic="audit-log"]').waitFor();
    await page.getByLabel('Search topics').fill('ord');
    await until(async () => (await page.locator('tr[data-topic="audit-log"]').count()) === 0, { what: 'search to hide audit-log' });
    const row = page.locator('tr[data-topic="orders"]');
    expect(await row.locator('td').nth(3).textContent()).toBe('300');
    await screenshot(page, 'desktop-topics');
    await row.getByRole('button', { name: 'Messages' }).click();
    await page.getByRole('heading', { name: 'orders' }).waitFor();
    // Opened at the newest events: the last offset is on screen, with its data.
    const last = page.locator('[data-offset="299"]');
    await last.waitFor();
    await until(async () => ((await last.textContent()) ?? '').includes(day(T0 + 2 * HOUR)), { what: 'row 299 to load' });
    await screenshot(page, 'desktop-messages');
  });

  it('a topic page: offsets, retention, who reads it and how far behind; produce a test event; truncate after a confirmation', async () => {
    const { page } = s;
    await produce(p.http, 'scratch', Array.from({ length: 50 }, (_, i) => ({ i })));
    await produce(p.http, 'scratch', Array.from({ length: 50 }, (_, i) => ({ i: 50 + i })));
    // A consumer group that has read 30 of the 100.
    await collector.api('/api/v1/groups/auditors/commit', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ offsets: [{ topic: 'scratch', offset: 30 }] }) });
    await visit(page, `${collector.adminUrl}/#/topics`);
    await page.locator('tr[data-topic="scratch"]').getByRole('button', { name: 'scratch' }).click();
    await page.getByRole('heading', { name: 'scratch' }).waitFor();
    const view = page.locator('.topic-view');
    await view.getByText('offsets 0 … 99 · 100 events').waitFor();
    await view.getByText('7 days').waitFor(); // the default retention
    const reader = page.locator('tr[data-reader="group:auditors"]');
    await reader.waitFor();
    expect(await reader.locator('td').nth(3).textContent()).toMatch(/^70/);

    // Produce: a JSON body with a key and a header, stored at the next offset.
    await page.getByLabel('Event body').fill('{"probe": true}');
    await page.getByLabel('Event key').fill('k-1');
    await page.getByLabel('Event headers').fill('env=test');
    await page.getByRole('button', { name: 'Produce', exact: true }).click();
    await page.getByText('Stored at offset 100.').waitFor();
    const stored = await collector.api<{ events: { key: string; headers: Record<string, string>; body: unknown }[] }>('/api/v1/topics/scratch/events?from=100&limit=1');
    expect(stored.events[0]).toMatchObject({ key: 'k-1', headers: { env: 'test' }, body: { probe: true } });
    // A header without name=value is an inline mistake, nothing is produced.
    await page.getByLabel('Event headers').fill('oops');
    await page.getByRole('button', { name: 'Produce', exact: true }).click();
    await page.getByText(/"oops" has no name=value/).waitFor();
    await screenshot(page, 'desktop-topic');

    // Truncate before 50: the confirmation names the group that has not read that far; Cancel keeps all.
    await page.getByLabel('Delete before offset').fill('50');
    await page.getByRole('button', { name: 'Delete…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Confirm truncate' });
    await dialog.getByText('Not read yet by: auditors (20 events)').waitFor();
    await screenshot(page, 'desktop-topic-truncate');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    expect((await collector.api<{ low: number }>('/api/v1/topics/scratch')).low).toBe(0);
    await page.getByRole('button', { name: 'Delete…' }).click();
    await dialog.getByRole('button', { name: 'Yes, delete them' }).click();
    await page.getByText(/Deleted 50 events .*; the topic now starts at offset 50\./).waitFor();
    expect(await collector.api('/api/v1/topics/scratch')).toMatchObject({ low: 50, high: 101, count: 51 });
    await view.getByText('offsets 50 … 100 · 51 events').waitFor();
    expect(s.problems).toEqual([]);
  });

  it('jumps to an offset and to a time', async () => {
    const { page } = s;
    await visit(page, `${collector.adminUrl}/#/messages/orders`);
    await page.locator('[data-offset="299"]').waitFor();
    await page.getByPlaceholder('Offset').fill('42');
    await page.getByPlaceholder('Offset').press('Enter');
    const row42 = page.locator('[data-offset="42"]');
    await row42.waitFor();
    await until(async () => (await row42.getAttribute('aria-selected')) === 'true', { what: 'offset 42 selected' });
    await until(async () => /"id":\d+/.test((await row42.textContent()) ?? ''), { what: 'offset 42 loaded' });
    expect(await row42.isVisible()).toBe(true);
    expect(page.url()).toContain('offset=42');

    // The start of the second hour: its first event is offset 100.
    await page.getByPlaceholder(/Time/).fill(new Date(T0 + HOUR).toISOString());
    await page.getByPlaceholder(/Time/).press('Enter');
    const row100 = page.locator('[data-offset="100"]');
    await until(async () => (await row100.getAttribute('aria-selected')) === 'true', { what: 'offset 100 selected after the time jump' });
    expect(await row100.textContent()).toContain('hour-1');
    await screenshot(page, 'desktop-jump-time');
  });

  it('answers input mistakes inline: a time it cannot read, an offset past the end', async () => {
    const { page } = s;
    await visit(page, `${collector.adminUrl}/#/messages/orders`);
    await page.locator('[data-offset="299"]').waitFor();
    await page.getByPlaceholder(/Time/).fill('yesterday-ish');
    await page.getByPlaceholder(/Time/).press('Enter');
    const problem = page.locator('.error-box');
    await problem.getByText('"yesterday-ish" is not a time').waitFor();
    expect(await problem.textContent()).toContain('Check what you entered');
    expect(await page.getByText('Something went wrong').count()).toBe(0);

    await page.getByPlaceholder('Offset').fill('999999');
    await page.getByPlaceholder('Offset').press('Enter');
    await problem.getByText(/Offset 999,999 is past the end: the topic holds offsets 0 … 299/).waitFor();
    const row299 = page.locator('[data-offset="299"]');
    await until(async () => (await row299.getAttribute('aria-selected')) === 'true', { what: 'the newest offset selected' });
    await screenshot(page, 'desktop-input-problem');
  });

  it('filters on the server: header, then JSONata', async () => {
    const { page } = s;
    await visit(page, `${collector.adminUrl}/#/messages/orders`);
    await page.locator('[data-offset="299"]').waitFor();
    await page.getByRole('button', { name: 'Oldest' }).click();
    await page.getByPlaceholder('Header name:value').fill('level:error');
    await page.getByRole('button', { name: 'Filter', exact: true }).click();
    const status = page.locator('.search-status');
    await until(async () => /30\s*matches/.test((await status.textContent()) ?? ''), { what: '30 error matches' });
    await until(async () => /reached the newest event/.test((await status.textContent()) ?? ''), { what: 'the scan to finish' });
    const rows = page.locator('.table-body .row[data-offset]');
    for (const text of await rows.allTextContents()) expect(text).toContain('failed payment');
    await screenshot(page, 'desktop-filter-header');

    await page.getByRole('button', { name: 'Clear' }).click();
    await page.getByPlaceholder(/JSONata/).fill('amount >= 240');
    await page.getByRole('button', { name: 'Filter', exact: true }).click();
    // ids 240–249 in the first hour, 0 in the others (amount = id % 250 ≥ 240 only for 240–249).
    await until(async () => /10\s*matches/.test((await status.textContent()) ?? ''), { what: '10 JSONata matches' });
    expect(page.url()).toContain('jsonata=');
    await screenshot(page, 'desktop-filter-jsonata');
  });

  it('a filter scan keeps going on its own, with progress, across many per-request bounds to the end', async () => {
    const { page } = s;
    await visit(page, `${collector.adminUrl}/#/messages/haystack`);
    await page.locator('[data-offset="10002"]').waitFor();
    await page.getByRole('button', { name: 'Oldest' }).click();
    await page.getByPlaceholder('Header name:value').fill('kind:needle');
    await page.getByRole('button', { name: 'Filter', exact: true }).click();
    const status = page.locator('.search-status');
    // Ten requests of at most 1,000 events each, none asked for by a click.
    await until(async () => /reached the newest event/.test((await status.textContent()) ?? ''), { what: 'the scan to reach the end without a click' });
    expect(await status.textContent()).toMatch(/3\s*matches[\s\S]*scanned 10,003 events/);
    expect(await page.locator('.table-body .row[data-offset]').allTextContents()).toEqual([expect.stringContaining('needle-1'), expect.stringContaining('needle-2'), expect.stringContaining('needle-3')]);
    expect(await status.getByRole('button', { name: 'Continue scanning' }).count()).toBe(0);
    await expect.poll(() => status.getByLabel('Scan bound').inputValue()).toBe('1000000');
    await screenshot(page, 'desktop-filter-scan');
  });

  it("opens an event's detail: headers, key, JSON tree, hex, copy as JSON; moves with the keyboard", async () => {
    const { page } = s;
    await visit(page, `${collector.adminUrl}/#/messages/orders?offset=150`);
    const row = page.locator('[data-offset="150"]');
    await row.waitFor();
    await row.click();
    const detail = page.getByRole('complementary', { name: 'Event 150' });
    await detail.waitFor();
    await detail.getByText('level').waitFor();
    expect(await detail.textContent()).toContain('hour-1');
    expect(await detail.locator('.json-tree').textContent()).toContain('"customer"');
    await screenshot(page, 'desktop-detail-json');
    await detail.getByRole('tab', { name: 'Hex' }).click();
    expect(await detail.locator('.hex-body').textContent()).toMatch(/^00000000 {2}7b 22/);
    await detail.getByRole('button', { name: 'Copy as JSON' }).click();
    await detail.getByText('Copied as JSON').waitFor();
    const copied = JSON.parse(await page.evaluate(() => navigator.clipboard.readText())) as { offset: number; key: string; headers: Record<string, string>; body: { id: number } };
    // Hour 1 holds offsets 100–199: its 10 errors first, then the 90 others (ids 101, 102, … 199 without 110, 120, …): offset 150 is id 145.
    expect(copied).toMatchObject({ offset: 150, key: 'hour-1', headers: { level: 'info' }, body: { id: 145 } });

    // Keyboard: the table has focus after the click; ↓ moves to 151, End to the newest.
    await page.keyboard.press('ArrowDown');
    await page.getByRole('complementary', { name: 'Event 151' }).waitFor();
    await page.keyboard.press('End');
    await page.getByRole('complementary', { name: 'Event 299' }).waitFor();
    await page.keyboard.press('Escape');
    await until(async () => (await page.locator('.detail-pane').count()) === 0, { what: 'detail to close' });
    expect(s.problems).toEqual([]);
  });

  it('exports a range as CSV (a download in the browser)', async () => {
    const { page } = s;
    await visit(page, `${collector.adminUrl}/#/messages/orders`);
    await page.getByRole('button', { name: 'Export…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Export' });
    await dialog.locator('select').selectOption('csv');
    await dialog.getByLabel('From offset').fill('10');
    await dialog.getByLabel('To offset (exclusive)').fill('15');
    const [download] = await Promise.all([page.waitForEvent('download'), dialog.getByRole('button', { name: 'Export', exact: true }).click()]);
    expect(download.suggestedFilename()).toBe('orders-10-14.csv');
    const path = await download.path();
    const lines = readFileSync(path, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(6); // a header and 5 events
    expect(lines[1]).toContain('10');
    await dialog.getByText('Downloaded orders-10-14.csv').waitFor();
    await screenshot(page, 'desktop-export');
    await page.keyboard.press('Escape');
    await until(async () => (await dialog.count()) === 0, { what: 'the export dialog to close on Escape' });
  });

  it('shows times with their zone, switches between local and UTC, and shows headers in the table', async () => {
    const { page } = s;
    await visit(page, `${collector.adminUrl}/#/messages/orders?offset=100`);
    const row100 = page.locator('[data-offset="100"]');
    await until(async () => ((await row100.textContent()) ?? '').includes('hour-1'), { what: 'offset 100 loaded' });
    const head = page.locator('.table-head .c-time');
    const utc = new Date(T0 + HOUR).toISOString().replace('T', ' ').replace('Z', '');
    await page.getByRole('button', { name: 'Show times in UTC' }).click();
    await until(async () => (await head.textContent()) === 'Time (UTC)', { what: 'the UTC column header' });
    expect(await row100.locator('.c-time').textContent()).toBe(utc);
    expect(await row100.locator('.c-headers').textContent()).toBe('level=error');
    await screenshot(page, 'desktop-utc');
    await page.getByRole('button', { name: 'Show times in local time' }).click();
    await until(async () => /^Time \(UTC[+-]\d\d:\d\d\)$/.test((await head.textContent()) ?? ''), { what: 'the local zone in the column header' });
  });

  it('switches to the dark theme', async () => {
    const { page } = s;
    await visit(page, `${collector.adminUrl}/#/messages/orders?offset=120`);
    await page.locator('[data-offset="120"]').click();
    await page.getByRole('button', { name: /Switch to dark theme/ }).click();
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe('dark');
    await page.getByRole('complementary', { name: 'Event 120' }).getByText('level').waitFor();
    await screenshot(page, 'desktop-dark');
    await page.getByRole('button', { name: /Switch to light theme/ }).click();
  });
});
