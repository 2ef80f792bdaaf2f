/**
 * UDP syslog never loses silently (issue 12, item 10): a 10,000-message burst over real UDP
 * sockets to a real `sluice start`. Whatever the receive buffer, every message sent is either
 * stored or counted as dropped — by the kernel (the socket's `drops` in /proc/net/udp), our
 * queue or the channel — in /api/v1/sources and /metrics. With the default the source asks for
 * an 8 MiB buffer and logs what the kernel granted.
 */
import { createSocket } from 'node:dgram';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import type { SourcesResponse } from '../../shared/src/api/core.ts';
import { freePort, removeDir, startCollector, tempDir, until, type CollectorProcess } from '../helpers/process.ts';

const MESSAGES = 10_000;
const dir = tempDir('sluice-udp-burst-');
const running: CollectorProcess[] = [];
afterAll(async () => {
  for (const c of running) await c.kill();
  removeDir(dir);
});

async function start(name: string, extra: string): Promise<{ c: CollectorProcess; port: number }> {
  const root = join(dir, name);
  mkdirSync(root);
  const admin = await freePort();
  const port = await freePort();
  const c = await startCollector({
    config: `collector:
  id: udp
admin:
  listen: 127.0.0.1:${admin}
channel:
  path: ${join(root, 'data')}
sources:
  syslog:
    type: syslog
    listen: 127.0.0.1:${port}
    protocols: [udp]
${extra}`,
    dir: root,
    env: { SLUICE_LOG_LEVEL: 'info' },
  });
  running.push(c);
  return { c, port };
}

/** Sends the burst as fast as the socket takes it; resolves with how many the OS accepted. */
async function burst(port: number): Promise<number> {
  const socket = createSocket('udp4');
  let sent = 0;
  await Promise.all(
    Array.from({ length: MESSAGES }, (_, i) => {
      const line = Buffer.from(`<13>1 2026-01-01T00:00:00.000Z host burst - - - message ${i} ${'x'.repeat(60)}`);
      return new Promise<void>((resolve) => socket.send(line, port, '127.0.0.1', (error) => ((sent += error ? 0 : 1), resolve())));
    }),
  );
  socket.close();
  return sent;
}

async function counts(c: CollectorProcess): Promise<{ arrived: number; dropped: Record<string, number>; buffer: number }> {
  const { sources } = await c.api<SourcesResponse>('/api/v1/sources');
  const s = sources.find((x) => x.name === 'syslog')!;
  return { arrived: s.accepted, dropped: s.network?.udpDropped ?? {}, buffer: s.network?.udpReceiveBufferBytes ?? 0 };
}

const total = (d: Record<string, number>) => Object.values(d).reduce((a, b) => a + b, 0);

async function metric(c: CollectorProcess, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${c.adminUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : Number.NaN;
}

it('a burst into a tiny receive buffer: every message is stored or counted as dropped by the kernel', async () => {
  const { c, port } = await start('tiny', '    udp_receive_buffer_bytes: 4096\n');
  const sent = await burst(port);
  expect(sent).toBeGreaterThan(0);
  const final = await until(async () => {
    const n = await counts(c);
    return n.arrived + total(n.dropped) === sent ? n : null;
  }, { timeoutMs: 60_000, what: `arrived + dropped to reach the ${sent} sent` });
  expect(final.dropped.kernel).toBeGreaterThan(0); // 4 KiB cannot hold 10,000 datagrams
  console.log(`UDP burst, 4 KiB buffer (${final.buffer} bytes granted): ${final.arrived} of ${sent} arrived, dropped ${JSON.stringify(final.dropped)}`);
  expect(await metric(c, 'sluice_source_udp_dropped_total', 'where="kernel"')).toBe(final.dropped.kernel);
  expect(c.stdout() + c.stderr()).toContain('the kernel dropped them');
  expect(await c.stop()).toBe(0);
});

it('by default asks for 8 MiB, reports what the kernel granted, and accounts for every message', async () => {
  const { c, port } = await start('default', '');
  const logs = c.stdout() + c.stderr();
  expect(logs).toMatch(/UDP receive buffer(?: 8 MiB \(as asked\)|: asked for 8 MiB, the kernel granted .* sysctl -w net\.core\.rmem_max=8388608)/);
  const sent = await burst(port);
  const final = await until(async () => {
    const n = await counts(c);
    return n.arrived + total(n.dropped) === sent ? n : null;
  }, { timeoutMs: 60_000, what: `arrived + dropped to reach the ${sent} sent` });
  expect(final.buffer).toBeGreaterThan(212_992 / 2); // more than Linux's usual default (rmem_default)
  expect(await metric(c, 'sluice_source_udp_receive_buffer_bytes', 'source="syslog"')).toBe(final.buffer);
  console.log(`UDP burst, default buffer (${final.buffer} bytes granted): ${final.arrived} of ${sent} arrived, dropped ${JSON.stringify(final.dropped)}`);
  expect(await c.stop()).toBe(0);
});
