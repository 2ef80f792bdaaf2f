/**
 * Server-side event filters (browse, export, tail): header equals / matches, key equals /
 * matches, body contains / matches, and a JSONata predicate on the decoded body. Every filter
 * given must match. The cheap ones run synchronously; the JSONata predicate (async in jsonata
 * 2.x) runs only on events the others let through, a chunk at a time (scan.ts).
 *
 * Regexes are RE2 regexes (re2js), written `pattern` or `/pattern/flags` (flags i, m, s, u):
 * matching takes time linear in the text whatever the pattern, so no query can stall the event
 * loop — `(a+)+$` on `aaaa…!` answers at once instead of backtracking for minutes, and the scan's
 * time bound, checked between chunks, holds. RE2 has no backreferences or lookaround; such a
 * pattern is refused with a 400 naming the parameter. Why RE2 and why re2js:
 * docs/decisions/search-regex.md.
 */
import jsonata from 'jsonata';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { createRequire } from 'node:module';
import type { RE2JS } from 're2js';
import type { FilterQuery } from '../../../shared/src/api/events.ts';
import { contentTypeOf, type StoredEvent } from '../../../shared/src/event.ts';
import { ErrorCodes, SluiceError } from '../../../shared/src/errors.ts';
import { bodyText, decodeBody, isMsgpackType, type BodyDecoder } from './present.ts';

const load = createRequire(import.meta.url);
/** re2js (~270 KB of source) is required when a regex filter is first compiled, not at start-up. */
const re2 = (): typeof RE2JS => (load('re2js') as typeof import('re2js')).RE2JS;

export interface EventFilter {
  /** Whether any filter was given. */
  readonly active: boolean;
  /** The synchronous predicates combined; null when there are none. */
  readonly test: ((event: StoredEvent) => boolean) | null;
  /**
   * The JSONata predicate; null when there is none. Never rejects: an evaluation error counts as
   * no match. An evaluation still running at `deadline` (ms since the epoch) is stopped and
   * answers `{ error, timedOut: true }`.
   */
  readonly predicate: ((event: StoredEvent, deadline?: number, signal?: AbortSignal) => Promise<PredicateResult>) | null;
  /** Stable text identifying the filter (equal filters, equal signatures). */
  readonly signature: string;
}

export type PredicateResult = true | false | { error: string; timedOut?: boolean };

/** Evaluation steps between two turns of the event loop (and checks of the deadline). */
const JSONATA_STEPS_PER_TURN = 2048;
/** The time box of one evaluation when the caller gives no deadline. */
const JSONATA_DEFAULT_MS = 1000;

class JsonataTimeout extends Error {}

export const NO_FILTER: EventFilter = { active: false, test: null, predicate: null, signature: '' };

function badInput(message: string): SluiceError {
  return new SluiceError(ErrorCodes.BAD_INPUT, message);
}

/** A compiled search regex: linear-time `test`, and `/source/flags` as its text. */
export interface SearchRegex {
  test(text: string): boolean;
  toString(): string;
}

/** Parses `pattern` or `/pattern/flags` into an RE2 regex; throws BAD_INPUT naming the parameter. */
export function parseRegex(value: string, param: string): SearchRegex {
  let source = value;
  let flags = '';
  const m = /^\/(.*)\/([a-z]*)$/s.exec(value);
  if (m) {
    source = m[1];
    flags = m[2];
    const bad = flags.replace(/[imsu]/g, '');
    if (bad) throw badInput(`${param}: flag(s) "${bad}" not supported (use i, m, s, u)`);
  }
  // RE2 matches Unicode code points always: `u` needs no flag of its own.
  const RE2 = re2();
  const bits = (flags.includes('i') ? RE2.CASE_INSENSITIVE : 0) | (flags.includes('m') ? RE2.MULTILINE : 0) | (flags.includes('s') ? RE2.DOTALL : 0);
  let re: RE2JS;
  try {
    re = RE2.compile(source, bits);
  } catch (error) {
    const why = (error as Error).message;
    const hint = /\(\?[=!<]|\\[1-9]/.test(source) ? ' (RE2 syntax: lookaround and backreferences are not supported)' : '';
    throw badInput(`${param}: invalid regex: ${why}${hint}`);
  }
  const text = `/${source}/${flags}`;
  return { test: (input) => re.test(input), toString: () => text };
}

/** Splits `name:value` (the name may not contain ':'). */
function splitHeader(value: string, param: string): [string, string] {
  const i = value.indexOf(':');
  if (i <= 0) throw badInput(`${param}: expected name:value, got "${value}"`);
  return [value.slice(0, i).trim().toLowerCase(), value.slice(i + 1)];
}

function headerValue(event: StoredEvent, name: string): string | undefined {
  const h = event.headers;
  if (name in h) return h[name];
  // Headers are stored as received; compare names case-insensitively.
  for (const k in h) if (k.toLowerCase() === name) return h[k];
  return undefined;
}

/**
 * Compiles the filters of a request. Throws BAD_INPUT with the offending parameter. With the
 * topic's decoder (a viewer schema), the body filters see what the viewer shows: bodyContains and
 * bodyRegex the decoded value's JSON text, jsonata the decoded value.
 */
export function compileFilter(query: FilterQuery, decoder: BodyDecoder | null = null): EventFilter {
  const tests: ((e: StoredEvent) => boolean)[] = [];
  const sig: string[] = [];
  for (const h of query.header ?? []) {
    const [name, value] = splitHeader(h, 'header');
    tests.push((e) => headerValue(e, name) === value);
    sig.push(`h=${name}:${value}`);
  }
  for (const h of query.headerRegex ?? []) {
    const [name, pattern] = splitHeader(h, 'headerRegex');
    const re = parseRegex(pattern, 'headerRegex');
    tests.push((e) => {
      const v = headerValue(e, name);
      return v !== undefined && re.test(v);
    });
    sig.push(`hr=${name}:${re}`);
  }
  if (query.key !== undefined) {
    const key = query.key;
    tests.push((e) => e.key === key);
    sig.push(`k=${key}`);
  }
  if (query.keyRegex !== undefined) {
    const re = parseRegex(query.keyRegex, 'keyRegex');
    tests.push((e) => e.key !== null && re.test(e.key));
    sig.push(`kr=${re}`);
  }
  if (query.bodyContains !== undefined) {
    const needle = query.bodyContains;
    const bytes = Buffer.from(needle, 'utf8');
    tests.push((e) => {
      const ct = contentTypeOf(e.headers);
      const decoded = decoder?.decode(e, ct);
      if (decoded && decoded.encoding !== null) return JSON.stringify(decoded.value).includes(needle);
      if (isMsgpackType(ct)) return bodyText(e, ct).includes(needle);
      const b = e.body;
      return Buffer.from(b.buffer, b.byteOffset, b.byteLength).indexOf(bytes) !== -1;
    });
    sig.push(`bc=${needle}`);
  }
  if (query.bodyRegex !== undefined) {
    const re = parseRegex(query.bodyRegex, 'bodyRegex');
    tests.push((e) => re.test(bodyText(e, contentTypeOf(e.headers), decoder)));
    sig.push(`br=${re}`);
  }
  let predicate: EventFilter['predicate'] = null;
  if (query.jsonata !== undefined) {
    predicate = compileJsonata(query.jsonata, decoder);
    sig.push(`j=${query.jsonata}`);
  }
  const test = tests.length === 0 ? null : tests.length === 1 ? tests[0] : (e: StoredEvent) => tests.every((t) => t(e));
  return { active: tests.length > 0 || predicate !== null, test, predicate, signature: sig.join('\u0000') };
}

function compileJsonata(text: string, decoder: BodyDecoder | null): (event: StoredEvent, deadline?: number, signal?: AbortSignal) => Promise<PredicateResult> {
  let expr: jsonata.Expression;
  try {
    expr = jsonata(text);
  } catch (error) {
    const e = error as { message?: string; position?: number };
    throw badInput(`jsonata: ${e.message ?? String(error)}${e.position === undefined ? '' : ` (at position ${e.position})`}`);
  }
  // jsonata awaits this hook before every evaluation step: every JSONATA_STEPS_PER_TURN steps it
  // lets the event loop turn (ingestion, other requests, SIGTERM) and stops an evaluation past
  // its deadline, so `$map([1..9999999], …)` or unbounded recursion cannot hold the process.
  // Evaluations of one expression run one at a time (scan.ts), so one deadline suffices.
  let deadline = 0;
  let stop: AbortSignal | undefined;
  let steps = 0;
  expr.assign(Symbol.for('jsonata.__evaluate_entry') as unknown as string, async () => {
    if (++steps % JSONATA_STEPS_PER_TURN !== 0) return;
    await yieldToLoop();
    if (Date.now() >= deadline || stop?.aborted) throw new JsonataTimeout();
  });
  return async (event, until, signal) => {
    const contentType = contentTypeOf(event.headers);
    const decoded = decoder?.decode(event, contentType) ?? decodeBody(event.body, contentType);
    deadline = until ?? Date.now() + JSONATA_DEFAULT_MS;
    stop = signal;
    try {
      const result = await expr.evaluate(decoded.value, {
        key: event.key,
        headers: event.headers,
        ts: event.ts,
        offset: event.offset,
        topic: event.topic,
      });
      return jsonataTruthy(result);
    } catch (error) {
      if (error instanceof JsonataTimeout) return { error: `offset ${event.offset}: the JSONata evaluation was stopped at the scan's time bound (max_scan_ms)`, timedOut: true };
      return { error: `offset ${event.offset}: ${(error as { message?: string }).message ?? String(error)}` };
    }
  };
}

/** JSONata's $boolean(): what a predicate result means. */
export function jsonataTruthy(value: unknown): boolean {
  if (value === undefined || value === null) return false;
  switch (typeof value) {
    case 'boolean':
      return value;
    case 'string':
      return value.length > 0;
    case 'number':
      return value !== 0 && !Number.isNaN(value);
    case 'function':
      return false;
    case 'object':
      if (Array.isArray(value)) return value.some(jsonataTruthy);
      return Object.keys(value).length > 0;
    default:
      return false;
  }
}
