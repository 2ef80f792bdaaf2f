import { describe, expect, it } from 'vitest';
import { makeEvent } from '../../../shared/src/event.ts';
import { buildChain } from './index.ts';

describe('sample', () => {
  it('with by_header keeps or drops all events of one value together, the same on every collector', () => {
    const a = buildChain([{ type: 'sample', rate: 0.3, by_header: 'trace' }], 's').chain;
    const b = buildChain([{ type: 'sample', rate: 0.3, by_header: 'trace' }], 's').chain;
    let kept = 0;
    for (let i = 0; i < 2000; i++) {
      const event = makeEvent('t', 'x', { headers: { trace: `trace-${i}` } });
      const decision = a(event) !== null;
      expect(a(event) !== null).toBe(decision);
      expect(b(event) !== null).toBe(decision);
      if (decision) kept++;
    }
    expect(kept / 2000).toBeGreaterThan(0.25);
    expect(kept / 2000).toBeLessThan(0.35);
  });

  it('samples at random by the context, and events without the header too', () => {
    const draws = [0.1, 0.9];
    const { chain } = buildChain([{ type: 'sample', rate: 0.5, by_header: 'trace' }], 's', { random: () => draws.shift()! });
    expect(chain(makeEvent('t', 'a'))).not.toBeNull();
    expect(chain(makeEvent('t', 'b'))).toBeNull();
  });

  it('keeps counting per chain: a rebuilt chain starts again', () => {
    const first = buildChain([{ type: 'sample', every: 2 }], 's').chain;
    expect([1, 2, 3].map((i) => first(makeEvent('t', String(i))) !== null)).toEqual([true, false, true]);
    const rebuilt = buildChain([{ type: 'sample', every: 2 }], 's').chain;
    expect(rebuilt(makeEvent('t', '4'))).not.toBeNull();
  });

  it('needs exactly one of every and rate', () => {
    expect(buildChain([{ type: 'sample' }], 's').problems).toEqual([{ path: 's[0].every', message: 'give exactly one of `every` and `rate`' }]);
    expect(buildChain([{ type: 'sample', every: 2, rate: 0.5 }], 's').problems).toHaveLength(1);
    expect(buildChain([{ type: 'sample', every: 2, by_header: 'x' }], 's').problems).toEqual([{ path: 's[0].by_header', message: 'only used with `rate`' }]);
    expect(buildChain([{ type: 'sample', rate: 1.5 }], 's').problems[0].path).toBe('s[0].rate');
  });
});
