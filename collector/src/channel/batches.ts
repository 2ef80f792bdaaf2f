/**
 * Writing record batches inside a commit (format.ts holds the batch format): a topic's events cut
 * into batches of at most `maxBatchEvents` / about `maxBatchBytes`, each stored at the topic's next
 * offset with its CRC and arrival time, and the topic row advanced. Runs only inside the
 * transaction of a group commit (channel.ts); nothing here commits or awaits.
 */
import type { EventDraft } from '../../../shared/src/event.ts';
import { RECORD_FORMAT, encodeBatch, type EncodedBatch } from './format.ts';
import { batchCrc } from './integrity.ts';
import type { Statements } from './statements.ts';
import type { TopicBatch, TopicRow } from './types.ts';

export class BatchWriter {
  readonly #stmt: Statements;
  readonly #maxBatchEvents: number;
  readonly #maxBatchBytes: number;

  constructor(stmt: Statements, limits: { maxBatchEvents: number; maxBatchBytes: number }) {
    this.#stmt = stmt;
    this.#maxBatchEvents = limits.maxBatchEvents;
    this.#maxBatchBytes = limits.maxBatchBytes;
  }

  /** Writes one topic's events as record batches; returns the payload bytes written. */
  writeEvents(row: TopicRow, events: EventDraft[], arrivedAt: number): number {
    let written = 0;
    let start = 0;
    while (start < events.length) {
      let end = start;
      let raw = 0;
      while (end < events.length && end - start < this.#maxBatchEvents && (end === start || raw < this.#maxBatchBytes)) {
        raw += events[end].body.length + 64;
        end++;
      }
      written += this.insert(row, encodeBatch(events, start, end), arrivedAt);
      start = end;
    }
    return written;
  }

  /** Stores one encoded record batch at the topic's next offset; returns its payload bytes. */
  insert(row: TopicRow, batch: EncodedBatch, arrivedAt: number): number {
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
    return batch.payload.length;
  }
}

/** A request's events by topic, in order within each topic (most requests have one topic). */
export function byTopic(events: readonly EventDraft[]): Iterable<[string, readonly EventDraft[]]> {
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

export function encodedBytes(batches: readonly TopicBatch[] | undefined): number {
  let n = 0;
  for (const b of batches ?? []) n += b.payload.length;
  return n;
}

export function encodedEvents(batches: readonly TopicBatch[] | undefined): number {
  let n = 0;
  for (const b of batches ?? []) n += b.count;
  return n;
}

/** An upper estimate of the payload bytes a request adds (bodies plus per-event overhead). */
export function estimateBytes(events: readonly EventDraft[]): number {
  let n = 0;
  for (const e of events) {
    n += e.body.length + 16 + (e.key?.length ?? 0);
    for (const k in e.headers) n += k.length + e.headers[k].length + 2;
  }
  return n;
}
