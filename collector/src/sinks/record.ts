/**
 * The event record the stdout, file and http sinks write: one JSON object per event, keys in this
 * order, one line each in NDJSON (docs/sinks.md "Record format"):
 *
 *   {"topic":"web","offset":42,"ts":1714557600000,"key":null,"headers":{"content-type":"application/json"},"body":{"a":1}}
 *   {"topic":"web","offset":43,"ts":1714557600001,"key":"k1","headers":{},"body_base64":"AAEC"}
 *
 * - `offset` is the channel offset (dense per topic): a reader can drop the duplicates that
 *   at-least-once delivery may produce after a crash or retry by keeping the highest offset seen.
 * - `ts` is milliseconds since the epoch; `key` is a string or null; `headers` string → string.
 * - `body` holds the body decoded by its `content-type`: `application/json` (and `+json`) is the
 *   JSON value exactly as received (its text is copied, not re-serialised, so large numbers keep
 *   every digit; line breaks between tokens become spaces), `application/msgpack` is the unpacked
 *   value, `text/*` is a string.
 * - `body_base64` replaces `body` when the body is binary (`application/octet-stream`, no or an
 *   unknown content type) or does not decode as its content type says (invalid JSON or UTF-8, or
 *   msgpack holding values JSON cannot, such as binary, dates or 64-bit integers beyond 2^53).
 *   Exactly one of the two is present, so nothing is lost either way.
 */
import { Unpackr } from 'msgpackr';
import { CONTENT_TYPE, type StoredEvent } from '../../../shared/src/event.ts';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
const unpackr = new Unpackr({ mapsAsObjects: true, useRecords: false, int64AsType: 'bigint' });
const NEWLINE = 0x0a;

/** The body as JSON text when it decodes by its content type, else null (the caller uses base64). */
export function bodyJson(event: StoredEvent): string | null {
  const type = mediaType(event.headers[CONTENT_TYPE]);
  if (type === 'application/json' || type.endsWith('+json')) {
    const text = decodeUtf8(event.body);
    if (text === null) return null;
    try {
      JSON.parse(text);
    } catch {
      return null;
    }
    // Valid JSON has raw CR/LF only between tokens, where a space means the same.
    return text.includes('\n') || text.includes('\r') ? text.replace(/[\r\n]/g, ' ').trim() : text.trim();
  }
  if (type.startsWith('text/')) {
    const text = decodeUtf8(event.body);
    return text === null ? null : JSON.stringify(text);
  }
  if (type === 'application/msgpack' || type === 'application/x-msgpack') {
    let value: unknown;
    try {
      value = unpackr.unpack(event.body);
    } catch {
      return null;
    }
    return isPlainJson(value, 0) ? JSON.stringify(value) : null;
  }
  return null;
}

/** One record (no trailing newline). */
export function recordJson(event: StoredEvent): string {
  const body = bodyJson(event);
  return (
    '{"topic":' +
    JSON.stringify(event.topic) +
    ',"offset":' +
    event.offset +
    ',"ts":' +
    event.ts +
    ',"key":' +
    (event.key === null ? 'null' : JSON.stringify(event.key)) +
    ',"headers":' +
    JSON.stringify(event.headers) +
    (body === null ? ',"body_base64":"' + Buffer.from(event.body.buffer, event.body.byteOffset, event.body.byteLength).toString('base64') + '"}' : ',"body":' + body + '}')
  );
}

/** The body alone as JSON: the decoded value, or a base64 string when it does not decode. */
export function bodyOnlyJson(event: StoredEvent): string {
  return bodyJson(event) ?? '"' + Buffer.from(event.body.buffer, event.body.byteOffset, event.body.byteLength).toString('base64') + '"';
}

/** NDJSON: every record followed by `\n`, as one buffer (one write per batch). */
export function ndjson(events: readonly StoredEvent[], line: (event: StoredEvent) => string = recordJson): Buffer {
  let out = '';
  for (let i = 0; i < events.length; i++) out += line(events[i]) + '\n';
  return Buffer.from(out, 'utf8');
}

/** A JSON array of records. */
export function jsonArray(events: readonly StoredEvent[], item: (event: StoredEvent) => string = recordJson): Buffer {
  let out = '[';
  for (let i = 0; i < events.length; i++) out += (i === 0 ? '' : ',') + item(events[i]);
  return Buffer.from(out + ']', 'utf8');
}

/** Raw bodies, each followed by `\n` unless it already ends with one. */
export function rawLines(events: readonly StoredEvent[]): Buffer {
  const parts: Uint8Array[] = [];
  const newline = Buffer.from('\n');
  for (const event of events) {
    parts.push(event.body);
    if (event.body.length === 0 || event.body[event.body.length - 1] !== NEWLINE) parts.push(newline);
  }
  return Buffer.concat(parts);
}

function mediaType(raw: string | undefined): string {
  if (!raw) return 'application/octet-stream';
  const semi = raw.indexOf(';');
  return (semi === -1 ? raw : raw.slice(0, semi)).trim().toLowerCase();
}

function decodeUtf8(bytes: Uint8Array): string | null {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return null;
  }
}

/** Whether JSON.stringify would hold this value exactly (no binary, dates, bigints, NaN, cycles). */
function isPlainJson(value: unknown, depth: number): boolean {
  if (depth > 64) return false;
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value);
    case 'object': {
      if (value === null) return true;
      if (Array.isArray(value)) return value.every((v) => isPlainJson(v, depth + 1));
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) return false;
      for (const key in value) if (!isPlainJson((value as Record<string, unknown>)[key], depth + 1)) return false;
      return true;
    }
    default:
      return false;
  }
}
