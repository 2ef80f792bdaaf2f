/**
 * Edge → hub with two real `sluice start` processes on loopback. The hub is stopped while the
 * edge keeps taking events (100,000+ of them, fed in 1,000-event POSTs to its http source); when
 * the hub comes back every event arrives, in offset order per topic, none twice.
 *
 * The outage lasts SLUICE_FORWARD_OUTAGE_MS (default 15 s; the minute is
 * SLUICE_FORWARD_OUTAGE_MS=60000) or as long as feeding takes, whichever is longer.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { checkTopic, edgeConfig, high, hubConfig, post } from '../helpers/forward.ts';
import { freePort, removeDir, startCollector, tempDir, until, type CollectorProcess } from '../helpers/process.ts';

const OUTAGE_MS = Number(process.env.SLUICE_FORWARD_OUTAGE_MS ?? 15_000);
const TOPICS = ['orders', 'clicks'];
const BEFORE = 10_000; // per topic, while the hub is up
const DURING = 55_000; // per topic, while it is down: 110,000 in all
const AFTER = 10_000; // per topic, while it catches up
const POST_EVENTS = 1000;

const dir = tempDir('sluice-forward-outage-');
const running: CollectorProcess[] = [];
afterAll(async () => {
  for (const c of running) await c.kill();
  removeDir(dir);
});

interface SinkStatus {
  state: string;
  lag: number;
  lastError: { message: string } | null;
}

async function feed(httpPort: number, fromPerTopic: number, perTopic: number, spreadMs = 0): Promise<void> {
  const posts = perTopic / POST_EVENTS;
  const started = Date.now();
  for (let p = 0; p < posts; p++) {
    await Promise.all(TOPICS.map((t) => post(httpPort, t, fromPerTopic + p * POST_EVENTS, POST_EVENTS)));
    const due = started + ((p + 1) / posts) * spreadMs;
    if (Date.now() < due) await new Promise((r) => setTimeout(r, due - Date.now()));
  }
}

it(
  `the hub is away for ${OUTAGE_MS / 1000}s while the edge takes ${(DURING * TOPICS.length).toLocaleString('en-US')} events: all arrive once, in order`,
  async () => {
    const hubDir = join(dir, 'hub');
    const edgeDir = join(dir, 'edge');
    mkdirSync(hubDir);
    mkdirSync(edgeDir);
    const hubPorts = { admin: await freePort(), forward: await freePort() };
    const edgePorts = { admin: await freePort(), http: await freePort() };
    const startHub = async () => {
      const hub = await startCollector({ config: hubConfig(hubDir, hubPorts), dir: hubDir });
      running.push(hub);
      return hub;
    };
    let hub = await startHub();
    const edge = await startCollector({ config: edgeConfig(edgeDir, edgePorts, [hubPorts.forward]), dir: edgeDir });
    running.push(edge);

    // 1. Hub up.
    await feed(edgePorts.http, 0, BEFORE);
    await until(async () => (await high(hub.adminUrl, 'orders')) === BEFORE && (await high(hub.adminUrl, 'clicks')) === BEFORE, { timeoutMs: 60_000, what: 'the first events on the hub' });

    // 2. Hub away: the edge keeps taking events into its channel.
    expect(await hub.stop()).toBe(0);
    const outageStarted = Date.now();
    await feed(edgePorts.http, BEFORE, DURING, OUTAGE_MS * 0.8);
    const status = await until(
      async () => {
        const s = await edge.api<SinkStatus>('/api/v1/sinks/hub');
        return s.state === 'backing_off' && s.lag >= DURING * TOPICS.length ? s : null;
      },
      { timeoutMs: 30_000, what: 'the edge sink to back off with the backlog' },
    );
    expect(status.lastError?.message).toMatch(new RegExp(`sink "hub": (connection refused by|no forward server reachable.*) 127\\.0\\.0\\.1:${hubPorts.forward}`));
    const left = OUTAGE_MS - (Date.now() - outageStarted);
    if (left > 0) await new Promise((r) => setTimeout(r, left));

    // 3. Hub back (same channel file, same port); more events arrive while it catches up.
    hub = await startHub();
    const catchup = Date.now();
    await feed(edgePorts.http, BEFORE + DURING, AFTER);
    const total = BEFORE + DURING + AFTER;
    await until(async () => (await high(hub.adminUrl, 'orders')) >= total && (await high(hub.adminUrl, 'clicks')) >= total, {
      timeoutMs: 120_000,
      intervalMs: 200,
      what: 'the backlog to arrive on the hub',
    });
    const catchupMs = Date.now() - catchup;
    await until(async () => (await edge.api<SinkStatus>('/api/v1/sinks/hub')).lag === 0, { timeoutMs: 30_000, what: 'edge lag 0' });
    console.log(`forward outage: ${(DURING * TOPICS.length).toLocaleString('en-US')} events buffered over ${((Date.now() - outageStarted - catchupMs) / 1000).toFixed(0)} s; caught up in ${(catchupMs / 1000).toFixed(1)} s`);

    expect(await hub.stop()).toBe(0);
    for (const topic of TOPICS) {
      const check = checkTopic(join(hubDir, 'data', 'channel.db'), topic, total);
      expect(check).toEqual({ topic, events: total, duplicates: [], missing: [], inOrder: true, dense: true });
    }
    expect(await edge.stop()).toBe(0);
  },
  OUTAGE_MS + 240_000,
);
