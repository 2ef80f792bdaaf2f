/**
 * The durable channel (DESIGN §3): a SQLite log of topics with dense offsets, group commit,
 * cursors, retention and back-pressure. The contract is docs/specs/channel.md.
 *
 * Threading: better-sqlite3 is synchronous and this class owns the only write connection, so
 * every transaction runs to completion inside one call; nothing is ever awaited inside one.
 */
import Database from 'better-sqlite3';
import { EventEmitter } from 'node:events';
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import picomatch from 'picomatch';
import type { TopicInfo } from '../../../shared/src/api/core.ts';
import type { EventDraft, StoredEvent } from '../../../shared/src/event.ts';
import { isValidTopic } from '../../../shared/src/event.ts';
import { ErrorCodes, SluiceError } from '../../../shared/src/errors.ts';
import { formatBytes } from '../../../shared/src/format.ts';
import { DiskGuard, statfsProbe, type DiskState, type FreeSpaceProbe, type MinFreeSpace } from './disk.ts';
import { RECORD_FORMAT, decodeBatch, encodeBatch } from './format.ts';
import { batchCrc, batchDamage, checkMetadata, corruptError, DamageLog, IntegrityScanner, isSqliteCorruption, locateDamage, type DamagedRange, type IntegrityStatus } from './integrity.ts';
import { ensureSchema, openError } from './schema.ts';

export type SynchronousLevel = 'off' | 'normal' | 'full' | 'extra';
export type WhenFull = 'block' | 'drop_oldest';

export interface TopicPolicy {
  /** Delete delivered events older than this (ms); null keeps them. */
  retentionMs: number | null;
  /** Keep at most this many payload bytes per topic (delivered events go first); null: no bound. */
  retentionBytes: number | null;
  /** At capacity: `block` rejects appends (back-pressure); `drop_oldest` removes the oldest events even if undelivered. */
  whenFull: WhenFull;
}

export interface ChannelOptions {
  /** The database file. Its folder is created. */
  file: string;
  synchronous?: SynchronousLevel;
  /** Capacity: total payload bytes over all topics. */
  maxBytes?: number;
  /** Group commit: wait this long for more appends before committing (0: commit on the next turn). */
  commitWindowMs?: number;
  /** Group commit: commit at once when this many events are pending. */
  maxCommitEvents?: number;
  /** Events per stored record batch. */
  maxBatchEvents?: number;
  /** Payload bytes per stored record batch (approximate: checked on raw body sizes). */
  maxBatchBytes?: number;
  defaults?: Partial<TopicPolicy>;
  /** Per-topic policies; keys are topic names or globs (`logs.*`). The first match wins. */
  topics?: Record<string, Partial<TopicPolicy>>;
  /** Run a PASSIVE checkpoint once this many bytes were committed since the last one. */
  checkpointBytes?: number;
  /** If the WAL file is larger than this after a checkpoint, truncate it (RESTART/TRUNCATE). */
  walMaxBytes?: number;
  /** How often retention runs, ms (also run when the channel is full). 0 disables the timer. */
  retentionIntervalMs?: number;
  /**
   * Free space to keep on the channel's filesystem (`channel.min_free_space`): below it appends
   * are refused with CHANNEL_FULL (disk.ts). Bytes, `{ ratio }` of the filesystem, or `auto`
   * (default: 256 MiB, at most 10% of the filesystem); 0 disables the guard.
   */
  minFreeSpace?: MinFreeSpace;
  /** How the guard asks for free space (default statfs); for tests. */
  freeSpaceProbe?: FreeSpaceProbe;
  readonly?: boolean;
  /**
   * Check every stored batch in the background after opening (integrity.ts). Default: true for a
   * writable channel (a collector), false read-only (inspect, tests, benchmarks): reads are
   * checked either way.
   */
  integrityScan?: boolean;
  /** Clock, for tests. */
  now?: () => number;
}

/** A state write committed in the same transaction as an append or a cursor commit. `value: null` deletes. */
export interface StateWrite {
  namespace: string;
  key: string;
  value: string | null;
}

export interface AppendRequest {
  events: readonly EventDraft[];
  state?: readonly StateWrite[];
  /** When given and already recorded, nothing is appended and the result says `duplicate`. */
  dedupe?: { namespace: string; key: string };
}

export interface OffsetRange {
  topic: string;
  first: number;
  last: number;
}

export interface AppendResult {
  duplicate: boolean;
  ranges: OffsetRange[];
}

/** A topic's watermarks and counts, as the admin API shows them (shared/src/api/core.ts). */
export type { TopicInfo };

export interface CursorInfo {
  consumer: string;
  topic: string;
  /** The next offset this consumer will read. */
  next: number;
  protects: boolean;
  updatedAt: number;
}

export type PositionSpec =
  | { earliest: true }
  | { latest: true }
  | { offset: number }
  | { time: number }
  | { shift: number };

export interface CursorMove {
  consumer: string;
  topic: string;
  current: number | null;
  target: number;
  low: number;
  high: number;
  /** Events that will be delivered again (0 when moving forward). */
  redeliver: number;
  /** Events skipped without delivery (0 when moving backward). */
  skip: number;
}

export interface CursorCommit {
  consumer: string;
  topic: string;
  next: number;
  protects?: boolean;
}

export interface ReadOptions {
  maxEvents?: number;
  maxBytes?: number;
}

export interface ChannelStats {
  bytes: number;
  maxBytes: number;
  fill: number;
  topics: number;
  events: number;
  walBytes: number;
  commits: number;
  appendedEvents: number;
  /** Append requests refused because the channel held max_bytes of undelivered events. */
  rejectedFull: number;
  /** Append requests refused because the disk was (nearly) full. */
  rejectedDisk: number;
  /** The free-space guard; null for a read-only channel. */
  disk: DiskState | null;
}

interface PendingAppend {
  request: AppendRequest;
  resolve: (result: AppendResult) => void;
  reject: (error: unknown) => void;
}

interface TopicRow {
  id: number;
  name: string;
  next_offset: number;
  low_offset: number;
  event_count: number;
  bytes: number;
  max_ts: number | null;
  dropped: number;
  expired: number;
  created_at: number;
}

interface BatchRow {
  id: number;
  base_offset: number;
  last_offset: number;
  format: number;
  payload: Buffer;
  crc: number | null;
}

/** Why retention removed events: the topic's max_age, its max_bytes, or the channel's capacity. */
export type ExpiryReason = 'age' | 'size' | 'capacity';

interface Protector {
  consumer: string;
  matches: (topic: string) => boolean;
}

const DEFAULT_POLICY: TopicPolicy = { retentionMs: 7 * 24 * 3600_000, retentionBytes: null, whenFull: 'block' };

export class Channel {
  readonly file: string;
  readonly readonly: boolean;
  /** Subscribers, through the typed on…() methods below; as many as there are sinks and tails. */
  readonly #events = new EventEmitter().setMaxListeners(0);

  readonly #db: Database.Database;
  readonly #opts: Required<Omit<ChannelOptions, 'defaults' | 'topics' | 'readonly' | 'now' | 'file' | 'minFreeSpace' | 'freeSpaceProbe' | 'integrityScan'>>;
  readonly #defaults: TopicPolicy;
  readonly #policies: { match: (t: string) => boolean; policy: Partial<TopicPolicy> }[];
  readonly #now: () => number;
  readonly #protectors: Protector[] = [];
  readonly #waiters = new Map<string, Set<() => void>>();
  /** Recently decoded batches by row id (see #decode). */
  readonly #decoded = new Map<number, StoredEvent[]>();
  #pending: PendingAppend[] = [];
  #pendingEvents = 0;
  #flushTimer: NodeJS.Timeout | null = null;
  #flushScheduled = false;
  #closed = false;
  #bytesSinceCheckpoint = 0;
  #retentionTimer: NodeJS.Timeout | null = null;
  #totalBytes = 0;
  #stats = { commits: 0, appendedEvents: 0, rejectedFull: 0, rejectedDisk: 0 };
  /** Events retention removed since open, by topic and reason (for /metrics). */
  readonly #expired = new Map<string, Record<ExpiryReason, number>>();
  readonly #damage = new DamageLog();
  #scanner: IntegrityScanner | null = null;
  #scanState: IntegrityStatus['scan'] = 'idle';
  #scanTimer: NodeJS.Immediate | null = null;
  /** Set when a commit failed on a damaged page; cleared by the next commit that succeeds. */
  #commitDamage: string | null = null;
  /** Topics whose retention is stuck on a damaged batch, with what to do. */
  readonly #retentionBlocked = new Map<string, string>();
  readonly #stmt: ReturnType<Channel['prepare']>;
  readonly #disk: DiskGuard | null = null;
  #diskTimer: NodeJS.Timeout | null = null;
  #diskWasFull = false;
  #diskRetentionAt = 0;
  #pageSize = 4096;

  private constructor(options: ChannelOptions) {
    this.file = options.file;
    this.readonly = options.readonly ?? false;
    this.#now = options.now ?? Date.now;
    this.#opts = {
      synchronous: options.synchronous ?? 'full',
      maxBytes: options.maxBytes ?? 1024 ** 3,
      commitWindowMs: options.commitWindowMs ?? 0,
      maxCommitEvents: options.maxCommitEvents ?? 20_000,
      maxBatchEvents: options.maxBatchEvents ?? 1000,
      maxBatchBytes: options.maxBatchBytes ?? 1024 * 1024,
      checkpointBytes: options.checkpointBytes ?? 16 * 1024 * 1024,
      walMaxBytes: options.walMaxBytes ?? 64 * 1024 * 1024,
      retentionIntervalMs: options.retentionIntervalMs ?? 5000,
    };
    this.#defaults = { ...DEFAULT_POLICY, ...options.defaults };
    this.#policies = Object.entries(options.topics ?? {}).map(([pattern, policy]) => ({
      match: picomatch(pattern, { dot: true }),
      policy,
    }));

    if (!this.readonly) {
      mkdirSync(dirname(this.file), { recursive: true });
      acquireWriterLock(this.file);
    }
    try {
      this.#db = new Database(this.file, { readonly: this.readonly, fileMustExist: this.readonly });
    } catch (cause) {
      if (!this.readonly) releaseWriterLock(this.file);
      throw openError(this.file, cause);
    }
    try {
      if (!this.readonly) {
        this.#db.pragma('journal_mode = WAL');
        this.#db.pragma(`synchronous = ${this.#opts.synchronous.toUpperCase()}`);
        // Checkpoints run on our schedule (#maybeCheckpoint), not inside a commit.
        this.#db.pragma('wal_autocheckpoint = 0');
        this.#db.pragma(`journal_size_limit = ${this.#opts.walMaxBytes}`);
      }
      this.#db.pragma('busy_timeout = 5000');
      // 8 MB: a whole group commit (20,000 events) fits, so a commit never spills. 32 MB was
      // ~30 MB more RSS under load without a measurable throughput gain (docs/decisions/memory.md).
      this.#db.pragma('cache_size = -8000');
      ensureSchema(this.#db, this.file, this.readonly);
      checkMetadata(this.#db);
      this.#stmt = this.prepare();
      this.#totalBytes = (this.#db.prepare('SELECT COALESCE(SUM(bytes), 0) AS b FROM topics').get() as { b: number }).b;
    } catch (error) {
      this.#db.close();
      if (!this.readonly) releaseWriterLock(this.file);
      throw openError(this.file, diskFullAtOpen(this.file, error, options.freeSpaceProbe ?? statfsProbe));
    }
    if (!this.readonly && this.#opts.retentionIntervalMs > 0) {
      this.#retentionTimer = setInterval(() => this.#safeRetention(), this.#opts.retentionIntervalMs);
      this.#retentionTimer.unref();
    }
    if (!this.readonly) {
      this.#pageSize = this.#db.pragma('page_size', { simple: true }) as number;
      this.#disk = new DiskGuard({ dir: dirname(this.file), min: options.minFreeSpace ?? 'auto', probe: options.freeSpaceProbe, now: this.#now });
      // Health is right from the start; the first housekeeping run reports (emits `disk`) a disk already short.
      this.#disk.refuses(() => this.#reusableBytes());
      // Probes once a second, so health and /metrics are current and a full channel notices
      // space coming back (and frees what it can) even when nobody appends.
      this.#diskTimer = setInterval(() => this.#diskHousekeeping(), 1000);
      this.#diskTimer.unref();
    }
    if (options.integrityScan ?? !this.readonly) this.scanIntegrity();
  }

  static open(options: ChannelOptions): Channel {
    return new Channel(options);
  }

  // ─── Subscriptions ────────────────────────────────────────────────────────────────────────
  // Each returns the function that unsubscribes.

  /** After every commit that appended to `topic`: its new high watermark. */
  onAppend(listener: (topic: string, high: number) => void): () => void {
    return this.#subscribe('append', listener);
  }

  /** After a cursor was committed or moved (a replay, a reset): the consumer, topic and next offset. */
  onCursorMoved(listener: (consumer: string, topic: string, next: number) => void): () => void {
    return this.#subscribe('cursor', listener);
  }

  /** When the disk guard starts or stops refusing events. */
  onDisk(listener: (state: DiskState) => void): () => void {
    return this.#subscribe('disk', listener);
  }

  /** A background task (retention, checkpoint, the integrity scan) failed; the channel goes on. */
  onError(listener: (error: unknown) => void): () => void {
    return this.#subscribe('error', listener);
  }

  /** How many subscribe to an event (tests check that subscribers leave). */
  subscribers(event: 'append' | 'cursor' | 'disk' | 'error'): number {
    return this.#events.listenerCount(event);
  }

  #subscribe<A extends unknown[]>(event: string, listener: (...args: A) => void): () => void {
    const l = listener as (...args: unknown[]) => void;
    this.#events.on(event, l);
    return () => this.#events.off(event, l);
  }

  private prepare() {
    const db = this.#db;
    return {
      topicByName: db.prepare<[string], TopicRow>('SELECT * FROM topics WHERE name = ?'),
      topicById: db.prepare<[number], TopicRow>('SELECT * FROM topics WHERE id = ?'),
      allTopics: db.prepare<[], TopicRow>('SELECT * FROM topics ORDER BY name'),
      insertTopic: this.readonly
        ? null
        : db.prepare<[string, number]>('INSERT INTO topics (name, created_at) VALUES (?, ?)'),
      updateTopicAppend: this.readonly
        ? null
        : db.prepare<[number, number, number, number | null, number]>(
            'UPDATE topics SET next_offset = ?, event_count = event_count + ?, bytes = bytes + ?, max_ts = ? WHERE id = ?',
          ),
      insertBatch: this.readonly
        ? null
        : db.prepare<[number, number, number, number, number, number, number, number, number, Buffer, number, number]>(
            'INSERT INTO batches (topic_id, base_offset, last_offset, min_ts, max_ts, time_index, count, bytes, format, payload, crc, arrived_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
          ),
      batchesFrom: db.prepare<[number, number], BatchRow>(
        'SELECT id, base_offset, last_offset, format, payload, crc FROM batches WHERE topic_id = ? AND last_offset >= ? ORDER BY last_offset',
      ),
      batchesBefore: db.prepare<[number, number], BatchRow>(
        'SELECT id, base_offset, last_offset, format, payload, crc FROM batches WHERE topic_id = ? AND base_offset < ? ORDER BY last_offset DESC',
      ),
      batchByTime: db.prepare<[number, number], { id: number; last_offset: number }>(
        'SELECT id, last_offset FROM batches WHERE topic_id = ? AND time_index >= ? ORDER BY time_index, last_offset LIMIT 1',
      ),
      batchMinTs: db.prepare<[number, number], { min_ts: number }>(
        'SELECT min_ts FROM batches WHERE topic_id = ? AND last_offset >= ? ORDER BY last_offset LIMIT 1',
      ),
      firstBatch: db.prepare<[number], { base_offset: number }>(
        'SELECT base_offset FROM batches WHERE topic_id = ? ORDER BY last_offset LIMIT 1',
      ),
      // Retention: the first batch that must stay, given a protect bound and an arrival cutoff
      // (never the events' own timestamps: an old event that just arrived is kept max_age).
      firstKept: db.prepare<[number, number, number], { base_offset: number }>(
        'SELECT base_offset FROM batches INDEXED BY batches_by_arrival WHERE topic_id = ? AND (last_offset >= ? OR arrived_at >= ?) ORDER BY last_offset LIMIT 1',
      ),
      prefixBatches: db.prepare<[number], { id: number; base_offset: number; last_offset: number; count: number; bytes: number }>(
        'SELECT id, base_offset, last_offset, count, bytes FROM batches WHERE topic_id = ? ORDER BY last_offset',
      ),
      prefixStats: db.prepare<[number, number], { n: number; b: number }>(
        'SELECT COALESCE(SUM(count), 0) AS n, COALESCE(SUM(bytes), 0) AS b FROM batches WHERE topic_id = ? AND last_offset < ?',
      ),
      deletePrefix: this.readonly ? null : db.prepare<[number, number]>('DELETE FROM batches WHERE topic_id = ? AND last_offset < ?'),
      updateTopicRetention: this.readonly
        ? null
        : db.prepare<[number, number, number, number, number, number]>(
            'UPDATE topics SET low_offset = ?, event_count = event_count - ?, bytes = bytes - ?, dropped = dropped + ?, expired = expired + ? WHERE id = ?',
          ),
      getCursor: db.prepare<[string, number], { next_offset: number; protects: number; updated_at: number }>(
        'SELECT next_offset, protects, updated_at FROM cursors WHERE consumer = ? AND topic_id = ?',
      ),
      cursorsOf: db.prepare<[string], { consumer: string; topic: string; next_offset: number; protects: number; updated_at: number }>(
        'SELECT c.consumer, t.name AS topic, c.next_offset, c.protects, c.updated_at FROM cursors c JOIN topics t ON t.id = c.topic_id WHERE c.consumer = ? ORDER BY t.name',
      ),
      allCursors: db.prepare<[], { consumer: string; topic: string; next_offset: number; protects: number; updated_at: number }>(
        'SELECT c.consumer, t.name AS topic, c.next_offset, c.protects, c.updated_at FROM cursors c JOIN topics t ON t.id = c.topic_id ORDER BY c.consumer, t.name',
      ),
      protectingCursors: db.prepare<[number], { next_offset: number }>(
        'SELECT next_offset FROM cursors WHERE topic_id = ? AND protects = 1',
      ),
      upsertCursor: this.readonly
        ? null
        : db.prepare<[string, number, number, number, number]>(
            'INSERT INTO cursors (consumer, topic_id, next_offset, protects, updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (consumer, topic_id) DO UPDATE SET next_offset = excluded.next_offset, protects = excluded.protects, updated_at = excluded.updated_at',
          ),
      deleteCursor: this.readonly ? null : db.prepare<[string, number]>('DELETE FROM cursors WHERE consumer = ? AND topic_id = ?'),
      getState: db.prepare<[string, string], { value: string }>('SELECT value FROM state WHERE namespace = ? AND key = ?'),
      listState: db.prepare<[string], { key: string; value: string; updated_at: number }>(
        'SELECT key, value, updated_at FROM state WHERE namespace = ? ORDER BY key',
      ),
      putState: this.readonly
        ? null
        : db.prepare<[string, string, string, number]>(
            'INSERT INTO state (namespace, key, value, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at',
          ),
      deleteState: this.readonly ? null : db.prepare<[string, string]>('DELETE FROM state WHERE namespace = ? AND key = ?'),
      pruneState: this.readonly ? null : db.prepare<[string, number]>('DELETE FROM state WHERE namespace = ? AND updated_at < ?'),
    };
  }

  // ─── Appending ────────────────────────────────────────────────────────────────────────────

  /**
   * Appends events (of any topics) durably. Resolves only after the transaction holding them
   * has committed at the configured `synchronous` level; rejects if it did not, in which case
   * none of the request's events are visible. Appends from concurrent callers are committed
   * together (group commit).
   */
  append(request: AppendRequest): Promise<AppendResult> {
    if (this.#closed) return Promise.reject(closedError(this.file));
    if (this.readonly) return Promise.reject(new SluiceError(ErrorCodes.CHANNEL_CLOSED, `channel ${this.file} is open read-only`));
    for (const event of request.events) {
      if (!isValidTopic(event.topic)) {
        return Promise.reject(
          new SluiceError(ErrorCodes.TOPIC_INVALID, `invalid topic name "${event.topic}": use 1–249 letters, digits, '.', '_' or '-'`),
        );
      }
    }
    return new Promise<AppendResult>((resolve, reject) => {
      this.#pending.push({ request, resolve, reject });
      this.#pendingEvents += request.events.length;
      this.#scheduleFlush();
    });
  }

  /** Convenience: append events of one topic. */
  appendEvents(topic: string, events: readonly Omit<EventDraft, 'topic'>[]): Promise<AppendResult> {
    return this.append({ events: events.map((e) => ({ ...e, topic })) });
  }

  #scheduleFlush(): void {
    if (this.#pendingEvents >= this.#opts.maxCommitEvents) {
      if (this.#flushTimer) clearTimeout(this.#flushTimer);
      this.#flushTimer = null;
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        setImmediate(() => this.#flush());
      }
      return;
    }
    if (this.#flushScheduled || this.#flushTimer) return;
    if (this.#opts.commitWindowMs > 0) {
      this.#flushTimer = setTimeout(() => {
        this.#flushTimer = null;
        this.#flush();
      }, this.#opts.commitWindowMs);
    } else {
      this.#flushScheduled = true;
      setImmediate(() => this.#flush());
    }
  }

  /** Commits everything pending in one transaction and settles every caller. */
  #flush(): void {
    this.#flushScheduled = false;
    const group = this.#pending;
    this.#pending = [];
    this.#pendingEvents = 0;
    if (group.length === 0) return;
    if (this.#closed) {
      for (const p of group) p.reject(closedError(this.file));
      return;
    }

    const incoming = group.map((p) => estimateBytes(p.request.events));
    let admitted: boolean[];
    let diskRefusal: SluiceError | null = null;
    try {
      diskRefusal = this.#admitDisk(group);
      admitted = diskRefusal ? group.map((p) => p.request.events.length === 0) : this.#admit(incoming, group);
    } catch (cause) {
      const error = isSqliteFull(cause) ? this.#sqliteFull('retention making room', cause) : cause;
      for (const p of group) p.reject(error);
      return;
    }

    const outcomes: (AppendResult | SluiceError)[] = new Array(group.length);
    const highs = new Map<string, number>();
    let committedBytes = 0;
    try {
      this.#db.transaction(() => {
        // Topic rows are re-read inside the transaction: offsets come from the database, not from a cache.
        const topics = new Map<string, TopicRow>();
        const topicRow = (name: string): TopicRow => {
          let row = topics.get(name);
          if (!row) {
            row = this.#stmt.topicByName.get(name);
            if (!row) {
              this.#stmt.insertTopic!.run(name, this.#now());
              row = this.#stmt.topicByName.get(name)!;
            }
            topics.set(name, row);
          }
          return row;
        };
        // Offsets are assigned in group order, then each topic's events of the whole group are
        // written together: a commit of many small appends makes full record batches, not one
        // small batch per request (reads and retention work per batch).
        const pending = new Map<string, { row: TopicRow; events: EventDraft[] }>();
        for (let g = 0; g < group.length; g++) {
          if (!admitted[g]) {
            outcomes[g] =
              incoming[g] > this.#opts.maxBytes
                ? new SluiceError(
                    ErrorCodes.TOO_LARGE,
                    `append of ${formatBytes(incoming[g])} is larger than the whole channel (channel.max_bytes ${formatBytes(this.#opts.maxBytes)}); split it or raise channel.max_bytes`,
                  )
                : (diskRefusal ?? fullError(this.#totalBytes, this.#opts.maxBytes));
            continue;
          }
          const { request } = group[g];
          if (request.dedupe && this.#stmt.getState.get(request.dedupe.namespace, request.dedupe.key)) {
            outcomes[g] = { duplicate: true, ranges: [] };
            continue;
          }
          const ranges: OffsetRange[] = [];
          for (const [name, events] of byTopic(request.events)) {
            let topic = pending.get(name);
            if (!topic) pending.set(name, (topic = { row: topicRow(name), events: [] }));
            const first = topic.row.next_offset + topic.events.length;
            for (const e of events) topic.events.push(e);
            ranges.push({ topic: name, first, last: first + events.length - 1 });
          }
          const now = this.#now();
          if (request.dedupe) this.#stmt.putState!.run(request.dedupe.namespace, request.dedupe.key, String(now), now);
          for (const w of request.state ?? []) this.#writeState(w, now);
          outcomes[g] = { duplicate: false, ranges };
        }
        for (const [name, { row, events }] of pending) {
          committedBytes += this.#writeBatches(row, events);
          highs.set(name, row.next_offset);
        }
      }).immediate();
    } catch (cause) {
      // A commit that runs into a damaged page (an index, say) fails every time: health must say so.
      if (isSqliteCorruption(cause)) this.#commitDamage = `commits fail: the file is damaged (${(cause as Error).message})`;
      const error = isSqliteFull(cause)
        ? this.#sqliteFull('a commit', cause)
        : new SluiceError(ErrorCodes.CHANNEL_COMMIT_FAILED, `channel commit failed (${this.file}): ${isSqliteCorruption(cause) ? `${this.#commitDamage}; salvage it with \`sluice doctor ${this.file} --out NEW.db\`` : (cause as Error).message}`, {
            cause,
            retriable: true,
            retryAfterMs: 1000,
          });
      for (const p of group) p.reject(error);
      return;
    }

    this.#commitDamage = null;
    this.#totalBytes += committedBytes;
    this.#bytesSinceCheckpoint += committedBytes;
    this.#disk?.wrote(committedBytes);
    this.#stats.commits++;
    for (let g = 0; g < group.length; g++) {
      const outcome = outcomes[g];
      if (outcome instanceof SluiceError) {
        if (outcome === diskRefusal) this.#stats.rejectedDisk++;
        else this.#stats.rejectedFull++;
        group[g].reject(outcome);
      } else {
        if (!outcome.duplicate) this.#stats.appendedEvents += group[g].request.events.length;
        group[g].resolve(outcome);
      }
    }
    for (const [topic, high] of highs) {
      this.#events.emit('append', topic, high);
      this.#wake(topic);
    }
    if (this.#bytesSinceCheckpoint >= this.#checkpointEvery()) setImmediate(() => this.#safeCheckpoint());
  }

  /**
   * Bytes committed between checkpoints: `checkpointBytes`, but at most a quarter of the free
   * disk space (at least 1 MiB) — a checkpoint copies the WAL into the main file, which needs
   * that much room, so on a small or filling disk the WAL is kept small.
   */
  #checkpointEvery(): number {
    const free = this.#disk?.freeBytes ?? -1;
    if (free < 0) return this.#opts.checkpointBytes;
    return Math.min(this.#opts.checkpointBytes, Math.max(1024 * 1024, Math.floor(free / 4)));
  }

  /** Writes one topic's events as record batches; returns the payload bytes written. */
  #writeBatches(row: TopicRow, events: EventDraft[]): number {
    let written = 0;
    const arrivedAt = this.#now();
    let start = 0;
    while (start < events.length) {
      let end = start;
      let raw = 0;
      while (end < events.length && end - start < this.#opts.maxBatchEvents && (end === start || raw < this.#opts.maxBatchBytes)) {
        raw += events[end].body.length + 64;
        end++;
      }
      const batch = encodeBatch(events, start, end);
      const base = row.next_offset;
      const last = base + batch.count - 1;
      const timeIndex = row.max_ts === null ? batch.maxTs : Math.max(row.max_ts, batch.maxTs);
      this.#stmt.insertBatch!.run(
        row.id, base, last, batch.minTs, batch.maxTs, timeIndex, batch.count, batch.payload.length, RECORD_FORMAT, batch.payload, batchCrc(batch.payload), arrivedAt,
      );
      row.next_offset = last + 1;
      row.max_ts = timeIndex;
      row.bytes += batch.payload.length;
      row.event_count += batch.count;
      this.#stmt.updateTopicAppend!.run(row.next_offset, batch.count, batch.payload.length, timeIndex, row.id);
      written += batch.payload.length;
      start = end;
    }
    return written;
  }

  #writeState(w: StateWrite, now: number): void {
    if (w.value === null) this.#stmt.deleteState!.run(w.namespace, w.key);
    else this.#stmt.putState!.run(w.namespace, w.key, w.value, now);
  }

  /**
   * The free-space guard for a commit group: when the disk is short, delivered events are
   * removed first (at most once a second: their pages are reused by the next appends), and if
   * it is still short every request carrying events is refused. Returns the refusal, or null.
   */
  #admitDisk(group: PendingAppend[]): SluiceError | null {
    const disk = this.#disk;
    if (!disk || !group.some((p) => p.request.events.length > 0)) return null;
    const reusable = () => this.#reusableBytes();
    if (disk.refuses(reusable) && this.#now() - this.#diskRetentionAt >= 1000) {
      this.#diskRetentionAt = this.#now();
      const short = disk.shortfall(reusable());
      if (short > 0) this.runRetention({ needBytes: short });
      disk.refuses(reusable);
    }
    this.#noteDiskTransition();
    return disk.full ? diskFullError(disk.state().reason) : null;
  }

  /** Bytes SQLite can reuse inside the file (free pages) before it must grow it. */
  #reusableBytes(): number {
    return (this.#db.pragma('freelist_count', { simple: true }) as number) * this.#pageSize;
  }

  /** Records SQLITE_FULL seen during `what` and returns the error to give callers. */
  #sqliteFull(what: string, cause: unknown): SluiceError {
    this.#disk?.sawSqliteFull(what);
    this.#noteDiskTransition();
    return diskFullError(this.#disk?.state().reason ?? `the disk is full: ${what} failed with SQLITE_FULL`, cause);
  }

  #noteDiskTransition(): void {
    const full = this.#disk?.full ?? false;
    if (full !== this.#diskWasFull) {
      this.#diskWasFull = full;
      this.#events.emit('disk', this.#disk!.state());
    }
  }

  /**
   * Once a second: probe the disk; while it is short, remove delivered events to make room and
   * retry a checkpoint the disk refused earlier (it truncates the WAL once it succeeds).
   */
  #diskHousekeeping(): void {
    const disk = this.#disk;
    if (!disk || this.#closed) return;
    try {
      const reusable = () => this.#reusableBytes();
      if (disk.refuses(reusable)) {
        const short = disk.shortfall(reusable());
        if (short > 0 && this.#now() - this.#diskRetentionAt >= 1000) {
          this.#diskRetentionAt = this.#now();
          this.runRetention({ needBytes: short });
        }
        // A TRUNCATE checkpoint gives the WAL's space back to the filesystem.
        if (this.walBytes() > 0) this.checkpoint({ truncate: true });
        disk.refuses(reusable);
      }
    } catch (error) {
      if (isSqliteFull(error)) this.#sqliteFull('housekeeping', error);
      else this.#events.emit('error', error);
    }
    this.#noteDiskTransition();
  }

  /**
   * Capacity check for a commit group. When the channel would exceed maxBytes, retention runs
   * first; then drop_oldest topics give way; requests that still do not fit are refused
   * (back-pressure), the others are admitted.
   */
  #admit(incoming: number[], group: PendingAppend[]): boolean[] {
    const total = incoming.reduce((a, b) => a + b, 0);
    if (this.#totalBytes + total <= this.#opts.maxBytes) return incoming.map(() => true);
    this.runRetention({ needBytes: this.#totalBytes + total - this.#opts.maxBytes });
    const admitted: boolean[] = [];
    let room = this.#opts.maxBytes - this.#totalBytes;
    for (let g = 0; g < group.length; g++) {
      if (incoming[g] <= room) {
        room -= incoming[g];
        admitted.push(true);
      } else {
        admitted.push(false);
      }
    }
    return admitted;
  }

  // ─── Reading ──────────────────────────────────────────────────────────────────────────────

  /**
   * Events of `topic` from offset `from` (or the low watermark if `from` is older), in offset
   * order, at most `maxEvents` (default 1000) and about `maxBytes` of bodies.
   */
  read(topic: string, from: number, options: ReadOptions = {}): StoredEvent[] {
    const row = this.#stmt.topicByName.get(topic);
    if (!row) return [];
    const maxEvents = options.maxEvents ?? 1000;
    const maxBytes = options.maxBytes ?? Number.POSITIVE_INFINITY;
    const start = Math.max(from, row.low_offset);
    const out: StoredEvent[] = [];
    let bytes = 0;
    try {
      for (const batch of this.#stmt.batchesFrom.iterate(row.id, start)) {
        const events = this.#decode(topic, batch);
        for (let i = Math.max(0, start - batch.base_offset); i < events.length; i++) {
          out.push(events[i]);
          bytes += events[i].body.length;
          if (out.length >= maxEvents || (bytes >= maxBytes && out.length > 0)) return out;
        }
      }
    } catch (error) {
      // A damaged batch ends the read: what came before it is served, a read starting in it fails.
      const damage = this.#damageError(error, row, out.length > 0 ? out[out.length - 1].offset + 1 : start);
      if (out.length > 0) return out;
      throw damage;
    }
    return out;
  }

  /** Events before offset `before`, newest last, at most `maxEvents` — for paging backward. */
  readBefore(topic: string, before: number, maxEvents: number): StoredEvent[] {
    const row = this.#stmt.topicByName.get(topic);
    if (!row || maxEvents <= 0) return [];
    const end = Math.min(before, row.next_offset);
    const chunks: StoredEvent[][] = [];
    let n = 0;
    let lowest = end;
    try {
      for (const batch of this.#stmt.batchesBefore.iterate(row.id, end)) {
        lowest = batch.base_offset;
        const events = this.#decode(topic, batch);
        const upto = Math.min(events.length, end - batch.base_offset);
        const from = Math.max(0, upto - (maxEvents - n));
        chunks.push(events.slice(from, upto));
        n += upto - from;
        if (n >= maxEvents) break;
      }
    } catch (error) {
      // Paging backward stops at a damaged batch: what came after it is served.
      const damage = this.#damageError(error, row, lowest, true);
      if (n > 0) return chunks.reverse().flat();
      throw damage;
    }
    return chunks.reverse().flat();
  }

  /** The newest `n` events of a topic, oldest first. */
  readLast(topic: string, n: number): StoredEvent[] {
    return this.readBefore(topic, Number.MAX_SAFE_INTEGER, n);
  }

  #decode(topic: string, batch: BatchRow): StoredEvent[] {
    const cached = this.#decoded.get(batch.id);
    // Row ids are reused once retention deleted the newest rows, and retention on another
    // connection does not clear this cache: use an entry only if it is this batch. (topic,
    // base offset) names a batch for ever, because offsets are never reused.
    if (cached !== undefined && cached[0]?.topic === topic && cached[0].offset === batch.base_offset) return cached;
    // Every read is checked against the CRC stored at append (integrity.ts).
    const damage = batchDamage(topic, batch);
    if (damage !== null) throw new BatchDamaged({ topic, first: batch.base_offset, last: batch.last_offset, reason: damage });
    const events = decodeBatch(topic, batch.base_offset, batch.format, batch.payload);
    if (this.#decoded.size >= 64) this.#decoded.delete(this.#decoded.keys().next().value!);
    this.#decoded.set(batch.id, events);
    return events;
  }

  /**
   * The first offset whose event has ts ≥ `ts` (Kafka's ListOffsets by time). Returns the high
   * watermark when no stored event is that recent. An index seek plus one batch decode.
   */
  offsetForTime(topic: string, ts: number): number {
    const row = this.#stmt.topicByName.get(topic);
    if (!row) return 0;
    const hit = this.#stmt.batchByTime.get(row.id, ts);
    if (!hit) return row.next_offset;
    // time_index is a running max; the batch it points at (or, after retention, a later one) holds the event.
    let at = hit.last_offset;
    try {
      for (const batch of this.#stmt.batchesFrom.iterate(row.id, hit.last_offset)) {
        at = batch.base_offset;
        for (const e of this.#decode(topic, batch)) if (e.ts >= ts && e.offset >= row.low_offset) return e.offset;
      }
    } catch (error) {
      throw this.#damageError(error, row, at);
    }
    return row.next_offset;
  }

  /**
   * Turns a failure to read a stored batch into SLUICE_CHANNEL_CORRUPT naming the damaged range,
   * and records the range (health, metrics). Anything else is rethrown as it is.
   */
  #damageError(error: unknown, row: TopicRow, at: number, backward = false): unknown {
    let range: { topic: string; first: number; last: number; reason: string } | null = null;
    if (error instanceof BatchDamaged) range = error.range;
    else if (isSqliteCorruption(error)) {
      const known = this.#damage.find(row.name, at);
      try {
        range = known ?? locateDamage(this.#db, row.name, row.id, backward ? row.low_offset : at);
      } catch {
        range = null;
      }
      if (!range) return corruptError(this.file, { topic: row.name, first: at, last: null, reason: (error as Error).message }, error);
    } else {
      return error;
    }
    this.#damage.record({ ...range, foundAt: Date.now() });
    return corruptError(this.file, range, error);
  }

  // ─── Integrity ────────────────────────────────────────────────────────────────────────────

  /**
   * Starts (or restarts) the background check of every stored batch: a few batches per turn of
   * the event loop, so appends and reads go on meanwhile. Damaged ranges appear in damaged().
   * Resolves when the scan is done.
   */
  scanIntegrity(options: { batchesPerTurn?: number } = {}): Promise<IntegrityStatus> {
    if (this.#scanTimer) clearImmediate(this.#scanTimer);
    const scanner = new IntegrityScanner(this.#db, (range) => this.#damage.record(range));
    this.#scanner = scanner;
    this.#scanState = 'scanning';
    const per = options.batchesPerTurn ?? 32;
    // At most ~4 ms of checking per turn (1 MiB batches included), so ingest latency stays flat.
    return new Promise((resolve) => {
      const turn = () => {
        this.#scanTimer = null;
        if (this.#closed || this.#scanner !== scanner) return resolve(this.integrity());
        try {
          if (scanner.step(per, 4) > 0) {
            this.#scanTimer = setImmediate(turn);
            return;
          }
        } catch (error) {
          scanner.fileProblem = `integrity scan failed: ${(error as Error).message}`;
        }
        this.#scanState = 'done';
        resolve(this.integrity());
      };
      this.#scanTimer = setImmediate(turn);
    });
  }

  /** The integrity scan's progress and any problem with the file as a whole. */
  integrity(): IntegrityStatus {
    const s = this.#scanner;
    return {
      scan: this.#scanState,
      checkedBatches: s?.checked ?? 0,
      uncheckedBatches: s?.unchecked ?? 0,
      fileProblem: [s?.fileProblem, this.#commitDamage].filter(Boolean).join('; ') || null,
      retentionBlocked: [...this.#retentionBlocked].map(([topic, message]) => ({ topic, message })),
    };
  }

  /** The recorded damaged range holding `offset` of `topic`, if any (a reader skips to `last + 1`). */
  damagedAt(topic: string, offset: number): DamagedRange | undefined {
    return this.#damage.find(topic, offset);
  }

  /** Damaged ranges found by reads and by the integrity scan that retention has not removed yet. */
  damaged(): DamagedRange[] {
    if (this.#damage.size === 0) return [];
    return this.#damage.list((topic) => {
      try {
        return this.#stmt.topicByName.get(topic)?.low_offset;
      } catch {
        return 0; // cannot tell what retention removed: keep reporting the range
      }
    });
  }

  /**
   * The earliest timestamp in the record batch holding `offset` (or the next one), without decoding
   * it: what a sink's lag in seconds is measured from. Null when there is no such event.
   */
  oldestTs(topic: string, offset: number): number | null {
    const row = this.#stmt.topicByName.get(topic);
    if (!row) return null;
    return this.#stmt.batchMinTs.get(row.id, offset)?.min_ts ?? null;
  }

  /** The topic's current watermarks and counts, or undefined if it does not exist. */
  topic(name: string): TopicInfo | undefined {
    const row = this.#stmt.topicByName.get(name);
    return row ? toTopicInfo(row) : undefined;
  }

  topics(): TopicInfo[] {
    return this.#stmt.allTopics.all().map(toTopicInfo);
  }

  /** Resolves when `topic` has an event at `offset` or later, or after `timeoutMs`/abort (resolves false). */
  waitFor(topic: string, offset: number, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    const row = this.#stmt.topicByName.get(topic);
    if (row && row.next_offset > offset) return Promise.resolve(true);
    if (this.#closed || signal?.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      let set = this.#waiters.get(topic);
      if (!set) this.#waiters.set(topic, (set = new Set()));
      const done = (value: boolean) => {
        clearTimeout(timer);
        set!.delete(wake);
        signal?.removeEventListener('abort', onAbort);
        resolve(value);
      };
      const wake = () => {
        const now = this.#stmt.topicByName.get(topic);
        if (this.#closed || (now && now.next_offset > offset)) done(!this.#closed);
      };
      const onAbort = () => done(false);
      const timer = setTimeout(() => done(false), timeoutMs);
      set.add(wake);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  #wake(topic: string): void {
    const set = this.#waiters.get(topic);
    if (set) for (const wake of [...set]) wake();
  }

  // ─── Cursors ──────────────────────────────────────────────────────────────────────────────

  getCursor(consumer: string, topic: string): number | null {
    const row = this.#stmt.topicByName.get(topic);
    if (!row) return null;
    return this.#stmt.getCursor.get(consumer, row.id)?.next_offset ?? null;
  }

  cursors(consumer?: string): CursorInfo[] {
    const rows = consumer === undefined ? this.#stmt.allCursors.all() : this.#stmt.cursorsOf.all(consumer);
    return rows.map((r) => ({ consumer: r.consumer, topic: r.topic, next: r.next_offset, protects: r.protects === 1, updatedAt: r.updated_at }));
  }

  /**
   * Commits cursors (and optional state) in one durable transaction. A cursor never points past
   * the topic's high watermark.
   */
  commit(cursors: readonly CursorCommit[], state: readonly StateWrite[] = []): void {
    this.#assertWritable();
    const now = this.#now();
    const transaction = this.#db.transaction(() => {
      for (const c of cursors) {
        const row = this.#ensureTopic(c.topic);
        if (!Number.isSafeInteger(c.next) || c.next < 0 || c.next > row.next_offset) {
          throw new SluiceError(
            ErrorCodes.OFFSET_OUT_OF_RANGE,
            `cursor ${c.consumer}/${c.topic}: offset ${c.next} is outside 0..${row.next_offset}`,
          );
        }
        this.#stmt.upsertCursor!.run(c.consumer, row.id, c.next, c.protects ? 1 : 0, now);
      }
      for (const w of state) this.#writeState(w, now);
    });
    try {
      transaction.immediate();
    } catch (cause) {
      // The guard leaves room for cursor commits; if the disk filled anyway, the caller retries.
      if (isSqliteFull(cause)) throw this.#sqliteFull('a cursor commit', cause);
      throw cause;
    }
    for (const c of cursors) this.#events.emit('cursor', c.consumer, c.topic, c.next);
  }

  deleteCursor(consumer: string, topic: string): void {
    this.#assertWritable();
    const row = this.#stmt.topicByName.get(topic);
    if (row) this.#stmt.deleteCursor!.run(consumer, row.id);
  }

  /** Where a position spec points in a topic, relative to the consumer's current cursor for `shift`. */
  resolvePosition(topic: string, spec: PositionSpec, current: number | null): number {
    const info = this.topic(topic);
    const low = info?.low ?? 0;
    const high = info?.high ?? 0;
    if ('earliest' in spec) return low;
    if ('latest' in spec) return high;
    if ('time' in spec) return this.offsetForTime(topic, spec.time);
    if ('offset' in spec) {
      if (!Number.isSafeInteger(spec.offset) || spec.offset < 0) {
        throw new SluiceError(ErrorCodes.OFFSET_OUT_OF_RANGE, `topic "${topic}": offset ${spec.offset} is not a valid offset`);
      }
      if (spec.offset > high) {
        throw new SluiceError(ErrorCodes.OFFSET_OUT_OF_RANGE, `topic "${topic}": offset ${spec.offset} is beyond the end (high watermark ${high})`);
      }
      if (spec.offset < low) {
        throw new SluiceError(
          ErrorCodes.OFFSET_OUT_OF_RANGE,
          `topic "${topic}": offset ${spec.offset} is older than what retention kept (earliest is ${low})`,
        );
      }
      return spec.offset;
    }
    const base = current ?? low;
    return Math.min(high, Math.max(low, base + spec.shift));
  }

  /**
   * Plans (and unless `dryRun`, applies atomically) moving consumers' cursors on topics.
   * A time target older than retention resolves to the earliest kept event.
   */
  moveCursors(moves: readonly { consumer: string; topic: string; spec: PositionSpec; protects?: boolean }[], dryRun: boolean): CursorMove[] {
    const plan: CursorMove[] = moves.map(({ consumer, topic, spec }) => {
      const info = this.topic(topic);
      if (!info) throw new SluiceError(ErrorCodes.TOPIC_NOT_FOUND, `topic "${topic}" does not exist`);
      const current = this.getCursor(consumer, topic);
      const target = this.resolvePosition(topic, spec, current);
      const from = current ?? info.low;
      return {
        consumer,
        topic,
        current,
        target,
        low: info.low,
        high: info.high,
        redeliver: target < from ? from - target : 0,
        skip: target > from ? target - from : 0,
      };
    });
    if (!dryRun) {
      this.commit(
        plan.map((p, i) => ({ consumer: p.consumer, topic: p.topic, next: p.target, protects: moves[i].protects ?? this.#protectsByDefault(p.consumer, p.topic) })),
      );
    }
    return plan;
  }

  #protectsByDefault(consumer: string, topic: string): boolean {
    const row = this.#stmt.topicByName.get(topic);
    const existing = row ? this.#stmt.getCursor.get(consumer, row.id) : undefined;
    if (existing) return existing.protects === 1;
    return this.#protectors.some((p) => p.consumer === consumer && p.matches(topic));
  }

  /**
   * Declares that `consumer` (a sink) protects the topics matching `topics` from retention even
   * before it has a cursor on them. Returns a function that withdraws the protection.
   */
  protect(consumer: string, topics: readonly string[]): () => void {
    const matchers = topics.map((t) => picomatch(t, { dot: true }));
    const protector: Protector = { consumer, matches: (t) => matchers.some((m) => m(t)) };
    this.#protectors.push(protector);
    return () => {
      const i = this.#protectors.indexOf(protector);
      if (i >= 0) this.#protectors.splice(i, 1);
    };
  }

  // ─── State ────────────────────────────────────────────────────────────────────────────────

  getState(namespace: string, key: string): string | null {
    return this.#stmt.getState.get(namespace, key)?.value ?? null;
  }

  listState(namespace: string): { key: string; value: string; updatedAt: number }[] {
    return this.#stmt.listState.all(namespace).map((r) => ({ key: r.key, value: r.value, updatedAt: r.updated_at }));
  }

  putState(writes: readonly StateWrite[]): void {
    this.commit([], writes);
  }

  /** Deletes a namespace's entries not updated since `olderThan` (ms epoch). */
  pruneState(namespace: string, olderThan: number): number {
    this.#assertWritable();
    return this.#stmt.pruneState!.run(namespace, olderThan).changes;
  }

  // ─── Retention ────────────────────────────────────────────────────────────────────────────

  policyFor(topic: string): TopicPolicy {
    for (const p of this.#policies) if (p.match(topic)) return { ...this.#defaults, ...p.policy };
    return this.#defaults;
  }

  /** The offset below which retention may delete: the minimum over protecting cursors and protectors. */
  protectBound(topic: TopicRow): number {
    let bound = topic.next_offset;
    for (const c of this.#stmt.protectingCursors.all(topic.id)) bound = Math.min(bound, c.next_offset);
    for (const p of this.#protectors) {
      if (!p.matches(topic.name)) continue;
      const cursor = this.#stmt.getCursor.get(p.consumer, topic.id);
      bound = Math.min(bound, cursor ? cursor.next_offset : topic.low_offset);
    }
    return bound;
  }

  /**
   * Removes whole record batches from the front of each topic: delivered ones older than the
   * topic's retention or over its byte bound; and, when `needBytes` is given (the channel is
   * full), delivered ones oldest first and then undelivered ones of `drop_oldest` topics, each
   * counted as dropped. Never removes an undelivered event of a `block` topic.
   */
  runRetention(options: { needBytes?: number } = {}): { deletedEvents: number; droppedEvents: number; freedBytes: number } {
    if (this.readonly || this.#closed) return { deletedEvents: 0, droppedEvents: 0, freedBytes: 0 };
    let need = options.needBytes ?? 0;
    let deletedEvents = 0;
    let droppedEvents = 0;
    let freedBytes = 0;
    const now = this.#now();
    const expired: { topic: string; reason: ExpiryReason; n: number }[] = [];
    // Each cut is its own transaction: SQLite cannot delete a row whose pages are damaged, and
    // that error spoils the whole transaction it happens in; one topic's damage must not stop
    // retention of the others. (Retention needs no atomicity across topics.)
    {
      const rows = this.#stmt.allTopics.all();
      const cut = (row: TopicRow, newLow: number, protect: number, reason: ExpiryReason): void => {
        if (newLow <= row.low_offset) return;
        let done: { n: number; b: number; dropped: number } | null;
        try {
          done = this.#db.transaction(() => {
            const { n, b } = this.#stmt.prefixStats.get(row.id, newLow)!;
            if (n === 0) return null;
            const dropped = Math.max(0, newLow - Math.max(protect, row.low_offset));
            this.#stmt.deletePrefix!.run(row.id, newLow);
            this.#stmt.updateTopicRetention!.run(newLow, n, b, dropped, n - dropped, row.id);
            return { n, b, dropped };
          }).immediate();
        } catch (error) {
          if (!isSqliteCorruption(error)) throw error;
          this.#retentionBlocked.set(
            row.name,
            `retention cannot delete the damaged batches of topic "${row.name}" (${(error as Error).message}); salvage the channel with \`sluice doctor ${this.file} --out NEW.db\``,
          );
          return;
        }
        this.#retentionBlocked.delete(row.name);
        if (!done) return;
        const { n, b, dropped } = done;
        row.low_offset = newLow;
        row.bytes -= b;
        row.event_count -= n;
        deletedEvents += n;
        droppedEvents += dropped;
        expired.push({ topic: row.name, reason, n });
        freedBytes += b;
        need -= b;
      };
      const protects = new Map<number, number>();
      // Reading a damaged index page to plan a cut fails like a delete does: that topic is blocked, the others go on.
      const guarded = (row: TopicRow, plan: () => void): void => {
        try {
          plan();
        } catch (error) {
          if (!isSqliteCorruption(error)) throw error;
          this.#retentionBlocked.set(
            row.name,
            `retention cannot read the batches of topic "${row.name}" (${(error as Error).message}); salvage the channel with \`sluice doctor ${this.file} --out NEW.db\``,
          );
        }
      };
      for (const row of rows) {
        const policy = this.policyFor(row.name);
        const protect = this.protectBound(row);
        protects.set(row.id, protect);
        guarded(row, () => {
          // By age: delete the delivered prefix whose batches all arrived before the cutoff.
          if (policy.retentionMs !== null) {
            const kept = this.#stmt.firstKept.get(row.id, protect, now - policy.retentionMs);
            cut(row, kept ? kept.base_offset : Math.min(protect, row.next_offset), protect, 'age');
          }
          // By bytes per topic: delivered batches first.
          if (policy.retentionBytes !== null && row.bytes > policy.retentionBytes) {
            cut(row, this.#prefixEnd(row, row.bytes - policy.retentionBytes, protect), protect, 'size');
          }
        });
      }
      if (need > 0) {
        // Full: delivered events of every topic, oldest topics' batches first.
        for (const row of rows) {
          if (need <= 0) break;
          guarded(row, () => cut(row, this.#prefixEnd(row, need, protects.get(row.id)!), protects.get(row.id)!, 'capacity'));
        }
        for (const row of rows) {
          if (need <= 0) break;
          if (this.policyFor(row.name).whenFull !== 'drop_oldest') continue;
          guarded(row, () => cut(row, this.#prefixEnd(row, need, row.next_offset), protects.get(row.id)!, 'capacity'));
        }
      }
    }
    this.#totalBytes -= freedBytes;
    if (deletedEvents > 0) this.#decoded.clear();
    for (const e of expired) {
      let counts = this.#expired.get(e.topic);
      if (!counts) this.#expired.set(e.topic, (counts = { age: 0, size: 0, capacity: 0 }));
      counts[e.reason] += e.n;
    }
    return { deletedEvents, droppedEvents, freedBytes };
  }

  /**
   * Deletes a topic's events before `before`, as `kafka-delete-records` does, whatever sinks have
   * delivered: whole record batches, so the new low is the first offset of the batch holding
   * `before` (or the high watermark when `before` reaches it). Undelivered events of protecting
   * cursors count as dropped, the rest as expired.
   */
  truncate(topic: string, before: number): { low: number; deletedEvents: number; droppedEvents: number; freedBytes: number } {
    if (this.readonly) throw new SluiceError(ErrorCodes.BAD_INPUT, 'this is a read-only inspection of a channel file: cannot truncate');
    const result = this.#db.transaction(() => {
      const row = this.#stmt.topicByName.get(topic);
      if (!row) throw new SluiceError(ErrorCodes.TOPIC_NOT_FOUND, `topic "${topic}" does not exist`);
      const target = Math.min(before, row.next_offset);
      const holding = target >= row.next_offset ? undefined : this.#stmt.firstKept.get(row.id, target, Number.MAX_SAFE_INTEGER);
      const newLow = holding ? holding.base_offset : row.next_offset;
      if (newLow <= row.low_offset) return { low: row.low_offset, deletedEvents: 0, droppedEvents: 0, freedBytes: 0 };
      const { n, b } = this.#stmt.prefixStats.get(row.id, newLow)!;
      const dropped = Math.min(n, Math.max(0, newLow - Math.max(this.protectBound(row), row.low_offset)));
      this.#stmt.deletePrefix!.run(row.id, newLow);
      this.#stmt.updateTopicRetention!.run(newLow, n, b, dropped, n - dropped, row.id);
      return { low: newLow, deletedEvents: n, droppedEvents: dropped, freedBytes: b };
    }).immediate();
    this.#totalBytes -= result.freedBytes;
    if (result.deletedEvents > 0) this.#decoded.clear();
    return result;
  }

  /**
   * Events retention removed since this channel was opened, by topic and reason (a Prometheus
   * counter: it restarts at 0 with the process; the topic's `expired`/`dropped` totals persist).
   */
  expiredCounts(): { topic: string; reason: ExpiryReason; events: number }[] {
    const out: { topic: string; reason: ExpiryReason; events: number }[] = [];
    for (const [topic, counts] of this.#expired) for (const reason of ['age', 'size', 'capacity'] as const) out.push({ topic, reason, events: counts[reason] });
    return out;
  }

  /** The offset up to which (exclusive) whole batches sum to at least `bytes`, not past `limit`. */
  #prefixEnd(row: TopicRow, bytes: number, limit: number): number {
    let freed = 0;
    let end = row.low_offset;
    for (const b of this.#stmt.prefixBatches.iterate(row.id)) {
      if (freed >= bytes || b.last_offset >= limit) break;
      freed += b.bytes;
      end = b.last_offset + 1;
    }
    return end;
  }

  #safeRetention(): void {
    try {
      this.runRetention();
    } catch (error) {
      this.#events.emit('error', error);
    }
  }

  // ─── Housekeeping ─────────────────────────────────────────────────────────────────────────

  /**
   * Checkpoints on our schedule: PASSIVE after every `checkpointBytes` committed; if the WAL
   * file is still larger than `walMaxBytes`, a TRUNCATE checkpoint, which waits for readers.
   */
  checkpoint(options: { truncate?: boolean } = {}): { walBytes: number } {
    if (this.readonly || this.#closed) return { walBytes: 0 };
    this.#bytesSinceCheckpoint = 0;
    try {
      this.#db.pragma('wal_checkpoint(PASSIVE)');
      let walBytes = this.walBytes();
      if (walBytes > this.#opts.walMaxBytes || (options.truncate && walBytes > 0)) {
        this.#db.pragma('wal_checkpoint(TRUNCATE)');
        walBytes = this.walBytes();
      }
      this.#disk?.checkpointed();
      return { walBytes };
    } catch (cause) {
      if (!isSqliteFull(cause)) throw cause;
      // Copying the WAL into the main file needs room: keep that much free before appending more.
      this.#disk?.owesCheckpoint(this.walBytes());
      throw this.#sqliteFull('a checkpoint', cause);
    }
  }

  /** A checkpoint from a callback: its failure is reported (logged by the collector), never thrown. */
  #safeCheckpoint(): void {
    try {
      this.checkpoint();
    } catch (error) {
      this.#events.emit('error', error);
    }
  }

  /** Gives SQLite's page cache back to the allocator (it refills as pages are read again): runtime/memory.ts, after a burst. */
  releaseMemory(): void {
    if (!this.#closed) this.#db.pragma('shrink_memory');
  }

  walBytes(): number {
    try {
      return statSync(`${this.file}-wal`).size;
    } catch {
      return 0;
    }
  }

  stats(): ChannelStats {
    const topics = this.#stmt.allTopics.all();
    return {
      bytes: this.#totalBytes,
      maxBytes: this.#opts.maxBytes,
      fill: this.#opts.maxBytes > 0 ? this.#totalBytes / this.#opts.maxBytes : 0,
      topics: topics.length,
      events: topics.reduce((a, t) => a + t.event_count, 0),
      walBytes: this.walBytes(),
      ...this.#stats,
      disk: this.#disk?.state() ?? null,
    };
  }

  /** Commits what is pending, then closes. Appends after this reject with CHANNEL_CLOSED. */
  async close(): Promise<void> {
    if (this.#closed) return;
    if (this.#flushTimer) clearTimeout(this.#flushTimer);
    this.#flushTimer = null;
    this.#flush();
    this.#closed = true;
    if (this.#retentionTimer) clearInterval(this.#retentionTimer);
    if (this.#diskTimer) clearInterval(this.#diskTimer);
    if (this.#scanTimer) clearImmediate(this.#scanTimer);
    for (const topic of this.#waiters.keys()) this.#wake(topic);
    if (!this.readonly) {
      try {
        this.#db.pragma('wal_checkpoint(TRUNCATE)');
      } catch {
        // a checkpoint at close is an optimisation; the WAL is replayed on the next open
      }
    }
    this.#db.close();
    if (!this.readonly) releaseWriterLock(this.file);
  }

  get closed(): boolean {
    return this.#closed;
  }

  #ensureTopic(name: string): TopicRow {
    let row = this.#stmt.topicByName.get(name);
    if (!row) {
      if (!isValidTopic(name)) throw new SluiceError(ErrorCodes.TOPIC_INVALID, `invalid topic name "${name}"`);
      this.#stmt.insertTopic!.run(name, this.#now());
      row = this.#stmt.topicByName.get(name)!;
    }
    return row;
  }

  #assertWritable(): void {
    if (this.#closed) throw closedError(this.file);
    if (this.readonly) throw new SluiceError(ErrorCodes.CHANNEL_CLOSED, `channel ${this.file} is open read-only`);
  }
}

/**
 * One writer process per channel file: a second collector on the same folder would assign the
 * same cursors' batches twice and drift the byte accounting. The lock file holds the owner's pid
 * and process start time, so a lock left by a crashed process (or a reused pid) is taken over.
 */
function acquireWriterLock(file: string): void {
  const lock = `${file}.lock`;
  const me = processIdentity(process.pid);
  try {
    const [pid, started] = readFileSync(lock, 'utf8').trim().split(' ');
    const owner = Number(pid);
    if (owner !== process.pid && Number.isInteger(owner) && processIdentity(owner) === `${pid} ${started}`) {
      throw new SluiceError(
        ErrorCodes.CHANNEL_CLOSED,
        `channel ${file} is in use by another Sluice process (pid ${owner}); stop it, or point channel.path at another folder`,
      );
    }
  } catch (error) {
    if (error instanceof SluiceError) throw error;
  }
  try {
    writeFileSync(lock, `${me}\n`);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code !== 'ENOSPC') throw cause;
    throw openError(file, Object.assign(new Error((cause as Error).message), { code: 'SQLITE_FULL' }));
  }
}

function releaseWriterLock(file: string): void {
  try {
    if (readFileSync(`${file}.lock`, 'utf8').trim() === processIdentity(process.pid)) rmSync(`${file}.lock`);
  } catch {
    // already gone
  }
}

/** `pid starttime` from /proc where it exists (Linux), else `pid -` if the process is alive; '' if not. */
function processIdentity(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return `${pid} ${stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]}`;
  } catch {
    try {
      process.kill(pid, 0);
      return `${pid} -`;
    } catch {
      return '';
    }
  }
}

function toTopicInfo(row: TopicRow): TopicInfo {
  return {
    name: row.name,
    low: row.low_offset,
    high: row.next_offset,
    count: row.event_count,
    bytes: row.bytes,
    dropped: row.dropped,
    expired: row.expired,
    createdAt: row.created_at,
    lastTs: row.max_ts,
  };
}

/** A request's events by topic, in order within each topic (most requests have one topic). */
function byTopic(events: readonly EventDraft[]): Iterable<[string, readonly EventDraft[]]> {
  if (events.length === 0) return [];
  const first = events[0].topic;
  let one = true;
  for (let i = 1; i < events.length && one; i++) one = events[i].topic === first;
  if (one) return [[first, events]];
  const topics = new Map<string, EventDraft[]>();
  for (const e of events) {
    let list = topics.get(e.topic);
    if (!list) topics.set(e.topic, (list = []));
    list.push(e);
  }
  return topics;
}

/** An upper estimate of the payload bytes a request adds (bodies plus per-event overhead). */
function estimateBytes(events: readonly EventDraft[]): number {
  let n = 0;
  for (const e of events) {
    n += e.body.length + 16 + (e.key?.length ?? 0);
    for (const k in e.headers) n += k.length + e.headers[k].length + 2;
  }
  return n;
}

/** A stored batch failed its check while being read; #damageError names it to the caller. */
class BatchDamaged extends Error {
  constructor(readonly range: { topic: string; first: number; last: number; reason: string }) {
    super(`topic "${range.topic}": batch at offsets ${range.first}–${range.last}: ${range.reason}`);
  }
}

function closedError(file: string): SluiceError {
  return new SluiceError(ErrorCodes.CHANNEL_CLOSED, `channel ${file} is closed`, { retriable: true });
}

/**
 * On a nearly full disk SQLite can fail to open with an I/O error (growing the -shm file) rather
 * than SQLITE_FULL: with less than 1 MiB free, call it what it is.
 */
function diskFullAtOpen(file: string, error: unknown, probe: FreeSpaceProbe): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !code.startsWith('SQLITE_IOERR')) return error;
  try {
    if (probe(dirname(file)).free >= 1024 * 1024) return error;
  } catch {
    return error;
  }
  return Object.assign(new Error((error as Error).message), { code: 'SQLITE_FULL', cause: error });
}

function isSqliteFull(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'SQLITE_FULL';
}

function diskFullError(reason: string | null, cause?: unknown): SluiceError {
  return new SluiceError(
    ErrorCodes.CHANNEL_FULL,
    `channel refuses new events: ${reason ?? 'the disk is full'}; sinks keep delivering and retention frees delivered events — retry later, free disk space, or lower channel.min_free_space`,
    { retriable: true, retryAfterMs: 1000, cause },
  );
}

function fullError(bytes: number, max: number): SluiceError {
  return new SluiceError(
    ErrorCodes.CHANNEL_FULL,
    `channel full: ${formatBytes(bytes)} of ${formatBytes(max)} used by undelivered events; retry later, raise channel.max_bytes, or set when_full: drop_oldest for topics that may lose old events`,
    { retriable: true, retryAfterMs: 1000 },
  );
}

