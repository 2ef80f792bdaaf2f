/**
 * The channel file's writer lock: `<file>.lock` holds the owning process's `pid starttime`.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { ErrorCodes, SluiceError } from '../../../shared/src/errors.ts';
import { openError } from './schema.ts';

/**
 * One writer process per channel file: a second collector on the same folder would assign the
 * same cursors' batches twice and drift the byte accounting. The lock file holds the owner's pid
 * and process start time, so a lock left by a crashed process (or a reused pid) is taken over.
 */
export function acquireWriterLock(file: string): void {
  const lock = `${file}.lock`;
  const me = processIdentity(process.pid);
  try {
    const [pid, started] = readFileSync(lock, 'utf8').trim().split(' ');
    const owner = Number(pid);
    if (owner !== process.pid && Number.isInteger(owner) && processIdentity(owner) === `${pid} ${started}`) {
      throw new SluiceError(
        ErrorCodes.CHANNEL_CLOSED,
        `channel ${file} is in use by another Sluice process (pid ${owner}); stop it, or point channel.path at another folder`,
      );
    }
  } catch (error) {
    if (error instanceof SluiceError) throw error;
  }
  try {
    writeFileSync(lock, `${me}\n`);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code !== 'ENOSPC') throw cause;
    throw openError(file, Object.assign(new Error((cause as Error).message), { code: 'SQLITE_FULL' }));
  }
}

export function releaseWriterLock(file: string): void {
  try {
    if (readFileSync(`${file}.lock`, 'utf8').trim() === processIdentity(process.pid)) rmSync(`${file}.lock`);
  } catch {
    // already gone
  }
}

/** `pid starttime` from /proc where it exists (Linux), else `pid -` if the process is alive; '' if not. */
export function processIdentity(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return `${pid} ${stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]}`;
  } catch {
    try {
      process.kill(pid, 0);
      return `${pid} -`;
    } catch {
      return '';
    }
  }
}
