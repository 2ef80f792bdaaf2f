/**
 * Schemas and bodies the viewer-schema tests share (unit, e2e, browser): a Protobuf shop schema
 * with an order encoder, made with protobufjs as a producer would.
 */
import protobuf from 'protobufjs';
import { createRequire } from 'node:module';

export const SHOP_PROTO = `
syntax = "proto3";
package shop.v1;
import "google/protobuf/timestamp.proto";
message Order {
  string order_id = 1;
  int64 cents = 2;
  Status status = 3;
  repeated Item items = 4;
  google.protobuf.Timestamp placed_at = 5;
  uint64 big = 6;
  bytes blob = 7;
}
message Item { string sku = 1; int32 qty = 2; }
enum Status { UNKNOWN = 0; PAID = 1; SHIPPED = 2; }
message Node { Node child = 1; string name = 2; }
`;

export const shopRoot = new protobuf.Root();
shopRoot.addJSON(protobuf.common.get('google/protobuf/timestamp.proto')!.nested!);
protobuf.parse(SHOP_PROTO, shopRoot, { keepCase: true });
const Order = shopRoot.lookupType('shop.v1.Order');

/** Order i: `o-<i>`, 100·i cents, PAID when i is even else SHIPPED, one item `sku-<i>` × i. */
export function encodeOrder(i: number): Uint8Array {
  return Order.encode(
    Order.create({ order_id: `o-${i}`, cents: 100 * i, status: i % 2 === 0 ? 1 : 2, items: [{ sku: `sku-${i}`, qty: i }], big: '18446744073709551615', blob: Buffer.from([1, 2, 3]) }),
  ).finish();
}

/** An Avro order schema (a record with a nested record array, an enum, a union and a map). */
export const ORDER_AVSC = JSON.stringify({
  type: 'record',
  name: 'Order',
  namespace: 'shop.avro',
  fields: [
    { name: 'order_id', type: 'string' },
    { name: 'cents', type: 'long' },
    { name: 'status', type: { type: 'enum', name: 'Status', symbols: ['UNKNOWN', 'PAID', 'SHIPPED'] } },
    { name: 'items', type: { type: 'array', items: { type: 'record', name: 'Item', fields: [{ name: 'sku', type: 'string' }, { name: 'qty', type: 'int' }] } } },
    { name: 'note', type: ['null', 'string'], default: null },
    { name: 'tags', type: { type: 'map', values: 'string' } },
  ],
});

interface AvroCodec {
  toBuffer(value: unknown): Buffer;
}

/** avsc, when installed (it is a dependency; the require is lazy so this module loads without it). */
export function avroType(schema: string): AvroCodec {
  const avsc = createRequire(import.meta.url)('avsc') as { Type: { forSchema(s: unknown): AvroCodec } };
  return avsc.Type.forSchema(JSON.parse(schema));
}

/** Avro order i, shaped as encodeOrder(i). */
export function encodeAvroOrder(i: number): Buffer {
  return avroType(ORDER_AVSC).toBuffer({
    order_id: `o-${i}`,
    cents: 100 * i,
    status: i % 2 === 0 ? 'PAID' : 'SHIPPED',
    items: [{ sku: `sku-${i}`, qty: i }],
    note: i % 3 === 0 ? `note ${i}` : null,
    tags: { region: i % 2 === 0 ? 'eu' : 'us' },
  });
}

/** Whether avsc resolves (a dependency since the Avro viewer; skips say so where it is missing). */
export const HAS_AVSC = ((): boolean => {
  try {
    createRequire(import.meta.url).resolve('avsc');
    return true;
  } catch {
    console.log('avro viewer tests skipped: the avsc package is not installed (npm ci installs it)');
    return false;
  }
})();
