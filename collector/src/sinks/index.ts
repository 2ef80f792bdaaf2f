/** Registers every built-in sink once. */
import type { TSchema } from '@sinclair/typebox';
import { sinks, type SinkSpec } from '../components.ts';
import { fileSink } from './file.ts';
import { forwardSink } from './forward/forward.ts';
import { failoverSink, loadBalanceSink } from './group.ts';
import { httpSink } from './http.ts';
import { kafkaSink } from './kafka.ts';
import { otlpSink } from './otlp.ts';
import { stdoutSink } from './stdout.ts';

// A spec is typed by its own schema; the registry holds the base type (a factory's config
// parameter makes SinkSpec<S> not assignable to SinkSpec<TSchema>).
const register = <S extends TSchema>(spec: SinkSpec<S>) => sinks.register(spec as unknown as SinkSpec);

register(stdoutSink);
register(fileSink);
register(httpSink);
register(kafkaSink);
register(forwardSink);
register(failoverSink);
register(loadBalanceSink);
register(otlpSink);

export { sinks };
