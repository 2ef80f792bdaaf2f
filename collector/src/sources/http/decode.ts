/**
 * Request bodies of the http source → event bodies. All or nothing: a body either yields all of
 * its records or throws a BAD_INPUT error that says where the first problem is.
 *
 * Body formats (by Content-Type, parameters ignored):
 *   application/json            one JSON object, or an array of objects (one event each)
 *   application/x-ndjson        one JSON object per line (also application/jsonlines,
 *                               application/x-jsonlines, application/jsonl); blank lines skipped
 *   application/msgpack         one map, an array of maps, or maps back to back
 *                               (also application/x-msgpack, application/vnd.msgpack)
 *   text/plain                  one event per line (blank lines skipped), or the whole body as
 *                               one event when the source says `text: whole`
 *   application/octet-stream    the whole body as one event
 *   none, application/x-www-form-urlencoded (what `curl -d` sends)
 *                               sniffed: one JSON value if the body parses as one, else NDJSON
 * Records are sliced out of the request as received (never re-serialized, so numbers beyond
 * 2^53 and key order survive): a JSON record's event body is its exact JSON text, a msgpack
 * record's its exact msgpack bytes.
 *
 * Before any JSON is parsed, two linear byte checks (shared/src/json-limits.ts) refuse what
 * would be stored as `application/json` yet poison its readers: bytes that are not UTF-8
 * (400 naming the byte offset) and nesting deeper than `maxDepth` (400 naming the limit and
 * where it was crossed). Both run before JSON.parse, so hostile depth never reaches recursion.
 */
import { isUtf8 } from 'node:buffer';
import { unpackMultiple } from 'msgpackr';
import { ErrorCodes, SluiceError } from '../../../../shared/src/errors.ts';
import { ContentTypes } from '../../../../shared/src/event.ts';
import { DEFAULT_JSON_MAX_DEPTH, invalidUtf8At, jsonTooDeepAt } from '../../../../shared/src/json-limits.ts';

export type BodyFormat = 'json' | 'ndjson' | 'msgpack' | 'text' | 'binary' | 'sniff';

export interface DecodedBody {
  /** The content type of every event body. */
  contentType: string;
  bodies: Uint8Array[];
}

const FORMATS: Record<string, BodyFormat> = {
  'application/json': 'json',
  'application/x-ndjson': 'ndjson',
  'application/ndjson': 'ndjson',
  'application/jsonlines': 'ndjson',
  'application/x-jsonlines': 'ndjson',
  'application/jsonl': 'ndjson',
  'application/msgpack': 'msgpack',
  'application/x-msgpack': 'msgpack',
  'application/vnd.msgpack': 'msgpack',
  'text/plain': 'text',
  'application/octet-stream': 'binary',
  'application/x-www-form-urlencoded': 'sniff',
  '': 'sniff',
};

/** The body format for a Content-Type header value; undefined when unsupported (→ 415). */
export function bodyFormat(contentType: string | undefined): BodyFormat | undefined {
  if (!contentType) return 'sniff';
  const semi = contentType.indexOf(';');
  const bare = (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  return FORMATS[bare];
}

export const SUPPORTED_CONTENT_TYPES = Object.keys(FORMATS).filter(Boolean);

export interface DecodeOptions {
  /** text/plain: the whole body as one event instead of one per line. */
  textWhole?: boolean;
  /** Deepest JSON nesting accepted (objects and arrays; the top-level value is level 1). */
  maxDepth?: number;
}

export function decodeBody(format: BodyFormat, body: Buffer, options: DecodeOptions = {}): DecodedBody {
  const maxDepth = options.maxDepth ?? DEFAULT_JSON_MAX_DEPTH;
  switch (format) {
    case 'json':
      return { contentType: ContentTypes.json, bodies: decodeJson(body, maxDepth) };
    case 'ndjson':
      return { contentType: ContentTypes.json, bodies: decodeNdjson(body, maxDepth) };
    case 'msgpack':
      return { contentType: ContentTypes.msgpack, bodies: decodeMsgpack(body, maxDepth) };
    case 'text':
      return { contentType: ContentTypes.text, bodies: options.textWhole ? (body.length > 0 ? [body] : []) : splitLines(body) };
    case 'binary':
      return { contentType: ContentTypes.binary, bodies: body.length > 0 ? [body] : [] };
    case 'sniff':
      return { contentType: ContentTypes.json, bodies: sniffJson(body, maxDepth) };
  }
}

function badInput(message: string): SluiceError {
  return new SluiceError(ErrorCodes.BAD_INPUT, message);
}

// ─── JSON ─────────────────────────────────────────────────────────────────────────────────

/** Refuses a body that is not UTF-8, naming the first bad byte. */
function checkUtf8(body: Buffer): void {
  if (isUtf8(body)) return;
  const at = Math.max(0, invalidUtf8At(body));
  throw badInput(
    `invalid UTF-8 at byte ${at} (0x${(body[at] ?? 0).toString(16).padStart(2, '0')}): JSON must be UTF-8; send binary data as application/octet-stream or application/msgpack, or base64 it inside the JSON`,
  );
}

/** Refuses JSON nested deeper than maxDepth, naming the limit and where it was crossed. */
function checkDepth(body: Buffer, maxDepth: number, start = 0, end = body.length, where = ''): void {
  const at = jsonTooDeepAt(body, maxDepth, start, end);
  if (at === -1) return;
  throw badInput(`${where}JSON nested deeper than ${maxDepth} levels (max_depth) at byte ${at}: flatten the event, or raise the source's max_depth`);
}

function decodeJson(body: Buffer, maxDepth: number): Uint8Array[] {
  checkUtf8(body);
  checkDepth(body, maxDepth);
  const text = body.toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw badInput(`invalid JSON: ${describeJsonError(text, error)}`);
  }
  return recordsOf(value, body, text);
}

function sniffJson(body: Buffer, maxDepth: number): Uint8Array[] {
  checkUtf8(body);
  const text = body.toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    // Not one JSON value: several lines are NDJSON; one line gets the JSON error.
    if (text.trim().includes('\n')) return decodeNdjson(body, maxDepth);
    checkDepth(body, maxDepth);
    throw badInput(`invalid JSON: ${describeJsonError(text, error)} (send Content-Type: application/json, application/x-ndjson, application/msgpack or text/plain)`);
  }
  checkDepth(body, maxDepth);
  return recordsOf(value, body, text);
}

function recordsOf(value: unknown, body: Buffer, text: string): Uint8Array[] {
  if (Array.isArray(value)) {
    const slices = splitJsonArray(body);
    for (let i = 0; i < value.length; i++) {
      if (!isRecord(value[i])) {
        const at = slices[i] ? ` (${lineColumn(text, body.subarray(0, slices[i].byteOffset - body.byteOffset).toString('utf8').length)})` : '';
        throw badInput(`element ${i} of the array${at} is ${kindOf(value[i])}; expected an object`);
      }
    }
    if (slices.length !== value.length) throw new SluiceError(ErrorCodes.INTERNAL, `JSON array split found ${slices.length} elements, JSON.parse ${value.length}`);
    return slices;
  }
  if (!isRecord(value)) throw badInput(`expected a JSON object or an array of objects, got ${kindOf(value)}`);
  return [trim(body, 0, body.length)];
}

function isRecord(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  const t = typeof value;
  return t === 'object' ? 'an object' : `a ${t}`;
}

/**
 * The top-level elements of a JSON array (already validated by JSON.parse) as slices of the raw
 * bytes. Structural characters are ASCII, so scanning UTF-8 bytes is exact.
 */
function splitJsonArray(body: Buffer): Uint8Array[] {
  const out: Uint8Array[] = [];
  let i = body.indexOf(0x5b) + 1; // '['
  let depth = 1;
  let start = -1;
  for (; i < body.length; i++) {
    const c = body[i];
    if (c === 0x22) {
      // A string: jump to its closing quote (one not preceded by an odd number of backslashes).
      if (start === -1) start = i;
      let q = i;
      for (;;) {
        q = body.indexOf(0x22, q + 1);
        let backslashes = 0;
        while (body[q - 1 - backslashes] === 0x5c) backslashes++;
        if ((backslashes & 1) === 0) break;
      }
      i = q;
      continue;
    }
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) continue;
    if (depth === 1 && (c === 0x2c || c === 0x5d)) {
      // ',' or the closing ']'
      if (start !== -1) out.push(trim(body, start, i));
      start = -1;
      if (c === 0x5d) break;
      continue;
    }
    if (start === -1) start = i;
    if (c === 0x7b || c === 0x5b) depth++;
    else if (c === 0x7d || c === 0x5d) depth--;
  }
  return out;
}

function trim(body: Buffer, start: number, end: number): Buffer {
  while (start < end && isSpace(body[start])) start++;
  while (end > start && isSpace(body[end - 1])) end--;
  return body.subarray(start, end);
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function decodeNdjson(body: Buffer, maxDepth: number): Uint8Array[] {
  checkUtf8(body);
  const out: Uint8Array[] = [];
  let line = 0;
  let pos = 0;
  while (pos < body.length) {
    line++;
    let nl = body.indexOf(0x0a, pos);
    if (nl === -1) nl = body.length;
    const slice = trim(body, pos, nl);
    pos = nl + 1;
    if (slice.length === 0) continue;
    checkDepth(body, maxDepth, slice.byteOffset - body.byteOffset, slice.byteOffset - body.byteOffset + slice.length, `line ${line}: `);
    const text = slice.toString('utf8');
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw badInput(`line ${line}: invalid JSON: ${describeJsonError(text, error, false)}`);
    }
    if (!isRecord(value)) throw badInput(`line ${line}: expected a JSON object, got ${kindOf(value)}`);
    out.push(slice);
  }
  return out;
}

/** A JSON.parse failure as "what, at line L, column C": V8 does not always give a position. */
function describeJsonError(text: string, error: unknown, withLine = true): string {
  let located: ReturnType<typeof locateJsonError>;
  try {
    located = locateJsonError(text);
  } catch {
    located = undefined; // a stack overflow on hostile input: V8's own message will do
  }
  if (!located) return (error as Error).message;
  const where = withLine ? lineColumn(text, located.index) : `column ${located.index + 1}`;
  return `${located.message} at ${where}`;
}

function lineColumn(text: string, index: number): string {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < index && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return `line ${line}, column ${index - lineStart + 1}`;
}

/**
 * Finds the first syntax error in `text` (error path only; JSON.parse does the real parsing).
 * Returns undefined when it finds none.
 */
export function locateJsonError(text: string): { index: number; message: string } | undefined {
  let i = 0;
  const fail = (message: string): never => {
    throw { index: i, message };
  };
  const ws = () => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\n' || text[i] === '\r' || text[i] === '\t')) i++;
  };
  const describe = () => (i >= text.length ? 'unexpected end of input' : `unexpected ${JSON.stringify(text[i])}`);
  const string = () => {
    i++;
    while (i < text.length) {
      const c = text[i];
      if (c === '"') {
        i++;
        return;
      }
      if (c === '\\') {
        const e = text[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) fail('bad \\u escape in string');
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else fail('bad escape in string');
      } else if (c.charCodeAt(0) < 0x20) fail('control character in string');
      else i++;
    }
    fail('unterminated string');
  };
  const value = (depth: number): void => {
    if (depth > 2_000) fail('nesting too deep');
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail(`expected a property name (a string), ${describe()}`);
        string();
        ws();
        if (text[i] !== ':') fail(`expected ':' after a property name, ${describe()}`);
        i++;
        value(depth + 1);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return;
        }
        fail(`expected ',' or '}' after a property value, ${describe()}`);
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        value(depth + 1);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return;
        }
        fail(`expected ',' or ']' after an array element, ${describe()}`);
      }
    }
    if (c === '"') return string();
    const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(text.slice(i, i + 400));
    if (m && m[0].length > 0 && /[0-9]/.test(m[0])) {
      i += m[0].length;
      return;
    }
    for (const word of ['true', 'false', 'null']) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return;
      }
    }
    fail(`expected a value, ${describe()}`);
  };
  try {
    value(0);
    ws();
    if (i < text.length) fail(`unexpected ${JSON.stringify(text[i])} after the end of the JSON value`);
    return undefined;
  } catch (error) {
    if (error && typeof error === 'object' && 'index' in error) return error as { index: number; message: string };
    throw error;
  }
}

// ─── msgpack ──────────────────────────────────────────────────────────────────────────────


function isMapByte(b: number): boolean {
  return (b >= 0x80 && b <= 0x8f) || b === 0xde || b === 0xdf;
}

/**
 * Whether a decoded value nests deeper than `limit` (maps and arrays; the record itself is level
 * 1). Iterative, so any depth msgpackr could decode is measured without recursion.
 */
function nestsDeeperThan(value: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object' || ArrayBuffer.isView(v) || v instanceof Date) continue;
    if (depth > limit) return true;
    const children = Array.isArray(v) ? v : v instanceof Map ? [...v.values()] : Object.values(v);
    for (const c of children) if (c !== null && typeof c === 'object') stack.push([c, depth + 1]);
  }
  return false;
}

function decodeMsgpack(body: Buffer, maxDepth: number): Uint8Array[] {
  if (body.length === 0) return [];
  const first = body[0];
  let start = 0;
  let expected = -1;
  if (first >= 0x90 && first <= 0x9f) {
    expected = first & 0x0f;
    start = 1;
  } else if (first === 0xdc && body.length >= 3) {
    expected = body.readUInt16BE(1);
    start = 3;
  } else if (first === 0xdd && body.length >= 5) {
    expected = body.readUInt32BE(1);
    start = 5;
  } else if (!isMapByte(first)) {
    throw badInput(`msgpack body must be a map, an array of maps, or maps back to back; byte 0 is 0x${first.toString(16).padStart(2, '0')}`);
  }
  const items = body.subarray(start);
  const out: Uint8Array[] = [];
  let lastEnd = 0;
  try {
    unpackMultiple(items, (value: unknown, s?: number, e?: number) => {
      const from = s ?? lastEnd;
      const to = e ?? items.length;
      if (!isMapByte(items[from])) {
        throw badInput(`msgpack record ${out.length} (byte ${start + from}) is not a map`);
      }
      if (nestsDeeperThan(value, maxDepth)) {
        throw badInput(`msgpack record ${out.length} (byte ${start + from}) nests deeper than ${maxDepth} levels (max_depth): flatten the event, or raise the source's max_depth`);
      }
      out.push(items.subarray(from, to));
      lastEnd = to;
    });
  } catch (error) {
    if (error instanceof SluiceError) throw error;
    const why = error instanceof RangeError && /call stack/.test(error.message) ? `nested too deep to decode (max_depth is ${maxDepth})` : (error as Error).message;
    throw badInput(`invalid msgpack in record ${out.length} (byte ${start + lastEnd}): ${why}`);
  }
  if (expected !== -1 && out.length !== expected) {
    throw badInput(`msgpack array header says ${expected} elements, the body holds ${out.length}`);
  }
  return out;
}

// ─── text ─────────────────────────────────────────────────────────────────────────────────

/** Lines without their `\n` / `\r\n`; blank lines are skipped. */
function splitLines(body: Buffer): Uint8Array[] {
  const out: Uint8Array[] = [];
  let pos = 0;
  while (pos < body.length) {
    let nl = body.indexOf(0x0a, pos);
    if (nl === -1) nl = body.length;
    let end = nl;
    if (end > pos && body[end - 1] === 0x0d) end--;
    if (end > pos) out.push(body.subarray(pos, end));
    pos = nl + 1;
  }
  return out;
}
