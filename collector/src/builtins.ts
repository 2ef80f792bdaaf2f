/**
 * The composition root of components: every built-in source and sink, registered once into
 * registries the caller then passes on — to config loading (`sluice start`, `check`, `inspect`
 * and reloads, through the loaded config), the admin API's component list and the reference
 * generator (config/docs.ts). Config loading and the runtime import no component: they use what
 * they are given. (Interceptors register in their own module, interceptors/index.ts: they are
 * one family with one registry and nothing to choose.)
 *
 * Importing a spec module is cheap: a component's heavy dependencies (kafkajs, jsonata) load on
 * first use, so a config that does not name a component does not pay for it.
 */
import { emptyRegistries, registerSink, registerSource, type Registries } from './components.ts';
import { fileSink } from './sinks/file.ts';
import { forwardSink } from './sinks/forward/forward.ts';
import { failoverSink, loadBalanceSink } from './sinks/group.ts';
import { httpSink } from './sinks/http.ts';
import { kafkaSink } from './sinks/kafka.ts';
import { otlpSink } from './sinks/otlp.ts';
import { stdoutSink } from './sinks/stdout.ts';
import { forwardSource } from './sources/forward/forward.ts';
import { generatorSource } from './sources/generator.ts';
import { httpSource } from './sources/http/http.ts';
import { kafkaSource } from './sources/kafka.ts';
import { otlpSource } from './sources/otlp.ts';
import { syslogSource } from './sources/syslog/syslog.ts';
import { tailSource } from './sources/tail/tail.ts';

/** New registries holding every built-in source and sink; a duplicate or malformed spec throws here. */
export function builtinRegistries(): Registries {
  const registries = emptyRegistries();
  registerSource(registries, httpSource);
  registerSource(registries, syslogSource);
  registerSource(registries, tailSource);
  registerSource(registries, generatorSource);
  registerSource(registries, kafkaSource);
  registerSource(registries, forwardSource);
  registerSource(registries, otlpSource);

  registerSink(registries, stdoutSink);
  registerSink(registries, fileSink);
  registerSink(registries, httpSink);
  registerSink(registries, kafkaSink);
  registerSink(registries, forwardSink);
  registerSink(registries, failoverSink);
  registerSink(registries, loadBalanceSink);
  registerSink(registries, otlpSink);
  return registries;
}
