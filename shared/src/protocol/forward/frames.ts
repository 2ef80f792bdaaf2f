/**
 * Decoding one complete forward-protocol frame (the stream decoder in decoder.ts cuts them).
 *
 * Requests (client → server), one msgpack value each:
 *   nil                                     heartbeat
 *   [tag, time, record, option?]            Message
 *   [tag, [[time, record], ...], option?]   Forward
 *   [tag, bin|str <<entry>>*, option?]      PackedForward (CompressedPackedForward: option.compressed = "gzip")
 *   ["PING", hostname, salt, digest, username, password_digest]
 * An entry is [time, record] or Fluent Bit's [[time, metadata], record]; time is an EventTime
 * (ext 0), integer seconds, float seconds or a msgpack timestamp; a record is a map.
 * Responses (server → client):
 *   ["HELO", {nonce, auth, keepalive}]   ["PONG", ok, reason, hostname, digest]   {ack: chunk}
 *
 * A frame is walked with Reader; records and metadata are validated by skipValue and only then
 * decoded by msgpackr. Any problem throws a SluiceError: PROTOCOL, or TOO_LARGE for size limits.
 */
import { formatBytes } from '../../format.ts';
import { ErrorCodes, SluiceError } from '../../errors.ts';
import { Kind, Reader, describe, protocolError, viewUnpackr } from './msgpack.ts';
import { GROUP_MARKER, TIME_UNSET, readTime } from './time.ts';
import type { EventFrame, FluentRecord, ForwardEntry, ForwardOption, Gunzip, RequestFrame, ResponseFrame } from './types.ts';

/** Longest chunk id accepted (we echo it back): fluentd sends 24 base64 chars, Fluent Bit 32 hex. */
const MAX_CHUNK_ID_LENGTH = 256;

/** Limits and injected functions a frame is decoded with. */
export interface FrameContext {
  maxDepth: number;
  maxDecompressedBytes: number;
  gunzip?: Gunzip;
  now: () => number;
}

/** One reading of the clock per frame, taken only if an entry needs it (fluentd's `now ||=`). */
class FrameClock {
  private value = -1;
  constructor(private readonly now: () => number) {}
  stamp(time: number): number {
    if (time !== TIME_UNSET) return time;
    if (this.value < 0) this.value = Math.max(0, Math.floor(this.now()));
    return this.value;
  }
}

/** Shortens peer-supplied text quoted in an error message. */
function clip(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
}

// ---------------------------------------------------------------------------------------------
// Requests

export function decodeRequest(buf: Uint8Array, start: number, end: number, ctx: FrameContext): RequestFrame {
  const r = new Reader(buf, start, end, ctx.maxDepth);
  if (r.peek('request').kind === Kind.nil) return { kind: 'heartbeat' };
  const n = r.arrayLength('request');
  if (n < 2 || n > 6 || n === 5) {
    throw protocolError(`request must be [tag, time, record, option?], [tag, entries, option?] or a 6-element PING, got an array of ${n}`);
  }
  const tag = r.string('tag');
  if (n === 6) {
    if (tag !== 'PING') throw protocolError(`a request of 6 elements must be a PING, got tag ${clip(tag)}`);
    return {
      kind: 'ping',
      clientHostname: r.string('PING client_hostname'),
      sharedKeySalt: r.bytes('PING shared_key_salt'),
      sharedKeyHexdigest: r.string('PING shared_key_hexdigest'),
      username: r.string('PING username'),
      passwordHexdigest: r.string('PING password'),
    };
  }
  const second = r.peek('second element');
  switch (second.kind) {
    case Kind.array:
      if (n === 4) throw protocolError('Forward mode is [tag, entries, option?], got 4 elements');
      return decodeForwardMode(r, tag, n === 3, end - start, ctx);
    case Kind.bin:
    case Kind.str:
      if (n === 4) throw protocolError('PackedForward mode is [tag, entries, option?], got 4 elements');
      return decodePackedMode(r, tag, n === 3, end - start, ctx);
    case Kind.int:
    case Kind.float:
    case Kind.ext:
    case Kind.nil: {
      if (n === 2) throw protocolError('Message mode is [tag, time, record, option?], got 2 elements');
      const time = new FrameClock(ctx.now).stamp(readTime(r, 'time', false));
      const record = readRecord(r, 'record');
      const option = n === 4 ? readOption(r) : {};
      checkSignal(option);
      return { kind: 'message', tag, entries: [{ time, record }], option, bytes: end - start };
    }
    default:
      throw protocolError(
        `second element must be a time (Message mode), an array (Forward mode) or binary entries (PackedForward mode), got ${describe(second)}`,
      );
  }
}

function decodeForwardMode(r: Reader, tag: string, hasOption: boolean, bytes: number, ctx: FrameContext): EventFrame {
  // the option follows the entries but says how to read them (fluent_signal): read it first
  const entriesAt = r.pos;
  r.skip('entries', true);
  const entriesEnd = r.pos;
  const option = hasOption ? readOption(r) : {};
  checkSignal(option);
  const entries = new Reader(r.buf, entriesAt, entriesEnd, r.maxDepth);
  const count = entries.arrayLength('entries');
  const shapes: EntryShape[] = [];
  for (let i = 0; i < count; i++) scanEntry(entries, i, shapes);
  checkSize(option, count);
  const values = count === 0 ? [] : (unpack(() => viewUnpackr.unpack(r.buf.slice(entriesAt, entriesEnd)), 'entries') as unknown[]);
  const out = buildEntries(values, shapes, new FrameClock(ctx.now));
  return { kind: 'forward', tag, entries: out, option, bytes };
}

function decodePackedMode(r: Reader, tag: string, hasOption: boolean, bytes: number, ctx: FrameContext): EventFrame {
  const region = r.region('entries');
  const option = hasOption ? readOption(r) : {};
  checkSignal(option);
  if (option.sluiceBatches !== undefined) return batchesFrame(r.buf, region, tag, option, bytes, ctx);
  let stream: Reader;
  let kind: EventFrame['kind'];
  // The entries are decoded from bytes this frame owns (see viewUnpackr): a copy of the region, or gunzip's output.
  // fluentd's out_forward sends compressed: "text" for uncompressed entries
  if (option.compressed === undefined || option.compressed === 'text') {
    kind = 'packed';
    stream = new Reader(r.buf, region.start, region.end, r.maxDepth);
  } else if (option.compressed === 'gzip') {
    kind = 'compressed';
    const inflated = gunzipEntries(r.buf.subarray(region.start, region.end), ctx);
    stream = new Reader(inflated, 0, inflated.length, r.maxDepth);
  } else {
    throw protocolError(`compression ${clip(option.compressed)} is not supported (only gzip)`);
  }
  const shapes: EntryShape[] = [];
  const start = stream.pos;
  while (!stream.atEnd) scanEntry(stream, shapes.length, shapes);
  checkSize(option, shapes.length);
  const owned = kind === 'compressed' ? plain(stream.buf.subarray(start, stream.end)) : stream.buf.slice(start, stream.end);
  const values = shapes.length === 0 ? [] : (unpack(() => viewUnpackr.unpackMultiple(owned), 'entries') as unknown[]);
  return { kind, tag, entries: buildEntries(values, shapes, new FrameClock(ctx.now)), option, bytes };
}

/** Sluice batch forwarding: the record batches' bytes, owned (a copy, or gunzip's output); the receiver checks them. */
function batchesFrame(buf: Uint8Array, region: { start: number; end: number }, tag: string, option: ForwardOption, bytes: number, ctx: FrameContext): EventFrame {
  if (option.size === undefined || option.size === 0) throw protocolError('a record batches frame (option sluice_batches) needs option size, its number of events (at least 1)');
  let batches: Uint8Array;
  if (option.compressed === undefined) batches = buf.slice(region.start, region.end);
  else if (option.compressed === 'gzip') batches = gunzipEntries(buf.subarray(region.start, region.end), ctx);
  else throw protocolError(`compression ${clip(option.compressed)} is not supported (only gzip)`);
  if (batches.length === 0) throw protocolError('a record batches frame holds no bytes');
  return { kind: 'batches', tag, entries: [], batches, option, bytes };
}

function gunzipEntries(data: Uint8Array, ctx: FrameContext): Uint8Array {
  const max = ctx.maxDecompressedBytes;
  if (!ctx.gunzip) throw protocolError('CompressedPackedForward received, but this decoder was created without a gunzip function');
  let out: Uint8Array;
  try {
    out = ctx.gunzip(data, max);
  } catch (error) {
    if (error instanceof SluiceError) throw error;
    // node:zlib refuses output beyond maxOutputLength with a RangeError (ERR_BUFFER_TOO_LARGE)
    if (error instanceof RangeError || (error as { code?: unknown } | null)?.code === 'ERR_BUFFER_TOO_LARGE') {
      throw new SluiceError(ErrorCodes.TOO_LARGE, `compressed entries inflate to more than max ${formatBytes(max)}`, { cause: error });
    }
    throw protocolError(`compressed entries are not valid gzip: ${error instanceof Error ? error.message : String(error)}`, error);
  }
  if (out.length > max) {
    throw new SluiceError(ErrorCodes.TOO_LARGE, `compressed entries inflate to ${formatBytes(out.length)}, more than max ${formatBytes(max)}`);
  }
  return plain(out);
}

/**
 * A new plain Uint8Array view of bytes (no copy): values msgpackr decodes from it are plain
 * Uint8Arrays even when the bytes are a Buffer, and the `dataView` msgpackr caches on its source
 * lands on our view, not on the caller's object.
 */
export function plain(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
}

/** What scanning an entry learned: its time (or GROUP_MARKER), and whether it has metadata to keep. */
interface EntryShape {
  time: number;
  metadata: boolean;
}

/**
 * Checks one entry without decoding it: shape, time (parsed here), and — with skipValue's strict
 * checks — every byte of metadata and record, because the entries are then handed to msgpackr in one
 * call (far cheaper than one call per record). Times are EventTime (which msgpackr reads as
 * undefined), timestamps or numbers; readTime has refused anything else.
 */
function scanEntry(r: Reader, i: number, shapes: EntryShape[]): void {
  const what = `entry ${i}`;
  const n = r.arrayLength(what);
  if (n !== 2) throw protocolError(`${what} must be [time, record], got an array of ${n}`);
  let time: number;
  let metadata = false;
  if (r.peek(`${what} time`).kind === Kind.array) {
    const m = r.arrayLength(`${what} header`);
    if (m !== 2) throw protocolError(`${what} header must be [time, metadata], got an array of ${m}`);
    time = readTime(r, `${what} time`, true);
    const mh = r.peek(`${what} metadata`);
    if (mh.kind === Kind.map) {
      metadata = mh.length > 0;
      r.skip(`${what} metadata`);
    } else if (mh.kind === Kind.nil) r.pos += 1;
    else throw protocolError(`${what} metadata must be a map, got ${describe(mh)}`);
  } else {
    time = readTime(r, `${what} time`, false);
  }
  const h = r.peek(`${what} record`);
  if (h.kind !== Kind.map) throw protocolError(`${what} record must be a map, got ${describe(h)}`);
  r.skip(`${what} record`);
  shapes.push({ time, metadata });
}

/** Entries from the decoded `[time, record]` / `[[time, metadata], record]` values; group markers dropped. */
function buildEntries(values: unknown[], shapes: EntryShape[], clock: FrameClock): ForwardEntry[] {
  if (values.length !== shapes.length) throw protocolError(`entries decoded to ${values.length} values, expected ${shapes.length}`);
  const out: ForwardEntry[] = [];
  for (let i = 0; i < shapes.length; i++) {
    const { time, metadata } = shapes[i];
    if (time === GROUP_MARKER) continue;
    const value = values[i] as [unknown, FluentRecord];
    const entry: ForwardEntry = { time: clock.stamp(time), record: value[1] };
    if (metadata) entry.metadata = (value[0] as [unknown, FluentRecord])[1];
    out.push(entry);
  }
  return out;
}

/** Runs a msgpackr decode of bytes skipValue has validated; its errors become PROTOCOL errors. */
function unpack(decode: () => unknown, what: string): unknown {
  try {
    return decode();
  } catch (error) {
    throw protocolError(`${what} could not be decoded: ${error instanceof Error ? error.message : String(error)}`, error);
  }
}

function readRecord(r: Reader, what: string): FluentRecord {
  const h = r.peek(what);
  if (h.kind !== Kind.map) throw protocolError(`${what} must be a map, got ${describe(h)}`);
  return r.value(what) as FluentRecord;
}

function readOption(r: Reader): ForwardOption {
  const h = r.peek('option');
  if (h.kind === Kind.nil) {
    r.pos += 1;
    return {};
  }
  const n = r.mapLength('option');
  const option: ForwardOption = {};
  for (let i = 0; i < n; i++) {
    if (r.peek('option key').kind !== Kind.str) {
      r.skip('option key', true);
      r.skip('option value', true);
      continue;
    }
    const key = r.string('option key');
    if (r.peek(`option ${key}`).kind === Kind.nil) {
      r.pos += 1;
      continue;
    }
    switch (key) {
      case 'chunk': {
        const chunk = r.string('option chunk');
        if (chunk.length === 0 || chunk.length > MAX_CHUNK_ID_LENGTH) {
          throw protocolError(`option chunk must be 1..${MAX_CHUNK_ID_LENGTH} characters, got ${chunk.length}`);
        }
        option.chunk = chunk;
        break;
      }
      case 'size': {
        const size = r.integer('option size');
        if (size < 0) throw protocolError(`option size must not be negative, got ${size}`);
        option.size = size;
        break;
      }
      case 'compressed':
        option.compressed = r.string('option compressed');
        break;
      case 'fluent_signal':
        option.fluentSignal = r.integer('option fluent_signal');
        break;
      case 'sluice_batches': {
        const format = r.integer('option sluice_batches');
        if (format < 1) throw protocolError(`option sluice_batches must be a record format (1 or more), got ${format}`);
        option.sluiceBatches = format;
        break;
      }
      default:
        r.skip(`option ${clip(key)}`, true);
    }
  }
  return option;
}

function checkSignal(option: ForwardOption): void {
  const signal = option.fluentSignal;
  if (signal !== undefined && signal !== 0) {
    const name = signal === 1 ? 'metrics' : signal === 2 ? 'traces' : `signal ${signal}`;
    throw protocolError(`Fluent Bit ${name} (fluent_signal ${signal}) are not supported; only logs (0) are`);
  }
}

function checkSize(option: ForwardOption, count: number): void {
  if (option.size !== undefined && option.size !== count) {
    throw protocolError(`option size says ${option.size} entries, but the frame holds ${count}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Responses

export function decodeResponse(buf: Uint8Array, start: number, end: number, ctx: FrameContext): ResponseFrame {
  const r = new Reader(buf, start, end, ctx.maxDepth);
  if (r.peek('response').kind === Kind.map) {
    const n = r.mapLength('response');
    let chunk: string | undefined;
    let sluice: number | undefined;
    for (let i = 0; i < n; i++) {
      const key = r.peek('response key').kind === Kind.str ? r.string('response key') : (r.skip('response key', true), '');
      if (key === 'ack') chunk = r.string('ack');
      else if (key === 'sluice' && r.peek('sluice').kind === Kind.int) sluice = r.integer('sluice');
      else r.skip('response value', true);
    }
    if (chunk === undefined) throw protocolError('response map has no "ack" key');
    return sluice === undefined ? { kind: 'ack', chunk } : { kind: 'ack', chunk, sluice };
  }
  const n = r.arrayLength('response');
  const type = r.string('response type');
  if (type === 'HELO') {
    if (n !== 2) throw protocolError(`HELO must be ["HELO", options], got ${n} elements`);
    const count = r.mapLength('HELO options');
    let nonce: Uint8Array | undefined;
    let auth: Uint8Array = new Uint8Array(0);
    let keepalive = true;
    for (let i = 0; i < count; i++) {
      const key = r.peek('HELO option key').kind === Kind.str ? r.string('HELO option key') : (r.skip('HELO option key', true), '');
      const nil = r.peek(`HELO ${key}`).kind === Kind.nil;
      if (key === 'nonce' && !nil) nonce = r.bytes('HELO nonce');
      else if (key === 'auth' && !nil) auth = r.bytes('HELO auth');
      else if (key === 'keepalive' && !nil) keepalive = r.boolean('HELO keepalive');
      else r.skip(`HELO ${key}`, true);
    }
    if (!nonce) throw protocolError('HELO has no nonce');
    return { kind: 'helo', nonce, auth, keepalive };
  }
  if (type === 'PONG') {
    if (n !== 5) throw protocolError(`PONG must have 5 elements, got ${n}`);
    return {
      kind: 'pong',
      authResult: r.boolean('PONG auth_result'),
      reason: r.string('PONG reason'),
      serverHostname: r.string('PONG server_hostname'),
      sharedKeyHexdigest: r.string('PONG shared_key_hexdigest'),
    };
  }
  throw protocolError(`response must be HELO, PONG or {ack: chunk}, got ${clip(type)}`);
}
