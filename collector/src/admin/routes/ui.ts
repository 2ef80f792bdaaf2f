/**
 * The web UI at / of the admin address (DESIGN §6, §10): the same renderer build the desktop app
 * loads, from desktop/renderer/dist (or SLUICE_UI_DIR). Files are served as they are; any other
 * path outside /api and /metrics gets index.html, so deep links work (the UI routes by hash, but
 * a reload of /index.html?… or a bookmarked path lands on the app). Paths that try to leave the
 * folder are refused. When the UI was not built, a page says how to build it.
 *
 * The UI holds no data, so it needs no token; what it shows comes from /api, which does.
 */
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { existsSync, statSync } from 'node:fs';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UI_CSP } from '../../../../shared/src/csp.ts';

/** The folder holding package.json above `from`: the checkout, or a release folder (which mirrors its layout). */
function packageRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) return from;
  }
}

/**
 * Where the renderer build is, unless SLUICE_UI_DIR says otherwise: desktop/renderer/dist of the
 * package this code runs from — the sources (collector/src/admin/routes) or the bundle (dist/collector).
 */
export const DEFAULT_UI_DIR = join(packageRoot(fileURLToPath(new URL('.', import.meta.url))), 'desktop/renderer/dist');

/** The UI talks to its own origin and, when asked, to other collectors (their CORS decides). */
export { UI_CSP };

/**
 * Maps a URL path to a file under `root`, or null when it is not a safe path to a file there:
 * encoded or literal `..`, NUL bytes, backslashes, and anything resolving outside `root`.
 */
export function resolveUiPath(root: string, urlPath: string): string | null {
  let path: string;
  try {
    path = decodeURIComponent(urlPath.split('?')[0].split('#')[0]);
  } catch {
    return null;
  }
  if (path.includes('\0') || path.includes('\\')) return null;
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.some((p) => p === '..')) return null;
  const full = resolve(root, ...parts);
  if (full !== root && !full.startsWith(root + sep)) return null;
  return full;
}

function notBuiltPage(dir: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sluice — web UI not built</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:720px;margin:60px auto;padding:0 20px;color:#1d2330}code{background:#f0f2f5;padding:2px 5px;border-radius:4px}</style></head>
<body><h1>The web UI has not been built</h1>
<p>This collector serves the UI from <code>${escapeHtml(dir)}</code>, which has no <code>index.html</code>.</p>
<p>Build it once from the repository: <code>npm run build</code> (<code>npm start</code> builds it too; it needs the dev dependencies, which <code>npm ci --omit=dev</code> leaves out: run <code>npm ci</code>), then reload this page. Releases (<code>npm run dist:collector</code>) carry it built.</p>
<p>The admin API works without it: <a href="/api/v1/health">/api/v1/health</a>, <a href="/api/v1/topics">/api/v1/topics</a>, <a href="/metrics">/metrics</a>.</p>
</body></html>`;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function securityHeaders(reply: FastifyReply): FastifyReply {
  return reply
    .header('content-security-policy', UI_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('x-frame-options', 'DENY')
    .header('referrer-policy', 'no-referrer');
}

export const uiRoutes: FastifyPluginAsync = async (app) => {
  if (!app.collector.config.admin.ui) return;
  const root = resolve(process.env.SLUICE_UI_DIR ?? DEFAULT_UI_DIR);
  await app.register(fastifyStatic, { root, serve: false, decorateReply: true });

  const serve = async (url: string, reply: FastifyReply) => {
    const index = resolve(root, 'index.html');
    if (!existsSync(index)) {
      return securityHeaders(reply).code(503).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(notBuiltPage(root));
    }
    const file = resolveUiPath(root, url);
    if (file === null) {
      return reply.code(400).send({ error: { code: 'SLUICE_BAD_INPUT', message: `refused path ${JSON.stringify(url.split('?')[0])}: it leaves the UI folder` } });
    }
    const isFile = file !== root && existsSync(file) && statSync(file).isFile();
    securityHeaders(reply);
    if (isFile) {
      const rel = file.slice(root.length + 1).split(sep).join('/');
      // Vite names assets by content hash: they never change under the same name.
      const immutable = rel.startsWith('assets/');
      return reply.header('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache').sendFile(rel, { cacheControl: false });
    }
    // A missing asset (it has an extension) is a 404; any other path is a page of the app.
    if (extname(file) !== '' && !file.endsWith('.html')) {
      return reply.code(404).type('text/plain; charset=utf-8').send(`not found: ${url.split('?')[0]}`);
    }
    return reply.header('cache-control', 'no-cache').sendFile('index.html', { cacheControl: false });
  };

  // Public: no token (app.ts). Only these two routes are.
  app.get('/', { config: { public: true } }, (request, reply) => serve(request.url, reply));
  app.get<{ Params: { '*': string } }>('/*', { config: { public: true } }, (request, reply) => {
    // The router's decoded path, so `/%61pi/…` is treated as `/api/…`. The API and metrics keep their JSON 404s.
    const path = `/${(request.params['*'] ?? '').split('/').filter((p) => p !== '' && p !== '.').join('/')}`;
    if (path === '/api' || path.startsWith('/api/') || path === '/metrics' || path.startsWith('/metrics/')) return reply.callNotFound();
    return serve(request.url, reply);
  });
};
