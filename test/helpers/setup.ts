/**
 * Runs in every test file (vitest `setupFiles`): after the file's own hooks, kills whatever the
 * file's tests started and did not stop, and removes their temp folders (test/helpers/children.ts).
 */
import { afterAll } from 'vitest';
import { cleanupChildren } from './children.ts';

afterAll(async () => {
  const { killed } = await cleanupChildren();
  if (killed > 0) console.warn(`sluice tests: killed ${killed} process(es) this file left running`);
});
