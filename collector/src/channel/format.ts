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

/** The events of stored batches as read (channel `readStored`), within each batch's first … last. */
export function storedEvents(topic: string, stored: readonly { baseOffset: number; first: number; last: number; format: number; payload: Buffer }[]): StoredEvent[] {
  const out: StoredEvent[] = [];
  for (const b of stored) {
    const events = decodeBatch(topic, b.baseOffset, b.format, b.payload);
    for (let i = b.first - b.baseOffset; i <= b.last - b.baseOffset; i++) out.push(events[i]);
  }
  return out;
}

/** Checked batches (checkBatches) as event drafts of `topic`, for a path that must touch each event. */
export function decodeBatches(topic: string, batches: readonly EncodedBatch[]): EventDraft[] {
  const out: EventDraft[] = [];
  for (const b of batches) {
    for (const e of decodeBatch(topic, 0, RECORD_FORMAT, b.payload)) out.push({ topic, ts: e.ts, key: e.key, headers: e.headers, body: e.body });
  }
  return out;
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

// ─── Record batches from a peer (Sluice-to-Sluice batch forwarding) ──────────────────────────

/** A format-1 payload found in a peer's bytes, checked: a view into those bytes, never a copy. */
export interface CheckedBatch extends EncodedBatch {
  /** Where in the scanned bytes it starts (for error messages). */
  at: number;
}

/** Latest event time a checked batch may carry: the last EventTime second (early 2106), as the per-event forward path. */
const MAX_TS = 0xfffffffd * 1000 + 999;

/**
 * Checks concatenated format-1 payloads from an untrusted peer — every byte, no recursion, no
 * allocation from a declared length — and returns each as a view with its count and time range,
 * so it can be stored as it is. What passes is exactly what `decodeBatch` reads back as events:
 *
 *   payload  = [baseTs, [record, …]]       fixarray of 2; at least one record
 *   baseTs   = float or int of ≤ 32 bits   (msgpackr writes ms timestamps as float64)
 *   record   = [tsDelta, key, headers, body]  array of 4
 *   tsDelta  = float or int of ≤ 32 bits; baseTs + tsDelta within 0 … early 2106 (as EventTime)
 *   key      = nil | str (valid UTF-8)
 *   headers  = nil | map of str → str (valid UTF-8)
 *   body     = bin
 *
 * Nothing else is accepted: no ext types (msgpackr would interpret its own), no 64-bit integers,
 * no trailing bytes. The nesting is fixed (3 levels), so no depth limit applies; bodies are opaque
 * bytes, as `_sluice_body` is on the per-event path. Throws a SluiceError (PROTOCOL) naming the
 * batch, the record and the byte offset; `maxEvents` bounds the total events.
 */
export function checkBatches(bytes: Uint8Array, maxEvents = Number.MAX_SAFE_INTEGER): CheckedBatch[] {
  const c = new BatchCursor(bytes);
  const out: CheckedBatch[] = [];
  let events = 0;
  while (c.pos < bytes.length) {
    const at = c.pos;
    c.batch = out.length;
    c.batchAt = at;
    c.record = -1;
    if (c.arrayLength('payload') !== 2) c.fail('payload must be [baseTs, records]', at);
    const baseTs = c.number('baseTs');
    const n = c.arrayLength('records');
    if (n === 0) c.fail('holds no records', at);
    events += n;
    if (events > maxEvents) c.fail(`brings the frame to more than ${maxEvents} events`, at);
    let minTs = Number.POSITIVE_INFINITY;
    let maxTs = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < n; i++) {
      c.record = i;
      const start = c.pos;
      if (c.arrayLength('record') !== 4) c.fail('must be [tsDelta, key, headers, body]', start);
      const ts = baseTs + c.number('tsDelta');
      if (!(ts >= 0 && ts <= MAX_TS)) c.fail(`has time ${ts}, outside 0 … ${MAX_TS} ms since the epoch`, start);
      if (ts < minTs) minTs = ts;
      if (ts > maxTs) maxTs = ts;
      if (!c.nil()) c.utf8('key');
      if (!c.nil()) {
        const m = c.mapLength('headers');
        for (let h = 0; h < m; h++) {
          c.utf8('header name');
          c.utf8('header value');
        }
      }
      c.bin('body');
    }
    const payload = bytes.subarray(at, c.pos);
    out.push({ payload: Buffer.from(payload.buffer, payload.byteOffset, payload.length), count: n, minTs, maxTs, at });
  }
  return out;
}

const utf8Fatal = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** A bounds-checked cursor over the fixed shapes of format 1 (checkBatches). */
class BatchCursor {
  pos = 0;
  /** Where the cursor is, for messages: batch index, its first byte, record index (-1: none). */
  batch = 0;
  batchAt = 0;
  record = -1;
  constructor(readonly buf: Uint8Array) {}

  fail(message: string, at = this.pos): never {
    const where = `record batch ${this.batch} (byte ${this.batchAt})${this.record >= 0 ? ` record ${this.record}` : ''}`;
    throw new SluiceError(ErrorCodes.PROTOCOL, `${where}: ${message} (byte ${at})`);
  }

  #need(n: number, what: string): void {
    if (this.pos + n > this.buf.length) this.fail(`${what} is truncated`);
  }

  #u16(p: number): number {
    return (this.buf[p] << 8) | this.buf[p + 1];
  }

  #u32(p: number): number {
    return this.buf[p] * 0x1000000 + ((this.buf[p + 1] << 16) | (this.buf[p + 2] << 8) | this.buf[p + 3]);
  }

  arrayLength(what: string): number {
    return this.#length(what, 0x90, 0xdc, 'an array');
  }

  mapLength(what: string): number {
    return this.#length(what, 0x80, 0xde, 'nil or a map');
  }

  /** A msgpack array or map header: fix (`fix`…`fix`+15), 16-bit (`tag16`) or 32-bit (`tag16`+1) length. */
  #length(what: string, fix: number, tag16: number, expected: string): number {
    this.#need(1, what);
    const b = this.buf[this.pos];
    if (b >= fix && b <= fix + 0x0f) {
      this.pos += 1;
      return b & 0x0f;
    }
    if (b === tag16) {
      this.#need(3, what);
      this.pos += 3;
      return this.#u16(this.pos - 2);
    }
    if (b === tag16 + 1) {
      this.#need(5, what);
      this.pos += 5;
      return this.#u32(this.pos - 4);
    }
    return this.fail(`${what} must be ${expected}, got byte 0x${b.toString(16)}`);
  }

  /** An int of at most 32 bits, or a float; finite. */
  number(what: string): number {
    this.#need(1, what);
    const buf = this.buf;
    const p = this.pos;
    const b = buf[p];
    if (b <= 0x7f || b >= 0xe0) {
      this.pos = p + 1;
      return b <= 0x7f ? b : b - 256;
    }
    let v: number;
    let size: number;
    switch (b) {
      case 0xcc:
      case 0xd0:
        size = 2;
        break;
      case 0xcd:
      case 0xd1:
        size = 3;
        break;
      case 0xce:
      case 0xd2:
      case 0xca:
        size = 5;
        break;
      case 0xcb:
        size = 9;
        break;
      default:
        return this.fail(`${what} must be a number (an int of at most 32 bits or a float), got byte 0x${b.toString(16)}`);
    }
    this.#need(size, what);
    if (b === 0xcc) v = buf[p + 1];
    else if (b === 0xd0) v = (buf[p + 1] << 24) >> 24;
    else if (b === 0xcd) v = this.#u16(p + 1);
    else if (b === 0xd1) v = (this.#u16(p + 1) << 16) >> 16;
    else if (b === 0xce) v = this.#u32(p + 1);
    else if (b === 0xd2) v = this.#u32(p + 1) | 0;
    else {
      const view = new DataView(buf.buffer, buf.byteOffset + p + 1, size - 1);
      v = size === 5 ? view.getFloat32(0) : view.getFloat64(0);
      if (!Number.isFinite(v)) this.fail(`${what} is not finite`);
    }
    this.pos = p + size;
    return v;
  }

  nil(): boolean {
    if (this.pos < this.buf.length && this.buf[this.pos] === 0xc0) {
      this.pos += 1;
      return true;
    }
    return false;
  }

  utf8(what: string): void {
    this.#need(1, what);
    const p = this.pos;
    const b = this.buf[p];
    let head: number;
    let len: number;
    if (b >= 0xa0 && b <= 0xbf) {
      head = 1;
      len = b & 0x1f;
    } else if (b === 0xd9) {
      this.#need(2, what);
      head = 2;
      len = this.buf[p + 1];
    } else if (b === 0xda) {
      this.#need(3, what);
      head = 3;
      len = this.#u16(p + 1);
    } else if (b === 0xdb) {
      this.#need(5, what);
      head = 5;
      len = this.#u32(p + 1);
    } else return this.fail(`${what} must be a string, got byte 0x${b.toString(16)}`);
    this.pos = p + head;
    this.#need(len, what);
    const start = this.pos;
    const end = start + len;
    let ascii = true;
    for (let i = start; i < end; i++) {
      if (this.buf[i] >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (!ascii) {
      try {
        utf8Fatal.decode(this.buf.subarray(start, end));
      } catch {
        this.fail(`${what} is not valid UTF-8`, start);
      }
    }
    this.pos = end;
  }

  bin(what: string): void {
    this.#need(1, what);
    const p = this.pos;
    const b = this.buf[p];
    let head: number;
    let len: number;
    if (b === 0xc4) {
      this.#need(2, what);
      head = 2;
      len = this.buf[p + 1];
    } else if (b === 0xc5) {
      this.#need(3, what);
      head = 3;
      len = this.#u16(p + 1);
    } else if (b === 0xc6) {
      this.#need(5, what);
      head = 5;
      len = this.#u32(p + 1);
    } else return this.fail(`${what} must be binary, got byte 0x${b.toString(16)}`);
    this.pos = p + head;
    this.#need(len, what);
    this.pos += len;
  }
}
