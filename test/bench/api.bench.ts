/**
 * The admin API on a big topic (test/helpers/big-topic.ts: 10,000,000 events; 200,000 with
 * --quick), served by a real `sluice inspect` process and measured from this one over HTTP:
 *   api.seek_offset   ms, median of a page of 1 at a random offset   (baseline: Channel.read of 1)
 *   api.seek_time     ms, median of a page of 1 at a random time     (baseline: Channel.offsetForTime + read of 1)
 *   api.filter_scan   events/s examined by a body-regex search that matches nothing
 *                     (baseline: a raw loop — Channel.read chunks, UTF-8 decode, RegExp.test)
 *   api.tail_fanout   events/s delivered to 20 concurrent tail clients catching up
 *                     (baseline: the same range delivered to one client)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import WebSocket from 'ws';
import { Channel } from '../../collector/src/channel/channel.ts';
import { BIG_EVENTS, BIG_TOPIC, bigTopic, bigTs } from '../helpers/big-topic.ts';
import { freePort, until } from '../helpers/process.ts';
import { defineBench, median, prng, type BenchContext } from './harness.ts';

const SLUICE = resolve(import.meta.dirname, '../../bin/sluice.js');
const REGEX = 'x{3}y';

interface Server {
  base: string;
  proc: ChildProcess;
  stop(): Promise<void>;
}

async function inspectServer(file: string): Promise<Server> {
  const port = await freePort();
  const proc = spawn(process.execPath, [SLUICE, 'inspect', file, '--port', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (err += d));
  await until(() => out.includes('admin API') || proc.exitCode !== null, { timeoutMs: 120_000, what: 'sluice inspect' });
  if (proc.exitCode !== null) throw new Error(`sluice inspect exited: ${err}`);
  return {
    base: `http://127.0.0.1:${port}/api/v1`,
    proc,
    stop: () =>
      new Promise((r) => {
        proc.once('exit', () => r());
        proc.kill('SIGTERM');
      }),
  };
}

async function timed(fn: () => Promise<unknown> | unknown): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

async function getJson(url: string): Promise<{ events: { offset: number }[]; scanned: number; stopped: string }> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: ${r.status} ${await r.text()}`);
  return r.json() as Promise<{ events: { offset: number }[]; scanned: number; stopped: string }>;
}

async function seeks(b: BenchContext, server: Server, channel: Channel, events: number): Promise<void> {
  const n = b.quick ? 50 : 300;
  const rand = prng(7);
  const offsets = Array.from({ length: n }, () => Math.floor(rand() * events));
  // Warm both paths (connections, statement caches) before measuring.
  for (const o of offsets.slice(0, 10)) await getJson(`${server.base}/topics/${BIG_TOPIC}/events?from=${o}&limit=1`);
  const http: number[] = [];
  const base: number[] = [];
  for (const o of offsets) {
    http.push(
      await timed(async () => {
        const p = await getJson(`${server.base}/topics/${BIG_TOPIC}/events?from=${o}&limit=1`);
        if (p.events[0]?.offset !== o) throw new Error(`seek to ${o} returned ${p.events[0]?.offset}`);
      }),
    );
    base.push(await timed(() => channel.read(BIG_TOPIC, o, { maxEvents: 1 })));
  }
  const httpT: number[] = [];
  const baseT: number[] = [];
  for (const o of offsets) {
    const ts = bigTs(o) + (o % 2);
    httpT.push(await timed(() => getJson(`${server.base}/topics/${BIG_TOPIC}/events?time=${ts}&limit=1`)));
    baseT.push(await timed(() => channel.read(BIG_TOPIC, channel.offsetForTime(BIG_TOPIC, ts), { maxEvents: 1 })));
  }
  const size = events.toLocaleString('en-US');
  b.log(`seek by offset: HTTP ${median(http).toFixed(2)} ms, channel ${median(base).toFixed(3)} ms; by time: HTTP ${median(httpT).toFixed(2)} ms, channel ${median(baseT).toFixed(3)} ms`);
  b.figure('api.seek_offset', {
    value: median(http),
    unit: 'ms',
    better: 'lower',
    baseline: median(base),
    notes: `GET /api/v1/topics/big/events?from=<offset>&limit=1 from this process to a \`sluice inspect\` process serving a ${size}-event topic (1,000-event record batches), median of ${n} random offsets, each checked. Baseline: Channel.read(topic, offset, {maxEvents: 1}) in-process on the same file — what the route adds is HTTP, routing, validation, presenting the event and JSON.`,
  });
  b.figure('api.seek_time', {
    value: median(httpT),
    unit: 'ms',
    better: 'lower',
    baseline: median(baseT),
    notes: `GET …/events?time=<ms>&limit=1 on the same ${size}-event topic (timestamps in pairs, half the targets between two timestamps), median of ${n}. Baseline: Channel.offsetForTime then Channel.read of 1, in-process.`,
  });
}

async function filterScan(b: BenchContext, server: Server, channel: Channel, events: number): Promise<void> {
  const rows = Math.min(events, 1_000_000);
  const rounds = b.quick ? 1 : 3;
  const http: number[] = [];
  const raw: number[] = [];
  for (let r = 0; r < rounds; r++) {
    let scanned = 0;
    const ms = await timed(async () => {
      const p = await getJson(`${server.base}/topics/${BIG_TOPIC}/events?from=0&bodyRegex=${encodeURIComponent(REGEX)}&maxScanRows=${rows}`);
      scanned = p.scanned;
      if (p.events.length !== 0) throw new Error('the regex matched');
    });
    http.push((scanned / ms) * 1000);
    // The raw loop: the same chunks, decode and test, nothing else.
    const re = new RegExp(REGEX);
    let seen = 0;
    let hits = 0;
    const rawMs = await timed(() => {
      let pos = 0;
      while (seen < rows) {
        const chunk = channel.read(BIG_TOPIC, pos, { maxEvents: Math.min(4096, rows - seen) });
        if (chunk.length === 0) break;
        for (const e of chunk) if (re.test(Buffer.from(e.body.buffer, e.body.byteOffset, e.body.byteLength).toString('utf8'))) hits++;
        seen += chunk.length;
        pos = chunk[chunk.length - 1].offset + 1;
      }
    });
    if (hits !== 0) throw new Error('the regex matched');
    raw.push((seen / rawMs) * 1000);
    b.log(`filter scan round ${r + 1}: API ${Math.round(http[r]).toLocaleString('en-US')} ev/s (${scanned.toLocaleString('en-US')} scanned), raw loop ${Math.round(raw[r]).toLocaleString('en-US')} ev/s`);
  }
  b.figure('api.filter_scan', {
    value: median(http),
    unit: 'events/s',
    better: 'higher',
    baseline: median(raw),
    goal: 0.5,
    notes: `GET …/events?from=0&bodyRegex=${REGEX}&maxScanRows=${rows.toLocaleString('en-US')}: a search that matches nothing, so it examines ${rows.toLocaleString('en-US')} events (bounded by admin.max_scan_rows / max_scan_ms; 4,096-event chunks with a yield to the event loop between them), timed from request to answer over HTTP. Baseline: a raw in-process loop over the same file — Channel.read in 4,096-event chunks, UTF-8 decode, RegExp.test — without yields, HTTP or bounds. Median of ${rounds}.`,
  });
}

async function tailFanout(b: BenchContext, server: Server, events: number): Promise<void> {
  const range = b.quick ? 20_000 : 100_000;
  const from = events - range;
  const wsBase = server.base.replace(/^http/, 'ws');
  const run = async (clients: number): Promise<number> => {
    const done: Promise<void>[] = [];
    const sockets: WebSocket[] = [];
    const t0 = performance.now();
    for (let c = 0; c < clients; c++) {
      const ws = new WebSocket(`${wsBase}/topics/${BIG_TOPIC}/tail?from=${from}`);
      sockets.push(ws);
      done.push(
        new Promise((resolveDone, reject) => {
          ws.on('message', (data: Buffer) => {
            // The end of an `events` message is `"next":N}`: read it without parsing the rest.
            const text = data.toString('latin1', Math.max(0, data.length - 40));
            const m = /"next":(\d+)\}$/.exec(text);
            if (m && Number(m[1]) >= events) resolveDone();
          });
          ws.on('error', reject);
        }),
      );
    }
    await Promise.all(done);
    const seconds = (performance.now() - t0) / 1000;
    for (const ws of sockets) ws.terminate();
    await new Promise((r) => setTimeout(r, 200));
    return (clients * range) / seconds;
  };
  await run(1); // warm-up
  const one = await run(1);
  const twenty = await run(20);
  b.log(`tail: 1 client ${Math.round(one).toLocaleString('en-US')} ev/s, 20 clients ${Math.round(twenty).toLocaleString('en-US')} ev/s in all`);
  b.figure('api.tail_fanout', {
    value: twenty,
    unit: 'events/s',
    better: 'higher',
    baseline: one,
    notes: `20 WebSocket clients tail the big topic from offset ${from.toLocaleString('en-US')} (${range.toLocaleString('en-US')} events each, 500 per message) against a \`sluice inspect\` process; events delivered to all clients together per second, from connect until every client has the last event. Clients at the same position share one read and one serialised message. Baseline: the same range to a single client.`,
  });
}

export default defineBench({
  name: 'api',
  summary: 'admin API: seeks by offset and time on 10M events, filtered scans, tail fan-out — over HTTP against sluice inspect',
  async run(b) {
    const events = b.quick ? 200_000 : BIG_EVENTS;
    const big = await bigTopic(events, (m) => b.log(m));
    b.log(big.buildMs === null ? `big topic reused (${big.file})` : `big topic built: ${events.toLocaleString('en-US')} events in ${(big.buildMs / 1000).toFixed(1)} s`);
    const server = await inspectServer(big.file);
    const channel = Channel.open({ file: big.file, readonly: true, retentionIntervalMs: 0 });
    try {
      await seeks(b, server, channel, events);
      await filterScan(b, server, channel, events);
      await tailFanout(b, server, events);
    } finally {
      await channel.close();
      await server.stop();
    }
  },
});
