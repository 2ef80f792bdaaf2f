/** uuid: writes a random UUID into a header (Flume's UUID interceptor). */
import { Type } from '@sinclair/typebox';
import { interceptorConfig } from './config.ts';
import { interceptorContext } from './context.ts';
import { hasHeader, withHeader } from './headers.ts';
import type { InterceptorSpec } from './types.ts';

const config = interceptorConfig({
  header: Type.String({ minLength: 1, default: 'id', description: 'The header to write.' }),
  prefix: Type.String({ default: '', description: 'Written before the UUID.' }),
  preserve_existing: Type.Boolean({ default: true, description: 'Leave the header alone when the event already has it, so an id survives every hop.' }),
});

export const uuid: InterceptorSpec<typeof config> = {
  kind: 'interceptor',
  name: 'uuid',
  summary: 'Writes a random UUID (version 4) into a header, unless the event already has one.',
  config,
  examples: [
    { title: 'An `id` header on every event', config: {} },
    { title: 'Ids that say where they were made', config: { header: 'event-id', prefix: 'edge7-' } },
  ],
  cases: [
    {
      title: 'Add an id unless there is one',
      config: {},
      cases: [
        { input: { body: 'a' }, output: { headers: { id: '123e4567-e89b-42d3-a456-426614174000' }, body: 'a' } },
        { input: { headers: { id: 'given' }, body: 'b' }, output: { headers: { id: 'given' }, body: 'b' } },
      ],
    },
  ],
  create(c, ctx) {
    const { uuid: next } = ctx ?? interceptorContext();
    const { header, prefix, preserve_existing } = c;
    return (event) => {
      if (preserve_existing && hasHeader(event.headers, header)) return event;
      return { ...event, headers: withHeader(event.headers, header, prefix + next()) };
    };
  },
};
