import { describe, expect, it } from 'vitest';
import { buildChain } from './index.ts';
import { nestedRepetition } from './regex-safety.ts';

describe('nestedRepetition', () => {
  it('finds a repeated group that repeats inside, however spelled; optional parts are no repetition', () => {
    for (const hostile of ['(a+)+$', '(a*)*', '(\\w+\\s?)+x', '(?:a|aa)+(b+)*', '((ab)*c)+', '(x{2,}y)+', '(?<n>\\d+)*']) expect(nestedRepetition(hostile), hostile).toBe(true);
    for (const fine of ['^(?<level>[A-Z]+)(?: code=(?<code>\\d+))?', 'ERROR', '\\d{3}-\\d{4}', '(ab)+c', '(a|b)*', 'user=(\\w+)', '(\\d+)?\\.(\\d+)', '[a-z]+(?:-[a-z]+)?']) expect(nestedRepetition(fine), fine).toBe(false);
  });

  it('a chain with such a pattern is a config problem naming the step, before it can stall ingestion', () => {
    for (const step of [
      { type: 'regex_filter', pattern: '(a+)+$' },
      { type: 'regex_extractor', pattern: '(?<x>(\\w+)*)!' },
      { type: 'search_replace', pattern: '(a|a)+(b*)*', replacement: '' },
    ]) {
      const { problems } = buildChain([step], 'sources.web.interceptors');
      expect(problems, step.type).toEqual([{ path: 'sources.web.interceptors[0].pattern', message: expect.stringContaining('can take exponential time') }]);
    }
  });
});
