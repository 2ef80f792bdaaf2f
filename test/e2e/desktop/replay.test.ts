/**
 * Replay in Chromium against a real collector whose http sink delivers to a slow receiver: the
 * dry-run shows what would be re-sent and changes nothing; executing (after confirming) moves the
 * cursor, the lag jumps and then drains as the sink re-delivers; the receiver gets every event again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeDir, scaled, until, type CollectorProcess } from '../../helpers/process.ts';
import { collectorConfig, ensureRendererBuilt, hasChromium, openBrowser, ports, produce, screenshot, slowReceiver, startE2eCollector, visit, type BrowserSession, type Ports } from './harness.ts';

interface Sink {
  lag: number;
  topics: { topic: string; cursor: number; lag: number }[];
}

describe.skipIf(!hasChromium)('desktop UI: replay', () => {
  let p: Ports;
  let collector: CollectorProcess;
  let s: BrowserSession;
  let receiver: Awaited<ReturnType<typeof slowReceiver>>;
  let flaky: Awaited<ReturnType<typeof slowReceiver>>;

  beforeAll(async () => {
    await ensureRendererBuilt();
    // 5 events per batch, 150 ms per batch: re-sending 120 events takes about 3.6 s.
    receiver = await slowReceiver(150);
    // A second destination that refuses its first two requests, then takes everything.
    flaky = await slowReceiver(0, { failFirst: 2 });
    p = await ports();
    const sink = ['sinks:', '  archive:', '    type: http', `    url: ${receiver.url}`, '    topics: [payments]', '    batch:', '      max_events: 5',
      '  flaky:', '    type: http', `    url: ${flaky.url}`, '    topics: [payments]', '    retry:', '      initial: 100ms'].join('\n');
    collector = await startE2eCollector(collectorConfig(p, { extra: sink }));
    for (let i = 0; i < 4; i++) await produce(p.http, 'payments', Array.from({ length: 30 }, (_, j) => ({ n: i * 30 + j, amount: 10 + j })));
    await until(async () => (await collector.api<Sink>('/api/v1/sinks/archive')).lag === 0 && receiver.received() === 120, { what: 'first delivery', timeoutMs: 30_000 });
    s = await openBrowser();
  }, scaled(180_000));

  afterAll(async () => {
    await s?.close();
    await collector?.kill();
    await receiver?.close();
    await flaky?.close();
    if (collector) removeDir(collector.dir);
  });

  it("shows a sink's last error with when it happened, and as over once it delivers again", async () => {
    const { page } = s;
    await until(async () => (await collector.api<Sink>('/api/v1/sinks/flaky')).lag === 0 && flaky.received() === 120, { what: 'the flaky sink to recover' });
    await visit(page, `${collector.adminUrl}/#/overview`);
    const recovered = page.locator('[data-error-state="recovered"]');
    await recovered.waitFor();
    expect(await recovered.textContent()).toMatch(/^recovered · .+: .*503/);
    expect(await page.locator('[data-error-state="current"]').count()).toBe(0);
    await screenshot(page, 'desktop-overview-recovered');
  });

  it('dry-runs, then executes a replay to the earliest event and shows the lag move', async () => {
    const { page } = s;
    await visit(page, `${collector.adminUrl}/#/replay/archive`);
    await page.getByLabel('Replay topic payments').waitFor();
    await page.getByTestId('lag-payments').getByText('0').waitFor();

    await page.getByLabel('Earliest kept').check();
    await page.getByRole('button', { name: 'Dry run' }).click();
    await page.getByText('Dry run: nothing has changed yet').waitFor();
    expect(await page.getByTestId('plan-redeliver').textContent()).toBe('120');
    await screenshot(page, 'desktop-replay-dry-run');
    // A dry run changes nothing.
    const before = await collector.api<Sink>('/api/v1/sinks/archive');
    expect(before.topics[0].cursor).toBe(120);
    expect(receiver.received()).toBe(120);

    await page.getByRole('button', { name: 'Execute…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Confirm replay' });
    await dialog.getByText('will receive').waitFor();
    expect(await dialog.textContent()).toContain('120');
    await screenshot(page, 'desktop-replay-confirm');
    await dialog.getByRole('button', { name: 'Yes, move the cursor' }).click();
    await page.getByText(/Replay executed at/).waitFor();

    // The lag shown jumps above zero while the sink re-delivers, then drains to zero.
    const lag = page.getByTestId('replay-lag');
    await until(async () => Number((await lag.textContent())?.replace(/,/g, '')) > 0, { what: 'lag above zero after the replay', timeoutMs: 5000 });
    await screenshot(page, 'desktop-replay-lag');
    await until(async () => (await lag.textContent()) === '0', { what: 'lag back to zero', timeoutMs: 30_000 });
    expect(receiver.received()).toBe(240);
    await page.locator('.chart').waitFor();
    await screenshot(page, 'desktop-replay-done');
    expect(s.problems).toEqual([]);
  });

  it('explains a refused replay', async () => {
    const { page } = s;
    await visit(page, `${collector.adminUrl}/#/replay/archive`);
    await page.getByLabel('Replay topic payments').waitFor();
    await page.getByLabel('Offset', { exact: true }).check();
    await page.getByLabel('Target value').fill('5000');
    await page.getByRole('button', { name: 'Dry run' }).click();
    const error = page.getByRole('alert');
    await error.getByText(/beyond the end/).waitFor();
    expect(await error.textContent()).toContain('What to do');
    await screenshot(page, 'desktop-replay-refused');
    s.problems.length = 0; // the browser logs the 400 it was meant to get
  });

  it('shows consumer groups with their lag, and replays a group', async () => {
    const { page } = s;
    // A consumer group that has read and committed 100 of the 120 events, through the consumer API.
    await collector.api('/api/v1/groups/billing/commit', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ offsets: [{ topic: 'payments', offset: 100 }] }) });
    await visit(page, `${collector.adminUrl}/#/groups`);
    const card = page.locator('[data-group="billing"]');
    await card.getByText('total lag 20').waitFor();
    await screenshot(page, 'desktop-groups');

    // Reset offsets… opens the replay form on the group, with a dry run first.
    await card.getByRole('button', { name: 'Reset offsets…' }).click();
    expect(await page.locator('select[name="consumer"]').inputValue()).toBe('group');
    expect(await page.getByPlaceholder('group name').inputValue()).toBe('billing');
    await page.getByLabel('Replay topic payments').waitFor();
    await page.getByLabel('Latest (skip all)').check();
    await page.getByRole('button', { name: 'Dry run' }).click();
    await page.getByText('Dry run: nothing has changed yet').waitFor();
    await page.getByRole('button', { name: 'Execute…' }).click();
    await page.getByRole('dialog', { name: 'Confirm replay' }).getByRole('button', { name: 'Yes, move the cursor' }).click();
    await page.getByText(/Replay executed at/).waitFor();
    await until(async () => (await page.getByTestId('replay-lag').textContent()) === '0', { what: 'group lag 0 after skipping to the end' });
    expect(s.problems).toEqual([]);
  });
});
