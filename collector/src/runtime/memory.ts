/**
 * The memory reducer: once a burst of work is over, the collector gives back the memory the burst
 * made it hold (docs/decisions/memory.md).
 *
 * Under load V8 grows its heap, and the garbage of the burst — event batches, request bodies, the
 * native buffers behind them — stays until V8's next full collection. V8's own memory reducer did
 * not run within a minute of quiet in our measurements, so an edge that took a burst kept ~2–3×
 * its idle RSS for as long as it stayed quiet — and an edge whose hub is away, re-reading its
 * batch at every retry, kept growing. Here, every `intervalMs` the process looks at its own CPU
 * time: when the last `quietIntervals` intervals were not busy (each under `quietCpuRatio` of one
 * core) and the RSS has grown by more than `growthBytes` since the last reduction (or since
 * start), it runs a full garbage collection and asks SQLite to release its page cache
 * (`release`). The quiet spell is longer than the 5 s over which V8 measures its allocation rate:
 * only a collection that finds that rate low also shrinks the young generation, which grows to
 * 32 MB under load (measured: 133 → 58 MB RSS after 6 s of quiet, no change after 2 s). It does
 * nothing on the hot path, and nothing at all while the process is busy.
 *
 * A CPU-quiet spell can still follow the burst's allocations too closely for V8's window, so each
 * reduction is followed by one more after the next quiet spell (measured on an edge after 1M
 * events: 148 → 111 MB when the second one was needed).
 *
 * Invariant: at most two collections per quiet spell after growth — when they cannot give memory
 * back (the RSS stays high), the new RSS becomes the reference, so it never runs in a loop.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export interface MemoryReducerOptions {
  /** Frees what the application caches outside the JS heap (the channel's SQLite page cache). */
  release: () => void;
  intervalMs?: number;
  /** CPU time (user + system, all threads) per wall time below which an interval counts as quiet. */
  quietCpuRatio?: number;
  /** Consecutive quiet intervals before a reduction. */
  quietIntervals?: number;
  /** RSS growth since the last reduction that makes a quiet spell worth a collection. */
  growthBytes?: number;
  /** Told after each reduction: RSS before and after, in bytes. */
  onReduce?: (before: number, after: number) => void;
}

let collect: (() => void) | null | undefined;

/**
 * V8's full collection, without starting Node with --expose-gc: the flag is set at run time and a
 * new context receives `gc` (the function is the isolate's, whichever context holds it).
 */
function fullGc(): (() => void) | null {
  if (collect !== undefined) return collect;
  const existing = (globalThis as { gc?: () => void }).gc;
  if (typeof existing === 'function') return (collect = existing);
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    collect = typeof gc === 'function' ? (gc as () => void) : null;
  } catch {
    collect = null;
  }
  return collect;
}

/** Starts the reducer; returns the function that stops it. The timer never keeps the process alive. */
export function startMemoryReducer(options: MemoryReducerOptions): () => void {
  const intervalMs = options.intervalMs ?? 2000;
  const quiet = options.quietCpuRatio ?? 0.25;
  const spell = options.quietIntervals ?? 3;
  const growth = options.growthBytes ?? 16 * 1024 * 1024;
  let quietFor = 0;
  let followUp = false;
  let reference = process.memoryUsage.rss();
  let lastCpu = process.cpuUsage();
  let lastAt = performance.now();
  const timer = setInterval(() => {
    const cpu = process.cpuUsage(lastCpu);
    const now = performance.now();
    const ratio = (cpu.user + cpu.system) / 1000 / Math.max(1, now - lastAt);
    lastCpu = process.cpuUsage();
    lastAt = now;
    const rss = process.memoryUsage.rss();
    // The reference follows the RSS down (memory given back by itself) but never up while busy.
    if (rss < reference) reference = rss;
    quietFor = ratio < quiet ? quietFor + 1 : 0;
    if (quietFor < spell || (rss - reference < growth && !followUp)) return;
    quietFor = 0;
    followUp = !followUp;
    options.release();
    fullGc()?.();
    const after = process.memoryUsage.rss();
    reference = after;
    options.onReduce?.(rss, after);
    // The collection's own CPU time does not make the next interval look busy.
    lastCpu = process.cpuUsage();
    lastAt = performance.now();
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
