/**
 * On-disk record batch format, version 1.
 *
 * A topic's events are stored as record batches, one row per batch in `batches` (see schema.ts),
 * as Kafka stores record batches: the row carries base/last offset and min/max timestamp columns,
 * and `payload` holds the events, msgpack-encoded:
 *
 *   payload = msgpack([ baseTs, [ [tsDelta, key, headers, body], … ] ])
 *
 *   baseTs   int     ms since epoch of the batch's first event
 *   tsDelta  int     event ts − baseTs (may be negative: timestamps need not be monotone)
 *   key      str|nil
 *   headers  map<str,str>|nil   nil when empty
 *   body     bin
 *
 * Event i of the batch has offset base_offset + i. The `format` column of the row holds the
 * version; a reader MUST refuse a version it does not know rather than guess.
 */
import { Packr, Unpackr } from 'msgpackr';
import type { EventDraft, Headers, StoredEvent } from '../../../shared/src/event.ts';
import { ErrorCodes, SluiceError } from '../../../shared/src/errors.ts';

export const RECORD_FORMAT = 1;

const packr = new Packr({ useRecords: false, variableMapSize: true });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

type PackedEvent = [number, string | null, Headers | null, Uint8Array];

export interface EncodedBatch {
  payload: Buffer;
  count: number;
  minTs: number;
  maxTs: number;
}

export function encodeBatch(events: readonly EventDraft[], from = 0, to = events.length): EncodedBatch {
  const baseTs = events[from].ts;
  let minTs = baseTs;
  let maxTs = baseTs;
  const records: PackedEvent[] = new Array(to - from);
  for (let i = from; i < to; i++) {
    const e = events[i];
    if (e.ts < minTs) minTs = e.ts;
    if (e.ts > maxTs) maxTs = e.ts;
    let headers: Headers | null = null;
    for (const _ in e.headers) {
      headers = e.headers;
      break;
    }
    records[i - from] = [e.ts - baseTs, e.key, headers, e.body];
  }
  return { payload: packr.pack([baseTs, records]), count: to - from, minTs, maxTs };
}

export function decodeBatch(topic: string, baseOffset: number, format: number, payload: Buffer): StoredEvent[] {
  if (format !== RECORD_FORMAT) {
    throw new SluiceError(
      ErrorCodes.CHANNEL_VERSION,
      `topic "${topic}": record batch at offset ${baseOffset} has format ${format}, this build reads format ${RECORD_FORMAT}; upgrade Sluice to read this channel`,
    );
  }
  const [baseTs, records] = unpackr.unpack(payload) as [number, PackedEvent[]];
  const out: StoredEvent[] = new Array(records.length);
  for (let i = 0; i < records.length; i++) {
    const r = records[i];
    out[i] = { topic, offset: baseOffset + i, ts: baseTs + r[0], key: r[1] ?? null, headers: r[2] ?? {}, body: r[3] };
  }
  return out;
}
