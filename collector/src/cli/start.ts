/**
 * `sluice start` and `sluice check`: the options only. What they run (config loading, the
 * collector, the admin API) is imported when the command runs (run.ts), so `sluice --help` and
 * the other commands never load it.
 */
import type { Command } from 'commander';

export function registerStart(program: Command): void {
  program
    .command('start')
    .description('run the collector (without --config: the embedded defaults, all on 127.0.0.1)')
    .option('-c, --config <file>', 'YAML config file')
    .option('--log-level <level>', 'override log.level')
    .action(async (options: { config?: string; logLevel?: string }) => {
      const { loadOrExit, runCollector } = await import('./run.ts');
      const config = await loadOrExit(options.config);
      await runCollector(config, options.logLevel);
    });
}

export function registerCheck(program: Command): void {
  program
    .command('check')
    .description('validate a config file (including files and ports: a port in use is a warning) and exit')
    .requiredOption('-c, --config <file>', 'YAML config file')
    .action(async (options: { config: string }) => {
      const { checkConfig } = await import('./run.ts');
      await checkConfig(options.config);
    });
}
