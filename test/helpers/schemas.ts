/**
 * Schemas and bodies the viewer-schema tests share (unit, e2e, browser): a Protobuf shop schema
 * with an order encoder, made with protobufjs as a producer would.
 */
import protobuf from 'protobufjs';

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
