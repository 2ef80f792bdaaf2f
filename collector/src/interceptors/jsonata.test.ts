import { pack, unpack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { fromUtf8, makeEvent, type EventDraft } from '../../../shared/src/event.ts';
import { validateConfig } from '../../../shared/src/spec.ts';
import { jsonataSpec } from './jsonata.ts';
import { compileJsonata } from './jsonata-sync.ts';

function build(config: Record<string, unknown>) {
  const { value, problems } = validateConfig(jsonataSpec.config, config, 'jsonata');
  expect(problems).toEqual([]);
  return jsonataSpec.create(value!);
}

const jsonEvent = (body: unknown, headers: Record<string, string> = {}): EventDraft =>
  makeEvent('app', JSON.stringify(body), { headers: { 'content-type': 'application/json', ...headers } });

describe('synchronous JSONata', () => {
  it('returns the result itself, not a promise, and puts the real Promise back', () => {
    const RealPromise = globalThis.Promise;
    expect(compileJsonata('$sum(items.(price * qty))').evaluate({ items: [{ price: 2, qty: 3 }, { price: 1, qty: 1 }] })).toBe(7);
    expect(globalThis.Promise).toBe(RealPromise);
    expect(() => compileJsonata('$number("x")').evaluate({})).toThrow();
    expect(globalThis.Promise).toBe(RealPromise);
  });

  it('covers the parts of the language that run through promises: functions, sort, grouping, regex, higher-order', () => {
    const e = (expr: string, input: unknown) => compileJsonata(expr).evaluate(input);
    expect(e('$sort(x, function($a, $b) { $a > $b })', { x: [3, 1, 2] })).toEqual([1, 2, 3]);
    expect(e('$replace(s, /l+/, function($m) { "L" })', { s: 'hello' })).toBe('heLo');
    expect({ ...(e('items{kind: $sum(v)}', { items: [{ kind: 'a', v: 1 }, { kind: 'a', v: 2 }, { kind: 'b', v: 5 }] }) as object) }).toEqual({ a: 3, b: 5 });
    expect(e('$reduce($map($filter(n, function($v) { $v % 2 = 0 }), function($v) { $v * 10 }), function($a, $b) { $a + $b })', { n: [1, 2, 3, 4] })).toBe(60);
    expect(e('[a, b, c]', { a: 1, b: 2, c: 3 })).toEqual([1, 2, 3]);
    expect(e('($x := 5; $y := $x * 2; $y)', {})).toBe(10);
  });

  // Run inline without a bound, each of these overflows the call stack (checked by hand with
  // MAX_DEPTH raised); the queue in jsonata-sync.ts keeps them flat.
  it('handles long sequences and deep recursion without growing the call stack', () => {
    const big = Array.from({ length: 20_000 }, (_, i) => i);
    expect(compileJsonata('$sum($map($, function($v) { $v * 2 }))').evaluate(big)).toBe(19_999 * 20_000);
    expect(compileJsonata('$count([1..20000].($ * 2))').evaluate({})).toBe(20_000);
    expect(compileJsonata('($f := function($n) { $n = 0 ? 0 : 1 + $f($n - 1) }; $f(1000))').evaluate({})).toBe(1000);
  });

  it('does not disturb real promises pending around it', async () => {
    const order: string[] = [];
    const pending = Promise.resolve().then(() => order.push('microtask'));
    compileJsonata('$map([1,2,3], function($v) { $v })').evaluate({});
    order.push('sync');
    await pending;
    expect(order).toEqual(['sync', 'microtask']);
  });

  it('leaves the global Promise alone, during an evaluation too, and sets no global', () => {
    const realPromise = globalThis.Promise;
    const seen: unknown[] = [];
    const expression = compileJsonata('$map([1, 2], function($v) { $look($v) })');
    expect([...(expression.evaluate({}, { look: (v: number) => (seen.push(globalThis.Promise), v) }) as number[])]).toEqual([1, 2]);
    expect(seen).toEqual([realPromise, realPromise]);
    expect(globalThis.Promise).toBe(realPromise);
    expect('regeneratorRuntime' in globalThis).toBe(false);
  });

  it('stops an evaluation that runs too long', () => {
    const slow = compileJsonata('($forever := function($n) { $forever($n + 1) }; $forever(0))', { timeoutMs: 20 });
    expect(() => slow.evaluate({})).toThrow(expect.objectContaining({ code: 'D1012' }));
  });
});

describe('jsonata interceptor', () => {
  it('transforms a msgpack body and re-encodes it as msgpack', () => {
    const event = makeEvent('app', new Uint8Array(pack({ a: 1, b: [1, 2] })), { headers: { 'content-type': 'application/msgpack' } });
    const out = build({ expression: '{ "sum": a + $sum(b), "grouped": b{ $string($): $ } }' })(event)!;
    expect(out.headers['content-type']).toBe('application/msgpack');
    expect(unpack(out.body)).toEqual({ sum: 4, grouped: { '1': 1, '2': 2 } });
  });

  it('binds the event: $topic, $ts, $key, $headers', () => {
    const out = build({ expression: '{ "t": $topic, "ts": $ts, "k": $key, "h": $headers.host }' })(
      makeEvent('orders', '{}', { ts: 5, key: 'k1', headers: { 'content-type': 'application/json', host: 'edge' } }),
    )!;
    expect(JSON.parse(fromUtf8(out.body))).toEqual({ t: 'orders', ts: 5, k: 'k1', h: 'edge' });
  });

  it('turns a non-string result on a text body into JSON and says so in content-type', () => {
    const out = build({ expression: '{ "line": $ }' })(makeEvent('app', 'hello', { headers: { 'content-type': 'text/plain' } }))!;
    expect(out.headers['content-type']).toBe('application/json');
    expect(fromUtf8(out.body)).toBe('{"line":"hello"}');
  });

  it('leaves the event unchanged when the expression yields nothing', () => {
    const event = jsonEvent({ a: 1 });
    expect(build({ expression: 'missing.field' })(event)).toBe(event);
  });

  it('filters by JSONata truthiness', () => {
    const keep = build({ expression: 'tags', mode: 'filter' });
    expect(keep(jsonEvent({ tags: ['x'] }))).not.toBeNull();
    expect(keep(jsonEvent({ tags: [] }))).toBeNull();
    expect(keep(jsonEvent({ tags: [false] }))).toBeNull();
    expect(keep(jsonEvent({ tags: '' }))).toBeNull();
    expect(keep(jsonEvent({}))).toBeNull();
  });

  it('in event mode, replaces only the parts the result names and checks them', () => {
    const event = jsonEvent({ n: 1 }, { a: 'x' });
    const run = build({ expression: '{ "key": "k-" & $string(n), "ts": 42, "body": { "m": n + 1 } }', mode: 'event' });
    const out = run(event)!;
    expect(out).toMatchObject({ topic: 'app', key: 'k-1', ts: 42, headers: { a: 'x' } });
    expect(fromUtf8(out.body)).toBe('{"m":2}');
    expect(() => build({ expression: '{ "topic": "no spaces" }', mode: 'event' })(event)).toThrow(/topic "no spaces" is not a valid topic name/);
    expect(() => build({ expression: '{ "tpoic": "x" }', mode: 'event' })(event)).toThrow(/unknown key\(s\) tpoic/);
    expect(() => build({ expression: '{ "headers": { "n": 1 } }', mode: 'event' })(event)).toThrow(/header "n" must be a string/);
  });

  it('reports a malformed expression as a config problem', () => {
    const { value } = validateConfig(jsonataSpec.config, { expression: 'a.(b' }, 'j');
    expect(() => jsonataSpec.create(value!)).toThrow(/^interceptor "jsonata": expression: invalid JSONata: S0\d+: /);
  });

  it('does not mutate the event', () => {
    const event = jsonEvent({ a: [1, 2] }, { h: 'v' });
    Object.freeze(event);
    Object.freeze(event.headers);
    const bytes = event.body.slice();
    build({ expression: '$merge([$, { "b": $headers.h }])' })(event);
    build({ expression: '{ "headers": $merge([$headers, { "x": "y" }]) }', mode: 'event' })(event);
    expect(event.body).toEqual(bytes);
    expect(event.headers).toEqual({ 'content-type': 'application/json', h: 'v' });
  });
});
