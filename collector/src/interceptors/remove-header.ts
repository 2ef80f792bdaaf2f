/** remove_header: removes headers by name or by a pattern on their names (Flume's remove_header). */
import { Type } from '@sinclair/typebox';
import type { Headers } from '../../../shared/src/event.ts';
import { ConfigChecks, interceptorConfig } from './config.ts';
import type { InterceptorSpec } from './types.ts';

const config = interceptorConfig({
  names: Type.Array(Type.String({ minLength: 1 }), { default: [], description: 'Header names to remove.' }),
  pattern: Type.Optional(Type.String({ minLength: 1, description: 'Also remove every header whose name this regular expression matches (JavaScript syntax).' })),
  ignore_case: Type.Boolean({ default: false, description: 'Match `names` and `pattern` regardless of case.' }),
});

export const removeHeader: InterceptorSpec<typeof config> = {
  kind: 'interceptor',
  name: 'remove_header',
  summary: 'Removes headers by name or by a regular expression on their names.',
  config,
  examples: [
    { title: 'Drop credentials a client sent along', config: { names: ['authorization', 'cookie'] } },
    { title: 'Drop every debug header', config: { pattern: '^x-debug-' } },
  ],
  cases: [
    {
      title: 'By name and by pattern',
      config: { names: ['cookie'], pattern: '^x-debug-' },
      cases: [
        {
          input: { headers: { cookie: 's=1', 'x-debug-trace': 'on', 'x-debug-user': 'u', host: 'a' }, body: 'x' },
          output: { headers: { host: 'a' }, body: 'x' },
        },
        { input: { headers: { host: 'a' }, body: 'y' }, output: { headers: { host: 'a' }, body: 'y' } },
      ],
    },
  ],
  create(c) {
    const checks = new ConfigChecks('remove_header');
    const regex = c.pattern === undefined ? undefined : checks.regex(c.pattern, c.ignore_case ? 'i' : '', ['pattern']);
    if (c.names.length === 0 && c.pattern === undefined) checks.problem(['names'], 'give `names`, `pattern` or both');
    checks.done();
    const names = new Set(c.ignore_case ? c.names.map((n) => n.toLowerCase()) : c.names);
    const removes = (name: string) => names.has(c.ignore_case ? name.toLowerCase() : name) || (regex !== undefined && regex.test(name));
    return (event) => {
      let out: Headers | undefined;
      for (const name of Object.keys(event.headers)) {
        if (!removes(name)) continue;
        out ??= { ...event.headers };
        delete out[name];
      }
      return out === undefined ? event : { ...event, headers: out };
    };
  },
};
