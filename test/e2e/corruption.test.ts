/**
 * Issue #12 item 8, end to end with real `sluice` processes: events written through a collector,
 * the collector stopped, 8 KiB of random bytes written into the middle of channel.db, the
 * collector started again. Health must say `degraded` naming the damaged range, every other
 * offset must still be served, the damaged ones must answer SLUICE_CHANNEL_CORRUPT (410, never
 * a 500), a sink reaching the range must fail visibly, and `sluice doctor` must salvage the rest
 * into a file a collector opens.
 */
import { spawn } from 'node:child_process';
import { closeSync, copyFileSync, mkdirSync, openSync, readFileSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import { post } from '../helpers/forward.ts';
import { freePort, REPO, removeDir, scaled, SLUICE, startCollector, tempDir, until, type CollectorProcess } from '../helpers/process.ts';

const running: CollectorProcess[] = [];
const dir = tempDir('sluice-corruption-');
afterAll(async () => {
  for (const c of running) await c.kill();
  removeDir(dir);
});

function config(data: string, ports: { admin: number; http: number }, sinks = ''): string {
  return `admin:
  listen: 127.0.0.1:${ports.admin}
channel:
  path: ${data}
sources:
  web:
    type: http
    listen: 127.0.0.1:${ports.http}
${sinks}`;
}

async function start(configText: string, at: string): Promise<CollectorProcess> {
  const c = await startCollector({ config: configText, dir: at });
  running.push(c);
  return c;
}

/** A deterministic stream of "random" bytes (xorshift), so a failure can be replayed. */
function noise(n: number, seed = 0x5eed): Buffer {
  const out = Buffer.alloc(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = s & 0xff;
  }
  return out;
}

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [SLUICE, ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

interface Health {
  status: string;
  problems: string[];
  channel: { integrity: { scan: string; damaged: { topic: string; first: number; last: number; reason: string }[] } };
}

it('a channel file with 8 KiB of random bytes in the middle: health degraded naming the range, the rest served, the damage answered clearly, doctor salvages the rest', async () => {
  const data = join(dir, 'data');
  const ports = { admin: await freePort(), http: await freePort() };
  let collector = await start(config(data, ports), dir);
  const N = 5000;
  for (let from = 0; from < N; from += 1000) await post(ports.http, 'logs', from, 1000); // one record batch per POST
  expect((await collector.api<{ high: number }>('/api/v1/topics/logs')).high).toBe(N);
  expect(await collector.stop()).toBe(0);

  // 8 KiB of noise starting at event 2500's body: the middle of the file, inside a batch's payload pages.
  const file = join(data, 'channel.db');
  const at = readFileSync(file).indexOf('"seq":2500,');
  expect(at).toBeGreaterThan(0);
  const fd = openSync(file, 'r+');
  writeSync(fd, noise(8192), 0, 8192, at);
  closeSync(fd);

  // Restart with a sink that starts at the earliest offset, so it reaches the damage.
  const out = join(dir, 'archive');
  mkdirSync(out, { recursive: true });
  const sink = `sinks:\n  archive:\n    type: file\n    path: ${join(out, '{topic}-{date}.ndjson')}\n    topics: [logs]\n    start_from: earliest\n`;
  collector = await start(config(data, ports, sink), dir);
  const health = await until(
    async () => {
      const h = await collector.api<Health>('/api/v1/health');
      return h.channel.integrity.scan === 'done' && h.channel.integrity.damaged.length > 0 ? h : null;
    },
    { what: 'the integrity scan to report the damage' },
  );
  expect(health.status).toBe('degraded');
  expect(health.channel.integrity.damaged).toHaveLength(1);
  const { topic: damagedTopic, first, last } = health.channel.integrity.damaged[0];
  expect(damagedTopic).toBe('logs');
  const problem = health.problems.find((p) => p.includes('are damaged'))!;
  expect(first).toBeLessThanOrEqual(2500);
  expect(last).toBeGreaterThanOrEqual(2500);
  expect(first % 1000).toBe(0); // whole record batches
  expect(problem).toContain(`topic "logs": offsets ${first}–${last} are damaged in ${file}`);
  expect(problem).toContain('sluice doctor');

  // Undamaged offsets on both sides are served; a read starting in the damage answers 410 naming it.
  const browse = (q: string) => fetch(`${collector.adminUrl}/api/v1/topics/logs/events?${q}`);
  const before = await (await browse('from=0&limit=100')).json();
  expect(before.events[0].offset).toBe(0);
  const after = await browse(`from=${last + 1}&limit=100`);
  expect(after.status).toBe(200);
  expect((await after.json()).events[0].offset).toBe(last + 1);
  const newest = await browse('last=10');
  expect(newest.status).toBe(200);
  expect((await newest.json()).events.at(-1).offset).toBe(N - 1);
  for (const offset of [first, Math.floor((first + last) / 2), last]) {
    const r = await browse(`from=${offset}&limit=10`);
    expect(r.status, `offset ${offset}`).toBe(410);
    const body = await r.json();
    expect(body.error.code).toBe('SLUICE_CHANNEL_CORRUPT');
    expect(body.error.message).toContain(`offsets ${first}–${last} are damaged`);
    expect(body.error.message).toContain(`read from offset ${last + 1} on`);
  }

  // The sink delivered everything before the damage, then failed visibly with the reason.
  const status = await until(
    async () => {
      const s = await collector.api<{ state: string; lastError: { code: string; message: string } | null; topics: { cursor: number }[] }>('/api/v1/sinks/archive');
      return s.state === 'failed' ? s : null;
    },
    { what: 'the sink to fail on the damaged range' },
  );
  expect(status.lastError).toMatchObject({ code: 'SLUICE_CHANNEL_CORRUPT', message: expect.stringContaining(`offsets ${first}–${last}`) });
  expect(status.topics[0].cursor).toBe(first);

  // A live tail from offset 0 gets the events before the damage, an error naming it, a gap over
  // it, and the events after it: the collector does not fall over.
  const ws = new WebSocket(`${collector.adminUrl.replace('http', 'ws')}/api/v1/topics/logs/tail?from=0`);
  const messages: { type: string; events?: { offset: number }[]; error?: { code: string; message: string }; from?: number; to?: number }[] = [];
  ws.on('message', (data) => messages.push(JSON.parse(String(data))));
  try {
    await until(() => messages.some((m) => m.type === 'events' && m.events!.at(-1)!.offset === N - 1), { what: 'the tail to reach the end' });
  } finally {
    ws.close();
  }
  const tailed = messages.flatMap((m) => (m.type === 'events' ? m.events!.map((e) => e.offset) : []));
  expect(tailed.length).toBe(N - (last - first + 1));
  expect(tailed.includes(first - 1) && !tailed.includes(first) && tailed.includes(last + 1)).toBe(true);
  expect(messages.find((m) => m.type === 'error')?.error).toMatchObject({ code: 'SLUICE_CHANNEL_CORRUPT' });
  expect(messages.find((m) => m.type === 'gap')).toMatchObject({ from: first, to: last + 1 });
  expect((await fetch(`${collector.adminUrl}/api/v1/health`)).status).toBe(200);

  const metrics = await (await fetch(`${collector.adminUrl}/metrics`)).text();
  expect(metrics).toMatch(/sluice_channel_damaged_ranges\{topic="logs"\} 1/);
  expect(await collector.stop()).toBe(0);

  // sluice doctor reports the range and salvages the rest; a collector opens the salvaged file.
  const salvaged = join(dir, 'salvaged.db');
  const doctor = await runCli(['doctor', file, '--out', salvaged, '--no-progress']);
  expect(doctor.code, doctor.stderr).toBe(1);
  expect(doctor.stdout).toContain(`topic "logs": offsets ${first}–${last}`);
  expect(doctor.stdout).toMatch(new RegExp(`salvaged ${N - (last - first + 1)} events`));
  const fresh = join(dir, 'fresh');
  mkdirSync(fresh, { recursive: true });
  copyFileSync(salvaged, join(fresh, 'channel.db'));
  const check = await runCli(['doctor', join(fresh, 'channel.db'), '--no-progress']);
  expect(check.code, check.stdout).toBe(0);
  collector = await start(config(fresh, ports), dir);
  const h2 = await until(async () => {
    const h = await collector.api<Health>('/api/v1/health');
    return h.channel.integrity.scan === 'done' ? h : null;
  });
  expect(h2).toMatchObject({ status: 'ok', problems: [] });
  const topic = await collector.api<{ low: number; high: number; count: number }>('/api/v1/topics/logs');
  expect(topic).toMatchObject({ low: 0, high: N, count: N - (last - first + 1) });
  // Reading across the gap goes on past it, as after events retention dropped.
  const across = await (await browse(`from=${first}&limit=10`)).json();
  expect(across.events[0].offset).toBe(last + 1);
  // New events continue the offsets: never reused.
  await post(ports.http, 'logs', N, 10);
  expect((await collector.api<{ high: number }>('/api/v1/topics/logs')).high).toBe(N + 10);
  expect(await collector.stop()).toBe(0);
}, scaled(120_000));

it('a channel file that is not a database, or truncated, stops `sluice start` with the file named and what to do', async () => {
  const ports = { admin: await freePort(), http: await freePort() };
  const cases: [string, (file: string) => void, RegExp][] = [
    ['junk', (file) => writeFileSync(file, 'these are not the bytes of a database\n'.repeat(500)), /is not a SQLite database .*point channel\.path at a folder holding a Sluice channel\.db, or move this file away/],
    ['truncated', (file) => truncateSync(file, Math.floor(statSync(file).size / 2)), /is damaged \(database disk image is malformed\): it may be truncated .*sluice doctor .* --out NEW\.db/],
  ];
  for (const [name, spoil, expected] of cases) {
    const data = join(dir, `refuse-${name}`);
    const file = join(data, 'channel.db');
    if (name === 'truncated') {
      const good = await start(config(data, ports), dir);
      for (let from = 0; from < 5000; from += 1000) await post(ports.http, 'logs', from, 1000);
      expect(await good.stop()).toBe(0);
    } else {
      mkdirSync(data, { recursive: true });
    }
    spoil(file);
    const refused = await startCollector({ config: config(data, ports), dir, wait: false });
    running.push(refused);
    expect(await refused.exited, name).toBe(1);
    expect(refused.stderr(), name).toContain(file);
    expect(refused.stderr(), name).toMatch(expected);
    expect(refused.stderr(), name).not.toMatch(/\n\s+at /); // no stack trace
  }
}, scaled(120_000));
