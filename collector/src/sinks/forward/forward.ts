/**
 * The forward sink: sends each batch to a Fluent Forward server — a Sluice hub or any fluent
 * server — as PackedForward chunks (gzip optional) and resolves only when every chunk was
 * acknowledged (`require_ack`), so the runner moves the cursor only then. docs/protocols/forward.md
 * "How Sluice uses it".
 *
 * Chunks: a runner batch is cut into chunks of at most `chunk_max_events` events and about
 * `chunk_max_bytes`, from the batch's first event, and up to `in_flight` chunks are sent before
 * the first ack is awaited (the hub stores one while the edge encodes the next). The cut depends
 * only on the events, so a batch sent again cuts the same way, and
 *
 *   chunk id = chunkId(edge id, topic, first offset, last offset)
 *   edge id  = <collector.id>/<sink name>/<instance>[#<replay generation>]
 *
 * is the same on a retry after a lost ack: the hub drops the duplicate. `instance` is random,
 * made once per channel file and kept in the channel's state table (namespace
 * `forward.sink.<name>`): offsets restart at 0 in a recreated channel file, and ids must not repeat
 * then. A replay that moves this sink's cursor back bumps the topic's replay generation (also
 * kept there), so replayed events get new ids and the hub stores them again, as asked — the
 * runner says so through the sink contract (`rewound`), in a group too. Chunks
 * acknowledged during a failed attempt are not sent again when the runner retries the batch.
 *
 * Memory: one runner batch plus the chunks in flight; a server that is away for days grows the
 * channel, never this sink. Connection failures are retriable (the runner backs off with jitter);
 * the next connection starts at the next server in `servers`, and stays there while it works.
 */
import { Type, type Static } from '@sinclair/typebox';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ConnectionOptions as TlsConnectOptions } from 'node:tls';
import { gzipSync } from 'node:zlib';
import { ErrorCodes, errorMessage, isSluiceError, SluiceError } from '../../../../shared/src/errors.ts';
import type { StoredEvent } from '../../../../shared/src/event.ts';
import { chunkId, encodePackedForward, eventToEntry, type ForwardEntry } from '../../../../shared/src/protocol/forward/index.ts';
import { EXPECTED, type ConfigProblem } from '../../../../shared/src/spec.ts';
import type { Channel, StoredBatch } from '../../channel/channel.ts';
import { decodeBatch, encodeBatch } from '../../channel/format.ts';
import type { Sink, SinkContext, SinkSpec } from '../../components.ts';
import { ADDRESS_EXPECTED, ADDRESS_PATTERN, Duration, Size, toBytes, toMs } from '../../units.ts';
import { parseListen } from '../../net.ts';
import { cursorConsumer } from '../runner.ts';
import { MAX_EVENT_TIME_MS } from '../../../../shared/src/protocol/forward/index.ts';
import { batchesFrame, bytesPackedForward } from './bytes-frame.ts';
import { ServerConnection, type ConnectOptions, type ServerAddress } from './connection.ts';

const ForwardConfig = Type.Object(
  {
    servers: Type.Array(
      Type.String({ pattern: ADDRESS_PATTERN, [EXPECTED]: ADDRESS_EXPECTED, description: 'A forward server (host:port)' }),
      { minItems: 1, description: 'Forward servers (host:port), tried in order; on a failure the sink moves to the next one and stays there while it works' },
    ),
    tls: Type.Optional(
      Type.Object(
        {
          ca: Type.Optional(Type.String({ description: 'PEM file of the CA(s) to trust for the server\'s certificate (default: the system\'s)' })),
          cert: Type.Optional(Type.String({ description: 'PEM client certificate chain file, for servers that require one' })),
          key: Type.Optional(Type.String({ description: 'PEM private key file of the client certificate' })),
          servername: Type.Optional(Type.String({ minLength: 1, description: 'Name to verify in the server\'s certificate (default: the host of each server)' })),
          insecure: Type.Boolean({ default: false, description: 'Accept any server certificate (testing only: anyone on the path can read and change the data)' }),
        },
        { additionalProperties: false, description: 'Connect with TLS' },
      ),
    ),
    shared_key: Type.Optional(Type.String({ minLength: 1, description: 'Pass the server\'s shared-key handshake with this key (the server must require one)' })),
    self_hostname: Type.Optional(Type.String({ minLength: 1, description: 'Our hostname in the handshake (default: collector.id); it must differ from the server\'s' })),
    username: Type.Optional(Type.String({ minLength: 1, description: 'User for servers that check users in the handshake' })),
    password: Type.Optional(Type.String({ description: 'Password of `username`' })),
    compression: Type.Union([Type.Literal('none'), Type.Literal('gzip')], { default: 'none', description: '`gzip`: send CompressedPackedForward (less bandwidth, more CPU on both sides)' }),
    require_ack: Type.Boolean({
      default: true,
      description: 'Wait for the server\'s ack of every chunk before the cursor moves. `false`: a chunk counts as delivered once written to the socket (events in flight are lost if the server fails; no de-duplication)',
    }),
    ack_timeout: Duration('Give up on a chunk not acknowledged within this long (the connection is closed and the batch retried)', '30s'),
    connect_timeout: Duration('Give up connecting (and on the handshake) to a server after this long', '10s'),
    chunk_max_events: Type.Integer({ minimum: 1, maximum: 100_000, default: 2000, description: 'Most events per chunk' }),
    chunk_max_bytes: Size('About the most bytes of bodies and headers per chunk', '1MiB'),
    max_frame_bytes: Size('Never send a frame larger than this (keep it at or below the server\'s limit; a Sluice hub takes 16MiB by default): larger chunks are split, a single larger event is parked', '16MiB'),
    in_flight: Type.Integer({ minimum: 1, maximum: 64, default: 8, description: 'Chunks of a batch sent before the first ack is awaited' }),
    body_as: Type.Union([Type.Literal('auto'), Type.Literal('fields'), Type.Literal('bytes')], {
      default: 'auto',
      description:
        '`fields`: JSON and msgpack objects travel as record fields and text as `message`, so any fluent server sees ordinary records. `bytes`: every body travels verbatim as the binary `_sluice_body` field — about 3× cheaper on both sides; for Sluice hubs (other servers see a binary field). `auto`: `fields` until the server\'s acks say it is a Sluice hub, then `bytes` (the hub stores the same events either way). With `auto` and `bytes`, a hub whose acks say `sluice: 2` gets the edge\'s stored record batches as they are (batch forwarding: no per-event work on either side)',
    }),
    json_fields: Type.Union([Type.Literal('exact'), Type.Literal('always')], {
      default: 'exact',
      description: 'JSON bodies travel as record fields when re-serializing reproduces their bytes (`exact`), or whenever they are objects (`always`: other fluent servers always see fields; a Sluice hub then stores the same JSON value, compactly)',
    }),
  },
  { additionalProperties: false },
);

export type ForwardSinkConfig = Static<typeof ForwardConfig>;

interface Frame {
  chunk: string;
  bytes: Uint8Array | Uint8Array[];
}

/** Part of one stored batch that goes into a chunk: offsets first … last of it. */
interface Segment {
  batch: StoredBatch;
  first: number;
  last: number;
}

/** The server level (its acks' `sluice`) from which stored record batches are sent as they are. */
const BATCHES_LEVEL = 2;
/**
 * Batches whose times all lie in this range travel as they are: outside it the per-event path
 * reads the time differently (the epoch's first second is "now"; beyond 2106 is refused), and
 * both ways must store the same events.
 */
const BATCH_MIN_TS = 1000;

export class ForwardSink implements Sink {
  readonly #config: ForwardSinkConfig;
  readonly #who: string;
  readonly #servers: ServerAddress[];
  readonly #connect: ConnectOptions;
  readonly #channel: Channel | undefined;
  readonly #stateNs: string;
  readonly #edge: string;
  readonly #ackTimeoutMs: number;
  readonly #chunkMaxEvents: number;
  readonly #chunkMaxBytes: number;
  readonly #maxFrameBytes: number;
  readonly #gzip: ((data: Uint8Array) => Uint8Array) | undefined;
  readonly #signal: AbortSignal | undefined;
  #conn: ServerConnection | null = null;
  /** Where the next connection attempt starts. */
  #next = 0;
  #closed = false;
  /** Chunks acknowledged during attempts at the current batch (topic/first offset), to skip on a retry. */
  readonly #acked = new Set<string>();
  #attempt = '';
  /**
   * Where earlier attempts at the current batch ended (last offsets, ascending): a retry ends a
   * chunk at each, so a batch that grew in between (more events arrived) is cut as before up to
   * there and every chunk the hub may have stored keeps its id (stored batches only). Kept in the
   * channel (`attempt.<topic>`) before a batch that may grow is sent, so it outlives a kill -9.
   */
  #attemptEnds: number[] = [];
  /** Per topic: the highest offset handed to the server, to recognise a replay. */
  readonly #sentHigh = new Map<string, number>();
  readonly #generations = new Map<string, number>();
  readonly #stats = { chunks: 0, events: 0, connects: 0, connectFailures: 0, lastError: null as string | null };

  constructor(config: ForwardSinkConfig, ctx: SinkContext) {
    this.#config = config;
    this.#who = `sink "${ctx.name}"`;
    this.#servers = config.servers.map(parseListen);
    this.#channel = ctx.channel;
    this.#signal = ctx.signal;
    this.#stateNs = `forward.sink.${ctx.name}`;
    this.#ackTimeoutMs = toMs(config.ack_timeout);
    this.#chunkMaxEvents = config.chunk_max_events;
    this.#chunkMaxBytes = toBytes(config.chunk_max_bytes);
    this.#maxFrameBytes = toBytes(config.max_frame_bytes);
    this.#gzip = config.compression === 'gzip' ? (data) => gzipSync(data) : undefined;
    this.#connect = {
      who: this.#who,
      connectTimeoutMs: toMs(config.connect_timeout),
      tls: config.tls ? tlsConnectOptions(config.tls, `sinks.${ctx.name}`) : undefined,
      credentials: config.shared_key
        ? { hostname: config.self_hostname ?? ctx.collectorId, sharedKey: config.shared_key, username: config.username, password: config.password }
        : undefined,
    };
    this.#edge = `${ctx.collectorId}/${ctx.name}/${this.#instance()}`;
    // What earlier processes delivered (a top-level sink's cursors; a group member learns it from its sends).
    for (const c of this.#channel?.cursors(cursorConsumer(ctx.name)) ?? []) this.#sentHigh.set(c.topic, c.next - 1);
    ctx.signal.addEventListener('abort', () => this.#conn?.close(), { once: true });
  }

  /** The edge part of this sink's chunk ids (without a replay generation). */
  get edgeId(): string {
    return this.#edge;
  }

  async send(events: readonly StoredEvent[], topic: string): Promise<void> {
    if (events.length === 0) return;
    if (this.#closed) throw new SluiceError(ErrorCodes.DESTINATION_UNAVAILABLE, `${this.#who}: closed`, { retriable: true });
    const attempt = `${topic}/${events[0].offset}`;
    if (attempt !== this.#attempt) {
      this.#attempt = attempt;
      this.#acked.clear();
    }
    const last = events[events.length - 1].offset;
    if ((this.#sentHigh.get(topic) ?? -1) < last) this.#sentHigh.set(topic, last);
    const conn = await this.#connection();
    try {
      if (this.#config.require_ack) await this.#sendAcked(conn, this.#frames(conn, events, topic, 0, events.length, true));
      else for (const frame of this.#frames(conn, events, topic, 0, events.length, false)) await conn.write(frame.bytes);
    } catch (error) {
      this.#stats.lastError = errorMessage(error);
      if (error instanceof SluiceError && error.retriable) this.#drop(conn);
      throw error;
    }
    this.#acked.clear();
    this.#stats.events += events.length;
  }

  /**
   * The runner's stored record batches. Chunks are cut at stored batch boundaries (a batch longer
   * than `chunk_max_events` is cut inside), the same whatever a chunk is sent as, so a chunk id
   * means the same offsets in every mode; to a server whose acks said `sluice: 2` a chunk travels
   * as the stored batches themselves (a batch the chunk holds only part of is re-encoded), to any
   * other as PackedForward of the decoded events.
   */
  async sendStored(batches: readonly StoredBatch[], topic: string): Promise<void> {
    if (batches.length === 0) return;
    if (this.#closed) throw new SluiceError(ErrorCodes.DESTINATION_UNAVAILABLE, `${this.#who}: closed`, { retriable: true });
    const first = batches[0].first;
    const last = batches[batches.length - 1].last;
    const attempt = `${topic}/${first}`;
    if (attempt !== this.#attempt) {
      this.#attempt = attempt;
      this.#acked.clear();
      this.#attemptEnds = this.#storedAttemptEnds(topic, first);
    }
    if ((this.#sentHigh.get(topic) ?? -1) < last) this.#sentHigh.set(topic, last);
    // Whether this read ended at the topic's end is decided now, as read: events arriving while the
    // connection is made must not hide that the next read of this batch may be longer.
    const mayGrow = last + 1 >= (this.#channel?.topic(topic)?.high ?? 0);
    const conn = await this.#connection();
    // Only an attempt that sends anything can leave chunks on the hub (a hub away for days adds nothing here).
    await this.#noteAttempt(topic, first, last, mayGrow);
    const decoded = new Map<StoredBatch, StoredEvent[]>();
    try {
      const frames = this.#storedFrames(conn, batches, topic, this.#config.require_ack, decoded);
      if (this.#config.require_ack) await this.#sendAcked(conn, frames);
      else for (const frame of frames) await conn.write(frame.bytes);
    } catch (error) {
      if (!this.#attemptEnds.includes(last)) this.#attemptEnds = [...this.#attemptEnds, last].sort((a, b) => a - b);
      this.#stats.lastError = errorMessage(error);
      if (error instanceof SluiceError && error.retriable) this.#drop(conn);
      throw error;
    }
    this.#acked.clear();
    this.#attemptEnds = [];
    this.#stats.events += last - first + 1;
  }

  /** The runner moved our cursor of `topic` back (a replay): what is sent again gets new chunk ids. */
  rewound(topic: string, next: number): void {
    const high = this.#sentHigh.get(topic);
    if (high === undefined || next <= high) this.#bumpGeneration(topic, next);
  }

  close(): Promise<void> {
    this.#closed = true;
    this.#conn?.close();
    this.#conn = null;
    return Promise.resolve();
  }

  describe(): Record<string, unknown> {
    return {
      servers: this.#config.servers,
      connectedTo: this.#conn?.usable ? this.#conn.server : null,
      edgeId: this.#edge,
      bodyAs: this.#batchesTo(this.#conn) ? 'batches' : this.#config.body_as === 'auto' ? (this.#conn?.sluiceHub ? 'bytes' : 'fields') : this.#config.body_as,
      chunks: this.#stats.chunks,
      events: this.#stats.events,
      connects: this.#stats.connects,
      connectFailures: this.#stats.connectFailures,
      lastError: this.#stats.lastError,
    };
  }

  /** Pipelined: up to `in_flight` chunks written before the oldest ack is awaited. */
  async #sendAcked(conn: ServerConnection, frames: Iterable<Frame>): Promise<void> {
    // Settled promises only (error or null): a failure of one while another is awaited must not go unhandled.
    const pending: Promise<unknown>[] = [];
    const settle = async () => {
      const outcome = await pending.shift();
      if (outcome) throw outcome;
    };
    try {
      for (const frame of frames) {
        if (pending.length >= this.#config.in_flight) await settle();
        pending.push(
          conn.request(frame.bytes, frame.chunk, this.#ackTimeoutMs).then(
            () => {
              this.#acked.add(frame.chunk);
              this.#stats.chunks++;
              return null;
            },
            (error: unknown) => error,
          ),
        );
      }
      while (pending.length > 0) await settle();
    } finally {
      await Promise.all(pending);
    }
  }

  /** Whether chunks go to `conn` as stored record batches: a server at level 2, unless bodies must travel as fields. */
  #batchesTo(conn: ServerConnection | null): boolean {
    return conn !== null && conn.sluiceLevel >= BATCHES_LEVEL && this.#config.body_as !== 'fields';
  }

  /** Chunks of stored batches (see sendStored): cut by whole batches within chunk_max_events and about chunk_max_bytes. */
  *#storedFrames(conn: ServerConnection, batches: readonly StoredBatch[], topic: string, withIds: boolean, decoded: Map<StoredBatch, StoredEvent[]>): Generator<Frame> {
    let chunk: Segment[] = [];
    let events = 0;
    let bytes = 0;
    const ends = this.#attemptEnds;
    let e = 0;
    for (const batch of batches) {
      const perEvent = batch.payload.length / (batch.lastOffset - batch.baseOffset + 1);
      // Cut inside a batch by bytes too (from the stored payload, so the same on every attempt): a
      // chunk stays near chunk_max_bytes in any encoding, and is never split for max_frame_bytes
      // into chunks with other ids when it is sent again as events after a reconnect.
      const span = Math.max(1, Math.min(this.#chunkMaxEvents, Math.floor(this.#chunkMaxBytes / perEvent)));
      for (let from = batch.first; from <= batch.last; ) {
        while (e < ends.length && ends[e] < from) e++;
        const forced = e < ends.length && ends[e] <= Math.min(batch.last, from + span - 1) ? ends[e] : -1;
        const segment: Segment = { batch, first: from, last: forced >= 0 ? forced : Math.min(batch.last, from + span - 1) };
        from = segment.last + 1;
        const n = segment.last - segment.first + 1;
        const size = n * perEvent;
        if (chunk.length > 0 && (events + n > this.#chunkMaxEvents || bytes + size > this.#chunkMaxBytes)) {
          yield* this.#storedChunk(conn, chunk, topic, withIds, decoded);
          chunk = [];
          events = 0;
          bytes = 0;
        }
        chunk.push(segment);
        events += n;
        bytes += size;
        if (forced >= 0) {
          // an earlier attempt ended here: so does a chunk
          yield* this.#storedChunk(conn, chunk, topic, withIds, decoded);
          chunk = [];
          events = 0;
          bytes = 0;
        }
      }
    }
    if (chunk.length > 0) yield* this.#storedChunk(conn, chunk, topic, withIds, decoded);
  }

  /** One chunk of segments: the stored batches as they are to a level-2 server, else PackedForward. */
  *#storedChunk(conn: ServerConnection, segments: Segment[], topic: string, withIds: boolean, decoded: Map<StoredBatch, StoredEvent[]>): Generator<Frame> {
    const first = segments[0].first;
    const last = segments[segments.length - 1].last;
    const eventsOf = (b: StoredBatch) => {
      let events = decoded.get(b);
      if (!events) decoded.set(b, (events = decodeBatch(topic, b.baseOffset, b.format, b.payload)));
      return events;
    };
    // decided per chunk, so the first ack of a Sluice hub switches the rest of the batch
    const asBatches = this.#batchesTo(conn) && segments.every((s) => s.batch.minTs >= BATCH_MIN_TS && s.batch.maxTs <= MAX_EVENT_TIME_MS);
    if (asBatches) {
      const chunk = withIds ? chunkId(this.#edgeFor(topic), topic, first, last) : '';
      if (withIds && this.#acked.has(chunk)) return; // acknowledged in an earlier attempt at this batch
      const payloads = segments.map((s) =>
        s.first === s.batch.baseOffset && s.last === s.batch.lastOffset ? s.batch.payload : encodeBatch(eventsOf(s.batch), s.first - s.batch.baseOffset, s.last - s.batch.baseOffset + 1).payload,
      );
      const parts = batchesFrame(topic, payloads, last - first + 1, segments[0].batch.format, { chunk: withIds ? chunk : undefined, gzip: this.#gzip });
      let size = 0;
      for (const p of parts) size += p.length;
      if (size <= this.#maxFrameBytes) {
        yield { chunk, bytes: parts };
        return;
      }
      // over max_frame_bytes: the per-event path below splits it
    }
    const events: StoredEvent[] = [];
    for (const s of segments) {
      const all = eventsOf(s.batch);
      for (let i = s.first - s.batch.baseOffset; i <= s.last - s.batch.baseOffset; i++) events.push(all[i]);
    }
    const asBytes = this.#config.body_as === 'bytes' || (this.#config.body_as === 'auto' && conn.sluiceHub);
    yield* this.#frame(events, topic, 0, events.length, withIds, asBytes);
  }

  /**
   * The batch's chunks, cut from `start` by count and estimated size; a chunk whose frame is over
   * `max_frame_bytes` is split in halves. Deterministic, so a retry makes the same chunk ids.
   */
  *#frames(conn: ServerConnection, events: readonly StoredEvent[], topic: string, start: number, end: number, withIds: boolean): Generator<Frame> {
    let from = start;
    while (from < end) {
      let to = from;
      let bytes = 0;
      while (to < end && to - from < this.#chunkMaxEvents && (to === from || bytes < this.#chunkMaxBytes)) {
        bytes += estimate(events[to]);
        to++;
      }
      // `auto`: decided per chunk, so the first ack of a Sluice hub switches the rest of the batch to bytes
      const asBytes = this.#config.body_as === 'bytes' || (this.#config.body_as === 'auto' && conn.sluiceHub);
      yield* this.#frame(events, topic, from, to, withIds, asBytes);
      from = to;
    }
  }

  *#frame(events: readonly StoredEvent[], topic: string, from: number, to: number, withIds: boolean, asBytes: boolean): Generator<Frame> {
    const chunk = withIds ? chunkId(this.#edgeFor(topic), topic, events[from].offset, events[to - 1].offset) : '';
    if (withIds && this.#acked.has(chunk)) return; // acknowledged in an earlier attempt at this batch
    let bytes: Uint8Array;
    const chunkOption = withIds ? chunk : undefined;
    if (asBytes) {
      bytes = bytesPackedForward(topic, events, from, to, { chunk: chunkOption, gzip: this.#gzip });
    } else {
      const entries: ForwardEntry[] = new Array(to - from);
      const options = { jsonFields: this.#config.json_fields };
      for (let i = from; i < to; i++) entries[i - from] = eventToEntry(events[i], options);
      bytes = encodePackedForward(topic, entries, { chunk: chunkOption, gzip: this.#gzip });
    }
    if (bytes.length <= this.#maxFrameBytes) {
      yield { chunk, bytes };
      return;
    }
    if (to - from === 1) {
      throw new SluiceError(
        ErrorCodes.TOO_LARGE,
        `${this.#who}: event ${events[from].offset} of "${topic}" makes a frame of ${bytes.length} bytes, over max_frame_bytes (${this.#maxFrameBytes}); no forward server would take it`,
        { retriable: false },
      );
    }
    const mid = from + ((to - from) >> 1);
    yield* this.#frame(events, topic, from, mid, withIds, asBytes);
    yield* this.#frame(events, topic, mid, to, withIds, asBytes);
  }

  async #connection(): Promise<ServerConnection> {
    if (this.#conn?.usable) return this.#conn;
    this.#conn = null;
    const failures: string[] = [];
    let refused = 0;
    for (let i = 0; i < this.#servers.length; i++) {
      if (this.#signal?.aborted) break;
      const index = (this.#next + i) % this.#servers.length;
      try {
        const conn = await ServerConnection.open(this.#servers[index], this.#connect);
        this.#stats.connects++;
        this.#next = index;
        this.#conn = conn;
        return conn;
      } catch (error) {
        this.#stats.connectFailures++;
        if (isSluiceError(error) && error.code === ErrorCodes.UNAUTHORIZED) refused++;
        failures.push(errorMessage(error).replace(`${this.#who}: `, ''));
      }
    }
    this.#next = (this.#next + 1) % this.#servers.length;
    const message = failures.length === 1 ? `${this.#who}: ${failures[0]}` : `${this.#who}: no forward server reachable: ${failures.join('; ') || 'stopped'}`;
    this.#stats.lastError = message;
    // Every server refused our handshake: a configuration problem, named as one in the sink's state.
    const code = refused > 0 && refused === failures.length ? ErrorCodes.UNAUTHORIZED : ErrorCodes.DESTINATION_UNAVAILABLE;
    throw new SluiceError(code, message, { retriable: true, where: this.#config.servers.join(', ') });
  }

  /** After a failure on a connection, the next attempt starts at the next server. */
  #drop(conn: ServerConnection): void {
    conn.close();
    if (this.#conn === conn) {
      this.#conn = null;
      this.#next = (this.#next + 1) % this.#servers.length;
    }
  }

  // ─── Chunk id parts ───────────────────────────────────────────────────────────────────────

  /** The ends of earlier attempts at the batch of `topic` starting at `first`, as an earlier process kept them. */
  #storedAttemptEnds(topic: string, first: number): number[] {
    const value = this.#channel?.getState(this.#stateNs, `attempt.${topic}`);
    const [at, ends] = value?.split(':') ?? [];
    if (Number(at) !== first || !ends) return [];
    return ends.split(',').map(Number).filter((n) => Number.isSafeInteger(n) && n >= first);
  }

  /**
   * Before sending: a batch that ends at the topic's high watermark may be longer when it is read
   * again, so where it ends is kept — in memory, and committed to the channel before any of it is
   * sent (a state-only append: it shares the group commit of whatever is being ingested). A batch
   * that ended at the runner's limits reads the same again: nothing is written for it.
   */
  async #noteAttempt(topic: string, first: number, last: number, mayGrow: boolean): Promise<void> {
    if (this.#attemptEnds.includes(last) || !mayGrow) return;
    this.#attemptEnds = [...this.#attemptEnds, last].sort((a, b) => a - b);
    if (!this.#channel || this.#channel.readonly) return;
    try {
      await this.#channel.append({ events: [], state: [{ namespace: this.#stateNs, key: `attempt.${topic}`, value: `${first}:${this.#attemptEnds.join(',')}` }] });
    } catch {
      // kept in memory for this process
    }
  }

  /** This channel file's random instance id for this sink, made once and kept in the channel. */
  #instance(): string {
    const fresh = () => randomBytes(8).toString('hex');
    const channel = this.#channel;
    if (!channel || channel.readonly) return fresh(); // ids then change per process: never a false duplicate
    const existing = channel.getState(this.#stateNs, 'instance');
    if (existing) return existing;
    const id = fresh();
    channel.putState([{ namespace: this.#stateNs, key: 'instance', value: id }]);
    return id;
  }

  #edgeFor(topic: string): string {
    let generation = this.#generations.get(topic);
    if (generation === undefined) {
      generation = Number(this.#channel?.getState(this.#stateNs, `generation.${topic}`) ?? 0);
      this.#generations.set(topic, generation);
    }
    return generation === 0 ? this.#edge : `${this.#edge}#${generation}`;
  }

  /** A replay moved our cursor back to `next`: what is sent again gets new chunk ids. */
  #bumpGeneration(topic: string, next: number): void {
    this.#edgeFor(topic);
    const generation = this.#generations.get(topic)! + 1;
    this.#generations.set(topic, generation);
    this.#sentHigh.set(topic, next - 1);
    this.#acked.clear();
    try {
      if (this.#channel && !this.#channel.readonly) this.#channel.putState([{ namespace: this.#stateNs, key: `generation.${topic}`, value: String(generation) }]);
    } catch {
      // kept in memory for this process; a restart before the replay finished re-sends under the old generation
    }
  }
}

/** Body, key and header bytes of an event: what its record costs on the wire, roughly. */
function estimate(event: StoredEvent): number {
  let n = event.body.length + 48 + (event.key?.length ?? 0);
  for (const k in event.headers) n += k.length + event.headers[k].length + 4;
  return n;
}

function tlsConnectOptions(tls: NonNullable<ForwardSinkConfig['tls']>, path: string): TlsConnectOptions {
  const read = (key: 'ca' | 'cert' | 'key') => {
    const file = tls[key];
    if (!file) return undefined;
    try {
      return readFileSync(file);
    } catch (error) {
      throw new SluiceError(ErrorCodes.CONFIG_INVALID, `${path}.tls.${key}: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { where: `${path}.tls.${key}`, cause: error });
    }
  };
  return { ca: read('ca'), cert: read('cert'), key: read('key'), rejectUnauthorized: !tls.insecure, ...(tls.servername ? { servername: tls.servername } : {}) };
}

function problems(config: ForwardSinkConfig, path: string): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  if (config.tls && Boolean(config.tls.cert) !== Boolean(config.tls.key)) out.push({ path: `${path}.tls`, message: 'cert and key go together' });
  for (const key of ['ca', 'cert', 'key'] as const) {
    const file = config.tls?.[key];
    if (!file) continue;
    try {
      readFileSync(file);
    } catch (error) {
      out.push({ path: `${path}.tls.${key}`, message: `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}` });
    }
  }
  if ((config.username !== undefined || config.password !== undefined) && !config.shared_key) {
    out.push({ path: `${path}.username`, message: 'username and password are checked in the shared-key handshake: set shared_key too' });
  }
  return out;
}

export const forwardSink: SinkSpec<typeof ForwardConfig> = {
  kind: 'sink',
  name: 'forward',
  summary: 'Sends batches to a Sluice hub or any Fluent Forward server as acknowledged PackedForward chunks, with failover between servers',
  config: ForwardConfig,
  // Large runner batches (instead of every sink's 1,000 / 4MiB) so one batch makes several chunks
  // that are pipelined (`in_flight`): measured in docs/decisions/edge-hub-throughput.md.
  runnerDefaults: { batch: { max_events: 20_000, max_bytes: '32MiB' } },
  examples: [
    { title: 'To a hub on this machine', config: { servers: ['127.0.0.1:24224'] } },
    { title: 'To a Sluice hub, bodies as bytes from the first chunk on', config: { servers: ['hub.example.net:24224'], body_as: 'bytes' } },
    {
      title: 'To two hubs over TLS with a shared key and a user, gzip',
      config: {
        servers: ['hub-1.example.net:24224', 'hub-2.example.net:24224'],
        tls: { ca: '/etc/sluice/ca.pem' },
        shared_key: 'change-me-long-random',
        username: 'edge',
        password: 'edge-secret',
        compression: 'gzip',
      },
    },
    { title: 'To Fluent Bit or fluentd, JSON bodies always as record fields', config: { servers: ['127.0.0.1:24224'], json_fields: 'always', chunk_max_events: 500 } },
  ],
  create: (config, ctx) => {
    const found = problems(config, `sinks.${ctx.name}`);
    if (found.length > 0) throw new SluiceError(ErrorCodes.CONFIG_INVALID, found.map((p) => `${p.path}: ${p.message}`).join('; '));
    return new ForwardSink(config, ctx);
  },
  preflight: (config, path) => Promise.resolve(problems(config, path)),
};
