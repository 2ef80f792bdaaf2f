/**
 * The message table on a 1,000,000-event topic (50,000 with --quick), in headless Chromium against
 * a real `sluice start` process that filled the topic with its generator source (200-byte JSON
 * events). Measured in the browser, where the user is:
 *   ui.open_topic    ms from clicking Messages on the topic's row in Topics until the newest rows show with their
 *                    data (median of 7 opens). Baseline: a plain fetch() from the same page of the
 *                    window the table shows first (the newest 200 events).
 *   ui.scroll_fetch  ms per window fetch while scrolling to 40 random places in the table: the
 *                    `sluice:page-fetch` measures the table records (request → rows decoded),
 *                    median. Baseline: plain fetch() + JSON parse of the same windows from the page.
 */
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { ensureRendererBuilt, CHROMIUM, hasChromium } from '../e2e/desktop/harness.ts';
import { freePort, removeDir, startCollector, tempDir, until } from '../helpers/process.ts';
import { defineBench, median, prng, type BenchContext } from './harness.ts';

const TOPIC = 'bench';
const ROW_HEIGHT = 28;
const PAGE = 200;

interface Topic {
  high: number;
  low: number;
}

/** Waits until the row of `offset` shows its data; resolves with the page's clock at that frame. */
async function rowLoaded(page: Page, offset: number): Promise<number> {
  const handle = await page.waitForFunction((o) => {
    const row = document.querySelector(`[data-offset="${o}"] .c-time`);
    return row !== null && (row.textContent ?? '') !== '' ? performance.now() : false;
  }, offset, { timeout: 30_000, polling: 'raf' });
  return (await handle.jsonValue()) as number;
}

/** ms to fetch and parse each URL with plain fetch() in the page (the same client the UI is). */
async function pageFetchTimes(page: Page, urls: string[]): Promise<number[]> {
  return page.evaluate(async (list) => {
    const out: number[] = [];
    for (const u of list) {
      const t0 = performance.now();
      const res = await fetch(u, { cache: 'no-store' });
      await res.json();
      out.push(performance.now() - t0);
    }
    return out;
  }, urls);
}

async function run(b: BenchContext): Promise<void> {
  if (!hasChromium) throw new Error(`no Chromium at ${CHROMIUM} (set SLUICE_CHROMIUM)`);
  await ensureRendererBuilt();
  const count = b.quick ? 50_000 : 1_000_000;
  const [admin, dir] = [await freePort(), tempDir('sluice-bench-ui-')];
  const config = [
    'channel:',
    '  path: ./data',
    '  max_bytes: 4GiB',
    'admin:',
    `  listen: 127.0.0.1:${admin}`,
    'sources:',
    '  gen:',
    '    type: generator',
    `    topic: ${TOPIC}`,
    '    rate: 0',
    `    count: ${count}`,
    '    size: 200',
  ].join('\n');
  b.log(`filling "${TOPIC}" with ${count.toLocaleString('en-US')} events through the generator source…`);
  const collector = await startCollector({ config, dir });
  let context: BrowserContext | null = null;
  const profile = tempDir('sluice-bench-chromium-');
  try {
    const t0 = Date.now();
    await until(async () => (await collector.api<Topic>(`/api/v1/topics/${TOPIC}`)).high >= count, { timeoutMs: 600_000, intervalMs: 500, what: `${count} events` });
    b.log(`filled in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const { high } = await collector.api<Topic>(`/api/v1/topics/${TOPIC}`);

    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
      viewport: { width: 1440, height: 900 },
    });
    const page = context.pages()[0] ?? (await context.newPage());

    // ui.open_topic: Topics → Messages → the newest rows show with their data.
    const opens: number[] = [];
    for (let i = 0; i < 7; i++) {
      await page.goto('about:blank');
      await page.goto(`${collector.adminUrl}/#/topics`);
      await page.locator(`tr[data-topic="${TOPIC}"]`).waitFor();
      // Clicked and timed in the page, so the driver's round trips are not counted.
      const start = await page.evaluate((t) => {
        const now = performance.now();
        // The row's Messages button (its name opens the topic page).
        [...document.querySelectorAll<HTMLButtonElement>(`tr[data-topic="${t}"] button`)].find((b) => b.textContent === 'Messages')!.click();
        return now;
      }, TOPIC);
      opens.push((await rowLoaded(page, high - 1)) - start);
    }
    const firstWindow = Math.floor((high - 1) / PAGE) * PAGE;
    const openBaseline = await pageFetchTimes(page, Array.from({ length: 7 }, () => `${collector.adminUrl}/api/v1/topics/${TOPIC}/events?from=${firstWindow}&limit=${Math.min(PAGE, high - firstWindow)}&raw=false`));
    b.figure('ui.open_topic', {
      value: median(opens),
      unit: 'ms',
      better: 'lower',
      baseline: median(openBaseline),
      notes: `Median of 7, timed in the page: click on the topic in Topics → the first frame where the newest rows of a ${count.toLocaleString('en-US')}-event topic show with their data (route change, React render of the virtualized table, one window fetch; the topic's offsets come from the Topics view's cache). Baseline: plain fetch()+JSON of that window from the same page.`,
    });

    // ui.scroll_fetch: scroll to random places; every window the table fetches is measured.
    await page.evaluate(() => performance.clearMeasures('sluice:page-fetch'));
    const body = page.getByTestId('message-table');
    const rows = await body.getAttribute('aria-rowcount');
    const rowCount = Number(rows);
    const base = high - rowCount; // the table's window ends at the newest event
    const random = prng(42);
    const targets = Array.from({ length: 40 }, () => Math.floor(random() * (rowCount - 40)));
    for (const index of targets) {
      await body.evaluate((el, top) => {
        el.scrollTop = top;
      }, index * ROW_HEIGHT);
      await rowLoaded(page, base + index + 5);
    }
    const fetches = await page.evaluate(() => performance.getEntriesByName('sluice:page-fetch').map((e) => e.duration));
    const windows = targets.map((i) => Math.floor((base + i) / PAGE) * PAGE);
    const scrollBaseline = await pageFetchTimes(page, windows.map((from) => `${collector.adminUrl}/api/v1/topics/${TOPIC}/events?from=${from}&limit=${PAGE}&raw=false`));
    b.figure('ui.scroll_fetch', {
      value: median(fetches),
      unit: 'ms',
      better: 'lower',
      baseline: median(scrollBaseline),
      notes: `Median over ${fetches.length} window fetches (${PAGE} events each) made by the table while jumping to 40 random places among ${rowCount.toLocaleString('en-US')} rows. Baseline: plain fetch()+JSON of the same windows from the same page.`,
    });
  } finally {
    await context?.close();
    await collector.kill();
    removeDir(dir);
    removeDir(profile);
  }
}

export default defineBench({
  name: 'ui',
  summary: 'Desktop message table on a 1M-event topic in Chromium: time to first rows, time per window fetch while scrolling',
  run,
});
