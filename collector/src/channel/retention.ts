/**
 * Retention: deletes whole record batches from the front of topics — by age since arrival, by a
 * topic's byte bound, and when the channel is full (delivered events first; undelivered ones only
 * of `drop_oldest` topics) — never past what protecting cursors still need. Every cut is counted
 * by reason. A topic whose batches cannot be deleted (damaged pages) is reported, and the others go on.
 */
import type Database from 'better-sqlite3';
import picomatch from 'picomatch';
import { ErrorCodes, SluiceError } from '../../../shared/src/errors.ts';
import { isSqliteCorruption } from './integrity.ts';
import type { Statements } from './statements.ts';
import { DEFAULT_POLICY, type ExpiryReason, type TopicPolicy, type TopicRow } from './types.ts';

/** What retention needs of the channel: its connection, the clock, the cursors' bound, and whom to tell what it freed. */
export interface RetentionHost {
  readonly db: Database.Database;
  readonly stmt: Statements;
  readonly file: string;
  readonly readonly: boolean;
  closed(): boolean;
  now(): number;
  /** The offset below which retention may delete (cursors.ts). */
  protectBound(topic: TopicRow): number;
  /** After deleting: the payload bytes freed and the events deleted. */
  freed(bytes: number, events: number): void;
}

export class Retention {
  readonly #host: RetentionHost;
  readonly #defaults: TopicPolicy;
  readonly #policies: { match: (t: string) => boolean; policy: Partial<TopicPolicy> }[];
  readonly #expired = new Map<string, Record<ExpiryReason, number>>();
  /** Topics retention could not cut, with why (integrity().retentionBlocked). */
  readonly blocked = new Map<string, string>();

  constructor(host: RetentionHost, defaults: Partial<TopicPolicy> | undefined, topics: Record<string, Partial<TopicPolicy>> | undefined) {
    this.#host = host;
    this.#defaults = { ...DEFAULT_POLICY, ...defaults };
    this.#policies = Object.entries(topics ?? {}).map(([pattern, policy]) => ({
      match: picomatch(pattern, { dot: true }),
      policy,
    }));
  }

  policyFor(topic: string): TopicPolicy {
    for (const p of this.#policies) if (p.match(topic)) return { ...this.#defaults, ...p.policy };
    return this.#defaults;
  }

  run(options: { needBytes?: number } = {}): { deletedEvents: number; droppedEvents: number; freedBytes: number } {
    if (this.#host.readonly || this.#host.closed()) return { deletedEvents: 0, droppedEvents: 0, freedBytes: 0 };
    let need = options.needBytes ?? 0;
    let deletedEvents = 0;
    let droppedEvents = 0;
    let freedBytes = 0;
    const now = this.#host.now();
    const expired: { topic: string; reason: ExpiryReason; n: number }[] = [];
    // Each cut is its own transaction: SQLite cannot delete a row whose pages are damaged, and
    // that error spoils the whole transaction it happens in; one topic's damage must not stop
    // retention of the others. (Retention needs no atomicity across topics.)
    {
      const rows = this.#host.stmt.allTopics.all();
      const cut = (row: TopicRow, newLow: number, protect: number, reason: ExpiryReason): void => {
        if (newLow <= row.low_offset) return;
        let done: { n: number; b: number; dropped: number } | null;
        try {
          done = this.#host.db.transaction(() => {
            const { n, b } = this.#host.stmt.prefixStats.get(row.id, newLow)!;
            if (n === 0) return null;
            const dropped = Math.max(0, newLow - Math.max(protect, row.low_offset));
            this.#host.stmt.deletePrefix!.run(row.id, newLow);
            this.#host.stmt.updateTopicRetention!.run(newLow, n, b, dropped, n - dropped, row.id);
            return { n, b, dropped };
          }).immediate();
        } catch (error) {
          if (!isSqliteCorruption(error)) throw error;
          this.blocked.set(
            row.name,
            `retention cannot delete the damaged batches of topic "${row.name}" (${(error as Error).message}); salvage the channel with \`sluice doctor ${this.#host.file} --out NEW.db\``,
          );
          return;
        }
        this.blocked.delete(row.name);
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
          this.blocked.set(
            row.name,
            `retention cannot read the batches of topic "${row.name}" (${(error as Error).message}); salvage the channel with \`sluice doctor ${this.#host.file} --out NEW.db\``,
          );
        }
      };
      for (const row of rows) {
        const policy = this.policyFor(row.name);
        const protect = this.#host.protectBound(row);
        protects.set(row.id, protect);
        guarded(row, () => {
          // By age: delete the delivered prefix whose batches all arrived before the cutoff.
          if (policy.retentionMs !== null) {
            const kept = this.#host.stmt.firstKept.get(row.id, protect, now - policy.retentionMs);
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
    this.#host.freed(freedBytes, deletedEvents);
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
    if (this.#host.readonly) throw new SluiceError(ErrorCodes.BAD_INPUT, 'this is a read-only inspection of a channel file: cannot truncate');
    const result = this.#host.db.transaction(() => {
      const row = this.#host.stmt.topicByName.get(topic);
      if (!row) throw new SluiceError(ErrorCodes.TOPIC_NOT_FOUND, `topic "${topic}" does not exist`);
      const target = Math.min(before, row.next_offset);
      const holding = target >= row.next_offset ? undefined : this.#host.stmt.firstKept.get(row.id, target, Number.MAX_SAFE_INTEGER);
      const newLow = holding ? holding.base_offset : row.next_offset;
      if (newLow <= row.low_offset) return { low: row.low_offset, deletedEvents: 0, droppedEvents: 0, freedBytes: 0 };
      const { n, b } = this.#host.stmt.prefixStats.get(row.id, newLow)!;
      const dropped = Math.min(n, Math.max(0, newLow - Math.max(this.#host.protectBound(row), row.low_offset)));
      this.#host.stmt.deletePrefix!.run(row.id, newLow);
      this.#host.stmt.updateTopicRetention!.run(newLow, n, b, dropped, n - dropped, row.id);
      return { low: newLow, deletedEvents: n, droppedEvents: dropped, freedBytes: b };
    }).immediate();
    this.#host.freed(result.freedBytes, result.deletedEvents);
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
    for (const b of this.#host.stmt.prefixBatches.iterate(row.id)) {
      if (freed >= bytes || b.last_offset >= limit) break;
      freed += b.bytes;
      end = b.last_offset + 1;
    }
    return end;
  }
}
