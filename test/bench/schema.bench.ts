/**
 * Filter scans on topics with a viewer schema (docs/inspection.md, "Schemas"): the events a
 * JSONata search on a decoded field examines per second, on a channel of orders stored three
 * ways — JSON, Protobuf and Avro bodies with the same content — through the scanner the admin
 * API uses (consumers/scan.ts, compileFilter with the topic's decoder):
 *   schema.scan_protobuf   events/s examined, Protobuf bodies  (baseline: the JSON topic)
 *   schema.scan_avro       events/s examined, Avro bodies      (baseline: the JSON topic)
 * The predicate matches nothing, so every event is decoded and evaluated.
 */
import { join } from 'node:path';
import { Channel } from '../../collector/src/channel/channel.ts';
import { compileFilter } from '../../collector/src/consumers/filters.ts';
import { toJsonValue } from '../../collector/src/consumers/present.ts';
import { compileSchema, schemasOf } from '../../collector/src/consumers/schemas.ts';
import { scan } from '../../collector/src/consumers/scan.ts';
import type { EventDraft } from '../../shared/src/event.ts';
import { encodeAvroOrder, encodeOrder, ORDER_AVSC, SHOP_PROTO } from '../helpers/schemas.ts';
import { defineBench, median, type BenchContext } from './harness.ts';

const PREDICATE = 'cents < 0';

async function fill(channel: Channel, topic: string, n: number, body: (i: number) => Uint8Array, contentType: string): Promise<void> {
  const ts = Date.now();
  for (let start = 0; start < n; start += 10_000) {
    const events: EventDraft[] = [];
    for (let i = start; i < Math.min(n, start + 10_000); i++) events.push({ topic, ts, key: null, headers: { 'content-type': contentType }, body: body(i) });
    await channel.append({ events });
  }
}

async function rate(b: BenchContext, channel: Channel, topic: string, n: number): Promise<number> {
  const decoder = schemasOf(channel).decoder(topic);
  const rates: number[] = [];
  // An untimed first round warms JSONata, the decoders and the page cache for each topic alike.
  for (let round = -1; round < (b.quick ? 1 : 3); round++) {
    const filter = compileFilter({ jsonata: PREDICATE }, decoder);
    const t0 = performance.now();
    const r = await scan(channel, { topic, direction: 'forward', start: 0, end: n, limit: 100, filter, bounds: { maxRows: n, maxMs: 600_000 } });
    const ms = performance.now() - t0;
    if (r.events.length !== 0 || r.scanned !== n || r.filterErrors !== 0) throw new Error(`${topic}: scanned ${r.scanned}/${n}, ${r.events.length} matches, ${r.filterErrors} errors (${r.firstFilterError ?? ''})`);
    if (round >= 0) rates.push((n / ms) * 1000);
  }
  return median(rates);
}

export default defineBench({
  name: 'schema',
  summary: 'JSONata filter scans on Protobuf and Avro topics decoded with their viewer schema, against the same content as JSON',
  async run(b) {
    const n = b.quick ? 20_000 : 200_000;
    const channel = Channel.open({ file: join(b.tempDir('schema'), 'channel.db'), synchronous: 'off', retentionIntervalMs: 0, maxBytes: 1024 ** 4, defaults: { retentionMs: null } });
    try {
      const pb = compileSchema({ kind: 'protobuf', proto: SHOP_PROTO, messageType: 'shop.v1.Order' });
      await fill(channel, 'json', n, (i) => Buffer.from(JSON.stringify(toJsonValue(pb.decode(encodeOrder(i))))), 'application/json');
      await fill(channel, 'pb', n, encodeOrder, 'application/octet-stream');
      await fill(channel, 'avro', n, encodeAvroOrder, 'application/octet-stream');
      const schemas = schemasOf(channel);
      schemas.put('pb', { kind: 'protobuf', proto: SHOP_PROTO, messageType: 'shop.v1.Order' });
      schemas.put('avro', { kind: 'avro', schema: ORDER_AVSC });
      const json = await rate(b, channel, 'json', n);
      const protobuf = await rate(b, channel, 'pb', n);
      const avro = await rate(b, channel, 'avro', n);
      const size = n.toLocaleString('en-US');
      b.log(`jsonata scan: json ${Math.round(json)}/s, protobuf ${Math.round(protobuf)}/s, avro ${Math.round(avro)}/s`);
      const notes = (what: string) =>
        `\`jsonata=${PREDICATE}\` (matches nothing) over ${size} orders (~37–80 bytes) ${what}, through consumers/scan.ts with the topic's decoder as the admin API runs it (in-process, no HTTP), median of 3. Baseline: the same orders stored as JSON (application/json, decoded with JSON.parse).`;
      b.figure('schema.scan_protobuf', { value: protobuf, unit: 'events/s', better: 'higher', baseline: json, notes: notes('stored as Protobuf and decoded with a .proto viewer schema (protobufjs)') });
      b.figure('schema.scan_avro', { value: avro, unit: 'events/s', better: 'higher', baseline: json, notes: notes('stored as Avro and decoded with an .avsc viewer schema (AvroGuard + avsc)') });
    } finally {
      await channel.close();
    }
  },
});
