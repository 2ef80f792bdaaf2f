/**
 * `npm run desktop` where the Electron binary cannot be fetched (this machine reaches no GitHub;
 * the mirror here is a closed port): one plain explanation of what to do, no stack trace, exit 1.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort, REPO, scaled, spawnTracked } from '../../helpers/process.ts';
import { ensureRendererBuilt } from './harness.ts';

const hasBinary = existsSync(join(REPO, 'node_modules/electron/path.txt'));

describe.skipIf(hasBinary)('npm run desktop without an Electron binary', () => {
  it('says why and what to do, without a stack trace', async () => {
    await ensureRendererBuilt();
    const port = await freePort(); // nothing listens there: the download is refused at once
    const env: NodeJS.ProcessEnv = { ...process.env, ELECTRON_MIRROR: `http://127.0.0.1:${port}/` };
    delete env.ELECTRON_OVERRIDE_DIST_PATH;
    const child = spawnTracked(process.execPath, [join(REPO, 'desktop/launch.js')], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (out += d));
    try {
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      expect(code).toBe(1);
      expect(out).toMatch(/sluice desktop: cannot start the desktop app: fetching Electron [\d.]+ failed \(.+\)\./);
      expect(out).toContain('ELECTRON_OVERRIDE_DIST_PATH=/path/to/electron-folder npm run desktop');
      expect(out).not.toMatch(/^\s+at /m);
    } finally {
      child.kill('SIGKILL');
    }
  }, scaled(240_000));
});
