#!/usr/bin/env node
// The `sluice` command. Runs the TypeScript sources directly through tsx, so the repo needs no
// build step before `npm start`.
import { register } from 'tsx/esm/api';

register();
await import('../collector/src/cli/main.ts');
