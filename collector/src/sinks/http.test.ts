import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes, isRetriable, SluiceError } from '../../../shared/src/errors.ts';
import { makeEvent, type StoredEvent } from '../../../shared/src/event.ts';
import type { Sink } from '../components.ts';
import { httpSink, parseRetryAfter } from './http.ts';
import { buildSink, Receiver } from './testing.ts';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function receiver(options?: Parameters<typeof Receiver.start>[0]): Promise<Receiver> {
  const r = await Receiver.start(options);
  cleanups.push(() => r.stop());
  return r;
}

function http(config: Record<string, unknown>, name = 'hub', signal?: AbortSignal): Sink {
  const s = buildSink({ type: 'http', ...config }, name, signal);
  cleanups.push(() => s.close());
  return s;
}

function batch(topic: string, from: number, n: number): StoredEvent[] {
  return Array.from({ length: n }, (_, i) => ({
    ...makeEvent(topic, JSON.stringify({ n: from + i }), { ts: 5000 + from + i, key: `k${from + i}`, headers: { 'content-type': 'application/json', seq: String(from + i) } }),
    offset: from + i,
  }));
}

/** Sends like the runner does: the same batch again after a retriable error, until confirmed. */
async function deliver(sink: Sink, events: StoredEvent[], topic: string, errors: SluiceError[]): Promise<void> {
  for (let attempt = 0; attempt < 50; attempt++) {
    try {
      await sink.send(events, topic);
      return;
    } catch (error) {
      if (!isRetriable(error)) throw error;
      errors.push(error as SluiceError);
    }
  }
  throw new Error('not delivered after 50 attempts');
}

describe('http sink', () => {
  it('POSTs NDJSON records in order with the batch headers, token and extra headers', async () => {
    const r = await receiver();
    const sink = http({ url: r.url('/ingest/{topic}'), token: 'secret-token', headers: { 'X-Tenant': 'blue' } });
    await sink.send(batch('web', 0, 3), 'web');
    await sink.send(batch('web', 3, 2), 'web');
    expect(r.accepted).toHaveLength(2);
    const [first] = r.accepted;
    expect(first.method).toBe('POST');
    expect(first.url).toBe('/ingest/web');
    expect(first.headers).toMatchObject({
      'content-type': 'application/x-ndjson',
      authorization: 'Bearer secret-token',
      'x-tenant': 'blue',
      'sluice-topic': 'web',
      'sluice-first-offset': '0',
      'sluice-last-offset': '2',
      'sluice-collector': 'edge-1',
      'idempotency-key': 'edge-1/web/0-2',
    });
    const items = r.items();
    expect(items.map((e) => e.offset)).toEqual([0, 1, 2, 3, 4]);
    expect(items[4]).toEqual({ topic: 'web', offset: 4, ts: 5004, key: 'k4', headers: { 'content-type': 'application/json', seq: '4' }, body: { n: 4 } });
    expect((sink.describe?.() as { requests: number }).requests).toBe(2);
  });

  it('sends a gzip-compressed JSON array of bodies', async () => {
    const r = await receiver();
    const sink = http({ url: r.url(), format: 'json_array', payload: 'body', compression: 'gzip', method: 'PUT' });
    await sink.send(batch('web', 0, 3), 'web');
    expect(r.accepted[0].method).toBe('PUT');
    expect(r.accepted[0].headers).toMatchObject({ 'content-type': 'application/json', 'content-encoding': 'gzip' });
    expect(r.items()).toEqual([{ n: 0 }, { n: 1 }, { n: 2 }]);
  });

  it('against a server that fails (500, closed connections, 429 with Retry-After) then recovers: every event once, in order', async () => {
    const r = await receiver();
    const sink = http({ url: r.url(), timeout: '2s' });
    // A kept-alive connection that closes under a request is retried once at once on a fresh
    // one (the server may simply have closed it while idle); a second close is an error.
    r.script = [
      { status: 500, body: 'database is down' },
      'close',
      'close',
      { status: 503 },
      { status: 429, headers: { 'retry-after': '2' } },
      'ok',
      'close',
      'close',
      { status: 502 },
      'ok',
      'close',
    ];
    const errors: SluiceError[] = [];
    for (let b = 0; b < 6; b++) await deliver(sink, batch('web', b * 10, 10), 'web', errors);
    const items = r.items();
    expect(items.map((e) => e.offset)).toEqual(Array.from({ length: 60 }, (_, i) => i));
    expect(items.map((e) => (e.headers as Record<string, string>).seq)).toEqual(Array.from({ length: 60 }, (_, i) => String(i)));
    expect(r.accepted.map((a) => a.headers['idempotency-key'])).toEqual([0, 1, 2, 3, 4, 5].map((b) => `edge-1/web/${b * 10}-${b * 10 + 9}`));
    expect(r.seen).toHaveLength(15);
    const url = r.url();
    const peer = `127.0.0.1:${r.port}`;
    expect(errors.map((e) => e.message)).toEqual([
      `sink "hub": POST ${url} answered 500 Internal Server Error: database is down`,
      `sink "hub": connection closed by ${peer} before an answer`,
      `sink "hub": POST ${url} answered 503 Service Unavailable`,
      `sink "hub": POST ${url} answered 429 Too Many Requests (Retry-After 2.0s)`,
      `sink "hub": connection closed by ${peer} before an answer`,
      `sink "hub": POST ${url} answered 502 Bad Gateway`,
    ]);
    expect(errors.every((e) => e.code === ErrorCodes.DESTINATION_UNAVAILABLE && e.retriable)).toBe(true);
    expect(errors[3].retryAfterMs).toBe(2000);
  });

  it('connection refused names the sink and the address, and is retriable', async () => {
    const r = await receiver();
    const port = r.port;
    await r.stop();
    const sink = http({ url: `http://127.0.0.1:${port}/ingest` });
    const error = (await sink.send(batch('web', 0, 1), 'web').catch((e: unknown) => e)) as SluiceError;
    expect(error.message).toBe(`sink "hub": connection refused by 127.0.0.1:${port}`);
    expect(error.retriable).toBe(true);
  });

  it('a server that does not answer in time is a retriable timeout', async () => {
    const r = await receiver();
    r.script = ['hang'];
    const sink = http({ url: r.url(), timeout: '200ms' });
    const error = (await sink.send(batch('web', 0, 1), 'web').catch((e: unknown) => e)) as SluiceError;
    expect(error.message).toBe(`sink "hub": no answer from ${r.url()} within 200ms`);
    expect(error.retriable).toBe(true);
    await sink.send(batch('web', 0, 1), 'web');
    expect(r.items()).toHaveLength(1);
  });

  it('4xx other than 408 and 429 is a rejection (not retriable); 408 and 3xx are retriable', async () => {
    const r = await receiver();
    const sink = http({ url: r.url() });
    r.script = [
      { status: 400, body: '{"error":"line 3: unexpected token"}' },
      { status: 413 },
      { status: 401 },
      { status: 408 },
      { status: 308, headers: { location: 'https://elsewhere/ingest' } },
    ];
    const results = [];
    for (let i = 0; i < 5; i++) results.push((await sink.send(batch('web', 0, 1), 'web').catch((e: unknown) => e)) as SluiceError);
    expect(results.map((e) => [e.code, e.retriable])).toEqual([
      [ErrorCodes.DESTINATION_REJECTED, false],
      [ErrorCodes.DESTINATION_REJECTED, false],
      [ErrorCodes.DESTINATION_REJECTED, false],
      [ErrorCodes.DESTINATION_UNAVAILABLE, true],
      [ErrorCodes.DESTINATION_UNAVAILABLE, true],
    ]);
    expect(results[0].message).toBe(`sink "hub": POST ${r.url()} answered 400 Bad Request: {"error":"line 3: unexpected token"}`);
    expect(results[1].message).toMatch(/answered 413 Payload Too Large \(the batch is too large for the server: lower batch.max_events or batch.max_bytes\)$/);
    expect(results[2].message).toMatch(/answered 401 Unauthorized \(check token\)$/);
    expect(results[4].message).toMatch(/answered 308 Permanent Redirect \(redirect to https:\/\/elsewhere\/ingest; set url to the new address\)$/);
    expect(r.accepted).toHaveLength(0);
  });

  it('parses Retry-After as seconds or an HTTP date, capped at an hour', () => {
    const now = Date.parse('2024-05-01T00:00:00Z');
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter('Wed, 01 May 2024 00:00:10 GMT', now)).toBe(10_000);
    expect(parseRetryAfter('Tue, 30 Apr 2024 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('99999', now)).toBe(3_600_000);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });

  it('stops a request in flight when the sink is stopped', async () => {
    const r = await receiver();
    r.script = ['hang'];
    const controller = new AbortController();
    const sink = http({ url: r.url(), timeout: '30s' }, 'hub', controller.signal);
    const pending = sink.send(batch('web', 0, 1), 'web').catch((e: unknown) => e);
    setTimeout(() => controller.abort(), 50);
    const error = (await pending) as SluiceError;
    expect(error.message).toBe(`sink "hub": stopped while sending to ${r.url()}`);
    expect(error.retriable).toBe(true);
  });

  describe('over TLS', () => {
    let dir: string;
    let tls: { cert: Buffer; key: Buffer };
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'sluice-tls-'));
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
      tls = { cert: readFileSync(join(dir, 'cert.pem')), key: readFileSync(join(dir, 'key.pem')) };
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('refuses an unknown certificate (retriable, with advice), trusts tls.ca, and accepts anything only when insecure', async () => {
      const r = await receiver({ tls });
      const untrusted = http({ url: r.url() });
      const error = (await untrusted.send(batch('web', 0, 1), 'web').catch((e: unknown) => e)) as SluiceError;
      expect(error.retriable).toBe(true);
      expect(error.message).toMatch(new RegExp(`^sink "hub": TLS with 127\\.0\\.0\\.1:${r.port} failed: self[- ]signed certificate.*\\(set tls\\.ca to the CA that signed the server's certificate\\)$`));
      await http({ url: r.url(), tls: { ca: join(dir, 'cert.pem') } }).send(batch('web', 0, 1), 'web');
      await http({ url: r.url(), tls: { insecure: true } }).send(batch('web', 1, 1), 'web');
      expect(r.items().map((e) => e.offset)).toEqual([0, 1]);
    });

    it('preflight reports unreadable TLS files and tls on an http:// url', async () => {
      const problems = await httpSink.preflight!(
        { url: 'http://127.0.0.1:1/x', method: 'POST', format: 'ndjson', payload: 'record', compression: 'none', headers: {}, timeout: '30s', tls: { ca: join(dir, 'missing.pem'), insecure: false } },
        'sinks.hub',
      );
      expect(problems).toEqual([
        { path: 'sinks.hub.tls', message: 'tls is set but url is not https://' },
        { path: 'sinks.hub.tls.ca', message: `cannot read ${join(dir, 'missing.pem')}: ENOENT` },
      ]);
      expect(() => buildSink({ type: 'http', url: 'https://127.0.0.1:1/x', tls: { ca: join(dir, 'missing.pem') } }, 'hub')).toThrow(`sinks.hub.tls.ca: cannot read ${join(dir, 'missing.pem')}: ENOENT`);
    });
  });
});
