/** The byte checks of shared/src/json-limits.ts against the platform's own UTF-8 validator. */
import { isUtf8 } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { invalidUtf8At, jsonTextTooDeepAt, jsonTooDeepAt } from '../../../../shared/src/json-limits.ts';

describe('invalidUtf8At', () => {
  it('agrees with Buffer isUtf8 on random and mutated bytes (fixed seed)', () => {
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const samples = ['plain', 'é日本🙂', '\u{10ffff}', '\u07ff\u0800\uffff'].map((s) => Buffer.from(s));
    for (let i = 0; i < 5000; i++) {
      const base = Buffer.from(samples[i % samples.length]);
      const bytes = Buffer.concat([base, Buffer.from(Array.from({ length: 1 + Math.floor(rand() * 6) }, () => Math.floor(rand() * 256)))]);
      const at = invalidUtf8At(bytes);
      expect(at === -1, bytes.toString('hex')).toBe(isUtf8(bytes));
      if (at !== -1) {
        expect(isUtf8(bytes.subarray(0, at)), bytes.toString('hex')).toBe(true);
      }
    }
  });
});

describe('jsonTooDeepAt', () => {
  it('measures nesting outside strings, bytes and text alike', () => {
    const cases: [string, number, number][] = [
      ['{}', 1, -1],
      ['[[]]', 1, 1],
      ['{"a":[{"b":"[[[["}]}', 3, -1],
      ['{"a":[{"b":"\\"[[[["}]}', 2, 6],
      ['"[[[[["', 0, -1],
    ];
    for (const [text, limit, at] of cases) {
      expect(jsonTooDeepAt(Buffer.from(text), limit), text).toBe(at);
      expect(jsonTextTooDeepAt(text, limit), text).toBe(at);
    }
  });

  it('agrees with a depth computed from the parsed value, on random JSON with escapes (fixed seed)', () => {
    let seed = 777;
    const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const value = (d: number): unknown => {
      const r = rand();
      if (d > 6 || r < 0.3) return ['s', '[{', '\\', '\\"]', '"{[', 'é', 1][Math.floor(rand() * 7)];
      if (r < 0.65) return Array.from({ length: Math.floor(rand() * 3) }, () => value(d + 1));
      return Object.fromEntries(Array.from({ length: Math.floor(rand() * 3) }, (_, i) => [`k${i}[\\"`, value(d + 1)]));
    };
    const depthOf = (v: unknown): number => (v !== null && typeof v === 'object' ? 1 + Math.max(0, ...Object.values(v as object).map(depthOf)) : 0);
    for (let i = 0; i < 2000; i++) {
      const v = value(0);
      const text = JSON.stringify(v);
      const depth = depthOf(v);
      expect(jsonTooDeepAt(Buffer.from(text), depth), text).toBe(-1);
      expect(jsonTextTooDeepAt(text, depth), text).toBe(-1);
      if (depth > 0) {
        expect(jsonTooDeepAt(Buffer.from(text), depth - 1), text).not.toBe(-1);
        expect(jsonTextTooDeepAt(text, depth - 1), text).not.toBe(-1);
      }
    }
  });
});
