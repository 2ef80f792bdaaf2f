/** regex_filter: keeps (or drops) events whose body or a header matches a regular expression. */
import { Type } from '@sinclair/typebox';
import { fromUtf8 } from '../../../shared/src/event.ts';
import { ConfigChecks, interceptorConfig } from './config.ts';
import { getHeader } from './headers.ts';
import type { InterceptorSpec } from './types.ts';

const config = interceptorConfig({
  pattern: Type.String({ minLength: 1, description: 'A regular expression (JavaScript syntax), searched anywhere in the text.' }),
  exclude: Type.Boolean({ default: false, description: 'Drop matching events instead of keeping only them.' }),
  header: Type.Optional(Type.String({ minLength: 1, description: 'Match this header instead of the body; an event without it does not match.' })),
  ignore_case: Type.Boolean({ default: false, description: 'Match regardless of case.' }),
});

export const regexFilter: InterceptorSpec<typeof config> = {
  kind: 'interceptor',
  name: 'regex_filter',
  summary: 'Keeps only events whose body or header matches a regular expression, or drops them (exclude).',
  config,
  examples: [
    { title: 'Keep warnings and errors', config: { pattern: '\\b(WARN|ERROR)\\b' } },
    { title: 'Drop health checks', config: { pattern: '^/healthz', header: 'path', exclude: true } },
  ],
  cases: [
    {
      title: 'Include',
      config: { pattern: '\\b(WARN|ERROR)\\b' },
      cases: [
        { input: { body: 'ERROR disk full' }, output: { body: 'ERROR disk full' } },
        { input: { body: 'INFO all good' }, output: null },
      ],
    },
    {
      title: 'Exclude by header',
      config: { pattern: '^/healthz', header: 'path', exclude: true },
      cases: [
        { input: { headers: { path: '/healthz' }, body: '' }, output: null },
        { input: { headers: { path: '/orders' }, body: 'o' }, output: { headers: { path: '/orders' }, body: 'o' } },
        { input: { body: 'no path header' }, output: { body: 'no path header' } },
      ],
    },
  ],
  create(c) {
    const checks = new ConfigChecks('regex_filter');
    const regex = checks.regex(c.pattern, c.ignore_case ? 'i' : '', ['pattern']);
    checks.done();
    const { header, exclude } = c;
    return (event) => {
      const text = header === undefined ? fromUtf8(event.body) : getHeader(event.headers, header);
      const matches = text !== undefined && regex!.test(text);
      return matches !== exclude ? event : null;
    };
  },
};
