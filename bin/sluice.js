#!/usr/bin/env node
// The `sluice` command: runs the compiled collector in dist/collector (no transpiler at run time).
// In a checkout, whose sources sit beside it, a missing or stale bundle is rebuilt first (one
// esbuild run, well under a second), so `npx sluice` and the tests always run the current code.
// A release folder carries only the bundle. Development without a build: `node bin/run-ts.js
// collector/src/cli/main.ts …` runs the TypeScript through tsx.
import { existsSync } from 'node:fs';

const checkout = existsSync(new URL('../collector/src/cli/main.ts', import.meta.url));
if (checkout) {
  const { buildCollector, collectorStale } = await import('../release/build.js');
  if (collectorStale()) {
    try {
      await buildCollector();
    } catch (error) {
      process.stderr.write(`sluice: cannot build the collector: ${error?.message ?? error}\n`);
      process.exit(1);
    }
  }
}
await import('../dist/collector/main.js');
