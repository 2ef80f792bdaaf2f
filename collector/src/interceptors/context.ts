/**
 * The context interceptors take from their surroundings (types.ts `InterceptorContext`), and the
 * defaults used when a caller passes none or only part of one.
 */
import type { InterceptorContext } from './types.ts';

/** Used when no host name is given (the runtime always gives its own). */
export const UNKNOWN_HOSTNAME = 'localhost';

/** A full context: `overrides` where given, otherwise the clock, Math.random and crypto's UUIDs. */
export function interceptorContext(overrides: Partial<InterceptorContext> = {}): InterceptorContext {
  return {
    hostname: overrides.hostname || UNKNOWN_HOSTNAME,
    now: overrides.now ?? Date.now,
    random: overrides.random ?? Math.random,
    uuid: overrides.uuid ?? randomUuid,
  };
}

/**
 * `crypto.randomUUID` exists in Node and in browsers, but browsers offer it only in secure
 * contexts (https, localhost); elsewhere a v4 UUID is built from `crypto.getRandomValues`.
 */
export function randomUuid(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
