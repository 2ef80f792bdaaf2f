/**
 * The channel's free-space guard (Flume's `minimumRequiredSpace`): appends are refused while the
 * filesystem holding the channel has less than `min_free_space` left, so the process never runs
 * the disk to the last byte, and sinks (cursor commits) and retention (deletes) still have room
 * to work — that is how space comes back without a restart.
 *
 * Invariants:
 * - The guard only ever refuses appends; it never deletes anything itself.
 * - `full` turns on when free space (plus pages SQLite can reuse inside the file) is below the
 *   requirement, or when SQLite reported SQLITE_FULL; it turns off only after a fresh probe shows
 *   enough room again, and not sooner than `holdMs` after an SQLITE_FULL.
 * - A checkpoint that failed for lack of space holds appends until a checkpoint succeeds (guard
 *   on or off), and its WAL's size is shown added to the requirement: the copy into the main
 *   file needs that room, and appends meanwhile would only grow the WAL into it.
 */
import { formatBytes } from '../../../shared/src/format.ts';
import { statfsSync } from 'node:fs';
import type { ChannelDiskState } from '../../../shared/src/api/core.ts';

export interface DiskSpace {
  /** Bytes available to this process (statfs `bavail`). */
  free: number;
  /** Size of the filesystem. */
  total: number;
}

/** How much free space the guard keeps: bytes, a fraction of the filesystem, or `auto`. */
export type MinFreeSpace = number | { ratio: number } | 'auto';

/** `auto`: 256 MiB, but never more than 10% of the filesystem (a 64 MiB tmpfs keeps 6.4 MiB). */
export const AUTO_MIN_FREE_BYTES = 256 * 1024 * 1024;
export const AUTO_MIN_FREE_RATIO = 0.1;

export type FreeSpaceProbe = (dir: string) => DiskSpace;

export const statfsProbe: FreeSpaceProbe = (dir) => {
  const s = statfsSync(dir);
  return { free: s.bavail * s.bsize, total: s.blocks * s.bsize };
};

export function requiredFreeBytes(min: MinFreeSpace, total: number): number {
  if (min === 'auto') return Math.min(AUTO_MIN_FREE_BYTES, Math.floor(total * AUTO_MIN_FREE_RATIO));
  if (typeof min === 'number') return min;
  return Math.floor(total * min.ratio);
}

/** What health and /metrics show of the guard (shared/src/api/core.ts). */
export type DiskState = ChannelDiskState;

export interface DiskGuardOptions {
  dir: string;
  min: MinFreeSpace;
  probe?: FreeSpaceProbe;
  now?: () => number;
  /** Probe at most this often on the append path (ms). */
  intervalMs?: number;
  /** After SQLITE_FULL, refuse for at least this long before a probe may clear the state. */
  holdMs?: number;
}

export class DiskGuard {
  readonly #dir: string;
  readonly #min: MinFreeSpace;
  readonly #probe: FreeSpaceProbe;
  readonly #now: () => number;
  readonly #intervalMs: number;
  readonly #holdMs: number;
  #space: DiskSpace = { free: Number.POSITIVE_INFINITY, total: 0 };
  #probedAt = Number.NEGATIVE_INFINITY;
  #bytesSinceProbe = 0;
  #heldUntil = 0;
  #checkpointDebt = 0;
  #full = false;
  #reason: string | null = null;
  #since: number | null = null;
  #episodes = 0;
  #probeError: string | null = null;

  constructor(options: DiskGuardOptions) {
    this.#dir = options.dir;
    this.#min = options.min;
    this.#probe = options.probe ?? statfsProbe;
    this.#now = options.now ?? Date.now;
    this.#intervalMs = options.intervalMs ?? 1000;
    this.#holdMs = options.holdMs ?? 1000;
    this.probe();
  }

  get disabled(): boolean {
    return this.#min === 0;
  }

  get full(): boolean {
    return this.#full;
  }

  /** Free bytes at the last probe; -1 when unknown. */
  get freeBytes(): number {
    return Number.isFinite(this.#space.free) ? this.#space.free : -1;
  }

  /** Free bytes now, as far as the guard can tell without probing: the last probe less what was written since; -1 when unknown. */
  get estimatedFreeBytes(): number {
    return Number.isFinite(this.#space.free) ? Math.max(0, this.#space.free - this.#bytesSinceProbe) : -1;
  }

  /** The requirement in bytes, given the last probe. */
  get required(): number {
    return requiredFreeBytes(this.#min, this.#space.total) + this.#checkpointDebt;
  }

  /** How many bytes must be freed to leave the full state (0 when not short). */
  shortfall(reusable = 0): number {
    return Math.max(0, this.required - (this.#space.free + reusable));
  }

  /**
   * Whether appends must be refused now. Probes again when the last probe is older than the
   * interval or when about half the requirement was written since (so a burst cannot overrun
   * the margin between probes). `reusable` is what SQLite can reuse inside its file (free pages),
   * asked only when the disk looks short.
   */
  refuses(reusable: () => number): boolean {
    const now = this.#now();
    if (now - this.#probedAt >= this.#intervalMs || (this.required > 0 && this.#bytesSinceProbe >= this.required / 2)) this.probe();
    if (now < this.#heldUntil) return true;
    // A checkpoint the disk refused goes first, guard on or off: until one succeeds the WAL only
    // grows, and appends would take the very room it needs (space freed by an operator would be
    // eaten by the next commits and the channel would never recover). The channel's housekeeping
    // retries it every second while this refuses.
    if (this.#checkpointDebt > 0) {
      if (!this.#full) this.#set(true, `the disk is full: waiting for a checkpoint that needs ${formatBytes(this.#checkpointDebt)} (${formatBytes(this.#space.free)} free on the filesystem of ${this.#dir})`);
      return true;
    }
    // Disabled (min_free_space: 0), only SQLITE_FULL refuses, for `holdMs` each time.
    const short = !this.disabled && this.shortfall() > 0 && this.shortfall(reusable()) > 0;
    this.#set(short, short ? `${formatBytes(this.#space.free)} free on the filesystem of ${this.#dir}, below channel.min_free_space (${formatBytes(this.required)})` : null);
    return this.#full;
  }

  /** Counts bytes committed since the last probe. */
  wrote(bytes: number): void {
    this.#bytesSinceProbe += bytes;
  }

  /** SQLite said SQLITE_FULL (the disk filled before the guard saw it, or a checkpoint needed room). */
  sawSqliteFull(what: string): void {
    this.probe();
    this.#heldUntil = this.#now() + this.#holdMs;
    this.#set(true, `the disk is full: ${what} failed with SQLITE_FULL (${formatBytes(this.#space.free)} free on the filesystem of ${this.#dir})`);
  }

  /** A checkpoint failed for lack of room: keep `walBytes` more free until one succeeds. */
  owesCheckpoint(walBytes: number): void {
    this.#checkpointDebt = walBytes;
  }

  checkpointed(): void {
    this.#checkpointDebt = 0;
  }

  /** A checkpoint failed for lack of room and none has succeeded since (appends wait for one). */
  get checkpointOwed(): boolean {
    return this.#checkpointDebt > 0;
  }

  probe(): DiskSpace {
    this.#probedAt = this.#now();
    this.#bytesSinceProbe = 0;
    try {
      this.#space = this.#probe(this.#dir);
      this.#probeError = null;
    } catch (error) {
      // A filesystem that cannot be asked is not a reason to refuse events: SQLITE_FULL still is.
      this.#probeError = (error as Error).message;
    }
    return this.#space;
  }

  state(): DiskState {
    return {
      dir: this.#dir,
      freeBytes: this.freeBytes,
      totalBytes: this.#space.total,
      requiredBytes: this.disabled ? 0 : this.required,
      full: this.#full,
      reason: this.#reason ?? (this.#probeError ? `cannot check free space: ${this.#probeError}` : null),
      since: this.#since,
      episodes: this.#episodes,
    };
  }

  #set(full: boolean, reason: string | null): void {
    if (full && !this.#full) {
      this.#since = this.#now();
      this.#episodes++;
    }
    if (!full) this.#since = null;
    this.#full = full;
    this.#reason = reason;
  }
}

