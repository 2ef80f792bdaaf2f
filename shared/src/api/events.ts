/**
 * Admin API schemas for reading events: browse, search, export and live tail
 * (collector/src/admin/routes/events.ts and tail.ts). TypeBox schemas are JSON Schema: the
 * collector validates requests and serialises answers with them, the OpenAPI document
 * (docs/api/openapi.json) is generated from them, and the desktop reads the `Static` types.
 */
import { Type, type Static } from '@sinclair/typebox';

export const ApiError = Type.Object(
  {
    error: Type.Object(
      {
        code: Type.String({ description: 'A stable code from docs/errors.md, e.g. SLUICE_TOPIC_NOT_FOUND' }),
        message: Type.String({ description: 'What happened, to what, and what to do' }),
        problems: Type.Optional(Type.Array(Type.Object({ path: Type.String(), message: Type.String() }))),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false, description: 'Every error answer' },
);

export const TopicParams = Type.Object({ topic: Type.String({ minLength: 1, maxLength: 249, description: 'Topic name' }) });
export type TopicParams = Static<typeof TopicParams>;

/** How a body was decoded for display; `null`: not decodable (see `raw`). */
export const BodyEncoding = Type.Union([Type.Literal('json'), Type.Literal('msgpack'), Type.Literal('text'), Type.Literal('protobuf'), Type.Literal('avro'), Type.Null()], {
  description: '`protobuf`/`avro`: decoded with the topic\'s schema (GET /api/v1/topics/:topic/schema)',
});

export const ApiEvent = Type.Object(
  {
    offset: Type.Integer({ minimum: 0 }),
    ts: Type.Integer({ description: 'ms since the epoch' }),
    key: Type.Union([Type.String(), Type.Null()]),
    headers: Type.Record(Type.String(), Type.String()),
    contentType: Type.String({ description: 'headers["content-type"] without parameters; application/octet-stream when absent' }),
    bodyEncoding: BodyEncoding,
    body: Type.Unknown({ description: "The decoded body: JSON → value, msgpack → JSON value, the topic's Protobuf/Avro schema → JSON value, UTF-8 text → string; null when not decodable" }),
    decodeError: Type.Optional(Type.String({ description: "Why the body could not be decoded as its content type or the topic's schema says" })),
    schemaId: Type.Optional(Type.Integer({ description: 'The schema id of a body in the Confluent wire format (topic schema with framing "confluent")' })),
    raw: Type.Optional(Type.String({ contentEncoding: 'base64', description: 'The body bytes as stored, base64 (omitted with raw=false)' })),
    size: Type.Integer({ minimum: 0, description: 'Body size in bytes' }),
  },
  { additionalProperties: false },
);
export type ApiEvent = Static<typeof ApiEvent>;

const RegexValue = 'a regex `pattern` or `/pattern/flags` (flags i, m, s, u)';

/** Server-side filters (query parameters); every one given must match (AND). */
export const FilterFields = {
  header: Type.Optional(
    Type.Array(Type.String({ maxLength: 4096 }), { maxItems: 16, description: 'Header equals: `name:value` (repeatable)' }),
  ),
  headerRegex: Type.Optional(
    Type.Array(Type.String({ maxLength: 4096 }), { maxItems: 16, description: `Header matches: \`name:regex\`, the regex being ${RegexValue} (repeatable)` }),
  ),
  key: Type.Optional(Type.String({ maxLength: 4096, description: 'Key equals' })),
  keyRegex: Type.Optional(Type.String({ maxLength: 4096, description: `Key matches ${RegexValue}` })),
  bodyContains: Type.Optional(Type.String({ minLength: 1, maxLength: 4096, description: 'Body contains this text (bytes compared; msgpack bodies: their JSON form)' })),
  bodyRegex: Type.Optional(Type.String({ minLength: 1, maxLength: 4096, description: `Body text matches ${RegexValue}` })),
  jsonata: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 8192,
      description: 'JSONata predicate on the decoded body; $key, $headers, $ts, $offset, $topic are bound. Events where it is truthy match',
    }),
  ),
};
export const FilterQuery = Type.Object(FilterFields, { additionalProperties: false });
export type FilterQuery = Static<typeof FilterQuery>;

const TimeValue = Type.String({ maxLength: 64, description: 'ms since the epoch, or an ISO 8601 time (2026-01-31T12:00:00Z)' });

export const PositionQuery = {
  from: Type.Optional(Type.Integer({ minimum: 0, description: 'Start offset. Forward: the first offset read; backward: read offsets below it' })),
  time: Type.Optional(TimeValue),
  last: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, description: 'The newest N (matching) events' })),
};

export const ScanLimitQuery = {
  maxScanRows: Type.Optional(Type.Integer({ minimum: 1, description: 'Scan at most this many events (capped by admin.max_scan_rows)' })),
  maxScanMs: Type.Optional(Type.Integer({ minimum: 1, description: 'Scan at most this long (capped by admin.max_scan_ms)' })),
};

export const BrowseQuery = Type.Object(
  {
    ...PositionQuery,
    direction: Type.Optional(Type.Union([Type.Literal('forward'), Type.Literal('backward')], { default: 'forward' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, default: 100, description: 'Most events in the answer' })),
    raw: Type.Optional(Type.Boolean({ default: true, description: 'Include the base64 body' })),
    ...FilterFields,
    ...ScanLimitQuery,
  },
  { additionalProperties: false },
);
export type BrowseQuery = Static<typeof BrowseQuery>;

export const StopReason = Type.Union([Type.Literal('limit'), Type.Literal('rows'), Type.Literal('time'), Type.Literal('end'), Type.Literal('damaged')], {
  description:
    'Why the scan stopped: `limit` (enough events), `rows` (scanned max rows), `time` (ran max ms), `end` (reached the end of the range), `damaged` (reached offsets damaged on disk; `next`/`prev` continue past them and `notes` names them)',
});

export const BrowseResponse = Type.Object(
  {
    topic: Type.String(),
    low: Type.Integer({ description: 'First offset still stored, when the scan started' }),
    high: Type.Integer({ description: 'Next offset to be assigned, when the scan started' }),
    direction: Type.Union([Type.Literal('forward'), Type.Literal('backward')]),
    events: Type.Array(ApiEvent, { description: 'Matching events in offset order (also for backward pages)' }),
    next: Type.Integer({ description: 'Forward continuation: `from=next&direction=forward` reads what follows this page' }),
    prev: Type.Integer({ description: 'Backward continuation: `from=prev&direction=backward` reads what precedes this page' }),
    scanned: Type.Integer({ description: 'Events examined' }),
    scannedFrom: Type.Integer({ description: 'Lowest offset examined (equals scannedTo + 1 when nothing was)' }),
    scannedTo: Type.Integer({ description: 'Highest offset examined' }),
    stopped: StopReason,
    filtered: Type.Boolean({ description: 'Whether any filter was applied' }),
    filterErrors: Type.Integer({ description: 'Events on which the JSONata predicate raised an error (counted as not matching)' }),
    firstFilterError: Type.Optional(Type.String()),
    notes: Type.Array(Type.String(), { description: 'Anything the server adjusted (e.g. a start older than retention)' }),
  },
  { additionalProperties: false },
);
export type BrowseResponse = Static<typeof BrowseResponse>;

export const ExportQuery = Type.Object(
  {
    format: Type.Optional(Type.Union([Type.Literal('ndjson'), Type.Literal('csv')], { default: 'ndjson' })),
    ...PositionQuery,
    to: Type.Optional(Type.Integer({ minimum: 0, description: 'Stop before this offset (default: the high watermark when the export started)' })),
    until: Type.Optional(Type.String({ maxLength: 64, description: 'Stop at the first event with ts ≥ this time (ms or ISO 8601)' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, description: 'Most events to export' })),
    ...FilterFields,
  },
  { additionalProperties: false },
);
export type ExportQuery = Static<typeof ExportQuery>;

export const TailQuery = Type.Object(
  {
    from: Type.Optional(Type.Integer({ minimum: 0, description: 'Start at this offset (catch up, then follow). Default: only new events' })),
    last: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, description: 'Start with the newest N events' })),
    ...FilterFields,
    access_token: Type.Optional(Type.String({ description: 'The bearer token, for browsers that cannot set headers on a WebSocket' })),
  },
  { additionalProperties: false },
);
export type TailQuery = Static<typeof TailQuery>;

/** Messages a tail sends, one JSON text frame each. */
export type TailMessage =
  | { type: 'hello'; topic: string; from: number; low: number; high: number; exists: boolean; filtered: boolean }
  /** Matching events in offset order; `next` is the offset the tail reads next. */
  | { type: 'events'; events: ApiEvent[]; next: number }
  /** The client read too slowly: `missed` events (offsets `from` … `to - 1`) were skipped. */
  | { type: 'gap'; missed: number; from: number; to: number }
  /** A filtered tail scanned events of which none matched (sent at most once a second). */
  | { type: 'progress'; next: number; scanned: number }
  | { type: 'error'; error: { code: string; message: string } };
