/**
 * The one retry policy: jittered exponential backoff with a cap ("full jitter" between half and
 * the whole of the exponential step). Never retries programmer errors — only errors that say they
 * are retriable.
 */
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  multiplier?: number;
  /** Random source in [0, 1), for tests. */
  random?: () => number;
}

export class Backoff {
  #attempt = 0;
  readonly #opts: Required<BackoffOptions>;

  constructor(options: BackoffOptions) {
    this.#opts = { multiplier: 2, random: Math.random, ...options };
  }

  /** Attempts made since the last success. */
  get attempt(): number {
    return this.#attempt;
  }

  /** The delay before the next attempt, and counts the attempt. */
  next(): number {
    const { initialMs, maxMs, multiplier, random } = this.#opts;
    const step = Math.min(maxMs, initialMs * multiplier ** this.#attempt);
    this.#attempt++;
    return Math.round(step / 2 + (random() * step) / 2);
  }

  reset(): void {
    this.#attempt = 0;
  }
}

/** Sleeps `ms`, or less if the signal aborts (then resolves false). */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
