/**
 * Bounded scans over a topic, forward or backward, with filters — the engine behind browse,
 * export and the filtered tail.
 *
 * Invariants:
 * - a scan reads the channel in chunks and yields to the event loop (setImmediate) between
 *   them, so ingestion and other requests keep going during a long search;
 * - it stops at the first of: `limit` matches, `maxRows` events examined, `maxMs` elapsed, the
 *   end of the range; the result says which, and exactly which offsets were examined
 *   (`scannedFrom`…`scannedTo`), so an empty page is never silent about how far it looked;
 * - `next`/`prev` are offsets, not opaque tokens: the page examined [prev, next), and reading
 *   forward from `next` or backward from `prev` continues without gap or overlap, however many
 *   events arrive or expire meanwhile.
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { StoredEvent } from '../../../shared/src/event.ts';
import { ErrorCodes, isSluiceError } from '../../../shared/src/errors.ts';
import type { Channel } from '../channel/channel.ts';
import type { EventFilter } from './filters.ts';

export type Direction = 'forward' | 'backward';
export type StopReason = 'limit' | 'rows' | 'time' | 'end' | 'damaged';

export interface ScanBounds {
  maxRows: number;
  maxMs: number;
}

export interface ScanOptions {
  topic: string;
  direction: Direction;
  /** Forward: the first offset to examine. Backward: examine offsets below this one. */
  start: number;
  /** Forward: stop before this offset. Backward: examine nothing below this offset. */
  end: number;
  /** Most matching events to return. */
  limit: number;
  filter: EventFilter;
  bounds: ScanBounds;
  signal?: AbortSignal;
}

export interface ScanResult {
  /** Matching events, in offset order (for backward scans too). */
  events: StoredEvent[];
  scanned: number;
  /** Lowest offset examined; scannedTo + 1 when nothing was. */
  scannedFrom: number;
  /** Highest offset examined. */
  scannedTo: number;
  stopped: StopReason;
  /** Offset after the examined range: forward continuation. */
  next: number;
  /** Lowest examined offset: backward continuation. */
  prev: number;
  filterErrors: number;
  firstFilterError?: string;
  /** With `stopped: 'damaged'`: the damaged range the scan stopped at (next/prev continue past it). */
  damaged?: { first: number; last: number; message: string };
}

/** Events read per chunk when filtering; between chunks the scan yields and checks its bounds. */
export const SCAN_CHUNK = 4096;
/** JSONata evaluations between two turns of the event loop and checks of the time bound. */
const PREDICATE_GROUP = 512;

export async function scan(channel: Channel, o: ScanOptions): Promise<ScanResult> {
  const deadline = Date.now() + o.bounds.maxMs;
  const forward = o.direction === 'forward';
  const matches: StoredEvent[] = [];
  let scanned = 0;
  let filterErrors = 0;
  let firstFilterError: string | undefined;
  // The examined range is [lo, hi); it grows from `start` in the scan's direction.
  let lo = o.start;
  let hi = o.start;
  let stopped: StopReason | null = null;
  let damaged: ScanResult['damaged'];
  let first = true;

  const { test, predicate } = o.filter;
  const chunkSize = o.filter.active ? SCAN_CHUNK : Math.min(SCAN_CHUNK, o.limit);

  /**
   * Examines events in scan order; returns how many it examined before the limit (or the time
   * bound) was reached. JSONata runs one evaluation at a time — never hundreds at once, which
   * would multiply what a hostile expression allocates — and each evaluation is time-boxed by
   * the scan's deadline (filters.ts); the loop gets a turn every PREDICATE_GROUP evaluations.
   */
  const examine = async (events: StoredEvent[]): Promise<number> => {
    for (let i = 0; i < events.length; i++) {
      const e = events[i];
      let ok = test === null || test(e);
      if (ok && predicate) {
        const r = await predicate(e, deadline, o.signal);
        if (r === true) ok = true;
        else {
          ok = false;
          if (r !== false) {
            filterErrors++;
            firstFilterError ??= r.error;
            // Counted as examined (so paging always moves on), and the scan stops here.
            if (r.timedOut) {
              stopped = 'time';
              return i + 1;
            }
          }
        }
      }
      if (ok) {
        matches.push(e);
        if (matches.length >= o.limit) {
          stopped = 'limit';
          return i + 1;
        }
      }
      if (predicate && (i + 1) % PREDICATE_GROUP === 0 && i + 1 < events.length) {
        // JSONata is the slow filter: give ingestion a turn between groups, not only between
        // chunks — before the time check, so even a group that used up the time bound yields.
        await yieldToLoop();
        if (Date.now() >= deadline) {
          stopped = 'time';
          return i + 1;
        }
      }
    }
    return events.length;
  };

  while (stopped === null) {
    if (o.signal?.aborted) {
      stopped = 'time';
      break;
    }
    if (!first) {
      await yieldToLoop();
      if (Date.now() >= deadline) {
        stopped = 'time';
        break;
      }
    }
    first = false;
    const rowsLeft = o.bounds.maxRows - scanned;
    if (rowsLeft <= 0) {
      stopped = 'rows';
      break;
    }
    // A damaged range ends the page after what came before it; next/prev continue past it and
    // the answer says so. A scan starting in the damage fails with its error (410).
    const readOrDamage = (read: () => StoredEvent[], at: number): StoredEvent[] | null => {
      try {
        return read();
      } catch (error) {
        const range = isSluiceError(error) && error.code === ErrorCodes.CHANNEL_CORRUPT ? channel.damagedAt(o.topic, at) : undefined;
        if (!range || scanned === 0) throw error;
        damaged = { first: range.first, last: range.last, message: (error as Error).message };
        stopped = 'damaged';
        return null;
      }
    };
    if (forward) {
      const want = Math.min(chunkSize, rowsLeft, o.end - hi);
      const chunk = want > 0 ? readOrDamage(() => channel.read(o.topic, hi, { maxEvents: want }), hi) : [];
      if (chunk === null) break;
      const inRange = chunk.length > 0 && chunk[chunk.length - 1].offset >= o.end ? chunk.filter((e) => e.offset < o.end) : chunk;
      if (inRange.length === 0) {
        stopped = 'end';
        break;
      }
      if (scanned === 0) lo = inRange[0].offset;
      const n = await examine(inRange);
      scanned += n;
      hi = inRange[n - 1].offset + 1;
      if (stopped === null && hi >= o.end) stopped = 'end';
    } else {
      const want = Math.min(chunkSize, rowsLeft, lo - o.end);
      const chunk = want > 0 ? readOrDamage(() => channel.readBefore(o.topic, lo, want), lo - 1) : [];
      if (chunk === null) break;
      const inRange = chunk.length > 0 && chunk[0].offset < o.end ? chunk.filter((e) => e.offset >= o.end) : chunk;
      if (inRange.length === 0) {
        stopped = 'end';
        break;
      }
      if (scanned === 0) hi = inRange[inRange.length - 1].offset + 1;
      inRange.reverse();
      const n = await examine(inRange);
      scanned += n;
      lo = inRange[n - 1].offset;
      if (stopped === null && lo <= o.end) stopped = 'end';
    }
  }

  if (!forward) matches.reverse();
  // When the scan found the range's end exactly as the limit filled, say `end`: nothing more to read.
  if ((stopped as StopReason | null) === 'limit' && (forward ? hi >= o.end : lo <= o.end)) stopped = 'end';
  return {
    events: matches,
    scanned,
    scannedFrom: scanned === 0 ? o.start : lo,
    scannedTo: scanned === 0 ? o.start - 1 : hi - 1,
    stopped: stopped as StopReason,
    next: scanned === 0 ? o.start : damaged && forward ? damaged.last + 1 : hi,
    prev: scanned === 0 ? o.start : damaged && !forward ? damaged.first : lo,
    filterErrors,
    ...(firstFilterError === undefined ? {} : { firstFilterError }),
    ...(damaged === undefined ? {} : { damaged }),
  };
}
