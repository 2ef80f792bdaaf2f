/** Every sluice subcommand; each file registers one. */
import type { Command } from 'commander';
import { registerCheck, registerStart } from './start.ts';

export const commands: ((program: Command) => void)[] = [registerStart, registerCheck];
