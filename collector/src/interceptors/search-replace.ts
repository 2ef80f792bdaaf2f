/** search_replace: replaces text in the body (Flume's search_replace). */
import { Type } from '@sinclair/typebox';
import { utf8 } from '../../../shared/src/event.ts';
import { bodyText, structuredKindOf } from './body.ts';
import { ConfigChecks, interceptorConfig } from './config.ts';
import type { InterceptorSpec } from './types.ts';

const config = interceptorConfig({
  pattern: Type.String({ minLength: 1, description: 'A regular expression (JavaScript syntax).' }),
  replacement: Type.String({ default: '', description: 'What each match becomes; `$1`, `$<name>` and `$&` insert groups and the match, `$$` a dollar sign.' }),
  all: Type.Boolean({ default: true, description: 'Replace every match, or only the first.' }),
  ignore_case: Type.Boolean({ default: false, description: 'Match regardless of case.' }),
});

export const searchReplace: InterceptorSpec<typeof config> = {
  kind: 'interceptor',
  name: 'search_replace',
  summary: 'Replaces matches of a regular expression in the body (text bodies; msgpack and binary pass unchanged).',
  config,
  examples: [
    { title: 'Collapse runs of spaces', config: { pattern: ' {2,}', replacement: ' ' } },
    { title: 'Strip a syslog-style prefix', config: { pattern: '^<\\d+>', all: false } },
  ],
  cases: [
    {
      title: 'With groups',
      config: { pattern: 'user=(\\w+)', replacement: 'user=<$1>' },
      cases: [
        { input: { body: 'login user=ann ok, user=bob failed' }, output: { body: 'login user=<ann> ok, user=<bob> failed' } },
        { input: { body: 'nothing to do' }, output: { body: 'nothing to do' } },
      ],
    },
  ],
  create(c) {
    const checks = new ConfigChecks('search_replace');
    const regex = checks.regex(c.pattern, (c.all ? 'g' : '') + (c.ignore_case ? 'i' : ''), ['pattern']);
    checks.done();
    const { replacement } = c;
    return (event) => {
      if (structuredKindOf(event.headers) === 'msgpack') return event;
      const text = bodyText(event.body);
      if (text === null) return event;
      const replaced = text.replace(regex!, replacement);
      return replaced === text ? event : { ...event, body: utf8(replaced) };
    };
  },
};
