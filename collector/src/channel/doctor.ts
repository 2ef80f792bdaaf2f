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
import { batchCrc, batchDamage, IntegrityScanner, isSqliteCorruption, type DamagedRange } from './integrity.ts';
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
    return await examine(db, file, options);
  } catch (error) {
    if (!isSqliteCorruption(error)) throw error;
    throw new SluiceError(
      ErrorCodes.CHANNEL_CORRUPT,
      `${file} is too damaged to salvage (${(error as Error).message}): SQLite cannot read its schema or its list of topics. Restore it from a backup, or move it away and start with an empty channel`,
      { cause: error },
    );
  } finally {
    db.close();
  }
}

async function examine(db: Database.Database, file: string, options: DoctorOptions): Promise<DoctorReport> {
  {
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
    if (options.out) report.salvage = await salvage(db, options.out, total || scanner.checked, options.progress);
    return report;
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
  expected: number,
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
    const topics = new Map<number, SourceTopic & { count: number; bytes: number; low: number | null }>();
    for (const t of src.prepare('SELECT * FROM topics ORDER BY id').all() as SourceTopic[]) topics.set(t.id, { ...t, count: 0, bytes: 0, low: null });
    const row = src.prepare(`SELECT id, topic_id, base_offset, last_offset, min_ts, max_ts, time_index, count, bytes, format, payload, ${crcCol}, ${arrivedCol} FROM batches WHERE id = ?`);
    const insertBatch = dst.prepare(
      'INSERT INTO batches (topic_id, base_offset, last_offset, min_ts, max_ts, time_index, count, bytes, format, payload, crc, arrived_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    // Topics first (batches reference them), with their counts filled in at the end.
    const insertTopic = dst.prepare('INSERT INTO topics (id, name, next_offset, low_offset, event_count, bytes, max_ts, dropped, expired, created_at) VALUES (?, ?, ?, ?, 0, 0, ?, ?, ?, ?)');
    dst.transaction(() => {
      for (const t of topics.values()) insertTopic.run(t.id, t.name, t.next_offset, t.low_offset, t.max_ts, t.dropped, t.expired, t.created_at);
    })();
    let done = 0;
    let copied = 0;
    let events = 0;
    let lost = 0;
    progress?.('salvage', 0, expected);
    // Batches are found in row order through the table itself, not the offset index: a damaged
    // index must not hide batches that are sound. A damaged table page is stepped over (rowIds).
    for (const ids of rowIds(src)) {
      const good: SourceBatch[] = [];
      for (const id of ids) {
        done++;
        let batch: SourceBatch | undefined;
        try {
          batch = row.get(id) as SourceBatch | undefined;
        } catch (error) {
          if (!isSqliteCorruption(error)) throw error;
        }
        const topic = batch && topics.get(batch.topic_id);
        const sound =
          batch !== undefined &&
          topic !== undefined &&
          batch.base_offset >= 0 &&
          batch.last_offset - batch.base_offset + 1 === batch.count &&
          batch.last_offset < topic.next_offset &&
          batchDamage(topic.name, batch) === null;
        if (!sound) {
          lost++;
          continue;
        }
        good.push(batch!);
      }
      dst.transaction(() => {
        for (const b of good) {
          try {
            insertBatch.run(b.topic_id, b.base_offset, b.last_offset, b.min_ts, b.max_ts, b.time_index, b.count, b.bytes, b.format, b.payload, b.crc ?? batchCrc(b.payload), b.arrived_at ?? now);
          } catch {
            lost++; // a duplicate offset range: a damaged row that still passed its checks
            continue;
          }
          const t = topics.get(b.topic_id)!;
          t.count += b.count;
          t.bytes += b.bytes;
          t.low = t.low === null ? b.base_offset : Math.min(t.low, b.base_offset);
          copied++;
          events += b.count;
        }
      })();
      progress?.('salvage', Math.min(done, expected), expected);
      await new Promise((r) => setImmediate(r));
    }
    const updateTopic = dst.prepare('UPDATE topics SET low_offset = ?, event_count = ?, bytes = ?, dropped = ? WHERE id = ?');
    dst.transaction(() => {
      for (const t of topics.values()) {
        // Events of the kept range that were not salvaged count as dropped: gone, and nobody can say they were delivered.
        const lostEvents = Math.max(0, t.next_offset - t.low_offset - t.count);
        updateTopic.run(t.low ?? t.next_offset, t.count, t.bytes, t.dropped + lostEvents, t.id);
      }
    })();
    copyTable(src, dst, 'cursors', ['consumer', 'topic_id', 'next_offset', 'protects', 'updated_at']);
    copyTable(src, dst, 'state', ['namespace', 'key', 'value', 'updated_at']);
    dst.prepare(`INSERT INTO meta (key, value) VALUES ('salvaged_from', ?), ('salvaged_at', ?)`).run(src.name, new Date(now).toISOString());
    progress?.('salvage', expected, expected);
    // One self-contained file: the collector that opens it switches it back to WAL.
    dst.pragma('journal_mode = DELETE');
    return { out, topics: topics.size, batches: copied, events, lostBatches: lost };
  } finally {
    dst.close();
  }
}

interface SourceTopic {
  id: number;
  name: string;
  next_offset: number;
  low_offset: number;
  max_ts: number | null;
  dropped: number;
  expired: number;
  created_at: number;
}

/**
 * The row ids of `batches` in order, 256 at a time, reading only the table's leaf pages. Where a
 * page cannot be read, the next readable id is found by probing forward (doubling, then halving
 * back), so only the rows of the damaged page are skipped.
 */
function* rowIds(src: Database.Database): Generator<number[]> {
  const next = src.prepare('SELECT id FROM batches WHERE id > ? ORDER BY id LIMIT 256').pluck();
  const limit = 2 ** 52;
  let after = -1;
  for (;;) {
    const ids: number[] = [];
    let failed = false;
    try {
      for (const id of next.iterate(after) as IterableIterator<number>) ids.push(id);
    } catch (error) {
      if (!isSqliteCorruption(error)) throw error;
      failed = true;
    }
    if (ids.length > 0) {
      yield ids;
      after = ids[ids.length - 1];
      if (!failed) continue;
    } else if (!failed) {
      return;
    }
    // `id > after` fails: find the least `a > after` for which `id > a` reads again.
    const reads = (a: number): boolean => {
      try {
        next.get(a);
        return true;
      } catch (error) {
        if (!isSqliteCorruption(error)) throw error;
        return false;
      }
    };
    let bad = after;
    let step = 1;
    while (bad + step < limit && !reads(bad + step)) {
      bad += step;
      step *= 2;
    }
    if (bad + step >= limit) return;
    let good = bad + step;
    while (good - bad > 1) {
      const mid = Math.floor((bad + good) / 2);
      if (reads(mid)) good = mid;
      else bad = mid;
    }
    after = good;
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
