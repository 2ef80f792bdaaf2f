/**
 * The errors the channel raises, in the words a user reads: closed, full (of undelivered events
 * or of disk), a damaged batch.
 */
import { dirname } from 'node:path';
import { ErrorCodes, SluiceError } from '../../../shared/src/errors.ts';
import { formatBytes } from '../../../shared/src/format.ts';
import type { FreeSpaceProbe } from './disk.ts';

/** A stored batch failed its check while being read; #damageError names it to the caller. */
export class BatchDamaged extends Error {
  constructor(readonly range: { topic: string; first: number; last: number; reason: string }) {
    super(`topic "${range.topic}": batch at offsets ${range.first}–${range.last}: ${range.reason}`);
  }
}

export function closedError(file: string): SluiceError {
  return new SluiceError(ErrorCodes.CHANNEL_CLOSED, `channel ${file} is closed`, { retriable: true });
}

/**
 * On a nearly full disk SQLite can fail to open with an I/O error (growing the -shm file) rather
 * than SQLITE_FULL: with less than 1 MiB free, call it what it is.
 */
export function diskFullAtOpen(file: string, error: unknown, probe: FreeSpaceProbe): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !code.startsWith('SQLITE_IOERR')) return error;
  try {
    if (probe(dirname(file)).free >= 1024 * 1024) return error;
  } catch {
    return error;
  }
  return Object.assign(new Error((error as Error).message), { code: 'SQLITE_FULL', cause: error });
}

export function isSqliteFull(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'SQLITE_FULL';
}

export function diskFullError(reason: string | null, cause?: unknown): SluiceError {
  return new SluiceError(
    ErrorCodes.CHANNEL_FULL,
    `channel refuses new events: ${reason ?? 'the disk is full'}; sinks keep delivering and retention frees delivered events — retry later, free disk space, or lower channel.min_free_space`,
    { retriable: true, retryAfterMs: 1000, cause },
  );
}

export function fullError(bytes: number, max: number): SluiceError {
  return new SluiceError(
    ErrorCodes.CHANNEL_FULL,
    `channel full: ${formatBytes(bytes)} of ${formatBytes(max)} used by undelivered events; retry later, raise channel.max_bytes, or set when_full: drop_oldest for topics that may lose old events`,
    { retriable: true, retryAfterMs: 1000 },
  );
}
