/**
 * What the desktop end-to-end tests share: the renderer build (made when missing or stale), a
 * real collector started with `sluice start` on free ports, events sent to its HTTP source, a
 * headless Debian Chromium driven by playwright-core, screenshots in test/screenshots/.
 *
 * The UI under test is the one the collector serves at / of its admin address — the same build
 * the Electron shell loads.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { freePort, REPO, scaled, startCollector, tempDir, type CollectorProcess } from '../../helpers/process.ts';

export const CHROMIUM = process.env.SLUICE_CHROMIUM ?? '/usr/bin/chromium';
export const SCREENSHOTS = join(REPO, 'test/screenshots');
const RENDERER = join(REPO, 'desktop/renderer');
const DIST_INDEX = join(RENDERER, 'dist/index.html');
const LOCK = join(REPO, 'desktop/renderer/.build-lock');

export const hasChromium = existsSync(CHROMIUM);

function newestMtime(paths: string[]): number {
  let max = 0;
  const walk = (p: string) => {
    if (!existsSync(p)) return;
    const s = statSync(p);
    if (s.isDirectory()) {
      for (const name of readdirSync(p)) if (name !== 'dist' && name !== 'node_modules') walk(join(p, name));
    } else if (s.mtimeMs > max) max = s.mtimeMs;
  };
  for (const p of paths) walk(p);
  return max;
}

export function rendererStale(): boolean {
  if (!existsSync(DIST_INDEX)) return true;
  return statSync(DIST_INDEX).mtimeMs < newestMtime([RENDERER, join(REPO, 'desktop/bridge.ts'), join(REPO, 'shared/src/api')]);
}

/**
 * Builds the renderer (vite build) when dist is missing or older than its sources. Test files
 * run in parallel workers: a lock folder makes one of them build while the others wait.
 */
export async function ensureRendererBuilt(): Promise<void> {
  const deadline = Date.now() + scaled(180_000);
  while (rendererStale()) {
    let locked = false;
    try {
      mkdirSync(LOCK);
      locked = true;
    } catch {
      // Another worker is building; a lock older than 3 minutes is left over from a crash.
      if (existsSync(LOCK) && Date.now() - statSync(LOCK).mtimeMs > 180_000) rmSync(LOCK, { recursive: true, force: true });
    }
    if (locked) {
      try {
        // In a child process with NODE_ENV=production: under vitest NODE_ENV is `test`, and Vite
        // would build a development React.
        if (rendererStale()) buildRenderer();
      } finally {
        rmSync(LOCK, { recursive: true, force: true });
      }
      return;
    }
    if (Date.now() > deadline) throw new Error('timed out waiting for another worker to build the renderer');
    await new Promise((r) => setTimeout(r, 250));
  }
}

export function buildRenderer(): void {
  const vite = join(REPO, 'node_modules/vite/bin/vite.js');
  const result = spawnSync(process.execPath, [vite, 'build', '--config', join(RENDERER, 'vite.config.ts'), '--logLevel', 'warn'], { cwd: REPO, env: { ...process.env, NODE_ENV: 'production' }, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`vite build failed:\n${result.stderr}${result.stdout}`);
}

export interface Ports {
  admin: number;
  http: number;
}

export async function ports(): Promise<Ports> {
  return { admin: await freePort(), http: await freePort() };
}

/** A collector with an HTTP source `web` and whatever else `extra` adds (YAML, indented at top level). */
export function collectorConfig(p: Ports, options: { token?: string; interceptors?: string; extra?: string; admin?: string[] } = {}): string {
  return [
    'collector:',
    '  id: e2e-desktop',
    'channel:',
    '  path: ./data',
    'admin:',
    `  listen: 127.0.0.1:${p.admin}`,
    ...(options.token ? [`  token: ${options.token}`] : []),
    ...(options.admin ?? []).map((l) => `  ${l}`),
    'sources:',
    '  web:',
    '    type: http',
    `    listen: 127.0.0.1:${p.http}`,
    ...(options.interceptors ? ['    interceptors:', ...options.interceptors.split('\n').map((l) => `      ${l}`)] : []),
    options.extra ?? '',
  ].join('\n');
}

export async function startE2eCollector(config: string, token?: string): Promise<CollectorProcess> {
  return startCollector({ config, token, dir: tempDir('sluice-e2e-desktop-') });
}

/** POSTs events to the HTTP source as NDJSON (one request: all or nothing). */
export async function produce(httpPort: number, topic: string, events: unknown[], options: { key?: string; headers?: Record<string, string>; ts?: number } = {}): Promise<void> {
  const headers: Record<string, string> = { 'content-type': 'application/x-ndjson' };
  if (options.key) headers['x-sluice-key'] = options.key;
  if (options.ts !== undefined) headers['x-sluice-ts'] = String(options.ts);
  for (const [k, v] of Object.entries(options.headers ?? {})) headers[`x-sluice-header-${k}`] = v;
  const response = await fetch(`http://127.0.0.1:${httpPort}/${topic}`, { method: 'POST', headers, body: events.map((e) => JSON.stringify(e)).join('\n') });
  if (!response.ok) throw new Error(`producing to ${topic}: ${response.status} ${await response.text()}`);
}

export interface BrowserSession {
  context: BrowserContext;
  page: Page;
  /** Errors the page logged or threw: a test fails on them. */
  problems: string[];
  close(): Promise<void>;
}

export async function openBrowser(): Promise<BrowserSession> {
  // A fresh profile (--user-data-dir) per session: nothing carries over between tests.
  const profile = tempDir('sluice-chromium-');
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    viewport: { width: 1440, height: 900 },
    colorScheme: 'light',
  });
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  const page = context.pages()[0] ?? (await context.newPage());
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
  });
  return {
    context,
    page,
    problems,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Loads a page afresh (a hash-only change would keep the app's state from before). */
export async function visit(page: Page, url: string): Promise<void> {
  await page.goto('about:blank');
  await page.goto(url);
}

/**
 * Saves the page as the user sees it (`<name>.png`) and in the other theme (`<name>-dark.png` or
 * `<name>-light.png`), so a reviewer sees every view in both without running anything. The theme is
 * switched on the document only (charts repaint on the change) and switched back.
 */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path });
  const theme = await page.evaluate(() => document.documentElement.dataset.theme ?? 'light');
  const other = theme === 'dark' ? 'light' : 'dark';
  await page.evaluate((t) => (document.documentElement.dataset.theme = t), other);
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  await page.screenshot({ path: join(SCREENSHOTS, `${name}-${other}.png`) });
  await page.evaluate((t) => (document.documentElement.dataset.theme = t), theme);
  return path;
}

/** An HTTP receiver answering each request after `delayMs`; the first `failFirst` get a 503. */
export async function slowReceiver(delayMs: number, options: { failFirst?: number } = {}): Promise<{ url: string; received: () => number; close(): Promise<void> }> {
  let received = 0;
  let failures = options.failFirst ?? 0;
  const server: Server = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      if (failures > 0) {
        failures--;
        res.writeHead(503, { 'content-type': 'text/plain' });
        res.end('warming up');
        return;
      }
      setTimeout(() => {
        received += body.split('\n').filter(Boolean).length;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
      }, delayMs);
    });
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${port}/ingest`,
    received: () => received,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
