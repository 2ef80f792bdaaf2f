/**
 * The durable channel (DESIGN §3): a SQLite log of topics with dense offsets, group commit,
 * cursors, retention and back-pressure. The contract is docs/specs/channel.md.
 *
 * Threading: better-sqlite3 is synchronous and this class owns the only write connection, so
 * every transaction runs to completion inside one call; nothing is ever awaited inside one.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { TopicInfo } from '../../../shared/src/api/core.ts';
import type { EventDraft, StoredEvent } from '../../../shared/src/event.ts';
import { isValidTopic } from '../../../shared/src/event.ts';
import { ErrorCodes, SluiceError } from '../../../shared/src/errors.ts';
import { formatBytes } from '../../../shared/src/format.ts';
import { statfsProbe, type DiskState } from './disk.ts';
import { checkMetadata, DamageLog, IntegrityScanner, isSqliteCorruption, type DamagedRange, type IntegrityStatus } from './integrity.ts';
import { BatchWriter, byTopic, encodedBytes, encodedEvents, estimateBytes } from './batches.ts';
import { Cursors } from './cursors.ts';
import { closedError, diskFullAtOpen, fullError, isSqliteFull } from './errors.ts';
import { ensureSchema, openError } from './schema.ts';
import { Reader } from './reads.ts';
import { Retention } from './retention.ts';
import { carriesEvents, ChannelSpace } from './space.ts';
import { prepareStatements, type Statements } from './statements.ts';
import { ChannelEvents, TopicWaiters } from './subscriptions.ts';
import {
  type AppendRequest,
  type AppendResult,
  type ChannelOptions,
  type ChannelStats,
  type CursorCommit,
  type CursorInfo,
  type CursorMove,
  type ExpiryReason,
  type OffsetRange,
  type PendingAppend,
  type PositionSpec,
  type ReadOptions,
  type StateWrite,
  type StoredBatch,
  type TopicPolicy,
  type TopicRow,
} from './types.ts';
import { acquireWriterLock, releaseWriterLock } from './writer-lock.ts';

export type {
  AppendRequest,
  AppendResult,
  ChannelOptions,
  ChannelStats,
  CursorCommit,
  CursorInfo,
  CursorMove,
  ExpiryReason,
  OffsetRange,
  PositionSpec,
  ReadOptions,
  StateWrite,
  StoredBatch,
  SynchronousLevel,
  TopicBatch,
  TopicInfo,
  TopicPolicy,
  WhenFull,
} from './types.ts';

export class Channel {
  readonly file: string;
  readonly readonly: boolean;
  /** Subscribers, through the typed on…() methods below; as many as there are sinks and tails. */
  readonly #events = new ChannelEvents();

  readonly #db: Database.Database;
  readonly #opts: Required<Omit<ChannelOptions, 'defaults' | 'topics' | 'readonly' | 'now' | 'file' | 'minFreeSpace' | 'freeSpaceProbe' | 'integrityScan'>>;
  readonly #now: () => number;
  readonly #waiters = new TopicWaiters({ high: (topic) => this.#stmt.topicByName.get(topic)?.next_offset, closed: () => this.#closed });
  /** Recently decoded batches by row id (see #decode). */
  #pending: PendingAppend[] = [];
  #pendingEvents = 0;
  #flushTimer: NodeJS.Timeout | null = null;
  #flushScheduled = false;
  #closed = false;
  #retentionTimer: NodeJS.Timeout | null = null;
  #totalBytes = 0;
  #stats = { commits: 0, appendedEvents: 0, rejectedFull: 0, rejectedDisk: 0 };
  readonly #damage = new DamageLog();
  #scanner: IntegrityScanner | null = null;
  #scanState: IntegrityStatus['scan'] = 'idle';
  #scanTimer: NodeJS.Immediate | null = null;
  /** Set when a commit failed on a damaged page; cleared by the next commit that succeeds. */
  #commitDamage: string | null = null;
  readonly #stmt: Statements;
  readonly #cursors: Cursors;
  readonly #reader: Reader;
  readonly #batches: BatchWriter;
  readonly #retention: Retention;
  readonly #space: ChannelSpace;
  #diskTimer: NodeJS.Timeout | null = null;

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
      this.#stmt = prepareStatements(this.#db, this.readonly);
      this.#reader = new Reader(this.#db, this.#stmt, this.file, this.#damage);
      this.#batches = new BatchWriter(this.#stmt, this.#opts);
      this.#retention = new Retention(
        {
          db: this.#db,
          stmt: this.#stmt,
          file: this.file,
          readonly: this.readonly,
          closed: () => this.#closed,
          now: this.#now,
          protectBound: (row) => this.#cursors.protectBound(row),
          freed: (bytes, events) => {
            this.#totalBytes -= bytes;
            if (events > 0) this.#reader.forgetDecoded();
          },
        },
        options.defaults,
        options.topics,
      );
      this.#cursors = new Cursors({
        db: this.#db,
        stmt: this.#stmt,
        events: this.#events,
        now: this.#now,
        ensureTopic: (name) => this.#ensureTopic(name),
        topic: (name) => this.topic(name),
        offsetForTime: (topic, ts) => this.offsetForTime(topic, ts),
        assertWritable: () => this.#assertWritable(),
        sqliteFull: (what, cause) => this.#space.sqliteFull(what, cause),
      });
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
    this.#space = new ChannelSpace(
      {
        db: this.#db,
        file: this.file,
        readonly: this.readonly,
        events: this.#events,
        opts: this.#opts,
        closed: () => this.#closed,
        now: this.#now,
        runRetention: (needBytes) => void this.runRetention({ needBytes }),
      },
      options,
    );
    if (!this.readonly) {
      // Probes once a second, so health and /metrics are current and a full channel notices
      // space coming back (and frees what it can) even when nobody appends.
      this.#diskTimer = setInterval(() => this.#space.housekeeping(), 1000);
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
    return this.#events.on('append', listener);
  }

  /** After a cursor was committed or moved (a replay, a reset): the consumer, topic and next offset. */
  onCursorMoved(listener: (consumer: string, topic: string, next: number) => void): () => void {
    return this.#events.on('cursor', listener);
  }

  /** When the disk guard starts or stops refusing events. */
  onDisk(listener: (state: DiskState) => void): () => void {
    return this.#events.on('disk', listener);
  }

  /** A background task (retention, checkpoint, the integrity scan) failed; the channel goes on. */
  onError(listener: (error: unknown) => void): () => void {
    return this.#events.on('error', listener);
  }

  /** How many subscribe to an event (tests check that subscribers leave). */
  subscribers(event: 'append' | 'cursor' | 'disk' | 'error'): number {
    return this.#events.count(event);
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
    let batched = 0;
    for (const batch of request.batches ?? []) {
      if (!isValidTopic(batch.topic)) {
        return Promise.reject(new SluiceError(ErrorCodes.TOPIC_INVALID, `invalid topic name "${batch.topic}": use 1–249 letters, digits, '.', '_' or '-'`));
      }
      if (!(batch.count >= 1)) return Promise.reject(new SluiceError(ErrorCodes.BAD_INPUT, `a record batch for "${batch.topic}" must hold at least one event`));
      batched += batch.count;
    }
    return new Promise<AppendResult>((resolve, reject) => {
      this.#pending.push({ request, resolve, reject });
      this.#pendingEvents += request.events.length + batched;
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

    const incoming = group.map((p) => estimateBytes(p.request.events) + encodedBytes(p.request.batches));
    let admitted: boolean[];
    let diskRefusal: SluiceError | null = null;
    try {
      diskRefusal = this.#space.admit(group);
      admitted = diskRefusal ? group.map((p) => !carriesEvents(p.request)) : this.#admit(incoming, group);
    } catch (cause) {
      const error = isSqliteFull(cause) ? this.#space.sqliteFull('retention making room', cause) : cause;
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
          for (const batch of request.batches ?? []) {
            let topic = pending.get(batch.topic);
            if (!topic) pending.set(batch.topic, (topic = { row: topicRow(batch.topic), events: [] }));
            // Offsets in arrival order: events of this topic pending from earlier requests go first.
            if (topic.events.length > 0) {
              committedBytes += this.#batches.writeEvents(topic.row, topic.events, this.#now());
              topic.events = [];
            }
            const first = topic.row.next_offset;
            committedBytes += this.#batches.insert(topic.row, batch, this.#now());
            ranges.push({ topic: batch.topic, first, last: first + batch.count - 1 });
          }
          const now = this.#now();
          if (request.dedupe) this.#stmt.putState!.run(request.dedupe.namespace, request.dedupe.key, String(now), now);
          for (const w of request.state ?? []) this.#cursors.writeState(w, now);
          outcomes[g] = { duplicate: false, ranges };
        }
        for (const [name, { row, events }] of pending) {
          committedBytes += this.#batches.writeEvents(row, events, this.#now());
          highs.set(name, row.next_offset);
        }
      }).immediate();
    } catch (cause) {
      // A commit that runs into a damaged page (an index, say) fails every time: health must say so.
      if (isSqliteCorruption(cause)) this.#commitDamage = `commits fail: the file is damaged (${(cause as Error).message})`;
      const error = isSqliteFull(cause)
        ? this.#space.sqliteFull('a commit', cause)
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
    this.#space.wrote(committedBytes);
    this.#stats.commits++;
    for (let g = 0; g < group.length; g++) {
      const outcome = outcomes[g];
      if (outcome instanceof SluiceError) {
        if (outcome === diskRefusal) this.#stats.rejectedDisk++;
        else this.#stats.rejectedFull++;
        group[g].reject(outcome);
      } else {
        if (!outcome.duplicate) this.#stats.appendedEvents += group[g].request.events.length + encodedEvents(group[g].request.batches);
        group[g].resolve(outcome);
      }
    }
    for (const [topic, high] of highs) {
      this.#events.appended(topic, high);
      this.#waiters.wake(topic);
    }
    this.#space.checkpointIfDue();
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
    return this.#reader.read(topic, from, options);
  }

  /** As `read`, but the stored record batches, undecoded and CRC-checked (reads.ts). */
  readStored(topic: string, from: number, options: ReadOptions = {}): StoredBatch[] {
    return this.#reader.readStored(topic, from, options);
  }

  /** Events before offset `before`, newest last, at most `maxEvents` — for paging backward. */
  readBefore(topic: string, before: number, maxEvents: number): StoredEvent[] {
    return this.#reader.readBefore(topic, before, maxEvents);
  }

  /** The newest `n` events of a topic, oldest first. */
  readLast(topic: string, n: number): StoredEvent[] {
    return this.#reader.readLast(topic, n);
  }

  /**
   * The first offset whose event has ts ≥ `ts` (Kafka's ListOffsets by time). Returns the high
   * watermark when no stored event is that recent.
   */
  offsetForTime(topic: string, ts: number): number {
    return this.#reader.offsetForTime(topic, ts);
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
      retentionBlocked: [...this.#retention.blocked].map(([topic, message]) => ({ topic, message })),
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
    return this.#reader.oldestTs(topic, offset);
  }

  /** The topic's current watermarks and counts, or undefined if it does not exist. */
  topic(name: string): TopicInfo | undefined {
    return this.#reader.topic(name);
  }

  topics(): TopicInfo[] {
    return this.#reader.topics();
  }

  /** Resolves when `topic` has an event at `offset` or later, or after `timeoutMs`/abort (resolves false). */
  waitFor(topic: string, offset: number, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    return this.#waiters.wait(topic, offset, timeoutMs, signal);
  }

  // ─── Cursors ──────────────────────────────────────────────────────────────────────────────

  getCursor(consumer: string, topic: string): number | null {
    return this.#cursors.get(consumer, topic);
  }

  cursors(consumer?: string): CursorInfo[] {
    return this.#cursors.list(consumer);
  }

  /**
   * Commits cursors (and optional state) in one durable transaction. A cursor never points past
   * the topic's high watermark.
   */
  commit(cursors: readonly CursorCommit[], state: readonly StateWrite[] = []): void {
    this.#cursors.commit(cursors, state);
  }

  deleteCursor(consumer: string, topic: string): void {
    this.#cursors.delete(consumer, topic);
  }

  /** Where a position spec points in a topic, relative to the consumer's current cursor for `shift`. */
  resolvePosition(topic: string, spec: PositionSpec, current: number | null): number {
    return this.#cursors.resolvePosition(topic, spec, current);
  }

  /**
   * Plans (and unless `dryRun`, applies atomically) moving consumers' cursors on topics.
   * A time target older than retention resolves to the earliest kept event.
   */
  moveCursors(moves: readonly { consumer: string; topic: string; spec: PositionSpec; protects?: boolean }[], dryRun: boolean): CursorMove[] {
    return this.#cursors.move(moves, dryRun);
  }

  /**
   * Declares that `consumer` (a sink) protects the topics matching `topics` from retention even
   * before it has a cursor on them. Returns a function that withdraws the protection.
   */
  protect(consumer: string, topics: readonly string[]): () => void {
    return this.#cursors.protect(consumer, topics);
  }

  // ─── State ────────────────────────────────────────────────────────────────────────────────

  getState(namespace: string, key: string): string | null {
    return this.#cursors.getState(namespace, key);
  }

  listState(namespace: string): { key: string; value: string; updatedAt: number }[] {
    return this.#cursors.listState(namespace);
  }

  putState(writes: readonly StateWrite[]): void {
    this.#cursors.putState(writes);
  }

  /** Deletes a namespace's entries not updated since `olderThan` (ms epoch). */
  pruneState(namespace: string, olderThan: number): number {
    return this.#cursors.pruneState(namespace, olderThan);
  }

  // ─── Retention ────────────────────────────────────────────────────────────────────────────

  policyFor(topic: string): TopicPolicy {
    return this.#retention.policyFor(topic);
  }

  /** The offset below which retention may delete: the minimum over protecting cursors and protectors. */
  protectBound(topic: TopicRow): number {
    return this.#cursors.protectBound(topic);
  }

  /** Runs retention now (it also runs on a timer, and when an append needs room); retention.ts. */
  runRetention(options: { needBytes?: number } = {}): { deletedEvents: number; droppedEvents: number; freedBytes: number } {
    return this.#retention.run(options);
  }

  /**
   * Deletes a topic's events before `before`, as `kafka-delete-records` does, whatever sinks have
   * delivered (whole record batches); retention.ts.
   */
  truncate(topic: string, before: number): { low: number; deletedEvents: number; droppedEvents: number; freedBytes: number } {
    return this.#retention.truncate(topic, before);
  }

  /**
   * Events retention removed since this channel was opened, by topic and reason (a Prometheus
   * counter: it restarts at 0 with the process; the topic's `expired`/`dropped` totals persist).
   */
  expiredCounts(): { topic: string; reason: ExpiryReason; events: number }[] {
    return this.#retention.expiredCounts();
  }

  #safeRetention(): void {
    try {
      this.runRetention();
    } catch (error) {
      this.#events.error(error);
    }
  }

  // ─── Housekeeping ─────────────────────────────────────────────────────────────────────────

  /**
   * Checkpoints on our schedule: PASSIVE after every `checkpointBytes` committed; if the WAL
   * file is still larger than `walMaxBytes`, a TRUNCATE checkpoint, which waits for readers (space.ts).
   */
  checkpoint(options: { truncate?: boolean } = {}): { walBytes: number } {
    return this.#space.checkpoint(options);
  }

  /** Gives SQLite's page cache back to the allocator (it refills as pages are read again): runtime/memory.ts, after a burst. */
  releaseMemory(): void {
    if (!this.#closed) this.#db.pragma('shrink_memory');
  }

  walBytes(): number {
    return this.#space.walBytes();
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
      disk: this.#space.disk?.state() ?? null,
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
    this.#waiters.wakeAll();
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
