/** The http source over a real socket (fetch, curl, node:https) into a real Channel. */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { pack } from 'msgpackr';
import { afterEach, describe, expect, it } from 'vitest';
import { validateConfig } from '../../../../shared/src/spec.ts';
import { createTestContext, openTestChannel, readAll, readBodies, type TestChannel } from '../testing.ts';
import { HttpSource, httpSource, type HttpSourceConfig } from './http.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function config(input: Record<string, unknown> = {}): HttpSourceConfig {
  const { value, problems } = validateConfig(httpSource.config, { listen: '127.0.0.1:0', ...input }, 'sources.web');
  expect(problems).toEqual([]);
  return value!;
}

async function start(input: Record<string, unknown> = {}, channelOptions = {}): Promise<{ t: TestChannel; source: HttpSource; url: string }> {
  const t = openTestChannel(channelOptions);
  const ctx = createTestContext(t.channel, { name: 'web' });
  const source = httpSource.create(config(input), ctx) as HttpSource;
  await source.start();
  cleanups.push(() => t.cleanup());
  cleanups.push(() => source.stop());
  const scheme = input.tls ? 'https' : 'http';
  return { t, source, url: `${scheme}://127.0.0.1:${source.port}` };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are checked field by field
type Json = any;

async function post(url: string, body: string | Uint8Array, headers: Record<string, string> = {}): Promise<{ status: number; json: Json; headers: Headers }> {
  const res = await fetch(url, { method: 'POST', body: body as unknown as BodyInit, headers });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null, headers: res.headers };
}

describe('http source', () => {
  it('stores a JSON object under the topic from the path and answers after the commit', async () => {
    const { t, url } = await start();
    const r = await post(`${url}/demo`, '{"a":1}', { 'content-type': 'application/json' });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ accepted: 1, dropped: 0 });
    // Answered only after the commit: the event is readable the moment the answer arrives.
    const [e] = readAll(t.channel, 'demo');
    expect(e).toMatchObject({ topic: 'demo', offset: 0, key: null, headers: { 'content-type': 'application/json' } });
    expect(Buffer.from(e.body).toString()).toBe('{"a":1}');
  });

  it('takes arrays, NDJSON, msgpack and text, one event per record', async () => {
    const { t, url } = await start();
    expect((await post(`${url}/t`, '[{"n":1},{"n":2}]', { 'content-type': 'application/json' })).json.accepted).toBe(2);
    expect((await post(`${url}/t`, '{"n":3}\n{"n":4}\n', { 'content-type': 'application/x-ndjson' })).json.accepted).toBe(2);
    expect((await post(`${url}/t`, pack([{ n: 5 }, { n: 6 }]), { 'content-type': 'application/msgpack' })).json.accepted).toBe(2);
    expect((await post(`${url}/t`, 'seven\neight\n', { 'content-type': 'text/plain' })).json.accepted).toBe(2);
    const events = readAll(t.channel, 't');
    expect(events.map((e) => e.headers['content-type'])).toEqual([
      'application/json',
      'application/json',
      'application/json',
      'application/json',
      'application/msgpack',
      'application/msgpack',
      'text/plain',
      'text/plain',
    ]);
    expect(readBodies(t.channel, 't').slice(0, 4)).toEqual(['{"n":1}', '{"n":2}', '{"n":3}', '{"n":4}']);
    expect(Buffer.from(events[4].body)).toEqual(pack({ n: 5 }));
    expect(readBodies(t.channel, 't').slice(6)).toEqual(['seven', 'eight']);
  });

  it('maps x-sluice-key, x-sluice-ts and x-sluice-header-* onto every event', async () => {
    const { t, url } = await start();
    const r = await post(`${url}/h`, '[{"a":1},{"a":2}]', {
      'content-type': 'application/json',
      'x-sluice-key': 'user-7',
      'x-sluice-ts': '2024-05-01T00:00:00Z',
      'x-sluice-header-env': 'prod',
    });
    expect(r.status).toBe(200);
    for (const e of readAll(t.channel, 'h')) {
      expect(e).toMatchObject({ key: 'user-7', ts: Date.parse('2024-05-01T00:00:00Z'), headers: { env: 'prod', 'content-type': 'application/json' } });
    }
  });

  it('answers 400 pointing at the bad line and stores nothing of that request', async () => {
    const { t, url } = await start();
    const r = await post(`${url}/bad`, '{"a":1}\n{"b":2}\n{"c":\n', { 'content-type': 'application/x-ndjson' });
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe('SLUICE_BAD_INPUT');
    expect(r.json.error.message).toMatch(/^line 3: invalid JSON/);
    expect(t.channel.topic('bad')).toBeUndefined();
    const r2 = await post(`${url}/bad`, '[{"a":1},\n{"a":2},\n"x"]', { 'content-type': 'application/json' });
    expect(r2.status).toBe(400);
    expect(r2.json.error.message).toMatch(/element 2 of the array \(line 3, column 1\) is a string/);
    expect(t.channel.topic('bad')).toBeUndefined();
  });

  it('answers 400 to hostile JSON: deep nesting (valid or not) and bytes that are not UTF-8; stores none of it', async () => {
    const { t, url } = await start({ max_depth: 64 });
    const json = { 'content-type': 'application/json' };
    const invalidDeep = await post(`${url}/deep`, `${'['.repeat(8000)}{"a":`, json);
    expect(invalidDeep.status).toBe(400);
    expect(invalidDeep.json.error.message).toMatch(/nested deeper than 64 levels \(max_depth\) at byte 64/);
    const validDeep = await post(`${url}/deep`, `[{"a":${'['.repeat(20_000)}${']'.repeat(20_000)}}]`, json);
    expect(validDeep.status).toBe(400);
    expect(validDeep.json.error).toEqual({ code: 'SLUICE_BAD_INPUT', message: "JSON nested deeper than 64 levels (max_depth) at byte 68: flatten the event, or raise the source's max_depth" });
    const gz = await post(`${url}/deep`, gzipSync(`{"a":${'['.repeat(100_000)}`), { ...json, 'content-encoding': 'gzip' });
    expect(gz.status).toBe(400);
    const utf8 = await post(`${url}/deep`, Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]), json);
    expect(utf8.status).toBe(400);
    expect(utf8.json.error.message).toMatch(/^invalid UTF-8 at byte 6 \(0xc3\)/);
    expect(t.channel.topic('deep')).toBeUndefined();
    expect((await post(`${url}/deep`, `{"a":${'['.repeat(63)}${']'.repeat(63)}}`, json)).status).toBe(200);
    // A time stamp no date can hold would break every reader that shows it.
    const far = await post(`${url}/deep`, '{"a":1}', { ...json, 'x-sluice-ts': '999999999999999999999' });
    expect(far.status).toBe(400);
    expect(far.json.error.message).toBe('x-sluice-ts: "999999999999999999999" is out of range (0 to 8640000000000000 ms since the epoch, 1970 to 275760)');
  });

  it('refuses bodies over max_body_bytes with 413, declared or streamed, and after gunzip', async () => {
    const { t, url } = await start({ max_body_bytes: 1000 });
    const big = JSON.stringify({ pad: 'x'.repeat(2000) });
    expect((await post(`${url}/big`, big, { 'content-type': 'application/json' })).status).toBe(413);
    // Streamed without a content-length.
    const stream = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"pad":"'));
        for (let i = 0; i < 10; i++) controller.enqueue(new TextEncoder().encode('y'.repeat(500)));
        controller.enqueue(new TextEncoder().encode('"}'));
        controller.close();
      },
    });
    const res = await fetch(`${url}/big`, { method: 'POST', body: stream, headers: { 'content-type': 'application/json' }, duplex: 'half' } as RequestInit);
    expect(res.status).toBe(413);
    expect((await post(`${url}/big`, gzipSync(big), { 'content-type': 'application/json', 'content-encoding': 'gzip' })).status).toBe(413);
    expect(t.channel.topic('big')).toBeUndefined();
    // A small gzip body is fine.
    expect((await post(`${url}/big`, gzipSync('{"ok":true}'), { 'content-type': 'application/json', 'content-encoding': 'gzip' })).status).toBe(200);
    expect(readBodies(t.channel, 'big')).toEqual(['{"ok":true}']);
  });

  it('answers 503 with Retry-After while the channel is full, and 200 once it drains', async () => {
    const { t, url } = await start({}, { maxBytes: 4000 });
    const release = t.channel.protect('sink', ['*']); // an undelivered reader: nothing may be deleted
    cleanups.push(release);
    const body = JSON.stringify([{ pad: 'x'.repeat(1500) }, { pad: 'y'.repeat(1500) }]);
    expect((await post(`${url}/full`, body, { 'content-type': 'application/json' })).status).toBe(200);
    const refused = await post(`${url}/full`, body, { 'content-type': 'application/json' });
    expect(refused.status).toBe(503);
    expect(refused.json.error.code).toBe('SLUICE_CHANNEL_FULL');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(t.channel.topic('full')!.count).toBe(2);
    // The sink delivers: retention may now free the space.
    t.channel.commit([{ consumer: 'sink', topic: 'full', next: 2 }]);
    t.channel.runRetention({ needBytes: 4000 });
    expect((await post(`${url}/full`, body, { 'content-type': 'application/json' })).status).toBe(200);
    expect(t.channel.topic('full')!.high).toBe(4);
  });

  it('requires the bearer token when configured', async () => {
    const { t, url } = await start({ token: 's3cret' });
    const denied = await post(`${url}/auth`, '{"a":1}', { 'content-type': 'application/json' });
    expect(denied.status).toBe(401);
    expect(denied.headers.get('www-authenticate')).toBe('Bearer');
    expect((await post(`${url}/auth`, '{"a":1}', { 'content-type': 'application/json', authorization: 'Bearer wrong!' })).status).toBe(401);
    expect((await post(`${url}/auth`, '{"a":1}', { 'content-type': 'application/json', authorization: 'Bearer s3cret' })).status).toBe(200);
    expect(t.channel.topic('auth')!.count).toBe(1);
  });

  it('routes: topic override, 404 without a topic, 405 for GET, 415 for unknown types, 400 for a bad topic', async () => {
    const { url } = await start();
    expect((await post(`${url}/`, '{}', { 'content-type': 'application/json' })).status).toBe(404);
    expect((await fetch(`${url}/x`)).status).toBe(405);
    expect((await post(`${url}/x`, 'x', { 'content-type': 'image/png' })).status).toBe(415);
    expect((await post(`${url}/b%20ad`, '{}', { 'content-type': 'application/json' })).status).toBe(400);
    const fixed = await start({ topic: 'fixed' });
    expect((await post(`${fixed.url}/any/path?q=1`, '{"a":1}', { 'content-type': 'application/json' })).status).toBe(200);
    expect(fixed.t.channel.topic('fixed')!.count).toBe(1);
  });

  it('accepts what `curl -d` sends', async () => {
    const { t, url } = await start();
    await promisify(execFile)('curl', ['-sS', '--fail', '-d', '{"a":1}', `${url}/demo`]);
    expect(readBodies(t.channel, 'demo')).toEqual(['{"a":1}']);
  });

  it('keeps order and loses nothing under concurrent clients', async () => {
    const { t, url } = await start();
    const clients = 8;
    const perClient = 20;
    await Promise.all(
      Array.from({ length: clients }, async (_, c) => {
        for (let i = 0; i < perClient; i++) {
          const batch = Array.from({ length: 50 }, (_, j) => JSON.stringify({ c, i, j })).join('\n');
          const r = await post(`${url}/load`, batch, { 'content-type': 'application/x-ndjson' });
          expect(r.status).toBe(200);
        }
      }),
    );
    const seen = readBodies(t.channel, 'load').map((b) => JSON.parse(b) as { c: number; i: number; j: number });
    expect(seen).toHaveLength(clients * perClient * 50);
    for (let c = 0; c < clients; c++) {
      const mine = seen.filter((s) => s.c === c).map((s) => s.i * 50 + s.j);
      expect(mine).toEqual([...mine].sort((a, b) => a - b));
      expect(new Set(mine).size).toBe(perClient * 50);
    }
  });

  it('serves HTTPS with the configured certificate', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-tls-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    expect(existsSync(cert)).toBe(true);
    const { t, source } = await start({ tls: { cert, key } });
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpsRequest(
        { host: '127.0.0.1', port: source.port, method: 'POST', path: '/secure', ca: execFileSync('cat', [cert]), headers: { 'content-type': 'application/json' } },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode!));
        },
      );
      req.on('error', reject);
      req.end('{"tls":true}');
    });
    expect(status).toBe(200);
    expect(readBodies(t.channel, 'secure')).toEqual(['{"tls":true}']);
    expect(source.endpoints()[0]).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/<topic>$/);
  });

  it('reports a port in use in preflight and at start', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise<void>((r) => blocker.close(() => r())));
    const port = (blocker.address() as { port: number }).port;
    const cfg = config({ listen: `127.0.0.1:${port}` });
    expect(await httpSource.preflight!(cfg, 'sources.web')).toEqual([{ path: 'sources.web.listen', message: `port ${port} already in use` }]);
    const t = openTestChannel();
    cleanups.push(() => t.cleanup());
    const source = httpSource.create(cfg, createTestContext(t.channel, { name: 'web' }));
    await expect(source.start()).rejects.toThrow(`sources.web.listen: port ${port} already in use`);
  });

  it('validates its config strictly', () => {
    const { problems } = validateConfig(httpSource.config, { listen: 'nope', extra: 1, topic: 'a b' }, 'sources.web');
    expect(problems.map((p) => p.path).sort()).toEqual(['sources.web.extra', 'sources.web.listen', 'sources.web.topic']);
  });
});
