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

/**
 * Writes the payload straight into one buffer — byte for byte what `packr.pack([baseTs, records])`
 * writes (format.test.ts checks it), without an array per record: events of a batch usually carry
 * equal headers, whose encoding is reused while they repeat. The hub and the edge write every
 * event through here.
 */
export function encodeBatch(events: readonly EventDraft[], from = 0, to = events.length): EncodedBatch {
  const n = to - from;
  const baseTs = events[from].ts;
  let minTs = baseTs;
  let maxTs = baseTs;
  const headerBytes: (Uint8Array | null)[] = new Array(n);
  const keyBytes: (Uint8Array | null)[] = new Array(n);
  let prevHeaders: Headers | null = null;
  let prevBytes: Uint8Array | null = null;
  const head = packr.pack(baseTs);
  let total = 1 + head.length + arrayHeaderLength(n);
  for (let i = 0; i < n; i++) {
    const e = events[from + i];
    if (e.ts < minTs) minTs = e.ts;
    if (e.ts > maxTs) maxTs = e.ts;
    let hb: Uint8Array | null = null;
    if (!isEmpty(e.headers)) {
      if (prevHeaders === null || (e.headers !== prevHeaders && !sameHeaders(e.headers, prevHeaders))) {
        prevHeaders = e.headers;
        prevBytes = packr.pack(e.headers);
      }
      hb = prevBytes;
    }
    headerBytes[i] = hb;
    const kb = e.key === null || e.key === undefined ? null : packr.pack(e.key);
    keyBytes[i] = kb;
    const body = e.body.length;
    // 0x94 + tsDelta + key + headers + bin header + body
    total += 1 + intLength(e.ts - baseTs) + (kb ? kb.length : 1) + (hb ? hb.length : 1) + (body < 0x100 ? 2 : body < 0x10000 ? 3 : 5) + body;
  }
  const out = Buffer.allocUnsafe(total);
  let pos = 0;
  out[pos++] = 0x92;
  out.set(head, pos);
  pos = writeArrayHeader(out, pos + head.length, n);
  for (let i = 0; i < n; i++) {
    const e = events[from + i];
    out[pos++] = 0x94;
    pos = writeInt(out, pos, e.ts - baseTs);
    const kb = keyBytes[i];
    if (kb) {
      out.set(kb, pos);
      pos += kb.length;
    } else out[pos++] = 0xc0;
    const hb = headerBytes[i];
    if (hb) {
      out.set(hb, pos);
      pos += hb.length;
    } else out[pos++] = 0xc0;
    const body = e.body;
    const len = body.length;
    if (len < 0x100) {
      out[pos++] = 0xc4;
      out[pos++] = len;
    } else if (len < 0x10000) {
      out[pos++] = 0xc5;
      out.writeUInt16BE(len, pos);
      pos += 2;
    } else {
      out[pos++] = 0xc6;
      out.writeUInt32BE(len, pos);
      pos += 4;
    }
    out.set(body, pos);
    pos += len;
  }
  return { payload: out, count: n, minTs, maxTs };
}

function isEmpty(headers: Headers): boolean {
  for (const _ in headers) return false;
  return true;
}

function sameHeaders(a: Headers, b: Headers): boolean {
  let n = 0;
  for (const k in a) {
    if (a[k] !== b[k]) return false;
    n++;
  }
  for (const _ in b) n--;
  return n === 0;
}

function arrayHeaderLength(n: number): number {
  return n < 16 ? 1 : n < 0x10000 ? 3 : 5;
}

function writeArrayHeader(out: Buffer, pos: number, n: number): number {
  if (n < 16) {
    out[pos] = 0x90 | n;
    return pos + 1;
  }
  if (n < 0x10000) {
    out[pos] = 0xdc;
    out.writeUInt16BE(n, pos + 1);
    return pos + 3;
  }
  out[pos] = 0xdd;
  out.writeUInt32BE(n, pos + 1);
  return pos + 5;
}

/** msgpackr's integer forms; anything else (fractions, beyond 32 bits) as the float64 msgpackr writes. */
function intLength(v: number): number {
  if (v >>> 0 === v) return v < 0x80 ? 1 : v < 0x100 ? 2 : v < 0x10000 ? 3 : 5;
  if (v >> 0 === v) return v >= -0x20 ? 1 : v >= -0x80 ? 2 : v >= -0x8000 ? 3 : 5;
  return 9;
}

function writeInt(out: Buffer, pos: number, v: number): number {
  if (v >>> 0 === v) {
    if (v < 0x80) {
      out[pos] = v;
      return pos + 1;
    }
    if (v < 0x100) {
      out[pos] = 0xcc;
      out[pos + 1] = v;
      return pos + 2;
    }
    if (v < 0x10000) {
      out[pos] = 0xcd;
      out.writeUInt16BE(v, pos + 1);
      return pos + 3;
    }
    out[pos] = 0xce;
    out.writeUInt32BE(v, pos + 1);
    return pos + 5;
  }
  if (v >> 0 === v) {
    if (v >= -0x20) {
      out[pos] = 0xe0 | (v + 0x20);
      return pos + 1;
    }
    if (v >= -0x80) {
      out[pos] = 0xd0;
      out.writeInt8(v, pos + 1);
      return pos + 2;
    }
    if (v >= -0x8000) {
      out[pos] = 0xd1;
      out.writeInt16BE(v, pos + 1);
      return pos + 3;
    }
    out[pos] = 0xd2;
    out.writeInt32BE(v, pos + 1);
    return pos + 5;
  }
  out[pos] = 0xcb;
  out.writeDoubleBE(v, pos + 1);
  return pos + 9;
}

/** The plain msgpackr encoding of a batch: what encodeBatch must equal, byte for byte (tests, benchmarks). */
export function encodeBatchReference(events: readonly EventDraft[], from = 0, to = events.length): EncodedBatch {
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
