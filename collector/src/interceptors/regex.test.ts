// The regex-based interceptors: syntax errors are config problems with a path, never crashes.
import { pack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { fromUtf8, makeEvent } from '../../../shared/src/event.ts';
import { buildChain } from './index.ts';

describe('regular expressions in configs', () => {
  it('an invalid regex is a config problem at its key, for every interceptor that takes one', () => {
    const { problems } = buildChain(
      [
        { type: 'regex_filter', pattern: 'a(' },
        { type: 'regex_extractor', pattern: '(?<x' },
        { type: 'search_replace', pattern: '+' },
        { type: 'remove_header', pattern: '[' },
        { type: 'redact', patterns: ['ok', 'a{2,1}'] },
      ],
      'sources.web.interceptors',
    );
    expect(problems.map((p) => p.path)).toEqual([
      'sources.web.interceptors[0].pattern',
      'sources.web.interceptors[1].pattern',
      'sources.web.interceptors[2].pattern',
      'sources.web.interceptors[3].pattern',
      'sources.web.interceptors[4].patterns.1',
    ]);
    for (const p of problems) expect(p.message).toMatch(/^invalid regular expression: \S/);
  });

  it('regex_extractor checks serializers against the groups the pattern has', () => {
    const { problems } = buildChain(
      [
        { type: 'regex_extractor', pattern: '(a)(b)', serializers: [{ name: 'x' }, { name: 'y' }, { name: 'z' }] },
        { type: 'regex_extractor', pattern: '(?<level>\\w+)', serializers: [{ group: 'lvl', name: 'l' }, { group: 3, name: 'n' }] },
        { type: 'regex_extractor', pattern: '(\\w+)' },
      ],
      'i',
    );
    expect(problems).toEqual([
      { path: 'i[0].serializers.2', message: 'the pattern has 2 group(s), not 3' },
      { path: 'i[1].serializers.0.group', message: 'the pattern has no group named "lvl"; it has level' },
      { path: 'i[1].serializers.1.group', message: 'the pattern has 1 group(s), not 3' },
      { path: 'i[2].serializers', message: 'the pattern has no named groups: name them, as in (?<level>…), or list serializers' },
    ]);
  });

  it('regex_extractor leaves groups that did not take part unset', () => {
    const { chain } = buildChain([{ type: 'regex_extractor', pattern: '^(?<level>[A-Z]+)(?: code=(?<code>\\d+))?' }], 'i');
    expect(chain(makeEvent('t', 'WARN slow'))?.headers).toEqual({ level: 'WARN' });
  });

  it('search_replace leaves msgpack and non-UTF-8 bodies alone', () => {
    const { chain } = buildChain([{ type: 'search_replace', pattern: '.', replacement: '?' }], 'i');
    const msgpack = makeEvent('t', new Uint8Array(pack({ a: 'b' })), { headers: { 'content-type': 'application/msgpack' } });
    const binary = makeEvent('t', new Uint8Array([0xff, 0x00]));
    expect(chain(msgpack)).toBe(msgpack);
    expect(chain(binary)).toBe(binary);
    expect(fromUtf8(chain(makeEvent('t', 'ab'))!.body)).toBe('??');
  });

  it('a global regex keeps no state between events', () => {
    const { chain } = buildChain([{ type: 'regex_filter', pattern: 'x' }, { type: 'search_replace', pattern: 'x', replacement: 'y' }], 'i');
    for (let i = 0; i < 3; i++) expect(fromUtf8(chain(makeEvent('t', 'x'))!.body)).toBe('y');
  });
});
