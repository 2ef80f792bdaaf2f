// Every interceptor spec's examples and cases, run against the spec itself (STYLE: "a test runs
// every spec's examples"). Inputs are frozen: an interceptor that mutates its input fails here.
import { describe, expect, it } from 'vitest';
import type { EventDraft } from '../../../shared/src/event.ts';
import { validateConfig } from '../../../shared/src/spec.ts';
import { completeExample, EXAMPLE_CONTEXT, eventFromExample, exampleFromEvent } from './examples.ts';
import { buildChain, interceptors } from './index.ts';

/** Freezes the event and its headers, and returns a check that its body bytes did not change. */
export function freezeEvent(event: EventDraft): () => void {
  Object.freeze(event);
  Object.freeze(event.headers);
  const bytes = event.body.slice();
  return () => expect(event.body).toEqual(bytes);
}

describe('interceptor specs', () => {
  it('registers every interceptor the design lists, once', () => {
    expect(interceptors.names()).toEqual([
      'host',
      'json',
      'jsonata',
      'redact',
      'regex_extractor',
      'regex_filter',
      'remove_header',
      'route',
      'sample',
      'search_replace',
      'static',
      'timestamp',
      'uuid',
    ]);
  });

  for (const spec of interceptors.all()) {
    describe(spec.name, () => {
      it('documents every config key and has cases', () => {
        for (const [key, schema] of Object.entries(spec.config.properties as Record<string, { description?: string }>)) {
          expect(schema.description, `${spec.name}.${key} needs a description`).toBeTruthy();
        }
        expect(spec.cases.length).toBeGreaterThan(0);
      });

      for (const example of spec.examples) {
        it(`example "${example.title}" is a valid chain entry`, () => {
          const built = buildChain([{ type: spec.name, ...example.config }], `interceptors.${spec.name}`, EXAMPLE_CONTEXT);
          expect(built.problems).toEqual([]);
        });
      }

      for (const group of spec.cases) {
        it(`case "${group.title}"`, () => {
          const validated = validateConfig(spec.config, group.config, spec.name);
          expect(validated.problems).toEqual([]);
          const interceptor = spec.create(validated.value!, EXAMPLE_CONTEXT);
          group.cases.forEach(({ input, output }, i) => {
            const event = eventFromExample(input);
            const unchanged = freezeEvent(event);
            const result = interceptor(event);
            unchanged();
            expect(result === null ? null : exampleFromEvent(result), `${group.title}, case ${i + 1}`).toEqual(output === null ? null : completeExample(output));
          });
        });
      }
    });
  }
});
