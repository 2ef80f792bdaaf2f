/**
 * The cleanup every test relies on (docs/testing.md): a registered child and everything it started
 * die together, its temp folder goes, and the run's mark finds any process started during the run.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cleanupChildren, markedProcesses, RUN_MARK, spawnTracked, tempDir } from './children.ts';
import { until } from './process.ts';

function running(pid: number): boolean {
  try {
    // A zombie (exited, not yet reaped) counts as gone.
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'latin1'));
  } catch {
    return false;
  }
}

describe('test children', () => {
  it('a child and the processes it started are killed together, and its folder removed', async () => {
    const dir = tempDir();
    // The shell starts a grandchild that would outlive a plain kill of the shell.
    const child = spawnTracked('sh', ['-c', 'sleep 600 & echo $!; wait'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    const grandchild = Number(await until(() => /^(\d+)\n/.exec(out)?.[1], { what: 'the grandchild pid' }));
    expect(running(child.pid!)).toBe(true);
    expect(running(grandchild)).toBe(true);

    expect(await cleanupChildren()).toEqual({ killed: 1, removed: 1 });
    await until(() => !running(grandchild), { what: 'the grandchild to be gone' });
    expect(running(child.pid!)).toBe(false);
    expect(existsSync(dir)).toBe(false);
  });

  it('every process started during the run carries the run mark, and is found by it', async () => {
    const mark = process.env[RUN_MARK];
    expect(mark).toMatch(/^sluice-test-run-\d+-/);
    const child = spawnTracked('sleep', ['600'], { stdio: 'ignore' });
    try {
      expect(markedProcesses((m) => m === mark)).toContain(child.pid);
      expect(markedProcesses((m) => m === `${mark}-other`)).not.toContain(child.pid);
    } finally {
      await cleanupChildren();
    }
  });
});
