/**
 * Schema-aware viewing in Chromium against a real collector: Protobuf bodies produced through
 * the HTTP source are hex until the user sets the topic's schema on the topic page (pasting the
 * .proto, picking the message type the collector found in it); then the message list, the detail
 * pane, a search on a decoded field, the live tail, the UI export and `sluice export` show them
 * decoded, the raw bytes still in the detail's Hex tab, and a body that does not decode says so
 * on its own row.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeDir, runSluice, scaled, until, type CollectorProcess } from '../../helpers/process.ts';
import { encodeAvroOrder, encodeOrder, ORDER_AVSC, SHOP_PROTO } from '../../helpers/schemas.ts';
import { collectorConfig, ensureRendererBuilt, hasChromium, openBrowser, ports, screenshot, startE2eCollector, visit, type BrowserSession, type Ports } from './harness.ts';

/** One binary body through the HTTP source, as a producer without a JSON encoder sends it. */
async function produceBinary(p: Ports, topic: string, body: Uint8Array, key?: string): Promise<void> {
  const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
  if (key) headers['x-sluice-key'] = key;
  const r = await fetch(`http://127.0.0.1:${p.http}/${topic}`, { method: 'POST', headers, body: Buffer.from(body) });
  if (!r.ok) throw new Error(`producing to ${topic}: ${r.status} ${await r.text()}`);
}

describe.skipIf(!hasChromium)('desktop UI: topic schemas', () => {
  let p: Ports;
  let collector: CollectorProcess;
  let s: BrowserSession;

  beforeAll(async () => {
    await ensureRendererBuilt();
    p = await ports();
    collector = await startE2eCollector(collectorConfig(p));
    for (let i = 0; i < 20; i++) await produceBinary(p, 'orders', encodeOrder(i), `k${i}`);
    await produceBinary(p, 'orders', Uint8Array.from([0x0f, 0xff, 0xff])); // offset 20: not protobuf
    for (let i = 0; i < 6; i++) await produceBinary(p, 'avro-orders', encodeAvroOrder(i));
    s = await openBrowser();
  }, scaled(180_000));

  afterAll(async () => {
    await s?.close();
    await collector?.kill();
    if (collector) removeDir(collector.dir);
  });

  it('sets a Protobuf schema on the topic page: paste the .proto, pick the message type', async () => {
    const { page } = s;
    await visit(page, `${collector.adminUrl}/#/topic/orders`);
    const card = page.getByRole('region', { name: 'Schema' }).or(page.locator('.schema-card'));
    await card.getByTestId('schema-current').getByText(/None/).waitFor();
    await card.getByRole('button', { name: 'Set schema…' }).click();
    // What is wrong is said as it is typed, and Save refuses it with the collector's reason.
    await card.getByLabel('Schema text').fill('syntax = "proto3";\nimport "acme/money.proto";\nmessage Order { acme.Money total = 1; }');
    await card.getByTestId('schema-problem').getByText(/import "acme\/money\.proto" cannot be resolved: .*descriptor set/).waitFor();
    await screenshot(page, 'desktop-schema-invalid');
    await card.getByLabel('Schema text').fill(SHOP_PROTO);
    // The collector parses it and offers the message types it defines.
    const picker = card.getByLabel('Message type');
    await until(async () => (await picker.locator('option').count()) === 4, { what: 'the three message types in the picker' });
    expect(await picker.locator('option').allTextContents()).toEqual(['choose…', 'shop.v1.Item', 'shop.v1.Node', 'shop.v1.Order']);
    await picker.selectOption('shop.v1.Order');
    await until(async () => (await card.getByTestId('schema-problem').count()) === 0, { what: 'no problem left with the schema' });
    await screenshot(page, 'desktop-schema-protobuf');
    await card.getByRole('button', { name: 'Save schema' }).click();
    await card.getByText(/Schema set: protobuf shop\.v1\.Order/).waitFor();
    await card.getByTestId('schema-current').getByText('Protobuf shop.v1.Order').waitFor();
    const stored = await collector.api<{ schema: { kind: string; messageType: string } }>('/api/v1/topics/orders/schema');
    expect(stored.schema).toMatchObject({ kind: 'protobuf', messageType: 'shop.v1.Order' });
    expect(s.problems).toEqual([]);
  });

  it('shows decoded bodies in the list and the detail pane, the raw bytes in Hex, and a body that does not decode on its own row', async () => {
    const { page } = s;
    await visit(page, `${collector.adminUrl}/#/messages/orders?offset=0`);
    const row3 = page.locator('[data-offset="3"]');
    await until(async () => ((await row3.textContent()) ?? '').includes('"order_id":"o-3"'), { what: 'offset 3 decoded in the list' });
    const bad = page.locator('[data-offset="20"]');
    await until(async () => ((await bad.textContent()) ?? '').includes('does not decode as protobuf shop.v1.Order'), { what: 'offset 20 with its decode error' });
    await page.getByTestId('messages-schema').getByText('decoded with Protobuf shop.v1.Order').waitFor();
    await screenshot(page, 'desktop-schema-messages');

    await row3.click();
    const detail = page.getByRole('complementary', { name: 'Event 3' });
    await detail.getByText('decoded as Protobuf').waitFor();
    expect(await detail.getByRole('tab', { selected: true }).textContent()).toBe('Protobuf');
    const tree = await detail.locator('.json-tree').textContent();
    expect(tree).toContain('"order_id"');
    expect(tree).toContain('SHIPPED');
    expect(tree).toContain('"items"');
    await screenshot(page, 'desktop-schema-detail');
    await detail.getByRole('tab', { name: 'Hex' }).click();
    // The stored bytes: field 1 (0a), 3 bytes, "o-3".
    expect(await detail.locator('.hex-body').textContent()).toMatch(/^00000000 {2}0a 03 6f 2d 33/);

    await visit(page, `${collector.adminUrl}/#/messages/orders?offset=20`);
    await page.locator('[data-offset="20"]').click();
    const badDetail = page.getByRole('complementary', { name: 'Event 20' });
    await badDetail.getByTestId('decode-error').getByText(/does not decode as protobuf shop\.v1\.Order/).waitFor();
    expect(s.problems).toEqual([]);
  });

  it('searches a decoded field with JSONata', async () => {
    const { page } = s;
    await visit(page, `${collector.adminUrl}/#/messages/orders`);
    await page.locator('[data-offset="20"]').waitFor();
    await page.getByRole('button', { name: 'Oldest' }).click();
    await page.getByPlaceholder(/JSONata/).fill('status = "PAID" and cents >= 1200');
    await page.getByRole('button', { name: 'Filter', exact: true }).click();
    const status = page.locator('.search-status');
    await until(async () => /4\s*matches/.test((await status.textContent()) ?? ''), { what: '4 matches (orders 12, 14, 16, 18)' });
    await until(async () => /reached the newest event/.test((await status.textContent()) ?? ''), { what: 'the scan to finish' });
    const rows = await page.locator('.table-body .row[data-offset]').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-offset'))));
    expect(rows).toEqual([12, 14, 16, 18]);
    await screenshot(page, 'desktop-schema-search');
  });

  it('the live tail shows new events decoded', async () => {
    const { page } = s;
    await visit(page, `${collector.adminUrl}/#/tail/orders`);
    await page.locator('.tail-stats').getByText('live', { exact: true }).waitFor();
    await produceBinary(p, 'orders', encodeOrder(77));
    const row = page.locator('[data-testid="tail-table"] .row[data-offset="21"]');
    await row.waitFor();
    await until(async () => ((await row.textContent()) ?? '').includes('"order_id":"o-77"'), { what: 'the tailed event decoded' });
    await screenshot(page, 'desktop-schema-tail');
  });

  it('exports decoded: from the UI (NDJSON download) and with sluice export', async () => {
    const { page } = s;
    await visit(page, `${collector.adminUrl}/#/messages/orders`);
    await page.getByRole('button', { name: 'Export…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Export' });
    await dialog.getByLabel('From offset').fill('0');
    await dialog.getByLabel('To offset (exclusive)').fill('3');
    const [download] = await Promise.all([page.waitForEvent('download'), dialog.getByRole('button', { name: 'Export', exact: true }).click()]);
    const lines = readFileSync(await download.path(), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { offset: number; bodyEncoding: string; body: { order_id: string }; raw: string });
    expect(lines.map((l) => [l.offset, l.bodyEncoding, l.body.order_id])).toEqual([[0, 'protobuf', 'o-0'], [1, 'protobuf', 'o-1'], [2, 'protobuf', 'o-2']]);
    expect(Buffer.from(lines[1].raw, 'base64')).toEqual(Buffer.from(encodeOrder(1)));

    const cli = await runSluice(['export', 'orders', '--jsonata', 'items[sku = "sku-7"]', '--admin', collector.adminUrl, '--no-progress']);
    expect(cli.status, cli.stderr).toBe(0);
    const exported = cli.stdout.trim().split('\n').map((l) => JSON.parse(l) as { offset: number; body: { order_id: string; cents: number } });
    expect(exported.map((e) => [e.offset, e.body.order_id, e.body.cents])).toEqual([[7, 'o-7', 700]]);
  });

  it('sets an Avro schema by uploading its .avsc file; the messages show decoded', async () => {
    const { page } = s;
    // Without a schema the detail pane says where to set one, and links there.
    await visit(page, `${collector.adminUrl}/#/messages/avro-orders?offset=0`);
    await page.locator('[data-offset="0"]').click();
    await page.getByTestId('schema-hint').getByRole('link', { name: 'its topic page' }).click();
    const card = page.locator('.schema-card');
    await page.getByRole('heading', { name: 'avro-orders' }).waitFor();
    await card.getByRole('button', { name: 'Set schema…' }).click();
    await card.getByLabel('Schema file').setInputFiles({ name: 'order.avsc', mimeType: 'application/json', buffer: Buffer.from(ORDER_AVSC) });
    // The format follows the file: Avro, no message type to pick.
    await until(async () => (await card.getByLabel('Schema format').inputValue()) === 'avro', { what: 'the format to switch to Avro' });
    expect(await card.getByLabel('Message type').count()).toBe(0);
    await card.getByRole('button', { name: 'Save schema' }).click();
    await card.getByTestId('schema-current').getByText('Avro shop.avro.Order').waitFor();
    await visit(page, `${collector.adminUrl}/#/messages/avro-orders?offset=0`);
    const row = page.locator('[data-offset="3"]');
    await until(async () => ((await row.textContent()) ?? '').includes('"order_id":"o-3","cents":300,"status":"SHIPPED"'), { what: 'offset 3 decoded with the Avro schema' });
    await row.click();
    const detail = page.getByRole('complementary', { name: 'Event 3' });
    await detail.getByText('decoded as Avro').waitFor();
    expect(await detail.locator('.json-tree').textContent()).toContain('"note 3"');
    await screenshot(page, 'desktop-schema-avro');
    expect(s.problems).toEqual([]);
  });
});
