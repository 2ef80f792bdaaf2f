/** static: sets a header to a fixed value (Flume's static interceptor). */
import { Type } from '@sinclair/typebox';
import { interceptorConfig } from './config.ts';
import { getHeader, hasHeader, withHeader } from './headers.ts';
import type { InterceptorSpec } from './types.ts';

const config = interceptorConfig({
  header: Type.String({ minLength: 1, description: 'The header to set.' }),
  value: Type.String({ description: 'Its value.' }),
  preserve_existing: Type.Boolean({ default: true, description: 'Leave the header alone when the event already has it (as Flume does by default).' }),
});

export const staticHeader: InterceptorSpec<typeof config> = {
  kind: 'interceptor',
  name: 'static',
  summary: 'Sets a header to a fixed value.',
  config,
  examples: [
    { title: 'Tag events with their datacenter', config: { header: 'dc', value: 'eu-west-1' } },
    { title: 'Declare line bodies as JSON so later steps can read them', config: { header: 'content-type', value: 'application/json', preserve_existing: false } },
  ],
  cases: [
    {
      title: 'Set unless present',
      config: { header: 'dc', value: 'eu-west-1' },
      cases: [
        { input: { body: 'a' }, output: { headers: { dc: 'eu-west-1' }, body: 'a' } },
        { input: { headers: { dc: 'us-east-1' }, body: 'b' }, output: { headers: { dc: 'us-east-1' }, body: 'b' } },
      ],
    },
    {
      title: 'Overwrite',
      config: { header: 'content-type', value: 'application/json', preserve_existing: false },
      cases: [{ input: { headers: { 'content-type': 'text/plain' }, body: '{"a":1}' }, output: { headers: { 'content-type': 'application/json' }, body: '{"a":1}' } }],
    },
  ],
  create(c) {
    const { header, value, preserve_existing } = c;
    return (event) => {
      if (hasHeader(event.headers, header) && (preserve_existing || getHeader(event.headers, header) === value)) return event;
      return { ...event, headers: withHeader(event.headers, header, value) };
    };
  },
};
