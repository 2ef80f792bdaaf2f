/**
 * Channel integrity (issue #12 item 8): a CRC per stored record batch, checked on every read and
 * by a background scan at start; damaged ranges are recorded, reported (health, metrics) and
 * answered with SLUICE_CHANNEL_CORRUPT, never a 500, and never block the ranges around them.
 *
 * What is checked:
 * - `batches.crc` is the CRC-32 (zlib/IEEE, as gzip and zip store it) of `payload`, computed at
 *   append. NULL means "unchecked" (a batch written by schema version 1): such a batch is
 *   damaged only if its payload no longer decodes.
 * - SQLite's own corruption errors (SQLITE_CORRUPT, "database disk image is malformed") on the
 *   row of a batch: the b-tree page or overflow chain holding it is damaged.
 *
 * A damaged range is always whole batches: first = the batch's base offset (or, when the row
 * cannot be read, one past the previous readable batch of the topic), last = its last offset.
 */
import type Database from 'better-sqlite3';
import type { ChannelIntegrity } from '../../../shared/src/api/core.ts';
import { crc32 } from 'node:zlib';
import { ErrorCodes, SluiceError } from '../../../shared/src/errors.ts';
import { decodeBatch, RECORD_FORMAT } from './format.ts';

export interface DamagedRange {
  topic: string;
  first: number;
  last: number;
  /** What is wrong: `crc mismatch`, `undecodable payload`, or SQLite's message. */
  reason: string;
  /** When it was found (ms since epoch). */
  foundAt: number;
}

export interface IntegrityStatus {
  /** `idle` before the start scan, `scanning` while it runs, `done` after. */
  scan: 'idle' | 'scanning' | 'done';
  /** Batches the scan has checked so far. */
  checkedBatches: number;
  /** Batches without a CRC (written by schema version 1): only checked by decoding. */
  uncheckedBatches: number;
  /** A problem with the file as a whole (e.g. the offset index cannot be read), or null. */
  fileProblem: string | null;
  /** Topics whose retention cannot delete a damaged batch (the channel may fill): salvage with doctor. */
  retentionBlocked: { topic: string; message: string }[];
}

/** What health reports about a channel's integrity: its damaged ranges and what cannot be cleaned up. */
export function integrityHealth(channel: {
  file: string;
  damaged(): DamagedRange[];
  integrity(): IntegrityStatus;
}): { integrity: ChannelIntegrity; problems: string[] } {
  const status = channel.integrity();
  const damaged = channel.damaged();
  const problems = damaged.map((r) => corruptError(channel.file, r).message);
  if (status.fileProblem) problems.push(`${channel.file}: ${status.fileProblem}; salvage it with \`sluice doctor ${channel.file} --out NEW.db\``);
  for (const b of status.retentionBlocked) problems.push(b.message);
  return {
    integrity: {
      scan: status.scan,
      checkedBatches: status.checkedBatches,
      uncheckedBatches: status.uncheckedBatches,
      damaged: damaged.map((r) => ({ topic: r.topic, first: r.first, last: r.last, reason: r.reason })),
      retentionBlocked: status.retentionBlocked.map((b) => b.topic),
    },
    problems,
  };
}

/**
 * Reads every row of the small tables every request depends on (meta, topics — by row and by its
 * name index —, cursors, state), so that damage there is found at open, where the file is refused
 * with what to do, rather than as failures of every later request. Cheap: these tables hold a
 * few rows per topic. Throws SQLite's error.
 */
export function checkMetadata(db: Database.Database): void {
  db.prepare('SELECT COUNT(*), MAX(length(value)) FROM meta').get();
  const names = db.prepare('SELECT name, next_offset, low_offset, bytes FROM topics').all() as { name: string }[];
  const byName = db.prepare('SELECT id FROM topics WHERE name = ?');
  for (const t of names) if (byName.get(t.name) === undefined) throw Object.assign(new Error(`topic "${t.name}" is missing from its index`), { code: 'SQLITE_CORRUPT_INDEX' });
  db.prepare('SELECT COUNT(*), MAX(next_offset) FROM cursors').get();
  db.prepare('SELECT COUNT(*), MAX(length(value)) FROM state').get();
}

/** CRC-32 of a stored payload, as an unsigned 32-bit integer. */
export function batchCrc(payload: Uint8Array): number {
  return crc32(payload) >>> 0;
}

/** Whether `error` is SQLite saying the file is damaged (not a busy or full database). */
export function isSqliteCorruption(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB');
}

export function corruptError(file: string, range: { topic: string; first: number; last: number | null; reason: string }, cause?: unknown): SluiceError {
  const where = range.last === null ? `offsets from ${range.first}` : range.first === range.last ? `offset ${range.first}` : `offsets ${range.first}–${range.last}`;
  const skip = range.last === null ? '' : ` or read from offset ${range.last + 1} on`;
  return new SluiceError(
    ErrorCodes.CHANNEL_CORRUPT,
    `topic "${range.topic}": ${where} are damaged in ${file} (${range.reason}); they cannot be read. Salvage the rest with \`sluice doctor ${file} --out NEW.db\`${skip} (a sink: sluice replay SINK --to-offset N --execute)`,
    { cause, where: `${range.topic}@${range.first}` },
  );
}

/** Damaged ranges found so far, by topic; a range is reported until retention removes it. */
export class DamageLog {
  readonly #ranges = new Map<string, DamagedRange>();

  record(range: DamagedRange): boolean {
    const key = `${range.topic}\u0000${range.first}`;
    if (this.#ranges.has(key)) return false;
    this.#ranges.set(key, range);
    return true;
  }

  /** The recorded range holding `offset` of `topic`, if any. */
  find(topic: string, offset: number): DamagedRange | undefined {
    for (const r of this.#ranges.values()) if (r.topic === topic && r.first <= offset && offset <= r.last) return r;
    return undefined;
  }

  /** Ranges still (partly) at or above each topic's low watermark, in topic and offset order. */
  list(lowOf: (topic: string) => number | undefined): DamagedRange[] {
    const out: DamagedRange[] = [];
    for (const [key, r] of this.#ranges) {
      const low = lowOf(r.topic);
      if (low === undefined || r.last < low) this.#ranges.delete(key);
      else out.push(r);
    }
    return out.sort((a, b) => (a.topic === b.topic ? a.first - b.first : a.topic < b.topic ? -1 : 1));
  }

  get size(): number {
    return this.#ranges.size;
  }
}

export interface StoredBatch {
  base_offset: number;
  last_offset: number;
  format: number;
  payload: Buffer;
  crc: number | null;
}

/**
 * Why a stored batch is damaged, or null when it is fine. A batch without a CRC is checked by
 * decoding it; a batch of an unknown record format is not damaged (the reader refuses it with
 * SLUICE_CHANNEL_VERSION instead).
 */
export function batchDamage(topic: string, batch: StoredBatch): string | null {
  if (batch.crc !== null) return batchCrc(batch.payload) === batch.crc ? null : 'crc mismatch';
  if (batch.format !== RECORD_FORMAT) return null;
  try {
    decodeBatch(topic, batch.base_offset, batch.format, batch.payload);
    return null;
  } catch {
    return 'undecodable payload';
  }
}

interface ScanKey {
  id: number;
  topic_id: number;
  last_offset: number;
}

/**
 * Checks every batch of a channel file, a chunk at a time, so the caller can interleave it with
 * other work (the collector runs it between ingest commits; `sluice doctor` runs it straight
 * through). Uses only the offset index to find batches, then reads each row by its id, so one
 * damaged row costs only its own range.
 */
export class IntegrityScanner {
  readonly #db: Database.Database;
  readonly #keys: Database.Statement<[number, number, number], ScanKey>;
  readonly #row: Database.Statement<[number], StoredBatch>;
  readonly #topics = new Map<number, string>();
  readonly #onDamage: (range: DamagedRange) => void;
  #after: [number, number] = [-1, -1];
  /** The last offset of the previous readable batch of the topic being scanned. */
  #prevLast: { topicId: number; last: number } = { topicId: -1, last: -1 };
  done = false;
  checked = 0;
  unchecked = 0;
  fileProblem: string | null = null;

  constructor(db: Database.Database, onDamage: (range: DamagedRange) => void) {
    this.#db = db;
    this.#onDamage = onDamage;
    this.#keys = db.prepare(
      'SELECT id, topic_id, last_offset FROM batches INDEXED BY batches_by_offset WHERE (topic_id, last_offset) > (?, ?) ORDER BY topic_id, last_offset LIMIT ?',
    );
    this.#row = db.prepare('SELECT base_offset, last_offset, format, payload, crc FROM batches WHERE id = ?');
  }

  /** Total batches in the file (for a progress bar). */
  total(): number {
    try {
      return (this.#db.prepare('SELECT COUNT(*) AS n FROM batches INDEXED BY batches_by_offset').get() as { n: number }).n;
    } catch {
      return 0;
    }
  }

  /**
   * Checks up to `maxBatches` batches, stopping early once `budgetMs` has passed (at least one
   * batch is checked); returns how many it checked (0 once done).
   */
  step(maxBatches = 64, budgetMs = Number.POSITIVE_INFINITY): number {
    const deadline = performance.now() + budgetMs;
    if (this.done) return 0;
    let keys: ScanKey[];
    try {
      keys = this.#keys.all(this.#after[0], this.#after[1], maxBatches);
    } catch (error) {
      this.fileProblem = `the offset index of the channel file cannot be read (${(error as Error).message})`;
      this.done = true;
      return 0;
    }
    if (keys.length === 0) {
      this.done = true;
      return 0;
    }
    let checked = 0;
    for (const key of keys) {
      if (checked > 0 && performance.now() > deadline) break;
      checked++;
      const topic = this.#topicName(key.topic_id);
      const prev = this.#prevLast.topicId === key.topic_id ? this.#prevLast.last : null;
      let row: StoredBatch | undefined;
      let reason: string | null;
      try {
        row = this.#row.get(key.id);
        reason = row ? batchDamage(topic, row) : 'row missing';
      } catch (error) {
        if (!isSqliteCorruption(error)) throw error;
        reason = (error as Error).message;
      }
      if (row && row.crc === null) this.unchecked++;
      if (reason !== null) {
        // The row's own base offset is trusted only when its payload, not its header, is what failed.
        const first = row && reason !== 'row missing' && row.last_offset === key.last_offset ? row.base_offset : prev === null ? this.#lowOf(key.topic_id) : prev + 1;
        this.#onDamage({ topic, first: Math.min(first, key.last_offset), last: key.last_offset, reason, foundAt: Date.now() });
      }
      this.#prevLast = { topicId: key.topic_id, last: key.last_offset };
      this.#after = [key.topic_id, key.last_offset];
      this.checked++;
    }
    return checked;
  }

  #topicName(id: number): string {
    let name = this.#topics.get(id);
    if (name === undefined) {
      try {
        name = (this.#db.prepare('SELECT name FROM topics WHERE id = ?').get(id) as { name: string } | undefined)?.name ?? `#${id}`;
      } catch {
        name = `#${id}`;
      }
      this.#topics.set(id, name);
    }
    return name;
  }

  #lowOf(id: number): number {
    try {
      return (this.#db.prepare('SELECT low_offset FROM topics WHERE id = ?').get(id) as { low_offset: number } | undefined)?.low_offset ?? 0;
    } catch {
      return 0;
    }
  }
}

/**
 * Where the batch that stopped a read of `topicId` from `from` is, found through the offset index
 * alone: the first batch at or after `from` whose row cannot be read or fails its check.
 */
export function locateDamage(
  db: Database.Database,
  topic: string,
  topicId: number,
  from: number,
): { topic: string; first: number; last: number; reason: string } | null {
  const keys = db.prepare('SELECT id, last_offset FROM batches INDEXED BY batches_by_offset WHERE topic_id = ? AND last_offset >= ? ORDER BY last_offset LIMIT 10000');
  const row = db.prepare('SELECT base_offset, last_offset, format, payload, crc FROM batches WHERE id = ?');
  const before = db.prepare('SELECT last_offset FROM batches INDEXED BY batches_by_offset WHERE topic_id = ? AND last_offset < ? ORDER BY last_offset DESC LIMIT 1');
  let prev = (before.get(topicId, from) as { last_offset: number } | undefined)?.last_offset ?? from - 1;
  for (const key of keys.all(topicId, from) as { id: number; last_offset: number }[]) {
    try {
      const r = row.get(key.id) as StoredBatch | undefined;
      const reason = r ? batchDamage(topic, r) : 'row missing';
      if (reason !== null) return { topic, first: r && r.last_offset === key.last_offset ? r.base_offset : prev + 1, last: key.last_offset, reason };
    } catch (error) {
      if (!isSqliteCorruption(error)) throw error;
      return { topic, first: prev + 1, last: key.last_offset, reason: (error as Error).message };
    }
    prev = key.last_offset;
  }
  return null;
}
