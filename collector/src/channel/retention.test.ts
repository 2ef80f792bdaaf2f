/**
 * Retention and capacity (docs/specs/channel.md "Retention"), through the channel on real database
 * files: retention.ts behind the façade, and the back-pressure it makes room for.
 */
import { describe, expect, it } from 'vitest';
import { fromUtf8 } from '../../../shared/src/event.ts';
import { ErrorCodes, SluiceError } from '../../../shared/src/errors.ts';
import { channelFixture, ev, bodies } from './test-fixture.ts';

const { openChannel } = channelFixture();

describe('retention and capacity', () => {
  it('MUST delete by age only what every protecting cursor has passed', async () => {
    let now = 100_000;
    const channel = openChannel({ now: () => now, defaults: { retentionMs: 10_000 } });
    channel.protect('sink:hub', ['*']);
    // Retention removes whole record batches (as Kafka removes whole segments): one batch per event here.
    for (let i = 0; i < 6; i++) await channel.append({ events: [ev('t', `e${i}`, now)] });
    now += 60_000;
    expect(channel.runRetention().deletedEvents).toBe(0); // the sink has no cursor yet: nothing delivered
    channel.commit([{ consumer: 'sink:hub', topic: 't', next: 4, protects: true }]);
    const r = channel.runRetention();
    expect(r).toMatchObject({ deletedEvents: 4, droppedEvents: 0 });
    expect(channel.topic('t')).toMatchObject({ low: 4, count: 2, expired: 4, dropped: 0 });
    expect(channel.read('t', 0).map((e) => e.offset)).toEqual([4, 5]);
  });

  it('MUST remove whole record batches only, and MUST NOT be held back by cursors that do not protect', async () => {
    let now = 100_000;
    const channel = openChannel({ now: () => now, maxBatchEvents: 10, defaults: { retentionMs: 1000 } });
    await channel.append({ events: Array.from({ length: 30 }, (_, i) => ev('t', `e${i}`, now)) }); // batches 0–9, 10–19, 20–29
    channel.commit([
      { consumer: 'sink:a', topic: 't', next: 15, protects: true }, // inside the second batch
      { consumer: 'group:g', topic: 't', next: 2, protects: false }, // a consumer group: does not protect
    ]);
    now += 10_000;
    expect(channel.runRetention()).toMatchObject({ deletedEvents: 10, droppedEvents: 0 });
    expect(channel.topic('t')).toMatchObject({ low: 10, high: 30, count: 20, expired: 10 });
    expect(channel.read('t', 0)[0].offset).toBe(10); // the batch the sink is inside of stays whole
    channel.commit([{ consumer: 'sink:a', topic: 't', next: 30, protects: true }]);
    channel.runRetention();
    expect(channel.topic('t')).toMatchObject({ low: 30, high: 30, count: 0, expired: 30, bytes: 0 });
  });

  it('MUST keep a topic under its byte bound, delivered batches first', async () => {
    const channel = openChannel({ maxBatchEvents: 10, defaults: { retentionMs: null, retentionBytes: 3000 } });
    for (let i = 0; i < 10; i++) await channel.append({ events: Array.from({ length: 10 }, () => ev('t', 'x'.repeat(100))) });
    channel.runRetention();
    const info = channel.topic('t')!;
    expect(info.bytes).toBeLessThanOrEqual(3000);
    expect(info.low).toBeGreaterThan(0);
    expect(info.high).toBe(100);
  });

  it('MUST apply back-pressure when full of undelivered events, and accept again once space frees', async () => {
    const channel = openChannel({ maxBytes: 20_000, defaults: { retentionMs: null } });
    channel.protect('sink:s', ['*']);
    let accepted = 0;
    let refused: SluiceError | undefined;
    for (let i = 0; i < 100 && !refused; i++) {
      try {
        await channel.append({ events: [ev('t', 'y'.repeat(1000))] });
        accepted++;
      } catch (error) {
        refused = error as SluiceError;
      }
    }
    expect(refused).toMatchObject({ code: ErrorCodes.CHANNEL_FULL, retriable: true });
    expect(refused!.message).toMatch(/channel full: .* of 19.5 KiB used by undelivered events; retry later/);
    expect(channel.topic('t')!.count).toBe(accepted); // nothing refused was stored
    expect(channel.topic('t')!.dropped).toBe(0);
    channel.commit([{ consumer: 'sink:s', topic: 't', next: accepted, protects: true }]);
    const r = await channel.append({ events: [ev('t', 'y'.repeat(1000))] });
    expect(r.ranges[0].first).toBe(accepted);
  });

  it('MUST commit the requests of a group that fit and refuse only those that do not', async () => {
    const channel = openChannel({ maxBytes: 3000, defaults: { retentionMs: null } });
    channel.protect('sink:s', ['*']);
    const [fits, refused, small] = await Promise.allSettled([
      channel.append({ events: [ev('t', 'a'.repeat(2000))] }),
      channel.append({ events: [ev('t', 'b'.repeat(2000))] }),
      channel.append({ events: [ev('t', 'c')] }),
    ]);
    expect(fits).toMatchObject({ status: 'fulfilled', value: { ranges: [{ first: 0, last: 0 }] } });
    expect(refused).toMatchObject({ status: 'rejected', reason: { code: ErrorCodes.CHANNEL_FULL } });
    expect(small).toMatchObject({ status: 'fulfilled', value: { ranges: [{ first: 1, last: 1 }] } });
    expect(channel.stats().commits).toBe(1);
    expect(bodies(channel.read('t', 0)).map((b) => b[0])).toEqual(['a', 'c']);
  });

  it('MUST drop the oldest undelivered events of drop_oldest topics when full, and count each', async () => {
    const channel = openChannel({ maxBytes: 20_000, defaults: { retentionMs: null }, topics: { 'metrics.*': { whenFull: 'drop_oldest' } } });
    channel.protect('sink:s', ['*']);
    for (let i = 0; i < 100; i++) await channel.append({ events: [ev('metrics.cpu', `${i}:`.padEnd(1000, 'z'))] });
    const info = channel.topic('metrics.cpu')!;
    expect(info.high).toBe(100);
    expect(info.dropped).toBe(info.low);
    expect(info.dropped).toBeGreaterThan(50);
    expect(info.dropped + info.count).toBe(100);
    const first = channel.read('metrics.cpu', 0)[0];
    expect(first.offset).toBe(info.low);
    expect(fromUtf8(first.body).startsWith(`${info.low}:`)).toBe(true);
  });
});
