/**
 * Access to a real collector's admin API: the refusal to listen beyond loopback without a
 * token, token enforcement on a non-loopback address of this machine, TLS with a self-signed
 * certificate, and path traversal on whatever serves `/`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { freePort, removeDir, scaled, SLUICE, startCollector, tempDir, until, type CollectorProcess } from '../helpers/process.ts';

const running: CollectorProcess[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const c of running.splice(0)) {
    await c.kill();
    removeDir(c.dir);
  }
  for (const d of dirs.splice(0)) removeDir(d);
});

const TOKEN = 'e2e-token-0123456789abcdef';

/** A non-loopback IPv4 address of this machine, if it has one. */
function externalAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return undefined;
}

/** One raw HTTP request, the path sent exactly as given (fetch would normalise `..`). */
function rawGet(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`));
    let data = '';
    socket.on('data', (d) => (data += d));
    socket.on('end', () => resolve(data));
    socket.on('error', reject);
    socket.setTimeout(10_000, () => socket.destroy(new Error(`no answer to ${path}`)));
  });
}

/** One raw request to host:port, path sent as given, with an empty JSON body for POST. */
function rawRequest(host: string, port: number, method: string, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const body = method === 'POST' ? '{"events":[{"text":"x"}]}' : '';
    const socket = connect(port, host, () =>
      socket.write(`${method} ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nConnection: close\r\n${body ? `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n` : ''}\r\n${body}`),
    );
    let data = '';
    socket.on('data', (d) => (data += d));
    socket.on('end', () => resolve(data));
    socket.on('error', reject);
    socket.setTimeout(10_000, () => socket.destroy(new Error(`no answer to ${path}`)));
  });
}

function wsStatus(url: string): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    ws.on('open', () => {
      ws.close();
      resolve(101);
    });
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('error', () => resolve(0));
  });
}

describe('bearer token beyond loopback', () => {
  it('sluice start refuses a non-loopback admin address without a token', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const file = join(dir, 'sluice.yaml');
    writeFileSync(file, `admin:\n  listen: ${externalAddress() ?? '0.0.0.0'}:${await freePort()}\n`);
    const r = spawnSync(process.execPath, [SLUICE, 'start', '--config', file], { encoding: 'utf8', timeout: scaled(60_000), cwd: dir });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/admin\.token: required because admin\.listen \(.+\) is not a loopback address/);
  }, scaled(90_000));

  const address = externalAddress();
  it.skipIf(!address)(`on ${address ?? 'a non-loopback address'}: requests without or with a wrong token are refused`, async () => {
    const port = await freePort();
    const [http] = [await freePort()];
    const c = await startCollector({
      config: `admin:\n  listen: ${address}:${port}\n  token: ${TOKEN}\nsources:\n  web:\n    type: http\n    listen: 127.0.0.1:${http}\n`,
      wait: false,
    });
    running.push(c);
    const base = `http://${address}:${port}`;
    await until(() => fetch(`${base}/api/v1/health`, { headers: { authorization: `Bearer ${TOKEN}` } }).then((r) => r.ok), { what: 'the admin API', timeoutMs: 60_000 });
    await fetch(`http://127.0.0.1:${http}/t`, { method: 'POST', body: '{"a":1}', headers: { 'content-type': 'application/json' } });
    for (const path of ['/api/v1/health', '/api/v1/topics', '/api/v1/topics/t/events', '/metrics']) {
      const none = await fetch(`${base}${path}`);
      expect(none.status, path).toBe(401);
      expect((await none.json()).error.code).toBe('SLUICE_UNAUTHORIZED');
      const wrong = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${TOKEN.slice(0, -1)}X` } });
      expect(wrong.status, path).toBe(401);
      expect((await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } })).status, path).toBe(200);
    }
    // Spellings the router decodes or normalises reach the same routes and need the same token.
    for (const [method, path] of [['GET', '/%61pi/v1/topics'], ['POST', '/%61pi/v1/topics/x/events'], ['GET', '/%6detrics'], ['GET', '//api/v1/topics'], ['GET', '/api//v1/topics/t/events']]) {
      const answer = await rawRequest(address!, port, method, path);
      expect(answer, `${method} ${path}`).toMatch(/^HTTP\/1\.1 40[14] /);
      expect(answer, `${method} ${path}`).not.toContain('"topics"');
    }
    const replay = await fetch(`${base}/api/v1/groups/g/replay`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ to: { earliest: true }, topics: ['t'], execute: true }) });
    expect(replay.status).toBe(401);
    const wsBase = `ws://${address}:${port}/api/v1/topics/t/tail`;
    expect(await wsStatus(wsBase)).toBe(401);
    expect(await wsStatus(`${wsBase}?access_token=wrong-token-0123456789`)).toBe(401);
    expect(await wsStatus(`${wsBase}?access_token=${TOKEN}`)).toBe(101);
    // The CLI: refused without the token, fine with it.
    const without = spawnSync(process.execPath, [SLUICE, 'topics', '--admin', base], { encoding: 'utf8', timeout: scaled(60_000) });
    expect(without.status).toBe(1);
    expect(without.stderr).toMatch(/sluice: missing or wrong bearer token/);
    const withToken = spawnSync(process.execPath, [SLUICE, 'topics', '--admin', base], { encoding: 'utf8', timeout: scaled(60_000), env: { ...process.env, SLUICE_TOKEN: TOKEN } });
    expect(withToken.status, withToken.stderr).toBe(0);
    expect(withToken.stdout).toMatch(/^t\s+0\s+1\s+1\s/m);
  }, scaled(120_000));
});

describe('TLS', () => {
  it('serves the admin API over HTTPS with a self-signed certificate', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    const port = await freePort();
    const c = await startCollector({ config: `admin:\n  listen: 127.0.0.1:${port}\n  token: ${TOKEN}\n  tls:\n    cert: ${cert}\n    key: ${key}\n`, wait: false });
    running.push(c);
    const get = (path: string, token?: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = https.get({ host: '127.0.0.1', port, path, ca: readFileSync(cert), headers: token ? { authorization: `Bearer ${token}` } : {} }, (res) => {
          let body = '';
          res.on('data', (d) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', reject);
      });
    await until(() => get('/api/v1/health', TOKEN).then((r) => r.status === 200), { what: 'the HTTPS admin API', timeoutMs: 60_000 });
    expect((await get('/api/v1/topics')).status).toBe(401);
    const ok = await get('/api/v1/topics', TOKEN);
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toEqual({ topics: [] });
    // Plain HTTP to the TLS port gets no API answer.
    const plain = await fetch(`http://127.0.0.1:${port}/api/v1/health`).then((r) => r.status, () => 0);
    expect(plain).not.toBe(200);
    const cli = spawnSync(process.execPath, [SLUICE, 'topics', '--admin', `https://127.0.0.1:${port}`, '--token', TOKEN, '--insecure'], { encoding: 'utf8', timeout: scaled(60_000) });
    expect(cli.status, cli.stderr).toBe(0);
    expect(cli.stdout).toContain('no topics yet');
  }, scaled(120_000));
});

describe('path traversal on the UI route', () => {
  it('gets nothing outside the UI folder, however the path is spelled', async () => {
    const port = await freePort();
    const c = await startCollector({ config: `admin:\n  listen: 127.0.0.1:${port}\n` });
    running.push(c);
    const attempts = [
      '/../../etc/passwd',
      '/../../../../../../etc/passwd',
      '/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
      '/..%2f..%2f..%2f..%2fetc%2fpasswd',
      '/%252e%252e/%252e%252e/etc/passwd',
      '/assets/..%5c..%5c..%5c..%5cetc%5cpasswd',
      '/index.html/../../../../etc/passwd',
      '/..%00/etc/passwd',
      '//etc/passwd',
      '/%2e%2e%2f%2e%2e%2f%2e%2e%2fpackage.json',
    ];
    for (const path of attempts) {
      const answer = await rawGet(port, path);
      expect(answer, path).toMatch(/^HTTP\/1\.1 \d{3}/);
      expect(answer, path).not.toMatch(/root:.*:0:0:/);
      expect(answer, path).not.toContain('"name": "sluice"');
      expect(answer, path).not.toContain('"allowScripts"');
    }
  }, scaled(90_000));
});
