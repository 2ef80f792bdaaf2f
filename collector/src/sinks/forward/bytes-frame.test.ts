/** The `body_as: bytes` frame writer is byte for byte the codec's encoding of the same records, and reads back exactly. */
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { utf8, type Headers, type StoredEvent } from '../../../../shared/src/event.ts';
import { decodeRequests, encodePackedForward, recordToEvent, RESERVED_KEYS } from '../../../../shared/src/protocol/forward/index.ts';
import { bytesPackedForward } from './bytes-frame.ts';

function events(n: number): StoredEvent[] {
  const shared = { 'content-type': 'application/json', host: 'edge-1' };
  return Array.from({ length: n }, (_, i): StoredEvent => ({
    topic: 't',
    offset: 100 + i,
    ts: 1_700_000_000_000 + i * 7,
    key: i % 3 === 0 ? (i % 2 ? 'k'.repeat(40) : `key-${i}`) : i === 4 ? 'ü'.repeat(200) : null,
    // equal headers in runs, then different ones, then none, then long values
    headers: (i < 5 ? { ...shared } : i < 8 ? { 'content-type': 'text/plain', n: String(i) } : i === 8 ? {} : { long: 'v'.repeat(300 + i), 'ç': 'é' }) as Headers,
    body: i === 9 ? new Uint8Array(70_000).fill(7) : i === 10 ? new Uint8Array(0) : utf8(i % 2 ? `{"i":${i}}` : `line ${i}`.repeat(i * 10)),
  }));
}

const codecRecord = (e: StoredEvent) => {
  const record: Record<string, unknown> = { [RESERVED_KEYS.body]: e.body, [RESERVED_KEYS.headers]: e.headers };
  if (e.key !== null) record[RESERVED_KEYS.key] = e.key;
  return { time: e.ts, record };
};

describe('bytesPackedForward', () => {
  it('writes exactly what encodePackedForward writes for the same records', () => {
    const es = events(14);
    for (const [from, to] of [
      [0, 14],
      [0, 1],
      [3, 9],
    ]) {
      const ours = bytesPackedForward('topic.a', es, from, to, { chunk: 'abc' });
      const codec = encodePackedForward('topic.a', es.slice(from, to).map(codecRecord), { chunk: 'abc' });
      expect(Buffer.from(ours).equals(Buffer.from(codec))).toBe(true);
    }
  });

  it('reads back as the same events, plain and gzip-compressed', () => {
    const es = events(14);
    for (const gzip of [undefined, (d: Uint8Array) => gzipSync(d)]) {
      const [frame] = decodeRequests(bytesPackedForward('topic.a', es, 0, es.length, { chunk: 'c1', gzip }), { gunzip: (d, max) => gunzipSync(d, { maxOutputLength: max }) });
      if (frame.kind === 'ping' || frame.kind === 'heartbeat') throw new Error('not an event frame');
      expect(frame.option).toMatchObject({ chunk: 'c1', size: 14 });
      const back = frame.entries.map((e) => recordToEvent(frame.tag, e.time, e.record));
      expect(back.map((e) => ({ ...e, body: Buffer.from(e.body) }))).toEqual(es.map(({ offset: _o, ...e }) => ({ ...e, topic: 'topic.a', body: Buffer.from(e.body) })));
    }
  });
});
