/**
 * Reading the log: events by offset (forward and backward), stored batches as they are (batch
 * forwarding), seeks by time, topics' watermarks. Every batch read is checked against its CRC; a
 * damaged one ends the read with SLUICE_CHANNEL_CORRUPT naming the range (integrity.ts). Reads
 * run on the channel's connection, outside any transaction.
 */
import type Database from 'better-sqlite3';
import type { TopicInfo } from '../../../shared/src/api/core.ts';
import type { StoredEvent } from '../../../shared/src/event.ts';
import { BatchDamaged } from './errors.ts';
import { decodeBatch } from './format.ts';
import { batchDamage, corruptError, isSqliteCorruption, locateDamage, type DamageLog } from './integrity.ts';
import type { Statements } from './statements.ts';
import type { BatchRow, ReadOptions, StoredBatch, TopicRow } from './types.ts';

export class Reader {
  readonly #db: Database.Database;
  readonly #stmt: Statements;
  readonly #file: string;
  readonly #damage: DamageLog;
  /** The last decoded batches by row id (a reader paging through a batch decodes it once). */
  readonly #decoded = new Map<number, StoredEvent[]>();

  constructor(db: Database.Database, stmt: Statements, file: string, damage: DamageLog) {
    this.#db = db;
    this.#stmt = stmt;
    this.#file = file;
    this.#damage = damage;
  }

  /** Retention deleted batches: their row ids may come back, so decoded batches are forgotten. */
  forgetDecoded(): void {
    this.#decoded.clear();
  }

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

  /**
   * As `read`, but the stored record batches themselves, undecoded and CRC-checked — for a sink
   * that sends them on as they are (forward to a Sluice hub). Whole batches, except that the
   * first may start before `from` and the last is cut at `maxEvents` (their `first`/`last` say
   * which offsets belong to the read); `maxBytes` counts payload bytes. A damaged batch ends the
   * read as in `read`.
   */
  readStored(topic: string, from: number, options: ReadOptions = {}): StoredBatch[] {
    const row = this.#stmt.topicByName.get(topic);
    if (!row) return [];
    const maxEvents = options.maxEvents ?? 1000;
    const maxBytes = options.maxBytes ?? Number.POSITIVE_INFINITY;
    const start = Math.max(from, row.low_offset);
    const out: StoredBatch[] = [];
    let events = 0;
    let bytes = 0;
    let at = start;
    try {
      for (const batch of this.#stmt.storedFrom.iterate(row.id, start)) {
        at = Math.max(start, batch.base_offset);
        const damage = batchDamage(topic, batch);
        if (damage !== null) throw new BatchDamaged({ topic, first: batch.base_offset, last: batch.last_offset, reason: damage });
        const first = Math.max(start, batch.base_offset);
        const last = Math.min(batch.last_offset, first + (maxEvents - events) - 1);
        out.push({ baseOffset: batch.base_offset, lastOffset: batch.last_offset, first, last, minTs: batch.min_ts, maxTs: batch.max_ts, format: batch.format, payload: batch.payload });
        events += last - first + 1;
        bytes += batch.payload.length;
        if (events >= maxEvents || bytes >= maxBytes) return out;
      }
    } catch (error) {
      const damage = this.#damageError(error, row, at);
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
      if (!range) return corruptError(this.#file, { topic: row.name, first: at, last: null, reason: (error as Error).message }, error);
    } else {
      return error;
    }
    this.#damage.record({ ...range, foundAt: Date.now() });
    return corruptError(this.#file, range, error);
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
}

export function toTopicInfo(row: TopicRow): TopicInfo {
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
