/** Registers every built-in source once. Importing this module twice registers nothing twice (ES modules evaluate once). */
import type { TSchema } from '@sinclair/typebox';
import { sources, type SourceSpec } from '../components.ts';
import { forwardSource } from './forward/forward.ts';
import { generatorSource } from './generator.ts';
import { httpSource } from './http/http.ts';
import { kafkaSource } from './kafka.ts';
import { otlpSource } from './otlp.ts';
import { syslogSource } from './syslog/syslog.ts';
import { tailSource } from './tail/tail.ts';

// A spec is typed by its own schema; the registry holds the base type (a factory's config
// parameter makes SourceSpec<S> not assignable to SourceSpec<TSchema>).
const register = <S extends TSchema>(spec: SourceSpec<S>) => sources.register(spec as unknown as SourceSpec);

register(httpSource);
register(syslogSource);
register(tailSource);
register(generatorSource);
register(kafkaSource);
register(forwardSource);
register(otlpSource);

export { sources };
