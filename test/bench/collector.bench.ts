/**
 * The collector as a process: HTTP and syslog ingest over real sockets into a real `sluice start`
 * child process, and its memory idle and under load. The baseline for ingest is `channel.append`
 * measured in the same run (the cost of durability alone, without sockets and parsing).
 */
import { spawn } from 'node:child_process';
import tcpPortUsed from 'tcp-port-used';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { encodeRequestProto } from '../../collector/src/otlp/proto.ts';
import { freePort, removeDir, SLUICE, startCollector, tempDir, until, type CollectorProcess } from '../helpers/process.ts';
import { channelAppend } from './channel.bench.ts';
import { defineBench, median, type BenchModule } from './harness.ts';

const BODY = (i: number) => `{"seq":${i},"host":"edge-${i % 17}","level":"info","msg":"${'x'.repeat(140)}"}`;

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}

async function topicHigh(c: CollectorProcess, topic: string): Promise<number> {
  const { topics } = await c.api<{ topics: { name: string; high: number }[] }>('/api/v1/topics');
  return topics.find((t) => t.name === topic)?.high ?? 0;
}

/**
 * `clients` concurrent HTTP clients POST `perPost`-event NDJSON bodies until `total` events were
 * acknowledged. The clients run in their own process, as real producers would.
 */
export function httpLoad(port: number, topic: string, total: number, clients: number, perPost: number): Promise<number> {
  const script = `
    const body = Array.from({ length: ${perPost} }, (_, i) => ${JSON.stringify(BODY(0))}.replace('"seq":0', '"seq":' + i)).join('\\n');
    let sent = 0;
    const started = performance.now();
    Promise.all(Array.from({ length: ${clients} }, async () => {
      while (sent < ${total}) {
        sent += ${perPost};
        const r = await fetch('http://127.0.0.1:${port}/${topic}', { method: 'POST', body, headers: { 'content-type': 'application/x-ndjson' } });
        if (!r.ok) throw new Error('http source answered ' + r.status + ': ' + await r.text());
        await r.arrayBuffer();
      }
    })).then(() => console.log(sent / ((performance.now() - started) / 1000)), (e) => { console.error(e.message); process.exit(1); });
  `;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('exit', (code) => (code === 0 ? resolve(Number(out.trim())) : reject(new Error(`http load client exited ${code}`))));
  });
}

/**
 * otlp.ingest's load: like httpLoad, but each POST is one protobuf ExportLogsServiceRequest of
 * `perPost` log records (the same ~200-byte JSON text as body, severity, trace/span ids, two
 * attributes, a service.name resource), encoded once here and sent by `clients` fetch clients in
 * their own process, as OpenTelemetry exporters would.
 */
function otlpLoad(port: number, dir: string, total: number, clients: number, perPost: number): Promise<number> {
  const file = join(dir, 'otlp-request.bin');
  const request = encodeRequestProto({
    resourceLogs: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'bench' } }] },
        scopeLogs: [
          {
            scope: { name: 'bench', version: '1.0.0' },
            logRecords: Array.from({ length: perPost }, (_, i) => ({
              timeUnixNano: String(BigInt(Date.now()) * 1_000_000n + BigInt(i)),
              severityNumber: 9,
              severityText: 'INFO',
              body: { stringValue: BODY(i) },
              attributes: [
                { key: 'host', value: { stringValue: `edge-${i % 17}` } },
                { key: 'seq', value: { intValue: i } },
              ],
              traceId: Buffer.from((i + 1).toString(16).padStart(32, '0'), 'hex'),
              spanId: Buffer.from((i + 1).toString(16).padStart(16, '0'), 'hex'),
            })),
          },
        ],
      },
    ],
  });
  writeFileSync(file, request);
  const script = `
    const body = require('node:fs').readFileSync(${JSON.stringify(file)});
    let sent = 0;
    const started = performance.now();
    Promise.all(Array.from({ length: ${clients} }, async () => {
      while (sent < ${total}) {
        sent += ${perPost};
        const r = await fetch('http://127.0.0.1:${port}/v1/logs', { method: 'POST', body, headers: { 'content-type': 'application/x-protobuf' } });
        if (!r.ok) throw new Error('otlp source answered ' + r.status + ': ' + await r.text());
        await r.arrayBuffer();
      }
    })).then(() => console.log(sent / ((performance.now() - started) / 1000)), (e) => { console.error(e.message); process.exit(1); });
  `;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('exit', (code) => (code === 0 ? resolve(Number(out.trim())) : reject(new Error(`otlp load client exited ${code}`))));
  });
}

/** Sends `total` RFC 5424 messages with octet-counting over `connections` TCP connections; events/s until all are stored. */
async function syslogLoad(c: CollectorProcess, port: number, total: number, connections: number, round: number): Promise<number> {
  const per = Math.ceil(total / connections);
  const frames: Buffer[] = [];
  for (let n = 0; n < connections; n++) {
    const parts: string[] = [];
    for (let i = 0; i < per; i++) {
      const msg = `<134>1 2026-11-25T10:00:00.000Z edge-${n} app 42 ID7 - ${BODY(i)}`;
      parts.push(`${Buffer.byteLength(msg)} ${msg}`);
    }
    frames.push(Buffer.from(parts.join('')));
  }
  const started = performance.now();
  await Promise.all(
    frames.map(
      (frame) =>
        new Promise<void>((resolve, reject) => {
          const socket = connect(port, '127.0.0.1', () => socket.end(frame));
          socket.on('error', reject);
          socket.on('close', () => resolve());
        }),
    ),
  );
  await until(async () => (await topicHigh(c, 'syslog')) >= per * connections * (round + 1), { timeoutMs: 300_000, intervalMs: 20, what: 'syslog events stored' });
  return (per * connections) / ((performance.now() - started) / 1000);
}

/**
 * The RSS (MB) of `pid` once start-up has settled: sampled every 250 ms from `fromMs` after the
 * call, until the last 2 s of samples lie within 0.5 MB of each other (at most 20 s; then the last).
 */
export async function settledRssMb(pid: number, fromMs = 1000): Promise<number> {
  await new Promise((r) => setTimeout(r, fromMs));
  const samples: number[] = [];
  const deadline = performance.now() + 20_000;
  for (;;) {
    samples.push(rssMb(pid));
    const last = samples.slice(-9);
    if (last.length === 9 && Math.max(...last) - Math.min(...last) < 0.5) return last[last.length - 1];
    if (performance.now() > deadline) return samples[samples.length - 1];
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** A bare `node` process's settled RSS, measured the same way as the collector's. */
async function idleNodeRssMb(): Promise<number> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  try {
    return await settledRssMb(child.pid!);
  } finally {
    child.kill('SIGKILL');
  }
}

/** The embedded defaults' components (DESIGN §11) on free ports, with a fresh channel under `dir`. */
async function embeddedDefaultsConfig(dir: string): Promise<{ config: string; admin: number; http: number }> {
  const [admin, http, syslog, forward] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const config = `channel:\n  path: ${join(dir, 'data')}\nadmin:\n  listen: 127.0.0.1:${admin}\nsources:\n  http:\n    type: http\n    listen: 127.0.0.1:${http}\n  syslog:\n    type: syslog\n    listen: 127.0.0.1:${syslog}\n    protocols: [udp, tcp]\n  forward:\n    type: forward\n    listen: 127.0.0.1:${forward}\n`;
  return { config, admin, http };
}

/**
 * collector.rss_idle: a collector on the embedded defaults' components (admin API and web UI,
 * HTTP, syslog UDP+TCP, forward; free ports, a fresh channel), once start-up has settled.
 */
async function idleRss(b: Parameters<BenchModule['run']>[0]): Promise<void> {
  const runs = b.quick ? 1 : 3;
  const sluice: number[] = [];
  const bare: number[] = [];
  for (let i = 0; i < runs; i++) {
    const dir = b.tempDir(`idle-${i}`);
    const { config } = await embeddedDefaultsConfig(dir);
    const c = await startCollector({ config, dir });
    try {
      sluice.push(await settledRssMb(c.proc.pid!));
    } finally {
      await c.stop();
      removeDir(dir);
    }
    bare.push(await idleNodeRssMb());
  }
  b.figure('collector.rss_idle', {
    value: median(sluice),
    unit: 'MB',
    better: 'lower',
    baseline: median(bare),
    goal: Number((median(bare) / 50).toFixed(3)),
    notes: `RSS of \`sluice start\` on the embedded defaults' components (admin API and web UI, HTTP, syslog UDP+TCP and forward sources on free ports, a fresh channel) once start-up has settled (from 1 s after the admin API answers, sampled every 250 ms until 2 s of samples lie within 0.5 MB). Baseline: a bare \`node\` process measured the same way. Goal (issue #11): ≤ 50 MB. Median of ${runs} alternating runs: sluice ${sluice.map((x) => x.toFixed(1)).join(' / ')} MB, bare node ${bare.map((x) => x.toFixed(1)).join(' / ')} MB.`,
  });
}

/** Milliseconds from spawning `args` until something accepts TCP connections on 127.0.0.1:`port` (polled every 2 ms). */
async function msUntilAccepting(args: string[], port: number, cwd: string): Promise<number> {
  const started = performance.now();
  const child = spawn(process.execPath, args, { cwd, stdio: 'ignore', env: { ...process.env, SLUICE_LOG_LEVEL: 'warn' } });
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited (${code}) before accepting on :${port}`))));
  try {
    await Promise.race([tcpPortUsed.waitUntilUsedOnHost(port, '127.0.0.1', 2, 60_000), exited]);
    return performance.now() - started;
  } finally {
    exited.catch(() => undefined);
    child.kill('SIGKILL');
    await new Promise((r) => (child.exitCode === null && child.signalCode === null ? child.once('exit', r) : r(null)));
  }
}

/**
 * collector.ready: `sluice start` on the embedded defaults' components (admin API, HTTP source,
 * syslog UDP+TCP, forward; free ports, a fresh channel), from spawn to the HTTP source accepting.
 * Baseline: a bare `node -e` process listening on a port, measured the same way in the same run.
 */
async function readiness(b: Parameters<BenchModule['run']>[0]): Promise<void> {
  const runs = b.quick ? 2 : 7;
  const sluice: number[] = [];
  const bare: number[] = [];
  for (let i = 0; i < runs; i++) {
    const dir = tempDir('sluice-ready-');
    try {
      const { config: yaml, http } = await embeddedDefaultsConfig(dir);
      const config = join(dir, 'sluice.yaml');
      writeFileSync(config, yaml);
      sluice.push(await msUntilAccepting([SLUICE, 'start', '--config', config], http, dir));
      const port = await freePort();
      bare.push(await msUntilAccepting(['-e', `require('node:net').createServer().listen(${port}, '127.0.0.1')`], port, dir));
    } finally {
      removeDir(dir);
    }
  }
  b.figure('collector.ready', {
    value: median(sluice),
    unit: 'ms',
    better: 'lower',
    baseline: median(bare),
    notes: `From spawning \`node bin/sluice.js start\` (the compiled bundle; admin API, HTTP, syslog UDP+TCP and forward sources on free ports, a fresh channel) until its HTTP source accepts a TCP connection (tcp-port-used, polled every 2 ms). Baseline: a bare \`node -e\` process listening on a port, measured the same way. Median of ${runs} alternating runs: sluice ${sluice.map(Math.round).join(' / ')} ms, bare node ${bare.map(Math.round).join(' / ')} ms.`,
  });
}

export default defineBench({
  name: 'collector',
  prefixes: ['http', 'syslog', 'otlp'],
  summary: 'HTTP, OTLP and syslog ingest into a real collector process; its memory idle and under load',
  async run(b) {
    if (b.wants('collector.ready')) await readiness(b);
    if (b.wants('collector.rss_idle')) await idleRss(b);
    if (!['collector.rss_load', 'http.ingest', 'syslog.ingest', 'otlp.ingest'].some((f) => b.wants(f))) return;
    const total = b.quick ? 50_000 : 400_000;
    const rounds = b.quick ? 1 : 3;
    const dir = b.tempDir();
    const [admin, http, syslog, otlp] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const config = `channel:\n  path: ${join(dir, 'data')}\n  max_bytes: 8GiB\nadmin:\n  listen: 127.0.0.1:${admin}\nsources:\n  web:\n    type: http\n    listen: 127.0.0.1:${http}\n  otel:\n    type: otlp\n    listen: 127.0.0.1:${otlp}\n  logs:\n    type: syslog\n    listen: 127.0.0.1:${syslog}\n    protocols: [tcp]\n    topic: syslog\n`;
    const c = await startCollector({ config, dir: b.tempDir('collector') });
    try {
      const pid = c.proc.pid!;
      const idle = await settledRssMb(pid);
      const nodeIdle = await idleNodeRssMb();

      const httpRates: number[] = [];
      const appendRates: number[] = [];
      // Sampled during the http.ingest rounds only, per round: the first runs before any other
      // load, the later ones after otlp.ingest rounds (protobuf decoding) have grown the heap.
      const peaks: number[] = [];
      const otlpRates: number[] = [];
      for (let r = 0; r < rounds; r++) {
        let peak = rssMb(pid);
        const sampler = setInterval(() => (peak = Math.max(peak, rssMb(pid))), 100);
        try {
          httpRates.push(await httpLoad(http, `bench${r}`, total, 8, 1000));
        } finally {
          clearInterval(sampler);
          peaks.push(Math.max(peak, rssMb(pid)));
        }
        if (b.wants('otlp.ingest')) otlpRates.push(await otlpLoad(otlp, dir, total, 8, 1000));
        appendRates.push((await channelAppend(join(dir, `append-${r}.db`), total)).rate);
        b.log(`round ${r + 1}: http ${Math.round(httpRates[r])} ev/s, otlp ${Math.round(otlpRates[r] ?? 0)} ev/s, channel.append ${Math.round(appendRates[r])} ev/s`);
      }
      if (b.wants('http.ingest') || b.wants('collector.rss_load')) {
        b.figure('http.ingest', {
          value: median(httpRates),
          unit: 'events/s',
          better: 'higher',
          baseline: median(appendRates),
          goal: 0.6,
          notes: `${total} events per round as 1,000-event NDJSON POSTs (~200-byte JSON events) from 8 concurrent clients (fetch, in a separate process) to a real collector process; each POST answered after its commit (synchronous=FULL). Baseline: channel.append (64 producers, same event size, in this process) in the same run. Median of ${rounds} alternating rounds; http ${httpRates.map(Math.round).join(' / ')}, channel ${appendRates.map(Math.round).join(' / ')} events/s. Client and collector share the 2 cores.`,
        });
      }
      if (b.wants('otlp.ingest')) {
        b.figure('otlp.ingest', {
          value: median(otlpRates),
          unit: 'events/s',
          better: 'higher',
          baseline: median(httpRates),
          notes: `${total} log records per round as 1,000-record protobuf ExportLogsServiceRequests (OTLP/HTTP, ~200-byte text bodies, severity, trace/span ids, 2 attributes, a service.name resource) from 8 concurrent clients (fetch, in a separate process) to the otlp source of the same collector process as http.ingest; each POST answered after its commit. Baseline: http.ingest (1,000-event NDJSON POSTs of the same bodies), alternating rounds in the same run. Rounds: otlp ${otlpRates.map(Math.round).join(' / ')}, http ${httpRates.map(Math.round).join(' / ')} events/s.`,
        });
      }
      if (b.wants('collector.rss_load')) {
        b.figure('collector.rss_load', {
          value: peaks[0],
          unit: 'MB',
          better: 'lower',
          baseline: nodeIdle,
          goal: Number((nodeIdle / 120).toFixed(3)),
          notes: `Peak RSS of the collector sampled every 100 ms during the first http.ingest round (${total} events), the process's first load after ${idle.toFixed(1)} MB settled idle (http, otlp and syslog TCP sources, admin API). Peaks per http.ingest round: ${peaks.map((p) => p.toFixed(0)).join(' / ')} MB${rounds > 1 && b.wants('otlp.ingest') ? ' (the later rounds follow otlp.ingest rounds, whose protobuf decoding grew the heap)' : ''}. Baseline: an idle \`node\` process on the same machine. Goal (issue #11): ≤ 120 MB.`,
        });
      }
      if (b.wants('syslog.ingest')) {
        const rates: number[] = [];
        for (let r = 0; r < rounds; r++) rates.push(await syslogLoad(c, syslog, total, 4, r));
        b.figure('syslog.ingest', {
          value: median(rates),
          unit: 'events/s',
          better: 'higher',
          baseline: median(appendRates),
          notes: `RFC 5424 messages with octet-counting framing over 4 TCP connections into a real collector process, timed until all are stored (polling the admin API). Baseline: channel.append from the http.ingest rounds. Rounds: ${rates.map(Math.round).join(' / ')} events/s.`,
        });
      }
    } finally {
      await c.stop();
      removeDir(c.dir);
    }
  },
});
