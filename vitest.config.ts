import { availableParallelism, loadavg } from 'node:os';
import { defineConfig } from 'vitest/config';

/**
 * Waits scale with the machine's load (docs/testing.md): SLUICE_TEST_TIMEOUT_SCALE if given, else
 * the load average per core at the start of the run (the higher of the 1- and 5-minute figures, so
 * a momentary lull does not set it), between 1 and 8. Set here, in the
 * main process, so the workers and test helpers (`scaled()` in test/helpers/children.ts) read
 * the same figure.
 */
function timeoutScale(): number {
  const given = Number(process.env.SLUICE_TEST_TIMEOUT_SCALE);
  if (Number.isFinite(given) && given >= 1) return given;
  const [one, five] = loadavg();
  const perCore = Math.max(one, five) / availableParallelism();
  return Math.round(Math.min(8, Math.max(1, perCore)) * 10) / 10;
}
const scale = timeoutScale();
process.env.SLUICE_TEST_TIMEOUT_SCALE = String(scale);

export default defineConfig({
  test: {
    include: ['shared/src/**/*.test.ts', 'collector/src/**/*.test.ts', 'desktop/**/*.test.ts', 'test/**/*.test.ts'],
    exclude: ['node_modules/**', 'dist/**'],
    testTimeout: Math.round(60_000 * scale),
    hookTimeout: Math.round(120_000 * scale),
    teardownTimeout: Math.round(30_000 * scale),
    globalSetup: ['test/helpers/global-setup.ts'],
    setupFiles: ['test/helpers/setup.ts'],
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
  },
});
