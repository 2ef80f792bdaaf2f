/** Seeded randomness for fuzz, crash and bench runs: the same seed gives the same cases. */
export type Rand = () => number;

/** mulberry32: a small, fast, seedable PRNG; numbers in [0, 1). */
export function prng(seed: number): Rand {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An integer in [0, n). */
export const int = (rand: Rand, n: number): number => Math.floor(rand() * n);

/** One of `xs`. */
export const pick = <T>(rand: Rand, xs: readonly T[]): T => xs[int(rand, xs.length)];
