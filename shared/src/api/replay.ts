/**
 * Admin API schemas for replay: moving a sink's or a consumer group's cursors
 * (POST /api/v1/sinks/:sink/replay, POST /api/v1/groups/:group/replay). The targets are those of
 * `kafka-consumer-groups --reset-offsets`: earliest, latest, an offset, a time, a shift by ±N.
 * Semantics (dry-run by default, atomic, refused past retention) are in docs/inspection.md.
 */
import { Type, type Static } from '@sinclair/typebox';

// One object with exactly one key, not a union of objects: Ajv's removeAdditional would strip
// the keys of one branch while trying another.
export const ReplayTarget = Type.Object(
  {
    earliest: Type.Optional(Type.Literal(true, { description: 'The earliest event retention kept' })),
    latest: Type.Optional(Type.Literal(true, { description: 'The end: deliver only new events' })),
    offset: Type.Optional(Type.Integer({ minimum: 0, description: 'This offset (the next event delivered)' })),
    time: Type.Optional(Type.Union([Type.Integer(), Type.String({ maxLength: 64 })], { description: 'The first event with ts ≥ time (ms since the epoch or ISO 8601)' })),
    shift: Type.Optional(Type.Integer({ description: 'Relative to the current cursor: negative goes back N events (replays N), positive skips N' })),
  },
  { additionalProperties: false, minProperties: 1, maxProperties: 1, description: 'Where to move the cursor: exactly one of earliest, latest, offset, time, shift' },
);
export type ReplayTarget = Static<typeof ReplayTarget>;

export const ReplayRequest = Type.Object(
  {
    topics: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 249 }), { minItems: 1, maxItems: 1000, description: 'Default: every topic the sink delivers (a group: every topic it has an offset for)' })),
    to: ReplayTarget,
    execute: Type.Optional(Type.Boolean({ default: false, description: 'Apply the move; without it the answer is a dry-run plan' })),
  },
  { additionalProperties: false },
);
export type ReplayRequest = Static<typeof ReplayRequest>;

export const ReplayTopicPlan = Type.Object(
  {
    topic: Type.String(),
    current: Type.Union([Type.Integer(), Type.Null()], { description: 'The committed cursor (null: none yet)' }),
    from: Type.Integer({ description: 'Where delivery would continue without the replay (the cursor, or where a new one starts)' }),
    target: Type.Integer({ description: 'The new cursor: the next offset delivered' }),
    low: Type.Integer(),
    high: Type.Integer(),
    redeliver: Type.Integer({ description: 'Events that will be delivered again' }),
    skip: Type.Integer({ description: 'Events that will be skipped without delivery' }),
    note: Type.Optional(Type.String({ description: 'How the target was adjusted, if it was (e.g. a shift clamped at the end)' })),
  },
  { additionalProperties: false },
);
export type ReplayTopicPlan = Static<typeof ReplayTopicPlan>;

export const ReplayResponse = Type.Object(
  {
    consumer: Type.String({ description: '`sink:<name>` or `group:<name>`' }),
    executed: Type.Boolean(),
    to: ReplayTarget,
    topics: Type.Array(ReplayTopicPlan),
    redeliver: Type.Integer({ description: 'Sum over the topics' }),
    skip: Type.Integer({ description: 'Sum over the topics' }),
    at: Type.Integer({ description: 'When the plan was made (and applied, if executed), ms since the epoch' }),
  },
  { additionalProperties: false },
);
export type ReplayResponse = Static<typeof ReplayResponse>;
