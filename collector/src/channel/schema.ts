/**
 * The channel database schema, version 2. `PRAGMA user_version` holds the schema version and the
 * `meta` table names the writer; a newer version is refused, never misread; version 1 is migrated
 * in place (below).
 *
 *   topics   one row per topic. next_offset is stored, not derived from MAX(offset), so offsets
 *            are never reused — not after retention empties a topic, not after a restart.
 *   batches  record batches (format.ts). time_index is the running maximum of max_ts over the
 *            topic in offset order: monotone, so "first offset with ts ≥ T" is an index seek, as
 *            Kafka's time index is. `crc` is the CRC-32 (zlib/IEEE) of `payload`, computed at
 *            append and checked on every read (integrity.ts); NULL means "unchecked": a batch
 *            written by schema version 1. `arrived_at` is when the batch was committed (ms since
 *            epoch, the channel's clock): retention by age counts from it, never from the events'
 *            own timestamps. Both columns come after `payload` in the row (ADD COLUMN appends),
 *            i.e. in its overflow pages: retention reads `arrived_at` from the covering index
 *            batches_by_arrival, never from the row, so it never walks a payload.
 *   cursors  (consumer, topic) → next offset to deliver. `protects` cursors (sinks) hold back
 *            retention; consumer-group cursors do not, as in Kafka.
 *   state    small keyed values committed atomically with appends: tail positions, forward
 *            chunk ids seen, Kafka source offsets.
 */
import Database from 'better-sqlite3';
import { ErrorCodes, SluiceError } from '../../../shared/src/errors.ts';

export const SCHEMA_VERSION = 2;

const DDL = `
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE topics (
  id          INTEGER PRIMARY KEY,
  name        TEXT NOT NULL UNIQUE,
  next_offset INTEGER NOT NULL DEFAULT 0,
  low_offset  INTEGER NOT NULL DEFAULT 0,
  event_count INTEGER NOT NULL DEFAULT 0,
  bytes       INTEGER NOT NULL DEFAULT 0,
  max_ts      INTEGER,
  dropped     INTEGER NOT NULL DEFAULT 0,
  expired     INTEGER NOT NULL DEFAULT 0,
  created_at  INTEGER NOT NULL
);
CREATE TABLE batches (
  id          INTEGER PRIMARY KEY,
  topic_id    INTEGER NOT NULL REFERENCES topics(id),
  base_offset INTEGER NOT NULL,
  last_offset INTEGER NOT NULL,
  min_ts      INTEGER NOT NULL,
  max_ts      INTEGER NOT NULL,
  time_index  INTEGER NOT NULL,
  count       INTEGER NOT NULL,
  bytes       INTEGER NOT NULL,
  format      INTEGER NOT NULL,
  payload     BLOB NOT NULL,
  crc         INTEGER,
  arrived_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX batches_by_offset ON batches(topic_id, last_offset);
CREATE INDEX batches_by_time ON batches(topic_id, time_index, last_offset);
CREATE INDEX batches_by_arrival ON batches(topic_id, last_offset, arrived_at, base_offset);
CREATE TABLE cursors (
  consumer    TEXT NOT NULL,
  topic_id    INTEGER NOT NULL REFERENCES topics(id),
  next_offset INTEGER NOT NULL,
  protects    INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL,
  PRIMARY KEY (consumer, topic_id)
) WITHOUT ROWID;
CREATE TABLE state (
  namespace  TEXT NOT NULL,
  key        TEXT NOT NULL,
  value      TEXT NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (namespace, key)
) WITHOUT ROWID;
`;

/**
 * The refusal for a channel file SQLite cannot open or read: names the file, says what is wrong
 * in plain words and what to do (as the schema-version refusals do).
 */
export function openError(file: string, cause: unknown): SluiceError {
  if (cause instanceof SluiceError) return cause;
  const code = (cause as { code?: unknown } | null)?.code;
  const message = (cause as Error | null)?.message ?? String(cause);
  if (code === 'SQLITE_NOTADB') {
    return new SluiceError(
      ErrorCodes.CHANNEL_VERSION,
      `${file} is not a SQLite database (another kind of file, or its first page is overwritten): point channel.path at a folder holding a Sluice channel.db, or move this file away to start an empty channel; if it was a channel, \`sluice doctor ${file}\` says what is left`,
      { cause },
    );
  }
  if (code === 'SQLITE_FULL') {
    return new SluiceError(
      ErrorCodes.CHANNEL_FULL,
      `cannot open channel file ${file}: the disk holding it is full; free some space there (or point channel.path at another disk) and start again — nothing stored is lost`,
      { cause, retriable: true },
    );
  }
  if (typeof code === 'string' && code.startsWith('SQLITE_CORRUPT')) {
    return new SluiceError(
      ErrorCodes.CHANNEL_CORRUPT,
      `${file} is damaged (${message}): it may be truncated or partly overwritten. Salvage every readable batch with \`sluice doctor ${file} --out NEW.db\`, move the damaged file away and put NEW.db in its place as channel.db`,
      { cause },
    );
  }
  return new SluiceError(ErrorCodes.CHANNEL_VERSION, `cannot open channel file ${file}: ${message}; check the path and its permissions (channel.path)`, { cause });
}

/** Creates the schema in an empty database, or checks that an existing one is ours and current. */
export function ensureSchema(db: Database.Database, file: string, readonly: boolean): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).all() as { name: string }[];
  if (version === 0 && tables.length === 0) {
    if (readonly) throw new SluiceError(ErrorCodes.CHANNEL_VERSION, `${file} is empty: not a Sluice channel file`);
    db.transaction(() => {
      db.exec(DDL);
      db.prepare(`INSERT INTO meta (key, value) VALUES ('schema_version', ?), ('created_by', ?), ('created_at', ?)`).run(
        String(SCHEMA_VERSION),
        'sluice',
        new Date().toISOString(),
      );
      db.pragma(`user_version = ${SCHEMA_VERSION}`);
    })();
    return;
  }
  const isOurs = tables.some((t) => t.name === 'meta') && tables.some((t) => t.name === 'batches');
  if (!isOurs) {
    throw new SluiceError(
      ErrorCodes.CHANNEL_VERSION,
      `${file} is not a Sluice channel file (user_version ${version}, no Sluice tables); point channel.path at an empty folder`,
    );
  }
  if (version > SCHEMA_VERSION) {
    throw new SluiceError(
      ErrorCodes.CHANNEL_VERSION,
      `${file} was written by a newer Sluice (schema version ${version}; this build reads up to ${SCHEMA_VERSION}): upgrade Sluice, or point channel.path at another folder`,
    );
  }
  if (version < SCHEMA_VERSION) {
    if (version === 1 && !readonly) {
      migrateFrom1(db);
      return;
    }
    throw new SluiceError(
      ErrorCodes.CHANNEL_VERSION,
      version === 1
        ? `${file} has schema version 1 and is open read-only, so it cannot be upgraded to ${SCHEMA_VERSION}; open it once with a collector (sluice start) to upgrade it, or use the Sluice version that wrote it`
        : `${file} has schema version ${version}, which this build cannot read (it reads ${SCHEMA_VERSION}); export it with the Sluice version that wrote it`,
    );
  }
}

/**
 * Upgrades a *copy* of a channel file of an older schema in place, so a read-only look at it
 * (`sluice inspect`) works on files from older edges. Anything else is left for the reader to
 * accept or refuse.
 */
export function upgradeCopy(file: string): void {
  let db: Database.Database;
  try {
    db = new Database(file);
  } catch {
    return;
  }
  try {
    if (db.pragma('user_version', { simple: true }) === 1) ensureSchema(db, file, false);
  } catch {
    // the read-only open that follows reports what is wrong with the file
  } finally {
    db.close();
  }
}

/**
 * 1 → 2: adds `crc` and `arrived_at` to `batches` in one transaction, without rewriting a row
 * (ALTER TABLE ADD COLUMN is O(1) in SQLite). Existing batches keep `crc` NULL ("unchecked":
 * computing it now would bless whatever is already damaged, and rewrite every payload) and get
 * the migration time as `arrived_at`: their real arrival is unknown, and the later bound never
 * expires an event earlier than retention promised.
 */
function migrateFrom1(db: Database.Database): void {
  const now = Date.now();
  db.transaction(() => {
    db.exec(`ALTER TABLE batches ADD COLUMN crc INTEGER`);
    db.exec(`ALTER TABLE batches ADD COLUMN arrived_at INTEGER NOT NULL DEFAULT ${now}`);
    // Old rows do not hold arrived_at (the default is in the schema): building this index reads
    // only their record headers, never their payloads.
    db.exec(`CREATE INDEX batches_by_arrival ON batches(topic_id, last_offset, arrived_at, base_offset)`);
    db.prepare(`INSERT INTO meta (key, value) VALUES ('migrated_from_1_at', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`).run(new Date(now).toISOString());
    db.prepare(`UPDATE meta SET value = ? WHERE key = 'schema_version'`).run(String(SCHEMA_VERSION));
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}
