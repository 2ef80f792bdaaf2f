/**
 * How the admin API shows an event: its content type, a decoded form of the body where one
 * exists (JSON → value, msgpack → JSON value, UTF-8 text → string) beside the raw bytes.
 * Decoding never throws: a body that does not decode as declared gets `body: null` and a
 * `decodeError`, and its bytes are still there in `raw`. Whatever is stored can be shown, so one
 * event never blocks a page, an export, a fetch or a tail: JSON nested deeper than
 * PRESENT_MAX_DEPTH is shown as its text (serialising it as a value would overflow the stack),
 * and an event whose presentation fails for any other reason is shown raw with the reason.
 */
import { Unpackr } from 'msgpackr';
import type { ApiEvent } from '../../../shared/src/api/events.ts';
import { contentTypeOf, type StoredEvent } from '../../../shared/src/event.ts';
import { jsonTooDeepAt } from '../../../shared/src/json-limits.ts';

/**
 * Deepest JSON shown as a value; deeper bodies are shown as text. At least the largest ingest
 * max_depth (1000), and far below what JSON.stringify and the browser can walk.
 */
export const PRESENT_MAX_DEPTH = 1000;

export type BodyEncoding = 'json' | 'msgpack' | 'text' | 'protobuf' | 'avro' | null;

export interface DecodedBody {
  encoding: BodyEncoding;
  value: unknown;
  error?: string;
  /** The schema id of a Confluent-framed body. */
  schemaId?: number;
}

/**
 * A topic's own way to decode bodies (its viewer schema, schemas.ts); `undefined` from decode
 * means "by the content type". `signature` changes whenever the schema does (tail caches key on it).
 */
export interface BodyDecoder {
  decode(event: StoredEvent, contentType: string): DecodedBody | undefined;
  readonly signature: string;
}

const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

export function isJsonType(contentType: string): boolean {
  return contentType === 'application/json' || contentType.endsWith('+json') || contentType === 'application/x-ndjson';
}

export function isMsgpackType(contentType: string): boolean {
  return contentType === 'application/msgpack' || contentType === 'application/x-msgpack' || contentType === 'application/vnd.msgpack';
}

/** Decodes a body by its content type; text when it is valid UTF-8 without control bytes. */
export function decodeBody(body: Uint8Array, contentType: string): DecodedBody {
  if (isJsonType(contentType)) {
    let text: string;
    try {
      text = strictUtf8.decode(body);
    } catch {
      return { encoding: null, value: null, error: 'declared application/json but is not valid UTF-8' };
    }
    if (jsonTooDeepAt(body, PRESENT_MAX_DEPTH) !== -1) {
      return { encoding: 'text', value: text, error: `JSON nested deeper than ${PRESENT_MAX_DEPTH} levels: shown as text` };
    }
    try {
      return { encoding: 'json', value: JSON.parse(text) };
    } catch (error) {
      return { encoding: 'text', value: text, error: `declared application/json but does not parse: ${(error as Error).message}` };
    }
  }
  if (isMsgpackType(contentType)) {
    try {
      return { encoding: 'msgpack', value: toJsonValue(unpackr.unpack(body)) };
    } catch (error) {
      if (error instanceof TooDeep) return { encoding: null, value: null, error: `msgpack ${error.message}: shown raw` };
      return { encoding: null, value: null, error: `declared msgpack but does not decode: ${(error as Error).message}` };
    }
  }
  const text = asText(body, contentType.startsWith('text/'));
  return text === null ? { encoding: null, value: null } : { encoding: 'text', value: text };
}

/** The body as UTF-8 text, or null when it is not text. `lenient` (text/*) allows control bytes. */
function asText(body: Uint8Array, lenient: boolean): string | null {
  let text: string;
  try {
    text = strictUtf8.decode(body);
  } catch {
    return null;
  }
  if (!lenient && hasControlBytes(body)) return null;
  return text;
}

/** Bytes 0x00–0x08 and 0x0e–0x1f: binary, not text (tab, newlines, form feed and CR are text). */
function hasControlBytes(body: Uint8Array): boolean {
  for (let i = 0; i < body.length; i++) {
    const b = body[i];
    if (b < 0x09 || (b >= 0x0e && b < 0x20)) return true;
  }
  return false;
}

class TooDeep extends Error {}

/**
 * msgpack values as JSON: binary → base64, Date → ISO string, Map → object, bigint → number or
 * string. Throws when the value nests deeper than PRESENT_MAX_DEPTH (callers show the body raw).
 */
export function toJsonValue(value: unknown, depth = 0): unknown {
  if (depth > PRESENT_MAX_DEPTH) throw new TooDeep(`nested deeper than ${PRESENT_MAX_DEPTH} levels`);
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) ? value : null;
    case 'bigint':
      return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
    case 'object':
      break;
    default:
      return null;
  }
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (Array.isArray(value)) return value.map((v) => toJsonValue(v, depth + 1));
  if (value instanceof Map) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of value) out[String(k)] = toJsonValue(v, depth + 1);
    return out;
  }
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(value)) out[k] = toJsonValue((value as Record<string, unknown>)[k], depth + 1);
  return out;
}

/** An event as the API shows it; with a decoder, as the topic's schema reads it. */
export function presentEvent(event: StoredEvent, options: { raw?: boolean; decoder?: BodyDecoder | null } = {}): ApiEvent {
  const contentType = contentTypeOf(event.headers);
  let decoded: DecodedBody;
  try {
    decoded = options.decoder?.decode(event, contentType) ?? decodeBody(event.body, contentType);
  } catch (error) {
    // Never let one stored event fail a whole read: show its bytes and why.
    decoded = { encoding: null, value: null, error: `cannot decode the body (${(error as Error).message}): shown raw` };
  }
  const out: ApiEvent = {
    offset: event.offset,
    ts: event.ts,
    key: event.key,
    headers: event.headers,
    contentType,
    bodyEncoding: decoded.encoding,
    body: decoded.value,
    size: event.body.length,
  };
  if (decoded.error) out.decodeError = decoded.error;
  if (decoded.schemaId !== undefined) out.schemaId = decoded.schemaId;
  // Without a decoded form the bytes are the only way to see the body: always sent then.
  if (options.raw !== false || decoded.encoding === null) out.raw = toBase64(event.body);
  return out;
}

export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/**
 * The body as text for text filters: bodies a topic schema decodes and msgpack bodies as their
 * JSON form, anything else as UTF-8 (invalid sequences become U+FFFD, so a binary body can still
 * match a byte-oriented pattern).
 */
export function bodyText(event: StoredEvent, contentType = contentTypeOf(event.headers), decoder?: BodyDecoder | null): string {
  const decoded = decoder?.decode(event, contentType);
  if (decoded && decoded.encoding !== null) return JSON.stringify(decoded.value);
  if (isMsgpackType(contentType)) {
    try {
      return JSON.stringify(toJsonValue(unpackr.unpack(event.body)));
    } catch {
      // fall through: not valid msgpack, match on the bytes
    }
  }
  const b = event.body;
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8');
}
