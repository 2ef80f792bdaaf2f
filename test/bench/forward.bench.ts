/**
 * Edge → hub over the forward protocol, both on this machine (docs/protocols/forward.md):
 *   forward.sustained    events/s arriving at a hub process while an edge process generates and
 *                        forwards them at full speed (baseline: Channel.append in this process)
 *   forward.catchup      events/s draining an edge's 1,000,000-event backlog into a hub that was
 *                        away while it built up
 *   forward.latency_p50  ms from an event's creation on the edge (a generator at 5,000 events/s)
 *   forward.latency_p99  to its commit on the hub (baseline: the same to a Channel.append in one
 *                        process — what a single collector costs)
 * Edges are real `sluice start` processes; sustained and catch-up hubs too. The latency hub is a
 * forward source in this process on a real channel file, so each event's commit time is exact.
 */
import { mkdirSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { Channel } from '../../collector/src/channel/channel.ts';
import type { IngestResult, SourceContext } from '../../collector/src/components.ts';
import { silentLogger } from '../../collector/src/log.ts';
import { ForwardSource, forwardSource } from '../../collector/src/sources/forward/forward.ts';
import type { EventDraft } from '../../shared/src/event.ts';
import { validateConfig } from '../../shared/src/spec.ts';
import { freePort, startCollector, until, type CollectorProcess } from '../helpers/process.ts';
import { high } from '../helpers/forward.ts';
import { defineBench, percentile, type BenchContext } from './harness.ts';

const TOPIC = 'bench';
const BODY_BYTES = 200;

/** The sink settings every figure uses; tuned with this benchmark (see the notes). */
export const EDGE_SINK = `    batch: { max_events: 20000, max_bytes: 32MiB }
    body_as: bytes
    chunk_max_events: 2000
    in_flight: 4
    retry: { initial: 50ms, max: 500ms }
`;

type EdgeInput = { generator: { rate: number; count: number } } | { httpPort: number };

function edgeYaml(dir: string, adminPort: number, hubPort: number, input: EdgeInput): string {
  const source =
    'httpPort' in input
      ? `  web:
    type: http
    listen: 127.0.0.1:${input.httpPort}
`
      : `  gen:
    type: generator
    topic: ${TOPIC}
    rate: ${input.generator.rate}
    count: ${input.generator.count}
    batch: ${input.generator.rate > 0 ? 1000 : 10000}
    format: json
    size: ${BODY_BYTES}
`;
  return `collector:
  id: bench-edge
log:
  level: warn
admin:
  listen: 127.0.0.1:${adminPort}
channel:
  path: ${join(dir, 'data')}
  max_bytes: 8GiB
sources:
${source}sinks:
  hub:
    type: forward
    servers: [127.0.0.1:${hubPort}]
${EDGE_SINK}`;
}

/**
 * Producers outside the edge: 1,000-event JSON array POSTs to its http source, `concurrency` at a
 * time, bodies built once. Resolves with the rate the edge took them at.
 */
async function produce(httpPort: number, total: number, concurrency: number): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const bodies = Array.from({ length: 8 }, (_, k) => {
    const now = Date.now();
    return Buffer.from(`[${Array.from({ length: 1000 }, (_, i) => Buffer.from(body(k * 1000 + i, now)).toString()).join(',')}]`);
  });
  let sent = 0;
  let n = 0;
  const started = performance.now();
  const one = (payload: Buffer) =>
    new Promise<void>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: httpPort, path: `/${TOPIC}`, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': payload.length } }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`POST: ${res.statusCode}`))));
      });
      req.on('error', reject);
      req.end(payload);
    });
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (sent < total) {
        sent += 1000;
        await one(bodies[n++ % bodies.length]);
      }
    }),
  );
  agent.destroy();
  return total / ((performance.now() - started) / 1000);
}

function hubYaml(dir: string, adminPort: number, forwardPort: number): string {
  return `collector:
  id: bench-hub
log:
  level: warn
admin:
  listen: 127.0.0.1:${adminPort}
channel:
  path: ${join(dir, 'data')}
  max_bytes: 8GiB
sources:
  forward:
    type: forward
    listen: 127.0.0.1:${forwardPort}
`;
}

async function startIn(b: BenchContext, label: string, config: (dir: string) => string): Promise<CollectorProcess> {
  const dir = b.tempDir(label);
  mkdirSync(dir, { recursive: true });
  return startCollector({ config: config(dir), dir });
}

/** Polls a topic's high watermark; returns when it reaches `total`, with the first and last arrival times seen. */
async function watchArrival(adminUrl: string, total: number, timeoutMs: number, onProgress?: (n: number) => void): Promise<{ firstAt: number; firstCount: number; doneAt: number }> {
  let firstAt = 0;
  let firstCount = 0;
  const deadline = Date.now() + timeoutMs;
  let lastLog = Date.now();
  for (;;) {
    const n = await high(adminUrl, TOPIC);
    const now = performance.now();
    if (n > 0 && firstAt === 0) {
      firstAt = now;
      firstCount = n;
    }
    if (n >= total) return { firstAt, firstCount, doneAt: now };
    if (Date.now() > deadline) throw new Error(`only ${n} of ${total} events arrived within ${timeoutMs / 1000}s`);
    if (onProgress && Date.now() - lastLog > 5000) {
      lastLog = Date.now();
      onProgress(n);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The same events the generator makes: 200-byte JSON bodies with one header. */
function body(i: number, ts: number): Uint8Array {
  const head = `{"seq":${i},"ts":${ts},"message":"hello from sluice #${i}","pad":"`;
  return Buffer.from(head + 'x'.repeat(Math.max(0, BODY_BYTES - head.length - 2)) + '"}');
}

/** Channel.append at full speed from 64 producers of 100-event batches (as channel.bench), events/s. */
async function appendBaseline(b: BenchContext, total: number): Promise<number> {
  const channel = Channel.open({ file: join(b.tempDir('append'), 'channel.db'), synchronous: 'full', retentionIntervalMs: 0, maxBytes: 1024 ** 4, defaults: { retentionMs: null } });
  const now = Date.now();
  const headers = { 'content-type': 'application/json' };
  const batches = Array.from({ length: 64 }, (_, p) => Array.from({ length: 100 }, (_, i): EventDraft => ({ topic: TOPIC, ts: now, key: null, headers, body: body(p * 100 + i, now) })));
  let claimed = 0;
  const started = performance.now();
  await Promise.all(
    batches.map(async (events) => {
      while (claimed < total) {
        claimed += events.length;
        await channel.append({ events });
      }
    }),
  );
  const rate = channel.stats().appendedEvents / ((performance.now() - started) / 1000);
  await channel.close();
  return rate;
}

async function sustained(b: BenchContext, total: number): Promise<void> {
  const baseline = await appendBaseline(b, total);
  b.log(`channel.append baseline: ${Math.round(baseline).toLocaleString('en-US')} events/s`);
  const ports = { hubAdmin: await freePort(), hubForward: await freePort(), edgeAdmin: await freePort(), edgeHttp: await freePort() };
  const hub = await startIn(b, 'hub', (dir) => hubYaml(dir, ports.hubAdmin, ports.hubForward));
  let edge: CollectorProcess | null = null;
  try {
    edge = await startIn(b, 'edge', (dir) => edgeYaml(dir, ports.edgeAdmin, ports.hubForward, { httpPort: ports.edgeHttp }));
    const arrival = watchArrival(hub.adminUrl, total, 600_000, (n) => b.log(`sustained: ${n.toLocaleString('en-US')} events on the hub`));
    const ingestRate = await produce(ports.edgeHttp, total, 8);
    const { firstAt, firstCount, doneAt } = await arrival;
    const rate = (total - firstCount) / ((doneAt - firstAt) / 1000);
    b.log(`sustained: the edge took ${Math.round(ingestRate).toLocaleString('en-US')} events/s, the hub received ${Math.round(rate).toLocaleString('en-US')} events/s`);
    b.figure('forward.sustained', {
      value: rate,
      unit: 'events/s',
      better: 'higher',
      baseline,
      goal: 0.4,
      notes:
        `${total.toLocaleString('en-US')} events (200-byte JSON bodies, content-type header) POSTed by this process to an edge process's http source (1,000-event JSON arrays, 8 requests in flight: producers outside the edge, as in production) and forwarded at the same time to a hub process on loopback; both channels synchronous=FULL. ` +
        `Rate of arrival on the hub (its high watermark polled every 25 ms) from the first to the last event. Sink: runner batches of 10,000, chunks of 1,000 events, 4 chunks in flight, no gzip. ` +
        `Baseline: Channel.append in the bench process, 64 producers of 100-event batches (as channel.append), same events.`,
    });
  } finally {
    await edge?.stop();
    await hub.stop();
  }
}

async function catchup(b: BenchContext, total: number): Promise<void> {
  const ports = { hubAdmin: await freePort(), hubForward: await freePort(), edgeAdmin: await freePort() };
  const edge = await startIn(b, 'edge', (dir) => edgeYaml(dir, ports.edgeAdmin, ports.hubForward, { generator: { rate: 0, count: total } }));
  let hub: CollectorProcess | null = null;
  try {
    const built = performance.now();
    await until(async () => (await high(edge.adminUrl, TOPIC)) >= total, { timeoutMs: 600_000, intervalMs: 250, what: 'the edge backlog' });
    b.log(`catchup: ${total.toLocaleString('en-US')}-event backlog on the edge in ${((performance.now() - built) / 1000).toFixed(1)} s (hub away)`);
    hub = await startIn(b, 'hub', (dir) => hubYaml(dir, ports.hubAdmin, ports.hubForward));
    const { firstAt, firstCount, doneAt } = await watchArrival(hub.adminUrl, total, 600_000, (n) => b.log(`catchup: ${n.toLocaleString('en-US')} events on the hub`));
    const rate = (total - firstCount) / ((doneAt - firstAt) / 1000);
    b.figure('forward.catchup', {
      value: rate,
      unit: 'events/s',
      better: 'higher',
      baseline: null,
      notes:
        `An edge process built a ${total.toLocaleString('en-US')}-event backlog (200-byte JSON bodies) while its hub was away (the sink backing off); then a hub process started on loopback and the backlog drained. ` +
        `Rate of arrival on the hub from the first to the last event, nothing else running. Same sink settings as forward.sustained.`,
    });
  } finally {
    await hub?.stop();
    await edge.stop();
  }
}

/** A forward source in this process whose ingest notes each event's creation → commit time. */
async function latencyHub(b: BenchContext, samples: number[]): Promise<{ source: ForwardSource; channel: Channel }> {
  const channel = Channel.open({ file: join(b.tempDir('latency-hub'), 'channel.db'), synchronous: 'full', retentionIntervalMs: 0, maxBytes: 1024 ** 4 });
  const ctx: SourceContext = {
    name: 'forward',
    log: silentLogger,
    channel,
    signal: new AbortController().signal,
    collectorId: 'bench-hub',
    async ingest(events, options): Promise<IngestResult> {
      const result = await channel.append({ events, dedupe: options?.dedupe });
      const now = Date.now();
      if (!result.duplicate) for (const e of events) samples.push(now - e.ts);
      return { accepted: events.length, dropped: 0, duplicate: result.duplicate };
    },
  };
  const { value } = validateConfig(forwardSource.config, { listen: '127.0.0.1:0' }, 'sources.forward');
  const source = forwardSource.create(value!, ctx) as ForwardSource;
  await source.start();
  return { source, channel };
}

/** The plain way: events made at `rate` and appended straight to a channel in this process. */
async function appendLatency(b: BenchContext, rate: number, seconds: number): Promise<number[]> {
  const channel = Channel.open({ file: join(b.tempDir('latency-base'), 'channel.db'), synchronous: 'full', retentionIntervalMs: 0, maxBytes: 1024 ** 4 });
  const headers = { 'content-type': 'application/json' };
  const samples: number[] = [];
  const pending: Promise<void>[] = [];
  const t0 = performance.now();
  const epoch0 = Date.now();
  let made = 0;
  while (made < rate * seconds) {
    const due = Math.floor(((performance.now() - t0) / 1000) * rate) - made;
    if (due <= 0) {
      await new Promise((r) => setTimeout(r, 1));
      continue;
    }
    // Each event's time is when it was due, not when this loop got to it: a stall of this thread
    // (a checkpoint) then shows as latency instead of hiding the events it delayed.
    const events = Array.from({ length: due }, (_, i): EventDraft => {
      const ts = Math.round(epoch0 + ((made + i) / rate) * 1000);
      return { topic: TOPIC, ts, key: null, headers, body: body(made + i, ts) };
    });
    made += due;
    pending.push(channel.append({ events }).then(() => {
      const now = Date.now();
      for (const e of events) samples.push(now - e.ts);
    }));
  }
  await Promise.all(pending);
  await channel.close();
  return samples;
}

async function latency(b: BenchContext, seconds: number): Promise<void> {
  const rate = 5000;
  const baseSamples = await appendLatency(b, rate, seconds);
  const samples: number[] = [];
  const { source, channel } = await latencyHub(b, samples);
  const adminPort = await freePort();
  const edge = await startIn(b, 'edge', (dir) => edgeYaml(dir, adminPort, source.port, { generator: { rate, count: rate * (seconds + 2) } }));
  try {
    // The first two seconds warm up (process start, JIT); the rest is measured.
    await until(() => samples.length >= rate * 2, { timeoutMs: 60_000, what: 'warm-up events' });
    const warm = samples.length;
    await until(() => samples.length >= rate * (seconds + 2), { timeoutMs: seconds * 1000 + 60_000, intervalMs: 100, what: 'the measured events' });
    const measured = samples.slice(warm);
    const p50 = percentile(measured, 50);
    const p99 = percentile(measured, 99);
    const baseP50 = percentile(baseSamples, 50);
    const baseP99 = percentile(baseSamples, 99);
    b.log(`latency at ${rate} events/s: p50 ${p50} ms, p99 ${p99} ms (one process: p50 ${baseP50} ms, p99 ${baseP99} ms); ${measured.length} events`);
    const notes = (which: string) =>
      `${which} of ${measured.length.toLocaleString('en-US')} events: a generator source in an edge process makes 5,000 events/s (200-byte JSON bodies), its forward sink sends them (batches as they come, no wait) to a hub on loopback; ` +
      `time from the event's creation (its ts, set by the generator) to the commit on the hub (synchronous=FULL) that precedes the ack. Clocks are the same machine's. The hub is a forward source in the bench process so each commit is timed exactly; the first 2 s are warm-up. ` +
      `The tail is the edge's WAL checkpoints (PASSIVE every 16 MiB committed, about 100–200 ms on this machine's disk, blocking its event loop; about one every 13 s at this rate). ` +
      `Baseline: the same rate appended straight to a channel in one process (what a single collector costs), each event timed from when it was due, so that process's own checkpoint stalls count too; ms have 1 ms resolution.`;
    b.figure('forward.latency_p50', { value: p50, unit: 'ms', better: 'lower', baseline: baseP50, notes: notes('Median') });
    b.figure('forward.latency_p99', { value: p99, unit: 'ms', better: 'lower', baseline: baseP99, notes: notes('99th percentile') });
  } finally {
    await edge.stop();
    await source.stop();
    await channel.close();
  }
}

export default defineBench({
  name: 'forward',
  summary: 'edge → hub over the forward protocol: sustained, catch-up, end-to-end latency',
  async run(b) {
    if (b.wants('forward.sustained')) await sustained(b, b.quick ? 100_000 : 1_000_000);
    if (b.wants('forward.catchup')) await catchup(b, b.quick ? 100_000 : 1_000_000);
    if (b.wants('forward.latency_p50') || b.wants('forward.latency_p99')) await latency(b, b.quick ? 5 : 30);
  },
});
