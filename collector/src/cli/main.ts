/**
 * The `sluice` command line (DESIGN §10). `start`, `check` and `inspect` work on files; every
 * other command talks to a running collector through the admin API (`--admin URL`, `--token`).
 */
import { Command } from 'commander';
import { commands } from './commands.ts';

const program = new Command();
program
  .name('sluice')
  .description('Edge event collector with a durable SQLite channel, a Kafka-style hub, and an admin API')
  .version(process.env.SLUICE_VERSION ?? process.env.npm_package_version ?? '0.1.0')
  .showHelpAfterError();

for (const register of commands) register(program);

await program.parseAsync(process.argv);
