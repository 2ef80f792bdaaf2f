/**
 * Viewer schemas end to end: a real `sluice start`, a Protobuf and an Avro topic produced
 * through its HTTP source as binary bodies, their schemas set with `sluice schema` from files,
 * then read decoded over HTTP, searched by a decoded field, exported by `sluice export`, tailed
 * by `sluice tail`, and
 * still decoded after the collector was killed with SIGKILL and started again on the same channel.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowseResponse } from '../../shared/src/api/events.ts';
import { freePort, removeDir, runSluice, scaled, startCollector, tempDir, type CollectorProcess } from '../helpers/process.ts';
import { encodeAvroOrder, encodeOrder, ORDER_AVSC, SHOP_PROTO } from '../helpers/schemas.ts';

describe('viewer schemas with a real collector', () => {
  const dir = tempDir('sluice-e2e-schemas-');
  let ports: { admin: number; http: number };
  let c: CollectorProcess;
  const config = () => `admin:\n  listen: 127.0.0.1:${ports.admin}\nchannel:\n  path: ${join(dir, 'data')}\nsources:\n  web:\n    type: http\n    listen: 127.0.0.1:${ports.http}\n`;
  const admin = () => ['--admin', c.adminUrl];

  async function produce(topic: string, body: Uint8Array): Promise<void> {
    const r = await fetch(`http://127.0.0.1:${ports.http}/${topic}`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: Buffer.from(body) });
    expect(r.status, await r.text()).toBe(200);
  }

  beforeAll(async () => {
    ports = { admin: await freePort(), http: await freePort() };
    c = await startCollector({ config: config(), dir });
    writeFileSync(join(dir, 'shop.proto'), SHOP_PROTO);
    writeFileSync(join(dir, 'order.avsc'), ORDER_AVSC);
  }, scaled(60_000));

  afterAll(async () => {
    await c?.kill();
    removeDir(dir);
  });

  it('protobuf and avro topics: set with sluice schema, read decoded, searched by a decoded field, exported; kept across kill -9', async () => {
    for (let i = 0; i < 30; i++) await produce('pb-orders', encodeOrder(i));
    for (let i = 0; i < 30; i++) await produce('avro-orders', encodeAvroOrder(i));

    // Before a schema: bytes only.
    const before = await c.api<BrowseResponse>('/api/v1/topics/pb-orders/events?last=1');
    expect(before.events[0]).toMatchObject({ bodyEncoding: null, body: null });

    const noType = await runSluice(['schema', 'pb-orders', '--proto', join(dir, 'shop.proto'), ...admin()]);
    expect(noType.status).toBe(1);
    expect(noType.stderr).toMatch(/messageType is required: one of shop\.v1\.Item, shop\.v1\.Node, shop\.v1\.Order/);
    const pb = await runSluice(['schema', 'pb-orders', '--proto', join(dir, 'shop.proto'), '--type', 'shop.v1.Order', ...admin()]);
    expect(pb.status, pb.stderr).toBe(0);
    expect(pb.stdout).toMatch(/^pb-orders: protobuf shop\.v1\.Order \(\.proto\), set /);
    const av = await runSluice(['schema', 'avro-orders', '--avro', join(dir, 'order.avsc'), ...admin()]);
    expect(av.status, av.stderr).toBe(0);
    const list = await runSluice(['schema', ...admin()]);
    expect(list.stdout).toMatch(/avro-orders\s+avro\s+–/);
    expect(list.stdout).toMatch(/pb-orders\s+protobuf\s+shop\.v1\.Order/);

    const check = async () => {
      const pbPage = await c.api<BrowseResponse>(`/api/v1/topics/pb-orders/events?jsonata=${encodeURIComponent('status = "PAID" and cents >= 2500')}`);
      expect(pbPage.events.map((e) => [e.offset, e.bodyEncoding, (e.body as { order_id: string }).order_id])).toEqual([[26, 'protobuf', 'o-26'], [28, 'protobuf', 'o-28']]);
      const avPage = await c.api<BrowseResponse>(`/api/v1/topics/avro-orders/events?jsonata=${encodeURIComponent('tags.region = "us" and note != null and cents > 2000')}`);
      expect(avPage.events.map((e) => [e.offset, e.bodyEncoding, (e.body as { note: string }).note])).toEqual([[21, 'avro', 'note 21'], [27, 'avro', 'note 27']]);
    };
    await check();

    const exported = await runSluice(['export', 'avro-orders', '--contains', '"sku":"sku-7"', '--no-progress', ...admin()]);
    expect(exported.status, exported.stderr).toBe(0);
    expect(exported.stdout.trim().split('\n').map((l) => JSON.parse(l) as { offset: number; bodyEncoding: string; body: { order_id: string } })).toEqual([
      expect.objectContaining({ offset: 7, bodyEncoding: 'avro', body: expect.objectContaining({ order_id: 'o-7' }) }),
    ]);
    const csv = await runSluice(['export', 'pb-orders', '--to', '2', '--format', 'csv', '--no-progress', ...admin()]);
    expect(csv.stdout.split('\r\n')[2]).toContain('""order_id"":""o-1"",""cents"":100,""status"":""SHIPPED""');

    // sluice tail reads through the consumer fetch API: decoded too.
    const tailed = await runSluice(['tail', 'pb-orders', '--last', '2', '--no-follow', ...admin()]);
    expect(tailed.status, tailed.stderr).toBe(0);
    expect(tailed.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { body: { order_id: string } }).body.order_id)).toEqual(['o-28', 'o-29']);

    // kill -9 and start again on the same channel: the schemas were committed with it.
    await c.kill();
    c = await startCollector({ config: config(), dir });
    await check();
    const shown = await runSluice(['schema', 'avro-orders', ...admin()]);
    expect(shown.stdout).toMatch(/^avro-orders: avro shop\.avro\.Order, set /);

    const removed = await runSluice(['schema', 'pb-orders', '--remove', ...admin()]);
    expect(removed.stdout.trim()).toBe('pb-orders: schema removed');
    expect((await c.api<BrowseResponse>('/api/v1/topics/pb-orders/events?last=1')).events[0].bodyEncoding).toBeNull();
  }, scaled(120_000));
});
