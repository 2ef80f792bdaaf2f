/**
 * Viewer schemas: a Protobuf or Avro schema per topic that browse, search, export and the live
 * tail decode the topic's binary bodies with (docs/inspection.md, "Schemas").
 *
 * Stored in the channel's state table, namespace `viewer.schema`, key = topic, value = the
 * request as given (JSON: TopicSchemaRequest), so the setting survives restarts, travels with the
 * channel file (`sluice inspect` shows the same), and the browser, the desktop and the CLI agree.
 * Compiled schemas live in memory, one per topic; the state table is written only through this
 * module, so the in-memory copy is never stale within a process.
 *
 * Which bodies a schema decodes: every event of the topic except those whose content type
 * describes itself (JSON, msgpack, text/*) — those are shown as before.
 *
 * Hostile input is bounded, and every refusal names what and where:
 * - schema text ≤ MAX_SCHEMA_CHARS (and admin.max_body_bytes); a .proto's nesting ≤ 100 levels
 *   (protobufjs' recursionLimit, as protoc); an Avro schema's JSON ≤ AVRO_MAX_DEPTH levels, its
 *   names resolved by avsc, and arrays of zero-width items (null, empty records) refused — a block
 *   count of 2^62 would loop without reading a byte;
 * - payloads: Protobuf messages nested deeper than 100 levels stop with an error (protobufjs,
 *   which also checks every length against the buffer). Avro bodies are walked by AvroGuard
 *   before avsc reads them: every length, block count and index checked against the bytes left,
 *   nesting ≤ AVRO_MAX_DEPTH, no bytes left over (avsc alone loops over a claimed count past the
 *   end of the buffer: docs/decisions/viewer-decoders.md). A stack overflow anywhere becomes
 *   "nested too deeply"; decoded values deeper than PRESENT_MAX_DEPTH are refused by toJsonValue.
 *   A body that does not decode keeps its bytes (`raw`) and gets a `decodeError` naming the
 *   schema and the reason.
 */
import protobuf from 'protobufjs';
import { createRequire } from 'node:module';
import { MAX_SCHEMA_CHARS, type SchemaValidateResponse, type TopicSchemaRequest, type TopicSchemaResponse } from '../../../shared/src/api/schemas.ts';
import type { StoredEvent } from '../../../shared/src/event.ts';
import { ErrorCodes, isSluiceError, SluiceError } from '../../../shared/src/errors.ts';
import type { Channel } from '../channel/channel.ts';
import { isJsonType, isMsgpackType, toJsonValue, type BodyDecoder, type DecodedBody } from './present.ts';

export const SCHEMA_NAMESPACE = 'viewer.schema';
/** Entries in a Confluent message-index list beyond which the prefix is refused as hostile. */
const MAX_MESSAGE_INDEXES = 100;

const load = createRequire(import.meta.url);

/** A compiled schema: decodes one body (after framing) to a JSON-safe value, or throws. */
interface Compiled {
  readonly request: TopicSchemaRequest;
  readonly types: string[];
  readonly label: string;
  decode(body: Uint8Array): unknown;
}

interface Entry {
  compiled: Compiled;
  updatedAt: number;
}

function invalid(message: string): SluiceError {
  return new SluiceError(ErrorCodes.SCHEMA_INVALID, message);
}

// ─── Protobuf ─────────────────────────────────────────────────────────────────────────────

type DescriptorExt = { FileDescriptorSet: protobuf.Type };
let descriptorExt: DescriptorExt | null = null;
/** protobufjs/ext/descriptor (adds Root.fromDescriptor), loaded when a descriptor set is first used. */
function fromDescriptor(bytes: Uint8Array): protobuf.Root {
  descriptorExt ??= load('protobufjs/ext/descriptor') as DescriptorExt;
  return (protobuf.Root as unknown as { fromDescriptor(d: Uint8Array, o: { keepCase: boolean }): protobuf.Root }).fromDescriptor(bytes, { keepCase: true });
}

/** Every message type of a root, fully qualified without the leading dot, sorted. */
/** Every message type a root defines, nested ones too. */
function allTypes(root: protobuf.Root): protobuf.Type[] {
  const out: protobuf.Type[] = [];
  const walk = (ns: protobuf.NamespaceBase) => {
    for (const nested of ns.nestedArray) {
      if (nested instanceof protobuf.Type) out.push(nested);
      if (nested instanceof protobuf.Namespace || nested instanceof protobuf.Type) walk(nested);
    }
  };
  walk(root);
  return out;
}

function messageTypes(root: protobuf.Root): string[] {
  // The well-known types pulled in for imports are not what a user picks from.
  return allTypes(root).map((t) => t.fullName.replace(/^\./, '')).filter((t) => !t.startsWith('google.protobuf.')).sort();
}

/** Body bytes × the widest message's field count past which a decoded body shows only the fields sent (no defaults). */
const PROTOBUF_MAX_DEFAULTS = 2_000_000;

function protobufRoot(request: TopicSchemaRequest): protobuf.Root {
  if ((request.proto === undefined) === (request.descriptorSet === undefined)) {
    throw invalid('a protobuf schema needs exactly one of proto (the .proto text) or descriptorSet (a FileDescriptorSet, base64)');
  }
  let root: protobuf.Root;
  if (request.proto !== undefined) {
    let parsed: protobuf.IParserResult;
    root = new protobuf.Root();
    try {
      parsed = protobuf.parse(request.proto, root, { keepCase: true });
    } catch (error) {
      throw invalid(`the .proto does not parse: ${protobufMessage(error)}`);
    }
    for (const name of [...(parsed.imports ?? []), ...(parsed.weakImports ?? [])]) {
      const common = protobuf.common.get(name);
      if (!common?.nested) {
        throw invalid(`import "${name}" cannot be resolved: only google/protobuf/* imports are built in; use a descriptor set instead (protoc --include_imports --descriptor_set_out=set.pb …)`);
      }
      root.addJSON(common.nested);
    }
  } else {
    const bytes = Buffer.from(request.descriptorSet!, 'base64');
    if (bytes.length === 0) throw invalid('descriptorSet is empty (expected base64 of a binary FileDescriptorSet)');
    try {
      root = fromDescriptor(bytes);
    } catch (error) {
      throw invalid(`descriptorSet is not a FileDescriptorSet: ${protobufMessage(error)}`);
    }
  }
  try {
    root.resolveAll();
  } catch (error) {
    throw invalid(`the schema does not resolve: ${protobufMessage(error)}`);
  }
  return root;
}

/** V8's "Maximum call stack size exceeded" (protobufjs throws RangeError for short buffers too). */
function isStackOverflow(error: unknown): boolean {
  return error instanceof RangeError && /call stack/i.test(error.message);
}

function protobufMessage(error: unknown): string {
  if (isStackOverflow(error)) return 'nested too deeply';
  return (error as Error).message ?? String(error);
}

function compileProtobuf(request: TopicSchemaRequest): Compiled {
  const root = protobufRoot(request);
  const types = messageTypes(root);
  if (types.length === 0) throw invalid('the protobuf schema defines no message type');
  if (request.messageType === undefined) throw invalid(`messageType is required: one of ${list(types)}`);
  const type = root.lookup(request.messageType.replace(/^\./, ''));
  if (!(type instanceof protobuf.Type)) throw invalid(`messageType "${request.messageType}" is not a message type of this schema: one of ${list(types)}`);
  const confluent = request.framing === 'confluent';
  const convert = { longs: BigInt, enums: String, defaults: true, arrays: true, oneofs: false } as protobuf.IConversionOptions;
  // Defaults fill every field of every (even empty) sub-message: a body of many empty elements of
  // a wide message would become millions of fields. Past the budget, only the fields sent are shown.
  const widest = Math.max(1, ...allTypes(root).map((t) => t.fieldsArray.length));
  const sparse = { ...convert, defaults: false };
  return {
    request,
    types,
    label: `protobuf ${type.fullName.replace(/^\./, '')}`,
    decode(body) {
      const payload = confluent ? skipMessageIndexes(body) : body;
      try {
        return inDeclarationOrder(type, type.toObject(type.decode(payload), payload.length * widest > PROTOBUF_MAX_DEFAULTS ? sparse : convert));
      } catch (error) {
        if (isStackOverflow(error)) throw new Error('nested too deeply');
        throw new Error(`${(error as Error).message}${!confluent && body.length >= 5 && body[0] === 0 ? ' (the body starts with 0x00, as the Confluent wire format does: set framing "confluent")' : ''}`);
      }
    },
  };
}

/**
 * protobufjs' toObject puts repeated and map fields first; a reader expects the .proto's order.
 * Bounded: the value was decoded within protobufjs' recursion limit.
 */
function inDeclarationOrder(type: protobuf.Type, value: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of type.fieldsArray) {
    if (!(field.name in value)) continue;
    const v = value[field.name];
    const nested = field.resolvedType instanceof protobuf.Type ? field.resolvedType : null;
    if (!nested || v === null || typeof v !== 'object') out[field.name] = v;
    else if (Array.isArray(v)) out[field.name] = v.map((x) => (x !== null && typeof x === 'object' ? inDeclarationOrder(nested, x as Record<string, unknown>) : x));
    else if (field.map) out[field.name] = Object.fromEntries(Object.entries(v).map(([k, x]) => [k, x !== null && typeof x === 'object' ? inDeclarationOrder(nested, x as Record<string, unknown>) : x]));
    else out[field.name] = inDeclarationOrder(nested, v as Record<string, unknown>);
  }
  for (const k of Object.keys(value)) if (!(k in out)) out[k] = value[k];
  return out;
}

function list(types: string[]): string {
  return types.length <= 20 ? types.join(', ') : `${types.slice(0, 20).join(', ')} … (${types.length} in all)`;
}

/** Confluent Protobuf framing after the 5-byte header: a zigzag-varint count, then that many indexes. */
function skipMessageIndexes(body: Uint8Array): Uint8Array {
  let pos = 0;
  const varint = (): number => {
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (pos >= body.length) throw new Error('the Confluent message-index list is cut short');
      const b = body[pos++];
      result |= (b & 0x7f) << shift;
      if ((b & 0x80) === 0) return (result >>> 1) ^ -(result & 1);
    }
    throw new Error('the Confluent message-index list holds a varint longer than 5 bytes');
  };
  const count = varint();
  if (count < 0 || count > MAX_MESSAGE_INDEXES) throw new Error(`the Confluent message-index list claims ${count} entries (at most ${MAX_MESSAGE_INDEXES})`);
  for (let i = 0; i < count; i++) varint();
  return body.subarray(pos);
}

// ─── Avro ─────────────────────────────────────────────────────────────────────────────────

/** What this module uses of an avsc Type (avsc 5.x). */
interface AvroType {
  readonly typeName: string;
  readonly name?: string;
  readonly fields?: readonly { name: string; type: AvroType }[];
  readonly itemsType?: AvroType;
  readonly valuesType?: AvroType;
  readonly types?: readonly AvroType[];
  readonly size?: number;
  readonly symbols?: readonly string[];
  readonly underlyingType?: AvroType;
  fromBuffer(buffer: Buffer): unknown;
}

interface Avsc {
  Type: { forSchema(schema: unknown, options?: Record<string, unknown>): AvroType };
  types: { LongType: { __with(methods: Record<string, unknown>): unknown } };
}

let avsc: { lib: Avsc; long: unknown } | null = null;
/**
 * avsc, loaded when an Avro schema is first compiled (code loads when used), and a `long` that
 * reads as a bigint: avsc's own refuses values beyond 2^53 ("potential precision loss"), which
 * nanosecond timestamps are. toJsonValue shows it as a number when safe, else a decimal string.
 */
function loadAvsc(): { lib: Avsc; long: unknown } {
  if (avsc) return avsc;
  let lib: Avsc;
  try {
    lib = load('avsc') as Avsc;
  } catch {
    throw invalid('Avro schemas need the avsc package, which this installation lacks');
  }
  const long = lib.types.LongType.__with({
    fromBuffer: (b: Buffer) => b.readBigInt64LE(),
    toBuffer: (n: bigint) => {
      const b = Buffer.alloc(8);
      b.writeBigInt64LE(BigInt(n));
      return b;
    },
    fromJSON: BigInt,
    toJSON: Number,
    isValid: (n: unknown) => typeof n === 'bigint',
    compare: (a: bigint, b: bigint) => (a === b ? 0 : a < b ? -1 : 1),
  });
  avsc = { lib, long };
  return avsc;
}

/** Depth a schema's JSON may nest, and a decoded Avro value (records in records, arrays in arrays). */
export const AVRO_MAX_DEPTH = 100;
/** Values one Avro body may hold beyond 4 per byte (AvroGuard). */
export const AVRO_MAX_VALUES = 100_000;

function compileAvro(request: TopicSchemaRequest): Compiled {
  if (request.schema === undefined) throw invalid('an avro schema needs schema (the .avsc JSON text)');
  if (request.proto !== undefined || request.descriptorSet !== undefined || request.messageType !== undefined) {
    throw invalid('proto, descriptorSet and messageType are for protobuf schemas; an avro schema takes schema only');
  }
  let json: unknown;
  try {
    json = JSON.parse(request.schema);
  } catch (error) {
    throw invalid(`the Avro schema is not JSON: ${(error as Error).message}`);
  }
  if (jsonDeeperThan(json, AVRO_MAX_DEPTH)) throw invalid(`the Avro schema nests deeper than ${AVRO_MAX_DEPTH} levels`);
  let type: AvroType;
  try {
    // Unions as plain values, except those whose branches a value cannot tell apart (two records):
    // those as {"Branch": value}, the Avro JSON encoding. No logical types: plain JSON-able data.
    const { lib, long } = loadAvsc();
    type = lib.Type.forSchema(json, { wrapUnions: 'auto', registry: { long } });
  } catch (error) {
    if (isSluiceError(error)) throw error;
    throw invalid(`the Avro schema is not valid: ${protobufMessage(error)}`);
  }
  const zero = zeroWidthArray(type);
  if (zero) throw invalid(`${zero}: an array whose items take no bytes (null, an empty record) is refused: a hostile block count would make reading it loop without reading a byte`);
  const name = type.name ?? type.typeName;
  return {
    request,
    types: [name],
    label: `avro ${name}`,
    decode(body) {
      const buffer = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
      // avsc trusts block counts and lengths (it loops `count` times even past the end of the
      // bytes); walk the bytes first with every count and length checked against what is left.
      const end = new AvroGuard(buffer).check(type);
      if (end !== buffer.length) throw new Error(`${buffer.length - end} bytes left over after the ${name} value (is the framing right?)`);
      return type.fromBuffer(buffer);
    },
  };
}

function jsonDeeperThan(value: unknown, limit: number, depth = 0): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (depth >= limit) return true;
  for (const v of Object.values(value)) if (jsonDeeperThan(v, limit, depth + 1)) return true;
  return false;
}

/** The name of an array type whose items encode to zero bytes, if the schema has one. */
function zeroWidthArray(root: AvroType): string | null {
  // `path`: the types being looked into, so a type that contains itself ends the search (a
  // recursive record needs a union, which writes an index, to end); siblings are each looked at.
  // `known`: each type's answer once found, so a type used many times (a tree of reused records)
  // is looked into once, not once per use.
  const known = new Map<AvroType, boolean>();
  const zero = (t: AvroType, path: Set<AvroType>): boolean => {
    if (path.has(t)) return false;
    const before = known.get(t);
    if (before !== undefined) return before;
    const u = t.underlyingType ?? t;
    switch (u.typeName) {
      case 'null':
        return true;
      case 'record':
      case 'error': {
        path.add(t);
        const all = (u.fields ?? []).every((f) => zero(f.type, path));
        path.delete(t);
        known.set(t, all);
        return all;
      }
      case 'fixed':
        return u.size === 0;
      default:
        return false; // numbers, strings, enums, unions (an index), arrays and maps (a count) write bytes
    }
  };
  const visited = new Set<AvroType>();
  const walk = (t: AvroType, path: string): string | null => {
    if (visited.has(t)) return null;
    visited.add(t);
    const u = t.underlyingType ?? t;
    if (u.itemsType) return zero(u.itemsType, new Set()) ? path : walk(u.itemsType, `${path}[]`);
    if (u.valuesType) return walk(u.valuesType, `${path}{}`);
    for (const f of u.fields ?? []) {
      const found = walk(f.type, `${path}.${f.name}`);
      if (found) return found;
    }
    for (const b of u.types ?? []) {
      const found = walk(b, path);
      if (found) return found;
    }
    return null;
  };
  const found = walk(root, root.name ?? root.typeName);
  return found;
}

/**
 * Walks an Avro binary value against its type without building it: every length, block count,
 * union index and enum index is checked against the bytes left, and nesting against
 * AVRO_MAX_DEPTH. Returns the offset after the value; throws naming the byte offset.
 */
class AvroGuard {
  #pos = 0;
  /** Array and map items left to walk: one per byte of the body, as every item takes one at least. */
  #items: number;
  /** Values left to walk in all: zero-width values (null, empty records) take no byte, so a schema of reused records could make a 1-byte body a tree of millions. */
  #nodes: number;
  constructor(readonly buf: Buffer) {
    this.#items = buf.length;
    this.#nodes = AVRO_MAX_VALUES + 4 * buf.length;
  }

  check(type: AvroType): number {
    this.#value(type, 0);
    return this.#pos;
  }

  #fail(what: string): never {
    throw new Error(`${what} at byte ${this.#pos}`);
  }

  /** A zigzag varint long, as a Number (exact below 2^53, which is all a count or length can be here). */
  #long(): number {
    let result = 0;
    let factor = 1;
    for (let i = 0; i < 10; i++) {
      if (this.#pos >= this.buf.length) this.#fail('the value is cut short');
      const b = this.buf[this.#pos++];
      result += (b & 0x7f) * factor;
      if ((b & 0x80) === 0) return result % 2 === 0 ? result / 2 : -(result + 1) / 2;
      factor *= 128;
    }
    this.#fail('a varint longer than 10 bytes');
  }

  #skip(n: number, what: string): void {
    if (n < 0 || n > this.buf.length - this.#pos) this.#fail(`${what} of ${n} bytes, beyond the ${this.buf.length - this.#pos} left`);
    this.#pos += n;
  }

  #value(t: AvroType, depth: number): void {
    if (depth > AVRO_MAX_DEPTH) this.#fail(`values nested deeper than ${AVRO_MAX_DEPTH} levels`);
    if (--this.#nodes < 0) this.#fail(`more than ${AVRO_MAX_VALUES.toLocaleString('en-US')} values (plus 4 per body byte) in one body`);
    const u = t.underlyingType ?? t;
    switch (u.typeName) {
      case 'null':
        return;
      case 'boolean':
        return this.#skip(1, 'a boolean');
      case 'int':
      case 'long':
      case 'abstract:long': // the bigint long of loadAvsc
        this.#long();
        return;
      case 'float':
        return this.#skip(4, 'a float');
      case 'double':
        return this.#skip(8, 'a double');
      case 'bytes':
      case 'string':
        return this.#skip(this.#long(), `a ${u.typeName}`);
      case 'fixed':
        return this.#skip(u.size ?? 0, 'a fixed');
      case 'enum': {
        const i = this.#long();
        if (i < 0 || i >= (u.symbols?.length ?? 0)) this.#fail(`enum index ${i} out of range (${u.symbols?.length ?? 0} symbols)`);
        return;
      }
      case 'record':
      case 'error':
        for (const f of u.fields ?? []) this.#value(f.type, depth + 1);
        return;
      case 'array':
      case 'map':
        for (;;) {
          let n = this.#long();
          if (n === 0) return;
          if (n < 0) {
            n = -n;
            this.#long(); // the block's size in bytes
          }
          // Every item takes at least one byte (zero-width items are refused with the schema).
          if (n > this.buf.length - this.#pos) this.#fail(`a block of ${n} ${u.typeName} items, more than the ${this.buf.length - this.#pos} bytes left`);
          // Spent for every block, so even a zero-width item type that escaped the schema check
          // cannot make the walk longer than the body.
          this.#items -= n;
          if (this.#items < 0) this.#fail(`more ${u.typeName} items than the body has bytes`);
          for (let i = 0; i < n; i++) {
            if (u.typeName === 'map') this.#skip(this.#long(), 'a map key');
            this.#value((u.itemsType ?? u.valuesType)!, depth + 1);
          }
        }
      default:
        if (u.types) {
          const i = this.#long();
          if (i < 0 || i >= u.types.length) this.#fail(`union branch ${i} out of range (${u.types.length} branches)`);
          return this.#value(u.types[i], depth + 1);
        }
        this.#fail(`unsupported Avro type ${u.typeName}`);
    }
  }
}

// ─── Per-topic schemas ────────────────────────────────────────────────────────────────────

export function compileSchema(request: TopicSchemaRequest): Compiled {
  for (const [k, v] of Object.entries(request)) {
    if (typeof v === 'string' && v.length > MAX_SCHEMA_CHARS) throw invalid(`${k} is ${v.length} characters long (at most ${MAX_SCHEMA_CHARS})`);
  }
  if (request.kind === 'protobuf') {
    if (request.schema !== undefined) throw invalid('schema is for avro schemas; a protobuf schema takes proto or descriptorSet, and messageType');
    return compileProtobuf(request);
  }
  if (request.kind === 'avro') return compileAvro(request);
  throw invalid(`kind "${String((request as { kind: unknown }).kind)}" is not protobuf or avro`);
}

/** The types a schema defines, and whether it would be accepted: what the desktop's picker asks before PUT. */
export function validateSchema(request: TopicSchemaRequest): SchemaValidateResponse {
  try {
    return { ok: true, types: compileSchema(request).types };
  } catch (error) {
    let types: string[] = [];
    if (request.kind === 'protobuf') {
      try {
        types = messageTypes(protobufRoot(request));
      } catch {
        // the schema itself is broken: no types to offer
      }
    }
    return { ok: false, types, error: (error as Error).message };
  }
}

/** Decodes with the topic's schema, after the framing; the error names the schema and the reason. */
function decodeWith(compiled: Compiled, body: Uint8Array): DecodedBody {
  const encoding = compiled.request.kind;
  let payload = body;
  let schemaId: number | undefined;
  if (compiled.request.framing === 'confluent') {
    if (body.length < 5 || body[0] !== 0) {
      return { encoding: null, value: null, error: `${compiled.label}: not in the Confluent wire format (${body.length < 5 ? `${body.length} bytes, fewer than the 5-byte header` : `first byte 0x${body[0].toString(16).padStart(2, '0')}, not the magic byte 0x00`})` };
    }
    schemaId = Buffer.from(body.buffer, body.byteOffset, body.byteLength).readUInt32BE(1);
    payload = body.subarray(5);
  }
  try {
    const value = toJsonValue(compiled.decode(payload));
    return { encoding, value, ...(schemaId === undefined ? {} : { schemaId }) };
  } catch (error) {
    const why = isStackOverflow(error) ? 'nested too deeply' : (error as Error).message;
    return { encoding: null, value: null, error: `does not decode as ${compiled.label}: ${why}`, ...(schemaId === undefined ? {} : { schemaId }) };
  }
}

/** Content types that describe themselves: shown as they say, whatever the topic's schema. */
function selfDescribing(contentType: string): boolean {
  return isJsonType(contentType) || isMsgpackType(contentType) || contentType.startsWith('text/');
}

/**
 * The viewer schemas of one channel. One instance per channel (schemasOf), so every route,
 * the tail and the export see the same compiled schemas.
 */
export class TopicSchemas {
  readonly #entries = new Map<string, Entry>();
  #version = 0;

  constructor(
    readonly channel: Channel,
    readonly readonly = false,
  ) {
    for (const { key, value, updatedAt } of channel.listState(SCHEMA_NAMESPACE)) {
      try {
        this.#entries.set(key, { compiled: compileSchema(JSON.parse(value) as TopicSchemaRequest), updatedAt });
      } catch {
        // A stored schema this version cannot compile (e.g. avsc missing) shows the topic raw;
        // GET says why (describe recompiles and throws).
      }
    }
  }

  get(topic: string): TopicSchemaResponse | null {
    const entry = this.#entries.get(topic);
    if (!entry) {
      const stored = this.channel.getState(SCHEMA_NAMESPACE, topic);
      if (stored !== null) compileSchema(JSON.parse(stored) as TopicSchemaRequest); // throws why it is not in use
      return null;
    }
    return { topic, schema: entry.compiled.request, types: entry.compiled.types, updatedAt: entry.updatedAt };
  }

  list(): { topic: string; kind: 'protobuf' | 'avro'; messageType?: string; updatedAt: number }[] {
    return [...this.#entries].map(([topic, e]) => ({
      topic,
      kind: e.compiled.request.kind,
      ...(e.compiled.request.messageType === undefined ? {} : { messageType: e.compiled.request.messageType }),
      updatedAt: e.updatedAt,
    }));
  }

  /** Validates, compiles and stores the topic's schema (durably, in the channel), replacing any. */
  put(topic: string, request: TopicSchemaRequest): TopicSchemaResponse {
    this.#assertWritable('set a schema');
    const compiled = compileSchema(request);
    const stored = Object.fromEntries(Object.entries(request).filter(([, v]) => v !== undefined)) as TopicSchemaRequest;
    this.channel.putState([{ namespace: SCHEMA_NAMESPACE, key: topic, value: JSON.stringify(stored) }]);
    const updatedAt = this.channel.listState(SCHEMA_NAMESPACE).find((e) => e.key === topic)?.updatedAt ?? Date.now();
    this.#entries.set(topic, { compiled: { ...compiled, request: stored }, updatedAt });
    this.#version++;
    return { topic, schema: stored, types: compiled.types, updatedAt };
  }

  /** Forgets the topic's schema; whether there was one. */
  delete(topic: string): boolean {
    this.#assertWritable('remove a schema');
    const had = this.#entries.delete(topic) || this.channel.getState(SCHEMA_NAMESPACE, topic) !== null;
    this.channel.putState([{ namespace: SCHEMA_NAMESPACE, key: topic, value: null }]);
    this.#version++;
    return had;
  }

  /**
   * The topic's body decoder: looks the schema up on every call, so a long tail or export picks
   * up a schema set meanwhile. Null when the topic has no schema (bodies shown by content type).
   */
  decoder(topic: string): BodyDecoder {
    const entries = this.#entries;
    const version = () => this.#version;
    let last: { event: StoredEvent; compiled: Compiled; body: DecodedBody } | null = null;
    return {
      decode(event: StoredEvent, contentType: string): DecodedBody | undefined {
        const entry = entries.get(topic);
        if (!entry || selfDescribing(contentType)) return undefined;
        // Filters and presentation ask for the same event in turn: decode it once.
        if (last && last.event === event && last.compiled === entry.compiled) return last.body;
        const body = decodeWith(entry.compiled, event.body);
        last = { event, compiled: entry.compiled, body };
        return body;
      },
      get signature() {
        return entries.has(topic) ? `schema@${version()}` : '';
      },
    };
  }

  #assertWritable(what: string): void {
    if (this.readonly) throw new SluiceError(ErrorCodes.BAD_INPUT, `this is a read-only inspection of a channel file: cannot ${what}`);
  }
}

const byChannel = new WeakMap<Channel, TopicSchemas>();

/** The channel's viewer schemas (created on first use, from what the channel stores). */
export function schemasOf(channel: Channel, readonly = false): TopicSchemas {
  let schemas = byChannel.get(channel);
  if (!schemas) byChannel.set(channel, (schemas = new TopicSchemas(channel, readonly)));
  return schemas;
}
