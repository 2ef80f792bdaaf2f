/**
 * sample: keeps a share of the events. STATEFUL with `every` (a counter per chain instance, reset
 * when the chain is rebuilt or the collector restarts) and random with `rate`; only `rate` with
 * `by_header` is a pure function of the event.
 */
import { Type } from '@sinclair/typebox';
import { ConfigChecks, interceptorConfig } from './config.ts';
import { interceptorContext } from './context.ts';
import { getHeader } from './headers.ts';
import type { InterceptorSpec } from './types.ts';

const config = interceptorConfig({
  every: Type.Optional(Type.Integer({ minimum: 1, description: 'Keep the first of every N events (a counter, kept per chain and reset when the chain changes).' })),
  rate: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: 'Keep this fraction of the events, chosen at random.' })),
  by_header: Type.Optional(
    Type.String({
      minLength: 1,
      description: 'With `rate`: decide by a hash of this header instead, so all events with the same value are kept or dropped together, on every collector. Events without it are sampled at random.',
    }),
  ),
});

export const sample: InterceptorSpec<typeof config> = {
  kind: 'interceptor',
  name: 'sample',
  summary: 'Keeps 1 in N events (stateful counter) or a fraction, at random or by a hash of a header.',
  config,
  examples: [
    { title: 'One event in a hundred', config: { every: 100 } },
    { title: 'Ten per cent of the traces, whole', config: { rate: 0.1, by_header: 'trace-id' } },
  ],
  cases: [
    {
      title: 'Keep 1 in 3',
      config: { every: 3 },
      cases: [
        { input: { body: '1' }, output: { body: '1' } },
        { input: { body: '2' }, output: null },
        { input: { body: '3' }, output: null },
        { input: { body: '4' }, output: { body: '4' } },
      ],
    },
    {
      title: 'A random half (the examples draw 0.25)',
      config: { rate: 0.5 },
      cases: [{ input: { body: 'kept' }, output: { body: 'kept' } }],
    },
  ],
  create(c, ctx) {
    const checks = new ConfigChecks('sample');
    if ((c.every === undefined) === (c.rate === undefined)) checks.problem(['every'], 'give exactly one of `every` and `rate`');
    if (c.by_header !== undefined && c.rate === undefined) checks.problem(['by_header'], 'only used with `rate`');
    checks.done();
    const { random } = ctx ?? interceptorContext();
    if (c.every !== undefined) {
      const every = c.every;
      let seen = 0;
      return (event) => {
        const keep = seen === 0;
        seen = (seen + 1) % every;
        return keep ? event : null;
      };
    }
    const rate = c.rate!;
    const byHeader = c.by_header;
    return (event) => {
      const value = byHeader === undefined ? undefined : getHeader(event.headers, byHeader);
      const draw = value === undefined ? random() : fnv1a(value) / 0x1_0000_0000;
      return draw < rate ? event : null;
    };
  },
};

/** FNV-1a, 32 bits, over UTF-16 code units: cheap, stable across machines and versions. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
