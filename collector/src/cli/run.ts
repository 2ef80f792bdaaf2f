/** What `sluice start` and `sluice check` run (start.ts holds their options). */
import { watchFile, unwatchFile } from 'node:fs';
import { errorMessage } from '../../../shared/src/errors.ts';
import { formatProblem } from '../../../shared/src/spec.ts';
import { builtinRegistries } from '../builtins.ts';
import { ConfigError, EMBEDDED_DEFAULTS, loadConfigFile, loadConfigText, type LoadOptions, type ResolvedConfig } from '../config/load.ts';
import { createLogger } from '../log.ts';
import type { Collector } from '../runtime/collector.ts';

/** Loads a config with the built-in sources and sinks (the composition root, builtins.ts). */
export async function loadOrExit(file: string | undefined, options: Omit<LoadOptions, 'registries'> = {}): Promise<ResolvedConfig> {
  const withBuiltins: LoadOptions = { ...options, registries: builtinRegistries() };
  try {
    return file ? await loadConfigFile(file, withBuiltins) : await loadConfigText(EMBEDDED_DEFAULTS, null, withBuiltins);
  } catch (error) {
    // A config mistake is exit 2 with every problem listed; anything else that stops the check is
    // exit 1 with one line (the stack only with SLUICE_DEBUG=1): never a bare stack trace.
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(2);
    }
    console.error(`sluice: cannot load ${file ?? 'the embedded config'}: ${errorMessage(error)}`);
    if (process.env.SLUICE_DEBUG) console.error(error);
    process.exit(1);
  }
}

export async function runCollector(config: ResolvedConfig, logLevel?: string): Promise<void> {
  const log = createLogger({ level: logLevel ?? config.logLevel, destination: process.stderr });
  let collector: Collector;
  try {
    // Loaded here, so `sluice check` (config only) never loads the runtime and the admin API.
    const [{ Collector }, { buildAdminApp }] = await Promise.all([import('../runtime/collector.ts'), import('../admin/app.ts')]);
    collector = new Collector(config, { log });
    await collector.start((c) => buildAdminApp(c));
  } catch (error) {
    console.error(`sluice: cannot start: ${errorMessage(error)}`);
    process.exit(1);
  }
  printBanner(collector, config);

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info(`${signal}: stopping (finishing in-flight commits, committing cursors)`);
    const hard = setTimeout(() => {
      log.error('shutdown took longer than 10s; exiting anyway (nothing acknowledged is lost: the channel is durable)');
      process.exit(1);
    }, 10_000);
    hard.unref();
    try {
      await collector.stop();
      log.info('stopped');
      process.exit(0);
    } catch (error) {
      log.error({ err: errorMessage(error) }, 'error while stopping');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));

  let reloading: Promise<unknown> = Promise.resolve();
  const reload = (why: string) => {
    reloading = reloading.then(async () => {
      log.info(`${why}: reloading ${config.file}`);
      const result = await collector.reload();
      if (result.applied) printBanner(collector, collector.config);
    });
  };
  process.on('SIGHUP', () => reload('SIGHUP'));
  if (config.file) {
    const file = config.file;
    watchFile(file, { interval: 1000 }, (curr, prev) => {
      if (curr.mtimeMs !== prev.mtimeMs && !stopping) reload('config file changed');
    });
    process.on('exit', () => unwatchFile(file));
  }
}

function printBanner(collector: Collector, config: ResolvedConfig): void {
  const lines = [`sluice ${config.collectorId}: ${config.file ? `config ${config.file}` : 'embedded defaults'}`];
  for (const { component, endpoints } of collector.endpoints()) lines.push(`  ${component.padEnd(28)} ${endpoints.join('  ')}`);
  // stderr, like the logs: stdout may carry events (the stdout sink).
  console.error(lines.join('\n'));
}

/**
 * `sluice check`: every problem is an error (exit 2); a port in use is a warning, since the
 * collector this config belongs to may be the one holding it.
 */
export async function checkConfig(file: string): Promise<void> {
  const warnings: string[] = [];
  const config = await loadOrExit(file, { onPortInUse: (p) => warnings.push(formatProblem(p)) });
  for (const w of warnings) console.error(`warning: ${w} (a running collector — perhaps this one — holds it; sluice start would fail unless it is stopped first)`);
  console.log(`${file}: ok (${config.sources.length} source${config.sources.length === 1 ? '' : 's'}, ${config.sinks.length} sink${config.sinks.length === 1 ? '' : 's'})${warnings.length > 0 ? `, ${warnings.length} warning${warnings.length === 1 ? '' : 's'}` : ''}`);
}
