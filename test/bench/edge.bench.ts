/**
 * An edge while its hub is away:
 *   edge.rss_outage  MB of resident memory of an edge process after 1,000,000 events arrived
 *                    while its forward sink's hub was away — the backlog is in the channel file,
 *                    not in memory. Baseline: the same process's own idle RSS, settled, before
 *                    the first event. Goal (issue #11): at most idle + 20 MB.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { high } from '../helpers/forward.ts';
import { freePort, startCollector, type CollectorProcess } from '../helpers/process.ts';
import { httpLoad, settledRssMb } from './collector.bench.ts';
import { defineBench } from './harness.ts';

const TOPIC = 'bench';

function rssMb(pid: number): number {
  const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? Number.NaN);
  return kb / 1024;
}

function edgeYaml(dir: string, adminPort: number, httpPort: number, hubPort: number): string {
  return `collector:
  id: bench-edge
log:
  level: error
admin:
  listen: 127.0.0.1:${adminPort}
channel:
  path: ${join(dir, 'data')}
  max_bytes: 8GiB
sources:
  web:
    type: http
    listen: 127.0.0.1:${httpPort}
sinks:
  hub:
    type: forward
    servers: [127.0.0.1:${hubPort}]
`;
}

export default defineBench({
  name: 'edge',
  summary: 'an edge process during a hub outage: memory goes back to idle while the backlog is on disk',
  async run(b) {
    if (!b.wants('edge.rss_outage')) return;
    const count = b.quick ? 200_000 : 1_000_000;
    const parts = 4;
    const dir = b.tempDir('edge-outage');
    const [adminPort, httpPort, nowhere] = [await freePort(), await freePort(), await freePort()]; // nothing listens on `nowhere`: the hub is away for the whole run
    const edge: CollectorProcess = await startCollector({ config: edgeYaml(dir, adminPort, httpPort, nowhere), dir });
    try {
      const pid = edge.proc.pid!;
      const idle = await settledRssMb(pid);
      let peak = idle;
      const sampler = setInterval(() => (peak = Math.max(peak, rssMb(pid))), 100);
      const along: number[] = [];
      const rates: number[] = [];
      try {
        for (let i = 0; i < parts; i++) {
          rates.push(await httpLoad(httpPort, TOPIC, count / parts, 8, 1000));
          along.push(rssMb(pid));
        }
      } finally {
        clearInterval(sampler);
      }
      const lastAck = performance.now();
      const stored = await high(edge.adminUrl, TOPIC);
      if (stored < count) throw new Error(`the edge stored ${stored} of ${count} events`);
      const early = await settledRssMb(pid, 2000);
      // The memory reducer (runtime/memory.ts) acts after 6 s of quiet and once more 6 s later;
      // V8 hands the pages back within seconds of the second (measured: 15–20 s after the burst).
      const after = await settledRssMb(pid, Math.max(0, 25_000 - (performance.now() - lastAck)));
      const state = (await edge.api<{ sinks: { state: string }[] }>('/api/v1/sinks')).sinks[0]?.state ?? null;
      if (state !== 'backing_off') throw new Error(`the forward sink should be backing off during the outage, is ${state}`);
      const fmt = (xs: number[]) => xs.map((mb, i) => `${(((i + 1) * count) / parts / 1000).toLocaleString('en-US')}k: ${mb.toFixed(0)} MB`).join(', ');
      b.log(`idle ${idle.toFixed(1)} MB; along the outage ${fmt(along)} (peak ${peak.toFixed(0)} MB); 2 s after ${early.toFixed(1)} MB; settled after ${after.toFixed(1)} MB`);
      b.figure('edge.rss_outage', {
        value: after,
        unit: 'MB',
        better: 'lower',
        baseline: idle,
        goal: Number((idle / (idle + 20)).toFixed(3)),
        notes:
          `Resident memory (VmRSS) of an edge process (\`sluice start\`: an http source, a forward sink with its default batches and retry — 200 ms doubling to 30 s — whose hub is away the whole run: connection refused, the sink backing off) after ${count.toLocaleString('en-US')} events (1,000-event NDJSON POSTs of ~200-byte JSON events from 8 clients, ${rates.map((r) => Math.round(r / 1000)).join(' / ')}k ev/s) went into its channel, settled (sampled every 250 ms from 25 s after the last ack until 2 s of samples lie within 0.5 MB; ${early.toFixed(0)} MB 2 s after the last ack, before the memory reducer's quiet spell). ` +
          `Baseline: the same process's settled idle RSS before the first event. Goal (issue #11): ≤ idle + 20 MB. Along the backlog: ${fmt(along)}; peak ${peak.toFixed(0)} MB while events arrived (sampled every 100 ms). ` +
          'The backlog is in the channel file; the sink holds at most one batch, and what the burst made the process hold is given back once it is quiet (runtime/memory.ts).',
      });
    } finally {
      await edge.stop();
    }
  },
});
