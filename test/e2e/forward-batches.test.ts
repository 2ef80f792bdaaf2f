/**
 * Sluice-to-Sluice batch forwarding with real `sluice start` processes (docs/protocols/forward.md
 * "Batch forwarding"). One hub takes two edges at once: one on the defaults (its stored record
 * batches travel as they are, since the hub's acks say `sluice: 2`) and one with
 * `body_as: fields` (ordinary PackedForward, as an older Sluice or Fluent Bit sends). The same
 * events posted to both end up identical on the hub apart from their offsets; then the hub and
 * the batch edge are each SIGKILLed mid-stream and restarted, and every acknowledged event is on
 * the hub exactly once, in order.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { Channel } from '../../collector/src/channel/channel.ts';
import { fromUtf8 } from '../../shared/src/event.ts';
import { batchBody, checkTopic, edgeConfig, high, hubConfig } from '../helpers/forward.ts';
import { freePort, removeDir, scaled, startCollector, until, type CollectorProcess } from '../helpers/process.ts';

const dir = join(process.env.TMPDIR ?? '/tmp', `sluice-forward-batches-${process.pid}`);
const running: CollectorProcess[] = [];
afterAll(async () => {
  for (const c of running) await c.kill();
  removeDir(dir);
});

/** POSTs events `from … from+n-1` with a fixed time, key and header per request, so both edges store the same events. */
async function postSame(httpPort: number, topic: string, from: number, n: number): Promise<void> {
  const r = await fetch(`http://127.0.0.1:${httpPort}/${topic}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-sluice-ts': String(1_700_000_000_000 + from),
      'x-sluice-key': `k-${from % 7}`,
      'x-sluice-header-env': 'prod-ü',
    },
    body: batchBody('same', from, n),
  });
  await r.arrayBuffer();
  if (!r.ok) throw new Error(`POST /${topic}: ${r.status}`);
}

function stored(file: string, topic: string): { offset: number; ts: number; key: string | null; headers: Record<string, string>; body: string }[] {
  const channel = Channel.open({ file, readonly: true, retentionIntervalMs: 0 });
  try {
    const out: { offset: number; ts: number; key: string | null; headers: Record<string, string>; body: string }[] = [];
    for (let from = 0; ; ) {
      const page = channel.read(topic, from, { maxEvents: 10_000 });
      if (page.length === 0) return out;
      for (const e of page) out.push({ offset: e.offset, ts: e.ts, key: e.key, headers: e.headers, body: fromUtf8(e.body) });
      from = page[page.length - 1].offset + 1;
    }
  } finally {
    void channel.close();
  }
}

it('batch forwarding beside PackedForward into one hub: the same events stored either way; hub and edge SIGKILLed mid-stream, every event once, in order', async () => {
  const hubDir = join(dir, 'hub');
  const batchDir = join(dir, 'edge-batches');
  const fieldsDir = join(dir, 'edge-fields');
  for (const d of [hubDir, batchDir, fieldsDir]) mkdirSync(d, { recursive: true });
  const hubPorts = { admin: await freePort(), forward: await freePort() };
  const batchPorts = { admin: await freePort(), http: await freePort() };
  const fieldsPorts = { admin: await freePort(), http: await freePort() };
  const startHub = async () => {
    const hub = await startCollector({ config: hubConfig(hubDir, hubPorts, 'log:\n  level: info\n'), dir: hubDir });
    running.push(hub);
    return hub;
  };
  const batchYaml = edgeConfig(batchDir, batchPorts, [hubPorts.forward]).replace('id: edge-1', 'id: edge-batches');
  const startBatchEdge = async () => {
    const edge = await startCollector({ config: batchYaml, dir: batchDir });
    running.push(edge);
    return edge;
  };
  let hub = await startHub();
  let batchEdge = await startBatchEdge();
  const fieldsEdge = await startCollector({ config: edgeConfig(fieldsDir, fieldsPorts, [hubPorts.forward], '    body_as: fields\n').replace('id: edge-1', 'id: edge-fields'), dir: fieldsDir });
  running.push(fieldsEdge);

  // 1. The same 20,000 events through each edge, at the same time.
  const N = 20_000;
  await Promise.all([
    (async () => {
      for (let from = 0; from < N; from += 1000) await postSame(batchPorts.http, 'viabatches', from, 1000);
    })(),
    (async () => {
      for (let from = 0; from < N; from += 1000) await postSame(fieldsPorts.http, 'viafields', from, 1000);
    })(),
  ]);
  await until(async () => (await high(hub.adminUrl, 'viabatches')) >= N && (await high(hub.adminUrl, 'viafields')) >= N, { timeoutMs: 60_000, intervalMs: 100, what: 'both edges\' events on the hub' });
  const detail = async (edge: CollectorProcess) => (await edge.api<{ detail: { bodyAs: string } }>('/api/v1/sinks/hub')).detail.bodyAs;
  expect(await detail(batchEdge)).toBe('batches');
  expect(await detail(fieldsEdge)).toBe('fields');
  const hubFile = join(hubDir, 'data', 'channel.db');
  const viaBatches = stored(hubFile, 'viabatches');
  const viaFields = stored(hubFile, 'viafields');
  expect(viaBatches.length).toBe(N);
  expect(viaBatches).toEqual(viaFields); // offsets included: each topic starts at 0
  expect(viaBatches[1]).toMatchObject({ ts: 1_700_000_000_000, key: 'k-0', headers: { 'content-type': 'application/json', env: 'prod-ü' } });

  // 2. Kill -9 the hub, then the batch edge, each in the middle of a catch-up: the backlog is fed
  // while the hub is away, so every attempt at a runner batch reads the same events (a batch that
  // grows between attempts could cut its last chunk differently: see the protocol page).
  const TOTAL = 80_000;
  let acked = N;
  const feed = async (upTo: number) => {
    for (; acked < upTo; acked += 1000) await postSame(batchPorts.http, 'viabatches', acked, 1000);
  };
  expect(await hub.stop()).toBe(0);
  await feed(50_000);
  hub = await startHub();
  await until(async () => (await high(hub.adminUrl, 'viabatches')) > N, { timeoutMs: 60_000, intervalMs: 10, what: 'the catch-up to start' });
  const atHubKill = await high(hub.adminUrl, 'viabatches');
  await hub.kill();
  hub = await startHub();
  await until(async () => (await high(hub.adminUrl, 'viabatches')) >= 50_000, { timeoutMs: 120_000, intervalMs: 100, what: 'the backlog on the restarted hub' });
  expect(await hub.stop()).toBe(0);
  await feed(TOTAL);
  hub = await startHub();
  await until(async () => (await high(hub.adminUrl, 'viabatches')) > 50_000, { timeoutMs: 60_000, intervalMs: 10, what: 'the second catch-up to start' });
  const atEdgeKill = await high(hub.adminUrl, 'viabatches');
  await batchEdge.kill();
  batchEdge = await startBatchEdge();
  await until(async () => (await high(hub.adminUrl, 'viabatches')) >= TOTAL, { timeoutMs: 120_000, intervalMs: 100, what: 'every event on the hub' });
  await until(async () => (await batchEdge.api<{ lag: number }>('/api/v1/sinks/hub')).lag === 0, { timeoutMs: 30_000, what: 'edge lag 0' });
  console.log(`forward batches: hub SIGKILLed with ${atHubKill} of 50,000 events on it, the batch edge with ${atEdgeKill} of ${TOTAL}`);
  expect(await hub.stop()).toBe(0);
  expect(checkTopic(hubFile, 'viabatches', TOTAL)).toEqual({ topic: 'viabatches', events: TOTAL, duplicates: [], missing: [], inOrder: true, dense: true });
  expect(await batchEdge.stop()).toBe(0);
  expect(await fieldsEdge.stop()).toBe(0);
}, scaled(300_000));
