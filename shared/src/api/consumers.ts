/**
 * Admin API schemas for the consumer API (collector/src/admin/routes/consumers.ts), the
 * Kafka-style pull interface of a hub:
 *   GET    /api/v1/topics/:topic/fetch     read from an offset or a group's committed offset, long-poll
 *   POST   /api/v1/topics/:topic/events    append events (what `sluice produce` uses)
 *   GET    /api/v1/groups                  groups with committed offset, high watermark and lag per topic
 *   GET    /api/v1/groups/:group           one group
 *   POST   /api/v1/groups/:group/commit    commit offsets, atomically over topics
 *   DELETE /api/v1/groups/:group           forget a group's offsets
 * As in Kafka, a committed offset is the next offset the group reads, and a group exists once it
 * has committed one. Semantics (at-least-once, `commit=true`, retention) are in docs/consumers.md.
 */
import { Type, type Static } from '@sinclair/typebox';
import { ApiEvent } from './events.ts';

/** Group names: the topic alphabet (letters, digits, '.', '_', '-'). */
export const GroupName = Type.String({ minLength: 1, maxLength: 249, pattern: '^[A-Za-z0-9._-]+$', description: 'Consumer group name' });

export const GroupParams = Type.Object({ group: GroupName });
export type GroupParams = Static<typeof GroupParams>;

export const ResetPolicy = Type.Union([Type.Literal('earliest'), Type.Literal('latest'), Type.Literal('none')], {
  default: 'earliest',
  description:
    "Where to start when there is no valid position (Kafka's auto.offset.reset): the group has no committed offset yet, or the position is older than what retention kept. `none` answers an error instead",
});
export type ResetPolicy = Static<typeof ResetPolicy>;

/** Upper bounds of a fetch; the server refuses anything larger. */
export const FETCH_LIMITS = { maxWaitMs: 30_000, maxEvents: 10_000, maxBytes: 64 * 1024 * 1024 } as const;

export const FetchQuery = Type.Object(
  {
    group: Type.Optional(GroupName),
    offset: Type.Optional(Type.Integer({ minimum: 0, description: "Read from this offset instead of the group's committed offset" })),
    time: Type.Optional(Type.String({ maxLength: 64, description: 'Read from the first event with ts ≥ this time (ms since the epoch or ISO 8601)' })),
    last: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, description: 'Read from N events before the end' })),
    reset: Type.Optional(ResetPolicy),
    wait: Type.Optional(
      Type.Integer({ minimum: 0, maximum: FETCH_LIMITS.maxWaitMs, default: 0, description: 'Long-poll: when nothing is there to read, wait up to this many ms for an event (answers as soon as one is committed)' }),
    ),
    max: Type.Optional(Type.Integer({ minimum: 1, maximum: FETCH_LIMITS.maxEvents, default: 500, description: 'Most events in the answer' })),
    maxBytes: Type.Optional(
      Type.Integer({ minimum: 1, maximum: FETCH_LIMITS.maxBytes, default: 1024 * 1024, description: 'About this many body bytes at most (an answer holds at least one event, however large)' }),
    ),
    commit: Type.Optional(
      Type.Boolean({
        default: false,
        description:
          "With `group`: commit the offset this fetch starts at before reading, i.e. acknowledge everything before it (Kafka's enable.auto.commit, which commits at the next poll what the previous poll returned). Loop with `offset=<next of the previous answer>&commit=true`: at-least-once",
      }),
    ),
    raw: Type.Optional(Type.Boolean({ default: true, description: 'Include the base64 body' })),
  },
  { additionalProperties: false },
);
export type FetchQuery = Static<typeof FetchQuery>;

export const FetchResponse = Type.Object(
  {
    topic: Type.String(),
    group: Type.Union([Type.String(), Type.Null()]),
    exists: Type.Boolean({ description: 'Whether the topic exists (a fetch on a topic nobody wrote to yet waits and answers empty)' }),
    offset: Type.Integer({ description: 'Where this fetch started reading' }),
    next: Type.Integer({ description: 'The offset after the last event returned: fetch from it next, commit it once those events are processed' }),
    low: Type.Integer({ description: 'First offset still stored' }),
    high: Type.Integer({ description: 'High watermark: the next offset to be assigned' }),
    lag: Type.Integer({ description: 'high − next: events after this answer' }),
    committed: Type.Union([Type.Integer(), Type.Null()], { description: "The group's committed offset for the topic after this request (null: none, or no group)" }),
    events: Type.Array(ApiEvent, { description: 'In offset order; the event shape of /events' }),
    notes: Type.Array(Type.String(), { description: 'Anything the server adjusted: a reset, events retention removed before they were read' }),
  },
  { additionalProperties: false },
);
export type FetchResponse = Static<typeof FetchResponse>;

export const CommitRequest = Type.Object(
  {
    offsets: Type.Array(
      Type.Object(
        {
          topic: Type.String({ minLength: 1, maxLength: 249 }),
          offset: Type.Integer({ minimum: 0, description: 'The next offset the group reads (the `next` of the last answer processed)' }),
        },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: 1000, description: 'Committed together in one transaction: all or none' },
    ),
  },
  { additionalProperties: false },
);
export type CommitRequest = Static<typeof CommitRequest>;

export const GroupTopic = Type.Object(
  {
    topic: Type.String(),
    committed: Type.Integer({ description: 'The committed offset: the next offset the group reads' }),
    low: Type.Integer(),
    high: Type.Integer({ description: 'High watermark: the next offset to be assigned' }),
    lag: Type.Integer({ description: 'Stored events the group has not committed: high − max(committed, low)' }),
    lost: Type.Integer({ description: 'Events retention removed before the group committed past them (groups do not hold back retention)' }),
    updatedAt: Type.Integer({ description: 'When the offset was last committed, ms since the epoch' }),
  },
  { additionalProperties: false },
);
export type GroupTopic = Static<typeof GroupTopic>;

export const Group = Type.Object(
  {
    name: Type.String(),
    lag: Type.Integer({ description: 'Sum over the topics' }),
    updatedAt: Type.Integer({ description: 'The latest commit over the topics' }),
    topics: Type.Array(GroupTopic),
  },
  { additionalProperties: false },
);
export type Group = Static<typeof Group>;

export const GroupsResponse = Type.Object({ groups: Type.Array(Group) }, { additionalProperties: false });
export type GroupsResponse = Static<typeof GroupsResponse>;

export const DeleteGroupQuery = Type.Object(
  {
    topic: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 249 }), { maxItems: 1000, description: "Only these topics' offsets (repeatable); default: all" })),
  },
  { additionalProperties: false },
);
export type DeleteGroupQuery = Static<typeof DeleteGroupQuery>;

export const DeleteGroupResponse = Type.Object(
  {
    group: Type.String(),
    deleted: Type.Array(Type.Object({ topic: Type.String(), committed: Type.Integer() }, { additionalProperties: false }), { description: 'The offsets removed' }),
  },
  { additionalProperties: false },
);
export type DeleteGroupResponse = Static<typeof DeleteGroupResponse>;

export const ProduceEvent = Type.Object(
  {
    key: Type.Optional(Type.Union([Type.String({ maxLength: 65_536 }), Type.Null()])),
    headers: Type.Optional(Type.Record(Type.String({ minLength: 1, maxLength: 256 }), Type.String())),
    ts: Type.Optional(Type.Integer({ minimum: 0, maximum: 8.64e15, description: 'ms since the epoch (at most 8.64e15, the range of a date); default: when the request arrived' })),
    value: Type.Optional(Type.Unknown({ description: 'A JSON value, stored as its JSON text with content-type application/json' })),
    text: Type.Optional(Type.String({ description: 'Stored as UTF-8 bytes; content-type text/plain unless the headers give one' })),
    base64: Type.Optional(Type.String({ contentEncoding: 'base64', description: 'Stored as these bytes; content-type application/octet-stream unless the headers give one' })),
  },
  { additionalProperties: false, description: 'One event; its body is exactly one of value, text, base64' },
);
export type ProduceEvent = Static<typeof ProduceEvent>;

export const ProduceRequest = Type.Object(
  { events: Type.Array(ProduceEvent, { minItems: 1, maxItems: 10_000, description: 'Appended together, in this order, in one commit' }) },
  { additionalProperties: false },
);
export type ProduceRequest = Static<typeof ProduceRequest>;

export const ProduceResponse = Type.Object(
  {
    topic: Type.String(),
    first: Type.Integer({ description: 'Offset of the first event' }),
    last: Type.Integer({ description: 'Offset of the last event' }),
    count: Type.Integer(),
    high: Type.Integer({ description: 'High watermark after the append' }),
  },
  { additionalProperties: false, description: 'Sent after the events are committed to the channel' },
);
export type ProduceResponse = Static<typeof ProduceResponse>;

export const TruncateQuery = Type.Object(
  {
    before: Type.Integer({ minimum: 0, description: 'Delete the events before this offset (whole record batches: the new low may be a little lower)' }),
  },
  { additionalProperties: false },
);
export type TruncateQuery = Static<typeof TruncateQuery>;

export const TruncateResponse = Type.Object(
  {
    topic: Type.String(),
    low: Type.Integer({ description: 'The first offset still stored after the truncation' }),
    high: Type.Integer(),
    deleted: Type.Integer({ description: 'Events deleted' }),
    dropped: Type.Integer({ description: 'Of those, events a sink had not delivered yet' }),
    bytes: Type.Integer({ description: 'Bytes of bodies freed' }),
  },
  { additionalProperties: false },
);
export type TruncateResponse = Static<typeof TruncateResponse>;
