import { pack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { makeEvent } from '../../../shared/src/event.ts';
import { buildChain } from './index.ts';
import type { InterceptorConfig } from './types.ts';

const routeWith = (config: Omit<InterceptorConfig, 'type'>) => {
  const built = buildChain([{ type: 'route', ...config }], 'r');
  expect(built.problems).toEqual([]);
  return built.chain;
};

describe('route', () => {
  const mapped = routeWith({ name: 'kind', mapping: { order: 'orders', '404': 'not-found' }, default: 'misc' });

  it('maps values to topics, exactly and case-sensitively', () => {
    expect(mapped(makeEvent('in', 'x', { headers: { kind: 'order' } }))?.topic).toBe('orders');
    expect(mapped(makeEvent('in', 'x', { headers: { kind: '404' } }))?.topic).toBe('not-found');
    expect(mapped(makeEvent('in', 'x', { headers: { kind: 'Order' } }))?.topic).toBe('misc');
  });

  it('uses the default for missing and unmapped values, even when the value is a valid topic', () => {
    expect(mapped(makeEvent('in', 'x'))?.topic).toBe('misc');
    expect(mapped(makeEvent('in', 'x', { headers: { kind: 'audit' } }))?.topic).toBe('misc');
  });

  it('without a default, leaves unmatched events on their topic and returns them as they are', () => {
    const r = routeWith({ name: 'kind', mapping: { order: 'orders' } });
    const event = makeEvent('in', 'x', { headers: { kind: 'other' } });
    expect(r(event)).toBe(event);
  });

  it('without a mapping, uses the value itself when it is a valid topic name', () => {
    const r = routeWith({ name: 'app', default: 'unrouted' });
    expect(r(makeEvent('in', 'x', { headers: { app: 'billing.v2' } }))?.topic).toBe('billing.v2');
    expect(r(makeEvent('in', 'x', { headers: { app: '..' } }))?.topic).toBe('unrouted');
    expect(r(makeEvent('in', 'x', { headers: { app: 'a/b' } }))?.topic).toBe('unrouted');
  });

  it('reads nested fields of JSON and msgpack bodies; numbers and booleans match their text', () => {
    const r = routeWith({ from: 'field', name: 'meta.code', mapping: { '7': 'sevens', true: 'yes' } });
    expect(r(makeEvent('in', '{"meta":{"code":7}}', { headers: { 'content-type': 'application/json' } }))?.topic).toBe('sevens');
    expect(r(makeEvent('in', new Uint8Array(pack({ meta: { code: true } })), { headers: { 'content-type': 'application/msgpack' } }))?.topic).toBe('yes');
    expect(r(makeEvent('in', '{"meta":{"code":{"x":7}}}', { headers: { 'content-type': 'application/json' } }))?.topic).toBe('in');
  });

  it('reports invalid topics in the mapping and default, and a bad field path', () => {
    const { problems } = buildChain([{ type: 'route', from: 'field', name: 'a[', mapping: { ok: 'fine', bad: 'no spaces', '': '' }, default: 'x'.repeat(250) }], 'sources.web.interceptors');
    expect(problems.map((p) => p.path)).toEqual([
      'sources.web.interceptors[0].name',
      'sources.web.interceptors[0].mapping.bad',
      'sources.web.interceptors[0].mapping',
      'sources.web.interceptors[0].default',
    ]);
    expect(problems[1].message).toBe(`"no spaces" is not a valid topic name (letters, digits, '.', '_', '-'; 1–249 characters)`);
  });
});
