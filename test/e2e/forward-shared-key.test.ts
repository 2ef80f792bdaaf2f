/**
 * The shared-key handshake between real `sluice start` processes (issue 12, item 12): an edge
 * with the hub's key delivers; an edge with a wrong key delivers nothing, and its sink's state
 * says the hub refused the shared_key handshake and why (SLUICE_UNAUTHORIZED), as does its log —
 * not "connection closed before every chunk was acknowledged".
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import type { SinkStatus } from '../../shared/src/api/core.ts';
import { checkTopic, edgeConfig, high, hubConfig, post } from '../helpers/forward.ts';
import { freePort, removeDir, startCollector, tempDir, until, type CollectorProcess } from '../helpers/process.ts';

const dir = tempDir('sluice-forward-key-');
const running: CollectorProcess[] = [];
afterAll(async () => {
  for (const c of running) await c.kill();
  removeDir(dir);
});

async function edge(name: string, hubPort: number, key: string): Promise<{ c: CollectorProcess; http: number }> {
  const root = join(dir, name);
  mkdirSync(root);
  const ports = { admin: await freePort(), http: await freePort() };
  const config = edgeConfig(root, ports, [hubPort], `    shared_key: ${key}\n    self_hostname: ${name}\n`).replace('id: edge-1', `id: ${name}`);
  const c = await startCollector({ config, dir: root });
  running.push(c);
  return { c, http: ports.http };
}

it('an edge with the hub\'s shared_key delivers; one with a wrong key is refused, and its sink says so', async () => {
  const hubDir = join(dir, 'hub');
  mkdirSync(hubDir);
  const hubPorts = { admin: await freePort(), forward: await freePort() };
  const hub = await startCollector({ config: hubConfig(hubDir, hubPorts, '    shared_key: the-right-key\n    self_hostname: hub-1\n'), dir: hubDir });
  running.push(hub);

  const good = await edge('edge-good', hubPorts.forward, 'the-right-key');
  const bad = await edge('edge-bad', hubPorts.forward, 'a-wrong-key');
  await post(good.http, 'keyed', 0, 1000);
  await post(bad.http, 'unkeyed', 0, 1000);

  await until(async () => (await high(hub.adminUrl, 'keyed')) >= 1000, { timeoutMs: 60_000, what: 'the good edge\'s events on the hub' });
  const sink = await until(async () => {
    const s = await bad.c.api<SinkStatus>('/api/v1/sinks/hub');
    return s.lastError?.message.includes('refused the shared_key handshake') ? s : null;
  }, { timeoutMs: 60_000, what: 'the wrong-key edge\'s sink to report the refusal' });
  expect(sink.lastError).toMatchObject({ code: 'SLUICE_UNAUTHORIZED', retriable: true });
  expect(sink.lastError!.message).toContain(`127.0.0.1:${hubPorts.forward} refused the shared_key handshake: shared_key mismatch`);
  expect(sink.state).toBe('backing_off');
  expect(bad.c.stdout() + bad.c.stderr()).toContain('refused the shared_key handshake: shared_key mismatch');
  expect(bad.c.stdout() + bad.c.stderr()).not.toContain('before every chunk was acknowledged');
  expect(hub.stdout() + hub.stderr()).toContain('refused the shared_key handshake of client \\"edge-bad\\": shared_key mismatch');
  expect(await high(hub.adminUrl, 'unkeyed')).toBe(0);

  expect(await good.c.stop()).toBe(0);
  expect(await bad.c.stop()).toBe(0);
  expect(await hub.stop()).toBe(0);
  expect(checkTopic(join(hubDir, 'data', 'channel.db'), 'keyed', 1000)).toMatchObject({ events: 1000, duplicates: [], missing: [], inOrder: true });
});
