/**
 * Cursors and the state store: where each consumer (a sink, a consumer group) is in each topic,
 * which cursors hold events back from retention, and the small durable values sources and sinks
 * keep (tail positions, Kafka offsets, a forward sink's instance id). Every write commits in one
 * transaction on the channel's write connection, which the façade (channel.ts) owns and lends.
 */
import type Database from 'better-sqlite3';
import picomatch from 'picomatch';
import type { TopicInfo } from '../../../shared/src/api/core.ts';
import { ErrorCodes, SluiceError } from '../../../shared/src/errors.ts';
import { isSqliteFull } from './errors.ts';
import type { Statements } from './statements.ts';
import type { ChannelEvents } from './subscriptions.ts';
import type { CursorCommit, CursorInfo, CursorMove, PositionSpec, Protector, StateWrite, TopicRow } from './types.ts';

/** What cursors need of the channel: its connection and statements, topics, the clock, events. */
export interface CursorHost {
  readonly db: Database.Database;
  readonly stmt: Statements;
  readonly events: ChannelEvents;
  now(): number;
  ensureTopic(name: string): TopicRow;
  topic(name: string): TopicInfo | undefined;
  offsetForTime(topic: string, ts: number): number;
  /** Throws when the channel is closed or read-only. */
  assertWritable(): void;
  /** The error (and disk-guard bookkeeping) for SQLITE_FULL during `what`. */
  sqliteFull(what: string, cause: unknown): SluiceError;
}

export class Cursors {
  readonly #host: CursorHost;
  readonly #protectors: Protector[] = [];

  constructor(host: CursorHost) {
    this.#host = host;
  }

  get(consumer: string, topic: string): number | null {
    const row = this.#host.stmt.topicByName.get(topic);
    if (!row) return null;
    return this.#host.stmt.getCursor.get(consumer, row.id)?.next_offset ?? null;
  }

  list(consumer?: string): CursorInfo[] {
    const rows = consumer === undefined ? this.#host.stmt.allCursors.all() : this.#host.stmt.cursorsOf.all(consumer);
    return rows.map((r) => ({ consumer: r.consumer, topic: r.topic, next: r.next_offset, protects: r.protects === 1, updatedAt: r.updated_at }));
  }

  /**
   * Commits cursors (and optional state) in one durable transaction. A cursor never points past
   * the topic's high watermark.
   */
  commit(cursors: readonly CursorCommit[], state: readonly StateWrite[] = []): void {
    this.#host.assertWritable();
    const now = this.#host.now();
    const transaction = this.#host.db.transaction(() => {
      for (const c of cursors) {
        const row = this.#host.ensureTopic(c.topic);
        if (!Number.isSafeInteger(c.next) || c.next < 0 || c.next > row.next_offset) {
          throw new SluiceError(
            ErrorCodes.OFFSET_OUT_OF_RANGE,
            `cursor ${c.consumer}/${c.topic}: offset ${c.next} is outside 0..${row.next_offset}`,
          );
        }
        this.#host.stmt.upsertCursor!.run(c.consumer, row.id, c.next, c.protects ? 1 : 0, now);
      }
      for (const w of state) this.writeState(w, now);
    });
    try {
      transaction.immediate();
    } catch (cause) {
      // The guard leaves room for cursor commits; if the disk filled anyway, the caller retries.
      if (isSqliteFull(cause)) throw this.#host.sqliteFull('a cursor commit', cause);
      throw cause;
    }
    for (const c of cursors) this.#host.events.cursorMoved(c.consumer, c.topic, c.next);
  }

  delete(consumer: string, topic: string): void {
    this.#host.assertWritable();
    const row = this.#host.stmt.topicByName.get(topic);
    if (row) this.#host.stmt.deleteCursor!.run(consumer, row.id);
  }

  /** Where a position spec points in a topic, relative to the consumer's current cursor for `shift`. */
  resolvePosition(topic: string, spec: PositionSpec, current: number | null): number {
    const info = this.#host.topic(topic);
    const low = info?.low ?? 0;
    const high = info?.high ?? 0;
    if ('earliest' in spec) return low;
    if ('latest' in spec) return high;
    if ('time' in spec) return this.#host.offsetForTime(topic, spec.time);
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
  move(moves: readonly { consumer: string; topic: string; spec: PositionSpec; protects?: boolean }[], dryRun: boolean): CursorMove[] {
    const plan: CursorMove[] = moves.map(({ consumer, topic, spec }) => {
      const info = this.#host.topic(topic);
      if (!info) throw new SluiceError(ErrorCodes.TOPIC_NOT_FOUND, `topic "${topic}" does not exist`);
      const current = this.get(consumer, topic);
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
    const row = this.#host.stmt.topicByName.get(topic);
    const existing = row ? this.#host.stmt.getCursor.get(consumer, row.id) : undefined;
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

  // ─── State: small durable values of sources and sinks (positions, instance ids) ──────────

  getState(namespace: string, key: string): string | null {
    return this.#host.stmt.getState.get(namespace, key)?.value ?? null;
  }

  listState(namespace: string): { key: string; value: string; updatedAt: number }[] {
    return this.#host.stmt.listState.all(namespace).map((r) => ({ key: r.key, value: r.value, updatedAt: r.updated_at }));
  }

  putState(writes: readonly StateWrite[]): void {
    this.commit([], writes);
  }

  /** Deletes a namespace's entries not updated since `olderThan` (ms epoch). */
  pruneState(namespace: string, olderThan: number): number {
    this.#host.assertWritable();
    return this.#host.stmt.pruneState!.run(namespace, olderThan).changes;
  }

  /** The offset below which retention may delete: the minimum over protecting cursors and protectors. */
  protectBound(topic: TopicRow): number {
    let bound = topic.next_offset;
    for (const c of this.#host.stmt.protectingCursors.all(topic.id)) bound = Math.min(bound, c.next_offset);
    for (const p of this.#protectors) {
      if (!p.matches(topic.name)) continue;
      const cursor = this.#host.stmt.getCursor.get(p.consumer, topic.id);
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

  /** A state write inside the caller's transaction; `value: null` deletes. */
  writeState(w: StateWrite, now: number): void {
    if (w.value === null) this.#host.stmt.deleteState!.run(w.namespace, w.key);
    else this.#host.stmt.putState!.run(w.namespace, w.key, w.value, now);
  }
}
