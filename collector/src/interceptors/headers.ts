/**
 * Header access that only sees the event's own headers (`headers['constructor']` must not find
 * Object's). Names are matched exactly, as written; sources write them in lower case.
 */
import type { Headers } from '../../../shared/src/event.ts';

export function getHeader(headers: Headers, name: string): string | undefined {
  return Object.hasOwn(headers, name) ? headers[name] : undefined;
}

export function hasHeader(headers: Headers, name: string): boolean {
  return Object.hasOwn(headers, name);
}

/** A copy of `headers` with `name` set (defined as an own property, so `__proto__` is a name like any other). */
export function withHeader(headers: Headers, name: string, value: string): Headers {
  const out = { ...headers };
  Object.defineProperty(out, name, { value, enumerable: true, writable: true, configurable: true });
  return out;
}
