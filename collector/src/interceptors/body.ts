/**
 * Reading and writing event bodies for the interceptors that look inside them (DESIGN §2: decode
 * by content type, re-encode in the same type). JSON is `application/json` or any `+json` type;
 * msgpack is `application/msgpack` (also `x-msgpack`, `vnd.msgpack`). A body that does not decode
 * is not an error: the interceptor passes the event on unchanged.
 */
import { C1, Packr } from 'msgpackr';
import { contentTypeOf, ContentTypes, type EventDraft, type Headers } from '../../../shared/src/event.ts';

export type StructuredKind = 'json' | 'msgpack';

const MSGPACK_TYPES = new Set([ContentTypes.msgpack, 'application/x-msgpack', 'application/vnd.msgpack']);

/**
 * Plain maps with the smallest header, as other encoders write them (no msgpackr records, which
 * other msgpack readers do not know); 64-bit integers as numbers when safe and BigInt otherwise;
 * copies of binary fields, never views of the event's bytes.
 */
const packr = new Packr({
  useRecords: false,
  mapsAsObjects: true,
  variableMapSize: true,
  copyBuffers: true,
  encodeUndefinedAsNil: true,
  int64AsType: 'auto' as 'bigint',
});

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
const encoder = new TextEncoder();

export function structuredKindOf(headers: Headers): StructuredKind | null {
  const type = contentTypeOf(headers);
  if (type === ContentTypes.json || type.endsWith('+json')) return 'json';
  if (MSGPACK_TYPES.has(type as typeof ContentTypes.msgpack)) return 'msgpack';
  return null;
}

/** The decoded body of a JSON or msgpack event; null when it is neither or does not decode. */
export function decodeStructured(event: EventDraft): { kind: StructuredKind; value: unknown } | null {
  const kind = structuredKindOf(event.headers);
  if (kind === null) return null;
  try {
    if (kind === 'json') return { kind, value: JSON.parse(strictUtf8.decode(event.body)) };
    // A fresh view: msgpackr caches a DataView on the array it reads, which would change the event.
    const value: unknown = packr.unpack(event.body.subarray(0));
    // 0xc1 is "never used" in msgpack; msgpackr returns a marker for it rather than failing.
    return value === C1 ? null : { kind, value };
  } catch {
    return null;
  }
}

export function encodeStructured(kind: StructuredKind, value: unknown): Uint8Array {
  if (kind === 'json') {
    const text = JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? (Number.isSafeInteger(Number(v)) ? Number(v) : v.toString()) : v));
    return encoder.encode(text ?? 'null');
  }
  // An exact copy: msgpackr returns a view into a larger buffer it shares between packs.
  return new Uint8Array(packr.pack(value));
}

/** The body as text when it is valid UTF-8; null otherwise (binary bodies are left alone). */
export function bodyText(body: Uint8Array): string | null {
  try {
    return strictUtf8.decode(body);
  } catch {
    return null;
  }
}

/** How a decoded value is written into a header: strings as they are, everything else as JSON. */
export function headerValue(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value.toISOString();
  if (value instanceof Uint8Array) return undefined;
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}
