/**
 * Viewer schemas through the admin API (inject() and a real WebSocket, a real collector and
 * channel file): a Protobuf topic read decoded in browse, search, export and the live tail, the
 * raw bytes still there, bad bodies and hostile schemas refused or shown with a named error.
 */
import type protobuf from 'protobufjs';
import { createRequire } from 'node:module';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { ApiEvent, BrowseResponse, TailMessage } from '../../../shared/src/api/events.ts';
import type { SchemaValidateResponse, TopicSchemaResponse } from '../../../shared/src/api/schemas.ts';
import { makeEvent, type EventDraft } from '../../../shared/src/event.ts';
import { adminFixture, type AdminFixture } from './testing.ts';
import { encodeAvroOrder, encodeOrder, HAS_AVSC, ORDER_AVSC, SHOP_PROTO, shopRoot } from '../../../test/helpers/schemas.ts';

const fixtures: AdminFixture[] = [];
const sockets: WebSocket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.terminate();
  for (const f of fixtures.splice(0)) await f.close();
});

async function fixture(options: Parameters<typeof adminFixture>[0] = {}): Promise<AdminFixture> {
  const f = await adminFixture(options);
  fixtures.push(f);
  return f;
}

const root = shopRoot;
const order = encodeOrder;

function binary(topic: string, body: Uint8Array, headers: Record<string, string> = {}): EventDraft {
  return makeEvent(topic, body, { headers: { 'content-type': 'application/octet-stream', ...headers } });
}

async function put(f: AdminFixture, topic: string, payload: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const r = await f.app.inject({ method: 'PUT', url: `/api/v1/topics/${topic}/schema`, payload: payload as Record<string, unknown> });
  return { status: r.statusCode, json: r.json() };
}

async function browse(f: AdminFixture, topic: string, query = ''): Promise<BrowseResponse> {
  const r = await f.app.inject({ method: 'GET', url: `/api/v1/topics/${topic}/events?${query}` });
  expect(r.statusCode, r.body).toBe(200);
  return r.json() as BrowseResponse;
}

describe('protobuf topics', () => {
  it('decodes every body with the chosen message type in browse and export, keeps the raw bytes, and remembers the schema across a restart', async () => {
    const f = await fixture();
    const set = await put(f, 'orders', { kind: 'protobuf', proto: SHOP_PROTO, messageType: 'shop.v1.Order' });
    expect(set.status, JSON.stringify(set.json)).toBe(200);
    expect(set.json).toMatchObject({ topic: 'orders', schema: { kind: 'protobuf', messageType: 'shop.v1.Order' }, types: ['shop.v1.Item', 'shop.v1.Node', 'shop.v1.Order'] });
    await f.collector.channel.append({ events: [0, 1, 2, 3].map((i) => binary('orders', order(i))) });

    const page = await browse(f, 'orders');
    expect(page.events).toHaveLength(4);
    const e = page.events[3];
    expect(e).toMatchObject({ bodyEncoding: 'protobuf', contentType: 'application/octet-stream' });
    expect(e.body).toEqual({ order_id: 'o-3', cents: 300, status: 'SHIPPED', items: [{ sku: 'sku-3', qty: 3 }], placed_at: null, big: '18446744073709551615', blob: 'AQID' });
    expect(Buffer.from(e.raw!, 'base64')).toEqual(Buffer.from(order(3)));
    expect(e.decodeError).toBeUndefined();

    const ndjson = await f.app.inject({ method: 'GET', url: '/api/v1/topics/orders/export?format=ndjson' });
    const lines = ndjson.body.trim().split('\n').map((l) => JSON.parse(l) as ApiEvent);
    expect(lines.map((l) => (l.body as { order_id: string }).order_id)).toEqual(['o-0', 'o-1', 'o-2', 'o-3']);
    const csv = await f.app.inject({ method: 'GET', url: '/api/v1/topics/orders/export?format=csv' });
    expect(csv.body).toContain('""order_id"":""o-2"",""cents"":200,""status"":""PAID""');

    // Restart on the same channel: the schema is still in force.
    const dir = `${f.dir}/data`;
    await f.app.close();
    await f.collector.stop();
    fixtures.splice(fixtures.indexOf(f), 1);
    const again = await fixture({ channelDir: dir });
    fixtures.push(f); // removes f.dir (and the channel) at the end
    expect((await browse(again, 'orders', 'last=1')).events[0]).toMatchObject({ bodyEncoding: 'protobuf', body: { order_id: 'o-3' } });
    const got = await again.app.inject({ method: 'GET', url: '/api/v1/topics/orders/schema' });
    expect(got.json()).toMatchObject({ topic: 'orders', schema: { kind: 'protobuf', messageType: 'shop.v1.Order', proto: SHOP_PROTO }, types: expect.arrayContaining(['shop.v1.Order']) });
    expect((await again.app.inject({ method: 'GET', url: '/api/v1/schemas' })).json()).toMatchObject({ schemas: [{ topic: 'orders', kind: 'protobuf', messageType: 'shop.v1.Order' }] });
  });

  it('searches decoded fields: jsonata, bodyContains and bodyRegex see the decoded value', async () => {
    const f = await fixture();
    await put(f, 'orders', { kind: 'protobuf', proto: SHOP_PROTO, messageType: 'shop.v1.Order' });
    await f.collector.channel.append({ events: Array.from({ length: 50 }, (_, i) => binary('orders', order(i))) });
    const paid = await browse(f, 'orders', `jsonata=${encodeURIComponent('status = "PAID" and cents >= 4000')}`);
    expect(paid.events.map((e) => e.offset)).toEqual([40, 42, 44, 46, 48]);
    const item = await browse(f, 'orders', `jsonata=${encodeURIComponent('items[sku = "sku-7"]')}`);
    expect(item.events.map((e) => e.offset)).toEqual([7]);
    const contains = await browse(f, 'orders', `bodyContains=${encodeURIComponent('"order_id":"o-13"')}`);
    expect(contains.events.map((e) => e.offset)).toEqual([13]);
    const regex = await browse(f, 'orders', `bodyRegex=${encodeURIComponent('"order_id":"o-4\\d"')}`);
    expect(regex.events.map((e) => e.offset)).toEqual([40, 41, 42, 43, 44, 45, 46, 47, 48, 49]);
    const exported = await f.app.inject({ method: 'GET', url: `/api/v1/topics/orders/export?jsonata=${encodeURIComponent('status = "SHIPPED" and cents < 600')}` });
    expect(exported.body.trim().split('\n').map((l) => (JSON.parse(l) as ApiEvent).offset)).toEqual([1, 3, 5]);
  });

  it('shows a body that does not decode with a per-event error and its bytes; JSON and text events on the topic are shown as they say', async () => {
    const f = await fixture();
    await put(f, 'orders', { kind: 'protobuf', proto: SHOP_PROTO, messageType: 'shop.v1.Order' });
    await f.collector.channel.append({
      events: [
        binary('orders', order(1)),
        binary('orders', Uint8Array.from([0x0f, 0xff, 0xff])), // wire type 7: not protobuf
        makeEvent('orders', '{"note":"json here"}', { headers: { 'content-type': 'application/json' } }),
        binary('orders', order(2).subarray(0, 4)), // cut short
        binary('orders', order(3)),
      ],
    });
    const page = await browse(f, 'orders');
    expect(page.events.map((e) => e.bodyEncoding)).toEqual(['protobuf', null, 'json', null, 'protobuf']);
    expect(page.events[1].decodeError).toMatch(/^does not decode as protobuf shop\.v1\.Order: .*wire type/);
    expect(page.events[1].raw).toBe(Buffer.from([0x0f, 0xff, 0xff]).toString('base64'));
    expect(page.events[2].body).toEqual({ note: 'json here' });
    expect(page.events[3].decodeError).toMatch(/does not decode as protobuf shop\.v1\.Order: index out of range/);
    // A search over them counts no error and skips what does not decode.
    const found = await browse(f, 'orders', `jsonata=${encodeURIComponent('cents = 300')}`);
    expect(found.events.map((e) => e.offset)).toEqual([4]);
  });

  it('reads a binary FileDescriptorSet, and the Confluent wire format (magic byte, schema id, message indexes)', async () => {
    const f = await fixture();
    // A descriptor set as protoc writes it (--include_imports), made here by protobufjs.
    const require = createRequire(import.meta.url);
    require('protobufjs/ext/descriptor');
    const set = (root as unknown as { toDescriptor(e: string): protobuf.Message }).toDescriptor('proto3');
    const bytes = (set.constructor as unknown as protobuf.Type).encode(set).finish();
    const r = await put(f, 'framed', { kind: 'protobuf', descriptorSet: Buffer.from(bytes).toString('base64'), messageType: 'shop.v1.Order', framing: 'confluent' });
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    const framed = (id: number, indexes: number[], body: Uint8Array) => {
      const header = Buffer.alloc(5);
      header.writeUInt32BE(id, 1);
      const idx = indexes.length === 0 ? [0] : [indexes.length * 2, ...indexes.map((i) => i * 2)];
      return Buffer.concat([header, Buffer.from(idx), body]);
    };
    await f.collector.channel.append({ events: [binary('framed', framed(42, [], order(5))), binary('framed', framed(43, [0], order(6))), binary('framed', order(7))] });
    const page = await browse(f, 'framed');
    expect(page.events[0]).toMatchObject({ bodyEncoding: 'protobuf', schemaId: 42, body: { order_id: 'o-5' } });
    expect(page.events[1]).toMatchObject({ bodyEncoding: 'protobuf', schemaId: 43, body: { order_id: 'o-6' } });
    expect(page.events[2]).toMatchObject({ bodyEncoding: null, decodeError: expect.stringMatching(/not in the Confluent wire format \(first byte 0x0a, not the magic byte 0x00\)/) });

    // Without framing, a framed body gets a hint.
    await put(f, 'framed', { kind: 'protobuf', descriptorSet: Buffer.from(bytes).toString('base64'), messageType: 'shop.v1.Order' });
    expect((await browse(f, 'framed', 'from=0&limit=1')).events[0].decodeError).toMatch(/set framing "confluent"/);
  });

  it('follows a live tail decoded, and DELETE shows bodies by their content type again', async () => {
    const f = await fixture();
    await put(f, 'orders', { kind: 'protobuf', proto: SHOP_PROTO, messageType: 'shop.v1.Order' });
    const url = (await f.app.listen({ host: '127.0.0.1', port: 0 })).replace(/^http/, 'ws');
    const ws = new WebSocket(`${url}/api/v1/topics/orders/tail?jsonata=${encodeURIComponent('status = "PAID"')}`);
    sockets.push(ws);
    const got: ApiEvent[] = [];
    ws.on('message', (data) => {
      const m = JSON.parse(String(data)) as TailMessage;
      if (m.type === 'events') got.push(...m.events);
    });
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    await f.collector.channel.append({ events: Array.from({ length: 10 }, (_, i) => binary('orders', order(i))) });
    await waitFor(() => got.length >= 5);
    expect(got.map((e) => [e.offset, e.bodyEncoding, (e.body as { order_id: string }).order_id])).toEqual([0, 2, 4, 6, 8].map((i) => [i, 'protobuf', `o-${i}`]));

    const del = await f.app.inject({ method: 'DELETE', url: '/api/v1/topics/orders/schema' });
    expect(del.json()).toEqual({ topic: 'orders', deleted: true });
    expect((await browse(f, 'orders', 'from=0&limit=1')).events[0]).toMatchObject({ bodyEncoding: null, body: null });
    expect((await f.app.inject({ method: 'GET', url: '/api/v1/topics/orders/schema' })).statusCode).toBe(404);
    expect((await f.app.inject({ method: 'DELETE', url: '/api/v1/topics/orders/schema' })).json()).toEqual({ topic: 'orders', deleted: false });
  });
});

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}

async function waitFor(check: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(check()).toBe(true);
}

describe('hostile and wrong schemas', () => {
  it('refuses with SLUICE_SCHEMA_INVALID naming the problem, and keeps the previous schema', async () => {
    const f = await fixture();
    expect((await put(f, 'orders', { kind: 'protobuf', proto: SHOP_PROTO, messageType: 'shop.v1.Order' })).status).toBe(200);
    const refused = async (payload: unknown, message: RegExp, code = 'SLUICE_SCHEMA_INVALID') => {
      const r = await put(f, 'orders', payload);
      expect(r.status, JSON.stringify(r.json)).toBe(400);
      expect(r.json).toMatchObject({ error: { code, message: expect.stringMatching(message) } });
    };
    await refused({ kind: 'protobuf', proto: SHOP_PROTO }, /messageType is required: one of shop\.v1\.Item, shop\.v1\.Node, shop\.v1\.Order/);
    await refused({ kind: 'protobuf', proto: SHOP_PROTO, messageType: 'shop.v1.Nope' }, /"shop\.v1\.Nope" is not a message type of this schema/);
    await refused({ kind: 'protobuf', proto: 'message A { strin x = 1; ', messageType: 'A' }, /the \.proto does not parse/);
    await refused({ kind: 'protobuf', proto: 'syntax = "proto3"; import "acme/money.proto"; message A { int32 x = 1; }', messageType: 'A' }, /import "acme\/money\.proto" cannot be resolved: .*descriptor set/);
    await refused({ kind: 'protobuf', proto: 'syntax = "proto3"; message A { B b = 1; }', messageType: 'A' }, /does not resolve/);
    await refused({ kind: 'protobuf', proto: SHOP_PROTO, descriptorSet: 'AAAA', messageType: 'shop.v1.Order' }, /exactly one of proto .* or descriptorSet/);
    await refused({ kind: 'protobuf', descriptorSet: Buffer.from('not a descriptor set at all').toString('base64'), messageType: 'A' }, /descriptorSet is not a FileDescriptorSet/);
    // Messages nested 150 deep in the .proto: protobufjs' (and protoc's) limit is 100.
    const deep = `${'message M { '.repeat(150)}int32 x = 1;${' }'.repeat(150)}`;
    await refused({ kind: 'protobuf', proto: deep, messageType: 'M' }, /does not parse: .*(depth|nested)/);
    await refused({ kind: 'protobuf', proto: 'x'.repeat(600 * 1024), messageType: 'M' }, /proto|longer|characters|large/, 'SLUICE_BAD_INPUT');
    await refused({ kind: 'protobuf', proto: SHOP_PROTO, messageType: 'shop.v1.Order', extra: 1 }, /unknown key.*extra/, 'SLUICE_BAD_INPUT');
    await refused({ kind: 'thrift', schema: '{}' }, /kind/, 'SLUICE_BAD_INPUT');
    expect((await f.app.inject({ method: 'GET', url: '/api/v1/topics/orders/schema' })).json()).toMatchObject({ schema: { messageType: 'shop.v1.Order' } });
  });

  it('validate offers the message types before one is chosen', async () => {
    const f = await fixture();
    const r = await f.app.inject({ method: 'POST', url: '/api/v1/schemas/validate', payload: { kind: 'protobuf', proto: SHOP_PROTO } });
    expect(r.json() as SchemaValidateResponse).toEqual({ ok: false, types: ['shop.v1.Item', 'shop.v1.Node', 'shop.v1.Order'], error: expect.stringMatching(/messageType is required/) });
    const ok = await f.app.inject({ method: 'POST', url: '/api/v1/schemas/validate', payload: { kind: 'protobuf', proto: SHOP_PROTO, messageType: 'shop.v1.Node' } });
    expect(ok.json()).toEqual({ ok: true, types: ['shop.v1.Item', 'shop.v1.Node', 'shop.v1.Order'] });
  });

  it('bounds hostile payloads: a message nested past 100 levels is a per-event error, not a crash', async () => {
    const f = await fixture();
    await put(f, 'tree', { kind: 'protobuf', proto: SHOP_PROTO, messageType: 'shop.v1.Node' });
    // Node { child = 1 (a Node) }, nested by hand: protobufjs' own encoder refuses past 100 levels.
    const nest = (levels: number): Buffer => {
      let bytes = Buffer.from([0x12, 0x04, ...Buffer.from('leaf')]);
      for (let i = 0; i < levels; i++) bytes = Buffer.concat([Buffer.from([0x0a]), varint(bytes.length), bytes]);
      return bytes;
    };
    const deep = nest(150);
    const shallow = nest(50);
    // A child that claims 4 GiB.
    const hostile = Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x00]);
    await f.collector.channel.append({ events: [binary('tree', deep), binary('tree', shallow), binary('tree', hostile)] });
    const page = await browse(f, 'tree');
    expect(page.events[0]).toMatchObject({ bodyEncoding: null, decodeError: expect.stringMatching(/does not decode as protobuf shop\.v1\.Node: max depth exceeded/) });
    expect(page.events[1].bodyEncoding).toBe('protobuf');
    expect(page.events[2]).toMatchObject({ bodyEncoding: null, decodeError: expect.stringMatching(/does not decode as protobuf shop\.v1\.Node: (invalid length encoding|index out of range)/) });
  });

  it('a body of many empty elements of a wide message shows only the fields sent, not millions of defaults', async () => {
    const f = await fixture();
    const fields = Array.from({ length: 2000 }, (_, i) => `int32 f${i} = ${i + 1};`).join(' ');
    await put(f, 'wide', { kind: 'protobuf', proto: `syntax = "proto3"; message M { ${fields} } message Outer { repeated M m = 1; }`, messageType: 'Outer' });
    // 20,000 empty M elements (0a 00): with defaults that would be 40 million fields (the process ran out of memory).
    const body = Buffer.alloc(40_000);
    for (let i = 0; i < body.length; i += 2) body[i] = 0x0a;
    const small = Buffer.from([0x0a, 0x02, 0x08, 0x07]); // one M with f0 = 7: defaults shown
    await f.collector.channel.append({ events: [binary('wide', body), binary('wide', small)] });
    const page = await browse(f, 'wide');
    expect(page.events[0].bodyEncoding).toBe('protobuf');
    const m = (page.events[0].body as { m: unknown[] }).m;
    expect(m).toHaveLength(20_000);
    expect(m[0]).toEqual({});
    expect(Object.keys((page.events[1].body as { m: Record<string, unknown>[] }).m[0])).toHaveLength(2000);
  });

  it('a read-only inspection shows the schema but refuses to change it', async () => {
    const f = await fixture();
    await put(f, 'orders', { kind: 'protobuf', proto: SHOP_PROTO, messageType: 'shop.v1.Order' });
    await f.collector.channel.append({ events: [binary('orders', order(1))] });
    const ro = await fixture({ inspect: true, channelDir: `${f.dir}/data`, yaml: '' });
    expect((await browse(ro, 'orders')).events[0]).toMatchObject({ bodyEncoding: 'protobuf', body: { order_id: 'o-1' } });
    const r = await put(ro, 'orders', { kind: 'protobuf', proto: SHOP_PROTO, messageType: 'shop.v1.Node' });
    expect(r).toMatchObject({ status: 400, json: { error: { message: expect.stringMatching(/read-only inspection/) } } });
    expect((await ro.app.inject({ method: 'GET', url: '/api/v1/topics/orders/schema' })).json() as TopicSchemaResponse).toMatchObject({ schema: { messageType: 'shop.v1.Order' } });
  });
});

describe.skipIf(!HAS_AVSC)('avro topics', () => {
  it('decodes with the schema in browse, search and export; Confluent framing gives the schema id; a body that does not decode says why', async () => {
    const f = await fixture();
    const set = await put(f, 'avro-orders', { kind: 'avro', schema: ORDER_AVSC });
    expect(set.status, JSON.stringify(set.json)).toBe(200);
    expect(set.json).toMatchObject({ schema: { kind: 'avro' }, types: ['shop.avro.Order'] });
    await f.collector.channel.append({ events: [...Array.from({ length: 10 }, (_, i) => binary('avro-orders', encodeAvroOrder(i))), binary('avro-orders', Buffer.from([0x06, 0x61]))] });
    const page = await browse(f, 'avro-orders');
    expect(page.events[3]).toMatchObject({ bodyEncoding: 'avro', body: { order_id: 'o-3', cents: 300, status: 'SHIPPED', items: [{ sku: 'sku-3', qty: 3 }], note: 'note 3', tags: { region: 'us' } } });
    expect(Buffer.from(page.events[3].raw!, 'base64')).toEqual(encodeAvroOrder(3));
    expect(page.events[10]).toMatchObject({ bodyEncoding: null, decodeError: expect.stringMatching(/^does not decode as avro shop\.avro\.Order: a string of 3 bytes, beyond the 1 left at byte 1/) });

    const found = await browse(f, 'avro-orders', `jsonata=${encodeURIComponent('status = "PAID" and tags.region = "eu" and cents > 500')}`);
    expect(found.events.map((e) => e.offset)).toEqual([6, 8]);
    expect((await browse(f, 'avro-orders', `bodyContains=${encodeURIComponent('"note":"note 9"')}`)).events.map((e) => e.offset)).toEqual([9]);
    const csv = await f.app.inject({ method: 'GET', url: '/api/v1/topics/avro-orders/export?format=csv&to=2' });
    expect(csv.body).toContain('""order_id"":""o-1"",""cents"":100,""status"":""SHIPPED""');

    await put(f, 'framed-avro', { kind: 'avro', schema: ORDER_AVSC, framing: 'confluent' });
    const header = Buffer.from([0, 0, 0, 1, 7]);
    await f.collector.channel.append({ events: [binary('framed-avro', Buffer.concat([header, encodeAvroOrder(4)])), binary('framed-avro', encodeAvroOrder(5))] });
    const framed = await browse(f, 'framed-avro');
    expect(framed.events[0]).toMatchObject({ bodyEncoding: 'avro', schemaId: 263, body: { order_id: 'o-4' } });
    expect(framed.events[1].decodeError).toMatch(/not in the Confluent wire format/);
  });

  it('refuses bad and hostile Avro schemas, and bounds hostile payloads', async () => {
    const f = await fixture();
    const refused = async (schema: string, message: RegExp) => {
      const r = await put(f, 'av', { kind: 'avro', schema });
      expect(r.status, JSON.stringify(r.json)).toBe(400);
      expect(r.json).toMatchObject({ error: { code: 'SLUICE_SCHEMA_INVALID', message: expect.stringMatching(message) } });
    };
    await refused('{"type": "record", "name": "A", "fields": [', /not JSON/);
    await refused('{"type": "record", "name": "A", "fields": [{"name": "x", "type": "nosuch"}]}', /not valid: .*nosuch/);
    await refused(`${'{"type":"array","items":'.repeat(150)}"int"${'}'.repeat(150)}`, /nests deeper than 100 levels/);
    await refused('{"type":"array","items":"null"}', /array whose items take no bytes/);
    await refused('{"type":"record","name":"R","fields":[{"name":"xs","type":{"type":"array","items":{"type":"record","name":"E","fields":[]}}}]}', /R\.xs: an array whose items take no bytes/);
    // Two fields of the same empty record: still zero bytes an item.
    await refused('{"type":"record","name":"R","fields":[{"name":"xs","type":{"type":"array","items":{"type":"record","name":"P","fields":[{"name":"a","type":{"type":"record","name":"E","fields":[]}},{"name":"b","type":"E"}]}}}]}', /R\.xs: an array whose items take no bytes/);
    const r = await put(f, 'av', { kind: 'avro', schema: ORDER_AVSC, messageType: 'x' });
    expect(r.json).toMatchObject({ error: { message: expect.stringMatching(/an avro schema takes schema only/) } });

    // An array of longs that claims 2^62 items in 3 bytes; a recursive list 1,000 deep; trailing bytes.
    await put(f, 'av', { kind: 'avro', schema: '{"type":"record","name":"L","fields":[{"name":"xs","type":{"type":"array","items":"long"}},{"name":"next","type":["null","L"]}]}' });
    const huge = Buffer.from([0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x02, 0x04, 0x06]);
    const deep = Buffer.concat([...Array.from({ length: 1000 }, () => Buffer.from([0x00, 0x02])), Buffer.from([0x00, 0x00])]);
    const ok = Buffer.from([0x04, 0x02, 0x04, 0x00, 0x00]);
    await f.collector.channel.append({ events: [binary('av', huge), binary('av', deep), binary('av', Buffer.concat([ok, Buffer.from([1])])), binary('av', ok)] });
    const page = await browse(f, 'av');
    expect(page.events.map((e) => e.bodyEncoding)).toEqual([null, null, null, 'avro']);
    expect(page.events[0].decodeError).toMatch(/a block of \d+ array items, more than the 3 bytes left/);
    expect(page.events[1].decodeError).toMatch(/values nested deeper than 100 levels/);
    expect(page.events[2].decodeError).toMatch(/1 bytes left over after the L value/);
    expect(page.events[3].body).toEqual({ xs: [1, 2], next: null });

    // Records that each use the next one twice, 40 levels (a flat union keeps the JSON shallow): 2^40 values
    // for a 1-byte body. Checking the schema must not walk the tree per use, nor a body build it.
    const levels = 40;
    const defs = Array.from({ length: levels }, (_, i) => ({ type: 'record', name: `R${i}`, fields: i === levels - 1 ? [{ name: 'x', type: 'null' }] : [{ name: 'a', type: `R${i + 1}` }, { name: 'b', type: `R${i + 1}` }] })).reverse();
    const tree = JSON.stringify({ type: 'record', name: 'Top', fields: [{ name: 'defs', type: ['null', ...defs] }, { name: 'items', type: { type: 'array', items: 'R0' } }, { name: 'one', type: 'R0' }] });
    const treePut = await put(f, 'tree', { kind: 'avro', schema: tree });
    expect(treePut.status, JSON.stringify(treePut.json)).toBe(400);
    expect(treePut.json).toMatchObject({ error: { message: expect.stringMatching(/items take no bytes/) } });
    const noArray = JSON.stringify({ type: 'record', name: 'Top', fields: [{ name: 'defs', type: ['null', ...defs] }, { name: 'one', type: 'R0' }] });
    expect((await put(f, 'tree', { kind: 'avro', schema: noArray })).status).toBe(200);
    await f.collector.channel.append({ events: [binary('tree', Buffer.from([0x00]))] });
    expect((await browse(f, 'tree')).events[0].decodeError).toMatch(/more than 100,000 values/);

    // Longs beyond 2^53 (nanosecond timestamps) as decimal strings, exact; small ones as numbers.
    await put(f, 'ns', { kind: 'avro', schema: '{"type":"record","name":"T","fields":[{"name":"ns","type":"long"},{"name":"n","type":"long"}]}' });
    await f.collector.channel.append({ events: [binary('ns', Buffer.from([0xaa, 0xb4, 0xcc, 0xa8, 0x8d, 0xbb, 0xb0, 0x8d, 0x30, 0x0a]))] });
    expect((await browse(f, 'ns')).events[0]).toMatchObject({ bodyEncoding: 'avro', body: { ns: '1733148000123456789', n: 5 } });

    // A union of two records (ambiguous as a plain value) is shown as Avro JSON does: {"Branch": value}.
    await put(f, 'shapes', { kind: 'avro', schema: '{"type":"record","name":"S","fields":[{"name":"shape","type":[{"type":"record","name":"Circle","fields":[{"name":"r","type":"int"}]},{"type":"record","name":"Square","fields":[{"name":"side","type":"int"}]}]}]}' });
    await f.collector.channel.append({ events: [binary('shapes', Buffer.from([0x02, 0x08]))] });
    expect((await browse(f, 'shapes')).events[0]).toMatchObject({ bodyEncoding: 'avro', body: { shape: { Square: { side: 4 } } } });
  });
});
