/**
 * The interceptor editor in Chromium against a real collector: edit a step with the form made from
 * its schema, add a step, with a live preview on sampled events as it is typed (before/after side
 * by side, changed lines and the drop marked with its reason), apply it live, and see new events
 * change accordingly — and the config file too.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeDir, scaled, until, type CollectorProcess } from '../../helpers/process.ts';
import { collectorConfig, ensureRendererBuilt, hasChromium, openBrowser, ports, produce, screenshot, startE2eCollector, visit, type BrowserSession, type Ports } from './harness.ts';

interface Browse {
  events: { offset: number; headers: Record<string, string>; body: { msg: string } }[];
}

describe.skipIf(!hasChromium)('desktop UI: interceptors', () => {
  let p: Ports;
  let collector: CollectorProcess;
  let s: BrowserSession;

  beforeAll(async () => {
    await ensureRendererBuilt();
    p = await ports();
    const chain = ['- type: static', '  header: env', '  value: dev', '  preserve_existing: false'].join('\n');
    collector = await startE2eCollector(collectorConfig(p, { interceptors: chain, extra: '# Comments outside the chain survive an apply.' }));
    await produce(p.http, 'app', ['started', 'user login', 'debug: cache warm', 'order placed', 'user logout'].map((msg) => ({ msg })));
    s = await openBrowser();
  }, scaled(180_000));

  afterAll(async () => {
    await s?.close();
    await collector?.kill();
    if (collector) removeDir(collector.dir);
  });

  it('edits, adds, previews and applies a chain; new events change accordingly', async () => {
    const { page } = s;
    await visit(page, `${collector.adminUrl}/#/interceptors/web`);
    const step1 = page.locator('.chain-item[data-step="0"]');
    await step1.getByText('value: dev').waitFor();

    // The preview is live from the start: the running chain on the newest events of "app".
    await page.locator('select[name="sampleTopic"]').selectOption('app');
    const summary = page.locator('.preview-summary');
    const summaryText = async () => ((await summary.textContent()) ?? '').replace(/\s+/g, ' ');
    await until(async () => (await summaryText()).includes('5 sampled from app · 5 kept · 0 dropped'), { what: 'the live preview of the running chain' });

    // Edit step 1 through its generated form: the preview follows every keystroke, before "Update draft".
    await step1.getByRole('button', { name: 'Edit' }).click();
    await page.locator('#step-0-value').fill('prod');
    const changed = page.locator('.preview-cell[data-changed="true"]');
    await until(async () => (await changed.count()) === 5, { what: 'the preview to show the edited value' });
    await page.getByRole('button', { name: 'Update draft' }).click();
    await step1.getByText('value: prod').waitFor();

    // Add a step: drop anything mentioning "debug". While it is typed, the preview already drops it.
    await page.getByLabel('Interceptor type to add').selectOption('regex_filter');
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    await page.locator('#step-new-pattern').fill('debug');
    await page.locator('#step-new-exclude').check();
    await until(async () => (await summaryText()).includes('5 sampled from app · 4 kept · 1 dropped'), { what: 'the live preview with the step being typed' });
    await screenshot(page, 'desktop-interceptors-form');
    await page.getByRole('button', { name: 'Add to draft' }).click();
    const step2 = page.locator('.chain-item[data-step="1"][data-type="regex_filter"]');
    await step2.waitFor();
    // A collapsed step says what defines it first, and not the settings left at their defaults.
    const step2Config = (await step2.locator('.config').textContent()) ?? '';
    expect(step2Config).toBe('pattern: debug · exclude: true');
    await page.getByText(/Unsaved draft/).waitFor();

    // Before and after side by side: the drop marked with its step and reason, changes marked line by line.
    await until(async () => (await summaryText()).includes('5 sampled from app · 4 kept · 1 dropped'), { what: 'the preview of the draft' });
    const dropped = page.locator('.preview-cell[data-dropped="true"]');
    expect(await dropped.count()).toBe(1);
    expect(await dropped.textContent()).toContain('Dropped by step 2 (regex_filter)');
    expect(await dropped.textContent()).toContain('matches /debug/ and the step excludes matches');
    expect(await changed.count()).toBe(4);
    for (const text of await changed.locator('[data-diff="added"]').allTextContents()) expect(text).toBe('env: prod');
    expect(await changed.locator('[data-diff="added"]').count()).toBe(4);
    expect(await page.locator('.preview-cell [data-diff="removed"]').allTextContents()).toEqual(Array(4).fill('env: dev'));
    await screenshot(page, 'desktop-interceptors-preview');
    // Nothing is applied by a preview.
    await produce(p.http, 'app', [{ msg: 'between preview and apply' }]);
    const between = await collector.api<Browse>('/api/v1/topics/app/events?last=1');
    expect(between.events[0].headers.env).toBe('dev');

    await page.getByRole('button', { name: 'Apply' }).click();
    await page.getByText(/Applied: version 2/).waitFor();
    expect(await page.getByText(/written to the config file/).count()).toBe(1);
    await screenshot(page, 'desktop-interceptors-applied');

    // New events go through the new chain: env=prod, and the debug one is dropped.
    const high = between.events[0].offset + 1;
    await produce(p.http, 'app', [{ msg: 'after apply' }, { msg: 'debug: after apply' }, { msg: 'last one' }]);
    const after = await collector.api<Browse>(`/api/v1/topics/app/events?from=${high}`);
    expect(after.events.map((e) => [e.body.msg, e.headers.env])).toEqual([['after apply', 'prod'], ['last one', 'prod']]);
    // The config file carries the chain, and keeps its comments.
    const yaml = readFileSync(collector.configFile!, 'utf8');
    expect(yaml).toContain('value: prod');
    expect(yaml).toContain('regex_filter');
    expect(yaml).toContain('# Comments outside the chain survive an apply.');

    // And the message browser shows it.
    await visit(page, `${collector.adminUrl}/#/messages/app?offset=${high + 1}`);
    const row = page.locator(`[data-offset="${high + 1}"]`);
    await until(async () => ((await row.textContent()) ?? '').includes('last one'), { what: 'the newest event in the table' });
    await row.click();
    const detail = page.locator('.detail-pane');
    await detail.getByText('prod', { exact: true }).waitFor();
    await screenshot(page, 'desktop-interceptors-new-events');
    expect(s.problems).toEqual([]);
  });

  it('shows validation problems with their paths and will not apply them', async () => {
    const { page } = s;
    await visit(page, `${collector.adminUrl}/#/interceptors/web`);
    await page.locator('.chain-item[data-step="1"]').waitFor();
    await page.locator('.chain-item[data-step="1"]').getByRole('button', { name: 'Edit' }).click();
    await page.getByLabel('as JSON').check();
    await page.locator('.step-editor textarea').fill('{ "pattern": "(", "exclude": true }');
    await page.getByRole('button', { name: 'Update draft' }).click();
    const problem = page.getByRole('alert').filter({ hasText: 'not valid' });
    await problem.getByText(/sources\.web\.interceptors\[1\]\.pattern: invalid regular expression/).waitFor();
    expect(await page.getByRole('button', { name: 'Apply' }).isDisabled()).toBe(true);
    await screenshot(page, 'desktop-interceptors-invalid');
  });
});
