/** How far behind a sink is, as the admin API and /metrics say it: lag in events and seconds, delivery rate, per topic. */
import { afterEach, describe, expect, it } from 'vitest';
import type { SinksResponse } from '../../../shared/src/api/core.ts';
import { makeEvent } from '../../../shared/src/event.ts';
import { adminFixture, deliveredTo, type AdminFixture } from './testing.ts';

const fixtures: AdminFixture[] = [];
afterEach(async () => {
  for (const f of fixtures.splice(0)) await f.close();
});

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('sink lag in the API and metrics', () => {
  it('GET /api/v1/sinks and /metrics give lag in events and seconds and the delivery rate per sink and topic', async () => {
    const f = await adminFixture({ yaml: 'sources:\n  mem:\n    type: memory\nsinks:\n  out:\n    type: memory\n    topics: [a]\n' });
    fixtures.push(f);
    await f.collector.channel.append({ events: Array.from({ length: 300 }, (_, i) => makeEvent('a', `e${i}`)) });
    await until(() => deliveredTo('out').length >= 300 && f.collector.sinks.get('out')!.status().lag === 0, 'delivery');
    const r = await f.app.inject({ method: 'GET', url: '/api/v1/sinks' });
    const { sinks } = r.json<SinksResponse>();
    const out = sinks.find((s) => s.name === 'out')!;
    expect(out).toMatchObject({ lag: 0, lagSeconds: 0 });
    expect(out.rate).toBeGreaterThan(0);
    expect(out.topics).toEqual([expect.objectContaining({ topic: 'a', lag: 0, lagSeconds: 0, state: 'running', nextAttemptAt: null })]);
    const metrics = (await f.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(/^sluice_sink_lag_events\{sink="out",topic="a"\} 0$/m);
    expect(metrics).toMatch(/^sluice_sink_lag_seconds\{sink="out",topic="a"\} 0$/m);
    expect(metrics).toMatch(/^sluice_sink_delivery_rate\{sink="out",topic="a"\} [0-9.]*[1-9][0-9.]*$/m);
  });
});
