/**
 * PackedForward frames for `body_as: bytes`, written straight into one buffer — the hot path of a
 * Sluice edge. Byte for byte what the codec's encodePackedForward writes for the same records
 * (bytes-frame.test.ts checks it), without a JS object or a buffer per record:
 *
 *   frame  = [tag, bin(entries), {size: n, chunk, compressed?: "gzip"}]
 *   entry  = [EventTime, {"_sluice_body": bin, "_sluice_headers": {str: str, …}, "_sluice_key"?: str}]
 *   EventTime = D7 00 | seconds u32 BE | nanoseconds u32 BE
 *
 * Events of a batch usually carry equal headers: their encoding is reused while they repeat.
 */
import { Packr } from 'msgpackr';
import type { Headers, StoredEvent } from '../../../../shared/src/event.ts';
import { RESERVED_KEYS, type Gzip } from '../../../../shared/src/protocol/forward/index.ts';
import { writeEventTime } from '../../../../shared/src/protocol/forward/time.ts';

const packr = new Packr({ useRecords: false, variableMapSize: true, encodeUndefinedAsNil: true });
const textEncoder = new TextEncoder();

const KEY_BODY = packr.pack(RESERVED_KEYS.body);
const KEY_HEADERS = packr.pack(RESERVED_KEYS.headers);
const KEY_KEY = packr.pack(RESERVED_KEYS.key);

function strHeader(length: number): number[] {
  if (length < 32) return [0xa0 | length];
  if (length < 0x100) return [0xd9, length];
  if (length < 0x10000) return [0xda, length >> 8, length & 0xff];
  return [0xdb, length >>> 24, (length >>> 16) & 0xff, (length >>> 8) & 0xff, length & 0xff];
}

function binHeaderLength(length: number): number {
  return length < 0x100 ? 2 : length < 0x10000 ? 3 : 5;
}

function writeBinHeader(out: Uint8Array, pos: number, length: number): number {
  if (length < 0x100) {
    out[pos] = 0xc4;
    out[pos + 1] = length;
    return pos + 2;
  }
  if (length < 0x10000) {
    out[pos] = 0xc5;
    out[pos + 1] = length >> 8;
    out[pos + 2] = length & 0xff;
    return pos + 3;
  }
  out[pos] = 0xc6;
  out[pos + 1] = length >>> 24;
  out[pos + 2] = (length >>> 16) & 0xff;
  out[pos + 3] = (length >>> 8) & 0xff;
  out[pos + 4] = length & 0xff;
  return pos + 5;
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

function keyBytes(key: string): Uint8Array {
  const text = textEncoder.encode(key);
  const head = strHeader(text.length);
  const out = new Uint8Array(head.length + text.length);
  out.set(head, 0);
  out.set(text, head.length);
  return out;
}

/** The entry stream of events `from … to-1` (PackedForward's MessagePackEventStream). */
export function bytesEntryStream(events: readonly StoredEvent[], from: number, to: number): Uint8Array {
  const n = to - from;
  const headerBytes: Uint8Array[] = new Array(n);
  const keys: (Uint8Array | null)[] = new Array(n);
  let prevHeaders: Headers | null = null;
  let prevBytes: Uint8Array | null = null;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const e = events[from + i];
    if (prevHeaders === null || !sameHeaders(e.headers, prevHeaders)) {
      prevHeaders = e.headers;
      prevBytes = packr.pack(e.headers);
    }
    headerBytes[i] = prevBytes!;
    keys[i] = e.key === null ? null : keyBytes(e.key);
    // 0x92 + EventTime (10) + map header (1) + body key + bin + headers key + headers [+ key key + key]
    total += 12 + KEY_BODY.length + binHeaderLength(e.body.length) + e.body.length + KEY_HEADERS.length + prevBytes!.length;
    if (keys[i]) total += KEY_KEY.length + keys[i]!.length;
  }
  const out = new Uint8Array(total);
  let pos = 0;
  for (let i = 0; i < n; i++) {
    const e = events[from + i];
    out[pos++] = 0x92;
    writeEventTime(e.ts, out, pos);
    pos += 10;
    const key = keys[i];
    out[pos++] = key ? 0x83 : 0x82;
    out.set(KEY_BODY, pos);
    pos = writeBinHeader(out, pos + KEY_BODY.length, e.body.length);
    out.set(e.body, pos);
    pos += e.body.length;
    out.set(KEY_HEADERS, pos);
    pos += KEY_HEADERS.length;
    out.set(headerBytes[i], pos);
    pos += headerBytes[i].length;
    if (key) {
      out.set(KEY_KEY, pos);
      pos += KEY_KEY.length;
      out.set(key, pos);
      pos += key.length;
    }
  }
  return out;
}

/**
 * Sluice batch forwarding (a server whose acks said `sluice: 2`): the stored record batches as
 * they are, back to back —
 *
 *   [tag, bin(payload payload …), {size: events, chunk?, sluice_batches: format, compressed?: "gzip"}]
 *
 * — as the parts of one frame, so the payloads are written without being copied (one buffer
 * when gzipped).
 */
export function batchesFrame(tag: string, payloads: readonly Uint8Array[], events: number, format: number, options: { chunk?: string; gzip?: Gzip }): Uint8Array[] {
  let parts = payloads;
  let length = 0;
  if (options.gzip) {
    const stream = options.gzip(payloads.length === 1 ? payloads[0] : Buffer.concat(payloads));
    parts = [stream];
  }
  for (const p of parts) length += p.length;
  const option: Record<string, unknown> = { size: events };
  if (options.chunk !== undefined) option.chunk = options.chunk;
  option.sluice_batches = format;
  if (options.gzip) option.compressed = 'gzip';
  const tagBytes = packr.pack(tag);
  const head = new Uint8Array(1 + tagBytes.length + binHeaderLength(length));
  head[0] = 0x93;
  head.set(tagBytes, 1);
  writeBinHeader(head, 1 + tagBytes.length, length);
  return [head, ...parts, new Uint8Array(packr.pack(option))]; // a copy: msgpackr reuses its output buffer
}

/** `[tag, bin(entries), {size, chunk?, compressed?}]` for `body_as: bytes`. */
export function bytesPackedForward(tag: string, events: readonly StoredEvent[], from: number, to: number, options: { chunk?: string; gzip?: Gzip }): Uint8Array {
  let stream = bytesEntryStream(events, from, to);
  if (options.gzip) stream = options.gzip(stream);
  const option: Record<string, unknown> = { size: to - from };
  if (options.chunk !== undefined) option.chunk = options.chunk;
  if (options.gzip) option.compressed = 'gzip';
  const tagBytes = packr.pack(tag);
  const optionBytes = packr.pack(option);
  const out = new Uint8Array(1 + tagBytes.length + binHeaderLength(stream.length) + stream.length + optionBytes.length);
  out[0] = 0x93;
  out.set(tagBytes, 1);
  let pos = writeBinHeader(out, 1 + tagBytes.length, stream.length);
  out.set(stream, pos);
  pos += stream.length;
  out.set(optionBytes, pos);
  return out;
}
