/**
 * Access to the admin API: the bearer token, which origins and hosts may talk to it, request
 * size limits, and nothing served outside what the routes define.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { builtinRegistries } from '../builtins.ts';
import { ConfigError, loadConfigText } from '../config/load.ts';
import { adminFixture, type AdminFixture } from './testing.ts';

const fixtures: AdminFixture[] = [];
afterEach(async () => {
  for (const f of fixtures.splice(0)) await f.close();
});

async function fixture(admin?: string): Promise<AdminFixture> {
  const f = await adminFixture({ admin });
  fixtures.push(f);
  return f;
}

const TOKEN = 'a-token-of-at-least-16-chars';

describe('bearer token', () => {
  it('is required on every API request when configured, also on the tail (as access_token)', async () => {
    const f = await fixture(`  token: ${TOKEN}`);
    await f.collector.channel.appendEvents('t', [{ ts: 1, key: null, headers: {}, body: Buffer.from('x') }]);
    for (const url of ['/api/v1/topics', '/api/v1/topics/t/events', '/api/v1/openapi.json', '/api/v1/topics/t/tail', '/metrics']) {
      const none = await f.app.inject({ url });
      expect(none.statusCode, url).toBe(401);
      expect(none.json().error.code).toBe('SLUICE_UNAUTHORIZED');
      const wrong = await f.app.inject({ url, headers: { authorization: `Bearer ${TOKEN}x` } });
      expect(wrong.statusCode, url).toBe(401);
    }
    expect((await f.app.inject({ url: '/api/v1/topics/t/events', headers: { authorization: `Bearer ${TOKEN}` } })).statusCode).toBe(200);
    expect((await f.app.inject({ url: `/api/v1/topics/t/events?access_token=${TOKEN}` })).statusCode).toBe(200);
    const replay = await f.app.inject({ method: 'POST', url: '/api/v1/groups/g/replay', payload: { to: { earliest: true }, topics: ['t'], execute: true } });
    expect(replay.statusCode).toBe(401);
    expect(f.collector.channel.cursors('group:g')).toEqual([]);
  });
});

describe('origins and hosts', () => {
  it('answers the UI\'s own origin and configured ones; refuses other pages before anything runs', async () => {
    const f = await fixture('  cors_origins: ["http://desk.example:5173"]');
    await f.collector.channel.appendEvents('t', [{ ts: 1, key: null, headers: {}, body: Buffer.from('x') }]);
    const own = await f.app.inject({ url: '/api/v1/topics', headers: { host: '127.0.0.1:9410', origin: 'http://127.0.0.1:9410' } });
    expect(own.statusCode).toBe(200);
    const listed = await f.app.inject({ url: '/api/v1/topics', headers: { origin: 'http://desk.example:5173' } });
    expect(listed.statusCode).toBe(200);
    expect(listed.headers['access-control-allow-origin']).toBe('http://desk.example:5173');
    const evil = await f.app.inject({ method: 'POST', url: '/api/v1/groups/g/replay', headers: { origin: 'https://evil.example' }, payload: { to: { earliest: true }, topics: ['t'], execute: true } });
    expect(evil.statusCode).toBe(403);
    expect(evil.json().error.message).toBe('origin https://evil.example is not allowed; add it to admin.cors_origins to use the admin API from that page');
    expect(f.collector.channel.cursors('group:g')).toEqual([]);
    // A WebSocket from another page (no CORS for WebSockets) is refused too.
    const ws = await f.app.inject({ url: '/api/v1/topics/t/tail', headers: { origin: 'https://evil.example', connection: 'upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' } });
    expect(ws.statusCode).toBe(403);
  });

  it('without a token, answers only loopback host names (no DNS rebinding)', async () => {
    const f = await fixture();
    expect((await f.app.inject({ url: '/api/v1/health', headers: { host: 'localhost:9410' } })).statusCode).toBe(200);
    expect((await f.app.inject({ url: '/api/v1/health', headers: { host: '127.0.0.1:9410' } })).statusCode).toBe(200);
    expect((await f.app.inject({ url: '/api/v1/health', headers: { host: '[::1]:9410' } })).statusCode).toBe(200);
    const rebound = await f.app.inject({ url: '/api/v1/health', headers: { host: 'attacker.example:9410' } });
    expect(rebound.statusCode).toBe(403);
    expect(rebound.json().error.message).toMatch(/Host "attacker.example:9410" is not allowed/);
  });

  it('decides on parsed IP addresses: names that merely start like one are not loopback', async () => {
    const f = await fixture();
    for (const host of ['127.0.0.5:9410', '[0:0:0:0:0:0:0:1]:9410', '[::ffff:127.0.0.1]:9410', 'LOCALHOST:9410']) {
      expect((await f.app.inject({ url: '/api/v1/health', headers: { host } })).statusCode, host).toBe(200);
    }
    for (const host of ['127.evil.example', '127.evil.example:9410', '127.0.0.1.nip.io:9410', 'localhost.evil.example', 'localhost.:9410', '[::2]:9410', '[::ffff:10.0.0.1]:9410', '127.1:9410', '[::1']) {
      const r = await f.app.inject({ url: '/api/v1/health', headers: { host } });
      expect(r.statusCode, host).toBe(403);
    }
  });

  it('treats admin.listen on a name that looks like 127.x as not loopback: a token is required', async () => {
    const text = 'admin:\n  listen: 127.0.0.1.nip.io:9410\n';
    const problems = await loadConfigText(text, 'sluice.yaml', { preflight: false, registries: builtinRegistries() }).then(
      () => [],
      (error: ConfigError) => error.problems,
    );
    expect(problems).toContainEqual(expect.objectContaining({ path: 'admin.token', message: expect.stringContaining('required because admin.listen (127.0.0.1.nip.io:9410) is not a loopback address') }));
    await expect(loadConfigText('admin:\n  listen: "[::1]:0"\n', 'sluice.yaml', { preflight: false, registries: builtinRegistries() })).resolves.toBeTruthy();
  });
});

describe('limits', () => {
  it('refuses request bodies over admin.max_body_bytes with 413', async () => {
    const f = await fixture('  max_body_bytes: 1KiB');
    const r = await f.app.inject({ method: 'PUT', url: '/api/v1/sources/mem/interceptors', payload: { interceptors: [{ type: 'static', header: 'x', value: 'y'.repeat(2000) }] } });
    expect(r.statusCode).toBe(413);
    expect(r.json().error.code).toBe('SLUICE_TOO_LARGE');
  });

  it('path traversal gets nothing (whatever serves /: the UI, its fallback page, or a 404)', async () => {
    const f = await fixture();
    for (const url of ['/../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/..%2f..%2fetc%2fpasswd', '/api/v1/../../../etc/passwd', '//etc/passwd', '/assets/..%5c..%5c..%5cetc%5cpasswd', '/%2e%2e%2f%2e%2e%2f%2e%2e%2fpackage.json']) {
      const r = await f.app.inject({ url });
      expect(r.body, url).not.toMatch(/root:.*:0:0:/);
      expect(r.body, url).not.toContain('"name": "sluice"');
    }
  });
});
