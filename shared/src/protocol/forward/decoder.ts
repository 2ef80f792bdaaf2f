/**
 * The stream decoder: TCP chunks in, frames out. FrameScanner finds where each frame ends (sizes
 * checked from headers, before the bytes are buffered), frames.ts decodes it. After any error the
 * decoder refuses further input: a byte stream cannot be resynchronised, so the caller closes the
 * connection.
 */
import { formatBytes } from '../../format.ts';
import { ErrorCodes, SluiceError } from '../../errors.ts';
import { decodeRequest, decodeResponse, plain, type FrameContext } from './frames.ts';
import { FrameScanner, Header, Kind, describe, kindOf, protocolError, readHeader } from './msgpack.ts';
import {
  DEFAULT_MAX_DECOMPRESSED_BYTES,
  DEFAULT_MAX_DEPTH,
  DEFAULT_MAX_FRAME_BYTES,
  type DecoderLimits,
  type RequestDecoderOptions,
  type RequestFrame,
  type ResponseFrame,
} from './types.ts';

interface Role<F> {
  /** What a frame must start with, for the error message. */
  expected: string;
  accepts(kind: Kind): boolean;
  decode(buf: Uint8Array, start: number, end: number, ctx: FrameContext): F;
}

const requestRole: Role<RequestFrame> = {
  expected: 'a msgpack array (a forward request) or nil (a heartbeat)',
  accepts: (kind) => kind === Kind.array || kind === Kind.nil,
  decode: decodeRequest,
};

const responseRole: Role<ResponseFrame> = {
  expected: 'a msgpack array (HELO or PONG) or map (an ack)',
  accepts: (kind) => kind === Kind.array || kind === Kind.map,
  decode: decodeResponse,
};

const EMPTY = new Uint8Array(0);
/** A drained buffer larger than this is released rather than kept for the next frame. */
const KEEP_BUFFER_BYTES = 1024 * 1024;

/**
 * Turns the chunks of one TCP stream into frames. `push` returns the frames completed by a chunk
 * (often none, sometimes many). Not reusable after it throws: close the connection.
 */
export class ForwardDecoder<F> {
  private buffer: Uint8Array = EMPTY;
  private start = 0;
  private end = 0;
  private consumed = 0;
  private failure: SluiceError | null = null;
  private readonly scanner: FrameScanner;
  private readonly ctx: FrameContext;
  private readonly header = new Header();
  readonly maxFrameBytes: number;

  constructor(
    private readonly role: Role<F>,
    options: RequestDecoderOptions = {},
  ) {
    this.maxFrameBytes = positive(options.maxFrameBytes, DEFAULT_MAX_FRAME_BYTES, 'maxFrameBytes');
    const maxDepth = positive(options.maxDepth, DEFAULT_MAX_DEPTH, 'maxDepth');
    this.ctx = {
      maxDepth,
      maxDecompressedBytes: positive(options.maxDecompressedBytes, DEFAULT_MAX_DECOMPRESSED_BYTES, 'maxDecompressedBytes'),
      gunzip: options.gunzip,
      now: options.now ?? Date.now,
    };
    this.scanner = new FrameScanner(this.maxFrameBytes, maxDepth);
  }

  /** Bytes received but not yet part of a returned frame. */
  get bufferedBytes(): number {
    return this.end - this.start;
  }

  /** Stream bytes consumed by returned frames. */
  get consumedBytes(): number {
    return this.consumed;
  }

  push(chunk: Uint8Array): F[] {
    if (this.failure) throw this.failure;
    try {
      return this.consume(chunk);
    } catch (error) {
      this.failure =
        error instanceof SluiceError ? error : new SluiceError(ErrorCodes.INTERNAL, `forward decoder failed: ${String(error)}`, { cause: error });
      throw this.failure;
    }
  }

  /** Call when the stream ends: throws if it ended inside a frame. */
  finish(): void {
    if (this.failure) throw this.failure;
    if (this.end > this.start) {
      this.failure = protocolError(`stream ended inside a frame (${formatBytes(this.end - this.start)} of it received)`);
      throw this.failure;
    }
  }

  private consume(chunk: Uint8Array): F[] {
    const frames: F[] = [];
    if (chunk.length === 0) return frames;
    let buf: Uint8Array;
    let start: number;
    let end: number;
    const direct = this.start === this.end;
    if (direct) {
      // nothing buffered: read frames straight from the chunk, keep only a trailing partial one;
      // a plain view, so values decoded from it are plain Uint8Arrays even when the chunk is a Buffer
      buf = plain(chunk);
      start = 0;
      end = chunk.length;
    } else {
      this.append(chunk);
      buf = this.buffer;
      start = this.start;
      end = this.end;
    }
    while (start < end) {
      if (this.scanner.scanned === 0) this.checkStart(buf, start, end);
      const length = this.scanner.scan(buf, start, end);
      if (length < 0) break;
      frames.push(this.role.decode(buf, start, start + length, this.ctx));
      this.scanner.reset();
      start += length;
      this.consumed += length;
    }
    if (direct) {
      this.start = 0;
      this.end = end - start;
      if (this.end > 0) {
        if (this.buffer.length < this.end) this.buffer = new Uint8Array(Math.max(this.end, 64 * 1024));
        this.buffer.set(buf.subarray(start, end), 0);
      }
    } else {
      this.start = start;
      if (start === end) {
        this.start = this.end = 0;
        if (this.buffer.length > KEEP_BUFFER_BYTES) this.buffer = EMPTY;
      }
    }
    return frames;
  }

  private append(chunk: Uint8Array): void {
    const used = this.end - this.start;
    if (this.end + chunk.length > this.buffer.length) {
      const need = used + chunk.length;
      if (need <= this.buffer.length) {
        // decoded frames never alias the buffer (bins are copied), so moving bytes is safe
        this.buffer.copyWithin(0, this.start, this.end);
      } else {
        const grown = new Uint8Array(Math.max(need, this.buffer.length * 2, 64 * 1024));
        grown.set(this.buffer.subarray(this.start, this.end), 0);
        this.buffer = grown;
      }
      this.start = 0;
      this.end = used;
    }
    this.buffer.set(chunk, this.end);
    this.end += chunk.length;
  }

  /** Refuses a frame from its first bytes, with a hint when they look like another protocol. */
  private checkStart(buf: Uint8Array, start: number, end: number): void {
    const b = buf[start];
    if (this.role.accepts(kindOf(b))) return;
    const h = this.header;
    const got = readHeader(buf, start, end, h) ? describe(h) : `a value starting 0x${b.toString(16)}`;
    let hint = '';
    if (b === 0x16 && end - start > 1 && buf[start + 1] === 0x03) hint = ' (looks like a TLS handshake: is TLS enabled on the peer but not here?)';
    else if (b === 0x7b || b === 0x5b) hint = ' (looks like JSON; only msgpack forward frames are accepted)';
    else if (b >= 0x20 && b < 0x7f) {
      let text = '';
      for (let i = start; i < Math.min(end, start + 24); i++) text += buf[i] >= 0x20 && buf[i] < 0x7f ? String.fromCharCode(buf[i]) : '.';
      hint = ` (bytes look like text: ${JSON.stringify(text)} — not a forward peer?)`;
    }
    throw protocolError(`frame at byte ${this.consumed} of the stream must be ${this.role.expected}, got ${got}${hint}`);
  }
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value <= 0) throw new SluiceError(ErrorCodes.BAD_INPUT, `forward decoder: ${name} must be a positive integer, got ${value}`);
  return value;
}

/** A decoder for what a forward server reads: event frames, PING, heartbeats. */
export function createRequestDecoder(options: RequestDecoderOptions = {}): ForwardDecoder<RequestFrame> {
  return new ForwardDecoder(requestRole, options);
}

/** A decoder for what a forward client reads: HELO, PONG, acks. */
export function createResponseDecoder(options: DecoderLimits = {}): ForwardDecoder<ResponseFrame> {
  return new ForwardDecoder(responseRole, options);
}

/** Decodes bytes holding whole request frames (throws if the last one is incomplete). */
export function decodeRequests(bytes: Uint8Array, options: RequestDecoderOptions = {}): RequestFrame[] {
  const decoder = createRequestDecoder(options);
  const frames = decoder.push(bytes);
  decoder.finish();
  return frames;
}

/** Decodes bytes holding whole response frames (throws if the last one is incomplete). */
export function decodeResponses(bytes: Uint8Array, options: DecoderLimits = {}): ResponseFrame[] {
  const decoder = createResponseDecoder(options);
  const frames = decoder.push(bytes);
  decoder.finish();
  return frames;
}
