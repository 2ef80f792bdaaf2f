import { describe, expect, it } from 'vitest';
import { splitEvents, type SplitOptions } from './split.ts';

function split(text: string, options: Partial<SplitOptions> = {}) {
  const r = splitEvents(Buffer.from(text), { start: null, maxBytes: 1000, discarding: false, flush: 'none', ...options });
  return { ...r, bodies: r.bodies.map((b) => b.toString()) };
}

describe('splitEvents, one line per event', () => {
  it('splits complete lines, drops CR, skips empty lines, holds the partial line', () => {
    expect(split('a\r\nb\n\nc\npart')).toEqual({ bodies: ['a', 'b', 'c'], consumed: 8, discarding: false, truncated: 0 });
  });

  it('emits the partial line only on a full flush', () => {
    expect(split('a\npart', { flush: 'events' })).toMatchObject({ bodies: ['a'], consumed: 2 });
    expect(split('a\npart', { flush: 'all' })).toMatchObject({ bodies: ['a', 'part'], consumed: 6 });
  });

  it('cuts over-long lines and skips their rest, across reads', () => {
    expect(split('0123456789\nok\n', { maxBytes: 4 })).toEqual({ bodies: ['0123', 'ok'], consumed: 14, discarding: false, truncated: 1 });
    const first = split('ok\n0123456789', { maxBytes: 4 });
    expect(first).toEqual({ bodies: ['ok', '0123'], consumed: 13, discarding: true, truncated: 1 });
    expect(split('more of it', { maxBytes: 4, discarding: true })).toEqual({ bodies: [], consumed: 10, discarding: true, truncated: 0 });
    expect(split('tail\nnext\n', { maxBytes: 4, discarding: true })).toEqual({ bodies: ['next'], consumed: 10, discarding: false, truncated: 0 });
  });
});

describe('splitEvents, multi-line', () => {
  const start = /^\d{4}-/;

  it('groups continuation lines and holds the last event until the next start', () => {
    const text = 'pre\n2024-1 boom\n  at a\n  at b\n2024-2 ok\n  more\n';
    const r = split(text, { start });
    expect(r.bodies).toEqual(['pre', '2024-1 boom\n  at a\n  at b']);
    expect(r.consumed).toBe(text.indexOf('2024-2'));
  });

  it('flushes the event being built on timeout, but not a partial line', () => {
    const text = '2024-1 a\n  b\n2024-2 c\n  d\n2024-3 part';
    const r = split(text, { start, flush: 'events' });
    expect(r.bodies).toEqual(['2024-1 a\n  b', '2024-2 c\n  d']);
    expect(r.consumed).toBe(text.indexOf('2024-3'));
    expect(split(text, { start, flush: 'all' }).bodies).toEqual(['2024-1 a\n  b', '2024-2 c\n  d', '2024-3 part']);
  });

  it('cuts an over-long event and always makes progress', () => {
    const r = split('2024-1 aaaa\n bbbbbbbb\n cccc\n2024-2 x\n', { start, maxBytes: 16 });
    expect(r.bodies[0]).toBe('2024-1 aaaa\n bbb');
    expect(r.truncated).toBe(1);
    expect(r.consumed).toBeGreaterThan(0);
    const long = split('x'.repeat(40), { start, maxBytes: 16 });
    expect(long).toMatchObject({ bodies: ['x'.repeat(16)], consumed: 40, discarding: true });
  });
});
