/**
 * jsonata: transforms or filters events with a JSONata expression, for anything the other
 * interceptors do not do. Runs synchronously like every interceptor (see jsonata-sync.ts).
 *
 * The expression's input `$` is the decoded body (JSON and msgpack by content type, anything else
 * as text); `$topic`, `$ts`, `$key` and `$headers` are bound too.
 */
import { Type } from '@sinclair/typebox';
import { ContentTypes, fromUtf8, isValidTopic, utf8, type EventDraft, type Headers } from '../../../shared/src/event.ts';
import { ErrorCodes, SluiceError } from '../../../shared/src/errors.ts';
import { decodeStructured, encodeStructured, structuredKindOf } from './body.ts';
import { ConfigChecks, interceptorConfig, stringEnum } from './config.ts';
import { withHeader } from './headers.ts';
import { compileJsonata, jsonataMessage, type SyncExpression } from './jsonata-sync.ts';
import type { InterceptorSpec } from './types.ts';

const config = interceptorConfig({
  expression: Type.String({ minLength: 1, description: 'A JSONata expression. `$` is the decoded body; `$topic`, `$ts`, `$key` and `$headers` are the rest of the event.' }),
  mode: stringEnum(['body', 'event', 'filter'], {
    default: 'body',
    description:
      '`body`: the result becomes the body, encoded like the old one (a non-string result on a text body becomes JSON). `event`: the result is an object with any of `topic`, `ts`, `key`, `headers`, `body`, replacing those. `filter`: keep the event when the result is true by JSONata rules ($boolean). In `body` and `event` modes a result of nothing leaves the event unchanged.',
  }),
  timeout_ms: Type.Integer({ minimum: 1, default: 1000, description: 'Fail the evaluation of one event after this long, wall-clock (the chain then applies `on_error`): a guard against runaway expressions, generous so a busy machine does not fail good events.' }),
});

export const jsonataSpec: InterceptorSpec<typeof config> = {
  kind: 'interceptor',
  name: 'jsonata',
  summary: 'Transforms or filters events with a JSONata expression.',
  config,
  examples: [
    { title: 'Reshape the body', config: { expression: '{ "user": user.name, "total": $sum(items.(price * qty)) }' } },
    { title: 'Keep only large orders', config: { expression: 'total > 100', mode: 'filter' } },
    { title: 'Route by a computed value', config: { expression: '{ "topic": "orders-" & $lowercase(region), "headers": $merge([$headers, { "tier": tier }]) }', mode: 'event' } },
  ],
  cases: [
    {
      title: 'Reshape a JSON body',
      config: { expression: '{ "user": user.name, "total": $sum(items.(price * qty)) }' },
      cases: [
        {
          input: { headers: { 'content-type': 'application/json' }, body: '{"user":{"name":"ann"},"items":[{"price":2,"qty":3},{"price":1,"qty":4}]}' },
          output: { headers: { 'content-type': 'application/json' }, body: '{"user":"ann","total":10}' },
        },
      ],
    },
    {
      title: 'Filter',
      config: { expression: 'level in ["warn", "error"]', mode: 'filter' },
      cases: [
        { input: { headers: { 'content-type': 'application/json' }, body: '{"level":"error"}' }, output: { headers: { 'content-type': 'application/json' }, body: '{"level":"error"}' } },
        { input: { headers: { 'content-type': 'application/json' }, body: '{"level":"debug"}' }, output: null },
      ],
    },
    {
      title: 'Change topic and headers',
      config: { expression: '{ "topic": "orders-" & $lowercase(region), "headers": $merge([$headers, { "tier": tier }]) }', mode: 'event' },
      cases: [
        {
          input: { headers: { 'content-type': 'application/json' }, body: '{"region":"EU","tier":"gold"}' },
          output: { topic: 'orders-eu', headers: { 'content-type': 'application/json', tier: 'gold' }, body: '{"region":"EU","tier":"gold"}' },
        },
      ],
    },
    {
      title: 'Text bodies are strings',
      config: { expression: '$uppercase($)' },
      cases: [{ input: { body: 'hello' }, output: { body: 'HELLO' } }],
    },
  ],
  create(c) {
    const checks = new ConfigChecks('jsonata');
    let expression: SyncExpression | undefined;
    try {
      expression = compileJsonata(c.expression, { timeoutMs: c.timeout_ms });
    } catch (error) {
      checks.problem(['expression'], `invalid JSONata: ${jsonataMessage(error)}`);
    }
    checks.done();
    const { mode } = c;

    return (event) => {
      const kind = structuredKindOf(event.headers);
      let input: unknown;
      if (kind === null) input = fromUtf8(event.body);
      else {
        const decoded = decodeStructured(event);
        if (decoded === null) return event;
        input = decoded.value;
      }
      let result: unknown;
      try {
        result = expression!.evaluate(input, { topic: event.topic, ts: event.ts, key: event.key, headers: { ...event.headers } });
      } catch (error) {
        throw new SluiceError(ErrorCodes.INTERCEPTOR_FAILED, `jsonata: ${jsonataMessage(error)}`, { cause: error });
      }
      if (mode === 'filter') return truthy(result) ? event : null;
      if (result === undefined) return event;
      if (mode === 'body') return { ...event, ...encodeBody(event, plain(result)) };
      return applyEventResult(event, plain(result));
    };
  },
};

/** A body (and the content type to go with it) from a result, encoded like the event's body. */
function encodeBody(event: EventDraft, value: unknown): { body: Uint8Array; headers: Headers } {
  const kind = structuredKindOf(event.headers);
  if (kind !== null) return { body: encodeStructured(kind, value), headers: event.headers };
  if (typeof value === 'string') return { body: utf8(value), headers: event.headers };
  if (value instanceof Uint8Array) return { body: value, headers: event.headers };
  return { body: encodeStructured('json', value), headers: withHeader(event.headers, 'content-type', ContentTypes.json) };
}

function applyEventResult(event: EventDraft, result: unknown): EventDraft {
  const fail = (why: string) => new SluiceError(ErrorCodes.INTERCEPTOR_FAILED, `jsonata: in mode event, ${why}`);
  if (result === null || typeof result !== 'object' || Array.isArray(result)) throw fail('the result must be an object with any of topic, ts, key, headers, body');
  const r = result as Record<string, unknown>;
  const unknownKeys = Object.keys(r).filter((k) => !['topic', 'ts', 'key', 'headers', 'body'].includes(k));
  if (unknownKeys.length > 0) throw fail(`unknown key(s) ${unknownKeys.join(', ')}; the result may have topic, ts, key, headers, body`);
  const out: EventDraft = { ...event };
  if (r.topic !== undefined) {
    if (typeof r.topic !== 'string' || !isValidTopic(r.topic)) throw fail(`topic ${JSON.stringify(r.topic)} is not a valid topic name`);
    out.topic = r.topic;
  }
  if (r.ts !== undefined) {
    if (typeof r.ts !== 'number' || !Number.isFinite(r.ts)) throw fail('ts must be a number (epoch milliseconds)');
    out.ts = Math.round(r.ts);
  }
  if (r.key !== undefined) {
    if (r.key !== null && typeof r.key !== 'string') throw fail('key must be a string or null');
    out.key = r.key;
  }
  if (r.headers !== undefined) {
    if (r.headers === null || typeof r.headers !== 'object' || Array.isArray(r.headers)) throw fail('headers must be an object of strings');
    const headers: Headers = {};
    for (const [k, v] of Object.entries(r.headers)) {
      if (typeof v !== 'string') throw fail(`header "${k}" must be a string`);
      Object.defineProperty(headers, k, { value: v, enumerable: true, writable: true, configurable: true });
    }
    out.headers = headers;
  }
  if (r.body !== undefined) Object.assign(out, encodeBody(out, r.body));
  return out;
}

/** JSONata's $boolean. */
function truthy(value: unknown): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') return value.length > 0;
  if (typeof value === 'number') return value !== 0;
  if (typeof value === 'function') return false;
  if (Array.isArray(value)) return value.length === 1 ? truthy(value[0]) : value.some(truthy);
  if (typeof value === 'object') return Object.keys(value).length > 0;
  return Boolean(value);
}

/**
 * Results carry JSONata's internals (null-prototype objects, arrays flagged as sequences, functions);
 * encoders want plain data. Functions and undefined are dropped, as JSON.stringify would.
 */
function plain(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(plain).filter((v) => v !== undefined);
  if (typeof value === 'function') return undefined;
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array || value instanceof Date) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const p = plain(v);
    if (p !== undefined) Object.defineProperty(out, k, { value: p, enumerable: true, writable: true, configurable: true });
  }
  return out;
}
