/**
 * regex_extractor: copies capture groups of a regular expression into headers, like Flume's
 * regex_extractor and its serializers.
 */
import { Type } from '@sinclair/typebox';
import { fromUtf8, type Headers } from '../../../shared/src/event.ts';
import { ConfigChecks, interceptorConfig, stringEnum } from './config.ts';
import { getHeader, withHeader } from './headers.ts';
import { parseTime } from './time.ts';
import type { InterceptorSpec } from './types.ts';

const Serializer = Type.Object(
  {
    group: Type.Optional(
      Type.Union([Type.Integer({ minimum: 1 }), Type.String({ minLength: 1 })], {
        description: 'The group: its number or its name. Default: the position in the list (the first serializer takes group 1).',
      }),
    ),
    name: Type.String({ minLength: 1, description: 'The header to write.' }),
    type: stringEnum(['string', 'epoch_ms'], {
      default: 'string',
      description: '`string` writes the text as matched; `epoch_ms` reads it as a time (epoch seconds or milliseconds, or ISO 8601) and writes epoch milliseconds.',
    }),
  },
  { additionalProperties: false },
);

const config = interceptorConfig({
  pattern: Type.String({ minLength: 1, description: 'A regular expression (JavaScript syntax); the first match is used.' }),
  header: Type.Optional(Type.String({ minLength: 1, description: 'Match this header instead of the body.' })),
  serializers: Type.Array(Serializer, {
    default: [],
    description: 'Which groups go to which headers. Empty: every named group `(?<level>…)` goes to a header of its name.',
  }),
  ignore_case: Type.Boolean({ default: false, description: 'Match regardless of case.' }),
});

interface Target {
  group: number | string;
  name: string;
  type: 'string' | 'epoch_ms';
}

export const regexExtractor: InterceptorSpec<typeof config> = {
  kind: 'interceptor',
  name: 'regex_extractor',
  summary: 'Copies capture groups of a regular expression on the body or a header into headers.',
  config,
  examples: [
    { title: 'Named groups become headers', config: { pattern: '^(?<level>[A-Z]+) \\[(?<thread>[^\\]]+)\\]' } },
    {
      title: 'Numbered groups with serializers, as in Flume',
      config: { pattern: '^(\\S+) (\\d+)', serializers: [{ name: 'time', type: 'epoch_ms' }, { name: 'status' }] },
    },
  ],
  cases: [
    {
      title: 'Named groups',
      config: { pattern: '^(?<level>[A-Z]+) \\[(?<thread>[^\\]]+)\\]' },
      cases: [
        { input: { body: 'WARN [main] slow' }, output: { headers: { level: 'WARN', thread: 'main' }, body: 'WARN [main] slow' } },
        { input: { body: 'no match here' }, output: { body: 'no match here' } },
      ],
    },
    {
      title: 'Serializers',
      config: { pattern: '^(\\S+) (\\d+)', serializers: [{ name: 'time', type: 'epoch_ms' }, { name: 'status' }] },
      cases: [
        {
          input: { body: '2024-01-01T00:00:00Z 503 upstream' },
          output: { headers: { time: '1704067200000', status: '503' }, body: '2024-01-01T00:00:00Z 503 upstream' },
        },
      ],
    },
  ],
  create(c) {
    const checks = new ConfigChecks('regex_extractor');
    const regex = checks.regex(c.pattern, c.ignore_case ? 'i' : '', ['pattern']);
    const targets: Target[] = [];
    if (regex) {
      // Matching the empty alternative reports how many groups there are and their names.
      const probe = new RegExp(`${c.pattern}|`, c.ignore_case ? 'i' : '').exec('')!;
      const groupCount = probe.length - 1;
      const names = Object.keys(probe.groups ?? {});
      if (c.serializers.length === 0) {
        if (names.length === 0) checks.problem(['serializers'], 'the pattern has no named groups: name them, as in (?<level>…), or list serializers');
        for (const name of names) targets.push({ group: name, name, type: 'string' });
      }
      c.serializers.forEach((s, i) => {
        const group = s.group ?? i + 1;
        if (typeof group === 'number' && group > groupCount) {
          checks.problem(['serializers', i, ...(s.group === undefined ? [] : ['group'])], `the pattern has ${groupCount} group(s), not ${group}`);
        } else if (typeof group === 'string' && !names.includes(group)) {
          checks.problem(['serializers', i, 'group'], `the pattern has no group named "${group}"${names.length ? `; it has ${names.join(', ')}` : ''}`);
        }
        targets.push({ group, name: s.name, type: s.type });
      });
    }
    checks.done();
    const { header } = c;
    return (event) => {
      const text = header === undefined ? fromUtf8(event.body) : getHeader(event.headers, header);
      if (text === undefined) return event;
      const match = regex!.exec(text);
      if (!match) return event;
      let headers: Headers | undefined;
      for (const t of targets) {
        const raw = typeof t.group === 'number' ? match[t.group] : match.groups?.[t.group];
        if (raw === undefined) continue;
        let value: string | undefined = raw;
        if (t.type === 'epoch_ms') {
          const ms = parseTime(raw, 'auto');
          value = ms === undefined ? undefined : String(ms);
        }
        if (value === undefined || getHeader(headers ?? event.headers, t.name) === value) continue;
        headers = withHeader(headers ?? event.headers, t.name, value);
      }
      return headers === undefined ? event : { ...event, headers };
    };
  },
};
