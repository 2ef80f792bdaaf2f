/**
 * Idle and half-open connections cannot lock real clients out of a real `sluice start`'s syslog
 * TCP and forward listeners (issue 12, item 7).
 *
 * 1. Per-peer limit: one peer (127.0.0.2) opens 150 connections to each listener and parks a
 *    partial frame on each — more than `max_connections` (100). Only `max_connections_per_peer`
 *    (40) of them are admitted; real clients from another address — `logger --tcp` and Debian's
 *    python3-fluent-logger — still get through and their messages are stored.
 * 2. Timeouts: connections holding a partial frame are closed after `frame_timeout`, connections
 *    that send nothing after `idle_timeout`, and `/metrics` counts both by reason.
 *
 * Waits poll; nothing assumes how fast this machine is.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { Channel } from '../../collector/src/channel/channel.ts';
import { fromUtf8, type StoredEvent } from '../../shared/src/event.ts';
import { freePort, removeDir, scaled, startCollector, tempDir, until, type CollectorProcess } from '../helpers/process.ts';

const PYTHON = '/usr/bin/python3';
const dir = tempDir('sluice-listener-limits-');
const running: CollectorProcess[] = [];
const sockets: Socket[] = [];
afterAll(async () => {
  for (const s of sockets) s.destroy();
  for (const c of running) await c.kill();
  removeDir(dir);
});

interface Ports {
  admin: number;
  syslog: number;
  forward: number;
}

function config(root: string, ports: Ports, limits: string): string {
  const indent = (s: string) => s.trim().split('\n').map((l) => `    ${l.trim()}`).join('\n');
  return `collector:
  id: limits
admin:
  listen: 127.0.0.1:${ports.admin}
channel:
  path: ${join(root, 'data')}
sources:
  syslog:
    type: syslog
    listen: 127.0.0.1:${ports.syslog}
    protocols: [tcp]
    timestamp: received
${indent(limits)}
  fwd:
    type: forward
    listen: 127.0.0.1:${ports.forward}
${indent(limits)}
`;
}

interface Held {
  socket: Socket;
  closed: boolean;
}

/** Opens n connections from `from` and writes `bytes` on each; resolves when each is connected or closed. */
async function hold(port: number, from: string, n: number, bytes: Buffer | null): Promise<Held[]> {
  return Promise.all(
    Array.from({ length: n }, () => {
      const socket = connect({ host: '127.0.0.1', port, localAddress: from });
      sockets.push(socket);
      const held: Held = { socket, closed: false };
      socket.on('error', () => undefined);
      socket.on('close', () => (held.closed = true));
      return new Promise<Held>((resolve) => {
        socket.once('connect', () => {
          if (bytes) socket.write(bytes);
          resolve(held);
        });
        socket.once('close', () => resolve(held));
      });
    }),
  );
}

const open = (held: Held[]) => held.filter((h) => !h.closed).length;

/** Whether this machine can send from 127.0.0.2 (Linux routes all of 127/8 to loopback; macOS does not). */
function canBindLoopbackAliases(): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port: 9, localAddress: '127.0.0.2' });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code !== 'EADDRNOTAVAIL'));
    socket.once('connect', () => (socket.destroy(), resolve(true)));
  });
}

function readTopic(file: string, topic: string): StoredEvent[] {
  const channel = Channel.open({ file, readonly: true, retentionIntervalMs: 0 });
  try {
    return channel.read(topic, 0, { maxEvents: 10_000 });
  } catch {
    return [];
  } finally {
    void channel.close();
  }
}

function run(file: string, args: string[]): Promise<void> {
  // killed if it hangs, so nothing outlives the test
  return new Promise((resolve, reject) => execFile(file, args, { timeout: scaled(30_000), killSignal: 'SIGKILL' }, (error, _out, stderr) => (error ? reject(new Error(`${file} failed: ${stderr}`)) : resolve())));
}

function hasFluentLogger(): boolean {
  try {
    execFileSync(PYTHON, ['-c', 'from fluent import sender'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A partial octet-counted syslog frame, and a partial forward frame (`[` + half a tag). */
const PARTIAL_SYSLOG = Buffer.from('500 <13>1 2026-01-01T00:00:00Z host app - - - half a mess');
const PARTIAL_FORWARD = Buffer.from([0x93, 0xa5, 0x61, 0x62]);

async function metric(c: CollectorProcess, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${c.adminUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

it('one peer holding more partial frames than max_connections cannot lock out real clients', async (ctx) => {
  if (!(await canBindLoopbackAliases())) {
    console.log('cannot send from 127.0.0.2 here: skipping (the test needs a second peer address)');
    ctx.skip();
    return;
  }
  const root = join(dir, 'per-peer');
  mkdirSync(root);
  const ports = { admin: await freePort(), syslog: await freePort(), forward: await freePort() };
  // timeouts off: this part proves the per-peer limit alone keeps slots free
  const c = await startCollector({
    config: config(root, ports, 'max_connections: 100\nmax_connections_per_peer: 40\nidle_timeout: 0\nframe_timeout: 0'),
    dir: root,
  });
  running.push(c);

  const syslogHeld = await hold(ports.syslog, '127.0.0.2', 150, PARTIAL_SYSLOG);
  const forwardHeld = await hold(ports.forward, '127.0.0.2', 150, PARTIAL_FORWARD);
  await until(() => open(syslogHeld) === 40 && open(forwardHeld) === 40, { timeoutMs: 60_000, what: 'refusals over the per-peer limit' });

  // real clients, from 127.0.0.1
  await run('logger', ['-n', '127.0.0.1', '-P', String(ports.syslog), '-T', '--octet-count', '-t', 'real', 'a real message gets through']);
  const fluent = hasFluentLogger();
  if (fluent) {
    await run(PYTHON, [
      '-c',
      `import sys
from fluent import sender
s = sender.FluentSender('real', host='127.0.0.1', port=${ports.forward})
if not s.emit('client', {'ok': True}):
    print(s.last_error, file=sys.stderr); sys.exit(1)
s.close()`,
    ]);
  } else {
    console.log(`${PYTHON} has no fluent-logger: forward real client skipped (apt-get install python3-fluent-logger)`);
  }
  const file = join(root, 'data', 'channel.db');
  await until(() => readTopic(file, 'syslog').length === 1 && (!fluent || readTopic(file, 'real.client').length === 1), { timeoutMs: 60_000, what: 'the real clients\' messages' });
  expect(fromUtf8(readTopic(file, 'syslog')[0].body)).toBe('a real message gets through');
  if (fluent) expect(JSON.parse(fromUtf8(readTopic(file, 'real.client')[0].body))).toEqual({ ok: true });

  // the held connections are still there (no timeout configured), and the refusals are counted
  expect(open(syslogHeld)).toBe(40);
  expect(open(forwardHeld)).toBe(40);
  expect(await metric(c, 'sluice_source_connections_closed_total', 'source="syslog",reason="per_peer_limit"')).toBe(110);
  expect(await metric(c, 'sluice_source_connections_closed_total', 'source="fwd",reason="per_peer_limit"')).toBe(110);
  expect(c.stdout() + c.stderr()).toContain('refused a connection from 127.0.0.2: it already holds 40 connections (max_connections_per_peer)');
  expect(await c.stop()).toBe(0);
});

it('closes connections stuck in a partial frame after frame_timeout and silent ones after idle_timeout', async (ctx) => {
  if (!(await canBindLoopbackAliases())) {
    ctx.skip();
    return;
  }
  const root = join(dir, 'timeouts');
  mkdirSync(root);
  const ports = { admin: await freePort(), syslog: await freePort(), forward: await freePort() };
  const c = await startCollector({ config: config(root, ports, 'frame_timeout: 1s\nidle_timeout: 2s'), dir: root, env: { SLUICE_LOG_LEVEL: 'info' } });
  running.push(c);

  const partial = [...(await hold(ports.syslog, '127.0.0.2', 20, PARTIAL_SYSLOG)), ...(await hold(ports.forward, '127.0.0.2', 20, PARTIAL_FORWARD))];
  const silent = [...(await hold(ports.syslog, '127.0.0.3', 20, null)), ...(await hold(ports.forward, '127.0.0.3', 20, null))];
  await until(() => open(partial) === 0 && open(silent) === 0, { timeoutMs: 60_000, what: 'the server to close stuck and silent connections' });

  for (const source of ['syslog', 'fwd']) {
    expect(await metric(c, 'sluice_source_connections_closed_total', `source="${source}",reason="incomplete_frame"`)).toBe(20);
    expect(await metric(c, 'sluice_source_connections_closed_total', `source="${source}",reason="idle"`)).toBe(20);
    expect(await metric(c, 'sluice_source_connections', `source="${source}"`)).toBe(0);
  }
  const logs = c.stdout() + c.stderr();
  expect(logs).toMatch(/source \\?"fwd\\?": closed \d+ connections? holding an incomplete frame for 1s \(frame_timeout\): 127\.0\.0\.2:\d+/);
  expect(logs).toMatch(/source \\?"syslog\\?": closed \d+ connections? idle for 2s \(idle_timeout\): 127\.0\.0\.3:\d+/);

  // nothing partial was stored, and the listeners still serve
  await run('logger', ['-n', '127.0.0.1', '-P', String(ports.syslog), '-T', '--octet-count', '-t', 'after', 'still serving']);
  const file = join(root, 'data', 'channel.db');
  await until(() => readTopic(file, 'syslog').length === 1, { timeoutMs: 60_000, what: 'the message sent after the timeouts' });
  expect(fromUtf8(readTopic(file, 'syslog')[0].body)).toBe('still serving');
  expect(await c.stop()).toBe(0);
});
