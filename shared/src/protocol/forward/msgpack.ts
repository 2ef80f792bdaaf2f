/**
 * The msgpack layer under the forward codec: one Packr/Unpackr pair with fixed options, and a
 * scanner that measures msgpack values from their headers without decoding them.
 *
 * Why a scanner: a TCP stream carries msgpack values back to back with no length prefix, so the
 * decoder must find where a frame ends before decoding it, reject an oversize frame from its
 * headers before buffering it, and never hand msgpackr bytes it should not interpret (msgpackr
 * reads its own extension types — records, references, typed arrays — which a peer must not be
 * able to trigger). Everything here is iterative with an explicit depth limit: no recursion on
 * untrusted input, no allocation proportional to a declared (rather than received) length.
 */
import { formatBytes } from '../../format.ts';
import { Packr, Unpackr } from 'msgpackr';
import { ErrorCodes, SluiceError } from '../../errors.ts';

/** Encoder: plain maps (no msgpackr records), smallest map headers, `undefined` as nil (never ext 0). */
export const packr = new Packr({ useRecords: false, mapsAsObjects: true, variableMapSize: true, encodeUndefinedAsNil: true });

/**
 * Decoder: maps as plain objects, 64-bit integers as numbers (precision beyond 2^53 is lost, but a
 * record never holds a BigInt that JSON cannot serialize), bin values copied out of the receive
 * buffer so decoded records never alias memory the stream decoder reuses.
 */
export const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number', copyBuffers: true });

/**
 * The same decoder for bytes the caller owns (a copy of a frame's entries, or gunzip output): bin
 * values are views into them. Copying a PackedForward's entry stream once and decoding it with
 * this is several times cheaper than a copy per bin value — a small typed-array allocation costs
 * about as much as decoding the whole entry it belongs to. The views keep that one buffer alive.
 */
export const viewUnpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });

/** msgpack bytes of a value as a plain Uint8Array of their own (msgpackr returns Buffer views of a shared block). */
export function pack(value: unknown): Uint8Array {
  return new Uint8Array(packr.pack(value));
}

export function protocolError(message: string, cause?: unknown): SluiceError {
  return new SluiceError(ErrorCodes.PROTOCOL, message, cause === undefined ? {} : { cause });
}

/** Value families, as far as framing and validation care. */
export const Kind = {
  invalid: 0,
  nil: 1,
  bool: 2,
  int: 3,
  float: 4,
  str: 5,
  bin: 6,
  array: 7,
  map: 8,
  ext: 9,
} as const;
export type Kind = (typeof Kind)[keyof typeof Kind];

/** The header of one msgpack value; reused between reads to keep scanning allocation-free. */
export class Header {
  kind: Kind = Kind.invalid;
  /** Bytes of the header; for nil/bool/int/float this is the whole value. */
  headerLength = 0;
  /** str/bin/ext: payload bytes; array: items; map: key/value pairs. */
  length = 0;
  /** ext only: the signed type byte. */
  extType = 0;
  /** The first byte, for error messages. */
  byte = 0;

  /** Bytes that follow the header and belong to this value itself (not to its children). */
  get payloadLength(): number {
    return this.kind === Kind.str || this.kind === Kind.bin || this.kind === Kind.ext ? this.length : 0;
  }

  /** Child values that follow: items of an array, keys and values of a map. */
  get children(): number {
    return this.kind === Kind.array ? this.length : this.kind === Kind.map ? this.length * 2 : 0;
  }
}

function u16(buf: Uint8Array, p: number): number {
  return (buf[p] << 8) | buf[p + 1];
}

function u32(buf: Uint8Array, p: number): number {
  return buf[p] * 0x1000000 + ((buf[p + 1] << 16) | (buf[p + 2] << 8) | buf[p + 3]);
}

function int8(b: number): number {
  return b > 127 ? b - 256 : b;
}

function set(h: Header, kind: Kind, headerLength: number, length: number): void {
  h.kind = kind;
  h.headerLength = headerLength;
  h.length = length;
}

/**
 * Reads the header at `pos` into `h`. Returns false when the header itself is not complete before
 * `end`; payloads are not checked. An unusable first byte (0xc1) yields `Kind.invalid`.
 */
export function readHeader(buf: Uint8Array, pos: number, end: number, h: Header): boolean {
  if (pos >= end) return false;
  const b = buf[pos];
  h.byte = b;
  h.extType = 0;
  if (b <= 0x7f) {
    set(h, Kind.int, 1, 0);
    return true;
  }
  if (b <= 0x8f) {
    set(h, Kind.map, 1, b & 0x0f);
    return true;
  }
  if (b <= 0x9f) {
    set(h, Kind.array, 1, b & 0x0f);
    return true;
  }
  if (b <= 0xbf) {
    set(h, Kind.str, 1, b & 0x1f);
    return true;
  }
  if (b >= 0xe0) {
    set(h, Kind.int, 1, 0);
    return true;
  }
  const avail = end - pos;
  switch (b) {
    case 0xc0:
      set(h, Kind.nil, 1, 0);
      return true;
    case 0xc1:
      set(h, Kind.invalid, 1, 0);
      return true;
    case 0xc2:
    case 0xc3:
      set(h, Kind.bool, 1, 0);
      return true;
    case 0xc4:
      if (avail < 2) return false;
      set(h, Kind.bin, 2, buf[pos + 1]);
      return true;
    case 0xc5:
      if (avail < 3) return false;
      set(h, Kind.bin, 3, u16(buf, pos + 1));
      return true;
    case 0xc6:
      if (avail < 5) return false;
      set(h, Kind.bin, 5, u32(buf, pos + 1));
      return true;
    case 0xc7:
      if (avail < 3) return false;
      set(h, Kind.ext, 3, buf[pos + 1]);
      h.extType = int8(buf[pos + 2]);
      return true;
    case 0xc8:
      if (avail < 4) return false;
      set(h, Kind.ext, 4, u16(buf, pos + 1));
      h.extType = int8(buf[pos + 3]);
      return true;
    case 0xc9:
      if (avail < 6) return false;
      set(h, Kind.ext, 6, u32(buf, pos + 1));
      h.extType = int8(buf[pos + 5]);
      return true;
    case 0xca:
      if (avail < 5) return false;
      set(h, Kind.float, 5, 0);
      return true;
    case 0xcb:
      if (avail < 9) return false;
      set(h, Kind.float, 9, 0);
      return true;
    case 0xcc:
    case 0xd0:
      if (avail < 2) return false;
      set(h, Kind.int, 2, 0);
      return true;
    case 0xcd:
    case 0xd1:
      if (avail < 3) return false;
      set(h, Kind.int, 3, 0);
      return true;
    case 0xce:
    case 0xd2:
      if (avail < 5) return false;
      set(h, Kind.int, 5, 0);
      return true;
    case 0xcf:
    case 0xd3:
      if (avail < 9) return false;
      set(h, Kind.int, 9, 0);
      return true;
    case 0xd4:
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0xd8:
      if (avail < 2) return false;
      set(h, Kind.ext, 2, 1 << (b - 0xd4));
      h.extType = int8(buf[pos + 1]);
      return true;
    case 0xd9:
      if (avail < 2) return false;
      set(h, Kind.str, 2, buf[pos + 1]);
      return true;
    case 0xda:
      if (avail < 3) return false;
      set(h, Kind.str, 3, u16(buf, pos + 1));
      return true;
    case 0xdb:
      if (avail < 5) return false;
      set(h, Kind.str, 5, u32(buf, pos + 1));
      return true;
    case 0xdc:
      if (avail < 3) return false;
      set(h, Kind.array, 3, u16(buf, pos + 1));
      return true;
    case 0xdd:
      if (avail < 5) return false;
      set(h, Kind.array, 5, u32(buf, pos + 1));
      return true;
    case 0xde:
      if (avail < 3) return false;
      set(h, Kind.map, 3, u16(buf, pos + 1));
      return true;
    default: // 0xdf
      if (avail < 5) return false;
      set(h, Kind.map, 5, u32(buf, pos + 1));
      return true;
  }
}

/** The kind of value a first byte starts, known even before the rest of its header arrives. */
export function kindOf(b: number): Kind {
  if (b <= 0x7f || b >= 0xe0) return Kind.int;
  if (b <= 0x8f) return Kind.map;
  if (b <= 0x9f) return Kind.array;
  if (b <= 0xbf) return Kind.str;
  if (b === 0xc0) return Kind.nil;
  if (b === 0xc1) return Kind.invalid;
  if (b <= 0xc3) return Kind.bool;
  if (b <= 0xc6) return Kind.bin;
  if (b <= 0xc9) return Kind.ext;
  if (b <= 0xcb) return Kind.float;
  if (b <= 0xd3) return Kind.int;
  if (b <= 0xd8) return Kind.ext;
  if (b <= 0xdb) return Kind.str;
  if (b <= 0xdd) return Kind.array;
  return Kind.map;
}

/** A short, human name of the value a header starts, for error messages. */
export function describe(h: Header): string {
  switch (h.kind) {
    case Kind.nil:
      return 'nil';
    case Kind.bool:
      return 'a boolean';
    case Kind.int:
      return 'an integer';
    case Kind.float:
      return 'a float';
    case Kind.str:
      return 'a string';
    case Kind.bin:
      return 'binary';
    case Kind.array:
      return `an array of ${h.length}`;
    case Kind.map:
      return `a map of ${h.length}`;
    case Kind.ext:
      return `msgpack ext type ${h.extType}`;
    default:
      return `the invalid byte 0x${h.byte.toString(16)}`;
  }
}

/** Reads the integer whose header was just read at `pos` (2^53 and beyond lose precision). */
export function readInt(buf: Uint8Array, pos: number): number {
  const b = buf[pos];
  if (b <= 0x7f) return b;
  if (b >= 0xe0) return b - 256;
  switch (b) {
    case 0xcc:
      return buf[pos + 1];
    case 0xcd:
      return u16(buf, pos + 1);
    case 0xce:
      return u32(buf, pos + 1);
    case 0xcf:
      return u32(buf, pos + 1) * 0x100000000 + u32(buf, pos + 5);
    case 0xd0:
      return int8(buf[pos + 1]);
    case 0xd1:
      return (u16(buf, pos + 1) << 16) >> 16;
    case 0xd2:
      return u32(buf, pos + 1) | 0;
    default: // 0xd3
      return (u32(buf, pos + 1) | 0) * 0x100000000 + u32(buf, pos + 5);
  }
}

/** Reads the float whose header was just read at `pos`. */
export function readFloat(buf: Uint8Array, pos: number): number {
  const view = new DataView(buf.buffer, buf.byteOffset + pos + 1, buf[pos] === 0xca ? 4 : 8);
  return buf[pos] === 0xca ? view.getFloat32(0) : view.getFloat64(0);
}


/**
 * Finds where the msgpack value at the start of a stream buffer ends, across pushes: when the value
 * is incomplete it keeps its place (offset into the frame and the open containers), so bytes are
 * scanned once however finely the stream is split. Container sizes and str/bin/ext lengths are
 * checked against `maxBytes` as soon as their header arrives, so an oversize frame is refused
 * before its body is buffered.
 */
export class FrameScanner {
  private offset = 0;
  /** Values still to read in each open container; the bottom entry is the frame itself. */
  private readonly pending: number[] = [];
  private started = false;
  private readonly h = new Header();

  constructor(
    private readonly maxBytes: number,
    private readonly maxDepth: number,
  ) {}

  reset(): void {
    this.offset = 0;
    this.pending.length = 0;
    this.started = false;
  }

  /** Bytes of the current frame scanned so far (its payloads may still be in flight). */
  get scanned(): number {
    return this.offset;
  }

  /**
   * The length of the complete value starting at `buf[start]`, or -1 when more bytes are needed.
   * `buf[start..end)` must hold the same frame bytes on every call until it returns a length.
   */
  scan(buf: Uint8Array, start: number, end: number): number {
    const { pending, h, maxBytes } = this;
    if (!this.started) {
      pending.push(1);
      this.started = true;
    }
    const available = end - start;
    let off = this.offset;
    while (pending.length > 0) {
      if (off >= available || !readHeader(buf, start + off, end, h)) {
        this.offset = off;
        return -1;
      }
      if (h.kind === Kind.invalid) {
        throw protocolError(`malformed msgpack: byte 0xc1 (never used) at offset ${off} of a frame`);
      }
      const size = h.headerLength + h.payloadLength;
      if (off + size > maxBytes) {
        throw new SluiceError(ErrorCodes.TOO_LARGE, `frame of at least ${formatBytes(off + size)} exceeds max ${formatBytes(maxBytes)}`);
      }
      off += size;
      pending[pending.length - 1]--;
      const children = h.children;
      if (children > 0) {
        // every child takes at least one byte: a count that cannot fit is refused now
        if (children > maxBytes - off) {
          throw new SluiceError(
            ErrorCodes.TOO_LARGE,
            `frame declares ${describe(h)} at offset ${off - size}, which cannot fit in max ${formatBytes(maxBytes)}`,
          );
        }
        if (pending.length > this.maxDepth) {
          throw protocolError(`msgpack nesting deeper than ${this.maxDepth} levels at offset ${off - size} of a frame`);
        }
        pending.push(children);
      }
      while (pending.length > 0 && pending[pending.length - 1] === 0) pending.pop();
    }
    this.offset = off;
    return off <= available ? off : -1;
  }
}

const scratch = new Header();

/**
 * The end offset of the complete msgpack value at `pos`, which must lie within `[pos, end)`.
 * Validates as it goes: no byte 0xc1, nesting at most `maxDepth`, no truncation, and — unless
 * `anyExt` — no extension type except the msgpack timestamp (-1, 4/8/12 bytes), because msgpackr
 * would interpret its own extension types (records, references, sets, errors) from peer input.
 * `what` names the value in error messages ("entry 3 record").
 */
export function skipValue(buf: Uint8Array, pos: number, end: number, maxDepth: number, what: string, anyExt = false): number {
  const h = scratch;
  const start = pos;
  const outer: number[] = [];
  let pending = 1;
  for (;;) {
    if (pending === 0) {
      if (outer.length === 0) return pos;
      pending = outer.pop()!;
      continue;
    }
    if (!readHeader(buf, pos, end, h)) throw protocolError(`${what} is truncated (${pos - start} bytes in)`);
    pending--;
    switch (h.kind) {
      case Kind.invalid:
        throw protocolError(`${what} is malformed: byte 0xc1 (never used) at ${pos - start} bytes in`);
      case Kind.array:
      case Kind.map: {
        pos += h.headerLength;
        const children = h.children;
        if (children === 0) break;
        if (children > end - pos) throw protocolError(`${what} is truncated: ${describe(h)} does not fit in the ${end - pos} bytes left`);
        if (outer.length >= maxDepth) throw protocolError(`${what} is nested deeper than ${maxDepth} levels`);
        outer.push(pending);
        pending = children;
        break;
      }
      case Kind.ext:
        if (!anyExt && !(h.extType === -1 && (h.length === 4 || h.length === 8 || h.length === 12))) {
          throw protocolError(
            `${what} holds msgpack ext type ${h.extType} (${h.length} bytes); only timestamps (ext -1) are accepted inside records and options`,
          );
        }
        pos += h.headerLength + h.length;
        break;
      default:
        pos += h.headerLength + h.payloadLength;
    }
    if (pos > end) throw protocolError(`${what} is truncated (needs ${pos - start} bytes, has ${end - start})`);
  }
}

const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * A cursor over a complete region of msgpack (a whole frame, or a PackedForward entry stream).
 * Every read checks bounds and types and throws a PROTOCOL error naming `what` it expected.
 */
export class Reader {
  private readonly h = new Header();

  constructor(
    readonly buf: Uint8Array,
    public pos: number,
    readonly end: number,
    readonly maxDepth: number,
  ) {}

  get atEnd(): boolean {
    return this.pos >= this.end;
  }

  /** The header of the next value, without moving. */
  peek(what: string): Header {
    if (!readHeader(this.buf, this.pos, this.end, this.h)) throw protocolError(`${what} is truncated`);
    if (this.h.kind === Kind.invalid) throw protocolError(`${what} is malformed: byte 0xc1 (never used)`);
    return this.h;
  }

  private expect(kind: Kind, what: string, expected: string): Header {
    const h = this.peek(what);
    if (h.kind !== kind) throw protocolError(`${what} must be ${expected}, got ${describe(h)}`);
    return h;
  }

  arrayLength(what: string): number {
    const h = this.expect(Kind.array, what, 'an array');
    this.pos += h.headerLength;
    return h.length;
  }

  mapLength(what: string): number {
    const h = this.expect(Kind.map, what, 'a map');
    this.pos += h.headerLength;
    return h.length;
  }

  /** The raw bytes of a str or bin value (copied: safe to keep). */
  bytes(what: string): Uint8Array {
    const h = this.peek(what);
    if (h.kind !== Kind.str && h.kind !== Kind.bin) throw protocolError(`${what} must be a string or binary, got ${describe(h)}`);
    const start = this.pos + h.headerLength;
    const stop = start + h.length;
    if (stop > this.end) throw protocolError(`${what} is truncated`);
    this.pos = stop;
    return new Uint8Array(this.buf.subarray(start, stop)); // a copy, and never a Buffer view
  }

  /** The region of a str or bin value, without copying. */
  region(what: string): { start: number; end: number } {
    const h = this.peek(what);
    if (h.kind !== Kind.str && h.kind !== Kind.bin) throw protocolError(`${what} must be binary or a string, got ${describe(h)}`);
    const start = this.pos + h.headerLength;
    const stop = start + h.length;
    if (stop > this.end) throw protocolError(`${what} is truncated`);
    this.pos = stop;
    return { start, end: stop };
  }

  /** A str (or, leniently, bin) value as text; must be valid UTF-8. */
  string(what: string): string {
    const h = this.peek(what);
    if (h.kind !== Kind.str && h.kind !== Kind.bin) throw protocolError(`${what} must be a string, got ${describe(h)}`);
    const start = this.pos + h.headerLength;
    const stop = start + h.length;
    if (stop > this.end) throw protocolError(`${what} is truncated`);
    this.pos = stop;
    try {
      return utf8Strict.decode(this.buf.subarray(start, stop));
    } catch {
      throw protocolError(`${what} is not valid UTF-8`);
    }
  }

  boolean(what: string): boolean {
    const h = this.expect(Kind.bool, what, 'a boolean');
    const value = this.buf[this.pos] === 0xc3;
    this.pos += h.headerLength;
    return value;
  }

  integer(what: string): number {
    const h = this.expect(Kind.int, what, 'an integer');
    const value = readInt(this.buf, this.pos);
    this.pos += h.headerLength;
    return value;
  }

  /** Skips one value; `anyExt` also skips extension types that `value()` would refuse. */
  skip(what: string, anyExt = false): void {
    this.pos = skipValue(this.buf, this.pos, this.end, this.maxDepth, what, anyExt);
  }

  /** Decodes one value with msgpackr after validating it with `skipValue`. */
  value(what: string): unknown {
    const start = this.pos;
    const stop = skipValue(this.buf, start, this.end, this.maxDepth, what);
    let value: unknown;
    try {
      value = unpackr.unpack(this.buf, { start, end: stop });
    } catch (error) {
      throw protocolError(`${what} could not be decoded: ${error instanceof Error ? error.message : String(error)}`, error);
    }
    this.pos = stop;
    return value;
  }
}
