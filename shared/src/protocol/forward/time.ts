/**
 * Event times on the wire.
 *
 * EventTime is msgpack ext type 0 with an 8-byte payload, either form:
 *   fixext8: D7 00 | seconds uint32 BE | nanoseconds uint32 BE      (10 bytes; what we send)
 *   ext8:    C7 08 00 | seconds uint32 BE | nanoseconds uint32 BE   (11 bytes)
 * Clients may instead send integer seconds (fluent-logger-python's default), and some send float
 * seconds or a msgpack timestamp (ext -1); all are accepted. As in fluentd's in_forward, nil or a
 * time within the epoch's first second means "now": the receiver stamps it with its clock.
 *
 * Sluice timestamps are milliseconds, so nanoseconds are truncated to milliseconds when decoding
 * (float seconds are rounded to the nearest millisecond, since binary floats rarely hold the exact
 * decimal). Sluice → Sluice loses nothing: a Sluice ts is whole milliseconds.
 *
 * Fluent Bit marks record groups with EventTime seconds 0xFFFFFFFF (start) and 0xFFFFFFFE (end),
 * its int32 -1 and -2; those are markers, not times, so encoders refuse times that would produce them.
 */
import { ErrorCodes, SluiceError } from '../../errors.ts';
import { Kind, protocolError, readFloat, readInt, describe, type Reader } from './msgpack.ts';

/** Largest encodable time: the second before Fluent Bit's group-end marker (early 2106). */
export const MAX_EVENT_TIME_MS = 0xfffffffd * 1000 + 999;

/** Returned by `readTime` for a Fluent Bit group marker. */
export const GROUP_MARKER = -1;

/**
 * Returned by `readTime` for nil or a time within the epoch's first second: like fluentd's
 * in_forward, the receiver stamps such events with its own clock (some clients send 0 for "now").
 */
export const TIME_UNSET = -2;

export function eventTimeToMs(seconds: number, nanoseconds: number): number {
  return seconds * 1000 + Math.floor(nanoseconds / 1_000_000);
}

/** Writes the 10-byte fixext8 EventTime for `ms` at `out[pos]`. Sub-millisecond fractions become nanoseconds. */
export function writeEventTime(ms: number, out: Uint8Array, pos: number): void {
  if (!Number.isFinite(ms) || ms < 0 || ms > MAX_EVENT_TIME_MS) {
    throw new SluiceError(ErrorCodes.BAD_INPUT, `time ${ms} cannot be sent as an EventTime (must be 0..${MAX_EVENT_TIME_MS} ms since the epoch)`);
  }
  const seconds = Math.floor(ms / 1000);
  const nanoseconds = Math.min(999_999_999, Math.round((ms - seconds * 1000) * 1_000_000));
  out[pos] = 0xd7;
  out[pos + 1] = 0x00;
  writeU32(out, pos + 2, seconds);
  writeU32(out, pos + 6, nanoseconds);
}

/** The msgpack EventTime (fixext8, 10 bytes) for a time in milliseconds. */
export function encodeEventTime(ms: number): Uint8Array {
  const out = new Uint8Array(10);
  writeEventTime(ms, out, 0);
  return out;
}

/** Milliseconds from a msgpack EventTime value (fixext8 or ext8 form, the whole value). */
export function decodeEventTime(bytes: Uint8Array): number {
  let p: number;
  if (bytes.length === 10 && bytes[0] === 0xd7 && bytes[1] === 0x00) p = 2;
  else if (bytes.length === 11 && bytes[0] === 0xc7 && bytes[1] === 0x08 && bytes[2] === 0x00) p = 3;
  else throw protocolError('not a msgpack EventTime: expected D7 00 or C7 08 00 followed by 8 bytes');
  const nanoseconds = readU32(bytes, p + 4);
  if (nanoseconds > 999_999_999) throw protocolError(`EventTime nanoseconds ${nanoseconds} out of range`);
  return eventTimeToMs(readU32(bytes, p), nanoseconds);
}

function writeU32(out: Uint8Array, p: number, v: number): void {
  out[p] = v >>> 24;
  out[p + 1] = (v >>> 16) & 0xff;
  out[p + 2] = (v >>> 8) & 0xff;
  out[p + 3] = v & 0xff;
}

function readU32(b: Uint8Array, p: number): number {
  return b[p] * 0x1000000 + ((b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]);
}

/** Seconds beyond this are not a plausible event time (year 9999) and would overflow ms precision. */
const MAX_SECONDS = 253_402_300_799;

/**
 * Reads an entry's time and returns milliseconds; TIME_UNSET for nil or 0; GROUP_MARKER for a Fluent
 * Bit group marker (only recognised where `markers` is set: in `[[time, metadata], record]` entries).
 */
export function readTime(r: Reader, what: string, markers: boolean): number {
  const ms = readRawTime(r, what, markers);
  return ms >= 0 && ms < 1000 ? TIME_UNSET : ms;
}

function readRawTime(r: Reader, what: string, markers: boolean): number {
  const h = r.peek(what);
  const { buf, pos } = r;
  switch (h.kind) {
    case Kind.nil:
      r.pos += 1;
      return TIME_UNSET;
    case Kind.int: {
      const seconds = readInt(buf, pos);
      r.pos += h.headerLength;
      if (markers && (seconds === -1 || seconds === -2)) return GROUP_MARKER;
      if (seconds < 0 || seconds > MAX_SECONDS) throw protocolError(`${what} ${seconds} is out of range (seconds since the epoch)`);
      return seconds * 1000;
    }
    case Kind.float: {
      const seconds = readFloat(buf, pos);
      r.pos += h.headerLength;
      if (!(seconds >= 0 && seconds <= MAX_SECONDS)) throw protocolError(`${what} ${seconds} is out of range (seconds since the epoch)`);
      return Math.round(seconds * 1000);
    }
    case Kind.ext: {
      const p = pos + h.headerLength;
      if (p + h.length > r.end) throw protocolError(`${what} is truncated`);
      if (h.extType === 0 && h.length === 8) {
        const seconds = readU32(buf, p);
        const nanoseconds = readU32(buf, p + 4);
        r.pos = p + 8;
        if (markers && seconds >= 0xfffffffe) return GROUP_MARKER;
        if (nanoseconds > 999_999_999) throw protocolError(`${what} has EventTime nanoseconds ${nanoseconds} (must be below 10^9)`);
        return eventTimeToMs(seconds, nanoseconds);
      }
      if (h.extType === -1) {
        r.pos = p + h.length;
        return timestampExt(buf, p, h.length, what);
      }
      throw protocolError(`${what} must be an EventTime (ext 0, 8 bytes) or integer seconds, got ext type ${h.extType} of ${h.length} bytes`);
    }
    default:
      throw protocolError(`${what} must be an EventTime or integer seconds, got ${describe(h)}`);
  }
}

/** The msgpack timestamp extension (type -1) in its 32-, 64- and 96-bit forms. */
function timestampExt(buf: Uint8Array, p: number, length: number, what: string): number {
  let seconds: number;
  let nanoseconds = 0;
  if (length === 4) {
    seconds = readU32(buf, p);
  } else if (length === 8) {
    const high = readU32(buf, p);
    nanoseconds = Math.floor(high / 4);
    seconds = (high & 0x3) * 0x100000000 + readU32(buf, p + 4);
  } else if (length === 12) {
    nanoseconds = readU32(buf, p);
    const high = readU32(buf, p + 4);
    if (high >= 0x80000000) throw protocolError(`${what} is a timestamp before 1970`);
    seconds = high * 0x100000000 + readU32(buf, p + 8);
  } else {
    throw protocolError(`${what} is a msgpack timestamp of ${length} bytes (must be 4, 8 or 12)`);
  }
  if (nanoseconds > 999_999_999 || seconds > MAX_SECONDS) throw protocolError(`${what} is out of range`);
  return eventTimeToMs(seconds, nanoseconds);
}
