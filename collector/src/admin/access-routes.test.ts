/**
 * The bearer token over EVERY registered route, against a real listener: each route's path is
 * sent as written and in spellings the router decodes or may normalise (percent-encoded letters,
 * every byte encoded, doubled and trailing slashes, `/./`). Without the token none of them may
 * answer anything but 401 (or a 404/400 that serves nothing); with it, the plain path is routed.
 * Issue #12 item 2: the check used to look at the raw URL while the router decoded it.
 */
import type { AddressInfo } from 'node:net';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registeredRoutes } from './openapi.ts';
import { adminFixture, type AdminFixture } from './testing.ts';
import { scaled } from '../../../test/helpers/children.ts';

const TOKEN = 'route-walk-token-0123456789';
const MARKER = 'SECRET-BODY-4711';

let f: AdminFixture;
let port: number;
beforeAll(async () => {
  // admin.listen 0.0.0.0 would be the real-world case; the token rule is the same on loopback
  // with a token, and loopback keeps the test off the network.
  f = await adminFixture({ admin: `  token: ${TOKEN}` });
  await f.collector.channel.appendEvents('t', [{ ts: 1, key: null, headers: { 'content-type': 'application/json' }, body: Buffer.from(`{"m":"${MARKER}"}`) }]);
  await f.app.listen({ host: '127.0.0.1', port: 0 });
  port = (f.app.server.address() as AddressInfo).port;
}, scaled(60_000));
afterAll(async () => {
  await f?.close();
});

/** One request with the path sent byte for byte as given. */
function send(method: string, path: string, token?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const body = method === 'POST' || method === 'PUT' ? '{}' : undefined;
    const req = request(
      { host: '127.0.0.1', port, method, path, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) } },
      (res) => {
        let data = '';
        res.on('data', (d) => (data += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function concrete(url: string): string {
  return url.replace(/:topic\b/g, 't').replace(/:[A-Za-z0-9_]+/g, 'x').replace(/\*$/, 'x');
}

/** Spellings of a path that a router may map to the same route. */
function spellings(path: string): string[] {
  const segments = path.split('/').slice(1);
  const encodeFirst = (s: string) => (s.length === 0 ? s : `%${s.charCodeAt(0).toString(16)}${s.slice(1)}`);
  const out = new Set<string>([
    `/${segments.map(encodeFirst).join('/')}`,
    `/${encodeFirst(segments[0])}/${segments.slice(1).join('/')}`,
    `/${segments.map((s) => [...s].map((c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`).join('')).join('/')}`,
    `/${segments.join('//')}`,
    `//${segments.join('/')}`,
    `${path}/`,
    `/./${segments.join('/')}`,
    `/${segments[0]}/./${segments.slice(1).join('/')}`,
    `${path}?x=/health`,
    `/${segments[0]}%2f${segments.slice(1).join('/')}`,
  ]);
  out.delete(path);
  return [...out];
}

describe('the token on every route', () => {
  it('is required on every private route however its path is spelled', async () => {
    const routes = registeredRoutes(f.app).filter((r) => r.method !== 'HEAD' && r.method !== 'OPTIONS');
    expect(routes.length).toBeGreaterThan(20);
    expect(routes.filter((r) => r.public).map((r) => r.url).sort()).toEqual(['/', '/*']);
    const leaks: string[] = [];
    for (const route of routes.filter((r) => !r.public)) {
      const path = concrete(route.url);
      const plain = await send(route.method, path);
      expect(plain.status, `${route.method} ${path}`).toBe(401);
      // With the token the plain path reaches its route (any answer but 401 and "no route").
      const authed = await send(route.method, path, TOKEN);
      expect(authed.status, `${route.method} ${path} with the token`).not.toBe(401);
      expect(authed.body, `${route.method} ${path} with the token`).not.toContain('"no route');
      for (const spelled of spellings(path)) {
        const r = await send(route.method, spelled);
        if ((r.status >= 200 && r.status < 300) || r.body.includes(MARKER) || ![400, 401, 404, 405].includes(r.status)) {
          leaks.push(`${route.method} ${spelled} → ${r.status} ${r.body.slice(0, 80)}`);
        }
      }
    }
    expect(leaks).toEqual([]);
  }, scaled(120_000));

  it('refuses the spellings from the issue', async () => {
    for (const [method, path] of [
      ['GET', '/%61pi/v1/topics'],
      ['POST', '/%61pi/v1/topics/x/events'],
      ['GET', '/%6detrics'],
      ['GET', '/%61%70%69/v1/topics/t/events'],
      ['GET', '//api/v1/topics'],
      ['GET', '/api//v1/topics'],
    ]) {
      const r = await send(method, path);
      expect([401, 404], `${method} ${path}: ${r.status} ${r.body}`).toContain(r.status);
      expect(r.body).not.toContain(MARKER);
      expect(r.body).not.toContain('"topics"');
    }
    expect((await send('POST', '/%61pi/v1/topics/x/events')).status).toBe(401);
    expect(f.collector.channel.topics().map((t) => t.name)).not.toContain('x');
  });
});
