/**
 * Sluice events ↔ fluent records. Tag = topic, entry time = ts; the rest travels in the record:
 *
 *   _sluice_headers  map<str,str>  always; its presence marks a record made by Sluice
 *   _sluice_key      str           only when the event has a key
 *   _sluice_body     str | bin     the body verbatim, when it does not travel as fields (below)
 *
 * The body travels, in order of preference:
 *   1. fields — a JSON object (application/json) or msgpack map (application/msgpack) whose
 *      re-encoding reproduces the body byte for byte: the record IS the object, plus the keys above;
 *   2. `message: <text>` — any other content type whose body is valid UTF-8 (text/plain, logs);
 *   3. `_sluice_body: <text>` — JSON or msgpack content types whose body is text but not case 1
 *      (pretty-printed JSON, a JSON array); `_sluice_body: <bin>` — anything else.
 * So Sluice → Sluice reproduces headers, key and body bytes exactly, and another fluent server
 * sees ordinary records (`{level: "info", ...}` or `{message: "..."}`).
 *
 * A record without a `_sluice_headers` map — from fluent-logger, Fluent Bit, Docker, fluentd —
 * becomes an application/json event whose body is the record: bin values become UTF-8 strings
 * (base64 when they are not UTF-8), msgpack timestamps ISO strings, NaN/Infinity null.
 */
import { CONTENT_TYPE, ContentTypes, contentTypeOf, utf8, type EventDraft, type Headers } from '../../event.ts';
import { pack, packr, skipValue, unpackr } from './msgpack.ts';
import type { FluentRecord, ForwardEntry } from './types.ts';

export const RESERVED_KEYS = {
  headers: '_sluice_headers',
  key: '_sluice_key',
  body: '_sluice_body',
} as const;

/** The field a text body travels in (case 2). */
export const MESSAGE_FIELD = 'message';

export interface EventToRecordOptions {
  /**
   * `exact` (default): a JSON body travels as fields only when re-serializing reproduces its bytes.
   * `always`: any JSON object body travels as fields, so other fluent servers always see
   * structure; the receiver re-serializes it compactly (same JSON value, not the same bytes, and
   * integers beyond 2^53 lose precision).
   */
  jsonFields?: 'exact' | 'always';
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function textOf(body: Uint8Array): string | null {
  try {
    return strictUtf8.decode(body);
  } catch {
    return null;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

function hasReservedKey(object: Record<string, unknown>): boolean {
  return RESERVED_KEYS.headers in object || RESERVED_KEYS.key in object || RESERVED_KEYS.body in object;
}

/** A JSON object body as fields, or null when it must travel verbatim. */
function jsonFields(text: string, mode: 'exact' | 'always'): Record<string, unknown> | null {
  if (text.charCodeAt(0) !== 0x7b /* { */ && mode === 'exact') return null;
  // msgpackr renames a "__proto__" key, and lone-surrogate escapes do not survive UTF-8
  if (text.includes('"__proto__"') || /\\u[dD][89a-fA-F]/.test(text)) return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isPlainObject(value) || hasReservedKey(value)) return null;
  if (mode === 'exact' && JSON.stringify(value) !== text) return null;
  return value;
}

/** A msgpack map body as fields when our encoder reproduces its bytes, else null. */
function msgpackFields(body: Uint8Array): Record<string, unknown> | null {
  if (body.length === 0 || !((body[0] & 0xf0) === 0x80 || body[0] === 0xde || body[0] === 0xdf)) return null;
  let value: unknown;
  try {
    if (skipValue(body, 0, body.length, 100, 'body') !== body.length) return null;
    value = unpackr.unpack(new Uint8Array(body.buffer, body.byteOffset, body.length)); // msgpackr tags its source with a dataView
  } catch {
    return null;
  }
  if (!isPlainObject(value) || hasReservedKey(value)) return null;
  const again = packr.pack(value);
  if (again.length !== body.length) return null;
  for (let i = 0; i < body.length; i++) if (again[i] !== body[i]) return null;
  return value;
}

/** The fluent record carrying an event (its ts travels as the entry time, its topic as the tag). */
export function eventToRecord(event: EventDraft, options: EventToRecordOptions = {}): FluentRecord {
  const { body } = event;
  const type = contentTypeOf(event.headers);
  let record: FluentRecord | null = null;
  if (type === ContentTypes.json || type === ContentTypes.msgpack) {
    let fields: Record<string, unknown> | null = null;
    if (type === ContentTypes.json) {
      const text = textOf(body);
      fields = text === null ? null : jsonFields(text, options.jsonFields ?? 'exact');
    } else {
      fields = msgpackFields(body);
    }
    if (fields) record = fields; // a fresh object from JSON.parse or msgpackr: ours to extend
    else {
      const text = textOf(body);
      record = { [RESERVED_KEYS.body]: text ?? body };
    }
  } else {
    const text = textOf(body);
    record = text === null ? { [RESERVED_KEYS.body]: body } : { [MESSAGE_FIELD]: text };
  }
  record[RESERVED_KEYS.headers] = { ...event.headers };
  if (event.key !== null) record[RESERVED_KEYS.key] = event.key;
  return record;
}

/** `eventToRecord` with the event's ts as the entry time. */
export function eventToEntry(event: EventDraft, options: EventToRecordOptions = {}): ForwardEntry {
  return { time: event.ts, record: eventToRecord(event, options) };
}

function stringMap(value: unknown): Headers | null {
  if (!isPlainObject(value)) return null;
  const headers: Headers = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') return null;
    headers[k] = v;
  }
  return headers;
}

function base64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

/** Whether a decoded value holds bin values anywhere (records are depth-limited by the decoder). */
function holdsBytes(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (value instanceof Uint8Array) return true;
  if (Array.isArray(value)) return value.some(holdsBytes);
  for (const key in value) if (holdsBytes((value as Record<string, unknown>)[key])) return true;
  return false;
}

/** JSON for a decoded record: bin → UTF-8 text (base64 if not UTF-8); Dates → ISO via toJSON. */
function recordJson(record: Record<string, unknown>): string {
  // a replacer costs a call per value: only pay for it when there are bytes to convert
  if (!holdsBytes(record)) return JSON.stringify(record);
  return JSON.stringify(record, function (this: Record<string, unknown>, key: string, value: unknown) {
    const raw = key === '' ? value : this[key];
    if (raw instanceof Uint8Array) return textOf(raw) ?? base64(raw);
    return value;
  });
}

/**
 * The event a fluent record carries. `tag` becomes the topic as is: the caller maps tags that are
 * not valid topic names. Never throws on odd records: a record that is not from Sluice, or whose
 * reserved keys are malformed, becomes a JSON event holding the whole record.
 */
export function recordToEvent(tag: string, time: number, record: FluentRecord): EventDraft {
  const headers = stringMap(record[RESERVED_KEYS.headers]);
  if (headers === null) {
    return { topic: tag, ts: time, key: null, headers: { [CONTENT_TYPE]: ContentTypes.json }, body: utf8(recordJson(record)) };
  }
  const key = typeof record[RESERVED_KEYS.key] === 'string' ? (record[RESERVED_KEYS.key] as string) : null;
  const verbatim = record[RESERVED_KEYS.body];
  let body: Uint8Array;
  if (verbatim instanceof Uint8Array) body = verbatim;
  else if (typeof verbatim === 'string') body = utf8(verbatim);
  else {
    const fields: Record<string, unknown> = {};
    for (const k of Object.keys(record)) {
      if (k !== RESERVED_KEYS.headers && k !== RESERVED_KEYS.key && k !== RESERVED_KEYS.body) fields[k] = record[k];
    }
    const type = contentTypeOf(headers);
    if (type === ContentTypes.json) body = utf8(recordJson(fields));
    else if (type === ContentTypes.msgpack) body = pack(fields);
    else if (typeof fields[MESSAGE_FIELD] === 'string') body = utf8(fields[MESSAGE_FIELD] as string);
    else body = utf8(recordJson(fields)); // a text record someone rewrote on the way: keep what is there
  }
  return { topic: tag, ts: time, key, headers, body };
}
