/** The syslog source with real senders: util-linux `logger`, rsyslog, a TLS client, raw sockets. */
import { execFile, execFileSync, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as netConnect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { fromUtf8 } from '../../../../shared/src/event.ts';
import { validateConfig } from '../../../../shared/src/spec.ts';
import { createTestContext, openTestChannel, readAll, waitUntil, type TestChannel } from '../testing.ts';
import { SyslogSource, syslogSource } from './syslog.ts';
import { spawnTracked } from '../../../../test/helpers/children.ts';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-syslog-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function start(input: Record<string, unknown> = {}, channelOptions = {}): Promise<{ t: TestChannel; source: SyslogSource; port: number }> {
  const { value, problems } = validateConfig(syslogSource.config, { listen: '127.0.0.1:0', ...input }, 'sources.syslog');
  expect(problems).toEqual([]);
  const t = openTestChannel(channelOptions);
  cleanups.push(() => t.cleanup());
  const source = syslogSource.create(value!, createTestContext(t.channel, { name: 'syslog' })) as SyslogSource;
  await source.start();
  cleanups.push(() => source.stop());
  return { t, source, port: source.tcpPort || source.udpPort };
}

const events = (t: TestChannel, topic = 'syslog') => readAll(t.channel, topic);
const bodies = (t: TestChannel, topic = 'syslog') => events(t, topic).map((e) => fromUtf8(e.body));

async function logger(port: number, args: string[], stdin?: string): Promise<void> {
  const child = execFile('logger', ['--server', '127.0.0.1', '--port', String(port), ...args]);
  if (stdin !== undefined) child.stdin!.end(stdin);
  await new Promise<void>((resolve, reject) => child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`logger exited ${code}`)))));
}

describe('syslog source with util-linux logger', () => {
  it('receives RFC 5424 over UDP with structured data as headers', async () => {
    const { t, port } = await start();
    await logger(port, ['--udp', '--rfc5424', '-t', 'billing', '-p', 'local3.err', '--msgid', 'ID7', '--sd-id', 'order@32473', '--sd-param', 'id="42"', '--sd-param', 'who="a \\"b\\""', 'payment failed']);
    await waitUntil(() => events(t).length === 1, 5000, 'the UDP message');
    const [e] = events(t);
    expect(fromUtf8(e.body)).toBe('payment failed');
    expect(e.headers).toMatchObject({
      'content-type': 'text/plain',
      'syslog.format': 'rfc5424',
      'syslog.facility': 'local3',
      'syslog.severity': 'err',
      'syslog.app': 'billing',
      'syslog.msgid': 'ID7',
      'syslog.sd.order@32473.id': '42',
      'syslog.sd.order@32473.who': 'a "b"',
      'syslog.peer': '127.0.0.1',
    });
    expect(e.headers['syslog.host']).toBeTruthy();
    expect(Math.abs(e.ts - Date.now())).toBeLessThan(60_000);
  });

  it('receives RFC 3164 over UDP with tag and pid', async () => {
    const { t, port } = await start();
    await logger(port, ['--udp', '--rfc3164', '-t', 'cron', '-i', '-p', 'cron.info', 'job finished']);
    await waitUntil(() => events(t).length === 1, 5000, 'the UDP message');
    const [e] = events(t);
    expect(fromUtf8(e.body)).toBe('job finished');
    expect(e.headers).toMatchObject({ 'syslog.format': 'rfc3164', 'syslog.facility': 'cron', 'syslog.severity': 'info', 'syslog.app': 'cron' });
    expect(e.headers['syslog.procid']).toMatch(/^\d+$/);
  });

  it('receives over TCP, newline-framed and octet-counted, in order', async () => {
    const { t, port } = await start({ protocols: ['tcp'] });
    const lines = Array.from({ length: 50 }, (_, i) => `tcp line ${i}`);
    await logger(port, ['--tcp', '--rfc5424', '-t', 'nl'], lines.join('\n') + '\n');
    await logger(port, ['--tcp', '--octet-count', '--rfc3164', '-t', 'oc'], lines.join('\n') + '\n');
    await waitUntil(() => events(t).length === 100, 5000, '100 TCP messages');
    expect(bodies(t)).toEqual([...lines, ...lines]);
    expect(events(t).map((e) => e.headers['syslog.app'])).toEqual([...lines.map(() => 'nl'), ...lines.map(() => 'oc')]);
  });
});

describe('syslog source with rsyslog forwarding over TCP', () => {
  const rsyslogd = ['/usr/sbin/rsyslogd', '/sbin/rsyslogd'].find((p) => existsSync(p));

  it('receives both rsyslog framings and formats', async (ctx) => {
    if (!rsyslogd) {
      console.log('rsyslogd not installed: skipping the rsyslog test (apt-get install rsyslog)');
      ctx.skip();
      return;
    }
    const { t, port } = await start({ protocols: ['tcp'] });
    const dir = tempDir();
    const inputPort = await freePort();
    const conf = join(dir, 'rsyslog.conf');
    writeFileSync(
      conf,
      `global(workDirectory="${dir}")
module(load="imtcp")
input(type="imtcp" port="${inputPort}" address="127.0.0.1" ruleset="fwd")
ruleset(name="fwd") {
  action(type="omfwd" target="127.0.0.1" port="${port}" protocol="tcp" TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format")
  action(type="omfwd" target="127.0.0.1" port="${port}" protocol="tcp")
}
`,
    );
    const child: ChildProcess = spawnTracked(rsyslogd, ['-n', '-f', conf, '-i', join(dir, 'rsyslog.pid')], { stdio: ['ignore', 'inherit', 'inherit'] });
    cleanups.push(() => new Promise<void>((r) => (child.exitCode !== null ? r() : (child.once('exit', () => r()), child.kill('SIGTERM')))));
    await waitUntil(() => canConnect(inputPort), 10_000, 'rsyslogd to listen');
    const lines = Array.from({ length: 20 }, (_, i) => `via rsyslog ${i}`);
    await logger(inputPort, ['--tcp', '--rfc3164', '-t', 'relay', '-i'], lines.join('\n') + '\n');
    await waitUntil(() => events(t).length === 40, 10_000, '40 forwarded messages');
    const byFormat = (f: string) => events(t).filter((e) => e.headers['syslog.format'] === f);
    // RSYSLOG_SyslogProtocol23Format keeps the space after the 3164 tag's colon as the start of MSG.
    expect(byFormat('rfc5424').map((e) => fromUtf8(e.body).trim())).toEqual(lines);
    expect(byFormat('rfc3164').map((e) => fromUtf8(e.body))).toEqual(lines);
    for (const e of events(t)) expect(e.headers).toMatchObject({ 'syslog.app': 'relay', 'syslog.facility': 'user', 'syslog.severity': 'notice' });
    expect(byFormat('rfc3164')[0].headers['syslog.procid']).toMatch(/^\d+$/);
  });
});

describe('syslog source transports and back-pressure', () => {
  it('serves RFC 5425 over TLS', async () => {
    const dir = tempDir();
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    const { t, source } = await start({ protocols: ['tcp'], tls: { cert, key } });
    expect(source.endpoints()[0]).toMatch(/^tls:\/\//);
    const socket = tlsConnect({ host: '127.0.0.1', port: source.tcpPort, ca: readFileSync(cert) });
    await new Promise<void>((r, j) => socket.once('secureConnect', () => r()).once('error', j));
    for (const text of ['<165>1 2024-01-01T00:00:00Z h app - - - secret one', '<165>1 2024-01-01T00:00:00Z h app - - - secret two']) {
      socket.write(`${Buffer.byteLength(text)} ${text}`);
    }
    socket.end();
    await waitUntil(() => events(t).length === 2, 5000, 'two TLS messages');
    expect(bodies(t)).toEqual(['secret one', 'secret two']);
    expect(events(t)[0].ts).toBe(Date.parse('2024-01-01T00:00:00Z'));
  });

  it('pauses a TCP sender while the channel is full and loses nothing (frame and idle timeouts do not count a pause of ours)', async () => {
    const maxBytes = 256 * 1024;
    const { t, source } = await start({ protocols: ['tcp'], frame_timeout: 50, idle_timeout: 100 }, { maxBytes });
    const release = t.channel.protect('sink', ['*']);
    cleanups.push(release);
    const total = 3000;
    const socket = netConnect({ host: '127.0.0.1', port: source.tcpPort });
    socket.on('error', () => {});
    await new Promise<void>((r) => socket.once('connect', () => r()));
    let payload = '';
    for (let i = 0; i < total; i++) payload += `<13>1 - h app - - - message ${String(i).padStart(5, '0')} ${'x'.repeat(60)}\n`;
    socket.end(payload);
    // The channel fills up; the source stops reading instead of dropping.
    await waitUntil(() => (t.channel.topic('syslog')?.count ?? 0) > 0 && t.channel.stats().rejectedFull > 0, 10_000, 'the channel to refuse');
    const stuck = t.channel.topic('syslog')!.count;
    expect(stuck).toBeLessThan(total);
    await new Promise((r) => setTimeout(r, 500)); // stalled far longer than both timeouts
    // A sink drains: reads, commits its cursor and lets retention free the space, until everything arrived.
    const got: string[] = [];
    let next = 0;
    await waitUntil(
      () => {
        const batch = t.channel.read('syslog', next, { maxEvents: 10_000 });
        for (const e of batch) got.push(fromUtf8(e.body));
        next += batch.length;
        t.channel.commit([{ consumer: 'sink', topic: 'syslog', next }]);
        t.channel.runRetention({ needBytes: maxBytes });
        return got.length >= total;
      },
      30_000,
      'all messages after draining',
    );
    expect(got).toEqual(payload.trimEnd().split('\n').map((line) => line.slice('<13>1 - h app - - - '.length)));
    expect(source.network().closed).toEqual({ idle: 0, incomplete_frame: 0, per_peer_limit: 0, max_connections: 0, handshake: 0 });
  });

  it('counts connections refused at max_connections, and one peer cannot reach it alone', async () => {
    const { source } = await start({ protocols: ['tcp'], max_connections: 3, max_connections_per_peer: 2 });
    const clients: { closed: boolean }[] = [];
    const open = async (localAddress?: string) => {
      const socket = netConnect({ host: '127.0.0.1', port: source.tcpPort, localAddress });
      const c = { closed: false };
      socket.on('error', () => {});
      socket.on('close', () => (c.closed = true));
      cleanups.push(() => socket.destroy());
      await new Promise<void>((r) => socket.once('connect', () => r()).once('close', () => r()));
      clients.push(c);
      return c;
    };
    await open();
    await open();
    const third = await open(); // the same peer, over max_connections_per_peer
    await waitUntil(() => third.closed, 5000, 'the third connection from one peer to be refused');
    expect(source.network().closed).toMatchObject({ per_peer_limit: 1, max_connections: 0 });
    await open('127.0.0.2');
    const fifth = await open('127.0.0.3'); // a fourth open connection: over max_connections
    await waitUntil(() => fifth.closed, 5000, 'the connection over max_connections to be refused');
    expect(source.network().closed).toMatchObject({ per_peer_limit: 1, max_connections: 1 });
  });

  it('closes a TLS connection whose handshake does not finish within handshake_timeout', async () => {
    const dir = tempDir();
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    const { source } = await start({ protocols: ['tcp'], tls: { cert, key }, handshake_timeout: 200 });
    const silent = netConnect({ host: '127.0.0.1', port: source.tcpPort });
    let closed = false;
    silent.on('error', () => {});
    silent.on('close', () => (closed = true));
    cleanups.push(() => silent.destroy());
    await waitUntil(() => closed, 10_000, 'the silent TLS client to be closed');
    expect(source.network().closed?.handshake).toBe(1);
  });

  it('counts UDP datagrams the channel refuses', async () => {
    const { t, source } = await start({ protocols: ['udp'] }, { maxBytes: 4096 });
    cleanups.push(t.channel.protect('sink', ['*']));
    const client = createSocket('udp4');
    cleanups.push(() => client.close());
    for (let i = 0; i < 200; i++) {
      await new Promise<void>((r) => client.send(`<13>1 - h app - - - udp ${i} ${'y'.repeat(100)}`, source.udpPort, '127.0.0.1', () => r()));
    }
    await waitUntil(() => (t.channel.topic('syslog')?.count ?? 0) + source.stats.udpDropped === 200, 5000, 'every datagram stored or counted');
    expect(source.stats.udpDropped).toBeGreaterThan(0);
  });

  it('reports a port in use (TCP or UDP) and TLS with UDP', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise<void>((r) => blocker.close(() => r())));
    const port = (blocker.address() as { port: number }).port;
    const { value } = validateConfig(syslogSource.config, { listen: `127.0.0.1:${port}` }, 'sources.s');
    expect(await syslogSource.preflight!(value!, 'sources.s')).toEqual([{ path: 'sources.s.listen', message: `port ${port} already in use` }]);
    const udp = createSocket('udp4');
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
    cleanups.push(() => udp.close());
    const { value: v2 } = validateConfig(syslogSource.config, { listen: `127.0.0.1:${udp.address().port}`, protocols: ['udp'] }, 'sources.s');
    expect(await syslogSource.preflight!(v2!, 'sources.s')).toEqual([{ path: 'sources.s.listen', message: `UDP port ${udp.address().port} already in use` }]);
    const { value: v3 } = validateConfig(syslogSource.config, { listen: '127.0.0.1:0', tls: { cert: '/nonexistent.pem', key: '/nonexistent.pem' } }, 'sources.s');
    const problems = await syslogSource.preflight!(v3!, 'sources.s');
    expect(problems.map((p) => p.path)).toEqual(['sources.s.tls.cert', 'sources.s.tls.key', 'sources.s.protocols']);
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = netConnect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

