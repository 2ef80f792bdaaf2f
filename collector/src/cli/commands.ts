/** Every sluice subcommand; each file registers one. */
import type { Command } from 'commander';
import { registerDoctor } from './doctor.ts';
import { registerEdges } from './edges.ts';
import { registerExport } from './export.ts';
import { registerGroups } from './groups.ts';
import { registerInspect } from './inspect.ts';
import { registerProduce } from './produce.ts';
import { registerReplay } from './replay.ts';
import { registerSchema } from './schema.ts';
import { registerCheck, registerStart } from './start.ts';
import { registerTail } from './tail.ts';
import { registerTopics } from './topics.ts';

export const commands: ((program: Command) => void)[] = [registerStart, registerCheck, registerTopics, registerGroups, registerReplay, registerInspect, registerTail, registerProduce, registerExport, registerDoctor, registerEdges, registerSchema];
