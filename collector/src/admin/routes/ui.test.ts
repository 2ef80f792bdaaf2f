import Fastify, { type FastifyInstance } from 'fastify';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Collector } from '../../runtime/collector.ts';
import { resolveUiPath, uiRoutes } from './ui.ts';

async function appWith(dir: string, ui = true): Promise<FastifyInstance> {
  process.env.SLUICE_UI_DIR = dir;
  const app = Fastify();
  app.decorate('collector', { config: { admin: { ui } } } as unknown as Collector);
  app.setNotFoundHandler((request, reply) => reply.code(404).send({ error: { code: 'SLUICE_NOT_FOUND', message: `no route ${request.method} ${request.url}` } }));
  app.get('/api/v1/health', async () => ({ status: 'ok' }));
  await app.register(uiRoutes);
  await app.ready();
  return app;
}

describe('web UI route', () => {
  let dir: string;
  let app: FastifyInstance;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-ui-'));
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><div id="root"></div>');
    writeFileSync(join(dir, 'assets', 'index-abc123.js'), 'console.log(1)');
    writeFileSync(join(dir, 'favicon.svg'), '<svg/>');
    app = await appWith(dir);
  });
  afterAll(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
    delete process.env.SLUICE_UI_DIR;
  });

  it('serves index.html at / with a CSP and no caching', async () => {
    const res = await app.inject('/');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/html/);
    expect(res.body).toContain('id="root"');
    expect(res.headers['content-security-policy']).toContain("default-src 'self'");
    expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['cache-control']).toBe('no-cache');
  });

  it('serves hashed assets as immutable', async () => {
    const res = await app.inject('/assets/index-abc123.js');
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe('console.log(1)');
    expect(res.headers['cache-control']).toContain('immutable');
  });

  it('falls back to index.html for app paths, but not for missing assets or the API', async () => {
    const page = await app.inject('/topics/orders?x=1');
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('id="root"');
    expect((await app.inject('/assets/missing.js')).statusCode).toBe(404);
    const api = await app.inject('/api/v1/nope');
    expect(api.statusCode).toBe(404);
    expect(api.json().error.code).toBe('SLUICE_NOT_FOUND');
    expect((await app.inject('/api/v1/health')).json()).toEqual({ status: 'ok' });
    expect((await app.inject('/metricsx')).statusCode).toBe(200);
  });

  it('refuses paths that leave the folder', async () => {
    for (const url of ['/..%2f..%2fetc%2fpasswd', '/assets/..%2f..%2f..%2fetc%2fpasswd', '/a%5c..%5c..%5cx', '/x%00.js']) {
      const res = await app.inject(url);
      expect(res.statusCode, url).toBe(400);
      expect(res.body).not.toContain('root:');
    }
    // A client that folds `%2e%2e` into `..` before sending asks for /etc/passwd of the UI: the app page.
    const folded = await app.inject('/%2e%2e/%2e%2e/etc/passwd');
    expect([200, 400]).toContain(folded.statusCode);
    expect(folded.body).not.toContain('root:');
    expect(resolveUiPath('/srv/ui', '/../../etc/passwd')).toBeNull();
    expect(resolveUiPath('/srv/ui', '/assets/a.js')).toBe('/srv/ui/assets/a.js');
    expect(resolveUiPath('/srv/ui', '/%E0%A4%A')).toBeNull();
  });

  it('says how to build the UI when it is not built', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'sluice-ui-empty-'));
    const bare = await appWith(empty);
    const res = await bare.inject('/');
    expect(res.statusCode).toBe(503);
    expect(res.body).toContain('npm run build');
    expect(res.body).toContain('/api/v1/health');
    await bare.close();
    rmSync(empty, { recursive: true, force: true });
  });

  it('serves nothing with admin.ui: false', async () => {
    const off = await appWith(dir, false);
    expect((await off.inject('/')).statusCode).toBe(404);
    await off.close();
  });
});
