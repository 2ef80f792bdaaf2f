/**
 * Decoded forward-protocol frames. A TCP connection carries msgpack values back to back; the
 * decoder turns each into one of these. What a server receives (events, PING, heartbeats) and what
 * a client receives (HELO, PONG, acks) are separate unions, decoded by separate decoders, so a
 * frame that has no business in one direction is a protocol error rather than a surprise.
 */

/** A fluent record: string keys, msgpack values (bin values are `Uint8Array`). */
export type FluentRecord = Record<string, unknown>;

export interface ForwardEntry {
  /** Milliseconds since the epoch. EventTime nanoseconds are truncated to milliseconds. */
  time: number;
  record: FluentRecord;
  /** Fluent Bit's per-record metadata (`[[time, metadata], record]` entries), when present and non-empty. */
  metadata?: FluentRecord;
}

/** The `option` map of an event frame; unknown keys are ignored. */
export interface ForwardOption {
  /** The chunk id the client wants acknowledged: the server MUST answer `{ack: chunk}`. */
  chunk?: string;
  /** Number of entries the client says it sent. */
  size?: number;
  /** `gzip` on CompressedPackedForward; fluentd sends `text` when uncompressed; anything else is refused. */
  compressed?: string;
  /** Fluent Bit's signal type: 0 logs (the only one accepted), 1 metrics, 2 traces. */
  fluentSignal?: number;
  /**
   * Sluice batch forwarding: the entries are the sender's stored record batches in this record
   * format (1), back to back, not fluent entries. Only sent to a server whose acks said `sluice: 2`.
   */
  sluiceBatches?: number;
}

/** How the events were carried; `compressed` is CompressedPackedForward; `batches` is Sluice batch forwarding. */
export type EventMode = 'message' | 'forward' | 'packed' | 'compressed' | 'batches';

export interface EventFrame {
  kind: EventMode;
  tag: string;
  /** In wire order. Fluent Bit group markers are dropped. Empty for `batches`. */
  entries: ForwardEntry[];
  /**
   * `batches` only: the record batches as sent (gunzipped), owned by the frame, NOT yet checked —
   * the record format belongs to the receiver's channel, which must check every byte of them.
   * `option.size` (required) is the number of events they claim to hold.
   */
  batches?: Uint8Array;
  option: ForwardOption;
  /** Size of the frame on the wire. */
  bytes: number;
}

/** Client → server: the answer to HELO. */
export interface PingFrame {
  kind: 'ping';
  clientHostname: string;
  sharedKeySalt: Uint8Array;
  /** sha512_hex(shared_key_salt + client_hostname + nonce + shared_key) */
  sharedKeyHexdigest: string;
  /** Empty when the server asked for no user authentication. */
  username: string;
  /** sha512_hex(auth_salt + username + password), or empty. */
  passwordHexdigest: string;
}

/** Client → server: a msgpack nil, sent to keep a connection alive. */
export interface HeartbeatFrame {
  kind: 'heartbeat';
}

/** Server → client: opens the handshake. */
export interface HeloFrame {
  kind: 'helo';
  nonce: Uint8Array;
  /** Salt for the password digest; empty when the server does not authenticate users. */
  auth: Uint8Array;
  /** False: the server closes the connection after each request. */
  keepalive: boolean;
}

/** Server → client: the handshake result. */
export interface PongFrame {
  kind: 'pong';
  authResult: boolean;
  reason: string;
  serverHostname: string;
  /** sha512_hex(shared_key_salt + server_hostname + nonce + shared_key) */
  sharedKeyHexdigest: string;
}

/**
 * Server → client: `{ack: chunk}`. A Sluice hub adds `sluice: <level>` (other servers send no such
 * key and clients ignore keys they do not know): level 1 stores `_sluice_body` records verbatim,
 * so a Sluice edge with `body_as: auto` sends bodies as bytes to it; level 2 also takes record
 * batches (`option.sluice_batches`), so the edge sends its stored batches as they are.
 */
export interface AckFrame {
  kind: 'ack';
  chunk: string;
  /** The Sluice forward extension level of the server (1 or 2), when it is a Sluice hub. */
  sluice?: number;
}

/** What a forward server reads from a client. */
export type RequestFrame = EventFrame | PingFrame | HeartbeatFrame;

/** What a forward client reads from a server. */
export type ResponseFrame = HeloFrame | PongFrame | AckFrame;

/**
 * gzip-compresses bytes. Injected so shared/ stays free of `node:*`; the collector passes
 * `(data) => zlib.gzipSync(data)`.
 */
export type Gzip = (data: Uint8Array) => Uint8Array;

/**
 * gunzips bytes — all members of a multi-member gzip stream — and MUST refuse (throw) rather than
 * produce more than `maxOutputBytes`. The collector passes
 * `(data, max) => zlib.gunzipSync(data, { maxOutputLength: max })`.
 */
export type Gunzip = (data: Uint8Array, maxOutputBytes: number) => Uint8Array;

/** SHA-512 of bytes as lowercase hex; the collector passes `(d) => createHash('sha512').update(d).digest('hex')`. */
export type Sha512Hex = (data: Uint8Array) => string;

export interface DecoderLimits {
  /** Largest frame accepted, checked from headers before the frame is buffered. Default 16 MiB. */
  maxFrameBytes?: number;
  /** Largest decompressed CompressedPackedForward entry stream. Default 64 MiB. */
  maxDecompressedBytes?: number;
  /** Deepest msgpack nesting accepted, counted from the frame. Default 100. */
  maxDepth?: number;
}

export interface RequestDecoderOptions extends DecoderLimits {
  /** Needed to accept CompressedPackedForward; without it such frames are a protocol error. */
  gunzip?: Gunzip;
  /** Clock for entries whose time is nil or 0 ("now", as fluentd reads them). Default `Date.now`. */
  now?: () => number;
}

export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;
export const DEFAULT_MAX_DECOMPRESSED_BYTES = 64 * 1024 * 1024;
export const DEFAULT_MAX_DEPTH = 100;
