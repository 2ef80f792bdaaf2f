/**
 * Test support: a channel file exactly as Sluice schema version 1 wrote it, to test the 1 → 2
 * migration (the DDL below is version 1's, frozen). Not used in production.
 */
import Database from 'better-sqlite3';
import { makeEvent } from '../../../shared/src/event.ts';
import { encodeBatch, RECORD_FORMAT } from './format.ts';

const V1 = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE topics (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, next_offset INTEGER NOT NULL DEFAULT 0, low_offset INTEGER NOT NULL DEFAULT 0,
event_count INTEGER NOT NULL DEFAULT 0, bytes INTEGER NOT NULL DEFAULT 0, max_ts INTEGER, dropped INTEGER NOT NULL DEFAULT 0,
expired INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL);
CREATE TABLE batches (id INTEGER PRIMARY KEY, topic_id INTEGER NOT NULL REFERENCES topics(id), base_offset INTEGER NOT NULL, last_offset INTEGER NOT NULL,
min_ts INTEGER NOT NULL, max_ts INTEGER NOT NULL, time_index INTEGER NOT NULL, count INTEGER NOT NULL, bytes INTEGER NOT NULL, format INTEGER NOT NULL, payload BLOB NOT NULL);
CREATE UNIQUE INDEX batches_by_offset ON batches(topic_id, last_offset);
CREATE INDEX batches_by_time ON batches(topic_id, time_index, last_offset);
CREATE TABLE cursors (consumer TEXT NOT NULL, topic_id INTEGER NOT NULL REFERENCES topics(id), next_offset INTEGER NOT NULL, protects INTEGER NOT NULL,
updated_at INTEGER NOT NULL, PRIMARY KEY (consumer, topic_id)) WITHOUT ROWID;
CREATE TABLE state (namespace TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, updated_at INTEGER NOT NULL, PRIMARY KEY (namespace, key)) WITHOUT ROWID;
`;

/** A file as Sluice schema 1 wrote it: topic t, offsets 0–2 (bodies a, b, c; ts 1000). */
export function writeV1(file: string): void {
  const db = new Database(file);
  db.exec(V1);
  db.prepare(`INSERT INTO meta VALUES ('schema_version', '1'), ('created_by', 'sluice'), ('created_at', '2026-01-01T00:00:00Z')`).run();
  db.prepare(`INSERT INTO topics (id, name, next_offset, event_count, bytes, max_ts, created_at) VALUES (1, 't', 3, 3, ?, 1000, 0)`).run(0);
  const batch = encodeBatch([makeEvent('t', 'a', { ts: 1000 }), makeEvent('t', 'b', { ts: 1000 }), makeEvent('t', 'c', { ts: 1000 })]);
  db.prepare('INSERT INTO batches (topic_id, base_offset, last_offset, min_ts, max_ts, time_index, count, bytes, format, payload) VALUES (1, 0, 2, ?, ?, ?, 3, ?, ?, ?)').run(
    batch.minTs, batch.maxTs, batch.maxTs, batch.payload.length, RECORD_FORMAT, batch.payload,
  );
  db.prepare('UPDATE topics SET bytes = ?').run(batch.payload.length);
  db.pragma('user_version = 1');
  db.close();
}
