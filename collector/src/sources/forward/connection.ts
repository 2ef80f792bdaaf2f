/**
 * One forward client connection on the hub side: a stream decoder, the optional shared-key
 * handshake, and an in-order queue of event frames, each stored with one `ingest` call and
 * acknowledged only after it committed.
 *
 *   connect ─▶ [HELO ─▶ PING ─▶ PONG]  (only with shared_key) ─▶ frames ─▶ ingest ─▶ {ack: chunk}
 *
 * Invariants:
 * - frames of a connection are stored in wire order: frames that arrived while the previous ones
 *   were being committed are stored together in the next transaction (one `ingest`, all or
 *   nothing), never before the previous transaction committed, so a refused frame is never
 *   overtaken by a later one of the same client (its events would otherwise land out of order);
 * - an ack is written only after the frame's events committed (or were found to be a duplicate of
 *   a committed chunk);
 * - any protocol error closes the connection with a logged reason; frames not yet stored are
 *   dropped unacknowledged, so the client resends them.
 */
import { createHash, getRandomValues } from 'node:crypto';
import type { Socket } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { ErrorCodes, errorMessage, isRetriable, isSluiceError } from '../../../../shared/src/errors.ts';
import type { EventDraft } from '../../../../shared/src/event.ts';
import {
  checkPing,
  createPong,
  createRequestDecoder,
  encodeAck,
  encodeHelo,
  encodePong,
  recordToEvent,
  type EventFrame,
  type ForwardDecoder,
  type HeloFrame,
  type PingFrame,
  type RequestFrame,
} from '../../../../shared/src/protocol/forward/index.ts';
import type { TopicBatch } from '../../channel/channel.ts';
import { checkBatches, decodeBatches, RECORD_FORMAT, type CheckedBatch } from '../../channel/format.ts';
import type { IngestOptions, IngestResult, SourceContext } from '../../components.ts';
import { Backoff, sleep } from '../../retry.ts';

export const sha512Hex = (data: Uint8Array): string => createHash('sha512').update(data).digest('hex');
const gunzip = (data: Uint8Array, max: number): Uint8Array => gunzipSync(data, { maxOutputLength: max });

/** The header that keeps a fluent tag when the topic differs from it (mapped or fixed topic). */
export const TAG_HEADER = 'fluent.tag';

/** Where stored chunk ids are remembered (the channel's state table), shared by every forward source of a hub. */
export const CHUNK_NAMESPACE = 'forward.chunks';

/** Decoded frames waiting for the channel: reading the socket pauses above either bound. */
const QUEUE_MAX_BYTES = 4 * 1024 * 1024;
const QUEUE_MAX_FRAMES = 256;
/** Frames waiting in the queue are stored together, one transaction for up to this many. */
const GROUP_MAX_FRAMES = 32;
/**
 * Sent in every ack: 1 — this server stores `_sluice_body` records verbatim (a `body_as: auto`
 * edge then sends bytes); 2 — it also takes the edge's stored record batches as they are
 * (`option.sluice_batches`; docs/protocols/forward.md "Batch forwarding").
 */
const SLUICE_FORWARD_LEVEL = 2;
const GROUP_MAX_EVENTS = 50_000;
const GROUP_MAX_BYTES = 16 * 1024 * 1024;

interface Queued {
  frame: EventFrame;
  topic: string;
  /** A `batches` frame's record batches, checked. */
  batches?: CheckedBatch[];
}

/** Events a queued frame holds. */
function eventsIn(q: Queued): number {
  return q.batches ? q.frame.option.size! : q.frame.entries.length;
}

export interface HandshakeSettings {
  hostname: string;
  sharedKey: string;
  /** username → password; empty: no user authentication. */
  users: ReadonlyMap<string, string>;
  timeoutMs: number;
}

export interface ConnectionSettings {
  ctx: SourceContext;
  maxFrameBytes: number;
  maxDecompressedBytes: number;
  handshake: HandshakeSettings | null;
  /** The topic for a tag, or a reason to refuse the frame. */
  topicOf(tag: string): { topic: string } | { refuse: string };
  /** How long to stop reading after the channel refused a chunk, before closing. */
  refusedPauseMs: number;
  /** Rate-limited warnings (one per connection is fine; a flood of bad peers is not). */
  warn(message: string, fields?: Record<string, unknown>): void;
  stats: ForwardStats;
  /** Aborted when the source stops. */
  signal: AbortSignal;
}

export interface ForwardStats {
  connections: number;
  frames: number;
  events: number;
  /** Chunks that were stored before and were acknowledged again without storing. */
  duplicates: number;
  /** Connections closed for a protocol, size or authentication problem. */
  refused: number;
  /** Chunks not acknowledged because the channel refused them (back-pressure). */
  backPressured: number;
  /** Connections closed because no PING answered our HELO within handshake_timeout. */
  handshakeTimeouts: number;
}

export function peerOf(socket: Socket): string {
  const host = socket.remoteAddress ?? 'unknown';
  return `${host.includes(':') ? `[${host}]` : host}:${socket.remotePort ?? 0}`;
}

export class ForwardConnection {
  readonly peer: string;
  readonly #socket: Socket;
  readonly #s: ConnectionSettings;
  readonly #decoder: ForwardDecoder<RequestFrame>;
  readonly #queue: Queued[] = [];
  #queuedBytes = 0;
  #pausedForQueue = false;
  #pumping: Promise<void> | null = null;
  /** Set when we close the connection (refusal, shutdown): nothing more is read or stored. */
  #closed = false;
  /** The HELO we sent, until the client passed the handshake. */
  #helo: HeloFrame | null = null;
  #handshakeTimer: NodeJS.Timeout | null = null;

  constructor(socket: Socket, settings: ConnectionSettings) {
    this.#socket = socket;
    this.#s = settings;
    this.peer = peerOf(socket);
    this.#decoder = createRequestDecoder({ gunzip, maxFrameBytes: settings.maxFrameBytes, maxDecompressedBytes: settings.maxDecompressedBytes });
    socket.setNoDelay(true); // acks are tiny: Nagle plus delayed ACKs would add tens of ms per chunk
    socket.setKeepAlive(true, 60_000);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('end', () => this.#onEnd());
    socket.on('error', (error) => this.#s.ctx.log.debug({ err: errorMessage(error), peer: this.peer }, 'forward connection error'));
    socket.on('close', () => this.#onClose());
    if (settings.handshake) this.#sendHelo(settings.handshake);
  }

  /** Settles when the frame being stored (if any) has committed and been acknowledged. */
  get idle(): Promise<void> {
    return this.#pumping ?? Promise.resolve();
  }

  /** Whether part of a frame is buffered (for the connection guard). */
  get partial(): boolean {
    return this.#decoder.bufferedBytes > 0;
  }

  /** Stream bytes of completed frames: grows as frames complete (progress, for the connection guard). */
  get progress(): number {
    return this.#decoder.consumedBytes;
  }

  /** Stops reading; what is queued is still stored and acknowledged. */
  pause(): void {
    this.#socket.pause();
  }

  destroy(): void {
    this.#closed = true;
    this.#socket.destroy();
  }

  // ─── Reading ──────────────────────────────────────────────────────────────────────────────

  #onData(chunk: Buffer): void {
    if (this.#closed) return;
    let frames: RequestFrame[];
    try {
      frames = this.#decoder.push(chunk);
    } catch (error) {
      this.#refuse(errorMessage(error), error);
      return;
    }
    for (const frame of frames) {
      if (frame.kind === 'heartbeat') continue;
      if (frame.kind === 'ping') {
        if (!this.#onPing(frame)) return;
        continue;
      }
      if (this.#helo) {
        this.#refuse('event frame before the handshake (this listener requires a shared key: configure shared_key on the client)');
        return;
      }
      const mapped = this.#s.topicOf(frame.tag);
      if ('refuse' in mapped) {
        this.#refuse(mapped.refuse);
        return;
      }
      if (frame.kind === 'batches') {
        const batches = this.#checkBatches(frame);
        if (!batches) return;
        this.#queue.push({ frame, topic: mapped.topic, batches });
        this.#queuedBytes += frame.bytes;
        continue;
      }
      this.#queue.push({ frame, topic: mapped.topic });
      this.#queuedBytes += frame.bytes;
    }
    if (this.#queue.length > 0) {
      if (this.#queuedBytes >= QUEUE_MAX_BYTES || this.#queue.length >= QUEUE_MAX_FRAMES) {
        this.#pausedForQueue = true;
        this.#socket.pause();
      }
      this.#pumping ??= this.#pump();
    }
  }

  #onEnd(): void {
    if (this.#closed) return;
    try {
      this.#decoder.finish();
    } catch (error) {
      // The client went away in the middle of a frame: nothing of that frame is stored.
      this.#s.ctx.log.debug({ peer: this.peer, err: errorMessage(error) }, 'forward client closed inside a frame');
    }
  }

  #onClose(): void {
    // Frames already read are still stored: a client that sent and hung up counts them as sent.
    if (this.#handshakeTimer) clearTimeout(this.#handshakeTimer);
  }

  /**
   * A batch frame's record batches, every byte checked (they come from a peer and are stored as
   * they are); null when the frame is refused and the connection closed.
   */
  #checkBatches(frame: EventFrame): CheckedBatch[] | null {
    const format = frame.option.sluiceBatches!;
    if (format !== RECORD_FORMAT) {
      this.#refuse(`record batches in format ${format}; this hub reads format ${RECORD_FORMAT} (upgrade it, or set body_as: fields on the edge)`);
      return null;
    }
    const size = frame.option.size!;
    let batches: CheckedBatch[];
    try {
      batches = checkBatches(frame.batches!, size);
    } catch (error) {
      this.#refuse(`bad record batches for tag ${JSON.stringify(frame.tag.slice(0, 80))}: ${errorMessage(error)}`, error);
      return null;
    }
    let n = 0;
    for (const b of batches) n += b.count;
    if (n !== size) {
      this.#refuse(`option size says ${size} events, but the record batches hold ${n}`);
      return null;
    }
    return batches;
  }

  /** Logs why, and closes: a byte stream cannot be resynchronised after a bad frame. */
  #refuse(reason: string, error?: unknown): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#s.stats.refused++;
    this.#queue.length = 0;
    this.#queuedBytes = 0;
    const code = isSluiceError(error) ? error.code : ErrorCodes.PROTOCOL;
    this.#s.warn(`forward: ${reason} from ${this.peer}; connection closed`, { peer: this.peer, code });
    this.#socket.destroySoon();
  }

  // ─── Handshake ────────────────────────────────────────────────────────────────────────────

  #sendHelo(h: HandshakeSettings): void {
    const helo: HeloFrame = {
      kind: 'helo',
      nonce: getRandomValues(new Uint8Array(16)),
      auth: h.users.size > 0 ? getRandomValues(new Uint8Array(16)) : new Uint8Array(0),
      keepalive: true,
    };
    this.#helo = helo;
    this.#socket.write(encodeHelo(helo));
    this.#handshakeTimer = setTimeout(() => {
      this.#s.stats.handshakeTimeouts++;
      this.#refuse(`no PING within ${h.timeoutMs} ms of HELO (handshake required)`);
    }, h.timeoutMs);
    this.#handshakeTimer.unref();
  }

  /** Answers a PING; false when the connection is being closed. */
  #onPing(ping: PingFrame): boolean {
    const h = this.#s.handshake;
    if (!h) {
      this.#refuse('unexpected PING: this listener has no shared_key (remove shared_key from the client)');
      return false;
    }
    const helo = this.#helo;
    if (!helo) {
      this.#refuse('a second PING after the handshake');
      return false;
    }
    const secret = { hostname: h.hostname, sharedKey: h.sharedKey, helo, passwordOf: (u: string) => h.users.get(u) };
    const result = checkPing(ping, secret, sha512Hex);
    this.#socket.write(encodePong(createPong(ping, secret, result, sha512Hex)));
    if (this.#handshakeTimer) clearTimeout(this.#handshakeTimer);
    if (!result.ok) {
      this.#refuse(`refused the shared_key handshake of client "${ping.clientHostname}"${ping.username ? ` (user "${ping.username}")` : ''}: ${result.reason}`);
      return false;
    }
    this.#helo = null;
    return true;
  }

  // ─── Storing ──────────────────────────────────────────────────────────────────────────────

  async #pump(): Promise<void> {
    try {
      while (this.#queue.length > 0 && !this.#closed) {
        const group = this.#takeGroup();
        if (this.#pausedForQueue && this.#queuedBytes < QUEUE_MAX_BYTES / 2 && this.#queue.length < QUEUE_MAX_FRAMES / 2) {
          this.#pausedForQueue = false;
          this.#socket.resume();
        }
        if (!(await this.#store(group))) break;
      }
    } finally {
      this.#pumping = null;
    }
  }

  /**
   * The frames at the head of the queue that can be stored in one transaction: all with chunk ids
   * or all without (a refused group is handled one way), no chunk id twice, within size bounds.
   */
  #takeGroup(): Queued[] {
    const first = this.#queue.shift()!;
    const group = [first];
    let events = eventsIn(first);
    let bytes = first.frame.bytes;
    const chunked = first.frame.option.chunk !== undefined;
    // Batches and events are stored by different calls: a group holds one kind, so wire order holds.
    const batched = first.batches !== undefined;
    const ids = new Set<string>();
    if (chunked) ids.add(first.frame.option.chunk!);
    while (this.#queue.length > 0 && group.length < GROUP_MAX_FRAMES) {
      const next = this.#queue[0];
      const chunk = next.frame.option.chunk;
      if ((chunk !== undefined) !== chunked || (chunk !== undefined && ids.has(chunk))) break;
      if ((next.batches !== undefined) !== batched) break;
      if (events + eventsIn(next) > GROUP_MAX_EVENTS || bytes + next.frame.bytes > GROUP_MAX_BYTES) break;
      this.#queue.shift();
      group.push(next);
      events += eventsIn(next);
      bytes += next.frame.bytes;
      if (chunk !== undefined) ids.add(chunk);
    }
    for (const q of group) this.#queuedBytes -= q.frame.bytes;
    return group;
  }

  /**
   * Stores a group of frames in one `ingest` and acknowledges each; false when the connection is
   * closed because of it. Chunk ids go in the same transaction: the first as the dedupe key, the
   * others as state writes, after checking that none was stored before (a group with a known
   * chunk is stored frame by frame, so the channel's dedupe decides for each).
   */
  async #store(group: Queued[]): Promise<boolean> {
    const { ctx } = this.#s;
    let events: EventDraft[] = [];
    // Record batches are stored as they are when the tag is the topic (no `topic:` override, no
    // mapped tag, both of which add the `fluent.tag` header to each event); the runtime decides
    // about interceptors. Otherwise they become events like any frame's entries.
    let batches: TopicBatch[] | null = null;
    if (group[0].batches && ctx.ingestBatches && group.every((q) => q.topic === q.frame.tag)) {
      batches = [];
      for (const q of group) for (const b of q.batches!) batches.push({ topic: q.topic, payload: b.payload, count: b.count, minTs: b.minTs, maxTs: b.maxTs });
    } else {
      for (const q of group) {
        const part = toEvents(q, q.topic);
        if (group.length === 1) events = part;
        else for (const e of part) events.push(e);
      }
    }
    const count = batches ? group.reduce((a, q) => a + eventsIn(q), 0) : events.length;
    const chunks = group.map((q) => q.frame.option.chunk).filter((c): c is string => c !== undefined);
    const topics = [...new Set(group.map((q) => q.topic))].join(', ');
    const backoff = new Backoff({ initialMs: 50, maxMs: 2000 });
    for (;;) {
      const now = String(Date.now());
      const options: IngestOptions | undefined =
        chunks.length === 0
          ? undefined
          : { dedupe: { namespace: CHUNK_NAMESPACE, key: chunks[0] }, state: chunks.slice(1).map((key) => ({ namespace: CHUNK_NAMESPACE, key, value: now })) };
      try {
        // While we hold the claim no other connection stores these chunks, so what the state
        // table says about them stays true until our transaction commits.
        const release = await claim(chunks);
        let result: IngestResult | 'known';
        try {
          result =
            group.length > 1 && chunks.some((c) => ctx.channel.getState(CHUNK_NAMESPACE, c) !== null)
              ? 'known'
              : batches
                ? await ctx.ingestBatches!(batches, options)
                : await ctx.ingest(events, options);
        } finally {
          release();
        }
        if (result === 'known' || (result.duplicate && group.length > 1)) {
          // A chunk of the group was stored before: decide frame by frame (nothing of the group was stored).
          for (const q of group) if (!(await this.#store([q]))) return false;
          return true;
        }
        this.#s.stats.frames += group.length;
        if (result.duplicate) {
          this.#s.stats.duplicates++;
          ctx.log.info({ peer: this.peer, chunk: chunks[0], topic: topics }, `forward: chunk ${chunks[0]} from ${this.peer} was stored before; acknowledged again, not stored twice`);
        } else {
          this.#s.stats.events += count;
        }
        if (chunks.length > 0 && this.#socket.writable) {
          const acks = chunks.map((c) => encodeAck(c, SLUICE_FORWARD_LEVEL));
          this.#socket.write(acks.length === 1 ? acks[0] : Buffer.concat(acks));
        }
        return true;
      } catch (error) {
        if (!isRetriable(error)) {
          ctx.log.error({ peer: this.peer, err: errorMessage(error), topic: topics }, `forward: cannot store ${count} events for "${topics}" from ${this.peer}: ${errorMessage(error)}; connection closed`);
          this.#closed = true;
          this.#socket.destroy();
          return false;
        }
        if (chunks.length > 0) {
          // No ack: the client resends its chunks. Stop reading for a moment, then close, so the
          // client notices at once instead of waiting for its ack timeout; frames queued behind
          // these are dropped unacknowledged and come again after them, in order.
          this.#s.stats.backPressured += group.length;
          this.#s.warn(`forward: ${errorMessage(error)}; ${chunks.length === 1 ? 'chunk' : `${chunks.length} chunks`} from ${this.peer} not acknowledged, closing the connection so the client resends`, { peer: this.peer });
          this.#closed = true;
          this.#queue.length = 0;
          this.#queuedBytes = 0;
          this.#socket.pause();
          const pauseMs = Math.max(this.#s.refusedPauseMs, isSluiceError(error) ? (error.retryAfterMs ?? 0) : 0);
          await sleep(pauseMs, this.#s.signal);
          this.#socket.destroy();
          return false;
        }
        // Frames without chunk ids cannot be refused: hold the connection until they fit.
        this.#socket.pause();
        const delay = backoff.next();
        if (backoff.attempt === 1) this.#s.warn(`forward: ${errorMessage(error)}; holding the connection from ${this.peer} until the channel takes its frames (they carry no chunk id to resend)`, { peer: this.peer });
        if (!(await sleep(delay, this.#s.signal))) {
          this.#socket.destroy();
          return false;
        }
        if (!this.#pausedForQueue && !this.#closed) this.#socket.resume();
      }
    }
  }
}

/**
 * Chunk ids being stored right now, by any connection of any forward source of this process. A
 * chunk a client resends on a new connection while the old one is still storing it waits for
 * that commit, so the channel's dedupe sees it.
 */
const inFlightChunks = new Map<string, Promise<void>>();

/** Claims chunk ids for one store (waiting while another connection holds any); returns the release. */
async function claim(chunks: readonly string[]): Promise<() => void> {
  for (;;) {
    let busy: Promise<void> | undefined;
    for (const c of chunks) busy ??= inFlightChunks.get(c);
    if (!busy) break;
    await busy;
  }
  // Synchronous from the check to here: nobody else can claim in between.
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  for (const c of chunks) inFlightChunks.set(c, held);
  return () => {
    for (const c of chunks) if (inFlightChunks.get(c) === held) inFlightChunks.delete(c);
    release();
  };
}

/** A frame's entries (or record batches) as events of `topic`; the tag is kept in a header when it is not the topic. */
function toEvents(q: Queued, topic: string): EventDraft[] {
  const { frame } = q;
  const keepTag = topic !== frame.tag;
  if (q.batches) {
    const events = decodeBatches(topic, q.batches);
    if (keepTag) for (const e of events) e.headers = { ...e.headers, [TAG_HEADER]: frame.tag };
    return events;
  }
  const { entries } = frame;
  const out: EventDraft[] = new Array(entries.length);
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i];
    const event = recordToEvent(topic, e.time, e.record);
    if (keepTag) event.headers[TAG_HEADER] = frame.tag;
    out[i] = event;
  }
  return out;
}
