/**
 * Interceptors (DESIGN §4): pure and synchronous, `event → event | null` (null drops the event).
 * They run in the collector only; the desktop previews a chain through the admin API, so on the
 * collector's own code (docs/decisions/interceptors-in-collector.md).
 * An interceptor MUST NOT mutate its input; it returns the same object when nothing changes, or a
 * new one. Anything stateful (sample's counter) says so in its summary.
 */
import type { Static, TSchema } from '@sinclair/typebox';
import type { EventDraft } from '../../../shared/src/event.ts';
import type { ComponentSpec } from '../../../shared/src/spec.ts';

export type Interceptor = (event: EventDraft) => EventDraft | null;

/**
 * What an interceptor may take from its surroundings, passed to its factory, so a chain can be
 * run deterministically: the collector passes the real ones (host name, clock, randomness), and
 * cases run with a fixed one (EXAMPLE_CONTEXT in examples.ts).
 * A factory called without it uses `interceptorContext()` (context.ts).
 */
export interface InterceptorContext {
  /** The collector's host name. */
  hostname: string;
  /** Milliseconds since the epoch. */
  now(): number;
  /** A number in [0, 1). */
  random(): number;
  /** A random (version 4) UUID. */
  uuid(): string;
}

/** An example a test runs: the interceptor built from `config` turns `input` into `output` (null: dropped). */
export interface InterceptorCase {
  input: ExampleEvent;
  output: ExampleEvent | null;
}

/** Events in examples use a text body for readability. */
export interface ExampleEvent {
  topic?: string;
  ts?: number;
  key?: string | null;
  headers?: Record<string, string>;
  body: string;
}

export interface InterceptorSpec<S extends TSchema = TSchema> extends ComponentSpec<S, (config: Static<S>, ctx?: InterceptorContext) => Interceptor> {
  kind: 'interceptor';
  /**
   * Examples with input and expected output; run by interceptors.test.ts. The cases of one entry
   * run in order against one instance built with EXAMPLE_CONTEXT (so sample's counter shows).
   */
  cases: { title: string; config: Record<string, unknown>; cases: InterceptorCase[] }[];
}

/** One entry of a source's `interceptors:` list: `{ type: name, ...config }`. */
export interface InterceptorConfig {
  type: string;
  [key: string]: unknown;
}
