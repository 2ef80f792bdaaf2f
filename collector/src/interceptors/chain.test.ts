import { describe, expect, it } from 'vitest';
import { makeEvent } from '../../../shared/src/event.ts';
import { EXAMPLE_CONTEXT } from './examples.ts';
import { buildChain, validateChain } from './index.ts';
import type { InterceptorConfig } from './types.ts';

const json = (body: unknown) => makeEvent('app', JSON.stringify(body), { headers: { 'content-type': 'application/json' } });

describe('buildChain', () => {
  it('reports every problem of every entry in one pass, with its path', () => {
    const configs: InterceptorConfig[] = [
      { type: 'static', header: 'dc', value: 'eu' },
      { type: 'regex_filter', pattern: '(unclosed' },
      { type: 'nope' },
      { type: 'route', name: 'app', mapping: { a: 'bad topic!' }, colour: 'red' },
      { type: 'json', operations: [{ op: 'extract', field: 'a' }, { op: 'set', field: 'b..c', value: 1 }] },
      { type: 'redact', patterns: ['ok', '[z-a]'] },
      { type: 'jsonata', expression: '{ "a": ' },
      { type: 'timestamp', from: 'sometimes' },
    ];
    const { problems } = buildChain(configs, 'sources.web.interceptors', EXAMPLE_CONTEXT);
    expect(problems).toEqual([
      { path: 'sources.web.interceptors[1].pattern', message: 'invalid regular expression: Unterminated group' },
      { path: 'sources.web.interceptors[2].type', message: expect.stringMatching(/^unknown interceptor "nope"; one of: host, json, jsonata, /) },
      { path: 'sources.web.interceptors[3].colour', message: 'unknown key "colour"; known keys: from, name, mapping, default, on_error' },
      { path: 'sources.web.interceptors[4].operations.0.header', message: 'required by op extract' },
      { path: 'sources.web.interceptors[4].operations.1.field', message: expect.stringMatching(/^malformed field path "b..c"/) },
      { path: 'sources.web.interceptors[5].patterns.1', message: 'invalid regular expression: Range out of order in character class' },
      { path: 'sources.web.interceptors[6].expression', message: expect.stringMatching(/^invalid JSONata: S0\d+: .*\(at position \d+/) },
      { path: 'sources.web.interceptors[7].from', message: 'expected one of "now", "header", "field"; got "sometimes"' },
    ]);
  });

  it('reports factory checks once the schema is satisfied', () => {
    const { problems } = buildChain([{ type: 'route', name: 'app', mapping: { a: 'bad topic!' }, default: '..' }], 'x', EXAMPLE_CONTEXT);
    expect(problems.map((p) => p.path)).toEqual(['x[0].mapping.a', 'x[0].default']);
  });

  it('rejects entries that are not objects with a type', () => {
    const problems = validateChain([null, { pattern: 'x' }] as unknown as InterceptorConfig[], 'i');
    expect(problems).toEqual([
      { path: 'i[0]', message: expect.stringContaining('expected an object with a `type`') },
      { path: 'i[1].type', message: expect.stringContaining('missing; one of:') },
    ]);
  });

  it('a chain with problems refuses to run rather than run partly', () => {
    const built = buildChain([{ type: 'regex_filter', pattern: '[' }], 'i');
    expect(built.problems).toHaveLength(1);
    expect(() => built.chain(makeEvent('t', 'x'))).toThrow(/interceptor chain has problems: i\[0\]\.pattern/);
  });

  it('runs steps in order and says which step dropped an event', () => {
    const built = buildChain(
      [
        { type: 'static', header: 'dc', value: 'eu' },
        { type: 'regex_filter', pattern: 'ERROR' },
        { type: 'route', name: 'dc' },
      ],
      'sources.web.interceptors',
      EXAMPLE_CONTEXT,
    );
    expect(built.problems).toEqual([]);
    const kept = built.runChain(makeEvent('app', 'ERROR disk'));
    expect(kept.droppedBy).toBeNull();
    expect(kept.event).toMatchObject({ topic: 'eu', headers: { dc: 'eu' } });
    const dropped = built.runChain(makeEvent('app', 'INFO ok'));
    expect(dropped).toEqual({ event: null, droppedBy: { index: 1, type: 'regex_filter', path: 'sources.web.interceptors[1]', reason: 'dropped' }, errors: [] });
    expect(built.chain(makeEvent('app', 'INFO again'))).toBeNull();
    expect(built.steps[1]).toMatchObject({ type: 'regex_filter', dropped: 2, failed: 0 });
  });

  describe('a step that throws', () => {
    // $number("abc") is a JSONata runtime error: the interceptor throws on that event only.
    // The timeout is wall-clock: generous, so a busy machine cannot turn a good event into a failed one.
    const failing = { type: 'jsonata', expression: '{ "n": $number(n) }', timeout_ms: 60_000 };

    it('drops the event by default, counts it and keeps the error; the chain goes on with the next event', () => {
      const built = buildChain([failing, { type: 'static', header: 'after', value: 'yes' }], 's', EXAMPLE_CONTEXT);
      const run = built.runChain(json({ n: 'abc' }));
      expect(run.event).toBeNull();
      expect(run.droppedBy).toMatchObject({ index: 0, type: 'jsonata', reason: 'failed', error: expect.stringContaining('D3030') });
      expect(built.chain(json({ n: 'abc' }))).toBeNull();
      expect(built.steps[0]).toMatchObject({ failed: 2, dropped: 0, lastError: { message: expect.stringContaining('Unable to cast value to a number'), at: 1_700_000_060_000 } });
      const ok = built.chain(json({ n: '7' }));
      expect(ok?.headers.after).toBe('yes');
      expect(JSON.parse(new TextDecoder().decode(ok!.body))).toEqual({ n: 7 });
    });

    it('with on_error: pass, hands the event on unchanged and still reports the error', () => {
      const built = buildChain([{ ...failing, on_error: 'pass' }, { type: 'static', header: 'after', value: 'yes' }], 's', EXAMPLE_CONTEXT);
      const input = json({ n: 'abc' });
      const run = built.runChain(input);
      expect(run.droppedBy).toBeNull();
      expect(run.errors).toEqual([{ index: 0, type: 'jsonata', path: 's[0]', message: expect.stringContaining('D3030') }]);
      expect(run.event?.body).toBe(input.body);
      expect(run.event?.headers).toEqual({ 'content-type': 'application/json', after: 'yes' });
      expect(built.steps[0].failed).toBe(1);
    });

    it('rejects an unknown on_error', () => {
      const { problems } = buildChain([{ ...failing, on_error: 'ignore' }], 's');
      expect(problems).toEqual([{ path: 's[0].on_error', message: 'expected one of "drop", "pass"; got "ignore"' }]);
    });
  });

  it('never mutates the event it is given, through a whole chain', () => {
    const built = buildChain(
      [
        { type: 'timestamp', from: 'field', name: 't', header: 'timestamp' },
        { type: 'host' },
        { type: 'uuid' },
        { type: 'remove_header', names: ['secret'] },
        { type: 'json', operations: [{ op: 'drop', field: 'pw' }, { op: 'set', field: 'a.b', value: { c: 1 } }, { op: 'set', field: 'a.b.d', value: 2 }] },
        { type: 'redact', presets: ['email'], headers: ['*'] },
        { type: 'route', from: 'field', name: 'kind' },
        { type: 'jsonata', expression: '$merge([$, { "seen": true }])' },
      ],
      's',
      EXAMPLE_CONTEXT,
    );
    expect(built.problems).toEqual([]);
    const event = makeEvent('app', '{"t":1700000000,"pw":"x","kind":"k","who":"a@b.io"}', { ts: 5, headers: { 'content-type': 'application/json', secret: 's', mail: 'c@d.io' } });
    const snapshot = structuredClone(event);
    Object.freeze(event);
    Object.freeze(event.headers);
    const out = built.chain(event)!;
    expect(event).toEqual(snapshot);
    expect(out.topic).toBe('k');
    expect(out.ts).toBe(1_700_000_000_000);
    expect(out.headers).toEqual({
      'content-type': 'application/json',
      mail: '[REDACTED]',
      timestamp: '1700000000000',
      host: 'edge-1',
      id: '123e4567-e89b-42d3-a456-426614174000',
    });
    expect(JSON.parse(new TextDecoder().decode(out.body))).toEqual({ t: 1700000000, kind: 'k', who: '[REDACTED]', a: { b: { c: 1, d: 2 } }, seen: true });
    // The same config value set twice must not have been changed by the second op.
    expect(JSON.parse(new TextDecoder().decode(built.chain(event)!.body)).a).toEqual({ b: { c: 1, d: 2 } });
  });

  it('passes the context to the factories and fills in what is missing', () => {
    const withHost = buildChain([{ type: 'host' }], 's', { hostname: 'box-9' });
    expect(withHost.chain(makeEvent('t', 'x'))?.headers.host).toBe('box-9');
    const without = buildChain([{ type: 'host' }, { type: 'uuid' }], 's');
    const out = without.chain(makeEvent('t', 'x'))!;
    expect(out.headers.host).toBe('localhost');
    expect(out.headers.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
