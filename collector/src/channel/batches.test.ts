/** How a commit cuts a topic's events into record batches, and the request helpers around it. */
import { describe, expect, it } from 'vitest';
import { makeEvent, utf8 } from '../../../shared/src/event.ts';
import { byTopic, encodedBytes, encodedEvents, estimateBytes } from './batches.ts';

describe('record batch helpers', () => {
  it('groups a request by topic, keeping order within each, and the common one-topic request as it is', () => {
    const one = [makeEvent('a', '1'), makeEvent('a', '2')];
    expect([...byTopic(one)]).toEqual([['a', one]]);
    const mixed = [makeEvent('a', '1'), makeEvent('b', '2'), makeEvent('a', '3')];
    expect([...byTopic(mixed)].map(([t, es]) => [t, es.map((e) => e.body[0] - 48)])).toEqual([
      ['a', [1, 3]],
      ['b', [2]],
    ]);
    expect([...byTopic([])]).toEqual([]);
  });

  it('estimates at least the bytes of bodies, keys and headers, and sums encoded batches', () => {
    const e = makeEvent('a', 'hello', { key: 'k', headers: { h: 'v' } });
    expect(estimateBytes([e])).toBeGreaterThanOrEqual(5 + 1 + 2);
    const batch = { topic: 'a', count: 3, payload: Buffer.from(utf8('xyz')), minTs: 1, maxTs: 2 };
    expect(encodedBytes([batch, batch])).toBe(6);
    expect(encodedEvents([batch, batch])).toBe(6);
    expect(encodedBytes(undefined)).toBe(0);
  });
});
