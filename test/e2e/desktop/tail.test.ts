/**
 * Live tail in Chromium while events are produced into a real collector: rows arrive, the rate
 * shows, pause holds new events back (and resume shows them), a filter narrows what is sent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeDir, scaled, until, type CollectorProcess } from '../../helpers/process.ts';
import { collectorConfig, ensureRendererBuilt, hasChromium, openBrowser, ports, produce, screenshot, startE2eCollector, visit, type BrowserSession, type Ports } from './harness.ts';

describe.skipIf(!hasChromium)('desktop UI: live tail', () => {
  let p: Ports;
  let collector: CollectorProcess;
  let s: BrowserSession;

  beforeAll(async () => {
    await ensureRendererBuilt();
    p = await ports();
    collector = await startE2eCollector(collectorConfig(p));
    await produce(p.http, 'clicks', [{ seq: -1, page: '/warmup' }]);
    s = await openBrowser();
  }, scaled(180_000));

  afterAll(async () => {
    await s?.close();
    await collector?.kill();
    if (collector) removeDir(collector.dir);
  });

  /** Produces one event every `everyMs` until stopped; resolves with how many were sent. */
  function producing(everyMs: number, make: (i: number) => unknown) {
    let stop = false;
    let sent = 0;
    const done = (async () => {
      while (!stop) {
        await produce(p.http, 'clicks', [make(sent)]);
        sent++;
        await new Promise((r) => setTimeout(r, everyMs));
      }
      return sent;
    })();
    return { stop: () => ((stop = true), done), sent: () => sent };
  }

  const rows = (s: BrowserSession) => s.page.locator('[data-testid="tail-table"] .row[data-offset]');

  it('shows events as they are produced, with a rate; pause holds them, resume shows them', async () => {
    const { page } = s;
    await visit(page, `${collector.adminUrl}/#/tail/clicks`);
    await page.locator('.tail-stats').getByText('live', { exact: true }).waitFor();
    // The newest event before the tail opened is shown first ("start with last 20").
    await page.locator('[data-offset="0"]').waitFor();

    const run = producing(100, (i) => ({ seq: i, page: `/p/${i % 4}` }));
    await until(async () => (await rows(s).count()) >= 12, { what: '12 live rows', timeoutMs: 20_000 });
    await until(async () => /^[1-9][\d.]*\/s$/.test((await page.getByTestId('tail-rate').textContent()) ?? ''), { what: 'a non-zero rate', timeoutMs: 10_000 });
    await screenshot(page, 'desktop-tail-live');

    await page.getByRole('button', { name: 'Pause' }).click();
    const shownWhenPaused = await rows(s).count();
    await until(async () => /held while paused/.test((await page.locator('.tail-stats').textContent()) ?? ''), { what: 'events held while paused' });
    await new Promise((r) => setTimeout(r, 500));
    expect(await rows(s).count()).toBe(shownWhenPaused);
    await screenshot(page, 'desktop-tail-paused');
    await page.getByRole('button', { name: 'Resume' }).click();
    const sent = await run.stop();
    // Every produced event is in the list, once: the warm-up (0) and offsets 1…sent. The table is
    // virtualized, so it says how many lines it holds; the rows on screen are consecutive and end
    // with the newest.
    const table = page.getByTestId('tail-table');
    await until(async () => (await table.getAttribute('data-count')) === String(sent + 1), { what: `all ${sent + 1} lines after resume`, timeoutMs: 5000 }).catch(async (e) => { throw new Error(`${(e as Error).message}; table says ${await table.getAttribute('data-count')} lines, last ${await table.getAttribute('data-last-offset')}`); });
    expect(await table.getAttribute('data-last-offset')).toBe(String(sent));
    await until(async () => {
      const offsets = await rows(s).evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-offset'))));
      return offsets.at(-1) === sent && offsets.every((o, i) => i === 0 || o === offsets[i - 1] + 1);
    }, { what: 'the newest rows on screen, in order' });
  });

  it('filters on the collector: only matching events arrive', async () => {
    const { page } = s;
    await visit(page, `${collector.adminUrl}/#/tail/clicks`);
    await page.locator('.tail-stats').getByText('live', { exact: true }).waitFor();
    await page.getByLabel('Start with last').selectOption('0');
    await page.getByPlaceholder('Body contains').fill('checkout');
    await page.getByRole('button', { name: 'Filter', exact: true }).click();
    await page.getByText('Filtered on the collector').waitFor();
    await page.locator('.tail-stats').getByText('live', { exact: true }).waitFor();
    await page.getByText('Waiting for events…').waitFor();
    for (let i = 0; i < 6; i++) await produce(p.http, 'clicks', [{ seq: 1000 + i, page: i % 2 === 0 ? '/checkout' : '/home' }]);
    await until(async () => (await rows(s).count()) === 3, { what: '3 checkout rows' });
    await new Promise((r) => setTimeout(r, 500));
    const texts = await rows(s).allTextContents();
    expect(texts).toHaveLength(3);
    for (const t of texts) expect(t).toContain('/checkout');
    await screenshot(page, 'desktop-tail-filtered');
    expect(s.problems).toEqual([]);
  });

  it('charts throughput on the overview while events flow', async () => {
    const { page } = s;
    await visit(page, `${collector.adminUrl}/#/overview`);
    const run = producing(50, (i) => ({ seq: 5000 + i, page: '/overview' }));
    // Two samples 2 s apart make the first throughput point.
    await page.locator('.chart').first().waitFor({ timeout: scaled(15_000) });
    await until(async () => /^[1-9][\d.]*\/s$/.test(((await page.locator('td.num').first().textContent()) ?? '').trim()), { what: 'a source rate above zero', timeoutMs: 15_000 });
    await new Promise((r) => setTimeout(r, 4000));
    await screenshot(page, 'desktop-overview-throughput');
    await run.stop();
    expect(s.problems).toEqual([]);
  });
});
