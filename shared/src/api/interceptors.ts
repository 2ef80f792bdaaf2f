/**
 * Admin API schemas for interceptor chains (read, validate, preview, apply) and for the
 * component catalogue the desktop generates its forms from (GET /api/v1/components).
 */
import { Type, type Static } from '@sinclair/typebox';
import { ApiEvent } from './events.ts';

export const InterceptorEntry = Type.Object(
  { type: Type.String({ minLength: 1, description: 'The interceptor type (GET /api/v1/components lists them)' }) },
  { additionalProperties: true, description: 'One step: `{ type, ...config }`, as in the YAML file' },
);

export const InterceptorChain = Type.Array(InterceptorEntry, { maxItems: 100 });

export const SourceParams = Type.Object({ source: Type.String({ minLength: 1, maxLength: 64 }) });

export const Problem = Type.Object({ path: Type.String(), message: Type.String() }, { additionalProperties: false });

export const ChainResponse = Type.Object(
  {
    source: Type.String(),
    type: Type.String({ description: 'The source type' }),
    chainVersion: Type.Integer({ description: 'Bumped on every live change' }),
    interceptors: InterceptorChain,
  },
  { additionalProperties: false },
);
export type ChainResponse = Static<typeof ChainResponse>;

export const ValidateRequest = Type.Object({ interceptors: InterceptorChain }, { additionalProperties: false });
export type ValidateRequest = Static<typeof ValidateRequest>;

export const ValidateResponse = Type.Object(
  {
    valid: Type.Boolean(),
    problems: Type.Array(Problem, { description: 'Every problem with its config path, as `sluice check` reports them' }),
  },
  { additionalProperties: false },
);
export type ValidateResponse = Static<typeof ValidateResponse>;

export const PreviewRequest = Type.Object(
  {
    interceptors: InterceptorChain,
    sample: Type.Object(
      {
        topic: Type.String({ minLength: 1, maxLength: 249, description: 'Topic to take the events from' }),
        last: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, description: 'The newest N events (default 20)' })),
        from: Type.Optional(Type.Integer({ minimum: 0, description: 'Or: events from this offset…' })),
        to: Type.Optional(Type.Integer({ minimum: 0, description: '…up to (not including) this one; at most 500' })),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export type PreviewRequest = Static<typeof PreviewRequest>;

export const PreviewItem = Type.Object(
  {
    offset: Type.Integer(),
    before: ApiEvent,
    after: Type.Union([ApiEvent, Type.Null()], { description: 'null: the chain dropped the event' }),
    afterTopic: Type.Union([Type.String(), Type.Null()], { description: 'The topic after the chain (a route step may change it)' }),
    droppedBy: Type.Union(
      [Type.Object({ index: Type.Integer(), type: Type.String(), error: Type.Optional(Type.String()) }, { additionalProperties: false }), Type.Null()],
      { description: 'The step that dropped the event (and the error, if it failed)' },
    ),
    errors: Type.Optional(
      Type.Array(Type.Object({ index: Type.Integer(), type: Type.String(), message: Type.String() }, { additionalProperties: false }), {
        description: 'Steps that failed on this event, including those with `on_error: pass`',
      }),
    ),
  },
  { additionalProperties: false },
);
export type PreviewItem = Static<typeof PreviewItem>;

export const PreviewResponse = Type.Object(
  {
    topic: Type.String(),
    sampled: Type.Integer(),
    kept: Type.Integer(),
    dropped: Type.Integer(),
    events: Type.Array(PreviewItem),
  },
  { additionalProperties: false },
);
export type PreviewResponse = Static<typeof PreviewResponse>;

export const ApplyRequest = Type.Object(
  {
    interceptors: InterceptorChain,
    persist: Type.Optional(Type.Boolean({ default: true, description: 'Write the chain into the config file (keeping its comments)' })),
  },
  { additionalProperties: false },
);
export type ApplyRequest = Static<typeof ApplyRequest>;

export const ApplyResponse = Type.Object(
  {
    source: Type.String(),
    chainVersion: Type.Integer(),
    persisted: Type.Boolean({ description: 'Whether the config file was rewritten (false when running without a file)' }),
    interceptors: InterceptorChain,
    appliedAt: Type.Integer({ description: 'ms since the epoch' }),
  },
  { additionalProperties: false },
);
export type ApplyResponse = Static<typeof ApplyResponse>;

export const ComponentInfo = Type.Object(
  {
    name: Type.String({ description: 'The `type:` a user writes' }),
    summary: Type.String(),
    schema: Type.Unknown({ description: 'The config schema (JSON Schema, without `type`)' }),
    examples: Type.Array(Type.Object({ title: Type.String(), config: Type.Unknown() }, { additionalProperties: false })),
  },
  { additionalProperties: false },
);
export type ComponentInfo = Static<typeof ComponentInfo>;

export const ComponentsResponse = Type.Object(
  {
    sources: Type.Array(ComponentInfo),
    interceptors: Type.Array(ComponentInfo),
    sinks: Type.Array(ComponentInfo),
  },
  { additionalProperties: false },
);
export type ComponentsResponse = Static<typeof ComponentsResponse>;
