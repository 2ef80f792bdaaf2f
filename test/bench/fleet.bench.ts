/**
 * What fleet reporting costs an edge:
 *   fleet.report_cost  events/s a generator source stores in an edge process that reports its
 *                      state every second (30× the default interval, so the cost shows), beside the
 *                      same edge with reporting off, alternating rounds in the same run. The issue's
 *                      bound: reporting costs at most 1% of edge ingest (ratio ≥ 0.99).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { high } from '../helpers/forward.ts';
import { freePort, startCollector, until } from '../helpers/process.ts';
import { defineBench, type BenchContext } from './harness.ts';

const TOPIC = 'bench';

function yaml(dir: string, admin: number, count: number, report: boolean): string {
  return `collector:
  id: bench-fleet
log:
  level: error
admin:
  listen: 127.0.0.1:${admin}
channel:
  path: ${join(dir, 'data')}
  max_bytes: 8GiB
fleet:
  report: ${report}
  report_interval: 1s
sources:
  gen:
    type: generator
    topic: ${TOPIC}
    rate: 0
    count: ${count}
    batch: 1000
    format: json
    size: 200
`;
}

/** Events/s from the first stored event to the last. */
async function round(b: BenchContext, count: number, report: boolean): Promise<number> {
  const dir = b.tempDir(report ? 'fleet-on' : 'fleet-off');
  mkdirSync(dir, { recursive: true });
  const edge = await startCollector({ config: yaml(dir, await freePort(), count, report), dir });
  try {
    await until(async () => (await high(edge.adminUrl, TOPIC)) > 0, { intervalMs: 5, timeoutMs: 60_000, what: 'the first event' });
    const started = performance.now();
    await until(async () => (await high(edge.adminUrl, TOPIC)) >= count, { intervalMs: 20, timeoutMs: 600_000, what: `${count} events` });
    return count / ((performance.now() - started) / 1000);
  } finally {
    await edge.stop();
  }
}

export default defineBench({
  name: 'fleet',
  summary: 'the cost of fleet reporting on edge ingest',
  async run(b) {
    if (!b.wants('fleet.report_cost')) return;
    // Rounds of ~7 s each (3,000,000 events), so a round holds several reports and registry polls.
    const count = b.quick ? 100_000 : 3_000_000;
    const rounds = b.quick ? 1 : 5;
    const on: number[] = [];
    const off: number[] = [];
    for (let i = 0; i < rounds; i++) {
      off.push(await round(b, count, false));
      on.push(await round(b, count, true));
    }
    // Medians: a 1% effect is inside one round's noise, and a single fast round should not decide it.
    const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
    b.figure('fleet.report_cost', {
      value: median(on),
      unit: 'events/s',
      better: 'higher',
      baseline: median(off),
      goal: 0.99,
      notes: `${count.toLocaleString('en-US')} generated 200-byte JSON events (batches of 1,000) stored by an edge process that appends a fleet report every 1 s (30× the default fleet.report_interval). Baseline: the same edge with fleet.report: false. Median of ${rounds} alternating rounds each: on ${on.map(Math.round).join(' / ')}, off ${off.map(Math.round).join(' / ')} events/s.`,
    });
  },
});
