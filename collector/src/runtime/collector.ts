/**
 * One collector process: channel + sources (each with its interceptor chain) + sink runners +
 * admin API. The same class is an edge or a hub; only the config differs.
 *
 * Lifecycle: start() opens the channel, starts sinks, then sources, then the admin server.
 * stop() reverses it: sources stop accepting and finish in-flight commits, sinks finish the batch
 * in flight and commit cursors, the channel commits what is pending and closes.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { FastifyInstance } from 'fastify';
import type { EventDraft } from '../../../shared/src/event.ts';
import { ErrorCodes, errorMessage, SluiceError } from '../../../shared/src/errors.ts';
import { buildChain, interceptors } from '../interceptors/index.ts';
import { writeChainToYaml } from '../config/write-back.ts';
import type { Interceptor, InterceptorConfig, InterceptorContext } from '../interceptors/types.ts';
import { formatProblem, type ConfigProblem } from '../../../shared/src/spec.ts';
import { Channel, type AppendRequest, type TopicBatch } from '../channel/channel.ts';
import { decodeBatches } from '../channel/format.ts';
import type { DiskState } from '../channel/disk.ts';
import type { IngestOptions, IngestResult, Sink, SinkContext, Source, SourceContext } from '../components.ts';
import { ConfigError, loadConfigFile, validateInterceptors, validateSink, type ResolvedConfig, type ResolvedSink, type ResolvedSource } from '../config/load.ts';
import type { Logger } from '../log.ts';
import { Metrics } from '../metrics.ts';
import { ConnectionTracker, parseListen } from '../net.ts';
import { SinkRunner } from '../sinks/runner.ts';
import { FleetRegistry } from '../fleet/registry.ts';
import { startReporter } from '../fleet/reporter.ts';
import { startMemoryReducer } from './memory.ts';
import { FLEET_TOPIC } from '../../../shared/src/api/fleet.ts';

export interface SourceHandle {
  name: string;
  type: string;
  resolved: ResolvedSource;
  source: Source;
  chain: Interceptor;
  interceptors: readonly InterceptorConfig[];
  /** Bumped on every live chain change; events ingested after the change carry the new version. */
  chainVersion: number;
  stats: { received: number; accepted: number; rejected: number; dropped: number; lastEventAt: number | null };
  abort: AbortController;
}

export interface CollectorOptions {
  log: Logger;
  /** Build the admin server (default true). */
  admin?: boolean;
  /** Open the channel read-only and start no sources or sinks (`sluice inspect`). */
  inspect?: boolean;
}

/** Hooks other modules register so the runtime need not import them (admin routes, UI). */
export type AdminBuilder = (collector: Collector) => Promise<FastifyInstance>;

export class Collector {
  config: ResolvedConfig;
  readonly log: Logger;
  readonly metrics = new Metrics();
  readonly channel: Channel;
  readonly sources = new Map<string, SourceHandle>();
  readonly sinks = new Map<string, SinkRunner>();
  readonly startedAt = Date.now();
  /** The edges this collector has heard from (fleet/registry.ts); null for an inspection. */
  fleet: FleetRegistry | null = null;
  #stopReporter: (() => void) | null = null;
  #stopMemoryReducer: (() => void) | null = null;
  readonly inspect: boolean;
  readonly interceptorContext: InterceptorContext;
  admin: FastifyInstance | null = null;
  #adminAddress: string | null = null;
  #adminConnections: ConnectionTracker | null = null;
  #stopping = false;
  #inflight = new Set<Promise<unknown>>();

  constructor(config: ResolvedConfig, options: CollectorOptions) {
    this.config = config;
    this.log = options.log;
    this.inspect = options.inspect ?? false;
    this.channel = Channel.open({ ...config.channel, readonly: this.inspect });
    this.channel.onError((error) => this.log.error({ err: errorMessage(error) }, 'channel housekeeping failed'));
    this.channel.onDisk((disk: DiskState) => {
      if (disk.full) this.log.error({ disk }, `channel refuses new events: ${disk.reason}; sinks keep delivering`);
      else this.log.info({ disk }, 'channel accepts events again: disk space is back above channel.min_free_space');
    });
    const host = hostname();
    this.interceptorContext = { hostname: host, now: Date.now, random: Math.random, uuid: randomUUID };
    this.#registerGauges();
  }

  get adminAddress(): string | null {
    return this.#adminAddress;
  }

  async start(buildAdmin?: AdminBuilder): Promise<void> {
    if (!this.inspect) {
      this.fleet = new FleetRegistry(this.channel, { staleAfter: this.config.fleet.staleAfter, log: this.log });
      this.fleet.start();
      if (this.config.fleet.report) this.#stopReporter = startReporter(this, this.config.fleet.reportIntervalMs);
      this.#stopMemoryReducer = startMemoryReducer({
        release: () => this.channel.releaseMemory(),
        onReduce: (before, after) => this.log.debug({ rssBefore: before, rssAfter: after }, 'quiet after a burst: memory given back'),
      });
      for (const s of this.config.sinks) this.#startSink(s);
      try {
        for (const s of this.config.sources) await this.#startSource(s);
      } catch (error) {
        await this.stop();
        throw error;
      }
    }
    if (buildAdmin) {
      this.admin = await buildAdmin(this);
      this.#adminConnections = new ConnectionTracker(this.admin.server);
      // While stopping, every answer says Connection: close, so keep-alive clients leave after it.
      this.admin.addHook('onRequest', async (_request, reply) => {
        if (this.#stopping) reply.header('connection', 'close');
      });
      const { host, port } = parseListen(this.config.admin.listen);
      try {
        this.#adminAddress = await this.admin.listen({ host, port });
      } catch (error) {
        await this.stop();
        const e = error as NodeJS.ErrnoException;
        throw new SluiceError(ErrorCodes.CONFIG_INVALID, `admin.listen: ${e.code === 'EADDRINUSE' ? `port ${port} already in use` : e.message}`, { cause: error });
      }
    }
  }

  /** What listens where, for the start-up banner. */
  endpoints(): { component: string; endpoints: string[] }[] {
    const out: { component: string; endpoints: string[] }[] = [];
    if (this.#adminAddress) out.push({ component: 'admin', endpoints: [`${this.#adminAddress}/api/v1`, ...(this.config.admin.ui ? [`${this.#adminAddress}/`] : [])] });
    for (const h of this.sources.values()) out.push({ component: `source ${h.name} (${h.type})`, endpoints: h.source.endpoints() });
    for (const r of this.sinks.values()) out.push({ component: `sink ${r.name}`, endpoints: [`topics ${this.config.sinks.find((s) => s.name === r.name)?.runner.topics.join(', ')}`] });
    out.push({ component: 'channel', endpoints: [this.channel.file] });
    return out;
  }

  // ─── Sources ──────────────────────────────────────────────────────────────────────────────

  async #startSource(resolved: ResolvedSource): Promise<void> {
    const { chain, problems } = buildChain(resolved.interceptors, `sources.${resolved.name}.interceptors`, this.interceptorContext);
    if (problems.length > 0) throw new ConfigError(problems, `sources.${resolved.name}`);
    const abort = new AbortController();
    const handle: SourceHandle = {
      name: resolved.name,
      type: resolved.type,
      resolved,
      source: null as unknown as Source,
      chain,
      interceptors: resolved.interceptors,
      chainVersion: 1,
      stats: { received: 0, accepted: 0, rejected: 0, dropped: 0, lastEventAt: null },
      abort,
    };
    const ctx: SourceContext = {
      name: resolved.name,
      log: this.log.child({ source: resolved.name }),
      channel: this.channel,
      signal: abort.signal,
      collectorId: this.config.collectorId,
      ingest: (events, options) => this.#ingest(handle, events, options),
      ingestBatches: (batches, options) => this.#ingestBatches(handle, batches, options),
    };
    handle.source = resolved.spec.create(resolved.config as never, ctx);
    await handle.source.start();
    this.sources.set(resolved.name, handle);
  }

  /** The hot path: run the chain over a batch, append it, count. One append per call. */
  #ingest(handle: SourceHandle, events: EventDraft[], options: IngestOptions = {}): Promise<IngestResult> {
    if (this.#stopping) return Promise.reject(shuttingDown());
    const chain = handle.chain;
    const kept: EventDraft[] = [];
    for (let i = 0; i < events.length; i++) {
      const out = chain(events[i]);
      if (out !== null) kept.push(out);
    }
    const dropped = events.length - kept.length;
    this.metrics.sourceReceived.inc({ source: handle.name }, events.length);
    handle.stats.received += events.length;
    if (dropped > 0) {
      this.metrics.sourceDropped.inc({ source: handle.name }, dropped);
      handle.stats.dropped += dropped;
    }
    if (kept.length === 0 && !options.state && !options.dedupe) {
      return Promise.resolve({ accepted: 0, dropped, duplicate: false });
    }
    return this.#store(handle, { events: kept, state: options.state, dedupe: options.dedupe }, kept.length, dropped);
  }

  /**
   * Pre-encoded record batches (a Sluice edge's, checked by the forward source): stored as they
   * are when the chain is empty; otherwise decoded and run through it, as `#ingest` does.
   */
  #ingestBatches(handle: SourceHandle, batches: readonly TopicBatch[], options: IngestOptions = {}): Promise<IngestResult> {
    if (handle.interceptors.length > 0) {
      const events: EventDraft[] = [];
      for (const b of batches) for (const e of decodeBatches(b.topic, [b])) events.push(e);
      return this.#ingest(handle, events, options);
    }
    if (this.#stopping) return Promise.reject(shuttingDown());
    let count = 0;
    for (const b of batches) count += b.count;
    this.metrics.sourceReceived.inc({ source: handle.name }, count);
    handle.stats.received += count;
    return this.#store(handle, { events: [], batches, state: options.state, dedupe: options.dedupe }, count, 0);
  }

  /** Appends `count` events a source handed in (after `dropped` were filtered), counts the outcome, and tracks it until settled. */
  #store(handle: SourceHandle, request: AppendRequest, count: number, dropped: number): Promise<IngestResult> {
    const m = this.metrics;
    const label = { source: handle.name };
    const pending = this.channel.append(request).then(
      (result) => {
        const accepted = result.duplicate ? 0 : count;
        m.sourceAccepted.inc(label, accepted);
        handle.stats.accepted += accepted;
        handle.stats.lastEventAt = Date.now();
        return { accepted, dropped, duplicate: result.duplicate };
      },
      (error: unknown) => {
        m.sourceRejected.inc(label, count);
        handle.stats.rejected += count;
        throw error;
      },
    );
    this.#inflight.add(pending);
    pending.then(
      () => this.#inflight.delete(pending),
      () => this.#inflight.delete(pending),
    );
    return pending;
  }

  /** Validates an interceptor chain for a source; [] when it is fine. */
  validateChain(sourceName: string, chain: readonly InterceptorConfig[]): ConfigProblem[] {
    return validateInterceptors(chain, `sources.${sourceName}.interceptors`);
  }

  /**
   * Replaces a source's chain live. Every ingest call runs entirely under one chain version, so
   * the change applies from a clear point; nothing in flight is lost or run twice. With
   * `persist`, the config file is rewritten keeping its comments and layout.
   */
  setChain(sourceName: string, chain: readonly InterceptorConfig[], options: { persist: boolean }): { version: number; persisted: boolean } {
    const handle = this.sources.get(sourceName);
    if (!handle) throw new SluiceError(ErrorCodes.NOT_FOUND, `source "${sourceName}" does not exist`);
    const built = buildChain(chain, `sources.${sourceName}.interceptors`, this.interceptorContext);
    if (built.problems.length > 0) throw new ConfigError(built.problems, `sources.${sourceName}.interceptors`);
    let persisted = false;
    if (options.persist && this.config.file) {
      writeChainToYaml(this.config.file, sourceName, chain, interceptorDefaults);
      persisted = true;
    }
    handle.chain = built.chain;
    handle.interceptors = structuredClone(chain) as InterceptorConfig[];
    handle.chainVersion++;
    this.log.info({ source: sourceName, version: handle.chainVersion, persisted }, `interceptor chain of source "${sourceName}" replaced (version ${handle.chainVersion})`);
    return { version: handle.chainVersion, persisted };
  }

  // ─── Sinks ────────────────────────────────────────────────────────────────────────────────

  #startSink(resolved: ResolvedSink): void {
    const abort = new AbortController();
    const sink = this.#createSink(resolved.spec.name, resolved.config, `sinks.${resolved.name}`, resolved.name, abort.signal);
    const runner = new SinkRunner({
      name: resolved.name,
      sink,
      channel: this.channel,
      log: this.log.child({ sink: resolved.name }),
      metrics: this.metrics,
      // A forward sink also carries this collector's fleet reports to the hub (fleet/reporter.ts).
      topics: resolved.spec.name === 'forward' && this.config.fleet.report ? [...resolved.runner.topics, FLEET_TOPIC] : resolved.runner.topics,
      batch: resolved.runner.batch,
      retry: resolved.runner.retry,
      startFrom: resolved.runner.startFrom,
      onRejected: resolved.runner.onRejected,
    });
    this.sinks.set(resolved.name, runner);
    runner.start();
  }

  #createSink(type: string, config: Record<string, unknown>, path: string, name: string, signal: AbortSignal): Sink {
    const spec = this.config.registries.sinks.get(type)!;
    const ctx: SinkContext = {
      name,
      log: this.log.child({ sink: name }),
      signal,
      collectorId: this.config.collectorId,
      channel: this.channel,
      createSink: (memberConfig, memberPath, memberName) => {
        const problems: ConfigProblem[] = [];
        const member = validateSink(this.config.registries, memberName, memberConfig, memberPath, problems, true);
        if (!member) throw new ConfigError(problems, memberPath);
        return this.#createSink(member.spec.name, member.config, memberPath, memberName, signal);
      },
    };
    return spec.create(config as never, ctx);
  }

  // ─── Reload and stop ──────────────────────────────────────────────────────────────────────

  /**
   * Applies a changed config file (SIGHUP): validates it first and keeps running on the old
   * config if it has problems. Changed or removed sources and sinks are stopped (in-flight
   * commits finish) and started anew; unchanged ones keep running; a change only to a source's
   * interceptors is applied live. The channel section needs a restart.
   */
  async reload(): Promise<{ applied: boolean; problems: ConfigProblem[]; changed: string[] }> {
    if (!this.config.file) return { applied: false, problems: [{ path: '(config)', message: 'running on embedded defaults: there is no file to reload' }], changed: [] };
    let next: ResolvedConfig;
    try {
      const owned = new Set<string>(['admin', ...[...this.sources.keys()].map((n) => `source:${n}`)]);
      next = await loadConfigFile(this.config.file, { registries: this.config.registries, ownedListeners: owned });
    } catch (error) {
      const problems = error instanceof ConfigError ? [...error.problems] : [{ path: this.config.file, message: errorMessage(error) }];
      this.log.error({ problems }, `config reload refused; still running the previous config:\n${problems.map((p) => `  ${formatProblem(p)}`).join('\n')}`);
      return { applied: false, problems, changed: [] };
    }
    const changed: string[] = [];
    const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
    if (!same(next.channel, this.config.channel)) {
      this.log.warn('channel settings changed: they apply at the next restart');
    }
    // Sinks.
    for (const [name, runner] of this.sinks) {
      const now = next.sinks.find((s) => s.name === name);
      const before = this.config.sinks.find((s) => s.name === name);
      if (!now || !before || now.type !== before.type || !same(now.config, before.config) || !same(now.runner, before.runner)) {
        await runner.stop();
        this.sinks.delete(name);
        changed.push(`sinks.${name}`);
      }
    }
    for (const s of next.sinks) if (!this.sinks.has(s.name)) this.#startSink(s);
    // Sources.
    for (const [name, handle] of this.sources) {
      const now = next.sources.find((s) => s.name === name);
      if (!now || now.type !== handle.type || !same(now.config, handle.resolved.config)) {
        await handle.source.stop();
        handle.abort.abort();
        this.sources.delete(name);
        changed.push(`sources.${name}`);
      } else if (!same(now.interceptors, handle.interceptors)) {
        this.setChain(name, now.interceptors, { persist: false });
        handle.resolved = now;
        changed.push(`sources.${name}.interceptors`);
      }
    }
    for (const s of next.sources) if (!this.sources.has(s.name)) await this.#startSource(s);
    this.config = next;
    this.log.info({ changed }, `config reloaded (${changed.length} change${changed.length === 1 ? '' : 's'})`);
    return { applied: true, problems: [], changed };
  }

  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    // 1. Stop accepting: the admin API refuses new connections (open ones are answered until it
    // closes, with Connection: close); sources close listeners and finish what they read.
    void this.#adminConnections?.stopAccepting();
    await Promise.allSettled([...this.sources.values()].map(async (h) => {
      await h.source.stop();
      h.abort.abort();
    }));
    this.#stopReporter?.();
    this.#stopMemoryReducer?.();
    this.fleet?.stop();
    // 2. In-flight ingests settle (their producers get their acks or errors).
    await Promise.allSettled([...this.#inflight]);
    // 3. Sinks finish the batch in flight and commit cursors.
    await Promise.allSettled([...this.sinks.values()].map((r) => r.stop(3000)));
    if (this.admin) {
      // 4. The admin API: clients on open connections had their answers with Connection: close;
      // give them a second to leave before fastify closes what is idle (return503OnClosing for the rest).
      await this.#adminConnections?.drain(1000);
      await this.admin.close().catch(() => undefined);
    }
    await this.channel.close();
  }

  // ─── Metrics ──────────────────────────────────────────────────────────────────────────────

  #registerGauges(): void {
    const m = this.metrics;
    m.gauge('sluice_channel_bytes', 'Stored event bytes in the channel', [], (set) => set({}, this.channel.stats().bytes));
    m.gauge('sluice_channel_capacity_bytes', 'Channel capacity (channel.max_bytes)', [], (set) => set({}, this.channel.stats().maxBytes));
    m.gauge('sluice_channel_fill_ratio', 'Channel fill: stored bytes / capacity', [], (set) => set({}, this.channel.stats().fill));
    m.gauge('sluice_channel_wal_bytes', 'Size of the channel\'s write-ahead log', [], (set) => set({}, this.channel.walBytes()));
    m.gauge('sluice_channel_disk_free_bytes', 'Free bytes on the filesystem holding the channel (at the last probe, once a second)', [], (set) => {
      const disk = this.channel.stats().disk;
      if (disk && disk.freeBytes >= 0) set({}, disk.freeBytes);
    });
    m.gauge('sluice_channel_disk_min_free_bytes', 'Free space the channel keeps (channel.min_free_space, plus the WAL while a checkpoint is owed)', [], (set) => {
      const disk = this.channel.stats().disk;
      if (disk) set({}, disk.requiredBytes);
    });
    m.gauge('sluice_channel_full', 'Whether the channel refuses new events for lack of disk space (1) or not (0)', [], (set) => set({}, this.channel.stats().disk?.full ? 1 : 0));
    m.counter('sluice_channel_refused_appends_total', 'Append requests the channel refused: reason="capacity" (channel.max_bytes of undelivered events) or "disk" (below channel.min_free_space, or SQLITE_FULL)', ['reason'], (set) => {
      const stats = this.channel.stats();
      set({ reason: 'capacity' }, stats.rejectedFull);
      set({ reason: 'disk' }, stats.rejectedDisk);
    });
    m.gauge('sluice_topic_events', 'Events stored per topic', ['topic'], (set) => {
      for (const t of this.channel.topics()) set({ topic: t.name }, t.count);
    });
    m.gauge('sluice_topic_high_offset', 'Next offset per topic', ['topic'], (set) => {
      for (const t of this.channel.topics()) set({ topic: t.name }, t.high);
    });
    m.gauge('sluice_topic_dropped_events', 'Undelivered events removed by drop_oldest, per topic', ['topic'], (set) => {
      for (const t of this.channel.topics()) set({ topic: t.name }, t.dropped);
    });
    m.counter('sluice_channel_expired_events_total', 'Events retention removed, per topic and reason (age: max_age since arrival; size: max_bytes; capacity: channel full)', ['topic', 'reason'], (set) => {
      for (const e of this.channel.expiredCounts()) set({ topic: e.topic, reason: e.reason }, e.events);
    });
    m.gauge('sluice_channel_damaged_ranges', 'Damaged offset ranges found in the channel file, per topic (docs/operations.md)', ['topic'], (set) => {
      const byTopic = new Map<string, number>();
      for (const r of this.channel.damaged()) byTopic.set(r.topic, (byTopic.get(r.topic) ?? 0) + 1);
      for (const t of this.channel.topics()) set({ topic: t.name }, byTopic.get(t.name) ?? 0);
    });
    m.gauge('sluice_sink_lag_events', 'Events not yet delivered, per sink and topic', ['sink', 'topic'], (set) => {
      for (const r of this.sinks.values()) for (const t of r.topicStatus()) set({ sink: r.name, topic: t.topic }, t.lag);
    });
    m.gauge('sluice_sink_lag_seconds', 'Age of the oldest undelivered event (by its timestamp), per sink and topic; 0 when caught up', ['sink', 'topic'], (set) => {
      for (const r of this.sinks.values()) for (const t of r.topicStatus()) set({ sink: r.name, topic: t.topic }, t.lagSeconds);
    });
    m.gauge('sluice_sink_delivery_rate', 'Events per second the destination confirmed over the last 10 s, per sink and topic', ['sink', 'topic'], (set) => {
      for (const r of this.sinks.values()) for (const t of r.topicStatus()) set({ sink: r.name, topic: t.topic }, t.rate);
    });
    m.gauge('sluice_source_connections', 'Open TCP/TLS connections per network source', ['source'], (set) => {
      for (const h of this.sources.values()) {
        const n = h.source.network?.().connections;
        if (n !== undefined) set({ source: h.name }, n);
      }
    });
    m.gauge('sluice_source_connections_closed_total', 'Connections a network source closed or refused, by reason (idle, incomplete_frame, per_peer_limit, max_connections, handshake)', ['source', 'reason'], (set) => {
      for (const h of this.sources.values()) for (const [reason, n] of Object.entries(h.source.network?.().closed ?? {})) set({ source: h.name, reason }, n);
    });
    m.gauge('sluice_source_udp_dropped_total', 'UDP messages lost by a source, by where: kernel (receive buffer overflowed), queue, channel', ['source', 'where'], (set) => {
      for (const h of this.sources.values()) for (const [where, n] of Object.entries(h.source.network?.().udpDropped ?? {})) set({ source: h.name, where }, n);
    });
    m.gauge('sluice_source_udp_receive_buffer_bytes', 'UDP socket receive buffer the kernel granted (the SO_RCVBUF size in effect; Linux reports twice this for its bookkeeping)', ['source'], (set) => {
      for (const h of this.sources.values()) {
        const n = h.source.network?.().udpReceiveBufferBytes;
        if (n !== undefined) set({ source: h.name }, n);
      }
    });
    m.gauge('sluice_edge_backlog_events', 'Fleet (on a hub): events an edge has not delivered yet, per edge and topic, from its latest report', ['edge', 'topic'], (set) => {
      for (const e of this.fleet?.edges() ?? []) for (const t of e.latest.topics) set({ edge: e.id, topic: t.topic }, t.backlogEvents);
    });
    m.gauge('sluice_edge_oldest_undelivered_seconds', 'Fleet: age of the oldest event an edge has not delivered, per edge and topic', ['edge', 'topic'], (set) => {
      for (const e of this.fleet?.edges() ?? []) for (const t of e.latest.topics) set({ edge: e.id, topic: t.topic }, t.oldestUndeliveredSeconds);
    });
    m.gauge('sluice_edge_last_seen_seconds', 'Fleet: seconds since the hub last received a report from the edge', ['edge'], (set) => {
      const now = Date.now();
      for (const e of this.fleet?.edges() ?? []) set({ edge: e.id }, Math.max(0, (now - e.lastSeen) / 1000));
    });
    m.gauge('sluice_edge_stale', 'Fleet: 1 when the edge has been silent for longer than fleet.stale_after of its report intervals', ['edge'], (set) => {
      for (const e of this.fleet?.edges() ?? []) set({ edge: e.id }, e.stale ? 1 : 0);
    });
    m.counter('sluice_edge_reports_ignored_total', 'Fleet: events on _sluice.fleet that were not reports this hub keeps (malformed, over the size limits, past the edge limit)', [], (set) => set({}, this.fleet?.ignored ?? 0));
    m.gauge('sluice_edge_channel_fill_ratio', 'Fleet: an edge\'s channel fill, from its latest report', ['edge'], (set) => {
      for (const e of this.fleet?.edges() ?? []) set({ edge: e.id }, e.latest.channel.fill);
    });
    m.gauge('sluice_sink_state', 'Sink state: 1 for the current state', ['sink', 'state'], (set) => {
      for (const r of this.sinks.values()) for (const s of ['running', 'backing_off', 'failed', 'stopped', 'starting']) set({ sink: r.name, state: s }, r.state === s ? 1 : 0);
    });
  }
}

/** The defaults of an interceptor type's settings, from its spec's schema (for the YAML write-back). */
function interceptorDefaults(type: string): Record<string, unknown> {
  const properties = (interceptors.get(type)?.config as { properties?: Record<string, { default?: unknown }> } | undefined)?.properties ?? {};
  const out: Record<string, unknown> = {};
  for (const [k, p] of Object.entries(properties)) if (p.default !== undefined) out[k] = p.default;
  return out;
}

/** What a source is told when it hands in events while the collector stops. */
function shuttingDown(): SluiceError {
  return new SluiceError(ErrorCodes.CHANNEL_CLOSED, 'collector is shutting down; retry against the restarted collector', { retriable: true, retryAfterMs: 1000 });
}
