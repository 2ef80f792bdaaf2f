/** host: writes the collector's host name into a header (Flume's host interceptor). */
import { Type } from '@sinclair/typebox';
import { interceptorConfig } from './config.ts';
import { interceptorContext } from './context.ts';
import { getHeader, hasHeader, withHeader } from './headers.ts';
import type { InterceptorSpec } from './types.ts';

const config = interceptorConfig({
  header: Type.String({ minLength: 1, default: 'host', description: 'The header to write.' }),
  value: Type.Optional(Type.String({ minLength: 1, description: "The name to write instead of the collector's host name." })),
  preserve_existing: Type.Boolean({ default: false, description: 'Leave the header alone when the event already has it.' }),
});

export const host: InterceptorSpec<typeof config> = {
  kind: 'interceptor',
  name: 'host',
  summary: "Writes the collector's host name into a header.",
  config,
  examples: [
    { title: "The collector's host name in `host`", config: {} },
    { title: 'A fixed name, keeping one set upstream', config: { header: 'edge', value: 'shop-7', preserve_existing: true } },
  ],
  cases: [
    {
      title: "The collector's host name",
      config: {},
      cases: [{ input: { body: 'x' }, output: { headers: { host: 'edge-1' }, body: 'x' } }],
    },
    {
      title: 'Keep the first one',
      config: { header: 'origin', preserve_existing: true },
      cases: [
        { input: { body: 'a' }, output: { headers: { origin: 'edge-1' }, body: 'a' } },
        { input: { headers: { origin: 'edge-9' }, body: 'b' }, output: { headers: { origin: 'edge-9' }, body: 'b' } },
      ],
    },
  ],
  create(c, ctx) {
    const name = c.value ?? (ctx ?? interceptorContext()).hostname;
    const { header, preserve_existing } = c;
    return (event) => {
      if (getHeader(event.headers, header) === name) return event;
      if (preserve_existing && hasHeader(event.headers, header)) return event;
      return { ...event, headers: withHeader(event.headers, header, name) };
    };
  },
};
