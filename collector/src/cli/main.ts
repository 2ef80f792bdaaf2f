/**
 * The `sluice` command line (DESIGN §10). `start`, `check` and `inspect` work on files; every
 * other command talks to a running collector through the admin API (`--admin URL`, `--token`).
 */
import { Command } from 'commander';
import module from 'node:module';
import { commands } from './commands.ts';

// Node ≥ 22.1 keeps V8's compiled code of our chunks on disk ($NODE_COMPILE_CACHE, else the OS
// temp folder), so the next start skips most parsing (docs/decisions/runtime-build.md).
(module as { enableCompileCache?: () => unknown }).enableCompileCache?.();

const program = new Command();
program
  .name('sluice')
  .description('Edge event collector with a durable SQLite channel, a Kafka-style hub, and an admin API')
  .version(process.env.SLUICE_VERSION ?? process.env.npm_package_version ?? '0.1.0')
  .showHelpAfterError();

for (const register of commands) register(program);

await program.parseAsync(process.argv);
