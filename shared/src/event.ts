/**
 * The event model (DESIGN §2). An event is `{ topic, offset, ts, key?, headers, body }`.
 * `body` holds the bytes as received; `headers['content-type']` says how they are encoded.
 */

export type Headers = Record<string, string>;

/** What a source hands to the interceptor chain and the channel: no offset yet. */
export interface EventDraft {
  topic: string;
  /** Milliseconds since the epoch. */
  ts: number;
  key: string | null;
  headers: Headers;
  body: Uint8Array;
}

/** An event as the channel stores and returns it. */
export interface StoredEvent extends EventDraft {
  /** Dense per topic, from 0, never reused. */
  offset: number;
}

export const CONTENT_TYPE = 'content-type';

export const ContentTypes = {
  json: 'application/json',
  msgpack: 'application/msgpack',
  text: 'text/plain',
  binary: 'application/octet-stream',
} as const;

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

export function utf8(text: string): Uint8Array {
  return textEncoder.encode(text);
}

export function fromUtf8(bytes: Uint8Array): string {
  return textDecoder.decode(bytes);
}

/** Topic names: Kafka's rule (letters, digits, '.', '_', '-'; 1–249 chars). */
export const TOPIC_PATTERN = /^[A-Za-z0-9._-]{1,249}$/;

export function isValidTopic(topic: string): boolean {
  return TOPIC_PATTERN.test(topic) && topic !== '.' && topic !== '..';
}

/** The content type without parameters, lower-cased; `application/octet-stream` when absent. */
export function contentTypeOf(headers: Headers): string {
  const raw = headers[CONTENT_TYPE];
  if (!raw) return ContentTypes.binary;
  const semi = raw.indexOf(';');
  return (semi === -1 ? raw : raw.slice(0, semi)).trim().toLowerCase();
}

export function makeEvent(topic: string, body: Uint8Array | string, init: Partial<Omit<EventDraft, 'topic' | 'body'>> = {}): EventDraft {
  const bytes = typeof body === 'string' ? utf8(body) : body;
  return {
    topic,
    ts: init.ts ?? Date.now(),
    key: init.key ?? null,
    headers: init.headers ?? {},
    body: bytes,
  };
}
