/**
 * Source and sink specs and the contexts the runtime gives them. Interceptor specs live in
 * interceptors/ (their own registry, interceptors/index.ts).
 *
 * A source turns input into EventDrafts and calls `ctx.ingest`, which runs the source's
 * interceptor chain and appends durably; it acknowledges its producer only after `ingest`
 * resolved. A sink delivers one topic's batch and resolves only once the destination confirmed
 * it; the SinkRunner (sinks/runner.ts) owns cursors, batching, retry and state.
 * The contracts are docs/specs/source.md and docs/specs/sink.md.
 */
import type { Static, TSchema } from '@sinclair/typebox';
import type { EventDraft, StoredEvent } from '../../shared/src/event.ts';
import { SpecRegistry, type ComponentSpec, type ConfigProblem } from '../../shared/src/spec.ts';
import type { Channel, StateWrite, StoredBatch, TopicBatch } from './channel/channel.ts';
import type { Logger } from './log.ts';

// ─── Sources ──────────────────────────────────────────────────────────────────────────────

export interface IngestOptions {
  /** Committed in the same transaction as the events (tail positions, Kafka offsets). */
  state?: readonly StateWrite[];
  /** Stored once: a repeated key is acknowledged again but not stored (forward chunk ids). */
  dedupe?: { namespace: string; key: string };
}

export interface IngestResult {
  /** Events appended (after interceptors). */
  accepted: number;
  /** Events dropped by the interceptor chain (counted, not lost silently). */
  dropped: number;
  /** The dedupe key was seen before: nothing was stored this time. */
  duplicate: boolean;
}

export interface SourceContext {
  /** The source's key in the config (`sources.<name>`). */
  readonly name: string;
  readonly log: Logger;
  /** Read access to the channel, e.g. for positions a source stored with `ingest({ state })`. */
  readonly channel: Channel;
  /**
   * Runs the interceptor chain and appends durably. Resolves after the commit; rejects with a
   * SluiceError — `CHANNEL_FULL` (retriable: answer 503/429, pause) or `CHANNEL_COMMIT_FAILED` —
   * when nothing was stored. Counts received/accepted/rejected metrics.
   */
  ingest(events: EventDraft[], options?: IngestOptions): Promise<IngestResult>;
  /**
   * As `ingest`, for record batches already encoded in the channel's format and checked
   * (format.ts `checkBatches`; a Sluice edge's stored batches): when nothing must touch each event
   * (the source has no interceptors) they are stored as they are, one stored batch each;
   * otherwise they are decoded and go through the chain like `ingest`'s events. Optional: a
   * source without it decodes them (format.ts `decodeBatches`) and calls `ingest`.
   */
  ingestBatches?(batches: readonly TopicBatch[], options?: IngestOptions): Promise<IngestResult>;
  /** Aborted when the source must stop. */
  readonly signal: AbortSignal;
  /** The collector's id (config `collector.id`, default the host name). */
  readonly collectorId: string;
}

export interface Source {
  /** Binds/opens; rejects with a clear SluiceError (`sources.web.listen: port 9880 already in use`). */
  start(): Promise<void>;
  /** Stops accepting, finishes in-flight ingests, releases resources. */
  stop(): Promise<void>;
  /** Human-readable endpoints for the start-up banner, e.g. `http://127.0.0.1:9880`. */
  endpoints(): string[];
  /** Network listeners: connections and losses, for `/metrics` and `GET /api/v1/sources`. */
  network?(): SourceNetworkStats;
}

/** Totals since start, read when scraped. */
export interface SourceNetworkStats {
  /** Open TCP/TLS connections. */
  connections?: number;
  /** Connections the source closed or refused, by reason (idle, incomplete_frame, per_peer_limit, max_connections, handshake). */
  closed?: Record<string, number>;
  /** UDP messages lost, by where: kernel (socket receive buffer overflowed), queue, channel. */
  udpDropped?: Record<string, number>;
  /** The UDP socket's receive buffer as the kernel granted it (bytes). */
  udpReceiveBufferBytes?: number;
}

export interface SourceSpec<S extends TSchema = TSchema> extends ComponentSpec<S, (config: Static<S>, ctx: SourceContext) => Source> {
  kind: 'source';
  // Method syntax (bivariant), so a SourceSpec<typeof MySchema> registers as a SourceSpec.
  create(config: Static<S>, ctx: SourceContext): Source;
  /** Checks that need the outside world (port in use, file readable), run by `sluice check` and at start. */
  preflight?(config: Static<S>, path: string): Promise<ConfigProblem[]>;
  /**
   * Runner defaults this kind of sink does best with, applied under what the config says (e.g.
   * forward reads large batches so its chunks can be pipelined). Documented with the sink.
   */
  runnerDefaults?: { batch?: { max_events?: number; max_bytes?: string } };
}

// ─── Sinks ────────────────────────────────────────────────────────────────────────────────

export interface SinkContext {
  readonly name: string;
  readonly log: Logger;
  readonly signal: AbortSignal;
  readonly collectorId: string;
  /**
   * The channel the sink's runner reads from, for small durable state of the sink's own
   * (`getState`/`putState`, e.g. the forward sink's instance id) and its `cursor` events. Optional:
   * a sink MUST work without it (tests, embedded use), more weakly if need be.
   */
  readonly channel?: Channel;
  /** Builds a nested sink (for failover / load_balance groups) from a `{ type, ... }` config. */
  createSink(config: Record<string, unknown>, path: string, name: string): Sink;
}

export interface Sink {
  /**
   * Delivers a batch of events of one topic, in offset order. Resolves only once the destination
   * confirmed all of them. Throws a SluiceError: `retriable` for transient failures (the runner
   * retries the same batch with backoff); not retriable when the destination rejected the batch
   * for good (the runner parks it and moves on, reporting it).
   */
  send(events: readonly StoredEvent[], topic: string): Promise<void>;
  /**
   * Optional, as `send` but with the stored record batches themselves, undecoded (the channel's
   * `readStored`; each batch's `first`/`last` say which of its offsets belong to the batch): for a
   * sink that can pass them on as they are (forward to a Sluice hub). When present the runner
   * reads and delivers through it; the same promises as `send`.
   */
  sendStored?(batches: readonly StoredBatch[], topic: string): Promise<void>;
  close(): Promise<void>;
  /** Extra state for /api/v1/sinks (e.g. which group member is active). */
  describe?(): Record<string, unknown>;
  /**
   * The runner moved this sink's cursor of `topic` to `next` because someone else did (a replay or
   * a reset through the admin API), not because a batch was delivered. Events from `next` on will be
   * sent again; a sink that de-duplicates downstream (forward's chunk ids) must make them new.
   * Called before the runner reads from the new position.
   */
  rewound?(topic: string, next: number): void;
}

export interface SinkSpec<S extends TSchema = TSchema> extends ComponentSpec<S, (config: Static<S>, ctx: SinkContext) => Sink> {
  kind: 'sink';
  create(config: Static<S>, ctx: SinkContext): Sink;
  preflight?(config: Static<S>, path: string): Promise<ConfigProblem[]>;
  /**
   * Runner defaults this kind of sink does best with, applied under what the config says (e.g.
   * forward reads large batches so its chunks can be pipelined). Documented with the sink.
   */
  runnerDefaults?: { batch?: { max_events?: number; max_bytes?: string } };
}

// ─── Registries ───────────────────────────────────────────────────────────────────────────

/**
 * The source and sink types a collector knows. Filled once by the composition root
 * (builtins.ts; tests add their own) and passed to whatever needs them — config loading, the
 * runtime (through the loaded config), the reference generator — never filled by importing a module.
 */
export interface Registries {
  readonly sources: SpecRegistry<SourceSpec>;
  readonly sinks: SpecRegistry<SinkSpec>;
}

export function emptyRegistries(): Registries {
  return { sources: new SpecRegistry<SourceSpec>('source'), sinks: new SpecRegistry<SinkSpec>('sink') };
}

// A spec is typed by its own schema; a registry holds the base type (a factory's config parameter
// makes SourceSpec<S> not assignable to SourceSpec<TSchema>).
export function registerSource<S extends TSchema>(registries: Registries, spec: SourceSpec<S>): void {
  registries.sources.register(spec as unknown as SourceSpec);
}

export function registerSink<S extends TSchema>(registries: Registries, spec: SinkSpec<S>): void {
  registries.sinks.register(spec as unknown as SinkSpec);
}
