import { afterEach, describe, expect, it } from 'vitest';
import { fromUtf8 } from '../../../shared/src/event.ts';
import { validateConfig } from '../../../shared/src/spec.ts';
import { GeneratorSource, generatorSource } from './generator.ts';
import { createTestContext, openTestChannel, readAll, waitUntil, type TestChannel } from './testing.ts';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function start(input: Record<string, unknown>, channelOptions = {}): Promise<{ t: TestChannel; source: GeneratorSource }> {
  const { value, problems } = validateConfig(generatorSource.config, input, 'sources.gen');
  expect(problems).toEqual([]);
  const t = openTestChannel(channelOptions);
  cleanups.push(() => t.cleanup());
  const source = generatorSource.create(value!, createTestContext(t.channel, { name: 'gen' })) as GeneratorSource;
  await source.start();
  cleanups.push(() => source.stop());
  return { t, source };
}

describe('generator source', () => {
  it('produces exactly `count` JSON events with sequence numbers, padded to `size`', async () => {
    const { t, source } = await start({ topic: 'g', rate: 0, count: 2500, size: 200, batch: 1000, keys: 3 });
    await source.done();
    const events = readAll(t.channel, 'g');
    expect(events).toHaveLength(2500);
    events.forEach((e, i) => {
      const body = JSON.parse(fromUtf8(e.body));
      expect(body.seq).toBe(i);
      expect(body.message).toBe(`hello from sluice #${i}`);
      expect(e.body.length).toBeGreaterThanOrEqual(200);
      expect(e.body.length).toBeLessThan(215);
      expect(e.key).toBe(`key-${i % 3}`);
      expect(e.headers['content-type']).toBe('application/json');
    });
  });

  it('keeps the configured rate', async () => {
    const started = performance.now();
    const { t } = await start({ topic: 'r', rate: 200, format: 'text', message: '{source} {seq}' });
    await new Promise((r) => setTimeout(r, 1000));
    const n = t.channel.topic('r')?.count ?? 0;
    const elapsed = (performance.now() - started) / 1000;
    // Never faster than the rate (a slow, shared machine may make it slower, which is allowed).
    expect(n).toBeGreaterThan(0);
    expect(n).toBeLessThanOrEqual(Math.ceil(200 * elapsed) + 20);
    expect(fromUtf8(readAll(t.channel, 'r')[0].body)).toBe('gen 0');
  });

  it('waits while the channel is full and then delivers every event', async () => {
    const { t, source } = await start({ topic: 'full', rate: 0, count: 300, size: 100, batch: 50 }, { maxBytes: 8000 });
    const release = t.channel.protect('sink', ['*']);
    cleanups.push(release);
    await waitUntil(() => t.channel.stats().rejectedFull > 0, 5000, 'back-pressure');
    release();
    t.channel.runRetention({ needBytes: 8000 });
    await waitUntil(() => source.sent === 300, 10_000, 'all events');
    expect(t.channel.topic('full')!.high).toBe(300);
  });
});
