/**
 * Fleet, with real processes: a hub and three edges forwarding to it, each reporting its state
 * every second over the same forward connection. The hub lists every edge (API, CLI, /metrics);
 * an edge that stops goes stale; an edge cut off from the hub while it ingests keeps reporting
 * into its own channel, and when it is back the hub learns the whole story: the backlog it held
 * during the cut-off is in its history, and it ends caught up.
 */
import { mkdirSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EdgeSummary, EdgesResponse } from '../../shared/src/api/fleet.ts';
import { post } from '../helpers/forward.ts';
import { ensureRendererBuilt, hasChromium, openBrowser, screenshot, visit } from './desktop/harness.ts';
import { freePort, removeDir, runSluice, scaled, startCollector, tempDir, until, type CollectorProcess } from '../helpers/process.ts';

const dir = tempDir('sluice-fleet-');
const running: CollectorProcess[] = [];

/** A TCP relay to the hub that can be cut (every connection dropped, new ones refused) and restored. */
async function relay(target: number): Promise<{ port: number; cut(): Promise<void>; restore(): Promise<void>; close(): Promise<void> }> {
  const port = await freePort();
  const sockets = new Set<Socket>();
  let server: Server | null = null;
  const open = () =>
    new Promise<void>((resolve) => {
      server = createServer((client) => {
        const upstream = connect(target, '127.0.0.1');
        sockets.add(client).add(upstream);
        client.pipe(upstream).pipe(client);
        const drop = () => {
          client.destroy();
          upstream.destroy();
          sockets.delete(client);
          sockets.delete(upstream);
        };
        client.on('error', drop).on('close', drop);
        upstream.on('error', drop).on('close', drop);
      });
      server.listen(port, '127.0.0.1', () => resolve());
    });
  const shut = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      sockets.clear();
      if (!server) return resolve();
      server.close(() => resolve());
      server = null;
    });
  await open();
  return { port, cut: shut, restore: open, close: shut };
}

function edgeConfig(id: string, data: string, admin: number, http: number, hubPort: number, hubAdmin: number): string {
  return [
    'collector:', `  id: ${id}`,
    // The hub's web UI may open this edge's admin API (Fleet → Open).
    'admin:', `  listen: 127.0.0.1:${admin}`, `  cors_origins: [http://127.0.0.1:${hubAdmin}]`,
    'channel:', `  path: ${data}`,
    'fleet:', '  report_interval: 1s',
    'sources:', '  web:', '    type: http', `    listen: 127.0.0.1:${http}`,
    'sinks:', '  hub:', '    type: forward', `    servers: [127.0.0.1:${hubPort}]`, '    topics: ["*"]', '    connect_timeout: 1s', '    ack_timeout: 3s', '    retry: { initial: 100ms, max: 500ms }',
    '',
  ].join('\n');
}

describe('fleet: a hub and three edges', () => {
  let hub: CollectorProcess;
  const edges: Record<string, { c: CollectorProcess; http: number }> = {};
  let cutOff: Awaited<ReturnType<typeof relay>>;
  let hubForward = 0;

  beforeAll(async () => {
    const hubPorts = { admin: await freePort(), forward: await freePort() };
    hubForward = hubPorts.forward;
    mkdirSync(join(dir, 'hub'));
    hub = await startCollector({
      dir: join(dir, 'hub'),
      config: ['collector:', '  id: hub', 'admin:', `  listen: 127.0.0.1:${hubPorts.admin}`, 'channel:', `  path: ${join(dir, 'hub/data')}`, 'fleet:', '  stale_after: 3', 'sources:', '  edges:', '    type: forward', `    listen: 127.0.0.1:${hubPorts.forward}`, ''].join('\n'),
    });
    running.push(hub);
    cutOff = await relay(hubPorts.forward);
    for (const id of ['edge-a', 'edge-b', 'edge-c']) {
      const ports = { admin: await freePort(), http: await freePort() };
      mkdirSync(join(dir, id));
      // edge-b reaches the hub through a relay the test can cut.
      const c = await startCollector({ dir: join(dir, id), config: edgeConfig(id, join(dir, id, 'data'), ports.admin, ports.http, id === 'edge-b' ? cutOff.port : hubPorts.forward, hubPorts.admin) });
      running.push(c);
      edges[id] = { c, http: ports.http };
    }
  }, scaled(120_000));

  afterAll(async () => {
    for (const c of running) await c.kill();
    await cutOff?.close();
    removeDir(dir);
  });

  const list = async () => (await hub.api<EdgesResponse>('/api/v1/edges')).edges;
  const one = async (id: string) => (await list()).find((e) => e.id === id);

  it('lists every edge with its identity, caught up, after it ingested', async () => {
    for (const [id, e] of Object.entries(edges)) await post(e.http, `logs-${id}`, 0, 500);
    await until(async () => {
      const all = await list();
      return all.length === 3 && all.every((e) => e.state === 'ok' && e.latest.topics.some((t) => t.topic.startsWith('logs-')));
    }, { what: 'three edges reporting, caught up', timeoutMs: 60_000 });
    const a = (await one('edge-a'))!;
    expect(a).toMatchObject({ id: 'edge-a', stale: false, state: 'ok', backlogEvents: 0 });
    expect(a.latest.edge).toMatchObject({ id: 'edge-a', configHash: expect.stringMatching(/^[0-9a-f]{16}$/) });
    expect(a.latest.sinks).toEqual([expect.objectContaining({ name: 'hub', type: 'forward', state: 'running' })]);
    expect(a.latest.topics).toEqual([expect.objectContaining({ topic: 'logs-edge-a', backlogEvents: 0 })]);
    // No secrets: a report holds states and counts, never config values such as the hub's address.
    expect(JSON.stringify(a.latest)).not.toContain(`:${hubForward}`);
    expect(a.adminUrl).toBe(edges['edge-a'].c.adminUrl);
    // The events themselves arrived too.
    expect((await hub.api<{ high: number }>('/api/v1/topics/logs-edge-a')).high).toBe(500);
  });

  it('an edge cut off from the hub keeps reporting into its own channel; back, the hub learns the backlog it held', async () => {
    await cutOff.cut();
    const cutAt = Date.now();
    // While cut off, edge-b takes events it cannot forward: its backlog grows.
    for (let i = 0; i < 4; i++) {
      await post(edges['edge-b'].http, 'logs-edge-b', 500 + i * 500, 500);
      await new Promise((r) => setTimeout(r, 700));
    }
    await until(async () => (await edges['edge-b'].c.api<{ lag: number }>('/api/v1/sinks/hub')).lag >= 2000, { what: 'edge-b to hold a backlog' });
    // The hub sees edge-b go stale (silent for 3 intervals).
    await until(async () => (await one('edge-b'))?.state === 'stale', { what: 'edge-b stale on the hub', timeoutMs: 60_000 });
    const metrics = await (await fetch(`${hub.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/sluice_edge_stale\{edge="edge-b"\} 1/);
    expect(metrics).toMatch(/sluice_edge_last_seen_seconds\{edge="edge-b"\} \d/);

    await cutOff.restore();
    await until(async () => {
      const b = await one('edge-b');
      return b !== undefined && b.state === 'ok' && b.backlogEvents === 0;
    }, { what: 'edge-b caught up on the hub', timeoutMs: 90_000 });
    const b = (await one('edge-b'))!;
    // The reports made while cut off arrived late: the history shows the backlog of that time.
    const during = b.history.filter((p) => p.at > cutAt && p.backlogEvents > 0);
    expect(during.length).toBeGreaterThan(0);
    expect(Math.max(...during.map((p) => p.backlogEvents))).toBeGreaterThanOrEqual(1500);
    expect((await hub.api<{ high: number }>('/api/v1/topics/logs-edge-b')).high).toBe(2500);
  });

  it('a stopped edge goes stale; sluice edges lists it first, then the others', async () => {
    expect(await edges['edge-c'].c.stop()).toBe(0);
    await until(async () => (await one('edge-c'))?.stale === true, { what: 'edge-c stale', timeoutMs: 60_000 });
    const cli = await runSluice(['edges', '--admin', hub.adminUrl]);
    expect(cli.status).toBe(0);
    const rows = cli.stdout.trim().split('\n');
    expect(rows[0]).toMatch(/^EDGE\s+HOST\s+STATE\s+LAST SEEN\s+BACKLOG/);
    expect(rows[1]).toMatch(/^edge-c\s+\S+\s+stale\s/);
    expect(rows.slice(2).map((r) => r.split(/\s+/)[0]).sort()).toEqual(['edge-a', 'edge-b']);
    const detail = await runSluice(['edges', 'edge-a', '--admin', hub.adminUrl]);
    expect(detail.stdout).toMatch(/^edge-a \(.+\): ok/);
    expect(detail.stdout).toMatch(/^logs-edge-a\s+0\s/m);
    const missing = await hub.api<EdgeSummary | { error: { code: string } }>('/api/v1/edges/nope').catch((e: Error) => e);
    expect(String(missing)).toMatch(/404|no report/);
  });

  it.runIf(hasChromium)('the Fleet view in the browser: worst first, an edge\'s history, and Open switches to its admin API', async () => {
    await ensureRendererBuilt();
    const browser = await openBrowser();
    try {
      const { page } = browser;
      await visit(page, `${hub.adminUrl}/#/fleet`);
      const rows = page.locator('.fleet-table tbody tr');
      await until(async () => (await rows.count()) === 3, { what: 'three edges in the Fleet view' });
      expect(await rows.first().getAttribute('data-edge')).toBe('edge-c');
      expect(await rows.first().textContent()).toContain('stale');
      await page.locator('tr[data-edge="edge-b"]').click();
      const detail = page.getByRole('region', { name: 'Edge edge-b' });
      await detail.getByText('logs-edge-b').waitFor();
      await detail.locator('canvas').first().waitFor(); // the backlog history chart
      await screenshot(page, 'desktop-fleet');
      await page.locator('tr[data-edge="edge-a"]').getByRole('button', { name: 'Open' }).click();
      // The overview now is edge-a's own, read from its admin API.
      await page.getByRole('heading', { name: /Overview\s*edge-a/ }).waitFor();
      expect(await page.locator('#active-connection').inputValue()).toBe('edge-edge-a');
      expect(browser.problems).toEqual([]);
    } finally {
      await browser.close();
    }
  }, scaled(180_000));
});
