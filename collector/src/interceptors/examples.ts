/**
 * How spec cases (types.ts `InterceptorCase`) become events and back. Cases run with a fixed
 * context so their outputs are reproducible, and the reference docs show the same values.
 */
import { fromUtf8, utf8, type EventDraft } from '../../../shared/src/event.ts';
import type { ExampleEvent, InterceptorContext } from './types.ts';

/** What an example event is when it leaves a field out. */
export const EXAMPLE_DEFAULTS = { topic: 'app', ts: 1_700_000_000_000, key: null, headers: {} } as const;

/** The context cases run with: the clock reads one minute after EXAMPLE_DEFAULTS.ts. */
export const EXAMPLE_CONTEXT: InterceptorContext = Object.freeze({
  hostname: 'edge-1',
  now: () => 1_700_000_060_000,
  random: () => 0.25,
  uuid: () => '123e4567-e89b-42d3-a456-426614174000',
});

export function eventFromExample(example: ExampleEvent): EventDraft {
  return {
    topic: example.topic ?? EXAMPLE_DEFAULTS.topic,
    ts: example.ts ?? EXAMPLE_DEFAULTS.ts,
    key: example.key ?? EXAMPLE_DEFAULTS.key,
    headers: { ...(example.headers ?? EXAMPLE_DEFAULTS.headers) },
    body: utf8(example.body),
  };
}

/** An event as an example with every field spelled out (for comparing with a case's output). */
export function exampleFromEvent(event: EventDraft): Required<ExampleEvent> {
  return { topic: event.topic, ts: event.ts, key: event.key, headers: { ...event.headers }, body: fromUtf8(event.body) };
}

/** A case's expected output with the defaults filled in. */
export function completeExample(example: ExampleEvent): Required<ExampleEvent> {
  return exampleFromEvent(eventFromExample(example));
}
