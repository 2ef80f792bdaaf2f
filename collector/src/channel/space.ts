/**
 * The channel's space on disk: the free-space guard (disk.ts) applied to commit groups and probed
 * once a second, SQLITE_FULL turned into a retryable refusal that says why, and checkpoints on our
 * own schedule — PASSIVE every `checkpointBytes` (fewer on a filling disk), TRUNCATE when the WAL
 * outgrows `walMaxBytes` — so a long reader cannot grow the WAL without bound.
 */
import type Database from 'better-sqlite3';
import { statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { SluiceError } from '../../../shared/src/errors.ts';
import { DiskGuard, type FreeSpaceProbe, type MinFreeSpace } from './disk.ts';
import { diskFullError, isSqliteFull } from './errors.ts';
import type { ChannelEvents } from './subscriptions.ts';
import type { AppendRequest, PendingAppend } from './types.ts';

/** What the space keeper needs of the channel. */
export interface SpaceHost {
  readonly db: Database.Database;
  readonly file: string;
  readonly readonly: boolean;
  readonly events: ChannelEvents;
  readonly opts: { checkpointBytes: number; walMaxBytes: number };
  closed(): boolean;
  now(): number;
  /** Retention asked to free `needBytes` of delivered events. */
  runRetention(needBytes: number): void;
}

export class ChannelSpace {
  readonly #host: SpaceHost;
  /** The free-space guard; null for a read-only channel. */
  readonly disk: DiskGuard | null = null;
  #diskWasFull = false;
  #diskRetentionAt = 0;
  #pageSize = 4096;
  #bytesSinceCheckpoint = 0;

  constructor(host: SpaceHost, options: { minFreeSpace?: MinFreeSpace; freeSpaceProbe?: FreeSpaceProbe }) {
    this.#host = host;
    if (host.readonly) return;
    this.#pageSize = host.db.pragma('page_size', { simple: true }) as number;
    this.disk = new DiskGuard({ dir: dirname(host.file), min: options.minFreeSpace ?? 'auto', probe: options.freeSpaceProbe, now: host.now });
    // Health is right from the start; the first housekeeping run reports (emits `disk`) a disk already short.
    this.disk.refuses(() => this.reusableBytes());
  }

  /** After a commit wrote `bytes`; schedules a checkpoint once enough was written since the last. */
  wrote(bytes: number): void {
    this.#bytesSinceCheckpoint += bytes;
    this.disk?.wrote(bytes);
  }

  checkpointIfDue(): void {
    if (this.#bytesSinceCheckpoint >= this.#checkpointEvery()) setImmediate(() => this.safeCheckpoint());
  }

  /**
   * Bytes committed between checkpoints: `checkpointBytes`, but at most a quarter of the free
   * disk space (at least 1 MiB) — a checkpoint copies the WAL into the main file, which needs
   * that much room, so on a small or filling disk the WAL is kept small. Free space is the last
   * probe less what was committed since: a fast writer can fill the disk between two probes, and
   * a WAL larger than the room left cannot be checkpointed until more than it is freed.
   */
  #checkpointEvery(): number {
    const free = this.disk?.estimatedFreeBytes ?? -1;
    if (free < 0) return this.#host.opts.checkpointBytes;
    return Math.min(this.#host.opts.checkpointBytes, Math.max(1024 * 1024, Math.floor(free / 4)));
  }

  /**
   * The free-space guard for a commit group: when the disk is short, delivered events are
   * removed first (at most once a second: their pages are reused by the next appends), and if
   * it is still short every request carrying events (or a peer's record batches) is refused.
   * Returns the refusal, or null.
   */
  admit(group: PendingAppend[]): SluiceError | null {
    const disk = this.disk;
    if (!disk || !group.some((p) => carriesEvents(p.request))) return null;
    const reusable = () => this.reusableBytes();
    if (disk.refuses(reusable) && this.#host.now() - this.#diskRetentionAt >= 1000) {
      this.#diskRetentionAt = this.#host.now();
      const short = disk.shortfall(reusable());
      if (short > 0) this.#host.runRetention(short);
      disk.refuses(reusable);
    }
    this.noteTransition();
    return disk.full ? diskFullError(disk.state().reason) : null;
  }

  /** Bytes SQLite can reuse inside the file (free pages) before it must grow it. */
  reusableBytes(): number {
    return (this.#host.db.pragma('freelist_count', { simple: true }) as number) * this.#pageSize;
  }

  /** Records SQLITE_FULL seen during `what` and returns the error to give callers. */
  sqliteFull(what: string, cause: unknown): SluiceError {
    this.disk?.sawSqliteFull(what);
    this.noteTransition();
    return diskFullError(this.disk?.state().reason ?? `the disk is full: ${what} failed with SQLITE_FULL`, cause);
  }

  noteTransition(): void {
    const full = this.disk?.full ?? false;
    if (full !== this.#diskWasFull) {
      this.#diskWasFull = full;
      this.#host.events.disk(this.disk!.state());
    }
  }

  /**
   * Once a second: probe the disk; while it is short, remove delivered events to make room and
   * retry a checkpoint the disk refused earlier (it truncates the WAL once it succeeds).
   */
  housekeeping(): void {
    const disk = this.disk;
    if (!disk || this.#host.closed()) return;
    try {
      const reusable = () => this.reusableBytes();
      if (disk.refuses(reusable)) {
        const short = disk.shortfall(reusable());
        if (short > 0 && this.#host.now() - this.#diskRetentionAt >= 1000) {
          this.#diskRetentionAt = this.#host.now();
          this.#host.runRetention(short);
        }
        // A TRUNCATE checkpoint gives the WAL's space back to the filesystem; one that is owed is
        // tried whatever the WAL's size reads, since only its success lets appends go on.
        if (this.walBytes() > 0 || disk.checkpointOwed) this.checkpoint({ truncate: true });
        disk.refuses(reusable);
      }
    } catch (error) {
      if (isSqliteFull(error)) this.sqliteFull('housekeeping', error);
      else this.#host.events.error(error);
    }
    this.noteTransition();
  }

  /**
   * Checkpoints on our schedule: PASSIVE after every `checkpointBytes` committed; if the WAL
   * file is still larger than `walMaxBytes`, a TRUNCATE checkpoint, which waits for readers.
   */
  checkpoint(options: { truncate?: boolean } = {}): { walBytes: number } {
    if (this.#host.readonly || this.#host.closed()) return { walBytes: 0 };
    this.#bytesSinceCheckpoint = 0;
    try {
      let done = complete(this.#host.db.pragma('wal_checkpoint(PASSIVE)'));
      let walBytes = this.walBytes();
      if (walBytes > this.#host.opts.walMaxBytes || (options.truncate && walBytes > 0)) {
        done = complete(this.#host.db.pragma('wal_checkpoint(TRUNCATE)'));
        walBytes = this.walBytes();
      }
      // An owed checkpoint is paid only when every frame was copied (a reader can hold some back).
      if (done || walBytes === 0) this.disk?.checkpointed();
      return { walBytes };
    } catch (cause) {
      if (!isSqliteFull(cause)) throw cause;
      // Copying the WAL into the main file needs room: keep that much free before appending more.
      this.disk?.owesCheckpoint(this.walBytes());
      throw this.sqliteFull('a checkpoint', cause);
    }
  }

  /** A checkpoint from a callback: its failure is reported (logged by the collector), never thrown. */
  safeCheckpoint(): void {
    try {
      this.checkpoint();
    } catch (error) {
      this.#host.events.error(error);
    }
  }

  walBytes(): number {
    try {
      return statSync(`${this.#host.file}-wal`).size;
    } catch {
      return 0;
    }
  }
}

/** Whether an append stores events — as drafts or as a peer's pre-encoded batches — not only cursors or state. */
export function carriesEvents(request: AppendRequest): boolean {
  return request.events.length > 0 || (request.batches?.length ?? 0) > 0;
}

/** Whether a `wal_checkpoint` pragma's answer says it copied every frame of the WAL. */
function complete(rows: unknown): boolean {
  const r = (rows as { busy: number; log: number; checkpointed: number }[])[0];
  return r !== undefined && r.busy === 0 && r.checkpointed === r.log;
}
