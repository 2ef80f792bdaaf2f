/**
 * Encoding forward-protocol frames. A Sluice edge sends PackedForward (gzip-compressed when a
 * `gzip` function is given) with `size` and a `chunk` id and waits for `{ack: chunk}`:
 *
 *   [tag, bin(<<[EventTime, record]>>*), {size: n, chunk: id, compressed?: "gzip"}]
 *
 * Entries are always written as [EventTime, record] (the form every fluent server reads); an
 * entry's Fluent Bit `metadata` is not sent. Message and Forward modes are here for tests and for
 * talking to peers that want them.
 */
import { ErrorCodes, SluiceError } from '../../errors.ts';
import { pack, packr } from './msgpack.ts';
import { writeEventTime } from './time.ts';
import type { FluentRecord, ForwardEntry, Gzip, HeloFrame, PingFrame, PongFrame } from './types.ts';

export interface PackedForwardOptions {
  /** Chunk id; the server then MUST answer `{ack: chunk}`. */
  chunk?: string;
  /** When given, send CompressedPackedForward. */
  gzip?: Gzip;
}

/** Options sent with Message and Forward modes. */
export interface SimpleOption {
  chunk?: string;
  size?: number;
}

type Entry = Pick<ForwardEntry, 'time' | 'record'>;

function concat(parts: readonly Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let pos = 0;
  for (const part of parts) {
    out.set(part, pos);
    pos += part.length;
  }
  return out;
}

function checkTag(tag: string): void {
  if (typeof tag !== 'string' || tag.length === 0) {
    throw new SluiceError(ErrorCodes.BAD_INPUT, `forward tag must be a non-empty string, got ${JSON.stringify(tag)}`);
  }
}

function packRecord(record: FluentRecord, i: number): Uint8Array {
  if (record === null || typeof record !== 'object' || Array.isArray(record) || record instanceof Uint8Array) {
    throw new SluiceError(ErrorCodes.BAD_INPUT, `entry ${i}: a fluent record must be a plain object`);
  }
  return packr.pack(record);
}

function arrayHeader(n: number): Uint8Array {
  return Uint8Array.of(0x90 | n);
}

function binHeader(length: number): Uint8Array {
  if (length < 0x100) return Uint8Array.of(0xc4, length);
  if (length < 0x10000) return Uint8Array.of(0xc5, length >> 8, length & 0xff);
  return Uint8Array.of(0xc6, length >>> 24, (length >>> 16) & 0xff, (length >>> 8) & 0xff, length & 0xff);
}

/** The MessagePackEventStream of PackedForward: `[EventTime, record]` entries back to back. */
export function encodeEntryStream(entries: readonly Entry[]): Uint8Array {
  const records = entries.map((entry, i) => packRecord(entry.record, i));
  let total = 0;
  for (const record of records) total += 11 + record.length;
  const out = new Uint8Array(total);
  let pos = 0;
  for (let i = 0; i < entries.length; i++) {
    out[pos] = 0x92;
    writeEventTime(entries[i].time, out, pos + 1);
    out.set(records[i], pos + 11);
    pos += 11 + records[i].length;
  }
  return out;
}

/** `[tag, bin(entries), {size, chunk?, compressed?}]` — PackedForward, or CompressedPackedForward with `gzip`. */
export function encodePackedForward(tag: string, entries: readonly Entry[], options: PackedForwardOptions = {}): Uint8Array {
  checkTag(tag);
  let stream = encodeEntryStream(entries);
  if (options.gzip) stream = options.gzip(stream);
  const option: Record<string, unknown> = { size: entries.length };
  if (options.chunk !== undefined) option.chunk = options.chunk;
  if (options.gzip) option.compressed = 'gzip';
  const parts = [arrayHeader(3), packr.pack(tag), binHeader(stream.length), stream, packr.pack(option)];
  return concat(parts, parts.reduce((n, p) => n + p.length, 0));
}

/** `[tag, [[EventTime, record], ...], option?]` — Forward mode. */
export function encodeForwardMode(tag: string, entries: readonly Entry[], option?: SimpleOption): Uint8Array {
  checkTag(tag);
  const stream = encodeEntryStream(entries);
  const n = entries.length;
  const listHeader = n < 16 ? Uint8Array.of(0x90 | n) : n < 0x10000 ? Uint8Array.of(0xdc, n >> 8, n & 0xff) : Uint8Array.of(0xdd, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
  const parts = [arrayHeader(option ? 3 : 2), packr.pack(tag), listHeader, stream];
  if (option) parts.push(packr.pack(option));
  return concat(parts, parts.reduce((s, p) => s + p.length, 0));
}

/** `[tag, EventTime, record, option?]` — Message mode. */
export function encodeMessageMode(tag: string, entry: Entry, option?: SimpleOption): Uint8Array {
  checkTag(tag);
  const time = new Uint8Array(10);
  writeEventTime(entry.time, time, 0);
  const parts = [arrayHeader(option ? 4 : 3), packr.pack(tag), time, packRecord(entry.record, 0)];
  if (option) parts.push(packr.pack(option));
  return concat(parts, parts.reduce((s, p) => s + p.length, 0));
}

/** `{ack: chunk}` — the server's answer to a request that carried `chunk`; a Sluice hub passes its level, `sluice: 2` (see AckFrame). */
export function encodeAck(chunk: string, sluice?: number): Uint8Array {
  return pack(sluice === undefined ? { ack: chunk } : { ack: chunk, sluice });
}

/** A msgpack nil: the client's keep-alive. */
export function encodeHeartbeat(): Uint8Array {
  return Uint8Array.of(0xc0);
}

/** `["HELO", {nonce, auth, keepalive}]`; `auth` empty means no user authentication (as fluentd sends). */
export function encodeHelo(helo: Omit<HeloFrame, 'kind'>): Uint8Array {
  return pack(['HELO', { nonce: helo.nonce, auth: helo.auth, keepalive: helo.keepalive }]);
}

function strHeader(length: number): Uint8Array {
  if (length < 32) return Uint8Array.of(0xa0 | length);
  if (length < 0x100) return Uint8Array.of(0xd9, length);
  if (length < 0x10000) return Uint8Array.of(0xda, length >> 8, length & 0xff);
  return Uint8Array.of(0xdb, length >>> 24, (length >>> 16) & 0xff, (length >>> 8) & 0xff, length & 0xff);
}

/**
 * `["PING", client_hostname, shared_key_salt, shared_key_hexdigest, username, password]`, every
 * element a msgpack str. The salt's bytes go out as a str, never bin: Fluent Bit's in_forward
 * refuses any other type ("Invalid shared_key_salt type message") and fluentd sends a str too
 * (`SecureRandom.hex(16)`). Give it printable ASCII (see `createSalt`) so strict decoders that
 * turn str into text read it intact.
 */
export function encodePing(ping: Omit<PingFrame, 'kind'>): Uint8Array {
  const parts = [
    arrayHeader(6),
    packr.pack('PING'),
    packr.pack(ping.clientHostname),
    strHeader(ping.sharedKeySalt.length),
    ping.sharedKeySalt,
    packr.pack(ping.sharedKeyHexdigest),
    packr.pack(ping.username),
    packr.pack(ping.passwordHexdigest),
  ];
  return concat(parts, parts.reduce((n, p) => n + p.length, 0));
}

/** `["PONG", auth_result, reason, server_hostname, shared_key_hexdigest]`. */
export function encodePong(pong: Omit<PongFrame, 'kind'>): Uint8Array {
  return pack(['PONG', pong.authResult, pong.reason, pong.serverHostname, pong.sharedKeyHexdigest]);
}
