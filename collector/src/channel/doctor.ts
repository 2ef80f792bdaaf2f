/**
 * `sluice doctor`'s work on a channel file: report what SQLite and the per-batch checks find
 * (integrity.ts), and salvage every readable batch into a new channel file.
 *
 * The salvaged file is an ordinary channel file of the current schema. Offsets are kept as they
 * were (a cursor or a consumer's position still means the same event); a damaged range becomes a
 * gap, which readers treat as events retention dropped (a sink logs it and moves on). Topics keep
 * their next offset, so offsets are never reused; cursors and state are copied; batches written
 * before CRCs existed get one now (they decoded, so they are sound).
 */
import Database from 'better-sqlite3';
import { existsSync, statSync } from 'node:fs';
import { ErrorCodes, SluiceError } from '../../../shared/src/errors.ts';
import { Channel } from './channel.ts';
import { batchCrc, IntegrityScanner, isSqliteCorruption, type DamagedRange } from './integrity.ts';
import { openError, SCHEMA_VERSION } from './schema.ts';

export interface DoctorReport {
  file: string;
  schemaVersion: number;
  /** SQLite's `PRAGMA quick_check`: ['ok'] or its findings (at most 20). */
  sqliteCheck: string[];
  batches: number;
  checkedBatches: number;
  uncheckedBatches: number;
  damaged: DamagedRange[];
  fileProblem: string | null;
  salvage?: SalvageResult;
}

export interface SalvageResult {
  out: string;
  topics: number;
  batches: number;
  events: number;
  /** Batches not copied: damaged, or unreadable while copying. */
  lostBatches: number;
}

export interface DoctorOptions {
  /** Salvage every readable batch into this new file (must not exist). */
  out?: string;
  /** Called as batches are checked, then copied: (phase, done, total). */
  progress?: (phase: 'check' | 'salvage', done: number, total: number) => void;
}

/** Opens a channel file read-only for checking; refusals name the file and what to do. */
function openForCheck(file: string): Database.Database {
  if (!existsSync(file) || !statSync(file).isFile()) throw new SluiceError(ErrorCodes.BAD_INPUT, `${file}: no such file`);
  let db: Database.Database;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    db.pragma('user_version', { simple: true });
    db.prepare(`SELECT name FROM sqlite_master LIMIT 1`).all();
  } catch (cause) {
    throw openError(file, cause);
  }
  return db;
}

export async function runDoctor(file: string, options: DoctorOptions = {}): Promise<DoctorReport> {
  if (options.out && existsSync(options.out)) {
    throw new SluiceError(ErrorCodes.BAD_INPUT, `--out ${options.out} already exists; name a new file (doctor never overwrites)`);
  }
  const db = openForCheck(file);
  try {
    const schemaVersion = db.pragma('user_version', { simple: true }) as number;
    const tables = (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).all() as { name: string }[]).map((t) => t.name);
    if (!tables.includes('batches') || !tables.includes('topics')) {
      throw new SluiceError(ErrorCodes.CHANNEL_VERSION, `${file} is not a Sluice channel file (no Sluice tables); there is nothing to check or salvage`);
    }
    if (schemaVersion > SCHEMA_VERSION) {
      throw new SluiceError(ErrorCodes.CHANNEL_VERSION, `${file} was written by a newer Sluice (schema version ${schemaVersion}; this build reads up to ${SCHEMA_VERSION}): use that version's sluice doctor`);
    }
    let sqliteCheck: string[];
    try {
      sqliteCheck = (db.prepare('PRAGMA quick_check(20)').all() as { quick_check: string }[]).map((r) => r.quick_check);
    } catch (error) {
      sqliteCheck = [`quick_check could not run: ${(error as Error).message}`];
    }
    const damaged: DamagedRange[] = [];
    const scanner = new IntegrityScanner(db, (r) => damaged.push(r));
    const total = scanner.total();
    options.progress?.('check', 0, total);
    while (scanner.step(256) > 0) {
      options.progress?.('check', scanner.checked, total);
      await new Promise((r) => setImmediate(r));
    }
    const report: DoctorReport = {
      file,
      schemaVersion,
      sqliteCheck,
      batches: total,
      checkedBatches: scanner.checked,
      uncheckedBatches: scanner.unchecked,
      damaged,
      fileProblem: scanner.fileProblem,
    };
    if (options.out) report.salvage = await salvage(db, options.out, damaged, options.progress);
    return report;
  } finally {
    db.close();
  }
}

interface SourceBatch {
  id: number;
  topic_id: number;
  base_offset: number;
  last_offset: number;
  min_ts: number;
  max_ts: number;
  time_index: number;
  count: number;
  bytes: number;
  format: number;
  payload: Buffer;
  crc: number | null;
  arrived_at: number | null;
}

async function salvage(
  src: Database.Database,
  out: string,
  damaged: readonly DamagedRange[],
  progress: DoctorOptions['progress'],
): Promise<SalvageResult> {
  // The new file gets the current schema from the channel itself, then rows are copied in.
  await Channel.open({ file: out, retentionIntervalMs: 0, integrityScan: false }).close();
  const dst = new Database(out);
  try {
    dst.pragma('journal_mode = WAL');
    dst.pragma('synchronous = FULL');
    const columns = new Set((src.prepare('PRAGMA table_info(batches)').all() as { name: string }[]).map((c) => c.name));
    const crcCol = columns.has('crc') ? 'crc' : 'NULL AS crc';
    const arrivedCol = columns.has('arrived_at') ? 'arrived_at' : 'NULL AS arrived_at';
    const now = Date.now();
    const topics = src.prepare('SELECT * FROM topics ORDER BY id').all() as { id: number; name: string; next_offset: number; low_offset: number; max_ts: number | null; dropped: number; expired: number; created_at: number }[];
    const damagedBy = new Map<string, DamagedRange[]>();
    for (const d of damaged) damagedBy.set(d.topic, [...(damagedBy.get(d.topic) ?? []), d]);
    const keys = src.prepare('SELECT id, last_offset FROM batches INDEXED BY batches_by_offset WHERE topic_id = ? ORDER BY last_offset');
    const row = src.prepare(`SELECT id, topic_id, base_offset, last_offset, min_ts, max_ts, time_index, count, bytes, format, payload, ${crcCol}, ${arrivedCol} FROM batches WHERE id = ?`);
    const insertTopic = dst.prepare('INSERT INTO topics (id, name, next_offset, low_offset, event_count, bytes, max_ts, dropped, expired, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
    const insertBatch = dst.prepare(
      'INSERT INTO batches (topic_id, base_offset, last_offset, min_ts, max_ts, time_index, count, bytes, format, payload, crc, arrived_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    const total = (src.prepare('SELECT COUNT(*) AS n FROM batches INDEXED BY batches_by_offset').get() as { n: number }).n;
    let done = 0;
    let copied = 0;
    let events = 0;
    let lost = 0;
    progress?.('salvage', 0, total);
    const updateTopic = dst.prepare('UPDATE topics SET low_offset = ?, event_count = ?, bytes = ?, dropped = ? WHERE id = ?');
    for (const topic of topics) {
      insertTopic.run(topic.id, topic.name, topic.next_offset, topic.low_offset, 0, 0, topic.max_ts, topic.dropped, topic.expired, topic.created_at);
      const bad = damagedBy.get(topic.name) ?? [];
      let count = 0;
      let bytes = 0;
      let low: number | null = null;
      let lostEvents = 0;
      let prevLast = topic.low_offset - 1;
      const pending: SourceBatch[] = [];
      const flush = () => {
        dst.transaction(() => {
          for (const b of pending) {
            insertBatch.run(topic.id, b.base_offset, b.last_offset, b.min_ts, b.max_ts, b.time_index, b.count, b.bytes, b.format, b.payload, b.crc ?? batchCrc(b.payload), b.arrived_at ?? now);
          }
        })();
        pending.length = 0;
      };
      for (const key of keys.all(topic.id) as { id: number; last_offset: number }[]) {
        done++;
        const hit = bad.find((d) => d.first <= key.last_offset && key.last_offset <= d.last);
        let batch: SourceBatch | undefined;
        if (!hit) {
          try {
            batch = row.get(key.id) as SourceBatch | undefined;
            if (batch && batch.crc !== null && batchCrc(batch.payload) !== batch.crc) batch = undefined;
          } catch (error) {
            if (!isSqliteCorruption(error)) throw error;
            batch = undefined;
          }
        }
        const skipped = key.last_offset - prevLast;
        prevLast = key.last_offset;
        if (!batch) {
          lost++;
          lostEvents += skipped;
          continue;
        }
        pending.push(batch);
        low ??= batch.base_offset;
        count += batch.count;
        bytes += batch.bytes;
        copied++;
        events += batch.count;
        if (pending.length >= 64) {
          flush();
          progress?.('salvage', done, total);
          await new Promise((r) => setImmediate(r));
        }
      }
      flush();
      // Lost events count as dropped: they are gone, and nobody can say they were delivered.
      updateTopic.run(low ?? topic.next_offset, count, bytes, topic.dropped + lostEvents, topic.id);
    }
    copyTable(src, dst, 'cursors', ['consumer', 'topic_id', 'next_offset', 'protects', 'updated_at']);
    copyTable(src, dst, 'state', ['namespace', 'key', 'value', 'updated_at']);
    dst.prepare(`INSERT INTO meta (key, value) VALUES ('salvaged_from', ?), ('salvaged_at', ?)`).run(src.name, new Date(now).toISOString());
    progress?.('salvage', total, total);
    // One self-contained file: the collector that opens it switches it back to WAL.
    dst.pragma('journal_mode = DELETE');
    return { out, topics: topics.length, batches: copied, events, lostBatches: lost };
  } finally {
    dst.close();
  }
}

/** Copies a small table row by row; a damaged row is skipped, not fatal. */
function copyTable(src: Database.Database, dst: Database.Database, table: string, columns: string[]): void {
  const list = columns.join(', ');
  const insert = dst.prepare(`INSERT OR IGNORE INTO ${table} (${list}) VALUES (${columns.map(() => '?').join(', ')})`);
  let rows: unknown[][];
  try {
    rows = src.prepare(`SELECT ${list} FROM ${table}`).raw().all() as unknown[][];
  } catch (error) {
    if (!isSqliteCorruption(error)) throw error;
    return;
  }
  dst.transaction(() => {
    for (const r of rows) insert.run(...r);
  })();
}
