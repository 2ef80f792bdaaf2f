/**
 * Every SQL statement of the channel, prepared once per connection (STYLE "SQLite"). The tables
 * are schema.ts's; a read-only channel (inspect) gets null for the writing ones.
 */
import type Database from 'better-sqlite3';
import type { BatchRow, TopicRow } from './types.ts';

export type Statements = ReturnType<typeof prepareStatements>;

export function prepareStatements(db: Database.Database, readonly: boolean) {
  return {
    topicByName: db.prepare<[string], TopicRow>('SELECT * FROM topics WHERE name = ?'),
    topicById: db.prepare<[number], TopicRow>('SELECT * FROM topics WHERE id = ?'),
    allTopics: db.prepare<[], TopicRow>('SELECT * FROM topics ORDER BY name'),
    insertTopic: readonly
      ? null
      : db.prepare<[string, number]>('INSERT INTO topics (name, created_at) VALUES (?, ?)'),
    updateTopicAppend: readonly
      ? null
      : db.prepare<[number, number, number, number | null, number]>(
          'UPDATE topics SET next_offset = ?, event_count = event_count + ?, bytes = bytes + ?, max_ts = ? WHERE id = ?',
        ),
    insertBatch: readonly
      ? null
      : db.prepare<[number, number, number, number, number, number, number, number, number, Buffer, number, number]>(
          'INSERT INTO batches (topic_id, base_offset, last_offset, min_ts, max_ts, time_index, count, bytes, format, payload, crc, arrived_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
        ),
    batchesFrom: db.prepare<[number, number], BatchRow>(
      'SELECT id, base_offset, last_offset, format, payload, crc FROM batches WHERE topic_id = ? AND last_offset >= ? ORDER BY last_offset',
    ),
    storedFrom: db.prepare<[number, number], BatchRow & { min_ts: number; max_ts: number }>(
      'SELECT id, base_offset, last_offset, min_ts, max_ts, format, payload, crc FROM batches WHERE topic_id = ? AND last_offset >= ? ORDER BY last_offset',
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
    deletePrefix: readonly ? null : db.prepare<[number, number]>('DELETE FROM batches WHERE topic_id = ? AND last_offset < ?'),
    updateTopicRetention: readonly
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
    upsertCursor: readonly
      ? null
      : db.prepare<[string, number, number, number, number]>(
          'INSERT INTO cursors (consumer, topic_id, next_offset, protects, updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (consumer, topic_id) DO UPDATE SET next_offset = excluded.next_offset, protects = excluded.protects, updated_at = excluded.updated_at',
        ),
    deleteCursor: readonly ? null : db.prepare<[string, number]>('DELETE FROM cursors WHERE consumer = ? AND topic_id = ?'),
    getState: db.prepare<[string, string], { value: string }>('SELECT value FROM state WHERE namespace = ? AND key = ?'),
    listState: db.prepare<[string], { key: string; value: string; updated_at: number }>(
      'SELECT key, value, updated_at FROM state WHERE namespace = ? ORDER BY key',
    ),
    putState: readonly
      ? null
      : db.prepare<[string, string, string, number]>(
          'INSERT INTO state (namespace, key, value, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at',
        ),
    deleteState: readonly ? null : db.prepare<[string, string]>('DELETE FROM state WHERE namespace = ? AND key = ?'),
    pruneState: readonly ? null : db.prepare<[string, number]>('DELETE FROM state WHERE namespace = ? AND updated_at < ?'),
  };
}
