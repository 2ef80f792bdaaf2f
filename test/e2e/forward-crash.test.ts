/**
 * Edge → hub while the hub is SIGKILLed again and again, with real `sluice start` processes. The
 * network between them is a TCP proxy (test/helpers/tcp-proxy.ts), so some kills come exactly
 * where the promise is hardest to keep: the hub has stored a chunk and sent its ack, the edge
 * has not read it (the proxy swallows it), and the hub dies. The edge resends the chunk with the
 * same id after the restart; the hub recognises it from the chunk ids it committed with the
 * events, acknowledges it again and stores nothing twice. Other kills come at random moments.
 * At the end every event is on the hub exactly once, in order. SLUICE_CRASH_SEED picks other
 * moments.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { checkTopic, edgeConfig, high, hubConfig, post } from '../helpers/forward.ts';
import { freePort, removeDir, scaled, startCollector, until, type CollectorProcess } from '../helpers/process.ts';
import { TcpProxy } from '../helpers/tcp-proxy.ts';
import { prng } from '../helpers/random.ts';

const SEED = Number(process.env.SLUICE_CRASH_SEED ?? 4_242);
const ROUNDS = 6; // kills: even rounds while an ack is swallowed, odd rounds at a random moment
const TOPICS = ['orders', 'clicks'];
const PER_TOPIC = 40_000;
const POST_EVENTS = 1000;

const dir = join(process.env.TMPDIR ?? '/tmp', `sluice-forward-crash-${process.pid}`);
const running: CollectorProcess[] = [];
const proxies: TcpProxy[] = [];
afterAll(async () => {
  for (const c of running) await c.kill();
  for (const p of proxies) await p.stop();
  removeDir(dir);
});

it(`forward: the hub SIGKILLed ${ROUNDS} times mid-stream, ${ROUNDS / 2} of them after storing a chunk whose ack the edge never read — every event once, in order`, async () => {
  const random = prng(SEED);
  const hubDir = join(dir, 'hub');
  const edgeDir = join(dir, 'edge');
  mkdirSync(hubDir, { recursive: true });
  mkdirSync(edgeDir, { recursive: true });
  const hubPorts = { admin: await freePort(), forward: await freePort() };
  const edgePorts = { admin: await freePort(), http: await freePort() };
  const proxy = await TcpProxy.start({ host: '127.0.0.1', port: hubPorts.forward });
  proxies.push(proxy);
  const hubs: CollectorProcess[] = [];
  const startHub = async () => {
    const hub = await startCollector({ config: hubConfig(hubDir, hubPorts, 'log:\n  level: info\n'), dir: hubDir });
    running.push(hub);
    hubs.push(hub);
    return hub;
  };
  let hub = await startHub();
  const edge = await startCollector({ config: edgeConfig(edgeDir, edgePorts, [proxy.port], '    chunk_max_events: 500\n    body_as: bytes\n'), dir: edgeDir });
  running.push(edge);

  // The producer: 1,000-event POSTs to the edge, alternating topics, about 8,000 events/s.
  let fed = 0;
  const feeding = (async () => {
    for (let p = 0; p < PER_TOPIC / POST_EVENTS; p++) {
      for (const t of TOPICS) await post(edgePorts.http, t, p * POST_EVENTS, POST_EVENTS);
      fed += TOPICS.length * POST_EVENTS;
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  const onHub = async () => (await high(hub.adminUrl, 'orders')) + (await high(hub.adminUrl, 'clicks'));

  let swallowKills = 0;
  for (let round = 0; round < ROUNDS; round++) {
    await until(() => fed > ((round + 1) * TOPICS.length * PER_TOPIC) / (ROUNDS + 2), { timeoutMs: 60_000, what: `round ${round}: events fed` });
    if (round % 2 === 0) {
      // Store-then-die: wait until the hub stored something whose ack is being swallowed. Acks
      // are swallowed before the count is taken: a chunk stored while the count was read could
      // otherwise have its ack pass, and the kill would find nothing to resend.
      proxy.swallowResponses = true;
      const before = await onHub();
      await until(async () => (await onHub()) > before, { timeoutMs: 30_000, intervalMs: 5, what: `round ${round}: a chunk stored while its ack is swallowed` });
      await hub.kill();
      proxy.cutAll();
      proxy.swallowResponses = false;
      swallowKills++;
    } else {
      await new Promise((r) => setTimeout(r, 100 + Math.floor(random() * 1500)));
      await hub.kill();
    }
    hub = await startHub();
  }

  await feeding;
  await until(async () => (await high(hub.adminUrl, 'orders')) >= PER_TOPIC && (await high(hub.adminUrl, 'clicks')) >= PER_TOPIC, {
    timeoutMs: 120_000,
    intervalMs: 200,
    what: 'every event on the hub',
  });
  await until(async () => (await edge.api<{ lag: number }>('/api/v1/sinks/hub')).lag === 0, { timeoutMs: 30_000, what: 'edge lag 0' });
  expect(await hub.stop()).toBe(0);

  for (const topic of TOPICS) {
    const check = checkTopic(join(hubDir, 'data', 'channel.db'), topic, PER_TOPIC);
    expect(check).toEqual({ topic, events: PER_TOPIC, duplicates: [], missing: [], inOrder: true, dense: true });
  }
  // The de-duplication did the work: resent chunks were recognised by the restarted hubs.
  const recognised = hubs.map((h) => h.stderr().split('\n').filter((l) => l.includes('was stored before; acknowledged again')).length).reduce((a, b) => a + b, 0);
  console.log(`forward crash: ${ROUNDS} SIGKILLs (${swallowKills} with an ack swallowed); ${recognised} resent chunks recognised and not stored twice`);
  expect(recognised).toBeGreaterThanOrEqual(swallowKills);
  expect(await edge.stop()).toBe(0);
}, scaled(300_000));
